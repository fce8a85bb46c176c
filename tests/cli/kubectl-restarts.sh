#!/bin/bash
# kubectl and python3-kubernetes through an operator's restarts of the embedded
# stack (confpool up, local backend, real agents, swtpm, attestation, disk keys;
# docs/kubernetes.md "What survives a restart"), one pool of 2 (then 3) CVM nodes:
#  1. kill -9 of the key broker and of the attestation service while the nodes
#     are Ready: kubectl keeps them Ready (no NotReady, no attestation taint, no
#     NodeNotReady event) through the outage, a re-attestation forced then
#     (SIGUSR1) is deferred, not a quarantine; `confpool up` starts the two
#     daemons again on their ports (confpoold still running; then the broker
#     alone killed: only it is started), a forced
#     re-attestation then succeeds through the restarted attestation service and
#     a third node boots, gets its disk key and bootstrap token from the restarted
#     broker and joins;
#  2. a python watch and `kubectl get nodes -w` started before a kill -9 of
#     confpoold: after `up`, a new watch from the last resourceVersion continues
#     (the log of changes is in the store: no 410 Expired) and sees a change made
#     after the restart; a relist shows every node Ready;
#  3. `confpool down` then `confpool up`: the same node names, every node Ready
#     without the attestation taint, their Leases renewed after the up by the
#     nodes themselves over mTLS with the client certificate of their new
#     attested join (the pre-down certificate is refused: revoked by the
#     re-registration), no OS disk erased or created (LUKS2 headers unchanged,
#     the key broker's audit log).
set -u
BIN=${CP_BIN_DIR:?}
. "$(dirname "$0")/lib/kubectl.sh"
kubectl_stack cp-k8srestart
S=$T/s
fail() { echo "FAIL: $*" >&2; tail -20 "$S/confpoold.log" >&2; exit 1; }
. "$(dirname "$0")/lib/fault-stack.sh"
# "name Ready-status taint-keys" a node, a line, sorted
node_state() {
        k get nodes -o jsonpath='{range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status} {.spec.taints[*].key}{"\n"}{end}' \
                2>/dev/null | sed 's/ *$//' | sort
}
all_ready() { [ "$(node_state)" = "$READY" ]; }
nd() { echo "$S"/cp/local/nodes/*-"$1"; }
lease_of() { k get lease -n kube-node-lease "$1" -o jsonpath='{.spec.holderIdentity} {.spec.renewTime}' 2>/dev/null; }
# a renewal by the node itself over mTLS: its holder, microseconds (the attested
# heartbeat's rendering has none)
own_renewal() { [[ "$(lease_of "$1")" =~ ^$1\ [0-9T:-]+\.[0-9]{6}Z$ && "$(lease_of "$1")" != *.000000Z ]]; }
attested() { k get node "$1" -o jsonpath='{.metadata.annotations.kubernetes\.azure\.com/attestation-time}'; }
mtls_code() { # node certificate-file: the HTTP status of the node's read of its own Lease
        curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" --cert "$2" \
                "$SERVER/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/$1"
}
disk_headers() { for d in "$S"/cp/local/nodes/*/disk.img; do head -c 65536 "$d" | sha256sum; done | sort | tr '\n' ' '; }
agent_pids() { alive "confpool-agent --node-dir $S/cp/local/nodes/"; }

cp_ up --state-dir "$S" >"$T/up.out" 2>&1 || { cat "$T/up.out"; fail "up"; }
cp_ group create -n rg1 -l eastus -o none || fail "group create"
cp_ aks create -g rg1 -n c1 -s Standard_DC4as_v5 -c 2 -o none || fail "aks create"
cp_ aks get-credentials -g rg1 -n c1 --file "$T/kc" >/dev/null || fail "get-credentials"
CA=$S/cp/ca.pem
SERVER=$(k config view -o jsonpath='{.clusters[0].cluster.server}')
NAMES=$(k get nodes -o jsonpath='{.items[*].metadata.name}' | tr ' ' '\n' | sort)
[ "$(echo "$NAMES" | wc -l)" = 2 ] || fail "2 nodes: $(k get nodes)"
READY=$(for n in $NAMES; do echo "$n True"; done)
wait_for 20 all_ready || fail "not Ready: $(node_state)"
for n in $NAMES; do wait_for 20 own_renewal "$n" || fail "no mTLS lease renewal by $n: $(lease_of "$n")"; done

