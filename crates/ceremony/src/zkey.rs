//! Phase 2 keys: snarkjs's Groth16 `.zkey` file, read, written, and derived from a `.ptau`
//! the way `snarkjs zkey new` derives it.
//!
//! Sections: 1 protocol (`1` = Groth16); 2 header (`n8q`, q, `n8r`, r, variables, public
//! inputs, domain size, `[α]₁ [β]₁ [β]₂ [γ]₂ [δ]₁ [δ]₂`); 3 IC (`n_public + 1` points);
//! 4 coefficients of A and B (kept verbatim); 5 A, 6 B in G1, 7 B in G2 (one per variable);
//! 8 L ("C": the private variables' `(β·A_i + α·B_i + C_i)/δ`); 9 H (`L_{2n,2i+1}(τ)/δ`);
//! 10 the MPC transcript (circuit hash and contributions). See [`crate::mpc`].

use std::path::Path;

use ark_bn254::{Fr, G1Affine, G1Projective, G2Affine, G2Projective};
use ark_ec::{scalar_mul::glv::GLVConfig, AffineRepr, CurveGroup};
use ark_ff::{Field, PrimeField};
use ark_groth16::{ProvingKey, VerifyingKey};
use blake2::{Blake2b512, Digest};
use rayon::prelude::*;
use zkopml_zk::groth16::{CircuitInfo, Keys, QapForm};

use crate::binfile::{parse_all, write_bin, Cursor};
use crate::encoding::*;
use crate::error::{format, CeremonyError};
use crate::ptau::Ptau;
use crate::r1cs::R1cs;

/// One phase-2 contribution as the zkey records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contribution {
    /// `[δ]₁` after this contribution.
    pub delta_after: G1Affine,
    /// A random point `s` in G1.
    pub g1_s: G1Affine,
    /// `x·s`, for the contributed secret `x`.
    pub g1_sx: G1Affine,
    /// `x·hashToG2(transcript)`.
    pub g2_spx: G2Affine,
    /// blake2b-512 of the circuit hash, the earlier contributions and `g1_s`, `g1_sx`.
    pub transcript: [u8; 64],
    /// 0 = a contribution, 1 = a beacon.
    pub kind: u32,
    /// The parameters (name, beacon) exactly as stored.
    pub params: Vec<u8>,
}

impl Contribution {
    /// The contributor's name, if it gave one (parameter 1 of the params field).
    pub fn name(&self) -> Option<String> {
        let p = &self.params;
        let mut k = 0;
        while k < p.len() {
            match p[k] {
                1 => {
                    let len = *p.get(k + 1)? as usize;
                    let b = p.get(k + 2..k + 2 + len)?;
                    return Some(String::from_utf8_lossy(b).into_owned());
                }
                2 => k += 2,
                3 => k += 2 + *p.get(k + 1)? as usize,
                _ => return None,
            }
        }
        None
    }

    /// The params field for a name (at most 64 bytes, as snarkjs cuts it).
    pub fn name_params(name: &str) -> Vec<u8> {
        let mut end = name.len().min(64);
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        let mut p = vec![1u8, end as u8];
        p.extend_from_slice(&name.as_bytes()[..end]);
        p
    }
}

/// The MPC section: the circuit hash and the contributions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MpcParams {
    /// blake2b-512 of the initial key (see [`Zkey::new`]).
    pub cs_hash: [u8; 64],
    /// The contributions, oldest first.
    pub contributions: Vec<Contribution>,
}

/// A Groth16 `.zkey`.
#[derive(Clone, Debug, PartialEq)]
pub struct Zkey {
    /// Variables (wires), including the constant 1.
    pub n_vars: usize,
    /// Public inputs.
    pub n_public: usize,
    /// The evaluation domain's size.
    pub domain_size: usize,
    /// `[α]₁`.
    pub alpha1: G1Affine,
    /// `[β]₁`.
    pub beta1: G1Affine,
    /// `[β]₂`.
    pub beta2: G2Affine,
    /// `[γ]₂` (the generator).
    pub gamma2: G2Affine,
    /// `[δ]₁`.
    pub delta1: G1Affine,
    /// `[δ]₂`.
    pub delta2: G2Affine,
    /// `[(β·A_i + α·B_i + C_i)(τ)/γ]₁` of the public variables.
    pub ic: Vec<G1Affine>,
    /// Section 4, verbatim.
    pub coefs: Vec<u8>,
    /// `[A_i(τ)]₁`.
    pub a: Vec<G1Affine>,
    /// `[B_i(τ)]₁`.
    pub b1: Vec<G1Affine>,
    /// `[B_i(τ)]₂`.
    pub b2: Vec<G2Affine>,
    /// `[(β·A_i + α·B_i + C_i)(τ)/δ]₁` of the private variables.
    pub l: Vec<G1Affine>,
    /// `[L_{2n,2i+1}(τ)/δ]₁`.
    pub h: Vec<G1Affine>,
    /// The transcript.
    pub mpc: MpcParams,
}

