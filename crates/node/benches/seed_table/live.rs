//! The live columns of the seed table: each model registered on a real anvil, one honest
//! request answered and finalised, and one defective answer at the worst-case operator caught,
//! dissected and settled by a Groth16 proof on chain, at k = 2 and at the best k. The actors
//! are the node's own (`run_actor`), as tasks of this process with their own keys and state;
//! they move as soon as it is their turn, so the game's wall time is what it takes with every
//! response window set to zero. Gas is read off each transaction the actors report.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use zkopml_chain::{Chain, Outcome, Status, U256};
use zkopml_node::devnet::{Anvil, KEYS};
use zkopml_node::ops::{self, Home, InputMode};
use zkopml_node::{run_actor, ActorConfig, ActorSummary, Defect, MoveRecord};

/// Moves of the dissection proper (both parties; `challenge` and `proveStep` are apart).
const DISSECTION: [&str; 7] = [
    "postRoots",
    "postCounterRoots",
    "revealTensor",
    "revealCounterTensor",
    "postNodes",
    "postCounterNodes",
    "resolvePadding",
];
/// The defender's moves: one per round.
const DEFENDER_ROUND: [&str; 3] = ["postRoots", "revealTensor", "postNodes"];

pub struct Env {
    anvil: Anvil,
    home: Home,
    owner: Chain,
    pub deploy_gas: u64,
}

impl Env {
    /// A fresh anvil and deployment; `dir` keeps the keys between runs, and with `reuse_keys`
    /// also the store and the actors' cache (content-addressed: nothing stale can be read).
    pub async fn start(dir: &Path, reuse_keys: bool) -> Result<Env> {
        let fresh: &[&str] = if reuse_keys {
            &["actors", "deployment.json"]
        } else {
            &["actors", "deployment.json", "cache", "store"]
        };
        for sub in fresh {
            let p = dir.join(sub);
            if p.is_dir() {
                std::fs::remove_dir_all(&p)?;
            } else if p.exists() {
                std::fs::remove_file(&p)?;
            }
        }
        let anvil = Anvil::start(None)?;
        let home = Home::new(dir);
        let owner = ops::deploy(&anvil.url(), KEYS[0], &home).await?;
        let deploy_gas = ops::gas_in_blocks(&owner, 1, owner.block_number().await?).await?;
        Ok(Env {
            anvil,
            home,
            owner,
            deploy_gas,
        })
    }

    fn client(&self, k: usize) -> Result<Chain> {
        Ok(self.owner.with_private_key(KEYS[k])?)
    }

    fn actor(&self, name: &str, model: u64, serve: bool, defect: Option<Defect>) -> ActorConfig {
        let mut c = ActorConfig::new(
            name,
            self.home.actor(name),
            self.home.store(),
            self.home.cache(),
        );
        if serve {
            c.serve = vec![model];
        } else {
            c.watch = vec![model];
        }
        c.defect = defect;
        c.once = true;
        c.poll = Duration::from_millis(100);
        c
    }

    pub fn url(&self) -> String {
        self.anvil.url()
    }
}

/// What one model's run measured.
pub struct ModelRun {
    pub circuits: usize,
    pub leaves: usize,
    pub compile_s: f64,
    pub setup_s: f64,
    pub setup_reused: bool,
    pub register_gas: u64,
    /// Fetching and checking every artifact from the store into an actor's cache.
    pub fetch_s: f64,
    pub honest: Honest,
    pub disputes: Vec<Dispute>,
}

pub struct Honest {
    pub by_cid: bool,
    pub request_gas: u64,
    pub submitter_trace_s: f64,
    pub submit_gas: u64,
    pub challenger_trace_s: f64,
    pub window_s: u64,
    pub finalize_gas: u64,
    pub withdraw_gas: u64,
}

pub struct Dispute {
    pub k: u16,
    pub op: usize,
    pub chunk: usize,
    /// Rounds by `zkopml_node::dissection` for this (op, chunk) and the rounds played.
    pub predicted_rounds: u32,
    pub rounds: u32,
    /// Transactions of the game: challenge, every move, proveStep.
    pub game_txs: usize,
    pub request_gas: u64,
    pub submitter_trace_s: f64,
    pub submit_gas: u64,
    pub challenger_trace_s: f64,
    pub challenge_gas: u64,
    pub dissection_gas: u64,
    pub prove_s: f64,
    pub prove_gas: u64,
    pub withdraw_gas: u64,
    /// From the request to the winner's withdrawal.
    pub wall_s: f64,
}

fn sum(log: &[MoveRecord], mvs: &[&str]) -> (u64, f64, usize) {
    log.iter()
        .filter(|m| mvs.contains(&m.mv.as_str()))
        .fold((0, 0.0, 0), |(g, s, n), m| {
            (g + m.gas, s + m.compute_s, n + 1)
        })
}

async fn join(
    h: tokio::task::JoinHandle<Result<ActorSummary>>,
    what: &str,
    secs: u64,
) -> Result<ActorSummary> {
    match tokio::time::timeout(Duration::from_secs(secs), h).await {
        Ok(r) => r.with_context(|| format!("the {what} task"))?,
        Err(_) => bail!("the {what} did not finish within {secs} s"),
    }
}

