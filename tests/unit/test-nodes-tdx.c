/* SPDX-License-Identifier: Apache-2.0 */
/* Intel TDX node pools end to end (issue 16), on loopback: the local
 * backend's software TDX hosts (one emulated Intel root and PCS, kept in the
 * hosts directory), TDs built from Debian's OVMF.fd (its TDVF metadata),
 * swtpm vTPMs, confpool-agent processes getting a TDREPORT and quote over
 * the TD's channel, attestd verifying the quote (POST /attest/TdxVm) with
 * the emulated root and collateral fetched from the emulated PCS, the key
 * broker releasing each disk key by tdx_mrtd, the control plane admitting
 * the nodes by the pool's policy (MRTD, no debug, TCB status UpToDate). */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "basic/codec.h"
#include "basic/fileio.h"
#include "confpool/tdx_measure.h"
#include "controlplane/cp-backend-local.h"
#include "controlplane/cp-nodes.h"
#include "controlplane/cp-store.h"
#include "kbsd/kbsd.h"
#include "service/httpc.h"
#define NODES_FIXTURE_TEST_HELPERS
#include "nodes-fixture.h"
#include "node/node_tdxboot.h"
#include "tests.h"

static nodes_fixture E;
static cp_api_reply R;
#include "nodes-tdx-testutil.h"
static const char *debug_pool, *mrtd_pool, *kernel_pool;

/* The test hook: a debug TD, or a TD built from a TDVF with one byte of its
 * boot firmware volume changed (another MRTD). */
static void prepare(void *ud, const cp_node_spec *spec, const char *node_dir, cp_local_launch *l) {
        (void) ud;
        if (debug_pool && strstr(spec->pool_id, debug_pool))
                l->debug = true;
        if (kernel_pool && strstr(spec->pool_id, kernel_pool)) {
                /* the same firmware (MRTD) booting another kernel (RTMR1): a
                 * valid EFI image, so that the boot itself goes through */
                char f[2048];
                uint8_t *pe = NULL;
                size_t pe_len = 0;
                snprintf(f, sizeof f, "%.1500s/kernel-tampered", node_dir);
                if (cp_node_pe_wrap((const uint8_t *) "not the published kernel\n", 25, &pe, &pe_len) >= 0 &&
                    cp_write_file(f, pe, pe_len, 0600) >= 0)
                        snprintf(l->kernel_path, sizeof l->kernel_path, "%s", f);
                free(pe);
        }
        if (mrtd_pool && strstr(spec->pool_id, mrtd_pool)) {
                uint8_t *fw = NULL;
                size_t len = 0;
                char f[2048];
                if (cp_read_file(OVMF, 64u << 20, &fw, &len) < 0)
                        return;
                cp_tdvf_info info;
                if (cp_tdvf_parse(fw, len, &info) >= 0) {
                        /* the first MR.EXTENDed section (the BFV): its first byte */
                        for (size_t i = 0; i < info.n_sections; i++)
                                if (info.sections[i].attributes & 1u) {
                                        fw[info.sections[i].data_offset] ^= 0x01;
                                        break;
                                }
                }
                snprintf(f, sizeof f, "%.1500s/OVMF-other.fd", node_dir);
                if (cp_write_file(f, fw, len, 0600) >= 0)
                        snprintf(l->tdvf_path, sizeof l->tdvf_path, "%s", f);
                free(fw);
        }
}

static void teardown_env(void) {
        nodes_fixture_teardown(&E, &R);
}

static unsigned call(const char *method, const char *url, const char *body) {
        return nodes_fixture_call_json(&E, method, url, body, &R);
}

static void reconcile(void) {
        ASSERT_EQ(nodes_fixture_reconcile(&E, 60, 50), 0);
}

static const char *pool_state(const char *pool) {
        return nodes_fixture_pool_state(&E, &R, pool);
}

static long kbs_audit(const char *decision) {
        long n = -1;
        ASSERT_OK(cp_kbsd_audit_count(E.kbsd, decision, &n));
        return n;
}

/* ConfidentialTDXPreview registered (as `az feature register`): DCesv5 pools
 * are refused before it (cp-rules.c). */
