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
};

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

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("zkopml-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
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
