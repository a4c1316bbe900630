//! Relu over one chunk: the proof that `digest_out` is the digest of `relu(x)` for the chunk
//! `x` whose digest is `digest_in`.
//!
//! A [`ChunkOp`] with one input chunk and an output chunk of the same length; public inputs
//! `[digest_in, digest_out]`. The output `relu(v) = [v >= 0]·v` uses the sign bit of the
//! input's own range check and needs no range check of its own (`relu(v)` is 0 or `v`).
//!
//! Constraints for a chunk of `L` values: `32·L` (input bits) + `L` (relu) +
//! `2 · digest_constraints(L)` (two digests, see
//! [`digest_constraints`](crate::gadgets::digest::digest_constraints)) + 2 (equalities with
//! the public inputs). For `L = 1024`: 57,536.

use super::chunk::{ChunkCircuit, ChunkOp};
use crate::{gadgets::signed::SignedVar, Fr, ZkError};
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};

/// `max(v, 0)` on the integers the trace holds.
pub fn relu_values(values: &[i32]) -> Vec<i32> {
    values.iter().map(|v| (*v).max(0)).collect()
}

/// Relu over a chunk of `len` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Relu {
    /// Values per chunk (input and output).
    pub len: usize,
}

impl ChunkOp for Relu {
    fn input_lens(&self) -> Vec<usize> {
        vec![self.len]
    }

    fn output_len(&self) -> usize {
        self.len
    }

    fn evaluate(&self, inputs: &[Vec<i32>]) -> Result<Vec<i32>, ZkError> {
        Ok(relu_values(&inputs[0]))
    }

    fn synthesize(
        &self,
        _cs: &ConstraintSystemRef<Fr>,
        inputs: &[Vec<SignedVar<Fr>>],
    ) -> Result<Vec<SignedVar<Fr>>, SynthesisError> {
        inputs[0].iter().map(SignedVar::relu).collect()
    }
}

/// The relu chunk circuit.
pub type ReluChunkCircuit = ChunkCircuit<Relu>;

impl ChunkCircuit<Relu> {
    /// The relu circuit for `len` values, without a witness.
    pub fn relu_shape(len: usize) -> Self {
        Self::shape(Relu { len })
    }

    /// The honest relu statement for `input`.
    pub fn relu(input: Vec<i32>) -> Self {
        Self::new(Relu { len: input.len() }, vec![input]).expect("relu accepts any int32 chunk")
    }

    /// The relu statement `[digest_in, digest_out]` about `input`.
    pub fn relu_with_claim(input: Vec<i32>, digest_in: Fr, digest_out: Fr) -> Self {
        Self::with_claim(
            Relu { len: input.len() },
            vec![input],
            vec![digest_in, digest_out],
        )
    }

    /// `[digest(x), digest(relu(x))]`, natively.
    pub fn relu_public_inputs(input: &[i32]) -> Vec<Fr> {
        Self::public_inputs(&Relu { len: input.len() }, &[input.to_vec()])
            .expect("relu accepts any int32 chunk")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native::chunk_digest;
    use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem};

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
            ReluChunkCircuit::relu(sample(len))
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
        let [din, dout] = ReluChunkCircuit::relu_public_inputs(&x)[..] else {
            panic!()
        };
        let mut other = x.clone();
        other[17] = other[17].wrapping_add(1);
        let [other_in, other_out] = ReluChunkCircuit::relu_public_inputs(&other)[..] else {
            panic!()
        };
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
            ReluChunkCircuit::relu_with_claim(x.clone(), a, b)
                .generate_constraints(cs.clone())
                .unwrap();
            assert!(!cs.is_satisfied().unwrap(), "{what} accepted");
        }
    }
}