static void register_tdx_feature(void) {
#define FEATURE_URL                                                                                                    \
        "/subscriptions/" SUB "/providers/Microsoft.Features/providers/Microsoft.ContainerService/features/"          \
        "ConfidentialTDXPreview"
        ASSERT_EQ(call("POST", FEATURE_URL "/register?api-version=2021-07-01", NULL), 200);
        for (int i = 0; i < 100; i++) {
                ASSERT_EQ(call("GET", FEATURE_URL "?api-version=2021-07-01", NULL), 200);
                const char *st = json_string_value(json_object_get(json_object_get(R.body, "properties"), "state"));
                if (st && strcmp(st, "Registered") == 0)
                        return;
                nodes_fixture_nap(100);
        }
        cp_test_fail(__FILE__, __LINE__, "ConfidentialTDXPreview never Registered");
}

static void setup_env(void) {
        if (E.up)
                return;
        if (access(OVMF, R_OK) != 0)
                TEST_SKIP("Debian's ovmf (" OVMF ") is not installed: no TDVF to build TDs from");
        atexit(teardown_env);
        nodes_fixture_options o = {.dir_template = "/tmp/cp-nodes-tdx-XXXXXX", .hosts_per_generation = 2,
                                   .heartbeat_ms = 200, .with_kbs = true, .with_tdx = true, .prepare = prepare,
                                   .tdx_collateral_max_age_s = 1};
        ASSERT_OK(nodes_fixture_start(&o, &E));
        ASSERT_EQ(call("PUT", RGP RS, "{\"location\":\"eastus\"}"), 201);
        ASSERT_EQ(call("PUT", MC CS,
                       "{\"location\":\"eastus\",\"properties\":{\"agentPoolProfiles\":[{\"name\":\"nodepool1\","
                       "\"count\":1,\"vmSize\":\"Standard_DC2as_v5\",\"mode\":\"System\"}]}}"),
                  201);
        reconcile();
        ASSERT_STREQ(pool_state("nodepool1"), "Succeeded");
}

TEST(tdx_pool_of_three_attested_nodes) {
        setup_env();
        /* before the feature is registered, a DCesv5 pool is refused */
        char url[512];
        snprintf(url, sizeof url, AP "/tdxpool" CS);
        ASSERT_EQ(call("PUT", url, "{\"properties\":{\"count\":3,\"vmSize\":\"" TDX_SIZE "\",\"mode\":\"User\"}}"),
                  400);
        register_tdx_feature();
        put_tdx_pool("tdxpool", 3);
        reconcile();
        ASSERT_STREQ(pool_state("tdxpool"), "Succeeded");
        char mrtd[97];
        expected_mrtd(mrtd);
        /* the backend's expected measurement of a DCesv5 node is the TDVF's MRTD */
        cp_node_spec spec = {.pool_id = AP "/tdxpool", .name = "x", .vm_size = TDX_SIZE, .image = "x"};
        uint8_t exp[48];
        char exp_hex[97];
        ASSERT_OK(E.backend->ops->expected_measurement(E.backend, &spec, exp));
        cp_hex_encode(exp, 48, exp_hex);
        exp_hex[96] = '\0';
        ASSERT_STREQ(exp_hex, mrtd);
        json_t *v = machines("tdxpool");
        ASSERT_EQ(json_array_size(v), 3);
        for (size_t i = 0; i < 3; i++) {
                json_t *m = json_array_get(v, i);
                ASSERT_STREQ(node_state(m), "Ready");
                ASSERT_STREQ(att_str(m, "launchMeasurement"), mrtd);
                ASSERT_TRUE(strncmp(att_str(m, "host"), "host-spr-", 9) == 0);
                /* Intel's TCB status and the platform's FMSPC from the verified quote */
                const char *tcb = att_str(m, "reportedTcb");
                if (!tcb || strncmp(tcb, "tdx:UpToDate,fmspc=90c06f000000,svn=", 36) != 0)
                        cp_test_fail(__FILE__, __LINE__, "reportedTcb '%s'", tcb ? tcb : "(null)");
                /* machine show's TDX evidence (confpool extension) */
                json_t *att = json_object_get(json_object_get(m, "properties"), "attestation");
                ASSERT_STREQ(json_string_value(json_object_get(att, "tee")), "TDX");
                json_t *te = json_object_get(att, "tdx");
                ASSERT_STREQ(json_string_value(json_object_get(te, "mrtd")), mrtd);
                ASSERT_STREQ(json_string_value(json_object_get(te, "tcbStatus")), "UpToDate");
                ASSERT_STREQ(json_string_value(json_object_get(te, "fmspc")), "90c06f000000");
                ASSERT_EQ(strlen(json_string_value(json_object_get(te, "teeTcbSvn"))), 32);
                /* the agent talked to its TD's channel, not to an AMD-SP */
                char d[512], f[600];
                nodes_fixture_node_dir(&E, AP "/tdxpool", json_string_value(json_object_get(m, "name")), d, sizeof d);
                snprintf(f, sizeof f, "%s/node.json", d);
                json_t *cfg = json_load_file(f, 0, NULL);
                ASSERT_TRUE(cfg != NULL);
                ASSERT_STREQ(json_string_value(json_object_get(cfg, "tee")), "tdx");
                ASSERT_TRUE(json_object_get(cfg, "amdspSocket") == NULL);
                json_decref(cfg);
        }
        /* the SNP system node stays an SNP node on a Milan host */
        v = machines("nodepool1");
        ASSERT_EQ(json_array_size(v), 1);
        ASSERT_STREQ(att_str(json_array_get(v, 0), "host"), "host-milan-0");
        ASSERT_STREQ(att_str(json_array_get(v, 0), "tee"), "SEV-SNP");
        ASSERT_TRUE(json_object_get(json_object_get(json_object_get(json_array_get(v, 0), "properties"), "attestation"),
                                    "tdx") == NULL);
        ASSERT_TRUE(strncmp(att_str(json_array_get(v, 0), "reportedTcb"), "bl=", 3) == 0);
        ASSERT_TRUE(strcmp(att_str(json_array_get(v, 0), "launchMeasurement"), mrtd) != 0);
        /* every disk key released by the broker to its node's TEE key: 1 SNP + 3 TDX */
        ASSERT_EQ(kbs_audit("allowed"), 4);
        ASSERT_EQ(kbs_audit("denied"), 0);
}

