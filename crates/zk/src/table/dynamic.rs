//! Circuit-table builders for the operators with data-dependent arithmetic or selection:
//! comparisons, Where, Div, casts, piecewise polynomials ([`Pointwise`]), Gather and
//! GatherElements with a trace index ([`DynGather`]), ArgMax and Softmax ([`Lanes`]) and
//! MatMul of two trace tensors ([`MatMul`]). A child module of `table`, so that it shares its
//! read plans and layout helpers.

use std::collections::HashMap;

use zkopml_model::{
    ops::for_each_lane,
    tensor::{broadcast_offsets, strides},
    Program, QNode, QOperand,
};

use super::{output_positions, slot_of, to_canonical, unsupported, ChunkRef, OpCircuit, ReadPlan};
use crate::{
    circuits::{
        gather::DynGather,
        lane::{LaneKind, Lanes},
        matmul::MatMul,
        pointwise::{Arg, PointKind, Pointwise},
    },
    ZkError,
};

type Built = Result<(OpCircuit, Vec<ChunkRef>), ZkError>;

fn operand_shape(program: &Program, node: &QNode, k: usize) -> Vec<usize> {
    match &node.inputs[k] {
        QOperand::Slot(s) => program.slot_spec(*s).shape.clone(),
        QOperand::Const { tensor, .. } => tensor.shape.clone(),
    }
}

/// An elementwise operator over all of the node's operands, broadcast numpy-style; a constant
/// operand becomes a constant of the circuit per output position.
pub(super) fn pointwise(program: &Program, node: &QNode, chunk: usize, kind: PointKind) -> Built {
    let outs = output_positions(&node.out, chunk);
    let arity = kind.arity();
    assert_eq!(node.inputs.len(), arity, "operands of {kind:?}");
    let shapes: Vec<Vec<usize>> = (0..arity)
        .map(|k| operand_shape(program, node, k))
        .collect();
    let offsets: Vec<Vec<usize>> = shapes
        .iter()
        .map(|s| broadcast_offsets(s, &node.out.shape))
        .collect();
    let is_slot = |k: usize| matches!(node.inputs[k], QOperand::Slot(_));
    let plan = ReadPlan::new(
        program,
        node,
        outs.iter().flat_map(|&f| {
            (0..arity)
                .filter(|&k| is_slot(k))
                .map(|k| (k, to_canonical(&shapes[k], offsets[k][f])))
                .collect::<Vec<_>>()
        }),
    );
    let args = outs
        .iter()
        .map(|&f| {
            (0..arity)
                .map(|k| match &node.inputs[k] {
                    QOperand::Slot(_) => {
                        Arg::Input(plan.pos(k, to_canonical(&shapes[k], offsets[k][f])))
                    }
                    QOperand::Const { tensor, .. } => Arg::Const(tensor.data[offsets[k][f]]),
                })
                .collect()
        })
        .collect();
    let p = Pointwise {
        kind,
        x_lens: plan.lens.clone(),
        args,
    };
    Ok((OpCircuit::Pointwise(p), plan.refs))
}

