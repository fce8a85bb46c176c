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
import json
import sys
import time

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

CURVES = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1()}


def sign(alg):
    if alg == "RS256":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    else:
        key = ec.generate_private_key(CURVES[alg])
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
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
