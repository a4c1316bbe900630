//! Committed weights (issue 22, docs/zk.md "Weights as witnesses"): Gemm weights are a witness
//! bound by a weight block digest that the step proof opens under the model's weights root.
//! Layers of one shape share one circuit; a step proof made with other weights than the
//! registered ones does not open under the registered root. Checked natively, as `proveStep`
//! would check it.

use zkopml_exec::commit::TraceCommitment;
use zkopml_model::{DType, Program, QNode, QOp, QOperand, Tensor, TensorSpec};
use zkopml_zk::{
    circuit_set::CircuitSet,
    groth16::{seeded_rng, to_hex},
    table::{WeightsMode, MAX_BLOCK_WEIGHTS},
    weights::WeightsCommitment,
};

mod common;
use common::scratch;

fn spec(shape: Vec<usize>, chunk_len: usize) -> TensorSpec {
    TensorSpec {
        chunk_len,
        ..TensorSpec::new(shape, DType::Float, 8)
    }
}

fn gemm(name: &str, input: usize, seed: i64) -> QNode {
    let w: Vec<i64> = (0..36)
        .map(|i| ((i * 7 + seed * 13) % 41) - 20)
        .map(|v| v * 16)
        .collect();
    QNode {
        name: name.into(),
        onnx_op: "Gemm".into(),
        op: QOp::Gemm {
            weight: Tensor::new(vec![6, 6], w),
            bias: (0..6).map(|c| (c - 3) * 100 + seed).collect(),
            shift: 8,
        },
        inputs: vec![QOperand::Slot(input)],
        out: spec(vec![2, 6], 3),
        macs: 0,
    }
}

/// `x [2, 6]` → Gemm → Relu → Gemm (the same shape, other weights) → Relu; every tensor in
/// chunks of 3 (half a row), so each Gemm chunk reads the two chunks of one input row and the
/// weights of three columns.
fn two_layers(seed: i64) -> Program {
    let relu = |input: usize| QNode {
        name: format!("relu{input}"),
        onnx_op: "Relu".into(),
        op: QOp::Relu,
        inputs: vec![QOperand::Slot(input)],
        out: spec(vec![2, 6], 3),
        macs: 0,
    };
    Program {
        format_version: zkopml_model::program::FORMAT_VERSION,
        inputs: vec![],
        input: spec(vec![2, 6], 3),
        outputs: vec![4],
        ops: vec![
            gemm("fc1", 0, seed),
            relu(1),
            gemm("fc2", 2, seed + 1),
            relu(3),
        ],
    }
}

