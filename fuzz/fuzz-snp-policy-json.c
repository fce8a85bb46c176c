/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz cp_snp_policy_from_json().  Whatever parses must serialise, re-parse
 * to an equal policy and serialise to the identical document; the parsed
 * policy is then run against fixed Milan and Turin reports (and one shaped
 * after the policy itself so that the later checks are reached).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "confpool/snp_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void base_report(cp_snp_report *r, cp_snp_generation gen) {
        memset(r, 0, sizeof(*r));
        r->version = gen == CP_SNP_GEN_TURIN ? 5 : 3;
        r->guest_svn = 10;
        r->policy = 0x3001f;
        r->signature_algo = 1;
        r->platform_info = gen == CP_SNP_GEN_TURIN ? 0x67 : 0x1;
        r->signing_key = CP_SNP_SIGNING_KEY_VCEK;
        r->current_tcb = r->reported_tcb = r->committed_tcb = r->launch_tcb =
                gen == CP_SNP_GEN_TURIN ? UINT64_C(0x4700000002000103) : UINT64_C(0x7308000000000003);
        r->current_build = r->committed_build = 29;
        r->current_minor = r->committed_minor = 55;
        r->current_major = r->committed_major = 1;
        r->has_mit_vectors = gen == CP_SNP_GEN_TURIN;
        memset(r->measurement, 0x11, sizeof(r->measurement));
        memset(r->id_key_digest, 0x22, sizeof(r->id_key_digest));
}

/* A report that satisfies the value constraints of p, so the check gets
 * past them to the sets, ID block and mitigation vectors. */
static void shaped_report(cp_snp_report *r, const cp_snp_policy *p) {
        base_report(r, CP_SNP_GEN_MILAN);
#define COPY(f)                                                   \
        do {                                                      \
                if (p->has_##f)                                   \
                        memcpy(r->f, p->f, sizeof(r->f));         \
        } while (0)
        COPY(report_data);
        COPY(host_data);
        COPY(family_id);
        COPY(image_id);
        COPY(report_id);
        COPY(report_id_ma);
        COPY(chip_id);
#undef COPY
        if (p->has_vmpl)
                r->vmpl = p->vmpl;
        r->guest_svn = p->min_guest_svn;
        r->current_build = r->committed_build = p->min_build;
        r->current_major = r->committed_major = p->min_version_major;
        r->current_minor = r->committed_minor = p->min_version_minor;
        if (p->measurements.n > 0)
                memcpy(r->measurement, p->measurements.items, sizeof(r->measurement));
        if (p->trusted_id_key_digests.n > 0)
                memcpy(r->id_key_digest, p->trusted_id_key_digests.items, sizeof(r->id_key_digest));
        if (p->trusted_author_key_digests.n > 0) {
                r->author_key_en = true;
                memcpy(r->author_key_digest, p->trusted_author_key_digests.items, sizeof(r->author_key_digest));
        }
        r->signing_key = p->allow_vcek ? CP_SNP_SIGNING_KEY_VCEK : CP_SNP_SIGNING_KEY_VLEK;
        r->has_mit_vectors = true;
        r->launch_mit_vector = p->min_launch_mit_vector;
        r->current_mit_vector = p->min_current_mit_vector;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        cp_snp_policy p, q;
        cp_snp_report r;
        char *s = NULL, *s2 = NULL;

        if (cp_snp_policy_from_json((const char *) data, size, &p) < 0)
                return 0;

        if (cp_snp_policy_to_json(&p, &s) < 0)
                abort();
        if (cp_snp_policy_from_json(s, strlen(s), &q) < 0)
                abort();
        if (!cp_snp_policy_equal(&p, &q))
                abort();
        if (cp_snp_policy_to_json(&q, &s2) < 0 || strcmp(s, s2) != 0)
                abort();

        static const cp_snp_generation gens[] = { CP_SNP_GEN_MILAN, CP_SNP_GEN_GENOA, CP_SNP_GEN_TURIN,
                                                  CP_SNP_GEN_UNKNOWN };
        for (size_t i = 0; i < sizeof(gens) / sizeof(gens[0]); i++) {
                base_report(&r, gens[i]);
                int k = cp_snp_policy_check(&p, &r, gens[i]);
                if (k != 0 && k != CP_EPOLICY)
                        abort();
        }
        shaped_report(&r, &p);
        int k = cp_snp_policy_check(&p, &r, p.has_generation ? p.generation : CP_SNP_GEN_MILAN);
        if (k != 0 && k != CP_EPOLICY)
                abort();

        free(s);
        free(s2);
        cp_snp_policy_clear(&p);
        cp_snp_policy_clear(&q);
        return 0;
}
