//! The seed's table, reproduced on this machine (docs/benchmarks.md, "Seed table"):
//!
//! ```text
//! cargo bench -p zkopml-node --bench seed_table                 # all four models, live, EZKL beside
//! cargo bench -p zkopml-node --bench seed_table -- lenet        # a filter (prefix of the name)
//! flags: --static (no chain: operators, parameters, rounds and the formula only),
//!        --no-ezkl (skip the baseline), --reuse-keys (keep the keys of an earlier run:
//!        the setup is then not measured)
//! ```
//!
//! Static part, per model: its ONNX operators and parameters, our compiled operator count, the
//! dissection rounds (k = 2 and the best k, by the contracts' rules in
//! `zkopml_node::dissection`) and the seed's time formula with the seed's windows applied to
//! those rounds. Live part (`live.rs`): the model registered on anvil, an honest answer
//! finalised, and a defect at the worst-case operator caught, dissected and proved, at k = 2
//! and the best k: off-chain compute and gas per phase, the game's wall time with every
//! response window at zero. Beside it, in the same run, EZKL's whole-model setup and proof.
//! The keys, store and actor state live in `target/seed-table/`.

#[path = "../../../zk/benches/ezkl/mod.rs"]
mod ezkl;
mod live;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;
use zkopml_model::onnx::RawModel;
use zkopml_model::{compile_onnx, default_calibration, DType};
use zkopml_node::dissection::{best_arity, chunk_level, op_level, worst_case, WorstCase};
use zkopml_node::Defect;

/// The seed's windows, read off its table: a challenge may be created for 120 s, and each move
/// has a 30 s response window (e.g. LeNet: 2 × ceil(log2 12) × 30 s = 240 s).
const SEED_CREATION_S: u32 = 120;
const SEED_RESPONSE_S: u32 = 30;

/// (testdata name, the seed's name, the seed's ONNX operator count, the seed's zk-OPML time,
/// the seed's EZKL proving time)
const MODELS: [(&str, &str, u32, &str, &str); 4] = [
    ("xgboost", "XGBoost", 62, "598 s", "18.75 s"),
    ("lenet_5", "LeNet", 12, "494 s", "36.37 s"),
    ("conv2d", "2d conv", 31, "566 s", "256.03 s"),
    (
        "mobilenet_v2",
        "MobileNet",
        155,
        "1115 s",
        "infeasible (RAM)",
    ),
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

struct Row {
    seed_name: &'static str,
    onnx_ops: usize,
    params: usize,
    ops: usize,
    binary: WorstCase,
    best: WorstCase,
    seed_time: &'static str,
    seed_ezkl: &'static str,
    live: Option<Result<live::ModelRun, String>>,
    ezkl: Option<Value>,
}

fn secs(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0} s")
    } else {
        format!("{x:.1} s")
    }
}

