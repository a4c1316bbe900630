//! Signed integers in a circuit, with the range the constraints prove.
//!
//! A field element is not an integer: `x - y` of two "small" values wraps around modulo `r`
//! when `y > x`, and a product can wrap as well. Every integer argument a circuit makes
//! (rescale, comparison, the packing of the chunk digest) is only sound when the integers
//! involved are known to be far below `r/2`. [`SignedVar`] carries that knowledge: a value
//! together with an interval `[lo, hi]` that *the constraints already in the system* force it
//! into. Intervals come from range checks (bit decompositions) and are propagated exactly
//! through the operations that cannot wrap (linear combinations, products, relu, max), as long
//! as they stay within [`MAX_BITS`] bits.
//!
//! Costs (R1CS constraints; linear combinations are free):
//!
//! | operation                               | constraints            |
//! |-----------------------------------------|------------------------|
//! | [`SignedVar::new_witness`] (n bits)     | n                      |
//! | [`SignedVar::enforce_range`] (n bits)   | n + 1                  |
//! | [`SignedVar::rescale`] (shift s, Q bits)| Q + s + 1              |
//! | [`SignedVar::shift_round`] (k > 0)      | as rescale; k <= 0: a range check if needed |
//! | [`SignedVar::div_round_const`] (by d)   | Q + b + 1 (+ b + 1 unless 2d is a power of 2), b = bitlen(2d-1) |
//! | [`SignedVar::div_round`] (by d of B bits)| Q + 2B + 5 (+ d's sign) |
//! | [`SignedVar::isqrt`] (n bits)           | 3n + ceil(n/2) + 5     |
//! | [`SignedVar::enforce_nonzero`]          | 1                      |
//! | [`SignedVar::is_ge`] (n-bit operands)   | n + 2                  |
//! | [`SignedVar::max`], [`SignedVar::min`]  | is_ge + 1              |
//! | [`SignedVar::select`]                   | 1                      |
//! | [`SignedVar::relu`]                     | 1 (+ n + 1 without bits) |
//! | [`SignedVar::mul`]                      | 1                      |
//! | linear combinations, add, sub           | 0                      |

use super::lincomb;
use ark_ff::{BigInteger, PrimeField};
use ark_r1cs_std::{
    alloc::AllocVar,
    boolean::Boolean,
    eq::EqGadget,
    fields::{fp::FpVar, FieldVar},
    GR1CSVar,
};
use ark_relations::gr1cs::{ConstraintSystemRef, Namespace, SynthesisError};
use num_bigint::{BigInt, BigUint, Sign};
use num_integer::Integer;
use num_traits::{One, Signed, Zero};

/// The widest integers the gadgets accept. BN254's `r > 2^253`, so an identity between
/// integers below `2^(MAX_BITS + 1)` in magnitude holds in `F` exactly when it holds over the
/// integers; the margin covers the additions inside the gadgets.
pub const MAX_BITS: usize = 248;

/// The signed integer a field element stands for: `x` if `x <= (r-1)/2`, else `x - r`.
pub fn field_to_int<F: PrimeField>(x: F) -> BigInt {
    let u = BigUint::from_bytes_le(&x.into_bigint().to_bytes_le());
    let r: BigUint = F::MODULUS.into();
    if u > (&r - 1u32) / 2u32 {
        BigInt::from_biguint(Sign::Minus, r - u)
    } else {
        BigInt::from_biguint(Sign::Plus, u)
    }
}

/// The field element standing for the integer `v` (`-v` is `r - v`).
pub fn int_to_field<F: PrimeField>(v: &BigInt) -> F {
    let (sign, mag) = v.clone().into_parts();
    let x = F::from_le_bytes_mod_order(&mag.to_bytes_le());
    if sign == Sign::Minus {
        -x
    } else {
        x
    }
}

fn pow2(n: usize) -> BigInt {
    BigInt::one() << n
}

fn fpow2<F: PrimeField>(n: usize) -> F {
    int_to_field(&pow2(n))
}

/// Proves `0 <= x < 2^n` by decomposing `x` into `n` witnessed bits (little-endian):
/// `n` booleanity constraints and one for `Σ b_i 2^i = x`. Since `2^n <= 2^MAX_BITS < r`, the
/// sum cannot wrap, so `x` (as the canonical integer in `[0, r)`) is below `2^n`.
///
/// A constant `x` gives constant bits, or `Unsatisfiable` if it is out of range.
pub fn decompose<F: PrimeField>(x: &FpVar<F>, n: usize) -> Result<Vec<Boolean<F>>, SynthesisError> {
    assert!(
        n <= MAX_BITS,
        "range checks are limited to {MAX_BITS} bits, not {n}"
    );
    if let FpVar::Constant(c) = x {
        let v = field_to_int(*c);
        if v.sign() == Sign::Minus || v.bits() > n as u64 {
            return Err(SynthesisError::Unsatisfiable);
        }
        return Ok((0..n).map(|i| Boolean::constant(v.bit(i as u64))).collect());
    }
    let value = x.value().map(|v| v.into_bigint());
    let bits = (0..n)
        .map(|i| Boolean::new_witness(x.cs(), || value.map(|v| v.get_bit(i))))
        .collect::<Result<Vec<_>, _>>()?;
    weighted_bits(&bits, F::zero()).enforce_equal(x)?;
    Ok(bits)
}

/// `Σ b_i 2^i + constant` (free).
fn weighted_bits<F: PrimeField>(bits: &[Boolean<F>], constant: F) -> FpVar<F> {
    let as_fp: Vec<FpVar<F>> = bits.iter().map(|b| FpVar::from(b.clone())).collect();
    let terms: Vec<(F, &FpVar<F>)> = as_fp
        .iter()
        .enumerate()
        .map(|(i, b)| (fpow2::<F>(i), b))
        .collect();
    lincomb(&terms, constant)
}

/// Allocates `n` witness bits holding `u mod 2^n`: the only thing a prover can put into an
/// `n`-bit decomposition, whatever value it claims.
fn alloc_bits_mod<F: PrimeField>(
    cs: &ConstraintSystemRef<F>,
    n: usize,
    u: &Result<BigInt, SynthesisError>,
) -> Result<Vec<Boolean<F>>, SynthesisError> {
    let reduced: Result<BigUint, SynthesisError> = match u {
        Ok(u) => Ok(u.mod_floor_pow2(n)),
        Err(e) => Err(*e),
    };
    (0..n)
        .map(|i| {
            Boolean::new_witness(cs.clone(), || {
                reduced.as_ref().map(|u| u.bit(i as u64)).map_err(|e| *e)
            })
        })
        .collect()
}

trait ModPow2 {
    fn mod_floor_pow2(&self, n: usize) -> BigUint;
}
impl ModPow2 for BigInt {
    fn mod_floor_pow2(&self, n: usize) -> BigUint {
        let m = pow2(n);
        let r = ((self % &m) + &m) % &m;
        r.to_biguint().expect("non-negative")
    }
}

/// The honest witness of [`SignedVar::rescale`]: `t = acc + 2^(s-1)`, `q = floor(t / 2^s)`,
/// `r = t - q·2^s` with `0 <= r < 2^s` (round half up).
pub fn rescale_hint(acc: &BigInt, shift: u32) -> (BigInt, BigInt) {
    assert!(shift >= 1);
    let s = shift as usize;
    let t = acc + pow2(s - 1);
    let r = BigInt::from(t.mod_floor_pow2(s));
    let q = (t - &r) >> s; // exact division
    (q, r)
}

