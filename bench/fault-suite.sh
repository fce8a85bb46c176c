#!/bin/bash
# The long fault suite (issue 13): tests/cli/fault-restarts.sh with many
# rounds (FAULT_ROUNDS, default 50) on the embedded stack, then the summary
# line, with the ratio of the slowest kill -9 recovery (nodes adopted) to
# the down/up recovery (every node rebooted and attested again) measured in
# the same run.  Run by `make bench` (scripts/bench.sh) or alone:
#   CP_BIN_DIR=build/bin bench/fault-suite.sh
set -u
cd "$(dirname "$0")/.."
export CP_BIN_DIR=${CP_BIN_DIR:-$PWD/build/bin}
export FAULT_ROUNDS=${FAULT_ROUNDS:-50}
out=$(bash tests/cli/fault-restarts.sh 2>&1) || { echo "$out" | tail -30; echo "fault-suite: FAILED"; exit 1; }
line=$(echo "$out" | grep '^fault-restarts:')
echo "$line"
slow=$(echo "$line" | sed -n 's/.*slowest restart to all-Ready \([0-9]*\) ms.*/\1/p')
full=$(echo "$line" | sed -n 's/.*down\/up to all-Ready \([0-9]*\) ms.*/\1/p')
if [ -n "$slow" ] && [ -n "$full" ] && [ "$full" -gt 0 ]; then
        echo "fault-suite: kill -9 recovery (adoption) / down-up recovery (reboot) = $(awk "BEGIN{printf \"%.2f\", $slow/$full}")"
fi
