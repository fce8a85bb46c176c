#!/usr/bin/env bash
# `confpool aks nodepool attestation-policy show|set|reset` against a real
# confpoold (--backend fake, a test backend: no machines) on 127.0.0.1: the default, set (201 then a
# replace), -o json/tsv/table/yaml and --query, client-side usage errors
# (exit 2), server-side refusals (exit 1), a missing pool (show: exit 3),
# If-Match / --if-none-match, the override surviving a daemon restart,
# reset.  Enforcement on nodes: tests/unit/test-nodes-lifecycle.c.
set -uo pipefail
D=${CP_BIN_DIR:?}/confpoold
confpool() { "${CP_BIN_DIR:?}/confpool" "$@"; }
command -v jq >/dev/null || { echo "jq is required (scripts/install-deps.sh)"; exit 1; }
TMP=$(mktemp -d)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
pass=0
fail=0
expect() { # name want got
  if [ "$2" = "$3" ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1: got '$3', expected '$2'"; fi
}
expect_match() { # name regex got
  if [[ "$3" =~ $2 ]]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1: '$3' does not match '$2'"; fi
}

echo '{"fakeBackend": {"readyDelayMs": 0}, "retryAfterSeconds": 1}' >"$TMP/config.json"
start() {
  rm -f "$TMP/port"
  "$D" --state-dir "$TMP/state" --backend fake --config "$TMP/config.json" --port-file "$TMP/port" --reconcile-interval-ms 50 \
    >>"$TMP/log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do [ -s "$TMP/port" ] && break; sleep 0.05; done
  [ -s "$TMP/port" ] || { echo "confpoold did not start"; cat "$TMP/log"; exit 1; }
}
start
export CONFPOOL_CONFIG_DIR=$TMP/cfg
export CONFPOOL_POLL_MAX_MS=200
unset CONFPOOL_ENDPOINT CONFPOOL_TOKEN CONFPOOL_TOKEN_FILE CONFPOOL_CA_FILE CONFPOOL_SUBSCRIPTION
confpool login --endpoint "http://127.0.0.1:$(cat "$TMP/port")" --token-file "$TMP/state/operator.token" -o none
expect "login" 0 $?
confpool group create --name rg1 --location eastus -o none
confpool aks create -g rg1 -n c1 -s Standard_DC4as_v5 -c 1 -o none
expect "aks create" 0 $?
confpool aks nodepool add -g rg1 --cluster-name c1 -n cvmpool -c 1 -s Standard_DC4as_v5 -o none
expect "nodepool add" 0 $?
P=(-g rg1 --cluster-name c1 -n cvmpool)
AP=(aks nodepool attestation-policy)
M1=$(printf 'a%.0s' $(seq 96))
M2=$(printf '0%.0s' $(seq 95))1
HD=$(printf 'f%.0s' $(seq 64))

# the default
out=$(confpool "${AP[@]}" show "${P[@]}" -o json)
expect "show default" "0 true false false null default" \
  "$? $(jq -r '[.isDefault, .allowDebug, .requireEventLogReplay, .launchMeasurements, .name] | map(tostring) | join(" ")' <<<"$out")"
expect_match "show default id" "/agentPools/cvmpool/attestationPolicy/default$" "$(jq -r .id <<<"$out")"
confpool "${AP[@]}" show -g rg1 --cluster-name c1 -n nopool -o none 2>"$TMP/err"
expect "show missing pool" 3 $?
expect_match "show missing pool message" "Agent pool 'nopool' was not found" "$(cat "$TMP/err")"

# usage errors (exit 2), nothing sent
confpool "${AP[@]}" set "${P[@]}" --launch-measurements abc -o none 2>"$TMP/err"
expect "bad measurement" 2 $?
expect_match "bad measurement message" "is not 96 hex digits" "$(cat "$TMP/err")"
confpool "${AP[@]}" set "${P[@]}" --min-tcb snp=300 -o none 2>/dev/null
expect "tcb > 255" 2 $?
confpool "${AP[@]}" set "${P[@]}" --min-tcb snp=1,snp=2 -o none 2>/dev/null
expect "tcb twice" 2 $?
confpool "${AP[@]}" set "${P[@]}" --min-tcb fmc=1 -o none 2>/dev/null
expect "tcb unknown" 2 $?
confpool "${AP[@]}" set "${P[@]}" --min-tcb snp=1, -o none 2>/dev/null
expect "tcb trailing comma" 2 $?
confpool "${AP[@]}" set "${P[@]}" --host-data 00 -o none 2>/dev/null
expect "bad host data" 2 $?
confpool "${AP[@]}" set "${P[@]}" --allow-debug maybe -o none 2>/dev/null
expect "bad boolean" 2 $?
confpool "${AP[@]}" set "${P[@]}" --launch-measurements $(for i in $(seq 17); do printf '%096x ' "$i"; done) \
  -o none 2>/dev/null
expect "too many measurements" 2 $?
# a server-side refusal: duplicates (exit 1, the ARM error printed)
confpool "${AP[@]}" set "${P[@]}" --launch-measurements "$M1" "$M1" -o none 2>"$TMP/err"
expect "duplicate measurement" 1 $?
expect_match "duplicate message" "InvalidParameter.*repeats" "$(tr '\n' ' ' <"$TMP/err")"
out=$(confpool "${AP[@]}" show "${P[@]}" --query isDefault -o tsv)
expect "still default" "true" "$out"

# set
out=$(confpool "${AP[@]}" set "${P[@]}" --launch-measurements "$M1" "$M2" --min-tcb snp=22,ucode=213 \
  --host-data "$HD" --require-eventlog-replay true -o json)
expect "set" 0 $?
expect "set result" "false false true 2 22 213 0 $HD" \
  "$(jq -r '[.isDefault, .allowDebug, .requireEventLogReplay, (.launchMeasurements | length), .minimumTcb.snp, .minimumTcb.microcode, .minimumTcb.tee, .hostData] | join(" ")' <<<"$out")"
etag=$(jq -r .eTag <<<"$out")
expect "etag" 36 "${#etag}"
confpool "${AP[@]}" set "${P[@]}" --if-none-match -o none 2>/dev/null
expect "if-none-match on an existing policy" 1 $?
out=$(confpool "${AP[@]}" show "${P[@]}" --query 'launchMeasurements[1]' -o tsv)
expect "show --query" "$M2" "$out"
out=$(confpool "${AP[@]}" show "${P[@]}" -o table)
expect_match "table header" "AllowDebug +ETag +HostData +IsDefault +LaunchMeasurements +MinimumTcb" "$(head -1 <<<"$out")"
expect_match "table row" "aaaaaaaaaaaaaaaa\\.\\.\\. 0000000000000000\\.\\.\\..*bl=0,tee=0,snp=22,ucode=213" "$(tail -1 <<<"$out")"
out=$(confpool "${AP[@]}" show "${P[@]}" -o yaml)
expect_match "yaml" "requireEventLogReplay: true" "$out"

# survives a restart
kill "$PID"; wait "$PID" 2>/dev/null; PID=
start
confpool login --endpoint "http://127.0.0.1:$(cat "$TMP/port")" --token-file "$TMP/state/operator.token" -o none
out=$(confpool "${AP[@]}" show "${P[@]}" --query eTag -o tsv)
expect "after restart" "$etag" "$out"

# replace: what is not given returns to its default; stale If-Match refused
confpool "${AP[@]}" set "${P[@]}" --allow-debug true --if-match '"stale"' -o none 2>/dev/null
expect "stale if-match" 1 $?
out=$(confpool "${AP[@]}" set "${P[@]}" --allow-debug true --if-match "\"$etag\"" -o json)
expect "replace" "0 true null null false" \
  "$? $(jq -r '[.allowDebug, .launchMeasurements, .hostData, .requireEventLogReplay] | map(tostring) | join(" ")' <<<"$out")"

# reset
out=$(confpool "${AP[@]}" reset "${P[@]}" --query isDefault -o tsv)
expect "reset" "0 true" "$? $out"
out=$(confpool "${AP[@]}" reset "${P[@]}" --query isDefault -o tsv)
expect "reset again" "0 true" "$? $out"
out=$(confpool "${AP[@]}" show "${P[@]}" --query allowDebug -o tsv)
expect "after reset" "false" "$out"
out=$(confpool "${AP[@]}" --help)
expect_match "group help" "reset.*set.*show" "$(tr '\n' ' ' <<<"$out")"

echo "attestation-policy: $pass passed, $fail failed"
[ "$fail" = 0 ]
