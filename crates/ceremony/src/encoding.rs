//! Field and point encodings of the snarkjs files.
//!
//! - Scalars in `.r1cs` and `.wtns`: 32 bytes, little-endian, normal form.
//! - Points in `.ptau` and `.zkey` ("LEM"): affine coordinates, each 32 bytes little-endian in
//!   Montgomery form (`x·2^256 mod q`), `x` then `y`; an `Fq2` coordinate is `c0` then `c1`.
//!   The point at infinity is all zeros.
//! - Points hashed into transcripts ("U", uncompressed): big-endian normal form, `x` then `y`;
//!   an `Fq2` coordinate is `c1` then `c0`. The point at infinity is all zeros.

use ark_bn254::{Fq, Fq2, Fr, G1Affine, G2Affine};
use ark_ec::AffineRepr;
use ark_ff::{BigInt, BigInteger, PrimeField, Zero};

use crate::error::{format, CeremonyError};

/// Bytes of a G1 point in LEM form.
pub const G1_BYTES: usize = 64;
/// Bytes of a G2 point in LEM form.
pub const G2_BYTES: usize = 128;

fn limbs(bytes: &[u8]) -> BigInt<4> {
    let mut l = [0u64; 4];
    for (k, limb) in l.iter_mut().enumerate() {
        *limb = u64::from_le_bytes(bytes[8 * k..8 * k + 8].try_into().expect("8 bytes"));
    }
    BigInt::new(l)
}

/// A scalar from 32 little-endian bytes in normal form (must be below r).
pub fn fr_from_le(bytes: &[u8], file: &'static str) -> Result<Fr, CeremonyError> {
    Fr::from_bigint(limbs(bytes)).ok_or_else(|| format(file, "a scalar is not below r"))
}

/// A scalar as 32 little-endian bytes in normal form.
pub fn fr_to_le(x: &Fr) -> [u8; 32] {
    x.into_bigint().to_bytes_le().try_into().expect("32 bytes")
}

/// The modulus r, 32 bytes little-endian.
pub fn r_le() -> [u8; 32] {
    Fr::MODULUS.to_bytes_le().try_into().expect("32 bytes")
}

/// The modulus q, 32 bytes little-endian.
pub fn q_le() -> [u8; 32] {
    Fq::MODULUS.to_bytes_le().try_into().expect("32 bytes")
}

fn fq_from_mont(bytes: &[u8], file: &'static str) -> Result<Fq, CeremonyError> {
    let b = limbs(bytes);
    if b >= Fq::MODULUS {
        return Err(format(file, "a coordinate is not below q"));
    }
    Ok(Fq::new_unchecked(b))
}

fn fq_to_mont(x: &Fq, out: &mut Vec<u8>) {
    out.extend_from_slice(&x.0.to_bytes_le());
}

fn fq_to_be(x: &Fq, out: &mut Vec<u8>) {
    out.extend_from_slice(&x.into_bigint().to_bytes_be());
}

/// A G1 point from its LEM encoding; checks it is on the curve (G1 has cofactor 1).
pub fn g1_from_lem(bytes: &[u8], file: &'static str) -> Result<G1Affine, CeremonyError> {
    let x = fq_from_mont(&bytes[..32], file)?;
    let y = fq_from_mont(&bytes[32..64], file)?;
    if x.is_zero() && y.is_zero() {
        return Ok(G1Affine::zero());
    }
    let p = G1Affine::new_unchecked(x, y);
    if !p.is_on_curve() {
        return Err(format(file, "a G1 point is not on the curve"));
    }
    Ok(p)
}

