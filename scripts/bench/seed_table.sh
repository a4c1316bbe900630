#!/usr/bin/env bash
# The seed table of docs/benchmarks.md in one command, from a fresh clone: installs the pinned
# contract tools (anvil) and the EZKL baseline (.venv), then runs the bench. Arguments go to the
# bench: model-name prefixes and its flags (--static, --no-ezkl, --reuse-keys).
#
#   bash scripts/bench/seed_table.sh                      # all four models (about an hour)
#   bash scripts/bench/seed_table.sh xgboost lenet conv2d
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
bash scripts/install-tools.sh
bash scripts/bench/setup.sh
exec cargo bench --locked -p zkopml-node --bench seed_table -- "$@"
