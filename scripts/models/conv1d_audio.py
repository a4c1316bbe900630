#!/usr/bin/env python3
"""A 1-D CNN on audio-like input, written as torch.nn.Conv1d/MaxPool1d export it (rank-3 Conv,
MaxPool, GlobalAveragePool), with seeded He-normal weights, into testdata/models/conv1d_audio,
with onnxruntime's logits on 100 seeded inputs (reference.json). onnx + numpy + onnxruntime
only; run through scripts/models/sklearn.sh's environment:

    .venv-sklearn/bin/python scripts/models/conv1d_audio.py

    input [1, 1, 1024] -> Conv1d(1, 8, 9, stride 2, pad 4) -> Relu -> MaxPool1d(2)
      -> Conv1d(8, 16, 5, pad 2, dilation 1) -> Relu -> GlobalAveragePool -> Flatten
      -> Gemm(16, 4)
"""

import json
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(REPO, "testdata", "models", "conv1d_audio")


def he(rng, shape, fan_in):
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)


def main():
    rng = np.random.default_rng(20261206)
    w1, b1 = he(rng, (8, 1, 9), 9), (0.01 * rng.standard_normal(8)).astype(np.float32)
    w2, b2 = he(rng, (16, 8, 5), 40), (0.01 * rng.standard_normal(16)).astype(np.float32)
    w3, b3 = he(rng, (4, 16), 16), np.zeros(4, np.float32)
    inits = [
        numpy_helper.from_array(a, n)
        for a, n in [(w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2"), (w3, "w3"), (b3, "b3")]
    ]
    nodes = [
        helper.make_node("Conv", ["audio", "w1", "b1"], ["c1"], name="/conv1/Conv",
                         kernel_shape=[9], strides=[2], pads=[4, 4]),
        helper.make_node("Relu", ["c1"], ["r1"], name="/relu1/Relu"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="/pool1/MaxPool", kernel_shape=[2], strides=[2]),
        helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], name="/conv2/Conv",
                         kernel_shape=[5], pads=[2, 2]),
        helper.make_node("Relu", ["c2"], ["r2"], name="/relu2/Relu"),
        helper.make_node("GlobalAveragePool", ["r2"], ["g"], name="/pool2/GlobalAveragePool"),
        helper.make_node("Flatten", ["g"], ["f"], name="/Flatten", axis=1),
        helper.make_node("Gemm", ["f", "w3", "b3"], ["logits"], name="/fc/Gemm", transB=1),
    ]
    graph = helper.make_graph(
        nodes, "conv1d_audio",
        [helper.make_tensor_value_info("audio", TensorProto.FLOAT, [1, 1, 1024])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 4])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="zkopml")
    model.ir_version = 8
    onnx.checker.check_model(model)
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "network.onnx"), "wb") as f:
        f.write(model.SerializeToString())
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    # audio-like: a few sines with noise, amplitude below 1
    t = np.arange(1024) / 1024.0
    xs = []
    for _ in range(100):
        freqs = rng.uniform(5, 200, size=3)
        amps = rng.uniform(0.05, 0.3, size=3)
        x = sum(a * np.sin(2 * np.pi * f * t + rng.uniform(0, 6.3)) for a, f in zip(amps, freqs))
        # 4 decimals: reference.json stays small, and both runtimes see the same values
        xs.append(np.round(x + 0.02 * rng.standard_normal(1024), 4).astype(np.float32))
    outs = [sess.run(None, {"audio": x.reshape(1, 1, 1024)})[0].reshape(-1).astype(float).tolist() for x in xs]
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump({"inputs": [[round(float(v), 4) for v in x] for x in xs], "outputs": [outs]}, f)
    with open(os.path.join(OUT, "input.json"), "w") as f:
        json.dump({"input_data": [[round(float(v), 4) for v in xs[0]]]}, f)
    print("conv1d_audio:", len(nodes), "nodes")


if __name__ == "__main__":
    main()
