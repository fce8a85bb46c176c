/* SPDX-License-Identifier: Apache-2.0 */
/* Guest-side SEV-SNP report client over three transports (see snp_guest.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/cursor.h"
#include "basic/fileio.h"
#include "basic/limits.h"
#include "basic/secure.h"
#include "emu/amdsp.h"
#include "emu/snp_guest.h"
#include "emu/tsm.h"

_Static_assert(sizeof(struct cp_snp_guest_request_ioctl) == 32, "snp_guest_request_ioctl is 32 bytes");
_Static_assert(sizeof(struct cp_snp_report_req_uapi) == 96, "snp_report_req is 96 bytes");
_Static_assert(sizeof(struct cp_snp_ext_report_req_uapi) == 112, "snp_ext_report_req is 112 bytes");

#define DEFAULT_SEV_GUEST "/dev/sev-guest"
#define DEFAULT_TSM_ROOT  "/sys/kernel/config/tsm/report"

static const char *const transport_names[_CP_SNP_TRANSPORT_MAX] = {
        [CP_SNP_TRANSPORT_AUTO] = "auto",
        [CP_SNP_TRANSPORT_SEV_GUEST] = "sev-guest",
        [CP_SNP_TRANSPORT_CONFIGFS_TSM] = "configfs-tsm",
        [CP_SNP_TRANSPORT_EMULATED] = "emulated",
};

const char *cp_snp_transport_name(cp_snp_transport t) {
        return t >= 0 && t < _CP_SNP_TRANSPORT_MAX ? transport_names[t] : "invalid";
}

int cp_snp_transport_from_name(const char *s, cp_snp_transport *ret) {
        for (int i = 0; s && i < _CP_SNP_TRANSPORT_MAX; i++)
                if (strcmp(s, transport_names[i]) == 0) {
                        *ret = (cp_snp_transport) i;
                        return 0;
                }
        return CP_ERROR(CP_EINVAL, "unknown transport '%s' (auto, sev-guest, configfs-tsm, emulated)", s ? s : "");
}

void cp_snp_guest_report_clear(cp_snp_guest_report *r) {
        if (!r)
                return;
        free(r->certs);
        r->certs = NULL;
        r->certs_len = 0;
}

static int fw_status_error(uint32_t status, const char *what) {
        if (status == CP_SNP_FW_INVALID_PARAM)
                return CP_ERROR(CP_EINVAL, "%s: firmware status 0x%x (INVALID_PARAM)", what, status);
        return CP_ERROR(CP_EIO, "%s: firmware status 0x%x", what, status);
}

/* ---- /dev/sev-guest --------------------------------------------------------- */

static int default_ioctl(int fd, unsigned long request, void *arg, void *ud) {
        (void) ud;
        return ioctl(fd, request, arg);
}

