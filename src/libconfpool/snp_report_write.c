/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SEV-SNP ATTESTATION_REPORT serializer: the inverse of cp_snp_report_parse
 * (same layout, same per-version reserved ranges).  Used by the software
 * AMD-SP to build reports and by tests to round-trip real ones.
 */
#include <string.h>

#include "confpool/snp_report.h"

typedef struct writer {
        uint8_t *p;
        size_t off;
} writer;

static void w_le(writer *w, uint64_t v, size_t n) {
        for (size_t i = 0; i < n; i++)
                w->p[w->off + i] = (uint8_t) (v >> (8 * i));
        w->off += n;
}

static void w_bytes(writer *w, const void *src, size_t n) {
        memcpy(w->p + w->off, src, n);
        w->off += n;
}

static void w_zero(writer *w, size_t n) {
        memset(w->p + w->off, 0, n);
        w->off += n;
}

int cp_snp_report_serialize(const cp_snp_report *r, uint8_t out[CP_SNP_REPORT_SIZE]) {
        if (!r || !out)
                return CP_ERROR(CP_EINVAL, "cp_snp_report_serialize: NULL argument");
        if (r->version < CP_SNP_REPORT_MIN_VERSION || r->version > CP_SNP_REPORT_MAX_VERSION)
                return CP_ERROR(CP_EVERSION, "cp_snp_report_serialize: version %u not in %u..%u", r->version,
                                CP_SNP_REPORT_MIN_VERSION, CP_SNP_REPORT_MAX_VERSION);
        if (r->signing_key != CP_SNP_SIGNING_KEY_VCEK && r->signing_key != CP_SNP_SIGNING_KEY_VLEK &&
            r->signing_key != CP_SNP_SIGNING_KEY_NONE)
                return CP_ERROR(CP_EINVAL, "cp_snp_report_serialize: SIGNING_KEY %u is reserved", r->signing_key);

        uint8_t buf[CP_SNP_REPORT_SIZE];
        writer w = { .p = buf, .off = 0 };
        uint32_t signer = (r->author_key_en ? 1u : 0u) | (r->mask_chip_key ? 2u : 0u) |
                          ((uint32_t) r->signing_key << 2);

        w_le(&w, r->version, 4);
        w_le(&w, r->guest_svn, 4);
        w_le(&w, r->policy, 8);
        w_bytes(&w, r->family_id, 16);
        w_bytes(&w, r->image_id, 16);
        w_le(&w, r->vmpl, 4);
        w_le(&w, r->signature_algo, 4);
        w_le(&w, r->current_tcb, 8);
        w_le(&w, r->platform_info, 8);
        w_le(&w, signer, 4);
        w_zero(&w, 4);
        w_bytes(&w, r->report_data, 64);
        w_bytes(&w, r->measurement, 48);
        w_bytes(&w, r->host_data, 32);
        w_bytes(&w, r->id_key_digest, 48);
        w_bytes(&w, r->author_key_digest, 48);
        w_bytes(&w, r->report_id, 32);
        w_bytes(&w, r->report_id_ma, 32);
        w_le(&w, r->reported_tcb, 8);
        if (r->version >= 3) {
                w_le(&w, r->cpuid_fam_id, 1);
                w_le(&w, r->cpuid_mod_id, 1);
                w_le(&w, r->cpuid_step, 1);
                w_zero(&w, 0x1a0 - 0x18b);
        } else
                w_zero(&w, 0x1a0 - 0x188);
        w_bytes(&w, r->chip_id, 64);
        w_le(&w, r->committed_tcb, 8);
        w_le(&w, r->current_build, 1);
        w_le(&w, r->current_minor, 1);
        w_le(&w, r->current_major, 1);
        w_zero(&w, 1);
        w_le(&w, r->committed_build, 1);
        w_le(&w, r->committed_minor, 1);
        w_le(&w, r->committed_major, 1);
        w_zero(&w, 1);
        w_le(&w, r->launch_tcb, 8);
        if (r->version >= 5) {
                w_le(&w, r->launch_mit_vector, 8);
                w_le(&w, r->current_mit_vector, 8);
                w_zero(&w, CP_SNP_REPORT_SIGNED_SIZE - 0x208);
        } else
                w_zero(&w, CP_SNP_REPORT_SIGNED_SIZE - 0x1f8);
        if (w.off != CP_SNP_REPORT_SIGNED_SIZE)
                return CP_ERROR(CP_EINTERNAL, "cp_snp_report_serialize: body ends at 0x%zx", w.off);

        /* Signature area: R and S keep their 48 significant bytes, the rest is
         * zero; an unsigned report (SIGNING_KEY none / MASK_CHIP_KEY) gets an
         * all-zero area as the firmware writes it. */
        if (cp_snp_report_has_signature(r)) {
                w_bytes(&w, r->signature_r, 48);
                w_zero(&w, 24);
                w_bytes(&w, r->signature_s, 48);
                w_zero(&w, 24);
        }
        w_zero(&w, CP_SNP_REPORT_SIZE - w.off);
        memcpy(out, buf, sizeof(buf));
        return 0;
}
