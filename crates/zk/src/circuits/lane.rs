//! Operators over lanes, over one output chunk: ArgMax and Softmax. A lane is the list of
//! input positions (in the concatenation of the chunks read) that an output depends on; a
//! lane may span several chunks, and the output chunk reads them all.
//!
//! ```text
//! ArgMax (lane x_0 … x_{n-1}):
//!   best = x_0, i = 0
//!   c = [x_k > best]  (first maximum)  or  [x_k >= best]  (select_last)     34
//!   best = c ? x_k : best,  i = c ? k : i                                  2
//!   y = i                                                 36 per lane element after the first
//!
//! Softmax (per lane, shared by the lane's outputs in the chunk):
//!   m   = max x_k                                         35 per element after the first
//!   e_k = exp(x_k − m)   (PiecewisePoly; x_k − m <= 0 follows from the max)
//!   s   = Σ e_k, range checked once for its sign bit      B + 1
//! per output:  y_k = div_round(e_k·2^out_scale, s)          32 + 2B + 5
//! ```
//!
//! `s = 0` (impossible for the compiler's exp, whose value at 0 is 2^16) is unsatisfiable, as
//! the executor refuses it.

use std::collections::{hash_map::Entry, HashMap};

use super::{chunk::ChunkOp, pointwise::refused};
use crate::{
    gadgets::{lookup::piecewise_poly, signed::SignedVar},
    Fr, ZkError,
};
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};
use num_bigint::BigInt;
use num_traits::Zero;
use zkopml_model::fixed::{div_round_i128, PiecewisePoly};

/// Which lane operator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LaneKind {
    /// The index of the first (or last) maximum.
    ArgMax {
        /// Take the last maximum.
        select_last: bool,
    },
    /// `div_round(exp(x_k − max)·2^out_scale, Σ exp(x − max))`.
    Softmax {
        /// The exponential (output scale 16 as compiled).
        exp: PiecewisePoly,
        /// The output scale.
        out_scale: i32,
    },
}

/// A lane operator over one output chunk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lanes {
    /// Which operator.
    pub kind: LaneKind,
    /// Lengths of the input chunks read, in circuit-table order.
    pub x_lens: Vec<usize>,
    /// The lanes the outputs depend on (non-empty lists of input positions).
    pub lanes: Vec<Vec<usize>>,
    /// For each output: its lane and (Softmax) its element in the lane (ArgMax: 0).
    pub outputs: Vec<(usize, usize)>,
}

impl Lanes {
    fn check(&self) {
        let n: usize = self.x_lens.iter().sum();
        assert!(self
            .lanes
            .iter()
            .all(|l| !l.is_empty() && l.iter().all(|&p| p < n)));
        assert!(self
            .outputs
            .iter()
            .all(|&(l, k)| l < self.lanes.len() && k < self.lanes[l].len()));
        if let LaneKind::Softmax { out_scale, .. } = self.kind {
            assert!((0..=62).contains(&out_scale));
        }
    }
}

