/* SPDX-License-Identifier: Apache-2.0 */
/* confpool-kbsd: keys (create, import, get, list, versions, rotate, delete,
 * recover, purge), secure key release, disk keys, audit log. */

#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/secure.h"
#include "confpool/keyrelease.h"
#include "kbsd/kbsd.h"
#include "service/store.h"

#define GCM_NONCE 12
#define GCM_TAG 16
#define MAX_NAME 127
#define DISK_SALT 32

static const cp_store_migration migrations[] = {
        { 1, "CREATE TABLE keys (name TEXT NOT NULL, version TEXT NOT NULL, kty TEXT NOT NULL,"
             " key_size INTEGER, crv TEXT, exportable INTEGER NOT NULL, enabled INTEGER NOT NULL,"
             " created INTEGER NOT NULL, updated INTEGER NOT NULL, tags TEXT NOT NULL, policy TEXT,"
             " policy_immutable INTEGER NOT NULL DEFAULT 0, public_jwk TEXT NOT NULL, sealed BLOB NOT NULL,"
             " deleted INTEGER, purge_at INTEGER, PRIMARY KEY (name, version));"
             "CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER NOT NULL, who TEXT NOT NULL,"
             " op TEXT NOT NULL, key TEXT, version TEXT, decision TEXT NOT NULL, reason TEXT, jti TEXT);"
             "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;"
             "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;"
             "CREATE TABLE tokens (hash BLOB PRIMARY KEY, name TEXT NOT NULL, scope INTEGER NOT NULL);"
             "CREATE TABLE meta (k TEXT PRIMARY KEY, v BLOB NOT NULL);"
             "CREATE TABLE disks (id TEXT PRIMARY KEY, mode TEXT NOT NULL, key_name TEXT NOT NULL,"
             " salt BLOB, wrapped BLOB, created INTEGER NOT NULL);" },
};

typedef struct authority {
        char *issuer;
        cp_jwks *jwks;
} authority;

struct cp_kbsd {
        cp_kbsd_config cfg;
        cp_store *store;
        cp_httpd *httpd;
        pthread_rwlock_t mk_lock;
        uint8_t master[CP_KBSD_MASTER_KEY_LEN];
        authority auth[CP_KBSD_MAX_AUTHORITIES];
        size_t n_auth;
        cp_jwt_key *signer;
        char vault_url[256];
        int64_t now;
        pthread_mutex_t audit_mu;
        FILE *audit_file;
};

static int64_t now_of(const cp_kbsd *s) {
        return s->now ? s->now : (int64_t) time(NULL);
}

void cp_kbsd_set_now(cp_kbsd *s, int64_t now) {
        s->now = now;
}

/* ---- sealing under the master key (AES-256-GCM, AAD = name/version) ---- */

static inline void cipher_ctx_freep(EVP_CIPHER_CTX **p) {
        EVP_CIPHER_CTX_free(*p);
}

static int gcm(bool enc, const uint8_t key[32], const char *aad, const uint8_t *in, size_t len, uint8_t **ret,
               size_t *ret_len) {
        _cleanup_(cipher_ctx_freep) EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
        int n = 0, f = 0;
        if (!c)
                return cp_error_oom();
        if (enc) {
                uint8_t *out = malloc(GCM_NONCE + len + GCM_TAG);
                if (!out)
                        return cp_error_oom();
                if (RAND_bytes(out, GCM_NONCE) != 1 || EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, out) != 1 ||
                    EVP_EncryptUpdate(c, NULL, &n, (const uint8_t *) aad, (int) strlen(aad)) != 1 ||
                    EVP_EncryptUpdate(c, out + GCM_NONCE, &n, in, (int) len) != 1 ||
                    EVP_EncryptFinal_ex(c, out + GCM_NONCE + n, &f) != 1 ||
                    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, GCM_TAG, out + GCM_NONCE + len) != 1) {
                        free(out);
                        return CP_ERROR(CP_ECRYPTO, "AES-GCM seal");
                }
                *ret = out;
                *ret_len = GCM_NONCE + len + GCM_TAG;
                return 0;
        }
        if (len < GCM_NONCE + GCM_TAG)
                return CP_ERROR(CP_EFORMAT, "sealed key too short");
        size_t pl = len - GCM_NONCE - GCM_TAG;
        uint8_t *out = malloc(pl + 1);
        if (!out)
                return cp_error_oom();
        uint8_t tag[GCM_TAG];
        memcpy(tag, in + GCM_NONCE + pl, GCM_TAG);
        if (EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, in) != 1 ||
            EVP_DecryptUpdate(c, NULL, &n, (const uint8_t *) aad, (int) strlen(aad)) != 1 ||
            EVP_DecryptUpdate(c, out, &n, in + GCM_NONCE, (int) pl) != 1 ||
            EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, GCM_TAG, tag) != 1 || EVP_DecryptFinal_ex(c, out + n, &f) != 1) {
                cp_wipe(out, pl);
                free(out);
                return CP_ERROR(CP_ESIG, "sealed key does not authenticate under the master key");
        }
        *ret = out;
        *ret_len = pl;
        return 0;
}

static void aad_of(const char *name, const char *version, char *buf, size_t cap) {
        snprintf(buf, cap, "confpool-kbsd/key/%s/%s", name, version);
}

/* ---- audit ---------------------------------------------------------------- */

