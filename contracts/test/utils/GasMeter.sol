// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {vm, console} from "./Vm.sol";

contract Noop {
    function poke() external {}
}

/// Counts calls as transactions: execution + 21000 + calldata gas. Under `forge test --isolate`
/// each call is its own transaction and lastCallGas already includes the intrinsic gas (and
/// cold storage); without it, storage stays warm and the figures are low.
abstract contract GasMeter {
    uint256 internal total;
    uint256 internal txs;
    bool internal isolated;

    /// Detects --isolate (call once, first).
    function detectIsolation() internal {
        Noop noop = new Noop();
        noop.poke();
        isolated = vm.lastCallGas().gasTotalUsed >= 21000;
        console.log("isolated (per-transaction accounting)", isolated ? 1 : 0);
    }

    /// Calldata gas of `d` (EIP-2028: 16 a non-zero byte, 4 a zero byte).
    function calldataGas(bytes memory d) internal pure returns (uint256 g) {
        for (uint256 i = 0; i < d.length; ++i) {
            g += d[i] == 0 ? 4 : 16;
        }
    }

    function meter(address who, address to, bytes memory data, string memory what) internal returns (uint256) {
        return meterValue(who, to, 0, data, what);
    }

    /// Sends `data` with `value` from `who` to `to` (reverting with the callee's error) and
    /// returns the transaction's gas.
    function meterValue(address who, address to, uint256 value, bytes memory data, string memory what)
        internal
        returns (uint256 g)
    {
        vm.prank(who, who);
        (bool ok, bytes memory ret) = to.call{value: value}(data);
        if (!ok) {
            assembly {
                revert(add(ret, 0x20), mload(ret))
            }
        }
        g = vm.lastCallGas().gasTotalUsed;
        if (!isolated) g += 21000 + calldataGas(data);
        console.log(what, g);
        total += g;
        txs += 1;
    }
}
