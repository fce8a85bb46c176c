/* SPDX-License-Identifier: Apache-2.0 */
/*
 * End-to-end verification of the real SEV-SNP evidence in tests/data/snp
 * (cases.json: reports from real AMD Milan/Genoa processors, Azure HCL
 * reports, an AWS VLEK report), plus tampering: every single-bit flip of the
 * signed area, tampered VCEKs, wrong chains, wrong products, expired VLEK.
 */
#include <jansson.h>
#include <stdlib.h>

#include "confpool/snp_verify.h"
#include "tests.h"

/* 2025-06-01T00:00:00Z: every certificate in the data is valid then. */
#define NOW_2025 INT64_C(1748736000)
/* 2026-11-25T00:00:00Z: the AWS VLEK has expired (2025-12-10). */
#define NOW_2026 INT64_C(1795564800)

typedef struct tcase {
        char report[256], leaf[256], chain[256], generation[16], signing_key[8], expect[16];
        long offset;
        int version;
        uint8_t *report_buf, *leaf_buf, *chain_buf;
        size_t report_len, leaf_len, chain_len;
} tcase;

static tcase *load_cases(size_t *ret_n) {
        size_t len;
        uint8_t *j = cp_test_read("snp/cases.json", &len);
        json_error_t err;
        json_t *root = json_loadb((const char *) j, len, 0, &err);
        free(j);
        ASSERT_TRUE(root && json_is_array(root));
        size_t n = json_array_size(root);
        ASSERT_TRUE(n >= 16);
        tcase *cs = calloc(n, sizeof(*cs));
        size_t i;
        json_t *e;
        json_array_foreach(root, i, e) {
                tcase *c = &cs[i];
                snprintf(c->report, sizeof(c->report), "snp/%s", json_string_value(json_object_get(e, "report")));
                snprintf(c->leaf, sizeof(c->leaf), "snp/%s",
                         json_string_value(json_object_get(e, "endorsement_key_cert")));
                snprintf(c->chain, sizeof(c->chain), "snp/%s", json_string_value(json_object_get(e, "ask_ark_chain")));
                snprintf(c->generation, sizeof(c->generation), "%s",
                         json_string_value(json_object_get(e, "generation")));
                snprintf(c->signing_key, sizeof(c->signing_key), "%s",
                         json_string_value(json_object_get(e, "signing_key")));
                snprintf(c->expect, sizeof(c->expect), "%s", json_string_value(json_object_get(e, "expect")));
                c->offset = (long) json_integer_value(json_object_get(e, "report_offset"));
                c->version = (int) json_integer_value(json_object_get(e, "report_version"));
                c->report_buf = cp_test_read(c->report, &c->report_len);
                ASSERT_TRUE(c->report_len >= (size_t) c->offset + CP_SNP_REPORT_SIZE);
                c->leaf_buf = cp_test_read(c->leaf, &c->leaf_len);
                c->chain_buf = cp_test_read(c->chain, &c->chain_len);
        }
        json_decref(root);
        *ret_n = n;
        return cs;
}

static void free_cases(tcase *cs, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(cs[i].report_buf);
                free(cs[i].leaf_buf);
                free(cs[i].chain_buf);
        }
        free(cs);
}

static cp_snp_evidence evidence_of(const tcase *c) {
        cp_snp_evidence ev = {
                .report = c->report_buf + c->offset,
                .report_len = CP_SNP_REPORT_SIZE,
                .leaf = c->leaf_buf,
                .leaf_len = c->leaf_len,
                .intermediate = c->chain_buf,
                .intermediate_len = c->chain_len,
        };
        return ev;
}

static bool is_vlek(const tcase *c) {
        return !strcmp(c->signing_key, "VLEK");
}

