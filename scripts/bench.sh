#!/usr/bin/env bash
# make bench: run every benchmark under build/bench.
set -euo pipefail
cd "$(dirname "$0")/.."
for b in build/bench/bench-*; do
  echo "== $b"
  "$b"
done
# the long fault and flood suites (scripts on the embedded stack)
for b in bench/*.sh; do
  echo "== $b"
  CP_BIN_DIR=$PWD/build/bin bash "$b"
done
