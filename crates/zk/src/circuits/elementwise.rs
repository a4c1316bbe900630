//! Elementwise operators of `docs/fixed-point.md` over one output chunk.
//!
//! An output chunk reads whole input chunks, and which ones depends on each tensor's chunk
//! length and on broadcasting. So an elementwise op carries an explicit **gather map**: for
//! each output position of the chunk, the position in the concatenation of the input chunks
//! that it reads (per operand). The engine computes these maps together with the circuit
//! table entry `(inputSlots, inputChunks)`, in the same order as [`ChunkOp::input_lens`]:
//! first the chunks of `a`, then those of `b`. The maps are constants of the circuit, and
//! wiring costs nothing.
//!
//! | op | semantics (docs/fixed-point.md) | constraints per output value |
//! |---|---|---|
//! | Add / Sub | `shift_round(a·2^ua ± b·2^ub, shift)` | rescale (32 + shift + 1) or, for `shift <= 0`, a 32-bit check (33) |
//! | Max / Min | `shift_round(max/min(a·2^ua, b·2^ub), shift)` | compare (`33 + max(ua,ub) + 2`) + 1 + rescale |
//! | Mul | `shift_round(a·b, shift)` | 1 + rescale |
//! | ShiftRound | `shift_round(x, shift)` (a rescale of scale) | rescale or 33 |
//! | Neg / Abs | `-x` / `|x|` | 33 (`-(-2^31)` overflows) / 1 + 33 |
//! | Clip | `min(max(x, lo), hi)` | 2 comparisons + 2 (free when decided) |
//! | LeakyRelu | `x >= 0 ? x : shift_round(x·alpha, alpha_shift)` | rescale + 1 |
//! | Affine | `shift_round(x·mul[c] + add[c], shift)`, constants per position | rescale |
//!
//! In addition, every input value costs 32 constraints and every chunk one digest.

use super::chunk::ChunkOp;
use crate::{
    gadgets::signed::{int_to_field, SignedVar},
    Fr, ZkError,
};
use ark_r1cs_std::fields::fp::FpVar;
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};
use num_bigint::BigInt;
use num_traits::One;

use zkopml_model::fixed::{
    fit_i64, shift_round, shift_round_aligned, shift_round_extreme, shift_round_i128,
};

/// The executor's wide result as an i64: a value whose exact magnitude is at least 2^63
/// (None) is no stored value, and `i64::MAX` is refused by [`narrow`] as the executor refuses
/// it (`zkopml_exec`'s `wide`).
fn wide(v: Option<i64>) -> i64 {
    v.unwrap_or(i64::MAX)
}

/// `shift_round(x·mul + add, shift)`, exactly: `|x·mul + add| <= 2^126 + 2^63` fits i128.
fn affine(x: i64, mul: i64, add: i64, shift: i32) -> i64 {
    wide(shift_round_i128(x as i128 * mul as i128 + add as i128, shift).and_then(fit_i64))
}

fn narrow(index: usize, v: i64) -> Result<i32, ZkError> {
    i32::try_from(v).map_err(|_| ZkError::ValueOutOfRange { index, value: v })
}

/// The binary elementwise operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryKind {
    /// `shift_round(a·2^ua + b·2^ub, shift)`
    Add,
    /// `shift_round(a·2^ua - b·2^ub, shift)`
    Sub,
    /// `shift_round(max(a·2^ua, b·2^ub), shift)`
    Max,
    /// `shift_round(min(a·2^ua, b·2^ub), shift)`
    Min,
    /// `shift_round(a·b, shift)` (`ua`, `ub` unused, 0)
    Mul,
}

/// A binary elementwise operator over one output chunk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binary {
    /// Which operator.
    pub kind: BinaryKind,
    /// Left alignment shift (`>= 0`).
    pub ua: u32,
    /// Right alignment shift (`>= 0`).
    pub ub: u32,
    /// Output `shift_round` amount.
    pub shift: i32,
    /// Lengths of the chunks read, in circuit-table order (those of `a`, then those of `b`
    /// that `a` does not read already: `x·x` reads its chunk once).
    pub x_lens: Vec<usize>,
    /// For each output position: the position of `a` in the concatenated chunks.
    pub a_index: Vec<usize>,
    /// For each output position: the position of `b` in the concatenated chunks.
    pub b_index: Vec<usize>,
}

impl Binary {
    /// The common case: `a`, `b` and the output have the same shape and chunk length, and
    /// output chunk `j` reads chunk `j` of each operand.
    pub fn aligned(kind: BinaryKind, ua: u32, ub: u32, shift: i32, len: usize) -> Self {
        let (ua, ub) = if kind == BinaryKind::Mul {
            (0, 0)
        } else {
            (ua, ub)
        };
        Self {
            kind,
            ua,
            ub,
            shift,
            x_lens: vec![len, len],
            a_index: (0..len).collect(),
            b_index: (len..2 * len).collect(),
        }
    }

    fn check(&self) {
        let n: usize = self.x_lens.iter().sum();
        assert_eq!(
            self.a_index.len(),
            self.b_index.len(),
            "one index per output per operand"
        );
        assert!(
            self.a_index.iter().chain(&self.b_index).all(|&i| i < n),
            "index out of the chunks read"
        );
        assert!(
            self.ua <= 62 && self.ub <= 62 && self.shift.abs() <= 62,
            "shifts too large"
        );
    }

