//! A model set up by a phase-2 ceremony, end to end on a real anvil (docs/zk.md "Trusted
//! setup"): initial keys from a snarkjs `.ptau`, contributions recorded on chain, requests only
//! after the window, actors that verify the final keys against the `.ptau` before they play,
//! and a dispute settled by a proof made with the final keys. Also: keys that do not verify
//! are refused, and a contribution on superseded keys reverts.
//!
//! The model is EZKL's 1l_mlp (a Gemm and a Relu circuit, domains within 2^10), so the
//! initial keys and their verification take seconds.

mod common;
#[path = "../../ceremony/tests/common/mod.rs"]
mod snark;

use std::path::PathBuf;
use std::time::Duration;

use common::{join, resolved};
use zkopml_chain::{Chain, Event, Outcome, Reason, Status, U256};
use zkopml_node::ceremony::{fetch_keys, load_ceremony_model, publish_keys, Contribution, Refused};
use zkopml_node::devnet::{increase_time, Anvil, KEYS};
use zkopml_node::ops::{self, Home};
use zkopml_node::{run_actor, ActorConfig, Defect};

const WINDOW: u64 = 600;

fn onnx() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/models/ezkl/1l_mlp/network.onnx")
}

struct Env {
    /// Kept for the test's duration: the node goes down when the Env is dropped.
    _anvil: Anvil,
    home: Home,
    owner: Chain,
    model: u64,
    ptau: PathBuf,
    params: zkopml_chain::DisputeParams,
}

fn fee() -> U256 {
    U256::from(10_000_000_000_000_000u64)
}

/// A fresh anvil with the model registered with a ceremony (window [`WINDOW`]).
async fn env(name: &str) -> Env {
    let ptau = tokio::task::block_in_place(|| snark::ptau(10));
    let anvil = Anvil::start(None).unwrap();
    let home = Home::new(std::env::temp_dir().join(format!(
        "zkopml-node-ceremony-{}-{name}",
        std::process::id()
    )));
    let _ = std::fs::remove_dir_all(&home.dir);
    let owner = ops::deploy(&anvil.url(), KEYS[0], &home).await.unwrap();
    let mut params = ops::default_params();
    params.challenge_window = 60;
    params.clock_budget = 120;
    let (model, p, _) = ops::register_with_ceremony(
        &owner,
        &home,
        &onnx(),
        &ptau,
        &home.dir.join("registrar"),
        WINDOW,
        params.clone(),
        &mut |_, _, _| {},
    )
    .await
    .unwrap();
    let (closes_at, n, t, done) = owner.ceremony_info(model).await.unwrap();
    assert!(closes_at > 0 && n == 0 && !done);
    assert_eq!(
        t, p.transcript_hash,
        "the registry records the initial keys' transcript"
    );
    assert_eq!(p.prepared.registration.artifact_cids[2], p.keys_cid);
    Env {
        _anvil: anvil,
        home,
        owner,
        model,
        ptau,
        params,
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.home.dir);
    }
}

