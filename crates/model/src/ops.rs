//! The operators zkopml compiles, with their attributes resolved to concrete values, their
//! static shape rules and their reference semantics in f64 (used to fold constants and to
//! calibrate). All tensors here are in ONNX's logical layout (NCHW for images).

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::onnx::{Attr, Const, DType, RawNode};
use crate::tensor::{
    broadcast_offsets, broadcast_shape, norm_axis, strided_offsets, strides, MultiIndex, Tensor,
};

/// Geometry of a 2-D window (convolution or pooling) over an NCHW tensor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub kernel: [usize; 2],
    pub strides: [usize; 2],
    pub dilations: [usize; 2],
    /// top, left, bottom, right
    pub pads: [usize; 4],
}

impl Window {
    pub fn out_hw(&self, h: usize, w: usize) -> Option<[usize; 2]> {
        let eh = self.dilations[0] * (self.kernel[0] - 1) + 1;
        let ew = self.dilations[1] * (self.kernel[1] - 1) + 1;
        let ph = h + self.pads[0] + self.pads[2];
        let pw = w + self.pads[1] + self.pads[3];
        if ph < eh || pw < ew || self.strides.contains(&0) {
            return None;
        }
        Some([
            (ph - eh) / self.strides[0] + 1,
            (pw - ew) / self.strides[1] + 1,
        ])
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BinaryKind {
    Add,
    Sub,
    Mul,
    Div,
    Max,
    Min,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CompareKind {
    Less,
    Greater,
    Equal,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UnaryKind {
    Relu,
    Sigmoid,
    Tanh,
    Erf,
    Exp,
    Sqrt,
    Reciprocal,
    Neg,
    Abs,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Op {
    /// weight [M, C/group, kh, kw], bias [M]
    Conv {
        weight: Tensor<f64>,
        bias: Vec<f64>,
        window: Window,
        groups: usize,
    },
    /// y[.., n] = Σ_k x[.., k] · weight[k, n] + bias[n]
    Gemm {
        weight: Tensor<f64>,
        bias: Vec<f64>,
    },
    /// Both operands dynamic: [.., M, K] × [.., K, N].
    MatMul,
    Binary(BinaryKind),
    Compare(CompareKind),
    Unary(UnaryKind),
    LeakyRelu {
        alpha: f64,
    },
    Clip {
        min: Option<f64>,
        max: Option<f64>,
    },
    /// Along `axis`; `legacy` = opset < 13 (softmax over all axes from `axis` on).
    Softmax {
        axis: usize,
        legacy: bool,
    },
    MaxPool {
        window: Window,
    },
    AveragePool {
        window: Window,
        count_include_pad: bool,
    },
    /// `y[n, c] = Σ_{h,w} x / divisor`: `divisor` is H·W of the ONNX node's input (graph.rs may
    /// have summed its rows into one column first).
    GlobalAveragePool {
        divisor: usize,
    },
    /// Per-channel y = x · mul[c] + add[c] on axis 1 (a BatchNormalization left unfused).
    Affine {
        mul: Vec<f64>,
        add: Vec<f64>,
    },
    /// Reshape, Flatten, Squeeze, Unsqueeze: same data, new shape.
    Reshape {
        shape: Vec<usize>,
    },
    Transpose {
        perm: Vec<usize>,
    },
    Concat {
        axis: usize,
    },
    /// starts/ends/steps per axis, normalised (ends exclusive, steps > 0).
    Slice {
        starts: Vec<usize>,
        ends: Vec<usize>,
        steps: Vec<usize>,
    },
    Gather {
        axis: usize,
    },
    GatherElements {
        axis: usize,
    },
    Not,
    /// `div_round(a, b)` of two integer tensors (`floor(a/b + 1/2)`, the fixed-point Div at
    /// scale 0, refused when `b = 0`); only lowerings emit it (ONNX's integer Div truncates,
    /// lower::math::integer_div builds that from this one).
    IntDiv,
    Where,
    Cast {
        to: DType,
    },
    ReduceSum {
        axes: Vec<usize>,
        keepdims: bool,
    },
    /// ReduceMax (`max = true`) or ReduceMin.
    ReduceExtreme {
        axes: Vec<usize>,
        keepdims: bool,
        max: bool,
    },
    /// Constant-mode Pad: `begins`/`ends` per axis, filled with `value`.
    Pad {
        begins: Vec<usize>,
        ends: Vec<usize>,
        value: f64,
    },
    ReduceMean {
        axes: Vec<usize>,
        keepdims: bool,
    },
    ArgMax {
        axis: usize,
        keepdims: bool,
        select_last: bool,
    },
    Shape,
    /// A smooth function that saturates outside a finite range, compiled to a piecewise cubic
    /// (`QOp::Poly`); only the front end's lowerings (lower/) emit it, for the saturating part of
    /// an activation (docs/fixed-point.md, "Lowered operators").
    Smooth(SmoothFn),
}

/// The saturating functions that the lowerings of crates/model/src/lower compile to a
/// piecewise cubic: each is (numerically) constant outside [`SmoothFn::domain`], where the
/// polynomial holds its value at the clamped input.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum SmoothFn {
    /// `gain · (exp(min(x, 0) / width) − 1)`: the negative branch of Elu (`width` 1, `gain`
    /// alpha), Selu (`gain` gamma·alpha) and Celu (`width` = `gain` = alpha); 0 for `x >= 0`,
    /// `−gain` below.
    ExpM1Neg { gain: f64, width: f64 },
    /// `ln(1 + exp(−|x|))`, so that `Softplus(x) = Relu(x) + SoftplusRest(x)`.
    SoftplusRest,
    /// `tanh(ln(1 + exp(x)))`, so that `Mish(x) = x · MishGate(x)`.
    MishGate,
    /// `Φ(x) = (1 + erf(x / √2)) / 2`, so that `Gelu(x) = x · NormalCdf(x)`.
    NormalCdf,
    /// `(1 + tanh(√(2/π) · (x + 0.044715·x³))) / 2`, Gelu's `approximate = "tanh"` gate.
    GeluTanhGate,
    /// `ln(s)` of a sum `s = Σ exp(x_i − max x)` of `terms` terms, which lies in `[1, terms]`
    /// by construction (the largest term is exp(0) = 1): LogSoftmax's and ReduceLogSumExp's
    /// logarithm, bounded because its argument is.
    LnOfExpSum { terms: u32 },
    /// `2^depth · ln(y)` of `y = x^(1/2^depth)`, the `depth`-th square root of a Log's
    /// argument: `ln x` itself, on the bounded domain `[LN_ROOT_LO, 2]` of `y` (below and above
    /// it the value at the end: `x` clamped to `[0.625^(2^depth), 2^(2^depth)]`).
    LnOfRoot { depth: u32 },
    /// `sin(r)` (`cos` when `cos`) of an argument already reduced to `[−π, π]` (by
    /// `r = x − 2π·Floor(x/2π + 1/2)`); fitted on `[−3.25, 3.25]` so that the rounding of the
    /// reduction, which can leave `r` a little beyond ±π, stays on the curve.
    SinCos { cos: bool },
    /// `π/2 − 2·asin(s)` for `s = sqrt((1 − |x|)/2)` in `[0, 1/√2]`: `asin(|x|)`, through the
    /// half-angle identity that keeps the cubic away from asin's infinite slope at 1.
    AsinHalfAngle,
    /// `atan(t)` for `t` in `[0, 1]` (`π/4 − atan(t)` when `complement`): `atan(|x|) =
    /// atan(min(|x|, 1)) + π/4 − atan(1/max(|x|, 1))`, one of the two terms being π/4.
    AtanUnit { complement: bool },
}

/// The low end of [`SmoothFn::LnOfRoot`]'s domain (a multiple of its segments' width, 1/32).
pub const LN_ROOT_LO: f64 = 0.625;

impl SmoothFn {
    /// The function in f64 (calibration, constant folding and the polynomial fit).
    pub fn eval(&self, x: f64) -> f64 {
        match *self {
            SmoothFn::ExpM1Neg { gain, width } => gain * ((x.min(0.0) / width).exp() - 1.0),
            SmoothFn::SoftplusRest => (-x.abs()).exp().ln_1p(),
            SmoothFn::MishGate => (x.max(0.0) + (-x.abs()).exp().ln_1p()).tanh(),
            SmoothFn::NormalCdf => 0.5 * (1.0 + erf(x / std::f64::consts::SQRT_2)),
            SmoothFn::GeluTanhGate => {
                let k = (2.0 / std::f64::consts::PI).sqrt();
                0.5 * (1.0 + (k * (x + 0.044715 * x * x * x)).tanh())
            }
            SmoothFn::LnOfExpSum { terms } => x.clamp(1.0, terms.max(1) as f64).ln(),
            SmoothFn::LnOfRoot { depth } => 2f64.powi(depth as i32) * x.clamp(LN_ROOT_LO, 2.0).ln(),
            SmoothFn::SinCos { cos: false } => x.clamp(-3.25, 3.25).sin(),
            SmoothFn::SinCos { cos: true } => x.clamp(-3.25, 3.25).cos(),
            SmoothFn::AsinHalfAngle => {
                std::f64::consts::FRAC_PI_2 - 2.0 * x.clamp(0.0, 0.75).asin()
            }
            SmoothFn::AtanUnit { complement } => {
                let a = x.clamp(0.0, 1.0).atan();
                if complement {
                    std::f64::consts::FRAC_PI_4 - a
                } else {
                    a
                }
            }
        }
    }

    /// `(lo, hi, seg_log2)`: the piecewise cubic is fitted on `[lo, hi)` with segments of
    /// `2^seg_log2` (real units) and holds its end values outside. Each range is where the
    /// function is within 2^-20 of its limits (below one quantum of its output), and every kink
    /// (at 0) falls on a segment boundary, so each segment is smooth.
    pub fn domain(&self) -> (f64, f64, i32) {
        match *self {
            // exp(-16) < 2^-23; the segment [0, w) is the constant 0
            SmoothFn::ExpM1Neg { width, .. } => {
                let seg = width.log2().floor() as i32 - 1;
                (-16.0 * width, 2f64.powi(seg), seg)
            }
            // ln(1 + e^-16) < 2^-23
            SmoothFn::SoftplusRest => (-16.0, 16.0, -1),
            // tanh(softplus(-16)) < 2^-23, 1 - tanh(softplus(10)) < 2^-27
            SmoothFn::MishGate => (-16.0, 10.0, -1),
            // Φ(-8) < 2^-50, 1 - tanh(√(2/π)·(8 + 0.044715·512)) < 2^-80
            SmoothFn::NormalCdf | SmoothFn::GeluTanhGate => (-8.0, 8.0, -1),
            // ln's fourth derivative is 6/s^4: segments of 1/8 keep a cubic within 4e-6 at s = 1
            SmoothFn::LnOfExpSum { terms } => (1.0, terms.max(2) as f64, -3),
            // ln's fourth derivative is at most 6/0.625^4 = 39 here: segments of 1/32 keep the
            // cubic within about 1e-7, 2^depth times that in ln x
            SmoothFn::LnOfRoot { .. } => (LN_ROOT_LO, 2.0, -5),
            // |sin''''| <= 1: segments of 1/8 keep the cubic within 1e-6
            SmoothFn::SinCos { .. } => (-3.25, 3.25, -3),
            // asin's fourth derivative stays below 40 on [0, 0.75]
            SmoothFn::AsinHalfAngle => (0.0, 0.75, -4),
            // one segment past 1, the constant π/4 (or 0): a polynomial holds its value at
            // the last quantum of its domain, which must be 1 itself
            SmoothFn::AtanUnit { .. } => (0.0, 1.0625, -4),
        }
    }

    /// The largest `|f(x)|` over all reals (it sets the output scale).
    pub fn bound(&self) -> f64 {
        match *self {
            SmoothFn::ExpM1Neg { gain, .. } => gain.abs(),
            SmoothFn::SoftplusRest => std::f64::consts::LN_2,
            SmoothFn::MishGate | SmoothFn::NormalCdf | SmoothFn::GeluTanhGate => 1.0,
            SmoothFn::LnOfExpSum { terms } => (terms.max(2) as f64).ln(),
            SmoothFn::LnOfRoot { depth } => 2f64.powi(depth as i32) * std::f64::consts::LN_2,
            SmoothFn::SinCos { .. } => 1.0,
            SmoothFn::AsinHalfAngle => std::f64::consts::FRAC_PI_2,
            SmoothFn::AtanUnit { .. } => std::f64::consts::FRAC_PI_4,
        }
    }
}

/// What the parser knows of each input of a node: a constant or a dynamic value with a shape.
#[derive(Clone, Debug)]
pub enum InputInfo<'a> {
    Const(&'a Const),
    Dyn { shape: &'a [usize], dtype: DType },
    Absent,
}

impl InputInfo<'_> {
    pub fn shape(&self) -> Option<&[usize]> {
        match self {
            InputInfo::Const(c) => Some(&c.tensor.shape),
            InputInfo::Dyn { shape, .. } => Some(shape),
            InputInfo::Absent => None,
        }
    }
    fn dtype(&self) -> DType {
        match self {
            InputInfo::Const(c) => c.dtype,
            InputInfo::Dyn { dtype, .. } => *dtype,
            InputInfo::Absent => DType::Float,
        }
    }
    fn constant(&self) -> Option<&Const> {
        match self {
            InputInfo::Const(c) => Some(c),
            _ => None,
        }
    }
}

/// A parsed node: the operator and which of the ONNX inputs are its operands (in order).
#[derive(Debug)]
pub struct Parsed {
    pub op: Op,
    /// Indices into the ONNX node's inputs that the op reads as tensors.
    pub operands: Vec<usize>,
    pub shape: Vec<usize>,
    pub dtype: DType,
}

struct Ctx<'a> {
    node: &'a RawNode,
    opset: i64,
    inputs: &'a [InputInfo<'a>],
}

impl Ctx<'_> {
    fn err(&self, reason: impl Into<String>) -> ModelError {
        ModelError::node(&self.node.name, &self.node.op_type, reason)
    }
    fn unsupported(&self, reason: impl Into<String>) -> ModelError {
        ModelError::Unsupported {
            op_type: self.node.op_type.clone(),
            node: self.node.name.clone(),
            opset: self.opset,
            reason: reason.into(),
        }
    }
    fn int(&self, name: &str, default: i64) -> Result<i64> {
        match self.node.attrs.get(name) {
            None => Ok(default),
            Some(Attr::Int(v)) => Ok(*v),
            Some(_) => Err(self.err(format!("attribute {name} must be an int"))),
        }
    }
    fn float(&self, name: &str, default: f64) -> Result<f64> {
        match self.node.attrs.get(name) {
            None => Ok(default),
            Some(Attr::Float(v)) => Ok(*v as f64),
            Some(_) => Err(self.err(format!("attribute {name} must be a float"))),
        }
    }
    fn ints(&self, name: &str) -> Result<Option<Vec<i64>>> {
        match self.node.attrs.get(name) {
            None => Ok(None),
            Some(Attr::Ints(v)) => Ok(Some(v.clone())),
            Some(_) => Err(self.err(format!("attribute {name} must be a list of ints"))),
        }
    }
    fn input(&self, i: usize) -> Result<&InputInfo<'_>> {
        match self.inputs.get(i) {
            Some(InputInfo::Absent) | None => Err(self.err(format!("missing input #{i}"))),
            Some(x) => Ok(x),
        }
    }
    fn shape(&self, i: usize) -> Result<&[usize]> {
        Ok(self.input(i)?.shape().unwrap())
    }
    fn constant(&self, i: usize, what: &str) -> Result<&Const> {
        self.input(i)?
            .constant()
            .ok_or_else(|| self.unsupported(format!("{what} (input #{i}) must be a constant")))
    }
    fn const_ints(&self, i: usize, what: &str) -> Result<Vec<i64>> {
        Ok(self
            .constant(i, what)?
            .tensor
            .data
            .iter()
            .map(|&x| x as i64)
            .collect())
    }
    fn has(&self, i: usize) -> bool {
        !matches!(self.inputs.get(i), None | Some(InputInfo::Absent))
    }
    fn axis(&self, axis: i64, rank: usize) -> Result<usize> {
        norm_axis(axis, rank)
            .ok_or_else(|| self.err(format!("axis {axis} out of range for rank {rank}")))
    }
    fn window(&self, in_shape: &[usize], kernel: Option<[usize; 2]>) -> Result<Window> {
        if in_shape.len() != 4 {
            return Err(self.unsupported(format!(
                "only 2-D spatial inputs (rank 4) are supported, got shape {in_shape:?}"
            )));
        }
        let two = |name: &str, d: i64| -> Result<[usize; 2]> {
            match self.ints(name)? {
                None => Ok([d as usize; 2]),
                Some(v) if v.len() == 2 && v.iter().all(|&x| x >= 0) => {
                    Ok([v[0] as usize, v[1] as usize])
                }
                Some(v) => Err(self.err(format!(
                    "attribute {name} = {v:?} is not two non-negative ints"
                ))),
            }
        };
        let kernel = match kernel {
            Some(k) => k,
            None => two("kernel_shape", -1).and_then(|k| {
                if self.node.attrs.contains_key("kernel_shape") {
                    Ok(k)
                } else {
                    Err(self.err("kernel_shape is required"))
                }
            })?,
        };
        let strides = two("strides", 1)?;
        let dilations = two("dilations", 1)?;
        if kernel.contains(&0) || strides.contains(&0) || dilations.contains(&0) {
            return Err(self.err("kernel, strides and dilations must be positive"));
        }
        let auto_pad = match self.node.attrs.get("auto_pad") {
            Some(Attr::Str(s)) => s.clone(),
            _ => "NOTSET".to_string(),
        };
        let pads = match auto_pad.as_str() {
            "NOTSET" => match self.ints("pads")? {
                None => [0; 4],
                Some(p) if p.len() == 4 && p.iter().all(|&x| x >= 0) => {
                    [p[0] as usize, p[1] as usize, p[2] as usize, p[3] as usize]
                }
                Some(p) => {
                    return Err(self.err(format!("pads = {p:?} is not four non-negative ints")))
                }
            },
            "VALID" => [0; 4],
            "SAME_UPPER" | "SAME_LOWER" => {
                let mut p = [0usize; 4];
                for d in 0..2 {
                    let size = in_shape[2 + d];
                    let out = size.div_ceil(strides[d]);
                    let eff = dilations[d] * (kernel[d] - 1) + 1;
                    let total = ((out - 1) * strides[d] + eff).saturating_sub(size);
                    let (small, big) = (total / 2, total - total / 2);
                    if auto_pad == "SAME_UPPER" {
                        p[d] = small;
                        p[d + 2] = big
                    } else {
                        p[d] = big;
                        p[d + 2] = small
                    }
                }
                p
            }
            other => return Err(self.err(format!("unknown auto_pad {other}"))),
        };
        if self.int("ceil_mode", 0)? != 0 {
            return Err(self.unsupported("ceil_mode = 1"));
        }
        Ok(Window {
            kernel,
            strides,
            dilations,
            pads,
        })
    }
}

