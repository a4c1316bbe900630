//! The long-running actor: submitter/defender for the models it serves, challenger for the
//! models it watches, and housekeeping (finalize, claimTimeout, withdraw).
//!
//! The loop: poll the `EventStream`, record what each event teaches (requests with their inputs,
//! results, games, the defender's posted roots and nodes), save the state with the cursor after
//! each event, then `tick`: read every open request and game from the chain and make whatever
//! move is this actor's. Events only record facts and every action is decided from chain state,
//! so a restart (state + cursor reloaded) redoes nothing twice and misses nothing.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use tracing::{info, warn};
use zkopml_chain::{
    unpack_values, Address, Answer, Bytes, Chain, Event, EventRecord, Game, InputOpening, Phase,
    RequestRecord, ResultRecord, Status, StepProof, TensorMeta, B256, U256,
};
use zkopml_store::{ArtifactStore, TieredStore};

use crate::artifacts::{load_model, LoadedModel};
use crate::ceremony::{load_ceremony_model, Refused};
use crate::short;
use crate::state::{ActorState, GameState, RequestState};
use crate::trace::{
    compute, decode_input, input_from_canonical, input_root, tensor_meta, Computed, Defect,
};

/// What an actor does.
#[derive(Debug, Clone)]
pub struct ActorConfig {
    /// Name in logs.
    pub name: String,
    /// Where `state.json` lives.
    pub state_dir: PathBuf,
    /// The content-addressed store holding the models' artifacts (and stored inputs).
    pub store: PathBuf,
    /// The Kubo RPC API the store mirrors to and fetches missing artifacts from, if any.
    pub ipfs: Option<String>,
    /// Where fetched artifacts (proving keys) are unpacked.
    pub cache: PathBuf,
    /// Submitter (and defender) for these model ids.
    pub serve: Vec<u64>,
    /// Challenger for these model ids.
    pub watch: Vec<u64>,
    /// Compute traces with this defect (a wrong submitter, or a wrong challenger).
    pub defect: Option<Defect>,
    /// Serve (or check) one result, finish its games, withdraw, and return.
    pub once: bool,
    /// Stop moving in a game after this many moves (tests: the party that stops loses).
    pub stall_after: Option<u32>,
    /// Finalize any result it tracks once final (not only its own).
    pub housekeeping: bool,
    /// Pause between polls.
    pub poll: Duration,
    /// The Powers-of-Tau file the keys of ceremony models are verified against (without it,
    /// such models are refused).
    pub ptau: Option<PathBuf>,
}

impl ActorConfig {
    pub fn new(name: &str, state_dir: PathBuf, store: PathBuf, cache: PathBuf) -> Self {
        ActorConfig {
            name: name.to_string(),
            state_dir,
            store,
            ipfs: None,
            cache,
            serve: vec![],
            watch: vec![],
            defect: None,
            once: false,
            stall_after: None,
            housekeeping: true,
            poll: Duration::from_millis(250),
            ptau: None,
        }
    }
}

/// What an actor did, when it returns (`once`).
#[derive(Debug, Clone, Default)]
pub struct ActorSummary {
    /// Wei paid out to it: withdrawals and claims.
    pub withdrawn: U256,
    /// (game id, outcome) of the games it played.
    pub games: Vec<(u64, String)>,
    pub submitted: Vec<u64>,
    pub moves: u32,
    /// Models it refused to play, with why (keys that do not verify, …).
    pub refused: Vec<(u64, String)>,
    /// Every transaction and every heavy computation of this run, in order.
    pub log: Vec<MoveRecord>,
}

/// One transaction (with its gas) or one off-chain computation (trace, proof: with its time)
/// of an actor, for benchmarks and reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MoveRecord {
    /// The request it concerns (none for `withdraw`).
    pub request: Option<u64>,
    pub game: Option<u64>,
    /// The contract function, or `trace` (run + commit) for a computation without a transaction.
    pub mv: String,
    pub gas: u64,
    /// Off-chain seconds spent on it (the trace; the proof for `proveStep`).
    pub compute_s: f64,
}

struct Actor {
    chain: Chain,
    cfg: ActorConfig,
    me: Address,
    st: ActorState,
    store: TieredStore,
    models: HashMap<u64, Arc<LoadedModel>>,
    /// Models refused for good, with why.
    refused: HashMap<u64, String>,
    traces: HashMap<u64, Arc<Computed>>,
    log: Vec<MoveRecord>,
}

