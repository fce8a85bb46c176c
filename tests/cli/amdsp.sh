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
# ---- launch measured by the AMD-SP (same options as `confpool snp measure`) ----
OVMF=/usr/share/ovmf/OVMF.fd
AMDSEV=${CP_TEST_DATA_DIR:?}/measure/ovmf_AmdSev_suffix.bin
[ -r "$OVMF" ] || fail "$OVMF missing (package ovmf)"
printf 'MZ a tiny kernel for the launch test' >"$T/vmlinuz"
printf '070701 a tiny initrd' >"$T/initrd"
report_of() { # report_of HANDLE SECRETS OUT
        expect 0 "$BIN/confpool" snp report "$3" --transport emulated --socket "$T/sp.sock" \
                --vmpck-file "$2" --guest-id "$1" --extended
}
policy_for() { # policy_for MEAS [extra json] > file
        printf '{"version":1,"measurements":["%s"]%s}\n' "$1" "${2:-}"
}
DEB=(--ovmf "$OVMF" --vcpus 4 --vcpu-type EPYC-Milan-v2 --vmm-type QEMU --guest-features 0x1 --mode snp)
expect 0 "$BIN/confpool" snp measure "${DEB[@]}"
M_DEB=$(cat "$T/out")
expect 0 "$BIN/confpool-amdspd" launch --state-dir "$S" --secrets-out "$T/s-deb" "${DEB[@]}"
H_DEB=$(cat "$T/out")
report_of "$H_DEB" "$T/s-deb" "$T/deb.bin"
expect 0 "$BIN/confpool" snp show "$T/deb.bin" -o json
grep -qi "$M_DEB" "$T/out" || fail "Debian OVMF launch: measurement differs from snp measure"
policy_for "$M_DEB" >"$T/pol-deb.json"
expect 0 "$BIN/confpool" snp verify "$T/deb.bin" --trust-ark "$T/ark.der" --offline --policy "$T/pol-deb.json"

# measured direct boot (AmdSev OVMF with SNP_KERNEL_HASHES; Debian's OVMF.fd has none)
MDB=(--ovmf "$AMDSEV" --vcpus 2 --vcpu-type EPYC-v4 --kernel "$T/vmlinuz" --initrd "$T/initrd")
expect 0 "$BIN/confpool" snp measure --mode snp "${MDB[@]}" --append "console=ttyS0 ro"
M_K=$(cat "$T/out")
expect 0 "$BIN/confpool-amdspd" launch --state-dir "$S" --secrets-out "$T/s-k" "${MDB[@]}" --append "console=ttyS0 ro"
H_K=$(cat "$T/out")
report_of "$H_K" "$T/s-k" "$T/k.bin"
policy_for "$M_K" >"$T/pol-k.json"
expect 0 "$BIN/confpool" snp verify "$T/k.bin" --trust-ark "$T/ark.der" --offline --policy "$T/pol-k.json"
# another command line: another measurement, refused by the policy (exit 6)
expect 0 "$BIN/confpool" snp measure --mode snp "${MDB[@]}" --append "console=ttyS0 rw"
M_K2=$(cat "$T/out")
[ "$M_K2" != "$M_K" ] || fail "cmdline not measured"
expect 0 "$BIN/confpool-amdspd" launch --state-dir "$S" --secrets-out "$T/s-k2" "${MDB[@]}" --append "console=ttyS0 rw"
H_K2=$(cat "$T/out")
report_of "$H_K2" "$T/s-k2" "$T/k2.bin"
expect 0 "$BIN/confpool" snp show "$T/k2.bin" -o json
grep -qi "$M_K2" "$T/out" || fail "changed cmdline: measurement differs from snp measure"
expect 6 "$BIN/confpool" snp verify "$T/k2.bin" --trust-ark "$T/ark.der" --offline --policy "$T/pol-k.json"
# launch usage errors: both or neither measurement source, --initrd without --kernel, bad --mode
expect 2 "$BIN/confpool-amdspd" launch --state-dir "$S" --secrets-out "$T/x" "${DEB[@]}" --measurement "$MEAS"
expect 2 "$BIN/confpool-amdspd" launch --state-dir "$S" --secrets-out "$T/x" --ovmf "$OVMF" --vcpus 1
expect 2 "$BIN/confpool-amdspd" launch --state-dir "$S" --secrets-out "$T/x" --ovmf "$OVMF" --vcpus 1 \
        --vcpu-type EPYC --initrd "$T/initrd"
expect 1 "$BIN/confpool-amdspd" launch --state-dir "$S" --secrets-out "$T/x" --ovmf "$OVMF" --vcpus 1 \
        --vcpu-type EPYC --mode sev