/// Parse one ONNX node into an operator, given what is known of its inputs.
pub fn parse(node: &RawNode, opset: i64, inputs: &[InputInfo<'_>]) -> Result<Parsed> {
    let c = Ctx {
        node,
        opset,
        inputs,
    };
    if !node.domain.is_empty() && node.domain != "ai.onnx" {
        return Err(c.unsupported(format!("domain {:?} is not supported", node.domain)));
    }
    let all_dyn: Vec<usize> = (0..inputs.len()).filter(|&i| c.has(i)).collect();
    let first_float = |shape: Vec<usize>, op: Op| -> Result<Parsed> {
        Ok(Parsed {
            op,
            operands: vec![0],
            shape,
            dtype: DType::Float,
        })
    };
    let op_type = node.op_type.as_str();
    match op_type {
        "Conv" => {
            let x = c.shape(0)?.to_vec();
            let w = c.constant(1, "the weight")?;
            if w.tensor.rank() != 4 || x.len() != 4 {
                return Err(c.unsupported(format!(
                    "only 2-D convolutions: input {x:?}, weight {:?}",
                    w.tensor.shape
                )));
            }
            let groups = c.int("group", 1)?.max(1) as usize;
            let (m, cg) = (w.tensor.shape[0], w.tensor.shape[1]);
            if x[1] != cg * groups || m % groups != 0 {
                return Err(c.err(format!(
                    "input has {} channels, weight {:?} with group {groups}",
                    x[1], w.tensor.shape
                )));
            }
            let bias = if c.has(2) {
                let b = c.constant(2, "the bias")?;
                if b.tensor.len() != m {
                    return Err(c.err("bias length differs from output channels"));
                }
                b.tensor.data.clone()
            } else {
                vec![0.0; m]
            };
            let window = c.window(&x, Some([w.tensor.shape[2], w.tensor.shape[3]]))?;
            let [oh, ow] = window
                .out_hw(x[2], x[3])
                .ok_or_else(|| c.err("kernel larger than padded input"))?;
            first_float(
                vec![x[0], m, oh, ow],
                Op::Conv {
                    weight: w.tensor.clone(),
                    bias,
                    window,
                    groups,
                },
            )
        }
        "Gemm" => {
            let a = c.shape(0)?.to_vec();
            if c.int("transA", 0)? != 0 || a.len() != 2 {
                return Err(c.unsupported("Gemm needs a rank-2 A without transA"));
            }
            let b = c.constant(1, "B")?;
            if b.tensor.rank() != 2 {
                return Err(c.err("B must have rank 2"));
            }
            let alpha = c.float("alpha", 1.0)?;
            let beta = c.float("beta", 1.0)?;
            let w = if c.int("transB", 0)? != 0 {
                b.tensor.transpose(&[1, 0])
            } else {
                b.tensor.clone()
            };
            let (k, n) = (w.shape[0], w.shape[1]);
            if a[1] != k {
                return Err(c.err(format!("A {a:?} does not match B {:?}", w.shape)));
            }
            let weight = w.map(|v| v * alpha);
            let bias = gemm_bias(&c, 2, n, beta)?;
            first_float(vec![a[0], n], Op::Gemm { weight, bias })
        }
        "MatMul" => {
            let a = c.shape(0)?.to_vec();
            let b = c.shape(1)?.to_vec();
            if a.len() < 2 || b.len() < 2 {
                return Err(c.unsupported("MatMul operands need rank >= 2"));
            }
            let k = a[a.len() - 1];
            if b[b.len() - 2] != k {
                return Err(c.err(format!("MatMul shapes {a:?} x {b:?} do not match")));
            }
            let n = b[b.len() - 1];
            // numpy batch broadcasting: [.., m, k] x [.., k, n]
            let batch = broadcast_shape(&a[..a.len() - 2], &b[..b.len() - 2]).ok_or_else(|| {
                c.err(format!(
                    "MatMul batch dimensions of {a:?} x {b:?} do not broadcast"
                ))
            })?;
            let shape = [&batch[..], &[a[a.len() - 2], n]].concat();
            match (c.input(0)?.constant(), c.input(1)?.constant()) {
                (None, Some(w)) if b.len() == 2 => first_float(
                    shape,
                    Op::Gemm {
                        weight: w.tensor.clone(),
                        bias: vec![0.0; n],
                    },
                ),
                (None, None) if a.len() == b.len() && a[..a.len() - 2] == b[..b.len() - 2] => {
                    Ok(Parsed {
                        op: Op::MatMul,
                        operands: vec![0, 1],
                        shape,
                        dtype: DType::Float,
                    })
                }
                // both constant: evaluated at compile time (a decoder step's start token)
                (Some(_), Some(_)) => Ok(Parsed {
                    op: Op::MatMul,
                    operands: vec![0, 1],
                    shape,
                    dtype: DType::Float,
                }),
                _ => Err(c.unsupported(format!(
                    "MatMul of {a:?} x {b:?} with this mix of constant and dynamic operands"
                ))),
            }
        }
        "Add" | "Sub" | "Mul" | "Div" | "Max" | "Min" => {
            if inputs.len() != 2 {
                return Err(c.unsupported("exactly two inputs are supported"));
            }
            let kind = match op_type {
                "Add" => BinaryKind::Add,
                "Sub" => BinaryKind::Sub,
                "Mul" => BinaryKind::Mul,
                "Div" => BinaryKind::Div,
                "Max" => BinaryKind::Max,
                _ => BinaryKind::Min,
            };
            let shape = broadcast_shape(c.shape(0)?, c.shape(1)?).ok_or_else(|| {
                c.err(format!(
                    "shapes {:?} and {:?} do not broadcast",
                    c.shape(0).unwrap(),
                    c.shape(1).unwrap()
                ))
            })?;
            let dtype =
                if c.input(0)?.dtype() == DType::Float || c.input(1)?.dtype() == DType::Float {
                    DType::Float
                } else {
                    DType::Int
                };
            if kind == BinaryKind::Div && dtype != DType::Float {
                // ONNX truncates an integer quotient toward zero; the fixed-point Div rounds to
                // nearest (and a constant divisor becomes a rounded reciprocal), so it would not
                // be exact
                return Err(c.unsupported(
                    "integer division (truncating toward zero) of a tensor computed from the input",
                ));
            }
            Ok(Parsed {
                op: Op::Binary(kind),
                operands: vec![0, 1],
                shape,
                dtype,
            })
        }
        "Less" | "Greater" | "Equal" => {
            let kind = match op_type {
                "Less" => CompareKind::Less,
                "Greater" => CompareKind::Greater,
                _ => CompareKind::Equal,
            };
            let shape = broadcast_shape(c.shape(0)?, c.shape(1)?)
                .ok_or_else(|| c.err("shapes do not broadcast"))?;
            Ok(Parsed {
                op: Op::Compare(kind),
                operands: vec![0, 1],
                shape,
                dtype: DType::Bool,
            })
        }
        "Relu" | "Sigmoid" | "Tanh" | "Erf" | "Exp" | "Sqrt" | "Reciprocal" | "Neg" | "Abs" => {
            let kind = match op_type {
                "Relu" => UnaryKind::Relu,
                "Sigmoid" => UnaryKind::Sigmoid,
                "Tanh" => UnaryKind::Tanh,
                "Erf" => UnaryKind::Erf,
                "Exp" => UnaryKind::Exp,
                "Sqrt" => UnaryKind::Sqrt,
                "Reciprocal" => UnaryKind::Reciprocal,
                "Neg" => UnaryKind::Neg,
                _ => UnaryKind::Abs,
            };
            let dtype = c.input(0)?.dtype();
            Ok(Parsed {
                op: Op::Unary(kind),
                operands: vec![0],
                shape: c.shape(0)?.to_vec(),
                dtype,
            })
        }
        "LeakyRelu" => first_float(
            c.shape(0)?.to_vec(),
            Op::LeakyRelu {
                alpha: c.float("alpha", 0.01)?,
            },
        ),
        "Clip" => {
            let (min, max) = if opset < 11 {
                (
                    node.attrs
                        .get("min")
                        .map(|_| c.float("min", 0.0))
                        .transpose()?,
                    node.attrs
                        .get("max")
                        .map(|_| c.float("max", 0.0))
                        .transpose()?,
                )
            } else {
                let get = |i: usize| -> Result<Option<f64>> {
                    if c.has(i) {
                        Ok(Some(
                            *c.constant(i, "a clip bound")?
                                .tensor
                                .data
                                .first()
                                .ok_or_else(|| c.err("empty clip bound"))?,
                        ))
                    } else {
                        Ok(None)
                    }
                };
                (get(1)?, get(2)?)
            };
            Ok(Parsed {
                op: Op::Clip { min, max },
                operands: vec![0],
                shape: c.shape(0)?.to_vec(),
                dtype: c.input(0)?.dtype(),
            })
        }
        "Softmax" => {
            let x = c.shape(0)?;
            let legacy = opset < 13;
            let axis = c.axis(c.int("axis", if legacy { 1 } else { -1 })?, x.len())?;
            first_float(x.to_vec(), Op::Softmax { axis, legacy })
        }
        "MaxPool" => {
            if node.outputs.len() > 1 && !node.outputs[1].is_empty() {
                return Err(c.unsupported("the Indices output"));
            }
            let x = c.shape(0)?.to_vec();
            let window = c.window(&x, None)?;
            let [oh, ow] = window
                .out_hw(x[2], x[3])
                .ok_or_else(|| c.err("kernel larger than padded input"))?;
            Ok(Parsed {
                op: Op::MaxPool { window },
                operands: vec![0],
                shape: vec![x[0], x[1], oh, ow],
                dtype: c.input(0)?.dtype(),
            })
        }
        "AveragePool" => {
            let x = c.shape(0)?.to_vec();
            let window = c.window(&x, None)?;
            let [oh, ow] = window
                .out_hw(x[2], x[3])
                .ok_or_else(|| c.err("kernel larger than padded input"))?;
            let count_include_pad = c.int("count_include_pad", 0)? != 0;
            first_float(
                vec![x[0], x[1], oh, ow],
                Op::AveragePool {
                    window,
                    count_include_pad,
                },
            )
        }
        "GlobalAveragePool" => {
            let x = c.shape(0)?;
            if x.len() != 4 {
                return Err(c.unsupported("only rank-4 inputs"));
            }
            first_float(
                vec![x[0], x[1], 1, 1],
                Op::GlobalAveragePool {
                    divisor: x[2] * x[3],
                },
            )
        }
        "BatchNormalization" => {
            let x = c.shape(0)?.to_vec();
            if x.len() < 2 {
                return Err(c.err("input rank must be >= 2"));
            }
            let ch = x[1];
            let get = |i: usize, what: &str| -> Result<Vec<f64>> {
                let t = &c.constant(i, what)?.tensor;
                if t.len() != ch {
                    return Err(c.err(format!("{what} has {} values for {ch} channels", t.len())));
                }
                Ok(t.data.clone())
            };
            let (scale, b, mean, var) = (
                get(1, "scale")?,
                get(2, "B")?,
                get(3, "mean")?,
                get(4, "var")?,
            );
            let eps = c.float("epsilon", 1e-5)?;
            let mul: Vec<f64> = (0..ch).map(|i| scale[i] / (var[i] + eps).sqrt()).collect();
            let add: Vec<f64> = (0..ch).map(|i| b[i] - mean[i] * mul[i]).collect();
            first_float(x, Op::Affine { mul, add })
        }
        "Flatten" => {
            let x = c.shape(0)?;
            let axis = crate::fold::flatten_axis(c.int("axis", 1)?, x.len())
                .ok_or_else(|| c.err("axis out of range"))?;
            let shape = vec![x[..axis].iter().product(), x[axis..].iter().product()];
            Ok(Parsed {
                op: Op::Reshape {
                    shape: shape.clone(),
                },
                operands: vec![0],
                shape,
                dtype: c.input(0)?.dtype(),
            })
        }
        "Reshape" => {
            let x = c.shape(0)?;
            let spec = if opset < 5 {
                c.ints("shape")?
                    .ok_or_else(|| c.err("shape attribute missing"))?
            } else {
                c.const_ints(1, "the target shape")?
            };
            let shape = reshape_target(x, &spec)
                .ok_or_else(|| c.err(format!("cannot reshape {x:?} to {spec:?}")))?;
            Ok(Parsed {
                op: Op::Reshape {
                    shape: shape.clone(),
                },
                operands: vec![0],
                shape,
                dtype: c.input(0)?.dtype(),
            })
        }
        "Squeeze" | "Unsqueeze" => {
            let x = c.shape(0)?;
            let axes = if opset < 13 {
                c.ints("axes")?
            } else if c.has(1) {
                Some(c.const_ints(1, "axes")?)
            } else {
                None
            };
            let shape = if op_type == "Squeeze" {
                let axes: Vec<usize> = match axes {
                    Some(a) => a
                        .iter()
                        .map(|&a| c.axis(a, x.len()))
                        .collect::<Result<_>>()?,
                    None => (0..x.len()).filter(|&i| x[i] == 1).collect(),
                };
                x.iter()
                    .enumerate()
                    .filter(|(i, _)| !axes.contains(i))
                    .map(|(_, &d)| d)
                    .collect()
            } else {
                let axes = axes.ok_or_else(|| c.err("axes are required"))?;
                let r = x.len() + axes.len();
                let mut axes: Vec<usize> =
                    axes.iter().map(|&a| c.axis(a, r)).collect::<Result<_>>()?;
                axes.sort();
                let mut shape = x.to_vec();
                for a in axes {
                    shape.insert(a, 1);
                }
                shape
            };
            Ok(Parsed {
                op: Op::Reshape {
                    shape: shape.clone(),
                },
                operands: vec![0],
                shape,
                dtype: c.input(0)?.dtype(),
            })
        }
        "Transpose" => {
            let x = c.shape(0)?;
            let perm: Vec<usize> = match c.ints("perm")? {
                Some(p) => p
                    .iter()
                    .map(|&a| c.axis(a, x.len()))
                    .collect::<Result<_>>()?,
                None => (0..x.len()).rev().collect(),
            };
            let mut sorted = perm.clone();
            sorted.sort();
            if sorted != (0..x.len()).collect::<Vec<_>>() {
                return Err(c.err(format!("perm {perm:?} is not a permutation")));
            }
            let shape = perm.iter().map(|&p| x[p]).collect();
            Ok(Parsed {
                op: Op::Transpose { perm },
                operands: vec![0],
                shape,
                dtype: c.input(0)?.dtype(),
            })
        }
        "Concat" => {
            let first = c.shape(0)?.to_vec();
            let axis = c.axis(c.int("axis", 0)?, first.len())?;
            let mut shape = first.clone();
            shape[axis] = 0;
            for &i in &all_dyn {
                let s = c.shape(i)?;
                if s.len() != first.len() || (0..s.len()).any(|d| d != axis && s[d] != first[d]) {
                    return Err(c.err(format!(
                        "input shapes {first:?} and {s:?} cannot be concatenated on axis {axis}"
                    )));
                }
                shape[axis] += s[axis];
            }
            let dtype = c.input(0)?.dtype();
            Ok(Parsed {
                op: Op::Concat { axis },
                operands: all_dyn,
                shape,
                dtype,
            })
        }
        "Slice" => {
            let x = c.shape(0)?.to_vec();
            let (starts, ends, axes, steps) = if opset < 10 {
                (
                    c.ints("starts")?.unwrap_or_default(),
                    c.ints("ends")?.unwrap_or_default(),
                    c.ints("axes")?,
                    None,
                )
            } else {
                (
                    c.const_ints(1, "starts")?,
                    c.const_ints(2, "ends")?,
                    if c.has(3) {
                        Some(c.const_ints(3, "axes")?)
                    } else {
                        None
                    },
                    if c.has(4) {
                        Some(c.const_ints(4, "steps")?)
                    } else {
                        None
                    },
                )
            };
            let axes: Vec<usize> = match axes {
                Some(a) => a
                    .iter()
                    .map(|&a| c.axis(a, x.len()))
                    .collect::<Result<_>>()?,
                None => (0..starts.len()).collect(),
            };
            let mut s = vec![0; x.len()];
            let mut e = x.clone();
            let mut st = vec![1; x.len()];
            for (k, &a) in axes.iter().enumerate() {
                let step = steps.as_ref().map(|v| v[k]).unwrap_or(1);
                if step <= 0 {
                    return Err(c.unsupported("Slice with a non-positive step"));
                }
                let dim = x[a] as i64;
                let clampi =
                    |v: i64| -> usize { (if v < 0 { v + dim } else { v }).clamp(0, dim) as usize };
                s[a] = clampi(starts[k]);
                e[a] = clampi(ends[k]).max(s[a]);
                st[a] = step as usize;
            }
            let shape = (0..x.len())
                .map(|d| (e[d] - s[d]).div_ceil(st[d]))
                .collect();
            Ok(Parsed {
                op: Op::Slice {
                    starts: s,
                    ends: e,
                    steps: st,
                },
                operands: vec![0],
                shape,
                dtype: c.input(0)?.dtype(),
            })
        }
        "Gather" => {
            let x = c.shape(0)?;
            let idx = c.shape(1)?;
            let axis = c.axis(c.int("axis", 0)?, x.len())?;
            let shape = [&x[..axis], idx, &x[axis + 1..]].concat();
            Ok(Parsed {
                op: Op::Gather { axis },
                operands: vec![0, 1],
                shape,
                dtype: c.input(0)?.dtype(),
            })
        }
        "GatherElements" => {
            let x = c.shape(0)?;
            let idx = c.shape(1)?.to_vec();
            let axis = c.axis(c.int("axis", 0)?, x.len())?;
            if idx.len() != x.len() {
                return Err(c.err("data and indices must have the same rank"));
            }
            Ok(Parsed {
                op: Op::GatherElements { axis },
                operands: vec![0, 1],
                shape: idx,
                dtype: c.input(0)?.dtype(),
            })
        }
        "Not" => Ok(Parsed {
            op: Op::Not,
            operands: vec![0],
            shape: c.shape(0)?.to_vec(),
            dtype: DType::Bool,
        }),
        "Where" => {
            let s = broadcast_shape(c.shape(0)?, c.shape(1)?)
                .and_then(|s| broadcast_shape(&s, c.shape(2).ok()?))
                .ok_or_else(|| c.err("shapes do not broadcast"))?;
            Ok(Parsed {
                op: Op::Where,
                operands: vec![0, 1, 2],
                shape: s,
                dtype: c.input(1)?.dtype(),
            })
        }
        "Cast" => {
            let to = c.int("to", 1)?;
            let to = match to {
                1 | 10 | 11 | 16 => DType::Float,
                9 => DType::Bool,
                2..=7 | 12 | 13 => DType::Int,
                _ => return Err(c.unsupported(format!("Cast to type {to}"))),
            };
            Ok(Parsed {
                op: Op::Cast { to },
                operands: vec![0],
                shape: c.shape(0)?.to_vec(),
                dtype: to,
            })
        }
        "ReduceSum" | "ReduceMean" => {
            let x = c.shape(0)?.to_vec();
            let axes_in = if op_type == "ReduceSum" && opset >= 13
                || op_type == "ReduceMean" && opset >= 18
            {
                if c.has(1) {
                    Some(c.const_ints(1, "axes")?)
                } else {
                    None
                }
            } else {
                c.ints("axes")?
            };
            let axes: Vec<usize> = match axes_in {
                Some(a) if !a.is_empty() => a
                    .iter()
                    .map(|&a| c.axis(a, x.len()))
                    .collect::<Result<_>>()?,
                _ if c.int("noop_with_empty_axes", 0)? != 0 => vec![],
                _ => (0..x.len()).collect(),
            };
            let keepdims = c.int("keepdims", 1)? != 0;
            let shape = reduce_shape(&x, &axes, keepdims);
            let op = if op_type == "ReduceSum" {
                Op::ReduceSum { axes, keepdims }
            } else {
                Op::ReduceMean { axes, keepdims }
            };
            Ok(Parsed {
                op,
                operands: vec![0],
                shape,
                dtype: c.input(0)?.dtype(),
            })
        }
        "ReduceMax" | "ReduceMin" => {
            let x = c.shape(0)?.to_vec();
            let axes_in = if opset >= 18 {
                if c.has(1) {
                    Some(c.const_ints(1, "axes")?)
                } else {
                    None
                }
            } else {
                c.ints("axes")?
            };
            let axes: Vec<usize> = match axes_in {
                Some(a) if !a.is_empty() => a
                    .iter()
                    .map(|&a| c.axis(a, x.len()))
                    .collect::<Result<_>>()?,
                _ => (0..x.len()).collect(),
            };
            let keepdims = c.int("keepdims", 1)? != 0;
            let shape = reduce_shape(&x, &axes, keepdims);
            Ok(Parsed {
                op: Op::ReduceExtreme {
                    axes,
                    keepdims,
                    max: op_type == "ReduceMax",
                },
                operands: vec![0],
                shape,
                dtype: c.input(0)?.dtype(),
            })
        }
        "Pad" => {
            let x = c.shape(0)?.to_vec();
            let mode = match node.attrs.get("mode") {
                Some(Attr::Str(m)) => m.clone(),
                _ => "constant".into(),
            };
            if mode != "constant" {
                return Err(c.unsupported(format!("Pad mode {mode:?} (only constant)")));
            }
            let (pads, value) = if opset < 11 {
                (
                    c.ints("pads")?
                        .ok_or_else(|| c.err("pads attribute missing"))?,
                    c.float("value", 0.0)?,
                )
            } else {
                if c.has(3) {
                    return Err(c.unsupported("Pad with an axes input"));
                }
                let v = if c.has(2) {
                    c.constant(2, "the pad value")?
                        .tensor
                        .data
                        .first()
                        .copied()
                        .unwrap_or(0.0)
                } else {
                    0.0
                };
                (c.const_ints(1, "pads")?, v)
            };
            let r = x.len();
            if pads.len() != 2 * r || pads.iter().any(|&p| p < 0) {
                return Err(c.unsupported(format!(
                    "pads {pads:?} (need {} non-negative values)",
                    2 * r
                )));
            }
            let begins: Vec<usize> = pads[..r].iter().map(|&p| p as usize).collect();
            let ends: Vec<usize> = pads[r..].iter().map(|&p| p as usize).collect();
            let shape = (0..r).map(|d| x[d] + begins[d] + ends[d]).collect();
            Ok(Parsed {
                op: Op::Pad {
                    begins,
                    ends,
                    value,
                },
                operands: vec![0],
                shape,
                dtype: c.input(0)?.dtype(),
            })
        }
        "ArgMax" => {
            let x = c.shape(0)?.to_vec();
            let axis = c.axis(c.int("axis", 0)?, x.len())?;
            let keepdims = c.int("keepdims", 1)? != 0;
            let select_last = c.int("select_last_index", 0)? != 0;
            Ok(Parsed {
                op: Op::ArgMax {
                    axis,
                    keepdims,
                    select_last,
                },
                operands: vec![0],
                shape: reduce_shape(&x, &[axis], keepdims),
                dtype: DType::Int,
            })
        }
        "Shape" => {
            let r = c.shape(0)?.len();
            Ok(Parsed {
                op: Op::Shape,
                operands: vec![0],
                shape: vec![r],
                dtype: DType::Int,
            })
        }
        _ => Err(c.unsupported("no fixed-point semantics are defined for this operator")),
    }
}

fn gemm_bias(c: &Ctx<'_>, i: usize, n: usize, beta: f64) -> Result<Vec<f64>> {
    if !c.has(i) {
        return Ok(vec![0.0; n]);
    }
    let b = c.constant(i, "C")?;
    let t = &b.tensor;
    let data = if t.len() == n && t.shape.last().copied().unwrap_or(n) == n {
        t.data.clone()
    } else if t.len() == 1 {
        vec![t.data[0]; n]
    } else {
        return Err(c.unsupported(format!(
            "a bias of shape {:?} (only [N] or [1, N])",
            t.shape
        )));
    };
    Ok(data.into_iter().map(|v| v * beta).collect())
}

fn reshape_target(x: &[usize], spec: &[i64]) -> Option<Vec<usize>> {
    let total: usize = x.iter().product();
    let mut out = Vec::with_capacity(spec.len());
    let mut infer = None;
    for (i, &s) in spec.iter().enumerate() {
        match s {
            0 => out.push(*x.get(i)?),
            -1 if infer.is_none() => {
                infer = Some(i);
                out.push(1)
            }
            s if s > 0 => out.push(s as usize),
            _ => return None,
        }
    }
    let known: usize = out.iter().product();
    if let Some(i) = infer {
        if known == 0 || total % known != 0 {
            return None;
        }
        out[i] = total / known;
    }
    (out.iter().product::<usize>() == total).then_some(out)
}

pub fn reduce_shape(x: &[usize], axes: &[usize], keepdims: bool) -> Vec<usize> {
    x.iter()
        .enumerate()
        .filter_map(|(i, &d)| {
            if axes.contains(&i) {
                keepdims.then_some(1)
            } else {
                Some(d)
            }
        })
        .collect()
}

/// Reference semantics in f64, for constant folding and calibration.
pub fn eval(op: &Op, inputs: &[&Tensor<f64>], out_shape: &[usize]) -> Tensor<f64> {
    let x = inputs[0];
    let out = |data: Vec<f64>| Tensor::new(out_shape.to_vec(), data);
    match op {
        Op::Conv {
            weight,
            bias,
            window,
            groups,
        } => out(conv_f64(x, weight, bias, window, *groups, out_shape)),
        Op::Gemm { weight, bias } => {
            let (k, n) = (weight.shape[0], weight.shape[1]);
            let rows = x.len() / k;
            // row by row, the weight read in its own order (each output still sums bias, then
            // t = 0..k in order, as written before: the same f64 values, 10x faster at BERT sizes)
            let mut y = Vec::with_capacity(rows * n);
            for r in 0..rows {
                let start = y.len();
                y.extend_from_slice(bias);
                let acc = &mut y[start..];
                for t in 0..k {
                    let xv = x.data[r * k + t];
                    for (a, w) in acc.iter_mut().zip(&weight.data[t * n..(t + 1) * n]) {
                        *a += xv * w;
                    }
                }
            }
            out(y)
        }
        Op::MatMul => {
            let b = inputs[1];
            let (m, k) = (x.shape[x.rank() - 2], x.shape[x.rank() - 1]);
            let n = b.shape[b.rank() - 1];
            // each output batch reads the (broadcast) batch of either operand
            let batch = &out_shape[..out_shape.len() - 2];
            let a_batch = broadcast_offsets(&x.shape[..x.rank() - 2], batch);
            let b_batch = broadcast_offsets(&b.shape[..b.rank() - 2], batch);
            let mut y = Vec::with_capacity(a_batch.len() * m * n);
            for (&ab, &bb) in a_batch.iter().zip(&b_batch) {
                for i in 0..m {
                    let start = y.len();
                    y.resize(start + n, 0.0);
                    let acc = &mut y[start..];
                    for t in 0..k {
                        let xv = x.data[ab * m * k + i * k + t];
                        let row = &b.data[bb * k * n + t * n..bb * k * n + (t + 1) * n];
                        for (a, w) in acc.iter_mut().zip(row) {
                            *a += xv * w;
                        }
                    }
                }
            }
            out(y)
        }
        Op::Binary(kind) => binary(inputs[0], inputs[1], out_shape, |a, b| match kind {
            BinaryKind::Add => a + b,
            BinaryKind::Sub => a - b,
            BinaryKind::Mul => a * b,
            BinaryKind::Div => a / b,
            BinaryKind::Max => a.max(b),
            BinaryKind::Min => a.min(b),
        }),
        Op::Compare(kind) => binary(inputs[0], inputs[1], out_shape, |a, b| {
            (match kind {
                CompareKind::Less => a < b,
                CompareKind::Greater => a > b,
                CompareKind::Equal => a == b,
            }) as u8 as f64
        }),
        Op::Unary(kind) => x.map(|&v| match kind {
            UnaryKind::Relu => v.max(0.0),
            UnaryKind::Sigmoid => 1.0 / (1.0 + (-v).exp()),
            UnaryKind::Tanh => v.tanh(),
            UnaryKind::Erf => erf(v),
            UnaryKind::Exp => v.exp(),
            UnaryKind::Sqrt => v.sqrt(),
            UnaryKind::Reciprocal => 1.0 / v,
            UnaryKind::Neg => -v,
            UnaryKind::Abs => v.abs(),
        }),
        Op::LeakyRelu { alpha } => x.map(|&v| if v < 0.0 { v * alpha } else { v }),
        Op::Clip { min, max } => {
            x.map(|&v| v.max(min.unwrap_or(f64::MIN)).min(max.unwrap_or(f64::MAX)))
        }
        Op::Softmax { axis, legacy } => {
            let mut y = x.data.clone();
            for_each_lane(&x.shape, *axis, *legacy, |idx| {
                let m = idx.iter().map(|&i| x.data[i]).fold(f64::MIN, f64::max);
                let s: f64 = idx.iter().map(|&i| (x.data[i] - m).exp()).sum();
                for &i in idx {
                    y[i] = (x.data[i] - m).exp() / s;
                }
            });
            out(y)
        }
        Op::MaxPool { window } => out(pool_f64(x, window, out_shape, None)),
        Op::AveragePool {
            window,
            count_include_pad,
        } => out(pool_f64(x, window, out_shape, Some(*count_include_pad))),
        Op::GlobalAveragePool { divisor } => {
            let hw = x.shape[2] * x.shape[3];
            out(x
                .data
                .chunks(hw)
                .map(|c| c.iter().sum::<f64>() / *divisor as f64)
                .collect())
        }
        Op::Affine { mul, add } => {
            let ch = x.shape[1];
            let inner: usize = x.shape[2..].iter().product();
            out(x
                .data
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    let c = (i / inner) % ch;
                    v * mul[c] + add[c]
                })
                .collect())
        }
        Op::Reshape { .. } | Op::Shape => match op {
            Op::Shape => out(x.shape.iter().map(|&d| d as f64).collect()),
            _ => out(x.data.clone()),
        },
        Op::Transpose { perm } => x.transpose(perm),
        Op::Concat { axis } => out(concat(inputs, *axis)),
        Op::Slice { starts, steps, .. } => {
            let st = strides(&x.shape);
            out(MultiIndex::new(out_shape)
                .map(|idx| {
                    x.data[idx
                        .iter()
                        .enumerate()
                        .map(|(d, &i)| (starts[d] + i * steps[d]) * st[d])
                        .sum::<usize>()]
                })
                .collect())
        }
        Op::Gather { axis } => out(gather_map(&x.shape, inputs[1], *axis)
            .iter()
            .map(|&o| o.map_or(0.0, |o| x.data[o]))
            .collect()),
        Op::GatherElements { axis } => out(gather_elements_map(&x.shape, inputs[1], *axis)
            .iter()
            .map(|&o| o.map_or(0.0, |o| x.data[o]))
            .collect()),
        Op::Not => x.map(|&v| (v == 0.0) as u8 as f64),
        Op::IntDiv => binary(inputs[0], inputs[1], out_shape, |n, d| {
            // the executor's div_round in f64: exact for the integers a lowering divides
            let (n, d) = if d < 0.0 { (-n, -d) } else { (n, d) };
            let q = (n / d).floor();
            let r = n - q * d;
            q + (r >= d - r) as u8 as f64
        }),
        Op::Where => {
            let c = inputs[0].broadcast_to(out_shape);
            let a = inputs[1].broadcast_to(out_shape);
            let b = inputs[2].broadcast_to(out_shape);
            out((0..c.len())
                .map(|i| {
                    if c.data[i] != 0.0 {
                        a.data[i]
                    } else {
                        b.data[i]
                    }
                })
                .collect())
        }
        Op::Cast { to } => x.map(|&v| match to {
            DType::Float => v,
            DType::Int => v.trunc(),
            DType::Bool => (v != 0.0) as u8 as f64,
        }),
        Op::ReduceSum { axes, .. } | Op::ReduceMean { axes, .. } => {
            let sums = reduce(x, axes, |a, b| a + b, 0.0);
            let count: usize = axes.iter().map(|&a| x.shape[a]).product();
            let mean = matches!(op, Op::ReduceMean { .. });
            out(sums
                .into_iter()
                .map(|s| if mean { s / count as f64 } else { s })
                .collect())
        }
        Op::ArgMax {
            axis, select_last, ..
        } => out(argmax(x, *axis, *select_last)
            .into_iter()
            .map(|i| i as f64)
            .collect()),
        Op::ReduceExtreme { axes, max, .. } => out(if *max {
            reduce(x, axes, f64::max, f64::NEG_INFINITY)
        } else {
            reduce(x, axes, f64::min, f64::INFINITY)
        }),
        Op::Pad { begins, value, .. } => out(pad(x, begins, out_shape, *value)),
        Op::Smooth(f) => x.map(|&v| f.eval(v)),
    }
}