static void expect_failed(const char *pool, const char *needle) {
        ASSERT_STREQ(pool_state(pool), "Failed");
        const char *msg = json_string_value(json_object_get(
                json_object_get(json_object_get(json_object_get(R.body, "properties"), "status"), "provisioningError"),
                "message"));
        if (!msg || !strstr(msg, needle))
                cp_test_fail(__FILE__, __LINE__, "provisioningError '%s' lacks '%s'", msg ? msg : "(null)", needle);
}

TEST(debug_td_refused) {
        setup_env();
        register_tdx_feature();
        long allowed = kbs_audit("allowed"), denied = kbs_audit("denied");
        debug_pool = "/agentPools/tdxdebug";
        put_tdx_pool("tdxdebug", 1);
        reconcile();
        debug_pool = NULL;
        /* attestd's TdxVm default policy denies a debug TD: no token, no release asked for */
        expect_failed("tdxdebug", "attestation refused");
        ASSERT_EQ(kbs_audit("allowed"), allowed);
        ASSERT_EQ(kbs_audit("denied"), denied);
}

TEST(wrong_mrtd_refused) {
        setup_env();
        register_tdx_feature();
        long allowed = kbs_audit("allowed"), denied = kbs_audit("denied");
        mrtd_pool = "/agentPools/tdxmrtd";
        put_tdx_pool("tdxmrtd", 1);
        reconcile();
        mrtd_pool = NULL;
        /* a genuine token for another MRTD: the disk key's release policy names the image's */
        expect_failed("tdxmrtd", "tdx_mrtd");
        ASSERT_EQ(kbs_audit("allowed"), allowed);
        ASSERT_EQ(kbs_audit("denied"), denied + 1);
}

TEST(tampered_kernel_refused) {
        setup_env();
        register_tdx_feature();
        long allowed = kbs_audit("allowed"), denied = kbs_audit("denied");
        kernel_pool = "/agentPools/tdxkernel";
        put_tdx_pool("tdxkernel", 1);
        reconcile();
        kernel_pool = NULL;
        /* MRTD is the image's (the firmware), but RTMR1 records another kernel:
         * the disk's own release policy pins the image's RTMR1/RTMR2 */
        expect_failed("tdxkernel", "tdx_rtmr1");
        ASSERT_EQ(kbs_audit("allowed"), allowed);
        ASSERT_EQ(kbs_audit("denied"), denied + 1);
}

