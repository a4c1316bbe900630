//! array: Expand of a tensor computed from the input, to a constant shape, as a Reshape and
//! Gathers with constant indices (data movement: the same integers, no rounding), and Trilu as a
//! Mul by a constant 0/1 mask, and Resize/Upsample (nearest) as Gathers of source indices.

use super::{Builder, Ref};
use crate::error::Result;
use crate::fold::MAX_FOLDED_ELEMENTS;
use crate::onnx::Attr;
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

/// `Resize` (and the older `Upsample`) in `nearest` mode, scales or sizes constant: on each axis
/// whose size changes, a `Gather` of the source index of every output position, computed as
/// ONNX does (`coordinate_transformation_mode`: half_pixel, asymmetric, align_corners,
/// pytorch_half_pixel, tf_half_pixel_for_nn; `nearest_mode`: round_prefer_floor,
/// round_prefer_ceil, floor, ceil), clamped to the input. Data movement: exact. The linear mode
/// (bilinear, trilinear) interpolates each such axis by a Gemm ([`interpolate_axis`]); cubic,
/// antialias and tf_crop_and_resize are refused.
pub fn resize(b: &mut Builder<'_>) -> Result<Ref> {
    let x = b.input(0)?;
    let xs = b.shape(&x);
    let rank = xs.len();
    let upsample = b.node.op_type == "Upsample";
    let mode = b.string("mode", "nearest")?;
    let linear = match mode.as_str() {
        "nearest" => false,
        "linear" | "bilinear" | "trilinear" => true,
        _ => return Err(b.unsupported(format!("mode {mode:?} (nearest and linear only)"))),
    };
    if linear && b.dtype(&x) != DType::Float {
        return Err(b.unsupported("linear interpolation of an integer tensor"));
    }
    if linear && b.int("antialias", 0)? != 0 {
        return Err(b.unsupported("antialias (opset 18)"));
    }
    if linear
        && b.opset >= 11
        && !upsample
        && b.string("coordinate_transformation_mode", "half_pixel")? == "tf_half_pixel_for_nn"
    {
        return Err(b.unsupported(
            "coordinate_transformation_mode tf_half_pixel_for_nn with mode linear (ONNX defines it for nearest only)",
        ));
    }
    let constant_floats = |b: &Builder<'_>, i: usize| -> Result<Option<Vec<f64>>> {
        if !b.has(i) {
            return Ok(None);
        }
        let c = b.constant(i).ok_or_else(|| {
            b.unsupported(format!("input #{i} (scales or sizes) must be a constant"))
        })?;
        Ok((!c.tensor.data.is_empty()).then(|| c.tensor.data.clone()))
    };
    // (scales, sizes) by opset: Upsample 7-8 attribute, Upsample 9 / Resize 10 input #1,
    // Resize 11+ inputs #2 and #3
    let (scales, sizes) = if upsample && b.opset < 9 {
        match b.node.attrs.get("scales") {
            Some(Attr::Floats(v)) => (Some(v.iter().map(|&f| f as f64).collect()), None),
            _ => return Err(b.err("attribute scales missing")),
        }
    } else if upsample || b.opset < 11 {
        (constant_floats(b, 1)?, None)
    } else {
        (constant_floats(b, 2)?, constant_floats(b, 3)?)
    };
    if b.node.attrs.contains_key("axes") {
        return Err(b.unsupported("the axes attribute (opset 18)"));
    }
    let policy = b.string("keep_aspect_ratio_policy", "stretch")?;
    if policy != "stretch" {
        return Err(b.unsupported(format!("keep_aspect_ratio_policy {policy}")));
    }
    let out: Vec<usize> = match (&sizes, &scales) {
        (Some(s), _) if s.len() == rank => s.iter().map(|&v| v as usize).collect(),
        (None, Some(s)) if s.len() == rank => xs
            .iter()
            .zip(s)
            // in f32, as onnxruntime and torch compute it (f32(2.3)·10 is 23 in f32, 22.99..
            // in f64)
            .map(|(&d, &f)| (d as f32 * f as f32).floor() as usize)
            .collect(),
        _ => return Err(b.err(format!("scales or sizes must give all {rank} axes"))),
    };
    let scale_of = |a: usize| match (&sizes, &scales) {
        (None, Some(s)) => s[a],
        _ => out[a] as f64 / xs[a] as f64,
    };
    let ctm = if upsample || b.opset < 11 {
        "asymmetric".to_string()
    } else {
        b.string("coordinate_transformation_mode", "half_pixel")?
    };
    let nearest = if upsample || b.opset < 11 {
        "floor".to_string()
    } else {
        b.string("nearest_mode", "round_prefer_floor")?
    };
    let mut y = x;
    let mut shape = xs.clone();
    for a in 0..rank {
        if out[a] == 0 {
            return Err(b.err(format!("axis {a} resizes to 0")));
        }
        if (upsample || b.opset < 11) && out[a] < xs[a] {
            // onnxruntime rounds these opsets' downsampling its own way
            return Err(b.unsupported(format!("downsampling axis {a} before opset 11")));
        }
        let (len_in, len_out, s) = (xs[a] as f64, out[a] as f64, scale_of(a));
        let mut idx = Vec::with_capacity(out[a]);
        for i in 0..out[a] {
            let i = i as f64;
            let orig = match ctm.as_str() {
                "half_pixel" => (i + 0.5) / s - 0.5,
                "pytorch_half_pixel" if len_out > 1.0 => (i + 0.5) / s - 0.5,
                "pytorch_half_pixel" => 0.0,
                "asymmetric" => i / s,
                "align_corners" if len_out > 1.0 => i * (len_in - 1.0) / (len_out - 1.0),
                "align_corners" => 0.0,
                "tf_half_pixel_for_nn" => (i + 0.5) / s,
                other => {
                    return Err(b.unsupported(format!("coordinate_transformation_mode {other}")))
                }
            };
            if linear {
                // ONNX's linear mode clamps the source coordinate to the input
                idx.push(orig.clamp(0.0, len_in - 1.0));
                continue;
            }
            let k = match nearest.as_str() {
                "round_prefer_floor" if orig.fract().abs() == 0.5 => orig.floor(),
                "round_prefer_ceil" if orig.fract().abs() == 0.5 => orig.ceil(),
                "round_prefer_floor" | "round_prefer_ceil" => orig.round(),
                "floor" => orig.floor(),
                "ceil" => orig.ceil(),
                other => return Err(b.unsupported(format!("nearest_mode {other}"))),
            };
            idx.push(k.clamp(0.0, len_in - 1.0));
        }
        if idx.iter().enumerate().all(|(i, &k)| k == i as f64) && out[a] == xs[a] {
            continue; // this axis maps every position to itself
        }
        if linear {
            y = interpolate_axis(b, y, a, xs[a], &idx)?;
            shape[a] = out[a];
            continue;
        }
        shape[a] = out[a];
        let dtype = b.dtype(&y);
        y = b.push(
            &format!("axis{a}"),
            Op::Gather { axis: a },
            vec![
                y,
                Ref::Const(Const {
                    dtype: DType::Int,
                    tensor: Tensor::new(vec![out[a]], idx),
                }),
            ],
            shape.clone(),
            dtype,
        );
    }
    Ok(y)
}

