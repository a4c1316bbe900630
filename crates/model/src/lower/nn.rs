//! nn: activations and LayerNormalization, lowered to Relu, Clip, Affine, Add, Sub, Mul, Div,
//! comparisons, reductions, Sqrt and the piecewise cubic (`Op::Smooth`). Each function's comment
//! is its lowering; docs/fixed-point.md ("Lowered operators") gives the fixed-point semantics.

use super::{scalar, uniform, Builder, Ref};
use crate::error::Result;
use crate::onnx::{Attr, Const, RawNode};
use crate::ops::{
    reduce_shape, BinaryKind, CompareKind, InputInfo, Op, SmoothFn, UnaryKind, Window,
};
use crate::tensor::{broadcast_shape, norm_axis, Tensor};

/// Selu's defaults (ONNX): alpha and gamma as float32 (these are their exact values).
#[allow(clippy::excessive_precision)]
const SELU_ALPHA: f64 = 1.673_263_192_176_818_847_656_25;
#[allow(clippy::excessive_precision)]
const SELU_GAMMA: f64 = 1.050_701_022_148_132_324_218_75;

/// `HardSigmoid(x) = max(0, min(1, alpha·x + beta))` (alpha 0.2, beta 0.5):
/// `Clip[0, 1](Affine(x))`, exact but for the one rounding of the affine map.
pub fn hard_sigmoid(b: &mut Builder<'_>) -> Result<Ref> {
    let x = b.float_input(0)?;
    let (alpha, beta) = (b.float("alpha", 0.2)?, b.float("beta", 0.5)?);
    hard_sigmoid_of(b, &x, alpha, beta, "")
}

fn hard_sigmoid_of(
    b: &mut Builder<'_>,
    x: &Ref,
    alpha: f64,
    beta: f64,
    prefix: &str,
) -> Result<Ref> {
    let lin = b.affine(&format!("{prefix}linear"), x, alpha, beta)?;
    Ok(b.unary(
        &format!("{prefix}clip"),
        Op::Clip {
            min: Some(0.0),
            max: Some(1.0),
        },
        &lin,
    ))
}

/// `HardSwish(x) = x · HardSigmoid(x)` with alpha 1/6, beta 1/2: `Mul(x, Clip[0, 1](Affine(x)))`.
pub fn hard_swish(b: &mut Builder<'_>) -> Result<Ref> {
    let x = b.float_input(0)?;
    let hs = hard_sigmoid_of(b, &x, 1.0 / 6.0, 0.5, "hard_sigmoid_")?;
    b.binary("mul", BinaryKind::Mul, &x, &hs)
}

/// `Elu(x) = x` for `x > 0`, `alpha·(exp(x) − 1)` otherwise (alpha 1):
/// `Add(Relu(x), P(x))`, `P = ExpM1Neg { gain: alpha, width: 1 }` (0 for `x >= 0`, `−alpha`
/// below −16).
pub fn elu(b: &mut Builder<'_>) -> Result<Ref> {
    let x = b.float_input(0)?;
    let alpha = b.float("alpha", 1.0)?;
    gain_in_range(b, alpha)?;
    let r = b.relu("relu", &x);
    let p = b.smooth(
        "exp_part",
        SmoothFn::ExpM1Neg {
            gain: alpha,
            width: 1.0,
        },
        &x,
    );
    b.binary("add", BinaryKind::Add, &r, &p)
}

/// `Selu(x) = gamma·x` for `x > 0`, `gamma·alpha·(exp(x) − 1)` otherwise:
/// `Add(Mul(Relu(x), gamma), P(x))`, `P = ExpM1Neg { gain: gamma·alpha, width: 1 }`.
pub fn selu(b: &mut Builder<'_>) -> Result<Ref> {
    let x = b.float_input(0)?;
    let alpha = b.float("alpha", SELU_ALPHA)?;
    let gamma = b.float("gamma", SELU_GAMMA)?;
    gain_in_range(b, gamma * alpha)?;
    let r = b.relu("relu", &x);
    let pos = b.binary("scale", BinaryKind::Mul, &r, &scalar(gamma))?;
    let p = b.smooth(
        "exp_part",
        SmoothFn::ExpM1Neg {
            gain: gamma * alpha,
            width: 1.0,
        },
        &x,
    );
    b.binary("add", BinaryKind::Add, &pos, &p)
}

