// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {vm} from "./utils/Vm.sol";
import {Fixture} from "./utils/Fixture.sol";
import {SimModel} from "./utils/Sim.sol";
import {ModelRegistry} from "../src/ModelRegistry.sol";
import {InferenceManager} from "../src/InferenceManager.sol";

/// Phase-2 ceremony of a model (docs/zk.md "Trusted setup"): a contribution window after
/// registration, contributions that must chain, requests only after the window closed with at
/// least one contribution.
contract CeremonyTest is Fixture {
    SimModel internal m;
    bytes32 internal constant T0 = keccak256("initial transcript");
    bytes32 internal constant T1 = keccak256("after alice");
    bytes32 internal constant T2 = keccak256("after bob");
    bytes32 internal constant ROOT1 = keccak256("root after alice");
    bytes32 internal constant ROOT2 = keccak256("root after bob");
    uint64 internal constant CEREMONY_WINDOW = 3600;

    function setUp() public {
        deployAll();
        m = newSim(5, 3, "ceremony");
    }

    function _open() internal returns (uint256 id) {
        id = registry.registerWithCeremony(registration(m, params(2, 1)), T0, CEREMONY_WINDOW);
    }

    function _active(uint256 id) internal view returns (bool active) {
        (active,,,) = registry.requestInfo(id);
    }

    function test_requestsOnlyAfterTheWindowClosedWithAContribution() public {
        uint256 id = _open();
        (uint64 closesAt, uint32 n, bytes32 t, bool done) = registry.ceremonyInfo(id);
        vm.assertEq(closesAt, uint64(block.timestamp) + CEREMONY_WINDOW);
        vm.assertEq(n, 0);
        vm.assertEq(t, T0);
        vm.assertFalse(done);
        vm.assertFalse(_active(id));
        vm.assertEq(keccak256(bytes(registry.ceremonyKeys(id))), keccak256(""));
        vm.prank(requester);
        vm.expectRevert(InferenceManager.ModelInactive.selector);
        manager.requestInference{value: FEE}(id, simInput(), uint64(block.timestamp + 1000));

        vm.prank(stranger);
        registry.contribute(id, T0, T1, ROOT1, "bafy-alice");
        registry.contribute(id, T1, T2, ROOT2, "bafy-bob");
        (, n, t, done) = registry.ceremonyInfo(id);
        vm.assertEq(n, 2);
        vm.assertEq(t, T2);
        vm.assertFalse(done); // the window is still open
        vm.assertFalse(_active(id));
        vm.assertEq(registry.circuitRoot(id), ROOT2);
        vm.assertEq(keccak256(bytes(registry.ceremonyKeys(id))), keccak256("bafy-bob"));

        vm.warp(block.timestamp + CEREMONY_WINDOW);
        (,,, done) = registry.ceremonyInfo(id);
        vm.assertTrue(done);
        vm.assertTrue(_active(id));
        uint256 rid = request(id);
        vm.assertEq(rid, 0);
        // Closed: no more contributions, the circuit root is final.
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.CeremonyClosed.selector, id));
        registry.contribute(id, T2, T1, ROOT1, "late");
        vm.assertEq(registry.circuitRoot(id), ROOT2);
        vm.assertEq(keccak256(bytes(registry.ceremonyKeys(id))), keccak256("bafy-bob"));
    }

    function test_aContributionMustChain() public {
        uint256 id = _open();
        // Not on top of the current keys.
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.StaleTranscript.selector, T0));
        registry.contribute(id, T1, T2, ROOT2, "x");
        registry.contribute(id, T0, T1, ROOT1, "alice");
        // A second contribution on the keys alice replaced.
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.StaleTranscript.selector, T1));
        registry.contribute(id, T0, T2, ROOT2, "bob on stale keys");
        vm.assertEq(registry.circuitRoot(id), ROOT1);
        vm.assertEq(keccak256(bytes(registry.ceremonyKeys(id))), keccak256("alice"));
    }

    function test_aWindowWithoutContributionNeverOpens() public {
        uint256 id = _open();
        vm.warp(block.timestamp + CEREMONY_WINDOW + 1);
        (,,, bool done) = registry.ceremonyInfo(id);
        vm.assertFalse(done);
        vm.assertFalse(_active(id));
        vm.prank(requester);
        vm.expectRevert(InferenceManager.ModelInactive.selector);
        manager.requestInference{value: FEE}(id, simInput(), uint64(block.timestamp + 1000));
    }

    function test_noCeremonyForPlainModels_andNoZeroWindow() public {
        uint256 id = register(m, params(2, 1));
        (uint64 closesAt,,, bool done) = registry.ceremonyInfo(id);
        vm.assertEq(closesAt, 0);
        vm.assertTrue(done);
        vm.assertTrue(_active(id));
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.NoCeremony.selector, id));
        registry.contribute(id, bytes32(0), T1, ROOT1, "x");
        ModelRegistry.Registration memory r = registration(m, params(2, 1));
        vm.expectRevert(ModelRegistry.BadParams.selector);
        registry.registerWithCeremony(r, T0, 0);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.UnknownModel.selector, 9));
        registry.contribute(9, T0, T1, ROOT1, "x");
    }

    function test_ownerPauseStillApplies() public {
        uint256 id = _open();
        registry.contribute(id, T0, T1, ROOT1, "alice");
        vm.warp(block.timestamp + CEREMONY_WINDOW);
        registry.setActive(id, false);
        vm.assertFalse(_active(id));
        registry.setActive(id, true);
        vm.assertTrue(_active(id));
    }
}
