#!/usr/bin/env bash
# confpool tdx verify/show over every real case in tests/data/tdx/cases.json
# at its check time: the expected verdict (exit 0, or the exit code of the
# refusal its "why" describes) and, for verified cases, the TCB status and
# advisory IDs in -o json; every verified case refused at the real time;
# exit codes of tampered quotes, policy refusals and usage errors.
set -uo pipefail
BIN=${CP_BIN_DIR:?}/confpool
DATA=${CP_TEST_DATA_DIR:?}/tdx
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
same() { # name got want
  if [ "$2" = "$3" ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1: '$2', expected '$3'"; fi
}

C=$DATA/cases.json
n=$(jq length "$C")
for i in $(seq 0 $((n - 1))); do
  get() { jq -r ".[$i].$1 // empty" "$C"; }
  quote=$(get quote)
  expect=$(get expect)
  why=$(get why)
  args=(tdx verify "$DATA/$quote" --offline)
  for opt in tcb_info:--tcb-info qe_identity:--qe-identity tcb_signing_chain:--tcb-signing-chain \
             pck_crl:--pck-crl root_ca_crl:--root-ca-crl td_quote:--td-quote; do
    f=$(get "${opt%%:*}")
    [ -n "$f" ] && args+=("${opt#*:}" "$DATA/$f")
  done
  t=$(get check_time)
  [ -n "$t" ] && args+=(--now "$t")
  if [ "$expect" = verified ]; then
    check "$quote@$t" 0 "$BIN" "${args[@]}"
    "$BIN" "${args[@]}" -o json >"$TMP/j" 2>/dev/null
    same "$quote@$t tcb_status" "$(jq -r .tcb_status "$TMP/j")" "$(get tcb_status)"
    same "$quote@$t advisories" "$(jq -c '.advisory_ids | sort' "$TMP/j")" "$(jq -c ".[$i].tcb_detail.advisory_ids | sort" "$C")"
    same "$quote@$t mrtd present" "$(jq -r '.quote.td.mrtd | length' "$TMP/j")" 96
    # at the real time, Intel's collateral has long expired
    now_args=("${args[@]}")
    now_args[$((${#now_args[@]} - 1))]=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    "$BIN" "${now_args[@]}" >/dev/null 2>&1
    rc=$?
    if [ "$rc" -eq 4 ] || [ "$rc" -eq 5 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $quote now: exit $rc, expected 4 or 5"; fi
  else
    case "$why" in
      *"no TD quote"*) want=1 ;;            # nothing to verify the TDREPORT with
      *) want=4 ;;                          # TCB level, FMSPC, untrusted root, expired
    esac
    if [[ "$why" == *"collateral expired"* ]]; then
      "$BIN" "${args[@]}" >/dev/null 2>&1; rc=$?
      if [ "$rc" -eq 4 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $quote@$t: exit $rc, expected 4"; fi
    else
      check "$quote@$t (rejected)" "$want" "$BIN" "${args[@]}"
    fi
  fi
  check "show $quote" 0 "$BIN" tdx show "$DATA/$quote"
  check "show -o json $quote" 0 "$BIN" tdx show -o json "$DATA/$quote"
done

Q=$DATA/Phala-Network__dcap-qvl/tdx_quote
P=$DATA/Phala-Network__dcap-qvl/tdx_quote_collateral
V=(--tcb-info "$P.tcb_info.json" --qe-identity "$P.qe_identity.json" --tcb-signing-chain "$P.tcb_info_issuer_chain.pem"
   --pck-crl "$P.pck_crl.der" --root-ca-crl "$P.root_ca_crl.der" --now 2025-07-01T00:00:00Z)
check "verifies" 0 "$BIN" tdx verify "$Q" "${V[@]}"
# a flipped MRTD bit (offset 48 + 184): quote signature
cp "$Q" "$TMP/flip"
printf '\x01' | dd of="$TMP/flip" bs=1 seek=$((48 + 184)) conv=notrunc status=none
check "flipped MRTD" 3 "$BIN" tdx verify "$TMP/flip" "${V[@]}"
head -c 1000 "$Q" >"$TMP/short"
check "truncated quote" 1 "$BIN" tdx verify "$TMP/short" "${V[@]}"
check "show truncated" 1 "$BIN" tdx show "$TMP/short"
check "no collateral" 1 "$BIN" tdx verify "$Q" --now 2025-07-01T00:00:00Z
check "root CRL missing" 5 "$BIN" tdx verify "$Q" --tcb-info "$P.tcb_info.json" --qe-identity "$P.qe_identity.json" \
  --tcb-signing-chain "$P.tcb_info_issuer_chain.pem" --pck-crl "$P.pck_crl.der" --now 2025-07-01T00:00:00Z
echo '{}' >"$TMP/policy.json"
check "default policy accepts UpToDate" 0 "$BIN" tdx verify "$Q" "${V[@]}" --policy "$TMP/policy.json"
echo '{"mrtd": ["'"$(printf '0%.0s' $(seq 96))"'"]}' >"$TMP/mrtd.json"
check "MRTD refused by policy" 6 "$BIN" tdx verify "$Q" "${V[@]}" --policy "$TMP/mrtd.json"
echo '{"mrtdd": []}' >"$TMP/bad.json"
check "unknown policy key" 2 "$BIN" tdx verify "$Q" "${V[@]}" --policy "$TMP/bad.json"
check "usage: no quote" 2 "$BIN" tdx verify
check "usage: bad time" 2 "$BIN" tdx verify "$Q" --now yesterday
check "usage: --td-quote on a quote" 2 "$BIN" tdx verify "$Q" "${V[@]}" --td-quote "$Q"
check "usage: subcommand" 2 "$BIN" tdx frobnicate

echo "tdx-cases: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
