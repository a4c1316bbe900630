#!/usr/bin/env python3
"""Keras models exported as users export them: built with tf.keras from seeded random weights,
converted by tf2onnx (`tf2onnx.convert.from_keras`, opset 17), and run by onnxruntime, whose
outputs on 100 inputs are the reference (reference.json beside each network.onnx).

    testdata/models/keras/cnn       an NHWC image classifier: Conv2D + ReLU, BatchNormalization,
                                    MaxPooling2D, DepthwiseConv2D + ReLU6, 1x1 Conv2D + swish,
                                    GlobalAveragePooling2D, Dense + GELU, Dropout, Dense + softmax
    testdata/models/keras/sequence  a sequence classifier: Conv1D + ReLU, LSTM, Dense + softmax

tf2onnx keeps Keras' channels-last layout with Transposes around the convolutions. Run through
scripts/models/keras.sh, which sets up the pinned virtual environment.
"""

import json
import os

import numpy as np
import onnx
import onnxruntime as ort
import tensorflow as tf
import tf2onnx

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(REPO, "testdata", "models", "keras")


def cnn():
    inp = tf.keras.Input(shape=(16, 16, 3), name="image")
    x = tf.keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inp)
    x = tf.keras.layers.BatchNormalization()(x)
    x = tf.keras.layers.MaxPooling2D(2)(x)
    x = tf.keras.layers.DepthwiseConv2D(3, padding="same", activation="relu6")(x)
    x = tf.keras.layers.Conv2D(16, 1, activation="swish")(x)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    x = tf.keras.layers.Dense(32, activation="gelu")(x)
    x = tf.keras.layers.Dropout(0.2)(x)
    out = tf.keras.layers.Dense(10, activation="softmax")(x)
    return tf.keras.Model(inp, out), (16, 16, 3)


def sequence():
    inp = tf.keras.Input(shape=(12, 4), name="series")
    x = tf.keras.layers.Conv1D(8, 3, activation="relu")(inp)
    x = tf.keras.layers.LSTM(16)(x)
    out = tf.keras.layers.Dense(3, activation="softmax")(x)
    return tf.keras.Model(inp, out), (12, 4)


def randomise_batch_norm(model, rng):
    """Non-trivial BatchNormalization statistics, as a trained model would have."""
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([
                rng.uniform(0.5, 1.5, gamma.shape).astype(np.float32),
                rng.uniform(-0.2, 0.2, beta.shape).astype(np.float32),
                rng.uniform(-0.1, 0.1, mean.shape).astype(np.float32),
                rng.uniform(0.5, 2.0, var.shape).astype(np.float32),
            ])


def export(name, build, seed):
    tf.keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    model, shape = build()
    randomise_batch_norm(model, rng)
    spec = (tf.TensorSpec((None, *shape), tf.float32, name=model.inputs[0].name),)
    onx, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=17)
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "network.onnx"), "wb") as f:
        f.write(onx.SerializeToString())
    sess = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    xs = rng.uniform(-1.0, 1.0, (100, *shape)).astype(np.float32)
    keras_out = model.predict(xs, verbose=0)
    outs = [sess.run(None, {sess.get_inputs()[0].name: x[None]})[0].reshape(-1) for x in xs]
    gap = float(np.abs(np.stack(outs) - keras_out).max())
    ref = {
        "inputs": xs.reshape(100, -1).astype(float).tolist(),
        # one output: the class probabilities; a "label" is their argmax
        "outputs": [[o.astype(float).tolist() for o in outs]],
        "output_names": [o.name for o in sess.get_outputs()],
    }
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump(ref, f)
    with open(os.path.join(d, "input.json"), "w") as f:
        json.dump({"input_data": [xs[0].reshape(-1).astype(float).tolist()]}, f)
    ops = sorted({n.op_type for n in onx.graph.node})
    print(f"{name}: {len(onx.graph.node)} nodes {ops}; onnxruntime vs Keras max gap {gap:.1e}")


def main():
    export("cnn", cnn, 0)
    export("sequence", sequence, 1)


if __name__ == "__main__":
    main()
