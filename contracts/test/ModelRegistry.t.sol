// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {vm} from "./utils/Vm.sol";
import {Fixture} from "./utils/Fixture.sol";
import {SimModel} from "./utils/Sim.sol";
import {ModelRegistry, DisputeParams} from "../src/ModelRegistry.sol";
import {Commitments} from "../src/lib/Commitments.sol";

contract ModelRegistryTest is Fixture {
    SimModel internal m;

    function setUp() public {
        deployAll();
        m = newSim(5, 3, "reg");
    }

    function test_idsCountFromZero() public {
        vm.assertEq(register(m, params(2, 1)), 0);
        vm.assertEq(register(m, params(4, 2)), 1);
        ModelRegistry.Registration memory r = registration(m, params(2, 1));
        vm.prank(stranger);
        vm.assertEq(registry.register(r), 2);
        vm.assertEq(registry.modelCount(), 3);
        ModelRegistry.Model memory got = registry.getModel(1);
        vm.assertEq(got.owner, address(this));
        vm.assertEq(got.numOps, 5);
        vm.assertEq(got.stateDepth, 3);
        vm.assertEq(got.circuitRoot, m.circuitRoot());
        vm.assertEq(got.metaRoot, m.metaRoot());
        vm.assertEq(got.params.arity, 4);
        vm.assertEq(got.params.maxGroup, 2);
        vm.assertEq(keccak256(bytes(got.manifestCid)), keccak256("bafkreimanifest"));
        vm.assertTrue(got.active);
        vm.assertEq(registry.getModel(2).owner, stranger);
    }

    function test_badParams() public {
        ModelRegistry.Registration memory r = registration(m, params(2, 1));
        r.params.arity = 1;
        _expectBad(r);
        r.params.arity = 257;
        _expectBad(r);
        r.params.arity = 2;
        r.params.maxGroup = 0;
        _expectBad(r);
        r.params.maxGroup = 1;
        r.params.clockBudget = 0;
        _expectBad(r);
        r.params.clockBudget = 1;
        r.params.challengeWindow = 0;
        _expectBad(r);
        r.params.challengeWindow = 1;
        r.numOps = 0;
        _expectBad(r);
    }

    function _expectBad(ModelRegistry.Registration memory r) internal {
        vm.expectRevert(ModelRegistry.BadParams.selector);
        registry.register(r);
    }

    function test_metaMustBeUnderMetaRoot() public {
        ModelRegistry.Registration memory r = registration(m, params(2, 1));
        r.output = m.meta(0); // the input's geometry declared as the output's
        vm.expectRevert(ModelRegistry.BadMetaPath.selector);
        registry.register(r);
        r = registration(m, params(2, 1));
        r.inputMetaPath = m.metaPath(1); // the path of another slot
        vm.expectRevert(ModelRegistry.BadMetaPath.selector);
        registry.register(r);
        r = registration(m, params(2, 1));
        r.numOps = 4; // slot n moves: the output path no longer fits
        vm.expectRevert(ModelRegistry.BadMetaPath.selector);
        registry.register(r);
    }

    function test_badGeometry() public {
        ModelRegistry.Registration memory r = registration(m, params(2, 1));
        r.input.chunkLen = 0;
        vm.expectRevert(Commitments.BadMeta.selector);
        registry.register(r);
        r = registration(m, params(2, 1));
        r.output.dims = new uint32[](0);
        vm.expectRevert(Commitments.BadMeta.selector);
        registry.register(r);
    }

    function test_onlyOwnerSetsActive() public {
        uint256 id = register(m, params(2, 1));
        vm.prank(stranger);
        vm.expectRevert(ModelRegistry.NotOwner.selector);
        registry.setActive(id, false);
        registry.setActive(id, false);
        vm.assertFalse(registry.getModel(id).active);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.UnknownModel.selector, 7));
        registry.setActive(7, true);
    }
}
