#!/bin/bash
# kubectl and python3-kubernetes against a cluster's Kubernetes API on the
# embedded stack (confpool up, local backend, real agents; docs/kubernetes.md):
# get-credentials (user, then --admin merged into the same file), nodes of the
# CVM pools listed Ready by the AKS security-type label, -o wide, describe,
# label (a reserved label refused), cordon/uncordon, taint, leases renewed by
# heartbeats, 401/403/404 Status objects, a user's delete refused and an
# admin's accepted (the node registers again at its next heartbeat), a watch
# (kubectl get -w and python's watch) that sees a failed re-attestation
# (NotReady + the attestation taint) and the replacement, and the pool's
# delete removing its Nodes; the agents' kubelet client certificates (the attested join),
# their own Lease renewals and Node heartbeats over mTLS, a node certificate refused
# what the Node authorizer does not allow (curl --cert), and the certificates' rotation
# (the stack signs them for 60 s: each agent renews at 70-90 % of that with its current
# certificate, the old one is refused once the new one is used, the node stays Ready), then a
# kill -9 of confpoold and `confpool up`: the node adopted, Ready, its certificate and the
# kubeconfig still working.
set -u
BIN=${CP_BIN_DIR:?}
. "$(dirname "$0")/lib/kubectl.sh"
kubectl_stack cp-kubectl
fail() { echo "FAIL: $*" >&2; exit 1; }

"$BIN/confpool" up --state-dir "$T/s" --cluster-signing-duration 60s >"$T/up.out" 2>&1 || { cat "$T/up.out"; fail "up"; }
C=(-g rg1 --cluster-name c1)
"$BIN/confpool" group create -n rg1 -l eastus -o none || fail "group create"
"$BIN/confpool" aks create -g rg1 -n c1 -s Standard_DC4as_v5 -c 1 -o none || fail "aks create"
"$BIN/confpool" aks nodepool add "${C[@]}" -n cvm --node-count 2 -s Standard_DC2as_v5 -o none || fail "nodepool add"

# credentials: user, then admin merged into the same file (two contexts)
"$BIN/confpool" aks get-credentials -g rg1 -n c1 --file "$T/kc" >"$T/gc.out" || fail "get-credentials"
grep -q "Merged \"c1\" as current context in $T/kc" "$T/gc.out" || fail "get-credentials output: $(cat "$T/gc.out")"
"$BIN/confpool" aks get-credentials -g rg1 -n c1 --admin --file "$T/kc" >/dev/null || fail "get-credentials --admin"
[ "$(k config get-contexts -o name | sort | tr '\n' ' ')" = "c1 c1-admin " ] || fail "contexts: $(k config get-contexts)"
k config use-context c1 >/dev/null || fail "use-context"
grep -q "server: https://localhost:$(cat "$T/s/confpoold.port")/k8s/" "$T/kc" || fail "server URL: $(grep server "$T/kc")"

# the 3 CVM nodes, Ready, by the label AKS sets
out=$(k get nodes -l kubernetes.azure.com/security-type=ConfidentialVM --no-headers) || fail "get nodes -l"
[ "$(echo "$out" | grep -c ' Ready ')" = 3 ] || fail "3 Ready CVM nodes: $out"
[ -z "$(k get nodes -l kubernetes.azure.com/agentpool=nosuch --no-headers 2>/dev/null)" ] || fail "selector matched nothing"
[ "$(k get nodes -l 'kubernetes.azure.com/agentpool in (cvm)' --no-headers | wc -l)" = 2 ] || fail "set selector"
k get nodes -o wide >"$T/wide" || fail "-o wide"
head -1 "$T/wide" | grep -Eq '^NAME +STATUS +ROLES +AGE +VERSION +INTERNAL-IP +EXTERNAL-IP +OS-IMAGE +KERNEL-VERSION +CONTAINER-RUNTIME$' \
        || fail "wide header: $(head -1 "$T/wide")"
