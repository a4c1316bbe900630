// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {vm} from "./utils/Vm.sol";
import {Fixture} from "./utils/Fixture.sol";
import {SimModel, SimTrace} from "./utils/Sim.sol";

/// The round counts the Rust side predicts (`zkopml_node::dissection`, written to
/// test/vectors/rounds.json) against real games played on the contracts: a drift between the
/// two fails here.
contract RoundsTest is Fixture {
    string internal j;

    function setUp() public {
        deployAll();
        j = vm.readFile("test/vectors/rounds.json");
    }

    function _u(string memory path) internal view returns (uint256) {
        return vm.parseJsonUint(j, path);
    }

    /// `rounds` of the "ops" vector for (n, k, N): one entry per disputed operator 1..n.
    function _opRounds(uint256 n, uint256 k, uint256 group) internal view returns (uint256[] memory) {
        for (uint256 i = 0;; ++i) {
            string memory e = string.concat(".ops[", vm.toString(i), "]");
            if (_u(string.concat(e, ".n")) == n && _u(string.concat(e, ".k")) == k && _u(string.concat(e, ".N")) == group)
            {
                return vm.parseJsonUintArray(j, string.concat(e, ".rounds"));
            }
        }
    }

    /// `rounds` of the "chunks" vector for arity k in a slot of `chunks` chunks.
    function _chunkRounds(uint256 k, uint256 chunks) internal view returns (uint256) {
        for (uint256 i = 0;; ++i) {
            string memory e = string.concat(".chunks[", vm.toString(i), "]");
            if (_u(string.concat(e, ".k")) == k && _u(string.concat(e, ".chunks")) == chunks) {
                return _u(string.concat(e, ".rounds"));
            }
        }
    }

    function _check(uint32 n, uint16 k, uint16 group) internal {
        SimModel m = newSim(n, 5, keccak256(abi.encode("rounds", n, k, group)));
        uint256 id = register(m, params(k, group));
        uint256[] memory want = _opRounds(n, k, group);
        vm.assertEq(want.length, n, "one vector entry per operator");
        _game(m, id, k, 1, want[0]);
        _game(m, id, k, (n + 1) / 2, want[(n + 1) / 2 - 1]);
        _game(m, id, k, n, want[n - 1]);
    }

    /// A real game caught at (op, its last chunk): its rounds at both levels.
    function _game(SimModel m, uint256 id, uint16 k, uint32 op, uint256 wantOpRounds) internal {
        SimTrace honest = newTrace(m, 0, 0);
        SimTrace bad = newTrace(m, op, m.numChunks(op) - 1);
        uint256 rid = request(id);
        submit(rid, bad, submitter);
        uint256 gid = openGame(rid, honest, challenger);
        (uint256 opRounds, uint256 chunkRounds) = playToProof(gid, bad, honest);
        vm.assertEq(opRounds, wantOpRounds, "operator rounds");
        vm.assertEq(chunkRounds, _chunkRounds(k, m.numChunks(op)), "chunk rounds");
    }

    function test_binary() public {
        _check(7, 2, 1);
        _check(12, 2, 1);
    }

    function test_kAry() public {
        _check(12, 3, 1);
        _check(12, 4, 1);
        _check(12, 8, 1);
    }

    function test_groupsOfThree() public {
        _check(7, 2, 3);
        _check(12, 4, 3);
    }
}
