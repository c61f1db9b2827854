#!/usr/bin/env bash
# Training throughput: coughkit's LibTorch trainer step vs PyTorch 1.13 (Debian's
# python3-torch) on the same step (AttnMILResNet, train mode, BCE bag loss, backward,
# AdamW), the same batch shape and threads, in one run, alternating the sides ROUNDS times.
# Prints each run's segments/s and the median ratio (goal: coughkit >= PyTorch).
# coughkit is also run with glibc's allocator defaults to show what the allocator
# settings of `coughkit train` (src/training/allocator_tuning.h) are worth.
#
# Usage: bench/training_vs_pytorch.sh [BAGS=16] [SEGMENTS=5] [THREADS=2] [STEPS=3] [ROUNDS=3]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bench=${COUGHKIT_TRAIN_BENCH:-$here/../build/bin/coughkit_training_step_bench}
bags=${1:-16} segments=${2:-5} threads=${3:-2} steps=${4:-3} rounds=${5:-3}
[ -x "$bench" ] || { echo "$bench not built (scripts/build.sh builds it when libtorch-dev is installed)" >&2; exit 3; }
shape=(--bags "$bags" --segments "$segments" --threads "$threads" --steps "$steps" --warmup 1)
rate() { python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["segments_per_second"])'; }
results=()
for round in $(seq "$rounds"); do
  pt=$(/usr/bin/python3 "$here/training/pytorch_step_bench.py" "${shape[@]}" | rate)
  ck=$("$bench" "${shape[@]}" | rate)
  ckd=$("$bench" "${shape[@]}" --glibc-malloc-defaults | rate)
  echo "round $round: PyTorch $pt  coughkit $ck  coughkit-glibc-defaults $ckd segments/s" >&2
  results+=("$pt,$ck,$ckd")
done
python3 - "$bags" "$segments" "$threads" "${results[@]}" <<'PY'
import json, statistics, sys
bags, segments, threads = map(int, sys.argv[1:4])
rows = [tuple(map(float, r.split(","))) for r in sys.argv[4:]]
pt, ck, ckd = (statistics.median(c) for c in zip(*rows))
print(json.dumps({
    "bags": bags, "segments_per_bag": segments, "threads": threads, "rounds": len(rows),
    "pytorch_segments_per_s": round(pt, 2), "coughkit_segments_per_s": round(ck, 2),
    "coughkit_glibc_defaults_segments_per_s": round(ckd, 2),
    "ratio_coughkit_over_pytorch": round(statistics.median(c / p for p, c, _ in rows), 2),
    "ratio_allocator_settings": round(statistics.median(c / d for _, c, d in rows), 2),
}))
PY
