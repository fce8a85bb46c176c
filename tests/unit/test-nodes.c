/* SPDX-License-Identifier: Apache-2.0 */
/* Confidential nodes end to end on loopback: the local backend (software
 * AMD-SP hosts, swtpm vTPMs, measured boot, confpool-agent processes), the
 * attestation service in-process, confpoold's API + node endpoints over
 * HTTP and the reconciler driven synchronously. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "attestd/attestd.h"
#include "basic/codec.h"
#include "controlplane/cp-api.h"
#include "controlplane/cp-backend-local.h"
#include "controlplane/cp-httpd.h"
#include "controlplane/cp-nodes.h"
#include "controlplane/cp-reconciler.h"
#include "controlplane/cp-store.h"
#include "tests.h"

#define SUB "6a8b4c2e-1f3d-4e5a-9b7c-0d1e2f3a4b5c"
#define RGP "/subscriptions/" SUB "/resourceGroups/rg1"
#define MC RGP "/providers/Microsoft.ContainerService/managedClusters/c1"
#define AP MC "/agentPools"
#define CS "?api-version=2026-01-01"
#define RS "?api-version=2021-04-01"
#define SIZE "Standard_DC4as_v5"

typedef struct env {
        bool up;
        char dir[64];
        cp_store *store;
        cp_rules *rules;
        cp_backend *backend;
        cp_attestd *attestd;
        cp_nodes *nodes;
        cp_api *api;
        cp_httpd *httpd;
        cp_reconciler *rec;
        char auth[128];
} env;

static env E;
static cp_api_response R;
static const char *tamper_pool, *debug_pool;

static void prepare(void *ud, const cp_node_spec *spec, const char *node_dir, cp_local_launch *l) {
        (void) ud;
        if (tamper_pool && strstr(spec->pool_id, tamper_pool)) {
                /* a different kernel than the node image's */
                char f[2048];
                snprintf(f, sizeof f, "%.1500s/kernel-tampered", node_dir);
                FILE *fp = fopen(f, "w");
                if (fp) {
                        fputs("not the published kernel\n", fp);
                        fclose(fp);
                }
                snprintf(l->kernel_path, sizeof l->kernel_path, "%s", f);
        }
        if (debug_pool && strstr(spec->pool_id, debug_pool))
                l->debug = true;
}

static void teardown_env(void) {
        if (!E.up)
                return;
        cp_api_response_clear(&R);
        cp_httpd_stop(E.httpd);
        cp_reconciler_free(E.rec);
        cp_api_free(E.api);
        cp_nodes_free(E.nodes);
        cp_backend_free(E.backend); /* stops every agent and swtpm it started */
        cp_attestd_free(E.attestd);
        cp_store_close(E.store);
        cp_rules_free(E.rules);
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", E.dir);
        if (system(cmd) != 0)
                fprintf(stderr, "cleanup failed\n");
        E.up = false;
}

