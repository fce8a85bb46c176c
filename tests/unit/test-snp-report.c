/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for the SEV-SNP ATTESTATION_REPORT parser, TCB_VERSION decoding and
 * the generation helpers, on real reports from tests/data/snp. */
#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>

#include "basic/cursor.h"
#include "confpool/snp_report.h"
#include "tests.h"

/* ---- real reports */

typedef struct report_case {
        const char *file;
        size_t offset;
        cp_snp_generation gen;
        uint32_t version;
        uint8_t signing_key;
        uint32_t vmpl;
        uint64_t policy;
        uint64_t platform_info;
        uint64_t reported_tcb;
        uint8_t bl, tee, snp, ucode;
} report_case;

/* Copied from tests/data/snp/cases.json. */
static const report_case cases[] = {
        { "google__go-sev-guest/attestation.bin", 0, CP_SNP_GEN_MILAN, 2, CP_SNP_SIGNING_KEY_VCEK, 0, UINT64_C(0xb0000), UINT64_C(0x1), UINT64_C(0x4405000000000002), 2, 0, 5, 68 },
        { "virtee__sev/report_milan.bin", 0, CP_SNP_GEN_MILAN, 2, CP_SNP_SIGNING_KEY_VCEK, 0, UINT64_C(0x30000), UINT64_C(0x1), UINT64_C(0x7308000000000003), 3, 0, 8, 115 },
        { "confidential-containers__trustee/snp/test-report.bin", 0, CP_SNP_GEN_MILAN, 2, CP_SNP_SIGNING_KEY_VCEK, 0, UINT64_C(0x3001f), UINT64_C(0x1), UINT64_C(0x7308000000000003), 3, 0, 8, 115 },
        { "confidential-containers__trustee/snp/test-vlek-report.bin", 0, CP_SNP_GEN_MILAN, 3, CP_SNP_SIGNING_KEY_VLEK, 1, UINT64_C(0x30000), UINT64_C(0x27), UINT64_C(0xd918000000000004), 4, 0, 24, 217 },
        { "confidential-containers__trustee/az-snp-vtpm/hcl-report.bin", 32, CP_SNP_GEN_MILAN, 2, CP_SNP_SIGNING_KEY_VCEK, 0, UINT64_C(0x3001f), UINT64_C(0x1), UINT64_C(0x7308000000000003), 3, 0, 8, 115 },
        { "confidential-containers__trustee/az-snp-vtpm/evidence-v0.hcl-report.bin", 32, CP_SNP_GEN_MILAN, 3, CP_SNP_SIGNING_KEY_VCEK, 0, UINT64_C(0x3001f), UINT64_C(0x25), UINT64_C(0xdb18000000000004), 4, 0, 24, 219 },
        { "confidential-containers__trustee/az-snp-vtpm/evidence-v1.hcl-report.bin", 32, CP_SNP_GEN_MILAN, 3, CP_SNP_SIGNING_KEY_VCEK, 0, UINT64_C(0x3001f), UINT64_C(0x25), UINT64_C(0xdb18000000000004), 4, 0, 24, 219 },
        { "confidential-containers__trustee/az-snp-vtpm/evidence-v2.hcl-report.bin", 32, CP_SNP_GEN_MILAN, 3, CP_SNP_SIGNING_KEY_VCEK, 0, UINT64_C(0x3001f), UINT64_C(0x25), UINT64_C(0xdb18000000000004), 4, 0, 24, 219 },
        { "confidential-containers__trustee/az-snp-vtpm/evidence-genoa.hcl-report.bin", 32, CP_SNP_GEN_GENOA, 3, CP_SNP_SIGNING_KEY_VCEK, 0, UINT64_C(0x3001f), UINT64_C(0x24), UINT64_C(0x541700000000000a), 10, 0, 23, 84 },
        { "kinvolk__azure-cvm-tooling/hcl-report-snp.bin", 32, CP_SNP_GEN_MILAN, 2, CP_SNP_SIGNING_KEY_VCEK, 0, UINT64_C(0x3001f), UINT64_C(0x1), UINT64_C(0x7308000000000003), 3, 0, 8, 115 },
        { "project-oak__oak/milan_oc_release_evidence.report.bin", 0, CP_SNP_GEN_MILAN, 3, CP_SNP_SIGNING_KEY_VCEK, 0, UINT64_C(0x30000), UINT64_C(0x25), UINT64_C(0xdb18000000000004), 4, 0, 24, 219 },
        { "project-oak__oak/milan_oc_staging_evidence.report.bin", 0, CP_SNP_GEN_MILAN, 3, CP_SNP_SIGNING_KEY_VCEK, 0, UINT64_C(0x30000), UINT64_C(0x25), UINT64_C(0xdb18000000000004), 4, 0, 24, 219 },
        { "project-oak__oak/milan_rk_release_evidence.report.bin", 0, CP_SNP_GEN_MILAN, 3, CP_SNP_SIGNING_KEY_VCEK, 0, UINT64_C(0x30000), UINT64_C(0x25), UINT64_C(0xdb18000000000004), 4, 0, 24, 219 },
        { "project-oak__oak/milan_rk_staging_evidence.report.bin", 0, CP_SNP_GEN_MILAN, 3, CP_SNP_SIGNING_KEY_VCEK, 0, UINT64_C(0x30000), UINT64_C(0x25), UINT64_C(0xdb18000000000004), 4, 0, 24, 219 },
        { "project-oak__oak/genoa_oc_evidence.report.bin", 0, CP_SNP_GEN_GENOA, 5, CP_SNP_SIGNING_KEY_VCEK, 0, UINT64_C(0x30000), UINT64_C(0x25), UINT64_C(0x541900000000000a), 10, 0, 25, 84 },
};

#define V2_REPORT "google__go-sev-guest/attestation.bin"
#define V3_REPORT "confidential-containers__trustee/snp/test-vlek-report.bin"
#define V3_MILAN_VCEK_REPORT "project-oak__oak/milan_oc_release_evidence.report.bin"
#define V5_REPORT "project-oak__oak/genoa_oc_evidence.report.bin"

/* Read the 1184-byte report at offset inside a data file under tests/data/snp/. */
static void load_report(const char *name, size_t offset, uint8_t out[CP_SNP_REPORT_SIZE]) {
        char rel[512];
        size_t len = 0;
        snprintf(rel, sizeof(rel), "snp/%s", name);
        uint8_t *buf = cp_test_read(rel, &len);
        ASSERT_TRUE(offset <= len && CP_SNP_REPORT_SIZE <= len - offset);
        memcpy(out, buf + offset, CP_SNP_REPORT_SIZE);
        free(buf);
}

