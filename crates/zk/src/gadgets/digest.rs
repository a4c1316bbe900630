//! The chunk digest of `docs/commitments.md` as a gadget.
//!
//! For values `v_0 .. v_{L-1}`, each proved to lie in `[-2^31, 2^31)`:
//!
//! ```text
//! u_k = v_k + 2^31                        in [0, 2^32): this is what the range check buys
//! e_j = Σ_{k<7} u_{7j+k} · 2^(32k)        (free: < 2^224, so no wrap-around)
//! h_0 = L,  h_{b+1} = Poseidon5(h_b, e_{4b}, …, e_{4b+3})   (missing e_j are 0)
//! digest = h_B
//! ```
//!
//! Without the range check a prover could put a "value" `v` with `u = v + 2^31 >= 2^32` and
//! carry into the neighbouring value's slot, making two different chunks share a digest.
//! The cost is 32 constraints per value for a fresh witness (its bits), plus 321 per Poseidon5
//! call, one call per 28 values.

use super::{
    lincomb,
    poseidon::poseidon5_var,
    signed::{int_to_field, SignedVar},
};
use crate::{
    native::{ELEMENTS_PER_CALL, OFFSET, VALUES_PER_ELEMENT},
    Fr,
};
use ark_ff::{One, Zero};
use ark_r1cs_std::fields::fp::FpVar;
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};
use num_bigint::BigInt;

/// Allocates a chunk of `len` values as 32-bit signed witnesses (32 constraints each).
/// `values` is `None` in setup mode; otherwise it must have `len` entries.
pub fn alloc_chunk(
    cs: &ConstraintSystemRef<Fr>,
    len: usize,
    values: Option<&[i32]>,
) -> Result<Vec<SignedVar<Fr>>, SynthesisError> {
    if let Some(v) = values {
        assert_eq!(v.len(), len, "chunk of {len} values given {} values", v.len());
    }
    (0..len)
        .map(|k| {
            SignedVar::new_witness(cs.clone(), 32, || {
                values
                    .map(|v| BigInt::from(v[k]))
                    .ok_or(SynthesisError::AssignmentMissing)
            })
        })
        .collect()
}

/// The chunk digest of `values`. A value whose proved interval is not within
/// `[-2^31, 2^31)` is range checked here first (33 constraints); values allocated by
/// [`alloc_chunk`], rescaled to 32 bits, or obtained from such by relu/max need none.
pub fn chunk_digest_var(values: &[SignedVar<Fr>]) -> Result<FpVar<Fr>, SynthesisError> {
    let checked = values
        .iter()
        .map(|v| v.range_check(32))
        .collect::<Result<Vec<_>, _>>()?;
    let offset = Fr::from(OFFSET as u64);
    let packed: Vec<FpVar<Fr>> = checked
        .chunks(VALUES_PER_ELEMENT)
        .map(|group| {
            // e = Σ 2^(32k)·(v_k + 2^31) = Σ 2^(32k)·v_k + 2^31·Σ 2^(32k)
            let weights: Vec<Fr> = (0..group.len())
                .map(|k| int_to_field(&(BigInt::one() << (32 * k))))
                .collect();
            let constant = weights.iter().map(|w| *w * offset).sum::<Fr>();
            let terms: Vec<(Fr, &FpVar<Fr>)> =
                weights.iter().copied().zip(group.iter().map(|v| v.value())).collect();
            lincomb(&terms, constant)
        })
        .collect();
    let mut h = FpVar::Constant(Fr::from(values.len() as u64));
    for block in packed.chunks(ELEMENTS_PER_CALL) {
        let mut inputs: [FpVar<Fr>; 5] = std::array::from_fn(|_| FpVar::Constant(Fr::zero()));
        inputs[0] = h;
        for (slot, e) in inputs[1..].iter_mut().zip(block) {
            *slot = e.clone();
        }
        h = poseidon5_var(&inputs)?;
    }
    Ok(h)
}
