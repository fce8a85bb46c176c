/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TDX guest interfaces as Linux exposes them (tdx_emu.h):
 *   - configfs-tsm: /sys/kernel/config/tsm/report/<entry>/{provider,
 *     inblob, outblob, generation}; provider "tdx_guest"; the outblob is
 *     the DCAP quote the host's quoting service made for a TDREPORT with
 *     REPORTDATA = inblob;
 *   - /dev/tdx_guest: TDX_CMD_GET_REPORT0 = _IOWR('T', 1, struct
 *     tdx_report_req { u8 reportdata[64]; u8 tdreport[1024]; }).
 * And the kernel side of both, emulated for a TD of the software host.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/fileio.h"
#include "basic/secure.h"
#include "confpool/tdx_quote.h"
#include "emu/tdx-emu-internal.h"
#include "emu/tsm.h"

#define DEFAULT_TSM_ROOT "/sys/kernel/config/tsm/report"


/* TDG.MR.REPORT then GetQuote over the emulated channel. */
static int chan_quote(const char *path, const uint8_t report_data[64], uint8_t **ret, size_t *ret_len) {
        _cleanup_free_ uint8_t *rep = NULL;
        size_t rl = 0;
        int r = tdx_chan_call(path, CP_TDX_CHAN_REPORT, report_data, 64, CP_TDX_TDREPORT_SIZE, &rep, &rl);
        if (r < 0)
                return r;
        if (rl != CP_TDX_TDREPORT_SIZE)
                return CP_ERROR(CP_EFORMAT, "TDX channel: a TDREPORT of %zu bytes", rl);
        return tdx_chan_call(path, CP_TDX_CHAN_QUOTE, rep, rl, CP_TDX_MAX_QUOTE_SIZE, ret, ret_len);
}
#define DEFAULT_DEVICE "/dev/tdx_guest"

static void hook(const cp_tdx_guest_options *o, const char *entry, int ev) {
        if (o->tsm_hook)
                o->tsm_hook(entry, ev, o->tsm_userdata);
}

static int tsm_run(const cp_tdx_guest_options *o, const char *entry, const uint8_t report_data[64], uint8_t **ret,
                   size_t *ret_len) {
        _cleanup_free_ uint8_t *out = NULL;
        size_t ol = 0;
        uint64_t g0 = 0, g1 = 0;
        cp_tdx_quote q;
        int r;
        if ((r = cp_tsm_check_provider(entry, "tdx_guest")) < 0)
                return r;
        if ((r = cp_tsm_read_generation(entry, &g0)) < 0 || (r = cp_tsm_write_attr(entry, "inblob", report_data, 64)) < 0)
                return r;
        hook(o, entry, CP_TDX_TSM_EVENT_WRITTEN);
        hook(o, entry, CP_TDX_TSM_EVENT_READING);
        if ((r = cp_tsm_read_attr(entry, "outblob", CP_TDX_MAX_QUOTE_SIZE, &out, &ol)) < 0 ||
            (r = cp_tsm_read_generation(entry, &g1)) < 0)
                return r;
        if (g1 != g0 + 1)
                return CP_ERROR(CP_EBADSEQ, "configfs-tsm generation went from %llu to %llu: concurrent writer",
                                (unsigned long long) g0, (unsigned long long) g1);
        if ((r = cp_tdx_quote_parse(out, ol, 0, &q)) < 0)
                return cp_error_wrap("configfs-tsm outblob");
        if (memcmp(q.body.report_data, report_data, 64) != 0)
                return CP_ERROR(CP_EBINDING, "configfs-tsm outblob is a quote for other REPORTDATA");
        *ret = TAKE_PTR(out);
        *ret_len = ol;
        return 0;
}

