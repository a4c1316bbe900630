//! Errors of the ceremony crate: each names the file or rule that failed.

use zkopml_zk::ZkError;

/// Everything that can go wrong reading ceremony files, contributing and verifying.
#[derive(Debug, thiserror::Error)]
pub enum CeremonyError {
    /// Reading or writing a file.
    #[error("i/o on {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },

    /// A file that is not what it claims to be (magic, version, a missing or short section,
    /// a coordinate not below the modulus, a point not on the curve).
    #[error("{file}: {reason}")]
    Format {
        /// Which kind of file (`ptau`, `zkey`, `r1cs`, `wtns`).
        file: &'static str,
        /// What is wrong.
        reason: String,
    },

    /// The `.ptau` file is over another curve than BN254.
    #[error("the .ptau file is not over BN254 (base field modulus differs)")]
    PtauCurve,

    /// The `.ptau` file has not been through `snarkjs powersoftau prepare phase2` (it has no
    /// Lagrange-basis sections).
    #[error("the .ptau file is not prepared for phase 2 (no Lagrange sections 12-15): run `snarkjs powersoftau prepare phase2` on it")]
    PtauNotPrepared,

    /// The circuit needs a larger domain than the `.ptau` file holds.
    #[error("the .ptau file is too small for this circuit: it needs 2^{needed} points ({constraints} constraints + {public} public inputs + 1), the file has 2^{have}")]
    PtauTooSmall {
        /// log2 of the domain the circuit needs.
        needed: u32,
        /// The file's power.
        have: u32,
        /// Constraints of the circuit.
        constraints: usize,
        /// Public inputs of the circuit.
        public: usize,
    },

    /// The zkey and the circuit (or the initial zkey) do not describe the same circuit.
    #[error("the zkey does not belong to this circuit: {0}")]
    CircuitMismatch(String),

    /// Contribution `index` (0-based) does not extend the transcript of the ones before it.
    #[error("contribution {index} does not chain: its transcript hash is not the hash of the circuit and the contributions before it")]
    TranscriptMismatch {
        /// The contribution.
        index: usize,
    },

    /// Contribution `index` carries no valid proof of knowledge of its secret.
    #[error("contribution {index}: invalid proof of knowledge (g1_s, g1_sx and hashToG2(transcript), g2_spx are not in the same ratio)")]
    ProofOfKnowledge {
        /// The contribution.
        index: usize,
    },

    /// Contribution `index`'s new delta is not the previous delta times its secret.
    #[error("contribution {index}: its deltaAfter is not the previous delta raised to the contributed secret")]
    DeltaChain {
        /// The contribution.
        index: usize,
    },

    /// The zkey's delta is not the delta after the last contribution.
    #[error("the zkey's {0} does not match the last contribution")]
    FinalDelta(&'static str),

    /// A part of the key that contributions must not change was changed.
    #[error("section {0} differs from the initial key derived from the .ptau (a contribution may only change delta, L and H)")]
    SectionChanged(&'static str),

    /// The L or H section was not divided by the same delta as the verifying key.
    #[error("section {0} is not the initial one divided by the final delta")]
    RatioMismatch(&'static str),

    /// The key of one circuit of a model failed verification.
    #[error("circuit {circuit} ({path}): {source}")]
    CircuitKey {
        /// The circuit's index in the model's circuit set.
        circuit: usize,
        /// Its key file.
        path: String,
        /// Why.
        source: Box<CeremonyError>,
    },

    /// An error of the proof system.
    #[error(transparent)]
    Zk(#[from] ZkError),
}

/// A `Format` error.
pub(crate) fn format(file: &'static str, reason: impl Into<String>) -> CeremonyError {
    CeremonyError::Format {
        file,
        reason: reason.into(),
    }
}
