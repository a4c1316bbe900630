//! The ceremony of a whole model: one phase-2 key per distinct circuit of its circuit table.
//!
//! ```text
//! <dir>/ceremony.json   model hash, ptau power, per circuit: kind, constraints, circuit hash,
//!                       contributions so far
//! <dir>/c<k>.r1cs       circuit k in circom's format (for snarkjs users)
//! <dir>/c<k>.zkey       the latest key of circuit k (snarkjs format)
//! ```
//!
//! [`init`] derives the initial keys from a `.ptau`; [`contribute`] adds one contribution to
//! every circuit (each with its own secret); [`verify`] recomputes every initial key from the
//! `.ptau` and the *model* (not from the `.r1cs` files in the folder) and checks each chain;
//! [`finalize`] verifies and writes the keys as the circuit set the prover and the registry use
//! (`keys/c<k>.pk`, `circuits.json`, the circuit root).

use std::path::{Path, PathBuf};

use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use zkopml_model::Program;
use zkopml_zk::{
    circuit_set::{CircuitSet, Progress},
    circuits::chunk::ChunkCircuit,
    evm,
    groth16::{circuit_info, keccak256, to_hex},
    table::OpCircuit,
};

use crate::error::CeremonyError;
use crate::mpc::{self, Verified};
use crate::ptau::Ptau;
use crate::r1cs::synthesize;
use crate::zkey::Zkey;

/// One circuit's line in `ceremony.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CircuitCeremony {
    /// Index in the circuit set.
    pub index: usize,
    /// Operator kind.
    pub kind: String,
    /// Constraints.
    pub constraints: usize,
    /// log2 of its domain.
    pub domain_power: u32,
    /// The circuit hash (blake2b-512 of the initial key), hex.
    pub cs_hash: String,
    /// Contributions so far.
    pub contributions: usize,
}

/// `ceremony.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelCeremony {
    /// keccak of the compiled model, hex.
    pub model_hash: String,
    /// Power of the `.ptau` the initial keys came from.
    pub ptau_power: u32,
    /// The distinct circuits.
    pub circuits: Vec<CircuitCeremony>,
}

/// What [`verify`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelVerified {
    /// Per circuit.
    pub circuits: Vec<Verified>,
    /// `keccak256` of the circuits' transcript hashes in circuit order: what the registry
    /// records for the model.
    pub transcript_hash: [u8; 32],
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CeremonyError + '_ {
    move |source| CeremonyError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn zkey_path(dir: &Path, k: usize) -> PathBuf {
    dir.join(format!("c{k}.zkey"))
}

fn initial_key(shape: &OpCircuit, ptau: &mut Ptau) -> Result<Zkey, CeremonyError> {
    let (r1cs, _) = synthesize(ChunkCircuit::shape(shape.clone()), false)?;
    Zkey::new(&r1cs, ptau)
}

impl ModelCeremony {
    /// Reads `<dir>/ceremony.json`.
    pub fn load(dir: &Path) -> Result<Self, CeremonyError> {
        let path = dir.join("ceremony.json");
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| crate::error::format("ceremony.json", e.to_string()))
    }

    /// Writes `<dir>/ceremony.json`.
    pub fn save(&self, dir: &Path) -> Result<(), CeremonyError> {
        let path = dir.join("ceremony.json");
        let bytes = serde_json::to_vec_pretty(self).expect("serializable");
        std::fs::write(&path, bytes).map_err(io(&path))
    }
}

/// Writes the initial keys of every distinct circuit of `program` from the `.ptau` at
/// `ptau_path` into `dir`.
pub fn init(
    program: &Program,
    ptau_path: &Path,
    dir: &Path,
    progress: Progress,
) -> Result<ModelCeremony, CeremonyError> {
    let mut ptau = Ptau::open(ptau_path)?;
    let (set, shapes) = CircuitSet::plan(program)?;
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut circuits = Vec::new();
    for (k, shape) in shapes.iter().enumerate() {
        progress(
            k,
            shapes.len(),
            &format!("circuit {k} ({})", set.circuits[k].kind),
        );
        let (r1cs, _) = synthesize(ChunkCircuit::shape(shape.clone()), false)?;
        let r1cs_path = dir.join(format!("c{k}.r1cs"));
        std::fs::write(&r1cs_path, r1cs.to_bytes()).map_err(io(&r1cs_path))?;
        let zkey = Zkey::new(&r1cs, &mut ptau)?;
        zkey.write(&zkey_path(dir, k))?;
        circuits.push(CircuitCeremony {
            index: k,
            kind: set.circuits[k].kind.clone(),
            constraints: r1cs.num_constraints(),
            domain_power: r1cs.domain_power(),
            cs_hash: hex::encode(zkey.mpc.cs_hash),
            contributions: 0,
        });
    }
    progress(shapes.len(), shapes.len(), "done");
    let c = ModelCeremony {
        model_hash: set.model_hash,
        ptau_power: ptau.power,
        circuits,
    };
    c.save(dir)?;
    Ok(c)
}

