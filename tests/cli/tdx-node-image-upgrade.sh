#!/bin/bash
# Rolling node-image upgrade of a TDX pool (issue 16) with the real daemons
# and the CLI, as tests/cli/node-image-upgrade.sh does for SNP: a 2-node
# DC4es_v5 pool (maxSurge 1); confpoold killed with -9 and started with a
# config publishing a newer node image built with newer firmware (--ovmf: a
# TDVF with one byte of its BFV changed; the TDX nodes are adopted across
# the restart and keep their image's firmware; so does the system pool's
# SEV-SNP node, which re-attests then and stays Ready); `aks nodepool upgrade
# --node-image-only`: never more than 3 machines nor fewer than 2 Ready
# ones, no node lost; it ends with 2 Ready, attested TDX nodes on the new
# image: new TDs whose MRTD is the new firmware's (`confpool tdx measure`),
# the pool's expected measurement and the only one its policy then accepts,
# and whose RTMRs measure the new image's kernel, command line and initrd.
set -u
BIN=${CP_BIN_DIR:?}
[ -r /usr/share/ovmf/OVMF.fd ] || { echo "SKIP: Debian's ovmf is not installed (no TDVF)"; exit 77; }
T=$(mktemp -d /tmp/cp-tdxniu-XXXXXX)
S=$T/s
export CONFPOOL_CONFIG_DIR=$T/cli
cleanup() { "$BIN/confpool" down --state-dir "$S" >/dev/null 2>&1; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; tail -20 "$S/confpoold.log" >&2; exit 1; }
alive() { pgrep -f -- "$1" | while read -r p; do [ "$(awk '{print $3}' /proc/$p/stat 2>/dev/null)" = Z ] || echo "$p"; done; }
cp_() { "$BIN/confpool" "$@"; }
C=(-g rg1 --cluster-name c1)
M=("${C[@]}" --nodepool-name tdx)

cp_ up --state-dir "$S" >/dev/null 2>&1 || fail "up"
cp_ group create -n rg1 -l eastus -o none || fail "group create"
cp_ aks create -g rg1 -n c1 -s Standard_DC4as_v5 -c 1 -o none || fail "aks create"
cp_ feature register --namespace Microsoft.ContainerService --name ConfidentialTDXPreview -o none || fail "feature"
for _ in $(seq 100); do
        [ "$(cp_ feature show --namespace Microsoft.ContainerService --name ConfidentialTDXPreview \
             --query properties.state -o tsv)" = Registered ] && break
        sleep 0.1
