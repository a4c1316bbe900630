//! The `zkopml` command line: parses arguments, calls the library crates, prints.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

use zkopml_exec::commit::TraceCommitment;
use zkopml_exec::{dequantise, quantise_input, run};
use zkopml_model::input::read_input_json;
use zkopml_model::{compile_onnx, default_calibration, Program, QOperand};
use zkopml_zk::{circuit_set::CircuitSet, table::WeightsMode};

#[derive(Parser)]
#[command(
    name = "zkopml",
    version,
    about = "Verifiable ML inference on Ethereum: optimistic answers, fault dispute games, per-operator ZK proofs"
)]
struct Cli {
    /// Node home: deployment, artifact store, keys, actor state, devnet (chain verbs).
    #[arg(long, global = true, default_value = ".zkopml")]
    home: PathBuf,
    /// JSON-RPC URL (default: the running devnet's, else http://127.0.0.1:8545).
    #[arg(long, global = true)]
    rpc: Option<String>,
    /// Encrypted JSON keystore of the account to act as (geth's, `cast wallet`'s); or the key in
    /// hex in the environment variable ZKOPML_PRIVATE_KEY; default: the verb's devnet account.
    ///
    /// The password comes from --password-file, else it is asked on the terminal without echo.
    /// Give one of --keystore, ZKOPML_PRIVATE_KEY and --key. `zkopml account` prints the address.
    #[arg(long, global = true, value_name = "FILE")]
    keystore: Option<PathBuf>,
    /// The keystore's password: the first line of this file.
    #[arg(long, global = true, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// Private key in hex: DEVNET ONLY (every local user sees it in the process list, and it
    /// stays in the shell's history); for a real key use --keystore or ZKOPML_PRIVATE_KEY.
    #[arg(long, global = true, value_name = "HEX")]
    key: Option<String>,
    /// A Kubo (IPFS) node's RPC API, e.g. http://127.0.0.1:5001: artifacts and stored inputs
    /// are also added there, and fetched from there when the local store lacks them.
    #[arg(long, global = true, env = "ZKOPML_IPFS_API")]
    ipfs: Option<String>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Print the operator table of a model (an .onnx file or a compiled .zkml).
    Inspect {
        model: PathBuf,
        /// Calibration inputs (input.json); default: the input.json beside the model and variations of it.
        #[arg(long)]
        calibration: Vec<PathBuf>,
    },
    /// Compile an ONNX model to its fixed-point program and print its hash.
    Compile {
        model: PathBuf,
        #[arg(long)]
        calibration: Vec<PathBuf>,
        /// Where to write the compiled model (default: beside the model, as network.zkml).
        #[arg(short, long)]
        out: Option<PathBuf>,
        /// Where the weights live (`setup --weights`): `committed` lays the chunks out as
        /// a model registered with committed weights has them.
        #[arg(long, value_enum, default_value = "baked")]
        weights: Weights,
    },
    /// Run a model on an input.json: output, dequantised output and final state root.
    Run {
        model: PathBuf,
        input: PathBuf,
        #[arg(long)]
        calibration: Vec<PathBuf>,
        /// Write the whole trace (slot values and commitments) to this directory.
        #[arg(long)]
        trace: Option<PathBuf>,
        /// Where the weights live (`setup --weights`): `committed` lays the chunks out as
        /// a model registered with committed weights has them.
        #[arg(long, value_enum, default_value = "baked")]
        weights: Weights,
    },
    /// Groth16 setup of every distinct circuit of a model: proving keys, verifying keys in the
    /// on-chain layout, and the circuit root the registry records.
    Setup {
        model: PathBuf,
        #[arg(long)]
        calibration: Vec<PathBuf>,
        /// Where to write the keys (default: a `keys` folder beside the model).
        #[arg(short, long)]
        out: Option<PathBuf>,
        /// Derive the toxic waste from this seed: deterministic and INSECURE (anyone who knows
        /// the seed can forge proofs); for tests and the devnet only.
        #[arg(long)]
        insecure_seed: Option<u64>,
        /// Only print the circuit plan (circuits, chunks, constraints); no keys.
        #[arg(long)]
        plan: bool,
        /// Where the weights live: `baked` into the circuits (a circuit per layer and chunk), or
        /// `committed`: a witness opened under a weights root, with the layers' constants and
        /// shifts (a circuit per shape).
        #[arg(long, value_enum, default_value = "baked")]
        weights: Weights,
    },
    /// Phase 2 of the Groth16 setup from a Powers-of-Tau file: initial keys, contributions, verification, final keys.
    Ceremony {
        #[command(subcommand)]
        action: ceremony::CeremonyCmd,
    },
    /// Prove one (operator, output chunk) of a model run on an input, as a dispute's last step.
    Prove {
        model: PathBuf,
        input: PathBuf,
        #[arg(long)]
        calibration: Vec<PathBuf>,
        /// The keys folder written by `zkopml setup`.
        #[arg(long)]
        keys: Option<PathBuf>,
        /// The operator (1-based).
        #[arg(long)]
        op: usize,
        /// The output chunk (default 0).
        #[arg(long, default_value_t = 0)]
        chunk: usize,
        /// Write the step proof (everything `proveStep` takes) as JSON here.
        #[arg(short, long)]
        out: Option<PathBuf>,
    },
    /// Start (`up`) or stop (`down`) a local anvil devnet in the background (<home>/devnet).
    Devnet {
        #[command(subcommand)]
        action: chain::DevnetCmd,
    },
    /// Deploy the contracts; writes <home>/deployment.json.
    Deploy,
    /// Compile an ONNX model, run the Groth16 setup, store the artifacts and register the model.
    Register(chain::RegisterArgs),
    /// Quantise an input.json and request an inference.
    Request(chain::RequestArgs),
    /// Serve a model: answer its requests with a bond and defend every game (long-running).
    Submit(chain::ActorArgs),
    /// Watch a model: recompute every result, challenge wrong ones and play the games (long-running).
    Challenge(chain::ActorArgs),
    /// Models, requests, results and games on the chain, as tables.
    Status,
    /// The address the chain verbs act as, and where its key comes from (--keystore,
    /// ZKOPML_PRIVATE_KEY or --key).
    Account,
    /// The whole system on a fresh devnet: LeNet registered, an honest answer finalised, a
    /// defective one caught by a challenger and settled by a Groth16 proof on chain.
    Demo(demo::DemoArgs),
    /// Fixed-point against tract's f32 on N inputs near the model's sample input.
    Accuracy {
        model: PathBuf,
        #[arg(long, default_value_t = 100)]
        inputs: usize,
        /// Print one row of docs/accuracy.md's table instead of a sentence.
        #[arg(long)]
        markdown: bool,
    },
}

