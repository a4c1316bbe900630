//! The compiled fixed-point program: integers only, with a canonical byte encoding whose
//! keccak hash is what the registry records.

use serde::{Deserialize, Serialize};
use tiny_keccak::{Hasher, Keccak};

use crate::error::{ModelError, Result};
use crate::fixed::PiecewisePoly;
use crate::onnx::DType;
use crate::ops::{CompareKind, Window};
use crate::tensor::Tensor;

/// Values per chunk of a tensor that is not rank 4, and the most a rank-4 chunk holds unless
/// one pixel has more channels (docs/commitments.md).
pub const CHUNK_TARGET: usize = 2048;

/// Shape, scale and chunking of one slot of the trace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TensorSpec {
    pub shape: Vec<usize>,
    pub dtype: DType,
    /// value = integer · 2^-scale
    pub scale: i32,
    pub chunk_len: usize,
}

impl TensorSpec {
    pub fn new(shape: Vec<usize>, dtype: DType, scale: i32) -> Self {
        let numel: usize = shape.iter().product();
        let chunk_len = if shape.len() == 4 {
            shape[1] * default_chunk_pixels(shape[3], shape[1])
        } else {
            CHUNK_TARGET
        }
        .min(numel.max(1));
        TensorSpec {
            shape,
            dtype,
            scale,
            chunk_len,
        }
    }
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
    pub fn num_chunks(&self) -> usize {
        self.numel().div_ceil(self.chunk_len)
    }
    /// Pixels of one NHWC row per chunk, for a rank-4 tensor.
    pub fn chunk_pixels(&self) -> Option<usize> {
        (self.shape.len() == 4 && self.shape[1] > 0).then(|| self.chunk_len / self.shape[1])
    }
    fn set_chunk_pixels(&mut self, pixels: usize) {
        self.chunk_len = (pixels * self.shape[1]).min(self.numel().max(1));
    }
}

/// Pixels per chunk of a rank-4 tensor of width `w` with `c` channels before alignment: the
/// whole row when it holds at most CHUNK_TARGET values, else the largest power of two dividing
/// `w` whose pixels hold at most CHUNK_TARGET values (at least one pixel). A chunk never
/// straddles two rows.
pub fn default_chunk_pixels(w: usize, c: usize) -> usize {
    if w * c <= CHUNK_TARGET {
        return w.max(1);
    }
    let mut p = 1;
    while w.is_multiple_of(2 * p) && 2 * p * c <= CHUNK_TARGET {
        p *= 2;
    }
    p
}

