/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_BASIC_CURSOR_H
#define CP_BASIC_CURSOR_H

/*
 * The one bounds-checked reader for untrusted bytes.  Every parser of
 * untrusted input reads through a cp_cursor: no pointer arithmetic on input
 * and no struct casts anywhere else.  Bounds checks are written on the
 * subtraction side (n > len - off).  A failed read leaves the cursor where it
 * was and records CP_ETRUNC with the offset in the last-error message.
 * Multi-byte integers are explicit about endianness.  The writer side
 * (cp_writer, cp_put_*) below builds the same formats.
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

/*
 * The writer side: a cp_writer appends to a buffer with the same rules.
 * Every write is bounds-checked on the subtraction side (n > cap - off); a
 * write that does not fit fails with CP_ETOOBIG and leaves the writer as it
 * was.  A writer made with cp_writer_make() writes into the caller's buffer
 * and never grows.  One made with cp_writer_make_growable() owns a malloc()ed
 * buffer that grows as needed up to max bytes in all (CP_ETOOBIG beyond,
 * CP_ENOMEM if realloc fails); the bytes are at w.p[0..w.off), and
 * cp_writer_done() frees them.
 */
typedef struct cp_writer {
        uint8_t *p;
        size_t cap;
        size_t off;
        size_t max;     /* growable: the most cap may grow to; 0: the caller's fixed buffer */
} cp_writer;

static inline cp_writer cp_writer_make(void *p, size_t cap) {
        cp_writer w = { .p = (uint8_t *) p, .cap = p ? cap : 0, .off = 0, .max = 0 };
        return w;
}

static inline cp_writer cp_writer_make_growable(size_t max) {
        cp_writer w = { .p = NULL, .cap = 0, .off = 0, .max = max };
        return w;
}

static inline size_t cp_writer_offset(const cp_writer *w) {
        return w->off;
}

/* Drop what was written from off on (off at most the current offset). */
static inline void cp_writer_rewind(cp_writer *w, size_t off) {
        if (off <= w->off)
                w->off = off;
}

CP_WUR int cp_writer_u8(cp_writer *w, uint8_t v);
CP_WUR int cp_writer_le16(cp_writer *w, uint16_t v);
CP_WUR int cp_writer_le32(cp_writer *w, uint32_t v);
CP_WUR int cp_writer_le64(cp_writer *w, uint64_t v);
CP_WUR int cp_writer_be16(cp_writer *w, uint16_t v);
CP_WUR int cp_writer_be32(cp_writer *w, uint32_t v);
CP_WUR int cp_writer_be64(cp_writer *w, uint64_t v);
/* Copy n bytes from p (p may be NULL when n is 0). */
CP_WUR int cp_writer_bytes(cp_writer *w, const void *p, size_t n);
/* n zero bytes. */
CP_WUR int cp_writer_zeros(cp_writer *w, size_t n);
/* Free a growable writer's buffer and reset it (no-op for a fixed one
 * beyond the reset). */
void cp_writer_done(cp_writer *w);

/*
 * Stores at a fixed position, for records laid out by offset (a VMSA page,
 * a header with fields at set offsets).  The caller owns the bounds; these
 * are the one implementation of each width and byte order, which the
 * writer uses too.
 */
void cp_put_le16(void *p, uint16_t v);
void cp_put_le32(void *p, uint32_t v);
void cp_put_le64(void *p, uint64_t v);
void cp_put_be16(void *p, uint16_t v);
void cp_put_be32(void *p, uint32_t v);
void cp_put_be64(void *p, uint64_t v);

#endif
