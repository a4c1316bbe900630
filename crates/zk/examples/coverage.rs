//! Operator coverage report (docs/operators.md): for each model folder (network.onnx +
//! input.json, found up to two levels below each argument), which ONNX operators it uses,
//! whether zkopml loads, compiles and runs it, how far the fixed-point output is from tract's f32
//! on the sample input, and whether its dispute steps plan as `zkopml setup --plan` plans them
//! (every step's circuit laid out and synthesised once per distinct circuit, no keys).
//! `cargo run --release -p zkopml-zk --example coverage -- testdata/models testdata/models/ezkl`

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use zkopml_exec::{dequantise, quantise_input, run};
use zkopml_model::input::read_input_json;
use zkopml_model::reference::TractReference;
use zkopml_model::{compile_onnx, default_calibration, Graph, Program, RawModel};
use zkopml_zk::circuit_set::{count_constraints, CircuitSet};
use zkopml_zk::table::WeightsMode;

/// `zkopml setup --plan` of a compiled program: its distinct circuits and steps, and the
/// largest circuit's constraints, or the reason it does not plan.
fn plan(p: &Program) -> String {
    let planned = (|| -> Result<String, Box<dyn std::error::Error>> {
        let (set, shapes) = CircuitSet::plan_in(p, WeightsMode::Baked)?;
        let mut largest = 0;
        for shape in &shapes {
            largest = largest.max(count_constraints(shape)?);
        }
        Ok(format!(
            "plans: {} circuits, {} steps, largest {largest} constraints",
            set.circuits.len(),
            set.entries.len()
        ))
    })();
    planned.unwrap_or_else(|e| format!("does not plan: {e}"))
}

/// (ONNX operators, run status, plan status).
fn check(dir: &Path) -> (Vec<String>, String, String) {
    let onnx = dir.join("network.onnx");
    let ops = match RawModel::from_path(&onnx) {
        Ok(r) => {
            let mut m: BTreeMap<String, usize> = BTreeMap::new();
            for n in &r.nodes {
                *m.entry(n.op_type.clone()).or_default() += 1;
            }
            m.into_iter().map(|(k, v)| format!("{v}×{k}")).collect()
        }
        Err(e) => return (vec![], format!("does not load: {e}"), String::new()),
    };
    let mut planned = String::new();
    let status = (|| -> Result<String, String> {
        Graph::from_path(&onnx).map_err(|e| format!("refused: {e}"))?;
        let sample = read_input_json(&dir.join("input.json")).map_err(|e| e.to_string())?;
        let (_, p) = compile_onnx(&onnx, &default_calibration(sample.len(), Some(&sample)))
            .map_err(|e| format!("does not compile: {e}"))?;
        planned = plan(&p);
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
    (ops, status.unwrap_or_else(|e| e), planned)
}

/// The model folders (with a network.onnx) at most two levels below `root`, sorted; a folder
/// named `ezkl` is skipped below the top (testdata/models/ezkl: the copies of EZKL's examples,
/// which get their own table).
fn model_dirs(root: &Path, depth: usize) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(root)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    entries.sort();
    let mut dirs = Vec::new();
    for d in entries.into_iter().filter(|d| d.is_dir()) {
        if d.join("network.onnx").exists() {
            dirs.push(d);
        } else if depth > 1 && !d.ends_with("ezkl") {
            dirs.extend(model_dirs(&d, depth - 1));
        }
    }
    dirs
}

fn main() {
    let roots: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    println!("| model | ONNX operators | zkopml | setup --plan |");
    println!("|---|---|---|---|");
    for root in roots {
        for d in model_dirs(&root, 2) {
            let (ops, status, planned) = check(&d);
            let name = d.strip_prefix(&root).unwrap_or(&d).display().to_string();
            let cell = |s: &str| s.replace('|', "/").replace('\n', " ");
            println!(
                "| {name} | {} | {} | {} |",
                ops.join(", "),
                cell(&status),
                cell(&planned)
            );
        }
    }
}
