/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cp_tdx_verify(): the steps of Intel's QVL in order (docs/tdx.md):
 * quote, PCK chain and CRLs, PCK extensions, QE report signature and its
 * binding of the attestation key, quote signature, TCB Signing chain, TCB
 * Info and QE Identity (signature, validity, FMSPC / PCE-ID), TCB level,
 * policy.  Every step refuses with an error naming what failed.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "basic/cleanup.h"
#include "libconfpool/ecfb.h"
#include "libconfpool/tdx-internal.h"
#include "ossl/ossl-util.h"

/* What a verified (PCK chain, CRLs, TCB Signing chain, TCB Info, QE
 * Identity) yields; shared read-only between verifications once cached. */
/* The inputs of the chain and collateral steps, compared byte for byte
 * against a cached entry's copy (no hash: equal bytes, nothing else). */
#define TDX_PARTS 7
typedef struct tdx_parts {
        const uint8_t *p[TDX_PARTS];
        size_t n[TDX_PARTS]; /* SIZE_MAX: absent */
} tdx_parts;

typedef struct tdx_entry {
        uint8_t *blob;                 /* the TDX_PARTS inputs, concatenated */
        size_t n[TDX_PARTS];
        unsigned refs;                 /* under the verifier's lock */
        tdx_tcb_info *ti;
        tdx_qe_identity *qi;
        cp_tdx_pck_ext pck;
        EVP_PKEY *pck_key;
        uint8_t pck_xy[64];            /* the PCK key's point, for the fixed-base table cache */
        bool pck_xy_ok;
        bool revocation_checked;
        int64_t valid_from, valid_until;
        int64_t coll_from, coll_until; /* of the collateral parts alone */
} tdx_entry;

#define TDX_CACHE_SIZE 16
/* Attestation keys seen, as EVP_PKEY objects (building one from the raw
 * point costs about a fifth of an ECDSA verify): a pure function of the 64
 * bytes, so reusing it skips nothing - the quote signature is still
 * verified every time. */
#define TDX_AK_CACHE_SIZE 16
typedef struct tdx_ak {
        uint8_t raw[64];
        EVP_PKEY *key;
} tdx_ak;
struct cp_tdx_verifier {
        pthread_mutex_t lock;
        tdx_entry *entries[TDX_CACHE_SIZE];
        size_t next;
        tdx_ak aks[TDX_AK_CACHE_SIZE];
        size_t ak_next;
        uint64_t coll_hits;
        uint64_t hits, misses;
        cp_ecfb_cache *fb; /* fixed-base tables of repeat PCK and attestation keys (issue 19) */
};

typedef struct tdx_ctx {
        const cp_tdx_collateral *col;
        int64_t now;
        X509 *root;
        X509_CRL *pck_crl, *root_crl;
        STACK_OF(X509) *pck_chain, *sign_chain;
        tdx_tcb_info *ti;       /* large: on the heap */
        tdx_qe_identity *qi;
        EVP_PKEY *pck_key;
        tdx_entry *entry;       /* a cached entry in use: ti, qi, pck_key are its */
        cp_tdx_verifier *v;     /* NULL: nothing cached */
        int64_t coll_from, coll_until; /* validity of the collateral alone */
        cp_tdx_verify_result *r;
} tdx_ctx;

static void entry_free(tdx_entry *e) {
        if (!e)
                return;
        free(e->ti);
        free(e->qi);
        EVP_PKEY_free(e->pck_key);
        free(e->blob);
        free(e);
}

static void ctx_done(tdx_ctx *c) {
        X509_free(c->root);
        X509_CRL_free(c->pck_crl);
        X509_CRL_free(c->root_crl);
        sk_X509_pop_free(c->pck_chain, X509_free);
        sk_X509_pop_free(c->sign_chain, X509_free);
        if (!c->entry) {
                free(c->ti);
                free(c->qi);
                EVP_PKEY_free(c->pck_key);
        }
}

static void narrow(cp_tdx_verify_result *r, int64_t from, int64_t until) {
        if (from > r->valid_from)
                r->valid_from = from;
        if (until < r->valid_until)
                r->valid_until = until;
}

static void narrow_cert(cp_tdx_verify_result *r, X509 *x) {
        int64_t a, b;
        if (cp_ossl_time_to_unix(X509_get0_notBefore(x), &a) >= 0 &&
            cp_ossl_time_to_unix(X509_get0_notAfter(x), &b) >= 0)
                narrow(r, a, b);
        cp_ossl_clear();
}