/// Constant padding: positions outside the source get `fill`.
pub fn pad<T: Copy>(x: &Tensor<T>, begins: &[usize], out_shape: &[usize], fill: T) -> Vec<T> {
    let xs = strides(&x.shape);
    MultiIndex::new(out_shape)
        .map(|idx| {
            let mut off = 0;
            for d in 0..idx.len() {
                if idx[d] < begins[d] || idx[d] - begins[d] >= x.shape[d] {
                    return fill;
                }
                off += (idx[d] - begins[d]) * xs[d];
            }
            x.data[off]
        })
        .collect()
}

fn binary(
    a: &Tensor<f64>,
    b: &Tensor<f64>,
    shape: &[usize],
    f: impl Fn(f64, f64) -> f64,
) -> Tensor<f64> {
    let oa = broadcast_offsets(&a.shape, shape);
    let ob = broadcast_offsets(&b.shape, shape);
    Tensor::new(
        shape.to_vec(),
        oa.iter()
            .zip(&ob)
            .map(|(&i, &j)| f(a.data[i], b.data[j]))
            .collect(),
    )
}

/// Calls `f` with the flat offsets of each lane along `axis` (or, legacy softmax, of each block
/// of all axes from `axis` on).
pub fn for_each_lane(shape: &[usize], axis: usize, legacy: bool, mut f: impl FnMut(&[usize])) {
    let outer: usize = shape[..axis].iter().product();
    if legacy {
        let inner: usize = shape[axis..].iter().product();
        for o in 0..outer {
            let idx: Vec<usize> = (o * inner..(o + 1) * inner).collect();
            f(&idx);
        }
        return;
    }
    let n = shape[axis];
    let inner: usize = shape[axis + 1..].iter().product();
    for o in 0..outer {
        for i in 0..inner {
            let idx: Vec<usize> = (0..n).map(|k| o * n * inner + k * inner + i).collect();
            f(&idx);
        }
    }
}

