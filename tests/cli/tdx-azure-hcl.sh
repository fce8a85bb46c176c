#!/bin/bash
# Azure TDX CVMs on the embedded stack (issue 16): `confpool up
# --tdx-evidence azure-hcl` boots a DC4es_v5 node under the software
# paravisor (HCL report with the TD's TDREPORT in its vTPM, the host's
# /acc/tdquote endpoint); its agent attests with POST /attest/AzureGuest and
# the node is Ready with its TDX evidence in `aks machine show`; attestd
# killed (-9) while the node re-attests leaves it Ready, and once `confpool
# up` has restarted attestd the node attests again; confpoold killed -9 and
# started again adopts it (its host's quote endpoint on its kept port) and it
# attests again; `down` leaves nothing.
set -u
BIN=${CP_BIN_DIR:?}
[ -r /usr/share/ovmf/OVMF.fd ] || { echo "SKIP: Debian's ovmf is not installed (no TDVF)"; exit 77; }
T=$(mktemp -d /tmp/cp-tdxhcl-XXXXXX)
export CONFPOOL_CONFIG_DIR=$T/cli
cleanup() { "$BIN/confpool" down --state-dir "$T/s" >/dev/null 2>&1; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
alive() { pgrep -f -- "$T/s" | while read -r p; do [ "$(awk '{print $3}' /proc/$p/stat 2>/dev/null)" = Z ] || echo "$p"; done; }

"$BIN/confpool" up --state-dir "$T/s" --tdx-evidence azure-hcl >"$T/up.out" 2>&1 || { cat "$T/up.out"; fail "up"; }
tr '\0' ' ' <"/proc/$(cat "$T/s/confpoold.pid")/cmdline" | grep -q -- "--tdx-evidence azure-hcl" ||
        fail "confpoold was not given --tdx-evidence azure-hcl"
C=(-g rg1 --cluster-name c1)
"$BIN/confpool" group create -n rg1 -l eastus -o none || fail "group create"
"$BIN/confpool" aks create -g rg1 -n c1 -s Standard_DC4as_v5 -c 1 -o none || fail "aks create"
"$BIN/confpool" feature register --namespace Microsoft.ContainerService --name ConfidentialTDXPreview -o none ||
        fail "feature register"
for _ in $(seq 100); do
        st=$("$BIN/confpool" feature show --namespace Microsoft.ContainerService --name ConfidentialTDXPreview \
             --query properties.state -o tsv)
        [ "$st" = Registered ] && break
        sleep 0.1
done
"$BIN/confpool" aks nodepool add "${C[@]}" -n tdx --node-count 1 -s Standard_DC4es_v5 -o none || fail "nodepool add"
m=$("$BIN/confpool" aks machine list "${C[@]}" --nodepool-name tdx --query '[0].name' -o tsv)
show() { "$BIN/confpool" aks machine show "${C[@]}" --nodepool-name tdx --machine-name "$m" --query "$1" -o tsv; }
[ "$(show properties.status.nodeState)" = Ready ] || fail "TDX node not Ready"
[ "$(show properties.attestation.tee)" = TDX ] || fail "tee $(show properties.attestation.tee)"
[ "$(show properties.attestation.tdx.tcbStatus)" = UpToDate ] || fail "tcbStatus"
mrtd=$(show properties.attestation.tdx.mrtd)
[ "${#mrtd}" = 96 ] && [ "$mrtd" = "$(show properties.attestation.launchMeasurement)" ] || fail "mrtd $mrtd"
# the node is an Azure TDX CVM: its agent has the vTPM and the host's endpoint, not the TD's channel
nd=$(dirname "$(grep -l "\"name\": \"$m\"" "$T"/s/cp/local/nodes/*/node.json | head -1)")
[ -n "$nd" ] || fail "no node directory for $m"
grep -q '"evidence": "azure-hcl"' "$nd/node.json" || fail "node.json evidence: $(cat "$nd/node.json")"
grep -q '/acc/tdquote' "$nd/node.json" || fail "node.json has no tdQuoteUrl"
grep -q '"tdxSocket"' "$nd/node.json" && fail "an azure-hcl node was given the TD's channel"
at1=$(show properties.attestation.lastAttestation)

# attestd killed -9 while the node re-attests: deferred, the node stays Ready
apid=$(cat "$T/s/attestd.pid")
mapfile -d '' acmd <"/proc/$apid/cmdline"
aport=$(sed -n 's/.*"attestd": *\([0-9]*\).*/\1/p' "$T/s/ports.json")
[ -n "$aport" ] || fail "no attestd port in ports.json"
for i in "${!acmd[@]}"; do [ "${acmd[$i]}" = --port ] && acmd[$((i + 1))]=$aport; done
kill -9 "$apid" || fail "kill attestd"
kill -USR1 "$(cat "$nd/agent.pid")" || fail "SIGUSR1 agent"
sleep 3
[ "$(show properties.status.nodeState)" = Ready ] || fail "node not Ready while attestd is down"
kill -0 "$(cat "$nd/agent.pid")" || fail "the agent exited while attestd was down"
# its supervisor starts it again as it was (same port, same roots)
setsid "${acmd[@]}" >>"$T/attestd2.log" 2>&1 </dev/null &
echo $! >"$T/s/attestd.pid"
for _ in $(seq 100); do kill -0 "$(cat "$T/s/attestd.pid")" 2>/dev/null || fail "attestd did not restart: $(cat "$T/attestd2.log")"
        grep -q . "$T/attestd2.log" 2>/dev/null && break; sleep 0.1; done
ok=
for _ in $(seq 150); do
        kill -USR1 "$(cat "$nd/agent.pid")" 2>/dev/null
        if [ "$(show properties.attestation.lastAttestation 2>/dev/null)" -gt "$at1" ] 2>/dev/null; then ok=1; break; fi
        sleep 0.2
done
[ -n "$ok" ] || fail "the node did not attest again after attestd came back: $(tail -5 "$nd/agent.log"; tail -5 "$T/attestd2.log")"
[ "$(show properties.status.nodeState)" = Ready ] || fail "node not Ready after re-attestation"
[ "$(show properties.attestation.tdx.mrtd)" = "$mrtd" ] || fail "MRTD changed"

# confpoold killed -9 and started again: the node is adopted (the same agent,
# its TD resumed, the host's quote endpoint back on its kept port) and attests again
agentpid=$(cat "$nd/agent.pid")
at2=$(show properties.attestation.lastAttestation)
kill -9 "$(cat "$T/s/confpoold.pid")" || fail "kill confpoold"
"$BIN/confpool" up --state-dir "$T/s" --tdx-evidence azure-hcl >"$T/up3.out" 2>&1 || { cat "$T/up3.out"; fail "up after kill"; }
[ "$(cat "$nd/agent.pid")" = "$agentpid" ] && kill -0 "$agentpid" || fail "the node was not adopted (agent $agentpid)"
ok=
for _ in $(seq 150); do
        kill -USR1 "$agentpid" 2>/dev/null
        if [ "$(show properties.attestation.lastAttestation 2>/dev/null)" -gt "$at2" ] 2>/dev/null; then ok=1; break; fi
        sleep 0.2
done
[ -n "$ok" ] || fail "the adopted node did not attest again: $(tail -3 "$nd/agent.log")"
[ "$(show properties.status.nodeState)" = Ready ] || fail "adopted node not Ready"

"$BIN/confpool" down --state-dir "$T/s" >/dev/null || fail "down"
for _ in $(seq 50); do [ -z "$(alive)" ] && break; sleep 0.1; done
[ -z "$(alive)" ] || fail "processes left after down: $(alive)"
echo "tdx-azure-hcl: OK"