static void machine_of(const char *pool, const char *name, cp_machine *m, cp_node_info *ni) {
        cp_store_lock(E.store);
        int r = cp_machine_get(E.store, pool, name, m);
        if (r >= 0 && ni && (r = cp_nodes_info(E.store, pool, name, ni)) < 0 && r == CP_ENOTFOUND) {
                cp_error_clear();
                memset(ni, 0, sizeof *ni);
                r = 0;
        }
        cp_store_unlock(E.store);
        ASSERT_OK(r);
}

/* Emerald Rapids hosts have their own FMSPC (issue 16 item 5): a DC4es_v6
 * node on host-emr-* attests with fmspc c0806f000000 beside Sapphire
 * Rapids' 90c06f000000 nodes: attestd fetched (and caches) TCB Info per
 * FMSPC, since a quote verifies only against its own FMSPC's.  Before the
 * TCB recovery test: hosts created after it would be OutOfDate. */
TEST(emerald_rapids_nodes_have_their_own_fmspc) {
        setup_env();
        register_tdx_feature();
        put_tdx_pool("tdxpool", 3);
        char url[512];
        snprintf(url, sizeof url, AP "/tdxemr" CS);
        unsigned st = call("PUT", url, "{\"properties\":{\"count\":1,\"vmSize\":\"Standard_DC4es_v6\",\"mode\":\"User\"}}");
        ASSERT_TRUE(st == 200 || st == 201);
        reconcile();
        if (strcmp(pool_state("tdxemr"), "Succeeded") != 0) {
                char *d = json_dumps(machines("tdxemr"), JSON_COMPACT);
                cp_test_fail(__FILE__, __LINE__, "tdxemr: %s", d ? d : "?");
                free(d);
        }
        json_t *v = json_deep_copy(machines("tdxemr"));
        ASSERT_EQ(json_array_size(v), 1);
        json_t *m = json_array_get(v, 0);
        ASSERT_STREQ(node_state(m), "Ready");
        ASSERT_TRUE(strncmp(att_str(m, "host"), "host-emr-", 9) == 0);
        const char *tcb = att_str(m, "reportedTcb");
        if (!tcb || strncmp(tcb, "tdx:UpToDate,fmspc=c0806f000000,svn=", 36) != 0)
                cp_test_fail(__FILE__, __LINE__, "reportedTcb '%s'", tcb ? tcb : "(null)");
        json_t *te = json_object_get(json_object_get(json_object_get(m, "properties"), "attestation"), "tdx");
        ASSERT_STREQ(json_string_value(json_object_get(te, "fmspc")), "c0806f000000");
        json_decref(v);
        /* the Sapphire Rapids nodes keep theirs */
        v = machines("tdxpool");
        ASSERT_TRUE(json_array_size(v) > 0);
        for (size_t i = 0; i < json_array_size(v); i++) {
                const char *t = att_str(json_array_get(v, i), "reportedTcb");
                if (!t || !strstr(t, "fmspc=90c06f000000"))
                        cp_test_fail(__FILE__, __LINE__, "SPR reportedTcb '%s'", t ? t : "(null)");
        }
        /* the pool goes, so the next test starts from the pools it knows */
        snprintf(url, sizeof url, AP "/tdxemr" CS);
        st = call("DELETE", url, NULL);
        ASSERT_TRUE(st == 200 || st == 202 || st == 204);
        reconcile();
}

/* Intel publishes a TCB recovery (the emulated PCS: every older level
 * OutOfDate with the advisory); host-spr-1 follows it, host-spr-0 does not:
 * its nodes re-attest OutOfDate, are quarantined with that reason and
 * replaced onto host-spr-1; host-spr-1's nodes stay. */
