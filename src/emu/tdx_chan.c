/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The emulated channel of a software TD (tdx_emu.h): the frames a guest
 * process exchanges with the software TDX host over a unix socket, in the
 * place of TDG.MR.REPORT (a TDCALL on hardware) and of the GetQuote
 * TDVMCALL the VMM forwards to its quote generation service.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/cursor.h"
#include "basic/fileio.h"
#include "confpool/tdx_quote.h"
#include "emu/tdx-emu-internal.h"

#define TDX_CHAN_TRIES 8 /* 0.1 + 0.2 + ... + 0.7 s between them */

static int read_full(int fd, void *buf, size_t n) {
        size_t got;
        int r = cp_read_full(fd, buf, n, "TDX channel", &got);
        if (r >= 0 && got < n)
                r = CP_ERROR(CP_ETRUNC, "TDX channel closed mid-frame");
        return r;
}

static int send_frame(int fd, uint32_t magic, uint32_t a, uint32_t b, const uint8_t *p, uint32_t len, bool req) {
        uint8_t h[CP_TDX_CHAN_HDR_SIZE];
        cp_writer w = cp_writer_make(h, sizeof(h));
        int r;
        if ((r = cp_writer_le32(&w, magic)) < 0 || (req && (r = cp_writer_le32(&w, a)) < 0) ||
            (r = cp_writer_le32(&w, b)) < 0 || (r = cp_writer_le32(&w, len)) < 0 ||
            (r = cp_write_full(fd, h, w.off, "TDX channel")) < 0 || (r = cp_write_full(fd, p, len, "TDX channel")) < 0)
                return r;
        return 0;
}

/* What the host answers to op: *ret malloc()ed. */
static int answer(cp_tdx_emu *e, uint32_t op, const uint8_t *in, uint8_t **ret, size_t *ret_len) {
        if (op == CP_TDX_CHAN_QUOTE)
                return cp_tdx_host_quote(e->host, in, ret, ret_len);
        uint8_t *rep = malloc(CP_TDX_TDREPORT_SIZE);
        if (!rep)
                return cp_error_oom();
        int r = cp_tdx_td_report(e->td, in, rep);
        if (r < 0) {
                free(rep);
                return r;
        }
        *ret = rep;
        *ret_len = CP_TDX_TDREPORT_SIZE;
        return 0;
}

int cp_tdx_emu_serve_conn(cp_tdx_emu *e, int fd) {
        uint8_t hdr[CP_TDX_CHAN_HDR_SIZE], in[CP_TDX_TDREPORT_SIZE];
        uint32_t magic = 0, version = 0, op = 0, len = 0;
        _cleanup_free_ uint8_t *out = NULL;
        size_t out_len = 0;
        int r;
        if (!e || fd < 0)
                return CP_ERROR(CP_EINVAL, "cp_tdx_emu_serve_conn: invalid arguments");
        if ((r = read_full(fd, hdr, sizeof(hdr))) < 0)
                return r;
        cp_cursor c = cp_cursor_make(hdr, sizeof(hdr));
        if ((r = cp_cursor_le32(&c, &magic)) < 0 || (r = cp_cursor_le32(&c, &version)) < 0 ||
            (r = cp_cursor_le32(&c, &op)) < 0 || (r = cp_cursor_le32(&c, &len)) < 0)
                return r;
        if (magic != CP_TDX_CHAN_REQ_MAGIC || version != 1)
                return CP_ERROR(CP_EFORMAT, "not a TDX channel request frame (magic 0x%08x, version %u)", magic, version);
        if (op != CP_TDX_CHAN_REPORT && op != CP_TDX_CHAN_QUOTE)
                return CP_ERROR(CP_EFORMAT, "TDX channel: unknown op %u", op);
        if (len != (op == CP_TDX_CHAN_REPORT ? 64u : CP_TDX_TDREPORT_SIZE))
                return CP_ERROR(CP_EFORMAT, "TDX channel: op %u takes %u bytes, not %u", op,
                                op == CP_TDX_CHAN_REPORT ? 64u : CP_TDX_TDREPORT_SIZE, len);
        if ((r = read_full(fd, in, len)) < 0)
                return r;
        int k = answer(e, op, in, &out, &out_len);
        if ((r = send_frame(fd, CP_TDX_CHAN_RSP_MAGIC, 0, k < 0 ? (uint32_t) -k : 0, out, k < 0 ? 0 : (uint32_t) out_len,
                            false)) < 0)
                return r;
        return k;
}

/* ---- the guest side */

static int chan_connect(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(path) >= sizeof(sa.sun_path))
                return CP_ERROR(CP_EINVAL, "socket path too long");
        strcpy(sa.sun_path, path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return CP_ERROR(CP_EIO, "socket: %s", strerror(errno));
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                int r = CP_ERROR(errno == ENOENT ? CP_ENOTFOUND : CP_EIO, "connect %s: %s", path, strerror(errno));
                close(fd);
                return r;
        }
        return fd;
}

/* Connected and the request sent, the answer's header read: *again when
 * the host was away (no socket, nobody listening, or the connection closed
 * before any answer: its VMM restarting), worth another try. */
