#!/usr/bin/env bash
# Configures and builds coughkit into build/ (or $COUGHKIT_BUILD_DIR).
# Usage: scripts/build.sh [--sanitize] [extra cmake -D options...]
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${COUGHKIT_BUILD_DIR:-build}
cmake_args=(-DCMAKE_BUILD_TYPE=Release)
if [ "${1:-}" = "--sanitize" ]; then
  shift
  build_dir=${COUGHKIT_BUILD_DIR:-build-asan}
  cmake_args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCOUGHKIT_SANITIZE=ON)
fi
generator=()
command -v ninja >/dev/null 2>&1 && [ ! -f "$build_dir/Makefile" ] && generator=(-G Ninja)
cmake -S . -B "$build_dir" "${generator[@]}" "${cmake_args[@]}" "$@"
cmake --build "$build_dir" -j"$(nproc)"