impl Env {
    fn client(&self, k: usize) -> Chain {
        self.owner.with_private_key(KEYS[k]).unwrap()
    }
    fn actor(&self, role: &str, serve: bool, defect: Option<Defect>, ptau: bool) -> ActorConfig {
        let mut c = ActorConfig::new(
            role,
            self.home.actor(role),
            self.home.store(),
            self.home.dir.join(format!("cache-{role}")),
        );
        if serve {
            c.serve = vec![self.model];
        } else {
            c.watch = vec![self.model];
        }
        c.defect = defect;
        c.once = true;
        c.poll = Duration::from_millis(150);
        c.ptau = ptau.then(|| self.ptau.clone());
        c
    }
    async fn request(&self) -> anyhow::Result<u64> {
        Ok(ops::request(
            &self.client(1),
            &self.home,
            self.model,
            &onnx().with_file_name("input.json"),
            fee(),
            3600,
            ops::InputMode::Auto,
        )
        .await?
        .0
        .value)
    }
    async fn contribute(&self, who: usize, name: &str) -> (Contribution, zkopml_chain::Tx) {
        ops::contribute(
            &self.client(who),
            &self.home,
            self.model,
            &self.home.dir.join(format!("contributor-{name}")),
            Some(name),
            Some(&self.ptau),
        )
        .await
        .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_ceremony_model_is_played_with_its_final_keys() {
    let e = env("played").await;
    let err = e.request().await.unwrap_err();
    assert!(
        format!("{err:#}").contains("ModelInactive"),
        "no request while the ceremony is open: {err:#}"
    );

    // Two contributors, the second building on the first (and verifying it).
    let (c1, _) = e.contribute(3, "challenger").await;
    let (c2, _) = e.contribute(4, "someone else").await;
    assert_eq!(c2.prev_transcript, c1.transcript_hash);
    let (_, n, t, done) = e.owner.ceremony_info(e.model).await.unwrap();
    assert_eq!((n, t, done), (2, c2.transcript_hash, false));
    assert_eq!(e.owner.ceremony_keys(e.model).await.unwrap(), c2.keys_cid);
    assert_eq!(
        e.owner.get_model(e.model).await.unwrap().circuit_root,
        c2.circuit_root
    );
    // A contribution built on the superseded keys reverts.
    let stale = e
        .client(5)
        .contribute(
            e.model,
            c1.transcript_hash,
            c1.transcript_hash,
            c1.circuit_root,
            &c1.keys_cid,
        )
        .await
        .unwrap_err();
    assert_eq!(stale.revert_name(), Some("StaleTranscript"), "{stale}");
    let err = e.request().await.unwrap_err();
    assert!(
        format!("{err:#}").contains("ModelInactive"),
        "the window is still open: {err:#}"
    );

    increase_time(&e.owner, WINDOW).await.unwrap();
    let late = ops::contribute(
        &e.client(5),
        &e.home,
        e.model,
        &e.home.dir.join("late"),
        None,
        None,
    )
    .await
    .unwrap_err();
    assert!(format!("{late:#}").contains("closed"), "{late:#}");

    // A defective submitter at op 1 and a challenger: both verify the final keys, the game ends
    // with a proof made (and checked on chain) with them.
    let sub = tokio::spawn(run_actor(
        e.client(2),
        e.actor("submitter", true, Some(Defect { op: 1, chunk: 0 }), true),
    ));
    let ch = tokio::spawn(run_actor(
        e.client(3),
        e.actor("challenger", false, None, true),
    ));
    let rid = e.request().await.unwrap();
    let ch = join(ch, "challenger").await;
    let sub = join(sub, "submitter").await;
    assert!(ch.refused.is_empty() && sub.refused.is_empty());
    let evs: Vec<Event> = e
        .owner
        .events()
        .poll()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.event)
        .collect();
    assert_eq!(
        resolved(&evs),
        vec![(Outcome::ChallengerWon, Reason::OtherDigestProved)]
    );
    assert!(evs
        .iter()
        .any(|ev| matches!(ev, Event::StepProven(p) if p.op == 1)));
    assert_eq!(
        ch.withdrawn,
        e.params.challenger_bond + e.params.submitter_bond
    );
    assert_eq!(e.owner.get_request(rid).await.unwrap().status, Status::Open);
    drop(e);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn keys_that_do_not_verify_are_refused() {
    let e = env("refused").await;
    // A contributor publishes keys whose H query was not divided by its δ: the transcript and
    // the verifying keys (so the circuit root) are those of an honest contribution, only the
    // proving key is wrong, and only a full verification against the .ptau sees it.
    let (good, _) = e.contribute(3, "honest").await;
    let store = e.home.open_store().unwrap();
    let program = ops::program_of(&e.owner, &store, e.model).await.unwrap();
    let (manifest, mut zkeys) = fetch_keys(&store, &good.keys_cid, &program).unwrap();
    let (mut next, _) = zkopml_ceremony::mpc::contribute(
        &zkeys[0],
        Some("mallory"),
        &mut zkopml_zk::groth16::os_rng(),
    )
    .unwrap();
    next.h = zkeys[0].h.clone();
    zkeys[0] = next;
    let bad_cid = publish_keys(&store, &program, manifest.ptau_power, &zkeys).unwrap();
    let transcript = zkopml_chain::B256::from(zkopml_ceremony::model::transcript_hash(&zkeys));
    let dir = e.home.dir.join("mallory");
    let set = zkopml_ceremony::model::write_circuit_set(&program, &zkeys, &dir).unwrap();
    let root = zkopml_chain::B256::from(set.root().unwrap());
    e.client(5)
        .contribute(e.model, good.transcript_hash, transcript, root, &bad_cid)
        .await
        .unwrap();
    increase_time(&e.owner, WINDOW).await.unwrap();

    // Why, as the actors' loader says it.
    let model = e.owner.get_model(e.model).await.unwrap();
    let view = ops::ceremony_view(&e.owner, e.model).await.unwrap();
    assert!(view.done);
    let cache = e.home.dir.join("cache-probe");
    let why = |r: anyhow::Result<zkopml_node::LoadedModel>| match r {
        Ok(_) => panic!("the keys were accepted"),
        Err(err) => err.downcast::<Refused>().expect("a refusal").reason,
    };
    let no_ptau = tokio::task::block_in_place(|| {
        load_ceremony_model(e.model, model.clone(), &view, &store, &cache, None)
    });
    assert!(why(no_ptau).contains("--ptau"));
    let bad = tokio::task::block_in_place(|| {
        load_ceremony_model(e.model, model, &view, &store, &cache, Some(&e.ptau))
    });
    let reason = why(bad);
    assert!(
        reason.contains("do not verify") && reason.contains("circuit 0"),
        "{reason}"
    );

    // A submitter refuses the model: no bond, the request stays open and is dropped.
    let sub = tokio::spawn(run_actor(
        e.client(2),
        e.actor("submitter", true, None, true),
    ));
    let rid = e.request().await.unwrap();
    let state = e.home.actor("submitter").join("state.json");
    let mut dropped = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        if let Ok(bytes) = std::fs::read(&state) {
            let st: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            if st["requests"][rid.to_string()]["done"] == true {
                assert!(st["requests"][rid.to_string()]["submitted_nonce"].is_null());
                dropped = true;
                break;
            }
        }
    }
    assert!(
        dropped,
        "the submitter drops the request of a refused model"
    );
    assert!(!sub.is_finished(), "the submitter keeps running");
    sub.abort();
    assert_eq!(
        e.owner.get_request(rid).await.unwrap().status,
        Status::Open,
        "no result was posted"
    );
    drop(e);
}
