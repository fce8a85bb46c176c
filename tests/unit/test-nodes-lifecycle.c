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
#include "nodes-fixture.h"
#include "tests.h"

#define HEARTBEAT_DEADLINE_MS 6000

#define SUB "6a8b4c2e-1f3d-4e5a-9b7c-0d1e2f3a4b5c"
#define RGP "/subscriptions/" SUB "/resourceGroups/rg1"
#define MC RGP "/providers/Microsoft.ContainerService/managedClusters/c1"
#define AP MC "/agentPools"
#define CS "?api-version=2026-01-01"
#define RS "?api-version=2021-04-01"
#define SIZE "Standard_DC4as_v5"

static nodes_fixture E;
static cp_api_response R;

static void teardown_env(void) {
        cp_api_response_clear(&R);
        nodes_fixture_stop(&E);
}

static void setup_env(void) {
        if (E.up)
                return;
        atexit(teardown_env);
        /* heartbeat deadline generous enough that healthy agents are never
         * late when the machine is loaded */
        nodes_fixture_options o = {.dir_template = "/tmp/cp-nlife-XXXXXX", .hosts_per_generation = 1,
                                   .heartbeat_ms = 200, .heartbeat_deadline_ms = HEARTBEAT_DEADLINE_MS};
        ASSERT_OK(nodes_fixture_start(&o, &E));
}

static unsigned call(const char *method, const char *url, const char *body) {
        unsigned st = nodes_fixture_call(&E, method, url, body, &R);
        if (R.raw)
                ASSERT_TRUE(R.body != NULL);
        return st;
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
