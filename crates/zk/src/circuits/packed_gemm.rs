//! A Gemm whose weights are a witness (issue 22, design (a)): the circuit depends on the
//! layer's shape only, and the weights it used are bound by one more public input, the digest
//! of the output chunk's *weight block*, which a registry would open under a weights root.
//!
//! Three output columns share a field element: a weight block is, per group `g` of three
//! columns `c_0 < c_1 < c_2`, the bias element and one element per `t < K`,
//!
//! ```text
//! e_{g,bias} = Σ_i bias[c_i] · B^i      e_{g,t} = Σ_i w[t, c_i] · B^i      B = 2^80
//! ```
//!
//! (signed digits, as field elements). One product `x[r, t] · e_{g,t}` then accumulates three
//! columns at once: `T = e_{g,bias} + Σ_t x[r, t] · e_{g,t} = Σ_i acc_i · B^i` over the
//! integers, since `|acc_i| < 2^62 + 2^45` for every input (docs/fixed-point.md) keeps
//! `|T| < 2^224`.
//!
//! **Shifts are weights too.** A layer's shift `s` comes from its calibration, so layers of one
//! shape rarely share it. The block therefore starts with a multiplier `m = 2^(S - s)`, and the
//! circuit rescales by its own shift `S = shift_class(s)` (0 for `-16 <= s <= 0`, else 16 or
//! 30), so `m <= 2^16`:
//! `shift_round(m·acc, S) = shift_round(acc, s)` exactly (both are the round half up of
//! `(acc + 2^(s-1)) / 2^s`, the second with numerator and denominator times `2^(S-s)`).
//!
//! The circuit witnesses each digit `v_i` of `m·T = Σ_i v_i · B^i` through its rescale
//! (`v_i + 2^(S-1) = q_i 2^S + r_i`, `q_i` 32-bit, `0 <= r_i < 2^S`; for `S = 0` a 32-bit range
//! check of `v_i`), which bounds `|v_i| < 2^(31+S) <= 2^61 < B/2`. The true digits `m·acc_i`
//! are below `2^16·2^63 = B/2` too, **for every input, also one the executor refuses** (an
//! overflowing column), and `|m·T| < 2^240` is below half the field: balanced base-B digits are
//! unique, so every `v_i` is the true `m·acc_i` and `q_i` the output, and an overflowing column
//! has no witness. (With `B = 2^64` a column whose `m·acc` reached `2^63` carried into the next
//! digit: the executor refused, the circuit accepted the carried values.) Cost: one product
//! per group for `m`, and a rescale of `S` bits instead of `s` (at most 15 more constraints an
//! output).
//!
//! The weights are never range checked: the block's elements are the registered field elements
//! themselves (the digest binds them, not a packing of them), and the registry's root is
//! recomputed from the model by every actor. Cost per weight: a third of a product and the
//! hashing of a third of an element (Poseidon of width 13, the widest circomlib has: 11 new elements a call).
//!
//! The weight block digest (`native::weight_block_digest`, `gadgets::digest`): `h_0 = n` (the
//! element count), `h_{b+1} = Poseidon12(h_b,
//! e_{11b}, …, e_{11b+10})` (circomlib parameters, missing elements 0), the last `h`.

use super::chunk::ChunkOp;
use crate::{
    gadgets::{
        lincomb,
        signed::{field_to_int, int_to_field, SignedVar},
    },
    Fr, ZkError,
};
use ark_ff::{One, Zero};
use ark_r1cs_std::{alloc::AllocVar, eq::EqGadget, fields::fp::FpVar, GR1CSVar};
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};
use num_bigint::BigInt;
use zkopml_model::fixed::{fit_i64, shift_round_i128};

/// Output columns per field element of a weight block.
pub const COLUMNS_PER_ELEMENT: usize = 3;
/// The digit base `B = 2^80` of the packed columns: above `2^17` times the largest accumulator
/// (module docs), three of them within the field.
pub const DIGIT_BITS: usize = 80;
/// The largest rescale whose witnesses bound an accumulator below `2^62`.
pub const MAX_SHIFT: i32 = 30;
/// The most negative shift: its multiplier `2^16` keeps every digit below `B/2`.
pub const MIN_SHIFT: i32 = -16;