static void narrow_crl(cp_tdx_verify_result *r, X509_CRL *crl) {
        int64_t a, b;
        if (crl && X509_CRL_get0_nextUpdate(crl) && cp_ossl_time_to_unix(X509_CRL_get0_lastUpdate(crl), &a) >= 0 &&
            cp_ossl_time_to_unix(X509_CRL_get0_nextUpdate(crl), &b) >= 0)
                narrow(r, a, b);
        cp_ossl_clear();
}

static int load_root(tdx_ctx *c, const cp_tdx_verify_options *o) {
        const uint8_t *p = o->trust_root ? o->trust_root : (const uint8_t *) cp_tdx_intel_root_pem();
        size_t n = o->trust_root ? o->trust_root_len : strlen(cp_tdx_intel_root_pem());
        STACK_OF(X509) *sk = NULL;
        int k = tdx_load_certs(p, n, "trusted root", &sk);
        if (k < 0)
                return k;
        c->root = sk_X509_shift(sk);
        sk_X509_pop_free(sk, X509_free);
        return 0;
}

/* PCK chain to the root with both CRLs; the PCK's SGX extensions. */
static int step_pck(tdx_ctx *c, const cp_tdx_quote *q) {
        const cp_tdx_collateral *col = c->col;
        const uint8_t *chain = col->pck_chain ? col->pck_chain : q->cert.pck_chain;
        size_t chain_len = col->pck_chain ? col->pck_chain_len : q->cert.pck_chain_len;
        int k;

        if (col->pck_crl && (k = tdx_load_crl(col->pck_crl, col->pck_crl_len, "PCK CRL", &c->pck_crl)) < 0)
                return k;
        if (col->root_ca_crl && (k = tdx_load_crl(col->root_ca_crl, col->root_ca_crl_len, "Root CA CRL", &c->root_crl)) < 0)
                return k;
        if ((k = tdx_load_certs(chain, chain_len, "PCK chain", &c->pck_chain)) < 0 ||
            (k = tdx_verify_chain(c->pck_chain, c->root, c->pck_crl, c->root_crl, c->now, "PCK chain")) < 0)
                return k;
        c->r->revocation_checked = c->pck_crl && c->root_crl;
        X509 *leaf = tdx_chain_leaf(c->pck_chain); /* the one tdx_verify_chain() verified */
        for (int i = 0; i < sk_X509_num(c->pck_chain); i++)
                narrow_cert(c->r, sk_X509_value(c->pck_chain, i));
        narrow_cert(c->r, c->root);
        narrow_crl(c->r, c->pck_crl);
        narrow_crl(c->r, c->root_crl);
        if (!(c->pck_key = X509_get_pubkey(leaf)))
                return CP_OSSL_ERROR(CP_ECERT, "PCK certificate public key unreadable");
        return tdx_pck_ext_from_cert(leaf, &c->r->pck);
}

/* The attestation key as an EVP_PKEY (a reference): from the verifier's
 * cache when these 64 bytes were seen, else built (checking the point is on
 * the curve) and cached. */
static int ak_key(cp_tdx_verifier *v, const uint8_t raw[64], EVP_PKEY **ret) {
        EVP_PKEY *old = NULL;
        int k;
        if (v) {
                pthread_mutex_lock(&v->lock);
                for (size_t i = 0; i < TDX_AK_CACHE_SIZE; i++)
                        if (v->aks[i].key && memcmp(v->aks[i].raw, raw, 64) == 0 && EVP_PKEY_up_ref(v->aks[i].key)) {
                                *ret = v->aks[i].key;
                                pthread_mutex_unlock(&v->lock);
                                return 0;
                        }
                pthread_mutex_unlock(&v->lock);
        }
        if ((k = tdx_p256_key(raw, ret)) < 0 || !v)
                return k;
        if (!EVP_PKEY_up_ref(*ret))
                return 0; /* not cached */
        pthread_mutex_lock(&v->lock);
        tdx_ak *slot = &v->aks[v->ak_next];
        old = slot->key;
        memcpy(slot->raw, raw, 64);
        slot->key = *ret;
        v->ak_next = (v->ak_next + 1) % TDX_AK_CACHE_SIZE;
        pthread_mutex_unlock(&v->lock);
        EVP_PKEY_free(old);
        return 0;
}

