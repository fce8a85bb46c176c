/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The software TDX's emulated Intel (tdx_emu.h): its own SGX Root CA, PCK
 * Platform CA and TCB Signing certificate with Intel's profile (ECDSA
 * P-256, ecdsa-with-SHA256, Intel's subject names), PCK certificates with
 * the SGX extensions (OID 1.2.840.113741.1.13.1), CRLs, and the TCB Info /
 * QE Identity documents as Intel's PCS API v4 returns them.  Never a
 * production root: nothing it signs chains to Intel's pinned root.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/cursor.h"
#include "basic/fileio.h"
#include "basic/secure.h"
#include "emu/tdx-emu-internal.h"
#include "ossl/ossl-util.h"
#include "service/service.h"

#define DAY 86400
#define MAX_REVOKED 64
#define COLLATERAL_DAYS 30

struct cp_tdx_pcs {
        pthread_mutex_t lock;
        int64_t created;
        EVP_PKEY *root_key, *pca_key, *sign_key;
        X509 *root, *pca, *sign;
        uint8_t fmspc[6];
        uint8_t fmspcs[CP_TDX_PCS_MAX_FMSPCS][6]; /* other platforms' (cp_tdx_pcs_add_fmspc) */
        size_t n_fmspcs;
        cp_tdx_tcb default_tcb;
        uint16_t qe_isvsvn;
        uint8_t qe_mrsigner[32];
        size_t n_levels;
        cp_tdx_pcs_level levels[CP_TDX_PCS_MAX_LEVELS];
        unsigned eval;
        size_t n_revoked;
        uint8_t revoked[MAX_REVOKED][20];
        size_t revoked_len[MAX_REVOKED];
        X509 *pck;                    /* the registered platform's, for the pckcert route */
        char dir[1024];               /* cp_tdx_pcs_open: state written here after every change */
        cp_tdx_pck_ext pck_ext;
        struct cp_svc *svc;
};

static void pcs_json_decrefp(json_t **p) {
        json_decref(*p);
}
static void freep_str(char **p) {
        free(*p);
}

/* ---- keys and signatures */

int tdx_emu_p256_keygen(EVP_PKEY **ret) {
        EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        if (!k)
                return CP_OSSL_ERROR(CP_ECRYPTO, "P-256 key generation failed");
        *ret = k;
        return 0;
}

int tdx_emu_sign(EVP_PKEY *key, const uint8_t *data, size_t len, uint8_t sig[64]) {
        _cleanup_evp_md_ctx_ EVP_MD_CTX *md = EVP_MD_CTX_new();
        uint8_t der[80];
        size_t dl = sizeof(der);
        if (!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
            EVP_DigestSign(md, der, &dl, data, len) != 1)
                return CP_OSSL_ERROR(CP_ECRYPTO, "ECDSA P-256 signing failed");
        const unsigned char *p = der;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long) dl);
        const BIGNUM *r, *s;
        if (!es)
                return CP_OSSL_ERROR(CP_ECRYPTO, "ECDSA signature decoding failed");
        ECDSA_SIG_get0(es, &r, &s);
        int ok = BN_bn2binpad(r, sig, 32) == 32 && BN_bn2binpad(s, sig + 32, 32) == 32;
        ECDSA_SIG_free(es);
        return ok ? 0 : CP_OSSL_ERROR(CP_ECRYPTO, "ECDSA signature encoding failed");
}

int tdx_emu_pem_append(X509 *x, char **buf, size_t *len) {
        _cleanup_bio_ BIO *b = BIO_new(BIO_s_mem());
        char *data;
        if (!b || PEM_write_bio_X509(b, x) != 1)
                return CP_OSSL_ERROR(CP_ECRYPTO, "PEM encoding failed");
        long n = BIO_get_mem_data(b, &data);
        char *nb = realloc(*buf, *len + (size_t) n + 1);
        if (!nb)
                return cp_error_oom();
        memcpy(nb + *len, data, (size_t) n);
        *len += (size_t) n;
        nb[*len] = '\0';
        *buf = nb;
        return 0;
}

/* ---- certificates */

static int intel_name(const char *cn, X509_NAME **ret) {
        static const char *const f[][2] = {
                { "O", "Intel Corporation" }, { "L", "Santa Clara" }, { "ST", "CA" }, { "C", "US" } };
        X509_NAME *n = X509_NAME_new();
        bool ok = n && X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *) cn, -1, -1, 0);
        for (size_t i = 0; ok && i < 4; i++)
                ok = X509_NAME_add_entry_by_txt(n, f[i][0], MBSTRING_ASC, (const unsigned char *) f[i][1], -1, -1, 0);
        if (!ok) {
                X509_NAME_free(n);
                return CP_OSSL_ERROR(CP_ECRYPTO, "X.509 name failed");
        }
        *ret = n;
        return 0;
}

/* at loc (-1: the end) */
static int add_ext(X509 *x, X509 *issuer, int nid, const char *value, int loc) {
        X509V3_CTX v3;
        X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
        _cleanup_x509_ext_ X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
        if (!e || !X509_add_ext(x, e, loc))
                return CP_OSSL_ERROR(CP_ECRYPTO, "X.509 extension %s failed", OBJ_nid2sn(nid));
        return 0;
}

typedef struct cert_spec {
        const char *cn;
        X509 *issuer;              /* NULL: self-signed */
        EVP_PKEY *issuer_key, *pub;
        int64_t not_before, not_after;
        const char *basic, *key_usage;
        const char *crl_dp;
} cert_spec;

static int make_cert(const cert_spec *s, X509 **ret) {
        _cleanup_x509_ X509 *x = X509_new();
        _cleanup_x509_name_ X509_NAME *sn = NULL;
        int k;
        if (!x || (k = intel_name(s->cn, &sn)) < 0)
                return x ? k : cp_error_oom();
        /* Intel's serials: 20 random bytes, positive */
        uint8_t serial[20];
        if (RAND_bytes(serial, sizeof(serial)) != 1)
                return CP_OSSL_ERROR(CP_ECRYPTO, "random serial failed");
        serial[0] = (uint8_t) ((serial[0] & 0x7f) | 0x10);
        _cleanup_bn_ BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
        if (!bn || !X509_set_version(x, X509_VERSION_3) || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) ||
            !X509_set_subject_name(x, sn) ||
            !X509_set_issuer_name(x, s->issuer ? X509_get_subject_name(s->issuer) : sn) ||
            !ASN1_TIME_set(X509_getm_notBefore(x), (time_t) s->not_before) ||
            !ASN1_TIME_set(X509_getm_notAfter(x), (time_t) s->not_after) || !X509_set_pubkey(x, s->pub))
                return CP_OSSL_ERROR(CP_ECRYPTO, "X.509 certificate setup failed");
        /* Intel's order: AKI, CRL DP, SKI, key usage, basic constraints (the SKI goes
         * in first so that a self-signed root's AKI can name it) */
        if ((k = add_ext(x, s->issuer, NID_subject_key_identifier, "hash", -1)) < 0 ||
            (k = add_ext(x, s->issuer, NID_authority_key_identifier, "keyid:always", 0)) < 0 ||
            (s->crl_dp && (k = add_ext(x, s->issuer, NID_crl_distribution_points, s->crl_dp, 1)) < 0) ||
            (k = add_ext(x, s->issuer, NID_key_usage, s->key_usage, -1)) < 0 ||
            (k = add_ext(x, s->issuer, NID_basic_constraints, s->basic, -1)) < 0)
                return k;
        *ret = TAKE_PTR(x);
        return 0;
}

