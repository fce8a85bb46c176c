/* SPDX-License-Identifier: Apache-2.0 */
/*
 * KDS-format CRLs (https://kdsintf.amd.com/{vcek,vlek}/v1/<Product>/crl):
 * X.509 v2 CRLs in DER, signed by the product's ARK with RSASSA-PSS SHA-384,
 * listing revoked certificate serials.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "basic/cleanup.h"
#include "basic/limits.h"
#include "basic/secure.h"
#include "confpool/snp_cert.h"
#include "ossl/ossl-util.h"
#include "libconfpool/snp_cert-internal.h"

struct cp_amd_crl {
        X509_CRL *crl;
        int64_t this_update, next_update;
        bool inner_alg_matches; /* TBSCertList.signature == signatureAlgorithm */
        /* Signature verdict cache: the CRL verified under the ARK with this
         * DER hash (a pure function of the two encodings). */
        pthread_mutex_t lock;
        bool verified;
        uint8_t verified_ark[32];
};

#define CRL_MAX_EXTENSIONS 16

/* Only non-critical extensions are understood (AMD's CRLs carry the
 * authority key identifier and CRL number); a critical one (e.g. a delta-CRL
 * indicator or an issuing distribution point) is refused. */
static int check_crl_extensions(const STACK_OF(X509_EXTENSION) *exts, const char *where) {
        int n = sk_X509_EXTENSION_num(exts);
        if (n > CRL_MAX_EXTENSIONS)
                return CP_ERROR(CP_EFORMAT, "%s: too many extensions (%d)", where, n);
        for (int i = 0; i < n; i++) {
                X509_EXTENSION *e = sk_X509_EXTENSION_value(exts, i);
                if (X509_EXTENSION_get_critical(e)) {
                        char oid[96];
                        if (OBJ_obj2txt(oid, sizeof(oid), X509_EXTENSION_get_object(e), 1) <= 0)
                                snprintf(oid, sizeof(oid), "?");
                        return CP_ERROR(CP_EFORMAT, "%s: unsupported critical extension %s", where, oid);
                }
        }
        return 0;
}

cp_amd_crl *cp_amd_crl_free(cp_amd_crl *c) {
        if (!c)
                return NULL;
        X509_CRL_free(c->crl);
        pthread_mutex_destroy(&c->lock);
        free(c);
        return NULL;
}
CP_DEFINE_FREEP(cp_amd_crl, cp_amd_crl_free)

/* OpenSSL 3.0 has no accessor for TBSCertList.signature, so compare the
 * encoded AlgorithmIdentifier in the DER with the outer one. */
static int inner_sigalg_matches(const uint8_t *der, size_t len, const X509_CRL *crl, bool *ret) {
        cp_cursor c = cp_cursor_make(der, len);
        const X509_ALGOR *outer = NULL;
        _cleanup_free_ unsigned char *enc = NULL;
        const uint8_t *p;
        size_t body, start;
        uint8_t tag;
        int r;

        X509_CRL_get0_signature(crl, NULL, &outer);
        int n = i2d_X509_ALGOR(outer, &enc);
        if (n <= 0)
                return CP_OSSL_ERROR(CP_EFORMAT, "cannot encode the CRL signature algorithm");
        r = cp_amd_der_header(&c, &tag, &body); /* CertificateList */
        if (r < 0)
                return r;
        r = cp_amd_der_header(&c, &tag, &body); /* TBSCertList */
        if (r < 0)
                return r;
        start = cp_cursor_offset(&c);
        r = cp_amd_der_header(&c, &tag, &body);
        if (r < 0)
                return r;
        if (tag == 0x02) { /* version */
                r = cp_cursor_skip(&c, body);
                if (r < 0)
                        return r;
                start = cp_cursor_offset(&c);
                r = cp_amd_der_header(&c, &tag, &body);
                if (r < 0)
                        return r;
        }
        size_t total = cp_cursor_offset(&c) - start + body;
        cp_cursor_rewind(&c, start);
        r = cp_cursor_ptr(&c, total, &p);
        if (r < 0)
                return r;
        *ret = tag == 0x30 && total == (size_t) n && memcmp(p, enc, total) == 0;
        return 0;
}

