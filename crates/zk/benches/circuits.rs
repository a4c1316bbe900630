//! Circuits benchmark: the per-operator dispute-step circuits of a model against EZKL proving
//! the whole model, in one run (`docs/benchmarks.md`, "Circuits: dispute-step proofs vs EZKL").
//!
//! ```text
//! cargo bench -p zkopml-zk --bench circuits                  # lenet_5, xgboost, conv2d
//! cargo bench -p zkopml-zk --bench circuits -- lenet         # a filter (substring of the name)
//! cargo bench -p zkopml-zk --bench circuits -- mobilenet_v2  # its plan only
//! cargo bench -p zkopml-zk --bench circuits -- mobilenet_v2 --prove-max   # + smallest/largest
//! flags: --no-ezkl (skip the baseline), --plan (plans only)
//! env: EZKL_TIMEOUT_S (per EZKL step, default 900), EZKL_MEM_GIB (default 20)
//! ```
//!
//! Per operator: output chunks, distinct circuits, constraints (max), Groth16 setup time and
//! proving-key size of its circuits, and the proving time and peak memory of its slowest
//! circuit. Every distinct circuit is set up once and proved once, on the first chunk that
//! uses it, with the real trace of the model's input.json. Setup and prove each run in a fresh
//! child process (this binary, re-invoked with the hidden `--child-setup`/`--child-prove`
//! flags), so a prove's peak memory (`VmHWM`) is its own: the child compiles the model and
//! runs the trace, resets its peak (`/proc/self/clear_refs`), then loads the proving key and
//! proves. The proving time is that of `groth16::prove` (synthesis, circuit-id check,
//! satisfaction check, Groth16 prover, self-verification), which is what `prove_step` spends
//! its time on. The baseline is `scripts/bench/ezkl_bench.py` from the project's `.venv`
//! (`scripts/bench/setup.sh` installs the pinned EZKL there).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

mod ezkl;

use serde_json::{json, Value};
use zkopml_exec::{quantise_input, run};
use zkopml_model::input::read_input_json;
use zkopml_model::{compile_onnx, default_calibration, Program};
use zkopml_zk::circuit_set::count_constraints;
use zkopml_zk::circuits::chunk::ChunkCircuit;
use zkopml_zk::groth16::{self, Keys};
use zkopml_zk::table::{op_chunk, read_chunks};

const DEFAULT_MODELS: [&str; 3] = ["lenet_5", "xgboost", "conv2d"];
const MIB: f64 = (1u64 << 20) as f64;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn model_path(name: &str) -> PathBuf {
    root()
        .join("testdata/models")
        .join(name)
        .join("network.onnx")
}

fn load(name: &str) -> (Program, Vec<zkopml_model::Tensor<i32>>) {
    let path = model_path(name);
    let sample = read_input_json(&path.with_file_name("input.json")).expect("sample input");
    let (_, program) = compile_onnx(&path, &default_calibration(sample.len(), Some(&sample)))
        .expect("the model compiles");
    let trace = run(&program, quantise_input(&program, &sample).expect("input")).expect("runs");
    (program, trace.slots)
}

