//! Plain Rust views of the contracts' structs and enums (alloy primitive types inside).
//! Conversions to and from the generated binding types live here too.

use alloy::primitives::{aliases::U96, Address, Bytes, B256, U256};
use serde::{Deserialize, Serialize};

use crate::bindings::{FaultDisputeGame as G, InferenceManager as M, ModelRegistry as R};
use crate::error::ChainError;

/// Tensor geometry (`TensorMeta` in Commitments.sol).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TensorMeta {
    pub dims: Vec<u32>,
    pub scale: i32,
    pub chunk_len: u32,
}

impl TensorMeta {
    /// `metaHash` of docs/commitments.md: keccak(uint32 rank ‖ dims… ‖ int32 scale ‖ uint32 chunkLen).
    pub fn meta_hash(&self) -> B256 {
        let mut b = Vec::with_capacity(12 + 4 * self.dims.len());
        b.extend_from_slice(&(self.dims.len() as u32).to_be_bytes());
        for d in &self.dims {
            b.extend_from_slice(&d.to_be_bytes());
        }
        b.extend_from_slice(&self.scale.to_be_bytes());
        b.extend_from_slice(&self.chunk_len.to_be_bytes());
        alloy::primitives::keccak256(b)
    }
}

/// Per-deployment lower bounds of the dispute parameters (`ParamBounds` in ModelRegistry.sol,
/// set once by the registry's constructor; docs/protocol.md "Parameter bounds").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamBounds {
    /// The longest a party may need to land one move on the chain (block interval, inclusion).
    pub min_move_seconds: u64,
    pub min_challenge_window: u64,
    pub min_submitter_bond: U256,
    pub min_challenger_bond: U256,
}

impl ParamBounds {
    /// A local devnet that includes every transaction at once (anvil): one second per move,
    /// any window, any non-zero bond. A public chain needs minutes per move.
    pub fn devnet() -> Self {
        ParamBounds {
            min_move_seconds: 1,
            min_challenge_window: 1,
            min_submitter_bond: U256::from(1),
            min_challenger_bond: U256::from(1),
        }
    }

    pub(crate) fn to_registry(&self) -> Result<R::ParamBounds, ChainError> {
        Ok(R::ParamBounds {
            minMoveSeconds: self.min_move_seconds,
            minChallengeWindow: self.min_challenge_window,
            minSubmitterBond: u96(self.min_submitter_bond, "minSubmitterBond")?,
            minChallengerBond: u96(self.min_challenger_bond, "minChallengerBond")?,
        })
    }
}

/// One phase-2 contribution recorded by the registry (`ModelRegistry.Contribution`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContributionRecord {
    pub contributor: Address,
    /// 0: built on the initial keys; i + 1: on contribution i.
    pub parent: u32,
    pub transcript_hash: B256,
    pub circuit_root: B256,
    pub keys_cid: String,
}

/// Dispute parameters of a model (`DisputeParams` in ModelRegistry.sol). Bonds in wei.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisputeParams {
    pub arity: u16,
    pub max_group: u16,
    pub clock_budget: u64,
    pub challenge_window: u64,
    pub submitter_bond: U256,
    pub challenger_bond: U256,
}

/// What `ModelRegistry.register` takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    pub model_hash: B256,
    /// Content id of the artifact manifest (docs/node.md "Artifacts").
    pub manifest_cid: String,
    pub num_ops: u32,
    pub circuit_root: B256,
    pub meta_root: B256,
    pub input: TensorMeta,
    pub output: TensorMeta,
    pub input_meta_path: Vec<B256>,
    pub output_meta_path: Vec<B256>,
    pub params: DisputeParams,
}

