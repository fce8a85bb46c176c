/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SEV-SNP validation policy: defaults, owned sets and the check of a parsed
 * report against the policy.  No crypto and no parsing of untrusted bytes
 * happens here: the report struct was produced by the report parser (or by
 * hand in tests), the policy by the caller or cp_snp_policy_from_json().
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/cursor.h"
#include "basic/limits.h"
#include "basic/secure.h"
#include "confpool/snp_policy.h"

#define DIGEST_WIDTH 48u

void cp_snp_policy_init(cp_snp_policy *p) {
        if (!p)
                return;
        *p = (cp_snp_policy) {
                .version = CP_SNP_POLICY_VERSION,
                .check_guest_policy = true,
                .allow_smt = true,
                .allow_migrate_ma = false,
                .allow_debug = false,
                .allow_cxl = false,
                .check_platform_info = false,
                .platform_allow_smt = true,
                .platform_allow_tsme = true,
                .platform_allow_tio = true,
                .platform_allow_unknown_bits = false,
                .permit_provisional_firmware = true,
                .measurements = { .width = DIGEST_WIDTH },
                .trusted_id_key_digests = { .width = DIGEST_WIDTH },
                .trusted_author_key_digests = { .width = DIGEST_WIDTH },
                .allow_vcek = true,
                .allow_vlek = true,
        };
}

void cp_snp_policy_clear(cp_snp_policy *p) {
        if (!p)
                return;
        free(p->measurements.items);
        free(p->trusted_id_key_digests.items);
        free(p->trusted_author_key_digests.items);
        cp_snp_policy_init(p);
}

int cp_snp_bytes_set_add(cp_snp_bytes_set *s, const uint8_t *item, size_t width) {
        if (!s || !item || width == 0)
                return CP_ERROR(CP_EINVAL, "bytes set: invalid argument");
        if (s->n == 0 && s->width == 0)
                s->width = width;
        if (width != s->width)
                return CP_ERROR(CP_EINVAL, "bytes set: item width %zu differs from set width %zu", width,
                                s->width);
        if (s->n >= CP_MAX_POLICY_SET)
                return CP_ERROR(CP_ETOOBIG, "bytes set: more than %u items", CP_MAX_POLICY_SET);
        size_t sz;
        if (cp_mul_overflow(s->n + 1, width, &sz))
                return CP_ERROR(CP_ETOOBIG, "bytes set: size overflow");
        uint8_t *items = realloc(s->items, sz);
        if (!items)
                return cp_error_oom();
        memcpy(items + s->n * width, item, width);
        s->items = items;
        s->n++;
        return 0;
}

bool cp_snp_bytes_set_contains(const cp_snp_bytes_set *s, const uint8_t *item) {
        if (!s || !item || s->n == 0 || s->width == 0 || !s->items)
                return false;
        /* Compare against every element, no early exit: the time depends
         * only on the set size, not on where (or whether) item matches. */
        unsigned found = 0;
        for (size_t i = 0; i < s->n; i++)
                found |= (unsigned) cp_ct_eq(s->items + i * s->width, item, s->width);
        return found != 0;
}

static bool bytes_set_equal(const cp_snp_bytes_set *a, const cp_snp_bytes_set *b) {
        if (a->n != b->n || a->width != b->width)
                return false;
        if (a->n == 0)
                return true;
        return memcmp(a->items, b->items, a->n * a->width) == 0;
}

static bool tcb_equal(const cp_snp_tcb *a, const cp_snp_tcb *b) {
        if (a->bl != b->bl || a->tee != b->tee || a->snp != b->snp || a->ucode != b->ucode ||
            a->has_fmc != b->has_fmc)
                return false;
        return !a->has_fmc || a->fmc == b->fmc;
}

#define EQ(f) (a->f == b->f)
#define EQ_OPT_BYTES(f) (EQ(has_##f) && (!a->has_##f || memcmp(a->f, b->f, sizeof(a->f)) == 0))