/// `VmHWM` (peak resident set) of this process, KiB.
fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Resets `VmHWM` to the current RSS (Linux >= 4.0). `false` when that is not possible.
fn reset_hwm() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Hidden child modes: `--child-setup <model> <op> <chunk> <pk file>` and
/// `--child-prove <model> <op> <chunk> <pk file>`. Print one JSON line.
fn child(mode: &str, args: &[String]) {
    let (name, op, chunk, pk) = (
        &args[0],
        args[1].parse::<usize>().expect("op"),
        args[2].parse::<usize>().expect("chunk"),
        Path::new(&args[3]),
    );
    let (program, slots) = load(name);
    let (circuit, reads) = op_chunk(&program, op, chunk).expect("a circuit");
    let out = if mode == "--child-setup" {
        let t = Instant::now();
        let keys = groth16::setup(
            ChunkCircuit::shape(circuit),
            &mut groth16::seeded_rng((op * 100_003 + chunk) as u64),
        )
        .expect("setup");
        let secs = t.elapsed().as_secs_f64();
        keys.write(pk).expect("writing the proving key");
        json!({
            "setup_s": secs,
            "constraints": keys.info.num_constraints,
            "pk_bytes": std::fs::metadata(pk).map(|m| m.len()).unwrap_or(0),
            "setup_peak_kib": vm_hwm_kib(),
        })
    } else {
        let inputs = read_chunks(&program, &slots, &reads);
        drop(slots);
        drop(program);
        let reset = reset_hwm();
        let keys = Keys::read(pk).expect("reading the proving key");
        let t = Instant::now();
        let proved = groth16::prove(
            &keys,
            ChunkCircuit::new(circuit, inputs).expect("the honest claim"),
            &mut groth16::os_rng(),
        )
        .expect("prove (it also verifies the proof)");
        let secs = t.elapsed().as_secs_f64();
        json!({
            "prove_s": secs,
            "prove_peak_kib": vm_hwm_kib(),
            "peak_reset": reset,
            "public_inputs": proved.public_inputs.len(),
        })
    };
    println!("{out}");
}

/// Runs this binary as a child; its JSON line, or the reason it failed.
fn spawn(mode: &str, name: &str, op: usize, chunk: usize, pk: &Path) -> Result<Value, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new(exe)
        .arg(mode)
        .arg(name)
        .arg(op.to_string())
        .arg(chunk.to_string())
        .arg(pk)
        .output()
        .map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    match stdout.lines().last().map(serde_json::from_str::<Value>) {
        Some(Ok(v)) if out.status.success() => Ok(v),
        _ => {
            let err = String::from_utf8_lossy(&out.stderr);
            let last = err
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            Err(format!("{}: {last}", out.status))
        }
    }
}

/// One distinct circuit of a model.
struct Circuit {
    first: (usize, usize),
    constraints: usize,
    setup_s: f64,
    pk_bytes: u64,
    prove_s: f64,
    prove_kib: u64,
    error: Option<String>,
}

/// One operator's row.
struct OpRow {
    kind: String,
    chunks: usize,
    circuits: Vec<usize>,
    unsupported: Option<String>,
}

fn plan(program: &Program) -> (Vec<OpRow>, Vec<Circuit>) {
    let mut circuits: Vec<Circuit> = Vec::new();
    let mut by_key: HashMap<[u8; 32], usize> = HashMap::new();
    let mut rows = Vec::new();
    for op in 1..=program.n_ops() {
        let chunks = program.ops[op - 1].out.num_chunks();
        let mut row = OpRow {
            kind: program.ops[op - 1].op.kind().to_string(),
            chunks,
            circuits: vec![],
            unsupported: None,
        };
        for chunk in 0..chunks {
            match op_chunk(program, op, chunk) {
                Ok((c, _)) => {
                    let k = *by_key.entry(c.structure_key()).or_insert_with(|| {
                        circuits.push(Circuit {
                            first: (op, chunk),
                            constraints: count_constraints(&c).expect("synthesis"),
                            setup_s: 0.0,
                            pk_bytes: 0,
                            prove_s: 0.0,
                            prove_kib: 0,
                            error: None,
                        });
                        circuits.len() - 1
                    });
                    if !row.circuits.contains(&k) {
                        row.circuits.push(k);
                    }
                }
                Err(e) => {
                    row.unsupported = Some(e.to_string());
                    break;
                }
            }
        }
        rows.push(row);
    }
    (rows, circuits)
}

fn measure(name: &str, c: &mut Circuit, dir: &Path, k: usize) {
    let pk = dir.join(format!("c{k}.pk"));
    let (op, chunk) = c.first;
    let r = spawn("--child-setup", name, op, chunk, &pk).and_then(|s| {
        c.setup_s = s["setup_s"].as_f64().unwrap_or(0.0);
        c.pk_bytes = s["pk_bytes"].as_u64().unwrap_or(0);
        spawn("--child-prove", name, op, chunk, &pk)
    });
    match r {
        Ok(p) => {
            c.prove_s = p["prove_s"].as_f64().unwrap_or(0.0);
            c.prove_kib = p["prove_peak_kib"].as_u64().unwrap_or(0);
        }
        Err(e) => c.error = Some(e),
    }
    let _ = std::fs::remove_file(&pk);
    eprintln!(
        "  circuit {k} (op {op}, chunk {chunk}, {} constraints): setup {:.2} s, prove {:.2} s, {:.0} MiB{}",
        c.constraints,
        c.setup_s,
        c.prove_s,
        c.prove_kib as f64 / 1024.0,
        c.error.as_deref().map(|e| format!(", FAILED: {e}")).unwrap_or_default()
    );
}