/// A registered model (`ModelRegistry.getModel`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Model {
    pub owner: Address,
    pub active: bool,
    /// Registered with a ceremony whose contribution is not accepted yet (no requests).
    pub ceremony_pending: bool,
    pub num_ops: u32,
    pub state_depth: u8,
    pub model_hash: B256,
    pub circuit_root: B256,
    pub meta_root: B256,
    pub params: DisputeParams,
    /// The input's and the output's meta hash, value count and chunk length (their full
    /// geometry is in `ModelGeometry`, and in the compiled program).
    pub input_meta_hash: B256,
    pub input_numel: u32,
    pub input_chunk_len: u32,
    pub output_meta_hash: B256,
    pub output_numel: u32,
    pub output_chunk_len: u32,
    pub manifest_cid: String,
    /// docs/commitments.md "Weights root": zero unless registered with committed weights.
    #[serde(default)]
    pub weights_root: B256,
}

/// `InferenceManager.Status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Status {
    None,
    Open,
    Submitted,
    Finalized,
    Refunded,
}

/// `FaultDisputeGame.Phase`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Phase {
    None,
    DefenderRoots,
    ChallengerRoots,
    DefenderReveal,
    ChallengerReveal,
    DefenderNodes,
    ChallengerNodes,
    DefenderProof,
    Resolved,
}

/// `FaultDisputeGame.Outcome`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Outcome {
    Undecided,
    DefenderWon,
    ChallengerWon,
}

/// `FaultDisputeGame.Reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Reason {
    None,
    DefenderTimeout,
    ChallengerTimeout,
    DefenderProved,
    OtherDigestProved,
    PaddingLeaf,
}

macro_rules! u8_enum {
    ($t:ident, $what:literal, [$($v:ident),*]) => {
        impl TryFrom<u8> for $t {
            type Error = ChainError;
            fn try_from(x: u8) -> Result<Self, ChainError> {
                const ALL: &[$t] = &[$($t::$v),*];
                ALL.get(x as usize).copied().ok_or_else(|| ChainError::Decode {
                    what: $what,
                    message: format!("unknown value {x}"),
                })
            }
        }
        impl From<$t> for u8 {
            fn from(v: $t) -> u8 {
                v as u8
            }
        }
    };
}
u8_enum!(
    Status,
    "InferenceManager.Status",
    [None, Open, Submitted, Finalized, Refunded]
);
u8_enum!(
    Phase,
    "FaultDisputeGame.Phase",
    [
        None,
        DefenderRoots,
        ChallengerRoots,
        DefenderReveal,
        ChallengerReveal,
        DefenderNodes,
        ChallengerNodes,
        DefenderProof,
        Resolved
    ]
);
u8_enum!(
    Outcome,
    "FaultDisputeGame.Outcome",
    [Undecided, DefenderWon, ChallengerWon]
);
u8_enum!(
    Reason,
    "FaultDisputeGame.Reason",
    [
        None,
        DefenderTimeout,
        ChallengerTimeout,
        DefenderProved,
        OtherDigestProved,
        PaddingLeaf
    ]
);

impl Phase {
    /// Whether the defender is the party to move in this phase.
    pub fn defender_to_move(self) -> bool {
        matches!(
            self,
            Phase::DefenderRoots
                | Phase::DefenderReveal
                | Phase::DefenderNodes
                | Phase::DefenderProof
        )
    }
}

/// The mutable state of a request and of its live result (`InferenceManager.getRequest`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub status: Status,
    pub model_id: u64,
    pub result_nonce: u32,
    pub deadline: u64,
    /// No result after this time, whatever is rejected (the requester's deadline + the window).
    pub deadline_cap: u64,
    /// Of the live result.
    pub challenge_deadline: u64,
    /// Games running against the live result.
    pub active_games: u32,
    /// Low 32 bits of the block of the last rejection: no result in that block.
    pub reopened_block: u32,
}

/// What a request fixes (`InferenceManager.RequestRecord`): the manager stores its hash; it is
/// in `InferenceRequested`, and finalize, claim, refund and challenge take it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    pub requester: Address,
    pub fee: U256,
    pub input_root: B256,
}

/// What a result fixes (`InferenceManager.ResultRecord`), as `ResultSubmitted` carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultRecord {
    pub submitter: Address,
    pub bond: U256,
    pub final_root: B256,
    /// Tensor root of the output (slot n): leaf n under `final_root`.
    pub output_root: B256,
}

