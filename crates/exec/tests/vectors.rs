//! Shared test vectors: the Rust side writes testdata/vectors/commitments.json, the Solidity
//! tests read it. This test fails when the code and the checked-in file disagree; run it with
//! ZKOPML_BLESS=1 to rewrite the file after an intended change of docs/commitments.md.
//! It also checks the chunk digest against circomlibjs (testdata/vectors/poseidon-circomlibjs.json).

use std::path::PathBuf;

use ark_bn254::Fr;
use serde_json::{json, Value};
use zkopml_exec::commit::{
    canonical, fr_to_bytes, meta_hash, pack_be, state_roots, ChunkHasher, Leaves, MerkleTree,
    TensorCommitment,
};
use zkopml_model::input::SplitMix;
use zkopml_model::{DType, Tensor, TensorSpec};

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/vectors")
}

fn hx(b: &[u8]) -> String {
    format!("0x{}", hex::encode(b))
}

fn tensor_vector(shape: Vec<usize>, scale: i32, chunk_len: Option<usize>, seed: u64) -> Value {
    vector(shape, scale, chunk_len, seed, Leaves::Poseidon)
}

/// A boundary tensor (slot 0 or n): keccak leaves over the chunks' packed bytes.
fn boundary_vector(shape: Vec<usize>, scale: i32, chunk_len: Option<usize>, seed: u64) -> Value {
    vector(shape, scale, chunk_len, seed, Leaves::Keccak)
}

fn vector(
    shape: Vec<usize>,
    scale: i32,
    chunk_len: Option<usize>,
    seed: u64,
    kind: Leaves,
) -> Value {
    let mut spec = TensorSpec::new(shape.clone(), DType::Float, scale);
    if let Some(c) = chunk_len {
        spec.chunk_len = c;
    }
    let mut rng = SplitMix(seed);
    let n: usize = shape.iter().product();
    let data: Vec<i32> = (0..n)
        .map(|i| match i % 5 {
            0 => i32::MIN + i as i32,
            1 => i32::MAX - i as i32,
            _ => (rng.next_u64() >> 40) as i32 - (1 << 23),
        })
        .collect();
    let t = Tensor::new(shape.clone(), data);
    let tc = TensorCommitment::with_leaves(&spec, &t, kind).unwrap();
    let paths: Vec<Value> = (0..tc.leaves.len())
        .map(|j| json!(tc.chunks.path(j).iter().map(|s| hx(s)).collect::<Vec<_>>()))
        .collect();
    let leaves: Vec<String> = tc.leaves.iter().map(|d| hx(d)).collect();
    match kind {
        Leaves::Poseidon => json!({
            "dims": shape, "scale": scale, "chunkLen": spec.chunk_len,
            "logicalValues": t.data, "values": canonical(&t),
            "chunkDigests": leaves,
            "chunkPaths": paths,
            "chunksRoot": hx(&tc.chunks.root()), "metaHash": hx(&tc.meta_hash), "tensorRoot": hx(&tc.root),
        }),
        Leaves::Keccak => json!({
            "dims": shape, "scale": scale, "chunkLen": spec.chunk_len,
            "values": canonical(&t), "packed": hx(&pack_be(&canonical(&t))),
            "chunkLeaves": leaves,
            "chunkPaths": paths,
            "chunksRoot": hx(&tc.chunks.root()), "metaHash": hx(&tc.meta_hash), "tensorRoot": hx(&tc.root),
        }),
    }
}

