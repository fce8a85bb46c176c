#!/usr/bin/env bash
# The real Azure CLI (Debian's azure-cli 2.45) against confpoold over TLS:
# `confpool az-setup --run` (cloud register / set, service-principal login),
# az group / aks create, the seed document's nodepool add / show / list /
# scale / delete, feature and provider registration, refused CVM
# combinations printed by az in full, and refused credentials (wrong secret,
# expired token, token signed by another key, no token) shown by az as 401s.
# confpoold runs the fake backend (--backend fake, a test backend: node pools
# are records that turn Ready after readyDelayMs, no machine, nothing
# attested): this tests az against the API, not confidential nodes.
# Installs nothing: scripts/install-deps.sh check installs azure-cli.
set -uo pipefail
command -v az >/dev/null || { echo "SKIP: az (azure-cli) is not installed; run scripts/install-deps.sh check"; [ "${CP_TEST_NO_SKIP:-}" = 1 ] && exit 1; exit 77; }
for t in curl jq openssl; do command -v $t >/dev/null || { echo "$t is required (scripts/install-deps.sh check)"; exit 1; }; done
BIN=${CP_BIN_DIR:?}
TMP=$(mktemp -d)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
pass=0
fail=0
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
expect() { # name want got
  if [ "$2" = "$3" ]; then pass=$((pass + 1)); else bad "$1: got '$3', expected '$2'"; fi
}
contains() { # name needle haystack
  if [[ "$3" == *"$2"* ]]; then pass=$((pass + 1)); else bad "$1: '$2' not in: $3"; fi
}

# az state, ssh keys (az aks create --generate-ssh-keys) and telemetry stay in TMP
export HOME=$TMP/home AZURE_CONFIG_DIR=$TMP/azure AZURE_CORE_COLLECT_TELEMETRY=0 AZURE_CORE_NO_COLOR=1
export AZURE_CORE_ONLY_SHOW_ERRORS=1
mkdir -p "$HOME"
cat >"$TMP/config.json" <<'JSON'
{"fakeBackend": {"readyDelayMs": 200}, "retryAfterSeconds": 1, "featureRegistrationDelayMs": 0}
JSON
SP=$("$BIN/confpoold" sp create --state-dir "$TMP/state" --name ci-deployer) || { echo "sp create failed"; exit 1; }
APP=$(jq -r .appId <<<"$SP")
SECRET=$(jq -r .password <<<"$SP")
TENANT=$(jq -r .tenant <<<"$SP")
SUB=$(jq -r .subscription <<<"$SP")
expect "secret not stored in clear" 0 "$(grep -ac "$SECRET" "$TMP/state/confpoold.db")"

"$BIN/confpoold" --state-dir "$TMP/state" --backend fake --tls --config "$TMP/config.json" --port-file "$TMP/port" \
  --reconcile-interval-ms 50 >"$TMP/log" 2>&1 &
PID=$!
for _ in $(seq 100); do [ -s "$TMP/state/confpoold.url" ] && [ -s "$TMP/port" ] && break; sleep 0.05; done
[ -s "$TMP/port" ] || { echo "confpoold did not start"; cat "$TMP/log"; exit 1; }
URL=$(cat "$TMP/state/confpoold.url")
PORT=$(cat "$TMP/port")
expect "url" "https://localhost:$PORT" "$URL"
expect "CA verifies the server chain" "OK" \
  "$(openssl verify -CAfile "$TMP/state/ca.pem" <(openssl x509 -in "$TMP/state/tls-cert.pem") 2>&1 | sed 's/.*: //')"

# ---- cloud register / set / login through confpool az-setup --run ----
printf '%s\n' "$SECRET" >"$TMP/secret"
out=$("$BIN/confpool" az-setup --state-dir "$TMP/state" --app-id "$APP" --secret-file "$TMP/secret" --run 2>&1)
contains "az-setup --run" "az now targets $URL" "$out"
export REQUESTS_CA_BUNDLE=$TMP/state/ca.pem
out=$(az account show --query "{sub:id, user:user.name, type:user.type, cloud:environmentName}" -o tsv 2>&1)
expect "az account show" "$SUB	$APP	servicePrincipal	confpool" "$out"