static int sev_guest(const cp_snp_guest_options *o, const uint8_t report_data[64], uint32_t vmpl, bool extended,
                     cp_snp_guest_report *ret) {
        const char *path = o->sev_guest_path ? o->sev_guest_path : DEFAULT_SEV_GUEST;
        cp_snp_ioctl_fn fn = o->ioctl_fn ? o->ioctl_fn : default_ioctl;
        struct cp_snp_ext_report_req_uapi req;
        _cleanup_free_ struct cp_snp_report_resp_uapi *resp = calloc(1, sizeof(*resp));
        _cleanup_free_ uint8_t *certs = NULL;
        uint32_t status = 0;
        int r;

        if (!resp)
                return cp_error_oom();
        int fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0)
                return CP_ERROR(errno == ENOENT ? CP_ENOTFOUND : CP_EIO, "cannot open %s: %s", path, strerror(errno));
        memset(&req, 0, sizeof(req));
        memcpy(req.data.user_data, report_data, 64);
        req.data.vmpl = vmpl;
        for (unsigned attempt = 0;; attempt++) {
                struct cp_snp_guest_request_ioctl io = {
                        .msg_version = 1,
                        .req_data = (uint64_t) (uintptr_t) &req,
                        .resp_data = (uint64_t) (uintptr_t) resp,
                };
                if (!extended)
                        io.req_data = (uint64_t) (uintptr_t) &req.data;
                req.certs_address = (uint64_t) (uintptr_t) certs;
                int k = fn(fd, extended ? CP_SNP_GET_EXT_REPORT : CP_SNP_GET_REPORT, &io, o->ioctl_userdata);
                if (k == 0)
                        break;
                int e = errno;
                uint32_t vmm = (uint32_t) (io.exitinfo2 >> 32), fw = (uint32_t) io.exitinfo2;
                if (extended && vmm == CP_SNP_VMM_ERR_INVALID_LEN && attempt == 0) {
                        /* The kernel wrote the size needed into certs_len. */
                        if (req.certs_len == 0 || req.certs_len > CP_MAX_CERTTABLE_SIZE) {
                                close(fd);
                                return CP_ERROR(CP_ETOOBIG, "%s: certificate blob of %u bytes", path, req.certs_len);
                        }
                        free(certs);
                        certs = calloc(1, req.certs_len);
                        if (!certs) {
                                close(fd);
                                return cp_error_oom();
                        }
                        continue;
                }
                close(fd);
                if (fw)
                        return fw_status_error(fw, path);
                return CP_ERROR(CP_EIO, "%s: ioctl failed: %s (vmm error %u)", path, strerror(e), vmm);
        }
        close(fd);
        r = cp_snp_report_rsp_parse(resp->data, CP_SNP_MSG_REPORT_RSP_SIZE, &status, ret->report);
        if (r < 0)
                return r;
        if (status != CP_SNP_FW_SUCCESS)
                return fw_status_error(status, "MSG_REPORT_RSP");
        if (extended && certs) {
                ret->certs_len = req.certs_len;
                ret->certs = TAKE_PTR(certs);
        }
        return 0;
}

/* ---- configfs-tsm --------------------------------------------------------------- */

static int tsm_run(const cp_snp_guest_options *o, const char *entry, const uint8_t report_data[64], uint32_t vmpl,
                   bool extended, cp_snp_guest_report *ret) {
        _cleanup_free_ uint8_t *out = NULL, *aux = NULL;
        size_t ol = 0, al = 0;
        uint64_t g0 = 0, g1 = 0;
        char lvl[16];
        int r;

        if ((r = cp_tsm_check_provider(entry, "sev_guest")) < 0)
                return r;
        if ((r = cp_tsm_read_generation(entry, &g0)) < 0 || (r = cp_tsm_write_attr(entry, "inblob", report_data, 64)) < 0)
                return r;
        snprintf(lvl, sizeof(lvl), "%u\n", vmpl);
        if ((r = cp_tsm_write_attr(entry, "privlevel", lvl, strlen(lvl))) < 0)
                return r;
        if (o->tsm_hook)
                o->tsm_hook(entry, CP_SNP_TSM_EVENT_WRITTEN, o->tsm_userdata);
        if ((r = cp_tsm_read_attr(entry, "outblob", CP_MAX_CERTTABLE_SIZE, &out, &ol)) < 0)
                return r;
        if (ol != CP_SNP_REPORT_SIZE)
                return CP_ERROR(ol < CP_SNP_REPORT_SIZE ? CP_ETRUNC : CP_ETRAILING,
                                "configfs-tsm outblob is %zu bytes, expected %u", ol, CP_SNP_REPORT_SIZE);
        if (extended && (r = cp_tsm_read_attr(entry, "auxblob", CP_MAX_CERTTABLE_SIZE, &aux, &al)) < 0)
                return r;
        if ((r = cp_tsm_read_generation(entry, &g1)) < 0)
                return r;
        /* our two writes (inblob, privlevel) bump the generation by two; any
         * other value means someone else wrote to the entry meanwhile */
        if (g1 != g0 + 2)
                return CP_ERROR(CP_EBADSEQ, "configfs-tsm generation went from %llu to %llu: concurrent writer",
                                (unsigned long long) g0, (unsigned long long) g1);
        memcpy(ret->report, out, CP_SNP_REPORT_SIZE);
        if (aux && al > 0) {
                ret->certs = TAKE_PTR(aux);
                ret->certs_len = al;
        }
        return 0;
}

