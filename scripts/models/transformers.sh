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
stamp="$venv/.zkopml-requirements.sha256"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  "$venv/bin/python" -m pip install --disable-pip-version-check --quiet -r "$req"
  echo "$want" > "$stamp"
fi
exec "$venv/bin/python" "$here/transformers_models.py" "$@"