mod ceremony;
mod chain;
mod demo;
mod keys;

fn main() {
    // Rust ignores SIGPIPE, so printing to a closed pipe (`zkopml inspect M | head`) panics in
    // println!; restore the default so the process ends quietly as any Unix tool does.
    #[cfg(unix)]
    // SAFETY: called first, before any thread exists; SIG_DFL is a valid disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // arkworks opens an info-level span per constraint namespace (target "gr1cs") and never
    // closes it: with those spans enabled, a setup or a proof grows without bound (14 GB and an
    // OOM kill for LeNet's setup). So they stay off, whatever RUST_LOG says.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new("info,alloy=warn,hyper=warn,reqwest=warn")
        })
        .add_directive("gr1cs=off".parse().expect("a valid directive"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = real_main() {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn real_main() -> Result<()> {
    let cli = Cli::parse();
    let keys = keys::KeySource {
        keystore: cli.keystore.clone(),
        password_file: cli.password_file.clone(),
        key: cli.key.clone(),
    };
    let net = chain::Net {
        home: zkopml_node::ops::Home::new(cli.home.clone()).with_ipfs(cli.ipfs.clone()),
        rpc: cli.rpc.clone(),
        keys,
    };
    match cli.cmd {
        Cmd::Devnet { action } => chain::devnet(&net, action),
        Cmd::Deploy => chain::block_on(chain::deploy(&net)),
        Cmd::Register(a) => chain::block_on(chain::register(&net, a)),
        Cmd::Request(a) => chain::block_on(chain::request(&net, a)),
        Cmd::Submit(a) => chain::block_on(chain::actor(&net, a, true)),
        Cmd::Challenge(a) => chain::block_on(chain::actor(&net, a, false)),
        Cmd::Status => chain::block_on(chain::status(&net)),
        Cmd::Account => keys::account(&net.keys),
        Cmd::Demo(a) => chain::block_on(demo::demo(&net, a)),
        Cmd::Ceremony { action } => ceremony::run(&net, action),
        other => engine_verb(other),
    }
}

fn engine_verb(cmd: Cmd) -> Result<()> {
    match cmd {
        Cmd::Devnet { .. }
        | Cmd::Deploy
        | Cmd::Register(_)
        | Cmd::Request(_)
        | Cmd::Submit(_)
        | Cmd::Challenge(_)
        | Cmd::Status
        | Cmd::Account
        | Cmd::Demo(_)
        | Cmd::Ceremony { .. } => unreachable!("handled in real_main"),
        Cmd::Inspect { model, calibration } => {
            let program = load_program(&model, &calibration)?;
            print_table(&program);
        }
        Cmd::Compile {
            model,
            calibration,
            out,
            weights,
        } => {
            let mut program = load_program(&model, &calibration)?;
            weights.mode().lay_out(&mut program);
            let out = out.unwrap_or_else(|| model.with_extension("zkml"));
            std::fs::write(&out, program.to_bytes())
                .with_context(|| format!("writing {}", out.display()))?;
            println!("compiled {} ops to {}", program.n_ops(), out.display());
            println!("model hash 0x{}", hex::encode(program.hash()));
        }
        Cmd::Run {
            model,
            input,
            calibration,
            trace,
            weights,
        } => {
            let mut program = load_program(&model, &calibration)?;
            weights.mode().lay_out(&mut program);
            let x = read_input_json(&input)?;
            let t = run(&program, quantise_input(&program, &x)?)?;
            let c = TraceCommitment::new(&program, &t)?;
            let spec = program.output_spec();
            println!(
                "output (integers at scale 2^-{}): {:?}",
                spec.scale,
                t.output().data
            );
            println!(
                "output (dequantised): {:?}",
                dequantise(t.output(), spec.scale)
            );
            println!("final state root: 0x{}", hex::encode(c.final_root()));
            if let Some(dir) = trace {
                write_trace(&dir, &program, &t, &c)?;
                println!("trace written to {}", dir.display());
            }
        }
        Cmd::Setup {
            model,
            calibration,
            out,
            insecure_seed,
            plan,
            weights,
        } => {
            let mut program = load_program(&model, &calibration)?;
            let weights = weights.mode();
            weights.lay_out(&mut program);
            if plan {
                print_plan(&program, weights)?;
                return Ok(());
            }
            let dir = out.unwrap_or_else(|| default_keys_dir(&model));
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{msg:40} [{bar:30}] {pos}/{len} {elapsed}",
                )
                .expect("a valid template"),
            );
            let t = std::time::Instant::now();
            let set = CircuitSet::setup_in(
                &program,
                weights,
                &dir,
                insecure_seed,
                &mut |done, total, what| {
                    bar.set_length(total as u64);
                    bar.set_position(done as u64);
                    bar.set_message(what.to_string());
                },
            )?;
            bar.finish_and_clear();
            print_circuits(&set);
            println!(
                "setup of {} circuits ({} table leaves) in {:.1} s, keys in {}",
                set.circuits.len(),
                set.entries.len(),
                t.elapsed().as_secs_f64(),
                dir.display()
            );
            if let Some(seed) = insecure_seed {
                println!("WARNING: keys derived from the public seed {seed}: anyone can forge proofs with them (devnet/tests only)");
            }
            println!("circuit root {}", set.circuit_root);
            if !set.weights_root.is_empty() {
                println!("weights root {}", set.weights_root);
            }
        }
        Cmd::Prove {
            model,
            input,
            calibration,
            keys,
            op,
            chunk,
            out,
        } => {
            let mut program = load_program(&model, &calibration)?;
            let dir = keys.unwrap_or_else(|| default_keys_dir(&model));
            if let Ok(mode) = CircuitSet::weights_mode_in(&dir) {
                mode.lay_out(&mut program);
            }
            let set = CircuitSet::load(&dir, &program).with_context(|| {
                format!(
                    "loading the keys in {} (run `zkopml setup` first)",
                    dir.display()
                )
            })?;
            let x = read_input_json(&input)?;
            let t = run(&program, quantise_input(&program, &x)?)?;
            let c = TraceCommitment::new(&program, &t)?;
            let started = std::time::Instant::now();
            let step = set.prove_step(
                &dir,
                &program,
                &t.slots,
                &c,
                op,
                chunk,
                &mut zkopml_zk::groth16::os_rng(),
            )?;
            let secs = started.elapsed().as_secs_f64();
            let ok = set.verify_step(&step)?;
            let entry = &set.entries[step.leaf_index];
            let meta = &set.circuits[entry.circuit];
            println!("op {op} ({}) chunk {chunk}: circuit {} with {} constraints, proved in {secs:.2} s, verifies natively: {ok}", meta.kind, entry.circuit, meta.constraints);
            println!(
                "reads {:?}, output digest {}",
                entry.reads, step.output_digest
            );
            if let Some(out) = out {
                std::fs::write(&out, serde_json::to_string_pretty(&step)?)
                    .with_context(|| format!("writing {}", out.display()))?;
                println!("step proof written to {}", out.display());
            }
            if !ok {
                bail!("the proof does not verify");
            }
        }
        Cmd::Accuracy {
            model,
            inputs,
            markdown,
        } => {
            if model.extension().and_then(|e| e.to_str()) != Some("onnx") {
                bail!("accuracy needs the .onnx file (tract runs it as the float reference)");
            }
            let sample = sample_input(&model)?;
            let program = load_program(&model, &[])?;
            let r = zkopml_exec::accuracy::measure(&model, &program, sample.as_deref(), inputs)?;
            if markdown {
                let name = model
                    .parent()
                    .and_then(|p| p.file_name())
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                println!(
                    "| {name} | {} | {} | {:.3e} | {:.3} | {}/{} ({:.1}%) |",
                    program.n_ops(),
                    r.inputs,
                    r.max_abs_error,
                    r.max_abs_output,
                    r.top1_agree,
                    r.inputs,
                    100.0 * r.top1_agree as f64 / r.inputs as f64
                );
                return Ok(());
            }
            println!(
                "{}: {} inputs, max |error| {:.3e} (max |output| {:.3}), top-1 agreement {}/{} ({:.1}%)",
                model.display(), r.inputs, r.max_abs_error, r.max_abs_output, r.top1_agree, r.inputs,
                100.0 * r.top1_agree as f64 / r.inputs as f64
            );
        }
    }
    Ok(())
}

fn default_keys_dir(model: &Path) -> PathBuf {
    model.with_file_name("keys")
}

/// `--weights` (`zkopml_zk::table::WeightsMode`).
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub(crate) enum Weights {
    Baked,
    Committed,
}

impl Weights {
    pub(crate) fn mode(self) -> WeightsMode {
        match self {
            Weights::Baked => WeightsMode::Baked,
            Weights::Committed => WeightsMode::Committed,
        }
    }
}

fn print_plan(program: &Program, weights: WeightsMode) -> Result<()> {
    let (set, shapes) = CircuitSet::plan_in(program, weights)?;
    println!(
        "{:>4}  {:<18} {:>6} {:>9} {:>12} {:>7}",
        "op", "kind", "chunks", "circuits", "constraints", "reads"
    );
    // a circuit shared by many ops is synthesised once
    let mut constraints: Vec<Option<usize>> = vec![None; shapes.len()];
    for op in 1..=program.n_ops() {
        let entries: Vec<_> = set.entries.iter().filter(|e| e.op == op).collect();
        let mut ids: Vec<usize> = entries.iter().map(|e| e.circuit).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut max = 0;
        for k in ids.iter().copied() {
            let n = match constraints[k] {
                Some(n) => n,
                None => zkopml_zk::circuit_set::count_constraints(&shapes[k])?,
            };
            constraints[k] = Some(n);
            max = max.max(n);
        }
        let reads = entries.iter().map(|e| e.reads.len()).max().unwrap_or(0);
        println!(
            "{:>4}  {:<18} {:>6} {:>9} {:>12} {:>7}",
            op,
            program.ops[op - 1].op.kind(),
            entries.len(),
            ids.len(),
            max,
            reads
        );
    }
    println!(
        "{} distinct circuits, {} table leaves",
        set.circuits.len(),
        set.entries.len()
    );
    Ok(())
}

fn print_circuits(set: &CircuitSet) {
    println!(
        "{:>4}  {:<18} {:>9} {:>6} {:>12} {:>9} {:>10}",
        "#", "kind", "first op", "uses", "constraints", "setup s", "pk MiB"
    );
    for (k, c) in set.circuits.iter().enumerate() {
        println!(
            "{:>4}  {:<18} {:>9} {:>6} {:>12} {:>9.2} {:>10.1}",
            k,
            c.kind,
            c.first.0,
            c.uses,
            c.constraints,
            c.setup_seconds,
            c.pk_bytes as f64 / (1 << 20) as f64
        );
    }
}

/// The sample input beside a model (input.json in the same folder), if any.
fn sample_input(model: &Path) -> Result<Option<Vec<f64>>> {
    let p = model.with_file_name("input.json");
    Ok(if p.exists() {
        Some(read_input_json(&p)?)
    } else {
        None
    })
}

fn load_program(model: &Path, calibration: &[PathBuf]) -> Result<Program> {
    match model.extension().and_then(|e| e.to_str()) {
        Some("zkml") => {
            let bytes =
                std::fs::read(model).with_context(|| format!("reading {}", model.display()))?;
            Ok(Program::from_bytes(&bytes)?)
        }
        Some("onnx") => {
            let graph = zkopml_model::Graph::from_path(model)?;
            let numel: usize = graph.input_shape.iter().product();
            let cal = if calibration.is_empty() {
                default_calibration(numel, sample_input(model)?.as_deref())
            } else {
                calibration
                    .iter()
                    .map(|p| read_input_json(p).map_err(anyhow::Error::from))
                    .collect::<Result<Vec<_>>>()?
            };
            Ok(compile_onnx(model, &cal)?.1)
        }
        _ => bail!(
            "{}: expected an .onnx model or a compiled .zkml",
            model.display()
        ),
    }
}

fn print_table(p: &Program) {
    println!(
        "input: shape {:?}, scale 2^-{}, {} chunk(s) of {}",
        p.input.shape,
        p.input.scale,
        p.input.num_chunks(),
        p.input.chunk_len
    );
    println!(
        "{:>4}  {:<24} {:<18} {:<14} {:<18} {:>6} {:>7} {:>12}",
        "op", "onnx", "kind", "reads", "shape", "scale", "chunks", "MACs"
    );
    for (i, n) in p.ops.iter().enumerate() {
        let reads: Vec<String> = n
            .inputs
            .iter()
            .map(|o| match o {
                QOperand::Slot(s) => format!("s{s}"),
                QOperand::Const { .. } => "c".into(),
            })
            .collect();
        println!(
            "{:>4}  {:<24} {:<18} {:<14} {:<18} {:>6} {:>7} {:>12}",
            i + 1,
            n.onnx_op,
            n.op.kind(),
            reads.join(","),
            format!("{:?}", n.out.shape),
            n.out.scale,
            n.out.num_chunks(),
            n.macs
        );
    }
    let macs: u64 = p.ops.iter().map(|n| n.macs).sum();
    println!(
        "{} ops, {} MACs, state depth {}, model hash 0x{}",
        p.n_ops(),
        macs,
        p.state_depth(),
        hex::encode(p.hash())
    );
}

fn write_trace(dir: &Path, p: &Program, t: &zkopml_exec::Trace, c: &TraceCommitment) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut slots = Vec::new();
    for (s, tensor) in t.slots.iter().enumerate() {
        let spec = p.slot_spec(s);
        let bytes: Vec<u8> = zkopml_exec::commit::canonical(tensor)
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let file = format!("slot_{s:04}.i32le");
        std::fs::write(dir.join(&file), bytes)?;
        let tc = &c.tensors[s];
        slots.push(serde_json::json!({
            "slot": s, "file": file, "shape": spec.shape, "scale": spec.scale, "chunk_len": spec.chunk_len,
            "tensor_root": format!("0x{}", hex::encode(tc.root)),
            "chunk_leaves": tc.leaves.iter().map(|d| format!("0x{}", hex::encode(d))).collect::<Vec<_>>(),
        }));
    }
    let doc = serde_json::json!({
        "model_hash": format!("0x{}", hex::encode(p.hash())),
        "state_depth": c.depth,
        "state_roots": c.state_roots.iter().map(|r| format!("0x{}", hex::encode(r))).collect::<Vec<_>>(),
        "slots": slots,
    });
    std::fs::write(dir.join("trace.json"), serde_json::to_string_pretty(&doc)?)?;
    Ok(())
}
