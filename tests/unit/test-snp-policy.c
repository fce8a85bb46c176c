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

/*
 * Check tables: a sequence of steps on one policy (the default) and one
 * report (a baseline).  Each step changes the state left by the steps
 * before it, first by fn, then by the assignments in set, and then expects
 * cp_snp_policy_check() for gen to accept (refused NULL) or to refuse with
 * CP_EPOLICY and a message containing refused (and also).
 */
typedef struct check_state {
        cp_snp_policy p;
        cp_snp_report r;
} check_state;

typedef struct field_set {
        char obj; /* 'p': the policy, 'r': the report, 0: the end of the list */
        size_t off, size;
        uint64_t val;
} field_set;

#define P(f, v) { 'p', offsetof(cp_snp_policy, f), sizeof(((cp_snp_policy *) 0)->f), (uint64_t) (v) }
#define R(f, v) { 'r', offsetof(cp_snp_report, f), sizeof(((cp_snp_report *) 0)->f), (uint64_t) (v) }

typedef struct check_step {
        const char *name;
        cp_snp_generation gen;
        void (*fn)(check_state *s);
        field_set set[6];
        const char *refused, *also;
} check_step;

static void set_field(uint8_t *base, const field_set *s) {
        uint8_t u8 = (uint8_t) s->val;
        uint16_t u16 = (uint16_t) s->val;
        uint32_t u32 = (uint32_t) s->val;
        uint64_t u64 = s->val;
        switch (s->size) {
        case 1:
                memcpy(base + s->off, &u8, 1);
                break;
        case 2:
                memcpy(base + s->off, &u16, 2);
                break;
        case 4:
                memcpy(base + s->off, &u32, 4);
                break;
        case 8:
                memcpy(base + s->off, &u64, 8);
                break;
        default:
                cp_test_fail(__FILE__, __LINE__, "field of %zu bytes", s->size);
        }
}

static void run_check_step(void *ctx, const void *row) {
        check_state *s = ctx;
        const check_step *t = row;
        if (t->fn)
                t->fn(s);
        for (size_t i = 0; i < CP_ELEMENTSOF(t->set) && t->set[i].obj; i++)
                set_field(t->set[i].obj == 'p' ? (uint8_t *) &s->p : (uint8_t *) &s->r, &t->set[i]);
        if (!t->refused) {
                ASSERT_ACCEPTED(&s->p, &s->r, t->gen);
                return;
        }
        ASSERT_REFUSED(&s->p, &s->r, t->gen, t->refused);
        if (t->also)
                ASSERT_MSG_HAS(t->also);
}

/* Run the steps from the default policy and base(&report). */
#define CHECK_STEPS(steps, base)                                 \
        do {                                                     \
                check_state _st;                                 \
                cp_snp_policy_init(&_st.p);                      \
                base(&_st.r);                                    \
                TEST_TABLE(steps, run_check_step, &_st);         \
                cp_snp_policy_clear(&_st.p);                     \
        } while (0)

#define MILAN CP_SNP_GEN_MILAN
#define GENOA CP_SNP_GEN_GENOA
#define TURIN CP_SNP_GEN_TURIN
#define UNKNOWN CP_SNP_GEN_UNKNOWN

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

static const check_step azure_baseline_steps[] = {
        { "Azure baseline", .gen = MILAN },
        /* real Azure Milan v2: CURRENT_TCB (ucode 0xce) != COMMITTED_TCB */
        { "CURRENT_TCB above COMMITTED_TCB", MILAN, .set = { R(current_tcb, UINT64_C(0xce08000000000003)) } },
};

TEST(default_accepts_azure_baseline) {
        CHECK_STEPS(azure_baseline_steps, baseline);
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

static const check_step debug_steps[] = {
        { "DEBUG set (the go-sev-guest sample)", MILAN, .set = { R(policy, 0xb0000) },
          .refused = "guest_policy.allow_debug", .also = "0xb0000" },
        { "allow_debug", MILAN, .set = { P(allow_debug, true) } },
        /* check_guest_policy = false disables every guest policy check */
        { "check_guest_policy off", MILAN, .set = { P(allow_debug, false), P(check_guest_policy, false) } },
        { "check_guest_policy off, even bit 17 clear", MILAN, .set = { R(policy, 0) } },
};

TEST(guest_policy_debug_refused_by_default) {
        CHECK_STEPS(debug_steps, baseline);
}

/* A guest policy or PLATFORM_INFO bit and the policy flag that allows or
 * requires it; the name is the policy key the refusal names. */
typedef struct flag_case {
        const char *name;
        uint64_t bit;
        size_t off;
        bool required;
} flag_case;

static void check_allowed_only_bit(void *ctx, const void *row) {
        const flag_case *t = row;
        cp_snp_policy p;
        cp_snp_report r;
        (void) ctx;
        cp_snp_policy_init(&p);
        baseline(&r);
        bool *allow = (bool *) ((uint8_t *) &p + t->off);
        r.policy = 0x3001f & ~CP_SNP_POLICY_SMT;
        *allow = false;
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN); /* bit clear: fine either way */
        r.policy |= t->bit;
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, t->name);
        *allow = true;
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
}

static const flag_case allowed_only_bits[] = {
        { "guest_policy.allow_smt", CP_SNP_POLICY_SMT, offsetof(cp_snp_policy, allow_smt), false },
        { "guest_policy.allow_migrate_ma", CP_SNP_POLICY_MIGRATE_MA, offsetof(cp_snp_policy, allow_migrate_ma), false },
        { "guest_policy.allow_debug", CP_SNP_POLICY_DEBUG, offsetof(cp_snp_policy, allow_debug), false },
        { "guest_policy.allow_cxl", CP_SNP_POLICY_CXL_ALLOW, offsetof(cp_snp_policy, allow_cxl), false },
};

TEST(guest_policy_allowed_only_bits) {
        TEST_TABLE(allowed_only_bits, check_allowed_only_bit, NULL);
}

