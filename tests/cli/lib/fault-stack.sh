# Sourced by the fault-suite scripts (tests/cli/fault-*.sh): the helpers
# they share on an embedded stack in $S (confpool up --state-dir $S) with
# the CLI at $BIN/confpool, a cluster c1 in rg1 with the system pool
# nodepool1 and a pool p1.  Not a test itself (tests/cli/*.sh are).

# fault_stack_tmp PREFIX: the test's temporary directory T (the stack in
# S=$T/s, the CLI's settings in $T/cli), removed at exit after `confpool down`
# and after killing the pid in $BG (a background load the test started, if any).
fault_stack_tmp() {
        T=$(mktemp -d "/tmp/$1-XXXXXX")
        S=$T/s
        export CONFPOOL_CONFIG_DIR=$T/cli
        BG=
        trap '[ -n "$BG" ] && kill "$BG" 2>/dev/null; "$BIN/confpool" down --state-dir "$S" >/dev/null 2>&1; rm -rf "$T"' EXIT
}
# the broker's audit lines of op $1 for OS disks ($S/kbs-audit.jsonl); a node's
# Kubernetes bootstrap key (k8sboot-*) is made anew at every registration
# (docs/kubernetes.md), so it is not counted
audit_count() { grep "\"op\":\"$1\"" "$S/kbs-audit.jsonl" | grep -vc '"k8sboot-'; }
# live (not zombie) pids whose command line contains $1
alive() { pgrep -f -- "$1" | while read -r p; do [ "$(awk '{print $3}' /proc/$p/stat 2>/dev/null)" = Z ] || echo "$p"; done; }
cp_() { "$BIN/confpool" "$@"; }
now_ms() { date +%s%3N; }
# machines of both pools: "name<TAB>state" lines, sorted
machines() {
        for p in nodepool1 p1; do
                cp_ aks machine list -g rg1 --cluster-name c1 --nodepool-name "$p" \
                        --query "[].[name, properties.status.nodeState]" -o tsv 2>/dev/null
        done | sort
}
# the node agents' pids, one line
agents() { alive "confpool-agent --node-dir $S/cp/local/nodes/" | sort -n | tr '\n' ' '; }
# a daemon's kept port (ports.json)
port_of() { sed -n "s/.*\"$1\": *\([0-9]*\).*/\1/p" "$S/ports.json"; }
# the stack with 3 Ready nodes: the system pool's and a 2-node CVM pool p1
three_ready_nodes() {
        cp_ up --state-dir "$S" >/dev/null 2>&1 || fail "up"
        cp_ group create -n rg1 -l eastus -o none || fail "group create"
        cp_ aks create -g rg1 -n c1 -s Standard_DC4as_v5 -c 1 -o none || fail "aks create"
        cp_ aks nodepool add -g rg1 --cluster-name c1 -n p1 --node-count 2 -s Standard_DC4as_v5 -o none \
                || fail "nodepool add"
}
