#!/usr/bin/env bash
# Builds testdata/models/sklearn/* (scripts/models/sklearn_models.py) in a git-ignored virtual
# environment at .venv-sklearn holding the pinned packages of requirements-sklearn.txt.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="$repo/.venv-sklearn"
req="$here/requirements-sklearn.txt"
source "$here/../lib/venv.sh"
pinned_venv "$venv" "$req" .zkopml-requirements.sha256
exec "$venv/bin/python" "$here/sklearn_models.py" "$@"
