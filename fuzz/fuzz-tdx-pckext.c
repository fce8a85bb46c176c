/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: Intel's SGX extension of a PCK certificate (the DER value of
 * OID 1.2.840.113741.1.13.1), parsed with OpenSSL's ASN.1 decoders. */
#include <stdint.h>
#include <stdlib.h>

#include "confpool/tdx_verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        cp_tdx_pck_ext e;
        int k = cp_tdx_pck_ext_parse(data, size, &e);
        if (k < 0 && k != CP_EFORMAT && k != CP_EINVAL)
                abort();
        if (k == 0 && (e.sgx_type < 0 || e.sgx_type > 255))
                abort();
        return 0;
}
