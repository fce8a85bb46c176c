/* SPDX-License-Identifier: Apache-2.0 */
/* AMD SEV-SNP certificates: loading real ARK/ASK/ASVK/VCEK/VLEK, AMD
 * extensions, the built-in trust store, chain verification, negatives. */
#include <stdlib.h>
#include <string.h>

#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/cursor.h"
#include "confpool/snp_cert.h"
#include "snp-cert-testutil.h"
#include "tests.h"

typedef struct leaf_case {
        const char *leaf, *chain, *report;
        size_t report_offset;
        cp_snp_generation gen;
        cp_amd_cert_kind kind;
        uint64_t reported_tcb; /* from cases.json, as the little-endian u64 of the report */
        bool verified;
} leaf_case;

/* tests/data/snp/cases.json */
static const leaf_case cases[] = {
        { "google__go-sev-guest/vcek.testcer", "virtee__sev/cert_chain_milan", "google__go-sev-guest/attestation.bin", 0, CP_SNP_GEN_MILAN, CP_AMD_CERT_VCEK, UINT64_C(0x4405000000000002), true },
        { "virtee__sev/vcek_milan.der", "virtee__sev/cert_chain_milan", "virtee__sev/report_milan.bin", 0, CP_SNP_GEN_MILAN, CP_AMD_CERT_VCEK, UINT64_C(0x7308000000000003), true },
        { "confidential-containers__trustee/snp/test-vcek.der", "virtee__sev/cert_chain_milan", "confidential-containers__trustee/snp/test-report.bin", 0, CP_SNP_GEN_MILAN, CP_AMD_CERT_VCEK, UINT64_C(0x7308000000000003), true },
        { "confidential-containers__trustee/snp/test-vlek.der", "google__go-sev-guest/ask_ark_milan_vlek.pem", "confidential-containers__trustee/snp/test-vlek-report.bin", 0, CP_SNP_GEN_MILAN, CP_AMD_CERT_VLEK, UINT64_C(0xd918000000000004), true },
        { "confidential-containers__trustee/az-snp-vtpm/vcek.pem", "virtee__sev/cert_chain_milan", "confidential-containers__trustee/az-snp-vtpm/hcl-report.bin", 32, CP_SNP_GEN_MILAN, CP_AMD_CERT_VCEK, UINT64_C(0x7308000000000003), true },
        { "confidential-containers__trustee/az-snp-vtpm/evidence-v0.vcek.pem", "virtee__sev/cert_chain_milan", "confidential-containers__trustee/az-snp-vtpm/evidence-v0.hcl-report.bin", 32, CP_SNP_GEN_MILAN, CP_AMD_CERT_VCEK, UINT64_C(0xdb18000000000004), true },
        { "confidential-containers__trustee/az-snp-vtpm/evidence-v1.vcek.der", "virtee__sev/cert_chain_milan", "confidential-containers__trustee/az-snp-vtpm/evidence-v1.hcl-report.bin", 32, CP_SNP_GEN_MILAN, CP_AMD_CERT_VCEK, UINT64_C(0xdb18000000000004), true },
        { "confidential-containers__trustee/az-snp-vtpm/evidence-v2.vcek.der", "virtee__sev/cert_chain_milan", "confidential-containers__trustee/az-snp-vtpm/evidence-v2.hcl-report.bin", 32, CP_SNP_GEN_MILAN, CP_AMD_CERT_VCEK, UINT64_C(0xdb18000000000004), true },
        { "confidential-containers__trustee/az-snp-vtpm/evidence-genoa.vcek.pem", "google__go-sev-guest/ask_ark_genoa.pem", "confidential-containers__trustee/az-snp-vtpm/evidence-genoa.hcl-report.bin", 32, CP_SNP_GEN_GENOA, CP_AMD_CERT_VCEK, UINT64_C(0x541700000000000a), true },
        { "confidential-containers__trustee/az-snp-vtpm/vcek-genoa.pem", "google__go-sev-guest/ask_ark_genoa.pem", "confidential-containers__trustee/az-snp-vtpm/evidence-genoa.hcl-report.bin", 32, CP_SNP_GEN_GENOA, CP_AMD_CERT_VCEK, UINT64_C(0x541700000000000a), true },
        { "kinvolk__azure-cvm-tooling/certs.pem", "virtee__sev/cert_chain_milan", "kinvolk__azure-cvm-tooling/hcl-report-snp.bin", 32, CP_SNP_GEN_MILAN, CP_AMD_CERT_VCEK, UINT64_C(0x7308000000000003), false },
        { "project-oak__oak/milan_oc_release_endorsements.vcek.bin", "virtee__sev/cert_chain_milan", "project-oak__oak/milan_oc_release_evidence.report.bin", 0, CP_SNP_GEN_MILAN, CP_AMD_CERT_VCEK, UINT64_C(0xdb18000000000004), true },
        { "project-oak__oak/milan_oc_staging_endorsements.vcek.bin", "virtee__sev/cert_chain_milan", "project-oak__oak/milan_oc_staging_evidence.report.bin", 0, CP_SNP_GEN_MILAN, CP_AMD_CERT_VCEK, UINT64_C(0xdb18000000000004), true },
        { "project-oak__oak/milan_rk_release_endorsements.vcek.bin", "virtee__sev/cert_chain_milan", "project-oak__oak/milan_rk_release_evidence.report.bin", 0, CP_SNP_GEN_MILAN, CP_AMD_CERT_VCEK, UINT64_C(0xdb18000000000004), true },
        { "project-oak__oak/milan_rk_staging_endorsements.vcek.bin", "virtee__sev/cert_chain_milan", "project-oak__oak/milan_rk_staging_evidence.report.bin", 0, CP_SNP_GEN_MILAN, CP_AMD_CERT_VCEK, UINT64_C(0xdb18000000000004), true },
        { "project-oak__oak/genoa_oc_endorsements.vcek.bin", "google__go-sev-guest/ask_ark_genoa.pem", "project-oak__oak/genoa_oc_evidence.report.bin", 0, CP_SNP_GEN_GENOA, CP_AMD_CERT_VCEK, UINT64_C(0x541900000000000a), true },
};

/* Pinned SHA-256 fingerprints, reference/snp-anchors.md section 1b. */
static const struct {
        cp_snp_generation gen;
        cp_amd_cert_kind kind;
        const char *sha256;
} pins[] = {
        { CP_SNP_GEN_MILAN, CP_AMD_CERT_ARK, "69D063B45344D26A2E94E1F4210DE49EF555308287D4C174445C95639A540BCD" },
        { CP_SNP_GEN_MILAN, CP_AMD_CERT_ASK, "67D303BD3905FD38DB8B20E0793699870E7FA612EAAD5DEC358293FD8C0BAC1B" },
        { CP_SNP_GEN_MILAN, CP_AMD_CERT_ASVK, "C5E081F59B7EFAB1FE2F8B505E159704E72F29CAB7EF7CF628A05A42439082F5" },
        { CP_SNP_GEN_GENOA, CP_AMD_CERT_ARK, "4C6598D19C18719C5DFD4A7D335F674E5BFE1D8F800CEA2CF270C10D103DB2F1" },
        { CP_SNP_GEN_GENOA, CP_AMD_CERT_ASK, "5464738C1546AED5F2CECF1DC98C5C960A92E8913238A61711BC90EC6E828521" },
        { CP_SNP_GEN_GENOA, CP_AMD_CERT_ASVK, "197E610743A917D6B9BB982A5A9226CCC0A15B611BE0619E626ACA9151457372" },
        { CP_SNP_GEN_TURIN, CP_AMD_CERT_ARK, "1F084161A44BB6D93778A904877D4819CAFA5D05EF4193B2DED9DD9C73DD3F6A" },
        { CP_SNP_GEN_TURIN, CP_AMD_CERT_ASK, "5B77EF5FE7A7A004FD9032668FBA9D0FDA22F88C4442069A479636A6AE3B3185" },
        { CP_SNP_GEN_TURIN, CP_AMD_CERT_ASVK, "104E10A8BD060A3C20A434261A57D0588FD65A88915B4F65B08BDECAF8DF1A3C" },
};

/* Test data under tests/data/snp/. */
static uint8_t *snp_read(const char *rel, size_t *ret_len) {
        char path[512];
        snprintf(path, sizeof(path), "snp/%s", rel);
        return cp_test_read(path, ret_len);
}

