// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {vm} from "./utils/Vm.sol";
import {Fixture} from "./utils/Fixture.sol";
import {SimModel, SimTrace} from "./utils/Sim.sol";
import {FaultDisputeGame} from "../src/FaultDisputeGame.sol";
import {InferenceManager} from "../src/InferenceManager.sol";
import {Merkle} from "../src/lib/Merkle.sol";
import {Groth16Verifier} from "../src/Groth16Verifier.sol";

contract FaultDisputeGameTest is Fixture {
    SimModel internal m; // 7 ops, 5 chunks in the middle slots
    uint256 internal modelId;
    SimTrace internal honest;

    function setUp() public {
        deployAll();
        m = newSim(7, 5, "m7");
        modelId = register(m, params(2, 1));
        honest = newTrace(m, 0, 0);
    }

    /// Defender defective at (op, chunk), honest challenger: the game must end at exactly that
    /// operator and chunk, where the defender cannot prove its digest and the honest proof of the
    /// true digest makes it lose.
    function _defectCaught(uint32 op, uint32 chunk) internal {
        SimTrace bad = newTrace(m, op, chunk);
        uint256 rid = request(modelId);
        submit(rid, bad, submitter);
        uint256 gid = openGame(rid, honest, challenger);
        playToProof(gid, bad, honest);
        FaultDisputeGame.Game memory gm = game.getGame(gid);
        vm.assertEq(uint256(gm.phase), uint256(FaultDisputeGame.Phase.DefenderProof));
        vm.assertEq(gm.hi, op, "disputed op");
        vm.assertEq(gm.index, chunk, "disputed chunk");
        // the defender's digest is not what the circuit computes: no proof of it exists; the
        // true digest's proof (posted here by a stranger) makes the defender lose
        FaultDisputeGame.StepProof memory sp = honestProof(gid, m, honest);
        vm.assertTrue(bytes32(sp.outputDigest) != gm.defenderRoot, "digest differs");
        vm.prank(stranger);
        game.proveStep(gid, sp);
        vm.assertEq(uint256(outcome(gid)), uint256(FaultDisputeGame.Outcome.ChallengerWon));
        vm.assertEq(manager.credits(challenger), CH_BOND + SUB_BOND);
        vm.assertEq(uint256(manager.getRequest(rid).status), uint256(InferenceManager.Status.Open));
        assertBooks();
    }

    function test_defectAtFirstOp() public {
        _defectCaught(1, 0);
    }

    function test_defectAtMiddleOp_middleChunk() public {
        _defectCaught(4, 2);
    }

    function test_defectAtLastOp_lastChunk() public {
        _defectCaught(7, 2);
    }

    function test_defectFirstChunk() public {
        _defectCaught(3, 0);
    }

    function test_defectLastChunk() public {
        _defectCaught(3, 4);
    }

    /// Honest defender, wrong challenger: the defender proves its chunk and wins the bond.
    function test_wrongChallengerLoses() public {
        SimTrace bad = newTrace(m, 5, 1);
        uint256 rid = request(modelId);
        submit(rid, honest, submitter);
        uint256 gid = openGame(rid, bad, challenger);
        playToProof(gid, honest, bad);
        FaultDisputeGame.Game memory gm = game.getGame(gid);
        vm.assertEq(gm.hi, 5);
        vm.assertEq(gm.index, 1);
        vm.prank(submitter);
        game.proveStep(gid, honestProof(gid, m, honest));
        vm.assertEq(uint256(outcome(gid)), uint256(FaultDisputeGame.Outcome.DefenderWon));
        vm.assertEq(manager.credits(submitter), CH_BOND);
        vm.warp(block.timestamp + WINDOW + 1);
        manager.finalize(rid);
        vm.assertEq(manager.credits(submitter), CH_BOND + SUB_BOND + FEE);
        assertBooks();
    }
}