/// Adds one contribution (a fresh secret per circuit, from `rng`) to every key in `dir`.
/// Returns each circuit's contribution hash.
pub fn contribute<R: RngCore + CryptoRng>(
    dir: &Path,
    name: Option<&str>,
    rng: &mut R,
    progress: Progress,
) -> Result<Vec<[u8; 64]>, CeremonyError> {
    let mut c = ModelCeremony::load(dir)?;
    let mut hashes = Vec::new();
    let total = c.circuits.len();
    for (k, circuit) in c.circuits.iter_mut().enumerate() {
        progress(k, total, &format!("circuit {k} ({})", circuit.kind));
        let zkey = Zkey::read(&zkey_path(dir, k))?;
        let (next, hash) = mpc::contribute(&zkey, name, rng)?;
        let tmp = dir.join(format!("c{k}.zkey.tmp"));
        next.write(&tmp)?;
        std::fs::rename(&tmp, zkey_path(dir, k)).map_err(io(&tmp))?;
        circuit.contributions = next.mpc.contributions.len();
        hashes.push(hash);
    }
    progress(total, total, "done");
    c.save(dir)?;
    Ok(hashes)
}

/// Reads the latest key of every circuit of the ceremony in `dir` (`c0.zkey`, `c1.zkey`, …,
/// as many as `program` has distinct circuits).
pub fn read_keys(program: &Program, dir: &Path) -> Result<Vec<Zkey>, CeremonyError> {
    let (set, _) = CircuitSet::plan(program)?;
    (0..set.circuits.len())
        .map(|k| Zkey::read(&zkey_path(dir, k)))
        .collect()
}

/// The model's transcript hash of a set of keys, as the registry records it:
/// `keccak256(t_0 ‖ t_1 ‖ …)` with `t_k` circuit `k`'s [`mpc::transcript_hash`].
pub fn transcript_hash(zkeys: &[Zkey]) -> [u8; 32] {
    let mut all = Vec::with_capacity(32 * zkeys.len());
    zkeys
        .iter()
        .for_each(|z| all.extend_from_slice(&mpc::transcript_hash(z)));
    keccak256(&all)
}

/// Verifies every key in `dir` against initial keys derived from the `.ptau` and `program`.
pub fn verify<R: RngCore + CryptoRng>(
    program: &Program,
    ptau_path: &Path,
    dir: &Path,
    rng: &mut R,
    progress: Progress,
) -> Result<(ModelVerified, Vec<Zkey>), CeremonyError> {
    let zkeys = read_keys(program, dir)?;
    let v = verify_keys(program, ptau_path, &zkeys, rng, progress).map_err(|e| match e {
        CeremonyError::CircuitKey {
            circuit, source, ..
        } => CeremonyError::CircuitKey {
            circuit,
            path: zkey_path(dir, circuit).display().to_string(),
            source,
        },
        other => other,
    })?;
    Ok((v, zkeys))
}

