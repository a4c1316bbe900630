//! Elementwise operators whose operands may be trace values or constants, over one output
//! chunk: Less / Greater / Equal, Max / Min with a constant, Div by a variable, Where, Cast to
//! Int or Bool, Not, Reciprocal, Sqrt and the piecewise polynomials (Sigmoid, Tanh, Erf, Exp).
//!
//! Each output position lists its operands ([`Arg`]): a position in the concatenation of the
//! input chunks read, or a constant of the operator (a broadcast constant operand). The
//! semantics are those of `docs/fixed-point.md` and `zkopml_exec`'s `Ctx::eval`:
//!
//! | op | semantics | constraints per output (int32 operands with their bits) |
//! |---|---|---|
//! | Less / Greater | `[a·2^ua < b·2^ub]`, `[a·2^ua > b·2^ub]` | is_ge: `n + 2`, n = 32 + max(ua, ub) |
//! | Equal | `[a·2^ua == b·2^ub]` | 2 |
//! | Max / Min | `shift_round(max/min(a·2^ua, b·2^ub), shift)` | is_ge + 1 + rescale |
//! | Div | `div_round(shift_round(a, −up), b)`, `b = 0` unprovable | `32 + 2B + 5`, B = 32 |
//! | Where | `c ≠ 0 ? shift_round(a, sa) : shift_round(b, sb)` | 2 + 1 (+ 33 if a branch is wider than int32) |
//! | Cast to Int | `trunc(x / 2^s)` (toward zero) for `s > 0`, else `x` | rescale of `x + [x<0]·(2^s − 1)`: `(33 − s) + s + 1` |
//! | Cast to Bool / Not | `[x ≠ 0]` / `[x == 0]` | 2 |
//! | Reciprocal | `div_round(2^num_bits, x)`, `x = 0` unprovable | `32 + 2·32 + 5` |
//! | Sqrt | `isqrt(shift_round(x, −up))`, `x < 0` unprovable | `3n + ceil(n/2) + 5`, n = 32 + up |
//! | Poly | `PiecewisePoly::eval(x)` | see [`piecewise_poly`] |
//!
//! An arithmetic error of the executor (division by zero, the square root of a negative
//! value) makes the statement unsatisfiable, and `evaluate` returns
//! `ZkError::Synthesis(Unsatisfiable)`.

use super::chunk::ChunkOp;
use crate::{
    gadgets::{
        lookup::{bit, is_zero, not_bit, piecewise_poly},
        signed::{rescale_hint, SignedVar},
    },
    Fr, ZkError,
};
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};
use num_bigint::BigInt;
use zkopml_model::fixed::{
    clamp_shift, cmp_aligned, div_round_i128, fit_i64, isqrt, shift_round, shift_round_extreme,
    shift_round_i128, PiecewisePoly,
};

/// One operand of one output position.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Arg {
    /// A position in the concatenation of the input chunks read.
    Input(usize),
    /// A constant of the operator.
    Const(i64),
}

/// A comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cmp {
    /// `a < b`
    Less,
    /// `a > b`
    Greater,
    /// `a == b`
    Equal,
}

/// Which operator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PointKind {
    /// `[a·2^ua ⋄ b·2^ub]`.
    Compare {
        /// The comparison.
        cmp: Cmp,
        /// Left alignment.
        ua: u32,
        /// Right alignment.
        ub: u32,
    },
    /// `shift_round(max/min(a·2^ua, b·2^ub), shift)`.
    MaxMin {
        /// Max (true) or Min.
        max: bool,
        /// Left alignment.
        ua: u32,
        /// Right alignment.
        ub: u32,
        /// Output shift.
        shift: i32,
    },
    /// `div_round(shift_round(a, −up), b)`.
    Div {
        /// The numerator's scale-up.
        up: i32,
    },
    /// `c ≠ 0 ? shift_round(a, sa) : shift_round(b, sb)` (operands `c, a, b`).
    Where {
        /// Shift of `a`.
        sa: i32,
        /// Shift of `b`.
        sb: i32,
    },
    /// Truncation toward zero of `x / 2^shift` (`shift <= 0`: `x`).
    CastInt {
        /// The input's scale.
        shift: i32,
    },
    /// `[x ≠ 0]`.
    CastBool,
    /// `[x == 0]`.
    Not,
    /// `div_round(2^num_bits, x)`.
    Reciprocal {
        /// The numerator's exponent.
        num_bits: u32,
    },
    /// `isqrt(shift_round(x, −up))`.
    Sqrt {
        /// The scale-up before the root.
        up: i32,
    },
    /// `p.eval(x)`.
    Poly(PiecewisePoly),
}

impl PointKind {
    /// The number of operands.
    pub fn arity(&self) -> usize {
        match self {
            PointKind::Compare { .. } | PointKind::MaxMin { .. } | PointKind::Div { .. } => 2,
            PointKind::Where { .. } => 3,
            _ => 1,
        }
    }

