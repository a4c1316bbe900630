//! Groth16 key generation from one synthesis, with batched affine fixed-base multiplication.
//!
//! [`generate`] makes exactly the keys that `ark_groth16`'s
//! `generate_random_parameters_with_reduction` makes from the same RNG stream (the same
//! random values drawn in the same order, the same window tables; a test checks the keys are
//! equal), only faster:
//! - the caller synthesizes the circuit and inlines its linear combinations once, and the
//!   same constraint system gives both the circuit identity and the keys (arkworks' generator
//!   would synthesize a second time);
//! - each key point `s·G` is accumulated window by window in affine coordinates, a whole
//!   batch of scalars at a time, so all the batch's additions of one window share one field
//!   inversion (Montgomery's trick): about 6 field multiplications per addition instead of
//!   about 11 for a projective mixed addition, and no normalization at the end.

use ark_ec::scalar_mul::BatchMulPreprocessing;
use ark_ec::short_weierstrass::{Affine, Projective, SWCurveConfig};
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::{batch_inversion, Field, PrimeField, UniformRand, Zero};
use ark_groth16::r1cs_to_qap::R1CSToQAP;
use ark_groth16::{ProvingKey, VerifyingKey};
use ark_poly::{EvaluationDomain, GeneralEvaluationDomain};
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};
use ark_std::rand::Rng;
use rayon::prelude::*;

use crate::{Curve, Fr};

type G1 = ark_bn254::G1Projective;
type G2 = ark_bn254::G2Projective;

/// Scalars per batch: enough that one inversion is spread over many additions, few enough
/// that a batch's accumulators stay in cache.
const LANES: usize = 1024;

/// Groth16 keys for `cs`, a constraint system synthesized in setup mode and finalized, with
/// the H-query in the form of `QAP`. Draws from `rng` exactly what arkworks' generator draws.
pub fn generate<QAP: R1CSToQAP>(
    cs: ConstraintSystemRef<Fr>,
    rng: &mut impl Rng,
) -> Result<ProvingKey<Curve>, SynthesisError> {
    let alpha = Fr::rand(rng);
    let beta = Fr::rand(rng);
    let gamma = Fr::rand(rng);
    let delta = Fr::rand(rng);
    let g1_generator = G1::rand(rng);
    let g2_generator = G2::rand(rng);

    let domain_size = cs.num_constraints() + cs.num_instance_variables();
    let domain = GeneralEvaluationDomain::<Fr>::new(domain_size)
        .ok_or(SynthesisError::PolynomialDegreeTooLarge)?;
    let t = domain.sample_element_outside_domain(rng);

    let num_instance_variables = cs.num_instance_variables();
    let (a, b, c, zt, qap_num_variables, m_raw) =
        QAP::instance_map_with_evaluation::<Fr, GeneralEvaluationDomain<Fr>>(cs, &t)?;
    let non_zero_a = a.iter().filter(|v| !v.is_zero()).count();
    let non_zero_b = b.iter().filter(|v| !v.is_zero()).count();

    // a uniformly random field element is zero with probability 2^-253
    let gamma_inverse = gamma.inverse().expect("random gamma is non-zero");
    let delta_inverse = delta.inverse().expect("random delta is non-zero");
    // (β·a_i + α·b_i + c_i) / γ for the instance variables, / δ for the witness
    let abc = |range: std::ops::Range<usize>, inv: Fr| -> Vec<Fr> {
        range
            .into_par_iter()
            .map(|i| (beta * a[i] + alpha * b[i] + c[i]) * inv)
            .collect()
    };
    let gamma_abc = abc(0..num_instance_variables, gamma_inverse);
    let l = abc(num_instance_variables..a.len(), delta_inverse);
    drop(c);

    let g2_table = BatchMulPreprocessing::new(g2_generator, non_zero_b);
    let b_g2_query = batch_mul(&g2_table, &b);
    drop(g2_table);

    let g1_table = BatchMulPreprocessing::new(
        g1_generator,
        non_zero_a + non_zero_b + qap_num_variables + m_raw + 1,
    );
    let a_query = batch_mul(&g1_table, &a);
    drop(a);
    let b_g1_query = batch_mul(&g1_table, &b);
    drop(b);
    let h_scalars =
        QAP::h_query_scalars::<Fr, GeneralEvaluationDomain<Fr>>(m_raw - 1, t, zt, delta_inverse)?;
    let h_query = batch_mul(&g1_table, &h_scalars);
    drop(h_scalars);
    let l_query = batch_mul(&g1_table, &l);
    drop(l);
    let gamma_abc_g1 = batch_mul(&g1_table, &gamma_abc);

    let vk = VerifyingKey::<Curve> {
        alpha_g1: (g1_generator * alpha).into_affine(),
        beta_g2: (g2_generator * beta).into_affine(),
        gamma_g2: (g2_generator * gamma).into_affine(),
        delta_g2: (g2_generator * delta).into_affine(),
        gamma_abc_g1,
    };
    Ok(ProvingKey {
        beta_g1: (g1_generator * beta).into_affine(),
        delta_g1: (g1_generator * delta).into_affine(),
        vk,
        a_query,
        b_g1_query,
        b_g2_query,
        h_query,
        l_query,
    })
}

/// `[s·G for s in scalars]` from the window table of `G`: the points
/// `table.batch_mul(scalars)` returns, computed with batched affine additions.
pub fn batch_mul<P: SWCurveConfig>(
    table: &BatchMulPreprocessing<Projective<P>>,
    scalars: &[P::ScalarField],
) -> Vec<Affine<P>> {
    scalars
        .par_chunks(LANES)
        .map(|batch| batch_mul_lanes(table, batch))
        .collect::<Vec<_>>()
        .concat()
}

