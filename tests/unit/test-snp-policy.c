/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for the SEV-SNP validation policy: every constraint of
 * cp_snp_policy_check() passing and failing, and the strict JSON form. */
#include <stdlib.h>

#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/limits.h"
#include "confpool/snp_policy.h"
#include "tests.h"

/* Values from a real Azure Milan v3 report (trustee
 * az-snp-vtpm/evidence-v1.hcl-report.snp-report.bin), TCBs as in the
 * brief's baseline. */
#define AZ_FAMILY_ID "02212000000000000000000000000000"
#define AZ_IMAGE_ID "02000000000000000000000000000000"
#define AZ_REPORT_DATA                                                         \
        "af2910341dd8108360e485f1b72494255190b9cdd5ccb44b73b883037cf99f21" \
        "0000000000000000000000000000000000000000000000000000000000000000"
#define AZ_MEASUREMENT                                                     \
        "6a063be9dd79f6371c842e480f8dc3b5c725961344e57130e88c5adf49e8f7f6" \
        "c79b75a5eb77fc769959f4aeb2f9401e"
#define AZ_ID_KEY_DIGEST                                                   \
        "942fd93ebde6ea7a96efadeafc60f1c6b3d10e703b1dafd7555b92f7f3d32d0e" \
        "006767648cba5b102af3d65756af4177"
#define AZ_REPORT_ID "5ab50660c013e1c2ea33b759d64e1ac2e9b68fc9b788640eca9df081cbb866c9"
#define AZ_REPORT_ID_MA "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
#define AZ_CHIP_ID                                                         \
        "66a5a7b4403a3006ca734aa36a76dd3061d56f398e1e73b0be683ecd2eede9e7" \
        "0811c677abf8d9c9251b52baafbdc97b8121ec0c75661ffba636073b09fa563a"
#define AZ_TCB UINT64_C(0x7308000000000003) /* bl 3, tee 0, snp 8, ucode 115 */

#define OTHER48                                                            \
        "111111111111111111111111111111111111111111111111111111111111111" \
        "111111111111111111111111111111111"

static void unhex(const char *h, uint8_t *out, size_t n) {
        size_t got = 0;
        if (strlen(h) != 2 * n || cp_hex_decode(h, strlen(h), out, n, &got) < 0 || got != n)
                cp_test_fail(__FILE__, __LINE__, "bad test hex %s", h);
}

static void baseline(cp_snp_report *r) {
        memset(r, 0, sizeof(*r));
        r->version = 3;
        r->guest_svn = 10;
        r->policy = 0x3001f;
        unhex(AZ_FAMILY_ID, r->family_id, 16);
        unhex(AZ_IMAGE_ID, r->image_id, 16);
        r->vmpl = 0;
        r->signature_algo = 1;
        r->current_tcb = r->reported_tcb = r->committed_tcb = r->launch_tcb = AZ_TCB;
        r->platform_info = 0x1;
        r->signer_info = 0;
        r->signing_key = CP_SNP_SIGNING_KEY_VCEK;
        unhex(AZ_REPORT_DATA, r->report_data, 64);
        unhex(AZ_MEASUREMENT, r->measurement, 48);
        unhex(AZ_ID_KEY_DIGEST, r->id_key_digest, 48);
        unhex(AZ_REPORT_ID, r->report_id, 32);
        unhex(AZ_REPORT_ID_MA, r->report_id_ma, 32);
        r->has_cpuid = true;
        r->cpuid_fam_id = 0x19;
        r->cpuid_mod_id = 0x01;
        r->cpuid_step = 0x01;
        unhex(AZ_CHIP_ID, r->chip_id, 64);
        r->current_build = r->committed_build = 29;
        r->current_minor = r->committed_minor = 55;
        r->current_major = r->committed_major = 1;
        r->cpuid_generation = CP_SNP_GEN_MILAN;
}

/* A Turin report (real Oak Turin: REPORTED_TCB bytes 00 01 00 02 00 00 00 47,
 * i.e. fmc 0, bl 1, tee 0, snp 2, ucode 0x47; here fmc raised to 3). */
#define TURIN_TCB UINT64_C(0x4700000002000103)

static void baseline_turin(cp_snp_report *r) {
        baseline(r);
        r->version = 5;
        r->policy = 0x30000;
        r->platform_info = 0x67;
        r->current_tcb = r->reported_tcb = r->committed_tcb = r->launch_tcb = TURIN_TCB;
        r->cpuid_fam_id = 0x1a;
        r->cpuid_mod_id = 0x02;
        r->has_mit_vectors = true;
        r->cpuid_generation = CP_SNP_GEN_TURIN;
}

#define ASSERT_MSG_HAS(needle)                                                                   \
        do {                                                                                     \
                if (!strstr(cp_error_message(), (needle)))                                       \
                        cp_test_fail(__FILE__, __LINE__, "message \"%s\" lacks \"%s\"",           \
                                     cp_error_message(), (needle));                              \
        } while (0)

/* The check must refuse with CP_EPOLICY and a message containing needle. */
#define ASSERT_REFUSED(p, r, gen, needle)                                   \
        do {                                                                \
                ASSERT_ERR(cp_snp_policy_check((p), (r), (gen)), CP_EPOLICY); \
                ASSERT_MSG_HAS(needle);                                     \
        } while (0)

#define ASSERT_ACCEPTED(p, r, gen) ASSERT_OK(cp_snp_policy_check((p), (r), (gen)))

/* ---- defaults */

TEST(defaults) {
        cp_snp_policy p;
        cp_snp_policy_init(&p);
        ASSERT_EQ(p.version, CP_SNP_POLICY_VERSION);
        ASSERT_TRUE(p.check_guest_policy);
        ASSERT_TRUE(p.allow_smt);
        ASSERT_FALSE(p.allow_debug);
        ASSERT_FALSE(p.allow_migrate_ma);
        ASSERT_FALSE(p.allow_cxl);
        ASSERT_FALSE(p.require_single_socket || p.require_mem_aes_256_xts || p.require_rapl_dis ||
                     p.require_ciphertext_hiding || p.require_page_swap_disable);
        ASSERT_FALSE(p.check_platform_info);
        ASSERT_TRUE(p.platform_allow_smt && p.platform_allow_tsme && p.platform_allow_tio);
        ASSERT_FALSE(p.platform_allow_unknown_bits);
        ASSERT_TRUE(p.allow_vcek);
        ASSERT_TRUE(p.allow_vlek);
        ASSERT_TRUE(p.permit_provisional_firmware);
        ASSERT_FALSE(p.has_min_tcb || p.has_min_launch_tcb || p.has_report_data || p.has_host_data ||
                     p.has_family_id || p.has_image_id || p.has_report_id || p.has_report_id_ma ||
                     p.has_chip_id || p.has_vmpl || p.has_generation);
        ASSERT_EQ(p.measurements.n, 0);
        ASSERT_EQ(p.measurements.width, 48);
        ASSERT_EQ(p.trusted_id_key_digests.width, 48);
        ASSERT_EQ(p.trusted_author_key_digests.width, 48);
        ASSERT_U64_EQ(p.min_launch_mit_vector, 0);
        cp_snp_policy_clear(&p);
        cp_snp_policy_clear(NULL);
        cp_snp_policy_init(NULL);
}

TEST(default_accepts_azure_baseline) {
        cp_snp_policy p;
        cp_snp_report r;
        cp_snp_policy_init(&p);
        baseline(&r);
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
        /* real Azure Milan v2: CURRENT_TCB (ucode 0xce) != COMMITTED_TCB */
        r.current_tcb = UINT64_C(0xce08000000000003);
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
}

TEST(check_invalid_arguments) {
        cp_snp_policy p;
        cp_snp_report r;
        cp_snp_policy_init(&p);
        baseline(&r);
        ASSERT_ERR(cp_snp_policy_check(NULL, &r, CP_SNP_GEN_MILAN), CP_EINVAL);
        ASSERT_ERR(cp_snp_policy_check(&p, NULL, CP_SNP_GEN_MILAN), CP_EINVAL);
        p.version = 2;
        ASSERT_ERR(cp_snp_policy_check(&p, &r, CP_SNP_GEN_MILAN), CP_EINVAL);
        p.version = CP_SNP_POLICY_VERSION;
        uint8_t item[32] = { 0 };
        p.measurements.width = 0;
        ASSERT_OK(cp_snp_bytes_set_add(&p.measurements, item, sizeof(item)));
        ASSERT_ERR(cp_snp_policy_check(&p, &r, CP_SNP_GEN_MILAN), CP_EINVAL);
        cp_snp_policy_clear(&p);
}

/* ---- guest policy */

TEST(guest_policy_debug_refused_by_default) {
        cp_snp_policy p;
        cp_snp_report r;
        cp_snp_policy_init(&p);
        baseline(&r);
        r.policy = 0xb0000; /* the go-sev-guest sample: DEBUG set */
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, "guest_policy.allow_debug");
        ASSERT_MSG_HAS("0xb0000");
        p.allow_debug = true;
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
        /* check_guest_policy = false disables every guest policy check */
        p.allow_debug = false;
        p.check_guest_policy = false;
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
        r.policy = 0; /* even bit 17 */
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
}