struct Summary {
    setup_s: f64,
    prove_s: f64,
    prove_mib: f64,
    pk_mib: f64,
    measured: bool,
    max_constraints: usize,
    unsupported: usize,
}

fn bench_model(name: &str, prove: bool, prove_extremes: bool, dir: &Path) -> Summary {
    let t = Instant::now();
    let (program, _) = load(name);
    let (rows, mut circuits) = plan(&program);
    let leaves: usize = rows.iter().map(|r| r.chunks).sum();
    println!(
        "\n## {name}: {} ops, {} table leaves, {} distinct circuits (plan in {:.1} s)",
        program.n_ops(),
        leaves,
        circuits.len(),
        t.elapsed().as_secs_f64()
    );
    let mut todo: Vec<usize> = if !prove {
        vec![]
    } else if prove_extremes {
        let by = |k: &usize| circuits[*k].constraints;
        let all: Vec<usize> = (0..circuits.len()).collect();
        let mut v = vec![
            *all.iter().min_by_key(|k| by(k)).expect("a circuit"),
            *all.iter().max_by_key(|k| by(k)).expect("a circuit"),
        ];
        v.dedup();
        v
    } else {
        (0..circuits.len()).collect()
    };
    todo.sort_unstable();
    for &k in &todo {
        measure(name, &mut circuits[k], dir, k);
    }
    let measured = |k: &usize| todo.contains(k) && circuits[*k].error.is_none();
    println!(
        "{:>4}  {:<18} {:>6} {:>8} {:>11} {:>9} {:>8} {:>9} {:>9}",
        "op",
        "kind",
        "chunks",
        "circuits",
        "constraints",
        "setup s",
        "pk MiB",
        "prove s",
        "prove MiB"
    );
    let mut seen = vec![false; circuits.len()];
    for (i, r) in rows.iter().enumerate() {
        if let Some(why) = &r.unsupported {
            println!(
                "{:>4}  {:<18} {:>6}  no circuit yet ({})",
                i + 1,
                r.kind,
                r.chunks,
                why.split(": cannot be proved: ").last().unwrap_or(why)
            );
            continue;
        }
        let max_c = r
            .circuits
            .iter()
            .map(|&k| circuits[k].constraints)
            .max()
            .unwrap_or(0);
        // setup and key size: the circuits this op is the first to use (shared ones are set up once)
        let new: Vec<usize> = r.circuits.iter().copied().filter(|&k| !seen[k]).collect();
        new.iter().for_each(|&k| seen[k] = true);
        let done: Vec<usize> = r.circuits.iter().copied().filter(measured).collect();
        let (setup, pk, prove, mem) = if done.is_empty() {
            let why = r
                .circuits
                .iter()
                .find_map(|&k| circuits[k].error.as_deref());
            let s = if why.is_some() { "failed" } else { "-" };
            (s.to_string(), s.to_string(), s.to_string(), s.to_string())
        } else {
            let new_done: Vec<usize> = new.iter().copied().filter(measured).collect();
            let setup: f64 = new_done.iter().map(|&k| circuits[k].setup_s).sum();
            let pk: f64 = new_done
                .iter()
                .map(|&k| circuits[k].pk_bytes as f64)
                .sum::<f64>()
                / MIB;
            let prove = done
                .iter()
                .map(|&k| circuits[k].prove_s)
                .fold(0.0, f64::max);
            let mem = done
                .iter()
                .map(|&k| circuits[k].prove_kib)
                .max()
                .unwrap_or(0);
            let shared = new.is_empty();
            (
                if shared {
                    "shared".into()
                } else {
                    format!("{setup:.2}")
                },
                if shared {
                    "shared".into()
                } else {
                    format!("{pk:.1}")
                },
                format!("{prove:.2}"),
                format!("{:.0}", mem as f64 / 1024.0),
            )
        };
        println!(
            "{:>4}  {:<18} {:>6} {:>8} {:>11} {:>9} {:>8} {:>9} {:>9}",
            i + 1,
            r.kind,
            r.chunks,
            r.circuits.len(),
            max_c,
            setup,
            pk,
            prove,
            mem
        );
    }
    let ok: Vec<&Circuit> = (0..circuits.len())
        .filter(measured)
        .map(|k| &circuits[k])
        .collect();
    let s = Summary {
        setup_s: ok.iter().map(|c| c.setup_s).sum(),
        prove_s: ok.iter().map(|c| c.prove_s).fold(0.0, f64::max),
        prove_mib: ok
            .iter()
            .map(|c| c.prove_kib as f64 / 1024.0)
            .fold(0.0, f64::max),
        pk_mib: ok.iter().map(|c| c.pk_bytes as f64).sum::<f64>() / MIB,
        measured: !ok.is_empty(),
        max_constraints: circuits.iter().map(|c| c.constraints).max().unwrap_or(0),
        unsupported: rows.iter().filter(|r| r.unsupported.is_some()).count(),
    };
    let unsupported = s.unsupported;
    let failed = circuits.iter().filter(|c| c.error.is_some()).count();
    if s.measured {
        println!(
            "total: setup of {} of {} circuits {:.1} s, proving keys {:.1} MiB; slowest step proof {:.2} s; max prove memory {:.0} MiB{}{}",
            ok.len(),
            circuits.len(),
            s.setup_s,
            s.pk_mib,
            s.prove_s,
            s.prove_mib,
            if unsupported > 0 { format!("; {unsupported} op(s) without a circuit yet (not counted)") } else { String::new() },
            if failed > 0 { format!("; {failed} circuit(s) failed") } else { String::new() },
        );
    }
    s
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(mode) = args.first().filter(|a| a.starts_with("--child-")) {
        return child(mode, &args[1..]);
    }
    let flag = |f: &str| args.iter().any(|a| a == f);
    let (prove_max, no_ezkl, plan_only) = (flag("--prove-max"), flag("--no-ezkl"), flag("--plan"));
    let filter: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let mut models: Vec<&str> = DEFAULT_MODELS.to_vec();
    models.push("mobilenet_v2");
    let models: Vec<&str> = models
        .into_iter()
        .filter(|m| {
            if filter.is_empty() {
                *m != "mobilenet_v2"
            } else {
                // "lenet" is a substring of "mobilenet": MobileNetV2 only when named
                filter.iter().any(|f| m.contains(f.as_str()))
                    && (*m != "mobilenet_v2" || filter.iter().any(|f| f.contains("mobilenet")))
            }
        })
        .collect();

    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "circuits benchmark: {} cores, load average at start {}; prove = groth16::prove of one chunk in a fresh process",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    );
    let dir = std::env::temp_dir().join(format!("zkopml-circuits-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp folder");

    let mut results = Vec::new();
    for m in &models {
        let mobilenet = *m == "mobilenet_v2";
        let prove = !plan_only && (!mobilenet || prove_max);
        let s = bench_model(m, prove, mobilenet, &dir);
        let e = if prove && !no_ezkl && !mobilenet {
            Some(ezkl::run(&root(), m))
        } else {
            None
        };
        if s.measured || e.is_some() {
            println!("{m}: zkopml (all circuits; slowest dispute step) vs EZKL (whole model)");
            println!("  {:<26} {:<30} EZKL", "", "zkopml");
            let zk = |v: String| if s.measured { v } else { "-".into() };
            let ez = |step: &str| {
                e.as_ref()
                    .map_or("not run".into(), |e| ezkl::step_text(e, step))
            };
            println!(
                "  {:<26} {:<30} {}",
                "compile+calibrate",
                "-",
                ez("compile")
            );
            println!(
                "  {:<26} {:<30} {}",
                "SRS (generated locally)",
                "- (circuit-specific setup)",
                ez("srs")
            );
            println!(
                "  {:<26} {:<30} {}",
                "setup",
                zk(format!("{:.1} s (sum of circuits)", s.setup_s)),
                ez("setup")
            );
            println!(
                "  {:<26} {:<30} {}",
                "proving key(s)",
                zk(format!("{:.1} MiB", s.pk_mib)),
                e.as_ref()
                    .and_then(|e| e["pk_mib"].as_f64())
                    .map_or("n/a".into(), |v| format!("{v:.1} MiB"))
            );
            println!(
                "  {:<26} {:<30} {}",
                "prove",
                zk(format!(
                    "{:.2} s, {:.0} MiB (slowest step)",
                    s.prove_s, s.prove_mib
                )),
                ez("prove")
            );
            println!("  {:<26} {:<30} {}", "verify", "-", ez("verify"));
            if let Some(e) = &e {
                println!(
                    "  EZKL {} logrows {}, limits {} GiB / {} s per step",
                    e["ezkl"].as_str().unwrap_or("?"),
                    e["logrows"],
                    e["mem_limit_gib"],
                    e["timeout_s"]
                );
            }
        }
        results.push((m.to_string(), s, e));
    }

    println!("\nTargets (issue 4):");
    let get = |n: &str| results.iter().find(|r| r.0 == n);
    match get("lenet_5") {
        Some((_, s, Some(e))) if s.measured => match ezkl::secs(e, "prove") {
            Some(ez) => {
                let x = ez / s.prove_s;
                println!(
                    "  LeNet slowest dispute-step proof >= 50x faster than EZKL's whole-LeNet proof: {:.2} s vs {ez:.1} s = {x:.0}x -> {}",
                    s.prove_s,
                    if x >= 50.0 { "met" } else { "NOT met" }
                );
            }
            None => println!(
                "  LeNet 50x: EZKL's proof did not complete ({})",
                ezkl::step_text(e, "prove")
            ),
        },
        _ => println!("  LeNet 50x: not measured in this run"),
    }
    for (m, s, e) in &results {
        let Some(e) = e else { continue };
        if !s.measured {
            continue;
        }
        match ezkl::secs(e, "setup") {
            Some(ez) => println!(
                "  {m}: whole-model setup no slower than EZKL's setup: {:.1} s vs {ez:.1} s -> {}{}",
                s.setup_s,
                if s.setup_s <= ez { "met" } else { "NOT met" },
                if s.unsupported > 0 {
                    format!(" (partial: {} ops have no circuit yet)", s.unsupported)
                } else {
                    String::new()
                }
            ),
            None if e["steps"]["setup"].get("failed").is_some() => println!(
                "  {m}: whole-model setup {:.1} s; EZKL's setup failed ({}) -> met",
                s.setup_s,
                ezkl::step_text(e, "setup")
            ),
            None => println!(
                "  {m}: whole-model setup {:.1} s; EZKL did not reach its setup ({}) -> not compared in this run",
                s.setup_s,
                ezkl::step_text(e, "setup")
            ),
        }
    }
    match get("mobilenet_v2") {
        Some((_, s, _)) if s.measured => println!(
            "  MobileNetV2 slowest step within 30 s / 4 GiB: {:.1} s, {:.2} GiB (largest circuit: {} constraints) -> {}",
            s.prove_s,
            s.prove_mib / 1024.0,
            s.max_constraints,
            if s.prove_s <= 30.0 && s.prove_mib <= 4096.0 { "met" } else { "NOT met" }
        ),
        Some((_, s, _)) => println!(
            "  MobileNetV2 slowest step within 30 s / 4 GiB: not proved in this run (add --prove-max); its largest circuit has {} constraints",
            s.max_constraints
        ),
        None => println!("  MobileNetV2 30 s / 4 GiB: not in this run (run it with the filter mobilenet_v2 --prove-max)"),
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "load average at end: {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let _ = std::fs::remove_dir_all(&dir);
}
