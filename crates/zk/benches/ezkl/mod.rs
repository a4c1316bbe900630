//! The EZKL baseline of the benchmarks: `scripts/bench/ezkl_bench.py` (whole-model settings,
//! calibration, compile, SRS made locally with gen_srs, setup, witness, prove, verify) run from
//! the project's `.venv` (`scripts/bench/setup.sh` installs the pinned EZKL there). Shared by
//! `crates/zk/benches/circuits.rs` and `crates/node/benches/seed_table` (by path).

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

/// EZKL on the whole model `testdata/models/<name>`: the script's JSON report, or why not.
/// Per-step limits: `EZKL_TIMEOUT_S` (default 900) and `EZKL_MEM_GIB` (default 20).
pub fn run(root: &Path, name: &str) -> Value {
    let py = root.join(".venv/bin/python");
    if !py.exists() {
        return json!({"error": "no .venv (run scripts/bench/setup.sh)"});
    }
    eprintln!("  EZKL on the whole model (scripts/bench/ezkl_bench.py) ...");
    let mut cmd = Command::new(py);
    cmd.arg(root.join("scripts/bench/ezkl_bench.py"))
        .arg(root.join("testdata/models").join(name));
    if let Ok(t) = std::env::var("EZKL_TIMEOUT_S") {
        cmd.arg("--timeout").arg(t);
    }
    if let Ok(m) = std::env::var("EZKL_MEM_GIB") {
        cmd.arg("--mem-gib").arg(m);
    }
    match cmd.output() {
        Ok(o) => String::from_utf8_lossy(&o.stdout)
            .lines()
            .rev()
            .find_map(|l| serde_json::from_str::<Value>(l).ok())
            .unwrap_or_else(|| json!({"error": format!("no result ({})", o.status)})),
        Err(e) => json!({"error": e.to_string()}),
    }
}

/// One step of a report as text: seconds and peak memory, or why there is none.
pub fn step_text(e: &Value, step: &str) -> String {
    let s = &e["steps"][step];
    if let Some(f) = s["failed"].as_str() {
        format!("failed: {f}")
    } else if let Some(f) = s["skipped"].as_str() {
        format!("skipped ({f})")
    } else if s["cached"].is_string() {
        "reused (generated locally by an earlier run)".into()
    } else if let Some(t) = s["seconds"].as_f64() {
        format!(
            "{t:.1} s, {:.0} MiB",
            s["peak_rss_mib"].as_f64().unwrap_or(0.0)
        )
    } else if let Some(err) = e["error"].as_str() {
        format!("not run: {err}")
    } else {
        "n/a".into()
    }
}

/// The seconds of a step that ran and did not fail.
pub fn secs(e: &Value, step: &str) -> Option<f64> {
    let s = &e["steps"][step];
    if s.get("failed").is_some() {
        return None;
    }
    s["seconds"].as_f64()
}
