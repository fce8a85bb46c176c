/* SPDX-License-Identifier: Apache-2.0 */
/* Azure TDX CVMs on the local stack (issue 16, "evidence": "azure-hcl"):
 * the backend's TDX nodes booted under the software paravisor
 * (cp_local_options.tdx_azure_hcl): the HCL report with the TD's TDREPORT
 * and the runtime data naming the persistent vTPM AK in NV 0x01400001, the
 * host's quote endpoint at IMDS's /acc/tdquote; real confpool-agent
 * processes and swtpm vTPMs; attestd verifying POST /attest/AzureGuest
 * (the TD quote with the emulated Intel root and PCS collateral, the
 * TDREPORT matched with it, the runtime-data binding, the vTPM quote); the
 * key broker releasing each disk key to the AzureGuest token; the control
 * plane admitting the nodes by the pool's policy. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attestd/attestd.h"
#include "basic/codec.h"
#include "basic/fileio.h"
#include "confpool/tdx_measure.h"
#include "controlplane/cp-backend-local.h"
#include "kbsd/kbsd.h"
#include "service/httpc.h"
#define NODES_FIXTURE_TEST_HELPERS
#include "nodes-fixture.h"
#include "tests.h"

static nodes_fixture E;
static cp_api_reply R;
#include "nodes-tdx-testutil.h"

/* the test hook: the paravisor of pool "altpool" writes runtime data its TDREPORT does not bind */
static void prepare(void *ud, const cp_node_spec *spec, const char *node_dir, cp_local_launch *l) {
        (void) ud;
        (void) node_dir;
        if (strstr(spec->pool_id, "/altpool"))
                l->hcl_alter_runtime_data = true;
        if (strstr(spec->pool_id, "/dbgpool"))
                l->debug = true;
}

static void teardown_env(void) {
        nodes_fixture_teardown(&E, &R);
}

static unsigned call(const char *method, const char *url, const char *body) {
        return nodes_fixture_call_json(&E, method, url, body, &R);
}

static const char *pool_state(const char *pool) {
        return nodes_fixture_pool_state(&E, &R, pool);
}

/* the pool's provisioning error, if any (R holds the pool) */
static const char *pool_error(void) {
        return json_string_value(json_object_get(
                json_object_get(json_object_get(json_object_get(R.body, "properties"), "status"), "provisioningError"),
                "message"));
}

static void expect_succeeded(const char *pool) {
        const char *st = pool_state(pool);
        if (!st || strcmp(st, "Succeeded") != 0)
                cp_test_fail(__FILE__, __LINE__, "pool %s is %s: %s", pool, st ? st : "(null)",
                             pool_error() ? pool_error() : "(no error)");
}