static int sign_cert(X509 *x, EVP_PKEY *key) {
        if (X509_sign(x, key, EVP_sha256()) <= 0)
                return CP_OSSL_ERROR(CP_ECRYPTO, "certificate signing failed");
        return 0;
}

static int make_cas(cp_tdx_pcs *p) {
        int64_t nb = p->created - DAY, na = nb + (int64_t) 30 * 365 * DAY;
        int k;
        if ((k = tdx_emu_p256_keygen(&p->root_key)) < 0 || (k = tdx_emu_p256_keygen(&p->pca_key)) < 0 ||
            (k = tdx_emu_p256_keygen(&p->sign_key)) < 0)
                return k;
        cert_spec root = { "Intel SGX Root CA", NULL, p->root_key, p->root_key, nb, na, "critical,CA:TRUE,pathlen:1",
                           "critical,keyCertSign,cRLSign",
                           "URI:https://certificates.trustedservices.intel.com/IntelSGXRootCA.der" };
        if ((k = make_cert(&root, &p->root)) < 0 || (k = sign_cert(p->root, p->root_key)) < 0)
                return k;
        cert_spec pca = { "Intel SGX PCK Platform CA", p->root, p->root_key, p->pca_key, nb, na,
                          "critical,CA:TRUE,pathlen:0", "critical,keyCertSign,cRLSign",
                          "URI:https://certificates.trustedservices.intel.com/IntelSGXRootCA.der" };
        if ((k = make_cert(&pca, &p->pca)) < 0 || (k = sign_cert(p->pca, p->root_key)) < 0)
                return k;
        cert_spec sig = { "Intel SGX TCB Signing", p->root, p->root_key, p->sign_key, nb, na, "critical,CA:FALSE",
                          "critical,digitalSignature,nonRepudiation",
                          "URI:https://certificates.trustedservices.intel.com/IntelSGXRootCA.der" };
        if ((k = make_cert(&sig, &p->sign)) < 0 || (k = sign_cert(p->sign, p->root_key)) < 0)
                return k;
        return 0;
}

/* ---- the SGX extension (DER written by hand, Intel's item order) */

typedef struct der {
        uint8_t b[1024];
        size_t n;
        bool overflow;
} der;

static void der_raw(der *d, const void *p, size_t n) {
        if (n > sizeof(d->b) - d->n) {
                d->overflow = true;
                return;
        }
        memcpy(d->b + d->n, p, n);
        d->n += n;
}

/* tag and length (< 64 KiB) of content already written at start */
static void der_wrap(der *d, size_t start, uint8_t tag) {
        size_t len = d->n - start, hl = len < 128 ? 2 : len < 256 ? 3 : 4;
        uint8_t h[4] = { tag };
        if (len < 128)
                h[1] = (uint8_t) len;
        else if (len < 256) {
                h[1] = 0x81;
                h[2] = (uint8_t) len;
        } else {
                h[1] = 0x82;
                h[2] = (uint8_t) (len >> 8);
                h[3] = (uint8_t) len;
        }
        if (hl > sizeof(d->b) - d->n) {
                d->overflow = true;
                return;
        }
        memmove(d->b + start + hl, d->b + start, len);
        memcpy(d->b + start, h, hl);
        d->n += hl;
}

/* SEQUENCE { OID 1.2.840.113741.1.13.1[.a[.b]], value } with the value
 * written by the caller between begin and end */
static size_t item_begin(der *d, int a, int b) {
        static const uint8_t base[] = { 0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01 };
        size_t start = d->n, o;
        o = d->n;
        der_raw(d, base, sizeof(base));
        if (a > 0) {
                uint8_t v = (uint8_t) a;
                der_raw(d, &v, 1);
        }
        if (b > 0) {
                uint8_t v = (uint8_t) b;
                der_raw(d, &v, 1);
        }
        der_wrap(d, o, 0x06);
        return start;
}

static void der_int(der *d, unsigned v, uint8_t tag) {
        size_t s = d->n;
        uint8_t b[3];
        size_t n = 0;
        if (v >= 0x8000)
                b[n++] = (uint8_t) (v >> 16);
        if (v >= 0x80)
                b[n++] = (uint8_t) (v >> 8);
        b[n++] = (uint8_t) v;
        der_raw(d, b, n);
        der_wrap(d, s, tag);
}

static void der_octets(der *d, const uint8_t *p, size_t n) {
        size_t s = d->n;
        der_raw(d, p, n);
        der_wrap(d, s, 0x04);
}

static void sgx_tcb(der *d, const cp_tdx_pck_ext *e) {
        size_t s = item_begin(d, 2, 0), seq = d->n;
        for (int i = 1; i <= 18; i++) {
                size_t it = item_begin(d, 2, i);
                if (i <= 16)
                        der_int(d, e->tcb_comp[i - 1], 0x02);
                else if (i == 17)
                        der_int(d, e->pcesvn, 0x02);
                else
                        der_octets(d, e->cpusvn, 16);
                der_wrap(d, it, 0x30);
        }
        der_wrap(d, seq, 0x30);
        der_wrap(d, s, 0x30);
}

static int sgx_extension(const cp_tdx_pck_ext *e, der *d) {
        static const uint8_t instance[16] = { 0xc0, 0x4f, 0xa1, 0x1e };
        size_t it;
        d->n = 0;
        d->overflow = false;
        it = item_begin(d, 1, 0);
        der_octets(d, e->ppid, 16);
        der_wrap(d, it, 0x30);
        sgx_tcb(d, e);
        it = item_begin(d, 3, 0);
        der_octets(d, e->pceid, 2);
        der_wrap(d, it, 0x30);
        it = item_begin(d, 4, 0);
        der_octets(d, e->fmspc, 6);
        der_wrap(d, it, 0x30);
        it = item_begin(d, 5, 0);
        der_int(d, (unsigned) e->sgx_type, 0x0a);
        der_wrap(d, it, 0x30);
        it = item_begin(d, 6, 0);
        der_octets(d, instance, 16);
        der_wrap(d, it, 0x30);
        /* configuration: dynamicPlatform, cachedKeys, SMTEnabled */
        it = item_begin(d, 7, 0);
        size_t cfg = d->n;
        for (int i = 1; i <= 3; i++) {
                size_t c = item_begin(d, 7, i);
                const uint8_t t[3] = { 0x01, 0x01, (uint8_t) (i == 1 ? 0x00 : 0xff) };
                der_raw(d, t, 3);
                der_wrap(d, c, 0x30);
        }
        der_wrap(d, cfg, 0x30);
        der_wrap(d, it, 0x30);
        der_wrap(d, 0, 0x30);
        return d->overflow ? CP_ERROR(CP_EINTERNAL, "SGX extension does not fit") : 0;
}

