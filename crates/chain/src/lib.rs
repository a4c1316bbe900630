//! zkopml-chain: the adapter between zkopml and the Ethereum contracts in `contracts/`.
//!
//! - [`bindings`]: alloy bindings generated from `contracts/artifacts/*.json`;
//! - [`Deployment`]: deploy the five contracts, save/load the deployment file;
//! - [`Chain`]: a signing client with a typed method per contract function (transactions wait
//!   for their receipt and report gas; reverts come back as [`ChainError::Reverted`] with the
//!   custom error decoded);
//! - [`EventStream`]: every event of the three contracts exactly once, from a saved [`Cursor`].
//!
//! This crate depends on no other zkopml crate; see docs/chain.md.

pub mod bindings;
mod client;
mod deployment;
mod error;
mod events;
mod types;

pub use alloy::primitives::{Address, Bytes, B256, U256};
pub use client::{Chain, ChainBuilder, Tx};
pub use deployment::Deployment;
pub use error::{known_errors, ChainError, Revert};
pub use events::{Cursor, Event, EventRecord, EventStream, Source, StreamConfig, StreamStats};
pub use types::*;