/// Linear interpolation along `axis` (of length `len`) at the source coordinates `at` (one per
/// output position, within `[0, len − 1]`): `y_j = (1 − f)·x_⌊at_j⌋ + f·x_⌊at_j⌋+1`, a constant
/// `[len, out]` matrix applied by one Gemm over the rows of a `[rest, len]` view (Reshapes),
/// the axis moved last and back by Transposes when it is not last. One rounding, in the Gemm.
fn interpolate_axis(
    b: &mut Builder<'_>,
    x: Ref,
    axis: usize,
    len: usize,
    at: &[f64],
) -> Result<Ref> {
    let n = at.len();
    let mut m = vec![0.0; len * n];
    for (j, &c) in at.iter().enumerate() {
        let lo = (c.floor() as usize).min(len - 1);
        let hi = (lo + 1).min(len - 1);
        let f = c - lo as f64;
        m[lo * n + j] += 1.0 - f;
        m[hi * n + j] += f;
    }
    let rank = b.shape(&x).len();
    let last = rank - 1;
    let mut perm: Vec<usize> = (0..rank).collect();
    perm.swap(axis, last);
    let moved = if axis == last {
        x
    } else {
        transpose(b, &format!("axis{axis}_last"), x, &perm)
    };
    // the Gemm reads rows: the tensor is viewed as [rest, len] (a Gemm over a rank-4 tensor's
    // pixels has no circuit)
    let mut shape = b.shape(&moved);
    let rows = shape[..last].iter().product::<usize>();
    let flat = b.reshape(&format!("axis{axis}_rows"), &moved, vec![rows, len]);
    let y = b.push(
        &format!("axis{axis}_interpolate"),
        Op::Gemm {
            weight: Tensor::new(vec![len, n], m),
            bias: vec![0.0; n],
        },
        vec![flat],
        vec![rows, n],
        DType::Float,
    );
    shape[last] = n;
    let y = b.reshape(&format!("axis{axis}_unrows"), &y, shape);
    Ok(if axis == last {
        y
    } else {
        transpose(b, &format!("axis{axis}_back"), y, &perm)
    })
}

