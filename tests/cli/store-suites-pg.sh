#!/usr/bin/env bash
# The store-backed unit suites against PostgreSQL: the same binaries ctest
# runs against SQLite (test-cp-store, test-cp-lease, test-cp-api, test-cp-aad,
# test-cp-attest-policy, test-kbsd, test-k8s), here with CP_TEST_DB naming a
# throw-away cluster (tests/cli/lib/pg.sh; tests/framework/test-db.h gives
# each test database a schema of its own).
set -uo pipefail
BUILD=${CP_BUILD_DIR:?}
. "$(dirname "$0")/lib/pg.sh"
TMP=$(mktemp -d)
cleanup() { pg_stop; rm -rf "$TMP"; }
trap cleanup EXIT
pg_start "$TMP" || exit $?
export CP_TEST_DB=$PG_URL
fail=0
for t in test-cp-store test-cp-lease test-cp-api test-cp-aad test-cp-attest-policy test-kbsd test-k8s; do
  if "$BUILD/$t" >"$TMP/$t.log" 2>&1; then
    echo "ok   $t on PostgreSQL: $(tail -1 "$TMP/$t.log")"
  else
    echo "FAIL $t on PostgreSQL:"; grep -v "^  PASS" "$TMP/$t.log" | tail -40; fail=1
  fi
done
# the database really held the suites' data (not a silent fallback to SQLite)
n=$(pg_psql "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 't\_%'")
[ "${n:-0}" -ge 5 ] || { echo "FAIL: only ${n:-0} test schemas in PostgreSQL"; fail=1; }
exit $fail
