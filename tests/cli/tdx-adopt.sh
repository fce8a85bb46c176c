#!/bin/bash
# TDX nodes across confpoold restarts (issue 16, "TDX restart adoption"), on
# the real stack (confpool up: confpoold, attestd, kbsd disk keys, real
# agents and swtpm, the software TDX hosts):
#  (a) kill -9 of confpoold, then `confpool up`: the Ready TDX node is
#      adopted - the same agent (pid), the same disk (inode and header), the
#      same machine, Ready, heartbeating through the new daemon; a quote over
#      its guest channel after the adoption has the same TD body (MRTD,
#      RTMRs, attributes) as before; a forced re-attestation (SIGUSR1) passes
#      with the same MRTD;
#  (c) kill -9, the persisted TD state altered (RTMR1 set to zeros, well
#      formed): not adopted (the module refuses a state whose MAC does not
#      verify, the reason logged), the node booted again as a new TD on its
#      kept disk, Ready and attested, with the same TD body as before;
#  (b) `confpool down` / `up`: as for SNP nodes, down stops the node (its TD
#      and td.json end with it) and up boots it again on its kept disk.
set -u
BIN=${CP_BIN_DIR:?}
[ -r /usr/share/ovmf/OVMF.fd ] || { echo "SKIP: Debian's ovmf is not installed (no TDVF)"; exit 77; }
T=$(mktemp -d /tmp/cp-tdxadopt-XXXXXX)
S=$T/s
export CONFPOOL_CONFIG_DIR=$T/cli
cleanup() { "$BIN/confpool" down --state-dir "$S" >/dev/null 2>&1; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; tail -20 "$S/confpoold.log" >&2; exit 1; }
alive() { pgrep -f -- "$1" | while read -r p; do [ "$(awk '{print $3}' /proc/$p/stat 2>/dev/null)" = Z ] || echo "$p"; done; }
cp_() { "$BIN/confpool" "$@"; }
C=(-g rg1 --cluster-name c1)

cp_ up --state-dir "$S" >"$T/up.out" 2>&1 || { cat "$T/up.out"; fail "up"; }
cp_ group create -n rg1 -l eastus -o none || fail "group create"
cp_ aks create -g rg1 -n c1 -s Standard_DC4as_v5 -c 1 -o none || fail "aks create"
cp_ feature register --namespace Microsoft.ContainerService --name ConfidentialTDXPreview -o none || fail "feature"
for _ in $(seq 100); do
        [ "$(cp_ feature show --namespace Microsoft.ContainerService --name ConfidentialTDXPreview \
             --query properties.state -o tsv)" = Registered ] && break
        sleep 0.1
