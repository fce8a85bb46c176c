/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>

#include "basic/cursor.h"
#include "node/node_evlog.h"

/* The log's buffer as a growable writer, and back: every write goes through
 * the writer, the struct keeps its public fields. */
static cp_writer writer_of(const cp_node_evlog *l) {
        cp_writer w = cp_writer_make_growable(SIZE_MAX);
        w.p = l->buf;
        w.cap = l->cap;
        w.off = l->len;
        return w;
}

static void keep(cp_node_evlog *l, const cp_writer *w) {
        l->buf = w->p;
        l->cap = w->cap;
        l->len = w->off;
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
        cp_writer w = writer_of(l);
        int r;
        if ((r = cp_writer_le32(&w, 0)) >= 0 && (r = cp_writer_le32(&w, CP_EV_NO_ACTION)) >= 0 &&
            (r = cp_writer_bytes(&w, zero20, sizeof zero20)) >= 0 && (r = cp_writer_le32(&w, sizeof spec)) >= 0)
                r = cp_writer_bytes(&w, spec, sizeof spec);
        keep(l, &w);
        if (r < 0)
                cp_node_evlog_done(l);
        return r;
}

int cp_node_evlog_add(cp_node_evlog *l, uint32_t pcr, uint32_t type, const uint8_t digest[32], const void *data,
                      size_t data_len) {
        if (data_len > UINT32_MAX)
                return CP_ERROR(CP_ETOOBIG, "event data");
        cp_writer w = writer_of(l);
        int r;
        if ((r = cp_writer_le32(&w, pcr)) >= 0 && (r = cp_writer_le32(&w, type)) >= 0 &&
            (r = cp_writer_le32(&w, 1)) >= 0 && (r = cp_writer_le16(&w, 0x000b)) >= 0 &&
            (r = cp_writer_bytes(&w, digest, 32)) >= 0 && (r = cp_writer_le32(&w, (uint32_t) data_len)) >= 0)
                r = cp_writer_bytes(&w, data, data_len);
        keep(l, &w);
        return r;
}

void cp_node_evlog_done(cp_node_evlog *l) {
        free(l->buf);
        memset(l, 0, sizeof *l);
}