/// The factor of an exponential branch: its magnitude sets the polynomial's output scale,
/// which must hold it (|gain| <= 2^20).
fn gain_in_range(b: &Builder<'_>, gain: f64) -> Result<()> {
    if gain.abs() > 2f64.powi(20) {
        return Err(b.unsupported(format!(
            "a negative branch of magnitude {gain}: at most 2^20"
        )));
    }
    Ok(())
}

/// `Celu(x) = max(0, x) + min(0, alpha·(exp(x / alpha) − 1))` (alpha 1):
/// `Add(Relu(x), P(x))`, `P = ExpM1Neg { gain: alpha, width: alpha }`. alpha must be in
/// [2^-20, 2^20] (its segments scale with it).
pub fn celu(b: &mut Builder<'_>) -> Result<Ref> {
    let x = b.float_input(0)?;
    let alpha = b.float("alpha", 1.0)?;
    if !(2f64.powi(-20)..=2f64.powi(20)).contains(&alpha) {
        return Err(b.unsupported(format!("alpha = {alpha}: only 2^-20 <= alpha <= 2^20")));
    }
    let r = b.relu("relu", &x);
    let p = b.smooth(
        "exp_part",
        SmoothFn::ExpM1Neg {
            gain: alpha,
            width: alpha,
        },
        &x,
    );
    b.binary("add", BinaryKind::Add, &r, &p)
}

/// `Softplus(x) = ln(1 + exp(x)) = max(x, 0) + ln(1 + exp(−|x|))`:
/// `Add(Relu(x), SoftplusRest(x))`.
pub fn softplus(b: &mut Builder<'_>) -> Result<Ref> {
    let x = b.float_input(0)?;
    let r = b.relu("relu", &x);
    let p = b.smooth("log_part", SmoothFn::SoftplusRest, &x);
    b.binary("add", BinaryKind::Add, &r, &p)
}

/// `Softsign(x) = x / (1 + |x|)`: `Div(x, Add(Abs(x), 1))` (it does not saturate in a finite
/// range, so no polynomial: the division is exact but for its one rounding).
pub fn softsign(b: &mut Builder<'_>) -> Result<Ref> {
    let x = b.float_input(0)?;
    let a = b.unary("abs", Op::Unary(UnaryKind::Abs), &x);
    let d = b.binary("denominator", BinaryKind::Add, &a, &scalar(1.0))?;
    b.binary("div", BinaryKind::Div, &x, &d)
}

/// `Mish(x) = x · tanh(softplus(x))`: `Mul(x, MishGate(x))`, the gate saturating to 0 below
/// −16 and to 1 above 10.
pub fn mish(b: &mut Builder<'_>) -> Result<Ref> {
    let x = b.float_input(0)?;
    let g = b.smooth("gate", SmoothFn::MishGate, &x);
    b.binary("mul", BinaryKind::Mul, &x, &g)
}

/// `Gelu(x) = x · Φ(x)` (opset 20; `approximate = "none"`), or with Φ replaced by
/// `(1 + tanh(√(2/π)·(x + 0.044715·x³))) / 2` (`approximate = "tanh"`): `Mul(x, gate(x))`,
/// the gate saturating outside [−8, 8).
pub fn gelu(b: &mut Builder<'_>) -> Result<Ref> {
    let x = b.float_input(0)?;
    let gate = match b.string("approximate", "none")?.as_str() {
        "none" => SmoothFn::NormalCdf,
        "tanh" => SmoothFn::GeluTanhGate,
        other => return Err(b.err(format!("approximate = {other:?} (none or tanh)"))),
    };
    let g = b.smooth("gate", gate, &x);
    b.binary("mul", BinaryKind::Mul, &x, &g)
}

