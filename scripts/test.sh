#!/usr/bin/env bash
# Installs what is needed, builds, and runs the whole test suite (CTest).
# Usage: scripts/test.sh [--sanitize | --sanitize-fast]
#   --sanitize       everything under AddressSanitizer + UBSan, in build-asan/
#   --sanitize-fast  the fast unit suites under the sanitizers (scripts/build.sh), in build-asan/
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh "$@"
build_dir=${COUGHKIT_BUILD_DIR:-build}
case "${1:-}" in --sanitize | --sanitize-fast) build_dir=${COUGHKIT_BUILD_DIR:-build-asan} ;; esac
# A partial build: suites whose programs it left out (registered as *_NOT_BUILT), the page
# test (it runs the coughkit program) and the style check (the full run does it) are skipped.
exclude=()
[ "${1:-}" = "--sanitize-fast" ] && exclude=(-E '_NOT_BUILT|^server_web_page_test$|^style_clang_format$')
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir "$build_dir" --output-on-failure -j"$(nproc)" --timeout 1500 "${exclude[@]}"