static int configfs_tsm(const cp_snp_guest_options *o, const uint8_t report_data[64], uint32_t vmpl, bool extended,
                        cp_snp_guest_report *ret) {
        static unsigned counter;
        const char *root = o->tsm_root ? o->tsm_root : DEFAULT_TSM_ROOT;
        char entry[4096];
        int r;

        for (unsigned i = 0;; i++) {
                snprintf(entry, sizeof(entry), "%s/confpool-%ld-%u", root, (long) getpid(),
                         __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
                if (mkdir(entry, 0700) == 0)
                        break;
                if (errno != EEXIST || i >= 16)
                        return CP_ERROR(errno == ENOENT ? CP_ENOTFOUND : CP_EIO, "configfs-tsm: mkdir %s: %s", entry,
                                        strerror(errno));
        }
        if (o->tsm_hook)
                o->tsm_hook(entry, CP_SNP_TSM_EVENT_CREATED, o->tsm_userdata);
        r = tsm_run(o, entry, report_data, vmpl, extended, ret);
        if (o->tsm_hook)
                o->tsm_hook(entry, CP_SNP_TSM_EVENT_REMOVING, o->tsm_userdata);
        (void) rmdir(entry); /* configfs removes the attributes with the directory */
        return r;
}

/* ---- emulated AMD-SP ------------------------------------------------------------- */

static int io_full(int fd, void *buf, size_t n, bool wr) {
        if (!wr) {
                size_t got;
                int r = cp_read_full(fd, buf, n, "AMD-SP socket", &got);
                if (r >= 0 && got < n)
                        r = CP_ERROR(CP_ETRUNC, "AMD-SP socket closed mid-frame");
                return r;
        }
        return cp_write_full(fd, buf, n, "AMD-SP socket");
}

typedef struct chan_answer {
        uint32_t fw_error, vmm_error, certs_len, msg_len;
        uint8_t msg[CP_MAX_SNP_GUEST_MSG];
        uint8_t *certs;
} chan_answer;

static int chan_exchange(const cp_snp_guest_options *o, const uint8_t *msg, size_t len, bool want_certs,
                         uint32_t certs_cap, chan_answer *a) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        uint8_t hdr[CP_AMDSP_FRAME_HDR_SIZE], rh[20];
        uint32_t magic = 0;
        int r;

        if (strlen(o->socket_path) >= sizeof(sa.sun_path))
                return CP_ERROR(CP_EINVAL, "socket path too long");
        strcpy(sa.sun_path, o->socket_path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return CP_ERROR(CP_EIO, "socket: %s", strerror(errno));
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                r = CP_ERROR(errno == ENOENT ? CP_ENOTFOUND : CP_EIO, "connect %s: %s", o->socket_path,
                             strerror(errno));
                close(fd);
                return r;
        }
        cp_writer w = cp_writer_make(hdr, sizeof(hdr));
        if ((r = cp_writer_le32(&w, CP_AMDSP_FRAME_REQ_MAGIC)) < 0 || (r = cp_writer_le32(&w, 1)) < 0 ||
            (r = cp_writer_le32(&w, o->guest_handle)) < 0 ||
            (r = cp_writer_le32(&w, want_certs ? CP_AMDSP_FRAME_WANT_CERTS : 0)) < 0 ||
            (r = cp_writer_le32(&w, certs_cap)) < 0 || (r = cp_writer_le32(&w, (uint32_t) len)) < 0 ||
            (r = io_full(fd, hdr, sizeof(hdr), true)) < 0 || (r = io_full(fd, (void *) msg, len, true)) < 0 ||
            (r = io_full(fd, rh, sizeof(rh), false)) < 0)
                goto out;
        cp_cursor c = cp_cursor_make(rh, sizeof(rh));
        if ((r = cp_cursor_le32(&c, &magic)) < 0 || (r = cp_cursor_le32(&c, &a->fw_error)) < 0 ||
            (r = cp_cursor_le32(&c, &a->vmm_error)) < 0 || (r = cp_cursor_le32(&c, &a->certs_len)) < 0 ||
            (r = cp_cursor_le32(&c, &a->msg_len)) < 0)
                goto out;
        if (magic != CP_AMDSP_FRAME_RSP_MAGIC) {
                r = CP_ERROR(CP_EFORMAT, "not an AMD-SP response frame");
                goto out;
        }
        if (a->msg_len > sizeof(a->msg)) {
                r = CP_ERROR(CP_ETOOBIG, "AMD-SP response message of %u bytes", a->msg_len);
                goto out;
        }
        if ((r = io_full(fd, a->msg, a->msg_len, false)) < 0)
                goto out;
        if (a->fw_error == 0 && a->vmm_error == 0 && a->certs_len > 0) {
                if (!want_certs || a->certs_len > certs_cap) {
                        r = CP_ERROR(CP_EFORMAT, "AMD-SP sent %u certificate bytes, capacity %u", a->certs_len,
                                     certs_cap);
                        goto out;
                }
                a->certs = malloc(a->certs_len);
                if (!a->certs) {
                        r = cp_error_oom();
                        goto out;
                }
                r = io_full(fd, a->certs, a->certs_len, false);
        }
out:
        close(fd);
        return r;
}

