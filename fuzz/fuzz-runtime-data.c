/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz the Azure runtime-data JSON parser and its accessors. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "basic/limits.h"
#include "confpool/azure.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile int sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        cp_azure_runtime_data *rd = NULL;
        const uint8_t *n, *e, *ud;
        size_t n_len, e_len, ud_len;
        static const uint8_t zeros[64];

        int k = cp_azure_runtime_data_parse(data, size, &rd);
        /* parsing the same document from its tree gives the same outcome */
        json_error_t jerr;
        json_t *root = size <= CP_MAX_RUNTIME_DATA
                               ? json_loadb((const char *) data, size, JSON_REJECT_DUPLICATES, &jerr)
                               : NULL;
        if (root) {
                cp_azure_runtime_data *rt = NULL;
                if (cp_azure_runtime_data_from_json(root, &rt) != k)
                        abort();
                cp_azure_runtime_data_free(rt);
                json_decref(root);
        }
        if (k < 0)
                return 0;
        (void) cp_azure_runtime_data_ak(rd);
        (void) cp_azure_runtime_data_ek(rd);
        cp_azure_runtime_data_ak_rsa(rd, &n, &n_len, &e, &e_len);
        (void) cp_azure_runtime_data_ak_can_sign(rd);
        const cp_azure_vm_config *vm = cp_azure_runtime_data_vm_config(rd);
        if (vm && vm->vm_unique_id)
                (void) vm->vm_unique_id[0];
        if (cp_azure_runtime_data_user_data(rd, &ud, &ud_len) == 0)
                sink = cp_azure_runtime_data_check_user_data(rd, zeros, ud_len);
        cp_azure_runtime_data_free(rd);
        return 0;
}
