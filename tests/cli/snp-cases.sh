#!/usr/bin/env bash
# confpool snp verify/show over every real case in tests/data/snp/cases.json,
# asserting exit codes (0 verified, 2 usage, 3 signature, 4 certificate,
# 5 revocation, 6 policy), plus tampered files and usage errors.
set -uo pipefail
BIN=${CP_BIN_DIR:?}/confpool
DATA=${CP_TEST_DATA_DIR:?}/snp
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0
fail=0
check() { # name expected-exit command...
  local name=$1 want=$2; shift 2
  "$@" >"$TMP/out" 2>"$TMP/err"
  local got=$?
  if [ "$got" -eq "$want" ]; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
    echo "FAIL: $name: exit $got, expected $want"
    sed 's/^/    /' "$TMP/err" | head -5
  fi
}

n=$(jq length "$DATA/cases.json")
for i in $(seq 0 $((n - 1))); do
  report=$(jq -r ".[$i].report" "$DATA/cases.json")
  leaf=$(jq -r ".[$i].endorsement_key_cert" "$DATA/cases.json")
  chain=$(jq -r ".[$i].ask_ark_chain" "$DATA/cases.json")
  expect=$(jq -r ".[$i].expect" "$DATA/cases.json")
  key=$(jq -r ".[$i].signing_key" "$DATA/cases.json")
  gen=$(jq -r ".[$i].generation" "$DATA/cases.json")
  ver=$(jq -r ".[$i].report_version" "$DATA/cases.json")
  args=(snp verify "$DATA/$report" --vcek "$DATA/$leaf" --ask "$DATA/$chain" --offline --cache "$TMP/cache")
  if [ "$expect" = verified ]; then
    if [ "$key" = VLEK ]; then
      check "$report (VLEK, before expiry)" 0 "$BIN" "${args[@]}" --now 2025-06-01
      check "$report (VLEK, expired now)" 4 "$BIN" "${args[@]}" --now 2026-11-25T00:00:00Z
    else
      check "$report" 0 "$BIN" "${args[@]}"
      # JSON output names the generation and version of cases.json
      "$BIN" "${args[@]}" -o json >"$TMP/j" 2>/dev/null
      if [ "$(jq -r .generation "$TMP/j")" = "$gen" ] && [ "$(jq -r .report.version "$TMP/j")" = "$ver" ]; then
        pass=$((pass + 1))
      else
        fail=$((fail + 1)); echo "FAIL: $report: JSON generation/version mismatch"
      fi
    fi
  else
    "$BIN" "${args[@]}" >/dev/null 2>&1
    rc=$?
    if [ "$rc" -eq 3 ] || [ "$rc" -eq 4 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $report: exit $rc, expected 3 or 4"; fi
  fi
  check "show $report" 0 "$BIN" snp show "$DATA/$report"
  check "show -o json $report" 0 "$BIN" snp show -o json "$DATA/$report"
done

R=$DATA/virtee__sev/report_milan.bin
V=$DATA/virtee__sev/vcek_milan.der
C=$DATA/virtee__sev/cert_chain_milan
# a flipped measurement bit: signature failure
cp "$R" "$TMP/flip.bin"
printf '\x01' | dd of="$TMP/flip.bin" bs=1 seek=$((0x90)) conv=notrunc status=none
check "flipped measurement" 3 "$BIN" snp verify "$TMP/flip.bin" --vcek "$V" --ask "$C" --offline --cache "$TMP/cache"
# truncated and extended files
head -c 1000 "$R" >"$TMP/short.bin"
check "truncated report" 1 "$BIN" snp verify "$TMP/short.bin" --vcek "$V" --offline --cache "$TMP/cache"
check "show truncated" 1 "$BIN" snp show "$TMP/short.bin"
{ cat "$R"; printf 'junk'; } >"$TMP/long.bin"
check "report + junk" 1 "$BIN" snp show "$TMP/long.bin"
# tampered VCEK
check "tampered VCEK" 4 "$BIN" snp verify "$DATA/confidential-containers__trustee/snp/test-report.bin" \
  --vcek "$DATA/confidential-containers__trustee/snp/test-vcek-invalid-legacy.der" --offline --cache "$TMP/cache"
# offline without a VCEK: nothing to verify with
check "offline, no VCEK" 1 "$BIN" snp verify "$R" --product Milan --offline --cache "$TMP/empty"
# revocation required but no CRL available offline
check "revocation without CRL" 5 "$BIN" snp verify "$R" --vcek "$V" --check-revocation --product Milan --offline --cache "$TMP/empty"
# policy: go-sev-guest's sample is a debug guest; the default policy refuses it
echo '{"version":1}' >"$TMP/policy.json"
check "debug guest refused by policy" 6 "$BIN" snp verify "$DATA/google__go-sev-guest/attestation.bin" \
  --vcek "$DATA/google__go-sev-guest/vcek.testcer" --policy "$TMP/policy.json" --offline --cache "$TMP/cache"
check "policy satisfied" 0 "$BIN" snp verify "$R" --vcek "$V" --policy "$TMP/policy.json" --offline --cache "$TMP/cache"
echo '{"version":1,"bogus":true}' >"$TMP/bad-policy.json"
check "bad policy file" 2 "$BIN" snp verify "$R" --vcek "$V" --policy "$TMP/bad-policy.json" --offline
# usage errors
check "no file" 2 "$BIN" snp verify
check "bad time" 2 "$BIN" snp verify "$R" --now yesterday
check "bad product" 2 "$BIN" snp verify "$R" --product Naples
check "bad output" 2 "$BIN" snp show "$R" -o xml
check "unknown subcommand" 2 "$BIN" snp frobnicate
check "unknown command" 2 "$BIN" frobnicate
check "help" 0 "$BIN" snp --help
echo "result: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
