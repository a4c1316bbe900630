//! The lowered operators (crates/model/src/lower, docs/fixed-point.md "Lowered operators") in
//! fixed point against tract's f32 run of the ONNX operator itself, on random inputs and on
//! extreme ones (deep in each saturating range, around every kink, exactly 0), calibrated on the
//! same inputs. Each model is one ONNX operator (or a PyTorch-style subgraph) built here with
//! the protobuf types, as crates/model/tests/fold.rs does; the test also checks which existing
//! operators the lowering produced, and that the honest path (`Engine::infer`) gives the
//! trace's output.
//!
//! Tolerance: `max |fixed − tract| <= tol · max(1, max |tract|)` with `tol` stated per case (the
//! sum of the input's quantisation, the piecewise cubic's fit error, about 2e-5, and a few
//! output quanta); every case prints its measured error.

use tract_onnx::pb;
use zkopml_exec::{dequantise, quantise_input, run, Engine};
use zkopml_model::reference::TractReference;
use zkopml_model::{compile, Calibration, Graph, RawModel, Tensor};

fn value_info(name: &str, dims: &[i64]) -> pb::ValueInfoProto {
    use pb::tensor_shape_proto::{dimension::Value, Dimension};
    let dim = dims
        .iter()
        .map(|&d| Dimension {
            value: Some(Value::DimValue(d)),
            ..Default::default()
        })
        .collect();
    pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: 1,
                shape: Some(pb::TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn f32s(name: &str, dims: &[i64], v: &[f32]) -> pb::TensorProto {
    pb::TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: 1,
        float_data: v.to_vec(),
        ..Default::default()
    }
}

/// A constant of `dims` with seeded values uniform in [-1, 1).
fn random_f32s(name: &str, dims: &[i64], seed: u64) -> pb::TensorProto {
    let len: i64 = dims.iter().product();
    let v: Vec<f32> = uniform(len as usize, seed, -1.0, 1.0)
        .into_iter()
        .map(|v| v as f32)
        .collect();
    f32s(name, dims, &v)
}

fn i64s(name: &str, dims: &[i64], v: &[i64]) -> pb::TensorProto {
    pb::TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: 7,
        int64_data: v.to_vec(),
        ..Default::default()
    }
}

