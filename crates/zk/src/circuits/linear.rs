//! Gemm and Conv over one output chunk (docs/fixed-point.md), with the operator's integer
//! weights and bias baked into the circuit as constants.
//!
//! Every output value is `y = shift_round(bias + Σ w·x, shift)`. A product of a witness with a
//! constant weight is a coefficient of a linear combination, so the accumulator costs no
//! constraint at all: an output costs one rescale, `32 + shift + 1` constraints for
//! `shift > 0` (a 32-bit check, 33, for `shift <= 0`), whatever the fan-in. Zero weights are
//! left out of the combination. On top of that, as for every [`ChunkOp`], each input value
//! costs 32 constraints (its range check) and each chunk one digest.
//!
//! Chunks are those of `docs/commitments.md`: `[rows, N]` row-major for Gemm, NHWC for Conv.
//!
//! - **Gemm** (`x [rows, K]`, `w [K, N]`): output chunk `j` covers the row-major positions
//!   `[j·Ly, (j+1)·Ly)` of `y [rows, N]` (for `rows = 1`: columns `j·Ly ..`). It reads the
//!   input chunks that hold the rows `x[r, ..]` those positions need, a contiguous run.
//! - **Conv** (`x [B, C, H, W]` in NHWC chunks, `w [M, C/g, kh, kw]`): output chunk `j` covers
//!   NHWC positions `[j·Ly, (j+1)·Ly)`, whole output rows `(b, oy)`. It reads every input
//!   chunk that holds part of an input row `(b, iy)` with `iy = oy·sh + ky·dh − pt` inside the
//!   image, for some `ky` and some output row of the chunk, in increasing chunk order (so
//!   with a large stride the chunks read need not be contiguous). Positions outside the
//!   image are zero padding and contribute nothing.
//!
//! The chunks read ([`Gemm::x_chunks`], [`Conv::x_chunks`]) are in public-input order: the
//! engine's circuit-table entry must list the same chunks in the same order.

use super::chunk::ChunkOp;
use crate::{
    gadgets::signed::{rescale_hint, SignedVar},
    structure::{Canon, Enc},
    Fr, ZkError,
};
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};
use num_bigint::BigInt;
use zkopml_model::fixed::shift_round_i128;

/// `shift_round` of docs/fixed-point.md on a wide accumulator, exact
/// (`zkopml_model::fixed::shift_round_i128`); a value beyond i128 (only for `shift <= 0`)
/// saturates, and [`narrow`] refuses it.
fn shift_round_wide(x: i128, k: i32) -> i128 {
    shift_round_i128(x, k).unwrap_or(if x < 0 { i128::MIN } else { i128::MAX })
}

fn narrow(index: usize, v: i128) -> Result<i32, ZkError> {
    i32::try_from(v).map_err(|_| ZkError::ValueOutOfRange {
        index,
        value: i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX }),
    })
}

/// A witness `(q, r)` for the rescale of output `p` with accumulator `acc` (tests supply
/// cheating ones; honest synthesis uses [`rescale_hint`]).
pub type RescaleHint<'a> = &'a dyn Fn(usize, &BigInt, u32) -> (BigInt, BigInt);

/// `shift_round(bias + Σ c·x, shift)` proved in 32 bits, for one output.
fn output_var(
    p: usize,
    terms: &[(i128, &SignedVar<Fr>)],
    bias: i64,
    shift: i32,
    hint: RescaleHint,
) -> Result<SignedVar<Fr>, SynthesisError> {
    let acc = SignedVar::linear_combination(terms, bias as i128);
    if shift > 0 {
        acc.rescale_with_hint(shift as u32, 32, |a| hint(p, a, shift as u32))
    } else {
        acc.shift_round(shift, 32)
    }
}

fn honest(_: usize, acc: &BigInt, s: u32) -> (BigInt, BigInt) {
    rescale_hint(acc, s)
}

/// The structure key's data of a Gemm or Conv chunk (`crate::structure`): the input chunk
/// lengths, the shift, and per output its bias and its non-zero taps `(weight, position)`,
/// every list length-prefixed. This is exactly what [`synthesize_linear`] reads.
fn encode_linear(
    e: &mut Enc,
    x_lens: &[usize],
    shift: i32,
    y_len: usize,
    output: impl Fn(usize) -> (i64, Vec<(i64, usize)>),
) {
    x_lens.canon(e);
    shift.canon(e);
    e.len(y_len);
    for p in 0..y_len {
        let (bias, taps) = output(p);
        bias.canon(e);
        taps.canon(e);
    }
}

