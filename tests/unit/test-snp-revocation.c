/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Revocation in cp_snp_verify: the ARK-signed CRL is checked against the
 * ASK the leaf was actually verified under, including an ASK supplied with
 * the evidence (the host controls the certificate table), with or without a
 * pinned intermediate in the trust store.
 */
#include <stdlib.h>
#include <string.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include "basic/cleanup.h"
#include "basic/cursor.h"
#include "confpool/snp_verify.h"
#include "snp-cert-testutil.h"
#include "tests.h"

static uint8_t *make_crl(EVP_PKEY *key, int64_t tu, int64_t nu, long revoked, size_t *ret_len) {
        X509_CRL *crl = X509_CRL_new();
        ASSERT_TRUE(X509_CRL_set_version(crl, X509_CRL_VERSION_2));
        X509_NAME *in = tu_amd_name("ARK-Milan");
        ASSERT_TRUE(X509_CRL_set_issuer_name(crl, in));
        X509_NAME_free(in);
        ASN1_TIME *t = ASN1_TIME_set(NULL, (time_t) tu);
        X509_CRL_set1_lastUpdate(crl, t);
        ASN1_TIME_free(t);
        t = ASN1_TIME_set(NULL, (time_t) nu);
        X509_CRL_set1_nextUpdate(crl, t);
        ASN1_TIME_free(t);
        X509_REVOKED *r = X509_REVOKED_new();
        ASN1_INTEGER *serial = ASN1_INTEGER_new();
        ASN1_INTEGER_set(serial, revoked);
        X509_REVOKED_set_serialNumber(r, serial);
        t = ASN1_TIME_set(NULL, (time_t) tu);
        X509_REVOKED_set_revocationDate(r, t);
        ASN1_TIME_free(t);
        ASN1_INTEGER_free(serial);
        X509_CRL_add0_revoked(crl, r);
        X509_CRL_sort(crl);
        EVP_MD_CTX *ctx = tu_sign_ctx(key, TU_SIG_PSS384);
        ASSERT_TRUE(X509_CRL_sign_ctx(crl, ctx) > 0);
        EVP_MD_CTX_free(ctx);
        unsigned char *p = NULL;
        int n = i2d_X509_CRL(crl, &p);
        uint8_t *out = malloc((size_t) n);
        memcpy(out, p, (size_t) n);
        OPENSSL_free(p);
        X509_CRL_free(crl);
        *ret_len = (size_t) n;
        return out;
}

/* v2 Milan report signed by key, TCB bl3 tee0 snp8 ucode115, CHIP_ID 0x11.. */
static void make_report(EVP_PKEY *key, uint8_t rep[CP_SNP_REPORT_SIZE]) {
        memset(rep, 0, CP_SNP_REPORT_SIZE);
        cp_put_le32(rep + 0, 2);
        cp_put_le64(rep + 8, 0x30000);
        cp_put_le32(rep + 0x34, 1);
        uint64_t tcb = 3 | (uint64_t) 8 << 48 | (uint64_t) 115 << 56;
        cp_put_le64(rep + 0x38, tcb);
        cp_put_le64(rep + 0x180, tcb);
        memset(rep + 0x1a0, 0x11, 64);
        cp_put_le64(rep + 0x1e0, tcb);
        cp_put_le64(rep + 0x1f0, tcb);
        uint8_t dg[48];
        unsigned dl;
        EVP_Digest(rep, 0x2a0, dg, &dl, EVP_sha384(), NULL);
        EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new(key, NULL);
        EVP_PKEY_sign_init(pc);
        unsigned char der[160];
        size_t derlen = sizeof(der);
        ASSERT_TRUE(EVP_PKEY_sign(pc, der, &derlen, dg, 48) == 1);
        EVP_PKEY_CTX_free(pc);
        const unsigned char *q = der;
        ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &q, (long) derlen);
        uint8_t be[48];
        BN_bn2binpad(ECDSA_SIG_get0_r(s), be, 48);
        for (int i = 0; i < 48; i++)
                rep[0x2a0 + i] = be[47 - i];
        BN_bn2binpad(ECDSA_SIG_get0_s(s), be, 48);
        for (int i = 0; i < 48; i++)
                rep[0x2e8 + i] = be[47 - i];
        ECDSA_SIG_free(s);
}

