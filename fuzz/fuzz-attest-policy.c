/* SPDX-License-Identifier: Apache-2.0 */
/* A pool's attestation policy override (cp_attest_policy_parse): the
 * input is the "properties" JSON of a PUT.  What parses must serialise to
 * its canonical form and parse again to the same policy; the check runs
 * against a fixed set of claims with the parsed policy. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "controlplane/cp-nodes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same(const cp_attest_policy *a, const cp_attest_policy *b) {
        return a->n_measurements == b->n_measurements &&
               memcmp(a->measurements, b->measurements, a->n_measurements * 48) == 0 &&
               a->allow_debug == b->allow_debug && a->has_min_tcb == b->has_min_tcb &&
               a->min_tcb.bl == b->min_tcb.bl && a->min_tcb.tee == b->min_tcb.tee &&
               a->min_tcb.snp == b->min_tcb.snp && a->min_tcb.ucode == b->min_tcb.ucode &&
               a->has_host_data == b->has_host_data && memcmp(a->host_data, b->host_data, 32) == 0 &&
               a->require_eventlog_replay == b->require_eventlog_replay;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        json_t *j = json_loadb((const char *) data, size, JSON_REJECT_DUPLICATES, NULL);
        if (!j)
                return 0;
        cp_attest_policy p, q;
        cp_rule_error err;
        if (cp_attest_policy_parse(j, &p, &err) >= 0) {
                json_t *c = cp_attest_policy_to_json(&p);
                if (!c || cp_attest_policy_parse(c, &q, &err) < 0 || !same(&p, &q))
                        abort();
                json_decref(c);
                json_t *claims = json_pack("{s:s,s:s,s:b,s:i,s:i,s:i,s:i}", "x-confpool-evidence-type", "native",
                                           "x-ms-sevsnpvm-launchmeasurement",
                                           "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
                                           "202122232425262728292a2b2c2d2e2f",
                                           "x-ms-sevsnpvm-is-debuggable", 0, "x-ms-sevsnpvm-bootloader-svn", 4,
                                           "x-ms-sevsnpvm-tee-svn", 0, "x-ms-sevsnpvm-snpfw-svn", 22,
                                           "x-ms-sevsnpvm-microcode-svn", 213);
                char why[768];
                (void) cp_nodes_policy_check(claims, NULL, 0, NULL, &p, why, sizeof why);
                json_decref(claims);
        }
        cp_error_clear();
        json_decref(j);
        return 0;
}
