/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz the Key Vault release-policy parser and, for policies that parse,
 * the evaluator over a fixed claim set (and its canonical re-serialisation). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "confpool/keyrelease.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        cp_release_policy *p = NULL;
        char reason[CP_RELEASE_REASON_MAX];
        if (cp_release_policy_parse((const char *) data, size, &p) < 0)
                return 0;
        json_t *claims = json_pack("{s:s,s:b,s:i,s:{s:[{s:s,s:s,s:[s],s:s,s:s}],s:{s:b}},s:f}", "x-ms-attestation-type",
                                   "sevsnpvm", "x-ms-sevsnpvm-is-debuggable", 0, "x-ms-sevsnpvm-guestsvn", 10,
                                   "x-ms-runtime", "keys", "kid", "k", "kty", "RSA", "key_ops", "encrypt", "n", "AQAB", "e",
                                   "AQAB", "vm-configuration", "secure-boot", 1, "x", 1.5);
        for (size_t i = 0; i < cp_release_policy_n_authorities(p); i++) {
                int r = cp_release_policy_evaluate(p, cp_release_policy_authority(p, i), claims, reason, sizeof(reason));
                if (r != 0 && r != CP_EPOLICY)
                        abort();
                if (strlen(reason) >= sizeof(reason))
                        abort();
        }
        char *canon = NULL;
        if (cp_release_policy_to_json(p, &canon) < 0)
                abort();
        cp_release_policy *q = NULL;
        if (cp_release_policy_parse(canon, strlen(canon), &q) < 0)
                abort();
        cp_release_policy_free(q);
        free(canon);
        json_decref(claims);
        cp_release_policy_free(p);
        return 0;
}
