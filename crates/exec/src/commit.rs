//! The commitments of docs/commitments.md: chunk digests (circomlib Poseidon over BN254),
//! tensor roots and fixed-depth state roots (keccak Merkle trees), with the inclusion and
//! update proofs the contracts check.

use ark_bn254::Fr;
use ark_ff::{BigInteger, PrimeField};
use rayon::prelude::*;
use tiny_keccak::{Hasher, Keccak};

use zkopml_model::{Program, Tensor, TensorSpec};

use crate::error::{ExecError, Result};
use crate::run::Trace;

pub type Bytes32 = [u8; 32];
pub const ZERO: Bytes32 = [0u8; 32];

/// Values packed per field element, and Poseidon inputs absorbed per call besides the state.
pub const VALUES_PER_ELEMENT: usize = 7;
pub const ELEMENTS_PER_CALL: usize = 4;
/// Chunks hashed together by one task (the eight lanes of the IFMA Poseidon).
const GROUP_CHUNKS: usize = 8;

pub fn keccak(parts: &[&[u8]]) -> Bytes32 {
    let mut k = Keccak::v256();
    for p in parts {
        k.update(p);
    }
    let mut out = [0u8; 32];
    k.finalize(&mut out);
    out
}

pub fn hash_pair(l: &Bytes32, r: &Bytes32) -> Bytes32 {
    keccak(&[l, r])
}

pub fn fr_to_bytes(f: &Fr) -> Bytes32 {
    let mut out = [0u8; 32];
    out.copy_from_slice(&f.into_bigint().to_bytes_be());
    out
}

/// The values of a tensor in canonical layout: NHWC for rank 4, row-major otherwise.
pub fn canonical(t: &Tensor<i32>) -> Vec<i32> {
    if t.shape.len() == 4 {
        let (n, c, h, w) = (t.shape[0], t.shape[1], t.shape[2], t.shape[3]);
        let mut out = vec![0i32; t.data.len()];
        let plane = h * w;
        for b in 0..n {
            let src = &t.data[b * c * plane..(b + 1) * c * plane];
            let dst = &mut out[b * c * plane..(b + 1) * c * plane];
            for y in 0..h {
                for ch in 0..c {
                    let row = &src[ch * plane + y * w..ch * plane + (y + 1) * w];
                    for (x, &v) in row.iter().enumerate() {
                        dst[(y * w + x) * c + ch] = v;
                    }
                }
            }
        }
        out
    } else {
        t.data.clone()
    }
}

/// The field elements of a chunk: 7 offset values of 32 bits per element, little-endian.
pub fn pack_chunk(values: &[i32]) -> Vec<Fr> {
    values
        .chunks(VALUES_PER_ELEMENT)
        .map(|group| {
            let mut bytes = [0u8; 4 * VALUES_PER_ELEMENT];
            for (k, &v) in group.iter().enumerate() {
                let u = (v as i64 + (1i64 << 31)) as u32;
                bytes[4 * k..4 * k + 4].copy_from_slice(&u.to_le_bytes());
            }
            Fr::from_le_bytes_mod_order(&bytes)
        })
        .collect()
}

/// Hashes chunks (circomlib's Poseidon for 5 inputs, the fast native form of
/// `crate::poseidon`; its parameters are built once per process).
#[derive(Default)]
pub struct ChunkHasher {
    _private: (),
}

impl ChunkHasher {
    pub fn poseidon5(&mut self, inputs: &[Fr; 5]) -> Fr {
        crate::poseidon::poseidon5(inputs)
    }

    /// The chunk digest as a field element.
    pub fn digest_fr(&mut self, values: &[i32]) -> Fr {
        crate::poseidon::chunk_digest(values)
    }

    pub fn digest(&mut self, values: &[i32]) -> Bytes32 {
        fr_to_bytes(&self.digest_fr(values))
    }
}

/// A binary keccak Merkle tree over leaves padded with zeros to a power of two.
#[derive(Clone, Debug)]
pub struct MerkleTree {
    /// levels[0] are the (padded) leaves, the last level is the root.
    levels: Vec<Vec<Bytes32>>,
}