# 1. kill -9 of the key broker and of the attestation service, nodes Ready
declare -A AT0
for n in $NAMES; do AT0[$n]=$(attested "$n"); done
. "$(dirname "$0")/lib/forged-kid.sh"
ISS=$(forged_issuer "$(nd "$(echo "$NAMES" | head -1)")")
KP=$(cat "$S/kbsd.pid") AP=$(cat "$S/attestd.pid") CPD=$(cat "$S/confpoold.pid")
PORTS=$(cat "$S/ports.json")
kill -9 "$KP" "$AP" || fail "kill -9 kbsd, attestd"
rm -f "$S"/attestd-keys/key-*.pem # its signing key lost: it comes back with a new one
# a re-attestation asked for during the outage: deferred (transient), not a quarantine
sleep 1
for p in $(agent_pids); do kill -USR1 "$p"; done
N1=$(echo "$NAMES" | head -1)
r_out=$(lease_of "$N1")
for _ in $(seq 12); do
        all_ready || fail "a node left Ready while the broker and attestd were down: $(node_state)"
        for n in $NAMES; do [ "$(attested "$n")" = "${AT0[$n]}" ] || fail "$n attested while attestd was down"; done
        sleep 1
done
# the nodes' own renewals over mTLS went on (they need neither daemon)
[ "$(lease_of "$N1")" != "$r_out" ] && own_renewal "$N1" || fail "lease of $N1 not renewed during the outage: $(lease_of "$N1")"
grep -aq "re-attestation deferred" "$(nd "$N1")/agent.log" \
        || fail "no deferred re-attestation in $N1's log: $(tail -5 "$(nd "$N1")/agent.log")"
# without the kept ports (ports.json) `up` starts nothing on another port
mv "$S/ports.json" "$T/ports.json"
cp_ up --state-dir "$S" >"$T/up0.out" 2>&1 && fail "up without ports.json succeeded"
grep -q "ports.json does not say which port" "$T/up0.out" || fail "up's refusal without ports.json: $(cat "$T/up0.out")"
[ "$(cat "$S/kbsd.pid")" = "$KP" ] && [ "$(cat "$S/attestd.pid")" = "$AP" ] || fail "up without ports.json started a daemon"
mv "$T/ports.json" "$S/ports.json"
# from now until the third node has joined, forged-kid tokens at a node's
# heartbeat and disk-key release: confpoold's and the broker's key caches fetch
# for them (failing while attestd is down, once per interval after); the nodes
# re-attesting under the restarted attestd's new key within such an interval
# were answered 401 and quarantined; now 503, and they pass at the next try
forged_kid_flood "$(nd "$N1")" "$T/forged" "$ISS" &
FLOOD=$!
PIDS+=($FLOOD)
# `up` with confpoold running starts exactly the missing daemons, on their ports
cp_ up --state-dir "$S" >"$T/up1.out" 2>&1 || { cat "$T/up1.out" >&2; fail "up with kbsd and attestd gone"; }
grep -q "without confpool-attestd and confpool-kbsd: started again" "$T/up1.out" || fail "up's output: $(cat "$T/up1.out")"
[ "$(cat "$S/confpoold.pid")" = "$CPD" ] || fail "confpoold was restarted"
[ "$(cat "$S/ports.json")" = "$PORTS" ] || fail "ports moved: $(cat "$S/ports.json"), were $PORTS"
for f in kbsd attestd; do
        p=$(cat "$S/$f.pid")
        { [ "$p" != "$KP" ] && [ "$p" != "$AP" ] && kill -0 "$p"; } || fail "$f not running again (pid $p)"