/// The constraints of a Gemm or Conv chunk from its resolved outputs: output `p` is
/// `shift_round(bias + Σ w·x[pos], shift)` over `output(p) = (bias, non-zero taps)`.
fn synthesize_linear(
    inputs: &[Vec<SignedVar<Fr>>],
    shift: i32,
    y_len: usize,
    output: impl Fn(usize) -> (i64, Vec<(i64, usize)>),
    hint: RescaleHint,
) -> Result<Vec<SignedVar<Fr>>, SynthesisError> {
    // every input is read by many outputs: hold it in one variable
    let x: Vec<SignedVar<Fr>> = inputs
        .iter()
        .flatten()
        .map(|v| v.materialize())
        .collect::<Result<_, _>>()?;
    (0..y_len)
        .map(|p| {
            let (bias, taps) = output(p);
            let terms: Vec<(i128, &SignedVar<Fr>)> =
                taps.iter().map(|&(w, i)| (w as i128, &x[i])).collect();
            output_var(p, &terms, bias, shift, hint)
        })
        .collect()
}

/// The length of chunk `c` of a tensor of `numel` values in chunks of `chunk_len` (the last
/// one may be shorter).
fn chunk_len_of(c: usize, chunk_len: usize, numel: usize) -> usize {
    chunk_len.min(numel - c * chunk_len)
}

// ---------------------------------------------------------------------------------------------
// Gemm

/// Gemm over one output chunk: `y[r, n] = shift_round(bias[n] + Σ_k x[r, k]·w[k, n], shift)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gemm {
    /// `w [K, N]`, row-major.
    pub weight: Vec<i64>,
    /// `K`.
    pub k: usize,
    /// `N`.
    pub n: usize,
    /// `bias [N]` (at the accumulator scale).
    pub bias: Vec<i64>,
    /// The output shift.
    pub shift: i32,
    /// Indices of the input chunks read, in public-input order.
    pub x_chunks: Vec<usize>,
    /// Their lengths.
    pub x_lens: Vec<usize>,
    /// Flat position (row-major) of the first value of the first chunk read.
    pub x_start: usize,
    /// Flat position of the first output value of the chunk.
    pub y_start: usize,
    /// Values in the output chunk.
    pub y_len: usize,
}

impl Gemm {
    /// Output chunk `chunk` of `y [rows, N]` in chunks of `y_chunk_len`, with the input
    /// `x [rows, K]` in chunks of `x_chunk_len`.
    #[allow(clippy::too_many_arguments)]
    pub fn chunk(
        weight: Vec<i64>,
        k: usize,
        n: usize,
        bias: Vec<i64>,
        shift: i32,
        rows: usize,
        x_chunk_len: usize,
        y_chunk_len: usize,
        chunk: usize,
    ) -> Self {
        assert_eq!(weight.len(), k * n, "weight [K, N]");
        assert_eq!(bias.len(), n, "bias [N]");
        assert!(k > 0 && n > 0 && rows > 0 && x_chunk_len > 0 && y_chunk_len > 0);
        assert!(shift.abs() <= 62, "shift too large");
        let y_numel = rows * n;
        let y_start = chunk * y_chunk_len;
        assert!(y_start < y_numel, "output chunk {chunk} out of range");
        let y_len = chunk_len_of(chunk, y_chunk_len, y_numel);
        let (r0, r1) = (y_start / n, (y_start + y_len - 1) / n);
        let x_numel = rows * k;
        let (c0, c1) = ((r0 * k) / x_chunk_len, ((r1 + 1) * k - 1) / x_chunk_len);
        let x_chunks: Vec<usize> = (c0..=c1).collect();
        let x_lens = x_chunks
            .iter()
            .map(|&c| chunk_len_of(c, x_chunk_len, x_numel))
            .collect();
        Self {
            weight,
            k,
            n,
            bias,
            shift,
            x_chunks,
            x_lens,
            x_start: c0 * x_chunk_len,
            y_start,
            y_len,
        }
    }

    /// For output `p` of the chunk: the output column and the position of `x[r, 0]` in the
    /// concatenation of the chunks read.
    fn locate(&self, p: usize) -> (usize, usize) {
        let q = self.y_start + p;
        let (r, col) = (q / self.n, q % self.n);
        (col, r * self.k - self.x_start)
    }

