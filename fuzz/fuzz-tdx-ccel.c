/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the TD boot parsers of confpool/tdx_boot.h.  The first byte
 * picks the parser, the rest is its input:
 *   0: a CCEL (cp_ccel_parse): an accepted log's replay must agree with the
 *      software TD booted with it (cp_tdx_td_boot), its MR indexes are
 *      0..4 and MR 0 only carries EV_NO_ACTION;
 *   1: a PE image (cp_pe_authenticode, SHA-256 and SHA-384);
 *   2: a TD HOB list (cp_tdx_td_hob_parse: the measured length is within
 *      the input and a multiple of 8);
 *   3: QEMU's ACPI table loader (cp_qemu_loader_allocations).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "confpool/tdx_boot.h"
#include "confpool/tpm_quote.h"
#include "emu/tdx_emu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cp_tdx_pcs *pcs;
static cp_tdx_host *host;

static void ccel(const uint8_t *d, size_t n) {
        cp_ccel_info info;
        cp_tcg_eventlog *l = NULL;
        if (cp_ccel_parse(d, n, &info, &l) < 0)
                return;
        for (size_t i = 0; i < cp_tcg_eventlog_count(l); i++) {
                const cp_tcg_event *e = cp_tcg_eventlog_get(l, i);
                if (e->pcr > 4 || (e->pcr == 0 && e->type != 3) || !cp_tcg_event_digest(e, CP_TPM_ALG_SHA384))
                        abort();
        }
        cp_tcg_eventlog_free(l);
        if (!pcs && (cp_tdx_pcs_new(&(cp_tdx_pcs_config) { .now = 1767225600 }, &pcs) < 0 ||
                     cp_tdx_host_new(pcs, &(cp_tdx_host_config) { .now = 1767225600 }, &host) < 0))
                abort();
        cp_tdx_td *td = NULL;
        uint8_t rd[64] = { 0 }, rep[CP_TDX_TDREPORT_SIZE];
        if (cp_tdx_host_launch(host, &(cp_tdx_td_params) { 0 }, NULL, 0, CP_TDX_ORDER_SINGLE_PASS, &td) < 0 ||
            cp_tdx_td_boot(td, d, n) < 0 || cp_tdx_td_report(td, rd, rep) < 0)
                abort();
        for (unsigned i = 0; i < 4; i++)
                if (memcmp(rep + 512 + 16 + 4 * 48 + i * 48, info.rtmr[i], 48) != 0)
                        abort();
        cp_tdx_td_free(td);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        const uint8_t *d = data + 1;
        size_t n = size - 1, len = 0;
        uint8_t out[48];
        char names[CP_TDX_MAX_ACPI_BLOBS][56];
        switch (data[0] & 3) {
        case 0:
                ccel(d, n);
                break;
        case 1:
                (void) !cp_pe_authenticode(d, n, CP_TPM_ALG_SHA256, out, sizeof out);
                (void) !cp_pe_authenticode(d, n, CP_TPM_ALG_SHA384, out, sizeof out);
                break;
        case 2:
                if (cp_tdx_td_hob_parse(d, n, &len) == 0 && (len > n || len % 8 || len < 16))
                        abort();
                break;
        default:
                if (cp_qemu_loader_allocations(d, n, names, CP_TDX_MAX_ACPI_BLOBS, &len) == 0 && len > CP_TDX_MAX_ACPI_BLOBS)
                        abort();
                break;
        }
        return 0;
}
