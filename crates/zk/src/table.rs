//! The circuit table of a compiled model (`docs/commitments.md`, "Circuit table"): for every
//! operator `i` and output chunk `j`, the circuit that proves it and the input chunks it reads,
//! in public-input order.
//!
//! Positions are those of the canonical layout (NHWC for rank 4, row-major otherwise). The
//! builders below turn an operator of the compiled program (`zkopml_model::QOp`) into one of
//! the [`ChunkOp`]s of [`crate::circuits`], restricted to one output chunk. Data movement is
//! derived from the executor itself: the operator is run on inputs whose values are their own
//! positions, so the circuit moves exactly what `zkopml_exec::run_op` moves.

use std::collections::{BTreeSet, HashMap};

use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};
use zkopml_exec::run_op;
use zkopml_model::{
    ops::Window, tensor::broadcast_offsets, Program, QNode, QOp, QOperand, Tensor, TensorSpec,
};

use crate::{
    circuits::{
        chunk::ChunkOp,
        elementwise::{Binary, BinaryKind, CommittedAffine, CommittedBinary, Unary, UnaryKind},
        gather::DynGather,
        lane::{LaneKind, Lanes},
        linear::{Conv, ConvShape, Gemm},
        matmul::MatMul,
        movement::{Movement, Source},
        packed_gemm::{CommittedGemm, PackedGemm, COLUMNS_PER_ELEMENT},
        pointwise::{Cmp, PointKind, Pointwise},
        reduce::{Reduce, ReduceKind},
        relu::Relu,
    },
    gadgets::signed::SignedVar,
    structure::{Canon, Enc, STRUCTURE_DOMAIN},
    Fr, ZkError,
};

mod dynamic;

/// One input chunk a circuit reads: chunk `chunk` of trace slot `slot`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChunkRef {
    /// The trace slot (0 the input, `i` the output of op `i`).
    pub slot: usize,
    /// The chunk of that slot.
    pub chunk: usize,
}

/// The circuit of one (operator, output chunk).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpCircuit {
    /// Convolution with baked-in weights.
    Conv(Conv),
    /// Gemm with baked-in weights.
    Gemm(Gemm),
    /// Add, Sub, Max, Min, Mul of two trace tensors.
    Binary(Binary),
    /// Unary elementwise (also a binary op with a constant operand, as an affine map).
    Unary(Unary),
    /// Relu.
    Relu(Relu),
    /// Reshape, Transpose, Slice, Pad, Concat, Gather with constant indices.
    Movement(Movement),
    /// Pools and reductions.
    Reduce(Reduce),
    /// Compare, Where, Div, Cast to Int/Bool, Not, Reciprocal, Sqrt, piecewise polynomials,
    /// Max/Min with a constant.
    Pointwise(Pointwise),
    /// Gather / GatherElements with a trace index.
    DynGather(DynGather),
    /// ArgMax, Softmax.
    Lanes(Lanes),
    /// MatMul of two trace tensors.
    MatMul(MatMul),
    /// Gemm with its weights a witness bound by a weight block digest
    /// ([`WeightsMode::Committed`]).
    CommittedGemm(CommittedGemm),
    /// An affine map (a binary op with a constant, `Affine`) with its constants a witness
    /// bound by a weight block digest ([`WeightsMode::Committed`]).
    CommittedAffine(CommittedAffine),
    /// Add, Sub or Mul of two trace tensors with its shifts a witness bound by a weight block
    /// digest ([`WeightsMode::Committed`]).
    CommittedBinary(CommittedBinary),
}

/// Where weights (and the layers' constants and shifts) live: in the circuit (one circuit per
/// layer and chunk), or in a weight block that the step proof opens under the model's weights
/// root (one circuit per shape; docs/zk.md "Weights as witnesses").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WeightsMode {
    /// Constants of the circuit (every model registered so far).
    #[default]
    Baked,
    /// A witness: chunks of a Gemm, of an affine map with constants and of an Add, Sub or Mul
    /// ([`has_weight_block`]) read a weight block (slot `n + op`, chunk = the output chunk).
    Committed,
}

impl WeightsMode {
    /// Lays `program`'s chunks out for this mode: with committed weights a Gemm whose output
    /// chunk would read more than [`MAX_BLOCK_WEIGHTS`] weights gets narrower chunks or is cut
    /// into column slices joined by Concats ([`Program::lay_out_gemm_weights`]); baked weights
    /// keep the compiler's program. Every actor
    /// runs the program laid out this way (it is what the registry's model hash names).
    pub fn lay_out(self, program: &mut Program) {
        if self == WeightsMode::Committed {
            program
                .lay_out_gemm_weights(|k, columns| block_weights(k, columns) <= MAX_BLOCK_WEIGHTS);
        }
    }
}

/// The weights a committed Gemm chunk of `columns` output columns over `k` inputs reads: its
/// columns rounded up to whole field elements ([`COLUMNS_PER_ELEMENT`]), `k` weights each.
pub fn block_weights(k: usize, columns: usize) -> usize {
    columns.div_ceil(COLUMNS_PER_ELEMENT) * COLUMNS_PER_ELEMENT * k
}

macro_rules! dispatch {
    ($self:expr, $c:ident => $e:expr) => {
        match $self {
            OpCircuit::Conv($c) => $e,
            OpCircuit::Gemm($c) => $e,
            OpCircuit::Binary($c) => $e,
            OpCircuit::Unary($c) => $e,
            OpCircuit::Relu($c) => $e,
            OpCircuit::Movement($c) => $e,
            OpCircuit::Reduce($c) => $e,
            OpCircuit::Pointwise($c) => $e,
            OpCircuit::DynGather($c) => $e,
            OpCircuit::Lanes($c) => $e,
            OpCircuit::MatMul($c) => $e,
            OpCircuit::CommittedGemm($c) => $e,
            OpCircuit::CommittedAffine($c) => $e,
            OpCircuit::CommittedBinary($c) => $e,
        }
    };
}

