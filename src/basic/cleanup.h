/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_BASIC_CLEANUP_H
#define CP_BASIC_CLEANUP_H

#include <stdlib.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void cp_freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(cp_freep)

/* Hand ownership over: returns the pointer and NULLs the variable. */
#define TAKE_PTR(p)                          \
        ({                                   \
                __typeof__(p) _tp_ = (p);    \
                (p) = NULL;                  \
                _tp_;                        \
        })

/* Define foo_freep() for a foo_free() that accepts NULL. */
#define CP_DEFINE_FREEP(type, fn)                 \
        static inline void fn##p(type **p) {      \
                if (*p)                           \
                        (void) fn(*p);            \
        }

#define CP_ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

/* Overflow-checked size arithmetic. */
#define cp_add_overflow(a, b, r) __builtin_add_overflow((a), (b), (r))
#define cp_mul_overflow(a, b, r) __builtin_mul_overflow((a), (b), (r))

#endif
