//! The registrar's preparation of a model and the other actors' loading of it.
//!
//! A registration names one CID, its manifest's (docs/node.md "Artifacts"): a JSON object
//! `{"version": 1, "artifacts": [...]}` listing, in order, the ONNX file, the compiled program
//! (`Program::to_bytes`, whose keccak is `modelHash`), `circuits.json` (or a ceremony's keys
//! manifest), then the proving key of every distinct circuit `k` (`keys/c<k>.pk`). Everything an
//! actor needs to defend or challenge is therefore named on chain, in one 32-byte-ish string
//! whatever the number of circuits, and fetched, integrity-checked, from the content-addressed
//! store.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use zkopml_chain::{DisputeParams, Model, Registration, B256};
use zkopml_exec::commit::{meta_tree, MerkleTree};
use zkopml_model::input::read_input_json;
use zkopml_model::{compile_onnx, default_calibration, Program};
use zkopml_store::{ArtifactStore, Cid};
use zkopml_zk::{circuit_set::CircuitSet, table::WeightsMode};

use crate::trace::tensor_meta;

/// A model compiled and set up, ready to register.
pub struct Prepared {
    pub program: Program,
    /// The artifacts the manifest lists (module docs).
    pub artifact_cids: Vec<String>,
    pub set: CircuitSet,
    pub keys_dir: PathBuf,
    pub registration: Registration,
    /// Seconds spent compiling and in the Groth16 setup (0 when the keys were cached).
    pub compile_seconds: f64,
    pub setup_seconds: f64,
    pub setup_cached: bool,
}

/// Compiles `onnx`, calibrated on the input.json beside it (when there is one) and variations
/// of it; returns the program and the seconds it took.
pub fn compile_model(onnx: &Path) -> Result<(Program, f64)> {
    let t = std::time::Instant::now();
    let graph = zkopml_model::Graph::from_path(onnx)
        .with_context(|| format!("loading {}", onnx.display()))?;
    let numel: usize = graph.input_shape.iter().product();
    let sample_path = onnx.with_file_name("input.json");
    let sample = if sample_path.exists() {
        Some(read_input_json(&sample_path)?)
    } else {
        None
    };
    let cal = default_calibration(numel, sample.as_deref());
    let (_, program) =
        compile_onnx(onnx, &cal).with_context(|| format!("compiling {}", onnx.display()))?;
    Ok((program, t.elapsed().as_secs_f64()))
}

/// The manifest of a registration's artifacts (module docs).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Manifest {
    version: u32,
    artifacts: Vec<String>,
}

/// Puts the manifest listing `artifact_cids` into the store; returns its CID.
pub(crate) fn put_manifest(store: &dyn ArtifactStore, artifact_cids: &[String]) -> Result<String> {
    let m = Manifest {
        version: 1,
        artifacts: artifact_cids.to_vec(),
    };
    put(store, &serde_json::to_vec(&m)?)
}

/// The artifacts a registered model's manifest lists, in order.
pub fn artifact_cids(id: u64, model: &Model, store: &dyn ArtifactStore) -> Result<Vec<String>> {
    let bytes = get(store, &model.manifest_cid)
        .with_context(|| format!("model {id}: fetching its artifact manifest"))?;
    let m: Manifest = serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "model {id}: the artifact manifest {} is not a manifest",
            model.manifest_cid
        )
    })?;
    if m.version != 1 {
        bail!(
            "model {id}: artifact manifest version {} (this node reads version 1)",
            m.version
        );
    }
    Ok(m.artifacts)
}

/// The registration of `program` with the artifacts of manifest `manifest_cid` and these circuits.
pub fn registration(
    program: &Program,
    set: &CircuitSet,
    manifest_cid: String,
    params: DisputeParams,
) -> Result<Registration> {
    let meta = meta_tree(program);
    let n = program.n_ops();
    Ok(Registration {
        model_hash: B256::from(program.hash()),
        manifest_cid,
        num_ops: n as u32,
        circuit_root: B256::from(set.root()?),
        meta_root: B256::from(meta.root()),
        input: tensor_meta(&program.input),
        output: tensor_meta(program.output_spec()),
        input_meta_path: meta.path(0).into_iter().map(B256::from).collect(),
        output_meta_path: meta.path(n).into_iter().map(B256::from).collect(),
        params,
    })
}

/// Puts `bytes` into the store; returns the CID as text.
pub(crate) fn put(store: &dyn ArtifactStore, bytes: &[u8]) -> Result<String> {
    Ok(store.put(bytes)?.to_string())
}

/// Compiles `onnx` (calibrated on the input.json beside it and variations of it), runs the
/// Groth16 setup into `keys_dir` (reused when it already holds this program's circuits), puts
/// the artifacts into `store` and builds the registration.
pub fn prepare_registration(
    onnx: &Path,
    keys_dir: &Path,
    store: &dyn ArtifactStore,
    seed: Option<u64>,
    params: DisputeParams,
    progress: &mut dyn FnMut(usize, usize, &str),
) -> Result<Prepared> {
    prepare_registration_in(
        onnx,
        keys_dir,
        store,
        seed,
        params,
        WeightsMode::Baked,
        progress,
    )
}

