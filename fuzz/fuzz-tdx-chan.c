/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the software TD's emulated channel (cp_tdx_emu_serve_conn,
 * tdx_chan.c).  Byte 0 bit 0 clear: the rest is the raw connection.  Set:
 * byte 1 picks the op (REPORT or QUOTE) and the rest is its payload, padded
 * or cut to the op's length, so it reaches TDG.MR.REPORT and the QE.  The
 * answer, if any, must be a well-formed response frame: magic, a status
 * that is 0 or a negated cp_err, a length that matches what follows, and a
 * payload only on success (a 1024-byte TDREPORT of type 0x81, or a quote
 * that parses).  A random TDREPORT is never quoted.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "basic/cursor.h"
#include "basic/fileio.h"
#include "confpool/tdx_quote.h"
#include "emu/tdx_emu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cp_tdx_pcs *pcs;
static cp_tdx_host *host;
static cp_tdx_td *td;
static cp_tdx_emu emu;

static void init(void) {
        if (cp_tdx_pcs_new(NULL, &pcs) < 0 || cp_tdx_host_new(pcs, NULL, &host) < 0 || cp_tdx_td_create(host, NULL, &td) < 0 ||
            cp_tdx_td_page_add(td, 0x1000) < 0 || cp_tdx_td_finalize(td) < 0)
                abort();
        emu = (cp_tdx_emu) { .host = host, .td = td };
}

static void check_answer(int fd, uint32_t op, int k) {
        uint8_t h[CP_TDX_CHAN_RSP_HDR_SIZE], *b = NULL;
        uint32_t magic = 0, status = 0, len = 0;
        size_t got = 0;
        /* a server that refused the frame closed its end with input unread:
         * the read may see a reset instead of an end of file */
        if (cp_read_full(fd, h, sizeof(h), "fuzz", &got) < 0) {
                cp_error_clear();
                if (k >= 0)
                        abort();
                return;
        }
        if (got == 0) {
                if (k >= 0)
                        abort(); /* a served request always answers */
                return;
        }
        cp_cursor c = cp_cursor_make(h, got);
        if (cp_cursor_le32(&c, &magic) < 0 || cp_cursor_le32(&c, &status) < 0 || cp_cursor_le32(&c, &len) < 0 ||
            magic != CP_TDX_CHAN_RSP_MAGIC || (status != 0) != (k < 0) || (status == 0 && len == 0) ||
            (status != 0 && (len != 0 || (int) status != -k)))
                abort();
        if (len && !(b = malloc(len)))
                abort();
        if (len && (cp_read_full(fd, b, len, "fuzz", &got) < 0 || got != len))
                abort();
        cp_tdx_quote q;
        if (len && op == CP_TDX_CHAN_REPORT && (len != CP_TDX_TDREPORT_SIZE || b[0] != 0x81))
                abort();
        if (len && op == CP_TDX_CHAN_QUOTE && cp_tdx_quote_parse(b, len, CP_TDX_PARSE_STRICT, &q) < 0)
                abort();
        free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        uint8_t frame[CP_TDX_CHAN_HDR_SIZE + CP_TDX_TDREPORT_SIZE] = { 0 };
        const uint8_t *in = data + (size > 0);
        size_t n = size ? size - 1 : 0;
        uint32_t op = 0;
        int sv[2];
        if (!pcs)
                init();
        if (size >= 2 && (data[0] & 1)) {
                op = (data[1] & 1) ? CP_TDX_CHAN_QUOTE : CP_TDX_CHAN_REPORT;
                uint32_t len = op == CP_TDX_CHAN_REPORT ? 64u : CP_TDX_TDREPORT_SIZE;
                cp_put_le32(frame, CP_TDX_CHAN_REQ_MAGIC);
                cp_put_le32(frame + 4, 1);
                cp_put_le32(frame + 8, op);
                cp_put_le32(frame + 12, len);
                memcpy(frame + 16, data + 2, size - 2 < len ? size - 2 : len);
                in = frame;
                n = CP_TDX_CHAN_HDR_SIZE + len;
        } else if (n >= 12)
                op = in[8] | (uint32_t) in[9] << 8 | (uint32_t) in[10] << 16 | (uint32_t) in[11] << 24;
        if (n > 8192 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
                return 0;
        if (cp_write_full(sv[0], in, n, "fuzz") < 0)
                abort();
        shutdown(sv[0], SHUT_WR);
        int k = cp_tdx_emu_serve_conn(&emu, sv[1]);
        close(sv[1]);
        check_answer(sv[0], op, k);
        close(sv[0]);
        return 0;
}
