#!/usr/bin/env python3
"""scikit-learn models exported as users export them: trained on seeded synthetic data, converted
by skl2onnx (ai.onnx.ml TreeEnsemble*, Linear*, Normalizer), and run by onnxruntime, whose
outputs on 100 held-out inputs are the reference (reference.json beside each network.onnx).

    testdata/models/sklearn/gb_classifier   GradientBoostingClassifier, 3 classes, 10 x 3 trees
    testdata/models/sklearn/rf_classifier   RandomForestClassifier, 3 classes, 8 trees
    testdata/models/sklearn/gb_regressor    GradientBoostingRegressor, 20 trees
    testdata/models/sklearn/rf_regressor    RandomForestRegressor, 8 trees
    testdata/models/sklearn/scaled_logistic StandardScaler + LogisticRegression (3 classes), with
                                            skl2onnx's default ZipMap output
    testdata/models/sklearn/normalized_linear Normalizer (l2) + LinearRegression

The tree classifiers are exported with zipmap=False (the probabilities as a tensor). Run through
scripts/models/sklearn.sh, which sets up the pinned virtual environment.
"""

import json
import os

import numpy as np
import onnxruntime as ort
from skl2onnx import to_onnx
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import Normalizer, StandardScaler
from sklearn.ensemble import (
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(REPO, "testdata", "models", "sklearn")
FEATURES = 6


def as_rows(o, n):
    """An output as n rows of floats; a ZipMap's list of {label: probability} in label order."""
    if isinstance(o, list):
        return [[float(d[k]) for k in sorted(d)] for d in o]
    return o.astype(float).reshape(n, -1).tolist()


def export(name, model, x_train, x_test, classifier, zipmap=False):
    options = {id(model): {"zipmap": False}} if classifier and not zipmap else None
    onx = to_onnx(
        model,
        x_train[:1].astype(np.float32),
        options=options,
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "network.onnx"), "wb") as f:
        f.write(onx.SerializeToString())
    sess = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    xs = x_test.astype(np.float32)
    outs = sess.run(None, {sess.get_inputs()[0].name: xs})
    ref = {
        "inputs": xs.astype(float).tolist(),
        "outputs": [as_rows(o, len(xs)) for o in outs],
        "output_names": [o.name for o in sess.get_outputs()],
    }
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump(ref, f)
    with open(os.path.join(d, "input.json"), "w") as f:
        json.dump({"input_data": [xs[0].astype(float).tolist()]}, f)
    print(f"{name}: {len(onx.graph.node)} nodes, outputs {ref['output_names']}")


def main():
    x, y = make_classification(
        n_samples=600, n_features=FEATURES, n_informative=4, n_classes=3, random_state=0
    )
    x_train, y_train, x_test = x[:500], y[:500], x[500:]
    export(
        "gb_classifier",
        GradientBoostingClassifier(n_estimators=10, max_depth=3, random_state=0).fit(x_train, y_train),
        x_train, x_test, True,
    )
    export(
        "rf_classifier",
        RandomForestClassifier(n_estimators=8, max_depth=5, random_state=0).fit(x_train, y_train),
        x_train, x_test, True,
    )
    export(
        "scaled_logistic",
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x_train, y_train),
        x_train, x_test, True, zipmap=True,
    )
    x, y = make_regression(n_samples=600, n_features=FEATURES, noise=0.1, random_state=0)
    x_train, y_train, x_test = x[:500], y[:500], x[500:]
    export(
        "gb_regressor",
        GradientBoostingRegressor(n_estimators=20, max_depth=3, random_state=0).fit(x_train, y_train),
        x_train, x_test, False,
    )
    export(
        "rf_regressor",
        RandomForestRegressor(n_estimators=8, max_depth=5, random_state=0).fit(x_train, y_train),
        x_train, x_test, False,
    )
    export(
        "normalized_linear",
        make_pipeline(Normalizer(norm="l2"), LinearRegression()).fit(x_train, y_train),
        x_train, x_test, False,
    )


if __name__ == "__main__":
    main()
