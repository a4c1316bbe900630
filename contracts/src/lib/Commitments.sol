// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IPoseidon5} from "../interfaces/IPoseidon5.sol";
import {Merkle} from "./Merkle.sol";

/// Tensor geometry as the registry records it (docs/commitments.md, "metaHash").
struct TensorMeta {
    uint32[] dims; // ONNX order (e.g. NCHW)
    int32 scale;
    uint32 chunkLen;
}

/// @title The commitments of docs/commitments.md, on-chain side.
library Commitments {
    /// BN254 scalar field (alt_bn128 group order r).
    uint256 internal constant R = 21888242871839275222246405745257275088548364400416034343698204186575808495617;

    error BadMeta();
    error BadLength(uint256 got, uint256 want);

    /// keccak(uint32 rank ‖ uint32 dims… ‖ int32 scale ‖ uint32 chunkLen), all 4-byte big-endian.
    function metaHash(TensorMeta calldata m) internal pure returns (bytes32) {
        return metaHashOf(m.dims, m.scale, m.chunkLen);
    }

    function metaHashOf(uint32[] calldata dims, int32 scale, uint32 chunkLen) internal pure returns (bytes32) {
        bytes memory b = abi.encodePacked(uint32(dims.length));
        for (uint256 i = 0; i < dims.length; ++i) {
            b = abi.encodePacked(b, dims[i]);
        }
        return keccak256(abi.encodePacked(b, scale, chunkLen));
    }

    function numel(uint32[] calldata dims) internal pure returns (uint256 n) {
        n = 1;
        for (uint256 i = 0; i < dims.length; ++i) {
            n *= dims[i];
        }
    }

    /// Checks a geometry is usable: rank >= 1, every dim >= 1, chunkLen >= 1, numel < 2^32.
    function checkMeta(TensorMeta calldata m) internal pure returns (uint256 n, uint256 chunks) {
        if (m.dims.length == 0 || m.chunkLen == 0) revert BadMeta();
        for (uint256 i = 0; i < m.dims.length; ++i) {
            if (m.dims[i] == 0) revert BadMeta();
        }
        n = numel(m.dims);
        if (n >= 2 ** 32) revert BadMeta();
        chunks = (n + m.chunkLen - 1) / m.chunkLen;
    }

    /// Chunk digest (docs/commitments.md, "Chunk digest") of a chunk given as packed bytes
    /// (4 bytes a value, int32 big-endian: docs/commitments.md "Boundary tensors"). Only a game
    /// that opens a chunk of the input or the output pays for it.
    function chunkDigest(IPoseidon5 poseidon, bytes calldata packed) internal view returns (bytes32) {
        uint256 len = packed.length / 4;
        uint256 m = (len + 6) / 7; // packed field elements e_0 .. e_{m-1}
        uint256 blocks = (m + 3) / 4; // absorptions
        uint256 h = len; // h_0 = L
        uint256[5] memory st;
        for (uint256 b = 0; b < blocks; ++b) {
            st[0] = h;
            for (uint256 q = 0; q < 4; ++q) {
                uint256 idx = 4 * b + q;
                st[q + 1] = idx < m ? pack7(packed, 7 * idx, len) : 0;
            }
            h = poseidon.poseidon(st);
        }
        return bytes32(h);
    }

    /// e = sum_{k<7} (v[base+k] + 2^31) * 2^(32k), positions >= limit contribute nothing
    /// (requires base < limit <= packed.length / 4).
    function pack7(bytes calldata packed, uint256 base, uint256 limit) internal pure returns (uint256 e) {
        uint256 count = limit - base;
        if (count > 7) count = 7;
        assembly ("memory-safe") {
            // one word holds values base .. base+7, value base in its top 4 bytes; lanes at or
            // past `count` are never read (they may be bytes beyond the slice)
            let w := calldataload(add(packed.offset, mul(4, base)))
            for { let k := 0 } lt(k, count) { k := add(k, 1) } {
                // int32 big-endian to the offset value v + 2^31: flipping the sign bit does it
                let u := xor(and(shr(sub(224, mul(32, k)), w), 0xffffffff), 0x80000000)
                e := or(e, shl(mul(32, k), u))
            }
        }
    }

    /// Leaf of a boundary chunk (slot 0 or n): keccak of its packed bytes.
    function boundaryLeaf(bytes calldata packed) internal pure returns (bytes32 h) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            calldatacopy(ptr, packed.offset, packed.length)
            h := keccak256(ptr, packed.length)
        }
    }

    /// Chunks root of a boundary tensor of `count` values given as packed bytes, cut into
    /// chunks of `chunkLen` values (the last one may be shorter).
    function boundaryChunksRoot(bytes calldata packed, uint256 count, uint256 chunkLen)
        internal
        pure
        returns (bytes32)
    {
        if (packed.length != 4 * count) revert BadLength(packed.length, 4 * count);
        uint256 chunks = (count + chunkLen - 1) / chunkLen;
        bytes32[] memory leaves = new bytes32[](chunks);
        assembly ("memory-safe") {
            // each chunk's bytes are copied to scratch memory past the free pointer and hashed
            let step := mul(4, chunkLen)
            let buf := mload(0x40)
            let len := packed.length
            let out := add(leaves, 0x20)
            for { let lo := 0 } lt(lo, len) { lo := add(lo, step) } {
                let n := step
                if gt(add(lo, n), len) { n := sub(len, lo) }
                calldatacopy(buf, add(packed.offset, lo), n)
                mstore(out, keccak256(buf, n))
                out := add(out, 0x20)
            }
        }
        return Merkle.rootOf(leaves);
    }

    function tensorRootOf(bytes32 meta, bytes32 chunksRoot) internal pure returns (bytes32) {
        return Merkle.hashPair(meta, chunksRoot);
    }

    /// stateDepth = max(1, ceil(log2(n + 1))).
    function stateDepth(uint256 numOps) internal pure returns (uint256 d) {
        d = Merkle.ceilLog2(numOps + 1);
        if (d == 0) d = 1;
    }

    /// stateRoot(0): the state tree of depth `depth` with only leaf 0 (the input's tensor root) set.
    function stateRoot0(bytes32 inputRoot, uint256 depth) internal pure returns (bytes32 node) {
        node = inputRoot;
        bytes32 z;
        for (uint256 d = 0; d < depth; ++d) {
            node = Merkle.hashPair(node, z);
            z = Merkle.hashPair(z, z);
        }
    }
}