    /// Output `p` of the chunk as its synthesis reads it: the bias and the non-zero taps
    /// `(weight, position in the concatenation of the chunks read)`, in `k` order.
    pub fn output_taps(&self, p: usize) -> (i64, Vec<(i64, usize)>) {
        let (col, base) = self.locate(p);
        let taps = (0..self.k)
            .map(|t| (self.weight[t * self.n + col], base + t))
            .filter(|(w, _)| *w != 0)
            .collect();
        (self.bias[col], taps)
    }

    /// Encodes everything the synthesis reads (the circuit table's structure key): the input
    /// chunk lengths, the shift and every [`Gemm::output_taps`], length-prefixed.
    pub fn structure(&self, e: &mut Enc) {
        encode_linear(e, &self.x_lens, self.shift, self.y_len, |p| {
            self.output_taps(p)
        });
    }

    /// The circuit with a supplied rescale witness (tests play a cheating prover with it).
    pub fn synthesize_with_hint(
        &self,
        inputs: &[Vec<SignedVar<Fr>>],
        hint: RescaleHint,
    ) -> Result<Vec<SignedVar<Fr>>, SynthesisError> {
        synthesize_linear(
            inputs,
            self.shift,
            self.y_len,
            |p| self.output_taps(p),
            hint,
        )
    }
}

impl ChunkOp for Gemm {
    fn input_lens(&self) -> Vec<usize> {
        self.x_lens.clone()
    }

    fn output_len(&self) -> usize {
        self.y_len
    }

    fn evaluate(&self, inputs: &[Vec<i32>]) -> Result<Vec<i32>, ZkError> {
        let x: Vec<i32> = inputs.concat();
        (0..self.y_len)
            .map(|p| {
                let (col, base) = self.locate(p);
                let acc: i128 = self.bias[col] as i128
                    + (0..self.k)
                        .map(|t| self.weight[t * self.n + col] as i128 * x[base + t] as i128)
                        .sum::<i128>();
                narrow(p, shift_round_wide(acc, self.shift))
            })
            .collect()
    }

    fn synthesize(
        &self,
        _cs: &ConstraintSystemRef<Fr>,
        inputs: &[Vec<SignedVar<Fr>>],
    ) -> Result<Vec<SignedVar<Fr>>, SynthesisError> {
        self.synthesize_with_hint(inputs, &honest)
    }
}

// ---------------------------------------------------------------------------------------------
// Conv

/// Geometry of a 2-D convolution (the executor's `kernels::ConvShape`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvShape {
    /// Batch.
    pub batch: usize,
    /// Input channels, height, width.
    pub c: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Output channels.
    pub m: usize,
    /// Kernel height.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
    /// Groups (`c` and `m` are multiples).
    pub groups: usize,
    /// Output height.
    pub oh: usize,
    /// Output width.
    pub ow: usize,
    /// Strides (y, x).
    pub strides: [usize; 2],
    /// Dilations (y, x).
    pub dilations: [usize; 2],
    /// Top and left padding.
    pub pads: [usize; 2],
}

/// Conv over one output chunk: `y[b, m, oy, ox] = shift_round(bias[m] + Σ w·x, shift)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conv {
    /// The geometry.
    pub shape: ConvShape,
    /// `w [M, C/g, kh, kw]`, row-major.
    pub weight: Vec<i64>,
    /// `bias [M]`.
    pub bias: Vec<i64>,
    /// The output shift.
    pub shift: i32,
    /// Input chunk length (NHWC values).
    pub x_chunk_len: usize,
    /// Indices of the input chunks read, increasing (public-input order).
    pub x_chunks: Vec<usize>,
    /// Their lengths.
    pub x_lens: Vec<usize>,
    /// Flat NHWC position of the first output value of the chunk.
    pub y_start: usize,
    /// Values in the output chunk.
    pub y_len: usize,
}