/// `Transpose(x, perm)`.
pub(super) fn transpose(b: &mut Builder<'_>, part: &str, x: Ref, perm: &[usize]) -> Ref {
    let xs = b.shape(&x);
    let dtype = b.dtype(&x);
    let shape = perm.iter().map(|&p| xs[p]).collect();
    b.push(
        part,
        Op::Transpose {
            perm: perm.to_vec(),
        },
        vec![x],
        shape,
        dtype,
    )
}

/// A Gather along `axis` of the constant source indices `src` (one per output position).
fn gather_axis(b: &mut Builder<'_>, part: &str, x: Ref, axis: usize, src: Vec<usize>) -> Ref {
    let mut shape = b.shape(&x);
    let dtype = b.dtype(&x);
    shape[axis] = src.len();
    let indices = Ref::Const(Const {
        dtype: DType::Int,
        tensor: Tensor::new(vec![src.len()], src.iter().map(|&i| i as f64).collect()),
    });
    b.push(part, Op::Gather { axis }, vec![x, indices], shape, dtype)
}

/// `Pad` in `edge`, `reflect` or `wrap` mode (the constant mode is an operator of its own): on
/// each axis with padding, a Gather of the source index of every output position, `i − begin`
/// clamped (`edge`), mirrored without repeating the border (`reflect`) or taken modulo the
/// length (`wrap`). Data movement: exact. Pads (and opset 18's axes) must be constants and not
/// negative.
pub fn pad(b: &mut Builder<'_>) -> Result<Ref> {
    let x = b.input(0)?;
    let xs = b.shape(&x);
    let rank = xs.len();
    let mode = b.string("mode", "constant")?;
    let pads: Vec<i64> = if b.opset < 11 {
        match b.node.attrs.get("pads") {
            Some(Attr::Ints(v)) => v.clone(),
            _ => return Err(b.err("attribute pads is missing")),
        }
    } else {
        let c = b
            .constant(1)
            .ok_or_else(|| b.unsupported("pads (input #1) must be a constant"))?;
        c.tensor.data.iter().map(|&v| v as i64).collect()
    };
    let axes: Vec<usize> = if b.has(3) {
        let c = b
            .constant(3)
            .ok_or_else(|| b.unsupported("axes (input #3) must be a constant"))?;
        let mut v = Vec::new();
        for &a in &c.tensor.data {
            v.push(
                crate::tensor::norm_axis(a as i64, rank)
                    .ok_or_else(|| b.err(format!("axis {a} out of range for rank {rank}")))?,
            );
        }
        v
    } else {
        (0..rank).collect()
    };
    if pads.len() != 2 * axes.len() {
        return Err(b.err(format!(
            "pads {pads:?}: expected {} values for axes {axes:?}",
            2 * axes.len()
        )));
    }
    if pads.iter().any(|&p| p < 0) {
        return Err(b.unsupported(format!(
            "pads {pads:?}: negative pads (a crop) are not supported"
        )));
    }
    let mut cur = x;
    for (k, &axis) in axes.iter().enumerate() {
        let (begin, end) = (pads[k], pads[axes.len() + k]);
        if begin == 0 && end == 0 {
            continue;
        }
        let n = xs[axis] as i64;
        let len = n + begin + end;
        if n == 0 || len <= 0 {
            return Err(b.err(format!(
                "pads {pads:?} leave axis {axis} of length {n} empty"
            )));
        }
        if mode == "reflect" && (begin >= n || end >= n) {
            return Err(b.unsupported(format!(
                "reflect pads {begin}, {end} on an axis of length {n} (each must be below it)"
            )));
        }
        let src: Vec<usize> = (0..len)
            .map(|j| {
                let i = j - begin;
                (match mode.as_str() {
                    "edge" => i.clamp(0, n - 1),
                    "reflect" => {
                        if i < 0 {
                            -i
                        } else if i >= n {
                            2 * (n - 1) - i
                        } else {
                            i
                        }
                    }
                    _ => i.rem_euclid(n),
                }) as usize
            })
            .collect();
        cur = gather_axis(b, &format!("pad_axis{axis}"), cur, axis, src);
    }
    if matches!(cur, Ref::In(_)) {
        let shape = b.shape(&cur);
        let dtype = b.dtype(&cur);
        cur = b.push(
            "pad",
            Op::Reshape {
                shape: shape.clone(),
            },
            vec![cur],
            shape,
            dtype,
        );
    }
    Ok(cur)
}

