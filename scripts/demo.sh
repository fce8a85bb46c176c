#!/usr/bin/env bash
# make demo: verify every real SEV-SNP report in ../shared/realdata/snp (or the
# copy in tests/data/snp) with confpool and print a readable summary.
# The demo grows with the project: the control plane and node scenario come next.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=build/bin/confpool
DATA=../shared/realdata/snp
[ -f "$DATA/cases.json" ] || DATA=tests/data/snp
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

echo "== confpool demo: SEV-SNP evidence from real AMD processors =="
echo "data: $DATA/cases.json ($(jq length "$DATA/cases.json") cases)"
echo
echo "-- one report in detail: confpool snp show $DATA/virtee__sev/report_milan.bin"
"$BIN" snp show "$DATA/virtee__sev/report_milan.bin" | head -30
echo
printf '%-4s %-70s %-6s %-3s %-5s %-9s %-9s %s\n' "#" "evidence" "gen" "v" "key" "expected" "confpool" "detail"
n=$(jq length "$DATA/cases.json")
agree=0
for i in $(seq 0 $((n - 1))); do
  report=$(jq -r ".[$i].report" "$DATA/cases.json")
  leaf=$(jq -r ".[$i].endorsement_key_cert" "$DATA/cases.json")
  chain=$(jq -r ".[$i].ask_ark_chain" "$DATA/cases.json")
  expect=$(jq -r ".[$i].expect" "$DATA/cases.json")
  key=$(jq -r ".[$i].signing_key" "$DATA/cases.json")
  gen=$(jq -r ".[$i].generation" "$DATA/cases.json")
  ver=$(jq -r ".[$i].report_version" "$DATA/cases.json")
  extra=()
  [ "$key" = VLEK ] && extra=(--now 2025-06-01)   # the AWS VLEK expired on 2025-12-10
  "$BIN" snp verify "$DATA/$report" --vcek "$DATA/$leaf" --ask "$DATA/$chain" --offline \
      --cache "$TMP/cache" "${extra[@]}" >"$TMP/out" 2>"$TMP/err"
  rc=$?
  if [ $rc -eq 0 ]; then got=verified; detail=$(sed -e "s/.*(//" -e "s/)$//" "$TMP/out" | cut -c1-90);
  else got=rejected; detail="exit $rc: $(sed -e 's/^confpool: error: verification failed: //' "$TMP/err" | head -1 | cut -c1-90)"; fi
  [ "$got" = "$expect" ] && agree=$((agree + 1))
  printf '%-4s %-70s %-6s %-3s %-5s %-9s %-9s %s\n' "$i" "$report" "$gen" "$ver" "$key" "$expect" "$got" "$detail"
done
echo
echo "confpool agrees with the expected result on $agree of $n cases."
vlek=$(jq -r '[.[] | select(.signing_key=="VLEK")][0]' "$DATA/cases.json")
if [ "$vlek" != null ]; then
  r=$(jq -r .report <<<"$vlek"); l=$(jq -r .endorsement_key_cert <<<"$vlek"); c=$(jq -r .ask_ark_chain <<<"$vlek")
  echo
  echo "-- the AWS VLEK checked at today's date (expired 2025-12-10):"
  "$BIN" snp verify "$DATA/$r" --vcek "$DATA/$l" --ask "$DATA/$c" --offline --cache "$TMP/cache" 2>&1 | head -2
fi
[ "$agree" -eq "$n" ] || exit 1
scripts/demo-tdx.sh
