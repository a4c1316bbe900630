// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {vm} from "./utils/Vm.sol";

/// contracts/artifacts/*.json (what the Rust side deploys and binds to) must be the current build.
/// On failure: forge build && node gen/export-artifacts.js
contract ArtifactsTest {
    function _check(string memory file, string memory name) internal view {
        string memory j = vm.readFile(string.concat("artifacts/", name, ".json"));
        bytes memory committed = vm.parseJsonBytes(j, ".bytecode");
        bytes memory built = vm.getCode(string.concat(file, ":", name));
        vm.assertEq(keccak256(committed), keccak256(built), string.concat(name, ": artifacts/ is stale"));
    }

    function test_artifactsMatchBuild() public view {
        _check("ModelRegistry.sol", "ModelRegistry");
        _check("InferenceManager.sol", "InferenceManager");
        _check("FaultDisputeGame.sol", "FaultDisputeGame");
        _check("Groth16Verifier.sol", "Groth16Verifier");
        _check("Poseidon5.sol", "Poseidon5");
        _check("Poseidon5Fast.sol", "Poseidon5Fast");
    }
}
