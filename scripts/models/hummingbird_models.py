#!/usr/bin/env python3
"""Tree ensembles as hummingbird converts them: scikit-learn models trained on the seeded
synthetic data of sklearn_models.py, compiled by hummingbird into tensor operations (no
ai.onnx.ml operators) with each of its three tree strategies, exported to ONNX through torch,
and run by onnxruntime, whose outputs on 100 held-out inputs are the reference (reference.json
beside each network.onnx).

    testdata/models/hummingbird/gb_gemm            GradientBoostingClassifier, GEMM strategy
    testdata/models/hummingbird/gb_tree_trav       the same, tree traversal
    testdata/models/hummingbird/gb_perf_tree_trav  the same, perfect tree traversal
    testdata/models/hummingbird/rf_gemm            RandomForestClassifier, GEMM strategy
    testdata/models/hummingbird/rf_tree_trav       the same, tree traversal
    testdata/models/hummingbird/rf_perf_tree_trav  the same, perfect tree traversal

Each classifier has two outputs: the label and the class probabilities. hummingbird calls
torch.onnx.export without naming an exporter, which in torch 2.9+ means the dynamo exporter (and
onnxscript); it was written for the TorchScript exporter, so that one is asked for here.
Run through scripts/models/hummingbird.sh, which sets up the pinned virtual environment.
"""

import functools
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
import torch
from sklearn.datasets import make_classification
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier

torch.onnx.export = functools.partial(torch.onnx.export, dynamo=False)
import hummingbird.ml as hb  # noqa: E402  (after the exporter choice)

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(REPO, "testdata", "models", "hummingbird")
FEATURES = 6
STRATEGIES = ["gemm", "tree_trav", "perf_tree_trav"]


def export(name, model, x_train, x_test, strategy):
    converted = hb.convert(
        model,
        "onnx",
        x_train[:1].astype(np.float32),
        extra_config={"tree_implementation": strategy, "onnx_target_opset": 15},
    )
    onx = converted.model
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "network.onnx"), "wb") as f:
        f.write(onx.SerializeToString())
    sess = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    xs = x_test.astype(np.float32)
    # one input at a time: the graph's batch dimension is symbolic, and zkopml pins it to 1
    rows = [sess.run(None, {sess.get_inputs()[0].name: x[None, :]}) for x in xs]
    outputs = [
        [np.asarray(r[k]).astype(float).reshape(-1).tolist() for r in rows]
        for k in range(len(rows[0]))
    ]
    ref = {
        "inputs": xs.astype(float).tolist(),
        "outputs": outputs,
        "output_names": [o.name for o in sess.get_outputs()],
    }
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump(ref, f)
    with open(os.path.join(d, "input.json"), "w") as f:
        json.dump({"input_data": [xs[0].astype(float).tolist()]}, f)
    ops = sorted({n.op_type for n in onx.graph.node})
    print(f"{name}: {len(onx.graph.node)} nodes {ops}, outputs {ref['output_names']}")


def main():
    x, y = make_classification(
        n_samples=600, n_features=FEATURES, n_informative=4, n_classes=3, random_state=0
    )
    x_train, y_train, x_test = x[:500], y[:500], x[500:]
    models = {
        "gb": GradientBoostingClassifier(n_estimators=10, max_depth=3, random_state=0),
        "rf": RandomForestClassifier(n_estimators=8, max_depth=5, random_state=0),
    }
    for prefix, model in models.items():
        model.fit(x_train, y_train)
        for strategy in STRATEGIES:
            export(f"{prefix}_{strategy}", model, x_train, x_test, strategy)


if __name__ == "__main__":
    main()