static int issue_pck_locked(cp_tdx_pcs *p, EVP_PKEY *pub, const cp_tdx_pck_ext *ext, int64_t now, X509 **ret) {
        cert_spec s = { "Intel SGX PCK Certificate", p->pca, p->pca_key, pub, now - DAY, now + (int64_t) 7 * 365 * DAY,
                        "critical,CA:FALSE", "critical,digitalSignature,nonRepudiation",
                        "URI:https://api.trustedservices.intel.com/sgx/certification/v4/pckcrl?ca=platform&encoding=der" };
        _cleanup_x509_ X509 *x = NULL;
        _cleanup_asn1_object_ ASN1_OBJECT *oid = OBJ_txt2obj("1.2.840.113741.1.13.1", 1);
        _cleanup_asn1_octets_ ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
        _cleanup_x509_ext_ X509_EXTENSION *e = NULL;
        der d;
        int k;
        if ((k = make_cert(&s, &x)) < 0 || (k = sgx_extension(ext, &d)) < 0)
                return k;
        if (!oid || !os || !ASN1_OCTET_STRING_set(os, d.b, (int) d.n) ||
            !(e = X509_EXTENSION_create_by_OBJ(NULL, oid, 0, os)) || !X509_add_ext(x, e, -1))
                return CP_OSSL_ERROR(CP_ECRYPTO, "SGX extension failed");
        if ((k = sign_cert(x, p->pca_key)) < 0)
                return k;
        *ret = TAKE_PTR(x);
        return 0;
}

int tdx_pcs_issue_pck(cp_tdx_pcs *p, EVP_PKEY *pub, const cp_tdx_pck_ext *ext, int64_t now, X509 **ret) {
        pthread_mutex_lock(&p->lock);
        int k = issue_pck_locked(p, pub, ext, now, ret);
        pthread_mutex_unlock(&p->lock);
        return k;
}

int tdx_pcs_chain_pem(cp_tdx_pcs *p, X509 *leaf, char **ret, size_t *ret_len) {
        char *buf = NULL;
        size_t len = 0;
        int k;
        if ((leaf && (k = tdx_emu_pem_append(leaf, &buf, &len)) < 0) || (k = tdx_emu_pem_append(p->pca, &buf, &len)) < 0 ||
            (k = tdx_emu_pem_append(p->root, &buf, &len)) < 0) {
                free(buf);
                return k;
        }
        *ret = buf;
        *ret_len = len;
        return 0;
}

void tdx_pcs_qe(const cp_tdx_pcs *p, uint8_t mrsigner[32], uint16_t *isvsvn) {
        memcpy(mrsigner, p->qe_mrsigner, 32);
        *isvsvn = p->qe_isvsvn;
}

void tdx_pcs_register(cp_tdx_pcs *p, X509 *pck, const cp_tdx_pck_ext *ext) {
        pthread_mutex_lock(&p->lock);
        X509_free(p->pck);
        p->pck = X509_dup(pck);
        p->pck_ext = *ext;
        pthread_mutex_unlock(&p->lock);
}

/* ---- the PCS object */

