/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CONFPOOL_JWT_H
#define CONFPOOL_JWT_H

/*
 * JSON Web Tokens (RFC 7519) in JWS compact serialization (RFC 7515), JSON
 * Web Keys (RFC 7517/7518) and JWK thumbprints (RFC 7638).
 *
 * Algorithms: RS256 (RSASSA-PKCS1-v1_5 SHA-256, RSA >= 2048 bits), ES256
 * (P-256, SHA-256) and ES384 (P-384, SHA-384); ECDSA signatures are the
 * fixed-size r||s of RFC 7518 section 3.4.  "none" and every other name are
 * refused by the verifier, and the key type must fit the header's alg (an
 * RSA key is never used for ES*, an EC key never for RS256, a P-256 key
 * never for ES384), so there is no key confusion.
 *
 * Producer side (the attestation service): cp_jwt_key holds a private key,
 * its kid (the RFC 7638 thumbprint unless given) and a self-signed
 * certificate published as x5c; cp_jwt_sign() makes a token.
 *
 * Relying-party side (key broker, control plane): cp_jwks_parse() loads a
 * JWKS document (e.g. the service's /certs), cp_jwt_validate() checks
 * structure, alg allow-list, signature, issuer, audience and time.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "confpool/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cp_jwt_alg {
        CP_JWT_ALG_INVALID = 0,
        CP_JWT_RS256 = 1 << 0,
        CP_JWT_ES256 = 1 << 1,
        CP_JWT_ES384 = 1 << 2,
} cp_jwt_alg;
#define CP_JWT_ALG_ALL (CP_JWT_RS256 | CP_JWT_ES256 | CP_JWT_ES384)

#define CP_JWT_KID_MAX 64u                /* longest kid accepted (bytes) */
#define CP_JWT_MAX_TOKEN (64u * 1024u)    /* longest compact token accepted */
#define CP_JWT_MAX_JWKS (256u * 1024u)    /* longest JWKS document accepted */
#define CP_JWT_MAX_KEYS 32u               /* keys in one JWKS */

/* "RS256", "ES256", "ES384"; "invalid" otherwise. */
CP_API const char *cp_jwt_alg_name(cp_jwt_alg alg);
/* CP_EUNSUPPORTED for "none" and every unknown name. */
CP_API CP_WUR int cp_jwt_alg_from_name(const char *name, cp_jwt_alg *ret);

/* ---- signing keys ------------------------------------------------------ */

typedef struct cp_jwt_key cp_jwt_key;

/* Generate a key for alg (RSA-2048 for RS256, P-256 / P-384 for ES256 /
 * ES384) with a self-signed certificate valid from now - 60 s for
 * cert_days days, subject CN=common_name (NULL: "confpool token signing").
 * now 0 = current time.  kid is the RFC 7638 thumbprint. */
CP_API CP_WUR int cp_jwt_key_generate(cp_jwt_alg alg, const char *common_name, int64_t now, unsigned cert_days,
                                      cp_jwt_key **ret);
/* Load a PEM private key (and optionally a PEM certificate for it; NULL:
 * a self-signed one is made).  The key must fit alg; a certificate whose
 * public key differs is CP_EINVAL. */
CP_API CP_WUR int cp_jwt_key_from_pem(cp_jwt_alg alg, const char *key_pem, size_t key_len, const char *cert_pem,
                                      size_t cert_len, cp_jwt_key **ret);
/* Wipes and frees; accepts NULL; returns NULL. */
CP_API cp_jwt_key *cp_jwt_key_free(cp_jwt_key *k);
CP_API const char *cp_jwt_key_kid(const cp_jwt_key *k);
CP_API cp_jwt_alg cp_jwt_key_alg(const cp_jwt_key *k);
/* Public JWK: {kty, kid, use:"sig", alg, n/e or crv/x/y, x5c:[base64 DER]}. */
CP_API CP_WUR int cp_jwt_key_to_jwk(const cp_jwt_key *k, json_t **ret);
/* The certificate (DER, borrowed). */
CP_API const uint8_t *cp_jwt_key_cert_der(const cp_jwt_key *k, size_t *ret_len);

/* Sign: header {"alg", "typ":"JWT", "kid"} plus the members of
 * extra_header (may be NULL; "alg" and "kid" there are refused), payload =
 * compact JSON of claims (an object).  *ret is a malloc()ed NUL-terminated
 * token. */