bool cp_snp_policy_equal(const cp_snp_policy *a, const cp_snp_policy *b) {
        if (!a || !b)
                return a == b;
        return EQ(version) && EQ(check_guest_policy) && EQ(min_abi_major) && EQ(min_abi_minor) &&
               EQ(allow_smt) && EQ(allow_migrate_ma) && EQ(allow_debug) && EQ(allow_cxl) &&
               EQ(require_single_socket) && EQ(require_mem_aes_256_xts) && EQ(require_rapl_dis) &&
               EQ(require_ciphertext_hiding) && EQ(require_page_swap_disable) && EQ(check_platform_info) &&
               EQ(platform_allow_smt) && EQ(platform_allow_tsme) && EQ(platform_allow_tio) &&
               EQ(platform_require_ecc) && EQ(platform_require_rapl_dis) &&
               EQ(platform_require_ciphertext_hiding) && EQ(platform_require_alias_check) &&
               EQ(platform_allow_unknown_bits) && EQ(min_guest_svn) && EQ(min_build) &&
               EQ(min_version_major) && EQ(min_version_minor) && EQ(has_min_tcb) &&
               (!a->has_min_tcb || tcb_equal(&a->min_tcb, &b->min_tcb)) && EQ(has_min_launch_tcb) &&
               (!a->has_min_launch_tcb || tcb_equal(&a->min_launch_tcb, &b->min_launch_tcb)) &&
               EQ(permit_provisional_firmware) && EQ_OPT_BYTES(report_data) && EQ_OPT_BYTES(host_data) &&
               EQ_OPT_BYTES(family_id) && EQ_OPT_BYTES(image_id) && EQ_OPT_BYTES(report_id) &&
               EQ_OPT_BYTES(report_id_ma) && EQ_OPT_BYTES(chip_id) && EQ(has_vmpl) &&
               (!a->has_vmpl || EQ(vmpl)) && bytes_set_equal(&a->measurements, &b->measurements) &&
               bytes_set_equal(&a->trusted_id_key_digests, &b->trusted_id_key_digests) &&
               bytes_set_equal(&a->trusted_author_key_digests, &b->trusted_author_key_digests) &&
               EQ(require_id_block) && EQ(require_author_key) && EQ(allow_vcek) && EQ(allow_vlek) &&
               EQ(has_generation) && (!a->has_generation || EQ(generation)) &&
               EQ(min_launch_mit_vector) && EQ(min_current_mit_vector);
}

#undef EQ
#undef EQ_OPT_BYTES

/* ---- helpers for the check */

static const char *gen_name(cp_snp_generation g) {
        switch (g) {
        case CP_SNP_GEN_MILAN:
                return "Milan";
        case CP_SNP_GEN_GENOA:
                return "Genoa";
        case CP_SNP_GEN_TURIN:
                return "Turin";
        default:
                return "unknown";
        }
}

/* Own TCB_VERSION decoder (the policy module must not depend on the report
 * parser).  raw is the little-endian u64, byte 0 = low byte.
 *   Milan/Genoa: [bl, tee, 0, 0, 0, 0, snp, ucode]
 *   Turin:       [fmc, bl, tee, snp, 0, 0, 0, ucode] */
static bool tcb_decode(uint64_t raw, cp_snp_generation gen, cp_snp_tcb *ret) {
        uint8_t b[8];
        cp_put_le64(b, raw);
        switch (gen) {
        case CP_SNP_GEN_MILAN:
        case CP_SNP_GEN_GENOA:
                if (b[2] | b[3] | b[4] | b[5])
                        return false;
                *ret = (cp_snp_tcb) { .bl = b[0], .tee = b[1], .snp = b[6], .ucode = b[7] };
                return true;
        case CP_SNP_GEN_TURIN:
                if (b[4] | b[5] | b[6])
                        return false;
                *ret = (cp_snp_tcb) { .fmc = b[0], .bl = b[1], .tee = b[2], .snp = b[3], .ucode = b[7],
                                      .has_fmc = true };
                return true;
        default:
                return false;
        }
}

static void tcb_format(const cp_snp_tcb *t, char *out, size_t cap) {
        if (t->has_fmc)
                snprintf(out, cap, "fmc %u, bl %u, tee %u, snp %u, ucode %u", t->fmc, t->bl, t->tee, t->snp,
                         t->ucode);
        else
                snprintf(out, cap, "bl %u, tee %u, snp %u, ucode %u", t->bl, t->tee, t->snp, t->ucode);
}