pub struct Plan<'a> {
    pub name: &'a str,
    pub onnx: PathBuf,
    pub arities: Vec<u16>,
    pub defect: Defect,
    pub predicted: Vec<u32>,
    pub window: u64,
    pub reuse_keys: bool,
}

pub async fn run_model(env: &Env, plan: &Plan<'_>) -> Result<ModelRun> {
    let keys = env.home.keys(&plan.onnx);
    if !plan.reuse_keys && keys.exists() {
        std::fs::remove_dir_all(&keys)?;
    }
    let mut params = ops::default_params();
    params.challenge_window = plan.window;
    params.clock_budget = 3600;
    params.arity = plan.arities[0];
    eprintln!("  register {} (compile + Groth16 setup) ...", plan.name);
    let bar = indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template("  setup {bar:40} {pos}/{len} {msg}")
            .expect("a valid template"),
    );
    let b2 = bar.clone();
    let (first_id, prepared, tx) = ops::register(
        &env.owner,
        &env.home,
        &plan.onnx,
        &keys,
        Some(7),
        params.clone(),
        &mut move |done, total, what| {
            b2.set_length(total as u64);
            b2.set_position(done as u64);
            b2.set_message(what.to_string());
        },
    )
    .await?;
    bar.finish_and_clear();
    println!(
        "  registered: compile {:.1} s, setup {} ({} circuits, {} table leaves), register {} gas",
        prepared.compile_seconds,
        if prepared.setup_cached {
            "reused".to_string()
        } else {
            format!("{:.1} s", prepared.setup_seconds)
        },
        prepared.set.circuits.len(),
        prepared.set.entries.len(),
        tx.gas_used
    );
    let mut ids = vec![first_id];
    for &k in &plan.arities[1..] {
        let mut reg = prepared.registration.clone();
        reg.params.arity = k;
        ids.push(env.owner.register(&reg).await?.value);
    }

    // what every actor does once per model: fetch and check its artifacts
    let t = Instant::now();
    let model = env.owner.get_model(first_id).await?;
    let (store, cache) = (env.home.open_store()?, env.home.cache());
    tokio::task::spawn_blocking(move || zkopml_node::load_model(first_id, model, &store, &cache))
        .await??;
    let fetch_s = t.elapsed().as_secs_f64();

    let input = plan.onnx.with_file_name("input.json");
    let fee = U256::from(10_000_000_000_000_000u64);
    let requester = env.client(1)?;

    // the optimistic path: an honest answer, checked by the challenger, finalised
    eprintln!("  honest request (window {} s) ...", plan.window);
    let tag = |s: &str, k: u16| format!("{}-k{k}-{s}", plan.name);
    let k0 = plan.arities[0];
    let games_before = env.owner.game_count().await?;
    let sub = tokio::spawn(run_actor(
        env.client(2)?,
        env.actor(&tag("honest", k0), first_id, true, None),
    ));
    let ch = tokio::spawn(run_actor(
        env.client(3)?,
        env.actor(&tag("checker", k0), first_id, false, None),
    ));
    let (tx_r, cid) = ops::request(
        &requester,
        &env.home,
        first_id,
        &input,
        fee,
        3600,
        InputMode::Auto,
    )
    .await?;
    let ch = join(ch, "challenger", 600).await?;
    if env.owner.game_count().await? != games_before {
        bail!("the challenger disputed an honest answer");
    }
    let sub = join(sub, "honest submitter", 600 + plan.window).await?;
    if env.owner.get_request(tx_r.value).await?.status != Status::Finalized {
        bail!("the honest answer was not finalised");
    }
    let honest = Honest {
        by_cid: cid.is_some(),
        request_gas: tx_r.gas_used,
        submitter_trace_s: sum(&sub.log, &["trace"]).1,
        submit_gas: sum(&sub.log, &["commitResult", "submitResult"]).0,
        challenger_trace_s: sum(&ch.log, &["trace"]).1,
        window_s: plan.window,
        finalize_gas: sum(&sub.log, &["finalize", "claim"]).0,
        withdraw_gas: sum(&sub.log, &["withdraw"]).0,
    };

    let mut disputes = vec![];
    for (i, (&k, &id)) in plan.arities.iter().zip(&ids).enumerate() {
        eprintln!(
            "  dispute at k = {k}: defect at op {} chunk {} ...",
            plan.defect.op, plan.defect.chunk
        );
        let t = Instant::now();
        let bad = tokio::spawn(run_actor(
            env.client(4)?,
            env.actor(&tag("defective", k), id, true, Some(plan.defect)),
        ));
        let ch = tokio::spawn(run_actor(
            env.client(3)?,
            env.actor(&tag("challenger", k), id, false, None),
        ));
        let (tx_r, _) = ops::request(
            &requester,
            &env.home,
            id,
            &input,
            fee,
            3600,
            InputMode::Auto,
        )
        .await?;
        let ch = join(ch, "challenger", 1800).await?;
        let bad = join(bad, "defective submitter", 600).await?;
        let wall_s = t.elapsed().as_secs_f64();
        let gid = env.owner.game_count().await? - 1;
        let g = env.owner.get_game(gid).await?;
        if g.request_id != tx_r.value || g.outcome != Outcome::ChallengerWon {
            bail!(
                "game {gid} (request {}) ended {:?}, not won by the challenger",
                g.request_id,
                g.outcome
            );
        }
        let all: Vec<MoveRecord> = bad.log.iter().chain(&ch.log).cloned().collect();
        let game_txs = all.iter().filter(|m| m.game.is_some()).count();
        disputes.push(Dispute {
            k,
            op: plan.defect.op,
            chunk: plan.defect.chunk,
            predicted_rounds: plan.predicted[i],
            rounds: sum(&bad.log, &DEFENDER_ROUND).2 as u32,
            game_txs,
            request_gas: tx_r.gas_used,
            submitter_trace_s: sum(&bad.log, &["trace"]).1,
            submit_gas: sum(&bad.log, &["commitResult", "submitResult"]).0,
            challenger_trace_s: sum(&ch.log, &["trace"]).1,
            challenge_gas: sum(&ch.log, &["challenge"]).0,
            dissection_gas: sum(&all, &DISSECTION).0,
            prove_s: sum(&ch.log, &["proveStep"]).1,
            prove_gas: sum(&ch.log, &["proveStep"]).0,
            withdraw_gas: sum(&ch.log, &["withdraw"]).0,
            wall_s,
        });
    }
    Ok(ModelRun {
        circuits: prepared.set.circuits.len(),
        leaves: prepared.set.entries.len(),
        compile_s: prepared.compile_seconds,
        setup_s: prepared.setup_seconds,
        setup_reused: prepared.setup_cached,
        register_gas: tx.gas_used,
        fetch_s,
        honest,
        disputes,
    })
}