TEST(guest_policy_allowed_only_bits) {
        static const struct {
                uint64_t bit;
                size_t off;
                const char *key;
        } cases[] = {
                { CP_SNP_POLICY_SMT, offsetof(cp_snp_policy, allow_smt), "guest_policy.allow_smt" },
                { CP_SNP_POLICY_MIGRATE_MA, offsetof(cp_snp_policy, allow_migrate_ma), "guest_policy.allow_migrate_ma" },
                { CP_SNP_POLICY_DEBUG, offsetof(cp_snp_policy, allow_debug), "guest_policy.allow_debug" },
                { CP_SNP_POLICY_CXL_ALLOW, offsetof(cp_snp_policy, allow_cxl), "guest_policy.allow_cxl" },
        };
        for (size_t i = 0; i < CP_ELEMENTSOF(cases); i++) {
                cp_snp_policy p;
                cp_snp_report r;
                cp_snp_policy_init(&p);
                baseline(&r);
                bool *allow = (bool *) ((uint8_t *) &p + cases[i].off);
                r.policy = 0x3001f & ~CP_SNP_POLICY_SMT;
                *allow = false;
                ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN); /* bit clear: fine either way */
                r.policy |= cases[i].bit;
                ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, cases[i].key);
                *allow = true;
                ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
        }
}

TEST(guest_policy_required_bits) {
        static const struct {
                uint64_t bit;
                size_t off;
                const char *key;
        } cases[] = {
                { CP_SNP_POLICY_SINGLE_SOCKET, offsetof(cp_snp_policy, require_single_socket),
                  "guest_policy.require_single_socket" },
                { CP_SNP_POLICY_MEM_AES_256_XTS, offsetof(cp_snp_policy, require_mem_aes_256_xts),
                  "guest_policy.require_mem_aes_256_xts" },
                { CP_SNP_POLICY_RAPL_DIS, offsetof(cp_snp_policy, require_rapl_dis), "guest_policy.require_rapl_dis" },
                { CP_SNP_POLICY_CIPHERTEXT_HIDING, offsetof(cp_snp_policy, require_ciphertext_hiding),
                  "guest_policy.require_ciphertext_hiding" },
                { CP_SNP_POLICY_PAGE_SWAP_DISABLE, offsetof(cp_snp_policy, require_page_swap_disable),
                  "guest_policy.require_page_swap_disable" },
        };
        for (size_t i = 0; i < CP_ELEMENTSOF(cases); i++) {
                cp_snp_policy p;
                cp_snp_report r;
                cp_snp_policy_init(&p);
                baseline(&r);
                bool *req = (bool *) ((uint8_t *) &p + cases[i].off);
                ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
                *req = true;
                ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, cases[i].key);
                r.policy |= cases[i].bit;
                ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
        }
}

TEST(guest_policy_reserved_bits) {
        cp_snp_policy p;
        cp_snp_report r;
        cp_snp_policy_init(&p);
        baseline(&r);
        r.policy = 0x3001f | (UINT64_C(1) << 26);
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, "reserved bits 0x4000000");
        r.policy = 0x1001f; /* bit 17 clear */
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, "bit 17");
}

TEST(guest_policy_min_abi) {
        cp_snp_policy p;
        cp_snp_report r;
        cp_snp_policy_init(&p);
        baseline(&r); /* ABI 0.31 */
        p.min_abi_major = 0;
        p.min_abi_minor = 31;
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
        p.min_abi_minor = 32;
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, "guest_policy.min_abi");
        ASSERT_MSG_HAS("ABI 0.31, below the minimum 0.32");
        p.min_abi_major = 1;
        p.min_abi_minor = 0;
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, "guest_policy.min_abi");
        r.policy = 0x30100; /* ABI 1.0 */
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
        p.min_abi_major = 0;
        p.min_abi_minor = 255;
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN); /* lexicographic, not by sum */
}

/* ---- platform info */

TEST(platform_info_unknown_bits) {
        cp_snp_policy p;
        cp_snp_report r;
        cp_snp_policy_init(&p);
        baseline_turin(&r); /* PLATFORM_INFO 0x67: bit 6 unknown */
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_TURIN); /* not checked by default */
        p.check_platform_info = true;
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_TURIN, "platform_info.allow_unknown_bits");
        ASSERT_MSG_HAS("0x40");
        p.platform_allow_unknown_bits = true;
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_TURIN);
        /* bits reported by the parser are honoured too */
        p.platform_allow_unknown_bits = false;
        r.platform_info = 0x27;
        r.unknown_platform_info_bits = UINT64_C(1) << 40;
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_TURIN, "platform_info.allow_unknown_bits");
        r.unknown_platform_info_bits = 0;
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_TURIN);
}

TEST(platform_info_flags) {
        static const struct {
                uint64_t bit;
                size_t off;
                bool required;
                const char *key;
        } cases[] = {
                { CP_SNP_PLATFORM_SMT_EN, offsetof(cp_snp_policy, platform_allow_smt), false, "platform_info.allow_smt" },
                { CP_SNP_PLATFORM_TSME_EN, offsetof(cp_snp_policy, platform_allow_tsme), false,
                  "platform_info.allow_tsme" },
                { CP_SNP_PLATFORM_TIO_EN, offsetof(cp_snp_policy, platform_allow_tio), false, "platform_info.allow_tio" },
                { CP_SNP_PLATFORM_ECC_EN, offsetof(cp_snp_policy, platform_require_ecc), true,
                  "platform_info.require_ecc" },
                { CP_SNP_PLATFORM_RAPL_DIS, offsetof(cp_snp_policy, platform_require_rapl_dis), true,
                  "platform_info.require_rapl_dis" },
                { CP_SNP_PLATFORM_CIPHERTEXT_HIDING, offsetof(cp_snp_policy, platform_require_ciphertext_hiding),
                  true, "platform_info.require_ciphertext_hiding" },
                { CP_SNP_PLATFORM_ALIAS_CHECK_DONE, offsetof(cp_snp_policy, platform_require_alias_check), true,
                  "platform_info.require_alias_check" },
        };
        for (size_t i = 0; i < CP_ELEMENTSOF(cases); i++) {
                cp_snp_policy p;
                cp_snp_report r;
                cp_snp_policy_init(&p);
                baseline(&r);
                p.check_platform_info = true;
                bool *flag = (bool *) ((uint8_t *) &p + cases[i].off);
                r.platform_info = 0;
                ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
                if (cases[i].required) {
                        *flag = true;
                        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, cases[i].key);
                        r.platform_info = cases[i].bit;
                        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
                        /* without check_platform_info nothing is enforced */
                        r.platform_info = 0;
                        p.check_platform_info = false;
                        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
                } else {
                        r.platform_info = cases[i].bit;
                        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
                        *flag = false;
                        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, cases[i].key);
                        p.check_platform_info = false;
                        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
                }
        }
}

/* ---- versions */

TEST(min_guest_svn_and_vmpl) {
        cp_snp_policy p;
        cp_snp_report r;
        cp_snp_policy_init(&p);
        baseline(&r);
        p.min_guest_svn = 10;
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
        p.min_guest_svn = 11;
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, "min_guest_svn: GUEST_SVN 10 is below the minimum 11");
        p.min_guest_svn = 0;
        p.has_vmpl = true;
        p.vmpl = 0;
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
        r.vmpl = 1;
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, "vmpl: expected 0, got 1");
        p.has_vmpl = false;
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
}

TEST(min_build_and_version) {
        cp_snp_policy p;
        cp_snp_report r;
        cp_snp_policy_init(&p);
        baseline(&r); /* firmware 1.55 build 29 */
        p.min_build = 29;
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
        p.min_build = 30;
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, "min_build: CURRENT_BUILD 29 is below the minimum 30");
        p.min_build = 0;
        p.min_version_major = 1;
        p.min_version_minor = 55;
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
        p.min_version_minor = 56;
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, "min_version: firmware 1.55");
        p.min_version_major = 2;
        p.min_version_minor = 0;
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, "min_version");
        p.min_version_major = 0;
        p.min_version_minor = 99;
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
}

TEST(provisional_firmware) {
        cp_snp_policy p;
        cp_snp_report r;
        cp_snp_policy_init(&p);
        baseline(&r);
        p.permit_provisional_firmware = false;
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
        r.current_tcb = UINT64_C(0xce08000000000003);
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, "permit_provisional_firmware: COMMITTED_TCB");
        r.current_tcb = AZ_TCB;
        r.current_build = 30;
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, "permit_provisional_firmware: committed firmware 1.55 build 29");
        r.current_build = 29;
        r.current_minor = 56;
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, "permit_provisional_firmware");
        r.current_minor = 55;
        r.committed_major = 0;
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, "permit_provisional_firmware");
        p.permit_provisional_firmware = true;
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
}

/* ---- TCB floors */

static void set_floor(cp_snp_policy *p, uint8_t bl, uint8_t tee, uint8_t snp, uint8_t ucode) {
        p->has_min_tcb = true;
        p->min_tcb = (cp_snp_tcb) { .bl = bl, .tee = tee, .snp = snp, .ucode = ucode };
}

