#!/usr/bin/env bash
# confpoold end to end on 127.0.0.1 with curl: auth, api-version, create /
# get / list / delete, and crash consistency: the daemon is SIGKILLed right
# after accepting a node pool create and right after accepting a delete,
# restarted on the same state directory, and the operations must complete
# with nothing lost.  It runs the fake backend (a test backend: no machines,
# nothing attested), named explicitly: confpoold has no default backend.
set -uo pipefail
BIN=${CP_BIN_DIR:?}/confpoold
command -v curl >/dev/null || { echo "curl is required (scripts/install-deps.sh)"; exit 1; }
command -v jq >/dev/null || { echo "jq is required (scripts/install-deps.sh check)"; exit 1; }
TMP=$(mktemp -d)
PID=
cleanup() { [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
expect() { # name want got
  if [ "$2" = "$3" ]; then ok; else bad "$1: got '$3', expected '$2'"; fi
}

# nodes become Ready 1.5 s after creation: long enough to kill mid-operation
cat >"$TMP/config.json" <<'JSON'
{"fakeBackend": {"readyDelayMs": 1500}, "retryAfterSeconds": 1}
JSON

start() {
  rm -f "$TMP/port"
  "$BIN" --state-dir "$TMP/state" --backend fake --config "$TMP/config.json" --port-file "$TMP/port" \
    --reconcile-interval-ms 50 >>"$TMP/log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do [ -s "$TMP/port" ] && break; sleep 0.05; done
  [ -s "$TMP/port" ] || { echo "confpoold did not start"; cat "$TMP/log"; exit 1; }
  PORT=$(cat "$TMP/port")
  BASE="http://127.0.0.1:$PORT"
}
crash() { kill -9 "$PID"; wait "$PID" 2>/dev/null; PID=; }

# no default backend (issue 20 item 6): without --backend confpoold refuses
# to start, naming both; an unknown one is refused; the fake one warns
out=$("$BIN" --state-dir "$TMP/nobackend" --port-file "$TMP/nb.port" 2>&1)
expect "no --backend: exit 1" 1 "$?"
expect "no --backend: nothing listening" "" "$(cat "$TMP/nb.port" 2>/dev/null)"
[[ "$out" == *"no compute backend named: --backend local"*"--backend fake (a test backend"* ]] ||
  bad "no --backend: message '$out'"
out=$("$BIN" --state-dir "$TMP/nobackend" --backend magic 2>&1)
expect "unknown backend: exit 1" 1 "$?"
[[ "$out" == *"unknown backend 'magic'"* ]] || bad "unknown backend: message '$out'"

SUB=6a8b4c2e-1f3d-4e5a-9b7c-0d1e2f3a4b5c
CS=2026-01-01
TOKEN=
req() { # method path [body] -> prints "status" line then headers+body in $TMP/resp
  local m=$1 p=$2 body=${3:-}
  local args=(-s -o "$TMP/body" -D "$TMP/hdr" -w '%{http_code}' -X "$m" -H "Authorization: Bearer $TOKEN")
  [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data "$body")
  curl "${args[@]}" "$BASE$p"
}
hdr() { grep -i "^$1:" "$TMP/hdr" | head -1 | cut -d' ' -f2- | tr -d '\r'; }
path_of() { echo "$1" | sed -E 's#^https?://[^/]+##'; }
poll_status() { # operation path -> final status
  local p=$1 s=
  for _ in $(seq 200); do
    req GET "$p" >/dev/null
    s=$(jq -r .status "$TMP/body")
    case "$s" in InProgress) sleep 0.1 ;; *) break ;; esac
  done
  echo "$s"
}

start
grep -q "WARNING: --backend fake is a test backend" "$TMP/log" || bad "the fake backend started without its warning"
TOKEN=$(cat "$TMP/state/operator.token")
expect "token file mode" 600 "$(stat -c %a "$TMP/state/operator.token")"
RG=/subscriptions/$SUB/resourcegroups/myResourceGroup
MC=/subscriptions/$SUB/resourceGroups/myResourceGroup/providers/Microsoft.ContainerService/managedClusters/myAKSCluster
AP=$MC/agentPools/cvmnodepool

# authentication and api-version
expect "no token" 401 "$(curl -s -o "$TMP/body" -w '%{http_code}' "$BASE$RG?api-version=2021-04-01")"
expect "no token envelope" AuthenticationFailed "$(jq -r .error.code "$TMP/body")"
expect "wrong token" 401 "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer cpo_nope' "$BASE$RG?api-version=2021-04-01")"
expect "missing api-version" 400 "$(req GET "$RG")"
expect "missing api-version code" MissingApiVersionParameter "$(jq -r .error.code "$TMP/body")"
expect "bad api-version" 400 "$(req GET "$MC?api-version=2019-01-01")"
expect "body too large" 413 "$(head -c 2000000 /dev/zero | tr '\0' ' ' | curl -s -o /dev/null -w '%{http_code}' \
  -X PUT -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' --data-binary @- "$BASE$RG?api-version=2021-04-01")"

