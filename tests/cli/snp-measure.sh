#!/usr/bin/env bash
# confpool snp measure / id-block: sev-snp-measure's published vectors through
# the CLI (same option names), output formats, --dump-vmsa, usage and error
# exit codes, Debian's OVMF, and the id-block create/verify round trip.
# Set CP_SVSM_FIXTURES to a directory holding sev-snp-measure's svsm.bin and
# svsm_ovmf.fd (tests/fixtures/ of virtee/sev-snp-measure) to also check the
# two published snp:svsm vectors (the images are too large to keep here).
set -uo pipefail
BIN=${CP_BIN_DIR:?}/confpool
DATA=${CP_TEST_DATA_DIR:?}/measure
AMD=$DATA/ovmf_AmdSev_suffix.bin
X64=$DATA/ovmf_OvmfX64_suffix.bin
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# expect NAME WANT-STDOUT command...   (exit 0 and exact first output line)
expect() {
  local name=$1 want=$2; shift 2
  local got
  got=$("$@" 2>"$TMP/err")
  local rc=$?
  if [ $rc -eq 0 ] && [ "$got" = "$want" ]; then ok; else
    bad "$name: exit $rc, got '$got', want '$want'"; sed 's/^/    /' "$TMP/err" | head -3; fi
}
# code NAME EXIT command...
code() {
  local name=$1 want=$2; shift 2
  "$@" >"$TMP/out" 2>"$TMP/err"
  local rc=$?
  if [ $rc -eq "$want" ]; then ok; else bad "$name: exit $rc, want $want"; sed 's/^/    /' "$TMP/err" | head -3; fi
}

M=("$BIN" snp measure)
NULLK=(--kernel /dev/null --initrd /dev/null)
APP="console=ttyS0 loglevel=7"
OVMF_HASH=086e2e9149ebf45abdc3445fba5b2da8270bdbb04094d7a2c37faaa4b24af3aa16aff8c374c2a55c467a50da6d466b74

# ---- published vectors (snp-measure.md §10) ----
expect ovmf-hash $OVMF_HASH "${M[@]}" --mode snp:ovmf-hash --ovmf "$AMD"
expect snp_default 803f691094946e42068aaa3a8f9e26a5c89f36f7b73ecfb28c653360fe4b3aba7e534442e7e1e17895dfe778d0228977 \
  "${M[@]}" --mode snp --vcpus 1 --vcpu-type EPYC-v4 --ovmf "$AMD" "${NULLK[@]}" --append "$APP" --guest-features 0x21
expect snp_only 6d287813eb5222d770f75005c664e34c204f385ce832cc2ce7d0d6f354454362f390ef83a92046c042e706363b4b08fa \
  "${M[@]}" --mode snp --vcpus 1 --vcpu-type EPYC-v4 --ovmf "$AMD" "${NULLK[@]}" --append "$APP"
expect seeded_default 329c8ce0972ae52343b64d34a434a86f245dfd74f5ed7aae15d22efc78fb9683632b9b50e4e1d7fa41179ef98a7ef198 \
  "${M[@]}" --mode snp --vcpus 1 --vcpu-type EPYC-v4 --ovmf "$AMD" "${NULLK[@]}" --append "" \
  --guest-features 0x21 --snp-ovmf-hash $OVMF_HASH
expect ec2_default 0ce9ccc06bab55eebe8abc234f3df6514883977a68a591b71052498ab52b2f1aa415db338033946ef93aa8278c0d67fb \
  "${M[@]}" --mode snp --vcpus 1 --vcpu-type EPYC-v4 --vmm-type ec2 --ovmf "$AMD" "${NULLK[@]}" --guest-features 0x21
expect ec2_no_type 0883bd0eeb716e65b7b977a321c278d1e51b33b5c655fab985443bbcc65c086b9c15e8a0bd8811050dec7e24964e5056 \
  "${M[@]}" --mode snp --vcpus 1 --vmm-type ec2 --ovmf "$AMD" "${NULLK[@]}"
expect gce_4 5c5debf100fc339f90276e761ee1f1658d08922c3b20e2a2e6c7a6c3370b2452a15a00eae11886a93d6fd1e7ab81e29d \
  "${M[@]}" --mode snp --vcpus 4 --vmm-type gce --ovmf "$AMD" "${NULLK[@]}"
expect no_kernel e1e1ca029dd7973ab9513295be68198472dcd4fc834bd9af9b63f6e8a1674dbf281a9278a4a2ebe0eed9f22adbcd0e2b \
  "${M[@]}" --mode snp --vcpus 1 --vcpu-type EPYC-v4 --ovmf "$AMD" --guest-features 33
