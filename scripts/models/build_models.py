#!/usr/bin/env python3
"""Build the project's own test models, deterministically, with onnx + numpy only.

    conv2d        the zk-OPML seed's "2d conv" net: 1x3x32x32 input, 10 Conv, 12 Relu,
                  5 MaxPool, 3 Gemm, 1 Flatten (31 ops), 54,584 parameters.
    mobilenet_v2  a MobileNetV2 in the layout of the seed's MobileNet: 1x3x224x224 input,
                  54 Conv, 53 BatchNormalization, 36 Relu, 10 Add, 1 GlobalAveragePool,
                  1 Reshape (155 ops), 3,539,138 parameters (initializer elements).

No weights are downloaded and no training happens: weights are seeded He-normal; the
MobileNet's BatchNormalization statistics are set, layer by layer, to the batch statistics
of that layer's input over a few seeded random images (a float64 numpy forward pass), so
its activations are unit-scaled.

Every model is checked with onnx.checker and run with onnxruntime (compared with the numpy
forward pass); op and parameter counts are asserted.

Usage:
    build_models.py            build and write testdata/models/{conv2d,mobilenet_v2}
    build_models.py --check    build, and fail unless the files on disk are byte-identical
Run it through scripts/models/build.sh, which sets up the pinned virtual environment.
"""

import os

# Single-threaded BLAS: modest CPU use, and one summation order wherever it runs.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import collections
import hashlib
import json
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODELS = os.path.join(REPO, "testdata", "models")

OPSET = 13
IR_VERSION = 7  # the IR version that goes with opset 13
PRODUCER = "zkopml scripts/models/build_models.py"
BN_EPS = 1e-5


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------

def he_normal(rng, shape, fan_in):
    """He (Kaiming) normal init, computed in float64 and rounded once to float32."""
    w = rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
    return w.astype(np.float32)


def round_sig(x, bits=12):
    """Round float64 values to `bits` significant bits.

    BatchNorm statistics come out of a float64 forward pass whose last bits depend on the
    BLAS kernel of the machine; rounding them to 12 significant bits before the float32
    cast makes the model bytes the same everywhere (short of a value landing within
    ~1e-16 relative of a rounding boundary).
    """
    x = np.asarray(x, dtype=np.float64)
    m, e = np.frexp(x)
    return np.ldexp(np.round(m * (1 << bits)) / (1 << bits), e)


def conv2d(x, w, stride=1, pad=0, groups=1):
    """NCHW convolution in float64 (x: N,C,H,W; w: O,C/groups,kh,kw), no bias."""
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x
    ho = (h + 2 * pad - kh) // stride + 1
    wo = (wd + 2 * pad - kw) // stride + 1
    w = w.astype(np.float64)
    out = np.zeros((n, o, ho, wo), dtype=np.float64)
    for di in range(kh):
        for dj in range(kw):
            patch = xp[:, :, di:di + stride * (ho - 1) + 1:stride, dj:dj + stride * (wo - 1) + 1:stride]
            if groups == 1:
                out += np.einsum("nchw,oc->nohw", patch, w[:, :, di, dj], optimize=True)
            elif groups == c and cg == 1 and o == c:  # depthwise
                out += patch * w[:, 0, di, dj][None, :, None, None]
            else:
                raise NotImplementedError("grouped convolution")
    return out


def maxpool2(x):
    n, c, h, w = x.shape
    return x.reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))


def relu(x):
    return np.maximum(x, 0.0)


def op_counts(model):
    return collections.Counter(node.op_type for node in model.graph.node)


def param_count(model):
    return sum(int(np.prod(init.dims, dtype=np.int64)) for init in model.graph.initializer)


def finish_model(graph, doc):
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name=PRODUCER,
        doc_string=doc,
    )
    model.ir_version = IR_VERSION
    return model


def ort_run(model, x, extra_outputs=()):
    """Run a model with onnxruntime (single thread); optionally expose intermediate tensors."""
    import onnxruntime as ort

    m = onnx.ModelProto()
    m.CopyFrom(model)
    for name in extra_outputs:
        m.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    names = [o.name for o in m.graph.output]
    outs = sess.run(names, {model.graph.input[0].name: x})
    return dict(zip(names, outs))


