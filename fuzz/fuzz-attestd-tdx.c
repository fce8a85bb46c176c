/* SPDX-License-Identifier: Apache-2.0 */
/* confpool-attestd's POST /attest/TdxVm (issue 16) in-process, with a real
 * software TDX platform behind it: attestd trusts the platform's emulated
 * root and fetches collateral from its PCS on loopback (once: the cache).
 * The input is the request body, in which every "@Q@" is replaced by the
 * base64url of a fresh valid quote (REPORTDATA = SHA-256 of the text
 * between two "@R@" markers, which are cut from the body, when present;
 * else 64 x 0x5a) so that mutations
 * reach past the quote's verification into the binding, the vTPM members
 * and the claims; raw bytes exercise the parsers.  Every response is well
 * formed; no input is a 5xx except an unreachable PCS (never here). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "attestd/attestd.h"
#include "basic/codec.h"
#include "emu/tdx_emu.h"
#include "fuzz-request.h"
#include "service/httpd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cp_attestd *svc;
static cp_tdx_pcs *pcs;
static cp_tdx_host *host;
static cp_tdx_td *td;
static cp_httpd *pcs_httpd;

static void init(void) {
        char *root = NULL, url[64];
        size_t root_len = 0;
        if (cp_tdx_pcs_new(NULL, &pcs) < 0 || cp_tdx_pcs_start(pcs, "127.0.0.1", 0, &pcs_httpd) < 0 ||
            cp_tdx_host_new(pcs, NULL, &host) < 0 || cp_tdx_pcs_root_pem(pcs, &root, &root_len) < 0 ||
            cp_tdx_host_launch(host, &(cp_tdx_td_params){ .attributes = 1ull << 28 }, NULL, 0,
                               CP_TDX_ORDER_SINGLE_PASS, &td) < 0)
                abort();
        snprintf(url, sizeof(url), "http://127.0.0.1:%u", cp_httpd_port(pcs_httpd));
        cp_attestd_config cfg = { .quiet = true, .issuer = "https://attestd.fuzz", .threads = 1,
                                  .tdx_trust_root = (const uint8_t *) root, .tdx_trust_root_len = root_len,
                                  .tdx_pcs_url = url, .tdx_collateral_max_age_s = 3600 };
        if (cp_attestd_new(&cfg, &svc) < 0)
                abort();
        free(root);
}

/* body with each @Q@ replaced (malloc()ed, NUL-terminated) */
static char *expand(const uint8_t *data, size_t size, size_t *ret_len) {
        uint8_t rd[64], rep[CP_TDX_TDREPORT_SIZE];
        memset(rd, 0x5a, sizeof(rd));
        const uint8_t *r0 = memmem(data, size, "@R@", 3);
        const uint8_t *r1 = r0 ? memmem(r0 + 3, size - (size_t) (r0 + 3 - data), "@R@", 3) : NULL;
        if (r1) {
                memset(rd, 0, sizeof(rd));
                SHA256(r0 + 3, (size_t) (r1 - r0 - 3), rd);
        }
        uint8_t *q = NULL;
        size_t ql = 0;
        if (cp_tdx_td_report(td, rd, rep) < 0 || cp_tdx_host_quote(host, rep, &q, &ql) < 0)
                abort();
        char *qb = malloc(cp_b64_encoded_len(ql, CP_B64_URL) + 1);
        cp_b64_encode(q, ql, CP_B64_URL, qb);
        free(q);
        size_t qbl = strlen(qb), cap = size + 1, n = 0;
        for (size_t i = 0; i + 3 <= size; i++)
                if (memcmp(data + i, "@Q@", 3) == 0)
                        cap += qbl;
        char *out = malloc(cap);
        for (size_t i = 0; i < size;) {
                if (r1 && data + i == r0) { /* the REPORTDATA text is not part of the body */
                        i = (size_t) (r1 + 3 - data);
                        continue;
                }
                if (i + 3 <= size && memcmp(data + i, "@Q@", 3) == 0) {
                        memcpy(out + n, qb, qbl);
                        n += qbl;
                        i += 3;
                } else
                        out[n++] = (char) data[i++];
        }
        out[n] = '\0';
        free(qb);
        *ret_len = n;
        return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (!svc)
                init();
        if (size > 256 * 1024)
                return 0;
        size_t len = 0;
        char *body = expand(data, size, &len);
        cp_http_pair hdrs[1] = { { "Content-Type", "application/json" } };
        cp_http_pair query[1] = { { "api-version", "2022-08-01" } };
        cp_http_request rq = { .method = "POST", .path = "/attest/TdxVm", .headers = hdrs, .n_headers = 1,
                               .query = query, .n_query = 1, .body = len ? (const uint8_t *) body : NULL,
                               .body_len = len, .remote_addr = "127.0.0.1" };
        cp_http_response r = { 0 };
        cp_attestd_handle(svc, &rq, &r);
        fuzz_response_check(&r, NULL, false);
        if (getenv("FUZZ_VERBOSE")) /* what the corpus reaches: status and the start of the answer */
                fprintf(stderr, "%u %.120s\n", r.status, r.body ? (const char *) r.body : "");
        cp_http_resp_clear(&r);
        cp_error_clear();
        free(body);
        return 0;
}