/// A signed integer variable whose interval `[lo, hi]` the constraints enforce.
#[derive(Clone, Debug)]
pub struct SignedVar<F: PrimeField> {
    value: FpVar<F>,
    lo: BigInt,
    hi: BigInt,
    /// Little-endian bits of `value + 2^(n-1)` for `n = bits.len()`, if the value was
    /// decomposed (they give the sign for free).
    offset_bits: Option<Vec<Boolean<F>>>,
}

impl<F: PrimeField> SignedVar<F> {
    fn with_interval(value: FpVar<F>, lo: BigInt, hi: BigInt) -> Self {
        assert!(lo <= hi, "empty interval");
        let out = Self {
            value,
            lo,
            hi,
            offset_bits: None,
        };
        assert!(
            out.bits() <= MAX_BITS,
            "integer of {} bits exceeds the {MAX_BITS}-bit limit of the gadgets",
            out.bits()
        );
        out
    }

    fn n_bit_interval(n: usize) -> (BigInt, BigInt) {
        assert!(
            (1..=MAX_BITS).contains(&n),
            "bit width {n} not in 1..={MAX_BITS}"
        );
        (-pow2(n - 1), pow2(n - 1) - 1)
    }

    /// A new witness `v` in `[-2^(n-1), 2^(n-1))`, allocated as the `n` bits of
    /// `v + 2^(n-1)` (n constraints). A value out of range is refused with `Unsatisfiable`.
    pub fn new_witness(
        cs: impl Into<Namespace<F>>,
        n: usize,
        f: impl FnOnce() -> Result<BigInt, SynthesisError>,
    ) -> Result<Self, SynthesisError> {
        let ns: Namespace<F> = cs.into();
        let cs = ns.cs();
        let (lo, hi) = Self::n_bit_interval(n);
        let offset = if cs.is_in_setup_mode() {
            Err(SynthesisError::AssignmentMissing)
        } else {
            f().and_then(|v| {
                if v < lo || v > hi {
                    Err(SynthesisError::Unsatisfiable)
                } else {
                    Ok(v + pow2(n - 1))
                }
            })
        };
        let bits = alloc_bits_mod(&cs, n, &offset)?;
        Ok(Self::from_offset_bits(bits))
    }

    /// `Σ b_i 2^i - 2^(n-1)` for bits of an offset value (no constraint).
    fn from_offset_bits(bits: Vec<Boolean<F>>) -> Self {
        let n = bits.len();
        let (lo, hi) = Self::n_bit_interval(n);
        let value = weighted_bits(&bits, -fpow2::<F>(n - 1));
        Self {
            value,
            lo,
            hi,
            offset_bits: Some(bits),
        }
    }

    /// The same integer held in one witness variable (one constraint), for a decomposed value
    /// that many linear combinations read: each then names one variable instead of inlining
    /// the `n`-term combination of its bits (a Gemm reading 400 such inputs per output would
    /// otherwise carry 400·32 terms per output row). Other values are returned as they are.
    pub fn materialize(&self) -> Result<Self, SynthesisError> {
        if self.offset_bits.is_none() || self.value.is_constant() {
            return Ok(self.clone());
        }
        let value = FpVar::new_witness(self.value.cs(), || self.value.value())?;
        value.enforce_equal(&self.value)?;
        Ok(Self {
            value,
            ..self.clone()
        })
    }

    /// A constant.
    pub fn constant(v: i128) -> Self {
        let v = BigInt::from(v);
        Self::with_interval(FpVar::Constant(int_to_field(&v)), v.clone(), v)
    }

    /// Proves `-2^(n-1) <= x < 2^(n-1)` for an arbitrary field variable (n + 1 constraints).
    pub fn enforce_range(x: &FpVar<F>, n: usize) -> Result<Self, SynthesisError> {
        let (lo, hi) = Self::n_bit_interval(n);
        let shifted = lincomb(&[(F::one(), x)], fpow2::<F>(n - 1));
        let bits = decompose(&shifted, n)?;
        if x.is_constant() {
            let v = field_to_int(x.value()?);
            return Ok(Self::with_interval(x.clone(), v.clone(), v));
        }
        Ok(Self {
            value: x.clone(),
            lo,
            hi,
            offset_bits: Some(bits),
        })
    }

    /// Treats `x` as an integer in `[lo, hi]` **without any constraint**. Only for values whose
    /// range follows from how the circuit computed them (for example a product of two bits);
    /// never for a fresh witness.
    pub fn assume_in_range(x: FpVar<F>, lo: BigInt, hi: BigInt) -> Self {
        Self::with_interval(x, lo, hi)
    }

    /// The value as a field variable.
    pub fn value(&self) -> &FpVar<F> {
        &self.value
    }

    /// The enforced interval `[lo, hi]`.
    pub fn interval(&self) -> (&BigInt, &BigInt) {
        (&self.lo, &self.hi)
    }

    /// The least `n >= 1` with `[lo, hi] ⊆ [-2^(n-1), 2^(n-1))`.
    pub fn bits(&self) -> usize {
        (1..)
            .find(|&n| self.fits(n))
            .expect("some width fits a finite interval")
    }

    /// Whether the enforced interval lies within `[-2^(n-1), 2^(n-1))`.
    pub fn fits(&self, n: usize) -> bool {
        n >= 1 && self.lo >= -pow2(n - 1) && self.hi < pow2(n - 1)
    }

    /// This value with `[-2^(n-1), 2^(n-1))` enforced: free if the interval already fits,
    /// otherwise a range check (n + 1 constraints).
    pub fn range_check(&self, n: usize) -> Result<Self, SynthesisError> {
        if self.fits(n) {
            Ok(self.clone())
        } else {
            Self::enforce_range(&self.value, n)
        }
    }

    /// The value's integer (prove mode only).
    pub fn int_value(&self) -> Result<BigInt, SynthesisError> {
        self.value.value().map(field_to_int)
    }

    /// Little-endian bits of `value + 2^(n-1)`: the ones this value was allocated or range
    /// checked with, or a fresh decomposition to `n = self.bits()` (n + 1 constraints).
    pub fn offset_bits(&self) -> Result<Vec<Boolean<F>>, SynthesisError> {
        match &self.offset_bits {
            Some(bits) => Ok(bits.clone()),
            None => {
                let fresh = Self::enforce_range(&self.value, self.bits())?;
                Ok(fresh.offset_bits.expect("enforce_range keeps its bits"))
            }
        }
    }

    /// `value >= 0`: the top bit of `value + 2^(n-1)` (free when the bits are known, constant
    /// when the interval decides it).
    pub fn is_nonneg(&self) -> Result<Boolean<F>, SynthesisError> {
        if self.lo >= BigInt::zero() {
            return Ok(Boolean::TRUE);
        }
        if self.hi < BigInt::zero() {
            return Ok(Boolean::FALSE);
        }
        let bits = self.offset_bits()?;
        Ok(bits.last().expect("n >= 1").clone())
    }

    /// `max(value, 0)` = `[value >= 0] · value` (one constraint).
    pub fn relu(&self) -> Result<Self, SynthesisError> {
        if self.lo >= BigInt::zero() {
            return Ok(self.clone());
        }
        if self.hi < BigInt::zero() {
            return Ok(Self::constant(0));
        }
        let nonneg = FpVar::from(self.is_nonneg()?);
        let value = nonneg * &self.value;
        Ok(Self::with_interval(value, BigInt::zero(), self.hi.clone()))
    }

    /// `Σ c_i x_i + constant` with its exact interval (no constraint).
    pub fn linear_combination(terms: &[(i128, &Self)], constant: i128) -> Self {
        let mut lo = BigInt::from(constant);
        let mut hi = BigInt::from(constant);
        let coeffs: Vec<F> = terms
            .iter()
            .map(|(c, _)| int_to_field(&BigInt::from(*c)))
            .collect();
        for (c, x) in terms {
            let c = BigInt::from(*c);
            if c.is_negative() {
                lo += &c * &x.hi;
                hi += &c * &x.lo;
            } else {
                lo += &c * &x.lo;
                hi += &c * &x.hi;
            }
        }
        let fterms: Vec<(F, &FpVar<F>)> = coeffs
            .into_iter()
            .zip(terms.iter().map(|(_, x)| &x.value))
            .collect();
        let value = lincomb(&fterms, int_to_field(&BigInt::from(constant)));
        Self::with_interval(value, lo, hi)
    }

