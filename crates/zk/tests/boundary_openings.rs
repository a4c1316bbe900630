//! Boundary tensors (docs/commitments.md, "Boundary tensors"): slot 0 and slot n are committed
//! with keccak chunk leaves. A step proof reading slot 0 opens the chunk with its packed bytes
//! (the chunk path is that of the keccak leaf), a step of op n carries the output chunk's packed
//! bytes; the public inputs stay Poseidon digests. The openings are checked natively here, as
//! `proveStep` checks them.

use zkopml_exec::commit::{boundary_leaf, pack_be, Leaves, TraceCommitment};
use zkopml_model::{DType, Program, QNode, QOp, QOperand, Tensor, TensorSpec};
use zkopml_zk::{
    circuit_set::CircuitSet,
    evm::fr_to_word,
    groth16::{seeded_rng, to_hex},
    native::chunk_digest,
};

mod common;
use common::scratch;

/// `y [1, 6] = x [1, 6] · w + b`, then ReLU; chunks of 4 (the last one short: 2 values).
fn small() -> Program {
    let spec = |chunk_len| TensorSpec {
        chunk_len,
        ..TensorSpec::new(vec![1, 6], DType::Float, 0)
    };
    let w: Vec<i64> = (0..36).map(|i| (i % 5) - 2).collect();
    Program {
        format_version: zkopml_model::program::FORMAT_VERSION,
        inputs: vec![],
        input: spec(4),
        outputs: vec![2],
        ops: vec![
            QNode {
                name: "gemm".into(),
                onnx_op: "Gemm".into(),
                op: QOp::Gemm {
                    weight: Tensor::new(vec![6, 6], w),
                    bias: vec![1, -2, 3, -4, 5, -6],
                    shift: 0,
                },
                inputs: vec![QOperand::Slot(0)],
                out: spec(4),
                macs: 0,
            },
            QNode {
                name: "relu".into(),
                onnx_op: "Relu".into(),
                op: QOp::Relu,
                inputs: vec![QOperand::Slot(1)],
                out: spec(4),
                macs: 0,
            },
        ],
    }
}

fn hex_of(v: &[i32]) -> String {
    to_hex(&pack_be(v))
}