done
cp_ aks nodepool add "${C[@]}" -n tdx --node-count 1 -s Standard_DC4es_v5 -o none || fail "nodepool add"
m=$(cp_ aks machine list "${C[@]}" --nodepool-name tdx --query '[0].name' -o tsv)
show() { cp_ aks machine show "${C[@]}" --nodepool-name tdx --machine-name "$m" --query "$1" -o tsv 2>/dev/null; }
[ "$(show properties.status.nodeState)" = Ready ] || fail "TDX node not Ready"
D=$(ls -d "$S"/cp/local/nodes/*-"$m")
[ -d "$D" ] || fail "no node directory for $m"
[ "$(stat -c %a "$D/td.json")" = 600 ] || fail "td.json missing or not 0600"
sock=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tdxSocket"])' "$D/node.json")
mrtd=$(show properties.attestation.tdx.mrtd)
grep -q "\"tdxMrtd\": *\"$mrtd\"" "$D/node.json" || fail "node.json does not name the MRTD $mrtd"
disk() { echo "$(stat -c %i "$D/disk.img") $(head -c 65536 "$D/disk.img" | sha256sum)"; }
# the TD body of a quote over the node's guest channel (header 48 bytes, TD 1.0 body 584)
RD=$(printf 'ab%.0s' $(seq 64))
body() {
        cp_ tdx quote --socket "$sock" --report-data "$RD" --out "$T/q" >/dev/null 2>&1 || fail "tdx quote over $sock"
        head -c 632 "$T/q" | tail -c 584 | sha256sum
}
wait_log() { for _ in $(seq 120); do grep -q "$1" "$S/confpoold.log" && return 0; sleep 0.25; done; return 1; }
A0=$(cat "$D/agent.pid")
DISK0=$(disk)
B0=$(body)
at0=$(show properties.attestation.lastAttestation)

# (a) kill -9 of confpoold: the TDX node is adopted
kill -9 "$(cat "$S/confpoold.pid")" || fail "no confpoold"
n0=$(grep -c 'confpoold: adopted' "$S/confpoold.log")
t0=$(date +%s%3N)
cp_ up --state-dir "$S" >/dev/null 2>"$T/up.err" || { cat "$T/up.err" >&2; fail "up after kill -9"; }
for _ in $(seq 400); do [ "$(grep -c 'confpoold: adopted' "$S/confpoold.log")" -gt "$n0" ] && break; sleep 0.05; done
t_adopt=$(( $(date +%s%3N) - t0 ))
grep 'confpoold: adopted' "$S/confpoold.log" | tail -1 | grep -q 'adopted 2 running' ||
        fail "not both nodes (SNP system node, TDX node) adopted: $(grep 'adopted\|not adopted' "$S/confpoold.log" | tail -2)"
grep -q 'TDX node not adopted' "$S/confpoold.log" && fail "TDX node refused: $(grep 'not adopted' "$S/confpoold.log")"
[ "$(cat "$D/agent.pid")" = "$A0" ] && [ -n "$(alive "confpool-agent --node-dir $D\$")" ] ||
        fail "agent $A0 replaced by $(cat "$D/agent.pid") (rebooted, not adopted)"
[ "$(alive "confpool-agent --node-dir $D\$")" = "$A0" ] || fail "agents of $m: $(alive "confpool-agent --node-dir $D\$")"
[ "$(disk)" = "$DISK0" ] || fail "the disk changed across the adoption"
[ "$(show properties.status.nodeState)" = Ready ] || fail "adopted node not Ready"
[ "$(body)" = "$B0" ] || fail "a quote after the adoption has another TD body (MRTD/RTMRs) than before"
# heartbeats reach the new daemon
hb0=$(show properties.attestation.lastHeartbeat)
ok=
for _ in $(seq 60); do [ "$(show properties.attestation.lastHeartbeat)" -gt "$hb0" ] && ok=1 && break; sleep 0.25; done
[ -n "$ok" ] || fail "no heartbeat after the adoption"
# a forced re-attestation through the adopted TD's channel
sleep 1.1
kill -USR1 "$A0"
ok=
for _ in $(seq 80); do [ "$(show properties.attestation.lastAttestation)" -gt "$at0" ] && ok=1 && break; sleep 0.25; done
[ -n "$ok" ] || fail "no re-attestation after the adoption: $(tail -3 "$D/agent.log")"
[ "$(show properties.status.nodeState)" = Ready ] || fail "not Ready after the re-attestation"
[ "$(show properties.attestation.tdx.mrtd)" = "$mrtd" ] || fail "MRTD changed"
[ "$(cat "$D/agent.pid")" = "$A0" ] || fail "agent restarted by the re-attestation"
at1=$(show properties.attestation.lastAttestation)

# (c) a tampered TD state: not adopted, booted again on its kept disk
kill -9 "$(cat "$S/confpoold.pid")" || fail "no confpoold (c)"
python3 - "$D/td.json" <<'PY' || fail "cannot alter td.json"
import json, sys
p = sys.argv[1]
s = json.load(open(p))
assert s["rtmr1"] != "0" * 96
s["rtmr1"] = "0" * 96
json.dump(s, open(p, "w"))
PY
t0=$(date +%s%3N)
cp_ up --state-dir "$S" >/dev/null 2>"$T/up.err" || { cat "$T/up.err" >&2; fail "up after the tamper"; }
wait_log "$m: TDX node not adopted, booted again on its kept disk: .*MAC does not verify" ||
        fail "the altered TD state was not refused with its reason: $(grep 'not adopted' "$S/confpoold.log")"
ok=
for _ in $(seq 200); do
        [ "$(show properties.status.nodeState)" = Ready ] && [ "$(show properties.attestation.lastAttestation)" -gt "$at1" ] &&
                ok=1 && break
        sleep 0.25
done
[ -n "$ok" ] || fail "the TDX node did not boot and attest again after the refused state"
t_reboot=$(( $(date +%s%3N) - t0 ))
A2=$(cat "$D/agent.pid")
[ "$A2" != "$A0" ] || fail "the agent was kept over a refused TD state"
[ -z "$(alive "confpool-agent --node-dir $D\$" | grep -vx "$A2")" ] || fail "the old agent still runs"
[ "$(disk)" = "$DISK0" ] || fail "the disk was not kept over the reboot"
[ "$(show properties.attestation.tdx.mrtd)" = "$mrtd" ] || fail "MRTD after the reboot"
[ "$(body)" = "$B0" ] || fail "the rebooted TD's body differs from the first boot's (RTMRs from the altered file?)"
python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["rtmr1"] != "0"*96' "$D/td.json" ||
        fail "td.json still holds the altered RTMR1"
at2=$(show properties.attestation.lastAttestation)

# (b) down / up: stopped with the stack, booted again on its kept disk
cp_ down --state-dir "$S" >/dev/null || fail "down"
for _ in $(seq 50); do [ -z "$(alive "$S")" ] && break; sleep 0.1; done
[ -z "$(alive "$S")" ] || fail "processes left after down"
[ ! -e "$D/td.json" ] || fail "td.json left after down (the TD ended with the stack)"
cp_ up --state-dir "$S" >/dev/null 2>&1 || fail "up after down"
ok=
for _ in $(seq 200); do
        [ "$(show properties.status.nodeState)" = Ready ] && [ "$(show properties.attestation.lastAttestation)" -gt "$at2" ] &&
                ok=1 && break
        sleep 0.25
done
[ -n "$ok" ] || fail "the TDX node did not boot and attest again after down/up"
[ "$(cat "$D/agent.pid")" != "$A2" ] || fail "agent pid reused across down/up"
[ "$(disk)" = "$DISK0" ] || fail "the disk was not kept across down/up"
[ "$(body)" = "$B0" ] || fail "TD body after down/up"
[ "$(cp_ aks machine list "${C[@]}" --nodepool-name tdx --query 'length(@)' -o tsv)" = 1 ] || fail "machines of tdx"
echo "tdx-adopt: OK (kill -9: adopted, same agent/disk/TD, ${t_adopt} ms from up to the adoption;" \
     "altered state: rebooted on its kept disk, Ready and attested ${t_reboot} ms after up; down/up: rebooted)"