/* Load the first certificate of a file (some hold VCEK+ASK+ARK). */
static cp_amd_cert *load_leaf(const char *rel) {
        size_t len, n = 0;
        uint8_t *buf = snp_read(rel, &len);
        cp_amd_cert *certs[4] = { NULL };
        ASSERT_OK(cp_amd_cert_load_bundle(buf, len, certs, 4, &n));
        for (size_t i = 1; i < n; i++)
                cp_amd_cert_free(certs[i]);
        free(buf);
        return certs[0];
}

static cp_amd_cert *load_one(const char *rel) {
        size_t len;
        uint8_t *buf = snp_read(rel, &len);
        cp_amd_cert *c = NULL;
        ASSERT_OK(cp_amd_cert_load(buf, len, &c));
        free(buf);
        return c;
}

static void load_chain(const char *rel, cp_amd_cert **ask, cp_amd_cert **ark) {
        size_t len;
        uint8_t *buf = snp_read(rel, &len);
        ASSERT_OK(cp_amd_cert_load_chain(buf, len, ask, ark));
        free(buf);
}

static cp_amd_trust *builtin(void) {
        cp_amd_trust *t = NULL;
        ASSERT_OK(cp_amd_trust_new_builtin(&t));
        return t;
}

/* TCB_VERSION decoded by hand: Milan/Genoa [bl, tee, 0,0,0,0, snp, ucode],
 * Turin [fmc, bl, tee, snp, 0,0,0, ucode]. */
static void decode_tcb(uint64_t raw, cp_snp_generation g, cp_snp_tcb *t) {
        uint8_t b[8];
        cp_put_le64(b, raw);
        memset(t, 0, sizeof(*t));
        if (g == CP_SNP_GEN_TURIN) {
                *t = (cp_snp_tcb){ .fmc = b[0], .bl = b[1], .tee = b[2], .snp = b[3], .ucode = b[7], .has_fmc = true };
        } else {
                *t = (cp_snp_tcb){ .bl = b[0], .tee = b[1], .snp = b[6], .ucode = b[7] };
        }
}

static void assert_tcb_eq(const cp_snp_tcb *a, const cp_snp_tcb *b) {
        ASSERT_EQ(a->bl, b->bl);
        ASSERT_EQ(a->tee, b->tee);
        ASSERT_EQ(a->snp, b->snp);
        ASSERT_EQ(a->ucode, b->ucode);
        ASSERT_EQ(a->fmc, b->fmc);
        ASSERT_EQ(a->has_fmc, b->has_fmc);
}

TEST(kind_names) {
        ASSERT_STREQ(cp_amd_cert_kind_name(CP_AMD_CERT_ARK), "ARK");
        ASSERT_STREQ(cp_amd_cert_kind_name(CP_AMD_CERT_ASK), "ASK");
        ASSERT_STREQ(cp_amd_cert_kind_name(CP_AMD_CERT_ASVK), "ASVK");
        ASSERT_STREQ(cp_amd_cert_kind_name(CP_AMD_CERT_VCEK), "VCEK");
        ASSERT_STREQ(cp_amd_cert_kind_name(CP_AMD_CERT_VLEK), "VLEK");
        ASSERT_STREQ(cp_amd_cert_kind_name(CP_AMD_CERT_UNKNOWN), "unknown");
        ASSERT_STREQ(cp_amd_cert_kind_name((cp_amd_cert_kind) 99), "unknown");
}

TEST(builtin_store_pinned) {
        cp_amd_trust *t = builtin();
        for (size_t i = 0; i < CP_ELEMENTSOF(pins); i++) {
                const cp_amd_cert *c = pins[i].kind == CP_AMD_CERT_ARK
                                               ? cp_amd_trust_ark(t, pins[i].gen)
                                               : cp_amd_trust_intermediate(t, pins[i].gen, pins[i].kind);
                ASSERT_TRUE(c);
                const cp_amd_cert_info *info = cp_amd_cert_info_get(c);
                uint8_t want[32];
                size_t n;
                ASSERT_OK(cp_hex_decode(pins[i].sha256, 64, want, sizeof(want), &n));
                ASSERT_EQ(n, 32);
                ASSERT_MEMEQ(info->sha256, want, 32);
                ASSERT_EQ(info->kind, pins[i].kind);
                ASSERT_EQ(info->generation, pins[i].gen);
                ASSERT_FALSE(info->has_tcb);
                ASSERT_EQ(info->hwid_len, 0);
                ASSERT_STREQ(info->product_name, "");
        }
        ASSERT_TRUE(cp_amd_trust_ark(t, CP_SNP_GEN_UNKNOWN) == NULL);
        ASSERT_TRUE(cp_amd_trust_intermediate(t, CP_SNP_GEN_MILAN, CP_AMD_CERT_VCEK) == NULL);
        cp_amd_trust_free(t);
}

TEST(builtin_matches_published_files) {
        /* The compiled-in copies equal go-sev-guest's and virtee's files. */
        static const struct {
                const char *file;
                cp_snp_generation gen;
        } files[] = {
                { "google__go-sev-guest/ask_ark_milan.pem", CP_SNP_GEN_MILAN },
                { "google__go-sev-guest/ask_ark_genoa.pem", CP_SNP_GEN_GENOA },
                { "google__go-sev-guest/ask_ark_turin_vcek.pem", CP_SNP_GEN_TURIN },
                { "google__go-sev-guest/ask_ark_milan_vlek.pem", CP_SNP_GEN_MILAN },
                { "google__go-sev-guest/ask_ark_genoa_vlek.pem", CP_SNP_GEN_GENOA },
                { "google__go-sev-guest/ask_ark_turin_vlek.pem", CP_SNP_GEN_TURIN },
                { "virtee__sev/cert_chain_turin", CP_SNP_GEN_TURIN },
        };
        cp_amd_trust *t = builtin();
        for (size_t i = 0; i < CP_ELEMENTSOF(files); i++) {
                cp_amd_cert *ask = NULL, *ark = NULL;
                load_chain(files[i].file, &ask, &ark);
                const cp_amd_cert_info *ai = cp_amd_cert_info_get(ask);
                ASSERT_EQ(ai->generation, files[i].gen);
                const cp_amd_cert *tim = cp_amd_trust_intermediate(t, files[i].gen, ai->kind);
                ASSERT_TRUE(tim);
                ASSERT_MEMEQ(cp_amd_cert_info_get(tim)->sha256, ai->sha256, 32);
                ASSERT_MEMEQ(cp_amd_cert_info_get(cp_amd_trust_ark(t, files[i].gen))->sha256,
                             cp_amd_cert_info_get(ark)->sha256, 32);
                cp_amd_cert_free(ask);
                cp_amd_cert_free(ark);
        }
        static const char *const singles[] = {
                "virtee__sev/builtin_milan/ark.pem", "virtee__sev/builtin_milan/ask.pem",
                "virtee__sev/builtin_genoa/ark.pem", "virtee__sev/builtin_genoa/ask.pem",
                "virtee__sev/builtin_turin/ark.pem", "virtee__sev/builtin_turin/ask.pem",
        };
        for (size_t i = 0; i < CP_ELEMENTSOF(singles); i++) {
                cp_amd_cert *c = load_one(singles[i]);
                const cp_amd_cert_info *ci = cp_amd_cert_info_get(c);
                const cp_amd_cert *tc = ci->kind == CP_AMD_CERT_ARK ? cp_amd_trust_ark(t, ci->generation)
                                                                      : cp_amd_trust_intermediate(t, ci->generation,
                                                                                                  ci->kind);
                ASSERT_TRUE(tc);
                ASSERT_MEMEQ(cp_amd_cert_info_get(tc)->sha256, ci->sha256, 32);
                cp_amd_cert_free(c);
        }
        cp_amd_trust_free(t);
}

