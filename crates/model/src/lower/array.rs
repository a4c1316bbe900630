//! array: Expand of a tensor computed from the input, to a constant shape, as a Reshape and
//! Gathers with constant indices (data movement: the same integers, no rounding), and Trilu as a
//! Mul by a constant 0/1 mask.

use super::{Builder, Ref};
use crate::error::Result;
use crate::fold::MAX_FOLDED_ELEMENTS;
use crate::onnx::{Const, DType};
use crate::ops::Op;
use crate::tensor::{broadcast_shape, Tensor};

/// `Expand(x, shape)`, `shape` a constant (a shape computed from the input's values is refused
/// before, by fold::data_dependent): the output shape is the numpy broadcast of `x`'s shape and
/// `shape`. A rank that grows is a Reshape adding leading 1s; then each axis of size 1 that
/// grows to `n` is a Gather along it with the constant indices `[0; n]`. No growth: the input
/// itself.
pub fn expand(b: &mut Builder<'_>) -> Result<Ref> {
    let x = b.input(0)?;
    b.input(1)?;
    let spec = b
        .constant(1)
        .ok_or_else(|| b.unsupported("the target shape (input #1) must be a constant"))?;
    let mut target = Vec::with_capacity(spec.tensor.len());
    for &v in &spec.tensor.data {
        if !(v >= 0.0 && v.fract() == 0.0) {
            return Err(b.err(format!("target shape {:?} holds {v}", spec.tensor.data)));
        }
        target.push(v as usize);
    }
    let xs = b.shape(&x);
    let out = broadcast_shape(&xs, &target).ok_or_else(|| {
        b.err(format!(
            "input of shape {xs:?} does not broadcast to {target:?}"
        ))
    })?;
    if out
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .is_none_or(|n| n > MAX_FOLDED_ELEMENTS)
    {
        return Err(b.unsupported(format!(
            "an expanded shape {out:?} larger than {MAX_FOLDED_ELEMENTS} elements"
        )));
    }
    if out == xs {
        return Ok(x);
    }
    let dtype = b.dtype(&x);
    let mut cur = x;
    let mut shape = xs.clone();
    if shape.len() < out.len() {
        let mut s = vec![1; out.len() - shape.len()];
        s.extend_from_slice(&shape);
        shape = s;
        cur = b.push(
            "reshape",
            Op::Reshape {
                shape: shape.clone(),
            },
            vec![cur],
            shape.clone(),
            dtype,
        );
    }
    for axis in 0..out.len() {
        if shape[axis] == out[axis] {
            continue;
        }
        // shape[axis] == 1 (broadcast_shape): repeat its one slice out[axis] times
        let n = out[axis];
        shape[axis] = n;
        let indices = Ref::Const(Const {
            dtype: DType::Int,
            tensor: Tensor::new(vec![n], vec![0.0; n]),
        });
        cur = b.push(
            &format!("repeat_axis{axis}"),
            Op::Gather { axis },
            vec![cur, indices],
            shape.clone(),
            dtype,
        );
    }
    Ok(cur)
}

/// `Trilu(x, k)` (`k` a constant, default 0): `Mul(x, M)` with the constant mask `M[i, j] =
/// [j − i >= k]` (`upper = 1`) or `[j − i <= k]` (`upper = 0`) over the last two axes, which
/// broadcasts over the leading ones. Exact: 1 and 0 are exact at any weight scale.
pub fn trilu(b: &mut Builder<'_>) -> Result<Ref> {
    let x = b.input(0)?;
    let xs = b.shape(&x);
    if xs.len() < 2 {
        return Err(b.err(format!(
            "input of rank {} (Trilu needs rank >= 2)",
            xs.len()
        )));
    }
    let k = if b.has(1) {
        let c = b
            .constant(1)
            .ok_or_else(|| b.unsupported("k (input #1) must be a constant"))?;
        match c.tensor.data.as_slice() {
            [v] => *v as i64,
            _ => return Err(b.err("k must hold one value")),
        }
    } else {
        0
    };
    let upper = b.int("upper", 1)? != 0;
    let (rows, cols) = (xs[xs.len() - 2], xs[xs.len() - 1]);
    let mask: Vec<f64> = (0..rows * cols)
        .map(|q| {
            let d = (q % cols) as i64 - (q / cols) as i64;
            (if upper { d >= k } else { d <= k }) as u8 as f64
        })
        .collect();
    let dtype = b.dtype(&x);
    let m = Ref::Const(Const {
        dtype,
        tensor: Tensor::new(vec![rows, cols], mask),
    });
    let shape = xs.clone();
    Ok(b.push(
        "mask",
        Op::Binary(crate::ops::BinaryKind::Mul),
        vec![x, m],
        shape,
        dtype,
    ))
}