fn g1_proj_sum<'a>(terms: impl Iterator<Item = (&'a G1Affine, &'a Fr)>) -> G1Projective {
    terms.map(|(p, c)| mul_small_g1(p, c)).sum()
}

/// `c·p`, cheap when `c` or `-c` fits in 64 bits (most R1CS coefficients), else with the
/// GLV endomorphism.
fn mul_small_g1(p: &G1Affine, c: &Fr) -> G1Projective {
    let b = c.into_bigint();
    if b.0[1..].iter().all(|l| *l == 0) {
        return p.mul_bigint([b.0[0]]);
    }
    let n = (-*c).into_bigint();
    if n.0[1..].iter().all(|l| *l == 0) {
        return -p.mul_bigint([n.0[0]]);
    }
    <ark_bn254::g1::Config as GLVConfig>::glv_mul_projective(p.into_group(), *c)
}

fn mul_small_g2(p: &G2Affine, c: &Fr) -> G2Projective {
    let b = c.into_bigint();
    if b.0[1..].iter().all(|l| *l == 0) {
        return p.mul_bigint([b.0[0]]);
    }
    let n = (-*c).into_bigint();
    if n.0[1..].iter().all(|l| *l == 0) {
        return -p.mul_bigint([n.0[0]]);
    }
    <ark_bn254::g2::Config as GLVConfig>::glv_mul_projective(p.into_group(), *c)
}

fn hash_u32(h: &mut Blake2b512, n: usize) {
    h.update((n as u32).to_be_bytes());
}

fn hash_g1s(h: &mut Blake2b512, points: &[G1Affine]) {
    hash_u32(h, points.len());
    let mut buf = Vec::with_capacity(points.len() * G1_BYTES);
    points.iter().for_each(|p| g1_to_u(p, &mut buf));
    h.update(&buf);
}

fn hash_g2s(h: &mut Blake2b512, points: &[G2Affine]) {
    hash_u32(h, points.len());
    let mut buf = Vec::with_capacity(points.len() * G2_BYTES);
    points.iter().for_each(|p| g2_to_u(p, &mut buf));
    h.update(&buf);
}

/// `R² mod r` as a field element (snarkjs stores coefficients times it).
fn r_squared() -> Fr {
    Fr::from(2u64).pow([512u64])
}

