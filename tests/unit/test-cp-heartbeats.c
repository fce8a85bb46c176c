/* SPDX-License-Identifier: Apache-2.0 */
/* Heartbeats at fleet scale (issue 19, docs/fleet.md): a heartbeat of a
 * Ready machine whose attestation record would change only in its time is
 * batched (cp_nodes_flush, at most once per second from the node
 * endpoints) instead of an UPSERT and a synchronous commit each; the
 * machines API shows the unwritten time; anything else (registration, a new
 * token, a refusal) is written at once.  On the fake backend with
 * fakeBackend.launchMeasurement (attested fake nodes) and cp_nodes_admit
 * with claims as a verified token carries them. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "basic/codec.h"
#include "controlplane/cp-api.h"
#include "cp-api-testutil.h"
#include "controlplane/cp-backend.h"
#include "controlplane/cp-lease.h"
#include "controlplane/cp-nodes.h"
#include "controlplane/cp-reconciler.h"
#include "controlplane/cp-rules.h"
#include "controlplane/cp-store.h"
#include "tests.h"

#define SUB "6a8b4c2e-1f3d-4e5a-9b7c-0d1e2f3a4b5c"
#define MC "/subscriptions/" SUB "/resourceGroups/rg1/providers/Microsoft.ContainerService/managedClusters/c1"
#define POOL MC "/agentPools/nodepool1"
#define CS "?api-version=2026-01-01"
#define M_A "aa0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f"
#define M_B "bb0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f"

static struct {
        char dir[64], auth[128], machine[64];
        cp_store *store, *reader;
        cp_rules *rules;
        cp_backend *backend;
        cp_nodes *nodes;
        cp_api *api;
        cp_reconciler *rec;
} E;
static cp_api_reply R;

static unsigned call(const char *method, const char *url, const char *body) {
        cp_api_call_headers h = {.authorization = E.auth, .host = "cp.test:443"};
        cp_api_call(E.api, &R, method, url, NULL, &h, body);
        return R.status;
}

static void open_env_with(bool reader) {
        char db[128], tp[128], t[100] = "";
        snprintf(E.dir, sizeof E.dir, "/tmp/cp-hb-XXXXXX");
        ASSERT_TRUE(mkdtemp(E.dir) != NULL);
        snprintf(db, sizeof db, "%s/confpoold.db", E.dir);
        ASSERT_OK(cp_cpstore_open(db, &E.store));
        ASSERT_OK(cp_rules_new(&E.rules));
        json_t *j = json_loads("{\"fakeBackend\":{\"readyDelayMs\":0,\"launchMeasurement\":\"" M_A "\"}}", 0, NULL);
        ASSERT_OK(cp_rules_load_json(E.rules, j));
        json_decref(j);
        ASSERT_OK(cp_backend_fake_from_config(cp_rules_fake_backend(E.rules), &E.backend));
        /* no attestation service: admission is called with verified claims */
        if (reader)
                ASSERT_OK(cp_store_open(db, NULL, 0, &E.reader));
        cp_nodes_options no = {.store = E.store, .reader = E.reader, .backend = E.backend,
                               .attestd_url = "http://127.0.0.1:9"};
        ASSERT_OK(cp_nodes_new(&no, &E.nodes));
        cp_api_options o = {.store = E.store, .rules = E.rules, .state_dir = E.dir, .base_url = "http://cp.test",
                            .nodes = E.nodes};
        ASSERT_OK(cp_api_new(&o, &E.api));
        ASSERT_OK(cp_reconciler_new(E.store, E.rules, E.backend, &E.rec));
        cp_reconciler_set_nodes(E.rec, E.nodes); /* its health pass writes the heartbeat times */
        snprintf(tp, sizeof tp, "%s/operator.token", E.dir);
        FILE *f = fopen(tp, "r");
        ASSERT_TRUE(f != NULL);
        ASSERT_TRUE(fscanf(f, "%99s", t) == 1);
        fclose(f);
        snprintf(E.auth, sizeof E.auth, "Bearer %s", t);
        ASSERT_EQ(call("PUT", "/subscriptions/" SUB "/resourceGroups/rg1?api-version=2021-04-01",
                       "{\"location\":\"eastus\"}"),
                  201);
        ASSERT_EQ(call("PUT", MC CS,
                       "{\"location\":\"eastus\",\"properties\":{\"agentPoolProfiles\":[{\"name\":\"nodepool1\","
                       "\"count\":1,\"vmSize\":\"Standard_DC4as_v5\",\"mode\":\"System\"}]}}"),
                  201);
        size_t active;
        for (int i = 0; i < 10; i++) {
                ASSERT_OK(cp_reconciler_run_once(E.rec, &active));
                if (!active)
                        break;
        }
        cp_machine *ms = NULL;
        size_t n = 0;
        cp_store_lock(E.store);
        ASSERT_OK(cp_machine_list(E.store, POOL, &ms, &n));
        cp_store_unlock(E.store);
        ASSERT_EQ(n, 1);
        snprintf(E.machine, sizeof E.machine, "%s", ms[0].name);
        free(ms);
}

