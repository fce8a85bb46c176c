/* SPDX-License-Identifier: Apache-2.0 */
/* confpool-attestd's request router end to end, in-process (no socket):
 * every route (attest, challenge, policies, certs, openid configuration,
 * metrics, health), their path parameters, query (api-version) and request
 * bodies, which go through the plain-JSON fast path (json-plain.h) and the
 * MAA request parsers.  Input: fuzz-request.h; selector bit 0 sends the
 * admin bearer token (policy management), bit 1 a wrong one.  Every
 * response is well formed (fuzz_response_check); no input is a 5xx. */
#include <stdint.h>
#include <stdlib.h>

#include "attestd/attestd.h"
#include "fuzz-request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cp_attestd *svc;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (!svc) {
                cp_attestd_config cfg = { .now = 1748736000, .quiet = true, .admin_token = "fuzz-admin-token",
                                          .issuer = "https://attestd.fuzz", .threads = 1 };
                if (cp_attestd_new(&cfg, &svc) < 0)
                        abort();
        }
        fuzz_request f;
        if (!fuzz_request_parse(data, size, &f))
                return 0;
        cp_http_pair hdrs[2] = { { "Content-Type", "application/json" } };
        f.rq.headers = hdrs;
        f.rq.n_headers = 1;
        if (f.selector & 3)
                hdrs[f.rq.n_headers++] = (cp_http_pair){ "Authorization", (f.selector & 1) ? "Bearer fuzz-admin-token"
                                                                                            : "Bearer wrong" };
        cp_http_response r = { 0 };
        cp_attestd_handle(svc, &f.rq, &r);
        fuzz_response_check(&r, NULL, false);
        cp_http_resp_clear(&r);
        cp_error_clear();
        fuzz_request_free(&f);
        return 0;
}