/// Gather (`elements = false`) or GatherElements along `axis` with a trace index (operand 1)
/// and constant or trace data (operand 0).
pub(super) fn dyn_gather(
    program: &Program,
    op: usize,
    node: &QNode,
    chunk: usize,
    axis: usize,
    elements: bool,
) -> Built {
    let Some(_) = slot_of(node, 1) else {
        return Err(unsupported(op, node, "constant indices (a data movement)"));
    };
    let ds = operand_shape(program, node, 0);
    let is_shape = operand_shape(program, node, 1);
    let n = ds[axis];
    if n == 0 {
        return Err(unsupported(op, node, "an empty axis"));
    }
    let dst = strides(&ds);
    let inner: usize = ds[axis + 1..].iter().product();
    let m: usize = is_shape.iter().product();
    let ist = strides(&is_shape);
    let outs = output_positions(&node.out, chunk);
    // For each output: (index flat, lane base flat); lane k is base + k·stride(axis).
    let mut picks = Vec::with_capacity(outs.len());
    for &f in &outs {
        if elements {
            let idx: Vec<usize> = (0..is_shape.len())
                .map(|d| (f / ist[d]) % is_shape[d])
                .collect();
            if idx
                .iter()
                .zip(&ds)
                .enumerate()
                .any(|(d, (&i, &s))| d != axis && i >= s)
            {
                return Err(unsupported(op, node, "indices beyond the data's shape"));
            }
            let base: usize = (0..ds.len())
                .filter(|&d| d != axis)
                .map(|d| idx[d] * dst[d])
                .sum();
            picks.push((f, base));
        } else {
            let (o, p, i) = (f / (m * inner), (f / inner) % m, f % inner);
            picks.push((p, o * n * inner + i));
        }
    }
    let data = |base: usize, k: usize| base + k * dst[axis];
    let data_slot = matches!(node.inputs[0], QOperand::Slot(_));
    let mut deps = Vec::new();
    for &(ix, base) in &picks {
        deps.push((1, to_canonical(&is_shape, ix)));
        if data_slot {
            deps.extend((0..n).map(|k| (0, to_canonical(&ds, data(base, k)))));
        }
    }
    let plan = ReadPlan::new(program, node, deps);
    let mut lane_id: HashMap<usize, usize> = HashMap::new();
    let mut lanes: Vec<Vec<Arg>> = Vec::new();
    let mut outputs = Vec::with_capacity(picks.len());
    for &(ix, base) in &picks {
        let l = *lane_id.entry(base).or_insert_with(|| {
            lanes.push(
                (0..n)
                    .map(|k| match &node.inputs[0] {
                        QOperand::Slot(_) => {
                            Arg::Input(plan.pos(0, to_canonical(&ds, data(base, k))))
                        }
                        QOperand::Const { tensor, .. } => Arg::Const(tensor.data[data(base, k)]),
                    })
                    .collect(),
            );
            lanes.len() - 1
        });
        outputs.push((plan.pos(1, to_canonical(&is_shape, ix)), l));
    }
    let g = DynGather {
        x_lens: plan.lens.clone(),
        lanes,
        outputs,
    };
    Ok((OpCircuit::DynGather(g), plan.refs))
}

/// ArgMax over `axis`: output `(o, i)` reads the lane `x[o, ·, i]`.
pub(super) fn argmax(
    program: &Program,
    op: usize,
    node: &QNode,
    chunk: usize,
    axis: usize,
    select_last: bool,
) -> Built {
    let xs = slot_of(node, 0)
        .map(|s| program.slot_spec(s).shape.clone())
        .ok_or_else(|| unsupported(op, node, "constant input"))?;
    let n = xs[axis];
    let inner: usize = xs[axis + 1..].iter().product();
    let outs = output_positions(&node.out, chunk);
    let lane_flats = |f: usize| -> Vec<usize> {
        let (o, i) = (f / inner, f % inner);
        (0..n)
            .map(|k| to_canonical(&xs, o * n * inner + k * inner + i))
            .collect()
    };
    lanes(
        program,
        node,
        LaneKind::ArgMax { select_last },
        outs.iter().map(|&f| (lane_flats(f), 0)).collect(),
    )
}

