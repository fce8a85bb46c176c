/* SPDX-License-Identifier: Apache-2.0 */
/* confpool-kbsd disk keys.  Platform mode: HKDF-SHA-256(pool master oct
 * key, per-disk salt, info = disk id), derived at release.  Customer mode: a
 * random disk key wrapped to the customer's RSA key at creation, unwrapped
 * by the broker at release.  Either way the disk key leaves wrapped to the
 * TEE key of an attestation token the key's release policy accepts, and
 * DELETE crypto-erases the salt / wrapped key. */

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "basic/cleanup.h"
#include "basic/secure.h"
#include "kbsd-internal.h"
#include "ossl/ossl-util.h"

#define DISK_KEY 32

static int hkdf_sha256(const uint8_t *key, size_t kl, const uint8_t *salt, size_t sl, const char *info,
                       uint8_t out[DISK_KEY]) {
        EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
        EVP_KDF_CTX *kc = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
        OSSL_PARAM p[5];
        int r = 0;
        p[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *) "SHA256", 0);
        p[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *) key, kl);
        p[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *) salt, sl);
        p[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *) info, strlen(info));
        p[4] = OSSL_PARAM_construct_end();
        if (!kc || EVP_KDF_derive(kc, out, DISK_KEY, p) != 1)
                r = CP_ERROR(CP_ECRYPTO, "HKDF-SHA256");
        EVP_KDF_CTX_free(kc);
        EVP_KDF_free(kdf);
        return r;
}

/* The platform disk key of disk id: HKDF of the pool master key's material. */
static int derive_platform_key(cp_kbsd *s, const cp_kbsd_keyrow *k, const uint8_t salt[CP_KBSD_DISK_SALT], const char *id,
                               uint8_t dk[DISK_KEY]) {
        uint8_t *mat = NULL;
        size_t ml = 0;
        int r;
        if ((r = cp_kbsd_unseal(s, k, &mat, &ml)) >= 0)
                r = hkdf_sha256(mat, ml, salt, CP_KBSD_DISK_SALT, id, dk);
        if (mat)
                cp_wipe(mat, ml);
        free(mat);
        return r;
}

/* The new disk's key wrapped to the platform's (the creator's) RSA key
 * wrap_jwk, as a key_hsm blob: the platform encrypts the disk before first
 * boot with it and forgets it.  Only at creation (admin scope). */
static int disk_key_for_platform(const json_t *wrap_jwk, const char *enc, const uint8_t dk[DISK_KEY], char **ret) {
        cp_wrap_key *wk = NULL;
        cp_keywrap_alg alg = CP_KEYWRAP_RSA_AES_256;
        _cleanup_free_ uint8_t *w = NULL;
        size_t wl;
        int r;
        if ((enc && (r = cp_keywrap_alg_from_name(enc, &alg)) < 0) || (r = cp_wrap_key_from_jwk(wrap_jwk, &wk)) < 0)
                return r;
        r = cp_keywrap_wrap(wk, alg, dk, DISK_KEY, &w, &wl);
        cp_wrap_key_free(wk);
        if (r < 0)
                return r;
        return cp_keyrelease_key_hsm_encode(json_string_value(json_object_get(wrap_jwk, "kid")), alg, w, wl, ret);
}

/* Customer mode: a random disk key, wrapped (RSA-OAEP-256 + KWP) by the customer key's public half into d. */
static int new_customer_key(const cp_kbsd_keyrow *k, cp_kbsd_diskrow *d, uint8_t dk[DISK_KEY]) {
        cp_wrap_key *ck = NULL;
        int r;
        if (RAND_bytes(dk, DISK_KEY) != 1)
                return CP_ERROR(CP_ECRYPTO, "random");
        if ((r = cp_wrap_key_from_jwk(k->public_jwk, &ck)) >= 0)
                r = cp_keywrap_wrap(ck, CP_KEYWRAP_RSA_AES_256, dk, DISK_KEY, &d->wrapped, &d->wrapped_len);
        cp_wrap_key_free(ck);
        return r < 0 ? r : 0;
}