static int check_tcb_floor(const char *key, const char *what, uint64_t raw, const cp_snp_tcb *floor,
                           cp_snp_generation gen) {
        cp_snp_tcb t;
        if (!tcb_decode(raw, gen, &t))
                return CP_ERROR(CP_EPOLICY, "%s: %s 0x%016" PRIx64 " is not a valid %s TCB_VERSION", key, what,
                                raw, gen_name(gen));

        const struct {
                const char *name;
                unsigned have, want;
        } comps[] = {
                { "bl", t.bl, floor->bl },
                { "tee", t.tee, floor->tee },
                { "snp", t.snp, floor->snp },
                { "ucode", t.ucode, floor->ucode },
                { "fmc", t.fmc, floor->has_fmc ? floor->fmc : 0 },
        };
        if (floor->has_fmc && floor->fmc > 0 && !t.has_fmc)
                return CP_ERROR(CP_EPOLICY, "%s.fmc: floor %u set but %s TCB_VERSION has no FMC component", key,
                                floor->fmc, gen_name(gen));
        for (size_t i = 0; i < CP_ELEMENTSOF(comps); i++) {
                if (comps[i].have >= comps[i].want)
                        continue;
                char buf[96];
                tcb_format(&t, buf, sizeof(buf));
                return CP_ERROR(CP_EPOLICY, "%s.%s: %s 0x%016" PRIx64 " (%s) has %s %u, below the minimum %u",
                                key, comps[i].name, what, raw, buf, comps[i].name, comps[i].have, comps[i].want);
        }
        return 0;
}

static int check_exact(const char *key, bool has, const uint8_t *want, const uint8_t *have, size_t n) {
        if (!has)
                return 0;
        if (cp_ct_eq(want, have, n))
                return 0;
        /* Neither value is secret (both are public report fields or policy
         * constants), so both go into the message. */
        char w[2 * 64 + 1], h[2 * 64 + 1];
        if (n > 64)
                return CP_ERROR(CP_EINTERNAL, "%s: value too wide", key);
        cp_hex_encode(want, n, w);
        cp_hex_encode(have, n, h);
        return CP_ERROR(CP_EPOLICY, "%s: expected %s, got %s", key, w, h);
}

static int check_in_set(const char *key, const char *what, const cp_snp_bytes_set *s, const uint8_t *have) {
        if (s->n == 0)
                return 0;
        if (cp_snp_bytes_set_contains(s, have))
                return 0;
        char h[2 * DIGEST_WIDTH + 1];
        cp_hex_encode(have, DIGEST_WIDTH, h);
        return CP_ERROR(CP_EPOLICY, "%s: %s %s is not among the %zu accepted value%s", key, what, h, s->n,
                        s->n == 1 ? "" : "s");
}

static int check_set_shape(const char *key, const cp_snp_bytes_set *s) {
        if (s->n == 0)
                return 0;
        if (s->width != DIGEST_WIDTH || !s->items)
                return CP_ERROR(CP_EINVAL, "policy %s: set width %zu, expected %u", key, s->width, DIGEST_WIDTH);
        return 0;
}

/* ---- the individual checks, in the order they are applied */

static int check_signing_key(const cp_snp_policy *p, const cp_snp_report *r) {
        switch (r->signing_key) {
        case CP_SNP_SIGNING_KEY_VCEK:
                if (!p->allow_vcek)
                        return CP_ERROR(CP_EPOLICY, "signing_keys: report is signed with a VCEK, policy does "
                                                    "not accept VCEK");
                return 0;
        case CP_SNP_SIGNING_KEY_VLEK:
                if (!p->allow_vlek)
                        return CP_ERROR(CP_EPOLICY, "signing_keys: report is signed with a VLEK, policy does "
                                                    "not accept VLEK");
                return 0;
        case CP_SNP_SIGNING_KEY_NONE:
                return CP_ERROR(CP_EPOLICY, "signing_keys: report has SIGNING_KEY none (unsigned)");
        default:
                return CP_ERROR(CP_EPOLICY, "signing_keys: report has reserved SIGNING_KEY value %u",
                                r->signing_key);
        }
}