pub(crate) fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Narrows rank-4 chunks (never widens) until, for every operator, interior output chunks read
/// their inputs at the same offsets, so that they share one circuit (docs/commitments.md):
/// - a windowed operator (Conv, MaxPool, AveragePool) whose output row spans several chunks of
///   `P_out` pixels, with stride `s` along W, reads an input whose chunk pixels `P_in` divide
///   `s · P_out`;
/// - an elementwise operator's operands and output, all of one rank-4 shape, have equal chunks.
///
/// Each change divides a chunk's pixel count, so this ends; the result divides every row width.
pub fn align_chunks(input: &mut TensorSpec, ops: &mut [QNode]) {
    fn spec<'a>(
        input: &'a mut TensorSpec,
        ops: &'a mut [QNode],
        slot: usize,
    ) -> &'a mut TensorSpec {
        if slot == 0 {
            input
        } else {
            &mut ops[slot - 1].out
        }
    }
    loop {
        let mut changed = false;
        for i in 0..ops.len() {
            let out = ops[i].out.clone();
            let Some(p_out) = out.chunk_pixels() else {
                // not rank 4: an elementwise operator's same-shape operands and output get equal
                // chunks (a no-op unless a chunk was narrowed: equal shapes chunk alike)
                if ops[i].op.is_elementwise() {
                    let slots: Vec<usize> = ops[i].input_slots().collect();
                    let same: Vec<usize> = slots
                        .into_iter()
                        .filter(|&s| spec(input, ops, s).shape == out.shape)
                        .chain([i + 1])
                        .collect();
                    let g = same
                        .iter()
                        .fold(out.chunk_len, |g, &s| gcd(g, spec(input, ops, s).chunk_len));
                    for s in same {
                        let x = spec(input, ops, s);
                        if x.chunk_len != g {
                            x.chunk_len = g;
                            changed = true;
                        }
                    }
                }
                continue;
            };
            let slots: Vec<usize> = ops[i].input_slots().collect();
            let stride = match &ops[i].op {
                QOp::Conv { window, .. }
                | QOp::MaxPool { window }
                | QOp::AveragePool { window, .. } => Some(window.strides[1]),
                _ => None,
            };
            if let Some(stride) = stride {
                let Some(&x) = slots.first() else { continue };
                let x = spec(input, ops, x);
                if let Some(p_in) = x.chunk_pixels() {
                    // One output chunk per row: every row reads from a row start, so any P_in.
                    let p = if p_out < out.shape[3] {
                        gcd(p_in, stride * p_out)
                    } else {
                        p_in
                    };
                    if p < p_in {
                        x.set_chunk_pixels(p);
                        changed = true;
                    }
                }
            } else if ops[i].op.is_elementwise() {
                let same: Vec<usize> = slots
                    .into_iter()
                    .filter(|&s| spec(input, ops, s).shape == out.shape)
                    .collect();
                let g = same.iter().fold(p_out, |g, &s| {
                    gcd(g, spec(input, ops, s).chunk_pixels().unwrap_or(g))
                });
                for s in same.into_iter().chain([i + 1]) {
                    let x = spec(input, ops, s);
                    if x.chunk_pixels() != Some(g) {
                        x.set_chunk_pixels(g);
                        changed = true;
                    }
                }
            }
        }
        if !changed {
            return;
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum QOperand {
    Slot(usize),
    /// A constant at `scale` (integers; bools and ints at scale 0).
    Const {
        tensor: Tensor<i64>,
        scale: i32,
    },
}

/// One fixed-point operator. Shifts are signed: `shift_round(x, k)` divides by 2^k (k > 0,
/// rounding half up) or multiplies by 2^-k (k <= 0). docs/fixed-point.md defines each.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum QOp {
    /// acc = bias[m] + Σ w·x; y = shift_round(acc, shift)
    Conv {
        weight: Tensor<i64>,
        bias: Vec<i64>,
        window: Window,
        groups: usize,
        shift: i32,
    },
    /// acc = bias[n] + Σ_k x[k]·w[k, n]; y = shift_round(acc, shift)
    Gemm {
        weight: Tensor<i64>,
        bias: Vec<i64>,
        shift: i32,
    },
    /// acc = Σ_k a[.., i, k]·b[.., k, j]; y = shift_round(acc, shift)
    MatMul {
        shift: i32,
    },
    /// acc = a·2^ua ± b·2^ub (both ua, ub >= 0); y = shift_round(acc, shift)
    Add {
        ua: u32,
        ub: u32,
        shift: i32,
    },
    Sub {
        ua: u32,
        ub: u32,
        shift: i32,
    },
    /// y = shift_round(max/min(a·2^ua, b·2^ub), shift)
    Max {
        ua: u32,
        ub: u32,
        shift: i32,
    },
    Min {
        ua: u32,
        ub: u32,
        shift: i32,
    },
    /// y = shift_round(a·b, shift)
    Mul {
        shift: i32,
    },
    /// y = div_round(shift_round(a, -up), b); error if b = 0
    Div {
        up: i32,
    },
    /// y = 1 if a·2^ua <cmp> b·2^ub else 0
    Compare {
        kind: CompareKind,
        ua: u32,
        ub: u32,
    },
    Relu,
    /// y = x if x >= 0 else shift_round(x·alpha, alpha_shift)
    LeakyRelu {
        alpha: i64,
        alpha_shift: i32,
    },
    Clip {
        lo: i64,
        hi: i64,
    },
    Neg,
    Abs,
    Poly(PiecewisePoly),
    /// y = isqrt(shift_round(x, -up)); error if x < 0
    Sqrt {
        up: i32,
    },
    /// y = div_round(2^num_bits, x); error if x = 0
    Reciprocal {
        num_bits: u32,
    },
    /// e = exp.eval(x - max(lane)); y = div_round(e·2^out_scale, Σ e)
    Softmax {
        axis: usize,
        legacy: bool,
        exp: PiecewisePoly,
        out_scale: i32,
    },
    MaxPool {
        window: Window,
    },
    /// y = div_round(Σ window, count)
    AveragePool {
        window: Window,
        count_include_pad: bool,
    },
    /// y = div_round(Σ_{h,w} x, divisor)
    GlobalAveragePool {
        divisor: u64,
    },
    /// y = shift_round(x·mul[c] + add[c], shift), channel c on axis 1
    Affine {
        mul: Vec<i64>,
        add: Vec<i64>,
        shift: i32,
    },
    Reshape,
    Transpose {
        perm: Vec<usize>,
    },
    /// each input aligned by shift_round(x, shifts[i]) then concatenated
    Concat {
        axis: usize,
        shifts: Vec<i32>,
    },
    Slice {
        starts: Vec<usize>,
        steps: Vec<usize>,
    },
    /// indices operand at scale 0; error if out of range
    Gather {
        axis: usize,
    },
    GatherElements {
        axis: usize,
    },
    Not,
    /// y = cond != 0 ? shift_round(a, sa) : shift_round(b, sb)
    Where {
        sa: i32,
        sb: i32,
    },
    /// to Int: truncate toward zero to scale 0; to Bool: x != 0; to Float: shift_round(x, shift)
    Cast {
        to: DType,
        shift: i32,
    },
    ReduceSum {
        axes: Vec<usize>,
    },
    /// y = div_round(Σ, count)
    ReduceMean {
        axes: Vec<usize>,
    },
    ArgMax {
        axis: usize,
        select_last: bool,
    },
    /// max (or min) over `axes`, same scale
    ReduceExtreme {
        axes: Vec<usize>,
        max: bool,
    },
    /// constant padding with `value` (at the input's scale)
    Pad {
        begins: Vec<usize>,
        value: i64,
    },
}

impl QOp {
    /// Output value i depends on value i of each same-shaped operand only.
    pub fn is_elementwise(&self) -> bool {
        matches!(
            self,
            QOp::Add { .. }
                | QOp::Sub { .. }
                | QOp::Max { .. }
                | QOp::Min { .. }
                | QOp::Mul { .. }
                | QOp::Div { .. }
                | QOp::Compare { .. }
                | QOp::Relu
                | QOp::LeakyRelu { .. }
                | QOp::Clip { .. }
                | QOp::Neg
                | QOp::Abs
                | QOp::Poly(_)
                | QOp::Sqrt { .. }
                | QOp::Reciprocal { .. }
                | QOp::Affine { .. }
                | QOp::Not
                | QOp::Where { .. }
                | QOp::Cast { .. }
        )
    }

    pub fn kind(&self) -> &'static str {
        match self {
            QOp::Conv { .. } => "Conv",
            QOp::Gemm { .. } => "Gemm",
            QOp::MatMul { .. } => "MatMul",
            QOp::Add { .. } => "Add",
            QOp::Sub { .. } => "Sub",
            QOp::Max { .. } => "Max",
            QOp::Min { .. } => "Min",
            QOp::Mul { .. } => "Mul",
            QOp::Div { .. } => "Div",
            QOp::Compare { .. } => "Compare",
            QOp::Relu => "Relu",
            QOp::LeakyRelu { .. } => "LeakyRelu",
            QOp::Clip { .. } => "Clip",
            QOp::Neg => "Neg",
            QOp::Abs => "Abs",
            QOp::Poly(_) => "PiecewisePoly",
            QOp::Sqrt { .. } => "Sqrt",
            QOp::Reciprocal { .. } => "Reciprocal",
            QOp::Softmax { .. } => "Softmax",
            QOp::MaxPool { .. } => "MaxPool",
            QOp::AveragePool { .. } => "AveragePool",
            QOp::GlobalAveragePool { .. } => "GlobalAveragePool",
            QOp::Affine { .. } => "Affine",
            QOp::Reshape => "Reshape",
            QOp::Transpose { .. } => "Transpose",
            QOp::Concat { .. } => "Concat",
            QOp::Slice { .. } => "Slice",
            QOp::Gather { .. } => "Gather",
            QOp::GatherElements { .. } => "GatherElements",
            QOp::Not => "Not",
            QOp::Where { .. } => "Where",
            QOp::Cast { .. } => "Cast",
            QOp::ReduceSum { .. } => "ReduceSum",
            QOp::ReduceMean { .. } => "ReduceMean",
            QOp::ArgMax { .. } => "ArgMax",
            QOp::ReduceExtreme { max: true, .. } => "ReduceMax",
            QOp::ReduceExtreme { max: false, .. } => "ReduceMin",
            QOp::Pad { .. } => "Pad",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QNode {
    pub name: String,
    pub onnx_op: String,
    pub op: QOp,
    pub inputs: Vec<QOperand>,
    pub out: TensorSpec,
    /// multiply-accumulates of one execution
    pub macs: u64,
}

impl QNode {
    /// The trace slots among the operands, in operand order.
    pub fn input_slots(&self) -> impl Iterator<Item = usize> + '_ {
        self.inputs.iter().filter_map(|o| match o {
            QOperand::Slot(s) => Some(*s),
            QOperand::Const { .. } => None,
        })
    }
}

/// Where one graph input lies in slot 0: values `offset..offset + numel(shape)`, in its own
/// ONNX layout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputPart {
    pub name: String,
    pub shape: Vec<usize>,
    pub dtype: DType,
    pub offset: usize,
}

impl InputPart {
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// A graph input of the compiled program with the scale its values are quantised at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramInput {
    pub part: InputPart,
    /// value = integer · 2^-scale (0 for integer and boolean inputs, taken as they are)
    pub scale: i32,
}

/// A compiled model. `ops[i - 1]` is op i and writes slot i; slot 0 is the input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Program {
    pub format_version: u32,
    pub input: TensorSpec,
    /// The graph inputs when there are several, each quantised at its own scale and placed in
    /// slot 0 one after the other (docs/fixed-point.md, "Several inputs"); empty when slot 0 is
    /// the model's one input.
    pub inputs: Vec<ProgramInput>,
    pub ops: Vec<QNode>,
    /// graph outputs (slots); the last op's slot is always among them
    pub outputs: Vec<usize>,
}