TEST(min_tcb_components_each_tcb) {
        /* Which report field, and for each component a floor one above the
         * baseline (bl 3, tee 0, snp 8, ucode 115). */
        static const struct {
                const char *comp;
                uint8_t bl, tee, snp, ucode;
        } floors[] = {
                { "min_tcb.bl:", 4, 0, 8, 115 },
                { "min_tcb.tee:", 3, 1, 8, 115 },
                { "min_tcb.snp:", 3, 0, 9, 115 },
                { "min_tcb.ucode:", 3, 0, 8, 116 },
        };
        static const char *const which[] = { "CURRENT_TCB", "COMMITTED_TCB", "REPORTED_TCB" };
        for (size_t w = 0; w < CP_ELEMENTSOF(which); w++)
                for (size_t i = 0; i < CP_ELEMENTSOF(floors); i++) {
                        cp_snp_policy p;
                        cp_snp_report r;
                        cp_snp_policy_init(&p);
                        baseline(&r);
                        /* raise the other two TCBs well above every floor */
                        uint64_t high = UINT64_C(0xff09000000000105);
                        r.current_tcb = w == 0 ? AZ_TCB : high;
                        r.committed_tcb = w == 1 ? AZ_TCB : high;
                        r.reported_tcb = w == 2 ? AZ_TCB : high;
                        set_floor(&p, 3, 0, 8, 115);
                        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
                        set_floor(&p, floors[i].bl, floors[i].tee, floors[i].snp, floors[i].ucode);
                        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, floors[i].comp);
                        ASSERT_MSG_HAS(which[w]);
                        /* launch floor is independent */
                        p.has_min_tcb = false;
                        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
                }
}

TEST(min_tcb_message) {
        cp_snp_policy p;
        cp_snp_report r;
        cp_snp_policy_init(&p);
        baseline(&r);
        set_floor(&p, 3, 0, 9, 115);
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN,
                       "min_tcb.snp: CURRENT_TCB 0x7308000000000003 (bl 3, tee 0, snp 8, ucode 115) has snp 8, "
                       "below the minimum 9");
}

TEST(min_launch_tcb) {
        cp_snp_policy p;
        cp_snp_report r;
        cp_snp_policy_init(&p);
        baseline(&r);
        p.has_min_launch_tcb = true;
        p.min_launch_tcb = (cp_snp_tcb) { .bl = 3, .tee = 0, .snp = 8, .ucode = 115 };
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
        r.launch_tcb = UINT64_C(0x7307000000000003);
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, "min_launch_tcb.snp: LAUNCH_TCB");
        /* min_tcb does not look at LAUNCH_TCB */
        p.has_min_launch_tcb = false;
        set_floor(&p, 3, 0, 8, 115);
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
}

TEST(min_tcb_undecodable) {
        cp_snp_policy p;
        cp_snp_report r;
        cp_snp_policy_init(&p);
        baseline(&r);
        set_floor(&p, 0, 0, 0, 0);
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_GENOA);
        /* Milan layout: bytes 2..5 reserved */
        r.committed_tcb = AZ_TCB | (UINT64_C(1) << 24);
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, "COMMITTED_TCB 0x7308000001000003 is not a valid Milan TCB_VERSION");
        r.committed_tcb = AZ_TCB;
        /* read as Turin, byte 6 (snp on Milan) is reserved */
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_TURIN, "not a valid Turin TCB_VERSION");
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_UNKNOWN, "not a valid unknown TCB_VERSION");
        p.has_min_tcb = false;
        p.has_min_launch_tcb = true;
        r.launch_tcb = UINT64_C(0x0000ff0000000000);
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_GENOA, "min_launch_tcb: LAUNCH_TCB");
        /* no floor, no decoding: an unknown generation passes */
        p.has_min_launch_tcb = false;
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_UNKNOWN);
}

TEST(turin_tcb_layout_and_fmc) {
        cp_snp_policy p;
        cp_snp_report r;
        cp_snp_policy_init(&p);
        baseline_turin(&r); /* fmc 3, bl 1, tee 0, snp 2, ucode 0x47 */
        p.has_min_tcb = true;
        p.min_tcb = (cp_snp_tcb) { .fmc = 3, .bl = 1, .tee = 0, .snp = 2, .ucode = 0x47, .has_fmc = true };
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_TURIN);
        p.min_tcb.fmc = 4;
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_TURIN, "min_tcb.fmc: CURRENT_TCB 0x4700000002000103 (fmc 3, bl 1, tee 0, "
                                                 "snp 2, ucode 71) has fmc 3, below the minimum 4");
        p.min_tcb.fmc = 3;
        p.min_tcb.snp = 3;
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_TURIN, "min_tcb.snp:");
        p.min_tcb.snp = 2;
        p.min_tcb.bl = 2;
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_TURIN, "min_tcb.bl:");
        p.min_tcb.bl = 1;
        p.min_tcb.ucode = 0x48;
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_TURIN, "min_tcb.ucode:");
        p.min_tcb.ucode = 0x47;
        /* fmc floor on committed and reported too */
        r.reported_tcb = TURIN_TCB - 1; /* fmc 2 */
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_TURIN, "min_tcb.fmc: REPORTED_TCB");
        r.reported_tcb = TURIN_TCB;
        r.committed_tcb = TURIN_TCB - 1;
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_TURIN, "min_tcb.fmc: COMMITTED_TCB");
        /* launch floor with fmc */
        r.committed_tcb = TURIN_TCB;
        p.has_min_launch_tcb = true;
        p.min_launch_tcb = p.min_tcb;
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_TURIN);
        r.launch_tcb = TURIN_TCB - 3; /* fmc 0 */
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_TURIN, "min_launch_tcb.fmc: LAUNCH_TCB");
        /* reserved Turin bytes 4..6 */
        r.launch_tcb = TURIN_TCB | (UINT64_C(1) << 40);
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_TURIN, "not a valid Turin TCB_VERSION");
}

TEST(fmc_floor_on_milan) {
        cp_snp_policy p;
        cp_snp_report r;
        cp_snp_policy_init(&p);
        baseline(&r);
        set_floor(&p, 3, 0, 8, 115);
        p.min_tcb.has_fmc = true;
        p.min_tcb.fmc = 0;
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN); /* zero floor constrains nothing */
        p.min_tcb.fmc = 1;
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, "min_tcb.fmc: floor 1 set but Milan TCB_VERSION has no FMC");
        /* an fmc without has_fmc is ignored */
        p.min_tcb.has_fmc = false;
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
}

/* ---- exact values */

TEST(exact_values) {
        static const struct {
                const char *key;
                size_t has_off, val_off, rep_off, len;
        } cases[] = {
#define C(f) { #f ":", offsetof(cp_snp_policy, has_##f), offsetof(cp_snp_policy, f), offsetof(cp_snp_report, f), \
               sizeof(((cp_snp_report *) 0)->f) }
                C(report_data), C(host_data), C(family_id), C(image_id), C(report_id), C(report_id_ma), C(chip_id),
#undef C
        };
        for (size_t i = 0; i < CP_ELEMENTSOF(cases); i++) {
                cp_snp_policy p;
                cp_snp_report r;
                cp_snp_policy_init(&p);
                baseline(&r);
                bool *has = (bool *) ((uint8_t *) &p + cases[i].has_off);
                uint8_t *want = (uint8_t *) &p + cases[i].val_off;
                uint8_t *have = (uint8_t *) &r + cases[i].rep_off;
                *has = true;
                memcpy(want, have, cases[i].len);
                ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
                /* a difference in the last byte */
                want[cases[i].len - 1] ^= 0x01;
                ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, cases[i].key);
                char hw[129], hh[129];
                cp_hex_encode(want, cases[i].len, hw);
                cp_hex_encode(have, cases[i].len, hh);
                ASSERT_MSG_HAS(hw);
                ASSERT_MSG_HAS(hh);
                /* and in the first byte */
                want[cases[i].len - 1] ^= 0x01;
                want[0] ^= 0x80;
                ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, cases[i].key);
                *has = false;
                ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
        }
}

/* ---- sets */

static void add_hex(cp_snp_bytes_set *s, const char *h) {
        uint8_t b[48];
        unhex(h, b, sizeof(b));
        ASSERT_OK(cp_snp_bytes_set_add(s, b, sizeof(b)));
}