/// Runs an actor until it is done (`once`) or forever.
pub async fn run_actor(chain: Chain, cfg: ActorConfig) -> Result<ActorSummary> {
    let st = ActorState::load(&cfg.state_dir)?;
    let store = crate::ops::open_store(&cfg.store, cfg.ipfs.as_deref())?;
    let mut stream = chain.events();
    if let Some(c) = st.cursor {
        info!(actor = %cfg.name, block = c.block, "resuming from the saved cursor");
        stream = stream.from_cursor(c);
    }
    let mut a = Actor {
        me: chain.address(),
        chain,
        cfg,
        st,
        store,
        models: HashMap::new(),
        refused: HashMap::new(),
        traces: HashMap::new(),
        log: vec![],
    };
    loop {
        let evs = stream.poll().await?;
        for ev in &evs {
            a.handle(ev);
            a.st.cursor = Some(ev.cursor_after());
            a.save()?;
        }
        if a.st.cursor != Some(stream.cursor()) {
            a.st.cursor = Some(stream.cursor());
            a.save()?;
        }
        if let Err(e) = a.tick().await {
            if e.downcast_ref::<zkopml_chain::ChainError>()
                .is_some_and(|c| c.is_no_rpc())
            {
                return Err(e);
            }
            warn!(actor = %a.cfg.name, "{e:#}");
        }
        if a.cfg.once && a.finished().await? {
            return Ok(a.summary());
        }
        tokio::time::sleep(a.cfg.poll).await;
    }
}

fn u64_of(x: U256) -> u64 {
    x.try_into().unwrap_or(u64::MAX)
}

impl Actor {
    fn save(&self) -> Result<()> {
        self.st.save(&self.cfg.state_dir)
    }

    fn summary(&self) -> ActorSummary {
        ActorSummary {
            withdrawn: self.st.withdrawn.parse().unwrap_or_default(),
            games: self
                .st
                .games
                .iter()
                .map(|(id, g)| (*id, g.outcome.clone().unwrap_or_default()))
                .collect(),
            submitted: self
                .st
                .requests
                .iter()
                .filter(|(_, r)| r.submitted_nonce.is_some())
                .map(|(id, _)| *id)
                .collect(),
            refused: self
                .refused
                .iter()
                .map(|(m, why)| (*m, why.clone()))
                .collect(),
            moves: self.st.games.values().map(|g| g.moves).sum(),
            log: self.log.clone(),
        }
    }

    fn log(&mut self, request: Option<u64>, game: Option<u64>, mv: &str, gas: u64, compute_s: f64) {
        self.log.push(MoveRecord {
            request,
            game,
            mv: mv.to_string(),
            gas,
            compute_s,
        });
    }

    fn tracks(&self, model: u64) -> bool {
        self.cfg.serve.contains(&model) || self.cfg.watch.contains(&model)
    }

    /// Records what an event teaches; no transaction here.
    fn handle(&mut self, ev: &EventRecord) {
        match &ev.event {
            Event::InferenceRequested(e) => {
                let (rid, model) = (u64_of(e.requestId), u64_of(e.modelId));
                if self.tracks(model) {
                    let by_cid = !e.inputCid.is_empty();
                    info!(actor = %self.cfg.name, request = rid, model, fee = %e.fee, input_cid = %e.inputCid, "inference requested");
                    self.st.requests.entry(rid).or_insert(RequestState {
                        model_id: model,
                        input_cid: by_cid.then(|| e.inputCid.clone()),
                        input_root: e.inputRoot,
                        record: Some(RequestRecord::from_event(e)),
                        input_tx: ev.tx_hash,
                        ..Default::default()
                    });
                }
            }
            Event::InferenceInput(e) => {
                if let Some(r) = self.st.requests.get_mut(&u64_of(e.requestId)) {
                    r.input = unpack_values(&e.input).unwrap_or_default();
                }
            }
            Event::ResultSubmitted(e) => {
                if let Some(r) = self.st.requests.get_mut(&u64_of(e.requestId)) {
                    r.results.insert(e.resultNonce, e.finalRoot);
                    r.result_records
                        .insert(e.resultNonce, ResultRecord::from_event(e));
                    r.done = false;
                }
            }
            Event::GameCreated(e) => {
                let (me_def, me_ch) = (e.defender == self.me, e.challenger == self.me);
                if me_def || me_ch {
                    let gid = u64_of(e.gameId);
                    self.st.games.entry(gid).or_insert(GameState {
                        request_id: u64_of(e.requestId),
                        result_nonce: e.resultNonce,
                        defender: me_def,
                        defender_roots: vec![],
                        roots_at: (0, 0),
                        defender_nodes: vec![],
                        nodes_at: (0, 0),
                        moves: 0,
                        cannot_prove: false,
                        resolved: false,
                        outcome: None,
                    });
                }
            }
            Event::RootsPosted(e) if e.byDefender => {
                if let Some(g) = self.st.games.get_mut(&u64_of(e.gameId)) {
                    g.defender_roots = e.roots.clone();
                    g.roots_at = (e.lo, e.hi);
                }
            }
            Event::NodesPosted(e) if e.byDefender => {
                if let Some(g) = self.st.games.get_mut(&u64_of(e.gameId)) {
                    g.defender_nodes = e.nodes.clone();
                    g.nodes_at = (e.height, e.index);
                }
            }
            _ => {}
        }
    }