    /// `self + other` (free).
    pub fn add(&self, other: &Self) -> Self {
        Self::linear_combination(&[(1, self), (1, other)], 0)
    }

    /// `self - other` (free).
    pub fn sub(&self, other: &Self) -> Self {
        Self::linear_combination(&[(1, self), (-1, other)], 0)
    }

    /// `self · other` (one constraint unless one side is constant).
    pub fn mul(&self, other: &Self) -> Result<Self, SynthesisError> {
        let corners = [
            &self.lo * &other.lo,
            &self.lo * &other.hi,
            &self.hi * &other.lo,
            &self.hi * &other.hi,
        ];
        let lo = corners.iter().min().expect("four").clone();
        let hi = corners.iter().max().expect("four").clone();
        Ok(Self::with_interval(&self.value * &other.value, lo, hi))
    }

    /// `self >= other`: with both in `[-2^(n-1), 2^(n-1))`, `d = self - other + 2^n` lies in
    /// `[1, 2^(n+1))` and its bit `n` is the answer (n + 2 constraints; constant when the
    /// intervals decide it).
    pub fn is_ge(&self, other: &Self) -> Result<Boolean<F>, SynthesisError> {
        if self.lo >= other.hi {
            return Ok(Boolean::TRUE);
        }
        if self.hi < other.lo {
            return Ok(Boolean::FALSE);
        }
        let n = self.bits().max(other.bits());
        assert!(n < MAX_BITS, "comparison of {n}-bit integers");
        let d = lincomb(
            &[(F::one(), &self.value), (-F::one(), &other.value)],
            fpow2::<F>(n),
        );
        let bits = decompose(&d, n + 1)?;
        Ok(bits[n].clone())
    }

    /// `max(self, other) = other + [self >= other] · (self - other)` (is_ge + 1 constraint).
    pub fn max(&self, other: &Self) -> Result<Self, SynthesisError> {
        let ge = FpVar::from(self.is_ge(other)?);
        let diff = lincomb(
            &[(F::one(), &self.value), (-F::one(), &other.value)],
            F::zero(),
        );
        let picked = ge * diff;
        let value = lincomb(&[(F::one(), &other.value), (F::one(), &picked)], F::zero());
        let lo = (&self.lo).max(&other.lo).clone();
        let hi = (&self.hi).max(&other.hi).clone();
        Ok(Self::with_interval(value, lo, hi))
    }

    /// Round-half-up division by `2^shift`: `q = floor((self + 2^(shift-1)) / 2^shift)`,
    /// proved in range `[-2^(out_bits-1), 2^(out_bits-1))` (the executor's overflow check).
    ///
    /// Witnessed as quotient and remainder: `self + 2^(s-1) = q·2^s + r` with `q` decomposed
    /// to `out_bits` bits and `r` to `s` bits (out_bits + s + 1 constraints). Both sides are
    /// integers below `2^(MAX_BITS+1)` in magnitude, so the field identity is the integer one,
    /// whose only solution with `0 <= r < 2^s` is the floor. `shift = 0` is a range check.
    /// The result keeps `q`'s bits.
    pub fn rescale(&self, shift: u32, out_bits: usize) -> Result<Self, SynthesisError> {
        self.rescale_with_hint(shift, out_bits, |acc| rescale_hint(acc, shift))
    }

    /// [`Self::rescale`] with the witness `(q, r)` supplied by `hint` (given the value of
    /// `self`). Public so that tests can play a cheating prover; honest code uses `rescale`.
    pub fn rescale_with_hint(
        &self,
        shift: u32,
        out_bits: usize,
        hint: impl FnOnce(&BigInt) -> (BigInt, BigInt),
    ) -> Result<Self, SynthesisError> {
        if shift == 0 {
            return self.range_check(out_bits);
        }
        let s = shift as usize;
        assert!(
            out_bits + s <= MAX_BITS && self.bits() <= MAX_BITS,
            "rescale of a {}-bit value by 2^{s} into {out_bits} bits exceeds {MAX_BITS} bits",
            self.bits()
        );
        let (lo, hi) = Self::n_bit_interval(out_bits);
        if let FpVar::Constant(c) = &self.value {
            let (q, _) = rescale_hint(&field_to_int(*c), shift);
            if q < lo || q > hi {
                return Err(SynthesisError::Unsatisfiable);
            }
            return Ok(Self::with_interval(
                FpVar::Constant(int_to_field(&q)),
                q.clone(),
                q,
            ));
        }
        let cs = self.value.cs();
        let qr = if cs.is_in_setup_mode() {
            Err(SynthesisError::AssignmentMissing)
        } else {
            self.int_value().map(|acc| hint(&acc))
        };
        let q_offset = qr
            .as_ref()
            .map(|(q, _)| q + pow2(out_bits - 1))
            .map_err(|e| *e);
        let r = qr.as_ref().map(|(_, r)| r.clone()).map_err(|e| *e);
        let q = Self::from_offset_bits(alloc_bits_mod(&cs, out_bits, &q_offset)?);
        let r_bits = alloc_bits_mod(&cs, s, &r)?;
        let r = weighted_bits(&r_bits, F::zero());
        // self + 2^(s-1) - q·2^s - r = 0
        lincomb(
            &[
                (F::one(), &self.value),
                (-fpow2::<F>(s), &q.value),
                (-F::one(), &r),
            ],
            fpow2::<F>(s - 1),
        )
        .enforce_equal(&FpVar::Constant(F::zero()))?;
        debug_assert_eq!((&q.lo, &q.hi), (&lo, &hi));
        Ok(q)
    }

    /// `self · 2^-k` with zkopml's one rounding rule (`shift_round` of docs/fixed-point.md and
    /// `zkopml_model::fixed`): round half up for `k > 0` ([`Self::rescale`]), an exact
    /// multiplication by `2^-k` for `k <= 0`; the result proved in `out_bits` signed bits.
    pub fn shift_round(&self, k: i32, out_bits: usize) -> Result<Self, SynthesisError> {
        if k > 0 {
            self.rescale(k as u32, out_bits)
        } else {
            let factor = 1i128
                .checked_shl((-k) as u32)
                .filter(|f| *f > 0)
                .expect("left shift by less than 127 bits");
            Self::linear_combination(&[(factor, self)], 0).range_check(out_bits)
        }
    }

    /// The signed width of `shift_round(self, k)` over this value's whole interval: with
    /// `out_bits` at least this, [`Self::shift_round`] never fails for a value in range. For a
    /// branch that may not be selected (LeakyRelu's negative side), where a 32-bit check
    /// could fail on a value the executor never stores.
    pub fn shift_round_bits(&self, k: i32) -> usize {
        let f = |x: &BigInt| -> BigInt {
            if k > 0 {
                (x + pow2(k as usize - 1)).div_floor(&pow2(k as usize))
            } else {
                x * pow2((-k) as usize)
            }
        };
        let (lo, hi) = (f(&self.lo), f(&self.hi));
        (1..)
            .find(|&n| lo >= -pow2(n - 1) && hi < pow2(n - 1))
            .expect("finite")
    }

