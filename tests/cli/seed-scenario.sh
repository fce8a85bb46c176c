#!/usr/bin/env bash
# The use-cvm seed document (../shared/seeds) run verbatim with `az` replaced
# by `confpool` against a real confpoold binary on 127.0.0.1 with a temporary state
# directory: login, group create, aks create, nodepool add / show --query /
# list --query / list -o table / delete, feature register / show, provider
# register, plus a server-side CVM refusal and show's exit 3.  confpoold runs
# the fake backend (--backend fake, a test backend: node pools are records
# that turn Ready after readyDelayMs, no machine, nothing attested): this
# tests the az surface and the API, not confidential nodes (test-nodes and
# tests/cli/embedded-stack.sh run those on the local backend).
set -uo pipefail
D=${CP_BIN_DIR:?}/confpoold
confpool() { "${CP_BIN_DIR:?}/confpool" "$@"; }
command -v jq >/dev/null || { echo "jq is required (scripts/install-deps.sh)"; exit 1; }
TMP=$(mktemp -d)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
pass=0
fail=0
expect() { # name want got
  if [ "$2" = "$3" ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1: got '$3', expected '$2'"; fi
}
expect_match() { # name regex got
  if [[ "$3" =~ $2 ]]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1: '$3' does not match '$2'"; fi
}

echo '{"fakeBackend": {"readyDelayMs": 200}, "retryAfterSeconds": 1}' >"$TMP/config.json"
"$D" --state-dir "$TMP/state" --backend fake --config "$TMP/config.json" --port-file "$TMP/port" --reconcile-interval-ms 50 \
  >"$TMP/log" 2>&1 &
PID=$!
for _ in $(seq 100); do [ -s "$TMP/port" ] && break; sleep 0.05; done
[ -s "$TMP/port" ] || { echo "confpoold did not start"; cat "$TMP/log"; exit 1; }
export CONFPOOL_CONFIG_DIR=$TMP/cfg
export CONFPOOL_POLL_MAX_MS=500
unset CONFPOOL_ENDPOINT CONFPOOL_TOKEN CONFPOOL_TOKEN_FILE CONFPOOL_CA_FILE CONFPOOL_SUBSCRIPTION

confpool login --endpoint "http://127.0.0.1:$(cat "$TMP/port")" --token-file "$TMP/state/operator.token" -o none
expect "login" 0 $?
expect "config mode" 600 "$(stat -c %a "$TMP/cfg/config")"

out=$(confpool group create --name myResourceGroup --location eastus --query properties.provisioningState -o tsv)
expect "group create" "0 Succeeded" "$? $out"

out=$(confpool aks create --resource-group myResourceGroup --name myAKSCluster -s Standard_DC4as_v5 \
  --query '[provisioningState, agentPoolProfiles[0].vmSize]' -o tsv | tr '\n' ' ')
expect "aks create" "0 Succeeded Standard_DC4as_v5 " "$? $out"

# --- the seed document, verbatim ---
confpool aks nodepool add \
    --resource-group myResourceGroup \
    --cluster-name myAKSCluster \
    --name cvmnodepool \
    --node-count 3 \
    --node-vm-size Standard_DC4as_v5 >"$TMP/add.json" 2>"$TMP/add.err"
expect "nodepool add" 0 $?
expect "add prints the pool JSON" "Standard_DC4as_v5 3 Succeeded cvmnodepool" \
  "$(jq -r '[.vmSize, .count, .provisioningState, .name] | join(" ")' "$TMP/add.json")"
expect "add progress" "cvmnodepool: Succeeded, 3/3 nodes ready" "$(tail -1 "$TMP/add.err")"
expect "add progress start" "Running .." "$(head -1 "$TMP/add.err")"

out=$(confpool aks nodepool show \
    --resource-group myResourceGroup \
    --cluster-name myAKSCluster \
    --name cvmnodepool \
    --query 'vmSize')
expect "show --query vmSize" '0 "Standard_DC4as_v5"' "$? $out"

img=$(confpool aks nodepool list \
    --resource-group myResourceGroup \
    --cluster-name myAKSCluster \
    --name cvmnodepool \
    --query 'nodeImageVersion')
expect "list --query nodeImageVersion exit" 0 $?
expect_match "list --query nodeImageVersion" '^"AKS(Ubuntu-(2004|2404)(gen2CVM|cvm)containerd|AzureLinux-V3gen2CVM)-[0-9]{6}\.[0-9]{2}\.[0-9]+"$' "$img"

out=$(confpool aks nodepool show \
    --resource-group myResourceGroup \
    --cluster-name myAKSCluster \
    --name cvmnodepool \
    --query 'nodeImageVersion')
expect "show --query nodeImageVersion" "$img" "$out"

confpool aks nodepool list --resource-group myResourceGroup --cluster-name myAKSCluster -o table >"$TMP/table"
expect "table header" "Name         OsType    KubernetesVersion    VmSize             Count    MaxPods    ProvisioningState    Mode" \
  "$(head -1 "$TMP/table")"
expect_match "table row" '^cvmnodepool  Linux     1\.[0-9]+\.[0-9]+ +Standard_DC4as_v5  3        [0-9]+ +Succeeded            User$' \
  "$(grep '^cvmnodepool' "$TMP/table")"

# server-side CVM rule: the ARM error as az prints it
confpool aks nodepool add -g myResourceGroup --cluster-name myAKSCluster -n fipspool -s Standard_DC4as_v5 \
  --enable-fips-image >/dev/null 2>"$TMP/err"
expect "fips refused" 1 $?
expect "fips error line" "ERROR: (CVMNotSupportedWithFIPS)" "$(head -1 "$TMP/err" | cut -d' ' -f1-2)"
expect "fips code line" "Code: CVMNotSupportedWithFIPS" "$(sed -n 2p "$TMP/err")"

confpool aks nodepool delete \
    --resource-group myResourceGroup \
    --cluster-name myAKSCluster \
    --name cvmnodepool >"$TMP/del.out"
expect "nodepool delete" "0 " "$? $(cat "$TMP/del.out")"
confpool aks nodepool show --resource-group myResourceGroup --cluster-name myAKSCluster --name cvmnodepool \
  >/dev/null 2>"$TMP/err"
expect "show after delete exits 3" 3 $?

confpool feature register --namespace "Microsoft.ContainerService" --name "AzureLinuxCVMPreview" >"$TMP/f.json" 2>"$TMP/f.err"
expect "feature register" 0 $?
expect_match "feature register state" '^(Registering|Registered)$' "$(jq -r .properties.state "$TMP/f.json")"
expect "feature register name" "Microsoft.ContainerService/AzureLinuxCVMPreview" "$(jq -r .name "$TMP/f.json")"
expect "feature register warning" \
  "WARNING: Once the feature 'AzureLinuxCVMPreview' is registered, invoking 'confpool provider register -n Microsoft.ContainerService' is required to get the change propagated" \
  "$(cat "$TMP/f.err")"
for _ in $(seq 50); do
  st=$(confpool feature show --namespace Microsoft.ContainerService --name AzureLinuxCVMPreview --query properties.state -o tsv)
  [ "$st" = Registered ] && break
  sleep 0.1
done
expect "feature show" Registered "$st"

out=$(confpool provider register --namespace Microsoft.ContainerService)
expect "provider register" "0 " "$? $out"
out=$(confpool provider show -n Microsoft.ContainerService --query registrationState -o tsv)
expect_match "provider show" '^(Registering|Registered)$' "$out"

echo "seed scenario: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
