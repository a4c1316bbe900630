//! zkopml-node: the actors of docs/protocol.md on a live chain (docs/node.md).
//!
//! - [`artifacts`]: the registrar (compile, Groth16 setup, artifacts into the store, the
//!   `Registration`) and the loading of a registered model's artifacts by the other actors;
//! - [`ceremony`]: models whose keys come from a phase-2 ceremony: initial keys from a `.ptau`,
//!   contributions on chain, and the actors' verification of the final keys;
//! - [`trace`]: the trace an actor defends or checks against (optionally with a deliberate
//!   defect at one (operator, chunk)), and the input/output layouts the contracts use;
//! - [`actor`]: the long-running submitter/defender, challenger and housekeeping loop, driven
//!   by the chain's `EventStream`, with its state persisted in a directory;
//! - [`devnet`]: anvil as a child or background process, and the default anvil accounts;
//! - [`dissection`]: the game's round counts by the contracts' rules, worst case and best arity.

pub mod actor;
pub mod artifacts;
pub mod ceremony;
pub mod devnet;
pub mod dissection;
pub mod ops;
pub mod state;
pub mod trace;

pub use actor::{run_actor, ActorConfig, ActorSummary, MoveRecord};
pub use artifacts::{
    load_model, prepare_registration, prepare_registration_in, LoadedModel, Prepared,
};
pub use trace::{Computed, Defect};

/// Hex of a 32-byte word, 0x-prefixed.
pub fn hex32(b: &[u8]) -> String {
    format!("0x{}", hex::encode(b))
}

/// First 10 hex digits of a word, for logs and tables.
pub fn short(b: &[u8]) -> String {
    let h = hex::encode(b);
    format!("0x{}…", &h[..10.min(h.len())])
}

/// Whether stderr is a terminal (progress bars only then).
pub fn is_tty() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal()
}

/// The address of a private key.
pub fn devnet_address(key: &str) -> anyhow::Result<zkopml_chain::Address> {
    let s: alloy::signers::local::PrivateKeySigner = key.parse()?;
    Ok(s.address())
}
