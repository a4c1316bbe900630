#!/usr/bin/env bash
# Builds testdata/models/hummingbird/* (scripts/models/hummingbird_models.py): scikit-learn tree
# ensembles converted by hummingbird into tensor programs (GEMM, tree traversal and perfect tree
# traversal strategies) and exported through torch. Uses .venv-torch (requirements-torch.txt)
# with requirements-hummingbird.txt added on top without dependency resolution.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="$repo/.venv-torch"
source "$here/../lib/venv.sh"
pinned_venv "$venv" "$here/requirements-torch.txt" .zkopml-requirements.sha256
pinned_venv "$venv" "$here/requirements-hummingbird.txt" .zkopml-hummingbird.sha256 --no-deps
exec "$venv/bin/python" "$here/hummingbird_models.py" "$@"
