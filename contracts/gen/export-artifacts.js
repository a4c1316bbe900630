#!/usr/bin/env node
// Copies the ABI and creation bytecode of the deployable contracts from forge's build output
// (contracts/out/, git-ignored) to contracts/artifacts/<Name>.json (committed), which is what the
// Rust side (crates/chain) reads. test/Artifacts.t.sol fails when they drift from the sources:
// after changing a contract, run `forge build` then `node contracts/gen/export-artifacts.js`.
'use strict';
const fs = require('fs');
const path = require('path');
const C = path.resolve(__dirname, '..');
const NAMES = [
  ['ModelRegistry.sol', 'ModelRegistry'],
  ['InferenceManager.sol', 'InferenceManager'],
  ['FaultDisputeGame.sol', 'FaultDisputeGame'],
  ['Groth16Verifier.sol', 'Groth16Verifier'],
  ['Poseidon5.sol', 'Poseidon5'],
  ['Poseidon5Fast.sol', 'Poseidon5Fast'],
];
fs.mkdirSync(path.join(C, 'artifacts'), { recursive: true });
for (const [file, name] of NAMES) {
  const a = JSON.parse(fs.readFileSync(path.join(C, 'out', file, `${name}.json`), 'utf8'));
  const out = { contractName: name, abi: a.abi, bytecode: a.bytecode.object, deployedBytecode: a.deployedBytecode.object };
  fs.writeFileSync(path.join(C, 'artifacts', `${name}.json`), JSON.stringify(out, null, 1) + '\n');
  console.log(`artifacts/${name}.json`);
}