def input_json_bytes(x):
    """EZKL's input format: {"input_data": [[flattened values]]}.

    Each float32 value is written as the shortest decimal that reads back as that float32.
    """
    vals = ", ".join(np.format_float_positional(np.float32(v), unique=True, trim="-")
                     for v in x.reshape(-1))
    text = '{"input_data": [[' + vals + ']]}\n'
    back = np.array(json.loads(text)["input_data"][0], dtype=np.float32)
    assert np.array_equal(back, x.reshape(-1).astype(np.float32))
    return text.encode()


def logit_gap_report(name, logits):
    z = np.sort(np.asarray(logits, dtype=np.float64).reshape(-1))[::-1]
    gap, spread = z[0] - z[1], z.std()
    print(f"  {name}: logits std {spread:.4f}, top1 {z[0]:.4f}, top2 {z[1]:.4f}, "
          f"gap {gap:.4f} ({gap / spread:.3f} std)")
    return gap, spread


# ---------------------------------------------------------------------------------------
# The seed's "2d conv" net
# ---------------------------------------------------------------------------------------

CONV2D_CONVS = [(3, 8), (8, 8), (8, 16), (16, 16), (16, 24), (24, 32),
                (32, 32), (32, 32), (32, 32), (32, 32)]
CONV2D_FCS = [(32, 64), (64, 10), (10, 10)]
CONV2D_EXPECT_OPS = {"Conv": 10, "Relu": 12, "MaxPool": 5, "Gemm": 3, "Flatten": 1}
CONV2D_EXPECT_PARAMS = 54_584
CONV2D_SEED = 2024


def build_conv2d(seed=CONV2D_SEED):
    rng = np.random.default_rng(seed)
    nodes, inits = [], []
    params = {}  # name -> float64 array, for the numpy reference
    cur = "input"
    k = 0
    for i, (cin, cout) in enumerate(CONV2D_CONVS):
        w = he_normal(rng, (cout, cin, 3, 3), cin * 9)
        b = (rng.uniform(-1.0, 1.0, cout) * 0.05).astype(np.float32)
        wn, bn = f"conv{i}.weight", f"conv{i}.bias"
        inits += [numpy_helper.from_array(w, wn), numpy_helper.from_array(b, bn)]
        params[wn], params[bn] = w, b
        out = f"conv{i}"
        nodes.append(helper.make_node("Conv", [cur, wn, bn], [out], name=f"Conv_{k}",
                                      kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1]))
        k += 1
        nodes.append(helper.make_node("Relu", [out], [f"relu{i}"], name=f"Relu_{k}"))
        k += 1
        cur = f"relu{i}"
        if i % 2 == 1:
            nodes.append(helper.make_node("MaxPool", [cur], [f"pool{i // 2}"], name=f"MaxPool_{k}",
                                          kernel_shape=[2, 2], strides=[2, 2]))
            k += 1
            cur = f"pool{i // 2}"
    nodes.append(helper.make_node("Flatten", [cur], ["flat"], name=f"Flatten_{k}", axis=1))
    k += 1
    cur = "flat"
    for i, (fin, fout) in enumerate(CONV2D_FCS):
        w = he_normal(rng, (fout, fin), fin)  # Gemm with transB=1: weight is [out, in]
        b = (rng.uniform(-1.0, 1.0, fout) * 0.05).astype(np.float32)
        wn, bn = f"fc{i}.weight", f"fc{i}.bias"
        inits += [numpy_helper.from_array(w, wn), numpy_helper.from_array(b, bn)]
        params[wn], params[bn] = w, b
        last = i == len(CONV2D_FCS) - 1
        out = "output" if last else f"fc{i}"
        nodes.append(helper.make_node("Gemm", [cur, wn, bn], [out], name=f"Gemm_{k}",
                                      alpha=1.0, beta=1.0, transB=1))
        k += 1
        cur = out
        if not last:
            nodes.append(helper.make_node("Relu", [out], [f"fc_relu{i}"], name=f"Relu_{k}"))
            k += 1
            cur = f"fc_relu{i}"

    graph = helper.make_graph(
        nodes, "conv2d",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 10])],
        initializer=inits,
    )
    model = finish_model(graph, "The zk-OPML seed's 2d conv test net, seeded He-normal weights (untrained).")

    # Input: seeded standard normal, rounded to 6 decimals (what input.json holds exactly).
    x = np.round(np.random.default_rng(seed + 1).standard_normal((1, 3, 32, 32)), 6).astype(np.float32)
    return model, x, params


