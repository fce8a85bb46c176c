/* SPDX-License-Identifier: Apache-2.0 */
/* confpool-amdspd's socket frames (cp_amdsp_serve_conn, amdsp_chan.c): the
 * bytes a guest's VMM writes to the unix socket, read by the emulated
 * AMD-SP of one launched guest.  Byte 0 bit 0 clear: the rest is the raw
 * connection (frame header, guest message, anything after).  Set: byte 1
 * is the frame's flags, byte 2 the certificate capacity (x 256), byte 3
 * picks the message type (MSG_REPORT_REQ or another), and the rest is a
 * payload sealed with the guest's VMPCK0 under the next sequence number,
 * so it reaches the AMD-SP's payload parsers past authentication.  The
 * answer is read back and must be a well-formed response frame: magic,
 * lengths that match what follows, a message only on success, and a
 * success's message opens under VMPCK0 with sequence number + 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/limits.h"
#include "emu/amdsp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static cp_amdsp *sp;
static uint32_t handle;
static uint8_t vmpck0[CP_SNP_VMPCK_LEN];
static uint64_t seq = 1; /* the guest's next odd sequence number; a gap is allowed, a repeat is not */

static void init(void) {
        static char dir[] = "/tmp/fuzz-amdsp-XXXXXX";
        static uint8_t secrets[CP_SNP_SECRETS_PAGE_SIZE];
        cp_amdsp_config c = { .generation = CP_SNP_GEN_MILAN, .tcb = { .bl = 3, .snp = 8, .ucode = 115 } };
        cp_amdsp_launch l = { .policy = 0x30000 };
        uint64_t last;
        memset(l.measurement, 0x11, sizeof l.measurement);
        if (!mkdtemp(dir) || cp_amdsp_open(dir, &c, &sp) < 0 || cp_amdsp_launch_guest(sp, &l, &handle, secrets) < 0 ||
            cp_snp_secrets_get(secrets, 0, vmpck0, &last) < 0)
                abort();
}

/* The host's RSA-4096 ARK/ASK take seconds: made once, outside the per-input timeout. */
int LLVMFuzzerInitialize(int *argc, char ***argv) {
        (void) argc;
        (void) argv;
        init();
        return 0;
}

static size_t put32(uint8_t *p, uint32_t v) {
        p[0] = (uint8_t) v;
        p[1] = (uint8_t) (v >> 8);
        p[2] = (uint8_t) (v >> 16);
        p[3] = (uint8_t) (v >> 24);
        return 4;
}

static uint32_t get32(const uint8_t *p) {
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

/* A frame carrying payload sealed under VMPCK0 (malloc()ed into *ret). */
static size_t sealed_frame(const uint8_t *data, size_t size, uint8_t **ret) {
        static uint8_t msg[CP_MAX_SNP_GUEST_MSG];
        size_t ml = 0;
        uint8_t type = (data[3] & 1) ? (uint8_t) (data[3] >> 1) : CP_SNP_MSG_REPORT_REQ;
        if (cp_snp_msg_seal(vmpck0, 0, seq, type, 1, data + 4, size - 4, msg, sizeof msg, &ml) < 0) {
                cp_error_clear();
                return 0;
        }
        seq += 2;
        uint8_t *f = malloc(CP_AMDSP_FRAME_HDR_SIZE + ml), *p = f;
        if (!f)
                abort();
        p += put32(p, CP_AMDSP_FRAME_REQ_MAGIC);
        p += put32(p, 1);
        p += put32(p, handle);
        p += put32(p, data[1] & 3);
        p += put32(p, (uint32_t) data[2] * 256u);
        p += put32(p, (uint32_t) ml);
        memcpy(p, msg, ml);
        *ret = f;
        return CP_AMDSP_FRAME_HDR_SIZE + ml;
}

static void check_response(const uint8_t *r, size_t n, uint64_t sent_seq) {
        if (n == 0)
                return; /* refused before answering (bad frame): the connection is just closed */
        if (n < 20 || get32(r) != CP_AMDSP_FRAME_RSP_MAGIC)
                abort();
        uint32_t fw = get32(r + 4), vmm = get32(r + 8), certs = get32(r + 12), ml = get32(r + 16);
        size_t expect = 20 + ml + (fw == 0 && !vmm ? certs : 0);
        if (n != expect || ml > CP_MAX_SNP_GUEST_MSG || (fw != 0 && ml) || (vmm && ml))
                abort();
        if (fw == 0 && !vmm && sent_seq) {
                static uint8_t plain[CP_MAX_SNP_GUEST_MSG];
                cp_snp_msg_hdr h;
                size_t pl;
                if (cp_snp_msg_open(vmpck0, r + 20, ml, &h, plain, sizeof plain, &pl) < 0 || h.seqno != sent_seq + 1)
                        abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (!sp)
                init();
        if (size < 4)
                return 0;
        uint8_t *frame = NULL;
        size_t fl;
        uint64_t sent = 0;
        if (data[0] & 1) {
                sent = seq;
                fl = sealed_frame(data, size, &frame);
                if (!fl)
                        return 0;
        } else {
                fl = size - 1;
                frame = malloc(fl ? fl : 1);
                if (!frame)
                        abort();
                memcpy(frame, data + 1, fl);
        }
        int sv[2];
        int buf = 1 << 20;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                abort();
        setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
        setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
        /* the whole request, then end of stream (a short frame is "closed mid-frame") */
        if (cp_write_full(sv[0], frame, fl, "write") < 0)
                abort();
        shutdown(sv[0], SHUT_WR);
        if (cp_amdsp_serve_conn(sp, sv[1]) < 0)
                cp_error_clear(); /* refused: what the guest sees is checked below */
        close(sv[1]);
        static uint8_t resp[1 << 20];
        size_t got = 0;
        /* a refusal closes with the rest of the request unread: a reset, no answer */
        if (cp_read_full(sv[0], resp, sizeof resp, "read", &got) < 0)
                got = 0;
        close(sv[0]);
        check_response(resp, got, sent);
        free(frame);
        cp_error_clear();
        return 0;
}