    /// The executor's value (None: an arithmetic error), exactly (docs/fixed-point.md,
    /// "Exactness: exact or refused"): as `zkopml_exec`'s `Ctx::eval`, with no intermediate
    /// in a machine word that could wrap. A value whose exact magnitude is at least 2^63 is
    /// returned as `i64::MAX` (or `i64::MIN`), which `evaluate` refuses as out of range.
    fn eval(&self, v: &[i64]) -> Option<i64> {
        let wide = |v: Option<i64>| v.unwrap_or(i64::MAX);
        let sat = |v: i128| v.clamp(i64::MIN as i128, i64::MAX as i128) as i64;
        Some(match self {
            PointKind::Compare { cmp, ua, ub } => {
                let o = cmp_aligned(v[0] as i128, *ua, v[1] as i128, *ub);
                (match cmp {
                    Cmp::Less => o.is_lt(),
                    Cmp::Greater => o.is_gt(),
                    Cmp::Equal => o.is_eq(),
                }) as i64
            }
            PointKind::MaxMin { max, ua, ub, shift } => wide(shift_round_extreme(
                v[0] as i128,
                *ua,
                v[1] as i128,
                *ub,
                *shift,
                *max,
            )),
            PointKind::Div { up } => {
                if v[1] == 0 {
                    return None;
                }
                // n = a·2^up exactly; beyond i128 (|n| >= 2^127, |b| < 2^63) the quotient
                // exceeds 2^63: no stored value
                wide(
                    shift_round_i128(v[0] as i128, clamp_shift(-(*up as i64)))
                        .and_then(|n| div_round_i128(n, v[1] as i128))
                        .and_then(fit_i64),
                )
            }
            PointKind::Where { sa, sb } => {
                if v[0] != 0 {
                    shift_round(v[1], *sa)
                } else {
                    shift_round(v[2], *sb)
                }
            }
            // truncation toward zero; |x| <= 2^63, so every shift from 127 on gives 0 as 127
            // does
            PointKind::CastInt { shift } => {
                if *shift > 0 {
                    sat(v[0] as i128 / (1i128 << (*shift).min(127)))
                } else {
                    v[0]
                }
            }
            PointKind::CastBool => (v[0] != 0) as i64,
            PointKind::Not => (v[0] == 0) as i64,
            PointKind::Reciprocal { num_bits } => {
                if v[0] == 0 {
                    return None;
                }
                // 2^num_bits / x with |x| < 2^63: num_bits >= 127 gives more than 2^63
                if *num_bits >= 127 {
                    i64::MAX
                } else {
                    sat(div_round_i128(1i128 << num_bits, v[0] as i128)?)
                }
            }
            PointKind::Sqrt { up } => {
                // n = x·2^up exactly; n >= 2^63 (or beyond i128) has a root above 2^31
                match shift_round_i128(v[0] as i128, clamp_shift(-(*up as i64))) {
                    Some(n) if n < 0 => return None,
                    None if v[0] < 0 => return None,
                    n => match n.and_then(fit_i64) {
                        Some(n) => isqrt(n)?,
                        None => i64::MAX,
                    },
                }
            }
            // an intermediate beyond i128 (only a crafted polynomial) is refused
            PointKind::Poly(p) => sat(p.checked_eval(v[0])?),
        })
    }
}

/// An elementwise operator over one output chunk, operands per output position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pointwise {
    /// Which operator.
    pub kind: PointKind,
    /// Lengths of the input chunks read, in circuit-table order.
    pub x_lens: Vec<usize>,
    /// For each output position, its operands (`kind.arity()` of them).
    pub args: Vec<Vec<Arg>>,
}

impl Pointwise {
    fn check(&self) {
        let n: usize = self.x_lens.iter().sum();
        assert!(
            self.args.iter().all(|a| a.len() == self.kind.arity()
                && a.iter().all(|x| match x {
                    Arg::Input(p) => *p < n,
                    Arg::Const(_) => true,
                })),
            "operands per output, inside the chunks read"
        );
        if let PointKind::Compare { ua, ub, .. } | PointKind::MaxMin { ua, ub, .. } = self.kind {
            assert!(ua <= 62 && ub <= 62);
        }
        if let PointKind::Reciprocal { num_bits } = self.kind {
            assert!(num_bits <= 62);
        }
    }
}

/// An unsatisfiable statement: the executor refuses this output.
pub(crate) fn refused() -> ZkError {
    ZkError::Synthesis(SynthesisError::Unsatisfiable)
}

fn operand(x: &[&SignedVar<Fr>], a: &Arg) -> SignedVar<Fr> {
    match a {
        Arg::Input(p) => x[*p].clone(),
        Arg::Const(v) => SignedVar::constant(*v as i128),
    }
}

