/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CONFPOOL_SNP_POLICY_H
#define CONFPOOL_SNP_POLICY_H

/*
 * Validation policy for a parsed (and, separately, cryptographically
 * verified) SEV-SNP report: at least everything go-sev-guest's
 * validate.Options offers, plus minimum mitigation vectors and PLATFORM_INFO
 * constraints that tolerate unknown bits.  No crypto happens here.
 *
 * Semantics ("max allowed" vs "required") follow go-sev-guest:
 *   - guest policy SMT / MIGRATE_MA / DEBUG / CXL_ALLOW: allowed only if the
 *     policy allows them (a report with the bit set is refused otherwise);
 *   - SINGLE_SOCKET / MEM_AES_256_XTS / RAPL_DIS / CIPHERTEXT_HIDING /
 *     PAGE_SWAP_DISABLE: required if the policy requires them;
 *   - platform SMT_EN / TSME_EN / TIO_EN: allowed-only; ECC_EN / RAPL_DIS /
 *     CIPHERTEXT_HIDING / ALIAS_CHECK_DONE: required.
 * Every set of accepted values is matched in constant time per element.
 *
 * Defaults (cp_snp_policy_init): guest policy checked with DEBUG,
 * MIGRATE_MA and CXL_ALLOW refused and SMT allowed; PLATFORM_INFO not
 * checked (when check_platform_info is turned on, the platform flags
 * default to "allow SMT/TSME/TIO, require nothing, refuse unknown bits");
 * VCEK and VLEK signatures accepted; provisional firmware permitted (real
 * Azure Milan hosts run with CURRENT_TCB != COMMITTED_TCB); no floors, no
 * exact values, no sets.  See docs/policy.md.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "confpool/error.h"
#include "confpool/snp_report.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CP_SNP_POLICY_VERSION 1

/* A set of accepted byte strings of one fixed width (e.g. 48-byte
 * measurements).  n == 0 means "no constraint". */
typedef struct cp_snp_bytes_set {
        size_t n;
        size_t width;
        uint8_t *items; /* n * width bytes, owned by the policy */
} cp_snp_bytes_set;

typedef struct cp_snp_policy {
        unsigned version; /* CP_SNP_POLICY_VERSION */

        /* Guest policy (GUEST_POLICY) */
        bool check_guest_policy;          /* false: no guest policy checks at all */
        uint8_t min_abi_major, min_abi_minor; /* report's policy ABI must be >= */
        bool allow_smt, allow_migrate_ma, allow_debug, allow_cxl;
        bool require_single_socket, require_mem_aes_256_xts, require_rapl_dis,
                require_ciphertext_hiding, require_page_swap_disable;

        /* Platform (PLATFORM_INFO) */
        bool check_platform_info;
        bool platform_allow_smt, platform_allow_tsme, platform_allow_tio;
        bool platform_require_ecc, platform_require_rapl_dis, platform_require_ciphertext_hiding,
                platform_require_alias_check;
        bool platform_allow_unknown_bits; /* refuse unknown PLATFORM_INFO bits unless set */

        /* Versions / TCB */
        uint32_t min_guest_svn;
        uint8_t min_build;                /* CURRENT_BUILD >= */
        uint8_t min_version_major, min_version_minor; /* CURRENT_MAJOR.MINOR >= */
        bool has_min_tcb;
        cp_snp_tcb min_tcb;               /* component-wise floor on CURRENT, COMMITTED and REPORTED TCB;
                                           * a non-zero fmc floor (has_fmc) fails Milan/Genoa reports,
                                           * which have no FMC component */
        bool has_min_launch_tcb;
        cp_snp_tcb min_launch_tcb;        /* component-wise floor on LAUNCH_TCB */
        bool permit_provisional_firmware; /* else COMMITTED must equal CURRENT (tcb and version) */

        /* Exact values (has_* = constrained) */
        bool has_report_data;   uint8_t report_data[64];
        bool has_host_data;     uint8_t host_data[32];
        bool has_family_id;     uint8_t family_id[16];
        bool has_image_id;      uint8_t image_id[16];
        bool has_report_id;     uint8_t report_id[32];
        bool has_report_id_ma;  uint8_t report_id_ma[32];
        bool has_chip_id;       uint8_t chip_id[64];
        bool has_vmpl;          uint32_t vmpl;

        /* Accepted sets */
        cp_snp_bytes_set measurements;     /* width 48 */
        cp_snp_bytes_set trusted_id_key_digests;     /* width 48: SHA-384 of the ID public key */
        cp_snp_bytes_set trusted_author_key_digests; /* width 48 */
        bool require_id_block;    /* ID_KEY_DIGEST must be non-zero (and trusted if a set is given) */
        bool require_author_key;  /* AUTHOR_KEY_EN must be set and AUTHOR_KEY_DIGEST non-zero; a
                                   * non-empty trusted_author_key_digests is only consulted when
                                   * AUTHOR_KEY_EN is set */

        /* Signing key */
        bool allow_vcek, allow_vlek;       /* default both true */
        bool has_generation;     cp_snp_generation generation; /* require this product line */

        /* Mitigation vectors (v5 reports; a v2/v3 report fails a non-zero minimum) */
        uint64_t min_launch_mit_vector;    /* every bit set here must be set in LAUNCH_MIT_VECTOR */
        uint64_t min_current_mit_vector;
} cp_snp_policy;