/* Parse len bytes from a heap copy of exactly that size, so that the
 * sanitizer catches any read past the end. */
static int parse_copy(const uint8_t *p, size_t len, unsigned flags, cp_snp_report *ret) {
        uint8_t *copy = malloc(len ? len : 1);
        ASSERT_TRUE(copy);
        if (len)
                memcpy(copy, p, len);
        int r = cp_snp_report_parse(copy, len, flags, ret);
        free(copy);
        return r;
}

static uint32_t get32(const uint8_t *p) {
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static uint64_t get64(const uint8_t *p) {
        return (uint64_t) get32(p) | (uint64_t) get32(p + 4) << 32;
}

static bool all_zero(const uint8_t *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (p[i])
                        return false;
        return true;
}

static void check_case(const report_case *t) {
        static uint8_t raw[CP_SNP_REPORT_SIZE];
        static cp_snp_report r;
        cp_snp_tcb tcb;

        load_report(t->file, t->offset, raw);
        ASSERT_OK(cp_snp_report_parse(raw, sizeof(raw), 0, &r));
        ASSERT_EQ(r.version, t->version);
        ASSERT_EQ(r.vmpl, t->vmpl);
        ASSERT_U64_EQ(r.policy, t->policy);
        ASSERT_U64_EQ(r.platform_info, t->platform_info);
        ASSERT_U64_EQ(r.reported_tcb, t->reported_tcb);
        ASSERT_EQ(r.signing_key, t->signing_key);
        ASSERT_EQ(r.signature_algo, 1);
        ASSERT_TRUE(cp_snp_report_has_signature(&r));
        ASSERT_MEMEQ(r.raw, raw, CP_SNP_REPORT_SIZE);
        ASSERT_FALSE(all_zero(r.signature_r, sizeof(r.signature_r)));
        ASSERT_FALSE(all_zero(r.signature_s, sizeof(r.signature_s)));
        /* none of the real reports sets an unknown PLATFORM_INFO bit */
        ASSERT_U64_EQ(r.unknown_platform_info_bits, 0);
        ASSERT_EQ(r.has_cpuid, t->version >= 3);
        ASSERT_EQ(r.has_mit_vectors, t->version >= 5);
        ASSERT_EQ(r.cpuid_generation, t->version >= 3 ? t->gen : CP_SNP_GEN_UNKNOWN);

        ASSERT_OK(cp_snp_tcb_decode(r.reported_tcb, t->gen, &tcb));
        ASSERT_EQ(tcb.bl, t->bl);
        ASSERT_EQ(tcb.tee, t->tee);
        ASSERT_EQ(tcb.snp, t->snp);
        ASSERT_EQ(tcb.ucode, t->ucode);
        ASSERT_FALSE(tcb.has_fmc);
        ASSERT_U64_EQ(cp_snp_tcb_encode(&tcb, t->gen), t->reported_tcb);
        /* the other TCB values of a real report decode too */
        ASSERT_OK(cp_snp_tcb_decode(r.current_tcb, t->gen, &tcb));
        ASSERT_OK(cp_snp_tcb_decode(r.committed_tcb, t->gen, &tcb));
        ASSERT_OK(cp_snp_tcb_decode(r.launch_tcb, t->gen, &tcb));
}

TEST(real_reports_table) {
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                fprintf(stderr, "  %s\n", cases[i].file);
                check_case(&cases[i]);
        }
}

TEST(hcl_slices_equal_presliced_reports) {
        /* The HCL report slices at 0x20 are byte-identical to the derived files. */
        static const char *const hcl[] = {
                "confidential-containers__trustee/az-snp-vtpm/hcl-report.bin",
                "confidential-containers__trustee/az-snp-vtpm/evidence-genoa.hcl-report.bin",
                "kinvolk__azure-cvm-tooling/hcl-report-snp.bin",
        };
        static const char *const sliced[] = {
                "confidential-containers__trustee/az-snp-vtpm/hcl-report.snp-report.bin",
                "confidential-containers__trustee/az-snp-vtpm/evidence-genoa.hcl-report.snp-report.bin",
                "kinvolk__azure-cvm-tooling/hcl-report-snp.snp-report.bin",
        };
        for (size_t i = 0; i < 3; i++) {
                uint8_t a[CP_SNP_REPORT_SIZE], b[CP_SNP_REPORT_SIZE];
                load_report(hcl[i], 32, a);
                load_report(sliced[i], 0, b);
                ASSERT_MEMEQ(a, b, sizeof(a));
        }
}

static uint64_t parse_hex_u64(const char *s) {
        char *end = NULL;
        ASSERT_TRUE(s);
        uint64_t v = strtoull(s, &end, 16);
        ASSERT_TRUE(end && end != s);
        return v;
}

