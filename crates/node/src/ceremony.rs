//! Models whose keys come from a phase-2 ceremony (docs/zk.md "Trusted setup"): the registrant
//! publishes initial keys derived from a Powers-of-Tau file, contributors add to them on chain
//! during the window (the registry keeps every contribution), the owner accepts one whose keys
//! it verified once the window has closed ([`choose_contribution`]), and every actor verifies
//! the accepted keys against its own copy of the `.ptau` and the model before it bonds on
//! anything.
//!
//! The keys of a ceremony are published as a manifest ([`CeremonyKeys`], JSON) naming one
//! `.zkey` (snarkjs format) per distinct circuit. The registration's artifacts are the ONNX
//! file, the compiled program and the manifest of the initial keys; each `contribute` names the
//! manifest of the keys after it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use zkopml_ceremony::{model as cer, mpc, zkey::Zkey};
use zkopml_chain::{ContributionRecord, DisputeParams, Model, B256};
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
    /// The accepted contribution's transcript hash once accepted; before that the latest
    /// contribution's (the initial keys' before any).
    pub transcript_hash: B256,
    /// The owner accepted a contribution (its keys are the model's; requests are open).
    pub done: bool,
    /// The accepted contribution's keys manifest once accepted, before that the latest
    /// contribution's ("" before the first).
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
    let registration = registration(
        &program,
        &set,
        crate::artifacts::put_manifest(store, &cids)?,
        params,
    )?;
    Ok(PreparedCeremony {
        transcript_hash: B256::from(cer::transcript_hash(&zkeys)),
        keys_cid,
        ptau_power: c.ptau_power,
        prepared: Prepared {
            program,
            artifact_cids: cids,
            set,
            keys_dir,
            registration,
            compile_seconds,
            setup_seconds,
            setup_cached: false,
        },
    })
}

/// The manifest of a model's current ceremony keys: the accepted contribution's, else the
/// latest contribution's, else the registration's (artifact 2).
pub fn current_keys_cid(
    id: u64,
    model: &Model,
    view: &CeremonyView,
    store: &dyn ArtifactStore,
) -> Result<String> {
    if !view.keys_cid.is_empty() {
        return Ok(view.keys_cid.clone());
    }
    crate::artifacts::artifact_cids(id, model, store)?
        .get(2)
        .cloned()
        .with_context(|| format!("model {id}: the registration names no initial keys"))
}

/// One contribution, ready to be recorded on chain.
#[derive(Debug, Clone)]
pub struct Contribution {
    /// The transcript hash it builds on (the registry's latest).
    pub prev_transcript: B256,
    pub transcript_hash: B256,
    pub circuit_root: B256,
    pub keys_cid: String,
    /// Each circuit's contribution hash (what the contributor keeps to find itself in the
    /// transcript later).
    pub hashes: Vec<[u8; 64]>,
    pub seconds: f64,
}

/// Fetches a model's latest keys, checks they are the ones the registry records, adds one
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
    let cid = current_keys_cid(id, model, view, store)?;
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

/// Why an actor does not play a model, when that will not change (accepted keys that do not
/// verify, no `.ptau` to verify them). Fetch failures are not refusals.
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

/// Loads a model registered with a ceremony: the keys of the contribution its owner accepted,
/// fetched from the store and verified against `ptau` and the model (every contribution chains
/// from the initial keys the `.ptau` gives), must have the registry's transcript hash and
/// circuit root. The verified keys are kept in `cache/<modelHash>-<transcript>/` (see
/// [`verified_dir`]) and not verified again.
pub fn load_ceremony_model(
    id: u64,
    model: Model,
    view: &CeremonyView,
    store: &dyn ArtifactStore,
    cache: &Path,
    ptau: Option<&Path>,
) -> Result<LoadedModel> {
    if !view.done {
        // not a refusal: the owner may yet accept a contribution (and until it does the
        // registry takes no request for the model anyway)
        bail!(
            "model {id}: its ceremony is not done ({} contributions; requests open once the \
             owner has accepted a verified contribution after the window closed)",
            view.contributions
        );
    }
    let program = registered_program(id, &model, store)?;
    let dir = verified_dir(cache, &model, &view.transcript_hash);
    let marker = dir.join(VERIFIED);
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
            let cid = current_keys_cid(id, &model, view, store)?;
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

/// The marker file of a verified keys folder: it holds the keys' transcript hash.
const VERIFIED: &str = "verified";

/// Where verified ceremony keys of `model` with transcript hash `transcript` are kept as a
/// circuit set under `cache`: `<modelHash[..8]>-<transcript[..8]>/`, with a `verified` marker
/// holding the transcript hash once they verified. The owner's [`choose_contribution`] writes
/// the keys it accepts there too, so an actor with the same cache does not verify them again.
pub fn verified_dir(cache: &Path, model: &Model, transcript: &B256) -> PathBuf {
    cache.join(format!(
        "{}-{}",
        hex::encode(&model.model_hash[..8]),
        hex::encode(&transcript[..8])
    ))
}

/// A recorded contribution the owner did not accept, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub index: u32,
    pub reason: String,
}

