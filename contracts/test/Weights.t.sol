// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {vm, console} from "./utils/Vm.sol";
import {Fixture} from "./utils/Fixture.sol";
import {SimModel, SimTrace} from "./utils/Sim.sol";
import {FaultDisputeGame} from "../src/FaultDisputeGame.sol";
import {ModelRegistry} from "../src/ModelRegistry.sol";

/// Committed weights (issue 22, docs/commitments.md "Weights root"): a model registered with a
/// weights root has an op whose chunks read a weight block, which `proveStep` opens under that
/// root. Each test tries to prove a step with weights other than the registered ones, or to
/// open a block where none may be read.
contract WeightsTest is Fixture {
    uint32 internal constant W = 3; // the weighted op
    SimModel internal m; // 5 ops; op 3's chunk j reads (slot 5 + 3, chunk j) last
    uint256 internal modelId;
    SimTrace internal honest;

    function setUp() public {
        deployAll();
        m = new SimModel(5, 3, "weights", g16);
        m.setWeighted(W);
        m.build();
        modelId = registerWithWeights(m, params(2, 1));
        honest = newTrace(m, 0, 0);
    }

    function _gameAtProof(uint256 model, SimTrace d, SimTrace c) internal returns (uint256 gid) {
        uint256 rid = request(model);
        submit(rid, d, submitter);
        gid = openGame(rid, c, challenger);
        playToProof(gid, d, c);
    }

    /// A party that runs op 3 with its own weights (every chunk of op 3 differs, and what follows).
    function _otherWeights() internal returns (SimTrace t) {
        t = new SimTrace(m, harness, simInput(), 0, 0);
        t.setWeights(7);
        t.build();
    }

    function _expectOutcome(uint256 gid, FaultDisputeGame.Outcome o) internal view {
        vm.assertEq(uint256(outcome(gid)), uint256(o));
    }

    function test_theRegistryRecordsTheWeightsRoot() public view {
        vm.assertEq(registry.weightsRoot(modelId), m.weightsRoot(0));
        vm.assertTrue(m.weightsRoot(0) != m.weightsRoot(7));
    }

    /// The root is fixed at registration: the owner (or anyone) registering the same model
    /// again with other weights makes another model and leaves this one's root as it was.
    function test_theRootCannotBeReplaced() public {
        bytes32 before = registry.weightsRoot(modelId);
        ModelRegistry.Registration memory r = registration(m, params(2, 1));
        bytes32 other = m.weightsRoot(7);
        vm.prank(address(this));
        uint256 again = registry.registerWithWeights(r, other);
        vm.prank(stranger);
        uint256 third = registry.registerWithWeights(r, other);
        vm.assertTrue(again != modelId && third != modelId && again != third);
        vm.assertEq(registry.weightsRoot(modelId), before);
        vm.assertEq(registry.weightsRoot(again), other);
    }

    function test_aZeroWeightsRootIsRefused() public {
        ModelRegistry.Registration memory r = registration(m, params(2, 1));
        vm.expectRevert(ModelRegistry.BadParams.selector);
        registry.registerWithWeights(r, bytes32(0));
    }

    /// An honest defender proves the weighted op with the registered block and wins.
    function test_honestDefenderProvesWithTheRegisteredWeights() public {
        SimTrace bad = newTrace(m, W, 1);
        uint256 gid = _gameAtProof(modelId, honest, bad);
        FaultDisputeGame.Game memory gm = game.getGame(gid);
        vm.assertEq(gm.hi, W, "the weighted op");
        vm.assertEq(gm.index, 1, "chunk");
        FaultDisputeGame.StepProof memory sp = honestProof(gid, m, honest);
        vm.assertEq(sp.inputSlots[sp.inputSlots.length - 1], 5 + W, "the weight slot, last");
        vm.prank(submitter);
        game.proveStep(gid, sp);
        _expectOutcome(gid, FaultDisputeGame.Outcome.DefenderWon);
        assertBooks();
    }

    /// A defender that ran other weights cannot open them under the registered root, nor pass
    /// the registered block's path off as its own; the honest challenger's proof ends the game.
    function test_aDefenderWithOtherWeightsCannotProveItsStep() public {
        SimTrace cheat = _otherWeights();
        uint256 gid = _gameAtProof(modelId, cheat, honest);
        FaultDisputeGame.Game memory gm = game.getGame(gid);
        vm.assertEq(gm.hi, W, "the first op that differs is the weighted one");
        // its own block, digest and paths: not under the registered root
        FaultDisputeGame.StepProof memory own = honestProof(gid, m, cheat);
        uint256 last = own.inputs.length - 1;
        vm.prank(submitter);
        vm.expectRevert(abi.encodeWithSelector(FaultDisputeGame.BadInputOpening.selector, last));
        game.proveStep(gid, own);
        // its own digest with the registered block's paths
        FaultDisputeGame.StepProof memory borrowed = honestProof(gid, m, cheat);
        borrowed.inputs[last].chunkPath = m.blockPath(0, gm.index);
        borrowed.inputs[last].statePath = m.weightsPath(0);
        vm.prank(submitter);
        vm.expectRevert(abi.encodeWithSelector(FaultDisputeGame.BadInputOpening.selector, last));
        game.proveStep(gid, borrowed);
        // the registered block of another chunk
        FaultDisputeGame.StepProof memory shifted = honestProof(gid, m, honest);
        uint32 other = gm.index == 0 ? 1 : 0;
        shifted.inputs[last].digest = m.weightDigest(0, other);
        shifted.inputs[last].chunkPath = m.blockPath(0, other);
        vm.expectRevert(abi.encodeWithSelector(FaultDisputeGame.BadInputOpening.selector, last));
        game.proveStep(gid, shifted);
        // the true step (registered weights) decides
        vm.prank(challenger);
        game.proveStep(gid, honestProof(gid, m, honest));
        _expectOutcome(gid, FaultDisputeGame.Outcome.ChallengerWon);
        assertBooks();
    }

    /// A table that reads a weight block in a model registered without a weights root: no
    /// proof of that step opens, so a defender cannot lean on weights nobody registered.
    function test_aWeightReadWithoutAWeightsRootReverts() public {
        uint256 bare = register(m, params(2, 1));
        vm.assertEq(registry.weightsRoot(bare), bytes32(0));
        SimTrace bad = newTrace(m, W, 0);
        uint256 gid = _gameAtProof(bare, honest, bad);
        vm.assertEq(game.getGame(gid).hi, W);
        FaultDisputeGame.StepProof memory sp = honestProof(gid, m, honest);
        vm.prank(submitter);
        vm.expectRevert(abi.encodeWithSelector(FaultDisputeGame.BadInputOpening.selector, sp.inputs.length - 1));
        game.proveStep(gid, sp);
    }

    /// Defence in depth behind the circuit leaf (which already fixes the read): a zero digest
    /// (the leaf of an op without weights) and a weights path of the wrong length are refused,
    /// each with a proof made for exactly those public inputs.
    function test_malformedWeightOpeningsRevert() public {
        SimTrace bad = newTrace(m, W, 1);
        uint256 gid = _gameAtProof(modelId, honest, bad);
        FaultDisputeGame.StepProof memory sp = honestProof(gid, m, honest);
        uint256 last = sp.inputs.length - 1;
        FaultDisputeGame.StepProof memory zero = honestProof(gid, m, honest);
        zero.inputs[last].digest = 0;
        _reprove(gid, zero);
        vm.expectRevert(abi.encodeWithSelector(FaultDisputeGame.BadInputOpening.selector, last));
        game.proveStep(gid, zero);
        FaultDisputeGame.StepProof memory deep = honestProof(gid, m, honest);
        bytes32[] memory wp = new bytes32[](deep.inputs[last].statePath.length + 1);
        for (uint256 i = 0; i + 1 < wp.length; ++i) wp[i] = deep.inputs[last].statePath[i];
        deep.inputs[last].statePath = wp;
        vm.expectRevert(abi.encodeWithSelector(FaultDisputeGame.BadInputOpening.selector, last));
        game.proveStep(gid, deep);
        // the honest opening still proves
        vm.prank(submitter);
        game.proveStep(gid, sp);
        _expectOutcome(gid, FaultDisputeGame.Outcome.DefenderWon);
    }

    /// An inner node of the blocks tree passed off as block 0's digest, with the path above it:
    /// the root matches, only the path's length refuses it (leaves are opened at their depth).
    function test_anInnerNodeIsNotABlock() public {
        SimTrace bad = newTrace(m, W, 0);
        uint256 gid = _gameAtProof(modelId, honest, bad);
        vm.assertEq(game.getGame(gid).index, 0);
        FaultDisputeGame.StepProof memory sp = honestProof(gid, m, honest);
        uint256 last = sp.inputs.length - 1;
        bytes32[] memory full = sp.inputs[last].chunkPath;
        vm.assertEq(full.length, 2, "three blocks: a tree of height 2");
        bytes32 node = keccak256(abi.encodePacked(bytes32(m.weightDigest(0, 0)), bytes32(m.weightDigest(0, 1))));
        bytes32[] memory above = new bytes32[](1);
        above[0] = full[1];
        sp.inputs[last].digest = uint256(node);
        sp.inputs[last].chunkPath = above;
        _reprove(gid, sp);
        vm.expectRevert(abi.encodeWithSelector(FaultDisputeGame.BadInputOpening.selector, last));
        game.proveStep(gid, sp);
    }

    /// A registered table whose weighted op reads another op's block slot, another chunk's
    /// block, or its own block before its inputs: each opening is a valid path under the
    /// weights root (for another slot, of the op's own block: the path names the op, not the
    /// slot), so only `proveStep`'s read checks refuse the step. The
    /// same model with the step's own block read last proves (the control).
    function test_aTableReadingAnotherBlockCannotProve() public {
        uint32[3] memory slotOffset = [uint32(1), 0, 0];
        uint32[3] memory chunkOffset = [uint32(0), 1, 0];
        bool[3] memory first = [false, false, true];
        for (uint256 v = 0; v < 4; ++v) {
            SimModel w = new SimModel(5, 3, "weights", g16);
            w.setWeighted(W);
            if (v < 3) w.setWeightRead(slotOffset[v], chunkOffset[v], first[v]);
            w.build();
            uint256 id = registerWithWeights(w, params(2, 1));
            SimTrace good = newTrace(w, 0, 0);
            uint256 gid = _gameAtProof(id, good, newTrace(w, W, 0));
            vm.assertEq(game.getGame(gid).hi, W);
            FaultDisputeGame.StepProof memory sp = honestProof(gid, w, good);
            uint256 k = first[v % 3] && v < 3 ? 0 : sp.inputs.length - 1;
            vm.assertEq(sp.inputSlots[k], uint256(5) + W + (v < 3 ? slotOffset[v] : 0), "the block read");
            vm.prank(submitter);
            if (v < 3) {
                vm.expectRevert(abi.encodeWithSelector(FaultDisputeGame.BadInputOpening.selector, k));
                game.proveStep(gid, sp);
            } else {
                game.proveStep(gid, sp);
                _expectOutcome(gid, FaultDisputeGame.Outcome.DefenderWon);
            }
        }
    }

    /// A proof regenerated (simulated circuit) for `sp`'s current public inputs.
    function _reprove(uint256 gid, FaultDisputeGame.StepProof memory sp) internal view {
        FaultDisputeGame.Game memory gm = game.getGame(gid);
        uint256 r = sp.inputs.length;
        uint256[] memory pub = new uint256[](r + 1);
        for (uint256 k = 0; k < r; ++k) pub[k] = sp.inputs[k].digest;
        pub[r] = sp.outputDigest;
        sp.proof = g16.prove(m.vkSeed(gm.hi, gm.index), pub);
    }

    /// Steps of the other ops read no weights and prove as before in a weighted model.
    /// What a weight read adds to `proveStep` (docs/gas.md): the block's public input in the
    /// Groth16 verification and its two Merkle paths, against an op of the same model that
    /// reads no block. Both settle the game the same way.
    function test_gasOfAWeightRead() public {
        uint256 weighted = _proveStepGas(W);
        uint256 plain = _proveStepGas(W + 1);
        console.log("proveStep gas, op with a weight read", weighted);
        console.log("proveStep gas, op without", plain);
        vm.assertLt(weighted, 500_000, "the issue's bound for a step's verification");
        vm.assertLt(weighted - plain, 60_000, "one public input, its opening and two short paths");
    }

    function _proveStepGas(uint32 op) internal returns (uint256 used) {
        SimTrace bad = newTrace(m, op, 1);
        uint256 gid = _gameAtProof(modelId, honest, bad);
        vm.assertEq(game.getGame(gid).hi, op);
        FaultDisputeGame.StepProof memory sp = honestProof(gid, m, honest);
        vm.prank(submitter);
        uint256 g = gasleft();
        game.proveStep(gid, sp);
        used = g - gasleft();
        _expectOutcome(gid, FaultDisputeGame.Outcome.DefenderWon);
    }

    function test_otherOpsProveAsBefore() public {
        SimTrace bad = newTrace(m, 4, 0);
        uint256 gid = _gameAtProof(modelId, honest, bad);
        vm.assertEq(game.getGame(gid).hi, 4);
        vm.prank(submitter);
        game.proveStep(gid, honestProof(gid, m, honest));
        _expectOutcome(gid, FaultDisputeGame.Outcome.DefenderWon);
    }
}