def conv2d_reference(params, x):
    h = x.astype(np.float64)
    for i in range(len(CONV2D_CONVS)):
        h = relu(conv2d(h, params[f"conv{i}.weight"], pad=1) + params[f"conv{i}.bias"][None, :, None, None])
        if i % 2 == 1:
            h = maxpool2(h)
    h = h.reshape(h.shape[0], -1)
    for i in range(len(CONV2D_FCS)):
        h = h @ params[f"fc{i}.weight"].astype(np.float64).T + params[f"fc{i}.bias"]
        if i < len(CONV2D_FCS) - 1:
            h = relu(h)
    return h


# ---------------------------------------------------------------------------------------
# MobileNetV2
# ---------------------------------------------------------------------------------------
# Layout (matches the seed's 155-op export): stem 3x3/2 conv (32) + BN + ReLU; 17 inverted
# residual blocks, each with a 1x1 expansion conv (present even in the first block, where the
# expansion factor is 1) + BN + ReLU, a 3x3 depthwise conv + BN + ReLU, and a 1x1 linear
# projection conv + BN, with a residual Add where stride is 1 and channels match (10 blocks);
# a 1x1 conv to 1280 + BN + ReLU; GlobalAveragePool; a 1x1 conv to 1000 classes (no bias, no
# BN) as the classifier; Reshape to [1, 1000]. Convs have no bias (BN follows). ReLU stands
# in for ReLU6. Parameter count = all initializer elements: conv weights, BN scale, bias,
# mean and var, and the 2-element Reshape shape.

