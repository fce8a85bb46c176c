#!/usr/bin/env bash
# Issue 17: three confpoold replicas on one throw-away PostgreSQL cluster
# (tests/cli/lib/pg.sh).  Every replica serves the ARM API (ETags and
# If-Match across replicas, LRO status from any); exactly one holds the
# leader lease and reconciles; kill -9 of the leader at several points of a
# `nodepool add` of 5 nodes through replica A: another replica takes over
# within seconds and finishes the operation, with exactly 5 machines (no
# duplicate, none lost) and every LRO terminal.  The compute backend is the
# fake one (stateless: its handles encode the node), named as such; the
# local backend's failover (real nodes, attested, disks kept) is
# tests/cli/pg-failover-nodes.sh.
set -uo pipefail
BIN=${CP_BIN_DIR:?}/confpoold
command -v curl >/dev/null || { echo "curl is required"; exit 1; }
command -v jq >/dev/null || { echo "jq is required (scripts/install-deps.sh check)"; exit 1; }
. "$(dirname "$0")/lib/pg.sh"
TMP=$(mktemp -d)
declare -A PIDS PORTS
cleanup() {
  for r in "${!PIDS[@]}"; do [ -n "${PIDS[$r]}" ] && kill -9 "${PIDS[$r]}" 2>/dev/null; done
  wait 2>/dev/null; pg_stop; rm -rf "$TMP"
}
trap cleanup EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
expect() { if [ "$2" = "$3" ]; then ok; else bad "$1: got '$3', expected '$2'"; fi; }

pg_start "$TMP" || exit $?
cat >"$TMP/config.json" <<'JSON'
{"fakeBackend": {"readyDelayMs": 1500}, "retryAfterSeconds": 1}
JSON
mkdir -m 700 "$TMP/state"

start() { # replica name
  local r=$1
  rm -f "$TMP/$r.port"
  "$BIN" --state-dir "$TMP/state" --db "$PG_URL" --replica-id "$r-$RANDOM" --lease-ttl-ms 3000 --backend fake \
    --config "$TMP/config.json" --port-file "$TMP/$r.port" --reconcile-interval-ms 50 >>"$TMP/$r.log" 2>&1 &
  PIDS[$r]=$!
  for _ in $(seq 200); do [ -s "$TMP/$r.port" ] && break; sleep 0.05; done
  [ -s "$TMP/$r.port" ] || { echo "replica $r did not start"; cat "$TMP/$r.log"; exit 1; }
  PORTS[$r]=$(cat "$TMP/$r.port")
}
kill9() { kill -9 "${PIDS[$1]}" 2>/dev/null; wait "${PIDS[$1]}" 2>/dev/null; PIDS[$1]=; }
base() { echo "http://127.0.0.1:${PORTS[$1]}"; }
role() { curl -s "$(base "$1")/healthz" | jq -r .role; }
leader() { # the replica whose /healthz says leader (waits up to 10 s)
  for _ in $(seq 100); do
    for r in a b c; do
      [ -n "${PIDS[$r]:-}" ] && [ "$(role "$r")" = leader ] && { echo "$r"; return; }
    done
    sleep 0.1
  done
}
SUB=6a8b4c2e-1f3d-4e5a-9b7c-0d1e2f3a4b5c
CS=2026-01-01
req() { # replica method path [body] [extra curl args...] -> status
  local r=$1 m=$2 p=$3 body=${4:-}
  shift 4 2>/dev/null || shift $#
  local args=(-s -o "$TMP/body" -D "$TMP/hdr" -w '%{http_code}' -X "$m" -H "Authorization: Bearer $TOKEN" "$@")
  [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data "$body")
  curl "${args[@]}" "$(base "$r")$p"
}
hdr() { grep -i "^$1:" "$TMP/hdr" | head -1 | cut -d' ' -f2- | tr -d '\r'; }
path_of() { echo "$1" | sed -E 's#^https?://[^/]+##'; }

