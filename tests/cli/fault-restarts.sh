#!/bin/bash
# Fault suite, restarts (issue 13): on the embedded stack (local backend,
# real agents, swtpm, attestd, kbsd disk keys) with 3 Ready nodes (the
# system pool's and a 2-node CVM pool):
#  1. kill -9 of confpoold FAULT_ROUNDS times in a row (default 10), each
#     time `confpool up` again: the running nodes are adopted - the same
#     machines, the same agent processes, Ready throughout; one outage
#     lasts longer than the 15 s heartbeat deadline; one kill lands in the
#     middle of a scale-up, which completes after the restart (no operation
#     lost); afterwards every node re-attests (SIGUSR1) through the
#     restarted daemon's AMD-SP hosts;
#  2. `confpool down` / `confpool up`: the same machines are Ready again
#     (rebooted: fresh launch and attestation) on their kept OS disks.
# Throughout: no node replaced, no disk crypto-erased or created anew (the
# key broker's audit log), the LUKS headers of the disks unchanged.
# Prints one summary line; bench/fault-suite.sh runs it with more rounds.
set -u
BIN=${CP_BIN_DIR:?}
ROUNDS=${FAULT_ROUNDS:-10}
LONG_GAP=${FAULT_LONG_GAP:-17}
T=$(mktemp -d /tmp/cp-fault-XXXXXX)
S=$T/s
export CONFPOOL_CONFIG_DIR=$T/cli
cleanup() { "$BIN/confpool" down --state-dir "$S" >/dev/null 2>&1; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; tail -30 "$S/confpoold.log" >&2; exit 1; }
. "$(dirname "$0")/lib/fault-stack.sh"
disk_headers() { for d in "$S"/cp/local/nodes/*/disk.img; do head -c 65536 "$d" | sha256sum; done | sort | tr '\n' ' '; }
# Unix time of each machine's last attestation (both pools)
attested_at() {
        for p in nodepool1 p1; do
                cp_ aks machine list -g rg1 --cluster-name c1 --nodepool-name "$p" \
                        --query "[].properties.attestation.lastAttestation" -o tsv 2>/dev/null
        done
}
# until every expected machine is Ready (or the deadline): the list
wait_ready() {
        local want=$1 n=$2 i got
        for i in $(seq "$n"); do
                got=$(machines)
                [ "$got" = "$want" ] && return 0
                sleep 0.25
        done
        echo "$got"
        return 1
}

three_ready_nodes
M0=$(machines)
[ "$(echo "$M0" | grep -c 'Ready$')" = 3 ] || fail "not 3 Ready machines: $M0"
A0=$(agents)
[ "$(echo "$A0" | wc -w)" = 3 ] || fail "agents: $A0"
D0=$(disk_headers)
C0=$(audit_count disk-create)
E0=$(audit_count disk-crypto-erase)

# 1. kill -9 of confpoold, ROUNDS times
max_ms=0
gap_round=$(( ROUNDS > 2 ? 3 : 1 ))
for r in $(seq "$ROUNDS"); do
        kill -9 "$(cat "$S/confpoold.pid")" || fail "round $r: no confpoold"
        [ "$r" = "$gap_round" ] && sleep "$LONG_GAP"  # longer than the 15 s heartbeat deadline
        t0=$(now_ms)
        cp_ up --state-dir "$S" >/dev/null 2>"$T/up.err" || { cat "$T/up.err" >&2; fail "round $r: up"; }
        got=$(wait_ready "$M0" 40) || fail "round $r: machines after the restart: $got"
        t1=$(now_ms)
        (( t1 - t0 > max_ms )) && max_ms=$(( t1 - t0 ))
        [ "$(agents)" = "$A0" ] || fail "round $r: agents $(agents), were $A0 (nodes restarted, not adopted)"
done
grep -q "confpoold: replacing node" "$S/confpoold.log" && fail "a node was replaced: $(grep 'replacing node' "$S/confpoold.log")"
# the log of every run is kept (appended to, not truncated by up)
[ "$(grep -c 'confpoold: adopted 3 running node' "$S/confpoold.log")" = "$ROUNDS" ] || fail "confpoold.log lost runs"

# an operation in flight when confpoold is killed completes after the restart
cp_ aks nodepool scale -g rg1 --cluster-name c1 -n p1 --node-count 3 --no-wait -o none || fail "scale"
kill -9 "$(cat "$S/confpoold.pid")"
cp_ up --state-dir "$S" >/dev/null 2>&1 || fail "up after the kill mid-scale"
st=
for _ in $(seq 160); do
        st=$(cp_ aks nodepool show -g rg1 --cluster-name c1 -n p1 --query provisioningState -o tsv 2>/dev/null)
        [ "$st" = Succeeded ] || [ "$st" = Failed ] && break
        sleep 0.25
done
[ "$st" = Succeeded ] || fail "scale after the restart: '$st'"
M1=$(machines)
[ "$(echo "$M1" | grep -c 'Ready$')" = 4 ] || fail "after the scale: $M1"
for m in $(echo "$M0" | cut -f1); do echo "$M1" | grep -q "^$m	Ready$" || fail "$m lost in the scale: $M1"; done

# every node re-attests through the restarted daemon's hosts
before=$(cp_ aks machine list -g rg1 --cluster-name c1 --nodepool-name p1 --query "[].properties.attestation.lastAttestation" -o tsv | sort | tr '\n' ' ')
sleep 1.1
for p in $(alive "confpool-agent --node-dir $S/cp/local/nodes/"); do kill -USR1 "$p"; done
ok=
for _ in $(seq 60); do
        after=$(cp_ aks machine list -g rg1 --cluster-name c1 --nodepool-name p1 --query "[].properties.attestation.lastAttestation" -o tsv | sort | tr '\n' ' ')
        n_new=0
        for a in $after; do case " $before " in *" $a "*) ;; *) n_new=$((n_new + 1)) ;; esac; done
        [ "$n_new" = 3 ] && ok=1 && break
        sleep 0.25
done
[ -n "$ok" ] || fail "re-attestation after the restarts: before '$before', after '$after'"
[ "$(echo "$(machines)" | grep -c 'Ready$')" = 4 ] || fail "not Ready after the re-attestation: $(machines)"

# 2. down / up
M2=$(machines)
D2=$(disk_headers)
C2=$(audit_count disk-create)
cp_ down --state-dir "$S" >/dev/null || fail "down"
for _ in $(seq 50); do [ -z "$(alive "$S")" ] && break; sleep 0.1; done
[ -z "$(alive "$S")" ] || fail "processes left after down"
# the attestation service's kept port taken by another process: `up` fails
# naming it and changes nothing (the issuer URL must not move)
AP=$(port_of attestd)
[ -n "$AP" ] || fail "no attestd port in ports.json: $(cat "$S/ports.json")"
python3 -c "import socket,sys,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', $AP)); s.listen(); print('bound', flush=True); time.sleep(60)" >"$T/squat.out" 2>&1 &
SQ=$!
for _ in $(seq 50); do grep -q bound "$T/squat.out" && break; sleep 0.1; done
cp_ up --state-dir "$S" >/dev/null 2>"$T/up.err" && fail "up succeeded with the attestd port $AP taken"
grep -q "port $AP" "$T/up.err" && grep -q "nothing was changed" "$T/up.err" || fail "up's error: $(cat "$T/up.err")"
kill "$SQ"; wait "$SQ" 2>/dev/null
[ -z "$(alive "$S")" ] || fail "processes left after the failed up"
[ "$(disk_headers)" = "$D2" ] || fail "disks changed by the failed up"
t0=$(now_ms)
cp_ up --state-dir "$S" >/dev/null 2>"$T/up.err" || { cat "$T/up.err" >&2; fail "up after down"; }
got=$(wait_ready "$M2" 240) || fail "machines after down/up: $got (were $M2)"
# and each of them booted again, attested and registered after the up
ok=
for _ in $(seq 240); do
        n_new=0
        for a in $(attested_at); do [ "$a" -ge "$((t0 / 1000))" ] && n_new=$((n_new + 1)); done
        [ "$n_new" = 4 ] && ok=1 && break
        sleep 0.25
done
[ -n "$ok" ] || fail "not every node attested again after down/up: $(attested_at)"
t1=$(now_ms)
[ "$(disk_headers)" = "$D2" ] || fail "disks changed across down/up"
for h in $D0; do case " $D2 " in *" $h "*) ;; *) [ "$h" = - ] || fail "a disk of the first 3 nodes changed" ;; esac; done
[ "$(audit_count disk-create)" = "$C2" ] || fail "disks created anew across down/up"
[ "$(audit_count disk-crypto-erase)" = "$E0" ] || fail "disks crypto-erased: $(grep disk-crypto-erase "$S/kbs-audit.jsonl")"
grep -q "confpoold: replacing node" "$S/confpoold.log" && fail "a node was replaced: $(grep 'replacing node' "$S/confpoold.log")"
[ "$C0" = 3 ] && [ "$C2" = 4 ] || fail "disk creations: $C0 at the start, $C2 after the scale-up (want 3, 4)"
echo "fault-restarts: $ROUNDS x kill -9 confpoold (one outage ${LONG_GAP} s) + kill mid-scale + down/up:" \
     "0 nodes replaced, 0 disks erased, same agents through the kills;" \
     "slowest restart to all-Ready ${max_ms} ms; down/up to all-Ready $((t1 - t0)) ms"
echo ok
