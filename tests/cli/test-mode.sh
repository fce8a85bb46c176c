#!/usr/bin/env bash
# Issue 20 item 8: a frozen clock (--now) on the shipped attestd and kbsd
# only behind an explicit --test-mode, which is refused off loopback and
# announced with a WARNING line on stderr at start.
set -uo pipefail
B=${CP_BIN_DIR:?}
TMP=$(mktemp -d)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
fail=0
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
# refused: run to completion, want exit 2 and a message naming the rule
refused() { # pattern cmd...
  local pat=$1; shift
  timeout 20 "$@" >"$TMP/out" 2>"$TMP/err"; local rc=$?
  [ "$rc" = 2 ] || bad "$* -> rc $rc (want 2): $(cat "$TMP/err")"
  grep -q -- "$pat" "$TMP/err" || bad "$*: stderr lacks '$pat': $(cat "$TMP/err")"
  [ -s "$TMP/out" ] && bad "$*: started anyway: $(cat "$TMP/out")"
}
# started: wait for the port line, check the warning, stop it
started() { # want-warning cmd...
  local warn=$1; shift
  "$@" >"$TMP/out" 2>"$TMP/err" &
  PID=$!
  for _ in $(seq 100); do [ -s "$TMP/out" ] && break; sleep 0.1; done
  grep -q '"port":' "$TMP/out" || bad "$*: did not start: $(cat "$TMP/err")"
  if [ "$warn" = yes ]; then
    grep -q "WARNING: TEST MODE, not for production: certificate and token time frozen at 1748736000" "$TMP/err" \
      || bad "$*: no test-mode warning: $(cat "$TMP/err")"
  else
    grep -q "TEST MODE" "$TMP/err" && bad "$*: test-mode warning without test mode"
  fi
  kill "$PID"; wait "$PID" 2>/dev/null; PID=
}

A="$B/confpool-attestd"
refused "refused without --test-mode" "$A" --port 0 --quiet --now 1748736000
refused "off loopback" "$A" --port 0 --quiet --test-mode --now 1748736000 --bind 0.0.0.0
refused "Unix seconds" "$A" --port 0 --quiet --test-mode --now 2025-06-01
started yes "$A" --port 0 --quiet --test-mode --now 1748736000
started no "$A" --port 0 --quiet

head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TMP/mk"
chmod 600 "$TMP/mk"
K=("$B/confpool-kbsd" --db "$TMP/kbs.db" --master-key-file "$TMP/mk" --quiet)
refused "refused without --test-mode" "${K[@]}" --now 1748736000
refused "off loopback" "${K[@]}" --test-mode --now 1748736000 --bind 0.0.0.0
refused "Unix seconds" "${K[@]}" --test-mode --now soon
started yes "${K[@]}" --test-mode --now 1748736000
started no "${K[@]}"

[ "$fail" = 0 ] || { echo "$fail failure(s)"; exit 1; }
echo "test-mode: ok"