# refused at start, each naming what it refused (and never a password)
refused() { # name want-substring args...
  local name=$1 want=$2; shift 2
  local out; out=$("$BIN" --state-dir "$TMP/refused" --backend fake "$@" 2>&1)
  local rc=$?
  [ "$rc" -eq 1 ] && [[ "$out" == *"$want"* ]] && ok || bad "$name: rc $rc '$out'"
  [[ "$out" != *"s3cret"* ]] && ok || bad "$name: the password in '$out'"
}
refused "unknown scheme" "unknown scheme (use sqlite:PATH or postgresql://...)" --db "mysql://u:s3cret@h/db"
refused "unreachable database" "cannot connect" --db "postgresql://u:s3cret@127.0.0.1:1/db?connect_timeout=2"
refused "agent URL list" "1..8 URLs, none empty" --agent-controlplane-urls "http://a:1,,http://b:2"
refused "agent URL with a path" "without a path" --agent-controlplane-urls "http://a:1/x"

start a
TOKEN=$(cat "$TMP/state/operator.token")
start b
start c
# exactly one leader, the others followers; every replica's store healthy
L=$(leader)
[ -n "$L" ] && ok || bad "no leader among the replicas"
n_leaders=0
for r in a b c; do
  h=$(curl -s "$(base $r)/healthz")
  [ "$(echo "$h" | jq -r .role)" = leader ] && n_leaders=$((n_leaders + 1))
  expect "$r store kind" postgresql "$(echo "$h" | jq -r .store.kind)"
  expect "$r store ok" true "$(echo "$h" | jq -r .store.ok)"
done
expect "one leader" 1 "$n_leaders"
# the same as a metric: one replica at confpool_leader 1
n_leaders=0
for r in a b c; do
  m=$(curl -s "$(base $r)/metrics")
  [[ "$m" == *'confpool_store_up{kind="postgresql"} 1'* ]] && ok || bad "$r metrics: '$m'"
  echo "$m" | grep -qx "confpool_leader 1" && n_leaders=$((n_leaders + 1))
done
expect "one leader by the metric" 1 "$n_leaders"

RG=/subscriptions/$SUB/resourcegroups/rg1
MC=/subscriptions/$SUB/resourceGroups/rg1/providers/Microsoft.ContainerService/managedClusters/c1
AP=$MC/agentPools/pool5
expect "rg on b" 201 "$(req b PUT "$RG?api-version=2021-04-01" '{"location":"eastus"}')"
expect "rg read on c" 200 "$(req c GET "$RG?api-version=2021-04-01")"
expect "cluster on c" 201 "$(req c PUT "$MC?api-version=$CS" '{"location":"eastus","properties":{"agentPoolProfiles":[{"name":"sys","count":1,"vmSize":"Standard_DC4as_v5","mode":"System"}]}}')"
OP=$(path_of "$(hdr Azure-AsyncOperation)")
for _ in $(seq 200); do req a GET "$OP" >/dev/null; [ "$(jq -r .status "$TMP/body")" = InProgress ] || break; sleep 0.1; done
expect "cluster op (status read on a)" Succeeded "$(jq -r .status "$TMP/body")"

# ETags come from the row: read on a, conditional write on b
req a GET "$MC?api-version=$CS" >/dev/null
ET=$(hdr ETag)
[ -n "$ET" ] && ok || bad "no ETag header"
req c GET "$MC?api-version=$CS" >/dev/null
expect "the same ETag from another replica" "$ET" "$(hdr ETag)"
expect "stale If-Match on b" 412 "$(req b PUT "$MC?api-version=$CS" '{"location":"eastus","tags":{"x":"1"}}' -H 'If-Match: "stale"')"
expect "fresh If-Match on b" 200 "$(req b PUT "$MC?api-version=$CS" '{"location":"eastus","tags":{"x":"1"}}' -H "If-Match: $ET")"
OP=$(path_of "$(hdr Azure-AsyncOperation)")
for _ in $(seq 200); do req c GET "$OP" >/dev/null; [ "$(jq -r .status "$TMP/body")" = InProgress ] || break; sleep 0.1; done
expect "the old etag is now refused on c" 412 "$(req c PUT "$MC?api-version=$CS" '{"location":"eastus","tags":{"x":"2"}}' -H "If-Match: $ET")"