/// `DepthToSpace` (DCR and CRD modes) and `SpaceToDepth` on `[N, C, H, W]` with block `s`: the
/// Reshape to rank 6, Transpose and Reshape back that ONNX defines them by. Data movement.
pub fn depth_space(b: &mut Builder<'_>) -> Result<Ref> {
    let x = b.input(0)?;
    let xs = b.shape(&x);
    let dtype = b.dtype(&x);
    if xs.len() != 4 {
        return Err(b.err(format!("input of shape {xs:?}; expected [N, C, H, W]")));
    }
    let s = usize::try_from(b.int("blocksize", 0)?)
        .ok()
        .filter(|&s| s > 0)
        .ok_or_else(|| b.err("blocksize must be positive"))?;
    let (n, c, h, w) = (xs[0], xs[1], xs[2], xs[3]);
    let (six, perm, out) = if b.node.op_type == "DepthToSpace" {
        if c % (s * s) != 0 {
            return Err(b.err(format!(
                "{c} channels are not a multiple of blocksize² = {}",
                s * s
            )));
        }
        let cs = c / (s * s);
        let out = vec![n, cs, h * s, w * s];
        match b.string("mode", "DCR")?.as_str() {
            "DCR" => (vec![n, s, s, cs, h, w], vec![0, 3, 4, 1, 5, 2], out),
            "CRD" => (vec![n, cs, s, s, h, w], vec![0, 1, 4, 2, 5, 3], out),
            m => return Err(b.err(format!("mode {m:?}"))),
        }
    } else {
        if h % s != 0 || w % s != 0 {
            return Err(b.err(format!("{h} x {w} is not a multiple of blocksize {s}")));
        }
        (
            vec![n, c, h / s, s, w / s, s],
            vec![0, 3, 5, 1, 2, 4],
            vec![n, c * s * s, h / s, w / s],
        )
    };
    let split = b.push(
        "blocks",
        Op::Reshape { shape: six.clone() },
        vec![x],
        six.clone(),
        dtype,
    );
    let moved: Vec<usize> = perm.iter().map(|&p| six[p]).collect();
    let t = b.push("move", Op::Transpose { perm }, vec![split], moved, dtype);
    Ok(b.push(
        "merge",
        Op::Reshape { shape: out.clone() },
        vec![t],
        out,
        dtype,
    ))
}