pub fn concat<T: Copy>(inputs: &[&Tensor<T>], axis: usize) -> Vec<T> {
    let outer: usize = inputs[0].shape[..axis].iter().product();
    let mut y = Vec::with_capacity(inputs.iter().map(|t| t.len()).sum());
    for o in 0..outer {
        for t in inputs {
            let block: usize = t.shape[axis..].iter().product();
            y.extend_from_slice(&t.data[o * block..(o + 1) * block]);
        }
    }
    y
}

/// For each output element of a Gather, the flat offset into the data (None: index out of range).
pub fn gather_map(data_shape: &[usize], indices: &Tensor<f64>, axis: usize) -> Vec<Option<usize>> {
    let outer: usize = data_shape[..axis].iter().product();
    let n = data_shape[axis];
    let inner: usize = data_shape[axis + 1..].iter().product();
    let mut m = Vec::with_capacity(outer * indices.len() * inner);
    for o in 0..outer {
        for &ix in &indices.data {
            let ix = ix as i64;
            let ix = if ix < 0 { ix + n as i64 } else { ix };
            for i in 0..inner {
                m.push(
                    (0..n as i64)
                        .contains(&ix)
                        .then(|| o * n * inner + ix as usize * inner + i),
                );
            }
        }
    }
    m
}