grep -q 'Ready *agent .* v1\.[0-9]*\.[0-9]* *127\.0\.0\.1 .*containerd://' "$T/wide" || fail "wide rows: $(cat "$T/wide")"
N=$(k get nodes -l kubernetes.azure.com/agentpool=cvm -o jsonpath='{.items[0].metadata.name}')
k describe node "$N" >"$T/desc" || fail "describe"
for want in "kubernetes.azure.com/security-type=ConfidentialVM" "kubernetes.azure.com/attestation-tcb: bl=4,tee=0,snp=22,ucode=213" \
            "HolderIdentity:  $N" "RegisteredNode" "memory:"; do
        grep -qF -- "$want" "$T/desc" || fail "describe lacks '$want': $(cat "$T/desc")"
done

# the attested join: each agent released its bootstrap token from the key broker and
# holds a kubelet client certificate of the cluster CA for its own name
CA=$T/s/cp/ca.pem
for d in "$T"/s/cp/local/nodes/*/; do
        nn=$(basename "$d" | cut -d- -f2-)
        pair=$d/kubelet-client-current.pem
        openssl verify -CAfile "$CA" "$pair" >/dev/null || fail "kubelet cert of $nn"
        [ "$(openssl x509 -in "$pair" -noout -subject)" = "subject=O = system:nodes, CN = system:node:$nn" ] \
                || fail "kubelet cert subject of $nn: $(openssl x509 -in "$pair" -noout -subject)"
        openssl pkey -in "$pair" -noout 2>/dev/null || fail "kubelet key of $nn not beside its certificate"
        [ "$(stat -c %a "$pair")" = 600 ] || fail "kubelet key mode"
        # valid for the stack's --cluster-signing-duration (60 s), backdated a tenth of it
        nb=$(date -d "$(openssl x509 -in "$pair" -noout -startdate | cut -d= -f2)" +%s)
        na=$(date -d "$(openssl x509 -in "$pair" -noout -enddate | cut -d= -f2)" +%s)
        [ $((na - nb)) = 66 ] || fail "kubelet cert lifetime of $nn: $((na - nb)) s"
done
SYS=$(k get nodes -l kubernetes.azure.com/mode=system -o jsonpath='{.items[0].metadata.name}')
SD=$(echo "$T"/s/cp/local/nodes/*-"$SYS")
cp "$SD/kubelet-client-current.pem" "$T/sys-old.pem" || fail "system node's certificate"
grep -q "kubelet client certificate issued to $N" "$T/s/confpoold.log" || fail "no certificate issued to $N"

# label, reserved label, cordon, taint
k label node "$N" sensitive=yes >/dev/null || fail "label"
[ "$(k get nodes -l sensitive=yes -o name)" = "node/$N" ] || fail "label not selected"
k label node "$N" kubernetes.azure.com/agentpool=evil --overwrite >"$T/res" 2>&1 && fail "reserved label changed"
grep -q "Forbidden.*label kubernetes.azure.com/agentpool is reserved" "$T/res" || fail "reserved: $(cat "$T/res")"
k cordon "$N" >/dev/null || fail "cordon"
k get node "$N" --no-headers | grep -q 'Ready,SchedulingDisabled' || fail "cordoned: $(k get node "$N")"
k uncordon "$N" >/dev/null || fail "uncordon"
k taint node "$N" dedicated=cvm:NoSchedule >/dev/null || fail "taint"
[ "$(k get node "$N" -o jsonpath='{.spec.taints[0].key}={.spec.taints[0].value}:{.spec.taints[0].effect}')" = "dedicated=cvm:NoSchedule" ] \
        || fail "taint not set"
k taint node "$N" dedicated- >/dev/null || fail "untaint"
[ -z "$(k get node "$N" -o jsonpath='{.spec.taints}')" ] || fail "taint left"

# leases renewed by heartbeats
[ "$(k get leases -n kube-node-lease --no-headers | wc -l)" = 3 ] || fail "leases: $(k get leases -n kube-node-lease)"
r1=$(k get lease -n kube-node-lease "$N" -o jsonpath='{.spec.renewTime}')
renewed() { [ "$(k get lease -n kube-node-lease "$N" -o jsonpath='{.spec.renewTime}')" != "$r1" ]; }
wait_for 15 renewed || fail "lease not renewed: $r1"
# ... by the node itself, over mTLS with its kubelet client certificate: the agent's
# renewals carry microseconds (the attested heartbeat's rendering had none), and its
# Node's lastHeartbeatTime moves past its last attestation
lease_of() { k get lease -n kube-node-lease "$N" -o jsonpath='{.spec.holderIdentity} {.spec.renewTime}'; }
own_renewal() { [[ "$(lease_of)" =~ ^$N\ [0-9T:-]+\.[0-9]{6}Z$ && "$(lease_of)" != *.000000Z ]]; }
wait_for 15 own_renewal || fail "no mTLS lease renewal by $N: $(lease_of); $(grep -a kubelet: "$T"/s/cp/local/nodes/*-"$N"/agent.log | tail -3)"
r2=$(lease_of)
renewed2() { [ "$(lease_of)" != "$r2" ] && own_renewal; }
wait_for 15 renewed2 || fail "lease not renewed by the node: $r2"
hb() { k get node "$N" -o jsonpath='{.status.conditions[?(@.type=="Ready")].lastHeartbeatTime}'; }
at=$(k get node "$N" -o jsonpath='{.metadata.annotations.kubernetes\.azure\.com/attestation-time}')
h1=$(hb)
moved() { [ "$(hb)" != "$h1" ]; }
wait_for 15 moved || fail "node status heartbeat not moving: $h1 (attested $at)"
! grep -aq "kubelet:" "$T"/s/cp/local/nodes/*/agent.log || fail "agent kubelet errors: $(grep -a kubelet: "$T"/s/cp/local/nodes/*/agent.log | head -3)"

