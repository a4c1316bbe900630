//! Relu over one chunk: the proof that `digest_out` is the digest of `relu(x)` for the chunk
//! `x` whose digest is `digest_in`.
//!
//! Public inputs, in order: `[digest_in, digest_out]` (the order of `docs/commitments.md`:
//! input chunk digests, then the output chunk's). Witness: the input values. The output is
//! computed in the circuit, so a prover can only make a proof for the true output.
//!
//! Constraints for a chunk of `L` values: `32·L` (input bits) + `L` (relu) +
//! `2 · digest_constraints(L)` (two digests, see [`digest_constraints`](crate::gadgets::digest::digest_constraints)) + 2 (equalities with
//! the public inputs). For `L = 1024`: 57,536.
//! The relu outputs need no range check of their own: `relu(v) ∈ {0, v}` with `v` proved to be
//! in `[-2^31, 2^31)`.

use crate::{
    gadgets::digest::{alloc_chunk, chunk_digest_var},
    native::chunk_digest,
    Fr,
};
use ark_r1cs_std::{alloc::AllocVar, eq::EqGadget, fields::fp::FpVar};
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError};

/// `max(v, 0)` on the integers the trace holds.
pub fn relu_values(values: &[i32]) -> Vec<i32> {
    values.iter().map(|v| (*v).max(0)).collect()
}

/// The relu circuit for a chunk of fixed length.
#[derive(Clone, Debug)]
pub struct ReluChunkCircuit {
    len: usize,
    input: Option<Vec<i32>>,
    claim: Option<[Fr; 2]>,
}

impl ReluChunkCircuit {
    /// The circuit's shape, without a witness (for setup and the circuit identity).
    pub fn shape(len: usize) -> Self {
        Self {
            len,
            input: None,
            claim: None,
        }
    }

    /// The honest statement for `input`: the digests are computed from it.
    pub fn new(input: Vec<i32>) -> Self {
        let claim = Some(Self::public_inputs(&input));
        Self {
            len: input.len(),
            input: Some(input),
            claim,
        }
    }

    /// A statement about posted digests (say, a defender's chunk): provable only if
    /// `digest_in` is the digest of `input` and `digest_out` that of `relu(input)`.
    pub fn with_claim(input: Vec<i32>, digest_in: Fr, digest_out: Fr) -> Self {
        Self {
            len: input.len(),
            input: Some(input),
            claim: Some([digest_in, digest_out]),
        }
    }

    /// `[digest(x), digest(relu(x))]`, natively.
    pub fn public_inputs(input: &[i32]) -> [Fr; 2] {
        [chunk_digest(input), chunk_digest(&relu_values(input))]
    }

    /// Values per chunk.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the chunk is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl ConstraintSynthesizer<Fr> for ReluChunkCircuit {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        let claim = self.claim.ok_or(SynthesisError::AssignmentMissing);
        let digest_in = FpVar::new_input(cs.clone(), || claim.map(|c| c[0]))?;
        let digest_out = FpVar::new_input(cs.clone(), || claim.map(|c| c[1]))?;
        let x = alloc_chunk(&cs, self.len, self.input.as_deref())?;
        let y = x.iter().map(|v| v.relu()).collect::<Result<Vec<_>, _>>()?;
        chunk_digest_var(&x)?.enforce_equal(&digest_in)?;
        chunk_digest_var(&y)?.enforce_equal(&digest_out)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_relations::gr1cs::ConstraintSystem;

    fn sample(len: usize) -> Vec<i32> {
        (0..len as i64)
            .map(|k| match k % 6 {
                0 => i32::MIN,
                1 => i32::MAX,
                2 => 0,
                3 => -((k * 7919) as i32),
                _ => (k * 104_729 % 1_000_003) as i32,
            })
            .collect()
    }

    /// The constraint count the module documentation states.
    fn expected_constraints(len: usize) -> usize {
        32 * len + len + 2 * crate::gadgets::digest::digest_constraints(len) + 2
    }

    #[test]
    fn honest_statement_is_satisfied_with_the_documented_cost() {
        for len in [1, 7, 28, 29, 100] {
            let cs = ConstraintSystem::<Fr>::new_ref();
            ReluChunkCircuit::new(sample(len))
                .generate_constraints(cs.clone())
                .unwrap();
            assert!(cs.is_satisfied().unwrap(), "len {len}");
            assert_eq!(cs.num_constraints(), expected_constraints(len), "len {len}");
            assert_eq!(cs.num_instance_variables(), 3);
        }
    }

    #[test]
    fn wrong_claims_are_unsatisfied() {
        let x = sample(30);
        let [din, dout] = ReluChunkCircuit::public_inputs(&x);
        let mut other = x.clone();
        other[17] = other[17].wrapping_add(1);
        let [other_in, other_out] = ReluChunkCircuit::public_inputs(&other);
        // The output digest of identity instead of relu (x has negatives, so they differ).
        let identity_out = chunk_digest(&x);
        let cases = [
            (din, other_out, "another chunk's output digest"),
            (other_in, dout, "another chunk's input digest"),
            (din, identity_out, "a digest of the unrectified values"),
            (dout, din, "swapped public inputs"),
        ];
        for (a, b, what) in cases {
            let cs = ConstraintSystem::<Fr>::new_ref();
            ReluChunkCircuit::with_claim(x.clone(), a, b)
                .generate_constraints(cs.clone())
                .unwrap();
            assert!(!cs.is_satisfied().unwrap(), "{what} accepted");
        }
    }
}
