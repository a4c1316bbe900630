#!/usr/bin/env bash
# Builds testdata/models/sklearn/* (scripts/models/sklearn_models.py) in a git-ignored virtual
# environment at .venv-sklearn holding the pinned packages of requirements-sklearn.txt.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="$repo/.venv-sklearn"
req="$here/requirements-sklearn.txt"
stamp="$venv/.zkopml-requirements.sha256"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  "$venv/bin/python" -m pip install --disable-pip-version-check --quiet -r "$req"
  echo "$want" > "$stamp"
fi
exec "$venv/bin/python" "$here/sklearn_models.py" "$@"