enum A {
    F(f32),
    I(i64),
    Is(Vec<i64>),
    S(&'static str),
}

fn attr(name: &str, a: A) -> pb::AttributeProto {
    use pb::attribute_proto::AttributeType as T;
    let mut p = pb::AttributeProto {
        name: name.into(),
        ..Default::default()
    };
    match a {
        A::F(f) => (p.r#type, p.f) = (T::Float as i32, f),
        A::I(i) => (p.r#type, p.i) = (T::Int as i32, i),
        A::Is(v) => (p.r#type, p.ints) = (T::Ints as i32, v),
        A::S(s) => (p.r#type, p.s) = (T::String as i32, s.as_bytes().to_vec()),
    }
    p
}

/// A graph with one input "x" under construction; each node's output is named after it.
struct G {
    g: pb::GraphProto,
    opset: i64,
}

impl G {
    fn new(opset: i64, input: &[i64]) -> G {
        let mut g = pb::GraphProto {
            name: "lowered".into(),
            ..Default::default()
        };
        g.input.push(value_info("x", input));
        G { g, opset }
    }
    fn op(
        &mut self,
        name: &str,
        op: &str,
        inputs: &[&str],
        attrs: Vec<pb::AttributeProto>,
    ) -> String {
        self.g.node.push(pb::NodeProto {
            name: name.into(),
            op_type: op.into(),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![name.into()],
            attribute: attrs,
            ..Default::default()
        });
        name.into()
    }
    fn init(&mut self, t: pb::TensorProto) -> String {
        let n = t.name.clone();
        self.g.initializer.push(t);
        n
    }
    fn finish(mut self, out: &str) -> pb::ModelProto {
        self.g.output.push(value_info(out, &[]));
        pb::ModelProto {
            ir_version: 8,
            opset_import: vec![pb::OperatorSetIdProto {
                domain: String::new(),
                version: self.opset,
            }],
            graph: Some(self.g),
            ..Default::default()
        }
    }
}

/// `y = op(x, extra...)`: one operator on the input.
fn single(
    opset: i64,
    shape: &[i64],
    op: &str,
    extra: Vec<pb::TensorProto>,
    attrs: Vec<pb::AttributeProto>,
) -> pb::ModelProto {
    let mut g = G::new(opset, shape);
    let mut ins = vec!["x".to_string()];
    for t in extra {
        ins.push(g.init(t));
    }
    let refs: Vec<&str> = ins.iter().map(String::as_str).collect();
    let y = g.op("y", op, &refs, attrs);
    g.finish(&y)
}

/// Deterministic values in [lo, hi).
fn uniform(n: usize, seed: u64, lo: f64, hi: f64) -> Vec<f64> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            lo + (hi - lo) * ((s >> 11) as f64 / (1u64 << 53) as f64)
        })
        .collect()
}

/// Values deep in the saturating ranges, at the kinks and segment ends, and 0.
const EXTREMES: &[f64] = &[
    -60.0, -17.0, -16.0, -15.9, -8.5, -8.0, -1.0, -0.1, -1e-3, 0.0, 1e-3, 0.1, 1.0, 8.0, 8.5, 10.0,
    16.0, 17.0, 60.0,
];

/// [`inputs`] clamped to `[lo, hi]`.
fn inputs_within(n: usize, lo: f64, hi: f64) -> Vec<Vec<f64>> {
    inputs(n)
        .into_iter()
        .map(|x| x.into_iter().map(|v| v.clamp(lo, hi)).collect())
        .collect()
}

/// Random inputs in [-4, 4) and [-40, 40), and the extreme values, for `n` elements.
fn inputs(n: usize) -> Vec<Vec<f64>> {
    let mut v = vec![
        uniform(n, 1, -4.0, 4.0),
        uniform(n, 2, -4.0, 4.0),
        uniform(n, 3, -40.0, 40.0),
    ];
    for shift in 0..3 {
        v.push(
            (0..n)
                .map(|i| EXTREMES[(i + 7 * shift) % EXTREMES.len()])
                .collect(),
        );
    }
    v
}

/// `proto` loaded and compiled, calibrated on `xs` (each one value of slot 0).
fn compile_on(proto: &pb::ModelProto, xs: &[Vec<f64>]) -> (Graph, zkopml_model::Program) {
    let g = Graph::from_raw(&RawModel::from_proto(proto).unwrap()).unwrap();
    let cal: Vec<Tensor<f64>> = xs
        .iter()
        .map(|x| Tensor::new(g.input_shape.clone(), x.clone()))
        .collect();
    let p = compile(&g, &Calibration::run(&g, &cal).unwrap()).unwrap();
    (g, p)
}

/// Compiles `proto` calibrated on `xs`, runs every input in fixed point and compares with tract
/// (or with `reference`, an elementwise function, where tract's operator is wrong). The inputs
/// are first rounded to multiples of 2^-10, which every input scale here represents exactly, so
/// the error is the lowering's own. It must stay within `tol · max(1, max |y|) + 2 q`, `q` the
/// output's quantum (the rounding of the last op and of the one before it). The program's
/// operator kinds must be `kinds` (the lowering uses existing operators only). Returns the
/// largest error relative to `max(1, max |y|)`.
fn check_with(
    name: &str,
    proto: &pb::ModelProto,
    xs: &[Vec<f64>],
    kinds: &[&str],
    tol: f64,
    reference: Option<&dyn Fn(f64) -> f64>,
) -> f64 {
    let xs = on_input_grid(xs);
    let (g, p) = compile_on(proto, &xs);
    let got: Vec<&str> = p.ops.iter().map(|n| n.op.kind()).collect();
    assert_eq!(got, kinds, "{name}: lowered operators");
    let tract = TractReference::from_proto(proto, &g.input_shape).unwrap();
    let float = |x: &[f64]| match reference {
        Some(f) => x.iter().map(|&v| f(v)).collect(),
        None => tract.run(x).unwrap().remove(0),
    };
    compare(name, &p, &xs, tol, &float)
}

/// `xs` rounded to multiples of 2^-10, which every input scale here represents exactly (so an
/// error is the lowering's own, not the input's quantisation).
fn on_input_grid(xs: &[Vec<f64>]) -> Vec<Vec<f64>> {
    xs.iter()
        .map(|x| x.iter().map(|v| (v * 1024.0).round() / 1024.0).collect())
        .collect()
}

/// [`check_with`]'s comparison of the compiled `p` with `float`, the f32 reference, on `xs`.
fn compare(
    name: &str,
    p: &zkopml_model::Program,
    xs: &[Vec<f64>],
    tol: f64,
    float: &dyn Fn(&[f64]) -> Vec<f64>,
) -> f64 {
    let got: Vec<&str> = p.ops.iter().map(|n| n.op.kind()).collect();
    let engine = Engine::new(p);
    let out = p.outputs[0];
    let q = 2f64.powi(-p.slot_spec(out).scale);
    let mut worst: f64 = 0.0;
    for x in xs {
        let qx = quantise_input(p, x).unwrap();
        let trace = run(p, qx.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            &engine.infer(qx).unwrap(),
            trace.output(),
            "{name}: honest path"
        );
        let fixed = dequantise(&trace.slots[out], p.slot_spec(out).scale);
        let float = float(x);
        assert_eq!(fixed.len(), float.len());
        let mag = float.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        let err = fixed
            .iter()
            .zip(&float)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(err <= tol * mag + 2.0 * q, "{name}: error {err:.3e} above {tol:.0e} · {mag:.3} + 2·{q:.1e} at input {x:?}\nfixed {fixed:?}\nfloat {float:?}");
        worst = worst.max(err / mag);
    }
    eprintln!("{name}: {} ops {got:?}, max error {worst:.2e} · max(1, |y|) (output quantum {q:.1e}), tolerance {tol:.0e}", p.n_ops());
    worst
}

fn check(name: &str, proto: &pb::ModelProto, xs: &[Vec<f64>], kinds: &[&str], tol: f64) -> f64 {
    check_with(name, proto, xs, kinds, tol, None)
}

const NCHW: &[i64] = &[1, 3, 4, 4];
const N: usize = 48;

#[test]
fn hard_sigmoid_and_hard_swish() {
    let m = single(
        17,
        NCHW,
        "HardSigmoid",
        vec![],
        vec![attr("alpha", A::F(0.3)), attr("beta", A::F(0.4))],
    );
    check("HardSigmoid", &m, &inputs(N), &["Affine", "Clip"], 1e-4);
    // rank 1: no channel axis, so Mul then Add
    let m = single(17, &[8], "HardSigmoid", vec![], vec![]);
    check(
        "HardSigmoid (rank 1)",
        &m,
        &inputs(8),
        &["Mul", "Add", "Clip"],
        1e-4,
    );
    let m = single(17, NCHW, "HardSwish", vec![], vec![]);
    check(
        "HardSwish",
        &m,
        &inputs(N),
        &["Affine", "Clip", "Mul"],
        1e-4,
    );
}

#[test]
fn elu_selu_celu() {
    let m = single(17, NCHW, "Elu", vec![], vec![attr("alpha", A::F(0.7))]);
    check(
        "Elu",
        &m,
        &inputs(N),
        &["Relu", "PiecewisePoly", "Add"],
        1e-4,
    );
    let m = single(17, NCHW, "Selu", vec![], vec![]);
    check(
        "Selu",
        &m,
        &inputs(N),
        &["Relu", "Mul", "PiecewisePoly", "Add"],
        1e-4,
    );
    // tract 0.23 computes Celu as max(0, x) + min(0, exp(x/alpha) − 1), without ONNX's factor
    // alpha on the second term: alpha = 1 against tract, others against ONNX's formula
    let m = single(17, NCHW, "Celu", vec![], vec![]);
    check(
        "Celu",
        &m,
        &inputs(N),
        &["Relu", "PiecewisePoly", "Add"],
        1e-4,
    );
    for alpha in [0.3f32, 2.5] {
        let a = alpha as f64;
        let celu = move |x: f64| x.max(0.0) + (a * ((x / a).exp() - 1.0)).min(0.0);
        let m = single(17, NCHW, "Celu", vec![], vec![attr("alpha", A::F(alpha))]);
        check_with(
            &format!("Celu alpha {alpha}"),
            &m,
            &inputs(N),
            &["Relu", "PiecewisePoly", "Add"],
            1e-4,
            Some(&celu),
        );
    }
}

#[test]
fn softplus_softsign_mish() {
    let m = single(17, NCHW, "Softplus", vec![], vec![]);
    check(
        "Softplus",
        &m,
        &inputs(N),
        &["Relu", "PiecewisePoly", "Add"],
        1e-4,
    );
    let m = single(17, NCHW, "Softsign", vec![], vec![]);
    check("Softsign", &m, &inputs(N), &["Abs", "Add", "Div"], 1e-4);
    let m = single(18, NCHW, "Mish", vec![], vec![]);
    check("Mish", &m, &inputs(N), &["PiecewisePoly", "Mul"], 1e-4);
    // Mish as PyTorch < 1.9 exports it: x * tanh(softplus(x)), Softplus lowered, Tanh a polynomial
    let mut g = G::new(17, NCHW);
    let sp = g.op("softplus", "Softplus", &["x"], vec![]);
    let t = g.op("tanh", "Tanh", &[&sp], vec![]);
    let y = g.op("y", "Mul", &["x", &t], vec![]);
    check(
        "Mul(x, Tanh(Softplus(x)))",
        &g.finish(&y),
        &inputs(N),
        &["Relu", "PiecewisePoly", "Add", "PiecewisePoly", "Mul"],
        2e-4,
    );
}

#[test]
fn gelu_exact_and_tanh() {
    let m = single(20, NCHW, "Gelu", vec![], vec![]);
    check("Gelu", &m, &inputs(N), &["PiecewisePoly", "Mul"], 1e-4);
    let m = single(
        20,
        NCHW,
        "Gelu",
        vec![],
        vec![attr("approximate", A::S("tanh"))],
    );
    check("Gelu tanh", &m, &inputs(N), &["PiecewisePoly", "Mul"], 1e-4);
}

#[test]
fn prelu_per_channel_and_shared_and_thresholded_relu() {
    let slope = f32s("slope", &[3, 1, 1], &[0.25, -0.1, 1.5]);
    let m = single(10, NCHW, "PRelu", vec![slope], vec![]);
    check(
        "PRelu per channel",
        &m,
        &inputs(N),
        &["Relu", "Sub", "Mul", "Add"],
        1e-4,
    );
    let m = single(
        10,
        NCHW,
        "PRelu",
        vec![f32s("slope", &[1], &[0.25])],
        vec![],
    );
    check("PRelu shared", &m, &inputs(N), &["LeakyRelu"], 1e-4);
    // inputs on a grid of 2^-8, so none lies within a quantum of alpha (a step there)
    let grid: Vec<Vec<f64>> = inputs(N)
        .into_iter()
        .map(|x| x.into_iter().map(|v| (v * 256.0).round() / 256.0).collect())
        .collect();
    let m = single(
        10,
        NCHW,
        "ThresholdedRelu",
        vec![],
        vec![attr("alpha", A::F(0.5))],
    );
    check("ThresholdedRelu", &m, &grid, &["Compare", "Mul"], 1e-5);
}

#[test]
fn variadic_sum_mean_max_min() {
    let c = f32s("c", &[3, 1, 1], &[0.5, -2.0, 3.0]);
    let mut g = G::new(13, NCHW);
    let c = g.init(c);
    let a = g.op("abs", "Abs", &["x"], vec![]);
    let n = g.op("neg", "Neg", &["x"], vec![]);
    let s = g.op("sum", "Sum", &["x", &a, &c], vec![]);
    let m = g.op("mean", "Mean", &[&s, &n, &c], vec![]);
    let mx = g.op("max", "Max", &[&m, &n, &c], vec![]);
    let mn = g.op("min", "Min", &[&mx, &a, &c, &s], vec![]);
    let y = g.op("y", "Max", &[&mn], vec![]);
    let kinds = [
        "Abs", "Neg", "Add", "Add", "Add", "Add", "Mul", "Max", "Max", "Min", "Min", "Min",
    ];
    check("Sum/Mean/Max/Min", &g.finish(&y), &inputs(N), &kinds, 1e-4);
    // Mean of one input is that input; Max of three, one of them constant
    let mut g = G::new(13, NCHW);
    let m = g.op("mean", "Mean", &["x"], vec![]);
    let n = g.op("neg", "Neg", &[&m], vec![]);
    let c = g.init(f32s("c", &[4], &[0.5, -2.0, 3.0, 0.0]));
    let y = g.op("y", "Max", &["x", &n, &c], vec![]);
    check(
        "Max of three",
        &g.finish(&y),
        &inputs(N),
        &["Neg", "Max", "Max"],
        1e-4,
    );
}

#[test]
fn pow_constant_exponents() {
    let pos: Vec<Vec<f64>> = inputs(N)
        .into_iter()
        .map(|x| x.into_iter().map(|v| v.abs().clamp(0.05, 20.0)).collect())
        .collect();
    let away: Vec<Vec<f64>> = pos
        .iter()
        .zip(inputs(N))
        .map(|(p, s)| {
            p.iter()
                .zip(s)
                .map(|(a, b)| if b < 0.0 { -a } else { *a })
                .collect()
        })
        .collect();
    let small: Vec<Vec<f64>> = inputs_within(N, -6.0, 6.0);
    let pow = |e: f32| single(15, NCHW, "Pow", vec![f32s("e", &[], &[e])], vec![]);
    check("Pow 2", &pow(2.0), &inputs(N), &["Mul"], 1e-4);
    check("Pow 3", &pow(3.0), &small, &["Mul", "Mul"], 1e-4);
    check("Pow 5", &pow(5.0), &small, &["Mul", "Mul", "Mul"], 1e-4);
    check("Pow 0.5", &pow(0.5), &pos, &["Sqrt"], 1e-4);
    check("Pow 1.5", &pow(1.5), &pos, &["Sqrt", "Mul"], 1e-4);
    check("Pow -1", &pow(-1.0), &away, &["Reciprocal"], 1e-3);
    check("Pow -0.5", &pow(-0.5), &pos, &["Reciprocal", "Sqrt"], 1e-3);
    check("Pow -2", &pow(-2.0), &away, &["Reciprocal", "Mul"], 1e-3);
    // an integer exponent tensor
    let m = single(15, NCHW, "Pow", vec![i64s("e", &[1], &[2])], vec![]);
    check("Pow int 2", &m, &inputs(N), &["Mul"], 1e-4);
    // a constant base: 10^x = exp(x·ln 10)
    let mut g = G::new(15, NCHW);
    let ten = g.init(f32s("ten", &[], &[10.0]));
    let y = g.op("y", "Pow", &[&ten, "x"], vec![]);
    let range: Vec<Vec<f64>> = inputs(N)
        .into_iter()
        .map(|x| x.into_iter().map(|v| (v / 10.0).clamp(-4.0, 1.5)).collect())
        .collect();
    check(
        "Pow 10^x",
        &g.finish(&y),
        &range,
        &["Mul", "PiecewisePoly"],
        1e-3,
    );
}

/// `LayerNormalization` over the last axis (scale, bias) and over the last two (defaults), and
/// the form PyTorch's exporter writes at opset 17 (ReduceMean, Sub, Pow 2, ReduceMean, Add,
/// Sqrt, Div, Mul, Add). One input holds a constant row (zero variance: the output is the
/// bias there).
#[test]
fn layer_normalization_fused_and_decomposed() {
    let shape = [1i64, 3, 8];
    let mut xs = inputs(24);
    let mut flat = uniform(24, 9, -3.0, 3.0);
    flat[..8].iter_mut().for_each(|v| *v = 0.5);
    xs.push(flat);
    // the squares' scale follows the largest calibrated d²: rows of a far smaller variance keep
    // less relative precision (docs/fixed-point.md), so wide inputs are calibrated on their own
    let wide: Vec<Vec<f64>> = (10..14).map(|s| uniform(24, s, -200.0, 200.0)).collect();
    let w: Vec<f32> = uniform(8, 11, 0.5, 1.5)
        .into_iter()
        .map(|v| v as f32)
        .collect();
    let bias: Vec<f32> = uniform(8, 12, -0.5, 0.5)
        .into_iter()
        .map(|v| v as f32)
        .collect();
    let ln_kinds = [
        "ReduceMean",
        "Sub",
        "Mul",
        "ReduceMean",
        "Add",
        "Sqrt",
        "Max",
        "Div",
    ];
    let with = |tail: &[&'static str]| -> Vec<&'static str> {
        ln_kinds.iter().chain(tail).copied().collect()
    };
    let m = single(
        17,
        &shape,
        "LayerNormalization",
        vec![f32s("w", &[8], &w), f32s("b", &[8], &bias)],
        vec![attr("axis", A::I(-1)), attr("epsilon", A::F(1e-5))],
    );
    check("LayerNormalization", &m, &xs, &with(&["Mul", "Add"]), 2e-3);
    check(
        "LayerNormalization on [-200, 200)",
        &m,
        &wide,
        &with(&["Mul", "Add"]),
        2e-3,
    );
    let m = single(
        17,
        &shape,
        "LayerNormalization",
        vec![f32s("w", &[3, 8], &[1.0; 24])],
        vec![attr("axis", A::I(1))],
    );
    check("LayerNormalization axis 1", &m, &xs, &with(&[]), 2e-3);

    let mut g = G::new(17, &shape);
    let (wi, bi) = (g.init(f32s("w", &[8], &w)), g.init(f32s("b", &[8], &bias)));
    let two = g.init(f32s("two", &[], &[2.0]));
    let eps = g.init(f32s("eps", &[], &[1e-5]));
    let mean = g.op(
        "/ReduceMean",
        "ReduceMean",
        &["x"],
        vec![attr("axes", A::Is(vec![-1])), attr("keepdims", A::I(1))],
    );
    let d = g.op("/Sub", "Sub", &["x", &mean], vec![]);
    let sq = g.op("/Pow", "Pow", &[&d, &two], vec![]);
    let var = g.op(
        "/ReduceMean_1",
        "ReduceMean",
        &[&sq],
        vec![attr("axes", A::Is(vec![-1])), attr("keepdims", A::I(1))],
    );
    let ve = g.op("/Add", "Add", &[&var, &eps], vec![]);
    let sd = g.op("/Sqrt", "Sqrt", &[&ve], vec![]);
    let n = g.op("/Div", "Div", &[&d, &sd], vec![]);
    let s = g.op("/Mul", "Mul", &[&n, &wi], vec![]);
    let y = g.op("/Add_1", "Add", &[&s, &bi], vec![]);
    // no constant row here: without the floor, a zero variance under an eps below one quantum
    // is a division by zero, refused at run time
    let xs: Vec<Vec<f64>> = xs
        .into_iter()
        .filter(|x| x[..8].iter().any(|&v| v != 0.5))
        .collect();
    check(
        "LayerNorm as PyTorch decomposes it",
        &g.finish(&y),
        &xs,
        &[
            "ReduceMean",
            "Sub",
            "Mul",
            "ReduceMean",
            "Add",
            "Sqrt",
            "Div",
            "Mul",
            "Add",
        ],
        2e-3,
    );
}

#[test]
fn expand_of_a_computed_tensor() {
    // x [1, 3, 1, 4] → Expand to [2, 1, 3, 5, 4]: a Reshape to rank 5, Gathers on axes 0 and 3
    let mut g = G::new(13, &[1, 3, 1, 4]);
    let r = g.op("relu", "Relu", &["x"], vec![]);
    let shape = g.init(i64s("shape", &[5], &[2, 1, 3, 5, 4]));
    let y = g.op("y", "Expand", &[&r, &shape], vec![]);
    check(
        "Expand",
        &g.finish(&y),
        &inputs(12),
        &["Relu", "Reshape", "Gather", "Gather"],
        1e-5,
    );
    // the pattern of a normalisation: a row statistic expanded back over the row
    let mut g = G::new(13, &[1, 3, 4, 4]);
    let m = g.op(
        "mean",
        "ReduceMean",
        &["x"],
        vec![attr("axes", A::Is(vec![3])), attr("keepdims", A::I(1))],
    );
    let shape = g.init(i64s("shape", &[4], &[1, 3, 4, 4]));
    let e = g.op("expand", "Expand", &[&m, &shape], vec![]);
    let y = g.op("y", "Sub", &["x", &e], vec![]);
    check(
        "x - Expand(ReduceMean(x))",
        &g.finish(&y),
        &inputs(N),
        &["ReduceMean", "Gather", "Sub"],
        1e-4,
    );
}

#[test]
fn sign_and_the_lp_pool_pattern() {
    let m = single(13, NCHW, "Sign", vec![], vec![]);
    check("Sign", &m, &inputs(N), &["Compare", "Compare", "Sub"], 0.0);
    // LpPool(p = 2) as PyTorch writes it: (sign(f) · relu(|f|))^0.5, f = AvgPool(x^2)
    let mut g = G::new(17, NCHW);
    let two = g.init(f32s("two", &[], &[2.0]));
    let half = g.init(f32s("half", &[], &[0.5]));
    let sq = g.op("pow", "Pow", &["x", &two], vec![]);
    let f = g.op(
        "pool",
        "AveragePool",
        &[&sq],
        vec![
            attr("kernel_shape", A::Is(vec![2, 2])),
            attr("strides", A::Is(vec![1, 1])),
        ],
    );
    let sign = g.op("sign", "Sign", &[&f], vec![]);
    let abs = g.op("abs", "Abs", &[&f], vec![]);
    let relu = g.op("relu", "Relu", &[&abs], vec![]);
    let mul = g.op("mul", "Mul", &[&sign, &relu], vec![]);
    let y = g.op("y", "Pow", &[&mul, &half], vec![]);
    let kinds = [
        "Mul",
        "AveragePool",
        "Compare",
        "Compare",
        "Sub",
        "Abs",
        "Relu",
        "Mul",
        "Sqrt",
    ];
    let small: Vec<Vec<f64>> = inputs_within(N, -10.0, 10.0);
    check("LpPool pattern", &g.finish(&y), &small, &kinds, 1e-3);
}

#[test]
fn logic_and_or_xor_and_non_strict_comparisons() {
    // bool tensors from comparisons of the input, combined, then cast back to float; the
    // extreme inputs hit -1 and 1 exactly, where the non-strict comparisons differ from the
    // strict ones
    let mut g = G::new(13, NCHW);
    let half = g.init(f32s("half", &[], &[0.5]));
    let two = g.init(f32s("two", &[], &[2.0]));
    let m1 = g.init(f32s("m1", &[], &[-1.0]));
    let one = g.init(f32s("one", &[], &[1.0]));
    let a = g.op("a", "Greater", &["x", &half], vec![]);
    let b = g.op("b", "Less", &["x", &two], vec![]);
    let c = g.op("c", "GreaterOrEqual", &["x", &m1], vec![]);
    let d = g.op("d", "LessOrEqual", &["x", &one], vec![]);
    let and = g.op("and", "And", &[&a, &b], vec![]);
    let or = g.op("or", "Or", &[&and, &c], vec![]);
    let xor = g.op("xor", "Xor", &[&or, &d], vec![]);
    let y = g.op("y", "Cast", &[&xor], vec![attr("to", A::I(1))]);
    let kinds = [
        "Compare", "Compare", "Compare", "Not", "Compare", "Not", "Mul", "Max", "Compare", "Not",
        "Cast",
    ];
    let mut xs = inputs(N);
    xs.push((0..N).map(|i| [-1.0, 1.0, 0.5, 2.0][i % 4]).collect());
    let reference = |v: f64| {
        let (a, b, c, d) = (v > 0.5, v < 2.0, v >= -1.0, v <= 1.0);
        (((a && b) || c) ^ d) as u8 as f64
    };
    check_with("logic", &g.finish(&y), &xs, &kinds, 0.0, Some(&reference));
    // tract agrees with the reference on the same graph
    let err = check(
        "logic (tract)",
        &{
            let mut g = G::new(13, NCHW);
            let one = g.init(f32s("one", &[], &[1.0]));
            let d = g.op("d", "LessOrEqual", &["x", &one], vec![]);
            let e = g.op("e", "GreaterOrEqual", &["x", &one], vec![]);
            let x = g.op("xor", "Xor", &[&d, &e], vec![]);
            let y = g.op("y", "Cast", &[&x], vec![attr("to", A::I(1))]);
            g.finish(&y)
        },
        &xs,
        &["Compare", "Not", "Compare", "Not", "Compare", "Not", "Cast"],
        0.0,
    );
    assert_eq!(err, 0.0);
}

#[test]
fn floor_and_ceil() {
    let xs = inputs(N);
    for (op, f) in [("Floor", f64::floor as fn(f64) -> f64), ("Ceil", f64::ceil)] {
        let m = single(13, NCHW, op, vec![], vec![]);
        check_with(
            op,
            &m,
            &xs,
            &["Cast", "Compare", if op == "Floor" { "Sub" } else { "Add" }],
            0.0,
            Some(&f),
        );
        check(
            &format!("{op} (tract)"),
            &m,
            &xs,
            &["Cast", "Compare", if op == "Floor" { "Sub" } else { "Add" }],
            0.0,
        );
    }
}

/// Round, ties to even (ONNX's rule), exact against f64::round_ties_even and tract, on every
/// tie from -23.5 to 23.5, its neighbours one input quantum away, and the usual inputs.
#[test]
fn round_ties_to_even() {
    let mut xs = inputs(N);
    let ties: Vec<f64> = (0..N).map(|i| i as f64 - 23.5).collect();
    let near: Vec<f64> = ties
        .iter()
        .enumerate()
        .map(|(i, t)| t + if i % 2 == 0 { 1.0 } else { -1.0 } / 1024.0)
        .collect();
    xs.extend([ties, near]);
    let kinds = [
        "Cast", "Compare", "Sub", "Sub", "Compare", "Compare", "Mul", "Cast", "Compare", "Sub",
        "Mul", "Sub", "Mul", "Add", "Add",
    ];
    let m = single(13, NCHW, "Round", vec![], vec![]);
    let f = f64::round_ties_even as fn(f64) -> f64;
    assert_eq!(check_with("Round", &m, &xs, &kinds, 0.0, Some(&f)), 0.0);
    assert_eq!(check("Round (tract)", &m, &xs, &kinds, 0.0), 0.0);
}

/// Several graph inputs (not a lowering: the front end packs them into slot 0 and extracts each
/// with a Slice and a Reshape): a float image, int64 token ids into an embedding table and a
/// bool mask, each at its own scale, against tract fed the three tensors.
#[test]
fn several_graph_inputs_each_at_its_own_scale() {
    use zkopml_model::DType;
    let mut g = G::new(13, &[1, 2, 3]);
    g.g.input.push(value_info("ids", &[1, 5]));
    g.g.input.push(value_info("mask", &[1, 5]));
    g.g.input[1]
        .r#type
        .as_mut()
        .map(|t| match t.value.as_mut() {
            Some(pb::type_proto::Value::TensorType(tt)) => tt.elem_type = 7,
            _ => unreachable!(),
        });
    g.g.input[2]
        .r#type
        .as_mut()
        .map(|t| match t.value.as_mut() {
            Some(pb::type_proto::Value::TensorType(tt)) => tt.elem_type = 9,
            _ => unreachable!(),
        });
    let table: Vec<f32> = (0..40).map(|i| (i as f32 - 20.0) * 37.5).collect();
    let table = g.init(f32s("table", &[10, 4], &table));
    let emb = g.op("emb", "Gather", &[&table, "ids"], vec![]);
    let axes = g.init(i64s("axes", &[1], &[2]));
    let per_token = g.op(
        "per_token",
        "ReduceSum",
        &[&emb, &axes],
        vec![attr("keepdims", A::I(0))],
    );
    let m = g.op("m", "Cast", &["mask"], vec![attr("to", A::I(1))]);
    let masked = g.op("masked", "Mul", &[&per_token, &m], vec![]);
    let all = g.init(i64s("all", &[2], &[1, 2]));
    let xsum = g.op(
        "xsum",
        "ReduceSum",
        &["x", &all],
        vec![attr("keepdims", A::I(0))],
    );
    let y = g.op("y", "Add", &[&masked, &xsum], vec![]);
    let proto = g.finish(&y);
    let sets: Vec<Vec<f64>> = (0..6)
        .map(|k| {
            let mut v = uniform(6, 10 + k, -0.01, 0.01); // x: small values, a fine scale
            v.extend((0..5).map(|i| ((i * 3 + k as usize) % 10) as f64)); // ids
            v.extend((0..5).map(|i| ((i + k as usize) % 2) as f64)); // mask
            v
        })
        .collect();
    let (graph, p) = compile_on(&proto, &sets);
    assert_eq!(graph.input_shape, vec![16]);
    let parts = p.input_parts();
    let names: Vec<(&str, DType, i32)> = parts
        .iter()
        .map(|i| (i.part.name.as_str(), i.part.dtype, i.scale))
        .collect();
    assert_eq!(
        names[1..],
        [("ids", DType::Int, 0), ("mask", DType::Bool, 0)]
    );
    assert!(
        names[0].2 >= 20,
        "the float input keeps its own fine scale: {names:?}"
    );
    assert_eq!(&p.ops[0].op.kind(), &"Slice");
    let tract = TractReference::from_proto_inputs(
        &proto,
        &parts.iter().map(|i| i.part.clone()).collect::<Vec<_>>(),
    )
    .unwrap();
    let out = p.outputs[0];
    for x in &sets {
        let trace = run(&p, quantise_input(&p, x).unwrap()).unwrap();
        let fixed = dequantise(&trace.slots[out], p.slot_spec(out).scale);
        let float = tract.run(x).unwrap().remove(0);
        let err = fixed
            .iter()
            .zip(&float)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        let mag = float.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        assert!(
            err <= 1e-4 * mag,
            "error {err} at {x:?}: {fixed:?} vs {float:?}"
        );
    }
    // wrong values for an integer or boolean input, and a wrong length, are refused by name
    let mut bad = sets[0].clone();
    bad[7] = 2.5;
    let e = quantise_input(&p, &bad).unwrap_err().to_string();
    assert!(e.contains("input ids") && e.contains("integer"), "{e}");
    bad = sets[0].clone();
    bad[12] = 2.0;
    let e = quantise_input(&p, &bad).unwrap_err().to_string();
    assert!(e.contains("input mask") && e.contains("boolean"), "{e}");
    let e = quantise_input(&p, &sets[0][..15]).unwrap_err().to_string();
    assert!(e.contains("x [1, 2, 3] + ids [1, 5] + mask [1, 5]"), "{e}");
}

#[test]
fn reduce_l1_l2_and_sum_square() {
    let xs: Vec<Vec<f64>> = inputs_within(N, -10.0, 10.0);
    for (op, kinds) in [
        ("ReduceL1", &["Abs", "ReduceSum"][..]),
        ("ReduceL2", &["Mul", "ReduceSum", "Sqrt"][..]),
        ("ReduceSumSquare", &["Mul", "ReduceSum"][..]),
    ] {
        // opset 13: axes as an attribute; opset 18: as a constant input
        let m = single(
            13,
            NCHW,
            op,
            vec![],
            vec![attr("axes", A::Is(vec![-1])), attr("keepdims", A::I(0))],
        );
        check(&format!("{op} (opset 13, axes [-1])"), &m, &xs, kinds, 1e-3);
        let m = single(18, NCHW, op, vec![i64s("axes", &[2], &[1, 3])], vec![]);
        check(
            &format!("{op} (opset 18, axes [1, 3])"),
            &m,
            &xs,
            kinds,
            1e-3,
        );
    }
}

#[test]
fn trilu_upper_and_lower_with_k() {
    let xs = inputs(N);
    for (upper, k) in [(1, 0), (1, 1), (0, 0), (0, -1)] {
        let m = single(
            14,
            NCHW,
            "Trilu",
            vec![i64s("k", &[], &[k])],
            vec![attr("upper", A::I(upper))],
        );
        check(
            &format!("Trilu upper {upper} k {k}"),
            &m,
            &xs,
            &["Mul"],
            0.0,
        );
    }
}

#[test]
fn identity_graph_is_one_copy() {
    let mut g = G::new(13, NCHW);
    let y = g.op("y", "Identity", &["x"], vec![]);
    check(
        "Identity graph",
        &g.finish(&y),
        &inputs(N),
        &["Reshape"],
        0.0,
    );
}

#[test]
fn one_d_convolutions_and_pools() {
    // x [1, 4, 16]; Conv1d 4 -> 6 channels, kernel 3, group 2, stride 2, dilation 2, pads [2, 1]
    let ncl: &[i64] = &[1, 4, 16];
    let xs = inputs(64);
    let w: Vec<f32> = uniform(6 * 2 * 3, 7, -0.5, 0.5)
        .iter()
        .map(|&v| v as f32)
        .collect();
    let bias: Vec<f32> = vec![0.1, -0.2, 0.3, 0.0, 0.05, -0.05];
    let m = single(
        13,
        ncl,
        "Conv",
        vec![f32s("w", &[6, 2, 3], &w), f32s("b", &[6], &bias)],
        vec![
            attr("kernel_shape", A::Is(vec![3])),
            attr("strides", A::Is(vec![2])),
            attr("dilations", A::Is(vec![2])),
            attr("pads", A::Is(vec![2, 1])),
            attr("group", A::I(2)),
        ],
    );
    check("Conv1d", &m, &xs, &["Reshape", "Conv", "Reshape"], 1e-3);
    let m = single(
        13,
        ncl,
        "Conv",
        vec![f32s("w", &[6, 2, 3], &w)],
        vec![attr("group", A::I(2)), attr("auto_pad", A::S("SAME_UPPER"))],
    );
    check(
        "Conv1d SAME_UPPER",
        &m,
        &xs,
        &["Reshape", "Conv", "Reshape"],
        1e-3,
    );
    let m = single(
        13,
        ncl,
        "MaxPool",
        vec![],
        vec![
            attr("kernel_shape", A::Is(vec![3])),
            attr("strides", A::Is(vec![2])),
            attr("pads", A::Is(vec![1, 1])),
        ],
    );
    check(
        "MaxPool1d",
        &m,
        &xs,
        &["Reshape", "MaxPool", "Reshape"],
        0.0,
    );
    let m = single(
        13,
        ncl,
        "AveragePool",
        vec![],
        vec![
            attr("kernel_shape", A::Is(vec![4])),
            attr("strides", A::Is(vec![4])),
        ],
    );
    check(
        "AveragePool1d",
        &m,
        &xs,
        &["Reshape", "AveragePool", "Reshape"],
        1e-4,
    );
    let m = single(13, ncl, "GlobalAveragePool", vec![], vec![]);
    check(
        "GlobalAveragePool1d",
        &m,
        &xs,
        &["Reshape", "GlobalAveragePool", "Reshape"],
        1e-4,
    );
}

/// 3-D windows on `[N, C, D, H, W]`: Conv3d (groups, strides, dilations, pads, SAME_UPPER) as
/// a 2-D Conv over the depth taps moved into batch and channels; MaxPool3d and AveragePool3d
/// (both count_include_pad) as the 2-D pool then the depth window; GlobalAveragePool and
/// GlobalMaxPool over three spatial axes. Against tract.
#[test]
fn three_d_convolutions_and_pools() {
    let ncdhw: &[i64] = &[1, 4, 5, 6, 6];
    let xs = inputs(720);
    let w: Vec<f32> = uniform(6 * 2 * 3 * 3 * 2, 9, -0.5, 0.5)
        .iter()
        .map(|&v| v as f32)
        .collect();
    let bias: Vec<f32> = vec![0.1, -0.2, 0.3, 0.0, 0.05, -0.05];
    let conv = [
        "Pad",
        "Gather",
        "Reshape",
        "Transpose",
        "Reshape",
        "Conv",
        "Reshape",
        "Transpose",
    ];
    let m = single(
        13,
        ncdhw,
        "Conv",
        vec![f32s("w", &[6, 2, 3, 3, 2], &w), f32s("b", &[6], &bias)],
        vec![
            attr("kernel_shape", A::Is(vec![3, 3, 2])),
            attr("strides", A::Is(vec![2, 1, 2])),
            attr("dilations", A::Is(vec![1, 2, 1])),
            attr("pads", A::Is(vec![1, 2, 0, 2, 1, 1])),
            attr("group", A::I(2)),
        ],
    );
    check("Conv3d", &m, &xs, &conv, 1e-3);
    let m = single(
        13,
        ncdhw,
        "Conv",
        vec![f32s("w", &[6, 2, 3, 3, 2], &w)],
        vec![attr("group", A::I(2)), attr("auto_pad", A::S("SAME_UPPER"))],
    );
    check("Conv3d SAME_UPPER", &m, &xs, &conv, 1e-3);
    let window = vec![
        attr("kernel_shape", A::Is(vec![3, 2, 3])),
        attr("strides", A::Is(vec![2, 2, 1])),
        attr("pads", A::Is(vec![1, 0, 1, 1, 1, 1])),
    ];
    let m = single(13, ncdhw, "MaxPool", vec![], window.clone());
    let max = [
        "Reshape",
        "MaxPool",
        "Reshape",
        "Gather",
        "Reshape",
        "ReduceMax",
        "Reshape",
    ];
    check("MaxPool3d", &m, &xs, &max, 0.0);
    for include in [0, 1] {
        let mut attrs = window.clone();
        attrs.push(attr("count_include_pad", A::I(include)));
        let m = single(13, ncdhw, "AveragePool", vec![], attrs);
        let avg = [
            "Reshape",
            "AveragePool",
            "Reshape",
            "Pad",
            "Gather",
            "Reshape",
            "ReduceSum",
            "Mul",
            "Reshape",
        ];
        check(
            &format!("AveragePool3d count_include_pad {include}"),
            &m,
            &xs,
            &avg,
            1e-3,
        );
    }
    let m = single(13, ncdhw, "GlobalAveragePool", vec![], vec![]);
    check(
        "GlobalAveragePool3d",
        &m,
        &xs,
        &["Reshape", "GlobalAveragePool", "Reshape"],
        1e-4,
    );
    let m = single(13, ncdhw, "GlobalMaxPool", vec![], vec![]);
    check("GlobalMaxPool3d", &m, &xs, &["ReduceMax"], 0.0);
}

/// What onnxruntime refuses, or computes otherwise than ONNX's reference, is refused by name
/// (the review of the window and Gemm lowerings): SAME auto_pad with a dilation, a Conv whose
/// kernel_shape differs from its weight, pool pads as large as the kernel (2-D and depth), a
/// Gemm C that does not broadcast to [m, n] one way. And a per-row C, which the Gemm operator
/// does not take, goes through the lowering.
#[test]
fn window_and_gemm_refusals_of_the_review() {
    let refused = |m: &pb::ModelProto, why: &str| {
        let e = Graph::from_raw(&RawModel::from_proto(m).unwrap())
            .err()
            .unwrap_or_else(|| panic!("refused: {why}"))
            .to_string();
        assert!(e.contains(why), "{e}");
    };
    let pool = |dims: &[i64], k: Vec<i64>, more: Vec<pb::AttributeProto>| {
        let mut attrs = vec![attr("kernel_shape", A::Is(k))];
        attrs.extend(more);
        single(13, dims, "MaxPool", vec![], attrs)
    };
    let same_dilated = vec![
        attr("dilations", A::Is(vec![3, 1])),
        attr("auto_pad", A::S("SAME_LOWER")),
    ];
    refused(&pool(&[1, 2, 7, 7], vec![2, 2], same_dilated), "dilations");
    let same_dilated = vec![
        attr("dilations", A::Is(vec![3, 1, 1])),
        attr("auto_pad", A::S("SAME_LOWER")),
    ];
    refused(
        &pool(&[1, 2, 7, 5, 5], vec![2, 3, 3], same_dilated),
        "depth dilation",
    );
    let big_pads = vec![attr("pads", A::Is(vec![2, 0, 0, 0]))];
    refused(
        &pool(&[1, 1, 4, 4], vec![2, 2], big_pads),
        "smaller than the kernel",
    );
    let big_pads = vec![attr("pads", A::Is(vec![2, 0, 0, 2, 0, 0]))];
    refused(
        &pool(&[1, 1, 2, 3, 3], vec![2, 2, 2], big_pads),
        "smaller than the depth kernel",
    );
    let conv = single(
        13,
        &[1, 1, 2, 4, 4],
        "Conv",
        vec![f32s("w", &[1, 1, 2, 2, 2], &[0.5; 8])],
        vec![attr("kernel_shape", A::Is(vec![2, 3, 3]))],
    );
    refused(&conv, "differs from the weight");
    let lp = single(
        18,
        &[1, 1, 4, 4],
        "LpPool",
        vec![],
        vec![
            attr("kernel_shape", A::Is(vec![2, 2])),
            attr("ceil_mode", A::I(1)),
        ],
    );
    refused(&lp, "LpPool (node \"y\", opset 18): ceil_mode = 1");
    // Gemm: C [2, 5] for m = 3 is refused; a per-row C [3, 1] is lowered and computed
    for (c_dims, ok) in [(vec![2i64, 5], false), (vec![3, 1], true)] {
        let mut g = G::new(13, &[3, 4]);
        let w = g.init(random_f32s("w", &[4, 5], 3));
        let c = g.init(random_f32s("c", &c_dims, 4));
        let y = g.op("y", "Gemm", &["x", &w, &c], vec![]);
        let m = g.finish(&y);
        if !ok {
            refused(&m, "does not broadcast to [3, 5]");
            continue;
        }
        let xs = inputs(12);
        let (_, p) = compile_on(&m, &xs);
        let tract = TractReference::from_proto(&m, &[3, 4]).unwrap();
        let float = |x: &[f64]| tract.run(x).unwrap().remove(0);
        compare("Gemm with a per-row C", &p, &xs, 1e-3, &float);
    }
}

/// LpPool (p 1 and 2, 1-D and 2-D) as a depthwise Conv of ones over |x| or x² (and Sqrt),
/// GlobalLpPool and GlobalMaxPool, and a 1-D ConvTranspose as the 2-D one over a height of 1.
/// Against tract.
#[test]
fn lp_pools_global_max_pool_and_conv_transpose_1d() {
    // tract has no LpPool: the reference sums |x|^p over each zero-padded window in f64
    let lp_ref = |x: &[f64],
                  [c, h, w]: [usize; 3],
                  k: [usize; 2],
                  st: [usize; 2],
                  pads: [usize; 4],
                  p: i64| {
        let (oh, ow) = (
            (h + pads[0] + pads[2] - k[0]) / st[0] + 1,
            (w + pads[1] + pads[3] - k[1]) / st[1] + 1,
        );
        let mut y = Vec::new();
        for ch in 0..c {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = 0.0;
                    for ky in 0..k[0] {
                        for kx in 0..k[1] {
                            let (iy, ix) = (
                                (oy * st[0] + ky) as isize - pads[0] as isize,
                                (ox * st[1] + kx) as isize - pads[1] as isize,
                            );
                            if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                                let v: f64 = x[(ch * h + iy as usize) * w + ix as usize];
                                acc += if p == 1 { v.abs() } else { v * v };
                            }
                        }
                    }
                    y.push(if p == 1 { acc } else { acc.sqrt() });
                }
            }
        }
        y
    };
    let nchw: &[i64] = &[1, 3, 6, 7];
    let xs = on_input_grid(&inputs(126));
    for p in [1, 2] {
        let m = single(
            18,
            nchw,
            "LpPool",
            vec![],
            vec![
                attr("kernel_shape", A::Is(vec![3, 2])),
                attr("strides", A::Is(vec![2, 1])),
                attr("pads", A::Is(vec![1, 0, 1, 1])),
                attr("p", A::I(p)),
            ],
        );
        let (_, prog) = compile_on(&m, &xs);
        let kinds: Vec<&str> = prog.ops.iter().map(|n| n.op.kind()).collect();
        let want: &[&str] = if p == 1 {
            &["Abs", "Conv"]
        } else {
            &["Mul", "Conv", "Sqrt"]
        };
        assert_eq!(kinds, want, "LpPool p {p}");
        let float = |x: &[f64]| lp_ref(x, [3, 6, 7], [3, 2], [2, 1], [1, 0, 1, 1], p);
        compare(&format!("LpPool p {p}"), &prog, &xs, 1e-3, &float);
        let m = single(13, nchw, "GlobalLpPool", vec![], vec![attr("p", A::I(p))]);
        let (_, prog) = compile_on(&m, &xs);
        let kinds: Vec<&str> = prog.ops.iter().map(|n| n.op.kind()).collect();
        let want: &[&str] = if p == 1 {
            &["Abs", "ReduceSum"]
        } else {
            &["Mul", "ReduceSum", "Sqrt"]
        };
        assert_eq!(kinds, want, "GlobalLpPool p {p}");
        // tract 0.23 divides by the window size (onnxruntime and ONNX's reference do not)
        let float = |x: &[f64]| lp_ref(x, [3, 6, 7], [6, 7], [1, 1], [0; 4], p);
        compare(&format!("GlobalLpPool p {p}"), &prog, &xs, 1e-3, &float);
    }
    let ncl: &[i64] = &[1, 3, 14];
    let xs1 = on_input_grid(&inputs(42));
    let m = single(
        18,
        ncl,
        "LpPool",
        vec![],
        vec![
            attr("kernel_shape", A::Is(vec![3])),
            attr("strides", A::Is(vec![2])),
        ],
    );
    let (_, prog) = compile_on(&m, &xs1);
    let kinds: Vec<&str> = prog.ops.iter().map(|n| n.op.kind()).collect();
    assert_eq!(
        kinds,
        ["Mul", "Reshape", "Conv", "Sqrt", "Reshape"],
        "LpPool1d"
    );
    let float = |x: &[f64]| lp_ref(x, [3, 1, 14], [1, 3], [1, 2], [0; 4], 2);
    compare("LpPool1d", &prog, &xs1, 1e-3, &float);
    let m = single(13, nchw, "GlobalMaxPool", vec![], vec![]);
    check("GlobalMaxPool", &m, &xs, &["ReduceMax"], 0.0);
    let w: Vec<f32> = uniform(3 * 2 * 4, 11, -0.5, 0.5)
        .iter()
        .map(|&v| v as f32)
        .collect();
    let m = single(
        13,
        ncl,
        "ConvTranspose",
        vec![f32s("w", &[3, 2, 4], &w), f32s("b", &[2], &[0.25, -0.5])],
        vec![
            attr("strides", A::Is(vec![2])),
            attr("pads", A::Is(vec![1, 2])),
            attr("output_padding", A::Is(vec![1])),
        ],
    );
    check(
        "ConvTranspose1d",
        &m,
        &xs1,
        &["Reshape", "Gather", "Mul", "Conv", "Reshape"],
        1e-3,
    );
}

