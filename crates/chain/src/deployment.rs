//! The deployment file: where the five contracts live on one chain.

use std::path::Path;

use alloy::primitives::Address;
use serde::{Deserialize, Serialize};

use crate::error::ChainError;

/// Addresses of a deployment (docs/chain.md, "Deployment file"). `start_block` is the block of
/// the first deployment transaction: no event of these contracts is older, so an
/// [`EventStream`](crate::EventStream) starts there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    pub chain_id: u64,
    pub deployer: Address,
    pub start_block: u64,
    pub poseidon: Address,
    pub verifier: Address,
    pub registry: Address,
    pub manager: Address,
    pub game: Address,
}

impl Deployment {
    /// Deploys all contracts, signed by `private_key`, and wires the manager to the game:
    /// `Poseidon5Fast`, `Groth16Verifier`, `ModelRegistry`, `InferenceManager(registry, poseidon)`,
    /// `FaultDisputeGame(manager, registry, verifier)`, `manager.setGame(game)`.
    pub async fn deploy(rpc_url: &str, private_key: &str) -> Result<Deployment, ChainError> {
        let chain = crate::Chain::builder()
            .rpc_url(rpc_url)
            .private_key(private_key)
            .deploy()
            .await?;
        Ok(chain.deployment().clone())
    }

    /// Writes the deployment as pretty JSON (atomically: a temporary file, then a rename).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), ChainError> {
        let path = path.as_ref();
        let json = serde_json::to_string_pretty(self).expect("a deployment serialises");
        write_atomic(path, json.as_bytes())
    }

    pub fn load(path: impl AsRef<Path>) -> Result<Deployment, ChainError> {
        let path = path.as_ref();
        let s = std::fs::read_to_string(path).map_err(|source| ChainError::Io {
            path: path.display().to_string(),
            source,
        })?;
        serde_json::from_str(&s).map_err(|source| ChainError::Json {
            path: path.display().to_string(),
            source,
        })
    }
}

pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ChainError> {
    let io = |source| ChainError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}