TEST(cases_leaves_load) {
        for (size_t i = 0; i < CP_ELEMENTSOF(cases); i++) {
                const leaf_case *k = &cases[i];
                cp_amd_cert *c = load_leaf(k->leaf);
                const cp_amd_cert_info *info = cp_amd_cert_info_get(c);
                ASSERT_EQ(info->kind, k->kind);
                ASSERT_EQ(info->generation, k->gen);
                ASSERT_TRUE(info->has_tcb);
                ASSERT_TRUE(info->has_struct_version);
                ASSERT_FALSE(info->hwid_der_wrapped);
                ASSERT_EQ(info->hwid_len, k->kind == CP_AMD_CERT_VCEK ? 64 : 0);
                ASSERT_TRUE(info->not_before < info->not_after);

                /* The report's REPORTED_TCB and CHIP_ID, read straight from the file. */
                size_t rlen;
                uint8_t *rep = snp_read(k->report, &rlen);
                ASSERT_TRUE(rlen >= k->report_offset + 0x4a0);
                uint64_t raw = 0;
                for (int b = 7; b >= 0; b--)
                        raw = (raw << 8) | rep[k->report_offset + 0x180 + (size_t) b];
                ASSERT_U64_EQ(raw, k->reported_tcb);
                cp_snp_tcb want;
                decode_tcb(raw, k->gen, &want);
                if (k->verified) {
                        assert_tcb_eq(&info->tcb, &want);
                        if (k->kind == CP_AMD_CERT_VCEK)
                                ASSERT_MEMEQ(info->hwid, rep + k->report_offset + 0x1a0, 64);
                } else {
                        /* kinvolk: certs.pem belongs to another chip */
                        ASSERT_TRUE(memcmp(info->hwid, rep + k->report_offset + 0x1a0, 64) != 0);
                }
                if (k->gen == CP_SNP_GEN_MILAN && k->kind == CP_AMD_CERT_VCEK)
                        ASSERT_TRUE(strncmp(info->product_name, "Milan-", 6) == 0);
                free(rep);
                cp_amd_cert_free(c);
        }
}

/* now at which each case's leaf is valid: 2025-06-01, except the Oak Genoa
 * VCEK, issued 2025-08-07 (KDS issues VCEKs on the fly at download time). */
static int64_t case_now(const cp_amd_cert *leaf) {
        const cp_amd_cert_info *i = cp_amd_cert_info_get(leaf);
        return i->not_before > T_2025_06_01 ? i->not_before + T_DAY : T_2025_06_01;
}

TEST(cases_chains_verify) {
        cp_amd_trust *t = builtin();
        for (size_t i = 0; i < CP_ELEMENTSOF(cases); i++) {
                const leaf_case *k = &cases[i];
                cp_amd_cert *leaf = load_leaf(k->leaf), *ask = NULL, *ark = NULL;
                load_chain(k->chain, &ask, &ark);
                int64_t now = case_now(leaf);
                cp_snp_generation g = CP_SNP_GEN_UNKNOWN;

                ASSERT_OK(cp_amd_verify_chain(t, leaf, ask, now, &g));
                ASSERT_EQ(g, k->gen);
                ASSERT_OK(cp_amd_verify_chain(t, leaf, NULL, now, NULL));
                if (k->kind == CP_AMD_CERT_VCEK) {
                        ASSERT_OK(cp_amd_verify_chain(t, leaf, ask, T_2026_11_25, NULL));
                } else {
                        ASSERT_ERR(cp_amd_verify_chain(t, leaf, ask, T_2026_11_25, NULL), CP_EEXPIRED);
                        ASSERT_TRUE(strstr(cp_error_message(), "VLEK") != NULL);
                        ASSERT_TRUE(strstr(cp_error_message(), "2025-12-10") != NULL);
                }
                if (now != T_2025_06_01)
                        ASSERT_ERR(cp_amd_verify_chain(t, leaf, ask, T_2025_06_01, NULL), CP_EEXPIRED);

                /* The same chain through a store built from the files. */
                cp_amd_trust *e = NULL;
                ASSERT_OK(cp_amd_trust_new_empty(&e));
                ASSERT_ERR(cp_amd_verify_chain(e, leaf, ask, now, NULL), CP_EUNTRUSTED);
                ASSERT_OK(cp_amd_trust_add_ark(e, ark));
                ASSERT_OK(cp_amd_trust_add_ark(e, ark)); /* idempotent */
                ASSERT_ERR(cp_amd_verify_chain(e, leaf, NULL, now, NULL), CP_EUNTRUSTED);
                ASSERT_OK(cp_amd_verify_chain(e, leaf, ask, now, NULL));
                ASSERT_OK(cp_amd_trust_add_intermediate(e, ask, now));
                ASSERT_OK(cp_amd_verify_chain(e, leaf, NULL, now, NULL));
                cp_amd_trust_free(e);

                cp_amd_cert_free(leaf);
                cp_amd_cert_free(ask);
                cp_amd_cert_free(ark);
        }
        cp_amd_trust_free(t);
}

TEST(kinvolk_bundle_is_its_own_chain) {
        size_t len, n = 0;
        uint8_t *buf = snp_read("kinvolk__azure-cvm-tooling/certs.pem", &len);
        cp_amd_cert *c = NULL, *certs[4] = { NULL };
        ASSERT_ERR(cp_amd_cert_load(buf, len, &c), CP_ETRAILING);
        ASSERT_ERR(cp_amd_cert_load_chain(buf, len, NULL, NULL), CP_ETOOBIG);
        ASSERT_ERR(cp_amd_cert_load_bundle(buf, len, certs, 2, &n), CP_ETOOBIG);
        ASSERT_OK(cp_amd_cert_load_bundle(buf, len, certs, 4, &n));
        ASSERT_EQ(n, 3);
        ASSERT_EQ(cp_amd_cert_info_get(certs[0])->kind, CP_AMD_CERT_VCEK);
        ASSERT_EQ(cp_amd_cert_info_get(certs[1])->kind, CP_AMD_CERT_ASK);
        ASSERT_EQ(cp_amd_cert_info_get(certs[2])->kind, CP_AMD_CERT_ARK);
        cp_amd_trust *t = builtin();
        ASSERT_OK(cp_amd_verify_chain(t, certs[0], certs[1], T_2025_06_01, NULL));
        cp_amd_trust_free(t);
        for (size_t i = 0; i < n; i++)
                cp_amd_cert_free(certs[i]);
        free(buf);
}

TEST(turin_vcek) {
        static const uint8_t hwid[8] = { 0x1e, 0x55, 0x0a, 0x8e, 0xe5, 0xcf, 0x9f, 0x4d };
        cp_amd_cert *c = load_one("virtee__sev/vcek_turin.der");
        const cp_amd_cert_info *i = cp_amd_cert_info_get(c);
        ASSERT_EQ(i->kind, CP_AMD_CERT_VCEK);
        ASSERT_EQ(i->generation, CP_SNP_GEN_TURIN);
        ASSERT_STREQ(i->product_name, "Turin");
        ASSERT_TRUE(i->has_struct_version);
        ASSERT_EQ(i->struct_version, 1);
        ASSERT_EQ(i->hwid_len, 8);
        ASSERT_MEMEQ(i->hwid, hwid, 8);
        ASSERT_FALSE(i->hwid_der_wrapped);
        cp_snp_tcb want = { .fmc = 0, .bl = 0, .tee = 0, .snp = 0, .ucode = 9, .has_fmc = true };
        assert_tcb_eq(&i->tcb, &want);
        ASSERT_EQ(i->serial_len, 1);
        ASSERT_EQ(i->serial[19], 0);

        uint8_t x[48], y[48];
        ASSERT_OK(cp_amd_cert_p384_pubkey(c, x, y));
        ASSERT_EQ(x[0], 0x51);
        ASSERT_EQ(x[1], 0xf1);
        ASSERT_EQ(y[47], 0xcb);
        ASSERT_TRUE(cp_amd_cert_evp_pkey(c) != NULL);

        cp_amd_trust *t = builtin();
        cp_amd_cert *ask = NULL, *ark = NULL;
        load_chain("virtee__sev/cert_chain_turin", &ask, &ark);
        cp_snp_generation g;
        ASSERT_OK(cp_amd_verify_chain(t, c, ask, T_2025_06_01, &g));
        ASSERT_EQ(g, CP_SNP_GEN_TURIN);
        ASSERT_OK(cp_amd_verify_chain(t, c, NULL, T_2026_11_25, NULL));
        /* issued 2024-11-06 */
        ASSERT_ERR(cp_amd_verify_chain(t, c, NULL, INT64_C(1704067200), NULL), CP_EEXPIRED);
        ASSERT_TRUE(strstr(cp_error_message(), "not yet valid") != NULL);
        ASSERT_TRUE(strstr(cp_error_message(), "2024-11-06T21:14:00Z") != NULL);
        /* expires 2031-11-06 */
        ASSERT_ERR(cp_amd_verify_chain(t, c, NULL, INT64_C(1952000000), NULL), CP_EEXPIRED);
        /* ARK cannot be a leaf, VCEK cannot be its own intermediate */
        ASSERT_ERR(cp_amd_verify_chain(t, ark, NULL, T_2025_06_01, NULL), CP_ECERT);
        ASSERT_ERR(cp_amd_verify_chain(t, c, c, T_2025_06_01, NULL), CP_ECERT);
        ASSERT_ERR(cp_amd_verify_chain(t, c, ark, T_2025_06_01, NULL), CP_ECERT);
        ASSERT_ERR(cp_amd_cert_p384_pubkey(ark, x, y), CP_EINVAL);
        cp_amd_cert_free(ask);
        cp_amd_cert_free(ark);
        cp_amd_trust_free(t);
        cp_amd_cert_free(c);
}

