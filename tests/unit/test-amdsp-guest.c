/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guest client transports: /dev/sev-guest through a fake ioctl (kernel uapi
 * structs, certs_len retry) and configfs-tsm on a fake tree, both answering
 * with a recorded real report and certificate table; the emulated channel
 * for real over a unix socket to an in-process AMD-SP.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "confpool/snp_verify.h"
#include "emu/amdsp.h"
#include "emu/snp_guest.h"
#include "tests.h"

static uint8_t *real_report, *real_certs;
static size_t real_certs_len;

static void load_recorded(void) {
        if (real_report)
                return;
        size_t n;
        real_report = cp_test_read("snp/virtee__sev/report_milan.bin", &n);
        ASSERT_EQ(n, CP_SNP_REPORT_SIZE);
        size_t vl, cl;
        uint8_t *vcek = cp_test_read("snp/virtee__sev/vcek_milan.der", &vl);
        uint8_t *chain = cp_test_read("snp/virtee__sev/cert_chain_milan", &cl);
        cp_snp_cert_entry e[2] = { { .kind = CP_SNP_CERT_VCEK, .data = vcek, .length = (uint32_t) vl },
                                   { .kind = CP_SNP_CERT_ASK, .data = chain, .length = (uint32_t) cl } };
        size_t need = 0;
        ASSERT_ERR(cp_snp_certtable_build(e, 2, NULL, 0, &need), CP_ETOOBIG);
        real_certs = malloc(need);
        ASSERT_OK(cp_snp_certtable_build(e, 2, real_certs, need, &real_certs_len));
        free(vcek);
        free(chain);
}

/* ---- fake /dev/sev-guest ---- */

typedef struct fake_dev {
        unsigned calls;
        uint32_t last_vmpl;
        uint8_t last_data[64];
        uint32_t fw_status;
} fake_dev;

static int fake_ioctl(int fd, unsigned long request, void *arg, void *ud) {
        (void) fd;
        fake_dev *f = ud;
        struct cp_snp_guest_request_ioctl *io = arg;
        f->calls++;
        ASSERT_EQ(io->msg_version, 1);
        struct cp_snp_report_resp_uapi *resp = (void *) (uintptr_t) io->resp_data;
        const struct cp_snp_report_req_uapi *req = (const void *) (uintptr_t) io->req_data;
        f->last_vmpl = req->vmpl;
        memcpy(f->last_data, req->user_data, 64);
        if (request == CP_SNP_GET_EXT_REPORT) {
                struct cp_snp_ext_report_req_uapi *x = (void *) (uintptr_t) io->req_data;
                if (x->certs_len < real_certs_len) {
                        x->certs_len = (uint32_t) ((real_certs_len + 4095) & ~(size_t) 4095);
                        io->exitinfo2 = (uint64_t) CP_SNP_VMM_ERR_INVALID_LEN << 32;
                        errno = EIO;
                        return -1;
                }
                memcpy((void *) (uintptr_t) x->certs_address, real_certs, real_certs_len);
        } else
                ASSERT_EQ(request, CP_SNP_GET_REPORT);
        memset(resp, 0, sizeof(*resp));
        resp->data[0] = (uint8_t) f->fw_status;
        if (f->fw_status == 0) {
                resp->data[4] = 0xa0;
                resp->data[5] = 0x04;
                memcpy(resp->data + 0x20, real_report, CP_SNP_REPORT_SIZE);
        }
        return 0;
}