# group + cluster
expect "rg create" 201 "$(req PUT "$RG?api-version=2021-04-01" '{"location":"eastus"}')"
expect "cluster create" 201 "$(req PUT "$MC?api-version=$CS" '{"location":"eastus","properties":{"agentPoolProfiles":[{"name":"nodepool1","count":1,"vmSize":"Standard_DC4as_v5","mode":"System"}]}}')"
OP=$(path_of "$(hdr Azure-AsyncOperation)")
expect "cluster op" Succeeded "$(poll_status "$OP")"
expect "cluster get" 200 "$(req GET "$MC?api-version=$CS")"
expect "cluster state" Succeeded "$(jq -r .properties.provisioningState "$TMP/body")"

# create a CVM pool, kill the daemon right after the 201
expect "pool create" 201 "$(req PUT "$AP?api-version=$CS" '{"properties":{"count":3,"vmSize":"Standard_DC4as_v5","mode":"User"}}')"
OP=$(path_of "$(hdr Azure-AsyncOperation)")
expect "retry-after" 1 "$(hdr Retry-After)"
expect "creating" Creating "$(jq -r .properties.provisioningState "$TMP/body")"
crash
start
expect "pool after crash" 200 "$(req GET "$AP?api-version=$CS")"
expect "op resumes" Succeeded "$(poll_status "$OP")"
req GET "$AP?api-version=$CS" >/dev/null
expect "pool state" Succeeded "$(jq -r .properties.provisioningState "$TMP/body")"
expect "vmSize" Standard_DC4as_v5 "$(jq -r .properties.vmSize "$TMP/body")"
case "$(jq -r .properties.nodeImageVersion "$TMP/body")" in
  AKSUbuntu-2004gen2CVMcontainerd-*) ok ;; *) bad "node image $(jq -r .properties.nodeImageVersion "$TMP/body")" ;;
esac
req GET "$AP/machines?api-version=$CS" >/dev/null
expect "3 machines" 3 "$(jq '.value | length' "$TMP/body")"
expect "3 ready" 3 "$(jq '[.value[] | select(.properties.status.nodeState == "Ready")] | length' "$TMP/body")"
expect "cvm label" ConfidentialVM "$(jq -r '.value[0].properties.nodeLabels["kubernetes.azure.com/security-type"]' "$TMP/body")"
req GET "$MC/agentPools?api-version=$CS" >/dev/null
expect "2 pools" 2 "$(jq '.value | length' "$TMP/body")"
req GET "/subscriptions/$SUB/providers/Microsoft.ContainerService/managedClusters?api-version=$CS" >/dev/null
expect "list by subscription" myAKSCluster "$(jq -r '.value[0].name' "$TMP/body")"

# scale up and kill in the middle of it (nodes provisioning), then restart
expect "pool scale" 200 "$(req PUT "$AP?api-version=$CS" '{"properties":{"count":5}}')"
OP=$(path_of "$(hdr Azure-AsyncOperation)")
sleep 0.3
crash
start
expect "scale resumes" Succeeded "$(poll_status "$OP")"
req GET "$AP/machines?api-version=$CS" >/dev/null
expect "5 machines" 5 "$(jq '[.value[] | select(.properties.status.nodeState == "Ready")] | length' "$TMP/body")"

# delete and kill right after the 202
expect "pool delete" 202 "$(req DELETE "$AP?api-version=$CS")"
LOC=$(path_of "$(hdr Location)")
OP=$(path_of "$(hdr Azure-AsyncOperation)")
[ -n "$LOC" ] && ok || bad "no Location header on delete"
crash
start
expect "delete resumes" Succeeded "$(poll_status "$OP")"
expect "operationresults" 204 "$(req GET "$LOC")"
expect "pool gone" 404 "$(req GET "$AP?api-version=$CS")"
expect "delete again" 204 "$(req DELETE "$AP?api-version=$CS")"
req GET "$MC/agentPools?api-version=$CS" >/dev/null
expect "1 pool left" 1 "$(jq '.value | length' "$TMP/body")"

# cluster delete cascades; the daemon is killed during it too
expect "cluster delete" 202 "$(req DELETE "$MC?api-version=$CS")"
OP=$(path_of "$(hdr Azure-AsyncOperation)")
crash
start
expect "cluster delete resumes" Succeeded "$(poll_status "$OP")"
expect "cluster gone" 404 "$(req GET "$MC?api-version=$CS")"

kill -TERM "$PID"
wait "$PID"
expect "clean exit" 0 "$?"
PID=

# TLS (forced on loopback; any non-loopback listen address turns it on)
rm -f "$TMP/port"
"$BIN" --state-dir "$TMP/state" --backend fake --tls --port-file "$TMP/port" >>"$TMP/log" 2>&1 &
PID=$!
for _ in $(seq 100); do [ -s "$TMP/port" ] && break; sleep 0.05; done
PORT=$(cat "$TMP/port")
expect "tls key mode" 600 "$(stat -c %a "$TMP/state/tls-key.pem")"
expect "https no token" 401 "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$TMP/state/tls-cert.pem" \
  "https://127.0.0.1:$PORT$RG?api-version=2021-04-01")"
expect "https with token" 404 "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$TMP/state/tls-cert.pem" \
  -H "Authorization: Bearer $TOKEN" "https://127.0.0.1:$PORT$MC?api-version=$CS")"
expect "plain http refused" 000 "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$PORT/" || true)"
kill -TERM "$PID"
wait "$PID"
PID=
echo "confpoold.sh: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
