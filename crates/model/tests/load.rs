use std::path::PathBuf;
use zkopml_model::Graph;

pub fn models_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/models")
}

#[test]
fn print_models() {
    for m in ["lenet_5", "xgboost", "variable_cnn", "conv2d", "mobilenet_v2"] {
        let g = Graph::from_path(&models_dir().join(m).join("network.onnx"));
        match g {
            Ok(g) => {
                println!("{m}: {} ops, {} params, onnx {:?}", g.n_ops(), g.parameter_count(), g.onnx_op_counts);
                for (i, n) in g.nodes.iter().enumerate() {
                    if g.n_ops() < 40 { println!("  {} {} {:?} {:?}", i + 1, n.onnx_op, n.shape, n.slots().collect::<Vec<_>>()); }
                }
            }
            Err(e) => println!("{m}: ERROR {e}"),
        }
    }
}