    /// The executor's value, exactly (docs/fixed-point.md, "Exactness: exact or refused"): the
    /// alignments `a·2^ua`, `b·2^ub` are never formed in a machine word.
    fn eval_one(&self, a: i64, b: i64) -> i64 {
        let (a, b, (ua, ub), shift) = (a as i128, b as i128, (self.ua, self.ub), self.shift);
        wide(match self.kind {
            BinaryKind::Add => shift_round_aligned(a, ua, b, ub, shift),
            BinaryKind::Sub => shift_round_aligned(a, ua, -b, ub, shift),
            BinaryKind::Max => shift_round_extreme(a, ua, b, ub, shift, true),
            BinaryKind::Min => shift_round_extreme(a, ua, b, ub, shift, false),
            // |a·b| <= 2^126
            BinaryKind::Mul => shift_round_i128(a * b, shift).and_then(fit_i64),
        })
    }
}

impl ChunkOp for Binary {
    fn input_lens(&self) -> Vec<usize> {
        self.x_lens.clone()
    }

    fn output_len(&self) -> usize {
        self.a_index.len()
    }

    fn evaluate(&self, inputs: &[Vec<i32>]) -> Result<Vec<i32>, ZkError> {
        self.check();
        let x: Vec<i32> = inputs.concat();
        let (a, b) = (&x, &x);
        self.a_index
            .iter()
            .zip(&self.b_index)
            .enumerate()
            .map(|(i, (&ia, &ib))| narrow(i, self.eval_one(a[ia] as i64, b[ib] as i64)))
            .collect()
    }

    fn synthesize(
        &self,
        _cs: &ConstraintSystemRef<Fr>,
        inputs: &[Vec<SignedVar<Fr>>],
    ) -> Result<Vec<SignedVar<Fr>>, SynthesisError> {
        self.check();
        let x: Vec<&SignedVar<Fr>> = inputs.iter().flatten().collect();
        let (a, b) = (&x, &x);
        let (pa, pb) = (1i128 << self.ua, 1i128 << self.ub);
        self.a_index
            .iter()
            .zip(&self.b_index)
            .map(|(&ia, &ib)| {
                let (x, y) = (a[ia], b[ib]);
                let acc = match self.kind {
                    BinaryKind::Add => SignedVar::linear_combination(&[(pa, x), (pb, y)], 0),
                    BinaryKind::Sub => SignedVar::linear_combination(&[(pa, x), (-pb, y)], 0),
                    BinaryKind::Max | BinaryKind::Min => {
                        let xs = SignedVar::linear_combination(&[(pa, x)], 0);
                        let ys = SignedVar::linear_combination(&[(pb, y)], 0);
                        if self.kind == BinaryKind::Max {
                            xs.max(&ys)?
                        } else {
                            xs.min(&ys)?
                        }
                    }
                    BinaryKind::Mul => x.mul(y)?,
                };
                acc.shift_round(self.shift, 32)
            })
            .collect()
    }
}

/// The unary elementwise operators.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnaryKind {
    /// `shift_round(x, shift)`: a change of scale on its own (as Cast to Float).
    ShiftRound {
        /// The shift.
        shift: i32,
    },
    /// `-x`.
    Neg,
    /// `|x|`.
    Abs,
    /// `min(max(x, lo), hi)`.
    Clip {
        /// Lower bound (at the input's scale).
        lo: i64,
        /// Upper bound.
        hi: i64,
    },
    /// `x >= 0 ? x : shift_round(x·alpha, alpha_shift)`.
    LeakyRelu {
        /// Slope at `2^alpha_shift`.
        alpha: i64,
        /// Scale of `alpha`.
        alpha_shift: i32,
    },
    /// `shift_round(x·mul[p] + add[p], shift)` with the constants already resolved for each
    /// output position `p` (its channel's `mul[c]`, `add[c]`).
    Affine {
        /// Multiplier per output position.
        mul: Vec<i64>,
        /// Addend per output position.
        add: Vec<i64>,
        /// The shift.
        shift: i32,
    },
}

/// A unary elementwise operator over one output chunk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unary {
    /// Which operator.
    pub kind: UnaryKind,
    /// Lengths of the input chunks read, in circuit-table order.
    pub x_lens: Vec<usize>,
    /// For each output position: the position in the concatenated input chunks.
    pub x_index: Vec<usize>,
}

impl Unary {
    /// Output chunk `j` reads input chunk `j` of the same length.
    pub fn aligned(kind: UnaryKind, len: usize) -> Self {
        Self {
            kind,
            x_lens: vec![len],
            x_index: (0..len).collect(),
        }
    }

    fn check(&self) {
        let n: usize = self.x_lens.iter().sum();
        assert!(
            self.x_index.iter().all(|&i| i < n),
            "index out of the input chunks"
        );
        if let UnaryKind::Affine { mul, add, .. } = &self.kind {
            assert!(mul.len() == self.x_index.len() && add.len() == self.x_index.len());
        }
    }

    fn eval_one(&self, p: usize, x: i64) -> i64 {
        match &self.kind {
            UnaryKind::ShiftRound { shift } => shift_round(x, *shift),
            UnaryKind::Neg => -x,
            UnaryKind::Abs => x.abs(),
            UnaryKind::Clip { lo, hi } => x.max(*lo).min(*hi),
            // |x·alpha| <= 2^126: exact in i128
            UnaryKind::LeakyRelu { alpha, alpha_shift } => {
                if x >= 0 {
                    x
                } else {
                    wide(
                        shift_round_i128(x as i128 * *alpha as i128, *alpha_shift)
                            .and_then(fit_i64),
                    )
                }
            }
            UnaryKind::Affine { mul, add, shift } => affine(x, mul[p], add[p], *shift),
        }
    }
}

impl ChunkOp for Unary {
    fn input_lens(&self) -> Vec<usize> {
        self.x_lens.clone()
    }