pub fn gather_elements_map(
    data_shape: &[usize],
    indices: &Tensor<f64>,
    axis: usize,
) -> Vec<Option<usize>> {
    let ds = strides(data_shape);
    let n = data_shape[axis] as i64;
    MultiIndex::new(&indices.shape)
        .zip(&indices.data)
        .map(|(idx, &ix)| {
            let ix = ix as i64;
            let ix = if ix < 0 { ix + n } else { ix };
            if !(0..n).contains(&ix)
                || idx
                    .iter()
                    .zip(data_shape)
                    .enumerate()
                    .any(|(d, (&i, &s))| d != axis && i >= s)
            {
                return None;
            }
            Some(
                idx.iter()
                    .enumerate()
                    .map(|(d, &i)| if d == axis { ix as usize } else { i } * ds[d])
                    .sum(),
            )
        })
        .collect()
}

pub fn reduce<T: Copy>(x: &Tensor<T>, axes: &[usize], f: impl Fn(T, T) -> T, init: T) -> Vec<T> {
    let out_shape = reduce_shape(&x.shape, axes, true);
    let os = strides(&out_shape);
    let mut acc = vec![init; out_shape.iter().product()];
    let eff: Vec<usize> = (0..x.rank())
        .map(|d| if axes.contains(&d) { 0 } else { os[d] })
        .collect();
    for (o, &v) in strided_offsets(&x.shape, &eff).into_iter().zip(&x.data) {
        acc[o] = f(acc[o], v);
    }
    acc
}

