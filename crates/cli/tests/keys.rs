//! Where the account's key comes from, with the built `zkopml` binary as a process: an
//! encrypted JSON keystore (with a password file), `ZKOPML_PRIVATE_KEY`, `--key`; and the
//! errors (wrong password, unreadable or malformed keystore, two sources). No chain needed:
//! `zkopml account` prints the address the chain verbs act as.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{fails_with, ok};

/// anvil's public devnet account #6 (not a secret), and its address.
const KEY6: &str = "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e";
const ADDR6: &str = "0x976EA74026E726554dB657fA54763abd0C3a0aa9";
const PASSWORD: &str = "correct horse";

/// KEY6 in a keystore written by Foundry 1.7.1:
/// `cast wallet import dev6 -k <dir> --unsafe-password 'correct horse' --private-key <KEY6>`
/// (scrypt, n = 8192, aes-128-ctr).
const CAST_KEYSTORE: &str = r#"{"crypto":{"cipher":"aes-128-ctr","cipherparams":{"iv":"bf5f30f34bceba1019377b7e3160f3ed"},"ciphertext":"2acc2aae1ee39647115bd250dbc1a73ca6b15a55ba65f669d4fcd182ad755d76","kdf":"scrypt","kdfparams":{"dklen":32,"n":8192,"p":1,"r":8,"salt":"52ea0e649c5476604b835d7e8ff575a4f39c3948a8c4479d25e4d908fa053270"},"mac":"0a8eec6c85bd4d06803eb67f64f7bd215a56679061820068a3e9f368ad56db2a"},"id":"2e34e9a3-07c4-492d-abf9-5715d2a22a7f","version":3}"#;

/// `zkopml <args>` with `ZKOPML_PRIVATE_KEY` set to `env_key` (or unset).
fn run(home: &Path, args: &[&str], env_key: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_zkopml"));
    cmd.arg("--home")
        .arg(home)
        .args(args)
        .env("RUST_LOG", "warn")
        .env_remove("ZKOPML_PRIVATE_KEY");
    if let Some(k) = env_key {
        cmd.env("ZKOPML_PRIVATE_KEY", k);
    }
    cmd.output().expect("the zkopml binary runs")
}

