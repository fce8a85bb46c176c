# Sourced by the kubectl stack tests: kubectl and Debian's python3 with
# python3-kubernetes (not another python3 first on PATH), or exit 77 (SKIP,
# which make check turns into a failure: scripts/install-deps.sh check
# installs both).  Sets KUBECTL and PY.
KUBECTL=${KUBECTL:-kubectl}
command -v "$KUBECTL" >/dev/null || { echo "SKIP: kubectl not installed (scripts/install-deps.sh check)"; exit 77; }
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
"$PY" -c 'import kubernetes' 2>/dev/null || { echo "SKIP: python3-kubernetes not installed"; exit 77; }

# kubectl_stack PREFIX: the test's temporary directory T (mktemp, removed at
# exit with the stack under $T/s and the background PIDS stopped), its CLI
# configuration, k (kubectl with $T/kc) and wait_for SECONDS COMMAND...
kubectl_stack() {
        T=$(mktemp -d "/tmp/$1-XXXXXX")
        export CONFPOOL_CONFIG_DIR=$T/cli
        PIDS=()
        trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
              "$BIN/confpool" down --state-dir "$T/s" >/dev/null 2>&1; rm -rf "$T"' EXIT
}
k() { "$KUBECTL" --kubeconfig "$T/kc" "$@"; }
wait_for() { # seconds command...
        local n=$(($1 * 10)); shift
        for _ in $(seq "$n"); do "$@" && return 0; sleep 0.1; done
        return 1
}
