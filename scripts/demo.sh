#!/usr/bin/env bash
# The main demo (README): builds zkopml and walks LeNet-5 through the engine — operator table,
# fixed-point compilation and its hash, a committed run with its state root, accuracy against
# tract's f32 — then runs the contracts' tests. The live-chain demo (`zkopml demo`: anvil,
# contracts, actors and a dispute settled by a proof) is issue 5 and not built yet.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/install-tools.sh
cargo build --release --locked -p zkopml-cli
Z="$ROOT/target/release/zkopml"
M="$ROOT/testdata/models"
OUT="${ZKOPML_DEMO_DIR:-$ROOT/target/demo}"
mkdir -p "$OUT"
echo "== LeNet-5: the compiled operator table"
"$Z" inspect "$M/lenet_5/network.onnx"
echo "== compile (calibrated on the sample input and 15 variations of it)"
"$Z" compile "$M/lenet_5/network.onnx" -o "$OUT/lenet_5.zkml"
echo "== run with the full committed trace"
"$Z" run "$OUT/lenet_5.zkml" "$M/lenet_5/input.json" --trace "$OUT/lenet_5-trace"
echo "== accuracy: fixed point against tract f32 on 100 inputs"
"$Z" accuracy "$M/lenet_5/network.onnx" --inputs 100
echo "== the contracts' own tests (registry, requests, dispute game, verifier)"
(cd contracts && ../.tools/bin/forge test 2>&1 | tail -3)
