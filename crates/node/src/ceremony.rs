//! Models whose keys come from a phase-2 ceremony (docs/zk.md "Trusted setup"): the registrant
//! publishes initial keys derived from a Powers-of-Tau file, contributors add to them on chain
//! during the window, and every actor verifies the final keys against its own copy of the
//! `.ptau` and the model before it bonds on anything.
//!
//! The keys of a ceremony are published as a manifest ([`CeremonyKeys`], JSON) naming one
//! `.zkey` (snarkjs format) per distinct circuit. The registration's artifacts are the ONNX
//! file, the compiled program and the manifest of the initial keys; each `contribute` names the
//! manifest of the keys after it.

use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use zkopml_ceremony::{model as cer, mpc, zkey::Zkey};
use zkopml_chain::{DisputeParams, Model, B256};
use zkopml_model::Program;
use zkopml_store::ArtifactStore;
use zkopml_zk::circuit_set::CircuitSet;

use crate::artifacts::{
    compile_model, get, put, registered_program, registration, write_atomic, LoadedModel, Prepared,
};

/// `format` of a keys manifest.
pub const KEYS_FORMAT: &str = "zkopml.ceremony-keys.v1";

/// The manifest of a ceremony's keys at one point of its chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CeremonyKeys {
    pub format: String,
    /// keccak of the compiled model, 0x-hex.
    pub model_hash: String,
    /// Power of the `.ptau` the initial keys were derived from.
    pub ptau_power: u32,
    /// The model's transcript hash of these keys, 0x-hex (what the registry records).
    pub transcript_hash: String,
    /// CID of each distinct circuit's `.zkey`, in circuit order.
    pub zkeys: Vec<String>,
}

/// A model's chain-side ceremony state, as an actor reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CeremonyView {
    pub closes_at: u64,
    pub contributions: u32,
    pub transcript_hash: B256,
    pub done: bool,
    /// The last contribution's keys manifest ("" before the first).
    pub keys_cid: String,
}

/// Puts every key and their manifest into `store`; returns the manifest's CID.
pub fn publish_keys(
    store: &dyn ArtifactStore,
    program: &Program,
    ptau_power: u32,
    zkeys: &[Zkey],
) -> Result<String> {
    let cids = zkeys
        .iter()
        .map(|z| put(store, &z.to_bytes()))
        .collect::<Result<Vec<_>>>()?;
    let manifest = CeremonyKeys {
        format: KEYS_FORMAT.into(),
        model_hash: format!("0x{}", hex::encode(program.hash())),
        ptau_power,
        transcript_hash: format!("0x{}", hex::encode(cer::transcript_hash(zkeys))),
        zkeys: cids,
    };
    put(store, &serde_json::to_vec_pretty(&manifest)?)
}

