#!/usr/bin/env bash
# bench-replicas (issue 17): confpoold replicas on PostgreSQL against one
# replica on SQLite, on this machine (a throw-away cluster, tests/cli/lib/pg.sh).
#
#   bench/bench-replicas.sh [seconds-per-throughput-run] [failovers]   (default 5, 20)
#   (CP_BIN_DIR: the daemons' directory, default ./build/bin)
#
# 1. ARM request throughput: GET of a managed cluster (a store read in a
#    read transaction + the JSON view) by 8 keep-alive clients spread over
#    the replicas, for SQLite x1 and PostgreSQL x1, x2, x3; as requests/s and
#    as the ratio to SQLite x1.
# 2. Pool creation: PUT of a 5-node pool (fake backend, nodes Ready at once)
#    through the first replica until its operation is Succeeded (polled every
#    50 ms on all replicas), median of 5, and the ratio to SQLite x1.
# 3. Failover: with 3 replicas (default lease 5 s, renewed every 1 s),
#    kill -9 of the leader, time until another replica's /healthz says
#    leader (it reconciles from its next pass, <= 50 ms later); median and
#    maximum of N failovers.  The fake backend: no nodes to adopt.
set -uo pipefail
SECS=${1:-5}
NFAIL=${2:-20}
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${CP_BIN_DIR:-$HERE/../build/bin}/confpoold
[ -x "$BIN" ] || { echo "no confpoold at $BIN (set CP_BIN_DIR)"; exit 1; }
. "$HERE/../tests/cli/lib/pg.sh"
TMP=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done; wait 2>/dev/null; pg_stop; rm -rf "$TMP"; }
trap cleanup EXIT
pg_start "$TMP" >/dev/null || exit $?
echo '{"fakeBackend": {"readyDelayMs": 0}, "retryAfterSeconds": 1}' >"$TMP/config.json"
SUB=6a8b4c2e-1f3d-4e5a-9b7c-0d1e2f3a4b5c
CS=2026-01-01

start() { # name db state -> port on stdout
  rm -f "$TMP/$1.port"
  "$BIN" --state-dir "$3" --db "$2" --backend fake --config "$TMP/config.json" --port-file "$TMP/$1.port" \
    --reconcile-interval-ms 50 --threads 4 >>"$TMP/$1.log" 2>&1 &
  echo $! >"$TMP/$1.pid"
  for _ in $(seq 200); do [ -s "$TMP/$1.port" ] && break; sleep 0.05; done
  cat "$TMP/$1.port"
}
stop_all() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done; wait 2>/dev/null; PIDS=(); }

# one setup: n replicas on db; prints "reqs/s pool_ms"
run_setup() { # label db n
  local label=$1 db=$2 n=$3 state="$TMP/state-$1" ports=()
  mkdir -m 700 -p "$state"
  for i in $(seq "$n"); do
    ports+=("$(start "$label-$i" "$db" "$state")")
    PIDS+=("$(cat "$TMP/$label-$i.pid")")
  done
  python3 - "$SECS" "$(cat "$state/operator.token")" "${ports[@]}" <<'PY'
import http.client, json, statistics, sys, threading, time
secs, token, ports = float(sys.argv[1]), sys.argv[2], [int(p) for p in sys.argv[3:]]
SUB, CS = "6a8b4c2e-1f3d-4e5a-9b7c-0d1e2f3a4b5c", "2026-01-01"
RG = f"/subscriptions/{SUB}/resourcegroups/rg1"
MC = f"/subscriptions/{SUB}/resourceGroups/rg1/providers/Microsoft.ContainerService/managedClusters/c1"
H = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
def call(port, m, p, body=None, conn=None):
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request(m, p, body=json.dumps(body) if body is not None else None, headers=H)
    r = c.getresponse(); data = r.read()
    return r.status, r.getheader("Azure-AsyncOperation"), data
def wait_op(url):
    path = "/" + url.split("/", 3)[3]
    i = 0
    while True:
        st, _, d = call(ports[i % len(ports)], "GET", path); i += 1
        if json.loads(d).get("status") != "InProgress":
            return json.loads(d)["status"]
        time.sleep(0.05)
call(ports[0], "PUT", RG + "?api-version=2021-04-01", {"location": "eastus"})
st, op, _ = call(ports[0], "PUT", MC + "?api-version=" + CS, {"location": "eastus", "properties": {"agentPoolProfiles": [{"name": "sys", "count": 1, "vmSize": "Standard_DC4as_v5", "mode": "System"}]}})
assert wait_op(op) == "Succeeded"
count = [0] * 8
stop = time.time() + secs
def worker(k):
    port = ports[k % len(ports)]
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while time.time() < stop:
        st, _, _ = call(port, "GET", MC + "?api-version=" + CS, conn=c)
        if st == 200: count[k] += 1
ts = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
[t.start() for t in ts]; [t.join() for t in ts]
rate = sum(count) / secs
times = []
for i in range(5):
    ap = f"{MC}/agentPools/p{i}?api-version={CS}"
    t0 = time.time()
    st, op, _ = call(ports[0], "PUT", ap, {"properties": {"count": 5, "vmSize": "Standard_DC4as_v5", "mode": "User"}})
    assert st in (200, 201), st
    assert wait_op(op) == "Succeeded"
    times.append((time.time() - t0) * 1000)
print(f"{rate:.0f} {statistics.median(times):.0f}")
PY
  stop_all
}

