//! The engine's chunk digests (`testdata/vectors/commitments.json`, written by
//! `crates/exec/tests/vectors.rs`) against this crate's native digest and the in-circuit
//! gadget: a proof's public inputs must be exactly the digests in the engine's trace.

use ark_r1cs_std::GR1CSVar;
use ark_relations::gr1cs::ConstraintSystem;
use serde::Deserialize;
use zkopml_zk::{
    gadgets::digest::{alloc_chunk, chunk_digest_var},
    groth16::to_hex,
    native::{chunk_digest, fr_to_be_bytes},
    vectors::repo_root,
    Fr,
};

#[derive(Deserialize)]
struct Vectors {
    chunks: Vec<Chunk>,
    tensors: Vec<Tensor>,
}
#[derive(Deserialize)]
struct Chunk {
    values: Vec<i64>,
    digest: String,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Tensor {
    values: Vec<i64>,
    chunk_len: usize,
    chunk_digests: Vec<String>,
}

fn digest_both_ways(values: &[i32]) -> (String, String) {
    let native = to_hex(&fr_to_be_bytes(&chunk_digest(values)));
    let cs = ConstraintSystem::<Fr>::new_ref();
    let xs = alloc_chunk(&cs, values.len(), Some(values)).unwrap();
    let d = chunk_digest_var(&xs).unwrap().value().unwrap();
    assert!(cs.is_satisfied().unwrap());
    (native, to_hex(&fr_to_be_bytes(&d)))
}

#[test]
fn engine_chunk_digests_match() {
    let path = repo_root().join("testdata/vectors/commitments.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{} unreadable: {e}", path.display()));
    let v: Vectors = serde_json::from_str(&text).expect("commitments.json layout");
    let narrow =
        |xs: &[i64]| -> Vec<i32> { xs.iter().map(|&x| i32::try_from(x).unwrap()).collect() };
    assert!(!v.chunks.is_empty() && !v.tensors.is_empty());
    for c in &v.chunks {
        let (native, circuit) = digest_both_ways(&narrow(&c.values));
        assert_eq!(native, c.digest);
        assert_eq!(circuit, c.digest);
    }
    for t in &v.tensors {
        let chunks: Vec<Vec<i32>> = narrow(&t.values)
            .chunks(t.chunk_len)
            .map(<[i32]>::to_vec)
            .collect();
        assert_eq!(chunks.len(), t.chunk_digests.len());
        for (chunk, want) in chunks.iter().zip(&t.chunk_digests) {
            let (native, circuit) = digest_both_ways(chunk);
            assert_eq!(&native, want);
            assert_eq!(&circuit, want);
        }
    }
}
