# Sourced by the kubectl stack tests: kubectl and Debian's python3 with
# python3-kubernetes (not another python3 first on PATH), or exit 77 (SKIP,
# which make check turns into a failure: scripts/install-deps.sh check
# installs both).  Sets KUBECTL and PY.
KUBECTL=${KUBECTL:-kubectl}
command -v "$KUBECTL" >/dev/null || { echo "SKIP: kubectl not installed (scripts/install-deps.sh check)"; exit 77; }
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
"$PY" -c 'import kubernetes' 2>/dev/null || { echo "SKIP: python3-kubernetes not installed"; exit 77; }