/// The per-phase table of one model.
pub fn print_phases(r: &ModelRun) {
    println!("  live, per phase (compute = off-chain seconds; gas of the phase's transactions):");
    println!("    {:<56} {:>10} {:>12}", "phase", "compute s", "gas");
    let setup = if r.setup_reused {
        "reused".to_string()
    } else {
        format!("{:.1}", r.compile_s + r.setup_s)
    };
    println!(
        "    {:<56} {:>10} {:>12}",
        format!(
            "register: compile + setup ({} circuits, {} leaves)",
            r.circuits, r.leaves
        ),
        setup,
        r.register_gas
    );
    println!(
        "    {:<56} {:>10.1} {:>12}",
        "actor: fetch + check artifacts", r.fetch_s, "-"
    );
    let h = &r.honest;
    let via = if h.by_cid { "by CID" } else { "inline" };
    println!(
        "    {:<56} {:>10} {:>12}",
        format!("honest: request (input {via})"),
        "-",
        h.request_gas
    );
    println!(
        "    {:<56} {:>10.2} {:>12}",
        "honest: submitter trace + commitResult + submitResult", h.submitter_trace_s, h.submit_gas
    );
    println!(
        "    {:<56} {:>10.2} {:>12}",
        "honest: challenger recomputes, agrees", h.challenger_trace_s, "-"
    );
    println!(
        "    {:<56} {:>10} {:>12}",
        format!(
            "honest: {} s window, claim (finalised, paid at once)",
            h.window_s
        ),
        "-",
        h.finalize_gas + h.withdraw_gas
    );
    println!(
        "    {:<56} {:>10} {:>12}",
        "honest path in all (request + commit + submit + claim)",
        "-",
        h.request_gas + h.submit_gas + h.finalize_gas + h.withdraw_gas
    );
    for d in &r.disputes {
        println!(
            "    dispute at k = {} (defect: op {} chunk {}): {} rounds played ({} predicted), {} game transactions, {:.1} s wall with zero windows",
            d.k, d.op, d.chunk, d.rounds, d.predicted_rounds, d.game_txs, d.wall_s
        );
        println!("      {:<54} {:>10} {:>12}", "request", "-", d.request_gas);
        println!(
            "      {:<54} {:>10.2} {:>12}",
            "defective trace + commitResult + submitResult", d.submitter_trace_s, d.submit_gas
        );
        println!(
            "      {:<54} {:>10.2} {:>12}",
            "challenger trace + challenge", d.challenger_trace_s, d.challenge_gas
        );
        println!(
            "      {:<54} {:>10} {:>12}",
            "dissection (both parties' moves)", "~0", d.dissection_gas
        );
        println!(
            "      {:<54} {:>10.2} {:>12}",
            "step proof + proveStep", d.prove_s, d.prove_gas
        );
        println!(
            "      {:<54} {:>10} {:>12}",
            "winner withdraws both bonds", "-", d.withdraw_gas
        );
        println!(
            "      {:<54} {:>10.2} {:>12}",
            "dispute total",
            d.submitter_trace_s + d.challenger_trace_s + d.prove_s,
            d.challenge_gas + d.dissection_gas + d.prove_gas + d.withdraw_gas
        );
    }
}
