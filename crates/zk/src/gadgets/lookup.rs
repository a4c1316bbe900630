//! Gadgets for data-dependent choices: zero tests, one-hot selection by a variable index, and
//! the piecewise polynomials of `docs/fixed-point.md` (Sigmoid, Tanh, Erf, Exp).
//!
//! | gadget | what it proves | constraints |
//! |---|---|---|
//! | [`is_zero`] | `e = [x == 0]`: witnesses `e`, `inv` with `x·inv = 1 − e`, `x·e = 0` | 2 |
//! | [`one_hot`] | `e_k = [idx == k]`, `k < n`, and `0 <= idx < n` | n + 2 (1 for n = 1) |
//! | [`select_one_hot`] | `Σ e_k·c_k` | one per variable candidate |
//! | [`piecewise_poly`] | `PiecewisePoly::eval` exactly | see the function |

use super::{lincomb, signed::SignedVar};
use ark_ff::PrimeField;
use ark_r1cs_std::{
    alloc::AllocVar,
    boolean::Boolean,
    eq::EqGadget,
    fields::{fp::FpVar, FieldVar},
    GR1CSVar,
};
use ark_relations::gr1cs::SynthesisError;
use num_bigint::BigInt;
use num_traits::{ToPrimitive, Zero};
use zkopml_model::fixed::PiecewisePoly;

use super::signed::{decompose, int_to_field};

/// A Boolean as the integer 0 or 1 (no constraint: a Boolean is already constrained).
pub fn bit<F: PrimeField>(b: &Boolean<F>) -> SignedVar<F> {
    SignedVar::assume_in_range(FpVar::from(b.clone()), BigInt::zero(), BigInt::from(1))
}

/// `1 − b` as an integer (free).
pub fn not_bit<F: PrimeField>(b: &Boolean<F>) -> SignedVar<F> {
    SignedVar::linear_combination(&[(-1, &bit(b))], 1)
}

/// `[x == 0]` (2 constraints, r1cs-std's `is_eq`: `x·inv = 1 − e` and `x·e = 0`, so `e` is
/// 1 exactly when `x` is 0, whatever the prover puts in `inv`). For an integer `x` whose
/// interval is within `MAX_BITS`, `x == 0` in the field is `x == 0` over the integers.
pub fn is_zero<F: PrimeField>(x: &SignedVar<F>) -> Result<Boolean<F>, SynthesisError> {
    x.value().is_eq(&FpVar::Constant(F::zero()))
}

