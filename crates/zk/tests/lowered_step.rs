//! A lowered model's dispute steps prove with the existing circuits (crates/model/src/lower: no
//! new circuit). testdata/models/lowered is `LayerNormalization(Gelu(x))` (built by
//! crates/model/tests/lower.rs): Gelu becomes a piecewise cubic and a Mul, LayerNormalization
//! ReduceMean, Sub, Mul, ReduceMean, Add, Sqrt, Max, Div, Mul and Add. Every step (op, chunk) is
//! proved with the real Groth16 keys (a seeded, insecure setup) and verified natively, and the
//! output each proof commits to is the executor's chunk in the trace commitment.
//! testdata/models/lowered_array chains DepthToSpace, Pad reflect, CumSum, Einsum and Round.
//! `cargo test --release -p zkopml-zk --test lowered_step`.

use std::path::PathBuf;

use zkopml_exec::commit::TraceCommitment;
use zkopml_exec::{quantise_input, run};
use zkopml_model::input::read_input_json;
use zkopml_model::{compile_onnx, default_calibration};
use zkopml_zk::{circuit_set::CircuitSet, groth16::seeded_rng};

mod common;
use common::scratch;

/// Compiles testdata/models/`name` as a user would, checks its program's operator kinds, and
/// proves and verifies every step (op, chunk) with the real keys of a seeded setup; returns the
/// number of steps.
fn every_step_proves(name: &str, kinds: &[&str]) -> usize {
    steps_prove(name, kinds, false)
}