TEST(turin_vcek_unknown_oid_named) {
        /* Rename fmcSPL (…3704.1.3.9) into …3704.1.3.10's neighbour …3.6.
         * is a duplicate, so instead turn .3.9 into the unknown arc .3.10
         * by patching the final OID byte 0x09 -> 0x0a. */
        size_t len;
        uint8_t *der = snp_read("virtee__sev/vcek_turin.der", &len);
        /* OID at offset 532: 06 0a 2b 06 01 04 01 9c 78 01 03 09 */
        static const uint8_t oid39[] = { 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x9c, 0x78, 0x01, 0x03, 0x09 };
        ASSERT_MEMEQ(der + 532, oid39, sizeof(oid39));
        der[543] = 0x0a;
        cp_amd_cert *c = NULL;
        ASSERT_ERR(cp_amd_cert_load(der, len, &c), CP_ECERT);
        ASSERT_TRUE(strstr(cp_error_message(), "1.3.6.1.4.1.3704.1.3.10") != NULL);
        /* hwID tag becomes ...3704.1.6 */
        der[543] = 0x09;
        static const uint8_t oid4[] = { 0x06, 0x09, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x9c, 0x78, 0x01, 0x04 };
        ASSERT_MEMEQ(der + 684, oid4, sizeof(oid4));
        der[694] = 0x06;
        ASSERT_ERR(cp_amd_cert_load(der, len, &c), CP_ECERT);
        ASSERT_TRUE(strstr(cp_error_message(), "1.3.6.1.4.1.3704.1.6") != NULL);
        der[694] = 0x04;
        /* ucodeSPL 02 01 09 -> 02 01 ff (= -1): outside 0..255 */
        static const uint8_t ucode[] = { 0x04, 0x03, 0x02, 0x01, 0x09 };
        ASSERT_MEMEQ(der + 677, ucode, sizeof(ucode));
        der[681] = 0xff;
        ASSERT_ERR(cp_amd_cert_load(der, len, &c), CP_ECERT);
        ASSERT_TRUE(strstr(cp_error_message(), "0..255") != NULL);
        der[681] = 0x09;
        ASSERT_OK(cp_amd_cert_load(der, len, &c));
        cp_amd_cert_free(c);
        free(der);
}

TEST(vlek) {
        cp_amd_cert *c = load_one("confidential-containers__trustee/snp/test-vlek.der");
        const cp_amd_cert_info *i = cp_amd_cert_info_get(c);
        ASSERT_EQ(i->kind, CP_AMD_CERT_VLEK);
        ASSERT_EQ(i->generation, CP_SNP_GEN_MILAN);
        ASSERT_STREQ(i->product_name, "Milan");
        ASSERT_STREQ(i->csp_id, "CN=cc-us-east-2.amazonaws.com");
        ASSERT_EQ(i->hwid_len, 0);
        ASSERT_EQ(i->struct_version, 0);
        cp_snp_tcb want = { .bl = 4, .tee = 0, .snp = 24, .ucode = 217 };
        assert_tcb_eq(&i->tcb, &want);
        ASSERT_EQ(i->not_after, INT64_C(1765404861)); /* 2025-12-10T22:14:21Z */

        cp_amd_trust *t = builtin();
        cp_amd_cert *asvk = NULL, *ark = NULL, *ask = NULL, *ark2 = NULL;
        load_chain("google__go-sev-guest/ask_ark_milan_vlek.pem", &asvk, &ark);
        load_chain("virtee__sev/cert_chain_milan", &ask, &ark2);
        ASSERT_EQ(cp_amd_cert_info_get(asvk)->kind, CP_AMD_CERT_ASVK);
        ASSERT_OK(cp_amd_verify_chain(t, c, asvk, T_2025_06_01, NULL));
        ASSERT_OK(cp_amd_verify_chain(t, c, NULL, T_2025_06_01, NULL));
        ASSERT_ERR(cp_amd_verify_chain(t, c, asvk, T_2026_11_25, NULL), CP_EEXPIRED);
        ASSERT_OK(cp_amd_verify_chain(t, c, asvk, INT64_C(1765404861), NULL)); /* notAfter is inclusive */
        ASSERT_ERR(cp_amd_verify_chain(t, c, asvk, INT64_C(1765404862), NULL), CP_EEXPIRED);
        /* VLEK under an ASK, VCEK under an ASVK */
        ASSERT_ERR(cp_amd_verify_chain(t, c, ask, T_2025_06_01, NULL), CP_ECERT);
        cp_amd_cert *vcek = load_one("virtee__sev/vcek_milan.der");
        ASSERT_ERR(cp_amd_verify_chain(t, vcek, asvk, T_2025_06_01, NULL), CP_ECERT);
        uint8_t x[48], y[48];
        ASSERT_OK(cp_amd_cert_p384_pubkey(c, x, y));
        ASSERT_EQ(x[0], 0x53);
        cp_amd_cert_free(vcek);
        cp_amd_cert_free(c);
        cp_amd_cert_free(asvk);
        cp_amd_cert_free(ark);
        cp_amd_cert_free(ask);
        cp_amd_cert_free(ark2);
        cp_amd_trust_free(t);
}

TEST(tampered_trustee_vceks) {
        /* Both are test-vcek.der with edited TCB extensions and hwID (00 01 ..
         * 3f) but the signature of another certificate: they parse, and the
         * ASK signature check rejects them. */
        uint8_t seq[64];
        for (int i = 0; i < 64; i++)
                seq[i] = (uint8_t) i;
        cp_amd_trust *t = builtin();

        cp_amd_cert *legacy = load_one("confidential-containers__trustee/snp/test-vcek-invalid-legacy.der");
        const cp_amd_cert_info *li = cp_amd_cert_info_get(legacy);
        ASSERT_EQ(li->hwid_len, 64);
        ASSERT_FALSE(li->hwid_der_wrapped);
        ASSERT_MEMEQ(li->hwid, seq, 64);
        cp_snp_tcb wl = { .bl = 3, .tee = 0, .snp = 10, .ucode = 169 };
        assert_tcb_eq(&li->tcb, &wl);
        ASSERT_ERR(cp_amd_verify_chain(t, legacy, NULL, T_2025_06_01, NULL), CP_ESIG);
        ASSERT_TRUE(strstr(cp_error_message(), "VCEK") != NULL);

        cp_amd_cert *newf = load_one("confidential-containers__trustee/snp/test-vcek-invalid-new.der");
        const cp_amd_cert_info *ni = cp_amd_cert_info_get(newf);
        ASSERT_EQ(ni->hwid_len, 64);
        ASSERT_TRUE(ni->hwid_der_wrapped);
        ASSERT_MEMEQ(ni->hwid, seq, 64);
        cp_snp_tcb wn = { .bl = 0, .tee = 0, .snp = 0, .ucode = 30 };
        assert_tcb_eq(&ni->tcb, &wn);
        ASSERT_ERR(cp_amd_verify_chain(t, newf, NULL, T_2025_06_01, NULL), CP_ESIG);

        /* the genuine one still verifies, also after the failures */
        cp_amd_cert *good = load_one("confidential-containers__trustee/snp/test-vcek.der");
        for (int i = 0; i < 3; i++) {
                ASSERT_OK(cp_amd_verify_chain(t, good, NULL, T_2025_06_01, NULL));
                ASSERT_ERR(cp_amd_verify_chain(t, legacy, NULL, T_2025_06_01, NULL), CP_ESIG);
        }
        cp_amd_cert_free(good);
        cp_amd_cert_free(legacy);
        cp_amd_cert_free(newf);
        cp_amd_trust_free(t);
}

