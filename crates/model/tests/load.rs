//! The seed's models load, fold and linearise into the operator counts the docs report.

use std::path::PathBuf;
use zkopml_model::Graph;

fn model(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/models")
        .join(name)
        .join("network.onnx")
}

fn onnx_count(g: &Graph, op: &str) -> usize {
    g.onnx_op_counts
        .iter()
        .find(|(k, _)| k == op)
        .map_or(0, |(_, c)| *c)
}

#[test]
fn seed_models_linearise_as_documented() {
    // (model, ONNX nodes, compiled ops, parameters after folding, output shape)
    let cases: [(&str, usize, usize, usize, &[usize]); 5] = [
        ("lenet_5", 12, 12, 61_706, &[1, 10]),
        ("xgboost", 62, 47, 0, &[1]),
        ("variable_cnn", 5, 4, 156_920, &[1, 100]),
        ("conv2d", 31, 31, 54_584, &[1, 10]),
        ("mobilenet_v2", 155, 103, 0, &[1, 1000]),
    ];
    for (name, nodes, ops, params, out) in cases {
        let g = Graph::from_path(&model(name)).unwrap();
        assert_eq!(
            g.onnx_op_counts.iter().map(|(_, c)| c).sum::<usize>(),
            nodes,
            "{name}: ONNX nodes"
        );
        assert_eq!(g.n_ops(), ops, "{name}: compiled ops");
        if params > 0 {
            assert_eq!(g.parameter_count(), params, "{name}: parameters");
        }
        assert_eq!(g.output_shape(), out, "{name}: output shape");
    }
    // MobileNetV2: every BatchNormalization that follows a Conv is folded into it
    let g = Graph::from_path(&model("mobilenet_v2")).unwrap();
    assert_eq!(onnx_count(&g, "BatchNormalization"), 53);
    let folded = g
        .nodes
        .iter()
        .filter(|n| n.onnx_op == "Conv+BatchNormalization")
        .count();
    let affine = g
        .nodes
        .iter()
        .filter(|n| matches!(n.op, zkopml_model::Op::Affine { .. }))
        .count();
    assert_eq!(folded + affine, 53);
    assert_eq!(g.input_shape, vec![1, 3, 224, 224]);
    // its GlobalAveragePool (7×7×1280) is lowered: a ReduceSum over W, then the average over H
    let n = g.n_ops();
    assert!(matches!(&g.nodes[n - 4].op, zkopml_model::Op::ReduceSum { axes, .. } if axes == &[3]));
    assert_eq!(g.nodes[n - 4].shape, vec![1, 1280, 7, 1]);
    assert!(matches!(
        g.nodes[n - 3].op,
        zkopml_model::Op::GlobalAveragePool { divisor: 49 }
    ));
    // xgboost: its shape-only and constant subgraphs are folded; two graph outputs, last is ArgMax
    let g = Graph::from_path(&model("xgboost")).unwrap();
    assert_eq!(g.outputs.len(), 2);
    assert_eq!(g.nodes.last().unwrap().onnx_op, "ArgMax");
}