static void audit(cp_kbsd *s, const char *who, const char *op, const char *key, const char *version,
                  const char *decision, const char *reason, const char *jti) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int64_t ts = now_of(s);
        cp_store_lock(s->store);
        if (cp_store_prepare(s->store,
                             "INSERT INTO audit (ts, who, op, key, version, decision, reason, jti) VALUES (?,?,?,?,?,?,?,?)",
                             &st) == 0) {
                sqlite3_bind_int64(st, 1, ts);
                sqlite3_bind_text(st, 2, who ? who : "-", -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(st, 3, op, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(st, 4, key, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(st, 5, version, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(st, 6, decision, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(st, 7, reason, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(st, 8, jti, -1, SQLITE_TRANSIENT);
                if (cp_store_step(s->store, st) < 0 && !s->cfg.quiet)
                        fprintf(stderr, "kbsd: audit insert failed: %s\n", cp_error_message());
        }
        cp_store_unlock(s->store);
        if (s->audit_file) {
                json_t *o = json_pack("{s:I,s:s,s:s,s:s?,s:s?,s:s,s:s?,s:s?}", "ts", (json_int_t) ts, "who",
                                      who ? who : "-", "op", op, "key", key, "version", version, "decision", decision,
                                      "reason", reason, "jti", jti);
                char *line = o ? json_dumps(o, JSON_COMPACT) : NULL;
                if (line) {
                        pthread_mutex_lock(&s->audit_mu);
                        fprintf(s->audit_file, "%s\n", line);
                        fflush(s->audit_file);
                        pthread_mutex_unlock(&s->audit_mu);
                }
                free(line);
                json_decref(o);
        }
}

int cp_kbsd_audit_count(cp_kbsd *s, const char *decision, long *ret) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;
        cp_store_lock(s->store);
        if ((r = cp_store_prepare(s->store, "SELECT count(*) FROM audit WHERE decision = ?", &st)) == 0) {
                sqlite3_bind_text(st, 1, decision, -1, SQLITE_TRANSIENT);
                if ((r = cp_store_step(s->store, st)) == 1) {
                        *ret = (long) sqlite3_column_int64(st, 0);
                        r = 0;
                }
        }
        cp_store_unlock(s->store);
        return r;
}

/* ---- key material ------------------------------------------------------------ */

typedef struct keyrow {
        char name[MAX_NAME + 1], version[40], kty[16], crv[16];
        int key_size;
        bool exportable, enabled;
        int64_t created, updated, deleted, purge_at;
        json_t *tags, *public_jwk;
        char *policy;
        bool policy_immutable;
        uint8_t *sealed;
        size_t sealed_len;
} keyrow;

static void keyrow_clear(keyrow *k) {
        json_decref(k->tags);
        json_decref(k->public_jwk);
        free(k->policy);
        free(k->sealed);
        memset(k, 0, sizeof(*k));
}

static inline void param_bld_freep(OSSL_PARAM_BLD **p) {
        OSSL_PARAM_BLD_free(*p);
}
static inline void params_freep(OSSL_PARAM **p) {
        OSSL_PARAM_free(*p);
}
static inline void pkey_freep(EVP_PKEY **p) {
        EVP_PKEY_free(*p);
}
static inline void bn_freep(BIGNUM **p) {
        BN_clear_free(*p);
}

static int pkcs8_der(EVP_PKEY *p, uint8_t **ret, size_t *ret_len) {
        PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(p);
        uint8_t *der = NULL;
        if (!p8)
                return CP_ERROR(CP_ECRYPTO, "PKCS#8 encoding");
        int n = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
        PKCS8_PRIV_KEY_INFO_free(p8);
        if (n <= 0)
                return CP_ERROR(CP_ECRYPTO, "PKCS#8 encoding");
        uint8_t *out = malloc((size_t) n);
        if (!out) {
                OPENSSL_clear_free(der, (size_t) n);
                return cp_error_oom();
        }
        memcpy(out, der, (size_t) n);
        OPENSSL_clear_free(der, (size_t) n);
        *ret = out;
        *ret_len = (size_t) n;
        return 0;
}

static int set_b64(json_t *o, const char *k, const uint8_t *p, size_t n) {
        char *s = malloc(cp_b64_encoded_len(n, CP_B64_URL) + 1);
        if (!s)
                return cp_error_oom();
        cp_b64_encode(p, n, CP_B64_URL, s);
        int r = json_object_set_new(o, k, json_string(s));
        free(s);
        return r < 0 ? cp_error_oom() : 0;
}

static int set_bn(json_t *o, const char *k, EVP_PKEY *p, const char *param, size_t pad) {
        _cleanup_(bn_freep) BIGNUM *bn = NULL;
        uint8_t buf[1024];
        if (!EVP_PKEY_get_bn_param(p, param, &bn))
                return CP_ERROR(CP_ECRYPTO, "key parameter %s", param);
        size_t n = pad ? pad : (size_t) BN_num_bytes(bn);
        if (n > sizeof(buf) || BN_bn2binpad(bn, buf, (int) n) < 0)
                return CP_ERROR(CP_ECRYPTO, "key parameter %s too big", param);
        return set_b64(o, k, buf, n);
}

static int public_jwk(EVP_PKEY *p, const char *kty, const char *crv, json_t **ret) {
        json_t *o = json_pack("{s:s}", "kty", kty);
        int r = 0;
        if (!o)
                return cp_error_oom();
        if (!strcmp(kty, "RSA"))
                r = set_bn(o, "n", p, OSSL_PKEY_PARAM_RSA_N, 0) < 0 ? -1 : set_bn(o, "e", p, OSSL_PKEY_PARAM_RSA_E, 0);
        else if (!strcmp(kty, "EC")) {
                size_t c = !strcmp(crv, "P-256") ? 32 : 48;
                json_object_set_new(o, "crv", json_string(crv));
                if ((r = set_bn(o, "x", p, OSSL_PKEY_PARAM_EC_PUB_X, c)) >= 0)
                        r = set_bn(o, "y", p, OSSL_PKEY_PARAM_EC_PUB_Y, c);
        }
        if (r < 0) {
                json_decref(o);
                return CP_ERROR(CP_ECRYPTO, "public key export");
        }
        *ret = o;
        return 0;
}

typedef struct keyspec {
        char kty[16]; /* RSA, EC, oct */
        int key_size;
        char crv[16];
} keyspec;

static int parse_kty(const char *kty_in, int size, const char *crv, keyspec *ks) {
        memset(ks, 0, sizeof(*ks));
        if (!kty_in)
                return CP_ERROR(CP_EINVAL, "\"kty\" is required");
        if (!strcmp(kty_in, "RSA") || !strcmp(kty_in, "RSA-HSM")) {
                strcpy(ks->kty, "RSA");
                ks->key_size = size ? size : 2048;
                if (ks->key_size != 2048 && ks->key_size != 3072 && ks->key_size != 4096)
                        return CP_ERROR(CP_EINVAL, "RSA key_size must be 2048, 3072 or 4096");
        } else if (!strcmp(kty_in, "EC") || !strcmp(kty_in, "EC-HSM")) {
                strcpy(ks->kty, "EC");
                if (!crv)
                        crv = "P-256";
                if (strcmp(crv, "P-256") && strcmp(crv, "P-384"))
                        return CP_ERROR(CP_EINVAL, "EC crv must be P-256 or P-384");
                strcpy(ks->crv, crv);
                ks->key_size = crv[2] == '2' ? 256 : 384;
        } else if (!strcmp(kty_in, "oct") || !strcmp(kty_in, "oct-HSM")) {
                strcpy(ks->kty, "oct");
                ks->key_size = size ? size : 256;
                if (ks->key_size != 256)
                        return CP_ERROR(CP_EINVAL, "oct key_size must be 256");
        } else
                return CP_ERROR(CP_EINVAL, "kty \"%.20s\" (RSA, RSA-HSM, EC, EC-HSM, oct, oct-HSM)", kty_in);
        return 0;
}

/* New key material: PKCS#8 DER for RSA/EC, 32 raw bytes for oct. */
static int generate(const keyspec *ks, uint8_t **ret, size_t *ret_len, json_t **ret_jwk) {
        if (!strcmp(ks->kty, "oct")) {
                uint8_t *k = malloc(32);
                if (!k || RAND_bytes(k, 32) != 1) {
                        free(k);
                        return CP_ERROR(CP_ECRYPTO, "random key");
                }
                *ret_jwk = json_pack("{s:s}", "kty", "oct");
                *ret = k;
                *ret_len = 32;
                return 0;
        }
        _cleanup_(pkey_freep) EVP_PKEY *p = !strcmp(ks->kty, "RSA")
                                                    ? EVP_RSA_gen((unsigned) ks->key_size)
                                                    : EVP_EC_gen(!strcmp(ks->crv, "P-256") ? "P-256" : "P-384");
        int r;
        if (!p)
                return CP_ERROR(CP_ECRYPTO, "key generation");
        if ((r = public_jwk(p, ks->kty, ks->crv, ret_jwk)) < 0)
                return r;
        if ((r = pkcs8_der(p, ret, ret_len)) < 0) {
                json_decref(*ret_jwk);
                return r;
        }
        return 0;
}

static int jwk_bn(const json_t *jwk, const char *k, BIGNUM **ret) {
        const char *s = json_string_value(json_object_get(jwk, k));
        uint8_t buf[1024];
        size_t n;
        if (!s || cp_b64_decode(s, strlen(s), CP_B64_URL, buf, sizeof(buf), &n) < 0 || n == 0)
                return CP_ERROR(CP_EINVAL, "JWK member \"%s\" missing or not base64url", k);
        *ret = BN_bin2bn(buf, (int) n, NULL);
        cp_wipe(buf, sizeof(buf));
        return *ret ? 0 : cp_error_oom();
}

/* BYOK: a private JWK (RSA n,e,d,p,q,dp,dq,qi; EC crv,x,y,d; oct k). */
static int import_jwk(const json_t *jwk, keyspec *ks, uint8_t **ret, size_t *ret_len, json_t **ret_pub) {
        const char *kty = json_string_value(json_object_get(jwk, "kty"));
        int r;
        if ((r = parse_kty(kty, 0, json_string_value(json_object_get(jwk, "crv")), ks)) < 0)
                return r;
        if (!strcmp(ks->kty, "oct")) {
                const char *k = json_string_value(json_object_get(jwk, "k"));
                uint8_t *b = malloc(64);
                size_t n;
                if (!b)
                        return cp_error_oom();
                if (!k || cp_b64_decode(k, strlen(k), CP_B64_URL, b, 64, &n) < 0 || n != 32) {
                        cp_wipe(b, 64);
                        free(b);
                        return CP_ERROR(CP_EINVAL, "oct JWK \"k\" must be 32 bytes of base64url");
                }
                *ret = b;
                *ret_len = 32;
                *ret_pub = json_pack("{s:s}", "kty", "oct");
                return 0;
        }
        _cleanup_(param_bld_freep) OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
        BIGNUM *bns[8] = { 0 };
        const char *type;
        int sel = EVP_PKEY_KEYPAIR;
        if (!bld)
                return cp_error_oom();
        if (!strcmp(ks->kty, "RSA")) {
                static const char *const jn[8] = { "n", "e", "d", "p", "q", "dp", "dq", "qi" };
                static const char *const pn[8] = { OSSL_PKEY_PARAM_RSA_N,        OSSL_PKEY_PARAM_RSA_E,
                                                   OSSL_PKEY_PARAM_RSA_D,        OSSL_PKEY_PARAM_RSA_FACTOR1,
                                                   OSSL_PKEY_PARAM_RSA_FACTOR2,  OSSL_PKEY_PARAM_RSA_EXPONENT1,
                                                   OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1 };
                type = "RSA";
                for (int i = 0; i < 8; i++)
                        if ((r = jwk_bn(jwk, jn[i], &bns[i])) < 0 || !OSSL_PARAM_BLD_push_BN(bld, pn[i], bns[i])) {
                                r = r < 0 ? r : cp_error_oom();
                                goto out;
                        }
        } else {
                uint8_t pt[97], xb[48], yb[48];
                size_t c = !strcmp(ks->crv, "P-256") ? 32 : 48, xl, yl;
                const char *x = json_string_value(json_object_get(jwk, "x")), *y = json_string_value(json_object_get(jwk, "y"));
                type = "EC";
                if (!x || !y || cp_b64_decode(x, strlen(x), CP_B64_URL, xb, sizeof(xb), &xl) < 0 ||
                    cp_b64_decode(y, strlen(y), CP_B64_URL, yb, sizeof(yb), &yl) < 0 || xl != c || yl != c) {
                        r = CP_ERROR(CP_EINVAL, "EC JWK x/y must be %zu bytes of base64url", c);
                        goto out;
                }
                pt[0] = 4;
                memcpy(pt + 1, xb, c);
                memcpy(pt + 1 + c, yb, c);
                if ((r = jwk_bn(jwk, "d", &bns[0])) < 0)
                        goto out;
                if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, c == 32 ? "prime256v1" : "secp384r1", 0) ||
                    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, 1 + 2 * c) ||
                    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, bns[0])) {
                        r = cp_error_oom();
                        goto out;
                }
        }
        {
                _cleanup_(params_freep) OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
                EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
                _cleanup_(pkey_freep) EVP_PKEY *p = NULL;
                if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
                    EVP_PKEY_fromdata(ctx, &p, sel, params) <= 0) {
                        EVP_PKEY_CTX_free(ctx);
                        r = CP_ERROR(CP_EINVAL, "JWK is not a valid %s private key", type);
                        goto out;
                }
                EVP_PKEY_CTX_free(ctx);
                /* the private key must match its public half */
                EVP_PKEY_CTX *chk = EVP_PKEY_CTX_new_from_pkey(NULL, p, NULL);
                int ok = chk && EVP_PKEY_pairwise_check(chk) == 1;
                EVP_PKEY_CTX_free(chk);
                if (!ok) {
                        r = CP_ERROR(CP_EINVAL, "JWK private key fails its consistency check");
                        goto out;
                }
                if (!strcmp(ks->kty, "RSA"))
                        ks->key_size = EVP_PKEY_get_bits(p);
                if (ks->key_size != 2048 && ks->key_size != 3072 && ks->key_size != 4096 && !strcmp(ks->kty, "RSA")) {
                        r = CP_ERROR(CP_EINVAL, "RSA key of %d bits (2048, 3072, 4096)", ks->key_size);
                        goto out;
                }
                if ((r = public_jwk(p, ks->kty, ks->crv, ret_pub)) < 0)
                        goto out;
                if ((r = pkcs8_der(p, ret, ret_len)) < 0) {
                        json_decref(*ret_pub);
                        goto out;
                }
        }
        r = 0;
out:
        for (int i = 0; i < 8; i++)
                BN_clear_free(bns[i]);
        return r;
}

/* ---- store ------------------------------------------------------------------ */