TEST(sev_guest_transport) {
        load_recorded();
        char dev[] = "/tmp/cp-sev-guest-XXXXXX";
        int fd = mkstemp(dev);
        ASSERT_TRUE(fd >= 0);
        close(fd);
        fake_dev f = { 0 };
        cp_snp_guest_options o = { .transport = CP_SNP_TRANSPORT_SEV_GUEST, .sev_guest_path = dev,
                                   .ioctl_fn = fake_ioctl, .ioctl_userdata = &f };
        uint8_t rd[64];
        memset(rd, 0x3c, 64);
        cp_snp_guest_report r;
        ASSERT_OK(cp_snp_guest_get_report(&o, rd, 1, false, &r));
        ASSERT_MEMEQ(r.report, real_report, CP_SNP_REPORT_SIZE);
        ASSERT_EQ(r.certs_len, 0);
        ASSERT_EQ(f.last_vmpl, 1);
        ASSERT_EQ(f.last_data[63], 0x3c);
        ASSERT_EQ(r.transport, CP_SNP_TRANSPORT_SEV_GUEST);
        /* extended: first call with certs_len 0 fails with the size, the retry succeeds */
        f.calls = 0;
        ASSERT_OK(cp_snp_guest_get_report(&o, rd, 0, true, &r));
        ASSERT_EQ(f.calls, 2);
        ASSERT_TRUE(r.certs_len >= real_certs_len);
        cp_snp_certtable t;
        ASSERT_OK(cp_snp_certtable_parse(r.certs, r.certs_len, &t));
        ASSERT_TRUE(cp_snp_certtable_find(&t, CP_SNP_CERT_VCEK) != NULL);
        /* the recorded report and certificates verify as real evidence */
        cp_snp_verifier *v = NULL;
        ASSERT_OK(cp_snp_verifier_new(NULL, &v));
        cp_snp_evidence ev = { .report = r.report, .report_len = CP_SNP_REPORT_SIZE, .certtable = r.certs,
                               .certtable_len = r.certs_len };
        cp_snp_verify_options vo = CP_SNP_VERIFY_OPTIONS_INIT;
        vo.now = INT64_C(1748736000);
        cp_snp_verify_result *res = calloc(1, sizeof(*res));
        ASSERT_OK(cp_snp_verify(v, &ev, &vo, res));
        free(res);
        cp_snp_verifier_free(v);
        cp_snp_guest_report_clear(&r);
        /* firmware refusal in the response */
        f.fw_status = CP_SNP_FW_INVALID_PARAM;
        ASSERT_ERR(cp_snp_guest_get_report(&o, rd, 0, false, &r), CP_EINVAL);
        unlink(dev);
        o.sev_guest_path = "/nonexistent/sev-guest";
        ASSERT_ERR(cp_snp_guest_get_report(&o, rd, 0, false, &r), CP_ENOTFOUND);
        ASSERT_ERR(cp_snp_guest_get_report(&o, rd, 4, false, &r), CP_EINVAL);
}

/* ---- fake configfs-tsm ---- */

typedef struct fake_tsm {
        const char *provider;
        bool concurrent_writer;
        size_t outblob_len;
        char inblob_seen[64], privlevel_seen[8];
} fake_tsm;

static void put(const char *dir, const char *name, const void *d, size_t n) {
        char p[512];
        snprintf(p, sizeof(p), "%s/%s", dir, name);
        ASSERT_OK(cp_write_file(p, d, n, 0644));
}

static void tsm_hook(const char *entry, int event, void *ud) {
        fake_tsm *f = ud;
        char p[512];
        if (event == CP_SNP_TSM_EVENT_CREATED) {
                put(entry, "provider", f->provider, strlen(f->provider));
                put(entry, "generation", "0\n", 2);
                put(entry, "inblob", "", 0);
                put(entry, "privlevel", "", 0);
        } else if (event == CP_SNP_TSM_EVENT_WRITTEN) {
                uint8_t *d;
                size_t n;
                snprintf(p, sizeof(p), "%s/inblob", entry);
                ASSERT_OK(cp_read_file(p, 128, &d, &n));
                ASSERT_EQ(n, 64);
                memcpy(f->inblob_seen, d, 64);
                free(d);
                snprintf(p, sizeof(p), "%s/privlevel", entry);
                ASSERT_OK(cp_read_file(p, 16, &d, &n));
                snprintf(f->privlevel_seen, sizeof(f->privlevel_seen), "%.*s", (int) n, d);
                free(d);
                /* the kernel bumps the generation on each attribute write */
                put(entry, "generation", f->concurrent_writer ? "3\n" : "2\n", 2);
                put(entry, "outblob", real_report, f->outblob_len);
                put(entry, "auxblob", real_certs, real_certs_len);
        } else if (event == CP_SNP_TSM_EVENT_REMOVING) {
                const char *files[] = { "provider", "generation", "inblob", "privlevel", "outblob", "auxblob" };
                for (size_t i = 0; i < 6; i++) {
                        snprintf(p, sizeof(p), "%s/%s", entry, files[i]);
                        unlink(p);
                }
        }
}

