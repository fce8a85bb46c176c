/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_KBSD_INTERNAL_H
#define CP_KBSD_INTERNAL_H

/*
 * confpool-kbsd inside: the service object and what its files give each
 * other.  One file a job (docs/key-broker.md):
 *
 *   kbsd.c          lifecycle (new, start, free), the JWKS, the clock
 *   kbsd-store.c    schema, key / disk / token rows, sealing under the master
 *                   key, master-key check and rotation
 *   kbsd-keys.c     key material: generation, JWK import, public JWK, bundles
 *   kbsd-audit.c    the append-only audit log (table and JSON-lines file)
 *   kbsd-release.c  secure key release: token, policy, wrapped response
 *   kbsd-disk.c     disk keys (create, release, crypto-erase)
 *   kbsd-keyops.c   the key endpoints (create, import, rotate, get, list,
 *                   delete, recover, purge)
 *   kbsd-routes.c   the route table on the service skeleton, authentication
 *                   and scopes, the Key Vault error dialect
 */

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "confpool/keyrelease.h"
#include "kbsd/kbsd.h"
#include "service/jwks-cache.h"
#include "service/service.h"
#include "service/store.h"

#define CP_KBSD_MAX_NAME 127
#define CP_KBSD_DISK_SALT 32
#define CP_KBSD_VERSION_MAX 40

typedef struct cp_kbsd_trusted {
        char *issuer;
        cp_jwks *jwks;         /* a fixed key set, or */
        cp_jwks_cache *cache;  /* the authority's /certs, refreshed (own locking) */
} cp_kbsd_trusted;

struct cp_kbsd {
        cp_kbsd_config cfg;
        cp_store *store;
        cp_svc *svc;
        cp_httpd *httpd;
        pthread_rwlock_t mk_lock;            /* readers seal and unseal; rotation switches */
        uint8_t master[CP_KBSD_MASTER_KEY_LEN];
        cp_kbsd_trusted auth[CP_KBSD_MAX_AUTHORITIES];
        size_t n_auth;
        cp_jwt_key *signer;
        char vault_url[256];
        int64_t now;
        pthread_mutex_t audit_mu;
        FILE *audit_file;
};

/* kbsd.c */
int64_t cp_kbsd_now(const cp_kbsd *s);

/* ---- kbsd-store.c ---------------------------------------------------------- */

typedef struct cp_kbsd_keyrow {
        char name[CP_KBSD_MAX_NAME + 1], version[CP_KBSD_VERSION_MAX], kty[16], crv[16];
        int key_size;
        bool exportable, enabled;
        int64_t created, updated, deleted, purge_at;
        json_t *tags, *public_jwk;
        char *policy;
        bool policy_immutable;
        uint8_t *sealed;
        size_t sealed_len;
} cp_kbsd_keyrow;

void cp_kbsd_keyrow_clear(cp_kbsd_keyrow *k);

/* Open (migrate) the database, secure_delete on, check the master key. */
CP_WUR int cp_kbsd_store_open(cp_kbsd *s);
/* Seal material under the master key for name/version (AES-256-GCM, the
 * AAD binds the row); unseal a row's.  An unseal that does not
 * authenticate is CP_ESTORAGE (the row or the key is wrong, not the caller). */
CP_WUR int cp_kbsd_seal(cp_kbsd *s, const char *name, const char *version, const uint8_t *m, size_t n, uint8_t **ret,
                        size_t *ret_len);
CP_WUR int cp_kbsd_unseal(cp_kbsd *s, const cp_kbsd_keyrow *k, uint8_t **ret, size_t *ret_len);

/* version NULL: the newest.  deleted: look at soft-deleted keys instead. */
CP_WUR int cp_kbsd_key_load(cp_kbsd *s, const char *name, const char *version, bool deleted, cp_kbsd_keyrow *ret);
/* How a new version may be written (docs/key-broker.md, "Replicas"):
 * ANY a new key or a new version of a live one (create, import), NEW only
 * if the name has no version at all (create with If-None-Match: *),
 * VERSION only if the name has a live version (rotate).  Never while the
 * name has deleted versions.  The check and the insert are one write
 * transaction, exclusive across replicas: CP_EBADSEQ (deleted versions),
 * CP_ECONFLICT (NEW: it exists), CP_ENOTFOUND (VERSION: deleted or purged
 * meanwhile). */