static int seal(cp_kbsd *s, const char *name, const char *version, const uint8_t *m, size_t n, uint8_t **ret,
                size_t *ret_len) {
        char aad[256];
        aad_of(name, version, aad, sizeof(aad));
        pthread_rwlock_rdlock(&s->mk_lock);
        int r = gcm(true, s->master, aad, m, n, ret, ret_len);
        pthread_rwlock_unlock(&s->mk_lock);
        return r;
}

static int unseal(cp_kbsd *s, const keyrow *k, uint8_t **ret, size_t *ret_len) {
        char aad[256];
        aad_of(k->name, k->version, aad, sizeof(aad));
        pthread_rwlock_rdlock(&s->mk_lock);
        int r = gcm(false, s->master, aad, k->sealed, k->sealed_len, ret, ret_len);
        pthread_rwlock_unlock(&s->mk_lock);
        return r;
}

static const char *col_text(sqlite3_stmt *st, int i) {
        const unsigned char *t = sqlite3_column_text(st, i);
        return t ? (const char *) t : "";
}

#define KEY_COLS "name, version, kty, key_size, crv, exportable, enabled, created, updated, tags, policy," \
                 " policy_immutable, public_jwk, sealed, deleted, purge_at"

static int row_to_key(sqlite3_stmt *st, keyrow *k) {
        memset(k, 0, sizeof(*k));
        snprintf(k->name, sizeof(k->name), "%s", col_text(st, 0));
        snprintf(k->version, sizeof(k->version), "%s", col_text(st, 1));
        snprintf(k->kty, sizeof(k->kty), "%s", col_text(st, 2));
        k->key_size = sqlite3_column_int(st, 3);
        snprintf(k->crv, sizeof(k->crv), "%s", col_text(st, 4));
        k->exportable = sqlite3_column_int(st, 5);
        k->enabled = sqlite3_column_int(st, 6);
        k->created = sqlite3_column_int64(st, 7);
        k->updated = sqlite3_column_int64(st, 8);
        k->tags = json_loads(col_text(st, 9), 0, NULL);
        if (sqlite3_column_type(st, 10) != SQLITE_NULL)
                k->policy = strdup(col_text(st, 10));
        k->policy_immutable = sqlite3_column_int(st, 11);
        k->public_jwk = json_loads(col_text(st, 12), 0, NULL);
        k->sealed_len = (size_t) sqlite3_column_bytes(st, 13);
        k->sealed = malloc(k->sealed_len + 1);
        if (k->sealed && k->sealed_len)
                memcpy(k->sealed, sqlite3_column_blob(st, 13), k->sealed_len);
        k->deleted = sqlite3_column_int64(st, 14);
        k->purge_at = sqlite3_column_int64(st, 15);
        if (!k->tags || !k->public_jwk || !k->sealed) {
                keyrow_clear(k);
                return cp_error_oom();
        }
        return 0;
}

/* version NULL: the newest.  deleted: look at soft-deleted keys instead. */
static int load_key(cp_kbsd *s, const char *name, const char *version, bool deleted, keyrow *ret) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;
        cp_store_lock(s->store);
        r = cp_store_prepare(s->store,
                             version ? "SELECT " KEY_COLS " FROM keys WHERE name = ? AND version = ? AND (deleted IS NULL) = ?"
                                     : "SELECT " KEY_COLS " FROM keys WHERE name = ? AND ?2 IS NULL AND (deleted IS NULL) = ?3"
                                       " ORDER BY created DESC, rowid DESC LIMIT 1",
                             &st);
        if (r == 0) {
                sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
                if (version)
                        sqlite3_bind_text(st, 2, version, -1, SQLITE_TRANSIENT);
                else
                        sqlite3_bind_null(st, 2);
                sqlite3_bind_int(st, 3, deleted ? 0 : 1);
                r = cp_store_step(s->store, st);
                if (r == 1)
                        r = row_to_key(st, ret);
                else if (r == 0)
                        r = CP_ERROR(CP_ENOTFOUND, "key %s%s%s not found", name, version ? "/" : "", version ? version : "");
        }
        cp_store_unlock(s->store);
        return r;
}

static int insert_key(cp_kbsd *s, const keyrow *k) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_free_ char *tags = json_dumps(k->tags, JSON_COMPACT), *jwk = json_dumps(k->public_jwk, JSON_COMPACT);
        int r;
        if (!tags || !jwk)
                return cp_error_oom();
        cp_store_lock(s->store);
        r = cp_store_prepare(s->store, "INSERT INTO keys (" KEY_COLS ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,NULL,NULL)", &st);
        if (r == 0) {
                sqlite3_bind_text(st, 1, k->name, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(st, 2, k->version, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(st, 3, k->kty, -1, SQLITE_TRANSIENT);
                sqlite3_bind_int(st, 4, k->key_size);
                sqlite3_bind_text(st, 5, k->crv, -1, SQLITE_TRANSIENT);
                sqlite3_bind_int(st, 6, k->exportable);
                sqlite3_bind_int(st, 7, k->enabled);
                sqlite3_bind_int64(st, 8, k->created);
                sqlite3_bind_int64(st, 9, k->updated);
                sqlite3_bind_text(st, 10, tags, -1, SQLITE_TRANSIENT);
                if (k->policy)
                        sqlite3_bind_text(st, 11, k->policy, -1, SQLITE_TRANSIENT);
                else
                        sqlite3_bind_null(st, 11);
                sqlite3_bind_int(st, 12, k->policy_immutable);
                sqlite3_bind_text(st, 13, jwk, -1, SQLITE_TRANSIENT);
                sqlite3_bind_blob(st, 14, k->sealed, (int) k->sealed_len, SQLITE_TRANSIENT);
                r = cp_store_step(s->store, st);
        }
        cp_store_unlock(s->store);
        return r < 0 ? r : 0;
}

/* ---- JSON shapes ------------------------------------------------------------- */

static const char *kv_kty(const keyrow *k) {
        return !strcmp(k->kty, "RSA") ? "RSA-HSM" : !strcmp(k->kty, "EC") ? "EC-HSM" : "oct-HSM";
}

static json_t *key_ops_of(const keyrow *k) {
        if (!strcmp(k->kty, "EC"))
                return json_pack("[s,s]", "sign", "verify");
        if (!strcmp(k->kty, "oct"))
                return json_pack("[s,s,s,s]", "encrypt", "decrypt", "wrapKey", "unwrapKey");
        return json_pack("[s,s,s,s,s,s]", "encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey");
}

static json_t *key_bundle(cp_kbsd *s, const keyrow *k, const char *key_hsm) {
        json_t *key = json_deep_copy(k->public_jwk);
        char kid[512];
        snprintf(kid, sizeof(kid), "%s/keys/%s/%s", s->vault_url, k->name, k->version);
        json_object_set_new(key, "kid", json_string(kid));
        json_object_set_new(key, "kty", json_string(kv_kty(k)));
        json_object_set_new(key, "key_ops", key_ops_of(k));
        if (key_hsm)
                json_object_set_new(key, "key_hsm", json_string(key_hsm));
        json_t *attr = json_pack("{s:b,s:b,s:I,s:I,s:s,s:i}", "enabled", k->enabled, "exportable", k->exportable,
                                 "created", (json_int_t) k->created, "updated", (json_int_t) k->updated,
                                 "recoveryLevel", "Recoverable+Purgeable", "recoverableDays",
                                 (int) s->cfg.recovery_days);
        json_t *b = json_pack("{s:o,s:o,s:O}", "key", key, "attributes", attr, "tags", k->tags);
        if (k->policy) {
                char *d = malloc(cp_b64_encoded_len(strlen(k->policy), CP_B64_URL) + 1);
                if (d) {
                        cp_b64_encode((const uint8_t *) k->policy, strlen(k->policy), CP_B64_URL, d);
                        json_object_set_new(b, "release_policy",
                                            json_pack("{s:s,s:s,s:b}", "contentType", "application/json; charset=utf-8",
                                                      "data", d, "immutable", k->policy_immutable));
                        free(d);
                }
        }
        if (k->deleted) {
                json_object_set_new(b, "deletedDate", json_integer(k->deleted));
                json_object_set_new(b, "scheduledPurgeDate", json_integer(k->purge_at));
        }
        return b;
}

static void respond(cp_http_response *resp, unsigned status, json_t *body) {
        if (!body || cp_http_resp_json(resp, status, body) < 0)
                resp->status = 500;
}

static void reply_error(cp_http_response *resp, unsigned status, const char *code, const char *msg) {
        respond(resp, status, json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg));
}

static void reply_err(cp_http_response *resp, int r) {
        const char *msg = cp_error_message();
        switch (r) {
        case CP_ENOTFOUND:
                reply_error(resp, 404, "KeyNotFound", msg);
                break;
        case CP_EINVAL:
        case CP_EFORMAT:
        case CP_EVERSION:
        case CP_ETOOBIG:
        case CP_EUNSUPPORTED:
                reply_error(resp, 400, "BadParameter", msg);
                break;
        case CP_EBADSEQ:
                reply_error(resp, 409, "Conflict", msg);
                break;
        default:
                reply_error(resp, 500, "InternalError", msg);
        }
}

/* ---- requests ------------------------------------------------------------------- */

typedef struct reqctx {
        cp_kbsd *s;
        const cp_http_request *req;
        cp_http_response *resp;
        char who[64];
        cp_kbsd_scope scope;
        json_t *body;
} reqctx;

static bool valid_name(const char *n) {
        size_t l = strlen(n);
        if (l == 0 || l > MAX_NAME)
                return false;
        for (size_t i = 0; i < l; i++)
                if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= 'A' && n[i] <= 'Z') || (n[i] >= '0' && n[i] <= '9') ||
                      n[i] == '-'))
                        return false;
        return true;
}

static int new_version(char out[33]) {
        uint8_t b[16];
        if (RAND_bytes(b, sizeof(b)) != 1)
                return CP_ERROR(CP_ECRYPTO, "random version");
        cp_hex_encode(b, sizeof(b), out);
        return 0;
}

