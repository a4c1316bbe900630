//! Laying a program out for committed weights (docs/commitments.md "Weights root"): a Gemm
//! whose output chunk would read more weights than one step proof can hash is either given
//! narrower output chunks or cut into column slices joined again by a tree of Concats.

use crate::program::{align_chunks, gcd, Program, QNode, QOp, QOperand, TensorSpec};
use crate::tensor::Tensor;

/// A Gemm's chunks narrow in place when each old chunk becomes at most this many: narrow chunks
/// multiply the reads of every operator that reads the tensor (and of the tensors
/// `align_chunks` joins to it), so a wider split is done with slices instead.
pub const MAX_NARROWING: usize = 4;

/// The most chunks a Concat of the slice tree reads for one output chunk: each read is a public
/// input and an opening in `proveStep` (docs/gas.md).
pub const MAX_CONCAT_READS: usize = 8;

impl Program {
    /// Lays out every Gemm whose output chunk would read weights `fits` refuses
    /// (`fits(k, columns)`: whether a chunk of `columns` output columns over `K` inputs is small
    /// enough; a chunk that spans rows reads all `N` columns):
    /// - **narrowed** when the widest width that fits and divides both `N` and the old chunk
    ///   length cuts an old chunk into at most [`MAX_NARROWING`] (then [`align_chunks`] gives
    ///   the elementwise operators around it the same chunks): LeNet's 400→120 becomes two
    ///   chunks of 60 columns;
    /// - else **sliced**: the Gemm becomes Gemms over `w` columns of the weights each (`w` the
    ///   widest divisor of `N` that fits when that is at least half the widest width that fits,
    ///   else the widest, with a narrower last slice), chunked by `h` whole rows (`h` the rows of
    ///   one old output chunk, at least one), joined by Concats along the last axis, each
    ///   reading at most [`MAX_CONCAT_READS`] chunks, the last of which writes the old output
    ///   tensor with its old chunks. The operators after it read what they read before, so a
    ///   transformer's residual stream keeps its chunks; the program gets more slots.
    ///
    /// A Gemm with no width that fits keeps its chunks (the zk table refuses it by name); a
    /// rank-4 output (chunked by pixels) is left alone. A program where every Gemm fits is
    /// unchanged, so baked programs keep their hashes.
    pub fn lay_out_gemm_weights(&mut self, fits: impl Fn(usize, usize) -> bool) {
        let mut narrowed = false;
        let old = std::mem::take(&mut self.ops);
        // new slot of each old slot (slot 0, the input, stays)
        let mut slot_of: Vec<usize> = vec![0];
        let mut ops: Vec<QNode> = Vec::with_capacity(old.len());
        for mut node in old {
            for operand in &mut node.inputs {
                if let QOperand::Slot(s) = operand {
                    *s = slot_of[*s];
                }
            }
            match weight_layout(&node, &fits) {
                GemmLayout::Fits => ops.push(node),
                GemmLayout::Narrow(width) => {
                    node.out.chunk_len = width;
                    narrowed = true;
                    ops.push(node);
                }
                GemmLayout::Slices(width) => push_slices(&mut ops, node, width),
            }
            slot_of.push(ops.len());
        }
        self.ops = ops;
        for s in &mut self.outputs {
            *s = slot_of[*s];
        }
        if narrowed {
            align_chunks(&mut self.input, &mut self.ops);
        }
    }
}

enum GemmLayout {
    Fits,
    /// output chunks of this many columns
    Narrow(usize),
    /// column slices of this width
    Slices(usize),
}

fn weight_layout(node: &QNode, fits: &impl Fn(usize, usize) -> bool) -> GemmLayout {
    let QOp::Gemm { weight, .. } = &node.op else {
        return GemmLayout::Fits;
    };
    let (k, n) = (weight.shape[0], weight.shape[1]);
    let len = node.out.chunk_len;
    if n == 0 || len == 0 || node.out.chunk_pixels().is_some() {
        return GemmLayout::Fits;
    }
    let columns = if len < n && n % len == 0 { len } else { n };
    if fits(k, columns) {
        return GemmLayout::Fits;
    }
    let widest = |g: usize| (1..=g).rev().find(|&d| g % d == 0 && fits(k, d));
    // an old chunk of `len` values (in one row or spanning rows) becomes len / width chunks
    match widest(gcd(n, len)) {
        Some(width) if len.div_ceil(width) <= MAX_NARROWING => GemmLayout::Narrow(width),
        _ => match (1..n).rev().find(|&w| fits(k, w)) {
            // equal slices when a divisor of N fits nearly as wide (one circuit for all),
            // else the widest width and a narrower last slice (N = 30,522 has no divisor
            // between 6 and 5,087)
            Some(widest_any) => {
                let divisor = widest(n).filter(|&d| 2 * d >= widest_any);
                GemmLayout::Slices(divisor.unwrap_or(widest_any))
            }
            None => GemmLayout::Fits,
        },
    }
}