TEST(real_cases_give_expected_results) {
        size_t n;
        tcase *cs = load_cases(&n);
        cp_snp_verifier *v = NULL;
        ASSERT_OK(cp_snp_verifier_new(NULL, &v));
        unsigned verified = 0, rejected = 0;
        for (size_t i = 0; i < n; i++) {
                const tcase *c = &cs[i];
                cp_snp_evidence ev = evidence_of(c);
                cp_snp_verify_options o = CP_SNP_VERIFY_OPTIONS_INIT;
                /* VLEK certificates expired 2025-12-10: check them before that date */
                o.now = is_vlek(c) ? NOW_2025 : 0;
                cp_snp_verify_result res;
                int r = cp_snp_verify(v, &ev, &o, &res);
                if (!strcmp(c->expect, "verified")) {
                        if (r != 0)
                                cp_test_fail(__FILE__, __LINE__, "%s: expected verified, got %s: %s", c->report,
                                             cp_err_name(r), cp_error_message());
                        ASSERT_STREQ(cp_snp_generation_name(res.generation), c->generation);
                        ASSERT_EQ(res.report.version, c->version);
                        ASSERT_EQ(res.signer, is_vlek(c) ? CP_AMD_CERT_VLEK : CP_AMD_CERT_VCEK);
                        ASSERT_EQ(res.chip_id_checked, !is_vlek(c));
                        verified++;
                } else {
                        if (r >= 0)
                                cp_test_fail(__FILE__, __LINE__, "%s: expected rejection, got verified", c->report);
                        ASSERT_TRUE(r == CP_ECHIPID || r == CP_ESIG);
                        rejected++;
                }
        }
        ASSERT_EQ(verified, 15);
        ASSERT_EQ(rejected, 1);
        v = cp_snp_verifier_free(v);
        free_cases(cs, n);
}

TEST(vlek_expired_with_current_time) {
        size_t n;
        tcase *cs = load_cases(&n);
        cp_snp_verifier *v = NULL;
        ASSERT_OK(cp_snp_verifier_new(NULL, &v));
        unsigned seen = 0;
        for (size_t i = 0; i < n; i++) {
                if (!is_vlek(&cs[i]))
                        continue;
                cp_snp_evidence ev = evidence_of(&cs[i]);
                cp_snp_verify_options o = CP_SNP_VERIFY_OPTIONS_INIT;
                cp_snp_verify_result res;
                o.now = NOW_2026;
                ASSERT_ERR(cp_snp_verify(v, &ev, &o, &res), CP_EEXPIRED);
                /* the cached chain must not mask expiry either */
                o.now = NOW_2025;
                ASSERT_OK(cp_snp_verify(v, &ev, &o, &res));
                ASSERT_TRUE(res.csp_id[0] != '\0');
                o.now = NOW_2026;
                ASSERT_ERR(cp_snp_verify(v, &ev, &o, &res), CP_EEXPIRED);
                seen++;
        }
        ASSERT_TRUE(seen >= 1);
        v = cp_snp_verifier_free(v);
        free_cases(cs, n);
}

/* Every single-bit flip in 0x000-0x29F of every verifying report is
 * rejected.  CP_TEST_BITFLIP_STRIDE (default 1) thins the bits for slow
 * sanitizer builds. */