# Debian's OVMF cannot do measured direct boot
expect 1 "$BIN/confpool-amdspd" launch --state-dir "$S" --secrets-out "$T/x" "${DEB[@]}" --kernel "$T/vmlinuz"

# ---- ID block verified at launch ----
KEYS=${CP_TEST_DATA_DIR:?}/measure
hex2bin() { printf "$(printf '%s' "$1" | sed 's/../\\x&/g')"; }
bin2hex() { od -An -v -tx1 | tr -d ' \n'; }
M_DEB_B64=$(hex2bin "$M_DEB" | base64 -w0)
expect 0 "$BIN/confpool" snp id-block --measurement "$M_DEB_B64" --idkey "$KEYS/id_key_test.pem" \
        --authorkey "$KEYS/author_key_test.pem" --family-id 000102030405060708090a0b0c0d0e0f \
        --image-id f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff --guest-svn 5
cp "$T/out" "$T/idb.txt"
IDK=$(sed -n 's/^id_key_hash: //p' "$T/idb.txt" | base64 -d | bin2hex)
AUK=$(sed -n 's/^author_key: //p' "$T/idb.txt" | base64 -d | bin2hex)
[ ${#IDK} = 96 ] && [ ${#AUK} = 96 ] || fail "id-block key digests"
expect 0 "$BIN/confpool-amdspd" launch --state-dir "$S" --secrets-out "$T/s-id" "${DEB[@]}" \
        --id-block "$T/idb.txt" --id-auth "$T/idb.txt"
H_ID=$(cat "$T/out")
report_of "$H_ID" "$T/s-id" "$T/id.bin"
expect 0 "$BIN/confpool" snp show "$T/id.bin" -o json
grep -qi "$IDK" "$T/out" || fail "ID key digest not reported"
grep -qi "$AUK" "$T/out" || fail "author key digest not reported"
grep -qi "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff" "$T/out" || fail "image ID not reported"
policy_for "$M_DEB" ",\"trusted_id_key_digests\":[\"$IDK\"],\"trusted_author_key_digests\":[\"$AUK\"],\"require_id_block\":true,\"require_author_key\":true,\"min_guest_svn\":5" >"$T/pol-id.json"
expect 0 "$BIN/confpool" snp verify "$T/id.bin" --trust-ark "$T/ark.der" --offline --policy "$T/pol-id.json"
# the report of the guest launched without an ID block fails that policy
expect 6 "$BIN/confpool" snp verify "$T/deb.bin" --trust-ark "$T/ark.der" --offline --policy "$T/pol-id.json"
# raw and base64 files work too
sed -n 's/^id-block=\([^,]*\),.*/\1/p' "$T/idb.txt" | base64 -d >"$T/idb.raw"
sed -n 's/^id-block=[^,]*,id-auth=\(.*\)/\1/p' "$T/idb.txt" >"$T/ida.b64"
expect 0 "$BIN/confpool-amdspd" launch --state-dir "$S" --secrets-out "$T/s-id2" "${DEB[@]}" \
        --id-block "$T/idb.raw" --id-auth "$T/ida.b64"
# signed for another measurement (2 vCPUs launched): refused at launch
expect 1 "$BIN/confpool-amdspd" launch --state-dir "$S" --secrets-out "$T/x" --ovmf "$OVMF" --vcpus 2 \
        --vcpu-type EPYC-Milan-v2 --id-block "$T/idb.txt" --id-auth "$T/idb.txt"
grep -q "ID block" "$T/err" || { cat "$T/err"; fail "refusal does not name the ID block"; }
# another launch policy than the block's: refused
expect 1 "$BIN/confpool-amdspd" launch --state-dir "$S" --secrets-out "$T/x" "${DEB[@]}" --policy 0x70000 \
        --id-block "$T/idb.txt" --id-auth "$T/idb.txt"
grep -q "policy" "$T/err" || { cat "$T/err"; fail "refusal does not name the policy"; }
# half a pair, claimed digests next to a signed block
expect 2 "$BIN/confpool-amdspd" launch --state-dir "$S" --secrets-out "$T/x" "${DEB[@]}" --id-block "$T/idb.txt"
expect 2 "$BIN/confpool-amdspd" launch --state-dir "$S" --secrets-out "$T/x" "${DEB[@]}" \
        --id-block "$T/idb.txt" --id-auth "$T/idb.txt" --id-key-digest "$IDK"
# usage errors
expect 2 "$BIN/confpool" snp report "$T/y.bin" --transport emulated
expect 2 "$BIN/confpool" snp report "$T/y.bin" --vmpl 4
echo "amdsp CLI: ok"