TEST(tcb_recovery_quarantines_and_replaces) {
        setup_env();
        register_tdx_feature();
        put_tdx_pool("tdxpool", 3);
        reconcile();
        ASSERT_STREQ(pool_state("tdxpool"), "Succeeded");
        json_t *v = json_deep_copy(machines("tdxpool"));
        ASSERT_EQ(json_array_size(v), 3);
        size_t on0 = 0;
        for (size_t i = 0; i < 3; i++)
                on0 += strcmp(att_str(json_array_get(v, i), "host"), "host-spr-0") == 0;
        ASSERT_TRUE(on0 >= 1 && on0 <= 2); /* least loaded: spread over both hosts */
        ASSERT_OK(cp_backend_local_tdx_recovery(E.backend, "INTEL-SA-09999", "host-spr-1"));
        nodes_fixture_nap(1100); /* attestd's collateral (max age 1 s) is fetched again */
        for (size_t i = 0; i < 3; i++) {
                char handle[256];
                nodes_fixture_node_handle(AP "/tdxpool", json_string_value(json_object_get(json_array_get(v, i), "name")),
                                          handle, sizeof handle);
                ASSERT_OK(cp_backend_local_signal(E.backend, handle, SIGUSR1)); /* re-attest now */
        }
        /* every node of host-spr-0 quarantined, naming the status and the advisory */
        for (size_t i = 0; i < 3; i++) {
                json_t *m = json_array_get(v, i);
                const char *name = json_string_value(json_object_get(m, "name"));
                bool stale = strcmp(att_str(m, "host"), "host-spr-0") == 0;
                cp_machine cm = {0};
                cp_node_info ni = {0};
                for (int k = 0; k < 100; k++) {
                        machine_of(AP "/tdxpool", name, &cm, &ni);
                        if (!stale || strcmp(cm.state, "Quarantined") == 0)
                                break;
                        nodes_fixture_nap(100);
                }
                if (!stale)
                        continue;
                ASSERT_STREQ(cm.state, "Quarantined");
                if (!strstr(ni.reason, "TDX TCB status OutOfDate is not accepted") || !strstr(ni.reason, "INTEL-SA-09999"))
                        cp_test_fail(__FILE__, __LINE__, "reason '%s'", ni.reason);
        }
        /* the health pass replaces them; the replacements go to the up-to-date host */
        for (int k = 0; k < 100; k++) {
                size_t replaced = 0;
                ASSERT_OK(cp_reconciler_check_health(E.rec, &replaced));
                if (replaced)
                        break;
                nodes_fixture_nap(100);
        }
        reconcile();
        ASSERT_STREQ(pool_state("tdxpool"), "Succeeded");
        json_t *after = machines("tdxpool");
        ASSERT_EQ(json_array_size(after), 3);
        size_t kept = 0;
        for (size_t i = 0; i < 3; i++) {
                json_t *m = json_array_get(after, i);
                ASSERT_STREQ(node_state(m), "Ready");
                ASSERT_STREQ(att_str(m, "host"), "host-spr-1");
                ASSERT_TRUE(strncmp(att_str(m, "reportedTcb"), "tdx:UpToDate,", 13) == 0);
                for (size_t j = 0; j < 3; j++)
                        kept += strcmp(json_string_value(json_object_get(m, "name")),
                                       json_string_value(json_object_get(json_array_get(v, j), "name"))) == 0;
        }
        ASSERT_EQ(kept, 3 - on0); /* host-spr-1's nodes were not replaced */
        json_decref(v);
}

static long node_endpoint(const char *pool, const char *machine, const char *bearer, char *msg, size_t size) {
        char url[1024];
        snprintf(url, sizeof url, "http://127.0.0.1:%u" AP "/%s/machines/%s/heartbeat?api-version=2025-01-01",
                 cp_httpd_port(E.httpd), pool, machine);
        cp_httpc_options ho = {.timeout_ms = 5000, .bearer = bearer};
        cp_httpc_response resp = {0};
        ASSERT_OK(cp_httpc_request(&ho, "POST", url, NULL, "{}", 2, &resp));
        json_t *j = NULL;
        if (cp_httpc_response_json(&resp, &j) < 0)
                cp_error_clear();
        const char *m = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
        snprintf(msg, size, "%s", m ? m : "");
        json_decref(j);
        long st = resp.status;
        cp_httpc_response_clear(&resp);
        return st;
}

/* SNP + TDX + a general-purpose pool in one cluster: each node's TEE is the
 * one its size says; the general-purpose node has no TEE evidence at all
 * (nothing attested, no key released to it), registers with its backend's
 * bootstrap token, and is never shown as confidential; a bootstrap token
 * admits no machine of a confidential pool. */
