#!/usr/bin/env bash
# JWS with the openssl command line (another implementation of the
# signature math), used by tests/unit/test-jwt-vectors.c:
#   openssl-jws.sh sign ALG DIR    a fresh key in DIR; prints the token on line 1 and
#                                  its public JWK on line 2 (claims iss
#                                  "https://openssl.test", exp now + 600)
#   openssl-jws.sh verify ALG CERT TOKEN
#                                  verifies TOKEN's signature with the public key of
#                                  CERT (DER certificate); exit 0 verified, 1 refused
# ALG: RS256 or ES256.  ECDSA signatures are converted between the JWS form
# (r || s, 32 bytes each) and DER with xxd/asn1parse only.
set -euo pipefail
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
unb64url() { local s; s=$(tr -- '-_' '+/'); while [ $(( ${#s} % 4 )) -ne 0 ]; do s="$s="; done; printf '%s' "$s" | openssl base64 -d -A; }
hex2b64url() { xxd -r -p | b64url; }
pad64() { local h=$1; h=${h#00}; while [ ${#h} -lt 64 ]; do h="0$h"; done; printf '%s' "${h: -64}"; }
# DER INTEGER of a 32-byte big-endian value in hex
der_int() { local h=$1; while [ ${#h} -gt 2 ] && [ "${h:0:2}" = 00 ]; do h=${h:2}; done
  [ $((16#${h:0:2})) -ge 128 ] && h="00$h"; printf '02%02x%s' $(( ${#h} / 2 )) "$h"; }

sign() {
  local alg=$1 dir=$2 now hdr pl input
  now=$(date +%s)
  case "$alg" in
    RS256) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/key.pem" 2>/dev/null ;;
    ES256) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/key.pem" 2>/dev/null ;;
    *) echo "openssl-jws: unsupported alg $alg" >&2; exit 2 ;;
  esac
  hdr=$(printf '{"alg":"%s","kid":"openssl-%s","typ":"JWT"}' "$alg" "$alg" | b64url)
  pl=$(printf '{"iss":"https://openssl.test","sub":"interop","nbf":%d,"exp":%d}' "$now" $((now + 600)) | b64url)
  input="$hdr.$pl"
  printf '%s' "$input" | openssl dgst -sha256 -sign "$dir/key.pem" -out "$dir/sig.der"
  if [ "$alg" = RS256 ]; then
    sig=$(b64url <"$dir/sig.der")
    n=$(openssl pkey -in "$dir/key.pem" -pubout | openssl rsa -pubin -noout -modulus | cut -d= -f2 | hex2b64url)
    jwk=$(printf '{"kty":"RSA","kid":"openssl-RS256","n":"%s","e":"AQAB"}' "$n")
  else
    mapfile -t ints < <(openssl asn1parse -inform DER -in "$dir/sig.der" | sed -n 's/.*INTEGER *:\([0-9A-Fa-f]*\).*/\1/p')
    sig=$( { pad64 "${ints[0]}"; pad64 "${ints[1]}"; } | hex2b64url)
    pub=$(openssl pkey -in "$dir/key.pem" -pubout -outform DER | xxd -p | tr -d '\n')
    pub=${pub: -128} # the uncompressed point's x || y (the SPKI ends with 04 x y)
    jwk=$(printf '{"kty":"EC","kid":"openssl-ES256","crv":"P-256","x":"%s","y":"%s"}' \
      "$(printf '%s' "${pub:0:64}" | hex2b64url)" "$(printf '%s' "${pub:64:64}" | hex2b64url)")
  fi
  printf '%s.%s\n%s\n' "$input" "$sig" "$jwk"
}

verify() {
  local alg=$1 cert=$2 token=$3 dir
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' RETURN
  openssl x509 -inform DER -in "$cert" -pubkey -noout >"$dir/pub.pem"
  printf '%s' "${token%.*}" >"$dir/input"
  printf '%s' "${token##*.}" | unb64url >"$dir/sig.raw"
  if [ "$alg" = ES256 ]; then
    local h r s body
    h=$(xxd -p "$dir/sig.raw" | tr -d '\n')
    [ ${#h} -eq 128 ] || return 1
    r=$(der_int "${h:0:64}"); s=$(der_int "${h:64:64}")
    body="$r$s"
    printf '30%02x%s' $(( ${#body} / 2 )) "$body" | xxd -r -p >"$dir/sig"
  else
    cp "$dir/sig.raw" "$dir/sig"
  fi
  openssl dgst -sha256 -verify "$dir/pub.pem" -signature "$dir/sig" "$dir/input" >/dev/null
}

case "${1:-}" in
  sign) sign "$2" "$3" ;;
  verify) verify "$2" "$3" "$4" ;;
  *) echo "usage: openssl-jws.sh sign ALG DIR | verify ALG CERT TOKEN" >&2; exit 2 ;;
esac