typedef struct disk_request {
        const char *mode, *key, *enc;
        const json_t *wrap_jwk, *policy;
        bool platform;
} disk_request;

static int disk_request_of(const json_t *body, disk_request *q) {
        q->mode = json_string_value(json_object_get(body, "mode"));
        q->key = json_string_value(json_object_get(body, "key"));
        q->wrap_jwk = json_object_get(body, "wrap_key");
        q->enc = json_string_value(json_object_get(body, "enc"));
        q->policy = json_object_get(body, "release_policy");
        q->platform = q->mode && !strcmp(q->mode, "platform");
        if (!q->mode || (!q->platform && strcmp(q->mode, "customer")) || !q->key || !cp_kbsd_valid_name(q->key))
                return CP_ERROR(CP_EINVAL, "mode (platform|customer) and key are required");
        if (q->wrap_jwk && !json_is_object(q->wrap_jwk))
                return CP_ERROR(CP_EINVAL, "wrap_key must be an RSA public JWK");
        return 0;
}

/* The disk row for q, and in *ret_hsm the disk key wrapped to q's wrap_key if it names one. */
static int make_disk(cp_kbsd *s, const char *id, const disk_request *q, cp_kbsd_diskrow *d, char **ret_hsm) {
        cp_kbsd_keyrow k = { 0 };
        uint8_t dk[DISK_KEY] = { 0 };
        int r;
        snprintf(d->mode, sizeof(d->mode), "%s", q->platform ? "platform" : "customer");
        snprintf(d->key_name, sizeof(d->key_name), "%s", q->key);
        /* the disk's own policy, required on top of its key's (one node's binding) */
        if (q->policy && (r = cp_kbsd_policy_decode(q->policy, "release_policy", &d->policy)) < 0)
                return r;
        if ((r = cp_kbsd_key_load(s, q->key, NULL, false, &k)) < 0)
                return r;
        if (q->platform && strcmp(k.kty, "oct"))
                r = CP_ERROR(CP_EINVAL, "a platform (pool) master key must be an oct key");
        else if (!q->platform && strcmp(k.kty, "RSA"))
                r = CP_ERROR(CP_EINVAL, "a customer key must be an RSA key");
        else if (RAND_bytes(d->salt, sizeof(d->salt)) != 1)
                r = CP_ERROR(CP_ECRYPTO, "random");
        else if (!q->platform)
                r = new_customer_key(&k, d, dk);
        else if (q->wrap_jwk)
                r = derive_platform_key(s, &k, d->salt, id, dk);
        if (r >= 0 && q->wrap_jwk && (r = disk_key_for_platform(q->wrap_jwk, q->enc, dk, ret_hsm)) < 0)
                r = CP_ERROR(CP_EINVAL, "%s", cp_error_message());
        cp_wipe(dk, sizeof(dk));
        cp_kbsd_keyrow_clear(&k);
        return r;
}

/* POST /disks/{id}/create {"mode":"platform","key":"<pool master oct key>"}
 *                        {"mode":"customer","key":"<customer RSA key>"}
 * optional "wrap_key": <RSA public JWK>, "enc": the disk key is returned
 * wrapped to it in "key_hsm" (the platform writes the encrypted image). */
void cp_kbsd_h_disk_create(cp_svc_call *c) {
        cp_kbsd *s = cp_kbsd_of(c);
        const char *id = c->caps[0];
        cp_kbsd_diskrow d = { 0 };
        disk_request q;
        json_t *body = NULL;
        _cleanup_free_ char *hsm = NULL;
        int r;
        if (!cp_kbsd_begin(c, &body))
                return;
        if ((r = disk_request_of(body, &q)) < 0 ||
            (r = make_disk(s, id, &q, &d, &hsm)) < 0)
                cp_svc_reply_err(c, r);
        else if (cp_kbsd_disk_insert(s, id, &d) < 0)
                cp_svc_reply_err(c, CP_ERROR(CP_EBADSEQ, "disk exists or cannot be stored"));
        else {
                cp_kbsd_audit(s, c->who, "disk-create", q.key, id, "ok",
                              hsm ? (q.platform ? "platform, key to creator" : "customer, key to creator") : q.mode, NULL);
                json_t *out = json_pack("{s:s,s:s,s:s,s:b}", "id", id, "mode", q.mode, "key", q.key, "bound",
                                        d.policy != NULL);
                if (out && hsm)
                        json_object_set_new(out, "key_hsm", json_string(hsm));
                cp_svc_reply_json(c, 200, out);
        }
        cp_kbsd_diskrow_clear(&d);
        json_decref(body);
}