/// A G2 point from its LEM encoding; checks it is on the curve and, if `subgroup`, in the
/// prime-order subgroup (that check costs a scalar multiplication).
pub fn g2_from_lem(
    bytes: &[u8],
    file: &'static str,
    subgroup: bool,
) -> Result<G2Affine, CeremonyError> {
    let c = |k: usize| fq_from_mont(&bytes[32 * k..32 * k + 32], file);
    let x = Fq2::new(c(0)?, c(1)?);
    let y = Fq2::new(c(2)?, c(3)?);
    if x.is_zero() && y.is_zero() {
        return Ok(G2Affine::zero());
    }
    let p = G2Affine::new_unchecked(x, y);
    if !p.is_on_curve() {
        return Err(format(file, "a G2 point is not on the curve"));
    }
    if subgroup && !p.is_in_correct_subgroup_assuming_on_curve() {
        return Err(format(
            file,
            "a G2 point is not in the prime-order subgroup",
        ));
    }
    Ok(p)
}

/// Appends the LEM encoding of a G1 point.
pub fn g1_to_lem(p: &G1Affine, out: &mut Vec<u8>) {
    match p.xy() {
        None => out.extend_from_slice(&[0u8; G1_BYTES]),
        Some((x, y)) => {
            fq_to_mont(&x, out);
            fq_to_mont(&y, out);
        }
    }
}

/// Appends the LEM encoding of a G2 point.
pub fn g2_to_lem(p: &G2Affine, out: &mut Vec<u8>) {
    match p.xy() {
        None => out.extend_from_slice(&[0u8; G2_BYTES]),
        Some((x, y)) => {
            for c in [x.c0, x.c1, y.c0, y.c1] {
                fq_to_mont(&c, out);
            }
        }
    }
}

/// Appends the uncompressed ("U") encoding of a G1 point, as snarkjs hashes it.
pub fn g1_to_u(p: &G1Affine, out: &mut Vec<u8>) {
    match p.xy() {
        None => out.extend_from_slice(&[0u8; G1_BYTES]),
        Some((x, y)) => {
            fq_to_be(&x, out);
            fq_to_be(&y, out);
        }
    }
}

/// Appends the uncompressed ("U") encoding of a G2 point, as snarkjs hashes it.
pub fn g2_to_u(p: &G2Affine, out: &mut Vec<u8>) {
    match p.xy() {
        None => out.extend_from_slice(&[0u8; G2_BYTES]),
        Some((x, y)) => {
            for c in [x.c1, x.c0, y.c1, y.c0] {
                fq_to_be(&c, out);
            }
        }
    }
}

/// G1 points from consecutive LEM encodings.
pub fn g1s_from_lem(bytes: &[u8], file: &'static str) -> Result<Vec<G1Affine>, CeremonyError> {
    use rayon::prelude::*;
    if !bytes.len().is_multiple_of(G1_BYTES) {
        return Err(format(file, "a G1 section is not a whole number of points"));
    }
    bytes
        .par_chunks(G1_BYTES)
        .map(|c| g1_from_lem(c, file))
        .collect()
}

/// G2 points from consecutive LEM encodings (on-curve checked, not subgroup checked).
pub fn g2s_from_lem(bytes: &[u8], file: &'static str) -> Result<Vec<G2Affine>, CeremonyError> {
    use rayon::prelude::*;
    if !bytes.len().is_multiple_of(G2_BYTES) {
        return Err(format(file, "a G2 section is not a whole number of points"));
    }
    bytes
        .par_chunks(G2_BYTES)
        .map(|c| g2_from_lem(c, file, false))
        .collect()
}

/// The LEM encodings of G1 points, concatenated.
pub fn g1s_to_lem(points: &[G1Affine]) -> Vec<u8> {
    let mut out = Vec::with_capacity(points.len() * G1_BYTES);
    points.iter().for_each(|p| g1_to_lem(p, &mut out));
    out
}

/// The LEM encodings of G2 points, concatenated.
pub fn g2s_to_lem(points: &[G2Affine]) -> Vec<u8> {
    let mut out = Vec::with_capacity(points.len() * G2_BYTES);
    points.iter().for_each(|p| g2_to_lem(p, &mut out));
    out
}
