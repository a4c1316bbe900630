//! Helpers of the ceremony tests: snarkjs (pinned in scripts/ceremony, installed by
//! `scripts/ceremony/setup.sh`) and a prepared `.ptau` made by it, cached in the target dir.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn snarkjs_cli() -> PathBuf {
    let cli = root().join("scripts/ceremony/node_modules/snarkjs/build/cli.cjs");
    assert!(
        cli.exists(),
        "snarkjs is not installed: run `bash scripts/ceremony/setup.sh` ({} is missing)",
        cli.display()
    );
    cli
}

/// Runs `snarkjs args…` in `dir`.
pub fn snarkjs(dir: &Path, args: &[&str]) -> Output {
    Command::new("node")
        .arg(snarkjs_cli())
        .args(args)
        .current_dir(dir)
        .output()
        .expect("node runs")
}

/// Runs snarkjs and asserts it succeeded; returns stdout.
pub fn snarkjs_ok(dir: &Path, args: &[&str]) -> String {
    let out = snarkjs(dir, args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "snarkjs {args:?} failed:\n{text}");
    text
}

static PTAU_LOCK: Mutex<()> = Mutex::new(());

/// A prepared `.ptau` of `power` made by snarkjs (new, one contribution, prepare phase2),
/// cached under the target dir (making one of power 10 takes about half a minute).
pub fn ptau(power: u32) -> PathBuf {
    let _guard = PTAU_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ceremony-ptau");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join(format!("pot{power}.ptau"));
    if out.exists() {
        return out;
    }
    let tag = format!("{}-{power}", std::process::id());
    let p0 = format!("tmp0-{tag}.ptau");
    let p1 = format!("tmp1-{tag}.ptau");
    let p2 = format!("tmp2-{tag}.ptau");
    snarkjs_ok(
        &dir,
        &["powersoftau", "new", "bn128", &power.to_string(), &p0],
    );
    snarkjs_ok(
        &dir,
        &[
            "powersoftau",
            "contribute",
            &p0,
            &p1,
            "--name=test",
            "-e=test entropy",
        ],
    );
    snarkjs_ok(&dir, &["powersoftau", "prepare", "phase2", &p1, &p2]);
    std::fs::rename(
        dir.join(&p1),
        dir.join(format!("pot{power}-unprepared.ptau")),
    )
    .unwrap();
    std::fs::rename(dir.join(&p2), &out).unwrap();
    let _ = std::fs::remove_file(dir.join(&p0));
    out
}

/// The same ceremony's file before `prepare phase2`.
pub fn unprepared_ptau(power: u32) -> PathBuf {
    ptau(power).with_file_name(format!("pot{power}-unprepared.ptau"))
}

/// A fresh scratch directory under the target dir.
pub fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("ceremony-tests")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