    /// `self / d` rounded half up for a constant `d != 0`: `floor((2n + d) / (2d))` for
    /// `d > 0`, and `(-n) / (-d)` for `d < 0` (`div_round` of `zkopml_model::fixed`). The
    /// quotient is proved in `out_bits` signed bits.
    ///
    /// Witnessed as `2n + d = q·2d + r` with `0 <= r < 2d`: `r` and `2d - 1 - r` are
    /// decomposed to `b = bitlen(2d - 1)` bits (only `r` when `2d` is a power of two), `q` to
    /// `out_bits`. Costs `out_bits + b (+ b + 1) + 1` constraints.
    pub fn div_round_const(&self, d: i64, out_bits: usize) -> Result<Self, SynthesisError> {
        self.div_round_const_with_hint(d, out_bits, |t, two_d| t.div_mod_floor(two_d))
    }

    /// [`Self::div_round_const`] with the witness `(q, r)` for `2n + d = q·2d + r` supplied by
    /// `hint(2n + d, 2d)` (after normalising to `d > 0`). Public so that tests can play a
    /// cheating prover.
    pub fn div_round_const_with_hint(
        &self,
        d: i64,
        out_bits: usize,
        hint: impl FnOnce(&BigInt, &BigInt) -> (BigInt, BigInt),
    ) -> Result<Self, SynthesisError> {
        assert!(d != 0, "division by the constant zero");
        let (n, d) = if d < 0 {
            (Self::linear_combination(&[(-1, self)], 0), -(d as i128))
        } else {
            (self.clone(), d as i128)
        };
        let two_d = 2 * d;
        let b = (128 - (two_d - 1).leading_zeros()) as usize; // bits of 2d - 1
        let (lo, hi) = Self::n_bit_interval(out_bits);
        assert!(
            n.bits() + 2 <= MAX_BITS && out_bits + b < MAX_BITS,
            "div_round_const of a {}-bit value by {d} into {out_bits} bits",
            n.bits()
        );
        // t = 2n + d
        let t = Self::linear_combination(&[(2, &n)], d);
        if let FpVar::Constant(c) = &t.value {
            let q = field_to_int(*c).div_floor(&BigInt::from(two_d));
            if q < lo || q > hi {
                return Err(SynthesisError::Unsatisfiable);
            }
            return Ok(Self::with_interval(
                FpVar::Constant(int_to_field(&q)),
                q.clone(),
                q,
            ));
        }
        let cs = t.value.cs();
        let qr = if cs.is_in_setup_mode() {
            Err(SynthesisError::AssignmentMissing)
        } else {
            t.int_value().map(|t| hint(&t, &BigInt::from(two_d)))
        };
        let q_offset = qr
            .as_ref()
            .map(|(q, _)| q + pow2(out_bits - 1))
            .map_err(|e| *e);
        let r_val = qr.as_ref().map(|(_, r)| r.clone()).map_err(|e| *e);
        let q = Self::from_offset_bits(alloc_bits_mod(&cs, out_bits, &q_offset)?);
        let r_bits = alloc_bits_mod(&cs, b, &r_val)?;
        let r = weighted_bits(&r_bits, F::zero());
        if two_d != 1i128 << b {
            // 2d - 1 - r >= 0, i.e. r < 2d
            let slack = lincomb(&[(-F::one(), &r)], int_to_field(&BigInt::from(two_d - 1)));
            decompose(&slack, b)?;
        }
        // t - q·2d - r = 0
        lincomb(
            &[
                (F::one(), &t.value),
                (-int_to_field::<F>(&BigInt::from(two_d)), &q.value),
                (-F::one(), &r),
            ],
            F::zero(),
        )
        .enforce_equal(&FpVar::Constant(F::zero()))?;
        Ok(q)
    }

    /// Proves `self != 0`: a witnessed inverse `i` with `self · i = 1` (one constraint).
    pub fn enforce_nonzero(&self) -> Result<(), SynthesisError> {
        if let FpVar::Constant(c) = &self.value {
            return if c.is_zero() {
                Err(SynthesisError::Unsatisfiable)
            } else {
                Ok(())
            };
        }
        // A zero value gets the "inverse" 0, which fails the constraint.
        let inv = FpVar::new_witness(self.value.cs(), || {
            self.value.value().map(|v| v.inverse().unwrap_or(F::zero()))
        })?;
        self.value.mul_equals(&inv, &FpVar::Constant(F::one()))
    }

    /// `self / d` rounded half up for a variable `d` (the executor's `div_round`):
    /// `floor((2n + d) / 2d)` for `d > 0`, `(-n) / (-d)` for `d < 0`; `d = 0` is
    /// unsatisfiable (the executor refuses it). The quotient is proved in `out_bits` bits.
    ///
    /// With `s = [d >= 0]`, `|d| = s ? d : -d` and `n' = s ? n : -n`, it is witnessed as
    /// `2n' + |d| = 2·q·|d| + r` with `r` and `2|d| - 1 - r` decomposed to
    /// `B = d.bits()` bits (so `0 <= r < 2|d|`, which also rules out `d = 0`). Costs the sign
    /// of `d` (free if `d` has its bits) + 2 (selects) + 1 (q·|d|) + out_bits + 2B + 1 + 1.
    pub fn div_round(&self, d: &Self, out_bits: usize) -> Result<Self, SynthesisError> {
        self.div_round_with_hint(d, out_bits, |t, two_d| {
            if two_d.is_zero() {
                (BigInt::zero(), BigInt::zero()) // d = 0: nothing satisfies; any witness
            } else {
                t.div_mod_floor(two_d)
            }
        })
    }

    /// [`Self::div_round`] with the witness `(q, r)` of `2n' + |d| = q·2|d| + r` supplied by
    /// `hint(2n' + |d|, 2|d|)`. Public so that tests can play a cheating prover.
    pub fn div_round_with_hint(
        &self,
        d: &Self,
        out_bits: usize,
        hint: impl FnOnce(&BigInt, &BigInt) -> (BigInt, BigInt),
    ) -> Result<Self, SynthesisError> {
        let b = d.bits();
        assert!(
            self.bits() + 2 <= MAX_BITS && out_bits + b + 2 <= MAX_BITS,
            "div_round of a {}-bit value by a {b}-bit value into {out_bits} bits",
            self.bits()
        );
        let pos = d.is_nonneg()?;
        let neg_d = Self::linear_combination(&[(-1, d)], 0);
        let neg_n = Self::linear_combination(&[(-1, self)], 0);
        let abs_d = Self::select(&pos, d, &neg_d)?;
        // |d| >= 0 by the sign bit, and >= 1 by the check r <= 2|d| - 1 below (which is why
        // d = 0 is unsatisfiable without a separate check); |d| <= 2^(b-1).
        let abs_hi = (-&d.lo).max(d.hi.clone());
        let abs_d = Self::with_interval(abs_d.value, BigInt::one(), abs_hi);
        let n = Self::select(&pos, self, &neg_n)?;
        let t = Self::linear_combination(&[(2, &n), (1, &abs_d)], 0);
        let cs = t.value.cs().or(abs_d.value.cs());
        if cs.is_none() {
            // All constant.
            let (q, _) = field_to_int(t.value.value()?)
                .div_mod_floor(&(2 * field_to_int(abs_d.value.value()?)));
            let (lo, hi) = Self::n_bit_interval(out_bits);
            if q < lo || q > hi {
                return Err(SynthesisError::Unsatisfiable);
            }
            return Ok(Self::with_interval(
                FpVar::Constant(int_to_field(&q)),
                q.clone(),
                q,
            ));
        }
        let qr = if cs.is_in_setup_mode() {
            Err(SynthesisError::AssignmentMissing)
        } else {
            t.int_value()
                .and_then(|t| abs_d.int_value().map(|ad| hint(&t, &(2 * ad))))
        };
        let q_offset = qr
            .as_ref()
            .map(|(q, _)| q + pow2(out_bits - 1))
            .map_err(|e| *e);
        let r_val = qr.as_ref().map(|(_, r)| r.clone()).map_err(|e| *e);
        let q = Self::from_offset_bits(alloc_bits_mod(&cs, out_bits, &q_offset)?);
        let r_bits = alloc_bits_mod(&cs, b, &r_val)?;
        let r = weighted_bits(&r_bits, F::zero());
        // 2|d| - 1 - r >= 0
        let slack = lincomb(&[(F::from(2u64), &abs_d.value), (-F::one(), &r)], -F::one());
        decompose(&slack, b)?;
        // t - 2·q·|d| - r = 0
        let qd = &q.value * &abs_d.value;
        lincomb(
            &[(F::one(), &t.value), (-F::from(2u64), &qd), (-F::one(), &r)],
            F::zero(),
        )
        .enforce_equal(&FpVar::Constant(F::zero()))?;
        Ok(q)
    }