#[test]
fn log_softmax_and_reduce_log_sum_exp() {
    let xs: Vec<Vec<f64>> = inputs_within(N, -20.0, 20.0);
    let kinds = [
        "ReduceMax",
        "Sub",
        "PiecewisePoly",
        "ReduceSum",
        "PiecewisePoly",
        "Sub",
    ];
    let m = single(13, NCHW, "LogSoftmax", vec![], vec![]);
    check("LogSoftmax (axis -1)", &m, &xs, &kinds, 1e-4);
    let m = single(13, NCHW, "LogSoftmax", vec![], vec![attr("axis", A::I(1))]);
    check("LogSoftmax (axis 1)", &m, &xs, &kinds, 1e-4);
    let m = single(11, &[1, 10], "LogSoftmax", vec![], vec![]);
    let rows: Vec<Vec<f64>> = (0..6).map(|k| uniform(10, 40 + k, -8.0, 8.0)).collect();
    check("LogSoftmax (opset 11, [1, 10])", &m, &rows, &kinds, 1e-4);
    let lse = [
        "ReduceMax",
        "Sub",
        "PiecewisePoly",
        "ReduceSum",
        "PiecewisePoly",
        "Add",
        "Reshape",
    ];
    let m = single(
        13,
        NCHW,
        "ReduceLogSumExp",
        vec![],
        vec![attr("axes", A::Is(vec![1])), attr("keepdims", A::I(0))],
    );
    check("ReduceLogSumExp (opset 13, axes [1])", &m, &xs, &lse, 1e-4);
    let m = single(
        18,
        NCHW,
        "ReduceLogSumExp",
        vec![i64s("axes", &[2], &[2, 3])],
        vec![],
    );
    check(
        "ReduceLogSumExp (opset 18, axes [2, 3])",
        &m,
        &xs,
        &lse[..6],
        1e-4,
    );
}

