# Forged-kid tokens against a node's endpoints, for the stack tests.
# forged_issuer NODE_DIR: the issuer of the node's attestation service.
forged_issuer() {
        curl -s "$(jq -r .attestd "$1/node.json")/.well-known/openid-configuration" | jq -r .issuer
}
# forged_kid_flood NODE_DIR OUT ISSUER: until killed, every 0.2 s, a token with the
# attestation service's issuer, a kid it never had and no valid signature, to
# the node's heartbeat (confpoold) and its disk key's release (the key
# broker); a line per answer: "cp STATUS" or "kbs STATUS".  Such a token
# never passes (no key, no signature); each unknown kid may make the relying
# party fetch the issuer's keys (once per interval): an attacker's way to
# keep that interval running when the issuer restarts with a new key.
forged_kid_flood() {
        local nj=$1/node.json out=$2 iss=$3 i=0 name pool cpu ca kbs disk rel tok
        name=$(jq -r .name "$nj") pool=$(jq -r .pool "$nj")
        cpu=$(jq -r .controlplane "$nj" | cut -d, -f1)
        ca=$(jq -r '.controlplaneCaFile // empty' "$nj")
        [ -n "$ca" ] && [ "${ca#/}" = "$ca" ] && ca=$1/$ca
        kbs=$(jq -r .diskKey.url "$nj") disk=$(jq -r .diskKey.diskId "$nj") rel=$(jq -r .diskKey.releaseToken "$nj")
        [ -n "$iss" ] && [ "$iss" != null ] || { echo "forged_kid_flood: no issuer" >&2; return 1; }
        b64u() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
        while :; do
                i=$((i + 1))
                tok="$(printf '{"alg":"RS256","typ":"JWT","kid":"forged-%s-%s"}' "$$" "$i" | b64u)"
                tok="$tok.$(printf '{"iss":"%s","exp":9999999999}' "$iss" | b64u).AAAA"
                echo "cp $(curl -s -m 5 -o /dev/null -w '%{http_code}' ${ca:+--cacert "$ca"} -X POST \
                        -H "Authorization: Bearer $tok" "$cpu$pool/machines/$name/heartbeat?api-version=2025-01-01")" >>"$out"
                echo "kbs $(curl -s -m 5 -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $rel" \
                        -H 'Content-Type: application/json' --data "{\"target\":\"$tok\",\"enc\":\"RSA_AES_KEY_WRAP_256\"}" \
                        "$kbs/disks/$disk/release")" >>"$out"
                sleep 0.2
        done
}