    fn output_len(&self) -> usize {
        self.x_index.len()
    }

    fn evaluate(&self, inputs: &[Vec<i32>]) -> Result<Vec<i32>, ZkError> {
        self.check();
        let x: Vec<i32> = inputs.concat();
        self.x_index
            .iter()
            .enumerate()
            .map(|(p, &i)| narrow(p, self.eval_one(p, x[i] as i64)))
            .collect()
    }

    fn synthesize(
        &self,
        _cs: &ConstraintSystemRef<Fr>,
        inputs: &[Vec<SignedVar<Fr>>],
    ) -> Result<Vec<SignedVar<Fr>>, SynthesisError> {
        self.check();
        let x: Vec<&SignedVar<Fr>> = inputs.iter().flatten().collect();
        self.x_index
            .iter()
            .enumerate()
            .map(|(p, &i)| {
                let v = x[i];
                match &self.kind {
                    UnaryKind::ShiftRound { shift } => v.shift_round(*shift, 32),
                    UnaryKind::Neg => SignedVar::linear_combination(&[(-1, v)], 0).range_check(32),
                    UnaryKind::Abs => {
                        let neg = SignedVar::linear_combination(&[(-1, v)], 0);
                        SignedVar::select(&v.is_nonneg()?, v, &neg)?.range_check(32)
                    }
                    UnaryKind::Clip { lo, hi } => v
                        .max(&SignedVar::constant(*lo as i128))?
                        .min(&SignedVar::constant(*hi as i128))?
                        .range_check(32),
                    UnaryKind::LeakyRelu { alpha, alpha_shift } => {
                        // The negative branch is computed for every value; prove it only in
                        // the width its interval needs, and check the selected value.
                        let acc = SignedVar::linear_combination(&[(*alpha as i128, v)], 0);
                        let bits = acc.shift_round_bits(*alpha_shift).max(32);
                        let scaled = acc.shift_round(*alpha_shift, bits)?;
                        SignedVar::select(&v.is_nonneg()?, v, &scaled)?.range_check(32)
                    }
                    UnaryKind::Affine { mul, add, shift } => {
                        SignedVar::linear_combination(&[(mul[p] as i128, v)], add[p] as i128)
                            .shift_round(*shift, 32)
                    }
                }
            })
            .collect()
    }
}

/// `shift_round(x·mul[c] + add[c], s)` with its constants a witness: the affine map of a
/// binary op with a constant operand (LayerNorm's scale and offset, a bias over channels) or of
/// an `Affine`, under committed weights (docs/zk.md "Weights as witnesses"). The circuit
/// depends on which constant each output reads and on the class `S` of `s`
/// ([`super::shift_class`]), not on the constants, so the same map in every layer shares it.
///
/// The weight block holds, per constant `c` the chunk reads, `m·mul[c]` then `m·add[c]` with
/// `m = 2^(S - s)`: `shift_round(x·m·mul + m·add, S) = shift_round(x·mul + add, s)` exactly.
/// As a Gemm's weights, the block's elements are not range checked (the registry's weights
/// root is recomputed from the model by every actor); registered ones keep
/// `|x·m·mul + m·add| < 2^158`, far below the field, so the rescale's identity is the integer
/// one. Per output: one product and the rescale.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommittedAffine {
    /// Lengths of the input chunks read, in circuit-table order.
    pub x_lens: Vec<usize>,
    /// For each output position: the position in the concatenated input chunks.
    pub x_index: Vec<usize>,
    /// For each output position: the constant it reads (an index into `mul`, `add`).
    pub constant: Vec<usize>,
    /// The layer's multipliers, one per constant read.
    pub mul: Vec<i64>,
    /// The layer's addends.
    pub add: Vec<i64>,
    /// The layer's shift `s`.
    pub layer_shift: i32,
}

impl CommittedAffine {
    /// The map of output positions `x_index` (into the chunks of `x_lens`), output `p`
    /// computing `shift_round(x·mul[p] + add[p], shift)` with the constant at `position[p]` of
    /// the layer's constants (a channel, a place in the constant tensor). The block holds each
    /// position once, in the order first read: a layout of positions, never of values, so
    /// every layer of a shape has the same circuit whatever its constants.
    pub fn new(
        x_lens: Vec<usize>,
        x_index: Vec<usize>,
        position: &[usize],
        mul: &[i64],
        add: &[i64],
        shift: i32,
    ) -> Self {
        assert!(
            [position.len(), mul.len(), add.len()] == [x_index.len(); 3],
            "one constant per output"
        );
        let mut first = std::collections::HashMap::new();
        let (mut m, mut a) = (Vec::new(), Vec::new());
        let constant = (0..x_index.len())
            .map(|p| {
                *first.entry(position[p]).or_insert_with(|| {
                    m.push(mul[p]);
                    a.push(add[p]);
                    m.len() - 1
                })
            })
            .collect();
        Self {
            x_lens,
            x_index,
            constant,
            mul: m,
            add: a,
            layer_shift: shift,
        }
    }

    /// The circuit's shift `S`.
    pub fn shift(&self) -> i32 {
        super::shift_class(self.layer_shift)
    }

    fn check(&self) {
        let n: usize = self.x_lens.iter().sum();
        assert!(
            self.x_index.iter().all(|&i| i < n)
                && self.constant.len() == self.x_index.len()
                && self.constant.iter().all(|&c| c < self.mul.len())
                && self.mul.len() == self.add.len(),
            "a committed affine map out of its chunks or constants"
        );
    }
}

impl ChunkOp for CommittedAffine {
    fn input_lens(&self) -> Vec<usize> {
        self.x_lens.clone()
    }