/// `OneHot(indices, depth, values)` (`depth` and `values = [off, on]` constants): `Equal` of the
/// indices, unsqueezed at `axis`, with the constant `0..depth` (a negative index counts from the
/// end: `i + depth · [i < 0]` first), then `off + (on − off) · eq`. Exact.
pub fn one_hot(b: &mut Builder<'_>) -> Result<Ref> {
    use crate::ops::{BinaryKind, CompareKind};
    let idx = b.input(0)?;
    let is = b.shape(&idx);
    let depth = b
        .constant(1)
        .and_then(|c| c.tensor.data.first().copied())
        .ok_or_else(|| b.unsupported("depth (input #1) must be a constant"))?;
    if !(depth >= 1.0 && depth.fract() == 0.0) {
        return Err(b.err(format!("depth {depth} is not a positive integer")));
    }
    let depth = depth as usize;
    let values = b
        .constant(2)
        .ok_or_else(|| b.unsupported("values (input #2) must be a constant"))?
        .clone();
    let [off, on] = values.tensor.data[..] else {
        return Err(b.err(format!(
            "values has {} elements, not 2",
            values.tensor.len()
        )));
    };
    let rank = is.len() + 1;
    let axis = crate::tensor::norm_axis(b.int("axis", -1)?, rank)
        .ok_or_else(|| b.err(format!("axis out of range for rank {rank}")))?;
    let int = |v: f64| {
        Ref::Const(Const {
            dtype: DType::Int,
            tensor: Tensor::scalar(v),
        })
    };
    let negative = b.compare("negative", CompareKind::Less, &idx, &int(0.0))?;
    let wrap = b.binary_as(
        "wrap",
        BinaryKind::Mul,
        &negative,
        &int(depth as f64),
        DType::Int,
    )?;
    let idx = b.binary_as("index", BinaryKind::Add, &idx, &wrap, DType::Int)?;
    let mut lifted = is.clone();
    lifted.insert(axis, 1);
    let idx = b.push(
        "lifted",
        Op::Reshape {
            shape: lifted.clone(),
        },
        vec![idx],
        lifted,
        DType::Int,
    );
    let mut range_shape = vec![1; rank];
    range_shape[axis] = depth;
    let range = Ref::Const(Const {
        dtype: DType::Int,
        tensor: Tensor::new(range_shape, (0..depth).map(|v| v as f64).collect()),
    });
    let eq = b.compare("hot", CompareKind::Equal, &idx, &range)?;
    let dtype = values.dtype;
    let scaled = b.binary_as(
        "scaled",
        BinaryKind::Mul,
        &eq,
        &Ref::Const(Const {
            dtype,
            tensor: Tensor::scalar(on - off),
        }),
        dtype,
    )?;
    if off == 0.0 {
        return Ok(scaled);
    }
    b.binary_as(
        "one_hot",
        BinaryKind::Add,
        &scaled,
        &Ref::Const(Const {
            dtype,
            tensor: Tensor::scalar(off),
        }),
        dtype,
    )
}

/// The most elements a one-hot lowering (TopK's pairwise comparisons, a scatter's positions x
/// updates) may build: beyond it the model is refused at load time, by name.
pub const MAX_ONE_HOT_ELEMENTS: usize = 1 << 22;

/// Refuses a lowering whose one-hot tensor would hold more than [`MAX_ONE_HOT_ELEMENTS`].
fn one_hot_budget(b: &Builder<'_>, what: &str, elements: usize) -> Result<()> {
    if elements > MAX_ONE_HOT_ELEMENTS {
        return Err(b.unsupported(format!(
            "{what} needs {elements} elements, more than the {MAX_ONE_HOT_ELEMENTS} a lowering may build"
        )));
    }
    Ok(())
}