static int check_guest_policy(const cp_snp_policy *p, const cp_snp_report *r) {
        uint64_t pol = r->policy;
        if (!p->check_guest_policy)
                return 0;
        if (pol & ~CP_SNP_POLICY_KNOWN_MASK)
                return CP_ERROR(CP_EPOLICY, "guest_policy: GUEST_POLICY 0x%" PRIx64 " has reserved bits 0x%" PRIx64
                                            " set",
                                pol, pol & ~CP_SNP_POLICY_KNOWN_MASK);
        if (!(pol & CP_SNP_POLICY_RESERVED_1))
                return CP_ERROR(CP_EPOLICY, "guest_policy: GUEST_POLICY 0x%" PRIx64 " has bit 17 clear (must be 1)",
                                pol);

        unsigned maj = CP_SNP_POLICY_ABI_MAJOR(pol), min = CP_SNP_POLICY_ABI_MINOR(pol);
        if (maj < p->min_abi_major || (maj == p->min_abi_major && min < p->min_abi_minor))
                return CP_ERROR(CP_EPOLICY, "guest_policy.min_abi: GUEST_POLICY 0x%" PRIx64
                                            " requires ABI %u.%u, below the minimum %u.%u",
                                pol, maj, min, p->min_abi_major, p->min_abi_minor);

        static const struct {
                uint64_t bit;
                size_t off;
                bool required; /* true: "require_*", false: "allow_*" */
                const char *key, *name;
        } flags[] = {
                { CP_SNP_POLICY_SMT, offsetof(cp_snp_policy, allow_smt), false, "allow_smt", "SMT" },
                { CP_SNP_POLICY_MIGRATE_MA, offsetof(cp_snp_policy, allow_migrate_ma), false, "allow_migrate_ma",
                  "MIGRATE_MA" },
                { CP_SNP_POLICY_DEBUG, offsetof(cp_snp_policy, allow_debug), false, "allow_debug", "DEBUG" },
                { CP_SNP_POLICY_CXL_ALLOW, offsetof(cp_snp_policy, allow_cxl), false, "allow_cxl", "CXL_ALLOW" },
                { CP_SNP_POLICY_SINGLE_SOCKET, offsetof(cp_snp_policy, require_single_socket), true,
                  "require_single_socket", "SINGLE_SOCKET" },
                { CP_SNP_POLICY_MEM_AES_256_XTS, offsetof(cp_snp_policy, require_mem_aes_256_xts), true,
                  "require_mem_aes_256_xts", "MEM_AES_256_XTS" },
                { CP_SNP_POLICY_RAPL_DIS, offsetof(cp_snp_policy, require_rapl_dis), true, "require_rapl_dis",
                  "RAPL_DIS" },
                { CP_SNP_POLICY_CIPHERTEXT_HIDING, offsetof(cp_snp_policy, require_ciphertext_hiding), true,
                  "require_ciphertext_hiding", "CIPHERTEXT_HIDING" },
                { CP_SNP_POLICY_PAGE_SWAP_DISABLE, offsetof(cp_snp_policy, require_page_swap_disable), true,
                  "require_page_swap_disable", "PAGE_SWAP_DISABLE" },
        };
        for (size_t i = 0; i < CP_ELEMENTSOF(flags); i++) {
                bool v = *(const bool *) ((const uint8_t *) p + flags[i].off);
                bool set = (pol & flags[i].bit) != 0;
                if (flags[i].required && v && !set)
                        return CP_ERROR(CP_EPOLICY, "guest_policy.%s: GUEST_POLICY 0x%" PRIx64
                                                    " lacks %s, policy requires it",
                                        flags[i].key, pol, flags[i].name);
                if (!flags[i].required && !v && set)
                        return CP_ERROR(CP_EPOLICY, "guest_policy.%s: GUEST_POLICY 0x%" PRIx64
                                                    " has %s set, policy forbids it",
                                        flags[i].key, pol, flags[i].name);
        }
        return 0;
}

