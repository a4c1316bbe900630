// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {vm, TestBase} from "./utils/Vm.sol";
import {Fixture} from "./utils/Fixture.sol";
import {Trees} from "./utils/Sim.sol";
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
            vm.assertEq(harness.chunkDigest(v), vm.parseJsonBytes32(j, string.concat(k, ".digest")), "chunk digest");
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

    function test_tensorRoots() public view {
        string memory j = vm.readFile("test/vectors/poseidon5.json");
        for (uint256 i = 0; i < 3; ++i) {
            string memory k = string.concat(".tensors[", vm.toString(i), "]");
            (TensorMeta memory m, int32[] memory v) = _parseTensor(j, k);
            vm.assertEq(harness.metaHash(m), vm.parseJsonBytes32(j, string.concat(k, ".metaHash")), "metaHash");
            vm.assertEq(harness.tensorRoot(m, v), vm.parseJsonBytes32(j, string.concat(k, ".tensorRoot")), "tensorRoot");
            vm.assertEq(manager.tensorRootOf(m, v), vm.parseJsonBytes32(j, string.concat(k, ".tensorRoot")), "manager");
        }
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
            vm.assertEq(harness.tensorRoot(m, v), vm.parseJsonBytes32(j, string.concat(k, ".tensorRoot")), "rust tensorRoot");
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