static void check_required_bit(void *ctx, const void *row) {
        const flag_case *t = row;
        cp_snp_policy p;
        cp_snp_report r;
        (void) ctx;
        cp_snp_policy_init(&p);
        baseline(&r);
        bool *req = (bool *) ((uint8_t *) &p + t->off);
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
        *req = true;
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, t->name);
        r.policy |= t->bit;
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
}

static const flag_case required_bits[] = {
        { "guest_policy.require_single_socket", CP_SNP_POLICY_SINGLE_SOCKET,
          offsetof(cp_snp_policy, require_single_socket), true },
        { "guest_policy.require_mem_aes_256_xts", CP_SNP_POLICY_MEM_AES_256_XTS,
          offsetof(cp_snp_policy, require_mem_aes_256_xts), true },
        { "guest_policy.require_rapl_dis", CP_SNP_POLICY_RAPL_DIS, offsetof(cp_snp_policy, require_rapl_dis), true },
        { "guest_policy.require_ciphertext_hiding", CP_SNP_POLICY_CIPHERTEXT_HIDING,
          offsetof(cp_snp_policy, require_ciphertext_hiding), true },
        { "guest_policy.require_page_swap_disable", CP_SNP_POLICY_PAGE_SWAP_DISABLE,
          offsetof(cp_snp_policy, require_page_swap_disable), true },
};

TEST(guest_policy_required_bits) {
        TEST_TABLE(required_bits, check_required_bit, NULL);
}

static const check_step reserved_bit_steps[] = {
        { "reserved bit 26", MILAN, .set = { R(policy, 0x3001f | (UINT64_C(1) << 26)) },
          .refused = "reserved bits 0x4000000" },
        { "bit 17 clear", MILAN, .set = { R(policy, 0x1001f) }, .refused = "bit 17" },
};

TEST(guest_policy_reserved_bits) {
        CHECK_STEPS(reserved_bit_steps, baseline);
}

/* the baseline has ABI 0.31 */
static const check_step min_abi_steps[] = {
        { "ABI 0.31, minimum 0.31", MILAN, .set = { P(min_abi_major, 0), P(min_abi_minor, 31) } },
        { "ABI 0.31, minimum 0.32", MILAN, .set = { P(min_abi_minor, 32) }, .refused = "guest_policy.min_abi",
          .also = "ABI 0.31, below the minimum 0.32" },
        { "ABI 0.31, minimum 1.0", MILAN, .set = { P(min_abi_major, 1), P(min_abi_minor, 0) },
          .refused = "guest_policy.min_abi" },
        { "ABI 1.0, minimum 1.0", MILAN, .set = { R(policy, 0x30100) } },
        /* lexicographic, not by sum */
        { "ABI 1.0, minimum 0.255", MILAN, .set = { P(min_abi_major, 0), P(min_abi_minor, 255) } },
};

TEST(guest_policy_min_abi) {
        CHECK_STEPS(min_abi_steps, baseline);
}

/* ---- platform info */

/* the Turin baseline has PLATFORM_INFO 0x67: bit 6 unknown */
static const check_step unknown_platform_steps[] = {
        { "not checked by default", .gen = TURIN },
        { "bit 6 unknown", TURIN, .set = { P(check_platform_info, true) },
          .refused = "platform_info.allow_unknown_bits", .also = "0x40" },
        { "unknown bits allowed", TURIN, .set = { P(platform_allow_unknown_bits, true) } },
        /* bits reported by the parser are honoured too */
        { "bit 40 reported by the parser", TURIN,
          .set = { P(platform_allow_unknown_bits, false), R(platform_info, 0x27),
                   R(unknown_platform_info_bits, UINT64_C(1) << 40) },
          .refused = "platform_info.allow_unknown_bits" },
        { "no unknown bits", TURIN, .set = { R(unknown_platform_info_bits, 0) } },
};

TEST(platform_info_unknown_bits) {
        CHECK_STEPS(unknown_platform_steps, baseline_turin);
}

static void check_platform_flag(void *ctx, const void *row) {
        const flag_case *t = row;
        cp_snp_policy p;
        cp_snp_report r;
        (void) ctx;
        cp_snp_policy_init(&p);
        baseline(&r);
        p.check_platform_info = true;
        bool *flag = (bool *) ((uint8_t *) &p + t->off);
        r.platform_info = 0;
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
        if (t->required) {
                *flag = true;
                ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, t->name);
                r.platform_info = t->bit;
                ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
                /* without check_platform_info nothing is enforced */
                r.platform_info = 0;
                p.check_platform_info = false;
                ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
        } else {
                r.platform_info = t->bit;
                ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
                *flag = false;
                ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, t->name);
                p.check_platform_info = false;
                ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
        }
}

static const flag_case platform_flags[] = {
        { "platform_info.allow_smt", CP_SNP_PLATFORM_SMT_EN, offsetof(cp_snp_policy, platform_allow_smt), false },
        { "platform_info.allow_tsme", CP_SNP_PLATFORM_TSME_EN, offsetof(cp_snp_policy, platform_allow_tsme), false },
        { "platform_info.allow_tio", CP_SNP_PLATFORM_TIO_EN, offsetof(cp_snp_policy, platform_allow_tio), false },
        { "platform_info.require_ecc", CP_SNP_PLATFORM_ECC_EN, offsetof(cp_snp_policy, platform_require_ecc), true },
        { "platform_info.require_rapl_dis", CP_SNP_PLATFORM_RAPL_DIS,
          offsetof(cp_snp_policy, platform_require_rapl_dis), true },
        { "platform_info.require_ciphertext_hiding", CP_SNP_PLATFORM_CIPHERTEXT_HIDING,
          offsetof(cp_snp_policy, platform_require_ciphertext_hiding), true },
        { "platform_info.require_alias_check", CP_SNP_PLATFORM_ALIAS_CHECK_DONE,
          offsetof(cp_snp_policy, platform_require_alias_check), true },
};

TEST(platform_info_flags) {
        TEST_TABLE(platform_flags, check_platform_flag, NULL);
}

/* ---- versions */

