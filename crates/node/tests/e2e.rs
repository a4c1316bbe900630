//! End to end on a real anvil (one per test, on a free port): registrar, requester, submitter
//! and challenger actors, real Groth16 proofs checked on chain. One insecure-seed setup per
//! model is shared by all tests of this binary.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use zkopml_chain::{Chain, Event, Outcome, Phase, Reason, Status, U256};
mod common;

use common::{join, resolved};
use zkopml_node::devnet::{increase_time, Anvil, KEYS};
use zkopml_node::ops::{self, Home};
use zkopml_node::{run_actor, ActorConfig, ActorSummary, Defect};

const SEED: u64 = 42;

/// A model name with this suffix is set up and registered with committed Gemm weights
/// (issue 22, docs/commitments.md "Weights root").
const COMMITTED: &str = "+committed";

fn weights_of(model: &str) -> zkopml_zk::table::WeightsMode {
    if model.ends_with(COMMITTED) {
        zkopml_zk::table::WeightsMode::Committed
    } else {
        zkopml_zk::table::WeightsMode::Baked
    }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// This run's test homes, under the target dir (each removed when its test ends).
fn tmp_root() -> PathBuf {
    let p =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("node-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&p).unwrap();
    p
}

/// The models' keys, kept across runs (a run with the same program and seed reuses them
/// instead of setting up again, and runs do not pile up copies).
fn keys_root() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("node-e2e-keys")
}

type KeyDirs = std::sync::Mutex<std::collections::HashMap<String, PathBuf>>;

fn key_dirs() -> &'static KeyDirs {
    static DIRS: OnceLock<KeyDirs> = OnceLock::new();
    DIRS.get_or_init(Default::default)
}

/// The setup store of `model`'s keys (one per model, so that `dispose_keys` can remove it).
fn setup_store(model: &str) -> PathBuf {
    keys_root().join("setup-store").join(model)
}

/// The keys of `model` (setup once per test binary; later tests reuse the directory).
fn shared_keys(model: &str) -> PathBuf {
    let mut keys = key_dirs().lock().unwrap();
    keys.entry(model.to_string())
        .or_insert_with(|| {
            let dir = keys_root().join(model);
            let store = zkopml_store::LocalStore::open(setup_store(model)).unwrap();
            let t = std::time::Instant::now();
            zkopml_node::prepare_registration_in(
                &onnx(model),
                &dir,
                &store,
                Some(SEED),
                ops::default_params(),
                weights_of(model),
                &mut |_, _, _| {},
            )
            .unwrap();
            eprintln!("setup of {model}: {:.1} s", t.elapsed().as_secs_f64());
            dir
        })
        .clone()
}