/* A P-256 signature by the key whose point is xy: with the verifier's
 * fixed-base table for xy when it has one (a key seen before, docs/verifier.md),
 * else NULL (the caller verifies with OpenSSL). */
static int p256_verify_table(cp_tdx_verifier *v, const uint8_t *xy, const uint8_t *data, size_t len,
                             const uint8_t sig[64], const char *what, bool *done) {
        *done = false;
        if (!v || !xy)
                return 0;
        cp_ecfb_table *t = cp_ecfb_cache_get(v->fb, CP_ECFB_P256, xy);
        if (!t)
                return 0;
        *done = true;
        uint8_t h[SHA256_DIGEST_LENGTH];
        int k = SHA256(data, len, h) ? cp_ecfb_verify(t, h, sizeof(h), sig, sig + 32) : CP_ECRYPTO;
        cp_ecfb_table_unref(t);
        if (k == CP_ECRYPTO)
                return CP_OSSL_ERROR(CP_ECRYPTO, "SHA-256 failed");
        if (k == CP_ESIG)
                return CP_ERROR(CP_ESIG, "%s does not verify", what);
        return k;
}

/* QE report signed by the PCK key and binding the attestation key; the
 * quote signed by the attestation key. */
static int step_signatures(tdx_ctx *c, const cp_tdx_quote *q) {
        const cp_tdx_cert_data *cd = &q->cert;
        uint8_t h[SHA256_DIGEST_LENGTH];
        int k;

        if (!cd->has_qe_report)
                return CP_ERROR(CP_EBINDING, "quote has no QE report (certification data type 5): nothing binds the "
                                             "attestation key to the PCK");
        static const char pck_what[] = "QE report signature (PCK key)";
        bool done;
        const uint8_t *pck_xy = c->entry && c->entry->pck_xy_ok ? c->entry->pck_xy : NULL;
        if ((k = p256_verify_table(c->v, pck_xy, cd->qe_report_raw, CP_TDX_SGX_REPORT_SIZE, cd->qe_report_sig,
                                   pck_what, &done)) < 0 ||
            (!done && (k = tdx_p256_verify(c->pck_key, cd->qe_report_raw, CP_TDX_SGX_REPORT_SIZE, cd->qe_report_sig,
                                           pck_what)) < 0))
                return k;
        _cleanup_evp_md_ctx_ EVP_MD_CTX *md = EVP_MD_CTX_new();
        if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 || EVP_DigestUpdate(md, q->attest_key, 64) != 1 ||
            EVP_DigestUpdate(md, cd->qe_auth_data, cd->qe_auth_data_len) != 1 || EVP_DigestFinal_ex(md, h, NULL) != 1)
                return CP_OSSL_ERROR(CP_ECRYPTO, "SHA-256 failed");
        static const uint8_t zero[32];
        if (memcmp(h, cd->qe_report.report_data, 32) != 0 || memcmp(cd->qe_report.report_data + 32, zero, 32) != 0)
                return CP_ERROR(CP_EBINDING, "QE REPORT_DATA is not SHA-256(attestation key || QE auth data) || zeros");
        static const char ak_what[] = "quote signature (attestation key)";
        if ((k = p256_verify_table(c->v, q->attest_key, q->signed_data, q->signed_len, q->signature, ak_what,
                                   &done)) < 0 ||
            done)
                return k;
        _cleanup_evp_pkey_ EVP_PKEY *ak = NULL;
        if ((k = ak_key(c->v, q->attest_key, &ak)) < 0)
                return k;
        return tdx_p256_verify(ak, q->signed_data, q->signed_len, q->signature, ak_what);
}

static int check_window(int64_t now, int64_t from, int64_t until, const char *what) {
        char a[32], b[32], n[32];
        if (now >= from && now <= until)
                return 0;
        cp_unix_to_iso(from, a, sizeof(a));
        cp_unix_to_iso(until, b, sizeof(b));
        cp_unix_to_iso(now, n, sizeof(n));
        return CP_ERROR(CP_EEXPIRED, "%s is valid %s..%s, not at %s", what, a, b, n);
}