    async fn model(&mut self, id: u64) -> Result<Arc<LoadedModel>> {
        if let Some(m) = self.models.get(&id) {
            return Ok(m.clone());
        }
        if let Some(why) = self.refused.get(&id) {
            bail!("{why}");
        }
        let count = self.chain.model_count().await?;
        if id >= count {
            bail!("model id {id} is unknown (the registry holds {count} models)");
        }
        let chain_model = self.chain.get_model(id).await?;
        let view = crate::ops::ceremony_view(&self.chain, id).await?;
        let (store, cache) = (self.store.clone(), self.cfg.cache.clone());
        let loaded = if view.closes_at == 0 {
            tokio::task::spawn_blocking(move || load_model(id, chain_model, &store, &cache)).await?
        } else {
            let ptau = self.cfg.ptau.clone();
            info!(actor = %self.cfg.name, model = id, contributions = view.contributions, transcript = %short(view.transcript_hash.as_slice()), "loading a ceremony model: verifying its keys");
            tokio::task::spawn_blocking(move || {
                load_ceremony_model(id, chain_model, &view, &store, &cache, ptau.as_deref())
            })
            .await?
        };
        let m = match loaded {
            Ok(m) => Arc::new(m),
            Err(e) => {
                if let Some(r) = e.downcast_ref::<Refused>() {
                    // final: its requests are dropped (nothing bonded on them yet)
                    warn!(actor = %self.cfg.name, model = id, "{r}");
                    self.refused.insert(id, r.to_string());
                    for rs in self.st.requests.values_mut() {
                        if rs.model_id == id
                            && rs.submitted_nonce.is_none()
                            && rs.checked.is_empty()
                        {
                            rs.done = true;
                        }
                    }
                    self.save()?;
                }
                return Err(e);
            }
        };
        self.models.insert(id, m.clone());
        Ok(m)
    }

    async fn trace(&mut self, rid: u64) -> Result<Arc<Computed>> {
        if let Some(t) = self.traces.get(&rid) {
            return Ok(t.clone());
        }
        let r = self
            .st
            .requests
            .get(&rid)
            .ok_or_else(|| anyhow!("request {rid} is not tracked"))?
            .clone();
        let m = self.model(r.model_id).await?;
        let mut r = r;
        if r.input_cid.is_none() && r.input.is_empty() {
            // an inline input is in the request's calldata (or its InferenceInput event)
            match self.chain.inline_input(rid, r.input_tx).await? {
                Some(v) => {
                    r.input = v.clone();
                    self.st.requests.get_mut(&rid).unwrap().input = v;
                }
                None => {
                    self.st.requests.get_mut(&rid).unwrap().done = true;
                    self.save()?;
                    bail!("request {rid}: its inline input is in no calldata this node can read and in no InferenceInput event (the request is dropped)");
                }
            }
        }
        let defect = self.cfg.defect;
        let t0 = Instant::now();
        let store = self.store.clone();
        let c = tokio::task::spawn_blocking(move || -> Result<Computed> {
            let values = match &r.input_cid {
                Some(cid) => stored_input(&store, &m.program, cid, r.input_root)?,
                None => {
                    // the calldata is what the contract hashed, but check it: a node must not
                    // answer for an input other than the one the request committed to
                    if input_root(&m.program, &r.input)? != r.input_root {
                        bail!("the inline input read from the chain does not have the request's input root");
                    }
                    r.input
                }
            };
            let input = input_from_canonical(&m.program, &values)?;
            compute(&m.program, input, defect)
        })
        .await?;
        let c = match c {
            Ok(c) => c,
            Err(e) if fetch_failed(&e) => {
                // the store or the IPFS node may have it later: retried at the next tick
                return Err(e.context(format!("request {rid}: its input cannot be fetched yet")));
            }
            Err(e) => {
                // an input that does not match its root (or a model that cannot run it) never
                // will: the request is dropped, with no bond at stake
                if let Some(rs) = self.st.requests.get_mut(&rid) {
                    rs.done = true;
                }
                self.save()?;
                return Err(e.context(format!("request {rid}: no trace (the request is dropped)")));
            }
        };
        let secs = t0.elapsed().as_secs_f64();
        info!(actor = %self.cfg.name, request = rid, ms = (secs * 1e3) as u64, final_root = %short(c.final_root().as_slice()), defect = ?defect, "trace computed and committed");
        self.log(Some(rid), None, "trace", 0, secs);
        let c = Arc::new(c);
        self.traces.insert(rid, c.clone());
        Ok(c)
    }