#[test]
fn conv_transpose_as_a_convolution() {
    // x [1, 4, 5, 6]; weight [4, 3, 3, 3] (C = 4, M/group)
    let shape: &[i64] = &[1, 4, 5, 6];
    let xs = inputs(120);
    let w: Vec<f32> = uniform(4 * 3 * 3 * 3, 11, -0.5, 0.5)
        .iter()
        .map(|&v| v as f32)
        .collect();
    let bias: Vec<f32> = (0..6).map(|i| 0.05 * i as f32 - 0.1).collect();
    let cases: Vec<(&str, Vec<pb::AttributeProto>, &[&str], i64)> = vec![
        ("stride 1", vec![], &["Conv"], 1),
        (
            "stride 2, pads 1, output_padding 1",
            vec![
                attr("strides", A::Is(vec![2, 2])),
                attr("pads", A::Is(vec![1, 1, 1, 1])),
                attr("output_padding", A::Is(vec![1, 1])),
            ],
            &["Gather", "Gather", "Mul", "Conv"],
            1,
        ),
        (
            "strides (2, 3), dilations 2, group 2",
            vec![
                attr("strides", A::Is(vec![2, 3])),
                attr("dilations", A::Is(vec![2, 2])),
                attr("pads", A::Is(vec![0, 1, 2, 0])),
                attr("group", A::I(2)),
            ],
            &["Gather", "Gather", "Mul", "Conv"],
            2,
        ),
    ];
    for (name, attrs, kinds, group) in cases {
        let m_per_group = 3;
        let out = m_per_group * group;
        let ws = f32s("w", &[4, m_per_group, 3, 3], &w);
        let bs = f32s("b", &[out], &bias[..out as usize]);
        let m = single(13, shape, "ConvTranspose", vec![ws, bs], attrs);
        check(&format!("ConvTranspose {name}"), &m, &xs, kinds, 1e-3);
    }
}

#[test]
fn resize_and_upsample_nearest() {
    let xs = inputs(N);
    let empty = f32s("roi", &[0], &[]);
    let cases: Vec<(&str, pb::ModelProto, &[&str])> = vec![
        (
            "Resize x2 (half_pixel, round_prefer_floor)",
            single(
                13,
                NCHW,
                "Resize",
                vec![empty.clone(), f32s("scales", &[4], &[1.0, 1.0, 2.0, 2.0])],
                vec![attr("mode", A::S("nearest"))],
            ),
            &["Gather", "Gather"],
        ),
        (
            "Resize x3 rows (asymmetric, floor)",
            single(
                13,
                NCHW,
                "Resize",
                vec![empty.clone(), f32s("scales", &[4], &[1.0, 1.0, 3.0, 1.0])],
                vec![
                    attr("mode", A::S("nearest")),
                    attr("coordinate_transformation_mode", A::S("asymmetric")),
                    attr("nearest_mode", A::S("floor")),
                ],
            ),
            &["Gather"],
        ),
        (
            "Resize to sizes [1, 3, 6, 3] (align_corners, round_prefer_ceil)",
            single(
                13,
                NCHW,
                "Resize",
                vec![
                    empty.clone(),
                    f32s("scales", &[0], &[]),
                    i64s("sizes", &[4], &[1, 3, 6, 3]),
                ],
                vec![
                    attr("mode", A::S("nearest")),
                    attr("coordinate_transformation_mode", A::S("align_corners")),
                    attr("nearest_mode", A::S("round_prefer_ceil")),
                ],
            ),
            &["Gather", "Gather"],
        ),
    ];
    for (name, m, kinds) in cases {
        check(name, &m, &xs, kinds, 0.0);
    }
    // Upsample (opset 9; tract has none): the same integers as Resize asymmetric / floor
    let run_all = |m: &pb::ModelProto| -> Vec<Vec<i32>> {
        let (_, p) = compile_on(m, &xs);
        xs.iter()
            .map(|x| {
                run(&p, quantise_input(&p, x).unwrap())
                    .unwrap()
                    .output()
                    .data
                    .clone()
            })
            .collect()
    };
    let up = single(
        9,
        NCHW,
        "Upsample",
        vec![f32s("scales", &[4], &[1.0, 1.0, 2.0, 2.0])],
        vec![attr("mode", A::S("nearest"))],
    );
    let rs = single(
        13,
        NCHW,
        "Resize",
        vec![empty, f32s("scales", &[4], &[1.0, 1.0, 2.0, 2.0])],
        vec![
            attr("mode", A::S("nearest")),
            attr("coordinate_transformation_mode", A::S("asymmetric")),
            attr("nearest_mode", A::S("floor")),
        ],
    );
    assert_eq!(
        run_all(&up),
        run_all(&rs),
        "Upsample x2 = Resize asymmetric/floor x2"
    );
}