TEST(wrong_product) {
        cp_amd_trust *t = builtin();
        cp_amd_cert *milan = load_one("virtee__sev/vcek_milan.der");
        cp_amd_cert *genoa = load_one("project-oak__oak/genoa_oc_endorsements.vcek.bin");
        cp_amd_cert *gask = NULL, *gark = NULL, *mask = NULL, *mark = NULL, *task = NULL, *tark = NULL;
        load_chain("google__go-sev-guest/ask_ark_genoa.pem", &gask, &gark);
        load_chain("virtee__sev/cert_chain_milan", &mask, &mark);
        load_chain("virtee__sev/cert_chain_turin", &task, &tark);
        int64_t now = T_2025_06_01 + 120 * T_DAY;

        ASSERT_ERR(cp_amd_verify_chain(t, milan, gask, now, NULL), CP_EUNTRUSTED);
        ASSERT_ERR(cp_amd_verify_chain(t, genoa, mask, now, NULL), CP_EUNTRUSTED);
        ASSERT_ERR(cp_amd_verify_chain(t, milan, task, now, NULL), CP_EUNTRUSTED);

        /* store with only the Genoa root: a Milan leaf is untrusted */
        cp_amd_trust *e = NULL;
        ASSERT_OK(cp_amd_trust_new_empty(&e));
        ASSERT_OK(cp_amd_trust_add_ark(e, gark));
        ASSERT_ERR(cp_amd_verify_chain(e, milan, mask, now, NULL), CP_EUNTRUSTED);
        ASSERT_ERR(cp_amd_trust_add_intermediate(e, mask, now), CP_EUNTRUSTED);
        ASSERT_OK(cp_amd_verify_chain(e, genoa, gask, now, NULL));
        /* an ASK is not accepted as a root */
        ASSERT_ERR(cp_amd_trust_add_ark(e, mask), CP_ECERT);
        cp_amd_trust_free(e);

        cp_amd_cert_free(milan);
        cp_amd_cert_free(genoa);
        cp_amd_cert_free(gask);
        cp_amd_cert_free(gark);
        cp_amd_cert_free(mask);
        cp_amd_cert_free(mark);
        cp_amd_cert_free(task);
        cp_amd_cert_free(tark);
        cp_amd_trust_free(t);
}

TEST(load_negatives_real_der) {
        size_t len;
        uint8_t *der = snp_read("virtee__sev/vcek_milan.der", &len);
        cp_amd_cert *c = NULL;

        ASSERT_EQ(len, 1360);
        /* truncated at every length */
        for (size_t n = 0; n < len; n++)
                ASSERT_ERR(cp_amd_cert_load(der, n, &c), CP_EFORMAT);
        /* truncated with the outer length rewritten to match: OpenSSL's
         * parser sees a consistent but incomplete certificate */
        uint8_t *cut = malloc(len);
        ASSERT_TRUE(cut);
        for (size_t n = 132; n < len; n += 7) {
                memcpy(cut, der, n);
                cp_put_be16(cut + 2, (uint16_t) (n - 4));
                ASSERT_FAILS(cp_amd_cert_load(cut, n, &c));
        }
        free(cut);
        /* trailing bytes */
        uint8_t *big = malloc(len + 2);
        ASSERT_TRUE(big);
        memcpy(big, der, len);
        big[len] = 0;
        big[len + 1] = 0;
        ASSERT_ERR(cp_amd_cert_load(big, len + 1, &c), CP_ETRAILING);
        ASSERT_ERR(cp_amd_cert_load(big, len + 2, &c), CP_ETRAILING);
        ASSERT_OK(cp_amd_cert_load(big, len, &c));
        cp_amd_cert_free(c);
        c = NULL;
        /* two DER certificates concatenated */
        uint8_t *two = malloc(2 * len);
        ASSERT_TRUE(two);
        memcpy(two, der, len);
        memcpy(two + len, der, len);
        ASSERT_ERR(cp_amd_cert_load(two, 2 * len, &c), CP_ETRAILING);
        free(two);
        /* empty and bad arguments */
        ASSERT_ERR(cp_amd_cert_load(der, 0, &c), CP_EFORMAT);
        ASSERT_ERR(cp_amd_cert_load(NULL, 0, &c), CP_EFORMAT);
        ASSERT_ERR(cp_amd_cert_load(NULL, 5, &c), CP_EINVAL);
        ASSERT_ERR(cp_amd_cert_load(der, len, NULL), CP_EINVAL);
        /* non-minimal / indefinite outer length, wrong outer tag */
        memcpy(big, der, len);
        big[0] = 0x31;
        ASSERT_ERR(cp_amd_cert_load(big, len, &c), CP_EFORMAT);
        static const uint8_t indef[] = { 0x30, 0x80, 0x00, 0x00 };
        ASSERT_ERR(cp_amd_cert_load(indef, sizeof(indef), &c), CP_EFORMAT);
        static const uint8_t nonmin[] = { 0x30, 0x81, 0x02, 0x05, 0x00 };
        ASSERT_ERR(cp_amd_cert_load(nonmin, sizeof(nonmin), &c), CP_EFORMAT);
        static const uint8_t tiny[] = { 0x30, 0x00 };
        ASSERT_ERR(cp_amd_cert_load(tiny, sizeof(tiny), &c), CP_EFORMAT);
        /* a flipped byte in the signature still loads, and fails verification */
        memcpy(big, der, len);
        big[len - 10] ^= 0x01;
        ASSERT_OK(cp_amd_cert_load(big, len, &c));
        cp_amd_trust *t = builtin();
        ASSERT_ERR(cp_amd_verify_chain(t, c, NULL, T_2025_06_01, NULL), CP_ESIG);
        cp_amd_trust_free(t);
        cp_amd_cert_free(c);
        /* too big */
        uint8_t *huge = calloc(1, 20000);
        ASSERT_TRUE(huge);
        huge[0] = 0x30;
        huge[1] = 0x82;
        cp_put_be16(huge + 2, 20000 - 4);
        ASSERT_ERR(cp_amd_cert_load(huge, 20000, &c), CP_ETOOBIG);
        free(huge);
        free(big);
        free(der);
}

static char *to_pem(const uint8_t *der, size_t len, const char *label) {
        size_t b64len = cp_b64_encoded_len(len, CP_B64_STD);
        char *b64 = malloc(b64len + 1);
        char *out = malloc(b64len + b64len / 64 + 128);
        ASSERT_TRUE(b64 && out);
        cp_b64_encode(der, len, CP_B64_STD, b64);
        size_t o = (size_t) sprintf(out, "-----BEGIN %s-----\n", label);
        for (size_t i = 0; i < b64len; i += 64) {
                size_t n = b64len - i < 64 ? b64len - i : 64;
                memcpy(out + o, b64 + i, n);
                o += n;
                out[o++] = '\n';
        }
        o += (size_t) sprintf(out + o, "-----END %s-----\n", label);
        free(b64);
        return out;
}

TEST(load_pem) {
        size_t len;
        uint8_t *der = snp_read("virtee__sev/vcek_milan.der", &len);
        char *pem = to_pem(der, len, "CERTIFICATE");
        cp_amd_cert *a = NULL, *b = NULL;
        ASSERT_OK(cp_amd_cert_load(der, len, &a));
        ASSERT_OK(cp_amd_cert_load((const uint8_t *) pem, strlen(pem), &b));
        ASSERT_MEMEQ(cp_amd_cert_info_get(a)->sha256, cp_amd_cert_info_get(b)->sha256, 32);
        size_t dl;
        const uint8_t *d = cp_amd_cert_der(b, &dl);
        ASSERT_EQ(dl, len);
        ASSERT_MEMEQ(d, der, len);
        cp_amd_cert_free(b);
        b = NULL;

        size_t pl = strlen(pem);
        char *buf = malloc(2 * pl + 16);
        ASSERT_TRUE(buf);
        /* two PEM certificates */
        memcpy(buf, pem, pl);
        memcpy(buf + pl, pem, pl);
        ASSERT_ERR(cp_amd_cert_load((const uint8_t *) buf, 2 * pl, &b), CP_ETRAILING);
        ASSERT_TRUE(strstr(cp_error_message(), "more than one") != NULL);
        /* trailing garbage after END */
        memcpy(buf, pem, pl);
        memcpy(buf + pl, "junk", 4);
        ASSERT_ERR(cp_amd_cert_load((const uint8_t *) buf, pl + 4, &b), CP_ETRAILING);
        /* leading / trailing whitespace is fine */
        buf[0] = '\n';
        memcpy(buf + 1, pem, pl);
        memcpy(buf + 1 + pl, "\r\n \n", 4);
        ASSERT_OK(cp_amd_cert_load((const uint8_t *) buf, pl + 5, &b));
        cp_amd_cert_free(b);
        b = NULL;
        /* truncated PEM at many lengths */
        for (size_t n = 1; n < pl - 1; n += 13)
                ASSERT_FAILS(cp_amd_cert_load((const uint8_t *) pem, n, &b));
        /* corrupt base64 */
        memcpy(buf, pem, pl);
        buf[40] = '*';
        ASSERT_ERR(cp_amd_cert_load((const uint8_t *) buf, pl, &b), CP_EFORMAT);
        /* wrong label */
        char *crlpem = to_pem(der, len, "X509 CRL");
        ASSERT_ERR(cp_amd_cert_load((const uint8_t *) crlpem, strlen(crlpem), &b), CP_EFORMAT);
        free(crlpem);
        /* PEM wrapping a truncated DER */
        char *tp = to_pem(der, len - 1, "CERTIFICATE");
        ASSERT_ERR(cp_amd_cert_load((const uint8_t *) tp, strlen(tp), &b), CP_EFORMAT);
        free(tp);
        /* PEM wrapping DER + trailing byte */
        uint8_t *d2 = malloc(len + 1);
        ASSERT_TRUE(d2);
        memcpy(d2, der, len);
        d2[len] = 0;
        tp = to_pem(d2, len + 1, "CERTIFICATE");
        ASSERT_ERR(cp_amd_cert_load((const uint8_t *) tp, strlen(tp), &b), CP_ETRAILING);
        free(tp);
        free(d2);

        free(buf);
        free(pem);
        free(der);
        cp_amd_cert_free(a);
}

