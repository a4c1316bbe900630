//! circomlib's Poseidon (x^5 S-box, 8 full rounds, circomlib's partial rounds and constants)
//! as a gadget over [`FpVar<Fr>`], using `light-poseidon`'s circom parameter tables.
//!
//! A permutation round `r` on the state `s` (width `t`, `s_0 = 0` then the inputs) is
//!
//! ```text
//! s_i <- s_i + ark[r·t + i]            (free: a linear combination)
//! s_i <- s_i^5   for all i (full round) or for i = 0 only (partial round)
//! s   <- M · s                         (free: a linear combination)
//! ```
//!
//! with the full rounds split in half around the partial ones; the hash is `s_0` at the end.
//! An S-box is three R1CS constraints (`x²`, `x⁴`, `x⁵`); an S-box on a constant is free. For
//! five inputs: 4·6 + 60 + 4·6 = 108 S-boxes, of which the first round's `s_0` is a constant,
//! so a `Poseidon5` call costs 321 constraints when all five inputs are variables.

use crate::{gadgets::lincomb, native::circom_params, Fr};
use ark_r1cs_std::fields::{fp::FpVar, FieldVar};
use ark_relations::gr1cs::SynthesisError;
use light_poseidon::PoseidonParameters;

/// x ↦ x^5 (three multiplications on a variable, none on a constant).
fn sbox(x: &FpVar<Fr>) -> Result<FpVar<Fr>, SynthesisError> {
    let x2 = x.square()?;
    let x4 = x2.square()?;
    Ok(x4 * x)
}

/// The Poseidon permutation's output `s_0` for the state `[0, inputs…]` under `params`.
///
/// Each round's linear layer and the next round's constants form one linear combination per
/// state element (`s'_i = Σ_j M_ij s_j + ark[(r+1)·t + i]`), which keeps the symbolic
/// combinations few and small.
pub fn poseidon_var_with(
    params: &PoseidonParameters<Fr>,
    inputs: &[FpVar<Fr>],
) -> Result<FpVar<Fr>, SynthesisError> {
    let t = params.width;
    assert_eq!(
        inputs.len() + 1,
        t,
        "Poseidon of width {t} takes {} inputs",
        t - 1
    );
    let one = Fr::from(1u64);
    let mut state: Vec<FpVar<Fr>> = std::iter::once(FpVar::zero())
        .chain(inputs.iter().cloned())
        .enumerate()
        .map(|(i, s)| lincomb(&[(one, &s)], params.ark[i]))
        .collect();

    let half_full = params.full_rounds / 2;
    let rounds = params.full_rounds + params.partial_rounds;
    for r in 0..rounds {
        let full = r < half_full || r >= half_full + params.partial_rounds;
        if full {
            for s in state.iter_mut() {
                *s = sbox(s)?;
            }
        } else {
            state[0] = sbox(&state[0])?;
        }
        state = params
            .mds
            .iter()
            .enumerate()
            .map(|(i, row)| {
                let next_constant = if r + 1 < rounds {
                    params.ark[(r + 1) * t + i]
                } else {
                    Fr::from(0u64)
                };
                let terms: Vec<(Fr, &FpVar<Fr>)> = row.iter().copied().zip(&state).collect();
                lincomb(&terms, next_constant)
            })
            .collect();
    }
    Ok(state.swap_remove(0))
}

/// circomlib `Poseidon(n)` for `n = inputs.len()` in `1..=12`.
pub fn poseidon_var(inputs: &[FpVar<Fr>]) -> Result<FpVar<Fr>, SynthesisError> {
    poseidon_var_with(circom_params(inputs.len() + 1), inputs)
}

/// circomlib `Poseidon(5)`: the chunk digest's compression function.
pub fn poseidon5_var(inputs: &[FpVar<Fr>; 5]) -> Result<FpVar<Fr>, SynthesisError> {
    poseidon_var_with(circom_params(6), inputs)
}