TEST(bytes_set_basics) {
        cp_snp_policy p;
        cp_snp_policy_init(&p);
        uint8_t a[48], b[48], c[32];
        memset(a, 0xaa, sizeof(a));
        memset(b, 0xbb, sizeof(b));
        memset(c, 0xcc, sizeof(c));
        ASSERT_FALSE(cp_snp_bytes_set_contains(&p.measurements, a));
        ASSERT_OK(cp_snp_bytes_set_add(&p.measurements, a, sizeof(a)));
        ASSERT_ERR(cp_snp_bytes_set_add(&p.measurements, c, sizeof(c)), CP_EINVAL);
        ASSERT_ERR(cp_snp_bytes_set_add(&p.measurements, NULL, sizeof(a)), CP_EINVAL);
        ASSERT_ERR(cp_snp_bytes_set_add(NULL, a, sizeof(a)), CP_EINVAL);
        ASSERT_TRUE(cp_snp_bytes_set_contains(&p.measurements, a));
        ASSERT_FALSE(cp_snp_bytes_set_contains(&p.measurements, b));
        ASSERT_FALSE(cp_snp_bytes_set_contains(NULL, b));
        for (unsigned i = 1; i < CP_MAX_POLICY_SET; i++) {
                b[0] = (uint8_t) i;
                b[1] = (uint8_t) (i >> 8);
                ASSERT_OK(cp_snp_bytes_set_add(&p.measurements, b, sizeof(b)));
        }
        ASSERT_EQ(p.measurements.n, CP_MAX_POLICY_SET);
        ASSERT_TRUE(cp_snp_bytes_set_contains(&p.measurements, b)); /* the last one */
        ASSERT_ERR(cp_snp_bytes_set_add(&p.measurements, a, sizeof(a)), CP_ETOOBIG);
        cp_snp_policy_clear(&p);
        ASSERT_EQ(p.measurements.n, 0);
        ASSERT_TRUE(p.measurements.items == NULL);
        ASSERT_EQ(p.measurements.width, 48);
}

TEST(measurement_set) {
        cp_snp_policy p;
        cp_snp_report r;
        cp_snp_policy_init(&p);
        baseline(&r);
        add_hex(&p.measurements, OTHER48);
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, "measurements: MEASUREMENT " AZ_MEASUREMENT
                                                 " is not among the 1 accepted value");
        add_hex(&p.measurements, AZ_MEASUREMENT);
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN); /* found as the last element */
        cp_snp_policy_clear(&p);
        add_hex(&p.measurements, AZ_MEASUREMENT);
        add_hex(&p.measurements, OTHER48);
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN); /* found as the first element */
        r.measurement[47] ^= 1;
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, "is not among the 2 accepted values");
        cp_snp_policy_clear(&p);
}

TEST(id_block) {
        cp_snp_policy p;
        cp_snp_report r;
        cp_snp_policy_init(&p);
        baseline(&r);
        p.require_id_block = true;
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
        memset(r.id_key_digest, 0, sizeof(r.id_key_digest));
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, "require_id_block: ID_KEY_DIGEST is zero");
        p.require_id_block = false;
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);

        baseline(&r);
        add_hex(&p.trusted_id_key_digests, OTHER48);
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, "trusted_id_key_digests: ID_KEY_DIGEST " AZ_ID_KEY_DIGEST);
        add_hex(&p.trusted_id_key_digests, AZ_ID_KEY_DIGEST);
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
        /* a zero digest is not trusted unless listed */
        memset(r.id_key_digest, 0, sizeof(r.id_key_digest));
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, "trusted_id_key_digests");
        cp_snp_policy_clear(&p);
}

TEST(author_key) {
        cp_snp_policy p;
        cp_snp_report r;
        cp_snp_policy_init(&p);
        baseline(&r); /* AUTHOR_KEY_EN clear, digest zero */
        p.require_author_key = true;
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, "require_author_key: AUTHOR_KEY_EN is clear");
        r.author_key_en = true;
        r.signer_info = 1;
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, "require_author_key: AUTHOR_KEY_DIGEST is zero");
        unhex(OTHER48, r.author_key_digest, 48);
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);

        add_hex(&p.trusted_author_key_digests, AZ_MEASUREMENT);
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, "trusted_author_key_digests: AUTHOR_KEY_DIGEST " OTHER48);
        add_hex(&p.trusted_author_key_digests, OTHER48);
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);

        /* without AUTHOR_KEY_EN the trusted set is not consulted (unless required) */
        cp_snp_policy_clear(&p);
        add_hex(&p.trusted_author_key_digests, AZ_MEASUREMENT);
        r.author_key_en = false;
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
        r.author_key_en = true;
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, "trusted_author_key_digests");
        cp_snp_policy_clear(&p);
}

/* ---- signing key, generation, mitigation vectors */

TEST(signing_key) {
        cp_snp_policy p;
        cp_snp_report r;
        cp_snp_policy_init(&p);
        baseline(&r);
        p.allow_vcek = false;
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, "signing_keys: report is signed with a VCEK");
        r.signing_key = CP_SNP_SIGNING_KEY_VLEK;
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
        p.allow_vlek = false;
        p.allow_vcek = true;
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, "signing_keys: report is signed with a VLEK");
        p.allow_vlek = true;
        r.signing_key = CP_SNP_SIGNING_KEY_NONE;
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, "SIGNING_KEY none");
        r.signing_key = 3;
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, "reserved SIGNING_KEY value 3");
}

TEST(generation) {
        cp_snp_policy p;
        cp_snp_report r;
        cp_snp_policy_init(&p);
        baseline(&r);
        p.has_generation = true;
        p.generation = CP_SNP_GEN_MILAN;
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_GENOA, "generation: expected Milan, got Genoa");
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_UNKNOWN, "generation: expected Milan, got unknown");
        p.generation = CP_SNP_GEN_TURIN;
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, "generation: expected Turin, got Milan");
}

TEST(mitigation_vectors) {
        cp_snp_policy p;
        cp_snp_report r;
        cp_snp_policy_init(&p);
        baseline(&r); /* v3: no MIT vectors */
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
        p.min_launch_mit_vector = 0x1;
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, "min_launch_mit_vector: minimum 0x1 set but the report");
        p.min_launch_mit_vector = 0;
        p.min_current_mit_vector = 0x8;
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, "min_current_mit_vector");

        r.version = 5;
        r.has_mit_vectors = true;
        r.launch_mit_vector = 0xb; /* real GCP Milan v5 */
        r.current_mit_vector = 0xb;
        p.min_launch_mit_vector = 0x3;
        p.min_current_mit_vector = 0x8;
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
        p.min_launch_mit_vector = 0x7;
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, "min_launch_mit_vector: LAUNCH_MIT_VECTOR 0xb lacks required bits 0x4");
        p.min_launch_mit_vector = 0x3;
        r.current_mit_vector = 0x3;
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, "min_current_mit_vector: CURRENT_MIT_VECTOR 0x3 lacks required bits 0x8");
}

/* ---- JSON */

static int from_str(const char *s, cp_snp_policy *p) {
        return cp_snp_policy_from_json(s, strlen(s), p);
}

#define ASSERT_JSON_ERR(json, code, needle)                                   \
        do {                                                                  \
                cp_snp_policy _p;                                             \
                memset(&_p, 0x5a, sizeof(_p));                                \
                ASSERT_ERR(from_str((json), &_p), (code));                    \
                ASSERT_MSG_HAS(needle);                                       \
                /* *ret untouched on failure */                               \
                for (size_t _i = 0; _i < sizeof(_p); _i++)                    \
                        ASSERT_EQ(((uint8_t *) &_p)[_i], 0x5a);               \
        } while (0)

static const char example_json[] =
        "{\n"
        "  \"version\": 1,\n"
        "  \"guest_policy\": {\"check\": true, \"min_abi\": \"0.31\", \"allow_smt\": true,\n"
        "    \"allow_migrate_ma\": false, \"allow_debug\": false, \"allow_cxl\": false,\n"
        "    \"require_single_socket\": false, \"require_mem_aes_256_xts\": false,\n"
        "    \"require_rapl_dis\": false, \"require_ciphertext_hiding\": false,\n"
        "    \"require_page_swap_disable\": false},\n"
        "  \"platform_info\": {\"check\": true, \"allow_smt\": true, \"allow_tsme\": false,\n"
        "    \"allow_tio\": false, \"require_ecc\": false, \"require_rapl_dis\": false,\n"
        "    \"require_ciphertext_hiding\": false, \"require_alias_check\": false,\n"
        "    \"allow_unknown_bits\": false},\n"
        "  \"min_guest_svn\": 10,\n"
        "  \"min_build\": 29,\n"
        "  \"min_version\": \"1.55\",\n"
        "  \"min_tcb\": {\"bl\": 3, \"tee\": 0, \"snp\": 8, \"ucode\": 115},\n"
        "  \"min_launch_tcb\": {\"bl\": 3, \"tee\": 0, \"snp\": 8, \"ucode\": 115, \"fmc\": 0},\n"
        "  \"permit_provisional_firmware\": false,\n"
        "  \"report_data\": \"" AZ_REPORT_DATA "\",\n"
        "  \"host_data\": null,\n"
        "  \"family_id\": \"" AZ_FAMILY_ID "\",\n"
        "  \"image_id\": \"" AZ_IMAGE_ID "\",\n"
        "  \"report_id\": null,\n"
        "  \"report_id_ma\": \"" AZ_REPORT_ID_MA "\",\n"
        "  \"chip_id\": \"" AZ_CHIP_ID "\",\n"
        "  \"vmpl\": 0,\n"
        "  \"measurements\": [\"" OTHER48 "\", \"" AZ_MEASUREMENT "\"],\n"
        "  \"trusted_id_key_digests\": [\"" AZ_ID_KEY_DIGEST "\"],\n"
        "  \"trusted_author_key_digests\": [],\n"
        "  \"require_id_block\": true,\n"
        "  \"require_author_key\": false,\n"
        "  \"signing_keys\": [\"VCEK\"],\n"
        "  \"generation\": \"Milan\",\n"
        "  \"min_launch_mit_vector\": \"0x0\",\n"
        "  \"min_current_mit_vector\": \"0x0\"\n"
        "}\n";

