//! The chain verbs: devnet, deploy, register, request, submit, challenge, status.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use tracing::info;
use zkopml_chain::{Chain, DisputeParams, U256};
use zkopml_node::devnet;
use zkopml_node::ops::{self, Home};
use zkopml_node::{run_actor, ActorConfig, Defect};

/// Options every chain verb shares.
pub struct Net {
    pub home: Home,
    pub rpc: Option<String>,
    /// --keystore / ZKOPML_PRIVATE_KEY / --key, resolved when a verb connects.
    pub keys: crate::keys::KeySource,
}

impl Net {
    /// `--rpc`, else the running devnet's URL, else the default anvil port.
    pub fn rpc(&self) -> String {
        if let Some(r) = &self.rpc {
            return r.clone();
        }
        match devnet::Devnet::load(&self.home.devnet()) {
            Ok(Some(d)) => d.url,
            _ => "http://127.0.0.1:8545".into(),
        }
    }
    /// The hex key given (keystore, environment or --key), else the devnet account `default`.
    pub fn key(&self, default: usize) -> Result<String> {
        self.keys.hex_or_devnet(default)
    }
    pub async fn connect(&self, default_key: usize) -> Result<Chain> {
        ops::connect(&self.rpc(), &self.key(default_key)?, &self.home).await
    }
}

pub fn block_on<F: std::future::Future<Output = Result<()>>>(f: F) -> Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(f)
}

#[derive(Subcommand)]
pub enum DevnetCmd {
    /// Start anvil in the background on 127.0.0.1 (installs Foundry into .tools if missing).
    Up {
        #[arg(long, default_value_t = 8545)]
        port: u16,
    },
    /// Stop it (its chain is saved in <home>/devnet/anvil-state.json and reloaded by `up`).
    Down,
}

pub fn devnet(net: &Net, action: DevnetCmd) -> Result<()> {
    let dir = net.home.devnet();
    match action {
        DevnetCmd::Up { port } => {
            let d = devnet::up(&dir, port)?;
            println!(
                "devnet up: {} (anvil pid {}, log {})",
                d.url,
                d.pid,
                d.log.display()
            );
        }
        DevnetCmd::Down => match devnet::down(&dir)? {
            Some(d) => println!(
                "devnet down (anvil pid {} stopped; state in {})",
                d.pid,
                d.state.display()
            ),
            None => println!("no devnet recorded in {}", dir.display()),
        },
    }
    Ok(())
}

pub async fn deploy(net: &Net) -> Result<()> {
    let chain = ops::deploy(&net.rpc(), &net.key(devnet::DEPLOYER)?, &net.home).await?;
    let d = chain.deployment();
    println!(
        "deployed on chain {} at block {}: registry {}, manager {}, game {}, verifier {}",
        d.chain_id, d.start_block, d.registry, d.manager, d.game, d.verifier
    );
    println!("deployment written to {}", net.home.deployment().display());
    Ok(())
}

fn wei(s: &str, what: &str) -> Result<U256> {
    s.parse::<U256>()
        .with_context(|| format!("{what}: {s:?} is not an amount in wei"))
}

#[derive(Args)]
pub struct RegisterArgs {
    /// The ONNX model (its calibration uses the input.json beside it).
    pub model: PathBuf,
    /// Derive the setup's toxic waste from this public seed: INSECURE, devnet and tests only.
    #[arg(long)]
    pub insecure_seed: Option<u64>,
    /// Where the keys go (default <home>/keys/<model folder>); reused when already set up.
    #[arg(long)]
    pub keys_dir: Option<PathBuf>,
    /// Derive the initial keys from this Powers-of-Tau file (snarkjs format, prepared for
    /// phase 2) and open a phase-2 ceremony: contributions for `--ceremony-window` seconds
    /// (`zkopml ceremony contribute --model-id`), then requests open once the owner accepts a
    /// verified one (`zkopml ceremony accept --model-id`).
    #[arg(long, conflicts_with_all = ["insecure_seed", "weights"])]
    pub ptau: Option<PathBuf>,
    /// Where the Gemm weights live: baked into the circuits, or committed under a weights root
    /// that the registration records (a circuit per shape; not with a ceremony yet).
    #[arg(long, value_enum, default_value = "baked")]
    pub weights: crate::Weights,
    /// Seconds the ceremony accepts contributions.
    #[arg(long, default_value_t = 3600, requires = "ptau")]
    pub ceremony_window: u64,
    /// Dissection arity k.
    #[arg(long, default_value_t = 4)]
    pub arity: u16,
    /// Group size N (the last round over at most N ops picks the op).
    #[arg(long, default_value_t = 1)]
    pub max_group: u16,
    /// Seconds on each party's chess clock per game.
    #[arg(long, default_value_t = 600)]
    pub clock_budget: u64,
    /// Seconds a result can be challenged.
    #[arg(long, default_value_t = 300)]
    pub challenge_window: u64,
    /// Submitter bond in wei.
    #[arg(long, default_value = "100000000000000000")]
    pub submitter_bond: String,
    /// Challenger bond in wei.
    #[arg(long, default_value = "100000000000000000")]
    pub challenger_bond: String,
}

