#!/usr/bin/env bash
# Issue 17 item 2: two confpool-kbsd replicas on one database, raced.  On
# SQLite (both on one file) and, when postgresql-15 is installed, on a
# throw-away PostgreSQL cluster (tests/cli/lib/pg.sh):
#  - 16 parallel creates of one new name with If-None-Match: *, through both
#    replicas: exactly one 200, the rest 409, one version stored;
#  - 16 parallel creates of another name without it: 16 distinct versions
#    (Key Vault's "create makes a new version"), none lost;
#  - creates and rotations of a name raced against its delete: afterwards
#    the name is wholly live or wholly deleted, never both (a version
#    written after the delete it did not see would be live beside deleted
#    ones: before the fix the check and the insert were two statements);
#  - purge raced against create: never a live version beside deleted ones.
set -uo pipefail
KB=${CP_BIN_DIR:?}/confpool-kbsd
command -v curl >/dev/null || { echo "curl is required"; exit 1; }
command -v jq >/dev/null || { echo "jq is required (scripts/install-deps.sh check)"; exit 1; }
. "$(dirname "$0")/lib/pg.sh"
TMP=$(mktemp -d)
# kstart runs in $(...), a subshell: its replicas' pids go to a file, not to an array
cleanup() {
  [ -f "$TMP/pids" ] && while read -r p; do kill -9 "$p" 2>/dev/null; done <"$TMP/pids"
  pg_stop; rm -rf "$TMP"
}
trap cleanup EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
expect() { if [ "$2" = "$3" ]; then ok; else bad "$1: got '$3', expected '$2'"; fi; }

head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TMP/mk"
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TMP/admin.token"
chmod 600 "$TMP/mk" "$TMP/admin.token"
ADM=$(cat "$TMP/admin.token")

kstart() { # db n -> port
  "$KB" --db "$1" --master-key-file "$TMP/mk" --admin-token-file "$TMP/admin.token" --quiet >"$TMP/kbs$2.out" 2>"$TMP/kbs$2.log" &
  echo $! >>"$TMP/pids"
  for _ in $(seq 200); do grep -q port "$TMP/kbs$2.out" 2>/dev/null && break; sleep 0.05; done
  jq -r .port "$TMP/kbs$2.out"
}
kreq() { # port method path [body] [header] -> status (body to stdout with -o)
  local args=(-s -o /dev/null -w '%{http_code}\n' -X "$2" -H "Authorization: Bearer $ADM")
  [ -n "${4:-}" ] && args+=(-H 'Content-Type: application/json' --data "$4")
  [ -n "${5:-}" ] && args+=(-H "$5")
  curl "${args[@]}" "http://127.0.0.1:$1$3?api-version=7.4"
}
versions() { # port name -> number of live versions
  curl -s -H "Authorization: Bearer $ADM" "http://127.0.0.1:$1/keys/$2/versions?api-version=7.4" | jq '.value | length'
}
deleted() { # port name -> 1 if the name has deleted versions
  [ "$(kreq "$1" GET "/deletedkeys/$2")" = 200 ] && echo 1 || echo 0
}
OCT='{"kty":"oct","attributes":{"exportable":false}}'