TEST(json_example_parses_and_accepts_baseline) {
        cp_snp_policy p;
        cp_snp_report r;
        ASSERT_OK(from_str(example_json, &p));
        ASSERT_EQ(p.version, 1);
        ASSERT_TRUE(p.check_guest_policy);
        ASSERT_EQ(p.min_abi_major, 0);
        ASSERT_EQ(p.min_abi_minor, 31);
        ASSERT_TRUE(p.check_platform_info);
        ASSERT_FALSE(p.platform_allow_tsme);
        ASSERT_EQ(p.min_guest_svn, 10);
        ASSERT_EQ(p.min_build, 29);
        ASSERT_EQ(p.min_version_major, 1);
        ASSERT_EQ(p.min_version_minor, 55);
        ASSERT_TRUE(p.has_min_tcb);
        ASSERT_EQ(p.min_tcb.ucode, 115);
        ASSERT_FALSE(p.min_tcb.has_fmc);
        ASSERT_TRUE(p.has_min_launch_tcb);
        ASSERT_TRUE(p.min_launch_tcb.has_fmc);
        ASSERT_FALSE(p.permit_provisional_firmware);
        ASSERT_TRUE(p.has_report_data);
        ASSERT_FALSE(p.has_host_data);
        ASSERT_TRUE(p.has_chip_id);
        ASSERT_FALSE(p.has_report_id);
        ASSERT_TRUE(p.has_vmpl);
        ASSERT_EQ(p.vmpl, 0);
        ASSERT_EQ(p.measurements.n, 2);
        ASSERT_EQ(p.trusted_id_key_digests.n, 1);
        ASSERT_EQ(p.trusted_author_key_digests.n, 0);
        ASSERT_TRUE(p.require_id_block);
        ASSERT_TRUE(p.allow_vcek);
        ASSERT_FALSE(p.allow_vlek);
        ASSERT_TRUE(p.has_generation);
        ASSERT_EQ(p.generation, CP_SNP_GEN_MILAN);

        baseline(&r);
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
        r.signing_key = CP_SNP_SIGNING_KEY_VLEK;
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, "signing_keys");
        cp_snp_policy_clear(&p);
}

TEST(json_minimal_keeps_defaults) {
        cp_snp_policy p, d;
        cp_snp_policy_init(&d);
        ASSERT_OK(from_str("{\"version\":1}", &p));
        ASSERT_TRUE(cp_snp_policy_equal(&p, &d));
        ASSERT_OK(from_str("{\"guest_policy\":{\"allow_debug\":true},\"version\":1}", &p));
        ASSERT_TRUE(p.allow_debug);
        ASSERT_TRUE(p.allow_smt);
        ASSERT_TRUE(p.check_guest_policy);
        ASSERT_TRUE(p.allow_vcek && p.allow_vlek);
        d.allow_debug = true;
        ASSERT_TRUE(cp_snp_policy_equal(&p, &d));
        /* empty signing_keys: nothing accepted */
        ASSERT_OK(from_str("{\"version\":1,\"signing_keys\":[]}", &p));
        ASSERT_FALSE(p.allow_vcek || p.allow_vlek);
        ASSERT_OK(from_str("{\"version\":1,\"signing_keys\":[\"VLEK\",\"VCEK\"],\"generation\":\"Turin\","
                           "\"min_launch_mit_vector\":\"0xFFFFFFFFFFFFFFFF\",\"vmpl\":3,\"min_guest_svn\":4294967295}",
                           &p));
        ASSERT_TRUE(p.allow_vcek && p.allow_vlek);
        ASSERT_EQ(p.generation, CP_SNP_GEN_TURIN);
        ASSERT_U64_EQ(p.min_launch_mit_vector, UINT64_MAX);
        ASSERT_EQ(p.vmpl, 3);
        ASSERT_U64_EQ(p.min_guest_svn, UINT32_MAX);
        /* uppercase hex digests are accepted */
        ASSERT_OK(from_str("{\"version\":1,\"host_data\":\"ABCDEF00000000000000000000000000000000000000000000000000000000AA\"}", &p));
        ASSERT_TRUE(p.has_host_data);
        ASSERT_EQ(p.host_data[0], 0xab);
        ASSERT_EQ(p.host_data[31], 0xaa);
        cp_snp_policy_clear(&p);
}

static void fill_everything(cp_snp_policy *p) {
        cp_snp_policy_init(p);
        p->check_guest_policy = false;
        p->min_abi_major = 1;
        p->min_abi_minor = 51;
        p->allow_smt = false;
        p->allow_migrate_ma = true;
        p->allow_debug = true;
        p->allow_cxl = true;
        p->require_single_socket = p->require_mem_aes_256_xts = p->require_rapl_dis = true;
        p->require_ciphertext_hiding = p->require_page_swap_disable = true;
        p->check_platform_info = true;
        p->platform_allow_smt = p->platform_allow_tsme = p->platform_allow_tio = false;
        p->platform_require_ecc = p->platform_require_rapl_dis = true;
        p->platform_require_ciphertext_hiding = p->platform_require_alias_check = true;
        p->platform_allow_unknown_bits = true;
        p->min_guest_svn = 0xfffffffe;
        p->min_build = 255;
        p->min_version_major = 1;
        p->min_version_minor = 58;
        p->has_min_tcb = true;
        p->min_tcb = (cp_snp_tcb) { .bl = 1, .tee = 2, .snp = 3, .ucode = 255, .fmc = 5, .has_fmc = true };
        p->has_min_launch_tcb = true;
        p->min_launch_tcb = (cp_snp_tcb) { .bl = 9, .tee = 8, .snp = 7, .ucode = 6 };
        p->permit_provisional_firmware = false;
        p->has_report_data = true;
        unhex(AZ_REPORT_DATA, p->report_data, 64);
        p->has_host_data = true;
        memset(p->host_data, 0xee, sizeof(p->host_data));
        p->has_family_id = true;
        unhex(AZ_FAMILY_ID, p->family_id, 16);
        p->has_image_id = true;
        unhex(AZ_IMAGE_ID, p->image_id, 16);
        p->has_report_id = true;
        unhex(AZ_REPORT_ID, p->report_id, 32);
        p->has_report_id_ma = true;
        unhex(AZ_REPORT_ID_MA, p->report_id_ma, 32);
        p->has_chip_id = true;
        unhex(AZ_CHIP_ID, p->chip_id, 64);
        p->has_vmpl = true;
        p->vmpl = 2;
        add_hex(&p->measurements, AZ_MEASUREMENT);
        add_hex(&p->measurements, OTHER48);
        add_hex(&p->trusted_id_key_digests, AZ_ID_KEY_DIGEST);
        add_hex(&p->trusted_author_key_digests, OTHER48);
        add_hex(&p->trusted_author_key_digests, AZ_ID_KEY_DIGEST);
        add_hex(&p->trusted_author_key_digests, AZ_MEASUREMENT);
        p->require_id_block = true;
        p->require_author_key = true;
        p->allow_vcek = false;
        p->allow_vlek = true;
        p->has_generation = true;
        p->generation = CP_SNP_GEN_GENOA;
        p->min_launch_mit_vector = UINT64_C(0x8000000000000001);
        p->min_current_mit_vector = 0xb;
}

static void assert_round_trip(const cp_snp_policy *p) {
        char *s = NULL, *s2 = NULL;
        cp_snp_policy q;
        ASSERT_OK(cp_snp_policy_to_json(p, &s));
        ASSERT_OK(from_str(s, &q));
        ASSERT_TRUE(cp_snp_policy_equal(p, &q));
        /* serialising the re-parsed policy gives the same document */
        ASSERT_OK(cp_snp_policy_to_json(&q, &s2));
        ASSERT_STREQ(s, s2);
        cp_snp_policy_clear(&q);
        free(s);
        free(s2);
}

TEST(json_round_trip_default) {
        cp_snp_policy p;
        char *s = NULL;
        cp_snp_policy_init(&p);
        assert_round_trip(&p);
        /* complete document: every key present, unconstrained as null */
        ASSERT_OK(cp_snp_policy_to_json(&p, &s));
        ASSERT_TRUE(strstr(s, "\"report_data\": null"));
        ASSERT_TRUE(strstr(s, "\"min_tcb\": null"));
        ASSERT_TRUE(strstr(s, "\"signing_keys\": [\n    \"VCEK\",\n    \"VLEK\"\n  ]"));
        ASSERT_TRUE(strstr(s, "\"allow_debug\": false"));
        ASSERT_TRUE(strstr(s, "\"min_launch_mit_vector\": \"0x0\""));
        free(s);
}

