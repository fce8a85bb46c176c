/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_BASIC_CURSOR_H
#define CP_BASIC_CURSOR_H

/*
 * The one bounds-checked reader for untrusted bytes.  Every parser of
 * untrusted input reads through a cp_cursor: no pointer arithmetic on input
 * and no struct casts anywhere else.  Bounds checks are written on the
 * subtraction side (n > len - off).  A failed read leaves the cursor where it
 * was and records CP_ETRUNC with the offset in the last-error message.
 * Multi-byte integers are explicit about endianness.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/error.h"

typedef struct cp_cursor {
        const uint8_t *p;
        size_t len;
        size_t off;
} cp_cursor;

static inline cp_cursor cp_cursor_make(const void *p, size_t len) {
        cp_cursor c = { .p = (const uint8_t *) p, .len = p ? len : 0, .off = 0 };
        return c;
}

static inline size_t cp_cursor_remaining(const cp_cursor *c) {
        return c->len - c->off;
}

static inline size_t cp_cursor_offset(const cp_cursor *c) {
        return c->off;
}

CP_WUR int cp_cursor_u8(cp_cursor *c, uint8_t *ret);
CP_WUR int cp_cursor_le16(cp_cursor *c, uint16_t *ret);
CP_WUR int cp_cursor_le32(cp_cursor *c, uint32_t *ret);
CP_WUR int cp_cursor_le64(cp_cursor *c, uint64_t *ret);
CP_WUR int cp_cursor_be16(cp_cursor *c, uint16_t *ret);
CP_WUR int cp_cursor_be32(cp_cursor *c, uint32_t *ret);
CP_WUR int cp_cursor_be64(cp_cursor *c, uint64_t *ret);
/* Copy n bytes into out. */
CP_WUR int cp_cursor_bytes(cp_cursor *c, size_t n, void *out);
/* Borrow a pointer to the next n bytes (valid as long as the input). */
CP_WUR int cp_cursor_ptr(cp_cursor *c, size_t n, const uint8_t **ret);
CP_WUR int cp_cursor_skip(cp_cursor *c, size_t n);
/* Consume n bytes that must all be zero (CP_EMBZ names the first non-zero
 * offset, relative to the cursor's start). */
CP_WUR int cp_cursor_zero(cp_cursor *c, size_t n, const char *what);
/* Split off the next n bytes as an independent sub-cursor. */
CP_WUR int cp_cursor_sub(cp_cursor *c, size_t n, cp_cursor *ret);
/* A sub-cursor over [off, off+n) of the whole input, independent of c's
 * position (for fixed-offset layouts). */
CP_WUR int cp_cursor_window(const cp_cursor *c, size_t off, size_t n, cp_cursor *ret);
/* CP_ETRAILING if any bytes remain. */
CP_WUR int cp_cursor_end(const cp_cursor *c, const char *what);
/* The next byte without consuming it; -1 at the end. */
static inline int cp_cursor_peek(const cp_cursor *c) {
        return c->off < c->len ? c->p[c->off] : -1;
}
/* Consume one byte if there is one (after a cp_cursor_peek() saw it). */
static inline void cp_cursor_advance(cp_cursor *c) {
        if (c->off < c->len)
                c->off++;
}
/* The remaining bytes, borrowed and not consumed, for scans that look ahead
 * (*ret_len of them; take what was scanned with cp_cursor_ptr()). */
static inline const uint8_t *cp_cursor_view(const cp_cursor *c, size_t *ret_len) {
        *ret_len = c->len - c->off;
        return c->p + c->off;
}
/* Position save / restore for speculative parses. */
static inline size_t cp_cursor_tell(const cp_cursor *c) { return c->off; }
static inline void cp_cursor_rewind(cp_cursor *c, size_t off) {
        if (off <= c->len)
                c->off = off;
}

#endif
