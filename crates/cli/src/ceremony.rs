//! `zkopml ceremony …`: phase 2 of a model's Groth16 setup, from a Powers-of-Tau file
//! (`docs/zk.md`, "Trusted setup").

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use zkopml_ceremony::model;
use zkopml_model::Program;

use crate::chain::Net;
use crate::load_program;

/// A model's ceremony: the model, the phase-1 file and the ceremony folder.
#[derive(Args)]
pub struct ModelCeremony {
    model: PathBuf,
    #[arg(long)]
    calibration: Vec<PathBuf>,
    /// A prepared .ptau (snarkjs format).
    #[arg(long)]
    ptau: PathBuf,
    /// The ceremony folder (default: `ceremony` beside the model).
    #[arg(long)]
    dir: Option<PathBuf>,
}

impl ModelCeremony {
    /// The compiled model and the ceremony folder.
    fn open(&self) -> Result<(Program, PathBuf)> {
        let program = load_program(&self.model, &self.calibration)?;
        let dir = self.dir.clone().unwrap_or_else(|| default_dir(&self.model));
        Ok((program, dir))
    }
}

#[derive(Subcommand)]
pub enum CeremonyCmd {
    /// Derive the initial phase-2 key of every distinct circuit of a model from a prepared .ptau
    /// (snarkjs format); writes <dir>/c<k>.r1cs, <dir>/c<k>.zkey and <dir>/ceremony.json.
    Init(ModelCeremony),
    /// Add one contribution (fresh OS randomness, one secret per circuit) to every key: of a
    /// ceremony folder (`--dir`), or of a registered model's ceremony on chain (`--model-id`:
    /// fetches the current keys, contributes, publishes the new keys and records them).
    Contribute {
        /// The ceremony folder (a local ceremony).
        #[arg(
            long,
            required_unless_present = "model_id",
            conflicts_with = "model_id"
        )]
        dir: Option<PathBuf>,
        /// A registered model whose ceremony window is open.
        #[arg(long)]
        model_id: Option<u64>,
        /// With --model-id: verify the keys you build on against this Powers-of-Tau file first
        /// (recommended: a contribution to keys that do not verify is wasted).
        #[arg(long, requires = "model_id")]
        ptau: Option<PathBuf>,
        /// With --model-id: where the new keys are written (default <home>/contributions/<id>).
        #[arg(long, requires = "model_id")]
        out: Option<PathBuf>,
        /// A name recorded in the transcript (at most 64 bytes).
        #[arg(long)]
        name: Option<String>,
    },
    /// The model's owner, after the window closed: check the keys of the recorded contributions
    /// against the .ptau and the model (longest recorded chain first, newest among equals) and
    /// accept the first whose keys pass (acceptContribution): its circuit root becomes the
    /// model's and requests open. Keys that do not pass are skipped with the reason.
    Accept {
        /// A registered model whose ceremony window has closed.
        #[arg(long)]
        model_id: u64,
        /// The Powers-of-Tau file the ceremony started from.
        #[arg(long)]
        ptau: PathBuf,
        /// Consider this contribution only (it is still checked).
        #[arg(long)]
        index: Option<u32>,
    },
    /// The model's owner, before it accepted a contribution: move the end of the contribution
    /// window to a later time (at most 90 days from now).
    Extend {
        #[arg(long)]
        model_id: u64,
        /// The new end of the window, unix seconds.
        #[arg(long)]
        closes_at: u64,
    },
    /// Check every key in the folder against initial keys re-derived from the .ptau and the model.
    Verify(ModelCeremony),
    /// Verify, then write the final keys as the model's circuit set (what `zkopml setup` writes).
    Finalize {
        #[command(flatten)]
        ceremony: ModelCeremony,
        /// Where to write the keys (default: a `keys` folder beside the model).
        #[arg(short, long)]
        out: Option<PathBuf>,
    },
}

fn default_dir(model: &Path) -> PathBuf {
    model.with_file_name("ceremony")
}

fn quiet(_: usize, _: usize, _: &str) {}