TEST(real_reports_cases_json) {
        json_error_t jerr;
        json_t *root = json_load_file(cp_test_data("snp/cases.json"), 0, &jerr);
        size_t i, checked = 0;
        json_t *c;

        if (!root)
                cp_test_fail(__FILE__, __LINE__, "cases.json: %s (line %d)", jerr.text, jerr.line);
        ASSERT_TRUE(json_is_array(root));
        json_array_foreach(root, i, c) {
                static uint8_t raw[CP_SNP_REPORT_SIZE];
                static cp_snp_report r;
                const char *file = json_string_value(json_object_get(c, "report"));
                const char *gen_name = json_string_value(json_object_get(c, "generation"));
                const char *key = json_string_value(json_object_get(c, "signing_key"));
                const char *tcb_str = json_string_value(json_object_get(c, "reported_tcb"));
                const char *sha = json_string_value(json_object_get(c, "report_sha256"));
                json_int_t offset = json_integer_value(json_object_get(c, "report_offset"));
                unsigned bl, tee, snp, ucode;
                cp_snp_tcb tcb;

                ASSERT_TRUE(file && gen_name && key && tcb_str && sha);
                ASSERT_TRUE(offset >= 0);
                fprintf(stderr, "  %s @%lld\n", file, (long long) offset);
                load_report(file, (size_t) offset, raw);

                /* the file is the one cases.json names (report_sha256 is
                 * the digest of the whole file, HCL header included) */
                char rel[512];
                uint8_t md[32];
                char hex[65];
                size_t flen = 0;
                snprintf(rel, sizeof(rel), "snp/%s", file);
                uint8_t *whole = cp_test_read(rel, &flen);
                ASSERT_TRUE(EVP_Digest(whole, flen, md, NULL, EVP_sha256(), NULL) == 1);
                free(whole);
                for (size_t k = 0; k < 32; k++)
                        snprintf(hex + 2 * k, 3, "%02x", md[k]);
                ASSERT_STREQ(hex, sha);

                ASSERT_OK(cp_snp_report_parse(raw, sizeof(raw), 0, &r));
                ASSERT_EQ(r.version, json_integer_value(json_object_get(c, "report_version")));
                ASSERT_EQ(r.vmpl, json_integer_value(json_object_get(c, "vmpl")));
                ASSERT_U64_EQ(r.policy, parse_hex_u64(json_string_value(json_object_get(c, "policy"))));
                ASSERT_U64_EQ(r.platform_info, parse_hex_u64(json_string_value(json_object_get(c, "platform_info"))));
                ASSERT_U64_EQ(r.reported_tcb, parse_hex_u64(tcb_str));
                if (strcmp(key, "VCEK") == 0)
                        ASSERT_EQ(r.signing_key, CP_SNP_SIGNING_KEY_VCEK);
                else if (strcmp(key, "VLEK") == 0)
                        ASSERT_EQ(r.signing_key, CP_SNP_SIGNING_KEY_VLEK);
                else
                        cp_test_fail(__FILE__, __LINE__, "unknown signing_key %s", key);

                cp_snp_generation gen = cp_snp_generation_from_name(gen_name);
                ASSERT_TRUE(gen != CP_SNP_GEN_UNKNOWN);
                ASSERT_STREQ(cp_snp_generation_name(gen), gen_name);
                if (r.version >= 3)
                        ASSERT_EQ(r.cpuid_generation, gen);

                /* "4405000000000002 {'bl': 2, 'tee': 0, 'snp': 5, 'ucode': 68}" */
                ASSERT_EQ(sscanf(tcb_str, "%*x {'bl': %u, 'tee': %u, 'snp': %u, 'ucode': %u}", &bl, &tee, &snp, &ucode), 4);
                ASSERT_OK(cp_snp_tcb_decode(r.reported_tcb, gen, &tcb));
                ASSERT_EQ(tcb.bl, bl);
                ASSERT_EQ(tcb.tee, tee);
                ASSERT_EQ(tcb.snp, snp);
                ASSERT_EQ(tcb.ucode, ucode);
                checked++;
        }
        ASSERT_EQ(checked, 16);
        json_decref(root);
}

TEST(v2_fields) {
        static uint8_t raw[CP_SNP_REPORT_SIZE];
        static cp_snp_report r;
        load_report(V2_REPORT, 0, raw);
        ASSERT_OK(cp_snp_report_parse(raw, sizeof(raw), 0, &r));
        ASSERT_EQ(r.version, 2);
        ASSERT_EQ(r.guest_svn, get32(raw + 0x04));
        ASSERT_MEMEQ(r.family_id, raw + 0x10, 16);
        ASSERT_MEMEQ(r.image_id, raw + 0x20, 16);
        ASSERT_U64_EQ(r.current_tcb, get64(raw + 0x38));
        ASSERT_EQ(r.signer_info, get32(raw + 0x48));
        ASSERT_MEMEQ(r.report_data, raw + 0x50, 64);
        ASSERT_MEMEQ(r.measurement, raw + 0x90, 48);
        ASSERT_MEMEQ(r.host_data, raw + 0xc0, 32);
        ASSERT_MEMEQ(r.id_key_digest, raw + 0xe0, 48);
        ASSERT_MEMEQ(r.author_key_digest, raw + 0x110, 48);
        ASSERT_MEMEQ(r.report_id, raw + 0x140, 32);
        ASSERT_MEMEQ(r.report_id_ma, raw + 0x160, 32);
        ASSERT_MEMEQ(r.chip_id, raw + 0x1a0, 64);
        ASSERT_FALSE(all_zero(r.chip_id, 64));
        ASSERT_U64_EQ(r.committed_tcb, get64(raw + 0x1e0));
        ASSERT_EQ(r.current_build, raw[0x1e8]);
        ASSERT_EQ(r.current_minor, raw[0x1e9]);
        ASSERT_EQ(r.current_major, raw[0x1ea]);
        ASSERT_EQ(r.committed_build, raw[0x1ec]);
        ASSERT_EQ(r.committed_minor, raw[0x1ed]);
        ASSERT_EQ(r.committed_major, raw[0x1ee]);
        ASSERT_U64_EQ(r.launch_tcb, get64(raw + 0x1f0));
        ASSERT_MEMEQ(r.signature_r, raw + 0x2a0, 72);
        ASSERT_MEMEQ(r.signature_s, raw + 0x2e8, 72);
        ASSERT_FALSE(r.has_cpuid);
        ASSERT_FALSE(r.has_mit_vectors);
        ASSERT_EQ(r.cpuid_generation, CP_SNP_GEN_UNKNOWN);
        /* go-sev-guest's sample has policy 0xb0000: DEBUG allowed */
        ASSERT_TRUE(r.policy & CP_SNP_POLICY_DEBUG);
        ASSERT_FALSE(r.mask_chip_key);
}

TEST(v3_vlek_fields) {
        static uint8_t raw[CP_SNP_REPORT_SIZE];
        static cp_snp_report r;
        load_report(V3_REPORT, 0, raw);
        ASSERT_OK(cp_snp_report_parse(raw, sizeof(raw), 0, &r));
        ASSERT_EQ(r.version, 3);
        ASSERT_EQ(r.signing_key, CP_SNP_SIGNING_KEY_VLEK);
        ASSERT_TRUE(r.has_cpuid);
        ASSERT_EQ(r.cpuid_fam_id, 0x19);
        ASSERT_EQ(r.cpuid_mod_id, 0x01);
        ASSERT_EQ(r.cpuid_step, 0x01);
        ASSERT_EQ(r.cpuid_generation, CP_SNP_GEN_MILAN);
        /* AWS masks CHIP_ID in VLEK-signed reports */
        ASSERT_TRUE(all_zero(r.chip_id, 64));
}

TEST(v5_fields) {
        static uint8_t raw[CP_SNP_REPORT_SIZE];
        static cp_snp_report r;
        load_report(V5_REPORT, 0, raw);
        ASSERT_OK(cp_snp_report_parse(raw, sizeof(raw), 0, &r));
        ASSERT_EQ(r.version, 5);
        ASSERT_TRUE(r.has_mit_vectors);
        ASSERT_U64_EQ(r.launch_mit_vector, get64(raw + 0x1f8));
        ASSERT_U64_EQ(r.current_mit_vector, get64(raw + 0x200));
        ASSERT_U64_EQ(r.current_mit_vector, 1); /* Genoa fw 1.55.43 (snp-anchors §1a) */
        ASSERT_EQ(r.cpuid_fam_id, 0x19);
        ASSERT_EQ(r.cpuid_mod_id, 0x11);
        ASSERT_EQ(r.cpuid_generation, CP_SNP_GEN_GENOA);
}

