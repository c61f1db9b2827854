#!/usr/bin/env bash
# Runs coughkit's libFuzzer targets (fuzz/README.md).
# Usage: scripts/fuzz.sh TARGET SECONDS [libFuzzer flags...]
#        scripts/fuzz.sh all SECONDS      every target in turn, SECONDS each (CI's smoke run)
#        scripts/fuzz.sh --list
# Builds build-fuzz/ with clang (ASan + UBSan + libFuzzer) when needed, seeds
# build-fuzz/corpus/TARGET from fuzz/make_seeds.py on first use (the corpus keeps what each
# run adds), runs the target with its dictionary and writes crashing inputs to
# build-fuzz/artifacts/TARGET/ (slow-unit-* files there are inputs that took > 10 s of wall time, often
# only because the machine was busy: not findings). Prints executions, coverage (edges and features), corpus size
# and findings, and appends them as a JSON line to build-fuzz/fuzz-report.jsonl.
# Exit status: 0 no finding, 1 a finding (copy the artifact into fuzz/regressions/TARGET/ once
# fixed, where the fuzz_replay_TARGET test keeps running it), 2 usage.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build_dir=${COUGHKIT_FUZZ_BUILD_DIR:-build-fuzz}
# The target list has one definition: fuzz/CMakeLists.txt.
targets=$(sed -n '/^set(COUGHKIT_FUZZ_TARGETS/,/)/p' fuzz/CMakeLists.txt | tr '()\n' '   ' | tr -s ' ' |
  sed 's/^ *set COUGHKIT_FUZZ_TARGETS //; s/ *$//')

usage() { sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; echo "targets: $targets"; exit 2; }
[ "${1:-}" = "--list" ] && { echo "$targets"; exit 0; }
[ $# -ge 2 ] || usage
target=$1 seconds=$2
shift 2
case "$seconds" in '' | *[!0-9]*) echo "SECONDS must be a whole number, got '$seconds'" >&2; exit 2 ;; esac
if [ "$target" != all ] && ! grep -qw -- "$target" <<<"$targets"; then
  echo "unknown target '$target'; targets: $targets" >&2
  exit 2
fi

# Build (incremental after the first time).
generator=()
command -v ninja >/dev/null 2>&1 && [ ! -f "$build_dir/Makefile" ] && generator=(-G Ninja)
launcher=()
command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ cmake -S . -B "$build_dir" "${generator[@]}" "${launcher[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCOUGHKIT_FUZZ=ON -DCOUGHKIT_BUILD_TESTS=OFF -DCOUGHKIT_BUILD_BENCH=OFF -DCMAKE_DISABLE_FIND_PACKAGE_Torch=ON >/dev/null
fi
cmake --build "$build_dir" -j"$(nproc)" --target fuzzers

seeds=$build_dir/seeds
[ -f "$seeds/model/tiny_mil.onnx" ] || /usr/bin/python3 fuzz/make_seeds.py --out "$seeds"

run_one() {
  local name=$1 corpus=$build_dir/corpus/$1 artifacts=$build_dir/artifacts/$1 log=$build_dir/logs/$1.log
  shift
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  [ -n "$(ls -A "$corpus")" ] || cp "$seeds/$name"/* "$corpus"/
  local dict=()
  [ -f "fuzz/dictionaries/$name.dict" ] && dict=(-dict="fuzz/dictionaries/$name.dict")
  [[ $name == audio_* ]] && dict=(-dict=fuzz/dictionaries/audio.dict)
  local extra=()
  [ -d "fuzz/regressions/$name" ] && extra=("fuzz/regressions/$name")
  echo "== $name: $seconds s (corpus $(ls "$corpus" | wc -l) files)"
  local rc=0
  # -timeout: one input may take 30 s at most (an hour-long stream under ASan); rss 2.5 GB.
  # CPU seconds of the run (user + system), what the issue's CPU-hours count.
  local TIMEFORMAT='%U %S'
  { time COUGHKIT_FUZZ_MODEL=$root/$seeds/model/tiny_mil.onnx ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
    "$build_dir/bin/${name}_fuzzer" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2560 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "${dict[@]}" "$@" "$corpus" "${extra[@]}" >"$log" 2>&1 || rc=$?; } 2>"$log.cpu"
  local cpu
  cpu=$(awk '{printf "%.0f", $1 + $2}' "$log.cpu")
  local status execs edges features corp findings
  status=$(grep -aE '^#[0-9]+' "$log" | grep -E 'cov: ' | tail -1 || true)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tr -d "\\0" | tail -1)
  edges=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$status")
  features=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$status")
  corp=$(ls "$corpus" | wc -l)
  findings=$(ls "$artifacts" | grep -cE '^(crash|leak|timeout|oom)-' || true)
  printf '   executions %s  edges %s  features %s  corpus %s  findings %s  cpu %s s  (exit %s)\n' \
    "${execs:-?}" "${edges:-?}" "${features:-?}" "$corp" "$findings" "$cpu" "$rc"
  printf '{"target":"%s","seconds":%s,"cpu_s":%s,"executions":%s,"edges":%s,"features":%s,"corpus":%s,"findings":%s,"exit":%s,"date":"%s"}\n' \
    "$name" "$seconds" "${cpu:-null}" "${execs:-null}" "${edges:-null}" "${features:-null}" "$corp" "$findings" "$rc" \
    "$(date -u +%FT%TZ)" >>"$build_dir/fuzz-report.jsonl"
  if [ "$rc" -ne 0 ]; then
    echo "   FINDING: see $log; inputs in $artifacts/" >&2
    grep -aE 'ERROR: |finding:|SUMMARY' "$log" | head -5 >&2 || true
    return 1
  fi
}

failed=0
if [ "$target" = all ]; then
  for t in $targets; do run_one "$t" "$@" || failed=1; done
else
  run_one "$target" "$@" || failed=1
fi
exit $failed
