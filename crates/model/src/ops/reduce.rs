//! reduce: ReduceSum, ReduceMean, ReduceMax, ReduceMin and ArgMax.
//! `parse` gives None for an operator of another family.

use super::*;

/// The operator of `c`'s node when it belongs to this family.
pub(super) fn parse(c: &Ctx<'_>) -> Result<Option<Parsed>> {
    let op_type = c.node.op_type.as_str();
    let opset = c.opset;
    let parsed = match c.node.op_type.as_str() {
        "ReduceSum" | "ReduceMean" => {
            let x = c.shape(0)?.to_vec();
            let axes_input =
                op_type == "ReduceSum" && opset >= 13 || op_type == "ReduceMean" && opset >= 18;
            let axes = reduce_axes(c, x.len(), axes_input, true)?;
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
            let axes = reduce_axes(c, x.len(), opset >= 18, false)?;
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
        _ => return Ok(None),
    };
    parsed.map(Some)
}

/// A reduction's axes over a rank-`rank` input: from input #1 (`axes_input`, the opsets that
/// moved them there) or the attribute; none given means every axis, or none at all when
/// `noop_with_empty_axes` is set and `noop_allowed` (ReduceMax/Min keep reducing every axis).
fn reduce_axes(
    c: &Ctx<'_>,
    rank: usize,
    axes_input: bool,
    noop_allowed: bool,
) -> Result<Vec<usize>> {
    let given = match (axes_input, c.has(1)) {
        (true, true) => Some(c.const_ints(1, "axes")?),
        (true, false) => None,
        (false, _) => c.ints("axes")?,
    };
    match given {
        Some(a) if !a.is_empty() => a.iter().map(|&a| c.axis(a, rank)).collect(),
        _ if noop_allowed && c.int("noop_with_empty_axes", 0)? != 0 => Ok(vec![]),
        _ => Ok((0..rank).collect()),
    }
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
