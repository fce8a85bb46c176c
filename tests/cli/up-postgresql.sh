#!/bin/bash
# confpool up --db postgresql://... (issue 17): the embedded stack's
# confpoold on an existing PostgreSQL database (a throw-away cluster,
# tests/cli/lib/pg.sh): it leads (lease term >= 1), its /healthz names the
# store, what the CLI creates is a row in that database (not in a SQLite
# file of the state directory), and `down` stops it.
set -u
BIN=${CP_BIN_DIR:?}
. "$(dirname "$0")/lib/pg.sh"
T=$(mktemp -d /tmp/cp-uppg-XXXXXX)
export CONFPOOL_CONFIG_DIR=$T/cli
cleanup() { "$BIN/confpool" down --state-dir "$T/s" >/dev/null 2>&1; pg_stop; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
pg_start "$T" || exit $?
"$BIN/confpool" up --state-dir "$T/s" --db "$PG_URL" >"$T/up.out" 2>&1 || { cat "$T/up.out"; fail "up --db"; }
P=$(cat "$T/s/confpoold.port")
H=$(curl -s --cacert "$T/s/cp/ca.pem" "https://localhost:$P/healthz")
[ "$(echo "$H" | jq -r .store.kind)" = postgresql ] || fail "healthz store: $H"
[ "$(echo "$H" | jq -r .role)" = leader ] || fail "healthz role: $H"
"$BIN/confpool" group create -n rg1 -l eastus -o none || fail "group create"
[ "$(pg_psql "SELECT count(*) FROM resources WHERE name = 'rg1'")" = 1 ] || fail "the group is not in PostgreSQL"
[ ! -e "$T/s/cp/confpoold.db" ] || fail "a SQLite file was created beside --db"
"$BIN/confpool" down --state-dir "$T/s" >/dev/null 2>&1 || fail "down"
"$BIN/confpool" down --db x >/dev/null 2>&1 && fail "down accepted --db"
echo "up-postgresql: ok"
