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
use crate::{gadgets::signed::SignedVar, Fr, ZkError};
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};

use zkopml_model::fixed::{
    fit_i64, shift_round, shift_round_aligned, shift_round_extreme, shift_round_i128,
};

/// The executor's wide result as an i64: a value whose exact magnitude is at least 2^63
/// (None) is no stored value, and `i64::MAX` is refused by [`narrow`] as the executor refuses
/// it (`zkopml_exec`'s `wide`).
fn wide(v: Option<i64>) -> i64 {
    v.unwrap_or(i64::MAX)
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
            // |x·alpha| <= 2^126 and |x·mul + add| <= 2^126 + 2^63: exact in i128
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
            UnaryKind::Affine { mul, add, shift } => wide(
                shift_round_i128(x as i128 * mul[p] as i128 + add[p] as i128, *shift)
                    .and_then(fit_i64),
            ),
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
}