TEST(every_bit_flip_in_signed_area_is_rejected) {
        size_t n;
        tcase *cs = load_cases(&n);
        cp_snp_verifier *v = NULL;
        ASSERT_OK(cp_snp_verifier_new(NULL, &v));
        const char *st = getenv("CP_TEST_BITFLIP_STRIDE");
        size_t stride = st ? strtoul(st, NULL, 10) : 1;
        if (stride == 0)
                stride = 1;
        unsigned long flips = 0;
        for (size_t i = 0; i < n; i++) {
                const tcase *c = &cs[i];
                if (strcmp(c->expect, "verified") != 0)
                        continue;
                uint8_t rep[CP_SNP_REPORT_SIZE];
                memcpy(rep, c->report_buf + c->offset, sizeof(rep));
                cp_snp_evidence ev = evidence_of(c);
                ev.report = rep;
                cp_snp_verify_options o = CP_SNP_VERIFY_OPTIONS_INIT;
                o.now = is_vlek(c) ? NOW_2025 : 0;
                cp_snp_verify_result res;
                ASSERT_OK(cp_snp_verify(v, &ev, &o, &res));
                for (size_t bit = i % stride; bit < CP_SNP_REPORT_SIGNED_SIZE * 8; bit += stride) {
                        rep[bit / 8] ^= (uint8_t) (1u << (bit % 8));
                        int r = cp_snp_verify(v, &ev, &o, &res);
                        rep[bit / 8] ^= (uint8_t) (1u << (bit % 8));
                        if (r >= 0)
                                cp_test_fail(__FILE__, __LINE__, "%s: flip of bit %zu (byte 0x%zx) accepted",
                                             c->report, bit % 8, bit / 8);
                        flips++;
                }
        }
        printf("    %lu flipped reports rejected\n", flips);
        ASSERT_TRUE(flips > 0);
        v = cp_snp_verifier_free(v);
        free_cases(cs, n);
}

TEST(signature_area_tampering_rejected) {
        size_t n;
        tcase *cs = load_cases(&n);
        cp_snp_verifier *v = NULL;
        ASSERT_OK(cp_snp_verifier_new(NULL, &v));
        const tcase *c = &cs[1]; /* virtee Milan report */
        uint8_t rep[CP_SNP_REPORT_SIZE];
        memcpy(rep, c->report_buf, sizeof(rep));
        cp_snp_evidence ev = evidence_of(c);
        ev.report = rep;
        cp_snp_verify_result res;
        /* r and s, low (significant) bytes */
        for (size_t off = 0x2A0; off < 0x2A0 + 48; off += 5) {
                rep[off] ^= 0x80;
                ASSERT_ERR(cp_snp_verify(v, &ev, NULL, &res), CP_ESIG);
                rep[off] ^= 0x80;
        }
        for (size_t off = 0x2E8; off < 0x2E8 + 48; off += 5) {
                rep[off] ^= 0x01;
                ASSERT_ERR(cp_snp_verify(v, &ev, NULL, &res), CP_ESIG);
                rep[off] ^= 0x01;
        }
        /* zero padding of r and the rest of the signature area is MBZ */
        rep[0x2A0 + 60] = 1;
        ASSERT_ERR(cp_snp_verify(v, &ev, NULL, &res), CP_EMBZ);
        rep[0x2A0 + 60] = 0;
        rep[0x400] = 1;
        ASSERT_ERR(cp_snp_verify(v, &ev, NULL, &res), CP_EMBZ);
        rep[0x400] = 0;
        ASSERT_OK(cp_snp_verify(v, &ev, NULL, &res));
        v = cp_snp_verifier_free(v);
        free_cases(cs, n);
}

TEST(truncated_extended_and_mangled_inputs) {
        size_t n;
        tcase *cs = load_cases(&n);
        cp_snp_verifier *v = NULL;
        ASSERT_OK(cp_snp_verifier_new(NULL, &v));
        const tcase *c = &cs[0];
        uint8_t big[CP_SNP_REPORT_SIZE + 1];
        memcpy(big, c->report_buf, CP_SNP_REPORT_SIZE);
        big[CP_SNP_REPORT_SIZE] = 0;
        cp_snp_evidence ev = evidence_of(c);
        cp_snp_verify_result res;
        ev.report_len = CP_SNP_REPORT_SIZE - 1;
        ASSERT_ERR(cp_snp_verify(v, &ev, NULL, &res), CP_ETRUNC);
        ev.report_len = 0;
        ASSERT_ERR(cp_snp_verify(v, &ev, NULL, &res), CP_ETRUNC);
        ev.report = big;
        ev.report_len = sizeof(big);
        ASSERT_ERR(cp_snp_verify(v, &ev, NULL, &res), CP_ETRAILING);
        ev.report_len = CP_SNP_REPORT_SIZE;
        big[0] = 9; /* version 9 */
        ASSERT_ERR(cp_snp_verify(v, &ev, NULL, &res), CP_EVERSION);
        big[0] = 1;
        ASSERT_ERR(cp_snp_verify(v, &ev, NULL, &res), CP_EVERSION);
        /* with the opt-in, a newer version parses and then fails the signature */
        big[0] = 9;
        cp_snp_verify_options o = CP_SNP_VERIFY_OPTIONS_INIT;
        o.parse_flags = CP_SNP_PARSE_ALLOW_NEWER;
        ASSERT_ERR(cp_snp_verify(v, &ev, &o, &res), CP_ESIG);
        /* options with a wrong version are refused */
        o.version = 99;
        ASSERT_ERR(cp_snp_verify(v, &ev, &o, &res), CP_EINVAL);
        v = cp_snp_verifier_free(v);
        free_cases(cs, n);
}