/// The shift a circuit rescales by for a layer of shift `s` (module docs): its
/// [`super::shift_class`], at most [`MAX_SHIFT`].
pub fn shift_class(s: i32) -> i32 {
    super::shift_class(s).min(MAX_SHIFT)
}

/// The shape of one output chunk of `y [rows, N] = x [rows, K] · w [K, N] + bias`: everything
/// the circuit depends on (no weight value).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PackedGemm {
    /// `K`.
    pub k: usize,
    /// `N`.
    pub n: usize,
    /// The output shift.
    pub shift: i32,
    /// Lengths of the input chunks read, in public-input order.
    pub x_lens: Vec<usize>,
    /// Flat position of the first value of the first input chunk read.
    pub x_start: usize,
    /// Flat position of the chunk's first output.
    pub y_start: usize,
    /// Values in the output chunk.
    pub y_len: usize,
    /// The first column of the weight block.
    pub c_start: usize,
    /// Columns in the weight block (a multiple of three; columns `>= N` are zero padding).
    pub c_len: usize,
}

impl PackedGemm {
    /// Output chunk `chunk` of `y [rows, N]` in chunks of `y_chunk_len`, reading
    /// `x [rows, K]` in chunks of `x_chunk_len`. The weight block holds the chunk's columns
    /// when it lies in one row, all `N` columns otherwise.
    #[allow(clippy::too_many_arguments)]
    pub fn chunk(
        k: usize,
        n: usize,
        shift: i32,
        rows: usize,
        x_chunk_len: usize,
        y_chunk_len: usize,
        chunk: usize,
    ) -> Result<Self, ZkError> {
        if k == 0 || n == 0 || rows == 0 || x_chunk_len == 0 || y_chunk_len == 0 {
            return Err(ZkError::Shape("an empty Gemm".into()));
        }
        if !(MIN_SHIFT..=MAX_SHIFT).contains(&shift) {
            return Err(ZkError::Shape(format!(
                "shift {shift} outside {MIN_SHIFT}..={MAX_SHIFT}"
            )));
        }
        let y_numel = rows * n;
        let y_start = chunk * y_chunk_len;
        if y_start >= y_numel {
            return Err(ZkError::Shape(format!("output chunk {chunk} out of range")));
        }
        let y_len = y_chunk_len.min(y_numel - y_start);
        let (r0, r1) = (y_start / n, (y_start + y_len - 1) / n);
        let (c_start, cols) = if r0 == r1 {
            (y_start % n, y_len)
        } else {
            (0, n)
        };
        let x_numel = rows * k;
        let (c0, c1) = ((r0 * k) / x_chunk_len, ((r1 + 1) * k - 1) / x_chunk_len);
        let x_lens = (c0..=c1)
            .map(|c| x_chunk_len.min(x_numel - c * x_chunk_len))
            .collect();
        Ok(Self {
            k,
            n,
            shift,
            x_lens,
            x_start: c0 * x_chunk_len,
            y_start,
            y_len,
            c_start,
            c_len: cols.div_ceil(COLUMNS_PER_ELEMENT) * COLUMNS_PER_ELEMENT,
        })
    }

    /// Column groups of the block.
    pub fn groups(&self) -> usize {
        self.c_len / COLUMNS_PER_ELEMENT
    }

    /// Elements of the weight block: the multiplier, then per group the bias element and `K`
    /// weight elements.
    pub fn block_len(&self) -> usize {
        1 + self.groups() * (self.k + 1)
    }

    /// [`Self::row_spans`] with each row as the position of `x[r, 0]` among the values read:
    /// what the synthesis depends on.
    pub fn relative_row_spans(&self) -> Vec<(usize, usize, usize)> {
        self.row_spans()
            .into_iter()
            .map(|(r, from, to)| (r * self.k - self.x_start, from, to))
            .collect()
    }

    /// The rows of the chunk and, per row, the block columns `[from, to)` it outputs.
    fn row_spans(&self) -> Vec<(usize, usize, usize)> {
        let end = self.y_start + self.y_len;
        let (r0, r1) = (self.y_start / self.n, (end - 1) / self.n);
        (r0..=r1)
            .map(|r| {
                let from = self.y_start.max(r * self.n) - r * self.n;
                let to = end.min((r + 1) * self.n) - r * self.n;
                (r, from - self.c_start, to - self.c_start)
            })
            .collect()
    }
}

