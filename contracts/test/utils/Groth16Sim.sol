// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {vm} from "./Vm.sol";

/// Groth16 with a KNOWN trapdoor (the simulator of the zero-knowledge proof), for tests only.
/// Verifying keys: alpha1 = alpha*G1, beta2/gamma2/delta2 = (beta/gamma/delta)*G2, ic_k = s_k*G1
/// with s_k derived from a per-circuit seed. A "proof" of public inputs x is A = a*G1, B = b*G2,
/// C = c*G1 with c = (a*b - alpha*beta - X*gamma) / delta, X = s_0 + sum x_i s_{i+1}: it satisfies
/// the real verification equation, so the real verifier (and pairing precompile) checks it.
/// The G2 points come from contracts/gen/groth16.js (test/vectors/groth16_sim.json).
/// Tests use prove() only for statements their simulated circuit makes true (see Sim.sol),
/// except where a test is about a forged or misplaced proof.
contract Groth16Sim {
    uint256 internal constant R = 21888242871839275222246405745257275088548364400416034343698204186575808495617;

    uint256 public a;
    uint256 public b;
    uint256 public alpha;
    uint256 public beta;
    uint256 public gamma;
    uint256 public delta;
    uint256[4] internal beta2;
    uint256[4] internal gamma2;
    uint256[4] internal delta2;
    uint256[4] internal bG2;
    uint256[2] internal alpha1;

    constructor() {
        string memory j = vm.readFile("test/vectors/groth16_sim.json");
        a = vm.parseJsonUint(j, ".scalars.a");
        b = vm.parseJsonUint(j, ".scalars.b");
        alpha = vm.parseJsonUint(j, ".scalars.alpha");
        beta = vm.parseJsonUint(j, ".scalars.beta");
        gamma = vm.parseJsonUint(j, ".scalars.gamma");
        delta = vm.parseJsonUint(j, ".scalars.delta");
        _copy4(beta2, vm.parseJsonUintArray(j, ".g2.beta2"));
        _copy4(gamma2, vm.parseJsonUintArray(j, ".g2.gamma2"));
        _copy4(delta2, vm.parseJsonUintArray(j, ".g2.delta2"));
        _copy4(bG2, vm.parseJsonUintArray(j, ".g2.B"));
        (alpha1[0], alpha1[1]) = g1mul(alpha);
    }

    function _copy4(uint256[4] storage dst, uint256[] memory src) internal {
        for (uint256 i = 0; i < 4; ++i) dst[i] = src[i];
    }

    function g1mul(uint256 s) public view returns (uint256 x, uint256 y) {
        uint256[3] memory inp = [uint256(1), uint256(2), s];
        uint256[2] memory out;
        bool ok;
        assembly {
            ok := staticcall(gas(), 0x07, inp, 0x60, out, 0x40)
        }
        require(ok, "ecMul");
        return (out[0], out[1]);
    }

    function icScalar(bytes32 seed, uint256 k) public pure returns (uint256) {
        return uint256(keccak256(abi.encode(seed, k))) % R;
    }

    /// The abi-encoded verifying key (docs/commitments.md) of circuit `seed` with nPublic public inputs.
    function vk(bytes32 seed, uint256 nPublic) public view returns (bytes memory) {
        uint256[2][] memory ic = new uint256[2][](nPublic + 1);
        for (uint256 k = 0; k <= nPublic; ++k) {
            (ic[k][0], ic[k][1]) = g1mul(icScalar(seed, k));
        }
        return abi.encode(alpha1, beta2, gamma2, delta2, ic);
    }

    /// A proof that verifies against vk(seed, pub.length) for public inputs `pub`.
    function prove(bytes32 seed, uint256[] memory pub) public view returns (uint256[8] memory p) {
        uint256 x = icScalar(seed, 0);
        for (uint256 i = 0; i < pub.length; ++i) x = addmod(x, mulmod(pub[i] % R, icScalar(seed, i + 1), R), R);
        uint256 num = addmod(mulmod(a, b, R), R - addmod(mulmod(alpha, beta, R), mulmod(x, gamma, R), R), R);
        uint256 c = mulmod(num, _inv(delta), R);
        (p[0], p[1]) = g1mul(a);
        (p[2], p[3], p[4], p[5]) = (bG2[0], bG2[1], bG2[2], bG2[3]);
        (p[6], p[7]) = g1mul(c);
    }

    function _inv(uint256 x) internal view returns (uint256 r) {
        bytes memory inp = abi.encodePacked(uint256(32), uint256(32), uint256(32), x, R - 2, R);
        bytes memory out = new bytes(32);
        bool ok;
        assembly {
            ok := staticcall(gas(), 0x05, add(inp, 0x20), mload(inp), add(out, 0x20), 0x20)
        }
        require(ok, "modexp");
        r = abi.decode(out, (uint256));
    }
}
