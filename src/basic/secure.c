/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "basic/secure.h"

void cp_wipe(void *p, size_t n) {
        if (p && n)
                explicit_bzero(p, n);
}

bool cp_ct_eq(const void *a, const void *b, size_t n) {
        const volatile uint8_t *x = a, *y = b;
        uint8_t d = 0;
        for (size_t i = 0; i < n; i++)
                d |= x[i] ^ y[i];
        return d == 0;
}

bool cp_ct_is_zero(const void *a, size_t n) {
        const volatile uint8_t *x = a;
        uint8_t d = 0;
        for (size_t i = 0; i < n; i++)
                d |= x[i];
        return d == 0;
}

int cp_secret_new(size_t n, cp_secret **ret) {
        cp_secret *s = calloc(1, sizeof(*s));
        if (!s)
                return cp_error_oom();
        s->p = calloc(1, n ? n : 1);
        if (!s->p) {
                free(s);
                return cp_error_oom();
        }
        s->len = n;
        s->locked = mlock(s->p, n ? n : 1) == 0;
        *ret = s;
        return 0;
}

cp_secret *cp_secret_free(cp_secret *s) {
        if (!s)
                return NULL;
        if (s->p) {
                cp_wipe(s->p, s->len);
                if (s->locked)
                        munlock(s->p, s->len ? s->len : 1);
                free(s->p);
        }
        free(s);
        return NULL;
}