# Status objects: anonymous 401, unsupported kind 404, user delete 403, pods empty
SERVER=$(k config view -o jsonpath='{.clusters[0].cluster.server}')
# a CSR with a token that was never released: 401
[ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" -X POST -H "Authorization: Bearer $(printf '0%.0s' $(seq 64))" \
     -H 'Content-Type: application/json' -d '{}' "$SERVER/apis/certificates.k8s.io/v1/certificatesigningrequests")" = 401 ] \
        || fail "CSR without a bootstrap token"
[ "$(curl -s --cacert "$CA" "$SERVER/api/v1/nodes")" = '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}' ] \
        || fail "anonymous: $(curl -s --cacert "$CA" "$SERVER/api/v1/nodes")"
k get deployments >"$T/res" 2>&1 && fail "deployments served"
grep -q "the server doesn't have a resource type \"deployments\"\|could not find the requested resource" "$T/res" || fail "deployments: $(cat "$T/res")"
TOK=$(k config view --raw -o jsonpath='{.users[?(@.name=="clusterUser_rg1_c1")].user.token}')
[ "$(curl -s --cacert "$CA" -H "Authorization: Bearer $TOK" "$SERVER/apis/apps/v1/namespaces/default/deployments")" = \
  '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server could not find the requested resource","reason":"NotFound","details":{},"code":404}' ] \
        || fail "404 Status"
