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
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/models").join(name).join("network.onnx");
    let sample = read_input_json(&path.with_file_name("input.json")).expect("sample input");
    let (_, program) = compile_onnx(&path, &default_calibration(sample.len(), Some(&sample))).expect("compiles");
    let q = quantise_input(&program, &sample).unwrap();
    let engine = zkopml_exec::Engine::new(&program);
    let mut times: Vec<f64> = (0..reps).map(|_| {
        let t = Instant::now();
        std::hint::black_box(engine.infer(q.clone()).unwrap());
        t.elapsed().as_secs_f64() * 1e3
    }).collect();
    times.sort_by(f64::total_cmp);
    println!("{name}: median {:.2} ms, min {:.2} ms over {reps} runs", times[reps / 2], times[0]);
}
