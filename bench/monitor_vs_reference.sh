#!/usr/bin/env bash
# Long recordings: `coughkit monitor` vs the seed system's way (the torchaudio reference
# pipeline + ONNX Runtime scoring the same windows, bench/monitor/peer_monitor.py), same
# file, same model, same threads, in one run. Prints each side's wall time, x-realtime and
# peak memory, and the ratio (goals: coughkit >= 30x realtime and >= 2x the peer's throughput).
#
# Usage: bench/monitor_vs_reference.sh [RECORDING] [MODEL.onnx] [THREADS=2]
#   without RECORDING: one hour of 48 kHz stereo Opus is generated (10 min encoded, joined 6 times)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$here/..
coughkit=${COUGHKIT_BIN:-$root/build/bin/coughkit}
model=${2:-$root/models/coughkit_default.onnx}
threads=${3:-2}
work=${COUGHKIT_BENCH_DIR:-$root/build/bench-monitor}
mkdir -p "$work"
recording=${1:-}
if [ -z "$recording" ]; then
  recording=$work/hour_48k_stereo.opus
  if [ ! -f "$recording" ]; then
    ffmpeg -v error -y -f lavfi -i anoisesrc=d=600:c=pink:r=48000:a=0.05 -f lavfi -i sine=f=440:r=48000:d=600 \
      -filter_complex '[0][1]amerge=inputs=2' -c:a libopus -b:a 32k "$work/part.opus"
    for _ in 1 2 3 4 5 6; do echo "file '$work/part.opus'"; done > "$work/parts.txt"
    ffmpeg -v error -y -f concat -safe 0 -i "$work/parts.txt" -c copy "$recording"
  fi
fi
if [ ! -d "$here/onnxruntime/node_modules/onnxruntime-node" ]; then
  (cd "$here/onnxruntime" && npm ci --ignore-scripts --no-audit --no-fund >&2)
fi

measure() {  # label command... -> "label wall_s peak_mib"
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/$label.time" "$@" > "$work/$label.out"
  read -r wall kib < "$work/$label.time"
  echo "$label $wall $((kib / 1024))"
}
ck=$(measure coughkit "$coughkit" --log-level warn monitor --json --no-progress --threads "$threads" --model "$model" "$recording")
peer=$(measure peer /usr/bin/python3 "$here/monitor/peer_monitor.py" "$model" "$recording" "$threads")
python3 - "$ck" "$peer" "$work/coughkit.out" "$work/peer.out" <<'PY'
import json, sys
ck, peer = (a.split() for a in sys.argv[1:3])
report = json.loads(open(sys.argv[3]).readline())
peer_out = json.loads(open(sys.argv[4]).readline())
audio = report["duration_s"]
ck_s, peer_s = float(ck[1]), float(peer[1])
print(json.dumps({
    "audio_s": audio, "windows": report["windows"], "peer_windows": peer_out["windows"],
    "coughkit_wall_s": ck_s, "coughkit_x_realtime": round(audio / ck_s, 1), "coughkit_peak_mib": int(ck[2]),
    "peer_wall_s": peer_s, "peer_x_realtime": round(audio / peer_s, 1), "peer_peak_mib": int(peer[2]),
    "throughput_ratio_coughkit_over_peer": round(peer_s / ck_s, 2),
    "audio_hours_per_core_hour": round(audio / ck_s / 2, 1),
}))
PY
