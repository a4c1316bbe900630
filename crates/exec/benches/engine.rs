//! Engine benchmark: fixed-point inference against float runtimes on the same input, and the
//! full trace with every commitment. Prints one table; `cargo bench -p zkopml-exec --bench engine`.
//! onnxruntime's figure comes from scripts/bench/ort_time.py when the project's Python venv
//! (.venv, made by scripts/models/build.sh) is present.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use zkopml_exec::commit::TraceCommitment;
use zkopml_exec::{quantise_input, run};
use zkopml_model::input::read_input_json;
use zkopml_model::reference::TractReference;
use zkopml_model::{compile_onnx, default_calibration};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time<T>(reps: usize, mut f: impl FnMut() -> T) -> Duration {
    median(
        (0..reps)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(f());
                t.elapsed()
            })
            .collect(),
    )
}

fn ort_ms(root: &Path, model: &Path, reps: usize) -> Option<f64> {
    let py = root.join(".venv/bin/python");
    if !py.exists() {
        return None;
    }
    let out = Command::new(py)
        .arg(root.join("scripts/bench/ort_time.py"))
        .arg(model)
        .arg(model.with_file_name("input.json"))
        .arg(reps.to_string())
        .output()
        .ok()?;
    String::from_utf8(out.stdout).ok()?.trim().parse().ok()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let per_op = std::env::args().any(|a| a == "--per-op");
    // --quick: fixed and onnxruntime only (no trace, commitments or tract), for kernel work
    let quick = std::env::args().any(|a| a == "--quick");
    // --rounds: each round's two medians as well (how much a shared machine moved them)
    let show_rounds = std::env::args().any(|a| a == "--rounds");
    // the transformers at their tiny (committed) sizes, and at full size where
    // `bash scripts/models/transformers.sh --full target/models` has built them
    let full: Vec<String> = ["gte", "t5", "whisper"]
        .iter()
        .map(|m| format!("../../target/models/{m}"))
        .filter(|m| {
            root.join("testdata/models")
                .join(m)
                .join("network.onnx")
                .exists()
        })
        .collect();
    let models = [
        "lenet_5",
        "xgboost",
        "variable_cnn",
        "conv2d",
        "mobilenet_v2",
        "gte_tiny",
        "t5_tiny",
        "whisper_tiny",
    ]
    .into_iter()
    .map(String::from)
    .chain(full);
    println!("threads: {}", rayon::current_num_threads());
    {
        // the chunk-digest hash: the project's Poseidon5 against light-poseidon (same outputs)
        use ark_bn254::Fr;
        use light_poseidon::{Poseidon, PoseidonHasher};
        let n = 20_000;
        let mut h = [
            Fr::from(1u64),
            Fr::from(2u64),
            Fr::from(3u64),
            Fr::from(4u64),
            Fr::from(5u64),
        ];
        let t = Instant::now();
        for _ in 0..n {
            h[0] = zkopml_exec::poseidon::poseidon5(&h);
        }
        let fast = t.elapsed().as_secs_f64() * 1e6 / n as f64;
        let mut r = Poseidon::<Fr>::new_circom(5).unwrap();
        let t = Instant::now();
        for _ in 0..n / 4 {
            h[0] = r.hash(&h).unwrap();
        }
        let slow = t.elapsed().as_secs_f64() * 1e6 / (n / 4) as f64;
        // the commitments' path: eight 2048-value chunks at a time (IFMA lanes where the CPU has them)
        let vals: Vec<i32> = (0..8 * 2048i32)
            .map(|k| k.wrapping_mul(-1_640_531_535))
            .collect();
        let t = Instant::now();
        let reps = 5;
        for _ in 0..reps {
            std::hint::black_box(zkopml_exec::poseidon::chunk_digests(&vals, 2048));
        }
        let batched = t.elapsed().as_secs_f64() * 1e6 / (reps * 8 * 2048usize.div_ceil(28)) as f64;
        println!("poseidon5 (t = 6): zkopml {fast:.1} us, in chunk batches {batched:.1} us (IFMA lanes: {}), light-poseidon {slow:.1} us per hash", zkopml_exec::poseidon::batched_lanes());
    }
    println!(
        "{:<14} {:>5} {:>12} {:>12} {:>12} {:>10} {:>14} {:>12}",
        "model",
        "ops",
        "ort f32 ms",
        "tract f32 ms",
        "fixed ms",
        "fixed/ort",
        "trace+commit ms",
        "commit ms"
    );
    for m in models {
        if !filter.is_empty() && !filter.iter().any(|f| m.contains(f.as_str())) {
            continue;
        }
        let path = root.join("testdata/models").join(&m).join("network.onnx");
        let m = m.trim_start_matches("../../target/models/");
        let sample = read_input_json(&path.with_file_name("input.json")).expect("sample input");
        let (_, program) = compile_onnx(&path, &default_calibration(sample.len(), Some(&sample)))
            .expect("compiles");
        // medians over enough runs that a noisy minute on a shared machine shows less
        let reps = if m == "mobilenet_v2" { 10 } else { 30 };
        let q = quantise_input(&program, &sample).unwrap();
        // the honest path: weights prepared once per program, as an onnxruntime session does
        let engine = zkopml_exec::Engine::new(&program);
        assert_eq!(
            &engine.infer(q.clone()).unwrap(),
            run(&program, q.clone()).unwrap().output(),
            "infer = the trace's output"
        );
        // onnxruntime and the fixed-point engine take turns (five rounds for MobileNetV2), and
        // each side's figure is the median of its rounds' medians: a slow minute on a shared
        // machine then slows both, not just whichever ran in it
        let rounds = if m == "mobilenet_v2" { 5 } else { 1 };
        let (mut fixed_r, mut ort_r) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            let ort_round = ort_ms(&root, &path, reps * 4);
            ort_r.extend(ort_round);
            let fixed_round = time(reps * 4, || engine.infer(q.clone()).unwrap());
            fixed_r.push(fixed_round);
            if show_rounds {
                let ratio =
                    ort_round.map_or("n/a".into(), |v| format!("{:.1}x", ms(fixed_round) / v));
                println!(
                    "  {m} round {}: ort f32 {} ms, fixed {:.2} ms ({ratio})",
                    fixed_r.len(),
                    ort_round.map_or("n/a".into(), |v| format!("{v:.2}")),
                    ms(fixed_round)
                );
            }
        }
        let fixed = median(fixed_r);
        let ort = (!ort_r.is_empty()).then(|| {
            ort_r.sort_by(f64::total_cmp);
            ort_r[ort_r.len() / 2]
        });
        if quick {
            if per_op {
                print_per_op(&program, &q, reps);
            }
            let r = ort.map_or("n/a".into(), |v| format!("{:.1}x", ms(fixed) / v));
            println!(
                "{:<14} {:>5} {:>12} {:>12} {:>12.2} {:>10}",
                m,
                program.n_ops(),
                ort.map_or("n/a".into(), |v| format!("{v:.2}")),
                "-",
                ms(fixed),
                r
            );
            continue;
        }
        let trace = run(&program, q.clone()).unwrap();
        let commit = time(reps.min(5), || {
            TraceCommitment::new(&program, &trace).unwrap()
        });
        let full = time(reps.min(5), || {
            let t = run(&program, q.clone()).unwrap();
            TraceCommitment::new(&program, &t).unwrap()
        });
        let parts: Vec<_> = program.input_parts().into_iter().map(|i| i.part).collect();
        let tract = TractReference::load_inputs(&path, &parts).unwrap();
        let tract_t = time(reps, || tract.run(&sample).unwrap());
        if per_op {
            print_per_op(&program, &q, reps);
        }
        println!(
            "{:<14} {:>5} {:>12} {:>12.2} {:>12.2} {:>10} {:>14.1} {:>12.1}",
            m,
            program.n_ops(),
            ort.map_or("n/a".into(), |v| format!("{v:.2}")),
            ms(tract_t),
            ms(fixed),
            ort.map_or("n/a".into(), |v| format!("{:.1}x", ms(fixed) / v)),
            ms(full),
            ms(commit)
        );
    }
}

