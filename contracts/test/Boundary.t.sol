// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {vm} from "./utils/Vm.sol";
import {Fixture} from "./utils/Fixture.sol";
import {SimModel, SimTrace, Packed} from "./utils/Sim.sol";
import {FaultDisputeGame} from "../src/FaultDisputeGame.sol";
import {InferenceManager} from "../src/InferenceManager.sol";
import {Groth16Verifier} from "../src/Groth16Verifier.sol";
import {Commitments} from "../src/lib/Commitments.sol";

/// The bindings that moved with the boundary tensors (issue 20, docs/commitments.md "Boundary
/// tensors"): slot 0 and slot n are committed with keccak leaves over packed bytes, and a game
/// that reaches them opens the Poseidon digest of one chunk on chain. Each test tries to break
/// one of them.
/// - a game that ends on op n: the output chunk's packed bytes (`outputValues`) must hash
///   (Poseidon) to the proven digest and have the chunk's length; their keccak leaf, compared with
///   the defender's, is what decides; no output bytes on any other op;
/// - a game that ends on op 1 (reading slot 0): the input chunk's packed bytes must be the leaf
///   under the agreed root (keccak), hash (Poseidon) to the opened digest and have the chunk's
///   length; no bytes for an interior slot.
contract BoundaryTest is Fixture {
    SimModel internal m; // 5 ops; slot 0: 6 values (chunks of 4 and 2); slot 5: 10 values (4, 4, 2)
    uint256 internal modelId;
    SimTrace internal honest;

    function setUp() public {
        deployAll();
        m = newSim(5, 3, "boundary");
        modelId = register(m, params(2, 1));
        honest = newTrace(m, 0, 0);
    }

    /// A game between defender trace `d` and challenger trace `c`, played to the proof phase.
    function _gameAtProof(SimTrace d, SimTrace c) internal returns (uint256 rid, uint256 gid) {
        rid = request(modelId);
        submit(rid, d, submitter);
        gid = openGame(rid, c, challenger);
        playToProof(gid, d, c);
    }

    /// The proof of `sp` regenerated (simulated circuit) for its current public inputs: the
    /// opened digests and the output digest. What a prover could produce if the circuit were
    /// to accept those inputs; the contract's own checks must then be what refuses it.
    function _reprove(FaultDisputeGame.StepProof memory sp, uint32 op, uint32 chunk) internal view {
        uint256 r = sp.inputs.length;
        uint256[] memory pub = new uint256[](r + 1);
        for (uint256 k = 0; k < r; ++k) pub[k] = sp.inputs[k].digest;
        pub[r] = sp.outputDigest;
        sp.proof = g16.prove(m.vkSeed(op, chunk), pub);
    }

    function _flipByte(bytes memory b, uint256 i) internal pure returns (bytes memory out) {
        out = new bytes(b.length);
        for (uint256 q = 0; q < b.length; ++q) out[q] = b[q];
        out[i] = bytes1(uint8(out[i]) ^ 0x01);
    }

    function _appendValue(bytes memory b, int32 v) internal pure returns (bytes memory) {
        return abi.encodePacked(b, v);
    }

    function _dropLastValue(bytes memory b) internal pure returns (bytes memory out) {
        out = new bytes(b.length - 4);
        for (uint256 q = 0; q < out.length; ++q) out[q] = b[q];
    }

    function _expectOutcome(uint256 gid, FaultDisputeGame.Outcome o) internal view {
        vm.assertEq(uint256(outcome(gid)), uint256(o));
    }

    // ================================================================== (a) a game that ends on op n

    /// The defender wrong in output chunk `c` (of op n): the game ends there; the honest proof,
    /// with the true chunk's packed bytes, makes it lose.
    function _lastOpHonestChallengerWins(uint32 c) internal {
        uint32 n = m.n();
        SimTrace bad = newTrace(m, n, c);
        (uint256 rid, uint256 gid) = _gameAtProof(bad, honest);
        FaultDisputeGame.Game memory gm = game.getGame(gid);
        vm.assertEq(gm.hi, n, "op n");
        vm.assertEq(gm.index, c, "chunk");
        // the defender's node at the chunk level is its keccak leaf of the chunk's packed bytes
        vm.assertEq(gm.defenderRoot, keccak256(bad.packedChunk(n, c)), "defender's leaf");
        FaultDisputeGame.StepProof memory sp = honestProof(gid, m, honest);
        vm.assertEq(sp.outputValues.length, 4 * m.chunkLength(n, c), "a whole chunk of packed bytes");
        vm.assertEq(keccak256(sp.outputValues), honest.leaf(n, c), "the true chunk");
        vm.prank(stranger);
        game.proveStep(gid, sp);
        _expectOutcome(gid, FaultDisputeGame.Outcome.ChallengerWon);
        vm.assertEq(uint256(manager.getRequest(rid).status), uint256(InferenceManager.Status.Open));
        vm.assertEq(manager.credits(challenger), CH_BOND + SUB_BOND / 2);
        assertBooks();
    }

    function test_lastOp_honestChallengerWins_fullChunk() public {
        _lastOpHonestChallengerWins(1);
    }

    function test_lastOp_honestChallengerWins_shortChunk() public {
        _lastOpHonestChallengerWins(2); // 2 values: 8 packed bytes
    }

    /// An honest defender whose output chunk a wrong challenger disputes proves it (its leaf is
    /// the keccak of the true bytes) and wins.
    function test_lastOp_honestDefenderWins() public {
        uint32 n = m.n();
        SimTrace bad = newTrace(m, n, 0);
        (, uint256 gid) = _gameAtProof(honest, bad);
        vm.assertEq(game.getGame(gid).hi, n);
        vm.prank(submitter);
        game.proveStep(gid, honestProof(gid, m, honest));
        _expectOutcome(gid, FaultDisputeGame.Outcome.DefenderWon);
        vm.assertEq(manager.credits(submitter), CH_BOND);
        assertBooks();
    }

    /// outputValues that do not hash (Poseidon) to the proven digest are refused, whatever their
    /// keccak: one byte flipped, the defender's own (wrong) bytes, or no bytes at all.
    function test_lastOp_outputValuesNotOfTheDigestRevert() public {
        uint32 n = m.n();
        SimTrace bad = newTrace(m, n, 1);
        (, uint256 gid) = _gameAtProof(bad, honest);
        FaultDisputeGame.StepProof memory sp = honestProof(gid, m, honest);
        bytes memory good = sp.outputValues;

        sp.outputValues = _flipByte(good, 5);
        vm.expectRevert(FaultDisputeGame.BadOutputValues.selector);
        game.proveStep(gid, sp);

        // the true digest's (valid) proof with the defender's bytes: its leaf would match the
        // defender's, but those bytes are not of the proven digest
        sp.outputValues = bad.packedChunk(n, 1);
        vm.assertEq(keccak256(sp.outputValues), game.getGame(gid).defenderRoot);
        vm.prank(submitter);
        vm.expectRevert(FaultDisputeGame.BadOutputValues.selector);
        game.proveStep(gid, sp);

        sp.outputValues = "";
        vm.expectRevert(FaultDisputeGame.BadOutputValues.selector);
        game.proveStep(gid, sp);

        sp.outputValues = good;
        game.proveStep(gid, sp);
        _expectOutcome(gid, FaultDisputeGame.Outcome.ChallengerWon);
    }

    /// outputValues of the wrong length are refused, even with a digest and a (simulated)
    /// valid proof that match them: one value more, one value less, a byte more or less.
    function test_lastOp_outputValuesOfTheWrongLengthRevert() public {
        uint32 n = m.n();
        SimTrace bad = newTrace(m, n, 2); // the short chunk: 2 values
        (, uint256 gid) = _gameAtProof(bad, honest);
        bytes memory good = honest.trueOutputChunk(2);
        vm.assertEq(good.length, 8);

        bytes[] memory wrong = new bytes[](4);
        wrong[0] = _appendValue(good, 7); // 3 values (what a full-length reading of a short chunk would take)
        wrong[1] = _dropLastValue(good); // 1 value
        wrong[2] = abi.encodePacked(good, bytes1(0)); // 9 bytes
        wrong[3] = _appendValue(_appendValue(good, 0), 0); // padded to a whole chunk of 4 values with zeros
        for (uint256 i = 0; i < wrong.length; ++i) {
            FaultDisputeGame.StepProof memory sp = outputProof(gid, m, honest, wrong[i]);
            vm.expectRevert(FaultDisputeGame.BadOutputValues.selector);
            game.proveStep(gid, sp);
        }
        _expectOutcome(gid, FaultDisputeGame.Outcome.Undecided);
        game.proveStep(gid, honestProof(gid, m, honest));
        _expectOutcome(gid, FaultDisputeGame.Outcome.ChallengerWon);
    }

    /// A wrong defender cannot win by proving its own wrong values: no valid proof of their
    /// digest exists (the circuit outputs the true chunk), so the true digest's proof with its
    /// bytes is refused (BadOutputValues, above) and a proof of its digest that was not made for
    /// it does not verify.
    function test_lastOp_wrongDefenderCannotProveItsOwnValues() public {
        uint32 n = m.n();
        SimTrace bad = newTrace(m, n, 0);
        (, uint256 gid) = _gameAtProof(bad, honest);
        FaultDisputeGame.StepProof memory sp = honestProof(gid, m, honest);
        sp.outputValues = bad.packedChunk(n, 0);
        sp.outputDigest = uint256(harness.chunkDigest(sp.outputValues)); // consistent bytes and digest...
        vm.prank(submitter);
        vm.expectRevert(Groth16Verifier.ProofInvalid.selector); // ...but the proof is of the true digest
        game.proveStep(gid, sp);
        _expectOutcome(gid, FaultDisputeGame.Outcome.Undecided);
    }

    /// The leaf comparison is what decides at op n. With the simulated Groth16 a "valid" proof of
    /// any digest can be made (outputProof: the circuit taken to output those bytes; impossible
    /// with a real circuit's keys). A proof of the defender's own bytes makes the defender win,
    /// because their keccak is its leaf; a proof of any other bytes (here: the true chunk with one
    /// value changed, which is neither the defender's nor the true chunk) makes it lose, because
    /// their leaf is not the defender's.
    function test_lastOp_theLeafComparisonDecides() public {
        uint32 n = m.n();
        SimTrace bad = newTrace(m, n, 0);

        // a proof of the defender's bytes: its leaf matches, the defender wins
        (, uint256 g1) = _gameAtProof(bad, honest);
        bytes memory defenders = bad.packedChunk(n, 0);
        vm.assertEq(keccak256(defenders), game.getGame(g1).defenderRoot);
        vm.prank(submitter);
        game.proveStep(g1, outputProof(g1, m, honest, defenders));
        _expectOutcome(g1, FaultDisputeGame.Outcome.DefenderWon);

        // a proof of other bytes: the leaf differs, the defender loses
        (, uint256 g2) = _gameAtProof(bad, honest);
        bytes memory other = Packed.pack(_withFirst(honest.trueOutputChunk(0), 12345));
        vm.assertTrue(keccak256(other) != game.getGame(g2).defenderRoot);
        vm.assertTrue(keccak256(other) != honest.leaf(n, 0));
        game.proveStep(g2, outputProof(g2, m, honest, other));
        _expectOutcome(g2, FaultDisputeGame.Outcome.ChallengerWon);
    }

    /// The values of packed chunk `b` with the first one replaced by `v`.
    function _withFirst(bytes memory b, int32 v) internal pure returns (int32[] memory vals) {
        vals = new int32[](b.length / 4);
        for (uint256 i = 0; i < vals.length; ++i) {
            uint32 u = uint32(uint8(b[4 * i])) << 24 | uint32(uint8(b[4 * i + 1])) << 16
                | uint32(uint8(b[4 * i + 2])) << 8 | uint32(uint8(b[4 * i + 3]));
            vals[i] = int32(u);
        }
        vals[0] = v;
    }

    /// outputValues on an op before n are refused (the output digest is the leaf there).
    function test_outputValuesOnAnInteriorOpRevert() public {
        SimTrace bad = newTrace(m, 3, 1);
        (, uint256 gid) = _gameAtProof(bad, honest);
        vm.assertEq(game.getGame(gid).hi, 3);
        FaultDisputeGame.StepProof memory sp = honestProof(gid, m, honest);
        vm.assertEq(sp.outputValues.length, 0);
        sp.outputValues = honest.packedChunk(m.n(), 1); // any bytes
        vm.expectRevert(FaultDisputeGame.BadOutputValues.selector);
        game.proveStep(gid, sp);
        // even bytes whose Poseidon digest is the proven one
        sp.outputValues = Packed.pack(new int32[](4));
        sp.outputDigest = uint256(harness.chunkDigest(sp.outputValues));
        _reprove(sp, 3, 1);
        vm.expectRevert(FaultDisputeGame.BadOutputValues.selector);
        game.proveStep(gid, sp);
        _expectOutcome(gid, FaultDisputeGame.Outcome.Undecided);
        game.proveStep(gid, honestProof(gid, m, honest));
        _expectOutcome(gid, FaultDisputeGame.Outcome.ChallengerWon);
    }

    // ================================================================== (b) a game that ends on op 1

    /// The defender wrong at op 1, chunk `c` (which reads chunk min(c, 1) of slot 0): the honest
    /// proof, opening slot 0 with its packed bytes, makes it lose.
    function _firstOpHonestChallengerWins(uint32 c) internal {
        SimTrace bad = newTrace(m, 1, c);
        (uint256 rid, uint256 gid) = _gameAtProof(bad, honest);
        FaultDisputeGame.Game memory gm = game.getGame(gid);
        vm.assertEq(gm.hi, 1);
        vm.assertEq(gm.index, c);
        FaultDisputeGame.StepProof memory sp = honestProof(gid, m, honest);
        vm.assertEq(sp.inputSlots.length, 1);
        vm.assertEq(sp.inputSlots[0], 0, "reads slot 0");
        uint32 ic = uint32(sp.inputChunks[0]);
        vm.assertEq(keccak256(sp.inputs[0].values), honest.leaf(0, ic), "the input chunk's bytes");
        vm.assertEq(sp.inputs[0].values.length, 4 * m.chunkLength(0, ic));
        game.proveStep(gid, sp);
        _expectOutcome(gid, FaultDisputeGame.Outcome.ChallengerWon);
        vm.assertEq(uint256(manager.getRequest(rid).status), uint256(InferenceManager.Status.Open));
        assertBooks();
    }

    function test_firstOp_honestChallengerWins_fullInputChunk() public {
        _firstOpHonestChallengerWins(0);
    }

    function test_firstOp_honestChallengerWins_shortInputChunk() public {
        _firstOpHonestChallengerWins(2); // reads slot 0's chunk 1 (2 values)
    }

    /// An honest defender at op 1 opens the input the same way and wins.
    function test_firstOp_honestDefenderWins() public {
        SimTrace bad = newTrace(m, 1, 1);
        (, uint256 gid) = _gameAtProof(honest, bad);
        vm.assertEq(game.getGame(gid).hi, 1);
        vm.prank(submitter);
        game.proveStep(gid, honestProof(gid, m, honest));
        _expectOutcome(gid, FaultDisputeGame.Outcome.DefenderWon);
    }

    /// An opening of slot 0 with bytes whose keccak is not the leaf under the agreed root is
    /// refused, even with the Poseidon digest of those bytes and a proof (simulated) on it: a
    /// party cannot swap the input the requester committed to.
    function test_firstOp_inputBytesNotTheLeafRevert() public {
        SimTrace bad = newTrace(m, 1, 0);
        (, uint256 gid) = _gameAtProof(bad, honest);
        FaultDisputeGame.StepProof memory sp = honestProof(gid, m, honest);
        bytes memory swapped = _flipByte(sp.inputs[0].values, 3); // the first value + 1 (or - 1)
        sp.inputs[0].values = swapped;
        sp.inputs[0].digest = uint256(harness.chunkDigest(swapped));
        sp.outputDigest = honest.trueDigest(1, 0) ^ 1; // whatever the circuit would give on them
        _reprove(sp, 1, 0);
        vm.expectRevert(abi.encodeWithSelector(FaultDisputeGame.BadInputOpening.selector, 0));
        game.proveStep(gid, sp);
        // the other chunk's (true) bytes, with their digest, at this chunk's path
        FaultDisputeGame.StepProof memory sp2 = honestProof(gid, m, honest);
        sp2.inputs[0].values = honest.packedChunk(0, 1);
        sp2.inputs[0].digest = uint256(honest.digest(0, 1));
        _reprove(sp2, 1, 0);
        vm.expectRevert(abi.encodeWithSelector(FaultDisputeGame.BadInputOpening.selector, 0));
        game.proveStep(gid, sp2);
        _expectOutcome(gid, FaultDisputeGame.Outcome.Undecided);
    }

    /// The true bytes of the input chunk with a digest that is not their Poseidon digest are
    /// refused, even with a (simulated) valid proof on that digest.
    function test_firstOp_wrongDigestOfTheInputBytesReverts() public {
        SimTrace bad = newTrace(m, 1, 0);
        (, uint256 gid) = _gameAtProof(bad, honest);
        FaultDisputeGame.StepProof memory sp = honestProof(gid, m, honest);
        sp.inputs[0].digest = sp.inputs[0].digest ^ 1;
        _reprove(sp, 1, 0);
        vm.expectRevert(abi.encodeWithSelector(FaultDisputeGame.BadInputOpening.selector, 0));
        game.proveStep(gid, sp);
        // the digest of slot 0's other chunk
        sp.inputs[0].digest = uint256(honest.digest(0, 1));
        _reprove(sp, 1, 0);
        vm.expectRevert(abi.encodeWithSelector(FaultDisputeGame.BadInputOpening.selector, 0));
        game.proveStep(gid, sp);
        // the digest the challenger's proof needs is only that of the true bytes
        game.proveStep(gid, honestProof(gid, m, honest));
        _expectOutcome(gid, FaultDisputeGame.Outcome.ChallengerWon);
    }

    /// Input bytes of the wrong length (no bytes, one value more or less, a byte more) are refused.
    function test_firstOp_inputBytesOfTheWrongLengthRevert() public {
        SimTrace bad = newTrace(m, 1, 2); // reads slot 0's short chunk (2 values)
        (, uint256 gid) = _gameAtProof(bad, honest);
        bytes memory good = honest.packedChunk(0, 1);
        bytes[] memory wrong = new bytes[](4);
        wrong[0] = "";
        wrong[1] = _appendValue(good, 0);
        wrong[2] = _dropLastValue(good);
        wrong[3] = abi.encodePacked(good, bytes1(0));
        for (uint256 i = 0; i < wrong.length; ++i) {
            FaultDisputeGame.StepProof memory sp = honestProof(gid, m, honest);
            sp.inputs[0].values = wrong[i];
            if (wrong[i].length != 0) sp.inputs[0].digest = uint256(harness.chunkDigest(wrong[i]));
            _reprove(sp, 1, 2);
            vm.expectRevert(abi.encodeWithSelector(FaultDisputeGame.BadInputOpening.selector, 0));
            game.proveStep(gid, sp);
        }
        _expectOutcome(gid, FaultDisputeGame.Outcome.Undecided);
    }

    /// The boundary analogue of attack 6 (an inner node as an input): slot 0's chunks root is
    /// keccak(leaf0 || leaf1), i.e. the "leaf" of the 64 bytes leaf0 || leaf1. Opened as a chunk
    /// with an empty path they are refused, with the registered geometry (wrong length, short
    /// path) and with a geometry made to fit them (16 values in one chunk: another metaHash, so
    /// another tensor root than the agreed one).
    function test_firstOp_innerNodeBytesAreNotAChunk() public {
        SimTrace bad = newTrace(m, 1, 0);
        (, uint256 gid) = _gameAtProof(bad, honest);
        bytes memory node = abi.encodePacked(honest.leaf(0, 0), honest.leaf(0, 1));
        vm.assertEq(keccak256(node), honest.chunksRoot(0), "the bytes of the root's children");
        FaultDisputeGame.StepProof memory sp = honestProof(gid, m, honest);
        sp.inputs[0].values = node;
        sp.inputs[0].digest = uint256(harness.chunkDigest(node));
        sp.inputs[0].chunkPath = new bytes32[](0);
        _reprove(sp, 1, 0);
        vm.expectRevert(abi.encodeWithSelector(FaultDisputeGame.BadInputOpening.selector, 0));
        game.proveStep(gid, sp);
        sp.inputs[0].meta.dims[0] = 16;
        sp.inputs[0].meta.chunkLen = 16;
        vm.expectRevert(abi.encodeWithSelector(FaultDisputeGame.BadInputOpening.selector, 0));
        game.proveStep(gid, sp);
        _expectOutcome(gid, FaultDisputeGame.Outcome.Undecided);
    }

    /// Bytes given with an interior slot's opening are refused (its leaf is the digest itself).
    function test_inputBytesForAnInteriorSlotRevert() public {
        SimTrace bad = newTrace(m, 3, 1);
        (, uint256 gid) = _gameAtProof(bad, honest);
        FaultDisputeGame.StepProof memory sp = honestProof(gid, m, honest);
        vm.assertEq(sp.inputSlots[0], 2, "slot op-1");
        vm.assertEq(sp.inputSlots[1], 0, "slot 0 (skip connection)");
        sp.inputs[0].values = honest.packedChunk(0, 0);
        vm.expectRevert(abi.encodeWithSelector(FaultDisputeGame.BadInputOpening.selector, 0));
        game.proveStep(gid, sp);
        // and slot 0 read at op 3 still needs its bytes
        FaultDisputeGame.StepProof memory sp2 = honestProof(gid, m, honest);
        sp2.inputs[1].values = "";
        vm.expectRevert(abi.encodeWithSelector(FaultDisputeGame.BadInputOpening.selector, 1));
        game.proveStep(gid, sp2);
        game.proveStep(gid, honestProof(gid, m, honest));
        _expectOutcome(gid, FaultDisputeGame.Outcome.ChallengerWon);
    }

    // ================================================================== the posted output

    /// The output a result posts inline must be the tensor whose root is leaf n under its final
    /// root (slot n of the trace it defends): another trace's output, a short one, or the root of
    /// another slot are refused.
    function test_postedOutputIsSlotN() public {
        uint256 rid = request(modelId);
        SimTrace bad = newTrace(m, m.n(), 0);
        uint32 n = m.n();
        commit(rid, honest, submitter);
        bytes32 root = honest.stateRoot(n);
        bytes32[] memory path = honest.statePath(n, n);
        bytes32 outRoot = honest.tensorRoot(n);
        bytes memory out = honest.packedOutput();
        bytes memory badOut = bad.packedOutput();
        bytes memory shortOut = _dropLastValue(out);
        bytes32 prevRoot = honest.tensorRoot(n - 1);
        bytes32[] memory prevPath = honest.statePath(n, n - 1);
        vm.startPrank(submitter);
        vm.expectRevert(InferenceManager.BadOutput.selector);
        manager.submitResult{value: SUB_BOND}(rid, root, outRoot, path, badOut);
        vm.expectRevert(abi.encodeWithSelector(Commitments.BadLength.selector, 36, 40));
        manager.submitResult{value: SUB_BOND}(rid, root, outRoot, path, shortOut);
        // slot n-1's root with its own path: not leaf n
        vm.expectRevert(InferenceManager.BadOutputPath.selector);
        manager.submitResult{value: SUB_BOND}(rid, root, prevRoot, prevPath, "");
        // the honest output: accepted, and readable by a contract once final
        manager.submitResult{value: SUB_BOND}(rid, root, outRoot, path, out);
        vm.stopPrank();
        noteResult(rid, honest, submitter, SUB_BOND);
        vm.warp(block.timestamp + WINDOW + 1);
        finalizeAs(rid, stranger);
        InferenceManager.ResultRecord memory res = resRec(rid);
        int32[] memory got = manager.finalOutput(rid, res, out);
        int32[] memory want = honest.getOutput();
        vm.assertEq(got.length, want.length);
        for (uint256 i = 0; i < got.length; ++i) vm.assertEq(int256(got[i]), int256(want[i]));
        vm.expectRevert(InferenceManager.BadOutput.selector);
        manager.finalOutput(rid, res, badOut);
    }
}