typedef enum cp_kbsd_insert_mode {
        CP_KBSD_INSERT_ANY,
        CP_KBSD_INSERT_NEW,
        CP_KBSD_INSERT_VERSION,
} cp_kbsd_insert_mode;
CP_WUR int cp_kbsd_key_insert(cp_kbsd *s, const cp_kbsd_keyrow *k, cp_kbsd_insert_mode mode);
/* Every version of name (oldest first) or, name NULL, the newest version of
 * every live (or deleted) key.  fn may stop the walk with a negative cp_err. */
CP_WUR int cp_kbsd_key_foreach(cp_kbsd *s, const char *name, bool deleted,
                               int (*fn)(const cp_kbsd_keyrow *k, void *userdata), void *userdata);
/* Row counts changed (0: no such key). */
CP_WUR int cp_kbsd_key_soft_delete(cp_kbsd *s, const char *name, int64_t now, int64_t purge_at);
CP_WUR int cp_kbsd_key_recover(cp_kbsd *s, const char *name);
CP_WUR int cp_kbsd_key_purge(cp_kbsd *s, const char *name);

typedef struct cp_kbsd_diskrow {
        char mode[16], key_name[CP_KBSD_MAX_NAME + 1];
        uint8_t salt[CP_KBSD_DISK_SALT];
        uint8_t *wrapped; /* customer mode: the disk key wrapped to the customer key */
        size_t wrapped_len;
        char *policy;     /* the disk's own release policy (normalised JSON), required on top of
                           * its key's (binds a platform disk to one node); NULL: none */
} cp_kbsd_diskrow;

void cp_kbsd_diskrow_clear(cp_kbsd_diskrow *d);
CP_WUR int cp_kbsd_disk_insert(cp_kbsd *s, const char *id, const cp_kbsd_diskrow *d);
CP_WUR int cp_kbsd_disk_load(cp_kbsd *s, const char *id, cp_kbsd_diskrow *ret);
/* Overwrite, then delete the row; 0 when there was none. */
CP_WUR int cp_kbsd_disk_erase(cp_kbsd *s, const char *id);

/* Bearer tokens: only SHA-256(secret) is stored. */
CP_WUR int cp_kbsd_token_add(cp_kbsd *s, const cp_kbsd_token *t);
/* The row whose hash is digest, compared in constant time against every
 * row; CP_EUNTRUSTED when none. */
CP_WUR int cp_kbsd_token_find(cp_kbsd *s, const uint8_t digest[32], char *who, size_t who_cap,
                              cp_kbsd_scope *ret_scope);

/* ---- kbsd-keys.c ------------------------------------------------------------ */

typedef struct cp_kbsd_keyspec {
        char kty[16]; /* RSA, EC, oct */
        int key_size;
        char crv[16];
} cp_kbsd_keyspec;

/* kty as Key Vault names it (RSA, RSA-HSM, EC, ...), size 0 / crv NULL for the defaults. */
CP_WUR int cp_kbsd_keyspec_parse(const char *kty, int size, const char *crv, cp_kbsd_keyspec *ret);
/* New material: PKCS#8 DER for RSA/EC, 32 raw bytes for oct; and its public JWK. */
CP_WUR int cp_kbsd_key_generate(const cp_kbsd_keyspec *ks, uint8_t **ret, size_t *ret_len, json_t **ret_jwk);
/* BYOK: a private JWK (RSA n,e,d,p,q,dp,dq,qi; EC crv,x,y,d; oct k), pair-wise checked. */
CP_WUR int cp_kbsd_key_import_jwk(const json_t *jwk, cp_kbsd_keyspec *ks, uint8_t **ret, size_t *ret_len,
                                  json_t **ret_pub);
/* A random key version (32 hex digits). */
CP_WUR int cp_kbsd_new_version(char out[33]);
/* 1-127 of a-z, A-Z, 0-9, '-'. */
bool cp_kbsd_valid_name(const char *n);
/* The Key Vault key bundle of a row (public part); key_hsm, when given, goes into key. */
json_t *cp_kbsd_key_bundle(const cp_kbsd *s, const cp_kbsd_keyrow *k, const char *key_hsm);