static void open_env(void) {
        open_env_with(false);
}

static void close_env(void) {
        cp_api_reply_clear(&R);
        cp_reconciler_free(E.rec);
        cp_api_free(E.api);
        cp_nodes_free(E.nodes);
        cp_backend_free(E.backend);
        cp_store_close(E.reader);
        cp_store_close(E.store);
        cp_rules_free(E.rules);
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", E.dir);
        if (system(cmd) != 0)
                fprintf(stderr, "cleanup failed\n");
}

/* The claims of a verified token of this machine (HOST_DATA: its identity). */
static json_t *claims(const char *lm, long long iat) {
        uint8_t hd[32];
        char hex[65];
        ASSERT_OK(cp_node_host_data(POOL, E.machine, hd));
        cp_hex_encode(hd, 32, hex);
        json_t *c = json_pack("{s:s,s:s,s:b,s:i,s:i,s:i,s:i,s:s,s:b,s:I,s:I}", "x-confpool-evidence-type", "native",
                              "x-ms-sevsnpvm-launchmeasurement", lm, "x-ms-sevsnpvm-is-debuggable", 0,
                              "x-ms-sevsnpvm-bootloader-svn", 3, "x-ms-sevsnpvm-tee-svn", 0,
                              "x-ms-sevsnpvm-snpfw-svn", 8, "x-ms-sevsnpvm-microcode-svn", 115,
                              "x-ms-sevsnpvm-hostdata", hex, "x-confpool-eventlog-replayed", 1, "iat", iat, "exp",
                              iat + 3600);
        ASSERT_TRUE(c != NULL);
        return c;
}

static cp_admission admit(bool hb, const json_t *c) {
        cp_admission a = CP_ADMIT_NO_MACHINE;
        char why[768];
        ASSERT_OK(cp_nodes_admit(E.nodes, POOL, E.machine, hb, c, &a, why, sizeof why));
        return a;
}

static int64_t stored_heartbeat(void) {
        cp_node_info ni;
        cp_store_lock(E.store);
        ASSERT_OK(cp_nodes_info(E.store, POOL, E.machine, &ni));
        cp_store_unlock(E.store);
        return ni.heartbeat_at;
}

static int64_t api_heartbeat(void) {
        char url[512];
        snprintf(url, sizeof url, POOL "/machines/%s" CS, E.machine);
        ASSERT_EQ(call("GET", url, NULL), 200);
        json_t *a = json_object_get(json_object_get(R.body, "properties"), "attestation");
        ASSERT_TRUE(a != NULL);
        return json_integer_value(json_object_get(a, "lastHeartbeat"));
}

