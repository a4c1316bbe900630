// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// The few forge cheatcodes these tests use (declared here instead of depending on forge-std).
interface Vm {
    struct Gas {
        uint64 gasLimit;
        uint64 gasTotalUsed;
        uint64 gasMemoryUsed;
        int64 gasRefunded;
        uint64 gasRemaining;
    }

    struct Log {
        bytes32[] topics;
        bytes data;
        address emitter;
    }

    function prank(address) external;
    function prank(address, address) external;
    function startPrank(address) external;
    function stopPrank() external;
    function deal(address, uint256) external;
    function warp(uint256) external;
    function roll(uint256) external;
    function expectRevert() external;
    function expectRevert(bytes4) external;
    function expectRevert(bytes calldata) external;
    function expectEmit() external;
    function recordLogs() external;
    function getRecordedLogs() external returns (Log[] memory);
    function assume(bool) external pure;
    function skip(bool) external;
    function label(address, string calldata) external;
    function addr(uint256) external pure returns (address);
    function getCode(string calldata) external view returns (bytes memory);
    function readFile(string calldata) external view returns (string memory);
    function exists(string calldata) external view returns (bool);
    function projectRoot() external view returns (string memory);
    function parseJson(string calldata, string calldata) external pure returns (bytes memory);
    function parseJsonUint(string calldata, string calldata) external pure returns (uint256);
    function parseJsonInt(string calldata, string calldata) external pure returns (int256);
    function parseJsonUintArray(string calldata, string calldata) external pure returns (uint256[] memory);
    function parseJsonIntArray(string calldata, string calldata) external pure returns (int256[] memory);
    function parseJsonBytes32(string calldata, string calldata) external pure returns (bytes32);
    function parseJsonBytes32Array(string calldata, string calldata) external pure returns (bytes32[] memory);
    function parseJsonBytes(string calldata, string calldata) external pure returns (bytes memory);
    function parseJsonString(string calldata, string calldata) external pure returns (string memory);
    function parseJsonKeys(string calldata, string calldata) external pure returns (string[] memory);
    function keyExistsJson(string calldata, string calldata) external view returns (bool);
    function toString(uint256) external pure returns (string memory);
    function lastCallGas() external view returns (Gas memory);
    function pauseGasMetering() external;
    function resumeGasMetering() external;
    function assertEq(uint256, uint256, string calldata) external pure;
    function assertEq(uint256, uint256) external pure;
    function assertEq(int256, int256) external pure;
    function assertEq(bytes32, bytes32, string calldata) external pure;
    function assertEq(bytes32, bytes32) external pure;
    function assertEq(address, address) external pure;
    function assertEq(bool, bool) external pure;
    function assertTrue(bool, string calldata) external pure;
    function assertTrue(bool) external pure;
    function assertFalse(bool) external pure;
    function assertLt(uint256, uint256, string calldata) external pure;
    function assertNotEq(bytes32, bytes32) external pure;
}

Vm constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

library console {
    address constant CONSOLE = 0x000000000000000000636F6e736F6c652e6c6f67;

    function log(string memory s, uint256 v) internal view {
        (bool ok,) = CONSOLE.staticcall(abi.encodeWithSignature("log(string,uint256)", s, v));
        ok;
    }
}

/// Base for the tests: forge runs setUp() then every test*() / invariant*() function.
abstract contract TestBase {
    function bound(uint256 x, uint256 lo, uint256 hi) internal pure returns (uint256) {
        if (hi <= lo) return lo;
        return lo + (x % (hi - lo + 1));
    }
}