impl ChunkOp for OpCircuit {
    fn input_lens(&self) -> Vec<usize> {
        dispatch!(self, c => c.input_lens())
    }
    fn output_len(&self) -> usize {
        dispatch!(self, c => c.output_len())
    }
    fn evaluate(&self, inputs: &[Vec<i32>]) -> Result<Vec<i32>, ZkError> {
        dispatch!(self, c => c.evaluate(inputs))
    }
    fn synthesize(
        &self,
        cs: &ConstraintSystemRef<Fr>,
        inputs: &[Vec<SignedVar<Fr>>],
    ) -> Result<Vec<SignedVar<Fr>>, SynthesisError> {
        dispatch!(self, c => c.synthesize(cs, inputs))
    }
    fn block_len(&self) -> usize {
        dispatch!(self, c => c.block_len())
    }
    fn block(&self) -> Vec<Fr> {
        dispatch!(self, c => c.block())
    }
    fn synthesize_with_block(
        &self,
        cs: &ConstraintSystemRef<Fr>,
        inputs: &[Vec<SignedVar<Fr>>],
        block: &[ark_r1cs_std::fields::fp::FpVar<Fr>],
    ) -> Result<Vec<SignedVar<Fr>>, SynthesisError> {
        dispatch!(self, c => c.synthesize_with_block(cs, inputs, block))
    }
}

impl OpCircuit {
    /// The operator kind, for tables and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            OpCircuit::Conv(_) => "Conv",
            OpCircuit::Gemm(_) => "Gemm",
            OpCircuit::Binary(_) => "Binary",
            OpCircuit::Unary(_) => "Unary",
            OpCircuit::Relu(_) => "Relu",
            OpCircuit::Movement(_) => "Movement",
            OpCircuit::Reduce(_) => "Reduce",
            OpCircuit::Pointwise(_) => "Pointwise",
            OpCircuit::DynGather(_) => "DynGather",
            OpCircuit::Lanes(_) => "Lanes",
            OpCircuit::MatMul(_) => "MatMul",
            OpCircuit::CommittedGemm(_) => "CommittedGemm",
            OpCircuit::CommittedAffine(_) => "CommittedAffine",
            OpCircuit::CommittedBinary(_) => "CommittedBinary",
        }
    }

    /// A one-byte tag per kind, for the structure key (never reuse a tag).
    fn kind_tag(&self) -> u8 {
        match self {
            OpCircuit::Conv(_) => 0,
            OpCircuit::Gemm(_) => 1,
            OpCircuit::Binary(_) => 2,
            OpCircuit::Unary(_) => 3,
            OpCircuit::Relu(_) => 4,
            OpCircuit::Movement(_) => 5,
            OpCircuit::Reduce(_) => 6,
            OpCircuit::Pointwise(_) => 7,
            OpCircuit::DynGather(_) => 8,
            OpCircuit::Lanes(_) => 9,
            OpCircuit::MatMul(_) => 10,
            OpCircuit::CommittedGemm(_) => 11,
            OpCircuit::CommittedAffine(_) => 12,
            OpCircuit::CommittedBinary(_) => 13,
        }
    }

    /// A hash of everything the synthesis reads, and of nothing else: two chunks with equal
    /// keys synthesize the same constraint system, so they share one setup and one verifying
    /// key (interior chunks of a convolution, for example). Positions of the chunk inside its
    /// tensor are not part of it; what they imply (which taps fall into the padding) is.
    ///
    /// The encoding is injective ([`crate::structure`]): the domain tag
    /// [`STRUCTURE_DOMAIN`], the kind (tag and name), then the circuit's data, every integer
    /// in fixed width and every list length-prefixed. Gemm and Conv encode their resolved
    /// outputs (bias and non-zero taps), the others their whole (chunk-relative) struct.
    pub fn structure_key(&self) -> [u8; 32] {
        let mut e = Enc::new(STRUCTURE_DOMAIN);
        e.tag(self.kind_tag());
        e.bytes(self.kind().as_bytes());
        match self {
            OpCircuit::Conv(c) => c.structure(&mut e),
            OpCircuit::Gemm(g) => g.structure(&mut e),
            OpCircuit::Binary(c) => c.canon(&mut e),
            OpCircuit::Unary(c) => c.canon(&mut e),
            OpCircuit::Relu(c) => c.canon(&mut e),
            OpCircuit::Movement(c) => c.canon(&mut e),
            OpCircuit::Reduce(c) => c.canon(&mut e),
            OpCircuit::Pointwise(c) => c.canon(&mut e),
            OpCircuit::DynGather(c) => c.canon(&mut e),
            OpCircuit::Lanes(c) => c.canon(&mut e),
            OpCircuit::MatMul(c) => c.canon(&mut e),
            OpCircuit::CommittedGemm(c) => c.canon(&mut e),
            OpCircuit::CommittedAffine(c) => c.canon(&mut e),
            OpCircuit::CommittedBinary(c) => c.canon(&mut e),
        }
        e.finish()
    }

    /// Whether `self` and `other` synthesise the same constraint system, decided on the data
    /// itself (not through the structure key): the same kind, and for Gemm and Conv the same
    /// input chunk lengths, shift and resolved outputs (bias and non-zero taps), for the other
    /// kinds the same (chunk-relative) circuit. [`crate::circuit_set::CircuitSet::plan`] checks
    /// it for every chunk that shares a circuit.
    pub fn same_synthesis(&self, other: &OpCircuit) -> bool {
        match (self, other) {
            (OpCircuit::Gemm(a), OpCircuit::Gemm(b)) => {
                a.x_lens == b.x_lens
                    && a.shift == b.shift
                    && a.y_len == b.y_len
                    && (0..a.y_len).all(|p| a.output_taps(p) == b.output_taps(p))
            }
            (OpCircuit::Conv(a), OpCircuit::Conv(b)) => {
                a.x_lens == b.x_lens
                    && a.shift == b.shift
                    && a.y_len == b.y_len
                    && (0..a.y_len).all(|p| a.output_taps(p) == b.output_taps(p))
            }
            (OpCircuit::CommittedGemm(a), OpCircuit::CommittedGemm(b)) => {
                a.shape.x_lens == b.shape.x_lens
                    && (a.shape.k, a.shape.shift, a.shape.c_len)
                        == (b.shape.k, b.shape.shift, b.shape.c_len)
                    && a.shape.relative_row_spans() == b.shape.relative_row_spans()
            }
            (OpCircuit::CommittedAffine(a), OpCircuit::CommittedAffine(b)) => {
                (&a.x_lens, &a.x_index, &a.constant, a.shift(), a.mul.len())
                    == (&b.x_lens, &b.x_index, &b.constant, b.shift(), b.mul.len())
            }
            (OpCircuit::CommittedBinary(a), OpCircuit::CommittedBinary(b)) => {
                let (x, y) = (&a.0, &b.0);
                (a.product(), &x.x_lens, &x.a_index, &x.b_index, a.shift())
                    == (b.product(), &y.x_lens, &y.a_index, &y.b_index, b.shift())
            }
            (a, b) => a == b,
        }
    }
}

