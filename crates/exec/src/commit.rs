//! The commitments of docs/commitments.md: chunk digests (circomlib Poseidon over BN254),
//! keccak chunk leaves of the boundary tensors (slot 0 and slot n), tensor roots and fixed-depth state roots (keccak Merkle trees), with the inclusion and
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
        h = if index & 1 == 1 {
            hash_pair(s, &h)
        } else {
            hash_pair(&h, s)
        };
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

/// What the leaves of a tensor's chunk tree are (docs/commitments.md): Poseidon chunk
/// digests for every slot but the boundary ones, keccak of the chunk's packed bytes for the
/// model input (slot 0) and output (slot n).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Leaves {
    /// Leaf = the chunk digest (Poseidon5, "Chunk digest").
    Poseidon,
    /// Leaf = `keccak(pack_be(chunk))` ("Boundary tensors").
    Keccak,
}

impl Leaves {
    /// The leaf kind of slot `slot` in a model of `n_ops` operators: keccak for slot 0 (the
    /// input) and slot `n_ops` (the output), Poseidon for the others.
    pub fn of_slot(slot: usize, n_ops: usize) -> Leaves {
        if slot == 0 || slot == n_ops {
            Leaves::Keccak
        } else {
            Leaves::Poseidon
        }
    }

    /// The leaf of one chunk of this kind.
    pub fn leaf(self, values: &[i32]) -> Bytes32 {
        match self {
            Leaves::Poseidon => fr_to_bytes(&crate::poseidon::chunk_digest(values)),
            Leaves::Keccak => boundary_leaf(values),
        }
    }

    /// The leaves of `values` (canonical layout) cut into chunks of `chunk_len` values, the
    /// last one possibly shorter.
    pub fn leaves(self, values: &[i32], chunk_len: usize) -> Vec<Bytes32> {
        let chunk_len = chunk_len.max(1);
        match self {
            Leaves::Poseidon => {
                let groups: Vec<Vec<Fr>> = values
                    .par_chunks(GROUP_CHUNKS * chunk_len)
                    .map(|g| crate::poseidon::chunk_digests(g, chunk_len))
                    .collect();
                groups.iter().flatten().map(fr_to_bytes).collect()
            }
            Leaves::Keccak => values.par_chunks(chunk_len).map(boundary_leaf).collect(),
        }
    }
}

