// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {vm} from "./utils/Vm.sol";
import {Fixture} from "./utils/Fixture.sol";
import {SimModel, SimTrace, Packed} from "./utils/Sim.sol";
import {InferenceManager} from "../src/InferenceManager.sol";
import {FaultDisputeGame} from "../src/FaultDisputeGame.sol";
import {ModelRegistry, DisputeParams, ParamBounds} from "../src/ModelRegistry.sol";
import {TensorMeta} from "../src/lib/Commitments.sol";

/// An independent review's attacks on the hardened rules (issue 19), kept for ever: test_attack*
/// are the two it found (each failed before its fix: a copier displacing an honest reveal for
/// profit, a ceremony contribution squatted by its transcript hash); test_holds_* are attacks
/// that did not work.
contract AttacksReviewTest is Fixture {
    SimModel internal m;
    uint256 internal modelId;
    SimTrace internal honest;
    SimTrace internal bad; // wrong from op 3 on
    SimTrace internal early; // wrong from op 1 on: its first wrong chunk is provable from the public input alone

    address internal sybil = address(0x5B2);
    address internal sybil2 = address(0x5B3);
    address internal copierA = address(0xC0A); // the copier's throw-away submitter
    address internal copierS = address(0xC0B); // the copier's throw-away challenger
    address internal copierB = address(0xC0C); // the copier's identity that takes the fee

    function setUp() public {
        deployAll();
        vm.deal(sybil, 100 ether);
        vm.deal(sybil2, 100 ether);
        vm.deal(copierA, 100 ether);
        vm.deal(copierS, 100 ether);
        vm.deal(copierB, 100 ether);
        m = newSim(5, 3, "review");
        modelId = register(m, params(2, 1));
        honest = newTrace(m, 0, 0);
        bad = newTrace(m, 3, 2);
        early = newTrace(m, 1, 0);
    }

    // ------------------------------------------------------------------ helpers

    function commitAs(uint256 rid, SimTrace t, address who) internal {
        bytes32 c = manager.resultCommitment(rid, t.stateRoot(t.m().n()), who);
        vm.prank(who);
        manager.commitResult(c);
    }

    function submitCall(uint256 rid, SimTrace t, address who, uint256 bond) internal returns (bool ok, bytes memory err) {
        bytes memory data = submitCalldata(rid, t);
        vm.prank(who);
        (ok, err) = address(manager).call{value: bond}(data);
        if (ok) noteResult(rid, t, who, bond);
    }

    function reject(uint256 gid, SimTrace dt, address d, address c) internal {
        playAs(gid, dt, honest, d, c);
        FaultDisputeGame.StepProof memory sp = honestProof(gid, m, honest);
        vm.prank(c);
        game.proveStep(gid, sp);
    }

    // ================================================================== findings

    /// Found by review (kept): a copier displaces an honest reveal.
    /// The copier keeps a garbage answer committed (from an identity A). When the honest
    /// submitResult shows up in the mempool, the copier, in the same block and ahead of it:
    /// submits the garbage from A, challenges it from S, plays both sides of that game at once
    /// (no clock runs out: both sides are its own) down to op 1, whose true chunk digest depends
    /// only on the public input, proves it (A loses, the request reopens in this block), and
    /// commits the honest finalRoot it just read in the mempool, from B. The honest reveal then
    /// fails (ReopenedThisBlock). In the next block B reveals the copied answer first. The copier
    /// pays S/2 (burned) and earns the fee: it profited whenever fee > S/2 + gas, until the fee
    /// was capped below S/2 (maxFeeOf). Now the largest fee a request may carry leaves the
    /// copier poorer; the displacement itself remains a grief that costs the griefer S/2.
    function test_attack4b_copierDisplacingTheHonestRevealLosesMoney() public {
        DisputeParams memory p = params(2, 1);
        p.submitterBond = 0.05 ether;
        uint256 mid = register(m, p);
        bytes memory input = Packed.pack(simInput());
        vm.prank(requester);
        vm.expectRevert(InferenceManager.FeeTooLarge.selector);
        manager.requestInference{value: 1 ether}(mid, input, uint64(block.timestamp + 1000));
        uint256 fee = manager.maxFeeOf(p.submitterBond) - 1;
        uint256 rid = requestAs(requester, mid, fee, uint64(block.timestamp + 1000));

        // earlier blocks: the copier's garbage commitment (any time; it reveals nothing) and the
        // honest submitter's commitment
        commitAs(rid, early, copierA);
        commitAs(rid, honest, submitter);
        vm.roll(block.number + 1);

        // block N: the honest submitResult is in the mempool; the copier lands first
        uint256 before = copierA.balance + copierS.balance + copierB.balance;
        (bool ok,) = submitCall(rid, early, copierA, p.submitterBond);
        vm.assertTrue(ok, "garbage submit");
        uint256 gid = openGame(rid, honest, copierS); // any root other than the garbage one
        reject(gid, early, copierA, copierS); // same block, both sides its own
        vm.assertEq(game.getGame(gid).hi, 1); // only op 1 was proven: the public input suffices
        commitAs(rid, honest, copierB); // the root read from the honest tx in the mempool
        (ok,) = submitCall(rid, honest, submitter, p.submitterBond); // the honest reveal, same block
        vm.assertTrue(!ok, "the honest reveal fails in block N");

        // block N+1: the copier's reveal is first
        vm.roll(block.number + 1);
        (ok,) = submitCall(rid, honest, copierB, p.submitterBond);
        vm.assertTrue(ok, "copied answer accepted");
        (ok,) = submitCall(rid, honest, submitter, p.submitterBond);
        vm.assertTrue(!ok, "the honest retry fails");
        vm.warp(block.timestamp + WINDOW + 1);
        finalizeAs(rid, stranger);
        for (uint256 i = 0; i < 3; ++i) {
            address a = i == 0 ? copierA : i == 1 ? copierS : copierB;
            if (manager.credits(a) > 0) {
                vm.prank(a);
                manager.withdraw();
            }
        }
        uint256 afterBal = copierA.balance + copierS.balance + copierB.balance;
        vm.assertTrue(afterBal < before, "the copier must lose money (fee < S/2 burned)");
        assertBooks();
    }

    /// Found by review (fixed): a front-run with the SAME transcript hash made the honest
    /// contribution revert (DuplicateTranscript), so a mempool watcher could keep every honest
    /// contribution off-chain. Now both entries are kept; later contributions on that hash name
    /// the first as parent (informational: the owner verifies the keys' own chain).
    function test_attack3b_contributionSquattedByTranscriptHashIsStillKept() public {
        bytes32 t0 = keccak256("t0");
        uint256 id = registry.registerWithCeremony(registration(m, params(2, 1)), t0, 3600);
        bytes32 t1 = keccak256("honest transcript");
        // the honest contribute(t0 -> t1, root1, "honest") is seen in the mempool; the squatter lands first
        vm.prank(stranger);
        registry.contribute(id, t0, t1, keccak256("squatter root"), "squatter");
        // a later contributor that builds on t1 (the honest keys) is linked to the squatter's entry
        registry.contribute(id, t1, keccak256("t2"), keccak256("root2"), "next");
        vm.assertEq(registry.getContribution(id, 1).parent, 1); // parent = index 0 = the squatter's
        (bool ok,) = address(registry).call(
            abi.encodeCall(ModelRegistry.contribute, (id, t0, t1, keccak256("honest root"), "honest"))
        );
        vm.assertTrue(ok, "the honest contribution was refused");
        vm.assertEq(registry.getContribution(id, 2).circuitRoot, keccak256("honest root"));
    }

    // ================================================================== holds: bond rule

    /// The submitter dilutes the honest share with m self-challenges (documented): the honest
    /// challenger still gets more than its bond, the attacker still loses at least S/2.
    function test_holds_dilutionStillPaysHonestChallengerAndCostsHalfTheBond() public {
        uint256 rid = request(modelId);
        uint256 attackerIn = submitter.balance + sybil.balance + sybil2.balance;
        submit(rid, bad, submitter);
        uint256 hg = openGame(rid, honest, challenger);
        uint256 s1 = openGame(rid, honest, sybil);
        uint256 s2 = openGame(rid, honest, sybil2);
        reject(s1, bad, submitter, sybil);
        // sybil2 wins too; the honest game ends last by the defender's clock
        reject(s2, bad, submitter, sybil2);
        vm.warp(block.timestamp + BUDGET + 1);
        game.claimTimeout(hg);
        for (uint256 i = 0; i < 2; ++i) {
            address a = i == 0 ? sybil : sybil2;
            vm.prank(a);
            manager.withdraw();
        }
        uint256 attackerOut = submitter.balance + sybil.balance + sybil2.balance;
        vm.assertTrue(attackerIn - attackerOut >= SUB_BOND / 2, "attacker lost less than S/2");
        vm.assertEq(manager.credits(challenger), CH_BOND + (SUB_BOND / 2) / 3);
        assertBooks();
    }

    /// Games across several results of one request, ending in every order (before and after the
    /// next result, after it is finalised), with challengers winning and losing after a rejection:
    /// no settlement reverts, the honest challenger always gets bond + share, and once all ends the
    /// escrow is exactly zero (balance == credits + burned).
    function test_holds_accountingAcrossNoncesAndOrders() public {
        SimTrace bad2 = newTrace(m, 2, 1); // another wrong trace, other final root
        uint256 rid = request(modelId);
        uint256 c0 = manager.credits(challenger);

        // result 1 (wrong) with 3 games: honest, a sybil with a wrong root, a sybil with the true root
        submit(rid, bad, submitter);
        uint256 g1 = openGame(rid, honest, challenger);
        uint256 g2 = openGame(rid, bad2, sybil);
        uint256 g3 = openGame(rid, honest, sybil2);
        bytes32[] memory dr = defenderRootsFor(g2, bad);
        vm.prank(submitter);
        game.postRoots(g2, dr); // g2: the defender moves, the sybil will stall
        reject(g3, bad, submitter, sybil2); // rejected: 3 games
        uint256 share1 = (SUB_BOND / 2) / 3;

        // result 2 (wrong, fresh identity) while g1, g2 still run; 2 games
        vm.roll(block.number + 1);
        submit(rid, bad, stranger);
        uint256 g4 = openGame(rid, honest, challenger);
        uint256 g5 = openGame(rid, honest, sybil);
        reject(g5, bad, stranger, sybil);
        uint256 share2 = (SUB_BOND / 2) / 2;

        // result 3 (right) by an honest submitter; a wrong challenger loses on the live result
        vm.roll(block.number + 1);
        address hs = address(0x4001);
        vm.deal(hs, 10 ether);
        submit(rid, honest, hs);
        uint256 g6 = openGame(rid, bad, sybil2);
        playAs(g6, honest, bad, hs, sybil2);
        game.proveStep(g6, honestProof(g6, m, honest));
        vm.assertEq(uint256(outcome(g6)), uint256(FaultDisputeGame.Outcome.DefenderWon));
        vm.warp(block.timestamp + WINDOW + 1);
        finalizeAs(rid, stranger);

        // the old games end after the request is final, in reverse order
        vm.warp(block.timestamp + 2 * BUDGET + 1);
        game.claimTimeout(g4); // rejected defender stalled: honest wins bond + share2
        game.claimTimeout(g2); // the sybil stalled after the defender's move: challenger loses: burned
        game.claimTimeout(g1); // honest wins bond + share1
        vm.assertEq(uint256(outcome(g2)), uint256(FaultDisputeGame.Outcome.DefenderWon));
        vm.assertEq(manager.credits(challenger) - c0, 2 * CH_BOND + share1 + share2, "honest challenger pay");
        vm.assertEq(manager.credits(hs), FEE + SUB_BOND + CH_BOND, "honest submitter pay");
        vm.assertEq(manager.totalEscrow(), 0, "escrow left");
        (uint32 left,) = manager.rejections(rid, 1);
        vm.assertEq(left, 0);
        assertBooks();
    }

    /// A rejection by the only game (no Rejection entry), then a game on the NEXT result resolved
    /// while the request is Open again: the live path is taken only for the live nonce.
    function test_holds_noCrossNonceConfusion() public {
        uint256 rid = request(modelId);
        submit(rid, bad, submitter);
        uint256 g1 = openGame(rid, honest, challenger);
        reject(g1, bad, submitter, challenger);
        vm.roll(block.number + 1);
        submit(rid, bad, stranger);
        uint256 g2 = openGame(rid, honest, challenger);
        uint256 g3 = openGame(rid, honest, challenger2);
        reject(g2, bad, stranger, challenger);
        // the request is Open (nonce 2 rejected); g3 ends by the defender's clock
        vm.warp(block.timestamp + BUDGET + 1);
        game.claimTimeout(g3);
        vm.assertEq(manager.credits(challenger2), CH_BOND + (SUB_BOND / 2) / 2);
        vm.warp(block.timestamp + 2000);
        refundAs(rid, stranger);
        vm.assertEq(manager.totalEscrow(), 0);
        assertBooks();
    }

    // ================================================================== holds: censorship bound

    /// Adversarial timing: each wrong answer lands at the last second it may, each game is
    /// stalled by the defender to the end of its clock, and the honest challenger acts only at
    /// the end of each window. The refund is still due by deadline + 2 windows + 2 clocks.
    function test_holds_refundBoundWithWorstTiming() public {
        uint256 rid = request(modelId);
        uint256 d0 = manager.getRequest(rid).deadline;
        uint256 bound_ = d0 + 2 * WINDOW + 2 * BUDGET + 1;
        uint256 rounds;
        for (uint256 i = 0; i < 10; ++i) {
            InferenceManager.RequestState memory rq = manager.getRequest(rid);
            if (rq.status != InferenceManager.Status.Open) break;
            if (block.timestamp > rq.deadline) break;
            address who = address(uint160(0xD000 + i));
            vm.deal(who, 10 ether);
            // commit, then answer at the deadline's last second
            commitAs(rid, bad, who);
            vm.roll(block.number + 1);
            vm.warp(rq.deadline);
            (bool ok,) = submitCall(rid, bad, who, SUB_BOND);
            vm.assertTrue(ok);
            // the challenge comes at once while a rejection can still reopen the request (so
            // that another round follows), else at the window's last second
            if (block.timestamp + BUDGET + 1 >= rq.deadlineCap) vm.warp(manager.getRequest(rid).challengeDeadline);
            ++rounds;
            uint256 gid = openGame(rid, honest, challenger);
            // the defender never moves; the timeout is claimed at the first possible second
            vm.warp(block.timestamp + BUDGET + 1);
            game.claimTimeout(gid);
            vm.roll(block.number + 1);
        }
        vm.assertEq(rounds, 2);
        vm.assertTrue(block.timestamp <= bound_, "the rejection came late");
        InferenceManager.RequestState memory r2 = manager.getRequest(rid);
        vm.assertEq(uint256(r2.status), uint256(InferenceManager.Status.Open));
        if (block.timestamp <= r2.deadline) vm.warp(r2.deadline + 1);
        vm.assertTrue(block.timestamp <= bound_, "refund beyond the bound");
        refundAs(rid, stranger);
    }

    // ================================================================== holds: commit

    /// Someone pre-records the honest submitter's commitment (or re-commits it later): it can only
    /// make it older, never block it; a commitment of another sender does not help a copier.
    function test_holds_commitmentCannotBeGriefed() public {
        uint256 rid = request(modelId);
        bytes32 root = honest.stateRoot(m.n());
        bytes32 c = manager.resultCommitment(rid, root, submitter);
        vm.prank(stranger);
        manager.commitResult(c);
        uint256 at = manager.commitBlock(c);
        vm.roll(block.number + 5);
        commitAs(rid, honest, submitter); // does not move the block forward
        vm.assertEq(manager.commitBlock(c), at);
        (bool ok,) = submitCall(rid, honest, submitter, SUB_BOND);
        vm.assertTrue(ok);
    }

    // ================================================================== holds: ceremony

    function test_holds_nonOwnerCannotActivateOrChangeTheRoot() public {
        bytes32 t0 = keccak256("t0");
        uint256 id = registry.registerWithCeremony(registration(m, params(2, 1)), t0, 3600);
        bytes32 root0 = registry.circuitRoot(id);
        vm.prank(stranger);
        registry.contribute(id, t0, keccak256("t1"), keccak256("evil"), "evil");
        vm.warp(block.timestamp + 3600);
        vm.prank(stranger);
        vm.expectRevert(ModelRegistry.NotOwner.selector);
        registry.acceptContribution(id, 0);
        vm.prank(stranger);
        vm.expectRevert(ModelRegistry.NotOwner.selector);
        registry.extendCeremony(id, uint64(block.timestamp + 10));
        vm.prank(stranger);
        vm.expectRevert(ModelRegistry.NotOwner.selector);
        registry.setActive(id, true);
        (bool active,,,,,,) = registry.requestInfo(id);
        vm.assertFalse(active);
        vm.assertEq(registry.circuitRoot(id), root0);
        // after the window: no more contributions
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.CeremonyClosed.selector, id));
        registry.contribute(id, t0, keccak256("t9"), keccak256("evil9"), "evil9");
        // after acceptance: no reopening, no second accept
        registry.acceptContribution(id, 0); // (the owner's choice; it is trusted)
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.AlreadyAccepted.selector, id));
        registry.extendCeremony(id, uint64(block.timestamp + 10));
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.AlreadyAccepted.selector, id));
        registry.acceptContribution(id, 0);
        // a model registered without a ceremony takes no contribution
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.NoCeremony.selector, modelId));
        registry.contribute(modelId, t0, keccak256("x"), keccak256("x"), "x");
    }

    // ================================================================== holds: parameter bounds

    /// With a 12 s block chain and clockBudget exactly minClockBudget, an honest defender that
    /// takes the full 12 s for every move (and the challenger the same) still wins.
    function test_holds_minClockBudgetLetsASlowHonestDefenderWin() public {
        registry = new ModelRegistry(
            ParamBounds({minMoveSeconds: 12, minChallengeWindow: 1, minSubmitterBond: 1, minChallengerBond: 1})
        );
        manager = new InferenceManager(registry);
        game = new FaultDisputeGame(manager, registry, verifier, poseidon);
        manager.setGame(game);
        uint16[3] memory ks = [uint16(2), uint16(3), uint16(8)];
        for (uint256 r = 0; r < ks.length; ++r) {
            DisputeParams memory p = params(ks[r], 1);
            p.clockBudget = registry.minClockBudget(m.n(), p.arity, p.maxGroup);
            uint256 id = register(m, p);
            uint256 rid = requestAs(requester, id, FEE, uint64(block.timestamp + 10000));
            submit(rid, honest, submitter);
            uint256 gid = openGame(rid, bad, challenger);
            for (uint256 guard = 0; guard < 200; ++guard) {
                FaultDisputeGame.Phase ph = phase(gid);
                if (ph == FaultDisputeGame.Phase.DefenderProof) break;
                vm.warp(block.timestamp + 12);
                moveAs(gid, honest, bad, _defenderMoves(ph) ? submitter : challenger);
            }
            vm.warp(block.timestamp + 12);
            game.proveStep(gid, honestProof(gid, m, honest));
            vm.assertEq(uint256(outcome(gid)), uint256(FaultDisputeGame.Outcome.DefenderWon));
        }
    }

    function _defenderMoves(FaultDisputeGame.Phase ph) internal pure returns (bool) {
        return ph == FaultDisputeGame.Phase.DefenderRoots || ph == FaultDisputeGame.Phase.DefenderReveal
            || ph == FaultDisputeGame.Phase.DefenderNodes;
    }

    /// Overflowing or degenerate parameters are refused.
    function test_holds_boundsRefuseOverflow() public {
        DisputeParams memory p = params(2, 1);
        p.challengeWindow = 30 days;
        uint256 id = register(m, p);
        bytes memory input = Packed.pack(simInput());
        vm.prank(requester);
        vm.expectRevert(InferenceManager.BadDeadline.selector);
        manager.requestInference{value: FEE}(id, input, type(uint64).max - 1);
        DisputeParams memory q = params(2, 0);
        ModelRegistry.Registration memory r = registration(m, q);
        vm.expectRevert(ModelRegistry.BadParams.selector);
        registry.register(r);
        q = params(257, 1);
        r = registration(m, q);
        vm.expectRevert(ModelRegistry.BadParams.selector);
        registry.register(r);
    }

    // ================================================================== holds: step openings

    /// An honest defender at the proof phase: openings with another geometry (so another chunk
    /// count and path length) or a chunk outside the real ones are refused.
    function test_holds_inputOpeningsAreBoundToTheSlotGeometry() public {
        uint256 rid = request(modelId);
        submit(rid, honest, submitter);
        uint256 gid = openGame(rid, bad, challenger);
        playToProof(gid, honest, bad);
        FaultDisputeGame.Game memory gm = game.getGame(gid);
        // another geometry for the same slot: another metaHash, so another tensor root
        FaultDisputeGame.StepProof memory sp2 = stepProofAt(m, honest, gm.hi, gm.index, 12345);
        TensorMeta memory meta = sp2.inputs[0].meta;
        meta.chunkLen = meta.chunkLen * 2;
        sp2.inputs[0].meta = meta;
        vm.expectRevert();
        game.proveStep(gid, sp2);
        // a too long chunk path
        FaultDisputeGame.StepProof memory sp3 = stepProofAt(m, honest, gm.hi, gm.index, 12345);
        bytes32[] memory longer = new bytes32[](sp3.inputs[0].chunkPath.length + 1);
        for (uint256 i = 0; i < sp3.inputs[0].chunkPath.length; ++i) longer[i] = sp3.inputs[0].chunkPath[i];
        sp3.inputs[0].chunkPath = longer;
        vm.expectRevert();
        game.proveStep(gid, sp3);
        // the game is still open, and settles by the defender's own (true) digest
        vm.assertEq(uint256(outcome(gid)), uint256(FaultDisputeGame.Outcome.Undecided));
        game.proveStep(gid, honestProof(gid, m, honest));
        vm.assertEq(uint256(outcome(gid)), uint256(FaultDisputeGame.Outcome.DefenderWon));
    }
}
