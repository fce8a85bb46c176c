#!/usr/bin/env bash
# The issue 17 failover stack with real nodes (source this file; BIN set):
# the embedded stack (`confpool up --db postgresql://...`: attestd, the
# software AMD-SP and TDX hosts, swtpm, agents) with its confpoold replaced
# by 3 replicas (a, b, c) on one throw-away PostgreSQL database and one state
# directory (the local backend's hosts and nodes shared, as hypervisor hosts
# would be), and its kbsd by 2 replicas on a PostgreSQL database of their own
# (a and c use kbsd 1, b uses kbsd 2).  Every agent is given the list of the
# three replicas' URLs.  Used by pg-failover-nodes.sh and pg-failover-tdx.sh.
#   pgfo_up NAME     the stack in /tmp/cp-NAME-XXXXXX ($T), its cleanup on EXIT,
#                    resource group rg1 and cluster c1 (1 SNP system node)
#   req R METHOD PATH [BODY]  a REST call through replica R -> status, body in $T/body
#   PAUSED="R ...": leader and alive_replica skip these replicas (SIGSTOPped)
#   leader / failover LABEL / failover_of R LABEL / start R / kill9 R / ready / snap / wait_op OP
#   pgfo_check_disks  every disk seen at a kill point (snap) unchanged, and
#                    no key of a disk there now crypto-erased after its last creation
#   pgfo_diagnose    on failure: the replicas' errors, the nodes without an agent
command -v jq >/dev/null || { echo "jq is required"; exit 1; }
. "$(dirname "${BASH_SOURCE[0]}")/pg.sh"
declare -gA PIDS PORTS
KPIDS=()
FAILOVERS=()
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
expect() { if [ "$2" = "$3" ]; then ok; else bad "$1: got '$3', expected '$2'"; fi; }
die() { echo "FAIL: $*"; for f in "$T"/*.log; do echo "== $f"; tail -15 "$f"; done; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
t0=$(date +%s%N)
ms() { echo $((($(date +%s%N) - t0) / 1000000)); }
pgfo_cleanup() {
  for r in "${!PIDS[@]}"; do [ -n "${PIDS[$r]}" ] && kill -9 "${PIDS[$r]}" 2>/dev/null; done
  for p in "${KPIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  "$BIN/confpool" down --state-dir "$T/s" >/dev/null 2>&1
  # the nodes the replicas left running (their command lines name $T)
  for p in $(pgrep -f -- "--node-dir $T/" ; pgrep -f -- "$T/s/cp/local/nodes/"); do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null; pg_stop; [ -n "${PGFO_KEEP:-}" ] && [ "$fail" -gt 0 ] && { echo "kept: $T"; return; }; rm -rf "$T"
}

kbs_args() { # port audit-file: the stack's kbsd arguments with --db, --port, --audit-file replaced
  local out=() i=0
  while [ $i -lt ${#KARGS[@]} ]; do
    case "${KARGS[$i]}" in
    --db) out+=(--db "$KBS_DB"); i=$((i + 2)); continue ;;
    --port) out+=(--port "$1"); i=$((i + 2)); continue ;;
    --audit-file) out+=(--audit-file "$2"); i=$((i + 2)); continue ;;
    esac
    out+=("${KARGS[$i]}"); i=$((i + 1))
  done
  printf '%s\0' "${out[@]}"
}
start() { # replica
  local r=$1 out=() i=0 kbs="http://127.0.0.1:$K1PORT"
  [ "$r" = b ] && kbs="http://127.0.0.1:$K2PORT"
  while [ $i -lt ${#CARGS[@]} ]; do
    case "${CARGS[$i]}" in
    --port | --port-file | --kbs-url) i=$((i + 2)); continue ;;
    esac
    out+=("${CARGS[$i]}"); i=$((i + 1))
  done
  rm -f "$T/$r.port"
  setsid "${out[@]}" --port "${PORTS[$r]}" --port-file "$T/$r.port" --kbs-url "$kbs" --replica-id "$r-$RANDOM" \
    --lease-ttl-ms 3000 --agent-controlplane-urls "$URLS" >>"$T/$r.log" 2>&1 </dev/null &
  PIDS[$r]=$!
  for _ in $(seq 300); do [ -s "$T/$r.port" ] && break; sleep 0.05; done
  [ -s "$T/$r.port" ] || die "replica $r did not start"
}
kill9() { kill -9 "${PIDS[$1]}" 2>/dev/null; wait "${PIDS[$1]}" 2>/dev/null; PIDS[$1]=; }
base() { echo "https://localhost:${PORTS[$1]}"; }
role() { curl -s -m 2 --cacert "$CA" "$(base "$1")/healthz" | jq -r .role 2>/dev/null; }
leader() { # waits up to 15 s
  for _ in $(seq 150); do
    for r in a b c; do [ -n "${PIDS[$r]:-}" ] && [[ " ${PAUSED:-} " != *" $r "* ]] && [ "$(role "$r")" = leader ] && { echo "$r"; return; }; done
    sleep 0.1
  done
}
alive_replica() { for r in a b c; do [ -n "${PIDS[$r]:-}" ] && [[ " ${PAUSED:-} " != *" $r "* ]] && { echo "$r"; return; }; done; }
req() { # replica method path [body] -> status; body in $T/body
  local args=(-s -m 20 --cacert "$CA" -o "$T/body" -D "$T/hdr" -w '%{http_code}' -X "$2" -H "Authorization: Bearer $TOKEN")
  [ -n "${4:-}" ] && args+=(-H 'Content-Type: application/json' --data "$4")
  curl "${args[@]}" "$(base "$1")$3"
}
hdr() { grep -i "^$1:" "$T/hdr" | head -1 | cut -d' ' -f2- | tr -d '\r'; }
wait_op() { # op-path -> final status (any live replica)
  local st=
  for _ in $(seq 900); do
    req "$(alive_replica)" GET "$1" >/dev/null
    st=$(jq -r .status "$T/body" 2>/dev/null)
    [ "$st" = InProgress ] || [ -z "$st" ] || break
    sleep 0.2
  done
  echo "$st"
}
ready() { # -> Ready machines of the pool $AP (by any live replica)
  req "$(alive_replica)" GET "$AP/machines?api-version=$CS" >/dev/null
  jq '[.value[]? | select(.properties.status.nodeState == "Ready")] | length' "$T/body" 2>/dev/null || echo 0
}
snap() { # the disks there now: path inode header-digest
  for d in "$NODES"/*/disk.img; do
    [ -f "$d" ] && echo "$d $(stat -c %i "$d") $(head -c 40 "$d" | sha256sum | cut -c1-16)"
  done >>"$T/disks.snap"
}
failover() { # label: kill -9 of the leader, a new one within seconds, the killed one started again
  failover_of "$(leader)" "$1"
}
failover_of() { # replica label: as failover, the leader known (no request before the kill)
  local l=$1; shift
  [ -n "$l" ] || die "$1: no leader"
  local k0; k0=$(ms)
  kill9 "$l"
  # what the dead leader left, before any successor acts (>= the lease TTL):
  # the disks there, which boots had finished (node.json) in $T/booted.at-kill, and
  # which had begun (a node.json or spec.json: a node the backend recovers) in
  # $T/begun.at-kill; one not begun yet is the reconciler's to create again
  snap
  ls "$NODES"/*/node.json 2>/dev/null >"$T/booted.at-kill"
  for d in "$NODES"/*/; do [ -e "$d/node.json" ] || [ -e "$d/spec.json" ] && echo "$d"; done >"$T/begun.at-kill"
  local n; n=$(leader)
  [ -n "$n" ] && [ "$n" != "$l" ] && ok || bad "$1: no new leader after killing $l"
  FAILOVERS+=("$1:$l->$n:$(($(ms) - k0))ms")
  start "$l"
}
kp() { "$PG_BIN/psql" -h "$PG_DIR" -U postgres -d kbs -qAt -c "$1"; }

