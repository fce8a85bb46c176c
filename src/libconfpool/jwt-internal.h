/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_LIBCONFPOOL_JWT_INTERNAL_H
#define CP_LIBCONFPOOL_JWT_INTERNAL_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "confpool/jwt.h"

struct cp_jwt_key {
        cp_jwt_alg alg;
        EVP_PKEY *pkey;      /* private */
        X509 *cert;
        uint8_t *cert_der;
        size_t cert_der_len;
        char kid[CP_JWT_KID_MAX + 1];
};

typedef struct cp_jwks_entry {
        EVP_PKEY *pkey;      /* public */
        unsigned algs;       /* cp_jwt_alg bits this key may verify */
        bool has_kid;
        char kid[CP_JWT_KID_MAX + 1];
        int64_t retired_at;  /* cp_jwks_rollover: when the key left the served set (0: served) */
} cp_jwks_entry;

struct cp_jwks {
        size_t n;
        cp_jwks_entry keys[CP_JWT_MAX_KEYS];
};

/* The one alg bit a public key fits (0 if none). */
unsigned cp_jwt_algs_for_pkey(const EVP_PKEY *pkey);
/* base64url (unpadded) of data, malloc()ed. */
CP_WUR int cp_jwt_b64url(const uint8_t *data, size_t len, char **ret);
/* Bound the nesting depth of JSON text before jansson parses it. */
CP_WUR int cp_jwt_json_depth_ok(const char *json, size_t len, unsigned max_depth);

#endif