/* The default policy: no debug, no migration agent, no CXL, SMT allowed,
 * VCEK and VLEK allowed, everything else unconstrained.  Overwrites *p
 * without freeing it; the caller owns the sets (free with
 * cp_snp_policy_clear).  Set widths are initialised to 48. */
CP_API void cp_snp_policy_init(cp_snp_policy *p);
/* Free owned sets; leaves p re-initialised to the default policy. */
CP_API void cp_snp_policy_clear(cp_snp_policy *p);
/* Append to a set (copies).  width must equal s->width (an empty set with
 * width 0 adopts width).  CP_EINVAL on a width mismatch, CP_ETOOBIG beyond
 * CP_MAX_POLICY_SET items. */
CP_API CP_WUR int cp_snp_bytes_set_add(cp_snp_bytes_set *s, const uint8_t *item, size_t width);
/* true if item (s->width bytes) is in s; constant time in the item bytes
 * (every element is compared, no early exit). */
CP_API bool cp_snp_bytes_set_contains(const cp_snp_bytes_set *s, const uint8_t *item);
/* Semantic equality: every constraint equal (values behind a has_* flag
 * that is false, and min_tcb.fmc when !has_fmc, are ignored; sets compare
 * element by element in order). */
CP_API bool cp_snp_policy_equal(const cp_snp_policy *a, const cp_snp_policy *b);

/*
 * Validate a parsed report against p.  gen is the generation established by
 * the verifier (needed to decode TCB values).  Returns 0, or CP_EPOLICY with
 * a message naming the first violated constraint and the offending value.
 * CP_EINVAL for a malformed policy (wrong version, set width not 48).
 */
CP_API CP_WUR int cp_snp_policy_check(const cp_snp_policy *p, const cp_snp_report *r, cp_snp_generation gen);

/*
 * JSON form (documented in docs/policy.md).  Strict: malformed JSON,
 * duplicate keys, unknown keys, wrong types, out-of-range numbers, bad hex
 * lengths are CP_EFORMAT with the JSON path in the message; "version" other
 * than 1 is CP_EVERSION; a document above CP_MAX_POLICY_JSON bytes, nested
 * deeper than CP_MAX_JSON_DEPTH or a set above CP_MAX_POLICY_SET items is
 * CP_ETOOBIG.  Omitted keys keep the cp_snp_policy_init() defaults.  Keys
 * mirror the struct fields, e.g.
 *   {"version":1, "guest_policy":{"min_abi":"1.51","allow_debug":false,...},
 *    "min_tcb":{"bl":3,"tee":0,"snp":8,"ucode":115}, "measurements":["<96 hex>"], ...}
 * *ret is overwritten (not freed) on success only; free with
 * cp_snp_policy_clear.
 */
CP_API CP_WUR int cp_snp_policy_from_json(const char *json, size_t len, cp_snp_policy *ret);
/* Serialize to a malloc()ed NUL-terminated JSON string (every key present,
 * unconstrained values as null; cp_snp_policy_from_json() of the result is
 * cp_snp_policy_equal() to p).  Free with free(). */
CP_API CP_WUR int cp_snp_policy_to_json(const cp_snp_policy *p, char **ret);

#ifdef __cplusplus
}
#endif
#endif
