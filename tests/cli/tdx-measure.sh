#!/usr/bin/env bash
# `confpool tdx measure` of a TD's boot (issue 15 items 1-2): the CCEL replay
# gives the published RTMRs of real logs (Intel's direct-boot test log,
# Google's COS logs, padded and not); the predicted event log replays to the
# printed RTMRs; the Authenticode digest in RTMR1's image event equals
# osslsigncode's for the same PE, signed and unsigned; RTMR1/2 do not depend
# on the firmware and RTMR2 follows the command line and initrd; the ACPI
# table loader, secure-boot and boot variables and TD HOB inputs are read
# and refused when malformed; usage errors exit 2, bad inputs 1.
set -uo pipefail
BIN=${CP_BIN_DIR:?}/confpool
DATA=${CP_TEST_DATA_DIR:?}/tdx/ccel
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
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
jq_() { python3 -c "import json,sys; d=json.load(open('$TMP/out')); print($1)"; }

# real logs
check replay-cos 0 "$BIN" tdx measure --replay-ccel "$DATA/cos-113-intel-tdx.bin" -o json
same cos-rtmr0 "$(jq_ "d['rtmr0']")" 3fa2f61f395b7f5feefb4ec2df61297f109ad8abcd6410c1b7df60f21f37b19297fc35e544039c7e1edece752afd17f6
same cos-rtmr1 "$(jq_ "d['rtmr1']")" f62dbc072bd5d3f3438b7b35c39a727f5aea2ffc2473f43723953f530daf62504f0a7944aa62c41a86e8a878c2b122c1
same cos-rtmr2 "$(jq_ "d['rtmr2']")" 4969684dc87381fc3b3134176c8d8806eaf0a901859f5f70cfae8d17714b46c10a8de219048c9fc09f11f381a6fbe7c1
same cos-fill "$(jq_ "d['padding'] > 0")" True
check replay-intel 0 "$BIN" tdx measure --replay-ccel "$DATA/intel-test-ccel.bin" -o json
same intel-rtmr0 "$(jq_ "d['rtmr0']")" 8083cd6898cc52a90231cdf9c0532bf9513c40465c6f71e56cbe32ee2c11a9dfc030297ca3ca0f62477d6d1f610d3fdb
same intel-events "$(jq_ "d['event_count']")" 19
# a truncated log, a flipped MR index, garbage after the fill
head -c 18000 "$DATA/cos-113-intel-tdx-dupe-separator-unpadded.bin" >"$TMP/trunc.bin"
check replay-truncated 1 "$BIN" tdx measure --replay-ccel "$TMP/trunc.bin"
python3 -c "
import sys; d=bytearray(open('$DATA/intel-test-ccel.bin','rb').read()); d[65]=9; open('$TMP/mr9.bin','wb').write(d)
d=bytearray(open('$DATA/intel-test-ccel.bin','rb').read())+b'\xff'*100+b'\x01'; open('$TMP/garbage.bin','wb').write(d)"
check replay-mr9 1 "$BIN" tdx measure --replay-ccel "$TMP/mr9.bin"
check replay-garbage 1 "$BIN" tdx measure --replay-ccel "$TMP/garbage.bin"

# a small PE kernel
python3 - "$TMP" <<'PY'
import struct, sys
t = sys.argv[1]
pe = bytearray(0x600); pe[0:2] = b'MZ'; struct.pack_into('<I', pe, 0x3c, 0x40); pe[0x40:0x44] = b'PE\0\0'
struct.pack_into('<HH', pe, 0x44, 0x8664, 1); struct.pack_into('<H', pe, 0x54, 240); o = 0x58
struct.pack_into('<H', pe, o, 0x20b); struct.pack_into('<I', pe, o + 60, 0x200); struct.pack_into('<I', pe, o + 108, 16)
s = o + 240; pe[s:s + 5] = b'.text'; struct.pack_into('<IIII', pe, s + 8, 0x400, 0x1000, 0x400, 0x200)
pe[0x200:0x600] = bytes((i * 13 + 5) & 0xff for i in range(0x400))
open(t + '/k.efi', 'wb').write(pe)
open(t + '/initrd', 'wb').write(b'initrd contents')
PY
OVMF=/usr/share/ovmf/OVMF.fd
fwopt=()
[ -r "$OVMF" ] && fwopt=(--ovmf "$OVMF")
check boot 0 "$BIN" tdx measure "${fwopt[@]}" --kernel "$TMP/k.efi" --initrd "$TMP/initrd" --cmdline "console=ttyS0 ro" \
  --eventlog-out "$TMP/ev.bin" -o json
cp "$TMP/out" "$TMP/boot.json"
r1=$(jq_ "d['rtmr1']"); r2=$(jq_ "d['rtmr2']")
check boot-replay 0 "$BIN" tdx measure --replay-ccel "$TMP/ev.bin" -o json
same replay-rtmr1 "$(jq_ "d['rtmr1']")" "$r1"
same replay-rtmr2 "$(jq_ "d['rtmr2']")" "$r2"
if [ -r "$OVMF" ]; then
  r0=$(python3 -c "import json; print(json.load(open('$TMP/boot.json'))['rtmr0'])")
  same replay-rtmr0 "$(jq_ "d['rtmr0']")" "$r0"
