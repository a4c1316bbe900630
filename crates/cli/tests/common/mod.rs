//! Helpers of the CLI tests: the built `zkopml` binary as a process, and how its outcome is
//! checked.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn zkopml(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zkopml"))
        .arg("--home")
        .arg(home)
        .args(args)
        .env("RUST_LOG", "warn")
        // a key in the caller's environment would clash with the tests' --key
        .env_remove("ZKOPML_PRIVATE_KEY")
        .output()
        .expect("the zkopml binary runs")
}

/// stdout and stderr, for failure messages.
pub fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Asserts success; returns stdout.
pub fn ok(out: &Output, what: &str) -> String {
    assert!(out.status.success(), "{what} failed:\n{}", text(out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Exits non-zero (not by a panic) and says `needle` on stderr.
pub fn fails_with(out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "expected a failure naming {needle:?}"
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "exit code (a panic exits 101): {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.contains(needle),
        "stderr does not name {needle:?}:\n{err}"
    );
}

/// A devnet started by `zkopml devnet up` in `home`, stopped when dropped.
pub struct Devnet(pub PathBuf);

impl Drop for Devnet {
    fn drop(&mut self) {
        let _ = zkopml(&self.0, &["devnet", "down"]);
    }
}
