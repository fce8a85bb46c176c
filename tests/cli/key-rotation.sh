#!/bin/bash
# Attestation-key rotation on the embedded stack (issue 13, item 9): a CVM
# pool of 2 Ready nodes.  The stack keeps attestd's signing keys
# (attestd-keys/, --signing-key-dir): restarted (same command line and
# port), it comes back with the SAME key (/certs unchanged).  Then its key
# directory is emptied while it is stopped (a lost or replaced key), and it
# comes back with a NEW signing key; then confpool-kbsd is restarted the same
# way while attestd is down (kbsd must start, not exit), and attestd comes
# back with another new key; last, a live rotation (confpool-attestd
# rotate-signing-key) while attestd runs.  After each:
# no node is replaced (same machine names, still Ready, their heartbeats -
# tokens of the old key - still accepted) and a new node (scale up by 1)
# attests with the new key and gets its disk key released by the broker.
# Before: confpoold dropped the old key when a new kid made it refetch (old
# nodes' heartbeats 401, nodes replaced) and kbsd never refetched (the new
# node's release refused).
set -u
BIN=${CP_BIN_DIR:?}
T=$(mktemp -d /tmp/cp-keyrot-XXXXXX)
export CONFPOOL_CONFIG_DIR=$T/cli
S=$T/s
cleanup() { "$BIN/confpool" down --state-dir "$S" >/dev/null 2>&1; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; tail -15 "$S/confpoold.log" >&2; tail -5 "$S/kbsd.log" >&2; exit 1; }
C=(-g rg1 --cluster-name c1)
machines() { # name state lastHeartbeat, one machine a line
        "$BIN/confpool" aks machine list "${C[@]}" --nodepool-name cvm \
                --query "[].[name, properties.status.nodeState, properties.attestation.lastHeartbeat]" -o tsv
}
# stop daemon $1 (pid file $S/$1.pid), keeping its command line in ARGS_$1
stop() {
        local pid
        pid=$(cat "$S/$1.pid")
        mapfile -d '' "ARGS_$1" < "/proc/$pid/cmdline"
        kill "$pid"
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
        kill -0 "$pid" 2>/dev/null && fail "$1 did not stop"
}
# start it again with that command line on port $2
start() {
        local -n args="ARGS_$1"
        rm -f "$S/$1.out2"
        setsid "${args[@]}" --port "$2" >"$S/$1.out2" 2>>"$S/$1.log" < /dev/null &
        echo $! > "$S/$1.pid"
        for _ in $(seq 100); do [ -s "$S/$1.out2" ] && return 0; sleep 0.05; done
        fail "$1 did not come back on port $2"
}
# after a restart at $1 (Unix): the same machines, Ready, heartbeats accepted
# since; then scale up by one node, which must become Ready (disk key released)
check_and_scale() {
        local since=$1 want=$2 now
        for _ in $(seq 60); do
                now=$(machines)
                [ "$(echo "$now" | awk -v s="$since" '$2=="Ready" && $3>s' | wc -l)" = "$((want - 1))" ] && break
                sleep 0.5
        done
        [ "$(echo "$now" | awk '{print $1}')" = "$BEFORE" ] || fail "machines changed: $now (before: $BEFORE)"
        [ "$(echo "$now" | awk -v s="$since" '$2=="Ready" && $3>s' | wc -l)" = "$((want - 1))" ] \
                || fail "heartbeats not accepted since the restart: $now"
        "$BIN/confpool" aks nodepool scale "${C[@]}" -n cvm --node-count "$want" -o none || fail "scale to $want"
        # the new node's kid made confpoold refetch: the old nodes' tokens still pass
        since=$(date +%s)
        for _ in $(seq 60); do
                now=$(machines)
                [ "$(echo "$now" | awk -v s="$since" '$2=="Ready" && $3>s' | wc -l)" = "$want" ] && break
                sleep 0.5
        done
        [ "$(echo "$now" | awk -v s="$since" '$2=="Ready" && $3>s' | wc -l)" = "$want" ] \
                || fail "not $want Ready with heartbeats accepted after the scale-up: $now"
        [ "$(echo "$now" | awk '{print $1}' | grep -cxF -f <(echo "$BEFORE"))" = "$((want - 1))" ] \
                || fail "old machines replaced: $now (before: $BEFORE)"
        BEFORE=$(echo "$now" | awk '{print $1}')
}

