//! One-shot operations behind the CLI verbs: the home directory layout, deploy, register,
//! request, and the status tables.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use zkopml_chain::{Chain, Deployment, DisputeParams, Model, Phase, Status, Tx, U256};
use zkopml_exec::commit::canonical;
use zkopml_exec::quantise_input;
use zkopml_model::input::read_input_json;
use zkopml_model::Program;
use zkopml_store::{ArtifactStore, Cid, KuboStore, LocalStore, TieredStore};
use zkopml_zk::table::WeightsMode;

use crate::artifacts::{prepare_registration_in, Prepared};
use crate::ceremony::{
    choose_contribution, prepare_ceremony_registration, CeremonyView, Contribution,
    PreparedCeremony, Skipped,
};
use crate::short;

/// The node's home directory (default `.zkopml`):
/// `devnet/` (background anvil), `deployment.json`, `store/` (artifacts by CID), `keys/<model>/`
/// (the registrar's setup output), `actors/<name>/state.json`, `cache/` (fetched keys); and the
/// Kubo node, if any, whose RPC API the store mirrors to and fetches from.
#[derive(Debug, Clone)]
pub struct Home {
    pub dir: PathBuf,
    pub ipfs: Option<String>,
}

impl Home {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Home {
            dir: dir.into(),
            ipfs: None,
        }
    }
    /// Mirror the store to (and fetch missing artifacts from) the Kubo RPC API at `api`.
    pub fn with_ipfs(mut self, api: Option<String>) -> Self {
        self.ipfs = api;
        self
    }
    pub fn devnet(&self) -> PathBuf {
        self.dir.join("devnet")
    }
    pub fn deployment(&self) -> PathBuf {
        self.dir.join("deployment.json")
    }
    pub fn store(&self) -> PathBuf {
        self.dir.join("store")
    }
    pub fn keys(&self, model: &Path) -> PathBuf {
        let name = model
            .parent()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "model".into());
        self.dir.join("keys").join(name)
    }
    pub fn actor(&self, name: &str) -> PathBuf {
        self.dir.join("actors").join(name)
    }
    pub fn cache(&self) -> PathBuf {
        self.dir.join("cache")
    }
    pub fn open_store(&self) -> Result<TieredStore> {
        open_store(&self.store(), self.ipfs.as_deref())
    }
}

/// The store at `dir`, in front of the Kubo RPC API at `ipfs` when given.
pub fn open_store(dir: &Path, ipfs: Option<&str>) -> Result<TieredStore> {
    let local =
        LocalStore::open(dir).with_context(|| format!("opening the store {}", dir.display()))?;
    Ok(TieredStore::new(local, ipfs.map(KuboStore::new)))
}

/// Devnet defaults: arity 4, groups of 1, 10 minutes per clock, 5-minute window, 0.1 ETH bonds.
pub fn default_params() -> DisputeParams {
    DisputeParams {
        arity: 4,
        max_group: 1,
        clock_budget: 600,
        challenge_window: 300,
        submitter_bond: U256::from(100_000_000_000_000_000u128),
        challenger_bond: U256::from(100_000_000_000_000_000u128),
    }
}

/// Connects to the deployment recorded in the home directory.
pub async fn connect(rpc: &str, key: &str, home: &Home) -> Result<Chain> {
    let f = home.deployment();
    if !f.exists() {
        bail!(
            "no deployment at {} (run `zkopml deploy` first)",
            f.display()
        );
    }
    let d = Deployment::load(&f)?;
    Ok(Chain::builder()
        .rpc_url(rpc)
        .private_key(key)
        .deployment(d)
        .connect()
        .await?)
}

pub async fn deploy(rpc: &str, key: &str, home: &Home) -> Result<Chain> {
    let chain = Chain::builder()
        .rpc_url(rpc)
        .private_key(key)
        .deploy()
        .await?;
    std::fs::create_dir_all(&home.dir)?;
    chain.deployment().save(home.deployment())?;
    Ok(chain)
}

