//! The time of one phase-2 contribution to every circuit of a model, on keys of the model's
//! real sizes (docs/benchmarks.md, "Ceremony").
//!
//! `cargo bench -p zkopml-ceremony --bench contribution -- <keys dir>…` where a keys dir is what
//! `zkopml setup` writes (`circuits.json`, `keys/c<k>.pk`). For each circuit it builds the
//! phase-2 key of the same shape (the same L and H queries, which are what a contribution
//! rescales; no coefficient section) and times what a contributor's machine does per circuit:
//! parse the `.zkey` bytes, contribute (δ·x, L/x, H/x, the proof of knowledge), serialise the
//! new key. Deriving such keys from a `.ptau` (`ceremony init`) is not part of a contribution,
//! and for MobileNetV2 it needs a power-20 `.ptau` this machine cannot prepare in useful time,
//! which is why the keys of a local setup give the shapes here.

use std::path::{Path, PathBuf};
use std::time::Instant;

use ark_ec::AffineRepr;
use zkopml_ceremony::mpc;
use zkopml_ceremony::zkey::{MpcParams, Zkey};
use zkopml_zk::groth16::{os_rng, Keys};

fn phase2_shaped(keys: &Keys) -> Zkey {
    let pk = &keys.pk;
    // a snarkjs key's H holds one point per domain element, arkworks' one fewer
    let mut h = pk.h_query.clone();
    h.resize(
        pk.h_query.len().next_power_of_two(),
        ark_bn254::G1Affine::generator(),
    );
    Zkey {
        n_vars: keys.info.num_instance_variables + keys.info.num_witness_variables,
        n_public: keys.info.num_instance_variables - 1,
        domain_size: (keys.info.num_constraints + keys.info.num_instance_variables)
            .next_power_of_two(),
        alpha1: pk.vk.alpha_g1,
        beta1: pk.beta_g1,
        beta2: pk.vk.beta_g2,
        gamma2: ark_bn254::G2Affine::generator(),
        delta1: pk.delta_g1,
        delta2: pk.vk.delta_g2,
        ic: pk.vk.gamma_abc_g1.clone(),
        coefs: 0u32.to_le_bytes().to_vec(),
        a: pk.a_query.clone(),
        b1: pk.b_g1_query.clone(),
        b2: pk.b_g2_query.clone(),
        l: pk.l_query.clone(),
        h,
        mpc: MpcParams {
            cs_hash: zkopml_ceremony::zkey::blake2b(b"benchmark key"),
            contributions: vec![],
        },
    }
}

/// CPU seconds (user + system, all threads) this process has used: unlike wall time, not
/// inflated when other work shares the cores.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // the fields after the command name (which is in parentheses and may hold spaces)
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0 // utime, stime in USER_HZ (100 on Linux)
}

#[derive(Default)]
struct Totals {
    circuits: usize,
    points: usize,
    bytes: usize,
    parse: f64,
    contribute: f64,
    write: f64,
    /// CPU seconds of the contributions (all threads).
    contribute_cpu: f64,
    largest: (usize, f64),
}

fn bench_dir(dir: &Path) -> Totals {
    let mut t = Totals::default();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("keys"))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join("keys").display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pk"))
        .collect();
    files.sort();
    let rng = &mut os_rng();
    for f in &files {
        let keys = Keys::from_bytes(&std::fs::read(f).unwrap()).unwrap();
        let bytes = phase2_shaped(&keys).to_bytes();
        drop(keys);
        let s = Instant::now();
        let z = Zkey::from_bytes(&bytes).unwrap();
        let parse = s.elapsed().as_secs_f64();
        let (s, cpu) = (Instant::now(), cpu_seconds());
        let (next, _) = mpc::contribute(&z, Some("bench"), rng).unwrap();
        let contribute = s.elapsed().as_secs_f64();
        t.contribute_cpu += cpu_seconds() - cpu;
        let s = Instant::now();
        let out = next.to_bytes();
        let write = s.elapsed().as_secs_f64();
        let points = z.l.len() + z.h.len();
        t.circuits += 1;
        t.points += points;
        t.bytes += out.len();
        t.parse += parse;
        t.contribute += contribute;
        t.write += write;
        eprintln!(
            "{}: {points} points, contribute {contribute:.1} s (cpu {:.1} s so far)",
            f.display(),
            t.contribute_cpu
        );
        if points > t.largest.0 {
            t.largest = (points, parse + contribute + write);
        }
    }
    t
}

fn main() {
    let dirs: Vec<PathBuf> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .collect();
    if dirs.is_empty() {
        eprintln!("usage: cargo bench -p zkopml-ceremony --bench contribution -- <keys dir>… (what `zkopml setup` writes)");
        return;
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "phase-2 contribution, every circuit of a model: {} threads, load average {}",
        rayon::current_num_threads(),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "{:<40} {:>8} {:>12} {:>10} {:>9} {:>12} {:>12} {:>9} {:>9}  largest circuit",
        "keys",
        "circuits",
        "L+H points",
        "zkeys MB",
        "parse s",
        "contribute s",
        "contrib. cpu",
        "write s",
        "total s"
    );
    for d in dirs {
        let t = bench_dir(&d);
        println!(
            "{:<40} {:>8} {:>12} {:>10.0} {:>9.1} {:>12.1} {:>12.1} {:>9.1} {:>9.1}  {} points, {:.1} s",
            d.display().to_string(),
            t.circuits,
            t.points,
            t.bytes as f64 / 1e6,
            t.parse,
            t.contribute,
            t.contribute_cpu,
            t.write,
            t.parse + t.contribute + t.write,
            t.largest.0,
            t.largest.1
        );
    }
}
