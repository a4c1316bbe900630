//! Phase-2 contributions and their verification, interoperable with snarkjs
//! (`zkey contribute` / `zkey verify`).
//!
//! A contribution with secret `x` multiplies `[δ]₁`, `[δ]₂` by `x` and divides every point of
//! L and H by `x`. It records `deltaAfter = [δ·x]₁`, a random `s ∈ G1`, `x·s`, the transcript
//! `blake2b-512(csHash ‖ earlier contributions ‖ s ‖ x·s)` and `x·hashToG2(transcript)`:
//! the pairing checks `e(s, x·g) = e(x·s, g)` with `g = hashToG2(transcript)` prove knowledge
//! of `x` bound to this place in the chain, and `e(δ_prev, x·g) = e(deltaAfter, g)` that the
//! new delta is the previous one times `x`. Verification recomputes the initial key from the
//! `.ptau` and the circuit, checks the chain, that only δ, L and H changed, and (with random
//! linear combinations) that L and H were divided by the final δ.
//!
//! `hashToG2` is snarkjs's: a ChaCha20 stream seeded with the first 32 bytes of the
//! transcript (eight big-endian words) drives ffjavascript's `G2.fromRng` (x from two field
//! draws, a sign bit, then multiplication by the cofactor). It must be bit-exact, or snarkjs
//! rejects our contributions and we reject theirs.

use ark_bn254::{Bn254, Fq, Fq2, Fr, G1Affine, G1Projective, G2Affine};
use ark_ec::{
    pairing::Pairing, short_weierstrass::SWCurveConfig, AffineRepr, CurveGroup, VariableBaseMSM,
};
use ark_ff::{BigInt, Field, PrimeField, UniformRand, Zero};
use blake2::{Blake2b512, Digest};
use rand_core::{CryptoRng, RngCore};
use rayon::prelude::*;

use crate::encoding::{g1_to_u, g2_to_u};
use crate::error::{format, CeremonyError};
use crate::zkey::{Contribution, Zkey};

/// ffjavascript's ChaCha20 stream (its `ChaCha` class): 20 rounds, a 64-bit block counter in
/// words 12-15, words emitted in order.
pub struct SnarkjsChaCha {
    state: [u32; 16],
    block: [u32; 16],
    idx: usize,
}

fn quarter(s: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize) {
    s[a] = s[a].wrapping_add(s[b]);
    s[d] = (s[d] ^ s[a]).rotate_left(16);
    s[c] = s[c].wrapping_add(s[d]);
    s[b] = (s[b] ^ s[c]).rotate_left(12);
    s[a] = s[a].wrapping_add(s[b]);
    s[d] = (s[d] ^ s[a]).rotate_left(8);
    s[c] = s[c].wrapping_add(s[d]);
    s[b] = (s[b] ^ s[c]).rotate_left(7);
}

impl SnarkjsChaCha {
    /// A stream from an 8-word seed.
    pub fn new(seed: [u32; 8]) -> Self {
        let mut state = [0u32; 16];
        state[..4].copy_from_slice(&[0x6170_7865, 0x3320_646E, 0x7962_2D32, 0x6B20_6574]);
        state[4..12].copy_from_slice(&seed);
        Self {
            state,
            block: [0; 16],
            idx: 16,
        }
    }

    fn refill(&mut self) {
        let mut b = self.state;
        for _ in 0..10 {
            quarter(&mut b, 0, 4, 8, 12);
            quarter(&mut b, 1, 5, 9, 13);
            quarter(&mut b, 2, 6, 10, 14);
            quarter(&mut b, 3, 7, 11, 15);
            quarter(&mut b, 0, 5, 10, 15);
            quarter(&mut b, 1, 6, 11, 12);
            quarter(&mut b, 2, 7, 8, 13);
            quarter(&mut b, 3, 4, 9, 14);
        }
        for (o, s) in b.iter_mut().zip(&self.state) {
            *o = o.wrapping_add(*s);
        }
        self.block = b;
        self.idx = 0;
        for k in 12..16 {
            self.state[k] = self.state[k].wrapping_add(1);
            if self.state[k] != 0 {
                break;
            }
        }
    }

