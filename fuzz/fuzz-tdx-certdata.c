/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: the quote's certification data (type 5, type 6 with its QE
 * report, auth data and nested PCK chain) and the PCK chain loader. */
#include <stdint.h>
#include <stdlib.h>

#include <openssl/x509.h>

#include "confpool/tdx_quote.h"
#include "libconfpool/tdx-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        cp_tdx_cert_data d;
        int k = cp_tdx_cert_data_parse(data, size, &d);
        if (k < 0) {
                if (k != CP_ETRUNC && k != CP_ETRAILING && k != CP_EFORMAT)
                        abort();
                return 0;
        }
        if (d.type != CP_TDX_CERT_PCK_CHAIN && d.type != CP_TDX_CERT_QE_REPORT)
                abort();
        if (d.has_qe_report != (d.type == CP_TDX_CERT_QE_REPORT) || d.pck_chain_len == 0)
                abort();
        /* 2 + 4 bytes of header, the QE part, 2 + 4 of the nested header */
        size_t fixed = d.has_qe_report ? 6 + CP_TDX_SGX_REPORT_SIZE + 64 + 2 + d.qe_auth_data_len + 6 : 6;
        if (fixed + d.pck_chain_len != size)
                abort();
        STACK_OF(X509) *chain = NULL;
        if (tdx_load_certs(d.pck_chain, d.pck_chain_len, "PCK chain", &chain) == 0) {
                for (int i = 0; i < sk_X509_num(chain); i++) {
                        cp_tdx_pck_ext e;
                        (void) tdx_pck_ext_from_cert(sk_X509_value(chain, i), &e);
                }
                sk_X509_pop_free(chain, X509_free);
        }
        return 0;
}