/// Compiles, sets up (cached in `keys_dir`), stores the artifacts and registers; returns the id.
pub async fn register(
    chain: &Chain,
    home: &Home,
    onnx: &Path,
    keys_dir: &Path,
    seed: Option<u64>,
    params: DisputeParams,
    progress: &mut (dyn FnMut(usize, usize, &str) + Send),
) -> Result<(u64, Prepared, Tx<u64>)> {
    register_in(
        chain,
        home,
        onnx,
        keys_dir,
        seed,
        params,
        WeightsMode::Baked,
        progress,
    )
    .await
}

/// [`register`] with the weights where `weights` puts them: committed weights register
/// their weights root with the model (`registerWithWeights`).
#[allow(clippy::too_many_arguments)]
pub async fn register_in(
    chain: &Chain,
    home: &Home,
    onnx: &Path,
    keys_dir: &Path,
    seed: Option<u64>,
    params: DisputeParams,
    weights: WeightsMode,
    progress: &mut (dyn FnMut(usize, usize, &str) + Send),
) -> Result<(u64, Prepared, Tx<u64>)> {
    let store = home.open_store()?;
    let prepared = tokio::task::block_in_place(|| {
        prepare_registration_in(onnx, keys_dir, &store, seed, params, weights, progress)
    })?;
    let tx = match weights {
        WeightsMode::Baked => chain.register(&prepared.registration).await?,
        WeightsMode::Committed => {
            let root = prepared.set.weights_root.parse()?;
            chain
                .register_with_weights(&prepared.registration, root)
                .await?
        }
    };
    Ok((tx.value, prepared, tx))
}

/// Compiles, derives the initial phase-2 keys from `ptau` (into `dir`), publishes them and
/// registers the model with a contribution window of `window` seconds; returns the id.
#[allow(clippy::too_many_arguments)]
pub async fn register_with_ceremony(
    chain: &Chain,
    home: &Home,
    onnx: &Path,
    ptau: &Path,
    dir: &Path,
    window: u64,
    params: DisputeParams,
    progress: &mut (dyn FnMut(usize, usize, &str) + Send),
) -> Result<(u64, PreparedCeremony, Tx<u64>)> {
    let store = home.open_store()?;
    let p = tokio::task::block_in_place(|| {
        prepare_ceremony_registration(onnx, ptau, dir, &store, params, progress)
    })?;
    let tx = chain
        .register_with_ceremony(&p.prepared.registration, p.transcript_hash, window)
        .await?;
    Ok((tx.value, p, tx))
}

/// A model's ceremony as the registry records it.
pub async fn ceremony_view(chain: &Chain, model_id: u64) -> Result<CeremonyView> {
    let (closes_at, contributions, transcript_hash, done) = chain.ceremony_info(model_id).await?;
    Ok(CeremonyView {
        closes_at,
        contributions,
        transcript_hash,
        done,
        keys_cid: chain.ceremony_keys(model_id).await?,
    })
}

/// Adds one contribution to a model's ceremony and records it on chain (`contribute`); the new
/// keys go into `dir/keys` and the store. With `ptau`, the keys it builds on are verified first.
pub async fn contribute(
    chain: &Chain,
    home: &Home,
    model_id: u64,
    dir: &Path,
    name: Option<&str>,
    ptau: Option<&Path>,
) -> Result<(Contribution, Tx)> {
    let count = chain.model_count().await?;
    if model_id >= count {
        bail!("model id {model_id} is unknown (the registry holds {count} models)");
    }
    let model = chain.get_model(model_id).await?;
    let view = ceremony_view(chain, model_id).await?;
    let now = chain.timestamp().await?;
    if view.closes_at != 0 && view.done {
        bail!("model {model_id}'s ceremony closed: its owner accepted a contribution");
    }
    if view.closes_at != 0 && now >= view.closes_at {
        bail!(
            "model {model_id}'s ceremony closed at {} (now {now})",
            view.closes_at
        );
    }
    let store = home.open_store()?;
    let c = tokio::task::block_in_place(|| {
        let rng = &mut zkopml_zk::groth16::os_rng();
        crate::ceremony::contribute(model_id, &model, &view, &store, dir, name, ptau, rng)
    })?;
    let tx = chain
        .contribute(
            model_id,
            c.prev_transcript,
            c.transcript_hash,
            c.circuit_root,
            &c.keys_cid,
        )
        .await?;
    Ok((c, tx))
}