    /// `floor(sqrt(self))` (the executor's `isqrt`); a negative value is unsatisfiable.
    ///
    /// With `x` decomposed to `n = self.bits()` bits (so `0 <= x < 2^n`), `y` is witnessed in
    /// `m = ceil(n/2)` bits and `x - y²` in `n` bits, `(y+1)² - 1 - x` in `n + 1` bits:
    /// `y² <= x < (y+1)²`. Costs `(n + 1) + m + 1 + (n + 1) + (n + 2)`.
    pub fn isqrt(&self) -> Result<Self, SynthesisError> {
        self.isqrt_with_hint(|x| {
            if x.is_negative() {
                BigInt::zero()
            } else {
                x.sqrt()
            }
        })
    }

    /// [`Self::isqrt`] with the root witnessed by `hint(x)`. Public so that tests can play a
    /// cheating prover.
    pub fn isqrt_with_hint(
        &self,
        hint: impl FnOnce(&BigInt) -> BigInt,
    ) -> Result<Self, SynthesisError> {
        let n = self.bits();
        assert!(n + 2 <= MAX_BITS);
        let m = n.div_ceil(2);
        if let FpVar::Constant(c) = &self.value {
            let v = field_to_int(*c);
            if v.is_negative() {
                return Err(SynthesisError::Unsatisfiable);
            }
            let y = v.sqrt();
            return Ok(Self::with_interval(
                FpVar::Constant(int_to_field(&y)),
                y.clone(),
                y,
            ));
        }
        decompose(&self.value, n)?; // 0 <= x < 2^n
        let cs = self.value.cs();
        let y_val = if cs.is_in_setup_mode() {
            Err(SynthesisError::AssignmentMissing)
        } else {
            self.int_value().map(|x| hint(&x))
        };
        let y_bits = alloc_bits_mod(&cs, m, &y_val)?;
        let y = weighted_bits(&y_bits, F::zero());
        let y2 = y.square()?;
        // x - y^2 >= 0
        decompose(
            &lincomb(&[(F::one(), &self.value), (-F::one(), &y2)], F::zero()),
            n,
        )?;
        // (y+1)^2 - 1 - x = y^2 + 2y - x >= 0
        decompose(
            &lincomb(
                &[
                    (F::one(), &y2),
                    (F::from(2u64), &y),
                    (-F::one(), &self.value),
                ],
                F::zero(),
            ),
            n + 1,
        )?;
        Ok(Self::with_interval(y, BigInt::zero(), pow2(m) - 1))
    }

    /// `min(self, other) = self + other - max(self, other)` (as [`Self::max`]).
    pub fn min(&self, other: &Self) -> Result<Self, SynthesisError> {
        let max = self.max(other)?;
        let value = lincomb(
            &[
                (F::one(), &self.value),
                (F::one(), &other.value),
                (-F::one(), &max.value),
            ],
            F::zero(),
        );
        let lo = (&self.lo).min(&other.lo).clone();
        let hi = (&self.hi).min(&other.hi).clone();
        Ok(Self::with_interval(value, lo, hi))
    }

    /// `cond ? self : other` (one constraint unless `cond` is constant).
    pub fn select(cond: &Boolean<F>, a: &Self, b: &Self) -> Result<Self, SynthesisError> {
        let c = FpVar::from(cond.clone());
        let diff = lincomb(&[(F::one(), &a.value), (-F::one(), &b.value)], F::zero());
        let picked = c * diff;
        let value = lincomb(&[(F::one(), &b.value), (F::one(), &picked)], F::zero());
        let lo = (&a.lo).min(&b.lo).clone();
        let hi = (&a.hi).max(&b.hi).clone();
        Ok(Self::with_interval(value, lo, hi))
    }

