#!/usr/bin/env bash
# Regenerates testdata/vectors/poseidon-circomlibjs.json with circomlibjs (pinned in
# package.json / package-lock.json), installed with `npm ci` into scripts/js/node_modules/.
#
#   scripts/js/gen.sh            install and write the vectors
#   scripts/js/gen.sh --check    install and fail unless the committed file is identical
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
npm ci --no-audit --no-fund --loglevel=error
node chunk_digest_vectors.js ../../testdata/vectors/poseidon-circomlibjs.json "$@"
# An independent re-implementation (Python standard library) re-checks every vector.
if command -v python3 >/dev/null; then
  python3 check_vectors.py ../../testdata/vectors/poseidon-circomlibjs.json
fi
