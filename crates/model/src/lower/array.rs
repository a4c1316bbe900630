//! array: Expand of a tensor computed from the input, to a constant shape, as a Reshape and
//! Gathers with constant indices (data movement: the same integers, no rounding).

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
