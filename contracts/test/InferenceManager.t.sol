// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {vm} from "./utils/Vm.sol";
import {Fixture} from "./utils/Fixture.sol";
import {SimModel, SimTrace} from "./utils/Sim.sol";
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

    function requestAndLeave(uint256 modelId, int32[] calldata input, uint64 deadline) external payable returns (uint256) {
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
        InferenceManager.Request memory rq = manager.getRequest(rid);
        vm.assertEq(rq.inputRoot, honest.tensorRoot(0), "input root computed on-chain");
        vm.assertEq(rq.stateRoot0, honest.stateRoot(0), "stateRoot(0)");
        vm.assertEq(rq.fee, FEE);
        submit(rid, honest, submitter);
        vm.expectRevert(InferenceManager.NotFinal.selector);
        manager.finalOutput(rid);
        uint64 dl = manager.getResult(rid).challengeDeadline;
        vm.warp(dl);
        vm.expectRevert(InferenceManager.TooEarly.selector);
        manager.finalize(rid);
        vm.warp(dl + 1);
        vm.prank(stranger);
        manager.finalize(rid);
        int32[] memory out = manager.finalOutput(rid);
        int32[] memory want = honest.getOutput();
        vm.assertEq(out.length, want.length);
        for (uint256 i = 0; i < out.length; ++i) vm.assertEq(int256(out[i]), int256(want[i]));
        vm.assertEq(manager.credits(submitter), FEE + SUB_BOND);
        uint256 before = submitter.balance;
        vm.prank(submitter);
        manager.withdraw();
        vm.assertEq(submitter.balance, before + FEE + SUB_BOND);
        vm.assertEq(address(manager).balance, 0);
        vm.expectRevert(abi.encodeWithSelector(InferenceManager.WrongStatus.selector, InferenceManager.Status.Finalized));
        manager.finalize(rid);
        assertBooks();
    }

    function test_requestByRoot() public {
        vm.prank(requester);
        uint256 rid = manager.requestInferenceByRoot{value: FEE}(
            modelId, honest.chunksRoot(0), "bafkreiinput", uint64(block.timestamp + 10)
        );
        vm.assertEq(manager.getRequest(rid).inputRoot, honest.tensorRoot(0));
        vm.assertEq(manager.getRequest(rid).stateRoot0, honest.stateRoot(0));
        submit(rid, honest, submitter);
        vm.assertEq(uint256(manager.getRequest(rid).status), uint256(InferenceManager.Status.Submitted));
    }

    function test_requestChecks() public {
        int32[] memory input = simInput();
        vm.startPrank(requester);
        vm.expectRevert(InferenceManager.BadDeadline.selector);
        manager.requestInference{value: FEE}(modelId, input, uint64(block.timestamp));
        int32[] memory short = new int32[](5);
        vm.expectRevert(abi.encodeWithSelector(Commitments.BadLength.selector, 5, 6));
        manager.requestInference{value: FEE}(modelId, short, uint64(block.timestamp + 5));
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.UnknownModel.selector, 9));
        manager.requestInference{value: FEE}(9, input, uint64(block.timestamp + 5));
        vm.stopPrank();
        registry.setActive(modelId, false);
        vm.prank(requester);
        vm.expectRevert(InferenceManager.ModelInactive.selector);
        manager.requestInference{value: FEE}(modelId, input, uint64(block.timestamp + 5));
        vm.expectRevert(abi.encodeWithSelector(InferenceManager.UnknownRequest.selector, 0));
        manager.getRequest(0);
    }

    function test_submitChecks() public {
        uint256 rid = request(modelId);
        uint32 n = m.n();
        int32[] memory out = honest.getOutput();
        bytes32 root = honest.stateRoot(n);
        bytes32[] memory path = honest.statePath(n, n);
        // no commitment in an earlier block
        vm.prank(submitter);
        vm.expectRevert(InferenceManager.NoCommitment.selector);
        manager.submitResult{value: SUB_BOND}(rid, out, root, path);
        vm.prank(submitter);
        manager.commitResult(manager.resultCommitment(rid, root, submitter));
        vm.prank(submitter);
        vm.expectRevert(InferenceManager.NoCommitment.selector); // same block
        manager.submitResult{value: SUB_BOND}(rid, out, root, path);
        vm.roll(block.number + 1);
        vm.startPrank(submitter);
        vm.expectRevert(abi.encodeWithSelector(InferenceManager.WrongBond.selector, SUB_BOND - 1, SUB_BOND));
        manager.submitResult{value: SUB_BOND - 1}(rid, out, root, path);
        // an output that is not the one under the final root
        out[3] += 1;
        vm.expectRevert(InferenceManager.BadOutputPath.selector);
        manager.submitResult{value: SUB_BOND}(rid, out, root, path);
        out[3] -= 1;
        // a path for another slot
        bytes32[] memory other = honest.statePath(n, n - 1);
        vm.expectRevert(InferenceManager.BadOutputPath.selector);
        manager.submitResult{value: SUB_BOND}(rid, out, root, other);
        // a path of the wrong depth
        bytes32[] memory shortPath = new bytes32[](path.length - 1);
        vm.expectRevert(InferenceManager.BadOutputPath.selector);
        manager.submitResult{value: SUB_BOND}(rid, out, root, shortPath);
        manager.submitResult{value: SUB_BOND}(rid, out, root, path);
        vm.expectRevert(abi.encodeWithSelector(InferenceManager.WrongStatus.selector, InferenceManager.Status.Submitted));
        manager.submitResult{value: SUB_BOND}(rid, out, root, path);
        vm.stopPrank();
        assertBooks();
    }

    function test_submitAfterDeadline() public {
        uint256 rid = request(modelId);
        vm.warp(manager.getRequest(rid).deadline + 1);
        uint32 n = m.n();
        int32[] memory out = honest.getOutput();
        bytes32 root = honest.stateRoot(n);
        bytes32[] memory path = honest.statePath(n, n);
        vm.prank(submitter);
        vm.expectRevert(InferenceManager.DeadlinePassed.selector);
        manager.submitResult{value: SUB_BOND}(rid, out, root, path);
    }

    function test_noAnswerRefund() public {
        uint256 rid = request(modelId);
        vm.expectRevert(InferenceManager.TooEarly.selector);
        manager.refund(rid);
        vm.warp(manager.getRequest(rid).deadline + 1);
        vm.prank(stranger);
        manager.refund(rid);
        vm.assertEq(manager.credits(requester), FEE);
        vm.expectRevert(abi.encodeWithSelector(InferenceManager.WrongStatus.selector, InferenceManager.Status.Refunded));
        manager.refund(rid);
        vm.prank(requester);
        manager.withdraw();
        vm.assertEq(address(manager).balance, 0);
        assertBooks();
    }

    function test_challengeChecks() public {
        uint256 rid = request(modelId);
        bytes32 mine = honest.stateRoot(m.n());
        vm.prank(challenger);
        vm.expectRevert(abi.encodeWithSelector(InferenceManager.WrongStatus.selector, InferenceManager.Status.Open));
        manager.challenge{value: CH_BOND}(rid, mine);
        submit(rid, honest, submitter);
        vm.startPrank(challenger);
        vm.expectRevert(InferenceManager.SameRoot.selector);
        manager.challenge{value: CH_BOND}(rid, mine);
        vm.expectRevert(abi.encodeWithSelector(InferenceManager.WrongBond.selector, CH_BOND + 1, CH_BOND));
        manager.challenge{value: CH_BOND + 1}(rid, keccak256("x"));
        vm.warp(manager.getResult(rid).challengeDeadline + 1);
        vm.expectRevert(InferenceManager.DeadlinePassed.selector);
        manager.challenge{value: CH_BOND}(rid, keccak256("x"));
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
        InferenceManager.Request memory rq = manager.getRequest(rid);
        vm.assertEq(uint256(rq.status), uint256(InferenceManager.Status.Open));
        vm.assertTrue(rq.deadline >= block.timestamp + WINDOW);
        vm.assertEq(manager.getResult(rid).submitter, address(0)); // the result is gone
        submit(rid, honest, challenger); // the challenger answers it itself
        vm.warp(block.timestamp + WINDOW + 1);
        manager.finalize(rid);
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
        InferenceManager.Request memory rq = manager.getRequest(rid);
        vm.assertEq(rq.deadline, rq.deadlineCap, "reopened no later than the cap");
        vm.assertTrue(rq.deadline < block.timestamp);
        manager.refund(rid); // at once
        vm.assertEq(manager.totalBurned(), SUB_BOND / 2);
        vm.assertEq(manager.credits(requester), FEE);
        vm.assertEq(manager.totalEscrow(), 0);
        assertBooks();
    }

    function test_onlyGameCallsBack() public {
        vm.expectRevert(InferenceManager.NotGame.selector);
        manager.onGameResolved(0, 1, challenger, 1, false);
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
        uint256 rid = r.requestAndLeave{value: FEE}(modelId, simInput(), uint64(block.timestamp + 10));
        vm.warp(block.timestamp + 11);
        manager.refund(rid);
        // a second credit for someone else stays untouched
        uint256 rid2 = request(modelId);
        uint256 before = address(r).balance;
        r.pull();
        vm.assertEq(address(r).balance, before + FEE, "paid exactly once");
        vm.assertEq(r.reentries(), 1);
        vm.assertEq(r.blocked(), 1, "re-entry refused");
        vm.assertEq(manager.credits(address(r)), 0);
        vm.assertEq(manager.getRequest(rid2).fee, FEE);
        vm.assertEq(address(manager).balance, FEE);
        assertBooks();
    }

    function test_failedTransferKeepsCredit() public {
        RejectsEther r = new RejectsEther();
        vm.deal(address(r), 1 ether);
        vm.prank(address(r));
        uint256 rid = manager.requestInference{value: FEE}(modelId, simInput(), uint64(block.timestamp + 10));
        vm.warp(block.timestamp + 11);
        manager.refund(rid);
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
