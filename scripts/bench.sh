#!/usr/bin/env bash
# make bench: run every benchmark under build/bench, then the long suites.
# Exit codes of every bench: 0 = ran and printed its figures (a missed
# target is printed, not an error: the machine may be loaded), 1 = the bench
# failed (an error, a wrong result, a node that took a shortcut), 2 = usage.
# make bench goes on after a failed bench, runs all of them and exits 1 at
# the end naming each that failed.
set -uo pipefail
cd "$(dirname "$0")/.."
failed=()
for b in build/bench/bench-*; do
  echo "== $b"
  "$b" || failed+=("$b (exit $?)")
done
# the long fault and flood suites (scripts on the embedded stack)
for b in bench/*.sh; do
  echo "== $b"
  CP_BIN_DIR=$PWD/build/bin bash "$b" || failed+=("$b (exit $?)")
done
if [ ${#failed[@]} -gt 0 ]; then
  printf 'bench: FAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "bench: every benchmark ran"
