/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CONFPOOL_KEYRELEASE_H
#define CONFPOOL_KEYRELEASE_H

/*
 * Secure key release as Azure Key Vault / Managed HSM do it (see
 * docs/key-broker.md):
 *
 *  - release policies in Key Vault's grammar, version 1.0.0:
 *      { "version":"1.0.0", "anyOf"|"allOf":[ authority, ... ] }
 *      authority = { "authority":"<issuer>", "anyOf"|"allOf":[ condition, ... ] }
 *      condition = { "claim":"<a.b.c>", "<op>":value }
 *                | { "anyOf":[condition, ...] } | { "allOf":[condition, ...] }
 *    with op one of equals, notEquals, less, lessOrEquals, greater,
 *    greaterOrEquals, exists;
 *  - the TEE key of an attestation token (first RSA key in the top-level
 *    x-ms-runtime.keys with key_ops containing "encrypt" or use "enc");
 *  - CKM_RSA_AES_KEY_WRAP (PKCS#11): RSA-OAEP of an ephemeral AES-256 key
 *    followed by AES key wrap with padding (RFC 5649) of the key material;
 *    OAEP with SHA-1 (CKM_RSA_AES_KEY_WRAP), SHA-256 (RSA_AES_KEY_WRAP_256)
 *    or SHA-384 (RSA_AES_KEY_WRAP_384), MGF1 with the same hash.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "confpool/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CP_RELEASE_POLICY_MAX       (64u * 1024u) /* bytes of policy JSON */
#define CP_RELEASE_POLICY_MAX_NODES 1024u         /* authorities + conditions */
#define CP_RELEASE_POLICY_MAX_DEPTH 16u           /* anyOf/allOf nesting */
#define CP_RELEASE_CLAIM_MAX        256u          /* bytes of a claim path */
#define CP_RELEASE_REASON_MAX       384u

/* ---- release policies ----------------------------------------------------- */

typedef struct cp_release_policy cp_release_policy;

/* Parse and validate a policy document.  Every member is checked: version
 * must be "1.0.0"; exactly one of anyOf/allOf per group (non-empty arrays);
 * authorities non-empty strings; a condition has "claim" (a dot path of
 * non-empty segments, at most CP_RELEASE_CLAIM_MAX bytes) and exactly one
 * operator; equals/notEquals take a string, number or boolean; the ordering
 * operators take a number; exists takes a boolean; unknown members are
 * refused.  Errors: CP_ETOOBIG, CP_EFORMAT (with the JSON path of the
 * offending member in the message), CP_EVERSION, CP_ENOMEM. */
CP_API CP_WUR int cp_release_policy_parse(const char *json, size_t len, cp_release_policy **ret);
CP_API cp_release_policy *cp_release_policy_free(cp_release_policy *p);
/* Canonical compact JSON of the parsed policy (malloc()ed). */
CP_API CP_WUR int cp_release_policy_to_json(const cp_release_policy *p, char **ret);
CP_API size_t cp_release_policy_n_authorities(const cp_release_policy *p);
CP_API const char *cp_release_policy_authority(const cp_release_policy *p, size_t i);

/* Evaluate against the claims of an already validated token whose issuer
 * is iss.  The authorities whose URL equals iss (a trailing "/" on either
 * side is ignored) are the ones considered.  A missing claim makes every
 * operator false except exists:false; objects and arrays are never
 * comparable; numbers compare as numbers (integers exactly), strings and
 * booleans only for (not)equals and only with their own type.
 * 0 = release allowed.  CP_EPOLICY = refused; reason (may be NULL, cap
 * bytes) then names the authority or the first failed condition. */
CP_API CP_WUR int cp_release_policy_evaluate(const cp_release_policy *p, const char *iss, const json_t *claims,
                                             char *reason, size_t reason_cap);

/* The TEE encryption key of a token: the first element of the top-level
 * claims["x-ms-runtime"]["keys"] that is kty "RSA" with key_ops containing
 * "encrypt" or use "enc" (never x-ms-isolation-tee.x-ms-runtime, which
 * carries the vTPM AK).  Borrowed from claims.  CP_ENOTFOUND if none. */
CP_API CP_WUR int cp_release_find_tee_key(const json_t *claims, const json_t **ret_jwk);