/* One signed collateral document: signature by the TCB Signing key. */
static int signed_doc(tdx_ctx *c, const uint8_t *doc, size_t len, const char *member, const char *what,
                      const uint8_t **ret_body, size_t *ret_len) {
        uint8_t sig[64];
        int k;
        if (!doc)
                return CP_ERROR(CP_ENOTFOUND, "no %s given: it is needed to grade the TCB", what);
        if ((k = tdx_signed_json_split(doc, len, member, ret_body, ret_len, sig)) < 0) {
                char msg[CP_ERROR_MESSAGE_MAX];
                snprintf(msg, sizeof(msg), "%s", cp_error_last()->message);
                return CP_ERROR(k, "%s: %s", what, msg);
        }
        EVP_PKEY *key = X509_get0_pubkey(tdx_chain_leaf(c->sign_chain)); /* verified in step_collateral */
        if (!key)
                return CP_OSSL_ERROR(CP_ECERT, "TCB Signing certificate public key unreadable");
        return tdx_p256_verify(key, *ret_body, *ret_len, sig, what);
}

static int step_collateral(tdx_ctx *c) {
        const cp_tdx_collateral *col = c->col;
        const uint8_t *body;
        size_t len;
        int k;
        if (!col->tcb_signing_chain)
                return CP_ERROR(CP_ENOTFOUND, "no TCB Signing certificate given (it signs TCB Info and QE Identity)");
        if ((k = tdx_load_certs(col->tcb_signing_chain, col->tcb_signing_chain_len, "TCB Signing chain",
                                &c->sign_chain)) < 0 ||
            (k = tdx_verify_chain(c->sign_chain, c->root, NULL, c->root_crl, c->now, "TCB Signing chain")) < 0)
                return k;
        for (int i = 0; i < sk_X509_num(c->sign_chain); i++)
                narrow_cert(c->r, sk_X509_value(c->sign_chain, i));
        if ((k = signed_doc(c, col->tcb_info, col->tcb_info_len, "tcbInfo", "TCB Info", &body, &len)) < 0 ||
            (k = tdx_tcb_info_parse(body, len, c->ti)) < 0 ||
            (k = check_window(c->now, c->ti->issue_date, c->ti->next_update, "TCB Info")) < 0)
                return k;
        narrow(c->r, c->ti->issue_date, c->ti->next_update);
        if ((k = signed_doc(c, col->qe_identity, col->qe_identity_len, "enclaveIdentity", "QE Identity", &body, &len)) < 0 ||
            (k = tdx_qe_identity_parse(body, len, c->qi)) < 0 ||
            (k = check_window(c->now, c->qi->issue_date, c->qi->next_update, "QE Identity")) < 0)
                return k;
        narrow(c->r, c->qi->issue_date, c->qi->next_update);
        return 0;
}

/* The TCB Info is the one of the PCK certificate's platform. */
static int check_fmspc(tdx_ctx *c) {
        if (memcmp(c->ti->fmspc, c->r->pck.fmspc, 6) != 0)
                return CP_ERROR(CP_ETCB, "TCB Info FMSPC %02X%02X%02X%02X%02X%02X is not the PCK certificate's "
                                         "%02x%02x%02x%02x%02x%02x",
                                c->ti->fmspc[0], c->ti->fmspc[1], c->ti->fmspc[2], c->ti->fmspc[3], c->ti->fmspc[4],
                                c->ti->fmspc[5], c->r->pck.fmspc[0], c->r->pck.fmspc[1], c->r->pck.fmspc[2],
                                c->r->pck.fmspc[3], c->r->pck.fmspc[4], c->r->pck.fmspc[5]);
        if (memcmp(c->ti->pceid, c->r->pck.pceid, 2) != 0)
                return CP_ERROR(CP_ETCB, "TCB Info PCE-ID differs from the PCK certificate's");
        return 0;
}

/* step_collateral, with the validity window of the collateral alone (TCB
 * Signing chain, root and its CRL, TCB Info, QE Identity) kept in c->coll_*
 * for reuse under another PCK chain. */
static int step_collateral_window(tdx_ctx *c) {
        int64_t from = c->r->valid_from, until = c->r->valid_until;
        c->r->valid_from = INT64_MIN;
        c->r->valid_until = INT64_MAX;
        narrow_cert(c->r, c->root);
        narrow_crl(c->r, c->root_crl);
        int k = step_collateral(c);
        c->coll_from = c->r->valid_from;
        c->coll_until = c->r->valid_until;
        c->r->valid_from = from;
        c->r->valid_until = until;
        narrow(c->r, c->coll_from, c->coll_until);
        return k;
}

