//! All circuits of a compiled model: the circuit table, the keys of its distinct circuits and
//! the step proofs the dispute game checks (`docs/commitments.md`, "Circuit table").
//!
//! ```text
//! <dir>/circuits.json   model hash, circuit root, the distinct circuits (id, vkHash, VK in EVM
//!                       layout, constraints) and the table: (op, chunk) -> circuit, reads
//! <dir>/keys/c<k>.pk    proving key of circuit k (contains its verifying key)
//! ```

use std::path::{Path, PathBuf};

use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem};
use rand_core::{CryptoRng, RngCore};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use zkopml_exec::commit::{pack_be, unpack_be, Leaves, MerkleTree, TraceCommitment};
use zkopml_model::{Program, Tensor};

use crate::{
    circuits::chunk::ChunkCircuit,
    evm::{self, EvmVerifyingKey, Word},
    groth16::{self, keccak256, to_hex, Keys},
    structure::STRUCTURE_VERSION,
    table::{op_chunk_in, read_chunks, ChunkRef, OpCircuit, WeightsMode},
    weights::WeightsCommitment,
    ZkError,
};

/// One leaf of the circuit table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableEntry {
    /// The operator (1-based).
    pub op: usize,
    /// Its output chunk.
    pub chunk: usize,
    /// Index into [`CircuitSet::circuits`].
    pub circuit: usize,
    /// The input chunks read, in public-input order: `(slot, chunk)`.
    pub reads: Vec<(usize, usize)>,
}

/// One distinct circuit of the model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CircuitMeta {
    /// Operator kind of the circuit.
    pub kind: String,
    /// The first (op, chunk) it proves.
    pub first: (usize, usize),
    /// Chunks it proves.
    pub uses: usize,
    /// Hash of what its synthesis reads ([`OpCircuit::structure_key`], version 2), hex: every
    /// chunk mapped to the circuit must have it ([`CircuitSet::check_table`]).
    pub structure_key: String,
    /// Circuit identity (hash of the R1CS matrices), hex.
    pub id: String,
    /// Constraints.
    pub constraints: usize,
    /// Public inputs (input chunks + 1).
    pub public_inputs: usize,
    /// `keccak(vk)`, hex; empty before setup.
    pub vk_hash: String,
    /// The verifying key, ABI-encoded as the on-chain verifier reads it, hex.
    pub vk_abi: String,
    /// Seconds the setup of this circuit took.
    pub setup_seconds: f64,
    /// Bytes of its proving-key file.
    pub pk_bytes: u64,
}

/// The most chunks one step may read: each is one more public input and Merkle opening in
/// `proveStep` (about 40k gas: `Weights.t.sol`'s `test_gasOfAWeightRead`), so 256 reads stay
/// near 10.4M gas, under the 2^24 (16.8M) gas cap of one transaction (EIP-7825) with room for
/// the step's own cost. A step that reads more could not be settled on chain: the model is
/// refused at setup (either weights mode), not found out in a dispute. Reads of the input
/// (slot 0) also hash their chunk on chain (docs/gas.md: up to 2.6M gas for 2,048 values),
/// which this count does not weigh. The committed-weights layout ([`WeightsMode::lay_out`])
/// keeps reads near the compiled program's (narrowing at most
/// [`zkopml_model::weights_layout::MAX_NARROWING`]-fold, else column slices); what reads most
/// today is attention over rank-4 tensors (GTE-small's probabilities times values: 129 reads).
pub const MAX_STEP_READS: usize = 256;

/// The circuit table and keys of a compiled model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CircuitSet {
    /// keccak of the compiled model, hex.
    pub model_hash: String,
    /// The root the registry records, hex.
    pub circuit_root: String,
    /// `true` when the keys came from a seeded (public, insecure) RNG.
    pub insecure_seed: Option<u64>,
    /// Version of the structure keys ([`STRUCTURE_VERSION`]; absent, read as 0, in sets made
    /// before version 2, which [`CircuitSet::load`] refuses).
    #[serde(default)]
    pub structure_version: u32,
    /// Where the Gemm weights are (absent, read as baked, in sets made before committed
    /// weights existed).
    #[serde(default)]
    pub weights: WeightsMode,
    /// The weights root the registry records with committed weights
    /// ([`WeightsCommitment::root`]), hex; empty when the weights are baked.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub weights_root: String,
    /// The distinct circuits.
    pub circuits: Vec<CircuitMeta>,
    /// The table, ordered by (op, chunk).
    pub entries: Vec<TableEntry>,
    /// The weights commitment of the program `setup_in` or `load` checked this set against,
    /// kept so that a step proof opens its block without hashing every block again (minutes
    /// for a large model, on a defender's clock).
    #[serde(skip)]
    weights_cache: WeightsCache,
}

/// A computed [`WeightsCommitment`], shared by clones; never part of a set's identity.
#[derive(Clone, Default)]
struct WeightsCache(Option<std::sync::Arc<WeightsCommitment>>);

impl std::fmt::Debug for WeightsCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "cached" } else { "empty" })
    }
}

