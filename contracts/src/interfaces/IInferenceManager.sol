// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// What the dispute game needs from the inference manager.
interface IInferenceManager {
    /// Called once per game when it ends; pays by the bond rule (docs/protocol.md), also for a
    /// game whose result another game rejected first.
    function onGameResolved(
        uint256 requestId,
        uint32 resultNonce,
        address defender,
        address challenger,
        uint256 challengerBond,
        bool defenderWon
    ) external;

    function isResultLive(uint256 requestId, uint32 resultNonce) external view returns (bool);
}