#[test]
fn instance_and_group_normalization() {
    let xs = inputs(N);
    let scale = f32s("scale", &[3], &[1.5, -0.5, 2.0]);
    let bias = f32s("bias", &[3], &[0.1, 0.0, -0.3]);
    let kinds = [
        "ReduceMean",
        "Sub",
        "Mul",
        "ReduceMean",
        "Add",
        "Sqrt",
        "Max",
        "Div",
        "Affine",
    ];
    let m = single(
        13,
        NCHW,
        "InstanceNormalization",
        vec![scale.clone(), bias.clone()],
        vec![attr("epsilon", A::F(1e-3))],
    );
    check("InstanceNormalization", &m, &xs, &kinds, 2e-3);
    // GroupNormalization with one group per channel is InstanceNormalization (tract has no
    // GroupNormalization): the same values within the output quanta
    let gkinds = [
        "Reshape",
        "ReduceMean",
        "Sub",
        "Mul",
        "ReduceMean",
        "Add",
        "Sqrt",
        "Max",
        "Div",
        "Reshape",
        "Affine",
    ];
    let gm = single(
        21,
        NCHW,
        "GroupNormalization",
        vec![scale.clone(), bias.clone()],
        vec![attr("num_groups", A::I(3)), attr("epsilon", A::F(1e-3))],
    );
    let (pg, pi) = (compile_on(&gm, &xs).1, compile_on(&m, &xs).1);
    assert_eq!(
        pg.ops.iter().map(|n| n.op.kind()).collect::<Vec<_>>(),
        gkinds
    );
    for x in &xs {
        let out = |p: &zkopml_model::Program| {
            let t = run(p, quantise_input(p, x).unwrap()).unwrap();
            dequantise(t.output(), p.output_spec().scale)
        };
        let (a, b) = (out(&pg), out(&pi));
        let err = a
            .iter()
            .zip(&b)
            .map(|(u, v)| (u - v).abs())
            .fold(0.0, f64::max);
        assert!(
            err <= 2e-3 * b.iter().fold(1.0f64, |m, v| m.max(v.abs())),
            "GroupNormalization vs InstanceNormalization: {err}"
        );
    }
    // two groups of a 4-channel input: a different grouping than the instance one compiles and runs
    let m4 = single(
        18,
        &[1, 4, 3, 3],
        "GroupNormalization",
        vec![f32s("s", &[2], &[1.0, 2.0]), f32s("b", &[2], &[0.0, 1.0])],
        vec![attr("num_groups", A::I(2))],
    );
    let x4: Vec<Vec<f64>> = (0..4).map(|k| uniform(36, 60 + k, -3.0, 3.0)).collect();
    let (g4, p4) = compile_on(&m4, &x4);
    let tr = TractReference::from_proto(&m4, &g4.input_shape);
    for x in &x4 {
        let t = run(&p4, quantise_input(&p4, x).unwrap()).unwrap();
        let y = dequantise(t.output(), p4.output_spec().scale);
        // each group of two channels has mean 0 and variance 1 before its per-group affine
        for (grp, (s, bias)) in [(1.0, 0.0), (2.0, 1.0)].iter().enumerate() {
            let v: Vec<f64> = y[grp * 18..(grp + 1) * 18]
                .iter()
                .map(|u| (u - bias) / s)
                .collect();
            let mean = v.iter().sum::<f64>() / 18.0;
            let var = v.iter().map(|u| (u - mean).powi(2)).sum::<f64>() / 18.0;
            assert!(
                mean.abs() < 2e-3 && (var - 1.0).abs() < 5e-3,
                "group {grp}: mean {mean}, variance {var}"
            );
        }
        if let Ok(r) = &tr {
            let f = r.run(x).unwrap().remove(0);
            let err = f
                .iter()
                .zip(&y)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            assert!(err < 1e-2, "GroupNormalization (opset 18) vs tract: {err}");
        }
    }
}