TEST(configfs_tsm_transport) {
        load_recorded();
        char root[] = "/tmp/cp-tsm-XXXXXX";
        ASSERT_TRUE(mkdtemp(root) != NULL);
        fake_tsm f = { .provider = "sev_guest\n", .outblob_len = CP_SNP_REPORT_SIZE };
        cp_snp_guest_options o = { .tsm_root = root, .tsm_hook = tsm_hook, .tsm_userdata = &f,
                                   .sev_guest_path = "/nonexistent" };
        uint8_t rd[64];
        memset(rd, 0x7e, 64);
        cp_snp_guest_report r;
        /* auto picks configfs-tsm when the root exists */
        ASSERT_OK(cp_snp_guest_get_report(&o, rd, 2, true, &r));
        ASSERT_EQ(r.transport, CP_SNP_TRANSPORT_CONFIGFS_TSM);
        ASSERT_MEMEQ(r.report, real_report, CP_SNP_REPORT_SIZE);
        ASSERT_EQ(r.certs_len, real_certs_len);
        ASSERT_MEMEQ(r.certs, real_certs, real_certs_len);
        ASSERT_MEMEQ(f.inblob_seen, rd, 64);
        ASSERT_STREQ(f.privlevel_seen, "2\n");
        cp_snp_guest_report_clear(&r);
        /* the entry was removed */
        ASSERT_EQ(rmdir(root), 0);
        ASSERT_EQ(mkdir(root, 0700), 0);
        f.concurrent_writer = true;
        ASSERT_ERR(cp_snp_guest_get_report(&o, rd, 0, false, &r), CP_EBADSEQ);
        f.concurrent_writer = false;
        f.provider = "tdx_guest\n";
        ASSERT_ERR(cp_snp_guest_get_report(&o, rd, 0, false, &r), CP_EUNSUPPORTED);
        f.provider = "sev_guest\n";
        f.outblob_len = 100;
        ASSERT_ERR(cp_snp_guest_get_report(&o, rd, 0, false, &r), CP_ETRUNC);
        ASSERT_EQ(rmdir(root), 0);
        o.transport = CP_SNP_TRANSPORT_CONFIGFS_TSM;
        ASSERT_ERR(cp_snp_guest_get_report(&o, rd, 0, false, &r), CP_ENOTFOUND);
        o.transport = CP_SNP_TRANSPORT_AUTO;
        ASSERT_ERR(cp_snp_guest_get_report(&o, rd, 0, false, &r), CP_ENOTFOUND);
}

/* ---- emulated channel, for real ---- */

typedef struct server {
        cp_amdsp *sp;
        int lfd;
        unsigned n;
        int results[8];
} server;

static void *serve_thread(void *p) {
        server *s = p;
        for (unsigned i = 0; i < s->n; i++) {
                int c = accept(s->lfd, NULL, NULL);
                if (c < 0)
                        break;
                s->results[i] = cp_amdsp_serve_conn(s->sp, c);
                close(c);
        }
        return NULL;
}