impl Zkey {
    /// The initial key of `r1cs` from the phase-1 file: what `snarkjs zkey new` writes (δ = 1,
    /// γ = 1, no contributions), and the circuit hash that binds it.
    pub fn new(r1cs: &R1cs, ptau: &mut Ptau) -> Result<Self, CeremonyError> {
        let power = r1cs.domain_power();
        if power > ptau.power {
            return Err(CeremonyError::PtauTooSmall {
                needed: power,
                have: ptau.power,
                constraints: r1cs.num_constraints(),
                public: r1cs.n_public,
            });
        }
        let n = 1usize << power;
        let m = r1cs.num_constraints();
        let np = r1cs.n_public;
        let nv = r1cs.n_wires;
        let (alpha1, beta1, beta2) = ptau.alpha_beta()?;
        let (tau1, tau2, alpha_tau, beta_tau) = ptau.lagrange(power)?;
        let h = ptau.h_points(power)?;

        // Per wire: the (row, coefficient) terms of A, B and C.
        let mut at: Vec<Vec<(usize, Fr)>> = vec![Vec::new(); nv];
        let mut bt: Vec<Vec<(usize, Fr)>> = vec![Vec::new(); nv];
        let mut ct: Vec<Vec<(usize, Fr)>> = vec![Vec::new(); nv];
        let r2 = r_squared();
        let mut coefs = Vec::new();
        let mut n_coefs = 0u32;
        let mut push_coef = |coefs: &mut Vec<u8>, mat: u32, row: usize, wire: u32, c: &Fr| {
            coefs.extend_from_slice(&mat.to_le_bytes());
            coefs.extend_from_slice(&(row as u32).to_le_bytes());
            coefs.extend_from_slice(&wire.to_le_bytes());
            coefs.extend_from_slice(&fr_to_le(&(*c * r2)));
            n_coefs += 1;
        };
        for (row, [a, b, c]) in r1cs.constraints.iter().enumerate() {
            for (w, coef) in a {
                at[*w as usize].push((row, *coef));
                push_coef(&mut coefs, 0, row, *w, coef);
            }
            for (w, coef) in b {
                bt[*w as usize].push((row, *coef));
                push_coef(&mut coefs, 1, row, *w, coef);
            }
            for (w, coef) in c {
                ct[*w as usize].push((row, *coef));
            }
        }
        for (s, terms) in at.iter_mut().enumerate().take(np + 1) {
            terms.push((m + s, Fr::ONE));
            push_coef(&mut coefs, 0, m + s, s as u32, &Fr::ONE);
        }
        let mut coef_section = n_coefs.to_le_bytes().to_vec();
        coef_section.extend_from_slice(&coefs);

        let a: Vec<G1Projective> = at
            .par_iter()
            .map(|t| g1_proj_sum(t.iter().map(|(r, c)| (&tau1[*r], c))))
            .collect();
        let b1: Vec<G1Projective> = bt
            .par_iter()
            .map(|t| g1_proj_sum(t.iter().map(|(r, c)| (&tau1[*r], c))))
            .collect();
        let b2: Vec<G2Projective> = bt
            .par_iter()
            .map(|t| t.iter().map(|(r, c)| mul_small_g2(&tau2[*r], c)).sum())
            .collect();
        let k: Vec<G1Projective> = (0..nv)
            .into_par_iter()
            .map(|w| {
                g1_proj_sum(at[w].iter().map(|(r, c)| (&beta_tau[*r], c)))
                    + g1_proj_sum(bt[w].iter().map(|(r, c)| (&alpha_tau[*r], c)))
                    + g1_proj_sum(ct[w].iter().map(|(r, c)| (&tau1[*r], c)))
            })
            .collect();
        let k = G1Projective::normalize_batch(&k);
        let mut zkey = Zkey {
            n_vars: nv,
            n_public: np,
            domain_size: n,
            alpha1,
            beta1,
            beta2,
            gamma2: G2Affine::generator(),
            delta1: G1Affine::generator(),
            delta2: G2Affine::generator(),
            ic: k[..=np].to_vec(),
            coefs: coef_section,
            a: G1Projective::normalize_batch(&a),
            b1: G1Projective::normalize_batch(&b1),
            b2: G2Projective::normalize_batch(&b2),
            l: k[np + 1..].to_vec(),
            h,
            mpc: MpcParams {
                cs_hash: [0u8; 64],
                contributions: Vec::new(),
            },
        };
        // The circuit hash: the initial key, with H as [τ^i·Z(τ)]₁ (from the powers of τ).
        let tau = ptau.tau_powers_g1(2 * n as u64 - 1)?;
        let hz: Vec<G1Projective> = (0..n - 1)
            .into_par_iter()
            .map(|i| tau[i + n].into_group() - tau[i])
            .collect();
        let hz = G1Projective::normalize_batch(&hz);
        let mut hasher = Blake2b512::new();
        let mut buf = Vec::new();
        g1_to_u(&zkey.alpha1, &mut buf);
        g1_to_u(&zkey.beta1, &mut buf);
        g2_to_u(&zkey.beta2, &mut buf);
        g2_to_u(&zkey.gamma2, &mut buf);
        g1_to_u(&zkey.delta1, &mut buf);
        g2_to_u(&zkey.delta2, &mut buf);
        hasher.update(&buf);
        hash_g1s(&mut hasher, &zkey.ic);
        hash_g1s(&mut hasher, &hz);
        hash_g1s(&mut hasher, &zkey.l);
        hash_g1s(&mut hasher, &zkey.a);
        hash_g1s(&mut hasher, &zkey.b1);
        hash_g2s(&mut hasher, &zkey.b2);
        zkey.mpc.cs_hash = hasher.finalize().into();
        Ok(zkey)
    }

