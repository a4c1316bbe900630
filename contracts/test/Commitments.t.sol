// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {vm, TestBase, console} from "./utils/Vm.sol";
import {Fixture} from "./utils/Fixture.sol";
import {Trees, Packed} from "./utils/Sim.sol";
import {Commitments, TensorMeta} from "../src/lib/Commitments.sol";
import {Merkle} from "../src/lib/Merkle.sol";

/// The Solidity commitments against vectors made elsewhere: circomlibjs (contracts/gen/poseidon.js
/// and scripts/js' testdata/vectors/poseidon-circomlibjs.json) and the Rust
/// engine's testdata/vectors/commitments.json.
contract CommitmentsTest is Fixture {
    function setUp() public {
        deployAll();
    }

    function _checkPoseidon(string memory j, uint256 count) internal view {
        for (uint256 i = 0; i < count; ++i) {
            string memory k = string.concat(".poseidon5[", vm.toString(i), "]");
            uint256[] memory xs = vm.parseJsonUintArray(j, string.concat(k, ".inputs"));
            uint256 want = vm.parseJsonUint(j, string.concat(k, ".output"));
            uint256 got = poseidon.poseidon([xs[0], xs[1], xs[2], xs[3], xs[4]]);
            vm.assertEq(got, want, "poseidon5");
        }
    }

    function _checkChunks(string memory j, uint256 count) internal view {
        for (uint256 i = 0; i < count; ++i) {
            string memory k = string.concat(".chunks[", vm.toString(i), "]");
            int256[] memory raw = vm.parseJsonIntArray(j, string.concat(k, ".values"));
            int32[] memory v = new int32[](raw.length);
            for (uint256 q = 0; q < raw.length; ++q) v[q] = int32(raw[q]);
            // the digest is computed on chain from the chunk's packed bytes (docs/commitments.md "Boundary tensors")
            vm.assertEq(
                harness.chunkDigest(Packed.pack(v)), vm.parseJsonBytes32(j, string.concat(k, ".digest")), "chunk digest"
            );
        }
    }

    function test_poseidonAndChunkDigests_contractsGen() public view {
        string memory j = vm.readFile("test/vectors/poseidon5.json");
        _checkPoseidon(j, 3);
        _checkChunks(j, 8);
    }

    function test_poseidonAndChunkDigests_scriptsJs() public {
        string memory path = "../testdata/vectors/poseidon-circomlibjs.json";
        string memory j = vm.readFile(path);
        _checkPoseidon(j, vm.parseJsonKeys(j, ".poseidon5[0]").length > 0 ? _len(j, ".poseidon5") : 0);
        _checkChunks(j, _len(j, ".chunks"));
    }

    function _len(string memory j, string memory key) internal view returns (uint256 n) {
        while (vm.keyExistsJson(j, string.concat(key, "[", vm.toString(n), "]"))) ++n;
    }

    /// A tensor vector's geometry and (canonical) values.
    function _parseTensor(string memory j, string memory k) internal pure returns (TensorMeta memory m, int32[] memory v) {
        uint256[] memory dims = vm.parseJsonUintArray(j, string.concat(k, ".dims"));
        m.dims = new uint32[](dims.length);
        for (uint256 q = 0; q < dims.length; ++q) m.dims[q] = uint32(dims[q]);
        m.scale = int32(vm.parseJsonInt(j, string.concat(k, ".scale")));
        m.chunkLen = uint32(vm.parseJsonUint(j, string.concat(k, ".chunkLen")));
        int256[] memory raw = vm.parseJsonIntArray(j, string.concat(k, ".values"));
        v = new int32[](raw.length);
        for (uint256 q = 0; q < raw.length; ++q) v[q] = int32(raw[q]);
    }

    /// The vectors' tensor roots are those of interior slots (Poseidon chunk digests as leaves);
    /// the manager's tensorRootOf is the boundary root (slots 0 and n: keccak leaves over packed
    /// bytes), checked against a test-side tree of those leaves.
    function test_tensorRoots() public view {
        string memory j = vm.readFile("test/vectors/poseidon5.json");
        for (uint256 i = 0; i < 3; ++i) {
            string memory k = string.concat(".tensors[", vm.toString(i), "]");
            (TensorMeta memory m, int32[] memory v) = _parseTensor(j, k);
            bytes memory packed = Packed.pack(v);
            vm.assertEq(harness.metaHash(m), vm.parseJsonBytes32(j, string.concat(k, ".metaHash")), "metaHash");
            vm.assertEq(
                harness.digestTensorRoot(m, packed), vm.parseJsonBytes32(j, string.concat(k, ".tensorRoot")), "tensorRoot"
            );
            bytes32 boundary = _boundaryRoot(m, v);
            vm.assertEq(manager.tensorRootOf(m, packed), boundary, "manager: boundary root");
            vm.assertEq(harness.boundaryTensorRoot(m, packed), boundary, "harness: boundary root");
            vm.assertEq(manager.tensorRootOfChunks(m, _boundaryChunksRoot(m, v)), boundary, "manager: root of chunks");
            vm.assertTrue(boundary != vm.parseJsonBytes32(j, string.concat(k, ".tensorRoot")), "boundary == interior");
        }
    }

    /// Chunks root of a boundary tensor, test side: keccak of each chunk's packed bytes, a full
    /// binary tree over them (Trees pads with zero leaves).
    function _boundaryChunksRoot(TensorMeta memory m, int32[] memory v) internal pure returns (bytes32) {
        uint256 cl = m.chunkLen;
        uint256 chunks = (v.length + cl - 1) / cl;
        bytes32[] memory leaves = new bytes32[](chunks);
        for (uint256 c = 0; c < chunks; ++c) {
            uint256 len = (c + 1) * cl <= v.length ? cl : v.length - c * cl;
            int32[] memory part = new int32[](len);
            for (uint256 q = 0; q < len; ++q) part[q] = v[c * cl + q];
            leaves[c] = keccak256(Packed.pack(part));
        }
        return Trees.root(leaves, Merkle.ceilLog2(chunks));
    }

    function _boundaryRoot(TensorMeta memory m, int32[] memory v) internal view returns (bytes32) {
        return keccak256(abi.encodePacked(harness.metaHash(m), _boundaryChunksRoot(m, v)));
    }

    /// Packed bytes must be exactly 4 bytes a value of the geometry: one byte more or less, or
    /// one value less, is refused.
    function test_boundaryRootRefusesWrongLength() public {
        string memory j = vm.readFile("test/vectors/poseidon5.json");
        (TensorMeta memory m, int32[] memory v) = _parseTensor(j, ".tensors[0]");
        bytes memory packed = Packed.pack(v);
        bytes memory longer = abi.encodePacked(packed, bytes1(0));
        vm.expectRevert(abi.encodeWithSelector(Commitments.BadLength.selector, packed.length + 1, packed.length));
        manager.tensorRootOf(m, longer);
        bytes memory shorter = new bytes(packed.length - 4);
        for (uint256 q = 0; q < shorter.length; ++q) shorter[q] = packed[q];
        vm.expectRevert(abi.encodeWithSelector(Commitments.BadLength.selector, packed.length - 4, packed.length));
        manager.tensorRootOf(m, shorter);
    }

    function test_stateRoot0AndDepth() public pure {
        vm.assertEq(Commitments.stateDepth(1), 1);
        vm.assertEq(Commitments.stateDepth(2), 2);
        vm.assertEq(Commitments.stateDepth(3), 2);
        vm.assertEq(Commitments.stateDepth(4), 3);
        vm.assertEq(Commitments.stateDepth(7), 3);
        vm.assertEq(Commitments.stateDepth(155), 8);
        vm.assertEq(Commitments.stateDepth(255), 8);
        vm.assertEq(Commitments.stateDepth(256), 9);
        bytes32 leaf = keccak256("input");
        for (uint256 d = 1; d < 10; ++d) {
            bytes32[] memory leaves = new bytes32[](1);
            leaves[0] = leaf;
            vm.assertEq(Commitments.stateRoot0(leaf, d), Trees.root(leaves, d));
        }
    }

    function test_merkleRootOfMatchesFullTree() public pure {
        for (uint256 n = 1; n <= 9; ++n) {
            bytes32[] memory a = new bytes32[](n);
            for (uint256 i = 0; i < n; ++i) a[i] = keccak256(abi.encode(n, i));
            bytes32 want = Trees.root(a, Merkle.ceilLog2(n));
            vm.assertEq(Merkle.rootOf(a), want);
        }
    }

    /// The Rust engine's vectors (docs/commitments.md): testdata/vectors/commitments.json, written by crates/exec/tests/vectors.rs.
    function test_rustCommitmentVectors() public {
        string memory path = "../testdata/vectors/commitments.json";
        string memory j = vm.readFile(path);
        uint256 checked = 0;
        if (vm.keyExistsJson(j, ".chunks")) {
            uint256 n = _len(j, ".chunks");
            _checkChunks(j, n);
            checked += n;
        }
        if (vm.keyExistsJson(j, ".tensors")) {
            uint256 n = _len(j, ".tensors");
            _checkRustTensors(j, n);
            checked += n;
        }
        if (vm.keyExistsJson(j, ".state")) {
            checked += _checkRustState(j);
        }
        if (vm.keyExistsJson(j, ".boundaryTensors")) {
            uint256 n = _len(j, ".boundaryTensors");
            _checkRustBoundary(j, n);
            checked += n;
        }
        vm.assertTrue(checked > 0, "commitments.json has no vectors this test understands");
    }

    /// Merkle.rootFromPath takes calldata: reach it through an external call.
    function rootFromPathExt(bytes32 leaf, uint256 index, bytes32[] calldata siblings) external pure returns (bytes32) {
        return Merkle.rootFromPath(leaf, index, siblings);
    }

    function _checkRustTensors(string memory j, uint256 count) internal view {
        for (uint256 i = 0; i < count; ++i) {
            string memory k = string.concat(".tensors[", vm.toString(i), "]");
            (TensorMeta memory m, int32[] memory v) = _parseTensor(j, k);
            vm.assertEq(harness.metaHash(m), vm.parseJsonBytes32(j, string.concat(k, ".metaHash")), "rust metaHash");
            vm.assertEq(
                harness.digestTensorRoot(m, Packed.pack(v)),
                vm.parseJsonBytes32(j, string.concat(k, ".tensorRoot")),
                "rust tensorRoot"
            );
            bytes32[] memory digests = vm.parseJsonBytes32Array(j, string.concat(k, ".chunkDigests"));
            bytes32 chunksRoot = vm.parseJsonBytes32(j, string.concat(k, ".chunksRoot"));
            for (uint256 c = 0; c < digests.length; ++c) {
                bytes32[] memory path = vm.parseJsonBytes32Array(j, string.concat(k, ".chunkPaths[", vm.toString(c), "]"));
                vm.assertEq(this.rootFromPathExt(digests[c], c, path), chunksRoot, "rust chunk path");
                if (digests.length > 1) {
                    vm.assertTrue(this.rootFromPathExt(digests[c], c ^ 1, path) != chunksRoot, "a path for the wrong chunk verifies");
                }
            }
        }
    }

    /// The Rust engine's boundary tensors (slot 0 and n: keccak leaves over packed bytes,
    /// docs/commitments.md "Boundary tensors") against the contracts' boundary code.
    function test_rustBoundaryTensorVectors() public view {
        string memory j = vm.readFile("../testdata/vectors/commitments.json");
        if (!vm.keyExistsJson(j, ".boundaryTensors")) {
            console.log("commitments.json has no boundaryTensors yet: vectors checked", 0);
            return;
        }
        uint256 n = _len(j, ".boundaryTensors");
        vm.assertTrue(n > 0, "no boundary tensor vectors");
        _checkRustBoundary(j, n);
    }

    function _checkRustBoundary(string memory j, uint256 count) internal view {
        for (uint256 i = 0; i < count; ++i) {
            _checkRustBoundaryOne(j, string.concat(".boundaryTensors[", vm.toString(i), "]"));
        }
    }

    function _checkRustBoundaryOne(string memory j, string memory k) internal view {
        (TensorMeta memory m, int32[] memory v) = _parseTensor(j, k);
        bytes memory packed = vm.parseJsonBytes(j, string.concat(k, ".packed"));
        vm.assertEq(keccak256(packed), keccak256(Packed.pack(v)), "rust packed bytes");
        vm.assertEq(harness.metaHash(m), vm.parseJsonBytes32(j, string.concat(k, ".metaHash")), "rust boundary metaHash");
        bytes32 root = vm.parseJsonBytes32(j, string.concat(k, ".tensorRoot"));
        vm.assertEq(harness.boundaryTensorRoot(m, packed), root, "rust boundary tensorRoot");
        vm.assertEq(manager.tensorRootOf(m, packed), root, "rust boundary tensorRoot (manager)");
        bytes32 chunksRoot = vm.parseJsonBytes32(j, string.concat(k, ".chunksRoot"));
        vm.assertEq(_boundaryChunksRoot(m, v), chunksRoot, "rust boundary chunksRoot");
        bytes32[] memory leaves = vm.parseJsonBytes32Array(j, string.concat(k, ".chunkLeaves"));
        vm.assertEq(leaves.length, (v.length + m.chunkLen - 1) / m.chunkLen, "rust boundary chunk count");
        for (uint256 c = 0; c < leaves.length; ++c) {
            bytes32[] memory path = vm.parseJsonBytes32Array(j, string.concat(k, ".chunkPaths[", vm.toString(c), "]"));
            _checkBoundaryLeaf(packed, m.chunkLen, c, leaves[c], path, chunksRoot);
        }
    }

    /// Leaf `c` is the keccak of chunk c's packed bytes and its path leads to the chunks root.
    function _checkBoundaryLeaf(
        bytes memory packed,
        uint256 cl,
        uint256 c,
        bytes32 leaf,
        bytes32[] memory path,
        bytes32 chunksRoot
    ) internal view {
        uint256 lo = 4 * c * cl;
        uint256 hi = lo + 4 * cl < packed.length ? lo + 4 * cl : packed.length;
        bytes memory chunk = new bytes(hi - lo);
        for (uint256 q = 0; q < chunk.length; ++q) chunk[q] = packed[lo + q];
        vm.assertEq(harness.boundaryLeaf(chunk), leaf, "rust boundary leaf");
        vm.assertEq(this.rootFromPathExt(leaf, c, path), chunksRoot, "rust boundary chunk path");
    }

    function _checkRustState(string memory j) internal view returns (uint256 n) {
        uint256 depth = vm.parseJsonUint(j, ".state.depth");
        bytes32[] memory leaves = vm.parseJsonBytes32Array(j, ".state.tensorRoots");
        bytes32[] memory roots = vm.parseJsonBytes32Array(j, ".state.stateRoots");
        vm.assertEq(Commitments.stateRoot0(leaves[0], depth), roots[0], "rust stateRoot(0)");
        n = _len(j, ".state.updates");
        for (uint256 u = 0; u < n; ++u) {
            string memory k = string.concat(".state.updates[", vm.toString(u), "]");
            uint256 slot = vm.parseJsonUint(j, string.concat(k, ".slot"));
            bytes32[] memory sib = vm.parseJsonBytes32Array(j, string.concat(k, ".siblings"));
            bytes32 leaf = vm.parseJsonBytes32(j, string.concat(k, ".leaf"));
            vm.assertEq(this.rootFromPathExt(bytes32(0), slot, sib), vm.parseJsonBytes32(j, string.concat(k, ".before")), "rust update: empty leaf before");
            vm.assertEq(this.rootFromPathExt(leaf, slot, sib), vm.parseJsonBytes32(j, string.concat(k, ".after")), "rust update: leaf after");
            vm.assertEq(roots[slot], vm.parseJsonBytes32(j, string.concat(k, ".after")), "rust state roots");
        }
    }
}