    /// The next word.
    pub fn next_u32(&mut self) -> u32 {
        if self.idx == 16 {
            self.refill();
        }
        let w = self.block[self.idx];
        self.idx += 1;
        w
    }

    /// The next 64 bits: the first word is the high half.
    pub fn next_u64(&mut self) -> u64 {
        let hi = self.next_u32() as u64;
        let lo = self.next_u32() as u64;
        (hi << 32) | lo
    }

    /// The low bit of the next word.
    pub fn next_bool(&mut self) -> bool {
        self.next_u32() & 1 == 1
    }
}

/// ffjavascript's `F1.fromRng` over Fq: four 64-bit draws (least significant first), masked
/// to 254 bits, redrawn while not below q, taken as the *Montgomery* representation.
fn fq_from_rng(rng: &mut SnarkjsChaCha) -> Fq {
    loop {
        let mut l = [0u64; 4];
        for limb in l.iter_mut() {
            *limb = rng.next_u64();
        }
        l[3] &= (1u64 << 62) - 1;
        let b = BigInt::new(l);
        if b < Fq::MODULUS {
            return Fq::new_unchecked(b);
        }
    }
}

/// wasmcurves' `isNegative`: the normal form is above `(q - 1)/2` (for Fq2: of `c1`, or of
/// `c0` when `c1` is zero).
fn is_negative(y: &Fq2) -> bool {
    let neg = |x: &Fq| x.into_bigint() > Fq::MODULUS_MINUS_ONE_DIV_TWO;
    if y.c1.is_zero() {
        neg(&y.c0)
    } else {
        neg(&y.c1)
    }
}

/// snarkjs's `hashToG2(curve, hash)`.
pub fn hash_to_g2(hash: &[u8; 64]) -> G2Affine {
    let mut seed = [0u32; 8];
    for (k, w) in seed.iter_mut().enumerate() {
        *w = u32::from_be_bytes(hash[4 * k..4 * k + 4].try_into().expect("4 bytes"));
    }
    let mut rng = SnarkjsChaCha::new(seed);
    loop {
        let c0 = fq_from_rng(&mut rng);
        let c1 = fq_from_rng(&mut rng);
        let x = Fq2::new(c0, c1);
        let greatest = rng.next_bool();
        let rhs = x * x.square() + ark_bn254::g2::Config::COEFF_B;
        if let Some(mut y) = rhs.sqrt() {
            if greatest ^ is_negative(&y) {
                y = -y;
            }
            return G2Affine::new_unchecked(x, y).mul_by_cofactor();
        }
    }
}

fn u_g1(h: &mut Blake2b512, p: &G1Affine) {
    let mut b = Vec::with_capacity(64);
    g1_to_u(p, &mut b);
    h.update(&b);
}

fn u_g2(h: &mut Blake2b512, p: &G2Affine) {
    let mut b = Vec::with_capacity(128);
    g2_to_u(p, &mut b);
    h.update(&b);
}

/// snarkjs's `hashPubKey`: what a contribution adds to the running transcript hash.
fn hash_pub_key(h: &mut Blake2b512, c: &Contribution) {
    u_g1(h, &c.delta_after);
    u_g1(h, &c.g1_s);
    u_g1(h, &c.g1_sx);
    u_g2(h, &c.g2_spx);
    h.update(c.transcript);
}

/// The hash snarkjs prints for a contribution ("Contribution Hash").
pub fn contribution_hash(c: &Contribution) -> [u8; 64] {
    let mut h = Blake2b512::new();
    hash_pub_key(&mut h, c);
    h.finalize().into()
}

/// `e(a1, b2) = e(b1, a2)`: `b1/a1` in G1 is the ratio `b2/a2` in G2.
pub fn same_ratio(a1: &G1Affine, b1: &G1Affine, a2: &G2Affine, b2: &G2Affine) -> bool {
    if a1.is_zero() || b1.is_zero() || a2.is_zero() || b2.is_zero() {
        return false;
    }
    Bn254::multi_pairing([*a1, -*b1], [*b2, *a2]).is_zero()
}