impl PartialEq for WeightsCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// `keccak(abi.encode(uint256 op, uint256 chunk, bytes32 vkHash, uint256[] inputSlots,
/// uint256[] inputChunks))`.
pub fn table_leaf(op: usize, chunk: usize, vk_hash: &Word, reads: &[(usize, usize)]) -> Word {
    let word = |v: usize| {
        let mut w = [0u8; 32];
        w[24..].copy_from_slice(&(v as u64).to_be_bytes());
        w
    };
    let r = reads.len();
    let mut enc = Vec::with_capacity(32 * (7 + 2 * r));
    enc.extend_from_slice(&word(op));
    enc.extend_from_slice(&word(chunk));
    enc.extend_from_slice(vk_hash);
    enc.extend_from_slice(&word(5 * 32));
    enc.extend_from_slice(&word(5 * 32 + 32 * (1 + r)));
    enc.extend_from_slice(&word(r));
    reads
        .iter()
        .for_each(|&(s, _)| enc.extend_from_slice(&word(s)));
    enc.extend_from_slice(&word(r));
    reads
        .iter()
        .for_each(|&(_, c)| enc.extend_from_slice(&word(c)));
    keccak256(&enc)
}

fn parse_word(hex_str: &str) -> Result<Word, ZkError> {
    let bytes = hex::decode(hex_str.trim_start_matches("0x"))
        .map_err(|e| ZkError::Encoding(format!("hex: {e}")))?;
    bytes
        .try_into()
        .map_err(|_| ZkError::Encoding(format!("not a 32-byte word: {hex_str}")))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ZkError + '_ {
    move |source| ZkError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Progress of a long operation: `(done, total, what)`.
pub type Progress<'a> = &'a mut dyn FnMut(usize, usize, &str);

impl CircuitSet {
    /// The table and the distinct circuits of `program`, before setup (no keys yet).
    ///
    /// Chunks with equal structure keys ([`OpCircuit::structure_key`], an injective encoding
    /// of what their synthesis reads) share a circuit. Each chunk that joins a circuit is also
    /// compared with the circuit's first chunk on the data itself
    /// ([`OpCircuit::same_synthesis`]), so that a flaw in the key cannot merge two different
    /// computations: a mismatch is [`ZkError::CircuitIdentity`].
    pub fn plan(program: &Program) -> Result<(Self, Vec<OpCircuit>), ZkError> {
        Self::plan_in(program, WeightsMode::Baked)
    }

    /// [`Self::plan`] with the Gemm weights where `weights` puts them.
    pub fn plan_in(
        program: &Program,
        weights: WeightsMode,
    ) -> Result<(Self, Vec<OpCircuit>), ZkError> {
        let mut circuits: Vec<CircuitMeta> = Vec::new();
        let mut shapes: Vec<OpCircuit> = Vec::new();
        let mut by_key: std::collections::HashMap<[u8; 32], usize> =
            std::collections::HashMap::new();
        let mut entries = Vec::new();
        for op in 1..=program.n_ops() {
            for chunk in 0..program.ops[op - 1].out.num_chunks() {
                let (c, reads) = op_chunk_in(program, op, chunk, weights)?;
                if reads.len() > MAX_STEP_READS {
                    return Err(ZkError::Unsupported {
                        op,
                        kind: program.ops[op - 1].op.kind(),
                        reason: format!(
                            "chunk {chunk} reads {} chunks, more than the {MAX_STEP_READS} a \
                             step may open on chain (docs/gas.md)",
                            reads.len()
                        ),
                    });
                }
                let key = c.structure_key();
                let k = match by_key.get(&key) {
                    Some(&k) => {
                        if !c.same_synthesis(&shapes[k]) {
                            let (fop, fchunk) = circuits[k].first;
                            return Err(ZkError::CircuitIdentity {
                                op,
                                chunk,
                                circuit: k,
                                reason: format!(
                                    "its structure key equals that of op {fop} chunk {fchunk}, \
                                     but what their synthesis reads differs"
                                ),
                            });
                        }
                        k
                    }
                    None => {
                        circuits.push(CircuitMeta {
                            kind: program.ops[op - 1].op.kind().to_string(),
                            first: (op, chunk),
                            uses: 0,
                            structure_key: to_hex(&key),
                            id: String::new(),
                            constraints: 0,
                            public_inputs: reads.len() + 1,
                            vk_hash: String::new(),
                            vk_abi: String::new(),
                            setup_seconds: 0.0,
                            pk_bytes: 0,
                        });
                        shapes.push(c);
                        by_key.insert(key, circuits.len() - 1);
                        circuits.len() - 1
                    }
                };
                circuits[k].uses += 1;
                entries.push(TableEntry {
                    op,
                    chunk,
                    circuit: k,
                    reads: reads.iter().map(|r| (r.slot, r.chunk)).collect(),
                });
            }
        }
        let set = CircuitSet {
            model_hash: to_hex(&program.hash()),
            circuit_root: String::new(),
            insecure_seed: None,
            structure_version: STRUCTURE_VERSION,
            weights,
            weights_root: String::new(),
            circuits,
            entries,
            weights_cache: WeightsCache::default(),
        };
        Ok((set, shapes))
    }

    /// The identity check of the table against `program`, without synthesis: the entries are
    /// exactly the model's (op, chunk)s in order; each reads what the model's chunk reads; and
    /// each chunk's structure key (recomputed from the program) is the one recorded for the
    /// circuit it is mapped to, whose public-input count fits. Every circuit's `first` and
    /// `uses` agree with the table. Any mismatch is an error naming the (op, chunk)
    /// ([`ZkError::CircuitIdentity`]). [`CircuitSet::load`] runs it; see
    /// [`CircuitSet::check_synthesis`] for the check against the constraint systems.
    pub fn check_table(&self, program: &Program) -> Result<(), ZkError> {
        let expected: Vec<(usize, usize)> = (1..=program.n_ops())
            .flat_map(|op| (0..program.ops[op - 1].out.num_chunks()).map(move |c| (op, c)))
            .collect();
        if self.entries.len() != expected.len() {
            return Err(ZkError::Shape(format!(
                "the circuit table has {} entries, the model {} (op, chunk)s",
                self.entries.len(),
                expected.len()
            )));
        }
        let keys: Vec<Word> = self
            .circuits
            .iter()
            .map(|m| parse_word(&m.structure_key))
            .collect::<Result<_, _>>()?;
        let results: Vec<Result<(), ZkError>> = self
            .entries
            .par_iter()
            .zip(expected.par_iter())
            .map(|(e, &(op, chunk))| {
                if (e.op, e.chunk) != (op, chunk) {
                    return Err(ZkError::Shape(format!(
                        "the circuit table lists (op {}, chunk {}) where the model has (op {op}, \
                         chunk {chunk})",
                        e.op, e.chunk
                    )));
                }
                let bad = |reason: String| ZkError::CircuitIdentity {
                    op,
                    chunk,
                    circuit: e.circuit,
                    reason,
                };
                let Some(meta) = self.circuits.get(e.circuit) else {
                    return Err(bad(format!("the set has {} circuits", self.circuits.len())));
                };
                let (c, reads) = op_chunk_in(program, op, chunk, self.weights)?;
                let reads: Vec<(usize, usize)> = reads.iter().map(|r| (r.slot, r.chunk)).collect();
                if reads != e.reads {
                    return Err(bad(format!(
                        "the table says it reads {:?}, the model's chunk reads {reads:?}",
                        e.reads
                    )));
                }
                if meta.public_inputs != reads.len() + 1 {
                    return Err(bad(format!(
                        "it has {} public inputs, the circuit {}",
                        reads.len() + 1,
                        meta.public_inputs
                    )));
                }
                let key = c.structure_key();
                if key != keys[e.circuit] {
                    return Err(bad(format!(
                        "its structure key is {}, the circuit's {}",
                        to_hex(&key),
                        meta.structure_key
                    )));
                }
                Ok(())
            })
            .collect();
        results.into_iter().collect::<Result<Vec<()>, _>>()?;
        for (k, meta) in self.circuits.iter().enumerate() {
            let uses = self.entries.iter().filter(|e| e.circuit == k).count();
            let first = self
                .entries
                .iter()
                .find(|e| e.circuit == k)
                .map(|e| (e.op, e.chunk));
            if uses != meta.uses || first != Some(meta.first) {
                return Err(ZkError::Shape(format!(
                    "circuit {k}: the set records {} uses from (op {}, chunk {}), the table has \
                     {uses} from {first:?}",
                    meta.uses, meta.first.0, meta.first.1
                )));
            }
        }
        Ok(())
    }

    /// The identity check against the constraint systems: synthesises (op, chunk)s of the
    /// table and compares each one's circuit id ([`groth16::circuit_info`], the hash of its
    /// R1CS) with the id recorded for the circuit it is mapped to. With `all`, every (op,
    /// chunk); otherwise the last chunk of each circuit that more than one chunk uses (the
    /// first one is the chunk its keys were made from). Returns how many it synthesised. A
    /// mismatch is [`ZkError::CircuitIdentity`]. Each chunk checked costs one synthesis and
    /// one hash of its matrices (`docs/zk.md`): `all` is for small models.
    pub fn check_synthesis(
        &self,
        program: &Program,
        all: bool,
        progress: Progress,
    ) -> Result<usize, ZkError> {
        let picked: Vec<usize> = if all {
            (0..self.entries.len()).collect()
        } else {
            let mut last = vec![None; self.circuits.len()];
            for (i, e) in self.entries.iter().enumerate() {
                if let Some(l) = last.get_mut(e.circuit) {
                    *l = Some(i);
                }
            }
            let mut picked: Vec<usize> = last
                .into_iter()
                .enumerate()
                .filter_map(|(k, i)| {
                    i.filter(|&i| {
                        (self.entries[i].op, self.entries[i].chunk) != self.circuits[k].first
                    })
                })
                .collect();
            picked.sort_unstable();
            picked
        };
        for (n, &i) in picked.iter().enumerate() {
            let e = &self.entries[i];
            progress(n, picked.len(), &format!("op {} chunk {}", e.op, e.chunk));
            let meta = self
                .circuits
                .get(e.circuit)
                .ok_or_else(|| ZkError::CircuitIdentity {
                    op: e.op,
                    chunk: e.chunk,
                    circuit: e.circuit,
                    reason: format!("the set has {} circuits", self.circuits.len()),
                })?;
            let id = entry_circuit_id(program, e, self.weights)?;
            if id != meta.id {
                return Err(ZkError::CircuitIdentity {
                    op: e.op,
                    chunk: e.chunk,
                    circuit: e.circuit,
                    reason: format!(
                        "it synthesises circuit id {id}, the circuit's is {}",
                        meta.id
                    ),
                });
            }
        }
        progress(picked.len(), picked.len(), "done");
        Ok(picked.len())
    }

    /// At setup: the last chunk mapped to circuit `k` (when it is not the first) must
    /// synthesise the circuit id `id` that the setup of the first one gave.
    fn check_last_use(&self, program: &Program, k: usize, id: &str) -> Result<(), ZkError> {
        let Some(e) = self.entries.iter().rev().find(|e| e.circuit == k) else {
            return Ok(());
        };
        if (e.op, e.chunk) == self.circuits[k].first {
            return Ok(());
        }
        let actual = entry_circuit_id(program, e, self.weights)?;
        if actual != id {
            return Err(ZkError::CircuitIdentity {
                op: e.op,
                chunk: e.chunk,
                circuit: k,
                reason: format!("it synthesises circuit id {actual}, the circuit's is {id}"),
            });
        }
        Ok(())
    }

    /// Runs the Groth16 setup of every distinct circuit of `program` and writes the keys and
    /// `circuits.json` into `dir`. `seed` makes a deterministic, publicly known (insecure)
    /// setup for tests and the devnet; `None` draws the randomness from the OS.
    pub fn setup(
        program: &Program,
        dir: &Path,
        seed: Option<u64>,
        progress: Progress,
    ) -> Result<Self, ZkError> {
        Self::setup_in(program, WeightsMode::Baked, dir, seed, progress)
    }

    /// [`Self::setup`] with the Gemm weights where `weights` puts them; with committed
    /// weights it also records the weights root.
    pub fn setup_in(
        program: &Program,
        weights: WeightsMode,
        dir: &Path,
        seed: Option<u64>,
        progress: Progress,
    ) -> Result<Self, ZkError> {
        let (mut set, shapes) = Self::plan_in(program, weights)?;
        if weights == WeightsMode::Committed {
            let w = WeightsCommitment::new(program)?;
            set.weights_root = to_hex(&w.root());
            set.weights_cache = WeightsCache(Some(w.into()));
        }
        std::fs::create_dir_all(dir.join("keys")).map_err(io(dir))?;
        let total = shapes.len();
        for (k, shape) in shapes.into_iter().enumerate() {
            progress(
                k,
                total,
                &format!(
                    "circuit {k} ({}, op {})",
                    set.circuits[k].kind, set.circuits[k].first.0
                ),
            );
            let t = std::time::Instant::now();
            let mut rng = match seed {
                Some(s) => groth16::seeded_rng(s ^ (k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
                None => groth16::os_rng(),
            };
            let keys = groth16::setup(ChunkCircuit::shape(shape), &mut rng)?;
            set.check_last_use(program, k, &keys.info.id_hex())?;
            let bytes = keys.to_bytes()?;
            Self::write_proving_key(dir, k, &bytes)?;
            let meta = &mut set.circuits[k];
            meta.id = keys.info.id_hex();
            meta.constraints = keys.info.num_constraints;
            meta.vk_hash = to_hex(&evm::vk_hash(keys.vk()));
            meta.vk_abi = to_hex(&evm::vk_abi(keys.vk()));
            meta.setup_seconds = t.elapsed().as_secs_f64();
            meta.pk_bytes = bytes.len() as u64;
        }
        progress(total, total, "done");
        set.insecure_seed = seed;
        set.circuit_root = to_hex(&set.tree()?.root());
        set.save(dir)?;
        Ok(set)
    }

    fn pk_path(dir: &Path, k: usize) -> PathBuf {
        dir.join("keys").join(format!("c{k}.pk"))
    }

    /// Writes circuit `k`'s keys into `dir` by rename, never in place: an artifact store may
    /// hold the previous file as a link (the store's `put_file`), and must keep it.
    pub fn write_proving_key(dir: &Path, k: usize, bytes: &[u8]) -> Result<(), ZkError> {
        crate::groth16::write_replacing(&Self::pk_path(dir, k), bytes)
    }

    /// Writes `circuits.json`.
    pub fn save(&self, dir: &Path) -> Result<(), ZkError> {
        let path = dir.join("circuits.json");
        std::fs::write(&path, serde_json::to_vec_pretty(self)?).map_err(io(&path))
    }

    /// Where the set in `dir` puts the Gemm weights, so that a caller can lay its program out
    /// the same way ([`WeightsMode::lay_out`]) before [`CircuitSet::load`].
    pub fn weights_mode_in(dir: &Path) -> Result<WeightsMode, ZkError> {
        let path = dir.join("circuits.json");
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        Ok(serde_json::from_slice::<CircuitSet>(&bytes)?.weights)
    }

    /// Reads `circuits.json` from `dir` and checks it belongs to `program`: the model hash,
    /// the root of its table, and the identity check of the table ([`CircuitSet::check_table`]:
    /// every (op, chunk) of the model is mapped to a circuit with its own structure key and
    /// reads).
    pub fn load(dir: &Path, program: &Program) -> Result<Self, ZkError> {
        let path = dir.join("circuits.json");
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        let set: CircuitSet = serde_json::from_slice(&bytes)?;
        if set.model_hash != to_hex(&program.hash()) {
            return Err(ZkError::Shape(format!(
                "{} holds the circuits of model {}, not of this model ({})",
                path.display(),
                set.model_hash,
                to_hex(&program.hash())
            )));
        }
        if set.structure_version != STRUCTURE_VERSION {
            return Err(ZkError::Encoding(format!(
                "{} has structure keys of version {}, this code checks version \
                 {STRUCTURE_VERSION} (issue 19: version 1 could map chunks that compute \
                 different functions to one circuit): run the setup again",
                path.display(),
                set.structure_version
            )));
        }
        if set.circuit_root != to_hex(&set.tree()?.root()) {
            return Err(ZkError::Encoding(format!(
                "{}: the circuit root does not match its table",
                path.display()
            )));
        }
        set.check_table(program)?;
        let mut set = set;
        let weights_root = match set.weights {
            WeightsMode::Baked => String::new(),
            WeightsMode::Committed => {
                let w = WeightsCommitment::new(program)?;
                let root = to_hex(&w.root());
                set.weights_cache = WeightsCache(Some(w.into()));
                root
            }
        };
        if set.weights_root != weights_root {
            return Err(ZkError::Encoding(format!(
                "{}: the weights root {:?} is not the model's ({weights_root:?})",
                path.display(),
                set.weights_root
            )));
        }
        Ok(set)
    }

    /// The proving key of circuit `k`.
    pub fn keys(&self, dir: &Path, k: usize) -> Result<Keys, ZkError> {
        let keys = Keys::read(&Self::pk_path(dir, k))?;
        if keys.info.id_hex() != self.circuits[k].id {
            return Err(ZkError::CircuitMismatch {
                expected: self.circuits[k].id.clone(),
                actual: keys.info.id_hex(),
            });
        }
        Ok(keys)
    }

    /// The table's leaves, in (op, chunk) order.
    pub fn leaves(&self) -> Result<Vec<Word>, ZkError> {
        self.entries
            .iter()
            .map(|e| {
                Ok(table_leaf(
                    e.op,
                    e.chunk,
                    &parse_word(&self.circuits[e.circuit].vk_hash)?,
                    &e.reads,
                ))
            })
            .collect()
    }

    fn tree(&self) -> Result<MerkleTree, ZkError> {
        Ok(MerkleTree::new(&self.leaves()?))
    }

    /// The root the registry records.
    pub fn root(&self) -> Result<Word, ZkError> {
        parse_word(&self.circuit_root)
    }

    /// Position of (op, chunk) in the table.
    pub fn leaf_index(&self, op: usize, chunk: usize) -> Result<usize, ZkError> {
        self.entries
            .binary_search_by(|e| (e.op, e.chunk).cmp(&(op, chunk)))
            .map_err(|_| {
                ZkError::Shape(format!("the circuit table has no (op {op}, chunk {chunk})"))
            })
    }

    /// Proves (op, chunk) of a trace and assembles everything `proveStep` takes.
    #[allow(clippy::too_many_arguments)]
    pub fn prove_step<R: RngCore + CryptoRng>(
        &self,
        dir: &Path,
        program: &Program,
        slots: &[Tensor<i32>],
        commitment: &TraceCommitment,
        op: usize,
        chunk: usize,
        rng: &mut R,
    ) -> Result<StepProof, ZkError> {
        let index = self.leaf_index(op, chunk)?;
        let entry = &self.entries[index];
        let (circuit, reads) = op_chunk_in(program, op, chunk, self.weights)?;
        let reads_now: Vec<(usize, usize)> = reads.iter().map(|r| (r.slot, r.chunk)).collect();
        if reads_now != entry.reads {
            return Err(ZkError::Shape(format!(
                "op {op} chunk {chunk}: the table's reads differ from the model's"
            )));
        }
        let keys = self.keys(dir, entry.circuit)?;
        let n = program.n_ops();
        let trace_reads: Vec<ChunkRef> = reads.iter().copied().filter(|r| r.slot <= n).collect();
        let inputs = read_chunks(program, slots, &trace_reads);
        let inputs_values = inputs.clone();
        let proved = groth16::prove(&keys, ChunkCircuit::new(circuit, inputs)?, rng)?;
        let tree = self.tree()?;
        let weights = match (&self.weights_cache.0, reads.len() > trace_reads.len()) {
            (_, false) => None,
            (Some(w), true) => Some(w.clone()),
            (None, true) => Some(std::sync::Arc::new(WeightsCommitment::new(program)?)),
        };
        let openings = reads
            .iter()
            .zip(&proved.public_inputs)
            .enumerate()
            .map(|(i, (r, d))| match &weights {
                Some(w) if r.slot > n => weight_opening(w, op, *r, evm::fr_to_word(d)),
                _ => Ok(opening(
                    commitment,
                    program,
                    op,
                    *r,
                    evm::fr_to_word(d),
                    &inputs_values[i],
                )),
            })
            .collect::<Result<_, _>>()?;
        // the output of the model (slot n) is a boundary tensor: its chunk's packed bytes go
        // with the proof (their keccak is the chunk-tree leaf the game compares)
        let output_values = (op == program.n_ops()).then(|| {
            let out = read_chunks(program, slots, &[ChunkRef { slot: op, chunk }]);
            to_hex(&pack_be(&out[0]))
        });
        Ok(StepProof {
            op,
            chunk,
            vk: self.circuits[entry.circuit].vk_abi.clone(),
            input_slots: entry.reads.iter().map(|r| r.0).collect(),
            input_chunks: entry.reads.iter().map(|r| r.1).collect(),
            leaf_index: index,
            circuit_path: tree.path(index).iter().map(|w| to_hex(w)).collect(),
            inputs: openings,
            output_digest: to_hex(&evm::fr_to_word(
                proved.public_inputs.last().expect("an output digest"),
            )),
            output_values,
            proof: evm::proof_to_words(&proved.proof)
                .iter()
                .map(|w| to_hex(w))
                .collect(),
            public_inputs: proved
                .public_inputs
                .iter()
                .map(|x| to_hex(&evm::fr_to_word(x)))
                .collect(),
        })
    }

    /// Checks a step proof natively: the leaf path to the circuit root and the pairing check.
    pub fn verify_step(&self, step: &StepProof) -> Result<bool, ZkError> {
        let vk_abi = hex::decode(step.vk.trim_start_matches("0x"))
            .map_err(|e| ZkError::Encoding(format!("hex: {e}")))?;
        let vk = EvmVerifyingKey::from_abi(&vk_abi)?.to_vk()?;
        let reads: Vec<(usize, usize)> = step
            .input_slots
            .iter()
            .copied()
            .zip(step.input_chunks.iter().copied())
            .collect();
        let leaf = table_leaf(step.op, step.chunk, &keccak256(&vk_abi), &reads);
        let path: Vec<Word> = step
            .circuit_path
            .iter()
            .map(|w| parse_word(w))
            .collect::<Result<_, _>>()?;
        if !zkopml_exec::commit::verify_path(&leaf, step.leaf_index, &path, &self.root()?) {
            return Ok(false);
        }
        let words: Vec<Word> = step
            .proof
            .iter()
            .map(|w| parse_word(w))
            .collect::<Result<_, _>>()?;
        let proof = evm::proof_from_words(
            &words
                .try_into()
                .map_err(|_| ZkError::Encoding("a proof is 8 words".into()))?,
        )?;
        let inputs: Vec<ark_bn254::Fr> = step
            .public_inputs
            .iter()
            .map(|w| evm::fr_from_word(&parse_word(w)?))
            .collect::<Result<_, _>>()?;
        groth16::verify(&vk, &inputs, &proof)
    }
}

fn opening(
    c: &TraceCommitment,
    program: &Program,
    op: usize,
    r: ChunkRef,
    digest: Word,
    values: &[i32],
) -> InputOpening {
    let tensor = &c.tensors[r.slot];
    InputOpening {
        digest: to_hex(&digest),
        // slot 0 is a boundary tensor (keccak leaves): the chunk's packed bytes are opened
        values: (Leaves::of_slot(r.slot, program.n_ops()) == Leaves::Keccak)
            .then(|| to_hex(&pack_be(values))),
        chunk_path: tensor
            .chunks
            .path(r.chunk)
            .iter()
            .map(|w| to_hex(w))
            .collect(),
        meta_hash: to_hex(&tensor.meta_hash),
        state_path: c
            .state_path(op - 1, r.slot)
            .iter()
            .map(|w| to_hex(w))
            .collect(),
    }
}

/// The opening of a weight block read `r` (`slot = n + op`, `chunk` its output chunk): the
/// block digest, its path to op's blocks root (`chunk_path`) and that root's path to the
/// weights root (`state_path`); a weight block has no metaHash (zero).
fn weight_opening(
    w: &WeightsCommitment,
    op: usize,
    r: ChunkRef,
    digest: Word,
) -> Result<InputOpening, ZkError> {
    let o = w
        .opening(op, r.chunk)
        .ok_or_else(|| ZkError::Shape(format!("op {op} has no weight block {}", r.chunk)))?;
    if o.digest != digest {
        return Err(ZkError::Shape(format!(
            "op {op} block {}: the proof's weight digest is not the committed one",
            r.chunk
        )));
    }
    Ok(InputOpening {
        digest: to_hex(&digest),
        values: None,
        chunk_path: o.block_path.iter().map(|w| to_hex(w)).collect(),
        meta_hash: to_hex(&[0u8; 32]),
        state_path: o.weights_path.iter().map(|w| to_hex(w)).collect(),
    })
}

fn parse_bytes(hex_str: &str) -> Result<Vec<u8>, ZkError> {
    hex::decode(hex_str.trim_start_matches("0x"))
        .map_err(|e| ZkError::Encoding(format!("hex: {e}")))
}

/// The values of packed bytes (hex), refused unless they are whole `int32`s.
fn parse_packed(hex_str: &str) -> Result<Vec<i32>, ZkError> {
    unpack_be(&parse_bytes(hex_str)?)
        .ok_or_else(|| ZkError::Encoding("packed bytes are 4 a value".into()))
}

/// An input chunk opened against the agreed state root `root(op - 1)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputOpening {
    /// The chunk digest (the public input).
    pub digest: String,
    /// Slot 0 only (a boundary tensor, keccak leaves): the chunk's packed bytes, hex
    /// (`int32` big-endian, docs/commitments.md "Boundary tensors"); their keccak is the leaf
    /// and their Poseidon digest is `digest`. `None` for any other slot, whose leaf is `digest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<String>,
    /// Siblings up to the slot's chunks root (from the chunk's leaf: the keccak leaf for slot
    /// 0, the digest otherwise).
    pub chunk_path: Vec<String>,
    /// The slot's metaHash.
    pub meta_hash: String,
    /// Siblings of the slot's tensor root up to `root(op - 1)`.
    pub state_path: Vec<String>,
}

impl InputOpening {
    /// The chunk-tree leaf this opening claims: `keccak(values)` when the packed bytes are
    /// given (slot 0), else the digest.
    pub fn leaf(&self) -> Result<Word, ZkError> {
        match &self.values {
            Some(v) => Ok(keccak256(&parse_bytes(v)?)),
            None => parse_word(&self.digest),
        }
    }
}

/// Everything `FaultDisputeGame.proveStep` takes, hex words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepProof {
    /// The operator.
    pub op: usize,
    /// The output chunk.
    pub chunk: usize,
    /// The verifying key, ABI-encoded.
    pub vk: String,
    /// Slots of the input chunks.
    pub input_slots: Vec<usize>,
    /// Their chunks.
    pub input_chunks: Vec<usize>,
    /// Position of the leaf in the circuit table.
    pub leaf_index: usize,
    /// Siblings up to the circuit root.
    pub circuit_path: Vec<String>,
    /// The input chunks' openings.
    pub inputs: Vec<InputOpening>,
    /// The output chunk's digest (Poseidon, the last public input), for every op.
    pub output_digest: String,
    /// Op n only (the model's output, a boundary tensor): the output chunk's packed bytes, hex;
    /// their Poseidon digest is `output_digest` and their keccak is the chunk-tree leaf the
    /// game compares with the defender's. `None` for any other op.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_values: Option<String>,
    /// The Groth16 proof, 8 words.
    pub proof: Vec<String>,
    /// The public inputs (input digests, then the output digest).
    pub public_inputs: Vec<String>,
}

impl StepProof {
    /// The chunk-tree leaf the proven output chunk stands for, what the game compares with
    /// the defender's leaf: `keccak(output_values)` at op n (a boundary tensor), else the
    /// output digest.
    pub fn output_leaf(&self) -> Result<Word, ZkError> {
        match &self.output_values {
            Some(v) => Ok(keccak256(&parse_bytes(v)?)),
            None => parse_word(&self.output_digest),
        }
    }

    /// Checks natively what `proveStep` checks of the openings besides the proof and the
    /// circuit leaf ([`CircuitSet::verify_step`]): every input chunk opens under the agreed
    /// root `root(op - 1)` with the leaf kind of its slot (slot 0: the keccak of its packed
    /// bytes, whose Poseidon digest must be the opening's digest; any other slot: the digest),
    /// a chunk path exactly as long as its chunk tree is high, the program's metaHash and a
    /// state path of `stateDepth`; the public inputs are the openings' digests, then the
    /// output digest; at op n the output's packed bytes have the output digest and the
    /// length of that chunk, and at any other op there are none.
    pub fn check_openings(&self, program: &Program, agreed_root: &Word) -> Result<bool, ZkError> {
        self.check_openings_with(program, agreed_root, None)
    }

    /// [`Self::check_openings`] for a model registered with committed weights: the input
    /// `(slot n + op, chunk)`, last before the output, is op's weight block of this chunk,
    /// opened under `weights_root` (its digest, a path to op's blocks root as long as op's
    /// chunk tree is high, then that root at leaf `op` of a tree of `stateDepth`). Without a
    /// weights root, a weight slot is refused.
    pub fn check_openings_with(
        &self,
        program: &Program,
        agreed_root: &Word,
        weights_root: Option<&Word>,
    ) -> Result<bool, ZkError> {
        let n = program.n_ops();
        let k = self.inputs.len();
        if self.op == 0
            || self.op > n
            || self.input_slots.len() != k
            || self.input_chunks.len() != k
            || self.public_inputs.len() != k + 1
        {
            return Ok(false);
        }
        // the packed bytes of chunk `chunk` of `slot`, checked against a Poseidon digest
        let packed_ok =
            |slot: usize, chunk: usize, hex_values: &str, digest: &str| -> Result<bool, ZkError> {
                let spec = program.slot_spec(slot);
                let values = parse_packed(hex_values)?;
                let lo = chunk * spec.chunk_len;
                let len = spec.chunk_len.min(spec.numel().saturating_sub(lo));
                Ok(values.len() == len
                    && evm::fr_to_word(&crate::native::chunk_digest(&values))
                        == parse_word(digest)?)
            };
        let words = |v: &[String]| {
            v.iter()
                .map(|w| parse_word(w))
                .collect::<Result<Vec<Word>, _>>()
        };
        let height_of = |chunks: usize| chunks.max(1).next_power_of_two().trailing_zeros() as usize;
        for (i, o) in self.inputs.iter().enumerate() {
            let (slot, chunk) = (self.input_slots[i], self.input_chunks[i]);
            if parse_word(&self.public_inputs[i])? != parse_word(&o.digest)? {
                return Ok(false);
            }
            if slot > n {
                let Some(weights_root) = weights_root else {
                    return Ok(false);
                };
                let own = program.ops[self.op - 1].out.num_chunks();
                if slot != n + self.op
                    || parse_word(&o.digest)? == [0u8; 32]
                    || chunk != self.chunk
                    || i + 1 != k
                    || o.values.is_some()
                    || parse_word(&o.meta_hash)? != [0u8; 32]
                    || o.chunk_path.len() != height_of(own)
                    || o.state_path.len() != program.state_depth() as usize
                {
                    return Ok(false);
                }
                let blocks_root = zkopml_exec::commit::root_from_path(
                    &parse_word(&o.digest)?,
                    chunk,
                    &words(&o.chunk_path)?,
                );
                if !zkopml_exec::commit::verify_path(
                    &blocks_root,
                    self.op,
                    &words(&o.state_path)?,
                    weights_root,
                ) {
                    return Ok(false);
                }
                continue;
            }
            if slot >= self.op {
                return Ok(false);
            }
            let spec = program.slot_spec(slot);
            let chunks = spec.num_chunks();
            let height = height_of(chunks);
            if chunk >= chunks
                || o.chunk_path.len() != height
                || parse_word(&o.meta_hash)? != zkopml_exec::commit::meta_hash(spec)
                || o.state_path.len() != program.state_depth() as usize
            {
                return Ok(false);
            }
            let leaf = match (Leaves::of_slot(slot, n), &o.values) {
                (Leaves::Keccak, Some(v)) => {
                    if !packed_ok(slot, chunk, v, &o.digest)? {
                        return Ok(false);
                    }
                    o.leaf()?
                }
                (Leaves::Poseidon, None) => parse_word(&o.digest)?,
                _ => return Ok(false),
            };
            let chunks_root =
                zkopml_exec::commit::root_from_path(&leaf, chunk, &words(&o.chunk_path)?);
            let tensor_root = keccak256(&[parse_word(&o.meta_hash)?, chunks_root].concat());
            if !zkopml_exec::commit::verify_path(
                &tensor_root,
                slot,
                &words(&o.state_path)?,
                agreed_root,
            ) {
                return Ok(false);
            }
        }
        if parse_word(&self.public_inputs[k])? != parse_word(&self.output_digest)? {
            return Ok(false);
        }
        match (&self.output_values, self.op == n) {
            (Some(v), true) => packed_ok(self.op, self.chunk, v, &self.output_digest),
            (None, false) => Ok(true),
            _ => Ok(false),
        }
    }
}

/// The circuit id (hash of the R1CS, [`groth16::circuit_info`]) of the chunk of an entry.
fn entry_circuit_id(
    program: &Program,
    e: &TableEntry,
    weights: WeightsMode,
) -> Result<String, ZkError> {
    let (c, _) = op_chunk_in(program, e.op, e.chunk, weights)?;
    Ok(groth16::circuit_info(ChunkCircuit::shape(c))?.id_hex())
}

/// Constraints of a circuit (synthesized in setup mode), for plans and benchmarks.
pub fn count_constraints(c: &OpCircuit) -> Result<usize, ZkError> {
    let cs = ConstraintSystem::new_ref();
    cs.set_mode(ark_relations::gr1cs::SynthesisMode::Setup);
    ChunkCircuit::shape(c.clone()).generate_constraints(cs.clone())?;
    Ok(cs.num_constraints())
}
