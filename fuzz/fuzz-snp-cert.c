/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz AMD certificate loading (DER or PEM), chain bundles, and the chain
 * verifier on whatever loads. */
#include <stddef.h>
#include <stdint.h>

#include "confpool/snp_cert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static cp_amd_trust *trust;
        cp_amd_cert *c = NULL, *certs[4] = { NULL };
        size_t n = 0;

        if (!trust && cp_amd_trust_new_builtin(&trust) < 0)
                return 0;

        if (cp_amd_cert_load(data, size, &c) == 0) {
                const cp_amd_cert_info *i = cp_amd_cert_info_get(c);
                uint8_t x[48], y[48];
                size_t dl;
                (void) cp_amd_cert_der(c, &dl);
                if (i->kind == CP_AMD_CERT_VCEK || i->kind == CP_AMD_CERT_VLEK) {
                        int pr = cp_amd_cert_p384_pubkey(c, x, y);
                        (void) pr;
                        int r = cp_amd_verify_chain(trust, c, NULL, INT64_C(1748736000), NULL);
                        (void) r;
                }
                cp_amd_cert_free(c);
        }
        if (cp_amd_cert_load_bundle(data, size, certs, 4, &n) == 0) {
                if (n >= 2) {
                        int r = cp_amd_verify_chain(trust, certs[0], certs[1], INT64_C(1748736000), NULL);
                        (void) r;
                }
                for (size_t i = 0; i < n; i++)
                        cp_amd_cert_free(certs[i]);
        }
        return 0;
}