fn running_hash(zkey: &Zkey) -> Blake2b512 {
    let mut h = Blake2b512::new();
    h.update(zkey.mpc.cs_hash);
    for c in &zkey.mpc.contributions {
        hash_pub_key(&mut h, c);
    }
    h
}

/// `k·p` for every point; GLV (two half-length scalars) since every contribution rescales
/// every L and H point.
fn scale_g1(points: &[G1Affine], k: &Fr) -> Vec<G1Affine> {
    use ark_ec::scalar_mul::glv::GLVConfig;
    let p: Vec<G1Projective> = points
        .par_iter()
        .map(|p| <ark_bn254::g1::Config as GLVConfig>::glv_mul_projective(p.into_group(), *k))
        .collect();
    G1Projective::normalize_batch(&p)
}

/// Adds a contribution with a fresh secret from `rng` (which must be unpredictable: the
/// keys are sound if one contributor's secret is lost). Returns the new key and the
/// contribution hash.
pub fn contribute<R: RngCore + CryptoRng>(
    zkey: &Zkey,
    name: Option<&str>,
    rng: &mut R,
) -> Result<(Zkey, [u8; 64]), CeremonyError> {
    let mut x = Fr::rand(rng);
    while x.is_zero() {
        x = Fr::rand(rng);
    }
    let mut s = Fr::rand(rng);
    while s.is_zero() {
        s = Fr::rand(rng);
    }
    let g1_s = (G1Affine::generator() * s).into_affine();
    let g1_sx = (g1_s * x).into_affine();
    let mut h = running_hash(zkey);
    u_g1(&mut h, &g1_s);
    u_g1(&mut h, &g1_sx);
    let transcript: [u8; 64] = h.finalize().into();
    let g2_spx = (hash_to_g2(&transcript) * x).into_affine();
    let mut next = zkey.clone();
    next.delta1 = (zkey.delta1 * x).into_affine();
    next.delta2 = (zkey.delta2 * x).into_affine();
    let inv = x.inverse().expect("x is not zero");
    next.l = scale_g1(&zkey.l, &inv);
    next.h = scale_g1(&zkey.h, &inv);
    let c = Contribution {
        delta_after: next.delta1,
        g1_s,
        g1_sx,
        g2_spx,
        transcript,
        kind: 0,
        params: name.map(Contribution::name_params).unwrap_or_default(),
    };
    let hash = contribution_hash(&c);
    next.mpc.contributions.push(c);
    Ok((next, hash))
}

/// What a verified key's transcript says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The circuit hash (blake2b-512 of the initial key).
    pub cs_hash: [u8; 64],
    /// The contributions' hashes and names, oldest first.
    pub contributions: Vec<([u8; 64], Option<String>)>,
    /// `keccak256` of the transcript section: the hash the registry records for this circuit.
    pub transcript_hash: [u8; 32],
}

/// `keccak256` of a key's transcript section (circuit hash and every contribution, so the
/// final δ too).
pub fn transcript_hash(zkey: &Zkey) -> [u8; 32] {
    zkopml_zk::groth16::keccak256(&zkey.mpc.to_bytes())
}

