/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: TCB Info as Intel's PCS returns it: the signed-member split
 * (the signed bytes must lie inside the input), the TCB Info v3 parser, and
 * QVL's TCB level matching of a parsed TCB Info against fixed platform
 * values (a parsed QE identity with one UpToDate level). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libconfpool/tdx-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static tdx_tcb_info ti;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const uint8_t *body;
        size_t len;
        uint8_t sig[64];
        if (tdx_signed_json_split(data, size, "tcbInfo", &body, &len, sig) == 0) {
                if (body < data || len > size || (size_t) (body - data) > size - len || len == 0 || body[0] != '{')
                        abort();
        } else {
                body = data;
                len = size;
        }
        int k = tdx_tcb_info_parse(body, len, &ti);
        if (k < 0) {
                if (k != CP_EFORMAT && k != CP_EVERSION && k != CP_ETOOBIG)
                        abort();
                return 0;
        }
        if (ti.n_levels == 0 || ti.n_levels > CP_TDX_MAX_LEVELS || ti.n_modules > CP_TDX_MAX_MODULES)
                abort();
        static tdx_qe_identity qi;
        static cp_tdx_quote q;
        static cp_tdx_pck_ext pck;
        static cp_tdx_verify_result r;
        memset(&qi, 0, sizeof(qi));
        qi.n_levels = 1;
        qi.levels[0].status = CP_TDX_TCB_UP_TO_DATE;
        q.cert.has_qe_report = true;
        for (unsigned svn = 0; svn < 3; svn++) {
                memset(q.body.tee_tcb_svn, svn * 5, 16);
                q.body.tee_tcb_svn[1] = (uint8_t) svn;
                memset(pck.tcb_comp, svn * 7, 16);
                pck.pcesvn = (uint16_t) (svn * 6);
                if (tdx_tcb_evaluate(&ti, &qi, &q, &pck, &r) == 0 &&
                    (r.tcb_status <= CP_TDX_TCB_UNKNOWN || r.tcb_status >= _CP_TDX_TCB_MAX ||
                     r.n_advisories > CP_TDX_MAX_ADVISORIES))
                        abort();
        }
        return 0;
}