static const cp_tdx_tcb default_tcb = {
        .sgx = { 7, 7, 2, 2, 3, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0 },
        .pcesvn = 13,
        .tdx = { 5, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
};

int cp_tdx_pcs_new(const cp_tdx_pcs_config *c, cp_tdx_pcs **ret) {
        static const cp_tdx_pcs_config none;
        static const uint8_t zero[6], spr[6] = { 0x90, 0xc0, 0x6f, 0x00, 0x00, 0x00 };
        static const cp_tdx_tcb zero_tcb;
        if (!ret)
                return CP_ERROR(CP_EINVAL, "cp_tdx_pcs_new: NULL argument");
        if (!c)
                c = &none;
        cp_tdx_pcs *p = calloc(1, sizeof(*p));
        if (!p)
                return cp_error_oom();
        pthread_mutex_init(&p->lock, NULL);
        p->created = c->now ? c->now : (int64_t) time(NULL);
        memcpy(p->fmspc, memcmp(c->fmspc, zero, 6) ? c->fmspc : spr, 6);
        p->default_tcb = memcmp(&c->tcb, &zero_tcb, sizeof(zero_tcb)) ? c->tcb : default_tcb;
        p->qe_isvsvn = c->qe_isvsvn ? c->qe_isvsvn : 4;
        p->eval = 17;
        unsigned n = 0;
        static const char qe_signer[] = "confpool software TDX: emulated TD_QE signer (not Intel)";
        if (EVP_Digest(qe_signer, sizeof(qe_signer) - 1, p->qe_mrsigner, &n, EVP_sha256(), NULL) != 1) {
                cp_tdx_pcs_free(p);
                return CP_OSSL_ERROR(CP_ECRYPTO, "SHA-256 failed");
        }
        p->levels[0] = (cp_tdx_pcs_level) { .tcb = p->default_tcb, .status = CP_TDX_TCB_UP_TO_DATE };
        p->levels[1] = (cp_tdx_pcs_level) { .status = CP_TDX_TCB_OUT_OF_DATE, .advisory = "INTEL-SA-00837" };
        p->n_levels = 2;
        int k = make_cas(p);
        if (k < 0) {
                cp_tdx_pcs_free(p);
                return k;
        }
        *ret = p;
        return 0;
}

cp_tdx_pcs *cp_tdx_pcs_free(cp_tdx_pcs *p) {
        if (!p)
                return NULL;
        cp_svc_free(p->svc);
        EVP_PKEY_free(p->root_key);
        EVP_PKEY_free(p->pca_key);
        EVP_PKEY_free(p->sign_key);
        X509_free(p->root);
        X509_free(p->pca);
        X509_free(p->sign);
        X509_free(p->pck);
        pthread_mutex_destroy(&p->lock);
        free(p);
        return NULL;
}

int cp_tdx_pcs_root_pem(cp_tdx_pcs *p, char **ret, size_t *ret_len) {
        *ret = NULL;
        *ret_len = 0;
        return tdx_emu_pem_append(p->root, ret, ret_len);
}

void cp_tdx_pcs_fmspc(const cp_tdx_pcs *p, uint8_t ret[6]) {
        memcpy(ret, p->fmspc, 6);
}

void cp_tdx_pcs_default_tcb(const cp_tdx_pcs *p, cp_tdx_tcb *ret) {
        *ret = p->default_tcb;
}

static int pcs_persist(cp_tdx_pcs *p);

/* ---- TCB levels */

/* QVL's platform-level rule (docs/tdx.md) on the PCS's own table. */
cp_tdx_tcb_status cp_tdx_pcs_tcb_status(cp_tdx_pcs *p, const cp_tdx_tcb *t) {
        cp_tdx_tcb_status st = CP_TDX_TCB_UNKNOWN;
        pthread_mutex_lock(&p->lock);
        for (size_t i = 0; i < p->n_levels && st == CP_TDX_TCB_UNKNOWN; i++) {
                const cp_tdx_tcb *l = &p->levels[i].tcb;
                bool ok = t->pcesvn >= l->pcesvn;
                for (size_t k = 0; k < 16 && ok; k++)
                        ok = t->sgx[k] >= l->sgx[k] && ((t->tdx[1] > 0 && k < 2) || t->tdx[k] >= l->tdx[k]);
                if (ok)
                        st = p->levels[i].status;
        }
        pthread_mutex_unlock(&p->lock);
        return st;
}

int cp_tdx_pcs_set_levels(cp_tdx_pcs *p, const cp_tdx_pcs_level *levels, size_t n) {
        if (!p || !levels || n == 0 || n > CP_TDX_PCS_MAX_LEVELS)
                return CP_ERROR(CP_EINVAL, "TCB levels: 1..%d levels needed", CP_TDX_PCS_MAX_LEVELS);
        for (size_t i = 0; i < n; i++)
                if (levels[i].status <= CP_TDX_TCB_UNKNOWN || levels[i].status >= _CP_TDX_TCB_MAX ||
                    !memchr(levels[i].advisory, 0, sizeof(levels[i].advisory)))
                        return CP_ERROR(CP_EINVAL, "TCB level %zu: bad status or advisory", i);
        pthread_mutex_lock(&p->lock);
        memcpy(p->levels, levels, n * sizeof(*levels));
        p->n_levels = n;
        p->eval++;
        pthread_mutex_unlock(&p->lock);
        return pcs_persist(p);
}

int cp_tdx_pcs_set_status(cp_tdx_pcs *p, size_t idx, cp_tdx_tcb_status s, const char *advisory) {
        if (!p || s <= CP_TDX_TCB_UNKNOWN || s >= _CP_TDX_TCB_MAX || (advisory && strlen(advisory) >= 24))
                return CP_ERROR(CP_EINVAL, "cp_tdx_pcs_set_status: bad status or advisory");
        pthread_mutex_lock(&p->lock);
        int k = 0;
        if (idx >= p->n_levels)
                k = CP_ERROR(CP_EINVAL, "TCB level %zu does not exist (%zu levels)", idx, p->n_levels);
        else {
                p->levels[idx].status = s;
                snprintf(p->levels[idx].advisory, sizeof(p->levels[idx].advisory), "%s", advisory ? advisory : "");
                p->eval++;
        }
        pthread_mutex_unlock(&p->lock);
        return k < 0 ? k : pcs_persist(p);
}

int cp_tdx_pcs_tcb_recovery(cp_tdx_pcs *p, const cp_tdx_tcb *new_tcb, const char *advisory) {
        if (!p || !new_tcb || (advisory && strlen(advisory) >= 24))
                return CP_ERROR(CP_EINVAL, "cp_tdx_pcs_tcb_recovery: bad argument");
        pthread_mutex_lock(&p->lock);
        int k = 0;
        if (p->n_levels >= CP_TDX_PCS_MAX_LEVELS)
                k = CP_ERROR(CP_ETOOBIG, "TCB Info already has %d levels", CP_TDX_PCS_MAX_LEVELS);
        else {
                for (size_t i = 0; i < p->n_levels; i++) {
                        cp_tdx_pcs_level *l = &p->levels[i];
                        bool cfg = l->status == CP_TDX_TCB_CONFIGURATION_NEEDED ||
                                   l->status == CP_TDX_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED;
                        if (l->status == CP_TDX_TCB_UP_TO_DATE || l->status == CP_TDX_TCB_SW_HARDENING_NEEDED || cfg) {
                                l->status = cfg ? CP_TDX_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED : CP_TDX_TCB_OUT_OF_DATE;
                                snprintf(l->advisory, sizeof(l->advisory), "%s", advisory ? advisory : "");
                        }
                }
                memmove(p->levels + 1, p->levels, p->n_levels * sizeof(p->levels[0]));
                p->levels[0] = (cp_tdx_pcs_level) { .tcb = *new_tcb, .status = CP_TDX_TCB_UP_TO_DATE };
                p->n_levels++;
                p->eval++;
        }
        pthread_mutex_unlock(&p->lock);
        return k < 0 ? k : pcs_persist(p);
}

int cp_tdx_pcs_revoke_pck(cp_tdx_pcs *p, const uint8_t *serial, size_t len) {
        if (!p || !serial || len == 0 || len > 20)
                return CP_ERROR(CP_EINVAL, "serial of 1..20 bytes needed");
        pthread_mutex_lock(&p->lock);
        int k = 0;
        if (p->n_revoked >= MAX_REVOKED)
                k = CP_ERROR(CP_ETOOBIG, "more than %d revoked PCK certificates", MAX_REVOKED);
        else {
                memcpy(p->revoked[p->n_revoked], serial, len);
                p->revoked_len[p->n_revoked++] = len;
        }
        pthread_mutex_unlock(&p->lock);
        return k < 0 ? k : pcs_persist(p);
}

/* ---- collateral documents */

static json_t *svn_array(const uint8_t v[16]) {
        json_t *a = json_array();
        for (unsigned i = 0; a && i < 16; i++)
                if (json_array_append_new(a, json_pack("{s:i}", "svn", v[i])) < 0) {
                        json_decref(a);
                        return NULL;
                }
        return a;
}

static json_t *hexj(const uint8_t *p, size_t n) {
        char buf[2 * 64 + 1];
        cp_hex_encode(p, n, buf);
        for (char *c = buf; *c; c++)
                if (*c >= 'a' && *c <= 'f')
                        *c = (char) (*c - 'a' + 'A');
        return json_string(buf);
}

static json_t *level_json(const cp_tdx_pcs_level *l, const char *date) {
        json_t *tcb = json_pack("{s:o,s:i,s:o}", "sgxtcbcomponents", svn_array(l->tcb.sgx), "pcesvn", l->tcb.pcesvn,
                                "tdxtcbcomponents", svn_array(l->tcb.tdx));
        json_t *o = json_pack("{s:o,s:s,s:s}", "tcb", tcb, "tcbDate", date, "tcbStatus", cp_tdx_tcb_status_name(l->status));
        if (o && l->advisory[0])
                json_object_set_new(o, "advisoryIDs", json_pack("[s]", l->advisory));
        return o;
}

static json_t *module_json(const cp_tdx_pcs *p, const char *date) {
        static const uint8_t zero48[48];
        json_t *lv = json_pack("[{s:{s:i},s:s,s:s}]", "tcb", "isvsvn", p->default_tcb.tdx[0], "tcbDate", date,
                               "tcbStatus", "UpToDate");
        char id[16];
        snprintf(id, sizeof(id), "TDX_%02X", p->default_tcb.tdx[1]);
        return json_pack("[{s:s,s:o,s:s,s:s,s:o}]", "id", id, "mrsigner", hexj(zero48, 48), "attributes",
                         "0000000000000000", "attributesMask", "FFFFFFFFFFFFFFFF", "tcbLevels", lv);
}

static json_t *tcb_info_json(const cp_tdx_pcs *p, const uint8_t fmspc[6], const char *issue, const char *next) {
        static const uint8_t zero48[48], pceid[2];
        json_t *levels = json_array();
        for (size_t i = 0; levels && i < p->n_levels; i++)
                if (json_array_append_new(levels, level_json(&p->levels[i], issue)) < 0) {
                        json_decref(levels);
                        return NULL;
                }
        return json_pack("{s:s,s:i,s:s,s:s,s:o,s:o,s:i,s:i,s:{s:o,s:s,s:s},s:o,s:o}", "id", "TDX", "version", 3,
                         "issueDate", issue, "nextUpdate", next, "fmspc", hexj(fmspc, 6), "pceId", hexj(pceid, 2),
                         "tcbType", 0, "tcbEvaluationDataNumber", (int) p->eval, "tdxModule", "mrsigner",
                         hexj(zero48, 48), "attributes", "0000000000000000", "attributesMask", "FFFFFFFFFFFFFFFF",
                         "tdxModuleIdentities", module_json(p, issue), "tcbLevels", levels);
}

static json_t *qe_identity_json(const cp_tdx_pcs *p, const char *issue, const char *next) {
        return json_pack("{s:s,s:i,s:s,s:s,s:i,s:s,s:s,s:s,s:s,s:o,s:i,s:[{s:{s:i},s:s,s:s},{s:{s:i},s:s,s:s}]}", "id",
                         "TD_QE", "version", 2, "issueDate", issue, "nextUpdate", next, "tcbEvaluationDataNumber",
                         (int) p->eval, "miscselect", "00000000", "miscselectMask", "FFFFFFFF", "attributes",
                         "11000000000000000000000000000000", "attributesMask", "FBFFFFFFFFFFFFFF0000000000000000",
                         "mrsigner", hexj(p->qe_mrsigner, 32), "isvprodid", TDX_QE_ISVPRODID, "tcbLevels", "tcb",
                         "isvsvn", p->qe_isvsvn, "tcbDate", issue, "tcbStatus", "UpToDate", "tcb", "isvsvn", 0,
                         "tcbDate", issue, "tcbStatus", "OutOfDate");
}

/* {"<member>":<compact body>,"signature":"<hex r||s>"}, the signature over
 * exactly the body's bytes */
static int signed_doc(cp_tdx_pcs *p, json_t *body, const char *member, uint8_t **ret, size_t *ret_len) {
        _cleanup_(freep_str) char *b = body ? json_dumps(body, JSON_COMPACT) : NULL;
        uint8_t sig[64];
        char hex[129];
        int k;
        if (!b)
                return cp_error_oom();
        if ((k = tdx_emu_sign(p->sign_key, (const uint8_t *) b, strlen(b), sig)) < 0)
                return k;
        cp_hex_encode(sig, 64, hex);
        size_t cap = strlen(b) + strlen(member) + 160;
        char *out = malloc(cap);
        if (!out)
                return cp_error_oom();
        int n = snprintf(out, cap, "{\"%s\":%s,\"signature\":\"%s\"}", member, b, hex);
        *ret = (uint8_t *) out;
        *ret_len = (size_t) n;
        return 0;
}

static int crl_der(X509 *issuer, EVP_PKEY *key, const cp_tdx_pcs *p, bool list, int64_t now, uint8_t **ret,
                   size_t *ret_len) {
        _cleanup_x509_crl_ X509_CRL *crl = X509_CRL_new();
        _cleanup_asn1_time_ ASN1_TIME *t1 = ASN1_TIME_set(NULL, (time_t) (now - 3600));
        _cleanup_asn1_time_ ASN1_TIME *t2 = ASN1_TIME_set(NULL, (time_t) (now + (int64_t) COLLATERAL_DAYS * DAY));
        _cleanup_asn1_integer_ ASN1_INTEGER *num = ASN1_INTEGER_new();
        if (!crl || !t1 || !t2 || !num || !X509_CRL_set_version(crl, X509_CRL_VERSION_2) ||
            !X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)) || !X509_CRL_set1_lastUpdate(crl, t1) ||
            !X509_CRL_set1_nextUpdate(crl, t2) || !ASN1_INTEGER_set_int64(num, now) ||
            !X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0))
                return CP_OSSL_ERROR(CP_ECRYPTO, "CRL setup failed");
        for (size_t i = 0; list && i < p->n_revoked; i++) {
                _cleanup_x509_revoked_ X509_REVOKED *rv = X509_REVOKED_new();
                _cleanup_bn_ BIGNUM *bn = BN_bin2bn(p->revoked[i], (int) p->revoked_len[i], NULL);
                _cleanup_asn1_integer_ ASN1_INTEGER *ser = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
                if (!rv || !ser || !X509_REVOKED_set_serialNumber(rv, ser) || !X509_REVOKED_set_revocationDate(rv, t1) ||
                    !X509_CRL_add0_revoked(crl, rv))
                        return CP_OSSL_ERROR(CP_ECRYPTO, "CRL entry failed");
                rv = NULL; /* owned by the CRL */
        }
        if (!X509_CRL_sort(crl) || X509_CRL_sign(crl, key, EVP_sha256()) <= 0)
                return CP_OSSL_ERROR(CP_ECRYPTO, "CRL signing failed");
        unsigned char *enc = NULL;
        int n = i2d_X509_CRL(crl, &enc);
        if (n <= 0)
                return CP_OSSL_ERROR(CP_ECRYPTO, "CRL encoding failed");
        *ret = enc;
        *ret_len = (size_t) n;
        return 0;
}