static void setup_env(void) {
        if (E.up)
                return;
        snprintf(E.dir, sizeof E.dir, "/tmp/cp-nodes-XXXXXX");
        ASSERT_TRUE(mkdtemp(E.dir) != NULL);
        E.up = true;
        atexit(teardown_env);
        char p[256], hosts[256];
        snprintf(p, sizeof p, "%s/local", E.dir);
        snprintf(hosts, sizeof hosts, "%s/hosts", E.dir);
        cp_local_options lo = {.state_dir = p, .hosts_dir = hosts, .agent_path = CP_AGENT_PATH,
                               .hosts_per_generation = 1, .heartbeat_ms = 200, .prepare = prepare};
        ASSERT_OK(cp_backend_local_new(&lo, &E.backend));
        uint8_t *ark = NULL;
        size_t ark_len;
        ASSERT_OK(cp_backend_local_ark(E.backend, CP_SNP_GEN_MILAN, &ark, &ark_len));
        cp_attestd_config ac = {.quiet = true, .only_extra_arks = true, .extra_arks = {ark}, .extra_ark_lens = {ark_len}};
        ASSERT_OK(cp_attestd_new(&ac, &E.attestd));
        free(ark);
        ASSERT_OK(cp_attestd_start(E.attestd));
        const char *issuer = cp_attestd_issuer(E.attestd);
        ASSERT_OK(cp_backend_local_set_attestd_url(E.backend, issuer));

        snprintf(p, sizeof p, "%s/confpoold.db", E.dir);
        ASSERT_OK(cp_cpstore_open(p, &E.store));
        ASSERT_OK(cp_rules_new(&E.rules));
        cp_nodes_options no = {.store = E.store, .backend = E.backend, .attestd_url = issuer,
                               .min_tcb = {.bl = 1, .snp = 10, .ucode = 100}};
        ASSERT_OK(cp_nodes_new(&no, &E.nodes));
        cp_api_options o = {.store = E.store, .rules = E.rules, .state_dir = E.dir, .base_url = "http://127.0.0.1",
                            .pre_auth = cp_nodes_pre_auth, .pre_auth_userdata = E.nodes};
        ASSERT_OK(cp_api_new(&o, &E.api));
        cp_httpd_options ho = {.bind_addr = "127.0.0.1", .threads = 4, .max_body = 1 << 20};
        ASSERT_OK(cp_httpd_start(&ho, cp_api_http_handler, E.api, &E.httpd));
        char base[64];
        snprintf(base, sizeof base, "http://127.0.0.1:%u", cp_httpd_port(E.httpd));
        ASSERT_OK(cp_backend_local_set_controlplane_url(E.backend, base));
        ASSERT_OK(cp_reconciler_new(E.store, E.rules, E.backend, &E.rec));
        snprintf(p, sizeof p, "%s/operator.token", E.dir);
        FILE *f = fopen(p, "r");
        ASSERT_TRUE(f != NULL);
        char t[100] = "";
        ASSERT_TRUE(fscanf(f, "%99s", t) == 1);
        fclose(f);
        snprintf(E.auth, sizeof E.auth, "Bearer %s", t);
}

static unsigned call(const char *method, const char *url, const char *body) {
        char path[1024], ver[64] = "";
        const char *q = strchr(url, '?');
        snprintf(path, sizeof path, "%.*s", (int) (q ? (size_t) (q - url) : strlen(url)), url);
        if (q && strncmp(q, "?api-version=", 13) == 0)
                snprintf(ver, sizeof ver, "%s", q + 13);
        cp_api_request rq = {.method = method, .path = path, .api_version = ver[0] ? ver : NULL,
                             .authorization = E.auth, .host = "cp.test", .body = (const uint8_t *) body,
                             .body_len = body ? strlen(body) : 0};
        cp_api_response_clear(&R);
        cp_api_handle(E.api, &rq, &R);
        if (R.raw) {
                R.body = json_loadb(R.raw, R.raw_len, 0, NULL);
                ASSERT_TRUE(R.body != NULL);
        }
        return R.status;
}

/* Drive the reconciler until nothing is in progress (at most ~40 s). */
static void reconcile(void) {
        size_t active = 1;
        for (int i = 0; i < 800 && active; i++) {
                ASSERT_OK(cp_reconciler_run_once(E.rec, &active));
                if (active) {
                        struct timespec ts = {0, 50 * 1000000L};
                        nanosleep(&ts, NULL);
                }
        }
        ASSERT_EQ(active, 0);
}

static const char *pool_state(const char *pool) {
        char url[512];
        snprintf(url, sizeof url, AP "/%s" CS, pool);
        ASSERT_EQ(call("GET", url, NULL), 200);
        return json_string_value(json_object_get(json_object_get(R.body, "properties"), "provisioningState"));
}

static const char *pool_error(void) {
        return json_string_value(json_object_get(
                json_object_get(json_object_get(json_object_get(R.body, "properties"), "status"), "provisioningError"),
                "message"));
}

static void add_pool(const char *name) {
        char url[512];
        snprintf(url, sizeof url, AP "/%s" CS, name);
        unsigned st = call("PUT", url, "{\"properties\":{\"count\":1,\"vmSize\":\"" SIZE "\",\"mode\":\"User\"}}");
        ASSERT_TRUE(st == 200 || st == 201);
        reconcile();
}

