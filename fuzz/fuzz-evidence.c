/* SPDX-License-Identifier: Apache-2.0 */
/* Evidence-file detection (bare / extended / HCL) and, when it parses,
 * the full verifier with AMD's built-in roots: nothing may crash or leak,
 * whatever the bytes. */
#include <stdlib.h>

#include "confpool/snp_verify.h"
#include "cli/evidence.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static cp_snp_verifier *v;
        static cp_snp_verify_result res;
        if (!v && cp_snp_verifier_new(NULL, &v) < 0)
                abort();
        cp_evidence_file ev;
        if (cp_evidence_parse(data, size, &ev) < 0)
                return 0;
        cp_snp_report rep;
        int parsed = cp_snp_report_parse(ev.snp.report, ev.snp.report_len, 0, &rep);
        if (parsed == 0 && cp_evidence_check_binding(&ev, &rep) > 0)
                abort();
        int r = cp_snp_verify(v, &ev.snp, NULL, &res);
        /* results are 0 or a negative cp_err; a verified report must parse */
        if (r > 0 || (r == 0 && parsed != 0))
                abort();
        return 0;
}
