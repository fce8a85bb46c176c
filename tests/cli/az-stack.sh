#!/usr/bin/env bash
# The real Azure CLI (Debian's azure-cli 2.45) against the embedded stack
# (`confpool up`: local backend, real agents, swtpm, attestation, disk
# keys), set up by `confpool az-setup --run` with no other argument: az
# aks create, the seed document's nodepool add / show / list, 3 Ready
# attested nodes; az aks show / list -o table (which crashed on a cluster
# without servicePrincipalProfile); az aks scale (the pool's count really
# changes, the new node attested); `confpool down` + `confpool up`: az keeps
# working without new setup; az aks nodepool delete.
set -uo pipefail
command -v az >/dev/null || { echo "SKIP: az (azure-cli) is not installed; run scripts/install-deps.sh check"; exit 77; }
BIN=${CP_BIN_DIR:?}
T=$(mktemp -d /tmp/cp-azstack-XXXXXX)
export HOME=$T/home AZURE_CONFIG_DIR=$T/azure AZURE_CORE_COLLECT_TELEMETRY=0 AZURE_CORE_NO_COLOR=1
export AZURE_CORE_ONLY_SHOW_ERRORS=1 CONFPOOL_CONFIG_DIR=$T/cli
mkdir -p "$HOME"
S=$HOME/.confpool/stack
cleanup() { "$BIN/confpool" down >/dev/null 2>&1; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; tail -20 "$S/confpoold.log" >&2; exit 1; }
cp_() { "$BIN/confpool" "$@"; }

cp_ up >/dev/null 2>&1 || fail "up"
out=$(cp_ az-setup --run 2>&1) || fail "az-setup --run: $out"
[[ "$out" == *"az now targets https://localhost:"* ]] || fail "az-setup: $out"
[ "$(stat -c %a "$S/cp/az-sp.json")" = 600 ] || fail "az-sp.json mode"
export REQUESTS_CA_BUNDLE=$S/cp/ca.pem
SUB=$(az account show --query id -o tsv) || fail "az account show"
[ "$(az account show --query user.type -o tsv)" = servicePrincipal ] || fail "az login type"
# a second run reuses the principal
out=$(cp_ az-setup --run 2>&1) || fail "second az-setup --run: $out"
[ "$(grep -c '"appId"' "$S/cp/az-sp.json")" = 1 ] || fail "az-sp.json"

az group create -n rg1 -l eastus -o none || fail "az group create"
az aks create -g rg1 -n c1 -s Standard_DC4as_v5 -c 1 --generate-ssh-keys -o none || fail "az aks create"
az aks nodepool add -g rg1 --cluster-name c1 -n cvmpool --node-count 3 -s Standard_DC4as_v5 -o none \
        || fail "az aks nodepool add"
[ "$(az aks nodepool show -g rg1 --cluster-name c1 -n cvmpool --query vmSize -o tsv)" = Standard_DC4as_v5 ] \
        || fail "nodepool show vmSize"
img=$(az aks nodepool show -g rg1 --cluster-name c1 -n cvmpool --query nodeImageVersion -o tsv)
[[ "$img" == AKSUbuntu-2?04gen2CVMcontainerd-* ]] || fail "nodeImageVersion '$img'"
[ "$(az aks nodepool list -g rg1 --cluster-name c1 --query "length(@)" -o tsv)" = 2 ] || fail "nodepool list"
ready() { cp_ aks machine list --subscription "$SUB" -g rg1 --cluster-name c1 --nodepool-name cvmpool \
        --query "length([?properties.status.nodeState=='Ready' && properties.attestation.reason==''])" -o tsv; }
[ "$(ready)" = 3 ] || fail "attested Ready machines: $(ready)"

# everyday commands
[ "$(az aks show -g rg1 -n c1 --query provisioningState -o tsv)" = Succeeded ] || fail "az aks show"
[ "$(az aks show -g rg1 -n c1 --query servicePrincipalProfile.clientId -o tsv)" = msi ] || fail "servicePrincipalProfile"
[ "$(az aks show -g rg1 -n c1 --query identity.type -o tsv)" = SystemAssigned ] || fail "identity"
az aks list -o table >"$T/list" 2>&1 || fail "az aks list: $(cat "$T/list")"
grep -q "^c1 " "$T/list" || fail "az aks list -o table: $(cat "$T/list")"
az aks scale -g rg1 -n c1 --nodepool-name cvmpool --node-count 4 -o none || fail "az aks scale"
[ "$(az aks nodepool show -g rg1 --cluster-name c1 -n cvmpool --query count -o tsv)" = 4 ] || fail "scale: count"
n=
for _ in $(seq 120); do n=$(ready); [ "$n" = 4 ] && break; sleep 0.25; done
[ "$n" = 4 ] || fail "after az aks scale: $n attested Ready machines"

# down / up: az keeps working without new setup
cp_ down >/dev/null || fail "down"
cp_ up >/dev/null 2>&1 || fail "up again"
[ "$(az aks show -g rg1 -n c1 --query provisioningState -o tsv)" = Succeeded ] || fail "az after down/up"
for _ in $(seq 120); do n=$(ready); [ "$n" = 4 ] && break; sleep 0.25; done
[ "$n" = 4 ] || fail "after down/up: $n attested Ready machines"

az aks nodepool delete -g rg1 --cluster-name c1 -n cvmpool -o none || fail "az aks nodepool delete"
[ "$(az aks nodepool list -g rg1 --cluster-name c1 --query "length(@)" -o tsv)" = 1 ] || fail "after delete"
echo ok