impl RequestRecord {
    pub fn from_event(e: &M::InferenceRequested) -> Self {
        RequestRecord {
            requester: e.requester,
            fee: e.fee,
            input_root: e.inputRoot,
        }
    }
    pub(crate) fn to_manager(&self) -> M::RequestRecord {
        M::RequestRecord {
            requester: self.requester,
            fee: self.fee,
            inputRoot: self.input_root,
        }
    }
    /// The hash the manager stores (`requestHash`).
    pub fn hash(&self) -> B256 {
        use alloy::sol_types::SolValue;
        alloy::primitives::keccak256(self.to_manager().abi_encode())
    }
}

impl ResultRecord {
    pub fn from_event(e: &M::ResultSubmitted) -> Self {
        ResultRecord {
            submitter: e.submitter,
            bond: e.bond,
            final_root: e.finalRoot,
            output_root: e.outputRoot,
        }
    }
    pub(crate) fn to_manager(&self) -> M::ResultRecord {
        M::ResultRecord {
            submitter: self.submitter,
            bond: self.bond,
            finalRoot: self.final_root,
            outputRoot: self.output_root,
        }
    }
    /// The hash the manager stores (`resultHash`).
    pub fn hash(&self) -> B256 {
        use alloy::sol_types::SolValue;
        alloy::primitives::keccak256(self.to_manager().abi_encode())
    }
}

/// What a submitter posts (`submitResult`): its final root, the output's tensor root with its
/// path at leaf n, and the output values inline (empty: by root only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub final_root: B256,
    pub output_root: B256,
    pub output_path: Vec<B256>,
    pub output: Vec<i32>,
}

/// Packed bytes of values (docs/commitments.md "Boundary tensors"): 4 bytes each, int32
/// big-endian. An inline input or output is exactly these bytes.
pub fn pack_values(values: &[i32]) -> Bytes {
    values
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect::<Vec<u8>>()
        .into()
}

/// Inverse of [`pack_values`]; `None` for a length that is not a multiple of 4.
pub fn unpack_values(bytes: &[u8]) -> Option<Vec<i32>> {
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    Some(
        bytes
            .chunks_exact(4)
            .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
    )
}

/// A dispute game (`FaultDisputeGame.getGame`). Field meanings follow FaultDisputeGame.sol:
/// at operator level `lo`/`hi` are the segment and `defender_root`/`challenger_root` the claims
/// at `hi`; at chunk level `hi` is the disputed op and the roots are the disputed chunk nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Game {
    pub defender: Address,
    pub last_move_at: u64,
    pub phase: Phase,
    pub outcome: Outcome,
    pub state_depth: u8,
    pub height: u8,
    pub challenger: Address,
    pub lo: u32,
    pub hi: u32,
    pub index: u32,
    pub defender_clock: u64,
    pub challenger_clock: u64,
    pub request_id: u64,
    pub result_nonce: u32,
    pub model_id: u32,
    pub bond: U256,
    pub num_chunks: u32,
    pub arity: u16,
    pub max_group: u16,
    pub clock_budget: u64,
    pub num_ops: u32,
    pub agreed_root: B256,
    pub defender_root: B256,
    pub challenger_root: B256,
    pub pending: B256,
}

/// Seconds left on each clock (`FaultDisputeGame.clocks`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clocks {
    pub defender_left: u64,
    pub challenger_left: u64,
}

/// One input chunk of the final step, opened against the agreed root(i-1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputOpening {
    /// Geometry of the input slot (fixes the chunk path's length on chain).
    pub meta: TensorMeta,
    pub digest: U256,
    /// Slot 0 only: the chunk's packed bytes (the contract hashes them; empty otherwise).
    pub values: Bytes,
    pub chunk_path: Vec<B256>,
    pub state_path: Vec<B256>,
}

