#!/usr/bin/env bash
# Configures and builds coughkit into build/ (or $COUGHKIT_BUILD_DIR).
# Usage: scripts/build.sh [--program | --sanitize | --sanitize-fast] [extra cmake -D options...]
#   --program    only the `coughkit` program and the modules it loads (no tests, benchmarks
#                or LibTorch module): what the quick start needs
#   --sanitize   everything with AddressSanitizer + UBSan, into build-asan/
#   --sanitize-fast  the same build dir and flags, only the fast unit suites (decoding, features,
#                the engine's ops and ONNX conformance, the unpickler, monitoring, dataset,
#                the server's units, the fuzz targets' replay of their seeds and regressions):
#                what CI runs under the sanitizers after the full suite,
#                since the whole tree takes about an hour to compile with ASan on two cores
#   (default)    everything: program, LibTorch module (when libtorch-dev is installed), tests,
#                benchmarks
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${COUGHKIT_BUILD_DIR:-build}
cmake_args=(-DCMAKE_BUILD_TYPE=Release -DCOUGHKIT_BUILD_TESTS=ON -DCOUGHKIT_BUILD_BENCH=ON)
targets=()
case "${1:-}" in
  --program)
    shift
    cmake_args=(-DCMAKE_BUILD_TYPE=Release -DCOUGHKIT_BUILD_TESTS=OFF -DCOUGHKIT_BUILD_BENCH=OFF)
    targets=(--target coughkit)
    ;;
  --sanitize | --sanitize-fast)
    [ "$1" = "--sanitize-fast" ] && targets=(--target atomic_file_test decoder_test features_unit_test
      feature_cache_test model_ops_test model_onnx_conformance_test model_quantized_ops_test conversion_unpickler_test
      monitoring_unit_test dataset_unit_test long_form_test server_unit_test
      fuzz_replay_audio_decode fuzz_replay_audio_stream fuzz_replay_onnx_model fuzz_replay_checkpoint
      fuzz_replay_clip_labels_csv fuzz_replay_evaluate_inputs fuzz_replay_npy fuzz_replay_http_request)
    shift
    build_dir=${COUGHKIT_BUILD_DIR:-build-asan}
    cmake_args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCOUGHKIT_SANITIZE=ON -DCOUGHKIT_BUILD_TESTS=ON -DCOUGHKIT_BUILD_BENCH=ON)
    ;;
esac
generator=()
command -v ninja >/dev/null 2>&1 && [ ! -f "$build_dir/Makefile" ] && generator=(-G Ninja)
cmake -S . -B "$build_dir" "${generator[@]}" "${cmake_args[@]}" "$@"
cmake --build "$build_dir" -j"$(nproc)" "${targets[@]}"
