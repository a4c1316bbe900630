// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {vm, console} from "./utils/Vm.sol";
import {Fixture} from "./utils/Fixture.sol";
import {IPoseidon5} from "../src/interfaces/IPoseidon5.sol";

contract Meter {
    function run(IPoseidon5 p) external view returns (uint256 used) {
        uint256 g = gasleft();
        p.poseidon([uint256(1), 2, 3, 4, 5]);
        used = g - gasleft();
    }
}

/// Gas of one Poseidon5 hash (circomlibjs contract), as a contract pays it (docs/gas.md).
contract PoseidonGasTest is Fixture {
    function test_poseidonGas() public {
        deployAll();
        uint256 used = new Meter().run(poseidon);
        console.log("poseidon5 hash (cold contract)", used);
        vm.assertLt(used, 110_000, "circomlibjs Poseidon5 costs about 98k");
    }
}
