#!/usr/bin/env bash
# The main demo (README). Builds zkopml and runs `zkopml demo`: anvil, the contracts, LeNet-5
# registered (compile + Groth16 setup with an insecure devnet seed), an honest answer finalised,
# a defective one dissected on chain by a challenger process and settled by a Groth16 proof
# verified by the contract, with wall time and gas per phase (about a minute after the build).
# `ZKOPML_OFFLINE_DEMO=1 bash scripts/demo.sh` walks LeNet-5 through the engine and the prover
# without a chain instead (operator table, committed run, accuracy, setup, one step proof).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/install-tools.sh
cargo build --release --locked -p zkopml-cli
Z="${CARGO_TARGET_DIR:-$ROOT/target}/release/zkopml"
M="$ROOT/testdata/models"
OUT="${ZKOPML_DEMO_DIR:-$ROOT/target/demo}"
mkdir -p "$OUT"
if [ "${ZKOPML_OFFLINE_DEMO:-0}" != 1 ]; then
  rm -rf "$OUT/chain"
  exec "$Z" demo --dir "$OUT/chain" "$@"
fi
echo "== LeNet-5: the compiled operator table"
"$Z" inspect "$M/lenet_5/network.onnx"
echo "== compile (calibrated on the sample input and 15 variations of it)"
"$Z" compile "$M/lenet_5/network.onnx" -o "$OUT/lenet_5.zkml"
echo "== run with the full committed trace"
"$Z" run "$OUT/lenet_5.zkml" "$M/lenet_5/input.json" --trace "$OUT/lenet_5-trace"
echo "== accuracy: fixed point against tract f32 on 100 inputs"
"$Z" accuracy "$M/lenet_5/network.onnx" --inputs 100
echo "== circuits: one per distinct (operator, chunk) structure"
"$Z" setup "$OUT/lenet_5.zkml" --plan
echo "== Groth16 setup of every circuit (INSECURE devnet seed)"
"$Z" setup "$OUT/lenet_5.zkml" -o "$OUT/lenet_5-keys" --insecure-seed 7
echo "== the last step of a dispute: prove op 5 (Conv), output chunk 4"
"$Z" prove "$OUT/lenet_5.zkml" "$M/lenet_5/input.json" --keys "$OUT/lenet_5-keys" --op 5 --chunk 4 -o "$OUT/step.json"
echo "== the contracts' own tests (registry, requests, dispute game, verifier)"
(cd contracts && ../.tools/bin/forge test 2>&1 | tail -3)