if [ -z "${BENCH_ONLY_FAILOVER:-}" ]; then
printf "%-16s %10s %8s %12s %8s\n" setup "GET/s" ratio "pool ms" ratio
read -r base_rate base_pool < <(run_setup sqlite "sqlite:$TMP/sqlite.db" 1)
printf "%-16s %10s %8s %12s %8s\n" "sqlite x1" "$base_rate" 1.00 "$base_pool" 1.00
for n in 1 2 3; do
  url=$(pg_createdb "bench$n")
  read -r rate pool < <(run_setup "pg$n" "$url" "$n")
  printf "%-16s %10s %8s %12s %8s\n" "postgresql x$n" "$rate" "$(echo "scale=2; $rate / $base_rate" | bc)" \
    "$pool" "$(echo "scale=2; $pool / $base_pool" | bc)"
done

fi

# failovers
url=$(pg_createdb failover)
mkdir -m 700 -p "$TMP/state-fo"
declare -A P
for r in a b c; do P[$r]=$(start "fo-$r" "$url" "$TMP/state-fo"); PIDS+=("$(cat "$TMP/fo-$r.pid")"); done
role() { curl -s -m 1 "http://127.0.0.1:${P[$1]}/healthz" | jq -r .role 2>/dev/null; }
leader() { for r in a b c; do [ "$(role "$r")" = leader ] && { echo "$r"; return; }; done; }
times=()
for i in $(seq "$NFAIL"); do
  L=
  for _ in $(seq 200); do L=$(leader); [ -n "$L" ] && break; sleep 0.05; done
  [ -n "$L" ] || { echo "no leader"; exit 1; }
  [ -n "${BENCH_DEBUG:-}" ] && echo "leader $L: $(for r in a b c; do echo -n "$r=$(role $r) "; done)"
  t0=$(date +%s%N)
  kill -9 "$(cat "$TMP/fo-$L.pid")"
  new=
  while [ -z "$new" ]; do
    for r in a b c; do [ "$r" != "$L" ] && [ "$(role "$r")" = leader ] && new=$r; done
    [ -n "$new" ] || sleep 0.02
    [ $(( ($(date +%s%N) - t0) / 1000000 )) -gt 30000 ] && { echo "no takeover in 30 s"; pg_psql "SELECT pid, state, wait_event_type, wait_event, left(query, 60), now() - xact_start FROM pg_stat_activity WHERE datname = 'failover'"; for r in a b c; do echo "$r: $(curl -s -m 1 http://127.0.0.1:${P[$r]}/healthz)"; tail -3 "$TMP/fo-$r.log"; done; exit 1; }
  done
  times+=($(( ($(date +%s%N) - t0) / 1000000 )))
  P[$L]=$(start "fo-$L" "$url" "$TMP/state-fo")
  PIDS+=("$(cat "$TMP/fo-$L.pid")")
done
sorted=($(printf "%s\n" "${times[@]}" | sort -n))
echo "failover (kill -9 to a new leader, lease 5 s): n=${#times[@]} median ${sorted[$(( ${#sorted[@]} / 2 ))]} ms max ${sorted[-1]} ms (all: ${times[*]})"
