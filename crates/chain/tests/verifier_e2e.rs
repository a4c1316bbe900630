//! A proof made by the Rust prover (crates/zk) for one (operator, chunk) of a real model is
//! accepted by the Solidity verifier deployed on anvil, and rejected when any public input, the
//! verifying key or the proof is changed. The circuit-table leaf encoding is checked against
//! alloy's ABI encoder (an independent `abi.encode`).

mod common;

use std::path::PathBuf;

use alloy::primitives::{Bytes, U256};
use alloy::sol_types::SolValue;
use common::{Anvil, KEY0};
use zkopml_chain::{bindings::Groth16Verifier, Chain, Revert, B256};
use zkopml_model::{compile_onnx, default_calibration, input::read_input_json};
use zkopml_zk::{
    circuit_set::table_leaf,
    circuits::chunk::ChunkCircuit,
    evm,
    groth16::{prove, seeded_rng, setup},
    table::{op_chunk, read_chunks},
};

fn lenet() -> (zkopml_model::Program, Vec<zkopml_model::Tensor<i32>>) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/models/lenet_5/network.onnx");
    let sample = read_input_json(&path.with_file_name("input.json")).unwrap();
    let (_, p) = compile_onnx(&path, &default_calibration(sample.len(), Some(&sample))).unwrap();
    let x = zkopml_exec::quantise_input(&p, &sample).unwrap();
    let slots = zkopml_exec::run(&p, x).unwrap().slots;
    (p, slots)
}

fn word(w: &[u8; 32]) -> U256 {
    U256::from_be_bytes(*w)
}

#[tokio::test(flavor = "multi_thread")]
async fn rust_proof_verifies_on_chain_and_every_change_is_rejected() {
    let (program, slots) = lenet();
    // op 11 (Gemm 120 -> 84): one chunk, one input chunk
    let (circuit, reads) = op_chunk(&program, 11, 0).unwrap();
    let keys = setup(ChunkCircuit::shape(circuit.clone()), &mut seeded_rng(11)).unwrap();
    let inputs = read_chunks(&program, &slots, &reads);
    let proved = prove(
        &keys,
        ChunkCircuit::new(circuit.clone(), inputs).unwrap(),
        &mut seeded_rng(12),
    )
    .unwrap();

    let anvil = Anvil::start();
    let chain = Chain::builder()
        .rpc_url(anvil.url())
        .private_key(KEY0)
        .deploy()
        .await
        .unwrap();
    let verifier = Groth16Verifier::new(chain.deployment().verifier, chain.provider().clone());

    let vk = Bytes::from(evm::vk_abi(keys.vk()));
    let proof: [U256; 8] = evm::proof_to_words(&proved.proof).map(|w| word(&w));
    let publics: Vec<U256> = proved
        .public_inputs
        .iter()
        .map(|x| word(&evm::fr_to_word(x)))
        .collect();
    assert_eq!(publics.len(), 2);

    let call = |vk: Bytes, proof: [U256; 8], publics: Vec<U256>| {
        let v = verifier.clone();
        async move { v.verifyProof(vk, proof, publics).call().await }
    };
    let reason = |r: Result<_, alloy::contract::Error>| -> String {
        let Err(e) = r else {
            panic!("the verifier must revert")
        };
        let data = e.as_revert_data().expect("a revert with data");
        Revert::decode(data).name
    };

    call(vk.clone(), proof, publics.clone())
        .await
        .expect("the honest proof verifies on-chain");

    // every public input changed by one
    for k in 0..publics.len() {
        let mut bad = publics.clone();
        bad[k] += U256::from(1);
        assert_eq!(
            reason(call(vk.clone(), proof, bad).await),
            "ProofInvalid",
            "public input {k}"
        );
    }
    // an alias x + r of a public input is refused, not reduced
    let r = U256::from_str_radix(
        "21888242871839275222246405745257275088548364400416034343698204186575808495617",
        10,
    )
    .unwrap();
    let mut alias = publics.clone();
    alias[0] += r;
    assert_eq!(
        reason(call(vk.clone(), proof, alias).await),
        "PublicInputNotInField"
    );
    // one public input too few
    assert!(call(vk.clone(), proof, publics[..1].to_vec())
        .await
        .is_err());
    // each proof word changed: either not a curve point or an invalid proof
    for k in 0..8 {
        let mut bad = proof;
        bad[k] += U256::from(1);
        let name = reason(call(vk.clone(), bad, publics.clone()).await);
        assert!(
            ["ProofInvalid", "BadProofEncoding"].contains(&name.as_str()),
            "proof word {k}: {name}"
        );
    }
    // the verifying key of another setup of the same circuit
    let other = setup(ChunkCircuit::shape(circuit), &mut seeded_rng(99)).unwrap();
    let other_vk = Bytes::from(evm::vk_abi(other.vk()));
    assert_eq!(
        reason(call(other_vk, proof, publics.clone()).await),
        "ProofInvalid"
    );
    // a key whose point is changed
    let mut broken = evm::vk_abi(keys.vk());
    broken[31] ^= 1;
    let name = reason(call(Bytes::from(broken), proof, publics.clone()).await);
    assert!(
        ["ProofInvalid", "BadVerifyingKey"].contains(&name.as_str()),
        "{name}"
    );
}

#[test]
fn circuit_table_leaf_is_solidity_abi_encode() {
    let vk_hash = [7u8; 32];
    for reads in [vec![], vec![(3usize, 1usize)], vec![(0, 0), (2, 5), (2, 6)]] {
        let ours = table_leaf(12, 4, &vk_hash, &reads);
        let slots: Vec<U256> = reads.iter().map(|r| U256::from(r.0)).collect();
        let chunks: Vec<U256> = reads.iter().map(|r| U256::from(r.1)).collect();
        let enc = (
            U256::from(12),
            U256::from(4),
            B256::from(vk_hash),
            slots,
            chunks,
        )
            .abi_encode_params();
        assert_eq!(
            B256::from(ours),
            alloy::primitives::keccak256(enc),
            "{reads:?}"
        );
    }
}