/* The customer disk key: the stored wrapped key unwrapped with the customer's private key. */
static int unwrap_customer_key(cp_kbsd *s, const cp_kbsd_keyrow *k, const cp_kbsd_diskrow *d, uint8_t dk[DISK_KEY]) {
        uint8_t *mat = NULL, *plain = NULL;
        size_t ml = 0, pl = 0;
        cp_wrap_key *ck = NULL;
        char *bp;
        long bl;
        int r;
        if ((r = cp_kbsd_unseal(s, k, &mat, &ml)) < 0)
                return r;
        const uint8_t *pp = mat;
        _cleanup_evp_pkey_ EVP_PKEY *pk = d2i_AutoPrivateKey(NULL, &pp, (long) ml);
        _cleanup_bio_ BIO *b = BIO_new(BIO_s_secmem());
        if (!pk || !b || !PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL) || (bl = BIO_get_mem_data(b, &bp)) <= 0)
                r = CP_ERROR(CP_ECRYPTO, "customer key");
        else if ((r = cp_wrap_key_from_pem(bp, (size_t) bl, &ck)) >= 0 &&
                 (r = cp_keywrap_unwrap(ck, CP_KEYWRAP_RSA_AES_256, d->wrapped, d->wrapped_len, &plain, &pl)) >= 0) {
                if (pl != DISK_KEY)
                        r = CP_ERROR(CP_EFORMAT, "wrapped disk key has %zu bytes", pl);
                else
                        memcpy(dk, plain, DISK_KEY);
        }
        cp_wrap_key_free(ck);
        if (plain)
                cp_wipe(plain, pl);
        free(plain);
        cp_wipe(mat, ml);
        free(mat);
        return r < 0 ? r : 0;
}

/* The disk key, wrapped to the TEE key in a release response for the row disk-<id>. */
static int disk_release_response(cp_kbsd *s, const char *id, const cp_kbsd_keyrow *k, const cp_kbsd_diskrow *d,
                                 const cp_jwt *t, cp_wrap_key *tee, cp_keywrap_alg alg, char **ret) {
        cp_kbsd_keyrow row = { 0 };
        uint8_t dk[DISK_KEY];
        int r = !strcmp(d->mode, "platform") ? derive_platform_key(s, k, d->salt, id, dk) : unwrap_customer_key(s, k, d, dk);
        if (r >= 0) {
                snprintf(row.name, sizeof(row.name), "disk-%.122s", id);
                snprintf(row.version, sizeof(row.version), "%s", k->version);
                strcpy(row.kty, "oct");
                row.exportable = row.enabled = true;
                row.tags = json_pack("{s:s,s:s}", "mode", d->mode, "key", d->key_name);
                row.public_jwk = json_pack("{s:s}", "kty", "oct");
                row.created = row.updated = cp_kbsd_now(s);
                r = cp_kbsd_release_response(s, &row, t, tee, alg, dk, sizeof(dk), ret);
        }
        cp_wipe(dk, sizeof(dk));
        cp_kbsd_keyrow_clear(&row);
        return r;
}

/* The disk's own release policy (if it has one) against the token the key's
 * policy accepted: a platform disk of a node names that node's HOST_DATA,
 * which the pool master key's policy (shared by the pool's disks) cannot. */