fn ratio_check(
    name: &'static str,
    init: &[G1Affine],
    fin: &[G1Affine],
    delta2: &G2Affine,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<(), CeremonyError> {
    if init.len() != fin.len() {
        return Err(CeremonyError::RatioMismatch(name));
    }
    if init.is_empty() {
        return Ok(());
    }
    let rho: Vec<Fr> = (0..init.len()).map(|_| Fr::rand(rng)).collect();
    let r1 = G1Projective::msm(init, &rho).expect("equal lengths");
    let r2 = G1Projective::msm(fin, &rho).expect("equal lengths");
    if r1.is_zero() && r2.is_zero() {
        return Ok(());
    }
    // init = δ·fin: e(R1, g2) = e(R2, δ·g2).
    if !same_ratio(
        &r1.into_affine(),
        &r2.into_affine(),
        delta2,
        &G2Affine::generator(),
    ) {
        return Err(CeremonyError::RatioMismatch(name));
    }
    Ok(())
}

/// Verifies `zkey` against `init`, the initial key of the same circuit derived from the
/// trusted `.ptau` ([`Zkey::new`]): as `snarkjs zkey verify` does.
pub fn verify<R: RngCore + CryptoRng>(
    init: &Zkey,
    zkey: &Zkey,
    rng: &mut R,
) -> Result<Verified, CeremonyError> {
    if (init.n_vars, init.n_public, init.domain_size)
        != (zkey.n_vars, zkey.n_public, zkey.domain_size)
    {
        return Err(CeremonyError::CircuitMismatch(format!(
            "(variables, public inputs, domain) are {:?}, the circuit's are {:?}",
            (zkey.n_vars, zkey.n_public, zkey.domain_size),
            (init.n_vars, init.n_public, init.domain_size)
        )));
    }
    if init.mpc.cs_hash != zkey.mpc.cs_hash {
        return Err(CeremonyError::CircuitMismatch(
            "its circuit hash is not the hash of the initial key".into(),
        ));
    }
    let mut acc = Blake2b512::new();
    acc.update(zkey.mpc.cs_hash);
    let mut cur = G1Affine::generator();
    let mut contributions = Vec::new();
    for (index, c) in zkey.mpc.contributions.iter().enumerate() {
        if c.kind != 0 {
            return Err(format(
                "zkey",
                format!("contribution {index} is a beacon (type {}), which this verifier does not check", c.kind),
            ));
        }
        let mut t = acc.clone();
        u_g1(&mut t, &c.g1_s);
        u_g1(&mut t, &c.g1_sx);
        let expected: [u8; 64] = t.finalize().into();
        if expected != c.transcript {
            return Err(CeremonyError::TranscriptMismatch { index });
        }
        let g2_sp = hash_to_g2(&c.transcript);
        if !same_ratio(&c.g1_s, &c.g1_sx, &g2_sp, &c.g2_spx) {
            return Err(CeremonyError::ProofOfKnowledge { index });
        }
        if !same_ratio(&cur, &c.delta_after, &g2_sp, &c.g2_spx) {
            return Err(CeremonyError::DeltaChain { index });
        }
        hash_pub_key(&mut acc, c);
        contributions.push((contribution_hash(c), c.name()));
        cur = c.delta_after;
    }
    if zkey.delta1 != cur {
        return Err(CeremonyError::FinalDelta("[δ]₁"));
    }
    if !same_ratio(
        &G1Affine::generator(),
        &cur,
        &G2Affine::generator(),
        &zkey.delta2,
    ) {
        return Err(CeremonyError::FinalDelta("[δ]₂"));
    }
    let same = [
        (
            "header (α, β, γ)",
            (init.alpha1, init.beta1) == (zkey.alpha1, zkey.beta1)
                && (init.beta2, init.gamma2) == (zkey.beta2, zkey.gamma2),
        ),
        ("3 (IC)", init.ic == zkey.ic),
        ("4 (coefficients)", init.coefs == zkey.coefs),
        ("5 (A)", init.a == zkey.a),
        ("6 (B in G1)", init.b1 == zkey.b1),
        ("7 (B in G2)", init.b2 == zkey.b2),
    ];
    if let Some((name, _)) = same.iter().find(|s| !s.1) {
        return Err(CeremonyError::SectionChanged(name));
    }
    // The initial key has δ = 1, so L and H must be init/δ.
    ratio_check("8 (L)", &init.l, &zkey.l, &zkey.delta2, rng)?;
    ratio_check("9 (H)", &init.h, &zkey.h, &zkey.delta2, rng)?;
    if init.delta1 != G1Affine::generator() || init.delta2 != G2Affine::generator() {
        return Err(CeremonyError::CircuitMismatch(
            "the initial key's δ is not 1".into(),
        ));
    }
    Ok(Verified {
        cs_hash: zkey.mpc.cs_hash,
        contributions,
        transcript_hash: transcript_hash(zkey),
    })
}
