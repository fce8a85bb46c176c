#!/usr/bin/env bash
# The seed document's scenario against the embedded stack started with
# `confpool up` (confpoold with the local backend on SQLite, confpool-attestd
# trusting the emulated hosts, confpool-kbsd holding the OS disk keys, every
# node a process tree with its own swtpm vTPM, an OS disk encrypted (LUKS2)
# before first boot, measured boot, SNP launch and confpool-agent that
# attests, gets its disk key by secure key release, opens its disk and
# registers), driven by the confpool CLI with the document's commands (az
# replaced by confpool), then each node's attestation summary; `confpool
# down` stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=build/bin
STATE=$(mktemp -d /tmp/confpool-demo.XXXXXX)
export CONFPOOL_CONFIG_DIR=$STATE/cli
T0=$(date +%s%N)
cleanup() {
  "$BIN/confpool" down --state-dir "$STATE/stack" || true
  left=$(pgrep -f -- "$STATE/" || true)
  [ -n "$left" ] && { echo "demo: processes left behind: $left" >&2; rm -rf "$STATE"; exit 1; }
  rm -rf "$STATE"
}
trap cleanup EXIT
run() { echo; echo "\$ confpool $*"; "$BIN/confpool" "$@"; }
echo "== confpool demo: a confidential node pool on the embedded stack (state in $STATE)"
run up --state-dir "$STATE/stack"
run group create --name myResourceGroup --location eastus -o table
run aks create -g myResourceGroup -n myAKSCluster -s Standard_DC4as_v5 -o table
run aks nodepool add -g myResourceGroup --cluster-name myAKSCluster --name cvmnodepool \
    --node-count 3 --node-vm-size Standard_DC4as_v5 -o table
run aks nodepool show -g myResourceGroup --cluster-name myAKSCluster --name cvmnodepool --query 'vmSize'
run aks nodepool show -g myResourceGroup --cluster-name myAKSCluster --name cvmnodepool --query 'nodeImageVersion'
run aks nodepool list -g myResourceGroup --cluster-name myAKSCluster -o table
run aks machine list -g myResourceGroup --cluster-name myAKSCluster --nodepool-name cvmnodepool -o table
first=$("$BIN/confpool" aks machine list -g myResourceGroup --cluster-name myAKSCluster --nodepool-name cvmnodepool \
        --query '[0].name' -o tsv)
run aks machine show -g myResourceGroup --cluster-name myAKSCluster --nodepool-name cvmnodepool \
    --machine-name "$first" --query 'properties.attestation'
echo; echo "-- every node of cvmnodepool: Ready, launch measurement == the node image's, TCB, token expiry"
"$BIN/confpool" aks machine list -g myResourceGroup --cluster-name myAKSCluster --nodepool-name cvmnodepool \
    --query "[].{name:name, state:properties.status.nodeState, host:properties.attestation.host, tcb:properties.attestation.reportedTcb, expires:properties.attestation.tokenExpiryTime}" -o tsv
ready=$("$BIN/confpool" aks machine list -g myResourceGroup --cluster-name myAKSCluster --nodepool-name cvmnodepool \
        --query "length([?properties.status.nodeState=='Ready'])" -o tsv)
[ "$ready" = 3 ] || { echo "demo: expected 3 Ready nodes, got $ready" >&2; exit 1; }
released=$(grep -c '"allowed"' "$STATE/stack/kbs-audit.jsonl" || true)
echo; echo "-- key broker audit: $released disk-key releases allowed, each to an attested node's TEE key"
luks=0
for d in "$STATE"/stack/cp/local/nodes/*cvmnodepool*; do
  [ "$(head -c 4 "$d/disk.img")" = LUKS ] && luks=$((luks + 1))
done
echo "   cvmnodepool OS disks in LUKS2 format: $luks of 3"
[ "$luks" = 3 ]
[ "$released" -ge 3 ]
# Intel TDX beside SEV-SNP (issue 16): DCesv5 is behind ConfidentialTDXPreview
echo; echo "\$ confpool aks nodepool add ... --name tdxnodepool --node-vm-size Standard_DC4es_v5   (refused: the preview is not registered)"
"$BIN/confpool" aks nodepool add -g myResourceGroup --cluster-name myAKSCluster --name tdxnodepool \
    --node-count 2 --node-vm-size Standard_DC4es_v5 -o none && { echo "demo: TDX pool accepted before the feature" >&2; exit 1; } || true
run feature register --namespace Microsoft.ContainerService --name ConfidentialTDXPreview -o table
for _ in $(seq 1 100); do
  st=$("$BIN/confpool" feature show --namespace Microsoft.ContainerService --name ConfidentialTDXPreview \
       --query properties.state -o tsv)
  [ "$st" = Registered ] && break
  sleep 0.1
done
run aks nodepool add -g myResourceGroup --cluster-name myAKSCluster --name tdxnodepool \
    --node-count 2 --node-vm-size Standard_DC4es_v5 -o table
run aks machine list -g myResourceGroup --cluster-name myAKSCluster --nodepool-name tdxnodepool -o table
tdxfirst=$("$BIN/confpool" aks machine list -g myResourceGroup --cluster-name myAKSCluster --nodepool-name tdxnodepool \
        --query '[0].name' -o tsv)
run aks machine show -g myResourceGroup --cluster-name myAKSCluster --nodepool-name tdxnodepool \
    --machine-name "$tdxfirst" --query 'properties.attestation.{tee:tee, host:host, tdx:tdx}'
echo; echo "-- both kinds of confidential nodes, attested with their own evidence"
for p in cvmnodepool tdxnodepool; do
  "$BIN/confpool" aks machine list -g myResourceGroup --cluster-name myAKSCluster --nodepool-name "$p" \
      --query "[].{name:name, state:properties.status.nodeState, tee:properties.attestation.tee, host:properties.attestation.host, tcb:properties.attestation.reportedTcb}" -o tsv
done
tdxready=$("$BIN/confpool" aks machine list -g myResourceGroup --cluster-name myAKSCluster --nodepool-name tdxnodepool \
        --query "length([?properties.status.nodeState=='Ready' && properties.attestation.tdx.tcbStatus=='UpToDate'])" -o tsv)
[ "$tdxready" = 2 ] || { echo "demo: expected 2 Ready attested TDX nodes, got $tdxready" >&2; exit 1; }
echo; echo "\$ confpool aks nodepool add ... --node-vm-size Standard_DC4as_v5 --enable-fips-image   (refused: FIPS is not available on CVM pools)"
"$BIN/confpool" aks nodepool add -g myResourceGroup --cluster-name myAKSCluster --name fipspool \
    --node-count 1 --node-vm-size Standard_DC4as_v5 --enable-fips-image -o none || true
run aks nodepool delete -g myResourceGroup --cluster-name myAKSCluster --name cvmnodepool
run aks nodepool list -g myResourceGroup --cluster-name myAKSCluster -o table
nodes=$(ls "$STATE/stack/cp/local/nodes" | grep -c cvmnodepool || true)
echo; echo "-- node directories of cvmnodepool left after delete: $nodes; disk keys crypto-erased in the broker:" \
     "$(grep -c 'disk-crypto-erase' "$STATE/stack/kbs-audit.jsonl" || true) audit entries"
[ "$nodes" = 0 ]
echo
ms=$(( ($(date +%s%N) - T0) / 1000000 ))
printf '== scenario done in %d.%03d s; stopping the stack\n' $((ms / 1000)) $((ms % 1000))
echo "\$ confpool down --state-dir $STATE/stack"
