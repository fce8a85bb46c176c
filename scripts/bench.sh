#!/usr/bin/env bash
# make bench: run every benchmark under build/bench.
set -euo pipefail
cd "$(dirname "$0")/.."
for b in build/bench/bench-*; do
  echo "== $b"
  "$b"
done
