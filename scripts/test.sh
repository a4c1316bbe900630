#!/usr/bin/env bash
# The project's test command (README): installs the pinned contract toolchain, then runs every
# Rust test (engine, commitments, circuits) and every Foundry test (contracts).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/install-tools.sh
echo "== cargo test (release: the executor and the circuits are slow unoptimised)"
cargo test --release --workspace --locked
echo "== forge test"
(cd contracts && ../.tools/bin/forge test)
