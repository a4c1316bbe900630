// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {vm, Vm} from "./utils/Vm.sol";
import {Fixture} from "./utils/Fixture.sol";
import {SimModel, SimTrace, Packed} from "./utils/Sim.sol";
import {InferenceManager} from "../src/InferenceManager.sol";
import {FaultDisputeGame} from "../src/FaultDisputeGame.sol";
import {ModelRegistry, DisputeParams} from "../src/ModelRegistry.sol";
import {IFaultDisputeGame} from "../src/interfaces/IFaultDisputeGame.sol";
import {Commitments} from "../src/lib/Commitments.sol";

/// Receives its payout and tries to re-enter withdraw() (and to double-collect).
contract Reenterer {
    InferenceManager internal immutable mgr;
    uint256 public reentries;
    uint256 public blocked;

    constructor(InferenceManager m) {
        mgr = m;
    }

    function requestAndLeave(uint256 modelId, bytes calldata input, uint64 deadline) external payable returns (uint256) {
        return mgr.requestInference{value: msg.value}(modelId, input, deadline);
    }

    function pull() external {
        mgr.withdraw();
    }

    receive() external payable {
        reentries++;
        try mgr.withdraw() {} catch (bytes memory err) {
            if (bytes4(err) == InferenceManager.Reentrancy.selector) blocked++;
        }
    }
}

contract RejectsEther {
    function pull(InferenceManager m) external {
        m.withdraw();
    }
}

