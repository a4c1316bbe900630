//! Phase 1: a snarkjs Powers-of-Tau file (`.ptau`), read section by section.
//!
//! Sections used: 1 header (`n8`, q, power, ceremony power), 2 `[τ^i]₁` (`2^(p+1) - 1`
//! points), 4 `[α]₁`, 5 `[β]₁`, 6 `[β]₂`, and the Lagrange-basis sections that
//! `snarkjs powersoftau prepare phase2` adds: 12 `[L_i(τ)]₁`, 13 `[L_i(τ)]₂`, 14
//! `[α·L_i(τ)]₁`, 15 `[β·L_i(τ)]₁`, each the concatenation over domain sizes `2^0, 2^1, …`
//! (so the basis of the domain of size `n` starts at point `n - 1`).
//!
//! Points are checked to be on the curve, not that the file is a valid phase-1 transcript:
//! that is what `snarkjs powersoftau verify` (or the published hash of a public ceremony's
//! file) is for, and `docs/zk.md` says so.

use std::path::Path;

use ark_bn254::{G1Affine, G2Affine};

use crate::binfile::{BinReader, Cursor};
use crate::encoding::{
    g1_from_lem, g1s_from_lem, g2_from_lem, g2s_from_lem, q_le, G1_BYTES, G2_BYTES,
};
use crate::error::{format, CeremonyError};

/// The largest domain power this implementation sets up (BN254's Fr has 2-adicity 28; the
/// doubled domain of the H section must still exist).
pub const MAX_DOMAIN_POWER: u32 = 27;

/// An open `.ptau` file.
pub struct Ptau {
    file: BinReader,
    /// Powers of tau: the file holds `2^power` points per Lagrange basis.
    pub power: u32,
    /// Power of the ceremony the file came from.
    pub ceremony_power: u32,
}

impl Ptau {
    /// Opens a `.ptau` file and reads its header.
    pub fn open(path: &Path) -> Result<Self, CeremonyError> {
        let mut file = BinReader::open(path, "ptau")?;
        let header = file.section(1)?;
        let mut c = Cursor::new(&header, "ptau");
        if c.u32()? != 32 {
            return Err(CeremonyError::PtauCurve);
        }
        if c.take(32)? != q_le() {
            return Err(CeremonyError::PtauCurve);
        }
        let power = c.u32()?;
        let ceremony_power = c.u32()?;
        if power == 0 || power > 28 {
            return Err(format("ptau", format!("power {power} out of range")));
        }
        Ok(Self {
            file,
            power,
            ceremony_power,
        })
    }

    /// Whether the file has been prepared for phase 2.
    pub fn is_prepared(&self) -> bool {
        (12..=15).all(|s| self.file.has(s))
    }

    fn g1s(
        &mut self,
        section: u32,
        first: u64,
        count: u64,
    ) -> Result<Vec<G1Affine>, CeremonyError> {
        let bytes = self
            .file
            .read(section, first * G1_BYTES as u64, count * G1_BYTES as u64)?;
        g1s_from_lem(&bytes, "ptau")
    }

    /// `[α]₁`, `[β]₁`, `[β]₂`.
    pub fn alpha_beta(&mut self) -> Result<(G1Affine, G1Affine, G2Affine), CeremonyError> {
        let a = self.file.read(4, 0, G1_BYTES as u64)?;
        let b1 = self.file.read(5, 0, G1_BYTES as u64)?;
        let b2 = self.file.read(6, 0, G2_BYTES as u64)?;
        Ok((
            g1_from_lem(&a, "ptau")?,
            g1_from_lem(&b1, "ptau")?,
            g2_from_lem(&b2, "ptau", true)?,
        ))
    }

    fn check_domain(&self, power: u32) -> Result<(), CeremonyError> {
        if !self.is_prepared() {
            return Err(CeremonyError::PtauNotPrepared);
        }
        if power > MAX_DOMAIN_POWER {
            return Err(format(
                "ptau",
                format!("a domain of 2^{power} is not supported"),
            ));
        }
        Ok(())
    }

    /// The Lagrange bases of the domain of size `2^power`: `([L_i(τ)]₁, [L_i(τ)]₂,
    /// [α·L_i(τ)]₁, [β·L_i(τ)]₁)`.
    #[allow(clippy::type_complexity)]
    pub fn lagrange(
        &mut self,
        power: u32,
    ) -> Result<(Vec<G1Affine>, Vec<G2Affine>, Vec<G1Affine>, Vec<G1Affine>), CeremonyError> {
        self.check_domain(power)?;
        let n = 1u64 << power;
        let tau1 = self.g1s(12, n - 1, n)?;
        let bytes = self
            .file
            .read(13, (n - 1) * G2_BYTES as u64, n * G2_BYTES as u64)?;
        let tau2 = g2s_from_lem(&bytes, "ptau")?;
        let alpha = self.g1s(14, n - 1, n)?;
        let beta = self.g1s(15, n - 1, n)?;
        Ok((tau1, tau2, alpha, beta))
    }

    /// The H section of a zkey over the domain of size `n = 2^power`: `[L_{2n,2i+1}(τ)]₁`
    /// for `i < n` (the odd points of the doubled domain's basis).
    pub fn h_points(&mut self, power: u32) -> Result<Vec<G1Affine>, CeremonyError> {
        self.check_domain(power)?;
        let n = 1u64 << power;
        let all = self.g1s(12, 2 * n - 1, 2 * n)?;
        Ok(all.into_iter().skip(1).step_by(2).collect())
    }

    /// `[τ^i]₁` for `i < count`.
    pub fn tau_powers_g1(&mut self, count: u64) -> Result<Vec<G1Affine>, CeremonyError> {
        self.g1s(2, 0, count)
    }
}