#[test]
fn layers_of_one_shape_share_a_circuit_and_other_weights_do_not_open() {
    let p = two_layers(1);
    let (baked, _) = CircuitSet::plan(&p).unwrap();
    let (committed, _) = CircuitSet::plan_in(&p, WeightsMode::Committed).unwrap();
    let gemms = |s: &CircuitSet| s.circuits.iter().filter(|c| c.kind == "Gemm").count();
    // baked: a circuit per (layer, column block); committed: one for both layers
    assert_eq!(gemms(&baked), 4);
    assert_eq!(gemms(&committed), 1);
    assert_eq!(committed.circuits.len(), baked.circuits.len() - 3);

    let x = Tensor::new(
        vec![2, 6],
        vec![300, -100, 400, -100, 500, -900, 20, 70, -10, 80, 0, 10],
    );
    let trace = zkopml_exec::run(&p, x.clone()).unwrap();
    let c = TraceCommitment::new(&p, &trace).unwrap();
    let dir = scratch("committed-weights");
    let set =
        CircuitSet::setup_in(&p, WeightsMode::Committed, &dir, Some(5), &mut |_, _, _| {}).unwrap();
    let root = WeightsCommitment::new(&p).unwrap().root();
    assert_eq!(set.weights_root, to_hex(&root));
    // the set reloads against its model, weights root included
    assert_eq!(CircuitSet::load(&dir, &p).unwrap(), set);

    let mut rng = seeded_rng(3);
    for op in [1, 3] {
        for chunk in 0..4 {
            let s = set
                .prove_step(&dir, &p, &trace.slots, &c, op, chunk, &mut rng)
                .unwrap();
            assert!(set.verify_step(&s).unwrap(), "op {op} chunk {chunk}");
            let row = chunk / 2;
            assert_eq!(
                s.input_slots,
                vec![op - 1, op - 1, 4 + op],
                "x's row, then the weights"
            );
            assert_eq!(s.input_chunks, vec![2 * row, 2 * row + 1, chunk]);
            assert_eq!(s.public_inputs.len(), 4);
            let agreed = &c.state_roots[op - 1];
            assert!(s.check_openings_with(&p, agreed, Some(&root)).unwrap());
            // a weight read needs the registered weights root
            assert!(!s.check_openings(&p, agreed).unwrap());
            assert!(!s.check_openings_with(&p, agreed, Some(&[7u8; 32])).unwrap());
            assert_eq!(
                s.output_leaf().unwrap(),
                c.tensors[op].leaves[chunk],
                "the proof commits to the trace's chunk"
            );
        }
    }

    // A cheating defender proves fc2 with its own weights: the circuit is the same, the proof
    // verifies against the circuit table, but its weight digest does not open under the
    // registered root, whether it brings its own opening or borrows the honest one.
    let cheat_model = two_layers(1);
    let mut cheat_model = cheat_model;
    if let QOp::Gemm { weight, .. } = &mut cheat_model.ops[2].op {
        weight.data[0] += 16;
    }
    let cheat_trace = zkopml_exec::run(&cheat_model, x).unwrap();
    let cheat_c = TraceCommitment::new(&cheat_model, &cheat_trace).unwrap();
    let cheat_dir = scratch("committed-weights-cheat");
    let cheat_set = CircuitSet::setup_in(
        &cheat_model,
        WeightsMode::Committed,
        &cheat_dir,
        Some(5),
        &mut |_, _, _| {},
    )
    .unwrap();
    assert_eq!(
        cheat_set.circuit_root, set.circuit_root,
        "shape-only circuits: one table"
    );
    assert_ne!(cheat_set.weights_root, set.weights_root);
    let honest = set
        .prove_step(&dir, &p, &trace.slots, &c, 3, 0, &mut rng)
        .unwrap();
    let cheat = cheat_set
        .prove_step(
            &cheat_dir,
            &cheat_model,
            &cheat_trace.slots,
            &cheat_c,
            3,
            0,
            &mut rng,
        )
        .unwrap();
    assert!(
        set.verify_step(&cheat).unwrap(),
        "the table admits the proof"
    );
    let agreed = &cheat_c.state_roots[2];
    assert!(cheat
        .check_openings_with(&cheat_model, agreed, Some(&cheat_set_root(&cheat_model)))
        .unwrap());
    assert!(!cheat
        .check_openings_with(&cheat_model, agreed, Some(&root))
        .unwrap());
    let mut borrowed = cheat.clone();
    let w = borrowed.inputs.len() - 1;
    borrowed.inputs[w] = honest.inputs[w].clone();
    assert!(!borrowed
        .check_openings_with(&cheat_model, agreed, Some(&root))
        .unwrap());
    // ... and the honest digest as the public input breaks the proof
    borrowed.public_inputs[w] = honest.public_inputs[w].clone();
    assert!(!set.verify_step(&borrowed).unwrap());
}

fn cheat_set_root(p: &Program) -> [u8; 32] {
    WeightsCommitment::new(p).unwrap().root()
}

#[test]
fn a_chunk_over_the_weight_limit_is_refused_by_name() {
    // [1, 4000] · [4000, 9]: one chunk of 9 columns reads 36,000 weights
    let k = 4000;
    let p = Program {
        format_version: zkopml_model::program::FORMAT_VERSION,
        inputs: vec![],
        input: spec(vec![1, k], 2000),
        outputs: vec![1],
        ops: vec![QNode {
            name: "wide".into(),
            onnx_op: "Gemm".into(),
            op: QOp::Gemm {
                weight: Tensor::new(vec![k, 9], vec![1; k * 9]),
                bias: vec![0; 9],
                shift: 8,
            },
            inputs: vec![QOperand::Slot(0)],
            out: spec(vec![1, 9], 9),
            macs: 0,
        }],
    };
    assert!(k * 9 > MAX_BLOCK_WEIGHTS);
    let err = CircuitSet::plan_in(&p, WeightsMode::Committed)
        .unwrap_err()
        .to_string();
    assert!(err.contains("36000 weights"), "{err}");
    assert!(
        CircuitSet::plan(&p).is_ok(),
        "baked weights have no such limit"
    );
}

