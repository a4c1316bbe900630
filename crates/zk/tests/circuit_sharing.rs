//! Security (issue 19, item 8): two (op, chunk)s may share one circuit, and so one verifying
//! key in the circuit table, only if they synthesise the same constraint system.
//!
//! The attack: a model owner plants weights so that two output chunks of one Gemm compute
//! different functions yet get the same structure key. The version-1 key encoded an output as
//! `bias, (weight, position)*, -1` without a tap count, and `-1` is also a legal weight or
//! bias, so the output boundaries can be shifted:
//!
//! ```text
//! chunk 0: y0 = 7 − x3        y1 = 0 + 2·x1          7, -1,3, -1 | 0, 2,1, -1
//! chunk 1: y2 = 7             y3 = 3 − x0 + 2·x1     7, -1 | 3, -1,0, 2,1, -1
//! ```
//!
//! Both streams are `7 -1 3 -1 0 2 1 -1`. `CircuitSet::plan` then gave chunk 1 the circuit
//! (and the verifying key) of chunk 0: the honest output of chunk 1 could not be proved, and
//! chunk 0's function applied to chunk 1's input (a wrong output) verified as chunk 1's step.
//! Keep this test.

use std::path::PathBuf;

use zkopml_exec::commit::{MerkleTree, TraceCommitment};
use zkopml_model::{DType, Program, QNode, QOp, QOperand, Tensor, TensorSpec};
use zkopml_zk::{
    circuit_set::{CircuitSet, StepProof},
    groth16::{keccak256, seeded_rng, to_hex},
    native::chunk_digest,
    table::op_chunk,
    ZkError,
};

mod common;
use common::scratch;

/// `y [1, 4] = x [1, 4] · w [4, 4] + bias`, output chunks of 2, with the planted weights.
fn planted() -> Program {
    #[rustfmt::skip]
    let w: Vec<i64> = vec![
        //  col0 col1 col2 col3
            0,   0,   0,  -1, // t = 0
            0,   2,   0,   2, // t = 1
            0,   0,   0,   0, // t = 2
           -1,   0,   0,   0, // t = 3
    ];
    let input = TensorSpec {
        chunk_len: 4,
        ..TensorSpec::new(vec![1, 4], DType::Float, 0)
    };
    let out = TensorSpec {
        chunk_len: 2,
        ..TensorSpec::new(vec![1, 4], DType::Float, 0)
    };
    Program {
        format_version: zkopml_model::program::FORMAT_VERSION,
        inputs: vec![],
        input,
        outputs: vec![1],
        ops: vec![QNode {
            name: "gemm".into(),
            onnx_op: "Gemm".into(),
            op: QOp::Gemm {
                weight: Tensor::new(vec![4, 4], w),
                bias: vec![7, 0, 7, 3],
                shift: 0,
            },
            inputs: vec![QOperand::Slot(0)],
            out,
            macs: 0,
        }],
    }
}

