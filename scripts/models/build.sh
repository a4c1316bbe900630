#!/usr/bin/env bash
# Builds the project's own test models (testdata/models/conv2d, testdata/models/mobilenet_v2)
# with scripts/models/build_models.py, in a git-ignored virtual environment at .venv/ holding
# the pinned packages of scripts/models/requirements.txt. Idempotent: the environment is
# created once and reinstalled only when requirements.txt changes.
#
#   scripts/models/build.sh            build and write the models
#   scripts/models/build.sh --check    fail unless the committed files are byte-identical
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="$repo/.venv"
req="$here/requirements.txt"
stamp="$venv/.zkopml-models-requirements.sha256"

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  "$venv/bin/python" -m pip install --disable-pip-version-check --quiet -r "$req"
  echo "$want" > "$stamp"
fi
exec "$venv/bin/python" "$here/build_models.py" "$@"
