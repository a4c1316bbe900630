//! Operator coverage report (docs/operators.md): for each model folder (network.onnx +
//! input.json), which ONNX operators it uses, whether zkopml loads, compiles and runs it, and how
//! far the fixed-point output is from tract's f32 on the sample input.
//! `cargo run --release -p zkopml-exec --example coverage -- testdata/models testdata/models/ezkl`

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use zkopml_exec::{dequantise, quantise_input, run};
use zkopml_model::input::read_input_json;
use zkopml_model::reference::TractReference;
use zkopml_model::{compile_onnx, default_calibration, Graph, RawModel};

fn check(dir: &Path) -> (Vec<String>, String) {
    let onnx = dir.join("network.onnx");
    let ops = match RawModel::from_path(&onnx) {
        Ok(r) => {
            let mut m: BTreeMap<String, usize> = BTreeMap::new();
            for n in &r.nodes {
                *m.entry(n.op_type.clone()).or_default() += 1;
            }
            m.into_iter().map(|(k, v)| format!("{v}×{k}")).collect()
        }
        Err(e) => return (vec![], format!("does not load: {e}")),
    };
    let status = (|| -> Result<String, String> {
        Graph::from_path(&onnx).map_err(|e| format!("refused: {e}"))?;
        let sample = read_input_json(&dir.join("input.json")).map_err(|e| e.to_string())?;
        let (_, p) = compile_onnx(&onnx, &default_calibration(sample.len(), Some(&sample)))
            .map_err(|e| format!("does not compile: {e}"))?;
        let t = run(&p, quantise_input(&p, &sample).map_err(|e| e.to_string())?)
            .map_err(|e| format!("does not run: {e}"))?;
        let out = p.outputs[0];
        let fixed = dequantise(&t.slots[out], p.slot_spec(out).scale);
        let parts: Vec<_> = p.input_parts().into_iter().map(|i| i.part).collect();
        let float = TractReference::load_inputs(&onnx, &parts)
            .and_then(|r| r.run(&sample))
            .map_err(|e| format!("runs; tract reference failed: {e}"))?;
        let err = fixed
            .iter()
            .zip(&float[0])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        let mag = float[0].iter().fold(0.0f64, |m, v| m.max(v.abs()));
        Ok(format!(
            "runs: {} ops, max abs error {err:.2e} (max abs output {mag:.3})",
            p.n_ops()
        ))
    })();
    (ops, status.unwrap_or_else(|e| e))
}

fn main() {
    let dirs: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    println!("| model | ONNX operators | zkopml |");
    println!("|---|---|---|");
    for root in dirs {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&root)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        entries.sort();
        for d in entries
            .into_iter()
            .filter(|d| d.join("network.onnx").exists())
        {
            let (ops, status) = check(&d);
            let name = d.strip_prefix(&root).unwrap_or(&d).display().to_string();
            println!(
                "| {name} | {} | {} |",
                ops.join(", "),
                status.replace('|', "/").replace('\n', " ")
            );
        }
    }
}