#[test]
fn planted_weights_cannot_make_two_gemm_chunks_share_a_circuit() {
    let p = planted();
    let x = Tensor::new(vec![1, 4], vec![5, 10, 20, 30]);
    let trace = zkopml_exec::run(&p, x).unwrap();
    // the two chunks compute different functions: 7 − x3, 2·x1 and 7, 3 − x0 + 2·x1
    assert_eq!(trace.slots[1].data, vec![-23, 20, 7, 18]);
    let commitment = TraceCommitment::new(&p, &trace).unwrap();
    let mut broken = Vec::new();

    // 1. the structure keys, and the plan
    let (c0, _) = op_chunk(&p, 1, 0).unwrap();
    let (c1, _) = op_chunk(&p, 1, 1).unwrap();
    if c0.structure_key() == c1.structure_key() {
        broken.push("chunks 0 and 1 have equal structure keys".to_string());
    }
    let (plan, _) = CircuitSet::plan(&p).unwrap();
    if plan.entries[0].circuit == plan.entries[1].circuit {
        broken.push(format!(
            "plan maps chunks 0 and 1 to one circuit ({})",
            plan.entries[0].circuit
        ));
    }

    // 2. setup; the honest output of chunk 1 must be provable and verify
    let dir = scratch("circuit-sharing");
    let set = CircuitSet::setup(&p, &dir, Some(19), &mut |_, _, _| {}).unwrap();
    let mut rng = seeded_rng(8);
    match set.prove_step(&dir, &p, &trace.slots, &commitment, 1, 1, &mut rng) {
        Ok(step) if set.verify_step(&step).unwrap() => {}
        Ok(_) => broken.push("the honest proof of chunk 1 does not verify".into()),
        Err(e) => broken.push(format!("the honest output of chunk 1 is not provable: {e}")),
    }

    // 3. the forgery: chunk 0's function on chunk 1's input (both read input chunk 0), posted
    //    as chunk 1's step under chunk 1's table leaf
    let step0 = set
        .prove_step(&dir, &p, &trace.slots, &commitment, 1, 0, &mut rng)
        .unwrap();
    let i1 = set.leaf_index(1, 1).unwrap();
    let vk1 = set.circuits[set.entries[i1].circuit].vk_abi.clone();
    let vk1_bytes = hex::decode(vk1.trim_start_matches("0x")).unwrap();
    let leaves = set.leaves().unwrap();
    assert_eq!(
        leaves[i1],
        zkopml_zk::circuit_set::table_leaf(1, 1, &keccak256(&vk1_bytes), &set.entries[i1].reads)
    );
    let forged = StepProof {
        chunk: 1,
        vk: vk1,
        leaf_index: i1,
        circuit_path: MerkleTree::new(&leaves)
            .path(i1)
            .iter()
            .map(|w| to_hex(w))
            .collect(),
        ..step0
    };
    let honest_digest = chunk_digest(&trace.slots[1].data[2..4]);
    assert_ne!(
        forged.output_digest,
        to_hex(&zkopml_zk::evm::fr_to_word(&honest_digest)),
        "the forged claim is a wrong output of chunk 1"
    );
    if set.verify_step(&forged).unwrap() {
        broken.push(
            "a wrong output of chunk 1 (chunk 0's function of its input) verifies under chunk \
             1's table leaf"
                .into(),
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(broken.is_empty(), "circuit sharing forged: {broken:#?}");
}

/// The structure keys of the two planted chunks differ now, and so does what their synthesis
/// reads; two interior chunks of a convolution still share a circuit.
#[test]
fn the_planted_chunks_differ_in_key_and_in_synthesis() {
    let p = planted();
    let (c0, _) = op_chunk(&p, 1, 0).unwrap();
    let (c1, _) = op_chunk(&p, 1, 1).unwrap();
    assert_ne!(c0.structure_key(), c1.structure_key());
    assert!(!c0.same_synthesis(&c1));
    assert!(c0.same_synthesis(&c0.clone()));
    let (plan, _) = CircuitSet::plan(&p).unwrap();
    assert_eq!(plan.circuits.len(), 2);
    assert_eq!(plan.entries[1].circuit, 1);
}

/// A circuit set whose table maps chunk 1 to chunk 0's circuit (the forged sharing, now
/// written into `circuits.json` directly, with a root that matches the forged table) is
/// refused at load, naming the (op, chunk).
#[test]
fn a_table_mapping_a_chunk_to_another_circuit_is_refused_at_load() {
    let p = planted();
    let dir = scratch("circuit-sharing-load");
    let set = CircuitSet::setup(&p, &dir, Some(20), &mut |_, _, _| {}).unwrap();
    CircuitSet::load(&dir, &p).expect("the honest set loads");
    assert_eq!(set.check_synthesis(&p, true, &mut |_, _, _| {}).unwrap(), 2);

    let mut forged = set.clone();
    forged.entries[1].circuit = 0;
    forged.circuits[0].uses = 2;
    forged.circuits[1].uses = 0;
    forged.circuit_root = to_hex(&MerkleTree::new(&forged.leaves().unwrap()).root());
    forged.save(&dir).unwrap();
    let err = CircuitSet::load(&dir, &p).unwrap_err();
    assert!(
        matches!(
            err,
            ZkError::CircuitIdentity {
                op: 1,
                chunk: 1,
                circuit: 0,
                ..
            }
        ),
        "{err}"
    );
    eprintln!("{err}");
    // the synthesis check finds it too, without the structure keys
    let err = forged
        .check_synthesis(&p, true, &mut |_, _, _| {})
        .unwrap_err();
    assert!(
        matches!(
            err,
            ZkError::CircuitIdentity {
                op: 1,
                chunk: 1,
                ..
            }
        ),
        "{err}"
    );
    // ... and so does the cheap one, which synthesises the last chunk of each shared circuit
    let err = forged
        .check_synthesis(&p, false, &mut |_, _, _| {})
        .unwrap_err();
    assert!(
        matches!(
            err,
            ZkError::CircuitIdentity {
                op: 1,
                chunk: 1,
                ..
            }
        ),
        "{err}"
    );

    // a table whose circuit records chunk 1's key for chunk 0's circuit is refused at chunk 0
    let mut relabelled = set.clone();
    relabelled.circuits[0].structure_key = set.circuits[1].structure_key.clone();
    let err = relabelled.check_table(&p).unwrap_err();
    assert!(
        matches!(
            err,
            ZkError::CircuitIdentity {
                op: 1,
                chunk: 0,
                ..
            }
        ),
        "{err}"
    );
    // other reads than the model's
    let mut reads = set.clone();
    reads.entries[0].reads = vec![(0, 1)];
    let err = reads.check_table(&p).unwrap_err();
    assert!(
        matches!(
            err,
            ZkError::CircuitIdentity {
                op: 1,
                chunk: 0,
                ..
            }
        ),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn compiled(dir: &str) -> (Program, Vec<Tensor<i32>>) {
    use zkopml_model::{compile_onnx, default_calibration, input::read_input_json};
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/models")
        .join(dir)
        .join("network.onnx");
    let sample = read_input_json(&path.with_file_name("input.json")).unwrap();
    let (_, p) = compile_onnx(&path, &default_calibration(sample.len(), Some(&sample))).unwrap();
    let x = zkopml_exec::quantise_input(&p, &sample).unwrap();
    let trace = zkopml_exec::run(&p, x).unwrap();
    (p, trace.slots)
}

/// The identity checks on LeNet: the plan (structure keys and the data comparison of every
/// chunk that shares a circuit), the table check of `load`, and every one of its 137 chunks
/// synthesised and compared with its circuit's id. Prints the cost of each.
#[test]
fn lenet_every_chunk_synthesises_its_circuit() {
    use std::time::Instant;
    use zkopml_zk::{circuits::chunk::ChunkCircuit, groth16::circuit_info};
    let (p, _) = compiled("lenet_5");
    let t = Instant::now();
    let (mut set, shapes) = CircuitSet::plan(&p).unwrap();
    let plan_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    for (meta, shape) in set.circuits.iter_mut().zip(shapes) {
        meta.id = circuit_info(ChunkCircuit::shape(shape)).unwrap().id_hex();
    }
    let ids_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    set.check_table(&p).unwrap();
    let table_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let sampled = set.check_synthesis(&p, false, &mut |_, _, _| {}).unwrap();
    let sample_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let all = set.check_synthesis(&p, true, &mut |_, _, _| {}).unwrap();
    let all_s = t.elapsed().as_secs_f64();
    assert_eq!(all, set.entries.len());
    eprintln!(
        "LeNet: {} chunks, {} circuits; plan {plan_s:.3} s; ids of the circuits {ids_s:.2} s; \
         check_table {table_s:.3} s; check_synthesis of {sampled} last uses {sample_s:.2} s, \
         of all {all} chunks {all_s:.2} s",
        set.entries.len(),
        set.circuits.len()
    );
}

/// A `circuits.json` made before version 2 of the structure keys (no `structure_version`) is
/// refused at load with a clear error.
#[test]
fn a_set_with_version_1_structure_keys_is_refused_at_load() {
    let p = planted();
    let dir = scratch("circuit-sharing-v1");
    CircuitSet::setup(&p, &dir, Some(21), &mut |_, _, _| {}).unwrap();
    let path = dir.join("circuits.json");
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    json.as_object_mut().unwrap().remove("structure_version");
    std::fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();
    let err = CircuitSet::load(&dir, &p).unwrap_err();
    assert!(
        err.to_string().contains("structure keys of version 0"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