/// `TopK(x, k)` along `axis`, by ranks: element `i`'s rank is the number of elements that come
/// before it, `Σ_j [x_j > x_i] + Σ_{j < i} [x_j = x_i]` (`<` for `largest = 0`; equal values in
/// index order, as ONNX sorts them), from two broadcast comparisons of the lane against itself
/// (`n²` per lane), a Mul by the constant `[j < i]` and a ReduceSum. Output `r` selects the
/// element of rank `r`: `values_r = Σ_i [rank_i = r]·x_i`, `indices_r = Σ_i [rank_i = r]·i`
/// (Mul and ReduceSum; one term is not 0, so both are exact). `sorted = 0` gives the same
/// (sorted) order, which ONNX allows. `k` must be a constant.
pub fn top_k(b: &mut Builder<'_>) -> Result<Vec<Ref>> {
    use crate::ops::{BinaryKind, CompareKind};
    let x = b.input(0)?;
    let xs = b.shape(&x);
    let axis = crate::tensor::norm_axis(b.int("axis", -1)?, xs.len())
        .ok_or_else(|| b.err(format!("axis out of range for rank {}", xs.len())))?;
    let k = if b.opset >= 10 {
        let c = b
            .constant(1)
            .ok_or_else(|| b.unsupported("k (input #1) must be a constant"))?;
        match c.tensor.data[..] {
            [k] => k,
            _ => return Err(b.err(format!("k has {} elements, not 1", c.tensor.len()))),
        }
    } else {
        b.int("k", -1)? as f64
    };
    let n = xs[axis];
    if !(k >= 1.0 && k.fract() == 0.0 && k <= n as f64) {
        return Err(b.err(format!("k = {k} is not in 1..={n} (the axis' size)")));
    }
    let k = k as usize;
    let lanes: usize = xs.iter().product::<usize>() / n.max(1);
    one_hot_budget(b, "TopK's pairwise comparison", lanes * n * n)?;
    let better = if b.int("largest", 1)? != 0 {
        CompareKind::Greater
    } else {
        CompareKind::Less
    };
    // element i on `axis`, element j on the axis after it
    let with = |extra: usize, at: usize| {
        let mut s = xs.clone();
        s.insert(at, extra);
        s
    };
    let xi = b.reshape("as_i", &x, with(1, axis + 1));
    let xj = b.reshape("as_j", &x, with(1, axis));
    let beats = b.compare("beats", better, &xj, &xi)?;
    let ties = b.compare("ties", CompareKind::Equal, &xj, &xi)?;
    let mut before_shape = vec![1; xs.len() + 1];
    before_shape[axis] = n;
    before_shape[axis + 1] = n;
    let before = super::int_const(Tensor::new(
        before_shape,
        (0..n * n)
            .map(|ij| ((ij % n) < (ij / n)) as u8 as f64)
            .collect(),
    ));
    let ties_before = b.binary_as("ties_before", BinaryKind::Mul, &ties, &before, DType::Int)?;
    let ahead = b.binary_as("ahead", BinaryKind::Add, &beats, &ties_before, DType::Int)?;
    let rank = b.reduce_sum("rank", &ahead, vec![axis + 1], true);
    let mut ranks_shape = vec![1; xs.len() + 1];
    ranks_shape[axis + 1] = k;
    let selects = b.compare(
        "selects",
        CompareKind::Equal,
        &rank,
        &super::int_range(ranks_shape),
    )?;
    let picked = b.binary("picked", BinaryKind::Mul, &selects, &xi)?;
    let values = b.reduce_sum("values", &picked, vec![axis], false);
    let mut index_shape = vec![1; xs.len() + 1];
    index_shape[axis] = n;
    let at = b.binary_as(
        "picked_index",
        BinaryKind::Mul,
        &selects,
        &super::int_range(index_shape),
        DType::Int,
    )?;
    let indices = b.reduce_sum("indices", &at, vec![axis], false);
    Ok(vec![values, indices])
}

/// The position `Σ_k index_k · stride_k` in the row-major order of `dims` of the index tuples
/// along `indices`' last axis (`dims.len()` of them), each checked and normalised first by a
/// Gather from the constant `0..dims[k]` (a negative index counts from the end, one out of
/// range is refused at run time, as ONNX refuses it). Returns the positions, of shape
/// `indices.shape[..last]`, an integer tensor.
fn flat_positions(b: &mut Builder<'_>, indices: &Ref, dims: &[usize]) -> Result<Ref> {
    use crate::ops::BinaryKind;
    let is = b.shape(indices);
    let last = is.len() - 1;
    let mut flat: Option<Ref> = None;
    let mut stride: usize = dims.iter().product();
    if let Some(k) = dims.iter().position(|&d| d == 0) {
        return Err(b.err(format!(
            "index component {k} addresses an axis of size 0 (no element to index)"
        )));
    }
    for (k, &d) in dims.iter().enumerate() {
        stride /= d;
        let component = b.gather(
            &format!("index{k}"),
            indices,
            &super::int_const(Tensor::scalar(k as f64)),
            last,
        );
        let checked = b.gather(
            &format!("index{k}_checked"),
            &super::int_range(vec![d]),
            &component,
            0,
        );
        let term = if stride == 1 {
            checked
        } else {
            b.binary_as(
                &format!("index{k}_offset"),
                BinaryKind::Mul,
                &checked,
                &super::int_const(Tensor::scalar(stride as f64)),
                DType::Int,
            )?
        };
        flat = Some(match flat {
            None => term,
            Some(f) => b.binary_as(
                &format!("position{k}"),
                BinaryKind::Add,
                &f,
                &term,
                DType::Int,
            )?,
        });
    }
    flat.ok_or_else(|| b.err("the index tuples are empty (the indices' last axis is 0)"))
}

/// The integer input `i`, an index tensor.
fn index_input(b: &Builder<'_>, i: usize) -> Result<Ref> {
    let r = b.input(i)?;
    if b.dtype(&r) != DType::Int {
        return Err(b.err(format!("indices (input #{i}) must be integers")));
    }
    Ok(r)
}

