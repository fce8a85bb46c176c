/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <pthread.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/cursor.h"
#include "basic/fileio.h"
#include "basic/secure.h"
#include "confpool/jwt.h"
#include "controlplane/cp-aad.h"
#include "controlplane/cp-store.h"
#include "libconfpool/rsagen.h"

struct cp_aad {
        cp_store *store;
        cp_jwt_key *key;
        cp_jwks *jwks;
        char tenant[37];
        char default_sub[37];
        char issuer[300];
        char audiences[CP_AAD_MAX_AUDIENCES][300];
        size_t n_aud;
        pthread_mutex_t lock; /* issuer and audiences: set while the server may already run */
};

#define SALT_LEN 16
#define HASH_LEN 32

/* ---- form decoding ---- */

static int hexval(uint8_t c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        c = (uint8_t) (c | 0x20);
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

/* Decode up to the next '&' (or '=' when stop_eq) into out; *ret_term is the
 * terminator consumed (0 at the end). */
static int form_part(cp_cursor *cur, bool stop_eq, char *out, size_t cap, uint8_t *ret_term) {
        size_t n = 0;
        uint8_t c = 0;
        *ret_term = 0;
        while (cp_cursor_remaining(cur) > 0) {
                int r = cp_cursor_u8(cur, &c);
                if (r < 0)
                        return r;
                if (c == '&' || (stop_eq && c == '=')) {
                        *ret_term = c;
                        break;
                }
                if (c == '+')
                        c = ' ';
                else if (c == '%') {
                        uint8_t h, l;
                        if (cp_cursor_u8(cur, &h) < 0 || cp_cursor_u8(cur, &l) < 0)
                                return CP_ERROR(CP_ETRUNC, "form: truncated %%-escape");
                        if (hexval(h) < 0 || hexval(l) < 0)
                                return CP_ERROR(CP_EFORMAT, "form: bad %%-escape");
                        c = (uint8_t) (hexval(h) << 4 | hexval(l));
                }
                if (c == 0)
                        return CP_ERROR(CP_EFORMAT, "form: NUL byte");
                if (n + 1 >= cap)
                        return CP_ERROR(CP_ETOOBIG, "form: field longer than %zu bytes", cap - 1);
                out[n++] = (char) c;
        }
        out[n] = 0;
        return 0;
}

const char *cp_form_get(const cp_form *f, const char *name) {
        for (size_t i = 0; i < f->n; i++)
                if (strcmp(f->name[i], name) == 0)
                        return f->value[i];
        return NULL;
}

void cp_form_clear(cp_form *f) {
        if (!f)
                return;
        for (size_t i = 0; i < f->n; i++) {
                cp_wipe(f->value[i], strlen(f->value[i]));
                free(f->value[i]);
        }
        memset(f, 0, sizeof *f);
}

int cp_form_parse(const uint8_t *body, size_t len, cp_form *ret) {
        cp_form f = {0};
        cp_cursor cur = cp_cursor_make(body, len);
        char *val = malloc(CP_FORM_MAX_VALUE);
        if (!val)
                return cp_error_oom();
        int r = 0;
        while (r >= 0 && cp_cursor_remaining(&cur) > 0) {
                char name[sizeof f.name[0]];
                uint8_t term;
                r = form_part(&cur, true, name, sizeof name, &term);
                if (r < 0)
                        break;
                val[0] = 0;
                if (term == '=') {
                        r = form_part(&cur, false, val, CP_FORM_MAX_VALUE, &term);
                        if (r < 0)
                                break;
                } else if (!*name)
                        continue; /* empty pair ("a=1&&b=2") */
                if (!*name) {
                        r = CP_ERROR(CP_EFORMAT, "form: empty field name");
                        break;
                }
                if (cp_form_get(&f, name)) {
                        r = CP_ERROR(CP_EFORMAT, "form: duplicate field '%s'", name);
                        break;
                }
                if (f.n == CP_FORM_MAX_FIELDS) {
                        r = CP_ERROR(CP_ETOOBIG, "form: more than %u fields", CP_FORM_MAX_FIELDS);
                        break;
                }
                f.value[f.n] = strdup(val);
                if (!f.value[f.n]) {
                        r = cp_error_oom();
                        break;
                }
                memcpy(f.name[f.n], name, sizeof name);
                f.n++;
        }
        cp_wipe(val, CP_FORM_MAX_VALUE);
        free(val);
        if (r < 0) {
                cp_form_clear(&f);
                return r;
        }
        *ret = f;
        return 0;
}

/* ---- keys and identity ---- */

static void guid_from(const char *label, const char *kid, char out[37]) {
        uint8_t d[32];
        unsigned n = 0;
        EVP_MD_CTX *m = EVP_MD_CTX_new();
        if (!m || !EVP_DigestInit_ex(m, EVP_sha256(), NULL) || !EVP_DigestUpdate(m, label, strlen(label)) ||
            !EVP_DigestUpdate(m, kid, strlen(kid)) || !EVP_DigestFinal_ex(m, d, &n))
                abort(); /* SHA-256 unavailable: nothing sensible to do */
        EVP_MD_CTX_free(m);
        d[6] = (uint8_t) ((d[6] & 0x0f) | 0x50); /* name-based (v5-like) */
        d[8] = (uint8_t) ((d[8] & 0x3f) | 0x80);
        char h[33];
        cp_hex_encode(d, 16, h);
        snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
}

static int load_key(const char *dir, cp_jwt_key **ret) {
        char path[4096];
        snprintf(path, sizeof path, "%s/aad-signing-key.pem", dir);
        uint8_t *pem = NULL;
        size_t len = 0;
        int r = cp_read_file(path, 64 * 1024, &pem, &len);
        if (r == CP_ENOTFOUND) {
                cp_error_clear();
                EVP_PKEY *k = NULL;
                if (cp_rsa_generate(2048, &k) < 0)
                        cp_error_clear(); /* reported below */
                BIO *b = BIO_new(BIO_s_secmem());
                char *p;
                if (!k || !b || !PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL)) {
                        EVP_PKEY_free(k);
                        BIO_free(b);
                        return CP_ERROR(CP_ECRYPTO, "cannot generate the token signing key");
                }
                long n = BIO_get_mem_data(b, &p);
                r = cp_write_file(path, p, (size_t) n, 0600);
                if (r >= 0)
                        r = cp_jwt_key_from_pem(CP_JWT_RS256, p, (size_t) n, NULL, 0, ret);
                BIO_free_all(b);
                EVP_PKEY_free(k);
                return r;
        }
        if (r < 0)
                return r;
        r = cp_jwt_key_from_pem(CP_JWT_RS256, (const char *) pem, len, NULL, 0, ret);
        cp_wipe(pem, len);
        free(pem);
        return r;
}