/// `PRelu(x, slope) = x` for `x >= 0`, `slope·x` otherwise, `slope` a constant that broadcasts
/// to `x` (one per channel, `[C, 1, 1]`, as exporters write it). One slope for all: a LeakyRelu.
/// Otherwise `Add(r, Mul(Sub(x, r), slope))` with `r = Relu(x)` (`x − r = min(x, 0)` exactly).
pub fn prelu(b: &mut Builder<'_>) -> Result<Ref> {
    let x = b.float_input(0)?;
    let slope = b
        .constant(1)
        .ok_or_else(|| b.unsupported("the slope (input #1) must be a constant"))?
        .clone();
    let xs = b.shape(&x);
    if broadcast_shape(&xs, &slope.tensor.shape).as_deref() != Some(&xs[..]) {
        return Err(b.err(format!(
            "slope of shape {:?} does not broadcast to the input {xs:?}",
            slope.tensor.shape
        )));
    }
    if let Some(alpha) = uniform(&slope) {
        return Ok(b.unary("", Op::LeakyRelu { alpha }, &x));
    }
    let r = b.relu("relu", &x);
    let neg = b.binary("negative_part", BinaryKind::Sub, &x, &r)?;
    let scaled = b.binary("scale", BinaryKind::Mul, &neg, &Ref::In(1))?;
    b.binary("add", BinaryKind::Add, &r, &scaled)
}

/// `ThresholdedRelu(x) = x` for `x > alpha`, 0 otherwise (alpha 1): `Mul(x, Greater(x, alpha))`,
/// exact.
pub fn thresholded_relu(b: &mut Builder<'_>) -> Result<Ref> {
    let x = b.float_input(0)?;
    let alpha = b.float("alpha", 1.0)?;
    let keep = b.compare("above", CompareKind::Greater, &x, &scalar(alpha))?;
    b.binary("mul", BinaryKind::Mul, &x, &keep)
}

/// `LayerNormalization(X, Scale, B)` (opset 17) over the axes `axis..rank`:
///
/// ```text
/// mean = ReduceMean(x)          d   = Sub(x, mean)        var = ReduceMean(Mul(d, d))
/// sd   = Sqrt(Add(var, eps))    sdg = Max(sd, √eps)       y   = Div(d, sdg)
/// out  = Add(Mul(y, Scale), B)  (Mul left out when Scale is all ones, Add when B is absent or 0)
/// ```
///
/// `Max(sd, √eps)` changes nothing in real arithmetic (`sd >= √eps`); in fixed point it keeps
/// the divisor positive when `eps` is below one quantum of `var` and a row is constant (the
/// division would refuse a zero divisor). Scale and B must be constants; `stash_type` (the
/// precision of the float computation) has no meaning here; the Mean and InvStdDev outputs
/// are refused if used (graph.rs).
pub fn layer_normalization(b: &mut Builder<'_>) -> Result<Ref> {
    let x = b.float_input(0)?;
    let xs = b.shape(&x);
    let axis = b.int("axis", -1)?;
    let first = norm_axis(axis, xs.len())
        .ok_or_else(|| b.err(format!("axis {axis} out of range for rank {}", xs.len())))?;
    let axes: Vec<usize> = (first..xs.len()).collect();
    let eps = b.float("epsilon", 1e-5)?;
    if eps <= 0.0 {
        return Err(b.unsupported(format!("epsilon = {eps} (must be positive)")));
    }
    let normalized = &xs[first..];
    let scale = b
        .constant(1)
        .ok_or_else(|| b.unsupported("Scale (input #1) must be a constant"))?
        .clone();
    let bias = if b.has(2) {
        Some(
            b.constant(2)
                .ok_or_else(|| b.unsupported("B (input #2) must be a constant"))?
                .clone(),
        )
    } else {
        None
    };
    for (what, c) in [("Scale", Some(&scale)), ("B", bias.as_ref())] {
        if let Some(c) = c {
            if broadcast_shape(normalized, &c.tensor.shape).as_deref() != Some(normalized) {
                return Err(b.err(format!("{what} of shape {:?} does not broadcast to the normalized shape {normalized:?}", c.tensor.shape)));
            }
        }
    }
    let mut y = normalize(b, &x, axes, eps)?;
    if uniform(&scale) != Some(1.0) {
        y = b.binary("scale", BinaryKind::Mul, &y, &Ref::In(1))?;
    }
    if bias
        .as_ref()
        .is_some_and(|c| c.tensor.data.iter().any(|&v| v != 0.0))
    {
        y = b.binary("bias", BinaryKind::Add, &y, &Ref::In(2))?;
    }
    Ok(y)
}