static int collateral_locked(cp_tdx_pcs *p, const uint8_t fmspc[6], int64_t now, cp_tdx_pcs_collateral *c) {
        char issue[32], next[32];
        size_t sl = 0;
        int k;
        cp_unix_to_iso(now, issue, sizeof(issue));
        cp_unix_to_iso(now + (int64_t) COLLATERAL_DAYS * DAY, next, sizeof(next));
        _cleanup_(pcs_json_decrefp) json_t *ti = tcb_info_json(p, fmspc, issue, next);
        _cleanup_(pcs_json_decrefp) json_t *qi = qe_identity_json(p, issue, next);
        char *chain = NULL;
        if ((k = signed_doc(p, ti, "tcbInfo", &c->tcb_info, &c->tcb_info_len)) < 0 ||
            (k = signed_doc(p, qi, "enclaveIdentity", &c->qe_identity, &c->qe_identity_len)) < 0 ||
            (k = tdx_emu_pem_append(p->sign, &chain, &sl)) < 0)
                return k;
        c->tcb_signing_chain = (uint8_t *) chain;
        c->tcb_signing_chain_len = sl;
        if ((k = tdx_emu_pem_append(p->root, &chain, &sl)) < 0)
                return k;
        c->tcb_signing_chain = (uint8_t *) chain;
        c->tcb_signing_chain_len = sl;
        if ((k = crl_der(p->pca, p->pca_key, p, true, now, &c->pck_crl, &c->pck_crl_len)) < 0 ||
            (k = crl_der(p->root, p->root_key, p, false, now, &c->root_ca_crl, &c->root_ca_crl_len)) < 0)
                return k;
        return 0;
}