    /// The `.zkey` file.
    pub fn to_bytes(&self) -> Vec<u8> {
        let protocol = 1u32.to_le_bytes();
        let mut header = Vec::new();
        header.extend_from_slice(&32u32.to_le_bytes());
        header.extend_from_slice(&q_le());
        header.extend_from_slice(&32u32.to_le_bytes());
        header.extend_from_slice(&r_le());
        for v in [self.n_vars, self.n_public, self.domain_size] {
            header.extend_from_slice(&(v as u32).to_le_bytes());
        }
        g1_to_lem(&self.alpha1, &mut header);
        g1_to_lem(&self.beta1, &mut header);
        g2_to_lem(&self.beta2, &mut header);
        g2_to_lem(&self.gamma2, &mut header);
        g1_to_lem(&self.delta1, &mut header);
        g2_to_lem(&self.delta2, &mut header);
        let ic = g1s_to_lem(&self.ic);
        let a = g1s_to_lem(&self.a);
        let b1 = g1s_to_lem(&self.b1);
        let b2 = g2s_to_lem(&self.b2);
        let l = g1s_to_lem(&self.l);
        let h = g1s_to_lem(&self.h);
        let mpc = self.mpc.to_bytes();
        write_bin(
            b"zkey",
            1,
            &[
                (1, &protocol),
                (2, &header),
                (3, &ic),
                (4, &self.coefs),
                (5, &a),
                (6, &b1),
                (7, &b2),
                (8, &l),
                (9, &h),
                (10, &mpc),
            ],
        )
    }

    /// Reads a Groth16 `.zkey` over BN254 (snarkjs's or ours). Points are checked to be on
    /// the curve; the verifying key's G2 points also to be in the subgroup.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CeremonyError> {
        let sections = parse_all(bytes, "zkey")?;
        let get = |id: u32| {
            let mut it = sections.iter().filter(|s| s.0 == id);
            match (it.next(), it.next()) {
                (Some(s), None) => Ok(s.1),
                (None, _) => Err(format("zkey", format!("section {id} is missing"))),
                _ => Err(format("zkey", format!("section {id} appears twice"))),
            }
        };
        if get(1)? != 1u32.to_le_bytes() {
            return Err(format("zkey", "not a Groth16 key"));
        }
        let mut c = Cursor::new(get(2)?, "zkey");
        if c.u32()? != 32 || c.take(32)? != q_le() || c.u32()? != 32 || c.take(32)? != r_le() {
            return Err(format("zkey", "not over BN254"));
        }
        let n_vars = c.u32()? as usize;
        let n_public = c.u32()? as usize;
        let domain_size = c.u32()? as usize;
        if n_public + 1 > n_vars || !domain_size.is_power_of_two() {
            return Err(format("zkey", "inconsistent header"));
        }
        let alpha1 = g1_from_lem(c.take(G1_BYTES)?, "zkey")?;
        let beta1 = g1_from_lem(c.take(G1_BYTES)?, "zkey")?;
        let beta2 = g2_from_lem(c.take(G2_BYTES)?, "zkey", true)?;
        let gamma2 = g2_from_lem(c.take(G2_BYTES)?, "zkey", true)?;
        let delta1 = g1_from_lem(c.take(G1_BYTES)?, "zkey")?;
        let delta2 = g2_from_lem(c.take(G2_BYTES)?, "zkey", true)?;
        let sized_g1 = |id: u32, n: usize, what: &str| -> Result<Vec<G1Affine>, CeremonyError> {
            let s = get(id)?;
            if s.len() != n * G1_BYTES {
                return Err(format(
                    "zkey",
                    format!("section {id} ({what}) should hold {n} points"),
                ));
            }
            g1s_from_lem(s, "zkey")
        };
        let ic = sized_g1(3, n_public + 1, "IC")?;
        let a = sized_g1(5, n_vars, "A")?;
        let b1 = sized_g1(6, n_vars, "B1")?;
        let b2s = get(7)?;
        if b2s.len() != n_vars * G2_BYTES {
            return Err(format(
                "zkey",
                "section 7 (B2) should hold one point per variable",
            ));
        }
        let b2 = g2s_from_lem(b2s, "zkey")?;
        let l = sized_g1(8, n_vars - n_public - 1, "L")?;
        let h = sized_g1(9, domain_size, "H")?;
        let mpc = MpcParams::from_bytes(get(10)?)?;
        Ok(Self {
            n_vars,
            n_public,
            domain_size,
            alpha1,
            beta1,
            beta2,
            gamma2,
            delta1,
            delta2,
            ic,
            coefs: get(4)?.to_vec(),
            a,
            b1,
            b2,
            l,
            h,
            mpc,
        })
    }

    /// Reads a `.zkey` file.
    pub fn read(path: &Path) -> Result<Self, CeremonyError> {
        let bytes = std::fs::read(path).map_err(|source| CeremonyError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_bytes(&bytes)
    }

    /// Writes a `.zkey` file.
    pub fn write(&self, path: &Path) -> Result<(), CeremonyError> {
        std::fs::write(path, self.to_bytes()).map_err(|source| CeremonyError::Io {
            path: path.display().to_string(),
            source,
        })
    }

    /// The verifying key.
    pub fn vk(&self) -> VerifyingKey<ark_bn254::Bn254> {
        VerifyingKey {
            alpha_g1: self.alpha1,
            beta_g2: self.beta2,
            gamma_g2: self.gamma2,
            delta_g2: self.delta2,
            gamma_abc_g1: self.ic.clone(),
        }
    }

    /// The proving key for `zkopml_zk::groth16::prove`, for the circuit `info` (checked
    /// against the key's shape).
    pub fn keys(&self, info: CircuitInfo) -> Result<Keys, CeremonyError> {
        let rows = info.num_constraints + info.num_instance_variables;
        if info.num_instance_variables != self.n_public + 1
            || info.num_instance_variables + info.num_witness_variables != self.n_vars
            || rows.next_power_of_two() != self.domain_size
        {
            return Err(CeremonyError::CircuitMismatch(format!(
                "the key has {} variables, {} public inputs and a domain of {}; the circuit {} variables, {} public inputs and {} constraints",
                self.n_vars,
                self.n_public,
                self.domain_size,
                info.num_instance_variables + info.num_witness_variables,
                info.num_instance_variables - 1,
                info.num_constraints
            )));
        }
        Ok(Keys {
            info,
            pk: ProvingKey {
                vk: self.vk(),
                beta_g1: self.beta1,
                delta_g1: self.delta1,
                a_query: self.a.clone(),
                b_g1_query: self.b1.clone(),
                b_g2_query: self.b2.clone(),
                h_query: self.h.clone(),
                l_query: self.l.clone(),
            },
            qap: QapForm::Circom,
        })
    }
}