/// NCHW flat index → canonical position (NHWC for rank 4, identity otherwise).
fn to_canonical(shape: &[usize], f: usize) -> usize {
    if shape.len() != 4 {
        return f;
    }
    let (c, h, w) = (shape[1], shape[2], shape[3]);
    let (x, y, ch, b) = (f % w, (f / w) % h, (f / (w * h)) % c, f / (w * h * c));
    ((b * h + y) * w + x) * c + ch
}

/// Canonical position → NCHW flat index.
fn from_canonical(shape: &[usize], q: usize) -> usize {
    if shape.len() != 4 {
        return q;
    }
    let (c, h, w) = (shape[1], shape[2], shape[3]);
    let (ch, x, y, b) = (q % c, (q / c) % w, (q / (c * w)) % h, q / (c * w * h));
    ((b * c + ch) * h + y) * w + x
}

fn chunk_len_of(spec: &TensorSpec, chunk: usize) -> usize {
    spec.chunk_len.min(spec.numel() - chunk * spec.chunk_len)
}

/// The NCHW flat indices of the outputs of chunk `chunk`, in canonical (chunk) order.
fn output_positions(spec: &TensorSpec, chunk: usize) -> Vec<usize> {
    let start = chunk * spec.chunk_len;
    (start..start + chunk_len_of(spec, chunk))
        .map(|q| from_canonical(&spec.shape, q))
        .collect()
}

/// The input chunks an output chunk reads, from the canonical input positions each output
/// depends on: per operand (in operand order), the chunks touched in increasing order; a chunk
/// that an earlier operand reads already is not read twice.
struct ReadPlan {
    refs: Vec<ChunkRef>,
    lens: Vec<usize>,
    base: HashMap<(usize, usize), usize>,
    chunk_lens: Vec<usize>,
}

impl ReadPlan {
    /// `deps`: `(operand, canonical position)` pairs, over all outputs of the chunk.
    fn new(
        program: &Program,
        node: &QNode,
        deps: impl IntoIterator<Item = (usize, usize)>,
    ) -> Self {
        let mut sets = vec![BTreeSet::new(); node.inputs.len()];
        let chunk_lens: Vec<usize> = node
            .inputs
            .iter()
            .map(|o| match o {
                QOperand::Slot(s) => program.slot_spec(*s).chunk_len,
                QOperand::Const { .. } => 1,
            })
            .collect();
        for (k, q) in deps {
            sets[k].insert(q / chunk_lens[k]);
        }
        let (mut refs, mut lens, mut base) = (vec![], vec![], HashMap::new());
        let mut at: HashMap<ChunkRef, usize> = HashMap::new();
        let mut offset = 0;
        for (k, set) in sets.iter().enumerate() {
            let QOperand::Slot(slot) = node.inputs[k] else {
                continue;
            };
            let spec = program.slot_spec(slot);
            for &c in set {
                let r = ChunkRef { slot, chunk: c };
                let start = *at.entry(r).or_insert_with(|| {
                    refs.push(r);
                    let len = chunk_len_of(spec, c);
                    lens.push(len);
                    offset += len;
                    offset - len
                });
                base.insert((k, c), start);
            }
        }
        ReadPlan {
            refs,
            lens,
            base,
            chunk_lens,
        }
    }

    /// Position of operand `k`'s canonical value `q` in the concatenation of the chunks read.
    fn pos(&self, k: usize, q: usize) -> usize {
        let cl = self.chunk_lens[k];
        self.base[&(k, q / cl)] + q % cl
    }
}

fn slot_of(node: &QNode, k: usize) -> Option<usize> {
    match node.inputs.get(k) {
        Some(QOperand::Slot(s)) => Some(*s),
        _ => None,
    }
}

fn unsupported(op: usize, node: &QNode, why: &str) -> ZkError {
    ZkError::Unsupported {
        op,
        kind: node.op.kind(),
        reason: why.to_string(),
    }
}

/// The circuit of operator `op` (1-based) restricted to output chunk `chunk`, and the input
/// chunks it reads in public-input order, with the weights baked in.
pub fn op_chunk(
    program: &Program,
    op: usize,
    chunk: usize,
) -> Result<(OpCircuit, Vec<ChunkRef>), ZkError> {
    op_chunk_in(program, op, chunk, WeightsMode::Baked)
}

/// The most weights a committed Gemm chunk may read: about 25 s and 2 GB to prove on the
/// 2-core reference machine (docs/zk.md "Weights as witnesses").
pub const MAX_BLOCK_WEIGHTS: usize = 27_000;

