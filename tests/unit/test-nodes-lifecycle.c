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
#include "controlplane/cp-nodes.h"
#include "controlplane/cp-reconciler.h"
#include "controlplane/cp-store.h"
#include "service/proc.h"
#define NODES_FIXTURE_TEST_HELPERS
#include "nodes-fixture.h"
#include "tests.h"

#define HEARTBEAT_DEADLINE_MS 6000


static nodes_fixture E;
static cp_api_reply R;

/* test hook of the node-image upgrade tests (end of the file) */
static void roll_prepare(void *ud, const cp_node_spec *spec, const char *node_dir, cp_local_launch *l);

static void teardown_env(void) {
        nodes_fixture_teardown(&E, &R);
}

static void setup_env(void) {
        if (E.up)
                return;
        atexit(teardown_env);
        /* heartbeat deadline generous enough that healthy agents are never
         * late when the machine is loaded */
        nodes_fixture_options o = {.dir_template = "/tmp/cp-nlife-XXXXXX", .hosts_per_generation = 1,
                                   .heartbeat_ms = 200, .heartbeat_deadline_ms = HEARTBEAT_DEADLINE_MS,
                                   .prepare = roll_prepare};
        ASSERT_OK(nodes_fixture_start(&o, &E));
}

static unsigned call(const char *method, const char *url, const char *body) {
        return nodes_fixture_call_json(&E, method, url, body, &R);
}

/* Drive the reconciler until nothing is in progress (at most ~40 s). */
static void reconcile(void) {
        ASSERT_EQ(nodes_fixture_reconcile(&E, 40, 50), 0);
}

static const char *pool_state(const char *pool) {
        return nodes_fixture_pool_state(&E, &R, pool);
}

static void put_pool(const char *name, int count) {
        nodes_fixture_put_pool(&E, &R, name, count);
        reconcile();
}


