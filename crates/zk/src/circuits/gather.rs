//! Gather and GatherElements with an index that is a trace value, over one output chunk.
//!
//! Each output reads one index `i` (an input position) and one *lane*: the `n` candidates
//! along the gathered axis, each a constant of the operator (Gather from a constant table,
//! as XGBoost does) or a position in the input chunks read (the whole axis lane of the data).
//! ONNX counts a negative index from the end, and an index outside `[-n, n)` is an error of
//! the executor, so:
//!
//! ```text
//! i' = i + n·[i < 0]                     free (the sign bit of i's range check)
//! e  = one_hot(i', n)                    n + 2 (1 for n = 1); i' outside [0, n) unsatisfiable
//! y  = Σ_k e_k · lane[k]                 free for constants, one product per variable
//! ```
//!
//! The one-hot vector of an index is shared by every output that reads it (Gather's inner
//! positions, or several lanes of a table).

use std::collections::{hash_map::Entry, HashMap};

use super::{
    chunk::ChunkOp,
    pointwise::{refused, Arg},
};
use crate::{
    gadgets::{
        lookup::{not_bit, one_hot, select_one_hot},
        signed::SignedVar,
    },
    Fr, ZkError,
};
use ark_r1cs_std::boolean::Boolean;
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};

/// A dynamic-index gather over one output chunk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DynGather {
    /// Lengths of the input chunks read, in circuit-table order.
    pub x_lens: Vec<usize>,
    /// The distinct lanes the outputs select from (each non-empty).
    pub lanes: Vec<Vec<Arg>>,
    /// For each output position: the input position of its index, and its lane.
    pub outputs: Vec<(usize, usize)>,
}

impl DynGather {
    fn check(&self) {
        let n: usize = self.x_lens.iter().sum();
        assert!(self.lanes.iter().all(|l| !l.is_empty()
            && l.iter().all(|a| match a {
                Arg::Input(p) => *p < n,
                Arg::Const(_) => true,
            })));
        assert!(self
            .outputs
            .iter()
            .all(|&(i, l)| i < n && l < self.lanes.len()));
    }
}

impl ChunkOp for DynGather {
    fn input_lens(&self) -> Vec<usize> {
        self.x_lens.clone()
    }

    fn output_len(&self) -> usize {
        self.outputs.len()
    }