pub fn argmax<T: Copy + PartialOrd>(x: &Tensor<T>, axis: usize, select_last: bool) -> Vec<usize> {
    let n = x.shape[axis];
    let inner: usize = x.shape[axis + 1..].iter().product();
    let outer: usize = x.shape[..axis].iter().product();
    let mut res = Vec::with_capacity(outer * inner);
    for o in 0..outer {
        for i in 0..inner {
            let at = |k: usize| x.data[o * n * inner + k * inner + i];
            let mut best = 0;
            for k in 1..n {
                if at(k) > at(best) || (select_last && at(k) == at(best)) {
                    best = k;
                }
            }
            res.push(best);
        }
    }
    res
}

fn conv_f64(
    x: &Tensor<f64>,
    w: &Tensor<f64>,
    bias: &[f64],
    win: &Window,
    groups: usize,
    out_shape: &[usize],
) -> Vec<f64> {
    use rayon::prelude::*;
    let (m, mg) = (w.shape[0], w.shape[0] / groups);
    // Tasks of `block` output planes of one group (4 when the group's channels allow it: each
    // input row read once feeds four accumulators). Each output still sums its bias, then the
    // terms in (input channel, kernel row, kernel column) order, as a loop per output does, so
    // the values are the same bits; the innermost loop runs along an output row (vectorised
    // when the stride is 1): a calibration run of a ResNet is tens of times faster.
    let block = if mg % 4 == 0 { 4 } else { 1 };
    let geom = ConvGeom {
        c: x.shape[1],
        h: x.shape[2],
        wd: x.shape[3],
        m,
        cg: w.shape[1],
        kh: w.shape[2],
        kw: w.shape[3],
        oh: out_shape[2],
        ow: out_shape[3],
        mg,
        sy: win.strides[0],
        sx: win.strides[1],
        dy: win.dilations[0],
        dx: win.dilations[1],
        py: win.pads[0] as isize,
        px: win.pads[1] as isize,
        block,
    };
    let plane = geom.oh * geom.ow;
    let mut y = vec![0.0; x.shape[0] * m * plane];
    y.par_chunks_mut(block * plane)
        .enumerate()
        .for_each(|(task, out)| {
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2 (checked just above)
                unsafe { conv_task_avx2(&geom, x, w, bias, task, out) };
                return;
            }
            conv_task(&geom, x, w, bias, task, out)
        });
    y
}

