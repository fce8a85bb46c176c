#!/bin/bash
# Software AMD-SP end to end: confpool-amdspd init/launch/serve, the guest CLI
# `confpool snp report` over the emulated channel, `confpool snp verify` with
# the emulated ARK trusted (and rejected with AMD's roots only), replay
# refusal, TCB update, KDS fetch through the daemon's endpoint.
set -u
BIN=${CP_BIN_DIR:?}
T=$(mktemp -d /tmp/cp-amdsp-cli-XXXXXX)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
expect() { # expect CODE cmd...
        local want=$1; shift
        "$@" >"$T/out" 2>"$T/err"; local got=$?
        [ "$got" = "$want" ] || { cat "$T/err" >&2; fail "exit $got, expected $want: $*"; }
}

S="$T/host"
expect 0 "$BIN/confpool-amdspd" init --state-dir "$S" --generation Milan --tcb bl=3,tee=0,snp=8,ucode=115
grep -q '^Milan [0-9a-f]\{128\}$' "$T/out" || fail "init output"
[ "$(stat -c %a "$S/host-secret")" = 600 ] || fail "host secret mode"
MEAS=$(printf '%096d' 0 | tr 0 a)
expect 0 "$BIN/confpool-amdspd" launch --state-dir "$S" --measurement "$MEAS" --secrets-out "$T/secrets" \
        --host-data "$(printf '%064d' 7)"
H=$(cat "$T/out")
[ "$(stat -c %s "$T/secrets")" = 4096 ] || fail "secrets page size"
expect 0 "$BIN/confpool-amdspd" export --state-dir "$S" --ark "$T/ark.der"

"$BIN/confpool-amdspd" serve --state-dir "$S" --socket "$T/sp.sock" --kds-port 0 --port-file "$T/port" \
        2>"$T/daemon.log" &
PID=$!
for _ in $(seq 100); do [ -s "$T/port" ] && [ -S "$T/sp.sock" ] && break; sleep 0.05; done
[ -S "$T/sp.sock" ] || fail "daemon did not start"
PORT=$(cat "$T/port")

RD=$(printf '%0128d' 0 | tr 0 5)
cp "$T/secrets" "$T/secrets.old"
expect 0 "$BIN/confpool" snp report "$T/ext.bin" --transport emulated --socket "$T/sp.sock" \
        --vmpck-file "$T/secrets" --guest-id "$H" --report-data "$RD" --extended
[ "$(stat -c %s "$T/ext.bin")" -gt 1184 ] || fail "extended report size"
expect 0 "$BIN/confpool" snp verify "$T/ext.bin" --trust-ark "$T/ark.der" --offline -o json
grep -q '"measurement"' "$T/out" || grep -q aaaa "$T/out" || fail "verify output"
# AMD's roots only: untrusted (exit 4)
expect 4 "$BIN/confpool" snp verify "$T/ext.bin" --offline
# report data and measurement are the ones asked for
expect 0 "$BIN/confpool" snp show "$T/ext.bin" -o json
grep -qi "$RD" "$T/out" || fail "report data not in report"
grep -qi "$MEAS" "$T/out" || fail "measurement not in report"

# replay: an old secrets page reuses the sequence number -> refused
expect 1 "$BIN/confpool" snp report "$T/replay.bin" --transport emulated --socket "$T/sp.sock" \
        --vmpck-file "$T/secrets.old" --guest-id "$H"
# the current one still works (plain report), VMPL 2 under VMPCK0
expect 0 "$BIN/confpool" snp report "$T/plain.bin" --transport emulated --socket "$T/sp.sock" \
        --vmpck-file "$T/secrets" --guest-id "$H" --vmpl 2
[ "$(stat -c %s "$T/plain.bin")" = 1184 ] || fail "plain report size"
# wrong guest: authentication fails
"$BIN/confpool-amdspd" launch --state-dir "$S" --measurement "$MEAS" --secrets-out "$T/secrets2" >/dev/null || fail launch2
expect 1 "$BIN/confpool" snp report "$T/x.bin" --transport emulated --socket "$T/sp.sock" \
        --vmpck-file "$T/secrets2" --guest-id "$H"

# the plain report verifies with the VCEK and chain fetched from the daemon's KDS endpoint
expect 0 "$BIN/confpool" snp fetch ca --product Milan --kds-url "http://127.0.0.1:$PORT" --cache "$T/cache" \
        -O "$T/chain.pem"
grep -c 'BEGIN CERTIFICATE' "$T/chain.pem" | grep -q '^2$' || fail "cert_chain is not two PEM certificates"
expect 0 "$BIN/confpool" snp verify "$T/plain.bin" --trust-ark "$T/ark.der" --ask "$T/chain.pem" \
        --kds-url "http://127.0.0.1:$PORT" --cache "$T/cache" --check-revocation
# TCB update: restart the daemon at a new TCB; the old report still verifies
# (its VCEK is still served), a new one carries the new TCB
kill "$PID"; wait "$PID" 2>/dev/null; PID=
expect 0 "$BIN/confpool-amdspd" set-tcb --state-dir "$S" --tcb bl=4,tee=0,snp=9,ucode=115
"$BIN/confpool-amdspd" serve --state-dir "$S" --socket "$T/sp.sock" --kds-port "$PORT" 2>>"$T/daemon.log" &
PID=$!
for _ in $(seq 100); do [ -S "$T/sp.sock" ] && curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.05; done
expect 0 "$BIN/confpool" snp report "$T/new.bin" --transport emulated --socket "$T/sp.sock" \
        --vmpck-file "$T/secrets" --guest-id "$H"
expect 0 "$BIN/confpool" snp verify "$T/new.bin" --trust-ark "$T/ark.der" --ask "$T/chain.pem" \
        --kds-url "http://127.0.0.1:$PORT" --cache "$T/cache2" -o json
grep -q '"snp": *9' "$T/out" || grep -q 'snp=9\|"snp":9' "$T/out" || { cat "$T/out"; fail "new TCB not reported"; }
expect 0 "$BIN/confpool" snp verify "$T/plain.bin" --trust-ark "$T/ark.der" --ask "$T/chain.pem" \
        --kds-url "http://127.0.0.1:$PORT" --cache "$T/cache2"
# usage errors
expect 2 "$BIN/confpool" snp report "$T/y.bin" --transport emulated
expect 2 "$BIN/confpool" snp report "$T/y.bin" --vmpl 4
echo "amdsp CLI: ok"
