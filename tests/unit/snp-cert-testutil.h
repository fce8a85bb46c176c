/* SPDX-License-Identifier: Apache-2.0 */
/* Test-only builders for AMD-profile certificates (software ARK/ASK/VCEK)
 * and helpers shared by test-snp-cert.c and test-snp-crl.c. */
#ifndef CP_TESTS_SNP_CERT_TESTUTIL_H
#define CP_TESTS_SNP_CERT_TESTUTIL_H

#include <stdlib.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "confpool/snp_cert.h"
#include "tests.h"

#define TU_UNUSED __attribute__((unused))

/* 2025-06-01T00:00:00Z and 2026-11-25T00:00:00Z */
#define T_2025_06_01 INT64_C(1748736000)
#define T_2026_11_25 INT64_C(1795564800)
#define T_DAY INT64_C(86400)
#define T_YEAR (365 * T_DAY)

/* One RSA-4096 key per test binary (generation takes ~1 s). */
static TU_UNUSED EVP_PKEY *tu_rsa4096(void) {
        static EVP_PKEY *k;
        if (!k) {
                k = EVP_RSA_gen(4096);
                ASSERT_TRUE(k);
        }
        return k;
}

static TU_UNUSED EVP_PKEY *tu_rsa2048(void) {
        static EVP_PKEY *k;
        if (!k) {
                k = EVP_RSA_gen(2048);
                ASSERT_TRUE(k);
        }
        return k;
}

static TU_UNUSED EVP_PKEY *tu_p384(void) {
        static EVP_PKEY *k;
        if (!k) {
                k = EVP_EC_gen("P-384");
                ASSERT_TRUE(k);
        }
        return k;
}

static TU_UNUSED X509_NAME *tu_amd_name(const char *cn) {
        X509_NAME *n = X509_NAME_new();
        ASSERT_TRUE(n);
        ASSERT_TRUE(X509_NAME_add_entry_by_txt(n, "OU", MBSTRING_UTF8, (const unsigned char *) "Engineering", -1, -1, 0));
        ASSERT_TRUE(X509_NAME_add_entry_by_txt(n, "C", MBSTRING_UTF8, (const unsigned char *) "US", -1, -1, 0));
        ASSERT_TRUE(X509_NAME_add_entry_by_txt(n, "L", MBSTRING_UTF8, (const unsigned char *) "Santa Clara", -1, -1, 0));
        ASSERT_TRUE(X509_NAME_add_entry_by_txt(n, "ST", MBSTRING_UTF8, (const unsigned char *) "CA", -1, -1, 0));
        ASSERT_TRUE(X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8, (const unsigned char *) "Advanced Micro Devices",
                                               -1, -1, 0));
        ASSERT_TRUE(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *) cn, -1, -1, 0));
        return n;
}

enum { TU_SIG_PSS384 = 0, TU_SIG_PKCS1_SHA384, TU_SIG_PSS384_SALT32 };

/* A ready EVP_MD_CTX for signing with the chosen scheme. */
static TU_UNUSED EVP_MD_CTX *tu_sign_ctx(EVP_PKEY *key, int mode) {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        EVP_PKEY_CTX *pctx = NULL;
        ASSERT_TRUE(ctx);
        ASSERT_TRUE(EVP_DigestSignInit(ctx, &pctx, EVP_sha384(), NULL, key) == 1);
        if (mode != TU_SIG_PKCS1_SHA384) {
                ASSERT_TRUE(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1);
                ASSERT_TRUE(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, mode == TU_SIG_PSS384 ? 48 : 32) == 1);
                ASSERT_TRUE(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha384()) == 1);
        }
        return ctx;
}

typedef struct tu_ext {
        const char *oid;     /* dotted */
        const uint8_t *val;  /* extnValue contents */
        size_t len;
        bool critical;
} tu_ext;

typedef struct tu_cert_spec {
        const char *subject_cn, *issuer_cn;
        EVP_PKEY *subject_key, *issuer_key;
        int64_t not_before, not_after;
        bool ca;
        long version;         /* X509_VERSION_3 unless set otherwise (use -1 for v1) */
        int sig_mode;
        long serial;
        const tu_ext *exts;
        size_t n_exts;
} tu_cert_spec;

