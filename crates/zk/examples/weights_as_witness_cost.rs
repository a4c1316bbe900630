//! Issue 22, design (a) measured before building it: one output chunk of a fully connected
//! layer `y[1, cols] = x[1, K] · W[K, cols]`, proved with the weights baked into the circuit
//! (today's `Gemm`), with the weights as a plain witness chunk opened by one more digest
//! (`MatMul` of the input chunk and a weight chunk: every weight range checked and hashed as a
//! 32-bit value), and as a packed weight block (`PackedGemm`: three columns per field element,
//! one product per three weights, no range check). Prints constraints, setup time, proving key
//! size, proving time and peak memory of each (peak memory is the process's, so run one
//! design per process to read it).
//!
//! `cargo run -p zkopml-zk --release --example weights_as_witness_cost -- K COLS [baked|witness|packed]`

use std::time::Instant;
use zkopml_zk::{
    circuits::{
        chunk::ChunkCircuit,
        chunk::ChunkOp,
        linear::Gemm,
        matmul::MatMul,
        packed_gemm::{CommittedGemm, PackedGemm},
    },
    groth16::{circuit_info, prove, seeded_rng, setup, verify},
};

mod common;
use common::peak_rss_mib;

fn measure_chunk<O: ChunkOp + std::fmt::Debug>(
    name: &str,
    op: O,
    inputs: Vec<Vec<i32>>,
) -> Result<(), Box<dyn std::error::Error>> {
    let honest = ChunkCircuit::new(op.clone(), inputs)?;
    measure(name, ChunkCircuit::shape(op), honest)
}

fn measure<C: ark_relations::gr1cs::ConstraintSynthesizer<zkopml_zk::Fr> + Clone>(
    name: &str,
    shape: C,
    honest: C,
) -> Result<(), Box<dyn std::error::Error>> {
    let t = Instant::now();
    let info = circuit_info(shape.clone())?;
    let synth = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let keys = setup(shape, &mut seeded_rng(1))?;
    let setup_s = t.elapsed().as_secs_f64();
    let pk_mib = keys.to_bytes()?.len() as f64 / (1 << 20) as f64;
    let t = Instant::now();
    let p = prove(&keys, honest, &mut seeded_rng(2))?;
    let prove_s = t.elapsed().as_secs_f64();
    assert!(verify(keys.vk(), &p.public_inputs, &p.proof)?);
    println!(
        "{name}: {} constraints, {} public inputs, synthesis {synth:.1} s, setup {setup_s:.1} s, \
         proving key {pk_mib:.1} MiB, prove {prove_s:.1} s, peak {:.0} MiB",
        info.num_constraints,
        info.num_instance_variables - 1,
        peak_rss_mib()
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let k: usize = args.first().map(|s| s.parse()).transpose()?.unwrap_or(768);
    let cols: usize = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(64);
    let which = args.get(2).map(String::as_str).unwrap_or("both");
    // weights |w| < 2^19 as the quantiser makes them; an activation row below 2^20
    let w: Vec<i64> = (0..k * cols)
        .map(|i| ((i as i64 * 2_654_435_761) % 1_000_001) - 500_000)
        .map(|v| v / 2)
        .collect();
    let x: Vec<i32> = (0..k as i64)
        .map(|i| ((i * 40_503) % 2_000_001 - 1_000_000) as i32)
        .collect();
    let shift = 24;
    println!("fully connected chunk: x[1, {k}] · W[{k}, {cols}], shift {shift}");
    if which == "both" || which == "baked" {
        let g = Gemm::chunk(w.clone(), k, cols, vec![0; cols], shift, 1, k, cols, 0);
        measure_chunk("baked weights  ", g, vec![x.clone()])?;
    }
    if which == "both" || which == "packed" {
        let shape = PackedGemm::chunk(k, cols, shift, 1, k, cols, 0)?;
        let op = CommittedGemm::new(shape, &w, &vec![0; cols])?;
        measure_chunk("packed weights ", op, vec![x.clone()])?;
    }
    if which == "both" || which == "witness" {
        // the weight block column-major (W^T rows), so a chunk's columns are one contiguous run
        let block: Vec<i32> = (0..cols)
            .flat_map(|c| (0..k).map(move |t| (c, t)))
            .map(|(c, t)| w[t * cols + c] as i32)
            .collect();
        let m = MatMul {
            x_lens: vec![k, k * cols],
            shift,
            terms: (0..cols)
                .map(|c| (0..k).map(|t| (t, k + c * k + t)).collect())
                .collect(),
        };
        measure_chunk("witness weights", m, vec![x, block])?;
    }
    Ok(())
}
