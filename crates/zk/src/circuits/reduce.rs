//! Reductions over windows of one output chunk: MaxPool, AveragePool, GlobalAveragePool,
//! ReduceSum, ReduceMean, ReduceMax and ReduceMin. Output `p` reduces the input values at
//! `windows[p]` (positions in the concatenation of the input chunks read):
//!
//! ```text
//! Sum:   y = Σ x                                   free (a linear combination)
//! Mean:  y = div_round(Σ x, divisor[p])            one division by a constant
//! Max:   y = max(x_1, …, x_w)                      (w − 1) comparisons of 33 bits
//! Min:   y = min(x_1, …, x_w)
//! ```
//!
//! `div_round` is the executor's (docs/fixed-point.md): `floor((2n + d) / 2d)`. A sum whose
//! result leaves int32 is unprovable (the digest range checks it), as the executor refuses it.

use super::chunk::ChunkOp;
use crate::{gadgets::signed::SignedVar, Fr, ZkError};
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};

/// What a window reduces to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReduceKind {
    /// The sum.
    Sum,
    /// The sum divided by the output's divisor, rounded as `div_round`.
    Mean,
    /// The largest value.
    Max,
    /// The smallest value.
    Min,
}

/// A reduction over one output chunk.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reduce {
    /// Which reduction.
    pub kind: ReduceKind,
    /// Lengths of the input chunks read, in circuit-table order.
    pub x_lens: Vec<usize>,
    /// For each output position, the input positions it reduces (non-empty).
    pub windows: Vec<Vec<usize>>,
    /// For [`ReduceKind::Mean`], the divisor of each output (positive); empty otherwise.
    pub divisors: Vec<i64>,
}

/// `div_round(n, d)` of docs/fixed-point.md for `d > 0`.
fn div_round(n: i128, d: i128) -> i128 {
    (2 * n + d).div_euclid(2 * d)
}

impl Reduce {
    fn check(&self) {
        let n: usize = self.x_lens.iter().sum();
        assert!(
            self.windows
                .iter()
                .all(|w| !w.is_empty() && w.iter().all(|&i| i < n)),
            "windows are non-empty and inside the input chunks"
        );
        if self.kind == ReduceKind::Mean {
            assert!(
                self.divisors.len() == self.windows.len() && self.divisors.iter().all(|&d| d > 0)
            );
        }
    }
}

impl ChunkOp for Reduce {
    fn input_lens(&self) -> Vec<usize> {
        self.x_lens.clone()
    }

    fn output_len(&self) -> usize {
        self.windows.len()
    }

    fn evaluate(&self, inputs: &[Vec<i32>]) -> Result<Vec<i32>, ZkError> {
        self.check();
        let x: Vec<i32> = inputs.concat();
        self.windows
            .iter()
            .enumerate()
            .map(|(p, w)| {
                let vals = w.iter().map(|&i| x[i] as i128);
                let v = match self.kind {
                    ReduceKind::Sum => vals.sum(),
                    ReduceKind::Mean => div_round(vals.sum(), self.divisors[p] as i128),
                    ReduceKind::Max => vals.max().expect("non-empty window"),
                    ReduceKind::Min => vals.min().expect("non-empty window"),
                };
                i32::try_from(v).map_err(|_| ZkError::ValueOutOfRange {
                    index: p,
                    value: v.clamp(i64::MIN as i128, i64::MAX as i128) as i64,
                })
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
        self.windows
            .iter()
            .enumerate()
            .map(|(p, w)| match self.kind {
                ReduceKind::Sum | ReduceKind::Mean => {
                    let terms: Vec<(i128, &SignedVar<Fr>)> = w.iter().map(|&i| (1, x[i])).collect();
                    let sum = SignedVar::linear_combination(&terms, 0);
                    if self.kind == ReduceKind::Sum {
                        Ok(sum)
                    } else {
                        sum.div_round_const(self.divisors[p], 32)
                    }
                }
                ReduceKind::Max | ReduceKind::Min => {
                    let mut acc = x[w[0]].clone();
                    for &i in &w[1..] {
                        acc = if self.kind == ReduceKind::Max {
                            acc.max(x[i])?
                        } else {
                            acc.min(x[i])?
                        };
                    }
                    Ok(acc)
                }
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

    fn satisfied(c: ChunkCircuit<Reduce>) -> bool {
        let cs = ConstraintSystem::<Fr>::new_ref();
        c.generate_constraints(cs.clone()).unwrap();
        cs.is_satisfied().unwrap()
    }

    fn op(kind: ReduceKind) -> Reduce {
        Reduce {
            kind,
            x_lens: vec![4, 3],
            windows: vec![vec![0, 1, 2, 3], vec![4, 5, 6], vec![1, 5], vec![3]],
            divisors: if kind == ReduceKind::Mean {
                vec![4, 4, 3, 1]
            } else {
                vec![]
            },
        }
    }

    #[test]
    fn known_answers_and_every_wrong_output_fails() {
        let inputs = vec![vec![-7, 3, 10, -1], vec![i32::MIN / 2, 5, 6]];
        let cases = [
            (ReduceKind::Sum, vec![5, i32::MIN / 2 + 11, 8, -1]),
            // div_round: (2·5 + 4) / 8 = 1.75 → 1; (2·(-2^30+11) + 4)/8 → floor; (2·8+3)/6 = 3; -1
            (
                ReduceKind::Mean,
                vec![
                    1,
                    ((2 * (i32::MIN as i64 / 2 + 11) + 4).div_euclid(8)) as i32,
                    3,
                    -1,
                ],
            ),
            (ReduceKind::Max, vec![10, 6, 5, -1]),
            (ReduceKind::Min, vec![-7, i32::MIN / 2, 3, -1]),
        ];
        for (kind, want) in cases {
            let op = op(kind);
            assert_eq!(op.evaluate(&inputs).unwrap(), want, "{kind:?}");
            assert!(
                satisfied(ChunkCircuit::new(op.clone(), inputs.clone()).unwrap()),
                "{kind:?}"
            );
            for k in 0..want.len() {
                for delta in [-1, 1] {
                    let mut bad = want.clone();
                    bad[k] += delta;
                    let claim = vec![
                        chunk_digest(&inputs[0]),
                        chunk_digest(&inputs[1]),
                        chunk_digest(&bad),
                    ];
                    assert!(
                        !satisfied(ChunkCircuit::with_claim(op.clone(), inputs.clone(), claim)),
                        "{kind:?} {k} {delta}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_sum_outside_int32_is_unprovable() {
        let op = Reduce {
            kind: ReduceKind::Sum,
            x_lens: vec![2],
            windows: vec![vec![0, 1]],
            divisors: vec![],
        };
        let inputs = vec![vec![i32::MAX, 1]];
        assert!(matches!(
            op.evaluate(&inputs),
            Err(ZkError::ValueOutOfRange { .. })
        ));
        let claim = vec![chunk_digest(&inputs[0]), chunk_digest(&[i32::MIN])];
        assert!(!satisfied(ChunkCircuit::with_claim(op, inputs, claim)));
    }
}