race() { # label port1 port2
  local L=$1 A=$2 B=$3 i
  # one new name, If-None-Match: *, 16 at once through both replicas
  for i in $(seq 16); do
    p=$A; [ $((i % 2)) = 0 ] && p=$B
    kreq "$p" POST /keys/once/create "$OCT" "If-None-Match: *" >"$TMP/st.$i" &
  done
  wait_reqs
  expect "$L: If-None-Match: * creates raced: one 200" 1 "$(cat "$TMP"/st.* | grep -c '^200$')"
  expect "$L: the others 409" 15 "$(cat "$TMP"/st.* | grep -c '^409$')"
  expect "$L: one version stored" 1 "$(versions "$A" once)"
  expect "$L: If-None-Match other than *: 400" 400 "$(kreq "$A" POST /keys/once2/create "$OCT" 'If-None-Match: "x"')"
  # without the header: a version per create, none lost
  rm -f "$TMP"/st.*
  for i in $(seq 16); do
    p=$A; [ $((i % 2)) = 0 ] && p=$B
    kreq "$p" POST /keys/many/create "$OCT" >"$TMP/st.$i" &
  done
  wait_reqs
  expect "$L: plain creates raced: 16 x 200" 16 "$(cat "$TMP"/st.* | grep -c '^200$')"
  expect "$L: 16 versions" 16 "$(versions "$B" many)"
  # create / rotate against delete: wholly live or wholly deleted
  local mixed=0 round
  for round in $(seq 6); do
    local n="mix$round"
    kreq "$A" POST "/keys/$n/create" "$OCT" >/dev/null
    rm -f "$TMP"/st.*
    for i in $(seq 8); do
      case $((i % 4)) in
      0) kreq "$B" DELETE "/keys/$n" >"$TMP/st.$i" & ;;
      1) kreq "$A" POST "/keys/$n/create" "$OCT" >"$TMP/st.$i" & ;;
      2) kreq "$B" POST "/keys/$n/rotate" >"$TMP/st.$i" & ;;
      3) kreq "$A" POST "/keys/$n/create" "$OCT" >"$TMP/st.$i" & ;;
      esac
    done
    wait_reqs
    live=$(versions "$A" "$n"); del=$(deleted "$B" "$n")
    if [ "$live" != 0 ] && [ "$del" = 1 ]; then mixed=$((mixed + 1)); echo "  $L $n: $live live versions beside deleted ones"; fi
    # every answer is a success or a clear refusal, never a 500
    [ -z "$(cat "$TMP"/st.* | grep -v '^\(200\|404\|409\)$')" ] && ok || bad "$L $n: statuses $(cat "$TMP"/st.* | tr '\n' ' ')"
  done
  expect "$L: create/rotate vs delete: never live beside deleted" 0 "$mixed"
  # purge against create of the same name
  kreq "$A" POST /keys/pc/create "$OCT" >/dev/null
  kreq "$A" DELETE /keys/pc >/dev/null
  rm -f "$TMP"/st.*
  kreq "$B" DELETE /deletedkeys/pc >"$TMP/st.1" &
  for i in 2 3 4; do kreq "$A" POST /keys/pc/create "$OCT" >"$TMP/st.$i" & done
  wait_reqs
  expect "$L: purge 204" 204 "$(cat "$TMP/st.1")"
  live=$(versions "$A" pc); del=$(deleted "$B" pc)
  [ "$live" = 0 ] || [ "$del" = 0 ] && ok || bad "$L: purge vs create: $live live beside deleted"
}
wait_reqs() { wait 2>/dev/null; } # the requests (the replicas are not this shell's children)
kstop() { # the replicas started so far
  [ -f "$TMP/pids" ] && while read -r p; do kill "$p" 2>/dev/null; done <"$TMP/pids"
  : >"$TMP/pids"
}

# SQLite: both replicas on one file (BEGIN IMMEDIATE serialises their writes)
K1=$(kstart "sqlite:$TMP/kbs.db" 1) K2=$(kstart "sqlite:$TMP/kbs.db" 2)
[ -n "$K1" ] && [ "$K1" != null ] && [ -n "$K2" ] && [ "$K2" != null ] || { echo "kbsd did not start"; cat "$TMP"/kbs*.log; exit 1; }
race sqlite "$K1" "$K2"
kstop

# PostgreSQL (skipped when postgresql-15 is not installed)
pg_start "$TMP"
rc=$?
if [ $rc -eq 0 ]; then
  KBS_URL=$(pg_createdb kbs)
  K1=$(kstart "$KBS_URL" 3) K2=$(kstart "$KBS_URL" 4)
  [ -n "$K1" ] && [ "$K1" != null ] && [ -n "$K2" ] && [ "$K2" != null ] || { echo "kbsd did not start"; cat "$TMP"/kbs*.log; exit 1; }
  race postgresql "$K1" "$K2"
else
  echo "postgresql part skipped (rc $rc)"
fi
echo "kbs-replicas-race: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