/// LeNet's 400 -> 120 layer reads 48,000 weights in its one output chunk: refused as compiled,
/// it proves with committed weights once the program is laid out for them (chunks of 60
/// columns, 24,000 weights). The layout changes chunks, not values: the output is the baked program's.
#[test]
fn lenet_laid_out_for_committed_weights_plans_and_its_wide_layer_proves() {
    use zkopml_model::{compile_onnx, default_calibration, input::read_input_json};
    use zkopml_zk::{
        circuits::chunk::ChunkCircuit,
        groth16,
        table::{op_chunk_in, read_chunks, ChunkRef},
    };
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/models/lenet_5/network.onnx");
    let sample = read_input_json(&path.with_file_name("input.json")).unwrap();
    let (_, baked) =
        compile_onnx(&path, &default_calibration(sample.len(), Some(&sample))).unwrap();
    let err = CircuitSet::plan_in(&baked, WeightsMode::Committed)
        .unwrap_err()
        .to_string();
    assert!(err.contains("48000 weights"), "{err}");

    let mut p = baked.clone();
    WeightsMode::Committed.lay_out(&mut p);
    assert_ne!(
        p.hash(),
        baked.hash(),
        "the layout is part of the model hash"
    );
    let (set, _) = CircuitSet::plan_in(&p, WeightsMode::Committed).unwrap();
    let (baked_set, _) = CircuitSet::plan(&baked).unwrap();
    println!(
        "LeNet: {} circuits baked, {} committed",
        baked_set.circuits.len(),
        set.circuits.len()
    );
    let wide = 1 + p
        .ops
        .iter()
        .position(|n| matches!(&n.op, QOp::Gemm { weight, .. } if weight.shape == [400, 120]))
        .expect("LeNet has a 400 -> 120 layer");
    assert_eq!(p.ops[wide - 1].out.chunk_len, 60);
    assert_eq!(p.ops[wide - 1].out.num_chunks(), 2);

    let x = zkopml_exec::quantise_input(&p, &sample).unwrap();
    let trace = zkopml_exec::run(&p, x.clone()).unwrap();
    assert_eq!(
        trace.output().data,
        zkopml_exec::run(&baked, x).unwrap().output().data
    );
    let commitment = WeightsCommitment::new(&p).unwrap();
    let chunk = 1;
    let (circuit, reads) = op_chunk_in(&p, wide, chunk, WeightsMode::Committed).unwrap();
    let trace_reads: Vec<ChunkRef> = reads
        .iter()
        .copied()
        .filter(|r| r.slot <= p.n_ops())
        .collect();
    assert_eq!(reads.len(), trace_reads.len() + 1, "one weight block");
    let inputs = read_chunks(&p, &trace.slots, &trace_reads);
    let mut rng = seeded_rng(9);
    let make = || ChunkCircuit::new(circuit.clone(), inputs.clone()).unwrap();
    let keys = groth16::setup(make(), &mut rng).unwrap();
    let proved = groth16::prove(&keys, make(), &mut rng).unwrap();
    let block = proved.public_inputs[reads.len() - 1];
    assert_eq!(
        zkopml_zk::evm::fr_to_word(&block),
        commitment.opening(wide, chunk).unwrap().digest,
        "the proof reads the registered block"
    );
}

/// A step reading more chunks than `proveStep` should open is refused at setup by name, not
/// found out in a dispute, with either weights: a Gemm reading a row of 2,400 values held in
/// chunks of 4.
#[test]
fn a_step_that_would_read_too_many_chunks_is_refused_by_name() {
    let p = Program {
        format_version: zkopml_model::program::FORMAT_VERSION,
        inputs: vec![],
        input: spec(vec![1, 2400], 4),
        outputs: vec![1],
        ops: vec![QNode {
            name: "next".into(),
            onnx_op: "Gemm".into(),
            op: QOp::Gemm {
                weight: Tensor::new(vec![2400, 2], vec![3; 4800]),
                bias: vec![0; 2],
                shift: 8,
            },
            inputs: vec![QOperand::Slot(0)],
            out: spec(vec![1, 2], 2),
            macs: 0,
        }],
    };
    let err = CircuitSet::plan_in(&p, WeightsMode::Committed)
        .unwrap_err()
        .to_string();
    assert!(err.contains("reads 601 chunks"), "{err}");
    let err = CircuitSet::plan(&p).unwrap_err().to_string();
    assert!(err.contains("reads 600 chunks"), "{err}");
}

