/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz the Azure HCL report parser, the binding check and the runtime data
 * it carries. */
#include <stddef.h>
#include <stdint.h>

#include "confpool/azure.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile int sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        cp_hcl_report r;
        cp_azure_runtime_data *rd = NULL;

        if (cp_hcl_report_parse(data, size, &r) < 0)
                return 0;
        (void) cp_hcl_report_type_name(r.report_type);
        sink = cp_hcl_report_check_binding(&r);
        if (cp_azure_runtime_data_parse(r.runtime_data, r.runtime_data_len, &rd) == 0) {
                const uint8_t *ud;
                size_t ud_len;
                (void) cp_azure_runtime_data_ak(rd);
                if (cp_azure_runtime_data_user_data(rd, &ud, &ud_len) == 0)
                        sink = cp_azure_runtime_data_check_user_data(rd, r.report_data, 32);
                rd = cp_azure_runtime_data_free(rd);
        }
        return 0;
}