/* Common attributes of create/import: attributes.exportable/enabled, tags, release_policy. */
static int fill_common(reqctx *c, keyrow *k) {
        const json_t *attr = json_object_get(c->body, "attributes"), *tags = json_object_get(c->body, "tags"),
                     *rp = json_object_get(c->body, "release_policy");
        int r;
        k->enabled = true;
        if (attr && !json_is_object(attr))
                return CP_ERROR(CP_EINVAL, "attributes must be an object");
        if (json_object_get(attr, "exportable"))
                k->exportable = json_is_true(json_object_get(attr, "exportable"));
        if (json_object_get(attr, "enabled"))
                k->enabled = json_is_true(json_object_get(attr, "enabled"));
        if (tags) {
                const char *tk;
                json_t *tv;
                if (!json_is_object(tags) || json_object_size(tags) > 15)
                        return CP_ERROR(CP_EINVAL, "tags must be an object of at most 15 strings");
                json_object_foreach((json_t *) tags, tk, tv) if (!json_is_string(tv) || strlen(tk) > 512 ||
                                                                  json_string_length(tv) > 512) return CP_ERROR(CP_EINVAL, "tag values must be strings");
                k->tags = json_deep_copy(tags);
        } else
                k->tags = json_object();
        if (rp) {
                const char *d = json_string_value(json_object_get(rp, "data"));
                uint8_t *pj;
                size_t pl;
                if (!json_is_object(rp) || !d)
                        return CP_ERROR(CP_EINVAL, "release_policy.data (base64url policy JSON) is required");
                if (strlen(d) > 2 * CP_RELEASE_POLICY_MAX)
                        return CP_ERROR(CP_ETOOBIG, "release policy too long");
                pj = malloc(cp_b64_decoded_max(strlen(d)) + 1);
                if (!pj)
                        return cp_error_oom();
                if ((r = cp_b64_decode(d, strlen(d), CP_B64_URL_PADOPT, pj, cp_b64_decoded_max(strlen(d)), &pl)) < 0) {
                        free(pj);
                        return cp_error_wrap("release_policy.data: ");
                }
                cp_release_policy *pol = NULL;
                r = cp_release_policy_parse((const char *) pj, pl, &pol);
                free(pj);
                if (r < 0)
                        return r;
                r = cp_release_policy_to_json(pol, &k->policy);
                cp_release_policy_free(pol);
                if (r < 0)
                        return r;
                k->policy_immutable = json_is_true(json_object_get(rp, "immutable"));
        }
        if (k->exportable && !k->policy)
                return CP_ERROR(CP_EINVAL, "an exportable key needs a release_policy");
        return 0;
}

static void finish_key(reqctx *c, keyrow *k, uint8_t *mat, size_t ml, const char *op) {
        int r;
        k->created = k->updated = now_of(c->s);
        if ((r = new_version(k->version)) < 0 || (r = seal(c->s, k->name, k->version, mat, ml, &k->sealed, &k->sealed_len)) < 0 ||
            (r = insert_key(c->s, k)) < 0) {
                reply_err(c->resp, r);
                return;
        }
        audit(c->s, c->who, op, k->name, k->version, "ok", NULL, NULL);
        respond(c->resp, 200, key_bundle(c->s, k, NULL));
}

static bool name_is_live_or_deleted(cp_kbsd *s, const char *name, bool deleted) {
        keyrow k;
        if (load_key(s, name, NULL, deleted, &k) == 0) {
                keyrow_clear(&k);
                return true;
        }
        return false;
}

static void op_create(reqctx *c, const char *name, const keyrow *rotate_from) {
        keyrow k = { 0 };
        keyspec ks;
        uint8_t *mat = NULL;
        size_t ml = 0;
        int r;
        if (name_is_live_or_deleted(c->s, name, true)) {
                reply_error(c->resp, 409, "Conflict", "a deleted key with this name exists (recover or purge it)");
                return;
        }
        snprintf(k.name, sizeof(k.name), "%s", name);
        if (rotate_from) {
                if ((r = parse_kty(rotate_from->kty, rotate_from->key_size, rotate_from->crv, &ks)) < 0)
                        goto fail;
                k.exportable = rotate_from->exportable;
                k.enabled = true;
                k.tags = json_deep_copy(rotate_from->tags);
                k.policy = rotate_from->policy ? strdup(rotate_from->policy) : NULL;
                k.policy_immutable = rotate_from->policy_immutable;
        } else {
                const json_t *sz = json_object_get(c->body, "key_size");
                if ((r = parse_kty(json_string_value(json_object_get(c->body, "kty")), sz ? (int) json_integer_value(sz) : 0,
                                   json_string_value(json_object_get(c->body, "crv")), &ks)) < 0 ||
                    (r = fill_common(c, &k)) < 0)
                        goto fail;
        }
        snprintf(k.kty, sizeof(k.kty), "%s", ks.kty);
        snprintf(k.crv, sizeof(k.crv), "%s", ks.crv);
        k.key_size = ks.key_size;
        if ((r = generate(&ks, &mat, &ml, &k.public_jwk)) < 0)
                goto fail;
        finish_key(c, &k, mat, ml, rotate_from ? "rotate" : "create");
        goto done;
fail:
        reply_err(c->resp, r);
done:
        if (mat)
                cp_wipe(mat, ml);
        free(mat);
        keyrow_clear(&k);
}

static void op_import(reqctx *c, const char *name) {
        keyrow k = { 0 };
        keyspec ks;
        uint8_t *mat = NULL;
        size_t ml = 0;
        int r;
        const json_t *jwk = json_object_get(c->body, "key");
        if (!json_is_object(jwk)) {
                reply_error(c->resp, 400, "BadParameter", "\"key\" (a private JWK) is required");
                return;
        }
        if (name_is_live_or_deleted(c->s, name, true)) {
                reply_error(c->resp, 409, "Conflict", "a deleted key with this name exists (recover or purge it)");
                return;
        }
        snprintf(k.name, sizeof(k.name), "%.127s", name);
        if ((r = fill_common(c, &k)) < 0 || (r = import_jwk(jwk, &ks, &mat, &ml, &k.public_jwk)) < 0) {
                reply_err(c->resp, r);
                goto done;
        }
        snprintf(k.kty, sizeof(k.kty), "%s", ks.kty);
        snprintf(k.crv, sizeof(k.crv), "%s", ks.crv);
        k.key_size = ks.key_size;
        finish_key(c, &k, mat, ml, "import");
done:
        if (mat)
                cp_wipe(mat, ml);
        free(mat);
        keyrow_clear(&k);
}

static void op_list(reqctx *c, const char *name, bool deleted) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        json_t *arr = json_array();
        int r;
        cp_store_lock(c->s->store);
        r = cp_store_prepare(c->s->store,
                             name ? "SELECT " KEY_COLS " FROM keys WHERE name = ? AND deleted IS NULL ORDER BY created, rowid"
                             : deleted ? "SELECT " KEY_COLS " FROM keys WHERE deleted IS NOT NULL GROUP BY name HAVING max(created)"
                                       : "SELECT " KEY_COLS " FROM keys WHERE deleted IS NULL GROUP BY name HAVING max(created)",
                             &st);
        if (r == 0 && name)
                sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
        while (r == 0 && (r = cp_store_step(c->s->store, st)) == 1) {
                keyrow k;
                if ((r = row_to_key(st, &k)) < 0)
                        break;
                json_t *b = key_bundle(c->s, &k, NULL);
                json_t *item = json_pack("{s:O,s:O,s:O}", "kid", json_object_get(json_object_get(b, "key"), "kid"),
                                         "attributes", json_object_get(b, "attributes"), "tags", json_object_get(b, "tags"));
                json_array_append_new(arr, item);
                json_decref(b);
                keyrow_clear(&k);
                r = 0;
        }
        cp_store_unlock(c->s->store);
        if (r < 0) {
                json_decref(arr);
                reply_err(c->resp, r);
                return;
        }
        respond(c->resp, 200, json_pack("{s:o,s:n}", "value", arr, "nextLink"));
}

static int exec_bind_name(cp_kbsd *s, const char *sql, const char *name, int64_t a, int64_t b) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;
        cp_store_lock(s->store);
        if ((r = cp_store_prepare(s->store, sql, &st)) == 0) {
                sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
                sqlite3_bind_int64(st, 2, a);
                sqlite3_bind_int64(st, 3, b);
                r = cp_store_step(s->store, st);
                if (r >= 0)
                        r = sqlite3_changes(cp_store_db(s->store));
        }
        cp_store_unlock(s->store);
        return r;
}

static void op_delete(reqctx *c, const char *name) {
        keyrow k;
        int r = load_key(c->s, name, NULL, false, &k);
        if (r < 0) {
                reply_err(c->resp, r);
                return;
        }
        int64_t now = now_of(c->s), purge = now + (int64_t) c->s->cfg.recovery_days * 86400;
        if ((r = exec_bind_name(c->s, "UPDATE keys SET deleted = ?2, purge_at = ?3 WHERE name = ?1 AND deleted IS NULL", name,
                                now, purge)) < 0) {
                keyrow_clear(&k);
                reply_err(c->resp, r);
                return;
        }
        k.deleted = now;
        k.purge_at = purge;
        audit(c->s, c->who, "delete", name, NULL, "ok", NULL, NULL);
        respond(c->resp, 200, key_bundle(c->s, &k, NULL));
        keyrow_clear(&k);
}

static void op_recover(reqctx *c, const char *name) {
        int r = exec_bind_name(c->s, "UPDATE keys SET deleted = NULL, purge_at = NULL WHERE name = ?1 AND deleted IS NOT NULL"
                                     " AND ?2 = ?3", name, 0, 0);
        if (r <= 0) {
                reply_err(c->resp, r < 0 ? r : CP_ERROR(CP_ENOTFOUND, "deleted key %s not found", name));
                return;
        }
        audit(c->s, c->who, "recover", name, NULL, "ok", NULL, NULL);
        keyrow k;
        if ((r = load_key(c->s, name, NULL, false, &k)) < 0) {
                reply_err(c->resp, r);
                return;
        }
        respond(c->resp, 200, key_bundle(c->s, &k, NULL));
        keyrow_clear(&k);
}

/* Purge = crypto-erase: the sealed material is overwritten, then the rows go
 * (secure_delete is on, so SQLite zeroes the freed pages). */
