// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {vm, TestBase, console} from "./utils/Vm.sol";
import {Groth16Verifier} from "../src/Groth16Verifier.sol";

contract Groth16VerifierTest is TestBase {
    uint256 internal constant P = 21888242871839275222246405745257275088696311157297823662689037894645226208583;
    uint256 internal constant R = 21888242871839275222246405745257275088548364400416034343698204186575808495617;
    Groth16Verifier internal verifier;
    bytes internal vk;
    uint256[8] internal proof;
    uint256[] internal inputs;

    function setUp() public {
        verifier = new Groth16Verifier();
        _load("test/vectors/groth16_sim.json", ".standalone");
    }

    function _load(string memory path, string memory prefix) internal {
        string memory j = vm.readFile(path);
        vk = vm.parseJsonBytes(j, string.concat(prefix, ".vk_abi"));
        uint256[] memory p = vm.parseJsonUintArray(j, string.concat(prefix, ".proof"));
        for (uint256 i = 0; i < 8; ++i) proof[i] = p[i];
        inputs = vm.parseJsonUintArray(j, string.concat(prefix, ".public_inputs"));
        // the vk_abi must be the abi encoding of the vk fields (docs/commitments.md)
        uint256[] memory a1 = vm.parseJsonUintArray(j, string.concat(prefix, ".vk.alpha1"));
        uint256[] memory b2 = vm.parseJsonUintArray(j, string.concat(prefix, ".vk.beta2"));
        (uint256[2] memory alpha1, uint256[4] memory beta2,,, uint256[2][] memory ic) =
            abi.decode(vk, (uint256[2], uint256[4], uint256[4], uint256[4], uint256[2][]));
        vm.assertEq(alpha1[0], a1[0]);
        vm.assertEq(alpha1[1], a1[1]);
        for (uint256 i = 0; i < 4; ++i) vm.assertEq(beta2[i], b2[i]);
        vm.assertEq(ic.length, inputs.length + 1);
    }

    function test_validProofVerifies() public view {
        bytes memory v = vk;
        uint256[8] memory p = proof;
        uint256[] memory x = inputs;
        uint256 g = gasleft();
        verifier.verifyProof(v, p, x);
        uint256 used = g - gasleft();
        console.log("groth16 verify gas (2 public inputs)", used);
        vm.assertLt(used, 300_000, "verification under 300k gas");
    }

    function test_wrongInputReverts() public {
        inputs[0] += 1;
        vm.expectRevert(Groth16Verifier.ProofInvalid.selector);
        verifier.verifyProof(vk, proof, inputs);
    }

    function test_inputAliasModRReverts() public {
        // x and x + r are the same field element: the verifier must refuse the alias
        inputs[0] += R;
        vm.expectRevert(abi.encodeWithSelector(Groth16Verifier.PublicInputNotInField.selector, 0));
        verifier.verifyProof(vk, proof, inputs);
    }

    function test_everyProofElementMatters() public {
        for (uint256 i = 0; i < 8; ++i) {
            uint256[8] memory p = proof;
            p[i] = addmod(p[i], 1, P);
            // an invalid point makes the precompile fail and burn the gas it was given: bound it
            vm.expectRevert(Groth16Verifier.ProofInvalid.selector);
            verifier.verifyProof{gas: 1_000_000}(vk, p, inputs);
        }
    }

    function test_proofElementOutOfFieldReverts() public {
        uint256[8] memory p = proof;
        p[1] += P;
        vm.expectRevert(Groth16Verifier.BadProofEncoding.selector);
        verifier.verifyProof(vk, p, inputs);
    }

    function test_negatedAIsNotAccepted() public {
        uint256[8] memory p = proof;
        p[1] = P - p[1];
        vm.expectRevert(Groth16Verifier.ProofInvalid.selector);
        verifier.verifyProof(vk, p, inputs);
    }

    function test_inputCountMustMatchVk() public {
        uint256[] memory more = new uint256[](inputs.length + 1);
        for (uint256 i = 0; i < inputs.length; ++i) more[i] = inputs[i];
        vm.expectRevert(Groth16Verifier.BadVerifyingKey.selector);
        verifier.verifyProof(vk, proof, more);
        bytes memory cut = new bytes(vk.length - 64);
        for (uint256 i = 0; i < cut.length; ++i) cut[i] = vk[i];
        vm.expectRevert(Groth16Verifier.BadVerifyingKey.selector);
        verifier.verifyProof(cut, proof, inputs);
    }

    function test_tamperedVkReverts() public {
        bytes memory v = vk;
        v[100] = bytes1(uint8(v[100]) ^ 1); // inside beta2
        vm.expectRevert(Groth16Verifier.ProofInvalid.selector);
        verifier.verifyProof{gas: 1_000_000}(v, proof, inputs);
    }

    /// With too little gas the call fails; it never "succeeds" without verifying.
    function test_outOfGasNeverSucceeds() public view {
        for (uint256 gas_ = 20_000; gas_ < 200_000; gas_ += 30_000) {
            (bool ok,) = address(verifier).staticcall{gas: gas_}(
                abi.encodeCall(Groth16Verifier.verifyProof, (vk, proof, inputs))
            );
            vm.assertFalse(ok);
        }
        (bool ok2,) = address(verifier).staticcall{gas: 400_000}(
            abi.encodeCall(Groth16Verifier.verifyProof, (vk, proof, inputs))
        );
        vm.assertTrue(ok2);
    }

    /// A real arkworks proof from the Rust side (crates/zk): testdata/vectors/groth16.json.
    function test_rustArkworksVector() public {
        string memory path = "../testdata/vectors/groth16.json";
        _load(path, "");
        uint256 g = gasleft();
        verifier.verifyProof(vk, proof, inputs);
        console.log("groth16 verify gas (arkworks vector)", g - gasleft());
        inputs[inputs.length - 1] = addmod(inputs[inputs.length - 1], 1, R);
        vm.expectRevert(Groth16Verifier.ProofInvalid.selector);
        verifier.verifyProof(vk, proof, inputs);
    }
}