static int check_platform_info(const cp_snp_policy *p, const cp_snp_report *r) {
        uint64_t pi = r->platform_info;
        if (!p->check_platform_info)
                return 0;
        uint64_t unknown = (pi & ~CP_SNP_PLATFORM_KNOWN_MASK) | r->unknown_platform_info_bits;
        if (unknown && !p->platform_allow_unknown_bits)
                return CP_ERROR(CP_EPOLICY, "platform_info.allow_unknown_bits: PLATFORM_INFO 0x%" PRIx64
                                            " has unknown bits 0x%" PRIx64 " set, policy refuses them",
                                pi, unknown);

        static const struct {
                uint64_t bit;
                size_t off;
                bool required;
                const char *key, *name;
        } flags[] = {
                { CP_SNP_PLATFORM_SMT_EN, offsetof(cp_snp_policy, platform_allow_smt), false, "allow_smt",
                  "SMT_EN" },
                { CP_SNP_PLATFORM_TSME_EN, offsetof(cp_snp_policy, platform_allow_tsme), false, "allow_tsme",
                  "TSME_EN" },
                { CP_SNP_PLATFORM_TIO_EN, offsetof(cp_snp_policy, platform_allow_tio), false, "allow_tio",
                  "TIO_EN" },
                { CP_SNP_PLATFORM_ECC_EN, offsetof(cp_snp_policy, platform_require_ecc), true, "require_ecc",
                  "ECC_EN" },
                { CP_SNP_PLATFORM_RAPL_DIS, offsetof(cp_snp_policy, platform_require_rapl_dis), true,
                  "require_rapl_dis", "RAPL_DIS" },
                { CP_SNP_PLATFORM_CIPHERTEXT_HIDING, offsetof(cp_snp_policy, platform_require_ciphertext_hiding),
                  true, "require_ciphertext_hiding", "CIPHERTEXT_HIDING_EN" },
                { CP_SNP_PLATFORM_ALIAS_CHECK_DONE, offsetof(cp_snp_policy, platform_require_alias_check), true,
                  "require_alias_check", "ALIAS_CHECK_COMPLETE" },
        };
        for (size_t i = 0; i < CP_ELEMENTSOF(flags); i++) {
                bool v = *(const bool *) ((const uint8_t *) p + flags[i].off);
                bool set = (pi & flags[i].bit) != 0;
                if (flags[i].required && v && !set)
                        return CP_ERROR(CP_EPOLICY, "platform_info.%s: PLATFORM_INFO 0x%" PRIx64
                                                    " lacks %s, policy requires it",
                                        flags[i].key, pi, flags[i].name);
                if (!flags[i].required && !v && set)
                        return CP_ERROR(CP_EPOLICY, "platform_info.%s: PLATFORM_INFO 0x%" PRIx64
                                                    " has %s set, policy forbids it",
                                        flags[i].key, pi, flags[i].name);
        }
        return 0;
}

static int check_versions(const cp_snp_policy *p, const cp_snp_report *r) {
        if (r->guest_svn < p->min_guest_svn)
                return CP_ERROR(CP_EPOLICY, "min_guest_svn: GUEST_SVN %" PRIu32 " is below the minimum %" PRIu32,
                                r->guest_svn, p->min_guest_svn);
        if (p->has_vmpl && r->vmpl != p->vmpl)
                return CP_ERROR(CP_EPOLICY, "vmpl: expected %" PRIu32 ", got %" PRIu32, p->vmpl, r->vmpl);
        if (r->current_build < p->min_build)
                return CP_ERROR(CP_EPOLICY, "min_build: CURRENT_BUILD %u is below the minimum %u", r->current_build,
                                p->min_build);
        if (r->current_major < p->min_version_major ||
            (r->current_major == p->min_version_major && r->current_minor < p->min_version_minor))
                return CP_ERROR(CP_EPOLICY, "min_version: firmware %u.%u (CURRENT_MAJOR.CURRENT_MINOR) is below "
                                            "the minimum %u.%u",
                                r->current_major, r->current_minor, p->min_version_major, p->min_version_minor);
        if (!p->permit_provisional_firmware) {
                if (r->committed_tcb != r->current_tcb)
                        return CP_ERROR(CP_EPOLICY, "permit_provisional_firmware: COMMITTED_TCB 0x%016" PRIx64
                                                    " differs from CURRENT_TCB 0x%016" PRIx64,
                                        r->committed_tcb, r->current_tcb);
                if (r->committed_build != r->current_build || r->committed_minor != r->current_minor ||
                    r->committed_major != r->current_major)
                        return CP_ERROR(CP_EPOLICY, "permit_provisional_firmware: committed firmware %u.%u build %u "
                                                    "differs from current %u.%u build %u",
                                        r->committed_major, r->committed_minor, r->committed_build,
                                        r->current_major, r->current_minor, r->current_build);
        }
        return 0;
}

static int check_tcbs(const cp_snp_policy *p, const cp_snp_report *r, cp_snp_generation gen) {
        int k;
        if (p->has_min_tcb) {
                k = check_tcb_floor("min_tcb", "CURRENT_TCB", r->current_tcb, &p->min_tcb, gen);
                if (k < 0)
                        return k;
                k = check_tcb_floor("min_tcb", "COMMITTED_TCB", r->committed_tcb, &p->min_tcb, gen);
                if (k < 0)
                        return k;
                k = check_tcb_floor("min_tcb", "REPORTED_TCB", r->reported_tcb, &p->min_tcb, gen);
                if (k < 0)
                        return k;
        }
        if (p->has_min_launch_tcb) {
                k = check_tcb_floor("min_launch_tcb", "LAUNCH_TCB", r->launch_tcb, &p->min_launch_tcb, gen);
                if (k < 0)
                        return k;
        }
        return 0;
}