/* ---- kbsd-audit.c ------------------------------------------------------------ */

void cp_kbsd_audit(cp_kbsd *s, const char *who, const char *op, const char *key, const char *version,
                   const char *decision, const char *reason, const char *jti);

/* ---- kbsd-release.c ---------------------------------------------------------- */

/* A refused release: the status and Key Vault code it is answered with. */
typedef struct cp_kbsd_refusal {
        unsigned status;
        const char *code;
        char reason[CP_RELEASE_REASON_MAX];
        char jti[128];
} cp_kbsd_refusal;

/* "target" (the attestation token) and "enc" of a release body. */
CP_WUR int cp_kbsd_release_body(const json_t *body, const char **ret_target, cp_keywrap_alg *ret_alg);
/* Validate the token against its authority and the key's policy; on success
 * *ret_jwt is the token and *ret_tee its TEE key, else *o says why. */
CP_WUR int cp_kbsd_release_check(cp_kbsd *s, const char *policy, const char *token, cp_kbsd_refusal *o,
                                 cp_jwt **ret_jwt, cp_wrap_key **ret_tee);
/* Wrap material to the TEE key of t and sign the Key Vault release response. */
CP_WUR int cp_kbsd_release_response(cp_kbsd *s, const cp_kbsd_keyrow *k, const cp_jwt *t, cp_wrap_key *tee,
                                    cp_keywrap_alg alg, const uint8_t *mat, size_t ml, char **ret);
/* Answer a refusal with its own status and code. */
void cp_kbsd_reply_refusal(cp_svc_call *c, const cp_kbsd_refusal *o);
/* The audit's decision of a refusal: "unavailable" for a 503 (the token could
 * not be checked now: not a verdict), "denied" otherwise. */
const char *cp_kbsd_refusal_decision(const cp_kbsd_refusal *o);

/* A request's release_policy {"data": base64url(policy JSON)} validated and
 * normalised into *ret (malloc'd); errors name what (e.g. "release_policy"). */
CP_WUR int cp_kbsd_policy_decode(const json_t *rp, const char *what, char **ret);

/* ---- handlers (kbsd-keyops.c, kbsd-release.c, kbsd-disk.c) ------------------------ */

void cp_kbsd_h_create(cp_svc_call *c);
void cp_kbsd_h_import(cp_svc_call *c);
void cp_kbsd_h_rotate(cp_svc_call *c);
void cp_kbsd_h_get(cp_svc_call *c);
void cp_kbsd_h_get_deleted(cp_svc_call *c);
void cp_kbsd_h_list(cp_svc_call *c);
void cp_kbsd_h_list_deleted(cp_svc_call *c);
void cp_kbsd_h_versions(cp_svc_call *c);
void cp_kbsd_h_delete(cp_svc_call *c);
void cp_kbsd_h_recover(cp_svc_call *c);
void cp_kbsd_h_purge(cp_svc_call *c);
void cp_kbsd_h_release(cp_svc_call *c);
void cp_kbsd_h_disk_create(cp_svc_call *c);
void cp_kbsd_h_disk_release(cp_svc_call *c);
void cp_kbsd_h_disk_delete(cp_svc_call *c);

/* ---- kbsd-routes.c --------------------------------------------------------------- */

/* The service on the skeleton: routes, authentication, scopes, dialect. */
CP_WUR int cp_kbsd_svc_new(cp_kbsd *s, cp_svc **ret);
/* The request body as a JSON object ({} when empty), with the skeleton's limits. */
CP_WUR int cp_kbsd_body(const cp_svc_call *c, json_t **ret);
/* c->caps[0] is a valid key or disk name; otherwise answered (404) and false. */
bool cp_kbsd_name_ok(cp_svc_call *c);
/* Both of the above for a handler with a body: false when answered. */
bool cp_kbsd_begin(cp_svc_call *c, json_t **ret_body);

static inline cp_kbsd *cp_kbsd_of(const cp_svc_call *c) {
        return c->userdata;
}

#endif