/// `(x − mean) / max(√(var + eps), √eps)` over `axes` (keepdims): the normalisation shared by
/// LayerNormalization, InstanceNormalization and GroupNormalization.
fn normalize(b: &mut Builder<'_>, x: &Ref, axes: Vec<usize>, eps: f64) -> Result<Ref> {
    let xs = b.shape(x);
    let stats = reduce_shape(&xs, &axes, true);
    let mean = b.push(
        "mean",
        Op::ReduceMean {
            axes: axes.clone(),
            keepdims: true,
        },
        vec![x.clone()],
        stats.clone(),
        crate::onnx::DType::Float,
    );
    let d = b.binary("centered", BinaryKind::Sub, x, &mean)?;
    let sq = b.binary("square", BinaryKind::Mul, &d, &d)?;
    let var = b.push(
        "variance",
        Op::ReduceMean {
            axes,
            keepdims: true,
        },
        vec![sq],
        stats,
        crate::onnx::DType::Float,
    );
    let ve = b.binary("variance_eps", BinaryKind::Add, &var, &scalar(eps))?;
    let sd = b.unary("std", Op::Unary(UnaryKind::Sqrt), &ve);
    let sdg = b.binary("std_floor", BinaryKind::Max, &sd, &scalar(eps.sqrt()))?;
    b.binary("normalized", BinaryKind::Div, &d, &sdg)
}

/// The per-channel scale and bias (inputs #1 and #2, constants) of Instance- and
/// GroupNormalization, each of `channels` values or of `groups` values repeated over each
/// group's channels (GroupNormalization before opset 21).
fn channel_affine(b: &Builder<'_>, channels: usize, groups: usize) -> Result<(Vec<f64>, Vec<f64>)> {
    let per_channel = |i: usize, what: &str| -> Result<Vec<f64>> {
        let c = b
            .constant(i)
            .ok_or_else(|| b.unsupported(format!("{what} (input #{i}) must be a constant")))?;
        let v = &c.tensor.data;
        if v.len() == channels {
            Ok(v.clone())
        } else if v.len() == groups && channels % groups == 0 {
            Ok((0..channels).map(|k| v[k / (channels / groups)]).collect())
        } else {
            Err(b.err(format!(
                "{what} has {} values for {channels} channels",
                v.len()
            )))
        }
    };
    Ok((per_channel(1, "scale")?, per_channel(2, "bias")?))
}

/// `InstanceNormalization(x, scale, B)`: normalised over the spatial axes `2..` of each
/// channel, then one per-channel `Affine` (`scale[c]·y + B[c]`).
pub fn instance_normalization(b: &mut Builder<'_>) -> Result<Ref> {
    let x = b.float_input(0)?;
    let xs = b.shape(&x);
    if xs.len() < 3 {
        return Err(b.err(format!("input of rank {} (at least [N, C, D])", xs.len())));
    }
    let eps = b.float("epsilon", 1e-5)?;
    if eps <= 0.0 {
        return Err(b.unsupported(format!("epsilon = {eps} (must be positive)")));
    }
    let (mul, add) = channel_affine(b, xs[1], xs[1])?;
    let y = normalize(b, &x, (2..xs.len()).collect(), eps)?;
    Ok(b.unary("affine", Op::Affine { mul, add }, &y))
}

/// `GroupNormalization(x, scale, bias, num_groups)`: `x [N, C, ...]` reshaped to
/// `[N, G, C/G·D]`, normalised over its last axis, reshaped back, then one per-channel
/// `Affine`.
pub fn group_normalization(b: &mut Builder<'_>) -> Result<Ref> {
    let x = b.float_input(0)?;
    let xs = b.shape(&x);
    let groups = b.int("num_groups", 0)?;
    if xs.len() < 3 || groups <= 0 || xs[1] % groups as usize != 0 {
        return Err(b.err(format!("input {xs:?} with num_groups {groups}")));
    }
    let g = groups as usize;
    let eps = b.float("epsilon", 1e-5)?;
    if eps <= 0.0 {
        return Err(b.unsupported(format!("epsilon = {eps} (must be positive)")));
    }
    let (mul, add) = channel_affine(b, xs[1], g)?;
    let rest: usize = xs[1..].iter().product::<usize>() / g;
    let grouped = vec![xs[0], g, rest];
    let r = b.push(
        "grouped",
        Op::Reshape {
            shape: grouped.clone(),
        },
        vec![x],
        grouped,
        crate::onnx::DType::Float,
    );
    let y = normalize(b, &r, vec![2], eps)?;
    let back = b.push(
        "ungrouped",
        Op::Reshape { shape: xs.clone() },
        vec![y],
        xs,
        crate::onnx::DType::Float,
    );
    Ok(b.unary("affine", Op::Affine { mul, add }, &back))
}