/// `--per-op`: where the fixed-point inference spends its time, by operator kind (medians of
/// each op over `reps` runs, summed per kind) and the ten slowest ops.
fn print_per_op(program: &zkopml_model::Program, q: &zkopml_model::Tensor<i32>, reps: usize) {
    let trace = run(program, q.clone()).unwrap();
    let engine = zkopml_exec::Engine::new(program);
    let mut per_op: Vec<(usize, &str, f64)> = program
        .ops
        .iter()
        .enumerate()
        .map(|(i, node)| {
            let d = time(reps, || engine.run_op(i + 1, &trace.slots[..=i]).unwrap());
            (i + 1, node.op.kind(), ms(d))
        })
        .collect();
    let mut kinds: Vec<(&str, f64, usize)> = Vec::new();
    for &(_, k, t) in &per_op {
        match kinds.iter_mut().find(|e| e.0 == k) {
            Some(e) => {
                e.1 += t;
                e.2 += 1;
            }
            None => kinds.push((k, t, 1)),
        }
    }
    kinds.sort_by(|a, b| b.1.total_cmp(&a.1));
    let total: f64 = per_op.iter().map(|e| e.2).sum();
    println!("  per-op medians, sum {total:.2} ms:");
    for (k, t, n) in kinds {
        println!("    {k:<18} {n:>4} ops {t:>9.2} ms");
    }
    per_op.sort_by(|a, b| b.2.total_cmp(&a.2));
    let all = std::env::args().any(|a| a == "--all-ops");
    for (i, k, t) in per_op.iter().take(if all { usize::MAX } else { 10 }) {
        let o = &program.ops[i - 1].out.shape;
        let w = match &program.ops[i - 1].op {
            zkopml_model::QOp::Conv {
                weight,
                groups,
                window,
                ..
            } => format!(" w {:?} g {groups} s {:?}", weight.shape, window.strides),
            _ => String::new(),
        };
        println!("    op {i:>3} {k:<14} out {o:?}{w} {t:.3} ms");
    }
}