contract InferenceManagerTest is Fixture {
    SimModel internal m;
    uint256 internal modelId;
    SimTrace internal honest;

    function setUp() public {
        deployAll();
        m = newSim(5, 3, "mgr");
        modelId = register(m, params(2, 1));
        honest = newTrace(m, 0, 0);
    }

    function test_honestPath() public {
        uint256 rid = request(modelId);
        InferenceManager.RequestState memory st = manager.getRequest(rid);
        vm.assertEq(uint256(st.status), uint256(InferenceManager.Status.Open));
        vm.assertEq(st.modelId, modelId);
        vm.assertEq(rqRec(rid).inputRoot, honest.tensorRoot(0), "the input's keccak tensor root");
        vm.assertEq(manager.requestHash(rid), keccak256(abi.encode(rqRec(rid))), "the record's hash is stored");
        submit(rid, honest, submitter);
        InferenceManager.ResultRecord memory res = resRec(rid);
        vm.assertEq(res.outputRoot, honest.tensorRoot(m.n()));
        bytes memory out = honest.packedOutput();
        vm.expectRevert(InferenceManager.NotFinal.selector);
        manager.finalOutput(rid, res, out);
        uint64 dl = manager.getRequest(rid).challengeDeadline;
        vm.warp(dl);
        expectMoveRevert(abi.encodeWithSelector(InferenceManager.TooEarly.selector));
        finalizeAs(rid, stranger);
        vm.warp(dl + 1);
        finalizeAs(rid, stranger);
        int32[] memory got = manager.finalOutput(rid, res, out);
        int32[] memory want = honest.getOutput();
        vm.assertEq(got.length, want.length);
        for (uint256 i = 0; i < got.length; ++i) vm.assertEq(int256(got[i]), int256(want[i]));
        vm.assertEq(manager.credits(submitter), FEE + SUB_BOND);
        uint256 before = submitter.balance;
        vm.prank(submitter);
        manager.withdraw();
        vm.assertEq(submitter.balance, before + FEE + SUB_BOND);
        vm.assertEq(address(manager).balance, 0);
        expectMoveRevert(
            abi.encodeWithSelector(InferenceManager.WrongStatus.selector, InferenceManager.Status.Finalized)
        );
        finalizeAs(rid, stranger);
        assertBooks();
    }

    /// The game of a request starts from the state root of its input: the keccak tensor root the
    /// request computed from the packed bytes, at leaf 0.
    function test_challengeStartsFromTheInputRoot() public {
        SimTrace bad = newTrace(m, 2, 0);
        uint256 rid = request(modelId);
        submit(rid, bad, submitter);
        uint256 gid = openGame(rid, honest, challenger);
        vm.assertEq(game.getGame(gid).agreedRoot, honest.stateRoot(0), "stateRoot(0)");
        vm.assertEq(game.getGame(gid).defender, submitter);
    }

    function test_requestByRoot() public {
        bytes32 chunksRoot = honest.chunksRoot(0);
        vm.prank(requester);
        uint256 rid = manager.requestInferenceByRoot{value: FEE}(
            modelId, chunksRoot, "bafkreiinput", uint64(block.timestamp + 10)
        );
        noteRequest(rid, requester, FEE, honest.tensorRoot(0));
        vm.assertEq(manager.requestHash(rid), keccak256(abi.encode(rqRec(rid))), "bound to the registered geometry");
        submit(rid, honest, submitter);
        vm.assertEq(uint256(manager.getRequest(rid).status), uint256(InferenceManager.Status.Submitted));
        uint256 gid = openGame(rid, newTrace(m, 1, 0), challenger);
        vm.assertEq(game.getGame(gid).agreedRoot, honest.stateRoot(0));
    }

    function test_requestChecks() public {
        bytes memory input = Packed.pack(simInput());
        vm.startPrank(requester);
        // a request by root names where its input is (an empty CID would read as an inline one)
        vm.expectRevert(InferenceManager.NoInputCid.selector);
        manager.requestInferenceByRoot{value: FEE}(modelId, keccak256("root"), "", uint64(block.timestamp + 5));
        vm.expectRevert(InferenceManager.BadDeadline.selector);
        manager.requestInference{value: FEE}(modelId, input, uint64(block.timestamp));
        vm.expectRevert(InferenceManager.BadDeadline.selector);
        manager.requestInference{value: FEE}(modelId, input, type(uint64).max);
        vm.expectRevert(abi.encodeWithSelector(Commitments.BadLength.selector, 20, 24));
        manager.requestInference{value: FEE}(modelId, Packed.pack(new int32[](5)), uint64(block.timestamp + 5));
        vm.expectRevert(abi.encodeWithSelector(Commitments.BadLength.selector, 25, 24));
        manager.requestInference{value: FEE}(modelId, abi.encodePacked(input, uint8(1)), uint64(block.timestamp + 5));
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.UnknownModel.selector, 9));
        manager.requestInference{value: FEE}(9, input, uint64(block.timestamp + 5));
        vm.expectRevert(InferenceManager.FeeTooLarge.selector);
        manager.requestInference{value: SUB_BOND / 2}(modelId, input, uint64(block.timestamp + 5));
        vm.stopPrank();
        registry.setActive(modelId, false);
        vm.prank(requester);
        vm.expectRevert(InferenceManager.ModelInactive.selector);
        manager.requestInference{value: FEE}(modelId, input, uint64(block.timestamp + 5));
        vm.expectRevert(abi.encodeWithSelector(InferenceManager.UnknownRequest.selector, 0));
        manager.getRequest(0);
    }

    /// An account's inline input is in its transaction's calldata; a contract's call is not in
    /// any calldata, so the manager logs it (InferenceInput).
    function test_inlineInputOfAContractIsLogged() public {
        bytes memory input = Packed.pack(simInput());
        vm.recordLogs();
        vm.prank(requester, requester);
        manager.requestInference{value: FEE}(modelId, input, uint64(block.timestamp + 5));
        vm.assertEq(_inputLogs(), 0, "an account's call: no copy");
        Reenterer r = new Reenterer(manager);
        vm.deal(address(r), 1 ether);
        vm.recordLogs();
        r.requestAndLeave{value: FEE}(modelId, input, uint64(block.timestamp + 5));
        vm.assertEq(_inputLogs(), 1, "a contract's call: the input is logged");
    }

    function _inputLogs() internal returns (uint256 count) {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i = 0; i < logs.length; ++i) {
            if (logs[i].topics[0] == InferenceManager.InferenceInput.selector) {
                (bytes memory data) = abi.decode(logs[i].data, (bytes));
                vm.assertEq(keccak256(data), keccak256(Packed.pack(simInput())));
                ++count;
            }
        }
    }

    function test_submitChecks() public {
        uint256 rid = request(modelId);
        uint32 n = m.n();
        bytes memory out = honest.packedOutput();
        bytes32 root = honest.stateRoot(n);
        bytes32 outRoot = honest.tensorRoot(n);
        bytes32[] memory path = honest.statePath(n, n);
        // no commitment in an earlier block
        vm.prank(submitter);
        vm.expectRevert(InferenceManager.NoCommitment.selector);
        manager.submitResult{value: SUB_BOND}(rid, root, outRoot, path, out);
        vm.prank(submitter);
        manager.commitResult(manager.resultCommitment(rid, root, submitter));
        vm.prank(submitter);
        vm.expectRevert(InferenceManager.NoCommitment.selector); // same block
        manager.submitResult{value: SUB_BOND}(rid, root, outRoot, path, out);
        vm.roll(block.number + 1);
        vm.startPrank(submitter);
        vm.expectRevert(abi.encodeWithSelector(InferenceManager.WrongBond.selector, SUB_BOND - 1, SUB_BOND));
        manager.submitResult{value: SUB_BOND - 1}(rid, root, outRoot, path, out);
        // an output root that is not slot n of the defended trace: another slot's root
        bytes32 otherRoot = honest.tensorRoot(n - 1);
        vm.expectRevert(InferenceManager.BadOutputPath.selector);
        manager.submitResult{value: SUB_BOND}(rid, root, otherRoot, path, out);
        // inline output bytes that are not that output
        bytes memory wrong = bytes.concat(out);
        wrong[7] ^= 0x01;
        vm.expectRevert(InferenceManager.BadOutput.selector);
        manager.submitResult{value: SUB_BOND}(rid, root, outRoot, path, wrong);
        vm.expectRevert(abi.encodeWithSelector(Commitments.BadLength.selector, out.length - 4, out.length));
        manager.submitResult{value: SUB_BOND}(rid, root, outRoot, path, _prefix(out, out.length - 4));
        // a path for another slot
        bytes32[] memory other = honest.statePath(n, n - 1);
        vm.expectRevert(InferenceManager.BadOutputPath.selector);
        manager.submitResult{value: SUB_BOND}(rid, root, outRoot, other, out);
        // a path of the wrong depth
        bytes32[] memory shortPath = new bytes32[](path.length - 1);
        vm.expectRevert(InferenceManager.BadOutputPath.selector);
        manager.submitResult{value: SUB_BOND}(rid, root, outRoot, shortPath, out);
        // the output may be left out: its root is bound all the same
        manager.submitResult{value: SUB_BOND}(rid, root, outRoot, path, "");
        vm.expectRevert(
            abi.encodeWithSelector(InferenceManager.WrongStatus.selector, InferenceManager.Status.Submitted)
        );
        manager.submitResult{value: SUB_BOND}(rid, root, outRoot, path, out);
        vm.stopPrank();
        resRecs[rid] = InferenceManager.ResultRecord(submitter, SUB_BOND, root, outRoot);
        // a final output is read with the bytes of its root, and with no other
        vm.warp(manager.getRequest(rid).challengeDeadline + 1);
        finalizeAs(rid, stranger);
        vm.assertEq(manager.finalOutput(rid, resRec(rid), out).length, 10);
        vm.expectRevert(InferenceManager.BadOutput.selector);
        manager.finalOutput(rid, resRec(rid), wrong);
        InferenceManager.ResultRecord memory forged = resRec(rid);
        forged.outputRoot = otherRoot;
        vm.expectRevert(InferenceManager.WrongRecord.selector);
        manager.finalOutput(rid, forged, out);
        assertBooks();
    }

    function _prefix(bytes memory b, uint256 len) internal pure returns (bytes memory p) {
        p = new bytes(len);
        for (uint256 i = 0; i < len; ++i) p[i] = b[i];
    }

    function test_submitAfterDeadline() public {
        uint256 rid = request(modelId);
        vm.warp(manager.getRequest(rid).deadline + 1);
        uint32 n = m.n();
        bytes32 root = honest.stateRoot(n);
        bytes32[] memory path = honest.statePath(n, n);
        bytes32 outRoot = honest.tensorRoot(n);
        vm.prank(submitter);
        vm.expectRevert(InferenceManager.DeadlinePassed.selector);
        manager.submitResult{value: SUB_BOND}(rid, root, outRoot, path, "");
    }

    /// The records passed to finalize, refund and challenge are the ones the request and the
    /// result were made with, field by field: a forged fee, bond, payee or root is refused.
    function test_forgedRecordsAreRefused() public {
        uint256 rid = request(modelId);
        // refund with an inflated fee, or to another requester
        vm.warp(manager.getRequest(rid).deadline + 1);
        InferenceManager.RequestRecord memory rq = rqRec(rid);
        rq.fee = FEE + 1;
        vm.expectRevert(InferenceManager.WrongRecord.selector);
        manager.refund(rid, rq);
        rq = rqRec(rid);
        rq.requester = stranger;
        vm.expectRevert(InferenceManager.WrongRecord.selector);
        manager.refund(rid, rq);

        uint256 rid2 = request(modelId);
        SimTrace bad = newTrace(m, 2, 1);
        submit(rid2, bad, submitter);
        InferenceManager.ResultRecord memory res = resRec(rid2);
        // a challenge on a forged input root (a game from another start) or final root
        rq = rqRec(rid2);
        rq.inputRoot = keccak256("other input");
        bytes32 honestRoot = honest.stateRoot(m.n());
        vm.prank(challenger);
        vm.expectRevert(InferenceManager.WrongRecord.selector);
        manager.challenge{value: CH_BOND}(rid2, rq, res, honestRoot);
        res.finalRoot = honestRoot;
        vm.prank(challenger);
        vm.expectRevert(InferenceManager.WrongRecord.selector);
        manager.challenge{value: CH_BOND}(rid2, rqRec(rid2), res, keccak256("x"));
        // finalize paying a bigger bond, or to another payee
        vm.warp(manager.getRequest(rid2).challengeDeadline + 1);
        res = resRec(rid2);
        res.bond = SUB_BOND + FEE;
        vm.expectRevert(InferenceManager.WrongRecord.selector);
        manager.finalize(rid2, rqRec(rid2), res);
        res = resRec(rid2);
        res.submitter = stranger;
        vm.expectRevert(InferenceManager.WrongRecord.selector);
        manager.finalize(rid2, rqRec(rid2), res);
        // the request's record with the fee of a richer request
        rq = rqRec(rid2);
        rq.fee = 2 * FEE;
        vm.expectRevert(InferenceManager.WrongRecord.selector);
        manager.finalize(rid2, rq, resRec(rid2));
        finalizeAs(rid2, stranger);
        vm.assertEq(manager.credits(submitter), FEE + SUB_BOND);
        assertBooks();
    }

    function test_noAnswerRefund() public {
        uint256 rid = request(modelId);
        expectMoveRevert(abi.encodeWithSelector(InferenceManager.TooEarly.selector));
        refundAs(rid, stranger);
        vm.warp(manager.getRequest(rid).deadline + 1);
        refundAs(rid, stranger);
        vm.assertEq(manager.credits(requester), FEE);
        expectMoveRevert(
            abi.encodeWithSelector(InferenceManager.WrongStatus.selector, InferenceManager.Status.Refunded)
        );
        refundAs(rid, stranger);
        vm.prank(requester);
        manager.withdraw();
        vm.assertEq(address(manager).balance, 0);
        assertBooks();
    }

    function test_challengeChecks() public {
        uint256 rid = request(modelId);
        bytes32 mine = honest.stateRoot(m.n());
        expectMoveRevert(
            abi.encodeWithSelector(InferenceManager.WrongStatus.selector, InferenceManager.Status.Open)
        );
        openGame(rid, honest, challenger);
        submit(rid, honest, submitter);
        InferenceManager.RequestRecord memory rq = rqRec(rid);
        InferenceManager.ResultRecord memory res = resRec(rid);
        vm.startPrank(challenger);
        vm.expectRevert(InferenceManager.SameRoot.selector);
        manager.challenge{value: CH_BOND}(rid, rq, res, mine);
        vm.expectRevert(abi.encodeWithSelector(InferenceManager.WrongBond.selector, CH_BOND + 1, CH_BOND));
        manager.challenge{value: CH_BOND + 1}(rid, rq, res, keccak256("x"));
        vm.warp(manager.getRequest(rid).challengeDeadline + 1);
        vm.expectRevert(InferenceManager.DeadlinePassed.selector);
        manager.challenge{value: CH_BOND}(rid, rq, res, keccak256("x"));
        vm.stopPrank();
    }

    /// A lost result reopens the request; a later honest result is paid; no money is stuck.
    function test_rejectedResultReopensThenHonestResultFinalizes() public {
        SimTrace bad = newTrace(m, 3, 2);
        uint256 rid = request(modelId);
        submit(rid, bad, submitter);
        uint256 gid = openGame(rid, honest, challenger);
        playToProof(gid, bad, honest);
        game.proveStep(gid, honestProof(gid, m, honest));
        InferenceManager.RequestState memory st = manager.getRequest(rid);
        vm.assertEq(uint256(st.status), uint256(InferenceManager.Status.Open));
        vm.assertTrue(st.deadline >= block.timestamp + WINDOW);
        vm.assertEq(manager.resultHash(rid), bytes32(0), "the result is gone");
        vm.assertTrue(manager.rejectedSubmitter(rid, submitter));
        submit(rid, honest, challenger); // the challenger answers it itself
        vm.warp(block.timestamp + WINDOW + 1);
        finalizeAs(rid, stranger);
        vm.assertEq(manager.credits(challenger), CH_BOND + SUB_BOND / 2 + FEE + SUB_BOND);
        vm.assertEq(manager.totalBurned(), SUB_BOND / 2);
        vm.assertEq(manager.credits(submitter), 0);
        vm.assertEq(manager.totalEscrow(), 0);
        assertBooks();
    }

    function test_rejectedResultThenNobodyAnswersRefund() public {
        SimTrace bad = newTrace(m, 1, 0);
        uint256 rid = request(modelId);
        submit(rid, bad, submitter);
        uint256 gid = openGame(rid, honest, challenger);
        vm.warp(block.timestamp + 2000); // far past the request's deadline and its cap: the defender's clock is gone
        game.claimTimeout(gid);
        InferenceManager.RequestState memory st = manager.getRequest(rid);
        vm.assertEq(st.deadline, st.deadlineCap, "reopened no later than the cap");
        vm.assertTrue(st.deadline < block.timestamp);
        refundAs(rid, stranger); // at once
        vm.assertEq(manager.totalBurned(), SUB_BOND / 2);
        vm.assertEq(manager.credits(requester), FEE);
        vm.assertEq(manager.totalEscrow(), 0);
        assertBooks();
    }

    function test_onlyGameCallsBack() public {
        vm.expectRevert(InferenceManager.NotGame.selector);
        manager.onGameResolved(0, 1, submitter, challenger, 1, false);
    }

    function test_setGameOnceByDeployer() public {
        vm.prank(stranger);
        vm.expectRevert(InferenceManager.NotDeployer.selector);
        manager.setGame(IFaultDisputeGame(address(1)));
        vm.expectRevert(InferenceManager.GameAlreadySet.selector);
        manager.setGame(IFaultDisputeGame(address(1)));
    }

    function test_onlyManagerCreatesGames() public {
        vm.expectRevert(FaultDisputeGame.NotManager.selector);
        game.createGame(0, 1, modelId, submitter, challenger, 1, bytes32(0), bytes32(0), bytes32(uint256(1)));
    }

    // ------------------------------------------------------------------ payouts

    function test_reentrantWithdrawPaysOnce() public {
        Reenterer r = new Reenterer(manager);
        vm.deal(address(r), 10 ether);
        uint256 rid =
            r.requestAndLeave{value: FEE}(modelId, Packed.pack(simInput()), uint64(block.timestamp + 10));
        noteRequest(rid, address(r), FEE, simInputRoot(modelId));
        vm.warp(block.timestamp + 11);
        refundAs(rid, stranger);
        // a second credit for someone else stays untouched
        request(modelId);
        uint256 before = address(r).balance;
        r.pull();
        vm.assertEq(address(r).balance, before + FEE, "paid exactly once");
        vm.assertEq(r.reentries(), 1);
        vm.assertEq(r.blocked(), 1, "re-entry refused");
        vm.assertEq(manager.credits(address(r)), 0);
        vm.assertEq(address(manager).balance, FEE);
        assertBooks();
    }

    function test_failedTransferKeepsCredit() public {
        RejectsEther r = new RejectsEther();
        vm.deal(address(r), 1 ether);
        vm.prank(address(r));
        uint256 rid =
            manager.requestInference{value: FEE}(modelId, Packed.pack(simInput()), uint64(block.timestamp + 10));
        noteRequest(rid, address(r), FEE, simInputRoot(modelId));
        vm.warp(block.timestamp + 11);
        refundAs(rid, stranger);
        vm.expectRevert(InferenceManager.TransferFailed.selector);
        r.pull(manager);
        vm.assertEq(manager.credits(address(r)), FEE);
        assertBooks();
    }

    function test_withdrawNothing() public {
        vm.prank(stranger);
        vm.expectRevert(InferenceManager.NothingToWithdraw.selector);
        manager.withdraw();
    }
}