impl MpcParams {
    /// Section 10.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&self.cs_hash);
        out.extend_from_slice(&(self.contributions.len() as u32).to_le_bytes());
        for c in &self.contributions {
            g1_to_lem(&c.delta_after, &mut out);
            g1_to_lem(&c.g1_s, &mut out);
            g1_to_lem(&c.g1_sx, &mut out);
            g2_to_lem(&c.g2_spx, &mut out);
            out.extend_from_slice(&c.transcript);
            out.extend_from_slice(&c.kind.to_le_bytes());
            out.extend_from_slice(&(c.params.len() as u32).to_le_bytes());
            out.extend_from_slice(&c.params);
        }
        out
    }

    /// Parses section 10.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CeremonyError> {
        let mut c = Cursor::new(bytes, "zkey");
        let cs_hash: [u8; 64] = c.take(64)?.try_into().expect("64 bytes");
        let n = c.u32()?;
        let mut contributions = Vec::new();
        for _ in 0..n {
            let delta_after = g1_from_lem(c.take(G1_BYTES)?, "zkey")?;
            let g1_s = g1_from_lem(c.take(G1_BYTES)?, "zkey")?;
            let g1_sx = g1_from_lem(c.take(G1_BYTES)?, "zkey")?;
            let g2_spx = g2_from_lem(c.take(G2_BYTES)?, "zkey", true)?;
            let transcript: [u8; 64] = c.take(64)?.try_into().expect("64 bytes");
            let kind = c.u32()?;
            let len = c.u32()? as usize;
            let params = c.take(len)?.to_vec();
            contributions.push(Contribution {
                delta_after,
                g1_s,
                g1_sx,
                g2_spx,
                transcript,
                kind,
                params,
            });
        }
        if c.remaining() != 0 {
            return Err(format(
                "zkey",
                "trailing bytes in the contributions section",
            ));
        }
        Ok(Self {
            cs_hash,
            contributions,
        })
    }
}

/// blake2b-512 of `bytes` (the hash snarkjs uses throughout).
pub fn blake2b(bytes: &[u8]) -> [u8; 64] {
    Blake2b512::digest(bytes).into()
}