/// The weight slot of operator `op` in a program of `n` operators: `n + op`. Its chunk `j`
/// is the weight block of output chunk `j`.
pub fn weight_slot(n: usize, op: usize) -> usize {
    n + op
}

/// [`op_chunk`] with the weights where `mode` puts them. A committed Gemm reads, after its
/// input chunks, the weight block `(weight_slot(n, op), chunk)`.
pub fn op_chunk_in(
    program: &Program,
    op: usize,
    chunk: usize,
    mode: WeightsMode,
) -> Result<(OpCircuit, Vec<ChunkRef>), ZkError> {
    if op == 0 || op > program.n_ops() {
        return Err(ZkError::Shape(format!(
            "op {op} out of range 1..={}",
            program.n_ops()
        )));
    }
    let node = &program.ops[op - 1];
    if chunk >= node.out.num_chunks() {
        return Err(ZkError::Shape(format!(
            "op {op} has {} output chunk(s); chunk {chunk} does not exist",
            node.out.num_chunks()
        )));
    }
    let in_spec = |k: usize| slot_of(node, k).map(|s| program.slot_spec(s));
    match &node.op {
        QOp::Conv {
            weight,
            bias,
            window,
            groups,
            shift,
        } => {
            let x = in_spec(0).ok_or_else(|| unsupported(op, node, "constant input"))?;
            let shape = conv_shape(&x.shape, &weight.shape, &node.out.shape, window, *groups);
            if node.out.shape[0] != x.shape[0] {
                return Err(unsupported(op, node, "batch mismatch"));
            }
            let c = Conv::chunk(
                shape,
                weight.data.clone(),
                bias.clone(),
                *shift,
                x.chunk_len,
                node.out.chunk_len,
                chunk,
            );
            let slot = slot_of(node, 0).expect("checked");
            let refs = c
                .x_chunks
                .iter()
                .map(|&c| ChunkRef { slot, chunk: c })
                .collect();
            Ok((OpCircuit::Conv(c), refs))
        }
        QOp::Gemm {
            weight,
            bias,
            shift,
        } => {
            let x = in_spec(0).ok_or_else(|| unsupported(op, node, "constant input"))?;
            // the circuit reads whole rows of the last axis; a rank-4 tensor with channels is
            // chunked by pixels (NHWC), so its rows are not contiguous (the compiler reshapes
            // such a product to rank 2 first: lower::math::gemm_rows)
            let pixel_chunked = |t: &TensorSpec| t.shape.len() == 4 && t.shape[1] != 1;
            if pixel_chunked(x) || pixel_chunked(&node.out) {
                return Err(unsupported(
                    op,
                    node,
                    "a Gemm over a rank-4 tensor with channels (its chunks are pixels, not rows)",
                ));
            }
            let (k, n) = (weight.shape[0], weight.shape[1]);
            let rows = x.numel() / k;
            let slot = slot_of(node, 0).expect("checked");
            if mode == WeightsMode::Committed {
                let shape =
                    PackedGemm::chunk(k, n, *shift, rows, x.chunk_len, node.out.chunk_len, chunk)
                        .map_err(|e| unsupported(op, node, &e.to_string()))?;
                if block_weights(k, shape.c_len) > MAX_BLOCK_WEIGHTS {
                    return Err(unsupported(
                        op,
                        node,
                        &format!(
                            "a committed-weights chunk would read {} weights ({} columns of {k}); \
                             the limit is {MAX_BLOCK_WEIGHTS} (WeightsMode::lay_out narrows \
                             the chunks when a power of two of columns fits)",
                            block_weights(k, shape.c_len),
                            shape.c_len
                        ),
                    ));
                }
                let x_first = shape.x_start / x.chunk_len;
                let refs = (0..shape.x_lens.len())
                    .map(|i| ChunkRef {
                        slot,
                        chunk: x_first + i,
                    })
                    .chain([ChunkRef {
                        slot: weight_slot(program.n_ops(), op),
                        chunk,
                    }])
                    .collect();
                let c = CommittedGemm::new(shape, &weight.data, bias)?;
                return Ok((OpCircuit::CommittedGemm(c), refs));
            }
            let g = Gemm::chunk(
                weight.data.clone(),
                k,
                n,
                bias.clone(),
                *shift,
                rows,
                x.chunk_len,
                node.out.chunk_len,
                chunk,
            );
            let refs = g
                .x_chunks
                .iter()
                .map(|&c| ChunkRef { slot, chunk: c })
                .collect();
            Ok((OpCircuit::Gemm(g), refs))
        }
        QOp::Add { ua, ub, shift } => binary(
            program,
            op,
            node,
            chunk,
            mode,
            BinaryKind::Add,
            *ua,
            *ub,
            *shift,
        ),
        QOp::Sub { ua, ub, shift } => binary(
            program,
            op,
            node,
            chunk,
            mode,
            BinaryKind::Sub,
            *ua,
            *ub,
            *shift,
        ),
        QOp::Max { ua, ub, shift } | QOp::Min { ua, ub, shift }
            if node
                .inputs
                .iter()
                .any(|o| matches!(o, QOperand::Const { .. })) =>
        {
            let max = matches!(node.op, QOp::Max { .. });
            dynamic::pointwise(
                program,
                node,
                chunk,
                PointKind::MaxMin {
                    max,
                    ua: *ua,
                    ub: *ub,
                    shift: *shift,
                },
            )
        }
        QOp::Max { ua, ub, shift } => binary(
            program,
            op,
            node,
            chunk,
            mode,
            BinaryKind::Max,
            *ua,
            *ub,
            *shift,
        ),
        QOp::Min { ua, ub, shift } => binary(
            program,
            op,
            node,
            chunk,
            mode,
            BinaryKind::Min,
            *ua,
            *ub,
            *shift,
        ),
        QOp::Mul { shift } => binary(
            program,
            op,
            node,
            chunk,
            mode,
            BinaryKind::Mul,
            0,
            0,
            *shift,
        ),
        QOp::Relu => {
            let x = in_spec(0).ok_or_else(|| unsupported(op, node, "constant input"))?;
            if x.shape != node.out.shape || x.chunk_len != node.out.chunk_len {
                return Err(unsupported(op, node, "input and output chunks differ"));
            }
            let refs = vec![ChunkRef {
                slot: slot_of(node, 0).expect("checked"),
                chunk,
            }];
            Ok((
                OpCircuit::Relu(Relu {
                    len: chunk_len_of(&node.out, chunk),
                }),
                refs,
            ))
        }
        QOp::Clip { lo, hi } => unary(program, node, chunk, |_| UnaryKind::Clip {
            lo: *lo,
            hi: *hi,
        }),
        QOp::Neg => unary(program, node, chunk, |_| UnaryKind::Neg),
        QOp::Abs => unary(program, node, chunk, |_| UnaryKind::Abs),
        QOp::LeakyRelu { alpha, alpha_shift } => {
            unary(program, node, chunk, |_| UnaryKind::LeakyRelu {
                alpha: *alpha,
                alpha_shift: *alpha_shift,
            })
        }
        QOp::Cast {
            to: zkopml_model::DType::Float,
            shift,
        } => unary(program, node, chunk, |_| UnaryKind::ShiftRound {
            shift: *shift,
        }),
        QOp::Affine { mul, add, shift } => {
            let shape = node.out.shape.clone();
            let (ch, inner) = (shape[1], shape[2..].iter().product::<usize>());
            let outs = output_positions(&node.out, chunk);
            let channel: Vec<usize> = outs.iter().map(|&f| (f / inner) % ch).collect();
            let affine = unary(program, node, chunk, |_| UnaryKind::Affine {
                mul: channel.iter().map(|&c| mul[c]).collect(),
                add: channel.iter().map(|&c| add[c]).collect(),
                shift: *shift,
            })?;
            in_mode(program, op, node, chunk, mode, affine, &channel)
        }
        QOp::Reshape
        | QOp::Transpose { .. }
        | QOp::Slice { .. }
        | QOp::Pad { .. }
        | QOp::Concat { .. } => movement(program, op, node, chunk),
        QOp::Gather { .. } | QOp::GatherElements { .. }
            if matches!(node.inputs.get(1), Some(QOperand::Const { .. })) =>
        {
            movement(program, op, node, chunk)
        }
        QOp::MaxPool { window } => pool(program, op, node, chunk, window, None),
        QOp::AveragePool {
            window,
            count_include_pad,
        } => pool(program, op, node, chunk, window, Some(*count_include_pad)),
        QOp::GlobalAveragePool { divisor } => {
            let x = in_spec(0).ok_or_else(|| unsupported(op, node, "constant input"))?;
            let hw = x.shape[2] * x.shape[3];
            let win = |f: usize| (f * hw..(f + 1) * hw).collect::<Vec<_>>();
            reduce(program, node, chunk, ReduceKind::Mean, win, |_| {
                *divisor as i64
            })
        }
        QOp::ReduceSum { axes } | QOp::ReduceMean { axes } | QOp::ReduceExtreme { axes, .. } => {
            let x = in_spec(0).ok_or_else(|| unsupported(op, node, "constant input"))?;
            let kind = match &node.op {
                QOp::ReduceSum { .. } => ReduceKind::Sum,
                QOp::ReduceMean { .. } => ReduceKind::Mean,
                QOp::ReduceExtreme { max: true, .. } => ReduceKind::Max,
                _ => ReduceKind::Min,
            };
            let count: usize = axes.iter().map(|&a| x.shape[a]).product();
            let windows = reduce_windows(&x.shape, axes);
            reduce(
                program,
                node,
                chunk,
                kind,
                |f| windows[f].clone(),
                |_| count.max(1) as i64,
            )
        }
        QOp::Compare { kind, ua, ub } => {
            let cmp = match kind {
                zkopml_model::ops::CompareKind::Less => Cmp::Less,
                zkopml_model::ops::CompareKind::Greater => Cmp::Greater,
                zkopml_model::ops::CompareKind::Equal => Cmp::Equal,
            };
            let kind = PointKind::Compare {
                cmp,
                ua: *ua,
                ub: *ub,
            };
            dynamic::pointwise(program, node, chunk, kind)
        }
        QOp::Div { up } => dynamic::pointwise(program, node, chunk, PointKind::Div { up: *up }),
        QOp::Where { sa, sb } => {
            let kind = PointKind::Where { sa: *sa, sb: *sb };
            dynamic::pointwise(program, node, chunk, kind)
        }
        QOp::Cast {
            to: zkopml_model::DType::Int,
            shift,
        } => dynamic::pointwise(program, node, chunk, PointKind::CastInt { shift: *shift }),
        QOp::Cast {
            to: zkopml_model::DType::Bool,
            ..
        } => dynamic::pointwise(program, node, chunk, PointKind::CastBool),
        QOp::Not => dynamic::pointwise(program, node, chunk, PointKind::Not),
        QOp::Reciprocal { num_bits } => {
            let kind = PointKind::Reciprocal {
                num_bits: *num_bits,
            };
            dynamic::pointwise(program, node, chunk, kind)
        }
        QOp::Sqrt { up } => dynamic::pointwise(program, node, chunk, PointKind::Sqrt { up: *up }),
        QOp::Poly(p) => dynamic::pointwise(program, node, chunk, PointKind::Poly(p.clone())),
        QOp::Gather { axis } => dynamic::dyn_gather(program, op, node, chunk, *axis, false),
        QOp::GatherElements { axis } => dynamic::dyn_gather(program, op, node, chunk, *axis, true),
        QOp::ArgMax { axis, select_last } => {
            dynamic::argmax(program, op, node, chunk, *axis, *select_last)
        }
        QOp::Softmax {
            axis,
            legacy,
            exp,
            out_scale,
        } => {
            let kind = LaneKind::Softmax {
                exp: exp.clone(),
                out_scale: *out_scale,
            };
            dynamic::softmax(program, op, node, chunk, kind, *axis, *legacy)
        }
        QOp::MatMul { shift } => dynamic::matmul(program, op, node, chunk, *shift),
    }
}

