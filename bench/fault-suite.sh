#!/bin/bash
# The long fault suite (issue 13) on the embedded stack, one summary line
# per part:
#  - restarts: tests/cli/fault-restarts.sh with FAULT_ROUNDS (default 50)
#    kill -9 rounds, then the ratio of the slowest kill -9 recovery (nodes
#    adopted) to the down/up recovery (every node rebooted and attested
#    again) measured in the same run;
#  - floods: tests/cli/fault-flood.sh for FLOOD_SECONDS (default 120) with
#    2,000 idle connections per daemon and a challenge flood;
#  - key rotation: tests/cli/key-rotation.sh (attestd restarted with new
#    signing keys, kbsd restarted).
# Run by `make bench` (scripts/bench.sh) or alone:
#   CP_BIN_DIR=build/bin bench/fault-suite.sh
set -u
cd "$(dirname "$0")/.."
export CP_BIN_DIR=${CP_BIN_DIR:-$PWD/build/bin}
export FAULT_ROUNDS=${FAULT_ROUNDS:-50} FLOOD_SECONDS=${FLOOD_SECONDS:-120}
bad=0
part() { # name script summary-prefix
        local out
        out=$(bash "tests/cli/$2" 2>&1) || { echo "$out" | tail -30; echo "fault-suite: $1 FAILED"; bad=1; return; }
        echo "$out" | grep "^$3" || echo "fault-suite: $1 passed"
}
line=$(part restarts fault-restarts.sh fault-restarts:)
echo "$line"
slow=$(echo "$line" | sed -n 's/.*slowest restart to all-Ready \([0-9]*\) ms.*/\1/p')
full=$(echo "$line" | sed -n 's/.*down\/up to all-Ready \([0-9]*\) ms.*/\1/p')
if [ -n "$slow" ] && [ -n "$full" ] && [ "$full" -gt 0 ]; then
        echo "fault-suite: kill -9 recovery (adoption) / down-up recovery (reboot) = $(awk "BEGIN{printf \"%.2f\", $slow/$full}")"
fi
echo "$line" | grep -q FAILED && bad=1
part floods fault-flood.sh fault-flood:
t0=$(date +%s%3N)
part "key rotation" key-rotation.sh "key-rotation:"
echo "fault-suite: key rotation (attestd twice with new keys, kbsd once) $(( $(date +%s%3N) - t0 )) ms"
exit $bad