fn mgas(g: u64) -> String {
    format!("{:.2}M", g as f64 / 1e6)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |f: &str| args.iter().any(|a| a == f);
    let (static_only, no_ezkl, reuse_keys) =
        (flag("--static"), flag("--no-ezkl"), flag("--reuse-keys"));
    let filter: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target"));
    println!(
        "seed table: rounds by the contracts' rules, worst case over the model's operators; \
         seed windows: creation {SEED_CREATION_S} s, response {SEED_RESPONSE_S} s per move"
    );
    let env = if static_only {
        None
    } else {
        let e = live::Env::start(&target.join("seed-table"), reuse_keys).await?;
        println!(
            "live: anvil at {}, contracts deployed ({} gas)",
            e.url(),
            e.deploy_gas
        );
        Some(e)
    };
    let mut rows = vec![];
    for (name, seed_name, seed_ops, seed_time, seed_ezkl) in MODELS {
        if !filter.is_empty() && !filter.iter().any(|f| name.starts_with(f.as_str())) {
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
        let n = program.n_ops();
        let chunks: Vec<u64> = (1..=n)
            .map(|i| program.slot_spec(i).num_chunks() as u64)
            .collect();
        let binary = worst_case(&chunks, 2, 1)?;
        let best = best_arity(&chunks, 1)?;
        println!("\n## {seed_name} ({name})");
        println!(
            "  ONNX operators      {} ({}); the seed counts {seed_ops}",
            raw.nodes.len(),
            ops_text.join(", ")
        );
        println!("  parameters          {params} ({float_params} of them float)");
        println!(
            "  compiled operators  {n} (constants, shape arithmetic and BatchNormalization folded)"
        );
        for (label, w) in [
            ("k = 2", &binary),
            (&*format!("best k = {}", best.arity), &best),
        ] {
            let window_s = SEED_CREATION_S + 2 * w.longest.total() * SEED_RESPONSE_S;
            println!(
                "  rounds, {label:<11} {}; {} transactions; seed formula: {SEED_CREATION_S} s + 2 x {} x {SEED_RESPONSE_S} s = {window_s} s + the step proof",
                rounds(w),
                w.longest.transactions(),
                w.longest.total()
            );
        }
        println!("  the seed's zk-OPML  {seed_time}; the seed's EZKL proof {seed_ezkl}");

        let live = match &env {
            None => None,
            Some(env) => {
                // the defect sits on the operator of the longest game at k = 2, in its last chunk
                let op = binary.longest.op as usize;
                let num_chunks = program.slot_spec(op).num_chunks();
                let arities = vec![2u16, best.arity];
                let predicted = arities
                    .iter()
                    .map(|&k| {
                        Ok(op_level(n as u32, k, 1, op as u32)?.rounds
                            + 1
                            + chunk_level(k, num_chunks as u64).rounds)
                    })
                    .collect::<anyhow::Result<Vec<u32>>>()?;
                let plan = live::Plan {
                    name,
                    onnx: path.clone(),
                    arities,
                    defect: Defect {
                        op,
                        chunk: num_chunks - 1,
                    },
                    predicted,
                    window: if name == "mobilenet_v2" { 90 } else { 20 },
                    reuse_keys,
                };
                let r = live::run_model(env, &plan)
                    .await
                    .map_err(|e| format!("{e:#}"));
                match &r {
                    Ok(r) => live::print_phases(r),
                    Err(e) => println!("  live run FAILED: {e}"),
                }
                Some(r)
            }
        };
        let ezkl = if no_ezkl || name == "mobilenet_v2" {
            None
        } else {
            let e = tokio::task::block_in_place(|| ezkl::run(&root, name));
            println!(
                "  EZKL, whole model: setup {}; witness {}; prove {}",
                ezkl::step_text(&e, "setup"),
                ezkl::step_text(&e, "witness"),
                ezkl::step_text(&e, "prove")
            );
            Some(e)
        };
        rows.push(Row {
            seed_name,
            onnx_ops: raw.nodes.len(),
            params,
            ops: n,
            binary,
            best,
            seed_time,
            seed_ezkl,
            live,
            ezkl,
        });
    }
    print_summary(&rows);
    Ok(())
}

/// The side-by-side table (markdown): ours with the seed's formula and live, the seed's, EZKL.
fn print_summary(rows: &[Row]) {
    println!("\n## Side by side (markdown)\n");
    println!("| model | ONNX ops | params | our ops | our setup | rounds k=2 / best k | dispute, seed's windows (k=2 / best k) | dispute, zero windows (k=2 / best k) | dispute gas (k=2 / best k) | seed's zk-OPML | EZKL setup | EZKL witness + prove | seed's EZKL |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let live = r.live.as_ref().and_then(|l| l.as_ref().ok());
        let formula = |w: &WorstCase, d: Option<&live::Dispute>| {
            let windows = SEED_CREATION_S + 2 * w.longest.total() * SEED_RESPONSE_S;
            match d {
                Some(d) => secs(windows as f64 + d.challenger_trace_s + d.prove_s),
                None => format!("{windows} s + proof"),
            }
        };
        let d2 = live.and_then(|l| l.disputes.first());
        let db = live.and_then(|l| l.disputes.get(1));
        let pair = |a: Option<String>, b: Option<String>| match (a, b) {
            (Some(a), Some(b)) => format!("{a} / {b}"),
            _ => "not run".into(),
        };
        let played = |d: Option<&live::Dispute>, w: &WorstCase| match d {
            Some(d) => d.rounds.to_string(),
            None => w.longest.total().to_string(),
        };
        let setup = match live {
            Some(l) if !l.setup_reused => secs(l.compile_s + l.setup_s),
            Some(_) => "reused".into(),
            None => match &r.live {
                Some(Err(_)) => "FAILED".into(),
                _ => "not run".into(),
            },
        };
        let ez = |step: &str| match &r.ezkl {
            Some(e) => match ezkl::secs(e, step) {
                Some(s) => secs(s),
                None => ezkl::step_text(e, step),
            },
            None => "not run".into(),
        };
        let ez_wp = match &r.ezkl {
            Some(e) => match (ezkl::secs(e, "witness"), ezkl::secs(e, "prove")) {
                (Some(w), Some(p)) => format!("{:.2} s + {:.1} s", w, p),
                _ => ezkl::step_text(e, "prove"),
            },
            None => "not run".into(),
        };
        println!(
            "| {} | {} | {} | {} | {} | {} / {} (k={}) | {} / {} | {} | {} | {} | {} | {} | {} |",
            r.seed_name,
            r.onnx_ops,
            r.params,
            r.ops,
            setup,
            played(d2, &r.binary),
            played(db, &r.best),
            r.best.arity,
            formula(&r.binary, d2),
            formula(&r.best, db),
            pair(d2.map(|d| secs(d.wall_s)), db.map(|d| secs(d.wall_s))),
            pair(
                d2.map(|d| mgas(d.challenge_gas + d.dissection_gas + d.prove_gas + d.withdraw_gas)),
                db.map(|d| mgas(d.challenge_gas + d.dissection_gas + d.prove_gas + d.withdraw_gas))
            ),
            r.seed_time,
            ez("setup"),
            ez_wp,
            r.seed_ezkl,
        );
    }
    println!("\n(dispute, seed's windows = {SEED_CREATION_S} s + 2 x rounds x {SEED_RESPONSE_S} s + the challenger's trace + the step proof measured here; zero windows = the game played here from the request to the winner's withdrawal; dispute gas = challenge + every move + proveStep + the winner's withdraw)");
}
