//! nn: activations and LayerNormalization, lowered to Relu, Clip, Affine, Add, Sub, Mul, Div,
//! comparisons, reductions, Sqrt and the piecewise cubic (`Op::Smooth`). Each function's comment
//! is its lowering; docs/fixed-point.md ("Lowered operators") gives the fixed-point semantics.

use super::array::transpose;
use super::{int_const, scalar, uniform, Builder, Ref};
use crate::error::Result;
use crate::onnx::{Attr, Const, DType, RawNode};
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

/// The operators of 2-D windows that [`one_d`] also takes on rank-3 (`[N, C, L]`) inputs and
/// [`three_d`] on rank-5 (`[N, C, D, H, W]`) ones.
pub const WINDOW_OPS: &[&str] = &["Conv", "MaxPool", "AveragePool", "GlobalAveragePool"];

/// Whether `node` is one of [`WINDOW_OPS`] on an input of `rank` (3: a Conv1d, MaxPool1d ...;
/// 5: a Conv3d ...).
pub fn is_window_of_rank(node: &RawNode, inputs: &[InputInfo<'_>], rank: usize) -> bool {
    WINDOW_OPS.contains(&node.op_type.as_str())
        && inputs
            .first()
            .and_then(|i| i.shape())
            .is_some_and(|s| s.len() == rank)
}

/// The 2-D operator a lowering makes of this node (`node`, its attributes rewritten) applied to
/// the computed rank-4 `x`, with the constant `weight` as its input #1 when given: parsed by
/// `ops::parse` and pushed as `part`. Returns the value and its shape.
fn window_2d(
    b: &mut Builder<'_>,
    part: &str,
    node: &RawNode,
    x: Ref,
    weight: Option<&Const>,
) -> Result<(Ref, Vec<usize>)> {
    let (shape, dtype) = (b.shape(&x), b.dtype(&x));
    let mut infos: Vec<InputInfo<'_>> = b.inputs.to_vec();
    infos[0] = InputInfo::Dyn {
        shape: &shape,
        dtype,
    };
    if let Some(w) = weight {
        if infos.len() < 2 {
            infos.resize(2, InputInfo::Absent);
        }
        infos[1] = InputInfo::Const(w);
    }
    let parsed = crate::ops::parse(node, b.opset, &infos)?;
    if parsed.operands != [0] {
        return Err(b.unsupported("a window operator with more than its input as operand"));
    }
    let y = b.push(part, parsed.op, vec![x], parsed.shape.clone(), parsed.dtype);
    Ok((y, parsed.shape))
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
    let node = widened_to_2d(b, b.node.clone())?;
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
    let (y, out4) = window_2d(b, "window", &node, r, weight.as_ref())?;
    Ok(b.reshape("to_1d", &y, vec![out4[0], out4[1], out4[3]]))
}

/// A 1-D window node's attributes for the 2-D operator over a height of 1: `kernel_shape [k]`
/// → `[1, k]`, strides and dilations likewise, `pads [b, e]` → `[0, b, 0, e]`.
fn widened_to_2d(b: &Builder<'_>, mut node: RawNode) -> Result<RawNode> {
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
    Ok(node)
}

/// `LpPool(x)` (`p` 1 or 2; 1-D or 2-D): `Σ |x|^p` over each window by a depthwise `Conv` whose
/// weights are all 1 (exact sums; the padding is zeros, as ONNX pads), then `Sqrt` for `p = 2`.
/// The window attributes are the Conv's (`ops::parse`), so the same auto_pad, strides, pads and
/// dilations; other `p` are refused.
pub fn lp_pool(b: &mut Builder<'_>) -> Result<Ref> {
    let x = b.float_input(0)?;
    let xs = b.shape(&x);
    if !(3..=4).contains(&xs.len()) {
        return Err(b.unsupported(format!("LpPool of a rank-{} input (1-D and 2-D)", xs.len())));
    }
    let p = b.int("p", 2)?;
    if b.int("ceil_mode", 0)? != 0 {
        // checked here: the Conv the window becomes would name itself in the error
        return Err(b.unsupported("ceil_mode = 1"));
    }
    let powered = match p {
        1 => b.unary("abs", Op::Unary(UnaryKind::Abs), &x),
        2 => b.binary("square", BinaryKind::Mul, &x, &x)?,
        _ => return Err(b.unsupported(format!("p = {p} (1 and 2 are supported)"))),
    };
    let c = xs[1];
    let mut node = b.node.clone();
    node.op_type = "Conv".into();
    node.attrs.remove("p");
    node.attrs.insert("group".into(), Attr::Int(c as i64));
    let (x4, node) = if xs.len() == 3 {
        let x4 = vec![xs[0], c, 1, xs[2]];
        (b.reshape("to_2d", &powered, x4), widened_to_2d(b, node)?)
    } else {
        (powered, node)
    };
    let kernel = match node.attrs.get("kernel_shape") {
        Some(Attr::Ints(k)) if k.len() == 2 && k.iter().all(|&v| v > 0) => {
            [k[0] as usize, k[1] as usize]
        }
        _ => return Err(b.err("kernel_shape must be given, positive, one per spatial axis")),
    };
    let ones = Const {
        dtype: DType::Float,
        tensor: Tensor::new(
            vec![c, 1, kernel[0], kernel[1]],
            vec![1.0; c * kernel[0] * kernel[1]],
        ),
    };
    let (sums, out4) = window_2d(b, "sums", &node, x4, Some(&ones))?;
    let y = if p == 2 {
        b.unary("root", Op::Unary(UnaryKind::Sqrt), &sums)
    } else {
        sums
    };
    Ok(if xs.len() == 3 {
        b.reshape("to_1d", &y, vec![out4[0], out4[1], out4[3]])
    } else {
        y
    })
}

/// `GlobalLpPool(x)` (`p` 1 or 2, any spatial rank): `Σ |x|^p` over every spatial axis
/// (`Abs` or `Mul`, `ReduceSum` keeping the axes), then `Sqrt` for `p = 2`.
pub fn global_lp_pool(b: &mut Builder<'_>) -> Result<Ref> {
    let x = b.float_input(0)?;
    let rank = b.shape(&x).len();
    if rank < 3 {
        return Err(b.err(format!("a rank-{rank} input has no spatial axes")));
    }
    let p = b.int("p", 2)?;
    let powered = match p {
        1 => b.unary("abs", Op::Unary(UnaryKind::Abs), &x),
        2 => b.binary("square", BinaryKind::Mul, &x, &x)?,
        _ => return Err(b.unsupported(format!("p = {p} (1 and 2 are supported)"))),
    };
    let sums = b.reduce_sum("sums", &powered, (2..rank).collect(), true);
    Ok(if p == 2 {
        b.unary("root", Op::Unary(UnaryKind::Sqrt), &sums)
    } else {
        sums
    })
}

/// `GlobalMaxPool(x)` (any spatial rank): `ReduceMax` over every spatial axis, kept as 1s.
pub fn global_max_pool(b: &mut Builder<'_>) -> Result<Ref> {
    let x = b.input(0)?;
    let shape = b.shape(&x);
    if shape.len() < 3 {
        return Err(b.err(format!("a rank-{} input has no spatial axes", shape.len())));
    }
    let dtype = b.dtype(&x);
    let out = [&shape[..2], &vec![1; shape.len() - 2][..]].concat();
    Ok(b.push(
        "max",
        Op::ReduceExtreme {
            axes: (2..shape.len()).collect(),
            keepdims: true,
            max: true,
        },
        vec![x],
        out,
        dtype,
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
/// A 1-D one (`[N, C, L]`, weight `[C, M/g, k]`) is the 2-D one over a height of 1, as
/// [`one_d`] does for Conv: every attribute gains a leading height entry (stride, dilation 1,
/// output padding and pads 0), and the output is reshaped back to rank 3.
pub fn conv_transpose(b: &mut Builder<'_>) -> Result<Ref> {
    let mut x = b.float_input(0)?;
    let mut xs = b.shape(&x);
    let mut w = b
        .constant(1)
        .cloned()
        .ok_or_else(|| b.unsupported("the weight (input #1) must be a constant"))?;
    let one_d = xs.len() == 3 && w.tensor.rank() == 3;
    if one_d {
        let s = w.tensor.shape.clone();
        w.tensor = Tensor::new(vec![s[0], s[1], 1, s[2]], w.tensor.data);
        xs = vec![xs[0], xs[1], 1, xs[2]];
        x = b.reshape("to_2d", &x, xs.clone());
    }
    let dims = if one_d { 1 } else { 2 };
    if xs.len() != 4 || w.tensor.rank() != 4 {
        return Err(b.unsupported(format!(
            "only 1-D and 2-D transposed convolutions: input {xs:?}, weight {:?}",
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
    // an attribute per spatial axis; a 1-D one's height entry is `default`
    let pair = |name: &str, default: usize| -> Result<[usize; 2]> {
        match b.node.attrs.get(name) {
            None => Ok([default; 2]),
            Some(Attr::Ints(v)) if v.len() == dims && v.iter().all(|&x| x >= 0) => Ok(if one_d {
                [default, v[0] as usize]
            } else {
                [v[0] as usize, v[1] as usize]
            }),
            Some(_) => Err(b.err(format!("attribute {name} must be {dims} non-negative ints"))),
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
        let want: &[i64] = if one_d {
            &[kw as i64]
        } else {
            &[kh as i64, kw as i64]
        };
        if k.as_slice() != want {
            return Err(b.err(format!("kernel_shape {k:?} differs from the weight {ws:?}")));
        }
    }
    if b.node.attrs.contains_key("output_shape") {
        return Err(b.unsupported("output_shape (give pads and output_padding instead)"));
    }
    let auto_pad = b.string("auto_pad", "NOTSET")?;
    let pads: [usize; 4] = match (auto_pad.as_str(), b.node.attrs.get("pads")) {
        ("VALID", _) | ("NOTSET", None) => [0; 4],
        ("NOTSET", Some(Attr::Ints(p))) if p.len() == 2 * dims && p.iter().all(|&x| x >= 0) => {
            if one_d {
                [0, p[0] as usize, 0, p[1] as usize]
            } else {
                [p[0] as usize, p[1] as usize, p[2] as usize, p[3] as usize]
            }
        }
        ("NOTSET", Some(_)) => {
            return Err(b.err(format!("pads must be {} non-negative ints", 2 * dims)))
        }
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
    let y = b.push(
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
    );
    Ok(if one_d {
        b.reshape("to_1d", &y, vec![n, m, ow])
    } else {
        y
    })
}

/// The depth axis of a 3-D window: kernel, stride, dilation and the pads before and after.
struct DepthWindow {
    k: usize,
    s: usize,
    d: usize,
    pads: [usize; 2],
}

impl DepthWindow {
    /// Output depth of an input depth `len`, or None when the window does not fit.
    fn out_len(&self, len: usize) -> Option<usize> {
        let eff = self.d * (self.k - 1) + 1;
        let padded = len + self.pads[0] + self.pads[1];
        (padded >= eff).then(|| (padded - eff) / self.s + 1)
    }
    /// The input depth (without padding) of tap `t` of output `o`, None in the padding.
    fn tap(&self, o: usize, t: usize, len: usize) -> Option<usize> {
        (o * self.s + t * self.d)
            .checked_sub(self.pads[0])
            .filter(|&i| i < len)
    }
}

/// A 3-D window operator (`[N, C, D, H, W]`) as the 2-D one over height and width and the depth
/// window by data movement, so no new circuit:
/// - Conv: the depth taps of every output depth gathered (`Pad` with zeros, `Gather` of
///   `o·s + t·d`), moved into the batch and the channels (`[N·Do, C·kd, H, W]`: channel `c·kd + t`,
///   so a group's channels stay together), then one 2-D `Conv` whose weight is the 3-D one
///   reshaped (`[M, C/g·kd, kh, kw]`, the same values), and moved back to `[N, M, Do, Ho, Wo]`.
///   The same sums of products as the 3-D convolution, one rounding.
/// - MaxPool, AveragePool: separable, so the 2-D pool over `[N, C·D, H, W]` first, then the depth
///   window over the pooled values: a `Gather` of the taps and `ReduceMax` (a tap in the padding
///   is replaced by a valid tap of the same window, which a max ignores), or zero padding,
///   `ReduceSum` and a `Mul` by `1/n(o)` (`n(o)` = kd, or the taps inside the input when
///   count_include_pad is 0, as the 2-D part already divides by its own count).
/// - GlobalAveragePool: the 2-D one over `[N, C, D·H, W]`.
///
/// The 2-D part is parsed by `ops::parse` from the node with its height/width attributes, so
/// auto_pad, strides, dilations and groups are handled there; depth's auto_pad is computed here.
pub fn three_d(b: &mut Builder<'_>) -> Result<Ref> {
    let x = b.input(0)?;
    let xs = b.shape(&x);
    let (n, c, depth, h, w) = (xs[0], xs[1], xs[2], xs[3], xs[4]);
    let op_type = b.node.op_type.clone();
    if op_type == "GlobalAveragePool" {
        let x4 = b.reshape("to_2d", &x, vec![n, c, depth * h, w]);
        let g = b.push(
            "pool",
            Op::GlobalAveragePool {
                divisor: depth * h * w,
            },
            vec![x4],
            vec![n, c, 1, 1],
            DType::Float,
        );
        return Ok(b.reshape("to_3d", &g, vec![n, c, 1, 1, 1]));
    }
    let weight = match op_type.as_str() {
        "Conv" => Some(
            b.constant(1)
                .filter(|w| w.tensor.rank() == 5)
                .cloned()
                .ok_or_else(|| b.unsupported("a Conv3d weight must be a constant of rank 5"))?,
        ),
        _ => None,
    };
    let (depth_window, node) = split_depth(b, weight.as_ref().map(|w| w.tensor.shape[2]), depth)?;
    let out_d = depth_window
        .out_len(depth)
        .ok_or_else(|| b.err("the depth window is larger than the padded input"))?;
    let k = depth_window.k;
    let pad_depth = |b: &mut Builder<'_>, v: Ref, rank: usize| -> Ref {
        if depth_window.pads == [0, 0] {
            return v;
        }
        let mut shape = b.shape(&v);
        let (mut begins, mut ends) = (vec![0; rank], vec![0; rank]);
        begins[2] = depth_window.pads[0];
        ends[2] = depth_window.pads[1];
        shape[2] += depth_window.pads[0] + depth_window.pads[1];
        let dtype = b.dtype(&v);
        b.push(
            "pad_depth",
            Op::Pad {
                begins,
                ends,
                value: 0.0,
            },
            vec![v],
            shape,
            dtype,
        )
    };
    // the padded-input position of every (output depth, tap)
    let padded_taps = || -> Vec<f64> {
        (0..out_d)
            .flat_map(|o| (0..k).map(move |t| (o * depth_window.s + t * depth_window.d) as f64))
            .collect()
    };
    let gather_taps = |b: &mut Builder<'_>, v: Ref, taps: Vec<f64>| -> Ref {
        let idx = int_const(Tensor::new(vec![taps.len()], taps));
        b.gather("depth_taps", &v, &idx, 2)
    };
    if let Some(weight) = weight {
        let ws = &weight.tensor.shape;
        let padded = pad_depth(b, x, 5);
        let taps = gather_taps(b, padded, padded_taps());
        let six = b.reshape("taps", &taps, vec![n, c, out_d, k, h, w]);
        let moved = transpose(b, "depth_to_batch", six, &[0, 2, 1, 3, 4, 5]);
        let x4 = vec![n * out_d, c * k, h, w];
        let flat = b.reshape("to_2d", &moved, x4.clone());
        let w4 = Const {
            dtype: weight.dtype,
            tensor: Tensor::new(
                vec![ws[0], ws[1] * ws[2], ws[3], ws[4]],
                weight.tensor.data.clone(),
            ),
        };
        let (y, out4) = window_2d(b, "conv", &node, flat, Some(&w4))?;
        let (m, oh, ow) = (out4[1], out4[2], out4[3]);
        let y5 = b.reshape("from_batch", &y, vec![n, out_d, m, oh, ow]);
        return Ok(transpose(b, "conv3d", y5, &[0, 2, 1, 3, 4]));
    }
    // pools: the 2-D pool of every depth slice, then the depth window
    let x4 = vec![n, c * depth, h, w];
    let flat = b.reshape("to_2d", &x, x4.clone());
    let (pooled, out4) = window_2d(b, "pool_2d", &node, flat, None)?;
    let pooled_dtype = b.dtype(&pooled);
    let (oh, ow) = (out4[2], out4[3]);
    let rows = b.reshape("slices", &pooled, vec![n, c, depth, oh * ow]);
    let reduced = if op_type == "MaxPool" {
        let mut taps = Vec::with_capacity(out_d * k);
        for o in 0..out_d {
            let valid: Vec<usize> = (0..k)
                .filter_map(|t| depth_window.tap(o, t, depth))
                .collect();
            let first = *valid
                .first()
                .ok_or_else(|| b.err(format!("output depth {o}'s window lies in the padding")))?;
            taps.extend((0..k).map(|t| depth_window.tap(o, t, depth).unwrap_or(first) as f64));
        }
        let g = gather_taps(b, rows, taps);
        let five = b.reshape("taps", &g, vec![n, c, out_d, k, oh * ow]);
        b.push(
            "depth_max",
            Op::ReduceExtreme {
                axes: vec![3],
                keepdims: false,
                max: true,
            },
            vec![five],
            vec![n, c, out_d, oh * ow],
            pooled_dtype,
        )
    } else {
        let include_pad = b.int("count_include_pad", 0)? != 0;
        let padded = pad_depth(b, rows, 4);
        let g = gather_taps(b, padded, padded_taps());
        let five = b.reshape("taps", &g, vec![n, c, out_d, k, oh * ow]);
        let sum = b.reduce_sum("depth_sum", &five, vec![3], false);
        let counts: Vec<f64> = (0..out_d)
            .map(|o| {
                let valid = (0..k).filter(|&t| depth_window.tap(o, t, depth).is_some());
                1.0 / if include_pad { k } else { valid.count() }.max(1) as f64
            })
            .collect();
        let inv = Ref::Const(Const {
            dtype: DType::Float,
            tensor: Tensor::new(vec![1, 1, out_d, 1], counts),
        });
        b.binary("depth_mean", BinaryKind::Mul, &sum, &inv)?
    };
    Ok(b.reshape("pool3d", &reduced, vec![n, c, out_d, oh, ow]))
}

/// The depth axis of a 3-D window node's attributes, and the node with its height/width
/// attributes only (what `ops::parse` reads for the 2-D operator). `kernel_depth`: a Conv's,
/// from its weight.
fn split_depth(
    b: &Builder<'_>,
    kernel_depth: Option<usize>,
    depth: usize,
) -> Result<(DepthWindow, RawNode)> {
    let mut node = b.node.clone();
    let mut first = |name: &str, len: usize, default: i64| -> Result<Vec<i64>> {
        match node.attrs.get(name) {
            None => Ok(vec![default; len / 3]),
            Some(Attr::Ints(v)) if v.len() == len && v.iter().all(|&x| x >= 0) => {
                let v = v.clone();
                let rest: Vec<i64> = if len == 3 {
                    v[1..].to_vec()
                } else {
                    vec![v[1], v[2], v[4], v[5]]
                };
                node.attrs.insert(name.into(), Attr::Ints(rest));
                Ok(if len == 3 {
                    vec![v[0]]
                } else {
                    vec![v[0], v[3]]
                })
            }
            Some(_) => Err(b.err(format!(
                "attribute {name} must be {len} non-negative ints for a 3-D window"
            ))),
        }
    };
    let kernel = first("kernel_shape", 3, -1)?[0];
    let s = first("strides", 3, 1)?[0];
    let d = first("dilations", 3, 1)?[0];
    let pads = first("pads", 6, 0)?;
    let k = match (kernel_depth, kernel) {
        (Some(kd), k) if k < 0 || k as usize == kd => kd,
        (Some(kd), k) => {
            return Err(b.err(format!(
                "kernel_shape depth {k} differs from the weight's {kd}"
            )))
        }
        (None, k) if k > 0 => k as usize,
        (None, _) => return Err(b.err("kernel_shape is required")),
    };
    let (s, d) = (s as usize, d as usize);
    if k == 0 || s == 0 || d == 0 {
        return Err(b.err("kernel, strides and dilations must be positive"));
    }
    let pads = match b.string("auto_pad", "NOTSET")?.as_str() {
        "NOTSET" => [pads[0] as usize, pads[1] as usize],
        "VALID" => [0, 0],
        mode @ ("SAME_UPPER" | "SAME_LOWER") if d > 1 => {
            return Err(b.unsupported(format!(
                "auto_pad {mode} with a depth dilation of {d} (onnxruntime and ONNX's reference disagree on its pads; give explicit pads)"
            )))
        }
        mode @ ("SAME_UPPER" | "SAME_LOWER") => {
            let out = depth.div_ceil(s);
            let total = ((out - 1) * s + d * (k - 1) + 1).saturating_sub(depth);
            let (small, big) = (total / 2, total - total / 2);
            if mode == "SAME_UPPER" {
                [small, big]
            } else {
                [big, small]
            }
        }
        other => return Err(b.err(format!("unknown auto_pad {other}"))),
    };
    if kernel_depth.is_none() && pads.iter().any(|&p| p >= k) {
        return Err(b.err(format!(
            "depth pads {pads:?} must be smaller than the depth kernel {k}"
        )));
    }
    Ok((DepthWindow { k, s, d, pads }, node))
}