fn conv_shape(x: &[usize], w: &[usize], y: &[usize], win: &Window, groups: usize) -> ConvShape {
    ConvShape {
        batch: x[0],
        c: x[1],
        h: x[2],
        w: x[3],
        m: w[0],
        kh: w[2],
        kw: w[3],
        groups,
        oh: y[2],
        ow: y[3],
        strides: win.strides,
        dilations: win.dilations,
        pads: [win.pads[0], win.pads[1]],
    }
}

#[allow(clippy::too_many_arguments)]
fn binary(
    program: &Program,
    op: usize,
    node: &QNode,
    chunk: usize,
    mode: WeightsMode,
    kind: BinaryKind,
    ua: u32,
    ub: u32,
    shift: i32,
) -> Result<(OpCircuit, Vec<ChunkRef>), ZkError> {
    let out = &node.out;
    let outs = output_positions(out, chunk);
    let operand_shape = |k: usize| match &node.inputs[k] {
        QOperand::Slot(s) => program.slot_spec(*s).shape.clone(),
        QOperand::Const { tensor, .. } => tensor.shape.clone(),
    };
    let offsets: Vec<Vec<usize>> = (0..2)
        .map(|k| broadcast_offsets(&operand_shape(k), &out.shape))
        .collect();
    match (&node.inputs[0], &node.inputs[1]) {
        (QOperand::Slot(_), QOperand::Slot(_)) => {
            let src = |k: usize, f: usize| to_canonical(&operand_shape(k), offsets[k][f]);
            let plan = ReadPlan::new(
                program,
                node,
                outs.iter().flat_map(|&f| [(0, src(0, f)), (1, src(1, f))]),
            );
            let b = Binary {
                kind,
                ua: if kind == BinaryKind::Mul { 0 } else { ua },
                ub: if kind == BinaryKind::Mul { 0 } else { ub },
                shift,
                x_lens: plan.lens.clone(),
                a_index: outs.iter().map(|&f| plan.pos(0, src(0, f))).collect(),
                b_index: outs.iter().map(|&f| plan.pos(1, src(1, f))).collect(),
            };
            if mode == WeightsMode::Baked || matches!(kind, BinaryKind::Max | BinaryKind::Min) {
                return Ok((OpCircuit::Binary(b), plan.refs));
            }
            let mut refs = plan.refs;
            refs.push(ChunkRef {
                slot: weight_slot(program.n_ops(), op),
                chunk,
            });
            Ok((OpCircuit::CommittedBinary(CommittedBinary::new(b)), refs))
        }
        (QOperand::Slot(_), QOperand::Const { tensor, .. })
        | (QOperand::Const { tensor, .. }, QOperand::Slot(_)) => {
            // One operand is a constant: y = shift_round(x·mul + add, shift), an affine map.
            let xk = usize::from(matches!(node.inputs[0], QOperand::Const { .. }));
            let ck = 1 - xk;
            let c = |f: usize| tensor.data[offsets[ck][f]] as i128;
            let (sx, sc) = if xk == 0 { (ua, ub) } else { (ub, ua) };
            let (mul, add): (Vec<i128>, Vec<i128>) = match kind {
                BinaryKind::Add => outs.iter().map(|&f| (1i128 << sx, c(f) << sc)).unzip(),
                BinaryKind::Sub if xk == 0 => {
                    outs.iter().map(|&f| (1i128 << sx, -(c(f) << sc))).unzip()
                }
                BinaryKind::Sub => outs.iter().map(|&f| (-(1i128 << sx), c(f) << sc)).unzip(),
                BinaryKind::Mul => outs.iter().map(|&f| (c(f), 0)).unzip(),
                BinaryKind::Max | BinaryKind::Min => {
                    return Err(unsupported(op, node, "Max/Min with a constant operand"))
                }
            };
            let narrow = |v: Vec<i128>| -> Result<Vec<i64>, ZkError> {
                v.into_iter()
                    .map(|x| {
                        i64::try_from(x)
                            .map_err(|_| unsupported(op, node, "constant beyond 64 bits"))
                    })
                    .collect()
            };
            let xs = to_canonical_fn(operand_shape(xk));
            let plan = ReadPlan::new(
                program,
                node,
                outs.iter().map(|&f| (xk, xs(offsets[xk][f]))),
            );
            let u = Unary {
                kind: UnaryKind::Affine {
                    mul: narrow(mul)?,
                    add: narrow(add)?,
                    shift,
                },
                x_lens: plan.lens.clone(),
                x_index: outs
                    .iter()
                    .map(|&f| plan.pos(xk, xs(offsets[xk][f])))
                    .collect(),
            };
            let positions: Vec<usize> = outs.iter().map(|&f| offsets[ck][f]).collect();
            let affine = (OpCircuit::Unary(u), plan.refs);
            in_mode(program, op, node, chunk, mode, affine, &positions)
        }
        _ => Err(unsupported(op, node, "both operands constant")),
    }
}