/// A layer so wide that narrowing would cut its 512-column row into 128 chunks of 4 (and make
/// the next layer read 128 chunks a step, as it did before slices) is cut into 128 column
/// slices of 4 joined by a Concat tree instead: every step reads at most 8 chunks and a
/// weight block, and the next layer reads its input as compiled.
#[test]
fn a_wide_layer_is_sliced_and_every_step_reads_few_chunks() {
    let layer = |name: &str, input: usize, k: usize, n: usize| QNode {
        name: name.into(),
        onnx_op: "Gemm".into(),
        op: QOp::Gemm {
            weight: Tensor::new(
                vec![k, n],
                (0..k * n).map(|i| (i as i64 * 37) % 29 - 14).collect(),
            ),
            bias: (0..n as i64).collect(),
            shift: 8,
        },
        inputs: vec![QOperand::Slot(input)],
        out: TensorSpec::new(vec![1, n], DType::Float, 8),
        macs: 0,
    };
    let compiled = Program {
        format_version: zkopml_model::program::FORMAT_VERSION,
        inputs: vec![],
        input: TensorSpec::new(vec![1, 4000], DType::Float, 8),
        outputs: vec![2],
        ops: vec![layer("wide", 0, 4000, 512), layer("next", 1, 512, 2)],
    };
    let mut p = compiled.clone();
    WeightsMode::Committed.lay_out(&mut p);
    // 128 slices, 16 + 2 Concats, the root Concat, the next layer
    assert_eq!(p.n_ops(), 128 + 16 + 2 + 1 + 1);
    assert_eq!(p.outputs, vec![p.n_ops()]);
    let root = &p.ops[p.n_ops() - 2];
    assert_eq!(
        (root.name.as_str(), &root.out),
        ("wide", &compiled.ops[0].out)
    );
    assert_eq!(
        p.ops[p.n_ops() - 1].inputs,
        vec![QOperand::Slot(p.n_ops() - 1)]
    );

    let x = Tensor::new(
        vec![1, 4000],
        (0..4000).map(|i| (i * 7919) % 2001 - 1000).collect(),
    );
    assert_eq!(
        zkopml_exec::run(&p, x.clone()).unwrap().output().data,
        zkopml_exec::run(&compiled, x).unwrap().output().data,
        "slices change the steps, not the values"
    );
    let (set, _) = CircuitSet::plan_in(&p, WeightsMode::Committed).unwrap();
    let most = |kind: &str| {
        set.entries
            .iter()
            .filter(|e| p.ops[e.op - 1].op.kind() == kind)
            .map(|e| e.reads.len())
            .max()
            .unwrap()
    };
    assert_eq!(
        most("Gemm"),
        3,
        "an input row in two chunks and a weight block"
    );
    assert!(most("Concat") <= zkopml_model::weights_layout::MAX_CONCAT_READS);
    let gemm_circuits = set.circuits.iter().filter(|c| c.kind == "Gemm").count();
    assert_eq!(
        gemm_circuits, 2,
        "one for the 128 slices, one for the next layer"
    );
}

/// A residual feed-forward block `x + down(relu(up(x)))` whose layers are sliced (a small
/// weight budget stands in for the real one): every step of the laid-out program proves with
/// Groth16, verifies against the circuit table and opens its reads, weight blocks included,
/// under the agreed state root and the weights root; the output is the compiled program's.
#[test]
fn a_sliced_residual_block_proves_every_step() {
    use zkopml_zk::table::block_weights;
    let layer = |name: &str, input: usize, k: usize, n: usize| QNode {
        name: name.into(),
        onnx_op: "MatMul".into(),
        op: QOp::Gemm {
            weight: Tensor::new(
                vec![k, n],
                (0..k * n).map(|i| (i as i64 * 53) % 61 - 30).collect(),
            ),
            bias: (0..n as i64).map(|c| c * 9 - 100).collect(),
            shift: 6,
        },
        inputs: vec![QOperand::Slot(input)],
        out: TensorSpec::new(vec![4, n], DType::Float, 8),
        macs: (4 * k * n) as u64,
    };
    let node = |name: &str, op: QOp, inputs: Vec<usize>| QNode {
        name: name.into(),
        onnx_op: name.into(),
        op,
        inputs: inputs.into_iter().map(QOperand::Slot).collect(),
        out: TensorSpec::new(vec![4, 24], DType::Float, 8),
        macs: 0,
    };
    let compiled = Program {
        format_version: zkopml_model::program::FORMAT_VERSION,
        inputs: vec![],
        input: TensorSpec::new(vec![4, 24], DType::Float, 8),
        outputs: vec![4],
        ops: vec![
            layer("up", 0, 24, 48),
            QNode {
                out: TensorSpec::new(vec![4, 48], DType::Float, 8),
                ..node("relu", QOp::Relu, vec![1])
            },
            layer("down", 2, 48, 24),
            node(
                "add",
                QOp::Add {
                    ua: 0,
                    ub: 0,
                    shift: 0,
                },
                vec![3, 0],
            ),
        ],
    };
    let mut p = compiled.clone();
    // up: 6 columns of 24 fit (8 slices), down: 3 columns of 48 (8 slices)
    p.lay_out_gemm_weights(|k, columns| block_weights(k, columns) <= 144);
    let slices = |k: usize| {
        p.ops
            .iter()
            .filter(|n| matches!(&n.op, QOp::Gemm { weight, .. } if weight.shape[0] == k))
            .count()
    };
    assert_eq!((slices(24), slices(48)), (8, 8));
    // each: 8 slices, 2 Concats of 4, the root; then relu and add
    assert_eq!(p.n_ops(), 2 * (8 + 2 + 1) + 2);
    let relu = &p.ops[12 - 1];
    assert_eq!(
        relu.inputs,
        vec![QOperand::Slot(11)],
        "op 12 reads up's root Concat"
    );
    assert_eq!(relu.out, compiled.ops[1].out, "the Relu keeps its chunks");

    let x = Tensor::new(
        vec![4, 24],
        (0..96).map(|i| (i * 7919) % 1001 - 500).collect(),
    );
    let trace = zkopml_exec::run(&p, x.clone()).unwrap();
    assert_eq!(
        trace.output().data,
        zkopml_exec::run(&compiled, x).unwrap().output().data
    );
    let c = TraceCommitment::new(&p, &trace).unwrap();
    let dir = scratch("committed-weights-sliced");
    let set = CircuitSet::setup_in(
        &p,
        WeightsMode::Committed,
        &dir,
        Some(11),
        &mut |_, _, _| {},
    )
    .unwrap();
    let root = WeightsCommitment::new(&p).unwrap().root();
    let mut rng = seeded_rng(4);
    for op in 1..=p.n_ops() {
        for chunk in 0..p.ops[op - 1].out.num_chunks() {
            let s = set
                .prove_step(&dir, &p, &trace.slots, &c, op, chunk, &mut rng)
                .unwrap();
            assert!(set.verify_step(&s).unwrap(), "op {op} chunk {chunk}");
            assert!(
                s.check_openings_with(&p, &c.state_roots[op - 1], Some(&root))
                    .unwrap(),
                "op {op} chunk {chunk}"
            );
            assert_eq!(s.output_leaf().unwrap(), c.tensors[op].leaves[chunk]);
        }
    }
}