impl Conv {
    /// Output chunk `chunk` (NHWC chunks of `y_chunk_len`), with the input in NHWC chunks of
    /// `x_chunk_len`.
    pub fn chunk(
        shape: ConvShape,
        weight: Vec<i64>,
        bias: Vec<i64>,
        shift: i32,
        x_chunk_len: usize,
        y_chunk_len: usize,
        chunk: usize,
    ) -> Self {
        let s = shape;
        assert!(s.groups > 0 && s.c.is_multiple_of(s.groups) && s.m.is_multiple_of(s.groups));
        assert_eq!(
            weight.len(),
            s.m * (s.c / s.groups) * s.kh * s.kw,
            "weight [M, C/g, kh, kw]"
        );
        assert_eq!(bias.len(), s.m, "bias [M]");
        assert!(x_chunk_len > 0 && y_chunk_len > 0);
        assert!(shift.abs() <= 62, "shift too large");
        let y_numel = s.batch * s.oh * s.ow * s.m;
        let y_start = chunk * y_chunk_len;
        assert!(y_start < y_numel, "output chunk {chunk} out of range");
        let y_len = chunk_len_of(chunk, y_chunk_len, y_numel);
        let out_row = s.ow * s.m;
        let x_numel = s.batch * s.h * s.w * s.c;
        let mut x_chunks = Vec::new();
        let y_end = y_start + y_len - 1;
        for row in y_start / out_row..=y_end / out_row {
            let (b, oy) = (row / s.oh, row % s.oh);
            // The output pixels of the chunk in this row, and the input columns they read.
            let ox0 = y_start.max(row * out_row) % out_row / s.m;
            let ox1 = y_end.min((row + 1) * out_row - 1) % out_row / s.m;
            let ix0 = (ox0 * s.strides[1]) as isize - s.pads[1] as isize;
            let ix1 =
                (ox1 * s.strides[1] + (s.kw - 1) * s.dilations[1]) as isize - s.pads[1] as isize;
            let (ix0, ix1) = (ix0.max(0) as usize, ix1.min(s.w as isize - 1));
            if ix1 < ix0 as isize {
                continue;
            }
            for ky in 0..s.kh {
                let iy = (oy * s.strides[0] + ky * s.dilations[0]) as isize - s.pads[0] as isize;
                if iy < 0 || iy >= s.h as isize {
                    continue;
                }
                let pixel = (b * s.h + iy as usize) * s.w;
                let first = (pixel + ix0) * s.c;
                let last = (pixel + ix1 as usize) * s.c + s.c - 1;
                x_chunks.extend(first / x_chunk_len..=last / x_chunk_len);
            }
        }
        x_chunks.sort_unstable();
        x_chunks.dedup();
        let x_lens = x_chunks
            .iter()
            .map(|&c| chunk_len_of(c, x_chunk_len, x_numel))
            .collect();
        Self {
            shape,
            weight,
            bias,
            shift,
            x_chunk_len,
            x_chunks,
            x_lens,
            y_start,
            y_len,
        }
    }

    /// For output `p` of the chunk: its channel and the taps `(weight, position in the
    /// concatenation of the chunks read)` of the in-image positions of its window.
    fn taps(&self, p: usize) -> (usize, Vec<(i64, usize)>) {
        let s = &self.shape;
        let q = self.y_start + p;
        let oc = q % s.m;
        let ox = (q / s.m) % s.ow;
        let oy = (q / (s.m * s.ow)) % s.oh;
        let b = q / (s.m * s.ow * s.oh);
        let (cg, mg) = (s.c / s.groups, s.m / s.groups);
        let g = oc / mg;
        let mut taps = Vec::with_capacity(cg * s.kh * s.kw);
        for ic in 0..cg {
            for ky in 0..s.kh {
                for kx in 0..s.kw {
                    let iy =
                        (oy * s.strides[0] + ky * s.dilations[0]) as isize - s.pads[0] as isize;
                    let ix =
                        (ox * s.strides[1] + kx * s.dilations[1]) as isize - s.pads[1] as isize;
                    if iy < 0 || ix < 0 || iy >= s.h as isize || ix >= s.w as isize {
                        continue;
                    }
                    let w = self.weight[((oc * cg + ic) * s.kh + ky) * s.kw + kx];
                    let flat = ((b * s.h + iy as usize) * s.w + ix as usize) * s.c + g * cg + ic;
                    taps.push((w, self.position(flat)));
                }
            }
        }
        (oc, taps)
    }

    /// The position of the NHWC input value `flat` in the concatenation of the chunks read.
    fn position(&self, flat: usize) -> usize {
        let c = flat / self.x_chunk_len;
        let k = self
            .x_chunks
            .binary_search(&c)
            .expect("the chunks read cover the receptive field");
        self.x_lens[..k].iter().sum::<usize>() + flat % self.x_chunk_len
    }

    /// Output `p` of the chunk as its synthesis reads it: the bias and the non-zero taps
    /// `(weight, position in the concatenation of the chunks read)` of its window.
    pub fn output_taps(&self, p: usize) -> (i64, Vec<(i64, usize)>) {
        let (oc, taps) = self.taps(p);
        (
            self.bias[oc],
            taps.into_iter().filter(|(w, _)| *w != 0).collect(),
        )
    }