TEST(tampered_and_mismatched_certificates) {
        size_t n;
        tcase *cs = load_cases(&n);
        cp_snp_verifier *v = NULL;
        ASSERT_OK(cp_snp_verifier_new(NULL, &v));
        const tcase *c = &cs[2]; /* trustee test-report.bin with test-vcek.der */
        ASSERT_TRUE(strstr(c->report, "trustee/snp/test-report.bin") != NULL);
        cp_snp_evidence ev = evidence_of(c);
        cp_snp_verify_result res;
        ASSERT_OK(cp_snp_verify(v, &ev, NULL, &res));
        static const char *tampered[] = { "snp/confidential-containers__trustee/snp/test-vcek-invalid-legacy.der",
                                          "snp/confidential-containers__trustee/snp/test-vcek-invalid-new.der" };
        for (size_t i = 0; i < 2; i++) {
                size_t len;
                uint8_t *bad = cp_test_read(tampered[i], &len);
                ev.leaf = bad;
                ev.leaf_len = len;
                int r = cp_snp_verify(v, &ev, NULL, &res);
                if (r >= 0)
                        cp_test_fail(__FILE__, __LINE__, "%s accepted", tampered[i]);
                free(bad);
        }
        /* a VCEK of another chip */
        ev = evidence_of(c);
        ev.leaf = cs[0].leaf_buf;
        ev.leaf_len = cs[0].leaf_len;
        ASSERT_FAILS(cp_snp_verify(v, &ev, NULL, &res));
        /* the Genoa chain for a Milan VCEK */
        ev = evidence_of(c);
        size_t glen;
        uint8_t *genoa = cp_test_read("snp/google__go-sev-guest/ask_ark_genoa.pem", &glen);
        ev.intermediate = genoa;
        ev.intermediate_len = glen;
        ASSERT_FAILS(cp_snp_verify(v, &ev, NULL, &res));
        free(genoa);
        /* requiring another product */
        ev = evidence_of(c);
        cp_snp_verify_options o = CP_SNP_VERIFY_OPTIONS_INIT;
        o.product = CP_SNP_GEN_GENOA;
        ASSERT_ERR(cp_snp_verify(v, &ev, &o, &res), CP_ECERT);
        o.product = CP_SNP_GEN_MILAN;
        ASSERT_OK(cp_snp_verify(v, &ev, &o, &res));
        /* no certificate at all */
        ev.leaf = NULL;
        ev.leaf_len = 0;
        ASSERT_ERR(cp_snp_verify(v, &ev, NULL, &res), CP_ENOTFOUND);
        /* an empty trust store trusts nothing */
        cp_amd_trust *empty = NULL;
        ASSERT_OK(cp_amd_trust_new_empty(&empty));
        cp_snp_verifier *v2 = NULL;
        ASSERT_OK(cp_snp_verifier_new(empty, &v2));
        ev = evidence_of(c);
        ASSERT_ERR(cp_snp_verify(v2, &ev, NULL, &res), CP_EUNTRUSTED);
        v2 = cp_snp_verifier_free(v2);
        v = cp_snp_verifier_free(v);
        free_cases(cs, n);
}