int cp_tdx_guest_get_quote(const cp_tdx_guest_options *o, const uint8_t report_data[64], uint8_t **ret,
                           size_t *ret_len) {
        static unsigned counter;
        static const cp_tdx_guest_options none;
        char entry[4096];
        int r;
        if (!report_data || !ret || !ret_len)
                return CP_ERROR(CP_EINVAL, "cp_tdx_guest_get_quote: NULL argument");
        if (!o)
                o = &none;
        if (o->socket_path) {
                cp_tdx_quote q;
                if ((r = chan_quote(o->socket_path, report_data, ret, ret_len)) < 0)
                        return r;
                if ((r = cp_tdx_quote_parse(*ret, *ret_len, 0, &q)) < 0 ||
                    (memcmp(q.body.report_data, report_data, 64) != 0 &&
                     (r = CP_ERROR(CP_EBINDING, "TDX channel: a quote for other REPORTDATA")) < 0)) {
                        free(*ret);
                        *ret = NULL;
                        return r;
                }
                return 0;
        }
        const char *root = o->tsm_root ? o->tsm_root : DEFAULT_TSM_ROOT;
        for (unsigned i = 0;; i++) {
                snprintf(entry, sizeof(entry), "%s/confpool-tdx-%ld-%u", root, (long) getpid(),
                         __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
                if (mkdir(entry, 0700) == 0)
                        break;
                if (errno != EEXIST || i >= 16)
                        return CP_ERROR(errno == ENOENT ? CP_ENOTFOUND : CP_EIO, "configfs-tsm: mkdir %s: %s", entry,
                                        strerror(errno));
        }
        hook(o, entry, CP_TDX_TSM_EVENT_CREATED);
        r = tsm_run(o, entry, report_data, ret, ret_len);
        hook(o, entry, CP_TDX_TSM_EVENT_REMOVING);
        (void) rmdir(entry);
        return r;
}

int cp_tdx_guest_get_report0(const cp_tdx_guest_options *o, const uint8_t report_data[64],
                             uint8_t ret[CP_TDX_TDREPORT_SIZE]) {
        static const cp_tdx_guest_options none;
        struct cp_tdx_report_req req = { 0 };
        if (!report_data || !ret)
                return CP_ERROR(CP_EINVAL, "cp_tdx_guest_get_report0: NULL argument");
        if (!o)
                o = &none;
        if (o->socket_path) {
                _cleanup_free_ uint8_t *rep = NULL;
                size_t rl = 0;
                int r = tdx_chan_call(o->socket_path, CP_TDX_CHAN_REPORT, report_data, 64, CP_TDX_TDREPORT_SIZE, &rep, &rl);
                if (r < 0)
                        return r;
                if (rl != CP_TDX_TDREPORT_SIZE || rep[0] != CP_TDX_TEE_TYPE)
                        return CP_ERROR(CP_EFORMAT, "TDX channel: not a TDREPORT (%zu bytes)", rl);
                memcpy(ret, rep, CP_TDX_TDREPORT_SIZE);
                return 0;
        }
        const char *dev = o->device ? o->device : DEFAULT_DEVICE;
        int fd = open(dev, O_RDWR | O_CLOEXEC);
        if (fd < 0)
                return CP_ERROR(errno == ENOENT ? CP_ENOTFOUND : CP_EIO, "cannot open %s: %s", dev, strerror(errno));
        memcpy(req.reportdata, report_data, 64);
        int k = o->ioctl_fn ? o->ioctl_fn(fd, CP_TDX_CMD_GET_REPORT0, &req, o->ioctl_userdata)
                            : ioctl(fd, CP_TDX_CMD_GET_REPORT0, &req);
        int e = errno;
        close(fd);
        if (k < 0)
                return CP_ERROR(CP_EIO, "%s: TDX_CMD_GET_REPORT0 failed: %s", dev, strerror(e));
        if (req.tdreport[0] != CP_TDX_TEE_TYPE)
                return CP_ERROR(CP_EFORMAT, "%s returned a report of type 0x%02x, not a TDREPORT", dev, req.tdreport[0]);
        memcpy(ret, req.tdreport, CP_TDX_TDREPORT_SIZE);
        return 0;
}

/* ---- the emulated kernel */

static int emu_generation(const char *entry, uint64_t v) {
        char path[4096], buf[32];
        int r = cp_tsm_attr_path(entry, "generation", path, sizeof(path));
        int n = snprintf(buf, sizeof(buf), "%llu\n", (unsigned long long) v);
        return r < 0 ? r : cp_write_file(path, buf, (size_t) n, 0600);
}

static int emu_quote(cp_tdx_emu *e, const char *entry) {
        _cleanup_free_ uint8_t *in = NULL, *q = NULL;
        uint8_t rep[CP_TDX_TDREPORT_SIZE];
        char path[4096];
        size_t il = 0, ql = 0;
        int r;
        if ((r = cp_tsm_read_attr(entry, "inblob", 64, &in, &il)) < 0)
                return r;
        if (il != 64)
                return CP_ERROR(CP_EINVAL, "inblob is %zu bytes, not 64", il);
        if ((r = cp_tdx_td_report(e->td, in, rep)) < 0 || (r = cp_tdx_host_quote(e->host, rep, &q, &ql)) < 0 ||
            (r = cp_tsm_attr_path(entry, "outblob", path, sizeof(path))) < 0)
                return r;
        return cp_write_file(path, q, ql, 0600);
}

void cp_tdx_emu_tsm_hook(const char *entry, int event, void *userdata) {
        static const char *const files[] = { "provider", "generation", "inblob", "outblob" };
        char path[4096];
        uint64_t g = 0;
        switch (event) {
        case CP_TDX_TSM_EVENT_CREATED:
                if (cp_tsm_attr_path(entry, "provider", path, sizeof(path)) < 0 ||
                    cp_write_file(path, "tdx_guest\n", 10, 0600) < 0 || emu_generation(entry, 0) < 0 ||
                    cp_tsm_attr_path(entry, "inblob", path, sizeof(path)) < 0 || cp_write_file(path, "", 0, 0600) < 0)
                        cp_error_clear();
                break;
        case CP_TDX_TSM_EVENT_WRITTEN:
                if (cp_tsm_read_generation(entry, &g) < 0 || emu_generation(entry, g + 1) < 0)
                        cp_error_clear();
                break;
        case CP_TDX_TSM_EVENT_READING:
                if (emu_quote(userdata, entry) < 0)
                        cp_error_clear(); /* no outblob: the guest's read fails, as the kernel's does */
                break;
        case CP_TDX_TSM_EVENT_REMOVING:
                for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
                        if (cp_tsm_attr_path(entry, files[i], path, sizeof(path)) == 0)
                                (void) unlink(path);
                break;
        default:
                break;
        }
}

int cp_tdx_emu_ioctl(int fd, unsigned long request, void *arg, void *userdata) {
        cp_tdx_emu *e = userdata;
        struct cp_tdx_report_req *req = arg;
        (void) fd;
        if (request != CP_TDX_CMD_GET_REPORT0) {
                errno = ENOTTY;
                return -1;
        }
        if (cp_tdx_td_report(e->td, req->reportdata, req->tdreport) < 0) {
                cp_error_clear();
                errno = EIO;
                return -1;
        }
        return 0;
}