#[test]
fn the_key_comes_from_a_keystore_the_environment_or_key() {
    let dir = std::env::temp_dir().join(format!("zkopml-cli-keys-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let home = dir.join("home");
    let ks = dir.join("dev6.json");
    std::fs::write(&ks, CAST_KEYSTORE).unwrap();
    let pw = dir.join("password");
    std::fs::write(&pw, format!("{PASSWORD}\n")).unwrap();
    let wrong = dir.join("wrong");
    std::fs::write(&wrong, "battery staple\n").unwrap();
    let (ks_s, pw_s, wrong_s) = (
        ks.to_str().unwrap(),
        pw.to_str().unwrap(),
        wrong.to_str().unwrap(),
    );

    // The keystore with its password file: the same account as the key.
    let out = ok(
        &run(
            &home,
            &["account", "--keystore", ks_s, "--password-file", pw_s],
            None,
        ),
        "account --keystore",
    );
    assert!(out.contains(ADDR6) && out.contains("keystore"), "{out}");
    // The environment variable, and --key.
    let out = ok(
        &run(&home, &["account"], Some(KEY6)),
        "account with ZKOPML_PRIVATE_KEY",
    );
    assert!(
        out.contains(ADDR6) && out.contains("ZKOPML_PRIVATE_KEY"),
        "{out}"
    );
    let out = ok(
        &run(&home, &["account", "--key", KEY6], None),
        "account --key",
    );
    assert!(out.contains(ADDR6) && out.contains("devnet only"), "{out}");
    // None: the verbs' devnet accounts.
    let out = ok(&run(&home, &["account"], None), "account");
    assert!(
        out.contains("no key given") && out.contains("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"),
        "{out}"
    );
    // An empty variable counts as unset.
    let out = ok(
        &run(&home, &["account"], Some("")),
        "account with an empty ZKOPML_PRIVATE_KEY",
    );
    assert!(out.contains("no key given"), "{out}");

    // A wrong password.
    let out = run(
        &home,
        &["account", "--keystore", ks_s, "--password-file", wrong_s],
        None,
    );
    fails_with(&out, "wrong password for the keystore");
    // No terminal to ask on and no password file (stdin is not a terminal here; nor, in CI, is
    // there a controlling terminal). Where the test runs in a terminal, the prompt would wait:
    // only check when there is none.
    if std::fs::File::open("/dev/tty").is_err() {
        let out = run(&home, &["account", "--keystore", ks_s], None);
        fails_with(&out, "--password-file");
    }
    // Unreadable files.
    let missing = dir.join("missing.json");
    let out = run(
        &home,
        &[
            "account",
            "--keystore",
            missing.to_str().unwrap(),
            "--password-file",
            pw_s,
        ],
        None,
    );
    fails_with(&out, "cannot read the keystore");
    let out = run(
        &home,
        &[
            "account",
            "--keystore",
            ks_s,
            "--password-file",
            missing.to_str().unwrap(),
        ],
        None,
    );
    fails_with(&out, "cannot read the password file");
    // Malformed keystores: not JSON, not a keystore, a short derived key (which the keystore
    // library would index out of bounds on), a ciphertext that is no private key.
    let bad = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        run(
            &home,
            &[
                "account",
                "--keystore",
                p.to_str().unwrap(),
                "--password-file",
                pw_s,
            ],
            None,
        )
    };
    fails_with(
        &bad("a.json", "not json"),
        "is not an encrypted JSON keystore",
    );
    fails_with(
        &bad("b.json", r#"{"version":3}"#),
        "is not an encrypted JSON keystore",
    );
    fails_with(
        &bad(
            "c.json",
            &CAST_KEYSTORE.replace(r#""dklen":32"#, r#""dklen":16"#),
        ),
        "dklen is 16",
    );
    fails_with(
        &bad(
            "d.json",
            &CAST_KEYSTORE.replace(r#""n":8192"#, r#""n":8000"#),
        ),
        "not a power of two",
    );
    fails_with(
        &bad(
            "e.json",
            &CAST_KEYSTORE.replace(r#""id":"2e34e9a3"#, r#""id":"zz""#),
        ),
        "is not an encrypted JSON keystore",
    );

    // Two sources at once.
    let out = run(
        &home,
        &["account", "--keystore", ks_s, "--password-file", pw_s],
        Some(KEY6),
    );
    fails_with(
        &out,
        "the key is given twice (--keystore and ZKOPML_PRIVATE_KEY)",
    );
    let out = run(&home, &["account", "--key", KEY6], Some(KEY6));
    fails_with(
        &out,
        "the key is given twice (ZKOPML_PRIVATE_KEY and --key)",
    );
    let out = run(
        &home,
        &[
            "account",
            "--keystore",
            ks_s,
            "--key",
            KEY6,
            "--password-file",
            pw_s,
        ],
        None,
    );
    fails_with(&out, "the key is given twice (--keystore and --key)");
    // A password file without a keystore; a key that is not one (never echoed).
    let out = run(&home, &["account", "--password-file", pw_s], None);
    fails_with(&out, "no --keystore is given");
    let out = run(&home, &["account"], Some("0xnot-a-key-secret"));
    fails_with(&out, "ZKOPML_PRIVATE_KEY is not a private key");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("not-a-key-secret"));

    // A chain verb takes the key the same way (here it fails before any RPC: no deployment).
    let out = run(
        &home,
        &["status", "--keystore", ks_s, "--password-file", wrong_s],
        None,
    );
    fails_with(&out, "wrong password for the keystore");

    // --help says --key is for the devnet.
    let help = ok(&run(&home, &["--help"], None), "--help");
    assert!(
        help.contains("DEVNET ONLY")
            && help.contains("--keystore")
            && help.contains("ZKOPML_PRIVATE_KEY"),
        "{help}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
