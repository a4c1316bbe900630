//! MatMul of two trace tensors over one output chunk: `y = shift_round(Σ_t a_t·b_t, shift)`
//! (docs/fixed-point.md). Every product is witness × witness, one constraint each; the sum is
//! free. An output costs `K + 32 + shift + 1` constraints (K the inner dimension; 33 for
//! `shift <= 0`). The executor sums in i128 and refuses an accumulator beyond 64 bits: a
//! 32-bit quotient already bounds it below 2^(31 + shift), so the accumulator is range checked
//! to 64 bits only when `shift > 32`.

use super::{chunk::ChunkOp, pointwise::refused};
use crate::{gadgets::signed::SignedVar, Fr, ZkError};
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};
use zkopml_model::fixed::shift_round;

/// MatMul over one output chunk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatMul {
    /// Lengths of the input chunks read, in circuit-table order.
    pub x_lens: Vec<usize>,
    /// The output shift.
    pub shift: i32,
    /// For each output: the pairs `(a, b)` of input positions whose products it sums.
    pub terms: Vec<Vec<(usize, usize)>>,
}

impl ChunkOp for MatMul {
    fn input_lens(&self) -> Vec<usize> {
        self.x_lens.clone()
    }

    fn output_len(&self) -> usize {
        self.terms.len()
    }

    fn evaluate(&self, inputs: &[Vec<i32>]) -> Result<Vec<i32>, ZkError> {
        let x: Vec<i32> = inputs.concat();
        self.terms
            .iter()
            .enumerate()
            .map(|(index, t)| {
                let acc: i128 = t.iter().map(|&(a, b)| x[a] as i128 * x[b] as i128).sum();
                let acc = i64::try_from(acc).map_err(|_| refused())?;
                let y = shift_round(acc, self.shift);
                i32::try_from(y).map_err(|_| ZkError::ValueOutOfRange { index, value: y })
            })
            .collect()
    }

    fn synthesize(
        &self,
        _cs: &ConstraintSystemRef<Fr>,
        inputs: &[Vec<SignedVar<Fr>>],
    ) -> Result<Vec<SignedVar<Fr>>, SynthesisError> {
        let x: Vec<&SignedVar<Fr>> = inputs.iter().flatten().collect();
        assert!(self.shift.abs() <= 62);
        self.terms
            .iter()
            .map(|t| {
                let prods = t
                    .iter()
                    .map(|&(a, b)| x[a].mul(x[b]))
                    .collect::<Result<Vec<_>, _>>()?;
                let terms: Vec<(i128, &SignedVar<Fr>)> = prods.iter().map(|p| (1, p)).collect();
                let mut acc = SignedVar::linear_combination(&terms, 0);
                if self.shift > 32 {
                    acc = acc.range_check(64)?;
                }
                acc.shift_round(self.shift, 32)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{circuits::chunk::ChunkCircuit, native::chunk_digest};
    use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem};

    fn satisfied(c: ChunkCircuit<MatMul>) -> (bool, usize) {
        let cs = ConstraintSystem::<Fr>::new_ref();
        c.generate_constraints(cs.clone()).unwrap();
        (cs.is_satisfied().unwrap(), cs.num_constraints())
    }

    /// `[2,3]·[3,2]`: a in one chunk of 6, b in one chunk of 6, row-major.
    fn op(shift: i32) -> MatMul {
        MatMul {
            x_lens: vec![6, 6],
            shift,
            terms: (0..2)
                .flat_map(|i| {
                    (0..2).map(move |j| (0..3).map(|t| (i * 3 + t, 6 + t * 2 + j)).collect())
                })
                .collect(),
        }
    }

    #[test]
    fn known_answer_and_cheats() {
        let a = vec![1, 2, 3, -4, 5, -6];
        let b = vec![7, 8, 9, 10, 11, 12];
        // [1 2 3; -4 5 -6]·[7 8; 9 10; 11 12] = [58 64; -49 -54], then /2 half up
        let inputs = vec![a, b];
        let op = op(1);
        let y = op.evaluate(&inputs).unwrap();
        assert_eq!(y, [29, 32, -24, -27]);
        let (ok, n) = satisfied(ChunkCircuit::new(op.clone(), inputs.clone()).unwrap());
        assert!(ok);
        eprintln!("MatMul [2,3]·[3,2], shift 1: {n} constraints");
        for p in 0..4 {
            let mut bad = y.clone();
            bad[p] -= 1;
            let claim = vec![
                chunk_digest(&inputs[0]),
                chunk_digest(&inputs[1]),
                chunk_digest(&bad),
            ];
            assert!(!satisfied(ChunkCircuit::with_claim(op.clone(), inputs.clone(), claim)).0);
        }
        let claim = vec![
            chunk_digest(&inputs[0]),
            chunk_digest(&[7, 8, 9, 10, 11, 13]),
            chunk_digest(&y),
        ];
        assert!(!satisfied(ChunkCircuit::with_claim(op, inputs, claim)).0);
    }

    #[test]
    fn an_overflow_is_unprovable() {
        let op = op(0);
        let inputs = vec![vec![1 << 16, 0, 0, 0, 0, 0], vec![1 << 15, 0, 0, 0, 0, 0]];
        assert!(op.evaluate(&inputs).is_err());
        let claim = vec![
            chunk_digest(&inputs[0]),
            chunk_digest(&inputs[1]),
            chunk_digest(&[i32::MIN, 0, 0, 0]),
        ];
        assert!(!satisfied(ChunkCircuit::with_claim(op, inputs, claim)).0);
    }
}
