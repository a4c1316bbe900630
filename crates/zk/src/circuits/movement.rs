//! Data movement over one output chunk: Reshape, Flatten, Transpose, Slice, Pad, Concat and
//! Gather with constant indices. Every output value is an input value (optionally brought to
//! another scale by `shift_round`, as Concat does) or a constant (padding). No arithmetic is
//! proved beyond the optional rescale: the output is the very same variable as the input
//! value, so the whole cost is the input range checks and the digests.

use super::chunk::ChunkOp;
use crate::{gadgets::signed::SignedVar, Fr, ZkError};
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};
use zkopml_model::fixed::shift_round;

/// Where one output value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// `shift_round(x[pos], shift)`, `pos` in the concatenation of the input chunks read.
    Input {
        /// Position in the concatenated input chunks.
        pos: usize,
        /// `shift_round` amount (0: the value itself).
        shift: i32,
    },
    /// A constant of the operator (a padding value).
    Const(i64),
}

/// Data movement over one output chunk.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Movement {
    /// Lengths of the input chunks read, in circuit-table order.
    pub x_lens: Vec<usize>,
    /// For each output position, its source.
    pub sources: Vec<Source>,
}

impl ChunkOp for Movement {
    fn input_lens(&self) -> Vec<usize> {
        self.x_lens.clone()
    }

    fn output_len(&self) -> usize {
        self.sources.len()
    }

    fn evaluate(&self, inputs: &[Vec<i32>]) -> Result<Vec<i32>, ZkError> {
        let x: Vec<i32> = inputs.concat();
        self.sources
            .iter()
            .enumerate()
            .map(|(index, s)| {
                let v = match *s {
                    Source::Input { pos, shift } => shift_round(x[pos] as i64, shift),
                    Source::Const(v) => v,
                };
                i32::try_from(v).map_err(|_| ZkError::ValueOutOfRange { index, value: v })
            })
            .collect()
    }

    fn synthesize(
        &self,
        _cs: &ConstraintSystemRef<Fr>,
        inputs: &[Vec<SignedVar<Fr>>],
    ) -> Result<Vec<SignedVar<Fr>>, SynthesisError> {
        let x: Vec<&SignedVar<Fr>> = inputs.iter().flatten().collect();
        self.sources
            .iter()
            .map(|s| match *s {
                Source::Input { pos, shift: 0 } => Ok(x[pos].clone()),
                Source::Input { pos, shift } => x[pos].shift_round(shift, 32),
                Source::Const(v) => Ok(SignedVar::constant(v as i128)),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::circuits::chunk::ChunkCircuit;
    use crate::native::chunk_digest;
    use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem};

    fn satisfied(c: ChunkCircuit<Movement>) -> bool {
        let cs = ConstraintSystem::<Fr>::new_ref();
        c.generate_constraints(cs.clone()).unwrap();
        cs.is_satisfied().unwrap()
    }

    fn example() -> Movement {
        // Two input chunks; the output reverses them, pads with 7 and halves one value.
        let op = Movement {
            x_lens: vec![3, 2],
            sources: vec![
                Source::Input { pos: 4, shift: 0 },
                Source::Input { pos: 3, shift: 0 },
                Source::Const(7),
                Source::Input { pos: 2, shift: 1 },
                Source::Input { pos: 0, shift: -2 },
            ],
        };
        op
    }

    #[test]
    fn moves_values_and_rejects_others() {
        let op = example();
        let inputs = vec![vec![-5, 9, 13], vec![i32::MIN, i32::MAX]];
        let y = op.evaluate(&inputs).unwrap();
        assert_eq!(y, vec![i32::MAX, i32::MIN, 7, 7, -20]);
        assert!(satisfied(
            ChunkCircuit::new(op.clone(), inputs.clone()).unwrap()
        ));
        for k in 0..y.len() {
            let mut bad = y.clone();
            bad[k] = bad[k].wrapping_add(1);
            let claim = vec![
                chunk_digest(&inputs[0]),
                chunk_digest(&inputs[1]),
                chunk_digest(&bad),
            ];
            assert!(
                !satisfied(ChunkCircuit::with_claim(op.clone(), inputs.clone(), claim)),
                "output {k}"
            );
        }
        // An input digest of other data.
        let claim = vec![
            chunk_digest(&[-5, 9, 14]),
            chunk_digest(&inputs[1]),
            chunk_digest(&y),
        ];
        assert!(!satisfied(ChunkCircuit::with_claim(op, inputs, claim)));
    }

    #[test]
    fn a_left_shift_out_of_int32_is_unprovable() {
        let op = Movement {
            x_lens: vec![1],
            sources: vec![Source::Input { pos: 0, shift: -1 }],
        };
        let inputs = vec![vec![i32::MAX]];
        assert!(matches!(
            op.evaluate(&inputs),
            Err(ZkError::ValueOutOfRange { .. })
        ));
        let wrapped = vec![-2];
        let claim = vec![chunk_digest(&inputs[0]), chunk_digest(&wrapped)];
        assert!(!satisfied(ChunkCircuit::with_claim(op, inputs, claim)));
    }
}
