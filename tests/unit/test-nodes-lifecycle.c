/* SPDX-License-Identifier: Apache-2.0 */
/* Node lifecycle on the local backend (docs/nodes.md): scale up/down,
 * a killed agent and a silent agent (missed heartbeats) replaced, a node
 * failing re-attestation quarantined and replaced, pool delete stopping
 * every node and destroying its directory and disk key.  Same in-process
 * setup as test-nodes.c (attestd, API + node endpoints over HTTP,
 * reconciler and health pass driven synchronously). */
#include <errno.h>
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
#include "shared/proc.h"
#include "tests.h"

#define HEARTBEAT_DEADLINE_MS 6000

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
        snprintf(E.dir, sizeof E.dir, "/tmp/cp-nlife-XXXXXX");
        ASSERT_TRUE(mkdtemp(E.dir) != NULL);
        E.up = true;
        atexit(teardown_env);
        char p[256], hosts[256];
        snprintf(p, sizeof p, "%s/local", E.dir);
        snprintf(hosts, sizeof hosts, "%s/hosts", E.dir);
        cp_local_options lo = {.state_dir = p, .hosts_dir = hosts, .agent_path = CP_AGENT_PATH,
                               .hosts_per_generation = 1, .heartbeat_ms = 200};
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
        /* generous enough that healthy agents are never late when the machine is
         * loaded (a synchronous reconcile holds the store while it boots nodes) */
        cp_reconciler_set_heartbeat_deadline(E.rec, HEARTBEAT_DEADLINE_MS);
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

static void put_pool(const char *name, int count) {
        char url[512], body[256];
        snprintf(url, sizeof url, AP "/%s" CS, name);
        snprintf(body, sizeof body, "{\"properties\":{\"count\":%d,\"vmSize\":\"" SIZE "\",\"mode\":\"User\"}}",
                 count);
        unsigned st = call("PUT", url, body);
        ASSERT_TRUE(st == 200 || st == 201);
        reconcile();
}


static void nap(long ms) {
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
}

static void cluster(void) {
        static bool done;
        setup_env();
        if (done)
                return;
        ASSERT_EQ(call("PUT", RGP RS, "{\"location\":\"eastus\"}"), 201);
        ASSERT_EQ(call("PUT", MC CS,
                       "{\"location\":\"eastus\",\"properties\":{\"agentPoolProfiles\":[{\"name\":\"nodepool1\","
                       "\"count\":1,\"vmSize\":\"" SIZE "\",\"mode\":\"System\"}]}}"),
                  201);
        reconcile();
        ASSERT_STREQ(pool_state("nodepool1"), "Succeeded");
        done = true;
}

typedef struct mach {
        char name[64];
        char state[24];
        pid_t agent, swtpm;
        char dir[256];
} mach;

/* The machines of a pool (API) with their node processes (pid files). */
static size_t machines(const char *pool, mach *out, size_t max) {
        char url[512];
        snprintf(url, sizeof url, AP "/%s/machines" CS, pool);
        ASSERT_EQ(call("GET", url, NULL), 200);
        json_t *v = json_object_get(R.body, "value");
        size_t n = json_array_size(v);
        ASSERT_TRUE(n <= max);
        for (size_t i = 0; i < n; i++) {
                json_t *m = json_array_get(v, i);
                mach *x = &out[i];
                memset(x, 0, sizeof *x);
                snprintf(x->name, sizeof x->name, "%s", json_string_value(json_object_get(m, "name")));
                snprintf(x->state, sizeof x->state, "%s",
                         json_string_value(json_object_get(
                                 json_object_get(json_object_get(m, "properties"), "status"), "nodeState")));
                snprintf(x->dir, sizeof x->dir, "%s/local/nodes/%s", E.dir, x->name);
                char f[300];
                snprintf(f, sizeof f, "%s/agent.pid", x->dir);
                if (cp_proc_read_pidfile(f, &x->agent) < 0)
                        cp_error_clear();
                snprintf(f, sizeof f, "%s/swtpm.pid", x->dir);
                if (cp_proc_read_pidfile(f, &x->swtpm) < 0)
                        cp_error_clear();
        }
        return n;
}

static bool exists(const char *path) {
        struct stat st;
        return stat(path, &st) == 0;
}

/* A removed node: processes gone, directory (with the disk key) destroyed. */
static void assert_erased(const mach *m) {
        char f[300];
        snprintf(f, sizeof f, "%s/disk-key.standin", m->dir);
        ASSERT_FALSE(exists(f));
        ASSERT_FALSE(exists(m->dir));
        ASSERT_TRUE(m->agent > 0 && m->swtpm > 0);
        ASSERT_FALSE(cp_proc_matches(m->agent, m->dir));
        ASSERT_FALSE(cp_proc_matches(m->swtpm, m->dir));
}

static void assert_all_ready(const char *pool, size_t want) {
        mach ms[8];
        ASSERT_STREQ(pool_state(pool), "Succeeded");
        size_t n = machines(pool, ms, 8);
        ASSERT_EQ(n, want);
        for (size_t i = 0; i < n; i++) {
                ASSERT_STREQ(ms[i].state, "Ready");
                ASSERT_TRUE(cp_proc_matches(ms[i].agent, ms[i].dir));
        }
}

