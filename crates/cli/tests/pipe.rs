#![cfg(unix)]
//! The CLI's output into a pipe that is closed early (`zkopml inspect MODEL | head -3`): the
//! process ends as Unix tools do, by SIGPIPE, not with a panic.

mod common;

use common::repo;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

#[test]
fn a_closed_pipe_ends_the_output_without_a_panic() {
    let model = repo().join("testdata/models/gte_tiny/network.onnx");
    let mut child = Command::new(env!("CARGO_BIN_EXE_zkopml"))
        .arg("inspect")
        .arg(&model)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the zkopml binary runs");
    // the reader goes away before the table is printed (inspect compiles the model first)
    drop(child.stdout.take());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("piped")
        .read_to_string(&mut stderr)
        .expect("stderr");
    let status = child.wait().expect("it ends");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        status.signal(),
        Some(13),
        "ended by SIGPIPE: {status:?} {stderr}"
    );
}