expect ovmfx64 da0296de8193586a5512078dcd719eccecbd87e2b825ad4148c44f665dc87df21e5b49e21523a9ad993afdb6a30b4005 \
  "${M[@]}" --mode snp --vcpus 1 --vcpu-type EPYC-v4 --ovmf "$X64"
V4=5061fffb019493a903613d56d54b94912a1a2f9e4502385f5c194616753720a92441310ba6c4933de877c36e23046ad5
expect 4_vcpus $V4 "${M[@]}" --mode snp --vcpus 4 --vcpu-type EPYC-v4 --ovmf "$AMD" "${NULLK[@]}"
# the same vCPU signature three ways
expect 4_vcpus_sig $V4 "${M[@]}" --mode snp --vcpus 4 --vcpu-sig 0x800f12 --ovmf "$AMD" "${NULLK[@]}"
expect 4_vcpus_sig_dec $V4 "${M[@]}" --mode snp --vcpus 4 --vcpu-sig 8392466 --ovmf "$AMD" "${NULLK[@]}"
expect 4_vcpus_fms $V4 "${M[@]}" --mode snp --vcpus 4 --vcpu-family 23 --vcpu-model 1 --vcpu-stepping 2 \
  --ovmf "$AMD" "${NULLK[@]}"
# pre-SNP modes (SHA-256)
expect seves 13810ae661ea11e2bb205621f582fee268f0367c8f97bc297b7fadef3e12002c \
  "${M[@]}" --mode seves --vcpus 1 --vcpu-type EPYC-v4 --ovmf "$AMD" "${NULLK[@]}" --append ""
expect seves_4 0dccbcaba8e90b261bd0d2e1863a2f9da714768b7b2a19363cd6ae35aa90de91 \
  "${M[@]}" --mode seves --vcpus 4 --vcpu-type EPYC-v4 --ovmf "$AMD" "${NULLK[@]}" --append ""
expect sev 82a3ee5d537c3620628270c292ae30cb40c3c878666a7890ee7ef2a08fb535ff \
  "${M[@]}" --mode sev --ovmf "$AMD" "${NULLK[@]}" --append "$APP"
expect sev_kernel_only 77f613d7bbcdf12a73782ea9e88b0172aeda50d1a54201cb903594ff52846898 \
  "${M[@]}" --mode sev --ovmf "$AMD" --kernel /dev/null
expect sev_ovmfx64 "Calculated SEV guest measurement: b4c021e085fb83ceffe6571a3d357b4a98773c83c474e47f76c876708fe316da" \
  "${M[@]}" --mode sev --ovmf "$X64" -v
# output formats
B64=$(printf %s $V4 | xxd -r -p | base64 -w0)
expect base64 "$B64" "${M[@]}" --mode snp --vcpus 4 --vcpu-type EPYC-v4 --ovmf "$AMD" "${NULLK[@]}" --output-format base64
expect verbose "Calculated SEV_SNP guest measurement: $V4" "${M[@]}" --mode snp --vcpus 4 --vcpu-type EPYC-v4 \
  --ovmf "$AMD" "${NULLK[@]}" -v

# --dump-vmsa writes the BSP and AP pages (published VMSA hashes, §6)
(cd "$TMP" && "${M[@]}" --mode snp --vcpus 2 --vcpu-type EPYC-Rome --ovmf "$AMD" --dump-vmsa >/dev/null) || bad dump-vmsa
bsp=$(sha384sum "$TMP/vmsa0.bin" | cut -d' ' -f1)
ap=$(sha384sum "$TMP/vmsa1.bin" | cut -d' ' -f1)
[ "$bsp" = 34f43cbd622a2c18c3e042a6d30358628c35d97690fb5d3566644b45b26f7c907c7c20b959a53c74eb6e47414e68bb78 ] && ok || bad "vmsa0 $bsp"
[ "$ap" = ef83e68cc616fd4d3ea2d64f4b8de7ba13de044bd205042df48504ddd0cb58f3064fb7e3def8cf5f221f9eb0815df223 ] && ok || bad "vmsa1 $ap"