TEST(load_chain_negatives) {
        size_t len;
        uint8_t *buf = snp_read("virtee__sev/cert_chain_milan", &len);
        cp_amd_cert *ask = NULL, *ark = NULL;
        ASSERT_OK(cp_amd_cert_load_chain(buf, len, &ask, NULL));
        ASSERT_EQ(cp_amd_cert_info_get(ask)->kind, CP_AMD_CERT_ASK);
        cp_amd_cert_free(ask);
        ask = NULL;
        ASSERT_OK(cp_amd_cert_load_chain(buf, len, NULL, &ark));
        ASSERT_EQ(cp_amd_cert_info_get(ark)->kind, CP_AMD_CERT_ARK);
        /* DER concatenation works too */
        size_t al, kl;
        const uint8_t *ad, *kd;
        ASSERT_OK(cp_amd_cert_load_chain(buf, len, &ask, NULL));
        ad = cp_amd_cert_der(ask, &al);
        kd = cp_amd_cert_der(ark, &kl);
        uint8_t *cat = malloc(al + kl);
        ASSERT_TRUE(cat);
        memcpy(cat, ad, al);
        memcpy(cat + al, kd, kl);
        cp_amd_cert *a2 = NULL, *k2 = NULL;
        ASSERT_OK(cp_amd_cert_load_chain(cat, al + kl, &a2, &k2));
        cp_amd_cert_free(a2);
        cp_amd_cert_free(k2);
        /* ARK first */
        memcpy(cat, kd, kl);
        memcpy(cat + kl, ad, al);
        ASSERT_ERR(cp_amd_cert_load_chain(cat, al + kl, NULL, NULL), CP_ECERT);
        /* only one */
        ASSERT_ERR(cp_amd_cert_load_chain(ad, al, NULL, NULL), CP_EFORMAT);
        /* truncated DER concatenation */
        memcpy(cat, ad, al);
        memcpy(cat + al, kd, kl);
        ASSERT_ERR(cp_amd_cert_load_chain(cat, al + kl - 1, NULL, NULL), CP_EFORMAT);
        free(cat);
        /* ASK-Milan with ARK-Genoa */
        size_t glen;
        uint8_t *g = snp_read("google__go-sev-guest/ask_ark_genoa.pem", &glen);
        cp_amd_cert *gask = NULL, *gark = NULL;
        ASSERT_OK(cp_amd_cert_load_chain(g, glen, &gask, &gark));
        size_t gl;
        const uint8_t *gd = cp_amd_cert_der(gark, &gl);
        cat = malloc(al + gl);
        ASSERT_TRUE(cat);
        memcpy(cat, ad, al);
        memcpy(cat + al, gd, gl);
        ASSERT_ERR(cp_amd_cert_load_chain(cat, al + gl, NULL, NULL), CP_ECERT);
        free(cat);
        ASSERT_ERR(cp_amd_cert_load_chain(buf, 0, NULL, NULL), CP_EFORMAT);
        cp_amd_cert_free(gask);
        cp_amd_cert_free(gark);
        free(g);
        cp_amd_cert_free(ask);
        cp_amd_cert_free(ark);
        free(buf);
}

/* ---- synthetic certificates (software AMD-SP style) ----------------------- */

typedef struct soft_chain {
        cp_amd_cert *ark, *ask, *vcek;
} soft_chain;

static int64_t soft_nb(void) {
        return T_2025_06_01 - T_YEAR;
}

static void soft_chain_make(soft_chain *s, int ask_sig_mode) {
        EVP_PKEY *rsa = tu_rsa4096(), *ec = tu_p384();
        memset(tu_v_hwid, 0xab, sizeof(tu_v_hwid));
        tu_cert_spec ark = { .subject_cn = "ARK-Milan", .issuer_cn = "ARK-Milan", .subject_key = rsa,
                             .issuer_key = rsa, .not_before = soft_nb(), .not_after = soft_nb() + 25 * T_YEAR,
                             .ca = true, .serial = 1 };
        s->ark = tu_load_spec(&ark);
        tu_cert_spec ask = ark;
        ask.subject_cn = "SEV-Milan";
        ask.serial = 2;
        ask.sig_mode = ask_sig_mode;
        s->ask = tu_load_spec(&ask);
        tu_ext exts[] = { TU_MILAN_VCEK_EXTS };
        tu_cert_spec vcek = { .subject_cn = "SEV-VCEK", .issuer_cn = "SEV-Milan", .subject_key = ec,
                              .issuer_key = rsa, .not_before = soft_nb(), .not_after = soft_nb() + 7 * T_YEAR,
                              .serial = 0, .exts = exts, .n_exts = CP_ELEMENTSOF(exts) };
        s->vcek = tu_load_spec(&vcek);
}

static void soft_chain_free(soft_chain *s) {
        cp_amd_cert_free(s->ark);
        cp_amd_cert_free(s->ask);
        cp_amd_cert_free(s->vcek);
}

TEST(soft_chain_emulated_root) {
        soft_chain s;
        soft_chain_make(&s, TU_SIG_PSS384);
        const cp_amd_cert_info *vi = cp_amd_cert_info_get(s.vcek);
        ASSERT_STREQ(vi->product_name, "Milan-B0");
        ASSERT_EQ(vi->tcb.ucode, 115);
        ASSERT_EQ(vi->hwid[63], 0xab);

        /* not under AMD's real root */
        cp_amd_trust *t = builtin();
        ASSERT_ERR(cp_amd_verify_chain(t, s.vcek, s.ask, T_2025_06_01, NULL), CP_EUNTRUSTED);
        ASSERT_ERR(cp_amd_verify_chain(t, s.vcek, NULL, T_2025_06_01, NULL), CP_ESIG);
        ASSERT_ERR(cp_amd_trust_add_ark(t, s.ark), CP_EINVAL);
        ASSERT_ERR(cp_amd_trust_add_intermediate(t, s.ask, T_2025_06_01), CP_EUNTRUSTED);
        cp_amd_trust_free(t);

        /* under the emulated root */
        cp_amd_trust *e = NULL;
        ASSERT_OK(cp_amd_trust_new_empty(&e));
        ASSERT_ERR(cp_amd_trust_add_ark(e, s.ask), CP_ECERT);
        ASSERT_ERR(cp_amd_trust_add_ark(e, s.vcek), CP_ECERT);
        ASSERT_OK(cp_amd_trust_add_ark(e, s.ark));
        ASSERT_ERR(cp_amd_trust_add_intermediate(e, s.vcek, T_2025_06_01), CP_ECERT);
        ASSERT_ERR(cp_amd_trust_add_intermediate(e, s.ask, soft_nb() - 1), CP_EEXPIRED);
        ASSERT_OK(cp_amd_trust_add_intermediate(e, s.ask, T_2025_06_01));
        for (int i = 0; i < 50; i++) /* cached path */
                ASSERT_OK(cp_amd_verify_chain(e, s.vcek, NULL, T_2025_06_01, NULL));
        ASSERT_OK(cp_amd_verify_chain(e, s.vcek, s.ask, T_2025_06_01, NULL));
        /* expiry of each link is reported by name */
        ASSERT_ERR(cp_amd_verify_chain(e, s.vcek, NULL, soft_nb() + 8 * T_YEAR, NULL), CP_EEXPIRED);
        ASSERT_TRUE(strstr(cp_error_message(), "VCEK") != NULL);
        ASSERT_ERR(cp_amd_verify_chain(e, s.vcek, NULL, soft_nb() - 1, NULL), CP_EEXPIRED);
        /* a real VCEK is not signed by the emulated ASK */
        cp_amd_cert *real = load_one("virtee__sev/vcek_milan.der");
        ASSERT_ERR(cp_amd_verify_chain(e, real, NULL, T_2025_06_01, NULL), CP_ESIG);
        cp_amd_cert_free(real);
        cp_amd_trust_free(e);
        soft_chain_free(&s);
}

