/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SEV-SNP ATTESTATION_REPORT serializer: the inverse of cp_snp_report_parse
 * (same layout, same per-version reserved ranges).  Used by the software
 * AMD-SP to build reports and by tests to round-trip real ones.
 */
#include <string.h>

#include "basic/cursor.h"
#include "confpool/snp_report.h"

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
        cp_writer w = cp_writer_make(buf, sizeof(buf));
        uint32_t signer = (r->author_key_en ? 1u : 0u) | (r->mask_chip_key ? 2u : 0u) |
                          ((uint32_t) r->signing_key << 2);
        int k;

        /* 0x000-0x04F */
        if ((k = cp_writer_le32(&w, r->version)) < 0 || (k = cp_writer_le32(&w, r->guest_svn)) < 0 ||
            (k = cp_writer_le64(&w, r->policy)) < 0 || (k = cp_writer_bytes(&w, r->family_id, 16)) < 0 ||
            (k = cp_writer_bytes(&w, r->image_id, 16)) < 0 || (k = cp_writer_le32(&w, r->vmpl)) < 0 ||
            (k = cp_writer_le32(&w, r->signature_algo)) < 0 || (k = cp_writer_le64(&w, r->current_tcb)) < 0 ||
            (k = cp_writer_le64(&w, r->platform_info)) < 0 || (k = cp_writer_le32(&w, signer)) < 0 ||
            (k = cp_writer_zeros(&w, 4)) < 0)
                return k;
        /* 0x050-0x187 */
        if ((k = cp_writer_bytes(&w, r->report_data, 64)) < 0 || (k = cp_writer_bytes(&w, r->measurement, 48)) < 0 ||
            (k = cp_writer_bytes(&w, r->host_data, 32)) < 0 || (k = cp_writer_bytes(&w, r->id_key_digest, 48)) < 0 ||
            (k = cp_writer_bytes(&w, r->author_key_digest, 48)) < 0 ||
            (k = cp_writer_bytes(&w, r->report_id, 32)) < 0 || (k = cp_writer_bytes(&w, r->report_id_ma, 32)) < 0 ||
            (k = cp_writer_le64(&w, r->reported_tcb)) < 0)
                return k;
        /* 0x188-0x19F */
        if (r->version >= 3) {
                if ((k = cp_writer_u8(&w, r->cpuid_fam_id)) < 0 || (k = cp_writer_u8(&w, r->cpuid_mod_id)) < 0 ||
                    (k = cp_writer_u8(&w, r->cpuid_step)) < 0 || (k = cp_writer_zeros(&w, 0x1a0 - 0x18b)) < 0)
                        return k;
        } else if ((k = cp_writer_zeros(&w, 0x1a0 - 0x188)) < 0)
                return k;
        /* 0x1A0-0x1F7 */
        if ((k = cp_writer_bytes(&w, r->chip_id, 64)) < 0 || (k = cp_writer_le64(&w, r->committed_tcb)) < 0 ||
            (k = cp_writer_u8(&w, r->current_build)) < 0 || (k = cp_writer_u8(&w, r->current_minor)) < 0 ||
            (k = cp_writer_u8(&w, r->current_major)) < 0 || (k = cp_writer_zeros(&w, 1)) < 0 ||
            (k = cp_writer_u8(&w, r->committed_build)) < 0 || (k = cp_writer_u8(&w, r->committed_minor)) < 0 ||
            (k = cp_writer_u8(&w, r->committed_major)) < 0 || (k = cp_writer_zeros(&w, 1)) < 0 ||
            (k = cp_writer_le64(&w, r->launch_tcb)) < 0)
                return k;
        /* 0x1F8-0x29F */
        if (r->version >= 5) {
                if ((k = cp_writer_le64(&w, r->launch_mit_vector)) < 0 ||
                    (k = cp_writer_le64(&w, r->current_mit_vector)) < 0 ||
                    (k = cp_writer_zeros(&w, CP_SNP_REPORT_SIGNED_SIZE - 0x208)) < 0)
                        return k;
        } else if ((k = cp_writer_zeros(&w, CP_SNP_REPORT_SIGNED_SIZE - 0x1f8)) < 0)
                return k;
        if (cp_writer_offset(&w) != CP_SNP_REPORT_SIGNED_SIZE)
                return CP_ERROR(CP_EINTERNAL, "cp_snp_report_serialize: body ends at 0x%zx", cp_writer_offset(&w));

        /* Signature area: R and S keep their 48 significant bytes, the rest is
         * zero; an unsigned report (SIGNING_KEY none / MASK_CHIP_KEY) gets an
         * all-zero area as the firmware writes it. */
        if (cp_snp_report_has_signature(r) &&
            ((k = cp_writer_bytes(&w, r->signature_r, 48)) < 0 || (k = cp_writer_zeros(&w, 24)) < 0 ||
             (k = cp_writer_bytes(&w, r->signature_s, 48)) < 0 || (k = cp_writer_zeros(&w, 24)) < 0))
                return k;
        if ((k = cp_writer_zeros(&w, CP_SNP_REPORT_SIZE - cp_writer_offset(&w))) < 0)
                return k;
        memcpy(out, buf, sizeof(buf));
        return 0;
}
