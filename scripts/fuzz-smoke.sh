#!/usr/bin/env bash
# Run every libFuzzer binary in BUILD_DIR for SECONDS over its seed corpus
# (a copy, so the repository's corpus is not modified). Fails on any crash.
set -euo pipefail
dir=${1:?build dir}
secs=${2:-5}
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
for bin in "$dir"/fuzz-*; do
  [ -x "$bin" ] || continue
  case "$bin" in *-replay) continue ;; esac
  name=$(basename "$bin")
  mkdir -p "$tmp/$name"
  cp -r "fuzz/corpus/$name/." "$tmp/$name/"
  echo "fuzz: $name for ${secs}s"
  "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=0 \
      -artifact_prefix="$tmp/" "$tmp/$name" >"$tmp/$name.log" 2>&1 || {
    echo "fuzz: $name FAILED"; tail -40 "$tmp/$name.log"; exit 1; }
  n=$((n + 1))
done
[ "$n" -gt 0 ] || { echo "fuzz: no fuzz targets built in $dir"; exit 1; }
echo "fuzz: $n targets ran clean"
