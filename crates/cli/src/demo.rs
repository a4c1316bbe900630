//! `zkopml demo`: anvil, contracts, LeNet registered, the actors as separate processes, an
//! honest answer finalised, a defective one caught and settled by a proof on chain.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use zkopml_chain::{Chain, Event, Phase, Status, U256};
use zkopml_node::devnet::{Anvil, KEYS};
use zkopml_node::ops::{self, Home};
use zkopml_node::short;

#[derive(Args)]
pub struct DemoArgs {
    /// The demo's home (deployment, store, keys, actor state, logs); the keys are reused.
    #[arg(long, default_value = "target/demo-chain")]
    pub dir: PathBuf,
    /// The model (the seed's LeNet-5).
    #[arg(long, default_value = "testdata/models/lenet_5/network.onnx")]
    pub model: PathBuf,
    /// Challenge window in seconds (short, so the honest result finalises quickly).
    #[arg(long, default_value_t = 8)]
    pub window: u64,
    /// The defective submitter's wrong operator and chunk.
    #[arg(long, default_value_t = 5)]
    pub defect_op: usize,
    #[arg(long, default_value_t = 3)]
    pub defect_chunk: usize,
}

struct Phases {
    rows: Vec<(String, f64, u64, String)>,
}

impl Phases {
    async fn record(
        &mut self,
        chain: &Chain,
        name: &str,
        t0: Instant,
        from_block: u64,
        note: String,
    ) -> Result<u64> {
        let to = chain.block_number().await?;
        let gas = if to >= from_block {
            ops::gas_in_blocks(chain, from_block, to).await?
        } else {
            0
        };
        self.rows
            .push((name.to_string(), t0.elapsed().as_secs_f64(), gas, note));
        Ok(to + 1)
    }
}

struct Proc {
    name: String,
    child: Child,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_actor(home: &Home, url: &str, key: &str, name: &str, args: &[&str]) -> Result<Proc> {
    let logs = home.dir.join("logs");
    std::fs::create_dir_all(&logs)?;
    let log = std::fs::File::create(logs.join(format!("{name}.log")))?;
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    if let Some(api) = &home.ipfs {
        cmd.args(["--ipfs", api]);
    }
    let child = cmd
        .arg("--home")
        .arg(&home.dir)
        .args(["--rpc", url])
        .args(args)
        .args(["--name", name, "--poll-ms", "200"])
        // the key through the environment, not argv: out of the process list (docs/node.md)
        .env(crate::keys::ENV_KEY, key)
        .env("RUST_LOG", "info,alloy=warn,hyper=warn,reqwest=warn")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("starting the {name} process"))?;
    println!(
        "   started {name} (pid {}), log {}",
        child.id(),
        logs.join(format!("{name}.log")).display()
    );
    Ok(Proc {
        name: name.to_string(),
        child,
    })
}

