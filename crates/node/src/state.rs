//! An actor's persistent state: one JSON file (`state.json`) written atomically after every
//! handled event and every move, holding the event cursor together with what the actor learnt
//! from the events it handled. The chain is the authority for everything else: after a restart
//! the actor re-reads each open request and game from the chain and acts on what it finds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use zkopml_chain::{Cursor, B256};

use crate::artifacts::write_atomic;

/// A request of a model this actor serves or watches.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RequestState {
    pub model_id: u64,
    /// The inline input (canonical layout), read from the request's calldata (or its
    /// `InferenceInput` event) when first needed; empty for a request by CID.
    pub input: Vec<i32>,
    /// A request by CID: where its input is stored, and the tensor root it must have.
    #[serde(default)]
    pub input_cid: Option<String>,
    #[serde(default)]
    pub input_root: B256,
    /// Submitter: this actor has answered it (its result nonce).
    pub submitted_nonce: Option<u32>,
    /// Challenger: result nonces it has checked (and challenged or agreed with).
    pub checked: Vec<u32>,
    /// Live results seen (`ResultSubmitted`): nonce -> final root.
    pub results: BTreeMap<u32, B256>,
    /// The request's record as `InferenceRequested` carried it (what challenge, finalize and
    /// claim pass back), and the transaction whose calldata holds an inline input.
    #[serde(default)]
    pub record: Option<zkopml_chain::RequestRecord>,
    #[serde(default)]
    pub input_tx: Option<B256>,
    /// Result records seen (`ResultSubmitted`): nonce -> record.
    #[serde(default)]
    pub result_records: BTreeMap<u32, zkopml_chain::ResultRecord>,
    /// Nothing left to do for this actor.
    pub done: bool,
}

/// A game this actor plays.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GameState {
    pub request_id: u64,
    pub result_nonce: u32,
    pub defender: bool,
    /// The defender's last `postRoots` (the challenger's counter-move repeats them).
    pub defender_roots: Vec<B256>,
    /// The segment `(lo, hi)` those roots were posted for.
    #[serde(default)]
    pub roots_at: (u32, u32),
    /// The defender's last `postNodes`.
    pub defender_nodes: Vec<B256>,
    /// The chunk node `(height, index)` those nodes were posted below.
    #[serde(default)]
    pub nodes_at: (u8, u32),
    /// Moves made by this actor in this game.
    pub moves: u32,
    /// This actor cannot prove the disputed chunk (its leaf is wrong): it waits to lose.
    pub cannot_prove: bool,
    pub resolved: bool,
    pub outcome: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ActorState {
    pub cursor: Option<Cursor>,
    pub requests: BTreeMap<u64, RequestState>,
    pub games: BTreeMap<u64, GameState>,
    /// Wei paid out to this actor so far (withdrawals and claims).
    pub withdrawn: String,
}

impl ActorState {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join("state.json")
    }

    pub fn load(dir: &Path) -> Result<ActorState> {
        let p = Self::path(dir);
        if !p.exists() {
            return Ok(ActorState::default());
        }
        let bytes = std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?;
        serde_json::from_slice(&bytes).with_context(|| format!("parsing {}", p.display()))
    }

    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        write_atomic(&Self::path(dir), &serde_json::to_vec_pretty(self)?)
    }
}
