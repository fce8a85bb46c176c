/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_CLI_CMD_TDX_BOOT_H
#define CP_CLI_CMD_TDX_BOOT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "confpool/tdx_boot.h"

/* `confpool tdx measure` options of a boot (cmd_tdx_boot.c) */
typedef struct cp_tdx_boot_args {
        const char *kernel, *initrd, *cmdline, *acpi_dir, *sb_dir, *boot_vars_dir, *td_hob, *eventlog_out, *replay;
        uint64_t mem_size;
        bool legacy_separator;
} cp_tdx_boot_args;

static inline bool cp_tdx_boot_args_any(const cp_tdx_boot_args *a) {
        return a->kernel || a->initrd || a->cmdline || a->acpi_dir || a->sb_dir || a->boot_vars_dir || a->td_hob ||
               a->eventlog_out || a->mem_size || a->legacy_separator;
}

/* Derive the boot's RTMRs and CCEL (fw NULL: RTMR1/2 only) and print them
 * with MRTD (or NULL) and the members of extra (consumed). */
int cp_tdx_cmd_boot(const cp_tdx_boot_args *a, const uint8_t *fw, size_t fw_len, const uint8_t *mrtd, json_t *extra,
                    bool json);
/* Replay a CCEL file. */
int cp_tdx_cmd_replay_ccel(const char *path, bool json);

#endif
