//! EVM encodings of Groth16 verifying keys, proofs and public inputs (`docs/commitments.md`,
//! "Groth16 verifying key, proof and public inputs"), as the `alt_bn128` precompiles read
//! them (EIP-196, EIP-197).
//!
//! - A G1 point is `(x, y)`; the point at infinity is `(0, 0)`.
//! - A G2 point is `(x_im, x_re, y_im, y_re)`: EIP-197 writes an element `a·i + b` of
//!   `F_p^2` as `(a, b)`, imaginary part first. In arkworks `Fq2::new(c0, c1) = c0 + c1·u`, so
//!   `c0` is the real part and the words are `(x.c1, x.c0, y.c1, y.c0)`. Infinity is four
//!   zeros.
//! - `vk = abi.encode(uint256[2] alpha1, uint256[4] beta2, uint256[4] gamma2,
//!   uint256[4] delta2, uint256[2][] ic)`: 14 static words, the offset of `ic` (480), its
//!   length, then its points: `512 + 64·len(ic)` bytes. `vkHash = keccak(vk)`.
//! - `proof = uint256[8] (a.x, a.y, b.x_im, b.x_re, b.y_im, b.y_re, c.x, c.y)`.
//! - Public inputs are field elements below `r`, each one `uint256`.

use crate::{groth16::keccak256, Curve, Fr, ZkError};
use ark_bn254::{Fq, Fq2, G1Affine, G2Affine};
use ark_ec::AffineRepr;
use ark_ff::{BigInteger, PrimeField, Zero};
use ark_groth16::{Proof, VerifyingKey};
use num_bigint::BigUint;
use serde::{Deserialize, Serialize};

/// A 32-byte big-endian EVM word.
pub type Word = [u8; 32];

/// The ABI offset of `ic` in the verifying key encoding (15 head words).
const IC_OFFSET: usize = 15 * 32;

fn fq_to_word(x: &Fq) -> Word {
    x.into_bigint()
        .to_bytes_be()
        .try_into()
        .expect("Fq is 32 bytes")
}

fn fq_from_word(w: &Word) -> Result<Fq, ZkError> {
    let big = BigUint::from_bytes_be(w);
    if big >= Fq::MODULUS.into() {
        return Err(ZkError::Encoding(
            "coordinate not below the base field modulus".into(),
        ));
    }
    Ok(Fq::from_be_bytes_mod_order(w))
}

/// A scalar (public input) as a word.
pub fn fr_to_word(x: &Fr) -> Word {
    crate::native::fr_to_be_bytes(x)
}

/// A word as a scalar, refusing values `>= r` (the verifier contract refuses them too).
pub fn fr_from_word(w: &Word) -> Result<Fr, ZkError> {
    let big = BigUint::from_bytes_be(w);
    if big >= Fr::MODULUS.into() {
        return Err(ZkError::Encoding(
            "public input not below the scalar field modulus".into(),
        ));
    }
    Ok(Fr::from_be_bytes_mod_order(w))
}

/// A word as a decimal string (how the JSON vectors write `uint256`).
pub fn word_to_decimal(w: &Word) -> String {
    BigUint::from_bytes_be(w).to_str_radix(10)
}

/// A decimal string as a word.
pub fn word_from_decimal(s: &str) -> Result<Word, ZkError> {
    let big = BigUint::parse_bytes(s.as_bytes(), 10)
        .ok_or_else(|| ZkError::Encoding(format!("not a decimal number: {s:?}")))?;
    let bytes = big.to_bytes_be();
    if bytes.len() > 32 {
        return Err(ZkError::Encoding(format!("does not fit 256 bits: {s}")));
    }
    let mut w = [0u8; 32];
    w[32 - bytes.len()..].copy_from_slice(&bytes);
    Ok(w)
}

/// `(x, y)`, infinity as `(0, 0)`.
pub fn g1_to_words(p: &G1Affine) -> [Word; 2] {
    match p.xy() {
        Some((x, y)) => [fq_to_word(&x), fq_to_word(&y)],
        None => [[0u8; 32]; 2],
    }
}

/// The inverse of [`g1_to_words`], checking that the point is on the curve (G1 has cofactor 1).
pub fn g1_from_words(w: &[Word; 2]) -> Result<G1Affine, ZkError> {
    let (x, y) = (fq_from_word(&w[0])?, fq_from_word(&w[1])?);
    if x.is_zero() && y.is_zero() {
        return Ok(G1Affine::zero());
    }
    let p = G1Affine::new_unchecked(x, y);
    if !p.is_on_curve() || !p.is_in_correct_subgroup_assuming_on_curve() {
        return Err(ZkError::Encoding("G1 point not on the curve".into()));
    }
    Ok(p)
}