/// 2: GlobalAveragePool carries its divisor; rank-4 chunks of P pixels (docs/commitments.md).
/// 3: several graph inputs (`inputs`).
pub const FORMAT_VERSION: u32 = 3;

impl Program {
    pub fn n_ops(&self) -> usize {
        self.ops.len()
    }
    pub fn slot_spec(&self, slot: usize) -> &TensorSpec {
        if slot == 0 {
            &self.input
        } else {
            &self.ops[slot - 1].out
        }
    }
    /// The graph inputs, in slot 0's order: `inputs`, or slot 0 itself as the one input.
    pub fn input_parts(&self) -> Vec<ProgramInput> {
        if !self.inputs.is_empty() {
            return self.inputs.clone();
        }
        vec![ProgramInput {
            part: InputPart {
                name: "input".into(),
                shape: self.input.shape.clone(),
                dtype: self.input.dtype,
                offset: 0,
            },
            scale: self.input.scale,
        }]
    }
    pub fn output_spec(&self) -> &TensorSpec {
        self.slot_spec(self.n_ops())
    }
    /// `stateDepth` of docs/commitments.md.
    pub fn state_depth(&self) -> u32 {
        let slots = self.n_ops() + 1;
        (usize::BITS - (slots - 1).leading_zeros()).max(1)
    }

    /// The canonical byte encoding (bincode 1, little-endian, fixed-width integers).
    pub fn to_bytes(&self) -> Vec<u8> {
        bincode::serialize(self).expect("serialising a Program to memory cannot fail")
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Program> {
        let p: Program = bincode::deserialize(bytes)
            .map_err(|e| ModelError::Encoding(format!("not a compiled zkopml model: {e}")))?;
        if p.format_version != FORMAT_VERSION {
            return Err(ModelError::Encoding(format!(
                "compiled model format {} (this build reads {FORMAT_VERSION})",
                p.format_version
            )));
        }
        Ok(p)
    }

    /// keccak256 of the canonical encoding: the model hash the registry records.
    pub fn hash(&self) -> [u8; 32] {
        let mut k = Keccak::v256();
        k.update(&self.to_bytes());
        let mut out = [0u8; 32];
        k.finalize(&mut out);
        out
    }
}
