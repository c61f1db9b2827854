#!/usr/bin/env bash
# Installs what is needed, builds, and runs coughkit on the bundled example clips.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
out=${COUGHKIT_QUICKSTART_OUT:-build/quickstart}
./build/bin/coughkit features --npy-dir "$out" examples/*.wav
echo "Arrays written to $out"