CP_API CP_WUR int cp_jwt_sign(const cp_jwt_key *k, const json_t *claims, const json_t *extra_header, char **ret);

/*
 * A prepared signer, for services that issue many tokens with one key and
 * one header: the header (exactly as cp_jwt_sign() writes it for k and
 * extra_header) is serialized and base64url-encoded once, and signatures
 * reuse a per-thread signing context of the key.  The token of
 * cp_jwt_signer_sign(s, text) equals cp_jwt_sign(k, claims, extra_header)
 * when text is json_dumps(claims, JSON_COMPACT), up to the signature (ECDSA
 * is randomized).  k is borrowed and must outlive the signer; the signer is
 * immutable and may be used by several threads at once.
 */
typedef struct cp_jwt_signer cp_jwt_signer;

CP_API CP_WUR int cp_jwt_signer_new(const cp_jwt_key *k, const json_t *extra_header, cp_jwt_signer **ret);
/* Accepts NULL; returns NULL. */
CP_API cp_jwt_signer *cp_jwt_signer_free(cp_jwt_signer *s);
CP_API const cp_jwt_key *cp_jwt_signer_key(const cp_jwt_signer *s);
/* Sign payload, the compact JSON text of a claims object (len bytes; only
 * its enclosing braces are checked: CP_EINVAL).  *ret is a malloc()ed
 * NUL-terminated token. */
CP_API CP_WUR int cp_jwt_signer_sign(const cp_jwt_signer *s, const char *payload, size_t len, char **ret);

/* An unsecured JWS (header {"alg":"none","typ":"JWT"}, empty signature part)
 * over payload, as MAA issues for draft-policy evaluations; the counterpart
 * of cp_jws_decode_unsecured().  *ret is malloc()ed. */
CP_API CP_WUR int cp_jws_encode_unsecured(const char *payload, size_t len, char **ret);

/* ---- verification keys (JWKS) ------------------------------------------ */

typedef struct cp_jwks cp_jwks;

/* Parse {"keys":[...]}.  Accepted keys: kty "RSA" (n of 2048..8192 bits, e)
 * and kty "EC" (crv "P-256" / "P-384", x, y on the curve); members are
 * base64url without padding.  "use", when present, must be "sig" (other
 * keys are skipped); "alg", when present, must be one of ours and fit the
 * key (CP_EFORMAT otherwise) and then restricts the key to it; "kid" is
 * optional, at most CP_JWT_KID_MAX bytes, unique; an "x5c" certificate, when
 * present, must carry the same public key.  Keys of other types are
 * skipped; a document with no usable key is CP_ENOTFOUND.
 * Errors: CP_ETOOBIG, CP_EFORMAT, CP_ENOTFOUND, CP_ENOMEM, CP_ECRYPTO. */
CP_API CP_WUR int cp_jwks_parse(const char *json, size_t len, cp_jwks **ret);
/* The RFC 7638 thumbprint (SHA-256, base64url) of a public JWK, RSA or EC
 * as cp_jwks_parse accepts them (the kid of our keys).  CP_EFORMAT,
 * CP_EUNSUPPORTED (another kty, curve or size). */
CP_API CP_WUR int cp_jwk_thumbprint(const json_t *jwk, char ret[CP_JWT_KID_MAX + 1]);
/* A JWKS holding the public halves of keys (for tests and in-process relying
 * parties). */
CP_API CP_WUR int cp_jwks_from_keys(const cp_jwt_key *const *keys, size_t n, cp_jwks **ret);
CP_API cp_jwks *cp_jwks_free(cp_jwks *s);
CP_API size_t cp_jwks_count(const cp_jwks *s);
/* Whether s holds a key with this kid. */
CP_API bool cp_jwks_has_kid(const cp_jwks *s, const char *kid);
/* The kid of key i of s (NULL: none, or i out of range). */
CP_API const char *cp_jwks_kid_at(const cp_jwks *s, size_t i);

