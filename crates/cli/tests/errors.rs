//! The CLI's error paths, run as a user runs them: the built `zkopml` binary as a process
//! against a real devnet (anvil). Each error names the problem and exits non-zero.

mod common;

use common::{fails_with, ok, repo, zkopml, Devnet};

#[test]
fn errors_name_the_problem_and_exit_non_zero() {
    let home = std::env::temp_dir().join(format!("zkopml-cli-errors-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&home);
    let xgb = repo().join("testdata/models/xgboost/network.onnx");
    let xgb_input = repo().join("testdata/models/xgboost/input.json");
    let lenet_input = repo().join("testdata/models/lenet_5/input.json");

    // No deployment yet; then nothing listening on port 9.
    let out = zkopml(&home, &["status"]);
    fails_with(&out, "no deployment at");
    let out = zkopml(&home, &["deploy", "--rpc", "http://127.0.0.1:9"]);
    fails_with(&out, "no RPC at http://127.0.0.1:9");

    // A devnet on a port of its own, the contracts, and XGBoost registered (local setup).
    let port = 18_545 + (std::process::id() % 1000) as u16;
    ok(
        &zkopml(&home, &["devnet", "up", "--port", &port.to_string()]),
        "devnet up",
    );
    let _devnet = Devnet(home.clone());
    ok(&zkopml(&home, &["deploy"]), "deploy");
    let reg = zkopml(
        &home,
        &["register", xgb.to_str().unwrap(), "--insecure-seed", "7"],
    );
    ok(&reg, "register");

    // A model id the registry does not hold.
    let out = zkopml(&home, &["request", "5", xgb_input.to_str().unwrap()]);
    fails_with(&out, "model id 5 is unknown");

    // A request by CID while the IPFS node it should also go to is down: nothing is requested.
    let out = zkopml(
        &home,
        &[
            "--ipfs",
            "http://127.0.0.1:9",
            "request",
            "0",
            xgb_input.to_str().unwrap(),
            "--by-cid",
        ],
    );
    fails_with(&out, "Kubo RPC request to http://127.0.0.1:9");

    // LeNet's 1×1×28×28 input for XGBoost's model.
    let out = zkopml(&home, &["request", "0", lenet_input.to_str().unwrap()]);
    fails_with(&out, "input");
    let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(
        err.contains("shape") || err.contains("values"),
        "names the shape: {err}"
    );

    // An account without ether: the fee, and a submitter's bond.
    let empty = "0x0000000000000000000000000000000000000000000000000000000000000001";
    let out = zkopml(
        &home,
        &["request", "0", xgb_input.to_str().unwrap(), "--key", empty],
    );
    fails_with(&out, "insufficient funds for the fee");
    ok(
        &zkopml(&home, &["request", "0", xgb_input.to_str().unwrap()]),
        "request",
    );
    let out = zkopml(&home, &["submit", "0", "--once", "--key", empty]);
    fails_with(&out, "insufficient funds for the submitter bond");

    // Bad files are named, not panicked on.
    let out = zkopml(
        &home,
        &[
            "run",
            "/nonexistent/model.onnx",
            xgb_input.to_str().unwrap(),
        ],
    );
    fails_with(&out, "/nonexistent/model.onnx");
    drop(_devnet);
    let _ = std::fs::remove_dir_all(&home);
}
