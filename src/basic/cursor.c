/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>

#include "basic/cursor.h"

static int need(const cp_cursor *c, size_t n) {
        if (c->off > c->len)
                return CP_ERROR(CP_EINTERNAL, "cursor offset %zu beyond length %zu", c->off, c->len);
        if (n > c->len - c->off)
                return CP_ERROR(CP_ETRUNC, "truncated: need %zu bytes at offset %zu, %zu left",
                                n, c->off, c->len - c->off);
        return 0;
}

int cp_cursor_ptr(cp_cursor *c, size_t n, const uint8_t **ret) {
        int r = need(c, n);
        if (r < 0)
                return r;
        *ret = c->p + c->off;
        c->off += n;
        return 0;
}

int cp_cursor_bytes(cp_cursor *c, size_t n, void *out) {
        const uint8_t *p;
        int r = cp_cursor_ptr(c, n, &p);
        if (r < 0)
                return r;
        if (n > 0)
                memcpy(out, p, n);
        return 0;
}

int cp_cursor_skip(cp_cursor *c, size_t n) {
        const uint8_t *p;
        return cp_cursor_ptr(c, n, &p);
}

int cp_cursor_u8(cp_cursor *c, uint8_t *ret) {
        const uint8_t *p;
        int r = cp_cursor_ptr(c, 1, &p);
        if (r < 0)
                return r;
        *ret = p[0];
        return 0;
}

#define DEFINE_READ(name, type, nbytes, big)                                   \
        int name(cp_cursor *c, type *ret) {                                     \
                const uint8_t *p;                                               \
                int r = cp_cursor_ptr(c, nbytes, &p);                           \
                if (r < 0)                                                      \
                        return r;                                               \
                type v = 0;                                                     \
                for (size_t i = 0; i < (nbytes); i++)                           \
                        v |= (type) p[(big) ? (nbytes) - 1 - i : i] << (8 * i); \
                *ret = v;                                                       \
                return 0;                                                       \
        }

DEFINE_READ(cp_cursor_le16, uint16_t, 2, 0)
DEFINE_READ(cp_cursor_le32, uint32_t, 4, 0)
DEFINE_READ(cp_cursor_le64, uint64_t, 8, 0)
DEFINE_READ(cp_cursor_be16, uint16_t, 2, 1)
DEFINE_READ(cp_cursor_be32, uint32_t, 4, 1)
DEFINE_READ(cp_cursor_be64, uint64_t, 8, 1)

int cp_cursor_zero(cp_cursor *c, size_t n, const char *what) {
        size_t start = c->off;
        const uint8_t *p;
        int r = cp_cursor_ptr(c, n, &p);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                if (p[i] != 0) {
                        c->off = start;
                        return CP_ERROR(CP_EMBZ, "%s: reserved byte at offset 0x%zx is 0x%02x, must be zero",
                                        what ? what : "reserved field", start + i, p[i]);
                }
        return 0;
}

int cp_cursor_sub(cp_cursor *c, size_t n, cp_cursor *ret) {
        const uint8_t *p;
        int r = cp_cursor_ptr(c, n, &p);
        if (r < 0)
                return r;
        *ret = cp_cursor_make(p, n);
        return 0;
}

int cp_cursor_window(const cp_cursor *c, size_t off, size_t n, cp_cursor *ret) {
        if (off > c->len || n > c->len - off)
                return CP_ERROR(CP_ETRUNC, "truncated: need %zu bytes at offset %zu of %zu", n, off, c->len);
        *ret = cp_cursor_make(c->p + off, n);
        return 0;
}

int cp_cursor_end(const cp_cursor *c, const char *what) {
        if (c->off != c->len)
                return CP_ERROR(CP_ETRAILING, "%s: %zu trailing bytes at offset %zu",
                                what ? what : "input", c->len - c->off, c->off);
        return 0;
}

/* ---- writer ---------------------------------------------------------------- */

/* The one store: n bytes of v at p, least significant first unless big. */
static void store(uint8_t *p, uint64_t v, size_t n, bool big) {
        for (size_t i = 0; i < n; i++)
                p[big ? n - 1 - i : i] = (uint8_t) (v >> (8 * i));
}

void cp_put_le16(void *p, uint16_t v) { store(p, v, 2, false); }
void cp_put_le32(void *p, uint32_t v) { store(p, v, 4, false); }
void cp_put_le64(void *p, uint64_t v) { store(p, v, 8, false); }
void cp_put_be16(void *p, uint16_t v) { store(p, v, 2, true); }
void cp_put_be32(void *p, uint32_t v) { store(p, v, 4, true); }
void cp_put_be64(void *p, uint64_t v) { store(p, v, 8, true); }

/* Make room for n more bytes: a fixed writer must already have it, a
 * growable one reallocates (doubling from 1 KiB) up to max. */
static int room(cp_writer *w, size_t n) {
        if (w->off > w->cap)
                return CP_ERROR(CP_EINTERNAL, "writer offset %zu beyond capacity %zu", w->off, w->cap);
        if (n <= w->cap - w->off)
                return 0;
        if (w->max == 0)
                return CP_ERROR(CP_ETOOBIG, "writer full: need %zu bytes at offset %zu, %zu left",
                                n, w->off, w->cap - w->off);
        if (w->off > w->max || n > w->max - w->off)
                return CP_ERROR(CP_ETOOBIG, "writer: %zu bytes at offset %zu would exceed %zu bytes",
                                n, w->off, w->max);
        size_t c = w->cap ? w->cap : 1024;
        if (c > w->max)
                c = w->max;
        while (n > c - w->off)
                c = c > w->max / 2 ? w->max : c * 2;
        uint8_t *p = realloc(w->p, c);
        if (!p)
                return cp_error_oom();
        w->p = p;
        w->cap = c;
        return 0;
}

static int put(cp_writer *w, uint64_t v, size_t n, bool big) {
        int r = room(w, n);
        if (r < 0)
                return r;
        store(w->p + w->off, v, n, big);
        w->off += n;
        return 0;
}

int cp_writer_u8(cp_writer *w, uint8_t v) { return put(w, v, 1, false); }
int cp_writer_le16(cp_writer *w, uint16_t v) { return put(w, v, 2, false); }
int cp_writer_le32(cp_writer *w, uint32_t v) { return put(w, v, 4, false); }
int cp_writer_le64(cp_writer *w, uint64_t v) { return put(w, v, 8, false); }
int cp_writer_be16(cp_writer *w, uint16_t v) { return put(w, v, 2, true); }
int cp_writer_be32(cp_writer *w, uint32_t v) { return put(w, v, 4, true); }
int cp_writer_be64(cp_writer *w, uint64_t v) { return put(w, v, 8, true); }

int cp_writer_bytes(cp_writer *w, const void *p, size_t n) {
        int r = room(w, n);
        if (r < 0)
                return r;
        if (n > 0)
                memcpy(w->p + w->off, p, n);
        w->off += n;
        return 0;
}

int cp_writer_zeros(cp_writer *w, size_t n) {
        int r = room(w, n);
        if (r < 0)
                return r;
        if (n > 0)
                memset(w->p + w->off, 0, n);
        w->off += n;
        return 0;
}

void cp_writer_done(cp_writer *w) {
        if (w->max)
                free(w->p);
        *w = (cp_writer) { 0 };
}