/// An affine map's circuit where `mode` puts its constants: as they are (baked), or a
/// [`CommittedAffine`] reading, after its input chunks, the weight block
/// `(weight_slot(n, op), chunk)`; output `p`'s constant is the layer's at `position[p]`.
fn in_mode(
    program: &Program,
    op: usize,
    node: &QNode,
    chunk: usize,
    mode: WeightsMode,
    affine: (OpCircuit, Vec<ChunkRef>),
    position: &[usize],
) -> Result<(OpCircuit, Vec<ChunkRef>), ZkError> {
    let (
        OpCircuit::Unary(Unary {
            kind: UnaryKind::Affine { mul, add, shift },
            x_lens,
            x_index,
        }),
        mut refs,
    ) = affine
    else {
        unreachable!("an affine map")
    };
    if mode == WeightsMode::Baked {
        let kind = UnaryKind::Affine { mul, add, shift };
        let unary = Unary {
            kind,
            x_lens,
            x_index,
        };
        return Ok((OpCircuit::Unary(unary), refs));
    }
    // the block's multiplier 2^(S - s) stays below 2^62 (CommittedAffine's bound)
    if !(-62..=62).contains(&shift) {
        return Err(unsupported(
            op,
            node,
            &format!("an affine shift of {shift} (beyond ±62)"),
        ));
    }
    refs.push(ChunkRef {
        slot: weight_slot(program.n_ops(), op),
        chunk,
    });
    let c = CommittedAffine::new(x_lens, x_index, position, &mul, &add, shift);
    Ok((OpCircuit::CommittedAffine(c), refs))
}