# ---- errors ----
code kernel-without-section 1 "${M[@]}" --mode snp --vcpus 1 --vcpu-type EPYC-v4 --ovmf "$X64" "${NULLK[@]}"
grep -q "SNP_KERNEL_HASHES" "$TMP/err" && ok || bad "kernel error message"
code no-mode 2 "${M[@]}" --ovmf "$AMD"
code no-ovmf 2 "${M[@]}" --mode snp --vcpus 1 --vcpu-type EPYC
code no-vcpus 2 "${M[@]}" --mode snp --vcpu-type EPYC --ovmf "$AMD"
code no-vcpu-type 2 "${M[@]}" --mode snp --vcpus 1 --ovmf "$AMD"
code bad-vcpu-type 2 "${M[@]}" --mode snp --vcpus 1 --vcpu-type EPYC-Venice --ovmf "$AMD"
code bad-vmm 2 "${M[@]}" --mode snp --vcpus 1 --vcpu-type EPYC --vmm-type azure --ovmf "$AMD"
code initrd-no-kernel 2 "${M[@]}" --mode snp --vcpus 1 --vcpu-type EPYC --ovmf "$AMD" --initrd /dev/null
code append-no-kernel 2 "${M[@]}" --mode snp --vcpus 1 --vcpu-type EPYC --ovmf "$AMD" --append x
code bad-format 2 "${M[@]}" --mode snp --vcpus 1 --vcpu-type EPYC --ovmf "$AMD" --output-format json
code bad-hash 2 "${M[@]}" --mode snp --vcpus 1 --vcpu-type EPYC --ovmf "$AMD" --snp-ovmf-hash 1234
code hash-wrong-mode 2 "${M[@]}" --mode snp:svsm --vcpus 1 --vcpu-type EPYC --ovmf "$AMD" --svsm "$AMD" \
  --vars-size 4096 --snp-ovmf-hash $OVMF_HASH
code svsm-no-vars 2 "${M[@]}" --mode snp:svsm --vcpus 1 --vcpu-type EPYC --ovmf "$AMD" --svsm "$AMD"
code svsm-both-vars 2 "${M[@]}" --mode snp:svsm --vcpus 1 --vcpu-type EPYC --ovmf "$AMD" --svsm "$AMD" \
  --vars-size 4096 --vars-file "$AMD"
code svsm-ec2 2 "${M[@]}" --mode snp:svsm --vcpus 1 --vmm-type ec2 --ovmf "$AMD" --svsm "$AMD" --vars-size 4096
code svsm-no-info 1 "${M[@]}" --mode snp:svsm --vcpus 1 --vcpu-type EPYC --ovmf "$AMD" --svsm "$AMD" --vars-size 4096
code vcpus-zero 2 "${M[@]}" --mode snp --vcpus 0 --vcpu-type EPYC --ovmf "$AMD"
code bad-mode 2 "${M[@]}" --mode sev-snp --ovmf "$AMD"
code seves-no-vcpus 2 "${M[@]}" --mode seves --vcpu-type EPYC --ovmf "$AMD"
code sev-hash 2 "${M[@]}" --mode sev --ovmf "$AMD" --snp-ovmf-hash $OVMF_HASH
code sev-kernel-unsupported 1 "${M[@]}" --mode sev --ovmf /usr/share/ovmf/OVMF.fd --kernel /dev/null
code missing-ovmf 1 "${M[@]}" --mode snp --vcpus 1 --vcpu-type EPYC --ovmf "$TMP/nonexistent"
{ cat "$AMD"; head -c 904 /dev/zero; } >"$TMP/odd.bin"
code odd-size 1 "${M[@]}" --mode snp --vcpus 1 --vcpu-type EPYC --ovmf "$TMP/odd.bin"
code missing-kernel 1 "${M[@]}" --mode snp --vcpus 1 --vcpu-type EPYC --ovmf "$AMD" --kernel "$TMP/nonexistent"

# ---- Debian OVMF ----
DEB=/usr/share/ovmf/OVMF.fd
if [ -f "$DEB" ]; then
  for vmm in QEMU ec2 gce; do
    code "debian-$vmm" 0 "${M[@]}" --mode snp --vcpus 64 --vcpu-type EPYC-Genoa --vmm-type $vmm --ovmf "$DEB"
  done
  h=$("${M[@]}" --mode snp:ovmf-hash --ovmf "$DEB")
  a=$("${M[@]}" --mode snp --vcpus 8 --vcpu-type EPYC-Milan --ovmf "$DEB")
  b=$("${M[@]}" --mode snp --vcpus 8 --vcpu-type EPYC-Milan --ovmf "$DEB" --snp-ovmf-hash "$h")
  [ -n "$a" ] && [ "$a" = "$b" ] && ok || bad "debian seeded '$a' != '$b'"
else
  bad "$DEB missing (install the Debian package ovmf)"
fi

# ---- snp:svsm with the real Coconut images (tests/data/measure/*.xz, always;
# CP_SVSM_FIXTURES may point at other copies of svsm_ovmf.fd and svsm.bin) ----
if [ -z "${CP_SVSM_FIXTURES:-}" ]; then
  command -v xz >/dev/null || { echo "xz is required (scripts/install-deps.sh check)"; exit 1; }
  CP_SVSM_FIXTURES=$TMP/svsm
  mkdir -p "$CP_SVSM_FIXTURES"
  for f in svsm_ovmf.fd svsm.bin; do
    xz -dc "$DATA/$f.xz" >"$CP_SVSM_FIXTURES/$f" || bad "cannot decompress $f.xz"
  done