/* ---- the cache of verified chains and collateral */
static void cache_parts(const tdx_ctx *c, const cp_tdx_quote *q, const cp_tdx_verify_options *o, tdx_parts *t) {
        const cp_tdx_collateral *col = c->col;
        const uint8_t *p[TDX_PARTS] = { o->trust_root,
                                        col->pck_chain ? col->pck_chain : q->cert.pck_chain,
                                        col->pck_crl,
                                        col->root_ca_crl,
                                        col->tcb_signing_chain,
                                        col->tcb_info,
                                        col->qe_identity };
        size_t n[TDX_PARTS] = { o->trust_root_len,
                                col->pck_chain ? col->pck_chain_len : q->cert.pck_chain_len,
                                col->pck_crl_len,
                                col->root_ca_crl_len,
                                col->tcb_signing_chain_len,
                                col->tcb_info_len,
                                col->qe_identity_len };
        for (size_t i = 0; i < TDX_PARTS; i++) {
                t->p[i] = p[i];
                t->n[i] = p[i] ? n[i] : SIZE_MAX;
        }
}

/* Every input byte-equal to the entry's copy (lengths first: cheap). */
static bool entry_matches(const tdx_entry *e, const tdx_parts *t) {
        size_t off = 0;
        for (size_t i = 0; i < TDX_PARTS; i++)
                if (e->n[i] != t->n[i])
                        return false;
        for (size_t i = 0; i < TDX_PARTS; i++) {
                if (t->n[i] == SIZE_MAX)
                        continue;
                if (t->n[i] && memcmp(e->blob + off, t->p[i], t->n[i]) != 0)
                        return false;
                off += t->n[i];
        }
        return true;
}

/* The parts that are the collateral alone (not the PCK chain and its CRL). */
static bool is_coll_part(size_t i) {
        return i != 1 && i != 2;
}

static bool entry_coll_matches(const tdx_entry *e, const tdx_parts *t) {
        size_t off = 0;
        for (size_t i = 0; i < TDX_PARTS; i++)
                if (is_coll_part(i) && e->n[i] != t->n[i])
                        return false;
        for (size_t i = 0; i < TDX_PARTS; i++) {
                if (e->n[i] == SIZE_MAX)
                        continue;
                if (is_coll_part(i) && e->n[i] && memcmp(e->blob + off, t->p[i], e->n[i]) != 0)
                        return false;
                off += e->n[i];
        }
        return true;
}

/* Warm collateral: an entry (of another PCK chain) with these very
 * collateral bytes, valid now: its parsed TCB Info and QE Identity are
 * copied into c (verified against the same root and root CRL). */
static bool coll_get(cp_tdx_verifier *v, const tdx_parts *t, tdx_ctx *c) {
        bool hit = false;
        pthread_mutex_lock(&v->lock);
        for (size_t i = 0; i < TDX_CACHE_SIZE && !hit; i++) {
                const tdx_entry *e = v->entries[i];
                if (e && c->now >= e->coll_from && c->now <= e->coll_until && entry_coll_matches(e, t)) {
                        memcpy(c->ti, e->ti, sizeof(*c->ti));
                        memcpy(c->qi, e->qi, sizeof(*c->qi));
                        c->coll_from = e->coll_from;
                        c->coll_until = e->coll_until;
                        hit = true;
                }
        }
        if (hit)
                v->coll_hits++;
        pthread_mutex_unlock(&v->lock);
        if (hit)
                narrow(c->r, c->coll_from, c->coll_until);
        return hit;
}

/* A cached entry for these inputs whose validity window holds now: taken
 * (a reference) into c. */
static bool cache_get(cp_tdx_verifier *v, const tdx_parts *t, tdx_ctx *c) {
        tdx_entry *e = NULL;
        pthread_mutex_lock(&v->lock);
        for (size_t i = 0; i < TDX_CACHE_SIZE && !e; i++)
                if (v->entries[i] && c->now >= v->entries[i]->valid_from && c->now <= v->entries[i]->valid_until &&
                    entry_matches(v->entries[i], t))
                        e = v->entries[i];
        if (e)
                e->refs++;
        e ? v->hits++ : v->misses++;
        pthread_mutex_unlock(&v->lock);
        if (!e)
                return false;
        c->entry = e;
        c->ti = e->ti;
        c->qi = e->qi;
        c->pck_key = e->pck_key;
        c->r->pck = e->pck;
        c->r->revocation_checked = e->revocation_checked;
        c->r->valid_from = e->valid_from;
        c->r->valid_until = e->valid_until;
        return true;
}