/// The contribution the owner may accept, as [`choose_contribution`] found it.
#[derive(Debug)]
pub struct Choice {
    pub index: u32,
    /// Contributions tried before it and not acceptable, in the order tried.
    pub skipped: Vec<Skipped>,
    /// Its keys as a circuit set (in [`verified_dir`]); its root is the recorded one.
    pub set: CircuitSet,
    pub dir: PathBuf,
    /// Seconds spent fetching and verifying.
    pub seconds: f64,
}

/// How many recorded contributions each one's keys build on, itself included: 1 for one built
/// on the initial keys, 1 + its parent's otherwise (a parent is always recorded earlier).
pub fn chain_lengths(records: &[ContributionRecord]) -> Vec<u32> {
    let mut len: Vec<u32> = Vec::with_capacity(records.len());
    for r in records {
        let p = r.parent as usize;
        len.push(if p == 0 || p > len.len() {
            1
        } else {
            len[p - 1] + 1
        });
    }
    len
}

/// The order in which the owner tries a ceremony's contributions: the longest recorded chain
/// first, the newest among chains of the same length. In a ceremony whose contributors each
/// build on the latest keys this is newest first; a late contribution that forks off older
/// keys (a contributor who restarts from the initial keys, whose δ it then knows alone) does
/// not displace a longer chain of others' contributions.
pub fn acceptance_order(records: &[ContributionRecord]) -> Vec<u32> {
    let len = chain_lengths(records);
    let mut order: Vec<u32> = (0..records.len() as u32).collect();
    order.sort_by(|&a, &b| len[b as usize].cmp(&len[a as usize]).then(b.cmp(&a)));
    order
}

/// Chooses the contribution the owner of model `id` accepts: `only` if given, else the first of
/// [`acceptance_order`] whose keys pass every check of [`check_contribution`]. Each one that
/// does not is logged and listed in [`Choice::skipped`]; none passing is an error that lists
/// why. Errors that say nothing about the keys (the `.ptau` unreadable, the cache not
/// writable) end the search.
#[allow(clippy::too_many_arguments)]
pub fn choose_contribution<R: RngCore + CryptoRng>(
    id: u64,
    model: &Model,
    records: &[ContributionRecord],
    store: &dyn ArtifactStore,
    cache: &Path,
    ptau: &Path,
    only: Option<u32>,
    rng: &mut R,
) -> Result<Choice> {
    ensure!(
        !records.is_empty(),
        "model {id}: no contribution was recorded in its ceremony, so there is nothing to accept \
         (the owner may extend the window)"
    );
    let order = match only {
        Some(i) => {
            ensure!(
                (i as usize) < records.len(),
                "model {id} has {} contributions: there is no contribution {i}",
                records.len()
            );
            vec![i]
        }
        None => acceptance_order(records),
    };
    let t = std::time::Instant::now();
    let program = registered_program(id, model, store)?;
    let mut ancestors = HashMap::new();
    let mut skipped = Vec::new();
    for index in order {
        match check_contribution(
            id,
            model,
            &program,
            records,
            index,
            store,
            cache,
            ptau,
            &mut ancestors,
            rng,
        )? {
            Ok((set, dir)) => {
                return Ok(Choice {
                    index,
                    skipped,
                    set,
                    dir,
                    seconds: t.elapsed().as_secs_f64(),
                })
            }
            Err(reason) => {
                let r = &records[index as usize];
                tracing::warn!(
                    model = id,
                    contribution = index,
                    contributor = %r.contributor,
                    "not accepting contribution {index} of model {id} (by {}): {reason}",
                    r.contributor
                );
                skipped.push(Skipped { index, reason });
            }
        }
    }
    let why: Vec<String> = skipped
        .iter()
        .map(|s| format!("contribution {}: {}", s.index, s.reason))
        .collect();
    bail!(
        "model {id}: no contribution can be accepted ({}); the owner may extend the window for \
         new ones",
        why.join("; ")
    )
}