/// One-hot decomposition of an index: booleans `e_0 … e_{n-1}` with `Σ e_k = 1` and
/// `Σ k·e_k = idx`, so `e_k = [idx == k]`, and an `idx` outside `[0, n)` is unsatisfiable
/// (n + 2 constraints; n = 1: the single constraint `idx = 0`).
pub fn one_hot<F: PrimeField>(
    idx: &SignedVar<F>,
    n: usize,
) -> Result<Vec<Boolean<F>>, SynthesisError> {
    assert!(n >= 1, "one-hot over an empty range");
    if let FpVar::Constant(_) = idx.value() {
        let v = idx.int_value()?;
        let k = v.to_usize().filter(|&k| k < n);
        return match k {
            Some(k) => Ok((0..n).map(|j| Boolean::constant(j == k)).collect()),
            None => Err(SynthesisError::Unsatisfiable),
        };
    }
    if n == 1 {
        idx.value().enforce_equal(&FpVar::zero())?;
        return Ok(vec![Boolean::TRUE]);
    }
    let cs = idx.value().cs();
    let v = if cs.is_in_setup_mode() {
        Err(SynthesisError::AssignmentMissing)
    } else {
        idx.int_value()
    };
    let e = (0..n)
        .map(|k| {
            Boolean::new_witness(cs.clone(), || {
                v.as_ref().map(|v| *v == BigInt::from(k)).map_err(|e| *e)
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let fe: Vec<FpVar<F>> = e.iter().map(|b| FpVar::from(b.clone())).collect();
    let ones: Vec<(F, &FpVar<F>)> = fe.iter().map(|b| (F::one(), b)).collect();
    lincomb(&ones, F::zero()).enforce_equal(&FpVar::one())?;
    let weighted: Vec<(F, &FpVar<F>)> = fe
        .iter()
        .enumerate()
        .skip(1)
        .map(|(k, b)| (F::from(k as u64), b))
        .collect();
    lincomb(&weighted, F::zero()).enforce_equal(idx.value())?;
    Ok(e)
}

/// `Σ e_k · c_k` for a one-hot `e`: the candidate at the index. A constant candidate is a
/// coefficient (free), a variable one costs one product. The interval is the hull of the
/// candidates' intervals, which is sound because exactly one `e_k` is 1.
pub fn select_one_hot<F: PrimeField>(
    e: &[Boolean<F>],
    cands: &[SignedVar<F>],
) -> Result<SignedVar<F>, SynthesisError> {
    assert_eq!(e.len(), cands.len(), "one candidate per one-hot bit");
    let mut terms: Vec<FpVar<F>> = Vec::with_capacity(cands.len());
    for (b, c) in e.iter().zip(cands) {
        match (b, c.value()) {
            (Boolean::Constant(false), _) => {}
            (Boolean::Constant(true), v) => terms.push(v.clone()),
            (_, FpVar::Constant(k)) => terms.push(FpVar::from(b.clone()) * *k),
            (_, v) => terms.push(FpVar::from(b.clone()) * v),
        }
    }
    let refs: Vec<(F, &FpVar<F>)> = terms.iter().map(|t| (F::one(), t)).collect();
    let value = lincomb(&refs, F::zero());
    let lo = cands.iter().map(|c| c.interval().0).min().expect("n >= 1");
    let hi = cands.iter().map(|c| c.interval().1).max().expect("n >= 1");
    Ok(SignedVar::assume_in_range(value, lo.clone(), hi.clone()))
}

/// The width of a rescale by `k` over `x`'s interval, or `cap` if that is narrower (a result
/// that the executor would have to store, and which must therefore be int32).
fn width(x: &SignedVar<impl PrimeField>, k: i32, cap: Option<usize>) -> usize {
    let w = x.shift_round_bits(k);
    cap.map_or(w, |c| w.min(c))
}

/// `PiecewisePoly::eval(x)` of `zkopml_model::fixed` (docs/fixed-point.md), exactly:
///
/// ```text
/// xc  = min(max(x, lo), hi)                       2 comparisons (free when decided)
/// off = xc − lo = k·2^seg_bits + z                one decomposition of bitlen(hi − lo) bits
/// e   = one_hot(k, segments)                      segments + 2
/// c_i = Σ_j coeffs[j][i]·e_j                      free
/// acc = c_0; acc = shift_round(acc·z, in_scale) + c_i     1 + rescale per degree
/// y   = shift_round(acc, coeff_scale − out_scale) rescale
/// ```
///
/// Every intermediate rescale is proved in the width its interval needs (nothing is stored
/// there, and the executor computes it in i64 without a check). The result is proved in
/// `out_bits` bits when given (the executor stores it: int32), else in its interval's width.
pub fn piecewise_poly<F: PrimeField>(
    x: &SignedVar<F>,
    p: &PiecewisePoly,
    out_bits: Option<usize>,
) -> Result<SignedVar<F>, SynthesisError> {
    let segments = p.coeffs.len();
    let terms = p.coeffs[0].len();
    assert!(
        segments >= 1 && terms >= 1 && p.coeffs.iter().all(|c| c.len() == terms),
        "a piecewise polynomial with segments of one degree"
    );
    let (lo, hi) = (p.lo as i128, p.hi() as i128);
    let xc = x
        .max(&SignedVar::constant(lo))?
        .min(&SignedVar::constant(hi))?;
    // 0 <= off <= hi − lo by the clamp.
    let off = SignedVar::linear_combination(&[(1, &xc)], -lo);
    let span = (hi - lo) as u128;
    let sb = p.seg_bits as usize;
    let nb = ((128 - span.leading_zeros()) as usize).max(sb);
    let bits = decompose(off.value(), nb)?;
    let as_int = |bs: &[Boolean<F>]| -> SignedVar<F> {
        let fe: Vec<FpVar<F>> = bs.iter().map(|b| FpVar::from(b.clone())).collect();
        let t: Vec<(F, &FpVar<F>)> = fe
            .iter()
            .enumerate()
            .map(|(i, b)| (int_to_field(&(BigInt::from(1) << i)), b))
            .collect();
        let hi = (BigInt::from(1) << bs.len()) - 1;
        SignedVar::assume_in_range(lincomb(&t, F::zero()), BigInt::zero(), hi)
    };
    let z = as_int(&bits[..sb]);
    let k = as_int(&bits[sb..]);
    let e = one_hot(&k, segments)?;
    let coeff = |i: usize| -> Result<SignedVar<F>, SynthesisError> {
        let cands: Vec<SignedVar<F>> = p
            .coeffs
            .iter()
            .map(|c| SignedVar::constant(c[i] as i128))
            .collect();
        select_one_hot(&e, &cands)
    };
    let mut acc = coeff(0)?;
    for i in 1..terms {
        let prod = acc.mul(&z)?;
        let r = prod.shift_round(p.in_scale, width(&prod, p.in_scale, None))?;
        acc = r.add(&coeff(i)?);
    }
    let k = p.coeff_scale - p.out_scale;
    acc.shift_round(k, width(&acc, k, out_bits))
}

/// The integer of a one-hot vector's selected position, natively (tests).
#[cfg(test)]
pub(crate) fn selected<F: PrimeField>(e: &[Boolean<F>]) -> Option<usize> {
    e.iter().position(|b| b.value().ok() == Some(true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Fr;
    use ark_relations::gr1cs::{ConstraintSystem, ConstraintSystemRef};

    fn witness(cs: &ConstraintSystemRef<Fr>, v: i64) -> SignedVar<Fr> {
        SignedVar::new_witness(cs.clone(), 32, || Ok(BigInt::from(v))).unwrap()
    }

    #[test]
    fn is_zero_costs_two_and_decides() {
        for v in [0i64, 1, -1, i32::MIN as i64, 12345] {
            let cs = ConstraintSystem::<Fr>::new_ref();
            let x = witness(&cs, v);
            let before = cs.num_constraints();
            let e = is_zero(&x).unwrap();
            assert_eq!(cs.num_constraints() - before, 2);
            assert_eq!(e.value().unwrap(), v == 0);
            assert!(cs.is_satisfied().unwrap());
        }
    }

    #[test]
    fn one_hot_in_range_and_not_outside() {
        for (v, n, ok) in [
            (0i64, 5usize, true),
            (4, 5, true),
            (5, 5, false),
            (-1, 5, false),
            (0, 1, true),
            (1, 1, false),
            (i32::MIN as i64, 3, false),
        ] {
            let cs = ConstraintSystem::<Fr>::new_ref();
            let x = witness(&cs, v);
            let before = cs.num_constraints();
            let e = one_hot(&x, n).unwrap();
            let cost = if n == 1 { 1 } else { n + 2 };
            assert_eq!(cs.num_constraints() - before, cost);
            assert_eq!(cs.is_satisfied().unwrap(), ok, "idx {v} of {n}");
            if ok {
                assert_eq!(selected(&e), Some(v as usize));
            }
        }
    }

    #[test]
    fn select_one_hot_picks_the_candidate() {
        let cs = ConstraintSystem::<Fr>::new_ref();
        let idx = witness(&cs, 2);
        let cands = vec![
            SignedVar::constant(-7),
            witness(&cs, 100),
            witness(&cs, -300),
            SignedVar::constant(9),
        ];
        let e = one_hot(&idx, 4).unwrap();
        let before = cs.num_constraints();
        let y = select_one_hot(&e, &cands).unwrap();
        assert_eq!(cs.num_constraints() - before, 2);
        assert_eq!(y.int_value().unwrap(), BigInt::from(-300));
        assert_eq!(
            y.interval(),
            (
                &BigInt::from(-(1i64 << 31)),
                &BigInt::from((1i64 << 31) - 1)
            )
        );
        assert!(cs.is_satisfied().unwrap());
    }

    #[test]
    fn a_tampered_one_hot_is_rejected() {
        use crate::gadgets::signed::tests::{matrices_satisfied, set_witness};
        use ark_relations::gr1cs::Variable;
        let var = |b: &Boolean<Fr>| match b {
            Boolean::Var(v) => v.variable(),
            Boolean::Constant(_) => panic!("constant"),
        };
        let build = || {
            let cs = ConstraintSystem::<Fr>::new_ref();
            let x = witness(&cs, 2);
            let e = one_hot(&x, 4).unwrap();
            let vars: Vec<Variable> = e.iter().map(var).collect();
            (cs, vars)
        };
        let (cs, _) = build();
        assert!(matrices_satisfied(&cs));
        let one = Fr::from(1u64);
        let zero = Fr::from(0u64);
        // Another position: Σ e = 1 holds, Σ k·e does not.
        for other in [0, 1, 3] {
            let (cs, e) = build();
            set_witness(&cs, e[2], zero);
            set_witness(&cs, e[other], one);
            assert!(!matrices_satisfied(&cs), "position {other}");
        }
        // Non-boolean weights that balance both sums (e_1 = e_3 = 1/2: Σ e = 1 and
        // Σ k·e = 2): booleanity rejects them.
        let (cs, e) = build();
        let half = one / Fr::from(2u64);
        set_witness(&cs, e[2], zero);
        set_witness(&cs, e[1], half);
        set_witness(&cs, e[3], half);
        assert!(!matrices_satisfied(&cs));
        // No position at all.
        let (cs, e) = build();
        set_witness(&cs, e[2], zero);
        assert!(!matrices_satisfied(&cs));
    }

    fn sigmoid() -> PiecewisePoly {
        PiecewisePoly::fit(|x| 1.0 / (1.0 + (-x).exp()), -10.0, 0, 20, 3, 10, 14, 4).unwrap()
    }

    #[test]
    fn piecewise_poly_is_the_executors() {
        let p = sigmoid();
        let xs: Vec<i64> = vec![
            i32::MIN as i64,
            -20_000,
            p.lo - 1,
            p.lo,
            p.lo + 1,
            -1025,
            -1024,
            -1,
            0,
            1,
            511,
            512,
            1023,
            1024,
            p.hi() - 1,
            p.hi(),
            p.hi() + 1,
            i32::MAX as i64,
        ];
        for &v in &xs {
            let cs = ConstraintSystem::<Fr>::new_ref();
            let x = witness(&cs, v);
            let y = piecewise_poly(&x, &p, Some(32)).unwrap();
            assert_eq!(y.int_value().unwrap(), BigInt::from(p.eval(v)), "x = {v}");
            assert!(cs.is_satisfied().unwrap());
        }
    }
}
