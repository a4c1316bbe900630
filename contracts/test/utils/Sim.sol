// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Commitments, TensorMeta} from "../../src/lib/Commitments.sol";
import {Merkle} from "../../src/lib/Merkle.sol";
import {IPoseidon5} from "../../src/interfaces/IPoseidon5.sol";
import {Groth16Sim} from "./Groth16Sim.sol";

/// Exposes the Solidity commitment code on calldata (test helper).
contract PoseidonHarness {
    IPoseidon5 public immutable poseidon;

    constructor(IPoseidon5 p) {
        poseidon = p;
    }

    function chunkDigest(bytes calldata packed) external view returns (bytes32) {
        return Commitments.chunkDigest(poseidon, packed);
    }

    function boundaryLeaf(bytes calldata packed) external pure returns (bytes32) {
        return Commitments.boundaryLeaf(packed);
    }

    /// Tensor root of a boundary tensor from its meta hash, value count and chunk length.
    function boundaryRootOf(bytes32 metaHash_, uint256 n, uint256 chunkLen, bytes calldata packed)
        external
        pure
        returns (bytes32)
    {
        return Commitments.tensorRootOf(metaHash_, Commitments.boundaryChunksRoot(packed, n, chunkLen));
    }

    /// Tensor root of a boundary tensor (slot 0 or n) given as packed bytes.
    function boundaryTensorRoot(TensorMeta calldata m, bytes calldata packed) external pure returns (bytes32) {
        (uint256 n,) = Commitments.checkMeta(m);
        return Commitments.tensorRootOf(Commitments.metaHash(m), Commitments.boundaryChunksRoot(packed, n, m.chunkLen));
    }

    /// Tensor root of an interior tensor (Poseidon chunk digests as leaves) given as packed bytes.
    function digestTensorRoot(TensorMeta calldata m, bytes calldata packed) external view returns (bytes32) {
        (uint256 n, uint256 chunks) = Commitments.checkMeta(m);
        if (packed.length != 4 * n) revert Commitments.BadLength(packed.length, 4 * n);
        bytes32[] memory digests = new bytes32[](chunks);
        uint256 step = 4 * uint256(m.chunkLen);
        for (uint256 c = 0; c < chunks; ++c) {
            uint256 lo = c * step;
            uint256 hi = lo + step < packed.length ? lo + step : packed.length;
            digests[c] = Commitments.chunkDigest(poseidon, packed[lo:hi]);
        }
        return Commitments.tensorRootOf(Commitments.metaHash(m), Merkle.rootOf(digests));
    }

    function metaHash(TensorMeta calldata m) external pure returns (bytes32) {
        return Commitments.metaHash(m);
    }
}

/// Packed bytes of int32 values (docs/commitments.md "Boundary tensors"), test side.
library Packed {
    function pack(int32[] memory v) internal pure returns (bytes memory b) {
        for (uint256 i = 0; i < v.length; ++i) b = abi.encodePacked(b, v[i]);
    }
}

/// Tree helpers over memory arrays (test side; independent of the contracts' calldata code).
library Trees {
    function levels(bytes32[] memory leaves, uint256 depth) internal pure returns (bytes32[][] memory lv) {
        lv = new bytes32[][](depth + 1);
        uint256 w = uint256(1) << depth;
        lv[0] = new bytes32[](w);
        for (uint256 i = 0; i < leaves.length; ++i) lv[0][i] = leaves[i];
        for (uint256 d = 1; d <= depth; ++d) {
            w >>= 1;
            lv[d] = new bytes32[](w);
            for (uint256 i = 0; i < w; ++i) lv[d][i] = keccak256(abi.encodePacked(lv[d - 1][2 * i], lv[d - 1][2 * i + 1]));
        }
    }

    function root(bytes32[] memory leaves, uint256 depth) internal pure returns (bytes32) {
        bytes32[][] memory lv = levels(leaves, depth);
        return lv[depth][0];
    }

    function path(bytes32[] memory leaves, uint256 depth, uint256 index) internal pure returns (bytes32[] memory p) {
        bytes32[][] memory lv = levels(leaves, depth);
        p = new bytes32[](depth);
        for (uint256 d = 0; d < depth; ++d) p[d] = lv[d][(index >> d) ^ 1];
    }

    /// The 2^m nodes m levels below node (height, index).
    function below(bytes32[] memory leaves, uint256 depth, uint256 height, uint256 index, uint256 m)
        internal
        pure
        returns (bytes32[] memory nodes)
    {
        bytes32[][] memory lv = levels(leaves, depth);
        uint256 w = uint256(1) << m;
        nodes = new bytes32[](w);
        for (uint256 t = 0; t < w; ++t) nodes[t] = lv[height - m][(index << m) + t];
    }
}