/*
 * Key rollover at a relying party (docs/threat-model.md, items 9-10 of issue
 * 13): the key set after refetching a JWKS.  *ret holds every key of fresh,
 * and every key of old that fresh no longer serves, "retired", until keep_s
 * seconds after it was first found missing (the longest lifetime of a token
 * it can have signed), so tokens issued before the issuer rotated or
 * restarted with a new key stay valid until they expire.  A fresh key with
 * the kid of an old one replaces it (kids stay unique); an old key without
 * kid is kept unless fresh holds the same public key.  When more than
 * CP_JWT_MAX_KEYS would remain, the retired keys retired first go first.
 * old may be NULL.  now: Unix seconds.
 */
CP_API CP_WUR int cp_jwks_rollover(const cp_jwks *old, const cp_jwks *fresh, int64_t now, int64_t keep_s,
                                   cp_jwks **ret);
/* Keys of s that are retired (kept by cp_jwks_rollover, no longer served). */
CP_API size_t cp_jwks_retired_count(const cp_jwks *s);

/* ---- validation ----------------------------------------------------------- */

#define CP_JWT_VALIDATE_OPTIONS_VERSION 1
typedef struct cp_jwt_validate_options {
        unsigned version;          /* CP_JWT_VALIDATE_OPTIONS_VERSION */
        const cp_jwks *jwks;       /* required */
        unsigned algs;             /* allowed cp_jwt_alg bits; 0 = CP_JWT_ALG_ALL */
        const char *issuer;        /* required: "iss" must equal it exactly */
        const char *audience;      /* NULL: "aud" not checked; else a string aud or an array must hold it */
        int64_t now;               /* Unix seconds; 0 = current time */
        unsigned slack_s;          /* clock skew tolerated on exp and nbf */
        bool allow_missing_exp;    /* default false: a token without "exp" is refused */
} cp_jwt_validate_options;
#define CP_JWT_VALIDATE_OPTIONS_INIT { .version = CP_JWT_VALIDATE_OPTIONS_VERSION }

typedef struct cp_jwt cp_jwt;

/*
 * Validate a compact JWS token, in this order: size and shape (three
 * base64url parts, no padding), header JSON (an object; "alg" a string in
 * the allow-list; "crit" refused; "kid" a string if present), payload JSON
 * (an object), key selection (the key with the header's kid; without kid,
 * every key fitting the alg is tried), signature, then "iss", "aud", "exp"
 * (now < exp + slack) and "nbf" (now >= nbf - slack); exp/nbf/iat must be
 * integers when present.  Errors:
 *   CP_ETOOBIG      token longer than CP_JWT_MAX_TOKEN
 *   CP_EFORMAT      malformed token, base64url or JSON, wrong claim types
 *   CP_EUNSUPPORTED alg "none", unknown or not allowed; "crit" present
 *   CP_ENOTFOUND    kid not in the JWKS, or no key fits the alg
 *   CP_ESIG         signature does not verify
 *   CP_EUNTRUSTED   issuer differs
 *   CP_EBINDING     audience not matched
 *   CP_EEXPIRED     expired, not yet valid, or exp missing
 */
CP_API CP_WUR int cp_jwt_validate(const char *token, size_t len, const cp_jwt_validate_options *o, cp_jwt **ret);
CP_API cp_jwt *cp_jwt_free(cp_jwt *t);
/* Borrowed from t. */
CP_API const json_t *cp_jwt_header(const cp_jwt *t);
CP_API const json_t *cp_jwt_claims(const cp_jwt *t);
CP_API cp_jwt_alg cp_jwt_get_alg(const cp_jwt *t);

/* Signature only (no claim checks) for JWS whose payload is not a JWT claim
 * set (e.g. signed policies): same structural and alg checks as above;
 * *ret_payload is the malloc()ed decoded payload (NUL-terminated). */
CP_API CP_WUR int cp_jws_verify(const char *token, size_t len, const cp_jwks *jwks, unsigned algs,
                                uint8_t **ret_payload, size_t *ret_payload_len);
/* Decode an unsecured JWS (header {"alg":"none"}, empty signature part) as
 * MAA uses for unsigned policy uploads.  Anything else is CP_EFORMAT /
 * CP_EUNSUPPORTED.  No authenticity whatsoever. */
CP_API CP_WUR int cp_jws_decode_unsecured(const char *token, size_t len, uint8_t **ret_payload,
                                          size_t *ret_payload_len);

#ifdef __cplusplus
}
#endif
#endif