/// Removes `model`'s keys and their setup store when dropped: a transformer's keys are several
/// GB (twice, with the store's copy), more than a CI machine's disk should keep for the rest of
/// the run. The model's last test holds it.
struct DisposeKeys(&'static str);

impl Drop for DisposeKeys {
    fn drop(&mut self) {
        key_dirs()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(self.0);
        let _ = std::fs::remove_dir_all(keys_root().join(self.0));
        let _ = std::fs::remove_dir_all(setup_store(self.0));
    }
}

fn onnx(model: &str) -> PathBuf {
    repo()
        .join("testdata/models")
        .join(model.trim_end_matches(COMMITTED))
        .join("network.onnx")
}

struct Env {
    /// Kept for the test's duration: the node goes down when the Env is dropped.
    _anvil: Anvil,
    home: Home,
    owner: Chain,
    model: u64,
    params: zkopml_chain::DisputeParams,
    name: String,
    keys: PathBuf,
}

impl Drop for Env {
    fn drop(&mut self) {
        // each home's store holds a copy of every proving key: gigabytes over a run
        let _ = std::fs::remove_dir_all(&self.home.dir);
    }
}

fn bond() -> U256 {
    U256::from(100_000_000_000_000_000u128)
}
fn fee() -> U256 {
    U256::from(10_000_000_000_000_000u64)
}

async fn env(name: &str, model: &str, window: u64) -> Env {
    let keys = tokio::task::block_in_place(|| shared_keys(model));
    let anvil = Anvil::start(None).unwrap();
    let home = Home::new(tmp_root().join(name));
    let _ = std::fs::remove_dir_all(&home.dir);
    let owner = ops::deploy(&anvil.url(), KEYS[0], &home).await.unwrap();
    let mut params = ops::default_params();
    params.challenge_window = window;
    params.clock_budget = 120;
    let (id, p, _) = ops::register_in(
        &owner,
        &home,
        &onnx(model),
        &keys,
        Some(SEED),
        params.clone(),
        weights_of(model),
        &mut |_, _, _| {},
    )
    .await
    .unwrap();
    assert!(p.setup_cached, "the shared setup is reused");
    let registered = owner.get_model(id).await.unwrap().weights_root;
    match weights_of(model) {
        zkopml_zk::table::WeightsMode::Baked => assert_eq!(registered, zkopml_chain::B256::ZERO),
        zkopml_zk::table::WeightsMode::Committed => {
            assert_eq!(
                registered,
                p.set.weights_root.parse::<zkopml_chain::B256>().unwrap()
            )
        }
    }
    Env {
        _anvil: anvil,
        home,
        owner,
        model: id,
        params,
        name: name.to_string(),
        keys,
    }
}

impl Env {
    fn actor(&self, role: &str, serve: bool, defect: Option<Defect>) -> ActorConfig {
        let name = format!("{}-{role}", self.name);
        let mut c = ActorConfig::new(
            &name,
            self.home.actor(role),
            self.home.store(),
            self.home.cache(),
        );
        if serve {
            c.serve = vec![self.model];
        } else {
            c.watch = vec![self.model];
        }
        c.defect = defect;
        c.once = true;
        c.poll = Duration::from_millis(150);
        c
    }
    /// Each proving key is on disk once, however many hold it: the keys dir, this test's store
    /// and the actors' cache are links of one file (a transformer's keys are gigabytes).
    fn assert_keys_are_links(&self) {
        use std::os::unix::fs::MetadataExt;
        for f in std::fs::read_dir(self.keys.join("keys")).unwrap() {
            let f = f.unwrap().path();
            let links = std::fs::metadata(&f).unwrap().nlink();
            assert!(links >= 3, "{} has {links} links", f.display());
        }
    }
    fn client(&self, k: usize) -> Chain {
        self.owner.with_private_key(KEYS[k]).unwrap()
    }
    /// A request for the model's sample input: (request id, the CID of a stored input).
    async fn request_with(
        &self,
        model: &str,
        mode: ops::InputMode,
    ) -> (u64, Option<zkopml_store::Cid>) {
        let input = onnx(model).with_file_name("input.json");
        let (tx, cid) = ops::request(
            &self.client(1),
            &self.home,
            self.model,
            &input,
            fee(),
            3600,
            mode,
        )
        .await
        .unwrap();
        (tx.value, cid)
    }
    async fn request_by_cid(&self, model: &str) -> (u64, zkopml_store::Cid) {
        let (rid, cid) = self.request_with(model, ops::InputMode::ByCid).await;
        (rid, cid.expect("a request by CID names its CID"))
    }
    async fn request(&self, model: &str) -> u64 {
        self.request_with(model, ops::InputMode::Auto).await.0
    }
    async fn game_events(&self) -> Vec<Event> {
        let mut s = self.owner.events();
        s.poll()
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.event)
            .collect()
    }
}

fn spawn(chain: Chain, cfg: ActorConfig) -> tokio::task::JoinHandle<anyhow::Result<ActorSummary>> {
    tokio::spawn(run_actor(chain, cfg))
}

fn proven_op(evs: &[Event]) -> Option<(u32, u32)> {
    evs.iter().find_map(|e| match e {
        Event::StepProven(p) => Some((p.op, p.chunk)),
        _ => None,
    })
}