impl MerkleTree {
    pub fn new(leaves: &[Bytes32]) -> MerkleTree {
        let n = leaves.len().max(1).next_power_of_two();
        let mut level: Vec<Bytes32> = leaves.to_vec();
        level.resize(n, ZERO);
        let mut levels = vec![level];
        while levels.last().unwrap().len() > 1 {
            let prev = levels.last().unwrap();
            levels.push(prev.chunks(2).map(|p| hash_pair(&p[0], &p[1])).collect());
        }
        MerkleTree { levels }
    }
    /// A tree of exactly `depth` levels (more leaves than given are zero).
    pub fn with_depth(leaves: &[Bytes32], depth: u32) -> MerkleTree {
        let mut l = leaves.to_vec();
        l.resize(1usize << depth, ZERO);
        MerkleTree::new(&l)
    }
    pub fn root(&self) -> Bytes32 {
        self.levels.last().unwrap()[0]
    }
    pub fn depth(&self) -> usize {
        self.levels.len() - 1
    }
    pub fn leaf(&self, i: usize) -> Bytes32 {
        self.levels[0][i]
    }
    /// Siblings from the leaf up.
    pub fn path(&self, mut index: usize) -> Vec<Bytes32> {
        let mut p = Vec::with_capacity(self.depth());
        for level in &self.levels[..self.depth()] {
            p.push(level[index ^ 1]);
            index >>= 1;
        }
        p
    }
    /// Children of node `index` at `height` (0 = leaves): used by the chunk-level dissection.
    pub fn node(&self, height: usize, index: usize) -> Bytes32 {
        self.levels[height][index]
    }
}

/// Recompute a root from a leaf, its index and its siblings (leaf first).
pub fn root_from_path(leaf: &Bytes32, mut index: usize, path: &[Bytes32]) -> Bytes32 {
    let mut h = *leaf;
    for s in path {
        h = if index & 1 == 1 { hash_pair(s, &h) } else { hash_pair(&h, s) };
        index >>= 1;
    }
    h
}

pub fn verify_path(leaf: &Bytes32, index: usize, path: &[Bytes32], root: &Bytes32) -> bool {
    index >> path.len() == 0 && &root_from_path(leaf, index, path) == root
}

/// keccak(uint32 rank ‖ uint32 dims… ‖ int32 scale ‖ uint32 chunkLen), big-endian.
pub fn meta_hash(spec: &TensorSpec) -> Bytes32 {
    let mut b = Vec::with_capacity(4 * (spec.shape.len() + 3));
    b.extend_from_slice(&(spec.shape.len() as u32).to_be_bytes());
    for &d in &spec.shape {
        b.extend_from_slice(&(d as u32).to_be_bytes());
    }
    b.extend_from_slice(&spec.scale.to_be_bytes());
    b.extend_from_slice(&(spec.chunk_len as u32).to_be_bytes());
    keccak(&[&b])
}

/// The commitment of one tensor: its chunk digests, chunk tree and root.
#[derive(Clone, Debug)]
pub struct TensorCommitment {
    pub digests: Vec<Bytes32>,
    pub chunks: MerkleTree,
    pub meta_hash: Bytes32,
    pub root: Bytes32,
}

impl TensorCommitment {
    pub fn new(spec: &TensorSpec, t: &Tensor<i32>) -> Result<TensorCommitment> {
        if t.shape != spec.shape {
            return Err(ExecError::Commitment(format!("tensor shape {:?} differs from its spec {:?}", t.shape, spec.shape)));
        }
        let values = canonical(t);
        let groups: Vec<Vec<Fr>> = values
            .par_chunks(GROUP_CHUNKS * spec.chunk_len.max(1))
            .map(|g| crate::poseidon::chunk_digests(g, spec.chunk_len.max(1)))
            .collect();
        let digests: Vec<Bytes32> = groups.iter().flatten().map(fr_to_bytes).collect();
        Ok(Self::from_digests(spec, digests))
    }

    pub fn from_digests(spec: &TensorSpec, digests: Vec<Bytes32>) -> TensorCommitment {
        let chunks = MerkleTree::new(&digests);
        let meta_hash = meta_hash(spec);
        let root = keccak(&[&meta_hash, &chunks.root()]);
        TensorCommitment { digests, chunks, meta_hash, root }
    }
}

