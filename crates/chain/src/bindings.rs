//! Contract bindings generated from `contracts/artifacts/*.json` (ABI + bytecode).
#![allow(missing_docs, clippy::too_many_arguments)]

alloy::sol!(
    #[sol(rpc, all_derives)]
    Poseidon5,
    "../../contracts/artifacts/Poseidon5.json"
);
alloy::sol!(
    #[sol(rpc, all_derives)]
    Poseidon5Fast,
    "../../contracts/artifacts/Poseidon5Fast.json"
);
alloy::sol!(
    #[sol(rpc, all_derives)]
    Groth16Verifier,
    "../../contracts/artifacts/Groth16Verifier.json"
);
alloy::sol!(
    #[sol(rpc, all_derives)]
    ModelRegistry,
    "../../contracts/artifacts/ModelRegistry.json"
);
alloy::sol!(
    #[sol(rpc, all_derives)]
    InferenceManager,
    "../../contracts/artifacts/InferenceManager.json"
);
// FaultDisputeGame: the artifact with `getGame` retyped to `uint256[25]` (see build.rs).
include!(concat!(env!("OUT_DIR"), "/fault_dispute_game.rs"));