TEST(mixed_cluster_each_node_as_its_size_says) {
        setup_env();
        register_tdx_feature();
        put_tdx_pool("tdxpool", 3);
        long allowed = kbs_audit("allowed");
        char url[512];
        snprintf(url, sizeof url, AP "/stdpool" CS);
        unsigned st = call("PUT", url, "{\"properties\":{\"count\":1,\"vmSize\":\"Standard_D4s_v5\",\"mode\":\"User\"}}");
        ASSERT_TRUE(st == 200 || st == 201);
        reconcile();
        ASSERT_STREQ(pool_state("stdpool"), "Succeeded");
        ASSERT_STREQ(pool_state("tdxpool"), "Succeeded");
        ASSERT_STREQ(pool_state("nodepool1"), "Succeeded");
        /* no release for the general-purpose node */
        ASSERT_EQ(kbs_audit("allowed"), allowed);
        json_t *v = json_deep_copy(machines("stdpool"));
        ASSERT_EQ(json_array_size(v), 1);
        json_t *m = json_array_get(v, 0);
        const char *name = json_string_value(json_object_get(m, "name"));
        ASSERT_STREQ(node_state(m), "Ready");
        ASSERT_STREQ(att_str(m, "tee"), "none");
        ASSERT_STREQ(att_str(m, "launchMeasurement"), "");
        ASSERT_STREQ(att_str(m, "reportedTcb"), "");
        ASSERT_TRUE(strncmp(att_str(m, "host"), "host-std-", 9) == 0);
        ASSERT_TRUE(json_object_get(json_object_get(json_object_get(m, "properties"), "attestation"), "tdx") == NULL);
        char d[512], f[600];
        nodes_fixture_node_dir(&E, AP "/stdpool", name, d, sizeof d);
        snprintf(f, sizeof f, "%s/node.json", d);
        json_t *cfg = json_load_file(f, 0, NULL);
        ASSERT_TRUE(cfg != NULL);
        ASSERT_STREQ(json_string_value(json_object_get(cfg, "tee")), "none");
        ASSERT_TRUE(json_object_get(cfg, "amdspSocket") == NULL && json_object_get(cfg, "tdxSocket") == NULL &&
                    json_object_get(cfg, "diskKey") == NULL);
        json_decref(cfg);
        /* the node's agent never asked attestd for a token */
        snprintf(f, sizeof f, "%s/status.json", d);
        json_t *stj = json_load_file(f, 0, NULL);
        ASSERT_TRUE(stj != NULL);
        ASSERT_TRUE(json_object_get(json_object_get(stj, "times"), "token") == NULL);
        json_decref(stj);
        /* its token admits it (heartbeat), and no machine of the TDX pool; a made-up one nothing */
        uint8_t *tok = NULL;
        size_t tl = 0;
        snprintf(f, sizeof f, "%s/bootstrap.token", d);
        ASSERT_OK(cp_read_file(f, 128, &tok, &tl));
        char bearer[128], msg[600];
        snprintf(bearer, sizeof bearer, "%.*s", (int) tl, (const char *) tok);
        free(tok);
        ASSERT_EQ(node_endpoint("stdpool", name, bearer, msg, sizeof msg), 200);
        json_t *tv = machines("tdxpool");
        const char *tdx_name = json_string_value(json_object_get(json_array_get(tv, 0), "name"));
        char tdx_copy[128];
        snprintf(tdx_copy, sizeof tdx_copy, "%s", tdx_name);
        ASSERT_EQ(node_endpoint("tdxpool", tdx_copy, bearer, msg, sizeof msg), 401);
        if (!strstr(msg, "its nodes must attest (TDX)"))
                cp_test_fail(__FILE__, __LINE__, "'%s'", msg);
        bearer[strlen(bearer) - 1] ^= 1;
        ASSERT_EQ(node_endpoint("stdpool", name, bearer, msg, sizeof msg), 401);
        if (!strstr(msg, "bootstrap token is not machine"))
                cp_test_fail(__FILE__, __LINE__, "'%s'", msg);
        /* the TEEs as the sizes say */
        json_t *sv = machines("nodepool1");
        ASSERT_STREQ(att_str(json_array_get(sv, 0), "tee"), "SEV-SNP");
        tv = machines("tdxpool");
        for (size_t i = 0; i < json_array_size(tv); i++)
                ASSERT_STREQ(att_str(json_array_get(tv, i), "tee"), "TDX");
        json_decref(v);
        /* the last test stops the stack itself, as test-nodes does: from
         * atexit it would run after OpenSSL's own cleanup while agents still
         * heartbeat (ASan: a crash in EVP_DigestVerifyInit, leaked keys) */
        teardown_env();
}