/// What [`accept_ceremony`] accepted.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub index: u32,
    pub record: zkopml_chain::ContributionRecord,
    /// Contributions tried before it that could not be accepted, and why.
    pub skipped: Vec<Skipped>,
    /// Where its verified keys are, as a circuit set (the home's cache, where actors look).
    pub keys_dir: PathBuf,
    /// Seconds spent fetching and verifying keys.
    pub seconds: f64,
}

/// The owner ends a model's ceremony once its window has closed: fetches the recorded
/// contributions, checks and verifies their keys against `ptau` and the model, longest recorded
/// chain first and newest among equals ([`crate::ceremony::acceptance_order`]; `only`: that
/// contribution alone), and accepts the first whose keys pass every check
/// ([`crate::ceremony::choose_contribution`]) with `acceptContribution`: its circuit root
/// becomes the model's and requests open. Contributions whose keys fail are skipped with a
/// warning; none passing, a window still open, or a sender that is not the owner is an error.
pub async fn accept_ceremony(
    chain: &Chain,
    home: &Home,
    model_id: u64,
    ptau: &Path,
    only: Option<u32>,
) -> Result<(Accepted, Tx)> {
    let (model, view) = pending_ceremony_of_owner(chain, model_id, "accept").await?;
    let now = chain.timestamp().await?;
    if now < view.closes_at {
        bail!(
            "model {model_id}'s ceremony window is open until {} (unix time; chain time {now}, \
             {} s left): a contribution is accepted only after it has closed",
            view.closes_at,
            view.closes_at - now
        );
    }
    let mut records = Vec::with_capacity(view.contributions as usize);
    for i in 0..view.contributions {
        records.push(chain.get_contribution(model_id, i).await?);
    }
    let store = home.open_store()?;
    let cache = home.cache();
    let choice = tokio::task::block_in_place(|| {
        let rng = &mut zkopml_zk::groth16::os_rng();
        choose_contribution(model_id, &model, &records, &store, &cache, ptau, only, rng)
    })?;
    let tx = chain.accept_contribution(model_id, choice.index).await?;
    Ok((
        Accepted {
            index: choice.index,
            record: records[choice.index as usize].clone(),
            skipped: choice.skipped,
            keys_dir: choice.dir,
            seconds: choice.seconds,
        },
        tx,
    ))
}

/// A model and its ceremony, for its owner's `verb` ("accept", "extend") while no contribution
/// is accepted: the registry's own checks, as errors that name the problem before a transaction.
async fn pending_ceremony_of_owner(
    chain: &Chain,
    model_id: u64,
    verb: &str,
) -> Result<(Model, CeremonyView)> {
    let count = chain.model_count().await?;
    if model_id >= count {
        bail!("model id {model_id} is unknown (the registry holds {count} models)");
    }
    let model = chain.get_model(model_id).await?;
    let view = ceremony_view(chain, model_id).await?;
    if view.closes_at == 0 {
        bail!("model {model_id} was registered without a ceremony: there is nothing to {verb}");
    }
    let accepted = chain.accepted_contribution(model_id).await?;
    if accepted != 0 {
        bail!(
            "model {model_id}'s owner already accepted contribution {}: its ceremony is over",
            accepted - 1
        );
    }
    if model.owner != chain.address() {
        bail!(
            "only model {model_id}'s owner ({}) may {verb} in its ceremony; this key is {}",
            model.owner,
            chain.address()
        );
    }
    Ok((model, view))
}

/// The owner extends a model's contribution window to `closes_at` (unix seconds), before it
/// accepted a contribution; the registry allows at most 90 days from now.
pub async fn extend_ceremony(chain: &Chain, model_id: u64, closes_at: u64) -> Result<Tx> {
    let (_, view) = pending_ceremony_of_owner(chain, model_id, "extend").await?;
    if closes_at <= view.closes_at {
        bail!(
            "model {model_id}'s window already closes at {}: the new end must be later",
            view.closes_at
        );
    }
    Ok(chain.extend_ceremony(model_id, closes_at).await?)
}

/// The compiled program of a registered model, from the store.
pub async fn program_of(
    chain: &Chain,
    store: &dyn ArtifactStore,
    model_id: u64,
) -> Result<Program> {
    let count = chain.model_count().await?;
    if model_id >= count {
        bail!("model id {model_id} is unknown (the registry holds {count} models)");
    }
    let m = chain.get_model(model_id).await?;
    crate::artifacts::registered_program(model_id, &m, store)
}