/// The final step of a game (`FaultDisputeGame.StepProof`); layout as docs/commitments.md.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepProof {
    pub vk: Bytes,
    pub input_slots: Vec<U256>,
    pub input_chunks: Vec<U256>,
    pub leaf_index: U256,
    pub circuit_path: Vec<B256>,
    pub inputs: Vec<InputOpening>,
    pub output_digest: U256,
    /// The last op only: the output chunk's packed bytes (empty otherwise).
    pub output_values: Bytes,
    pub proof: [U256; 8],
}

// ------------------------------------------------------------------ conversions

fn u96(x: U256, what: &'static str) -> Result<U96, ChainError> {
    U96::checked_from_limbs_slice(x.as_limbs())
        .ok_or_else(|| ChainError::Config(format!("{what} {x} does not fit in uint96")))
}

impl TensorMeta {
    pub(crate) fn to_registry(&self) -> R::TensorMeta {
        R::TensorMeta {
            dims: self.dims.clone(),
            scale: self.scale,
            chunkLen: self.chunk_len,
        }
    }
    pub(crate) fn to_game(&self) -> G::TensorMeta {
        G::TensorMeta {
            dims: self.dims.clone(),
            scale: self.scale,
            chunkLen: self.chunk_len,
        }
    }
    pub(crate) fn to_manager(&self) -> M::TensorMeta {
        M::TensorMeta {
            dims: self.dims.clone(),
            scale: self.scale,
            chunkLen: self.chunk_len,
        }
    }
}

impl DisputeParams {
    pub(crate) fn to_registry(&self) -> Result<R::DisputeParams, ChainError> {
        Ok(R::DisputeParams {
            arity: self.arity,
            maxGroup: self.max_group,
            clockBudget: self.clock_budget,
            challengeWindow: self.challenge_window,
            submitterBond: u96(self.submitter_bond, "submitter bond")?,
            challengerBond: u96(self.challenger_bond, "challenger bond")?,
        })
    }
    pub(crate) fn from_registry(p: R::DisputeParams) -> Self {
        DisputeParams {
            arity: p.arity,
            max_group: p.maxGroup,
            clock_budget: p.clockBudget,
            challenge_window: p.challengeWindow,
            submitter_bond: U256::from(p.submitterBond),
            challenger_bond: U256::from(p.challengerBond),
        }
    }
}

impl Registration {
    pub(crate) fn to_registry(&self) -> Result<R::Registration, ChainError> {
        Ok(R::Registration {
            modelHash: self.model_hash,
            manifestCid: self.manifest_cid.clone(),
            numOps: self.num_ops,
            circuitRoot: self.circuit_root,
            metaRoot: self.meta_root,
            input: self.input.to_registry(),
            output: self.output.to_registry(),
            inputMetaPath: self.input_meta_path.clone(),
            outputMetaPath: self.output_meta_path.clone(),
            params: self.params.to_registry()?,
        })
    }
}

impl Model {
    pub(crate) fn from_registry(m: R::Model) -> Self {
        Model {
            owner: m.owner,
            active: m.active,
            ceremony_pending: m.ceremonyPending,
            num_ops: m.numOps,
            state_depth: m.stateDepth,
            model_hash: m.modelHash,
            circuit_root: m.circuitRoot,
            meta_root: m.metaRoot,
            params: DisputeParams::from_registry(m.params),
            input_meta_hash: m.inputMetaHash,
            input_numel: m.inputNumel,
            input_chunk_len: m.inputChunkLen,
            output_meta_hash: m.outputMetaHash,
            output_numel: m.outputNumel,
            output_chunk_len: m.outputChunkLen,
            manifest_cid: m.manifestCid,
            weights_root: B256::ZERO,
        }
    }
}

impl Request {
    pub(crate) fn from_manager(r: M::RequestState) -> Result<Self, ChainError> {
        Ok(Request {
            status: Status::try_from(r.status)?,
            model_id: u64::from(r.modelId),
            result_nonce: r.resultNonce,
            deadline: r.deadline.to::<u64>(),
            deadline_cap: r.deadlineCap.to::<u64>(),
            challenge_deadline: r.challengeDeadline.to::<u64>(),
            active_games: r.activeGames,
            reopened_block: r.reopenedBlock,
        })
    }
}