# ---- resources ----
out=$(az group create -n myResourceGroup -l eastus --query properties.provisioningState -o tsv 2>&1)
expect "az group create" "Succeeded" "$out"
out=$(az aks create -g myResourceGroup -n myAKSCluster --node-count 1 --generate-ssh-keys \
  --query "[provisioningState, agentPoolProfiles[0].name]" -o tsv 2>&1)
expect "az aks create" "Succeeded
nodepool1" "$out"

out=$(az feature register --namespace Microsoft.ContainerService --name AzureLinuxCVMPreview \
  --query "[name, properties.state]" -o tsv 2>&1)
expect "az feature register" "Microsoft.ContainerService/AzureLinuxCVMPreview
Registering" "$out"
out=$(az feature show --namespace Microsoft.ContainerService --name AzureLinuxCVMPreview --query properties.state -o tsv 2>&1)
expect "az feature show" "Registered" "$out"
out=$(az provider register --namespace Microsoft.ContainerService 2>&1)
expect "az provider register" "" "$out"
out=$(az provider show -n Microsoft.ContainerService --query registrationState -o tsv 2>&1)
expect "az provider show" "Registered" "$out"

# ---- the seed scenario ----
out=$(az aks nodepool add -g myResourceGroup --cluster-name myAKSCluster --name cvmnodepool \
  --node-count 3 --node-vm-size Standard_DC4as_v5 --query "[provisioningState, count, vmSize]" -o tsv 2>&1)
expect "az aks nodepool add" "Succeeded
3
Standard_DC4as_v5" "$out"
out=$(az aks nodepool show -g myResourceGroup --cluster-name myAKSCluster --name cvmnodepool --query vmSize 2>&1)
expect "az aks nodepool show --query vmSize" '"Standard_DC4as_v5"' "$out"
out=$(az aks nodepool list -g myResourceGroup --cluster-name myAKSCluster -o table 2>&1)
contains "nodepool list header" "Name" "$out"
row=$(grep '^cvmnodepool ' <<<"$out")
contains "nodepool list row" "Standard_DC4as_v5" "$row"
contains "nodepool list row state" "Succeeded" "$row"
expect "nodepool list rows" 2 "$(grep -cE '^(nodepool1|cvmnodepool) ' <<<"$out")"
out=$(az aks nodepool scale -g myResourceGroup --cluster-name myAKSCluster --name cvmnodepool --node-count 2 \
  --query "[provisioningState, count]" -o tsv 2>&1)
expect "az aks nodepool scale" "Succeeded
2" "$out"
# systemData names the service principal (an Application)
out=$(curl -s --cacert "$TMP/state/ca.pem" -H "Authorization: Bearer $(cat "$TMP/state/operator.token")" \
  "$URL/subscriptions/$SUB/resourceGroups/myResourceGroup/providers/Microsoft.ContainerService/managedClusters/myAKSCluster/agentPools/cvmnodepool?api-version=2026-01-01" |
  jq -r '[.systemData.createdBy, .systemData.createdByType, .properties.count] | join(" ")')
expect "systemData (2026-01-01)" "$APP Application 2" "$out"

# ---- refused CVM combinations: az prints code and message ----
out=$(az aks nodepool add -g myResourceGroup --cluster-name myAKSCluster --name cvmwin --os-type Windows \
  --node-vm-size Standard_DC4as_v5 2>&1)
contains "CVM + Windows code" "(CVMWindowsNotSupported)" "$out"
contains "CVM + Windows message" "Code: CVMWindowsNotSupported" "$out"
out=$(az aks nodepool add -g myResourceGroup --cluster-name myAKSCluster --name cvmfips --enable-fips-image \
  --node-vm-size Standard_DC4as_v5 2>&1)
