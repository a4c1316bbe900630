#!/usr/bin/env bash
# Builds the seed's transformers (scripts/models/transformers_models.py) in a git-ignored virtual
# environment at .venv-torch holding the pinned packages of requirements-torch.txt (torch,
# transformers, onnx, onnxruntime; a few GB). No argument: the tiny instances, into
# testdata/models/ (committed); `--full DIR`: the full-size ones, into DIR.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="$repo/.venv-torch"
req="$here/requirements-torch.txt"
source "$here/../lib/venv.sh"
pinned_venv "$venv" "$req" .zkopml-requirements.sha256
exec "$venv/bin/python" "$here/transformers_models.py" "$@"
