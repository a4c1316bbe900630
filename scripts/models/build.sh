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
source "$here/../lib/venv.sh"
pinned_venv "$venv" "$req" .zkopml-models-requirements.sha256
exec "$venv/bin/python" "$here/build_models.py" "$@"
