//! A lowered model's dispute steps prove with the existing circuits (crates/model/src/lower: no
//! new circuit). testdata/models/lowered is `LayerNormalization(Gelu(x))` (built by
//! crates/model/tests/lower.rs): Gelu becomes a piecewise cubic and a Mul, LayerNormalization
//! ReduceMean, Sub, Mul, ReduceMean, Add, Sqrt, Max, Div, Mul and Add. Every step (op, chunk) is
//! proved with the real Groth16 keys (a seeded, insecure setup) and verified natively, and the
//! output each proof commits to is the executor's chunk in the trace commitment.
//! `cargo test --release -p zkopml-zk --test lowered_step`.

use std::path::PathBuf;

use zkopml_exec::commit::TraceCommitment;
use zkopml_exec::{quantise_input, run};
use zkopml_model::input::read_input_json;
use zkopml_model::{compile_onnx, default_calibration};
use zkopml_zk::{circuit_set::CircuitSet, groth16::seeded_rng};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("zkopml-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn every_step_of_a_lowered_gelu_and_layer_norm_proves_and_verifies() {
    let model = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/models/lowered");
    let x = read_input_json(&model.join("input.json")).unwrap();
    let (_, p) = compile_onnx(
        &model.join("network.onnx"),
        &default_calibration(x.len(), Some(&x)),
    )
    .unwrap();
    let kinds: Vec<&str> = p.ops.iter().map(|n| n.op.kind()).collect();
    assert_eq!(
        kinds,
        [
            "PiecewisePoly",
            "Mul",
            "ReduceMean",
            "Sub",
            "Mul",
            "ReduceMean",
            "Add",
            "Sqrt",
            "Max",
            "Div",
            "Mul",
            "Add"
        ]
    );
    let trace = run(&p, quantise_input(&p, &x).unwrap()).unwrap();
    let c = TraceCommitment::new(&p, &trace).unwrap();
    let dir = scratch("lowered-step");
    let set = CircuitSet::setup(&p, &dir, Some(21), &mut |_, _, _| {}).unwrap();
    let mut rng = seeded_rng(5);
    let mut steps = 0;
    for op in 1..=p.n_ops() {
        for chunk in 0..p.ops[op - 1].out.num_chunks() {
            let s = set
                .prove_step(&dir, &p, &trace.slots, &c, op, chunk, &mut rng)
                .unwrap_or_else(|e| panic!("op {op} ({}) chunk {chunk}: {e}", kinds[op - 1]));
            assert!(set.verify_step(&s).unwrap(), "op {op} chunk {chunk}");
            assert_eq!(
                s.output_leaf().unwrap(),
                c.tensors[op].leaves[chunk],
                "op {op} chunk {chunk}: the proved output is the trace's"
            );
            assert!(
                s.check_openings(&p, &c.state_roots[op - 1]).unwrap(),
                "op {op} chunk {chunk}: openings"
            );
            steps += 1;
        }
    }
    assert_eq!(steps, p.n_ops(), "one chunk per op");
    let _ = std::fs::remove_dir_all(&dir);
}