static int check_values(const cp_snp_policy *p, const cp_snp_report *r) {
        int k;
#define EXACT(f)                                                                    \
        do {                                                                        \
                k = check_exact(#f, p->has_##f, p->f, r->f, sizeof(p->f));          \
                if (k < 0)                                                          \
                        return k;                                                   \
        } while (0)
        EXACT(report_data);
        EXACT(host_data);
        EXACT(family_id);
        EXACT(image_id);
        EXACT(report_id);
        EXACT(report_id_ma);
        EXACT(chip_id);
#undef EXACT
        return check_in_set("measurements", "MEASUREMENT", &p->measurements, r->measurement);
}

static int check_id_block(const cp_snp_policy *p, const cp_snp_report *r) {
        int k;
        if (p->require_id_block && cp_ct_is_zero(r->id_key_digest, sizeof(r->id_key_digest)))
                return CP_ERROR(CP_EPOLICY, "require_id_block: ID_KEY_DIGEST is zero (guest launched without an "
                                            "ID block)");
        k = check_in_set("trusted_id_key_digests", "ID_KEY_DIGEST", &p->trusted_id_key_digests, r->id_key_digest);
        if (k < 0)
                return k;
        if (p->require_author_key) {
                if (!r->author_key_en)
                        return CP_ERROR(CP_EPOLICY, "require_author_key: AUTHOR_KEY_EN is clear");
                if (cp_ct_is_zero(r->author_key_digest, sizeof(r->author_key_digest)))
                        return CP_ERROR(CP_EPOLICY, "require_author_key: AUTHOR_KEY_DIGEST is zero");
        }
        if (r->author_key_en) {
                k = check_in_set("trusted_author_key_digests", "AUTHOR_KEY_DIGEST", &p->trusted_author_key_digests,
                                 r->author_key_digest);
                if (k < 0)
                        return k;
        }
        return 0;
}

static int check_mit(const char *key, const char *what, uint64_t want, bool present, uint64_t have) {
        if (want == 0)
                return 0;
        if (!present)
                return CP_ERROR(CP_EPOLICY, "%s: minimum 0x%" PRIx64 " set but the report (version < 5) has no %s",
                                key, want, what);
        if ((have & want) != want)
                return CP_ERROR(CP_EPOLICY, "%s: %s 0x%" PRIx64 " lacks required bits 0x%" PRIx64 " (minimum 0x%" PRIx64
                                            ")",
                                key, what, have, want & ~have, want);
        return 0;
}

int cp_snp_policy_check(const cp_snp_policy *p, const cp_snp_report *r, cp_snp_generation gen) {
        int k;

        if (!p || !r)
                return CP_ERROR(CP_EINVAL, "policy check: invalid argument");
        if (p->version != CP_SNP_POLICY_VERSION)
                return CP_ERROR(CP_EINVAL, "policy version %u is not supported (expected %u)", p->version,
                                CP_SNP_POLICY_VERSION);
        if ((k = check_set_shape("measurements", &p->measurements)) < 0 ||
            (k = check_set_shape("trusted_id_key_digests", &p->trusted_id_key_digests)) < 0 ||
            (k = check_set_shape("trusted_author_key_digests", &p->trusted_author_key_digests)) < 0)
                return k;

        if ((k = check_signing_key(p, r)) < 0)
                return k;
        if (p->has_generation && gen != p->generation)
                return CP_ERROR(CP_EPOLICY, "generation: expected %s, got %s", gen_name(p->generation),
                                gen_name(gen));
        if ((k = check_guest_policy(p, r)) < 0)
                return k;
        if ((k = check_platform_info(p, r)) < 0)
                return k;
        if ((k = check_versions(p, r)) < 0)
                return k;
        if ((k = check_tcbs(p, r, gen)) < 0)
                return k;
        if ((k = check_values(p, r)) < 0)
                return k;
        if ((k = check_id_block(p, r)) < 0)
                return k;
        if ((k = check_mit("min_launch_mit_vector", "LAUNCH_MIT_VECTOR", p->min_launch_mit_vector,
                           r->has_mit_vectors, r->launch_mit_vector)) < 0)
                return k;
        if ((k = check_mit("min_current_mit_vector", "CURRENT_MIT_VECTOR", p->min_current_mit_vector,
                           r->has_mit_vectors, r->current_mit_vector)) < 0)
                return k;
        return 0;
}