static void op_purge(reqctx *c, const char *name) {
        int r = exec_bind_name(c->s, "UPDATE keys SET sealed = zeroblob(length(sealed)) WHERE name = ?1 AND deleted IS NOT NULL"
                                     " AND ?2 = ?3", name, 0, 0);
        if (r > 0)
                r = exec_bind_name(c->s, "DELETE FROM keys WHERE name = ?1 AND deleted IS NOT NULL AND ?2 = ?3", name, 0, 0);
        if (r <= 0) {
                reply_err(c->resp, r < 0 ? r : CP_ERROR(CP_ENOTFOUND, "deleted key %s not found", name));
                return;
        }
        audit(c->s, c->who, "purge", name, NULL, "ok", NULL, NULL);
        c->resp->status = 204;
}

/* ---- release --------------------------------------------------------------------- */

/* "iss" of an unverified token, only to pick the authority whose keys and
 * issuer the token is then validated against. */
static int peek_issuer(const char *tok, char *out, size_t cap) {
        const char *d1 = strchr(tok, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
        if (!d2 || (size_t) (d2 - d1 - 1) > CP_JWT_MAX_TOKEN)
                return CP_ERROR(CP_EFORMAT, "attestation token is not a compact JWS");
        size_t n = (size_t) (d2 - d1 - 1), pl;
        _cleanup_free_ uint8_t *p = malloc(cp_b64_decoded_max(n) + 1);
        if (!p)
                return cp_error_oom();
        if (cp_b64_decode(d1 + 1, n, CP_B64_URL, p, cp_b64_decoded_max(n), &pl) < 0)
                return CP_ERROR(CP_EFORMAT, "attestation token payload is not base64url");
        json_t *j = json_loadb((const char *) p, pl, 0, NULL);
        const char *iss = json_string_value(json_object_get(j, "iss"));
        int r = iss && strlen(iss) < cap ? 0 : CP_ERROR(CP_EFORMAT, "attestation token has no usable \"iss\"");
        if (r == 0)
                memcpy(out, iss, strlen(iss) + 1);
        json_decref(j);
        return r;
}

typedef struct release_out {
        unsigned status;
        const char *code;
        char reason[CP_RELEASE_REASON_MAX];
        char jti[128];
} release_out;

static int deny(release_out *o, unsigned status, const char *code, int r, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));
static int deny(release_out *o, unsigned status, const char *code, int r, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(o->reason, sizeof(o->reason), fmt, ap);
        va_end(ap);
        o->status = status;
        o->code = code;
        return r;
}

/* Validate the token and policy; on success *ret_tee is the TEE key and
 * *ret_jwt the validated token. */
static int check_release(cp_kbsd *s, const char *policy, const char *token, release_out *o, cp_jwt **ret_jwt,
                         cp_wrap_key **ret_tee) {
        char iss[512];
        const authority *a = NULL;
        cp_jwt *t = NULL;
        cp_release_policy *pol = NULL;
        const json_t *tee;
        int r;
        if ((r = peek_issuer(token, iss, sizeof(iss))) < 0)
                return deny(o, 400, "BadParameter", r, "%s", cp_error_message());
        for (size_t i = 0; i < s->n_auth; i++)
                if (!strcmp(s->auth[i].issuer, iss))
                        a = &s->auth[i];
        if (!a)
                return deny(o, 403, "Forbidden", CP_EUNTRUSTED, "token issuer %.200s is not a trusted attestation authority",
                            iss);
        cp_jwt_validate_options vo = CP_JWT_VALIDATE_OPTIONS_INIT;
        vo.jwks = a->jwks;
        vo.issuer = a->issuer;
        vo.now = now_of(s);
        vo.slack_s = s->cfg.slack_s;
        if ((r = cp_jwt_validate(token, strlen(token), &vo, &t)) < 0)
                return deny(o, 403, "Forbidden", r, "attestation token rejected (%s): %s", cp_err_name(r),
                            cp_error_message());
        const char *jti = json_string_value(json_object_get(cp_jwt_claims(t), "jti"));
        snprintf(o->jti, sizeof(o->jti), "%s", jti ? jti : "");
        if (!policy) {
                cp_jwt_free(t);
                return deny(o, 403, "Forbidden", CP_EPOLICY, "key has no release policy");
        }
        if ((r = cp_release_policy_parse(policy, strlen(policy), &pol)) < 0) {
                cp_jwt_free(t);
                return deny(o, 500, "InternalError", r, "stored policy: %s", cp_error_message());
        }
        r = cp_release_policy_evaluate(pol, iss, cp_jwt_claims(t), o->reason, sizeof(o->reason));
        cp_release_policy_free(pol);
        if (r < 0) {
                cp_jwt_free(t);
                o->status = 403;
                o->code = "Forbidden";
                return r;
        }
        if ((r = cp_release_find_tee_key(cp_jwt_claims(t), &tee)) < 0 || (r = cp_wrap_key_from_jwk(tee, ret_tee)) < 0) {
                cp_jwt_free(t);
                return deny(o, 400, "BadParameter", r, "token runtime key: %s", cp_error_message());
        }
        *ret_jwt = t;
        return 0;
}

/* Wrap material to the TEE key and build the signed response. */
static int release_response(cp_kbsd *s, const keyrow *k, const json_t *tee_jwk_kid, cp_wrap_key *tee, cp_keywrap_alg alg,
                            const uint8_t *mat, size_t ml, char **ret) {
        _cleanup_free_ uint8_t *w = NULL;
        _cleanup_free_ char *hsm = NULL;
        size_t wl;
        int r;
        if ((r = cp_keywrap_wrap(tee, alg, mat, ml, &w, &wl)) < 0 ||
            (r = cp_keyrelease_key_hsm_encode(json_string_value(tee_jwk_kid), alg, w, wl, &hsm)) < 0)
                return r;
        json_t *bundle = key_bundle(s, k, hsm);
        json_t *claims = json_pack("{s:{s:s,s:s,s:O},s:{s:o}}", "request", "api-version", "7.4", "enc",
                                   cp_keywrap_alg_name(alg), "kid", json_object_get(json_object_get(bundle, "key"), "kid"),
                                   "response", "key", bundle);
        if (!claims)
                return cp_error_oom();
        r = cp_jwt_sign(s->signer, claims, NULL, ret);
        json_decref(claims);
        return r;
}

static int parse_release_body(reqctx *c, const char **ret_target, cp_keywrap_alg *ret_alg) {
        const char *target = json_string_value(json_object_get(c->body, "target"));
        const char *enc = json_string_value(json_object_get(c->body, "enc"));
        int r;
        if (!target)
                return CP_ERROR(CP_EINVAL, "\"target\" (the attestation token) is required");
        if (strlen(target) > CP_JWT_MAX_TOKEN)
                return CP_ERROR(CP_ETOOBIG, "attestation token too long");
        if (!enc)
                *ret_alg = CP_KEYWRAP_CKM_RSA_AES;
        else if ((r = cp_keywrap_alg_from_name(enc, ret_alg)) < 0)
                return r;
        *ret_target = target;
        return 0;
}

static void op_release(reqctx *c, const char *name, const char *version) {
        keyrow k = { 0 };
        release_out o = { 0 };
        const char *target;
        cp_keywrap_alg alg;
        cp_jwt *t = NULL;
        cp_wrap_key *tee = NULL;
        uint8_t *mat = NULL;
        size_t ml = 0;
        char *jws = NULL;
        int r;
        if ((r = parse_release_body(c, &target, &alg)) < 0) {
                audit(c->s, c->who, "release", name, version, "denied", cp_error_message(), NULL);
                reply_err(c->resp, r);
                return;
        }
        if ((r = load_key(c->s, name, version, false, &k)) < 0) {
                audit(c->s, c->who, "release", name, version, "denied", "key not found", NULL);
                reply_err(c->resp, r);
                return;
        }
        if (!k.enabled)
                r = deny(&o, 403, "Forbidden", CP_EPOLICY, "key is disabled");
        else if (!k.exportable)
                r = deny(&o, 403, "Forbidden", CP_EPOLICY, "key is not exportable");
        else
                r = check_release(c->s, k.policy, target, &o, &t, &tee);
        if (r < 0) {
                audit(c->s, c->who, "release", name, k.version, "denied", o.reason, o.jti[0] ? o.jti : NULL);
                reply_error(c->resp, o.status ? o.status : 403, o.code ? o.code : "Forbidden", o.reason);
                goto done;
        }
        const json_t *tee_jwk;
        if (cp_release_find_tee_key(cp_jwt_claims(t), &tee_jwk) < 0)
                tee_jwk = NULL;
        if ((r = unseal(c->s, &k, &mat, &ml)) < 0 ||
            (r = release_response(c->s, &k, json_object_get(tee_jwk, "kid"), tee, alg, mat, ml, &jws)) < 0) {
                audit(c->s, c->who, "release", name, k.version, "error", cp_error_message(), o.jti);
                reply_err(c->resp, r);
                goto done;
        }
        audit(c->s, c->who, "release", name, k.version, "allowed", NULL, o.jti);
        respond(c->resp, 200, json_pack("{s:s}", "value", jws));
done:
        if (mat)
                cp_wipe(mat, ml);
        free(mat);
        free(jws);
        cp_jwt_free(t);
        cp_wrap_key_free(tee);
        keyrow_clear(&k);
}

/* ---- disks ------------------------------------------------------------------------ */

static int hkdf_sha256(const uint8_t *key, size_t kl, const uint8_t *salt, size_t sl, const char *info, uint8_t out[32]) {
        EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
        EVP_KDF_CTX *kc = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
        OSSL_PARAM p[5];
        int r = 0;
        p[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *) "SHA256", 0);
        p[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *) key, kl);
        p[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *) salt, sl);
        p[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *) info, strlen(info));
        p[4] = OSSL_PARAM_construct_end();
        if (!kc || EVP_KDF_derive(kc, out, 32, p) != 1)
                r = CP_ERROR(CP_ECRYPTO, "HKDF-SHA256");
        EVP_KDF_CTX_free(kc);
        EVP_KDF_free(kdf);
        return r;
}

/* The new disk's key wrapped to the platform's (the creator's) RSA key
 * wrap_jwk, as a key_hsm blob: the platform encrypts the disk before first
 * boot with it and forgets it.  Only at creation (admin scope). */