    /// The time the next block will (at least) have: the latest block's timestamp, or the wall
    /// clock when later (anvil mines only on transactions, so its latest block can be old).
    async fn now(&self) -> Result<u64> {
        let chain = self.chain.timestamp().await?;
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Ok(chain.max(wall))
    }

    async fn tick(&mut self) -> Result<()> {
        let now = self.now().await?;
        let ids: Vec<u64> = self
            .st
            .requests
            .iter()
            .filter(|(_, r)| !r.done)
            .map(|(id, _)| *id)
            .collect();
        for rid in ids {
            self.tick_request(rid, now).await?;
        }
        let gids: Vec<u64> = self
            .st
            .games
            .iter()
            .filter(|(_, g)| !g.resolved)
            .map(|(id, _)| *id)
            .collect();
        for gid in gids {
            self.tick_game(gid).await?;
        }
        let credits = self.chain.credits(self.me).await?;
        if credits > U256::ZERO {
            let tx = self.chain.withdraw().await?;
            let total: U256 = self.st.withdrawn.parse().unwrap_or_default();
            self.st.withdrawn = (total + tx.value).to_string();
            self.save()?;
            info!(actor = %self.cfg.name, amount = %tx.value, gas = tx.gas_used, "withdraw");
            self.log(None, None, "withdraw", tx.gas_used, 0.0);
        }
        Ok(())
    }

    async fn tick_request(&mut self, rid: u64, now: u64) -> Result<()> {
        let r = self.st.requests[&rid].clone();
        let req = self.chain.get_request(rid).await?;
        let serve = self.cfg.serve.contains(&r.model_id);
        let watch = self.cfg.watch.contains(&r.model_id);
        let served = self
            .st
            .requests
            .values()
            .filter(|r| r.submitted_nonce.is_some())
            .count();
        let checked = self
            .st
            .requests
            .values()
            .filter(|r| !r.checked.is_empty())
            .count();

        // submitter: answer an open request once
        if serve && r.submitted_nonce.is_none() && !(self.cfg.once && served > 0) {
            match req.status {
                Status::Open if now < req.deadline => {
                    let m = self.model(r.model_id).await?;
                    let c = self.trace(rid).await?;
                    let n = m.program.n_ops();
                    let bond = m.chain.params.submitter_bond;
                    let answer = answer_of(&c, n);
                    // commit, then submit in a later block (a copied submitResult has no commitment)
                    let ctx = self.chain.commit_result(rid, c.final_root()).await?;
                    info!(actor = %self.cfg.name, request = rid, mv = "commitResult", gas = ctx.gas_used, "result committed");
                    self.log(Some(rid), None, "commitResult", ctx.gas_used, 0.0);
                    let tx = self.chain.submit_result(rid, &answer, bond).await?;
                    info!(actor = %self.cfg.name, request = rid, mv = "submitResult", gas = tx.gas_used, nonce = tx.value, final_root = %short(c.final_root().as_slice()), output = ?c.output_values(), "result submitted");
                    self.log(Some(rid), None, "submitResult", tx.gas_used, 0.0);
                    self.st.requests.get_mut(&rid).unwrap().submitted_nonce = Some(tx.value);
                    self.save()?;
                }
                Status::Submitted
                    // a restart after our submitResult was mined but before it was saved
                    if self.own_live_result(rid).await? => {
                        self.st.requests.get_mut(&rid).unwrap().submitted_nonce =
                            Some(req.result_nonce);
                        self.save()?;
                    }
                _ => {}
            }
        }

        // challenger: check each live result once
        if watch
            && req.status == Status::Submitted
            && !r.checked.contains(&req.result_nonce)
            && !(self.cfg.once && checked > 0)
        {
            let nonce = req.result_nonce;
            let res = self.result_record(rid, nonce).await?;
            let already = self
                .st
                .games
                .values()
                .any(|g| !g.defender && g.request_id == rid && g.result_nonce == nonce);
            if res.submitter != self.me && !already {
                let m = self.model(r.model_id).await?;
                let c = self.trace(rid).await?;
                if c.final_root() == res.final_root {
                    info!(actor = %self.cfg.name, request = rid, nonce, "result checked: agrees with our trace");
                } else if now >= req.challenge_deadline {
                    warn!(actor = %self.cfg.name, request = rid, nonce, "result differs from our trace but the challenge window has closed");
                } else {
                    let bond = m.chain.params.challenger_bond;
                    let rq = self.request_record(rid)?;
                    let tx = self
                        .chain
                        .challenge(rid, &rq, &res, c.final_root(), bond)
                        .await?;
                    info!(actor = %self.cfg.name, request = rid, game = tx.value, mv = "challenge", gas = tx.gas_used, theirs = %short(res.final_root.as_slice()), ours = %short(c.final_root().as_slice()), "result differs from our trace: challenged");
                    self.log(Some(rid), Some(tx.value), "challenge", tx.gas_used, 0.0);
                    self.st.games.entry(tx.value).or_insert(GameState {
                        request_id: rid,
                        result_nonce: nonce,
                        defender: false,
                        defender_roots: vec![],
                        roots_at: (0, 0),
                        defender_nodes: vec![],
                        nodes_at: (0, 0),
                        moves: 0,
                        cannot_prove: false,
                        resolved: false,
                        outcome: None,
                    });
                }
            }
            self.st.requests.get_mut(&rid).unwrap().checked.push(nonce);
            self.save()?;
        }

        // housekeeping: finalize a final result (our own, or any when housekeeping)
        if req.status == Status::Submitted {
            let res = self.result_record(rid, req.result_nonce).await?;
            let mine = res.submitter == self.me;
            // another's result: a housekeeper waits one more window, so that the submitter's own
            // claim (paid at once, no withdraw) comes first
            let grace = if mine {
                0
            } else {
                self.model(r.model_id).await?.chain.params.challenge_window
            };
            if now >= req.challenge_deadline.saturating_add(grace)
                && req.active_games == 0
                && (mine || self.cfg.housekeeping)
            {
                let rq = self.request_record(rid)?;
                // our own result: claim (finalised and paid at once); another's: finalize
                let (mv, sent) = if mine {
                    ("claim", self.chain.claim(rid, &rq, &res).await)
                } else {
                    ("finalize", self.chain.finalize(rid, &rq, &res).await)
                };
                match sent {
                    Ok(tx) => {
                        if mv == "claim" {
                            // paid at once: counted with what this actor withdrew
                            let total: U256 = self.st.withdrawn.parse().unwrap_or_default();
                            self.st.withdrawn = (total + rq.fee + res.bond).to_string();
                            self.save()?;
                        }
                        info!(actor = %self.cfg.name, request = rid, mv, gas = tx.gas_used, "result finalized");
                        self.log(Some(rid), None, mv, tx.gas_used, 0.0);
                    }
                    Err(e) if e.revert().is_some() => {} // someone else was first
                    Err(e) => return Err(e.into()),
                }
            }
        }
        if matches!(req.status, Status::Finalized | Status::Refunded) {
            self.st.requests.get_mut(&rid).unwrap().done = true;
            self.save()?;
        }
        Ok(())
    }

