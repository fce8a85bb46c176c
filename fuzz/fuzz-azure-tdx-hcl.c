/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: an Azure TDX HCL report (issue 16): cp_tdx_azure_hcl_check
 * (HCL report parse, TDREPORT parse, its TEE_TCB_INFO / TDINFO hashes, the
 * runtime-data binding, the field-by-field match with a quote body).
 * Oracles: only the parsers' error codes; an accepted version-2 report is
 * exactly what cp_hcl_report_write lays out from its parts (the software
 * paravisor writes nothing a parser reads differently); an accepted report
 * matches its own TDREPORT's body and no body differing in REPORTDATA.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "confpool/azure.h"
#include "confpool/tdx_verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        cp_hcl_report h;
        cp_tdx_tdreport t;
        int k = cp_tdx_azure_hcl_check(data, size, NULL, &h, &t);
        if (k < 0) {
                if (k != CP_ETRUNC && k != CP_EFORMAT && k != CP_EVERSION && k != CP_EUNSUPPORTED && k != CP_EMBZ &&
                    k != CP_ETRAILING && k != CP_ETOOBIG && k != CP_EBINDING && k != CP_EINVAL)
                        abort();
                cp_error_clear();
                return 0;
        }
        if (h.report_type != CP_HCL_REPORT_TDX || h.hw_report != data + CP_HCL_HW_REPORT_OFFSET ||
            h.runtime_data != data + CP_HCL_VARIABLE_DATA_OFFSET)
                abort();
        if (h.version == 2) {
                uint8_t *out = NULL;
                size_t ol = 0;
                if (cp_hcl_report_write(h.request_type, h.report_type, h.hash_type, h.hw_report, h.hw_report_len,
                                        h.runtime_data, h.runtime_data_len, size, &out, &ol) < 0 ||
                    ol != size || memcmp(out, data, size) != 0)
                        abort();
                free(out);
        }
        if (cp_tdx_azure_hcl_check(data, size, &t.body, NULL, NULL) < 0)
                abort();
        cp_tdx_body other = t.body;
        other.report_data[63] ^= 1;
        if (cp_tdx_azure_hcl_check(data, size, &other, NULL, NULL) != CP_EBINDING)
                abort();
        cp_error_clear();
        return 0;
}