int cp_aad_new(cp_store *store, const char *state_dir, cp_aad **ret) {
        if (!store || !state_dir)
                return CP_ERROR(CP_EINVAL, "cp_aad_new: store and state dir are required");
        cp_aad *a = calloc(1, sizeof *a);
        if (!a)
                return cp_error_oom();
        a->store = store;
        pthread_mutex_init(&a->lock, NULL);
        int r = load_key(state_dir, &a->key);
        if (r >= 0) {
                const cp_jwt_key *keys[] = {a->key};
                r = cp_jwks_from_keys(keys, 1, &a->jwks);
        }
        if (r < 0) {
                cp_aad_free(a);
                return r;
        }
        guid_from("confpoold tenant\n", cp_jwt_key_kid(a->key), a->tenant);
        guid_from("confpoold default subscription\n", cp_jwt_key_kid(a->key), a->default_sub);
        snprintf(a->issuer, sizeof a->issuer, "https://localhost/adfs");
        *ret = a;
        return 0;
}

cp_aad *cp_aad_free(cp_aad *a) {
        if (!a)
                return NULL;
        cp_jwt_key_free(a->key);
        cp_jwks_free(a->jwks);
        pthread_mutex_destroy(&a->lock);
        free(a);
        return NULL;
}

int cp_aad_set_endpoint(cp_aad *a, const char *issuer_base, const char *const *hosts, size_t n_hosts, uint16_t port) {
        if (!issuer_base || strlen(issuer_base) > 200 || 2 * n_hosts > CP_AAD_MAX_AUDIENCES)
                return CP_ERROR(CP_EINVAL, "cp_aad_set_endpoint: bad arguments");
        for (size_t i = 0; i < n_hosts; i++)
                if (strlen(hosts[i]) > 200)
                        return CP_ERROR(CP_EINVAL, "cp_aad_set_endpoint: host name too long");
        pthread_mutex_lock(&a->lock);
        snprintf(a->issuer, sizeof a->issuer, "%s/adfs", issuer_base);
        a->n_aud = 0;
        for (size_t i = 0; i < n_hosts; i++) {
                bool v6 = strchr(hosts[i], ':') && hosts[i][0] != '[';
                snprintf(a->audiences[a->n_aud++], sizeof a->audiences[0], "https://%s%s%s:%u/", v6 ? "[" : "",
                         hosts[i], v6 ? "]" : "", port);
                snprintf(a->audiences[a->n_aud++], sizeof a->audiences[0], "https://%s%s%s:%u", v6 ? "[" : "",
                         hosts[i], v6 ? "]" : "", port);
        }
        pthread_mutex_unlock(&a->lock);
        return 0;
}

