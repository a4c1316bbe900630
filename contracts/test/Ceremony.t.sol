// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {vm} from "./utils/Vm.sol";
import {Fixture} from "./utils/Fixture.sol";
import {SimModel, Packed} from "./utils/Sim.sol";
import {ModelRegistry} from "../src/ModelRegistry.sol";
import {InferenceManager} from "../src/InferenceManager.sol";

/// Phase-2 ceremony of a model (docs/zk.md "Trusted setup"): a contribution window after
/// registration (the owner may extend it), every contribution kept as a tree of keys, requests
/// only after the owner accepted a contribution it verified, once the window closed.
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
        (active,,,,,,) = registry.requestInfo(id);
    }

    function test_requestsOnlyAfterTheOwnerAcceptedAContribution() public {
        uint256 id = _open();
        (uint64 closesAt, uint32 n, bytes32 t, bool done) = registry.ceremonyInfo(id);
        vm.assertEq(closesAt, uint64(block.timestamp) + CEREMONY_WINDOW);
        vm.assertEq(n, 0);
        vm.assertEq(t, T0);
        vm.assertFalse(done);
        vm.assertFalse(_active(id));
        bytes32 initialRoot = registry.circuitRoot(id);
        vm.assertEq(keccak256(bytes(registry.ceremonyKeys(id))), keccak256(""));
        vm.assertTrue(registry.getModel(id).ceremonyPending);
        bytes memory input = Packed.pack(simInput());
        vm.prank(requester);
        vm.expectRevert(InferenceManager.ModelInactive.selector);
        manager.requestInference{value: FEE}(id, input, uint64(block.timestamp + 1000));

        vm.prank(stranger);
        registry.contribute(id, T0, T1, ROOT1, "bafy-alice");
        registry.contribute(id, T1, T2, ROOT2, "bafy-bob");
        (, n, t, done) = registry.ceremonyInfo(id);
        vm.assertEq(n, 2);
        vm.assertEq(t, T2); // the latest: what the next contributor builds on
        vm.assertFalse(done);
        vm.assertFalse(_active(id));
        vm.assertEq(registry.circuitRoot(id), initialRoot); // recorded, not adopted
        vm.assertEq(keccak256(bytes(registry.ceremonyKeys(id))), keccak256("bafy-bob"));
        ModelRegistry.Contribution memory c = registry.getContribution(id, 1);
        vm.assertEq(c.contributor, address(this));
        vm.assertEq(uint256(c.parent), 1);
        vm.assertEq(c.circuitRoot, ROOT2);

        // not before the window closed, not by anyone but the owner
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.CeremonyOpen.selector, id));
        registry.acceptContribution(id, 1);
        vm.warp(block.timestamp + CEREMONY_WINDOW);
        vm.assertFalse(_active(id)); // closing alone opens nothing
        vm.prank(stranger);
        vm.expectRevert(ModelRegistry.NotOwner.selector);
        registry.acceptContribution(id, 1);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.UnknownContribution.selector, id, 2));
        registry.acceptContribution(id, 2);
        // the owner verified alice's keys but not bob's: it accepts alice's
        registry.acceptContribution(id, 0);
        (, n, t, done) = registry.ceremonyInfo(id);
        vm.assertTrue(done);
        vm.assertEq(t, T1);
        vm.assertTrue(_active(id));
        vm.assertFalse(registry.getModel(id).ceremonyPending);
        vm.assertEq(registry.circuitRoot(id), ROOT1);
        vm.assertEq(keccak256(bytes(registry.ceremonyKeys(id))), keccak256("bafy-alice"));
        vm.assertEq(uint256(registry.acceptedContribution(id)), 1);
        uint256 rid = request(id);
        vm.assertEq(rid, 0);
        // accepted: no more contributions, no second acceptance, no extension
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.CeremonyClosed.selector, id));
        registry.contribute(id, T2, keccak256("late"), ROOT1, "late");
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.AlreadyAccepted.selector, id));
        registry.acceptContribution(id, 1);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.AlreadyAccepted.selector, id));
        registry.extendCeremony(id, uint64(block.timestamp + 10));
        vm.assertEq(registry.circuitRoot(id), ROOT1);
    }

    function test_contributionsFormATree() public {
        uint256 id = _open();
        // on keys nobody recorded
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.UnknownTranscript.selector, T1));
        registry.contribute(id, T1, T2, ROOT2, "x");
        registry.contribute(id, T0, T1, ROOT1, "alice");
        // a second contribution on the initial keys (e.g. front-run by alice) is kept
        vm.prank(stranger);
        registry.contribute(id, T0, T2, ROOT2, "bob on the initial keys");
        // a transcript recorded twice is kept twice (a squatter cannot keep an honest one out)
        registry.contribute(id, T1, T2, ROOT2, "again");
        (, uint32 n,,) = registry.ceremonyInfo(id);
        vm.assertEq(n, 3);
        vm.assertEq(uint256(registry.getContribution(id, 1).parent), 0);
        vm.assertEq(uint256(registry.getContribution(id, 2).parent), 1);
    }

    function test_ownerExtendsTheWindow() public {
        uint256 id = _open();
        (uint64 closesAt,,,) = registry.ceremonyInfo(id);
        vm.prank(stranger);
        vm.expectRevert(ModelRegistry.NotOwner.selector);
        registry.extendCeremony(id, closesAt + 100);
        vm.expectRevert(ModelRegistry.BadParams.selector);
        registry.extendCeremony(id, closesAt);
        vm.warp(closesAt + 5); // closed, nothing accepted: it can still be extended
        registry.extendCeremony(id, closesAt + 100);
        registry.contribute(id, T0, T1, ROOT1, "late but in the extension");
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.CeremonyOpen.selector, id));
        registry.acceptContribution(id, 0);
        vm.warp(closesAt + 100);
        registry.acceptContribution(id, 0);
        vm.assertTrue(_active(id));
    }

    function test_aWindowWithoutContributionNeverOpens() public {
        uint256 id = _open();
        vm.warp(block.timestamp + CEREMONY_WINDOW + 1);
        (,,, bool done) = registry.ceremonyInfo(id);
        vm.assertFalse(done);
        vm.assertFalse(_active(id));
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.UnknownContribution.selector, id, 0));
        registry.acceptContribution(id, 0);
        vm.assertTrue(registry.getModel(id).ceremonyPending);
        bytes memory input = Packed.pack(simInput());
        vm.prank(requester);
        vm.expectRevert(InferenceManager.ModelInactive.selector);
        manager.requestInference{value: FEE}(id, input, uint64(block.timestamp + 1000));
    }

    function test_noCeremonyForPlainModels_andNoZeroWindow() public {
        uint256 id = register(m, params(2, 1));
        (uint64 closesAt,,, bool done) = registry.ceremonyInfo(id);
        vm.assertEq(closesAt, 0);
        vm.assertTrue(done);
        vm.assertTrue(_active(id));
        vm.assertFalse(registry.getModel(id).ceremonyPending);
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
        registry.acceptContribution(id, 0);
        registry.setActive(id, false);
        vm.assertFalse(_active(id));
        registry.setActive(id, true);
        vm.assertTrue(_active(id));
    }
}