    fn evaluate(&self, inputs: &[Vec<i32>]) -> Result<Vec<i32>, ZkError> {
        self.check();
        let x: Vec<i32> = inputs.concat();
        self.outputs
            .iter()
            .enumerate()
            .map(|(index, &(i, l))| {
                let lane = &self.lanes[l];
                let n = lane.len() as i64;
                let ix = x[i] as i64;
                let ix = if ix < 0 { ix + n } else { ix };
                if !(0..n).contains(&ix) {
                    return Err(refused());
                }
                let v = match lane[ix as usize] {
                    Arg::Input(p) => x[p] as i64,
                    Arg::Const(c) => c,
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
        self.check();
        let x: Vec<&SignedVar<Fr>> = inputs.iter().flatten().collect();
        let mut hot: HashMap<(usize, usize), Vec<Boolean<Fr>>> = HashMap::new();
        let mut out = Vec::with_capacity(self.outputs.len());
        for &(i, l) in &self.outputs {
            let lane = &self.lanes[l];
            let n = lane.len();
            if let Entry::Vacant(slot) = hot.entry((i, n)) {
                let neg = not_bit(&x[i].is_nonneg()?);
                let idx = SignedVar::linear_combination(&[(1, x[i]), (n as i128, &neg)], 0);
                slot.insert(one_hot(&idx, n)?);
            }
            let cands: Vec<SignedVar<Fr>> = lane
                .iter()
                .map(|a| match a {
                    Arg::Input(p) => x[*p].clone(),
                    Arg::Const(c) => SignedVar::constant(*c as i128),
                })
                .collect();
            out.push(select_one_hot(&hot[&(i, n)], &cands)?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{circuits::chunk::ChunkCircuit, native::chunk_digest};
    use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem};

    fn satisfied<O: ChunkOp>(c: ChunkCircuit<O>) -> bool {
        let cs = ConstraintSystem::<Fr>::new_ref();
        c.generate_constraints(cs.clone()).unwrap();
        cs.is_satisfied().unwrap()
    }

    fn claim_of(inputs: &[Vec<i32>], y: &[i32]) -> Vec<Fr> {
        inputs
            .iter()
            .map(|x| chunk_digest(x))
            .chain([chunk_digest(y)])
            .collect()
    }

    fn constraints<O: ChunkOp>(c: ChunkCircuit<O>) -> usize {
        let cs = ConstraintSystem::<Fr>::new_ref();
        c.generate_constraints(cs.clone()).unwrap();
        assert!(cs.is_satisfied().unwrap());
        cs.num_constraints()
    }

    /// A constant table of 2 rows × 5 columns gathered along axis 1 by 3 indices
    /// (`y[r, j] = table[r, idx[j]]`).
    fn table_op() -> DynGather {
        let table = [[10i64, 11, 12, 13, 14], [-20, -21, -22, -23, 1 << 40]];
        DynGather {
            x_lens: vec![3],
            lanes: table
                .iter()
                .map(|row| row.iter().map(|&v| Arg::Const(v)).collect())
                .collect(),
            outputs: (0..2).flat_map(|r| (0..3).map(move |j| (j, r))).collect(),
        }
    }

    #[test]
    fn constant_table_known_answers_and_negative_indices() {
        let op = table_op();
        let inputs = vec![vec![0, 3, -5]];
        let y = op.evaluate(&inputs).unwrap();
        assert_eq!(y, [10, 13, 10, -20, -23, -20]);
        let n = constraints(ChunkCircuit::new(op.clone(), inputs.clone()).unwrap());
        eprintln!("Gather from a 2×5 table by 3 indices: {n} constraints");
        for p in 0..y.len() {
            let mut bad = y.clone();
            bad[p] += 1;
            assert!(!satisfied(ChunkCircuit::with_claim(
                op.clone(),
                inputs.clone(),
                claim_of(&inputs, &bad)
            )));
        }
        // -1 counts from the end.
        let y = op.evaluate(&[vec![-1, 1, 2]]).unwrap_err();
        assert!(
            matches!(y, ZkError::ValueOutOfRange { .. }),
            "2^40 is no int32"
        );
        let y = op.evaluate(&[vec![4, 1, 2]]);
        assert!(y.is_err());
        // And the circuit cannot store 2^40 under any claim.
        let inputs = vec![vec![4, 1, 2]];
        let claim = claim_of(&inputs, &[14, 11, 12, 0, -21, -22]);
        assert!(!satisfied(ChunkCircuit::with_claim(op, inputs, claim)));
    }

    #[test]
    fn an_index_out_of_range_is_unprovable() {
        let op = table_op();
        for bad in [5, -6, i32::MAX, i32::MIN] {
            let inputs = vec![vec![0, bad, 1]];
            assert!(op.evaluate(&inputs).is_err());
            // Whatever the claimed value at the bad index.
            for v in [10, 11, 12, 13, 14, 0] {
                let claim = claim_of(&inputs, &[10, v, 11, -20, -21, -21]);
                assert!(!satisfied(ChunkCircuit::with_claim(
                    op.clone(),
                    inputs.clone(),
                    claim
                )));
            }
        }
    }

    #[test]
    fn slot_data_and_slot_indices() {
        // GatherElements along a lane of 4 data values held in two chunks: y[j] = d[idx[j]].
        let op = DynGather {
            x_lens: vec![2, 2, 3],
            lanes: vec![(0..4).map(Arg::Input).collect()],
            outputs: (4..7).map(|i| (i, 0)).collect(),
        };
        let inputs = vec![vec![7, -8], vec![i32::MIN, i32::MAX], vec![3, -4, 1]];
        let y = op.evaluate(&inputs).unwrap();
        assert_eq!(y, [i32::MAX, 7, -8]);
        let n = constraints(ChunkCircuit::new(op.clone(), inputs.clone()).unwrap());
        eprintln!("GatherElements of 3 over a lane of 4: {n} constraints");
        for p in 0..3 {
            let mut bad = y.clone();
            bad[p] = bad[p].wrapping_add(1);
            assert!(!satisfied(ChunkCircuit::with_claim(
                op.clone(),
                inputs.clone(),
                claim_of(&inputs, &bad)
            )));
        }
        // The value at another index is not the answer either.
        let claim = claim_of(&inputs, &[i32::MIN, 7, -8]);
        assert!(!satisfied(ChunkCircuit::with_claim(
            op.clone(),
            inputs.clone(),
            claim
        )));
        // Other data in a data chunk.
        let mut claim = claim_of(&inputs, &y);
        claim[1] = chunk_digest(&[i32::MIN, i32::MAX - 1]);
        assert!(!satisfied(ChunkCircuit::with_claim(op, inputs, claim)));
    }
}
