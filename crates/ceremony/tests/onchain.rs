//! A proof made with keys from a ceremony (snarkjs phase 1, a snarkjs and a native phase-2
//! contribution) verifies on-chain in the deployed Groth16Verifier; a proof made with the keys
//! from before the last contribution is rejected by the final verifying key on-chain.

#[path = "../../chain/tests/common/mod.rs"]
mod chain_common;
mod common;

use alloy::primitives::{Bytes, U256};
use chain_common::{Anvil, KEY0};
use common::{ptau, scratch, snarkjs_ok};
use zkopml_ceremony::{mpc::contribute, ptau::Ptau, r1cs::synthesize, zkey::Zkey};
use zkopml_chain::{bindings::Groth16Verifier, Chain, Revert};
use zkopml_zk::{
    circuits::relu::ReluChunkCircuit,
    evm,
    groth16::{circuit_info, os_rng, prove, seeded_rng},
};

fn word(w: &[u8; 32]) -> U256 {
    U256::from_be_bytes(*w)
}

#[tokio::test(flavor = "multi_thread")]
async fn ceremony_keys_prove_on_chain_and_older_keys_do_not() {
    let dir = scratch("onchain");
    let (r1cs, _) = synthesize(ReluChunkCircuit::relu_shape(9), false).unwrap();
    std::fs::write(dir.join("c.r1cs"), r1cs.to_bytes()).unwrap();
    let z0 = Zkey::new(&r1cs, &mut Ptau::open(&ptau(10)).unwrap()).unwrap();
    z0.write(&dir.join("z0.zkey")).unwrap();
    snarkjs_ok(
        &dir,
        &[
            "zkey",
            "contribute",
            "z0.zkey",
            "z1.zkey",
            "--name=alice",
            "-e=alice",
        ],
    );
    let z1 = Zkey::read(&dir.join("z1.zkey")).unwrap();
    let (z2, _) = contribute(&z1, Some("bob"), &mut os_rng()).unwrap();
    let info = circuit_info(ReluChunkCircuit::relu_shape(9)).unwrap();
    let final_keys = z2.keys(info).unwrap();
    let old_keys = z1.keys(info).unwrap();
    let x: Vec<i32> = (0..9).map(|k| (k - 4) * 77_777).collect();
    let p = prove(
        &final_keys,
        ReluChunkCircuit::relu(x.clone()),
        &mut seeded_rng(1),
    )
    .unwrap();
    let old = prove(&old_keys, ReluChunkCircuit::relu(x), &mut seeded_rng(1)).unwrap();

    let anvil = Anvil::start();
    let chain = Chain::builder()
        .rpc_url(anvil.url())
        .private_key(KEY0)
        .deploy()
        .await
        .unwrap();
    let verifier = Groth16Verifier::new(chain.deployment().verifier, chain.provider().clone());
    let vk = Bytes::from(evm::vk_abi(final_keys.vk()));
    let publics: Vec<U256> = p
        .public_inputs
        .iter()
        .map(|v| word(&evm::fr_to_word(v)))
        .collect();
    let words = |q: &ark_groth16::Proof<ark_bn254::Bn254>| evm::proof_to_words(q).map(|w| word(&w));

    verifier
        .verifyProof(vk.clone(), words(&p.proof), publics.clone())
        .call()
        .await
        .expect("the proof under the ceremony's final keys verifies on-chain");
    // The same statement proved with the keys before bob's contribution.
    assert_eq!(old.public_inputs, p.public_inputs);
    let Err(e) = verifier
        .verifyProof(vk.clone(), words(&old.proof), publics.clone())
        .call()
        .await
    else {
        panic!("a proof under superseded keys must be rejected")
    };
    let name = Revert::decode(e.as_revert_data().expect("a revert with data")).name;
    assert_eq!(name, "ProofInvalid");
    // And it does verify under its own (superseded) key: the rejection is the key's doing.
    verifier
        .verifyProof(
            Bytes::from(evm::vk_abi(old_keys.vk())),
            words(&old.proof),
            publics,
        )
        .call()
        .await
        .expect("the old proof verifies under the old key");
}

fn revert_name<T: std::fmt::Debug>(r: Result<T, zkopml_chain::ChainError>) -> String {
    match r {
        Err(e) => e
            .revert_name()
            .unwrap_or_else(|| panic!("expected a revert, got {e}"))
            .to_string(),
        Ok(v) => panic!("expected a revert, got {v:?}"),
    }
}

/// The registry's ceremony rules through the Rust client: contributions must build on a recorded
/// transcript hash; requests wait for the window and the owner's acceptance of a contribution.
#[tokio::test(flavor = "multi_thread")]
async fn registry_ceremony_window_through_the_client() {
    use alloy::primitives::B256;
    let anvil = Anvil::start();
    let owner = Chain::builder()
        .rpc_url(anvil.url())
        .private_key(KEY0)
        .deploy()
        .await
        .unwrap();
    let other = Chain::builder()
        .rpc_url(anvil.url())
        .private_key(&chain_common::funded_key(&owner).await)
        .deployment(owner.deployment().clone())
        .connect()
        .await
        .unwrap();
    let t0 = B256::repeat_byte(0x10);
    let (t1, r1) = (B256::repeat_byte(0x11), B256::repeat_byte(0xa1));
    let reg = chain_common::one_op_registration(3);
    let id = owner
        .register_with_ceremony(&reg, t0, 600)
        .await
        .unwrap()
        .value;
    let (closes, n, t, done) = owner.ceremony_info(id).await.unwrap();
    assert!(closes > 0 && n == 0 && t == t0 && !done);
    let now = owner.timestamp().await.unwrap();
    let fee = U256::from(chain_common::FEE);
    assert_eq!(
        revert_name(
            owner
                .request_inference(id, &[1, 2, 3, 4], now + 3600, fee)
                .await
        ),
        "ModelInactive"
    );
    assert_eq!(
        revert_name(other.contribute(id, t1, t1, r1, "unknown parent").await),
        "UnknownTranscript"
    );
    other.contribute(id, t0, t1, r1, "bafy-keys").await.unwrap();
    let initial_root = reg.circuit_root;
    assert_eq!(
        owner.get_model(id).await.unwrap().circuit_root,
        initial_root,
        "recorded, not adopted"
    );
    chain_common::advance(&owner, 601).await;
    assert_eq!(
        owner.ceremony_info(id).await.unwrap(),
        (closes, 1, t1, false)
    );
    assert_eq!(
        revert_name(other.accept_contribution(id, 0).await),
        "NotOwner"
    );
    owner.accept_contribution(id, 0).await.unwrap();
    assert_eq!(owner.get_model(id).await.unwrap().circuit_root, r1);
    assert_eq!(
        owner.ceremony_info(id).await.unwrap(),
        (closes, 1, t1, true)
    );
    assert_eq!(
        revert_name(other.contribute(id, t1, t0, r1, "late").await),
        "CeremonyClosed"
    );
    let now = owner.timestamp().await.unwrap();
    owner
        .request_inference(id, &[1, 2, 3, 4], now + 3600, fee)
        .await
        .expect("requests open once the owner accepted a contribution");
}