t0=$(date +%s%N)
"$BIN/confpool" up --state-dir "$S" >/dev/null 2>&1 || fail "up"
"$BIN/confpool" group create -n rg1 -l eastus -o none || fail "group create"
"$BIN/confpool" aks create -g rg1 -n c1 -s Standard_DC4as_v5 -c 1 -o none || fail "aks create"
"$BIN/confpool" aks nodepool add "${C[@]}" -n cvm --node-count 2 -s Standard_DC4as_v5 -o none || fail "nodepool add"
BEFORE=$(machines | awk '$2=="Ready" {print $1}')
[ "$(echo "$BEFORE" | wc -l)" = 2 ] || fail "pool not Ready: $(machines)"
ISSUER=$(head -1 "$S/attestd.out" | sed 's/.*"issuer": *"\([^"]*\)".*/\1/')
KPORT=$(head -1 "$S/kbsd.out" | sed 's/.*"port": *\([0-9]*\).*/\1/')
[ -n "$ISSUER" ] && [ -n "$KPORT" ] || fail "issuer '$ISSUER' / kbsd port '$KPORT'"
KEYS0=$(curl -sf "$ISSUER/certs") || fail "attestd /certs"

# 0. attestd restarted: its kept key
stop attestd
start attestd "${ISSUER##*:}"
kids() { echo "$1" | jq -c '[.keys[] | .kid]'; }
[ "$(kids "$(curl -sf "$ISSUER/certs")")" = "$(kids "$KEYS0")" ] \
        || fail "attestd came back with other keys: $(kids "$(curl -sf "$ISSUER/certs")"), were $(kids "$KEYS0")"

# 1. attestd restarted with its keys gone: a new signing key
since=$(date +%s)
stop attestd
rm -f "$S"/attestd-keys/key-*.pem
start attestd "${ISSUER##*:}"
KEYS1=$(curl -sf "$ISSUER/certs") || fail "attestd /certs after restart"
[ "$KEYS0" != "$KEYS1" ] || fail "attestd came back with the same key"
check_and_scale "$since" 3

# 2. kbsd restarted while attestd is down: it starts anyway, and fetches the
# keys of the attestd that comes back (with yet another key) later
since=$(date +%s)
stop attestd
rm -f "$S"/attestd-keys/key-*.pem
stop kbsd
start kbsd "$KPORT"
sleep 0.3
kill -0 "$(cat "$S/kbsd.pid")" 2>/dev/null || fail "kbsd exited with attestd down: $(tail -3 "$S/kbsd.log")"
start attestd "${ISSUER##*:}"
KEYS2=$(curl -sf "$ISSUER/certs") || fail "attestd /certs after the second restart"
[ "$KEYS2" != "$KEYS1" ] || fail "attestd came back with the same key"
check_and_scale "$since" 4

# 3. a live rotation (`confpool-attestd rotate-signing-key`, attestd running):
# listed in /certs within 5 s, signing after 10 s; the nodes' tokens of the old
# key still pass and a new node attests (with the new key) and joins
since=$(date +%s)
"$BIN/confpool-attestd" rotate-signing-key --signing-key-dir "$S/attestd-keys" >/dev/null || fail "rotate-signing-key"
two_keys() { [ "$(curl -sf "$ISSUER/certs" | jq '.keys | length')" = 2 ]; }
for _ in $(seq 70); do two_keys && break; sleep 0.1; done
two_keys || fail "the rotated key not listed: $(kids "$(curl -sf "$ISSUER/certs")")"
sleep 10.5 # the overlap: it signs from now on
check_and_scale "$since" 5

releases=$(grep -c '"release' "$S/kbs-audit.jsonl" || true)
grep -q "replacing node" "$S/confpoold.log" && fail "a node was replaced: $(grep 'replacing node' "$S/confpoold.log")"
echo "ok: 3 rotations (one live), 3 scale-ups, $releases release audit lines, $((($(date +%s%N) - t0) / 1000000)) ms"