/// Whether op `op` reads a weight block under committed weights: a Gemm, an `Affine`, or an
/// Add, Sub or Mul (with a constant operand an affine map, [`in_mode`]; of two trace tensors
/// its multipliers, [`CommittedBinary`]).
pub fn has_weight_block(program: &Program, op: usize) -> bool {
    let Some(node) = op.checked_sub(1).and_then(|i| program.ops.get(i)) else {
        return false;
    };
    let reads_the_trace = || node.inputs.iter().any(|o| matches!(o, QOperand::Slot(_)));
    match node.op {
        QOp::Gemm { .. } | QOp::Affine { .. } => true,
        QOp::Add { .. } | QOp::Sub { .. } | QOp::Mul { .. } => reads_the_trace(),
        _ => false,
    }
}

fn to_canonical_fn(shape: Vec<usize>) -> impl Fn(usize) -> usize {
    move |f| to_canonical(&shape, f)
}

/// A unary elementwise op on operand 0: output `f` reads the input at `f`.
fn unary(
    program: &Program,
    node: &QNode,
    chunk: usize,
    kind: impl FnOnce(usize) -> UnaryKind,
) -> Result<(OpCircuit, Vec<ChunkRef>), ZkError> {
    let outs = output_positions(&node.out, chunk);
    let x_shape = program
        .slot_spec(slot_of(node, 0).unwrap_or(0))
        .shape
        .clone();
    let src = |f: usize| to_canonical(&x_shape, f);
    let plan = ReadPlan::new(program, node, outs.iter().map(|&f| (0, src(f))));
    let u = Unary {
        kind: kind(chunk),
        x_lens: plan.lens.clone(),
        x_index: outs.iter().map(|&f| plan.pos(0, src(f))).collect(),
    };
    Ok((OpCircuit::Unary(u), plan.refs))
}

/// Data movement, read off the executor: the op runs twice on inputs whose values are
/// `tag + id` (`id` numbering every input value, `tag` 1 then 2); an output that moved with
/// the tag is that input value, one that did not is a constant of the operator.
fn movement(
    program: &Program,
    op: usize,
    node: &QNode,
    chunk: usize,
) -> Result<(OpCircuit, Vec<ChunkRef>), ZkError> {
    let mut slots_read: Vec<usize> = node.input_slots().collect();
    slots_read.sort_unstable();
    slots_read.dedup();
    let mut base = HashMap::new();
    let mut total = 0usize;
    for &s in &slots_read {
        base.insert(s, total);
        total += program.slot_spec(s).numel();
    }
    if total + 2 >= i32::MAX as usize {
        return Err(unsupported(op, node, "too many input values to trace"));
    }
    // Concat's per-operand rescale is applied to the moved values afterwards.
    let shifts: Vec<i32> = match &node.op {
        QOp::Concat { shifts, .. } => shifts.clone(),
        _ => vec![0; node.inputs.len()],
    };
    let mut plain = node.clone();
    if let QOp::Concat { shifts, .. } = &mut plain.op {
        shifts.iter_mut().for_each(|s| *s = 0);
    }
    let run = |tag: i32, node: &QNode| -> Result<Tensor<i32>, ZkError> {
        let mut slots: Vec<Tensor<i32>> = (0..op).map(|_| Tensor::new(vec![0], vec![])).collect();
        for &s in &slots_read {
            let spec = program.slot_spec(s);
            let b = base[&s] as i32 + tag;
            slots[s] = Tensor::new(
                spec.shape.clone(),
                (0..spec.numel() as i32).map(|f| b + f).collect(),
            );
        }
        run_op(op, node, &slots)
            .map_err(|e| unsupported(op, node, &format!("tracing the data movement: {e}")))
    };
    let (one, two, real) = (run(1, &plain)?, run(2, &plain)?, run(1, node)?);
    let outs = output_positions(&node.out, chunk);
    // Which operand a moved value came from (for its shift): the first operand on its slot.
    let operand_of_slot = |s: usize| {
        node.inputs
            .iter()
            .position(|o| *o == QOperand::Slot(s))
            .expect("a slot read")
    };
    for (k, o) in node.inputs.iter().enumerate() {
        if let QOperand::Slot(s) = o {
            if shifts[k] != shifts[operand_of_slot(*s)] {
                return Err(unsupported(op, node, "one slot concatenated at two scales"));
            }
        }
    }
    let locate = |id: usize| -> (usize, usize) {
        let s = *slots_read
            .iter()
            .rev()
            .find(|&&s| base[&s] <= id)
            .expect("an id of a slot read");
        (s, id - base[&s])
    };
    enum Src {
        Moved { k: usize, q: usize },
        Const(i64),
    }
    let mut srcs = Vec::with_capacity(outs.len());
    for &f in &outs {
        let (v1, v2) = (one.data[f] as i64, two.data[f] as i64);
        srcs.push(if v2 == v1 + 1 {
            let (s, flat) = locate((v1 - 1) as usize);
            Src::Moved {
                k: operand_of_slot(s),
                q: to_canonical(&program.slot_spec(s).shape, flat),
            }
        } else if v1 == v2 {
            Src::Const(real.data[f] as i64)
        } else {
            return Err(unsupported(op, node, "not a data movement"));
        });
    }
    let plan = ReadPlan::new(
        program,
        node,
        srcs.iter().filter_map(|s| match s {
            Src::Moved { k, q } => Some((*k, *q)),
            Src::Const(_) => None,
        }),
    );
    let m = Movement {
        x_lens: plan.lens.clone(),
        sources: srcs
            .iter()
            .map(|s| match *s {
                Src::Moved { k, q } => Source::Input {
                    pos: plan.pos(k, q),
                    shift: shifts[k],
                },
                Src::Const(v) => Source::Const(v),
            })
            .collect(),
    };
    Ok((OpCircuit::Movement(m), plan.refs))
}