/// `shift_round(v, k)` proved in the width of its interval (for a branch or an intermediate
/// that the executor does not store).
fn shift_exact(v: &SignedVar<Fr>, k: i32) -> Result<SignedVar<Fr>, SynthesisError> {
    v.shift_round(k, v.shift_round_bits(k))
}

impl ChunkOp for Pointwise {
    fn input_lens(&self) -> Vec<usize> {
        self.x_lens.clone()
    }

    fn output_len(&self) -> usize {
        self.args.len()
    }

    fn evaluate(&self, inputs: &[Vec<i32>]) -> Result<Vec<i32>, ZkError> {
        self.check();
        let x: Vec<i32> = inputs.concat();
        self.args
            .iter()
            .enumerate()
            .map(|(index, args)| {
                let v: Vec<i64> = args
                    .iter()
                    .map(|a| match a {
                        Arg::Input(p) => x[*p] as i64,
                        Arg::Const(c) => *c,
                    })
                    .collect();
                let y = self.kind.eval(&v).ok_or_else(refused)?;
                i32::try_from(y).map_err(|_| ZkError::ValueOutOfRange { index, value: y })
            })
            .collect()
    }

    fn synthesize(
        &self,
        _cs: &ConstraintSystemRef<Fr>,
        inputs: &[Vec<SignedVar<Fr>>],
    ) -> Result<Vec<SignedVar<Fr>>, SynthesisError> {
        self.check();
        let x: Vec<&SignedVar<Fr>> = inputs.iter().flatten().collect();
        self.args
            .iter()
            .map(|args| {
                let v: Vec<SignedVar<Fr>> = args.iter().map(|a| operand(&x, a)).collect();
                synthesize_one(&self.kind, &v)
            })
            .collect()
    }
}

/// Cast to Int: `trunc(x / 2^s)` (toward zero) for `s > 0`, `x` otherwise, as
/// `floor((x + [x < 0]·(2^s − 1)) / 2^s)`, a rescale of `x + [x < 0]·(2^s − 1) − 2^(s−1)`
/// whose quotient and remainder `hint` supplies (tests play a cheating prover with it).
pub(crate) fn cast_int_with_hint(
    x: &SignedVar<Fr>,
    shift: i32,
    hint: impl FnOnce(&BigInt) -> (BigInt, BigInt),
) -> Result<SignedVar<Fr>, SynthesisError> {
    if shift <= 0 {
        return Ok(x.clone());
    }
    let s = shift as u32;
    let m = (1i128 << s) - 1;
    let neg = not_bit(&x.is_nonneg()?);
    let acc = SignedVar::linear_combination(&[(1, x), (m, &neg)], -(1i128 << (s - 1)));
    let bits = acc.shift_round_bits(shift).min(32);
    acc.rescale_with_hint(s, bits, hint)
}

