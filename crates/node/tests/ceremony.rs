//! A model set up by a phase-2 ceremony, end to end on a real anvil (docs/zk.md "Trusted
//! setup"): initial keys from a snarkjs `.ptau`, every contribution recorded on chain (one on
//! superseded keys too) without changing the model's circuit root, requests only once the
//! owner has accepted a contribution after the window, actors that verify the accepted keys
//! against the `.ptau` before they play, and a dispute settled by a proof made with them.
//! Also: the owner's acceptance skips keys that do not verify and keys that do not contain the
//! contributions they are recorded as building on; accepted keys that do not verify are
//! refused by the actors.
//!
//! The model is EZKL's 1l_mlp (a Gemm and a Relu circuit, domains within 2^10), so the
//! initial keys and their verification take seconds.

mod common;
#[path = "../../ceremony/tests/common/mod.rs"]
mod snark;

use std::path::PathBuf;
use std::time::Duration;

use common::{join, resolved};
use zkopml_chain::{Chain, Event, Outcome, Reason, Status, B256, U256};
use zkopml_node::ceremony::{
    fetch_keys, load_ceremony_model, publish_keys, CeremonyView, Contribution, Refused,
};
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
    /// The initial keys' circuit root and transcript hash.
    initial_root: B256,
    initial_transcript: B256,
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
    assert_eq!(p.prepared.artifact_cids[2], p.keys_cid);
    Env {
        _anvil: anvil,
        home,
        owner,
        model,
        ptau,
        params,
        initial_root: p.prepared.registration.circuit_root,
        initial_transcript: p.transcript_hash,
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
    /// A contribution on the keys with transcript `prev` published at `keys_cid` ("": the
    /// initial keys), whatever the registry's latest is; not recorded.
    async fn contribution_on(&self, prev: B256, keys_cid: &str, name: &str) -> Contribution {
        let store = self.home.open_store().unwrap();
        let model = self.owner.get_model(self.model).await.unwrap();
        let view = CeremonyView {
            closes_at: 1,
            contributions: 0,
            transcript_hash: prev,
            done: false,
            keys_cid: keys_cid.into(),
        };
        tokio::task::block_in_place(|| {
            zkopml_node::ceremony::contribute(
                self.model,
                &model,
                &view,
                &store,
                &self.home.dir.join(format!("contributor-{name}")),
                Some(name),
                None,
                &mut zkopml_zk::groth16::os_rng(),
            )
        })
        .unwrap()
    }
    async fn record(
        &self,
        who: usize,
        c: &Contribution,
    ) -> Result<zkopml_chain::Tx, zkopml_chain::ChainError> {
        self.client(who)
            .contribute(
                self.model,
                c.prev_transcript,
                c.transcript_hash,
                c.circuit_root,
                &c.keys_cid,
            )
            .await
    }
    async fn accept(&self, only: Option<u32>) -> anyhow::Result<(ops::Accepted, zkopml_chain::Tx)> {
        ops::accept_ceremony(&self.owner, &self.home, self.model, &self.ptau, only).await
    }
    /// The model's circuit root on chain.
    async fn root(&self) -> B256 {
        self.owner.get_model(self.model).await.unwrap().circuit_root
    }
    /// A bad contribution on `on`: the keys of an honest contribution whose first H query was
    /// not divided by its δ, so the transcript and the verifying keys (so the circuit root)
    /// are those of an honest contribution and only a full verification against the .ptau sees
    /// it. Published, not recorded.
    async fn bad_contribution_on(&self, on: &Contribution) -> Contribution {
        let store = self.home.open_store().unwrap();
        let program = ops::program_of(&self.owner, &store, self.model)
            .await
            .unwrap();
        let (manifest, mut zkeys) = fetch_keys(&store, &on.keys_cid, &program).unwrap();
        let (mut next, _) = zkopml_ceremony::mpc::contribute(
            &zkeys[0],
            Some("mallory"),
            &mut zkopml_zk::groth16::os_rng(),
        )
        .unwrap();
        next.h = zkeys[0].h.clone();
        zkeys[0] = next;
        let keys_cid = publish_keys(&store, &program, manifest.ptau_power, &zkeys).unwrap();
        let dir = self.home.dir.join("mallory");
        let set = zkopml_ceremony::model::write_circuit_set(&program, &zkeys, &dir).unwrap();
        Contribution {
            prev_transcript: on.transcript_hash,
            transcript_hash: B256::from(zkopml_ceremony::model::transcript_hash(&zkeys)),
            circuit_root: B256::from(set.root().unwrap()),
            keys_cid,
            hashes: vec![],
            seconds: 0.0,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_ceremony_model_is_played_with_its_accepted_keys() {
    let e = env("played").await;
    let err = e.request().await.unwrap_err();
    assert!(
        format!("{err:#}").contains("ModelInactive"),
        "no request while the ceremony is open: {err:#}"
    );

    // Two contributors, the second building on the first (and verifying it). Recording them
    // does not change the model's circuit root.
    let (c1, _) = e.contribute(3, "challenger").await;
    let (c2, _) = e.contribute(4, "someone else").await;
    assert_eq!(c1.prev_transcript, e.initial_transcript);
    assert_eq!(c2.prev_transcript, c1.transcript_hash);
    let (_, n, t, done) = e.owner.ceremony_info(e.model).await.unwrap();
    assert_eq!((n, t, done), (2, c2.transcript_hash, false));
    assert_eq!(e.owner.ceremony_keys(e.model).await.unwrap(), c2.keys_cid);
    assert_eq!(e.root().await, e.initial_root);
    let r1 = e.owner.get_contribution(e.model, 1).await.unwrap();
    assert_eq!(
        (
            r1.parent,
            r1.transcript_hash,
            r1.circuit_root,
            r1.keys_cid.as_str()
        ),
        (1, c2.transcript_hash, c2.circuit_root, c2.keys_cid.as_str())
    );

    // A contribution built on the superseded keys (c1's) is recorded too, with c1 as its
    // parent, and changes nothing else; the same transcript twice is kept twice (a squatter
    // cannot keep an honest contribution out); an unknown parent reverts.
    let fork = e
        .contribution_on(c1.transcript_hash, &c1.keys_cid, "late-comer")
        .await;
    e.record(5, &fork).await.unwrap();
    let r2 = e.owner.get_contribution(e.model, 2).await.unwrap();
    assert_eq!((r2.parent, r2.transcript_hash), (1, fork.transcript_hash));
    assert_eq!(e.root().await, e.initial_root);
    e.record(6, &fork).await.unwrap();
    let r3 = e.owner.get_contribution(e.model, 3).await.unwrap();
    assert_eq!((r3.parent, r3.transcript_hash), (1, fork.transcript_hash));
    let mut orphan = fork.clone();
    orphan.prev_transcript = B256::repeat_byte(7);
    orphan.transcript_hash = B256::repeat_byte(8);
    let unknown = e.record(6, &orphan).await.unwrap_err();
    assert_eq!(
        unknown.revert_name(),
        Some("UnknownTranscript"),
        "{unknown}"
    );
    assert_eq!(e.owner.ceremony_info(e.model).await.unwrap().1, 4);

    // Nothing is accepted while the window is open.
    let open = e.accept(None).await.unwrap_err();
    assert!(
        format!("{open:#}").contains("window is open until"),
        "{open:#}"
    );
    let open = e.owner.accept_contribution(e.model, 0).await.unwrap_err();
    assert_eq!(open.revert_name(), Some("CeremonyOpen"), "{open}");
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
    // The window closed, but no contribution is accepted yet: still no request.
    let err = e.request().await.unwrap_err();
    assert!(
        format!("{err:#}").contains("ModelInactive"),
        "nothing accepted yet: {err:#}"
    );
    // Only the owner accepts.
    let not_owner = ops::accept_ceremony(&e.client(3), &e.home, e.model, &e.ptau, None)
        .await
        .unwrap_err();
    assert!(format!("{not_owner:#}").contains("owner"), "{not_owner:#}");
    let not_owner = e
        .client(3)
        .accept_contribution(e.model, 0)
        .await
        .unwrap_err();
    assert_eq!(not_owner.revert_name(), Some("NotOwner"), "{not_owner}");

    // The owner accepts the newest of the longest chains (c2, the fork and its repeat all hold
    // two contributions): the fork's repeat (index 3), whose keys verify.
    let (acc, _) = e.accept(None).await.unwrap();
    assert_eq!(acc.index, 3);
    assert!(acc.skipped.is_empty(), "{:?}", acc.skipped);
    assert_eq!(acc.record, r3);
    let (_, n, t, done) = e.owner.ceremony_info(e.model).await.unwrap();
    assert_eq!((n, t, done), (4, fork.transcript_hash, true));
    assert_eq!(e.owner.ceremony_keys(e.model).await.unwrap(), fork.keys_cid);
    assert_eq!(e.owner.accepted_contribution(e.model).await.unwrap(), 4);
    assert_eq!(e.root().await, fork.circuit_root);
    let again = e.accept(None).await.unwrap_err();
    assert!(
        format!("{again:#}").contains("already accepted"),
        "{again:#}"
    );

    // A defective submitter at op 1 and a challenger: both verify the accepted keys, the game
    // ends with a proof made (and checked on chain) with them.
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
        e.params.challenger_bond + e.params.submitter_bond / U256::from(2),
        "challenger: its bond back + half the submitter's (the other half is burned)"
    );
    assert_eq!(e.owner.get_request(rid).await.unwrap().status, Status::Open);
    drop(e);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acceptance_skips_keys_that_do_not_check_out() {
    let e = env("skipped").await;
    // 0: honest, on the initial keys. 1: on 0, keys that do not verify. 2: recorded as built on
    // 0, but its keys start over from the initial keys (so its contributor alone knows their
    // δ) and do not contain 0's contribution. 1 and 2 are the longest chains.
    let (good, _) = e.contribute(3, "honest").await;
    let bad = e.bad_contribution_on(&good).await;
    e.record(5, &bad).await.unwrap();
    let mut restart = e.contribution_on(e.initial_transcript, "", "restart").await;
    restart.prev_transcript = good.transcript_hash;
    e.record(6, &restart).await.unwrap();
    assert_eq!(
        e.owner.get_contribution(e.model, 2).await.unwrap().parent,
        1
    );
    increase_time(&e.owner, WINDOW).await.unwrap();

    // Before the owner accepts: no request, and an actor's loader says why (not a refusal).
    let err = e.request().await.unwrap_err();
    assert!(format!("{err:#}").contains("ModelInactive"), "{err:#}");
    let store = e.home.open_store().unwrap();
    let view = ops::ceremony_view(&e.owner, e.model).await.unwrap();
    assert!(!view.done);
    let model = e.owner.get_model(e.model).await.unwrap();
    let early = tokio::task::block_in_place(|| {
        load_ceremony_model(
            e.model,
            model,
            &view,
            &store,
            &e.home.dir.join("c0"),
            Some(&e.ptau),
        )
    });
    let early = early.err().expect("not loaded before acceptance");
    assert!(early.downcast_ref::<Refused>().is_none(), "{early:#}");
    assert!(
        format!("{early:#}").contains("accepted a verified contribution"),
        "{early:#}"
    );

    // Asked for 1 only: it does not verify, and nothing is accepted.
    let only = e.accept(Some(1)).await.unwrap_err();
    assert!(
        format!("{only:#}").contains("contribution 1: its keys")
            && format!("{only:#}").contains("do not verify"),
        "{only:#}"
    );
    assert_eq!(e.owner.accepted_contribution(e.model).await.unwrap(), 0);

    // 2 then 1 are skipped, each with its reason; 0 is accepted.
    let (acc, _) = e.accept(None).await.unwrap();
    assert_eq!(acc.index, 0);
    let skipped: Vec<u32> = acc.skipped.iter().map(|s| s.index).collect();
    assert_eq!(skipped, vec![2, 1]);
    assert!(
        acc.skipped[0]
            .reason
            .contains("does not contain that contribution's transcript"),
        "{}",
        acc.skipped[0].reason
    );
    assert!(
        acc.skipped[1].reason.contains("do not verify")
            && acc.skipped[1].reason.contains("circuit 0"),
        "{}",
        acc.skipped[1].reason
    );
    assert_eq!(e.root().await, good.circuit_root);
    let view = ops::ceremony_view(&e.owner, e.model).await.unwrap();
    assert_eq!(
        (view.done, view.transcript_hash),
        (true, good.transcript_hash)
    );
    assert_eq!(view.keys_cid, good.keys_cid);
    // The owner's verified keys are where an actor with the home's cache looks: it loads them
    // without a .ptau.
    let model = e.owner.get_model(e.model).await.unwrap();
    let loaded = tokio::task::block_in_place(|| {
        load_ceremony_model(e.model, model, &view, &store, &e.home.cache(), None)
    });
    assert!(loaded.is_ok(), "{:#}", loaded.err().unwrap());
    e.request().await.unwrap();
    drop(e);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn accepted_keys_that_do_not_verify_are_refused() {
    let e = env("refused").await;
    // An owner that accepts keys without verifying them: the actors still refuse them.
    let (good, _) = e.contribute(3, "honest").await;
    let bad = e.bad_contribution_on(&good).await;
    e.record(5, &bad).await.unwrap();
    increase_time(&e.owner, WINDOW).await.unwrap();
    e.owner.accept_contribution(e.model, 1).await.unwrap();

    // Why, as the actors' loader says it.
    let store = e.home.open_store().unwrap();
    let model = e.owner.get_model(e.model).await.unwrap();
    assert_eq!(model.circuit_root, bad.circuit_root);
    let view = ops::ceremony_view(&e.owner, e.model).await.unwrap();
    assert!(view.done);
    assert_eq!(view.keys_cid, bad.keys_cid);
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
