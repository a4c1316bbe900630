// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {vm, console} from "./utils/Vm.sol";
import {Fixture} from "./utils/Fixture.sol";
import {IPoseidon5} from "../src/interfaces/IPoseidon5.sol";
import {Poseidon5} from "../src/vendor/Poseidon5.sol";

contract Meter {
    function run(IPoseidon5 p) external view returns (uint256 used) {
        uint256 g = gasleft();
        p.poseidon([uint256(1), 2, 3, 4, 5]);
        used = g - gasleft();
    }
}

/// Gas of one Poseidon5 hash as a contract pays it (docs/gas.md): the deployed Poseidon5Fast
/// and the circomlibjs contract it replaced (src/vendor/Poseidon5.sol), gas measured around the
/// call (both were created in this transaction, so neither pays the cold-account surcharge).
contract PoseidonGasTest is Fixture {
    function test_poseidonGas() public {
        deployAll();
        Meter meter = new Meter();
        uint256 used = meter.run(poseidon);
        uint256 vendor = meter.run(IPoseidon5(address(new Poseidon5())));
        console.log("poseidon5 hash, Poseidon5Fast (called from a contract)", used);
        console.log("poseidon5 hash, circomlibjs Poseidon5 (called from a contract)", vendor);
        vm.assertLt(used, 35_000 + 2_700, "Poseidon5Fast: at most 35k a call plus the call itself");
        vm.assertLt(vendor, 110_000, "circomlibjs Poseidon5 costs about 98k");
    }
}