/// The window digit of `scalar` at bits `start..start + width` (bits past the end are zero).
fn digit(limbs: &[u64], start: usize, width: usize) -> usize {
    let (limb, shift) = (start / 64, start % 64);
    if limb >= limbs.len() {
        return 0;
    }
    let mut v = limbs[limb] >> shift;
    if shift + width > 64 && limb + 1 < limbs.len() {
        v |= limbs[limb + 1] << (64 - shift);
    }
    (v & ((1u64 << width) - 1)) as usize
}

fn batch_mul_lanes<P: SWCurveConfig>(
    table: &BatchMulPreprocessing<Projective<P>>,
    scalars: &[P::ScalarField],
) -> Vec<Affine<P>> {
    let w = table.window;
    let windows = table.max_scalar_size.div_ceil(w);
    let scalars: Vec<_> = scalars.iter().map(|s| s.into_bigint()).collect();
    let mut acc = vec![Affine::<P>::identity(); scalars.len()];
    // the additions of one window: (lane, point to add), and their denominators x_p - x_acc
    let mut adds: Vec<(usize, Affine<P>)> = Vec::with_capacity(scalars.len());
    let mut dens: Vec<P::BaseField> = Vec::with_capacity(scalars.len());
    for (outer, row) in table.table.iter().enumerate().take(windows) {
        adds.clear();
        dens.clear();
        for (lane, s) in scalars.iter().enumerate() {
            let p = row[digit(s.as_ref(), outer * w, w)];
            let a = &mut acc[lane];
            if p.is_zero() {
                continue;
            }
            if a.is_zero() {
                *a = p;
            } else if a.x == p.x {
                // a doubling or a cancellation: the affine formula does not apply (rare)
                *a = (*a + p).into_affine();
            } else {
                dens.push(p.x - a.x);
                adds.push((lane, p));
            }
        }
        batch_inversion(&mut dens);
        for ((lane, p), inv) in adds.iter().zip(&dens) {
            let a = &mut acc[*lane];
            let lambda = (p.y - a.y) * inv;
            let x3 = lambda.square() - a.x - p.x;
            a.y = lambda * (a.x - x3) - a.y;
            a.x = x3;
        }
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::groth16::seeded_rng;
    use ark_ec::PrimeGroup;
    use ark_groth16::r1cs_to_qap::LibsnarkReduction;
    use ark_groth16::Groth16;
    use ark_relations::gr1cs::{
        ConstraintSynthesizer, ConstraintSystem, OptimizationGoal, SynthesisMode,
    };

    #[test]
    fn batch_mul_equals_arkworks() {
        let mut rng = seeded_rng(7);
        let mut scalars: Vec<Fr> = (0..3000).map(|_| Fr::rand(&mut rng)).collect();
        // zeros, small values, -1 and repeats exercise identities, doublings and cancellations
        scalars.extend([
            Fr::zero(),
            Fr::from(1u64),
            Fr::from(2u64),
            -Fr::from(1u64),
            Fr::from(3u64),
            Fr::from(3u64),
        ]);
        for n in [1, 40, scalars.len()] {
            let t1 = BatchMulPreprocessing::new(G1::generator(), n);
            assert_eq!(
                batch_mul(&t1, &scalars[..n]),
                t1.batch_mul(&scalars[..n]),
                "G1, {n} scalars"
            );
        }
        let t2 = BatchMulPreprocessing::new(G2::rand(&mut rng), 500);
        assert_eq!(
            batch_mul(&t2, &scalars[2600..]),
            t2.batch_mul(&scalars[2600..]),
            "G2"
        );
    }

    #[test]
    fn keys_equal_arkworks_generator() {
        let circuit = crate::circuits::relu::ReluChunkCircuit::relu_shape(9);
        let cs = ConstraintSystem::<Fr>::new_ref();
        cs.set_optimization_goal(OptimizationGoal::Constraints);
        cs.set_mode(SynthesisMode::Setup);
        circuit.clone().generate_constraints(cs.clone()).unwrap();
        cs.finalize();
        let ours = generate::<LibsnarkReduction>(cs, &mut seeded_rng(11)).unwrap();
        let theirs = Groth16::<Curve>::generate_random_parameters_with_reduction(
            circuit.clone(),
            &mut seeded_rng(11),
        )
        .unwrap();
        assert_eq!(ours.vk, theirs.vk, "verifying key");
        assert_eq!(ours.a_query, theirs.a_query, "A");
        assert_eq!(ours.b_g1_query, theirs.b_g1_query, "B G1");
        assert_eq!(ours.b_g2_query, theirs.b_g2_query, "B G2");
        assert_eq!(ours.h_query, theirs.h_query, "H");
        assert_eq!(ours.l_query, theirs.l_query, "L");
        assert_eq!(ours, theirs);
        // the ceremony's form of the H-query
        let cs = ConstraintSystem::<Fr>::new_ref();
        cs.set_optimization_goal(OptimizationGoal::Constraints);
        cs.set_mode(SynthesisMode::Setup);
        circuit.clone().generate_constraints(cs.clone()).unwrap();
        cs.finalize();
        let ours = generate::<crate::qap::CircomReduction>(cs, &mut seeded_rng(12)).unwrap();
        let theirs = Groth16::<Curve, crate::qap::CircomReduction>::generate_random_parameters_with_reduction(circuit, &mut seeded_rng(12)).unwrap();
        assert_eq!(ours, theirs);
    }
}