/// A defective submitter, an honest challenger: the game ends on the defect, the challenger
/// proves the true digest, gets both bonds; the request reopens.
async fn defect_caught(name: &str, model: &str, defect: Defect) {
    let e = env(name, model, 60).await;
    let sub = spawn(e.client(2), e.actor("submitter", true, Some(defect)));
    let ch = spawn(e.client(3), e.actor("challenger", false, None));
    let rid = e.request(model).await;
    let ch = join(ch, "challenger").await;
    let sub = join(sub, "submitter").await;
    let evs = e.game_events().await;
    assert_eq!(
        resolved(&evs),
        vec![(Outcome::ChallengerWon, Reason::OtherDigestProved)]
    );
    assert_eq!(
        proven_op(&evs),
        Some((defect.op as u32, defect.chunk as u32)),
        "the game ends on the defect"
    );
    assert_eq!(
        ch.withdrawn,
        e.params.challenger_bond + e.params.submitter_bond / U256::from(2),
        "challenger: its bond back + half the submitter's (the other half is burned)"
    );
    assert_eq!(sub.withdrawn, U256::ZERO);
    assert_eq!(
        e.owner.get_request(rid).await.unwrap().status,
        Status::Open,
        "the request reopens"
    );
    let (escrow, credits) = e.owner.totals().await.unwrap();
    assert_eq!(
        (escrow, credits),
        (fee(), U256::ZERO),
        "only the fee is left in escrow"
    );
    drop(e);
}