pub fn run(net: &Net, cmd: CeremonyCmd) -> Result<()> {
    let rng = &mut zkopml_zk::groth16::os_rng();
    match cmd {
        CeremonyCmd::Init(c) => {
            let (program, dir) = c.open()?;
            let ptau = c.ptau;
            let t = Instant::now();
            let c = model::init(&program, &ptau, &dir, &mut quiet)
                .with_context(|| format!("initial keys from {}", ptau.display()))?;
            for k in &c.circuits {
                println!(
                    "circuit {:>3} {:<18} {:>9} constraints  domain 2^{:<2}  circuit hash {}…",
                    k.index,
                    k.kind,
                    k.constraints,
                    k.domain_power,
                    &k.cs_hash[..16]
                );
            }
            println!(
                "initial keys of {} circuits from a .ptau of power {} in {:.1} s, in {}",
                c.circuits.len(),
                c.ptau_power,
                t.elapsed().as_secs_f64(),
                dir.display()
            );
        }
        CeremonyCmd::Contribute {
            model_id: Some(id),
            ptau,
            out,
            name,
            ..
        } => {
            let out =
                out.unwrap_or_else(|| net.home.dir.join("contributions").join(id.to_string()));
            crate::chain::block_on(contribute_on_chain(
                net,
                id,
                &out,
                name.as_deref(),
                ptau.as_deref(),
            ))?;
        }
        CeremonyCmd::Contribute { dir, name, .. } => {
            let dir = dir.expect("clap requires --dir without --model-id");
            let t = Instant::now();
            let mut marks = Vec::new();
            let hashes = model::contribute(&dir, name.as_deref(), rng, &mut |_, _, _| {
                marks.push(Instant::now())
            })?;
            for (k, h) in hashes.iter().enumerate() {
                let secs = marks[k + 1].duration_since(marks[k]).as_secs_f64();
                println!(
                    "circuit {k:>3}: contribution hash {}… ({secs:.2} s)",
                    &hex::encode(h)[..32]
                );
            }
            println!(
                "contributed to {} circuits in {:.2} s; your secrets are gone with this process",
                hashes.len(),
                t.elapsed().as_secs_f64()
            );
        }
        CeremonyCmd::Accept {
            model_id,
            ptau,
            index,
        } => crate::chain::block_on(accept_on_chain(net, model_id, &ptau, index))?,
        CeremonyCmd::Extend {
            model_id,
            closes_at,
        } => crate::chain::block_on(async {
            let chain = net.connect(zkopml_node::devnet::DEPLOYER).await?;
            let tx = zkopml_node::ops::extend_ceremony(&chain, model_id, closes_at).await?;
            println!(
                "model {model_id}'s contribution window now closes at {closes_at} (unix time), gas {}",
                tx.gas_used
            );
            Ok(())
        })?,
        CeremonyCmd::Verify(c) => {
            let (program, dir) = c.open()?;
            let ptau = c.ptau;
            let t = Instant::now();
            let (v, _) = model::verify(&program, &ptau, &dir, rng, &mut quiet)?;
            print_verified(&v);
            println!("verified in {:.1} s", t.elapsed().as_secs_f64());
        }
        CeremonyCmd::Finalize { ceremony: c, out } => {
            let (program, dir) = c.open()?;
            let out = out.unwrap_or_else(|| c.model.with_file_name("keys"));
            let ptau = c.ptau;
            let (set, v) = model::finalize(&program, &ptau, &dir, &out, rng, &mut quiet)?;
            print_verified(&v);
            println!(
                "final keys of {} circuits in {}; circuit root {}",
                set.circuits.len(),
                out.display(),
                set.circuit_root
            );
        }
    }
    Ok(())
}

fn print_verified(v: &model::ModelVerified) {
    for (k, c) in v.circuits.iter().enumerate() {
        let names: Vec<String> = c
            .contributions
            .iter()
            .map(|(h, n)| {
                format!(
                    "{} ({}…)",
                    n.clone().unwrap_or_else(|| "anonymous".into()),
                    &hex::encode(h)[..16]
                )
            })
            .collect();
        println!(
            "circuit {k:>3}: {} contributions: {}",
            c.contributions.len(),
            names.join(", ")
        );
    }
    println!("transcript hash 0x{}", hex::encode(v.transcript_hash));
}

async fn contribute_on_chain(
    net: &Net,
    id: u64,
    out: &Path,
    name: Option<&str>,
    ptau: Option<&Path>,
) -> Result<()> {
    let chain = net.connect(zkopml_node::devnet::CHALLENGER).await?;
    let (c, tx) = zkopml_node::ops::contribute(&chain, &net.home, id, out, name, ptau).await?;
    for (k, h) in c.hashes.iter().enumerate() {
        println!(
            "circuit {k:>3}: contribution hash {}…",
            &hex::encode(h)[..32]
        );
    }
    println!(
        "contributed to model {id}'s {} circuits in {:.2} s (your secrets are gone with this process); transcript hash {} -> {}, circuit root {}, keys {}, gas {}",
        c.hashes.len(),
        c.seconds,
        c.prev_transcript,
        c.transcript_hash,
        c.circuit_root,
        c.keys_cid,
        tx.gas_used
    );
    Ok(())
}

async fn accept_on_chain(net: &Net, id: u64, ptau: &Path, index: Option<u32>) -> Result<()> {
    let chain = net.connect(zkopml_node::devnet::DEPLOYER).await?;
    let (a, tx) = zkopml_node::ops::accept_ceremony(&chain, &net.home, id, ptau, index).await?;
    for s in &a.skipped {
        println!("skipped contribution {}: {}", s.index, s.reason);
    }
    let on = match a.record.parent {
        0 => "the initial keys".to_string(),
        p => format!("contribution {}", p - 1),
    };
    println!(
        "accepted contribution {} of model {id} (by {}, on {on}; keys checked and verified in {:.1} s): transcript hash {}, circuit root {}, keys {}, gas {}; requests are open",
        a.index,
        a.record.contributor,
        a.seconds,
        a.record.transcript_hash,
        a.record.circuit_root,
        a.record.keys_cid,
        tx.gas_used
    );
    Ok(())
}
