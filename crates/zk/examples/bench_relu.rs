//! Measures the relu chunk circuit: constraints, setup, prove, verify, key size, peak memory.
//!
//! `cargo run -p zkopml-zk --release --example bench_relu -- [LEN] [PROOFS]` (default 1024, 3)

use std::time::Instant;
use zkopml_zk::{
    circuits::relu::ReluChunkCircuit,
    groth16::{circuit_info, prove, seeded_rng, setup, verify},
};

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let len: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1024);
    let proofs: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(3);
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!("relu chunk of {len} values, {threads} threads available");

    let t = Instant::now();
    let info = circuit_info(ReluChunkCircuit::relu_shape(len))?;
    println!(
        "constraints {} (instance vars {}, witness vars {}), synthesis+hash {:.2} s",
        info.num_constraints,
        info.num_instance_variables,
        info.num_witness_variables,
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let keys = setup(ReluChunkCircuit::relu_shape(len), &mut seeded_rng(1))?;
    println!(
        "setup {:.2} s, proving key {:.1} MiB",
        t.elapsed().as_secs_f64(),
        keys.to_bytes()?.len() as f64 / (1 << 20) as f64
    );

    let mut times = Vec::new();
    for i in 0..proofs {
        let input: Vec<i32> = (0..len as i64)
            .map(|k| ((k * 2_654_435_761 + i as i64) % 200_001 - 100_000) as i32)
            .collect();
        let t = Instant::now();
        let p = prove(
            &keys,
            ReluChunkCircuit::relu(input),
            &mut seeded_rng(2 + i as u64),
        )?;
        times.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        assert!(verify(keys.vk(), &p.public_inputs, &p.proof)?);
        if i == 0 {
            println!("native verify {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
        }
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "prove (synthesis, checks, witness map, MSMs, self-verify): min {:.2} s, median {:.2} s, max {:.2} s over {proofs}",
        times[0],
        times[times.len() / 2],
        times[times.len() - 1]
    );
    if let Some(m) = peak_rss_mib() {
        println!("peak RSS {m:.0} MiB");
    }
    Ok(())
}
