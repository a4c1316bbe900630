#!/usr/bin/env bash
# The main demo (README): builds zkopml and runs `zkopml demo`: a local anvil, the contracts,
# LeNet-5 registered (compile + Groth16 setup), an honest answer finalised, and a defective one
# caught by a challenger process: the dispute game is played move by move on chain and settled
# by a Groth16 proof verified by the contract. Prints the dissection and wall time/gas per phase.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/install-tools.sh
cargo build --release --locked -p zkopml-cli
Z="${CARGO_TARGET_DIR:-$ROOT/target}/release/zkopml"
"$Z" demo --dir "${ZKOPML_DEMO_DIR:-$ROOT/target/demo-chain}" "$@"
