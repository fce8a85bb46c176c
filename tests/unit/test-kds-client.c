/* SPDX-License-Identifier: Apache-2.0 */
/* KDS client against a KDS-shaped HTTP server started on loopback. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/codec.h"
#include "confpool/snp_cert.h"
#include "confpool/snp_report.h"
#include "service/kds.h"
#include "tests.h"

static struct {
        uint8_t *vcek;
        size_t vcek_len;
        uint8_t *chain;
        size_t chain_len;
        char expect_hwid[129];
        unsigned crl_calls;
        unsigned requests;
} srv;

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, const void *data, size_t len) {
        struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *) data, MHD_RESPMEM_MUST_COPY);
        enum MHD_Result r = MHD_queue_response(conn, status, resp);
        MHD_destroy_response(resp);
        return r;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                               const char *version, const char *upload_data, size_t *upload_data_size,
                               void **con_cls) {
        (void) cls;
        (void) version;
        (void) upload_data;
        (void) upload_data_size;
        (void) con_cls;
        srv.requests++;
        if (strcmp(method, "GET") != 0)
                return respond(conn, 405, "", 0);
        char vcek_path[256];
        snprintf(vcek_path, sizeof(vcek_path), "/vcek/v1/Milan/%s", srv.expect_hwid);
        if (!strcmp(url, vcek_path)) {
                const char *bl = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "blSPL");
                const char *tee = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "teeSPL");
                const char *snp = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "snpSPL");
                const char *uc = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "ucodeSPL");
                /* report_milan.bin: REPORTED_TCB bl 3 tee 0 snp 8 ucode 115 */
                if (!bl || !tee || !snp || !uc || strcmp(bl, "3") || strcmp(tee, "0") || strcmp(snp, "8") ||
                    strcmp(uc, "115"))
                        return respond(conn, 400, "bad SPLs", 8);
                return respond(conn, 200, srv.vcek, srv.vcek_len);
        }
        if (!strcmp(url, "/vcek/v1/Milan/cert_chain"))
                return respond(conn, 200, srv.chain, srv.chain_len);
        if (!strcmp(url, "/vcek/v1/Milan/crl")) {
                /* first call fails with 503 to exercise the retry */
                if (srv.crl_calls++ == 0)
                        return respond(conn, 503, "busy", 4);
                return respond(conn, 200, "CRLBYTES", 8);
        }
        if (!strcmp(url, "/big")) {
                size_t n = (4u << 20) + 16;
                char *big = calloc(1, n);
                struct MHD_Response *resp = MHD_create_response_from_buffer(n, big, MHD_RESPMEM_MUST_FREE);
                enum MHD_Result r = MHD_queue_response(conn, 200, resp);
                MHD_destroy_response(resp);
                return r;
        }
        return respond(conn, 404, "not found", 9);
}

static struct MHD_Daemon *start_server(unsigned *ret_port) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handler, NULL,
                                                MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_END);
        ASSERT_TRUE(d != NULL);
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
        ASSERT_TRUE(info && info->port);
        *ret_port = info->port;
        return d;
}

static void load_fixtures(cp_snp_report *rep) {
        size_t n;
        uint8_t *r = cp_test_read("snp/virtee__sev/report_milan.bin", &n);
        ASSERT_OK(cp_snp_report_parse(r, n, 0, rep));
        free(r);
        cp_hex_encode(rep->chip_id, 64, srv.expect_hwid);
        free(srv.vcek);
        free(srv.chain);
        srv.vcek = cp_test_read("snp/virtee__sev/vcek_milan.der", &srv.vcek_len);
        srv.chain = cp_test_read("snp/virtee__sev/cert_chain_milan", &srv.chain_len);
        srv.crl_calls = 0;
        srv.requests = 0;
}

static char *make_tmpdir(void) {
        char *d = strdup("/tmp/cp-kds-test-XXXXXX");
        ASSERT_TRUE(mkdtemp(d) != NULL);
        return d;
}

static void rm_rf(const char *dir) {
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        ASSERT_EQ(system(cmd), 0);
}

