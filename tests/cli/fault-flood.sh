#!/bin/bash
# Fault suite, floods (issue 13): on the embedded stack with 3 Ready nodes
# (the system pool's and a 2-node CVM pool), FLOOD_IDLE idle connections
# (default 2,000) held open on each of attestd, confpoold and kbsd (opened
# again whenever a server closes them) plus two full-speed challenge
# flooders on attestd, for FLOOD_SECONDS (default 20: longer than the 15 s
# heartbeat deadline). Meanwhile a legitimate client is served within 1 s
# every time (curl: confpoold's machine list over HTTPS, a challenge from
# attestd, the broker's key list), and the CLI works too. Afterwards: no node replaced, the same
# agents, all Ready, heartbeats kept coming. bench/fault-suite.sh runs it
# longer.
set -u
BIN=${CP_BIN_DIR:?}
FLOOD=${CP_BENCH_FLOOD:-$BIN/../bench/bench-flood}
SECS=${FLOOD_SECONDS:-20}
IDLE=${FLOOD_IDLE:-2000}
. "$(dirname "$0")/lib/fault-stack.sh"
fault_stack_tmp cp-flood
fail() { echo "FAIL: $*" >&2; tail -20 "$S/confpoold.log" >&2; exit 1; }
[ -x "$FLOOD" ] || fail "no $FLOOD (build the bench targets)"

three_ready_nodes
M0=$(machines)
[ "$(echo "$M0" | grep -c 'Ready$')" = 3 ] || fail "not 3 Ready machines: $M0"
A0=$(agents)
AP=$(port_of attestd); CP=$(port_of confpoold); KP=$(port_of kbsd)
[ -n "$AP" ] && [ -n "$CP" ] && [ -n "$KP" ] || fail "ports: $(cat "$S/ports.json")"
hb0=$(cp_ aks machine list -g rg1 --cluster-name c1 --nodepool-name p1 --query "max([].properties.attestation.lastHeartbeat)" -o tsv)

"$FLOOD" --hold "$SECS" "$IDLE" "$AP" "$CP" "$KP" >"$T/flood.out" 2>&1 &
BG=$!
for _ in $(seq 100); do grep -q holding "$T/flood.out" && break; sleep 0.1; done
grep -q holding "$T/flood.out" || fail "flood did not start: $(cat "$T/flood.out")"
t_end=$(( $(now_ms) + SECS * 1000 - 1500 ))
# the legitimate client: curl (the time measured is the service's, not a
# client's start-up), to each daemon; plus the CLI, which must work too
TOKEN=$(cat "$S/cp/operator.token")
SUB0=00000000-0000-0000-0000-000000000000
MURL="https://localhost:$CP/subscriptions/$SUB0/resourceGroups/rg1/providers/Microsoft.ContainerService/managedClusters/c1/agentPools/p1/machines?api-version=2025-01-01"
n=0 slow=0 worst=0 cli_worst=0
while [ "$(now_ms)" -lt "$t_end" ]; do
        t0=$(now_ms)
        out=$(cp_ aks machine list -g rg1 --cluster-name c1 --nodepool-name p1 --query "length(@)" -o tsv 2>&1) \
                && [ "$out" = 2 ] || fail "CLI call during the flood: $out"
        ms=$(( $(now_ms) - t0 ))
        (( ms > cli_worst )) && cli_worst=$ms
        for what in controlplane challenge broker; do
                t0=$(now_ms)
                case $what in
                controlplane) code=$(curl -s -m 5 -o "$T/m.json" -w '%{http_code}' --cacert "$S/cp/ca.pem" \
                        -H "Authorization: Bearer $TOKEN" "$MURL") && [ "$code" = 200 ] \
                        && grep -q aks-p1- "$T/m.json" || fail "legitimate control-plane call: $code $(head -c 300 "$T/m.json")" ;;
                challenge) curl -sf -m 5 -X POST "http://127.0.0.1:$AP/challenge?api-version=2022-08-01" -o /dev/null \
                        || fail "legitimate challenge during the flood" ;;
                broker) code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(cat "$S/kbs-admin.token")" \
                        "http://127.0.0.1:$KP/keys?api-version=7.4") && [ "$code" = 200 ] || fail "legitimate broker call: $code" ;;
                esac
                ms=$(( $(now_ms) - t0 ))
                n=$((n + 1))
                (( ms > worst )) && worst=$ms
                (( ms > 1000 )) && slow=$((slow + 1))
        done
        sleep 0.5
done
wait "$BG"; rc=$?; BG=
[ "$rc" = 0 ] || fail "flood tool: $(cat "$T/flood.out")"
held=$(grep '^held:' "$T/flood.out")
[ "$slow" = 0 ] || fail "$slow of $n legitimate calls took more than 1 s (worst $worst ms)"
[ "$n" -ge 6 ] || fail "only $n legitimate calls"
grep -q "confpoold: replacing node" "$S/confpoold.log" && fail "a node was replaced: $(grep 'replacing node' "$S/confpoold.log")"
[ "$(machines)" = "$M0" ] || fail "machines after the flood: $(machines)"
[ "$(agents)" = "$A0" ] || fail "agents changed: $(agents), were $A0"
hb1=$(cp_ aks machine list -g rg1 --cluster-name c1 --nodepool-name p1 --query "max([].properties.attestation.lastHeartbeat)" -o tsv)
[ "$hb1" -gt "$hb0" ] || fail "no heartbeat during the flood ($hb0 -> $hb1)"
echo "fault-flood: $held; $n legitimate calls (control plane over HTTPS, challenge, broker) all within 1 s" \
     "(worst $worst ms), the CLI worked throughout (worst $cli_worst ms with its start-up); 0 nodes replaced"
echo ok
