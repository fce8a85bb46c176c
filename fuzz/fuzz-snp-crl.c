/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz KDS CRL loading and checking against AMD's Milan ARK. */
#include <stddef.h>
#include <stdint.h>

#include "confpool/snp_cert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static cp_amd_trust *trust;
        cp_amd_crl *crl = NULL;

        if (!trust && cp_amd_trust_new_builtin(&trust) < 0)
                return 0;
        if (cp_amd_crl_load(data, size, &crl) == 0) {
                const cp_amd_cert *ark = cp_amd_trust_ark(trust, CP_SNP_GEN_MILAN);
                const cp_amd_cert *ask = cp_amd_trust_intermediate(trust, CP_SNP_GEN_MILAN, CP_AMD_CERT_ASK);
                int r = cp_amd_crl_check(crl, ark, ask, INT64_C(1748736000));
                (void) r;
                cp_amd_crl_free(crl);
        }
        return 0;
}
