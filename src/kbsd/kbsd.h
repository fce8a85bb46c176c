/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_KBSD_H
#define CP_KBSD_H

/*
 * confpool-kbsd: a key broker with Azure Key Vault-shaped REST endpoints and
 * secure key release to attested TEEs (see docs/key-broker.md).  The service
 * object can run without HTTP (cp_kbsd_handle() on constructed requests).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "confpool/jwt.h"
#include "service/httpd.h"

#define CP_KBSD_MASTER_KEY_LEN 32u
#define CP_KBSD_MAX_AUTHORITIES 8u
#define CP_KBSD_MAX_TOKENS 8u

typedef enum cp_kbsd_scope {
        CP_KBSD_SCOPE_RELEASE = 1, /* release only */
        CP_KBSD_SCOPE_ADMIN = 2,   /* everything */
} cp_kbsd_scope;

typedef struct cp_kbsd_authority {
        const char *issuer;    /* exact "iss" of its tokens */
        const char *jwks_json; /* JWKS document text (a fixed key set), or */
        const char *jwks_url;  /* its http(s) URL (the attestation service's /certs): fetched in the
                                * background from the start, refreshed every 5 min and for an
                                * unknown kid (at most every 5 s), keys kept after rotation until
                                * the tokens they signed expire (service/jwks-cache.h) */
} cp_kbsd_authority;

typedef struct cp_kbsd_token {
        const char *name;      /* who, for the audit log */
        const char *token;     /* bearer secret (only its SHA-256 is kept) */
        cp_kbsd_scope scope;
} cp_kbsd_token;

typedef struct cp_kbsd_config {
        const char *db_path;                 /* SQLite file (created) */
        const uint8_t *master_key;           /* CP_KBSD_MASTER_KEY_LEN bytes (copied, wiped on free) */
        const char *bind_addr;               /* NULL: 127.0.0.1 */
        uint16_t port;                       /* 0: ephemeral */
        unsigned threads;                    /* 0: 4 */
        const char *tls_cert_pem, *tls_key_pem;
        cp_kbsd_authority authorities[CP_KBSD_MAX_AUTHORITIES];
        size_t n_authorities;
        cp_kbsd_token tokens[CP_KBSD_MAX_TOKENS];
        size_t n_tokens;
        const char *signing_key_pem;         /* RS256 key for release responses; NULL: generated */
        const char *audit_path;              /* optional JSON-lines copy of the audit log */
        const char *vault_url;               /* base of key ids; NULL: http://<bind>:<port> */
        unsigned recovery_days;              /* soft-delete retention; 0: 90 */
        int64_t now;                         /* fixed clock (tests); 0 = real time */
        unsigned slack_s;                    /* token clock skew; 0: 60 */
        bool quiet;
} cp_kbsd_config;

typedef struct cp_kbsd cp_kbsd;

CP_WUR int cp_kbsd_new(const cp_kbsd_config *cfg, cp_kbsd **ret);
CP_WUR int cp_kbsd_start(cp_kbsd *s);
uint16_t cp_kbsd_port(const cp_kbsd *s);
cp_kbsd *cp_kbsd_free(cp_kbsd *s);
void cp_kbsd_handle(void *userdata, const cp_http_request *req, cp_http_response *resp);
void cp_kbsd_set_now(cp_kbsd *s, int64_t now);
/* JWKS of the response-signing key (malloc()ed JSON). */
CP_WUR int cp_kbsd_jwks_json(cp_kbsd *s, char **ret);
/* Re-encrypt every stored key under new_key in one transaction, then
 * switch; requests keep being served (they wait for the switch). */
CP_WUR int cp_kbsd_rotate_master_key(cp_kbsd *s, const uint8_t new_key[CP_KBSD_MASTER_KEY_LEN]);
/* Offline variant on a database file. */
CP_WUR int cp_kbsd_rekey_db(const char *db_path, const uint8_t old_key[CP_KBSD_MASTER_KEY_LEN],
                            const uint8_t new_key[CP_KBSD_MASTER_KEY_LEN]);
/* Number of rows in the audit table (tests). */
CP_WUR int cp_kbsd_audit_count(cp_kbsd *s, const char *decision, long *ret);

#endif
