/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: cp_tdx_quote_parse (lenient and strict) and, on a parsed
 * quote, the invariants the verifier relies on: every borrowed pointer lies
 * inside the input, the signed part is the header and body, and a strict
 * parse accepts exactly the lenient parses without trailing bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "confpool/tdx_quote.h"
#include "confpool/tdx_verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inside(const uint8_t *data, size_t size, const uint8_t *p, size_t n) {
        if (!p || p < data || n > size || (size_t) (p - data) > size - n)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        cp_tdx_quote q, s;
        int k = cp_tdx_quote_parse(data, size, 0, &q);
        int ks = cp_tdx_quote_parse(data, size, CP_TDX_PARSE_STRICT, &s);
        if (k < 0) {
                if (k != CP_ETRUNC && k != CP_ETRAILING && k != CP_EVERSION && k != CP_EFORMAT && k != CP_ETOOBIG)
                        abort();
                if (ks >= 0)
                        abort();
                return 0;
        }
        if ((ks == 0) != (q.trailing_len == 0) || (ks < 0 && ks != CP_ETRAILING))
                abort();
        if (q.version != 4 && q.version != 5)
                abort();
        if (q.quote_len + q.trailing_len != size)
                abort();
        if (q.signed_len != (q.version == 4 ? 48u + CP_TDX_BODY_10_SIZE
                                            : 54u + (q.body.has_15 ? CP_TDX_BODY_15_SIZE : CP_TDX_BODY_10_SIZE)))
                abort();
        inside(data, size, q.signature, 64);
        inside(data, size, q.attest_key, 64);
        inside(data, size, q.cert.pck_chain, q.cert.pck_chain_len);
        if (q.cert.has_qe_report) {
                inside(data, size, q.cert.qe_report_raw, CP_TDX_SGX_REPORT_SIZE);
                inside(data, size, q.cert.qe_report_sig, 64);
                if (q.cert.qe_auth_data_len)
                        inside(data, size, q.cert.qe_auth_data, q.cert.qe_auth_data_len);
        }
        /* verification of arbitrary bytes never succeeds without collateral */
        cp_tdx_verify_result r;
        if (cp_tdx_verify(data, size, NULL, NULL, &r) >= 0)
                abort();
        return 0;
}