/// Review findings, kept as tests: each compiled to a different function than the ONNX model.
#[test]
fn refusals_where_the_fixed_point_would_differ() {
    // a cast to integer of values beyond 2^19 (scale < 0): refused, not truncated at the wrong scale
    let big: Vec<Vec<f64>> = (0..4).map(|k| uniform(48, 70 + k, -6e5, 6e5)).collect();
    let m = single(13, NCHW, "Floor", vec![], vec![]);
    let g = Graph::from_raw(&RawModel::from_proto(&m).unwrap()).unwrap();
    let cal: Vec<Tensor<f64>> = big
        .iter()
        .map(|x| Tensor::new(g.input_shape.clone(), x.clone()))
        .collect();
    let e = compile(&g, &Calibration::run(&g, &cal).unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("coarser than integers"), "{e}");

    // tree ensembles: two classes (onnxruntime's binary rules), two roots in one tree
    let tree = |labels: Vec<i64>, nodeids: Vec<i64>, modes: Vec<&str>| -> pb::ModelProto {
        let mut g = G::new(13, &[1, 2]);
        let strs = |name: &str, v: Vec<&str>| pb::AttributeProto {
            name: name.into(),
            r#type: pb::attribute_proto::AttributeType::Strings as i32,
            strings: v.iter().map(|s| s.as_bytes().to_vec()).collect(),
            ..Default::default()
        };
        let floats = |name: &str, v: Vec<f32>| pb::AttributeProto {
            name: name.into(),
            r#type: pb::attribute_proto::AttributeType::Floats as i32,
            floats: v,
            ..Default::default()
        };
        let n = nodeids.len();
        g.g.node.push(pb::NodeProto {
            name: "tree".into(),
            op_type: "TreeEnsembleClassifier".into(),
            domain: "ai.onnx.ml".into(),
            input: vec!["x".into()],
            output: vec!["label".into(), "scores".into()],
            attribute: vec![
                attr("nodes_treeids", A::Is(vec![0; n])),
                attr("nodes_nodeids", A::Is(nodeids)),
                attr("nodes_featureids", A::Is(vec![0; n])),
                floats("nodes_values", vec![0.5; n]),
                strs("nodes_modes", modes),
                attr("nodes_truenodeids", A::Is(vec![1, 0, 0])),
                attr("nodes_falsenodeids", A::Is(vec![2, 0, 0])),
                attr("class_treeids", A::Is(vec![0, 0])),
                attr("class_nodeids", A::Is(vec![1, 2])),
                attr("class_ids", A::Is(vec![0, 1])),
                floats("class_weights", vec![1.0, 1.0]),
                attr("classlabels_int64s", A::Is(labels)),
            ],
            ..Default::default()
        });
        g.finish("scores")
    };
    let load = |m: &pb::ModelProto| {
        Graph::from_raw(&RawModel::from_proto(m).unwrap())
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    let e = load(&tree(
        vec![0, 1],
        vec![0, 1, 2],
        vec!["BRANCH_LEQ", "LEAF", "LEAF"],
    ));
    assert!(e.contains("two-class"), "{e}");
    // node 3 is a leaf no branch leads to: a second root
    let e = load(&tree(
        vec![0, 1, 2],
        vec![0, 1, 3],
        vec!["BRANCH_LEQ", "LEAF", "LEAF"],
    ));
    assert!(
        e.contains("no node 2") || e.contains("more than one root"),
        "{e}"
    );
}

#[test]
fn resize_of_an_axis_that_keeps_its_size_still_moves_data() {
    // scales 1.4 on a 2-wide axis keep the size (floor(2.8) = 2) but, asymmetric/floor, map both
    // outputs to source 0 and 0 (0/1.4, 1/1.4): not the identity
    let m = single(
        13,
        &[1, 1, 2, 2],
        "Resize",
        vec![
            f32s("roi", &[0], &[]),
            f32s("scales", &[4], &[1.0, 1.0, 1.4, 1.4]),
        ],
        vec![
            attr("mode", A::S("nearest")),
            attr("coordinate_transformation_mode", A::S("asymmetric")),
            attr("nearest_mode", A::S("floor")),
        ],
    );
    check(
        "Resize x1.4 (same size)",
        &m,
        &inputs(4),
        &["Gather", "Gather"],
        0.0,
    );
}

/// ai.onnx.ml Normalizer (L1, L2) on a row of zeros: onnxruntime leaves such a row as it is
/// (zeros), where a plain `x / norm` would divide by zero; the other rows are `x / norm`.
#[test]
fn normalizer_leaves_an_all_zero_row_as_it_is() {
    for norm in ["L1", "L2"] {
        let mut g = G::new(17, &[2, 3]);
        g.op(
            "y",
            "Normalizer",
            &["x"],
            vec![pb::AttributeProto {
                name: "norm".into(),
                r#type: pb::attribute_proto::AttributeType::String as i32,
                s: norm.as_bytes().to_vec(),
                ..Default::default()
            }],
        );
        g.g.node.last_mut().unwrap().domain = "ai.onnx.ml".into();
        let mut proto = g.finish("y");
        proto.opset_import.push(pb::OperatorSetIdProto {
            domain: "ai.onnx.ml".into(),
            version: 3,
        });
        let xs = vec![
            vec![0.5, -1.25, 2.0, 0.0, 0.0, 0.0],
            vec![1.0, 2.0, -3.0, 0.25, 0.0, -0.5],
        ];
        let (_, p) = compile_on(&proto, &xs);
        for x in &xs {
            let t =
                run(&p, quantise_input(&p, x).unwrap()).unwrap_or_else(|e| panic!("{norm}: {e}"));
            let y = dequantise(&t.slots[p.outputs[0]], p.slot_spec(p.outputs[0]).scale);
            for r in 0..2 {
                let row = &x[3 * r..3 * r + 3];
                let n = if norm == "L1" {
                    row.iter().map(|v: &f64| v.abs()).sum::<f64>()
                } else {
                    row.iter().map(|v| v * v).sum::<f64>().sqrt()
                };
                for c in 0..3 {
                    let want = if n == 0.0 { 0.0 } else { row[c] / n };
                    assert!(
                        (y[3 * r + c] - want).abs() < 1e-3,
                        "{norm} row {r}: {:?} vs {want}",
                        &y[3 * r..3 * r + 3]
                    );
                }
            }
        }
    }
}

/// A recurrent layer `op` on x = [seq, batch, input] with deterministic weights, its outputs
/// named y, y_h (and y_c for LSTM); `out` picks the graph's output. `init` gives initial_h
/// (and initial_c): None absent, Some(true) computed from x (its mean over time, input = hidden),
/// Some(false) a non-zero constant.
#[allow(clippy::too_many_arguments)]
fn recurrent(
    op: &str,
    dims: [usize; 3],
    hidden: usize,
    direction: &str,
    with_bias: bool,
    init: Option<bool>,
    attrs: Vec<pb::AttributeProto>,
    out: &str,
) -> pb::ModelProto {
    let [seq, batch, input] = dims;
    let gates = match op {
        "LSTM" => 4,
        "GRU" => 3,
        _ => 1,
    };
    let dirs = if direction == "bidirectional" { 2 } else { 1 };
    let mut g = G::new(13, &[seq as i64, batch as i64, input as i64]);
    let t = |name: &str, dims: &[usize], seed: u64, scale: f64| {
        let n: usize = dims.iter().product();
        let v: Vec<f32> = uniform(n, seed, -scale, scale)
            .into_iter()
            .map(|v| v as f32)
            .collect();
        let d: Vec<i64> = dims.iter().map(|&d| d as i64).collect();
        f32s(name, &d, &v)
    };
    let w = g.init(t("W", &[dirs, gates * hidden, input], 11, 0.8));
    let r = g.init(t("R", &[dirs, gates * hidden, hidden], 12, 0.8));
    let mut ins = vec!["x".to_string(), w, r];
    ins.push(if with_bias {
        g.init(t("B", &[dirs, 2 * gates * hidden], 13, 0.5))
    } else {
        String::new()
    });
    ins.push(String::new()); // sequence_lens
    match init {
        None => {}
        Some(true) => {
            // the mean over time: the same for the input reversed in time
            let h0 = g.op(
                "h0",
                "ReduceMean",
                &["x"],
                vec![attr("axes", A::Is(vec![0]))],
            );
            ins.push(h0.clone());
            if op == "LSTM" {
                let c0 = g.op("c0", "Neg", &[&h0], vec![]);
                ins.push(c0);
            }
        }
        Some(false) => {
            ins.push(g.init(t("h0", &[dirs, batch, hidden], 14, 0.9)));
            if op == "LSTM" {
                ins.push(g.init(t("c0", &[dirs, batch, hidden], 15, 0.9)));
            }
        }
    }
    while ins.last().is_some_and(String::is_empty) {
        ins.pop();
    }
    let mut attribute = vec![
        attr("hidden_size", A::I(hidden as i64)),
        attr(
            "direction",
            A::S(match direction {
                "forward" => "forward",
                "reverse" => "reverse",
                _ => "bidirectional",
            }),
        ),
    ];
    attribute.extend(attrs);
    let mut outputs = vec!["y".to_string(), "y_h".to_string()];
    if op == "LSTM" {
        outputs.push("y_c".into());
    }
    g.g.node.push(pb::NodeProto {
        name: op.to_lowercase(),
        op_type: op.into(),
        input: ins,
        output: outputs,
        attribute,
        ..Default::default()
    });
    g.finish(out)
}

/// LSTM, GRU (both reset orders) and RNN unrolled into Gemm, Slice, Sigmoid/Tanh, Mul, Add and
/// Sub, against tract's own recurrent operators: one step and several, forward, reverse and
/// bidirectional, with and without biases, with initial states absent, constant or computed,
/// each of Y, Y_h and Y_c.
#[test]
fn recurrent_layers_unrolled() {
    let allowed = [
        "Gemm",
        "Slice",
        "PiecewisePoly",
        "Mul",
        "Add",
        "Sub",
        "Neg",
        "Reshape",
        "Concat",
        "ReduceMean",
    ];
    let lbr = || vec![attr("linear_before_reset", A::I(1))];
    type Case = (
        &'static str,
        [usize; 3],
        &'static str,
        bool,
        Option<bool>,
        bool,
    );
    let cases: &[Case] = &[
        // op, [seq, batch, input], direction, bias, init, linear_before_reset
        ("LSTM", [1, 1, 3], "forward", true, None, false),
        ("LSTM", [4, 2, 3], "forward", true, Some(false), false),
        ("LSTM", [3, 2, 3], "reverse", false, None, false),
        ("LSTM", [3, 2, 3], "forward", false, Some(true), false),
        ("LSTM", [3, 2, 3], "reverse", false, Some(true), false),
        ("LSTM", [3, 1, 2], "bidirectional", true, None, false),
        ("GRU", [3, 2, 3], "forward", true, Some(false), false),
        ("GRU", [3, 2, 3], "forward", true, Some(true), true),
        ("GRU", [2, 1, 2], "bidirectional", true, None, true),
        ("RNN", [4, 2, 3], "forward", true, Some(false), false),
        ("RNN", [3, 1, 3], "reverse", false, Some(true), false),
    ];
    for &(op, dims, direction, bias, init, reset) in cases {
        let hidden = if init == Some(true) { dims[2] } else { 3 };
        let outs: &[&str] = if op == "LSTM" {
            &["y", "y_h", "y_c"]
        } else {
            &["y", "y_h"]
        };
        for &out in outs {
            let name =
                format!("{op} {dims:?} {direction} bias {bias} init {init:?} lbr {reset} -> {out}");
            let attrs = if reset { lbr() } else { vec![] };
            let m = recurrent(op, dims, hidden, direction, bias, init, attrs, out);
            let n: usize = dims.iter().product();
            let xs: Vec<Vec<f64>> = inputs(n)
                .into_iter()
                .map(|x| x.into_iter().map(|v| v / 4.0).collect())
                .collect();
            let xs = on_input_grid(&xs);
            let (g, p) = compile_on(&m, &xs);
            for n in &p.ops {
                assert!(
                    allowed.contains(&n.op.kind()),
                    "{name}: lowered into {}",
                    n.op.kind()
                );
            }
            // tract 0.23 runs a one-direction layer forward whatever its direction: a reverse
            // layer is checked against tract's forward one on the input reversed in time (and
            // its Y reversed back), the definition of "reverse"
            let reverse = direction == "reverse";
            let tract_model = if reverse {
                let attrs = if reset { lbr() } else { vec![] };
                recurrent(op, dims, hidden, "forward", bias, init, attrs, out)
            } else {
                m.clone()
            };
            let tract = TractReference::from_proto(&tract_model, &g.input_shape).unwrap();
            let step = dims[1] * dims[2];
            let float = |x: &[f64]| {
                if !reverse {
                    return tract.run(x).unwrap().remove(0);
                }
                let flip = |v: &[f64], step: usize| -> Vec<f64> {
                    v.chunks(step).rev().flatten().copied().collect()
                };
                let y = tract.run(&flip(x, step)).unwrap().remove(0);
                if out == "y" {
                    flip(&y, dims[1] * hidden)
                } else {
                    y
                }
            };
            compare(&name, &p, &xs, 1e-3, &float);
        }
    }
}

/// What the unrolling does not cover is refused at load time, naming the attribute.
#[test]
fn recurrent_layers_refuse_what_they_do_not_cover() {
    for (attrs, why) in [
        (vec![attr("clip", A::F(3.0))], "clip"),
        (vec![attr("layout", A::I(1))], "layout"),
        (vec![attr("input_forget", A::I(1))], "input_forget"),
    ] {
        let m = recurrent("LSTM", [2, 1, 3], 3, "forward", true, None, attrs, "y");
        let err = Graph::from_raw(&RawModel::from_proto(&m).unwrap())
            .err()
            .unwrap_or_else(|| panic!("{why} is refused"))
            .to_string();
        assert!(err.contains(why) && err.contains("LSTM"), "{err}");
    }
    // an initial state for two directions given to a one-direction layer
    let mut m = recurrent("GRU", [2, 1, 3], 3, "forward", true, None, vec![], "y");
    let g = m.graph.as_mut().unwrap();
    g.initializer.push(f32s("h0", &[2, 1, 3], &[0.5; 6]));
    g.node[0].input.extend(["".to_string(), "h0".to_string()]);
    let err = Graph::from_raw(&RawModel::from_proto(&m).unwrap())
        .err()
        .expect("a wrong initial state is refused")
        .to_string();
    assert!(
        err.contains("initial state") && err.contains("[1, 1, 3]"),
        "{err}"
    );
}

/// Einsum against tract: two computed operands (attention's `bij,bkj->bik`, a batched dot
/// product, an ellipsis), a computed operand by a constant (a Gemm, or batched) and a constant
/// by a computed one, one operand (a transpose, sums), and numpy's implicit output.
#[test]
fn einsum_of_computed_and_constant_operands() {
    let x_shape = [2i64, 3, 4];
    let n = 24;
    let xs: Vec<Vec<f64>> = inputs(n)
        .into_iter()
        .map(|x| x.into_iter().map(|v| v / 8.0).collect())
        .collect();
    // (equation, second operand: None = x again, Some(constant); constant first?)
    let cases: Vec<(&str, Option<pb::TensorProto>, bool, &[&str])> = vec![
        ("bij,bkj->bik", None, false, &["Transpose", "MatMul"]),
        (
            "bij,bij->bi",
            None,
            false,
            &["Reshape", "Reshape", "MatMul", "Reshape"],
        ),
        ("...ij,...kj->...ik", None, false, &["Transpose", "MatMul"]),
        (
            "bij,jk->bik",
            Some(random_f32s("w", &[4, 5], 3)),
            false,
            &["Reshape", "Gemm", "Reshape"],
        ),
        (
            "bij,bjk->bik",
            Some(random_f32s("w", &[2, 4, 5], 4)),
            false,
            &["Transpose", "Reshape", "Conv", "Reshape", "Transpose"],
        ),
        (
            "kj,bij->bki",
            Some(random_f32s("w", &[5, 4], 5)),
            true,
            &[
                "Transpose",
                "Reshape",
                "Reshape",
                "Conv",
                "Reshape",
                "Reshape",
                "Transpose",
            ],
        ),
        ("bij->bji", None, false, &["Transpose"]),
        ("bij->j", None, false, &["ReduceSum"]),
        ("bij,bjk", Some(random_f32s("w", &[2, 4, 5], 6)), false, &[]),
    ];
    for (eq, constant, constant_first, kinds) in cases {
        let mut g = G::new(13, &x_shape);
        let mut ins = vec!["x".to_string()];
        let single = eq.split("->").next().is_some_and(|l| !l.contains(','));
        if !single {
            match constant {
                Some(t) => {
                    let c = g.init(t);
                    if constant_first {
                        ins.insert(0, c);
                    } else {
                        ins.push(c);
                    }
                }
                None => ins.push("x".into()),
            }
        }
        let refs: Vec<&str> = ins.iter().map(String::as_str).collect();
        let y = g.op("y", "Einsum", &refs, vec![attr("equation", A::S(eq))]);
        let m = g.finish(&y);
        let (_, p) = compile_on(&m, &xs);
        let got: Vec<&str> = p.ops.iter().map(|n| n.op.kind()).collect();
        if !kinds.is_empty() {
            assert_eq!(got, kinds, "{eq}: lowered operators");
        }
        let tract = TractReference::from_proto(&m, &[2, 3, 4]).unwrap();
        let float = |x: &[f64]| tract.run(x).unwrap().remove(0);
        compare(&format!("Einsum {eq}"), &p, &xs, 1e-3, &float);
    }
}

/// Gemm in the forms the operator itself does not take: a constant A (hummingbird's GEMM trees
/// compute `W · xᵀ`), transA, a computed B; alpha folded into a constant side or applied by an
/// affine map, beta · C (constant or computed) added.
#[test]
fn gemm_with_a_constant_a_trans_a_or_a_computed_b() {
    let xs: Vec<Vec<f64>> = inputs(12)
        .into_iter()
        .map(|x| x.into_iter().map(|v| v / 4.0).collect())
        .collect();
    // (A, B, C: "x" or a constant's dims; transA, transB, alpha, beta)
    type Side = Option<&'static [i64]>;
    let cases: Vec<(Side, Side, Side, i64, i64, f32, f32)> = vec![
        (Some(&[5, 3]), None, Some(&[5, 1]), 0, 0, 0.5, 2.0),
        (Some(&[5, 4]), None, None, 0, 1, 1.0, 1.0),
        (None, Some(&[3, 5]), Some(&[5]), 1, 0, 1.0, 0.5),
        (None, None, Some(&[3]), 0, 1, 0.25, 0.5),
        (None, None, None, 1, 0, 2.0, 1.0),
    ];
    for (i, (a, b, c, trans_a, trans_b, alpha, beta)) in cases.into_iter().enumerate() {
        let mut g = G::new(13, &[3, 4]);
        let mut ins = Vec::new();
        for (k, side) in [a, b, c].into_iter().enumerate() {
            match side {
                Some(dims) => ins.push(g.init(random_f32s(&format!("c{k}"), dims, 7 + k as u64))),
                None if k < 2 => ins.push("x".to_string()),
                None => {}
            }
        }
        let refs: Vec<&str> = ins.iter().map(String::as_str).collect();
        let attrs = vec![
            attr("transA", A::I(trans_a)),
            attr("transB", A::I(trans_b)),
            attr("alpha", A::F(alpha)),
            attr("beta", A::F(beta)),
        ];
        let y = g.op("y", "Gemm", &refs, attrs);
        let m = g.finish(&y);
        let (_, p) = compile_on(&m, &xs);
        let tract = TractReference::from_proto(&m, &[3, 4]).unwrap();
        let float = |x: &[f64]| tract.run(x).unwrap().remove(0);
        compare(&format!("Gemm case {i}"), &p, &xs, 1e-3, &float);
    }
}

/// What the Einsum lowering does not cover is refused by name: a diagonal, three operands, a
/// size-1 broadcast.
#[test]
fn einsum_refuses_diagonals_and_broadcasts() {
    for (eq, operands, why) in [
        ("bii->bi", 1, "diagonal"),
        ("bij,bij,bij->bi", 3, "3 operands"),
    ] {
        let mut g = G::new(13, &[2, 3, 3]);
        let ins = vec!["x"; operands];
        let y = g.op("y", "Einsum", &ins, vec![attr("equation", A::S(eq))]);
        let m = g.finish(&y);
        let err = Graph::from_raw(&RawModel::from_proto(&m).unwrap())
            .err()
            .unwrap_or_else(|| panic!("{eq} is refused"))
            .to_string();
        assert!(err.contains(why) && err.contains("Einsum"), "{err}");
    }
    let mut g = G::new(13, &[2, 3, 4]);
    let w = g.init(f32s("w", &[1, 4, 5], &[0.5; 20]));
    let y = g.op(
        "y",
        "Einsum",
        &["x", &w],
        vec![attr("equation", A::S("bij,bjk->bik"))],
    );
    let err = Graph::from_raw(&RawModel::from_proto(&g.finish(&y)).unwrap())
        .err()
        .expect("a broadcast batch is refused")
        .to_string();
    assert!(err.contains("broadcasting"), "{err}");
}

/// Pad in edge, reflect and wrap modes (Gathers of source indices, exact) against tract, with
/// pads on several axes and opset 18's axes input; DepthToSpace (DCR, CRD) and
/// SpaceToDepth (Reshape, Transpose, Reshape, exact) against tract.
#[test]
fn pad_modes_and_depth_space() {
    let xs = inputs(N);
    for (mode, pads, opset) in [
        ("edge", vec![0i64, 0, 1, 2, 0, 1, 2, 0], 13),
        ("reflect", vec![0i64, 0, 2, 3, 0, 0, 1, 3], 13),
        ("edge", vec![1i64, 1, 0, 1, 0, 0, 1, 0], 13),
    ] {
        let m = single(
            opset,
            NCHW,
            "Pad",
            vec![i64s("pads", &[8], &pads)],
            vec![attr("mode", A::S(mode))],
        );
        let (_, p) = compile_on(&m, &xs);
        assert!(
            p.ops.iter().all(|n| n.op.kind() == "Gather"),
            "{mode}: gathers only"
        );
        check(
            &format!("Pad {mode} {pads:?}"),
            &m,
            &xs,
            &vec!["Gather"; p.n_ops()],
            0.0,
        );
    }
    // wrap (opset 19; tract 0.23 has no wrap mode): against tract on the same pads written as
    // Slice and Concat, [x[3 - 3..], x, x[..1]] on H and [y[4 - 2..], y, y[..4]] on W
    let m = single(
        19,
        NCHW,
        "Pad",
        vec![i64s("pads", &[8], &[0, 0, 3, 2, 0, 0, 1, 4])],
        vec![attr("mode", A::S("wrap"))],
    );
    let xs = on_input_grid(&xs);
    let (_, p) = compile_on(&m, &xs);
    let mut g = G::new(13, NCHW);
    let wrap = |g: &mut G, x: &str, axis: i64, begin: i64, end: i64| -> String {
        let c = |g: &mut G, name: String, v: i64| g.init(i64s(&name, &[1], &[v]));
        let ax = c(g, format!("ax{axis}"), axis);
        let (s0, e0) = (
            c(g, format!("s0_{axis}"), 4 - begin),
            c(g, format!("e0_{axis}"), 4),
        );
        let (s1, e1) = (
            c(g, format!("s1_{axis}"), 0),
            c(g, format!("e1_{axis}"), end),
        );
        let head = g.op(&format!("head{axis}"), "Slice", &[x, &s0, &e0, &ax], vec![]);
        let tail = g.op(&format!("tail{axis}"), "Slice", &[x, &s1, &e1, &ax], vec![]);
        g.op(
            &format!("cat{axis}"),
            "Concat",
            &[&head, x, &tail],
            vec![attr("axis", A::I(axis))],
        )
    };
    let h = wrap(&mut g, "x", 2, 3, 1);
    let w = wrap(&mut g, &h, 3, 2, 4);
    let same = g.finish(&w);
    let tract = TractReference::from_proto(&same, &[1, 3, 4, 4]).unwrap();
    let float = |x: &[f64]| tract.run(x).unwrap().remove(0);
    assert_eq!(compare("Pad wrap", &p, &xs, 0.0, &float), 0.0);
    // opset 18: pads for the listed axes only
    let mut g = G::new(18, NCHW);
    let pads = g.init(i64s("pads", &[4], &[1, 2, 2, 1]));
    let empty = g.init(f32s("value", &[], &[0.0]));
    let axes = g.init(i64s("axes", &[2], &[-1, 2]));
    let y = g.op(
        "y",
        "Pad",
        &["x", &pads, &empty, &axes],
        vec![attr("mode", A::S("reflect"))],
    );
    let (_, p) = compile_on(&g.finish(&y), &xs);
    // tract 0.23 pads with zeros when axes are given: against the same pads on every axis
    let same = single(
        13,
        NCHW,
        "Pad",
        vec![i64s("pads", &[8], &[0, 0, 2, 1, 0, 0, 1, 2])],
        vec![attr("mode", A::S("reflect"))],
    );
    let tract = TractReference::from_proto(&same, &[1, 3, 4, 4]).unwrap();
    let float = |x: &[f64]| tract.run(x).unwrap().remove(0);
    assert_eq!(compare("Pad reflect (axes)", &p, &xs, 0.0, &float), 0.0);
    let x8 = inputs(2 * 8 * 2 * 2);
    for (op, mode) in [
        ("DepthToSpace", "DCR"),
        ("DepthToSpace", "CRD"),
        ("SpaceToDepth", ""),
    ] {
        let shape: &[i64] = if op == "DepthToSpace" {
            &[2, 8, 2, 2]
        } else {
            &[2, 2, 4, 4]
        };
        let mut attrs = vec![attr("blocksize", A::I(2))];
        if !mode.is_empty() {
            attrs.push(attr("mode", A::S(mode)));
        }
        let m = single(13, shape, op, vec![], attrs);
        check(
            &format!("{op} {mode}"),
            &m,
            &x8,
            &["Reshape", "Transpose", "Reshape"],
            0.0,
        );
    }
}

/// CumSum (a Gemm by a constant 0/1 triangle between Transposes) against tract on each axis,
/// exclusive and reverse; OneHot of computed indices (ArgMax, shifted to negative ones) with
/// zero and non-zero off values, against tract.
#[test]
fn cum_sum_and_one_hot() {
    let xs = inputs(N);
    for (axis, exclusive, reverse) in [(1i64, 0i64, 0i64), (-1, 1, 0), (2, 0, 1), (3, 1, 1)] {
        let m = single(
            14,
            NCHW,
            "CumSum",
            vec![i64s("axis", &[], &[axis])],
            vec![
                attr("exclusive", A::I(exclusive)),
                attr("reverse", A::I(reverse)),
            ],
        );
        let (_, p) = compile_on(&m, &xs);
        let kinds: Vec<&str> = p.ops.iter().map(|n| n.op.kind()).collect();
        assert!(kinds.contains(&"Gemm"), "{kinds:?}");
        check(
            &format!("CumSum axis {axis} exclusive {exclusive} reverse {reverse}"),
            &m,
            &xs,
            &kinds,
            1e-4,
        );
    }
    for (shift, values, axis) in [(0i64, [0.0f32, 1.0], -1i64), (-2, [-1.0, 2.5], 1)] {
        let mut g = G::new(13, NCHW);
        let am = g.op(
            "am",
            "ArgMax",
            &["x"],
            vec![attr("axis", A::I(1)), attr("keepdims", A::I(0))],
        );
        let s = g.init(i64s("shift", &[], &[shift]));
        let idx = g.op("idx", "Add", &[&am, &s], vec![]);
        let depth = g.init(i64s("depth", &[], &[3]));
        let v = g.init(f32s("values", &[2], &values));
        let y = g.op(
            "y",
            "OneHot",
            &[&idx, &depth, &v],
            vec![attr("axis", A::I(axis))],
        );
        let m = g.finish(&y);
        let (_, p) = compile_on(&m, &xs);
        let kinds: Vec<&str> = p.ops.iter().map(|n| n.op.kind()).collect();
        check(
            &format!("OneHot shift {shift} values {values:?} axis {axis}"),
            &m,
            &xs,
            &kinds,
            0.0,
        );
    }
}

/// Sets input `k` of `g` to element type `elem` (7 = int64, 9 = bool).
fn set_elem_type(g: &mut G, k: usize, elem: i32) {
    if let Some(pb::type_proto::Value::TensorType(t)) =
        g.g.input[k].r#type.as_mut().and_then(|t| t.value.as_mut())
    {
        t.elem_type = elem;
    }
}

/// A node of `op` with `outs` outputs named `{name}_{k}`; returns their names.
fn multi(
    g: &mut G,
    name: &str,
    op: &str,
    inputs: &[&str],
    attrs: Vec<pb::AttributeProto>,
    outs: usize,
) -> Vec<String> {
    let output: Vec<String> = (0..outs).map(|k| format!("{name}_{k}")).collect();
    g.g.node.push(pb::NodeProto {
        name: name.into(),
        op_type: op.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: output.clone(),
        attribute: attrs,
        ..Default::default()
    });
    output
}

/// A model of several graph inputs compiled on `sets` (each all inputs' values, in order) and
/// run in fixed point against tract fed the same tensors; the first output must agree within
/// `tol · max(1, max |y|)` plus two output quanta. A set in `refused` must fail to run with an
/// error containing the text. Returns the program's operator kinds.
fn check_inputs(
    name: &str,
    proto: &pb::ModelProto,
    sets: &[Vec<f64>],
    tol: f64,
) -> Vec<&'static str> {
    let g = Graph::from_raw(&RawModel::from_proto(proto).unwrap()).unwrap();
    let cal: Vec<Tensor<f64>> = sets
        .iter()
        .map(|x| Tensor::new(g.input_shape.clone(), x.clone()))
        .collect();
    let p = compile(&g, &Calibration::run(&g, &cal).unwrap()).unwrap();
    let parts: Vec<_> = p
        .input_parts()
        .into_iter()
        .map(|i| i.part.clone())
        .collect();
    let tract = TractReference::from_proto_inputs(proto, &parts).unwrap();
    let out = p.outputs[0];
    let q = 2f64.powi(-p.slot_spec(out).scale);
    let engine = Engine::new(&p);
    for x in sets {
        let qx = quantise_input(&p, x).unwrap();
        let trace = run(&p, qx.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            &engine.infer(qx).unwrap(),
            trace.output(),
            "{name}: honest path"
        );
        let fixed = dequantise(&trace.slots[out], p.slot_spec(out).scale);
        let float = tract.run(x).unwrap().remove(0);
        let mag = float.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        let err = fixed
            .iter()
            .zip(&float)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(
            err <= tol * mag + 2.0 * q,
            "{name}: error {err:.3e} at {x:?}\nfixed {fixed:?}\nfloat {float:?}"
        );
    }
    let kinds: Vec<&'static str> = p.ops.iter().map(|n| n.op.kind()).collect();
    eprintln!("{name}: {} ops {kinds:?}", p.n_ops());
    kinds
}