static void setup_env(void) {
        if (E.up)
                return;
        if (access(OVMF, R_OK) != 0)
                TEST_SKIP("Debian's ovmf (" OVMF ") is not installed: no TDVF to build TDs from");
        atexit(teardown_env);
        nodes_fixture_options o = {.dir_template = "/tmp/cp-nodes-tdxhcl-XXXXXX", .hosts_per_generation = 1,
                                   .heartbeat_ms = 200, .with_kbs = true, .with_tdx = true, .prepare = prepare,
                                   .tdx_collateral_max_age_s = 1, .tdx_azure_hcl = true,
                                   .vtpm_pool = 1 /* node_on_a_pooled_vtpm_attests_as_an_azure_cvm */};
        ASSERT_OK(nodes_fixture_start(&o, &E));
        ASSERT_EQ(call("PUT", RGP RS, "{\"location\":\"eastus\"}"), 201);
        ASSERT_EQ(call("PUT", MC CS,
                       "{\"location\":\"eastus\",\"properties\":{\"agentPoolProfiles\":[{\"name\":\"nodepool1\","
                       "\"count\":1,\"vmSize\":\"Standard_DC2as_v5\",\"mode\":\"System\"}]}}"),
                  201);
        ASSERT_EQ(nodes_fixture_reconcile(&E, 60, 50), 0);
        ASSERT_STREQ(pool_state("nodepool1"), "Succeeded");
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

static long kbs_audit(const char *decision) {
        long n = -1;
        ASSERT_OK(cp_kbsd_audit_count(E.kbsd, decision, &n));
        return n;
}

/* attestd's counter of AzureGuest successes (its /metrics) */
static long guest_successes(void) {
        char url[128];
        snprintf(url, sizeof url, "http://127.0.0.1:%u/metrics", (unsigned) cp_attestd_port(E.attestd));
        cp_httpc_options o = {.timeout_ms = 5000};
        cp_httpc_response r = {0};
        ASSERT_OK(cp_httpc_request(&o, "GET", url, NULL, NULL, 0, &r));
        const char *k = "attestd_attestations_total{type=\"AzureGuest\",result=\"success\"} ";
        const char *p = r.body ? strstr((const char *) r.body, k) : NULL;
        long n = p ? strtol(p + strlen(k), NULL, 10) : -1;
        cp_httpc_response_clear(&r);
        return n;
}

static void node_dir_of(json_t *m, const char *pool, char *d, size_t size) {
        char id[256];
        snprintf(id, sizeof id, AP "/%s", pool);
        nodes_fixture_node_dir(&E, id, json_string_value(json_object_get(m, "name")), d, size);
}

TEST(azure_hcl_tdx_pool_ready) {
        setup_env();
        long allowed0 = kbs_audit("allowed");
        put_tdx_pool("hclpool", 2);
        ASSERT_EQ(nodes_fixture_reconcile(&E, 90, 50), 0);
        expect_succeeded("hclpool");
        char mrtd[97];
        expected_mrtd(mrtd);
        json_t *v = machines("hclpool");
        ASSERT_EQ(json_array_size(v), 2);
        for (size_t i = 0; i < 2; i++) {
                json_t *m = json_array_get(v, i);
                ASSERT_STREQ(node_state(m), "Ready");
                /* the TD's MRTD and Intel's TCB status, from the AzureGuest token's x-ms-isolation-tee */
                ASSERT_STREQ(att_str(m, "launchMeasurement"), mrtd);
                ASSERT_STREQ(att_str(m, "tee"), "TDX");
                const char *tcb = att_str(m, "reportedTcb");
                if (!tcb || strncmp(tcb, "tdx:UpToDate,fmspc=", 19) != 0)
                        cp_test_fail(__FILE__, __LINE__, "reportedTcb '%s'", tcb ? tcb : "(null)");
                /* the agent had its vTPM and the host's endpoint, not the TD's channel */
                char d[512], f[600];
                node_dir_of(m, "hclpool", d, sizeof d);
                snprintf(f, sizeof f, "%s/node.json", d);
                json_t *cfg = json_load_file(f, 0, NULL);
                ASSERT_TRUE(cfg != NULL);
                ASSERT_STREQ(json_string_value(json_object_get(cfg, "evidence")), "azure-hcl");
                ASSERT_TRUE(json_object_get(cfg, "tdxSocket") == NULL);
                const char *u = json_string_value(json_object_get(json_object_get(cfg, "azure"), "tdQuoteUrl"));
                ASSERT_TRUE(u && strstr(u, "/acc/tdquote") != NULL);
                json_decref(cfg);
        }
        /* two AzureGuest attestations, two disk keys released to their TEE keys */
        ASSERT_TRUE(guest_successes() >= 2);
        ASSERT_EQ(kbs_audit("allowed") - allowed0, 2);
}

TEST(altered_runtime_data_refused) {
        setup_env();
        put_tdx_pool("altpool", 1);
        ASSERT_EQ(nodes_fixture_reconcile(&E, 90, 50), 0);
        ASSERT_STREQ(pool_state("altpool"), "Failed");
        const char *msg = pool_error();
        if (!msg || !strstr(msg, "does not bind the runtime data"))
                cp_test_fail(__FILE__, __LINE__, "provisioningError '%s'", msg ? msg : "(null)");
        json_t *v = machines("altpool");
        ASSERT_EQ(json_array_size(v), 1);
        ASSERT_TRUE(strcmp(node_state(json_array_get(v, 0)) ?: "", "Ready") != 0);
}

/* a debug TD under the paravisor: AzureGuest's default policy denies it
 * (x-ms-isolation-tee.tdx_td_attributes_debug): no token, no key asked for */
TEST(debug_td_under_paravisor_refused) {
        setup_env();
        long allowed = kbs_audit("allowed"), denied = kbs_audit("denied");
        put_tdx_pool("dbgpool", 1);
        ASSERT_EQ(nodes_fixture_reconcile(&E, 90, 50), 0);
        ASSERT_STREQ(pool_state("dbgpool"), "Failed");
        const char *msg = pool_error();
        if (!msg || !strstr(msg, "attestation refused"))
                cp_test_fail(__FILE__, __LINE__, "provisioningError '%s'", msg ? msg : "(null)");
        ASSERT_EQ(kbs_audit("allowed"), allowed);
        ASSERT_EQ(kbs_audit("denied"), denied);
}

static pid_t agent_pid(json_t *m) {
        char d[512], f[600];
        uint8_t *b = NULL;
        size_t n = 0;
        node_dir_of(m, "hclpool", d, sizeof d);
        snprintf(f, sizeof f, "%s/agent.pid", d);
        ASSERT_OK(cp_read_file(f, 64, &b, &n));
        pid_t p = (pid_t) strtol((const char *) b, NULL, 10);
        free(b);
        ASSERT_TRUE(p > 0);
        return p;
}

/* attestd as the stack builds it, again on the same port (the issuer, a URL, stays) */
static void attestd_restart(uint16_t port) {
        uint8_t *ark = NULL;
        size_t ark_len = 0, root_len = 0;
        char *root = NULL, pcs[64] = "";
        ASSERT_OK(cp_backend_local_ark(E.backend, CP_SNP_GEN_MILAN, &ark, &ark_len));
        ASSERT_OK(cp_backend_local_tdx_platform(E.backend, &root, &root_len, pcs, sizeof pcs));
        cp_attestd_config ac = {.quiet = true, .only_extra_arks = true, .extra_arks = {ark}, .extra_ark_lens = {ark_len},
                                .tdx_trust_root = (const uint8_t *) root, .tdx_trust_root_len = root_len,
                                .tdx_pcs_url = pcs, .tdx_collateral_max_age_s = 1, .port = port};
        ASSERT_OK(cp_attestd_new(&ac, &E.attestd));
        free(ark);
        free(root);
        ASSERT_OK(cp_attestd_start(E.attestd));
}

/* A pre-provisioned vTPM (--vtpm-pool: its AK made ahead, for SEV-SNP's
 * native evidence) under an Azure TDX CVM: the software paravisor
 * provisions its own AK and runtime data into it, the node attests as an
 * AzureGuest and its disk key is released.  (Untested before.) */
TEST(node_on_a_pooled_vtpm_attests_as_an_azure_cvm) {
        setup_env();
        for (int i = 0; i < 300 && cp_backend_local_vtpm_pool_ready(E.backend) < 1; i++)
                nodes_fixture_nap(100);
        ASSERT_TRUE(cp_backend_local_vtpm_pool_ready(E.backend) >= 1);
        long allowed0 = kbs_audit("allowed"), guest0 = guest_successes();
        put_tdx_pool("pooledpool", 1);
        ASSERT_EQ(nodes_fixture_reconcile(&E, 90, 50), 0);
        expect_succeeded("pooledpool");
        json_t *v = machines("pooledpool");
        ASSERT_EQ(json_array_size(v), 1);
        json_t *m = json_array_get(v, 0);
        ASSERT_STREQ(node_state(m), "Ready");
        ASSERT_STREQ(att_str(m, "tee"), "TDX");
        char d[512], f[600];
        node_dir_of(m, "pooledpool", d, sizeof d);
        snprintf(f, sizeof f, "%s/tpm.pooled", d);
        if (access(f, F_OK) != 0)
                cp_test_fail(__FILE__, __LINE__, "the node did not boot on the pooled vTPM (no %s)", f);
        ASSERT_TRUE(guest_successes() > guest0);
        ASSERT_EQ(kbs_audit("allowed") - allowed0, 1);
}

/* A successor whose predecessor is paused, not dead (issues 16 + 17: its
 * lease expired while it was frozen; it holds its sockets until it runs
 * again and detaches), among them the TDX hosts' quote endpoints on their
 * kept ports (hosts/<host>/imds.port, in the Azure TDX CVMs' node.json).
 * The successor adopts the running CVMs anyway (before: "TD quote endpoint
 * ... Address already in use", the node not adopted but booted again),
 * serves the endpoint once the predecessor let it go, and the node
 * re-attests through it.  Then the predecessor leads again. */
TEST(successor_adopts_hcl_tds_while_a_paused_predecessor_holds_the_quote_port) {
        setup_env();
        json_t *v = machines("hclpool");
        ASSERT_TRUE(json_array_size(v) >= 1);
        json_t *m = json_array_get(v, 0);
        pid_t agent = agent_pid(m);
        char d[512], f[600], state[256], hosts[256], base[64];
        node_dir_of(m, "hclpool", d, sizeof d);
        snprintf(f, sizeof f, "%s/node.json", d);
        json_t *cfg = json_load_file(f, 0, NULL);
        ASSERT_TRUE(cfg != NULL);
        char quote_url[256];
        snprintf(quote_url, sizeof quote_url, "%s",
                 json_string_value(json_object_get(json_object_get(cfg, "azure"), "tdQuoteUrl")));
        json_decref(cfg);
        ASSERT_TRUE(nodes_fixture_listening(quote_url)); /* the predecessor's */
        snprintf(state, sizeof state, "%s/local", E.dir);
        snprintf(hosts, sizeof hosts, "%s/hosts", E.dir);
        snprintf(base, sizeof base, "http://127.0.0.1:%u", cp_httpd_port(E.httpd));
        cp_local_options lo = {.state_dir = state, .hosts_dir = hosts, .agent_path = CP_AGENT_PATH,
                               .hosts_per_generation = 1, .heartbeat_ms = 200, .prepare = prepare,
                               .tdx_azure_hcl = true, .diskkeys = E.diskkeys};
        cp_backend *b = NULL;
        ASSERT_OK(cp_backend_local_new(&lo, &b));
        ASSERT_OK(cp_backend_local_set_attestd_url(b, cp_attestd_issuer(E.attestd)));
        ASSERT_OK(cp_backend_local_set_controlplane_url(b, base));
        char pcs_url[64];
        ASSERT_OK(cp_backend_local_tdx_platform(b, NULL, NULL, pcs_url, sizeof pcs_url)); /* its port deferred too */
        /* (the other pools' refused nodes are booted again: not this pool's) */
        unsigned adopted = 0;
        if (cp_backend_local_recover(b, &adopted, NULL) < 0)
                cp_test_fail(__FILE__, __LINE__, "the successor's recovery: %s", cp_error_message());
        ASSERT_TRUE(adopted >= json_array_size(v));
        ASSERT_EQ(kill(agent, 0), 0); /* adopted: the same agent, not booted again */
        ASSERT_EQ(agent_pid(m), agent);
        /* the predecessor runs again and detaches: the successor listens within ~1 s */
        ASSERT_OK(cp_backend_local_detach(E.backend, NULL));
        char handle[128], ip[48], err[256];
        cp_node_state st;
        nodes_fixture_node_handle(AP "/hclpool", json_string_value(json_object_get(m, "name")), handle, sizeof handle);
        /* the successor's status calls (its reconciler's, in confpoold) retry the deferred
         * listeners: the quote endpoint and the PCS attestd fetches collateral from */
        bool up = false;
        for (int i = 0; i < 100 && !up; i++) {
                ASSERT_OK(b->ops->node_status(b, handle, &st, ip, sizeof ip, err, sizeof err));
                up = nodes_fixture_listening(quote_url) && nodes_fixture_listening(pcs_url);
                if (!up)
                        nodes_fixture_nap(100);
        }
        ASSERT_TRUE(up);
        ASSERT_EQ(st, CP_NODE_JOINING); /* the backend's last word on a node up (Ready is the control plane's) */
        long ok0 = guest_successes(), ok = ok0;
        ASSERT_EQ(kill(agent, SIGUSR1), 0);
        for (int i = 0; i < 300 && (ok = guest_successes()) <= ok0; i++) {
                ASSERT_OK(b->ops->node_status(b, handle, &st, ip, sizeof ip, err, sizeof err));
                nodes_fixture_nap(100);
        }
        ASSERT_TRUE(ok > ok0); /* a quote from the successor's endpoint, attested */
        ASSERT_EQ(kill(agent, 0), 0);
        /* and back: the successor detaches, the fixture's backend adopts the node again */
        ASSERT_OK(cp_backend_local_detach(b, NULL));
        cp_backend_free(b);
        ASSERT_OK(cp_backend_local_recover(E.backend, &adopted, NULL));
        ASSERT_EQ(kill(agent, 0), 0);
        ASSERT_EQ(agent_pid(m), agent);
}

/* attestd gone mid-re-attestation (as a kill -9 leaves it): the node's
 * re-attestation is deferred, it stays Ready on its token; attestd back on
 * its port, the next re-attestation succeeds */
TEST(attestd_killed_during_reattestation_node_stays_ready) {
        setup_env();
        json_t *v = machines("hclpool");
        ASSERT_TRUE(json_array_size(v) >= 1);
        json_t *m = json_incref(json_array_get(v, 0));
        char name[128];
        snprintf(name, sizeof name, "%s", json_string_value(json_object_get(m, "name")));
        pid_t agent = agent_pid(m);
        uint16_t port = cp_attestd_port(E.attestd);
        cp_attestd_free(E.attestd);
        E.attestd = NULL;
        ASSERT_EQ(kill(agent, SIGUSR1), 0);
        for (int i = 0; i < 15; i++) { /* 3 s: 15 heartbeat periods, re-attestation retried every one */
                nodes_fixture_nap(200);
                ASSERT_EQ(kill(agent, 0), 0);
        }
        v = machines("hclpool");
        for (size_t i = 0; i < json_array_size(v); i++)
                if (!strcmp(json_string_value(json_object_get(json_array_get(v, i), "name")), name))
                        ASSERT_STREQ(node_state(json_array_get(v, i)), "Ready");
        attestd_restart(port);
        ASSERT_EQ(kill(agent, SIGUSR1), 0);
        long ok = 0;
        for (int i = 0; i < 100 && (ok = guest_successes()) < 1; i++)
                nodes_fixture_nap(100);
        ASSERT_TRUE(ok >= 1);
        nodes_fixture_nap(600);
        ASSERT_EQ(kill(agent, 0), 0);
        v = machines("hclpool");
        for (size_t i = 0; i < json_array_size(v); i++)
                ASSERT_STREQ(node_state(json_array_get(v, i)), "Ready");
        json_decref(m);
        nodes_fixture_stop(&E); /* the agents stop before OpenSSL's exit-time cleanup */
}
