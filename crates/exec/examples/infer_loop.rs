//! Runs a model's honest-path inference in a loop (for profilers): `cargo run --release -p
//! zkopml-exec --example infer_loop -- <model dir name> [reps]`.
use std::path::PathBuf;
use std::time::Instant;

use zkopml_exec::quantise_input;
use zkopml_model::input::read_input_json;
use zkopml_model::{compile_onnx, default_calibration};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let name = args.first().map_or("mobilenet_v2", String::as_str);
    let reps: usize = args.get(1).and_then(|r| r.parse().ok()).unwrap_or(100);
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/models")
        .join(name)
        .join("network.onnx");
    let sample = read_input_json(&path.with_file_name("input.json")).expect("sample input");
    let (_, program) =
        compile_onnx(&path, &default_calibration(sample.len(), Some(&sample))).expect("compiles");
    let q = quantise_input(&program, &sample).unwrap();
    let engine = zkopml_exec::Engine::new(&program);
    if let Some(op) = std::env::var("OP")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        // one op alone, many times, on a team of T threads (2 unless T says) as in `infer`
        // (for a profile of its kernel)
        let trace = zkopml_exec::run(&program, q.clone()).unwrap();
        let t = Instant::now();
        let threads: usize = std::env::var("T")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(2);
        zkopml_exec::with_team(threads, || {
            for _ in 0..reps {
                std::hint::black_box(engine.run_op(op, &trace.slots[..op]).unwrap());
            }
        });
        println!(
            "op {op}: {:.3} ms per run",
            t.elapsed().as_secs_f64() * 1e3 / reps as f64
        );
        return;
    }
    let mut times: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(engine.infer(q.clone()).unwrap());
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    println!(
        "{name}: median {:.2} ms, p10 {:.2} ms, min {:.2} ms over {reps} runs",
        times[reps / 2],
        times[reps / 10],
        times[0]
    );
    if std::env::var_os("SEQ").is_some() {
        // every op in sequence, as `infer` runs them (Engine::infer_timed): median per op
        let n = program.n_ops();
        let mut times = vec![Vec::new(); n];
        for _ in 0..reps {
            let (_, t) = engine.infer_timed(q.clone()).unwrap();
            for (all, t) in times.iter_mut().zip(t) {
                all.push(t.as_secs_f64() * 1e3);
            }
        }
        let med: Vec<f64> = times
            .into_iter()
            .map(|mut t| {
                t.sort_by(f64::total_cmp);
                t[t.len() / 2]
            })
            .collect();
        for (i, node) in program.ops.iter().enumerate() {
            println!(
                "op {:>3} {:<10} {:>16} {:>8.3} ms",
                i + 1,
                node.op.kind(),
                format!("{:?}", node.out.shape),
                med[i]
            );
        }
        println!("sum {:.2} ms", med.iter().sum::<f64>());
    }
    if std::env::var_os("PER_OP").is_some() {
        // each op alone, on a worker thread as in `infer`: p10 of `reps` runs, by stage
        let trace = zkopml_exec::run(&program, q.clone()).unwrap();
        let per_op: Vec<f64> = rayon::scope(|_| {
            (1..=program.n_ops())
                .map(|i| {
                    let mut t: Vec<f64> = (0..reps)
                        .map(|_| {
                            let t0 = Instant::now();
                            std::hint::black_box(engine.run_op(i, &trace.slots[..i]).unwrap());
                            t0.elapsed().as_secs_f64() * 1e3
                        })
                        .collect();
                    t.sort_by(f64::total_cmp);
                    t[reps / 10]
                })
                .collect()
        });
        for (i, node) in program.ops.iter().enumerate() {
            let shape = &node.out.shape;
            let macs = match &node.op {
                zkopml_model::QOp::Conv { weight, .. } => {
                    weight.data.len() * shape[2..].iter().product::<usize>()
                }
                _ => 0,
            };
            println!(
                "op {:>3} {:<10} {:>16} {:>8.3} ms {:>6.1} GMAC/s",
                i + 1,
                node.op.kind(),
                format!("{shape:?}"),
                per_op[i],
                macs as f64 / per_op[i] / 1e6
            );
        }
        println!("sum {:.2} ms", per_op.iter().sum::<f64>());
    }
}
