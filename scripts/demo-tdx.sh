#!/usr/bin/env bash
# Part of make demo: verify every real Intel TDX quote in ../shared/realdata/tdx
# (or the copy in tests/data/tdx) with `confpool tdx verify` at each case's
# check time and print a summary table (expected and obtained verdict, TCB status).
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=build/bin/confpool
DATA=../shared/realdata/tdx
[ -f "$DATA/cases.json" ] || DATA=tests/data/tdx
C=$DATA/cases.json
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

echo
echo "== confpool demo: Intel TDX DCAP quotes from real Intel processors =="
echo "data: $C ($(jq length "$C") cases)"
echo
printf '%-3s %-58s %-22s %-9s %-9s %-10s %-10s %s\n' "#" quote format expect got tcb "want tcb" detail
n=$(jq length "$C")
agree=0
for i in $(seq 0 $((n - 1))); do
  get() { jq -r ".[$i].$1 // empty" "$C"; }
  quote=$(get quote)
  args=(tdx verify "$DATA/$quote" --offline -o json)
  for opt in tcb_info:--tcb-info qe_identity:--qe-identity tcb_signing_chain:--tcb-signing-chain \
             pck_crl:--pck-crl root_ca_crl:--root-ca-crl td_quote:--td-quote; do
    f=$(get "${opt%%:*}")
    [ -n "$f" ] && args+=("${opt#*:}" "$DATA/$f")
  done
  t=$(get check_time)
  [ -n "$t" ] && args+=(--now "$t")
  "$BIN" "${args[@]}" >"$TMP/out" 2>"$TMP/err"
  rc=$?
  if [ $rc -eq 0 ]; then
    got=verified; tcb=$(jq -r .tcb_status "$TMP/out")
    detail=$(jq -r '"\(.tdx_module) \(.tdx_module_tcb_status), QE \(.qe_tcb_status)" + (if (.advisory_ids|length) > 0 then ", " + (.advisory_ids|join(" ")) else "" end)' "$TMP/out")
  else
    got=rejected; tcb=-
    detail="exit $rc: $(sed -e 's/^confpool: error: verification failed: //' "$TMP/err" | tail -1 | cut -c1-80)"
  fi
  expect=$(get expect); want=$(get tcb_status); want=${want:--}
  [ "$got" = "$expect" ] && [ "$tcb" = "$want" ] && agree=$((agree + 1))
  printf '%-3s %-58s %-22s %-9s %-9s %-10s %-10s %s\n' "$i" "${quote:0:58}" "$(get format)" "$expect" "$got" "$tcb" "$want" "$detail"
done
echo
echo "confpool agrees with the expected verdict and TCB status on $agree of $n TDX cases."
real_ok=0
[ "$agree" -eq "$n" ] || real_ok=1

# The software TDX (docs/tdx.md "Software TDX"): an EMULATED Intel root, never
# trusted in production.  One quote per TCB status the emulated PCS is set to.
echo
echo "== confpool demo: a software TDX quote (emulated Intel root: tests only) =="
IMG=/usr/share/ovmf/OVMF.fd
[ -f "$IMG" ] && echo "TD built from $IMG (its TDVF metadata); confpool tdx measure: $("$BIN" tdx measure --tdvf "$IMG" | head -1)"
printf '%-34s %-44s %-22s %s\n' "PCS status of the platform" "verify (emulated root)" "verify (Intel's root)" "MRTD"
sw_ok=0
for s in UpToDate SWHardeningNeeded ConfigurationNeeded ConfigurationAndSWHardeningNeeded OutOfDate \
         OutOfDateConfigurationNeeded Revoked recovery; do
  D=$TMP/sw-$s
  opt=(--tcb-status "$s"); [ "$s" = recovery ] && opt=(--recovery)
  [ -f "$IMG" ] && opt+=(--tdvf "$IMG")
  "$BIN" tdx emu --out "$D" "${opt[@]}" >/dev/null 2>&1 || { echo "tdx emu failed"; sw_ok=1; continue; }
  col=(--tcb-info "$D/tcb_info.json" --qe-identity "$D/qe_identity.json" --tcb-signing-chain "$D/tcb_signing_chain.pem"
       --pck-crl "$D/pck_crl.der" --root-ca-crl "$D/root_ca_crl.der")
  "$BIN" tdx verify "$D/quote.bin" "${col[@]}" --trust-root "$D/root.pem" -o json >"$TMP/sw" 2>/dev/null
  rc=$?
  if [ $rc -eq 0 ]; then emu="verified $(jq -r .tcb_status "$TMP/sw")"; else emu="rejected (exit $rc)"; fi
  "$BIN" tdx verify "$D/quote.bin" "${col[@]}" >/dev/null 2>&1
  irc=$?
  [ $irc -eq 4 ] && intel="rejected (exit 4)" || { intel="ACCEPTED?! (exit $irc)"; sw_ok=1; }
  want=$s; [ "$s" = recovery ] && want=OutOfDate
  if [ "$s" = Revoked ]; then [ $rc -eq 5 ] || sw_ok=1; else [ "$emu" = "verified $want" ] || sw_ok=1; fi
  printf '%-34s %-44s %-22s %s\n' "$s" "$emu" "$intel" "$(jq -r '.quote.td.mrtd // "-"' "$TMP/sw" | cut -c1-16)..."
done
[ $sw_ok -eq 0 ] && echo "every software TDX quote gave its status with the emulated root and was refused with Intel's."
[ $real_ok -eq 0 ] && [ $sw_ok -eq 0 ]