    fn output_len(&self) -> usize {
        self.x_index.len()
    }

    fn evaluate(&self, inputs: &[Vec<i32>]) -> Result<Vec<i32>, ZkError> {
        self.check();
        let x: Vec<i32> = inputs.concat();
        self.x_index
            .iter()
            .zip(&self.constant)
            .enumerate()
            .map(|(p, (&i, &c))| {
                let y = affine(x[i] as i64, self.mul[c], self.add[c], self.layer_shift);
                narrow(p, y)
            })
            .collect()
    }

    fn synthesize(
        &self,
        _cs: &ConstraintSystemRef<Fr>,
        _inputs: &[Vec<SignedVar<Fr>>],
    ) -> Result<Vec<SignedVar<Fr>>, SynthesisError> {
        // the constants are the block's: only synthesize_with_block can compute the output
        Err(SynthesisError::AssignmentMissing)
    }

    fn block_len(&self) -> usize {
        2 * self.mul.len()
    }

    /// `m·mul[c]`, `m·add[c]` per constant, `m = 2^(S - s)`.
    fn block(&self) -> Vec<Fr> {
        let up = (self.shift() - self.layer_shift) as usize;
        self.mul
            .iter()
            .zip(&self.add)
            .flat_map(|(&m, &a)| [BigInt::from(m) << up, BigInt::from(a) << up])
            .map(|v| int_to_field(&v))
            .collect()
    }

    fn synthesize_with_block(
        &self,
        _cs: &ConstraintSystemRef<Fr>,
        inputs: &[Vec<SignedVar<Fr>>],
        block: &[FpVar<Fr>],
    ) -> Result<Vec<SignedVar<Fr>>, SynthesisError> {
        self.check();
        assert_eq!(
            block.len(),
            self.block_len(),
            "the constants block's length"
        );
        let x: Vec<&SignedVar<Fr>> = inputs.iter().flatten().collect();
        // wide enough that the rescale never skips its checks (the bound is the block's)
        let bound: BigInt = BigInt::one() << 160;
        self.x_index
            .iter()
            .zip(&self.constant)
            .map(|(&i, &c)| {
                let v = x[i].value() * &block[2 * c] + &block[2 * c + 1];
                SignedVar::assume_in_range(v, -bound.clone(), bound.clone())
                    .shift_round(self.shift(), 32)
            })
            .collect()
    }
}

/// Add, Sub or Mul of two trace tensors under committed weights, with the layer's alignment
/// and output shifts a witness: `shift_round(a·ma + b·mb, S)` (`ma = 2^(ua+d)`,
/// `mb = ±2^(ub+d)`) or `shift_round(a·b·m, S)` (`m = 2^d`), `d = S - s` for the class `S` of
/// the layer's shift `s` ([`super::shift_class`]), exactly the layer's value. The circuit depends
/// on the chunk layout, on `S` and on whether it multiplies, so a residual Add (or a
/// LayerNorm's centring Sub) of every layer shares one, whatever its calibration. The block
/// holds the multipliers (two for Add/Sub, one for Mul); they are bound by the registered
/// weights root, which every actor recomputes, and keep `|v| < 2^156`. Per output: two
/// products and the rescale.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommittedBinary(pub Binary);

impl CommittedBinary {
    /// The layer's `Add`, `Sub` or `Mul` (`Max`/`Min` compare, and keep their shifts).
    pub fn new(layer: Binary) -> Self {
        assert!(
            matches!(
                layer.kind,
                BinaryKind::Add | BinaryKind::Sub | BinaryKind::Mul
            ),
            "a committed binary op adds, subtracts or multiplies"
        );
        Self(layer)
    }

    /// The circuit's shift `S`.
    pub fn shift(&self) -> i32 {
        super::shift_class(self.0.shift)
    }

    /// Whether the circuit multiplies its operands (Mul) rather than combining them.
    pub fn product(&self) -> bool {
        self.0.kind == BinaryKind::Mul
    }
}

impl ChunkOp for CommittedBinary {
    fn input_lens(&self) -> Vec<usize> {
        self.0.input_lens()
    }

    fn output_len(&self) -> usize {
        self.0.output_len()
    }

    fn evaluate(&self, inputs: &[Vec<i32>]) -> Result<Vec<i32>, ZkError> {
        self.0.evaluate(inputs)
    }

    fn synthesize(
        &self,
        _cs: &ConstraintSystemRef<Fr>,
        _inputs: &[Vec<SignedVar<Fr>>],
    ) -> Result<Vec<SignedVar<Fr>>, SynthesisError> {
        // the multipliers are the block's: only synthesize_with_block can compute the output
        Err(SynthesisError::AssignmentMissing)
    }

    fn block_len(&self) -> usize {
        if self.product() {
            1
        } else {
            2
        }
    }

    /// `[2^d]` (Mul) or `[2^(ua+d), ±2^(ub+d)]`.
    fn block(&self) -> Vec<Fr> {
        let b = &self.0;
        let d = (self.shift() - b.shift) as u32;
        let pow = |e: u32| BigInt::one() << e;
        let values = match b.kind {
            BinaryKind::Mul => vec![pow(d)],
            BinaryKind::Sub => vec![pow(b.ua + d), -pow(b.ub + d)],
            _ => vec![pow(b.ua + d), pow(b.ub + d)],
        };
        values.iter().map(int_to_field).collect()
    }

