#!/usr/bin/env bash
# Builds testdata/models/keras/* (scripts/models/keras_models.py) in a git-ignored virtual
# environment at .venv-tf holding the pinned packages of requirements-keras.txt (TensorFlow,
# tf2onnx, onnxruntime; about 1 GB).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="$repo/.venv-tf"
source "$here/../lib/venv.sh"
pinned_venv "$venv" "$here/requirements-keras.txt" .zkopml-requirements.sha256
export TF_CPP_MIN_LOG_LEVEL=2
exec "$venv/bin/python" "$here/keras_models.py" "$@"