/// The shape of one convolution, for [`conv_task`].
#[derive(Clone, Copy)]
struct ConvGeom {
    c: usize,
    h: usize,
    wd: usize,
    m: usize,
    cg: usize,
    kh: usize,
    kw: usize,
    oh: usize,
    ow: usize,
    mg: usize,
    sy: usize,
    sx: usize,
    dy: usize,
    dx: usize,
    py: isize,
    px: isize,
    block: usize,
}

/// [`conv_task`] compiled for AVX2: 4 f64 lanes instead of SSE2's 2. The same operations in
/// the same order (Rust never fuses a multiply and an add), so the same bits.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn conv_task_avx2(
    geom: &ConvGeom,
    x: &Tensor<f64>,
    w: &Tensor<f64>,
    bias: &[f64],
    task: usize,
    out: &mut [f64],
) {
    conv_task(geom, x, w, bias, task, out)
}

/// Output planes `task·block ..` of [`conv_f64`] into `out`.
#[inline(always)]
fn conv_task(
    geom: &ConvGeom,
    x: &Tensor<f64>,
    w: &Tensor<f64>,
    bias: &[f64],
    task: usize,
    out: &mut [f64],
) {
    let ConvGeom {
        c,
        h,
        wd,
        m,
        cg,
        kh,
        kw,
        oh,
        ow,
        mg,
        sy,
        sx,
        dy,
        dx,
        py,
        px,
        block,
    } = *geom;
    let plane = oh * ow;
    let first_oc = (task * block) % m;
    let b = task * block / m;
    let g = first_oc / mg;
    let mut planes: Vec<&mut [f64]> = out.chunks_mut(plane).collect();
    for (j, p) in planes.iter_mut().enumerate() {
        p.fill(bias[first_oc + j]);
    }
    // the block's weights as [ic][ky][kx][j]
    let taps = cg * kh * kw;
    let mut wv = vec![0.0; taps * block];
    for j in 0..block {
        let base = (first_oc + j) * taps;
        for t in 0..taps {
            wv[t * block + j] = w.data[base + t];
        }
    }
    // output columns whose input column ox·sx + kx·dx − px lies in [0, wd), per kx
    let cols: Vec<(usize, usize, isize)> = (0..kw)
        .map(|kx| {
            let off = (kx * dx) as isize - px;
            let lo = if off >= 0 {
                0
            } else {
                ((-off) as usize).div_ceil(sx)
            };
            let hi = if (wd as isize) <= off {
                0
            } else {
                ((wd as isize - off) as usize).div_ceil(sx).min(ow)
            };
            (lo, hi.max(lo), (lo * sx) as isize + off)
        })
        .collect();
    // row by row, so that the block's output rows stay in the L1 cache
    for oy in 0..oh {
        for ic in 0..cg {
            let ch = g * cg + ic;
            let xin = &x.data[(b * c + ch) * h * wd..(b * c + ch + 1) * h * wd];
            for ky in 0..kh {
                let iy = (oy * sy + ky * dy) as isize - py;
                if iy < 0 || iy >= h as isize {
                    continue;
                }
                let row = &xin[iy as usize * wd..(iy as usize + 1) * wd];
                for (kx, &(lo, hi, start)) in cols.iter().enumerate() {
                    if lo == hi {
                        continue;
                    }
                    let t = (ic * kh + ky) * kw + kx;
                    let wt = &wv[t * block..(t + 1) * block];
                    let (a, z) = (oy * ow + lo, oy * ow + hi);
                    if sx == 1 {
                        let src = &row[start as usize..start as usize + (hi - lo)];
                        if let [p0, p1, p2, p3] = &mut planes[..] {
                            let (w0, w1, w2, w3) = (wt[0], wt[1], wt[2], wt[3]);
                            for ((((v, a0), a1), a2), a3) in src
                                .iter()
                                .zip(&mut p0[a..z])
                                .zip(&mut p1[a..z])
                                .zip(&mut p2[a..z])
                                .zip(&mut p3[a..z])
                            {
                                *a0 += v * w0;
                                *a1 += v * w1;
                                *a2 += v * w2;
                                *a3 += v * w3;
                            }
                        } else {
                            for (p, &wj) in planes.iter_mut().zip(wt) {
                                for (acc, v) in p[a..z].iter_mut().zip(src) {
                                    *acc += v * wj;
                                }
                            }
                        }
                    } else {
                        for (p, &wj) in planes.iter_mut().zip(wt) {
                            for (k, acc) in p[a..z].iter_mut().enumerate() {
                                *acc += row[start as usize + k * sx] * wj;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `avg`: None for max pooling, Some(count_include_pad) for average pooling.
fn pool_f64(x: &Tensor<f64>, win: &Window, out_shape: &[usize], avg: Option<bool>) -> Vec<f64> {
    let (h, w) = (x.shape[2], x.shape[3]);
    let (oh, ow) = (out_shape[2], out_shape[3]);
    let planes = x.shape[0] * x.shape[1];
    let mut y = Vec::with_capacity(planes * oh * ow);
    for p in 0..planes {
        for oy in 0..oh {
            for ox in 0..ow {
                let (mut acc, mut cnt) = (if avg.is_some() { 0.0 } else { f64::MIN }, 0usize);
                for ky in 0..win.kernel[0] {
                    for kx in 0..win.kernel[1] {
                        let iy = (oy * win.strides[0] + ky * win.dilations[0]) as isize
                            - win.pads[0] as isize;
                        let ix = (ox * win.strides[1] + kx * win.dilations[1]) as isize
                            - win.pads[1] as isize;
                        if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                            continue;
                        }
                        let v = x.data[(p * h + iy as usize) * w + ix as usize];
                        cnt += 1;
                        acc = if avg.is_some() { acc + v } else { acc.max(v) };
                    }
                }
                y.push(match avg {
                    None => acc,
                    Some(true) => acc / (win.kernel[0] * win.kernel[1]) as f64,
                    Some(false) => acc / cnt.max(1) as f64,
                });
            }
        }
    }
    y
}

/// erf with about 1e-12 relative error (a series near 0, a continued fraction in the tails),
/// for calibration and constant folding only.
pub fn erf(x: f64) -> f64 {
    let a = x.abs();
    let r = if a < 2.5 {
        let mut term = a;
        let mut sum = a;
        let x2 = a * a;
        let mut n = 0.0;
        while term.abs() > 1e-17 * sum.abs() {
            n += 1.0;
            term *= -x2 / n;
            sum += term / (2.0 * n + 1.0);
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    } else {
        // erfc continued fraction (Lentz)
        let mut f = 0.0;
        for k in (1..60).rev() {
            f = (k as f64 / 2.0) / (a + f);
        }
        1.0 - (-a * a).exp() / std::f64::consts::PI.sqrt() / (a + f)
    };
    r.copysign(x)
}