TEST(crl_is_checked_against_the_intermediate_actually_used) {
        EVP_PKEY *rsa = tu_rsa4096();
        int64_t nb = T_2025_06_01 - T_YEAR;
        memset(tu_v_hwid, 0x11, sizeof(tu_v_hwid));
        tu_cert_spec ark = { .subject_cn = "ARK-Milan", .issuer_cn = "ARK-Milan", .subject_key = rsa,
                             .issuer_key = rsa, .not_before = nb, .not_after = nb + 25 * T_YEAR, .ca = true,
                             .serial = 1 };
        cp_amd_cert *arkc = tu_load_spec(&ark);
        tu_cert_spec ask = ark;
        ask.subject_cn = "SEV-Milan";
        ask.serial = 0x10001;
        cp_amd_cert *ask_good = tu_load_spec(&ask);
        X509 *ask_good_x = tu_make_cert(&ask);
        size_t ask_good_len;
        uint8_t *ask_good_der = tu_x509_der(ask_good_x, &ask_good_len);
        ask.serial = 0x10002; /* this one is revoked */
        X509 *ask_bad_x = tu_make_cert(&ask);
        size_t ask_bad_len;
        uint8_t *ask_bad = tu_x509_der(ask_bad_x, &ask_bad_len);
        EVP_PKEY *vk = tu_p384();
        tu_ext exts[] = { TU_MILAN_VCEK_EXTS };
        tu_cert_spec vcek = { .subject_cn = "SEV-VCEK", .issuer_cn = "SEV-Milan", .subject_key = vk,
                              .issuer_key = rsa, .not_before = nb, .not_after = nb + 7 * T_YEAR, .serial = 0,
                              .exts = exts, .n_exts = CP_ELEMENTSOF(exts) };
        X509 *vx = tu_make_cert(&vcek);
        size_t vlen;
        uint8_t *vder = tu_x509_der(vx, &vlen);
        uint8_t rep[CP_SNP_REPORT_SIZE];
        make_report(vk, rep);
        size_t cl;
        uint8_t *crlb = make_crl(rsa, T_2025_06_01 - T_DAY, T_2025_06_01 + 30 * T_DAY, 0x10002, &cl);

        for (int variant = 0; variant < 2; variant++) {
                cp_amd_trust *t = NULL;
                ASSERT_OK(cp_amd_trust_new_empty(&t));
                ASSERT_OK(cp_amd_trust_add_ark(t, arkc));
                if (variant == 1) /* like the built-in store: a non-revoked ASK is pinned */
                        ASSERT_OK(cp_amd_trust_add_intermediate(t, ask_good, T_2025_06_01));
                cp_snp_verifier *v = NULL;
                ASSERT_OK(cp_snp_verifier_new(t, &v));
                cp_amd_crl *crl = NULL;
                ASSERT_OK(cp_amd_crl_load(crlb, cl, &crl));
                ASSERT_OK(cp_snp_verifier_add_crl(v, CP_SNP_GEN_MILAN, CP_AMD_CERT_ASK, crl));
                cp_snp_evidence ev = { .report = rep, .report_len = sizeof(rep), .leaf = vder, .leaf_len = vlen,
                                       .intermediate = ask_bad, .intermediate_len = ask_bad_len };
                cp_snp_verify_options o = CP_SNP_VERIFY_OPTIONS_INIT;
                o.now = T_2025_06_01;
                cp_snp_verify_result res;
                /* without a revocation check the revoked ASK's chain is cryptographically fine */
                ASSERT_OK(cp_snp_verify(v, &ev, &o, &res));
                ASSERT_FALSE(res.revocation_checked);
                o.check_revocation = true;
                ASSERT_ERR(cp_snp_verify(v, &ev, &o, &res), CP_EREVOKED);
                /* the same leaf under the good ASK passes the revocation check */
                ev.intermediate = ask_good_der;
                ev.intermediate_len = ask_good_len;
                ASSERT_OK(cp_snp_verify(v, &ev, &o, &res));
                ASSERT_TRUE(res.revocation_checked);
                /* past the CRL's nextUpdate the CRL itself is stale */
                o.now = T_2025_06_01 + 31 * T_DAY;
                ASSERT_ERR(cp_snp_verify(v, &ev, &o, &res), CP_EEXPIRED);
                v = cp_snp_verifier_free(v);
        }
        free(crlb);
        free(vder);
        X509_free(vx);
        free(ask_bad);
        X509_free(ask_bad_x);
        free(ask_good_der);
        X509_free(ask_good_x);
        cp_amd_cert_free(ask_good);
        cp_amd_cert_free(arkc);
}