done
cp_ aks nodepool add "${C[@]}" -n tdx --node-count 2 -s Standard_DC4es_v5 --max-surge 1 -o none || fail "nodepool add"
old_img=$(cp_ aks nodepool show "${C[@]}" -n tdx --query nodeImageVersion -o tsv)
old_names=$(cp_ aks machine list "${M[@]}" --query "[].name" -o tsv | sort)
# the TD body (header 48 bytes, TD 1.0 body 584) of a quote over a node's guest channel
RD=$(printf 'cd%.0s' $(seq 64))
body_of() {
        local d sock
        d=$(ls -d "$S"/cp/local/nodes/*-"$1")
        sock=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tdxSocket"])' "$d/node.json")
        cp_ tdx quote --socket "$sock" --report-data "$RD" --out "$T/q" >/dev/null 2>&1 || fail "tdx quote over $sock"
        head -c 632 "$T/q" | tail -c 584 | od -An -v -tx1 | tr -d ' \n'
}
# body offsets (hex characters): MRTD at byte 136, RTMR0..3 at 328 (48 bytes each)
mrtd_of() { echo "${1:272:96}"; }
rtmr_of() { echo "${1:$((656 + 96 * $2)):96}"; }
b_old=$(body_of "$(echo "$old_names" | head -1)")
old_m=$(cp_ aks machine list "${M[@]}" --query "[0].properties.attestation.launchMeasurement" -o tsv)
[ "$(mrtd_of "$b_old")" = "$old_m" ] || fail "quote MRTD $(mrtd_of "$b_old") is not the machine's $old_m"

# publish a newer node image: confpoold killed and started with nodeImageDate in its config
PID=$(cat "$S/confpoold.pid")
mapfile -d '' ARGS < "/proc/$PID/cmdline"
PORT=$(cat "$S/confpoold.port")
echo '{"nodeImageDate":"202512.02.0"}' > "$T/config.json"
cp /usr/share/ovmf/OVMF.fd "$T/OVMF-new.fd"
python3 - "$T/OVMF-new.fd" <<'PY' || fail "cannot build the new firmware"
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) - 0x10000] ^= 1  # in the BFV (MR.EXTENDed), away from the TDVF metadata
open(p, "wb").write(b)
PY
mrtd() { cp_ tdx measure --tdvf "$1" | awk '$1 == "MRTD" {print $2}'; }
fw_old=$(mrtd /usr/share/ovmf/OVMF.fd)
fw_new=$(mrtd "$T/OVMF-new.fd")
[ ${#fw_new} = 96 ] && [ "$fw_new" != "$fw_old" ] && [ "$fw_old" = "$old_m" ] || fail "firmware MRTDs $fw_old $fw_new"
kill -9 "$PID"
setsid "${ARGS[@]}" --port "$PORT" --config "$T/config.json" --ovmf "$T/OVMF-new.fd" >>"$S/confpoold.log" 2>&1 \
        < /dev/null &
echo $! > "$S/confpoold.pid"
for _ in $(seq 100); do grep -q 'confpoold: adopted 3 running' "$S/confpoold.log" && break; sleep 0.2; done
grep -q 'confpoold: adopted 3 running' "$S/confpoold.log" || fail "the 3 nodes (2 TDX) were not adopted"
# the system pool's SEV-SNP node (its image first used with the old firmware) re-attests
# after the restart: the image kept its firmware, so the node's launch measurement is still
# the expected one (it was measured from the stack's new firmware, and the node quarantined)
SYSM=("${C[@]}" --nodepool-name nodepool1)
sys_name=$(cp_ aks machine list "${SYSM[@]}" --query "[0].name" -o tsv)
sys_at=$(cp_ aks machine list "${SYSM[@]}" --query "[0].properties.attestation.lastAttestation" -o tsv)
[ -n "$sys_name" ] && [ -n "$sys_at" ] || fail "system node '$sys_name' attested at '$sys_at'"
sleep 1.1
sys_pid=$(alive "confpool-agent --node-dir $S/cp/local/nodes/[^ ]*-$sys_name( |$)")
[ -n "$sys_pid" ] || fail "no agent of $sys_name"
kill -USR1 $sys_pid
for _ in $(seq 150); do
        [ "$(cp_ aks machine list "${SYSM[@]}" --query "[0].properties.attestation.lastAttestation" -o tsv)" != "$sys_at" ] \
                && break
        sleep 0.2
done
sys_now=$(cp_ aks machine list "${SYSM[@]}" --query "[0].join(' ', [name, properties.status.nodeState, properties.attestation.reason || 'no-reason'])" -o tsv)
[ "$sys_now" = "$sys_name Ready no-reason" ] || fail "system node after its re-attestation: $sys_now (was $sys_name)"
[ "$(cp_ aks machine list "${SYSM[@]}" --query "[0].properties.attestation.lastAttestation" -o tsv)" != "$sys_at" ] \
        || fail "$sys_name did not re-attest"
latest=
for _ in $(seq 100); do
        latest=$(cp_ aks nodepool get-upgrades "${C[@]}" --nodepool-name tdx --query latestNodeImageVersion \
                 -o tsv 2>/dev/null)
        case "$latest" in *202512.02.0) break ;; esac
        sleep 0.2
done
case "$latest" in *202512.02.0) ;; *) fail "latest node image '$latest'" ;; esac

cp_ aks nodepool upgrade "${C[@]}" -n tdx --node-image-only -y --no-wait -o none || fail "upgrade"
st=
max=0
for _ in $(seq 400); do
        n=$(cp_ aks machine list "${M[@]}" --query "length(@)" -o tsv)
        r=$(cp_ aks machine list "${M[@]}" --query "length([?properties.status.nodeState=='Ready'])" -o tsv)
        [ "$n" -gt "$max" ] && max=$n
        [ "$n" -le 3 ] || fail "$n machines during the roll (maxSurge 1)"
        [ "$r" -ge 2 ] || fail "$r Ready machines during the roll"
        st=$(cp_ aks nodepool show "${C[@]}" -n tdx --query provisioningState -o tsv)
        [ "$st" = Succeeded ] || [ "$st" = Failed ] && break
        sleep 0.1
done
[ "$st" = Succeeded ] || fail "pool after the upgrade: '$st'"
[ "$max" = 3 ] || fail "never surged ($max machines at most)"
new_img=$(cp_ aks nodepool show "${C[@]}" -n tdx --query nodeImageVersion -o tsv)
case "$new_img" in *202512.02.0) ;; *) fail "pool image '$new_img'" ;; esac
[ "$new_img" != "$old_img" ] || fail "image unchanged"
q="length([?properties.nodeImageVersion=='$new_img' && properties.status.nodeState=='Ready' && properties.attestation.tee=='TDX' && properties.attestation.tdx.tcbStatus=='UpToDate' && properties.attestation.reason==''])"
[ "$(cp_ aks machine list "${M[@]}" --query "$q" -o tsv)" = 2 ] || fail "not 2 Ready, attested TDX machines on $new_img"
new_names=$(cp_ aks machine list "${M[@]}" --query "[].name" -o tsv | sort)
for n in $new_names; do echo "$old_names" | grep -qx "$n" && fail "machine $n was not replaced by the roll"; done
ms=$(cp_ aks machine list "${M[@]}" --query "[].properties.attestation.launchMeasurement" -o tsv | sort -u)
[ "$(echo "$ms" | wc -l)" = 1 ] && [ ${#ms} = 96 ] || fail "measurements: $ms"
[ "$ms" = "$fw_new" ] || fail "new measurement $ms is not the new firmware's MRTD $fw_new (old $old_m)"
# the pool's policy accepts only the new image's measurement
acc=$(cp_ aks machine show "${M[@]}" --machine-name "$(echo "$new_names" | head -1)" \
      --query "properties.attestation.acceptedLaunchMeasurements[].[role,launchMeasurement]" -o tsv)
[ "$acc" = "$(printf 'target\t%s' "$ms")" ] || fail "accepted measurements after the roll: $acc"
# the new TDs measure the new image: MRTD the expected one, RTMR1 (kernel) and RTMR2 (command line, initrd) new
b_new=$(body_of "$(echo "$new_names" | head -1)")
[ "$(mrtd_of "$b_new")" = "$ms" ] || fail "the new TD's MRTD is not the pool's expected measurement"
[ "$(rtmr_of "$b_new" 1)" != "$(rtmr_of "$b_old" 1)" ] || fail "RTMR1 (kernel) unchanged by the new image"
[ "$(rtmr_of "$b_new" 2)" != "$(rtmr_of "$b_old" 2)" ] || fail "RTMR2 (command line, initrd) unchanged by the new image"
# no TD of the old machines is left
for n in $old_names; do ls -d "$S"/cp/local/nodes/*-"$n" >/dev/null 2>&1 && fail "node directory of $n left"; done
[ "$(alive "confpool-agent --node-dir $S/cp/local/nodes/" | wc -l)" = 3 ] || fail "agents: not 3"
grep "replacing node" "$S/confpoold.log" | grep -v -- "-tdx-" && fail "a node outside the rolled pool was replaced"
cp_ down --state-dir "$S" >/dev/null || fail "down"
for _ in $(seq 50); do [ -z "$(alive "$S")" ] && break; sleep 0.1; done
[ -z "$(alive "$S")" ] || fail "processes left after down"
echo "tdx-node-image-upgrade: OK ($old_img -> $new_img, MRTD ${old_m:0:12}.. -> ${ms:0:12}.., RTMR1/RTMR2 new)"
