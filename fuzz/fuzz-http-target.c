/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the raw request-target check (cp_http_target_check).  The
 * input is the target's bytes.  An accepted target is checked again here,
 * another way (split first, then decode each part): it starts with "/", is
 * printable ASCII, every escape is well-formed and decodes to no control
 * character, the path escapes no "/" or "\" and holds no raw "\", and no
 * path segment but the last is empty and none is "." or "..".  A refusal
 * must name its rule.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "service/httpd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int hexv(uint8_t c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Decode s[0..n) into out (n bytes at most); false on a bad escape or a
 * decoded control character, or (in a path segment) a decoded "/" or "\". */
static bool decode(const uint8_t *s, size_t n, bool segment, uint8_t *out, size_t *ret_len) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
                uint8_t c = s[i];
                if (c == '%') {
                        if (n - i < 3)
                                return false;
                        int h = hexv(s[i + 1]), l = hexv(s[i + 2]);
                        if (h < 0 || l < 0)
                                return false;
                        c = (uint8_t) (h * 16 + l);
                        i += 2;
                        if (segment && (c == '/' || c == '\\'))
                                return false;
                }
                if (c < 0x20 || c == 0x7f)
                        return false;
                out[k++] = c;
        }
        *ret_len = k;
        return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > 4096)
                return 0;
        /* an exact-size copy without a terminator: the check must stay in bounds */
        uint8_t *t = calloc(1, size ? size : 1);
        uint8_t *dec = malloc(size ? size : 1);
        if (!t || !dec) {
                free(t);
                free(dec);
                return 0;
        }
        if (size)
                memcpy(t, data, size);
        const char *why = cp_http_target_check((const char *) t, size);
        if (why) {
                if (!why[0])
                        abort();
                goto out;
        }
        if (size == 0 || t[0] != '/')
                abort();
        for (size_t i = 0; i < size; i++)
                if (t[i] < 0x21 || t[i] > 0x7e)
                        abort();
        const uint8_t *q = memchr(t, '?', size);
        size_t plen = q ? (size_t) (q - t) : size;
        size_t dl;
        if (q && !decode(q + 1, size - plen - 1, false, dec, &dl))
                abort();
        /* the path's segments, after the leading "/" */
        size_t start = 1;
        while (start <= plen) {
                const uint8_t *sl = start < plen ? memchr(t + start, '/', plen - start) : NULL;
                size_t end = sl ? (size_t) (sl - t) : plen;
                if (memchr(t + start, '\\', end - start))
                        abort();
                if (!decode(t + start, end - start, true, dec, &dl))
                        abort();
                if (dl == 0 && sl)
                        abort(); /* an empty segment before a "/" */
                if ((dl == 1 && dec[0] == '.') || (dl == 2 && dec[0] == '.' && dec[1] == '.'))
                        abort();
                start = end + 1;
        }
out:
        free(t);
        free(dec);
        return 0;
}