/// A simulated compiled model: n operators over rank-1 tensors with chunkLen 4. Slot 0 (input)
/// has 6 values (2 chunks), slots 1..n-1 have `midChunks` chunks (the last one short), slot n
/// (output) has 10 values (3 chunks, one of them short; the chunk tree has a padding leaf).
/// Op i, chunk j reads chunk min(j, last) of slot i-1 and, for i >= 2, chunk 0 of slot 0 (a skip
/// connection). Its circuit is simulated by Groth16Sim with a seed per (model, op, chunk).
contract SimModel {
    uint256 internal constant R = Commitments.R;
    uint32 public constant CHUNK = 4;
    uint32 public immutable n;
    uint32 public immutable midChunks;
    bytes32 public immutable seed;
    uint8 public immutable depth;
    Groth16Sim public immutable g16;
    bytes32 public circuitRoot;
    bytes32 public metaRoot;
    uint256 public circuitDepth;
    bytes32[] internal circuitLeaves;
    uint256[] internal leafStart; // index of (op, 0) in the circuit table, op = 1..n
    /// 0, or the op whose chunks also read a weight block (docs/commitments.md "Weights root").
    uint32 public weightedOp;

    constructor(uint32 n_, uint32 midChunks_, bytes32 seed_, Groth16Sim g16_) {
        n = n_;
        midChunks = midChunks_;
        seed = seed_;
        g16 = g16_;
        depth = uint8(Commitments.stateDepth(n_));
        bytes32[] memory metas = new bytes32[](uint256(n_) + 1);
        for (uint32 s = 0; s <= n_; ++s) metas[s] = metaHash(s);
        metaRoot = Trees.root(metas, depth);
    }

    /// A table that reads a block other than the step's own (tests of `proveStep`'s checks):
    /// slot `n + op + weightSlotOffset`, block `(j + weightChunkOffset) mod chunks`, and the
    /// block read first instead of last if `weightReadFirst`.
    uint32 public weightSlotOffset;
    uint32 public weightChunkOffset;
    bool public weightReadFirst;

    /// Makes op `op`'s chunk j also read weight block (n + op, j) (call before build).
    function setWeighted(uint32 op) external {
        weightedOp = op;
    }

    /// Makes the weighted op's table read another block, or its own in another place (call
    /// before build): what a registrant's table could try.
    function setWeightRead(uint32 slotOffset, uint32 chunkOffset, bool first) external {
        (weightSlotOffset, weightChunkOffset, weightReadFirst) = (slotOffset, chunkOffset, first);
    }

    /// Digest of weight block `chunk` of the weighted op, under the weights `wseed`.
    function weightDigest(uint256 wseed, uint32 chunk) public view returns (uint256) {
        return uint256(keccak256(abi.encode(seed, "w", wseed, chunk))) % R;
    }

    function _blockDigests(uint256 wseed) internal view returns (bytes32[] memory ds) {
        ds = new bytes32[](numChunks(weightedOp));
        for (uint32 j = 0; j < ds.length; ++j) ds[j] = bytes32(weightDigest(wseed, j));
    }

    function _weightLeaves(uint256 wseed) internal view returns (bytes32[] memory ls) {
        ls = new bytes32[](uint256(1) << depth);
        ls[weightedOp] = Trees.root(_blockDigests(wseed), chunkDepth(weightedOp));
    }

    /// The weights root of the weights `wseed` (what the registry records for wseed 0).
    function weightsRoot(uint256 wseed) external view returns (bytes32) {
        return Trees.root(_weightLeaves(wseed), depth);
    }

    function blockPath(uint256 wseed, uint32 chunk) external view returns (bytes32[] memory) {
        return Trees.path(_blockDigests(wseed), chunkDepth(weightedOp), chunk);
    }

    function weightsPath(uint256 wseed) external view returns (bytes32[] memory) {
        return Trees.path(_weightLeaves(wseed), depth, weightedOp);
    }

    /// Builds the circuit table (separate from the constructor: it is the expensive part).
    function build() external {
        leafStart.push(0); // op 0 does not exist
        for (uint32 op = 1; op <= n; ++op) {
            leafStart.push(circuitLeaves.length);
            uint256 c = numChunks(op);
            for (uint32 j = 0; j < c; ++j) circuitLeaves.push(circuitLeaf(op, j));
        }
        circuitDepth = Merkle.ceilLog2(circuitLeaves.length);
        circuitRoot = Trees.root(circuitLeaves, circuitDepth);
    }

    function numel(uint32 slot) public view returns (uint32) {
        if (slot == 0) return 6;
        if (slot == n) return 10;
        return midChunks * CHUNK - 1;
    }

    function numChunks(uint32 slot) public view returns (uint32) {
        return (numel(slot) + CHUNK - 1) / CHUNK;
    }

    function chunkLength(uint32 slot, uint32 chunk) public view returns (uint32) {
        uint32 start = chunk * CHUNK;
        uint32 e = numel(slot);
        return start + CHUNK <= e ? CHUNK : e - start;
    }

    function chunkDepth(uint32 slot) public view returns (uint256) {
        return Merkle.ceilLog2(numChunks(slot));
    }

    function meta(uint32 slot) public view returns (TensorMeta memory m) {
        m.dims = new uint32[](1);
        m.dims[0] = numel(slot);
        m.scale = 8;
        m.chunkLen = CHUNK;
    }

    function metaHash(uint32 slot) public view returns (bytes32) {
        return keccak256(abi.encodePacked(uint32(1), numel(slot), int32(8), CHUNK));
    }

    function metaPath(uint32 slot) external view returns (bytes32[] memory) {
        bytes32[] memory metas = new bytes32[](uint256(n) + 1);
        for (uint32 s = 0; s <= n; ++s) metas[s] = metaHash(s);
        return Trees.path(metas, depth, slot);
    }

    function reads(uint32 op, uint32 chunk) public view returns (uint256[] memory slots, uint256[] memory chunks) {
        uint32 last = numChunks(op - 1) - 1;
        uint32 c1 = chunk < last ? chunk : last;
        uint256 w = op == weightedOp ? 1 : 0;
        if (op == 1) {
            slots = new uint256[](1 + w);
            chunks = new uint256[](1 + w);
            (slots[0], chunks[0]) = (0, c1);
        } else {
            slots = new uint256[](2 + w);
            chunks = new uint256[](2 + w);
            (slots[0], chunks[0]) = (op - 1, c1);
            (slots[1], chunks[1]) = (0, 0);
        }
        if (w == 1) {
            uint256 at = weightReadFirst ? 0 : slots.length - 1;
            if (weightReadFirst) (slots[slots.length - 1], chunks[chunks.length - 1]) = (slots[0], chunks[0]);
            slots[at] = uint256(n) + op + weightSlotOffset;
            chunks[at] = (chunk + weightChunkOffset) % numChunks(op);
        }
    }

    function vkSeed(uint32 op, uint32 chunk) public view returns (bytes32) {
        return keccak256(abi.encode(seed, op, chunk));
    }

    function vk(uint32 op, uint32 chunk) public view returns (bytes memory) {
        (uint256[] memory slots,) = reads(op, chunk);
        return g16.vk(vkSeed(op, chunk), slots.length + 1);
    }

    function circuitLeaf(uint32 op, uint32 chunk) public view returns (bytes32) {
        (uint256[] memory slots, uint256[] memory chunks) = reads(op, chunk);
        return keccak256(abi.encode(uint256(op), uint256(chunk), keccak256(vk(op, chunk)), slots, chunks));
    }

    function leafIndex(uint32 op, uint32 chunk) public view returns (uint256) {
        return leafStart[op] + chunk;
    }

    function circuitPath(uint32 op, uint32 chunk) external view returns (bytes32[] memory) {
        return Trees.path(circuitLeaves, circuitDepth, leafIndex(op, chunk));
    }

    /// The simulated operator: digest of output chunk `chunk` of op < n from its input digests.
    function f(uint32 op, uint32 chunk, uint256[] memory ins) public view returns (uint256) {
        return uint256(keccak256(abi.encode(seed, "f", op, chunk, ins))) % R;
    }

    /// The simulated last operator: the values of output chunk `chunk` from its input digests.
    function g(uint32 chunk, uint256[] memory ins) public view returns (int32[] memory v) {
        v = new int32[](chunkLength(n, chunk));
        for (uint256 k = 0; k < v.length; ++k) {
            v[k] = int32(int256(uint256(keccak256(abi.encode(seed, "g", chunk, ins, k))) % 2001) - 1000);
        }
    }

    function params() external pure returns (uint256) {
        return 0;
    }
}