static int disk_key_for_platform(const json_t *wrap_jwk, const char *enc, const uint8_t dk[32], char **ret) {
        cp_wrap_key *wk = NULL;
        cp_keywrap_alg alg = CP_KEYWRAP_RSA_AES_256;
        _cleanup_free_ uint8_t *w = NULL;
        size_t wl;
        int r;
        if ((enc && (r = cp_keywrap_alg_from_name(enc, &alg)) < 0) || (r = cp_wrap_key_from_jwk(wrap_jwk, &wk)) < 0)
                return r;
        r = cp_keywrap_wrap(wk, alg, dk, 32, &w, &wl);
        cp_wrap_key_free(wk);
        if (r < 0)
                return r;
        return cp_keyrelease_key_hsm_encode(json_string_value(json_object_get(wrap_jwk, "kid")), alg, w, wl, ret);
}

/* POST /disks/{id}/create {"mode":"platform","key":"<pool master oct key>"}
 *                        {"mode":"customer","key":"<customer RSA key>"}
 * optional "wrap_key": <RSA public JWK>, "enc": the disk key is returned
 * wrapped to it in "key_hsm" (the platform writes the encrypted image). */
static void op_disk_create(reqctx *c, const char *id) {
        const char *mode = json_string_value(json_object_get(c->body, "mode"));
        const char *kn = json_string_value(json_object_get(c->body, "key"));
        const json_t *wrap_jwk = json_object_get(c->body, "wrap_key");
        const char *enc = json_string_value(json_object_get(c->body, "enc"));
        keyrow k = { 0 };
        uint8_t salt[DISK_SALT], dk[32];
        _cleanup_free_ uint8_t *w = NULL;
        _cleanup_free_ char *hsm = NULL;
        size_t wl = 0;
        int r;
        bool platform = mode && !strcmp(mode, "platform");
        if (!mode || (!platform && strcmp(mode, "customer")) || !kn || !valid_name(kn)) {
                reply_error(c->resp, 400, "BadParameter", "mode (platform|customer) and key are required");
                return;
        }
        if (wrap_jwk && !json_is_object(wrap_jwk)) {
                reply_error(c->resp, 400, "BadParameter", "wrap_key must be an RSA public JWK");
                return;
        }
        if ((r = load_key(c->s, kn, NULL, false, &k)) < 0) {
                reply_err(c->resp, r);
                return;
        }
        if (platform && strcmp(k.kty, "oct")) {
                keyrow_clear(&k);
                reply_error(c->resp, 400, "BadParameter", "a platform (pool) master key must be an oct key");
                return;
        }
        if (!platform && strcmp(k.kty, "RSA")) {
                keyrow_clear(&k);
                reply_error(c->resp, 400, "BadParameter", "a customer key must be an RSA key");
                return;
        }
        if (RAND_bytes(salt, sizeof(salt)) != 1) {
                keyrow_clear(&k);
                reply_err(c->resp, CP_ERROR(CP_ECRYPTO, "random"));
                return;
        }
        if (!platform) {
                /* a random disk key wrapped (RSA-OAEP-256 + KWP) by the customer key's public half */
                cp_wrap_key *ck = NULL;
                if (RAND_bytes(dk, sizeof(dk)) != 1 || (r = cp_wrap_key_from_jwk(k.public_jwk, &ck)) < 0 ||
                    (r = cp_keywrap_wrap(ck, CP_KEYWRAP_RSA_AES_256, dk, sizeof(dk), &w, &wl)) < 0) {
                        cp_wrap_key_free(ck);
                        cp_wipe(dk, sizeof(dk));
                        keyrow_clear(&k);
                        reply_err(c->resp, r < 0 ? r : CP_ECRYPTO);
                        return;
                }
                cp_wrap_key_free(ck);
        } else if (wrap_jwk) {
                uint8_t *mat = NULL;
                size_t ml = 0;
                if ((r = unseal(c->s, &k, &mat, &ml)) >= 0)
                        r = hkdf_sha256(mat, ml, salt, sizeof(salt), id, dk);
                if (mat)
                        cp_wipe(mat, ml);
                free(mat);
                if (r < 0) {
                        cp_wipe(dk, sizeof(dk));
                        keyrow_clear(&k);
                        reply_err(c->resp, r);
                        return;
                }
        }
        if (wrap_jwk && (r = disk_key_for_platform(wrap_jwk, enc, dk, &hsm)) < 0) {
                cp_wipe(dk, sizeof(dk));
                keyrow_clear(&k);
                reply_error(c->resp, 400, "BadParameter", cp_error_message());
                return;
        }
        cp_wipe(dk, sizeof(dk));
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        cp_store_lock(c->s->store);
        if ((r = cp_store_prepare(c->s->store, "INSERT INTO disks (id, mode, key_name, salt, wrapped, created) VALUES (?,?,?,?,?,?)",
                                  &st)) == 0) {
                sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(st, 2, platform ? "platform" : "customer", -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 3, kn, -1, SQLITE_TRANSIENT);
                sqlite3_bind_blob(st, 4, salt, sizeof(salt), SQLITE_TRANSIENT);
                if (w)
                        sqlite3_bind_blob(st, 5, w, (int) wl, SQLITE_TRANSIENT);
                else
                        sqlite3_bind_null(st, 5);
                sqlite3_bind_int64(st, 6, now_of(c->s));
                r = cp_store_step(c->s->store, st);
        }
        cp_store_unlock(c->s->store);
        keyrow_clear(&k);
        if (r < 0) {
                reply_error(c->resp, 409, "Conflict", "disk exists or cannot be stored");
                return;
        }
        audit(c->s, c->who, "disk-create", kn, id, "ok", hsm ? (platform ? "platform, key to creator" : "customer, key to creator") : mode, NULL);
        json_t *out = json_pack("{s:s,s:s,s:s}", "id", id, "mode", mode, "key", kn);
        if (out && hsm)
                json_object_set_new(out, "key_hsm", json_string(hsm));
        respond(c->resp, 200, out);
}

static void op_disk_release(reqctx *c, const char *id) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        char mode[16] = "", kn[MAX_NAME + 1] = "";
        uint8_t salt[DISK_SALT], dk[32];
        uint8_t *w = NULL, *mat = NULL, *plain = NULL;
        size_t wl = 0, ml = 0, pl = 0;
        keyrow k = { 0 }, disk_row = { 0 };
        release_out o = { 0 };
        const char *target;
        cp_keywrap_alg alg;
        cp_jwt *t = NULL;
        cp_wrap_key *tee = NULL, *ck = NULL;
        char *jws = NULL;
        int r;
        if ((r = parse_release_body(c, &target, &alg)) < 0) {
                reply_err(c->resp, r);
                return;
        }
        cp_store_lock(c->s->store);
        if ((r = cp_store_prepare(c->s->store, "SELECT mode, key_name, salt, wrapped FROM disks WHERE id = ?", &st)) == 0) {
                sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
                if ((r = cp_store_step(c->s->store, st)) == 1) {
                        snprintf(mode, sizeof(mode), "%s", col_text(st, 0));
                        snprintf(kn, sizeof(kn), "%s", col_text(st, 1));
                        if (sqlite3_column_bytes(st, 2) == DISK_SALT)
                                memcpy(salt, sqlite3_column_blob(st, 2), DISK_SALT);
                        wl = (size_t) sqlite3_column_bytes(st, 3);
                        w = wl ? malloc(wl) : NULL;
                        if (w)
                                memcpy(w, sqlite3_column_blob(st, 3), wl);
                        r = 0;
                } else if (r == 0)
                        r = CP_ERROR(CP_ENOTFOUND, "disk %s not found (or crypto-erased)", id);
        }
        cp_store_unlock(c->s->store);
        if (r < 0 || (r = load_key(c->s, kn, NULL, false, &k)) < 0) {
                audit(c->s, c->who, "disk-release", kn[0] ? kn : NULL, id, "denied", cp_error_message(), NULL);
                reply_err(c->resp, r);
                goto done;
        }
        if ((r = check_release(c->s, k.policy, target, &o, &t, &tee)) < 0) {
                audit(c->s, c->who, "disk-release", kn, id, "denied", o.reason, o.jti[0] ? o.jti : NULL);
                reply_error(c->resp, o.status ? o.status : 403, o.code ? o.code : "Forbidden", o.reason);
                goto done;
        }
        if ((r = unseal(c->s, &k, &mat, &ml)) < 0)
                goto fail;
        if (!strcmp(mode, "platform")) {
                if ((r = hkdf_sha256(mat, ml, salt, DISK_SALT, id, dk)) < 0)
                        goto fail;
        } else {
                const uint8_t *pp = mat;
                EVP_PKEY *pk = d2i_AutoPrivateKey(NULL, &pp, (long) ml);
                BIO *b = BIO_new(BIO_s_secmem());
                char *bp;
                long bl;
                if (!pk || !b || !PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL) ||
                    (bl = BIO_get_mem_data(b, &bp)) <= 0) {
                        EVP_PKEY_free(pk);
                        BIO_free(b);
                        r = CP_ERROR(CP_ECRYPTO, "customer key");
                        goto fail;
                }
                r = cp_wrap_key_from_pem(bp, (size_t) bl, &ck);
                EVP_PKEY_free(pk);
                BIO_free(b);
                if (r < 0 || (r = cp_keywrap_unwrap(ck, CP_KEYWRAP_RSA_AES_256, w, wl, &plain, &pl)) < 0)
                        goto fail;
                if (pl != sizeof(dk)) {
                        r = CP_ERROR(CP_EFORMAT, "wrapped disk key has %zu bytes", pl);
                        goto fail;
                }
                memcpy(dk, plain, sizeof(dk));
        }
        const json_t *tee_jwk;
        if (cp_release_find_tee_key(cp_jwt_claims(t), &tee_jwk) < 0)
                tee_jwk = NULL;
        snprintf(disk_row.name, sizeof(disk_row.name), "disk-%.122s", id);
        snprintf(disk_row.version, sizeof(disk_row.version), "%s", k.version);
        strcpy(disk_row.kty, "oct");
        disk_row.exportable = disk_row.enabled = true;
        disk_row.tags = json_pack("{s:s,s:s}", "mode", mode, "key", kn);
        disk_row.public_jwk = json_pack("{s:s}", "kty", "oct");
        disk_row.created = disk_row.updated = now_of(c->s);
        if ((r = release_response(c->s, &disk_row, json_object_get(tee_jwk, "kid"), tee, alg, dk, sizeof(dk), &jws)) < 0)
                goto fail;
        audit(c->s, c->who, "disk-release", kn, id, "allowed", mode, o.jti);
        respond(c->resp, 200, json_pack("{s:s}", "value", jws));
        goto done;
