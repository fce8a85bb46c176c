#!/usr/bin/env bash
# The real Azure CLI (Debian's azure-cli 2.45) against the embedded stack
# (`confpool up`: local backend, real agents, swtpm, attestation, disk
# keys), set up by `confpool az-setup --run` with no other argument: az
# aks create, the seed document's nodepool add / show / list, 3 Ready
# attested nodes; az aks show / list -o table (which crashed on a cluster
# without servicePrincipalProfile); three refused CVM combinations printed
# in full; --no-wait and wait; az aks scale (the pool's count really
# changes, the new node attested); get-versions, get-upgrades,
# get-credentials (user and admin kubeconfigs, refused to another
# principal), update, upgrade (control plane and pools); nodepool stop
# (kept stopped across down/up) and start, aks stop and start: the same
# machines, attested again, no disk erased; `confpool down` + `confpool up`:
# az keeps working without new setup; nodepool delete.
set -uo pipefail
command -v az >/dev/null || { echo "SKIP: az (azure-cli) is not installed; run scripts/install-deps.sh check"; [ "${CP_TEST_NO_SKIP:-}" = 1 ] && exit 1; exit 77; }
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

# three refused CVM combinations, printed by az in full (code and message); nothing created
for combo in "cvmwin --os-type Windows:CVMWindowsNotSupported" "cvmfips --enable-fips-image:CVMNotSupportedWithFIPS" \
             "cvmeph --node-osdisk-type Ephemeral:CVMEphemeralOSDiskNotSupported"; do
        args=${combo%%:*} code=${combo##*:}
        # shellcheck disable=SC2086
        out=$(az aks nodepool add -g rg1 --cluster-name c1 --name $args --node-vm-size Standard_DC4as_v5 2>&1) \
                && fail "accepted: $args"
        [[ "$out" == *"($code)"* && "$out" == *"Code: $code"* && "$out" == *"Message: "* ]] || fail "$args: $out"
        msg=${out##*Message: }
        [ "${#msg}" -gt 30 ] || fail "$args: message cut: $out"
done
# --no-wait, then wait
az aks nodepool add -g rg1 --cluster-name c1 -n nowait --node-count 1 -s Standard_DC4as_v5 --no-wait -o none \
        || fail "nodepool add --no-wait"
az aks nodepool wait -g rg1 --cluster-name c1 -n nowait --created --timeout 120 || fail "nodepool wait --created"
[ "$(az aks nodepool show -g rg1 --cluster-name c1 -n nowait --query provisioningState -o tsv)" = Succeeded ] \
        || fail "nowait pool"
az aks nodepool delete -g rg1 --cluster-name c1 -n nowait --no-wait -o none || fail "nodepool delete --no-wait"
az aks nodepool wait -g rg1 --cluster-name c1 -n nowait --deleted --timeout 120 || fail "nodepool wait --deleted"
[ "$(az aks nodepool list -g rg1 --cluster-name c1 --query "length(@)" -o tsv)" = 2 ] || fail "pools after the wait"

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

# versions, upgrades, credentials, update
az aks get-versions -l eastus -o table >"$T/versions" 2>&1 || fail "az aks get-versions: $(cat "$T/versions")"
grep -q '^1.33.2 *1.34.1' "$T/versions" || fail "get-versions table: $(cat "$T/versions")"
[ "$(az aks get-upgrades -g rg1 -n c1 --query "controlPlaneProfile.upgrades[].kubernetesVersion" -o tsv)" = 1.34.1 ] \
        || fail "az aks get-upgrades"
az aks get-credentials -g rg1 -n c1 -f "$T/kc" -o none || fail "az aks get-credentials"
az aks get-credentials -g rg1 -n c1 --admin -f "$T/kca" -o none || fail "az aks get-credentials --admin"
python3 - "$T/kc" "$T/kca" "$S/cp/ca.pem" <<'PY' || fail "kubeconfig"
import base64, sys
def load(path):  # the block-style YAML az writes: key/value lines, two-space indents
    return open(path).read()
user, admin, ca = load(sys.argv[1]), load(sys.argv[2]), open(sys.argv[3]).read()
for kc, ctx in ((user, "c1"), (admin, "c1-admin")):
    assert "apiVersion: v1" in kc and "kind: Config" in kc, kc
    # the cluster's Kubernetes API on confpoold (docs/kubernetes.md)
    assert "server: https://localhost:" in kc and "/k8s/" in kc, kc
    assert "current-context: " + ctx in kc, kc
    cad = [l.split(": ", 1)[1] for l in kc.splitlines() if "certificate-authority-data:" in l][0]
    assert base64.b64decode(cad).decode() == ca, "CA"
tok = lambda kc: [l.split(": ", 1)[1] for l in kc.splitlines() if l.strip().startswith("token:")][0]
assert len(tok(user)) == 64 and tok(user) != tok(admin), "tokens"
PY
az aks update -g rg1 -n c1 --tags env=test -o none || fail "az aks update"
[ "$(az aks show -g rg1 -n c1 --query tags.env -o tsv)" = test ] || fail "tags after update"
# another principal (its own subscription) gets no credential of this cluster
O=$("$BIN/confpoold" sp create --state-dir "$S/cp" --name other --subscription 0b5e6c1a-9d2f-4e37-8a41-5c2d7e9f1a3b) \
        || fail "sp create"
python3 -c 'import json,sys; print(json.load(sys.stdin)["password"])' <<<"$O" >"$T/other.secret"
OAPP=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["appId"])' <<<"$O")
AZURE_CONFIG_DIR=$T/azure2 cp_ az-setup --app-id "$OAPP" --secret-file "$T/other.secret" --run >/dev/null 2>&1 \
        || fail "az-setup for the other principal"
out=$(AZURE_CONFIG_DIR=$T/azure2 az aks get-credentials --subscription "$SUB" -g rg1 -n c1 -f "$T/stolen" 2>&1) \
        && fail "another principal got the cluster's credentials"
[[ "$out" == *AuthorizationFailed* || "$out" == *"not found"* || "$out" == *NotFound* ]] || fail "refusal: $out"
[ ! -s "$T/stolen" ] || fail "a kubeconfig was written for another principal"
# the control plane, then the pools
az aks upgrade -g rg1 -n c1 -k 1.34.1 --yes -o none || fail "az aks upgrade"
[ "$(az aks show -g rg1 -n c1 --query currentKubernetesVersion -o tsv)" = 1.34.1 ] || fail "upgrade: control plane"
[ "$(az aks nodepool show -g rg1 --cluster-name c1 -n cvmpool --query currentOrchestratorVersion -o tsv)" = 1.34.1 ] \
        || fail "upgrade: pool"
for _ in $(seq 120); do n=$(ready); [ "$n" = 4 ] && break; sleep 0.25; done
[ "$n" = 4 ] || fail "after az aks upgrade: $n attested Ready machines"

# stop / start keep the nodes and their disks: a stopped pool across down/up
states() { cp_ aks machine list --subscription "$SUB" -g rg1 --cluster-name c1 --nodepool-name cvmpool \
        --query "[].properties.status.nodeState" -o tsv | sort -u | tr '\n' ' '; }
names() { cp_ aks machine list --subscription "$SUB" -g rg1 --cluster-name c1 --nodepool-name cvmpool \
        --query "[].name" -o tsv | sort | tr '\n' ' '; }
N0=$(names)
# OS disks' crypto-erases (a node's Kubernetes bootstrap key, k8sboot-*, is renewed at
# every registration, docs/kubernetes.md, so its erases are not counted)
os_erases() { grep '"op":"disk-crypto-erase"' "$S/kbs-audit.jsonl" | grep -vc '"k8sboot-'; }
E0=$(os_erases)
cvm_agents() { pgrep -af "confpool-agent --node-dir $S/cp/local/nodes/.*aks-cvmpool"; }
az aks nodepool stop -g rg1 --cluster-name c1 -n cvmpool -o none || fail "az aks nodepool stop"
[ "$(states)" = "Stopped " ] || fail "after nodepool stop: $(states)"
for _ in $(seq 20); do [ -z "$(cvm_agents)" ] && break; sleep 0.1; done
[ -z "$(cvm_agents)" ] || fail "agents left after stop: $(cvm_agents)"
cp_ down >/dev/null && cp_ up >/dev/null 2>&1 || fail "down/up of a stopped pool"
sleep 1
[ "$(states)" = "Stopped " ] || fail "stopped pool after down/up: $(states)"
[ -z "$(cvm_agents)" ] || fail "a stopped node was booted: $(cvm_agents)"
az aks nodepool start -g rg1 --cluster-name c1 -n cvmpool -o none || fail "az aks nodepool start"
for _ in $(seq 120); do n=$(ready); [ "$n" = 4 ] && break; sleep 0.25; done
[ "$n" = 4 ] || fail "after nodepool start: $n attested Ready machines"
az aks stop -g rg1 -n c1 -o none || fail "az aks stop"
[ "$(az aks show -g rg1 -n c1 --query powerState.code -o tsv)" = Stopped ] || fail "cluster powerState"
[ "$(states)" = "Stopped " ] || fail "after az aks stop: $(states)"
az aks start -g rg1 -n c1 -o none || fail "az aks start"
for _ in $(seq 120); do n=$(ready); [ "$n" = 4 ] && break; sleep 0.25; done
[ "$n" = 4 ] || fail "after az aks start: $n attested Ready machines"
[ "$(names)" = "$N0" ] || fail "machines changed across stop/start: $(names), were $N0"
[ "$(os_erases)" = "$E0" ] || fail "disks erased by stop/start"

# down / up: az keeps working without new setup
cp_ down >/dev/null || fail "down"
cp_ up >/dev/null 2>&1 || fail "up again"
[ "$(az aks show -g rg1 -n c1 --query provisioningState -o tsv)" = Succeeded ] || fail "az after down/up"
for _ in $(seq 120); do n=$(ready); [ "$n" = 4 ] && break; sleep 0.25; done
[ "$n" = 4 ] || fail "after down/up: $n attested Ready machines"

az aks nodepool delete -g rg1 --cluster-name c1 -n cvmpool -o none || fail "az aks nodepool delete"
[ "$(az aks nodepool list -g rg1 --cluster-name c1 --query "length(@)" -o tsv)" = 1 ] || fail "after delete"
echo ok