done
# the broker alone killed again: only it is started (the attestation service kept)
AP2=$(cat "$S/attestd.pid") KP2=$(cat "$S/kbsd.pid")
kill -9 "$KP2" || fail "kill -9 kbsd"
cp_ up --state-dir "$S" >"$T/up1k.out" 2>&1 || { cat "$T/up1k.out" >&2; fail "up with kbsd gone"; }
grep -q "without confpool-kbsd: started again" "$T/up1k.out" || fail "up's output: $(cat "$T/up1k.out")"
[ "$(cat "$S/attestd.pid")" = "$AP2" ] || fail "the running attestd was restarted"
{ [ "$(cat "$S/kbsd.pid")" != "$KP2" ] && kill -0 "$(cat "$S/kbsd.pid")"; } || fail "kbsd not running again"
# everything running: up refuses as before
cp_ up --state-dir "$S" >"$T/up1b.out" 2>&1 && fail "up with the whole stack running succeeded"
grep -q "is already running" "$T/up1b.out" || fail "up's refusal: $(cat "$T/up1b.out")"
sleep 1.1
for p in $(agent_pids); do kill -USR1 "$p"; done
reattested() { for n in $NAMES; do [ "$(attested "$n")" != "${AT0[$n]}" ] || return 1; done; }
wait_for 40 reattested || fail "no re-attestation through the restarted attestd: $(for n in $NAMES; do attested "$n"; done)"
all_ready || fail "not Ready after the re-attestation: $(node_state)"
k get events 2>&1 | grep -q NodeNotReady && fail "NodeNotReady events: $(k get events)"
grep -q "quarantin" "$S/confpoold.log" && fail "quarantine logged: $(grep quarantin "$S/confpoold.log")"
# a node that boots now is attested by the restarted attestation service, gets its
# disk key and its Kubernetes bootstrap token from the restarted broker, and joins
cp_ aks nodepool scale -g rg1 --cluster-name c1 -n nodepool1 --node-count 3 -o none || fail "scale to 3"
NAMES=$(k get nodes -o jsonpath='{.items[*].metadata.name}' | tr ' ' '\n' | sort)
[ "$(echo "$NAMES" | wc -l)" = 3 ] || fail "3 nodes: $(k get nodes)"
N3=$(echo "$NAMES" | grep -vxF "$(for n in "${!AT0[@]}"; do echo "$n"; done)")
READY=$(for n in $NAMES; do echo "$n True"; done)
wait_for 20 all_ready || fail "not Ready after the scale: $(node_state)"
wait_for 20 own_renewal "$N3" || fail "the new node $N3 did not join over mTLS: $(lease_of "$N3")"
kill "$FLOOD" 2>/dev/null; wait "$FLOOD" 2>/dev/null
# every forged token refused; some while the keys could not say (503, not a verdict)
grep -Eq '^(cp|kbs) 2' "$T/forged" && fail "a forged-kid token passed: $(sort "$T/forged" | uniq -c)"
grep -q '^cp 503$' "$T/forged" || fail "confpoold never answered 503 to an unknown kid: $(sort "$T/forged" | uniq -c)"
grep -q '^kbs 503$' "$T/forged" || fail "the broker never answered 503 to an unknown kid: $(sort "$T/forged" | uniq -c)"
echo "forged-kid requests: $(sort "$T/forged" | uniq -c | tr -s ' \n' ' ')"

# 2. watches across a kill -9 of confpoold
k get nodes -w -o name >"$T/kwatch" 2>&1 &
KW=$!
PIDS+=($KW)
"$PY" - "$T/kc" "$T/up2.done" >"$T/pywatch" 2>&1 <<'EOF' &
import os, sys, time
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException
config.load_kube_config(config_file=sys.argv[1])
v1 = client.CoreV1Api()
lst = v1.list_node()
last = lst.metadata.resource_version
print("LIST", last, flush=True)
w = watch.Watch()
try:
    for ev in w.stream(v1.list_node, resource_version=last, timeout_seconds=600):
        last = ev["object"].metadata.resource_version
        print("EV1", ev["type"], ev["object"].metadata.name, last, flush=True)
except Exception as e:  # the connection ends with confpoold
    print("BROKEN", type(e).__name__, flush=True)
print("LAST", last, flush=True)
while not os.path.exists(sys.argv[2]):
    time.sleep(0.1)
config.load_kube_config(config_file=sys.argv[1])  # the server is the same URL
v1 = client.CoreV1Api()
try:
    for ev in watch.Watch().stream(v1.list_node, resource_version=last, timeout_seconds=30):
        n = ev["object"]
        print("EV2", ev["type"], n.metadata.name, n.metadata.resource_version,
              ",".join(sorted((n.metadata.labels or {}).keys())), flush=True)
        if (n.metadata.labels or {}).get("restart-probe") == "1":
            print("CONTINUED", flush=True)
            break
except ApiException as e:
    print("EXPIRED" if e.status == 410 else "APIERROR %d" % e.status, flush=True)
lst = v1.list_node()
for n in lst.items:
    ready = [c.status for c in n.status.conditions if c.type == "Ready"][0]
    print("RELIST", n.metadata.name, ready, len(n.spec.taints or []), flush=True)