static TU_UNUSED X509 *tu_make_cert(const tu_cert_spec *s) {
        X509 *x = X509_new();
        ASSERT_TRUE(x);
        ASSERT_TRUE(X509_set_version(x, s->version < 0 ? X509_VERSION_1 : X509_VERSION_3));
        ASSERT_TRUE(ASN1_INTEGER_set(X509_get_serialNumber(x), s->serial));
        X509_NAME *sn = tu_amd_name(s->subject_cn), *in = tu_amd_name(s->issuer_cn);
        ASSERT_TRUE(X509_set_subject_name(x, sn));
        ASSERT_TRUE(X509_set_issuer_name(x, in));
        X509_NAME_free(sn);
        X509_NAME_free(in);
        ASSERT_TRUE(ASN1_TIME_set(X509_getm_notBefore(x), (time_t) s->not_before));
        ASSERT_TRUE(ASN1_TIME_set(X509_getm_notAfter(x), (time_t) s->not_after));
        ASSERT_TRUE(X509_set_pubkey(x, s->subject_key));
        if (s->version >= 0) {
                X509V3_CTX v3;
                X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
                if (s->ca) {
                        X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
                        ASSERT_TRUE(e);
                        ASSERT_TRUE(X509_add_ext(x, e, -1));
                        X509_EXTENSION_free(e);
                        e = X509V3_EXT_conf_nid(NULL, &v3, NID_key_usage, "critical,keyCertSign,cRLSign");
                        ASSERT_TRUE(e);
                        ASSERT_TRUE(X509_add_ext(x, e, -1));
                        X509_EXTENSION_free(e);
                }
                for (size_t i = 0; i < s->n_exts; i++) {
                        ASN1_OBJECT *obj = OBJ_txt2obj(s->exts[i].oid, 1);
                        ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
                        ASSERT_TRUE(obj && os);
                        ASSERT_TRUE(ASN1_OCTET_STRING_set(os, s->exts[i].val, (int) s->exts[i].len));
                        X509_EXTENSION *e = X509_EXTENSION_create_by_OBJ(NULL, obj, s->exts[i].critical, os);
                        ASSERT_TRUE(e);
                        ASSERT_TRUE(X509_add_ext(x, e, -1));
                        X509_EXTENSION_free(e);
                        ASN1_OBJECT_free(obj);
                        ASN1_OCTET_STRING_free(os);
                }
        }
        EVP_MD_CTX *ctx = tu_sign_ctx(s->issuer_key, s->sig_mode);
        ASSERT_TRUE(X509_sign_ctx(x, ctx) > 0);
        EVP_MD_CTX_free(ctx);
        return x;
}

/* DER of x (malloc'ed). */
static TU_UNUSED uint8_t *tu_x509_der(X509 *x, size_t *ret_len) {
        unsigned char *p = NULL;
        int n = i2d_X509(x, &p);
        ASSERT_TRUE(n > 0);
        uint8_t *out = malloc((size_t) n);
        ASSERT_TRUE(out);
        memcpy(out, p, (size_t) n);
        OPENSSL_free(p);
        *ret_len = (size_t) n;
        return out;
}

/* Build and load as a cp_amd_cert (must succeed). */
static TU_UNUSED cp_amd_cert *tu_load_spec(const tu_cert_spec *s) {
        X509 *x = tu_make_cert(s);
        size_t n;
        uint8_t *der = tu_x509_der(x, &n);
        cp_amd_cert *c = NULL;
        ASSERT_OK(cp_amd_cert_load(der, n, &c));
        free(der);
        X509_free(x);
        return c;
}

/* Build and try to load; returns the load result. */
static TU_UNUSED int tu_try_load_spec(const tu_cert_spec *s) {
        X509 *x = tu_make_cert(s);
        size_t n;
        uint8_t *der = tu_x509_der(x, &n);
        cp_amd_cert *c = NULL;
        int r = cp_amd_cert_load(der, n, &c);
        cp_amd_cert_free(c);
        free(der);
        X509_free(x);
        return r;
}

/* Standard Milan VCEK extension set (values: structVersion 1, productName
 * "Milan-B0", bl 3, tee 0, spl4-7 0, snp 8, ucode 115, hwID 64 x 0xab). */
static TU_UNUSED const uint8_t tu_v_int1[] = { 0x02, 0x01, 0x01 };
static TU_UNUSED const uint8_t tu_v_int0[] = { 0x02, 0x01, 0x00 };
static TU_UNUSED const uint8_t tu_v_int3[] = { 0x02, 0x01, 0x03 };
static TU_UNUSED const uint8_t tu_v_int8[] = { 0x02, 0x01, 0x08 };
static TU_UNUSED const uint8_t tu_v_int115[] = { 0x02, 0x01, 0x73 };
static TU_UNUSED const uint8_t tu_v_milan[] = { 0x16, 0x08, 'M', 'i', 'l', 'a', 'n', '-', 'B', '0' };
static TU_UNUSED uint8_t tu_v_hwid[64];

#define TU_OID(s) "1.3.6.1.4.1.3704.1." s
#define TU_MILAN_VCEK_EXTS                                                  \
        { TU_OID("1"), tu_v_int1, sizeof(tu_v_int1), false },               \
        { TU_OID("2"), tu_v_milan, sizeof(tu_v_milan), false },             \
        { TU_OID("3.1"), tu_v_int3, sizeof(tu_v_int3), false },             \
        { TU_OID("3.2"), tu_v_int0, sizeof(tu_v_int0), false },             \
        { TU_OID("3.4"), tu_v_int0, sizeof(tu_v_int0), false },             \
        { TU_OID("3.5"), tu_v_int0, sizeof(tu_v_int0), false },             \
        { TU_OID("3.6"), tu_v_int0, sizeof(tu_v_int0), false },             \
        { TU_OID("3.7"), tu_v_int0, sizeof(tu_v_int0), false },             \
        { TU_OID("3.3"), tu_v_int8, sizeof(tu_v_int8), false },             \
        { TU_OID("3.8"), tu_v_int115, sizeof(tu_v_int115), false },         \
        { TU_OID("4"), tu_v_hwid, sizeof(tu_v_hwid), false }

#endif