void cp_aad_issuer(cp_aad *a, char out[300]) {
        pthread_mutex_lock(&a->lock);
        memcpy(out, a->issuer, sizeof a->issuer);
        pthread_mutex_unlock(&a->lock);
}

const char *cp_aad_tenant(const cp_aad *a) {
        return a->tenant;
}
const char *cp_aad_default_subscription(const cp_aad *a) {
        return a->default_sub;
}
static bool audience_ok(cp_aad *a, const char *aud) {
        bool ok = false;
        pthread_mutex_lock(&a->lock);
        for (size_t i = 0; aud && i < a->n_aud; i++)
                ok |= strcasecmp(a->audiences[i], aud) == 0;
        pthread_mutex_unlock(&a->lock);
        return ok;
}

/* ---- principals ---- */

static int kdf(const char *secret, const uint8_t salt[SALT_LEN], unsigned iter, uint8_t out[HASH_LEN]) {
        if (PKCS5_PBKDF2_HMAC(secret, (int) strlen(secret), salt, SALT_LEN, (int) iter, EVP_sha256(), HASH_LEN,
                              out) != 1)
                return CP_ERROR(CP_ECRYPTO, "PBKDF2 failed");
        return 0;
}

static void col(cp_stmt *st, int i, char *out, size_t size) {
        const char *t = cp_stmt_text(st, i);
        snprintf(out, size, "%s", t ? t : "");
}

