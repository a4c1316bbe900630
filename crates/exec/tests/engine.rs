//! End-to-end engine tests on the real models: determinism, errors on bad input, and the
//! trace commitments' Merkle proofs.

use std::path::PathBuf;

use zkopml_exec::commit::{root_from_path, verify_path, verify_update, TraceCommitment, ZERO};
use zkopml_exec::{quantise_input, run, Engine};
use zkopml_model::input::{parse_input_json, read_input_json};
use zkopml_model::{compile_onnx, default_calibration, Graph, ModelError, Program, RawModel};

fn model(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/models")
        .join(name)
        .join("network.onnx")
}

fn compiled(name: &str) -> (Program, Vec<f64>) {
    let path = model(name);
    let sample = read_input_json(&path.with_file_name("input.json")).unwrap();
    let (_, p) = compile_onnx(&path, &default_calibration(sample.len(), Some(&sample))).unwrap();
    (p, sample)
}

/// MobileNetV2's honest path fuses ops (expansion + depthwise band by band, projection +
/// residual Add tile by tile): its output is still the trace's, on any number of threads.
#[test]
fn mobilenet_infer_is_the_trace_output() {
    let (p, x) = compiled("mobilenet_v2");
    let q = quantise_input(&p, &x).unwrap();
    let trace = run(&p, q.clone()).unwrap();
    let engine = Engine::new(&p);
    for threads in [1, 2, 3] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        assert_eq!(
            &pool.install(|| engine.infer(q.clone())).unwrap(),
            trace.output(),
            "infer on {threads} threads"
        );
    }
    // every op's time is reported, fused ones included
    let (y, times) = engine.infer_timed(q).unwrap();
    assert_eq!((&y, times.len()), (trace.output(), p.n_ops()));
}

#[test]
fn same_trace_twice_and_across_thread_counts() {
    for name in ["lenet_5", "xgboost", "conv2d"] {
        let (p, x) = compiled(name);
        let (p2, _) = compiled(name);
        assert_eq!(p.hash(), p2.hash(), "{name}: compilation is deterministic");
        let q = quantise_input(&p, &x).unwrap();
        let a = run(&p, q.clone()).unwrap();
        let ca = TraceCommitment::new(&p, &a).unwrap();
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let (b, cb) = one.install(|| {
            let b = run(&p, q.clone()).unwrap();
            let cb = TraceCommitment::new(&p, &b).unwrap();
            (b, cb)
        });
        assert_eq!(a, b, "{name}: traces differ across thread counts");
        // the honest path (prepared weights, slots freed early) gives the trace's output
        let engine = Engine::new(&p);
        assert_eq!(
            &engine.infer(q.clone()).unwrap(),
            a.output(),
            "{name}: infer"
        );
        // its team of threads: one, and more than the machine has cores
        for threads in [1, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            assert_eq!(
                &pool.install(|| engine.infer(q.clone())).unwrap(),
                a.output(),
                "{name}: infer on {threads} threads"
            );
        }
        assert_eq!(engine.run(q.clone()).unwrap(), a, "{name}: Engine::run");
        assert_eq!(ca.state_roots, cb.state_roots);
        // a different input gives a different final root
        let mut y = x.clone();
        y[0] += 0.5;
        let c = run(&p, quantise_input(&p, &y).unwrap()).unwrap();
        assert_ne!(
            TraceCommitment::new(&p, &c).unwrap().state_roots[0],
            ca.state_roots[0]
        );
    }
}

#[test]
fn compiled_model_roundtrips_through_its_encoding() {
    let (p, _) = compiled("lenet_5");
    let bytes = p.to_bytes();
    assert_eq!(Program::from_bytes(&bytes).unwrap(), p);
    let err = Program::from_bytes(&bytes[..bytes.len() / 2]).unwrap_err();
    assert!(
        err.to_string().contains("not a compiled zkopml model"),
        "{err}"
    );
}

#[test]
fn truncated_and_garbage_files_are_clear_errors() {
    let bytes = std::fs::read(model("lenet_5")).unwrap();
    for cut in [bytes.len() / 2, 10, 0] {
        let e = RawModel::from_bytes(&bytes[..cut])
            .and_then(|r| Graph::from_raw(&r))
            .unwrap_err();
        assert!(matches!(e, ModelError::Malformed(_)), "cut at {cut}: {e}");
    }
    let e = Graph::from_path(&PathBuf::from("/nonexistent/model.onnx")).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/model.onnx"), "{e}");
}

