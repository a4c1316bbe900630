// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {vm, console} from "./utils/Vm.sol";
import {Fixture} from "./utils/Fixture.sol";
import {SimModel, SimTrace, Packed} from "./utils/Sim.sol";
import {FaultDisputeGame} from "../src/FaultDisputeGame.sol";
import {TensorMeta} from "../src/lib/Commitments.sol";
import {GasMeter} from "./utils/GasMeter.sol";

/// The gas of a whole binary dispute over a 155-operator model (MobileNet's operator count),
/// 16 chunks per intermediate tensor, defect in the last chunk of op 100. Each transaction is
/// counted as a transaction: execution + 21000 + calldata gas. Without --isolate all moves run in
/// one test transaction (storage stays warm, figures are low); docs/gas.md records the figures of
/// `forge test --mc GasDisputeTest --isolate -vv`, where each call is its own transaction.
contract GasDisputeTest is Fixture, GasMeter {
    uint256 internal maxMove;
    SimModel internal sm;
    SimTrace internal sHonest;
    SimTrace internal sBad;

    function _step(uint256 gid) internal returns (uint256 g) {
        FaultDisputeGame.Game memory gm = game.getGame(gid);
        if (gm.phase == FaultDisputeGame.Phase.DefenderRoots) {
            bytes32[] memory r = defenderRootsFor(gid, sBad);
            return meter(submitter, address(game), abi.encodeCall(game.postRoots, (gid, r)), "postRoots");
        } else if (gm.phase == FaultDisputeGame.Phase.ChallengerRoots) {
            bytes32[] memory dr = defenderRootsFor(gid, sBad);
            bytes32[] memory cr = sHonest.stateRoots(game.positions(gid));
            return meter(challenger, address(game), abi.encodeCall(game.postCounterRoots, (gid, dr, cr)), "postCounterRoots");
        } else if (gm.phase == FaultDisputeGame.Phase.DefenderReveal) {
            return _reveal(gid, gm.hi);
        } else if (gm.phase == FaultDisputeGame.Phase.ChallengerReveal) {
            bytes memory data = abi.encodeCall(
                game.revealCounterTensor, (gid, sHonest.chunksRoot(gm.hi), sHonest.statePath(gm.hi, gm.hi))
            );
            return meter(challenger, address(game), data, "revealCounterTensor");
        } else if (gm.phase == FaultDisputeGame.Phase.DefenderNodes) {
            bytes32[] memory nd = nodesFor(gid, sBad);
            return meter(submitter, address(game), abi.encodeCall(game.postNodes, (gid, nd)), "postNodes");
        } else if (gm.phase == FaultDisputeGame.Phase.ChallengerNodes) {
            bytes32[] memory dn = nodesFor(gid, sBad);
            bytes32[] memory cn = nodesFor(gid, sHonest);
            return meter(challenger, address(game), abi.encodeCall(game.postCounterNodes, (gid, dn, cn)), "postCounterNodes");
        }
        return 0;
    }

    function _reveal(uint256 gid, uint32 op) internal returns (uint256) {
        TensorMeta memory meta = sm.meta(op);
        bytes32 cr = sBad.chunksRoot(op);
        bytes32[] memory mp = sm.metaPath(op);
        bytes32[] memory sib = sBad.statePath(op, op);
        return meter(submitter, address(game), abi.encodeCall(game.revealTensor, (gid, meta, cr, mp, sib)), "revealTensor");
    }

    function test_binaryDispute155() public {
        uint256 total155 = _dispute(100, 15);
        // issue 20: a whole dispute no more than 10% above docs/gas.md's figure before the boundary
        // tensors (2,238,435 under --isolate)
        if (isolated) vm.assertLt(total155, 2_462_279, "whole dispute within 10% of 2,238,435");
    }

    /// The same dispute at k = 4 and 8 (issue 20: within 10% of the figures before it, measured
    /// with this test on 6dc0b7b: 1,619,881 at k = 4, 1,532,606 at k = 8).
    function test_dispute155_k4() public {
        uint256 t = _dispute(100, 15, 4);
        if (isolated) vm.assertLt(t, 1_781_870, "k = 4 within 10%");
    }

    function test_dispute155_k8() public {
        uint256 t = _dispute(100, 15, 8);
        if (isolated) vm.assertLt(t, 1_685_867, "k = 8 within 10%");
    }

    /// The boundary games: at op 1 the proof opens the input chunk from its packed bytes, at op n
    /// it carries the output chunk's packed bytes; the game hashes them with Poseidon on chain.
    function test_boundaryDisputeFirstOp() public {
        _dispute(1, 15);
    }

    function test_boundaryDisputeLastOp() public {
        _dispute(155, 1); // the simulated output has 3 chunks of up to 4 values
    }

    /// What a boundary step adds to proveStep: the Poseidon digest of one chunk computed on chain
    /// from its packed bytes (the simulated model's boundary chunks have 4 values; real ones up to
    /// 2,048). Execution gas of `Commitments.chunkDigest` through the harness.
    function test_boundaryChunkDigestGas() public {
        deployAll();
        uint256[6] memory sizes = [uint256(4), 10, 32, 96, 1000, 2048];
        for (uint256 i = 0; i < sizes.length; ++i) {
            int32[] memory v = new int32[](sizes[i]);
            for (uint256 j = 0; j < v.length; ++j) {
                v[j] = int32(int256(uint256(keccak256(abi.encode(i, j))) % (1 << 20)) - (1 << 19));
            }
            harness.chunkDigest(Packed.pack(v));
            uint256 g = vm.lastCallGas().gasTotalUsed;
            console.log("chunk digest from packed bytes, values", sizes[i]);
            console.log("  gas", g);
        }
    }

    /// A whole dispute over a 155-operator model with the defect in (`op`, `chunk`), the
    /// challenger honest; returns its gas.
    function _dispute(uint32 op, uint32 chunk) internal returns (uint256) {
        return _dispute(op, chunk, 2);
    }

    function _dispute(uint32 op, uint32 chunk, uint16 arity) internal returns (uint256) {
        deployAll();
        detectIsolation();
        SimModel m = newSim(155, 16, "mobilenet-like");
        uint256 id = register(m, params(arity, 1));
        SimTrace honest = newTrace(m, 0, 0);
        SimTrace bad = newTrace(m, op, chunk);
        console.log("arity k", arity);
        uint256 rid = request(id);
        submit(rid, bad, submitter);
        bytes32 croot = honest.stateRoot(155);
        bytes memory chData = abi.encodeCall(manager.challenge, (rid, rqRec(rid), resRec(rid), croot));
        meterValue(challenger, address(manager), CH_BOND, chData, "challenge (opens the game)");
        // the game was created by that call; the dissection moves follow
        uint256 gid = 0;
        vm.deal(challenger, 100 ether);
        sm = m;
        sHonest = honest;
        sBad = bad;
        for (uint256 guard = 0; guard < 100; ++guard) {
            uint256 g = _step(gid);
            if (g == 0) break;
            if (g > maxMove) maxMove = g;
        }
        vm.assertEq(game.getGame(gid).hi, op);
        vm.assertEq(game.getGame(gid).index, chunk);
        console.log("defect at op", op);
        return _finalStep(gid);
    }

    /// The challenger proves the disputed step; logs the dispute's figures and returns its gas.
    function _finalStep(uint256 gid) internal returns (uint256) {
        FaultDisputeGame.StepProof memory sp = honestProof(gid, sm, sHonest);
        // the pairing check alone, as the game calls it
        uint256 r = sp.inputs.length;
        uint256[] memory pub = new uint256[](r + 1);
        for (uint256 k = 0; k < r; ++k) pub[k] = sp.inputs[k].digest;
        pub[r] = sp.outputDigest;
        verifier.verifyProof(sp.vk, sp.proof, pub);
        // the verification's own execution gas (forge does not isolate view calls)
        uint256 verifyGas = vm.lastCallGas().gasTotalUsed;
        meter(challenger, address(game), abi.encodeCall(game.proveStep, (gid, sp)), "proveStep (final step)");
        vm.assertEq(uint256(outcome(gid)), uint256(FaultDisputeGame.Outcome.ChallengerWon));
        console.log("transactions", txs);
        console.log("largest dissection move", maxMove);
        console.log("groth16 verifyProof, public inputs", r + 1);
        console.log("  gas", verifyGas);
        console.log("whole dispute, challenge to final step", total);
        console.log("whole dispute excluding the Groth16 verification", total - verifyGas);
        vm.assertLt(maxMove, 150_000, "every move under 150k");
        vm.assertLt(total - verifyGas, 3_000_000, "dispute under 3M excluding the pairing check");
        vm.assertLt(verifyGas, 300_000, "verification under 300k");
        return total;
    }
}