/// circomlib `Poseidon(n)` in the optimised form of the Poseidon paper (appendix B;
/// `zkopml_exec::poseidon::optimized`): the same hash and the same S-boxes (so the same
/// constraint count) as [`poseidon_var`], but each partial round multiplies by a sparse matrix
/// (a dense first row, then `s_i + v_i·s_0`), so a passive element's linear combination grows
/// by one term a round instead of being rebuilt from the whole state. [`poseidon_var`]'s
/// dense form nests `t` combinations of `t` terms a round, which arkworks expands when it
/// inlines them: for width 13 that made synthesis several times slower per constraint than the
/// rest of a circuit. The R1CS differs from [`poseidon_var`]'s, so a circuit's keys depend on
/// which form it uses; the chunk digest keeps the dense form (its keys and vectors are
/// deployed), the weight block digest (`circuits::packed_gemm`) uses this one.
pub fn poseidon_var_sparse(inputs: &[FpVar<Fr>]) -> Result<FpVar<Fr>, SynthesisError> {
    let o = zkopml_exec::poseidon::optimized(inputs.len() + 1);
    let t = o.width;
    let half = o.full_c.len() / 2;
    let mat = |m: &[Vec<Fr>], s: &[FpVar<Fr>]| -> Vec<FpVar<Fr>> {
        m.iter()
            .map(|row| {
                let terms: Vec<(Fr, &FpVar<Fr>)> = row.iter().copied().zip(s).collect();
                lincomb(&terms, Fr::from(0u64))
            })
            .collect()
    };
    let full_sbox = |s: &[FpVar<Fr>], c: &[Fr]| -> Result<Vec<FpVar<Fr>>, SynthesisError> {
        s.iter()
            .zip(c)
            .map(|(x, k)| sbox(&lincomb(&[(Fr::from(1u64), x)], *k)))
            .collect()
    };
    let mut state: Vec<FpVar<Fr>> = std::iter::once(FpVar::zero())
        .chain(inputs.iter().cloned())
        .collect();
    for r in 0..half {
        state = full_sbox(&state, &o.full_c[r])?;
        state = mat(if r + 1 == half { &o.pre } else { &o.mds }, &state);
    }
    for ((row, col), c) in o.sparse_row.iter().zip(&o.sparse_col).zip(&o.partial_c) {
        let z0 = sbox(&lincomb(&[(Fr::from(1u64), &state[0])], *c))?;
        state[0] = z0.clone();
        let y0 = mat(std::slice::from_ref(row), &state).swap_remove(0);
        for i in 1..t {
            state[i] = lincomb(
                &[(Fr::from(1u64), &state[i]), (col[i - 1], &z0)],
                Fr::from(0u64),
            );
        }
        state[0] = y0;
    }
    for r in half..2 * half - 1 {
        state = full_sbox(&state, &o.full_c[r])?;
        state = mat(&o.mds, &state);
    }
    state = full_sbox(&state, &o.full_c[2 * half - 1])?;
    Ok(mat(&o.mds[..1], &state).swap_remove(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gadgets::signed::tests::{matrices_satisfied, set_witness};
    use crate::native::{fr_to_be_bytes, poseidon5};
    use ark_ff::UniformRand;
    use ark_r1cs_std::{alloc::AllocVar, eq::EqGadget, GR1CSVar};
    use ark_relations::gr1cs::ConstraintSystem;
    use ark_relations::gr1cs::Variable;
    use light_poseidon::{Poseidon, PoseidonHasher};
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn witnesses(cs: &ark_relations::gr1cs::ConstraintSystemRef<Fr>, xs: &[Fr]) -> Vec<FpVar<Fr>> {
        xs.iter()
            .map(|x| FpVar::new_witness(cs.clone(), || Ok(*x)).unwrap())
            .collect()
    }

    #[test]
    fn matches_light_poseidon_for_all_widths() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        for n in 1..=12 {
            let xs: Vec<Fr> = (0..n).map(|_| Fr::rand(&mut rng)).collect();
            let expected = Poseidon::<Fr>::new_circom(n).unwrap().hash(&xs).unwrap();
            let cs = ConstraintSystem::<Fr>::new_ref();
            let h = poseidon_var(&witnesses(&cs, &xs)).unwrap();
            assert_eq!(h.value().unwrap(), expected, "{n} inputs");
            assert!(cs.is_satisfied().unwrap());
            // Constants hash to the same constant without a single constraint.
            let consts: Vec<FpVar<Fr>> = xs.iter().map(|x| FpVar::Constant(*x)).collect();
            assert!(matches!(poseidon_var(&consts).unwrap(), FpVar::Constant(c) if c == expected));
            // the optimised form: the same hash with the same number of constraints
            let dense = cs.num_constraints();
            let cs = ConstraintSystem::<Fr>::new_ref();
            let h = poseidon_var_sparse(&witnesses(&cs, &xs)).unwrap();
            assert_eq!(h.value().unwrap(), expected, "{n} inputs, sparse form");
            assert!(cs.is_satisfied().unwrap());
            assert_eq!(cs.num_constraints(), dense, "{n} inputs");
            assert!(
                matches!(poseidon_var_sparse(&consts).unwrap(), FpVar::Constant(c) if c == expected)
            );
        }
    }

    #[test]
    fn circomlibjs_known_answer_for_five_ones() {
        // circomlibjs: poseidon([1, 1, 1, 1, 1]), big-endian (the vector light-poseidon tests).
        let expected: [u8; 32] = [
            16, 56, 150, 5, 174, 104, 141, 79, 20, 219, 133, 49, 34, 196, 125, 102, 168, 3, 199,
            43, 65, 88, 156, 177, 191, 134, 135, 65, 178, 6, 185, 187,
        ];
        let one = Fr::from(1u64);
        assert_eq!(fr_to_be_bytes(&poseidon5(&[one; 5])), expected);
        let cs = ConstraintSystem::<Fr>::new_ref();
        let xs = witnesses(&cs, &[one; 5]);
        let h = poseidon5_var(&xs.try_into().unwrap()).unwrap();
        assert_eq!(fr_to_be_bytes(&h.value().unwrap()), expected);
        assert!(cs.is_satisfied().unwrap());
    }

    #[test]
    fn constraint_count_and_wrong_output() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let xs: [Fr; 5] = std::array::from_fn(|_| Fr::rand(&mut rng));
        let good = poseidon5(&xs);
        for claimed in [good, good + Fr::from(1u64)] {
            let cs = ConstraintSystem::<Fr>::new_ref();
            let vars: [FpVar<Fr>; 5] = witnesses(&cs, &xs).try_into().unwrap();
            let out = FpVar::new_input(cs.clone(), || Ok(claimed)).unwrap();
            poseidon5_var(&vars).unwrap().enforce_equal(&out).unwrap();
            // 321 for the hash, 1 for the equality with the public input.
            assert_eq!(cs.num_constraints(), 322);
            assert_eq!(cs.is_satisfied().unwrap(), claimed == good);
        }
    }

    #[test]
    fn a_tampered_intermediate_witness_is_caught() {
        // Change one S-box output in the assignment after synthesis: the R1CS must notice.
        let mut rng = ChaCha20Rng::seed_from_u64(4);
        let xs: [Fr; 5] = std::array::from_fn(|_| Fr::rand(&mut rng));
        let cs = ConstraintSystem::<Fr>::new_ref();
        let vars: [FpVar<Fr>; 5] = witnesses(&cs, &xs).try_into().unwrap();
        let _ = poseidon5_var(&vars).unwrap();
        assert!(matrices_satisfied(&cs));
        let mid = cs.num_witness_variables() / 2;
        let v = cs.borrow().unwrap().assignments.witness_assignment[mid];
        set_witness(&cs, Variable::witness(mid), v + Fr::from(1u64));
        assert!(!matrices_satisfied(&cs));
    }
}