/* ---- negative: lengths */

TEST(truncated_every_length) {
        static uint8_t raw[CP_SNP_REPORT_SIZE];
        static cp_snp_report r;
        load_report(V3_REPORT, 0, raw);
        for (size_t n = 0; n < CP_SNP_REPORT_SIZE; n++)
                ASSERT_ERR(parse_copy(raw, n, 0, &r), CP_ETRUNC);
        ASSERT_ERR(cp_snp_report_parse(NULL, 0, 0, &r), CP_ETRUNC);
}

TEST(trailing_bytes) {
        static uint8_t raw[2 * CP_SNP_REPORT_SIZE];
        static cp_snp_report r;
        load_report(V3_REPORT, 0, raw);
        ASSERT_ERR(parse_copy(raw, CP_SNP_REPORT_SIZE + 1, 0, &r), CP_ETRAILING);
        ASSERT_ERR(parse_copy(raw, sizeof(raw), 0, &r), CP_ETRAILING);
        ASSERT_ERR(parse_copy(raw, CP_SNP_REPORT_SIZE + 1, CP_SNP_PARSE_ALLOW_NEWER, &r), CP_ETRAILING);
        ASSERT_OK(parse_copy(raw, CP_SNP_REPORT_SIZE, 0, &r));
}

TEST(invalid_arguments) {
        static uint8_t raw[CP_SNP_REPORT_SIZE];
        static cp_snp_report r;
        load_report(V3_REPORT, 0, raw);
        ASSERT_ERR(cp_snp_report_parse(raw, sizeof(raw), 0, NULL), CP_EINVAL);
        ASSERT_ERR(cp_snp_report_parse(NULL, sizeof(raw), 0, &r), CP_EINVAL);
        ASSERT_ERR(cp_snp_report_parse(raw, sizeof(raw), 0x2, &r), CP_EINVAL);
}

TEST(output_untouched_on_failure) {
        static uint8_t raw[CP_SNP_REPORT_SIZE];
        static cp_snp_report r, before;
        load_report(V3_REPORT, 0, raw);
        memset(&r, 0xa5, sizeof(r));
        memcpy(&before, &r, sizeof(r));
        raw[0x1ff] = 1; /* reserved for v3, late in the body */
        ASSERT_ERR(cp_snp_report_parse(raw, sizeof(raw), 0, &r), CP_EMBZ);
        ASSERT_MEMEQ(&r, &before, sizeof(r));
        raw[0x1ff] = 0;
        raw[0x400] = 1; /* reserved signature area, the last check */
        ASSERT_ERR(cp_snp_report_parse(raw, sizeof(raw), 0, &r), CP_EMBZ);
        ASSERT_MEMEQ(&r, &before, sizeof(r));
}

/* ---- negative: versions */

TEST(versions_0_1_rejected) {
        static uint8_t raw[CP_SNP_REPORT_SIZE];
        static cp_snp_report r;
        load_report(V2_REPORT, 0, raw);
        for (uint32_t v = 0; v < 2; v++) {
                cp_put_le32(raw, v);
                ASSERT_ERR(cp_snp_report_parse(raw, sizeof(raw), 0, &r), CP_EVERSION);
                ASSERT_ERR(cp_snp_report_parse(raw, sizeof(raw), CP_SNP_PARSE_ALLOW_NEWER, &r), CP_EVERSION);
        }
}

TEST(newer_versions) {
        static uint8_t raw[CP_SNP_REPORT_SIZE];
        static cp_snp_report r;
        load_report(V5_REPORT, 0, raw);
        static const uint32_t newer[] = { 6, 7, 0x100, UINT32_MAX };
        for (size_t i = 0; i < sizeof(newer) / sizeof(newer[0]); i++) {
                cp_put_le32(raw, newer[i]);
                ASSERT_ERR(cp_snp_report_parse(raw, sizeof(raw), 0, &r), CP_EVERSION);
                ASSERT_TRUE(strstr(cp_error_message(), "CP_SNP_PARSE_ALLOW_NEWER") != NULL);
                ASSERT_OK(cp_snp_report_parse(raw, sizeof(raw), CP_SNP_PARSE_ALLOW_NEWER, &r));
                ASSERT_EQ(r.version, newer[i]);
                ASSERT_TRUE(r.has_cpuid);
                ASSERT_TRUE(r.has_mit_vectors);
                ASSERT_EQ(r.cpuid_generation, CP_SNP_GEN_GENOA);
        }

        /* v6+: 0x208-0x29F may hold new fields; everything else is checked */
        cp_put_le32(raw, 6);
        raw[0x208] = 0x11;
        raw[0x29f] = 0x22;
        ASSERT_OK(cp_snp_report_parse(raw, sizeof(raw), CP_SNP_PARSE_ALLOW_NEWER, &r));
        cp_put_le32(raw, 5);
        ASSERT_ERR(cp_snp_report_parse(raw, sizeof(raw), CP_SNP_PARSE_ALLOW_NEWER, &r), CP_EMBZ);
        cp_put_le32(raw, 6);
        raw[0x208] = raw[0x29f] = 0;
        raw[0x18b] = 1;
        ASSERT_ERR(cp_snp_report_parse(raw, sizeof(raw), CP_SNP_PARSE_ALLOW_NEWER, &r), CP_EMBZ);
        raw[0x18b] = 0;
        raw[0x330] = 1;
        ASSERT_ERR(cp_snp_report_parse(raw, sizeof(raw), CP_SNP_PARSE_ALLOW_NEWER, &r), CP_EMBZ);
}

TEST(version_4_parsed_as_3) {
        static uint8_t raw[CP_SNP_REPORT_SIZE];
        static cp_snp_report r;
        load_report(V3_MILAN_VCEK_REPORT, 0, raw);
        cp_put_le32(raw, 4);
        ASSERT_OK(cp_snp_report_parse(raw, sizeof(raw), 0, &r));
        ASSERT_EQ(r.version, 4);
        ASSERT_TRUE(r.has_cpuid);
        ASSERT_EQ(r.cpuid_generation, CP_SNP_GEN_MILAN);
        ASSERT_FALSE(r.has_mit_vectors);
        /* the MIT vector slots are reserved in v4 */
        raw[0x1f8] = 1;
        ASSERT_ERR(cp_snp_report_parse(raw, sizeof(raw), 0, &r), CP_EMBZ);
}