TEST(heartbeats_batched_and_visible) {
        memset(&E, 0, sizeof E);
        open_env();
        long long t0 = (long long) time(NULL);
        json_t *c1 = claims(M_A, t0);
        ASSERT_EQ(admit(false, c1), CP_ADMIT_READY); /* register: written at once */
        ASSERT_EQ(stored_heartbeat(), 0);
        ASSERT_EQ(api_heartbeat(), 0);
        /* a heartbeat with the same token: batched, yet shown by the API */
        int64_t before = (int64_t) time(NULL);
        ASSERT_EQ(admit(true, c1), CP_ADMIT_READY);
        ASSERT_EQ(stored_heartbeat(), 0);
        ASSERT_TRUE(api_heartbeat() >= before);
        ASSERT_OK(cp_nodes_flush(E.nodes));
        ASSERT_TRUE(stored_heartbeat() >= before);
        /* a new token (re-attestation): the record is written at once */
        json_t *c2 = claims(M_A, t0 + 1);
        sleep(1);
        before = (int64_t) time(NULL);
        ASSERT_EQ(admit(true, c2), CP_ADMIT_READY);
        ASSERT_TRUE(stored_heartbeat() >= before);
        /* batched again; a heartbeat a second later does not write them on
         * its request's thread (issue 19: that commit, fsync included, made
         * every other heartbeat wait): the reconciler's health pass does */
        sleep(1);
        int64_t stored = stored_heartbeat();
        before = (int64_t) time(NULL);
        ASSERT_EQ(admit(true, c2), CP_ADMIT_READY);
        sleep(1);
        ASSERT_TRUE((int64_t) time(NULL) > before);
        ASSERT_EQ(admit(true, c2), CP_ADMIT_READY);
        ASSERT_EQ(stored_heartbeat(), stored);
        ASSERT_TRUE(api_heartbeat() > before);
        size_t replaced = 9;
        ASSERT_OK(cp_reconciler_check_health(E.rec, &replaced));
        ASSERT_EQ(replaced, 0);
        ASSERT_TRUE(stored_heartbeat() > before);
        /* a token failing the policy: Quarantined, written at once */
        json_t *bad = claims(M_B, t0 + 2);
        ASSERT_EQ(admit(true, bad), CP_ADMIT_REFUSED);
        cp_machine m;
        cp_store_lock(E.store);
        ASSERT_OK(cp_machine_get(E.store, POOL, E.machine, &m));
        cp_store_unlock(E.store);
        ASSERT_STREQ(m.state, "Quarantined");
        cp_node_info ni;
        cp_store_lock(E.store);
        ASSERT_OK(cp_nodes_info(E.store, POOL, E.machine, &ni));
        cp_store_unlock(E.store);
        ASSERT_TRUE(strstr(ni.reason, "measurement") != NULL);
        json_decref(c1);
        json_decref(c2);
        json_decref(bad);
        /* pending times are written when the node endpoints go away */
        json_t *again = claims(M_A, t0 + 3);
        ASSERT_EQ(admit(false, again), CP_ADMIT_CONFLICT); /* quarantined: refused */
        json_decref(again);
        close_env();
}

/* Another thread's write transaction (a registration's commit, a reconciler
 * pass) held for hold_ms. */
