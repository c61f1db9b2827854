#!/usr/bin/env bash
# Inference latency: coughkit's engine vs ONNX Runtime 1.30 (npm onnxruntime-node, CPU) on
# the same ONNX file, same bag size and thread count, in the same run. Prints both JSON
# lines and the ratio coughkit / ORT (the goal is <= 0.7).
#
# Usage: bench/engine_vs_onnxruntime.sh MODEL.onnx [SEGMENTS=17] [THREADS=2] [REPEAT=10]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
model=${1:?usage: $0 MODEL.onnx [SEGMENTS] [THREADS] [REPEAT]}
segments=${2:-17}
threads=${3:-2}
repeat=${4:-10}
coughkit=${COUGHKIT_BIN:-$here/../build/bin/coughkit}

if [ ! -d "$here/onnxruntime/node_modules/onnxruntime-node" ]; then
  # --ignore-scripts: the package ships its native library; its install script only
  # downloads optional GPU providers, which this machine cannot reach.
  (cd "$here/onnxruntime" && npm ci --ignore-scripts --no-audit --no-fund >&2)
fi

ort=$(node "$here/onnxruntime/ort_bench.js" "$model" "$segments" "$threads" "$repeat")
ck=$("$coughkit" --log-level warn bench --model "$model" --segments "$segments" --threads "$threads" --repeat "$repeat")
echo "$ort"
echo "$ck"
python3 - "$ort" "$ck" <<'PY'
import json, sys
ort, ck = (json.loads(a) for a in sys.argv[1:3])
print(json.dumps({"segments": ck["segments"], "threads": ck["threads"],
                  "onnxruntime_ms_per_bag_median": round(ort["ms_per_bag_median"], 1),
                  "coughkit_ms_per_bag_median": round(ck["ms_per_bag_median"], 1),
                  "ratio_coughkit_over_onnxruntime": round(ck["ms_per_bag_median"] / ort["ms_per_bag_median"], 3),
                  "coughkit_gflops": round(ck["gflops"], 1)}))
PY