static bool fmspc_known_locked(const cp_tdx_pcs *p, const uint8_t fmspc[6]) {
        if (memcmp(fmspc, p->fmspc, 6) == 0)
                return true;
        for (size_t i = 0; i < p->n_fmspcs; i++)
                if (memcmp(fmspc, p->fmspcs[i], 6) == 0)
                        return true;
        return false;
}

int cp_tdx_pcs_add_fmspc(cp_tdx_pcs *p, const uint8_t fmspc[6]) {
        static const uint8_t zero[6];
        if (!p || !fmspc || memcmp(fmspc, zero, 6) == 0)
                return CP_ERROR(CP_EINVAL, "cp_tdx_pcs_add_fmspc: a PCS and a non-zero FMSPC are needed");
        pthread_mutex_lock(&p->lock);
        bool known = fmspc_known_locked(p, fmspc), full = p->n_fmspcs >= CP_TDX_PCS_MAX_FMSPCS;
        if (!known && !full)
                memcpy(p->fmspcs[p->n_fmspcs++], fmspc, 6);
        pthread_mutex_unlock(&p->lock);
        if (known)
                return 0;
        if (full)
                return CP_ERROR(CP_ETOOBIG, "the emulated PCS serves at most %d FMSPCs besides its own",
                                CP_TDX_PCS_MAX_FMSPCS);
        return pcs_persist(p);
}

bool cp_tdx_pcs_knows_fmspc(cp_tdx_pcs *p, const uint8_t fmspc[6]) {
        pthread_mutex_lock(&p->lock);
        bool k = fmspc_known_locked(p, fmspc);
        pthread_mutex_unlock(&p->lock);
        return k;
}

int cp_tdx_pcs_collateral_get_for(cp_tdx_pcs *p, const uint8_t fmspc[6], int64_t now, cp_tdx_pcs_collateral *ret) {
        char hex[13];
        if (!p || !fmspc || !ret)
                return CP_ERROR(CP_EINVAL, "cp_tdx_pcs_collateral_get_for: NULL argument");
        memset(ret, 0, sizeof(*ret));
        pthread_mutex_lock(&p->lock);
        int k = fmspc_known_locked(p, fmspc) ? collateral_locked(p, fmspc, now ? now : (int64_t) time(NULL), ret) : 1;
        pthread_mutex_unlock(&p->lock);
        if (k == 1) {
                cp_hex_encode(fmspc, 6, hex);
                hex[12] = '\0';
                return CP_ERROR(CP_ENOTFOUND, "the emulated PCS has no TCB Info for FMSPC %s", hex);
        }
        if (k < 0)
                cp_tdx_pcs_collateral_free(ret);
        return k;
}

int cp_tdx_pcs_collateral_get(cp_tdx_pcs *p, int64_t now, cp_tdx_pcs_collateral *ret) {
        if (!p || !ret)
                return CP_ERROR(CP_EINVAL, "cp_tdx_pcs_collateral_get: NULL argument");
        memset(ret, 0, sizeof(*ret));
        pthread_mutex_lock(&p->lock);
        int k = collateral_locked(p, p->fmspc, now ? now : (int64_t) time(NULL), ret);
        pthread_mutex_unlock(&p->lock);
        if (k < 0)
                cp_tdx_pcs_collateral_free(ret);
        return k;
}

void cp_tdx_pcs_collateral_free(cp_tdx_pcs_collateral *c) {
        if (!c)
                return;
        free(c->tcb_info);
        free(c->qe_identity);
        free(c->tcb_signing_chain);
        OPENSSL_free(c->pck_crl);
        OPENSSL_free(c->root_ca_crl);
        memset(c, 0, sizeof(*c));
}

void cp_tdx_pcs_collateral_view(const cp_tdx_pcs_collateral *c, cp_tdx_collateral *ret) {
        *ret = (cp_tdx_collateral) {
                .tcb_info = c->tcb_info, .tcb_info_len = c->tcb_info_len,
                .qe_identity = c->qe_identity, .qe_identity_len = c->qe_identity_len,
                .tcb_signing_chain = c->tcb_signing_chain, .tcb_signing_chain_len = c->tcb_signing_chain_len,
                .pck_crl = c->pck_crl, .pck_crl_len = c->pck_crl_len,
                .root_ca_crl = c->root_ca_crl, .root_ca_crl_len = c->root_ca_crl_len,
        };
}

struct cp_svc **tdx_pcs_svc(cp_tdx_pcs *p) {
        return &p->svc;
}

int tdx_pcs_pck_get(cp_tdx_pcs *p, X509 **ret, cp_tdx_pck_ext *ext) {
        pthread_mutex_lock(&p->lock);
        *ret = p->pck ? X509_dup(p->pck) : NULL;
        *ext = p->pck_ext;
        bool fail = p->pck && !*ret;
        pthread_mutex_unlock(&p->lock);
        return fail ? cp_error_oom() : 0;
}

/* ---- persistence (issue 16: a stack's emulated Intel survives restarts) */

static int key_pem(EVP_PKEY *k, char **ret) {
        BIO *b = BIO_new(BIO_s_mem());
        char *p = NULL;
        long n = 0;
        int ok = b && PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) == 1 && (n = BIO_get_mem_data(b, &p)) > 0;
        char *s = ok ? strndup(p, (size_t) n) : NULL;
        BIO_free(b);
        if (!s)
                return CP_OSSL_ERROR(CP_ECRYPTO, "private key export failed");
        *ret = s;
        return 0;
}

int tdx_emu_key_to_json(EVP_PKEY *k, json_t *o, const char *name) {
        char *pem = NULL;
        int r = key_pem(k, &pem);
        if (r < 0)
                return r;
        r = json_object_set_new(o, name, json_string(pem)) < 0 ? cp_error_oom() : 0;
        cp_wipe(pem, strlen(pem));
        free(pem);
        return r;
}