k delete node "$N" >"$T/res" 2>&1 && fail "user deleted a node"
grep -q 'Forbidden.*User "clusterUser" cannot delete resource "nodes"' "$T/res" || fail "user delete: $(cat "$T/res")"
k get pods -A 2>&1 | grep -q "No resources found" || fail "pods: $(k get pods -A 2>&1)"
# the node's certificate with curl: its own Lease yes; deleting its Node, another node's
# Lease, secrets no (the Node authorizer); a certificate of another CA is no node
ND=$(echo "$T"/s/cp/local/nodes/*-"$N")
NC=(--cacert "$CA" --cert "$ND/kubelet-client-current.pem")
[ "$(curl -s -o /dev/null -w '%{http_code}' "${NC[@]}" "$SERVER/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/$N")" = 200 ] \
        || fail "node's own lease over mTLS"
curl -s "${NC[@]}" -X DELETE "$SERVER/api/v1/nodes/$N" >"$T/res"
grep -q '"code":403' "$T/res" && grep -qF 'system:node:'"$N"'\" cannot delete resource \"nodes\"' "$T/res" \
        || fail "node deleting its Node: $(cat "$T/res")"
O=$(k get nodes -o jsonpath='{.items[*].metadata.name}' | tr ' ' '\n' | grep -vx "$N" | head -1)
[ "$(curl -s -o /dev/null -w '%{http_code}' "${NC[@]}" -X PATCH -H 'Content-Type: application/merge-patch+json' \
     -d '{"spec":{"renewTime":"2026-01-01T00:00:00.000000Z"}}' \
     "$SERVER/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/$O")" = 403 ] || fail "another node's lease"
[ "$(curl -s -o /dev/null -w '%{http_code}' "${NC[@]}" "$SERVER/api/v1/namespaces/kube-system/secrets")" = 403 ] \
        || fail "node listing secrets"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "/O=system:nodes/CN=system:node:$N" \
        -keyout "$T/fk.pem" -out "$T/fc.pem" 2>/dev/null || fail "self-signed node cert"
[ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" --cert "$T/fc.pem" --key "$T/fk.pem" "$SERVER/api/v1/nodes/$N")" = 401 ] \
        || fail "a self-signed node certificate admitted"

# watches from here on: kubectl's (table) and python's
k get nodes -w >"$T/watch" 2>&1 &
PIDS+=($!)
"$PY" - "$T/kc" >"$T/pywatch" 2>&1 <<'EOF' &
import sys
from kubernetes import client, config, watch
config.load_kube_config(config_file=sys.argv[1])
v1 = client.CoreV1Api()
names = [n.metadata.name for n in v1.list_node(label_selector="kubernetes.azure.com/security-type=ConfidentialVM").items]
print("LIST", len(names), flush=True)
for ev in watch.Watch().stream(v1.list_node, timeout_seconds=300):
    n = ev["object"]
    ready = [c.status for c in n.status.conditions if c.type == "Ready"][0]
    taints = ",".join("%s=%s:%s" % (t.key, t.value, t.effect) for t in (n.spec.taints or []))
    print(ev["type"], n.metadata.name, ready, taints, n.metadata.resource_version, flush=True)
EOF
PIDS+=($!)
wait_for 10 grep -q "^ADDED $N True" "$T/pywatch" || fail "python watch: $(cat "$T/pywatch")"
grep -q "^LIST 3$" "$T/pywatch" || fail "python list: $(cat "$T/pywatch")"

# an admin's delete: gone, back at the node's next heartbeat
k --context c1-admin delete node "$N" >/dev/null || fail "admin delete"
wait_for 10 grep -q "^DELETED $N" "$T/pywatch" || fail "no DELETED: $(cat "$T/pywatch")"
back() { k get node "$N" >/dev/null 2>&1; }
wait_for 15 back || fail "node did not register again"

# a failed re-attestation: NotReady + taint, then replaced
"$BIN/confpool" aks nodepool attestation-policy set "${C[@]}" --nodepool-name cvm -o none \
        --launch-measurements 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef \
        || fail "policy set"
wait_for 60 grep -q "^MODIFIED aks-cvm-.* False kubernetes.azure.com/attestation=failed:NoExecute" "$T/pywatch" \
        || fail "no quarantine seen: $(cat "$T/pywatch")"
wait_for 30 grep -q "NotReady" "$T/watch" || fail "kubectl -w saw no NotReady: $(cat "$T/watch")"
"$BIN/confpool" aks nodepool attestation-policy reset "${C[@]}" --nodepool-name cvm -o none || fail "policy reset"
replaced() { [ "$(k get nodes -l kubernetes.azure.com/agentpool=cvm --no-headers | grep -c ' Ready ')" = 2 ] &&
             ! k get nodes --no-headers | grep -q NotReady; }
# a replacement that booted while the foreign policy was set failed its registration and
# the pool with it: a PUT of the pool retries (ARM's retry, docs/control-plane.md)
for _ in $(seq 90); do
        replaced && break
        st=$("$BIN/confpool" aks nodepool show "${C[@]}" -n cvm --query provisioningState -o tsv)
        [ "$st" = Failed ] && "$BIN/confpool" aks nodepool update "${C[@]}" -n cvm -o none >/dev/null 2>&1
        sleep 1
done
replaced || fail "not replaced: $(k get nodes)"
k get events | grep -q "NodeNotReady.*attestation failed" || fail "no NodeNotReady event: $(k get events)"
new=$(k get nodes -l kubernetes.azure.com/agentpool=cvm -o name | sed 's|node/||' | sort)
seen_new() { for n in $new; do grep -q "^ADDED $n True" "$T/pywatch" || grep -q "$n *Ready" "$T/watch" || return 1; done; }
wait_for 10 seen_new || fail "watch did not see the replacements: $new"
# resourceVersions from the store only grow (after the 3 initial ADDED of the current state)
tail -n +5 "$T/pywatch" | awk '{print $NF}' | grep -E '^[0-9]+$' | awk 'NR>1 && $1<=p {bad=1} {p=$1} END {exit bad}' \
        || fail "resourceVersion not monotonic: $(cat "$T/pywatch")"

# deleting the pool removes its Nodes
"$BIN/confpool" aks nodepool delete "${C[@]}" -n cvm -o none || fail "nodepool delete"
gone() { [ "$(k get nodes --no-headers | wc -l)" = 1 ]; }
wait_for 20 gone || fail "pool's nodes left: $(k get nodes)"

# rotation: the system node renewed its 60 s certificate with the current one and uses
# the new one; the old one is refused; the node is Ready throughout
serial() { openssl x509 -in "$1" -noout -serial; }
rotated() { [ -f "$SD/kubelet-client-current.pem" ] && [ "$(serial "$SD/kubelet-client-current.pem")" != "$(serial "$T/sys-old.pem")" ]; }
wait_for 70 rotated || fail "the system node's certificate was not rotated: $(grep -i kubelet "$SD"/*.log 2>/dev/null | tail -5)"
wait_for 10 grep -q "node $SYS uses its renewed client certificate" "$T/s/confpoold.log" || fail "no promotion logged"
lease=$SERVER/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/$SYS
[ "$(curl -s -o "$T/res" -w '%{http_code}' --cacert "$CA" --cert "$T/sys-old.pem" "$lease")" = 401 ] \
        || fail "the replaced certificate still works: $(cat "$T/res")"
[ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" --cert "$SD/kubelet-client-current.pem" "$lease")" = 200 ] \
        || fail "the renewed certificate"
k get node "$SYS" --no-headers | grep -q ' Ready ' || fail "system node not Ready after the rotation: $(k get nodes)"

# kill -9 of confpoold, then up: the same API at the same address, the node adopted (the
# same agent) and Ready, its certificate still accepted, the kubeconfig still working
apid=$(cat "$SD/agent.pid" 2>/dev/null)
kill -9 "$(cat "$T/s/confpoold.pid")" || fail "kill -9 confpoold"
"$BIN/confpool" up --state-dir "$T/s" --cluster-signing-duration 60s >"$T/up2.out" 2>&1 || { cat "$T/up2.out"; fail "up after kill -9"; }
sys_ready() { k get node "$SYS" --no-headers 2>/dev/null | grep -q ' Ready '; }
wait_for 30 sys_ready || fail "system node after the restart: $(k get nodes 2>&1)"
[ -z "$apid" ] || [ "$(cat "$SD/agent.pid")" = "$apid" ] || fail "the node was rebooted, not adopted"
wait_for 20 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --cacert '$CA' --cert '$SD/kubelet-client-current.pem' '$lease')\" = 200 ]" \
        || fail "the node's certificate after the restart"
[ "$(k get nodes --no-headers | wc -l)" = 1 ] || fail "nodes after the restart: $(k get nodes)"
echo ok
