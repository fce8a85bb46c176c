#!/usr/bin/python3
# JWT interop with another implementation: Debian's python3-jwt (PyJWT, on
# python3-cryptography), used by tests/unit/test-jwt-vectors.c.
#   pyjwt.py sign ALG          a fresh key: prints {"token": ..., "jwk": public JWK}
#                              for the claims {"iss": "https://pyjwt.test", "sub": "interop",
#                              "iat", "nbf": now, "exp": now + 600}
#   pyjwt.py verify ALG ISSUER  reads {"token": ..., "jwk": ...} on stdin, verifies
#                              with PyJWT (signature, exp, nbf, iss) and prints the claims;
#                              exit 1 with the reason when PyJWT refuses it
# Run with /usr/bin/python3 (Debian's python3-jwt; scripts/install-deps.sh check).
import base64
import json
import sys
import time

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

CURVES = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1()}


def ec_jwk(pub):
    """The public JWK of an EC key, coordinates at the curve's full length
    (RFC 7518 section 6.2.1.2). Debian's pyjwt 2.6 to_jwk() strips their leading
    zero bytes (a key in 128 for P-256), a JWK that its own from_jwk() refuses
    ("Coords should be 32 bytes") and so does cp_jwks_parse; the rest of its
    output is kept."""
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(pub))
    size = (pub.curve.key_size + 7) // 8
    nums = pub.public_numbers()
    for name, value in (("x", nums.x), ("y", nums.y)):
        jwk[name] = base64.urlsafe_b64encode(value.to_bytes(size, "big")).rstrip(b"=").decode()
    return jwk


def sign(alg):
    if alg == "RS256":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    else:
        key = ec.generate_private_key(CURVES[alg])
        jwk = ec_jwk(key.public_key())
    now = int(time.time())
    claims = {"iss": "https://pyjwt.test", "sub": "interop", "iat": now, "nbf": now, "exp": now + 600}
    jwk["kid"] = "pyjwt-" + alg
    token = jwt.encode(claims, key, algorithm=alg, headers={"kid": jwk["kid"]})
    print(json.dumps({"token": token, "jwk": jwk}))


def verify(alg, issuer):
    doc = json.load(sys.stdin)
    key = jwt.PyJWK(doc["jwk"]).key
    try:
        claims = jwt.decode(doc["token"], key, algorithms=[alg], issuer=issuer,
                            options={"require": ["exp", "iss"]})
    except jwt.PyJWTError as e:
        print("pyjwt refused: %s" % e, file=sys.stderr)
        sys.exit(1)
    print(json.dumps(claims, sort_keys=True))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "sign":
        sign(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "verify":
        verify(sys.argv[2], sys.argv[3])
    else:
        print(__doc__ or "usage: pyjwt.py sign ALG | verify ALG ISSUER", file=sys.stderr)
        sys.exit(2)
