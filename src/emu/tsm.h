/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The guest side of Linux's configfs-tsm report interface
 * (/sys/kernel/config/tsm/report/<entry>/: provider, generation, inblob,
 * privlevel, outblob, auxblob), shared by the SEV-SNP and TDX guests. */

#include <stddef.h>
#include <stdint.h>

/* ENTRY/NAME into OUT (CAP bytes); CP_EINVAL when it does not fit. */
int cp_tsm_attr_path(const char *entry, const char *name, char *out, size_t cap);
/* Reads attribute NAME of ENTRY (at most MAX bytes) into *ret (caller
 * frees). */
int cp_tsm_read_attr(const char *entry, const char *name, size_t max, uint8_t **ret, size_t *ret_len);
/* Writes LEN bytes to attribute NAME of ENTRY in one write(2), as the kernel
 * wants; a short write or a failing close is an error. */
int cp_tsm_write_attr(const char *entry, const char *name, const void *data, size_t len);
/* The entry's generation counter: a decimal number and one newline, as the
 * kernel prints it; anything else (or an overflow) is CP_EFORMAT. */
int cp_tsm_read_generation(const char *entry, uint64_t *ret);
/* CP_EUNSUPPORTED unless the entry's provider is PROVIDER ("sev_guest",
 * "tdx_guest"). */
int cp_tsm_check_provider(const char *entry, const char *provider);
