#!/usr/bin/env bash
# Formats the C++ sources with clang-format (.clang-format; clang-format 14 from Debian 12).
# Usage: scripts/format.sh [--check]   (--check: change nothing, list the files that differ, exit 1 if any)
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cpp' '*.h')
if [ "${1:-}" = "--check" ]; then
  bad=()
  for f in "${files[@]}"; do
    clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
  done
  if [ ${#bad[@]} -gt 0 ]; then
    printf 'not clang-formatted (run scripts/format.sh):\n' >&2
    printf '  %s\n' "${bad[@]}" >&2
    exit 1
  fi
  echo "all ${#files[@]} C++ files are clang-formatted"
else
  clang-format -i "${files[@]}"
fi