/// Verifies one key per distinct circuit of `program` (in circuit order) against the initial
/// keys derived from the `.ptau` and `program`: every contribution must chain (see
/// [`mpc::verify`]). The keys may come from anywhere (a folder, a content-addressed store).
/// The circuits are those of [`CircuitSet::plan`], which checks that every chunk sharing a
/// circuit reads the same synthesis data as the circuit's first chunk.
pub fn verify_keys<R: RngCore + CryptoRng>(
    program: &Program,
    ptau_path: &Path,
    zkeys: &[Zkey],
    rng: &mut R,
    progress: Progress,
) -> Result<ModelVerified, CeremonyError> {
    let mut ptau = Ptau::open(ptau_path)?;
    let (_, shapes) = CircuitSet::plan(program)?;
    if zkeys.len() != shapes.len() {
        return Err(crate::error::format(
            "ceremony keys",
            format!(
                "{} keys for a model of {} circuits",
                zkeys.len(),
                shapes.len()
            ),
        ));
    }
    let mut circuits = Vec::new();
    for (k, (shape, zkey)) in shapes.iter().zip(zkeys).enumerate() {
        progress(k, shapes.len(), &format!("circuit {k}"));
        let init = initial_key(shape, &mut ptau)?;
        let v = mpc::verify(&init, zkey, rng).map_err(|e| match e {
            CeremonyError::Zk(_) | CeremonyError::Io { .. } => e,
            other => CeremonyError::CircuitKey {
                circuit: k,
                path: format!("key of circuit {k}"),
                source: Box::new(other),
            },
        })?;
        circuits.push(v);
    }
    progress(shapes.len(), shapes.len(), "done");
    Ok(ModelVerified {
        circuits,
        transcript_hash: transcript_hash(zkeys),
    })
}

/// Verifies the ceremony in `dir` and writes its final keys as the circuit set of `program`
/// into `keys_dir` (the layout `zkopml setup` writes).
pub fn finalize<R: RngCore + CryptoRng>(
    program: &Program,
    ptau_path: &Path,
    dir: &Path,
    keys_dir: &Path,
    rng: &mut R,
    progress: Progress,
) -> Result<(CircuitSet, ModelVerified), CeremonyError> {
    let (verified, zkeys) = verify(program, ptau_path, dir, rng, progress)?;
    Ok((write_circuit_set(program, &zkeys, keys_dir)?, verified))
}

/// Writes `zkeys` (one per distinct circuit of `program`, in order) as the circuit set the
/// prover and the registry use (`keys/c<k>.pk`, `circuits.json`, the circuit root), without
/// verifying them: [`verify_keys`] first unless they are known good.
pub fn write_circuit_set(
    program: &Program,
    zkeys: &[Zkey],
    keys_dir: &Path,
) -> Result<CircuitSet, CeremonyError> {
    let (mut set, shapes) = CircuitSet::plan(program)?;
    if zkeys.len() != shapes.len() {
        return Err(crate::error::format(
            "ceremony keys",
            format!(
                "{} keys for a model of {} circuits",
                zkeys.len(),
                shapes.len()
            ),
        ));
    }
    let keys_sub = keys_dir.join("keys");
    std::fs::create_dir_all(&keys_sub).map_err(io(&keys_sub))?;
    for (k, (shape, zkey)) in shapes.into_iter().zip(zkeys).enumerate() {
        let info = circuit_info(ChunkCircuit::shape(shape))?;
        let keys = zkey.keys(info)?;
        let bytes = keys.to_bytes()?;
        CircuitSet::write_proving_key(keys_dir, k, &bytes)?;
        let meta = &mut set.circuits[k];
        meta.id = keys.info.id_hex();
        meta.constraints = keys.info.num_constraints;
        meta.vk_hash = to_hex(&evm::vk_hash(keys.vk()));
        meta.vk_abi = to_hex(&evm::vk_abi(keys.vk()));
        meta.pk_bytes = bytes.len() as u64;
    }
    let leaves = set.leaves()?;
    set.circuit_root = to_hex(&zkopml_exec::commit::MerkleTree::new(&leaves).root());
    check_circuit_set(program, &set, false)?;
    set.save(keys_dir)?;
    Ok(set)
}

/// The identity check of a circuit set (`circuits.json`) against `program`: every (op, chunk)
/// of the model must be mapped to a circuit it really synthesises. First the table
/// ([`CircuitSet::check_table`]: the (op, chunk)s, their reads, and each chunk's structure
/// key against its circuit's), then the constraint systems ([`CircuitSet::check_synthesis`]:
/// with `all`, every chunk's circuit id against its circuit's; otherwise the last chunk of
/// each shared circuit). [`write_circuit_set`] runs it with `all = false`, and
/// [`CircuitSet::load`] runs the table part on every load. A mismatch is
/// `CeremonyError::Zk(ZkError::CircuitIdentity { op, chunk, .. })`.
pub fn check_circuit_set(
    program: &Program,
    set: &CircuitSet,
    all: bool,
) -> Result<(), CeremonyError> {
    set.check_table(program)?;
    set.check_synthesis(program, all, &mut |_, _, _| {})?;
    Ok(())
}
