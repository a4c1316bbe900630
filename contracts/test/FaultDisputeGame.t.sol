// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {vm} from "./utils/Vm.sol";
import {Fixture} from "./utils/Fixture.sol";
import {SimModel, SimTrace} from "./utils/Sim.sol";
import {FaultDisputeGame} from "../src/FaultDisputeGame.sol";
import {InferenceManager} from "../src/InferenceManager.sol";
import {Merkle} from "../src/lib/Merkle.sol";
import {Groth16Verifier} from "../src/Groth16Verifier.sol";
import {TensorMeta} from "../src/lib/Commitments.sol";

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
        // at the last op the defender's leaf is the keccak of its output chunk's packed bytes:
        // the true chunk's leaf differs from it
        if (op == m.n()) vm.assertTrue(harness.boundaryLeaf(sp.outputValues) != gm.defenderRoot, "leaf differs");
        vm.prank(stranger);
        game.proveStep(gid, sp);
        vm.assertEq(uint256(outcome(gid)), uint256(FaultDisputeGame.Outcome.ChallengerWon));
        vm.assertEq(manager.credits(challenger), CH_BOND + SUB_BOND / 2);
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
        finalizeAs(rid, stranger);
        vm.assertEq(manager.credits(submitter), CH_BOND + SUB_BOND + FEE);
        assertBooks();
    }

    // ------------------------------------------------------------------ padding leaves

    function test_paddingLeaf_wrongChallenger() public {
        SimTrace junk = newJunkTrace(m, 3);
        uint256 rid = request(modelId);
        submit(rid, honest, submitter);
        uint256 gid = openGame(rid, junk, challenger);
        playToProof(gid, honest, junk);
        FaultDisputeGame.Game memory gm = game.getGame(gid);
        vm.assertEq(gm.hi, 3);
        vm.assertEq(gm.index, 5); // first padding leaf of a 5-chunk tensor
        FaultDisputeGame.StepProof memory sp = honestProofAtPadding(gid);
        vm.expectRevert(FaultDisputeGame.IsPadding.selector);
        game.proveStep(gid, sp);
        game.resolvePadding(gid);
        vm.assertEq(uint256(outcome(gid)), uint256(FaultDisputeGame.Outcome.DefenderWon));
        assertBooks();
    }

    function honestProofAtPadding(uint256 gid) internal view returns (FaultDisputeGame.StepProof memory) {
        // any well-formed step proof: the padding check comes first
        FaultDisputeGame.Game memory gm = game.getGame(gid);
        return stepProofAt(m, honest, gm.hi, 0, honest.trueDigest(gm.hi, 0));
    }

    function test_paddingLeaf_wrongDefender() public {
        SimTrace junk = newJunkTrace(m, 3);
        uint256 rid = request(modelId);
        submit(rid, junk, submitter);
        uint256 gid = openGame(rid, honest, challenger);
        playToProof(gid, junk, honest);
        vm.assertEq(game.getGame(gid).index, 5);
        vm.prank(stranger);
        game.resolvePadding(gid);
        vm.assertEq(uint256(outcome(gid)), uint256(FaultDisputeGame.Outcome.ChallengerWon));
        assertBooks();
    }

    function test_resolvePadding_notPadding() public {
        SimTrace bad = newTrace(m, 2, 1);
        uint256 rid = request(modelId);
        submit(rid, bad, submitter);
        uint256 gid = openGame(rid, honest, challenger);
        playToProof(gid, bad, honest);
        vm.expectRevert(FaultDisputeGame.NotPadding.selector);
        game.resolvePadding(gid);
    }

    // ------------------------------------------------------------------ timeouts, wrong movers, late moves

    function _gameAt(FaultDisputeGame.Phase target) internal returns (uint256 gid, SimTrace bad) {
        bad = newTrace(m, 4, 3);
        uint256 rid = request(modelId);
        submit(rid, bad, submitter);
        gid = openGame(rid, honest, challenger);
        vm.warp(block.timestamp + 5);
        playUntil(gid, bad, honest, target);
    }

    function _defenderPhase(FaultDisputeGame.Phase ph) internal pure returns (bool) {
        return ph == FaultDisputeGame.Phase.DefenderRoots || ph == FaultDisputeGame.Phase.DefenderReveal
            || ph == FaultDisputeGame.Phase.DefenderNodes || ph == FaultDisputeGame.Phase.DefenderProof;
    }

    function _timeoutAt(FaultDisputeGame.Phase target) internal {
        (uint256 gid,) = _gameAt(target);
        bool defenderToMove = _defenderPhase(target);
        FaultDisputeGame.Game memory gm = game.getGame(gid);
        uint256 used = defenderToMove ? gm.defenderClock : gm.challengerClock;
        // exactly at the budget: not yet expired
        vm.warp(gm.lastMoveAt + (BUDGET - used));
        vm.expectRevert(FaultDisputeGame.NotExpired.selector);
        game.claimTimeout(gid);
        vm.warp(block.timestamp + 1);
        vm.prank(stranger);
        game.claimTimeout(gid);
        vm.assertEq(
            uint256(outcome(gid)),
            uint256(defenderToMove ? FaultDisputeGame.Outcome.ChallengerWon : FaultDisputeGame.Outcome.DefenderWon)
        );
        vm.assertEq(manager.credits(defenderToMove ? challenger : submitter), defenderToMove ? CH_BOND + SUB_BOND / 2 : CH_BOND);
        // a resolved game takes no more moves or claims
        vm.expectRevert(abi.encodeWithSelector(FaultDisputeGame.WrongPhase.selector, FaultDisputeGame.Phase.Resolved));
        game.claimTimeout(gid);
        assertBooks();
    }

    function test_timeout_defenderRoots() public {
        _timeoutAt(FaultDisputeGame.Phase.DefenderRoots);
    }

    function test_timeout_challengerRoots() public {
        _timeoutAt(FaultDisputeGame.Phase.ChallengerRoots);
    }

    function test_timeout_defenderReveal() public {
        _timeoutAt(FaultDisputeGame.Phase.DefenderReveal);
    }

    function test_timeout_challengerReveal() public {
        _timeoutAt(FaultDisputeGame.Phase.ChallengerReveal);
    }

    function test_timeout_defenderNodes() public {
        _timeoutAt(FaultDisputeGame.Phase.DefenderNodes);
    }

    function test_timeout_challengerNodes() public {
        _timeoutAt(FaultDisputeGame.Phase.ChallengerNodes);
    }

    function test_timeout_defenderProof() public {
        _timeoutAt(FaultDisputeGame.Phase.DefenderProof);
    }

    /// A move after the mover's clock ran out reverts (and the other side can then claim).
    function _lateMoveAt(FaultDisputeGame.Phase target) internal {
        (uint256 gid, SimTrace bad) = _gameAt(target);
        FaultDisputeGame.Game memory gm = game.getGame(gid);
        bool d = _defenderPhase(target);
        uint256 used = d ? gm.defenderClock : gm.challengerClock;
        vm.warp(gm.lastMoveAt + (BUDGET - used) + 1);
        expectMoveRevert(abi.encodeWithSelector(FaultDisputeGame.ClockExpired.selector));
        moveAs(gid, bad, honest, d ? submitter : challenger);
    }

    function test_lateMove_defenderRoots() public {
        _lateMoveAt(FaultDisputeGame.Phase.DefenderRoots);
    }

    function test_lateMove_challengerRoots() public {
        _lateMoveAt(FaultDisputeGame.Phase.ChallengerRoots);
    }

    function test_lateMove_defenderReveal() public {
        _lateMoveAt(FaultDisputeGame.Phase.DefenderReveal);
    }

    function test_lateMove_challengerReveal() public {
        _lateMoveAt(FaultDisputeGame.Phase.ChallengerReveal);
    }

    function test_lateMove_defenderNodes() public {
        _lateMoveAt(FaultDisputeGame.Phase.DefenderNodes);
    }

    function test_lateMove_challengerNodes() public {
        _lateMoveAt(FaultDisputeGame.Phase.ChallengerNodes);
    }

    /// The defender's own proof after its clock ran out does not count...
    function test_lateMove_defenderProof() public {
        SimTrace bad = newTrace(m, 4, 3);
        uint256 rid = request(modelId);
        submit(rid, honest, submitter);
        uint256 gid = openGame(rid, bad, challenger);
        playToProof(gid, honest, bad);
        FaultDisputeGame.Game memory gm = game.getGame(gid);
        vm.warp(gm.lastMoveAt + (BUDGET - gm.defenderClock) + 1);
        FaultDisputeGame.StepProof memory sp = honestProof(gid, m, honest);
        vm.prank(submitter);
        vm.expectRevert(FaultDisputeGame.ClockExpired.selector);
        game.proveStep(gid, sp);
        game.claimTimeout(gid);
        vm.assertEq(uint256(outcome(gid)), uint256(FaultDisputeGame.Outcome.ChallengerWon));
    }

    /// ...while a proof of another digest still ends the game against the defender.
    function test_otherDigestAfterDefenderClock() public {
        (uint256 gid,) = _gameAt(FaultDisputeGame.Phase.DefenderProof);
        vm.warp(block.timestamp + 1000);
        FaultDisputeGame.StepProof memory sp = honestProof(gid, m, honest);
        vm.prank(challenger);
        game.proveStep(gid, sp);
        vm.assertEq(uint256(outcome(gid)), uint256(FaultDisputeGame.Outcome.ChallengerWon));
    }

    function _wrongMoverAt(FaultDisputeGame.Phase target) internal {
        (uint256 gid, SimTrace bad) = _gameAt(target);
        bool d = _defenderPhase(target);
        expectMoveRevert(abi.encodeWithSelector(FaultDisputeGame.NotYourTurn.selector));
        moveAs(gid, bad, honest, d ? challenger : submitter);
        expectMoveRevert(abi.encodeWithSelector(FaultDisputeGame.NotYourTurn.selector));
        moveAs(gid, bad, honest, stranger);
        // and the right mover can still move
        moveAs(gid, bad, honest, d ? submitter : challenger);
    }

    function test_wrongMover_defenderRoots() public {
        _wrongMoverAt(FaultDisputeGame.Phase.DefenderRoots);
    }

    function test_wrongMover_challengerRoots() public {
        _wrongMoverAt(FaultDisputeGame.Phase.ChallengerRoots);
    }

    function test_wrongMover_defenderReveal() public {
        _wrongMoverAt(FaultDisputeGame.Phase.DefenderReveal);
    }

    function test_wrongMover_challengerReveal() public {
        _wrongMoverAt(FaultDisputeGame.Phase.ChallengerReveal);
    }

    function test_wrongMover_defenderNodes() public {
        _wrongMoverAt(FaultDisputeGame.Phase.DefenderNodes);
    }

    function test_wrongMover_challengerNodes() public {
        _wrongMoverAt(FaultDisputeGame.Phase.ChallengerNodes);
    }

    /// A move of another phase is refused.
    function test_outOfPhaseMoves() public {
        (uint256 gid,) = _gameAt(FaultDisputeGame.Phase.DefenderRoots);
        bytes32[] memory none = new bytes32[](1);
        vm.prank(submitter);
        vm.expectRevert(abi.encodeWithSelector(FaultDisputeGame.WrongPhase.selector, FaultDisputeGame.Phase.DefenderRoots));
        game.postNodes(gid, none);
        vm.prank(challenger);
        vm.expectRevert(abi.encodeWithSelector(FaultDisputeGame.WrongPhase.selector, FaultDisputeGame.Phase.DefenderRoots));
        game.postCounterRoots(gid, none, none);
        vm.expectRevert(abi.encodeWithSelector(FaultDisputeGame.WrongPhase.selector, FaultDisputeGame.Phase.DefenderRoots));
        game.resolvePadding(gid);
    }

    // ------------------------------------------------------------------ malformed moves

    function test_badRootsLength() public {
        (uint256 gid,) = _gameAt(FaultDisputeGame.Phase.DefenderRoots);
        bytes32[] memory two = new bytes32[](2);
        vm.prank(submitter);
        vm.expectRevert(FaultDisputeGame.BadLength.selector);
        game.postRoots(gid, two);
    }

    function test_challengerMisquotesDefenderRoots() public {
        (uint256 gid,) = _gameAt(FaultDisputeGame.Phase.ChallengerRoots);
        bytes32[] memory dr = defenderRootsFor(gid, honest); // not what the (bad) defender posted... same here
        dr[0] = bytes32(uint256(dr[0]) ^ 1);
        bytes32[] memory cr = honest.stateRoots(game.positions(gid));
        vm.prank(challenger);
        vm.expectRevert(FaultDisputeGame.RootsMismatch.selector);
        game.postCounterRoots(gid, dr, cr);
    }

    function test_nodesThatDoNotHashToTheNode() public {
        (uint256 gid, SimTrace bad) = _gameAt(FaultDisputeGame.Phase.DefenderNodes);
        bytes32[] memory nodes = nodesFor(gid, bad);
        nodes[1] = bytes32(uint256(nodes[1]) ^ 1);
        vm.prank(submitter);
        vm.expectRevert(FaultDisputeGame.BadNodes.selector);
        game.postNodes(gid, nodes);
    }

    function test_challengerNodesThatDoNotHash() public {
        (uint256 gid, SimTrace bad) = _gameAt(FaultDisputeGame.Phase.ChallengerNodes);
        bytes32[] memory dn = nodesFor(gid, bad);
        bytes32[] memory cn = nodesFor(gid, honest);
        cn[0] = bytes32(uint256(cn[0]) ^ 1);
        vm.prank(challenger);
        vm.expectRevert(FaultDisputeGame.BadNodes.selector);
        game.postCounterNodes(gid, dn, cn);
    }

    // ------------------------------------------------------------------ Merkle paths for the wrong slot

    function test_revealWithMetaPathOfAnotherSlot() public {
        (uint256 gid, SimTrace bad) = _gameAt(FaultDisputeGame.Phase.DefenderReveal);
        uint32 op = game.getGame(gid).hi;
        bytes32 cr = bad.chunksRoot(op);
        bytes32[] memory mp = m.metaPath(op - 1);
        bytes32[] memory sib = bad.statePath(op, op);
        TensorMeta memory meta = m.meta(op);
        vm.prank(submitter);
        vm.expectRevert(FaultDisputeGame.BadMetaProof.selector);
        game.revealTensor(gid, meta, cr, mp, sib);
    }

    function test_revealWithWrongGeometry() public {
        (uint256 gid, SimTrace bad) = _gameAt(FaultDisputeGame.Phase.DefenderReveal);
        uint32 op = game.getGame(gid).hi;
        bytes32 cr = bad.chunksRoot(op);
        bytes32[] memory mp = m.metaPath(op);
        bytes32[] memory sib = bad.statePath(op, op);
        TensorMeta memory meta = m.meta(m.n()); // the output's geometry (10 values), not slot op's
        vm.prank(submitter);
        vm.expectRevert(FaultDisputeGame.BadMetaProof.selector);
        game.revealTensor(gid, meta, cr, mp, sib);
    }

    function test_revealWithSiblingsOfAnotherSlot() public {
        (uint256 gid, SimTrace bad) = _gameAt(FaultDisputeGame.Phase.DefenderReveal);
        uint32 op = game.getGame(gid).hi;
        bytes32 cr = bad.chunksRoot(op);
        bytes32[] memory mp = m.metaPath(op);
        bytes32[] memory sib = bad.statePath(op, op - 1);
        TensorMeta memory meta = m.meta(op);
        vm.prank(submitter);
        vm.expectRevert(FaultDisputeGame.BadUpdateProof.selector);
        game.revealTensor(gid, meta, cr, mp, sib);
    }

    function test_revealOfAnotherTensor() public {
        (uint256 gid, SimTrace bad) = _gameAt(FaultDisputeGame.Phase.DefenderReveal);
        uint32 op = game.getGame(gid).hi;
        bytes32 cr = honest.chunksRoot(op); // the right tensor, but not the defender's root(i)
        bytes32[] memory mp = m.metaPath(op);
        bytes32[] memory sib = bad.statePath(op, op);
        TensorMeta memory meta = m.meta(op);
        vm.prank(submitter);
        vm.expectRevert(FaultDisputeGame.BadUpdateProof.selector);
        game.revealTensor(gid, meta, cr, mp, sib);
    }

    function test_challengerRevealWithWrongSiblings() public {
        (uint256 gid,) = _gameAt(FaultDisputeGame.Phase.ChallengerReveal);
        uint32 op = game.getGame(gid).hi;
        bytes32 cr = honest.chunksRoot(op);
        bytes32[] memory sib = honest.statePath(op, op);
        sib[0] = bytes32(uint256(sib[0]) ^ 1);
        vm.prank(challenger);
        vm.expectRevert(FaultDisputeGame.BadUpdateProof.selector);
        game.revealCounterTensor(gid, cr, sib);
    }

    function _proofPhase() internal returns (uint256 gid) {
        (gid,) = _gameAt(FaultDisputeGame.Phase.DefenderProof);
    }

    function test_inputOpenedAtWrongSlot() public {
        uint256 gid = _proofPhase();
        FaultDisputeGame.StepProof memory sp = honestProof(gid, m, honest);
        uint32 op = game.getGame(gid).hi;
        // state path of slot op-2 presented for slot op-1
        sp.inputs[0].statePath = honest.statePath(op - 1, op - 2);
        vm.expectRevert(abi.encodeWithSelector(FaultDisputeGame.BadInputOpening.selector, 0));
        game.proveStep(gid, sp);
    }

    function test_inputOpenedAtWrongChunk() public {
        uint256 gid = _proofPhase();
        FaultDisputeGame.StepProof memory sp = honestProof(gid, m, honest);
        uint32 op = game.getGame(gid).hi;
        uint32 c = uint32(sp.inputChunks[0]);
        sp.inputs[0].chunkPath = honest.chunkPath(op - 1, c == 0 ? 1 : c - 1);
        vm.expectRevert(abi.encodeWithSelector(FaultDisputeGame.BadInputOpening.selector, 0));
        game.proveStep(gid, sp);
    }

    function test_inputOpenedAgainstDisputedState() public {
        // input digests from the state after op i (not the agreed root(i-1)) are refused
        uint256 gid = _proofPhase();
        FaultDisputeGame.StepProof memory sp = honestProof(gid, m, honest);
        uint32 op = game.getGame(gid).hi;
        sp.inputs[1].statePath = honest.statePath(op, 0);
        vm.expectRevert(abi.encodeWithSelector(FaultDisputeGame.BadInputOpening.selector, 1));
        game.proveStep(gid, sp);
    }

    function test_circuitLeafWithWrongPath() public {
        uint256 gid = _proofPhase();
        FaultDisputeGame.StepProof memory sp = honestProof(gid, m, honest);
        sp.leafIndex += 1;
        vm.expectRevert(FaultDisputeGame.BadCircuitLeaf.selector);
        game.proveStep(gid, sp);
    }

    // ------------------------------------------------------------------ misplaced and replayed proofs

    function test_proofForAnotherOperator() public {
        uint256 gid = _proofPhase();
        FaultDisputeGame.Game memory gm = game.getGame(gid);
        // a valid proof, with its own circuit leaf, of op i-1 (same chunk)
        FaultDisputeGame.StepProof memory sp =
            stepProofAt(m, honest, gm.hi - 1, gm.index, honest.trueDigest(gm.hi - 1, gm.index));
        vm.expectRevert(FaultDisputeGame.BadCircuitLeaf.selector);
        game.proveStep(gid, sp);
        // the right leaf but the other operator's verifying key and proof
        FaultDisputeGame.StepProof memory right = honestProof(gid, m, honest);
        right.proof = sp.proof;
        vm.expectRevert(Groth16Verifier.ProofInvalid.selector);
        game.proveStep(gid, right);
    }

    function test_proofForAnotherChunk() public {
        uint256 gid = _proofPhase();
        FaultDisputeGame.Game memory gm = game.getGame(gid);
        uint32 other = gm.index == 0 ? 1 : gm.index - 1;
        FaultDisputeGame.StepProof memory sp = stepProofAt(m, honest, gm.hi, other, honest.trueDigest(gm.hi, other));
        vm.expectRevert(FaultDisputeGame.BadCircuitLeaf.selector);
        game.proveStep(gid, sp);
        FaultDisputeGame.StepProof memory right = honestProof(gid, m, honest);
        right.proof = sp.proof;
        vm.expectRevert(Groth16Verifier.ProofInvalid.selector);
        game.proveStep(gid, right);
    }

    function test_proofForAnotherModel() public {
        SimModel other = newSim(7, 5, "other");
        register(other, params(2, 1));
        uint256 gid = _proofPhase();
        FaultDisputeGame.Game memory gm = game.getGame(gid);
        // the other model's circuit for the same (op, chunk): not in this model's table
        FaultDisputeGame.StepProof memory sp = stepProofAt(other, honest, gm.hi, gm.index, honest.trueDigest(gm.hi, gm.index));
        vm.expectRevert(FaultDisputeGame.BadCircuitLeaf.selector);
        game.proveStep(gid, sp);
        FaultDisputeGame.StepProof memory right = honestProof(gid, m, honest);
        right.proof = sp.proof;
        vm.expectRevert(Groth16Verifier.ProofInvalid.selector);
        game.proveStep(gid, right);
    }

    function test_replayedProof() public {
        // game A ends with a proof; replaying it in A, or in game B (another request, another
        // disputed chunk), does nothing
        uint256 gidA = _proofPhase();
        FaultDisputeGame.StepProof memory sp = honestProof(gidA, m, honest);
        game.proveStep(gidA, sp);
        vm.expectRevert(abi.encodeWithSelector(FaultDisputeGame.WrongPhase.selector, FaultDisputeGame.Phase.Resolved));
        game.proveStep(gidA, sp);

        SimTrace bad = newTrace(m, 4, 1);
        uint256 rid = request(modelId);
        submit(rid, bad, submitter);
        uint256 gidB = openGame(rid, honest, challenger);
        playToProof(gidB, bad, honest);
        vm.assertEq(game.getGame(gidB).index, 1);
        vm.expectRevert(FaultDisputeGame.BadCircuitLeaf.selector);
        game.proveStep(gidB, sp);
    }

    function test_outputDigestNotInField() public {
        uint256 gid = _proofPhase();
        FaultDisputeGame.StepProof memory sp = honestProof(gid, m, honest);
        sp.outputDigest += 21888242871839275222246405745257275088548364400416034343698204186575808495617;
        vm.expectRevert(abi.encodeWithSelector(Groth16Verifier.PublicInputNotInField.selector, 2));
        game.proveStep(gid, sp);
    }

    function test_forgedDigestProofRejected() public {
        // a proof that does not verify (an honest proof's C point moved) never settles anything
        uint256 gid = _proofPhase();
        FaultDisputeGame.StepProof memory sp = honestProof(gid, m, honest);
        sp.outputDigest = uint256(game.getGame(gid).defenderRoot);
        vm.expectRevert(Groth16Verifier.ProofInvalid.selector);
        game.proveStep(gid, sp);
    }
}