# nodepool add of 5 nodes through replica a; kill -9 of the leader at three
# points: right after the 201, while nodes provision, after a takeover
expect "pool add on a" 201 "$(req a PUT "$AP?api-version=$CS" '{"properties":{"count":5,"vmSize":"Standard_DC4as_v5","mode":"User"}}')"
POOL_OP=$(path_of "$(hdr Azure-AsyncOperation)")
FAILOVERS=()
failover() { # kill the leader; time until another replica says leader
  local old; old=$(leader)
  local t0; t0=$(date +%s%N)
  kill9 "$old"
  local new=
  for _ in $(seq 150); do
    for r in a b c; do
      [ -n "${PIDS[$r]:-}" ] && [ "$(role "$r")" = leader ] && { new=$r; break 2; }
    done
    sleep 0.05
  done
  [ -n "$new" ] || { bad "no new leader after killing $old"; return; }
  FAILOVERS+=($(( ($(date +%s%N) - t0) / 1000000 )))
  [ "$new" != "$old" ] && ok || bad "the killed replica is leader again"
  start "$old" # back as a follower
  expect "restarted $old is a follower" follower "$(role "$old")"
}
failover        # right after the 201: the operation is only a row
sleep 0.4
failover        # nodes pending / provisioning
sleep 1
failover        # again, under the third leader
ANY=$(for r in a b c; do [ -n "${PIDS[$r]:-}" ] && echo $r && break; done)
st=
for _ in $(seq 300); do req "$ANY" GET "$POOL_OP" >/dev/null; st=$(jq -r .status "$TMP/body"); [ "$st" = InProgress ] || break; sleep 0.1; done
expect "pool add finished after 3 failovers" Succeeded "$st"
req b GET "$AP/machines?api-version=$CS" >/dev/null
expect "5 machines" 5 "$(jq '.value | length' "$TMP/body")"
expect "5 distinct names" 5 "$(jq '[.value[].name] | unique | length' "$TMP/body")"
expect "5 ready" 5 "$(jq '[.value[] | select(.properties.status.nodeState == "Ready")] | length' "$TMP/body")"
n=$(pg_psql "SELECT count(*) FROM machines")
expect "6 machine rows in all (1 system + 5)" 6 "$n"
expect "no operation in progress" 0 "$(pg_psql "SELECT count(*) FROM operations WHERE status = 'InProgress'")"
expect "every operation terminal" 0 "$(pg_psql "SELECT count(*) FROM operations WHERE status NOT IN ('Succeeded','Failed','Canceled')")"

