// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// circomlib Poseidon with 5 inputs (t = 6). Implemented by src/vendor/PoseidonT6.sol, deployed
/// as a stand-alone contract (a library with one public pure function, called with staticcall).
interface IPoseidon5 {
    function hash(uint256[5] memory inputs) external view returns (uint256);
}