TEST(revocation_required_without_crl_fails) {
        size_t n;
        tcase *cs = load_cases(&n);
        cp_snp_verifier *v = NULL;
        ASSERT_OK(cp_snp_verifier_new(NULL, &v));
        cp_snp_evidence ev = evidence_of(&cs[1]);
        cp_snp_verify_options o = CP_SNP_VERIFY_OPTIONS_INIT;
        o.check_revocation = true;
        cp_snp_verify_result res;
        ASSERT_ERR(cp_snp_verify(v, &ev, &o, &res), CP_EREVOKED);
        v = cp_snp_verifier_free(v);
        free_cases(cs, n);
}

TEST(backends_agree_and_cache_hits) {
        size_t n;
        tcase *cs = load_cases(&n);
        cp_snp_verifier *v = NULL;
        ASSERT_OK(cp_snp_verifier_new(NULL, &v));
        for (size_t i = 0; i < n; i++) {
                const tcase *c = &cs[i];
                if (strcmp(c->expect, "verified") != 0)
                        continue;
                cp_snp_evidence ev = evidence_of(c);
                uint8_t rep[CP_SNP_REPORT_SIZE];
                memcpy(rep, ev.report, sizeof(rep));
                ev.report = rep;
                cp_snp_verify_options o = CP_SNP_VERIFY_OPTIONS_INIT;
                o.now = is_vlek(c) ? NOW_2025 : 0;
                cp_snp_verify_result res;
                ASSERT_OK(cp_snp_verify(v, &ev, &o, &res)); /* the first call fills the cache */
                for (int b = CP_P384_BACKEND_NETTLE; b <= CP_P384_BACKEND_OPENSSL; b++) {
                        o.backend = (cp_p384_backend) b;
                        ASSERT_OK(cp_snp_verify(v, &ev, &o, &res));
                        ASSERT_TRUE(res.cache_hit); /* second and later calls */
                        rep[0x90] ^= 1;              /* measurement */
                        ASSERT_ERR(cp_snp_verify(v, &ev, &o, &res), CP_ESIG);
                        rep[0x90] ^= 1;
                }
        }
        v = cp_snp_verifier_free(v);
        free_cases(cs, n);
}

TEST(policy_applied_after_crypto) {
        size_t n;
        tcase *cs = load_cases(&n);
        cp_snp_verifier *v = NULL;
        ASSERT_OK(cp_snp_verifier_new(NULL, &v));
        /* go-sev-guest's sample report has policy 0xb0000: DEBUG allowed */
        const tcase *c = &cs[0];
        ASSERT_TRUE(strstr(c->report, "go-sev-guest/attestation.bin") != NULL);
        cp_snp_evidence ev = evidence_of(c);
        cp_snp_policy p;
        cp_snp_policy_init(&p);
        cp_snp_verify_options o = CP_SNP_VERIFY_OPTIONS_INIT;
        o.policy = &p;
        cp_snp_verify_result res;
        ASSERT_ERR(cp_snp_verify(v, &ev, &o, &res), CP_EPOLICY);
        ASSERT_TRUE(strstr(cp_error_message(), "ebug") != NULL);
        p.allow_debug = true;
        ASSERT_OK(cp_snp_verify(v, &ev, &o, &res));
        ASSERT_TRUE(res.policy_checked);
        /* a measurement pin */
        uint8_t m[48];
        memcpy(m, res.report.measurement, 48);
        m[0] ^= 1;
        ASSERT_OK(cp_snp_bytes_set_add(&p.measurements, m, 48));
        ASSERT_ERR(cp_snp_verify(v, &ev, &o, &res), CP_EPOLICY);
        m[0] ^= 1;
        ASSERT_OK(cp_snp_bytes_set_add(&p.measurements, m, 48));
        ASSERT_OK(cp_snp_verify(v, &ev, &o, &res));
        cp_snp_policy_clear(&p);
        v = cp_snp_verifier_free(v);
        free_cases(cs, n);
}
