#!/bin/bash
# Rolling node-image upgrade with the real daemons and the CLI: a CVM pool of
# 2 nodes (maxSurge 1), confpoold restarted with a config publishing a newer
# node image (nodeImageDate), `aks nodepool upgrade --node-image-only`: the
# pool never has more than 3 machines nor fewer than 2 Ready ones, ends with
# 2 Ready nodes on the new image whose launch measurement differs from the
# old one, and the pool's policy accepts only the new measurement.
set -u
BIN=${CP_BIN_DIR:?}
T=$(mktemp -d /tmp/cp-niu-XXXXXX)
export CONFPOOL_CONFIG_DIR=$T/cli
cleanup() { "$BIN/confpool" down --state-dir "$T/s" >/dev/null 2>&1; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; tail -20 "$T/s/confpoold.log" >&2; exit 1; }
alive() { pgrep -f -- "$1" | while read -r p; do [ "$(awk '{print $3}' /proc/$p/stat 2>/dev/null)" = Z ] || echo "$p"; done; }

"$BIN/confpool" up --state-dir "$T/s" >/dev/null 2>&1 || fail "up"
C=(-g rg1 --cluster-name c1)
M=("${C[@]}" --nodepool-name up)
"$BIN/confpool" group create -n rg1 -l eastus -o none || fail "group create"
"$BIN/confpool" aks create -g rg1 -n c1 -s Standard_DC4as_v5 -c 1 -o none || fail "aks create"
"$BIN/confpool" aks nodepool add "${C[@]}" -n up --node-count 2 -s Standard_DC4as_v5 --max-surge 1 -o none \
        || fail "nodepool add"
old_img=$("$BIN/confpool" aks nodepool show "${C[@]}" -n up --query nodeImageVersion -o tsv)
old_m=$("$BIN/confpool" aks machine list "${M[@]}" --query "[0].properties.attestation.launchMeasurement" -o tsv)
[ ${#old_m} = 96 ] || fail "old measurement '$old_m'"

# publish a newer node image: confpoold restarted with nodeImageDate in its config
PID=$(cat "$T/s/confpoold.pid")
mapfile -d '' ARGS < "/proc/$PID/cmdline"
PORT=$(cat "$T/s/confpoold.port")
echo '{"nodeImageDate":"202512.02.0"}' > "$T/config.json"
kill -TERM "$PID"
for _ in $(seq 100); do [ -d "/proc/$PID" ] || break; sleep 0.1; done
[ -d "/proc/$PID" ] && fail "confpoold did not stop"
setsid "${ARGS[@]}" --port "$PORT" --config "$T/config.json" >>"$T/s/confpoold.log" 2>&1 < /dev/null &
echo $! > "$T/s/confpoold.pid"
for _ in $(seq 100); do
        n=$("$BIN/confpool" aks machine list "${M[@]}" \
            --query "length([?properties.status.nodeState=='Ready'])" -o tsv 2>/dev/null)
        [ "$n" = 2 ] && break
        sleep 0.2
done
latest=$("$BIN/confpool" aks nodepool get-upgrades "${C[@]}" --nodepool-name up --query latestNodeImageVersion \
         -o tsv 2>/dev/null)
case "$latest" in *202512.02.0) ;; *) fail "latest node image '$latest'" ;; esac

"$BIN/confpool" aks nodepool upgrade "${C[@]}" -n up --node-image-only -y --no-wait -o none || fail "upgrade"
st=
max=0
for _ in $(seq 200); do
        n=$("$BIN/confpool" aks machine list "${M[@]}" --query "length(@)" -o tsv)
        r=$("$BIN/confpool" aks machine list "${M[@]}" \
            --query "length([?properties.status.nodeState=='Ready'])" -o tsv)
        [ "$n" -gt "$max" ] && max=$n
        [ "$n" -le 3 ] || fail "$n machines during the roll (maxSurge 1)"
        [ "$r" -ge 2 ] || fail "$r Ready machines during the roll"
        st=$("$BIN/confpool" aks nodepool show "${C[@]}" -n up --query provisioningState -o tsv)
        [ "$st" = Succeeded ] || [ "$st" = Failed ] && break
        sleep 0.1
done
[ "$st" = Succeeded ] || fail "pool after the upgrade: '$st'"
[ "$max" = 3 ] || fail "never surged ($max machines at most)"
new_img=$("$BIN/confpool" aks nodepool show "${C[@]}" -n up --query nodeImageVersion -o tsv)
case "$new_img" in *202512.02.0) ;; *) fail "pool image '$new_img'" ;; esac
[ "$new_img" != "$old_img" ] || fail "image unchanged"
q="length([?properties.nodeImageVersion=='$new_img' && properties.status.nodeState=='Ready'])"
[ "$("$BIN/confpool" aks machine list "${M[@]}" --query "$q" -o tsv)" = 2 ] || fail "not 2 Ready machines on $new_img"
ms=$("$BIN/confpool" aks machine list "${M[@]}" --query "[].properties.attestation.launchMeasurement" -o tsv | sort -u)
[ "$(echo "$ms" | wc -l)" = 1 ] || fail "measurements: $ms"
[ ${#ms} = 96 ] && [ "$ms" != "$old_m" ] || fail "new measurement '$ms' (old $old_m)"
acc=$("$BIN/confpool" aks machine show "${M[@]}" --machine-name \
      "$("$BIN/confpool" aks machine list "${M[@]}" --query "[0].name" -o tsv)" \
      --query "properties.attestation.acceptedLaunchMeasurements[].[role,launchMeasurement]" -o tsv)
[ "$acc" = "$(printf 'target\t%s' "$ms")" ] || fail "accepted measurements after the roll: $acc"
"$BIN/confpool" down --state-dir "$T/s" >/dev/null || fail "down"
for _ in $(seq 50); do [ -z "$(alive "$T/s")" ] && break; sleep 0.1; done
left=$(alive "$T/s")
[ -z "$left" ] || fail "processes left after down"
echo ok