/// `(x_im, x_re, y_im, y_re)` = `(x.c1, x.c0, y.c1, y.c0)`, infinity as four zeros.
pub fn g2_to_words(p: &G2Affine) -> [Word; 4] {
    match p.xy() {
        Some((x, y)) => [
            fq_to_word(&x.c1),
            fq_to_word(&x.c0),
            fq_to_word(&y.c1),
            fq_to_word(&y.c0),
        ],
        None => [[0u8; 32]; 4],
    }
}

/// The inverse of [`g2_to_words`], checking the curve equation and the subgroup.
pub fn g2_from_words(w: &[Word; 4]) -> Result<G2Affine, ZkError> {
    let c = w.iter().map(fq_from_word).collect::<Result<Vec<Fq>, _>>()?;
    if c.iter().all(|x| x.is_zero()) {
        return Ok(G2Affine::zero());
    }
    let p = G2Affine::new_unchecked(Fq2::new(c[1], c[0]), Fq2::new(c[3], c[2]));
    if !p.is_on_curve() || !p.is_in_correct_subgroup_assuming_on_curve() {
        return Err(ZkError::Encoding(
            "G2 point not on the curve or not in the subgroup".into(),
        ));
    }
    Ok(p)
}

/// A verifying key in EVM words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvmVerifyingKey {
    /// `alpha1` (G1).
    pub alpha1: [Word; 2],
    /// `beta2` (G2).
    pub beta2: [Word; 4],
    /// `gamma2` (G2).
    pub gamma2: [Word; 4],
    /// `delta2` (G2).
    pub delta2: [Word; 4],
    /// `ic` (G1 each): `ic[0] + Σ input_i · ic[i+1]`; one more than the public inputs.
    pub ic: Vec<[Word; 2]>,
}

impl EvmVerifyingKey {
    /// From an arkworks verifying key.
    pub fn from_vk(vk: &VerifyingKey<Curve>) -> Self {
        Self {
            alpha1: g1_to_words(&vk.alpha_g1),
            beta2: g2_to_words(&vk.beta_g2),
            gamma2: g2_to_words(&vk.gamma_g2),
            delta2: g2_to_words(&vk.delta_g2),
            ic: vk.gamma_abc_g1.iter().map(g1_to_words).collect(),
        }
    }

    /// Back to an arkworks verifying key, checking every point.
    pub fn to_vk(&self) -> Result<VerifyingKey<Curve>, ZkError> {
        Ok(VerifyingKey {
            alpha_g1: g1_from_words(&self.alpha1)?,
            beta_g2: g2_from_words(&self.beta2)?,
            gamma_g2: g2_from_words(&self.gamma2)?,
            delta_g2: g2_from_words(&self.delta2)?,
            gamma_abc_g1: self
                .ic
                .iter()
                .map(g1_from_words)
                .collect::<Result<_, _>>()?,
        })
    }

    /// `abi.encode(alpha1, beta2, gamma2, delta2, ic)`.
    pub fn to_abi(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(IC_OFFSET + 32 + 64 * self.ic.len());
        for w in self
            .alpha1
            .iter()
            .chain(&self.beta2)
            .chain(&self.gamma2)
            .chain(&self.delta2)
        {
            out.extend_from_slice(w);
        }
        out.extend_from_slice(&u256(IC_OFFSET as u64));
        out.extend_from_slice(&u256(self.ic.len() as u64));
        for p in &self.ic {
            out.extend_from_slice(&p[0]);
            out.extend_from_slice(&p[1]);
        }
        out
    }

    /// Parses the ABI encoding, strictly (canonical offset, exact length).
    pub fn from_abi(bytes: &[u8]) -> Result<Self, ZkError> {
        let word = |k: usize| -> Result<Word, ZkError> {
            bytes
                .get(32 * k..32 * k + 32)
                .map(|s| s.try_into().expect("32 bytes"))
                .ok_or_else(|| ZkError::Encoding("verifying key too short".into()))
        };
        if word(14)? != u256(IC_OFFSET as u64) {
            return Err(ZkError::Encoding("ic offset is not 480".into()));
        }
        let len_word = word(15)?;
        if len_word[..24].iter().any(|b| *b != 0) {
            return Err(ZkError::Encoding("ic length too large".into()));
        }
        let len = u64::from_be_bytes(len_word[24..].try_into().expect("8 bytes")) as usize;
        if bytes.len() != IC_OFFSET + 32 + 64 * len {
            return Err(ZkError::Encoding(format!(
                "verifying key of {} bytes, expected {} for {len} ic points",
                bytes.len(),
                IC_OFFSET + 32 + 64 * len
            )));
        }
        let ws = |from: usize, n: usize| -> Result<Vec<Word>, ZkError> {
            (from..from + n).map(word).collect()
        };
        let arr2 = |v: Vec<Word>| -> [Word; 2] { v.try_into().expect("2 words") };
        let arr4 = |v: Vec<Word>| -> [Word; 4] { v.try_into().expect("4 words") };
        Ok(Self {
            alpha1: arr2(ws(0, 2)?),
            beta2: arr4(ws(2, 4)?),
            gamma2: arr4(ws(6, 4)?),
            delta2: arr4(ws(10, 4)?),
            ic: (0..len)
                .map(|i| ws(16 + 2 * i, 2).map(arr2))
                .collect::<Result<_, _>>()?,
        })
    }