async fn wait_for<F, Fut>(what: &str, secs: u64, mut f: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    let t0 = Instant::now();
    while !f().await? {
        if t0.elapsed() > Duration::from_secs(secs) {
            bail!("timed out after {secs} s waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

fn wait_exit(p: &mut Proc, secs: u64) -> Result<()> {
    let t0 = Instant::now();
    loop {
        if let Some(st) = p.child.try_wait()? {
            if !st.success() {
                bail!("the {} process failed ({st}); see its log", p.name);
            }
            return Ok(());
        }
        if t0.elapsed() > Duration::from_secs(secs) {
            bail!("the {} process did not finish within {secs} s", p.name);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub async fn demo(_net: &crate::chain::Net, a: DemoArgs) -> Result<()> {
    let started = Instant::now();
    let home = Home::new(a.dir.clone()).with_ipfs(_net.home.ipfs.clone());
    for sub in ["actors", "logs", "deployment.json", "cache"] {
        let p = home.dir.join(sub);
        if p.is_dir() {
            std::fs::remove_dir_all(&p)?;
        } else if p.exists() {
            std::fs::remove_file(&p)?;
        }
    }
    std::fs::create_dir_all(&home.dir)?;
    let input = a.model.with_file_name("input.json");
    let mut phases = Phases { rows: vec![] };

    println!("== 1. devnet: anvil on 127.0.0.1 and the contracts");
    let t = Instant::now();
    let anvil = Anvil::start(None)?;
    let url = anvil.url();
    let owner = ops::deploy(&url, KEYS[0], &home).await?;
    let d = owner.deployment().clone();
    println!(
        "   anvil {url}; registry {}, manager {}, game {}, verifier {}",
        d.registry, d.manager, d.game, d.verifier
    );
    let mut next = phases
        .record(
            &owner,
            "deploy (5 contracts + setGame)",
            t,
            1,
            String::new(),
        )
        .await?;

    println!(
        "== 2. register {} (compile, Groth16 setup with an insecure devnet seed, store, register)",
        a.model.display()
    );
    let t = Instant::now();
    let mut params = ops::default_params();
    params.challenge_window = a.window;
    params.clock_budget = 300;
    let keys = home.keys(&a.model);
    let bar = crate::chain::setup_bar();
    let b2 = bar.clone();
    let (model_id, p, _) = ops::register(
        &owner,
        &home,
        &a.model,
        &keys,
        Some(7),
        params.clone(),
        &mut move |done, total, what| {
            if let Some(b) = &b2 {
                b.set_length(total as u64);
                b.set_position(done as u64);
                b.set_message(what.to_string());
            }
        },
    )
    .await?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let setup_note = if p.setup_cached {
        "setup reused from an earlier run".to_string()
    } else {
        format!("setup {:.1} s", p.setup_seconds)
    };
    println!(
        "   model {model_id}: {} ops, {} circuits / {} table leaves ({setup_note}), k={} N={} window {} s, clock {} s, bonds {} / {} wei",
        p.program.n_ops(),
        p.set.circuits.len(),
        p.set.entries.len(),
        params.arity,
        params.max_group,
        params.challenge_window,
        params.clock_budget,
        params.submitter_bond,
        params.challenger_bond
    );
    next = phases
        .record(
            &owner,
            "register (compile + setup + tx)",
            t,
            next,
            setup_note,
        )
        .await?;

    println!("== 3. actors, each its own process: a challenger watching model {model_id}, an honest submitter");
    let _challenger = spawn_actor(
        &home,
        &url,
        KEYS[3],
        "challenger",
        &["challenge", &model_id.to_string()],
    )?;
    let mut honest = spawn_actor(
        &home,
        &url,
        KEYS[2],
        "submitter",
        &["submit", &model_id.to_string(), "--once"],
    )?;

    println!(
        "== 4. an honest request: answered, unchallenged, finalised after the {} s window",
        a.window
    );
    let t = Instant::now();
    let requester = owner.with_private_key(KEYS[1])?;
    let fee = U256::from(10_000_000_000_000_000u64);
    let send = || {
        ops::request(
            &requester,
            &home,
            model_id,
            &input,
            fee,
            3600,
            ops::InputMode::Auto,
        )
    };
    let r0 = send().await?.0.value;
    println!("   request {r0} sent ({})", input.display());
    wait_for("the honest result to be finalised", 300, || {
        let c = owner.clone();
        async move { Ok(c.get_request(r0).await?.status == Status::Finalized) }
    })
    .await?;
    let out = owner.final_output(r0).await?;
    let argmax = out
        .iter()
        .enumerate()
        .max_by_key(|(_, v)| **v)
        .map(|(i, _)| i)
        .unwrap_or(0);
    println!("   request {r0} finalised: output {out:?} (class {argmax})");
    let mut honest_gas = 0u64;
    let mut line = Vec::new();
    for (f, h) in owner.honest_path_txs(r0).await? {
        let g = ops::gas_of_tx(&owner, h).await?;
        honest_gas += g;
        line.push(format!("{f} {g}"));
    }
    println!(
        "   honest path: {} = {honest_gas} gas in all (no Poseidon on chain: docs/gas.md \"Honest path per model\")",
        line.join(" + ")
    );
    wait_exit(&mut honest, 60)?;
    next = phases
        .record(
            &owner,
            "honest request -> finalised",
            t,
            next,
            format!(
                "window {} s; the honest path's own transactions {honest_gas} gas",
                a.window
            ),
        )
        .await?;

    println!(
        "== 5. a defective submitter (op {} chunk {} off by one) answers the next request",
        a.defect_op, a.defect_chunk
    );
    let t = Instant::now();
    let mut bad = spawn_actor(
        &home,
        &url,
        KEYS[4],
        "submitter-defective",
        &[
            "submit",
            &model_id.to_string(),
            "--once",
            "--defect-op",
            &a.defect_op.to_string(),
            "--defect-chunk",
            &a.defect_chunk.to_string(),
        ],
    )?;
    let r1 = send().await?.0.value;
    println!("   request {r1} sent");
    wait_for("the wrong result to be challenged", 120, || {
        let c = owner.clone();
        async move { Ok(c.game_count().await? > 0) }
    })
    .await?;
    let gid = owner.game_count().await? - 1;
    println!("   the challenger opened game {gid}; playing …");
    wait_for("the game to be resolved", 1200, || {
        let c = owner.clone();
        async move { Ok(c.get_game(gid).await?.phase == Phase::Resolved) }
    })
    .await?;
    let ch_addr = zkopml_node::devnet_address(KEYS[3])?;
    wait_exit(&mut bad, 300)?;
    wait_for("the challenger to withdraw its winnings", 60, || {
        let c = owner.clone();
        async move { Ok(c.credits(ch_addr).await? == U256::ZERO) }
    })
    .await?;
    next = phases
        .record(
            &owner,
            "defective result -> challenged, dissected, proved",
            t,
            next,
            String::new(),
        )
        .await?;

    print_game(&owner, gid).await?;

    let g = owner.get_game(gid).await?;
    let req = owner.get_request(r1).await?;
    println!("== 7. outcome");
    println!("   game {gid}: {:?}; request {r1} is {:?} again (deadline {}), so someone can answer it rightly or the requester is refunded", g.outcome, req.status, req.deadline);
    let withdrawn = withdrawn_by(&owner, ch_addr).await?;
    println!("   the challenger ({}) withdrew {} wei in total: its bond back + half the defective submitter's bond (the other half is burned)", short(ch_addr.as_slice()), withdrawn);

    println!(
        "== 8. the reopened request {r1}: another submitter answers it, the challenger agrees, finalised after the {} s window",
        a.window
    );
    let t = Instant::now();
    let mut again = spawn_actor(
        &home,
        &url,
        KEYS[5],
        "submitter-2",
        &["submit", &model_id.to_string(), "--once"],
    )?;
    wait_for("the reopened request to be finalised", 300, || {
        let c = owner.clone();
        async move { Ok(c.get_request(r1).await?.status == Status::Finalized) }
    })
    .await?;
    wait_exit(&mut again, 60)?;
    println!(
        "   request {r1} finalised: output {:?}",
        owner.final_output(r1).await?
    );
    phases
        .record(
            &owner,
            "reopened request -> answered again, finalised",
            t,
            next,
            format!("window {} s", a.window),
        )
        .await?;

    println!("\n== wall time and gas per phase");
    println!("{:<52} {:>9} {:>12}  note", "phase", "wall s", "gas");
    for (name, secs, gas, note) in &phases.rows {
        println!("{name:<52} {secs:>9.1} {gas:>12}  {note}");
    }
    println!("{:<52} {:>9.1}", "total", started.elapsed().as_secs_f64());
    println!("\nactor logs: {}", home.dir.join("logs").display());
    drop(anvil);
    Ok(())
}

async fn withdrawn_by(chain: &Chain, who: zkopml_chain::Address) -> Result<U256> {
    let mut s = chain.events();
    let mut total = U256::ZERO;
    for ev in s.poll().await? {
        if let Event::Withdrawn(w) = &ev.event {
            if w.account == who {
                total += w.amount;
            }
        }
    }
    Ok(total)
}

/// The dissection, round by round, from the game's events (with each move's gas).
async fn print_game(chain: &Chain, gid: u64) -> Result<()> {
    println!("== 6. the dissection of game {gid}, from the chain's events");
    let mut s = chain.events();
    let evs = s.poll().await?;
    let mut round = 0;
    for ev in evs.iter().filter(|e| {
        e.event
            .game_id()
            .map(|g| g == U256::from(gid))
            .unwrap_or(false)
    }) {
        let gas = match ev.tx_hash {
            Some(h) => ops::gas_of_tx(chain, h).await?,
            None => 0,
        };
        let roots = |v: &[zkopml_chain::B256]| {
            v.iter()
                .map(|r| short(r.as_slice()))
                .collect::<Vec<_>>()
                .join(" ")
        };
        match &ev.event {
            Event::ChallengeOpened(_) => {}
            Event::GameCreated(e) => println!(
                "   opened: request {}, {} ops; agreed root(0) {}, defender root(n) {}, challenger root(n) {}   [challenge: {gas} gas]",
                e.requestId,
                e.numOps,
                short(e.agreedRoot.as_slice()),
                short(e.defenderRoot.as_slice()),
                short(e.challengerRoot.as_slice())
            ),
            Event::RootsPosted(e) if e.byDefender => {
                round += 1;
                println!("   round {round}: segment [{}, {}], positions {:?}", e.lo, e.hi, e.positions);
                println!("      defender   roots {}   [postRoots: {gas} gas]", roots(&e.roots));
            }
            Event::RootsPosted(e) => println!("      challenger roots {}   [postCounterRoots: {gas} gas]", roots(&e.roots)),
            Event::SegmentNarrowed(e) => println!("      -> first disagreement: segment [{}, {}] (agreed root({}) {})", e.lo, e.hi, e.lo, short(e.agreedRoot.as_slice())),
            Event::TensorRevealed(e) if e.byDefender => println!("   op {} disputed: defender reveals its output tensor, chunks root {}   [revealTensor: {gas} gas]", e.op, short(e.chunksRoot.as_slice())),
            Event::TensorRevealed(e) => println!("      challenger's chunks root {}   [revealCounterTensor: {gas} gas]", short(e.chunksRoot.as_slice())),
            Event::NodesPosted(e) if e.byDefender => println!("   chunk tree, node (height {}, index {}): defender's children {}   [postNodes: {gas} gas]", e.height, e.index, roots(&e.nodes)),
            Event::NodesPosted(e) => println!("      challenger's children {}   [postCounterNodes: {gas} gas]", roots(&e.nodes)),
            Event::ChunkNarrowed(e) => println!("      -> disputed node (height {}, index {}): defender {} vs challenger {}", e.height, e.index, short(e.defenderNode.as_slice()), short(e.challengerNode.as_slice())),
            Event::StepProven(e) => println!(
                "   Groth16 proof of op {} chunk {} posted by {}: output digest {}   [proveStep: {gas} gas]",
                e.op,
                e.chunk,
                short(e.prover.as_slice()),
                short(&e.outputDigest.to_be_bytes::<32>())
            ),
            Event::GameResolved(e) => println!("   resolved: outcome {:?}, reason {:?}", zkopml_chain::Outcome::try_from(e.outcome)?, zkopml_chain::Reason::try_from(e.reason)?),
            other => println!("   {}", other.name()),
        }
    }
    Ok(())
}