/// How a request carries its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InputMode {
    /// Inline up to [`INLINE_MAX_VALUES`] values, by CID above.
    #[default]
    Auto,
    /// In the transaction, as packed bytes (4 a value): the contract hashes them with keccak;
    /// calldata costs about 16 gas a byte.
    Inline,
    /// In the artifact store ([`crate::trace::encode_input`]); the transaction carries its CID
    /// and tensor root, and every actor checks the fetched bytes against that root.
    ByCid,
}

/// The largest input sent inline by [`InputMode::Auto`] (16 KiB of calldata, about 220k gas;
/// docs/gas.md "Honest path per model").
pub const INLINE_MAX_VALUES: usize = 4096;

/// Quantises `input.json` and requests an inference (fee in wei, deadline in seconds from now);
/// returns the transaction (its value is the request id) and, for a request by CID, the CID.
pub async fn request(
    chain: &Chain,
    home: &Home,
    model_id: u64,
    input: &Path,
    fee: U256,
    deadline_secs: u64,
    mode: InputMode,
) -> Result<(Tx<u64>, Option<Cid>)> {
    let store = home.open_store()?;
    let program = program_of(chain, &store, model_id).await?;
    let x = read_input_json(input)?;
    let q = quantise_input(&program, &x).with_context(|| format!("input {}", input.display()))?;
    let now = chain.timestamp().await?;
    let bal = chain.balance(chain.address()).await?;
    if bal < fee {
        bail!(
            "insufficient funds for the fee: {} has {bal} wei, the fee is {fee} wei",
            chain.address()
        );
    }
    let values = canonical(&q);
    let by_cid = match mode {
        InputMode::Auto => values.len() > INLINE_MAX_VALUES,
        InputMode::Inline => false,
        InputMode::ByCid => true,
    };
    if !by_cid {
        let tx = chain
            .request_inference(model_id, &values, now + deadline_secs, fee)
            .await?;
        return Ok((tx, None));
    }
    let root = crate::trace::input_chunks_root(&program, &values)?;
    let cid = store.put(&crate::trace::encode_input(&values))?;
    let tx = chain
        .request_inference_by_root(model_id, root, &cid.to_string(), now + deadline_secs, fee)
        .await?;
    Ok((tx, Some(cid)))
}

/// Checks that `chain`'s account can pay `bond`.
pub async fn check_bond(chain: &Chain, bond: U256, what: &str) -> Result<()> {
    let bal = chain.balance(chain.address()).await?;
    if bal < bond {
        bail!(
            "insufficient funds for the {what} bond: {} has {bal} wei, the bond is {bond} wei",
            chain.address()
        );
    }
    Ok(())
}

fn eth(x: U256) -> String {
    let milli: U256 = x / U256::from(1_000_000_000_000_000u64);
    format!(
        "{}.{:03}",
        milli / U256::from(1000),
        (milli % U256::from(1000)).to::<u64>()
    )
}

