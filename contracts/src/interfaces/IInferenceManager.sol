// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// What the dispute game needs from the inference manager.
interface IInferenceManager {
    /// Called once per game when it ends. Returns false when the game's result was no longer live
    /// (rejected by another game): the game is void and the challenger's bond is refunded.
    function onGameResolved(
        uint256 requestId,
        uint32 resultNonce,
        address challenger,
        uint256 challengerBond,
        bool defenderWon
    ) external returns (bool counted);

    function isResultLive(uint256 requestId, uint32 resultNonce) external view returns (bool);
}