static void expect_failed(const char *pool, const char *needle) {
        ASSERT_STREQ(pool_state(pool), "Failed");
        const char *msg = pool_error();
        ASSERT_TRUE(msg != NULL);
        if (!strstr(msg, needle))
                cp_test_fail(__FILE__, __LINE__, "provisioningError '%s' lacks '%s'", msg, needle);
        char url[512];
        snprintf(url, sizeof url, AP "/%s/machines" CS, pool);
        ASSERT_EQ(call("GET", url, NULL), 200);
        json_t *v = json_object_get(R.body, "value");
        ASSERT_EQ(json_array_size(v), 1);
        ASSERT_STREQ(json_string_value(json_object_get(
                             json_object_get(json_object_get(json_array_get(v, 0), "properties"), "status"), "nodeState")),
                     "Failed");
}

TEST(pool_of_three_attested_nodes) {
        setup_env();
        ASSERT_EQ(call("PUT", RGP RS, "{\"location\":\"eastus\"}"), 201);
        ASSERT_EQ(call("PUT", MC CS,
                       "{\"location\":\"eastus\",\"properties\":{\"agentPoolProfiles\":[{\"name\":\"nodepool1\","
                       "\"count\":3,\"vmSize\":\"" SIZE "\",\"mode\":\"System\"}]}}"),
                  201);
        reconcile();
        ASSERT_STREQ(pool_state("nodepool1"), "Succeeded");
        const char *image = json_string_value(json_object_get(json_object_get(R.body, "properties"), "nodeImageVersion"));
        cp_node_spec spec = {.pool_id = AP "/nodepool1", .name = "x", .vm_size = SIZE, .image = image};
        uint8_t expected[48];
        char hex[97];
        ASSERT_OK(E.backend->ops->expected_measurement(E.backend, &spec, expected));
        cp_hex_encode(expected, 48, hex);
        ASSERT_EQ(call("GET", AP "/nodepool1/machines" CS, NULL), 200);
        json_t *v = json_object_get(R.body, "value");
        ASSERT_EQ(json_array_size(v), 3);
        for (size_t i = 0; i < 3; i++) {
                json_t *props = json_object_get(json_array_get(v, i), "properties");
                ASSERT_STREQ(json_string_value(json_object_get(json_object_get(props, "status"), "nodeState")), "Ready");
                json_t *att = json_object_get(props, "attestation");
                ASSERT_TRUE(att != NULL);
                ASSERT_STREQ(json_string_value(json_object_get(att, "launchMeasurement")), hex);
                ASSERT_STREQ(json_string_value(json_object_get(att, "host")), "host-milan-0");
                ASSERT_STREQ(json_string_value(json_object_get(att, "reason")), "");
                ASSERT_TRUE(json_integer_value(json_object_get(att, "tokenExpiry")) > (json_int_t) time(NULL));
        }
        /* heartbeats arrive with the token (200 ms period) */
        json_t *m0 = json_array_get(v, 0);
        char name[64];
        snprintf(name, sizeof name, "%s", json_string_value(json_object_get(m0, "name")));
        cp_node_info ni = {0};
        for (int i = 0; i < 40 && ni.heartbeat_at == 0; i++) {
                struct timespec ts = {0, 100 * 1000000L};
                nanosleep(&ts, NULL);
                cp_store_lock(E.store);
                int r = cp_nodes_info(E.store, AP "/nodepool1", name, &ni);
                cp_store_unlock(E.store);
                ASSERT_OK(r);
        }
        ASSERT_TRUE(ni.heartbeat_at > 0);
}

TEST(tampered_kernel_refused) {
        setup_env();
        tamper_pool = "/agentPools/tamper";
        add_pool("tamper");
        tamper_pool = NULL;
        expect_failed("tamper", "is not the node image's");
}

TEST(debug_launch_refused) {
        setup_env();
        debug_pool = "/agentPools/debugpool";
        add_pool("debugpool");
        debug_pool = NULL;
        expect_failed("debugpool", "attestation refused");
}

TEST(host_tcb_below_policy_refused) {
        setup_env();
        cp_snp_tcb old = {.bl = 4, .tee = 0, .snp = 22, .ucode = 213}, low = {.bl = 4, .tee = 0, .snp = 3, .ucode = 213};
        ASSERT_OK(cp_backend_local_set_host_tcb(E.backend, CP_SNP_GEN_MILAN, &low));
        add_pool("oldtcb");
        ASSERT_OK(cp_backend_local_set_host_tcb(E.backend, CP_SNP_GEN_MILAN, &old));
        expect_failed("oldtcb", "reported TCB below the policy: x-ms-sevsnpvm-snpfw-svn 3 < 10");
        teardown_env();
}