/// Checks recorded contribution `index` of model `id` as its owner must before accepting it:
/// (1) its manifest names keys of the model whose transcript hash is the recorded one, (2)
/// every contribution the registry records it as building on (its parent, the parent's parent,
/// …) is in these keys' transcript, circuit by circuit (the keys of each are a prefix of these),
/// (3) their circuit root is the recorded one, (4) they verify against `ptau` and the model
/// ([`cer::verify_keys`]: every contribution in them chains from the initial keys the `.ptau`
/// gives). `Ok(Err(why))` when they fail a check; `Err` for errors that say nothing about them.
#[allow(clippy::too_many_arguments)]
fn check_contribution<R: RngCore + CryptoRng>(
    id: u64,
    model: &Model,
    program: &Program,
    records: &[ContributionRecord],
    index: u32,
    store: &dyn ArtifactStore,
    cache: &Path,
    ptau: &Path,
    ancestors: &mut HashMap<
        u32,
        std::result::Result<Vec<zkopml_ceremony::zkey::MpcParams>, String>,
    >,
    rng: &mut R,
) -> Result<std::result::Result<(CircuitSet, PathBuf), String>> {
    let rec = &records[index as usize];
    let zkeys = match fetch_keys(store, &rec.keys_cid, program) {
        Ok((_, z)) => z,
        Err(e) => {
            return Ok(Err(format!(
                "its keys ({}) cannot be used: {e:#}",
                rec.keys_cid
            )))
        }
    };
    let have = B256::from(cer::transcript_hash(&zkeys));
    if have != rec.transcript_hash {
        return Ok(Err(format!(
            "the keys at {} have transcript hash {have}, the registry records {}",
            rec.keys_cid, rec.transcript_hash
        )));
    }
    // (2): walk up the recorded chain; every ancestor's transcript must be a prefix of ours
    let mut p = rec.parent;
    while p != 0 {
        let a = p - 1;
        if a >= index || a as usize >= records.len() {
            return Ok(Err(format!(
                "its recorded parent {a} is not an earlier contribution"
            )));
        }
        let anc = ancestors
            .entry(a)
            .or_insert_with(|| {
                let r = &records[a as usize];
                fetch_keys(store, &r.keys_cid, program)
                    .map(|(_, z)| z.into_iter().map(|z| z.mpc).collect())
                    .map_err(|e| format!("{e:#}"))
            })
            .clone();
        let anc = match anc {
            Ok(a) => a,
            Err(e) => {
                return Ok(Err(format!(
                    "the keys of contribution {a}, which it builds on, cannot be fetched: {e}"
                )))
            }
        };
        for (k, (mine, theirs)) in zkeys.iter().map(|z| &z.mpc).zip(&anc).enumerate() {
            let n = theirs.contributions.len();
            if mine.cs_hash != theirs.cs_hash
                || mine.contributions.len() < n
                || mine.contributions[..n] != theirs.contributions[..]
            {
                return Ok(Err(format!(
                    "it is recorded as building on contribution {a}, but circuit {k}'s key does \
                     not contain that contribution's transcript"
                )));
            }
        }
        p = records[a as usize].parent;
    }
    // (3), before the costly (4)
    let dir = verified_dir(cache, model, &rec.transcript_hash);
    let marker = dir.join(VERIFIED);
    match std::fs::remove_file(&marker) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("removing {}", marker.display())),
    }
    let set = cer::write_circuit_set(program, &zkeys, &dir)
        .with_context(|| format!("model {id}: writing contribution {index}'s keys"))?;
    let root = B256::from(set.root()?);
    if root != rec.circuit_root {
        return Ok(Err(format!(
            "its keys' circuit root is {root}, the registry records {}",
            rec.circuit_root
        )));
    }
    if let Err(e) = cer::verify_keys(program, ptau, &zkeys, rng, &mut |_, _, _| {}) {
        if matches!(e, zkopml_ceremony::CeremonyError::Io { .. }) {
            return Err(anyhow::Error::new(e).context(format!("reading {}", ptau.display())));
        }
        return Ok(Err(format!(
            "its keys ({}) do not verify against {}: {e}",
            rec.keys_cid,
            ptau.display()
        )));
    }
    write_atomic(&marker, rec.transcript_hash.to_string().as_bytes())?;
    Ok(Ok((set, dir)))
}
