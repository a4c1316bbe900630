//! A PyTorch-style export whose shape subgraphs fold at compile time (Shape, Gather,
//! Unsqueeze, Concat, ConstantOfShape, Range, Expand via Equal/Where, Size, Slice, Dropout,
//! Identity; built by crates/model/tests/fold.rs) runs in fixed point, on the trace and on the
//! honest path, and agrees with tract's f32 run of the unfolded graph.

use std::path::PathBuf;

use zkopml_exec::{dequantise, quantise_input, run, Engine};
use zkopml_model::input::read_input_json;
use zkopml_model::reference::TractReference;
use zkopml_model::{compile_onnx, default_calibration};

#[test]
fn torch_fold_model_runs_in_fixed_point_and_agrees_with_tract() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/models/torch_fold");
    let onnx = dir.join("network.onnx");
    let x = read_input_json(&dir.join("input.json")).unwrap();
    let (graph, p) = compile_onnx(&onnx, &default_calibration(x.len(), Some(&x))).unwrap();
    assert_eq!(p.n_ops(), 8);
    let q = quantise_input(&p, &x).unwrap();
    let trace = run(&p, q.clone()).unwrap();
    assert_eq!(&Engine::new(&p).infer(q).unwrap(), trace.output());
    let out = p.outputs[0];
    let fixed = dequantise(&trace.slots[out], p.slot_spec(out).scale);
    let float = TractReference::load(&onnx, &graph.input_shape)
        .unwrap()
        .run(&x)
        .unwrap();
    assert_eq!(fixed.len(), 5);
    let err = fixed
        .iter()
        .zip(&float[0])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    eprintln!("fixed point vs tract: max abs error {err:.2e}");
    assert!(err < 1e-4, "fixed point vs tract: max abs error {err}");
}
