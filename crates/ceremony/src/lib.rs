//! A Groth16 setup that trusts nobody in the game: Powers of Tau phase 1 and per-circuit
//! phase 2 contributions, in snarkjs's file formats.
//!
//! - [`r1cs`]: a circuit as circom's `.r1cs`, an assignment as `.wtns`.
//! - [`ptau`]: phase 1, a snarkjs `.ptau` file (prepared for phase 2).
//! - [`zkey`]: phase 2 keys, snarkjs's `.zkey`: read, write, derive the initial key from a
//!   `.ptau` ([`zkey::Zkey::new`], as `snarkjs zkey new`), turn into a
//!   [`zkopml_zk::groth16::Keys`] for the prover.
//! - [`mpc`]: contributions ([`mpc::contribute`]) and their verification ([`mpc::verify`]),
//!   each interoperable with `snarkjs zkey contribute` / `zkey verify`.
//!
//! - [`model`]: the ceremony of a whole model (every distinct circuit), and its final keys
//!   as the circuit set the prover and the registry use.
//!
//! See `docs/zk.md`, "Trusted setup", for the protocol and what it trusts.

pub mod binfile;
pub mod encoding;
pub mod error;
pub mod model;
pub mod mpc;
pub mod ptau;
pub mod r1cs;
pub mod zkey;

pub use error::CeremonyError;