fi
# without firmware: the same RTMR1/2, no RTMR0
check boot-nofw 0 "$BIN" tdx measure --kernel "$TMP/k.efi" --initrd "$TMP/initrd" --cmdline "console=ttyS0 ro" -o json
same nofw-rtmr1 "$(jq_ "d['rtmr1']")" "$r1"
same nofw-rtmr2 "$(jq_ "d['rtmr2']")" "$r2"
same nofw-rtmr0 "$(jq_ "d['rtmr0']")" None
check boot-cmdline 0 "$BIN" tdx measure --kernel "$TMP/k.efi" --initrd "$TMP/initrd" --cmdline "console=ttyS0 rw" -o json
same cmdline-rtmr1 "$(jq_ "d['rtmr1']")" "$r1"
same cmdline-rtmr2-differs "$(jq_ "d['rtmr2'] != '$r2'")" True
# Authenticode: the image event's digest equals osslsigncode's, signed or not
if command -v osslsigncode >/dev/null && openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/k.pem" \
     -out "$TMP/c.pem" -subj /CN=t -days 2 >/dev/null 2>&1 &&
   osslsigncode sign -certs "$TMP/c.pem" -key "$TMP/k.pem" -h sha384 -in "$TMP/k.efi" -out "$TMP/ks.efi" >/dev/null 2>&1; then
  want=$(osslsigncode verify -in "$TMP/ks.efi" 2>&1 | sed -n 's/^Calculated message digest *: *\([0-9A-F]*\).*/\1/p' | tr A-F a-f)
  for f in k.efi ks.efi; do
    check "authenticode-$f" 0 "$BIN" tdx measure --kernel "$TMP/$f" -o json
    same "authenticode-$f" "$(jq_ "[e['digest'] for e in d['events'] if e['type']=='EV_EFI_BOOT_SERVICES_APPLICATION'][0]")" "$want"
  done
else
  # make check installs osslsigncode (scripts/install-deps.sh): there, not a skip but a failure
  if [ "${CP_TEST_NO_SKIP:-}" = 1 ]; then
    fail=$((fail + 1)); echo "FAIL: osslsigncode or openssl unavailable: no Authenticode cross-check"
  else
    echo "note: osslsigncode or openssl unavailable: Authenticode cross-check skipped"
  fi
fi
if [ -r "$OVMF" ]; then
  # ACPI: QEMU's loader allocating rsdp then tables, read from the directory
  mkdir -p "$TMP/acpi" "$TMP/sb" "$TMP/boot"
  python3 - "$TMP" <<'PY'
import struct, sys
t = sys.argv[1]
def ent(cmd, name=b''):
    e = bytearray(128); struct.pack_into('<I', e, 0, cmd); e[4:4 + len(name)] = name; return bytes(e)
open(t + '/acpi/table-loader', 'wb').write(ent(1, b'etc/acpi/rsdp') + ent(1, b'etc/acpi/tables') + ent(3))
open(t + '/acpi/rsdp', 'wb').write(b'RSD PTR ' + bytes(12))
open(t + '/acpi/tables', 'wb').write(b'FACP' + bytes(60))
open(t + '/sb/PK', 'wb').write(b'pk-list')
open(t + '/boot/BootOrder', 'wb').write(struct.pack('<HH', 1, 0))
open(t + '/boot/Boot0001', 'wb').write(b'one')
open(t + '/boot/Boot0000', 'wb').write(b'zero')
PY
  check acpi 0 "$BIN" tdx measure --ovmf "$OVMF" --kernel "$TMP/k.efi" --acpi-tables "$TMP/acpi" \
    --secure-boot-vars "$TMP/sb" --boot-vars "$TMP/boot" -o json
  same acpi-events "$(jq_ "sum(1 for e in d['events'] if e['type']=='EV_PLATFORM_CONFIG_FLAGS')")" 3
  same boot-vars "$(jq_ "sum(1 for e in d['events'] if e['type']=='EV_EFI_VARIABLE_BOOT')")" 3
  same acpi-rtmr1-unchanged "$(jq_ "d['rtmr1']")" "$r1"  # RTMR0's inputs leave RTMR1 alone
  rm "$TMP/acpi/tables"
  check acpi-missing-blob 1 "$BIN" tdx measure --ovmf "$OVMF" --kernel "$TMP/k.efi" --acpi-tables "$TMP/acpi"
  head -c 100 "$TMP/acpi/table-loader" >"$TMP/acpi/x" && mv "$TMP/acpi/x" "$TMP/acpi/table-loader"
  check acpi-bad-loader 1 "$BIN" tdx measure --ovmf "$OVMF" --kernel "$TMP/k.efi" --acpi-tables "$TMP/acpi"
  printf '\001\000\070\000' >"$TMP/hob"
  check bad-td-hob 1 "$BIN" tdx measure --ovmf "$OVMF" --kernel "$TMP/k.efi" --td-hob "$TMP/hob"
  printf 'x' >"$TMP/boot/BootOrder"
  check bad-bootorder 1 "$BIN" tdx measure --ovmf "$OVMF" --kernel "$TMP/k.efi" --boot-vars "$TMP/boot"
fi
# bad inputs and usage
check not-pe 1 "$BIN" tdx measure --kernel "$TMP/initrd"
check initrd-no-kernel 2 "$BIN" tdx measure --initrd "$TMP/initrd"
check replay-and-kernel 2 "$BIN" tdx measure --replay-ccel "$TMP/ev.bin" --kernel "$TMP/k.efi"
check rtmr-and-kernel 2 "$BIN" tdx measure --kernel "$TMP/k.efi" --rtmr "1:$(printf '%096d' 0)"
check acpi-no-ovmf 2 "$BIN" tdx measure --kernel "$TMP/k.efi" --acpi-tables "$TMP/acpi"
check bad-cmdline 1 "$BIN" tdx measure --kernel "$TMP/k.efi" --cmdline "$(printf 'a\tb')"
check nothing 2 "$BIN" tdx measure
echo "tdx-measure: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
