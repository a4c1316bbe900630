//! array: data movement and shape operators (tract-onnx's `ops::array`).
//! `parse` gives None for an operator of another family.

use super::*;

/// The operator of `c`'s node when it belongs to this family.
pub(super) fn parse(c: &Ctx<'_>) -> Result<Option<Parsed>> {
    let op_type = c.node.op_type.as_str();
    let opset = c.opset;
    let node = c.node;
    let all_dyn = c.all_dyn();
    let parsed = match c.node.op_type.as_str() {
        "Flatten" => {
            let x = c.shape(0)?;
            let axis = crate::fold::flatten_axis(c.int("axis", 1)?, x.len())
                .ok_or_else(|| c.err("axis out of range"))?;
            let shape = vec![x[..axis].iter().product(), x[axis..].iter().product()];
            Ok(Parsed {
                op: Op::Reshape {
                    shape: shape.clone(),
                },
                operands: vec![0],
                shape,
                dtype: c.input(0)?.dtype(),
            })
        }
        "Reshape" => {
            let x = c.shape(0)?;
            let spec = if opset < 5 {
                c.ints("shape")?
                    .ok_or_else(|| c.err("shape attribute missing"))?
            } else {
                c.const_ints(1, "the target shape")?
            };
            let shape = reshape_target(x, &spec)
                .ok_or_else(|| c.err(format!("cannot reshape {x:?} to {spec:?}")))?;
            Ok(Parsed {
                op: Op::Reshape {
                    shape: shape.clone(),
                },
                operands: vec![0],
                shape,
                dtype: c.input(0)?.dtype(),
            })
        }
        "Squeeze" | "Unsqueeze" => {
            let x = c.shape(0)?;
            let axes = if opset < 13 {
                c.ints("axes")?
            } else if c.has(1) {
                Some(c.const_ints(1, "axes")?)
            } else {
                None
            };
            let shape = if op_type == "Squeeze" {
                let axes: Vec<usize> = match axes {
                    Some(a) => a
                        .iter()
                        .map(|&a| c.axis(a, x.len()))
                        .collect::<Result<_>>()?,
                    None => (0..x.len()).filter(|&i| x[i] == 1).collect(),
                };
                x.iter()
                    .enumerate()
                    .filter(|(i, _)| !axes.contains(i))
                    .map(|(_, &d)| d)
                    .collect()
            } else {
                let axes = axes.ok_or_else(|| c.err("axes are required"))?;
                let r = x.len() + axes.len();
                let mut axes: Vec<usize> =
                    axes.iter().map(|&a| c.axis(a, r)).collect::<Result<_>>()?;
                axes.sort();
                let mut shape = x.to_vec();
                for a in axes {
                    shape.insert(a, 1);
                }
                shape
            };
            Ok(Parsed {
                op: Op::Reshape {
                    shape: shape.clone(),
                },
                operands: vec![0],
                shape,
                dtype: c.input(0)?.dtype(),
            })
        }
        "Transpose" => {
            let x = c.shape(0)?;
            let perm: Vec<usize> = match c.ints("perm")? {
                Some(p) => p
                    .iter()
                    .map(|&a| c.axis(a, x.len()))
                    .collect::<Result<_>>()?,
                None => (0..x.len()).rev().collect(),
            };
            let mut sorted = perm.clone();
            sorted.sort();
            if sorted != (0..x.len()).collect::<Vec<_>>() {
                return Err(c.err(format!("perm {perm:?} is not a permutation")));
            }
            let shape = perm.iter().map(|&p| x[p]).collect();
            Ok(Parsed {
                op: Op::Transpose { perm },
                operands: vec![0],
                shape,
                dtype: c.input(0)?.dtype(),
            })
        }
        "Concat" => {
            let first = c.shape(0)?.to_vec();
            let axis = c.axis(c.int("axis", 0)?, first.len())?;
            let mut shape = first.clone();
            shape[axis] = 0;
            for &i in &all_dyn {
                let s = c.shape(i)?;
                if s.len() != first.len() || (0..s.len()).any(|d| d != axis && s[d] != first[d]) {
                    return Err(c.err(format!(
                        "input shapes {first:?} and {s:?} cannot be concatenated on axis {axis}"
                    )));
                }
                shape[axis] += s[axis];
            }
            let dtype = c.input(0)?.dtype();
            Ok(Parsed {
                op: Op::Concat { axis },
                operands: all_dyn,
                shape,
                dtype,
            })
        }
        "Slice" => {
            let x = c.shape(0)?.to_vec();
            let (starts, ends, axes, steps) = if opset < 10 {
                (
                    c.ints("starts")?.unwrap_or_default(),
                    c.ints("ends")?.unwrap_or_default(),
                    c.ints("axes")?,
                    None,
                )
            } else {
                (
                    c.const_ints(1, "starts")?,
                    c.const_ints(2, "ends")?,
                    if c.has(3) {
                        Some(c.const_ints(3, "axes")?)
                    } else {
                        None
                    },
                    if c.has(4) {
                        Some(c.const_ints(4, "steps")?)
                    } else {
                        None
                    },
                )
            };
            let axes: Vec<usize> = match axes {
                Some(a) => a
                    .iter()
                    .map(|&a| c.axis(a, x.len()))
                    .collect::<Result<_>>()?,
                None => (0..starts.len()).collect(),
            };
            let mut s = vec![0; x.len()];
            let mut e = x.clone();
            let mut st = vec![1; x.len()];
            for (k, &a) in axes.iter().enumerate() {
                let step = steps.as_ref().map(|v| v[k]).unwrap_or(1);
                if step <= 0 {
                    return Err(c.unsupported("Slice with a non-positive step"));
                }
                let dim = x[a] as i64;
                let clampi =
                    |v: i64| -> usize { (if v < 0 { v + dim } else { v }).clamp(0, dim) as usize };
                s[a] = clampi(starts[k]);
                e[a] = clampi(ends[k]).max(s[a]);
                st[a] = step as usize;
            }
            let shape = (0..x.len())
                .map(|d| (e[d] - s[d]).div_ceil(st[d]))
                .collect();
            Ok(Parsed {
                op: Op::Slice {
                    starts: s,
                    ends: e,
                    steps: st,
                },
                operands: vec![0],
                shape,
                dtype: c.input(0)?.dtype(),
            })
        }
        "Gather" => {
            let x = c.shape(0)?;
            let idx = c.shape(1)?;
            let axis = c.axis(c.int("axis", 0)?, x.len())?;
            let shape = [&x[..axis], idx, &x[axis + 1..]].concat();
            Ok(Parsed {
                op: Op::Gather { axis },
                operands: vec![0, 1],
                shape,
                dtype: c.input(0)?.dtype(),
            })
        }
        "GatherElements" => {
            let x = c.shape(0)?;
            let idx = c.shape(1)?.to_vec();
            let axis = c.axis(c.int("axis", 0)?, x.len())?;
            if idx.len() != x.len() {
                return Err(c.err("data and indices must have the same rank"));
            }
            Ok(Parsed {
                op: Op::GatherElements { axis },
                operands: vec![0, 1],
                shape: idx,
                dtype: c.input(0)?.dtype(),
            })
        }
        "Cast" => {
            let to = c.int("to", 1)?;
            let to = match to {
                1 | 10 | 11 | 16 => DType::Float,
                9 => DType::Bool,
                2..=7 | 12 | 13 => DType::Int,
                _ => return Err(c.unsupported(format!("Cast to type {to}"))),
            };
            Ok(Parsed {
                op: Op::Cast { to },
                operands: vec![0],
                shape: c.shape(0)?.to_vec(),
                dtype: to,
            })
        }
        "Pad" => {
            let x = c.shape(0)?.to_vec();
            let mode = match node.attrs.get("mode") {
                Some(Attr::Str(m)) => m.clone(),
                _ => "constant".into(),
            };
            if mode != "constant" {
                return Err(c.unsupported(format!("Pad mode {mode:?} (only constant)")));
            }
            let (pads, value) = if opset < 11 {
                (
                    c.ints("pads")?
                        .ok_or_else(|| c.err("pads attribute missing"))?,
                    c.float("value", 0.0)?,
                )
            } else {
                if c.has(3) {
                    return Err(c.unsupported("Pad with an axes input"));
                }
                let v = if c.has(2) {
                    c.constant(2, "the pad value")?
                        .tensor
                        .data
                        .first()
                        .copied()
                        .unwrap_or(0.0)
                } else {
                    0.0
                };
                (c.const_ints(1, "pads")?, v)
            };
            let r = x.len();
            if pads.len() != 2 * r || pads.iter().any(|&p| p < 0) {
                return Err(c.unsupported(format!(
                    "pads {pads:?} (need {} non-negative values)",
                    2 * r
                )));
            }
            let begins: Vec<usize> = pads[..r].iter().map(|&p| p as usize).collect();
            let ends: Vec<usize> = pads[r..].iter().map(|&p| p as usize).collect();
            let shape = (0..r).map(|d| x[d] + begins[d] + ends[d]).collect();
            Ok(Parsed {
                op: Op::Pad {
                    begins,
                    ends,
                    value,
                },
                operands: vec![0],
                shape,
                dtype: c.input(0)?.dtype(),
            })
        }
        "Shape" => {
            let r = c.shape(0)?.len();
            Ok(Parsed {
                op: Op::Shape,
                operands: vec![0],
                shape: vec![r],
                dtype: DType::Int,
            })
        }
        _ => return Ok(None),
    };
    parsed.map(Some)
}

