/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The emulated guest<->AMD-SP channel: one framed request/response per unix
 * socket connection.  The daemon plays the hypervisor's part (it routes the
 * still-encrypted guest message to the AMD-SP and hands back the response
 * and, for extended reports, the certificate table in the clear), so the
 * socket carries only ciphertext guest messages as on hardware.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/cursor.h"
#include "basic/fileio.h"
#include "basic/limits.h"
#include "emu/amdsp.h"

static int read_full(int fd, void *buf, size_t n) {
        size_t got;
        int r = cp_read_full(fd, buf, n, "read", &got);
        if (r >= 0 && got < n)
                r = CP_ERROR(CP_ETRUNC, "connection closed mid-frame");
        return r;
}

int cp_amdsp_serve_conn(cp_amdsp *sp, int fd) {
        uint8_t hdr[CP_AMDSP_FRAME_HDR_SIZE], msg[CP_MAX_SNP_GUEST_MSG], resp[CP_MAX_SNP_GUEST_MSG];
        uint8_t out[4 + 16];
        uint32_t magic = 0, version = 0, handle = 0, flags = 0, certs_cap = 0, msg_len = 0;
        uint32_t fw_error = CP_SNP_FW_INVALID_PARAM, vmm_error = 0, certs_out = 0;
        _cleanup_free_ uint8_t *certs = NULL;
        size_t certs_len = 0, resp_len = 0;
        int r;

        if (!sp || fd < 0)
                return CP_ERROR(CP_EINVAL, "cp_amdsp_serve_conn: invalid arguments");
        if ((r = read_full(fd, hdr, sizeof(hdr))) < 0)
                return r;
        cp_cursor c = cp_cursor_make(hdr, sizeof(hdr));
        if ((r = cp_cursor_le32(&c, &magic)) < 0 || (r = cp_cursor_le32(&c, &version)) < 0 ||
            (r = cp_cursor_le32(&c, &handle)) < 0 || (r = cp_cursor_le32(&c, &flags)) < 0 ||
            (r = cp_cursor_le32(&c, &certs_cap)) < 0 || (r = cp_cursor_le32(&c, &msg_len)) < 0)
                return r;
        if (magic != CP_AMDSP_FRAME_REQ_MAGIC || version != 1)
                return CP_ERROR(CP_EFORMAT, "not an AMD-SP channel request frame");
        if (flags & ~CP_AMDSP_FRAME_WANT_CERTS)
                return CP_ERROR(CP_EFORMAT, "unknown frame flags 0x%x", flags);
        if (msg_len == 0 || msg_len > sizeof(msg))
                return CP_ERROR(CP_ETOOBIG, "guest message of %u bytes", msg_len);
        if ((r = read_full(fd, msg, msg_len)) < 0)
                return r;

        bool want = flags & CP_AMDSP_FRAME_WANT_CERTS;
        int req_r = cp_amdsp_guest_request(sp, handle, msg, msg_len, resp, sizeof(resp), &resp_len,
                                           want ? &certs : NULL, want ? &certs_len : NULL, &fw_error);
        if (req_r < 0) {
                resp_len = 0;
                if (fw_error == CP_SNP_FW_SUCCESS)
                        fw_error = CP_SNP_FW_INVALID_PARAM;
        } else if (want && certs_len > certs_cap) {
                /* As the kernel/hypervisor does: report the size needed, no
                 * message (the guest retries with a larger buffer and a new
                 * sequence number). */
                vmm_error = CP_AMDSP_VMM_ERR_INVALID_LEN;
                certs_out = (uint32_t) certs_len;
                resp_len = 0;
        } else
                certs_out = (uint32_t) certs_len;

        cp_writer w = cp_writer_make(out, sizeof(out));
        if ((r = cp_writer_le32(&w, CP_AMDSP_FRAME_RSP_MAGIC)) < 0 ||
            (r = cp_writer_le32(&w, req_r < 0 ? fw_error : CP_SNP_FW_SUCCESS)) < 0 ||
            (r = cp_writer_le32(&w, vmm_error)) < 0 || (r = cp_writer_le32(&w, certs_out)) < 0 ||
            (r = cp_writer_le32(&w, (uint32_t) resp_len)) < 0)
                return r;
        if ((r = cp_write_full(fd, out, sizeof(out), "write")) < 0 || (r = cp_write_full(fd, resp, resp_len, "write")) < 0)
                return r;
        if (req_r >= 0 && !vmm_error && certs_len && (r = cp_write_full(fd, certs, certs_len, "write")) < 0)
                return r;
        return req_r;
}
