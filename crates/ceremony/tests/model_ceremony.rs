//! The ceremony of a whole model (EZKL's 1l_mlp: a Gemm and a Relu circuit, both within a
//! domain of 2^10): initial keys from a snarkjs .ptau, native and snarkjs contributions,
//! verification against the model, final keys used by the dispute prover.

mod common;

use std::path::PathBuf;

use common::{ptau, scratch, snarkjs_ok};
use zkopml_ceremony::{model, zkey::Zkey, CeremonyError};
use zkopml_exec::commit::TraceCommitment;
use zkopml_model::{compile_onnx, default_calibration, input::read_input_json};
use zkopml_zk::{circuit_set::CircuitSet, groth16::os_rng};

fn mlp() -> (
    zkopml_model::Program,
    Vec<zkopml_model::Tensor<i32>>,
    TraceCommitment,
) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/models/ezkl/1l_mlp/network.onnx");
    let sample = read_input_json(&path.with_file_name("input.json")).unwrap();
    let (_, p) = compile_onnx(&path, &default_calibration(sample.len(), Some(&sample))).unwrap();
    let x = zkopml_exec::quantise_input(&p, &sample).unwrap();
    let t = zkopml_exec::run(&p, x).unwrap();
    let c = TraceCommitment::new(&p, &t).unwrap();
    (p, t.slots, c)
}

fn quiet(_: usize, _: usize, _: &str) {}

#[test]
fn a_model_ceremony_from_ptau_to_dispute_proofs() {
    let (program, slots, commitment) = mlp();
    let dir = scratch("model-ceremony");
    let cdir = dir.join("ceremony");
    let p = ptau(10);
    let c = model::init(&program, &p, &cdir, &mut quiet).unwrap();
    assert_eq!(c.circuits.len(), 2);
    let (v0, _) = model::verify(&program, &p, &cdir, &mut os_rng(), &mut quiet).unwrap();
    assert!(v0.circuits.iter().all(|c| c.contributions.is_empty()));

    model::contribute(&cdir, Some("alice"), &mut os_rng(), &mut quiet).unwrap();
    // snarkjs contributes to circuit 1 only (a contributor may use either tool).
    snarkjs_ok(
        &cdir,
        &[
            "zkey",
            "contribute",
            "c1.zkey",
            "c1.next.zkey",
            "--name=bob",
            "-e=bob",
        ],
    );
    std::fs::rename(cdir.join("c1.next.zkey"), cdir.join("c1.zkey")).unwrap();
    model::contribute(&cdir, Some("carol"), &mut os_rng(), &mut quiet).unwrap();
    // snarkjs checks our .r1cs export and the chain of circuit 1.
    let out = snarkjs_ok(
        &cdir,
        &["zkey", "verify", "c1.r1cs", p.to_str().unwrap(), "c1.zkey"],
    );
    assert!(out.contains("ZKey Ok!"), "{out}");

    let (v, _) = model::verify(&program, &p, &cdir, &mut os_rng(), &mut quiet).unwrap();
    let names = |k: usize| -> Vec<String> {
        v.circuits[k]
            .contributions
            .iter()
            .map(|c| c.1.clone().unwrap())
            .collect()
    };
    assert_eq!(names(0), ["alice", "carol"]);
    assert_eq!(names(1), ["alice", "bob", "carol"]);
    assert_ne!(v.transcript_hash, v0.transcript_hash);

    // Final keys: the circuit set the prover uses; every step proves and verifies.
    let keys_dir = dir.join("keys");
    let (set, vf) =
        model::finalize(&program, &p, &cdir, &keys_dir, &mut os_rng(), &mut quiet).unwrap();
    assert_eq!(vf.transcript_hash, v.transcript_hash);
    let set2 = CircuitSet::load(&keys_dir, &program).unwrap();
    assert_eq!(set2, set);
    for op in 1..=program.n_ops() {
        let step = set
            .prove_step(
                &keys_dir,
                &program,
                &slots,
                &commitment,
                op,
                0,
                &mut os_rng(),
            )
            .unwrap();
        assert!(set.verify_step(&step).unwrap(), "op {op}");
    }

    // A key of another circuit in circuit 1's place.
    std::fs::copy(cdir.join("c1.zkey"), dir.join("c1.good")).unwrap();
    std::fs::copy(cdir.join("c0.zkey"), cdir.join("c1.zkey")).unwrap();
    let e = model::verify(&program, &p, &cdir, &mut os_rng(), &mut quiet).unwrap_err();
    assert!(
        matches!(&e, CeremonyError::CircuitKey { circuit: 1, source, .. }
            if matches!(**source, CeremonyError::CircuitMismatch(_))),
        "{e:?}"
    );
    // A key whose H section was not divided by the last delta.
    let mut z = Zkey::read(&dir.join("c1.good")).unwrap();
    let good = Zkey::read(&dir.join("c1.good")).unwrap();
    z.h[0] = z.h[1];
    z.write(&cdir.join("c1.zkey")).unwrap();
    let e = model::verify(&program, &p, &cdir, &mut os_rng(), &mut quiet).unwrap_err();
    assert!(
        matches!(&e, CeremonyError::CircuitKey { circuit: 1, source, .. }
            if matches!(**source, CeremonyError::RatioMismatch(_))),
        "{e:?}"
    );
    assert!(e.to_string().contains("circuit 1"), "{e}");
    // One more (valid) contribution to circuit 1 verifies, but the model's transcript hash changes:
    // the registry's hash is what pins the keys.
    let (other, _) =
        zkopml_ceremony::mpc::contribute(&good, Some("mallory"), &mut os_rng()).unwrap();
    other.write(&cdir.join("c1.zkey")).unwrap();
    let (v2, _) = model::verify(&program, &p, &cdir, &mut os_rng(), &mut quiet).unwrap();
    assert_ne!(v2.transcript_hash, v.transcript_hash);
}