impl Game {
    /// Decodes the words `getGame` returns (see build.rs), field by field by name.
    pub(crate) fn from_words(w: &[U256]) -> Result<Self, ChainError> {
        let names = &crate::bindings::GAME_FIELDS;
        if w.len() != names.len() {
            return Err(ChainError::Decode {
                what: "getGame",
                message: format!("{} words for {} fields", w.len(), names.len()),
            });
        }
        let word = |name: &'static str| -> Result<U256, ChainError> {
            names
                .iter()
                .position(|n| *n == name)
                .map(|i| w[i])
                .ok_or_else(|| ChainError::Decode {
                    what: "getGame",
                    message: format!("the ABI's Game has no field {name}"),
                })
        };
        fn num<T: TryFrom<U256>>(name: &'static str, x: U256) -> Result<T, ChainError> {
            T::try_from(x).map_err(|_| ChainError::Decode {
                what: "getGame",
                message: format!("field {name} = {x} out of range"),
            })
        }
        macro_rules! f {
            ($name:literal) => {
                num($name, word($name)?)?
            };
        }
        let addr = |name| word(name).map(|x| Address::from_word(B256::from(x)));
        let b32 = |name| word(name).map(B256::from);
        Ok(Game {
            defender: addr("defender")?,
            last_move_at: f!("lastMoveAt"),
            phase: Phase::try_from(num::<u8>("phase", word("phase")?)?)?,
            outcome: Outcome::try_from(num::<u8>("outcome", word("outcome")?)?)?,
            state_depth: f!("stateDepth"),
            height: f!("height"),
            challenger: addr("challenger")?,
            lo: f!("lo"),
            hi: f!("hi"),
            index: f!("index"),
            defender_clock: f!("defenderClock"),
            challenger_clock: f!("challengerClock"),
            request_id: f!("requestId"),
            result_nonce: f!("resultNonce"),
            model_id: f!("modelId"),
            bond: word("bond")?,
            num_chunks: f!("numChunks"),
            arity: f!("arity"),
            max_group: f!("maxGroup"),
            clock_budget: f!("clockBudget"),
            num_ops: f!("numOps"),
            agreed_root: b32("agreedRoot")?,
            defender_root: b32("defenderRoot")?,
            challenger_root: b32("challengerRoot")?,
            pending: b32("pending")?,
        })
    }
}

impl StepProof {
    pub(crate) fn to_game(&self) -> G::StepProof {
        G::StepProof {
            vk: self.vk.clone(),
            inputSlots: self.input_slots.clone(),
            inputChunks: self.input_chunks.clone(),
            leafIndex: self.leaf_index,
            circuitPath: self.circuit_path.clone(),
            inputs: self
                .inputs
                .iter()
                .map(|o| G::InputOpening {
                    meta: o.meta.to_game(),
                    digest: o.digest,
                    values: o.values.clone(),
                    chunkPath: o.chunk_path.clone(),
                    statePath: o.state_path.clone(),
                })
                .collect(),
            outputDigest: self.output_digest,
            outputValues: self.output_values.clone(),
            proof: self.proof,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn game_fields_cover_the_struct() {
        assert_eq!(crate::bindings::GAME_FIELDS.len(), 25);
        let mut w: Vec<U256> = (0..25u64).map(U256::from).collect();
        w[3] = U256::from(2);
        // all fields found by name, phase 2 and outcome 2 are valid discriminants
        let g = Game::from_words(&w).unwrap();
        assert_eq!(
            (g.phase, g.outcome),
            (Phase::ChallengerRoots, Outcome::ChallengerWon)
        );
        assert_eq!(g.pending, B256::from(U256::from(24)));
    }

    #[test]
    fn meta_hash_layout() {
        let m = TensorMeta {
            dims: vec![1, 3],
            scale: -1,
            chunk_len: 4,
        };
        let mut b = vec![0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xff];
        b.extend([0, 0, 0, 4]);
        assert_eq!(m.meta_hash(), alloy::primitives::keccak256(b));
    }
}
