// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {vm, TestBase} from "./Vm.sol";
import {Groth16Sim} from "./Groth16Sim.sol";
import {SimModel, SimTrace, PoseidonHarness, Packed} from "./Sim.sol";
import {TensorMeta} from "../../src/lib/Commitments.sol";
import {IPoseidon5} from "../../src/interfaces/IPoseidon5.sol";
import {Poseidon5Fast} from "../../src/Poseidon5Fast.sol";
import {Groth16Verifier} from "../../src/Groth16Verifier.sol";
import {ModelRegistry, DisputeParams, ParamBounds} from "../../src/ModelRegistry.sol";
import {InferenceManager} from "../../src/InferenceManager.sol";
import {FaultDisputeGame} from "../../src/FaultDisputeGame.sol";

/// Deploys the system and drives games between two simulated traces.
abstract contract Fixture is TestBase {
    IPoseidon5 internal poseidon;
    PoseidonHarness internal harness;
    Groth16Verifier internal verifier;
    ModelRegistry internal registry;
    InferenceManager internal manager;
    FaultDisputeGame internal game;
    Groth16Sim internal g16;

    address internal requester = address(0xA11CE);
    address internal submitter = address(0x5B);
    address internal challenger = address(0xC4);
    address internal challenger2 = address(0xC5);
    address internal stranger = address(0x57);

    uint96 internal constant SUB_BOND = 1 ether;
    uint96 internal constant CH_BOND = 0.5 ether;
    uint256 internal constant FEE = 0.1 ether;
    uint64 internal constant WINDOW = 100;
    uint64 internal constant BUDGET = 60;

    /// The records of requests and live results as their events carry them (the manager stores
    /// only their hashes): what finalize, refund and challenge take.
    mapping(uint256 => InferenceManager.RequestRecord) internal rqRecs;
    mapping(uint256 => InferenceManager.ResultRecord) internal resRecs;

    bytes internal armedRevert; // when set, the next move helper expects its game call to revert with it

    /// The next move made through a helper must revert with `err` (set right before the game call,
    /// after the helper's own view calls).
    function expectMoveRevert(bytes memory err) internal {
        armedRevert = err;
    }

    function _arm() internal {
        if (armedRevert.length != 0) {
            vm.expectRevert(armedRevert);
            delete armedRevert;
        }
    }

    /// The deployed Poseidon: src/Poseidon5Fast.sol (the circomlibjs contract, src/vendor/Poseidon5.sol,
    /// stays as the reference test/PoseidonFast.t.sol compares it with).
    function deployPoseidon() internal returns (IPoseidon5 p) {
        return IPoseidon5(address(new Poseidon5Fast()));
    }

    function deployAll() internal {
        poseidon = deployPoseidon();
        harness = new PoseidonHarness(poseidon);
        verifier = new Groth16Verifier();
        registry = new ModelRegistry(devnetBounds());
        manager = new InferenceManager(registry);
        game = new FaultDisputeGame(manager, registry, verifier, poseidon);
        manager.setGame(game);
        g16 = new Groth16Sim();
        vm.deal(requester, 100 ether);
        vm.deal(submitter, 100 ether);
        vm.deal(challenger, 100 ether);
        vm.deal(challenger2, 100 ether);
        vm.deal(stranger, 100 ether);
        vm.warp(1_000_000);
    }

    /// A chain that includes a move within a second (anvil): the tests' short clocks are legal.
    function devnetBounds() internal pure returns (ParamBounds memory) {
        return ParamBounds({minMoveSeconds: 1, minChallengeWindow: 1, minSubmitterBond: 1, minChallengerBond: 1});
    }

    function params(uint16 arity, uint16 maxGroup) internal pure returns (DisputeParams memory) {
        return DisputeParams({
            arity: arity,
            maxGroup: maxGroup,
            clockBudget: BUDGET,
            challengeWindow: WINDOW,
            submitterBond: SUB_BOND,
            challengerBond: CH_BOND
        });
    }

    function newSim(uint32 n, uint32 midChunks, bytes32 seed) internal returns (SimModel m) {
        m = new SimModel(n, midChunks, seed, g16);
        m.build();
    }

    function registration(SimModel m, DisputeParams memory p)
        internal
        view
        returns (ModelRegistry.Registration memory r)
    {
        r.modelHash = keccak256(abi.encode("model", m.seed()));
        r.manifestCid = "bafkreimanifest";
        r.numOps = m.n();
        r.circuitRoot = m.circuitRoot();
        r.metaRoot = m.metaRoot();
        r.input = m.meta(0);
        r.output = m.meta(m.n());
        r.inputMetaPath = m.metaPath(0);
        r.outputMetaPath = m.metaPath(m.n());
        r.params = p;
    }

    function register(SimModel m, DisputeParams memory p) internal returns (uint256) {
        return registry.register(registration(m, p));
    }

    /// Registers a model whose weighted op reads weight blocks, with the weights root of the
    /// registered weights (seed 0).
    function registerWithWeights(SimModel m, DisputeParams memory p) internal returns (uint256) {
        return registry.registerWithWeights(registration(m, p), m.weightsRoot(0));
    }

    function simInput() internal pure returns (int32[] memory v) {
        v = new int32[](6);
        v[0] = 3;
        v[1] = -7;
        v[2] = 2147483647;
        v[3] = -2147483648;
        v[4] = 0;
        v[5] = 42;
    }

    function newTrace(SimModel m, uint32 defectOp, uint32 defectChunk) internal returns (SimTrace t) {
        t = new SimTrace(m, harness, simInput(), defectOp, defectChunk);
        t.build();
    }

    function newJunkTrace(SimModel m, uint32 junkSlot) internal returns (SimTrace t) {
        t = new SimTrace(m, harness, simInput(), 0, 0);
        t.setJunk(junkSlot);
        t.build();
    }

    /// Plays by the traces until `target` is the phase to move (or the end).
    function playUntil(uint256 gameId, SimTrace d, SimTrace c, FaultDisputeGame.Phase target) internal {
        for (uint256 guard = 0; guard < 200; ++guard) {
            FaultDisputeGame.Phase ph = phase(gameId);
            if (ph == target) return;
            if (ph == FaultDisputeGame.Phase.DefenderRoots) moveDefenderRoots(gameId, d, submitter);
            else if (ph == FaultDisputeGame.Phase.ChallengerRoots) moveChallengerRoots(gameId, d, c, challenger);
            else if (ph == FaultDisputeGame.Phase.DefenderReveal) moveDefenderReveal(gameId, d, submitter);
            else if (ph == FaultDisputeGame.Phase.ChallengerReveal) moveChallengerReveal(gameId, c, challenger);
            else if (ph == FaultDisputeGame.Phase.DefenderNodes) moveDefenderNodes(gameId, d, submitter);
            else if (ph == FaultDisputeGame.Phase.ChallengerNodes) moveChallengerNodes(gameId, d, c, challenger);
            else revert("target phase not reached");
        }
        revert("target phase not reached");
    }

    /// Plays both sides by the traces up to the proof phase (or the end), the defender's moves made
    /// by `d` and the challenger's by `c` (several identities, contracts, one party on both sides).
    function playAs(uint256 gameId, SimTrace dt, SimTrace ct, address d, address c) internal {
        for (uint256 guard = 0; guard < 200; ++guard) {
            FaultDisputeGame.Phase ph = phase(gameId);
            if (ph == FaultDisputeGame.Phase.DefenderProof || ph == FaultDisputeGame.Phase.Resolved) return;
            bool defenderMoves = ph == FaultDisputeGame.Phase.DefenderRoots
                || ph == FaultDisputeGame.Phase.DefenderReveal || ph == FaultDisputeGame.Phase.DefenderNodes;
            moveAs(gameId, dt, ct, defenderMoves ? d : c);
        }
        revert("game did not reach the proof phase");
    }

    /// Makes the move of the current phase by the traces, as `who`.
    function moveAs(uint256 gameId, SimTrace d, SimTrace c, address who) internal {
        FaultDisputeGame.Phase ph = phase(gameId);
        if (ph == FaultDisputeGame.Phase.DefenderRoots) moveDefenderRoots(gameId, d, who);
        else if (ph == FaultDisputeGame.Phase.ChallengerRoots) moveChallengerRoots(gameId, d, c, who);
        else if (ph == FaultDisputeGame.Phase.DefenderReveal) moveDefenderReveal(gameId, d, who);
        else if (ph == FaultDisputeGame.Phase.ChallengerReveal) moveChallengerReveal(gameId, c, who);
        else if (ph == FaultDisputeGame.Phase.DefenderNodes) moveDefenderNodes(gameId, d, who);
        else if (ph == FaultDisputeGame.Phase.ChallengerNodes) moveChallengerNodes(gameId, d, c, who);
        else revert("no move in this phase");
    }

    function request(uint256 modelId) internal returns (uint256 id) {
        vm.prank(requester);
        id = manager.requestInference{value: FEE}(modelId, Packed.pack(simInput()), uint64(block.timestamp + 1000));
        noteRequest(id, requester, FEE, simInputRoot(modelId));
    }

    /// Requests inference on simInput() as `who` with `fee` and `deadline`, and records the
    /// request's record (what InferenceRequested carries).
    function requestAs(address who, uint256 modelId, uint256 fee, uint64 deadline) internal returns (uint256 id) {
        vm.prank(who);
        id = manager.requestInference{value: fee}(modelId, Packed.pack(simInput()), deadline);
        noteRequest(id, who, fee, simInputRoot(modelId));
    }

    /// The calldata of `t`'s submitResult on `requestId` (output inline), for calls made by hand.
    function submitCalldata(uint256 requestId, SimTrace t) internal view returns (bytes memory) {
        uint32 n = t.m().n();
        return abi.encodeCall(
            InferenceManager.submitResult, (requestId, t.stateRoot(n), t.tensorRoot(n), t.statePath(n, n), t.packedOutput())
        );
    }

    /// Records the result `who` submitted by hand for `t` with `bond` (what ResultSubmitted carries).
    function noteResult(uint256 requestId, SimTrace t, address who, uint256 bond) internal {
        uint32 n = t.m().n();
        resRecs[requestId] = InferenceManager.ResultRecord(who, bond, t.stateRoot(n), t.tensorRoot(n));
    }

    /// The tensor root of simInput() as a boundary tensor of `modelId`'s input geometry.
    function simInputRoot(uint256 modelId) internal view returns (bytes32) {
        ModelRegistry.Model memory md = registry.getModel(modelId);
        return harness.boundaryRootOf(md.inputMetaHash, md.inputNumel, md.inputChunkLen, Packed.pack(simInput()));
    }

    /// Records a request made outside `request` (its record is what InferenceRequested carries).
    function noteRequest(uint256 id, address who, uint256 fee, bytes32 inputRoot) internal {
        rqRecs[id] = InferenceManager.RequestRecord(who, fee, inputRoot);
    }

    function rqRec(uint256 id) internal view returns (InferenceManager.RequestRecord memory) {
        return rqRecs[id];
    }

    /// The record of the live (or final) result of `id` as ResultSubmitted carried it.
    function resRec(uint256 id) internal view returns (InferenceManager.ResultRecord memory) {
        return resRecs[id];
    }

    function finalizeAs(uint256 id, address who) internal {
        InferenceManager.RequestRecord memory rq = rqRec(id);
        InferenceManager.ResultRecord memory res = resRec(id);
        _arm();
        vm.prank(who);
        manager.finalize(id, rq, res);
    }

    function refundAs(uint256 id, address who) internal {
        InferenceManager.RequestRecord memory rq = rqRec(id);
        _arm();
        vm.prank(who);
        manager.refund(id, rq);
    }

    /// Commits (one block earlier) and submits `t`'s result as `who`.
    function submit(uint256 requestId, SimTrace t, address who) internal {
        commit(requestId, t, who);
        reveal(requestId, t, who);
    }

    function commit(uint256 requestId, SimTrace t, address who) internal {
        bytes32 root = t.stateRoot(t.m().n());
        vm.prank(who);
        manager.commitResult(manager.resultCommitment(requestId, root, who));
        vm.roll(block.number + 1);
    }

    /// Submits `t`'s result as `who`, its output inline.
    function reveal(uint256 requestId, SimTrace t, address who) internal {
        uint32 n = t.m().n();
        bytes32[] memory path = t.statePath(n, n);
        bytes memory out = t.packedOutput();
        bytes32 root = t.stateRoot(n);
        bytes32 outRoot = t.tensorRoot(n);
        bool expectOk = armedRevert.length == 0;
        _arm();
        vm.prank(who);
        manager.submitResult{value: SUB_BOND}(requestId, root, outRoot, path, out);
        if (expectOk) resRecs[requestId] = InferenceManager.ResultRecord(who, SUB_BOND, root, outRoot);
    }

    function openGame(uint256 requestId, SimTrace t, address who) internal returns (uint256 gameId) {
        bytes32 root = t.stateRoot(t.m().n());
        InferenceManager.RequestRecord memory rq = rqRec(requestId);
        InferenceManager.ResultRecord memory res = resRec(requestId);
        _arm();
        vm.prank(who);
        gameId = manager.challenge{value: CH_BOND}(requestId, rq, res, root);
    }

    function phase(uint256 gameId) internal view returns (FaultDisputeGame.Phase) {
        return game.getGame(gameId).phase;
    }

    // ------------------------------------------------------------- single moves

    function defenderRootsFor(uint256 gameId, SimTrace d) internal view returns (bytes32[] memory) {
        return d.stateRoots(game.positions(gameId));
    }

    function moveDefenderRoots(uint256 gameId, SimTrace d, address who) internal {
        bytes32[] memory roots = defenderRootsFor(gameId, d);
        _arm();
        vm.prank(who);
        game.postRoots(gameId, roots);
    }

    function moveChallengerRoots(uint256 gameId, SimTrace d, SimTrace c, address who) internal {
        bytes32[] memory dr = defenderRootsFor(gameId, d);
        bytes32[] memory cr = c.stateRoots(game.positions(gameId));
        _arm();
        vm.prank(who);
        game.postCounterRoots(gameId, dr, cr);
    }

    function moveDefenderReveal(uint256 gameId, SimTrace d, address who) internal {
        FaultDisputeGame.Game memory gm = game.getGame(gameId);
        uint32 op = gm.hi;
        SimModel m = d.m();
        TensorMeta memory meta = m.meta(op);
        bytes32 cr = d.chunksRoot(op);
        bytes32[] memory mp = m.metaPath(op);
        bytes32[] memory sib = d.statePath(op, op);
        _arm();
        vm.prank(who);
        game.revealTensor(gameId, meta, cr, mp, sib);
    }

    function moveChallengerReveal(uint256 gameId, SimTrace c, address who) internal {
        uint32 op = game.getGame(gameId).hi;
        bytes32 cr = c.chunksRoot(op);
        bytes32[] memory sib = c.statePath(op, op);
        _arm();
        vm.prank(who);
        game.revealCounterTensor(gameId, cr, sib);
    }

    function nodesFor(uint256 gameId, SimTrace t) internal view returns (bytes32[] memory) {
        FaultDisputeGame.Game memory gm = game.getGame(gameId);
        uint8 k = game.chunkStep(gameId);
        return t.nodesBelow(gm.hi, gm.height, gm.index, k);
    }

    function moveDefenderNodes(uint256 gameId, SimTrace d, address who) internal {
        bytes32[] memory nodes = nodesFor(gameId, d);
        _arm();
        vm.prank(who);
        game.postNodes(gameId, nodes);
    }

    function moveChallengerNodes(uint256 gameId, SimTrace d, SimTrace c, address who) internal {
        bytes32[] memory dn = nodesFor(gameId, d);
        bytes32[] memory cn = nodesFor(gameId, c);
        _arm();
        vm.prank(who);
        game.postCounterNodes(gameId, dn, cn);
    }

    /// Plays both sides by their traces until the proof phase (or the end).
    /// Plays every move up to the proof phase; returns the rounds played at the operator level
    /// and at the chunk level (a round = the defender's move and the challenger's answer).
    function playToProof(uint256 gameId, SimTrace d, SimTrace c)
        internal
        returns (uint256 opRounds, uint256 chunkRounds)
    {
        for (uint256 guard = 0; guard < 200; ++guard) {
            FaultDisputeGame.Phase ph = phase(gameId);
            if (ph == FaultDisputeGame.Phase.DefenderRoots) {
                moveDefenderRoots(gameId, d, submitter);
                ++opRounds;
            } else if (ph == FaultDisputeGame.Phase.ChallengerRoots) {
                moveChallengerRoots(gameId, d, c, challenger);
            } else if (ph == FaultDisputeGame.Phase.DefenderReveal) {
                moveDefenderReveal(gameId, d, submitter);
            } else if (ph == FaultDisputeGame.Phase.ChallengerReveal) {
                moveChallengerReveal(gameId, c, challenger);
            } else if (ph == FaultDisputeGame.Phase.DefenderNodes) {
                moveDefenderNodes(gameId, d, submitter);
                ++chunkRounds;
            } else if (ph == FaultDisputeGame.Phase.ChallengerNodes) {
                moveChallengerNodes(gameId, d, c, challenger);
            } else {
                return (opRounds, chunkRounds);
            }
        }
        revert("game did not reach the proof phase");
    }

    // ------------------------------------------------------------- the final step

    /// The step proof for the disputed (op, chunk), input chunks opened in trace `t` (which must
    /// agree with the game's root(i-1)), circuit of model `m`, proving digest `out`.
    function stepProof(uint256 gameId, SimModel m, SimTrace t, uint256 out)
        internal
        view
        returns (FaultDisputeGame.StepProof memory sp)
    {
        FaultDisputeGame.Game memory gm = game.getGame(gameId);
        return stepProofAt(m, t, gm.hi, gm.index, out);
    }

    function stepProofAt(SimModel m, SimTrace t, uint32 op, uint32 chunk, uint256 out)
        internal
        view
        returns (FaultDisputeGame.StepProof memory sp)
    {
        sp.vk = m.vk(op, chunk);
        (sp.inputSlots, sp.inputChunks) = m.reads(op, chunk);
        sp.leafIndex = m.leafIndex(op, chunk);
        sp.circuitPath = m.circuitPath(op, chunk);
        uint256 r = sp.inputSlots.length;
        sp.inputs = new FaultDisputeGame.InputOpening[](r);
        uint256[] memory pub = new uint256[](r + 1);
        for (uint256 k = 0; k < r; ++k) {
            uint32 s = uint32(sp.inputSlots[k]);
            uint32 c = uint32(sp.inputChunks[k]);
            if (s > m.n()) {
                // a weight block, under the weights this party ran
                uint256 wseed = t.weightsSeed();
                sp.inputs[k].digest = m.weightDigest(wseed, c);
                sp.inputs[k].chunkPath = m.blockPath(wseed, c);
                sp.inputs[k].statePath = m.weightsPath(wseed);
                pub[k] = sp.inputs[k].digest;
                continue;
            }
            sp.inputs[k].meta = m.meta(s);
            sp.inputs[k].digest = uint256(t.digest(s, c));
            if (s == 0) sp.inputs[k].values = t.packedChunk(0, c);
            sp.inputs[k].chunkPath = t.chunkPath(s, c);
            sp.inputs[k].statePath = t.statePath(op - 1, s);
            pub[k] = sp.inputs[k].digest;
        }
        pub[r] = out;
        sp.outputDigest = out;
        sp.proof = g16.prove(m.vkSeed(op, chunk), pub);
    }

    /// The honest proof of the disputed chunk: the circuit's output on the agreed inputs (for
    /// the last op, with the output chunk's packed bytes).
    function honestProof(uint256 gameId, SimModel m, SimTrace agreed)
        internal
        view
        returns (FaultDisputeGame.StepProof memory sp)
    {
        FaultDisputeGame.Game memory gm = game.getGame(gameId);
        sp = stepProof(gameId, m, agreed, agreed.trueDigest(gm.hi, gm.index));
        if (gm.hi == m.n()) sp.outputValues = agreed.trueOutputChunk(gm.index);
    }

    /// A valid proof at the last op that outputs `values` (packed) for the disputed chunk: the
    /// (simulated) circuit is taken to output them.
    function outputProof(uint256 gameId, SimModel m, SimTrace agreed, bytes memory values)
        internal
        view
        returns (FaultDisputeGame.StepProof memory sp)
    {
        sp = stepProof(gameId, m, agreed, uint256(harness.chunkDigest(values)));
        sp.outputValues = values;
    }

    function outcome(uint256 gameId) internal view returns (FaultDisputeGame.Outcome) {
        return game.getGame(gameId).outcome;
    }

    function assertBooks() internal view {
        vm.assertEq(
            address(manager).balance, manager.totalEscrow() + manager.totalCredits() + manager.totalBurned(), "books"
        );
        vm.assertEq(address(game).balance, 0, "game holds no money");
    }
}