static int disk_policy_check(const cp_kbsd_diskrow *d, const cp_jwt *t, cp_kbsd_refusal *o) {
        if (!d->policy)
                return 0;
        cp_release_policy *pol = NULL;
        char why[CP_RELEASE_REASON_MAX];
        int r = cp_release_policy_parse(d->policy, strlen(d->policy), &pol);
        if (r < 0) {
                snprintf(o->reason, sizeof(o->reason), "stored disk policy: %s", cp_error_message());
                o->status = 500;
                o->code = "InternalError";
                return r;
        }
        const char *iss = json_string_value(json_object_get(cp_jwt_claims(t), "iss"));
        r = cp_release_policy_evaluate(pol, iss ? iss : "", cp_jwt_claims(t), why, sizeof(why));
        cp_release_policy_free(pol);
        if (r < 0) {
                snprintf(o->reason, sizeof(o->reason), "disk release policy not satisfied (bound to one node): %.300s",
                         why);
                o->status = 403;
                o->code = "Forbidden";
        }
        return r;
}

/* POST /disks/{id}/release {"target": <attestation token>, "enc"?}: released
 * like the disk's key, and only if the disk's own policy holds too. */
void cp_kbsd_h_disk_release(cp_svc_call *c) {
        cp_kbsd *s = cp_kbsd_of(c);
        const char *id = c->caps[0];
        cp_kbsd_keyrow k = { 0 };
        cp_kbsd_diskrow d = { 0 };
        cp_kbsd_refusal o = { 0 };
        json_t *body = NULL;
        const char *target;
        cp_keywrap_alg alg;
        cp_jwt *t = NULL;
        cp_wrap_key *tee = NULL;
        char *jws = NULL;
        int r;
        if (!cp_kbsd_begin(c, &body))
                return;
        if ((r = cp_kbsd_release_body(body, &target, &alg)) < 0)
                cp_svc_reply_err(c, r);
        else if ((r = cp_kbsd_disk_load(s, id, &d)) < 0 || (r = cp_kbsd_key_load(s, d.key_name, NULL, false, &k)) < 0) {
                cp_kbsd_audit(s, c->who, "disk-release", d.key_name[0] ? d.key_name : NULL, id, "denied",
                              cp_error_message(), NULL);
                cp_svc_reply_err(c, r);
        } else if ((r = cp_kbsd_release_check(s, k.policy, target, &o, &t, &tee)) < 0 ||
                   (r = disk_policy_check(&d, t, &o)) < 0) {
                cp_kbsd_audit(s, c->who, "disk-release", d.key_name, id, cp_kbsd_refusal_decision(&o), o.reason,
                              o.jti[0] ? o.jti : NULL);
                cp_kbsd_reply_refusal(c, &o);
        } else if ((r = disk_release_response(s, id, &k, &d, t, tee, alg, &jws)) < 0) {
                cp_kbsd_audit(s, c->who, "disk-release", d.key_name, id, "error", cp_error_message(), o.jti);
                cp_svc_reply_err(c, r);
        } else {
                cp_kbsd_audit(s, c->who, "disk-release", d.key_name, id, "allowed", d.mode, o.jti);
                cp_svc_reply_json(c, 200, json_pack("{s:s}", "value", jws));
        }
        free(jws);
        json_decref(body);
        cp_jwt_free(t);
        cp_wrap_key_free(tee);
        cp_kbsd_keyrow_clear(&k);
        cp_kbsd_diskrow_clear(&d);
}

/* DELETE /disks/{id}: crypto-erase. */
void cp_kbsd_h_disk_delete(cp_svc_call *c) {
        cp_kbsd *s = cp_kbsd_of(c);
        const char *id = c->caps[0];
        if (!cp_kbsd_name_ok(c))
                return;
        int r = cp_kbsd_disk_erase(s, id);
        if (r <= 0) {
                cp_svc_reply_err(c, r < 0 ? r : CP_ERROR(CP_ENOTFOUND, "disk %s not found", id));
                return;
        }
        cp_kbsd_audit(s, c->who, "disk-crypto-erase", NULL, id, "ok", NULL, NULL);
        c->resp->status = 204;
}