static int chan_exchange(const char *path, uint32_t op, const uint8_t *in, size_t in_len,
                         uint8_t h[CP_TDX_CHAN_RSP_HDR_SIZE], bool *again) {
        size_t got = 0;
        int fd = chan_connect(path), r;
        *again = fd < 0;
        if (fd < 0)
                return fd;
        if ((r = send_frame(fd, CP_TDX_CHAN_REQ_MAGIC, 1, op, in, (uint32_t) in_len, true)) < 0 ||
            (r = cp_read_full(fd, h, CP_TDX_CHAN_RSP_HDR_SIZE, "TDX channel", &got)) < 0) {
                *again = true;
        } else if (got == 0) {
                *again = true;
                r = CP_ERROR(CP_EIO, "TDX channel %s closed before an answer (the host restarting?)", path);
        } else if (got < CP_TDX_CHAN_RSP_HDR_SIZE)
                r = CP_ERROR(CP_ETRUNC, "TDX channel closed mid-frame");
        if (r < 0) {
                close(fd);
                return r;
        }
        return fd;
}

int tdx_chan_call(const char *path, uint32_t op, const uint8_t *in, size_t in_len, size_t max, uint8_t **ret,
                  size_t *ret_len) {
        uint8_t h[CP_TDX_CHAN_RSP_HDR_SIZE];
        uint32_t magic = 0, status = 0, len = 0;
        bool again = false;
        int fd = -1, r;
        /* a host whose VMM restarts (confpoold killed and started again)
         * reopens the socket: a bounded retry, ~3 s, then the caller's error
         * (the agent defers its re-attestation on CP_EIO / CP_ENOTFOUND) */
        for (int attempt = 0; attempt < TDX_CHAN_TRIES; attempt++) {
                if (attempt > 0) {
                        cp_error_clear();
                        nanosleep(&(struct timespec) {0, 100L * 1000000L * attempt}, NULL);
                }
                if ((fd = chan_exchange(path, op, in, in_len, h, &again)) >= 0 || !again)
                        break;
        }
        if (fd < 0)
                return fd;
        r = 0;
        cp_cursor c = cp_cursor_make(h, sizeof(h));
        if ((r = cp_cursor_le32(&c, &magic)) < 0 || (r = cp_cursor_le32(&c, &status)) < 0 ||
            (r = cp_cursor_le32(&c, &len)) < 0)
                goto out;
        if (magic != CP_TDX_CHAN_RSP_MAGIC) {
                r = CP_ERROR(CP_EFORMAT, "not a TDX channel response frame");
                goto out;
        }
        if (status != 0) {
                r = CP_ERROR(CP_EIO, "the TDX host refused op %u: %s", op, cp_err_name(-(int) status));
                goto out;
        }
        if (len == 0 || len > max) {
                r = CP_ERROR(CP_EFORMAT, "TDX channel answer of %u bytes (1..%zu)", len, max);
                goto out;
        }
        uint8_t *b = malloc(len);
        if (!b) {
                r = cp_error_oom();
                goto out;
        }
        if ((r = read_full(fd, b, len)) < 0) {
                free(b);
                goto out;
        }
        *ret = b;
        *ret_len = len;
out:
        close(fd);
        return r;
}

/* ---- a listener serving one TD's channel */

struct cp_tdx_chan {
        cp_tdx_emu *e;
        int fd;
        dev_t dev;  /* the socket file bound (stop removes it only if it is still this one) */
        ino_t ino;
        char path[108];
        pthread_t thread;
};

static void *chan_loop(void *arg) {
        cp_tdx_chan *c = arg;
        for (;;) {
                int fd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC);
                if (fd < 0) {
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        return NULL; /* shut down */
                }
                if (cp_tdx_emu_serve_conn(c->e, fd) < 0)
                        cp_error_clear(); /* a refused request: the guest sees the status or a closed socket */
                close(fd);
        }
}

int cp_tdx_chan_start(cp_tdx_emu *e, const char *path, cp_tdx_chan **ret) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (!e || !path || !ret || strlen(path) >= sizeof(sa.sun_path))
                return CP_ERROR(CP_EINVAL, "cp_tdx_chan_start: bad arguments (socket path of 1..107 bytes)");
        cp_tdx_chan *c = calloc(1, sizeof(*c));
        if (!c)
                return cp_error_oom();
        c->e = e;
        strcpy(c->path, path);
        strcpy(sa.sun_path, path);
        (void) unlink(path);
        c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct stat st;
        if (c->fd < 0 || bind(c->fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || chmod(path, 0600) < 0 ||
            stat(path, &st) < 0 || listen(c->fd, 16) < 0 ||
            (c->dev = st.st_dev, c->ino = st.st_ino, pthread_create(&c->thread, NULL, chan_loop, c)) != 0) {
                int r = CP_ERROR(CP_EIO, "TDX channel %s: %s", path, strerror(errno));
                if (c->fd >= 0)
                        close(c->fd);
                free(c);
                return r;
        }
        *ret = c;
        return 0;
}

cp_tdx_chan *cp_tdx_chan_stop(cp_tdx_chan *c) {
        if (!c)
                return NULL;
        shutdown(c->fd, SHUT_RDWR);
        pthread_join(c->thread, NULL);
        close(c->fd);
        /* not a socket another process (the TD's next VMM) bound at the same path since */
        struct stat st;
        if (stat(c->path, &st) == 0 && st.st_dev == c->dev && st.st_ino == c->ino)
                (void) unlink(c->path);
        free(c);
        return NULL;
}
