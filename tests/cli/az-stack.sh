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
# principal), update; enable-addons / disable-addons; the OIDC issuer
# (enabled, discovery + JWKS, rotate-signing-keys); rotate-certs (the
# kubeconfig's token changes, the nodes run on); command invoke refused
# naming why; nodepool upgrade -k (the pool's node replaced by one built
# with the version); upgrade (control plane, then every pool: every node
# replaced by an attested one built with the new version); nodepool stop
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
# add-ons: stored and returned as AKS does (the identity AKS adds), then disabled
az aks enable-addons -g rg1 -n c1 -a azure-keyvault-secrets-provider --enable-secret-rotation -o none \
        || fail "az aks enable-addons"
ad() { az aks show -g rg1 -n c1 --query "addonProfiles.azureKeyvaultSecretsProvider.$1" -o tsv; }
[ "$(ad enabled)" = true ] && [ "$(ad config.enableSecretRotation)" = true ] || fail "addon enabled: $(ad enabled)"
[[ "$(ad identity.resourceId)" == */userAssignedIdentities/azurekeyvaultsecretsprovider-c1 ]] || fail "addon identity"
az aks disable-addons -g rg1 -n c1 -a azure-keyvault-secrets-provider -o none || fail "az aks disable-addons"
[ "$(ad enabled)" = false ] && [ -z "$(ad identity)" ] || fail "addon disabled: $(ad enabled)"

# rotate-certs: kubeconfigs fetched before carry a token that is no longer the cluster's; nodes run on
mnames() { cp_ aks machine list --subscription "$SUB" -g rg1 --cluster-name c1 --nodepool-name "$1" \
        --query "[].name" -o tsv | sort | tr '\n' ' '; }
