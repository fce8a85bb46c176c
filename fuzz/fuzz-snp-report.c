/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: cp_snp_report_parse (with and without ALLOW_NEWER) and the
 * TCB_VERSION decoder on every TCB field of an accepted report. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "confpool/snp_report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_tcb(uint64_t raw) {
        for (int g = CP_SNP_GEN_UNKNOWN; g < _CP_SNP_GEN_MAX; g++) {
                cp_snp_tcb t;
                if (cp_snp_tcb_decode(raw, (cp_snp_generation) g, &t) < 0)
                        continue;
                /* decode is the inverse of encode */
                if (cp_snp_tcb_encode(&t, (cp_snp_generation) g) != raw)
                        abort();
                if (!cp_snp_tcb_ge(&t, &t))
                        abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static cp_snp_report r;

        for (unsigned flags = 0; flags <= CP_SNP_PARSE_ALLOW_NEWER; flags += CP_SNP_PARSE_ALLOW_NEWER) {
                int k = cp_snp_report_parse(data, size, flags, &r);
                if (k < 0) {
                        if (k != CP_ETRUNC && k != CP_ETRAILING && k != CP_EVERSION && k != CP_EMBZ && k != CP_EFORMAT)
                                abort();
                        continue;
                }
                if (size != CP_SNP_REPORT_SIZE || memcmp(r.raw, data, size) != 0)
                        abort();
                if (r.version < CP_SNP_REPORT_MIN_VERSION ||
                    (r.version > CP_SNP_REPORT_MAX_VERSION && !(flags & CP_SNP_PARSE_ALLOW_NEWER)))
                        abort();
                if (r.has_cpuid != (r.version >= 3) || r.has_mit_vectors != (r.version >= 5))
                        abort();
                if (r.unknown_platform_info_bits & CP_SNP_PLATFORM_KNOWN_MASK)
                        abort();
                (void) cp_snp_report_has_signature(&r);
                (void) cp_snp_generation_name(r.cpuid_generation);
                check_tcb(r.current_tcb);
                check_tcb(r.reported_tcb);
                check_tcb(r.committed_tcb);
                check_tcb(r.launch_tcb);
        }

        /* the report body's first 8 bytes as a TCB value, for any input */
        if (size >= 8) {
                uint64_t v = 0;
                for (unsigned i = 0; i < 8; i++)
                        v |= (uint64_t) data[i] << (8 * i);
                check_tcb(v);
        }
        return 0;
}