/// One party's trace of a SimModel on an input: honest, or with a defect at (defectOp, defectChunk)
/// (the defective executor's later operators compute on its wrong values, as a real one would).
contract SimTrace {
    SimModel public immutable m;
    PoseidonHarness public immutable h;
    uint32 public immutable defectOp; // 0 = honest
    uint32 public immutable defectChunk;
    mapping(uint32 => bytes32[]) internal digests; // Poseidon chunk digests (what the circuits read and output)
    mapping(uint32 => bytes32[]) internal leaves; // chunk-tree leaves: the digests, keccak leaves at slots 0 and n
    bytes32[] internal tensorRoots;
    int32[] internal input;
    int32[] internal output;
    uint32 public junkSlot; // if set: a non-zero digest in the first padding leaf of that slot
    uint256 public weightsSeed; // the weights this party runs the weighted op with (0: the registered ones)

    constructor(SimModel m_, PoseidonHarness h_, int32[] memory input_, uint32 defectOp_, uint32 defectChunk_) {
        m = m_;
        h = h_;
        defectOp = defectOp_;
        defectChunk = defectChunk_;
        input = input_;
    }

    /// Runs the weighted op with other weights than the registered ones (call before build).
    function setWeights(uint256 wseed) external {
        weightsSeed = wseed;
    }

    /// Puts a non-zero digest into the first padding leaf of `slot`'s chunk tree (call before build).
    function setJunk(uint32 slot) external {
        junkSlot = slot;
    }

    function build() external {
        uint32 n = m.n();
        // slot 0
        for (uint32 j = 0; j < m.numChunks(0); ++j) {
            int32[] memory v = new int32[](m.chunkLength(0, j));
            for (uint256 k = 0; k < v.length; ++k) v[k] = input[j * 4 + k];
            digests[0].push(h.chunkDigest(Packed.pack(v)));
            leaves[0].push(keccak256(Packed.pack(v)));
        }
        tensorRoots.push(_tensorRoot(0));
        for (uint32 op = 1; op <= n; ++op) {
            for (uint32 j = 0; j < m.numChunks(op); ++j) {
                uint256[] memory ins = inputDigests(op, j);
                if (op < n) {
                    uint256 d = m.f(op, j, ins);
                    if (op == defectOp && j == defectChunk) d = addmod(d, 1, Commitments.R);
                    digests[op].push(bytes32(d));
                    leaves[op].push(bytes32(d));
                } else {
                    int32[] memory v = m.g(j, ins);
                    if (op == defectOp && j == defectChunk) v[0] += 1;
                    for (uint256 k = 0; k < v.length; ++k) output.push(v[k]);
                    digests[op].push(h.chunkDigest(Packed.pack(v)));
                    leaves[op].push(keccak256(Packed.pack(v)));
                }
            }
            if (op == junkSlot) leaves[op].push(bytes32(uint256(0xbad)));
            tensorRoots.push(_tensorRoot(op));
        }
    }

    function _tensorRoot(uint32 slot) internal view returns (bytes32) {
        return keccak256(abi.encodePacked(m.metaHash(slot), chunksRoot(slot)));
    }

    function inputDigests(uint32 op, uint32 chunk) public view returns (uint256[] memory ins) {
        (uint256[] memory slots, uint256[] memory chunks) = m.reads(op, chunk);
        ins = new uint256[](slots.length);
        for (uint256 k = 0; k < slots.length; ++k) {
            ins[k] = slots[k] > m.n()
                ? m.weightDigest(weightsSeed, uint32(chunks[k]))
                : uint256(digests[uint32(slots[k])][chunks[k]]);
        }
    }

    /// What the (simulated) circuit of (op, chunk) outputs on this trace's inputs.
    function trueDigest(uint32 op, uint32 chunk) external view returns (uint256) {
        uint256[] memory ins = inputDigests(op, chunk);
        if (op < m.n()) return m.f(op, chunk, ins);
        return uint256(h.chunkDigest(Packed.pack(m.g(chunk, ins))));
    }

    /// The packed bytes of the last operator's output chunk `chunk` as the (simulated) circuit
    /// computes it on this trace's inputs.
    function trueOutputChunk(uint32 chunk) external view returns (bytes memory) {
        return Packed.pack(m.g(chunk, inputDigests(m.n(), chunk)));
    }

    /// The packed bytes of chunk `chunk` of a boundary slot (0 or n) of this trace.
    function packedChunk(uint32 slot, uint32 chunk) external view returns (bytes memory) {
        int32[] storage src = slot == 0 ? input : output;
        uint256 lo = uint256(chunk) * m.CHUNK();
        uint256 len = m.chunkLength(slot, chunk);
        int32[] memory v = new int32[](len);
        for (uint256 k = 0; k < len; ++k) v[k] = src[lo + k];
        return Packed.pack(v);
    }

    function packedInput() external view returns (bytes memory) {
        return Packed.pack(input);
    }

    function packedOutput() external view returns (bytes memory) {
        return Packed.pack(output);
    }

    function getInput() external view returns (int32[] memory) {
        return input;
    }

    function getOutput() external view returns (int32[] memory) {
        return output;
    }

    /// The Poseidon digest of a chunk (0 past the last chunk).
    function digest(uint32 slot, uint32 chunk) external view returns (bytes32) {
        return chunk < digests[slot].length ? digests[slot][chunk] : bytes32(0);
    }

    /// The chunk-tree leaf of a chunk: its digest, or its keccak leaf at slots 0 and n.
    function leaf(uint32 slot, uint32 chunk) external view returns (bytes32) {
        return chunk < leaves[slot].length ? leaves[slot][chunk] : bytes32(0);
    }

    function chunksRoot(uint32 slot) public view returns (bytes32) {
        return Trees.root(leaves[slot], m.chunkDepth(slot));
    }

    function tensorRoot(uint32 slot) external view returns (bytes32) {
        return tensorRoots[slot];
    }

    function chunkPath(uint32 slot, uint32 chunk) external view returns (bytes32[] memory) {
        return Trees.path(leaves[slot], m.chunkDepth(slot), chunk);
    }

    function nodesBelow(uint32 slot, uint256 height, uint256 index, uint256 k) external view returns (bytes32[] memory) {
        return Trees.below(leaves[slot], m.chunkDepth(slot), height, index, k);
    }

    function _stateLeaves(uint32 step) internal view returns (bytes32[] memory ls) {
        ls = new bytes32[](step + 1);
        for (uint32 s = 0; s <= step; ++s) ls[s] = tensorRoots[s];
    }

    function stateRoot(uint32 step) public view returns (bytes32) {
        return Trees.root(_stateLeaves(step), m.depth());
    }

    function stateRoots(uint32[] memory steps) external view returns (bytes32[] memory rs) {
        rs = new bytes32[](steps.length);
        for (uint256 i = 0; i < steps.length; ++i) rs[i] = stateRoot(steps[i]);
    }

    /// Siblings of leaf `slot` in the state tree after `step`.
    function statePath(uint32 step, uint32 slot) external view returns (bytes32[] memory) {
        return Trees.path(_stateLeaves(step), m.depth(), slot);
    }
}