print("DONE", flush=True)
EOF
PIDS+=($!)
wait_for 20 grep -q "^LIST" "$T/pywatch" || fail "python list: $(cat "$T/pywatch")"
sleep 2 # both watches established
kill -9 "$CPD" || fail "kill -9 confpoold"
wait_for 20 grep -q "^LAST" "$T/pywatch" || fail "python watch did not end with confpoold: $(cat "$T/pywatch")"
LAST=$(sed -n 's/^LAST //p' "$T/pywatch")
cp_ up --state-dir "$S" >"$T/up2.out" 2>&1 || { cat "$T/up2.out" >&2; fail "up after kill -9 confpoold"; }
wait_for 30 all_ready || fail "nodes after the restart: $(node_state)"
touch "$T/up2.done"
sleep 1
k label node "$N1" restart-probe=1 >/dev/null || fail "label after the restart"
wait_for 40 grep -q "^DONE" "$T/pywatch" || fail "python watch after the restart: $(cat "$T/pywatch")"
# which one happens: the watch from the last version continues (the log of changes
# and its versions are in the store and survive the restart), not 410 Expired
grep -q "^CONTINUED" "$T/pywatch" || fail "the re-watch from $LAST did not continue: $(cat "$T/pywatch")"
grep -q "^EXPIRED\|^APIERROR" "$T/pywatch" && fail "re-watch refused: $(cat "$T/pywatch")"
# a continuation, not a relist: only versions after LAST, not every node ADDED again
grep "^EV2" "$T/pywatch" | awk -v l="$LAST" '$4 <= l {bad=1} END {exit bad}' || fail "replayed versions <= $LAST: $(cat "$T/pywatch")"
grep -q "^EV2 ADDED" "$T/pywatch" && fail "the re-watch listed again: $(cat "$T/pywatch")"
[ "$(grep -c "^RELIST .* True 0$" "$T/pywatch")" = 3 ] || fail "relist: $(cat "$T/pywatch")"
# kubectl's watch (a single watch, no retry) ended with the connection
wait_for 10 sh -c "! kill -0 $KW 2>/dev/null" || fail "kubectl get -w still running after confpoold died"
k label node "$N1" restart-probe- >/dev/null || fail "unlabel"

# 3. down / up with the Ready nodes' pool
D0=$(disk_headers)
C0=$(audit_count disk-create)
E0=$(audit_count disk-crypto-erase)
for n in $NAMES; do cp "$(nd "$n")/kubelet-client-current.pem" "$T/old-$n.pem" || fail "certificate of $n"; done
cp_ down --state-dir "$S" >/dev/null || fail "down"
[ -z "$(alive "$S")" ] || fail "processes left after down: $(alive "$S")"
t0=$(date +%s)
cp_ up --state-dir "$S" >"$T/up3.out" 2>&1 || { cat "$T/up3.out" >&2; fail "up after down"; }
wait_for 240 all_ready || fail "after down/up: $(node_state), want $READY; $(k get nodes 2>&1)"
[ "$(k get nodes -o jsonpath='{.items[*].metadata.name}' | tr ' ' '\n' | sort)" = "$NAMES" ] || fail "node names changed"
# each booted again and attested after the up (its Node stays Ready meanwhile, as a
# kubelet's within the lease grace period; it is not NotReady at any point)
attested_since_up() {
        local n a
        for n in $NAMES; do
                a=$(date -d "$(attested "$n")" +%s 2>/dev/null || echo 0)
                [ "$a" -ge "$t0" ] || return 1
        done
        all_ready || fail "a node left Ready while booting again: $(node_state)"
}
wait_for 120 attested_since_up || fail "not every node attested after the up: $(for n in $NAMES; do attested "$n"; done)"
for n in $NAMES; do
        # its Lease renewed after the up by the node itself, over mTLS
        wait_for 30 own_renewal "$n" || fail "no mTLS renewal of $n after the up: $(lease_of "$n")"
        r=$(lease_of "$n")
        later() { [ "$(lease_of "$1")" != "$2" ] && own_renewal "$1"; }
        wait_for 20 later "$n" "$r" || fail "lease of $n not renewed after the up: $r"
        rt=$(date -d "$(lease_of "$n" | cut -d' ' -f2)" +%s)
        [ "$rt" -ge "$t0" ] || fail "renewTime of $n before the up: $(lease_of "$n")"
        # the certificate of its new join works; the pre-down one is revoked
        [ "$(mtls_code "$n" "$(nd "$n")/kubelet-client-current.pem")" = 200 ] || fail "$n's certificate after down/up"
        [ "$(mtls_code "$n" "$T/old-$n.pem")" = 401 ] || fail "$n's pre-down certificate still accepted"
done
all_ready || fail "not Ready: $(node_state)"
[ "$(disk_headers)" = "$D0" ] || fail "OS disks changed across down/up"
[ "$(audit_count disk-create)" = "$C0" ] || fail "disks created anew across down/up"
[ "$(audit_count disk-crypto-erase)" = "$E0" ] || fail "disks crypto-erased: $(grep disk-crypto-erase "$S/kbs-audit.jsonl")"
grep -q "confpoold: replacing node" "$S/confpoold.log" && fail "a node was replaced: $(grep 'replacing node' "$S/confpoold.log")"
echo ok
