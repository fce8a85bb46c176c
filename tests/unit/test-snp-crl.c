/* SPDX-License-Identifier: Apache-2.0 */
/* KDS-format CRLs: built here (no real AMD CRL is public) with an
 * ARK-profile root, RSASSA-PSS SHA-384 signatures, X509_CRL_* APIs. */
#include <stdlib.h>
#include <string.h>

#include "basic/cleanup.h"
#include "basic/cursor.h"
#include "confpool/snp_cert.h"
#include "snp-cert-testutil.h"
#include "tests.h"

typedef struct fixture {
        cp_amd_cert *ark, *ask, *ask2, *vcek;
        X509 *ark_x509;
} fixture;

static int64_t nb(void) {
        return T_2025_06_01 - T_YEAR;
}

static void fixture_make(fixture *f) {
        EVP_PKEY *rsa = tu_rsa4096();
        memset(f, 0, sizeof(*f));
        memset(tu_v_hwid, 0x11, sizeof(tu_v_hwid));
        tu_cert_spec ark = { .subject_cn = "ARK-Milan", .issuer_cn = "ARK-Milan", .subject_key = rsa,
                             .issuer_key = rsa, .not_before = nb(), .not_after = nb() + 25 * T_YEAR, .ca = true,
                             .serial = 1 };
        f->ark_x509 = tu_make_cert(&ark);
        f->ark = tu_load_spec(&ark);
        tu_cert_spec ask = ark;
        ask.subject_cn = "SEV-Milan";
        ask.serial = 0x10001;
        f->ask = tu_load_spec(&ask);
        ask.serial = 0x10002;
        f->ask2 = tu_load_spec(&ask);
        tu_ext exts[] = { TU_MILAN_VCEK_EXTS };
        tu_cert_spec vcek = { .subject_cn = "SEV-VCEK", .issuer_cn = "SEV-Milan", .subject_key = tu_p384(),
                              .issuer_key = rsa, .not_before = nb(), .not_after = nb() + 7 * T_YEAR, .serial = 0,
                              .exts = exts, .n_exts = CP_ELEMENTSOF(exts) };
        f->vcek = tu_load_spec(&vcek);
}

static void fixture_free(fixture *f) {
        cp_amd_cert_free(f->ark);
        cp_amd_cert_free(f->ask);
        cp_amd_cert_free(f->ask2);
        cp_amd_cert_free(f->vcek);
        X509_free(f->ark_x509);
}

typedef struct crl_spec {
        const char *issuer_cn;
        EVP_PKEY *key;
        int sig_mode;
        int64_t this_update, next_update; /* next_update 0: omitted */
        const long *revoked;
        size_t n_revoked;
        long version; /* X509_CRL_VERSION_2 unless -1 (v1) */
        bool critical_ext;
} crl_spec;

static uint8_t *make_crl(const crl_spec *s, size_t *ret_len) {
        X509_CRL *crl = X509_CRL_new();
        ASSERT_TRUE(crl);
        ASSERT_TRUE(X509_CRL_set_version(crl, s->version < 0 ? X509_CRL_VERSION_1 : X509_CRL_VERSION_2));
        X509_NAME *in = tu_amd_name(s->issuer_cn);
        ASSERT_TRUE(X509_CRL_set_issuer_name(crl, in));
        X509_NAME_free(in);
        ASN1_TIME *t = ASN1_TIME_set(NULL, (time_t) s->this_update);
        ASSERT_TRUE(t && X509_CRL_set1_lastUpdate(crl, t));
        ASN1_TIME_free(t);
        if (s->next_update) {
                t = ASN1_TIME_set(NULL, (time_t) s->next_update);
                ASSERT_TRUE(t && X509_CRL_set1_nextUpdate(crl, t));
                ASN1_TIME_free(t);
        }
        for (size_t i = 0; i < s->n_revoked; i++) {
                X509_REVOKED *r = X509_REVOKED_new();
                ASN1_INTEGER *serial = ASN1_INTEGER_new();
                ASSERT_TRUE(r && serial);
                ASSERT_TRUE(ASN1_INTEGER_set(serial, s->revoked[i]));
                ASSERT_TRUE(X509_REVOKED_set_serialNumber(r, serial));
                t = ASN1_TIME_set(NULL, (time_t) s->this_update);
                ASSERT_TRUE(X509_REVOKED_set_revocationDate(r, t));
                ASN1_TIME_free(t);
                ASN1_INTEGER_free(serial);
                ASSERT_TRUE(X509_CRL_add0_revoked(crl, r));
        }
        ASN1_INTEGER *num = ASN1_INTEGER_new();
        ASSERT_TRUE(num && ASN1_INTEGER_set(num, 7));
        ASSERT_TRUE(X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, s->critical_ext, 0));
        ASN1_INTEGER_free(num);
        ASSERT_TRUE(X509_CRL_sort(crl));
        EVP_MD_CTX *ctx = tu_sign_ctx(s->key, s->sig_mode);
        ASSERT_TRUE(X509_CRL_sign_ctx(crl, ctx) > 0);
        EVP_MD_CTX_free(ctx);
        unsigned char *p = NULL;
        int n = i2d_X509_CRL(crl, &p);
        ASSERT_TRUE(n > 0);
        uint8_t *out = malloc((size_t) n + 8);
        ASSERT_TRUE(out);
        memcpy(out, p, (size_t) n);
        OPENSSL_free(p);
        X509_CRL_free(crl);
        *ret_len = (size_t) n;
        return out;
}

