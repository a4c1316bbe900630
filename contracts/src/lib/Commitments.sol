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
        for (uint256 i = 0; i < dims.length; ++i) b = abi.encodePacked(b, dims[i]);
        return keccak256(abi.encodePacked(b, scale, chunkLen));
    }

    function numel(uint32[] calldata dims) internal pure returns (uint256 n) {
        n = 1;
        for (uint256 i = 0; i < dims.length; ++i) n *= dims[i];
    }

    /// Checks a geometry is usable: rank >= 1, every dim >= 1, chunkLen >= 1, numel < 2^32.
    function checkMeta(TensorMeta calldata m) internal pure returns (uint256 n, uint256 chunks) {
        if (m.dims.length == 0 || m.chunkLen == 0) revert BadMeta();
        for (uint256 i = 0; i < m.dims.length; ++i) if (m.dims[i] == 0) revert BadMeta();
        n = numel(m.dims);
        if (n >= 2 ** 32) revert BadMeta();
        chunks = (n + m.chunkLen - 1) / m.chunkLen;
    }

    /// Chunk digest of values[start .. start+len) (docs/commitments.md, "Chunk digest").
    function chunkDigest(IPoseidon5 poseidon, int32[] calldata values, uint256 start, uint256 len)
        internal
        view
        returns (bytes32)
    {
        uint256 m = (len + 6) / 7; // packed field elements e_0 .. e_{m-1}
        uint256 blocks = (m + 3) / 4; // absorptions
        uint256 h = len; // h_0 = L
        uint256[5] memory st;
        for (uint256 b = 0; b < blocks; ++b) {
            st[0] = h;
            for (uint256 q = 0; q < 4; ++q) {
                uint256 idx = 4 * b + q;
                st[q + 1] = idx < m ? pack7(values, start + 7 * idx, start + len) : 0;
            }
            h = poseidon.poseidon(st);
        }
        return bytes32(h);
    }

    /// e = sum_{k<7} (v[base+k] + 2^31) * 2^(32k), positions >= limit contribute nothing.
    function pack7(int32[] calldata values, uint256 base, uint256 limit) internal pure returns (uint256 e) {
        uint256 end = base + 7;
        if (end > limit) end = limit;
        for (uint256 k = base; k < end; ++k) {
            e |= uint256(int256(values[k]) + 2 ** 31) << (32 * (k - base));
        }
    }

    /// Tensor root of `values` laid out canonically with geometry `m`.
    function tensorRoot(IPoseidon5 poseidon, TensorMeta calldata m, int32[] calldata values)
        internal
        view
        returns (bytes32)
    {
        (uint256 n, uint256 chunks) = checkMeta(m);
        if (values.length != n) revert BadLength(values.length, n);
        bytes32[] memory digests = new bytes32[](chunks);
        uint256 cl = m.chunkLen;
        for (uint256 c = 0; c < chunks; ++c) {
            uint256 start = c * cl;
            uint256 len = start + cl <= n ? cl : n - start;
            digests[c] = chunkDigest(poseidon, values, start, len);
        }
        return tensorRootOf(metaHash(m), Merkle.rootOf(digests));
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