    /// Enforces `self == other` (one constraint).
    pub fn enforce_equal(&self, other: &FpVar<F>) -> Result<(), SynthesisError> {
        self.value.enforce_equal(other)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::Fr;
    use ark_ff::Field;
    use ark_relations::gr1cs::{ConstraintSystem, Variable};
    use rand_chacha::ChaCha20Rng;
    use rand_core::{RngCore, SeedableRng};

    /// Overwrites one witness in a synthesized system, as a cheating prover could.
    /// (`cs.is_satisfied()` would still read the linear combinations' values cached at
    /// synthesis; check a tampered system with [`matrices_satisfied`].)
    pub(crate) fn set_witness(cs: &ConstraintSystemRef<Fr>, var: Variable, value: Fr) {
        assert!(var.is_witness(), "only witnesses can be tampered with");
        let mut inner = cs.borrow_mut().unwrap();
        inner.assignments.witness_assignment[var.index().unwrap()] = value;
    }

    /// `(A·z) ∘ (B·z) = C·z` for `z = (1, instance, witness)` and the system's matrices: what
    /// the Groth16 prover actually commits to.
    pub(crate) fn matrices_satisfied(cs: &ConstraintSystemRef<Fr>) -> bool {
        cs.finalize();
        let matrices = cs.to_matrices().unwrap();
        let abc = &matrices[ark_relations::gr1cs::R1CS_PREDICATE_LABEL];
        let inner = cs.borrow().unwrap();
        let z: Vec<Fr> = inner
            .assignments
            .instance_assignment
            .iter()
            .chain(&inner.assignments.witness_assignment)
            .copied()
            .collect();
        crate::groth16::first_unsatisfied(abc, &z).is_none()
    }

    fn bool_var(b: &Boolean<Fr>) -> Variable {
        match b {
            Boolean::Var(v) => v.variable(),
            Boolean::Constant(_) => panic!("constant bit"),
        }
    }

    fn fp_witness(cs: &ConstraintSystemRef<Fr>, v: i128) -> FpVar<Fr> {
        FpVar::new_witness(cs.clone(), || Ok(int_to_field::<Fr>(&BigInt::from(v)))).unwrap()
    }

    fn signed_witness(cs: &ConstraintSystemRef<Fr>, n: usize, v: i128) -> SignedVar<Fr> {
        SignedVar::new_witness(cs.clone(), n, || Ok(BigInt::from(v))).unwrap()
    }

    fn claim(cs: &ConstraintSystemRef<Fr>, v: i128) -> FpVar<Fr> {
        FpVar::new_input(cs.clone(), || Ok(int_to_field::<Fr>(&BigInt::from(v)))).unwrap()
    }

    /// floor((acc + 2^(s-1)) / 2^s) on machine integers.
    fn reference_rescale(acc: i128, s: u32) -> i128 {
        (acc + (1i128 << (s - 1))).div_euclid(1i128 << s)
    }

    #[test]
    fn field_int_round_trip() {
        for v in [
            0i128,
            1,
            -1,
            i64::MIN as i128,
            i64::MAX as i128,
            1 << 100,
            -(1 << 100),
        ] {
            let b = BigInt::from(v);
            assert_eq!(field_to_int(int_to_field::<Fr>(&b)), b);
        }
    }

    #[test]
    fn new_witness_costs_n_and_refuses_out_of_range() {
        for v in [i32::MIN as i128, -1, 0, 1, i32::MAX as i128] {
            let cs = ConstraintSystem::<Fr>::new_ref();
            let x = signed_witness(&cs, 32, v);
            assert_eq!(cs.num_constraints(), 32);
            assert_eq!(x.int_value().unwrap(), BigInt::from(v));
            x.enforce_equal(&claim(&cs, v)).unwrap();
            assert!(cs.is_satisfied().unwrap());
        }
        for v in [i32::MIN as i128 - 1, i32::MAX as i128 + 1] {
            let cs = ConstraintSystem::<Fr>::new_ref();
            let r = SignedVar::<Fr>::new_witness(cs.clone(), 32, || Ok(BigInt::from(v)));
            assert_eq!(r.unwrap_err(), SynthesisError::Unsatisfiable);
        }
        // A wrong claimed value, and a bit that is not a bit.
        let cs = ConstraintSystem::<Fr>::new_ref();
        let x = signed_witness(&cs, 8, -5);
        x.enforce_equal(&claim(&cs, -4)).unwrap();
        assert!(!cs.is_satisfied().unwrap());
        let cs = ConstraintSystem::<Fr>::new_ref();
        let x = signed_witness(&cs, 8, -5);
        let b0 = bool_var(&x.offset_bits().unwrap()[0]);
        assert!(matrices_satisfied(&cs));
        set_witness(&cs, b0, Fr::from(2u64));
        assert!(!matrices_satisfied(&cs));
    }

    #[test]
    fn enforce_range_accepts_exactly_the_range() {
        let cases: [(i128, bool); 8] = [
            (i32::MIN as i128, true),
            (i32::MAX as i128, true),
            (0, true),
            (-7, true),
            (i32::MAX as i128 + 1, false),
            (i32::MIN as i128 - 1, false),
            (1 << 40, false),
            (-(1 << 100), false),
        ];
        for (v, ok) in cases {
            let cs = ConstraintSystem::<Fr>::new_ref();
            let x = SignedVar::enforce_range(&fp_witness(&cs, v), 32).unwrap();
            assert_eq!(cs.num_constraints(), 33);
            assert_eq!(cs.is_satisfied().unwrap(), ok, "value {v}");
            assert!(x.fits(32));
        }
        // The field element r - 1 is "-1", in range; r/2 is neither small nor negative-small.
        let cs = ConstraintSystem::<Fr>::new_ref();
        let half =
            FpVar::new_witness(cs.clone(), || Ok(-Fr::from(2u64).inverse().unwrap())).unwrap();
        SignedVar::enforce_range(&half, 32).unwrap();
        assert!(!cs.is_satisfied().unwrap());
    }

    #[test]
    fn intervals_track_the_arithmetic() {
        let cs = ConstraintSystem::<Fr>::new_ref();
        let a = signed_witness(&cs, 32, 5);
        let b = signed_witness(&cs, 32, -9);
        assert_eq!(a.bits(), 32);
        let s = a.add(&b);
        assert_eq!(s.bits(), 33);
        assert_eq!(s.int_value().unwrap(), BigInt::from(-4));
        let before = cs.num_constraints();
        // An int32 sum must be range checked before it is digested; int32 relu need not be.
        assert!(s.range_check(32).unwrap().fits(32));
        assert_eq!(cs.num_constraints(), before + 33);
        let p = a.mul(&b).unwrap();
        assert_eq!(p.bits(), 64); // (-2^31)^2 = 2^62
        assert_eq!(p.int_value().unwrap(), BigInt::from(-45));
        let l = SignedVar::linear_combination(&[(3, &a), (-2, &b)], 7);
        assert_eq!(l.int_value().unwrap(), BigInt::from(3 * 5 + 18 + 7));
        assert_eq!(l.interval().0, &BigInt::from(-(5i128 << 31) + 2 + 7));
        assert!(a.relu().unwrap().fits(32));
        assert!(cs.is_satisfied().unwrap());
    }

    #[test]
    fn rescale_rounds_half_up_for_every_sign_and_tie() {
        let mut rng = ChaCha20Rng::seed_from_u64(11);
        let mut accs: Vec<i128> = vec![0, 1, -1, 127, 128, -128, -129, 383, -383, 384, -384];
        accs.extend((0..40).map(|_| (rng.next_u64() as i64 as i128) >> (rng.next_u32() % 40)));
        for s in [1u32, 2, 8, 16] {
            for &acc in &accs {
                let want = reference_rescale(acc, s);
                let (q, r) = rescale_hint(&BigInt::from(acc), s);
                assert_eq!(q, BigInt::from(want));
                assert!(r >= BigInt::zero() && r < pow2(s as usize));
                let cs = ConstraintSystem::<Fr>::new_ref();
                let a = signed_witness(&cs, 64, acc);
                let before = cs.num_constraints();
                let out = a.rescale(s, 64).unwrap();
                assert_eq!(cs.num_constraints() - before, 64 + s as usize + 1);
                assert_eq!(out.int_value().unwrap(), BigInt::from(want));
                out.enforce_equal(&claim(&cs, want)).unwrap();
                assert!(cs.is_satisfied().unwrap(), "acc {acc} s {s}");
            }
        }
        // Ties go up: 2.5 -> 3, -2.5 -> -2 (scale 2^1: 5/2, -5/2).
        assert_eq!(reference_rescale(5, 1), 3);
        assert_eq!(reference_rescale(-5, 1), -2);
    }

    #[test]
    fn rescale_rejects_cheating_witnesses() {
        let (acc, s) = (-1000i128, 4u32); // (-1000 + 8) / 16 = -62, r = 0
        let (q, r) = rescale_hint(&BigInt::from(acc), s);
        assert_eq!((q.clone(), r.clone()), (BigInt::from(-62), BigInt::from(0)));
        let two_s = pow2(s as usize);
        let cheats: Vec<(BigInt, BigInt)> = vec![
            (&q + 1, &r - &two_s), // balances the identity, r negative
            (&q - 1, &r + &two_s), // balances the identity, r >= 2^s
            (q.clone(), &r + 1),   // wrong remainder
            (&q + 1, r.clone()),   // wrong quotient
        ];
        for (cq, cr) in cheats {
            let cs = ConstraintSystem::<Fr>::new_ref();
            let a = signed_witness(&cs, 32, acc);
            a.rescale_with_hint(s, 32, |_| (cq.clone(), cr.clone()))
                .unwrap();
            assert!(!cs.is_satisfied().unwrap(), "cheat q={cq} r={cr} accepted");
        }
        // The honest hint through the same path satisfies.
        let cs = ConstraintSystem::<Fr>::new_ref();
        let a = signed_witness(&cs, 32, acc);
        a.rescale_with_hint(s, 32, |x| rescale_hint(x, s)).unwrap();
        assert!(cs.is_satisfied().unwrap());
        // A wrong claimed output.
        let cs = ConstraintSystem::<Fr>::new_ref();
        let out = signed_witness(&cs, 32, acc).rescale(s, 32).unwrap();
        out.enforce_equal(&claim(&cs, -61)).unwrap();
        assert!(!cs.is_satisfied().unwrap());
    }

    #[test]
    fn rescale_output_out_of_range_is_unsatisfiable() {
        // (2^40 + 2^7) >> 8 = 2^32 + 1 does not fit 32 bits; fits 34.
        let acc = (1i128 << 40) + 128;
        let cs = ConstraintSystem::<Fr>::new_ref();
        signed_witness(&cs, 48, acc).rescale(8, 32).unwrap();
        assert!(!cs.is_satisfied().unwrap());
        let cs = ConstraintSystem::<Fr>::new_ref();
        let out = signed_witness(&cs, 48, acc).rescale(8, 34).unwrap();
        assert_eq!(out.int_value().unwrap(), BigInt::from((1i128 << 32) + 1));
        assert!(cs.is_satisfied().unwrap());
    }

    #[test]
    fn rescale_of_constants_and_shift_zero() {
        let c = SignedVar::<Fr>::constant(-5).rescale(1, 8).unwrap();
        assert_eq!(
            c.value().value().unwrap(),
            int_to_field::<Fr>(&BigInt::from(-2))
        );
        assert_eq!(
            SignedVar::<Fr>::constant(1 << 20)
                .rescale(1, 8)
                .unwrap_err(),
            SynthesisError::Unsatisfiable
        );
        let cs = ConstraintSystem::<Fr>::new_ref();
        let a = signed_witness(&cs, 40, 1 << 35);
        a.rescale(0, 32).unwrap();
        assert!(!cs.is_satisfied().unwrap());
    }

    // The gadgets are checked against the executor's own functions (one definition).
    use zkopml_model::fixed::shift_round as reference_shift_round;

    /// `div_round` of zkopml_model::fixed, for `d != 0`.
    fn reference_div_round(n: i64, d: i64) -> i64 {
        zkopml_model::fixed::div_round(n, d).expect("d != 0")
    }

    #[test]
    fn shift_round_both_directions() {
        for x in [0i64, 1, -1, 5, -5, 6, -6, 7, -7, 1 << 20, -(1 << 20) - 3] {
            for k in [-3i32, -1, 0, 1, 2, 3, 8] {
                let cs = ConstraintSystem::<Fr>::new_ref();
                let y = signed_witness(&cs, 32, x as i128)
                    .shift_round(k, 32)
                    .unwrap();
                let want = reference_shift_round(x, k);
                assert_eq!(y.int_value().unwrap(), BigInt::from(want), "x {x} k {k}");
                y.enforce_equal(&claim(&cs, want as i128)).unwrap();
                assert!(cs.is_satisfied().unwrap());
            }
        }
        // 2^30 · 4 does not fit int32.
        let cs = ConstraintSystem::<Fr>::new_ref();
        signed_witness(&cs, 32, 1 << 30)
            .shift_round(-2, 32)
            .unwrap();
        assert!(!cs.is_satisfied().unwrap());
    }

    #[test]
    fn div_round_const_matches_the_executor_rule() {
        let ns = [
            0i64,
            1,
            -1,
            2,
            -2,
            3,
            -3,
            7,
            -7,
            100,
            -100,
            12345,
            -12345,
            i32::MAX as i64,
        ];
        for d in [1i64, 2, 3, 4, 7, 9, 49, 1024, -1, -3, -8] {
            for &n in &ns {
                let want = reference_div_round(n, d);
                let cs = ConstraintSystem::<Fr>::new_ref();
                let a = signed_witness(&cs, 32, n as i128);
                let before = cs.num_constraints();
                let q = a.div_round_const(d, 32).unwrap();
                let two_d = 2 * d.unsigned_abs() as u128;
                let b = (128 - (two_d - 1).leading_zeros()) as usize;
                let slack = if two_d.is_power_of_two() { 0 } else { b + 1 };
                assert_eq!(cs.num_constraints() - before, 32 + b + slack + 1, "d {d}");
                assert_eq!(q.int_value().unwrap(), BigInt::from(want), "n {n} d {d}");
                q.enforce_equal(&claim(&cs, want as i128)).unwrap();
                assert!(cs.is_satisfied().unwrap(), "n {n} d {d}");
            }
        }
        // Ties round up: 3/2 -> 2, -3/2 -> -1, 5/(-2) = -5/2 -> -2.
        assert_eq!(
            (
                reference_div_round(3, 2),
                reference_div_round(-3, 2),
                reference_div_round(5, -2)
            ),
            (2, -1, -2)
        );
    }

    #[test]
    fn div_round_const_rejects_cheating_witnesses() {
        // (2, 3) and (0, 5) have r + 2d < 2^b (b = bits of 2d - 1): the cheat (q - 1, r + 2d)
        // fits the remainder's bits and balances the identity, so only the explicit
        // r < 2d check (a decomposition of 2d - 1 - r) can refuse it.
        for (n, d) in [(2i128, 3i64), (0, 5), (4, 3), (-4, 3), (10, 7)] {
            let t = BigInt::from(2 * n + d as i128);
            let two_d = BigInt::from(2 * d);
            let (q, r) = t.div_mod_floor(&two_d);
            if (n, d) == (2, 3) || (n, d) == (0, 5) {
                let b = (2 * d - 1).ilog2() + 1;
                assert!(&r + &two_d < BigInt::one() << b);
            }
            let cheats = [
                (&q - 1, &r + &two_d),
                (&q + 1, &r - &two_d),
                (q.clone(), &r + 1),
                (&q + 1, r.clone()),
            ];
            for (cq, cr) in cheats {
                let cs = ConstraintSystem::<Fr>::new_ref();
                let a = signed_witness(&cs, 32, n);
                a.div_round_const_with_hint(d, 32, |_, _| (cq.clone(), cr.clone()))
                    .unwrap();
                assert!(
                    !cs.is_satisfied().unwrap(),
                    "n {n} d {d}: q={cq} r={cr} accepted"
                );
            }
        }
    }

    #[test]
    fn div_round_by_a_variable_matches_the_executor_rule() {
        let ns = [
            0i128,
            1,
            -1,
            3,
            -3,
            7,
            -7,
            100,
            -100,
            12345,
            -12345,
            i32::MAX as i128,
        ];
        let ds = [
            1i128,
            2,
            3,
            -1,
            -2,
            -3,
            7,
            -8,
            1000,
            -999,
            i32::MIN as i128,
            i32::MAX as i128,
        ];
        for &d in &ds {
            for &n in &ns {
                let want = reference_div_round(n as i64, d as i64);
                let cs = ConstraintSystem::<Fr>::new_ref();
                let (a, b) = (signed_witness(&cs, 32, n), signed_witness(&cs, 32, d));
                let before = cs.num_constraints();
                let q = a.div_round(&b, 32).unwrap();
                assert_eq!(cs.num_constraints() - before, 32 + 2 * 32 + 5);
                assert_eq!(q.int_value().unwrap(), BigInt::from(want), "n {n} d {d}");
                q.enforce_equal(&claim(&cs, want as i128)).unwrap();
                assert!(cs.is_satisfied().unwrap(), "n {n} d {d}");
            }
        }
    }

    #[test]
    fn div_round_by_zero_or_with_cheats_is_unsatisfied() {
        let cs = ConstraintSystem::<Fr>::new_ref();
        signed_witness(&cs, 32, 5)
            .div_round(&signed_witness(&cs, 32, 0), 32)
            .unwrap();
        assert!(!cs.is_satisfied().unwrap());
        for (n, d) in [(2i128, 3i128), (2, -3), (-7, 5), (0, 5), (100, -7)] {
            type Cheat = fn(&BigInt, &BigInt) -> (BigInt, BigInt);
            let cheats: [Cheat; 4] = [
                |t, m| {
                    let (q, r) = t.div_mod_floor(m);
                    (q - 1, r + m)
                },
                |t, m| {
                    let (q, r) = t.div_mod_floor(m);
                    (q + 1, r - m)
                },
                |t, m| {
                    let (q, r) = t.div_mod_floor(m);
                    (q, r + 1)
                },
                |t, m| {
                    let (q, r) = t.div_mod_floor(m);
                    (q + 1, r)
                },
            ];
            for cheat in cheats {
                let cs = ConstraintSystem::<Fr>::new_ref();
                let (a, b) = (signed_witness(&cs, 32, n), signed_witness(&cs, 32, d));
                a.div_round_with_hint(&b, 32, cheat).unwrap();
                assert!(!cs.is_satisfied().unwrap(), "n {n} d {d}");
            }
        }
    }

    #[test]
    fn nonzero() {
        for (v, ok) in [(5i128, true), (-1, true), (0, false)] {
            let cs = ConstraintSystem::<Fr>::new_ref();
            signed_witness(&cs, 32, v).enforce_nonzero().unwrap();
            assert_eq!(cs.is_satisfied().unwrap(), ok);
        }
        assert!(SignedVar::<Fr>::constant(0).enforce_nonzero().is_err());
    }

    #[test]
    fn isqrt_brackets_the_root() {
        for x in [
            0i128,
            1,
            2,
            3,
            4,
            8,
            9,
            10,
            99,
            100,
            101,
            (1 << 31) - 1,
            46340 * 46340,
        ] {
            let cs = ConstraintSystem::<Fr>::new_ref();
            let a = signed_witness(&cs, 32, x);
            let before = cs.num_constraints();
            let y = a.isqrt().unwrap();
            assert_eq!(cs.num_constraints() - before, 3 * 32 + 16 + 5);
            let want = (x as f64).sqrt().floor() as i128;
            assert_eq!(y.int_value().unwrap(), BigInt::from(want), "x {x}");
            y.enforce_equal(&claim(&cs, want)).unwrap();
            assert!(cs.is_satisfied().unwrap(), "x {x}");
            // Off by one either way.
            for wrong in [want - 1, want + 1] {
                let cs = ConstraintSystem::<Fr>::new_ref();
                signed_witness(&cs, 32, x)
                    .isqrt()
                    .unwrap()
                    .enforce_equal(&claim(&cs, wrong))
                    .unwrap();
                assert!(!cs.is_satisfied().unwrap());
            }
        }
        let cs = ConstraintSystem::<Fr>::new_ref();
        signed_witness(&cs, 32, -4).isqrt().unwrap();
        assert!(
            !cs.is_satisfied().unwrap(),
            "square root of a negative value"
        );
        // A prover who witnesses y ± 1 as the root: one side of the bracket fails.
        for x in [50i128, 49, 48, 0, 1] {
            let root = (x as f64).sqrt().floor() as i128;
            for cheat in [root - 1, root + 1] {
                let cs = ConstraintSystem::<Fr>::new_ref();
                let y = signed_witness(&cs, 32, x)
                    .isqrt_with_hint(|_| BigInt::from(cheat))
                    .unwrap();
                y.enforce_equal(&claim(&cs, cheat)).unwrap();
                assert!(!cs.is_satisfied().unwrap(), "x {x} root {cheat} accepted");
            }
        }
    }

    #[test]
    fn min_and_select() {
        for (x, y) in [
            (3i128, -4i128),
            (-3, 4),
            (5, 5),
            (i32::MIN as i128, i32::MAX as i128),
        ] {
            let cs = ConstraintSystem::<Fr>::new_ref();
            let (a, b) = (signed_witness(&cs, 32, x), signed_witness(&cs, 32, y));
            let m = a.min(&b).unwrap();
            assert_eq!(m.int_value().unwrap(), BigInt::from(x.min(y)));
            assert!(m.fits(32));
            let ge = a.is_ge(&b).unwrap();
            let s = SignedVar::select(&ge, &b, &a).unwrap(); // the smaller one again
            s.enforce_equal(m.value()).unwrap();
            m.enforce_equal(&claim(&cs, x.min(y))).unwrap();
            assert!(cs.is_satisfied().unwrap());
            let cs = ConstraintSystem::<Fr>::new_ref();
            let (a, b) = (signed_witness(&cs, 32, x), signed_witness(&cs, 32, y));
            a.min(&b)
                .unwrap()
                .enforce_equal(&claim(&cs, x.max(y)))
                .unwrap();
            assert_eq!(cs.is_satisfied().unwrap(), x == y);
        }
    }

    #[test]
    fn compare_max_relu() {
        let mut rng = ChaCha20Rng::seed_from_u64(12);
        let mut pairs: Vec<(i128, i128)> = vec![
            (0, 0),
            (i32::MIN as i128, i32::MAX as i128),
            (i32::MAX as i128, i32::MIN as i128),
            (-1, 0),
            (0, -1),
            (5, 5),
        ];
        pairs.extend(
            (0..20).map(|_| (rng.next_u32() as i32 as i128, rng.next_u32() as i32 as i128)),
        );
        for (x, y) in pairs {
            let cs = ConstraintSystem::<Fr>::new_ref();
            let a = signed_witness(&cs, 32, x);
            let b = signed_witness(&cs, 32, y);
            let before = cs.num_constraints();
            let ge = a.is_ge(&b).unwrap();
            assert_eq!(cs.num_constraints() - before, 34);
            assert_eq!(ge.value().unwrap(), x >= y);
            let m = a.max(&b).unwrap();
            assert_eq!(m.int_value().unwrap(), BigInt::from(x.max(y)));
            assert!(m.fits(32));
            let r = a.relu().unwrap();
            assert_eq!(r.int_value().unwrap(), BigInt::from(x.max(0)));
            m.enforce_equal(&claim(&cs, x.max(y))).unwrap();
            r.enforce_equal(&claim(&cs, x.max(0))).unwrap();
            assert!(cs.is_satisfied().unwrap());
            // Flipping the comparison bit breaks its decomposition.
            let flipped = if ge.value().unwrap() {
                Fr::from(0u64)
            } else {
                Fr::from(1u64)
            };
            assert!(matrices_satisfied(&cs));
            set_witness(&cs, bool_var(&ge), flipped);
            assert!(!matrices_satisfied(&cs));
        }
    }

    #[test]
    fn wrong_max_or_relu_output_is_unsatisfied() {
        for (x, y) in [(3i128, -4i128), (-3, 4), (-7, -2)] {
            let cs = ConstraintSystem::<Fr>::new_ref();
            let m = signed_witness(&cs, 32, x)
                .max(&signed_witness(&cs, 32, y))
                .unwrap();
            m.enforce_equal(&claim(&cs, x.min(y))).unwrap();
            assert!(!cs.is_satisfied().unwrap());
            let cs = ConstraintSystem::<Fr>::new_ref();
            let r = signed_witness(&cs, 32, x).relu().unwrap();
            r.enforce_equal(&claim(&cs, x)).unwrap(); // relu(x) = x only for x >= 0
            assert_eq!(cs.is_satisfied().unwrap(), x >= 0);
        }
        // A relu whose sign bit is flipped by the prover: the value's decomposition breaks.
        let cs = ConstraintSystem::<Fr>::new_ref();
        let a = signed_witness(&cs, 32, -9);
        let sign = a.is_nonneg().unwrap();
        a.relu().unwrap();
        assert!(matrices_satisfied(&cs));
        set_witness(&cs, bool_var(&sign), Fr::from(1u64));
        assert!(!matrices_satisfied(&cs));
    }

    #[test]
    fn relu_max_shortcuts_on_decided_intervals() {
        let cs = ConstraintSystem::<Fr>::new_ref();
        let a = signed_witness(&cs, 32, 9);
        let nonneg = a.relu().unwrap(); // [-2^31, 2^31) is undecided: one constraint
        let n = cs.num_constraints();
        let again = nonneg.relu().unwrap(); // [0, 2^31): decided, free
        assert_eq!(cs.num_constraints(), n);
        assert_eq!(again.int_value().unwrap(), BigInt::from(9));
        assert_eq!(n, 33);
    }
}