/// [`prepare_registration`] with the weights where `weights` puts them.
pub fn prepare_registration_in(
    onnx: &Path,
    keys_dir: &Path,
    store: &dyn ArtifactStore,
    seed: Option<u64>,
    params: DisputeParams,
    weights: WeightsMode,
    progress: &mut dyn FnMut(usize, usize, &str),
) -> Result<Prepared> {
    let (mut program, compile_seconds) = compile_model(onnx)?;
    weights.lay_out(&mut program);
    let t = std::time::Instant::now();
    let (set, setup_cached) = match CircuitSet::load(keys_dir, &program) {
        Ok(set) if set.insecure_seed == seed && seed.is_some() && set.weights == weights => {
            (set, true)
        }
        _ => (
            CircuitSet::setup_in(&program, weights, keys_dir, seed, progress)
                .context("Groth16 setup")?,
            false,
        ),
    };
    let setup_seconds = if setup_cached {
        0.0
    } else {
        t.elapsed().as_secs_f64()
    };

    let mut cids = vec![
        put(
            store,
            &std::fs::read(onnx).with_context(|| format!("reading {}", onnx.display()))?,
        )?,
        put(store, &program.to_bytes())?,
        put(store, &std::fs::read(keys_dir.join("circuits.json"))?)?,
    ];
    for k in 0..set.circuits.len() {
        let p = keys_dir.join("keys").join(format!("c{k}.pk"));
        let cid = store
            .put_file(&p)
            .with_context(|| format!("storing {}", p.display()))?;
        cids.push(cid.to_string());
    }
    let registration = registration(&program, &set, put_manifest(store, &cids)?, params)?;
    Ok(Prepared {
        program,
        artifact_cids: cids,
        set,
        keys_dir: keys_dir.to_path_buf(),
        registration,
        compile_seconds,
        setup_seconds,
        setup_cached,
    })
}

/// A registered model as an actor uses it.
pub struct LoadedModel {
    pub id: u64,
    pub chain: Model,
    pub program: Program,
    pub set: CircuitSet,
    pub keys_dir: PathBuf,
    pub meta: MerkleTree,
}

/// The compiled program a registration names (artifact 1), checked against its modelHash.
pub(crate) fn registered_program(
    id: u64,
    model: &Model,
    store: &dyn ArtifactStore,
) -> Result<Program> {
    let cids = artifact_cids(id, model, store)?;
    let cid = cids
        .get(1)
        .with_context(|| format!("model {id}: the registration names no compiled program"))?;
    let program = Program::from_bytes(&get(store, cid)?)?;
    if B256::from(program.hash()) != model.model_hash {
        bail!("model {id}: the compiled program in the store does not hash to the registered modelHash");
    }
    Ok(program)
}

pub(crate) fn get(store: &dyn ArtifactStore, cid: &str) -> Result<Vec<u8>> {
    let c: Cid = cid.parse().with_context(|| format!("artifact CID {cid}"))?;
    store
        .get(&c)
        .with_context(|| format!("fetching the artifact {cid}"))
}

/// Fetches the artifacts of a registered model from `store` into `cache/<modelHash>/` and
/// checks them against what the registry recorded (model hash, circuit root, meta root).
pub fn load_model(
    id: u64,
    model: Model,
    store: &dyn ArtifactStore,
    cache: &Path,
) -> Result<LoadedModel> {
    let cids = artifact_cids(id, &model, store)?;
    if cids.len() < 3 {
        bail!(
            "model {id}: the registration names {} artifacts, expected at least 3",
            cids.len()
        );
    }
    let program = registered_program(id, &model, store)?;
    let dir = cache.join(hex::encode(&model.model_hash[..8]));
    let set = match CircuitSet::load(&dir, &program) {
        Ok(set) if B256::from(set.root()?) == model.circuit_root => set,
        _ => {
            std::fs::create_dir_all(dir.join("keys"))?;
            let cj = get(store, &cids[2])?;
            let set: CircuitSet = serde_json::from_slice(&cj)?;
            if cids.len() != 3 + set.circuits.len() {
                bail!(
                    "model {id}: {} artifacts for {} circuits",
                    cids.len(),
                    set.circuits.len()
                );
            }
            for k in 0..set.circuits.len() {
                let cid: Cid = cids[3 + k]
                    .parse()
                    .with_context(|| format!("artifact CID {}", cids[3 + k]))?;
                store
                    .get_to_file(&cid, &dir.join("keys").join(format!("c{k}.pk")))
                    .with_context(|| format!("fetching the proving key {cid}"))?;
            }
            write_atomic(&dir.join("circuits.json"), &cj)?;
            CircuitSet::load(&dir, &program)?
        }
    };
    if B256::from(set.root()?) != model.circuit_root {
        bail!("model {id}: the circuits in the store do not match the registered circuitRoot");
    }
    // committed weights: the root the circuits were made with (checked against the program by
    // CircuitSet::load) must be the registered one, and a model without one reads no block
    let weights_root = match set.weights {
        WeightsMode::Baked => B256::ZERO,
        WeightsMode::Committed => set.weights_root.parse()?,
    };
    if weights_root != model.weights_root {
        bail!(
            "model {id}: the circuits' weights root {weights_root} is not the registered {}",
            model.weights_root
        );
    }
    LoadedModel::new(id, model, program, set, dir)
}

impl LoadedModel {
    /// A model whose program and circuits were checked against the registration; checks the
    /// program's meta root too.
    pub(crate) fn new(
        id: u64,
        model: Model,
        program: Program,
        set: CircuitSet,
        keys_dir: PathBuf,
    ) -> Result<LoadedModel> {
        let meta = meta_tree(&program);
        if B256::from(meta.root()) != model.meta_root {
            bail!("model {id}: the program's meta root differs from the registered metaRoot");
        }
        Ok(LoadedModel {
            id,
            chain: model,
            program,
            set,
            keys_dir,
            meta,
        })
    }
}

/// Write a file atomically (temporary file in the same folder + rename). The temporary name is
/// unique per process and call, so actors sharing a cache, in one process or several, never
/// write into each other's temporary file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_extension(format!("tmp{}-{n}", std::process::id()));
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}