TEST(soft_chain_wrong_signature_profiles) {
        soft_chain s;
        /* ASK signed with PKCS#1 v1.5 SHA-384: loads, never verifies */
        soft_chain_make(&s, TU_SIG_PKCS1_SHA384);
        cp_amd_trust *e = NULL;
        ASSERT_OK(cp_amd_trust_new_empty(&e));
        ASSERT_OK(cp_amd_trust_add_ark(e, s.ark));
        ASSERT_ERR(cp_amd_trust_add_intermediate(e, s.ask, T_2025_06_01), CP_ECERT);
        ASSERT_TRUE(strstr(cp_error_message(), "RSASSA-PSS") != NULL);
        ASSERT_ERR(cp_amd_verify_chain(e, s.vcek, s.ask, T_2025_06_01, NULL), CP_ECERT);
        cp_amd_trust_free(e);
        soft_chain_free(&s);

        /* PSS with a 32-byte salt is not AMD's profile either */
        soft_chain_make(&s, TU_SIG_PSS384_SALT32);
        ASSERT_OK(cp_amd_trust_new_empty(&e));
        ASSERT_OK(cp_amd_trust_add_ark(e, s.ark));
        ASSERT_ERR(cp_amd_trust_add_intermediate(e, s.ask, T_2025_06_01), CP_ECERT);
        cp_amd_trust_free(e);
        soft_chain_free(&s);
}

