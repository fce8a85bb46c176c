/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>

#include "node/node_evlog.h"

static int put(cp_node_evlog *l, const void *p, size_t n) {
        if (l->len + n > l->cap) {
                size_t c = l->cap ? l->cap : 1024;
                while (c < l->len + n)
                        c *= 2;
                uint8_t *b = realloc(l->buf, c);
                if (!b)
                        return cp_error_oom();
                l->buf = b;
                l->cap = c;
        }
        memcpy(l->buf + l->len, p, n);
        l->len += n;
        return 0;
}

static int put32(cp_node_evlog *l, uint32_t v) {
        uint8_t b[4] = {(uint8_t) v, (uint8_t) (v >> 8), (uint8_t) (v >> 16), (uint8_t) (v >> 24)};
        return put(l, b, 4);
}

static int put16(cp_node_evlog *l, uint16_t v) {
        uint8_t b[2] = {(uint8_t) v, (uint8_t) (v >> 8)};
        return put(l, b, 2);
}

int cp_node_evlog_init(cp_node_evlog *l) {
        memset(l, 0, sizeof *l);
        /* TCG_EfiSpecIDEvent: signature, platformClass, minor 0, major 2,
         * errata 0, uintnSize 2 (UINT64), one algorithm (SHA-256, 32),
         * vendorInfoSize 0 */
        static const uint8_t spec[] = {'S', 'p', 'e', 'c', ' ', 'I', 'D', ' ', 'E', 'v', 'e', 'n', 't', '0', '3', 0,
                                       0,   0,   0,   0,   0,   2,   0,   2,   1,   0,   0,   0,   0x0b, 0, 32, 0,
                                       0};
        static const uint8_t zero20[20] = {0};
        int r = put32(l, 0);
        if (r >= 0)
                r = put32(l, CP_EV_NO_ACTION);
        if (r >= 0)
                r = put(l, zero20, sizeof zero20);
        if (r >= 0)
                r = put32(l, sizeof spec);
        if (r >= 0)
                r = put(l, spec, sizeof spec);
        if (r < 0)
                cp_node_evlog_done(l);
        return r;
}

int cp_node_evlog_add(cp_node_evlog *l, uint32_t pcr, uint32_t type, const uint8_t digest[32], const void *data,
                      size_t data_len) {
        if (data_len > UINT32_MAX)
                return CP_ERROR(CP_ETOOBIG, "event data");
        int r = put32(l, pcr);
        if (r >= 0)
                r = put32(l, type);
        if (r >= 0)
                r = put32(l, 1);
        if (r >= 0)
                r = put16(l, 0x000b);
        if (r >= 0)
                r = put(l, digest, 32);
        if (r >= 0)
                r = put32(l, (uint32_t) data_len);
        if (r >= 0 && data_len)
                r = put(l, data, data_len);
        return r;
}

void cp_node_evlog_done(cp_node_evlog *l) {
        free(l->buf);
        memset(l, 0, sizeof *l);
}
