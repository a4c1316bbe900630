//! Circuit gadgets over BN254's scalar field.
//!
//! - [`poseidon`]: circomlib's Poseidon.
//! - [`signed`]: integers whose range the constraints prove (range checks, rounding rescale,
//!   comparison, max, relu).
//! - [`digest`]: the chunk digest of `docs/commitments.md`.
//! - [`lookup`]: zero tests, one-hot selection by a variable index, piecewise polynomials.

pub mod digest;
pub mod lookup;
pub mod poseidon;
pub mod signed;

use ark_ff::PrimeField;
use ark_r1cs_std::fields::fp::{AllocatedFp, FpVar};
use ark_relations::gr1cs::{ConstraintSystemRef, LinearCombination, Variable};

/// `Σ c_i · x_i + constant` as a single symbolic linear combination (no constraint).
///
/// `r1cs-std`'s `+` makes one symbolic combination per addition, nested; once inlined, every
/// intermediate one holds its own copy of the terms. Building each combination in one piece
/// keeps long chains of linear maps (Poseidon's rounds, packing) small in memory.
pub fn lincomb<F: PrimeField>(terms: &[(F, &FpVar<F>)], constant: F) -> FpVar<F> {
    let mut constant = constant;
    let mut lc: Vec<(F, Variable)> = Vec::with_capacity(terms.len() + 1);
    let mut cs = ConstraintSystemRef::None;
    let mut value = Some(constant);
    for (c, x) in terms {
        match x {
            FpVar::Constant(k) => {
                constant += *c * k;
                value = value.map(|v| v + *c * k);
            }
            FpVar::Var(a) => {
                cs = cs.or(a.cs.clone());
                lc.push((*c, a.variable));
                value = match (value, a.value()) {
                    (Some(v), Ok(x)) => Some(v + *c * x),
                    _ => None,
                };
            }
        }
    }
    if lc.is_empty() {
        return FpVar::Constant(constant);
    }
    if !constant.is_zero() {
        lc.push((constant, Variable::One));
    }
    let variable = cs
        .new_lc(|| {
            let mut lc = LinearCombination(lc);
            lc.compactify();
            lc
        })
        .expect("a variable's constraint system is present");
    FpVar::Var(AllocatedFp::new(value, variable, cs))
}
