#!/usr/bin/env bash
# Installs snarkjs (pinned by package.json + package-lock.json) into scripts/ceremony/node_modules/.
# The ceremony tests (crates/ceremony/tests) run it with node: they make .ptau files, check our
# .r1cs/.wtns exports, and contribute to / verify .zkey files next to our native implementation.
# Idempotent: `npm ci` only when node_modules is missing or older than the lock file.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "ceremony/setup: node and npm are needed (scripts/install-tools.sh installs them)" >&2
  exit 1
fi
if [ ! -f node_modules/snarkjs/build/cli.cjs ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error </dev/null
fi
node node_modules/snarkjs/build/cli.cjs --version >/dev/null 2>&1 || true
echo "ceremony/setup: snarkjs $(node -p 'require("./node_modules/snarkjs/package.json").version')"
