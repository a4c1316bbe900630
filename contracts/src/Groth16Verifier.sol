// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title Generic Groth16 verifier over BN254 (alt_bn128 precompiles 0x06, 0x07, 0x08).
/// One deployment serves every circuit: the verifying key is an argument, laid out as in
/// docs/commitments.md:
///   vk    = abi.encode(uint256[2] alpha1, uint256[4] beta2, uint256[4] gamma2, uint256[4] delta2,
///                      uint256[2][] ic)            G2 points as (x_im, x_re, y_im, y_re)
///   proof = uint256[8] (a.x, a.y, b.x_im, b.x_re, b.y_im, b.y_re, c.x, c.y)
///   input = the public inputs, each < r, ic.length == input.length + 1
/// It never returns false: any failure REVERTS (a verifier that returns false lets
/// eth_estimateGas settle on a gas limit at which the pairing runs out of gas while the call
/// still "succeeds").
contract Groth16Verifier {
    /// BN254 base field modulus p.
    uint256 internal constant P = 21888242871839275222246405745257275088696311157297823662689037894645226208583;
    /// BN254 scalar field modulus r.
    uint256 internal constant R = 21888242871839275222246405745257275088548364400416034343698204186575808495617;

    error ProofInvalid();
    error PublicInputNotInField(uint256 index);
    error BadVerifyingKey();
    error BadProofEncoding();

    /// Verifies or reverts.
    function verifyProof(bytes calldata vk, uint256[8] calldata proof, uint256[] calldata input) external view {
        uint256 nInputs = input.length;
        // static head: 14 words, then the offset of ic (= 15 * 32), ic length, ic data
        if (vk.length != 512 + 64 * (nInputs + 1)) revert BadVerifyingKey();
        uint256 icOffset;
        uint256 icLen;
        assembly ("memory-safe") {
            icOffset := calldataload(add(vk.offset, 448))
            icLen := calldataload(add(vk.offset, 480))
        }
        if (icOffset != 480 || icLen != nInputs + 1) revert BadVerifyingKey();
        for (uint256 i = 0; i < 8; ++i) if (proof[i] >= P) revert BadProofEncoding();
        for (uint256 i = 0; i < nInputs; ++i) if (input[i] >= R) revert PublicInputNotInField(i);

        bool ok = true;
        assembly ("memory-safe") {
            let f := mload(0x40)
            // ---- vk_x = ic[0] + sum input[i] * ic[i+1]  (accumulated at f .. f+0x40)
            let ic := add(vk.offset, 512)
            mstore(f, calldataload(ic))
            mstore(add(f, 0x20), calldataload(add(ic, 0x20)))
            for { let i := 0 } lt(i, nInputs) { i := add(i, 1) } {
                let s := calldataload(add(input.offset, mul(i, 0x20)))
                let pt := add(ic, mul(add(i, 1), 0x40))
                // ecMul(ic[i+1], s) -> f+0x40
                mstore(add(f, 0x40), calldataload(pt))
                mstore(add(f, 0x60), calldataload(add(pt, 0x20)))
                mstore(add(f, 0x80), s)
                ok := and(ok, staticcall(gas(), 0x07, add(f, 0x40), 0x60, add(f, 0x40), 0x40))
                // ecAdd(acc, prod) -> f
                ok := and(ok, staticcall(gas(), 0x06, f, 0x80, f, 0x40))
            }
            // ---- pairing input: (-A, B), (alpha, beta), (vk_x, gamma), (C, delta)
            let q := add(f, 0x40) // vk_x stays at f, f+0x20
            // -A
            mstore(q, calldataload(proof))
            let ay := calldataload(add(proof, 0x20))
            mstore(add(q, 0x20), mod(sub(P, mod(ay, P)), P))
            // B
            calldatacopy(add(q, 0x40), add(proof, 0x40), 0x80)
            // alpha, beta
            calldatacopy(add(q, 0xc0), vk.offset, 0xc0)
            // vk_x
            mstore(add(q, 0x180), mload(f))
            mstore(add(q, 0x1a0), mload(add(f, 0x20)))
            // gamma
            calldatacopy(add(q, 0x1c0), add(vk.offset, 0xc0), 0x80)
            // C
            calldatacopy(add(q, 0x240), add(proof, 0xc0), 0x40)
            // delta
            calldatacopy(add(q, 0x280), add(vk.offset, 0x140), 0x80)
            let pok := staticcall(gas(), 0x08, q, 0x300, f, 0x20)
            ok := and(ok, pok)
            // the pairing result is 1 when the product is the identity
            if ok { ok := eq(mload(f), 1) }
        }
        if (!ok) revert ProofInvalid();
    }
}