static const check_step svn_vmpl_steps[] = {
        { "GUEST_SVN 10, minimum 10", MILAN, .set = { P(min_guest_svn, 10) } },
        { "GUEST_SVN 10, minimum 11", MILAN, .set = { P(min_guest_svn, 11) },
          .refused = "min_guest_svn: GUEST_SVN 10 is below the minimum 11" },
        { "VMPL 0 required, VMPL 0", MILAN, .set = { P(min_guest_svn, 0), P(has_vmpl, true), P(vmpl, 0) } },
        { "VMPL 0 required, VMPL 1", MILAN, .set = { R(vmpl, 1) }, .refused = "vmpl: expected 0, got 1" },
        { "VMPL not constrained", MILAN, .set = { P(has_vmpl, false) } },
};

TEST(min_guest_svn_and_vmpl) {
        CHECK_STEPS(svn_vmpl_steps, baseline);
}

/* the baseline has firmware 1.55 build 29 */
static const check_step build_version_steps[] = {
        { "build 29, minimum 29", MILAN, .set = { P(min_build, 29) } },
        { "build 29, minimum 30", MILAN, .set = { P(min_build, 30) },
          .refused = "min_build: CURRENT_BUILD 29 is below the minimum 30" },
        { "firmware 1.55, minimum 1.55", MILAN,
          .set = { P(min_build, 0), P(min_version_major, 1), P(min_version_minor, 55) } },
        { "firmware 1.55, minimum 1.56", MILAN, .set = { P(min_version_minor, 56) },
          .refused = "min_version: firmware 1.55" },
        { "firmware 1.55, minimum 2.0", MILAN, .set = { P(min_version_major, 2), P(min_version_minor, 0) },
          .refused = "min_version" },
        { "firmware 1.55, minimum 0.99", MILAN, .set = { P(min_version_major, 0), P(min_version_minor, 99) } },
};

TEST(min_build_and_version) {
        CHECK_STEPS(build_version_steps, baseline);
}

static const check_step provisional_steps[] = {
        { "committed is current", MILAN, .set = { P(permit_provisional_firmware, false) } },
        { "CURRENT_TCB above COMMITTED_TCB", MILAN, .set = { R(current_tcb, UINT64_C(0xce08000000000003)) },
          .refused = "permit_provisional_firmware: COMMITTED_TCB" },
        { "current build 30, committed 29", MILAN, .set = { R(current_tcb, AZ_TCB), R(current_build, 30) },
          .refused = "permit_provisional_firmware: committed firmware 1.55 build 29" },
        { "current minor 56, committed 55", MILAN, .set = { R(current_build, 29), R(current_minor, 56) },
          .refused = "permit_provisional_firmware" },
        { "committed major 0, current 1", MILAN, .set = { R(current_minor, 55), R(committed_major, 0) },
          .refused = "permit_provisional_firmware" },
        { "provisional firmware permitted", MILAN, .set = { P(permit_provisional_firmware, true) } },
};

TEST(provisional_firmware) {
        CHECK_STEPS(provisional_steps, baseline);
}

/* ---- TCB floors */

static void set_floor(cp_snp_policy *p, uint8_t bl, uint8_t tee, uint8_t snp, uint8_t ucode) {
        p->has_min_tcb = true;
        p->min_tcb = (cp_snp_tcb) { .bl = bl, .tee = tee, .snp = snp, .ucode = ucode };
}

/* For each component a floor one above the baseline (bl 3, tee 0, snp 8,
 * ucode 115); the name is what the refusal names. */
static const struct tcb_floor {
        const char *name;
        uint8_t bl, tee, snp, ucode;
} tcb_floors[] = {
        { "min_tcb.bl:", 4, 0, 8, 115 },
        { "min_tcb.tee:", 3, 1, 8, 115 },
        { "min_tcb.snp:", 3, 0, 9, 115 },
        { "min_tcb.ucode:", 3, 0, 8, 116 },
};

/* Which report field is at the baseline TCB (the other two well above
 * every floor). */
static const struct tcb_field {
        const char *name;
        size_t which;
} tcb_fields[] = {
        { "CURRENT_TCB", 0 },
        { "COMMITTED_TCB", 1 },
        { "REPORTED_TCB", 2 },
};

static void check_tcb_floor(void *ctx, const void *row) {
        const struct tcb_field *w = ctx;
        const struct tcb_floor *t = row;
        cp_snp_policy p;
        cp_snp_report r;
        cp_snp_policy_init(&p);
        baseline(&r);
        /* raise the other two TCBs well above every floor */
        uint64_t high = UINT64_C(0xff09000000000105);
        r.current_tcb = w->which == 0 ? AZ_TCB : high;
        r.committed_tcb = w->which == 1 ? AZ_TCB : high;
        r.reported_tcb = w->which == 2 ? AZ_TCB : high;
        set_floor(&p, 3, 0, 8, 115);
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
        set_floor(&p, t->bl, t->tee, t->snp, t->ucode);
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, t->name);
        ASSERT_MSG_HAS(w->name);
        /* launch floor is independent */
        p.has_min_tcb = false;
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
}

static void check_tcb_field(void *ctx, const void *row) {
        (void) ctx;
        TEST_TABLE(tcb_floors, check_tcb_floor, (void *) row);
}