/// The executor's softmax of one lane (None: an all-zero sum, or an intermediate beyond i128,
/// which only a crafted polynomial reaches, both refused by the executor), exactly in checked
/// i128 as `zkopml_exec`'s Softmax (docs/fixed-point.md, "Exactness: exact or refused"). A
/// value whose magnitude is at least 2^63 saturates to `i64::MIN`/`i64::MAX`, refused by
/// `evaluate` as out of range.
fn softmax_lane(exp: &PiecewisePoly, out_scale: i32, x: &[i64]) -> Option<Vec<i64>> {
    let m = x.iter().copied().max().unwrap_or(0);
    let e: Vec<i128> = x
        .iter()
        .map(|&v| exp.checked_eval(v - m))
        .collect::<Option<_>>()?;
    let s = e.iter().try_fold(0i128, |s, &v| s.checked_add(v))?;
    // out_scale in 0..=62 (checked by `Lanes::check`)
    e.iter()
        .map(|&ei| {
            let y = div_round_i128(ei.checked_mul(1i128 << out_scale)?, s)?;
            Some(y.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
        })
        .collect()
}

impl ChunkOp for Lanes {
    fn input_lens(&self) -> Vec<usize> {
        self.x_lens.clone()
    }

    fn output_len(&self) -> usize {
        self.outputs.len()
    }

    fn evaluate(&self, inputs: &[Vec<i32>]) -> Result<Vec<i32>, ZkError> {
        self.check();
        let x: Vec<i32> = inputs.concat();
        let lane = |l: usize| -> Vec<i64> { self.lanes[l].iter().map(|&p| x[p] as i64).collect() };
        let mut soft: HashMap<usize, Vec<i64>> = HashMap::new();
        self.outputs
            .iter()
            .enumerate()
            .map(|(index, &(l, k))| {
                let v = match &self.kind {
                    LaneKind::ArgMax { select_last } => {
                        let v = lane(l);
                        let mut best = 0;
                        for j in 1..v.len() {
                            if v[j] > v[best] || (*select_last && v[j] == v[best]) {
                                best = j;
                            }
                        }
                        best as i64
                    }
                    LaneKind::Softmax { exp, out_scale } => {
                        if let Entry::Vacant(slot) = soft.entry(l) {
                            slot.insert(
                                softmax_lane(exp, *out_scale, &lane(l)).ok_or_else(refused)?,
                            );
                        }
                        soft[&l][k]
                    }
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
        match &self.kind {
            LaneKind::ArgMax { select_last } => {
                let mut memo: HashMap<usize, SignedVar<Fr>> = HashMap::new();
                self.outputs
                    .iter()
                    .map(|&(l, _)| {
                        if let Some(y) = memo.get(&l) {
                            return Ok(y.clone());
                        }
                        let lane = &self.lanes[l];
                        let mut best = x[lane[0]].clone();
                        let mut idx = SignedVar::constant(0);
                        for (k, &p) in lane.iter().enumerate().skip(1) {
                            let c = if *select_last {
                                x[p].is_ge(&best)?
                            } else {
                                // x_k > best  ⇔  not (best >= x_k)
                                !best.is_ge(x[p])?
                            };
                            best = SignedVar::select(&c, x[p], &best)?;
                            idx = SignedVar::select(&c, &SignedVar::constant(k as i128), &idx)?;
                        }
                        memo.insert(l, idx.clone());
                        Ok(idx)
                    })
                    .collect()
            }
            LaneKind::Softmax { exp, out_scale } => {
                // Per lane: the exponentials and their sum (with its bits, for div_round).
                let mut memo: HashMap<usize, (Vec<SignedVar<Fr>>, SignedVar<Fr>)> = HashMap::new();
                let mut out = Vec::with_capacity(self.outputs.len());
                for &(l, k) in &self.outputs {
                    if let Entry::Vacant(slot) = memo.entry(l) {
                        let lane = &self.lanes[l];
                        let mut m = x[lane[0]].clone();
                        for &p in &lane[1..] {
                            m = m.max(x[p])?;
                        }
                        let e = lane
                            .iter()
                            .map(|&p| {
                                let d = x[p].sub(&m);
                                // m is the lane's maximum, so x_k − m <= 0.
                                let lo = d.interval().0.clone();
                                let d = SignedVar::assume_in_range(
                                    d.value().clone(),
                                    lo,
                                    BigInt::zero(),
                                );
                                piecewise_poly(&d, exp, None)
                            })
                            .collect::<Result<Vec<_>, _>>()?;
                        let terms: Vec<(i128, &SignedVar<Fr>)> = e.iter().map(|v| (1, v)).collect();
                        let s = SignedVar::linear_combination(&terms, 0);
                        let s = SignedVar::enforce_range(s.value(), s.bits())?;
                        slot.insert((e, s));
                    }
                    let (e, s) = &memo[&l];
                    let n = SignedVar::linear_combination(&[(1i128 << out_scale, &e[k])], 0);
                    out.push(n.div_round(s, 32)?);
                }
                Ok(out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{circuits::chunk::ChunkCircuit, native::chunk_digest};
    use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem};
    use rand_chacha::ChaCha20Rng;
    use rand_core::{RngCore, SeedableRng};

    fn satisfied<O: ChunkOp>(c: ChunkCircuit<O>) -> (bool, usize) {
        let cs = ConstraintSystem::<Fr>::new_ref();
        c.generate_constraints(cs.clone()).unwrap();
        (cs.is_satisfied().unwrap(), cs.num_constraints())
    }

    fn claim_of(inputs: &[Vec<i32>], y: &[i32]) -> Vec<Fr> {
        inputs
            .iter()
            .map(|x| chunk_digest(x))
            .chain([chunk_digest(y)])
            .collect()
    }

    fn check(op: Lanes, inputs: Vec<Vec<i32>>) -> (Vec<i32>, usize) {
        let y = op.evaluate(&inputs).unwrap();
        let (ok, n) = satisfied(ChunkCircuit::new(op.clone(), inputs.clone()).unwrap());
        assert!(ok);
        for p in 0..y.len() {
            for d in [-1, 1] {
                let mut bad = y.clone();
                bad[p] += d;
                assert!(
                    !satisfied(ChunkCircuit::with_claim(
                        op.clone(),
                        inputs.clone(),
                        claim_of(&inputs, &bad)
                    ))
                    .0,
                    "output {p} off by {d}"
                );
            }
        }
        let mut claim = claim_of(&inputs, &y);
        let mut other = inputs[0].clone();
        other[0] = other[0].wrapping_add(1);
        claim[0] = chunk_digest(&other);
        assert!(!satisfied(ChunkCircuit::with_claim(op, inputs, claim)).0);
        (y, n)
    }

    /// Two lanes of 5 spread over a chunk of 6 and one of 4 (lane 0: positions 0, 2, 4, 6,
    /// 8; lane 1: 1, 3, 5, 7, 9), one output per lane.
    fn argmax(select_last: bool) -> Lanes {
        Lanes {
            kind: LaneKind::ArgMax { select_last },
            x_lens: vec![6, 4],
            lanes: vec![
                (0..5).map(|k| 2 * k).collect(),
                (0..5).map(|k| 2 * k + 1).collect(),
            ],
            outputs: vec![(0, 0), (1, 0)],
        }
    }

    #[test]
    fn argmax_first_and_last() {
        // lane 0: 3, 9, -1, 9, 2 ; lane 1: MIN, MIN, MIN, MIN, MIN
        let m = i32::MIN;
        let inputs = vec![vec![3, m, 9, m, -1, m], vec![9, m, 2, m]];
        let (y, n) = check(argmax(false), inputs.clone());
        assert_eq!(y, [1, 0]);
        eprintln!("ArgMax of 2 lanes of 5: {n} constraints");
        let (y, _) = check(argmax(true), inputs);
        assert_eq!(y, [3, 4]);
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        for _ in 0..3 {
            let v: Vec<i32> = (0..10).map(|_| (rng.next_u32() % 7) as i32 - 3).collect();
            for last in [false, true] {
                check(argmax(last), vec![v[..6].to_vec(), v[6..].to_vec()]);
            }
        }
    }

    fn exp_poly() -> PiecewisePoly {
        // As the compiler's Softmax: exp on [-16, 1), segments of width 1, output scale 16.
        PiecewisePoly::fit(f64::exp, -16.0, 0, 17, 3, 8, 16, 4).unwrap()
    }

    /// Constraints of a lane of `n` with one output per element, beyond the inputs.
    fn lane_cost(kind: LaneKind, n: usize) -> usize {
        let cs = ConstraintSystem::<Fr>::new_ref();
        let x: Vec<SignedVar<Fr>> = (0..n)
            .map(|k| {
                SignedVar::new_witness(cs.clone(), 32, || Ok(BigInt::from(k as i64 * 50))).unwrap()
            })
            .collect();
        let outputs = match kind {
            LaneKind::ArgMax { .. } => vec![(0, 0)],
            LaneKind::Softmax { .. } => (0..n).map(|k| (0, k)).collect(),
        };
        let op = Lanes {
            kind,
            x_lens: vec![n],
            lanes: vec![(0..n).collect()],
            outputs,
        };
        let before = cs.num_constraints();
        op.synthesize(&cs, &[x]).unwrap();
        assert!(cs.is_satisfied().unwrap());
        cs.num_constraints() - before
    }

    #[test]
    fn costs() {
        let am = |n| lane_cost(LaneKind::ArgMax { select_last: false }, n);
        assert_eq!(am(9) - am(8), 36);
        let sm = |n| {
            lane_cost(
                LaneKind::Softmax {
                    exp: exp_poly(),
                    out_scale: 14,
                },
                n,
            )
        };
        let (a, b) = (sm(8), sm(16));
        eprintln!(
            "Softmax: lane of 8: {a}, of 16: {b}, per element {}",
            (b - a) / 8
        );
    }

    #[test]
    fn softmax_known_answer_and_random() {
        let exp = exp_poly();
        let op = Lanes {
            kind: LaneKind::Softmax {
                exp: exp.clone(),
                out_scale: 14,
            },
            x_lens: vec![4],
            lanes: vec![vec![0, 1, 2, 3]],
            outputs: (0..4).map(|k| (0, k)).collect(),
        };
        // Equal inputs: 1/4 each, 2^14 / 4 = 4096.
        let (y, n) = check(op.clone(), vec![vec![77, 77, 77, 77]]);
        assert_eq!(y, [4096; 4]);
        eprintln!("Softmax of a lane of 4: {n} constraints");
        // One dominant value (16 units above the others at scale 8): ~1.
        let (y, _) = check(op.clone(), vec![vec![0, 16 << 8, 0, 0]]);
        assert!(y[1] >= 16383 && y[0] <= 1, "{y:?}");
        let mut rng = ChaCha20Rng::seed_from_u64(4);
        let x: Vec<i32> = (0..4).map(|_| (rng.next_u32() as i32) >> 20).collect();
        let (y, _) = check(op.clone(), vec![x.clone()]);
        let want =
            softmax_lane(&exp, 14, &x.iter().map(|&v| v as i64).collect::<Vec<_>>()).unwrap();
        assert_eq!(y.iter().map(|&v| v as i64).collect::<Vec<_>>(), want);
        // A chunk holding part of a lane still reads (and proves) the whole lane.
        let part = Lanes {
            outputs: vec![(0, 2), (0, 3)],
            ..op
        };
        let (y2, _) = check(part, vec![x]);
        assert_eq!(y2, y[2..]);
    }

    /// docs/fixed-point.md, "Exactness: exact or refused": the native softmax is the
    /// executor's exact one (checked i128) where the old i64 `e << out_scale` wrapped: a
    /// (crafted) constant exp of 2^40 with out_scale 30 gives e·2^30 = 2^70 (old: 0, and the
    /// output 0); exact, div_round(2^70, 2·2^40) = 2^29, and the circuit agrees.
    #[test]
    fn softmax_exact_where_the_old_code_wrapped() {
        use zkopml_model::fixed as f;
        let exp = PiecewisePoly {
            in_scale: 0,
            out_scale: 0,
            coeff_scale: 0,
            lo: -(1 << 20),
            seg_bits: 21,
            coeffs: vec![vec![1 << 40]],
        };
        assert_eq!(exp.checked_eval(0), Some(1 << 40));
        assert_eq!((1i64 << 40) << 30, 0);
        let want = f::div_round_i128(1i128 << 70, 2 << 40).unwrap();
        assert_eq!(want, 1 << 29);
        let op = Lanes {
            kind: LaneKind::Softmax { exp, out_scale: 30 },
            x_lens: vec![2],
            lanes: vec![vec![0, 1]],
            outputs: vec![(0, 0), (0, 1)],
        };
        let (y, _) = check(op, vec![vec![5, 5]]);
        assert_eq!(y, [want as i32, want as i32]);
    }
}