fn build() -> Value {
    let mut h = ChunkHasher::default();
    let chunks: Vec<Value> = [
        vec![0],
        vec![-1, 1],
        vec![i32::MIN, i32::MAX, 0, 7, -7, 100, -100, 5],
        (0..29).map(|i| i * 1000 - 14000).collect::<Vec<i32>>(),
    ]
    .into_iter()
    .map(|v| json!({ "values": v, "digest": hx(&h.digest(&v)) }))
    .collect();
    let tensors = vec![
        tensor_vector(vec![1, 10], 14, None, 1),
        tensor_vector(vec![1, 2, 3, 4], -3, Some(8), 2), // NCHW -> NHWC, 3 chunks of whole rows
        tensor_vector(vec![3, 5], 0, Some(4), 3),        // 4 chunks, last one short
        tensor_vector(vec![1, 3, 2, 2], 8, Some(6), 4),  // chunk count 2, exact
    ];
    // boundary tensors (slot 0 and n): every one has negative values (i32::MIN + i among them)
    let boundary = vec![
        boundary_vector(vec![1, 10], 14, None, 5), // one chunk: chunksRoot = its leaf
        boundary_vector(vec![3, 5], 0, Some(4), 6), // 4 chunks, the last one short (3 values)
        boundary_vector(vec![1, 2, 3, 4], -3, Some(8), 7), // rank 4: NCHW -> NHWC, 3 chunks
        boundary_vector(vec![2, 7], 8, Some(3), 8), // 5 chunks (8 leaves with padding), last of 2
    ];
    // a state tree: 6 ops, depth 3, leaves are keccak-distinct tensor roots
    let roots: Vec<[u8; 32]> = (0..7u8)
        .map(|i| zkopml_exec::commit::keccak(&[b"slot", &[i]]))
        .collect();
    let depth = 3;
    let sr = state_roots(&roots, depth);
    let updates: Vec<Value> = (1..roots.len()).map(|i| {
        let tree = MerkleTree::with_depth(&roots[..=i], depth);
        json!({ "slot": i, "before": hx(&sr[i - 1]), "after": hx(&sr[i]), "leaf": hx(&roots[i]), "siblings": tree.path(i).iter().map(|s| hx(s)).collect::<Vec<_>>() })
    }).collect();
    let spec_meta = TensorSpec {
        shape: vec![1, 1000],
        dtype: DType::Float,
        scale: 16,
        chunk_len: 1000,
    };
    json!({
        "description": "zkopml commitments (docs/commitments.md), made by crates/exec/tests/vectors.rs; values are in canonical layout (NHWC for rank 4), logicalValues in ONNX order; tensors have Poseidon chunk digests as leaves (interior slots), boundaryTensors keccak leaves over the chunks' packed bytes (int32 big-endian; slots 0 and n)",
        "chunks": chunks,
        "tensors": tensors,
        "boundaryTensors": boundary,
        "state": { "depth": depth, "tensorRoots": roots.iter().map(|r| hx(r)).collect::<Vec<_>>(), "stateRoots": sr.iter().map(|r| hx(r)).collect::<Vec<_>>(), "updates": updates },
        "metaHashes": [{ "dims": spec_meta.shape, "scale": spec_meta.scale, "chunkLen": spec_meta.chunk_len, "metaHash": hx(&meta_hash(&spec_meta)) }],
    })
}

#[test]
fn commitment_vectors_match_the_checked_in_file() {
    let path = vectors_dir().join("commitments.json");
    let fresh = serde_json::to_string_pretty(&build()).unwrap() + "\n";
    if std::env::var("ZKOPML_BLESS").is_ok() {
        std::fs::write(&path, &fresh).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path)
        .expect("testdata/vectors/commitments.json (regenerate with ZKOPML_BLESS=1)");
    assert!(on_disk == fresh, "testdata/vectors/commitments.json differs from what the code computes: a commitment definition drifted");
}

#[test]
fn chunk_digests_match_circomlibjs() {
    let text = std::fs::read_to_string(vectors_dir().join("poseidon-circomlibjs.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let mut h = ChunkHasher::default();
    for p in v["poseidon5"].as_array().unwrap() {
        let ins: Vec<Fr> = p["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().parse::<Fr>().unwrap())
            .collect();
        let want: Fr = p["output"].as_str().unwrap().parse().unwrap();
        assert_eq!(h.poseidon5(&ins.try_into().unwrap()), want);
    }
    let chunks = v["chunks"].as_array().unwrap();
    assert!(chunks.len() >= 10);
    for c in chunks {
        let vals: Vec<i32> = c["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_i64().unwrap() as i32)
            .collect();
        assert_eq!(
            hx(&h.digest(&vals)),
            c["digest"].as_str().unwrap(),
            "chunk of {} values",
            vals.len()
        );
        assert_eq!(h.digest(&vals), fr_to_bytes(&h.digest_fr(&vals)));
    }
}
