//! The R1CS-to-QAP reduction of snarkjs/circom proving keys.
//!
//! A Groth16 proving key made by a Powers-of-Tau ceremony (snarkjs `zkey new`, or
//! `zkopml ceremony`) does not hold arkworks' `h_query[i] = τ^i·Z(τ)/δ`. It holds
//! `H[i] = L_{2n, 2i+1}(τ)/δ`: the Lagrange polynomials of the domain of size `2n` at its odd
//! points `x_i = ω_{2n}·ω_n^i`, read from the prepared `.ptau` file. Since
//! `p(X) = A(X)B(X) - C(X)` has degree at most `2n - 2` and vanishes on the even points (the
//! domain of size `n`), `p(τ) = Σ_i p(x_i)·L_{2n,2i+1}(τ)`: so the prover's H-term is the MSM
//! of `H` with the evaluations of `p` on the odd coset, not with the coefficients of
//! `p / Z`. [`CircomReduction`] computes exactly those evaluations, and (for tests and for a
//! local setup in this form) the matching generator scalars.
//!
//! The A-, B- and C-polynomials are the same as in [`ark_groth16::r1cs_to_qap::LibsnarkReduction`]:
//! one Lagrange point per constraint, then one per instance variable (the "copy" rows
//! `A[m + s] = z_s` that both libsnark and snarkjs add).

use ark_ff::PrimeField;
use ark_groth16::r1cs_to_qap::{evaluate_constraint, LibsnarkReduction, R1CSToQAP};
use ark_poly::EvaluationDomain;
use ark_relations::gr1cs::{ConstraintSystemRef, Matrix, SynthesisError};

/// The reduction of snarkjs proving keys (H over the odd points of the doubled domain).
pub struct CircomReduction;

impl R1CSToQAP for CircomReduction {
    #[allow(clippy::type_complexity)]
    fn instance_map_with_evaluation<F: PrimeField, D: EvaluationDomain<F>>(
        cs: ConstraintSystemRef<F>,
        t: &F,
    ) -> Result<(Vec<F>, Vec<F>, Vec<F>, F, usize, usize), SynthesisError> {
        LibsnarkReduction::instance_map_with_evaluation::<F, D>(cs, t)
    }

    fn witness_map_from_matrices<F: PrimeField, D: EvaluationDomain<F>>(
        matrices: &[Matrix<F>],
        num_inputs: usize,
        num_constraints: usize,
        full_assignment: &[F],
    ) -> Result<Vec<F>, SynthesisError> {
        let domain =
            D::new(num_constraints + num_inputs).ok_or(SynthesisError::PolynomialDegreeTooLarge)?;
        let n = domain.size();
        let double = D::new(2 * n).ok_or(SynthesisError::PolynomialDegreeTooLarge)?;
        let coset = domain
            .get_coset(double.group_gen())
            .ok_or(SynthesisError::PolynomialDegreeTooLarge)?;
        let eval = |k: usize| -> Vec<F> {
            let mut v = vec![F::zero(); n];
            for (i, row) in matrices[k].iter().enumerate() {
                v[i] = evaluate_constraint(row, full_assignment);
            }
            if k == 0 {
                v[num_constraints..num_constraints + num_inputs]
                    .copy_from_slice(&full_assignment[..num_inputs]);
            }
            domain.ifft_in_place(&mut v);
            coset.fft_in_place(&mut v);
            v
        };
        let mut p = eval(0);
        let b = eval(1);
        let c = eval(2);
        for ((p, b), c) in p.iter_mut().zip(&b).zip(&c) {
            *p = *p * b - c;
        }
        Ok(p)
    }

    fn h_query_scalars<F: PrimeField, D: EvaluationDomain<F>>(
        max_power: usize,
        t: F,
        _zt: F,
        delta_inverse: F,
    ) -> Result<Vec<F>, SynthesisError> {
        let n = max_power + 1;
        let double = D::new(2 * n).ok_or(SynthesisError::PolynomialDegreeTooLarge)?;
        let lagrange = double.evaluate_all_lagrange_coefficients(t);
        Ok(lagrange
            .into_iter()
            .skip(1)
            .step_by(2)
            .map(|l| l * delta_inverse)
            .collect())
    }
}
