/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_NODE_TDXBOOT_H
#define CP_NODE_TDXBOOT_H

/*
 * A node image's boot on a TD, the one derivation both sides use: the
 * expected RTMR1/RTMR2 a pool pins (fw NULL) and the events the software
 * TD's boot extends (cp_tdx_td_boot with the result's CCEL) come from
 * cp_tdx_boot_measure over the same files, which is what `confpool tdx
 * measure --ovmf F --kernel K --initrd I --cmdline S` prints for them.
 */

#include <stddef.h>
#include <stdint.h>

#include "confpool/tdx_boot.h"

/* fw (the TDVF, or NULL: RTMR1/2 only) and the image's files: kernel (a PE
 * image), initrd (NULL: none), cmdline (a file of printable ASCII, NULL:
 * empty). OVMF defaults for the rest: no secure-boot keys, no ACPI
 * loader, confpool's TD HOB. */
CP_WUR int cp_node_tdx_boot(const uint8_t *fw, size_t fw_len, const char *kernel_path, const char *initrd_path,
                            const char *cmdline_path, cp_tdx_boot_result *ret);

/* A minimal PE32+ EFI application (one .text section) carrying payload:
 * the stand-in kernel of a generated node image, so that its RTMR1 event
 * is an Authenticode digest as on a real boot. */
CP_WUR int cp_node_pe_wrap(const uint8_t *payload, size_t len, uint8_t **ret, size_t *ret_len);

#endif