TEST(json_round_trip_everything) {
        cp_snp_policy p, q;
        char *s = NULL;
        fill_everything(&p);
        assert_round_trip(&p);

        /* field by field */
        ASSERT_OK(cp_snp_policy_to_json(&p, &s));
        ASSERT_OK(from_str(s, &q));
        free(s);
        ASSERT_EQ(q.check_guest_policy, false);
        ASSERT_EQ(q.min_abi_major, 1);
        ASSERT_EQ(q.min_abi_minor, 51);
        ASSERT_FALSE(q.allow_smt);
        ASSERT_TRUE(q.allow_migrate_ma && q.allow_debug && q.allow_cxl);
        ASSERT_TRUE(q.require_single_socket && q.require_mem_aes_256_xts && q.require_rapl_dis &&
                    q.require_ciphertext_hiding && q.require_page_swap_disable);
        ASSERT_TRUE(q.check_platform_info);
        ASSERT_FALSE(q.platform_allow_smt || q.platform_allow_tsme || q.platform_allow_tio);
        ASSERT_TRUE(q.platform_require_ecc && q.platform_require_rapl_dis && q.platform_require_ciphertext_hiding &&
                    q.platform_require_alias_check && q.platform_allow_unknown_bits);
        ASSERT_U64_EQ(q.min_guest_svn, 0xfffffffe);
        ASSERT_EQ(q.min_build, 255);
        ASSERT_EQ(q.min_version_major, 1);
        ASSERT_EQ(q.min_version_minor, 58);
        ASSERT_TRUE(q.has_min_tcb && q.min_tcb.has_fmc);
        ASSERT_EQ(q.min_tcb.bl, 1);
        ASSERT_EQ(q.min_tcb.tee, 2);
        ASSERT_EQ(q.min_tcb.snp, 3);
        ASSERT_EQ(q.min_tcb.ucode, 255);
        ASSERT_EQ(q.min_tcb.fmc, 5);
        ASSERT_TRUE(q.has_min_launch_tcb);
        ASSERT_FALSE(q.min_launch_tcb.has_fmc);
        ASSERT_EQ(q.min_launch_tcb.bl, 9);
        ASSERT_FALSE(q.permit_provisional_firmware);
        ASSERT_TRUE(q.has_report_data && q.has_host_data && q.has_family_id && q.has_image_id && q.has_report_id &&
                    q.has_report_id_ma && q.has_chip_id && q.has_vmpl);
        ASSERT_MEMEQ(q.report_data, p.report_data, 64);
        ASSERT_MEMEQ(q.host_data, p.host_data, 32);
        ASSERT_MEMEQ(q.family_id, p.family_id, 16);
        ASSERT_MEMEQ(q.image_id, p.image_id, 16);
        ASSERT_MEMEQ(q.report_id, p.report_id, 32);
        ASSERT_MEMEQ(q.report_id_ma, p.report_id_ma, 32);
        ASSERT_MEMEQ(q.chip_id, p.chip_id, 64);
        ASSERT_EQ(q.vmpl, 2);
        ASSERT_EQ(q.measurements.n, 2);
        ASSERT_MEMEQ(q.measurements.items, p.measurements.items, 96);
        ASSERT_EQ(q.trusted_id_key_digests.n, 1);
        ASSERT_MEMEQ(q.trusted_id_key_digests.items, p.trusted_id_key_digests.items, 48);
        ASSERT_EQ(q.trusted_author_key_digests.n, 3);
        ASSERT_MEMEQ(q.trusted_author_key_digests.items, p.trusted_author_key_digests.items, 144);
        ASSERT_TRUE(q.require_id_block && q.require_author_key);
        ASSERT_FALSE(q.allow_vcek);
        ASSERT_TRUE(q.allow_vlek);
        ASSERT_TRUE(q.has_generation);
        ASSERT_EQ(q.generation, CP_SNP_GEN_GENOA);
        ASSERT_U64_EQ(q.min_launch_mit_vector, UINT64_C(0x8000000000000001));
        ASSERT_U64_EQ(q.min_current_mit_vector, 0xb);
        cp_snp_policy_clear(&q);
        cp_snp_policy_clear(&p);
}

TEST(policy_equal_detects_differences) {
        cp_snp_policy a, b;
        fill_everything(&a);
        fill_everything(&b);
        ASSERT_TRUE(cp_snp_policy_equal(&a, &b));
        b.min_tcb.fmc = 4;
        ASSERT_FALSE(cp_snp_policy_equal(&a, &b));
        b.min_tcb.fmc = 5;
        b.chip_id[63] ^= 1;
        ASSERT_FALSE(cp_snp_policy_equal(&a, &b));
        b.chip_id[63] ^= 1;
        b.trusted_author_key_digests.items[100] ^= 1;
        ASSERT_FALSE(cp_snp_policy_equal(&a, &b));
        b.trusted_author_key_digests.items[100] ^= 1;
        b.generation = CP_SNP_GEN_TURIN;
        ASSERT_FALSE(cp_snp_policy_equal(&a, &b));
        b.generation = CP_SNP_GEN_GENOA;
        b.platform_allow_unknown_bits = false;
        ASSERT_FALSE(cp_snp_policy_equal(&a, &b));
        b.platform_allow_unknown_bits = true;
        ASSERT_TRUE(cp_snp_policy_equal(&a, &b));
        /* values behind a false has_* flag are ignored */
        a.has_chip_id = b.has_chip_id = false;
        b.chip_id[0] ^= 1;
        ASSERT_TRUE(cp_snp_policy_equal(&a, &b));
        cp_snp_policy_clear(&a);
        cp_snp_policy_clear(&b);
}

TEST(json_to_json_refuses_unrepresentable) {
        cp_snp_policy p;
        char *s = (char *) "untouched";
        cp_snp_policy_init(&p);
        p.has_vmpl = true;
        p.vmpl = 4;
        ASSERT_ERR(cp_snp_policy_to_json(&p, &s), CP_EINVAL);
        p.vmpl = 0;
        p.has_generation = true;
        p.generation = CP_SNP_GEN_UNKNOWN;
        ASSERT_ERR(cp_snp_policy_to_json(&p, &s), CP_EINVAL);
        p.has_generation = false;
        p.version = 7;
        ASSERT_ERR(cp_snp_policy_to_json(&p, &s), CP_EINVAL);
        ASSERT_STREQ(s, "untouched");
        ASSERT_ERR(cp_snp_policy_to_json(NULL, &s), CP_EINVAL);
        ASSERT_ERR(cp_snp_policy_from_json(NULL, 0, &p), CP_EINVAL);
}

TEST(json_unknown_keys_at_every_level) {
        ASSERT_JSON_ERR("{\"version\":1,\"min_tbc\":null}", CP_EFORMAT, "$.min_tbc: unknown key");
        ASSERT_JSON_ERR("{\"version\":1,\"guest_policy\":{\"alow_debug\":false}}", CP_EFORMAT,
                        "$.guest_policy.alow_debug: unknown key");
        ASSERT_JSON_ERR("{\"version\":1,\"platform_info\":{\"allow_smt\":true,\"check_it\":1}}", CP_EFORMAT,
                        "$.platform_info.check_it: unknown key");
        ASSERT_JSON_ERR("{\"version\":1,\"min_tcb\":{\"bl\":1,\"tee\":1,\"snp\":1,\"ucode\":1,\"microcode\":1}}",
                        CP_EFORMAT, "$.min_tcb.microcode: unknown key");
        ASSERT_JSON_ERR("{\"version\":1,\"min_launch_tcb\":{\"BL\":1}}", CP_EFORMAT,
                        "$.min_launch_tcb.BL: unknown key");
        /* keys from one level are not valid at another */
        ASSERT_JSON_ERR("{\"version\":1,\"allow_debug\":true}", CP_EFORMAT, "$.allow_debug: unknown key");
        ASSERT_JSON_ERR("{\"version\":1,\"guest_policy\":{\"require_ecc\":true}}", CP_EFORMAT,
                        "$.guest_policy.require_ecc: unknown key");
        /* non-printable and long keys are sanitised and truncated */
        ASSERT_JSON_ERR("{\"version\":1,\"a\\u0001b\":1}", CP_EFORMAT, "$.a?b: unknown key");
        ASSERT_JSON_ERR("{\"version\":1,\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\":1}",
                        CP_EFORMAT, "$.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...: unknown key");
}

TEST(json_version) {
        ASSERT_JSON_ERR("{}", CP_EFORMAT, "$.version: missing");
        ASSERT_JSON_ERR("{\"guest_policy\":{}}", CP_EFORMAT, "$.version: missing");
        ASSERT_JSON_ERR("{\"version\":2}", CP_EVERSION, "$.version: unsupported policy version 2");
        /* a newer document with new keys fails on the version, not the key */
        ASSERT_JSON_ERR("{\"new_thing\":1,\"version\":2}", CP_EVERSION, "$.version");
        ASSERT_JSON_ERR("{\"version\":0}", CP_EVERSION, "$.version");
        ASSERT_JSON_ERR("{\"version\":\"1\"}", CP_EFORMAT, "$.version: expected integer, got string");
        ASSERT_JSON_ERR("{\"version\":1.0}", CP_EFORMAT, "$.version: expected integer, got real");
        ASSERT_JSON_ERR("{\"version\":-1}", CP_EFORMAT, "$.version: -1 out of range");
}