TEST(v3_report_relabelled_v2_rejected) {
        /* in v2 the CPUID bytes are reserved */
        static uint8_t raw[CP_SNP_REPORT_SIZE];
        static cp_snp_report r;
        load_report(V3_REPORT, 0, raw);
        cp_put_le32(raw, 2);
        ASSERT_ERR(cp_snp_report_parse(raw, sizeof(raw), 0, &r), CP_EMBZ);
        ASSERT_TRUE(strstr(cp_error_message(), "offset 0x188") != NULL);
}

/* ---- negative: must-be-zero ranges */

static void expect_mbz_range(const char *file, size_t from, size_t to_incl) {
        static uint8_t raw[CP_SNP_REPORT_SIZE];
        static cp_snp_report r;
        char want[32];

        load_report(file, 0, raw);
        ASSERT_OK(cp_snp_report_parse(raw, sizeof(raw), 0, &r));
        for (size_t off = from; off <= to_incl; off++) {
                ASSERT_EQ(raw[off], 0);
                for (unsigned bit = 0; bit < 8; bit += 7) {
                        raw[off] = (uint8_t) (1u << bit);
                        ASSERT_ERR(cp_snp_report_parse(raw, sizeof(raw), 0, &r), CP_EMBZ);
                        snprintf(want, sizeof(want), "offset 0x%zx ", off);
                        if (!strstr(cp_error_message(), want))
                                cp_test_fail(__FILE__, __LINE__, "%s: byte 0x%zx: message \"%s\"", file, off,
                                             cp_error_message());
                }
                raw[off] = 0;
        }
        ASSERT_OK(cp_snp_report_parse(raw, sizeof(raw), 0, &r));
}

/* A must-be-zero range [lo, hi] of a report file (NULL: the table's ctx). */
typedef struct mbz_range {
        const char *name;
        const char *file;
        size_t lo, hi;
} mbz_range;

static void check_mbz_range(void *ctx, const void *row) {
        const mbz_range *m = row;
        expect_mbz_range(m->file ? m->file : ctx, m->lo, m->hi);
}

static const mbz_range mbz_common_ranges[] = {
        { "reserved_0x04c", NULL, 0x04c, 0x04f },
        { "reserved_0x1eb", NULL, 0x1eb, 0x1eb },
        { "reserved_0x1ef", NULL, 0x1ef, 0x1ef },
        /* upper 24 bytes of R and S, then the rest of the signature area */
        { "sig_r_upper", NULL, 0x2a0 + 48, 0x2e7 },
        { "sig_s_upper", NULL, 0x2e8 + 48, 0x32f },
        { "sig_rest", NULL, 0x330, 0x49f },
};

TEST(mbz_common) {
        static const char *const files[] = { V2_REPORT, V3_REPORT, V5_REPORT };
        for (size_t i = 0; i < 3; i++)
                TEST_TABLE(mbz_common_ranges, check_mbz_range, (void *) files[i]);
}

static const mbz_range mbz_version_ranges[] = {
        { "v2_0x188", V2_REPORT, 0x188, 0x19f },
        { "v2_0x1f8", V2_REPORT, 0x1f8, 0x29f },
        { "v3_0x18b", V3_REPORT, 0x18b, 0x19f },
        { "v3_0x1f8", V3_REPORT, 0x1f8, 0x29f },
        { "v3_milan_vcek_0x18b", V3_MILAN_VCEK_REPORT, 0x18b, 0x19f },
        { "v3_milan_vcek_0x1f8", V3_MILAN_VCEK_REPORT, 0x1f8, 0x29f },
        { "v5_0x18b", V5_REPORT, 0x18b, 0x19f },
        { "v5_0x208", V5_REPORT, 0x208, 0x29f },
};

TEST(mbz_v2) {
        TEST_TABLE_N(mbz_version_ranges, 2, check_mbz_range, NULL);
}

TEST(mbz_v3) {
        TEST_TABLE_N(mbz_version_ranges + 2, 4, check_mbz_range, NULL);
}

TEST(mbz_v5) {
        TEST_TABLE_N(mbz_version_ranges + 6, 2, check_mbz_range, NULL);
}

TEST(version_fields_are_not_reserved) {
        static uint8_t raw[CP_SNP_REPORT_SIZE];
        static cp_snp_report r;
        /* v3: CPUID bytes are fields */
        load_report(V3_REPORT, 0, raw);
        raw[0x188] = 0x1a;
        raw[0x189] = 0x02;
        ASSERT_OK(cp_snp_report_parse(raw, sizeof(raw), 0, &r));
        ASSERT_EQ(r.cpuid_generation, CP_SNP_GEN_TURIN);
        raw[0x188] = 0x17;
        ASSERT_OK(cp_snp_report_parse(raw, sizeof(raw), 0, &r));
        ASSERT_EQ(r.cpuid_generation, CP_SNP_GEN_UNKNOWN);
        /* v5: MIT vectors are fields */
        load_report(V5_REPORT, 0, raw);
        cp_put_le64(raw + 0x1f8, UINT64_C(0x8000000000000001));
        cp_put_le64(raw + 0x200, UINT64_C(0xff));
        ASSERT_OK(cp_snp_report_parse(raw, sizeof(raw), 0, &r));
        ASSERT_U64_EQ(r.launch_mit_vector, UINT64_C(0x8000000000000001));
        ASSERT_U64_EQ(r.current_mit_vector, 0xff);
}

TEST(signer_info_reserved_bits) {
        static uint8_t raw[CP_SNP_REPORT_SIZE];
        static cp_snp_report r;
        load_report(V2_REPORT, 0, raw);
        uint32_t orig = get32(raw + 0x48);
        for (unsigned bit = 5; bit < 32; bit++) {
                cp_put_le32(raw + 0x48, orig | (UINT32_C(1) << bit));
                ASSERT_ERR(cp_snp_report_parse(raw, sizeof(raw), 0, &r), CP_EMBZ);
        }
        /* AUTHOR_KEY_EN is a flag */
        cp_put_le32(raw + 0x48, orig | 1);
        ASSERT_OK(cp_snp_report_parse(raw, sizeof(raw), 0, &r));
        ASSERT_TRUE(r.author_key_en);
}

/* ---- negative: signature algorithm and signing key */