TEST(kds_fetch_vcek_chain_crl_and_cache) {
        cp_snp_report rep;
        load_fixtures(&rep);
        unsigned port;
        struct MHD_Daemon *d = start_server(&port);
        char base[64];
        snprintf(base, sizeof(base), "http://127.0.0.1:%u", port);
        char *dir = make_tmpdir();

        cp_kds_options o = { .base_url = base, .cache_dir = dir, .retries = 2 };
        cp_kds_client *c = NULL;
        ASSERT_OK(cp_kds_client_new(&o, &c));
        cp_snp_tcb tcb;
        ASSERT_OK(cp_snp_tcb_decode(rep.reported_tcb, CP_SNP_GEN_MILAN, &tcb));
        uint8_t *buf = NULL;
        size_t len = 0;
        ASSERT_OK(cp_kds_fetch_vcek(c, CP_SNP_GEN_MILAN, rep.chip_id, &tcb, &buf, &len));
        ASSERT_EQ(len, srv.vcek_len);
        ASSERT_MEMEQ(buf, srv.vcek, len);
        free(buf);
        /* fetched VCEK is the real certificate for this chip */
        cp_amd_cert *cert = NULL;
        ASSERT_OK(cp_amd_cert_load(srv.vcek, srv.vcek_len, &cert));
        ASSERT_MEMEQ(cp_amd_cert_info_get(cert)->hwid, rep.chip_id, 64);
        cert = cp_amd_cert_free(cert);

        /* second fetch is served from the cache */
        unsigned before = cp_kds_client_requests(c);
        ASSERT_OK(cp_kds_fetch_vcek(c, CP_SNP_GEN_MILAN, rep.chip_id, &tcb, &buf, &len));
        free(buf);
        ASSERT_EQ(cp_kds_client_requests(c), before);

        ASSERT_OK(cp_kds_fetch_chain(c, CP_SNP_GEN_MILAN, CP_AMD_CERT_VCEK, &buf, &len));
        ASSERT_EQ(len, srv.chain_len);
        free(buf);

        /* CRL: 503, then (after the retry) a 200 whose body is not a CRL: refused and not cached */
        ASSERT_ERR(cp_kds_fetch_crl(c, CP_SNP_GEN_MILAN, CP_AMD_CERT_VCEK, &buf, &len), CP_EFORMAT);
        ASSERT_EQ(srv.crl_calls, 2);
        ASSERT_ERR(cp_kds_fetch_crl(c, CP_SNP_GEN_MILAN, CP_AMD_CERT_VCEK, &buf, &len), CP_EFORMAT);
        ASSERT_EQ(srv.crl_calls, 3);
        /* the raw getter returns any 200 body */
        bool cached = true;
        ASSERT_OK(cp_kds_get(c, "/vcek/v1/Milan/crl", true, &buf, &len, &cached));
        ASSERT_EQ(len, 8);
        ASSERT_MEMEQ(buf, "CRLBYTES", 8);
        ASSERT_FALSE(cached);
        free(buf);
        c = cp_kds_client_free(c);

        /* a poisoned cache entry is ignored and fetched again */
        {
                char cmd[512];
                snprintf(cmd, sizeof(cmd), "for f in '%s'/_vcek_v1_Milan_*; do printf junk > \"$f\"; done", dir);
                ASSERT_EQ(system(cmd), 0);
                cp_kds_options o2 = { .base_url = base, .cache_dir = dir };
                cp_kds_client *c2 = NULL;
                ASSERT_OK(cp_kds_client_new(&o2, &c2));
                ASSERT_OK(cp_kds_fetch_vcek(c2, CP_SNP_GEN_MILAN, rep.chip_id, &tcb, &buf, &len));
                ASSERT_EQ(len, srv.vcek_len);
                ASSERT_EQ(cp_kds_client_requests(c2), 1);
                free(buf);
                cp_kds_client_free(c2);
        }
        /* offline: cached VCEK works without the server; a miss is ENOTFOUND */
        MHD_stop_daemon(d);
        unsigned reqs = srv.requests;
        cp_kds_options off = { .base_url = base, .cache_dir = dir, .offline = true };
        ASSERT_OK(cp_kds_client_new(&off, &c));
        ASSERT_OK(cp_kds_fetch_vcek(c, CP_SNP_GEN_MILAN, rep.chip_id, &tcb, &buf, &len));
        free(buf);
        ASSERT_ERR(cp_kds_fetch_chain(c, CP_SNP_GEN_GENOA, CP_AMD_CERT_VCEK, &buf, &len), CP_ENOTFOUND);
        ASSERT_EQ(cp_kds_client_requests(c), 0);
        ASSERT_EQ(srv.requests, reqs);
        c = cp_kds_client_free(c);
        rm_rf(dir);
        free(dir);
}

TEST(kds_errors_are_distinct) {
        cp_snp_report rep;
        load_fixtures(&rep);
        unsigned port;
        struct MHD_Daemon *d = start_server(&port);
        char base[64];
        snprintf(base, sizeof(base), "http://127.0.0.1:%u/", port);
        cp_kds_options o = { .base_url = base };
        cp_kds_client *c = NULL;
        ASSERT_OK(cp_kds_client_new(&o, &c));
        uint8_t *buf = NULL;
        size_t len = 0;
        /* wrong TCB: server answers 400 */
        cp_snp_tcb tcb = { .bl = 9 };
        ASSERT_ERR(cp_kds_fetch_vcek(c, CP_SNP_GEN_MILAN, rep.chip_id, &tcb, &buf, &len), CP_ENETWORK);
        ASSERT_ERR(cp_kds_fetch_chain(c, CP_SNP_GEN_TURIN, CP_AMD_CERT_VCEK, &buf, &len), CP_ENOTFOUND);
        ASSERT_ERR(cp_kds_get(c, "/big", false, &buf, &len, NULL), CP_ETOOBIG);
        ASSERT_ERR(cp_kds_get(c, "no-slash", false, &buf, &len, NULL), CP_EINVAL);
        c = cp_kds_client_free(c);
        MHD_stop_daemon(d);
        /* nothing listening: a transport error */
        ASSERT_OK(cp_kds_client_new(&o, &c));
        ASSERT_ERR(cp_kds_fetch_chain(c, CP_SNP_GEN_MILAN, CP_AMD_CERT_VCEK, &buf, &len), CP_ENETWORK);
        c = cp_kds_client_free(c);
        free(srv.vcek);
        free(srv.chain);
        srv.vcek = srv.chain = NULL;
}
