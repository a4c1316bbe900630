#!/usr/bin/env python3
"""A recurrent sequence classifier exported by torch.onnx.export as users export one
(torch.nn.LSTM, then a bidirectional torch.nn.GRU, batch_first, seeded random weights), into
testdata/models/lstm_gru, with onnxruntime's logits on 100 seeded inputs (reference.json).
Runs in scripts/models/transformers.sh's environment (.venv-torch):

    .venv-torch/bin/python scripts/models/recurrent.py

    input [1, 6, 5] -> LSTM(5, 8) -> GRU(8, 6, bidirectional) -> last step [1, 12]
      -> Linear(12, 3)
"""

import io
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
import torch

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(REPO, "testdata", "models", "lstm_gru")
SEQ, FEATURES = 6, 5


class SequenceClassifier(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(FEATURES, 8, batch_first=True)
        self.gru = torch.nn.GRU(8, 6, batch_first=True, bidirectional=True)
        self.head = torch.nn.Linear(12, 3)

    def forward(self, x):
        h, _ = self.lstm(x)
        h, _ = self.gru(h)
        return self.head(h[:, -1, :])


def main():
    torch.manual_seed(20261207)
    model = SequenceClassifier().eval()
    x0 = torch.zeros(1, SEQ, FEATURES)
    buf = io.BytesIO()
    torch.onnx.export(model, (x0,), buf, input_names=["sequence"], output_names=["logits"],
                      opset_version=17, dynamo=False)
    proto = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(proto)
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "network.onnx"), "wb") as f:
        f.write(proto.SerializeToString())
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(20261207)
    # 4 decimals: reference.json stays small, and both runtimes see the same values
    xs = [np.round(rng.uniform(-2, 2, size=(1, SEQ, FEATURES)), 4).astype(np.float32) for _ in range(100)]
    outs = [sess.run(None, {"sequence": x})[0].reshape(-1).astype(float).tolist() for x in xs]
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump({"inputs": [[round(float(v), 4) for v in x.reshape(-1)] for x in xs],
                   "outputs": [outs]}, f)
    with open(os.path.join(OUT, "input.json"), "w") as f:
        json.dump({"input_data": [[round(float(v), 4) for v in xs[0].reshape(-1)]]}, f)
    print("lstm_gru:", sorted({n.op_type for n in proto.graph.node}))


if __name__ == "__main__":
    main()