static void nap(long ms) {
        nodes_fixture_nap(ms);
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
                snprintf(url, sizeof url, AP "/%s", pool);
                nodes_fixture_node_dir(&E, url, x->name, x->dir, sizeof x->dir);
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
        nodes_fixture_node_handle(AP "/quar", before[0].name, handle, sizeof handle);
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

/* ---- rolling node-image upgrade (docs/nodes.md "Node-image upgrade") ------ */

/* (included here, not at the top: the fixture above is shared work) */
#include "basic/cleanup.h"
#include "basic/fileio.h"
#include "kbsd/kbsd.h"
#include "service/httpc.h"

#define ROLL_ADMIN_TOKEN "roll-admin-token-0123456789abcdef"
#define ROLL_RELEASE_TOKEN "roll-release-token-0123456789abcd"

/* The test hook (cp_local_options.prepare): nodes of roll_hook_pool boot the
 * files of roll_hook_boot (an older image: an attacker's downgrade), or
 * nodes of image roll_hook_tamper boot a modified kernel. */
static const char *roll_hook_pool;
static char roll_hook_boot[128], roll_hook_tamper[128], roll_hook_tamper_version[24];

static void copy_part(const char *from_dir, const char *to_dir, const char *part) {
        char a[600], b[600];
        snprintf(a, sizeof a, "%s/%s", from_dir, part);
        snprintf(b, sizeof b, "%s/%s", to_dir, part);
        uint8_t *buf = NULL;
        size_t len = 0;
        ASSERT_OK(cp_read_file(a, 1u << 20, &buf, &len));
        ASSERT_OK(cp_write_file(b, buf, len, 0644));
        free(buf);
}

static void roll_prepare(void *ud, const cp_node_spec *spec, const char *node_dir, cp_local_launch *l) {
        (void) ud;
        (void) l;
        if (!roll_hook_pool || !strstr(spec->pool_id, roll_hook_pool))
                return;
        if (roll_hook_boot[0]) {
                char img[400];
                snprintf(img, sizeof img, "%s/local/images/%s", E.dir, roll_hook_boot);
                copy_part(img, node_dir, "kernel");
                copy_part(img, node_dir, "initrd");
                copy_part(img, node_dir, "cmdline");
        }
        if ((roll_hook_tamper[0] && spec->image && strcmp(spec->image, roll_hook_tamper) == 0) ||
            (roll_hook_tamper_version[0] && spec->version && strcmp(spec->version, roll_hook_tamper_version) == 0)) {
                char f[600];
                snprintf(f, sizeof f, "%s/kernel", node_dir);
                FILE *k = fopen(f, "ab");
                ASSERT_TRUE(k != NULL);
                fputs("backdoor", k);
                fclose(k);
        }
}

/* The environment and the cluster (whether or not earlier tests ran). */
static void roll_cluster(void) {
        setup_env();
        if (call("GET", MC CS, NULL) == 200)
                return;
        cluster();
}

/* "Publishing" a node image: the rules' node-image date (confpoold: the
 * config's nodeImageDate); the local backend creates its files on first use. */
static void publish_image(const char *date) {
        json_t *j = json_pack("{s:s}", "nodeImageDate", date);
        ASSERT_OK(cp_rules_load_json(E.rules, j));
        json_decref(j);
}

static void put_pool_surge(const char *name, int count, const char *surge) {
        char url[512], body[300];
        snprintf(url, sizeof url, AP "/%s" CS, name);
        snprintf(body, sizeof body,
                 "{\"properties\":{\"count\":%d,\"vmSize\":\"" SIZE "\",\"mode\":\"User\",\"upgradeSettings\":{"
                 "\"maxSurge\":\"%s\"}}}",
                 count, surge);
        unsigned st = call("PUT", url, body);
        ASSERT_TRUE(st == 200 || st == 201);
        reconcile();
}

static void pool_image(const char *pool, char *out, size_t size) {
        char url[512];
        snprintf(url, sizeof url, AP "/%s" CS, pool);
        ASSERT_EQ(call("GET", url, NULL), 200);
        const char *v = json_string_value(json_object_get(json_object_get(R.body, "properties"), "nodeImageVersion"));
        ASSERT_TRUE(v != NULL);
        snprintf(out, size, "%s", v);
}

static void expected_hex(const char *image, char out[97]) {
        cp_node_spec spec = {.pool_id = "x", .name = "x", .vm_size = SIZE, .image = image, .confidential = true};
        uint8_t m[48];
        ASSERT_OK(E.backend->ops->expected_measurement(E.backend, &spec, m));
        cp_hex_encode(m, 48, out);
}

/* POST upgradeNodeImageVersion; the operation's status URL path. */
static void upgrade_image(const char *pool, char *op_path, size_t size) {
        char url[512];
        snprintf(url, sizeof url, AP "/%s/upgradeNodeImageVersion" CS, pool);
        ASSERT_EQ(call("POST", url, NULL), 202);
        const char *op = NULL;
        for (size_t i = 0; i < R.http.n_headers; i++)
                if (strcmp(R.http.header_names[i], "Azure-AsyncOperation") == 0)
                        op = R.http.header_values[i];
        ASSERT_TRUE(op != NULL && strstr(op, "/subscriptions/") != NULL);
        snprintf(op_path, size, "%s", strstr(op, "/subscriptions/"));
}

typedef struct rmach {
        char name[64], state[24], image[128], measurement[97], reason[512];
        int64_t attested_at;
} rmach;

static size_t roll_machines(const char *pool, rmach *out, size_t max, json_t **ret_accepted) {
        char url[512];
        snprintf(url, sizeof url, AP "/%s/machines" CS, pool);
        ASSERT_EQ(call("GET", url, NULL), 200);
        json_t *v = json_object_get(R.body, "value");
        size_t n = json_array_size(v);
        ASSERT_TRUE(n <= max);
        if (ret_accepted)
                *ret_accepted = NULL;
        for (size_t i = 0; i < n; i++) {
                json_t *pr = json_object_get(json_array_get(v, i), "properties");
                json_t *att = json_object_get(pr, "attestation");
                rmach *x = &out[i];
                memset(x, 0, sizeof *x);
                snprintf(x->name, sizeof x->name, "%s", json_string_value(json_object_get(json_array_get(v, i), "name")));
                snprintf(x->state, sizeof x->state, "%s",
                         json_string_value(json_object_get(json_object_get(pr, "status"), "nodeState")));
                snprintf(x->image, sizeof x->image, "%s", json_string_value(json_object_get(pr, "nodeImageVersion")));
                const char *lm = json_string_value(json_object_get(att, "launchMeasurement"));
                const char *rs = json_string_value(json_object_get(att, "reason"));
                snprintf(x->measurement, sizeof x->measurement, "%s", lm ? lm : "");
                snprintf(x->reason, sizeof x->reason, "%s", rs ? rs : "");
                x->attested_at = (int64_t) json_integer_value(json_object_get(att, "lastAttestation"));
                if (ret_accepted && !*ret_accepted && json_object_get(att, "acceptedLaunchMeasurements"))
                        *ret_accepted = json_incref(json_object_get(att, "acceptedLaunchMeasurements"));
        }
        return n;
}

/* The accepted set as the machines API shows it: "role:image:measurement;..." */
static bool accepted_has(const json_t *acc, const char *role, const char *image, const char *hex) {
        size_t i;
        json_t *e;
        json_array_foreach(acc, i, e) {
                if (strcmp(json_string_value(json_object_get(e, "role")), role) == 0 &&
                    strcmp(json_string_value(json_object_get(e, "nodeImageVersion")), image) == 0 &&
                    strcmp(json_string_value(json_object_get(e, "launchMeasurement")), hex) == 0)
                        return true;
        }
        return false;
}

/* Drive the roll to its end, checking every observed state: never fewer
 * than `count` Ready machines, never more than count + surge machines,
 * every Ready machine showing its own image's measurement.  mid(): called
 * once when old and new machines are both Ready (may be NULL). */
static void drive_roll(const char *pool, size_t count, size_t surge, const char *old_img, const char *old_hex,
                       const char *new_img, const char *new_hex, void (*mid)(const char *pool, rmach *ms, size_t n)) {
        size_t active = 1, max_seen = 0, min_ready = 1000;
        bool mid_done = mid == NULL;
        for (int i = 0; i < 800 && active; i++) {
                ASSERT_OK(cp_reconciler_run_once(E.rec, &active));
                rmach ms[16];
                size_t n = roll_machines(pool, ms, 16, NULL), ready = 0, old_ready = 0, new_ready = 0;
                for (size_t k = 0; k < n; k++) {
                        if (strcmp(ms[k].state, "Ready") != 0)
                                continue;
                        ready++;
                        bool is_new = strcmp(ms[k].image, new_img) == 0;
                        ASSERT_TRUE(is_new || strcmp(ms[k].image, old_img) == 0);
                        ASSERT_STREQ(ms[k].measurement, is_new ? new_hex : old_hex);
                        new_ready += is_new;
                        old_ready += !is_new;
                }
                max_seen = n > max_seen ? n : max_seen;
                min_ready = ready < min_ready ? ready : min_ready;
                ASSERT_TRUE(n <= count + surge);
                ASSERT_TRUE(ready >= count);
                if (!mid_done && old_ready > 0 && new_ready > 0) {
                        mid(pool, ms, n);
                        mid_done = true;
                }
                if (active)
                        nap(50);
        }
        ASSERT_EQ(active, 0);
        ASSERT_TRUE(mid_done);
        ASSERT_EQ(max_seen, count + surge); /* it did surge */
        ASSERT_EQ(min_ready, count);
}

static void all_on_image(const char *pool, size_t count, const char *img, const char *hex, rmach *ms) {
        ASSERT_STREQ(pool_state(pool), "Succeeded");
        json_t *acc = NULL;
        ASSERT_EQ(roll_machines(pool, ms, 16, &acc), count);
        for (size_t i = 0; i < count; i++) {
                ASSERT_STREQ(ms[i].state, "Ready");
                ASSERT_STREQ(ms[i].image, img);
                ASSERT_STREQ(ms[i].measurement, hex);
        }
        /* only the target's measurement is accepted */
        ASSERT_EQ(json_array_size(acc), 1);
        ASSERT_TRUE(accepted_has(acc, "target", img, hex));
        json_decref(acc);
}

/* During the roll: both measurements accepted, and an old node's
 * re-attestation (SIGUSR1) on its heartbeat is accepted. */
static void reattest_old_node(const char *pool, rmach *ms, size_t n) {
        char url[512], old_img[128], new_img[128], old_hex[97] = "", new_hex[97];
        pool_image(pool, new_img, sizeof new_img);
        expected_hex(new_img, new_hex);
        const rmach *old = NULL;
        for (size_t i = 0; i < n && !old; i++)
                if (strcmp(ms[i].state, "Ready") == 0 && strcmp(ms[i].image, new_img) != 0)
                        old = &ms[i];
        ASSERT_TRUE(old != NULL);
        snprintf(old_img, sizeof old_img, "%s", old->image);
        expected_hex(old_img, old_hex);
        json_t *acc = NULL;
        rmach cur[16];
        roll_machines(pool, cur, 16, &acc);
        ASSERT_EQ(json_array_size(acc), 2);
        ASSERT_TRUE(accepted_has(acc, "target", new_img, new_hex));
        ASSERT_TRUE(accepted_has(acc, "previous", old_img, old_hex));
        json_decref(acc);
        char handle[128], pool_id[512];
        snprintf(pool_id, sizeof pool_id, AP "/%s", pool);
        nodes_fixture_node_handle(pool_id, old->name, handle, sizeof handle);
        int64_t before = old->attested_at;
        nap(1100); /* iat has a resolution of seconds */
        ASSERT_OK(cp_backend_local_signal(E.backend, handle, SIGUSR1));
        cp_node_info ni = {0};
        cp_machine m = {0};
        for (int i = 0; i < 100; i++) {
                snprintf(url, sizeof url, AP "/%s", pool);
                cp_store_lock(E.store);
                int r = cp_nodes_info(E.store, url, old->name, &ni);
                if (r >= 0)
                        r = cp_machine_get(E.store, url, old->name, &m);
                cp_store_unlock(E.store);
                ASSERT_OK(r);
                if (ni.attested_at > before || strcmp(m.state, "Ready") != 0)
                        break;
                nap(100);
        }
        ASSERT_TRUE(ni.attested_at > before);
        ASSERT_STREQ(m.state, "Ready");
        ASSERT_STREQ(ni.reason, "");
        ASSERT_STREQ(ni.measurement, old_hex);
}

/* A pool of count nodes (maxSurge 1) on the first published image, every
 * node on it: that image and its measurement in img and hex, the machines
 * in ms. */
static void roll_pool_on_first_image(const char *pool, int count, char img[128], char hex[97], rmach *ms) {
        publish_image("202511.18.0");
        put_pool_surge(pool, count, "1");
        pool_image(pool, img, 128);
        expected_hex(img, hex);
        all_on_image(pool, (size_t) count, img, hex, ms);
}

/* Publishes the image of date and starts pool's node-image upgrade to it:
 * the operation's path in op, the new image and its measurement in img and
 * hex. */
static void roll_upgrade_to(const char *pool, const char *date, char op[1024], char img[128], char hex[97]) {
        publish_image(date);
        upgrade_image(pool, op, 1024);
        pool_image(pool, img, 128);
        expected_hex(img, hex);
}

TEST(max_surge_parsed_and_validated) {
        long v = 0;
        ASSERT_OK(cp_max_surge(NULL, 3, &v));
        ASSERT_EQ(v, 1); /* 10% of 3 rounded up */
        ASSERT_OK(cp_max_surge(NULL, 25, &v));
        ASSERT_EQ(v, 3);
        ASSERT_OK(cp_max_surge("33%", 3, &v));
        ASSERT_EQ(v, 1);
        ASSERT_OK(cp_max_surge("50%", 3, &v));
        ASSERT_EQ(v, 2);
        ASSERT_OK(cp_max_surge("100%", 7, &v));
        ASSERT_EQ(v, 7);
        ASSERT_OK(cp_max_surge("2", 3, &v));
        ASSERT_EQ(v, 2);
        ASSERT_OK(cp_max_surge("1%", 1, &v));
        ASSERT_EQ(v, 1);
        static const char *const bad[] = {"0", "0%", "", "%", "abc", "-1", "1.5", "101%", "5 ", " 5", "10%%", "1001",
                                          "99999", "2x"};
        for (size_t i = 0; i < CP_ELEMENTSOF(bad); i++)
                ASSERT_ERR(cp_max_surge(bad[i], 3, &v), CP_EINVAL);
        cp_error_clear();

        roll_cluster();
        static const char *const bodies[] = {"\"0\"", "\"abc\"", "\"150%\"", "5", "\"-1\""};
        for (size_t i = 0; i < CP_ELEMENTSOF(bodies); i++) {
                char body[300];
                snprintf(body, sizeof body,
                         "{\"properties\":{\"count\":1,\"vmSize\":\"" SIZE "\",\"upgradeSettings\":{\"maxSurge\":%s}}}",
                         bodies[i]);
                ASSERT_EQ(call("PUT", AP "/badsurge" CS, body), 400);
                json_t *e = json_object_get(R.body, "error");
                ASSERT_STREQ(json_string_value(json_object_get(e, "code")), "InvalidParameter");
                ASSERT_STREQ(json_string_value(json_object_get(e, "target")), "properties.upgradeSettings.maxSurge");
                ASSERT_TRUE(strstr(json_string_value(json_object_get(e, "message")), "maxSurge") != NULL);
        }
        ASSERT_EQ(call("GET", AP "/badsurge" CS, NULL), 404);
}

TEST(rolling_node_image_upgrade) {
        roll_cluster();
        char old_img[128], new_img[128], old_hex[97], new_hex[97], op[1024];
        rmach before[16], after[16];
        roll_pool_on_first_image("roll", 3, old_img, old_hex, before);

        publish_image("202512.02.0");
        upgrade_image("roll", op, sizeof op);
        ASSERT_STREQ(pool_state("roll"), "UpgradingNodeImageVersion");
        pool_image("roll", new_img, sizeof new_img);
        ASSERT_TRUE(strcmp(new_img, old_img) != 0 && strstr(new_img, "202512.02.0"));
        expected_hex(new_img, new_hex);
        ASSERT_TRUE(strcmp(new_hex, old_hex) != 0);
        /* aborted after the first surge node, then the upgrade again: it goes on */
        size_t active = 0;
        ASSERT_OK(cp_reconciler_run_once(E.rec, &active));
        rmach ms[16];
        ASSERT_EQ(roll_machines("roll", ms, 16, NULL), 4);
        ASSERT_EQ(call("POST", AP "/roll/abort" CS, NULL), 202);
        ASSERT_STREQ(pool_state("roll"), "Canceled");
        ASSERT_EQ(call("GET", op, NULL), 200);
        ASSERT_STREQ(json_string_value(json_object_get(R.body, "status")), "Canceled");
        upgrade_image("roll", op, sizeof op);
        drive_roll("roll", 3, 1, old_img, old_hex, new_img, new_hex, reattest_old_node);

        ASSERT_EQ(call("GET", op, NULL), 200);
        ASSERT_STREQ(json_string_value(json_object_get(R.body, "status")), "Succeeded");
        all_on_image("roll", 3, new_img, new_hex, after);
        for (size_t i = 0; i < 3; i++) {
                for (size_t k = 0; k < 3; k++)
                        ASSERT_TRUE(strcmp(after[k].name, before[i].name) != 0);
                char dir[300];
                nodes_fixture_node_dir(&E, AP "/roll", before[i].name, dir, sizeof dir);
                ASSERT_FALSE(exists(dir)); /* stopped, disk key erased */
        }

        /* after the roll a node booting the old image is refused, naming its measurement */
        roll_hook_pool = "/agentPools/roll";
        snprintf(roll_hook_boot, sizeof roll_hook_boot, "%s", old_img);
        put_pool_surge("roll", 4, "1");
        roll_hook_pool = NULL;
        roll_hook_boot[0] = 0;
        ASSERT_STREQ(pool_state("roll"), "Failed");
        size_t n = roll_machines("roll", ms, 16, NULL), refused = 0;
        ASSERT_EQ(n, 4);
        for (size_t i = 0; i < n; i++) {
                if (strcmp(ms[i].state, "Ready") == 0)
                        continue;
                refused++;
                ASSERT_STREQ(ms[i].state, "Failed");
                ASSERT_STREQ(ms[i].measurement, old_hex);
                if (!strstr(ms[i].reason, old_hex) || !strstr(ms[i].reason, "not accepted by the pool's policy"))
                        cp_test_fail(__FILE__, __LINE__, "reason '%s'", ms[i].reason);
        }
        ASSERT_EQ(refused, 1);
        ASSERT_EQ(call("DELETE", AP "/roll" CS, NULL), 202);
        reconcile();
}

TEST(failed_upgrade_keeps_old_nodes) {
        roll_cluster();
        char old_img[128], new_img[128], old_hex[97], new_hex[97], op[1024];
        rmach before[16], ms[16];
        roll_pool_on_first_image("rfail", 2, old_img, old_hex, before);

        /* the new image's nodes boot a modified kernel: refused at registration */
        roll_upgrade_to("rfail", "202512.09.0", op, new_img, new_hex);
        roll_hook_pool = "/agentPools/rfail";
        snprintf(roll_hook_tamper, sizeof roll_hook_tamper, "%s", new_img);
        reconcile();
        ASSERT_STREQ(pool_state("rfail"), "Failed");
        ASSERT_EQ(call("GET", op, NULL), 200);
        ASSERT_STREQ(json_string_value(json_object_get(R.body, "status")), "Failed");
        json_t *err = json_object_get(R.body, "error");
        ASSERT_STREQ(json_string_value(json_object_get(err, "code")), "NodeAttestationFailed");
        const char *msg = json_string_value(json_object_get(err, "message"));
        if (!msg || !strstr(msg, "not accepted by the pool's policy"))
                cp_test_fail(__FILE__, __LINE__, "message '%s'", msg ? msg : "(none)");
        /* the old nodes run on, still admitted; the failed new one is stopped */
        json_t *acc = NULL;
        size_t n = roll_machines("rfail", ms, 16, &acc), old_ready = 0;
        ASSERT_EQ(n, 3);
        ASSERT_TRUE(accepted_has(acc, "previous", old_img, old_hex));
        json_decref(acc);
        for (size_t i = 0; i < n; i++) {
                char dir[300];
                nodes_fixture_node_dir(&E, AP "/rfail", ms[i].name, dir, sizeof dir);
                if (strcmp(ms[i].image, old_img) == 0) {
                        ASSERT_STREQ(ms[i].state, "Ready");
                        ASSERT_STREQ(ms[i].measurement, old_hex);
                        ASSERT_TRUE(exists(dir));
                        old_ready++;
                } else {
                        ASSERT_STREQ(ms[i].image, new_img);
                        ASSERT_STREQ(ms[i].state, "Failed");
                        ASSERT_TRUE(strstr(ms[i].reason, "not accepted") != NULL);
                        ASSERT_FALSE(exists(dir));
                }
        }
        ASSERT_EQ(old_ready, 2);

        /* fixed image: the upgrade is retried and completes */
        roll_hook_pool = NULL;
        roll_hook_tamper[0] = 0;
        upgrade_image("rfail", op, sizeof op);
        drive_roll("rfail", 2, 1, old_img, old_hex, new_img, new_hex, NULL);
        all_on_image("rfail", 2, new_img, new_hex, ms);
        ASSERT_EQ(call("DELETE", AP "/rfail" CS, NULL), 202);
        reconcile();
}

/* A machine as the machines API shows it, with its Kubernetes version. */
typedef struct vmach {
        char name[64], state[24], version[24], image[128], reason[512];
} vmach;

static size_t version_machines(const char *pool, vmach *out, size_t max) {
        char url[512];
        snprintf(url, sizeof url, AP "/%s/machines" CS, pool);
        ASSERT_EQ(call("GET", url, NULL), 200);
        json_t *v = json_object_get(R.body, "value");
        ASSERT_TRUE(json_array_size(v) <= max);
        for (size_t i = 0; i < json_array_size(v); i++) {
                json_t *pr = json_object_get(json_array_get(v, i), "properties");
                const char *ver = json_string_value(json_object_get(json_object_get(pr, "kubernetes"),
                                                                    "orchestratorVersion"));
                const char *rs = json_string_value(json_object_get(json_object_get(pr, "attestation"), "reason"));
                snprintf(out[i].name, sizeof out[i].name, "%s",
                         json_string_value(json_object_get(json_array_get(v, i), "name")));
                snprintf(out[i].state, sizeof out[i].state, "%s",
                         json_string_value(json_object_get(json_object_get(pr, "status"), "nodeState")));
                snprintf(out[i].version, sizeof out[i].version, "%s", ver ? ver : "(none)");
                snprintf(out[i].image, sizeof out[i].image, "%s",
                         json_string_value(json_object_get(pr, "nodeImageVersion")));
                snprintf(out[i].reason, sizeof out[i].reason, "%s", rs ? rs : "");
        }
        return json_array_size(v);
}

static void put_pool_version(const char *name, int count, const char *version) {
        char url[512], body[300];
        snprintf(url, sizeof url, AP "/%s" CS, name);
        snprintf(body, sizeof body,
                 "{\"properties\":{\"count\":%d,\"vmSize\":\"" SIZE "\",\"mode\":\"User\",\"orchestratorVersion\":"
                 "\"%s\",\"upgradeSettings\":{\"maxSurge\":\"1\"}}}",
                 count, version);
        unsigned st = call("PUT", url, body);
        ASSERT_TRUE(st == 200 || st == 201);
}

/* Issue 14: a Kubernetes version upgrade (az aks nodepool upgrade -k)
 * replaces every machine built with another version, rolling with
 * maxSurge on the same node image: each new node attested and Ready
 * before an old one goes.  A new node failing attestation fails the pool
 * with the reason and keeps the old nodes, their disks not erased. */
TEST(kubernetes_version_upgrade_rolls_nodes) {
        roll_cluster();
        put_pool_version("kver", 2, "1.32.6");
        reconcile();
        ASSERT_STREQ(pool_state("kver"), "Succeeded");
        vmach before[8], ms[8];
        ASSERT_EQ(version_machines("kver", before, 8), 2);
        for (size_t i = 0; i < 2; i++) {
                ASSERT_STREQ(before[i].state, "Ready");
                ASSERT_STREQ(before[i].version, "1.32.6");
        }
        /* the new version's nodes boot a modified kernel: refused, the old ones kept */
        roll_hook_pool = "/agentPools/kver";
        snprintf(roll_hook_tamper_version, sizeof roll_hook_tamper_version, "1.33.2");
        put_pool_version("kver", 2, "1.33.2");
        ASSERT_STREQ(pool_state("kver"), "Upgrading");
        reconcile();
        ASSERT_STREQ(pool_state("kver"), "Failed");
        json_t *pe = json_object_get(json_object_get(json_object_get(R.body, "properties"), "status"),
                                     "provisioningError");
        ASSERT_STREQ(json_string_value(json_object_get(pe, "code")), "NodeAttestationFailed");
        const char *msg = json_string_value(json_object_get(pe, "message"));
        if (!msg || !strstr(msg, "not accepted by the pool's policy"))
                cp_test_fail(__FILE__, __LINE__, "message '%s'", msg ? msg : "(none)");
        size_t n = version_machines("kver", ms, 8), kept = 0;
        for (size_t i = 0; i < n; i++) {
                char dir[300];
                nodes_fixture_node_dir(&E, AP "/kver", ms[i].name, dir, sizeof dir);
                if (strcmp(ms[i].version, "1.32.6") == 0) {
                        ASSERT_STREQ(ms[i].state, "Ready");
                        ASSERT_TRUE(exists(dir)); /* its disk (and key) kept */
                        kept++;
                } else {
                        ASSERT_STREQ(ms[i].version, "1.33.2");
                        ASSERT_STREQ(ms[i].state, "Failed");
                        ASSERT_FALSE(exists(dir));
                }
        }
        ASSERT_EQ(kept, 2);
        roll_hook_pool = NULL;
        roll_hook_tamper_version[0] = 0;

        /* the same PUT again: the roll, never below 2 Ready nor above 2 + maxSurge machines */
        put_pool_version("kver", 2, "1.33.2");
        size_t active = 1, max_seen = 0;
        for (int i = 0; i < 800 && active; i++) {
                ASSERT_OK(cp_reconciler_run_once(E.rec, &active));
                size_t ready = 0;
                n = version_machines("kver", ms, 8);
                for (size_t k = 0; k < n; k++)
                        ready += strcmp(ms[k].state, "Ready") == 0;
                max_seen = n > max_seen ? n : max_seen;
                ASSERT_TRUE(ready >= 2);
                ASSERT_TRUE(n <= 3);
                if (active)
                        nap(50);
        }
        ASSERT_EQ(active, 0);
        ASSERT_EQ(max_seen, 3);
        ASSERT_STREQ(pool_state("kver"), "Succeeded");
        ASSERT_STREQ(json_string_value(json_object_get(json_object_get(R.body, "properties"),
                                                       "currentOrchestratorVersion")),
                     "1.33.2");
        ASSERT_EQ(version_machines("kver", ms, 8), 2);
        for (size_t i = 0; i < 2; i++) {
                ASSERT_STREQ(ms[i].state, "Ready");
                ASSERT_STREQ(ms[i].version, "1.33.2");
                ASSERT_STREQ(ms[i].image, before[0].image); /* a version roll on the same node image */
                ASSERT_STREQ(ms[i].reason, "");
                for (size_t k = 0; k < 2; k++)
                        ASSERT_TRUE(strcmp(ms[i].name, before[k].name) != 0);
        }
        for (size_t i = 0; i < 2; i++) {
                char dir[300];
                nodes_fixture_node_dir(&E, AP "/kver", before[i].name, dir, sizeof dir);
                ASSERT_FALSE(exists(dir)); /* the replaced nodes: stopped, disk erased */
        }
        ASSERT_EQ(call("DELETE", AP "/kver" CS, NULL), 202);
        reconcile();
}

/* A pool from before the policy table (no rows): between the upgrade's POST
 * and the reconciler's first pass its old node's heartbeats stay admitted. */
TEST(upgrade_of_pool_without_policy_rows) {
        roll_cluster();
        char old_img[128], new_img[128], old_hex[97], new_hex[97], op[1024];
        rmach ms[16];
        roll_pool_on_first_image("rlegacy", 1, old_img, old_hex, ms);
        cp_store_lock(E.store);
        int r = cp_nodes_policy_remove(E.store, AP "/rlegacy", NULL);
        cp_store_unlock(E.store);
        ASSERT_OK(r);
        roll_upgrade_to("rlegacy", "202512.23.0", op, new_img, new_hex);
        char handle[128];
        nodes_fixture_node_handle(AP "/rlegacy", ms[0].name, handle, sizeof handle);
        ASSERT_OK(cp_backend_local_signal(E.backend, handle, SIGUSR1));
        nap(1500); /* heartbeats every 200 ms, one re-attestation */
        rmach cur[16];
        ASSERT_EQ(roll_machines("rlegacy", cur, 16, NULL), 1);
        ASSERT_STREQ(cur[0].state, "Ready");
        ASSERT_STREQ(cur[0].reason, "");
        drive_roll("rlegacy", 1, 1, old_img, old_hex, new_img, new_hex, NULL);
        all_on_image("rlegacy", 1, new_img, new_hex, ms);
        ASSERT_EQ(call("DELETE", AP "/rlegacy" CS, NULL), 202);
        reconcile();
}

/* confpoold restarted mid-operation (stopped, started on the same state):
 * every object anew but the attestation service and the rules (what is
 * published), the nodes rebooted by cp_backend_local_recover; the new
 * daemon runs with the key broker (--kbs-url): OS disks are encrypted
 * under per-measurement pool master keys from now on. */
static cp_kbsd *roll_kbsd;
static cp_diskkeys *roll_dk;
static char roll_kbs_url[64];

static void roll_cleanup(void) {
        teardown_env(); /* the backend borrows the disk keys */
        roll_dk = cp_diskkeys_free(roll_dk);
        cp_kbsd_free(roll_kbsd);
        roll_kbsd = NULL;
}

static unsigned restart_with_broker(void) {
        cp_api_reply_clear(&R);
        cp_httpd_stop(E.httpd);
        E.rec = cp_reconciler_free(E.rec);
        cp_api_free(E.api);
        cp_nodes_free(E.nodes);
        cp_backend_free(E.backend); /* stops the nodes (SIGTERM of confpoold) */
        cp_store_close(E.store);
        const char *issuer = cp_attestd_issuer(E.attestd);
        char p[256], hosts[256];
        if (!roll_kbsd) {
                char *jwks = NULL;
                ASSERT_OK(cp_attestd_jwks_json(E.attestd, &jwks));
                uint8_t mk[CP_KBSD_MASTER_KEY_LEN];
                memset(mk, 0x3c, sizeof mk);
                snprintf(p, sizeof p, "%s/kbsd.db", E.dir);
                cp_kbsd_config kc = {.db_path = p, .master_key = mk, .quiet = true, .n_authorities = 1, .n_tokens = 2,
                                     .authorities = {{.issuer = issuer, .jwks_json = jwks}},
                                     .tokens = {{.name = "platform", .token = ROLL_ADMIN_TOKEN,
                                                 .scope = CP_KBSD_SCOPE_ADMIN},
                                                {.name = "nodes", .token = ROLL_RELEASE_TOKEN,
                                                 .scope = CP_KBSD_SCOPE_RELEASE}}};
                ASSERT_OK(cp_kbsd_new(&kc, &roll_kbsd));
                free(jwks);
                ASSERT_OK(cp_kbsd_start(roll_kbsd));
                snprintf(roll_kbs_url, sizeof roll_kbs_url, "http://127.0.0.1:%u", cp_kbsd_port(roll_kbsd));
                cp_diskkeys_options dko = {.kbs_url = roll_kbs_url, .admin_token = ROLL_ADMIN_TOKEN,
                                           .release_token = ROLL_RELEASE_TOKEN, .authority = issuer};
                ASSERT_OK(cp_diskkeys_new(&dko, &roll_dk));
                atexit(roll_cleanup);
        }
        snprintf(p, sizeof p, "%s/local", E.dir);
        snprintf(hosts, sizeof hosts, "%s/hosts", E.dir);
        cp_local_options lo = {.state_dir = p, .hosts_dir = hosts, .agent_path = CP_AGENT_PATH,
                               .hosts_per_generation = 1, .heartbeat_ms = 200, .prepare = roll_prepare,
                               .diskkeys = roll_dk};
        ASSERT_OK(cp_backend_local_new(&lo, &E.backend));
        ASSERT_OK(cp_backend_local_set_attestd_url(E.backend, issuer));
        snprintf(p, sizeof p, "%s/confpoold.db", E.dir);
        ASSERT_OK(cp_cpstore_open(p, &E.store));
        cp_nodes_options no = {.store = E.store, .backend = E.backend, .attestd_url = issuer,
                               .min_tcb = {.bl = 1, .snp = 10, .ucode = 100}};
        ASSERT_OK(cp_nodes_new(&no, &E.nodes));
        cp_api_options o = {.store = E.store, .rules = E.rules, .state_dir = E.dir, .base_url = "http://127.0.0.1",
                            .nodes = E.nodes};
        ASSERT_OK(cp_api_new(&o, &E.api));
        cp_httpd_options ho = {.bind_addr = "127.0.0.1", .threads = 4, .max_body = 1 << 20};
        ASSERT_OK(cp_httpd_start(&ho, cp_api_handle, E.api, &E.httpd));
        char base[64];
        snprintf(base, sizeof base, "http://127.0.0.1:%u", cp_httpd_port(E.httpd));
        ASSERT_OK(cp_backend_local_set_controlplane_url(E.backend, base));
        unsigned restarted = 0;
        ASSERT_OK(cp_backend_local_recover(E.backend, NULL, &restarted));
        ASSERT_OK(cp_reconciler_new(E.store, E.rules, E.backend, &E.rec));
        cp_reconciler_set_heartbeat_deadline(E.rec, HEARTBEAT_DEADLINE_MS);
        cp_reconciler_set_diskkeys(E.rec, roll_dk);
        cp_reconciler_set_nodes(E.rec, E.nodes); /* its health pass writes the batched heartbeat times, as confpoold */
        return restarted;
}

/* GET of a key in the broker (admin scope): the HTTP status. */
static long broker_key_status(const char *collection, const char *pool_id, const char *hex) {
        uint8_t m[48];
        size_t got = 0;
        char name[80], url[256];
        ASSERT_OK(cp_hex_decode(hex, 96, m, sizeof m, &got));
        ASSERT_OK(cp_diskkeys_master_name(pool_id, m, name, sizeof name));
        snprintf(url, sizeof url, "%s/%s/%s", roll_kbs_url, collection, name);
        cp_httpc_options ho = {.timeout_ms = 5000, .bearer = ROLL_ADMIN_TOKEN};
        cp_httpc_response resp = {0};
        ASSERT_OK(cp_httpc_request(&ho, "GET", url, NULL, NULL, 0, &resp));
        long st = resp.status;
        cp_httpc_response_clear(&resp);
        return st;
}

TEST(restart_mid_roll_completes_and_retires_old_disk_keys) {
        roll_cluster();
        /* the restart reboots every node: only this pool's (and the system pool's) */
        static const char *const others[] = {"scale", "killed", "silent", "quar"};
        for (size_t i = 0; i < CP_ELEMENTSOF(others); i++) {
                char url[256];
                snprintf(url, sizeof url, AP "/%s" CS, others[i]);
                unsigned st = call("DELETE", url, NULL);
                ASSERT_TRUE(st == 202 || st == 204);
        }
        reconcile();
        char old_img[128], new_img[128], old_hex[97], new_hex[97], op[1024];
        rmach ms[16];
        roll_pool_on_first_image("rrest", 2, old_img, old_hex, ms);
        roll_upgrade_to("rrest", "202512.16.0", op, new_img, new_hex);
        size_t active = 0;
        ASSERT_OK(cp_reconciler_run_once(E.rec, &active)); /* the first surge node */
        ASSERT_EQ(active, 1);
        ASSERT_EQ(roll_machines("rrest", ms, 16, NULL), 3);

        ASSERT_EQ(restart_with_broker(), 3 + 1);
        /* the rebooted old nodes' disks are under the old measurement's master */
        long ks = 0;
        for (int i = 0; i < 100 && (ks = broker_key_status("keys", AP "/rrest", old_hex)) != 200; i++)
                nap(100);
        ASSERT_EQ(ks, 200);
        drive_roll("rrest", 2, 1, old_img, old_hex, new_img, new_hex, NULL);
        ASSERT_EQ(call("GET", op, NULL), 200);
        ASSERT_STREQ(json_string_value(json_object_get(R.body, "status")), "Succeeded");
        all_on_image("rrest", 2, new_img, new_hex, ms);
        for (size_t i = 0; i < 2; i++) {
                char f[400];
                uint8_t *buf = NULL;
                size_t len = 0;
                char d[300];
                nodes_fixture_node_dir(&E, AP "/rrest", ms[i].name, d, sizeof d);
                snprintf(f, sizeof f, "%s/node.json", d);
                ASSERT_OK(cp_read_file(f, 1u << 20, &buf, &len));
                json_t *j = json_loadb((const char *) buf, len, 0, NULL);
                free(buf);
                ASSERT_STREQ(json_string_value(json_object_get(json_object_get(j, "diskKey"), "provider")), "kbs");
                json_decref(j);
        }
        /* the new measurement's master stays; the old one is deleted and purged */
        ASSERT_EQ(broker_key_status("keys", AP "/rrest", new_hex), 200);
        ASSERT_EQ(broker_key_status("keys", AP "/rrest", old_hex), 404);
        ASSERT_EQ(broker_key_status("deletedkeys", AP "/rrest", old_hex), 404);
        ASSERT_EQ(call("DELETE", AP "/rrest" CS, NULL), 202);
        reconcile();
        /* a deleted pool's masters are retired too */
        ASSERT_EQ(broker_key_status("keys", AP "/rrest", new_hex), 404);
}

/* ---- the pool's attestation policy override (docs/control-plane.md) ------- */

#define APOL AP "/apol/attestationPolicy/default" CS

static cp_node_info apol_info(const char *name) {
        cp_node_info ni;
        cp_store_lock(E.store);
        int r = cp_nodes_info(E.store, AP "/apol", name, &ni);
        cp_store_unlock(E.store);
        ASSERT_OK(r);
        cp_nodes_heartbeat_of(E.nodes, AP "/apol", name, &ni.heartbeat_at); /* noted, not yet written */
        return ni;
}

static void apol_state(const char *name, char *out, size_t size) {
        cp_machine m;
        cp_store_lock(E.store);
        int r = cp_machine_get(E.store, AP "/apol", name, &m);
        cp_store_unlock(E.store);
        ASSERT_OK(r);
        snprintf(out, size, "%s", m.state);
}

/* Every heartbeat is admitted under the policy in force: one the running
 * node meets keeps it Ready; one whose launchMeasurements exclude its
 * image quarantines it at its next heartbeat, and it is replaced once the
 * policy is reset. */
TEST(attestation_policy_override_enforced_on_heartbeat) {
        cluster();
        put_pool("apol", 1);
        assert_all_ready("apol", 1);
        mach before[4], after[4];
        ASSERT_EQ(machines("apol", before, 4), 1);
        cp_node_info ni = apol_info(before[0].name);
        ASSERT_EQ(strlen(ni.measurement), 96);
        /* met: the node's own measurement, a raised TCB it reports, replay */
        char body[512], st[24];
        snprintf(body, sizeof body,
                 "{\"properties\":{\"launchMeasurements\":[\"%s\"],\"minimumTcb\":{\"snp\":22,\"microcode\":213},"
                 "\"requireEventLogReplay\":true}}",
                 ni.measurement);
        ASSERT_EQ(call("PUT", APOL, body), 201);
        int64_t t0 = (int64_t) time(NULL);
        for (int i = 0; i < 40 && apol_info(before[0].name).heartbeat_at <= t0; i++)
                nap(100);
        ni = apol_info(before[0].name);
        ASSERT_TRUE(ni.heartbeat_at > t0);
        apol_state(before[0].name, st, sizeof st);
        if (strcmp(st, "Ready") != 0)
                cp_test_fail(__FILE__, __LINE__, "state %s: %s", st, ni.reason);
        /* not met: another measurement only */
        ASSERT_EQ(call("PUT", APOL,
                       "{\"properties\":{\"launchMeasurements\":[\"0123456789abcdef0123456789abcdef0123456789abcdef"
                       "0123456789abcdef0123456789abcdef0123456789abcdef\"]}}"),
                  200);
        for (int i = 0; i < 50; i++) {
                apol_state(before[0].name, st, sizeof st);
                if (strcmp(st, "Quarantined") == 0)
                        break;
                nap(100);
        }
        ASSERT_STREQ(st, "Quarantined");
        ni = apol_info(before[0].name);
        if (!strstr(ni.reason, "is not in the launchMeasurements of the pool's attestation policy (0123456789abcdef...)"))
                cp_test_fail(__FILE__, __LINE__, "reason '%s'", ni.reason);
        /* back to the default: the replacement boots the image and is admitted */
        ASSERT_EQ(call("DELETE", APOL, NULL), 200);
        ASSERT_EQ(heal(1000), 1);
        reconcile();
        assert_all_ready("apol", 1);
        ASSERT_EQ(machines("apol", after, 4), 1);
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
