//! Step 1: our constraint systems and witnesses in circom's formats, read by snarkjs.

mod common;

use std::path::PathBuf;

use ark_bn254::Fr;
use common::{scratch, snarkjs, snarkjs_ok};
use zkopml_ceremony::r1cs::{synthesize, wtns_bytes, wtns_from_bytes, R1cs};
use zkopml_model::{compile_onnx, default_calibration, input::read_input_json};
use zkopml_zk::{
    circuits::chunk::ChunkCircuit,
    groth16::circuit_info,
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

#[test]
fn snarkjs_reads_a_lenet_chunk_circuit_and_checks_its_witness() {
    let (program, slots) = lenet();
    // op 12: the last Gemm (84 -> 10), one chunk.
    let (circuit, reads) = op_chunk(&program, 12, 0).unwrap();
    let inputs = read_chunks(&program, &slots, &reads);
    let info = circuit_info(ChunkCircuit::shape(circuit.clone())).unwrap();
    let (shape, none) = synthesize(ChunkCircuit::shape(circuit.clone()), false).unwrap();
    assert!(none.is_none());
    let (r1cs, z) = synthesize(ChunkCircuit::new(circuit, inputs).unwrap(), true).unwrap();
    let z = z.unwrap();
    // Setup and prove synthesize the same system; it is the one the keys are made for.
    assert_eq!(shape, r1cs);
    assert!(r1cs.matches(&info));
    assert_eq!(r1cs.first_unsatisfied(&z), None);
    assert_eq!(z[0], Fr::from(1u64));

    let dir = scratch("lenet-r1cs");
    let bytes = r1cs.to_bytes();
    assert_eq!(R1cs::from_bytes(&bytes).unwrap(), r1cs);
    std::fs::write(dir.join("c.r1cs"), &bytes).unwrap();
    std::fs::write(dir.join("c.wtns"), wtns_bytes(&z)).unwrap();
    assert_eq!(wtns_from_bytes(&wtns_bytes(&z)).unwrap(), z);

    let out = snarkjs_ok(&dir, &["r1cs", "info", "c.r1cs"]);
    assert!(
        out.contains(&format!("# of Constraints: {}", info.num_constraints)),
        "{out}"
    );
    assert!(
        out.contains(&format!("# of Wires: {}", r1cs.n_wires)),
        "{out}"
    );
    assert!(
        out.contains(&format!("# of Public Inputs: {}", info.num_public_inputs())),
        "{out}"
    );
    assert!(out.contains("Curve: bn-128"), "{out}");

    let out = snarkjs_ok(&dir, &["wtns", "check", "c.r1cs", "c.wtns"]);
    assert!(out.contains("WITNESS IS CORRECT"), "{out}");

    // A witness with one wrong value fails snarkjs's check (so the check above means something).
    let mut bad = z.clone();
    let k = bad.len() - 1;
    bad[k] += Fr::from(1u64);
    assert!(r1cs.first_unsatisfied(&bad).is_some());
    std::fs::write(dir.join("bad.wtns"), wtns_bytes(&bad)).unwrap();
    let out = snarkjs(&dir, &["wtns", "check", "c.r1cs", "bad.wtns"]);
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(!text.contains("WITNESS IS CORRECT"), "{text}");
    assert!(
        text.contains("WITNESS IS NOT CORRECT") || !out.status.success(),
        "{text}"
    );
}

#[test]
fn malformed_r1cs_and_wtns_are_rejected() {
    let (r1cs, z) = synthesize(
        zkopml_zk::circuits::relu::ReluChunkCircuit::relu(vec![1, -2, 3]),
        true,
    )
    .unwrap();
    let bytes = r1cs.to_bytes();
    let mut bad_magic = bytes.clone();
    bad_magic[0] = b'x';
    assert!(R1cs::from_bytes(&bad_magic)
        .unwrap_err()
        .to_string()
        .contains("bad magic"));
    assert!(R1cs::from_bytes(&bytes[..bytes.len() - 1]).is_err());
    let w = wtns_bytes(&z.unwrap());
    assert!(wtns_from_bytes(&w[..w.len() - 3]).is_err());
}