/// `xs` rounded to multiples of 1/2: many equal values, so the order of ties is tested.
fn with_ties(xs: &[Vec<f64>]) -> Vec<Vec<f64>> {
    xs.iter()
        .map(|x| x.iter().map(|v| (v * 2.0).round() / 2.0).collect())
        .collect()
}

/// TopK (ranks from pairwise comparisons, then selections) against tract: values and indices,
/// largest and smallest, on the channel and the last axis, k from 1 to the axis' size, with
/// many ties (ONNX orders equal values by index) and the extreme inputs.
#[test]
fn top_k_values_and_indices_with_ties() {
    let xs = [with_ties(&inputs(N)), inputs(N)].concat();
    for (axis, k, largest) in [(-1i64, 2i64, 1i64), (1, 3, 0), (3, 4, 1), (2, 1, 0)] {
        for output in 0..2 {
            let mut g = G::new(14, NCHW);
            let kk = g.init(i64s("k", &[1], &[k]));
            let outs = multi(
                &mut g,
                "topk",
                "TopK",
                &["x", &kk],
                vec![attr("axis", A::I(axis)), attr("largest", A::I(largest))],
                2,
            );
            let m = g.finish(&outs[output]);
            let (_, p) = compile_on(&m, &xs);
            let kinds: Vec<&str> = p.ops.iter().map(|n| n.op.kind()).collect();
            check(
                &format!("TopK axis {axis} k {k} largest {largest} output {output}"),
                &m,
                &xs,
                &kinds,
                0.0,
            );
        }
    }
    // k beyond the axis is refused by name
    let m = single(14, NCHW, "TopK", vec![i64s("k", &[1], &[5])], vec![]);
    let e = Graph::from_raw(&RawModel::from_proto(&m).unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("k = 5") && e.contains("TopK"), "{e}");
}

/// Div of integer tensors truncates toward zero (ONNX), exactly: by constants of both signs, a
/// per-element constant, and computed divisors of both signs, against tract; a computed zero
/// divisor is refused at run time and a constant one at load time.
#[test]
fn integer_division_truncates_toward_zero() {
    let ints: Vec<Vec<f64>> = (0..6u64)
        .map(|k| {
            uniform(48, 40 + k, -50.0, 50.0)
                .into_iter()
                .enumerate()
                .map(|(i, v)| if i % 7 == 0 { 0.0 } else { v.round() })
                .collect()
        })
        .collect();
    let divisors: Vec<(&str, pb::TensorProto)> = vec![
        ("3", i64s("d", &[], &[3])),
        ("-4", i64s("d", &[], &[-4])),
        ("per element", i64s("d", &[4], &[1, -2, 5, -7])),
    ];
    for (what, d) in divisors {
        let mut g = G::new(14, NCHW);
        set_elem_type(&mut g, 0, 7);
        let d = g.init(d);
        let y = g.op("y", "Div", &["x", &d], vec![]);
        check_inputs(&format!("Div by {what}"), &g.finish(&y), &ints, 0.0);
    }
    for negate in [false, true] {
        let mut g = G::new(14, NCHW);
        set_elem_type(&mut g, 0, 7);
        let a = g.op("a", "Abs", &["x"], vec![]);
        let one = g.init(i64s("one", &[], &[if negate { -3 } else { 3 }]));
        let d = g.op("d", if negate { "Sub" } else { "Add" }, &[&a, &one], vec![]);
        let d = if negate {
            g.op("n", "Neg", &[&d], vec![])
        } else {
            d
        };
        let seven = g.init(i64s("seven", &[], &[7]));
        let n = g.op("num", "Mul", &["x", &seven], vec![]);
        let y = g.op("y", "Div", &[&n, &d], vec![]);
        let kinds = check_inputs(
            &format!("Div by a computed divisor, negated {negate}"),
            &g.finish(&y),
            &ints,
            0.0,
        );
        assert!(kinds.contains(&"Div"), "{kinds:?}");
    }
    // the whole i32 range but i32::MIN (whose |a| is no stored value), by 3, -4 and a computed
    // divisor
    let wide: Vec<Vec<f64>> = (0..3)
        .map(|k| {
            (0..48)
                .map(|i| {
                    let v: f64 = [
                        2147483647.0,
                        -2147483647.0,
                        1073741824.0,
                        -1073741825.0,
                        7.0,
                        -7.0,
                    ][(i + k) % 6];
                    v - f64::signum(v) * (i / 6) as f64
                })
                .collect()
        })
        .collect();
    for d in [3i64, -4] {
        let mut g = G::new(14, NCHW);
        set_elem_type(&mut g, 0, 7);
        let d = g.init(i64s("d", &[], &[d]));
        let y = g.op("y", "Div", &["x", &d], vec![]);
        check_inputs("Div of extreme integers", &g.finish(&y), &wide, 0.0);
    }
    let mut g = G::new(14, NCHW);
    set_elem_type(&mut g, 0, 7);
    let h = g.init(i64s("h", &[], &[1000]));
    let d = g.op("d", "Div", &["x", &h], vec![]);
    let one = g.init(i64s("one", &[], &[5]));
    let d = g.op("d1", "Add", &[&d, &one], vec![]);
    let y = g.op("y", "Div", &["x", &d], vec![]);
    check_inputs(
        "Div of extreme integers by a computed divisor",
        &g.finish(&y),
        &wide,
        0.0,
    );
    // calibration sees the executor's integer quotients (a float reference of the lowering's
    // floor division would give (2·8 - 3)/6 = 2.17 for 8 / 3, and an Equal or a Where after it
    // would be calibrated on the wrong branch): every slot's calibrated maximum is an integer
    let mut g = G::new(14, &[1, 4]);
    set_elem_type(&mut g, 0, 7);
    let three = g.init(i64s("three", &[], &[3]));
    let y = g.op("y", "Div", &["x", &three], vec![]);
    let gr = Graph::from_raw(&RawModel::from_proto(&g.finish(&y)).unwrap()).unwrap();
    let cal = Calibration::run(&gr, &[Tensor::new(vec![1, 4], vec![7.0, 8.0, -8.0, 5.0])]).unwrap();
    assert_eq!(cal.max_abs.last(), Some(&2.0), "{:?}", cal.max_abs);
    assert!(
        cal.max_abs.iter().all(|v| v.fract() == 0.0),
        "{:?}",
        cal.max_abs
    );
    // x / (|x| - 0): a zero divisor at run time is an error, not a value
    let mut g = G::new(14, NCHW);
    set_elem_type(&mut g, 0, 7);
    let a = g.op("a", "Abs", &["x"], vec![]);
    let y = g.op("y", "Div", &["x", &a], vec![]);
    let m = g.finish(&y);
    let gr = Graph::from_raw(&RawModel::from_proto(&m).unwrap()).unwrap();
    let cal: Vec<Tensor<f64>> = ints
        .iter()
        .map(|x| Tensor::new(gr.input_shape.clone(), x.clone()))
        .collect();
    let p = compile(&gr, &Calibration::run(&gr, &cal).unwrap()).unwrap();
    let e = run(&p, quantise_input(&p, &ints[0]).unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("division by zero"), "{e}");
    let mut g = G::new(14, NCHW);
    set_elem_type(&mut g, 0, 7);
    let z = g.init(i64s("z", &[4], &[1, 2, 0, 3]));
    let y = g.op("y", "Div", &["x", &z], vec![]);
    let m = g.finish(&y);
    let e = Graph::from_raw(&RawModel::from_proto(&m).unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("constant zero"), "{e}");
}

/// Data of `n` floats then `m` integer indices in `[lo, hi)`, six sets.
fn data_and_indices(n: usize, m: usize, lo: i64, hi: i64) -> Vec<Vec<f64>> {
    (0..6u64)
        .map(|k| {
            let mut v = uniform(n, 60 + k, -4.0, 4.0);
            v.extend(
                uniform(m, 70 + k, lo as f64, hi as f64)
                    .into_iter()
                    .map(|x| x.floor()),
            );
            on_input_grid(&[v]).remove(0)
        })
        .collect()
}

/// `proto` compiled on `sets`: each set's output equals that of the same set with its last `m`
/// values (indices into axes of size `dim`) made negative (`i − dim`), as ONNX counts from the
/// end (tract refuses negative indices, so they are checked against the positive ones).
fn negative_indices_agree(proto: &pb::ModelProto, sets: &[Vec<f64>], m: usize, dim: f64) {
    let g = Graph::from_raw(&RawModel::from_proto(proto).unwrap()).unwrap();
    let cal: Vec<Tensor<f64>> = sets
        .iter()
        .map(|x| Tensor::new(g.input_shape.clone(), x.clone()))
        .collect();
    let p = compile(&g, &Calibration::run(&g, &cal).unwrap()).unwrap();
    for x in sets {
        let mut neg = x.clone();
        let n = neg.len();
        for v in &mut neg[n - m..] {
            *v -= dim;
        }
        let a = run(&p, quantise_input(&p, x).unwrap()).unwrap();
        let b = run(&p, quantise_input(&p, &neg).unwrap()).unwrap();
        assert_eq!(a.output(), b.output(), "negative indices at {neg:?}");
    }
}