static const long revoked_serials[] = { 0x10002, 0x4242 };

static crl_spec good_spec(void) {
        return (crl_spec){ .issuer_cn = "ARK-Milan", .key = tu_rsa4096(), .this_update = T_2025_06_01 - T_DAY,
                           .next_update = T_2025_06_01 + 30 * T_DAY, .revoked = revoked_serials,
                           .n_revoked = CP_ELEMENTSOF(revoked_serials) };
}

static int check_spec(const fixture *f, const crl_spec *s, const cp_amd_cert *cert, int64_t now) {
        size_t n;
        uint8_t *der = make_crl(s, &n);
        cp_amd_crl *crl = NULL;
        int r = cp_amd_crl_load(der, n, &crl);
        if (r == 0)
                r = cp_amd_crl_check(crl, f->ark, cert, now);
        cp_amd_crl_free(crl);
        free(der);
        return r;
}

TEST(crl_not_revoked_and_revoked) {
        fixture f;
        fixture_make(&f);
        crl_spec s = good_spec();
        size_t n;
        uint8_t *der = make_crl(&s, &n);
        cp_amd_crl *crl = NULL;
        ASSERT_OK(cp_amd_crl_load(der, n, &crl));
        ASSERT_OK(cp_amd_crl_check(crl, f.ark, f.ask, T_2025_06_01));
        ASSERT_OK(cp_amd_crl_check(crl, f.ark, f.vcek, T_2025_06_01));
        ASSERT_ERR(cp_amd_crl_check(crl, f.ark, f.ask2, T_2025_06_01), CP_EREVOKED);
        ASSERT_TRUE(strstr(cp_error_message(), "010002") != NULL);
        /* second round through the verdict cache */
        ASSERT_OK(cp_amd_crl_check(crl, f.ark, f.ask, T_2025_06_01));
        ASSERT_ERR(cp_amd_crl_check(crl, f.ark, f.ask2, T_2025_06_01), CP_EREVOKED);
        /* validity window: thisUpdate <= now < nextUpdate */
        ASSERT_OK(cp_amd_crl_check(crl, f.ark, f.ask, s.this_update));
        ASSERT_ERR(cp_amd_crl_check(crl, f.ark, f.ask, s.this_update - 1), CP_EEXPIRED);
        ASSERT_OK(cp_amd_crl_check(crl, f.ark, f.ask, s.next_update - 1));
        ASSERT_ERR(cp_amd_crl_check(crl, f.ark, f.ask, s.next_update), CP_EEXPIRED);
        ASSERT_TRUE(strstr(cp_error_message(), "stale") != NULL);
        /* argument checks */
        ASSERT_ERR(cp_amd_crl_check(crl, f.ask, f.ask, T_2025_06_01), CP_EINVAL);
        ASSERT_ERR(cp_amd_crl_check(crl, NULL, f.ask, T_2025_06_01), CP_EINVAL);
        ASSERT_ERR(cp_amd_crl_check(NULL, f.ark, f.ask, T_2025_06_01), CP_EINVAL);
        ASSERT_ERR(cp_amd_crl_check(crl, f.ark, NULL, T_2025_06_01), CP_EINVAL);
        cp_amd_crl_free(crl);
        /* a CRL with nothing revoked */
        s.n_revoked = 0;
        ASSERT_OK(check_spec(&f, &s, f.ask2, T_2025_06_01));
        free(der);
        fixture_free(&f);
}