static void cache_release(cp_tdx_verifier *v, tdx_entry *e) {
        bool last;
        if (!e)
                return;
        pthread_mutex_lock(&v->lock);
        last = --e->refs == 0;
        pthread_mutex_unlock(&v->lock);
        if (last)
                entry_free(e);
}

/* The PCK key's affine point x || y, if it is an uncompressed P-256 key
 * (otherwise the OpenSSL path gives the verdict). */
static bool pck_point(EVP_PKEY *key, uint8_t xy[64]) {
        char group[32] = "";
        uint8_t pt[65];
        size_t n = 0;
        bool ok = key && EVP_PKEY_is_a(key, "EC") &&
                  EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL) &&
                  !strcmp(group, "prime256v1") &&
                  EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt), &n) && n == 65 &&
                  pt[0] == 0x04;
        cp_ossl_clear();
        if (ok)
                memcpy(xy, pt + 1, 64);
        return ok;
}

/* The fresh result of the chain steps moves into a new entry. */
static void cache_put(cp_tdx_verifier *v, const tdx_parts *t, tdx_ctx *c) {
        tdx_entry *e = calloc(1, sizeof(*e)), *old;
        size_t total = 0, off = 0;
        for (size_t i = 0; i < TDX_PARTS; i++)
                total += t->n[i] == SIZE_MAX ? 0 : t->n[i];
        if (!e || !(e->blob = malloc(total ? total : 1))) {
                free(e);
                return; /* not cached; c keeps its own */
        }
        for (size_t i = 0; i < TDX_PARTS; i++) {
                e->n[i] = t->n[i];
                if (t->n[i] != SIZE_MAX && t->n[i]) {
                        memcpy(e->blob + off, t->p[i], t->n[i]);
                        off += t->n[i];
                }
        }
        e->refs = 2; /* the cache's and c's */
        e->ti = c->ti;
        e->qi = c->qi;
        e->pck_key = c->pck_key;
        e->pck_xy_ok = pck_point(c->pck_key, e->pck_xy);
        e->pck = c->r->pck;
        e->revocation_checked = c->r->revocation_checked;
        e->valid_from = c->r->valid_from;
        e->valid_until = c->r->valid_until;
        e->coll_from = c->coll_from;
        e->coll_until = c->coll_until;
        c->entry = e;
        pthread_mutex_lock(&v->lock);
        old = v->entries[v->next];
        v->entries[v->next] = e;
        v->next = (v->next + 1) % TDX_CACHE_SIZE;
        bool last = old && --old->refs == 0;
        pthread_mutex_unlock(&v->lock);
        if (last)
                entry_free(old);
}

/* PCK chain and collateral: from the cache, or verified (and cached). */
static int step_chains(tdx_ctx *c, cp_tdx_verifier *v, const cp_tdx_quote *q, const cp_tdx_verify_options *o) {
        tdx_parts t;
        int k;
        if (v) {
                cache_parts(c, q, o, &t);
                if (cache_get(v, &t, c))
                        return 0;
        }
        c->ti = calloc(1, sizeof(*c->ti)); /* large: only when not cached */
        c->qi = calloc(1, sizeof(*c->qi));
        if (!c->ti || !c->qi)
                return CP_ERROR(CP_ENOMEM, "out of memory");
        if ((k = load_root(c, o)) < 0 || (k = step_pck(c, q)) < 0)
                return k;
        if (!(v && coll_get(v, &t, c)) && (k = step_collateral_window(c)) < 0)
                return k;
        if ((k = check_fmspc(c)) < 0)
                return k;
        if (v)
                cache_put(v, &t, c);
        return 0;
}

