//! Per-operator Groth16 circuits over BN254 for zkopml.
//!
//! A dispute ends with a proof that one operator, restricted to one output chunk, maps the
//! input chunks it reads (public inputs: their chunk digests) to the output chunk (public
//! input: its digest). This crate holds the pieces every such circuit is made of:
//!
//! - [`gadgets`]: circuit code. [`gadgets::poseidon`] is circomlib's Poseidon over
//!   [`FpVar`](ark_r1cs_std::fields::fp::FpVar); [`gadgets::signed`] are integers whose range
//!   the constraints enforce (range checks, rounding rescale, comparison, max, relu);
//!   [`gadgets::digest`] is the chunk digest of `docs/commitments.md`.
//! - [`native`]: the same chunk digest computed natively (the reference the gadgets are tested
//!   against).
//! - [`groth16`]: circuit identity, setup, prove, verify, key (de)serialization.
//! - [`keygen`]: the Groth16 key generation behind setup (one synthesis, batched affine
//!   fixed-base multiplication).
//! - [`evm`]: the EVM encodings of verifying keys, proofs and public inputs
//!   (`docs/commitments.md`, "Groth16 verifying key, proof and public inputs").
//! - [`circuits`]: whole circuits (so far: relu over one chunk).
//! - [`structure`]: the injective structure key that decides which chunks share a circuit.
//! - [`vectors`]: the Groth16 test vector `testdata/vectors/groth16.json` for the contracts.
//!
//! See `docs/zk.md` for the design, the encodings, constraint counts and the trust model.

pub mod circuit_set;
pub mod circuits;
pub mod error;
pub mod evm;
pub mod gadgets;
pub mod groth16;
pub mod keygen;
pub mod native;
pub mod qap;
pub mod structure;
pub mod table;
pub mod vectors;
pub mod weights;

pub use error::ZkError;

/// The pairing-friendly curve: BN254 (`alt_bn128` of the EVM precompiles).
pub type Curve = ark_bn254::Bn254;
/// The scalar field of BN254: the field every circuit works in.
pub type Fr = ark_bn254::Fr;