    /// `vkHash = keccak(abi encoding)`.
    pub fn hash(&self) -> Word {
        keccak256(&self.to_abi())
    }
}

fn u256(v: u64) -> Word {
    let mut w = [0u8; 32];
    w[24..].copy_from_slice(&v.to_be_bytes());
    w
}

/// The verifying key's ABI bytes.
pub fn vk_abi(vk: &VerifyingKey<Curve>) -> Vec<u8> {
    EvmVerifyingKey::from_vk(vk).to_abi()
}

/// `vkHash = keccak(vk_abi(vk))`: what the circuit table commits to.
pub fn vk_hash(vk: &VerifyingKey<Curve>) -> Word {
    EvmVerifyingKey::from_vk(vk).hash()
}

/// `uint256[8] (a.x, a.y, b.x_im, b.x_re, b.y_im, b.y_re, c.x, c.y)`.
pub fn proof_to_words(proof: &Proof<Curve>) -> [Word; 8] {
    let a = g1_to_words(&proof.a);
    let b = g2_to_words(&proof.b);
    let c = g1_to_words(&proof.c);
    [a[0], a[1], b[0], b[1], b[2], b[3], c[0], c[1]]
}

/// The inverse of [`proof_to_words`], checking every point.
pub fn proof_from_words(w: &[Word; 8]) -> Result<Proof<Curve>, ZkError> {
    Ok(Proof {
        a: g1_from_words(&[w[0], w[1]])?,
        b: g2_from_words(&[w[2], w[3], w[4], w[5]])?,
        c: g1_from_words(&[w[6], w[7]])?,
    })
}

/// Public inputs as decimal strings.
pub fn public_inputs_to_decimal(inputs: &[Fr]) -> Vec<String> {
    inputs
        .iter()
        .map(|x| word_to_decimal(&fr_to_word(x)))
        .collect()
}

/// Decimal strings as public inputs (each below `r`).
pub fn public_inputs_from_decimal(inputs: &[String]) -> Result<Vec<Fr>, ZkError> {
    inputs
        .iter()
        .map(|s| fr_from_word(&word_from_decimal(s)?))
        .collect()
}

/// The verifying key as the JSON vectors write it: every coordinate a decimal string.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VkJson {
    /// `[x, y]`.
    pub alpha1: [String; 2],
    /// `[x_im, x_re, y_im, y_re]`.
    pub beta2: [String; 4],
    /// `[x_im, x_re, y_im, y_re]`.
    pub gamma2: [String; 4],
    /// `[x_im, x_re, y_im, y_re]`.
    pub delta2: [String; 4],
    /// `[[x, y], …]`.
    pub ic: Vec<[String; 2]>,
}

