#!/usr/bin/env bash
# The software TDX through the CLI: `confpool tdx emu` makes a quote and its
# collateral under an emulated root; `tdx verify` accepts it with
# --trust-root and refuses it with Intel's pinned root (exit 4); every TCB
# status the emulated PCS can be set to comes out of `tdx verify -o json`
# (Revoked: exit 5); `tdx measure` agrees with the software TDX module and
# with an independent Python computation of MRTD; `tdx fetch` gets the
# collateral from the emulated PCS on loopback and serves it from its cache
# afterwards; `tdx quote` in another process gets a quote over the TD's
# emulated channel; usage errors and malformed images are refused.
set -uo pipefail
BIN=${CP_BIN_DIR:?}/confpool
TMP=$(mktemp -d)
PCS_PID=
cleanup() { [ -n "$PCS_PID" ] && kill "$PCS_PID" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
pass=0
fail=0
check() { # name expected-exit command...
  local name=$1 want=$2; shift 2
  "$@" >"$TMP/out" 2>"$TMP/err"
  local got=$?
  if [ "$got" -eq "$want" ]; then pass=$((pass + 1)); else
    fail=$((fail + 1)); echo "FAIL: $name: exit $got, expected $want"; sed 's/^/    /' "$TMP/err" | head -5
  fi
}
same() { if [ "$2" = "$3" ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1: '$2', expected '$3'"; fi; }
col() { # dir: the collateral options
  echo --tcb-info "$1/tcb_info.json" --qe-identity "$1/qe_identity.json" --tcb-signing-chain "$1/tcb_signing_chain.pem" \
       --pck-crl "$1/pck_crl.der" --root-ca-crl "$1/root_ca_crl.der"
}

# a TDVF image: Debian's OVMF.fd carries real TDVF metadata; else a synthetic one
IMG=/usr/share/ovmf/OVMF.fd
if [ ! -f "$IMG" ]; then
  IMG=$TMP/tdvf.fd
  python3 - "$IMG" <<'PY'
import struct, sys, uuid
n = 64 * 1024; d = bytearray((i * 7 + 3) & 255 for i in range(n)); off = n - 0x1000
secs = [(0x2000, 0x2000, 0xfffe0000, 0x2000, 0, 1), (0, 0, 0x809000, 0x2000, 2, 0)]
d[off:off + 16] = b'TDVF' + struct.pack('<III', 16 + 32 * len(secs), 1, len(secs))
for i, s in enumerate(secs): d[off + 16 + 32 * i:off + 48 + 32 * i] = struct.pack('<IIQQII', *s)
foot = n - 50; ent = foot - 22
d[ent:ent + 6] = struct.pack('<IH', n - off, 22); d[ent + 6:ent + 22] = uuid.UUID('e47a6535-984a-4798-865e-4685a7bf8ec2').bytes_le
d[foot:foot + 2] = struct.pack('<H', 40); d[foot + 2:foot + 18] = uuid.UUID('96b582de-1fb2-45f7-baea-a366c55a082d').bytes_le
open(sys.argv[1], 'wb').write(d)
PY
fi

E=$TMP/e
RD=$(printf 'ab%.0s' $(seq 64))
check "emu" 0 "$BIN" tdx emu --out "$E" --tdvf "$IMG" --report-data "$RD"
check "verify with the emulated root" 0 "$BIN" tdx verify "$E/quote.bin" $(col "$E") --trust-root "$E/root.pem" -o json
same "status" "$(jq -r .tcb_status "$TMP/out")" UpToDate
same "report data" "$(jq -r .quote.td.report_data "$TMP/out")" "$RD"
MRTD=$(jq -r .quote.td.mrtd "$TMP/out")
check "Intel's root refuses it" 4 "$BIN" tdx verify "$E/quote.bin" $(col "$E")
grep -q "Intel SGX Root CA" "$TMP/err" && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: refusal names the root"; }

# measure agrees with the module, and with an independent computation
check "measure" 0 "$BIN" tdx measure --tdvf "$IMG" -o json
same "measure = module" "$(jq -r .mrtd "$TMP/out")" "$MRTD"
PY_MRTD=$(python3 - "$IMG" <<'PY'
import hashlib, struct, sys, uuid
d = open(sys.argv[1], 'rb').read(); g = uuid.UUID('e47a6535-984a-4798-865e-4685a7bf8ec2').bytes_le
i = d.rfind(g); p = len(d) - struct.unpack('<I', d[i - 6:i - 2])[0]; n = struct.unpack('<I', d[p + 12:p + 16])[0]
h = hashlib.sha384()
for s in range(n):
    do, rs, gpa, ms, t, a = struct.unpack('<IIQQII', d[p + 16 + 32 * s:p + 48 + 32 * s])
    for pg in range(ms // 4096):
        if not a & 2:
            b = bytearray(128); b[:12] = b'MEM.PAGE.ADD'; b[16:24] = struct.pack('<Q', gpa + pg * 4096); h.update(b)
        if a & 1:
            for c in range(16):
                o = pg * 4096 + c * 256
                b = bytearray(128); b[:9] = b'MR.EXTEND'; b[16:24] = struct.pack('<Q', gpa + o); h.update(b)
                h.update((d[do + o:do + min(o + 256, rs)] if o < rs else b'').ljust(256, b'\0'))
print(h.hexdigest())
PY
)
same "measure = python" "$PY_MRTD" "$MRTD"
check "measure two-pass" 0 "$BIN" tdx measure --tdvf "$IMG" --two-pass -o json
[ "$(jq -r .mrtd "$TMP/out")" != "$MRTD" ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: two-pass MRTD equals single-pass"; }
Z=$(printf '00%.0s' $(seq 48))
check "measure rtmr" 0 "$BIN" tdx measure --tdvf "$IMG" --rtmr "2:$Z" -o json
same "rtmr2" "$(jq -r .rtmr2 "$TMP/out")" "$(python3 -c 'import hashlib; print(hashlib.sha384(bytes(96)).hexdigest())')"
check "measure: not an image" 1 "$BIN" tdx measure --tdvf "$E/quote.bin"
head -c 65536 /dev/zero >"$TMP/zero.fd"
check "measure: no TDVF metadata" 1 "$BIN" tdx measure --tdvf "$TMP/zero.fd"
grep -q "footer table" "$TMP/err" && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: refusal names the footer table"; }
check "measure: bad rtmr index" 2 "$BIN" tdx measure --tdvf "$IMG" --rtmr "4:$Z"
check "measure: no image" 2 "$BIN" tdx measure

# every TCB status through the emulated PCS
for s in UpToDate SWHardeningNeeded ConfigurationNeeded ConfigurationAndSWHardeningNeeded OutOfDate \
         OutOfDateConfigurationNeeded; do
  check "emu $s" 0 "$BIN" tdx emu --out "$TMP/$s" --tcb-status "$s"
  check "verify $s" 0 "$BIN" tdx verify "$TMP/$s/quote.bin" $(col "$TMP/$s") --trust-root "$TMP/$s/root.pem" -o json
  same "status $s" "$(jq -r .tcb_status "$TMP/out")" "$s"
done
check "emu Revoked" 0 "$BIN" tdx emu --out "$TMP/rv" --tcb-status Revoked
check "verify Revoked" 5 "$BIN" tdx verify "$TMP/rv/quote.bin" $(col "$TMP/rv") --trust-root "$TMP/rv/root.pem"
check "emu recovery" 0 "$BIN" tdx emu --out "$TMP/rc" --recovery
check "verify after TCB recovery" 0 "$BIN" tdx verify "$TMP/rc/quote.bin" $(col "$TMP/rc") --trust-root "$TMP/rc/root.pem" -o json
same "recovery status" "$(jq -r .tcb_status "$TMP/out")" OutOfDate
same "recovery advisory" "$(jq -r '.advisory_ids[0]' "$TMP/out")" INTEL-SA-00960
check "emu: bad status" 2 "$BIN" tdx emu --out "$TMP/x" --tcb-status Fine

# fetch from the emulated PCS on loopback, then from the cache
S=$TMP/s
"$BIN" tdx emu --out "$S" --serve --port-file "$TMP/port" --socket "$TMP/td.sock" 2>"$TMP/pcs.log" &
PCS_PID=$!
for _ in $(seq 100); do [ -s "$TMP/port" ] && break; sleep 0.1; done
PORT=$(cat "$TMP/port" 2>/dev/null)
F=$TMP/fetched
check "fetch" 0 "$BIN" tdx fetch --pcs-url "http://127.0.0.1:$PORT" --fmspc "$(cat "$S/fmspc.txt")" --out "$F"
same "fetched 4" "$(grep -c 'fetched from' "$TMP/err")" 4
check "verify with fetched collateral" 0 "$BIN" tdx verify "$S/quote.bin" $(col "$F") --trust-root "$S/root.pem" -o json
same "fetched status" "$(jq -r .revocation_checked "$TMP/out")" true
# a guest in another process: the TD's emulated channel gives a quote that verifies, for its REPORTDATA
RD2=$(printf 'cd%.0s' $(seq 64))
check "guest quote over the channel" 0 "$BIN" tdx quote --socket "$TMP/td.sock" --report-data "$RD2" --out "$TMP/g.quote"
check "verify the guest's quote" 0 "$BIN" tdx verify "$TMP/g.quote" $(col "$F") --trust-root "$S/root.pem" -o json
same "guest report data" "$(jq -r .quote.td.report_data "$TMP/out")" "$RD2"
same "guest MRTD = the TD's" "$(jq -r .quote.td.mrtd "$TMP/out")" "$("$BIN" tdx show "$S/quote.bin" -o json | jq -r .td.mrtd)"
check "guest report0 over the channel" 0 "$BIN" tdx quote --socket "$TMP/td.sock" --report0 --out "$TMP/g.rep"
same "TDREPORT size" "$(stat -c %s "$TMP/g.rep")" 1024
check "guest: no socket" 1 "$BIN" tdx quote --socket "$TMP/none.sock" --out "$TMP/x"
check "guest: no configfs-tsm" 1 "$BIN" tdx quote --tsm-root "$TMP/no-tsm" --out "$TMP/x"
check "fetch: unknown fmspc" 7 "$BIN" tdx fetch --pcs-url "http://127.0.0.1:$PORT" --fmspc 000000000001 --out "$TMP/f2"
kill "$PCS_PID"; wait "$PCS_PID" 2>/dev/null; PCS_PID=
check "fetch again: cached" 0 "$BIN" tdx fetch --pcs-url "http://127.0.0.1:$PORT" --fmspc "$(cat "$S/fmspc.txt")" --out "$F"
same "cached 4" "$(grep -c ': cached' "$TMP/err")" 4
check "fetch offline, expired cache" 1 "$BIN" tdx fetch --offline --max-age 0 --fmspc "$(cat "$S/fmspc.txt")" --out "$TMP/f3"
check "fetch: plain http off loopback" 2 "$BIN" tdx fetch --pcs-url http://example.com --fmspc 00906ed50000
check "fetch: bad fmspc" 2 "$BIN" tdx fetch --fmspc 00906e

# quote v5 (issue 15 item 3): TD 1.0 and TD 1.5 bodies verify with the emulated root only
for bt in 2 3; do
  check "emu v5 body type $bt" 0 "$BIN" tdx emu --out "$TMP/v5-$bt" --quote-version 5 --body-type "$bt"
  check "verify v5 body type $bt" 0 "$BIN" tdx verify "$TMP/v5-$bt/quote.bin" $(col "$TMP/v5-$bt") \
    --trust-root "$TMP/v5-$bt/root.pem" -o json
  same "v5 version/body type $bt" "$(python3 -c "import json; q=json.load(open('$TMP/out'))['quote']; print(q['version'], q['body_type'])")" "5 $bt"
  check "verify v5 body type $bt with Intel's root" 4 "$BIN" tdx verify "$TMP/v5-$bt/quote.bin" $(col "$TMP/v5-$bt")
done
# TDRelaunchAdvised (issue 15 item 4): a TD-preserving module update under the running TD
check "emu: module update, TD 1.5" 0 "$BIN" tdx emu --out "$TMP/rl" --quote-version 5 --body-type 3 --module-update
check "verify relaunch" 0 "$BIN" tdx verify "$TMP/rl/quote.bin" $(col "$TMP/rl") --trust-root "$TMP/rl/root.pem" -o json
same "relaunch status" "$(python3 -c "import json; d=json.load(open('$TMP/out')); print(d['tcb_status'], d['tdx_module_tcb_status'])")" "TDRelaunchAdvised OutOfDate"
echo '{}' >"$TMP/rl/default.json"
echo '{"accepted_tcb_status": ["UpToDate", "TDRelaunchAdvised"]}' >"$TMP/rl/relaunch.json"
check "relaunch refused by the default policy" 6 "$BIN" tdx verify "$TMP/rl/quote.bin" $(col "$TMP/rl") \
  --trust-root "$TMP/rl/root.pem" --policy "$TMP/rl/default.json"
check "relaunch accepted by a policy naming it" 0 "$BIN" tdx verify "$TMP/rl/quote.bin" $(col "$TMP/rl") \
  --trust-root "$TMP/rl/root.pem" --policy "$TMP/rl/relaunch.json"
check "emu: module update, v4" 0 "$BIN" tdx emu --out "$TMP/rl4" --module-update
check "verify v4 after a module update" 0 "$BIN" tdx verify "$TMP/rl4/quote.bin" $(col "$TMP/rl4") --trust-root "$TMP/rl4/root.pem" -o json
same "v4: OutOfDate" "$(python3 -c "import json; print(json.load(open('$TMP/out'))['tcb_status'])")" OutOfDate
check "emu: TD 1.5 body in a v4 quote" 2 "$BIN" tdx emu --out "$TMP/v5-x" --body-type 3
check "emu: quote version 6" 2 "$BIN" tdx emu --out "$TMP/v5-x" --quote-version 6

echo "tdx-emu: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