    /// Encodes everything the synthesis reads (the circuit table's structure key): the input
    /// chunk lengths, the shift and every [`Conv::output_taps`], length-prefixed.
    pub fn structure(&self, e: &mut Enc) {
        encode_linear(e, &self.x_lens, self.shift, self.y_len, |p| {
            self.output_taps(p)
        });
    }

    /// The circuit with a supplied rescale witness (tests play a cheating prover with it).
    pub fn synthesize_with_hint(
        &self,
        inputs: &[Vec<SignedVar<Fr>>],
        hint: RescaleHint,
    ) -> Result<Vec<SignedVar<Fr>>, SynthesisError> {
        synthesize_linear(
            inputs,
            self.shift,
            self.y_len,
            |p| self.output_taps(p),
            hint,
        )
    }
}

impl ChunkOp for Conv {
    fn input_lens(&self) -> Vec<usize> {
        self.x_lens.clone()
    }

    fn output_len(&self) -> usize {
        self.y_len
    }

    fn evaluate(&self, inputs: &[Vec<i32>]) -> Result<Vec<i32>, ZkError> {
        let x: Vec<i32> = inputs.concat();
        (0..self.y_len)
            .map(|p| {
                let (oc, taps) = self.taps(p);
                let acc: i128 = self.bias[oc] as i128
                    + taps
                        .iter()
                        .map(|&(w, i)| w as i128 * x[i] as i128)
                        .sum::<i128>();
                narrow(p, shift_round_wide(acc, self.shift))
            })
            .collect()
    }

    fn synthesize(
        &self,
        _cs: &ConstraintSystemRef<Fr>,
        inputs: &[Vec<SignedVar<Fr>>],
    ) -> Result<Vec<SignedVar<Fr>>, SynthesisError> {
        self.synthesize_with_hint(inputs, &honest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        circuits::chunk::ChunkCircuit,
        gadgets::digest::digest_constraints,
        groth16::{prove, seeded_rng, setup, verify},
        native::chunk_digest,
    };
    use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem};
    use num_bigint::BigInt;
    use rand_chacha::ChaCha20Rng;
    use rand_core::{RngCore, SeedableRng};
    use zkopml_exec::{commit::canonical, run_op};
    use zkopml_model::{onnx::DType, ops::Window, QNode, QOp, QOperand, Tensor, TensorSpec};

    fn values(rng: &mut ChaCha20Rng, len: usize, bits: u32) -> Vec<i64> {
        (0..len)
            .map(|_| ((rng.next_u32() as i32) >> (32 - bits)) as i64)
            .collect()
    }

    /// `(is_satisfied, constraints)`.
    fn synth<O: ChunkOp>(c: ChunkCircuit<O>) -> (bool, usize) {
        let cs = ConstraintSystem::<Fr>::new_ref();
        c.generate_constraints(cs.clone()).unwrap();
        (cs.is_satisfied().unwrap(), cs.num_constraints())
    }

    /// The documented cost: input range checks and each input held in one variable, one
    /// rescale per output, the digests and the public-input equalities (for `shift > 0` and
    /// outputs that are not constants).
    fn expected_constraints(x_lens: &[usize], y_len: usize, shift: i32) -> usize {
        let inputs: usize = x_lens.iter().map(|&l| 33 * l + digest_constraints(l)).sum();
        inputs + y_len * (32 + shift as usize + 1) + digest_constraints(y_len) + x_lens.len() + 1
    }

    /// An op whose rescales take a cheating witness.
    trait Hinted: ChunkOp {
        fn with_hint(
            &self,
            inputs: &[Vec<SignedVar<Fr>>],
            hint: RescaleHint,
        ) -> Result<Vec<SignedVar<Fr>>, SynthesisError>;
    }
    impl Hinted for Gemm {
        fn with_hint(
            &self,
            inputs: &[Vec<SignedVar<Fr>>],
            hint: RescaleHint,
        ) -> Result<Vec<SignedVar<Fr>>, SynthesisError> {
            self.synthesize_with_hint(inputs, hint)
        }
    }
    impl Hinted for Conv {
        fn with_hint(
            &self,
            inputs: &[Vec<SignedVar<Fr>>],
            hint: RescaleHint,
        ) -> Result<Vec<SignedVar<Fr>>, SynthesisError> {
            self.synthesize_with_hint(inputs, hint)
        }
    }

    type Hint = fn(usize, &BigInt, u32) -> (BigInt, BigInt);

