//! The ceremony path as a user runs it, every verb a `zkopml` process on a real devnet: a model
//! registered with a phase-2 ceremony from a snarkjs `.ptau`, a contribution recorded on chain,
//! the window extended by the owner, no acceptance while it is open, no contribution after it,
//! no requests until the owner accepts the verified contribution (`ceremony accept`), then a
//! submitter and a challenger (each verifying the accepted keys against the `.ptau`) serve and
//! check a request.

#[path = "../../ceremony/tests/common/mod.rs"]
mod snark;

mod common;

use std::process::Command;

use common::{fails_with, ok, repo, text, zkopml, Devnet};

/// `cast rpc` against the devnet (anvil's time travel).
fn cast_rpc(url: &str, args: &[&str]) {
    let out = Command::new(repo().join(".tools/bin/cast"))
        .args(["rpc", "--rpc-url", url])
        .args(args)
        .output()
        .expect("cast runs (scripts/install-tools.sh)");
    assert!(out.status.success(), "cast rpc {args:?}: {}", text(&out));
}

#[test]
fn register_contribute_serve_with_a_ceremony() {
    let ptau = snark::ptau(10);
    let ptau = ptau.to_str().unwrap();
    let home = std::env::temp_dir().join(format!("zkopml-cli-ceremony-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&home);
    let mlp = repo().join("testdata/models/ezkl/1l_mlp/network.onnx");
    let input = mlp.with_file_name("input.json");
    let input = input.to_str().unwrap();

    let port = 19_545 + (std::process::id() % 1000) as u16;
    ok(
        &zkopml(&home, &["devnet", "up", "--port", &port.to_string()]),
        "devnet up",
    );
    let _devnet = Devnet(home.clone());
    let url = format!("http://127.0.0.1:{port}");
    ok(&zkopml(&home, &["deploy"]), "deploy");

    let out = ok(
        &zkopml(
            &home,
            &[
                "register",
                mlp.to_str().unwrap(),
                "--ptau",
                ptau,
                "--ceremony-window",
                "600",
                "--challenge-window",
                "5",
            ],
        ),
        "register --ptau",
    );
    assert!(out.contains("registered model 0 with a ceremony"), "{out}");
    let closes_at: u64 = out
        .split("contributions open until ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("register prints when the window closes:\n{out}"));
    fails_with(&zkopml(&home, &["request", "0", input]), "ModelInactive");

    let out = ok(
        &zkopml(
            &home,
            &[
                "ceremony",
                "contribute",
                "--model-id",
                "0",
                "--ptau",
                ptau,
                "--name",
                "carol",
            ],
        ),
        "ceremony contribute --model-id",
    );
    assert!(out.contains("contributed to model 0's 2 circuits"), "{out}");
    let status = ok(&zkopml(&home, &["status"]), "status");
    assert!(status.contains("open, 1 contrib."), "{status}");

    // The owner extends the window by a minute, and cannot accept while it is open.
    let later = (closes_at + 60).to_string();
    let out = ok(
        &zkopml(
            &home,
            &[
                "ceremony",
                "extend",
                "--model-id",
                "0",
                "--closes-at",
                &later,
            ],
        ),
        "ceremony extend",
    );
    assert!(out.contains(&format!("now closes at {later}")), "{out}");
    let accept = ["ceremony", "accept", "--model-id", "0", "--ptau", ptau];
    fails_with(&zkopml(&home, &accept), "window is open until");

    cast_rpc(&url, &["evm_increaseTime", "660"]);
    cast_rpc(&url, &["evm_mine"]);
    fails_with(
        &zkopml(&home, &["ceremony", "contribute", "--model-id", "0"]),
        "ceremony closed",
    );
    let status = ok(&zkopml(&home, &["status"]), "status");
    assert!(status.contains("to accept, 1 contrib."), "{status}");
    fails_with(&zkopml(&home, &["request", "0", input]), "ModelInactive");

    // The owner verifies the contribution's keys and accepts them: requests open.
    let out = ok(&zkopml(&home, &accept), "ceremony accept");
    assert!(out.contains("accepted contribution 0 of model 0"), "{out}");
    assert!(out.contains("requests are open"), "{out}");
    fails_with(&zkopml(&home, &accept), "already accepted");
    let status = ok(&zkopml(&home, &["status"]), "status");
    assert!(status.contains("done, 1 contrib."), "{status}");

    // After the time travel the latest block is ~600 s ahead of the wall clock, and anvil mines
    // only on transactions: a block a second, as a live chain makes them, lets the actors see
    // the chain's time pass (they take the later of the latest block's time and the wall clock).
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let miner = {
        let (stop, url) = (stop.clone(), url.clone());
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                cast_rpc(&url, &["evm_mine"]);
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
        })
    };
    ok(&zkopml(&home, &["request", "0", input]), "request");
    let bin = env!("CARGO_BIN_EXE_zkopml");
    let actor = |verb: &str| {
        Command::new(bin)
            .arg("--home")
            .arg(&home)
            .args([verb, "0", "--once", "--poll-ms", "200", "--ptau", ptau])
            .env("RUST_LOG", "warn")
            .spawn()
            .expect("an actor process starts")
    };
    let mut sub = actor("submit");
    let mut ch = actor("challenge");
    let (s, c) = (sub.wait().unwrap(), ch.wait().unwrap());
    assert!(s.success() && c.success(), "submitter {s}, challenger {c}");
    let status = ok(&zkopml(&home, &["status"]), "status");
    assert!(
        status.contains("Finalized"),
        "the honest answer is final:\n{status}"
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    miner.join().unwrap();
    drop(_devnet);
    let _ = std::fs::remove_dir_all(&home);
}
