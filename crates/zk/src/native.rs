//! Native (out-of-circuit) reference computations: circomlib Poseidon and the chunk digest of
//! `docs/commitments.md`. The gadgets are tested against these; these are tested against
//! `light-poseidon`, which is the engine's implementation.

use crate::{Fr, ZkError};
use ark_ff::{BigInteger, PrimeField};
use light_poseidon::{parameters::bn254_x5, Poseidon, PoseidonHasher, PoseidonParameters};
use std::sync::OnceLock;

/// Values per packed field element (7 × 32 bits = 224 bits < 254).
pub const VALUES_PER_ELEMENT: usize = 7;
/// Packed elements absorbed per Poseidon5 call (the fifth input is the running hash).
pub const ELEMENTS_PER_CALL: usize = 4;
/// New elements per Poseidon call of the weight block digest (circomlib width 13, the widest
/// light-poseidon has; one input carries the running hash).
pub const BLOCK_ELEMENTS_PER_CALL: usize = 11;
/// The offset that maps a signed 32-bit value to `[0, 2^32)`.
pub const OFFSET: i64 = 1 << 31;

/// circomlib's Poseidon parameters for `width = inputs + 1` (2..=13: light-poseidon 0.5 has
/// no wider circom tables). The tables are cached.
pub fn circom_params(width: usize) -> &'static PoseidonParameters<Fr> {
    static CACHE: [OnceLock<PoseidonParameters<Fr>>; 17] = [const { OnceLock::new() }; 17];
    assert!(
        (2..=13).contains(&width),
        "circomlib Poseidon has widths 2..=13 here, not {width}"
    );
    CACHE[width].get_or_init(|| {
        bn254_x5::get_poseidon_parameters::<Fr>(width as u8)
            .expect("light-poseidon has circom parameters for widths 2..=13")
    })
}

/// circomlib's Poseidon with 5 inputs, computed by `light-poseidon` (`new_circom(5)`).
pub fn poseidon5(inputs: &[Fr; 5]) -> Fr {
    Poseidon::<Fr>::new_circom(5)
        .expect("width 6 is supported")
        .hash(inputs)
        .expect("five inputs for width 6")
}

/// The digest of a weight block (`circuits::packed_gemm`; docs/commitments.md "Weights
/// root"): `h_0 = n`, `h_{b+1} = Poseidon12(h_b, e_{11b}, …, e_{11b+10})`, the last `h`.
pub fn weight_block_digest(elements: &[Fr]) -> Fr {
    let mut hasher =
        Poseidon::<Fr>::new_circom(BLOCK_ELEMENTS_PER_CALL + 1).expect("width 13 is supported");
    let mut h = Fr::from(elements.len() as u64);
    for block in elements.chunks(BLOCK_ELEMENTS_PER_CALL) {
        let mut inputs = [Fr::from(0u64); BLOCK_ELEMENTS_PER_CALL + 1];
        inputs[0] = h;
        inputs[1..1 + block.len()].copy_from_slice(block);
        h = hasher.hash(&inputs).expect("twelve inputs");
    }
    h
}

/// The chunk digest of `docs/commitments.md` for values known to lie in `[-2^31, 2^31)`.
pub fn chunk_digest(values: &[i32]) -> Fr {
    let mut hasher = Poseidon::<Fr>::new_circom(5).expect("width 6 is supported");
    let packed: Vec<Fr> = values
        .chunks(VALUES_PER_ELEMENT)
        .map(|group| {
            // Σ u_k 2^(32k) < 2^224 fits a u256; build it from 32-bit limbs.
            let mut limbs = [0u64; 4];
            for (k, &v) in group.iter().enumerate() {
                let u = (v as i64 + OFFSET) as u64; // 0 <= u < 2^32
                let bit = 32 * k;
                limbs[bit / 64] |= u << (bit % 64);
            }
            Fr::from_bigint(ark_ff::BigInt::new(limbs)).expect("< 2^224 < r")
        })
        .collect();
    let mut h = Fr::from(values.len() as u64);
    for block in packed.chunks(ELEMENTS_PER_CALL) {
        let mut inputs = [Fr::from(0u64); 5];
        inputs[0] = h;
        inputs[1..1 + block.len()].copy_from_slice(block);
        h = hasher.hash(&inputs).expect("five inputs");
    }
    h
}

/// [`chunk_digest`] for wider integers, refusing values outside `[-2^31, 2^31)`.
pub fn chunk_digest_i64(values: &[i64]) -> Result<Fr, ZkError> {
    let narrowed = values
        .iter()
        .enumerate()
        .map(|(index, &value)| {
            i32::try_from(value).map_err(|_| ZkError::ValueOutOfRange { index, value })
        })
        .collect::<Result<Vec<i32>, _>>()?;
    Ok(chunk_digest(&narrowed))
}

