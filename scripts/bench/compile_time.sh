#!/usr/bin/env bash
# Compile time of big vision models (issue 21's figure): zkopml's `compile` (parse, fold,
# calibrate on 16 inputs, quantise) beside onnxruntime's session creation, on the full-size
# ResNet-18, DenseNet-121 and VGG-19 that scripts/models/vision.py builds (random weights;
# torchvision's layers; VGG-19 is 575 MB). Prints one table.
#   bash scripts/bench/compile_time.sh [DIR]     (default target/models; models built if absent)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DIR="${1:-$ROOT/target/models}"
cd "$ROOT"
venv="$ROOT/.venv-torch"
source scripts/lib/venv.sh
pinned_venv "$venv" scripts/models/requirements-torch.txt .zkopml-requirements.sha256
for m in resnet18 densenet121 vgg19; do
  [ -f "$DIR/$m/network.onnx" ] || "$venv/bin/python" scripts/models/vision.py --full "$DIR" --only "$m"
done
cargo build --release --locked -p zkopml-cli >/dev/null 2>&1
printf '| model | parameters | ONNX MB | zkopml compile s | peak RSS MB | onnxruntime session s |\n|---|---|---|---|---|---|\n'
for m in resnet18 densenet121 vgg19; do
  onnx="$DIR/$m/network.onnx"
  t=$( { /usr/bin/time -f "%e %M" target/release/zkopml compile "$onnx" -o "$DIR/$m/model.zkml" >/dev/null; } 2>&1 | tail -1)
  ort=$("$venv/bin/python" - "$onnx" <<'PY'
import sys, time
import onnxruntime as ort
so = ort.SessionOptions()
so.intra_op_num_threads = 2
t = time.perf_counter()
ort.InferenceSession(sys.argv[1], so, providers=["CPUExecutionProvider"])
print(f"{time.perf_counter() - t:.2f}")
PY
)
  params=$("$venv/bin/python" -c "import onnx,sys,numpy as np; m=onnx.load(sys.argv[1]); print(sum(int(np.prod(i.dims)) for i in m.graph.initializer))" "$onnx")
  mb=$(( $(stat -c %s "$onnx") / 1000000 ))
  read -r secs rss <<<"$t"
  printf '| %s | %s | %s | %s | %s | %s |\n' "$m" "$params" "$mb" "$secs" "$((rss / 1024))" "$ort"
done