static void *hold_store(void *ud) {
        long hold_ms = *(long *) ud;
        ASSERT_OK(cp_store_begin(E.store));
        struct timespec ts = {hold_ms / 1000, (hold_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        ASSERT_OK(cp_store_commit(E.store));
        return NULL;
}

static double ms_since(const struct timespec *t0) {
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        return (double) (t1.tv_sec - t0->tv_sec) * 1e3 + (double) (t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Issue 19: with the read connection, a heartbeat that changes nothing but
 * its time is admitted while another thread holds the write transaction
 * (before: it waited for it, the tail of heartbeat latency at 10,000
 * nodes); one that must write (a refusal) still waits and is written. */
TEST(heartbeat_does_not_wait_for_writes) {
        memset(&E, 0, sizeof E);
        open_env_with(true);
        long long t0 = (long long) time(NULL);
        json_t *c1 = claims(M_A, t0);
        ASSERT_EQ(admit(false, c1), CP_ADMIT_READY);
        ASSERT_EQ(admit(true, c1), CP_ADMIT_READY); /* the record's digest noted */
        long hold = 800;
        pthread_t th;
        ASSERT_EQ(pthread_create(&th, NULL, hold_store, &hold), 0);
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL); /* the other thread has the transaction */
        struct timespec s0;
        clock_gettime(CLOCK_MONOTONIC, &s0);
        int64_t before = (int64_t) time(NULL);
        ASSERT_EQ(admit(true, c1), CP_ADMIT_READY);
        double fast = ms_since(&s0);
        int64_t noted = 0;
        cp_nodes_heartbeat_of(E.nodes, POOL, E.machine, &noted); /* in memory: no store lock */
        ASSERT_TRUE(noted >= before);
        /* a refusal must be written: it waits for the transaction */
        json_t *bad = claims(M_B, t0 + 1);
        clock_gettime(CLOCK_MONOTONIC, &s0);
        ASSERT_EQ(admit(true, bad), CP_ADMIT_REFUSED);
        double slow = ms_since(&s0);
        pthread_join(th, NULL);
        if (fast > 300 || slow < 400)
                cp_test_fail(__FILE__, __LINE__, "heartbeat %.0f ms (want < 300), refusal %.0f ms (want >= 400)", fast,
                             slow);
        cp_machine m;
        cp_store_lock(E.store);
        ASSERT_OK(cp_machine_get(E.store, POOL, E.machine, &m));
        cp_store_unlock(E.store);
        ASSERT_STREQ(m.state, "Quarantined");
        /* and a quarantined machine's next heartbeat is refused on the fast path too */
        ASSERT_EQ(admit(true, c1), CP_ADMIT_CONFLICT);
        json_decref(c1);
        json_decref(bad);
        close_env();
}

/* Issue 17 item 4: a replica that is not the leader serves heartbeats too
 * and batches their times; its reconciler thread (idle as a follower)
 * writes them about once a second, without waiting for its next node
 * request (before: only that request, or its exit, wrote them, so the
 * leader's health check could see a Ready node's heartbeat as lapsed). */
TEST(follower_flushes_batched_heartbeats_on_its_own) {
        memset(&E, 0, sizeof E);
        open_env();
        cp_lease *other = NULL, *me = NULL;
        bool became = false;
        ASSERT_OK(cp_lease_new(E.store, "other-replica", 60000, &other));
        ASSERT_OK(cp_lease_new(E.store, "this-replica", 60000, &me));
        ASSERT_OK(cp_lease_tick(other, &became));
        ASSERT_TRUE(became);
        ASSERT_OK(cp_lease_tick(me, &became));
        ASSERT_TRUE(!became && !cp_lease_is_leader(me, NULL)); /* a follower */
        cp_reconciler_set_lease(E.rec, me);
        cp_reconciler_set_nodes(E.rec, E.nodes);
        json_t *c = claims(M_A, (long long) time(NULL));
        ASSERT_EQ(admit(false, c), CP_ADMIT_READY); /* register: written at once */
        ASSERT_OK(cp_nodes_flush(E.nodes));         /* the batch's second starts now */
        int64_t before = (int64_t) time(NULL);
        ASSERT_EQ(admit(true, c), CP_ADMIT_READY);
        ASSERT_TRUE(stored_heartbeat() < before); /* batched */
        ASSERT_OK(cp_reconciler_start(E.rec, 50));
        /* no further request: the follower's own schedule writes it */
        int64_t got = 0;
        for (int i = 0; i < 40 && got < before; i++) {
                usleep(100 * 1000);
                got = stored_heartbeat();
        }
        ASSERT_TRUE(got >= before);
        json_decref(c);
        close_env(); /* frees the reconciler (its thread stops) before the leases */
        cp_lease_free(me);
        cp_lease_free(other);
}