/// The packed bytes of values (docs/commitments.md, "Boundary tensors"): each value 4 bytes,
/// `int32` two's complement, big-endian, concatenated. An inline input, a stored input and an
/// inline output are these bytes of the canonical-layout values.
pub fn pack_be(values: &[i32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 * values.len());
    for v in values {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out
}

/// Inverse of [`pack_be`]; `None` when the length is not a multiple of 4.
pub fn unpack_be(bytes: &[u8]) -> Option<Vec<i32>> {
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    Some(
        bytes
            .chunks_exact(4)
            .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
    )
}

/// The chunk-tree leaf of a boundary chunk (slot 0 or n): `keccak(pack_be(values))`.
pub fn boundary_leaf(values: &[i32]) -> Bytes32 {
    // small chunks on the stack, so that the leaves of a tensor do not allocate per chunk
    let mut k = Keccak::v256();
    let mut buf = [0u8; 4 * 64];
    for group in values.chunks(64) {
        for (i, v) in group.iter().enumerate() {
            buf[4 * i..4 * i + 4].copy_from_slice(&v.to_be_bytes());
        }
        k.update(&buf[..4 * group.len()]);
    }
    let mut out = [0u8; 32];
    k.finalize(&mut out);
    out
}

/// The commitment of one tensor: the leaves of its chunk tree, the tree and the root.
#[derive(Clone, Debug)]
pub struct TensorCommitment {
    /// What the leaves are.
    pub kind: Leaves,
    /// One leaf per chunk (no padding): the Poseidon chunk digests, or for a boundary tensor
    /// the keccak of each chunk's packed bytes.
    pub leaves: Vec<Bytes32>,
    pub chunks: MerkleTree,
    pub meta_hash: Bytes32,
    pub root: Bytes32,
}

impl TensorCommitment {
    /// An interior tensor: Poseidon chunk digests as leaves.
    pub fn new(spec: &TensorSpec, t: &Tensor<i32>) -> Result<TensorCommitment> {
        Self::with_leaves(spec, t, Leaves::Poseidon)
    }

    /// A boundary tensor (the model's input or output): keccak chunk leaves.
    pub fn boundary(spec: &TensorSpec, t: &Tensor<i32>) -> Result<TensorCommitment> {
        Self::with_leaves(spec, t, Leaves::Keccak)
    }

    pub fn with_leaves(
        spec: &TensorSpec,
        t: &Tensor<i32>,
        kind: Leaves,
    ) -> Result<TensorCommitment> {
        if t.shape != spec.shape {
            return Err(ExecError::Commitment(format!(
                "tensor shape {:?} differs from its spec {:?}",
                t.shape, spec.shape
            )));
        }
        Ok(Self::from_canonical(spec, &canonical(t), kind))
    }

    /// From values already in canonical layout (`spec.numel()` of them: not checked here).
    pub fn from_canonical(spec: &TensorSpec, values: &[i32], kind: Leaves) -> TensorCommitment {
        Self::from_leaves(spec, kind, kind.leaves(values, spec.chunk_len))
    }

    pub fn from_leaves(spec: &TensorSpec, kind: Leaves, leaves: Vec<Bytes32>) -> TensorCommitment {
        let chunks = MerkleTree::new(&leaves);
        let meta_hash = meta_hash(spec);
        let root = keccak(&[&meta_hash, &chunks.root()]);
        TensorCommitment {
            kind,
            leaves,
            chunks,
            meta_hash,
            root,
        }
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
    /// Commits every slot of `trace`: keccak chunk leaves for slot 0 and slot `n =
    /// program.n_ops()` (the boundary tensors), Poseidon chunk digests for the others.
    pub fn new(program: &Program, trace: &Trace) -> Result<TraceCommitment> {
        if trace.slots.len() != program.n_ops() + 1 {
            return Err(ExecError::Commitment(
                "trace length differs from the program".into(),
            ));
        }
        // slots in parallel too: a model of many small tensors gains little inside each one
        let tensors = trace
            .slots
            .par_iter()
            .enumerate()
            .map(|(s, t)| {
                TensorCommitment::with_leaves(
                    program.slot_spec(s),
                    t,
                    Leaves::of_slot(s, program.n_ops()),
                )
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self::from_tensors(program.state_depth(), tensors))
    }

    pub fn from_tensors(depth: u32, tensors: Vec<TensorCommitment>) -> TraceCommitment {
        let roots: Vec<Bytes32> = tensors.iter().map(|t| t.root).collect();
        let state_roots = state_roots(&roots, depth);
        TraceCommitment {
            tensors,
            state_roots,
            depth,
        }
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
    let mut levels: Vec<Vec<Bytes32>> = (0..=depth as usize)
        .map(|h| vec![zero[h]; 1usize << (depth as usize - h)])
        .collect();
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
pub fn verify_update(
    before: &Bytes32,
    after: &Bytes32,
    slot: usize,
    leaf: &Bytes32,
    path: &[Bytes32],
) -> bool {
    verify_path(&ZERO, slot, path, before) && verify_path(leaf, slot, path, after)
}

/// The meta tree of a program: leaf `s` is `metaHash(slot s)`, depth `stateDepth`
/// (docs/commitments.md, "Meta root"). The registry records its root.
pub fn meta_tree(program: &Program) -> MerkleTree {
    let leaves: Vec<Bytes32> = (0..=program.n_ops())
        .map(|s| meta_hash(program.slot_spec(s)))
        .collect();
    MerkleTree::with_depth(&leaves, program.state_depth())
}

#[cfg(test)]
mod tests {
    use super::*;
    use zkopml_model::{DType, QNode, QOp, QOperand};

    /// Keccak-256 straight from tiny_keccak, over explicit bytes.
    fn keccak_of(bytes: &[u8]) -> Bytes32 {
        let mut k = Keccak::v256();
        k.update(bytes);
        let mut out = [0u8; 32];
        k.finalize(&mut out);
        out
    }

    #[test]
    fn packed_bytes_are_big_endian_twos_complement() {
        assert_eq!(
            pack_be(&[1, -1]),
            [0x00, 0x00, 0x00, 0x01, 0xff, 0xff, 0xff, 0xff]
        );
        assert_eq!(
            pack_be(&[i32::MIN, i32::MAX, 0, 0x01020304]),
            [0x80, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0, 1, 2, 3, 4]
        );
        let v = vec![i32::MIN, -2, -1, 0, 1, i32::MAX];
        assert_eq!(unpack_be(&pack_be(&v)).unwrap(), v);
        assert!(unpack_be(&[0, 0, 0]).is_none());
    }

    #[test]
    fn boundary_leaf_is_keccak_of_the_packed_chunk() {
        let want = keccak_of(&[0x00, 0x00, 0x00, 0x01, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(boundary_leaf(&[1, -1]), want);
        assert_eq!(Leaves::Keccak.leaf(&[1, -1]), want);
        // the well-known keccak of nothing, for an empty chunk (never committed, but defined)
        assert_eq!(
            hex::encode(boundary_leaf(&[])),
            "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
        );
        // chunks longer than the leaf's 64-value buffer
        for len in [63usize, 64, 65, 130, 1000] {
            let v: Vec<i32> = (0..len as i32)
                .map(|i| i.wrapping_mul(-2_654_435))
                .collect();
            let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_be_bytes()).collect();
            assert_eq!(boundary_leaf(&v), keccak_of(&bytes), "{len} values");
        }
        assert_ne!(Leaves::Poseidon.leaf(&[1, -1]), want);
        assert_eq!(
            Leaves::Poseidon.leaf(&[1, -1]),
            fr_to_bytes(&crate::poseidon::chunk_digest(&[1, -1]))
        );
    }

    #[test]
    fn boundary_commitment_has_keccak_leaves_and_a_short_last_chunk() {
        let spec = TensorSpec {
            chunk_len: 4,
            ..TensorSpec::new(vec![2, 5], DType::Float, 3)
        };
        let values: Vec<i32> = vec![-5, 4, -3, 2, -1, 0, 1, i32::MIN, i32::MAX, -7];
        let t = Tensor::new(vec![2, 5], values.clone());
        let tc = TensorCommitment::boundary(&spec, &t).unwrap();
        assert_eq!(tc.kind, Leaves::Keccak);
        let packed = pack_be(&values);
        let want: Vec<Bytes32> = [0..16, 16..32, 32..40]
            .into_iter()
            .map(|r| keccak_of(&packed[r]))
            .collect();
        assert_eq!(tc.leaves, want);
        assert_eq!(
            tc.chunks.root(),
            hash_pair(&hash_pair(&want[0], &want[1]), &hash_pair(&want[2], &ZERO))
        );
        assert_eq!(tc.root, keccak(&[&meta_hash(&spec), &tc.chunks.root()]));
        let interior = TensorCommitment::new(&spec, &t).unwrap();
        assert_eq!(interior.kind, Leaves::Poseidon);
        assert_eq!(interior.meta_hash, tc.meta_hash);
        assert_ne!(interior.root, tc.root);
        // rank 4: leaves over the canonical (NHWC) values
        let spec4 = TensorSpec {
            chunk_len: 6,
            ..TensorSpec::new(vec![1, 3, 2, 2], DType::Float, 0)
        };
        let t4 = Tensor::new(vec![1, 3, 2, 2], (0..12).map(|i| i - 6).collect());
        let tc4 = TensorCommitment::boundary(&spec4, &t4).unwrap();
        let c = canonical(&t4);
        assert_eq!(
            tc4.leaves,
            vec![boundary_leaf(&c[..6]), boundary_leaf(&c[6..])]
        );
        assert_eq!(
            TensorCommitment::from_canonical(&spec4, &c, Leaves::Keccak).root,
            tc4.root
        );
    }

    /// Gemm, ReLU, ReLU on [1, 9] with chunks of 4: keccak leaves exactly at slot 0 and 3.
    #[test]
    fn trace_commitment_uses_keccak_leaves_exactly_at_the_input_and_the_output() {
        let spec = TensorSpec {
            chunk_len: 4,
            ..TensorSpec::new(vec![1, 9], DType::Float, 0)
        };
        let relu = |slot| QNode {
            name: format!("relu{slot}"),
            onnx_op: "Relu".into(),
            op: QOp::Relu,
            inputs: vec![QOperand::Slot(slot)],
            out: spec.clone(),
            macs: 0,
        };
        let program = Program {
            format_version: zkopml_model::program::FORMAT_VERSION,
            inputs: vec![],
            input: spec.clone(),
            outputs: vec![3],
            ops: vec![
                QNode {
                    name: "gemm".into(),
                    onnx_op: "Gemm".into(),
                    op: QOp::Gemm {
                        weight: Tensor::new(vec![9, 9], (0..81).map(|i| (i % 7) - 3).collect()),
                        bias: (0..9).map(|i| 2 * i - 9).collect(),
                        shift: 0,
                    },
                    inputs: vec![QOperand::Slot(0)],
                    out: spec.clone(),
                    macs: 0,
                },
                relu(1),
                relu(2),
            ],
        };
        let input = Tensor::new(vec![1, 9], vec![3, -1, 4, -1, 5, -9, 2, -6, 5]);
        let trace = crate::run(&program, input).unwrap();
        let c = TraceCommitment::new(&program, &trace).unwrap();
        let n = program.n_ops();
        assert_eq!(n, 3);
        for (s, tc) in c.tensors.iter().enumerate() {
            let values = canonical(&trace.slots[s]);
            let kind = if s == 0 || s == n {
                Leaves::Keccak
            } else {
                Leaves::Poseidon
            };
            assert_eq!(tc.kind, kind, "slot {s}");
            assert_eq!(Leaves::of_slot(s, n), kind);
            let want: Vec<Bytes32> = values
                .chunks(4)
                .map(|ch| match kind {
                    Leaves::Keccak => keccak_of(&pack_be(ch)),
                    Leaves::Poseidon => fr_to_bytes(&crate::poseidon::chunk_digest(ch)),
                })
                .collect();
            assert_eq!(tc.leaves, want, "slot {s}");
            assert_eq!(tc.leaves.len(), 3);
            assert_eq!(
                tc.root,
                TensorCommitment::with_leaves(program.slot_spec(s), &trace.slots[s], kind)
                    .unwrap()
                    .root
            );
        }
        let roots: Vec<Bytes32> = c.tensors.iter().map(|t| t.root).collect();
        assert_eq!(c.state_roots, state_roots(&roots, program.state_depth()));
    }
}