MNV2_BLOCKS = (  # (expansion t, output channels c, repeats n, first stride s)
    (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
    (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
)
MNV2_EXPECT_OPS = {"Conv": 54, "BatchNormalization": 53, "Relu": 36, "Add": 10,
                   "GlobalAveragePool": 1, "Reshape": 1}
MNV2_EXPECT_PARAMS = 3_539_138
MNV2_CALIB_BATCH = 4
MNV2_SEED = 2025  # weights; the calibration images use MNV2_SEED + 1


class MobileNetBuilder:
    """Builds the graph and calibrates BatchNorm statistics in the same forward pass."""

    def __init__(self, rng, calib):
        self.rng = rng
        self.nodes, self.inits = [], []
        self.x = calib  # float64 activations of the current tensor over the calibration batch
        self.k = 0
        self.bn_outputs = []

    def _node(self, op, inputs, outputs, **attrs):
        self.nodes.append(helper.make_node(op, inputs, outputs, name=f"{op}_{self.k}", **attrs))
        self.k += 1

    def conv(self, cur, x, prefix, cin, cout, kernel, stride, groups=1):
        w = he_normal(self.rng, (cout, cin // groups, kernel, kernel), (cin // groups) * kernel * kernel)
        wn = f"{prefix}.weight"
        self.inits.append(numpy_helper.from_array(w, wn))
        pad = kernel // 2
        self._node("Conv", [cur, wn], [prefix], kernel_shape=[kernel, kernel],
                   pads=[pad, pad, pad, pad], strides=[stride, stride], group=groups)
        return prefix, conv2d(x, w, stride=stride, pad=pad, groups=groups)

    def bn(self, cur, x, prefix):
        c = x.shape[1]
        gamma = self.rng.uniform(0.75, 1.25, c).astype(np.float32)
        beta = (self.rng.standard_normal(c) * 0.1).astype(np.float32)
        mean = round_sig(x.mean(axis=(0, 2, 3))).astype(np.float32)
        var = round_sig(x.var(axis=(0, 2, 3))).astype(np.float32)
        assert np.all(var > 0), prefix
        names = [f"{prefix}.{s}" for s in ("scale", "bias", "mean", "var")]
        for arr, n in zip((gamma, beta, mean, var), names):
            self.inits.append(numpy_helper.from_array(arr, n))
        self._node("BatchNormalization", [cur] + names, [prefix], epsilon=BN_EPS)
        g, b, m, v = (a.astype(np.float64)[None, :, None, None] for a in (gamma, beta, mean, var))
        y = g * (x - m) / np.sqrt(v + np.float64(np.float32(BN_EPS))) + b
        self.bn_outputs.append(prefix)
        return prefix, y

    def relu(self, cur, x, name):
        self._node("Relu", [cur], [name])
        return name, relu(x)

    def conv_bn(self, cur, x, prefix, cin, cout, kernel, stride, groups=1, act=True):
        cur, x = self.conv(cur, x, f"{prefix}.conv", cin, cout, kernel, stride, groups)
        cur, x = self.bn(cur, x, f"{prefix}.bn")
        if act:
            cur, x = self.relu(cur, x, f"{prefix}.relu")
        return cur, x

    def build(self):
        cur, x = "input", self.x
        cur, x = self.conv_bn(cur, x, "stem", 3, 32, 3, 2)
        cin, bi = 32, 0
        for t, c, n, s in MNV2_BLOCKS:
            for r in range(n):
                stride = s if r == 0 else 1
                hidden = cin * t
                p = f"block{bi}"
                h, hx = self.conv_bn(cur, x, f"{p}.expand", cin, hidden, 1, 1)
                h, hx = self.conv_bn(h, hx, f"{p}.dw", hidden, hidden, 3, stride, groups=hidden)
                h, hx = self.conv_bn(h, hx, f"{p}.project", hidden, c, 1, 1, act=False)
                if stride == 1 and cin == c:
                    self._node("Add", [cur, h], [f"{p}.add"])
                    h, hx = f"{p}.add", x + hx
                cur, x, cin, bi = h, hx, c, bi + 1
        cur, x = self.conv_bn(cur, x, "head", cin, 1280, 1, 1)
        self._node("GlobalAveragePool", [cur], ["pool"])
        cur, x = "pool", x.mean(axis=(2, 3), keepdims=True)
        cur, x = self.conv(cur, x, "classifier", 1280, 1000, 1, 1)
        shape = numpy_helper.from_array(np.array([1, -1], dtype=np.int64), "output_shape")
        self.inits.append(shape)
        self._node("Reshape", [cur, "output_shape"], ["output"])
        logits = x.reshape(x.shape[0], -1)

        graph = helper.make_graph(
            self.nodes, "mobilenet_v2",
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 224, 224])],
            [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1000])],
            initializer=self.inits,
        )
        model = finish_model(graph, "MobileNetV2 (ReLU for ReLU6, 1x1-conv classifier), seeded He-normal "
                                    "weights (untrained), BatchNorm statistics calibrated on seeded "
                                    "random inputs.")
        return model, logits


def mobilenet_calibration_inputs(seed):
    # The same distribution as EZKL's mobilenet input.json: i.i.d. uniform in [0, 0.1).
    rng = np.random.default_rng(seed)
    return rng.uniform(0.0, 0.1, (MNV2_CALIB_BATCH, 3, 224, 224)).astype(np.float32).astype(np.float64)


def build_mobilenet_v2(seed=MNV2_SEED):
    calib = mobilenet_calibration_inputs(seed + 1)
    builder = MobileNetBuilder(np.random.default_rng(seed), calib)
    model, calib_logits = builder.build()
    return model, calib_logits, builder.bn_outputs


# ---------------------------------------------------------------------------------------
# Checks and output
# ---------------------------------------------------------------------------------------

def check_model(name, model, expect_ops, expect_params):
    onnx.checker.check_model(model, full_check=True)
    ops = op_counts(model)
    n_params = param_count(model)
    print(f"{name}: {len(model.graph.node)} ops: "
          + ", ".join(f"{v} x {k}" for k, v in ops.most_common()))
    print(f"{name}: {n_params:,} parameters (initializer elements), "
          f"{len(model.SerializeToString()) / 1e6:.2f} MB")
    assert dict(ops) == expect_ops, (dict(ops), expect_ops)
    assert len(model.graph.node) == sum(expect_ops.values())
    assert n_params == expect_params, (n_params, expect_params)


