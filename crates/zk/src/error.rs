//! Errors of the zk crate.

use ark_relations::gr1cs::SynthesisError;
use ark_serialize::SerializationError;

/// Everything that can go wrong in setup, proving, verification and the encodings.
#[derive(Debug, thiserror::Error)]
pub enum ZkError {
    /// The circuit could not be synthesized (a gadget failed, or a witness was missing).
    #[error("constraint synthesis failed: {0}")]
    Synthesis(#[from] SynthesisError),

    /// The witness does not satisfy the circuit: the claimed statement is false (for
    /// example, an output chunk that is not the operator applied to the input chunk).
    #[error("the witness does not satisfy the circuit (first unsatisfied constraint: {0})")]
    Unsatisfied(String),

    /// The keys were made for another circuit than the one being proved.
    #[error(
        "circuit mismatch: keys are for circuit {expected}, the circuit synthesizes to {actual}"
    )]
    CircuitMismatch {
        /// Circuit id the keys were made for (hex).
        expected: String,
        /// Circuit id of the synthesized circuit (hex).
        actual: String,
    },

    /// The proof just made does not verify under the keys' own verifying key.
    #[error("the proof just made does not verify under its own verifying key")]
    SelfCheckFailed,

    /// The number of public inputs does not match the verifying key.
    #[error("expected {expected} public inputs, got {got}")]
    PublicInputCount {
        /// Public inputs the verifying key takes.
        expected: usize,
        /// Public inputs given.
        got: usize,
    },

    /// A key or proof could not be (de)serialized.
    #[error("serialization: {0}")]
    Serialization(#[from] SerializationError),

    /// Bytes or words that are not a valid EVM encoding (wrong length, a coordinate not
    /// below the field modulus, a point not on the curve or not in the prime-order subgroup).
    #[error("invalid EVM encoding: {0}")]
    Encoding(String),

    /// A value that the commitments cannot hold (outside `[-2^31, 2^31)`).
    #[error("value {value} at position {index} is outside [-2^31, 2^31)")]
    ValueOutOfRange {
        /// Position in the chunk.
        index: usize,
        /// The offending value.
        value: i64,
    },

    /// An operator (or a form of it) that has no circuit.
    #[error("op {op} ({kind}): cannot be proved: {reason}")]
    Unsupported {
        /// The op (1-based).
        op: usize,
        /// Its kind.
        kind: &'static str,
        /// Why.
        reason: String,
    },

    /// The circuit table maps an (op, chunk) to a circuit that the chunk does not synthesise
    /// (another structure key, other reads, or another constraint system): its proofs would be
    /// checked against another computation's verifying key.
    #[error("circuit table: op {op} chunk {chunk} is mapped to circuit {circuit}, which it does not synthesise: {reason}")]
    CircuitIdentity {
        /// The op (1-based).
        op: usize,
        /// Its output chunk.
        chunk: usize,
        /// The circuit the table maps it to.
        circuit: usize,
        /// What differs.
        reason: String,
    },

    /// Chunks whose lengths do not fit the circuit.
    #[error("shape: {0}")]
    Shape(String),

    /// Reading or writing a file.
    #[error("i/o on {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },

    /// JSON (de)serialization.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}
