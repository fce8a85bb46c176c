/* SPDX-License-Identifier: Apache-2.0 */
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