contains "CVM + FIPS" "(CVMNotSupportedWithFIPS)" "$out"
out=$(az aks nodepool add -g myResourceGroup --cluster-name myAKSCluster --name cvmeph --node-osdisk-type Ephemeral \
  --node-vm-size Standard_DC4as_v5 2>&1)
contains "CVM + ephemeral OS disk" "(CVMEphemeralOSDiskNotSupported)" "$out"

out=$(az aks nodepool delete -g myResourceGroup --cluster-name myAKSCluster --name cvmnodepool 2>&1)
expect "az aks nodepool delete" "" "$out"
out=$(az aks nodepool list -g myResourceGroup --cluster-name myAKSCluster --query "[].name" -o tsv 2>&1)
expect "nodepool list after delete" "nodepool1" "$out"

# ---- refused credentials ----
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
jwt() { # key claims-json
  local kid h p
  kid=$(curl -s --cacert "$TMP/state/ca.pem" "$URL/adfs/discovery/keys" | jq -r '.keys[0].kid')
  h=$(printf '{"alg":"RS256","typ":"JWT","kid":"%s"}' "$kid" | b64url)
  p=$(printf '%s' "$2" | b64url)
  printf '%s.%s.%s' "$h" "$p" "$(printf '%s.%s' "$h" "$p" | openssl dgst -sha256 -sign "$1" -binary | b64url)"
}
now=$(date +%s)
claims() { # exp
  printf '{"aud":"%s/","iss":"%s/adfs","sub":"%s","appid":"%s","tid":"%s","iat":%d,"nbf":%d,"exp":%d}' \
    "$URL" "$URL" "$APP" "$APP" "$TENANT" $((now - 7200)) $((now - 7200)) "$1"
}
LIST="$URL/subscriptions/$SUB/resourceGroups/myResourceGroup/providers/Microsoft.ContainerService/managedClusters/myAKSCluster/agentPools?api-version=2022-11-01"
# the same claims, valid: proves the forged tokens differ only in what is tested
good=$(jwt "$TMP/state/aad-signing-key.pem" "$(claims $((now + 600)))")
out=$(az rest --method get --url "$LIST" --headers "Authorization=Bearer $good" --query "value[].name" -o tsv 2>&1)
expect "hand-made valid token" "nodepool1" "$out"
expired=$(jwt "$TMP/state/aad-signing-key.pem" "$(claims $((now - 3600)))")
out=$(az rest --method get --url "$LIST" --headers "Authorization=Bearer $expired" 2>&1)
contains "expired token: 401" "Unauthorized" "$out"
contains "expired token: code" "ExpiredAuthenticationToken" "$out"
openssl genrsa -out "$TMP/foreign.pem" 2048 2>/dev/null
foreign=$(jwt "$TMP/foreign.pem" "$(claims $((now + 600)))")
out=$(az rest --method get --url "$LIST" --headers "Authorization=Bearer $foreign" 2>&1)
contains "foreign token: 401" "Unauthorized" "$out"
contains "foreign token: code" "InvalidAuthenticationToken" "$out"
out=$(az rest --method get --url "$LIST" --skip-authorization-header 2>&1)
contains "no token: 401" "Unauthorized" "$out"
contains "no token: code" "AuthenticationFailed" "$out"
out=$(az login --service-principal -u "$APP" -p "cps_wrong$SECRET" --tenant adfs -o none 2>&1)
contains "wrong secret refused" "Invalid client secret provided" "$out"
grep -q "$SECRET" "$TMP/log" && bad "the secret appears in the daemon log"
contains "audit line names the principal" "principal=$APP (ci-deployer) PUT /subscriptions/$SUB/resourceGroups/myResourceGroup/providers/Microsoft.ContainerService/managedClusters/myAKSCluster/agentPools/cvmnodepool -> 201" "$(cat "$TMP/log")"
contains "audit line for the expired token" "bad access token (CP_EEXPIRED)" "$(cat "$TMP/log")"

echo "az-real: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