/// A [`PackedGemm`] chunk with its block's weights: a [`ChunkOp`] whose weights are a
/// witness. Only the shape enters the circuit's structure, with its shift's class.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommittedGemm {
    /// The shape, its shift the class [`shift_class`] of the layer's.
    pub shape: PackedGemm,
    /// `2^(shape.shift - s)` for the layer's shift `s`: the block's first element.
    pub multiplier: i64,
    /// The block's columns of `w`: `[K, c_len]` row-major, 0 in the padding columns.
    pub weight: Vec<i64>,
    /// The block's biases (`c_len`, 0 in the padding).
    pub bias: Vec<i64>,
}

impl CommittedGemm {
    /// The chunk's block of `w [K, N]` (row-major) and `bias [N]` for a layer of shape
    /// `shape` (its shift the layer's).
    pub fn new(mut shape: PackedGemm, weight: &[i64], bias: &[i64]) -> Result<Self, ZkError> {
        let (k, n) = (shape.k, shape.n);
        if weight.len() != k * n || bias.len() != n {
            return Err(ZkError::Shape(format!(
                "weights of {} and bias of {} values for a [{k}, {n}] Gemm",
                weight.len(),
                bias.len(),
            )));
        }
        let column = |b: usize| Some(shape.c_start + b).filter(|&c| c < n);
        let cols = shape.c_len;
        let class = shift_class(shape.shift);
        // 2^(class - s) <= 2^16: s is in MIN_SHIFT..=MAX_SHIFT (PackedGemm::chunk)
        let multiplier = 1i64 << (class - shape.shift);
        shape.shift = class;
        Ok(Self {
            multiplier,
            weight: (0..k * cols)
                .map(|i| column(i % cols).map_or(0, |c| weight[(i / cols) * n + c]))
                .collect(),
            bias: (0..cols)
                .map(|b| column(b).map_or(0, |c| bias[c]))
                .collect(),
            shape,
        })
    }
}

impl ChunkOp for CommittedGemm {
    fn input_lens(&self) -> Vec<usize> {
        self.shape.x_lens.clone()
    }

    fn output_len(&self) -> usize {
        self.shape.y_len
    }

    fn evaluate(&self, inputs: &[Vec<i32>]) -> Result<Vec<i32>, ZkError> {
        let s = &self.shape;
        let x: Vec<i32> = inputs.concat();
        let mut out = Vec::with_capacity(s.y_len);
        for (r, from, to) in s.row_spans() {
            let base = r * s.k - s.x_start;
            for b in from..to {
                let acc: i128 = self.bias[b] as i128
                    + (0..s.k)
                        .map(|t| x[base + t] as i128 * self.weight[t * s.c_len + b] as i128)
                        .sum::<i128>();
                // the executor refuses an accumulator beyond i64
                i64::try_from(acc)
                    .map_err(|_| ZkError::Synthesis(SynthesisError::Unsatisfiable))?;
                // |acc·m| < 2^94; beyond i64 after the shift it is out of int32 anyway
                let y = shift_round_i128(acc * self.multiplier as i128, s.shift)
                    .and_then(fit_i64)
                    .unwrap_or(i64::MAX);
                let index = out.len();
                out.push(
                    i32::try_from(y).map_err(|_| ZkError::ValueOutOfRange { index, value: y })?,
                );
            }
        }
        Ok(out)
    }

    fn block_len(&self) -> usize {
        self.shape.block_len()
    }

    /// The multiplier, then per group of three columns the bias element and one element per
    /// `t < K`.
    fn block(&self) -> Vec<Fr> {
        let s = &self.shape;
        let pack = |g: usize, value: &dyn Fn(usize) -> i64| -> Fr {
            let v: BigInt = (0..COLUMNS_PER_ELEMENT)
                .map(|i| BigInt::from(value(g * COLUMNS_PER_ELEMENT + i)) << (DIGIT_BITS * i))
                .sum();
            int_to_field(&v)
        };
        std::iter::once(Fr::from(self.multiplier as u64))
            .chain((0..s.groups()).flat_map(|g| {
                std::iter::once(pack(g, &|b| self.bias[b]))
                    .chain((0..s.k).map(move |t| pack(g, &|b| self.weight[t * s.c_len + b])))
                    .collect::<Vec<_>>()
            }))
            .collect()
    }

