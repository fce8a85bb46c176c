#!/bin/bash
# Restart recovery: confpoold killed with SIGKILL while it provisions a CVM
# pool of 3 nodes, restarted with the same state directory (and port): the
# local backend stops what the killed daemon left running, boots the
# persisted nodes again, the reconciler resumes the operation, and the pool
# completes with exactly 3 Ready, attested nodes (3 agents, no strays).
# The kill must land mid-provision, not after completion: the durable state
# the killed daemon left (its SQLite store, read after the kill) must show
# the pool Creating, its operation InProgress and fewer than 3 Ready
# machines, or the test fails (issue 20 item 7).
set -u
BIN=${CP_BIN_DIR:?}
T=$(mktemp -d /tmp/cp-restart-XXXXXX)
export CONFPOOL_CONFIG_DIR=$T/cli
cleanup() { "$BIN/confpool" down --state-dir "$T/s" >/dev/null 2>&1; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; tail -20 "$T/s/confpoold.log" >&2; exit 1; }
alive() { pgrep -f -- "$1" | while read -r p; do [ "$(awk '{print $3}' /proc/$p/stat 2>/dev/null)" = Z ] || echo "$p"; done; }

"$BIN/confpool" up --state-dir "$T/s" >/dev/null 2>&1 || fail "up"
C=(-g rg1 --cluster-name c1)
"$BIN/confpool" group create -n rg1 -l eastus -o none || fail "group create"
"$BIN/confpool" aks create -g rg1 -n c1 -s Standard_DC4as_v5 -c 1 -o none || fail "aks create"
"$BIN/confpool" aks nodepool add "${C[@]}" -n rec --node-count 3 -s Standard_DC4as_v5 --no-wait -o none \
        || fail "nodepool add"
# mid-provision: at least one node of the pool has started booting
for _ in $(seq 100); do ls "$T/s/cp/local/nodes" 2>/dev/null | grep -q aks-rec && break; sleep 0.05; done
PID=$(cat "$T/s/confpoold.pid")
mapfile -d '' ARGS < "/proc/$PID/cmdline"
PORT=$(cat "$T/s/confpoold.port")
kill -9 "$PID"
# what the restart resumes from: the store as the killed daemon left it
at_kill=$(python3 - "$T/s/cp/confpoold.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
pool = db.execute("SELECT state FROM resources WHERE kind = 'pool' AND name = 'rec'").fetchone()
op = db.execute("SELECT status FROM operations WHERE resource_lc LIKE '%/agentpools/rec' "
                "ORDER BY seq DESC LIMIT 1").fetchone()
ready = db.execute("SELECT count(*) FROM machines WHERE pool_lc LIKE '%/agentpools/rec' AND state = 'Ready'").fetchone()
print(pool[0] if pool else "none", op[0] if op else "none", ready[0])
PY
)
[ "$at_kill" = "Creating InProgress 0" ] || [ "$at_kill" = "Creating InProgress 1" ] ||
        [ "$at_kill" = "Creating InProgress 2" ] || fail "not killed mid-provision: pool, operation, Ready machines = '$at_kill'"
st=$("$BIN/confpool" aks nodepool show "${C[@]}" -n rec --query provisioningState -o tsv 2>/dev/null)
[ -z "$st" ] || fail "confpoold still answers"
# the same daemon again, same state directory and port
setsid "${ARGS[@]}" --port "$PORT" >>"$T/s/confpoold.log" 2>&1 < /dev/null &
echo $! > "$T/s/confpoold.pid"
st=
for _ in $(seq 120); do
        st=$("$BIN/confpool" aks nodepool show "${C[@]}" -n rec --query provisioningState -o tsv 2>/dev/null)
        [ "$st" = Succeeded ] || [ "$st" = Failed ] && break
        sleep 0.25
done
[ "$st" = Succeeded ] || fail "pool after restart: '$st'"
n=$("$BIN/confpool" aks machine list "${C[@]}" --nodepool-name rec \
    --query "length([?properties.status.nodeState=='Ready' && properties.attestation.reason==''])" -o tsv)
[ "$n" = 3 ] || fail "$n Ready machines"
[ "$(ls "$T/s/cp/local/nodes" | grep -c aks-rec)" = 3 ] || fail "node directories: $(ls "$T/s/cp/local/nodes")"
[ "$(alive "confpool-agent --node-dir $T/s/cp/local/nodes/[0-9a-f]{16}-aks-rec" | wc -l)" = 3 ] || fail "agents: not exactly 3"
"$BIN/confpool" down --state-dir "$T/s" >/dev/null || fail "down"
# processes signalled by down may still be exiting: give them a moment
for _ in $(seq 50); do [ -z "$(alive "$T/s")" ] && break; sleep 0.1; done
left=$(alive "$T/s")
[ -z "$left" ] || fail "processes left after down: $(for p in $left; do tr '\0' ' ' < /proc/$p/cmdline; echo; done)"
echo ok
