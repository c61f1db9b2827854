#!/usr/bin/env bash
# The quick start: installs what the program needs, builds only the program, and detects
# coughs in the bundled example clips with the bundled default model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --program
bash scripts/build.sh --program
./build/bin/coughkit detect examples/*.wav
