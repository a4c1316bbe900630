//! reduce: the norms and the sum of squares over axes, as ReduceSum of Abs or of a square (and
//! a Sqrt for the L2 norm), and ReduceLogSumExp in its stable form (the max, then the log of a
//! sum of exponentials of non-positive values, whose argument is bounded).

use super::{Builder, Ref};
use crate::error::Result;
use crate::onnx::Attr;
use crate::onnx::DType;
use crate::ops::{reduce_shape, BinaryKind, Op, SmoothFn, UnaryKind};
use crate::tensor::norm_axis;

/// The reduced axes and `keepdims` of a Reduce* node: `axes` an attribute before opset 18 and a
/// constant input #1 from it; none given reduces every axis, unless `noop_with_empty_axes`.
fn axes(b: &Builder<'_>, rank: usize) -> Result<(Vec<usize>, bool)> {
    let given: Option<Vec<i64>> = if b.opset >= 18 {
        match (b.has(1), b.constant(1)) {
            (false, _) => None,
            (true, Some(c)) => Some(c.tensor.data.iter().map(|&v| v as i64).collect()),
            (true, None) => return Err(b.unsupported("axes (input #1) must be a constant")),
        }
    } else {
        match b.node.attrs.get("axes") {
            None => None,
            Some(Attr::Ints(v)) => Some(v.clone()),
            Some(_) => return Err(b.err("attribute axes must be ints")),
        }
    };
    let axes = match given {
        Some(a) if !a.is_empty() => a
            .iter()
            .map(|&a| {
                norm_axis(a, rank)
                    .ok_or_else(|| b.err(format!("axis {a} out of range for rank {rank}")))
            })
            .collect::<Result<_>>()?,
        _ if b.int("noop_with_empty_axes", 0)? != 0 => vec![],
        _ => (0..rank).collect(),
    };
    Ok((axes, b.int("keepdims", 1)? != 0))
}

fn sum(b: &mut Builder<'_>, part: &str, x: &Ref) -> Result<Ref> {
    let shape = b.shape(x);
    let (axes, keepdims) = axes(b, shape.len())?;
    let out = reduce_shape(&shape, &axes, keepdims);
    let dtype = b.dtype(x);
    Ok(b.push(
        part,
        Op::ReduceSum { axes, keepdims },
        vec![x.clone()],
        out,
        dtype,
    ))
}

/// `ReduceL1(x) = ReduceSum(Abs(x))`: exact but for the sum's final rounding.
pub fn reduce_l1(b: &mut Builder<'_>) -> Result<Ref> {
    let x = b.input(0)?;
    let a = b.unary("abs", Op::Unary(UnaryKind::Abs), &x);
    sum(b, "sum", &a)
}

/// `ReduceSumSquare(x) = ReduceSum(Mul(x, x))`.
pub fn reduce_sum_square(b: &mut Builder<'_>) -> Result<Ref> {
    let x = b.input(0)?;
    let sq = b.binary("square", BinaryKind::Mul, &x, &x)?;
    sum(b, "sum", &sq)
}

/// `ReduceL2(x) = Sqrt(ReduceSum(Mul(x, x)))`.
pub fn reduce_l2(b: &mut Builder<'_>) -> Result<Ref> {
    let x = b.input(0)?;
    let sq = b.binary("square", BinaryKind::Mul, &x, &x)?;
    let s = sum(b, "sum", &sq)?;
    Ok(b.unary("sqrt", Op::Unary(UnaryKind::Sqrt), &s))
}

/// The most terms of one LogSoftmax row or ReduceLogSumExp (8 segments of ln per unit).
pub const MAX_EXP_SUM_TERMS: usize = 1024;

/// `max`, `x − max` and `ln Σ exp(x − max)` over `axes` (keepdims): the stable form of a log
/// of a sum of exponentials. The logarithm's argument lies in `[1, terms]`, so its piecewise
/// cubic has a bounded domain ([`SmoothFn::LnOfExpSum`]).
pub(super) fn log_sum_exp_parts(
    b: &mut Builder<'_>,
    x: &Ref,
    axes: &[usize],
) -> Result<(Ref, Ref, Ref)> {
    let shape = b.shape(x);
    let kept = reduce_shape(&shape, axes, true);
    let terms: usize = axes.iter().map(|&a| shape[a]).product();
    if terms > MAX_EXP_SUM_TERMS {
        return Err(b.unsupported(format!(
            "{terms} terms under one log-sum-exp (at most {MAX_EXP_SUM_TERMS}: ln on [1, n] is a piecewise cubic of 8(n − 1) segments)"
        )));
    }
    let terms = terms as u32;
    let m = b.push(
        "max",
        Op::ReduceExtreme {
            axes: axes.to_vec(),
            keepdims: true,
            max: true,
        },
        vec![x.clone()],
        kept.clone(),
        DType::Float,
    );
    let d = b.binary("shifted", BinaryKind::Sub, x, &m)?;
    let e = b.unary("exp", Op::Unary(UnaryKind::Exp), &d);
    let s = b.push(
        "sum",
        Op::ReduceSum {
            axes: axes.to_vec(),
            keepdims: true,
        },
        vec![e],
        kept,
        DType::Float,
    );
    let l = b.smooth("ln", SmoothFn::LnOfExpSum { terms }, &s);
    Ok((m, d, l))
}

/// `ReduceLogSumExp(x) = max + ln Σ exp(x − max)` over the axes, then a Reshape when
/// `keepdims = 0`.
pub fn reduce_log_sum_exp(b: &mut Builder<'_>) -> Result<Ref> {
    let x = b.float_input(0)?;
    let shape = b.shape(&x);
    let (axes, keepdims) = axes(b, shape.len())?;
    if axes.is_empty() {
        return Ok(x);
    }
    let (m, _, l) = log_sum_exp_parts(b, &x, &axes)?;
    let y = b.binary("add", BinaryKind::Add, &m, &l)?;
    if keepdims {
        return Ok(y);
    }
    let out = reduce_shape(&shape, &axes, false);
    Ok(b.push(
        "squeeze",
        Op::Reshape { shape: out.clone() },
        vec![y],
        out,
        DType::Float,
    ))
}
