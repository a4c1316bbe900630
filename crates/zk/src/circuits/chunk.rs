//! The shape every operator circuit shares: an operator restricted to one output chunk.
//!
//! Public inputs, in order: the digests of the input chunks the output chunk reads (in the
//! circuit table's order, `docs/commitments.md`), then, for an operator with committed weights
//! (docs/zk.md "Weights as witnesses"), the digest of its weight block, then the digest of the
//! output chunk. Witness: the input chunks' values (and the block's elements). The output is
//! computed in the circuit by the operator, so a proof exists only for the true output.
//!
//! ```text
//! x_k   = alloc_chunk(len_k)              32 constraints per value (range check)
//! y     = op(x_1, …, x_r)                 the operator's gadgets
//! digest(x_k) == d_k,  digest(y) == d_out
//! ```

use crate::{
    gadgets::{
        digest::{alloc_chunk, chunk_digest_var, weight_block_digest_var},
        signed::SignedVar,
    },
    native::{chunk_digest, weight_block_digest},
    Fr, ZkError,
};
use ark_r1cs_std::{alloc::AllocVar, eq::EqGadget, fields::fp::FpVar};
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError};

/// An operator restricted to one output chunk: its shape, its native semantics (the
/// executor's) and its constraints.
pub trait ChunkOp: Clone {
    /// Lengths of the input chunks, in public-input order.
    fn input_lens(&self) -> Vec<usize>;

    /// Length of the output chunk.
    fn output_len(&self) -> usize;

    /// The output chunk, natively; an error where the executor would refuse (overflow).
    fn evaluate(&self, inputs: &[Vec<i32>]) -> Result<Vec<i32>, ZkError>;

    /// The output chunk in the circuit, from the input chunks' values (each already proved to
    /// be int32). Outputs need not be range checked here: the digest checks any output whose
    /// proved interval is not within int32.
    fn synthesize(
        &self,
        cs: &ConstraintSystemRef<Fr>,
        inputs: &[Vec<SignedVar<Fr>>],
    ) -> Result<Vec<SignedVar<Fr>>, SynthesisError>;

    /// Elements of the weight block the operator reads besides its input chunks (0: it has
    /// none, its weights are constants of the circuit). The block's digest
    /// ([`crate::native::weight_block_digest`]) is a public input.
    fn block_len(&self) -> usize {
        0
    }

    /// The weight block's elements (`block_len` of them).
    fn block(&self) -> Vec<Fr> {
        Vec::new()
    }

    /// [`Self::synthesize`] for an operator with a weight block, given its elements.
    fn synthesize_with_block(
        &self,
        cs: &ConstraintSystemRef<Fr>,
        inputs: &[Vec<SignedVar<Fr>>],
        block: &[FpVar<Fr>],
    ) -> Result<Vec<SignedVar<Fr>>, SynthesisError> {
        debug_assert!(block.is_empty());
        self.synthesize(cs, inputs)
    }
}

/// The circuit of a [`ChunkOp`]: `[d_1, …, d_r, d_out]` public.
#[derive(Clone, Debug)]
pub struct ChunkCircuit<O: ChunkOp> {
    op: O,
    inputs: Option<Vec<Vec<i32>>>,
    claim: Option<Vec<Fr>>,
}

impl<O: ChunkOp> ChunkCircuit<O> {
    /// The circuit without a witness (setup, circuit identity).
    pub fn shape(op: O) -> Self {
        Self {
            op,
            inputs: None,
            claim: None,
        }
    }

    /// The honest statement for these input chunks: the public inputs are their digests and
    /// the digest of the operator's output.
    pub fn new(op: O, inputs: Vec<Vec<i32>>) -> Result<Self, ZkError> {
        let claim = Some(Self::public_inputs(&op, &inputs)?);
        Ok(Self {
            op,
            inputs: Some(inputs),
            claim,
        })
    }

    /// A statement about posted digests (for example a defender's output chunk): provable
    /// only if they are the digests of `inputs` and of the operator's output.
    pub fn with_claim(op: O, inputs: Vec<Vec<i32>>, claim: Vec<Fr>) -> Self {
        Self {
            op,
            inputs: Some(inputs),
            claim: Some(claim),
        }
    }

    /// `[digest(x_1), …, digest(x_r), (digest(block),) digest(op(x))]`, natively.
    pub fn public_inputs(op: &O, inputs: &[Vec<i32>]) -> Result<Vec<Fr>, ZkError> {
        check_lens(op, inputs)?;
        let output = op.evaluate(inputs)?;
        let block = (op.block_len() > 0).then(|| weight_block_digest(&op.block()));
        Ok(inputs
            .iter()
            .map(|x| chunk_digest(x))
            .chain(block)
            .chain([chunk_digest(&output)])
            .collect())
    }

    /// The operator.
    pub fn op(&self) -> &O {
        &self.op
    }
}

fn check_lens<O: ChunkOp>(op: &O, inputs: &[Vec<i32>]) -> Result<(), ZkError> {
    let want = op.input_lens();
    let got: Vec<usize> = inputs.iter().map(Vec::len).collect();
    if want != got {
        return Err(ZkError::Shape(format!(
            "input chunks of lengths {got:?}, expected {want:?}"
        )));
    }
    Ok(())
}