fail:
        audit(c->s, c->who, "disk-release", kn, id, "error", cp_error_message(), o.jti);
        reply_err(c->resp, r);
done:
        cp_wipe(dk, sizeof(dk));
        if (mat)
                cp_wipe(mat, ml);
        if (plain)
                cp_wipe(plain, pl);
        free(mat);
        free(plain);
        free(w);
        free(jws);
        cp_jwt_free(t);
        cp_wrap_key_free(tee);
        cp_wrap_key_free(ck);
        keyrow_clear(&k);
        keyrow_clear(&disk_row);
}

static void op_disk_delete(reqctx *c, const char *id) {
        int r = exec_bind_name(c->s, "UPDATE disks SET salt = zeroblob(32), wrapped = NULL WHERE id = ?1 AND ?2 = ?3", id, 0, 0);
        if (r > 0)
                r = exec_bind_name(c->s, "DELETE FROM disks WHERE id = ?1 AND ?2 = ?3", id, 0, 0);
        if (r <= 0) {
                reply_err(c->resp, r < 0 ? r : CP_ERROR(CP_ENOTFOUND, "disk %s not found", id));
                return;
        }
        audit(c->s, c->who, "disk-crypto-erase", NULL, id, "ok", NULL, NULL);
        c->resp->status = 204;
}

/* ---- authentication and routing ------------------------------------------------------ */

static int authenticate(reqctx *c) {
        const char *h = cp_http_req_header(c->req, "Authorization");
        uint8_t d[32];
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r, found = 0;
        if (!h || strlen(h) > 1024 || strncasecmp(h, "Bearer ", 7) != 0)
                return CP_ERROR(CP_EUNTRUSTED, "bearer token required");
        SHA256((const uint8_t *) h + 7, strlen(h + 7), d);
        cp_store_lock(c->s->store);
        if ((r = cp_store_prepare(c->s->store, "SELECT hash, name, scope FROM tokens", &st)) == 0)
                while ((r = cp_store_step(c->s->store, st)) == 1) {
                        /* every row is compared, in constant time */
                        bool eq = sqlite3_column_bytes(st, 0) == 32 && cp_ct_eq(sqlite3_column_blob(st, 0), d, 32);
                        if (eq && !found) {
                                found = 1;
                                snprintf(c->who, sizeof(c->who), "%s", col_text(st, 1));
                                c->scope = (cp_kbsd_scope) sqlite3_column_int(st, 2);
                        }
                }
        cp_store_unlock(c->s->store);
        if (r < 0)
                return r;
        return found ? 0 : CP_ERROR(CP_EUNTRUSTED, "unknown bearer token");
}

void cp_kbsd_handle(void *userdata, const cp_http_request *req, cp_http_response *resp) {
        reqctx c = { .s = userdata, .req = req, .resp = resp };
        char caps[3][256];
        const char *m = req->method;
        bool get = !strcmp(m, "GET"), post = !strcmp(m, "POST"), put = !strcmp(m, "PUT"), del = !strcmp(m, "DELETE");
        json_error_t jerr;

        if (get && !strcmp(req->path, "/certs")) {
                char *j = NULL;
                if (cp_kbsd_jwks_json(c.s, &j) < 0) {
                        reply_err(resp, CP_EINTERNAL);
                        return;
                }
                if (cp_http_resp_bytes(resp, 200, "application/json", j, strlen(j)) < 0)
                        resp->status = 500;
                free(j);
                return;
        }
        if (authenticate(&c) < 0) {
                if (cp_http_resp_header(resp, "WWW-Authenticate", "Bearer realm=\"confpool-kbsd\"") < 0)
                        resp->status = 500;
                reply_error(resp, 401, "Unauthorized", cp_error_message());
                return;
        }
        if (req->body_len) {
                c.body = json_loadb((const char *) req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
                if (!json_is_object(c.body)) {
                        json_decref(c.body);
                        reply_error(resp, 400, "BadParameter", "request body must be a JSON object");
                        return;
                }
        } else
                c.body = json_object();
        bool release = false;
        if (post && (cp_http_path_match("/keys/{name}/{version}/release", req->path, false, caps, 2) ||
                     cp_http_path_match("/keys/{name}/release", req->path, false, caps, 1)))
                release = true;
        if (post && cp_http_path_match("/disks/{id}/release", req->path, false, caps, 1))
                release = true;
        if (!release && c.scope != CP_KBSD_SCOPE_ADMIN) {
                reply_error(resp, 403, "Forbidden", "this token may only release keys");
                audit(c.s, c.who, m, NULL, NULL, "denied", "scope", NULL);
                goto out;
        }
        if (post && cp_http_path_match("/keys/{name}/{version}/release", req->path, false, caps, 2) && valid_name(caps[0]))
                op_release(&c, caps[0], caps[1]);
        else if (post && cp_http_path_match("/keys/{name}/release", req->path, false, caps, 1) && valid_name(caps[0]))
                op_release(&c, caps[0], NULL);
        else if (post && cp_http_path_match("/disks/{id}/release", req->path, false, caps, 1) && valid_name(caps[0]))
                op_disk_release(&c, caps[0]);
        else if (post && cp_http_path_match("/disks/{id}/create", req->path, false, caps, 1) && valid_name(caps[0]))
                op_disk_create(&c, caps[0]);
        else if (del && cp_http_path_match("/disks/{id}", req->path, false, caps, 1) && valid_name(caps[0]))
                op_disk_delete(&c, caps[0]);
        else if ((post || put) && cp_http_path_match("/keys/{name}/create", req->path, false, caps, 1) && valid_name(caps[0]))
                op_create(&c, caps[0], NULL);
        else if (post && cp_http_path_match("/keys/{name}/rotate", req->path, false, caps, 1) && valid_name(caps[0])) {
                keyrow k;
                int r = load_key(c.s, caps[0], NULL, false, &k);
                if (r < 0)
                        reply_err(resp, r);
                else {
                        op_create(&c, caps[0], &k);
                        keyrow_clear(&k);
                }
        } else if (put && cp_http_path_match("/keys/{name}", req->path, false, caps, 1) && valid_name(caps[0]))
                op_import(&c, caps[0]);
        else if (get && !strcmp(req->path, "/keys"))
                op_list(&c, NULL, false);
        else if (get && !strcmp(req->path, "/deletedkeys"))
                op_list(&c, NULL, true);
        else if (get && cp_http_path_match("/keys/{name}/versions", req->path, false, caps, 1) && valid_name(caps[0]))
                op_list(&c, caps[0], false);
        else if (get && (cp_http_path_match("/keys/{name}/{version}", req->path, false, caps, 2) ||
                         cp_http_path_match("/keys/{name}", req->path, false, caps, 1)) && valid_name(caps[0])) {
                keyrow k;
                bool v = cp_http_path_match("/keys/{name}/{version}", req->path, false, caps, 2);
                int r = load_key(c.s, caps[0], v ? caps[1] : NULL, false, &k);
                if (r < 0)
                        reply_err(resp, r);
                else {
                        respond(resp, 200, key_bundle(c.s, &k, NULL));
                        keyrow_clear(&k);
                }
        } else if (get && cp_http_path_match("/deletedkeys/{name}", req->path, false, caps, 1) && valid_name(caps[0])) {
                keyrow k;
                int r = load_key(c.s, caps[0], NULL, true, &k);
                if (r < 0)
                        reply_err(resp, r);
                else {
                        respond(resp, 200, key_bundle(c.s, &k, NULL));
                        keyrow_clear(&k);
                }
        } else if (del && cp_http_path_match("/keys/{name}", req->path, false, caps, 1) && valid_name(caps[0]))
                op_delete(&c, caps[0]);
        else if (post && cp_http_path_match("/deletedkeys/{name}/recover", req->path, false, caps, 1) && valid_name(caps[0]))
                op_recover(&c, caps[0]);
        else if (del && cp_http_path_match("/deletedkeys/{name}", req->path, false, caps, 1) && valid_name(caps[0]))
                op_purge(&c, caps[0]);
        else
                reply_error(resp, 404, "NotFound", "no such endpoint");
out:
        json_decref(c.body);
        ERR_clear_error(); /* nothing of this request stays in the worker's error queue */
}

/* ---- lifecycle ------------------------------------------------------------------------ */

static const char mk_check_aad[] = "confpool-kbsd/master-key-check";

static int check_master_key(cp_kbsd *s) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;
        uint8_t *p = NULL, *blob = NULL;
        size_t pl, bl;
        cp_store_lock(s->store);
        if ((r = cp_store_prepare(s->store, "SELECT v FROM meta WHERE k = 'mk_check'", &st)) == 0 &&
            (r = cp_store_step(s->store, st)) == 1) {
                r = gcm(false, s->master, mk_check_aad, sqlite3_column_blob(st, 0), (size_t) sqlite3_column_bytes(st, 0), &p, &pl);
                free(p);
                if (r < 0)
                        r = CP_ERROR(CP_ESIG, "the master key does not open this database");
        } else if (r == 0) {
                _cleanup_stmt_ sqlite3_stmt *ins = NULL;
                if ((r = gcm(true, s->master, mk_check_aad, (const uint8_t *) "ok", 2, &blob, &bl)) == 0 &&
                    (r = cp_store_prepare(s->store, "INSERT INTO meta (k, v) VALUES ('mk_check', ?)", &ins)) == 0) {
                        sqlite3_bind_blob(ins, 1, blob, (int) bl, SQLITE_TRANSIENT);
                        r = cp_store_step(s->store, ins);
                }
                free(blob);
        }
        cp_store_unlock(s->store);
        return r < 0 ? r : 0;
}