pgfo_check_disks() {
  # no disk erased or re-made: every disk seen at a kill point is the same file
  sort -u "$T/disks.snap" | while read -r f ino h; do
    [ -f "$f" ] || { echo "FAIL: disk gone: $f"; continue; }
    [ "$(stat -c %i "$f") $(head -c 40 "$f" | sha256sum | cut -c1-16)" = "$ino $h" ] || echo "FAIL: disk re-made: $f"
  done >"$T/disk.check"
  [ ! -s "$T/disk.check" ] && ok || bad "$(cat "$T/disk.check")"
  [ "$(sort -u "$T/disks.snap" | wc -l)" -ge 1 ] && ok || bad "no disk seen at the kill points"
  # no key of a disk that exists was crypto-erased: for each node's disk.img, in the broker's audit
  # order (one PostgreSQL sequence for both replicas), the last creation of its key is followed by an
  # allowed release (the agent opened this disk with that key) and by no crypto-erase. By design some
  # keys are erased: a node registering again after a cut boot gets a new Kubernetes bootstrap token
  # (its old k8sboot- secret erased), and a boot cut after its broker key was made but before its
  # disk.img was whole (the image is written beside and renamed) makes both again: that key never
  # encrypted a disk (its erase comes before the disk's last key creation).
  kp "SELECT version FROM audit WHERE op = 'disk-crypto-erase' AND version NOT LIKE 'k8sboot-%'" >"$T/erased"
  local f id v
  for f in "$NODES"/*/disk.img; do
    id=osdisk-$(basename "$(dirname "$f")")
    v=$(kp "SELECT (SELECT count(*) FROM audit WHERE version = '$id' AND op = 'disk-release' AND decision = 'allowed'
                      AND id > c.last) || ' ' || (SELECT count(*) FROM audit WHERE version = '$id'
                      AND op = 'disk-crypto-erase' AND id > c.last)
            FROM (SELECT coalesce(max(id), 0) AS last FROM audit WHERE version = '$id' AND op = 'disk-create') c")
    [ "${v% *}" -ge 1 ] && [ "${v#* }" = 0 ] || echo "$id (releases, erases after its key's last creation: $v)"
  done >"$T/erased.bad"
  [ ! -s "$T/erased.bad" ] && ok || bad "keys of existing disks crypto-erased: $(cat "$T/erased.bad")"
  echo "crypto-erased keys (none of a disk that existed): $(tr '\n' ' ' <"$T/erased")"
}

pgfo_up() { # name
  T=$(mktemp -d "/tmp/cp-$1-XXXXXX")
  export CONFPOOL_CONFIG_DIR=$T/cli
  trap pgfo_cleanup EXIT
  pg_start "$T" || exit $?
  KBS_DB=$(pg_createdb kbs) || die "createdb kbs"
  "$BIN/confpool" up --state-dir "$T/s" --db "$PG_URL" >"$T/up.log" 2>&1 || die "up: $(cat "$T/up.log")"
  CA=$T/s/cp/ca.pem
  TOKEN=$(cat "$T/s/cp/operator.token")
  NODES=$T/s/cp/local/nodes

  # ---- the key broker: 2 replicas on PostgreSQL (kbsd 1 at the port the stack uses)
  local KPID p k
  KPID=$(cat "$T/s/kbsd.pid")
  mapfile -d '' KARGS <"/proc/$KPID/cmdline"
  kill "$KPID"; for _ in $(seq 50); do kill -0 "$KPID" 2>/dev/null || break; sleep 0.1; done
  K1PORT=$(sed -n 's#.*--kbs-url http://127.0.0.1:\([0-9]*\).*#\1#p' <(tr '\0' ' ' <"/proc/$(cat "$T/s/confpoold.pid")/cmdline"))
  [ -n "$K1PORT" ] || die "the stack's kbs port"
  K2PORT=$(free_port)
  for k in 1 2; do
    p=K${k}PORT
    mapfile -d '' A < <(kbs_args "${!p}" "$T/kbs$k-audit.jsonl")
    setsid "${A[@]}" >"$T/kbs$k.out" 2>"$T/kbs$k.log" </dev/null &
    KPIDS+=($!)
    for _ in $(seq 100); do curl -s "http://127.0.0.1:${!p}/healthz" | grep -q postgresql && break; sleep 0.1; done
    expect "kbsd $k on PostgreSQL" postgresql "$(curl -s "http://127.0.0.1:${!p}/healthz" | jq -r .store.kind)"
  done

  # ---- the control plane: 3 replicas, one state directory, one database
  local CPID
  CPID=$(cat "$T/s/confpoold.pid")
  mapfile -d '' CARGS <"/proc/$CPID/cmdline"
  PORTS[a]=$(cat "$T/s/confpoold.port")
  kill "$CPID"; for _ in $(seq 100); do kill -0 "$CPID" 2>/dev/null || break; sleep 0.1; done
  PORTS[b]=$(free_port) PORTS[c]=$(free_port)
  URLS="https://localhost:${PORTS[a]},https://localhost:${PORTS[b]},https://localhost:${PORTS[c]}"
  start a; start b; start c
  [ -n "$(leader)" ] || die "no leader"

  SUB=$(jq -r '.subscription // empty' "$T/cli/config.json" 2>/dev/null)
  [ -n "$SUB" ] || SUB=6a8b4c2e-1f3d-4e5a-9b7c-0d1e2f3a4b5c
  CS=2026-01-01
  RG=/subscriptions/$SUB/resourcegroups/rg1
  MC=/subscriptions/$SUB/resourceGroups/rg1/providers/Microsoft.ContainerService/managedClusters/c1
  expect "rg" 201 "$(req a PUT "$RG?api-version=2021-04-01" '{"location":"eastus"}')"
  expect "cluster" 201 "$(req a PUT "$MC?api-version=$CS" '{"location":"eastus","properties":{"agentPoolProfiles":[{"name":"sys","count":1,"vmSize":"Standard_DC4as_v5","mode":"System"}]}}')"
  local op
  op=$(hdr Azure-AsyncOperation | sed -E 's#^https?://[^/]+##')
  expect "cluster op" Succeeded "$(wait_op "$op")"
}

pgfo_diagnose() { # on failure: what the replicas and the nodes without an agent said
  [ "$fail" -ne 0 ] || return 0
  grep -hiE "fail|error|refus|erase|replac" "$T"/[abc].log | grep -v ": audit: " | tail -40 | sed 's/^/  log: /'
  for d in "$NODES"/*/; do
    [ "$(pgrep -f -- "confpool-agent --node-dir ${d%/}( |$)" | wc -l)" = 1 ] && continue
    echo "  == $(basename "$d"): $(ls "$d" | tr '\n' ' ')"
    cat "$d/status.json" 2>/dev/null | head -c 600 | sed 's/^/  status: /'; echo
    tail -8 "$d/agent.log" 2>/dev/null | sed 's/^/  agent: /'
  done
}
