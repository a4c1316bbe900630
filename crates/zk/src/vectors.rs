//! The Groth16 test vector for the contracts: `testdata/vectors/groth16.json`.
//!
//! A relu circuit over one chunk of [`VECTOR_CHUNK_LEN`] values, set up and proved with
//! seeded RNGs so that the file is a pure function of this code. `cargo test -p zkopml-zk`
//! fails when the checked-in file differs from what [`groth16_vector`] produces; regenerate
//! it with `cargo run -p zkopml-zk --release --example groth16_vector`.

use crate::{
    circuits::relu::ReluChunkCircuit,
    evm::{proof_to_words, public_inputs_to_decimal, word_to_decimal, EvmVerifyingKey, VkJson},
    groth16::{prove, seeded_rng, setup, to_hex},
    ZkError,
};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Values in the vector's chunk: 30 values are 5 packed elements, so two Poseidon5 calls,
/// the second one padded.
pub const VECTOR_CHUNK_LEN: usize = 30;
/// Seed of the vector's setup RNG. Public: these keys are for tests only.
pub const VECTOR_SETUP_SEED: u64 = 0x7a6b_6f70_6d6c_0001;
/// Seed of the vector's proving RNG.
pub const VECTOR_PROVE_SEED: u64 = 0x7a6b_6f70_6d6c_0002;

/// The file, relative to the repository root.
pub const GROTH16_VECTOR_FILE: &str = "testdata/vectors/groth16.json";

/// The vector's layout (every number a decimal string, byte strings `0x` hex).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Groth16Vector {
    /// What the vector is.
    pub description: String,
    /// The verifying key, point by point.
    pub vk: VkJson,
    /// `abi.encode(alpha1, beta2, gamma2, delta2, ic)`.
    pub vk_abi: String,
    /// `keccak(vk_abi)`.
    pub vk_hash: String,
    /// `uint256[8] (a.x, a.y, b.x_im, b.x_re, b.y_im, b.y_re, c.x, c.y)`.
    pub proof: [String; 8],
    /// `[digest_in, digest_out]`.
    pub public_inputs: Vec<String>,
    /// A proof made of valid curve points that does not verify: the `a` of a proof for
    /// another chunk with this proof's `b` and `c`.
    pub bad_proof: [String; 8],
}

/// The vector's input chunk: negative, zero and positive values, the int32 extremes.
pub fn vector_input() -> Vec<i32> {
    (0..VECTOR_CHUNK_LEN as i64)
        .map(|k| match k {
            0 => i32::MIN,
            1 => i32::MAX,
            2 => 0,
            3 => -1,
            _ => ((k * 2_654_435_761) % 2_000_003 - 1_000_001) as i32,
        })
        .collect()
}

/// Builds the vector (a setup and two proofs; well under a second in release builds).
pub fn groth16_vector() -> Result<Groth16Vector, ZkError> {
    let keys = setup(
        ReluChunkCircuit::relu_shape(VECTOR_CHUNK_LEN),
        &mut seeded_rng(VECTOR_SETUP_SEED),
    )?;
    let mut prove_rng = seeded_rng(VECTOR_PROVE_SEED);
    let input = vector_input();
    let good = prove(&keys, ReluChunkCircuit::relu(input.clone()), &mut prove_rng)?;
    let mut other_input = input;
    other_input.reverse();
    let other = prove(&keys, ReluChunkCircuit::relu(other_input), &mut prove_rng)?;

    let evm_vk = EvmVerifyingKey::from_vk(keys.vk());
    let dec8 = |w: [[u8; 32]; 8]| w.map(|x| word_to_decimal(&x));
    let good_words = proof_to_words(&good.proof);
    let other_words = proof_to_words(&other.proof);
    let mut bad_words = good_words;
    bad_words[..2].copy_from_slice(&other_words[..2]);

    Ok(Groth16Vector {
        description: format!(
            "zkopml crates/zk: Groth16 (arkworks 0.6, BN254) proof of relu over one chunk of \
             {VECTOR_CHUNK_LEN} int32 values; public inputs [digest(x), digest(relu(x))] \
             (chunk digests of docs/commitments.md). Layout of docs/commitments.md: G2 as \
             (x_im, x_re, y_im, y_re), proof (a.x, a.y, b.x_im, b.x_re, b.y_im, b.y_re, c.x, \
             c.y). bad_proof: another chunk's proof's a with this proof's b and c. Test keys \
             from a public seed (setup {VECTOR_SETUP_SEED:#x}): anyone can forge proofs for \
             them. Regenerate: cargo run -p zkopml-zk --release --example groth16_vector"
        ),
        vk: VkJson::from(&evm_vk),
        vk_abi: to_hex(&evm_vk.to_abi()),
        vk_hash: to_hex(&evm_vk.hash()),
        proof: dec8(good_words),
        public_inputs: public_inputs_to_decimal(&good.public_inputs),
        bad_proof: dec8(bad_words),
    })
}

/// The vector as the file holds it (pretty JSON, trailing newline).
pub fn groth16_vector_json() -> Result<String, ZkError> {
    Ok(serde_json::to_string_pretty(&groth16_vector()?)? + "\n")
}

/// The repository root, from this crate's manifest directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}