static int rekey_store(cp_store *store, const uint8_t old_key[32], const uint8_t new_key[32]) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;
        if ((r = cp_store_begin(store)) < 0)
                return r;
        if ((r = cp_store_prepare(store, "SELECT name, version, sealed FROM keys", &st)) < 0)
                goto fail;
        while ((r = cp_store_step(store, st)) == 1) {
                char aad[256];
                uint8_t *p = NULL, *n = NULL;
                size_t pl, nl;
                aad_of(col_text(st, 0), col_text(st, 1), aad, sizeof(aad));
                if ((r = gcm(false, old_key, aad, sqlite3_column_blob(st, 2), (size_t) sqlite3_column_bytes(st, 2), &p, &pl)) < 0)
                        goto fail;
                r = gcm(true, new_key, aad, p, pl, &n, &nl);
                cp_wipe(p, pl);
                free(p);
                if (r < 0)
                        goto fail;
                _cleanup_stmt_ sqlite3_stmt *up = NULL;
                if ((r = cp_store_prepare(store, "UPDATE keys SET sealed = ? WHERE name = ? AND version = ?", &up)) == 0) {
                        sqlite3_bind_blob(up, 1, n, (int) nl, SQLITE_TRANSIENT);
                        sqlite3_bind_text(up, 2, col_text(st, 0), -1, SQLITE_TRANSIENT);
                        sqlite3_bind_text(up, 3, col_text(st, 1), -1, SQLITE_TRANSIENT);
                        r = cp_store_step(store, up);
                }
                free(n);
                if (r < 0)
                        goto fail;
        }
        if (r < 0)
                goto fail;
        {
                uint8_t *blob = NULL;
                size_t bl;
                _cleanup_stmt_ sqlite3_stmt *mk = NULL;
                if ((r = gcm(true, new_key, mk_check_aad, (const uint8_t *) "ok", 2, &blob, &bl)) < 0)
                        goto fail;
                if ((r = cp_store_prepare(store, "INSERT OR REPLACE INTO meta (k, v) VALUES ('mk_check', ?)", &mk)) == 0) {
                        sqlite3_bind_blob(mk, 1, blob, (int) bl, SQLITE_TRANSIENT);
                        r = cp_store_step(store, mk);
                }
                free(blob);
                if (r < 0)
                        goto fail;
        }
        return cp_store_commit(store);
fail:
        cp_store_rollback(store);
        return r;
}

int cp_kbsd_rotate_master_key(cp_kbsd *s, const uint8_t new_key[CP_KBSD_MASTER_KEY_LEN]) {
        int r;
        /* writers of sealed blobs hold the read side; the switch takes the write side */
        pthread_rwlock_wrlock(&s->mk_lock);
        cp_store_lock(s->store);
        r = rekey_store(s->store, s->master, new_key);
        if (r == 0)
                memcpy(s->master, new_key, CP_KBSD_MASTER_KEY_LEN);
        cp_store_unlock(s->store);
        pthread_rwlock_unlock(&s->mk_lock);
        if (r == 0)
                audit(s, "operator", "rotate-master-key", NULL, NULL, "ok", NULL, NULL);
        return r;
}

int cp_kbsd_rekey_db(const char *db_path, const uint8_t old_key[CP_KBSD_MASTER_KEY_LEN],
                     const uint8_t new_key[CP_KBSD_MASTER_KEY_LEN]) {
        cp_store *st = NULL;
        int r = cp_store_open(db_path, migrations, CP_ELEMENTSOF(migrations), &st);
        if (r < 0)
                return r;
        r = rekey_store(st, old_key, new_key);
        cp_store_close(st);
        return r;
}

int cp_kbsd_jwks_json(cp_kbsd *s, char **ret) {
        json_t *jwk = NULL;
        int r = cp_jwt_key_to_jwk(s->signer, &jwk);
        if (r < 0)
                return r;
        json_t *doc = json_pack("{s:[o]}", "keys", jwk);
        char *t = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
        json_decref(doc);
        if (!t)
                return cp_error_oom();
        *ret = t;
        return 0;
}

int cp_kbsd_new(const cp_kbsd_config *cfg, cp_kbsd **ret) {
        int r;
        if (!cfg || !cfg->db_path || !cfg->master_key)
                return CP_ERROR(CP_EINVAL, "db_path and master_key are required");
        cp_kbsd *s = calloc(1, sizeof(*s));
        if (!s)
                return cp_error_oom();
        s->cfg = *cfg;
        if (!s->cfg.recovery_days)
                s->cfg.recovery_days = 90;
        if (!s->cfg.slack_s)
                s->cfg.slack_s = 60;
        s->now = cfg->now;
        memcpy(s->master, cfg->master_key, CP_KBSD_MASTER_KEY_LEN);
        snprintf(s->vault_url, sizeof(s->vault_url), "%s", cfg->vault_url ? cfg->vault_url : "http://127.0.0.1");
        pthread_rwlock_init(&s->mk_lock, NULL);
        pthread_mutex_init(&s->audit_mu, NULL);
        if ((r = cp_store_open(cfg->db_path, migrations, CP_ELEMENTSOF(migrations), &s->store)) < 0 ||
            (r = cp_store_exec(s->store, "PRAGMA secure_delete = ON")) < 0 || (r = check_master_key(s)) < 0)
                goto fail;
        for (size_t i = 0; i < cfg->n_authorities && i < CP_KBSD_MAX_AUTHORITIES; i++) {
                const cp_kbsd_authority *a = &cfg->authorities[i];
                if (!a->issuer || !a->jwks_json) {
                        r = CP_ERROR(CP_EINVAL, "authority %zu needs issuer and JWKS", i);
                        goto fail;
                }
                if ((r = cp_jwks_parse(a->jwks_json, strlen(a->jwks_json), &s->auth[i].jwks)) < 0) {
                        cp_error_wrap("authority %s JWKS: ", a->issuer);
                        goto fail;
                }
                s->auth[i].issuer = strdup(a->issuer);
                s->n_auth++;
                if (!s->auth[i].issuer) {
                        r = cp_error_oom();
                        goto fail;
                }
        }
        for (size_t i = 0; i < cfg->n_tokens && i < CP_KBSD_MAX_TOKENS; i++) {
                const cp_kbsd_token *t = &cfg->tokens[i];
                uint8_t d[32];
                _cleanup_stmt_ sqlite3_stmt *st = NULL;
                if (!t->token || strlen(t->token) < 16 || !t->name) {
                        r = CP_ERROR(CP_EINVAL, "token %zu: name and a secret of at least 16 characters", i);
                        goto fail;
                }
                SHA256((const uint8_t *) t->token, strlen(t->token), d);
                cp_store_lock(s->store);
                if ((r = cp_store_prepare(s->store, "INSERT OR REPLACE INTO tokens (hash, name, scope) VALUES (?,?,?)", &st)) == 0) {
                        sqlite3_bind_blob(st, 1, d, 32, SQLITE_TRANSIENT);
                        sqlite3_bind_text(st, 2, t->name, -1, SQLITE_TRANSIENT);
                        sqlite3_bind_int(st, 3, (int) t->scope);
                        r = cp_store_step(s->store, st);
                }
                cp_store_unlock(s->store);
                if (r < 0)
                        goto fail;
        }
        r = cfg->signing_key_pem ? cp_jwt_key_from_pem(CP_JWT_RS256, cfg->signing_key_pem, strlen(cfg->signing_key_pem), NULL, 0,
                                                       &s->signer)
                                 : cp_jwt_key_generate(CP_JWT_RS256, "confpool-kbsd release signing", 0, 365, &s->signer);
        if (r < 0)
                goto fail;
        if (cfg->audit_path) {
                int fd = open(cfg->audit_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
                s->audit_file = fd >= 0 ? fdopen(fd, "a") : NULL;
                if (!s->audit_file) {
                        if (fd >= 0)
                                close(fd);
                        r = CP_ERROR(CP_EIO, "cannot open audit file %s", cfg->audit_path);
                        goto fail;
                }
        }
        *ret = s;
        return 0;
fail:
        cp_kbsd_free(s);
        return r;
}

int cp_kbsd_start(cp_kbsd *s) {
        const char *bind = s->cfg.bind_addr ? s->cfg.bind_addr : "127.0.0.1";
        bool loop = !strcmp(bind, "127.0.0.1") || !strcmp(bind, "::1");
        if (!loop && !(s->cfg.tls_cert_pem && s->cfg.tls_key_pem))
                return CP_ERROR(CP_EINVAL, "TLS is required off loopback");
        cp_httpd_options o = { .bind_addr = bind, .port = s->cfg.port, .threads = s->cfg.threads,
                               .max_body = 256 * 1024, .tls_cert_pem = s->cfg.tls_cert_pem,
                               .tls_key_pem = s->cfg.tls_key_pem };
        int r = cp_httpd_start(&o, cp_kbsd_handle, s, &s->httpd);
        if (r < 0)
                return r;
        if (s->cfg.vault_url)
                snprintf(s->vault_url, sizeof(s->vault_url), "%s", s->cfg.vault_url);
        else
                snprintf(s->vault_url, sizeof(s->vault_url), "%s://%s:%u", s->cfg.tls_cert_pem ? "https" : "http", bind,
                         (unsigned) cp_httpd_port(s->httpd));
        return 0;
}

uint16_t cp_kbsd_port(const cp_kbsd *s) {
        return s->httpd ? cp_httpd_port(s->httpd) : 0;
}

cp_kbsd *cp_kbsd_free(cp_kbsd *s) {
        if (!s)
                return NULL;
        cp_httpd_stop(s->httpd);
        for (size_t i = 0; i < s->n_auth; i++) {
                free(s->auth[i].issuer);
                cp_jwks_free(s->auth[i].jwks);
        }
        cp_jwt_key_free(s->signer);
        if (s->audit_file)
                fclose(s->audit_file);
        cp_store_close(s->store);
        cp_wipe(s->master, sizeof(s->master));
        pthread_rwlock_destroy(&s->mk_lock);
        pthread_mutex_destroy(&s->audit_mu);
        free(s);
        return NULL;
}
