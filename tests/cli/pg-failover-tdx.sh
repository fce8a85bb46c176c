#!/bin/bash
# TDX nodes through control-plane failover (issues 16 + 17).  The stack of
# pg-failover-nodes.sh (tests/cli/lib/pg-failover-stack.sh: 3 confpoold
# replicas on one PostgreSQL database and one state directory, 2 kbsd
# replicas, real agents, swtpm, attestd and the software TDX hosts, whose
# emulated Intel PCS the leader serves).  ConfidentialTDXPreview registered,
# a 2-node Standard_DC4es_v5 pool added through replica a, and kill -9 of the
# leader twice (each killed replica started again):
#  1. during the add (as soon as a TDX node directory is there): the new
#     leader adopts the finished boots and boots the cut ones again on their
#     kept disks, which it says (adopted + restarted = 3 nodes); the pool Succeeded with 2 Ready machines, each attested with TDX
#     evidence (tee TDX, MRTD = the one node.json names, TCB status
#     UpToDate, FMSPC), no duplicate or lost machine, every LRO terminal;
#  2. after both are Ready: the new leader ADOPTS both TDs (td.json resumed
#     under the host's module key): the same agent pid, the same disk
#     (inode and header), no "TDX node not adopted" in any log; the pool
#     Ready at every sample over 20 s (past the 15 s heartbeat deadline),
#     heartbeats received after the kill, and a forced re-attestation
#     (SIGUSR1) through the new leader's TD channel and PCS passes with the
#     same MRTD;
#  3. SIGSTOP of the leader and one other replica ~20 s (frozen VMs: their
#     sockets, the PCS's kept port among them, still held), then SIGCONT: a successor adopts the
#     nodes without the port, the paused one detaches when it runs again;
#     the pool Ready at every sample, the same agents and disks, heartbeats
#     (agents wait at most 4 s for a replica), both nodes re-attest.
# After phase 2: no disk seen at a kill point erased or re-made, no key of a
# disk there crypto-erased after its last creation, one OS disk key per node.
set -u
BIN=${CP_BIN_DIR:?}
[ -r /usr/share/ovmf/OVMF.fd ] || { echo "SKIP: Debian's ovmf is not installed (no TDVF)"; exit 77; }
. "$(dirname "$0")/lib/pg-failover-stack.sh"
pgfo_up pgfotdx
AP=$MC/agentPools/tdx
FEAT=/subscriptions/$SUB/providers/Microsoft.Features/providers/Microsoft.ContainerService/features/ConfidentialTDXPreview
FV=api-version=2021-07-01
expect "feature register" 200 "$(req a POST "$FEAT/register?$FV")"
for _ in $(seq 100); do
  req a GET "$FEAT?$FV" >/dev/null
  [ "$(jq -r .properties.state "$T/body")" = Registered ] && break
  sleep 0.1
done
expect "ConfidentialTDXPreview" Registered "$(jq -r .properties.state "$T/body")"

L0=$(leader)
expect "TDX pool add through a" 201 \
  "$(req a PUT "$AP?api-version=$CS" '{"properties":{"count":2,"vmSize":"Standard_DC4es_v5","mode":"User"}}')"
POOL_OP=$(hdr Azure-AsyncOperation | sed -E 's#^https?://[^/]+##')
# 1. during the add: as soon as a node directory of the pool is there (its boot
# queued or running), no request before the kill
for _ in $(seq 2000); do compgen -G "$NODES/*-tdx*" >/dev/null && break; sleep 0.005; done
failover_of "$L0" "during the add"
booted=$(grep -c -- -tdx "$T/booted.at-kill")
begun=$(grep -c -- -tdx "$T/begun.at-kill")
L1=$(leader)
# the new leader accounts for every node: the system node and the TDX boots that
# had finished (node.json) adopted, the cut ones (begun: spec.json) booted again on
# their kept disks; a machine whose create had not reached the backend yet (the kill
# comes as soon as the first node directory is there) is created by the reconciler
for _ in $(seq 100); do grep -q "confpoold: \(adopted\|restarted\)" "$T/$L1.log" && break; sleep 0.1; done
ad=$(sed -n 's/.*confpoold: adopted \([0-9]*\) running.*/\1/p' "$T/$L1.log" | tail -1)
re=$(sed -n 's/.*confpoold: restarted \([0-9]*\) node.*/\1/p' "$T/$L1.log" | tail -1)
echo "first failover: TDX boots begun at the kill: $begun of 2, finished: $booted; the new leader $L1 adopted ${ad:-0}, restarted ${re:-0}"
expect "$L1 adopted the system node and the finished TDX boots" $((1 + booted)) "${ad:-0}"
expect "$L1 booted the cut TDX boots again" $((begun - booted)) "${re:-0}"
expect "pool add finished after the failover" Succeeded "$(wait_op "$POOL_OP")"
for _ in $(seq 300); do [ "$(ready)" = 2 ] && break; sleep 0.2; done
expect "2 Ready after the first failover" 2 "$(ready)"