/// Models, requests (with their live results) and games, as tables.
pub async fn status_text(chain: &Chain) -> Result<String> {
    let mut s = String::new();
    let now = chain.timestamp().await?;
    let _ = writeln!(s, "chain time {now}, block {}", chain.block_number().await?);
    let nm = chain.model_count().await?;
    let _ = writeln!(
        s,
        "\nMODELS\n{:>3} {:>4} {:>6} {:>5} {:>7} {:>7} {:>10} {:>10}  {:<22} model hash",
        "id", "ops", "k/N", "depth", "clock", "window", "sub bond", "ch bond", "ceremony"
    );
    for id in 0..nm {
        let m = chain.get_model(id).await?;
        let p = &m.params;
        let (closes_at, contributions, _, done) = chain.ceremony_info(id).await?;
        let ceremony = match (closes_at, done) {
            (0, _) => "none (local setup)".to_string(),
            (_, true) => format!("done, {contributions} contrib."),
            (t, false) if now < t => format!("open, {contributions} contrib."),
            _ if contributions == 0 => "closed, no contrib.".to_string(),
            _ => format!("to accept, {contributions} contrib."),
        };
        let _ = writeln!(
            s,
            "{:>3} {:>4} {:>6} {:>5} {:>7} {:>7} {:>10} {:>10}  {:<22} {}",
            id,
            m.num_ops,
            format!("{}/{}", p.arity, p.max_group),
            m.state_depth,
            p.clock_budget,
            p.challenge_window,
            eth(p.submitter_bond),
            eth(p.challenger_bond),
            ceremony,
            short(m.model_hash.as_slice())
        );
    }
    let nr = chain.request_count().await?;
    let _ = writeln!(
        s,
        "\nREQUESTS\n{:>3} {:>5} {:<10} {:>8} {:>9}  {:<13} {:<14} {:>9} {:>5}",
        "id",
        "model",
        "status",
        "fee ETH",
        "deadline",
        "submitter",
        "final root",
        "window",
        "games"
    );
    for id in 0..nr {
        let r = chain.get_request(id).await?;
        let rq = chain.request_record(id).await?;
        let res = chain.result_record(id).await?.map(|(res, _, _)| res);
        let left = |t: u64| {
            if t > now {
                format!("{}s", t - now)
            } else {
                "passed".into()
            }
        };
        let _ = writeln!(
            s,
            "{:>3} {:>5} {:<10} {:>8} {:>9}  {:<13} {:<14} {:>9} {:>5}",
            id,
            r.model_id,
            format!("{:?}", r.status),
            eth(rq.fee),
            left(r.deadline),
            res.as_ref()
                .map_or("-".into(), |res| short(res.submitter.as_slice())),
            res.as_ref()
                .map_or("-".into(), |res| short(res.final_root.as_slice())),
            if res.is_some() && r.status == Status::Submitted {
                left(r.challenge_deadline)
            } else {
                "-".into()
            },
            if res.is_some() {
                r.active_games.to_string()
            } else {
                "-".into()
            }
        );
    }
    let ng = chain.game_count().await?;
    let _ = writeln!(
        s,
        "\nGAMES\n{:>3} {:>4} {:<17} {:>9} {:>11} {:>8} {:>8} {:>8}  outcome",
        "id", "req", "phase", "segment", "chunk h/i", "def s", "ch s", "bond"
    );
    for id in 0..ng {
        let g = chain.get_game(id).await?;
        let c = chain.clocks(id).await?;
        let chunk = if matches!(
            g.phase,
            Phase::DefenderNodes | Phase::ChallengerNodes | Phase::DefenderProof
        ) || g.num_chunks > 0
        {
            format!("{}/{}", g.height, g.index)
        } else {
            "-".into()
        };
        let _ = writeln!(
            s,
            "{:>3} {:>4} {:<17} {:>9} {:>11} {:>8} {:>8} {:>8}  {:?}",
            id,
            g.request_id,
            format!("{:?}", g.phase),
            format!("[{},{}]", g.lo, g.hi),
            chunk,
            c.defender_left,
            c.challenger_left,
            eth(g.bond),
            g.outcome
        );
    }
    Ok(s)
}

/// Gas used by the blocks `from..=to` (on anvil's automine: one transaction per block).
pub async fn gas_in_blocks(chain: &Chain, from: u64, to: u64) -> Result<u64> {
    use alloy::providers::Provider;
    let mut total = 0u64;
    for n in from..=to {
        let b: serde_json::Value = chain
            .provider()
            .raw_request("eth_getBlockByNumber".into(), (format!("0x{n:x}"), false))
            .await?;
        let g = b.get("gasUsed").and_then(|v| v.as_str()).unwrap_or("0x0");
        total += u64::from_str_radix(g.trim_start_matches("0x"), 16).unwrap_or(0);
    }
    Ok(total)
}

/// Gas used by one transaction.
pub async fn gas_of_tx(chain: &Chain, tx: zkopml_chain::B256) -> Result<u64> {
    use alloy::providers::Provider;
    let r: serde_json::Value = chain
        .provider()
        .raw_request("eth_getTransactionReceipt".into(), (tx,))
        .await?;
    let g = r.get("gasUsed").and_then(|v| v.as_str()).unwrap_or("0x0");
    Ok(u64::from_str_radix(g.trim_start_matches("0x"), 16).unwrap_or(0))
}
