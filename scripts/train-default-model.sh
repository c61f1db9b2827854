#!/usr/bin/env bash
# Reproduces the bundled default model (models/coughkit_default.onnx) with the commands of its
# model card, models/README.md ("Training"):
#   coughkit dataset build --out WORK/dataset --seed 1
#   coughkit train --train-csv WORK/dataset/train.csv --val-csv WORK/dataset/val.csv \
#       --test-csv WORK/dataset/test.csv --out WORK/train --epochs 8 --lr 1e-3 --seed 42 \
#       --threads 2 --segment-loss-weight 0.5
#   coughkit export --checkpoint WORK/train/best_model.pth --out WORK/coughkit_default.onnx --fp16
# (all epochs; the best epoch by validation ROC-AUC, its threshold the one that maximises F1
# on validation, both chosen by the trainer), plus the run's figures next to the model
# (WORK/coughkit_default.history.csv, .training_curves.svg, .metrics.json). Everything is
# written into WORK; the bundled files in models/ are replaced only with --install.
#
# Usage: scripts/train-default-model.sh [--install] [WORK_DIR]
#   WORK_DIR    where the corpus, the run and the exported model go (default build/default-model;
#               relative paths are taken from the repository root, as is COUGHKIT_BIN)
#   --install   then copy the model and its figures into models/ (overwrites the bundled ones)
#   COUGHKIT_BIN=PATH   the coughkit program (default build/bin/coughkit)
# Needs a build (scripts/build.sh) with LibTorch (libtorch-dev); ~40 min on 2 cores (the corpus,
# its features and eight ~4-min epochs). Rerunning with the same WORK_DIR reuses the corpus and
# the features and resumes an interrupted run after its last finished epoch (deterministic for
# the same --threads: the result is that of an uninterrupted run).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '/^# Usage:/,/^# Needs/p' "$0" | sed 's/^# \{0,1\}//' | sed '$d'; }
install=0
work=
for arg in "$@"; do
  case "$arg" in
    --install) install=1 ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "train-default-model.sh: unknown option $arg" >&2; usage >&2; exit 2 ;;
    *)
      if [ -n "$work" ]; then echo "train-default-model.sh: one WORK_DIR only" >&2; usage >&2; exit 2; fi
      work=$arg
      ;;
  esac
done
work=${work:-build/default-model}
bin=${COUGHKIT_BIN:-build/bin/coughkit}
[ -x "$bin" ] || { echo "train-default-model.sh: $bin is not an executable; build first (scripts/build.sh)" >&2; exit 2; }

# The model card's recipe.
dataset_seed=1
train_flags=(--epochs 8 --lr 1e-3 --seed 42 --threads 2 --segment-loss-weight 0.5)
export_flags=(--fp16)

run=$work/train
model=$work/coughkit_default.onnx

mkdir -p "$work"
"$bin" dataset build --out "$work/dataset" --seed "$dataset_seed"
"$bin" train --train-csv "$work/dataset/train.csv" --val-csv "$work/dataset/val.csv" \
  --test-csv "$work/dataset/test.csv" --out "$run" "${train_flags[@]}"
"$bin" export --checkpoint "$run/best_model.pth" --out "$model" "${export_flags[@]}"
cp "$run/history.csv" "$work/coughkit_default.history.csv"
cp "$run/training_curves.svg" "$work/coughkit_default.training_curves.svg"
cp "$run/metrics.json" "$work/coughkit_default.metrics.json"
echo "Model: $model; per-epoch figures: $work/coughkit_default.history.csv, metrics: $work/coughkit_default.metrics.json"

if [ "$install" = 1 ]; then
  for f in coughkit_default.onnx coughkit_default.history.csv coughkit_default.training_curves.svg \
    coughkit_default.metrics.json; do
    cp "$work/$f" "models/$f"
  done
  echo "Installed into models/ (coughkit_default.onnx, .history.csv, .training_curves.svg, .metrics.json)"
fi