#[test]
fn unknown_operator_is_named_at_load_time() {
    use tract_onnx::pb;
    let mut proto = tract_onnx::pb::ModelProto::default();
    proto.opset_import.push(pb::OperatorSetIdProto {
        domain: String::new(),
        version: 13,
    });
    let mut g = pb::GraphProto::default();
    let dim = |v| pb::tensor_shape_proto::Dimension {
        value: Some(pb::tensor_shape_proto::dimension::Value::DimValue(v)),
        ..Default::default()
    };
    g.input.push(pb::ValueInfoProto {
        name: "x".into(),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: 1,
                shape: Some(pb::TensorShapeProto {
                    dim: vec![dim(1), dim(4)],
                }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    });
    g.node.push(pb::NodeProto {
        name: "mystery_node".into(),
        op_type: "Hardmax".into(),
        input: vec!["x".into()],
        output: vec!["y".into()],
        ..Default::default()
    });
    g.output.push(pb::ValueInfoProto {
        name: "y".into(),
        ..Default::default()
    });
    proto.graph = Some(g);
    let e = Graph::from_raw(&RawModel::from_proto(&proto).unwrap()).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("Hardmax") && msg.contains("mystery_node") && msg.contains("opset 13"),
        "{msg}"
    );
}

#[test]
fn bad_inputs_are_rejected_with_reasons() {
    let (p, x) = compiled("lenet_5");
    let e = quantise_input(&p, &x[..10]).unwrap_err().to_string();
    assert!(
        e.contains("10 values") && e.contains("[1, 1, 32, 32]"),
        "{e}"
    );
    let mut nan = x.clone();
    nan[3] = f64::NAN;
    assert!(quantise_input(&p, &nan)
        .unwrap_err()
        .to_string()
        .contains("#3 is not finite"));
    let mut huge = x.clone();
    huge[0] = 1e30;
    assert!(quantise_input(&p, &huge)
        .unwrap_err()
        .to_string()
        .contains("too large"));
    for bad in [
        "{}",
        "[",
        "{\"input_data\": [[1, \"a\"]]}",
        "{\"input_data\": []}",
    ] {
        assert!(parse_input_json(bad).is_err(), "{bad}");
    }
    // two inputs given to a model with one: slot 0 takes them one after the other, and the
    // total is refused against the model's one input
    let two = parse_input_json("{\"input_data\": [[1], [2]]}").unwrap();
    let e = quantise_input(&p, &two).unwrap_err().to_string();
    assert!(
        e.contains("2 values") && e.contains("[1, 1, 32, 32]"),
        "{e}"
    );
    // a wrong-shaped tensor straight to the executor
    let wrong = zkopml_model::Tensor::new(vec![1, 784], vec![0i32; 784]);
    assert!(run(&p, wrong)
        .unwrap_err()
        .to_string()
        .contains("input shape"));
}

#[test]
fn state_and_chunk_proofs_verify_and_tampered_ones_do_not() {
    let (p, x) = compiled("conv2d");
    let t = run(&p, quantise_input(&p, &x).unwrap()).unwrap();
    let c = TraceCommitment::new(&p, &t).unwrap();
    let n = p.n_ops();
    for i in [1, n / 2, n] {
        let path = c.state_path(i, i);
        assert_eq!(path.len(), p.state_depth() as usize);
        let leaf = c.tensors[i].root;
        assert!(
            verify_update(&c.state_roots[i - 1], &c.state_roots[i], i, &leaf, &path),
            "update {i}"
        );
        // wrong slot, wrong leaf, wrong before-root
        assert!(!verify_update(
            &c.state_roots[i - 1],
            &c.state_roots[i],
            i ^ 1,
            &leaf,
            &path
        ));
        assert!(!verify_update(
            &c.state_roots[i - 1],
            &c.state_roots[i],
            i,
            &ZERO,
            &path
        ));
        assert!(!verify_update(
            &c.state_roots[i],
            &c.state_roots[i],
            i,
            &leaf,
            &path
        ));
        // an earlier slot stays provable in a later state
        let p0 = c.state_path(i, 0);
        assert!(verify_path(&c.tensors[0].root, 0, &p0, &c.state_roots[i]));
        let mut bad = p0.clone();
        bad[0][0] ^= 1;
        assert!(!verify_path(&c.tensors[0].root, 0, &bad, &c.state_roots[i]));
        // an index beyond the tree never verifies
        assert!(!verify_path(
            &c.tensors[0].root,
            1 << path.len(),
            &p0,
            &c.state_roots[i]
        ));
    }
    // chunk proofs inside the first conv's output (several chunks)
    let tc = &c.tensors[1];
    assert!(tc.leaves.len() > 1);
    for j in 0..tc.leaves.len() {
        let path = tc.chunks.path(j);
        assert_eq!(root_from_path(&tc.leaves[j], j, &path), tc.chunks.root());
        assert!(!verify_path(
            &tc.leaves[(j + 1) % tc.leaves.len()],
            j,
            &path,
            &tc.chunks.root()
        ));
    }
}