TEST(json_type_errors) {
        ASSERT_JSON_ERR("{\"version\":1,\"guest_policy\":{\"allow_debug\":\"false\"}}", CP_EFORMAT,
                        "$.guest_policy.allow_debug: expected boolean, got string");
        ASSERT_JSON_ERR("{\"version\":1,\"guest_policy\":{\"allow_debug\":0}}", CP_EFORMAT,
                        "$.guest_policy.allow_debug: expected boolean, got integer");
        ASSERT_JSON_ERR("{\"version\":1,\"guest_policy\":{\"allow_debug\":null}}", CP_EFORMAT,
                        "$.guest_policy.allow_debug: expected boolean, got null");
        ASSERT_JSON_ERR("{\"version\":1,\"guest_policy\":[]}", CP_EFORMAT, "$.guest_policy: expected object, got array");
        ASSERT_JSON_ERR("{\"version\":1,\"platform_info\":null}", CP_EFORMAT, "$.platform_info: expected object, got null");
        ASSERT_JSON_ERR("{\"version\":1,\"min_guest_svn\":true}", CP_EFORMAT, "$.min_guest_svn: expected integer, got boolean");
        ASSERT_JSON_ERR("{\"version\":1,\"min_build\":\"29\"}", CP_EFORMAT, "$.min_build: expected integer");
        ASSERT_JSON_ERR("{\"version\":1,\"min_build\":29.5}", CP_EFORMAT, "$.min_build: expected integer, got real");
        ASSERT_JSON_ERR("{\"version\":1,\"min_version\":155}", CP_EFORMAT, "$.min_version: expected string");
        ASSERT_JSON_ERR("{\"version\":1,\"min_tcb\":[3,0,8,115]}", CP_EFORMAT, "$.min_tcb: expected object or null, got array");
        ASSERT_JSON_ERR("{\"version\":1,\"min_tcb\":{\"bl\":\"3\"}}", CP_EFORMAT, "$.min_tcb.bl: expected integer");
        ASSERT_JSON_ERR("{\"version\":1,\"report_data\":42}", CP_EFORMAT, "$.report_data: expected hex string, got integer");
        ASSERT_JSON_ERR("{\"version\":1,\"vmpl\":\"0\"}", CP_EFORMAT, "$.vmpl: expected integer or null, got string");
        ASSERT_JSON_ERR("{\"version\":1,\"measurements\":null}", CP_EFORMAT, "$.measurements: expected array, got null");
        ASSERT_JSON_ERR("{\"version\":1,\"measurements\":\"" AZ_MEASUREMENT "\"}", CP_EFORMAT,
                        "$.measurements: expected array, got string");
        ASSERT_JSON_ERR("{\"version\":1,\"measurements\":[1]}", CP_EFORMAT, "$.measurements[0]: expected hex string, got integer");
        ASSERT_JSON_ERR("{\"version\":1,\"signing_keys\":\"VCEK\"}", CP_EFORMAT, "$.signing_keys: expected array");
        ASSERT_JSON_ERR("{\"version\":1,\"signing_keys\":[0]}", CP_EFORMAT, "$.signing_keys[0]: expected string");
        ASSERT_JSON_ERR("{\"version\":1,\"generation\":1}", CP_EFORMAT, "$.generation: expected string or null");
        ASSERT_JSON_ERR("{\"version\":1,\"min_launch_mit_vector\":11}", CP_EFORMAT,
                        "$.min_launch_mit_vector: expected string");
        ASSERT_JSON_ERR("{\"version\":1,\"require_id_block\":\"yes\"}", CP_EFORMAT, "$.require_id_block: expected boolean");
        ASSERT_JSON_ERR("{\"version\":1,\"permit_provisional_firmware\":1}", CP_EFORMAT,
                        "$.permit_provisional_firmware: expected boolean");
}

TEST(json_ranges) {
        ASSERT_JSON_ERR("{\"version\":1,\"min_build\":256}", CP_EFORMAT, "$.min_build: 256 out of range 0..255");
        ASSERT_JSON_ERR("{\"version\":1,\"min_build\":-1}", CP_EFORMAT, "$.min_build: -1 out of range");
        ASSERT_JSON_ERR("{\"version\":1,\"min_guest_svn\":4294967296}", CP_EFORMAT, "$.min_guest_svn: 4294967296 out of range");
        ASSERT_JSON_ERR("{\"version\":1,\"min_guest_svn\":-4294967296}", CP_EFORMAT, "$.min_guest_svn");
        ASSERT_JSON_ERR("{\"version\":1,\"vmpl\":4}", CP_EFORMAT, "$.vmpl: 4 out of range 0..3");
        ASSERT_JSON_ERR("{\"version\":1,\"vmpl\":-1}", CP_EFORMAT, "$.vmpl");
        ASSERT_JSON_ERR("{\"version\":1,\"min_tcb\":{\"bl\":256,\"tee\":0,\"snp\":0,\"ucode\":0}}", CP_EFORMAT,
                        "$.min_tcb.bl: 256 out of range 0..255");
        ASSERT_JSON_ERR("{\"version\":1,\"min_tcb\":{\"bl\":0,\"tee\":0,\"snp\":0,\"ucode\":0,\"fmc\":-1}}", CP_EFORMAT,
                        "$.min_tcb.fmc: -1 out of range");
        ASSERT_JSON_ERR("{\"version\":1,\"min_tcb\":{\"bl\":0,\"tee\":0,\"snp\":0}}", CP_EFORMAT,
                        "$.min_tcb: missing key \"ucode\"");
        ASSERT_JSON_ERR("{\"version\":1,\"min_launch_tcb\":{}}", CP_EFORMAT, "$.min_launch_tcb: missing key \"bl\"");
        /* a number too big for jansson is a parse error */
        ASSERT_JSON_ERR("{\"version\":1,\"min_guest_svn\":99999999999999999999999}", CP_EFORMAT, "policy JSON: line 1");
}

TEST(json_version_pairs) {
        static const char *const bad[] = { "\"1\"", "\"1.\"", "\".1\"", "\"1.256\"", "\"256.0\"", "\"a.b\"",
                                           "\"1.2.3\"", "\"+1.2\"", "\" 1.2\"", "\"1.2 \"", "\"1,2\"", "\"\"",
                                           "\"0001.2\"", "\"1.-2\"", "\"1.2\\u0000\"" };
        char buf[128];
        for (size_t i = 0; i < CP_ELEMENTSOF(bad); i++) {
                snprintf(buf, sizeof(buf), "{\"version\":1,\"min_version\":%s}", bad[i]);
                cp_snp_policy p;
                int k = from_str(buf, &p);
                if (k != CP_EFORMAT)
                        cp_test_fail(__FILE__, __LINE__, "min_version %s: got %d", bad[i], k);
        }
        ASSERT_JSON_ERR("{\"version\":1,\"guest_policy\":{\"min_abi\":\"1.256\"}}", CP_EFORMAT,
                        "$.guest_policy.min_abi: expected \"major.minor\"");
        cp_snp_policy p;
        ASSERT_OK(from_str("{\"version\":1,\"min_version\":\"255.007\"}", &p));
        ASSERT_EQ(p.min_version_major, 255);
        ASSERT_EQ(p.min_version_minor, 7);
        ASSERT_OK(from_str("{\"version\":1,\"guest_policy\":{\"min_abi\":\"0.0\"}}", &p));
        ASSERT_EQ(p.min_abi_major, 0);
}

TEST(json_hex) {
        /* wrong length: odd, short, long, empty */
        ASSERT_JSON_ERR("{\"version\":1,\"host_data\":\"abc\"}", CP_EFORMAT,
                        "$.host_data: expected 64 hex digits (32 bytes), got 3 characters");
        ASSERT_JSON_ERR("{\"version\":1,\"host_data\":\"\"}", CP_EFORMAT, "$.host_data: expected 64 hex digits");
        ASSERT_JSON_ERR("{\"version\":1,\"report_data\":\"" AZ_MEASUREMENT "\"}", CP_EFORMAT,
                        "$.report_data: expected 128 hex digits (64 bytes), got 96");
        ASSERT_JSON_ERR("{\"version\":1,\"family_id\":\"" AZ_REPORT_ID "\"}", CP_EFORMAT,
                        "$.family_id: expected 32 hex digits");
        ASSERT_JSON_ERR("{\"version\":1,\"chip_id\":\"" AZ_CHIP_ID "00\"}", CP_EFORMAT, "$.chip_id: expected 128 hex");
        ASSERT_JSON_ERR("{\"version\":1,\"image_id\":\"0200000000000000000000000000000\"}", CP_EFORMAT,
                        "$.image_id: expected 32 hex digits (16 bytes), got 31");
        /* bad characters */
        ASSERT_JSON_ERR("{\"version\":1,\"report_id\":\"5ab50660c013e1c2ea33b759d64e1ac2e9b68fc9b788640eca9df081cbb866cg\"}",
                        CP_EFORMAT, "$.report_id: invalid hex string");
        ASSERT_JSON_ERR("{\"version\":1,\"report_id_ma\":\" fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\"}",
                        CP_EFORMAT, "$.report_id_ma: invalid hex string");
        ASSERT_JSON_ERR("{\"version\":1,\"report_id_ma\":\"0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\"}",
                        CP_EFORMAT, "$.report_id_ma: invalid hex string");
        /* set items */
        ASSERT_JSON_ERR("{\"version\":1,\"measurements\":[\"" AZ_MEASUREMENT "\",\"" AZ_REPORT_ID "\"]}", CP_EFORMAT,
                        "$.measurements[1]: expected 96 hex digits (48 bytes), got 64");
        ASSERT_JSON_ERR("{\"version\":1,\"trusted_id_key_digests\":[\"" AZ_MEASUREMENT "\",\"" AZ_MEASUREMENT "\",\"zz"
                        "1111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111\"]}",
                        CP_EFORMAT, "$.trusted_id_key_digests[2]: invalid hex string");
        ASSERT_JSON_ERR("{\"version\":1,\"trusted_author_key_digests\":[null]}", CP_EFORMAT,
                        "$.trusted_author_key_digests[0]: expected hex string, got null");
        /* mitigation vectors */
        static const char *const bad_mit[] = { "\"0x\"", "\"11\"", "\"0X1\"", "\"0x10000000000000000\"", "\"0xg\"",
                                               "\"0x-1\"", "\" 0x1\"", "\"0x1 \"", "\"\"" };
        char buf[128];
        for (size_t i = 0; i < CP_ELEMENTSOF(bad_mit); i++) {
                snprintf(buf, sizeof(buf), "{\"version\":1,\"min_current_mit_vector\":%s}", bad_mit[i]);
                cp_snp_policy p;
                int k = from_str(buf, &p);
                if (k != CP_EFORMAT || !strstr(cp_error_message(), "$.min_current_mit_vector"))
                        cp_test_fail(__FILE__, __LINE__, "mit %s: got %d: %s", bad_mit[i], k, cp_error_message());
        }
}