/// The chunk values of a tensor in canonical layout.
pub fn chunk_values(spec: &TensorSpec, t: &Tensor<i32>, chunk: usize) -> Vec<i32> {
    let v = canonical(t);
    let lo = chunk * spec.chunk_len;
    v[lo.min(v.len())..((chunk + 1) * spec.chunk_len).min(v.len())].to_vec()
}

/// Commitments of a whole trace: each slot's tensor, and the state root after every step.
#[derive(Clone, Debug)]
pub struct TraceCommitment {
    pub tensors: Vec<TensorCommitment>,
    /// state_roots[i] = stateRoot(i), i = 0..=n
    pub state_roots: Vec<Bytes32>,
    pub depth: u32,
}

impl TraceCommitment {
    pub fn new(program: &Program, trace: &Trace) -> Result<TraceCommitment> {
        if trace.slots.len() != program.n_ops() + 1 {
            return Err(ExecError::Commitment("trace length differs from the program".into()));
        }
        // slots in parallel too: a model of many small tensors gains little inside each one
        let tensors = trace
            .slots
            .par_iter()
            .enumerate()
            .map(|(s, t)| TensorCommitment::new(program.slot_spec(s), t))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self::from_tensors(program.state_depth(), tensors))
    }

    pub fn from_tensors(depth: u32, tensors: Vec<TensorCommitment>) -> TraceCommitment {
        let roots: Vec<Bytes32> = tensors.iter().map(|t| t.root).collect();
        let state_roots = state_roots(&roots, depth);
        TraceCommitment { tensors, state_roots, depth }
    }

    pub fn final_root(&self) -> Bytes32 {
        *self.state_roots.last().unwrap()
    }

    /// The full state tree after step `i`.
    pub fn state_tree(&self, i: usize) -> MerkleTree {
        let roots: Vec<Bytes32> = self.tensors[..=i].iter().map(|t| t.root).collect();
        MerkleTree::with_depth(&roots, self.depth)
    }

    /// Siblings of leaf `slot` in the state after step `i` (`slot <= i`): an inclusion proof
    /// of `tensors[slot].root` under `state_roots[i]`; with `slot = i` it is also the update
    /// proof from `state_roots[i-1]` (where the leaf is zero) to `state_roots[i]`.
    pub fn state_path(&self, i: usize, slot: usize) -> Vec<Bytes32> {
        self.state_tree(i).path(slot)
    }
}

/// stateRoot(i) for every i, updating one leaf per step (O(depth) hashes each).
pub fn state_roots(tensor_roots: &[Bytes32], depth: u32) -> Vec<Bytes32> {
    let mut zero = vec![ZERO];
    for d in 0..depth as usize {
        zero.push(hash_pair(&zero[d], &zero[d]));
    }
    // nodes[h] maps index -> value for non-zero nodes; dense vectors are fine at these depths
    let mut levels: Vec<Vec<Bytes32>> = (0..=depth as usize).map(|h| vec![zero[h]; 1usize << (depth as usize - h)]).collect();
    let mut roots = Vec::with_capacity(tensor_roots.len());
    for (slot, r) in tensor_roots.iter().enumerate() {
        levels[0][slot] = *r;
        let mut idx = slot;
        for h in 0..depth as usize {
            let p = idx >> 1;
            levels[h + 1][p] = hash_pair(&levels[h][2 * p], &levels[h][2 * p + 1]);
            idx = p;
        }
        roots.push(levels[depth as usize][0]);
    }
    roots
}

/// Checks an update proof: leaf `slot` is zero under `before` and `leaf` under `after`.
pub fn verify_update(before: &Bytes32, after: &Bytes32, slot: usize, leaf: &Bytes32, path: &[Bytes32]) -> bool {
    verify_path(&ZERO, slot, path, before) && verify_path(leaf, slot, path, after)
}

/// The meta tree of a program: leaf `s` is `metaHash(slot s)`, depth `stateDepth`
/// (docs/commitments.md, "Meta root"). The registry records its root.
pub fn meta_tree(program: &Program) -> MerkleTree {
    let leaves: Vec<Bytes32> = (0..=program.n_ops()).map(|s| meta_hash(program.slot_spec(s))).collect();
    MerkleTree::with_depth(&leaves, program.state_depth())
}
