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
stamp="$venv/.zkopml-bench-requirements.sha256"

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  "$venv/bin/python" -m pip install --disable-pip-version-check --quiet -r "$req"
  echo "$want" > "$stamp"
fi
"$venv/bin/python" -c 'import ezkl; print("ezkl", ezkl.__version__)'