fn synthesize_one(kind: &PointKind, v: &[SignedVar<Fr>]) -> Result<SignedVar<Fr>, SynthesisError> {
    let scaled = |k: usize, u: u32| SignedVar::linear_combination(&[(1i128 << u, &v[k])], 0);
    match kind {
        PointKind::Compare { cmp, ua, ub } => {
            let (a, b) = (scaled(0, *ua), scaled(1, *ub));
            Ok(match cmp {
                Cmp::Less => not_bit(&a.is_ge(&b)?),
                Cmp::Greater => not_bit(&b.is_ge(&a)?),
                Cmp::Equal => bit(&is_zero(&a.sub(&b))?),
            })
        }
        PointKind::MaxMin { max, ua, ub, shift } => {
            let (a, b) = (scaled(0, *ua), scaled(1, *ub));
            let m = if *max { a.max(&b)? } else { a.min(&b)? };
            m.shift_round(*shift, 32)
        }
        PointKind::Div { up } => {
            let n = shift_exact(&v[0], -up)?;
            match v[1].interval() {
                (lo, hi) if lo == hi => {
                    let d: i64 = lo.try_into().map_err(|_| SynthesisError::Unsatisfiable)?;
                    if d == 0 {
                        return Err(SynthesisError::Unsatisfiable);
                    }
                    n.div_round_const(d, 32)
                }
                _ => n.div_round(&v[1], 32),
            }
        }
        PointKind::Where { sa, sb } => {
            let (a, b) = (shift_exact(&v[1], *sa)?, shift_exact(&v[2], *sb)?);
            let zero = is_zero(&v[0])?;
            SignedVar::select(&zero, &b, &a)?.range_check(32)
        }
        PointKind::CastInt { shift } => {
            cast_int_with_hint(&v[0], *shift, |acc| rescale_hint(acc, *shift as u32))
        }
        PointKind::CastBool => Ok(not_bit(&is_zero(&v[0])?)),
        PointKind::Not => Ok(bit(&is_zero(&v[0])?)),
        PointKind::Reciprocal { num_bits } => {
            SignedVar::constant(1i128 << num_bits).div_round(&v[0], 32)
        }
        PointKind::Sqrt { up } => {
            let y = shift_exact(&v[0], -up)?.isqrt()?;
            y.range_check(32)
        }
        PointKind::Poly(p) => piecewise_poly(&v[0], p, Some(32)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{circuits::chunk::ChunkCircuit, native::chunk_digest};
    use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem, ConstraintSystemRef};
    use rand_chacha::ChaCha20Rng;
    use rand_core::{RngCore, SeedableRng};
    use zkopml_model::fixed::div_round;

    fn satisfied<O: ChunkOp>(c: ChunkCircuit<O>) -> bool {
        let cs = ConstraintSystem::<Fr>::new_ref();
        c.generate_constraints(cs.clone()).unwrap();
        cs.is_satisfied().unwrap()
    }

    fn claim_of(inputs: &[Vec<i32>], y: &[i32]) -> Vec<crate::Fr> {
        inputs
            .iter()
            .map(|x| chunk_digest(x))
            .chain([chunk_digest(y)])
            .collect()
    }

    /// Honest output satisfies; every output ± 1 does not; an input digest of other data
    /// does not. Returns the output and the constraint count.
    fn check(op: Pointwise, inputs: Vec<Vec<i32>>) -> (Vec<i32>, usize) {
        let out = op.evaluate(&inputs).unwrap();
        let cs = ConstraintSystem::<Fr>::new_ref();
        ChunkCircuit::new(op.clone(), inputs.clone())
            .unwrap()
            .generate_constraints(cs.clone())
            .unwrap();
        assert!(cs.is_satisfied().unwrap(), "{:?}", op.kind);
        for p in 0..out.len() {
            for d in [-1, 1] {
                let mut wrong = out.clone();
                wrong[p] = wrong[p].wrapping_add(d);
                assert!(
                    !satisfied(ChunkCircuit::with_claim(
                        op.clone(),
                        inputs.clone(),
                        claim_of(&inputs, &wrong)
                    )),
                    "{:?}: output {p} off by {d}",
                    op.kind
                );
            }
        }
        let mut other = inputs.clone();
        other[0][0] = other[0][0].wrapping_add(1);
        let mut claim = claim_of(&other, &out);
        claim.truncate(inputs.len());
        claim.push(chunk_digest(&out));
        assert!(!satisfied(ChunkCircuit::with_claim(
            op.clone(),
            inputs.clone(),
            claim
        )));
        (out, cs.num_constraints())
    }

    /// Output p reads a[p] and b[p] from two chunks of `len`.
    fn binary(kind: PointKind, len: usize) -> Pointwise {
        Pointwise {
            kind,
            x_lens: vec![len, len],
            args: (0..len)
                .map(|p| vec![Arg::Input(p), Arg::Input(len + p)])
                .collect(),
        }
    }

    fn unary(kind: PointKind, len: usize) -> Pointwise {
        Pointwise {
            kind,
            x_lens: vec![len],
            args: (0..len).map(|p| vec![Arg::Input(p)]).collect(),
        }
    }

    fn values(rng: &mut ChaCha20Rng, len: usize, bits: u32) -> Vec<i32> {
        (0..len)
            .map(|_| (rng.next_u32() as i32) >> (32 - bits))
            .collect()
    }

    #[test]
    fn compare_known_answers() {
        let a = vec![3, -3, 7, -8, 0, 5, i32::MIN, i32::MAX];
        let b = vec![4, -3, 3, -4, 0, 3, i32::MAX, i32::MIN];
        let lt = |ua, ub| PointKind::Compare {
            cmp: Cmp::Less,
            ua,
            ub,
        };
        let (y, n) = check(binary(lt(0, 0), 8), vec![a.clone(), b.clone()]);
        assert_eq!(y, [1, 0, 0, 1, 0, 0, 1, 0]);
        // 32-bit inputs (32 each) and the digests, plus 34 per comparison.
        eprintln!("Less over 8: {n} constraints");
        // a < 2b: 3<8, -3<-6 no, 7<6 no, -8<-8 no, 0<0 no, 5<6
        let (y, _) = check(binary(lt(0, 1), 8), vec![a.clone(), b.clone()]);
        assert_eq!(&y[..6], [1, 0, 0, 0, 0, 1]);
        let gt = PointKind::Compare {
            cmp: Cmp::Greater,
            ua: 1,
            ub: 0,
        };
        // 2a > b: 6>4, -6>-3 no, 14>3, -16>-4 no, 0>0 no, 10>3
        let (y, _) = check(binary(gt, 8), vec![a.clone(), b.clone()]);
        assert_eq!(y, [1, 0, 1, 0, 0, 1, 0, 1]);
        let eq = PointKind::Compare {
            cmp: Cmp::Equal,
            ua: 0,
            ub: 1,
        };
        // a == 2b: only -8 == -8 and 0 == 0
        let (y, _) = check(binary(eq, 8), vec![a.clone(), b.clone()]);
        assert_eq!(y, [0, 0, 0, 1, 1, 0, 0, 0]);
        // With a broadcast constant: a < 3.
        let op = Pointwise {
            kind: lt(0, 0),
            x_lens: vec![8],
            args: (0..8).map(|p| vec![Arg::Input(p), Arg::Const(3)]).collect(),
        };
        let (y, _) = check(op, vec![a.clone()]);
        assert_eq!(y, [0, 1, 0, 1, 1, 0, 1, 0]);
    }

    #[test]
    fn compare_random() {
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        for cmp in [Cmp::Less, Cmp::Greater, Cmp::Equal] {
            let a = values(&mut rng, 16, 6);
            let b = values(&mut rng, 16, 6);
            let op = binary(PointKind::Compare { cmp, ua: 2, ub: 0 }, 16);
            let want: Vec<i32> = a
                .iter()
                .zip(&b)
                .map(|(&x, &y)| {
                    let (x, y) = ((x as i64) << 2, y as i64);
                    (match cmp {
                        Cmp::Less => x < y,
                        Cmp::Greater => x > y,
                        Cmp::Equal => x == y,
                    }) as i32
                })
                .collect();
            assert_eq!(check(op, vec![a, b]).0, want);
        }
    }

    #[test]
    fn max_min_with_a_constant() {
        let x = vec![-100, -3, 0, 5, 1000, i32::MAX];
        let op = |max| Pointwise {
            kind: PointKind::MaxMin {
                max,
                ua: 1,
                ub: 0,
                shift: 1,
            },
            x_lens: vec![6],
            args: (0..6).map(|p| vec![Arg::Input(p), Arg::Const(7)]).collect(),
        };
        // max(2x, 7) / 2 rounded half up: 7/2 -> 4 (three times), 10/2 = 5, 1000, 2^31 - 1
        let (y, _) = check(op(true), vec![x.clone()]);
        assert_eq!(y, [4, 4, 4, 5, 1000, i32::MAX]);
        // min(2x, 7)/2: -100, -3, 0, 4, 4, 4
        let (y, _) = check(op(false), vec![x]);
        assert_eq!(y, [-100, -3, 0, 4, 4, 4]);
    }

    #[test]
    fn div_known_answers_and_zero_divisor() {
        // up = 1: div_round(2a, b)
        let a = vec![5, -5, 5, -5, 7, 0, 1 << 29];
        let b = vec![2, 2, -2, -2, 3, -9, 3];
        let (y, n) = check(binary(PointKind::Div { up: 1 }, 7), vec![a, b]);
        // 10/2 = 5, -5, -5, 5, 14/3 = 4.67 -> 5, 0, 2^30/3 = 357913941.33 -> 357913941
        assert_eq!(y, [5, -5, -5, 5, 5, 0, 357_913_941]);
        eprintln!("Div over 7: {n} constraints");
        // up = -2: div_round(shift_round(a, 2), b): shift_round(6, 2) = 2 (1.5 -> 2)
        let (y, _) = check(
            binary(PointKind::Div { up: -2 }, 2),
            vec![vec![6, -6], vec![1, 1]],
        );
        assert_eq!(y, [2, -1]);
        // A zero divisor: the executor refuses, the circuit is unsatisfiable for any claim.
        let op = binary(PointKind::Div { up: 0 }, 2);
        let inputs = vec![vec![4, 4], vec![2, 0]];
        assert!(op.evaluate(&inputs).is_err());
        for y0 in [0, 1, i32::MAX] {
            let claim = claim_of(&inputs, &[2, y0]);
            assert!(!satisfied(ChunkCircuit::with_claim(
                op.clone(),
                inputs.clone(),
                claim
            )));
        }
        // An overflowing quotient: i32::MAX / 1 scaled up by 2.
        let op = binary(PointKind::Div { up: 1 }, 1);
        let inputs = vec![vec![i32::MAX], vec![1]];
        assert!(matches!(
            op.evaluate(&inputs),
            Err(ZkError::ValueOutOfRange { .. })
        ));
        let claim = claim_of(&inputs, &[-2]);
        assert!(!satisfied(ChunkCircuit::with_claim(op, inputs, claim)));
    }

    #[test]
    fn div_random() {
        let mut rng = ChaCha20Rng::seed_from_u64(8);
        let a = values(&mut rng, 12, 24);
        let b: Vec<i32> = values(&mut rng, 12, 12)
            .into_iter()
            .map(|v| if v == 0 { 1 } else { v })
            .collect();
        let op = binary(PointKind::Div { up: 4 }, 12);
        let want: Vec<i32> = a
            .iter()
            .zip(&b)
            .map(|(&x, &d)| div_round((x as i64) << 4, d as i64).unwrap() as i32)
            .collect();
        assert_eq!(check(op, vec![a, b]).0, want);
    }

    #[test]
    fn where_selects_and_rescales() {
        let c = vec![1, 0, -5, 0];
        let a = vec![10, 20, 30, i32::MAX];
        let b = vec![-1, -2, -3, 1 << 29];
        let op = Pointwise {
            kind: PointKind::Where { sa: 0, sb: -1 },
            x_lens: vec![4, 4, 4],
            args: (0..4)
                .map(|p| vec![Arg::Input(p), Arg::Input(4 + p), Arg::Input(8 + p)])
                .collect(),
        };
        let (y, n) = check(op, vec![c, a, b]);
        // c != 0 ? a : 2b; 2·2^29 = 2^30 fits
        assert_eq!(y, [10, -4, 30, 1 << 30]);
        eprintln!("Where over 4: {n} constraints");
        // The unselected branch may be wider than int32; the selected one may not.
        let op = Pointwise {
            kind: PointKind::Where { sa: -2, sb: 0 },
            x_lens: vec![2, 2],
            args: (0..2)
                .map(|p| vec![Arg::Input(p), Arg::Input(2 + p), Arg::Const(-9)])
                .collect(),
        };
        let (y, _) = check(op.clone(), vec![vec![0, 1], vec![i32::MAX, 3]]);
        assert_eq!(y, [-9, 12]);
        let inputs = vec![vec![1, 1], vec![i32::MAX, 3]];
        assert!(op.evaluate(&inputs).is_err());
        let claim = claim_of(&inputs, &[-4, 12]);
        assert!(!satisfied(ChunkCircuit::with_claim(op, inputs, claim)));
    }

    #[test]
    fn casts_and_not() {
        let x = vec![
            0,
            1,
            -1,
            255,
            256,
            257,
            -255,
            -256,
            -257,
            i32::MAX,
            i32::MIN,
            -511,
        ];
        let n = x.len();
        // Truncation toward zero of x / 256.
        let (y, cost) = check(unary(PointKind::CastInt { shift: 8 }, n), vec![x.clone()]);
        assert_eq!(y, [0, 0, 0, 0, 1, 1, 0, -1, -1, 8_388_607, -8_388_608, -1]);
        eprintln!("Cast to Int over {n}: {cost} constraints");
        let (y, _) = check(unary(PointKind::CastInt { shift: 0 }, n), vec![x.clone()]);
        assert_eq!(y, x);
        let (y, _) = check(unary(PointKind::CastBool, n), vec![x.clone()]);
        assert_eq!(y, x.iter().map(|&v| (v != 0) as i32).collect::<Vec<_>>());
        let (y, _) = check(unary(PointKind::Not, n), vec![x.clone()]);
        assert_eq!(y, x.iter().map(|&v| (v == 0) as i32).collect::<Vec<_>>());
    }

    #[test]
    fn cast_to_int_rejects_a_floored_output() {
        // A cheating prover that floors instead of truncating: -1/2 -> -1 instead of 0.
        let op = unary(PointKind::CastInt { shift: 1 }, 1);
        let inputs = vec![vec![-1]];
        assert_eq!(op.evaluate(&inputs).unwrap(), [0]);
        let claim = claim_of(&inputs, &[-1]);
        assert!(!satisfied(ChunkCircuit::with_claim(op, inputs, claim)));
    }

    /// A value whose output is pinned to a public claim, for witness-level cheats.
    fn pinned(claim: i64, f: impl FnOnce(&ConstraintSystemRef<Fr>) -> SignedVar<Fr>) -> bool {
        use ark_r1cs_std::{alloc::AllocVar, fields::fp::FpVar};
        let cs = ConstraintSystem::<Fr>::new_ref();
        let y = f(&cs);
        let c = FpVar::new_input(cs.clone(), || {
            Ok(crate::gadgets::signed::int_to_field::<Fr>(&BigInt::from(
                claim,
            )))
        })
        .unwrap();
        y.enforce_equal(&c).unwrap();
        cs.is_satisfied().unwrap()
    }

    fn x32(cs: &ConstraintSystemRef<Fr>, v: i64) -> SignedVar<Fr> {
        SignedVar::new_witness(cs.clone(), 32, || Ok(BigInt::from(v))).unwrap()
    }

    #[test]
    fn cast_to_int_and_div_reject_cheating_hints() {
        use num_integer::Integer;
        for (x, s) in [
            (-1i64, 1i32),
            (-7, 2),
            (7, 2),
            (-256, 8),
            (i32::MIN as i64, 8),
        ] {
            let want = x / (1 << s);
            let honest = |acc: &BigInt| rescale_hint(acc, s as u32);
            assert!(pinned(want, |cs| cast_int_with_hint(
                &x32(cs, x),
                s,
                honest
            )
            .unwrap()));
            let two_s = BigInt::from(1) << s;
            for dq in [-1i64, 1] {
                // q ± 1 with the remainder moved by ∓2^s balances the identity, but the
                // remainder leaves [0, 2^s).
                let cheat = |acc: &BigInt| {
                    let (q, r) = rescale_hint(acc, s as u32);
                    (q + dq, r - dq * &two_s)
                };
                let claim = want + dq;
                assert!(!pinned(claim, |cs| cast_int_with_hint(
                    &x32(cs, x),
                    s,
                    cheat
                )
                .unwrap()));
            }
            // A remainder off by one does not balance.
            let cheat = |acc: &BigInt| {
                let (q, r) = rescale_hint(acc, s as u32);
                (q, r + 1)
            };
            assert!(!pinned(want, |cs| cast_int_with_hint(
                &x32(cs, x),
                s,
                cheat
            )
            .unwrap()));
        }
        // Div: the same cheats on div_round by a variable (2n + |d| = q·2|d| + r).
        for (a, d) in [(5i64, 2i64), (-5, 2), (5, -2), (7, 3), (0, -9)] {
            let want = div_round(a, d).unwrap();
            let run = |claim: i64, h: &dyn Fn(&BigInt, &BigInt) -> (BigInt, BigInt)| {
                pinned(claim, |cs| {
                    x32(cs, a).div_round_with_hint(&x32(cs, d), 32, h).unwrap()
                })
            };
            assert!(run(want, &|t, m| t.div_mod_floor(m)));
            assert!(!run(want + 1, &|t, m| {
                let (q, r) = t.div_mod_floor(m);
                (q + 1, r - m)
            }));
            assert!(!run(want - 1, &|t, m| {
                let (q, r) = t.div_mod_floor(m);
                (q - 1, r + m)
            }));
            assert!(!run(want, &|t, m| {
                let (q, r) = t.div_mod_floor(m);
                (q, r + 1)
            }));
        }
    }

    /// Constraints of one output beyond its operands (int32 witnesses with their bits), as
    /// docs/zk.md tabulates them.
    #[test]
    fn constraints_per_output() {
        let sig =
            PiecewisePoly::fit(|x| 1.0 / (1.0 + (-x).exp()), -10.0, 0, 20, 3, 10, 14, 4).unwrap();
        let tanh = PiecewisePoly::fit(f64::tanh, -6.0, -1, 24, 3, 12, 14, 4).unwrap();
        let cmp = |cmp, ua| PointKind::Compare { cmp, ua, ub: 0 };
        let cases: Vec<(PointKind, Option<usize>)> = vec![
            (cmp(Cmp::Less, 0), Some(34)),
            (cmp(Cmp::Greater, 3), Some(37)),
            (cmp(Cmp::Equal, 3), Some(2)),
            (
                PointKind::MaxMin {
                    max: true,
                    ua: 1,
                    ub: 0,
                    shift: 1,
                },
                Some(35 + 1 + 34),
            ),
            (PointKind::Div { up: 0 }, Some(32 + 2 * 32 + 5)),
            (PointKind::Where { sa: 0, sb: 0 }, Some(3)),
            (PointKind::Where { sa: 0, sb: -1 }, Some(3 + 33)),
            (PointKind::CastInt { shift: 8 }, Some(25 + 8 + 1)),
            (PointKind::CastBool, Some(2)),
            (PointKind::Not, Some(2)),
            (
                PointKind::Reciprocal { num_bits: 16 },
                Some(32 + 2 * 32 + 4),
            ),
            (PointKind::Sqrt { up: 2 }, Some(3 * 34 + 17 + 5)),
            (PointKind::Poly(sig), None),
            (PointKind::Poly(tanh), None),
        ];
        for (kind, want) in cases {
            let cs = ConstraintSystem::<Fr>::new_ref();
            let v: Vec<SignedVar<Fr>> = (0..kind.arity()).map(|k| x32(&cs, 3 + k as i64)).collect();
            let before = cs.num_constraints();
            synthesize_one(&kind, &v).unwrap();
            let n = cs.num_constraints() - before;
            let name = format!("{kind:?}");
            eprintln!("{}: {n}", &name[..name.len().min(60)]);
            if let Some(w) = want {
                assert_eq!(n, w, "{name}");
            }
        }
    }

    #[test]
    fn reciprocal_and_sqrt() {
        let x = vec![1, -1, 3, -3, 7, 1 << 20, -(1 << 16), 1000];
        let n = x.len();
        let (y, cost) = check(
            unary(PointKind::Reciprocal { num_bits: 16 }, n),
            vec![x.clone()],
        );
        // div_round(65536, x): 65536, -65536, 21845.33 -> 21845, -21845, 9362.29 -> 9362,
        // 0.0625 -> 0, -1, 65.536 -> 66
        assert_eq!(y, [65536, -65536, 21845, -21845, 9362, 0, -1, 66]);
        eprintln!("Reciprocal over {n}: {cost} constraints");
        let zero = unary(PointKind::Reciprocal { num_bits: 16 }, 1);
        assert!(zero.evaluate(&[vec![0]]).is_err());
        assert!(!satisfied(ChunkCircuit::with_claim(
            zero,
            vec![vec![0]],
            claim_of(&[vec![0]], &[0])
        )));
        let x = vec![0, 1, 2, 3, 4, 15, 16, 17, 1 << 20, i32::MAX];
        let (y, cost) = check(unary(PointKind::Sqrt { up: 2 }, 10), vec![x.clone()]);
        // isqrt(4x)
        let want: Vec<i32> = x
            .iter()
            .map(|&v| isqrt((v as i64) << 2).unwrap() as i32)
            .collect();
        assert_eq!(y, want);
        assert_eq!(&y[..8], [0, 2, 2, 3, 4, 7, 8, 8]);
        eprintln!("Sqrt over 10: {cost} constraints");
        let neg = unary(PointKind::Sqrt { up: 0 }, 1);
        assert!(neg.evaluate(&[vec![-4]]).is_err());
        for y0 in [0, 2, -2] {
            assert!(!satisfied(ChunkCircuit::with_claim(
                neg.clone(),
                vec![vec![-4]],
                claim_of(&[vec![-4]], &[y0])
            )));
        }
    }

    #[test]
    fn poly_sigmoid_tanh() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let sig =
            PiecewisePoly::fit(|x| 1.0 / (1.0 + (-x).exp()), -10.0, 0, 20, 3, 10, 14, 4).unwrap();
        let tanh = PiecewisePoly::fit(f64::tanh, -6.0, -1, 24, 3, 12, 14, 4).unwrap();
        for p in [sig, tanh] {
            let mut x = values(&mut rng, 12, 16);
            x.extend([i32::MIN, i32::MAX, 0, -1, p.lo as i32, p.hi() as i32]);
            let n = x.len();
            let want: Vec<i32> = x.iter().map(|&v| p.eval(v as i64) as i32).collect();
            let (y, cost) = check(unary(PointKind::Poly(p), n), vec![x]);
            assert_eq!(y, want);
            eprintln!("Poly over {n}: {cost} constraints");
        }
        // Known answer: sigmoid(0) = 0.5 at 2^14, within the fit's error.
        let sig =
            PiecewisePoly::fit(|x| 1.0 / (1.0 + (-x).exp()), -10.0, 0, 20, 3, 10, 14, 4).unwrap();
        let (y, _) = check(unary(PointKind::Poly(sig), 1), vec![vec![0]]);
        assert!((y[0] - 8192).abs() <= 8, "{}", y[0]);
    }

    /// docs/fixed-point.md, "Exactness: exact or refused": the native values are the
    /// executor's exact ones (zkopml_model::fixed) on inputs where the old code wrapped
    /// (`v << ua` in i64, `1i64 << shift`) or saturated (`shift_round(a, -up)` before
    /// dividing), and the circuit agrees.
    #[test]
    fn exact_where_the_old_code_wrapped() {
        use zkopml_model::fixed as f;
        let one = |kind: PointKind, args: Vec<Arg>| Pointwise {
            kind,
            x_lens: vec![1],
            args: vec![args],
        };
        // Compare: 2·2^62 > -1 (old: 2 << 62 wrapped to -2^63, false)
        let gt = one(
            PointKind::Compare {
                cmp: Cmp::Greater,
                ua: 62,
                ub: 0,
            },
            vec![Arg::Input(0), Arg::Const(-1)],
        );
        assert!(f::cmp_aligned(2, 62, -1, 0).is_gt());
        assert_eq!(check(gt, vec![vec![2]]).0, [1]);
        // MaxMin: max(2·2^62, -1) rescaled by 62 is 2 (old: 0)
        let max = one(
            PointKind::MaxMin {
                max: true,
                ua: 62,
                ub: 0,
                shift: 62,
            },
            vec![Arg::Input(0), Arg::Const(-1)],
        );
        assert_eq!(f::shift_round_extreme(2, 62, -1, 0, 62, true), Some(2));
        assert_eq!(check(max, vec![vec![2]]).0, [2]);
        // Div: (2^31 - 1)·2^40 / 2^40 is 2^31 - 1 (old: the numerator saturated to i64::MAX,
        // quotient 2^23, an in-range wrong value)
        let a = i32::MAX;
        let div = one(
            PointKind::Div { up: 40 },
            vec![Arg::Input(0), Arg::Const(1 << 40)],
        );
        let want =
            f::div_round_i128(f::shift_round_i128(a as i128, -40).unwrap(), 1 << 40).unwrap();
        assert_eq!(want, a as i128);
        assert_ne!(
            f::div_round(f::shift_round(a as i64, -40), 1 << 40),
            Some(want as i64)
        );
        assert_eq!(check(div, vec![vec![a]]).0, [a]);
        // CastInt by 64: trunc(-5 / 2^64) = 0 (old: 1i64 << 64 became 1 in release, -5)
        let cast = one(PointKind::CastInt { shift: 64 }, vec![Arg::Input(0)]);
        assert_eq!(check(cast, vec![vec![-5]]).0, [0]);
    }
}
