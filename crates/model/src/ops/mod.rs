//! The operators zkopml compiles, with their attributes resolved to concrete values, their
//! static shape rules and their reference semantics in f64 (used to fold constants and to
//! calibrate). All tensors here are in ONNX's logical layout (NCHW for images).
//!
//! [`parse`] asks each family in turn (as tract-onnx's `ops` are laid out): [`nn`] (Conv,
//! pools, BatchNormalization, Softmax, LeakyRelu, with the f64 convolution and pool kernels),
//! [`math`] (Gemm, MatMul, element-wise binary and unary functions, Clip), [`logic`]
//! (comparisons, Not, Where), [`array`] (shape and data movement, with their index maps) and
//! [`reduce`] (reductions, ArgMax). [`eval`] stays one exhaustive match over [`Op`], so a new
//! operator cannot lack its reference semantics. Operators built from these ones are in
//! `crate::lower`, by the same families.

use serde::{Deserialize, Serialize};

mod array;
mod logic;
mod math;
mod nn;
mod reduce;

pub use array::{concat, gather_elements_map, gather_map, pad};
use nn::{conv_f64, pool_f64};
pub use reduce::{argmax, reduce};

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
    /// The inputs that are present (not empty names), in order.
    fn all_dyn(&self) -> Vec<usize> {
        (0..self.inputs.len()).filter(|&i| self.has(i)).collect()
    }
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
            // a Conv's kernel is its weight's; kernel_shape, when given, must agree
            Some(k) => match self.ints("kernel_shape")? {
                Some(v) if v != [k[0] as i64, k[1] as i64] => {
                    return Err(self.err(format!(
                        "kernel_shape {v:?} differs from the weight's kernel {k:?}"
                    )))
                }
                _ => k,
            },
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
            "SAME_UPPER" | "SAME_LOWER" if dilations.iter().any(|&d| d > 1) => {
                return Err(self.unsupported(format!(
                    "auto_pad {auto_pad} with dilations {dilations:?} (onnxruntime and ONNX's reference disagree on its pads; give explicit pads)"
                )))
            }
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
        // a pool's window must reach the input (onnxruntime refuses pads >= kernel, and a
        // window wholly in the padding has no value to pool)
        let pool = matches!(self.node.op_type.as_str(), "MaxPool" | "AveragePool");
        if pool && (0..2).any(|d| pads[d] >= kernel[d] || pads[d + 2] >= kernel[d]) {
            return Err(self.err(format!(
                "pads {pads:?} must be smaller than the kernel {kernel:?}"
            )));
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
    for family in [
        nn::parse,
        math::parse,
        logic::parse,
        array::parse,
        reduce::parse,
    ] {
        if let Some(parsed) = family(&c)? {
            return Ok(parsed);
        }
    }
    Err(c.unsupported("no fixed-point semantics are defined for this operator"))
}

/// A parsed operator that reads input #0 only and gives a float.
fn first_float(shape: Vec<usize>, op: Op) -> Result<Parsed> {
    Ok(Parsed {
        op,
        operands: vec![0],
        shape,
        dtype: DType::Float,
    })
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