TEST(min_tcb_components_each_tcb) {
        TEST_TABLE(tcb_fields, check_tcb_field, NULL);
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

static void baseline_floor(check_state *s) {
        set_floor(&s->p, 3, 0, 8, 115);
}

static void baseline_launch_floor(check_state *s) {
        s->p.has_min_launch_tcb = true;
        s->p.min_launch_tcb = (cp_snp_tcb) { .bl = 3, .tee = 0, .snp = 8, .ucode = 115 };
}

static const check_step launch_tcb_steps[] = {
        { "LAUNCH_TCB at the floor", .gen = MILAN, .fn = baseline_launch_floor },
        { "LAUNCH_TCB snp 7", MILAN, .set = { R(launch_tcb, UINT64_C(0x7307000000000003)) },
          .refused = "min_launch_tcb.snp: LAUNCH_TCB" },
        /* min_tcb does not look at LAUNCH_TCB */
        { "min_tcb only", MILAN, baseline_floor, .set = { P(has_min_launch_tcb, false) } },
};

TEST(min_launch_tcb) {
        CHECK_STEPS(launch_tcb_steps, baseline);
}

static void zero_floor(check_state *s) {
        set_floor(&s->p, 0, 0, 0, 0);
}

static const check_step undecodable_steps[] = {
        { "zero floor, Milan", .gen = MILAN, .fn = zero_floor },
        { "zero floor, Genoa", .gen = GENOA },
        /* Milan layout: bytes 2..5 reserved */
        { "Milan, reserved byte 3 set", MILAN, .set = { R(committed_tcb, AZ_TCB | (UINT64_C(1) << 24)) },
          .refused = "COMMITTED_TCB 0x7308000001000003 is not a valid Milan TCB_VERSION" },
        /* read as Turin, byte 6 (snp on Milan) is reserved */
        { "read as Turin", TURIN, .set = { R(committed_tcb, AZ_TCB) }, .refused = "not a valid Turin TCB_VERSION" },
        { "read as unknown", UNKNOWN, .refused = "not a valid unknown TCB_VERSION" },
        { "launch floor, Genoa reserved byte 5 set", GENOA,
          .set = { P(has_min_tcb, false), P(has_min_launch_tcb, true), R(launch_tcb, UINT64_C(0x0000ff0000000000)) },
          .refused = "min_launch_tcb: LAUNCH_TCB" },
        /* no floor, no decoding: an unknown generation passes */
        { "no floor, unknown", UNKNOWN, .set = { P(has_min_launch_tcb, false) } },
};

TEST(min_tcb_undecodable) {
        CHECK_STEPS(undecodable_steps, baseline);
}

static void turin_floor(check_state *s) {
        s->p.has_min_tcb = true;
        s->p.min_tcb = (cp_snp_tcb) { .fmc = 3, .bl = 1, .tee = 0, .snp = 2, .ucode = 0x47, .has_fmc = true };
}

static void launch_floor_from_min_tcb(check_state *s) {
        s->p.has_min_launch_tcb = true;
        s->p.min_launch_tcb = s->p.min_tcb;
}

/* the Turin baseline has fmc 3, bl 1, tee 0, snp 2, ucode 0x47 */
static const check_step turin_steps[] = {
        { "at the floor", .gen = TURIN, .fn = turin_floor },
        { "fmc 3, minimum 4", TURIN, .set = { P(min_tcb.fmc, 4) },
          .refused = "min_tcb.fmc: CURRENT_TCB 0x4700000002000103 (fmc 3, bl 1, tee 0, snp 2, ucode 71) has fmc 3, "
                     "below the minimum 4" },
        { "snp 2, minimum 3", TURIN, .set = { P(min_tcb.fmc, 3), P(min_tcb.snp, 3) }, .refused = "min_tcb.snp:" },
        { "bl 1, minimum 2", TURIN, .set = { P(min_tcb.snp, 2), P(min_tcb.bl, 2) }, .refused = "min_tcb.bl:" },
        { "ucode 0x47, minimum 0x48", TURIN, .set = { P(min_tcb.bl, 1), P(min_tcb.ucode, 0x48) },
          .refused = "min_tcb.ucode:" },
        /* fmc floor on committed and reported too */
        { "REPORTED_TCB fmc 2", TURIN, .set = { P(min_tcb.ucode, 0x47), R(reported_tcb, TURIN_TCB - 1) },
          .refused = "min_tcb.fmc: REPORTED_TCB" },
        { "COMMITTED_TCB fmc 2", TURIN, .set = { R(reported_tcb, TURIN_TCB), R(committed_tcb, TURIN_TCB - 1) },
          .refused = "min_tcb.fmc: COMMITTED_TCB" },
        /* launch floor with fmc */
        { "launch floor with fmc", TURIN, launch_floor_from_min_tcb, .set = { R(committed_tcb, TURIN_TCB) } },
        { "LAUNCH_TCB fmc 0", TURIN, .set = { R(launch_tcb, TURIN_TCB - 3) },
          .refused = "min_launch_tcb.fmc: LAUNCH_TCB" },
        /* reserved Turin bytes 4..6 */
        { "LAUNCH_TCB reserved byte 5 set", TURIN, .set = { R(launch_tcb, TURIN_TCB | (UINT64_C(1) << 40)) },
          .refused = "not a valid Turin TCB_VERSION" },
};

TEST(turin_tcb_layout_and_fmc) {
        CHECK_STEPS(turin_steps, baseline_turin);
}

static const check_step milan_fmc_steps[] = {
        /* zero floor constrains nothing */
        { "fmc floor 0", MILAN, baseline_floor, .set = { P(min_tcb.has_fmc, true), P(min_tcb.fmc, 0) } },
        { "fmc floor 1", MILAN, .set = { P(min_tcb.fmc, 1) },
          .refused = "min_tcb.fmc: floor 1 set but Milan TCB_VERSION has no FMC" },
        /* an fmc without has_fmc is ignored */
        { "fmc 1 without has_fmc", MILAN, .set = { P(min_tcb.has_fmc, false) } },
};

TEST(fmc_floor_on_milan) {
        CHECK_STEPS(milan_fmc_steps, baseline);
}

/* ---- exact values */

static const struct exact_case {
        const char *name;
        const char *key;
        size_t has_off, val_off, rep_off, len;
} exact_cases[] = {
#define C(f) { #f, #f ":", offsetof(cp_snp_policy, has_##f), offsetof(cp_snp_policy, f), offsetof(cp_snp_report, f), \
               sizeof(((cp_snp_report *) 0)->f) }
        C(report_data), C(host_data), C(family_id), C(image_id), C(report_id), C(report_id_ma), C(chip_id),
#undef C
};