/// The input positions (NCHW flat) each output of a reduction over `axes` reads.
fn reduce_windows(shape: &[usize], axes: &[usize]) -> Vec<Vec<usize>> {
    let numel: usize = shape.iter().product();
    let kept: Vec<usize> = (0..shape.len()).filter(|d| !axes.contains(d)).collect();
    let out_numel: usize = kept.iter().map(|&d| shape[d]).product();
    let strides = zkopml_model::tensor::strides(shape);
    let mut windows = vec![Vec::new(); out_numel.max(1)];
    for f in 0..numel {
        let mut o = 0;
        for &d in &kept {
            o = o * shape[d] + (f / strides[d]) % shape[d];
        }
        windows[o].push(f);
    }
    windows
}

fn pool(
    program: &Program,
    op: usize,
    node: &QNode,
    chunk: usize,
    win: &Window,
    avg: Option<bool>,
) -> Result<(OpCircuit, Vec<ChunkRef>), ZkError> {
    let x = slot_of(node, 0)
        .map(|s| program.slot_spec(s))
        .ok_or_else(|| unsupported(op, node, "constant input"))?;
    let (h, w) = (x.shape[2], x.shape[3]);
    let (oh, ow) = (node.out.shape[2], node.out.shape[3]);
    let window = |f: usize| -> Vec<usize> {
        let (ox, oy, p) = (f % ow, (f / ow) % oh, f / (ow * oh));
        let mut taps = Vec::new();
        for ky in 0..win.kernel[0] {
            for kx in 0..win.kernel[1] {
                let iy =
                    (oy * win.strides[0] + ky * win.dilations[0]) as isize - win.pads[0] as isize;
                let ix =
                    (ox * win.strides[1] + kx * win.dilations[1]) as isize - win.pads[1] as isize;
                if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                    taps.push((p * h + iy as usize) * w + ix as usize);
                }
            }
        }
        taps
    };
    let (kind, area) = match avg {
        None => (ReduceKind::Max, 0),
        Some(_) => (ReduceKind::Mean, (win.kernel[0] * win.kernel[1]) as i64),
    };
    let include_pad = avg == Some(true);
    let divisor = |f: usize| {
        if include_pad {
            area
        } else {
            window(f).len() as i64
        }
    };
    if (0..node.out.numel()).any(|f| window(f).is_empty()) {
        return Err(unsupported(op, node, "a window entirely in the padding"));
    }
    reduce(program, node, chunk, kind, window, divisor)
}

/// A reduction whose output `f` (NCHW flat) reads the NCHW input positions `window(f)` of
/// operand 0.
fn reduce(
    program: &Program,
    node: &QNode,
    chunk: usize,
    kind: ReduceKind,
    window: impl Fn(usize) -> Vec<usize>,
    divisor: impl Fn(usize) -> i64,
) -> Result<(OpCircuit, Vec<ChunkRef>), ZkError> {
    let outs = output_positions(&node.out, chunk);
    let x_shape = program
        .slot_spec(slot_of(node, 0).unwrap_or(0))
        .shape
        .clone();
    let windows: Vec<Vec<usize>> = outs
        .iter()
        .map(|&f| {
            window(f)
                .into_iter()
                .map(|i| to_canonical(&x_shape, i))
                .collect()
        })
        .collect();
    let plan = ReadPlan::new(program, node, windows.iter().flatten().map(|&q| (0, q)));
    let r = Reduce {
        kind,
        x_lens: plan.lens.clone(),
        windows: windows
            .iter()
            .map(|w| w.iter().map(|&q| plan.pos(0, q)).collect())
            .collect(),
        divisors: if kind == ReduceKind::Mean {
            outs.iter().map(|&f| divisor(f)).collect()
        } else {
            vec![]
        },
    };
    Ok((OpCircuit::Reduce(r), plan.refs))
}

/// The values of the chunks `reads` in a trace (canonical layout), the circuit's witness.
/// Each slot is brought to its canonical layout once, however many of its chunks are read.
pub fn read_chunks(program: &Program, slots: &[Tensor<i32>], reads: &[ChunkRef]) -> Vec<Vec<i32>> {
    let mut canonical: HashMap<usize, Vec<i32>> = HashMap::new();
    reads
        .iter()
        .map(|r| {
            let values = canonical
                .entry(r.slot)
                .or_insert_with(|| zkopml_exec::commit::canonical(&slots[r.slot]));
            let len = program.slot_spec(r.slot).chunk_len;
            let lo = (r.chunk * len).min(values.len());
            values[lo..(lo + len).min(values.len())].to_vec()
        })
        .collect()
}
