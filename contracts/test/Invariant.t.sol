// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {vm, TestBase, console} from "./utils/Vm.sol";
import {Fixture} from "./utils/Fixture.sol";
import {SimModel, SimTrace} from "./utils/Sim.sol";
import {InferenceManager} from "../src/InferenceManager.sol";
import {FaultDisputeGame} from "../src/FaultDisputeGame.sol";

/// Random sequences of everything that moves money: requests, results (honest or wrong),
/// challenges (honest, wrong, and by the wrong submitter's own second identity), game moves and
/// proofs, timeouts, finalisations (by anyone, or claimed by the submitter and paid at once),
/// refunds and withdrawals, with time passing in between. The manager stores only the hashes of
/// request and result records: the handler keeps the records the events carry and passes them.
/// Honest parties never miss a move: `submitter` only posts honest results and `challenger`
/// only challenges wrong ones; `cheater` posts wrong results and `challenger2` challenges
/// anything (as the cheater's second identity, or wrongly).
contract Handler is Fixture {
    SimModel public m;
    uint256 public modelId;
    SimTrace public honest;
    SimTrace public bad;
    address[] internal actors;
    mapping(uint256 => bool) internal chalHonest; // game -> challenger plays the honest trace
    uint256 public ghostIn; // wei sent to the manager
    uint256 public ghostOut; // wei withdrawn from it
    uint256 public calls;
    uint256 public resolvedInPlay; // games ended by a proof, a padding check, a timeout or a cancel
    uint256 public movesMade;
    uint256 public claims; // results finalised by their submitter's claim
    address public cheater = address(0xBAD);
    mapping(address => uint256) public withdrawn;

    constructor() {
        deployAll();
        m = newSim(4, 2, "inv");
        modelId = register(m, params(2, 1));
        honest = newTrace(m, 0, 0);
        bad = newTrace(m, 3, 1);
        vm.deal(cheater, 100 ether);
        actors.push(requester);
        actors.push(submitter);
        actors.push(cheater);
        actors.push(challenger);
        actors.push(challenger2);
        actors.push(stranger);
    }

    function actorsList() external view returns (address[] memory) {
        return actors;
    }

    function doRequest(uint256 feeSeed, uint256 dlSeed) external {
        calls++;
        uint256 fee = bound(feeSeed, 0, SUB_BOND / 2 - 1);
        requestAs(requester, modelId, fee, uint64(block.timestamp + bound(dlSeed, 1, 300)));
        ghostIn += fee;
    }

    function doSubmit(uint256 ridSeed, bool useHonest) external {
        calls++;
        uint256 n = manager.requestCount();
        if (n == 0) return;
        uint256 rid = _find(ridSeed, InferenceManager.Status.Open);
        if (rid == type(uint256).max) return;
        InferenceManager.RequestState memory rq = manager.getRequest(rid);
        if (block.timestamp > rq.deadline) return;
        address who = useHonest ? submitter : cheater;
        if (manager.rejectedSubmitter(rid, who)) return;
        submit(rid, useHonest ? honest : bad, who);
        ghostIn += SUB_BOND;
    }

    function doChallenge(uint256 ridSeed, bool second) external {
        calls++;
        uint256 n = manager.requestCount();
        if (n == 0) return;
        uint256 rid = _find(ridSeed, InferenceManager.Status.Submitted);
        if (rid == type(uint256).max) return;
        if (block.timestamp > manager.getRequest(rid).challengeDeadline) return;
        bool h = resRec(rid).finalRoot != honest.stateRoot(m.n());
        if (!h && !second) return; // the honest challenger only challenges wrong results
        uint256 gid = openGame(rid, h ? honest : bad, second ? challenger2 : challenger);
        chalHonest[gid] = h;
        ghostIn += CH_BOND;
    }

    /// A request in `st`, searched from a random start (max when there is none).
    function _find(uint256 seed, InferenceManager.Status st) internal view returns (uint256) {
        uint256 n = manager.requestCount();
        uint256 start = seed % n;
        for (uint256 k = 0; k < n; ++k) {
            uint256 i = (start + k) % n;
            if (manager.getRequest(i).status == st) return i;
        }
        return type(uint256).max;
    }

    /// A game not yet resolved, searched from a random start (max when there is none).
    function _findGame(uint256 seed) internal view returns (uint256) {
        uint256 n = game.gameCount();
        uint256 start = seed % n;
        for (uint256 k = 0; k < n; ++k) {
            uint256 i = (start + k) % n;
            if (game.getGame(i).phase != FaultDisputeGame.Phase.Resolved) return i;
        }
        return type(uint256).max;
    }

    function doMove(uint256 gidSeed) external {
        calls++;
        uint256 n = game.gameCount();
        if (n == 0) return;
        uint256 gid = _findGame(gidSeed);
        if (gid == type(uint256).max) return;
        FaultDisputeGame.Game memory g = game.getGame(gid);
        (uint64 dLeft, uint64 cLeft) = game.clocks(gid);
        bool dTurn = g.phase == FaultDisputeGame.Phase.DefenderRoots || g.phase == FaultDisputeGame.Phase.DefenderReveal
            || g.phase == FaultDisputeGame.Phase.DefenderNodes || g.phase == FaultDisputeGame.Phase.DefenderProof;
        if ((dTurn ? dLeft : cLeft) == 0) return;
        _play(gid, g, dTurn);
    }

    function doTimeout(uint256 gidSeed) external {
        calls++;
        uint256 n = game.gameCount();
        if (n == 0) return;
        uint256 gid = _findGame(gidSeed);
        if (gid == type(uint256).max) return;
        FaultDisputeGame.Game memory g = game.getGame(gid);
        (uint64 dLeft, uint64 cLeft) = game.clocks(gid);
        bool dTurn = g.phase == FaultDisputeGame.Phase.DefenderRoots || g.phase == FaultDisputeGame.Phase.DefenderReveal
            || g.phase == FaultDisputeGame.Phase.DefenderNodes || g.phase == FaultDisputeGame.Phase.DefenderProof;
        // clocks() reports 0 left at exactly the budget; a claim needs one more second
        if ((dTurn ? dLeft : cLeft) != 0) return;
        if (_honestToMove(gid, dTurn)) return; // honest parties never miss a move
        FaultDisputeGame.Game memory gg = game.getGame(gid);
        uint256 used = (dTurn ? gg.defenderClock : gg.challengerClock) + block.timestamp - gg.lastMoveAt;
        if (used <= BUDGET) return;
        game.claimTimeout(gid);
        resolvedInPlay++;
    }

    /// Whether the party to move in `gid` plays the honest trace.
    function _honestToMove(uint256 gid, bool dTurn) internal view returns (bool) {
        return dTurn ? !chalHonest[gid] : chalHonest[gid];
    }

    function doFinalizeOrRefund(uint256 ridSeed) external {
        calls++;
        uint256 n = manager.requestCount();
        if (n == 0) return;
        uint256 rid = bound(ridSeed, 0, n - 1);
        _settle(rid, (ridSeed >> 128) % 2 == 1);
    }

    /// Refunds or finalises `rid` when due, with the records the handler kept from the events:
    /// finalised by anyone (the submitter credited) or claimed by the submitter (paid at once).
    function _settle(uint256 rid, bool byClaim) internal {
        InferenceManager.RequestState memory rq = manager.getRequest(rid);
        if (rq.status == InferenceManager.Status.Open && block.timestamp > rq.deadline) {
            refundAs(rid, stranger);
        } else if (rq.status == InferenceManager.Status.Submitted) {
            if (block.timestamp <= rq.challengeDeadline || rq.activeGames != 0) return;
            if (byClaim) _claim(rid);
            else finalizeAs(rid, stranger);
        }
    }

    /// The submitter finalises its own result and is paid at once.
    function _claim(uint256 rid) internal {
        InferenceManager.RequestRecord memory rq = rqRec(rid);
        InferenceManager.ResultRecord memory res = resRec(rid);
        uint256 amount = rq.fee + res.bond;
        uint256 before = res.submitter.balance;
        vm.prank(res.submitter);
        manager.claim(rid, rq, res);
        vm.assertEq(res.submitter.balance - before, amount, "claim pays fee + bond");
        ghostOut += amount;
        withdrawn[res.submitter] += amount;
        claims++;
    }

    function doWithdraw(uint256 who) external {
        calls++;
        address a = actors[bound(who, 0, actors.length - 1)];
        uint256 c = manager.credits(a);
        if (c == 0) return;
        vm.prank(a);
        manager.withdraw();
        ghostOut += c;
        withdrawn[a] += c;
    }

    /// Time passes, but an honest party whose clock would run out moves first.
    function doWarp(uint256 s) external {
        calls++;
        uint256 dt = bound(s, 1, 40);
        uint256 gc = game.gameCount();
        for (uint256 i = 0; i < gc; ++i) _honestMoveIfDue(i, dt);
        vm.warp(block.timestamp + dt);
    }

    function _honestMoveIfDue(uint256 gid, uint256 dt) internal {
        for (uint256 guard = 0; guard < 100; ++guard) {
            FaultDisputeGame.Game memory g = game.getGame(gid);
            if (g.phase == FaultDisputeGame.Phase.Resolved) return;
            bool dTurn = _dTurn(g.phase);
            if (!_honestToMove(gid, dTurn)) return;
            (uint64 dLeft, uint64 cLeft) = game.clocks(gid);
            if ((dTurn ? dLeft : cLeft) > dt) return;
            _play(gid, g, dTurn);
        }
    }

    function _dTurn(FaultDisputeGame.Phase ph) internal pure returns (bool) {
        return ph == FaultDisputeGame.Phase.DefenderRoots || ph == FaultDisputeGame.Phase.DefenderReveal
            || ph == FaultDisputeGame.Phase.DefenderNodes || ph == FaultDisputeGame.Phase.DefenderProof;
    }

    function _play(uint256 gid, FaultDisputeGame.Game memory g, bool dTurn) internal {
        SimTrace c = chalHonest[gid] ? honest : bad;
        SimTrace d = chalHonest[gid] ? bad : honest;
        if (g.phase == FaultDisputeGame.Phase.DefenderProof) {
            if (g.index >= g.numChunks) game.resolvePadding(gid);
            else game.proveStep(gid, honestProof(gid, m, honest));
            resolvedInPlay++;
        } else {
            moveAs(gid, d, c, dTurn ? g.defender : g.challenger);
            movesMade++;
        }
    }

    /// What the manager owes, recomputed from the public state of every request, game and actor
    /// and from the request and result records the events carried (each checked against the hash
    /// the manager stores).
    function owed() public view returns (uint256 total) {
        uint256 n = manager.requestCount();
        for (uint256 i = 0; i < n; ++i) {
            InferenceManager.RequestState memory rq = manager.getRequest(i);
            vm.assertEq(keccak256(abi.encode(rqRec(i))), manager.requestHash(i), "request record");
            if (rq.status == InferenceManager.Status.Open || rq.status == InferenceManager.Status.Submitted) {
                total += rqRec(i).fee;
            }
            if (rq.status == InferenceManager.Status.Submitted) {
                vm.assertEq(keccak256(abi.encode(resRec(i))), manager.resultHash(i), "result record");
                total += resRec(i).bond;
            } else if (rq.status == InferenceManager.Status.Open) {
                vm.assertEq(manager.resultHash(i), bytes32(0), "no live result on an open request");
            }
        }
        uint256 gc = game.gameCount();
        for (uint256 i = 0; i < gc; ++i) {
            FaultDisputeGame.Game memory g = game.getGame(i);
            if (g.phase == FaultDisputeGame.Phase.Resolved) continue;
            total += g.bond;
            // a running game on a rejected result: its share of that result's bond waits for it
            if (!manager.isResultLive(g.requestId, g.resultNonce)) {
                (, uint96 share) = manager.rejections(g.requestId, g.resultNonce);
                total += share;
            }
        }
        for (uint256 i = 0; i < actors.length; ++i) total += manager.credits(actors[i]);
        total += manager.totalBurned();
    }

    /// What the honest submitter is owed at least: fee + bond of each of its final results.
    function honestSubmitterEarned() public view returns (uint256 total) {
        uint256 n = manager.requestCount();
        for (uint256 i = 0; i < n; ++i) {
            if (manager.getRequest(i).status != InferenceManager.Status.Finalized) continue;
            InferenceManager.ResultRecord memory res = resRec(i);
            vm.assertEq(keccak256(abi.encode(res)), manager.resultHash(i), "final result record");
            if (res.submitter == submitter) total += rqRec(i).fee + res.bond;
        }
    }

    /// What the honest challenger is owed at least: its bond back, and more, for each game that ended.
    function honestChallengerStake() public view returns (uint256 total, uint256 ended) {
        uint256 gc = game.gameCount();
        for (uint256 i = 0; i < gc; ++i) {
            FaultDisputeGame.Game memory g = game.getGame(i);
            if (g.challenger != challenger || g.phase != FaultDisputeGame.Phase.Resolved) continue;
            total += g.bond;
            ended++;
        }
    }

    function honestSubmitter() external view returns (address) {
        return submitter;
    }

    function honestChallenger() external view returns (address) {
        return challenger;
    }

    /// Whether any result of the honest submitter was ever rejected.
    function honestSubmitterRejected() external view returns (bool) {
        uint256 n = manager.requestCount();
        for (uint256 i = 0; i < n; ++i) if (manager.rejectedSubmitter(i, submitter)) return true;
        return false;
    }

    function paidTo(address a) public view returns (uint256) {
        return manager.credits(a) + withdrawn[a];
    }

    /// Ends everything: every game, request and credit; afterwards the manager must be empty.
    function drain() external {
        uint256 gc = game.gameCount();
        for (uint256 i = 0; i < gc; ++i) _honestMoveIfDue(i, type(uint64).max);
        vm.warp(block.timestamp + 10_000);
        for (uint256 i = 0; i < gc; ++i) {
            FaultDisputeGame.Phase ph = game.getGame(i).phase;
            if (ph != FaultDisputeGame.Phase.Resolved) game.claimTimeout(i);
        }
        vm.warp(block.timestamp + 10_000);
        uint256 n = manager.requestCount();
        for (uint256 i = 0; i < n; ++i) _settle(i, i % 2 == 1);
        for (uint256 i = 0; i < actors.length; ++i) {
            uint256 c = manager.credits(actors[i]);
            if (c == 0) continue;
            vm.prank(actors[i]);
            manager.withdraw();
            ghostOut += c;
            withdrawn[actors[i]] += c;
        }
    }

    function managerAddr() external view returns (address) {
        return address(manager);
    }

    function gameAddr() external view returns (address) {
        return address(game);
    }
}