TEST(bad_signature_algo) {
        static uint8_t raw[CP_SNP_REPORT_SIZE];
        static cp_snp_report r;
        static const uint32_t bad[] = { 0, 2, 3, 0x100, UINT32_MAX };
        load_report(V3_MILAN_VCEK_REPORT, 0, raw);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                cp_put_le32(raw + 0x34, bad[i]);
                ASSERT_ERR(cp_snp_report_parse(raw, sizeof(raw), 0, &r), CP_EFORMAT);
        }
}

TEST(reserved_signing_keys) {
        static uint8_t raw[CP_SNP_REPORT_SIZE];
        static cp_snp_report r;
        load_report(V2_REPORT, 0, raw);
        uint32_t orig = get32(raw + 0x48);
        for (uint32_t key = 2; key <= 6; key++) {
                cp_put_le32(raw + 0x48, (orig & ~UINT32_C(0x1c)) | key << 2);
                ASSERT_ERR(cp_snp_report_parse(raw, sizeof(raw), 0, &r), CP_EFORMAT);
        }
        /* VLEK is a valid value (the signature would not verify, but parses) */
        cp_put_le32(raw + 0x48, (orig & ~UINT32_C(0x1c)) | CP_SNP_SIGNING_KEY_VLEK << 2);
        ASSERT_OK(cp_snp_report_parse(raw, sizeof(raw), 0, &r));
        ASSERT_EQ(r.signing_key, CP_SNP_SIGNING_KEY_VLEK);
}

TEST(signing_key_none) {
        static uint8_t raw[CP_SNP_REPORT_SIZE];
        static cp_snp_report r;
        load_report(V2_REPORT, 0, raw);
        cp_put_le32(raw + 0x48, CP_SNP_SIGNING_KEY_NONE << 2);
        /* a signature where none may be */
        ASSERT_ERR(cp_snp_report_parse(raw, sizeof(raw), 0, &r), CP_EFORMAT);
        memset(raw + CP_SNP_REPORT_SIGNED_SIZE, 0, CP_SNP_REPORT_SIZE - CP_SNP_REPORT_SIGNED_SIZE);
        ASSERT_OK(cp_snp_report_parse(raw, sizeof(raw), 0, &r));
        ASSERT_EQ(r.signing_key, CP_SNP_SIGNING_KEY_NONE);
        ASSERT_FALSE(cp_snp_report_has_signature(&r));
        ASSERT_TRUE(all_zero(r.signature_r, 72) && all_zero(r.signature_s, 72));
        cp_put_le32(raw + 0x34, 0);
        ASSERT_OK(cp_snp_report_parse(raw, sizeof(raw), 0, &r));
        cp_put_le32(raw + 0x34, 2);
        ASSERT_ERR(cp_snp_report_parse(raw, sizeof(raw), 0, &r), CP_EFORMAT);
        cp_put_le32(raw + 0x34, 1);
        /* every byte of the area must be zero */
        for (size_t off = CP_SNP_REPORT_SIGNED_SIZE; off < CP_SNP_REPORT_SIZE; off += 37) {
                raw[off] = 1;
                ASSERT_ERR(cp_snp_report_parse(raw, sizeof(raw), 0, &r), CP_EFORMAT);
                raw[off] = 0;
        }
}

TEST(mask_chip_key) {
        static uint8_t raw[CP_SNP_REPORT_SIZE];
        static cp_snp_report r;
        load_report(V2_REPORT, 0, raw);
        cp_put_le32(raw + 0x48, get32(raw + 0x48) | 2);
        /* firmware zero-fills the signature when MASK_CHIP_KEY is set */
        ASSERT_ERR(cp_snp_report_parse(raw, sizeof(raw), 0, &r), CP_EFORMAT);
        memset(raw + CP_SNP_REPORT_SIGNED_SIZE, 0, CP_SNP_REPORT_SIZE - CP_SNP_REPORT_SIGNED_SIZE);
        ASSERT_OK(cp_snp_report_parse(raw, sizeof(raw), 0, &r));
        ASSERT_TRUE(r.mask_chip_key);
        ASSERT_EQ(r.signing_key, CP_SNP_SIGNING_KEY_VCEK);
        ASSERT_FALSE(cp_snp_report_has_signature(&r));
        ASSERT_FALSE(cp_snp_report_has_signature(NULL));
}

/* ---- guest policy and platform info */

TEST(policy_reserved_bits) {
        static uint8_t raw[CP_SNP_REPORT_SIZE];
        static cp_snp_report r;
        load_report(V3_MILAN_VCEK_REPORT, 0, raw);
        uint64_t orig = get64(raw + 0x08);
        cp_put_le64(raw + 0x08, orig & ~CP_SNP_POLICY_RESERVED_1);
        ASSERT_ERR(cp_snp_report_parse(raw, sizeof(raw), 0, &r), CP_EFORMAT);
        for (unsigned bit = 26; bit < 64; bit++) {
                cp_put_le64(raw + 0x08, orig | (UINT64_C(1) << bit));
                ASSERT_ERR(cp_snp_report_parse(raw, sizeof(raw), 0, &r), CP_EFORMAT);
        }
        /* every known bit parses */
        cp_put_le64(raw + 0x08, CP_SNP_POLICY_KNOWN_MASK);
        ASSERT_OK(cp_snp_report_parse(raw, sizeof(raw), 0, &r));
        ASSERT_U64_EQ(r.policy, CP_SNP_POLICY_KNOWN_MASK);
        ASSERT_EQ(CP_SNP_POLICY_ABI_MAJOR(r.policy), 0xff);
}

TEST(unknown_platform_info_bits_reported) {
        static uint8_t raw[CP_SNP_REPORT_SIZE];
        static cp_snp_report r;
        load_report(V5_REPORT, 0, raw);
        /* the real Turin report's 0x67 sets bit 6 */
        cp_put_le64(raw + 0x40, 0x67);
        ASSERT_OK(cp_snp_report_parse(raw, sizeof(raw), 0, &r));
        ASSERT_U64_EQ(r.platform_info, 0x67);
        ASSERT_U64_EQ(r.unknown_platform_info_bits, 0x40);
        cp_put_le64(raw + 0x40, UINT64_C(0x8000000000000100) | CP_SNP_PLATFORM_TIO_EN | CP_SNP_PLATFORM_SMT_EN);
        ASSERT_OK(cp_snp_report_parse(raw, sizeof(raw), 0, &r));
        ASSERT_U64_EQ(r.unknown_platform_info_bits, UINT64_C(0x8000000000000100));
        cp_put_le64(raw + 0x40, CP_SNP_PLATFORM_KNOWN_MASK);
        ASSERT_OK(cp_snp_report_parse(raw, sizeof(raw), 0, &r));
        ASSERT_U64_EQ(r.unknown_platform_info_bits, 0);
}