/// `GatherND(data, indices, batch_dims)`: the index tuples (the indices' last axis, `r` long)
/// become positions in the first `batch_dims + r` axes of `data` ([`flat_positions`], plus each
/// batch's offset, a constant), `data` is viewed as `[those positions, rest..]` (a Reshape)
/// and one Gather along axis 0 reads the slices. Output `indices.shape[..-1] + data.shape[b + r..]`.
pub fn gather_nd(b: &mut Builder<'_>) -> Result<Ref> {
    use crate::ops::BinaryKind;
    let (data, indices) = (b.input(0)?, index_input(b, 1)?);
    let (ds, is) = (b.shape(&data), b.shape(&indices));
    let batch = b.int("batch_dims", 0)?;
    let r = is.last().copied().unwrap_or(0);
    if batch < 0 || is.len() < batch as usize + 1 || ds.len() < batch as usize + r || r == 0 {
        return Err(b.err(format!(
            "indices {is:?} with batch_dims {batch} do not index data {ds:?}"
        )));
    }
    let batch = batch as usize;
    if is[..batch] != ds[..batch] {
        return Err(b.err(format!(
            "the batch axes of indices {is:?} and data {ds:?} differ"
        )));
    }
    let mut flat = flat_positions(b, &indices, &ds[batch..batch + r])?;
    if batch > 0 {
        let per_batch: usize = ds[batch..batch + r].iter().product();
        let tuples: usize = is[batch..is.len() - 1].iter().product();
        let shape = is[..is.len() - 1].to_vec();
        let n: usize = shape.iter().product();
        let offsets = Tensor::new(
            shape,
            (0..n).map(|p| ((p / tuples) * per_batch) as f64).collect(),
        );
        flat = b.binary_as(
            "position",
            BinaryKind::Add,
            &flat,
            &super::int_const(offsets),
            DType::Int,
        )?;
    }
    let rows: usize = ds[..batch + r].iter().product();
    let view = [&[rows][..], &ds[batch + r..]].concat();
    let rows = b.reshape("rows", &data, view);
    Ok(b.gather("gather", &rows, &flat, 0))
}

/// The scatter both ScatterND and ScatterElements lower to: `updates` (`[n, width]` once
/// reshaped) written at `positions` (`n` rows of `data` viewed as `[p, width]`). `hit[q, u] =
/// [positions_u = q]` (a broadcast Equal with the constant `0..p`, `p·n` elements); with
/// `reduction = "add"`, `data + hit · updates` (a MatMul); with `"none"`, an update is kept
/// only when no later one writes its row (`keep_u = [Σ_{u' > u} [positions_u' = positions_u]
/// = 0]`, so the last one wins as onnxruntime applies them in order), `hit·keep` selects, and
/// `Where(Σ_u hit·keep > 0, hit·keep · updates, data)`. Exact: each row of the MatMul has at
/// most one term (or, for "add", is the sum ONNX defines). Returns `data`'s shape.
fn scatter_rows(
    b: &mut Builder<'_>,
    data: &Ref,
    positions: &Ref,
    updates: &Ref,
    width: usize,
) -> Result<Ref> {
    use crate::ops::{BinaryKind, CompareKind};
    let ds = b.shape(data);
    let rows: usize = ds.iter().product::<usize>() / width.max(1);
    let n: usize = b.shape(positions).iter().product();
    one_hot_budget(b, "the scatter's positions x updates", rows * n + n * n)?;
    let reduction = b.string("reduction", "none")?;
    let dtype = if b.dtype(data) == DType::Float || b.dtype(updates) == DType::Float {
        DType::Float
    } else {
        DType::Int
    };
    let pos_row = b.reshape("positions_row", positions, vec![1, n]);
    let hit = b.compare(
        "hit",
        CompareKind::Equal,
        &super::int_range(vec![rows, 1]),
        &pos_row,
    )?;
    let updates = b.reshape("updates_rows", updates, vec![n, width]);
    let data_rows = b.reshape("data_rows", data, vec![rows, width]);
    // the selected one-hot rows times the updates: each row's sum is its written update
    let scattered = |b: &mut Builder<'_>, select: Ref| {
        let operands = vec![select, updates.clone()];
        b.push("scattered", Op::MatMul, operands, vec![rows, width], dtype)
    };
    let out = match reduction.as_str() {
        "add" => {
            let sums = scattered(b, hit);
            b.binary_as("add", BinaryKind::Add, &data_rows, &sums, dtype)?
        }
        "none" => {
            let pos_col = b.reshape("positions_column", positions, vec![n, 1]);
            let same = b.compare("same_position", CompareKind::Equal, &pos_col, &pos_row)?;
            let later = super::int_const(Tensor::new(
                vec![n, n],
                (0..n * n)
                    .map(|uv| ((uv % n) > (uv / n)) as u8 as f64)
                    .collect(),
            ));
            let overwritten =
                b.binary_as("overwritten", BinaryKind::Mul, &same, &later, DType::Int)?;
            let writes_after = b.reduce_sum("writes_after", &overwritten, vec![1], false);
            let keep = b.compare(
                "keep",
                CompareKind::Equal,
                &writes_after,
                &super::int_const(Tensor::scalar(0.0)),
            )?;
            let kept = b.binary_as("kept", BinaryKind::Mul, &hit, &keep, DType::Int)?;
            let written = b.reduce_sum("written", &kept, vec![1], true);
            let scattered = scattered(b, kept);
            b.push(
                "select",
                Op::Where,
                vec![written, scattered, data_rows],
                vec![rows, width],
                dtype,
            )
        }
        other => {
            return Err(b.unsupported(format!("reduction \"{other}\" (\"none\" and \"add\" only)")))
        }
    };
    Ok(b.reshape("scatter", &out, ds))
}