contract InvariantTest is TestBase {
    Handler internal h;

    function setUp() public {
        h = new Handler();
    }

    function targetContracts() public view returns (address[] memory t) {
        t = new address[](1);
        t[0] = address(h);
    }

    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    function targetSelectors() public view returns (FuzzSelector[] memory s) {
        s = new FuzzSelector[](1);
        bytes4[] memory sel = new bytes4[](15);
        sel[0] = Handler.doRequest.selector;
        sel[1] = Handler.doSubmit.selector;
        sel[2] = Handler.doSubmit.selector;
        sel[3] = Handler.doChallenge.selector;
        sel[4] = Handler.doChallenge.selector;
        sel[5] = Handler.doMove.selector;
        sel[6] = Handler.doMove.selector;
        sel[7] = Handler.doMove.selector;
        sel[8] = Handler.doMove.selector;
        sel[9] = Handler.doTimeout.selector;
        sel[10] = Handler.doWarp.selector;
        sel[11] = Handler.doFinalizeOrRefund.selector;
        sel[12] = Handler.doWithdraw.selector;
        sel[13] = Handler.doWarp.selector;
        sel[14] = Handler.doFinalizeOrRefund.selector;
        s[0] = FuzzSelector(address(h), sel);
    }

    /// forge-config: default.invariant.runs = 12
    /// forge-config: default.invariant.depth = 120
    /// forge-config: default.invariant.fail-on-revert = true
    function invariant_holdsExactlyWhatItOwes() public view {
        address mgr = h.managerAddr();
        InferenceManager im = InferenceManager(mgr);
        vm.assertEq(mgr.balance, im.totalEscrow() + im.totalCredits() + im.totalBurned(), "balance == escrow + credits + burned");
        vm.assertEq(mgr.balance, h.owed(), "balance == what is owed, recomputed");
        vm.assertEq(mgr.balance, h.ghostIn() - h.ghostOut(), "balance == in - out");
        vm.assertEq(h.gameAddr().balance, 0);
        _honestPlayNeverLoses();
    }

    function _honestPlayNeverLoses() internal view {
        vm.assertTrue(h.paidTo(h.honestSubmitter()) >= h.honestSubmitterEarned(), "the honest submitter lost money");
        vm.assertFalse(h.honestSubmitterRejected());
        (uint256 stake, uint256 ended) = h.honestChallengerStake();
        // every ended honest game returned its bond and paid a share of a wrong result's bond on top
        vm.assertTrue(h.paidTo(h.honestChallenger()) >= stake + ended, "the honest challenger lost money");
    }

    /// After any sequence, ending everything leaves nothing stuck.
    function afterInvariant() public {
        console.log("games", FaultDisputeGame(h.gameAddr()).gameCount());
        console.log("requests", InferenceManager(h.managerAddr()).requestCount());
        console.log("resolved in play", h.resolvedInPlay());
        console.log("moves", h.movesMade());
        console.log("claims", h.claims());
        console.log("calls", h.calls());
        console.log("time", block.timestamp);
        h.drain();
        _honestPlayNeverLoses();
        InferenceManager im = InferenceManager(h.managerAddr());
        vm.assertEq(h.managerAddr().balance, im.totalBurned(), "nothing stuck but what was burned");
        vm.assertEq(InferenceManager(h.managerAddr()).totalEscrow(), 0);
    }
}
