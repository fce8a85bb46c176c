#!/usr/bin/env bash
# The seed document's scenario against the embedded stack: confpoold on
# loopback with SQLite in a state directory, driven by the confpool CLI with
# the commands of the document (az replaced by confpool). Stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=build/bin
STATE=$(mktemp -d /tmp/confpool-demo.XXXXXX)
cleanup() {
  [ -n "${CPD_PID:-}" ] && kill "$CPD_PID" 2>/dev/null && wait "$CPD_PID" 2>/dev/null
  rm -rf "$STATE"
}
trap cleanup EXIT
export CONFPOOL_CONFIG_DIR=$STATE/cli
"$BIN/confpoold" --state-dir "$STATE/cp" --port-file "$STATE/port" >"$STATE/confpoold.log" 2>&1 &
CPD_PID=$!
for _ in $(seq 50); do [ -s "$STATE/port" ] && break; sleep 0.1; done
PORT=$(cat "$STATE/port")
run() { echo; echo "\$ confpool $*"; "$BIN/confpool" "$@"; }
echo "== confpool demo: a confidential node pool (control plane on 127.0.0.1:$PORT, state in $STATE)"
"$BIN/confpool" login --endpoint "http://127.0.0.1:$PORT" --token-file "$STATE/cp/operator.token" -o none
run group create --name myResourceGroup --location eastus -o table
run aks create -g myResourceGroup -n myAKSCluster -s Standard_DC4as_v5 -o table
run aks nodepool add -g myResourceGroup --cluster-name myAKSCluster --name cvmnodepool \
    --node-count 3 --node-vm-size Standard_DC4as_v5 -o table
run aks nodepool show -g myResourceGroup --cluster-name myAKSCluster --name cvmnodepool --query 'vmSize'
run aks nodepool show -g myResourceGroup --cluster-name myAKSCluster --name cvmnodepool --query 'nodeImageVersion'
run aks nodepool list -g myResourceGroup --cluster-name myAKSCluster -o table
echo; echo "\$ confpool aks nodepool add ... --node-vm-size Standard_DC4as_v5 --enable-fips-image   (refused: FIPS is not available on CVM pools)"
"$BIN/confpool" aks nodepool add -g myResourceGroup --cluster-name myAKSCluster --name fipspool \
    --node-count 1 --node-vm-size Standard_DC4as_v5 --enable-fips-image -o none || true
run feature register --namespace Microsoft.ContainerService --name AzureLinuxCVMPreview -o table
run provider register --namespace Microsoft.ContainerService
run aks nodepool delete -g myResourceGroup --cluster-name myAKSCluster --name cvmnodepool
run aks nodepool list -g myResourceGroup --cluster-name myAKSCluster -o table
echo
echo "== done: stopping confpoold"
