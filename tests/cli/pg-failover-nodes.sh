#!/bin/bash
# Issue 17 items 1 and 3: failover with REAL nodes.  The embedded stack
# (`confpool up --db postgresql://...`: attestd, the software AMD-SP hosts,
# swtpm, agents) with its confpoold replaced by 3 replicas (a, b, c) on one
# throw-away PostgreSQL database and one state directory (the local
# backend's hosts and nodes shared, as hypervisor hosts would be), and its
# kbsd by 2 replicas on a PostgreSQL database of their own (a and c use
# kbsd 1, b uses kbsd 2).  Every agent is given the list of the three
# replicas' URLs.  A `nodepool add` of 5 CVM nodes through replica a, and
# kill -9 of the leader at three points: during create (right after the
# 201), during boot/attestation (node directories there, none Ready), after
# some Ready; each killed replica started again (down+up).  Then: the pool
# Succeeded, 5 Ready machines, each attested (its attestation record, no
# refusal reason) with its OS disk key released by the key broker, machine
# names unique, one node directory and one running agent per machine (no
# second machine), every disk seen at a kill point still the same file
# (inode and header: none erased or re-made), no crypto-erase in the
# broker's audit, every LRO terminal.  Item 3: kill -9 of replica a, the
# agents' FIRST control-plane URL: their heartbeats go on through b or c,
# every node stays Ready.
set -u
BIN=${CP_BIN_DIR:?}
. "$(dirname "$0")/lib/pg-failover-stack.sh"
pgfo_up pgfo
AP=$MC/agentPools/fo

expect "nodepool add through a" 201 "$(req a PUT "$AP?api-version=$CS" '{"properties":{"count":5,"vmSize":"Standard_DC4as_v5","mode":"User"}}')"
POOL_OP=$(hdr Azure-AsyncOperation | sed -E 's#^https?://[^/]+##')
failover "during create"
# during boot/attestation: node directories there, not all Ready
for _ in $(seq 300); do [ "$(ls "$NODES" | grep -c -- -fo)" -ge 1 ] && break; sleep 0.05; done
r=$(ready)
[ "$r" -lt 5 ] && ok || bad "the second kill came too late: $r Ready"
failover "during boot/attestation ($r Ready)"
for _ in $(seq 600); do r=$(ready); [ "$r" -ge 2 ] && break; sleep 0.1; done
failover "after $r Ready"
st=$(wait_op "$POOL_OP")
expect "pool add finished after 3 failovers" Succeeded "$st"
for _ in $(seq 300); do [ "$(ready)" = 5 ] && break; sleep 0.2; done
X=$(alive_replica)
req "$X" GET "$AP/machines?api-version=$CS" >/dev/null
cp "$T/body" "$T/machines.json"
expect "5 machines" 5 "$(jq '.value | length' "$T/machines.json")"
expect "5 distinct names" 5 "$(jq '[.value[].name] | unique | length' "$T/machines.json")"
expect "5 Ready" 5 "$(jq '[.value[] | select(.properties.status.nodeState == "Ready")] | length' "$T/machines.json")"
expect "5 attested (record, no refusal)" 5 \
  "$(jq '[.value[] | select(.properties.attestation != null and (.properties.attestation.reason // "") == "")] | length' "$T/machines.json")"
expect "6 machine rows in all (1 system + 5)" 6 "$(pg_psql "SELECT count(*) FROM machines")"
expect "every operation terminal" 0 "$(pg_psql "SELECT count(*) FROM operations WHERE status NOT IN ('Succeeded','Failed','Canceled')")"
expect "6 node directories (no second machine)" 6 "$(ls "$NODES" | grep -cv '^\.')"
for d in "$NODES"/*/; do
  d=${d%/}
  n=$(pgrep -f -- "confpool-agent --node-dir $d( |$)" | wc -l)
  [ "$n" = 1 ] && ok || bad "$(basename "$d"): $n agents"
done
pgfo_check_disks
# each node has its OS disk and its Kubernetes bootstrap secret (k8sboot-) in the broker
expect "6 OS disks in the broker" 6 "$(kp "SELECT count(*) FROM disks WHERE id LIKE 'osdisk-%'")"
expect "12 broker disks in all (OS + k8sboot, none twice)" 12 "$(kp "SELECT count(*) FROM disks")"

# ---- item 3: the agents' first URL (replica a) dies; heartbeats go on elsewhere
[ -n "${PIDS[a]:-}" ] || start a
sleep 1
kill9 a
kt=$(date +%s)
for _ in $(seq 20); do leader >/dev/null; sleep 1; done # 20 s: > 3 heartbeats, past the 15 s deadline
req "$(alive_replica)" GET "$AP/machines?api-version=$CS" >/dev/null
expect "5 Ready after a died" 5 "$(jq '[.value[] | select(.properties.status.nodeState == "Ready")] | length' "$T/body")"
expect "heartbeats after a died (through b or c)" 5 \
  "$(jq --argjson k "$kt" '[.value[] | select((.properties.attestation.lastHeartbeat // 0) > $k)] | length' "$T/body")"
expect "still 6 machines, no replacement" 6 "$(pg_psql "SELECT count(*) FROM machines")"

grep -h "leader (term\|deposed\|adopted\|restarted" "$T"/[abc].log | sed 's/^/  /'
echo "failovers: ${FAILOVERS[*]} (total $(ms) ms)"
echo "pg-failover-nodes: $pass passed, $fail failed"
pgfo_diagnose
[ "$fail" -eq 0 ]