    fn synthesize(
        &self,
        _cs: &ConstraintSystemRef<Fr>,
        _inputs: &[Vec<SignedVar<Fr>>],
    ) -> Result<Vec<SignedVar<Fr>>, SynthesisError> {
        // the weights are the block's: only synthesize_with_block can compute the output
        Err(SynthesisError::AssignmentMissing)
    }

    fn synthesize_with_block(
        &self,
        cs: &ConstraintSystemRef<Fr>,
        inputs: &[Vec<SignedVar<Fr>>],
        block: &[FpVar<Fr>],
    ) -> Result<Vec<SignedVar<Fr>>, SynthesisError> {
        let op = &self.shape;
        assert_eq!(block.len(), op.block_len(), "the weight block's length");
        // one variable per input value, read by every group's products
        let x: Vec<FpVar<Fr>> = inputs
            .iter()
            .flatten()
            .map(|v| v.materialize().map(|m| m.value().clone()))
            .collect::<Result<_, _>>()?;
        let multiplier = &block[0];
        let base = int_to_field::<Fr>(&(BigInt::one() << DIGIT_BITS));
        let powers: Vec<Fr> = std::iter::successors(Some(Fr::one()), |p| Some(*p * base))
            .take(COLUMNS_PER_ELEMENT)
            .collect();
        let bound: BigInt = (BigInt::one() << 62) + (BigInt::one() << 45);
        let mut y = Vec::with_capacity(op.y_len);
        for (r, from, to) in op.row_spans() {
            let row = &x[r * op.k - op.x_start..][..op.k];
            for g in (from / COLUMNS_PER_ELEMENT)..to.div_ceil(COLUMNS_PER_ELEMENT) {
                let e = &block[1 + g * (op.k + 1)..][..op.k + 1];
                let products = row
                    .iter()
                    .zip(&e[1..])
                    .map(|(x, e)| x * e)
                    .collect::<Vec<_>>();
                let mut terms: Vec<(Fr, &FpVar<Fr>)> = vec![(Fr::one(), &e[0])];
                terms.extend(products.iter().map(|p| (Fr::one(), p)));
                let sum = lincomb(&terms, Fr::zero()) * multiplier;
                // the three digits m·acc_i, each pinned by its own rescale
                let mut digits = Vec::with_capacity(COLUMNS_PER_ELEMENT);
                for i in 0..COLUMNS_PER_ELEMENT {
                    let acc = FpVar::new_witness(cs.clone(), || {
                        let s = field_to_int(sum.value()?);
                        Ok(int_to_field::<Fr>(&balanced_digit(&s, i)))
                    })?;
                    // not a bound of its own: the rescale below proves one (module docs); the
                    // assumed interval is wide enough that it never skips that check
                    let acc = SignedVar::assume_in_range(acc, -bound.clone(), bound.clone());
                    let q = acc.shift_round(op.shift, 32)?;
                    if (from..to).contains(&(g * COLUMNS_PER_ELEMENT + i)) {
                        y.push(q);
                    }
                    digits.push(acc);
                }
                let mut back: Vec<(Fr, &FpVar<Fr>)> = vec![(-Fr::one(), &sum)];
                back.extend(powers.iter().copied().zip(digits.iter().map(|d| d.value())));
                lincomb(&back, Fr::zero()).enforce_equal(&FpVar::Constant(Fr::zero()))?;
            }
        }
        Ok(y)
    }
}

