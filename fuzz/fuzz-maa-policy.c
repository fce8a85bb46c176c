/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz the MAA policy parser and, for policies that parse, the evaluator
 * over a fixed SNP-like claim set. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "confpool/maa_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        cp_maa_policy *p = NULL;
        cp_maa_parse_error e;
        char h[44];
        if (cp_maa_policy_hash((const char *) data, size, h) == 0 && h[43] != '\0')
                abort();
        if (cp_maa_policy_parse((const char *) data, size, &p, &e) < 0) {
                if (e.line == 0 || e.column == 0)
                        abort();
                return 0;
        }
        cp_maa_claims *c = NULL, *out = NULL;
        if (cp_maa_claims_new(&c) < 0)
                abort();
        if (cp_maa_claims_add_string(c, "x-ms-attestation-type", NULL, "sevsnpvm") < 0 ||
            cp_maa_claims_add_bool(c, "x-ms-sevsnpvm-is-debuggable", NULL, false) < 0 ||
            cp_maa_claims_add_int(c, "x-ms-sevsnpvm-snpfw-svn", NULL, 8) < 0 ||
            cp_maa_claims_add_string(c, "a", NULL, "x") < 0 || cp_maa_claims_add_string(c, "a", NULL, "y") < 0 ||
            cp_maa_claims_add_int(c, "n", NULL, -3) < 0)
                abort();
        if (cp_maa_policy_evaluate(p, c, &out) == 0)
                cp_maa_claims_free(out);
        cp_maa_claims_free(c);
        cp_maa_policy_free(p);
        return 0;
}
