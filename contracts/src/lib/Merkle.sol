// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title Binary keccak Merkle trees as defined in docs/commitments.md.
/// A node is keccak(left ‖ right). A path is the list of siblings from the leaf up; bit d of the
/// leaf index says whether the node at level d is a right child (1) or a left child (0).
library Merkle {
    error IndexOutOfRange(uint256 index, uint256 depth);

    function hashPair(bytes32 l, bytes32 r) internal pure returns (bytes32 h) {
        assembly ("memory-safe") {
            mstore(0x00, l)
            mstore(0x20, r)
            h := keccak256(0x00, 0x40)
        }
    }

    /// Root of the tree in which `leaf` sits at `index`, with the given siblings (depth =
    /// siblings.length). Reverts when `index` does not fit in that depth, so a path can only
    /// ever speak for the one slot it was made for.
    function rootFromPath(bytes32 leaf, uint256 index, bytes32[] calldata siblings)
        internal
        pure
        returns (bytes32 node)
    {
        uint256 depth = siblings.length;
        if (depth < 256 && (index >> depth) != 0) revert IndexOutOfRange(index, depth);
        node = leaf;
        for (uint256 d = 0; d < depth; ++d) {
            bytes32 s = siblings[d];
            node = ((index >> d) & 1) == 1 ? hashPair(s, node) : hashPair(node, s);
        }
    }

    /// Root of an empty subtree of the given height: Z_0 = 0, Z_{h+1} = keccak(Z_h ‖ Z_h).
    function zeroRoot(uint256 height) internal pure returns (bytes32 z) {
        for (uint256 h = 0; h < height; ++h) {
            z = hashPair(z, z);
        }
    }

    /// Root over `leaves` padded with bytes32(0) to the next power of two (one leaf: the leaf).
    /// Overwrites `leaves`. Each level is hashed in place; an odd last node pairs with the root
    /// of an empty subtree of its level (the virtual padding).
    function rootOf(bytes32[] memory leaves) internal pure returns (bytes32 root) {
        uint256 n = leaves.length;
        if (n == 0) return bytes32(0);
        assembly ("memory-safe") {
            let base := add(leaves, 0x20)
            let zero := 0
            for {} gt(n, 1) {} {
                let half := shr(1, add(n, 1))
                for { let i := 0 } lt(i, half) { i := add(i, 1) } {
                    let left := add(base, shl(6, i))
                    mstore(0x00, mload(left))
                    switch lt(add(shl(1, i), 1), n)
                    case 1 { mstore(0x20, mload(add(left, 0x20))) }
                    default { mstore(0x20, zero) }
                    mstore(add(base, shl(5, i)), keccak256(0x00, 0x40))
                }
                mstore(0x00, zero)
                mstore(0x20, zero)
                zero := keccak256(0x00, 0x40)
                n := half
            }
            root := mload(base)
        }
    }

    /// Reduces 2^m nodes that sit m levels below a node to that node.
    function reduce(bytes32[] calldata nodes) internal pure returns (bytes32) {
        uint256 n = nodes.length;
        bytes32[] memory level = new bytes32[](n);
        for (uint256 i = 0; i < n; ++i) {
            level[i] = nodes[i];
        }
        while (n > 1) {
            n >>= 1;
            for (uint256 i = 0; i < n; ++i) {
                level[i] = hashPair(level[2 * i], level[2 * i + 1]);
            }
        }
        return level[0];
    }

    /// ceil(log2(x)) for x >= 1.
    function ceilLog2(uint256 x) internal pure returns (uint256 r) {
        while ((uint256(1) << r) < x) ++r;
    }
}