/* ---- CKM_RSA_AES_KEY_WRAP ------------------------------------------------- */

typedef enum cp_keywrap_alg {
        CP_KEYWRAP_INVALID = 0,
        CP_KEYWRAP_CKM_RSA_AES = 1, /* "CKM_RSA_AES_KEY_WRAP": OAEP SHA-1 */
        CP_KEYWRAP_RSA_AES_256 = 2, /* "RSA_AES_KEY_WRAP_256": OAEP SHA-256 */
        CP_KEYWRAP_RSA_AES_384 = 3, /* "RSA_AES_KEY_WRAP_384": OAEP SHA-384 */
} cp_keywrap_alg;

CP_API const char *cp_keywrap_alg_name(cp_keywrap_alg alg);
/* CP_EUNSUPPORTED for anything but the three names above. */
CP_API CP_WUR int cp_keywrap_alg_from_name(const char *name, cp_keywrap_alg *ret);

#define CP_KEYWRAP_MAX_PLAIN (16u * 1024u) /* key material wrapped at most */

/* An RSA key (2048..4096 bits) to wrap to (public) or unwrap with (private). */
typedef struct cp_wrap_key cp_wrap_key;
/* Public RSA JWK {kty:"RSA", n, e} (base64url, unpadded); other members are
 * ignored.  CP_EFORMAT / CP_EUNSUPPORTED (not RSA or size out of range). */
CP_API CP_WUR int cp_wrap_key_from_jwk(const json_t *jwk, cp_wrap_key **ret);
/* PEM: a private key (PKCS#8 or traditional) or a public key (SPKI). */
CP_API CP_WUR int cp_wrap_key_from_pem(const char *pem, size_t len, cp_wrap_key **ret);
/* Generate an RSA private key of bits (2048/3072/4096) - tests, tools. */
CP_API CP_WUR int cp_wrap_key_generate(unsigned bits, cp_wrap_key **ret);
CP_API cp_wrap_key *cp_wrap_key_free(cp_wrap_key *k);
CP_API unsigned cp_wrap_key_bits(const cp_wrap_key *k);
CP_API bool cp_wrap_key_is_private(const cp_wrap_key *k);
/* Public JWK {kty, n, e} (new reference). */
CP_API CP_WUR int cp_wrap_key_to_jwk(const cp_wrap_key *k, json_t **ret);
/* Private key as PKCS#8 PEM (malloc()ed, caller wipes) - tests, tools. */
CP_API CP_WUR int cp_wrap_key_private_pem(const cp_wrap_key *k, char **ret, size_t *ret_len);

/* Wrap plain (1..CP_KEYWRAP_MAX_PLAIN bytes): *ret = RSA-OAEP(k, ephemeral
 * AES-256 key) || AES-256-KWP(ephemeral, plain); the ephemeral key is wiped. */
CP_API CP_WUR int cp_keywrap_wrap(const cp_wrap_key *k, cp_keywrap_alg alg, const uint8_t *plain, size_t len,
                                  uint8_t **ret, size_t *ret_len);
/* Unwrap with a private key.  *ret (malloc()ed, caller wipes) gets the key
 * material.  CP_ETRUNC / CP_EFORMAT for bad lengths, CP_ESIG when OAEP
 * decoding or the RFC 5649 integrity check fails. */
CP_API CP_WUR int cp_keywrap_unwrap(const cp_wrap_key *k, cp_keywrap_alg alg, const uint8_t *wrapped, size_t len,
                                    uint8_t **ret, size_t *ret_len);

/* The key_hsm blob of a Key Vault release response:
 * base64url(JSON {"schema_version":"1.0","header":{"kid":kid,"alg":"dir",
 * "enc":<alg name>},"ciphertext":base64url(wrapped)}). */
CP_API CP_WUR int cp_keyrelease_key_hsm_encode(const char *kid, cp_keywrap_alg alg, const uint8_t *wrapped,
                                               size_t len, char **ret);
CP_API CP_WUR int cp_keyrelease_key_hsm_decode(const char *key_hsm, size_t len, cp_keywrap_alg *ret_alg,
                                               uint8_t **ret_wrapped, size_t *ret_len);

#ifdef __cplusplus
}
#endif
#endif