impl RegisterArgs {
    pub fn params(&self) -> Result<DisputeParams> {
        Ok(DisputeParams {
            arity: self.arity,
            max_group: self.max_group,
            clock_budget: self.clock_budget,
            challenge_window: self.challenge_window,
            submitter_bond: wei(&self.submitter_bond, "--submitter-bond")?,
            challenger_bond: wei(&self.challenger_bond, "--challenger-bond")?,
        })
    }
}

pub fn setup_bar() -> Option<indicatif::ProgressBar> {
    zkopml_node::is_tty().then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{msg:40} [{bar:30}] {pos}/{len} {elapsed}")
                .expect("a valid template"),
        );
        bar
    })
}

pub async fn register(net: &Net, a: RegisterArgs) -> Result<()> {
    let chain = net.connect(devnet::DEPLOYER).await?;
    if let Some(ptau) = &a.ptau {
        return register_with_ceremony(net, &chain, &a, ptau).await;
    }
    let keys = a
        .keys_dir
        .clone()
        .unwrap_or_else(|| net.home.keys(&a.model));
    let bar = setup_bar();
    let (id, p, tx) = ops::register_in(
        &chain,
        &net.home,
        &a.model,
        &keys,
        a.insecure_seed,
        a.params()?,
        a.weights.mode(),
        &mut progress_to(bar.clone(), "setup"),
    )
    .await?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    println!(
        "registered model {id}: {} ops, {} circuits ({}), model hash {}, circuit root {}, gas {}",
        p.program.n_ops(),
        p.set.circuits.len(),
        if p.setup_cached {
            "setup reused".to_string()
        } else {
            format!("setup {:.1} s", p.setup_seconds)
        },
        p.registration.model_hash,
        p.registration.circuit_root,
        tx.gas_used
    );
    if !p.set.weights_root.is_empty() {
        println!("weights root {}", p.set.weights_root);
    }
    if a.insecure_seed.is_some() {
        println!("WARNING: keys from a public seed: anyone can forge proofs (devnet only)");
    }
    Ok(())
}

fn progress_to(
    bar: Option<indicatif::ProgressBar>,
    what: &'static str,
) -> impl FnMut(usize, usize, &str) + Send {
    move |done, total, msg| {
        if let Some(b) = &bar {
            b.set_length(total as u64);
            b.set_position(done as u64);
            b.set_message(msg.to_string());
        } else {
            info!("{what} {done}/{total}: {msg}");
        }
    }
}

async fn register_with_ceremony(
    net: &Net,
    chain: &Chain,
    a: &RegisterArgs,
    ptau: &Path,
) -> Result<()> {
    let dir = a.keys_dir.clone().unwrap_or_else(|| {
        let mut d = net.home.keys(&a.model).into_os_string();
        d.push("-ceremony");
        d.into()
    });
    let bar = setup_bar();
    let (id, p, tx) = ops::register_with_ceremony(
        chain,
        &net.home,
        &a.model,
        ptau,
        &dir,
        a.ceremony_window,
        a.params()?,
        &mut progress_to(bar.clone(), "initial keys"),
    )
    .await?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let (closes_at, ..) = chain.ceremony_info(id).await?;
    println!(
        "registered model {id} with a ceremony: {} ops, {} circuits (initial keys from a .ptau of power {} in {:.1} s), model hash {}, transcript hash {}, gas {}",
        p.prepared.program.n_ops(),
        p.prepared.set.circuits.len(),
        p.ptau_power,
        p.prepared.setup_seconds,
        p.prepared.registration.model_hash,
        p.transcript_hash,
        tx.gas_used
    );
    println!(
        "contributions open until {closes_at} (unix time); contribute with zkopml ceremony contribute --model-id {id}; after that time, requests open once you (the owner) accept a verified contribution: zkopml ceremony accept --model-id {id} --ptau <file>"
    );
    Ok(())
}