TEST(crl_wrong_signer) {
        fixture f;
        fixture_make(&f);
        crl_spec s = good_spec();
        /* right name, wrong key */
        s.key = tu_rsa2048();
        ASSERT_ERR(check_spec(&f, &s, f.ask, T_2025_06_01), CP_ESIG);
        /* wrong issuer name */
        s = good_spec();
        s.issuer_cn = "ARK-Genoa";
        ASSERT_ERR(check_spec(&f, &s, f.ask, T_2025_06_01), CP_ECERT);
        /* PKCS#1 v1.5 and PSS with another salt are not AMD's profile */
        s = good_spec();
        s.sig_mode = TU_SIG_PKCS1_SHA384;
        ASSERT_ERR(check_spec(&f, &s, f.ask, T_2025_06_01), CP_ECERT);
        s.sig_mode = TU_SIG_PSS384_SALT32;
        ASSERT_ERR(check_spec(&f, &s, f.ask, T_2025_06_01), CP_ECERT);
        /* the real Milan ARK did not sign our CRL */
        cp_amd_trust *t = NULL;
        ASSERT_OK(cp_amd_trust_new_builtin(&t));
        s = good_spec();
        size_t n;
        uint8_t *der = make_crl(&s, &n);
        cp_amd_crl *crl = NULL;
        ASSERT_OK(cp_amd_crl_load(der, n, &crl));
        ASSERT_ERR(cp_amd_crl_check(crl, cp_amd_trust_ark(t, CP_SNP_GEN_MILAN), f.ask, T_2025_06_01), CP_ESIG);
        /* ... and a cached good verdict for our ARK does not leak to it */
        ASSERT_OK(cp_amd_crl_check(crl, f.ark, f.ask, T_2025_06_01));
        ASSERT_ERR(cp_amd_crl_check(crl, cp_amd_trust_ark(t, CP_SNP_GEN_MILAN), f.ask, T_2025_06_01), CP_ESIG);
        /* product mismatch between certificate and CRL signer */
        cp_amd_cert *genoa_ask = (cp_amd_cert *) cp_amd_trust_intermediate(t, CP_SNP_GEN_GENOA, CP_AMD_CERT_ASK);
        ASSERT_ERR(cp_amd_crl_check(crl, f.ark, genoa_ask, T_2025_06_01), CP_ECERT);
        cp_amd_crl_free(crl);
        free(der);
        cp_amd_trust_free(t);
        fixture_free(&f);
}

TEST(crl_time_window) {
        fixture f;
        fixture_make(&f);
        crl_spec s = good_spec();
        /* expired: nextUpdate in the past */
        s.this_update = T_2025_06_01 - 60 * T_DAY;
        s.next_update = T_2025_06_01 - 30 * T_DAY;
        ASSERT_ERR(check_spec(&f, &s, f.ask, T_2025_06_01), CP_EEXPIRED);
        /* thisUpdate in the future */
        s.this_update = T_2025_06_01 + T_DAY;
        s.next_update = T_2025_06_01 + 30 * T_DAY;
        ASSERT_ERR(check_spec(&f, &s, f.ask, T_2025_06_01), CP_EEXPIRED);
        ASSERT_TRUE(strstr(cp_error_message(), "not yet valid") != NULL);
        /* revoked but stale: staleness is reported first */
        s.this_update = T_2025_06_01 - 60 * T_DAY;
        s.next_update = T_2025_06_01 - 30 * T_DAY;
        ASSERT_ERR(check_spec(&f, &s, f.ask2, T_2025_06_01), CP_EEXPIRED);
        /* no nextUpdate */
        s = good_spec();
        s.next_update = 0;
        ASSERT_ERR(check_spec(&f, &s, f.ask, T_2025_06_01), CP_EFORMAT);
        /* nextUpdate before thisUpdate */
        s = good_spec();
        s.next_update = s.this_update - 1;
        ASSERT_ERR(check_spec(&f, &s, f.ask, T_2025_06_01), CP_EFORMAT);
        fixture_free(&f);
}

