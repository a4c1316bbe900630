#!/usr/bin/env bash
# Installs the circuits benchmark's baseline (EZKL, pinned in scripts/bench/requirements.txt)
# into the project's git-ignored virtual environment .venv/ (the one scripts/models/build.sh
# makes; created here if absent). Idempotent: reinstalls only when requirements.txt changes.
#
#   bash scripts/bench/setup.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="$repo/.venv"
req="$here/requirements.txt"
source "$here/../lib/venv.sh"
pinned_venv "$venv" "$req" .zkopml-bench-requirements.sha256
"$venv/bin/python" -c 'import ezkl; print("ezkl", ezkl.__version__)'