static const uint8_t v_i256[] = { 0x02, 0x02, 0x01, 0x00 };
static const uint8_t v_i1[] = { 0x02, 0x01, 0x01 };
static const uint8_t v_notint[] = { 0x04, 0x01, 0x01 };
static const uint8_t v_inttrail[] = { 0x02, 0x01, 0x01, 0x00 };
static const uint8_t v_genoa[] = { 0x16, 0x05, 'G', 'e', 'n', 'o', 'a' };
static const uint8_t v_venice[] = { 0x16, 0x06, 'V', 'e', 'n', 'i', 'c', 'e' };
static const uint8_t v_turin[] = { 0x16, 0x05, 'T', 'u', 'r', 'i', 'n' };
static const uint8_t v_csp[] = { 0x16, 0x04, 'C', 'N', '=', 'x' };
static const uint8_t v_hw8[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

/* The software Milan VCEK with its standard extensions (exts, n_exts
 * unset: the caller fills exts from base). */
typedef struct soft_vcek {
        tu_ext base[11], exts[16];
        tu_cert_spec v;
} soft_vcek;

static void soft_vcek_init(soft_vcek *k) {
        static const tu_ext base[] = { TU_MILAN_VCEK_EXTS };
        memset(tu_v_hwid, 0xab, sizeof(tu_v_hwid));
        ASSERT_EQ(sizeof(base), sizeof(k->base));
        memcpy(k->base, base, sizeof(base));
        memcpy(k->exts, base, sizeof(base));
        k->v = (tu_cert_spec) { .subject_cn = "SEV-VCEK", .issuer_cn = "SEV-Milan", .subject_key = tu_p384(),
                                .issuer_key = tu_rsa4096(), .not_before = soft_nb(),
                                .not_after = soft_nb() + 7 * T_YEAR, .exts = k->exts,
                                .n_exts = CP_ELEMENTSOF(base) };
}

/* The standard extensions with exts[idx] replaced (none if oid is NULL):
 * loads when expect is 0, else fails with expect and, if needle is set, a
 * message containing it. */
static const struct ext_case {
        const char *name;
        size_t idx;
        const char *oid;
        const uint8_t *val;
        size_t len;
        bool critical;
        int expect;
        const char *needle;
} ext_cases[] = {
#define EXT(idx, oid, val) idx, oid, val, sizeof(val)
        { "baseline", EXT(0, NULL, v_i1), false, 0, NULL },
        { "blSPL 256", EXT(2, TU_OID("3.1"), v_i256), false, CP_ECERT, "0..255" },
        { "spl4 must be 0", EXT(4, TU_OID("3.4"), v_i1), false, CP_ECERT, NULL },
        { "blSPL not an INTEGER", EXT(2, TU_OID("3.1"), v_notint), false, CP_ECERT, NULL },
        { "blSPL with a trailing byte", EXT(2, TU_OID("3.1"), v_inttrail), false, CP_ECERT, NULL },
        { "productName Venice", EXT(1, TU_OID("2"), v_venice), false, CP_ECERT, "Venice" },
        { "productName not an IA5String", EXT(1, TU_OID("2"), v_i1), false, CP_ECERT, NULL },
        { "Milan with an 8-byte hwID", EXT(10, TU_OID("4"), v_hw8), false, CP_ECERT, NULL },
        { "hwID of 6 bytes", EXT(10, TU_OID("4"), v_csp), false, CP_ECERT, NULL },
        { "unknown AMD OID 3.10", EXT(4, TU_OID("3.10"), v_i1), false, CP_ECERT, "1.3.6.1.4.1.3704.1.3.10" },
        { "unknown AMD OID 7", EXT(4, TU_OID("7"), v_i1), false, CP_ECERT, "1.3.6.1.4.1.3704.1.7" },
        { "the AMD arc itself", EXT(4, "1.3.6.1.4.1.3704.1", v_i1), false, CP_ECERT, NULL },
        { "duplicate teeSPL", EXT(4, TU_OID("3.2"), tu_v_int0), false, CP_ECERT, "duplicate" },
        { "fmcSPL on Milan", EXT(4, TU_OID("3.9"), tu_v_int0), false, CP_ECERT, NULL },
        { "csp_id on a VCEK", EXT(4, TU_OID("5"), v_csp), false, CP_ECERT, NULL },
        { "unknown critical extension", EXT(4, "1.2.3.4", v_i1), true, CP_ECERT, NULL },
        { "unknown non-critical extension is ignored", EXT(4, "1.2.3.4", v_i1), false, 0, NULL },
#undef EXT
};

static void check_ext_case(void *ctx, const void *row) {
        const struct ext_case *t = row;
        soft_vcek k;
        (void) ctx;
        soft_vcek_init(&k);
        if (t->oid)
                k.exts[t->idx] = (tu_ext) { t->oid, t->val, t->len, t->critical };
        if (t->expect == 0) {
                cp_amd_cert *ok = tu_load_spec(&k.v);
                cp_amd_cert_free(ok);
                return;
        }
        ASSERT_ERR(tu_try_load_spec(&k.v), t->expect);
        if (t->needle)
                ASSERT_TRUE(strstr(cp_error_message(), t->needle) != NULL);
}

/* DER-wrapped and missing extensions, Turin, Genoa and VLEK leaves. */
static void check_leaf_variants(void) {
        soft_vcek k;
        soft_vcek_init(&k);
        tu_cert_spec v = k.v;
        tu_ext *exts = k.exts;
        const size_t nb = CP_ELEMENTSOF(k.base);
        uint8_t wrapped[66];
        wrapped[0] = 0x04;
        wrapped[1] = 0x40;
        memset(wrapped + 2, 0x5a, 64);

#define WITH(idx, oid_, val_)                                                  \
        do {                                                                   \
                memcpy(exts, k.base, sizeof(k.base));                          \
                v.n_exts = nb;                                                 \
                exts[idx] = (tu_ext){ oid_, val_, sizeof(val_), false };       \
        } while (0)

        /* DER-wrapped hwID */
        WITH(10, TU_OID("4"), wrapped);
        cp_amd_cert *ok = tu_load_spec(&v);
        ASSERT_TRUE(cp_amd_cert_info_get(ok)->hwid_der_wrapped);
        ASSERT_EQ(cp_amd_cert_info_get(ok)->hwid[0], 0x5a);
        cp_amd_cert_free(ok);

        /* missing mandatory extensions */
        memcpy(exts, k.base, sizeof(k.base));
        v.n_exts = nb - 1; /* no hwID */
        ASSERT_ERR(tu_try_load_spec(&v), CP_ECERT);
        v.exts = exts + 1; /* no structVersion: accepted */
        v.n_exts = nb - 1;
        ok = tu_load_spec(&v);
        ASSERT_FALSE(cp_amd_cert_info_get(ok)->has_struct_version);
        cp_amd_cert_free(ok);
        v.exts = exts;
        exts[9] = exts[10]; /* drop ucodeSPL */
        v.n_exts = nb - 1;
        ASSERT_ERR(tu_try_load_spec(&v), CP_ECERT);

        /* Turin: needs fmcSPL and an 8-byte hwID */
        WITH(1, TU_OID("2"), v_turin);
        exts[10] = (tu_ext){ TU_OID("4"), v_hw8, sizeof(v_hw8), false };
        ASSERT_ERR(tu_try_load_spec(&v), CP_ECERT); /* no fmcSPL */
        exts[4] = (tu_ext){ TU_OID("3.9"), v_i1, sizeof(v_i1), false };
        ok = tu_load_spec(&v);
        ASSERT_EQ(cp_amd_cert_info_get(ok)->generation, CP_SNP_GEN_TURIN);
        ASSERT_EQ(cp_amd_cert_info_get(ok)->tcb.fmc, 1);
        ASSERT_TRUE(cp_amd_cert_info_get(ok)->tcb.has_fmc);
        ASSERT_EQ(cp_amd_cert_info_get(ok)->hwid_len, 8);
        cp_amd_cert_free(ok);
        WITH(1, TU_OID("2"), v_genoa);
        ok = tu_load_spec(&v);
        ASSERT_EQ(cp_amd_cert_info_get(ok)->generation, CP_SNP_GEN_GENOA);
        cp_amd_cert_free(ok);
#undef WITH

        /* VLEK: csp_id required, hwID forbidden */
        tu_cert_spec l = v;
        l.subject_cn = "SEV-VLEK";
        l.issuer_cn = "SEV-VLEK-Milan";
        memcpy(exts, k.base, sizeof(k.base));
        l.n_exts = nb;
        ASSERT_ERR(tu_try_load_spec(&l), CP_ECERT);
        exts[10] = (tu_ext){ TU_OID("5"), v_csp, sizeof(v_csp), false };
        ok = tu_load_spec(&l);
        ASSERT_STREQ(cp_amd_cert_info_get(ok)->csp_id, "CN=x");
        cp_amd_cert_free(ok);
        l.n_exts = nb - 1;
        ASSERT_ERR(tu_try_load_spec(&l), CP_ECERT);
}

/* Key types (RSA leaf, EC or RSA-2048 CA), the CA profile, and CA:TRUE. */
static void check_key_types_and_ca_profile(void) {
        EVP_PKEY *rsa = tu_rsa4096(), *ec = tu_p384();
        soft_vcek k;
        soft_vcek_init(&k);
        tu_cert_spec v = k.v;
        tu_ext *exts = k.exts;
        v.subject_key = rsa;
        ASSERT_ERR(tu_try_load_spec(&v), CP_ECERT);
        v.subject_key = ec;
        tu_cert_spec ca = { .subject_cn = "SEV-Milan", .issuer_cn = "ARK-Milan", .subject_key = tu_rsa2048(),
                            .issuer_key = rsa, .not_before = soft_nb(), .not_after = soft_nb() + T_YEAR, .ca = true };
        ASSERT_ERR(tu_try_load_spec(&ca), CP_ECERT);
        ASSERT_TRUE(strstr(cp_error_message(), "RSA-2048") != NULL);
        ca.subject_key = ec;
        ASSERT_ERR(tu_try_load_spec(&ca), CP_ECERT);
        /* CA cert carrying AMD extensions */
        ca.subject_key = rsa;
        ca.exts = exts;
        ca.n_exts = 1;
        ASSERT_ERR(tu_try_load_spec(&ca), CP_ECERT);
        ca.n_exts = 0;
        /* unknown CN / product */
        ca.subject_cn = "ARK-Venice";
        ASSERT_ERR(tu_try_load_spec(&ca), CP_ECERT);
        ca.subject_cn = "Some CA";
        ASSERT_ERR(tu_try_load_spec(&ca), CP_ECERT);
        /* v1 certificate */
        ca.subject_cn = "SEV-Milan";
        ca.version = -1;
        ASSERT_ERR(tu_try_load_spec(&ca), CP_ECERT);
        ASSERT_TRUE(strstr(cp_error_message(), "v3") != NULL);
        /* an ASK without CA:TRUE loads but is refused as an intermediate */
        ca.version = 0;
        ca.ca = false;
        cp_amd_cert *nca = tu_load_spec(&ca);
        cp_amd_trust *e = NULL;
        tu_cert_spec ark = { .subject_cn = "ARK-Milan", .issuer_cn = "ARK-Milan", .subject_key = rsa,
                             .issuer_key = rsa, .not_before = soft_nb(), .not_after = soft_nb() + 25 * T_YEAR,
                             .ca = true };
        cp_amd_cert *arkc = tu_load_spec(&ark);
        ASSERT_OK(cp_amd_trust_new_empty(&e));
        ASSERT_OK(cp_amd_trust_add_ark(e, arkc));
        ASSERT_ERR(cp_amd_trust_add_intermediate(e, nca, T_2025_06_01), CP_ECERT);
        ASSERT_TRUE(strstr(cp_error_message(), "CA:TRUE") != NULL);
        /* an ARK without CA:TRUE is refused as a root */
        ark.ca = false;
        cp_amd_cert *arknc = tu_load_spec(&ark);
        cp_amd_trust *e2 = NULL;
        ASSERT_OK(cp_amd_trust_new_empty(&e2));
        ASSERT_ERR(cp_amd_trust_add_ark(e2, arknc), CP_ECERT);
        /* an ARK whose self-signature is by another key */
        ark.ca = true;
        ark.issuer_key = tu_rsa2048();
        cp_amd_cert *arkbad = tu_load_spec(&ark);
        ASSERT_ERR(cp_amd_trust_add_ark(e2, arkbad), CP_ESIG);
        cp_amd_trust_free(e2);
        cp_amd_cert_free(arkbad);
        cp_amd_cert_free(arknc);
        cp_amd_trust_free(e);
        cp_amd_cert_free(arkc);
        cp_amd_cert_free(nca);
}

TEST(soft_cert_load_rejects) {
        TEST_TABLE(ext_cases, check_ext_case, NULL);
        check_leaf_variants();
        check_key_types_and_ca_profile();
}

TEST(null_arguments) {
        cp_amd_trust *t = NULL;
        ASSERT_ERR(cp_amd_trust_new_builtin(NULL), CP_EINVAL);
        ASSERT_ERR(cp_amd_trust_new_empty(NULL), CP_EINVAL);
        ASSERT_OK(cp_amd_trust_new_empty(&t));
        ASSERT_ERR(cp_amd_verify_chain(t, NULL, NULL, 0, NULL), CP_EINVAL);
        ASSERT_ERR(cp_amd_verify_chain(NULL, NULL, NULL, 0, NULL), CP_EINVAL);
        ASSERT_ERR(cp_amd_trust_add_ark(t, NULL), CP_EINVAL);
        ASSERT_ERR(cp_amd_trust_add_intermediate(t, NULL, 0), CP_EINVAL);
        ASSERT_TRUE(cp_amd_trust_ark(NULL, CP_SNP_GEN_MILAN) == NULL);
        ASSERT_TRUE(cp_amd_trust_intermediate(NULL, CP_SNP_GEN_MILAN, CP_AMD_CERT_ASK) == NULL);
        ASSERT_TRUE(cp_amd_cert_info_get(NULL) == NULL);
        size_t n = 7;
        ASSERT_TRUE(cp_amd_cert_der(NULL, &n) == NULL);
        ASSERT_EQ(n, 0);
        ASSERT_TRUE(cp_amd_cert_evp_pkey(NULL) == NULL);
        ASSERT_TRUE(cp_amd_cert_free(NULL) == NULL);
        ASSERT_TRUE(cp_amd_trust_free(NULL) == NULL);
        ASSERT_TRUE(cp_amd_trust_free(t) == NULL);
}
