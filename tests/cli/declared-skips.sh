#!/usr/bin/env bash
# Issue 20 item 5: a check skipped for a missing tool (cryptsetup, the only
# cross-check of our LUKS2 images) is declared to ctest (exit 77 under
# SKIP_RETURN_CODE), never a silent pass, and CP_TEST_NO_SKIP=1 (make
# check) turns it into a failure.
set -uo pipefail
BUILD=${CP_BUILD_DIR:?}
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail=0
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
want() { # rc pattern cmd... (env set by the caller)
  local rc_want=$1 pat=$2; shift 2
  "$@" >"$TMP/out" 2>&1; local rc=$?
  [ "$rc" = "$rc_want" ] || bad "$* -> rc $rc (want $rc_want): $(tail -5 "$TMP/out")"
  grep -q -- "$pat" "$TMP/out" || bad "$*: output lacks '$pat': $(tail -5 "$TMP/out")"
}
NOCS=$TMP/no-such-cryptsetup
# the unit framework: a TEST_SKIP makes the binary exit 77 and print SKIP, not PASS
env -u CP_TEST_NO_SKIP CP_CRYPTSETUP="$NOCS" CP_TEST_FILTER=cryptsetup \
  want 77 "SKIP cryptsetup_reads_confpool_images" "$BUILD/test-luks2"
grep -q "PASS cryptsetup" "$TMP/out" && bad "a skipped cryptsetup test counted as a pass"
CP_TEST_NO_SKIP=1 CP_CRYPTSETUP="$NOCS" CP_TEST_FILTER=cryptsetup \
  want 1 "skip refused (CP_TEST_NO_SKIP=1)" "$BUILD/test-luks2"
# the script: everything else runs, and the missing cross-check is declared
env -u CP_TEST_NO_SKIP CP_CRYPTSETUP="$NOCS" want 77 "SKIP: cryptsetup not installed" bash "$HERE/kbs-disk.sh"
CP_TEST_NO_SKIP=1 CP_CRYPTSETUP="$NOCS" want 1 "CP_TEST_NO_SKIP=1" bash "$HERE/kbs-disk.sh"
# ctest knows 77 means skipped for both
ctest --test-dir "$BUILD" --show-only=json-v1 >"$TMP/tests.json" 2>/dev/null
python3 - "$TMP/tests.json" <<'PY' || bad "SKIP_RETURN_CODE 77 not declared"
import json, sys
d = json.load(open(sys.argv[1]))
props = {t["name"]: {p["name"]: p["value"] for p in t.get("properties", [])} for t in d["tests"]}
for name in ("test-luks2", "cli-kbs-disk"):
    assert str(props[name].get("SKIP_RETURN_CODE")) == "77", (name, props[name])
PY
[ "$fail" = 0 ] || { echo "$fail failure(s)"; exit 1; }
echo "declared-skips: ok"