/// Softmax: output `f` is element `k` of its lane (`for_each_lane`, legacy or not).
pub(super) fn softmax(
    program: &Program,
    op: usize,
    node: &QNode,
    chunk: usize,
    kind: LaneKind,
    axis: usize,
    legacy: bool,
) -> Built {
    let xs = slot_of(node, 0)
        .map(|s| program.slot_spec(s).shape.clone())
        .ok_or_else(|| unsupported(op, node, "constant input"))?;
    let mut of: HashMap<usize, (usize, usize)> = HashMap::new();
    let mut all: Vec<Vec<usize>> = Vec::new();
    for_each_lane(&xs, axis, legacy, |idx| {
        for (k, &f) in idx.iter().enumerate() {
            of.insert(f, (all.len(), k));
        }
        all.push(idx.iter().map(|&f| to_canonical(&xs, f)).collect());
    });
    let outs = output_positions(&node.out, chunk);
    let picks = outs
        .iter()
        .map(|f| {
            let (l, k) = of[f];
            (all[l].clone(), k)
        })
        .collect();
    lanes(program, node, kind, picks)
}

/// A lane operator from `(lane of canonical input positions, element)` per output.
fn lanes(
    program: &Program,
    node: &QNode,
    kind: LaneKind,
    picks: Vec<(Vec<usize>, usize)>,
) -> Built {
    let plan = ReadPlan::new(
        program,
        node,
        picks.iter().flat_map(|(l, _)| l.iter().map(|&q| (0, q))),
    );
    let mut id: HashMap<Vec<usize>, usize> = HashMap::new();
    let mut lanes: Vec<Vec<usize>> = Vec::new();
    let mut outputs = Vec::with_capacity(picks.len());
    for (lane, k) in picks {
        let pos: Vec<usize> = lane.iter().map(|&q| plan.pos(0, q)).collect();
        let l = *id.entry(pos.clone()).or_insert_with(|| {
            lanes.push(pos);
            lanes.len() - 1
        });
        outputs.push((l, k));
    }
    let c = Lanes {
        kind,
        x_lens: plan.lens.clone(),
        lanes,
        outputs,
    };
    Ok((OpCircuit::Lanes(c), plan.refs))
}

/// MatMul of two trace tensors: `y[bt, i, j] = shift_round(Σ_t a[bt, i, t]·b[bt, t, j])`,
/// indexed exactly as the executor does.
pub(super) fn matmul(
    program: &Program,
    op: usize,
    node: &QNode,
    chunk: usize,
    shift: i32,
) -> Built {
    let (Some(sa), Some(sb)) = (slot_of(node, 0), slot_of(node, 1)) else {
        return Err(unsupported(op, node, "a constant operand"));
    };
    let (ash, bsh) = (
        program.slot_spec(sa).shape.clone(),
        program.slot_spec(sb).shape.clone(),
    );
    if ash.len() < 2 || bsh.len() < 2 {
        return Err(unsupported(op, node, "operands of rank < 2"));
    }
    let (m, k) = (ash[ash.len() - 2], ash[ash.len() - 1]);
    let n = bsh[bsh.len() - 1];
    let bnum: usize = bsh.iter().product();
    let outs = output_positions(&node.out, chunk);
    let mut terms_flat = Vec::with_capacity(outs.len());
    for &f in &outs {
        let (bt, i, j) = (f / (m * n), (f / n) % m, f % n);
        let t: Vec<(usize, usize)> = (0..k)
            .map(|t| (bt * m * k + i * k + t, bt * k * n + t * n + j))
            .collect();
        if t.iter().any(|&(_, b)| b >= bnum) {
            return Err(unsupported(op, node, "broadcast batch dimensions"));
        }
        terms_flat.push(t);
    }
    let (ca, cb) = (|f| to_canonical(&ash, f), |f| to_canonical(&bsh, f));
    let plan = ReadPlan::new(
        program,
        node,
        terms_flat
            .iter()
            .flatten()
            .flat_map(|&(a, b)| [(0, ca(a)), (1, cb(b))]),
    );
    let terms = terms_flat
        .iter()
        .map(|t| {
            t.iter()
                .map(|&(a, b)| (plan.pos(0, ca(a)), plan.pos(1, cb(b))))
                .collect()
        })
        .collect();
    let c = MatMul {
        x_lens: plan.lens.clone(),
        shift,
        terms,
    };
    Ok((OpCircuit::MatMul(c), plan.refs))
}
