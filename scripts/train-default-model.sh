#!/usr/bin/env bash
# Reproduces the bundled default model (models/coughkit_default.onnx, see models/README.md):
# builds the corpus, trains with the recipe below, exports fp16 ONNX and copies the
# evaluation next to it. Needs a build (scripts/build.sh) with LibTorch (libtorch-dev).
# Usage: scripts/train-default-model.sh [WORK_DIR]   (default build/default-model; ~1 h on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-build/default-model}
bin=${COUGHKIT_BIN:-build/bin/coughkit}

"$bin" dataset build --out "$work/dataset" --seed 1
"$bin" train --train-csv "$work/dataset/train.csv" --val-csv "$work/dataset/val.csv" \
  --test-csv "$work/dataset/test.csv" --out "$work/train" --epochs 10 --lr 1e-3 --seed 42 --threads 2
"$bin" export --checkpoint "$work/train/best_model.pth" --out models/coughkit_default.onnx --fp16
cp "$work/train/metrics.json" models/coughkit_default.metrics.json
echo "Model: models/coughkit_default.onnx; evaluation: models/coughkit_default.metrics.json"