static int emulated(const cp_snp_guest_options *o, const uint8_t report_data[64], uint32_t vmpl, bool extended,
                    cp_snp_guest_report *ret) {
        uint8_t key[CP_SNP_VMPCK_LEN], req[CP_SNP_MSG_REPORT_REQ_SIZE], msg[CP_MAX_SNP_GUEST_MSG];
        uint8_t plain[CP_MAX_SNP_GUEST_MSG];
        _cleanup_free_ chan_answer *a = calloc(1, sizeof(*a));
        uint32_t certs_cap = extended ? 16384 : 0, status = 0;
        uint64_t seqno = 0;
        size_t mlen = 0, plen = 0;
        cp_snp_msg_hdr h;
        int r;

        if (!a)
                return cp_error_oom();
        if (!o->socket_path || !o->secrets_page)
                return CP_ERROR(CP_EINVAL, "emulated transport needs a socket path and the secrets page");
        if ((r = cp_snp_secrets_get(o->secrets_page, o->vmpck, key, &seqno)) < 0)
                return r;
        cp_snp_report_req q = { .vmpl = vmpl, .key_sel = o->key_sel };
        memcpy(q.report_data, report_data, 64);
        cp_snp_report_req_encode(&q, req);

        for (unsigned attempt = 0;; attempt++) {
                uint64_t s = seqno + 1; /* as Linux: last used + 1, odd */
                free(a->certs);
                memset(a, 0, sizeof(*a));
                if ((r = cp_snp_msg_seal(key, (uint8_t) o->vmpck, s, CP_SNP_MSG_REPORT_REQ, 1, req, sizeof(req), msg,
                                         sizeof(msg), &mlen)) < 0 ||
                    (r = chan_exchange(o, msg, mlen, extended, certs_cap, a)) < 0)
                        goto out;
                if (a->fw_error != 0) {
                        r = CP_ERROR(CP_EIO, "AMD-SP refused the guest request (firmware status 0x%x)", a->fw_error);
                        goto out;
                }
                /* The request was processed: its sequence number is used up. */
                seqno = s + 1;
                if ((r = cp_snp_secrets_set_seqno(o->secrets_page, o->vmpck, seqno)) < 0)
                        goto out;
                if (a->vmm_error == CP_AMDSP_VMM_ERR_INVALID_LEN && extended && attempt == 0 &&
                    a->certs_len <= CP_MAX_CERTTABLE_SIZE) {
                        certs_cap = a->certs_len;
                        continue;
                }
                if (a->vmm_error != 0) {
                        r = CP_ERROR(CP_EIO, "AMD-SP channel error %u", a->vmm_error);
                        goto out;
                }
                break;
        }
        r = cp_snp_msg_open(key, a->msg, a->msg_len, &h, plain, sizeof(plain), &plen);
        if (r == CP_ESIG) {
                /* As Linux: never reuse a key whose responses fail to verify. */
                cp_wipe(o->secrets_page + CP_SNP_SECRETS_VMPCK_OFF + o->vmpck * CP_SNP_VMPCK_LEN, CP_SNP_VMPCK_LEN);
                goto out;
        }
        if (r < 0)
                goto out;
        if (h.msg_type != CP_SNP_MSG_REPORT_RSP || h.seqno != seqno || h.vmpck != o->vmpck || h.msg_version != 1) {
                r = CP_ERROR(CP_EFORMAT, "unexpected response (type %u, seqno %llu, VMPCK %u)", h.msg_type,
                             (unsigned long long) h.seqno, h.vmpck);
                goto out;
        }
        if ((r = cp_snp_report_rsp_parse(plain, plen, &status, ret->report)) < 0)
                goto out;
        if (status != CP_SNP_FW_SUCCESS) {
                r = fw_status_error(status, "MSG_REPORT_RSP");
                goto out;
        }
        if (extended && a->certs) {
                ret->certs = TAKE_PTR(a->certs);
                ret->certs_len = a->certs_len;
        }
        r = 0;
out:
        if (a)
                free(a->certs);
        cp_wipe(key, sizeof(key));
        cp_wipe(plain, sizeof(plain));
        return r;
}