static int crl_from_der(const uint8_t *der, size_t len, cp_amd_crl **ret) {
        _cleanup_(cp_amd_crl_freep) cp_amd_crl *c = NULL;
        size_t total;
        int r;

        r = cp_amd_der_outer(der, len, &total);
        if (r < 0)
                return r;
        if (total != len)
                return CP_ERROR(CP_ETRAILING, "%zu bytes after the CRL", len - total);
        c = calloc(1, sizeof(*c));
        if (!c)
                return cp_error_oom();
        if (pthread_mutex_init(&c->lock, NULL) != 0) {
                free(TAKE_PTR(c));
                return CP_ERROR(CP_EINTERNAL, "pthread_mutex_init failed");
        }
        const unsigned char *p = der;
        c->crl = d2i_X509_CRL(NULL, &p, (long) len);
        if (!c->crl)
                return CP_OSSL_ERROR(CP_EFORMAT, "malformed X.509 CRL");
        if (p != der + len) {
                cp_ossl_clear();
                return CP_ERROR(CP_ETRAILING, "trailing bytes inside the CRL encoding");
        }
        r = inner_sigalg_matches(der, len, c->crl, &c->inner_alg_matches);
        if (r < 0)
                return r;
        if (X509_CRL_get_version(c->crl) != X509_CRL_VERSION_2)
                return CP_ERROR(CP_EVERSION, "CRL version field %ld, expected v2 (1)", X509_CRL_get_version(c->crl));
        r = cp_ossl_time_to_unix(X509_CRL_get0_lastUpdate(c->crl), &c->this_update);
        if (r < 0)
                return cp_error_wrap("CRL thisUpdate");
        if (!X509_CRL_get0_nextUpdate(c->crl))
                return CP_ERROR(CP_EFORMAT, "CRL has no nextUpdate");
        r = cp_ossl_time_to_unix(X509_CRL_get0_nextUpdate(c->crl), &c->next_update);
        if (r < 0)
                return cp_error_wrap("CRL nextUpdate");
        if (c->next_update <= c->this_update)
                return CP_ERROR(CP_EFORMAT, "CRL nextUpdate is not after thisUpdate");
        r = check_crl_extensions(X509_CRL_get0_extensions(c->crl), "CRL");
        if (r < 0)
                return r;
        STACK_OF(X509_REVOKED) *revoked = X509_CRL_get_REVOKED(c->crl);
        for (int i = 0; i < sk_X509_REVOKED_num(revoked); i++) {
                r = check_crl_extensions(X509_REVOKED_get0_extensions(sk_X509_REVOKED_value(revoked, i)),
                                         "CRL entry");
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(c);
        return 0;
}

int cp_amd_crl_load(const uint8_t *buf, size_t len, cp_amd_crl **ret) {
        if (!ret || (!buf && len))
                return CP_ERROR(CP_EINVAL, "invalid arguments");
        if (len == 0)
                return CP_ERROR(CP_EFORMAT, "empty CRL input");
        if (len > CP_MAX_CRL_DER)
                return CP_ERROR(CP_ETOOBIG, "CRL of %zu bytes exceeds %u", len, CP_MAX_CRL_DER);
        if (!cp_amd_looks_like_pem(buf, len))
                return crl_from_der(buf, len, ret);

        _cleanup_free_ uint8_t *der = NULL;
        size_t der_len = 0, off = 0;
        int r = cp_amd_pem_next(buf, len, &off, "X509 CRL", CP_MAX_CRL_DER, &der, &der_len);
        if (r < 0)
                return r;
        for (size_t i = off; i < len; i++) {
                uint8_t ch = buf[i];
                if (ch != ' ' && ch != '\t' && ch != '\r' && ch != '\n')
                        return CP_ERROR(CP_ETRAILING, "data after the PEM CRL");
        }
        return crl_from_der(der, der_len, ret);
}

static bool crl_cached(cp_amd_crl *crl, const cp_amd_cert *ark) {
        bool hit = false;
        if (pthread_mutex_lock(&crl->lock) != 0)
                return false;
        hit = crl->verified && cp_ct_eq(crl->verified_ark, ark->info.sha256, 32);
        pthread_mutex_unlock(&crl->lock);
        return hit;
}

static void crl_cache(cp_amd_crl *crl, const cp_amd_cert *ark) {
        if (pthread_mutex_lock(&crl->lock) != 0)
                return;
        memcpy(crl->verified_ark, ark->info.sha256, 32);
        crl->verified = true;
        pthread_mutex_unlock(&crl->lock);
}

int cp_amd_crl_check(const cp_amd_crl *crl, const cp_amd_cert *ark, const cp_amd_cert *cert, int64_t now) {
        cp_amd_crl *mcrl = (cp_amd_crl *) crl; /* only the verdict cache is written */
        int r;

        if (!crl || !ark || !cert)
                return CP_ERROR(CP_EINVAL, "invalid arguments");
        if (ark->info.kind != CP_AMD_CERT_ARK)
                return CP_ERROR(CP_EINVAL, "CRL signer must be an ARK, got %s", cp_amd_cert_kind_name(ark->info.kind));
        if (cert->info.generation != ark->info.generation)
                return CP_ERROR(CP_ECERT, "certificate is for %s but the CRL's ARK is for %s",
                                cp_amd_product_str(cert->info.generation) ?: "?",
                                cp_amd_product_str(ark->info.generation) ?: "?");

        if (!crl_cached(mcrl, ark)) {
                const X509_ALGOR *outer = NULL;
                X509_CRL_get0_signature(crl->crl, NULL, &outer);
                if (!cp_amd_sigalg_is_pss384(outer) || !crl->inner_alg_matches)
                        return CP_ERROR(CP_ECERT, "CRL signature algorithm is not RSASSA-PSS with SHA-384, "
                                                  "MGF1-SHA-384, salt 48");
                if (X509_NAME_cmp(X509_CRL_get_issuer(crl->crl), X509_get_subject_name(ark->x509)) != 0)
                        return CP_ERROR(CP_ECERT, "CRL issuer is not ARK-%s", cp_amd_product_str(ark->info.generation));
                uint32_t ku = X509_get_key_usage(ark->x509);
                if (ku != UINT32_MAX && !(ku & KU_CRL_SIGN))
                        return CP_ERROR(CP_ECERT, "ARK keyUsage lacks cRLSign");
                EVP_PKEY *key = X509_get0_pubkey(ark->x509);
                if (!key)
                        return CP_OSSL_ERROR(CP_ECERT, "ARK has no usable public key");
                if (X509_CRL_verify(crl->crl, key) != 1)
                        return CP_OSSL_ERROR(CP_ESIG, "CRL signature does not verify with ARK-%s",
                                             cp_amd_product_str(ark->info.generation));
                cp_ossl_clear();
                crl_cache(mcrl, ark);
        }

        if (now < crl->this_update || now >= crl->next_update) {
                char tn[32], tb[32], ta[32];
                cp_unix_to_iso(now, tn, sizeof(tn));
                cp_unix_to_iso(crl->this_update, tb, sizeof(tb));
                cp_unix_to_iso(crl->next_update, ta, sizeof(ta));
                return CP_ERROR(CP_EEXPIRED, "CRL is %s at %s: thisUpdate %s, nextUpdate %s",
                                now < crl->this_update ? "not yet valid" : "stale", tn, tb, ta);
        }

        X509_REVOKED *rev = NULL;
        r = X509_CRL_get0_by_serial(crl->crl, &rev, X509_get0_serialNumber(cert->x509));
        if (r == 1) {
                char hex[41];
                size_t off = sizeof(cert->info.serial) - cert->info.serial_len;
                for (size_t i = 0; i < cert->info.serial_len; i++)
                        snprintf(hex + 2 * i, 3, "%02x", cert->info.serial[off + i]);
                return CP_ERROR(CP_EREVOKED, "%s-%s serial 0x%s is revoked", cp_amd_cert_kind_name(cert->info.kind),
                                cp_amd_product_str(cert->info.generation) ?: "?", hex);
        }
        cp_ossl_clear();
        return 0;
}
