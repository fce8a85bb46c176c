#!/usr/bin/env bash
# Run every libFuzzer binary in BUILD_DIR for SECONDS over its seed corpus
# (a copy, so the repository's corpus is not modified), as many at once as
# there are CPUs (each target is one process). Fails on any crash.
set -euo pipefail
dir=${1:?build dir}
secs=${2:-5}
par=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
run_one() { # bin name
  local rc=0
  "$1" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=0 \
      -artifact_prefix="$tmp/$2." "$tmp/$2" >"$tmp/$2.log" 2>&1 || rc=$?
  echo "$rc" >"$tmp/$2.rc"
}
names=()
for bin in "$dir"/fuzz-*; do
  [ -x "$bin" ] || continue
  case "$bin" in *-replay) continue ;; esac
  name=$(basename "$bin")
  mkdir -p "$tmp/$name"
  cp -r "fuzz/corpus/$name/." "$tmp/$name/"
  echo "fuzz: $name for ${secs}s"
  names+=("$name")
  run_one "$bin" "$name" &
  while [ "$(jobs -rp | wc -l)" -ge "$par" ]; do wait -n || true; done
done
wait
[ "${#names[@]}" -gt 0 ] || { echo "fuzz: no fuzz targets built in $dir"; exit 1; }
failed=0
for name in "${names[@]}"; do
  rc=$(cat "$tmp/$name.rc" 2>/dev/null || echo missing)
  [ "$rc" = 0 ] && continue
  echo "fuzz: $name FAILED (exit $rc)"; tail -40 "$tmp/$name.log"
  failed=1
done
[ "$failed" = 0 ] || exit 1
echo "fuzz: ${#names[@]} targets ran clean"
