// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {vm, TestBase} from "./utils/Vm.sol";
import {Handler} from "./Invariant.t.sol";
import {FaultDisputeGame} from "../src/FaultDisputeGame.sol";
import {InferenceManager} from "../src/InferenceManager.sol";

/// The invariant handler's actions do what they say (so the invariant run explores real games).
contract HandlerSmokeTest is TestBase {
    function test_handlerPlaysWholeGames() public {
        Handler h = new Handler();
        h.doRequest(0.3 ether, 200);
        h.doSubmit(0, false); // the wrong result
        h.doChallenge(0, false);
        for (uint256 i = 0; i < 12; ++i) h.doMove(0);
        vm.assertEq(h.resolvedInPlay(), 1, "game played to its proof");
        FaultDisputeGame g = FaultDisputeGame(h.gameAddr());
        vm.assertEq(uint256(g.getGame(0).outcome), uint256(FaultDisputeGame.Outcome.ChallengerWon));
        h.doSubmit(0, true);
        h.doChallenge(0, true);
        h.doWarp(39); // +40 s
        h.doWarp(39); // +40 s: the honest defender moves before its clock runs out
        h.doTimeout(1);
        vm.assertEq(h.resolvedInPlay(), 1, "no honest party is timed out");
        h.doWarp(39); // +40 s: the wrong challenger's clock has run out
        h.doTimeout(1);
        vm.assertEq(h.resolvedInPlay(), 2, "timeout claimed");
        // a second request answered honestly and, after the window, claimed by its submitter
        h.doRequest(0.2 ether, 200);
        h.doSubmit(1, true);
        for (uint256 i = 0; i < 3; ++i) h.doWarp(39); // +120 s: past the challenge window
        h.doFinalizeOrRefund((uint256(1) << 128) + 1); // request 1, by claim
        vm.assertEq(h.claims(), 1, "claimed");
        vm.assertEq(
            uint256(InferenceManager(h.managerAddr()).getRequest(1).status), uint256(InferenceManager.Status.Finalized)
        );
        vm.assertTrue(h.paidTo(h.honestSubmitter()) >= h.honestSubmitterEarned(), "claim paid fee + bond");
        h.drain();
        vm.assertEq(h.managerAddr().balance, InferenceManager(h.managerAddr()).totalBurned());
        vm.assertTrue(InferenceManager(h.managerAddr()).totalBurned() > 0);
    }
}
