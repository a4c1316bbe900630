//! logic: comparisons, Not and Where (tract-onnx's `ops::logic`).
//! `parse` gives None for an operator of another family.

use super::*;

/// The operator of `c`'s node when it belongs to this family.
pub(super) fn parse(c: &Ctx<'_>) -> Result<Option<Parsed>> {
    let op_type = c.node.op_type.as_str();
    let parsed = match c.node.op_type.as_str() {
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
        _ => return Ok(None),
    };
    parsed.map(Some)
}