int cp_snp_guest_get_report(const cp_snp_guest_options *o, const uint8_t report_data[64], uint32_t vmpl,
                            bool extended, cp_snp_guest_report *ret) {
        cp_snp_guest_report res = { 0 };
        struct stat st;
        int r;

        if (!o || !report_data || !ret)
                return CP_ERROR(CP_EINVAL, "cp_snp_guest_get_report: NULL argument");
        if (vmpl > 3)
                return CP_ERROR(CP_EINVAL, "VMPL %u (0..3)", vmpl);
        cp_snp_transport t = o->transport;
        if (t == CP_SNP_TRANSPORT_AUTO) {
                if (stat(o->tsm_root ? o->tsm_root : DEFAULT_TSM_ROOT, &st) == 0 && S_ISDIR(st.st_mode))
                        t = CP_SNP_TRANSPORT_CONFIGFS_TSM;
                else if (stat(o->sev_guest_path ? o->sev_guest_path : DEFAULT_SEV_GUEST, &st) == 0)
                        t = CP_SNP_TRANSPORT_SEV_GUEST;
                else if (o->socket_path)
                        t = CP_SNP_TRANSPORT_EMULATED;
                else
                        return CP_ERROR(CP_ENOTFOUND, "no SEV-SNP guest interface (configfs-tsm, /dev/sev-guest) and "
                                                      "no AMD-SP socket");
        }
        switch (t) {
        case CP_SNP_TRANSPORT_SEV_GUEST:
                r = sev_guest(o, report_data, vmpl, extended, &res);
                break;
        case CP_SNP_TRANSPORT_CONFIGFS_TSM:
                r = configfs_tsm(o, report_data, vmpl, extended, &res);
                break;
        case CP_SNP_TRANSPORT_EMULATED:
                r = emulated(o, report_data, vmpl, extended, &res);
                break;
        default:
                return CP_ERROR(CP_EINVAL, "invalid transport %d", (int) t);
        }
        if (r < 0) {
                cp_snp_guest_report_clear(&res);
                return r;
        }
        res.transport = t;
        *ret = res;
        return 0;
}
