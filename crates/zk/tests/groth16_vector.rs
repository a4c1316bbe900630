//! The checked-in Groth16 vector is exactly what the code produces, and it verifies when
//! read back the way a consumer (the contracts' tests) reads it.

use zkopml_zk::{
    evm::{
        proof_from_words, public_inputs_from_decimal, word_from_decimal, EvmVerifyingKey, VkJson,
    },
    groth16::{keccak256, to_hex, verify},
    vectors::{groth16_vector_json, repo_root, Groth16Vector, GROTH16_VECTOR_FILE},
};

fn checked_in() -> String {
    let path = repo_root().join(GROTH16_VECTOR_FILE);
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{} unreadable ({e}); create it with \
             `cargo run -p zkopml-zk --release --example groth16_vector`",
            path.display()
        )
    })
}

#[test]
fn checked_in_vector_is_what_the_code_produces() {
    let produced = groth16_vector_json().unwrap();
    assert!(
        checked_in() == produced,
        "{GROTH16_VECTOR_FILE} differs from what crates/zk produces; if the change is intended \
         regenerate it with `cargo run -p zkopml-zk --release --example groth16_vector` and \
         tell the contracts side"
    );
}

fn hex_bytes(s: &str) -> Vec<u8> {
    let s = s.strip_prefix("0x").expect("0x prefix");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn words8(v: &[String; 8]) -> [[u8; 32]; 8] {
    v.clone().map(|s| word_from_decimal(&s).unwrap())
}

#[test]
fn checked_in_vector_is_consistent_and_verifies() {
    let v: Groth16Vector = serde_json::from_str(&checked_in()).unwrap();
    let abi = hex_bytes(&v.vk_abi);
    let evm_vk = EvmVerifyingKey::from_abi(&abi).unwrap();
    assert_eq!(VkJson::from(&evm_vk), v.vk, "vk fields and vk_abi disagree");
    assert_eq!(to_hex(&keccak256(&abi)), v.vk_hash);
    assert_eq!(abi.len(), 512 + 64 * (v.public_inputs.len() + 1));
    let vk = evm_vk.to_vk().unwrap();
    let inputs = public_inputs_from_decimal(&v.public_inputs).unwrap();
    assert_eq!(inputs.len(), 2);
    let proof = proof_from_words(&words8(&v.proof)).unwrap();
    assert!(verify(&vk, &inputs, &proof).unwrap());
    let bad = proof_from_words(&words8(&v.bad_proof)).unwrap();
    assert!(!verify(&vk, &inputs, &bad).unwrap());
    let mut other_inputs = inputs.clone();
    other_inputs[1] += zkopml_zk::Fr::from(1u64);
    assert!(!verify(&vk, &other_inputs, &proof).unwrap());
}
