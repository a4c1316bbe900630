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
//! The cost is 32 constraints per value for a fresh witness (its bits), plus the Poseidon5
//! calls, one per 28 values: see [`digest_constraints`].

use super::{
    lincomb,
    poseidon::{poseidon5_var, poseidon_var_sparse},
    signed::{int_to_field, SignedVar},
};
use crate::{
    native::{BLOCK_ELEMENTS_PER_CALL, ELEMENTS_PER_CALL, OFFSET, VALUES_PER_ELEMENT},
    Fr,
};
use ark_ff::{One, Zero};
use ark_r1cs_std::fields::fp::FpVar;
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};
use num_bigint::BigInt;

/// Constraints of [`chunk_digest_var`] for `len` values that need no range check: 321 per
/// Poseidon5 call, less 3 for each S-box of the first round that acts on a constant (the
/// initial `h_0 = L`, and the zero elements padding the last call).
/// `B = ceil(m/4)` calls for `m = ceil(len/7)` elements: `321·B − 3 − 3·(4B − m)`.
pub fn digest_constraints(len: usize) -> usize {
    let m = len.div_ceil(VALUES_PER_ELEMENT);
    let b = m.div_ceil(ELEMENTS_PER_CALL);
    if b == 0 {
        return 0;
    }
    321 * b - 3 - 3 * (ELEMENTS_PER_CALL * b - m)
}

/// Allocates a chunk of `len` values as 32-bit signed witnesses (32 constraints each).
/// `values` is `None` in setup mode; otherwise it must have `len` entries.
pub fn alloc_chunk(
    cs: &ConstraintSystemRef<Fr>,
    len: usize,
    values: Option<&[i32]>,
) -> Result<Vec<SignedVar<Fr>>, SynthesisError> {
    if let Some(v) = values {
        assert_eq!(
            v.len(),
            len,
            "chunk of {len} values given {} values",
            v.len()
        );
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
            let terms: Vec<(Fr, &FpVar<Fr>)> = weights
                .iter()
                .copied()
                .zip(group.iter().map(|v| v.value()))
                .collect();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gadgets::signed::tests::{matrices_satisfied, set_witness};
    use crate::native::chunk_digest;
    use ark_r1cs_std::{alloc::AllocVar, eq::EqGadget, GR1CSVar};
    use ark_relations::gr1cs::ConstraintSystem;
    use rand_chacha::ChaCha20Rng;
    use rand_core::{RngCore, SeedableRng};

    fn values(rng: &mut ChaCha20Rng, len: usize) -> Vec<i32> {
        (0..len)
            .map(|k| match k % 9 {
                0 => i32::MIN,
                1 => i32::MAX,
                2 => -1,
                3 => 0,
                _ => rng.next_u32() as i32,
            })
            .collect()
    }

    /// Allocates `values`, digests them, and constrains the digest to equal the public input
    /// `claimed`.
    fn digest_circuit(values: &[i32], claimed: Fr) -> ConstraintSystemRef<Fr> {
        let cs = ConstraintSystem::<Fr>::new_ref();
        let public = FpVar::new_input(cs.clone(), || Ok(claimed)).unwrap();
        let xs = alloc_chunk(&cs, values.len(), Some(values)).unwrap();
        let d = chunk_digest_var(&xs).unwrap();
        assert_eq!(d.value().unwrap(), chunk_digest(values));
        d.enforce_equal(&public).unwrap();
        cs
    }

    #[test]
    fn matches_native_digest_with_the_documented_cost() {
        let mut rng = ChaCha20Rng::seed_from_u64(21);
        for len in [1, 2, 6, 7, 8, 27, 28, 29, 56, 57, 100, 256] {
            let v = values(&mut rng, len);
            let cs = digest_circuit(&v, chunk_digest(&v));
            assert!(cs.is_satisfied().unwrap(), "len {len}");
            assert_eq!(
                cs.num_constraints(),
                32 * len + digest_constraints(len) + 1,
                "len {len}"
            );
        }
    }

    #[test]
    fn other_data_digest_is_unsatisfied() {
        let mut rng = ChaCha20Rng::seed_from_u64(22);
        let v = values(&mut rng, 40);
        let mut w = v.clone();
        w[39] ^= 1;
        let shorter = &v[..39];
        let mut extended = v.clone();
        extended.push(i32::MIN); // contributes u = 0: only the length differs
        for other in [
            chunk_digest(&w),
            chunk_digest(shorter),
            chunk_digest(&extended),
        ] {
            assert_ne!(other, chunk_digest(&v));
            assert!(!digest_circuit(&v, other).is_satisfied().unwrap());
        }
    }

    #[test]
    fn a_tampered_value_bit_is_caught() {
        let v = vec![3, -4, 5];
        let cs = digest_circuit(&v, chunk_digest(&v));
        assert!(matrices_satisfied(&cs));
        // Witness 0 is the lowest offset bit of v_0 = 3 (u = 2^31 + 3, bit 0 set).
        set_witness(
            &cs,
            ark_relations::gr1cs::Variable::witness(0),
            Fr::from(0u64),
        );
        assert!(!matrices_satisfied(&cs));
    }

    #[test]
    fn the_range_check_is_what_stops_carries_between_slots() {
        // "Values" (2^32 + 5, -1) pack like (5, 0): u_0 = 2^32 + 2^31 + 5 carries one into the
        // next slot, where u_1 = 2^31 - 1 becomes 2^31. Without a range check they would
        // produce the digest of the chunk [5, 0].
        let target = chunk_digest(&[5, 0]);
        let fake: [i128; 2] = [(1 << 32) + 5, -1];
        let pack = |checked: bool| {
            let cs = ConstraintSystem::<Fr>::new_ref();
            let public = FpVar::new_input(cs.clone(), || Ok(target)).unwrap();
            let xs: Vec<SignedVar<Fr>> = fake
                .iter()
                .map(|v| {
                    let x = FpVar::new_witness(cs.clone(), || {
                        Ok(int_to_field::<Fr>(&BigInt::from(*v)))
                    })
                    .unwrap();
                    if checked {
                        SignedVar::enforce_range(&x, 32).unwrap()
                    } else {
                        let (lo, hi) = (BigInt::from(i32::MIN), BigInt::from(i32::MAX));
                        SignedVar::assume_in_range(x, lo, hi) // a deliberately unsound claim
                    }
                })
                .collect();
            chunk_digest_var(&xs)
                .unwrap()
                .enforce_equal(&public)
                .unwrap();
            cs.is_satisfied().unwrap()
        };
        assert!(
            pack(false),
            "the attack works when nothing checks the range"
        );
        assert!(!pack(true), "the range check stops it");
    }
}

/// The weight block digest ([`crate::native::weight_block_digest`]) in the circuit, with the
/// sparse form of Poseidon (the dense one is several times slower to synthesise at width 13).
pub fn weight_block_digest_var(elements: &[FpVar<Fr>]) -> Result<FpVar<Fr>, SynthesisError> {
    let mut h = FpVar::Constant(Fr::from(elements.len() as u64));
    for block in elements.chunks(BLOCK_ELEMENTS_PER_CALL) {
        let mut inputs = vec![FpVar::Constant(Fr::zero()); BLOCK_ELEMENTS_PER_CALL + 1];
        inputs[0] = h;
        inputs[1..1 + block.len()].clone_from_slice(block);
        h = poseidon_var_sparse(&inputs)?;
    }
    Ok(h)
}