/// Fetches the keys a manifest names, checked to belong to `program` (model hash, one key per
/// distinct circuit). Nothing here says the keys are sound: see [`cer::verify_keys`].
pub fn fetch_keys(
    store: &dyn ArtifactStore,
    cid: &str,
    program: &Program,
) -> Result<(CeremonyKeys, Vec<Zkey>)> {
    let m: CeremonyKeys = serde_json::from_slice(&get(store, cid)?)
        .with_context(|| format!("the ceremony keys manifest {cid} is not valid JSON"))?;
    ensure!(
        m.format == KEYS_FORMAT,
        "the ceremony keys manifest {cid} has format {:?}, expected {KEYS_FORMAT:?}",
        m.format
    );
    let want = format!("0x{}", hex::encode(program.hash()));
    ensure!(
        m.model_hash == want,
        "the ceremony keys manifest {cid} is for model {}, not {want}",
        m.model_hash
    );
    let (set, _) = CircuitSet::plan(program)?;
    ensure!(
        m.zkeys.len() == set.circuits.len(),
        "the ceremony keys manifest {cid} names {} keys for a model of {} circuits",
        m.zkeys.len(),
        set.circuits.len()
    );
    let zkeys = m
        .zkeys
        .iter()
        .enumerate()
        .map(|(k, c)| {
            Zkey::from_bytes(&get(store, c)?)
                .with_context(|| format!("the key of circuit {k} ({c})"))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((m, zkeys))
}

/// A model prepared for `registerWithCeremony`.
pub struct PreparedCeremony {
    /// The registration (artifacts: ONNX, program, initial keys manifest) and the initial keys
    /// as a circuit set (its root is the registration's circuit root).
    pub prepared: Prepared,
    /// The initial keys' transcript hash.
    pub transcript_hash: B256,
    /// The initial keys' manifest.
    pub keys_cid: String,
    pub ptau_power: u32,
}

/// Compiles `onnx`, derives the initial phase-2 key of every distinct circuit from the `.ptau`
/// (into `dir/ceremony`, with the `.r1cs` exports, for snarkjs users), writes them as a circuit
/// set into `dir/keys` and publishes them into `store`.
pub fn prepare_ceremony_registration(
    onnx: &Path,
    ptau: &Path,
    dir: &Path,
    store: &dyn ArtifactStore,
    params: DisputeParams,
    progress: &mut dyn FnMut(usize, usize, &str),
) -> Result<PreparedCeremony> {
    let (program, compile_seconds) = compile_model(onnx)?;
    let t = std::time::Instant::now();
    let cdir = dir.join("ceremony");
    let c = cer::init(&program, ptau, &cdir, progress)
        .with_context(|| format!("initial keys from {}", ptau.display()))?;
    let zkeys = cer::read_keys(&program, &cdir)?;
    let keys_dir = dir.join("keys");
    let set = cer::write_circuit_set(&program, &zkeys, &keys_dir)?;
    let setup_seconds = t.elapsed().as_secs_f64();
    let keys_cid = publish_keys(store, &program, c.ptau_power, &zkeys)?;
    let cids = vec![
        put(
            store,
            &std::fs::read(onnx).with_context(|| format!("reading {}", onnx.display()))?,
        )?,
        put(store, &program.to_bytes())?,
        keys_cid.clone(),
    ];
    let registration = registration(&program, &set, cids, params)?;
    Ok(PreparedCeremony {
        transcript_hash: B256::from(cer::transcript_hash(&zkeys)),
        keys_cid,
        ptau_power: c.ptau_power,
        prepared: Prepared {
            program,
            set,
            keys_dir,
            registration,
            compile_seconds,
            setup_seconds,
            setup_cached: false,
        },
    })
}

/// The manifest of a model's current ceremony keys: the last contribution's, else the
/// registration's (artifact 2).
pub fn current_keys_cid(id: u64, model: &Model, view: &CeremonyView) -> Result<String> {
    if !view.keys_cid.is_empty() {
        return Ok(view.keys_cid.clone());
    }
    model
        .artifact_cids
        .get(2)
        .cloned()
        .with_context(|| format!("model {id}: the registration names no initial keys"))
}

/// One contribution, ready to be recorded on chain.
#[derive(Debug, Clone)]
pub struct Contribution {
    /// The transcript hash it builds on (the registry's current one).
    pub prev_transcript: B256,
    pub transcript_hash: B256,
    pub circuit_root: B256,
    pub keys_cid: String,
    /// Each circuit's contribution hash (what the contributor keeps to find itself in the
    /// transcript later).
    pub hashes: Vec<[u8; 64]>,
    pub seconds: f64,
}

/// Fetches a model's current keys, checks they are the ones the registry records, adds one
/// contribution (a fresh secret per circuit from `rng`), writes the new keys as a circuit set
/// into `dir/keys` and publishes them. With `ptau`, the keys it builds on are verified first
/// (recommended: a contribution on top of keys that do not verify is wasted).
#[allow(clippy::too_many_arguments)]
pub fn contribute<R: RngCore + CryptoRng>(
    id: u64,
    model: &Model,
    view: &CeremonyView,
    store: &dyn ArtifactStore,
    dir: &Path,
    name: Option<&str>,
    ptau: Option<&Path>,
    rng: &mut R,
) -> Result<Contribution> {
    ensure!(
        view.closes_at != 0,
        "model {id} was registered without a ceremony: there is nothing to contribute to"
    );
    let program = registered_program(id, model, store)?;
    let cid = current_keys_cid(id, model, view)?;
    let (manifest, zkeys) = fetch_keys(store, &cid, &program)?;
    let have = B256::from(cer::transcript_hash(&zkeys));
    ensure!(
        have == view.transcript_hash,
        "model {id}: the keys at {cid} have transcript hash {have}, the registry records {}",
        view.transcript_hash
    );
    if let Some(ptau) = ptau {
        cer::verify_keys(&program, ptau, &zkeys, rng, &mut |_, _, _| {})
            .with_context(|| format!("model {id}: the current keys ({cid}) do not verify"))?;
    }
    let t = std::time::Instant::now();
    let mut next = Vec::with_capacity(zkeys.len());
    let mut hashes = Vec::with_capacity(zkeys.len());
    for z in &zkeys {
        let (n, h) = mpc::contribute(z, name, rng)?;
        next.push(n);
        hashes.push(h);
    }
    let seconds = t.elapsed().as_secs_f64();
    let set = cer::write_circuit_set(&program, &next, &dir.join("keys"))?;
    let keys_cid = publish_keys(store, &program, manifest.ptau_power, &next)?;
    Ok(Contribution {
        prev_transcript: view.transcript_hash,
        transcript_hash: B256::from(cer::transcript_hash(&next)),
        circuit_root: B256::from(set.root()?),
        keys_cid,
        hashes,
        seconds,
    })
}

/// Why an actor does not play a model, when that will not change (keys that do not verify, a
/// ceremony that closed without contributions). Fetch failures are not refusals.
#[derive(Debug, thiserror::Error)]
#[error("model {model} refused: {reason}")]
pub struct Refused {
    pub model: u64,
    pub reason: String,
}

fn refuse(model: u64, reason: impl Into<String>) -> anyhow::Error {
    Refused {
        model,
        reason: reason.into(),
    }
    .into()
}

/// Loads a model registered with a ceremony: its final keys, fetched from the store and
/// verified against `ptau` and the model (every contribution chains from the initial keys the
/// `.ptau` gives), must have the registry's transcript hash and circuit root. The verified keys
/// are kept in `cache/<modelHash>-<transcript>/` and not verified again.
pub fn load_ceremony_model(
    id: u64,
    model: Model,
    view: &CeremonyView,
    store: &dyn ArtifactStore,
    cache: &Path,
    ptau: Option<&Path>,
) -> Result<LoadedModel> {
    if !view.done {
        // not a refusal: a window still open may yet close with contributions (and while the
        // model is not done the registry takes no request for it anyway)
        bail!(
            "model {id}: its ceremony is not done ({} contributions; requests open once the \
             window has closed with at least one)",
            view.contributions
        );
    }
    let program = registered_program(id, &model, store)?;
    let dir: PathBuf = cache.join(format!(
        "{}-{}",
        hex::encode(&model.model_hash[..8]),
        hex::encode(&view.transcript_hash[..8])
    ));
    let marker = dir.join("verified");
    let cached = std::fs::read_to_string(&marker).ok() == Some(view.transcript_hash.to_string());
    let set = match CircuitSet::load(&dir, &program) {
        Ok(set) if cached && B256::from(set.root()?) == model.circuit_root => set,
        _ => {
            let Some(ptau) = ptau else {
                return Err(refuse(
                    id,
                    "its keys come from a ceremony and are verified against a Powers-of-Tau \
                     file: pass --ptau (the .ptau the ceremony started from)",
                ));
            };
            let cid = current_keys_cid(id, &model, view)?;
            let (_, zkeys) = fetch_keys(store, &cid, &program)?;
            let have = B256::from(cer::transcript_hash(&zkeys));
            if have != view.transcript_hash {
                return Err(refuse(
                    id,
                    format!(
                        "the keys at {cid} have transcript hash {have}, the registry records {}",
                        view.transcript_hash
                    ),
                ));
            }
            let rng = &mut zkopml_zk::groth16::os_rng();
            if let Err(e) = cer::verify_keys(&program, ptau, &zkeys, rng, &mut |_, _, _| {}) {
                if matches!(e, zkopml_ceremony::CeremonyError::Io { .. }) {
                    return Err(anyhow::Error::new(e)
                        .context(format!("model {id}: reading {}", ptau.display())));
                }
                return Err(refuse(
                    id,
                    format!("its ceremony keys ({cid}) do not verify: {e}"),
                ));
            }
            let set = cer::write_circuit_set(&program, &zkeys, &dir)?;
            if B256::from(set.root()?) != model.circuit_root {
                return Err(refuse(
                    id,
                    "its verified keys' circuit root differs from the registry's circuitRoot",
                ));
            }
            write_atomic(&marker, view.transcript_hash.to_string().as_bytes())?;
            set
        }
    };
    LoadedModel::new(id, model, program, set, dir)
}