machines() { req "$(alive_replica)" GET "$AP/machines?api-version=$CS" >/dev/null; cp "$T/body" "$T/$1.json"; }
evidence() { # file: the TDX evidence of each machine, one line each
  jq -r '.value[] | [.name, .properties.status.nodeState, .properties.attestation.tee,
    .properties.attestation.tdx.mrtd, .properties.attestation.tdx.tcbStatus, .properties.attestation.tdx.fmspc,
    (.properties.attestation.reason // "")] | join(" ")' "$1" | sort
}
check_pool() { # label file
  expect "$1: 2 machines" 2 "$(jq '.value | length' "$2")"
  expect "$1: 2 distinct names" 2 "$(jq '[.value[].name] | unique | length' "$2")"
  evidence "$2" | while read -r name st tee mrtd tcb fmspc reason; do
    d=$(ls -d "$NODES"/*-"$name")
    want=$(jq -r .tdxMrtd "$d/node.json")
    [ "$st $tee $tcb ${#mrtd} $reason" = "Ready TDX UpToDate 96 " ] && [ "$mrtd" = "$want" ] &&
      [ -n "$fmspc" ] || echo "$name: $st $tee mrtd=$mrtd (node.json $want) tcb=$tcb fmspc=$fmspc $reason"
  done >"$T/ev.bad"
  [ ! -s "$T/ev.bad" ] && ok || bad "$1: TDX evidence: $(cat "$T/ev.bad")"
}
machines m1
check_pool "after the first failover" "$T/m1.json"

# 2. after both are Ready: adopted by the new leader, never not Ready
agents() { for d in "$NODES"/*-tdx*/; do echo "$(basename "$d") $(cat "$d/agent.pid")"; done; }
disks() { for d in "$NODES"/*-tdx*/; do echo "$(basename "$d") $(stat -c %i "$d/disk.img") $(head -c 65536 "$d/disk.img" | sha256sum)"; done; }
A0=$(agents) D0=$(disks)
at0=$(jq '[.value[].properties.attestation.lastAttestation] | max' "$T/m1.json")
kt=$(date +%s)
failover "after 2 Ready"
L=$(leader)
low=2
for _ in $(seq 40); do r=$(ready); [ "$r" -lt "$low" ] && low=$r; sleep 0.5; done
expect "the TDX pool Ready at every sample for 20 s after the kill" 2 "$low"
grep -h "confpoold: adopted" "$T/$L.log" | tail -1 | grep -q "adopted 3 running" && ok ||
  bad "new leader $L did not adopt the 3 nodes: $(grep -h 'adopted\|not adopted' "$T/$L.log" | tail -2)"
grep -h "TDX node not adopted" "$T"/[abc].log >"$T/notadopted"
[ ! -s "$T/notadopted" ] && ok || bad "TDX nodes rebooted, not adopted: $(cat "$T/notadopted")"
expect "the same agents (adopted, not rebooted)" "$A0" "$(agents)"
expect "the same disks" "$D0" "$(disks)"
for d in "$NODES"/*/; do
  n=$(pgrep -f -- "confpool-agent --node-dir ${d%/}( |$)" | wc -l)
  [ "$n" = 1 ] && ok || bad "$(basename "$d"): $n agents"
done
machines m2
check_pool "after the second failover" "$T/m2.json"
expect "heartbeats after the kill (to the new leader)" 2 \
  "$(jq --argjson k "$kt" '[.value[] | select((.properties.attestation.lastHeartbeat // 0) > $k)] | length' "$T/m2.json")"
# a forced re-attestation: a quote over the adopted TD's channel, collateral from the new leader's PCS
first=$(agents | head -1)
kill -USR1 "${first#* }"
for _ in $(seq 120); do
  machines m3
  [ "$(jq --argjson a "$at0" '[.value[] | select(.properties.attestation.lastAttestation > $a)] | length' "$T/m3.json")" -ge 1 ] && break
  sleep 0.25
done
expect "re-attested after the adoption" 1 \
  "$(jq --argjson a "$at0" '[.value[] | select(.properties.attestation.lastAttestation > $a)] | length' "$T/m3.json")"
check_pool "after the re-attestation" "$T/m3.json"
expect "the same MRTDs after the re-attestation" "$(evidence "$T/m1.json" | cut -d' ' -f1,4)" "$(evidence "$T/m3.json" | cut -d' ' -f1,4)"

expect "3 machine rows in all (1 system + 2 TDX)" 3 "$(pg_psql "SELECT count(*) FROM machines")"
expect "3 node directories (no second machine)" 3 "$(ls "$NODES" | grep -cv '^\.')"
expect "every operation terminal" 0 "$(pg_psql "SELECT count(*) FROM operations WHERE status NOT IN ('Succeeded','Failed','Canceled')")"
pgfo_check_disks
expect "3 OS disks in the broker" 3 "$(kp "SELECT count(*) FROM disks WHERE id LIKE 'osdisk-%'")"
expect "3 OS disk keys released (one per node)" 3 \
  "$(kp "SELECT count(DISTINCT version) FROM audit WHERE op = 'disk-release' AND decision = 'allowed' AND version LIKE 'osdisk-%'")"

# 3. a paused leader (SIGSTOP past its lease, as a frozen VM): a successor takes
# over while the paused one still holds its listening sockets (the emulated
# Intel PCS's kept TCP port among them); then SIGCONT: it finds itself deposed
# and detaches.  The Ready TDX nodes stay Ready on the same agents and disks
# throughout, and attest again afterwards (the PCS served by the new leader).
A1=$(agents) D1=$(disks)
P=$(leader)
Q=a; [ "$P" = a ] && Q=b # a second one paused: the agents' replica is one of the two with p = 2/3
for r in $P $Q; do kill -STOP "${PIDS[$r]}"; done
PAUSED="$P $Q"
pt=$(date +%s)
n=$(leader)
[ -n "$n" ] && ok || bad "no leader while $P and $Q are paused"
low=2
for _ in $(seq 36); do r=$(ready); [ "$r" -lt "$low" ] && low=$r; sleep 0.5; done # > the 15 s deadline
for r in $P $Q; do kill -CONT "${PIDS[$r]}"; done
PAUSED=
for _ in $(seq 24); do r=$(ready); [ "$r" -lt "$low" ] && low=$r; sleep 0.5; done
expect "the TDX pool Ready at every sample while $P was paused and after" 2 "$low"
for _ in $(seq 50); do grep -q "deposed" "$T/$P.log" && break; sleep 0.1; done
grep -q "confpoold: deposed" "$T/$P.log" && ok || bad "$P did not detach after SIGCONT"
expect "the same agents across the pause (adopted)" "$A1" "$(agents)"
expect "the same disks across the pause" "$D1" "$(disks)"
grep -h "TDX node not adopted" "$T"/[abc].log >"$T/notadopted"
[ ! -s "$T/notadopted" ] && ok || bad "TDX nodes rebooted, not adopted: $(cat "$T/notadopted")"
at1=$(jq '[.value[].properties.attestation.lastAttestation] | max' "$T/m3.json")
sleep 1.1
for a in $(agents | cut -d' ' -f2); do kill -USR1 "$a"; done
for _ in $(seq 120); do
  machines m4
  [ "$(jq --argjson a "$at1" '[.value[] | select(.properties.attestation.lastAttestation > $a)] | length' "$T/m4.json")" = 2 ] && break
  sleep 0.25
done
expect "both re-attested after the pause (the new leader's PCS)" 2 \
  "$(jq --argjson a "$at1" '[.value[] | select(.properties.attestation.lastAttestation > $a)] | length' "$T/m4.json")"
check_pool "after the pause" "$T/m4.json"
expect "heartbeats after the pause" 2 \
  "$(jq --argjson k "$pt" '[.value[] | select((.properties.attestation.lastHeartbeat // 0) > $k)] | length' "$T/m4.json")"

grep -h "leader (term\|deposed\|adopted\|restarted\|not adopted" "$T"/[abc].log | sed 's/^/  /'
echo "failovers: ${FAILOVERS[*]} (total $(ms) ms)"
echo "pg-failover-tdx: $pass passed, $fail failed"
pgfo_diagnose
[ "$fail" -eq 0 ]