static int verify_steps(tdx_ctx *c, cp_tdx_verifier *v, const uint8_t *quote, size_t quote_len,
                        const cp_tdx_verify_options *o) {
        cp_tdx_verify_result *r = c->r;
        int k;
        if ((k = cp_tdx_quote_parse(quote, quote_len, o->parse_flags, &r->quote)) < 0)
                return k;
        if (memcmp(r->quote.qe_vendor_id, cp_tdx_intel_qe_vendor_id, 16) != 0)
                return CP_ERROR(CP_EFORMAT, "QE vendor ID is not Intel's");
        if ((k = step_chains(c, v, &r->quote, o)) < 0 || (k = step_signatures(c, &r->quote)) < 0 ||
            (k = tdx_tcb_evaluate(c->ti, c->qi, &r->quote, &r->pck, r)) < 0)
                return k;
        if (r->tcb_status == CP_TDX_TCB_REVOKED)
                return CP_ERROR(CP_EREVOKED, "TCB status is Revoked (platform %s, TDX module %s, QE %s)",
                                cp_tdx_tcb_status_name(r->platform_status), cp_tdx_tcb_status_name(r->module_status),
                                cp_tdx_tcb_status_name(r->qe_status));
        if (o->policy) {
                if ((k = cp_tdx_policy_check(o->policy, r)) < 0)
                        return k;
                r->policy_checked = true;
        }
        return 0;
}

int cp_tdx_verifier_new(cp_tdx_verifier **ret) {
        cp_tdx_verifier *v = calloc(1, sizeof(*v));
        if (!v)
                return CP_ERROR(CP_ENOMEM, "out of memory");
        int k = cp_ecfb_cache_new(CP_ECFB_CACHE_DEFAULT_CAPACITY, CP_ECFB_CACHE_DEFAULT_BUILD_AFTER, &v->fb);
        if (k < 0) {
                free(v);
                return k;
        }
        pthread_mutex_init(&v->lock, NULL);
        *ret = v;
        return 0;
}

void cp_tdx_verifier_ecfb_stats(cp_tdx_verifier *v, cp_ecfb_stats *ret) {
        cp_ecfb_cache_stats(v ? v->fb : NULL, ret);
}

cp_tdx_verifier *cp_tdx_verifier_free(cp_tdx_verifier *v) {
        if (!v)
                return NULL;
        for (size_t i = 0; i < TDX_CACHE_SIZE; i++)
                entry_free(v->entries[i]); /* no verification may be running */
        for (size_t i = 0; i < TDX_AK_CACHE_SIZE; i++)
                EVP_PKEY_free(v->aks[i].key);
        cp_ecfb_cache_free(v->fb);
        pthread_mutex_destroy(&v->lock);
        free(v);
        return NULL;
}

uint64_t tdx_verifier_coll_hits(cp_tdx_verifier *v) {
        pthread_mutex_lock(&v->lock);
        uint64_t n = v->coll_hits;
        pthread_mutex_unlock(&v->lock);
        return n;
}

void cp_tdx_verifier_stats(cp_tdx_verifier *v, uint64_t *hits, uint64_t *misses) {
        pthread_mutex_lock(&v->lock);
        *hits = v->hits;
        *misses = v->misses;
        pthread_mutex_unlock(&v->lock);
}

int cp_tdx_verifier_verify(cp_tdx_verifier *v, const uint8_t *quote, size_t quote_len, const cp_tdx_collateral *col,
                           const cp_tdx_verify_options *opts, cp_tdx_verify_result *ret) {
        static const cp_tdx_collateral none;
        cp_tdx_verify_options o = CP_TDX_VERIFY_OPTIONS_INIT;
        if (!quote || !ret)
                return CP_ERROR(CP_EINVAL, "cp_tdx_verify: NULL quote or result");
        if (opts) {
                if (opts->version != CP_TDX_VERIFY_OPTIONS_VERSION)
                        return CP_ERROR(CP_EINVAL, "cp_tdx_verify: options version %u is not %u", opts->version,
                                        CP_TDX_VERIFY_OPTIONS_VERSION);
                o = *opts;
        }
        memset(ret, 0, sizeof(*ret));
        ret->valid_from = INT64_MIN;
        ret->valid_until = INT64_MAX;
        tdx_ctx c = { .col = col ? col : &none, .now = o.now ? o.now : (int64_t) time(NULL), .r = ret, .v = v };
        int k = verify_steps(&c, v, quote, quote_len, &o);
        ctx_done(&c);
        if (v)
                cache_release(v, c.entry);
        return k;
}

int cp_tdx_verify(const uint8_t *quote, size_t quote_len, const cp_tdx_collateral *col,
                  const cp_tdx_verify_options *opts, cp_tdx_verify_result *ret) {
        return cp_tdx_verifier_verify(NULL, quote, quote_len, col, opts, ret);
}