/* Health passes until one replaces something (at most ~timeout_ms). */
static size_t heal(long timeout_ms) {
        size_t replaced = 0;
        for (long t = 0; t <= timeout_ms && !replaced; t += 100) {
                ASSERT_OK(cp_reconciler_check_health(E.rec, &replaced));
                if (!replaced)
                        nap(100);
        }
        return replaced;
}

static bool listed(const mach *ms, size_t n, const char *name) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(ms[i].name, name) == 0)
                        return true;
        return false;
}

TEST(scale_up_and_down) {
        cluster();
        put_pool("scale", 1);
        assert_all_ready("scale", 1);
        put_pool("scale", 3);
        assert_all_ready("scale", 3);
        mach before[8], after[8];
        ASSERT_EQ(machines("scale", before, 8), 3);
        put_pool("scale", 1);
        assert_all_ready("scale", 1);
        ASSERT_EQ(machines("scale", after, 8), 1);
        size_t erased = 0;
        for (size_t i = 0; i < 3; i++)
                if (!listed(after, 1, before[i].name)) {
                        assert_erased(&before[i]);
                        erased++;
                }
        ASSERT_EQ(erased, 2);
        /* healthy nodes are left alone */
        size_t replaced = 1;
        ASSERT_OK(cp_reconciler_check_health(E.rec, &replaced));
        ASSERT_EQ(replaced, 0);
}

static void replaced_after(const char *pool, int sig) {
        cluster();
        put_pool(pool, 2);
        assert_all_ready(pool, 2);
        mach before[8], after[8];
        ASSERT_EQ(machines(pool, before, 8), 2);
        ASSERT_EQ(kill(before[0].agent, sig), 0);
        /* SIGKILL: the backend sees the agent exit; SIGSTOP: heartbeats stop,
         * the deadline passes */
        ASSERT_EQ(heal(sig == SIGKILL ? 2000 : HEARTBEAT_DEADLINE_MS + 4000), 1);
        ASSERT_STREQ(pool_state(pool), "Updating");
        reconcile();
        assert_all_ready(pool, 2);
        ASSERT_EQ(machines(pool, after, 8), 2);
        ASSERT_FALSE(listed(after, 2, before[0].name));
        ASSERT_TRUE(listed(after, 2, before[1].name));
        assert_erased(&before[0]);
}

TEST(killed_agent_replaced) {
        replaced_after("killed", SIGKILL);
}

TEST(silent_agent_replaced_after_heartbeat_deadline) {
        replaced_after("silent", SIGSTOP);
}

TEST(failed_reattestation_quarantined_and_replaced) {
        cluster();
        put_pool("quar", 1);
        assert_all_ready("quar", 1);
        mach before[8], after[8];
        ASSERT_EQ(machines("quar", before, 8), 1);
        cp_snp_tcb old = {.bl = 4, .tee = 0, .snp = 22, .ucode = 213}, low = {.bl = 4, .tee = 0, .snp = 3, .ucode = 213};
        ASSERT_OK(cp_backend_local_set_host_tcb(E.backend, CP_SNP_GEN_MILAN, &low));
        char handle[128];
        snprintf(handle, sizeof handle, "local:%s", before[0].name);
        ASSERT_OK(cp_backend_local_signal(E.backend, handle, SIGUSR1)); /* re-attest now */
        cp_machine m = {0};
        for (int i = 0; i < 100; i++) {
                cp_store_lock(E.store);
                int r = cp_machine_get(E.store, AP "/quar", before[0].name, &m);
                cp_store_unlock(E.store);
                ASSERT_OK(r);
                if (strcmp(m.state, "Quarantined") == 0)
                        break;
                nap(100);
        }
        ASSERT_STREQ(m.state, "Quarantined");
        cp_node_info ni;
        cp_store_lock(E.store);
        int r = cp_nodes_info(E.store, AP "/quar", before[0].name, &ni);
        cp_store_unlock(E.store);
        ASSERT_OK(r);
        if (!strstr(ni.reason, "reported TCB below the policy"))
                cp_test_fail(__FILE__, __LINE__, "reason '%s'", ni.reason);
        /* cordoned: a quarantined machine is admitted no more, whatever its token */
        ASSERT_OK(cp_backend_local_set_host_tcb(E.backend, CP_SNP_GEN_MILAN, &old));
        ASSERT_EQ(heal(1000), 1);
        reconcile();
        assert_all_ready("quar", 1);
        ASSERT_EQ(machines("quar", after, 8), 1);
        ASSERT_FALSE(listed(after, 1, before[0].name));
        assert_erased(&before[0]);
}

TEST(pool_delete_stops_and_erases) {
        cluster();
        put_pool("del", 2);
        assert_all_ready("del", 2);
        mach before[8];
        ASSERT_EQ(machines("del", before, 8), 2);
        unsigned st = call("DELETE", AP "/del" CS, NULL);
        ASSERT_TRUE(st == 200 || st == 202);
        reconcile();
        ASSERT_EQ(call("GET", AP "/del" CS, NULL), 404);
        for (size_t i = 0; i < 2; i++)
                assert_erased(&before[i]);
        teardown_env();
}