def check_conv2d(model, x, params):
    check_model("conv2d", model, CONV2D_EXPECT_OPS, CONV2D_EXPECT_PARAMS)
    relus = [n.output[0] for n in model.graph.node if n.op_type == "Relu"]
    outs = ort_run(model, x, relus)
    ref = conv2d_reference(params, x)
    diff = np.abs(outs["output"] - ref).max()
    print(f"  onnxruntime vs numpy float64: max |diff| {diff:.2e}")
    assert diff < 1e-4 * max(1.0, np.abs(ref).max()), diff
    for r in relus:
        a = outs[r]
        assert np.isfinite(a).all() and (a > 0).mean() > 0.05 and np.abs(a).max() < 100, r
    print("  relu outputs: max " + " ".join(f"{outs[r].max():.2f}" for r in relus))
    print("  output: " + " ".join(f"{v:.4f}" for v in outs["output"].reshape(-1)))
    gap, spread = logit_gap_report("conv2d", outs["output"])
    assert gap > 0.05 * spread, "top-1 is a near tie"


def check_mobilenet(model, calib_logits, bn_outputs):
    check_model("mobilenet_v2", model, MNV2_EXPECT_OPS, MNV2_EXPECT_PARAMS)
    path = os.path.join(MODELS, "mobilenet_v2", "input.json")
    x = np.array(json.load(open(path))["input_data"][0], dtype=np.float32).reshape(1, 3, 224, 224)
    probe = bn_outputs + ["pool"]
    outs = ort_run(model, x, probe)
    # Activations stay unit-scaled on EZKL's input (a sample of the calibration distribution).
    stds = np.array([outs[n].std() for n in bn_outputs])
    maxes = np.array([np.abs(outs[n]).max() for n in bn_outputs])
    print(f"  BN outputs on EZKL's input.json: std in [{stds.min():.3f}, {stds.max():.3f}], "
          f"max |value| {maxes.max():.2f}")
    assert stds.min() > 0.5 and stds.max() < 2.0, (stds.min(), stds.max())
    assert maxes.max() < 64.0, maxes.max()
    # The model's own ONNX run agrees with the numpy forward pass used for calibration.
    cal = ort_run(model, mobilenet_calibration_inputs(MNV2_SEED + 1)[:1].astype(np.float32))["output"]
    diff = np.abs(cal - calib_logits[:1]).max()
    print(f"  onnxruntime vs numpy float64 on a calibration input: max |diff| {diff:.2e}")
    assert diff < 1e-3, diff
    logits = outs["output"]
    print(f"  top-5 classes on EZKL's input.json: {np.argsort(-logits.reshape(-1))[:5].tolist()}")
    gap, spread = logit_gap_report("mobilenet_v2", logits)
    assert gap > 0.05 * spread, "top-1 is a near tie"


def files_for(name, model, x=None):
    files = {os.path.join(MODELS, name, "network.onnx"): model.SerializeToString()}
    if x is not None:
        files[os.path.join(MODELS, name, "input.json")] = input_json_bytes(x)
    return files


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true",
                    help="do not write; fail unless the files on disk are byte-identical to a fresh build")
    ap.add_argument("--only", choices=["conv2d", "mobilenet_v2"], help="build one model")
    args = ap.parse_args()

    files = {}
    if args.only in (None, "conv2d"):
        model, x, params = build_conv2d()
        check_conv2d(model, x, params)
        files.update(files_for("conv2d", model, x))
    if args.only in (None, "mobilenet_v2"):
        model, calib_logits, bn_outputs = build_mobilenet_v2()
        check_mobilenet(model, calib_logits, bn_outputs)
        files.update(files_for("mobilenet_v2", model))

    bad = 0
    for path, data in files.items():
        rel = os.path.relpath(path, REPO)
        digest = hashlib.sha256(data).hexdigest()
        if args.check:
            old = open(path, "rb").read() if os.path.exists(path) else None
            same = old == data
            bad += not same
            print(f"{'same' if same else 'DIFFERENT'}  {digest}  {rel}")
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
            print(f"wrote  {digest}  {rel}")
    if bad:
        sys.exit(f"{bad} file(s) differ from a fresh build")


if __name__ == "__main__":
    main()