/// Digit `i` of `s` in balanced base `B = 2^DIGIT_BITS` (digits in `[-B/2, B/2)`).
fn balanced_digit(s: &BigInt, i: usize) -> BigInt {
    let half = BigInt::one() << (DIGIT_BITS - 1);
    let base = BigInt::one() << DIGIT_BITS;
    let mut rest = s.clone();
    let mut digit = BigInt::zero();
    for _ in 0..=i {
        let low = ((&rest % &base) + &base) % &base;
        digit = if low >= half { low - &base } else { low };
        rest = (rest - &digit) / &base;
    }
    digit
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::circuits::{chunk::ChunkCircuit, linear::Gemm};
    use crate::groth16::{prove, seeded_rng, setup, verify};
    use crate::native::{chunk_digest, weight_block_digest};
    use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem};
    use zkopml_model::fixed::shift_round;

    fn satisfied(c: ChunkCircuit<CommittedGemm>) -> bool {
        let cs = ConstraintSystem::<Fr>::new_ref();
        c.generate_constraints(cs.clone()).unwrap();
        cs.is_satisfied().unwrap()
    }

    /// Weights below `2^w_bits` (a third negative) and biases up to `2^(w_bits + 12)`.
    fn layer(k: usize, n: usize, seed: i64, w_bits: u32) -> (Vec<i64>, Vec<i64>) {
        let w = (0..(k * n) as i64)
            .map(|i| ((i + seed) * 2_654_435_761) % (1 << w_bits))
            .map(|v| if v % 3 == 0 { -v } else { v })
            .collect();
        let b = (0..n as i64)
            .map(|c| (c - 2) * (1i64 << (w_bits + 10)) + seed)
            .collect();
        (w, b)
    }

    /// Activations in `(-2^12, 2^12)`.
    fn input(len: usize) -> Vec<i32> {
        (0..len as i64)
            .map(|i| ((i * 40_503) % 8_191 - 4_095) as i32)
            .collect()
    }

    /// Every output chunk of `y [rows, N]` agrees with the baked-weights Gemm (the executor's
    /// arithmetic) and satisfies its circuit; other weights, another output or another
    /// weight digest do not.
    fn check_layer(k: usize, n: usize, rows: usize, x_chunk: usize, y_chunk: usize, shift: i32) {
        let (w, b) = layer(k, n, 7, if shift >= 8 { 19 } else { 4 });
        let x = input(rows * k);
        for chunk in 0..(rows * n).div_ceil(y_chunk) {
            let shape = PackedGemm::chunk(k, n, shift, rows, x_chunk, y_chunk, chunk).unwrap();
            let baked = Gemm::chunk(
                w.clone(),
                k,
                n,
                b.clone(),
                shift,
                rows,
                x_chunk,
                y_chunk,
                chunk,
            );
            assert_eq!(shape.x_lens, baked.x_lens);
            let xs: Vec<Vec<i32>> = shape
                .x_lens
                .iter()
                .scan(shape.x_start, |at, &len| {
                    let c = x[*at..*at + len].to_vec();
                    *at += len;
                    Some(c)
                })
                .collect();
            let op = CommittedGemm::new(shape.clone(), &w, &b).unwrap();
            let y = op.evaluate(&xs).unwrap();
            assert_eq!(y, baked.evaluate(&xs).unwrap(), "chunk {chunk}");
            let claim = ChunkCircuit::public_inputs(&op, &xs).unwrap();
            assert_eq!(claim.len(), xs.len() + 2);
            assert!(satisfied(
                ChunkCircuit::new(op.clone(), xs.clone()).unwrap()
            ));

            // the prover's own weights (one weight of the block changed) under the registered
            // weight digest: with the registered output, and with the output they give
            let mut other = w.clone();
            other[shape.c_start] += 1;
            let cheat = CommittedGemm::new(shape.clone(), &other, &b).unwrap();
            let y_other = cheat.evaluate(&xs).unwrap();
            assert!(!satisfied(ChunkCircuit::with_claim(
                cheat.clone(),
                xs.clone(),
                claim.clone()
            )));
            let mut claim2 = claim.clone();
            *claim2.last_mut().unwrap() = chunk_digest(&y_other);
            assert!(!satisfied(ChunkCircuit::with_claim(
                cheat.clone(),
                xs.clone(),
                claim2
            )));
            // with their own weight digest it is a true statement about other weights: only
            // the opening of the digest under the registry's weights root refuses it
            let own = ChunkCircuit::public_inputs(&cheat, &xs).unwrap();
            assert_ne!(own[xs.len()], claim[xs.len()]);
            assert!(satisfied(ChunkCircuit::with_claim(cheat, xs.clone(), own)));
            // a wrong output
            let mut bad = y.clone();
            bad[0] += 1;
            let mut claim3 = claim;
            *claim3.last_mut().unwrap() = chunk_digest(&bad);
            assert!(!satisfied(ChunkCircuit::with_claim(op, xs, claim3)));
        }
    }

    #[test]
    fn chunks_within_rows_and_across_rows() {
        // columns of one row, with a padded last group (N = 10, chunks of 4)
        check_layer(6, 10, 2, 6, 4, 16);
        // chunks straddling rows, several input chunks
        check_layer(5, 4, 3, 4, 6, 12);
        // no rounding, and a negative shift
        check_layer(4, 3, 2, 8, 3, 0);
        check_layer(4, 3, 1, 4, 3, -2);
    }

    /// Inputs and weights at the ends of their types (`x = ±(2^31 - 1)`, `-2^31`,
    /// `|w| = 2^19 - 1`, `|bias|` near 2^45) with the largest shift: the circuit's output is the
    /// i128 reference's, accumulators near 2^53 and all three digits of a group in use.
    #[test]
    fn extreme_values_agree_with_the_i128_reference() {
        let (k, n, shift) = (8, 6, MAX_SHIFT);
        let x: Vec<i32> = (0..k)
            .map(|t| match t % 3 {
                0 => i32::MIN,
                1 => i32::MAX,
                _ => -i32::MAX,
            })
            .collect();
        let wmax = (1i64 << 19) - 1;
        // each column's weights follow (or oppose) the inputs' signs: no cancellation
        let w: Vec<i64> = (0..k * n)
            .map(|i| x[i / n].signum() as i64 * if i % n % 2 == 0 { wmax } else { -wmax })
            .collect();
        let b: Vec<i64> = (0..n as i64)
            .map(|c| {
                if c % 2 == 0 {
                    (1 << 45) - 1
                } else {
                    -(1 << 45) + 1
                }
            })
            .collect();
        let reference: Vec<i32> = (0..n)
            .map(|c| {
                let acc: i128 = b[c] as i128
                    + (0..k)
                        .map(|t| x[t] as i128 * w[t * n + c] as i128)
                        .sum::<i128>();
                i32::try_from(shift_round(i64::try_from(acc).unwrap(), shift)).unwrap()
            })
            .collect();
        let shape = PackedGemm::chunk(k, n, shift, 1, k, n, 0).unwrap();
        let op = CommittedGemm::new(shape, &w, &b).unwrap();
        assert_eq!(op.evaluate(std::slice::from_ref(&x)).unwrap(), reference);
        assert!(reference.iter().any(|y| y.unsigned_abs() > 1 << 22));
        assert!(satisfied(
            ChunkCircuit::new(op.clone(), vec![x.clone()]).unwrap()
        ));
        let mut claim = ChunkCircuit::public_inputs(&op, std::slice::from_ref(&x)).unwrap();
        let mut off = reference.clone();
        off[5] -= 1;
        *claim.last_mut().unwrap() = chunk_digest(&off);
        assert!(!satisfied(ChunkCircuit::with_claim(op, vec![x], claim)));
    }

    #[test]
    fn balanced_digits() {
        let s = BigInt::from(-5) + (BigInt::from(7) << DIGIT_BITS)
            - (BigInt::from(3) << (2 * DIGIT_BITS));
        let digits: Vec<BigInt> = (0..3).map(|i| balanced_digit(&s, i)).collect();
        assert_eq!(
            digits,
            [BigInt::from(-5), BigInt::from(7), BigInt::from(-3)]
        );
        let half: BigInt = BigInt::one() << (DIGIT_BITS - 1);
        let top = &half - 1;
        assert_eq!(balanced_digit(&top, 0), top);
        assert_eq!(balanced_digit(&-half.clone(), 0), -half);
    }

    #[test]
    fn an_overflowing_output_is_unprovable() {
        let shape = PackedGemm::chunk(2, 3, 0, 1, 2, 3, 0).unwrap();
        let op = CommittedGemm::new(shape, &[1 << 18; 6], &[0; 3]).unwrap();
        let x = vec![vec![1 << 20, 1 << 20]];
        assert!(matches!(
            op.evaluate(&x),
            Err(ZkError::ValueOutOfRange { .. })
        ));
        let claim = vec![
            chunk_digest(&x[0]),
            weight_block_digest(&op.block()),
            chunk_digest(&[0, 0, 0]),
        ];
        assert!(!satisfied(ChunkCircuit::with_claim(op, x, claim)));
    }

    /// A column whose `m·acc` passes `2^63` (here `2^64`: multiplier `2^16`, shift -16) is
    /// refused by the executor, and its circuit has no witness either: with 64-bit digits the
    /// column carried into the next one, and the circuit accepted column 1 as `5·2^16 + 1`.
    #[test]
    fn a_column_overflowing_by_far_does_not_carry_into_the_next() {
        let shape = PackedGemm::chunk(1, 3, MIN_SHIFT, 1, 1, 3, 0).unwrap();
        let op = CommittedGemm::new(shape, &[1 << 18, 0, 0], &[0, 5, 0]).unwrap();
        assert_eq!(op.multiplier, 1 << 16);
        let x = vec![vec![1 << 30]];
        assert!(op.evaluate(&x).is_err());
        for carried in [[0, (5 << 16) + 1, 0], [0, 5 << 16, 0]] {
            let claim = vec![
                chunk_digest(&x[0]),
                weight_block_digest(&op.block()),
                chunk_digest(&carried),
            ];
            assert!(!satisfied(ChunkCircuit::with_claim(
                op.clone(),
                x.clone(),
                claim
            )));
        }
        // the shift range keeps the multiplier at 2^16
        assert!(PackedGemm::chunk(1, 3, MIN_SHIFT - 1, 1, 1, 3, 0).is_err());
    }

    #[test]
    fn one_key_proves_every_layer_of_a_shape() {
        let (k, n) = (20, 5);
        let shape = PackedGemm::chunk(k, n, 10, 1, k, n, 0).unwrap();
        let x = vec![input(k)];
        let (w, b) = layer(k, n, 3, 19);
        let op = CommittedGemm::new(shape.clone(), &w, &b).unwrap();
        let keys = setup(ChunkCircuit::shape(op.clone()), &mut seeded_rng(1)).unwrap();
        let p = prove(
            &keys,
            ChunkCircuit::new(op.clone(), x.clone()).unwrap(),
            &mut seeded_rng(2),
        )
        .unwrap();
        assert!(verify(keys.vk(), &p.public_inputs, &p.proof).unwrap());
        // the same keys prove another layer of the same shape, its shift in the same class
        let (w2, b2) = layer(k, n, 11, 19);
        let shape13 = PackedGemm::chunk(k, n, 13, 1, k, n, 0).unwrap();
        let op2 = CommittedGemm::new(shape13, &w2, &b2).unwrap();
        let key = |op: &CommittedGemm| crate::table::OpCircuit::CommittedGemm(op.clone());
        assert_eq!(key(&op).structure_key(), key(&op2).structure_key());
        assert!(key(&op).same_synthesis(&key(&op2)));
        // a shift of another class is another circuit
        let shape17 = PackedGemm::chunk(k, n, 17, 1, k, n, 0).unwrap();
        let op3 = CommittedGemm::new(shape17, &w2, &b2).unwrap();
        assert_ne!(key(&op).structure_key(), key(&op3).structure_key());
        let p2 = prove(
            &keys,
            ChunkCircuit::new(op2.clone(), x.clone()).unwrap(),
            &mut seeded_rng(3),
        )
        .unwrap();
        assert!(verify(keys.vk(), &p2.public_inputs, &p2.proof).unwrap());
        // the layer's weights with another multiplier (another shift of the class) is
        // another weight digest: the block binds the shift too
        let mut shifted = op2.clone();
        shifted.multiplier *= 2;
        let claim = ChunkCircuit::public_inputs(&op2, &x).unwrap();
        assert_ne!(
            ChunkCircuit::public_inputs(&shifted, &x).unwrap()[1],
            claim[1]
        );
        assert!(!satisfied(ChunkCircuit::with_claim(shifted, x, claim)));
        // ... and a proof does not verify under the other layer's weight digest
        assert_ne!(p.public_inputs[1], p2.public_inputs[1]);
        let mut tampered = p2.public_inputs.clone();
        tampered[1] = p.public_inputs[1];
        assert!(!verify(keys.vk(), &tampered, &p2.proof).unwrap_or(false));
    }
}