    #[derive(Clone)]
    struct Cheat<O: Hinted> {
        op: O,
        hint: Hint,
    }
    impl<O: Hinted> ChunkOp for Cheat<O> {
        fn input_lens(&self) -> Vec<usize> {
            self.op.input_lens()
        }
        fn output_len(&self) -> usize {
            self.op.output_len()
        }
        fn evaluate(&self, inputs: &[Vec<i32>]) -> Result<Vec<i32>, ZkError> {
            self.op.evaluate(inputs)
        }
        fn synthesize(
            &self,
            _cs: &ConstraintSystemRef<Fr>,
            inputs: &[Vec<SignedVar<Fr>>],
        ) -> Result<Vec<SignedVar<Fr>>, SynthesisError> {
            self.op.with_hint(inputs, &self.hint)
        }
    }

    /// Output 0 with the remainder off by one (the identity no longer balances).
    fn remainder_plus_one(p: usize, acc: &BigInt, s: u32) -> (BigInt, BigInt) {
        let (q, r) = rescale_hint(acc, s);
        if p == 0 {
            (q, r + 1)
        } else {
            (q, r)
        }
    }

    /// Output 0 as `q + 1` with `r − 2^s`: the identity balances, `r` is out of range.
    fn quotient_plus_one(p: usize, acc: &BigInt, s: u32) -> (BigInt, BigInt) {
        let (q, r) = rescale_hint(acc, s);
        if p == 0 {
            (q + 1, r - (BigInt::from(1) << s))
        } else {
            (q, r)
        }
    }

    /// Satisfied with the honest claim (the executor's chunks); not with a wrong output value,
    /// a wrong remainder, or another chunk's digest in place of the output or of an input.
    fn check_claims<O: Hinted>(op: O, x_chunks: &[Vec<i32>], inputs: Vec<Vec<i32>>, y: &[i32]) {
        let honest: Vec<Fr> = inputs
            .iter()
            .map(|x| chunk_digest(x))
            .chain([chunk_digest(y)])
            .collect();
        assert_eq!(
            ChunkCircuit::public_inputs(&op, &inputs).unwrap(),
            honest,
            "the op's evaluate is the executor's"
        );
        let mut wrong = y.to_vec();
        let last = wrong.len() - 1;
        wrong[last] = wrong[last].wrapping_add(1);
        let mut wrong_claim = honest.clone();
        wrong_claim[inputs.len()] = chunk_digest(&wrong);
        assert!(
            !synth(ChunkCircuit::with_claim(
                op.clone(),
                inputs.clone(),
                wrong_claim
            ))
            .0
        );
        for hint in [remainder_plus_one as Hint, quotient_plus_one] {
            let cheat = Cheat {
                op: op.clone(),
                hint,
            };
            let c = ChunkCircuit::with_claim(cheat, inputs.clone(), honest.clone());
            assert!(!synth(c).0, "a wrong rescale witness accepted");
        }
        // Another chunk's digest, in place of the output's and of the first input's.
        let other = x_chunks
            .iter()
            .map(|x| chunk_digest(x))
            .find(|d| !honest.contains(d))
            .unwrap_or_else(|| chunk_digest(&wrong));
        for k in [inputs.len(), 0] {
            let mut claim = honest.clone();
            claim[k] = other;
            assert!(!synth(ChunkCircuit::with_claim(op.clone(), inputs.clone(), claim)).0);
        }
    }

    fn chunks_of(v: &[i32], len: usize) -> Vec<Vec<i32>> {
        v.chunks(len).map(<[i32]>::to_vec).collect()
    }

    fn gemm_node(rng: &mut ChaCha20Rng, rows: usize, k: usize, n: usize, shift: i32) -> QNode {
        let weight = values(rng, k * n, 20);
        let bias = values(rng, n, 31);
        QNode {
            name: "gemm".into(),
            onnx_op: "Gemm".into(),
            op: QOp::Gemm {
                weight: Tensor::new(vec![k, n], weight),
                bias,
                shift,
            },
            inputs: vec![QOperand::Slot(0)],
            out: TensorSpec::new(vec![rows, n], DType::Float, 8),
            macs: (rows * k * n) as u64,
        }
    }

