/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: QE Identity (id "TD_QE") as Intel's PCS returns it: the
 * signed-member split and the identity parser. */
#include <stdint.h>
#include <stdlib.h>

#include "libconfpool/tdx-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static tdx_qe_identity qi;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const uint8_t *body;
        size_t len;
        uint8_t sig[64];
        if (tdx_signed_json_split(data, size, "enclaveIdentity", &body, &len, sig) == 0) {
                if (body < data || len > size || (size_t) (body - data) > size - len || len == 0 || body[0] != '{')
                        abort();
        } else {
                body = data;
                len = size;
        }
        int k = tdx_qe_identity_parse(body, len, &qi);
        if (k < 0 && k != CP_EFORMAT && k != CP_EVERSION && k != CP_ETOOBIG)
                abort();
        if (k == 0 && (qi.n_levels == 0 || qi.n_levels > CP_TDX_MAX_LEVELS))
                abort();
        return 0;
}