/* ---- TCB_VERSION */

TEST(tcb_decode_milan_genoa) {
        cp_snp_tcb t;
        ASSERT_OK(cp_snp_tcb_decode(UINT64_C(0x4405000000000002), CP_SNP_GEN_MILAN, &t));
        ASSERT_EQ(t.bl, 2);
        ASSERT_EQ(t.tee, 0);
        ASSERT_EQ(t.snp, 5);
        ASSERT_EQ(t.ucode, 68);
        ASSERT_FALSE(t.has_fmc);
        ASSERT_OK(cp_snp_tcb_decode(UINT64_C(0x541700000000000a), CP_SNP_GEN_GENOA, &t));
        ASSERT_EQ(t.bl, 10);
        ASSERT_EQ(t.snp, 23);
        ASSERT_EQ(t.ucode, 84);
        ASSERT_OK(cp_snp_tcb_decode(UINT64_C(0xdb18000000000104), CP_SNP_GEN_MILAN, &t));
        ASSERT_EQ(t.tee, 1);
        /* bytes 2-5 reserved */
        for (unsigned b = 2; b <= 5; b++) {
                ASSERT_ERR(cp_snp_tcb_decode(UINT64_C(0x4405000000000002) | UINT64_C(1) << (8 * b), CP_SNP_GEN_MILAN, &t),
                           CP_EMBZ);
                ASSERT_ERR(cp_snp_tcb_decode(UINT64_C(0x80) << (8 * b), CP_SNP_GEN_GENOA, &t), CP_EMBZ);
        }
}

TEST(tcb_decode_turin) {
        /* snp-anchors: REPORTED_TCB bytes 00 01 00 02 00 00 00 47 */
        static const uint8_t bytes[8] = { 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x47 };
        uint64_t raw = get64(bytes);
        cp_snp_tcb t;
        ASSERT_U64_EQ(raw, UINT64_C(0x4700000002000100));
        ASSERT_OK(cp_snp_tcb_decode(raw, CP_SNP_GEN_TURIN, &t));
        ASSERT_TRUE(t.has_fmc);
        ASSERT_EQ(t.fmc, 0);
        ASSERT_EQ(t.bl, 1);
        ASSERT_EQ(t.tee, 0);
        ASSERT_EQ(t.snp, 2);
        ASSERT_EQ(t.ucode, 71);
        ASSERT_U64_EQ(cp_snp_tcb_encode(&t, CP_SNP_GEN_TURIN), raw);
        /* as a Milan value byte 3 is reserved */
        ASSERT_ERR(cp_snp_tcb_decode(raw, CP_SNP_GEN_MILAN, &t), CP_EMBZ);
        /* Turin reserved bytes 4-6 */
        for (unsigned b = 4; b <= 6; b++)
                ASSERT_ERR(cp_snp_tcb_decode(raw | UINT64_C(1) << (8 * b), CP_SNP_GEN_TURIN, &t), CP_EMBZ);
        ASSERT_OK(cp_snp_tcb_decode(raw | 0x05, CP_SNP_GEN_TURIN, &t));
        ASSERT_EQ(t.fmc, 5);
}

TEST(tcb_decode_unknown_generation) {
        cp_snp_tcb t;
        memset(&t, 0x5a, sizeof(t));
        ASSERT_ERR(cp_snp_tcb_decode(0, CP_SNP_GEN_UNKNOWN, &t), CP_EINVAL);
        ASSERT_ERR(cp_snp_tcb_decode(0, _CP_SNP_GEN_MAX, &t), CP_EINVAL);
        ASSERT_ERR(cp_snp_tcb_decode(0, _CP_SNP_GEN_INVALID, &t), CP_EINVAL);
        ASSERT_EQ(t.bl, 0x5a); /* untouched */
        ASSERT_ERR(cp_snp_tcb_decode(0, CP_SNP_GEN_MILAN, NULL), CP_EINVAL);
        cp_snp_tcb x = { .bl = 1, .ucode = 2 };
        ASSERT_U64_EQ(cp_snp_tcb_encode(&x, CP_SNP_GEN_UNKNOWN), 0);
        ASSERT_U64_EQ(cp_snp_tcb_encode(NULL, CP_SNP_GEN_MILAN), 0);
}

TEST(tcb_encode_roundtrip) {
        static const cp_snp_generation gens[] = { CP_SNP_GEN_MILAN, CP_SNP_GEN_GENOA, CP_SNP_GEN_TURIN };
        for (size_t g = 0; g < 3; g++)
                for (unsigned v = 0; v < 256; v += 51) {
                        cp_snp_tcb in = { .bl = (uint8_t) v, .tee = (uint8_t) (v ^ 0x0f), .snp = (uint8_t) (255 - v),
                                          .ucode = (uint8_t) (v * 3), .fmc = 0, .has_fmc = gens[g] == CP_SNP_GEN_TURIN };
                        if (in.has_fmc)
                                in.fmc = (uint8_t) (v + 7);
                        cp_snp_tcb out;
                        ASSERT_OK(cp_snp_tcb_decode(cp_snp_tcb_encode(&in, gens[g]), gens[g], &out));
                        ASSERT_MEMEQ(&in, &out, sizeof(in));
                }
        cp_snp_tcb m = { .bl = 3, .tee = 0, .snp = 8, .ucode = 115 };
        ASSERT_U64_EQ(cp_snp_tcb_encode(&m, CP_SNP_GEN_MILAN), UINT64_C(0x7308000000000003));
}

TEST(tcb_ge) {
        cp_snp_tcb a = { .bl = 3, .tee = 0, .snp = 8, .ucode = 115 };
        cp_snp_tcb b = a;
        ASSERT_TRUE(cp_snp_tcb_ge(&a, &b));
        b.ucode = 116;
        ASSERT_FALSE(cp_snp_tcb_ge(&a, &b));
        ASSERT_TRUE(cp_snp_tcb_ge(&b, &a));
        /* component-wise, not lexicographic */
        b = a;
        b.bl = 2;
        b.snp = 9;
        ASSERT_FALSE(cp_snp_tcb_ge(&a, &b));
        ASSERT_FALSE(cp_snp_tcb_ge(&b, &a));
        b = a;
        b.tee = 1;
        ASSERT_FALSE(cp_snp_tcb_ge(&a, &b));
        /* FMC counts on Turin */
        cp_snp_tcb t1 = { .bl = 1, .snp = 2, .ucode = 71, .fmc = 1, .has_fmc = true };
        cp_snp_tcb t2 = t1;
        t2.fmc = 2;
        ASSERT_FALSE(cp_snp_tcb_ge(&t1, &t2));
        ASSERT_TRUE(cp_snp_tcb_ge(&t2, &t1));
        ASSERT_FALSE(cp_snp_tcb_ge(NULL, &t1));
        ASSERT_FALSE(cp_snp_tcb_ge(&t1, NULL));
}