    fn gemm_chunks(node: &QNode, x: &[i32], rows: usize, x_chunk_len: usize, y_chunk_len: usize) {
        let QOp::Gemm {
            weight,
            bias,
            shift,
        } = &node.op
        else {
            unreachable!()
        };
        let (k, n) = (weight.shape[0], weight.shape[1]);
        let slots = [Tensor::new(vec![rows, k], x.to_vec())];
        let y = run_op(1, node, &slots).unwrap().data;
        let x_chunks = chunks_of(x, x_chunk_len);
        for (j, y_chunk) in chunks_of(&y, y_chunk_len).iter().enumerate() {
            let op = Gemm::chunk(
                weight.data.clone(),
                k,
                n,
                bias.clone(),
                *shift,
                rows,
                x_chunk_len,
                y_chunk_len,
                j,
            );
            let inputs: Vec<Vec<i32>> = op.x_chunks.iter().map(|&c| x_chunks[c].clone()).collect();
            assert_eq!(&op.evaluate(&inputs).unwrap(), y_chunk, "chunk {j}");
            let c = ChunkCircuit::new(op.clone(), inputs.clone()).unwrap();
            let (ok, constraints) = synth(c);
            assert!(ok, "chunk {j}");
            assert_eq!(
                constraints,
                expected_constraints(&op.x_lens, op.y_len, *shift),
                "chunk {j}"
            );
            check_claims(op, &x_chunks, inputs, y_chunk);
        }
    }

