// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {vm} from "./utils/Vm.sol";
import {Fixture} from "./utils/Fixture.sol";
import {SimModel, SimTrace} from "./utils/Sim.sol";
import {FaultDisputeGame} from "../src/FaultDisputeGame.sol";
import {InferenceManager} from "../src/InferenceManager.sol";

/// Dissection with other arities and group sizes, tiny models, and concurrent games.
contract DissectionTest is Fixture {
    function setUp() public {
        deployAll();
    }

    function _caught(SimModel m, uint256 modelId, uint32 op, uint32 chunk) internal returns (uint256 gid) {
        SimTrace honest = newTrace(m, 0, 0);
        SimTrace bad = newTrace(m, op, chunk);
        uint256 rid = request(modelId);
        submit(rid, bad, submitter);
        gid = openGame(rid, honest, challenger);
        playToProof(gid, bad, honest);
        FaultDisputeGame.Game memory gm = game.getGame(gid);
        vm.assertEq(gm.hi, op, "op");
        vm.assertEq(gm.lo, op - 1, "lo");
        vm.assertEq(gm.index, chunk, "chunk");
        game.proveStep(gid, honestProof(gid, m, honest));
        vm.assertEq(uint256(outcome(gid)), uint256(FaultDisputeGame.Outcome.ChallengerWon));
        assertBooks();
    }

    function test_quaternary() public {
        SimModel m = newSim(13, 7, "k4");
        uint256 id = register(m, params(4, 1));
        _caught(m, id, 1, 0);
        _caught(m, id, 9, 6);
        _caught(m, id, 13, 2);
    }

    function test_ternary() public {
        SimModel m = newSim(10, 5, "k3");
        uint256 id = register(m, params(3, 1));
        _caught(m, id, 6, 4);
        _caught(m, id, 10, 1);
    }

    function test_octary_chunkLevelTakesThreeLevels() public {
        SimModel m = newSim(9, 8, "k8");
        uint256 id = register(m, params(8, 1));
        _caught(m, id, 5, 7);
    }

    /// N = 3: a segment of <= 3 operators is split into single operators in one round.
    function test_groupOfN() public {
        SimModel m = newSim(12, 3, "n3");
        uint256 id = register(m, params(2, 3));
        _caught(m, id, 7, 1);
        _caught(m, id, 12, 0);
        _caught(m, id, 1, 2);
    }

    /// N >= n: one round of n-1 roots picks the operator.
    function test_groupCoversWholeModel() public {
        SimModel m = newSim(6, 2, "nall");
        uint256 id = register(m, params(2, 16));
        uint256 gid = _caught(m, id, 4, 1);
        vm.assertEq(gid, 0);
    }

    function test_singleOperatorModel() public {
        SimModel m = newSim(1, 2, "one");
        uint256 id = register(m, params(2, 1));
        _caught(m, id, 1, 2);
    }

    function test_twoOperatorModel() public {
        SimModel m = newSim(2, 2, "two");
        uint256 id = register(m, params(2, 1));
        _caught(m, id, 1, 1);
        _caught(m, id, 2, 0);
    }

    /// forge-config: default.fuzz.runs = 40
    /// Fuzz: any defect position is found, for any arity 2..6 and group 1..4.
    function testFuzz_defectFound(uint256 a, uint256 nGroup, uint256 opSeed, uint256 chunkSeed) public {
        uint16 k = uint16(bound(a, 2, 6));
        uint16 g = uint16(bound(nGroup, 1, 4));
        SimModel m = newSim(9, 3, keccak256(abi.encode(k, g)));
        uint256 id = register(m, params(k, g));
        uint32 op = uint32(bound(opSeed, 1, 9));
        uint32 chunk = uint32(bound(chunkSeed, 0, m.numChunks(op) - 1));
        _caught(m, id, op, chunk);
    }

    // ------------------------------------------------------------------ several games on one result

    function test_twoChallengers_bothPaid() public {
        SimModel m = newSim(7, 3, "multi");
        uint256 id = register(m, params(2, 1));
        SimTrace honest = newTrace(m, 0, 0);
        SimTrace bad = newTrace(m, 3, 1);
        uint256 rid = request(id);
        submit(rid, bad, submitter);
        uint256 g1 = openGame(rid, honest, challenger);
        uint256 g2 = openGame(rid, honest, challenger2);
        vm.assertEq(manager.getRequest(rid).activeGames, 2);
        playToProof(g1, bad, honest);
        // the result cannot be finalised while games run, even after the window
        vm.warp(block.timestamp + WINDOW + 1);
        expectMoveRevert(abi.encodeWithSelector(InferenceManager.GamesRunning.selector));
        finalizeAs(rid, stranger);
        game.proveStep(g1, honestProof(g1, m, honest));
        vm.assertEq(uint256(manager.getRequest(rid).status), uint256(InferenceManager.Status.Open));
        // half the bond is burned, the other half split between the two games that were running
        vm.assertEq(manager.totalBurned(), SUB_BOND / 2);
        vm.assertEq(manager.credits(challenger), CH_BOND + SUB_BOND / 4);
        (uint32 left, uint96 share) = manager.rejections(rid, 1);
        vm.assertEq(uint256(left), 1);
        vm.assertEq(uint256(share), SUB_BOND / 4);
        // g2 goes on to its end: the defender ran out of time, challenger2 wins and is paid its share
        game.claimTimeout(g2);
        vm.assertEq(uint256(outcome(g2)), uint256(FaultDisputeGame.Outcome.ChallengerWon));
        vm.assertEq(manager.credits(challenger2), CH_BOND + SUB_BOND / 4);
        (left,) = manager.rejections(rid, 1);
        vm.assertEq(uint256(left), 0);
        vm.assertEq(manager.credits(submitter), 0);
        vm.assertEq(manager.totalEscrow(), FEE);
        assertBooks();
    }

    function test_gamesAfterARejectionPlayToTheEnd() public {
        // games on a result rejected meanwhile still end by the rules: a challenger that wins is
        // paid its share; one that loses (here: on time) has its bond and share burned
        SimModel m = newSim(5, 3, "void");
        uint256 id = register(m, params(2, 1));
        SimTrace honest = newTrace(m, 0, 0);
        SimTrace bad = newTrace(m, 2, 0);
        uint256 rid = request(id);
        submit(rid, bad, submitter);
        uint256 g1 = openGame(rid, honest, challenger);
        SimTrace other = newTrace(m, 1, 0);
        uint256 g2 = openGame(rid, other, challenger2);
        address third = address(0xC6);
        vm.deal(third, 10 ether);
        uint256 g3 = openGame(rid, honest, third);
        playToProof(g1, bad, honest);
        game.proveStep(g1, honestProof(g1, m, honest));
        uint256 share = (SUB_BOND / 2) / 3;
        vm.assertEq(manager.credits(challenger), CH_BOND + share);
        // g2: the defender moves, then challenger2 runs out of time
        moveDefenderRoots(g2, bad, submitter);
        vm.warp(block.timestamp + BUDGET + 1);
        game.claimTimeout(g2);
        vm.assertEq(uint256(outcome(g2)), uint256(FaultDisputeGame.Outcome.DefenderWon));
        vm.assertEq(manager.credits(challenger2), 0);
        vm.assertEq(manager.credits(submitter), 0, "nothing flows back to a rejected submitter");
        // g3: the defender never moved: it lost on time
        game.claimTimeout(g3);
        vm.assertEq(uint256(outcome(g3)), uint256(FaultDisputeGame.Outcome.ChallengerWon));
        vm.assertEq(manager.credits(third), CH_BOND + share);
        vm.assertEq(manager.totalBurned(), SUB_BOND - 2 * share + CH_BOND);
        assertBooks();
    }

    function test_defenderWinsOneGameThenLosesAnother() public {
        SimModel m = newSim(6, 3, "mix");
        uint256 id = register(m, params(2, 1));
        SimTrace honest = newTrace(m, 0, 0);
        SimTrace bad = newTrace(m, 4, 2);
        SimTrace worse = newTrace(m, 2, 1);
        uint256 rid = request(id);
        submit(rid, bad, submitter);
        // a colluding challenger steers to a step where the defender is right (op 2: bad == honest there)
        uint256 g1 = openGame(rid, worse, challenger2);
        playAs(g1, bad, worse, submitter, challenger2);
        game.proveStep(g1, honestProof(g1, m, bad));
        vm.assertEq(uint256(outcome(g1)), uint256(FaultDisputeGame.Outcome.DefenderWon));
        // ...but the result is not final: an honest challenger still wins its own game
        uint256 g2 = openGame(rid, honest, challenger);
        playToProof(g2, bad, honest);
        game.proveStep(g2, honestProof(g2, m, honest));
        vm.assertEq(uint256(outcome(g2)), uint256(FaultDisputeGame.Outcome.ChallengerWon));
        vm.assertEq(manager.credits(submitter), CH_BOND); // it kept the colluder's bond
        vm.assertEq(manager.credits(challenger), CH_BOND + SUB_BOND / 2); // the only game running then
        vm.assertEq(manager.totalBurned(), SUB_BOND / 2);
        assertBooks();
    }
}