/// `node` as column slices of `width` (the last one narrower when `width` does not divide `N`)
/// and the Concat tree over them, pushed onto `ops` (whose next slot is the first slice's);
/// the tree's root is `node`'s output, spec and name.
fn push_slices(ops: &mut Vec<QNode>, node: QNode, width: usize) {
    let QOp::Gemm {
        weight,
        bias,
        shift,
    } = &node.op
    else {
        unreachable!("weight_layout slices Gemms only")
    };
    let (k, n) = (weight.shape[0], weight.shape[1]);
    let rank = node.out.shape.len();
    let rows = node.out.numel() / n;
    let rows_per_chunk = (node.out.chunk_len / n).clamp(1, rows.max(1));
    let part_spec = |columns: usize| {
        let mut shape = node.out.shape.clone();
        shape[rank - 1] = columns;
        let numel = rows * columns;
        TensorSpec {
            shape,
            dtype: node.out.dtype,
            scale: node.out.scale,
            chunk_len: (rows_per_chunk * columns).min(numel.max(1)),
        }
    };
    // (slot, columns) of each part, in column order
    let mut parts: Vec<(usize, usize)> = Vec::with_capacity(n.div_ceil(width));
    for c0 in (0..n).step_by(width) {
        let columns = c0..(c0 + width).min(n);
        let width = columns.len();
        let w: Vec<i64> = (0..k)
            .flat_map(|t| weight.data[t * n + columns.start..t * n + columns.end].to_vec())
            .collect();
        ops.push(QNode {
            name: format!("{}[columns {}..{}]", node.name, columns.start, columns.end),
            onnx_op: node.onnx_op.clone(),
            op: QOp::Gemm {
                weight: Tensor::new(vec![k, width], w),
                bias: bias[columns.clone()].to_vec(),
                shift: *shift,
            },
            inputs: node.inputs.clone(),
            out: part_spec(width),
            macs: node.macs / n as u64 * width as u64,
        });
        parts.push((ops.len(), width));
    }
    // The root's chunks may start mid-row and span a row boundary, so it reads up to three
    // row blocks of each part: it joins at most MAX_CONCAT_READS / 3 parts, inner levels
    // (aligned row blocks, one read a part) MAX_CONCAT_READS.
    let root_parts = (MAX_CONCAT_READS / 3).max(2);
    let mut level = 0;
    while parts.len() > root_parts {
        level += 1;
        // the last level before the root makes exactly `root_parts` groups
        let size = if parts.len() <= root_parts * MAX_CONCAT_READS {
            parts.len().div_ceil(root_parts)
        } else {
            MAX_CONCAT_READS
        };
        let groups: Vec<Vec<(usize, usize)>> =
            parts.chunks(size).map(<[(usize, usize)]>::to_vec).collect();
        parts = groups
            .into_iter()
            .enumerate()
            .map(|(g, group)| {
                if let [part] = group[..] {
                    return part; // already chunked like the level
                }
                let columns: usize = group.iter().map(|&(_, c)| c).sum();
                ops.push(concat(
                    format!("{}[concat {level}.{g}]", node.name),
                    &node,
                    &group,
                    part_spec(columns),
                ));
                (ops.len(), columns)
            })
            .collect();
    }
    ops.push(concat(node.name.clone(), &node, &parts, node.out.clone()));
}

fn concat(name: String, node: &QNode, parts: &[(usize, usize)], out: TensorSpec) -> QNode {
    QNode {
        name,
        onnx_op: node.onnx_op.clone(),
        op: QOp::Concat {
            axis: out.shape.len() - 1,
            shifts: vec![0; parts.len()],
        },
        inputs: parts.iter().map(|&(s, _)| QOperand::Slot(s)).collect(),
        out,
        macs: 0,
    }
}
