// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

interface IFaultDisputeGame {
    function createGame(
        uint256 requestId,
        uint32 resultNonce,
        uint256 modelId,
        address defender,
        address challenger,
        uint96 challengerBond,
        bytes32 agreedRoot,
        bytes32 defenderRoot,
        bytes32 challengerRoot
    ) external returns (uint256 gameId);
}
