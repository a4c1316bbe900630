//! Measures the circuit-identity checks of issue 19 item 8 on a testdata model: the plan
//! (structure keys and the data comparison of every chunk that shares a circuit), the table
//! check every `CircuitSet::load` runs, and, with `--synthesis`, what setup adds (the id of each
//! circuit and one synthesis of the last chunk of each shared circuit).
//!
//! `cargo run -p zkopml-zk --release --example identity_check_cost -- [MODEL] [--synthesis]`
//! (default mobilenet_v2; docs/zk.md quotes its figures)

use std::path::PathBuf;
use std::time::Instant;
use zkopml_model::{compile_onnx, default_calibration, input::read_input_json};
use zkopml_zk::{circuit_set::CircuitSet, circuits::chunk::ChunkCircuit, groth16::circuit_info};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let model = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map(String::as_str)
        .unwrap_or("mobilenet_v2");
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/models")
        .join(model)
        .join("network.onnx");
    let sample = read_input_json(&path.with_file_name("input.json"))?;
    let (_, p) = compile_onnx(&path, &default_calibration(sample.len(), Some(&sample)))?;

    let t = Instant::now();
    let (set, shapes) = CircuitSet::plan(&p)?;
    let plan_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    set.check_table(&p)?;
    let table_s = t.elapsed().as_secs_f64();
    let shared = set.circuits.iter().filter(|c| c.uses > 1).count();
    println!(
        "{model}: {} chunks, {} circuits ({shared} shared); plan {plan_s:.1} s; check_table {table_s:.1} s",
        set.entries.len(),
        set.circuits.len()
    );
    if args.iter().any(|a| a == "--synthesis") {
        let mut set = set;
        let t = Instant::now();
        for (meta, shape) in set.circuits.iter_mut().zip(shapes) {
            meta.id = circuit_info(ChunkCircuit::shape(shape))?.id_hex();
        }
        let ids_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let n = set.check_synthesis(&p, false, &mut |_, _, _| {})?;
        println!(
            "{model}: ids of the {} circuits {ids_s:.1} s; check_synthesis of {n} last uses {:.1} s",
            set.circuits.len(),
            t.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
