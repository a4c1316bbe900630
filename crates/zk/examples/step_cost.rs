//! The cost of one dispute step of a real model: the circuit of `(op, chunk)` is built from the
//! compiled program and its trace on the model's sample input, set up alone (a seeded,
//! insecure setup: fine for a measurement), proved and verified. Prints constraints, setup
//! time, proving-key size, proving time and the process's peak memory (run one step per
//! process to read it). Issue 22's bound: every step in <= 30 s and <= 4 GiB.
//!
//! `cargo run -p zkopml-zk --release --example step_cost -- MODEL.zkml INPUT.json OP CHUNK [baked|committed]`
//! (a program from `zkopml compile [--weights committed]`; INPUT.json as `zkopml run` reads it).
use std::time::Instant;
use zkopml_model::{input::read_input_json, Program};
use zkopml_zk::{
    circuits::chunk::ChunkCircuit,
    groth16::{circuit_info, prove, seeded_rng, setup, verify},
    table::{op_chunk_in, read_chunks, ChunkRef, WeightsMode},
};

mod common;
use common::peak_rss_mib;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        return Err("usage: step_cost MODEL.zkml INPUT.json OP CHUNK [baked|committed]".into());
    }
    let program = Program::from_bytes(&std::fs::read(&args[1])?)?;
    let sample = read_input_json(std::path::Path::new(&args[2]))?;
    let (op, chunk): (usize, usize) = (args[3].parse()?, args[4].parse()?);
    let mode = match args.get(5).map(String::as_str) {
        None | Some("baked") => WeightsMode::Baked,
        Some("committed") => WeightsMode::Committed,
        Some(other) => return Err(format!("weights mode {other}: baked or committed").into()),
    };
    let trace = zkopml_exec::run(&program, zkopml_exec::quantise_input(&program, &sample)?)?;
    let (circuit, reads) = op_chunk_in(&program, op, chunk, mode)?;
    // a weight block is the circuit's own witness, not a trace chunk
    let trace_reads: Vec<ChunkRef> = reads
        .iter()
        .copied()
        .filter(|r| r.slot <= program.n_ops())
        .collect();
    let inputs = read_chunks(&program, &trace.slots, &trace_reads);
    let node = &program.ops[op - 1];
    println!(
        "op {op} {} ({}) chunk {chunk}: {} reads",
        node.op.kind(),
        node.name,
        reads.len()
    );
    let t = Instant::now();
    let info = circuit_info(ChunkCircuit::shape(circuit.clone()))?;
    let synth = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let keys = setup(ChunkCircuit::shape(circuit.clone()), &mut seeded_rng(1))?;
    let setup_s = t.elapsed().as_secs_f64();
    let pk_mib = keys.to_bytes()?.len() as f64 / (1 << 20) as f64;
    let t = Instant::now();
    let p = prove(
        &keys,
        ChunkCircuit::new(circuit, inputs)?,
        &mut seeded_rng(2),
    )?;
    let prove_s = t.elapsed().as_secs_f64();
    let ok = verify(keys.vk(), &p.public_inputs, &p.proof)?;
    println!(
        "{} constraints, synthesis {synth:.1} s, setup {setup_s:.1} s, proving key {pk_mib:.1} MiB, \
         prove {prove_s:.1} s, verifies: {ok}, peak {:.0} MiB",
        info.num_constraints,
        peak_rss_mib()
    );
    Ok(())
}