/// `ScatterND(data, indices, updates)`: the index tuples become row positions of `data` viewed
/// as `[Π data.shape[..r], rest]` ([`flat_positions`]) and [`scatter_rows`] writes the update
/// slices there.
pub fn scatter_nd(b: &mut Builder<'_>) -> Result<Ref> {
    let (data, indices, updates) = (b.input(0)?, index_input(b, 1)?, b.input(2)?);
    let (ds, is, us) = (b.shape(&data), b.shape(&indices), b.shape(&updates));
    let r = is.last().copied().unwrap_or(0);
    if r == 0 || r > ds.len() || us != [&is[..is.len() - 1], &ds[r..]].concat() {
        return Err(b.err(format!(
            "indices {is:?} and updates {us:?} do not scatter into data {ds:?}"
        )));
    }
    let positions = flat_positions(b, &indices, &ds[..r])?;
    let width = ds[r..].iter().product();
    scatter_rows(b, &data, &positions, &updates, width)
}

/// `ScatterElements(data, indices, updates, axis)`: element `u` of `updates` goes to `data` at
/// `u`'s own coordinates with the one on `axis` replaced by `indices_u` (checked and
/// normalised by a Gather from `0..n`): its position is `index·stride_axis + C_u`, `C` the
/// constant offset of the other coordinates; then [`scatter_rows`] with rows of one element.
pub fn scatter_elements(b: &mut Builder<'_>) -> Result<Ref> {
    use crate::ops::BinaryKind;
    let (data, indices, updates) = (b.input(0)?, index_input(b, 1)?, b.input(2)?);
    let (ds, is, us) = (b.shape(&data), b.shape(&indices), b.shape(&updates));
    let axis = crate::tensor::norm_axis(b.int("axis", 0)?, ds.len())
        .ok_or_else(|| b.err(format!("axis out of range for rank {}", ds.len())))?;
    if is != us
        || is.len() != ds.len()
        || is
            .iter()
            .zip(&ds)
            .enumerate()
            .any(|(a, (i, d))| a != axis && i > d)
    {
        return Err(b.err(format!(
            "indices {is:?} and updates {us:?} do not scatter into data {ds:?} along axis {axis}"
        )));
    }
    let checked = b.gather(
        "index_checked",
        &super::int_range(vec![ds[axis]]),
        &indices,
        0,
    );
    let strides = crate::tensor::strides(&ds);
    let n: usize = is.iter().product();
    let others = crate::tensor::MultiIndex::new(&is)
        .map(|p| {
            p.iter()
                .enumerate()
                .filter(|&(a, _)| a != axis)
                .map(|(a, &c)| c * strides[a])
                .sum::<usize>() as f64
        })
        .collect::<Vec<f64>>();
    debug_assert_eq!(others.len(), n);
    let along = b.binary_as(
        "index_offset",
        BinaryKind::Mul,
        &checked,
        &super::int_const(Tensor::scalar(strides[axis] as f64)),
        DType::Int,
    )?;
    let positions = b.binary_as(
        "position",
        BinaryKind::Add,
        &along,
        &super::int_const(Tensor::new(is.clone(), others)),
        DType::Int,
    )?;
    scatter_rows(b, &data, &positions, &updates, 1)
}