#[derive(Args)]
pub struct RequestArgs {
    pub model_id: u64,
    pub input: PathBuf,
    /// Fee in wei (below half the model's submitter bond: docs/protocol.md "Fee cap").
    #[arg(long, default_value = "10000000000000000")]
    pub fee: String,
    /// Seconds until the request expires.
    #[arg(long, default_value_t = 3600)]
    pub deadline: u64,
    /// Put the input into the artifact store and request by its CID and tensor root (the
    /// default above 4,096 values, where inline hashing on chain gets too expensive).
    #[arg(long, conflicts_with = "inline")]
    pub by_cid: bool,
    /// Send the input inline even when it is large.
    #[arg(long)]
    pub inline: bool,
}

pub async fn request(net: &Net, a: RequestArgs) -> Result<()> {
    let chain = net.connect(devnet::REQUESTER).await?;
    let mode = if a.by_cid {
        ops::InputMode::ByCid
    } else if a.inline {
        ops::InputMode::Inline
    } else {
        ops::InputMode::Auto
    };
    let (tx, cid) = ops::request(
        &chain,
        &net.home,
        a.model_id,
        &a.input,
        wei(&a.fee, "--fee")?,
        a.deadline,
        mode,
    )
    .await?;
    let how = cid.map_or("input inline".to_string(), |c| {
        format!("input stored as {c}")
    });
    println!(
        "request {} for model {} ({how}; gas {})",
        tx.value, a.model_id, tx.gas_used
    );
    Ok(())
}

#[derive(Args)]
pub struct ActorArgs {
    pub model_id: u64,
    /// Deliberate defect (tests, demo): add 1 to a value of slot I's chunk J; later ops are
    /// recomputed from it, so only op I is wrong.
    #[arg(long)]
    pub defect_op: Option<usize>,
    #[arg(long, default_value_t = 0, requires = "defect_op")]
    pub defect_chunk: usize,
    /// Handle one request (submit) or one result (challenge), finish its games, withdraw, exit.
    #[arg(long)]
    pub once: bool,
    /// Name of the actor's state directory (<home>/actors/<name>).
    #[arg(long)]
    pub name: Option<String>,
    /// Stop moving in a game after this many moves (to watch a timeout).
    #[arg(long, hide = true)]
    pub stall_after: Option<u32>,
    /// Milliseconds between polls.
    #[arg(long, default_value_t = 250)]
    pub poll_ms: u64,
    /// The Powers-of-Tau file against which the keys of a model set up by a ceremony are
    /// verified before the actor plays it (such a model is refused without it).
    #[arg(long)]
    pub ptau: Option<PathBuf>,
}

pub async fn actor(net: &Net, a: ActorArgs, submitter: bool) -> Result<()> {
    let role = if submitter { "submitter" } else { "challenger" };
    let chain = net
        .connect(if submitter {
            devnet::SUBMITTER
        } else {
            devnet::CHALLENGER
        })
        .await?;
    let store = net.home.open_store()?;
    ops::program_of(&chain, &store, a.model_id).await?;
    let m = chain.get_model(a.model_id).await?;
    let bond = if submitter {
        m.params.submitter_bond
    } else {
        m.params.challenger_bond
    };
    ops::check_bond(&chain, bond, role).await?;
    let name = a.name.clone().unwrap_or_else(|| role.to_string());
    let mut cfg = ActorConfig::new(
        &name,
        net.home.actor(&name),
        net.home.store(),
        net.home.cache(),
    );
    cfg.ipfs = net.home.ipfs.clone();
    if submitter {
        cfg.serve = vec![a.model_id];
    } else {
        cfg.watch = vec![a.model_id];
    }
    cfg.defect = a.defect_op.map(|op| Defect {
        op,
        chunk: a.defect_chunk,
    });
    cfg.once = a.once;
    cfg.stall_after = a.stall_after;
    cfg.poll = std::time::Duration::from_millis(a.poll_ms);
    cfg.ptau = a.ptau.clone();
    info!(actor = %name, account = %chain.address(), model = a.model_id, defect = ?cfg.defect, once = a.once, "{role} started");
    tokio::select! {
        r = run_actor(chain, cfg) => {
            let s = r?;
            println!("{name}: done: submitted {:?}, games {:?}, {} moves, withdrew {} wei", s.submitted, s.games, s.moves, s.withdrawn);
        }
        _ = tokio::signal::ctrl_c() => {
            info!(actor = %name, "interrupted; the state is saved, a restart resumes");
        }
    }
    Ok(())
}

pub async fn status(net: &Net) -> Result<()> {
    let chain = net.connect(devnet::DEPLOYER).await?;
    print!("{}", ops::status_text(&chain).await?);
    Ok(())
}