#[test]
fn slot_0_and_slot_n_openings_verify_natively_with_their_packed_bytes() {
    let p = small();
    let x = Tensor::new(vec![1, 6], vec![3, -1, 4, -1, 5, -9]);
    let trace = zkopml_exec::run(&p, x.clone()).unwrap();
    let c = TraceCommitment::new(&p, &trace).unwrap();
    assert_eq!(c.tensors[0].kind, Leaves::Keccak);
    assert_eq!(c.tensors[1].kind, Leaves::Poseidon);
    assert_eq!(c.tensors[2].kind, Leaves::Keccak);
    let dir = scratch("boundary-openings");
    let set = CircuitSet::setup(&p, &dir, Some(31), &mut |_, _, _| {}).unwrap();
    let mut rng = seeded_rng(9);

    // op 1, chunk 1 (the short one): reads slot 0, writes the interior slot 1
    let s1 = set
        .prove_step(&dir, &p, &trace.slots, &c, 1, 1, &mut rng)
        .unwrap();
    assert!(set.verify_step(&s1).unwrap());
    assert_eq!(s1.input_slots, vec![0, 0]);
    for (k, o) in s1.inputs.iter().enumerate() {
        let chunk = s1.input_chunks[k];
        let values = &x.data[4 * chunk..(4 * chunk + 4).min(6)];
        assert_eq!(
            o.values.as_deref(),
            Some(hex_of(values).as_str()),
            "input {k}"
        );
        // the public input is still the Poseidon digest, the leaf the keccak of the bytes
        assert_eq!(o.digest, to_hex(&fr_to_word(&chunk_digest(values))));
        assert_eq!(s1.public_inputs[k], o.digest);
        assert_eq!(o.leaf().unwrap(), boundary_leaf(values));
        assert_eq!(o.leaf().unwrap(), c.tensors[0].leaves[chunk]);
        let path = c.tensors[0].chunks.path(chunk);
        assert_eq!(
            o.chunk_path,
            path.iter().map(|w| to_hex(w)).collect::<Vec<_>>()
        );
    }
    assert_eq!(s1.output_values, None);
    assert_eq!(s1.output_leaf().unwrap(), c.tensors[1].leaves[1]);
    assert!(s1.check_openings(&p, &c.state_roots[0]).unwrap());
    assert!(
        !s1.check_openings(&p, &c.state_roots[1]).unwrap(),
        "another agreed root"
    );

    // tampered openings of slot 0 are refused
    let mut bad = s1.clone();
    bad.inputs[0].values = None;
    assert!(
        !bad.check_openings(&p, &c.state_roots[0]).unwrap(),
        "no packed bytes"
    );
    let mut bad = s1.clone();
    let mut other = x.data[0..4].to_vec();
    other[2] += 1;
    bad.inputs[0].values = Some(hex_of(&other));
    assert!(
        !bad.check_openings(&p, &c.state_roots[0]).unwrap(),
        "other bytes"
    );
    let mut bad = s1.clone();
    bad.inputs[0].values = Some(hex_of(&x.data[0..3]));
    assert!(
        !bad.check_openings(&p, &c.state_roots[0]).unwrap(),
        "a shorter chunk"
    );
    let mut bad = s1.clone();
    bad.inputs[0].chunk_path[0] = to_hex(&[7u8; 32]);
    assert!(
        !bad.check_openings(&p, &c.state_roots[0]).unwrap(),
        "a wrong chunk path"
    );
    let mut bad = s1.clone();
    bad.output_values = Some(hex_of(&trace.slots[1].data[4..6]));
    assert!(
        !bad.check_openings(&p, &c.state_roots[0]).unwrap(),
        "output bytes before op n"
    );

    // op 2 = n, chunk 0: reads the interior slot 1, writes the output (slot n)
    let s2 = set
        .prove_step(&dir, &p, &trace.slots, &c, 2, 0, &mut rng)
        .unwrap();
    assert!(set.verify_step(&s2).unwrap());
    assert!(s2.inputs.iter().all(|o| o.values.is_none()));
    let out = &trace.slots[2].data[0..4];
    assert_eq!(s2.output_values.as_deref(), Some(hex_of(out).as_str()));
    assert_eq!(s2.output_digest, to_hex(&fr_to_word(&chunk_digest(out))));
    assert_eq!(s2.output_leaf().unwrap(), c.tensors[2].leaves[0]);
    assert!(s2.check_openings(&p, &c.state_roots[1]).unwrap());
    let mut bad = s2.clone();
    bad.output_values = None;
    assert!(
        !bad.check_openings(&p, &c.state_roots[1]).unwrap(),
        "no output bytes at op n"
    );
    let mut bad = s2.clone();
    let mut wrong = out.to_vec();
    wrong[0] ^= 1;
    bad.output_values = Some(hex_of(&wrong));
    assert!(
        !bad.check_openings(&p, &c.state_roots[1]).unwrap(),
        "output bytes of another chunk"
    );

    // serde: the new fields are optional, absent when None
    let json = serde_json::to_value(&s1).unwrap();
    assert!(json.get("output_values").is_none());
    assert!(json["inputs"][0].get("values").is_some());
    let mut stripped = serde_json::to_value(&s2).unwrap();
    stripped.as_object_mut().unwrap().remove("output_values");
    let back: zkopml_zk::circuit_set::StepProof = serde_json::from_value(stripped).unwrap();
    assert_eq!(back.output_values, None);
    assert_eq!(
        serde_json::from_value::<zkopml_zk::circuit_set::StepProof>(
            serde_json::to_value(&s2).unwrap()
        )
        .unwrap(),
        s2
    );
    let _ = std::fs::remove_dir_all(&dir);
}