    #[test]
    fn gemm_chunks_match_the_executor() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        // x [1, 20] in chunks of 8 (8, 8, 4); y [1, 10] in chunks of 4 (4, 4, 2).
        let node = gemm_node(&mut rng, 1, 20, 10, 16);
        let x: Vec<i32> = values(&mut rng, 20, 24)
            .into_iter()
            .map(|v| v as i32)
            .collect();
        gemm_chunks(&node, &x, 1, 8, 4);
        // One input chunk, one output chunk.
        gemm_chunks(&node, &x, 1, 20, 10);
        // x [3, 6], y [3, 5] in chunks of 4: output chunks straddle rows.
        let node = gemm_node(&mut rng, 3, 6, 5, 12);
        let x: Vec<i32> = values(&mut rng, 18, 22)
            .into_iter()
            .map(|v| v as i32)
            .collect();
        gemm_chunks(&node, &x, 3, 5, 4);
    }

    #[test]
    fn gemm_cost_per_output_is_one_rescale() {
        // K = 64: the fan-in costs nothing; an output costs 32 + shift + 1 = 49 constraints;
        // an input 32 (range) + 1 (held in one variable).
        let op = Gemm::chunk(vec![3; 64 * 4], 64, 4, vec![0; 4], 16, 1, 64, 4, 0);
        let cs = ConstraintSystem::<Fr>::new_ref();
        let x: Vec<i32> = (0..64).map(|t| t * 1001 - 30_000).collect();
        ChunkCircuit::new(op, vec![x])
            .unwrap()
            .generate_constraints(cs.clone())
            .unwrap();
        assert!(cs.is_satisfied().unwrap());
        let fixed = 33 * 64 + digest_constraints(64) + digest_constraints(4) + 2;
        assert_eq!(cs.num_constraints() - fixed, 4 * 49);
    }

    #[test]
    fn gemm_overflow_is_unprovable() {
        let op = Gemm::chunk(vec![1 << 18, 1], 2, 1, vec![0], 0, 1, 2, 1, 0);
        let x = vec![vec![1 << 20, 0]];
        assert!(op.evaluate(&x).is_err());
        let claim = vec![chunk_digest(&x[0]), chunk_digest(&[0])];
        assert!(!synth(ChunkCircuit::with_claim(op, x, claim)).0);
    }

    #[test]
    fn gemm_groth16() {
        let mut rng = ChaCha20Rng::seed_from_u64(11);
        let node = gemm_node(&mut rng, 1, 4, 3, 10);
        let QOp::Gemm {
            weight,
            bias,
            shift,
        } = &node.op
        else {
            unreachable!()
        };
        let x: Vec<i32> = vec![1000, -2000, 123_456, -7];
        let y = run_op(1, &node, &[Tensor::new(vec![1, 4], x.clone())])
            .unwrap()
            .data;
        let op = Gemm::chunk(weight.data.clone(), 4, 3, bias.clone(), *shift, 1, 4, 3, 0);
        let keys = setup(ChunkCircuit::shape(op.clone()), &mut seeded_rng(3)).unwrap();
        assert_eq!(keys.info.num_public_inputs(), 2);
        let p = prove(
            &keys,
            ChunkCircuit::new(op, vec![x.clone()]).unwrap(),
            &mut seeded_rng(4),
        )
        .unwrap();
        assert_eq!(p.public_inputs, vec![chunk_digest(&x), chunk_digest(&y)]);
        assert!(verify(keys.vk(), &p.public_inputs, &p.proof).unwrap());
        let mut bad = p.public_inputs.clone();
        bad[1] = chunk_digest(&[y[0], y[1], y[2] + 1]);
        assert!(!verify(keys.vk(), &bad, &p.proof).unwrap());
    }

    /// Runs a Conv node through the executor and checks every output chunk's circuit.
    #[allow(clippy::too_many_arguments)]
    fn conv_case(
        rng: &mut ChaCha20Rng,
        [batch, c, h, w]: [usize; 4],
        m: usize,
        groups: usize,
        win: Window,
        shift: i32,
        x_rows: usize,
        y_rows: usize,
    ) -> usize {
        let [oh, ow] = win.out_hw(h, w).unwrap();
        let [kh, kw] = win.kernel;
        let weight = values(rng, m * (c / groups) * kh * kw, 20);
        let bias = values(rng, m, 30);
        let node = QNode {
            name: "conv".into(),
            onnx_op: "Conv".into(),
            op: QOp::Conv {
                weight: Tensor::new(vec![m, c / groups, kh, kw], weight.clone()),
                bias: bias.clone(),
                window: win.clone(),
                groups,
                shift,
            },
            inputs: vec![QOperand::Slot(0)],
            out: TensorSpec::new(vec![batch, m, oh, ow], DType::Float, 8),
            macs: 0,
        };
        let x = Tensor::new(
            vec![batch, c, h, w],
            values(rng, batch * c * h * w, 24)
                .into_iter()
                .map(|v| v as i32)
                .collect(),
        );
        let y = canonical(&run_op(1, &node, std::slice::from_ref(&x)).unwrap());
        let x = canonical(&x);
        let shape = ConvShape {
            batch,
            c,
            h,
            w,
            m,
            kh,
            kw,
            groups,
            oh,
            ow,
            strides: win.strides,
            dilations: win.dilations,
            pads: [win.pads[0], win.pads[1]],
        };
        let (x_chunk_len, y_chunk_len) = (x_rows * w * c, y_rows * ow * m);
        let x_chunks = chunks_of(&x, x_chunk_len);
        let mut read = 0;
        for (j, y_chunk) in chunks_of(&y, y_chunk_len).iter().enumerate() {
            let op = Conv::chunk(
                shape,
                weight.clone(),
                bias.clone(),
                shift,
                x_chunk_len,
                y_chunk_len,
                j,
            );
            let inputs: Vec<Vec<i32>> = op.x_chunks.iter().map(|&c| x_chunks[c].clone()).collect();
            read += inputs.len();
            assert_eq!(&op.evaluate(&inputs).unwrap(), y_chunk, "chunk {j}");
            let (ok, constraints) = synth(ChunkCircuit::new(op.clone(), inputs.clone()).unwrap());
            assert!(ok, "chunk {j}");
            assert_eq!(
                constraints,
                expected_constraints(&op.x_lens, op.y_len, shift)
            );
            check_claims(op, &x_chunks, inputs, y_chunk);
        }
        read
    }

    #[test]
    fn conv_chunks_match_the_executor() {
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        // 3x3, pad 1: output rows 2 at a time read input rows oy-1 ..= oy+2 (one row per chunk).
        let win = Window {
            kernel: [3, 3],
            strides: [1, 1],
            dilations: [1, 1],
            pads: [1, 1, 1, 1],
        };
        // x [1, 2, 5, 4] (5 chunks of one row), y [1, 3, 5, 4] (chunks of 2, 2, 1 rows):
        // chunk 0 reads rows 0..=2, chunk 1 rows 1..=4, chunk 2 rows 3..=4.
        assert_eq!(
            conv_case(&mut rng, [1, 2, 5, 4], 3, 1, win, 16, 1, 2),
            3 + 4 + 2
        );
        // Two images, groups = 2 (C = 4, M = 4), stride 2, dilation 2, asymmetric pads, two
        // input rows per chunk.
        let win = Window {
            kernel: [2, 3],
            strides: [2, 2],
            dilations: [2, 1],
            pads: [1, 0, 0, 2],
        };
        conv_case(&mut rng, [2, 4, 6, 5], 4, 2, win, 15, 2, 1);
        // Depthwise 1x1 with stride 3: an output row reads one input row, so the chunks read
        // skip input chunks.
        let win = Window {
            kernel: [1, 1],
            strides: [3, 3],
            dilations: [1, 1],
            pads: [0, 0, 0, 0],
        };
        let read = conv_case(&mut rng, [1, 3, 7, 3], 3, 3, win, 12, 1, 3);
        assert_eq!(read, 3);
    }
}