/// A graph of a float input "x" of `xs` and an int64 input "ids" of `is`.
fn with_ids(opset: i64, xs: &[i64], is: &[i64]) -> G {
    let mut g = G::new(opset, xs);
    g.g.input.push(value_info("ids", is));
    set_elem_type(&mut g, 1, 7);
    g
}

/// GatherND of computed indices (negative ones included) against tract: tuples of 1 and 2
/// indices, batch_dims 0 and 1; an index out of range is refused at run time.
#[test]
fn gather_nd_of_computed_indices() {
    // data [2, 3, 4], indices [2, 2, 2] (batch_dims 0: pairs into [2, 3])
    let mut g = with_ids(13, &[2, 3, 4], &[2, 2, 2]);
    let y = g.op("y", "GatherND", &["x", "ids"], vec![]);
    let m = g.finish(&y);
    // pairs (i < 2, j < 3): the data sets use indices below 2 for both
    let sets: Vec<Vec<f64>> = data_and_indices(24, 8, 0, 2);
    check_inputs("GatherND pairs", &m, &sets, 0.0);
    negative_indices_agree(&m, &sets, 0, 2.0);
    // batch_dims 1: data [2, 3, 4], indices [2, 5, 1] -> [2, 5, 4]
    let mut g = with_ids(13, &[2, 3, 4], &[2, 5, 1]);
    let y = g.op(
        "y",
        "GatherND",
        &["x", "ids"],
        vec![attr("batch_dims", A::I(1))],
    );
    let m = g.finish(&y);
    let sets = data_and_indices(24, 10, 0, 3);
    check_inputs("GatherND batch_dims 1", &m, &sets, 0.0);
    negative_indices_agree(&m, &sets, 10, 3.0);
    // an axis of size 0 cannot be indexed: refused at load time, not a panic
    let mut g = G::new(13, &[2, 2]);
    set_elem_type(&mut g, 0, 7);
    let data = g.init(f32s("data", &[0, 5], &[]));
    let y = g.op("y", "GatherND", &[&data, "x"], vec![]);
    let e = Graph::from_raw(&RawModel::from_proto(&g.finish(&y)).unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("size 0"), "{e}");
    // an index of 3 on an axis of 3 is refused when it is read
    let mut bad = data_and_indices(24, 10, 0, 1).remove(0);
    bad[24] = 3.0;
    let gr = Graph::from_raw(&RawModel::from_proto(&m).unwrap()).unwrap();
    let cal = vec![Tensor::new(
        gr.input_shape.clone(),
        data_and_indices(24, 10, 0, 1).remove(0),
    )];
    let p = compile(&gr, &Calibration::run(&gr, &cal).unwrap()).unwrap();
    let e = run(&p, quantise_input(&p, &bad).unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("out of range"), "{e}");
}

/// ScatterND and ScatterElements of computed indices against tract: duplicate indices (the last
/// update wins, as onnxruntime and tract apply them in order), negative indices, reduction
/// "add", a ScatterElements whose indices cover part of the other axes; an unsupported
/// reduction is refused by name.
#[test]
fn scatter_nd_and_scatter_elements_of_computed_indices() {
    // ScatterND: data x [4, 3], indices ids [5, 1] into rows, updates = x's first 5 values · 2
    for reduction in ["none", "add"] {
        let mut g = with_ids(16, &[4, 3], &[5, 1]);
        let starts = g.init(i64s("starts", &[2], &[0, 0]));
        let ends = g.init(i64s("ends", &[2], &[5, 3]));
        let two = g.init(f32s("two", &[], &[2.0]));
        let pad = g.init(i64s("pads", &[4], &[0, 0, 1, 0]));
        let padded = g.op("padded", "Pad", &["x", &pad], vec![]);
        let upd = g.op("upd", "Slice", &[&padded, &starts, &ends], vec![]);
        let upd = g.op("upd2", "Mul", &[&upd, &two], vec![]);
        let y = g.op(
            "y",
            "ScatterND",
            &["x", "ids", &upd],
            vec![attr("reduction", A::S(reduction))],
        );
        let m = g.finish(&y);
        // 5 updates into 4 rows: always a duplicate
        let sets = data_and_indices(12, 5, 0, 4);
        check_inputs(&format!("ScatterND reduction {reduction}"), &m, &sets, 0.0);
        negative_indices_agree(&m, &sets, 5, 4.0);
    }
    // ScatterElements on axis 1 (and -2): data [2, 6, 3], indices [2, 4, 2] (part of axis 2)
    for axis in [1i64, -2] {
        let mut g = with_ids(16, &[2, 6, 3], &[2, 4, 2]);
        let starts = g.init(i64s("starts", &[3], &[0, 0, 0]));
        let ends = g.init(i64s("ends", &[3], &[2, 4, 2]));
        let upd = g.op("upd", "Slice", &["x", &starts, &ends], vec![]);
        let neg = g.op("neg", "Neg", &[&upd], vec![]);
        let y = g.op(
            "y",
            "ScatterElements",
            &["x", "ids", &neg],
            vec![attr("axis", A::I(axis))],
        );
        let m = g.finish(&y);
        let sets = data_and_indices(36, 16, 0, 6);
        check_inputs(&format!("ScatterElements axis {axis}"), &m, &sets, 0.0);
        negative_indices_agree(&m, &sets, 16, 6.0);
    }
    let mut g = with_ids(18, &[4, 3], &[4, 1]);
    let y = g.op(
        "y",
        "ScatterND",
        &["x", "ids", "x"],
        vec![attr("reduction", A::S("mul"))],
    );
    let e = Graph::from_raw(&RawModel::from_proto(&g.finish(&y)).unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("reduction \"mul\""), "{e}");
}

/// Log (six square roots and a cubic of 64·ln) and Pow with a constant exponent that is not a
/// half-integer (Exp of e·Log) against tract, over 1e-3..60 and the extremes clamped positive;
/// Log of 0 or of a negative value is the value at the domain's end (64·ln 0.625), not NaN.
#[test]
fn log_and_pow_with_any_exponent() {
    let pos: Vec<Vec<f64>> = inputs(N)
        .into_iter()
        .map(|x| x.into_iter().map(|v| v.abs().clamp(1e-3, 60.0)).collect())
        .collect();
    let log = single(13, NCHW, "Log", vec![], vec![]);
    let kinds = [
        "Relu",
        "Sqrt",
        "Sqrt",
        "Sqrt",
        "Sqrt",
        "Sqrt",
        "Sqrt",
        "PiecewisePoly",
    ];
    check("Log", &log, &pos, &kinds, 2e-4);
    let exp_log = [&kinds[..], &["Mul", "PiecewisePoly"]].concat();
    for e in [-0.1f32, 0.3, 2.7] {
        let pow = single(15, NCHW, "Pow", vec![f32s("e", &[], &[e])], vec![]);
        let small: Vec<Vec<f64>> = pos
            .iter()
            .map(|x| x.iter().map(|v| v.min(4.0).max(0.05)).collect())
            .collect();
        check(&format!("Pow {e}"), &pow, &small, &exp_log, 2e-3);
    }
    let (_, p) = compile_on(&log, &pos);
    let mut x = pos[0].clone();
    x[0] = 0.0;
    x[1] = -5.0;
    let t = run(&p, quantise_input(&p, &x).unwrap()).unwrap();
    let y = dequantise(&t.slots[p.outputs[0]], p.slot_spec(p.outputs[0]).scale);
    let floor = 64.0 * 0.625f64.ln();
    assert!(
        (y[0] - floor).abs() < 1e-3 && (y[1] - floor).abs() < 1e-3,
        "{:?}",
        &y[..2]
    );
}

/// Sin, Cos, Tan (range reduction by whole turns, then cubics), Asin, Acos (half-angle
/// identity and a Sqrt) and Atan (a Reciprocal beyond 1) against tract: over [-40, 40] and the
/// extremes for Sin, Cos and Atan, away from tan's poles for Tan, [-1, 1] for Asin and Acos;
/// Asin of a value beyond 1 is the value at 1 (ONNX gives NaN).
#[test]
fn trigonometric_functions() {
    let turns = ["Affine", "Cast", "Compare", "Sub", "Mul", "Sub"];
    for (op, tol) in [("Sin", 1e-4), ("Cos", 1e-4)] {
        let kinds = [&turns[..], &["PiecewisePoly"]].concat();
        check(
            op,
            &single(7, NCHW, op, vec![], vec![]),
            &inputs(N),
            &kinds,
            tol,
        );
    }
    let tan = [&turns[..], &["PiecewisePoly", "PiecewisePoly", "Div"]].concat();
    check(
        "Tan",
        &single(7, NCHW, "Tan", vec![], vec![]),
        &inputs_within(N, -1.4, 1.4),
        &tan,
        1e-4,
    );
    let unit = inputs_within(N, -1.0, 1.0);
    let asin = [
        "Abs",
        "Clip",
        "Affine",
        "Sqrt",
        "PiecewisePoly",
        "Compare",
        "Neg",
        "Where",
    ];
    check(
        "Asin",
        &single(7, NCHW, "Asin", vec![], vec![]),
        &unit,
        &asin,
        1e-4,
    );
    let acos = [&asin[..], &["Affine"]].concat();
    check(
        "Acos",
        &single(7, NCHW, "Acos", vec![], vec![]),
        &unit,
        &acos,
        1e-4,
    );
    let atan = [
        "Abs",
        "Max",
        "Reciprocal",
        "PiecewisePoly",
        "PiecewisePoly",
        "Add",
        "Compare",
        "Neg",
        "Where",
    ];
    check(
        "Atan",
        &single(7, NCHW, "Atan", vec![], vec![]),
        &inputs(N),
        &atan,
        1e-4,
    );
    // a coarse input scale (values to 1000): atan(1), atan(2) ... stay exact at the domain's
    // end (the cubic's domain ends one segment past 1)
    let wide: Vec<Vec<f64>> = inputs(N)
        .into_iter()
        .map(|x| x.into_iter().map(|v| (v * 25.0).round()).collect())
        .collect();
    check(
        "Atan of integers to 1000",
        &single(7, NCHW, "Atan", vec![], vec![]),
        &wide,
        &atan,
        1e-5,
    );
    let (_, p) = compile_on(&single(7, NCHW, "Asin", vec![], vec![]), &unit);
    let mut x = unit[0].clone();
    x[0] = 3.0;
    x[1] = -3.0;
    let t = run(&p, quantise_input(&p, &x).unwrap()).unwrap();
    let y = dequantise(&t.slots[p.outputs[0]], p.slot_spec(p.outputs[0]).scale);
    let half_pi = std::f64::consts::FRAC_PI_2;
    assert!(
        (y[0] - half_pi).abs() < 1e-3 && (y[1] + half_pi).abs() < 1e-3,
        "{:?}",
        &y[..2]
    );
}

/// Resize in linear mode (a Gemm by a constant interpolation matrix per resized axis, the axis
/// moved last and back by Transposes) against tract: x2 bilinear (half_pixel, PyTorch's
/// `Upsample(mode="bilinear")`), align_corners, asymmetric, pytorch_half_pixel, a downsampling
/// to sizes; cubic is refused by name.
#[test]
fn resize_linear() {
    let xs = inputs(N);
    let empty = f32s("roi", &[0], &[]);
    let bilinear = [
        "Transpose",
        "Reshape",
        "Gemm",
        "Reshape",
        "Transpose",
        "Reshape",
        "Gemm",
        "Reshape",
    ];
    for (ctm, scales) in [
        ("half_pixel", [1.0f32, 1.0, 2.0, 2.0]),
        ("align_corners", [1.0, 1.0, 2.0, 2.0]),
        ("asymmetric", [1.0, 1.0, 1.5, 2.5]),
        ("pytorch_half_pixel", [1.0, 1.0, 2.0, 0.5]),
    ] {
        let m = single(
            13,
            NCHW,
            "Resize",
            vec![empty.clone(), f32s("scales", &[4], &scales)],
            vec![
                attr("mode", A::S("linear")),
                attr("coordinate_transformation_mode", A::S(ctm)),
            ],
        );
        check(
            &format!("Resize linear {ctm} {scales:?}"),
            &m,
            &xs,
            &bilinear,
            1e-4,
        );
    }
    let m = single(
        13,
        NCHW,
        "Resize",
        vec![
            empty.clone(),
            f32s("scales", &[0], &[]),
            i64s("sizes", &[4], &[1, 3, 4, 3]),
        ],
        vec![attr("mode", A::S("linear"))],
    );
    check(
        "Resize linear to sizes [1, 3, 4, 3]",
        &m,
        &xs,
        &["Reshape", "Gemm", "Reshape"],
        1e-4,
    );
    let m = single(
        13,
        NCHW,
        "Resize",
        vec![empty, f32s("scales", &[4], &[1.0, 1.0, 2.0, 2.0])],
        vec![attr("mode", A::S("cubic"))],
    );
    let e = Graph::from_raw(&RawModel::from_proto(&m).unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("cubic"), "{e}");
    // the output size in f32, as onnxruntime and torch compute it: 4 x f32(2.3) = 9.2 -> 9,
    // 10 x f32(2.3) = 23 (22.99.. in f64)
    let m = single(
        13,
        &[1, 1, 4, 10],
        "Resize",
        vec![
            f32s("roi", &[0], &[]),
            f32s("scales", &[4], &[1.0, 1.0, 2.3, 2.3]),
        ],
        vec![attr("mode", A::S("linear"))],
    );
    let g = Graph::from_raw(&RawModel::from_proto(&m).unwrap()).unwrap();
    assert_eq!(g.output_shape(), [1, 1, 9, 23]);
    let m = single(
        13,
        NCHW,
        "Resize",
        vec![
            f32s("roi", &[0], &[]),
            f32s("scales", &[4], &[1.0, 1.0, 2.0, 2.0]),
        ],
        vec![
            attr("mode", A::S("linear")),
            attr(
                "coordinate_transformation_mode",
                A::S("tf_half_pixel_for_nn"),
            ),
        ],
    );
    let e = Graph::from_raw(&RawModel::from_proto(&m).unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("tf_half_pixel_for_nn"), "{e}");
}
