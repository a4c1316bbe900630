use std::path::PathBuf;
use zkopml_exec::commit::{keccak, TraceCommitment};
use zkopml_exec::{quantise_input, run};
use zkopml_model::input::read_input_json;
use zkopml_model::{compile_onnx, default_calibration};
fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    for m in ["lenet_5", "xgboost", "variable_cnn", "conv2d", "mobilenet_v2"] {
        let path = root.join("testdata/models").join(m).join("network.onnx");
        let sample = read_input_json(&path.with_file_name("input.json")).unwrap();
        let (_, program) = compile_onnx(&path, &default_calibration(sample.len(), Some(&sample))).unwrap();
        for variant in 0..3u64 {
            let mut s = 0x12345u64 + variant;
            let inp: Vec<f64> = sample.iter().map(|&v| { s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407); if variant == 0 { v } else { v * (0.5 + ((s >> 33) as f64 / 2f64.powi(31))) + ((s >> 40) as f64 / 2f64.powi(24) - 0.5) * 0.3 } }).collect();
            let q = quantise_input(&program, &inp).unwrap();
            match run(&program, q) {
                Ok(t) => {
                    let bytes: Vec<u8> = t.slots.iter().flat_map(|s| s.data.iter().flat_map(|v| v.to_le_bytes())).collect();
                    let c = if m != "mobilenet_v2" || variant == 0 { hex::encode(TraceCommitment::new(&program, &t).unwrap().final_root()) } else { "-".into() };
                    println!("{m} {variant} trace {} root {}", hex::encode(keccak(&[&bytes])), c);
                }
                Err(e) => println!("{m} {variant} error {e}"),
            }
        }
    }
}