    fn synthesize_with_block(
        &self,
        _cs: &ConstraintSystemRef<Fr>,
        inputs: &[Vec<SignedVar<Fr>>],
        block: &[FpVar<Fr>],
    ) -> Result<Vec<SignedVar<Fr>>, SynthesisError> {
        self.0.check();
        assert_eq!(
            block.len(),
            self.block_len(),
            "the multipliers' block length"
        );
        let x: Vec<&SignedVar<Fr>> = inputs.iter().flatten().collect();
        // wide enough that the rescale never skips its checks (the bound is the block's)
        let bound: BigInt = BigInt::one() << 160;
        self.0
            .a_index
            .iter()
            .zip(&self.0.b_index)
            .map(|(&i, &j)| {
                let (a, b) = (x[i].value(), x[j].value());
                let v = if self.product() {
                    (a * b) * &block[0]
                } else {
                    a * &block[0] + b * &block[1]
                };
                SignedVar::assume_in_range(v, -bound.clone(), bound.clone())
                    .shift_round(self.shift(), 32)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{circuits::chunk::ChunkCircuit, native::chunk_digest};
    use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem};
    use rand_chacha::ChaCha20Rng;
    use rand_core::{RngCore, SeedableRng};

    fn satisfied<O: ChunkOp>(c: ChunkCircuit<O>) -> bool {
        let cs = ConstraintSystem::<Fr>::new_ref();
        c.generate_constraints(cs.clone()).unwrap();
        cs.is_satisfied().unwrap()
    }

    /// The honest statement holds; an output off by one in any position does not; the
    /// circuit agrees with `evaluate`.
    fn check<O: ChunkOp>(op: O, inputs: Vec<Vec<i32>>) -> Vec<i32> {
        let out = op.evaluate(&inputs).unwrap();
        assert!(satisfied(
            ChunkCircuit::new(op.clone(), inputs.clone()).unwrap()
        ));
        for p in [0, out.len() / 2, out.len() - 1] {
            let mut wrong = out.clone();
            wrong[p] = wrong[p].wrapping_add(1);
            let mut claim: Vec<Fr> = inputs.iter().map(|x| chunk_digest(x)).collect();
            claim.push(chunk_digest(&wrong));
            assert!(!satisfied(ChunkCircuit::with_claim(
                op.clone(),
                inputs.clone(),
                claim
            )));
        }
        out
    }

    fn values(rng: &mut ChaCha20Rng, len: usize, bits: u32) -> Vec<i32> {
        (0..len)
            .map(|_| (rng.next_u32() as i32) >> (32 - bits))
            .collect()
    }

    #[test]
    fn binary_known_answers() {
        use BinaryKind::*;
        let a = vec![3, -3, 7, -8, 0, 5];
        let b = vec![4, 4, -2, -8, -1, 5];
        // Add, ua = 1, shift = 1: (2a + b) / 2 rounded half up.
        let y = check(Binary::aligned(Add, 1, 0, 1, 6), vec![a.clone(), b.clone()]);
        assert_eq!(y, [5, -1, 6, -12, -0, 8]);
        let y = check(Binary::aligned(Sub, 0, 0, 0, 6), vec![a.clone(), b.clone()]);
        assert_eq!(y, [-1, -7, 9, 0, 1, 0]);
        let y = check(Binary::aligned(Max, 0, 2, 2, 6), vec![a.clone(), b.clone()]);
        // max(a, 4b) / 4 rounded half up
        assert_eq!(y, [4, 4, 2, -2, 0, 5]);
        let y = check(
            Binary::aligned(Min, 0, 0, -1, 6),
            vec![a.clone(), b.clone()],
        );
        assert_eq!(y, [6, -6, -4, -16, -2, 10]);
        let y = check(Binary::aligned(Mul, 0, 0, 1, 6), vec![a, b]);
        // a·b / 2 rounded half up: 12/2, -12/2, -14/2, 64/2, 0, 25/2 -> 13
        assert_eq!(y, [6, -6, -7, 32, 0, 13]);
    }

    #[test]
    fn binary_random_and_gathered() {
        let mut rng = ChaCha20Rng::seed_from_u64(31);
        for kind in [
            BinaryKind::Add,
            BinaryKind::Sub,
            BinaryKind::Max,
            BinaryKind::Min,
        ] {
            let a = values(&mut rng, 20, 20);
            let b = values(&mut rng, 20, 20);
            check(Binary::aligned(kind, 3, 0, 4, 20), vec![a, b]);
        }
        let a = values(&mut rng, 20, 16);
        let b = values(&mut rng, 20, 16);
        check(Binary::aligned(BinaryKind::Mul, 0, 0, 8, 20), vec![a, b]);
        // Output positions 4..12 of a tensor chunked by 6 (two chunks of a), plus b broadcast
        // from a single value.
        let op = Binary {
            kind: BinaryKind::Add,
            ua: 0,
            ub: 0,
            shift: 0,
            x_lens: vec![6, 6, 1],
            a_index: (4..12).collect(),
            b_index: vec![12; 8],
        };
        let a0 = values(&mut rng, 6, 20);
        let a1 = values(&mut rng, 6, 20);
        let y = check(op, vec![a0.clone(), a1.clone(), vec![-7]]);
        let a: Vec<i32> = [a0, a1].concat();
        assert_eq!(y, (4..12).map(|i| a[i] - 7).collect::<Vec<_>>());
    }

    #[test]
    fn overflow_is_unprovable() {
        let op = Binary::aligned(BinaryKind::Add, 0, 0, 0, 2);
        let inputs = vec![vec![i32::MAX, 0], vec![1, 0]];
        assert!(matches!(
            op.evaluate(&inputs),
            Err(ZkError::ValueOutOfRange { index: 0, .. })
        ));
        let claim = vec![
            chunk_digest(&inputs[0]),
            chunk_digest(&inputs[1]),
            chunk_digest(&[i32::MIN, 0]),
        ];
        assert!(!satisfied(ChunkCircuit::with_claim(op, inputs, claim)));
        // Neg and Abs of -2^31.
        for kind in [UnaryKind::Neg, UnaryKind::Abs] {
            let op = Unary::aligned(kind, 1);
            let x = vec![vec![i32::MIN]];
            assert!(op.evaluate(&x).is_err());
            let claim = vec![chunk_digest(&x[0]), chunk_digest(&[i32::MIN])];
            assert!(!satisfied(ChunkCircuit::with_claim(op, x, claim)));
        }
        // shift_round to the left out of range.
        let op = Unary::aligned(UnaryKind::ShiftRound { shift: -2 }, 1);
        assert!(op.evaluate(&[vec![1 << 30]]).is_err());
    }

    #[test]
    fn unary_ops() {
        let x = vec![-100_000, -3, -1, 0, 1, 2, 3, 77_777, i32::MAX, i32::MIN + 1];
        let n = x.len();
        let y = check(
            Unary::aligned(UnaryKind::ShiftRound { shift: 1 }, n),
            vec![x.clone()],
        );
        assert_eq!(
            y,
            x.iter()
                .map(|&v| shift_round(v as i64, 1) as i32)
                .collect::<Vec<_>>()
        );
        assert_eq!(&y[..5], &[-50_000, -1, 0, 0, 1]);
        let y = check(Unary::aligned(UnaryKind::Neg, n), vec![x.clone()]);
        assert_eq!(y[1], 3);
        let y = check(Unary::aligned(UnaryKind::Abs, n), vec![x.clone()]);
        assert_eq!(y, x.iter().map(|v| v.abs()).collect::<Vec<_>>());
        let y = check(
            Unary::aligned(UnaryKind::Clip { lo: -5, hi: 1000 }, n),
            vec![x.clone()],
        );
        assert_eq!(y, x.iter().map(|&v| v.clamp(-5, 1000)).collect::<Vec<_>>());
        // alpha = 0.01 at 2^16
        let leaky = UnaryKind::LeakyRelu {
            alpha: 655,
            alpha_shift: 16,
        };
        let y = check(Unary::aligned(leaky, n), vec![x.clone()]);
        assert_eq!(y[0], shift_round(-100_000 * 655, 16) as i32);
        assert_eq!(y[0], -999);
        assert_eq!(y[8], i32::MAX);
        // A slope above 1: the negative branch is wide for large positive inputs, which
        // must still be provable.
        let steep = UnaryKind::LeakyRelu {
            alpha: 3 << 16,
            alpha_shift: 16,
        };
        let y = check(Unary::aligned(steep, 3), vec![vec![i32::MAX, -5, 7]]);
        assert_eq!(y, [i32::MAX, -15, 7]);
        let affine = UnaryKind::Affine {
            mul: (0..n as i64).map(|p| p * 100 - 300).collect(),
            add: (0..n as i64).map(|p| 1 - p).collect(),
            shift: 12,
        };
        let small: Vec<i32> = x.iter().map(|v| v >> 12).collect();
        let y = check(Unary::aligned(affine.clone(), n), vec![small.clone()]);
        let UnaryKind::Affine { mul, add, shift } = affine else {
            unreachable!()
        };
        let want: Vec<i32> = (0..n)
            .map(|p| shift_round(small[p] as i64 * mul[p] + add[p], shift) as i32)
            .collect();
        assert_eq!(y, want);
    }

    /// docs/fixed-point.md, "Exactness: exact or refused": the native values are the
    /// executor's exact ones (zkopml_model::fixed) on inputs where the old private copy
    /// wrapped (`a << ua`, `x << -k` and `x·alpha` in i64), and the circuit agrees.
    #[test]
    fn exact_where_the_old_copy_wrapped() {
        use zkopml_model::fixed as f;
        // Add: 3·2^62 + (-1)·2^62 rescaled by 62 is 2 (the old i64 alignment gave -2)
        let add = Binary::aligned(BinaryKind::Add, 62, 62, 62, 1);
        let want = f::shift_round_aligned(3, 62, -1, 62, 62).unwrap();
        assert_eq!(want, 2);
        assert_ne!(
            want,
            f::shift_round(3i64.wrapping_shl(62).wrapping_add(-1i64 << 62), 62)
        );
        assert_eq!(check(add, vec![vec![3], vec![-1]]), [want as i32]);
        // Max: max(2·2^62, -1) = 2^63 rescaled by 62 is 2 (old: 2 << 62 wrapped to -2^63, 0)
        let max = Binary::aligned(BinaryKind::Max, 62, 0, 62, 1);
        let want = f::shift_round_extreme(2, 62, -1, 0, 62, true).unwrap();
        assert_eq!(want, 2);
        assert_eq!(check(max, vec![vec![2], vec![-1]]), [want as i32]);
        // Mul then a left shift: 2^16·2^16·2^32 = 2^64 wrapped to 0 in the old copy, accepted;
        // exact it is no stored value, refused as by the executor and the circuit
        let mul = Binary::aligned(BinaryKind::Mul, 0, 0, -32, 1);
        let inputs = vec![vec![1 << 16], vec![1 << 16]];
        assert!(matches!(
            mul.evaluate(&inputs),
            Err(ZkError::ValueOutOfRange { .. })
        ));
        assert!(!satisfied(ChunkCircuit::with_claim(
            mul.clone(),
            inputs.clone(),
            inputs
                .iter()
                .map(|x| chunk_digest(x))
                .chain([chunk_digest(&[0])])
                .collect()
        )));
        // ShiftRound by -62: 4·2^62 wrapped to 0; exact, refused
        let sr = Unary::aligned(UnaryKind::ShiftRound { shift: -62 }, 1);
        assert_eq!(f::checked_shift_round(4, -62), None);
        assert!(matches!(
            sr.evaluate(&[vec![4]]),
            Err(ZkError::ValueOutOfRange { .. })
        ));
        // LeakyRelu and Affine with a 2^40 multiplier: x·2^40 for x = -2^31 left i64 (old: 0);
        // exact, x·2^40 rescaled by 40 is x
        let x = i32::MIN;
        let want = f::shift_round_i128(x as i128 * (1i128 << 40), 40).unwrap();
        assert_eq!(want, x as i128);
        let leaky = Unary::aligned(
            UnaryKind::LeakyRelu {
                alpha: 1 << 40,
                alpha_shift: 40,
            },
            1,
        );
        assert_eq!(check(leaky, vec![vec![x]]), [x]);
        let affine = Unary::aligned(
            UnaryKind::Affine {
                mul: vec![1 << 40],
                add: vec![1 << 39],
                shift: 40,
            },
            1,
        );
        let want = f::shift_round_i128(x as i128 * (1i128 << 40) + (1i128 << 39), 40).unwrap();
        assert_eq!(check(affine, vec![vec![x]]), [want as i32]);
    }

    /// A committed affine map computes the baked one's values (every shift class, extreme
    /// inputs), binds its constants and shift through the block digest, and layers of one
    /// shape whose shifts share a class share its circuit and one key.
    #[test]
    fn committed_affine_is_the_baked_map_with_its_constants_a_witness() {
        use crate::groth16::{prove, seeded_rng, setup, verify};
        use crate::native::weight_block_digest;
        use crate::table::OpCircuit;
        let mut rng = ChaCha20Rng::seed_from_u64(41);
        // 12 outputs over two chunks of 6, output p reading channel p % 4
        let x_lens = vec![6, 6];
        let x_index: Vec<usize> = (0..12).rev().collect();
        let position: Vec<usize> = (0..12).map(|p| p % 4).collect();
        let mut extreme = values(&mut rng, 12, 32);
        extreme[..3].copy_from_slice(&[i32::MIN, i32::MAX, -i32::MAX]);
        let layer = |rng: &mut ChaCha20Rng, shift: i32| {
            let bits = shift.max(0) as u32;
            let signed =
                |rng: &mut ChaCha20Rng, b: u32| (rng.next_u64() as i64) >> (64 - b.min(64));
            let ch: Vec<(i64, i64)> = (0..4)
                .map(|_| (signed(rng, bits + 2), signed(rng, bits + 30)))
                .collect();
            let mul: Vec<i64> = position.iter().map(|&c| ch[c].0).collect();
            let add: Vec<i64> = position.iter().map(|&c| ch[c].1).collect();
            (mul, add)
        };
        for shift in [-5, 0, 3, 16, 17, 40, 62] {
            for x in [values(&mut rng, 12, 28), extreme.clone()] {
                let x = vec![x[..6].to_vec(), x[6..].to_vec()];
                let (mul, add) = layer(&mut rng, shift);
                let kind = UnaryKind::Affine {
                    mul: mul.clone(),
                    add: add.clone(),
                    shift,
                };
                let baked = Unary {
                    kind,
                    x_lens: x_lens.clone(),
                    x_index: x_index.clone(),
                };
                let op = CommittedAffine::new(
                    x_lens.clone(),
                    x_index.clone(),
                    &position,
                    &mul,
                    &add,
                    shift,
                );
                assert_eq!(op.block_len(), 8, "one pair per channel read");
                let Ok(y) = baked.evaluate(&x) else {
                    assert!(op.evaluate(&x).is_err(), "shift {shift}");
                    continue;
                };
                assert_eq!(op.evaluate(&x).unwrap(), y, "shift {shift}");
                assert!(satisfied(ChunkCircuit::new(op.clone(), x.clone()).unwrap()));
                let claim = ChunkCircuit::public_inputs(&op, &x).unwrap();
                assert_eq!(claim[2], weight_block_digest(&op.block()));
                // a wrong output
                let mut wrong = claim.clone();
                let mut bad = y.clone();
                bad[7] = bad[7].wrapping_add(1);
                *wrong.last_mut().unwrap() = chunk_digest(&bad);
                assert!(!satisfied(ChunkCircuit::with_claim(
                    op.clone(),
                    x.clone(),
                    wrong
                )));
                // another constant, or another shift, under the registered digest
                let mut other = op.clone();
                other.add[1] += 1;
                assert!(!satisfied(ChunkCircuit::with_claim(
                    other,
                    x.clone(),
                    claim.clone()
                )));
                let mut other = op.clone();
                other.layer_shift -= 1;
                if other.shift() == op.shift() {
                    assert!(!satisfied(ChunkCircuit::with_claim(other, x, claim)));
                }
            }
        }
        // two layers, shifts 9 and 13 (class 16): one circuit, one key
        let x = vec![values(&mut rng, 6, 20), values(&mut rng, 6, 20)];
        let ops: Vec<CommittedAffine> = [9, 13]
            .iter()
            .map(|&shift| {
                let (mul, add) = layer(&mut rng, shift);
                CommittedAffine::new(
                    x_lens.clone(),
                    x_index.clone(),
                    &position,
                    &mul,
                    &add,
                    shift,
                )
            })
            .collect();
        let circuit = |op: &CommittedAffine| OpCircuit::CommittedAffine(op.clone());
        assert_eq!(
            circuit(&ops[0]).structure_key(),
            circuit(&ops[1]).structure_key()
        );
        assert!(circuit(&ops[0]).same_synthesis(&circuit(&ops[1])));
        let keys = setup(ChunkCircuit::shape(ops[0].clone()), &mut seeded_rng(1)).unwrap();
        let proofs: Vec<_> = ops
            .iter()
            .map(|op| {
                let c = ChunkCircuit::new(op.clone(), x.clone()).unwrap();
                let p = prove(&keys, c, &mut seeded_rng(2)).unwrap();
                assert!(verify(keys.vk(), &p.public_inputs, &p.proof).unwrap());
                p
            })
            .collect();
        // a proof does not verify under the other layer's block digest
        let mut tampered = proofs[1].public_inputs.clone();
        tampered[2] = proofs[0].public_inputs[2];
        assert!(!verify(keys.vk(), &tampered, &proofs[1].proof).unwrap_or(false));
        // a shift of another class, or channels read in another pattern, is another circuit
        let (mul, add) = layer(&mut rng, 17);
        let other =
            CommittedAffine::new(x_lens.clone(), x_index.clone(), &position, &mul, &add, 17);
        assert_ne!(
            circuit(&ops[0]).structure_key(),
            circuit(&other).structure_key()
        );
        let pattern: Vec<usize> = (0..12).map(|p| p % 3).collect();
        let other = CommittedAffine::new(x_lens, x_index, &pattern, &mul, &add, 13);
        assert_ne!(
            circuit(&ops[0]).structure_key(),
            circuit(&other).structure_key()
        );
    }

    /// A committed Add/Sub/Mul of two trace tensors computes the layer's values (every shift
    /// class, extreme inputs), binds its shifts through the block digest, and an Add and a Sub
    /// of other alignments and shifts of one class share a circuit and one key.
    #[test]
    fn committed_binary_is_the_layer_with_its_shifts_a_witness() {
        use crate::groth16::{prove, seeded_rng, setup, verify};
        use crate::table::OpCircuit;
        let mut rng = ChaCha20Rng::seed_from_u64(43);
        let mut extreme = values(&mut rng, 8, 32);
        extreme[..3].copy_from_slice(&[i32::MIN, i32::MAX, -i32::MAX]);
        for kind in [BinaryKind::Add, BinaryKind::Sub, BinaryKind::Mul] {
            for (ua, ub, shift) in [(0, 0, -3), (2, 0, 0), (0, 5, 7), (3, 1, 16), (0, 0, 30)] {
                for bits in [16, 32] {
                    let x = vec![values(&mut rng, 8, bits), extreme.clone()];
                    let layer = Binary::aligned(kind, ua, ub, shift, 8);
                    let op = CommittedBinary::new(layer.clone());
                    let Ok(y) = layer.evaluate(&x) else {
                        assert!(op.evaluate(&x).is_err());
                        continue;
                    };
                    assert!(satisfied(ChunkCircuit::new(op.clone(), x.clone()).unwrap()));
                    let claim = ChunkCircuit::public_inputs(&op, &x).unwrap();
                    let mut wrong = claim.clone();
                    let mut bad = y.clone();
                    bad[2] = bad[2].wrapping_add(1);
                    *wrong.last_mut().unwrap() = chunk_digest(&bad);
                    assert!(!satisfied(ChunkCircuit::with_claim(
                        op.clone(),
                        x.clone(),
                        wrong
                    )));
                    // another shift of the same class under the registered digest
                    let mut other = layer.clone();
                    other.shift -= 1;
                    let other = CommittedBinary::new(other);
                    if other.shift() == op.shift() {
                        assert!(!satisfied(ChunkCircuit::with_claim(other, x, claim)));
                    }
                }
            }
        }
        // an Add (ua 1, shift 9) and a Sub (ub 2, shift 14): one circuit, one key
        let x = vec![values(&mut rng, 8, 20), values(&mut rng, 8, 20)];
        let add = CommittedBinary::new(Binary::aligned(BinaryKind::Add, 1, 0, 9, 8));
        let sub = CommittedBinary::new(Binary::aligned(BinaryKind::Sub, 0, 2, 14, 8));
        let circuit = |op: &CommittedBinary| OpCircuit::CommittedBinary(op.clone());
        assert_eq!(circuit(&add).structure_key(), circuit(&sub).structure_key());
        assert!(circuit(&add).same_synthesis(&circuit(&sub)));
        let keys = setup(ChunkCircuit::shape(add.clone()), &mut seeded_rng(1)).unwrap();
        let proofs: Vec<_> = [&add, &sub]
            .iter()
            .map(|op| {
                let c = ChunkCircuit::new((*op).clone(), x.clone()).unwrap();
                let p = prove(&keys, c, &mut seeded_rng(2)).unwrap();
                assert!(verify(keys.vk(), &p.public_inputs, &p.proof).unwrap());
                p
            })
            .collect();
        // the Sub's proof does not verify under the Add's multipliers
        let mut tampered = proofs[1].public_inputs.clone();
        tampered[2] = proofs[0].public_inputs[2];
        assert!(!verify(keys.vk(), &tampered, &proofs[1].proof).unwrap_or(false));
        // a Mul, or another shift class, is another circuit
        let mul = CommittedBinary::new(Binary::aligned(BinaryKind::Mul, 0, 0, 9, 8));
        let far = CommittedBinary::new(Binary::aligned(BinaryKind::Add, 1, 0, 17, 8));
        for other in [mul, far] {
            assert_ne!(
                circuit(&add).structure_key(),
                circuit(&other).structure_key()
            );
        }
    }
}
