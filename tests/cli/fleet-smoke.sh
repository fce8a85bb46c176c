#!/usr/bin/env bash
# bench-fleet in smoke mode (issue 19): 50 simulated nodes (4 emulated chips,
# 2 in-process AKs) register and heartbeat against the real confpool-attestd
# and confpoold (fake backend with fakeBackend.launchMeasurement: attested
# nodes) for 5 s; every register, heartbeat and attestation must succeed.
# Also: confpoold refuses attested fake nodes without --attestd-url.
set -uo pipefail
BENCH=${CP_BUILD_DIR:?}/bench/bench-fleet
CPD=${CP_BIN_DIR:?}/confpoold
[ -x "$BENCH" ] || { echo "FAIL: $BENCH not built"; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail=0

out=$(CP_BIN_DIR=$CP_BIN_DIR "$BENCH" --nodes 50 --seconds 5 --chips 4 --aks 2 --threads 2 --heartbeat-s 2 \
      --reattest-s 4 -o "$TMP/fleet.csv" 2>&1)
rc=$?
echo "$out" | tail -3
[ $rc -eq 0 ] || { echo "FAIL: bench-fleet exit $rc"; fail=1; }
echo "$out" | grep -q "^fleet 50 nodes (.*; 0 failures$" || { echo "FAIL: not 50 nodes without failures"; fail=1; }
# heartbeats and re-attestations happened in the window (columns 3 and 7 of the CSV)
row=$(tail -1 "$TMP/fleet.csv")
hb=$(echo "$row" | cut -d, -f3)
att=$(echo "$row" | cut -d, -f7)
[ "${hb:-0}" -gt 50 ] || { echo "FAIL: $hb heartbeats in the window"; fail=1; }
[ "${att:-0}" -gt 10 ] || { echo "FAIL: $att re-attestations in the window"; fail=1; }
# confpoold's own time per heartbeat (Server-Timing, column 21 = max) and the simulator's lag are reported
srv=$(echo "$row" | cut -d, -f21)
awk -v v="${srv:-0}" 'BEGIN { exit !(v > 0) }' || { echo "FAIL: no Server-Timing from confpoold ($srv)"; fail=1; }
[ "$(echo "$row" | tr , '\n' | wc -l)" -eq 26 ] || { echo "FAIL: CSV row of $(echo "$row" | tr , '\n' | wc -l) columns"; fail=1; }

# attested fake nodes need the attestation service's keys
echo '{"fakeBackend":{"launchMeasurement":"'"$(printf '5a%.0s' $(seq 48))"'"}}' >"$TMP/cfg.json"
err=$("$CPD" --state-dir "$TMP/cp" --backend fake --config "$TMP/cfg.json" --port 0 2>&1 </dev/null)
rc=$?
[ $rc -ne 0 ] || { echo "FAIL: confpoold started attested fake nodes without --attestd-url"; fail=1; }
echo "$err" | grep -q "launchMeasurement (attested fake nodes) needs --attestd-url" ||
  { echo "FAIL: no clear refusal: $err"; fail=1; }
[ $fail -eq 0 ] && echo "fleet-smoke: ok"
exit $fail
