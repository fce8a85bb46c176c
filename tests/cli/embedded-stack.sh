#!/bin/bash
# confpool up / down: the embedded stack (attestd + confpoold with the local
# backend) starts, the CLI works right after `up` (connection settings
# written), a CVM pool of 2 nodes attests and shows its machines with their
# attestation, a second `up` is refused while running, and `down` leaves no
# process of the stack behind - also after confpoold was killed with SIGKILL
# (the node agents and swtpms it left running are found by their pid files).
set -u
BIN=${CP_BIN_DIR:?}
T=$(mktemp -d /tmp/cp-stack-XXXXXX)
export CONFPOOL_CONFIG_DIR=$T/cli
cleanup() { "$BIN/confpool" down --state-dir "$T/s" >/dev/null 2>&1; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
alive() { pgrep -f -- "$T/s" | while read -r p; do [ "$(awk '{print $3}' /proc/$p/stat 2>/dev/null)" = Z ] || echo "$p"; done; }

"$BIN/confpool" up --state-dir "$T/s" >"$T/up.out" 2>&1 || { cat "$T/up.out"; fail "up"; }
grep -q "embedded stack up" "$T/up.out" || fail "up output"
# HTTPS under confpoold's own CA: the CLI trusts it, plain HTTP is not served
grep -q '^endpoint = https://localhost:' "$T/cli/config" || fail "CLI settings not written: $(cat "$T/cli/config")"
grep -q "^ca_file = $T/s/cp/ca.pem" "$T/cli/config" || fail "CLI CA not written: $(cat "$T/cli/config")"
P=$(cat "$T/s/confpoold.port")
curl -sf --cacert "$T/s/cp/ca.pem" -o /dev/null "https://localhost:$P/" ; [ $? = 22 ] || fail "https with the CA"
curl -sf -o /dev/null "https://localhost:$P/" ; [ $? = 60 ] || fail "https accepted without the CA"
curl -s -o /dev/null "http://127.0.0.1:$P/" && fail "plain http answered"
for f in confpoold.pid attestd.pid confpoold.port; do [ -s "$T/s/$f" ] || fail "missing $f"; done
"$BIN/confpool" up --state-dir "$T/s" >/dev/null 2>&1 && fail "second up accepted"

C=(-g rg1 --cluster-name c1)
"$BIN/confpool" group create -n rg1 -l eastus -o none || fail "group create"
"$BIN/confpool" aks create -g rg1 -n c1 -s Standard_DC4as_v5 -c 1 -o none || fail "aks create"
"$BIN/confpool" aks nodepool add "${C[@]}" -n cvm --node-count 2 -s Standard_DC4as_v5 -o none || fail "nodepool add"
st=$("$BIN/confpool" aks nodepool show "${C[@]}" -n cvm --query provisioningState -o tsv)
[ "$st" = Succeeded ] || fail "pool state $st"
out=$("$BIN/confpool" aks machine list "${C[@]}" --nodepool-name cvm \
      --query "[?properties.status.nodeState=='Ready' && properties.attestation.reason==''].properties.attestation.host" -o tsv)
[ "$(echo "$out" | grep -c '^host-milan-[01]$')" = 2 ] || fail "machines not Ready/attested: $out"
# the agents registered over HTTPS, trusting the CA their node.json names
for nj in "$T"/s/cp/local/nodes/*/node.json; do
        grep -q "\"controlplane\": *\"https://127.0.0.1:$P\"" "$nj" && grep -q "\"controlplaneCaFile\": *\"$T/s/cp/ca.pem\"" "$nj" \
                || fail "node settings: $(cat "$nj")"
done
"$BIN/confpool" aks machine list "${C[@]}" --nodepool-name cvm -o table >"$T/table" || fail "machine list table"
grep -q "Ready" "$T/table" && grep -q "bl=4,tee=0,snp=22,ucode=213" "$T/table" || fail "table: $(cat "$T/table")"
m=$("$BIN/confpool" aks machine list "${C[@]}" --nodepool-name cvm --query '[0].name' -o tsv)
exp=$("$BIN/confpool" aks machine show "${C[@]}" --nodepool-name cvm --machine-name "$m" \
      --query properties.attestation.tokenExpiry -o tsv)
[ "$exp" -gt "$(date +%s)" ] || fail "token expiry $exp"
"$BIN/confpool" aks machine show "${C[@]}" --nodepool-name cvm --machine-name nosuch -o none 2>/dev/null
[ $? = 3 ] || fail "show of a missing machine must exit 3"
[ "$(alive | wc -l)" -ge 8 ] || fail "expected confpoold, attestd and 3 agents + 3 swtpms"

"$BIN/confpool" down --state-dir "$T/s" >"$T/down.out" || fail "down"
for _ in $(seq 50); do [ -z "$(alive)" ] && break; sleep 0.1; done # still exiting?
[ -z "$(alive)" ] || fail "processes left after down: $(alive)"
[ ! -e "$T/s/confpoold.pid" ] || fail "pid file left"

# kill -9 confpoold: down must still stop the nodes it left running
"$BIN/confpool" up --state-dir "$T/s" >/dev/null 2>&1 || fail "second up"
for _ in $(seq 100); do [ "$(pgrep -f -- "--node-dir $T/s" | wc -l)" -ge 3 ] && break; sleep 0.1; done
kill -9 "$(cat "$T/s/confpoold.pid")"
"$BIN/confpool" down --state-dir "$T/s" >"$T/down.out" || fail "down after kill"
grep -q "node processes a killed confpoold left behind" "$T/down.out" || fail "down: $(cat "$T/down.out")"
for _ in $(seq 50); do [ -z "$(alive)" ] && break; sleep 0.1; done # still exiting?
[ -z "$(alive)" ] || fail "processes left after down: $(alive)"
echo ok