int tdx_emu_key_from_json(const json_t *o, const char *name, EVP_PKEY **ret) {
        const char *pem = json_string_value(json_object_get(o, name));
        BIO *b = pem ? BIO_new_mem_buf(pem, -1) : NULL;
        EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
        if (!k)
                return CP_OSSL_ERROR(CP_EFORMAT, "software TDX state: key \"%s\" missing or malformed", name);
        *ret = k;
        return 0;
}

static int cert_to_json(X509 *x, json_t *o, const char *name) {
        char *pem = NULL;
        size_t len = 0;
        int r = tdx_emu_pem_append(x, &pem, &len);
        if (r < 0)
                return r;
        r = json_object_set_new(o, name, json_string(pem)) < 0 ? cp_error_oom() : 0;
        free(pem);
        return r;
}

static int cert_from_json(const json_t *o, const char *name, X509 **ret) {
        const char *pem = json_string_value(json_object_get(o, name));
        BIO *b = pem ? BIO_new_mem_buf(pem, -1) : NULL;
        X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
        if (!x)
                return CP_OSSL_ERROR(CP_EFORMAT, "software TDX state: certificate \"%s\" missing or malformed", name);
        *ret = x;
        return 0;
}

int tdx_emu_hex_from_json(const json_t *o, const char *name, uint8_t *out, size_t n) {
        const char *h = json_string_value(json_object_get(o, name));
        size_t got = 0;
        if (!h || strlen(h) != 2 * n || cp_hex_decode(h, 2 * n, out, n, &got) < 0 || got != n)
                return CP_ERROR(CP_EFORMAT, "software TDX state: \"%s\" must be %zu bytes of hex", name, n);
        return 0;
}

int tdx_emu_hex_to_json(json_t *o, const char *name, const uint8_t *p, size_t n) {
        char *h = malloc(2 * n + 1);
        if (!h)
                return cp_error_oom();
        cp_hex_encode(p, n, h);
        h[2 * n] = '\0';
        int r = json_object_set_new(o, name, json_string(h)) < 0 ? cp_error_oom() : 0;
        free(h);
        return r;
}

json_t *tdx_emu_tcb_json(const cp_tdx_tcb *t) {
        json_t *o = json_object();
        if (o && (tdx_emu_hex_to_json(o, "sgx", t->sgx, 16) < 0 || tdx_emu_hex_to_json(o, "tdx", t->tdx, 16) < 0 ||
                  json_object_set_new(o, "pcesvn", json_integer(t->pcesvn)) < 0))
                o = (json_decref(o), NULL);
        return o;
}

int tdx_emu_tcb_from_json(const json_t *o, cp_tdx_tcb *ret) {
        const json_t *pv = json_object_get(o, "pcesvn");
        if (!json_is_integer(pv) || json_integer_value(pv) < 0 || json_integer_value(pv) > 0xffff)
                return CP_ERROR(CP_EFORMAT, "software TDX state: bad TCB");
        ret->pcesvn = (uint16_t) json_integer_value(pv);
        int r = tdx_emu_hex_from_json(o, "sgx", ret->sgx, 16);
        return r < 0 ? r : tdx_emu_hex_from_json(o, "tdx", ret->tdx, 16);
}

static json_t *pcs_state_locked(cp_tdx_pcs *p) {
        json_t *o = json_pack("{s:I,s:I,s:I,s:o}", "version", (json_int_t) 1, "created", (json_int_t) p->created,
                              "eval", (json_int_t) p->eval, "tcb", tdx_emu_tcb_json(&p->default_tcb));
        json_t *lv = json_array(), *rv = json_array();
        int r = o && lv && rv ? 0 : -1;
        for (size_t i = 0; r == 0 && i < p->n_levels; i++)
                r = json_array_append_new(lv, json_pack("{s:o,s:s,s:s}", "tcb", tdx_emu_tcb_json(&p->levels[i].tcb),
                                                        "status", cp_tdx_tcb_status_name(p->levels[i].status),
                                                        "advisory", p->levels[i].advisory));
        for (size_t i = 0; r == 0 && i < p->n_revoked; i++) {
                char h[41];
                cp_hex_encode(p->revoked[i], p->revoked_len[i], h);
                h[2 * p->revoked_len[i]] = '\0';
                r = json_array_append_new(rv, json_string(h));
        }
        if (r == 0)
                r = json_object_set_new(o, "levels", lv) | json_object_set_new(o, "revoked", rv) |
                    json_object_set_new(o, "qe_isvsvn", json_integer(p->qe_isvsvn));
        else {
                json_decref(lv);
                json_decref(rv);
        }
        json_t *fl = r == 0 ? json_array() : NULL;
        for (size_t i = 0; fl && i < p->n_fmspcs; i++) {
                char h[13];
                cp_hex_encode(p->fmspcs[i], 6, h);
                h[12] = '\0';
                if (json_array_append_new(fl, json_string(h)) < 0)
                        r = -1;
        }
        if (r == 0 && (!fl || json_object_set_new(o, "fmspcs", fl) < 0))
                r = -1;
        if (r == 0 && (tdx_emu_hex_to_json(o, "fmspc", p->fmspc, 6) < 0 ||
                       tdx_emu_key_to_json(p->root_key, o, "root_key") < 0 ||
                       tdx_emu_key_to_json(p->pca_key, o, "pca_key") < 0 ||
                       tdx_emu_key_to_json(p->sign_key, o, "sign_key") < 0 || cert_to_json(p->root, o, "root") < 0 ||
                       cert_to_json(p->pca, o, "pca") < 0 || cert_to_json(p->sign, o, "sign") < 0))
                r = -1;
        if (r != 0) {
                json_decref(o);
                return NULL;
        }
        return o;
}

int tdx_emu_write_json(const char *path, json_t *o) {
        char tmp[4200];
        char *txt = o ? json_dumps(o, JSON_SORT_KEYS | JSON_INDENT(1)) : NULL;
        json_decref(o);
        if (!txt)
                return cp_error_oom();
        snprintf(tmp, sizeof(tmp), "%s.tmp", path);
        int r = cp_write_file(tmp, txt, strlen(txt), 0600);
        cp_wipe(txt, strlen(txt));
        free(txt);
        if (r >= 0 && rename(tmp, path) < 0)
                r = CP_ERROR(CP_EIO, "cannot rename %s: %m", tmp);
        return r;
}

/* Write the state (keys included: the directory is the platform's secret,
 * 0700 by its creator) when the PCS has a directory. */
static int pcs_persist(cp_tdx_pcs *p) {
        if (!p->dir[0])
                return 0;
        char f[4200];
        snprintf(f, sizeof(f), "%s/pcs.json", p->dir);
        pthread_mutex_lock(&p->lock);
        json_t *o = pcs_state_locked(p);
        pthread_mutex_unlock(&p->lock);
        return o ? tdx_emu_write_json(f, o) : CP_ERROR(CP_EINTERNAL, "software TDX state: cannot serialize the PCS");
}

/* "fmspcs": the other platforms' FMSPCs (absent in a state written before
 * there were any: none). */