/// A field element as the 32-byte big-endian word the chain stores.
pub fn fr_to_be_bytes(x: &Fr) -> [u8; 32] {
    let bytes = x.into_bigint().to_bytes_be();
    bytes.try_into().expect("Fr is 32 bytes")
}

/// A signed integer as a field element (`-v` is `r - v`).
pub fn fr_from_i128(v: i128) -> Fr {
    if v >= 0 {
        Fr::from(v as u128)
    } else {
        -Fr::from(v.unsigned_abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::{Field, UniformRand};
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    /// The digest by the letter of docs/commitments.md, with big integers, independent of the
    /// limb arithmetic above.
    fn spec_digest(values: &[i32]) -> Fr {
        use num_bigint::BigUint;
        let l = values.len();
        let m = l.div_ceil(7);
        let e: Vec<Fr> = (0..m)
            .map(|j| {
                let mut acc = BigUint::from(0u32);
                for k in 0..7 {
                    if let Some(&v) = values.get(7 * j + k) {
                        let u = BigUint::from((v as i64 + (1i64 << 31)) as u64);
                        acc += u << (32 * k);
                    }
                }
                Fr::from(acc)
            })
            .collect();
        let mut h = Fr::from(l as u64);
        for b in 0..m.div_ceil(4) {
            let get = |j: usize| e.get(j).copied().unwrap_or(Fr::from(0u64));
            h = poseidon5(&[
                h,
                get(4 * b),
                get(4 * b + 1),
                get(4 * b + 2),
                get(4 * b + 3),
            ]);
        }
        h
    }

    #[test]
    fn digest_matches_the_spec_for_all_small_lengths() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        for len in 0..=60 {
            let values: Vec<i32> = (0..len)
                .map(|k| match k % 5 {
                    0 => i32::MIN,
                    1 => i32::MAX,
                    2 => 0,
                    _ => rand_core::RngCore::next_u32(&mut rng) as i32,
                })
                .collect();
            assert_eq!(chunk_digest(&values), spec_digest(&values), "len {len}");
        }
    }

    #[test]
    fn digest_binds_length_and_values() {
        // A trailing zero value is not the same as an absent one: u = 2^31, not 0.
        assert_ne!(chunk_digest(&[1, 2, 3]), chunk_digest(&[1, 2, 3, 0]));
        // An absent value contributes nothing, a value -2^31 contributes u = 0: only the
        // length tells them apart.
        assert_ne!(chunk_digest(&[5]), chunk_digest(&[5, i32::MIN]));
        assert_ne!(chunk_digest(&[1, 2]), chunk_digest(&[2, 1]));
        assert_eq!(chunk_digest(&[]), Fr::from(0u64));
    }

    #[test]
    fn i64_entry_refuses_out_of_range() {
        assert!(matches!(
            chunk_digest_i64(&[0, 1 << 31]),
            Err(ZkError::ValueOutOfRange { index: 1, .. })
        ));
        assert!(chunk_digest_i64(&[-(1 << 31)]).is_ok());
        assert_eq!(chunk_digest_i64(&[-3, 4]).unwrap(), chunk_digest(&[-3, 4]));
    }

    #[test]
    fn poseidon5_is_circomlib_via_light_poseidon_params() {
        // Same parameters table, hashed by hand: the gadget relies on exactly this reading.
        let p = circom_params(6);
        assert_eq!(
            (p.width, p.full_rounds, p.partial_rounds, p.alpha),
            (6, 8, 60, 5)
        );
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let inputs: [Fr; 5] = std::array::from_fn(|_| Fr::rand(&mut rng));
        let mut state = vec![Fr::from(0u64)];
        state.extend_from_slice(&inputs);
        let rounds = p.full_rounds + p.partial_rounds;
        for r in 0..rounds {
            for (i, s) in state.iter_mut().enumerate() {
                *s += p.ark[r * 6 + i];
            }
            let full = r < p.full_rounds / 2 || r >= p.full_rounds / 2 + p.partial_rounds;
            for (i, s) in state.iter_mut().enumerate() {
                if full || i == 0 {
                    *s = s.square().square() * *s;
                }
            }
            state = (0..6)
                .map(|i| (0..6).map(|j| p.mds[i][j] * state[j]).sum())
                .collect();
        }
        assert_eq!(state[0], poseidon5(&inputs));
    }

    #[test]
    fn field_conversions() {
        assert_eq!(fr_from_i128(-1) + Fr::from(1u64), Fr::from(0u64));
        assert_eq!(fr_to_be_bytes(&Fr::from(258u64))[30..], [1, 2]);
    }
}
