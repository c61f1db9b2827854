#!/usr/bin/env bash
# CTest entry of the web-page test: installs playwright-core on the first run (npm ci
# --ignore-scripts: it must not download a browser; Debian's chromium is used), then runs
# web_page_test.js. Usage: run_web_test.sh COUGHKIT_BIN MODEL.onnx AUDIO_FILE OUT_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -d "$here/node_modules/playwright-core" ]; then
  (cd "$here" && npm ci --ignore-scripts --no-audit --no-fund >&2)
fi
exec node "$here/web_page_test.js" "$@"
