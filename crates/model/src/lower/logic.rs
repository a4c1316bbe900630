//! logic: the boolean operators and the non-strict comparisons, from Mul, Max, the strict
//! comparisons and Not. Exact: every value is 0 or 1 at scale 0, so no step rounds.

use super::{Builder, Ref};
use crate::error::Result;
use crate::onnx::DType;
use crate::ops::{BinaryKind, CompareKind, Op};

/// Inputs #0 and #1, both boolean (ONNX's And, Or and Xor take `tensor(bool)` only).
fn bool_pair(b: &Builder<'_>) -> Result<(Ref, Ref)> {
    let (x, y) = (b.input(0)?, b.input(1)?);
    for (i, r) in [(0, &x), (1, &y)] {
        if b.dtype(r) != DType::Bool {
            return Err(b.unsupported(format!(
                "input #{i} is {:?}; this operator is defined on bool tensors",
                b.dtype(r)
            )));
        }
    }
    Ok((x, y))
}

/// `And(x, y) = Mul(x, y)`.
pub fn and(b: &mut Builder<'_>) -> Result<Ref> {
    let (x, y) = bool_pair(b)?;
    b.binary_as("mul", BinaryKind::Mul, &x, &y, DType::Bool)
}

/// `Or(x, y) = Max(x, y)`.
pub fn or(b: &mut Builder<'_>) -> Result<Ref> {
    let (x, y) = bool_pair(b)?;
    b.binary_as("max", BinaryKind::Max, &x, &y, DType::Bool)
}

/// `Xor(x, y) = Not(Equal(x, y))`.
pub fn xor(b: &mut Builder<'_>) -> Result<Ref> {
    let (x, y) = bool_pair(b)?;
    let eq = b.compare("equal", CompareKind::Equal, &x, &y)?;
    Ok(b.unary("not", Op::Not, &eq))
}

/// `GreaterOrEqual(x, y) = Not(Less(x, y))` and `LessOrEqual(x, y) = Not(Greater(x, y))`: the
/// strict comparison aligns both operands to the finer scale exactly, so its negation is the
/// non-strict one exactly.
pub fn or_equal(b: &mut Builder<'_>) -> Result<Ref> {
    let (x, y) = (b.input(0)?, b.input(1)?);
    let strict = if b.node.op_type == "GreaterOrEqual" {
        CompareKind::Less
    } else {
        CompareKind::Greater
    };
    let c = b.compare("strict", strict, &x, &y)?;
    Ok(b.unary("not", Op::Not, &c))
}
