#!/usr/bin/env bash
# Installs the Debian 12 packages coughkit needs. Idempotent; run as root.
# Usage: scripts/install-deps.sh [--program]
#   --program   only what building and running the `coughkit` program needs (the quick start)
#   (default)   everything: the program, training (LibTorch), tests, benchmarks and the reference
# Set COUGHKIT_SKIP_APT=1 to skip (packages already present).
set -euo pipefail
[ "${COUGHKIT_SKIP_APT:-0}" = 1 ] && exit 0

program=(
  # toolchain
  build-essential cmake ninja-build pkg-config git
  # audio decoding
  libavformat-dev libavcodec-dev libavutil-dev libswresample-dev
  # features: FFT
  libfftw3-dev
  # inference: oneDNN kernels, ONNX files
  libdnnl-dev libonnx-dev libprotobuf-dev protobuf-compiler
  # interfaces: command line, logging, JSON, HTTP, checkpoints (zip), SHA-256
  libcli11-dev libspdlog-dev libfmt-dev nlohmann-json3-dev libcpp-httplib-dev libzip-dev libssl-dev
)
everything=(
  # training (`coughkit train`, `--backend torch`; a module of its own, never linked by
  # detect/serve) and the corpus builder's speech synthesiser (`coughkit dataset build`)
  libtorch-dev espeak-ng
  # tests and benchmarks; ONNX's own operator conformance cases; ffmpeg to make test files
  libgtest-dev libgmock-dev googletest libbenchmark-dev libonnx-testdata ffmpeg
  # style check (scripts/format.sh --check, a CTest test)
  clang-format
  # fuzz targets (scripts/fuzz.sh): clang's libFuzzer, ASan and UBSan runtimes
  clang libclang-rt-14-dev
  # HTTP service: browser test of the web page, load benchmark and its Flask/PyTorch peer
  chromium wrk python3-flask
  # reference implementation (parity tests, reference generator)
  python3 python3-numpy python3-torch python3-torchaudio python3-torchvision python3-onnx
)

packages=("${program[@]}")
if [ "${1:-}" != "--program" ]; then
  packages+=("${everything[@]}")
  # Node.js runs ONNX Runtime (npm package onnxruntime-node) as the benchmark peer and
  # Playwright for the page test; keep whatever Node the machine already has.
  command -v node >/dev/null 2>&1 || packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
fi