    /// The request's record, from its InferenceRequested event.
    fn request_record(&self, rid: u64) -> Result<RequestRecord> {
        self.st.requests[&rid]
            .record
            .clone()
            .ok_or_else(|| anyhow!("request {rid}: its InferenceRequested record was not seen"))
    }

    /// The record of result `nonce`, from its ResultSubmitted event (or the chain's logs).
    async fn result_record(&mut self, rid: u64, nonce: u32) -> Result<ResultRecord> {
        if let Some(r) = self.st.requests[&rid].result_records.get(&nonce) {
            return Ok(r.clone());
        }
        let (r, n, _) = self
            .chain
            .result_record(rid)
            .await?
            .ok_or_else(|| anyhow!("request {rid} has no live result"))?;
        if n != nonce {
            bail!("request {rid}: the live result is nonce {n}, not {nonce}");
        }
        self.st
            .requests
            .get_mut(&rid)
            .unwrap()
            .result_records
            .insert(nonce, r.clone());
        Ok(r)
    }

    /// Whether the live result of `rid` is ours (the chain's record names us).
    async fn own_live_result(&mut self, rid: u64) -> Result<bool> {
        Ok(self
            .chain
            .result_record(rid)
            .await?
            .is_some_and(|(r, _, _)| r.submitter == self.me))
    }