/// As [`every_step_proves`], with `last_chunk_only`: one step per op, its last chunk (for the
/// models whose every chunk would take minutes).
fn steps_prove(name: &str, kinds: &[&str], last_chunk_only: bool) -> usize {
    let (x, p) = compile_testdata(name);
    let got: Vec<&str> = p.ops.iter().map(|n| n.op.kind()).collect();
    assert_eq!(got, kinds, "{name}");
    let trace = run(&p, quantise_input(&p, &x).unwrap()).unwrap();
    let c = TraceCommitment::new(&p, &trace).unwrap();
    let dir = scratch(name);
    let set = CircuitSet::setup(&p, &dir, Some(21), &mut |_, _, _| {}).unwrap();
    let mut rng = seeded_rng(5);
    let mut steps = 0;
    for op in 1..=p.n_ops() {
        let chunks = p.ops[op - 1].out.num_chunks();
        let first = if last_chunk_only { chunks - 1 } else { 0 };
        for chunk in first..chunks {
            let s = set
                .prove_step(&dir, &p, &trace.slots, &c, op, chunk, &mut rng)
                .unwrap_or_else(|e| panic!("{name} op {op} ({}) chunk {chunk}: {e}", got[op - 1]));
            assert!(set.verify_step(&s).unwrap(), "{name} op {op} chunk {chunk}");
            assert_eq!(
                s.output_leaf().unwrap(),
                c.tensors[op].leaves[chunk],
                "{name} op {op} chunk {chunk}: the proved output is the trace's"
            );
            assert!(
                s.check_openings(&p, &c.state_roots[op - 1]).unwrap(),
                "{name} op {op} chunk {chunk}: openings"
            );
            steps += 1;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    steps
}

#[test]
fn every_step_of_a_lowered_gelu_and_layer_norm_proves_and_verifies() {
    let kinds = [
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
        "Add",
    ];
    assert_eq!(
        every_step_proves("lowered", &kinds),
        kinds.len(),
        "one chunk per op"
    );
}

/// testdata/models/lowered_array (crates/model/tests/lower.rs): DepthToSpace (a rank-6
/// Transpose), Pad reflect (Gathers), CumSum (a Gemm over rows: on the rank-4 tensor itself, its
/// proof committed to other values than the trace's), Einsum of two computed operands (a MatMul)
/// and Round (compares and exact arithmetic).
#[test]
fn every_step_of_the_lowered_array_ops_proves_and_verifies() {
    let d2s_pad = ["Reshape", "Transpose", "Reshape", "Gather", "Gather"];
    let cum_sum = ["Reshape", "Gemm", "Reshape"];
    let einsum = ["Reshape", "Transpose", "Reshape", "MatMul", "Reshape"];
    let round = [
        "Cast", "Compare", "Sub", "Sub", "Compare", "Compare", "Mul", "Cast", "Compare", "Sub",
        "Mul", "Sub", "Mul", "Add", "Add",
    ];
    let kinds = [&d2s_pad[..], &cum_sum, &einsum, &round].concat();
    every_step_proves("lowered_array", &kinds);
}

/// testdata/models/lowered_index (crates/model/tests/lower.rs): TopK (pairwise comparisons,
/// ranks, selections), the integer Div (truncating: Abs, the floor Div by a constant, the sign),
/// ScatterElements of computed indices (the index checked by a Gather from a constant range,
/// one-hot rows, a MatMul of the kept hits by the updates, a Where), GatherND (a Gather of the
/// computed positions), Log (six Sqrts and a piecewise cubic), Atan, Sin and Asin.
#[test]
fn every_step_of_the_lowered_index_ops_proves_and_verifies() {
    let top_k = [
        "Reshape",
        "Reshape",
        "Compare",
        "Compare",
        "Mul",
        "Add",
        "ReduceSum",
        "Compare",
        "Mul",
        "ReduceSum",
        "Mul",
        "ReduceSum",
    ];
    let div = [
        "Abs", "Sub", "Div", "Compare", "Compare", "Not", "Neg", "Where", "Cast", "Add",
    ];
    let scatter = [
        "Gather",
        "Mul",
        "Add",
        "Reshape",
        "Compare",
        "Reshape",
        "Reshape",
        "Reshape",
        "Compare",
        "Mul",
        "ReduceSum",
        "Compare",
        "Mul",
        "ReduceSum",
        "MatMul",
        "Where",
        "Reshape",
    ];
    let gather_nd = [
        "Reshape", "Reshape", "Gather", "Gather", "Reshape", "Gather", "Reshape", "Abs",
    ];
    let log = [
        "Relu",
        "Sqrt",
        "Sqrt",
        "Sqrt",
        "Sqrt",
        "Sqrt",
        "Sqrt",
        "PiecewisePoly",
    ];
    let atan = [
        "Abs",
        "Max",
        "Reciprocal",
        "PiecewisePoly",
        "PiecewisePoly",
        "Add",
        "Compare",
        "Neg",
        "Where",
    ];
    let sin = [
        "Affine",
        "Cast",
        "Compare",
        "Sub",
        "Mul",
        "Sub",
        "PiecewisePoly",
    ];
    let asin = [
        "Abs",
        "Clip",
        "Affine",
        "Sqrt",
        "PiecewisePoly",
        "Compare",
        "Neg",
        "Where",
    ];
    let kinds = [
        &top_k[..],
        &div,
        &scatter,
        &gather_nd,
        &log,
        &atan,
        &sin,
        &asin,
    ]
    .concat();
    every_step_proves("lowered_index", &kinds);
}

/// The kinds of a compiled testdata model's ops, in order.
fn kinds_of(name: &str) -> Vec<&'static str> {
    let (_, p) = compile_testdata(name);
    p.ops.iter().map(|n| n.op.kind()).collect()
}

/// testdata/models/`name`'s sample input and its program, compiled as a user would.
fn compile_testdata(name: &str) -> (Vec<f64>, zkopml_model::Program) {
    let model = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/models")
        .join(name);
    let x = read_input_json(&model.join("input.json")).unwrap();
    let (_, p) = compile_onnx(
        &model.join("network.onnx"),
        &default_calibration(x.len(), Some(&x)),
    )
    .unwrap();
    (x, p)
}

/// Tree ensembles converted by hummingbird (testdata/models/hummingbird,
/// scripts/models/hummingbird.sh): the GEMM strategy (a Gemm with a constant A, lowered to a
/// grouped 1x1 Conv, Compare, Cast, Conv, Equal, Conv, ReduceSum, Softmax, ArgMax), tree
/// traversal (GatherElements of the node features, Where, Gather of the next node) and perfect
/// tree traversal (Gather, Mul). Every step proves and verifies.
#[test]
fn every_step_of_hummingbird_trees_proves_and_verifies() {
    for (name, must) in [
        (
            "hummingbird/gb_gemm",
            &["Conv", "Transpose", "Softmax", "ArgMax"][..],
        ),
        (
            "hummingbird/gb_tree_trav",
            &["GatherElements", "Where", "Gather"][..],
        ),
        (
            "hummingbird/rf_perf_tree_trav",
            &["GatherElements", "Mul", "Gather"][..],
        ),
    ] {
        let kinds = kinds_of(name);
        for k in must {
            assert!(kinds.contains(k), "{name} has a {k}: {kinds:?}");
        }
        let steps = every_step_proves(name, &kinds);
        assert!(steps >= kinds.len(), "{name}: {steps} steps");
    }
}

/// testdata/models/lowered_windows (crates/model/tests/lower.rs): Conv3d (Pad, a Gather of the
/// depth taps, the taps moved into batch and channels, a 2-D Conv of batch 4), MaxPool3d and
/// AveragePool3d (the 2-D pool, then the depth window: Gather, ReduceMax or ReduceSum and Mul),
/// ConvTranspose1d, LpPool1d (a depthwise Conv of ones and Sqrt), GlobalLpPool, GlobalMaxPool:
/// the last chunk of every op (all 88 steps took 41 s, long for CI).
#[test]
fn every_op_of_the_lowered_window_ops_proves_and_verifies() {
    let kinds = kinds_of("lowered_windows");
    for k in [
        "Pad",
        "Gather",
        "Transpose",
        "Conv",
        "MaxPool",
        "ReduceMax",
        "AveragePool",
    ] {
        assert!(kinds.contains(&k), "lowered_windows has a {k}: {kinds:?}");
    }
    assert_eq!(steps_prove("lowered_windows", &kinds, true), kinds.len());
}

/// A Keras CNN converted by tf2onnx (testdata/models/keras/cnn, scripts/models/keras.sh): the
/// NHWC Transpose, Conv + Relu, BatchNormalization (Affine), MaxPool, DepthwiseConv2D + ReLU6
/// (Clip), swish and GELU (piecewise cubics and Muls), GlobalAveragePool, Dense (Gemm), Softmax:
/// the last chunk of every op proves and verifies.
#[test]
fn every_op_of_the_keras_cnn_proves_and_verifies() {
    let kinds = kinds_of("keras/cnn");
    for k in [
        "Transpose",
        "Conv",
        "Affine",
        "Clip",
        "PiecewisePoly",
        "Gemm",
        "Softmax",
    ] {
        assert!(kinds.contains(&k), "keras/cnn has a {k}: {kinds:?}");
    }
    assert_eq!(steps_prove("keras/cnn", &kinds, true), kinds.len());
}
