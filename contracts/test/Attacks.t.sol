// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {vm} from "./utils/Vm.sol";
import {Fixture} from "./utils/Fixture.sol";
import {SimModel, SimTrace} from "./utils/Sim.sol";
import {InferenceManager} from "../src/InferenceManager.sol";
import {FaultDisputeGame} from "../src/FaultDisputeGame.sol";
import {ModelRegistry, DisputeParams} from "../src/ModelRegistry.sol";
import {Commitments, TensorMeta} from "../src/lib/Commitments.sol";

/// A party that is a contract: forwards any call, several in one transaction.
contract Bot {
    struct Call {
        address to;
        uint256 value;
        bytes data;
    }

    function run(Call[] calldata calls) external payable {
        for (uint256 i = 0; i < calls.length; ++i) {
            (bool ok, bytes memory err) = calls[i].to.call{value: calls[i].value}(calls[i].data);
            if (!ok) {
                assembly ("memory-safe") {
                    revert(add(err, 0x20), mload(err))
                }
            }
        }
    }

    receive() external payable {}
}

/// The attacks an adversarial review found (issue 19, items 1-7), each played as an attacker
/// would. Each test failed on the code before the fix (the attack succeeded) and must keep
/// failing to attack.
contract AttacksTest is Fixture {
    SimModel internal m;
    uint256 internal modelId;
    SimTrace internal honest;
    SimTrace internal bad;
    address internal sybil = address(0x5B2); // the submitter's second identity

    function setUp() public {
        deployAll();
        vm.deal(sybil, 100 ether);
        m = newSim(5, 3, "attacks");
        modelId = register(m, params(2, 1));
        honest = newTrace(m, 0, 0);
        bad = newTrace(m, 3, 2);
    }

    // ------------------------------------------------------------------ 1. self-challenge

    /// A dishonest submitter opens a second game from another identity, loses it on purpose in a
    /// few blocks and so tried to take its bond back and void the honest challenger's game.
    function test_attack1_selfChallengeRecoversNoBond_andTheHonestChallengerIsPaid() public {
        uint256 rid = request(modelId);
        submit(rid, bad, submitter);
        uint256 honestGame = openGame(rid, honest, challenger);
        uint256 selfGame = openGame(rid, honest, sybil);
        playAs(selfGame, bad, honest, submitter, sybil);
        vm.prank(sybil);
        game.proveStep(selfGame, honestProof(selfGame, m, honest)); // the defender loses on purpose
        // the honest challenger's game goes on; the defender does not answer it
        vm.warp(block.timestamp + BUDGET + 1);
        game.claimTimeout(honestGame);

        uint256 attacker = manager.credits(submitter) + manager.credits(sybil);
        // the attacker put in SUB_BOND + CH_BOND; it gets back at most CH_BOND + half the bond
        vm.assertTrue(attacker <= CH_BOND + SUB_BOND / 2, "the attacker recovered more than half its bond");
        vm.assertTrue(manager.credits(challenger) > CH_BOND, "the honest challenger was not paid");
        assertBooks();
    }

    // ------------------------------------------------------------------ 2. censorship loop

    /// A rejected submitter cannot answer the same request again.
    function test_attack2_rejectedSubmitterCannotAnswerAgain() public {
        uint256 rid = request(modelId);
        submit(rid, bad, submitter);
        uint256 gid = openGame(rid, honest, challenger);
        playToProof(gid, bad, honest);
        game.proveStep(gid, honestProof(gid, m, honest));
        vm.assertEq(uint256(manager.getRequest(rid).status), uint256(InferenceManager.Status.Open));
        vm.warp(block.timestamp + 1);
        uint32 n = m.n();
        bytes memory out = bad.packedOutput();
        bytes32 root = bad.stateRoot(n);
        bytes32 outRoot = bad.tensorRoot(n);
        bytes32[] memory path = bad.statePath(n, n);
        vm.prank(submitter);
        manager.commitResult(manager.resultCommitment(rid, root, submitter));
        vm.roll(block.number + 1);
        vm.prank(submitter);
        vm.expectRevert(InferenceManager.SubmitterRejected.selector);
        manager.submitResult{value: SUB_BOND}(rid, root, outRoot, path, out);
    }

    /// A submitter contract loses its own self-game and submits again in one transaction, so the
    /// request is never Open at the end of a transaction: that transaction must fail.
    function test_attack2_loseAndResubmitInOneTransactionFails() public {
        uint256 rid = request(modelId);
        Bot bot = new Bot();
        Bot next = new Bot();
        vm.deal(address(bot), 10 ether);
        vm.deal(address(next), 10 ether);
        submit(rid, bad, address(bot));
        uint256 gid = openGame(rid, honest, address(next));
        playAs(gid, bad, honest, address(bot), address(next));
        FaultDisputeGame.StepProof memory sp = honestProof(gid, m, honest);
        uint32 n = m.n();
        // `next` (a fresh identity) committed in an earlier block: only the same-block rule stops it
        vm.prank(address(next));
        manager.commitResult(manager.resultCommitment(rid, bad.stateRoot(n), address(next)));
        vm.roll(block.number + 1);
        Bot.Call[] memory calls = new Bot.Call[](2);
        calls[0] = Bot.Call(address(game), 0, abi.encodeCall(FaultDisputeGame.proveStep, (gid, sp)));
        calls[1] = Bot.Call(address(manager), SUB_BOND, submitCalldata(rid, bad));
        vm.expectRevert(InferenceManager.ReopenedThisBlock.selector);
        next.run(calls);
        // the rejection alone goes through; the request is Open at the end of that transaction
        next.run(_first(calls));
        vm.assertEq(uint256(manager.getRequest(rid).status), uint256(InferenceManager.Status.Open));
        // and the rejected submitter may not answer again, in any later block
        vm.roll(block.number + 1);
        vm.prank(address(bot));
        manager.commitResult(manager.resultCommitment(rid, bad.stateRoot(n), address(bot)));
        vm.roll(block.number + 1);
        expectMoveRevert(abi.encodeWithSelector(InferenceManager.SubmitterRejected.selector));
        reveal(rid, bad, address(bot));
    }

    function _first(Bot.Call[] memory calls) internal pure returns (Bot.Call[] memory one) {
        one = new Bot.Call[](1);
        one[0] = calls[0];
    }

    /// Whatever the submitters do (fresh identities answering wrongly again and again, each
    /// rejected), the requester is refunded within a bounded time after its deadline.
    function test_attack2_refundWithinABoundWhateverSubmittersDo() public {
        uint256 rid = request(modelId);
        uint64 deadline0 = manager.getRequest(rid).deadline;
        uint256 bound_ = uint256(deadline0) + 2 * WINDOW + 2 * BUDGET + 1;
        for (uint256 i = 0; i < 40; ++i) {
            address who = address(uint160(0xB000 + i));
            vm.deal(who, 10 ether);
            InferenceManager.RequestState memory rq = manager.getRequest(rid);
            if (rq.status != InferenceManager.Status.Open || block.timestamp > rq.deadline) break;
            submit(rid, bad, who);
            vm.warp(block.timestamp + 60);
            uint256 gid = openGame(rid, honest, challenger);
            playAs(gid, bad, honest, who, challenger);
            game.proveStep(gid, honestProof(gid, m, honest));
            vm.warp(block.timestamp + 1);
            vm.roll(block.number + 1);
        }
        if (block.timestamp <= bound_) vm.warp(bound_);
        refundAs(rid, stranger);
        vm.assertEq(manager.credits(requester), FEE);
        assertBooks();
    }

    // ------------------------------------------------------------------ 3. ceremony

    /// The last contributor before the window closes posts keys of its own (whose trapdoor it
    /// knows): the model must not become active with them.
    function test_attack3_lastContributorCannotPickTheKeys() public {
        bytes32 t0 = keccak256("t0");
        uint256 id = registry.registerWithCeremony(registration(m, params(2, 1)), t0, 3600);
        registry.contribute(id, t0, keccak256("t1"), keccak256("root1"), "honest");
        vm.prank(stranger);
        registry.contribute(id, keccak256("t1"), keccak256("evil"), keccak256("evil root"), "evil");
        vm.warp(block.timestamp + 3600);
        (bool active,,,,,,) = registry.requestInfo(id);
        vm.assertFalse(active);
        vm.assertNotEq(registry.circuitRoot(id), keccak256("evil root"));
    }

    /// An honest contribution front-run by another on the same keys is still recorded.
    function test_attack3_frontRunContributionIsKept() public {
        bytes32 t0 = keccak256("t0");
        uint256 id = registry.registerWithCeremony(registration(m, params(2, 1)), t0, 3600);
        vm.prank(stranger);
        registry.contribute(id, t0, keccak256("front"), keccak256("root f"), "front");
        registry.contribute(id, t0, keccak256("t1"), keccak256("root1"), "honest");
        (, uint32 n,,) = registry.ceremonyInfo(id);
        vm.assertEq(n, 2);
    }

    // ------------------------------------------------------------------ 4. mempool copy

    /// A bot copies an honest submitResult from the mempool and lands first.
    function test_attack4_copiedSubmissionIsRefused() public {
        uint256 rid = request(modelId);
        address copier = address(0xB07);
        vm.deal(copier, 10 ether);
        uint32 n = m.n();
        bytes memory out = honest.packedOutput();
        bytes32 root = honest.stateRoot(n);
        bytes32 outRoot = honest.tensorRoot(n);
        bytes32[] memory path = honest.statePath(n, n);
        commit(rid, honest, submitter); // the honest submitter's commitment (reveals nothing)
        // a copy of the honest commitment binds the honest sender, not the copier
        vm.prank(copier);
        manager.commitResult(manager.resultCommitment(rid, root, submitter));
        // the honest reveal is seen in the mempool: the copier lands its calldata first, with a
        // commitment of its own made in this same block
        vm.prank(copier);
        manager.commitResult(manager.resultCommitment(rid, root, copier));
        vm.prank(copier);
        vm.expectRevert(InferenceManager.NoCommitment.selector);
        manager.submitResult{value: SUB_BOND}(rid, root, outRoot, path, out);
        reveal(rid, honest, submitter); // the honest reveal lands in the same block
        // the live result is the honest submitter's (its record, with its address, is the stored one)
        vm.assertEq(
            manager.resultHash(rid),
            keccak256(abi.encode(InferenceManager.ResultRecord(submitter, SUB_BOND, root, outRoot)))
        );
        // by the next block, when the copier's commitment could count, the request is answered
        vm.roll(block.number + 1);
        vm.prank(copier);
        vm.expectRevert(
            abi.encodeWithSelector(InferenceManager.WrongStatus.selector, InferenceManager.Status.Submitted)
        );
        manager.submitResult{value: SUB_BOND}(rid, root, outRoot, path, out);
    }

    // ------------------------------------------------------------------ 5b. a game past its bound

    /// Nobody moves in a game and nobody claims its timeout: the requester itself ends it after
    /// its bound (2 clock budgets) and is refunded once the answer deadline (capped) has passed.
    function test_requesterRecoversItsFeeAfterAGameOutlivedItsBound() public {
        uint256 rid = request(modelId);
        uint64 cap = manager.getRequest(rid).deadlineCap;
        submit(rid, bad, submitter);
        uint256 gid = openGame(rid, honest, challenger);
        vm.warp(uint256(cap) + 2 * BUDGET + 1);
        vm.prank(requester);
        game.claimTimeout(gid);
        refundAs(rid, requester);
        vm.assertEq(manager.credits(requester), FEE);
        assertBooks();
    }

    // ------------------------------------------------------------------ 5. parameter bounds

    function test_attack5_parametersOutOfBoundsAreRefused() public {
        DisputeParams[5] memory bads;
        for (uint256 i = 0; i < 5; ++i) bads[i] = params(2, 1);
        bads[0].clockBudget = 1; // below any block interval
        bads[1].challengerBond = 0; // free griefing
        bads[2].challengeWindow = type(uint64).max; // overflows
        bads[3].clockBudget = 100 * 365 days; // blocks finalize and refund for a century
        bads[4].submitterBond = 0; // nothing to lose
        for (uint256 i = 0; i < 5; ++i) {
            ModelRegistry.Registration memory r = registration(m, bads[i]);
            vm.expectRevert(ModelRegistry.BadParams.selector);
            registry.register(r);
        }
    }

    // ------------------------------------------------------------------ 6. inner node as an input

    /// A step proof whose input "digest" is an inner node of the chunk tree (a short chunk path)
    /// or the slot's whole chunks root (an empty path): an honest defender must not lose to it.
    /// (Only a node below the field modulus can be a public input: the first such node found.)
    function test_attack6_innerNodeIsNotAnInputDigest() public {
        SimModel mm;
        SimTrace h;
        uint32 op;
        bytes32 node;
        uint256 height;
        for (uint256 seed = 0; seed < 8 && op == 0; ++seed) {
            mm = newSim(5, 3, keccak256(abi.encode("attack6", seed)));
            h = newTrace(mm, 0, 0);
            for (uint32 o = 2; o < 5 && op == 0; ++o) {
                bytes32[] memory kids = h.nodesBelow(o - 1, 1, 0, 1);
                bytes32 inner = keccak256(abi.encodePacked(kids[0], kids[1]));
                bytes32 root = h.chunksRoot(o - 1);
                if (uint256(inner) < Commitments.R) (op, node, height) = (o, inner, 1);
                else if (uint256(root) < Commitments.R) (op, node, height) = (o, root, 2);
            }
        }
        vm.assertTrue(op != 0, "no node in the field");
        uint256 id = register(mm, params(2, 1));
        uint256 rid = requestAs(requester, id, FEE, uint64(block.timestamp + 1000));
        submit(rid, h, submitter);
        SimTrace other = newTrace(mm, op, 0); // disputed: chunk 0 of op, which reads chunk 0 of slot op-1
        uint256 gid = openGame(rid, other, challenger);
        playToProof(gid, h, other);
        vm.assertEq(game.getGame(gid).hi, op);
        vm.assertEq(game.getGame(gid).index, 0);
        FaultDisputeGame.StepProof memory sp = stepProofAt(mm, h, op, 0, 7);
        bytes32[] memory full = h.chunkPath(op - 1, 0);
        bytes32[] memory shortPath = new bytes32[](full.length - height);
        for (uint256 i = height; i < full.length; ++i) shortPath[i - height] = full[i];
        sp.inputs[0].digest = uint256(node);
        sp.inputs[0].chunkPath = shortPath;
        uint256[] memory pub = new uint256[](sp.inputs.length + 1);
        for (uint256 k = 0; k < sp.inputs.length; ++k) pub[k] = sp.inputs[k].digest;
        pub[sp.inputs.length] = 7;
        sp.proof = g16.prove(mm.vkSeed(op, 0), pub);
        vm.prank(challenger);
        vm.expectRevert();
        game.proveStep(gid, sp);
        vm.assertEq(uint256(outcome(gid)), uint256(FaultDisputeGame.Outcome.Undecided));
    }

    // ------------------------------------------------------------------ 7. stored input geometry

    /// A request by root names only the input's chunks root: the tensor root (shape, scale,
    /// chunking) is computed from the registered input geometry, whatever the requester meant.
    /// (Before the fix a whole tensor root was taken, so `wrongRoot` below was accepted.)
    /// The manager now stores only the hash of the request's record: the record with the
    /// registered geometry's root is the stored one, a record with `wrongRoot` is refused, and a
    /// game on the request starts from stateRoot(0) of that input.
    function test_attack7_requestByRootUsesTheRegisteredGeometry() public {
        bytes32 chunksRoot = honest.chunksRoot(0);
        bytes32 otherMeta = keccak256(abi.encodePacked(uint32(1), uint32(7), int32(8), uint32(4)));
        bytes32 wrongRoot = keccak256(abi.encodePacked(otherMeta, chunksRoot));
        vm.prank(requester);
        uint256 rid =
            manager.requestInferenceByRoot{value: FEE}(modelId, chunksRoot, "bafkreiinput", uint64(block.timestamp + 10));
        bytes32 inputRoot = keccak256(abi.encodePacked(m.metaHash(0), chunksRoot));
        vm.assertEq(inputRoot, honest.tensorRoot(0));
        vm.assertEq(
            manager.requestHash(rid), keccak256(abi.encode(InferenceManager.RequestRecord(requester, FEE, inputRoot)))
        );
        vm.assertNotEq(
            manager.requestHash(rid), keccak256(abi.encode(InferenceManager.RequestRecord(requester, FEE, wrongRoot)))
        );
        noteRequest(rid, requester, FEE, inputRoot);
        submit(rid, bad, submitter);
        // the record with the other geometry's root is refused
        InferenceManager.RequestRecord memory wrong = InferenceManager.RequestRecord(requester, FEE, wrongRoot);
        InferenceManager.ResultRecord memory res = resRec(rid);
        bytes32 croot = honest.stateRoot(m.n());
        vm.prank(challenger);
        vm.expectRevert(InferenceManager.WrongRecord.selector);
        manager.challenge{value: CH_BOND}(rid, wrong, res, croot);
        uint256 gid = openGame(rid, honest, challenger);
        vm.assertEq(game.getGame(gid).agreedRoot, honest.stateRoot(0));
    }
}