    async fn tick_game(&mut self, gid: u64) -> Result<()> {
        let g = self.chain.get_game(gid).await?;
        let gs = self.st.games[&gid].clone();
        let who = if gs.defender {
            "defender"
        } else {
            "challenger"
        };
        if g.phase == Phase::Resolved {
            let gm = self.st.games.get_mut(&gid).unwrap();
            gm.resolved = true;
            gm.outcome = Some(format!("{:?}", g.outcome));
            self.save()?;
            info!(actor = %self.cfg.name, game = gid, role = who, outcome = ?g.outcome, "game resolved");
            return Ok(());
        }
        // A game whose result another game rejected meanwhile goes on to its end (docs/protocol.md,
        // "Bond rule"): a challenger that wins it is paid its share of the bond.
        if g.phase == Phase::DefenderProof && g.index >= g.num_chunks {
            let tx = self.chain.resolve_padding(gid).await?;
            info!(actor = %self.cfg.name, game = gid, mv = "resolvePadding", gas = tx.gas_used, "padding leaf settled");
            self.log(
                Some(g.request_id),
                Some(gid),
                "resolvePadding",
                tx.gas_used,
                0.0,
            );
            return Ok(());
        }
        let defender_to_move = g.phase.defender_to_move();
        let my_turn = defender_to_move == gs.defender;
        let stalled = self.cfg.stall_after.is_some_and(|s| gs.moves >= s);
        if stalled && my_turn {
            return Ok(()); // deliberately silent (tests): our clock runs out
        }
        if my_turn && !gs.cannot_prove {
            self.play(gid, &g, &gs).await?;
        } else if g.phase == Phase::DefenderProof && !gs.defender && !gs.cannot_prove && !stalled {
            // anyone may prove: the challenger proves the true digest of the disputed chunk
            self.prove(gid, &g, &gs).await?;
        } else if !my_turn {
            // the mover's clock at the next block (the view `clocks` reads the latest block's time)
            let used = if defender_to_move {
                g.defender_clock
            } else {
                g.challenger_clock
            } + self.now().await?.saturating_sub(g.last_move_at);
            if used > g.clock_budget {
                match self.chain.claim_timeout(gid).await {
                    Ok(tx) => {
                        info!(actor = %self.cfg.name, game = gid, mv = "claimTimeout", gas = tx.gas_used, "the other party's clock ran out");
                        self.log(
                            Some(g.request_id),
                            Some(gid),
                            "claimTimeout",
                            tx.gas_used,
                            0.0,
                        );
                    }
                    Err(e) if e.revert_name() == Some("NotExpired") => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(())
    }

    fn moved(&mut self, gid: u64) -> Result<()> {
        self.st.games.get_mut(&gid).unwrap().moves += 1;
        self.save()
    }

    async fn play(&mut self, gid: u64, g: &Game, gs: &GameState) -> Result<()> {
        let c = self.trace(gs.request_id).await?;
        let model_id = self.st.requests[&gs.request_id].model_id;
        let m = self.model(model_id).await?;
        let name = self.cfg.name.clone();
        match g.phase {
            Phase::DefenderRoots | Phase::ChallengerRoots => {
                let ps = self.chain.positions(gid).await?;
                let mine: Vec<B256> = ps.iter().map(|&p| c.state_root(p as usize)).collect();
                let tx = if g.phase == Phase::DefenderRoots {
                    self.chain.post_roots(gid, &mine).await?
                } else {
                    if gs.defender_roots.len() != ps.len() || gs.roots_at != (g.lo, g.hi) {
                        return Ok(()); // the defender's RootsPosted not seen yet
                    }
                    self.chain
                        .post_counter_roots(gid, &gs.defender_roots, &mine)
                        .await?
                };
                let mv = if g.phase == Phase::DefenderRoots {
                    "postRoots"
                } else {
                    "postCounterRoots"
                };
                info!(actor = %name, game = gid, mv, gas = tx.gas_used, lo = g.lo, hi = g.hi, positions = ?ps, "roots posted");
                self.log(Some(gs.request_id), Some(gid), mv, tx.gas_used, 0.0);
            }
            Phase::DefenderReveal | Phase::ChallengerReveal => {
                let i = g.hi as usize;
                let tc = &c.commitment.tensors[i];
                let chunks_root = B256::from(tc.chunks.root());
                let siblings: Vec<B256> = c
                    .commitment
                    .state_path(i, i)
                    .into_iter()
                    .map(B256::from)
                    .collect();
                let tx = if g.phase == Phase::DefenderReveal {
                    let meta = tensor_meta(m.program.slot_spec(i));
                    let meta_path: Vec<B256> = m.meta.path(i).into_iter().map(B256::from).collect();
                    self.chain
                        .reveal_tensor(gid, &meta, chunks_root, &meta_path, &siblings)
                        .await?
                } else {
                    self.chain
                        .reveal_counter_tensor(gid, chunks_root, &siblings)
                        .await?
                };
                let mv = if g.phase == Phase::DefenderReveal {
                    "revealTensor"
                } else {
                    "revealCounterTensor"
                };
                info!(actor = %name, game = gid, mv, gas = tx.gas_used, op = i, chunks = tc.leaves.len(), chunks_root = %short(chunks_root.as_slice()), "tensor revealed");
                self.log(Some(gs.request_id), Some(gid), mv, tx.gas_used, 0.0);
            }
            Phase::DefenderNodes | Phase::ChallengerNodes => {
                let mstep = self.chain.chunk_step(gid).await? as usize;
                let tree = &c.commitment.tensors[g.hi as usize].chunks;
                let h = g.height as usize - mstep;
                let nodes: Vec<B256> = (0..1usize << mstep)
                    .map(|t| B256::from(tree.node(h, ((g.index as usize) << mstep) + t)))
                    .collect();
                let tx = if g.phase == Phase::DefenderNodes {
                    self.chain.post_nodes(gid, &nodes).await?
                } else {
                    if gs.defender_nodes.len() != nodes.len() || gs.nodes_at != (g.height, g.index)
                    {
                        return Ok(());
                    }
                    self.chain
                        .post_counter_nodes(gid, &gs.defender_nodes, &nodes)
                        .await?
                };
                let mv = if g.phase == Phase::DefenderNodes {
                    "postNodes"
                } else {
                    "postCounterNodes"
                };
                info!(actor = %name, game = gid, mv, gas = tx.gas_used, op = g.hi, height = g.height, index = g.index, "chunk nodes posted");
                self.log(Some(gs.request_id), Some(gid), mv, tx.gas_used, 0.0);
            }
            Phase::DefenderProof => return self.prove(gid, g, gs).await,
            _ => return Ok(()),
        }
        self.moved(gid)
    }

    /// Proves the disputed (op, chunk) from our trace; posts it if it settles the game our way.
    async fn prove(&mut self, gid: u64, g: &Game, gs: &GameState) -> Result<()> {
        let c = self.trace(gs.request_id).await?;
        let model_id = self.st.requests[&gs.request_id].model_id;
        let m = self.model(model_id).await?;
        let (op, chunk) = (g.hi as usize, g.index as usize);
        let t0 = Instant::now();
        let bar = crate::is_tty().then(|| {
            let b = indicatif::ProgressBar::new_spinner();
            b.set_message(format!("[{}] proving op {op} chunk {chunk}", self.cfg.name));
            b.enable_steady_tick(Duration::from_millis(120));
            b
        });
        let prover = m.clone();
        let step = tokio::task::spawn_blocking(move || {
            let m = prover;
            m.set.prove_step(
                &m.keys_dir,
                &m.program,
                &c.trace.slots,
                &c.commitment,
                op,
                chunk,
                &mut zkopml_zk::groth16::os_rng(),
            )
        })
        .await??;
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        let secs = t0.elapsed().as_secs_f64();
        let sp = to_chain_step(&step, &m.program)?;
        let digest = B256::from(sp.output_digest);
        // The defender's leaf is the output digest, except at op n where it is the keccak of
        // the output chunk's packed bytes (a boundary tensor).
        let leaf = B256::from(step.output_leaf()?);
        let wins_for_me = if gs.defender {
            leaf == g.defender_root
        } else {
            leaf != g.defender_root
        };
        if !wins_for_me {
            let gm = self.st.games.get_mut(&gid).unwrap();
            gm.cannot_prove = true;
            self.save()?;
            warn!(actor = %self.cfg.name, game = gid, op, chunk, proved = %short(leaf.as_slice()), defender_leaf = %short(g.defender_root.as_slice()),
                "the circuit's output for the disputed chunk does not support our claim: we cannot prove it and will lose this game");
            return Ok(());
        }
        let tx = self.chain.prove_step(gid, &sp).await?;
        info!(actor = %self.cfg.name, game = gid, mv = "proveStep", gas = tx.gas_used, op, chunk, prove_s = format!("{secs:.2}"), digest = %short(digest.as_slice()), "step proof posted");
        self.log(
            Some(gs.request_id),
            Some(gid),
            "proveStep",
            tx.gas_used,
            secs,
        );
        self.moved(gid)
    }

    async fn finished(&mut self) -> Result<bool> {
        let served = self
            .st
            .requests
            .values()
            .any(|r| r.submitted_nonce.is_some());
        let checked = self.st.requests.values().any(|r| !r.checked.is_empty());
        if !(served || checked) || self.st.games.values().any(|g| !g.resolved) {
            return Ok(false);
        }
        for (rid, r) in &self.st.requests {
            if let Some(n) = r.submitted_nonce {
                let req = self.chain.get_request(*rid).await?;
                if req.status == Status::Submitted && req.result_nonce == n {
                    return Ok(false);
                }
            }
        }
        Ok(self.chain.credits(self.me).await? == U256::ZERO)
    }
}

/// Whether `e` is a failure to fetch from the store (missing, I/O, the IPFS node unreachable),
/// which may pass, rather than bad data, which will not.
fn fetch_failed(e: &anyhow::Error) -> bool {
    use zkopml_store::Error as S;
    e.chain().any(|c| {
        c.downcast_ref::<S>()
            .is_some_and(|s| matches!(s, S::NotFound { .. } | S::Io { .. } | S::Http { .. }))
    })
}

/// The input of a request by CID, fetched from the store (which checks the bytes against the
/// CID) and checked against the request's tensor root.
fn stored_input(
    store: &dyn ArtifactStore,
    program: &zkopml_model::Program,
    cid: &str,
    root: B256,
) -> Result<Vec<i32>> {
    let c: zkopml_store::Cid = cid
        .parse()
        .with_context(|| format!("the request's input CID {cid:?}"))?;
    let bytes = store
        .get(&c)
        .with_context(|| format!("fetching the request's input {cid}"))?;
    let values = decode_input(&bytes).with_context(|| format!("the input stored under {cid}"))?;
    let got = input_root(program, &values)?;
    if got != root {
        bail!(
            "the input stored under {cid} has tensor root {}, the request names {}",
            short(got.as_slice()),
            short(root.as_slice())
        );
    }
    Ok(values)
}

/// The largest output a submitter posts inline (as packed bytes, about 52 gas a value):
/// MobileNetV2's 1,000 logits fit; a larger output is bound by its root only, and a reader
/// computes it from the input (docs/gas.md "Honest path per model").
pub const INLINE_OUTPUT_MAX: usize = 1024;

/// What a submitter posts for trace `c` of an `n`-operator model.
pub fn answer_of(c: &Computed, n: usize) -> Answer {
    let output = c.output_values();
    Answer {
        final_root: c.final_root(),
        output_root: B256::from(c.commitment.tensors[n].root),
        output_path: c
            .commitment
            .state_path(n, n)
            .into_iter()
            .map(B256::from)
            .collect(),
        output: if output.len() <= INLINE_OUTPUT_MAX {
            output
        } else {
            vec![]
        },
    }
}

fn hex_bytes(h: Option<&str>) -> Result<Bytes> {
    Ok(match h {
        Some(h) => Bytes::from(hex::decode(h.trim_start_matches("0x"))?),
        None => Bytes::new(),
    })
}

fn word(h: &str) -> Result<B256> {
    h.parse::<B256>().map_err(|e| anyhow!("bad word {h}: {e}"))
}

fn uword(h: &str) -> Result<U256> {
    Ok(U256::from_be_bytes(word(h)?.0))
}

/// The prover's hex `StepProof` as the chain adapter's typed one; each input opening carries
/// its slot's geometry from `program` (checked against the prover's metaHash).
pub fn to_chain_step(
    s: &zkopml_zk::circuit_set::StepProof,
    program: &zkopml_model::Program,
) -> Result<StepProof> {
    let words = |v: &[String]| v.iter().map(|h| word(h)).collect::<Result<Vec<_>>>();
    let proof: Vec<U256> = s.proof.iter().map(|h| uword(h)).collect::<Result<_>>()?;
    Ok(StepProof {
        vk: Bytes::from(hex::decode(s.vk.trim_start_matches("0x"))?),
        input_slots: s.input_slots.iter().map(|&x| U256::from(x)).collect(),
        input_chunks: s.input_chunks.iter().map(|&x| U256::from(x)).collect(),
        leaf_index: U256::from(s.leaf_index),
        circuit_path: words(&s.circuit_path)?,
        inputs: s
            .inputs
            .iter()
            .zip(&s.input_slots)
            .map(|(o, &slot)| {
                let n = program.n_ops();
                if slot > 2 * n {
                    bail!("a step proof reads slot {slot}; the model has slots 0..={n} and weight slots up to {}", 2 * n);
                }
                if slot > n {
                    // a weight block (docs/commitments.md "Weights root"): no geometry
                    if word(&o.meta_hash)? != B256::ZERO || o.values.is_some() {
                        bail!("the step proof's weight block of slot {slot} has a metaHash or values");
                    }
                    return Ok(InputOpening {
                        meta: TensorMeta {
                            dims: Vec::new(),
                            scale: 0,
                            chunk_len: 0,
                        },
                        digest: uword(&o.digest)?,
                        values: Bytes::new(),
                        chunk_path: words(&o.chunk_path)?,
                        state_path: words(&o.state_path)?,
                    });
                }
                let meta = tensor_meta(program.slot_spec(slot as usize));
                if meta.meta_hash() != word(&o.meta_hash)? {
                    bail!("the step proof's metaHash of slot {slot} is not the program's");
                }
                Ok(InputOpening {
                    meta,
                    digest: uword(&o.digest)?,
                    values: hex_bytes(o.values.as_deref())?,
                    chunk_path: words(&o.chunk_path)?,
                    state_path: words(&o.state_path)?,
                })
            })
            .collect::<Result<_>>()?,
        output_digest: uword(&s.output_digest)?,
        output_values: hex_bytes(s.output_values.as_deref())?,
        proof: proof
            .try_into()
            .map_err(|_| anyhow!("a proof is 8 words"))?,
    })
}