N0=$(mnames cvmpool)
az aks rotate-certs -g rg1 -n c1 --yes -o none || fail "az aks rotate-certs"
az aks get-credentials -g rg1 -n c1 -f "$T/kc2" -o none || fail "get-credentials after rotate-certs"
tok() { sed -n 's/^ *token: //p' "$1"; }
[ -n "$(tok "$T/kc2")" ] && [ "$(tok "$T/kc2")" != "$(tok "$T/kc")" ] || fail "rotate-certs: the token did not change"
[ "$(mnames cvmpool)" = "$N0" ] && [ "$(ready)" = 4 ] || fail "rotate-certs touched the nodes: $(mnames cvmpool)"
# the OIDC issuer: enabled, discovery and JWKS served (no credential), signing key rotated
az aks update -g rg1 -n c1 --enable-oidc-issuer -o none || fail "az aks update --enable-oidc-issuer"
ISS=$(az aks show -g rg1 -n c1 -o json | python3 -c 'import json,sys; p=json.load(sys.stdin)["oidcIssuerProfile"]; print(p.get("issuerUrl") or p.get("issuerURL"))')
[[ "$ISS" == https://localhost:*/oidc/*/ ]] || fail "issuer URL '$ISS'"
kids() { curl -sf --cacert "$S/cp/ca.pem" "${ISS}openid/v1/jwks" | python3 -c 'import json,sys; print(" ".join(k["kid"] for k in json.load(sys.stdin)["keys"]))'; }
[ "$(curl -sf --cacert "$S/cp/ca.pem" "${ISS}.well-known/openid-configuration" | python3 -c 'import json,sys; print(json.load(sys.stdin)["issuer"])')" = "$ISS" ] \
        || fail "issuer discovery"
K1=$(kids)
[ -n "$K1" ] && [ "$(wc -w <<<"$K1")" = 1 ] || fail "JWKS: '$K1'"
az aks oidc-issuer rotate-signing-keys -g rg1 -n c1 --yes -o none || fail "az aks oidc-issuer rotate-signing-keys"
for _ in $(seq 40); do [ "$(wc -w <<<"$(kids)")" = 2 ] && break; sleep 0.25; done
[ "$(kids | cut -d' ' -f2)" = "$K1" ] && [ "$(kids | cut -d' ' -f1)" != "$K1" ] || fail "after rotation: $(kids), was $K1"
# command invoke: refused in full, naming why
out=$(az aks command invoke -g rg1 -n c1 -c "kubectl get pods" 2>&1) && fail "command invoke accepted"
[[ "$out" == *"runs no pods"* ]] || fail "command invoke: $out"

# nodepool upgrade -k: one pool, its node replaced by one built with the version
versions() { cp_ aks machine list --subscription "$SUB" -g rg1 --cluster-name c1 --nodepool-name "$1" \
        --query "[?properties.status.nodeState=='Ready' && properties.attestation.reason==''].properties.kubernetes.orchestratorVersion" \
        -o tsv | sort | uniq -c | tr -s ' ' | tr '\n' ' '; }
wait_versions() { for _ in $(seq 240); do [ "$(versions "$1")" = "$2" ] && return 0; sleep 0.25; done; return 1; }
az aks nodepool add -g rg1 --cluster-name c1 -n oldpool --node-count 1 -s Standard_DC4as_v5 -k 1.32.6 -o none \
        || fail "nodepool add -k 1.32.6"
wait_versions oldpool " 1 1.32.6 " || fail "oldpool: $(versions oldpool)"
O0=$(mnames oldpool)
# az 2.45's `aks nodepool upgrade -k` crashes in az before sending anything
# ('AgentPool' object has no attribute 'kubernetes_version', Azure/azure-cli#25530,
# fixed in 2.46): checked here, then the PUT it sends (GET the pool,
# orchestratorVersion set, PUT) is sent with az rest
out=$(az aks nodepool upgrade -g rg1 --cluster-name c1 -n oldpool -k 1.33.2 --yes 2>&1) \
        && fail "az 2.45 nodepool upgrade -k did not crash: the workaround below can go"
[[ "$out" == *"has no attribute 'kubernetes_version'"* ]] || fail "nodepool upgrade -k: $out"
PURL="/subscriptions/$SUB/resourceGroups/rg1/providers/Microsoft.ContainerService/managedClusters/c1/agentPools/oldpool?api-version=2022-11-01"
np_upgrade() { az rest --method get --url "$PURL" | python3 -c 'import json,sys; p=json.load(sys.stdin); p["properties"]["orchestratorVersion"]=sys.argv[1]; print(json.dumps({"properties":p["properties"]}))' "$1" >"$T/np.json" \
        && az rest --method put --url "$PURL" --body @"$T/np.json" -o none; }
out=$(np_upgrade 1.34.1 2>&1) && fail "a pool upgraded beyond the control plane"
[[ "$out" == *AgentPoolK8sVersionNotSupported* ]] || fail "nodepool upgrade to 1.34.1: $out"
np_upgrade 1.33.2 || fail "nodepool upgrade -k 1.33.2 (the PUT)"
wait_versions oldpool " 1 1.33.2 " || fail "after nodepool upgrade: $(versions oldpool)"
[ "$(mnames oldpool)" != "$O0" ] || fail "nodepool upgrade: the same machine $O0"

# the control plane, then every pool: every node replaced, count unchanged
# (cvmpool rolls 2 nodes at a time: its maxSurge set through az)
az aks nodepool update -g rg1 --cluster-name c1 -n cvmpool --max-surge 2 -o none || fail "nodepool update --max-surge"
[ "$(az aks nodepool show -g rg1 --cluster-name c1 -n cvmpool --query upgradeSettings.maxSurge -o tsv)" = 2 ] \
        || fail "maxSurge"
P0=$(mnames nodepool1)
az aks upgrade -g rg1 -n c1 -k 1.34.1 --yes -o none || fail "az aks upgrade"
[ "$(az aks show -g rg1 -n c1 --query currentKubernetesVersion -o tsv)" = 1.34.1 ] || fail "upgrade: control plane"
for p in nodepool1 cvmpool oldpool; do
        [ "$(az aks nodepool show -g rg1 --cluster-name c1 -n $p --query currentOrchestratorVersion -o tsv)" = 1.34.1 ] \
                || fail "upgrade: pool $p"
done
wait_versions cvmpool " 4 1.34.1 " || fail "after az aks upgrade: cvmpool $(versions cvmpool)"
wait_versions nodepool1 " 1 1.34.1 " || fail "after az aks upgrade: nodepool1 $(versions nodepool1)"
wait_versions oldpool " 1 1.34.1 " || fail "after az aks upgrade: oldpool $(versions oldpool)"
n=$(ready)
[ "$n" = 4 ] || fail "after az aks upgrade: $n attested Ready machines"
for m in $N0; do [[ " $(mnames cvmpool)" != *" $m "* ]] || fail "upgrade kept $m"; done
[ "$(mnames nodepool1)" != "$P0" ] || fail "upgrade: nodepool1 kept $P0"
az aks nodepool delete -g rg1 --cluster-name c1 -n oldpool -o none || fail "delete oldpool"

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