impl<O: ChunkOp> ConstraintSynthesizer<Fr> for ChunkCircuit<O> {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        let lens = self.op.input_lens();
        if let Some(inputs) = &self.inputs {
            check_lens(&self.op, inputs).map_err(|_| SynthesisError::Unsatisfiable)?;
        }
        let block_len = self.op.block_len();
        let publics = (0..=lens.len() + usize::from(block_len > 0))
            .map(|k| {
                FpVar::new_input(cs.clone(), || {
                    self.claim
                        .as_ref()
                        .and_then(|c| c.get(k).copied())
                        .ok_or(SynthesisError::AssignmentMissing)
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let xs = lens
            .iter()
            .enumerate()
            .map(|(k, &len)| alloc_chunk(&cs, len, self.inputs.as_ref().map(|i| i[k].as_slice())))
            .collect::<Result<Vec<_>, _>>()?;
        // the block's values come with a witness only (setup knows the shape alone)
        let block_values = self.inputs.as_ref().map(|_| self.op.block());
        let block = (0..block_len)
            .map(|i| {
                FpVar::new_witness(cs.clone(), || {
                    block_values
                        .as_ref()
                        .and_then(|b| b.get(i).copied())
                        .ok_or(SynthesisError::AssignmentMissing)
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let y = self.op.synthesize_with_block(&cs, &xs, &block)?;
        assert_eq!(
            y.len(),
            self.op.output_len(),
            "the operator's output chunk length"
        );
        for (x, d) in xs.iter().zip(&publics) {
            chunk_digest_var(x)?.enforce_equal(d)?;
        }
        if block_len > 0 {
            weight_block_digest_var(&block)?.enforce_equal(&publics[lens.len()])?;
        }
        chunk_digest_var(&y)?.enforce_equal(publics.last().expect("an output digest"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::groth16::{prove, seeded_rng, setup, verify};
    use ark_relations::gr1cs::ConstraintSystem;

    /// A two-input test operator: `y = a + b`, refusing int32 overflow like the executor.
    #[derive(Clone, Debug)]
    struct TestAdd {
        len: usize,
    }

    impl ChunkOp for TestAdd {
        fn input_lens(&self) -> Vec<usize> {
            vec![self.len, self.len]
        }
        fn output_len(&self) -> usize {
            self.len
        }
        fn evaluate(&self, inputs: &[Vec<i32>]) -> Result<Vec<i32>, ZkError> {
            inputs[0]
                .iter()
                .zip(&inputs[1])
                .enumerate()
                .map(|(index, (a, b))| {
                    a.checked_add(*b).ok_or(ZkError::ValueOutOfRange {
                        index,
                        value: *a as i64 + *b as i64,
                    })
                })
                .collect()
        }
        fn synthesize(
            &self,
            _cs: &ConstraintSystemRef<Fr>,
            inputs: &[Vec<SignedVar<Fr>>],
        ) -> Result<Vec<SignedVar<Fr>>, SynthesisError> {
            // 33-bit sums: the digest range checks them back to int32.
            Ok(inputs[0]
                .iter()
                .zip(&inputs[1])
                .map(|(a, b)| a.add(b))
                .collect())
        }
    }

    fn satisfied(c: ChunkCircuit<TestAdd>) -> bool {
        let cs = ConstraintSystem::<Fr>::new_ref();
        c.generate_constraints(cs.clone()).unwrap();
        cs.is_satisfied().unwrap()
    }

    #[test]
    fn two_input_chunks_in_public_input_order() {
        let op = TestAdd { len: 10 };
        let a: Vec<i32> = (0..10).map(|k| k * 1000 - 4000).collect();
        let b: Vec<i32> = (0..10).map(|k| 77 - k * k).collect();
        let c = ChunkCircuit::new(op.clone(), vec![a.clone(), b.clone()]).unwrap();
        let publics = ChunkCircuit::public_inputs(&op, &[a.clone(), b.clone()]).unwrap();
        assert_eq!(publics.len(), 3);
        assert!(satisfied(c));
        // The same digests in another order.
        let swapped = vec![publics[1], publics[0], publics[2]];
        assert!(!satisfied(ChunkCircuit::with_claim(
            op.clone(),
            vec![a.clone(), b.clone()],
            swapped
        )));
        // Through Groth16, with 3 public inputs.
        let keys = setup(ChunkCircuit::shape(op.clone()), &mut seeded_rng(1)).unwrap();
        assert_eq!(keys.info.num_public_inputs(), 3);
        let p = prove(
            &keys,
            ChunkCircuit::new(op, vec![a, b]).unwrap(),
            &mut seeded_rng(2),
        )
        .unwrap();
        assert_eq!(p.public_inputs, publics);
        assert!(verify(keys.vk(), &p.public_inputs, &p.proof).unwrap());
    }

    #[test]
    fn an_overflowing_output_cannot_be_digested() {
        let op = TestAdd { len: 2 };
        let inputs = vec![vec![i32::MAX, 1], vec![1, 1]];
        assert!(matches!(
            ChunkCircuit::new(op.clone(), inputs.clone()),
            Err(ZkError::ValueOutOfRange { index: 0, .. })
        ));
        // Claim the wrapped int32 result: the output's range check fails in the circuit.
        let wrapped = vec![i32::MIN, 2];
        let claim = vec![
            chunk_digest(&inputs[0]),
            chunk_digest(&inputs[1]),
            chunk_digest(&wrapped),
        ];
        assert!(!satisfied(ChunkCircuit::with_claim(op, inputs, claim)));
    }

    #[test]
    fn chunk_lengths_must_fit_the_circuit() {
        let op = TestAdd { len: 3 };
        let r = ChunkCircuit::new(op.clone(), vec![vec![1, 2, 3], vec![1, 2]]);
        assert!(matches!(r, Err(ZkError::Shape(_))));
        let r = ChunkCircuit::new(op, vec![vec![1, 2, 3]]);
        assert!(matches!(r, Err(ZkError::Shape(_))));
    }
}