TEST(json_enums) {
        ASSERT_JSON_ERR("{\"version\":1,\"signing_keys\":[\"VCEK\",\"VCEK\"]}", CP_EFORMAT,
                        "$.signing_keys[1]: duplicate entry");
        ASSERT_JSON_ERR("{\"version\":1,\"signing_keys\":[\"vcek\"]}", CP_EFORMAT,
                        "$.signing_keys[0]: expected \"VCEK\" or \"VLEK\"");
        ASSERT_JSON_ERR("{\"version\":1,\"signing_keys\":[\"VCEK\",\"ASK\"]}", CP_EFORMAT, "$.signing_keys[1]");
        ASSERT_JSON_ERR("{\"version\":1,\"generation\":\"milan\"}", CP_EFORMAT,
                        "$.generation: expected \"Milan\", \"Genoa\" or \"Turin\"");
        ASSERT_JSON_ERR("{\"version\":1,\"generation\":\"Milan-B0\"}", CP_EFORMAT, "$.generation");
        ASSERT_JSON_ERR("{\"version\":1,\"generation\":\"\"}", CP_EFORMAT, "$.generation");
}

static char *big_set_json(size_t n) {
        size_t cap = 64 + n * 100;
        char *s = malloc(cap);
        if (!s)
                cp_test_fail(__FILE__, __LINE__, "oom");
        size_t o = (size_t) snprintf(s, cap, "{\"version\":1,\"measurements\":[");
        for (size_t i = 0; i < n; i++)
                o += (size_t) snprintf(s + o, cap - o, "%s\"%096zx\"", i ? "," : "", i);
        snprintf(s + o, cap - o, "]}");
        return s;
}

TEST(json_set_limits) {
        char *s = big_set_json(CP_MAX_POLICY_SET);
        cp_snp_policy p;
        ASSERT_OK(from_str(s, &p));
        ASSERT_EQ(p.measurements.n, CP_MAX_POLICY_SET);
        cp_snp_policy_clear(&p);
        free(s);
        s = big_set_json(CP_MAX_POLICY_SET + 1);
        ASSERT_JSON_ERR(s, CP_ETOOBIG, "$.measurements: 257 items, at most 256 allowed");
        free(s);
}

TEST(json_malformed) {
        /* duplicate keys, at the root and nested */
        ASSERT_JSON_ERR("{\"version\":1,\"version\":1}", CP_EFORMAT, "duplicate");
        ASSERT_JSON_ERR("{\"version\":1,\"guest_policy\":{\"allow_debug\":false,\"allow_debug\":true}}", CP_EFORMAT,
                        "duplicate");
        ASSERT_JSON_ERR("{\"version\":1,\"min_tcb\":{\"bl\":1,\"bl\":2,\"tee\":0,\"snp\":0,\"ucode\":0}}", CP_EFORMAT,
                        "duplicate");
        /* not an object */
        ASSERT_JSON_ERR("[]", CP_EFORMAT, "$: expected object, got array");
        ASSERT_JSON_ERR("[{\"version\":1}]", CP_EFORMAT, "$: expected object, got array");
        ASSERT_JSON_ERR("\"version\"", CP_EFORMAT, "policy JSON");
        ASSERT_JSON_ERR("1", CP_EFORMAT, "policy JSON");
        ASSERT_JSON_ERR("null", CP_EFORMAT, "policy JSON");
        ASSERT_JSON_ERR("", CP_EFORMAT, "policy JSON");
        ASSERT_JSON_ERR("   ", CP_EFORMAT, "policy JSON");
        /* trailing garbage, truncation */
        ASSERT_JSON_ERR("{\"version\":1} x", CP_EFORMAT, "policy JSON");
        ASSERT_JSON_ERR("{\"version\":1}{}", CP_EFORMAT, "policy JSON");
        ASSERT_JSON_ERR("{\"version\":1", CP_EFORMAT, "policy JSON");
        ASSERT_JSON_ERR("{\"version\":1,}", CP_EFORMAT, "policy JSON");
        ASSERT_JSON_ERR("{'version':1}", CP_EFORMAT, "policy JSON");
        ASSERT_JSON_ERR("{\"version\":01}", CP_EFORMAT, "policy JSON");
        /* embedded NUL: the length, not strlen, is what counts */
        {
                static const char nul[] = "{\"version\":1}\0";
                cp_snp_policy p;
                ASSERT_ERR(cp_snp_policy_from_json(nul, sizeof(nul) - 1, &p), CP_EFORMAT);
                ASSERT_OK(cp_snp_policy_from_json(nul, sizeof(nul) - 2, &p));
        }
        /* every truncation of the example fails and leaks nothing */
        for (size_t n = 0; n + 2 < sizeof(example_json); n++) {
                cp_snp_policy p;
                int k = cp_snp_policy_from_json(example_json, n, &p);
                if (k >= 0)
                        cp_test_fail(__FILE__, __LINE__, "truncation at %zu parsed", n);
        }
}

TEST(json_depth_and_size) {
        char buf[512];
        size_t o = (size_t) snprintf(buf, sizeof(buf), "{\"version\":1,\"x\":");
        for (unsigned i = 0; i < CP_MAX_JSON_DEPTH; i++)
                buf[o++] = '[';
        buf[o] = '\0';
        ASSERT_JSON_ERR(buf, CP_ETOOBIG, "nesting deeper than 32");
        /* depth within the limit reaches the schema check instead */
        o = (size_t) snprintf(buf, sizeof(buf), "{\"version\":1,\"x\":");
        for (unsigned i = 0; i < CP_MAX_JSON_DEPTH - 1; i++)
                buf[o++] = '[';
        for (unsigned i = 0; i < CP_MAX_JSON_DEPTH - 1; i++)
                buf[o++] = ']';
        buf[o++] = '}';
        buf[o] = '\0';
        ASSERT_JSON_ERR(buf, CP_EFORMAT, "$.x: unknown key");
        /* brackets inside strings do not count */
        ASSERT_JSON_ERR("{\"version\":1,\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[[\":1}", CP_EFORMAT, "unknown key");
        /* very deep input never reaches jansson */
        size_t n = 100000;
        char *deep = malloc(n + 1);
        ASSERT_TRUE(deep);
        memset(deep, '{', n);
        deep[n] = '\0';
        ASSERT_JSON_ERR(deep, CP_ETOOBIG, "nesting");
        free(deep);
        /* size limit */
        size_t big = CP_MAX_POLICY_JSON + 1;
        char *huge = malloc(big + 1);
        ASSERT_TRUE(huge);
        memset(huge, ' ', big);
        memcpy(huge, "{\"version\":1}", 13);
        huge[big] = '\0';
        ASSERT_JSON_ERR(huge, CP_ETOOBIG, "at most 262144");
        /* exactly at the limit (whitespace padding) is fine */
        cp_snp_policy p;
        ASSERT_OK(cp_snp_policy_from_json(huge, big - 1, &p));
        free(huge);
}

TEST(json_docs_example) {
        /* docs/policy.md's example is kept in tests/data as well so that it
         * is exercised; read it through the fuzz corpus seed. */
        size_t len = 0;
        char path[] = "../../fuzz/corpus/fuzz-snp-policy-json/example.json";
        uint8_t *buf = cp_test_read(path, &len);
        cp_snp_policy p;
        cp_snp_report r;
        ASSERT_OK(cp_snp_policy_from_json((const char *) buf, len, &p));
        baseline(&r);
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
        r.policy |= CP_SNP_POLICY_DEBUG;
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, "guest_policy.allow_debug");
        cp_snp_policy_clear(&p);
        free(buf);
}