/// Constant padding: positions outside the source get `fill`.
pub fn pad<T: Copy>(x: &Tensor<T>, begins: &[usize], out_shape: &[usize], fill: T) -> Vec<T> {
    let xs = strides(&x.shape);
    MultiIndex::new(out_shape)
        .map(|idx| {
            let mut off = 0;
            for d in 0..idx.len() {
                if idx[d] < begins[d] || idx[d] - begins[d] >= x.shape[d] {
                    return fill;
                }
                off += (idx[d] - begins[d]) * xs[d];
            }
            x.data[off]
        })
        .collect()
}

pub fn concat<T: Copy>(inputs: &[&Tensor<T>], axis: usize) -> Vec<T> {
    let outer: usize = inputs[0].shape[..axis].iter().product();
    let mut y = Vec::with_capacity(inputs.iter().map(|t| t.len()).sum());
    for o in 0..outer {
        for t in inputs {
            let block: usize = t.shape[axis..].iter().product();
            y.extend_from_slice(&t.data[o * block..(o + 1) * block]);
        }
    }
    y
}

/// For each output element of a Gather, the flat offset into the data (None: index out of range).
pub fn gather_map(data_shape: &[usize], indices: &Tensor<f64>, axis: usize) -> Vec<Option<usize>> {
    let outer: usize = data_shape[..axis].iter().product();
    let n = data_shape[axis];
    let inner: usize = data_shape[axis + 1..].iter().product();
    let mut m = Vec::with_capacity(outer * indices.len() * inner);
    for o in 0..outer {
        for &ix in &indices.data {
            let ix = ix as i64;
            let ix = if ix < 0 { ix + n as i64 } else { ix };
            for i in 0..inner {
                m.push(
                    (0..n as i64)
                        .contains(&ix)
                        .then(|| o * n * inner + ix as usize * inner + i),
                );
            }
        }
    }
    m
}

pub fn gather_elements_map(
    data_shape: &[usize],
    indices: &Tensor<f64>,
    axis: usize,
) -> Vec<Option<usize>> {
    let ds = strides(data_shape);
    let n = data_shape[axis] as i64;
    MultiIndex::new(&indices.shape)
        .zip(&indices.data)
        .map(|(idx, &ix)| {
            let ix = ix as i64;
            let ix = if ix < 0 { ix + n } else { ix };
            if !(0..n).contains(&ix)
                || idx
                    .iter()
                    .zip(data_shape)
                    .enumerate()
                    .any(|(d, (&i, &s))| d != axis && i >= s)
            {
                return None;
            }
            Some(
                idx.iter()
                    .enumerate()
                    .map(|(d, &i)| if d == axis { ix as usize } else { i } * ds[d])
                    .sum(),
            )
        })
        .collect()
}