/* ---- generations */

TEST(generation_names) {
        ASSERT_STREQ(cp_snp_generation_name(CP_SNP_GEN_MILAN), "Milan");
        ASSERT_STREQ(cp_snp_generation_name(CP_SNP_GEN_GENOA), "Genoa");
        ASSERT_STREQ(cp_snp_generation_name(CP_SNP_GEN_TURIN), "Turin");
        ASSERT_STREQ(cp_snp_generation_name(CP_SNP_GEN_UNKNOWN), "unknown");
        ASSERT_STREQ(cp_snp_generation_name(_CP_SNP_GEN_MAX), "unknown");
        ASSERT_STREQ(cp_snp_generation_name(_CP_SNP_GEN_INVALID), "unknown");

        ASSERT_EQ(cp_snp_generation_from_name("Milan"), CP_SNP_GEN_MILAN);
        ASSERT_EQ(cp_snp_generation_from_name("Milan-B0"), CP_SNP_GEN_MILAN);
        ASSERT_EQ(cp_snp_generation_from_name("Milan-B1"), CP_SNP_GEN_MILAN);
        ASSERT_EQ(cp_snp_generation_from_name("Genoa"), CP_SNP_GEN_GENOA);
        ASSERT_EQ(cp_snp_generation_from_name("Genoa-B1"), CP_SNP_GEN_GENOA);
        ASSERT_EQ(cp_snp_generation_from_name("Turin"), CP_SNP_GEN_TURIN);
        ASSERT_EQ(cp_snp_generation_from_name("Turin-C1"), CP_SNP_GEN_TURIN);
        static const char *const bad[] = { "", "milan", "MILAN", "Mila", "Milan-", "Milanx", "Milan B0",
                                           "Milan-b0", "Milan-B0-B1", "Milan-B0000", " Milan", "Venice",
                                           "unknown", "Genoa\n" };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                if (cp_snp_generation_from_name(bad[i]) != CP_SNP_GEN_UNKNOWN)
                        cp_test_fail(__FILE__, __LINE__, "\"%s\" accepted", bad[i]);
        ASSERT_EQ(cp_snp_generation_from_name(NULL), CP_SNP_GEN_UNKNOWN);
}

TEST(generation_from_cpuid) {
        ASSERT_EQ(cp_snp_generation_from_cpuid(0x19, 0x01), CP_SNP_GEN_MILAN);
        ASSERT_EQ(cp_snp_generation_from_cpuid(0x19, 0x00), CP_SNP_GEN_MILAN);
        ASSERT_EQ(cp_snp_generation_from_cpuid(0x19, 0x0f), CP_SNP_GEN_MILAN);
        ASSERT_EQ(cp_snp_generation_from_cpuid(0x19, 0x10), CP_SNP_GEN_GENOA);
        ASSERT_EQ(cp_snp_generation_from_cpuid(0x19, 0x11), CP_SNP_GEN_GENOA);
        ASSERT_EQ(cp_snp_generation_from_cpuid(0x19, 0x1f), CP_SNP_GEN_GENOA);
        ASSERT_EQ(cp_snp_generation_from_cpuid(0x19, 0xa0), CP_SNP_GEN_GENOA);
        ASSERT_EQ(cp_snp_generation_from_cpuid(0x19, 0xaf), CP_SNP_GEN_GENOA);
        ASSERT_EQ(cp_snp_generation_from_cpuid(0x19, 0x20), CP_SNP_GEN_UNKNOWN);
        ASSERT_EQ(cp_snp_generation_from_cpuid(0x19, 0x9f), CP_SNP_GEN_UNKNOWN);
        ASSERT_EQ(cp_snp_generation_from_cpuid(0x19, 0xb0), CP_SNP_GEN_UNKNOWN);
        ASSERT_EQ(cp_snp_generation_from_cpuid(0x1a, 0x02), CP_SNP_GEN_TURIN);
        ASSERT_EQ(cp_snp_generation_from_cpuid(0x1a, 0x00), CP_SNP_GEN_TURIN);
        ASSERT_EQ(cp_snp_generation_from_cpuid(0x1a, 0x11), CP_SNP_GEN_TURIN);
        ASSERT_EQ(cp_snp_generation_from_cpuid(0x1a, 0x12), CP_SNP_GEN_UNKNOWN);
        ASSERT_EQ(cp_snp_generation_from_cpuid(0x1a, 0x50), CP_SNP_GEN_UNKNOWN); /* Venice: not supported */
        ASSERT_EQ(cp_snp_generation_from_cpuid(0x17, 0x01), CP_SNP_GEN_UNKNOWN);
        ASSERT_EQ(cp_snp_generation_from_cpuid(0x00, 0x00), CP_SNP_GEN_UNKNOWN);
}

TEST(fuzz_seeds) {
        /* The fuzz corpus: real reports and hand-made edge cases. */
        static const struct {
                const char *name;
                unsigned flags;
                int expect;
        } seeds[] = {
                { "v2-go-sev-guest.bin", 0, 0 },     { "v3-vlek-aws.bin", 0, 0 },
                { "v3-genoa-azure.bin", 0, 0 },      { "v5-genoa-oak.bin", 0, 0 },
                { "v6-newer.bin", 0, CP_EVERSION },  { "v6-newer.bin", CP_SNP_PARSE_ALLOW_NEWER, 0 },
                { "v2-unsigned.bin", 0, 0 },         { "truncated-100.bin", 0, CP_ETRUNC },
        };
        for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
                static cp_snp_report r;
                char rel[256];
                size_t len;
                snprintf(rel, sizeof(rel), "../../fuzz/corpus/fuzz-snp-report/%s", seeds[i].name);
                uint8_t *buf = cp_test_read(rel, &len);
                int k = cp_snp_report_parse(buf, len, seeds[i].flags, &r);
                free(buf);
                if (k != seeds[i].expect)
                        cp_test_fail(__FILE__, __LINE__, "%s: %s: %s", seeds[i].name, cp_err_name(k), cp_error_message());
        }
}
