/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_BASIC_SECURE_H
#define CP_BASIC_SECURE_H

/* Wiping, constant-time comparison and a wiped-on-free secret buffer.
 * Secrets are never logged and never put into error messages. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/error.h"

/* Overwrite with zeros in a way the compiler may not elide. */
void cp_wipe(void *p, size_t n);
/* Constant-time equality (time depends only on n). */
bool cp_ct_eq(const void *a, const void *b, size_t n);
/* Constant-time "all bytes zero". */
bool cp_ct_is_zero(const void *a, size_t n);

typedef struct cp_secret {
        uint8_t *p;
        size_t len;
        bool locked;
} cp_secret;

/* Allocate n zeroed bytes, mlock()ed where permitted. */
CP_WUR int cp_secret_new(size_t n, cp_secret **ret);
/* Wipe, unlock, free; accepts NULL; returns NULL. */
cp_secret *cp_secret_free(cp_secret *s);

#endif