/// The testdata models with Gemm layers plan with committed weights once laid out.
#[test]
fn testdata_models_plan_with_committed_weights() {
    use zkopml_model::{compile_onnx, default_calibration, input::read_input_json};
    for name in ["conv2d", "lenet_5", "variable_cnn"] {
        let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/models")
            .join(name)
            .join("network.onnx");
        let sample = read_input_json(&path.with_file_name("input.json")).unwrap();
        let (_, mut p) =
            compile_onnx(&path, &default_calibration(sample.len(), Some(&sample))).unwrap();
        WeightsMode::Committed.lay_out(&mut p);
        let (set, _) = CircuitSet::plan_in(&p, WeightsMode::Committed)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let most = set.entries.iter().map(|e| e.reads.len()).max().unwrap();
        println!(
            "{name}: {} circuits, {} steps, at most {most} reads a step",
            set.circuits.len(),
            set.entries.len()
        );
    }
}

/// Slices of unequal width (14 columns as 5, 5, 4) compute the compiled program's values and
/// plan with committed weights.
#[test]
fn uneven_slices_compute_the_compiled_values() {
    use zkopml_zk::table::block_weights;
    let compiled = Program {
        format_version: zkopml_model::program::FORMAT_VERSION,
        inputs: vec![],
        input: TensorSpec::new(vec![3, 10], DType::Float, 8),
        outputs: vec![1],
        ops: vec![QNode {
            name: "fc".into(),
            onnx_op: "MatMul".into(),
            op: QOp::Gemm {
                weight: Tensor::new(
                    vec![10, 14],
                    (0..140).map(|i| (i as i64 * 31) % 23 - 11).collect(),
                ),
                bias: (0..14).map(|c| c * 50 - 300).collect(),
                shift: 4,
            },
            inputs: vec![QOperand::Slot(0)],
            out: TensorSpec::new(vec![3, 14], DType::Float, 8),
            macs: 420,
        }],
    };
    let mut p = compiled.clone();
    p.lay_out_gemm_weights(|k, columns| k * columns <= 50 && block_weights(k, columns) <= 60);
    assert_eq!(
        p.n_ops(),
        3 + 1 + 1,
        "3 slices, a Concat of the first two, the root"
    );
    let x = Tensor::new(vec![3, 10], (0..30).map(|i| i * 37 % 41 - 20).collect());
    assert_eq!(
        zkopml_exec::run(&p, x.clone()).unwrap().output().data,
        zkopml_exec::run(&compiled, x).unwrap().output().data
    );
    CircuitSet::plan_in(&p, WeightsMode::Committed).unwrap();
}