TEST(crl_format_negatives) {
        fixture f;
        fixture_make(&f);
        crl_spec s = good_spec();
        size_t n;
        uint8_t *der = make_crl(&s, &n);
        cp_amd_crl *crl = NULL;

        /* truncated at every length */
        for (size_t i = 0; i < n; i++)
                ASSERT_ERR(cp_amd_crl_load(der, i, &crl), CP_EFORMAT);
        /* consistent outer length, truncated body */
        uint8_t *cut = malloc(n);
        ASSERT_TRUE(cut);
        ASSERT_EQ(der[1], 0x82);
        for (size_t i = 5; i < n; i++) {
                memcpy(cut, der, i);
                cp_put_be16(cut + 2, (uint16_t) (i - 4));
                ASSERT_FAILS(cp_amd_crl_load(cut, i, &crl));
        }
        free(cut);
        /* trailing bytes */
        der[n] = 0;
        ASSERT_ERR(cp_amd_crl_load(der, n + 1, &crl), CP_ETRAILING);
        /* garbage */
        static const uint8_t garbage[] = "this is not a CRL";
        ASSERT_ERR(cp_amd_crl_load(garbage, sizeof(garbage), &crl), CP_EFORMAT);
        static const uint8_t seq_garbage[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
        ASSERT_ERR(cp_amd_crl_load(seq_garbage, sizeof(seq_garbage), &crl), CP_EFORMAT);
        ASSERT_ERR(cp_amd_crl_load(der, 0, &crl), CP_EFORMAT);
        ASSERT_ERR(cp_amd_crl_load(NULL, 3, &crl), CP_EINVAL);
        ASSERT_ERR(cp_amd_crl_load(der, n, NULL), CP_EINVAL);
        /* a certificate is not a CRL */
        size_t al;
        const uint8_t *ad = cp_amd_cert_der(f.ark, &al);
        ASSERT_ERR(cp_amd_crl_load(ad, al, &crl), CP_EFORMAT);
        /* a signature byte flipped: loads, fails the check */
        der[n - 5] ^= 0x40;
        ASSERT_OK(cp_amd_crl_load(der, n, &crl));
        ASSERT_ERR(cp_amd_crl_check(crl, f.ark, f.ask, T_2025_06_01), CP_ESIG);
        crl = cp_amd_crl_free(crl);
        ASSERT_TRUE(crl == NULL);
        free(der);
        /* v1 CRL */
        s = good_spec();
        s.version = -1;
        der = make_crl(&s, &n);
        ASSERT_ERR(cp_amd_crl_load(der, n, &crl), CP_EVERSION);
        free(der);
        /* critical CRL extension */
        s = good_spec();
        s.critical_ext = true;
        der = make_crl(&s, &n);
        ASSERT_ERR(cp_amd_crl_load(der, n, &crl), CP_EFORMAT);
        free(der);
        /* too big */
        uint8_t *huge = calloc(1, (1u << 20) + 16);
        ASSERT_TRUE(huge);
        ASSERT_ERR(cp_amd_crl_load(huge, (1u << 20) + 16, &crl), CP_ETOOBIG);
        free(huge);
        fixture_free(&f);
}

TEST(crl_pem) {
        fixture f;
        fixture_make(&f);
        crl_spec s = good_spec();
        size_t n;
        uint8_t *der = make_crl(&s, &n);
        X509_CRL *x = NULL;
        const unsigned char *p = der;
        x = d2i_X509_CRL(NULL, &p, (long) n);
        ASSERT_TRUE(x);
        BIO *b = BIO_new(BIO_s_mem());
        ASSERT_TRUE(b && PEM_write_bio_X509_CRL(b, x));
        char *pem = NULL;
        long pl = BIO_get_mem_data(b, &pem);
        ASSERT_TRUE(pl > 0);
        cp_amd_crl *crl = NULL;
        ASSERT_OK(cp_amd_crl_load((const uint8_t *) pem, (size_t) pl, &crl));
        ASSERT_ERR(cp_amd_crl_check(crl, f.ark, f.ask2, T_2025_06_01), CP_EREVOKED);
        cp_amd_crl_free(crl);
        ASSERT_ERR(cp_amd_crl_load((const uint8_t *) pem, (size_t) pl - 10, &crl), CP_EFORMAT);
        BIO_free(b);
        X509_CRL_free(x);
        free(der);
        fixture_free(&f);
}
