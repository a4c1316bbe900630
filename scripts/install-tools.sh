#!/usr/bin/env bash
# Installs the pinned contracts toolchain into .tools/ (git-ignored):
#   forge, anvil, cast (Foundry 1.7.1, from the npm packages @foundry-rs/<tool>-linux-amd64)
#   solc-js (npm `solc`), wired to forge through contracts/tools/solc (see contracts/foundry.toml).
# Versions are pinned by contracts/tools/package.json + package-lock.json (`npm ci`).
# Idempotent: returns at once when .tools/ already matches the lock file. Works with CI=true
# and no stdin. Afterwards:  export PATH="$PWD/.tools/bin:$PATH"; cd contracts && forge test
#
#   --with-gen   also install the generators' packages (contracts/gen: circomlibjs, ffjavascript,
#                ethers, poseidon-solidity) into .tools/gen; only needed to regenerate committed
#                artefacts (contracts/gen/*.js), never to build or test.
set -euo pipefail

WITH_GEN=0
for a in "$@"; do
  case "$a" in
    --with-gen) WITH_GEN=1 ;;
    *) echo "usage: $0 [--with-gen]" >&2; exit 2 ;;
  esac
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
SRC="$ROOT/contracts/tools"
BIN="$TOOLS/bin"

lock_hash() { cat "$SRC/package.json" "$SRC/package-lock.json" | sha256sum | cut -d' ' -f1; }
WANT="$(lock_hash)"

installed_ok() {
  [ -f "$TOOLS/.lock-hash" ] && [ "$(cat "$TOOLS/.lock-hash")" = "$WANT" ] || return 1
  for t in forge anvil cast solc; do [ -x "$BIN/$t" ] || return 1; done
  "$BIN/forge" --version >/dev/null 2>&1 || return 1
}

install_gen() {
  local gsrc="$ROOT/contracts/gen" gdst="$TOOLS/gen"
  local want; want="$(cat "$gsrc/package.json" "$gsrc/package-lock.json" | sha256sum | cut -d' ' -f1)"
  if [ -f "$gdst/.lock-hash" ] && [ "$(cat "$gdst/.lock-hash")" = "$want" ] && [ -d "$gdst/node_modules" ]; then
    echo "install-tools: .tools/gen is up to date"; return 0
  fi
  mkdir -p "$gdst"
  cp "$gsrc/package.json" "$gsrc/package-lock.json" "$gdst/"
  ( cd "$gdst" && npm ci --no-audit --no-fund --loglevel=error </dev/null )
  echo "$want" > "$gdst/.lock-hash"
  echo "install-tools: generators installed in .tools/gen"
}

if installed_ok; then
  echo "install-tools: .tools/ is up to date ($("$BIN/forge" --version | head -1))"
  if [ "$WITH_GEN" = 1 ]; then install_gen; fi
  exit 0
fi

if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
  echo "install-tools: node/npm missing; installing Debian's nodejs and npm" >&2
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm </dev/null
  else
    echo "install-tools: need root to apt-get install nodejs npm" >&2; exit 1
  fi
fi
NODE_MAJOR="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$NODE_MAJOR" -lt 20 ]; then
  echo "install-tools: node >= 20 required (found $(node --version))" >&2; exit 1
fi

mkdir -p "$TOOLS" "$BIN"
cp "$SRC/package.json" "$SRC/package-lock.json" "$TOOLS/"
( cd "$TOOLS" && npm ci --no-audit --no-fund --loglevel=error </dev/null )

for t in forge anvil cast; do
  exe="$TOOLS/node_modules/@foundry-rs/$t-linux-amd64/bin/$t"
  [ -f "$exe" ] || { echo "install-tools: $exe missing after npm ci" >&2; exit 1; }
  chmod +x "$exe"
  ln -sfn "$exe" "$BIN/$t"
done
ln -sfn "$SRC/solc" "$BIN/solc"
chmod +x "$SRC/solc"

"$BIN/forge" --version | head -1
"$BIN/solc" --version | tail -1
echo "$WANT" > "$TOOLS/.lock-hash"
if [ "$WITH_GEN" = 1 ]; then install_gen; fi
echo "install-tools: done. export PATH=\"$BIN:\$PATH\""
