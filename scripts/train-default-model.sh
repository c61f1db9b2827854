#!/usr/bin/env bash
# Reproduces the bundled default model (models/coughkit_default.onnx) with the commands of its
# model card, models/README.md ("Training"):
#   coughkit dataset build --out WORK/dataset --seed 1
#   coughkit train ... --out WORK/train --epochs 8 --lr 1e-3 --seed 42 --threads 2
#       stopped once epoch 2 of the 8 has finished (the shipped weights are epoch 2; the
#       cosine schedule is still the 8-epoch one, and the run is deterministic for the same
#       --threads). `coughkit train` has no flag for this, so the script stops it the way the
#       card's run was stopped: it watches WORK/train/train_state.json, which the trainer
#       writes after the epoch's last_checkpoint.pth, and ends the trainer (SIGTERM) once it
#       says epoch 2 and that epoch's history.csv and steps.csv are written.
#   coughkit export --checkpoint WORK/train/last_checkpoint.pth --out WORK/coughkit_default.onnx \
#       --fp16 --threshold 0.0294
# plus the per-epoch figures next to it (WORK/coughkit_default.history.csv and
# .training_curves.svg). Everything is written into WORK; the bundled files in models/ are
# replaced only with --install.
#
# Usage: scripts/train-default-model.sh [--install] [WORK_DIR]
#   WORK_DIR    where the corpus, the run and the exported model go (default build/default-model;
#               relative paths are taken from the repository root, as is COUGHKIT_BIN)
#   --install   then copy the model and its figures into models/ (overwrites the bundled ones)
#   COUGHKIT_BIN=PATH   the coughkit program (default build/bin/coughkit)
# Needs a build (scripts/build.sh) with LibTorch (libtorch-dev); ~45 min on 2 cores (the corpus,
# its features and two ~14-min epochs). Rerunning with the same WORK_DIR reuses the corpus,
# resumes a run stopped before epoch 2 (as `coughkit train` does) and skips training once epoch
# 2 is done; a WORK_DIR trained past epoch 2 is refused.
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
epochs=8
stop_after_epoch=2
train_flags=(--epochs "$epochs" --lr 1e-3 --seed 42 --threads 2)
export_flags=(--fp16 --threshold 0.0294)

run=$work/train
state=$run/train_state.json
model=$work/coughkit_default.onnx

# The last finished epoch in train_state.json (0 when there is none). The trainer writes it
# with one space of indentation per level, so the top-level "epoch" is the line indented once.
finished_epoch() {
  local e=
  [ -f "$state" ] && e=$(sed -n 's/^ "epoch": *\([0-9][0-9]*\),\{0,1\} *$/\1/p' "$state")
  echo "${e:-0}"
}

mkdir -p "$work"
"$bin" dataset build --out "$work/dataset" --seed "$dataset_seed"

done_epoch=$(finished_epoch)
if [ "$done_epoch" -gt "$stop_after_epoch" ]; then
  echo "train-default-model.sh: $run has trained $done_epoch epochs, past epoch $stop_after_epoch of the card;" \
    "remove it (or pass another WORK_DIR) to start over" >&2
  exit 1
fi
if [ "$done_epoch" -lt "$stop_after_epoch" ]; then
  "$bin" train --train-csv "$work/dataset/train.csv" --val-csv "$work/dataset/val.csv" \
    --test-csv "$work/dataset/test.csv" --out "$run" "${train_flags[@]}" &
  train_pid=$!
  trap 'kill -TERM "$train_pid" 2>/dev/null || true' EXIT
  while kill -0 "$train_pid" 2>/dev/null; do
    # steps.csv is the last file the trainer writes for an epoch (after the state and
    # history.csv): once it has the epoch's steps, nothing of that epoch is left to write.
    if [ "$(finished_epoch)" -ge "$stop_after_epoch" ] && grep -q "^$stop_after_epoch," "$run/steps.csv" 2>/dev/null; then
      echo "train-default-model.sh: epoch $stop_after_epoch of $epochs finished: stopping the training there (models/README.md)"
      kill -TERM "$train_pid" 2>/dev/null || true
      break
    fi
    sleep 2
  done
  status=0
  wait "$train_pid" || status=$?
  trap - EXIT
  done_epoch=$(finished_epoch)
  if [ "$done_epoch" -ne "$stop_after_epoch" ]; then
    echo "train-default-model.sh: training ended (exit $status) after epoch $done_epoch, not $stop_after_epoch" >&2
    exit 1
  fi
fi

"$bin" export --checkpoint "$run/last_checkpoint.pth" --out "$model" "${export_flags[@]}"
cp "$run/history.csv" "$work/coughkit_default.history.csv"
cp "$run/training_curves.svg" "$work/coughkit_default.training_curves.svg"
echo "Model: $model (epoch $stop_after_epoch, threshold 0.0294); per-epoch figures: $work/coughkit_default.history.csv"

if [ "$install" = 1 ]; then
  cp "$model" models/coughkit_default.onnx
  cp "$work/coughkit_default.history.csv" models/coughkit_default.history.csv
  cp "$work/coughkit_default.training_curves.svg" models/coughkit_default.training_curves.svg
  echo "Installed into models/ (coughkit_default.onnx, .history.csv, .training_curves.svg)"
fi
