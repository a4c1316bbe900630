//! The seed's table, static part: per model its ONNX operators and parameters, our compiled
//! operator count, the dissection rounds (k = 2 and the best k, by the contracts' rules in
//! `zkopml_node::dissection`) and the seed's time formula with the seed's windows applied to
//! those rounds. `cargo bench -p zkopml-node --bench seed_table [-- <model filter>]`.
//!
//! Not here yet: the live columns (off-chain compute and gas per phase of a played game, and
//! EZKL beside them); see docs/benchmarks.md.

use std::collections::BTreeMap;
use std::path::PathBuf;

use zkopml_model::onnx::RawModel;
use zkopml_model::{compile_onnx, default_calibration, DType};
use zkopml_node::dissection::{best_arity, worst_case, WorstCase};

/// The seed's windows, read off its table (docs/benchmarks.md): a challenge may be created for
/// 120 s, and each move has a 30 s response window (e.g. LeNet: 2 × ceil(log2 12) × 30 s =
/// 240 s).
const SEED_CREATION_S: u32 = 120;
const SEED_RESPONSE_S: u32 = 30;

/// (testdata name, the seed's name, the seed's ONNX operator count, the seed's zk-OPML time)
const MODELS: [(&str, &str, u32, &str); 4] = [
    ("xgboost", "XGBoost", 62, "120 s + 360 s + 118 s = 598 s"),
    ("lenet_5", "LeNet", 12, "120 s + 240 s + 134 s = 494 s"),
    ("conv2d", "2d conv", 31, "120 s + 300 s + 146 s = 566 s"),
    ("mobilenet_v2", "MobileNet", 155, "120 s + 480 s + 515 s = 1115 s"),
];

fn rounds(w: &WorstCase) -> String {
    format!(
        "{} ({} ops + 1 reveal + {} chunk), op {}",
        w.longest.total(),
        w.longest.ops.rounds,
        w.longest.chunks.rounds,
        w.longest.op
    )
}

fn main() -> anyhow::Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    println!(
        "seed table (static part): rounds by the contracts' rules, worst case over the model's operators; \
         seed windows: creation {SEED_CREATION_S} s, response {SEED_RESPONSE_S} s per move"
    );
    for (name, seed_name, seed_ops, seed_time) in MODELS {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let path = root.join("testdata/models").join(name).join("network.onnx");
        let raw = RawModel::from_path(&path)?;
        let mut hist: BTreeMap<&str, u32> = BTreeMap::new();
        for n in &raw.nodes {
            *hist.entry(n.op_type.as_str()).or_default() += 1;
        }
        let mut hist: Vec<(&str, u32)> = hist.into_iter().collect();
        hist.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let ops_text: Vec<String> = hist.iter().map(|(op, c)| format!("{c} x {op}")).collect();
        // the seed counts every initializer value (integer shape and index tensors too)
        let params: usize = raw.initializers.values().map(|c| c.tensor.data.len()).sum();
        let float_params: usize = raw
            .initializers
            .values()
            .filter(|c| c.dtype == DType::Float)
            .map(|c| c.tensor.data.len())
            .sum();
        let sample = zkopml_model::input::read_input_json(&path.with_file_name("input.json"))?;
        let (_, program) = compile_onnx(&path, &default_calibration(sample.len(), Some(&sample)))?;
        let chunks: Vec<u64> = (1..=program.n_ops()).map(|i| program.slot_spec(i).num_chunks() as u64).collect();
        let binary = worst_case(&chunks, 2, 1)?;
        let best = best_arity(&chunks, 1)?;
        println!("\n## {seed_name} ({name})");
        println!("  ONNX operators      {} ({}); the seed counts {seed_ops}", raw.nodes.len(), ops_text.join(", "));
        println!("  parameters          {params} ({float_params} of them float)");
        println!("  compiled operators  {} (constants, shape arithmetic and BatchNormalization folded)", program.n_ops());
        for (label, w) in [("k = 2", &binary), (&*format!("best k = {}", best.arity), &best)] {
            let window_s = SEED_CREATION_S + 2 * w.longest.total() * SEED_RESPONSE_S;
            println!(
                "  rounds, {label:<11} {}; {} transactions; seed formula: {SEED_CREATION_S} s + 2 x {} x {SEED_RESPONSE_S} s = {window_s} s + the step proof",
                rounds(w),
                w.longest.transactions(),
                w.longest.total()
            );
        }
        println!("  the seed's zk-OPML  {seed_time} (2 x ceil(log2 of its operator count) moves + SP1 proof)");
    }
    Ok(())
}
