/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_EMU_TDX_MODULE_INTERNAL_H
#define CP_EMU_TDX_MODULE_INTERNAL_H

/* The software TDX module's per-platform state, shared by the module
 * (tdx_module.c: TDs, TDREPORT) and the host / QE (tdx_qe.c). */

#include "emu/tdx-emu-internal.h"

typedef struct tdx_module {
        uint8_t mac_key[32];        /* the report MAC key: never leaves the platform */
        uint8_t tee_tcb_svn[16];
        uint8_t mrseam[48], mrsignerseam[48];
        uint64_t seam_attributes;
        uint8_t cpusvn[16];
} tdx_module;

tdx_module *tdx_host_module(cp_tdx_host *h);
/* HMAC-SHA-256 under the module key. */
int tdx_module_mac(const tdx_module *m, const uint8_t *data, size_t len, uint8_t out[32]);

#endif