# two confpool-kbsd replicas on the same database (their own tables): a key
# created on one is read, deleted and recovered on the other; the audit log
# holds both replicas' rows; key material is stored sealed, never in clear
KB=${CP_BIN_DIR}/confpool-kbsd
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TMP/mk"
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TMP/admin.token"
chmod 600 "$TMP/mk" "$TMP/admin.token"
# the key broker has a database of its own: confpoold's is refused, clearly
out=$("$KB" --db "$PG_URL" --master-key-file "$TMP/mk" --admin-token-file "$TMP/admin.token" --quiet 2>&1)
expect "kbsd on confpoold's database: exit 1" 1 "$?"
[[ "$out" == *"has schema version"*"newer than this program"* ]] && ok || bad "kbsd on confpoold's database: '$out'"
[[ "$out" != *"user=postgres"* ]] && ok || bad "the URL's parameters in a message: '$out'"
KBS_URL=$(pg_createdb kbs)
KPIDS=()
kstart() { # n
  "$KB" --db "$KBS_URL" --master-key-file "$TMP/mk" --admin-token-file "$TMP/admin.token" --quiet >"$TMP/kbs$1.out" 2>"$TMP/kbs$1.log" &
  echo $! >"$TMP/kbs$1.pid"
  for _ in $(seq 100); do grep -q port "$TMP/kbs$1.out" 2>/dev/null && break; sleep 0.05; done
  jq -r .port "$TMP/kbs$1.out"
}
kstart 1 >"$TMP/k1.port"; kstart 2 >"$TMP/k2.port"
K1=$(cat "$TMP/k1.port") K2=$(cat "$TMP/k2.port")
[ -n "$K1" ] && [ -n "$K2" ] || { echo "kbsd did not start:"; cat "$TMP"/kbs*.log; }
ADM=$(cat "$TMP/admin.token")
kreq() { # port method path [body] -> status
  local args=(-s -o "$TMP/kbody" -w '%{http_code}' -X "$2" -H "Authorization: Bearer $ADM")
  [ -n "${4:-}" ] && args+=(-H 'Content-Type: application/json' --data "$4")
  curl "${args[@]}" "http://127.0.0.1:$1$3?api-version=7.4"
}
expect "kbsd 1 healthz" postgresql "$(curl -s "http://127.0.0.1:$K1/healthz" | jq -r .store.kind)"
expect "kbsd 2 healthz" ok "$(curl -s "http://127.0.0.1:$K2/healthz" | jq -r .status)"
expect "key create on kbsd 1" 200 "$(kreq "$K1" POST /keys/shared/create '{"kty":"oct","attributes":{"exportable":false}}')"
KID=$(jq -r .key.kid "$TMP/kbody" | sed 's#.*/keys/##') # the kid's host is the replica's own URL
expect "key read on kbsd 2" 200 "$(kreq "$K2" GET /keys/shared)"
expect "same version on both" "$KID" "$(jq -r .key.kid "$TMP/kbody" | sed 's#.*/keys/##')"
expect "rotate on kbsd 2" 200 "$(kreq "$K2" POST /keys/shared/rotate)"
NEWKID=$(jq -r .key.kid "$TMP/kbody" | sed 's#.*/keys/##') # the kid's host is the replica's own URL
[ "$NEWKID" != "$KID" ] && ok || bad "the rotation kept the version"
kreq "$K1" GET /keys/shared >/dev/null
expect "kbsd 1 sees the rotation" "$NEWKID" "$(jq -r .key.kid "$TMP/kbody" | sed 's#.*/keys/##')"
expect "delete on kbsd 2" 200 "$(kreq "$K2" DELETE /keys/shared)"
expect "gone on kbsd 1" 404 "$(kreq "$K1" GET /keys/shared)"
expect "recover on kbsd 1" 200 "$(kreq "$K1" POST /deletedkeys/shared/recover)"
expect "back on kbsd 2" 200 "$(kreq "$K2" GET /keys/shared)"
kpsql() { "$PG_BIN/psql" -h "$PG_DIR" -U postgres -d kbs -qAt -c "$1"; }
expect "two versions stored" 2 "$(kpsql "SELECT count(*) FROM keys WHERE name = 'shared'")"
expect "no material in clear (sealed blobs only)" 0 \
  "$(kpsql "SELECT count(*) FROM keys WHERE name = 'shared' AND (length(sealed) < 28 OR public_jwk LIKE '%\"k\"%')")"
[ "$(kpsql "SELECT count(*) FROM audit")" -ge 4 ] && ok || bad "audit rows: $(kpsql "SELECT count(*) FROM audit")"
expect "audit append-only on PostgreSQL" 1 "$(kpsql "DELETE FROM audit" >/dev/null 2>&1; echo $?)"
kill "$(cat "$TMP/kbs1.pid")" "$(cat "$TMP/kbs2.pid")"

# fencing: a write by a stale term is refused (the lease row moved on)
expect "terms moved forward" 1 "$(pg_psql "SELECT CASE WHEN term >= 4 THEN 1 ELSE 0 END FROM leader_lease")"
grep -h "leader (term" "$TMP"/*.log | sort -u | sed 's/^/  /'
echo "failover ms: ${FAILOVERS[*]}"
echo "pg-failover: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