/// The operators of 2-D windows that [`one_d`] also takes on rank-3 (`[N, C, L]`) inputs.
pub const ONE_D_OPS: &[&str] = &["Conv", "MaxPool", "AveragePool", "GlobalAveragePool"];

/// Whether `node` is one of [`ONE_D_OPS`] on a rank-3 input (a Conv1d, MaxPool1d, ...).
pub fn is_one_d(node: &RawNode, inputs: &[InputInfo<'_>]) -> bool {
    ONE_D_OPS.contains(&node.op_type.as_str())
        && inputs
            .first()
            .and_then(|i| i.shape())
            .is_some_and(|s| s.len() == 3)
}

/// A 1-D window operator as the 2-D one over a height of 1: `Reshape(x, [N, C, 1, L])`, the
/// 2-D operator with every window attribute widened (`kernel_shape [k]` → `[1, k]`, strides,
/// dilations, `pads [b, e]` → `[0, b, 0, e]`, a Conv weight `[M, C/g, k]` → `[M, C/g, 1, k]`),
/// then `Reshape` back to `[N, M, L']`. The same integers as a 1-D window; no new circuit.
pub fn one_d(b: &mut Builder<'_>) -> Result<Ref> {
    let x = b.input(0)?;
    let xs = b.shape(&x);
    let x4 = vec![xs[0], xs[1], 1, xs[2]];
    let dtype = b.dtype(&x);
    let r = b.push(
        "to_2d",
        Op::Reshape { shape: x4.clone() },
        vec![x],
        x4.clone(),
        dtype,
    );
    let mut node = b.node.clone();
    for (name, fill) in [("kernel_shape", 1), ("strides", 1), ("dilations", 1)] {
        if let Some(Attr::Ints(v)) = node.attrs.get(name) {
            let mut w = vec![fill];
            w.extend(v.iter().copied());
            node.attrs.insert(name.into(), Attr::Ints(w));
        }
    }
    if let Some(Attr::Ints(p)) = node.attrs.get("pads") {
        if p.len() != 2 {
            return Err(b.err(format!(
                "pads = {p:?}: two values expected for a 1-D window"
            )));
        }
        let wide = vec![0, p[0], 0, p[1]];
        node.attrs.insert("pads".into(), Attr::Ints(wide));
    }
    // the weight (a Conv's input #1) gains the height axis; the bias stays
    let weight = match (node.op_type.as_str(), b.constant(1)) {
        ("Conv", Some(w)) if w.tensor.rank() == 3 => {
            let s = &w.tensor.shape;
            Some(Const {
                dtype: w.dtype,
                tensor: Tensor::new(vec![s[0], s[1], 1, s[2]], w.tensor.data.clone()),
            })
        }
        ("Conv", _) => return Err(b.unsupported("a Conv1d weight must be a constant of rank 3")),
        _ => None,
    };
    let mut infos: Vec<InputInfo<'_>> = b.inputs.to_vec();
    infos[0] = InputInfo::Dyn { shape: &x4, dtype };
    if let Some(w) = &weight {
        infos[1] = InputInfo::Const(w);
    }
    let parsed = crate::ops::parse(&node, b.opset, &infos)?;
    if parsed.operands != [0] {
        return Err(b.unsupported("a 1-D window operator with more than its input as operand"));
    }
    let out4 = parsed.shape.clone();
    let y = b.push("window", parsed.op, vec![r], out4.clone(), parsed.dtype);
    let out3 = vec![out4[0], out4[1], out4[3]];
    Ok(b.push(
        "to_1d",
        Op::Reshape {
            shape: out3.clone(),
        },
        vec![y],
        out3,
        parsed.dtype,
    ))
}

/// `LogSoftmax(x, axis) = (x − max) − ln Σ exp(x − max)` along `axis` (opset 13: default −1;
/// before it, the axes from `axis` on, supported when that is the last axis).
pub fn log_softmax(b: &mut Builder<'_>) -> Result<Ref> {
    let x = b.float_input(0)?;
    let rank = b.shape(&x).len();
    let default = if b.opset >= 13 { -1 } else { 1 };
    let a = b.int("axis", default)?;
    let axis = norm_axis(a, rank)
        .ok_or_else(|| b.err(format!("axis {a} out of range for rank {rank}")))?;
    if b.opset < 13 && axis + 1 != rank {
        return Err(b.unsupported(format!(
            "LogSoftmax before opset 13 over the axes from {axis} of rank {rank} (only the last axis)"
        )));
    }
    let (_, d, l) = super::reduce::log_sum_exp_parts(b, &x, &[axis])?;
    b.binary("sub", BinaryKind::Sub, &d, &l)
}

/// `ConvTranspose` (2-D, `auto_pad` NOTSET or VALID) as the convolution it equals:
/// - the input with `s − 1` zeros inserted between its pixels along each axis of stride `s > 1`
///   (a `Gather` of each pixel per position, then a `Mul` by a constant 0/1 mask: exact);
/// - a `Conv` with stride 1, the same dilation `d` and groups, the kernel flipped in space and
///   its in/out channels swapped per group (`W'[g·M_g + m, c, i, j] = W[g·C_g + c, m, k_h − 1 − i,
///   k_w − 1 − j]`), padded `d·(k − 1) − pad` before and `d·(k − 1) − pad + output_padding`
///   after on each axis.
///
/// A pad above `d·(k − 1)` (the transposed conv would crop) and `output_shape` are refused.
pub fn conv_transpose(b: &mut Builder<'_>) -> Result<Ref> {
    let x = b.float_input(0)?;
    let xs = b.shape(&x);
    let w = b
        .constant(1)
        .cloned()
        .ok_or_else(|| b.unsupported("the weight (input #1) must be a constant"))?;
    if xs.len() != 4 || w.tensor.rank() != 4 {
        return Err(b.unsupported(format!(
            "only 2-D transposed convolutions: input {xs:?}, weight {:?}",
            w.tensor.shape
        )));
    }
    let ws = w.tensor.shape.clone();
    let groups = b.int("group", 1)?;
    if groups <= 0 {
        return Err(b.err(format!("group = {groups}")));
    }
    let groups = groups as usize;
    let (c, mg, kh, kw) = (ws[0], ws[1], ws[2], ws[3]);
    if kh == 0 || kw == 0 || mg == 0 {
        return Err(b.err(format!("weight of shape {ws:?}")));
    }
    if xs[1] != c || c % groups != 0 {
        return Err(b.err(format!(
            "input has {} channels, weight {ws:?} with group {groups}",
            xs[1]
        )));
    }
    let cg = c / groups;
    let m = mg * groups;
    let pair = |name: &str, default: usize| -> Result<[usize; 2]> {
        match b.node.attrs.get(name) {
            None => Ok([default; 2]),
            Some(Attr::Ints(v)) if v.len() == 2 && v.iter().all(|&x| x >= 0) => {
                Ok([v[0] as usize, v[1] as usize])
            }
            Some(_) => Err(b.err(format!("attribute {name} must be two non-negative ints"))),
        }
    };
    let strides = pair("strides", 1)?;
    let dil = pair("dilations", 1)?;
    let out_pad = pair("output_padding", 0)?;
    if strides.contains(&0) || dil.contains(&0) {
        return Err(b.err("strides and dilations must be positive"));
    }
    if (0..2).any(|d| out_pad[d] >= strides[d].max(dil[d])) {
        return Err(b.err(format!(
            "output_padding {out_pad:?} must be below max(stride, dilation) on each axis"
        )));
    }
    if let Some(Attr::Ints(k)) = b.node.attrs.get("kernel_shape") {
        if k.as_slice() != [kh as i64, kw as i64] {
            return Err(b.err(format!("kernel_shape {k:?} differs from the weight {ws:?}")));
        }
    }
    if b.node.attrs.contains_key("output_shape") {
        return Err(b.unsupported("output_shape (give pads and output_padding instead)"));
    }
    let auto_pad = b.string("auto_pad", "NOTSET")?;
    let pads: [usize; 4] = match (auto_pad.as_str(), b.node.attrs.get("pads")) {
        ("VALID", _) | ("NOTSET", None) => [0; 4],
        ("NOTSET", Some(Attr::Ints(p))) if p.len() == 4 && p.iter().all(|&x| x >= 0) => {
            [p[0] as usize, p[1] as usize, p[2] as usize, p[3] as usize]
        }
        ("NOTSET", Some(_)) => return Err(b.err("pads must be four non-negative ints")),
        (other, _) => return Err(b.unsupported(format!("auto_pad {other}"))),
    };
    let reach = [dil[0] * (kh - 1), dil[1] * (kw - 1)];
    if pads[0] > reach[0] || pads[2] > reach[0] || pads[1] > reach[1] || pads[3] > reach[1] {
        return Err(b.unsupported(format!(
            "pads {pads:?} beyond the kernel's reach {reach:?} (the output would be cropped)"
        )));
    }
    let bias = if b.has(2) {
        let bc = b
            .constant(2)
            .ok_or_else(|| b.unsupported("the bias (input #2) must be a constant"))?;
        if bc.tensor.len() != m {
            return Err(b.err("bias length differs from output channels"));
        }
        bc.tensor.data.clone()
    } else {
        vec![0.0; m]
    };

    // 1. zeros between the pixels
    let (n, h, wd) = (xs[0], xs[2], xs[3]);
    let mut z = x;
    let (zh, zw) = ((h - 1) * strides[0] + 1, (wd - 1) * strides[1] + 1);
    if strides != [1, 1] {
        let gather = |b: &mut Builder<'_>,
                      part: &str,
                      v: Ref,
                      axis: usize,
                      len: usize,
                      s: usize,
                      shape: Vec<usize>| {
            b.push(
                part,
                Op::Gather { axis },
                vec![
                    v,
                    Ref::Const(Const {
                        dtype: crate::onnx::DType::Int,
                        tensor: Tensor::new(vec![len], (0..len).map(|i| (i / s) as f64).collect()),
                    }),
                ],
                shape,
                crate::onnx::DType::Float,
            )
        };
        if strides[0] > 1 {
            z = gather(b, "spread_rows", z, 2, zh, strides[0], vec![n, c, zh, wd]);
        }
        if strides[1] > 1 {
            z = gather(
                b,
                "spread_columns",
                z,
                3,
                zw,
                strides[1],
                vec![n, c, zh, zw],
            );
        }
        let mask: Vec<f64> = (0..zh * zw)
            .map(|q| ((q / zw) % strides[0] == 0 && (q % zw) % strides[1] == 0) as u8 as f64)
            .collect();
        let mask = Ref::Const(Const {
            dtype: crate::onnx::DType::Float,
            tensor: Tensor::new(vec![1, 1, zh, zw], mask),
        });
        z = b.binary("zeros_between", BinaryKind::Mul, &z, &mask)?;
    }
    // 2. the convolution with the flipped, channel-swapped kernel
    let mut wt = vec![0.0; m * cg * kh * kw];
    for g in 0..groups {
        for mo in 0..mg {
            for ci in 0..cg {
                for i in 0..kh {
                    for j in 0..kw {
                        let src =
                            (((g * cg + ci) * mg + mo) * kh + (kh - 1 - i)) * kw + (kw - 1 - j);
                        let dst = (((g * mg + mo) * cg + ci) * kh + i) * kw + j;
                        wt[dst] = w.tensor.data[src];
                    }
                }
            }
        }
    }
    let window = Window {
        kernel: [kh, kw],
        strides: [1, 1],
        dilations: dil,
        pads: [
            reach[0] - pads[0],
            reach[1] - pads[1],
            reach[0] - pads[2] + out_pad[0],
            reach[1] - pads[3] + out_pad[1],
        ],
    };
    let [oh, ow] = window
        .out_hw(zh, zw)
        .ok_or_else(|| b.err("the transposed convolution has an empty output"))?;
    Ok(b.push(
        "conv",
        Op::Conv {
            weight: Tensor::new(vec![m, cg, kh, kw], wt),
            bias,
            window,
            groups,
        },
        vec![z],
        vec![n, m, oh, ow],
        crate::onnx::DType::Float,
    ))
}
