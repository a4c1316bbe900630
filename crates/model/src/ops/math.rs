//! math: Gemm, MatMul, the element-wise binary operators, the unary functions (Relu,
//! Sigmoid, Tanh, Erf, Exp, Sqrt, Reciprocal, Neg, Abs) and Clip (tract-onnx's `ops::math`).
//! `parse` gives None for an operator of another family.

use super::*;

/// The operator of `c`'s node when it belongs to this family.
pub(super) fn parse(c: &Ctx<'_>) -> Result<Option<Parsed>> {
    let op_type = c.node.op_type.as_str();
    let opset = c.opset;
    let inputs = c.inputs;
    let node = c.node;
    let parsed = match c.node.op_type.as_str() {
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
        _ => return Ok(None),
    };
    parsed.map(Some)
}