/// An honest submitter, an honest challenger: no game; the result is finalised after the
/// window and the submitter withdraws the fee and its bond.
async fn honest_finalised(name: &str, model: &str, output_len: usize) {
    let e = env(name, model, 4).await;
    let sub = spawn(e.client(2), e.actor("submitter", true, None));
    let ch = spawn(e.client(3), e.actor("challenger", false, None));
    let rid = e.request(model).await;
    let ch = join(ch, "challenger").await;
    assert!(ch.games.is_empty(), "the honest challenger agrees");
    let sub = join(sub, "submitter").await;
    assert_eq!(
        e.owner.get_request(rid).await.unwrap().status,
        Status::Finalized
    );
    assert_eq!(sub.withdrawn, fee() + bond(), "submitter: fee + its bond");
    assert_eq!(e.owner.final_output(rid).await.unwrap().len(), output_len);
    assert_eq!(e.owner.totals().await.unwrap(), (U256::ZERO, U256::ZERO));
    e.assert_keys_are_links();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honest_result_is_finalised() {
    honest_finalised("honest", "lenet_5", 10).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defect_at_first_op_is_caught() {
    defect_caught("first", "lenet_5", Defect { op: 1, chunk: 27 }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defect_at_middle_op_is_caught() {
    defect_caught("middle", "lenet_5", Defect { op: 6, chunk: 4 }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defect_at_last_op_is_caught() {
    defect_caught("last", "lenet_5", Defect { op: 12, chunk: 0 }).await;
}

/// An honest submitter against a challenger with a wrong trace: the defender proves its leaf
/// and wins the challenger's bond; its result is then finalised.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honest_defender_beats_wrong_challenger() {
    wrong_challenger_beaten("wrongch", "lenet_5", Defect { op: 4, chunk: 2 }).await;
}

/// The same at op n, where the defender's leaf is the keccak of the output chunk's packed bytes
/// (a boundary tensor) rather than the circuit's output digest: the defender must still see that
/// its proof supports its leaf, post it and win.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honest_defender_beats_wrong_challenger_at_last_op() {
    wrong_challenger_beaten("wrongch-last", "lenet_5", Defect { op: 12, chunk: 0 }).await;
}

async fn wrong_challenger_beaten(name: &str, model: &str, wrong: Defect) {
    let e = env(name, model, 30).await;
    let sub = spawn(e.client(2), e.actor("submitter", true, None));
    let ch = spawn(e.client(3), e.actor("challenger", false, Some(wrong)));
    let rid = e.request(model).await;
    let ch = join(ch, "challenger").await;
    assert_eq!(ch.withdrawn, U256::ZERO);
    // the game is over; let the window pass so the submitter can finalise
    increase_time(&e.owner, 31).await.unwrap();
    let sub = join(sub, "submitter").await;
    let evs = e.game_events().await;
    assert_eq!(
        resolved(&evs),
        vec![(Outcome::DefenderWon, Reason::DefenderProved)]
    );
    assert_eq!(proven_op(&evs), Some((wrong.op as u32, wrong.chunk as u32)));
    assert_eq!(
        e.owner.get_request(rid).await.unwrap().status,
        Status::Finalized
    );
    assert_eq!(
        sub.withdrawn,
        fee() + bond() + e.params.challenger_bond,
        "fee + own bond + the challenger's bond"
    );
}

/// A defective submitter that stops moving after its first move: the challenger claims the
/// timeout once the defender's clock has run out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_defender_loses_on_time() {
    silent_defender_loses("timeout", "lenet_5", Defect { op: 8, chunk: 1 }).await;
}

async fn silent_defender_loses(name: &str, model: &str, defect: Defect) {
    let e = env(name, model, 60).await;
    let n = e.owner.get_model(e.model).await.unwrap().num_ops;
    let mut cfg = e.actor("submitter", true, Some(defect));
    cfg.stall_after = Some(1);
    let sub = spawn(e.client(2), cfg);
    let ch = spawn(e.client(3), e.actor("challenger", false, None));
    e.request(model).await;
    // wait until the challenger has answered the first round (the defender is to move again)
    let t0 = std::time::Instant::now();
    loop {
        if e.owner.game_count().await.unwrap() > 0 {
            let g = e.owner.get_game(0).await.unwrap();
            if g.phase.defender_to_move() && (g.lo, g.hi) != (0, n) {
                break;
            }
        }
        assert!(
            t0.elapsed() < Duration::from_secs(200),
            "the first round did not happen"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    increase_time(&e.owner, e.params.clock_budget + 5)
        .await
        .unwrap();
    let ch = join(ch, "challenger").await;
    let sub = join(sub, "submitter").await;
    let evs = e.game_events().await;
    assert_eq!(
        resolved(&evs),
        vec![(Outcome::ChallengerWon, Reason::DefenderTimeout)]
    );
    assert_eq!(
        ch.withdrawn,
        e.params.challenger_bond + e.params.submitter_bond / U256::from(2)
    );
    assert_eq!(sub.withdrawn, U256::ZERO);
    assert_eq!(sub.moves, 1);
}

/// The challenger process dies in the middle of a game; a new one on the same state directory
/// resumes from the saved cursor and wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn challenger_restart_resumes_the_game() {
    let e = env("restart", "lenet_5", 60).await;
    let sub = spawn(
        e.client(2),
        e.actor("submitter", true, Some(Defect { op: 5, chunk: 7 })),
    );
    let ch = spawn(e.client(3), e.actor("challenger", false, None));
    e.request("lenet_5").await;
    let t0 = std::time::Instant::now();
    // in the middle of the game, once the challenger has seen it (its event is polled after its
    // own challenge is mined: under load the game moves on before, and a kill then is the other
    // case, a crash before the game was known, which this test is not about)
    loop {
        if e.owner.game_count().await.unwrap() > 0
            && e.owner.get_game(0).await.unwrap().phase != Phase::DefenderRoots
            && state_has_game(&e.home.actor("challenger"))
        {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(200), "no game");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ch.abort();
    let _ = ch.await;
    assert!(
        state_has_game(&e.home.actor("challenger")),
        "the challenger saved the game"
    );
    let ch = spawn(e.client(3), e.actor("challenger", false, None));
    let ch = join(ch, "restarted challenger").await;
    join(sub, "submitter").await;
    let evs = e.game_events().await;
    assert_eq!(
        resolved(&evs),
        vec![(Outcome::ChallengerWon, Reason::OtherDigestProved)]
    );
    assert_eq!(
        e.owner.game_count().await.unwrap(),
        1,
        "no second challenge after the restart"
    );
    assert_eq!(
        ch.withdrawn,
        e.params.challenger_bond + e.params.submitter_bond / U256::from(2)
    );
}

fn state_has_game(dir: &Path) -> bool {
    let s = zkopml_node::state::ActorState::load(dir).unwrap();
    s.games.contains_key(&0) && s.cursor.is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conv2d_defect_is_caught() {
    defect_caught("conv2d", "conv2d", Defect { op: 3, chunk: 1 }).await;
}

/// XGBoost (47 ops of trees: Gather, Compare, GatherElements, ReduceSum, Softmax, ArgMax):
/// an honest answer is finalised, and a defect in the leaf lookup (op 42, a Gather with
/// trace indices) is caught.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xgboost_honest_result_is_finalised() {
    honest_finalised("xgb-honest", "xgboost", 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xgboost_defect_is_caught() {
    defect_caught("xgboost", "xgboost", Defect { op: 42, chunk: 0 }).await;
}

/// A model with two graph inputs (EZKL's `less`: Less(a, b)): slot 0 holds both inputs one
/// after the other and the program starts with a Slice + Reshape per input. An honest answer
/// is finalised; a defect in the first input's Slice (op 1, whose proof opens slot 0 from the
/// request's input) and in the last op are caught.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_input_model_honest_result_is_finalised() {
    honest_finalised("less-honest", "ezkl/less", 4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_input_model_defects_at_first_and_last_op_are_caught() {
    defect_caught("less-first", "ezkl/less", Defect { op: 1, chunk: 0 }).await;
    defect_caught("less-last", "ezkl/less", Defect { op: 5, chunk: 0 }).await;
}

/// A decision tree as hummingbird exports it (And, Equal, Less, Gather, MatMul, ArgMax): a
/// defect in the And (op 10, lowered to a Mul of 0/1 values) is caught.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decision_tree_defect_in_its_and_is_caught() {
    defect_caught(
        "tree-and",
        "ezkl/decision_tree",
        Defect { op: 10, chunk: 0 },
    )
    .await;
}

/// A scikit-learn GradientBoostingClassifier exported by skl2onnx (ai.onnx.ml
/// TreeEnsembleClassifier, lowered to Gather, Compare, Not, Cast, Gemm, Softmax, ArgMax): an
/// honest answer (the label) is finalised, and defects in the leaf-path product (op 5) and in
/// the label (op 10, the last) are caught.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tree_ensemble_honest_result_is_finalised() {
    honest_finalised("gbc-honest", "sklearn/gb_classifier", 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tree_ensemble_defects_are_caught() {
    defect_caught(
        "gbc-paths",
        "sklearn/gb_classifier",
        Defect { op: 5, chunk: 0 },
    )
    .await;
    defect_caught(
        "gbc-label",
        "sklearn/gb_classifier",
        Defect { op: 10, chunk: 0 },
    )
    .await;
}

/// The same kind of model converted by hummingbird instead (tree traversal: GatherElements of
/// the node features, LessOrEqual, Where, Gathers of the next node; no ai.onnx.ml operator): a
/// defect in the second level's GatherElements (op 10) is caught and settled on chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hummingbird_tree_traversal_defect_is_caught() {
    defect_caught(
        "hb-trav",
        "hummingbird/gb_tree_trav",
        Defect { op: 10, chunk: 0 },
    )
    .await;
}

/// A 3-D window chain (testdata/models/lowered_windows: Conv3d, MaxPool3d, AveragePool3d,
/// ConvTranspose1d, LpPool, global pools): a defect in the last chunk of the Conv3d's 2-D Conv
/// over the depth taps (op 6, batch 4) is caught and settled on chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conv3d_defect_is_caught() {
    defect_caught("conv3d", "lowered_windows", Defect { op: 6, chunk: 11 }).await;
}

/// A Keras CNN converted by tf2onnx (NHWC input, Transposes, DepthwiseConv2D + ReLU6): a defect
/// in the depthwise convolution (op 6) is caught and settled on chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keras_cnn_defect_is_caught() {
    defect_caught("keras-cnn", "keras/cnn", Defect { op: 6, chunk: 0 }).await;
}

/// A 1-D CNN on audio-like input (Conv1d, MaxPool1d, GlobalAveragePool on [N, C, L], lowered
/// to the 2-D operators over a height of 1): a defect in the second Conv1d is caught.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conv1d_defect_is_caught() {
    defect_caught("conv1d", "conv1d_audio", Defect { op: 9, chunk: 0 }).await;
}

/// A PyTorch LSTM then bidirectional GRU classifier (scripts/models/recurrent.py), unrolled
/// over its 6 steps: an honest answer is finalised, and a defect in the candidate state (Tanh)
/// of a late GRU step is caught and settled by its proof on chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lstm_gru_honest_result_is_finalised_and_a_defect_in_the_gru_is_caught() {
    honest_finalised("lstm-gru-honest", "lstm_gru", 3).await;
    defect_caught("lstm-gru", "lstm_gru", Defect { op: 298, chunk: 0 }).await;
}

/// A request by CID (the input in the artifact store, its tensor root on chain): a defect at
/// the first operator (whose proof opens the stored input against the request's root) is
/// caught, the request reopens, and another submitter answers it again; that answer is
/// finalised and paid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_by_cid_is_reopened_and_answered_again() {
    let e = env("bycid", "lenet_5", 8).await;
    let defect = Defect { op: 1, chunk: 0 };
    let bad = spawn(e.client(2), e.actor("bad", true, Some(defect)));
    let ch = spawn(e.client(3), e.actor("challenger", false, None));
    let (rid, cid) = e.request_by_cid("lenet_5").await;
    let req = e.owner.get_request(rid).await.unwrap();
    assert_eq!(req.status, Status::Open);
    let ch = join(ch, "challenger").await;
    join(bad, "defective submitter").await;
    let evs = e.game_events().await;
    assert!(evs
        .iter()
        .any(|ev| matches!(ev, Event::InferenceRequested(r) if r.inputCid == cid.to_string())));
    assert_eq!(
        resolved(&evs),
        vec![(Outcome::ChallengerWon, Reason::OtherDigestProved)]
    );
    assert_eq!(
        proven_op(&evs),
        Some((1, 0)),
        "the proof opens the stored input"
    );
    assert_eq!(
        ch.withdrawn,
        e.params.challenger_bond + e.params.submitter_bond / U256::from(2)
    );
    assert_eq!(e.owner.get_request(rid).await.unwrap().status, Status::Open);

    let honest = join(
        spawn(e.client(4), e.actor("honest", true, None)),
        "honest submitter",
    )
    .await;
    assert_eq!(
        honest.submitted,
        vec![rid],
        "the reopened request is answered again"
    );
    assert_eq!(
        e.owner.get_request(rid).await.unwrap().status,
        Status::Finalized
    );
    assert_eq!(
        honest.withdrawn,
        fee() + bond(),
        "the second submitter: fee + its bond"
    );
    assert_eq!(e.owner.final_output(rid).await.unwrap().len(), 10);
    assert_eq!(e.owner.totals().await.unwrap(), (U256::ZERO, U256::ZERO));
    drop(e);
}

/// A request by CID whose stored bytes do not have the tensor root the request names is never
/// answered: the submitter drops it (no bond is put at stake on an input it cannot verify).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_by_cid_with_a_wrong_root_is_not_answered() {
    use zkopml_store::ArtifactStore;
    let e = env("badcid", "lenet_5", 8).await;
    let sub = spawn(e.client(2), e.actor("submitter", true, None));
    let bytes = zkopml_node::trace::encode_input(&vec![0; 1024]);
    let cid = e.home.open_store().unwrap().put(&bytes).unwrap();
    let now = e.owner.timestamp().await.unwrap();
    let rid = e
        .client(1)
        .request_inference_by_root(
            e.model,
            zkopml_chain::B256::repeat_byte(7),
            &cid.to_string(),
            now + 3600,
            fee(),
        )
        .await
        .unwrap()
        .value;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(!sub.is_finished(), "the submitter keeps running");
    sub.abort();
    assert_eq!(
        e.owner.get_request(rid).await.unwrap().status,
        Status::Open,
        "no result was posted"
    );
    let st: serde_json::Value = serde_json::from_slice(
        &std::fs::read(e.home.actor("submitter").join("state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        st["requests"][rid.to_string()]["done"],
        true,
        "the request is dropped"
    );
    assert!(st["requests"][rid.to_string()]["submitted_nonce"].is_null());
    drop(e);
}

/// The last chunk of slot `op` of a registered model (a defect there is the deepest in the
/// chunk tree).
async fn last_chunk(e: &Env, op: usize) -> usize {
    let store = e.home.open_store().unwrap();
    let p = ops::program_of(&e.owner, &store, e.model).await.unwrap();
    p.slot_spec(op).num_chunks() - 1
}

/// The same scenarios as LeNet's, on the 2d conv net (31 ops: Conv, Relu, MaxPool, Gemm) and on
/// XGBoost (47 ops of trees): honest (XGBoost above), defects at the first, a middle and the
/// last operator, a wrong challenger, a silent defender.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conv2d_honest_result_is_finalised() {
    honest_finalised("c2d-honest", "conv2d", 10).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conv2d_defects_at_first_middle_last_op_are_caught() {
    for (i, op) in [1usize, 16, 31].into_iter().enumerate() {
        let probe = env(&format!("c2d-probe{i}"), "conv2d", 60).await;
        let chunk = last_chunk(&probe, op).await;
        drop(probe);
        defect_caught(&format!("c2d-op{op}"), "conv2d", Defect { op, chunk }).await;
    }
}

/// Committed weights (issue 22): conv2d's Gemm (op 31) reads its weights as a block that the
/// step proof opens under the registered weights root. A defect there is caught (the
/// challenger proves the step with the registered block), and a wrong challenger there is
/// beaten (the defender proves it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_weights_gemm_defect_is_caught_and_wrong_challenger_beaten() {
    let model = "conv2d+committed";
    let gemm = Defect { op: 31, chunk: 0 };
    defect_caught("c2d-cw-defect", model, gemm).await;
    wrong_challenger_beaten("c2d-cw-wrongch", model, gemm).await;
}

/// LeNet laid out for committed weights (`WeightsMode::lay_out`): its 400 -> 120 layer (op 10)
/// is 2 chunks of 60 columns, so the block the challenger opens on chain has a Rust-built path
/// of height 1 under its op's blocks root. A defect in its last chunk is caught.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lenet_committed_weights_defect_in_its_wide_layer_is_caught() {
    defect_caught(
        "lenet-cw-defect",
        "lenet_5+committed",
        Defect { op: 10, chunk: 1 },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conv2d_honest_defender_beats_wrong_challenger() {
    wrong_challenger_beaten("c2d-wrongch", "conv2d", Defect { op: 10, chunk: 2 }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conv2d_silent_defender_loses_on_time() {
    silent_defender_loses("c2d-timeout", "conv2d", Defect { op: 20, chunk: 0 }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xgboost_defects_at_first_middle_last_op_are_caught() {
    for op in [1usize, 24, 47] {
        defect_caught(&format!("xgb-op{op}"), "xgboost", Defect { op, chunk: 0 }).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xgboost_honest_defender_beats_wrong_challenger() {
    wrong_challenger_beaten("xgb-wrongch", "xgboost", Defect { op: 30, chunk: 0 }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xgboost_silent_defender_loses_on_time() {
    silent_defender_loses("xgb-timeout", "xgboost", Defect { op: 12, chunk: 0 }).await;
}

/// A request by CID whose input is not in the store yet: the submitter waits (a missing input may
/// still arrive) and answers once the bytes are there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_by_cid_waits_for_its_input() {
    use zkopml_store::ArtifactStore;
    let e = env("latecid", "lenet_5", 4).await;
    let (rid, cid) = e.request_by_cid("lenet_5").await;
    let store = e.home.open_store().unwrap();
    let path = store.local().path_of(&cid);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let sub = spawn(e.client(2), e.actor("submitter", true, None));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        e.owner.get_request(rid).await.unwrap().status,
        Status::Open,
        "no answer without the input"
    );
    store.put(&bytes).unwrap();
    let sub = join(sub, "submitter").await;
    assert_eq!(sub.submitted, vec![rid], "answered once the input is there");
    assert_eq!(
        e.owner.get_request(rid).await.unwrap().status,
        Status::Finalized
    );
    drop(e);
}

/// Transformers (scripts/models/transformers.sh: Hugging Face models with random weights from
/// the seed's configurations at a tiny size, exported by torch.onnx.export). GTE's BERT encoder
/// with token ids and an attention mask as inputs: an honest embedding is finalised, and a
/// defect in the last chunk of its costliest step (the second layer's GELU, the Erf
/// polynomial) is caught.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gte_tiny_honest_embedding_is_finalised_and_a_gelu_defect_is_caught() {
    let _keys = DisposeKeys("gte_tiny");
    honest_finalised("gte-honest", "gte_tiny", 64).await;
    defect_caught("gte-gelu", "gte_tiny", Defect { op: 102, chunk: 1 }).await;
}

/// T5's encoder (relative position buckets folded, RMS norm) and one decoder step with
/// cross-attention: a defect in its costliest step (the second encoder layer's FFN output
/// projection, a 256 -> 64 Gemm over 16 positions) is caught.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t5_tiny_defect_in_ffn_is_caught() {
    let _keys = DisposeKeys("t5_tiny");
    defect_caught("t5-ffn", "t5_tiny", Defect { op: 90, chunk: 0 }).await;
}

/// Whisper's encoder (two Conv1d + GELU over log-mel features) and one decoder step: a defect
/// in the last chunk of its costliest step (the second encoder layer's GELU) is caught.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whisper_tiny_defect_in_gelu_is_caught() {
    let _keys = DisposeKeys("whisper_tiny");
    defect_caught("whisper-gelu", "whisper_tiny", Defect { op: 101, chunk: 1 }).await;
}

/// `DisposeKeys` removes a model's keys and its setup store, and forgets them (a later test of
/// the model would set up again).
#[test]
fn disposed_keys_are_removed_from_disk() {
    let (keys, store) = (keys_root().join("disposable"), setup_store("disposable"));
    for d in [&keys, &store] {
        std::fs::create_dir_all(d).unwrap();
        std::fs::write(d.join("c0.pk"), b"key").unwrap();
    }
    key_dirs()
        .lock()
        .unwrap()
        .insert("disposable".into(), keys.clone());
    drop(DisposeKeys("disposable"));
    assert!(!keys.exists() && !store.exists());
    assert!(!key_dirs().lock().unwrap().contains_key("disposable"));
}

/// testdata/models/lowered_index: TopK, the integer Div, ScatterElements and GatherND of
/// computed indices, Log and the trigonometric lowerings, all existing circuits: a defect in
/// the scatter's MatMul (op 37, the one-hot rows times the updates) is caught and settled by
/// its proof on chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lowered_index_defect_in_its_scatter_is_caught() {
    defect_caught(
        "lowered-index",
        "lowered_index",
        Defect { op: 38, chunk: 0 },
    )
    .await;
}

/// A U-Net exported by torch (testdata/models/unet_small, scripts/models/vision.py): a defect
/// in the bilinear Upsample (Resize linear: the Gemm over the columns, op 30) is caught and settled on
/// chain; the ConvTranspose and the skip Concats are steps of the same game.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unet_defect_in_its_bilinear_upsample_is_caught() {
    defect_caught("unet", "unet_small", Defect { op: 30, chunk: 0 }).await;
}