static void check_exact_value(void *ctx, const void *row) {
        const struct exact_case *t = row;
        cp_snp_policy p;
        cp_snp_report r;
        (void) ctx;
        cp_snp_policy_init(&p);
        baseline(&r);
        bool *has = (bool *) ((uint8_t *) &p + t->has_off);
        uint8_t *want = (uint8_t *) &p + t->val_off;
        uint8_t *have = (uint8_t *) &r + t->rep_off;
        *has = true;
        memcpy(want, have, t->len);
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
        /* a difference in the last byte */
        want[t->len - 1] ^= 0x01;
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, t->key);
        char hw[129], hh[129];
        cp_hex_encode(want, t->len, hw);
        cp_hex_encode(have, t->len, hh);
        ASSERT_MSG_HAS(hw);
        ASSERT_MSG_HAS(hh);
        /* and in the first byte */
        want[t->len - 1] ^= 0x01;
        want[0] ^= 0x80;
        ASSERT_REFUSED(&p, &r, CP_SNP_GEN_MILAN, t->key);
        *has = false;
        ASSERT_ACCEPTED(&p, &r, CP_SNP_GEN_MILAN);
}

TEST(exact_values) {
        TEST_TABLE(exact_cases, check_exact_value, NULL);
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

static void measurement_other(check_state *s) {
        add_hex(&s->p.measurements, OTHER48);
}

static void measurement_az(check_state *s) {
        add_hex(&s->p.measurements, AZ_MEASUREMENT);
}

static void measurements_az_then_other(check_state *s) {
        cp_snp_policy_clear(&s->p);
        add_hex(&s->p.measurements, AZ_MEASUREMENT);
        add_hex(&s->p.measurements, OTHER48);
}

static void flip_measurement(check_state *s) {
        s->r.measurement[47] ^= 1;
}

static const check_step measurement_steps[] = {
        { "another measurement", MILAN, measurement_other,
          .refused = "measurements: MEASUREMENT " AZ_MEASUREMENT " is not among the 1 accepted value" },
        { "found as the last element", .gen = MILAN, .fn = measurement_az },
        { "found as the first element", .gen = MILAN, .fn = measurements_az_then_other },
        { "MEASUREMENT changed", MILAN, flip_measurement, .refused = "is not among the 2 accepted values" },
};

TEST(measurement_set) {
        CHECK_STEPS(measurement_steps, baseline);
}

static void zero_id_key_digest(check_state *s) {
        memset(s->r.id_key_digest, 0, sizeof(s->r.id_key_digest));
}

static void baseline_trusting_other_id_key(check_state *s) {
        baseline(&s->r);
        add_hex(&s->p.trusted_id_key_digests, OTHER48);
}

static void trust_az_id_key(check_state *s) {
        add_hex(&s->p.trusted_id_key_digests, AZ_ID_KEY_DIGEST);
}

static const check_step id_block_steps[] = {
        { "ID block required", MILAN, .set = { P(require_id_block, true) } },
        { "ID block required, zero digest", MILAN, zero_id_key_digest,
          .refused = "require_id_block: ID_KEY_DIGEST is zero" },
        { "ID block not required, zero digest", MILAN, .set = { P(require_id_block, false) } },
        { "untrusted ID key", MILAN, baseline_trusting_other_id_key,
          .refused = "trusted_id_key_digests: ID_KEY_DIGEST " AZ_ID_KEY_DIGEST },
        { "trusted ID key", .gen = MILAN, .fn = trust_az_id_key },
        /* a zero digest is not trusted unless listed */
        { "zero digest, not listed", MILAN, zero_id_key_digest, .refused = "trusted_id_key_digests" },
};

TEST(id_block) {
        CHECK_STEPS(id_block_steps, baseline);
}

static void author_key_other(check_state *s) {
        unhex(OTHER48, s->r.author_key_digest, 48);
}

static void trust_az_measurement_as_author(check_state *s) {
        add_hex(&s->p.trusted_author_key_digests, AZ_MEASUREMENT);
}

static void trust_other_author(check_state *s) {
        add_hex(&s->p.trusted_author_key_digests, OTHER48);
}

static void only_az_measurement_as_author(check_state *s) {
        cp_snp_policy_clear(&s->p);
        add_hex(&s->p.trusted_author_key_digests, AZ_MEASUREMENT);
}

/* the baseline has AUTHOR_KEY_EN clear and a zero digest */
static const check_step author_key_steps[] = {
        { "required, AUTHOR_KEY_EN clear", MILAN, .set = { P(require_author_key, true) },
          .refused = "require_author_key: AUTHOR_KEY_EN is clear" },
        { "required, zero digest", MILAN, .set = { R(author_key_en, true), R(signer_info, 1) },
          .refused = "require_author_key: AUTHOR_KEY_DIGEST is zero" },
        { "required, present", .gen = MILAN, .fn = author_key_other },
        { "not among the trusted", MILAN, trust_az_measurement_as_author,
          .refused = "trusted_author_key_digests: AUTHOR_KEY_DIGEST " OTHER48 },
        { "among the trusted", .gen = MILAN, .fn = trust_other_author },
        /* without AUTHOR_KEY_EN the trusted set is not consulted (unless required) */
        { "not required, AUTHOR_KEY_EN clear", MILAN, only_az_measurement_as_author,
          .set = { R(author_key_en, false) } },
        { "not required, AUTHOR_KEY_EN set", MILAN, .set = { R(author_key_en, true) },
          .refused = "trusted_author_key_digests" },
};

TEST(author_key) {
        CHECK_STEPS(author_key_steps, baseline);
}

/* ---- signing key, generation, mitigation vectors */

static const check_step signing_key_steps[] = {
        { "VCEK not allowed", MILAN, .set = { P(allow_vcek, false) },
          .refused = "signing_keys: report is signed with a VCEK" },
        { "VLEK", MILAN, .set = { R(signing_key, CP_SNP_SIGNING_KEY_VLEK) } },
        { "VLEK not allowed", MILAN, .set = { P(allow_vlek, false), P(allow_vcek, true) },
          .refused = "signing_keys: report is signed with a VLEK" },
        { "no signing key", MILAN, .set = { P(allow_vlek, true), R(signing_key, CP_SNP_SIGNING_KEY_NONE) },
          .refused = "SIGNING_KEY none" },
        { "reserved signing key", MILAN, .set = { R(signing_key, 3) }, .refused = "reserved SIGNING_KEY value 3" },
};

TEST(signing_key) {
        CHECK_STEPS(signing_key_steps, baseline);
}

static const check_step generation_steps[] = {
        { "Milan required, Milan", MILAN, .set = { P(has_generation, true), P(generation, CP_SNP_GEN_MILAN) } },
        { "Milan required, Genoa", GENOA, .refused = "generation: expected Milan, got Genoa" },
        { "Milan required, unknown", UNKNOWN, .refused = "generation: expected Milan, got unknown" },
        { "Turin required, Milan", MILAN, .set = { P(generation, CP_SNP_GEN_TURIN) },
          .refused = "generation: expected Turin, got Milan" },
};

TEST(generation) {
        CHECK_STEPS(generation_steps, baseline);
}

/* the baseline is v3: no MIT vectors */
static const check_step mit_vector_steps[] = {
        { "v3, no minimum", .gen = MILAN },
        { "v3, launch minimum", MILAN, .set = { P(min_launch_mit_vector, 0x1) },
          .refused = "min_launch_mit_vector: minimum 0x1 set but the report" },
        { "v3, current minimum", MILAN, .set = { P(min_launch_mit_vector, 0), P(min_current_mit_vector, 0x8) },
          .refused = "min_current_mit_vector" },
        /* real GCP Milan v5 */
        { "v5, both minimums met", MILAN,
          .set = { R(version, 5), R(has_mit_vectors, true), R(launch_mit_vector, 0xb), R(current_mit_vector, 0xb),
                   P(min_launch_mit_vector, 0x3), P(min_current_mit_vector, 0x8) } },
        { "v5, LAUNCH_MIT_VECTOR lacks 0x4", MILAN, .set = { P(min_launch_mit_vector, 0x7) },
          .refused = "min_launch_mit_vector: LAUNCH_MIT_VECTOR 0xb lacks required bits 0x4" },
        { "v5, CURRENT_MIT_VECTOR lacks 0x8", MILAN, .set = { P(min_launch_mit_vector, 0x3), R(current_mit_vector, 0x3) },
          .refused = "min_current_mit_vector: CURRENT_MIT_VECTOR 0x3 lacks required bits 0x8" },
};

TEST(mitigation_vectors) {
        CHECK_STEPS(mit_vector_steps, baseline);
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

/* A document from_str() must refuse with code and a message containing
 * needle, leaving *ret untouched; the document names the row. */
typedef struct json_err {
        const char *name;
        int code;
        const char *needle;
} json_err;

static void check_json_err(void *ctx, const void *row) {
        const json_err *t = row;
        (void) ctx;
        ASSERT_JSON_ERR(t->name, t->code, t->needle);
}

static const json_err unknown_keys[] = {
        { "{\"version\":1,\"min_tbc\":null}", CP_EFORMAT, "$.min_tbc: unknown key" },
        { "{\"version\":1,\"guest_policy\":{\"alow_debug\":false}}", CP_EFORMAT, "$.guest_policy.alow_debug: unknown key" },
        { "{\"version\":1,\"platform_info\":{\"allow_smt\":true,\"check_it\":1}}", CP_EFORMAT,
          "$.platform_info.check_it: unknown key" },
        { "{\"version\":1,\"min_tcb\":{\"bl\":1,\"tee\":1,\"snp\":1,\"ucode\":1,\"microcode\":1}}", CP_EFORMAT,
          "$.min_tcb.microcode: unknown key" },
        { "{\"version\":1,\"min_launch_tcb\":{\"BL\":1}}", CP_EFORMAT, "$.min_launch_tcb.BL: unknown key" },
        /* keys from one level are not valid at another */
        { "{\"version\":1,\"allow_debug\":true}", CP_EFORMAT, "$.allow_debug: unknown key" },
        { "{\"version\":1,\"guest_policy\":{\"require_ecc\":true}}", CP_EFORMAT, "$.guest_policy.require_ecc: unknown key" },
        /* non-printable and long keys are sanitised and truncated */
        { "{\"version\":1,\"a\\u0001b\":1}", CP_EFORMAT, "$.a?b: unknown key" },
        { "{\"version\":1,\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\":1}", CP_EFORMAT,
          "$.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...: unknown key" },
};

TEST(json_unknown_keys_at_every_level) {
        TEST_TABLE(unknown_keys, check_json_err, NULL);
}

static const json_err bad_versions[] = {
        { "{}", CP_EFORMAT, "$.version: missing" },
        { "{\"guest_policy\":{}}", CP_EFORMAT, "$.version: missing" },
        { "{\"version\":2}", CP_EVERSION, "$.version: unsupported policy version 2" },
        /* a newer document with new keys fails on the version, not the key */
        { "{\"new_thing\":1,\"version\":2}", CP_EVERSION, "$.version" },
        { "{\"version\":0}", CP_EVERSION, "$.version" },
        { "{\"version\":\"1\"}", CP_EFORMAT, "$.version: expected integer, got string" },
        { "{\"version\":1.0}", CP_EFORMAT, "$.version: expected integer, got real" },
        { "{\"version\":-1}", CP_EFORMAT, "$.version: -1 out of range" },
};

TEST(json_version) {
        TEST_TABLE(bad_versions, check_json_err, NULL);
}

static const json_err type_errors[] = {
        { "{\"version\":1,\"guest_policy\":{\"allow_debug\":\"false\"}}", CP_EFORMAT,
          "$.guest_policy.allow_debug: expected boolean, got string" },
        { "{\"version\":1,\"guest_policy\":{\"allow_debug\":0}}", CP_EFORMAT,
          "$.guest_policy.allow_debug: expected boolean, got integer" },
        { "{\"version\":1,\"guest_policy\":{\"allow_debug\":null}}", CP_EFORMAT,
          "$.guest_policy.allow_debug: expected boolean, got null" },
        { "{\"version\":1,\"guest_policy\":[]}", CP_EFORMAT, "$.guest_policy: expected object, got array" },
        { "{\"version\":1,\"platform_info\":null}", CP_EFORMAT, "$.platform_info: expected object, got null" },
        { "{\"version\":1,\"min_guest_svn\":true}", CP_EFORMAT, "$.min_guest_svn: expected integer, got boolean" },
        { "{\"version\":1,\"min_build\":\"29\"}", CP_EFORMAT, "$.min_build: expected integer" },
        { "{\"version\":1,\"min_build\":29.5}", CP_EFORMAT, "$.min_build: expected integer, got real" },
        { "{\"version\":1,\"min_version\":155}", CP_EFORMAT, "$.min_version: expected string" },
        { "{\"version\":1,\"min_tcb\":[3,0,8,115]}", CP_EFORMAT, "$.min_tcb: expected object or null, got array" },
        { "{\"version\":1,\"min_tcb\":{\"bl\":\"3\"}}", CP_EFORMAT, "$.min_tcb.bl: expected integer" },
        { "{\"version\":1,\"report_data\":42}", CP_EFORMAT, "$.report_data: expected hex string, got integer" },
        { "{\"version\":1,\"vmpl\":\"0\"}", CP_EFORMAT, "$.vmpl: expected integer or null, got string" },
        { "{\"version\":1,\"measurements\":null}", CP_EFORMAT, "$.measurements: expected array, got null" },
        { "{\"version\":1,\"measurements\":\"" AZ_MEASUREMENT "\"}", CP_EFORMAT,
          "$.measurements: expected array, got string" },
        { "{\"version\":1,\"measurements\":[1]}", CP_EFORMAT, "$.measurements[0]: expected hex string, got integer" },
        { "{\"version\":1,\"signing_keys\":\"VCEK\"}", CP_EFORMAT, "$.signing_keys: expected array" },
        { "{\"version\":1,\"signing_keys\":[0]}", CP_EFORMAT, "$.signing_keys[0]: expected string" },
        { "{\"version\":1,\"generation\":1}", CP_EFORMAT, "$.generation: expected string or null" },
        { "{\"version\":1,\"min_launch_mit_vector\":11}", CP_EFORMAT, "$.min_launch_mit_vector: expected string" },
        { "{\"version\":1,\"require_id_block\":\"yes\"}", CP_EFORMAT, "$.require_id_block: expected boolean" },
        { "{\"version\":1,\"permit_provisional_firmware\":1}", CP_EFORMAT,
          "$.permit_provisional_firmware: expected boolean" },
};

TEST(json_type_errors) {
        TEST_TABLE(type_errors, check_json_err, NULL);
}

static const json_err out_of_range[] = {
        { "{\"version\":1,\"min_build\":256}", CP_EFORMAT, "$.min_build: 256 out of range 0..255" },
        { "{\"version\":1,\"min_build\":-1}", CP_EFORMAT, "$.min_build: -1 out of range" },
        { "{\"version\":1,\"min_guest_svn\":4294967296}", CP_EFORMAT, "$.min_guest_svn: 4294967296 out of range" },
        { "{\"version\":1,\"min_guest_svn\":-4294967296}", CP_EFORMAT, "$.min_guest_svn" },
        { "{\"version\":1,\"vmpl\":4}", CP_EFORMAT, "$.vmpl: 4 out of range 0..3" },
        { "{\"version\":1,\"vmpl\":-1}", CP_EFORMAT, "$.vmpl" },
        { "{\"version\":1,\"min_tcb\":{\"bl\":256,\"tee\":0,\"snp\":0,\"ucode\":0}}", CP_EFORMAT,
          "$.min_tcb.bl: 256 out of range 0..255" },
        { "{\"version\":1,\"min_tcb\":{\"bl\":0,\"tee\":0,\"snp\":0,\"ucode\":0,\"fmc\":-1}}", CP_EFORMAT,
          "$.min_tcb.fmc: -1 out of range" },
        { "{\"version\":1,\"min_tcb\":{\"bl\":0,\"tee\":0,\"snp\":0}}", CP_EFORMAT, "$.min_tcb: missing key \"ucode\"" },
        { "{\"version\":1,\"min_launch_tcb\":{}}", CP_EFORMAT, "$.min_launch_tcb: missing key \"bl\"" },
        /* a number too big for jansson is a parse error */
        { "{\"version\":1,\"min_guest_svn\":99999999999999999999999}", CP_EFORMAT, "policy JSON: line 1" },
};

TEST(json_ranges) {
        TEST_TABLE(out_of_range, check_json_err, NULL);
}

/* A value for key (the JSON text names the row) that from_str() must
 * refuse with CP_EFORMAT, the message naming the key where needle is set. */
typedef struct bad_value {
        const char *name;
} bad_value;

typedef struct bad_value_ctx {
        const char *key, *needle;
} bad_value_ctx;

static void check_bad_value(void *ctx, const void *row) {
        const bad_value_ctx *k = ctx;
        const bad_value *t = row;
        char buf[128];
        snprintf(buf, sizeof(buf), "{\"version\":1,\"%s\":%s}", k->key, t->name);
        cp_snp_policy p;
        int r = from_str(buf, &p);
        if (r != CP_EFORMAT || (k->needle && !strstr(cp_error_message(), k->needle)))
                cp_test_fail(__FILE__, __LINE__, "%s %s: got %d: %s", k->key, t->name, r, cp_error_message());
}

static const bad_value bad_version_pairs[] = {
        { "\"1\"" },      { "\"1.\"" },   { "\".1\"" },   { "\"1.256\"" }, { "\"256.0\"" },
        { "\"a.b\"" },    { "\"1.2.3\"" }, { "\"+1.2\"" }, { "\" 1.2\"" }, { "\"1.2 \"" },
        { "\"1,2\"" },    { "\"\"" },     { "\"0001.2\"" }, { "\"1.-2\"" }, { "\"1.2\\u0000\"" },
};

TEST(json_version_pairs) {
        TEST_TABLE(bad_version_pairs, check_bad_value, (&(bad_value_ctx) { "min_version", NULL }));
        ASSERT_JSON_ERR("{\"version\":1,\"guest_policy\":{\"min_abi\":\"1.256\"}}", CP_EFORMAT,
                        "$.guest_policy.min_abi: expected \"major.minor\"");
        cp_snp_policy p;
        ASSERT_OK(from_str("{\"version\":1,\"min_version\":\"255.007\"}", &p));
        ASSERT_EQ(p.min_version_major, 255);
        ASSERT_EQ(p.min_version_minor, 7);
        ASSERT_OK(from_str("{\"version\":1,\"guest_policy\":{\"min_abi\":\"0.0\"}}", &p));
        ASSERT_EQ(p.min_abi_major, 0);
}

static const json_err bad_hex[] = {
        /* wrong length: odd, short, long, empty */
        { "{\"version\":1,\"host_data\":\"abc\"}", CP_EFORMAT,
          "$.host_data: expected 64 hex digits (32 bytes), got 3 characters" },
        { "{\"version\":1,\"host_data\":\"\"}", CP_EFORMAT, "$.host_data: expected 64 hex digits" },
        { "{\"version\":1,\"report_data\":\"" AZ_MEASUREMENT "\"}", CP_EFORMAT,
          "$.report_data: expected 128 hex digits (64 bytes), got 96" },
        { "{\"version\":1,\"family_id\":\"" AZ_REPORT_ID "\"}", CP_EFORMAT, "$.family_id: expected 32 hex digits" },
        { "{\"version\":1,\"chip_id\":\"" AZ_CHIP_ID "00\"}", CP_EFORMAT, "$.chip_id: expected 128 hex" },
        { "{\"version\":1,\"image_id\":\"0200000000000000000000000000000\"}", CP_EFORMAT,
          "$.image_id: expected 32 hex digits (16 bytes), got 31" },
        /* bad characters */
        { "{\"version\":1,\"report_id\":\"5ab50660c013e1c2ea33b759d64e1ac2e9b68fc9b788640eca9df081cbb866cg\"}",
          CP_EFORMAT, "$.report_id: invalid hex string" },
        { "{\"version\":1,\"report_id_ma\":\" fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\"}",
          CP_EFORMAT, "$.report_id_ma: invalid hex string" },
        { "{\"version\":1,\"report_id_ma\":\"0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\"}",
          CP_EFORMAT, "$.report_id_ma: invalid hex string" },
        /* set items */
        { "{\"version\":1,\"measurements\":[\"" AZ_MEASUREMENT "\",\"" AZ_REPORT_ID "\"]}", CP_EFORMAT,
          "$.measurements[1]: expected 96 hex digits (48 bytes), got 64" },
        { "{\"version\":1,\"trusted_id_key_digests\":[\"" AZ_MEASUREMENT "\",\"" AZ_MEASUREMENT "\",\"zz"
          "1111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111\"]}",
          CP_EFORMAT, "$.trusted_id_key_digests[2]: invalid hex string" },
        { "{\"version\":1,\"trusted_author_key_digests\":[null]}", CP_EFORMAT,
          "$.trusted_author_key_digests[0]: expected hex string, got null" },
};

/* mitigation vectors */
static const bad_value bad_mit_vectors[] = {
        { "\"0x\"" }, { "\"11\"" },  { "\"0X1\"" },  { "\"0x10000000000000000\"" }, { "\"0xg\"" },
        { "\"0x-1\"" }, { "\" 0x1\"" }, { "\"0x1 \"" }, { "\"\"" },
};

TEST(json_hex) {
        TEST_TABLE(bad_hex, check_json_err, NULL);
        TEST_TABLE(bad_mit_vectors, check_bad_value,
                   (&(bad_value_ctx) { "min_current_mit_vector", "$.min_current_mit_vector" }));
}

static const json_err bad_enums[] = {
        { "{\"version\":1,\"signing_keys\":[\"VCEK\",\"VCEK\"]}", CP_EFORMAT, "$.signing_keys[1]: duplicate entry" },
        { "{\"version\":1,\"signing_keys\":[\"vcek\"]}", CP_EFORMAT, "$.signing_keys[0]: expected \"VCEK\" or \"VLEK\"" },
        { "{\"version\":1,\"signing_keys\":[\"VCEK\",\"ASK\"]}", CP_EFORMAT, "$.signing_keys[1]" },
        { "{\"version\":1,\"generation\":\"milan\"}", CP_EFORMAT,
          "$.generation: expected \"Milan\", \"Genoa\" or \"Turin\"" },
        { "{\"version\":1,\"generation\":\"Milan-B0\"}", CP_EFORMAT, "$.generation" },
        { "{\"version\":1,\"generation\":\"\"}", CP_EFORMAT, "$.generation" },
};

TEST(json_enums) {
        TEST_TABLE(bad_enums, check_json_err, NULL);
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

static const json_err malformed[] = {
        /* duplicate keys, at the root and nested */
        { "{\"version\":1,\"version\":1}", CP_EFORMAT, "duplicate" },
        { "{\"version\":1,\"guest_policy\":{\"allow_debug\":false,\"allow_debug\":true}}", CP_EFORMAT, "duplicate" },
        { "{\"version\":1,\"min_tcb\":{\"bl\":1,\"bl\":2,\"tee\":0,\"snp\":0,\"ucode\":0}}", CP_EFORMAT, "duplicate" },
        /* not an object */
        { "[]", CP_EFORMAT, "$: expected object, got array" },
        { "[{\"version\":1}]", CP_EFORMAT, "$: expected object, got array" },
        { "\"version\"", CP_EFORMAT, "policy JSON" },
        { "1", CP_EFORMAT, "policy JSON" },
        { "null", CP_EFORMAT, "policy JSON" },
        { "", CP_EFORMAT, "policy JSON" },
        { "   ", CP_EFORMAT, "policy JSON" },
        /* trailing garbage, truncation */
        { "{\"version\":1} x", CP_EFORMAT, "policy JSON" },
        { "{\"version\":1}{}", CP_EFORMAT, "policy JSON" },
        { "{\"version\":1", CP_EFORMAT, "policy JSON" },
        { "{\"version\":1,}", CP_EFORMAT, "policy JSON" },
        { "{'version':1}", CP_EFORMAT, "policy JSON" },
        { "{\"version\":01}", CP_EFORMAT, "policy JSON" },
};

TEST(json_malformed) {
        TEST_TABLE(malformed, check_json_err, NULL);
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