int cp_aad_principal_create(cp_aad *a, const char *name, const char *subscription, cp_principal *ret,
                            char ret_secret[CP_AAD_SECRET_LEN]) {
        if (!name || !*name || strlen(name) >= sizeof ret->name)
                return CP_ERROR(CP_EINVAL, "a principal name of 1..%zu bytes is required", sizeof ret->name - 1);
        for (const char *p = name; *p; p++)
                if (!isalnum((unsigned char) *p) && !strchr("-_.", *p))
                        return CP_ERROR(CP_EINVAL, "principal name: only letters, digits, '-', '_', '.'");
        cp_principal pr = {0};
        snprintf(pr.name, sizeof pr.name, "%s", name);
        snprintf(pr.subscription, sizeof pr.subscription, "%s", subscription ? subscription : a->default_sub);
        /* a GUID, lower case */
        static const char pat[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
        if (strlen(pr.subscription) != sizeof pat - 1)
                return CP_ERROR(CP_EINVAL, "subscription '%s' is not a GUID", pr.subscription);
        for (size_t i = 0; pat[i]; i++) {
                if (pat[i] == '-' ? pr.subscription[i] != '-' : !isxdigit((unsigned char) pr.subscription[i]))
                        return CP_ERROR(CP_EINVAL, "subscription '%s' is not a GUID", pr.subscription);
                pr.subscription[i] = (char) tolower((unsigned char) pr.subscription[i]);
        }
        uint8_t raw[32 + 16 + SALT_LEN], hash[HASH_LEN];
        if (RAND_bytes(raw, sizeof raw) != 1)
                return CP_ERROR(CP_ECRYPTO, "RAND_bytes failed");
        char secret[CP_AAD_SECRET_LEN] = "cps_";
        cp_b64_encode(raw, 32, CP_B64_URL, secret + 4);
        raw[32 + 6] = (uint8_t) ((raw[32 + 6] & 0x0f) | 0x40);
        raw[32 + 8] = (uint8_t) ((raw[32 + 8] & 0x3f) | 0x80);
        char h[33], salt_hex[2 * SALT_LEN + 1], hash_hex[2 * HASH_LEN + 1];
        cp_hex_encode(raw + 32, 16, h);
        snprintf(pr.app_id, sizeof pr.app_id, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
        cp_hex_encode(raw + 48, SALT_LEN, salt_hex);
        int r = kdf(secret, raw + 48, CP_AAD_PBKDF2_ITER, hash);
        cp_hex_encode(hash, HASH_LEN, hash_hex);
        char now[40];
        cp_now_rfc3339(now);
        if (r >= 0)
                r = cp_store_begin(a->store);
        if (r >= 0) {
                _cleanup_stmt_ cp_stmt *st = NULL;
                r = cp_store_prepare(a->store,
                                     "INSERT INTO principals(app_id, name, sub, salt, iterations, hash, created) "
                                     "VALUES (?,?,?,?,?,?,?)",
                                     &st);
                if (r >= 0) {
                        cp_stmt_bind_text(st, 1, pr.app_id);
                        cp_stmt_bind_text(st, 2, pr.name);
                        cp_stmt_bind_text(st, 3, pr.subscription);
                        cp_stmt_bind_text(st, 4, salt_hex);
                        cp_stmt_bind_int64(st, 5, (int) CP_AAD_PBKDF2_ITER);
                        cp_stmt_bind_text(st, 6, hash_hex);
                        cp_stmt_bind_text(st, 7, now);
                        r = cp_store_step(a->store, st);
                }
                if (r < 0)
                        cp_store_rollback(a->store);
                else
                        r = cp_store_commit(a->store);
        }
        cp_wipe(raw, sizeof raw);
        cp_wipe(hash, sizeof hash);
        if (r < 0) {
                cp_wipe(secret, sizeof secret);
                return r;
        }
        *ret = pr;
        memcpy(ret_secret, secret, CP_AAD_SECRET_LEN);
        cp_wipe(secret, sizeof secret);
        return 0;
}

typedef struct principal_row {
        cp_principal p;
        uint8_t salt[SALT_LEN];
        uint8_t hash[HASH_LEN];
        unsigned iter;
} principal_row;

/* 1 found, 0 not found. */
static int principal_get(cp_aad *a, const char *app_id, principal_row *ret) {
        int r = cp_store_begin_read(a->store);
        if (r < 0)
                return r;
        {
                _cleanup_stmt_ cp_stmt *st = NULL;
                r = cp_store_prepare(a->store,
                                     "SELECT app_id, name, sub, salt, iterations, hash FROM principals "
                                     "WHERE app_id = lower(?)",
                                     &st);
                if (r >= 0) {
                        cp_stmt_bind_text(st, 1, app_id);
                        r = cp_store_step(a->store, st);
                }
                if (r > 0) {
                        char salt[2 * SALT_LEN + 8], hash[2 * HASH_LEN + 8];
                        principal_row row = {0};
                        col(st, 0, row.p.app_id, sizeof row.p.app_id);
                        col(st, 1, row.p.name, sizeof row.p.name);
                        col(st, 2, row.p.subscription, sizeof row.p.subscription);
                        col(st, 3, salt, sizeof salt);
                        col(st, 5, hash, sizeof hash);
                        int64_t it = cp_stmt_int64(st, 4);
                        size_t n1 = 0, n2 = 0;
                        if (it < 1000 || it > 10000000 ||
                            cp_hex_decode(salt, strlen(salt), row.salt, SALT_LEN, &n1) < 0 || n1 != SALT_LEN ||
                            cp_hex_decode(hash, strlen(hash), row.hash, HASH_LEN, &n2) < 0 || n2 != HASH_LEN)
                                r = CP_ERROR(CP_ESTORAGE, "principal %s: corrupt credential row", row.p.app_id);
                        else {
                                row.iter = (unsigned) it;
                                *ret = row;
                        }
                }
        }
        int k = cp_store_commit(a->store);
        return r < 0 ? r : k < 0 ? k : r;
}

int cp_aad_principal_list(cp_aad *a, cp_principal **ret, size_t *ret_n) {
        int r = cp_store_begin_read(a->store);
        if (r < 0)
                return r;
        cp_principal *v = NULL;
        size_t n = 0;
        {
                _cleanup_stmt_ cp_stmt *st = NULL;
                r = cp_store_prepare(a->store, "SELECT app_id, name, sub FROM principals ORDER BY created, app_id", &st);
                while (r >= 0 && (r = cp_store_step(a->store, st)) > 0) {
                        cp_principal *nv = realloc(v, (n + 1) * sizeof *v);
                        if (!nv) {
                                r = cp_error_oom();
                                break;
                        }
                        v = nv;
                        memset(&v[n], 0, sizeof v[n]);
                        col(st, 0, v[n].app_id, sizeof v[n].app_id);
                        col(st, 1, v[n].name, sizeof v[n].name);
                        col(st, 2, v[n].subscription, sizeof v[n].subscription);
                        n++;
                }
        }
        int k = cp_store_commit(a->store);
        r = r < 0 ? r : k;
        if (r < 0) {
                free(v);
                return r;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

/* ---- tokens ---- */

int cp_aad_issue(cp_aad *a, const char *client_id, const char *client_secret, const char *resource, int64_t now,
                 char **ret_token, cp_principal *ret) {
        if (!client_id || !client_secret || !resource)
                return CP_ERROR(CP_EINVAL, "client_id, client_secret and resource are required");
        if (strlen(client_id) > 64 || strlen(client_secret) > 256)
                return CP_ERROR(CP_EUNTRUSTED, "invalid client credentials");
        principal_row row = {0};
        int r = principal_get(a, client_id, &row);
        if (r < 0)
                return r;
        bool found = r > 0;
        if (!found) {
                /* the same work for an unknown client as for a wrong secret */
                memset(row.salt, 0x5a, sizeof row.salt);
                row.iter = CP_AAD_PBKDF2_ITER;
        }
        uint8_t h[HASH_LEN];
        r = kdf(client_secret, row.salt, row.iter, h);
        bool ok = r >= 0 && cp_ct_eq(h, row.hash, HASH_LEN) && found;
        cp_wipe(h, sizeof h);
        cp_wipe(row.hash, sizeof row.hash);
        if (r < 0)
                return r;
        if (!ok)
                return CP_ERROR(CP_EUNTRUSTED, "invalid client credentials");
        if (!audience_ok(a, resource))
                return CP_ERROR(CP_EBINDING, "the resource is not served here");
        if (now == 0)
                now = (int64_t) time(NULL);
        char iss[300];
        cp_aad_issuer(a, iss);
        json_t *claims = json_pack("{s:s,s:s,s:I,s:I,s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "aud", resource, "iss",
                                   iss, "iat", (json_int_t) now, "nbf", (json_int_t) now - 60, "exp",
                                   (json_int_t) now + CP_AAD_TOKEN_LIFETIME_S, "sub", row.p.app_id, "appid",
                                   row.p.app_id, "oid", row.p.app_id, "tid", a->tenant, "appidacr", "1", "idtyp",
                                   "app", "app_displayname", row.p.name, "ver", "1.0");
        if (!claims)
                return cp_error_oom();
        r = cp_jwt_sign(a->key, claims, NULL, ret_token);
        json_decref(claims);
        if (r < 0)
                return r;
        *ret = row.p;
        return 0;
}

int cp_aad_validate(cp_aad *a, const char *token, int64_t now, cp_principal *ret) {
        cp_jwt_validate_options o = CP_JWT_VALIDATE_OPTIONS_INIT;
        o.jwks = a->jwks;
        o.algs = CP_JWT_RS256;
        char iss[300];
        cp_aad_issuer(a, iss);
        o.issuer = iss;
        o.now = now;
        o.slack_s = 60;
        cp_jwt *t = NULL;
        int r = cp_jwt_validate(token, strlen(token), &o, &t);
        if (r < 0)
                return r;
        const json_t *c = cp_jwt_claims(t);
        const char *aud = json_string_value(json_object_get(c, "aud"));
        const char *sub = json_string_value(json_object_get(c, "sub"));
        const char *appid = json_string_value(json_object_get(c, "appid"));
        const char *tid = json_string_value(json_object_get(c, "tid"));
        if (!audience_ok(a, aud))
                r = CP_ERROR(CP_EBINDING, "the token's audience is not this server");
        else if (!sub || !appid || strcmp(sub, appid) != 0 || !tid || strcmp(tid, a->tenant) != 0)
                r = CP_ERROR(CP_EUNTRUSTED, "the token's subject or tenant is not ours");
        principal_row row = {0};
        if (r >= 0) {
                r = principal_get(a, sub, &row);
                if (r == 0)
                        r = CP_ERROR(CP_EUNTRUSTED, "the token's subject no longer exists");
                cp_wipe(&row.hash, sizeof row.hash);
        }
        cp_jwt_free(t);
        if (r < 0)
                return r;
        *ret = row.p;
        return 0;
}

int cp_aad_jwks(cp_aad *a, json_t **ret) {
        json_t *jwk = NULL;
        int r = cp_jwt_key_to_jwk(a->key, &jwk);
        if (r < 0)
                return r;
        json_t *set = json_pack("{s:[o]}", "keys", jwk);
        if (!set)
                return cp_error_oom();
        *ret = set;
        return 0;
}
