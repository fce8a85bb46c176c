#!/bin/bash
# Intel TDX node pools on the embedded stack (issue 16), with the real
# daemons and CLI: a DC4es_v5 pool is refused until ConfidentialTDXPreview is
# registered, then its node boots as a TD on a software TDX host, attests
# through confpool-attestd's TdxVm route (the emulated root and PCS that
# `confpool up` hands it) and shows its TDX evidence in `aks machine show`;
# the stack's emulated Intel survives `down`/`up` (same root, same PCS port)
# and the node attests again on its kept disk; `down` leaves nothing.
set -u
BIN=${CP_BIN_DIR:?}
[ -r /usr/share/ovmf/OVMF.fd ] || { echo "SKIP: Debian's ovmf is not installed (no TDVF)"; exit 77; }
T=$(mktemp -d /tmp/cp-tdxpool-XXXXXX)
export CONFPOOL_CONFIG_DIR=$T/cli
cleanup() { "$BIN/confpool" down --state-dir "$T/s" >/dev/null 2>&1; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
alive() { pgrep -f -- "$T/s" | while read -r p; do [ "$(awk '{print $3}' /proc/$p/stat 2>/dev/null)" = Z ] || echo "$p"; done; }

"$BIN/confpool" up --state-dir "$T/s" >"$T/up.out" 2>&1 || { cat "$T/up.out"; fail "up"; }
TDX=$T/s/cp/local/hosts/tdx
[ -s "$TDX/root.pem" ] && [ -s "$TDX/pcs.port" ] && [ -s "$TDX/pcs.json" ] || fail "no software TDX platform in $TDX"
[ "$(stat -c %a "$TDX/pcs.json")" = 600 ] || fail "pcs.json mode $(stat -c %a "$TDX/pcs.json")"
tr '\0' ' ' <"/proc/$(cat "$T/s/attestd.pid")/cmdline" |
        grep -q -- "--tdx-root $TDX/root.pem --tdx-pcs-url http://127.0.0.1:$(cat "$TDX/pcs.port")" ||
        fail "attestd does not trust the stack's TDX root and PCS"
root1=$(sha256sum <"$TDX/root.pem")

C=(-g rg1 --cluster-name c1)
"$BIN/confpool" group create -n rg1 -l eastus -o none || fail "group create"
"$BIN/confpool" aks create -g rg1 -n c1 -s Standard_DC4as_v5 -c 1 -o none || fail "aks create"
"$BIN/confpool" aks nodepool add "${C[@]}" -n tdx --node-count 1 -s Standard_DC4es_v5 -o none 2>"$T/err" &&
        fail "TDX pool accepted before ConfidentialTDXPreview"
grep -q ConfidentialTDXPreview "$T/err" || fail "refusal does not name the feature: $(cat "$T/err")"
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
[ "$(show properties.attestation.tdx.fmspc)" = 90c06f000000 ] || fail "fmspc"
mrtd=$(show properties.attestation.tdx.mrtd)
[ "${#mrtd}" = 96 ] && [ "$mrtd" = "$(show properties.attestation.launchMeasurement)" ] || fail "mrtd $mrtd"
case "$(show properties.attestation.host)" in host-spr-*) ;; *) fail "host $(show properties.attestation.host)";; esac
at1=$(show properties.attestation.lastAttestation)
# the TD booted with the events `tdx measure` predicts for the node image
# (issue 15 item 2): its CCEL replays to the RTMR1/RTMR2 derived from the
# image's kernel (a PE image), initrd and command line
ccel=$(find "$T/s" -name ccel.bin | head -1)
img=$(dirname "$(find "$T/s" -path '*/images/*' -name cmdline | head -1)")
[ -s "$ccel" ] && [ -s "$img/kernel" ] || fail "no CCEL ($ccel) or node image ($img)"
rt() { python3 -c "import json,sys; d=json.load(sys.stdin); print(d['rtmr1'], d['rtmr2'])"; }
got=$("$BIN/confpool" tdx measure --replay-ccel "$ccel" -o json | rt) || fail "replay of the node's CCEL"
want=$("$BIN/confpool" tdx measure --kernel "$img/kernel" --initrd "$img/initrd" --cmdline "$(cat "$img/cmdline")" -o json | rt) ||
        fail "tdx measure of the node image"
[ "$got" = "$want" ] || fail "node RTMR1/2 $got, tdx measure predicts $want"

"$BIN/confpool" down --state-dir "$T/s" >/dev/null || fail "down"
for _ in $(seq 50); do [ -z "$(alive)" ] && break; sleep 0.1; done
[ -z "$(alive)" ] || fail "processes left after down: $(alive)"
"$BIN/confpool" up --state-dir "$T/s" >"$T/up2.out" 2>&1 || { cat "$T/up2.out"; fail "second up"; }
[ "$(sha256sum <"$TDX/root.pem")" = "$root1" ] || fail "the emulated Intel root changed across down/up"
# the node boots again (a new TD, the same MRTD) on its kept disk and attests anew
ok=
for _ in $(seq 300); do
        if [ "$(show properties.status.nodeState 2>/dev/null)" = Ready ] &&
           [ "$(show properties.attestation.lastAttestation 2>/dev/null)" -gt "$at1" ] 2>/dev/null; then ok=1; break; fi
        sleep 0.2
done
[ -n "$ok" ] || fail "the TDX node did not attest again after down/up"
[ "$(show properties.attestation.tdx.mrtd)" = "$mrtd" ] || fail "MRTD changed across down/up"
[ "$(show properties.attestation.tdx.tcbStatus)" = UpToDate ] || fail "tcbStatus after up"

"$BIN/confpool" down --state-dir "$T/s" >/dev/null || fail "final down"
for _ in $(seq 50); do [ -z "$(alive)" ] && break; sleep 0.1; done
[ -z "$(alive)" ] || fail "processes left after the final down: $(alive)"
echo "tdx-pool: OK"