impl From<&EvmVerifyingKey> for VkJson {
    fn from(vk: &EvmVerifyingKey) -> Self {
        let dec = |ws: &[Word]| ws.iter().map(word_to_decimal).collect::<Vec<_>>();
        Self {
            alpha1: dec(&vk.alpha1).try_into().expect("2"),
            beta2: dec(&vk.beta2).try_into().expect("4"),
            gamma2: dec(&vk.gamma2).try_into().expect("4"),
            delta2: dec(&vk.delta2).try_into().expect("4"),
            ic: vk
                .ic
                .iter()
                .map(|p| dec(p).try_into().expect("2"))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ec::CurveGroup;
    use ark_std::UniformRand;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    #[test]
    fn g2_generator_in_eip197_order() {
        // The BN254 G2 generator as EIP-197 precompile callers write it (x_im, x_re, y_im,
        // y_re); arkworks has x.c0 = 1085…, x.c1 = 1155…, so c1 (imaginary) comes first.
        let words = g2_to_words(&G2Affine::generator());
        let dec: Vec<String> = words.iter().map(word_to_decimal).collect();
        assert_eq!(
            dec,
            [
                "11559732032986387107991004021392285783925812861821192530917403151452391805634",
                "10857046999023057135944570762232829481370756359578518086990519993285655852781",
                "4082367875863433681332203403145435568316851327593401208105741076214120093531",
                "8495653923123431417604973247489272438418190587263600148770280649306958101930",
            ]
        );
        assert_eq!(
            g1_to_words(&G1Affine::generator()).map(|w| word_to_decimal(&w)),
            ["1", "2"]
        );
        // Swapping real and imaginary parts gives a point off the twist: the order matters.
        let swapped = [words[1], words[0], words[3], words[2]];
        assert!(g2_from_words(&swapped).is_err());
    }

    #[test]
    fn points_round_trip_and_bad_points_are_refused() {
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        for _ in 0..5 {
            let p = ark_bn254::G1Projective::rand(&mut rng).into_affine();
            let q = ark_bn254::G2Projective::rand(&mut rng).into_affine();
            assert_eq!(g1_from_words(&g1_to_words(&p)).unwrap(), p);
            assert_eq!(g2_from_words(&g2_to_words(&q)).unwrap(), q);
        }
        assert!(g1_from_words(&g1_to_words(&G1Affine::zero()))
            .unwrap()
            .is_zero());
        assert!(g2_from_words(&g2_to_words(&G2Affine::zero()))
            .unwrap()
            .is_zero());
        let mut off = g1_to_words(&G1Affine::generator());
        off[1][31] ^= 1; // (1, 3) is not on y^2 = x^3 + 3
        assert!(g1_from_words(&off).is_err());
        let p_word = fq_to_word(&Fq::zero());
        let mut too_big = [p_word; 2];
        too_big[0] = word_from_decimal(
            "21888242871839275222246405745257275088696311157297823662689037894645226208583",
        )
        .unwrap();
        assert!(g1_from_words(&too_big).is_err());
    }

    #[test]
    fn decimal_words_and_scalars() {
        let w = word_from_decimal("258").unwrap();
        assert_eq!(&w[30..], &[1, 2]);
        assert_eq!(word_to_decimal(&w), "258");
        assert!(word_from_decimal("12a").is_err());
        assert!(word_from_decimal(&"9".repeat(80)).is_err());
        let r = "21888242871839275222246405745257275088548364400416034343698204186575808495617";
        assert!(fr_from_word(&word_from_decimal(r).unwrap()).is_err());
        let x = -Fr::from(1u64);
        assert_eq!(
            public_inputs_to_decimal(&[x]),
            ["21888242871839275222246405745257275088548364400416034343698204186575808495616"]
        );
        assert_eq!(
            public_inputs_from_decimal(&public_inputs_to_decimal(&[x])).unwrap(),
            [x]
        );
    }

    #[test]
    fn vk_abi_layout() {
        let mut rng = ChaCha20Rng::seed_from_u64(6);
        let g1 = |rng: &mut ChaCha20Rng| ark_bn254::G1Projective::rand(rng).into_affine();
        let g2 = |rng: &mut ChaCha20Rng| ark_bn254::G2Projective::rand(rng).into_affine();
        let vk = VerifyingKey::<Curve> {
            alpha_g1: g1(&mut rng),
            beta_g2: g2(&mut rng),
            gamma_g2: g2(&mut rng),
            delta_g2: g2(&mut rng),
            gamma_abc_g1: vec![g1(&mut rng), g1(&mut rng), g1(&mut rng)],
        };
        let abi = vk_abi(&vk);
        assert_eq!(abi.len(), 512 + 64 * 3);
        assert_eq!(&abi[0..32], &g1_to_words(&vk.alpha_g1)[0]);
        assert_eq!(&abi[64..96], &g2_to_words(&vk.beta_g2)[0]);
        assert_eq!(&abi[320..352], &g2_to_words(&vk.delta_g2)[0]);
        assert_eq!(&abi[448..480], &u256(480));
        assert_eq!(&abi[480..512], &u256(3));
        assert_eq!(&abi[512..544], &g1_to_words(&vk.gamma_abc_g1[0])[0]);
        assert_eq!(&abi[abi.len() - 32..], &g1_to_words(&vk.gamma_abc_g1[2])[1]);
        let back = EvmVerifyingKey::from_abi(&abi).unwrap();
        assert_eq!(back.to_vk().unwrap(), vk);
        assert_eq!(vk_hash(&vk), keccak256(&abi));
        assert!(EvmVerifyingKey::from_abi(&abi[..abi.len() - 1]).is_err());
        let mut bad_offset = abi.clone();
        bad_offset[479] = 0x40;
        assert!(EvmVerifyingKey::from_abi(&bad_offset).is_err());
    }
}