TEST(emulated_transport) {
        char dir[] = "/tmp/cp-amdsp-guest-XXXXXX";
        ASSERT_TRUE(mkdtemp(dir) != NULL);
        char hostdir[128], sock[128], cmd[160];
        snprintf(hostdir, sizeof(hostdir), "%s/host", dir);
        snprintf(sock, sizeof(sock), "%s/sp.sock", dir);
        cp_amdsp_config c = { .generation = CP_SNP_GEN_GENOA, .tcb = { .bl = 7, .snp = 14, .ucode = 72 } };
        cp_amdsp *sp = NULL;
        ASSERT_OK(cp_amdsp_open(hostdir, &c, &sp));
        cp_amdsp_launch l = { .policy = 0x30000 };
        memset(l.measurement, 0x99, 48);
        uint8_t page[CP_SNP_SECRETS_PAGE_SIZE], old[CP_SNP_SECRETS_PAGE_SIZE];
        uint32_t h;
        ASSERT_OK(cp_amdsp_launch_guest(sp, &l, &h, page));

        struct sockaddr_un un = { .sun_family = AF_UNIX };
        strcpy(un.sun_path, sock);
        int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
        ASSERT_TRUE(lfd >= 0);
        ASSERT_EQ(bind(lfd, (struct sockaddr *) &un, sizeof(un)), 0);
        ASSERT_EQ(listen(lfd, 4), 0);
        server s = { .sp = sp, .lfd = lfd, .n = 5 };
        pthread_t th;
        ASSERT_EQ(pthread_create(&th, NULL, serve_thread, &s), 0);

        cp_snp_guest_options o = { .transport = CP_SNP_TRANSPORT_EMULATED, .socket_path = sock, .guest_handle = h,
                                   .secrets_page = page };
        uint8_t rd[64];
        memset(rd, 0xc3, 64);
        cp_snp_guest_report r;
        /* 1+2: extended report: the first exchange tells the size needed (16 KiB suffices, so one exchange) */
        memcpy(old, page, sizeof(page));
        ASSERT_OK(cp_snp_guest_get_report(&o, rd, 0, true, &r));
        ASSERT_EQ(r.transport, CP_SNP_TRANSPORT_EMULATED);
        cp_snp_report rep;
        ASSERT_OK(cp_snp_report_parse(r.report, CP_SNP_REPORT_SIZE, 0, &rep));
        ASSERT_MEMEQ(rep.report_data, rd, 64);
        ASSERT_EQ(rep.measurement[0], 0x99);
        uint64_t seq;
        uint8_t key[32];
        ASSERT_OK(cp_snp_secrets_get(page, 0, key, &seq));
        ASSERT_EQ(seq, 2);
        /* verifies with the emulated ARK */
        uint8_t *ark_der;
        size_t ark_len;
        ASSERT_OK(cp_amdsp_ca_cert(sp, CP_AMD_CERT_ARK, &ark_der, &ark_len));
        cp_amd_cert *ark = NULL;
        ASSERT_OK(cp_amd_cert_load(ark_der, ark_len, &ark));
        free(ark_der);
        cp_amd_trust *t = NULL;
        ASSERT_OK(cp_amd_trust_new_empty(&t));
        ASSERT_OK(cp_amd_trust_add_ark(t, ark));
        cp_amd_cert_free(ark);
        cp_snp_verifier *v = NULL;
        ASSERT_OK(cp_snp_verifier_new(t, &v));
        cp_snp_evidence ev = { .report = r.report, .report_len = CP_SNP_REPORT_SIZE, .certtable = r.certs,
                               .certtable_len = r.certs_len };
        cp_snp_verify_options vo = CP_SNP_VERIFY_OPTIONS_INIT;
        cp_snp_verify_result *res = calloc(1, sizeof(*res));
        ASSERT_OK(cp_snp_verify(v, &ev, &vo, res));
        ASSERT_EQ(res->generation, CP_SNP_GEN_GENOA);
        free(res);
        cp_snp_verifier_free(v);
        cp_snp_guest_report_clear(&r);
        /* replay with the old counters: the AMD-SP refuses */
        o.secrets_page = old;
        ASSERT_ERR(cp_snp_guest_get_report(&o, rd, 0, false, &r), CP_EIO);
        /* VMPL below the VMPCK's: INVALID_PARAM in the (authenticated) response */
        o.secrets_page = page;
        o.vmpck = 3;
        ASSERT_ERR(cp_snp_guest_get_report(&o, rd, 1, false, &r), CP_EINVAL);
        ASSERT_OK(cp_snp_guest_get_report(&o, rd, 3, false, &r));
        ASSERT_OK(cp_snp_report_parse(r.report, CP_SNP_REPORT_SIZE, 0, &rep));
        ASSERT_EQ(rep.vmpl, 3);
        /* unknown guest handle: refused */
        o.guest_handle = h + 1000;
        ASSERT_ERR(cp_snp_guest_get_report(&o, rd, 3, false, &r), CP_EIO);
        pthread_join(th, NULL);
        /* what the AMD-SP said, connection by connection (joined: no race) */
        ASSERT_OK(s.results[0]);
        ASSERT_ERR(s.results[1], CP_EBADSEQ);
        ASSERT_OK(s.results[2]); /* authenticated response carrying INVALID_PARAM */
        ASSERT_OK(s.results[3]);
        ASSERT_ERR(s.results[4], CP_ENOTFOUND);
        close(lfd);
        cp_amdsp_free(sp);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        ASSERT_EQ(system(cmd), 0);
}