fi
[ -f "$CP_SVSM_FIXTURES/svsm.bin" ] && [ -f "$CP_SVSM_FIXTURES/svsm_ovmf.fd" ] || bad "SVSM fixtures missing"
{
  S=("${M[@]}" --mode snp:svsm --vcpu-type EPYC-v4 --ovmf "$CP_SVSM_FIXTURES/svsm_ovmf.fd" --svsm "$CP_SVSM_FIXTURES/svsm.bin")
  expect svsm-2 9b94745036aafddf4f7f8b00c7513abb5b7703178cb95aaa57928bd963d68d3bfcb715d6019b9167ee2517b11b0d9be7 \
    "${S[@]}" --vcpus 2 --vars-size 540672
  head -c 540672 /dev/zero >"$TMP/vars.fd"
  expect svsm-4 27d154c27b7b359c935e250ec6fee72aa0ae8c1225e3b0e1cf46a9567e938066d7d6f94bbdc4a857818bdb79277a44b2 \
    "${S[@]}" --vcpus 4 --vars-file "$TMP/vars.fd"
}

# ---- id-block (snp-create-id-block compatible) ----
LD=B28FLQi9p6cAqipgjFyqawDrrSl7bWioWkWx5mmlWLZ+G5HShKMB/mPE+gdQRn7t
I=("$BIN" snp id-block)
if "${I[@]}" --measurement $LD --idkey "$DATA/id_key_test.pem" --authorkey "$DATA/author_key_test.pem" >"$TMP/id" 2>"$TMP/err"; then
  ok
  line1=$(sed -n 1p "$TMP/id")
  blk=${line1#id-block=}; blk=${blk%%,*}
  auth=${line1#*,id-auth=}
  [ "$blk" = "${LD}AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABAAAAAAAAAAAAAwAAAAAA" ] && ok || bad "id-block $blk"
  [ ${#auth} -eq 5464 ] && ok || bad "id-auth length ${#auth}"
  [ "$(sed -n 2p "$TMP/id")" = "id_key_hash: hwt+NcU/inLQ0yL3WrKvgmJ5Kq9leWIs5BMcPyHyied8sFYKXjuQs5MuZ07HCcsU" ] && ok || bad "id_key_hash"
  [ "$(sed -n 3p "$TMP/id")" = "author_key: YxEcNLv8Ckk4+aAJvQdJgNgXIyPmFZnJ/TNtqGcySOHcqY0L6PdjdqEGuK/UwKBX" ] && ok || bad "author_key"
  code verify 0 "${I[@]}" verify --id-block "$blk" --id-auth "$auth" --measurement $LD
  grep -q "^id_key_hash: hwt+NcU" "$TMP/out" && ok || bad "verify output"
  other=$(printf 'x%.0s' $(seq 48) | base64 -w0)
  code verify-wrong-ld 3 "${I[@]}" verify --id-block "$blk" --id-auth "$auth" --measurement "$other"
  # flip one bit of the ID block signature
  tampered=$(printf %s "$auth" | base64 -d | xxd -p -c 4096 | sed 's/^\(.\{160\}\)\(.\)/\1f/' | xxd -r -p | base64 -w0)
  if [ "$tampered" != "$auth" ]; then
    code verify-tampered 3 "${I[@]}" verify --id-block "$blk" --id-auth "$tampered"
  else
    # the nibble happened to be f already; flip to 0 instead
    tampered=$(printf %s "$auth" | base64 -d | xxd -p -c 4096 | sed 's/^\(.\{160\}\)\(.\)/\10/' | xxd -r -p | base64 -w0)
    code verify-tampered 3 "${I[@]}" verify --id-block "$blk" --id-auth "$tampered"
  fi
else
  bad "id-block create"; cat "$TMP/err"
fi
code id-block-no-key 2 "${I[@]}" --measurement $LD
code id-block-bad-ld 2 "${I[@]}" --measurement AAAA --idkey "$DATA/id_key_test.pem"
code id-block-bad-key 1 "${I[@]}" --measurement $LD --idkey "$AMD"
# without an author key
if "${I[@]}" --measurement $LD --idkey "$DATA/id_key_test.pem" --policy 0x30000 --guest-svn 3 \
     --family-id 00112233445566778899aabbccddeeff >"$TMP/id2" 2>"$TMP/err"; then
  line1=$(sed -n 1p "$TMP/id2")
  blk=${line1#id-block=}; blk=${blk%%,*}
  auth=${line1#*,id-auth=}
  code verify-no-author 0 "${I[@]}" verify --id-block "$blk" --id-auth "$auth"
  grep -q "^author_key: none" "$TMP/out" && grep -q "^guest_svn: 3" "$TMP/out" && ok || bad "verify-no-author output"
else
  bad "id-block without author key"; cat "$TMP/err"
fi

echo "snp-measure.sh: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
