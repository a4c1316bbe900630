#!/usr/bin/env bash
# Times a model's phase-2 ceremony with the native implementation (docs/benchmarks.md, "Ceremony"):
# initial keys from a prepared .ptau, one contribution to every circuit, verification, final keys,
# and (for comparison) one snarkjs contribution to the model's largest circuit.
#
#   scripts/ceremony/bench.sh <model.onnx> <prepared.ptau> [workdir]
#
# Needs a release build of the CLI (cargo build --release -p zkopml-cli; CARGO_TARGET_DIR is
# honoured) and snarkjs (scripts/ceremony/setup.sh). A .ptau of power 15 covers LeNet's circuits.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MODEL="$1"; PTAU="$2"; WORK="${3:-$(mktemp -d)}"
ZK="${CARGO_TARGET_DIR:-$ROOT/target}/release/zkopml"
S="node $ROOT/scripts/ceremony/node_modules/snarkjs/build/cli.cjs"
mkdir -p "$WORK"
echo "ceremony benchmark: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); model $MODEL; ptau $PTAU"
t() { local s e; s=$(date +%s.%N); "$@"; e=$(date +%s.%N); printf '%s: %.2f s\n' "$*" "$(echo "$e - $s" | bc)" >&2; }
t "$ZK" ceremony init "$MODEL" --ptau "$PTAU" --dir "$WORK/cer"
t "$ZK" ceremony contribute --dir "$WORK/cer" --name bench | tail -1
t "$ZK" ceremony verify "$MODEL" --ptau "$PTAU" --dir "$WORK/cer" | tail -2
t "$ZK" ceremony finalize "$MODEL" --ptau "$PTAU" --dir "$WORK/cer" --out "$WORK/keys" | tail -1
du -sh "$WORK/cer" | sed 's/^/zkey folder: /'
big=$(ls -S "$WORK"/cer/c*.zkey | head -1)
echo "largest key: $big ($(du -h "$big" | cut -f1))"
t $S zkey contribute "$big" "$WORK/snarkjs.zkey" --name=snarkjs -e=bench >/dev/null