static int pcs_fmspcs_from_json(cp_tdx_pcs *p, const json_t *o) {
        const json_t *a = json_object_get(o, "fmspcs");
        size_t i;
        const json_t *v;
        if (!a)
                return 0;
        if (!json_is_array(a) || json_array_size(a) > CP_TDX_PCS_MAX_FMSPCS)
                return CP_ERROR(CP_EFORMAT, "software TDX state: \"fmspcs\" must be an array of at most %d FMSPCs",
                                CP_TDX_PCS_MAX_FMSPCS);
        json_array_foreach(a, i, v) {
                size_t got = 0;
                const char *h = json_string_value(v);
                if (!h || strlen(h) != 12 || cp_hex_decode(h, 12, p->fmspcs[i], 6, &got) < 0 || got != 6)
                        return CP_ERROR(CP_EFORMAT, "software TDX state: \"fmspcs\"[%zu] must be 6 bytes of hex", i);
        }
        p->n_fmspcs = json_array_size(a);
        return 0;
}

static int pcs_levels_from_json(cp_tdx_pcs *p, const json_t *o) {
        const json_t *lv = json_object_get(o, "levels"), *rv = json_object_get(o, "revoked"), *v;
        size_t i;
        int r;
        if (!json_is_array(lv) || json_array_size(lv) == 0 || json_array_size(lv) > CP_TDX_PCS_MAX_LEVELS ||
            !json_is_array(rv) || json_array_size(rv) > MAX_REVOKED)
                return CP_ERROR(CP_EFORMAT, "software TDX state: bad levels or revoked list");
        json_array_foreach(lv, i, v) {
                cp_tdx_pcs_level *l = &p->levels[i];
                const char *st = json_string_value(json_object_get(v, "status")),
                           *adv = json_string_value(json_object_get(v, "advisory"));
                if ((r = tdx_emu_tcb_from_json(json_object_get(v, "tcb"), &l->tcb)) < 0)
                        return r;
                l->status = st ? cp_tdx_tcb_status_from_name(st) : CP_TDX_TCB_UNKNOWN;
                if (l->status == CP_TDX_TCB_UNKNOWN || !adv || strlen(adv) >= sizeof(l->advisory))
                        return CP_ERROR(CP_EFORMAT, "software TDX state: level %zu has a bad status or advisory", i);
                snprintf(l->advisory, sizeof(l->advisory), "%s", adv);
        }
        p->n_levels = json_array_size(lv);
        json_array_foreach(rv, i, v) {
                const char *h = json_string_value(v);
                size_t n = 0;
                if (!h || strlen(h) > 40 || cp_hex_decode(h, strlen(h), p->revoked[i], 20, &n) < 0 || n == 0)
                        return CP_ERROR(CP_EFORMAT, "software TDX state: bad revoked serial %zu", i);
                p->revoked_len[i] = n;
        }
        p->n_revoked = json_array_size(rv);
        return 0;
}

static int pcs_load(cp_tdx_pcs *p, const char *path) {
        json_error_t je;
        _cleanup_(pcs_json_decrefp) json_t *o = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
        if (!o)
                return CP_ERROR(CP_EFORMAT, "%s: %s", path, je.text);
        const json_t *cr = json_object_get(o, "created"), *ev = json_object_get(o, "eval"),
                     *qs = json_object_get(o, "qe_isvsvn");
        if (json_integer_value(json_object_get(o, "version")) != 1 || !json_is_integer(cr) || !json_is_integer(ev) ||
            !json_is_integer(qs) || json_integer_value(qs) < 0 || json_integer_value(qs) > 0xffff)
                return CP_ERROR(CP_EFORMAT, "%s: not a software TDX PCS state of version 1", path);
        p->created = json_integer_value(cr);
        p->eval = (unsigned) json_integer_value(ev);
        p->qe_isvsvn = (uint16_t) json_integer_value(qs);
        int r;
        if ((r = tdx_emu_hex_from_json(o, "fmspc", p->fmspc, 6)) < 0 || (r = pcs_fmspcs_from_json(p, o)) < 0 ||
            (r = tdx_emu_tcb_from_json(json_object_get(o, "tcb"), &p->default_tcb)) < 0 ||
            (r = pcs_levels_from_json(p, o)) < 0 || (r = tdx_emu_key_from_json(o, "root_key", &p->root_key)) < 0 ||
            (r = tdx_emu_key_from_json(o, "pca_key", &p->pca_key)) < 0 ||
            (r = tdx_emu_key_from_json(o, "sign_key", &p->sign_key)) < 0 ||
            (r = cert_from_json(o, "root", &p->root)) < 0 || (r = cert_from_json(o, "pca", &p->pca)) < 0 ||
            (r = cert_from_json(o, "sign", &p->sign)) < 0)
                return cp_error_wrap("%s", path);
        if (X509_check_private_key(p->root, p->root_key) != 1 || X509_check_private_key(p->pca, p->pca_key) != 1 ||
            X509_check_private_key(p->sign, p->sign_key) != 1)
                return CP_ERROR(CP_EFORMAT, "%s: a certificate does not match its key", path);
        return 0;
}

int cp_tdx_pcs_open(const char *dir, const cp_tdx_pcs_config *c, cp_tdx_pcs **ret) {
        char f[4200];
        int r;
        if (!dir || !ret || strlen(dir) >= sizeof(((cp_tdx_pcs *) 0)->dir))
                return CP_ERROR(CP_EINVAL, "cp_tdx_pcs_open: a directory (shorter than 4 KiB) is needed");
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return CP_ERROR(CP_EIO, "cannot create %s: %m", dir);
        snprintf(f, sizeof(f), "%s/pcs.json", dir);
        if (access(f, F_OK) != 0) {
                cp_tdx_pcs *p = NULL;
                if ((r = cp_tdx_pcs_new(c, &p)) < 0)
                        return r;
                snprintf(p->dir, sizeof(p->dir), "%s", dir);
                if ((r = pcs_persist(p)) < 0) {
                        cp_tdx_pcs_free(p);
                        return r;
                }
                *ret = p;
                return 0;
        }
        cp_tdx_pcs *p = calloc(1, sizeof(*p));
        if (!p)
                return cp_error_oom();
        pthread_mutex_init(&p->lock, NULL);
        static const char qe_signer[] = "confpool software TDX: emulated TD_QE signer (not Intel)";
        unsigned n = 0;
        if (EVP_Digest(qe_signer, sizeof(qe_signer) - 1, p->qe_mrsigner, &n, EVP_sha256(), NULL) != 1)
                r = CP_OSSL_ERROR(CP_ECRYPTO, "SHA-256 failed");
        else
                r = pcs_load(p, f);
        if (r < 0) {
                cp_tdx_pcs_free(p);
                return r;
        }
        snprintf(p->dir, sizeof(p->dir), "%s", dir);
        *ret = p;
        return 0;
}
