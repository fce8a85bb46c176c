/* SPDX-License-Identifier: Apache-2.0 */
/* The local backend boots nodes on its boot workers, outside the caller's
 * locks (docs/nodes.md): a reconciler pass creates nodes without waiting
 * for their boots, the nodes report Provisioning until their boot ends,
 * creation is idempotent by name, a node deleted while queued or booting
 * is dropped/cancelled and erased, freeing the backend stops its running
 * boots, and restart recovery boots the nodes whose boot had not finished.
 * A test hook (prepare) holds boots at a gate so that all of this is
 * deterministic. */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NODES_FIXTURE_TEST_HELPERS
#include <openssl/sha.h>

#include "basic/fileio.h"
#include "nodes-fixture.h"
#include "service/proc.h"
#include "tests.h"


static nodes_fixture E;
static cp_api_reply R;

/* ---- the gate: boots of pools named "gated..." wait in prepare ---------- */

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open = true;
static unsigned gate_waiting;

static void gate_prepare(void *ud, const cp_node_spec *spec, const char *node_dir, cp_local_launch *l) {
        (void) ud;
        (void) node_dir;
        (void) l;
        if (!strstr(spec->pool_id, "/gated"))
                return;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 20; /* a regression must not hang the test */
        pthread_mutex_lock(&gate_lock);
        gate_waiting++;
        pthread_cond_broadcast(&gate_cond);
        while (!gate_open && pthread_cond_timedwait(&gate_cond, &gate_lock, &until) == 0)
                ;
        gate_waiting--;
        pthread_mutex_unlock(&gate_lock);
}

static void gate_set(bool open) {
        pthread_mutex_lock(&gate_lock);
        gate_open = open;
        pthread_cond_broadcast(&gate_cond);
        pthread_mutex_unlock(&gate_lock);
}

/* Until n boots wait at the gate (at most ~10 s). */
static unsigned gate_wait_for(unsigned n) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 10;
        pthread_mutex_lock(&gate_lock);
        while (gate_waiting < n && pthread_cond_timedwait(&gate_cond, &gate_lock, &until) == 0)
                ;
        unsigned w = gate_waiting;
        pthread_mutex_unlock(&gate_lock);
        return w;
}

static void *open_gate_later(void *ud) {
        (void) ud;
        struct timespec ts = {0, 300 * 1000000L};
        nanosleep(&ts, NULL);
        gate_set(true);
        return NULL;
}

/* ---- the stack ------------------------------------------------------------ */

static unsigned call_status(const char *method, const char *url, const char *body);

static void teardown_env(void) {
        gate_set(true);
        nodes_fixture_teardown(&E, &R);
}

static void setup_env(void) {
        if (E.up)
                return;
        atexit(teardown_env);
        nodes_fixture_options o = {.dir_template = "/tmp/cp-nboot-XXXXXX", .hosts_per_generation = 1,
                                   .heartbeat_ms = 200, .prepare = gate_prepare,
                                   .boot_workers = 3 /* the gate tests count them */};
        ASSERT_OK(nodes_fixture_start(&o, &E));
        ASSERT_EQ(call_status("PUT", RGP RS, "{\"location\":\"eastus\"}"), 201);
}

static unsigned call_status(const char *method, const char *url, const char *body) {
        return nodes_fixture_call_json(&E, method, url, body, &R);
}

static void nap(long ms) {
        nodes_fixture_nap(ms);
}

static void reconcile(void) {
        ASSERT_EQ(nodes_fixture_reconcile(&E, 30, 50), 0);
}

static void put_pool(const char *name, int count) {
        nodes_fixture_put_pool(&E, &R, name, count);
}

static const char *pool_state(const char *pool) {
        return nodes_fixture_pool_state(&E, &R, pool);
}

/* The machines of a pool: names and node states. */
static size_t machines(const char *pool, char names[][64], char states[][24], size_t max) {
        char url[512];
        snprintf(url, sizeof url, AP "/%s/machines" CS, pool);
        ASSERT_EQ(call_status("GET", url, NULL), 200);
        json_t *v = json_object_get(R.body, "value");
        size_t n = json_array_size(v);
        ASSERT_TRUE(n <= max);
        for (size_t i = 0; i < n; i++) {
                json_t *m = json_array_get(v, i);
                snprintf(names[i], 64, "%s", json_string_value(json_object_get(m, "name")));
                snprintf(states[i], 24, "%s",
                         json_string_value(json_object_get(
                                 json_object_get(json_object_get(m, "properties"), "status"), "nodeState")));
        }
        return n;
}

static bool exists_in(const char *dir, const char *name) {
        char f[1400];
        struct stat st;
        snprintf(f, sizeof f, "%s/%s", dir, name);
        return stat(f, &st) == 0;
}

/* No process of this node directory is alive (its pid files, if any). */
static void assert_no_processes(const char *dir) {
        static const char *const pidfiles[] = {"agent.pid", "swtpm.pid"};
        for (size_t i = 0; i < 2; i++) {
                char f[1400];
                pid_t pid = 0;
                snprintf(f, sizeof f, "%s/%s", dir, pidfiles[i]);
                if (cp_proc_read_pidfile(f, &pid) < 0) {
                        cp_error_clear();
                        continue;
                }
                ASSERT_FALSE(cp_proc_matches(pid, dir));
        }
}

TEST(reconciler_pass_does_not_wait_for_boots) {
        setup_env();
        gate_set(false);
        ASSERT_EQ(call_status("PUT", MC CS,
                              "{\"location\":\"eastus\",\"properties\":{\"agentPoolProfiles\":[{\"name\":\"gatedsys\","
                              "\"count\":2,\"vmSize\":\"" SIZE "\",\"mode\":\"System\"}]}}"),
                  201);
        /* the boots wait at the gate: a pass that booted synchronously would
         * never return (the gate's own timeout aside) */
        size_t active = 0;
        ASSERT_OK(cp_reconciler_run_once(E.rec, &active));
        ASSERT_OK(cp_reconciler_run_once(E.rec, &active));
        ASSERT_TRUE(active > 0);
        ASSERT_EQ(gate_wait_for(2), 2);
        char names[8][64], states[8][24];
        ASSERT_EQ(machines("gatedsys", names, states, 8), 2);
        for (size_t i = 0; i < 2; i++) {
                ASSERT_STREQ(states[i], "Provisioning");
                char handle[128], dir[1024], ip[48], err[256];
                nodes_fixture_node_handle(AP "/gatedsys", names[i], handle, sizeof handle);
                nodes_fixture_node_dir(&E, AP "/gatedsys", names[i], dir, sizeof dir);
                cp_node_state st;
                ASSERT_OK(E.backend->ops->node_status(E.backend, handle, &st, ip, sizeof ip, err, sizeof err));
                ASSERT_EQ(st, CP_NODE_PROVISIONING);
                ASSERT_TRUE(exists_in(dir, "spec.json"));
                ASSERT_FALSE(exists_in(dir, "node.json"));
                /* idempotent by name while booting */
                cp_node_spec spec = {.pool_id = AP "/gatedsys", .name = names[i], .vm_size = SIZE, .image = "x"};
                char again[128];
                ASSERT_OK(E.backend->ops->create_node(E.backend, &spec, again, sizeof again));
                ASSERT_STREQ(again, handle);
        }
        ASSERT_EQ(gate_wait_for(2), 2); /* no second boot queued */
        gate_set(true);
        reconcile();
        ASSERT_STREQ(pool_state("gatedsys"), "Succeeded");
        ASSERT_EQ(machines("gatedsys", names, states, 8), 2);
        for (size_t i = 0; i < 2; i++)
                ASSERT_STREQ(states[i], "Ready");
}

TEST(delete_of_queued_and_booting_nodes) {
        setup_env();
        gate_set(false);
        /* three boots hold the three workers at the gate, two more wait in the queue */
        put_pool("gatedbusy", 3);
        put_pool("gatedqueued", 2);
        size_t active = 0;
        ASSERT_OK(cp_reconciler_run_once(E.rec, &active));
        ASSERT_EQ(gate_wait_for(3), 3);
        char busy[8][64], queued[8][64], states[8][24];
        ASSERT_EQ(machines("gatedbusy", busy, states, 8), 3);
        ASSERT_EQ(machines("gatedqueued", queued, states, 8), 2);
        /* queued: dropped at once, the directory (spec.json) erased */
        unsigned st = call_status("DELETE", AP "/gatedqueued" CS, NULL);
        ASSERT_TRUE(st == 200 || st == 202);
        ASSERT_OK(cp_reconciler_run_once(E.rec, &active));
        ASSERT_EQ(call_status("GET", AP "/gatedqueued" CS, NULL), 404);
        for (size_t i = 0; i < 2; i++) {
                char dir[1024];
                nodes_fixture_node_dir(&E, AP "/gatedqueued", queued[i], dir, sizeof dir);
                ASSERT_FALSE(exists_in(dir, ""));
        }
        ASSERT_EQ(gate_wait_for(3), 3); /* nothing of the deleted pool reached a worker */
        /* booting: cancelled at the next step (the gate opens while the delete waits) */
        st = call_status("DELETE", AP "/gatedbusy" CS, NULL);
        ASSERT_TRUE(st == 200 || st == 202);
        pthread_t t;
        ASSERT_EQ(pthread_create(&t, NULL, open_gate_later, NULL), 0);
        reconcile();
        pthread_join(t, NULL);
        ASSERT_EQ(call_status("GET", AP "/gatedbusy" CS, NULL), 404);
        for (size_t i = 0; i < 3; i++) {
                char dir[1024];
                nodes_fixture_node_dir(&E, AP "/gatedbusy", busy[i], dir, sizeof dir);
                ASSERT_FALSE(exists_in(dir, ""));
        }
}

/* A node's directory under a backend state directory: nodes/<scope>-<name>. */
static void state_node_dir(const char *state, const char *pool_id, const char *name, char *out, size_t size) {
        char scope[17];
        cp_node_scope(pool_id, scope);
        snprintf(out, size, "%s/nodes/%s-%.63s", state, scope, name);
}

TEST(free_stops_boots_and_recovery_boots_them_again) {
        setup_env();
        char state[256], hosts[256];
        snprintf(state, sizeof state, "%s/local-free", E.dir);
        snprintf(hosts, sizeof hosts, "%s/hosts", E.dir);
        cp_local_options lo = {.state_dir = state, .hosts_dir = hosts, .agent_path = CP_AGENT_PATH,
                               .hosts_per_generation = 1, .heartbeat_ms = 200, .prepare = gate_prepare,
                               .boot_workers = 1};
        cp_backend *b = NULL;
        ASSERT_OK(cp_backend_local_new(&lo, &b));
        gate_set(false);
        static const char *const names[] = {"free-a", "free-b"};
        for (size_t i = 0; i < 2; i++) {
                cp_node_spec spec = {.pool_id = AP "/gatedfree", .name = names[i], .vm_size = SIZE, .image = "img1",
                                     .confidential = true};
                char h[128];
                ASSERT_OK(b->ops->create_node(b, &spec, h, sizeof h));
        }
        ASSERT_EQ(gate_wait_for(1), 1); /* one worker: free-a boots, free-b queued */
        pthread_t t;
        ASSERT_EQ(pthread_create(&t, NULL, open_gate_later, NULL), 0);
        cp_backend_free(b); /* returns once the running boot ended */
        pthread_join(t, NULL);
        for (size_t i = 0; i < 2; i++) {
                char dir[1024];
                state_node_dir(state, AP "/gatedfree", names[i], dir, sizeof dir);
                ASSERT_TRUE(exists_in(dir, "spec.json"));
                assert_no_processes(dir);
        }
        /* the next daemon: both nodes booted again from their specs */
        lo.boot_workers = 0;
        ASSERT_OK(cp_backend_local_new(&lo, &b));
        ASSERT_OK(cp_backend_local_set_attestd_url(b, cp_attestd_issuer(E.attestd)));
        ASSERT_OK(cp_backend_local_set_controlplane_url(b, "http://127.0.0.1:1"));
        unsigned restarted = 0;
        ASSERT_OK(cp_backend_local_recover(b, NULL, &restarted));
        ASSERT_EQ(restarted, 2);
        for (size_t i = 0; i < 2; i++) {
                char h[128], dir[1024], ip[48], err[256];
                nodes_fixture_node_handle(AP "/gatedfree", names[i], h, sizeof h);
                state_node_dir(state, AP "/gatedfree", names[i], dir, sizeof dir);
                cp_node_state st = CP_NODE_PROVISIONING;
                for (int k = 0; k < 200 && st == CP_NODE_PROVISIONING; k++) {
                        ASSERT_OK(b->ops->node_status(b, h, &st, ip, sizeof ip, err, sizeof err));
                        if (st == CP_NODE_PROVISIONING)
                                nap(50);
                }
                /* booted: the agent runs (it attests, then fails to register
                 * with a control plane that is not there) */
                ASSERT_TRUE(st != CP_NODE_PROVISIONING);
                ASSERT_TRUE(exists_in(dir, "node.json"));
                ASSERT_TRUE(exists_in(dir, "agent.pid"));
        }
        cp_backend_free(b);
        for (size_t i = 0; i < 2; i++) {
                char dir[1024];
                state_node_dir(state, AP "/gatedfree", names[i], dir, sizeof dir);
                assert_no_processes(dir);
        }
        teardown_env();
}

/* The phases of the agent's last run (status.json "times"), NULL until it wrote one. */
static json_t *agent_status(const char *dir) {
        char f[1400];
        snprintf(f, sizeof f, "%s/status.json", dir);
        return json_load_file(f, 0, NULL);
}

/* Until this run's agent attested ("token" in its status.json times) or
 * failed (at most ~30 s); its status. */
static json_t *wait_attested(const char *dir) {
        for (int k = 0; k < 600; k++) {
                json_t *st = agent_status(dir);
                const char *s = json_string_value(json_object_get(st, "state"));
                if (json_object_get(json_object_get(st, "times"), "token") || (s && strcmp(s, "Failed") == 0))
                        return st;
                json_decref(st);
                nap(50);
        }
        ASSERT_TRUE(!"the agent neither attested nor failed");
        return NULL;
}

/* confpoold restarted again and again (the backend freed: agent and swtpm
 * stopped; a new one recovering the node on the same vTPM state): the node
 * attests after every restart, its quote verified by attestd.  Before the
 * fix the third restart put the vTPM into DA lockout ("the TPM is in DA
 * lockout mode" at the quote). */
/* SHA-256 of a file of a node's directory. */
static void file_digest(const char *dir, const char *name, uint8_t ret[32]) {
        char f[1400];
        snprintf(f, sizeof f, "%s/%s", dir, name);
        uint8_t *buf = NULL;
        size_t len = 0;
        ASSERT_OK(cp_read_file(f, 64u << 20, &buf, &len));
        SHA256(buf, len, ret);
        free(buf);
}

/* Pre-provisioned vTPMs (issue 19): states made ahead by the pool's
 * workers, each with its own seeds; a node boots on one (moved out of the
 * pool, never shared), its agent quotes with the pool-made persistent AK
 * (node.json akHandle) and attests; the pool refills; a reboot keeps the
 * node's vTPM and AK and takes none from the pool. */
static size_t pool_states(const char *pool_dir, char names[][64], size_t max) {
        DIR *d = opendir(pool_dir);
        struct dirent *de;
        size_t n = 0;
        while (d && (de = readdir(d)))
                if (strncmp(de->d_name, "ready-", 6) == 0 && n < max)
                        snprintf(names[n++], 64, "%.63s", de->d_name);
        if (d)
                closedir(d);
        return n;
}

static void wait_pool(cp_backend *b, size_t want) {
        for (int k = 0; k < 1200 && cp_backend_local_vtpm_pool_ready(b) < want; k++)
                nap(50);
        ASSERT_EQ(cp_backend_local_vtpm_pool_ready(b), want);
}

TEST(node_boots_on_a_preprovisioned_vtpm) {
        setup_env();
        char state[256], hosts[256], dir[1024], h[128], pool_dir[300], f[1400], names[4][64];
        snprintf(state, sizeof state, "%s/local-pool", E.dir);
        snprintf(hosts, sizeof hosts, "%s/hosts", E.dir);
        snprintf(pool_dir, sizeof pool_dir, "%s/vtpm-pool", state);
        state_node_dir(state, AP "/pooled", "pooled-a", dir, sizeof dir);
        cp_local_options lo = {.state_dir = state, .hosts_dir = hosts, .agent_path = CP_AGENT_PATH,
                               .hosts_per_generation = 1, .heartbeat_ms = 200, .boot_workers = 1,
                               .vtpm_pool = 2, .vtpm_pool_workers = 2};
        cp_backend *b = NULL;
        ASSERT_OK(cp_backend_local_new(&lo, &b));
        ASSERT_OK(cp_backend_local_set_attestd_url(b, cp_attestd_issuer(E.attestd)));
        ASSERT_OK(cp_backend_local_set_controlplane_url(b, "http://127.0.0.1:1"));
        wait_pool(b, 2);
        ASSERT_EQ(pool_states(pool_dir, names, 4), 2);
        /* each state its own TPM (seeds made at its first start): they differ */
        uint8_t d0[32], d1[32];
        snprintf(f, sizeof f, "%s/%s", pool_dir, names[0]);
        file_digest(f, "tpm2-00.permall", d0);
        snprintf(f, sizeof f, "%s/%s", pool_dir, names[1]);
        file_digest(f, "tpm2-00.permall", d1);
        ASSERT_TRUE(memcmp(d0, d1, 32) != 0);
        cp_node_spec spec = {.pool_id = AP "/pooled", .name = "pooled-a", .vm_size = SIZE, .image = "img1",
                             .confidential = true};
        ASSERT_OK(b->ops->create_node(b, &spec, h, sizeof h));
        json_t *st = wait_attested(dir);
        ASSERT_TRUE(json_object_get(json_object_get(st, "times"), "token") != NULL);
        json_decref(st);
        /* the node's vTPM is one of the two, moved out of the pool */
        char left[4][64];
        ASSERT_TRUE(pool_states(pool_dir, left, 4) <= 2);
        json_error_t je;
        snprintf(f, sizeof f, "%s/node.json", dir);
        json_t *cfg = json_load_file(f, 0, &je);
        ASSERT_TRUE(cfg != NULL);
        ASSERT_EQ(json_integer_value(json_object_get(cfg, "akHandle")), 0x81000003);
        json_decref(cfg);
        ASSERT_TRUE(exists_in(dir, "tpm.pooled"));
        snprintf(f, sizeof f, "%s/%s", pool_dir, names[0]);
        bool took0 = access(f, F_OK) != 0;
        snprintf(f, sizeof f, "%s/%s", pool_dir, names[1]);
        bool took1 = access(f, F_OK) != 0;
        ASSERT_TRUE(took0 != took1); /* exactly one of them */
        /* the pool refills to its size */
        wait_pool(b, 2);
        cp_backend_free(b);
        assert_no_processes(dir);
        snprintf(f, sizeof f, "%s/status.json", dir);
        ASSERT_EQ(unlink(f), 0);
        /* a reboot: the node's own vTPM and AK again, none taken from the pool */
        ASSERT_OK(cp_backend_local_new(&lo, &b));
        ASSERT_OK(cp_backend_local_set_attestd_url(b, cp_attestd_issuer(E.attestd)));
        ASSERT_OK(cp_backend_local_set_controlplane_url(b, "http://127.0.0.1:1"));
        wait_pool(b, 2);
        unsigned restarted = 0;
        ASSERT_OK(cp_backend_local_recover(b, NULL, &restarted));
        ASSERT_EQ(restarted, 1);
        st = wait_attested(dir);
        ASSERT_TRUE(json_object_get(json_object_get(st, "times"), "token") != NULL);
        json_decref(st);
        ASSERT_EQ(pool_states(pool_dir, left, 4), 2);
        snprintf(f, sizeof f, "%s/node.json", dir);
        cfg = json_load_file(f, 0, &je);
        ASSERT_TRUE(cfg != NULL);
        ASSERT_EQ(json_integer_value(json_object_get(cfg, "akHandle")), 0x81000003);
        json_decref(cfg);
        cp_backend_free(b);
        assert_no_processes(dir);
}

/* The firmware's digests are cached while the file is the same (issue 19):
 * a firmware changed in place (same size) after a first measurement is
 * measured anew, as a fresh backend measures it. */
static void expected_of_size(const char *state, const char *ovmf, const char *image, const char *size,
                             uint8_t ret[48]) {
        char hosts[300];
        snprintf(hosts, sizeof hosts, "%s/hosts", E.dir);
        cp_local_options lo = {.state_dir = state, .hosts_dir = hosts, .agent_path = CP_AGENT_PATH,
                               .hosts_per_generation = 1, .ovmf_path = ovmf};
        cp_backend *b = NULL;
        ASSERT_OK(cp_backend_local_new(&lo, &b));
        cp_node_spec spec = {.pool_id = AP "/fw", .name = "fw-a", .vm_size = size, .image = image,
                             .confidential = true};
        ASSERT_OK(b->ops->expected_measurement(b, &spec, ret));
        cp_backend_free(b);
}

static void expected_of(const char *state, const char *ovmf, const char *image, uint8_t ret[48]) {
        expected_of_size(state, ovmf, image, SIZE, ret);
}

/* Debian's OVMF.fd written to path; flipped: with one byte of its firmware
 * volume (TDVF's BFV) changed, the same size (another digest, SNP launch
 * digest and MRTD). */
static void ovmf_copy(const char *path, bool flipped) {
        uint8_t *img = NULL;
        size_t len = 0;
        ASSERT_OK(cp_read_file("/usr/share/ovmf/OVMF.fd", 64u << 20, &img, &len));
        if (flipped)
                img[len - 0x10000] ^= 0x01;
        ASSERT_OK(cp_write_file(path, img, len, 0644));
        free(img);
}

/* An image keeps the firmware it was first used with (images/<v>/firmware.fd)
 * when the stack is started again with other firmware (confpoold --ovmf, a
 * Debian ovmf update): the SNP launch measurement and the TDX MRTD of its
 * nodes stay the pool's expected ones.  It was so for TDs only: an SNP
 * node that was Ready when confpoold was restarted with newer firmware was
 * quarantined and replaced at its next attestation (cli-tdx-node-image-upgrade
 * caught it once).  An image first used afterwards gets the new firmware. */
TEST(image_keeps_its_firmware_when_the_stack_firmware_changes) {
        setup_env();
        char fw[300], fw_new[300], state[300], other[300];
        snprintf(fw, sizeof fw, "%s/keep-OVMF.fd", E.dir);
        snprintf(fw_new, sizeof fw_new, "%s/keep-OVMF-new.fd", E.dir);
        snprintf(state, sizeof state, "%s/local-keep", E.dir);
        snprintf(other, sizeof other, "%s/local-keep-other", E.dir);
        ovmf_copy(fw_new, true);
        static const char *const sizes[] = {SIZE, "Standard_DC4es_v5"};
        for (size_t i = 0; i < 2; i++) {
                char image[32], later_image[32];
                uint8_t first[48], again[48], later[48], elsewhere[48];
                snprintf(image, sizeof image, "keep%zu", i);
                snprintf(later_image, sizeof later_image, "keep%zu-later", i);
                ovmf_copy(fw, false);
                expected_of_size(state, fw, image, sizes[i], first);
                /* the stack started again with newer firmware: the image's nodes measure as before */
                expected_of_size(state, fw_new, image, sizes[i], again);
                ASSERT_MEMEQ(first, again, 48);
                /* the stack's firmware file changed in place (even to no firmware): the same */
                ASSERT_OK(cp_write_file(fw, "not firmware", 12, 0644));
                expected_of_size(state, fw, image, sizes[i], again);
                ASSERT_MEMEQ(first, again, 48);
                /* an image first used now is measured from the new firmware, as on a fresh stack */
                expected_of_size(state, fw_new, later_image, sizes[i], later);
                expected_of_size(other, fw_new, later_image, sizes[i], elsewhere);
                ASSERT_MEMEQ(later, elsewhere, 48);
                /* and the new firmware measures otherwise: the old image did keep the old one */
                expected_of_size(other, fw_new, image, sizes[i], elsewhere);
                ASSERT_TRUE(memcmp(first, elsewhere, 48) != 0);
        }
}

TEST(firmware_changed_in_place_is_measured_anew) {
        setup_env();
        char fw[300], state[300], hosts[300];
        snprintf(fw, sizeof fw, "%s/fw-OVMF.fd", E.dir);
        snprintf(state, sizeof state, "%s/local-fw", E.dir);
        snprintf(hosts, sizeof hosts, "%s/hosts", E.dir);
        ovmf_copy(fw, false);
        cp_local_options lo = {.state_dir = state, .hosts_dir = hosts, .agent_path = CP_AGENT_PATH,
                               .hosts_per_generation = 1, .ovmf_path = fw};
        cp_backend *b = NULL;
        ASSERT_OK(cp_backend_local_new(&lo, &b));
        cp_node_spec spec = {.pool_id = AP "/fw", .name = "fw-a", .vm_size = SIZE, .image = "fw1",
                             .confidential = true};
        uint8_t first[48], changed[48], fresh[48], orig[48];
        ASSERT_OK(b->ops->expected_measurement(b, &spec, first)); /* the firmware's digests now cached */
        ovmf_copy(fw, true); /* in place */
        spec.image = "fw2"; /* an image not measured yet: measured from the firmware as it is now */
        ASSERT_OK(b->ops->expected_measurement(b, &spec, changed));
        cp_backend_free(b);
        char state2[300];
        snprintf(state2, sizeof state2, "%s/local-fw2", E.dir);
        expected_of(state2, fw, "fw2", fresh);
        ASSERT_MEMEQ(changed, fresh, 48);
        ovmf_copy(fw, false);
        snprintf(state2, sizeof state2, "%s/local-fw3", E.dir);
        expected_of(state2, fw, "fw2", orig);
        ASSERT_TRUE(memcmp(orig, changed, 48) != 0); /* the flipped byte is measured */
}

/* node.json's bootTimes: Unix ms within [t0, now], in boot order (bench-nodes
 * subtracts them; "queued" was once a monotonic clock's: the bench showed a
 * boot queue of 57 years). */
static void assert_boot_times(const char *dir, long long t0) {
        char f[1400];
        uint8_t *txt = NULL;
        size_t len = 0;
        snprintf(f, sizeof f, "%s/node.json", dir);
        ASSERT_OK(cp_read_file(f, 1 << 20, &txt, &len));
        json_t *cfg = json_loadb((const char *) txt, len, 0, NULL);
        free(txt);
        ASSERT_TRUE(cfg != NULL);
        const json_t *bt = json_object_get(cfg, "bootTimes");
        static const char *const order[] = {"queued", "create", "swtpm", "measuredBoot", "launch", "disk"};
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        long long prev = t0, end = (long long) now.tv_sec * 1000 + now.tv_nsec / 1000000;
        for (size_t i = 0; i < sizeof order / sizeof *order; i++) {
                long long t = (long long) json_integer_value(json_object_get(bt, order[i]));
                if (t < prev || t > end)
                        cp_test_fail(__FILE__, __LINE__, "bootTimes.%s = %lld: not within [%lld, %lld]", order[i], t,
                                     prev, end);
                prev = t;
        }
        json_decref(cfg);
}

TEST(node_attests_after_every_restart) {
        uint8_t disk0[32], key0[32];
        setup_env();
        char state[256], hosts[256], dir[1024], h[128];
        snprintf(state, sizeof state, "%s/local-again", E.dir);
        snprintf(hosts, sizeof hosts, "%s/hosts", E.dir);
        state_node_dir(state, AP "/again", "again-a", dir, sizeof dir);
        cp_local_options lo = {.state_dir = state, .hosts_dir = hosts, .agent_path = CP_AGENT_PATH,
                               .hosts_per_generation = 1, .heartbeat_ms = 200, .boot_workers = 1};
        for (int i = 0; i < 5; i++) {
                struct timespec t0;
                clock_gettime(CLOCK_REALTIME, &t0);
                cp_backend *b = NULL;
                ASSERT_OK(cp_backend_local_new(&lo, &b));
                ASSERT_OK(cp_backend_local_set_attestd_url(b, cp_attestd_issuer(E.attestd)));
                ASSERT_OK(cp_backend_local_set_controlplane_url(b, "http://127.0.0.1:1"));
                if (i == 0) {
                        cp_node_spec spec = {.pool_id = AP "/again", .name = "again-a", .vm_size = SIZE,
                                             .image = "img1", .confidential = true};
                        ASSERT_OK(b->ops->create_node(b, &spec, h, sizeof h));
                } else {
                        unsigned restarted = 0;
                        ASSERT_OK(cp_backend_local_recover(b, NULL, &restarted));
                        ASSERT_EQ(restarted, 1);
                }
                json_t *st = wait_attested(dir);
                const char *why = json_string_value(json_object_get(st, "reason"));
                if (!json_object_get(json_object_get(st, "times"), "token"))
                        fprintf(stderr, "    start %d: %s\n", i, why ? why : "(no reason)");
                ASSERT_TRUE(json_object_get(json_object_get(st, "times"), "token") != NULL);
                json_decref(st);
                assert_boot_times(dir, (long long) t0.tv_sec * 1000 + t0.tv_nsec / 1000000);
                /* the OS disk and its key are the first boot's: a reboot keeps them */
                if (i == 0) {
                        file_digest(dir, "disk.img", disk0);
                        file_digest(dir, "disk-key.standin", key0);
                } else {
                        uint8_t d[32];
                        file_digest(dir, "disk.img", d);
                        ASSERT_MEMEQ(d, disk0, 32);
                        file_digest(dir, "disk-key.standin", d);
                        ASSERT_MEMEQ(d, key0, 32);
                }
                cp_backend_free(b);
                assert_no_processes(dir);
                char f[1400];
                snprintf(f, sizeof f, "%s/status.json", dir);
                ASSERT_EQ(unlink(f), 0); /* the next run's status only */
        }
        /* a disk under a broker key (no stand-in key beside it) and a daemon
         * without a broker: the node fails to boot with the reason, the disk
         * is not overwritten */
        char f[1400];
        snprintf(f, sizeof f, "%s/disk-key.standin", dir);
        ASSERT_EQ(unlink(f), 0);
        cp_backend *b = NULL;
        ASSERT_OK(cp_backend_local_new(&lo, &b));
        ASSERT_OK(cp_backend_local_set_attestd_url(b, cp_attestd_issuer(E.attestd)));
        ASSERT_OK(cp_backend_local_set_controlplane_url(b, "http://127.0.0.1:1"));
        unsigned restarted = 0;
        ASSERT_OK(cp_backend_local_recover(b, NULL, &restarted));
        ASSERT_EQ(restarted, 1);
        cp_node_state nst = CP_NODE_PROVISIONING;
        char ip[48], err[512] = "";
        nodes_fixture_node_handle(AP "/again", "again-a", h, sizeof h);
        for (int k = 0; k < 400 && nst == CP_NODE_PROVISIONING; k++) {
                ASSERT_OK(b->ops->node_status(b, h, &nst, ip, sizeof ip, err, sizeof err));
                if (nst == CP_NODE_PROVISIONING)
                        nap(50);
        }
        ASSERT_EQ(nst, CP_NODE_FAILED);
        if (!strstr(err, "without one (--kbs-url)"))
                cp_test_fail(__FILE__, __LINE__, "reason '%s'", err);
        uint8_t d[32];
        file_digest(dir, "disk.img", d);
        ASSERT_MEMEQ(d, disk0, 32);
        cp_backend_free(b);
        teardown_env();
}

/* A deposed leader's detach frees the stack's emulated Intel PCS (issues 16 +
 * 17): the successor serves it on the same kept port (hosts/tdx/pcs.port, the
 * URL attestd was given).  Before, the detached backend kept listening there:
 * the successor could not bind it, so it opened no TDX host, adopted no TD and
 * booted none.  And the detached one serves it again when it leads again. */
/* Options of a local backend of its own in dir (mkdtemp'd): state/, hosts/. */
static cp_local_options own_backend(char *dir, char state[64], char hosts[64]) {
        ASSERT_TRUE(mkdtemp(dir) != NULL);
        snprintf(state, 64, "%s/state", dir);
        snprintf(hosts, 64, "%s/hosts", dir);
        return (cp_local_options) {.state_dir = state, .hosts_dir = hosts, .agent_path = CP_AGENT_PATH,
                                   .hosts_per_generation = 1, .boot_workers = 1};
}

TEST(detach_frees_the_tdx_pcs_port) {
        char dir[] = "/tmp/cp-pcsdetach-XXXXXX", state[64], hosts[64], u1[64], u2[64], u3[64];
        cp_local_options lo = own_backend(dir, state, hosts);
        cp_backend *a = NULL, *b = NULL;
        ASSERT_OK(cp_backend_local_new(&lo, &a));
        ASSERT_OK(cp_backend_local_tdx_platform(a, NULL, NULL, u1, sizeof u1));
        unsigned left = 7;
        ASSERT_OK(cp_backend_local_detach(a, &left));
        ASSERT_EQ(left, 0);
        ASSERT_OK(cp_backend_local_new(&lo, &b));
        if (cp_backend_local_tdx_platform(b, NULL, NULL, u2, sizeof u2) < 0)
                cp_test_fail(__FILE__, __LINE__, "the successor cannot serve the PCS: %s", cp_error_message());
        ASSERT_STREQ(u2, u1);
        ASSERT_OK(cp_backend_local_detach(b, NULL));
        ASSERT_OK(cp_backend_local_tdx_platform(a, NULL, NULL, u3, sizeof u3));
        ASSERT_STREQ(u3, u1);
        cp_backend_free(b);
        cp_backend_free(a);
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        ASSERT_EQ(system(cmd), 0);
}

/* A successor whose predecessor is paused, not dead (its lease expired while
 * frozen: it still holds the PCS's kept port until it runs again and
 * detaches): the successor's software TDX platform comes up without the
 * listener (its hosts, their modules, the TDs it adopts need pcs.json only)
 * and listens on the kept port once the predecessor let it go.  Before, the
 * platform failed: no TDX host opened, every Ready TDX node "not adopted",
 * stopped and booted again (and failed). */
TEST(tdx_platform_waits_for_a_paused_predecessors_pcs_port) {
        char dir[] = "/tmp/cp-pcspause-XXXXXX", state[64], hosts[64], u1[64], u2[64];
        cp_local_options lo = own_backend(dir, state, hosts);
        cp_backend *a = NULL, *b = NULL;
        ASSERT_OK(cp_backend_local_new(&lo, &a));
        ASSERT_OK(cp_backend_local_tdx_platform(a, NULL, NULL, u1, sizeof u1));
        ASSERT_OK(cp_backend_local_new(&lo, &b));
        char *pem = NULL;
        size_t pem_len = 0;
        if (cp_backend_local_tdx_platform(b, &pem, &pem_len, u2, sizeof u2) < 0)
                cp_test_fail(__FILE__, __LINE__, "the successor's TDX platform: %s", cp_error_message());
        ASSERT_STREQ(u2, u1); /* the URL attestd has */
        ASSERT_TRUE(pem_len > 0);
        free(pem);
        ASSERT_OK(cp_backend_local_detach(a, NULL));
        ASSERT_FALSE(nodes_fixture_listening(u1));
        ASSERT_OK(cp_backend_local_tdx_platform(b, NULL, NULL, u2, sizeof u2));
        ASSERT_STREQ(u2, u1);
        ASSERT_TRUE(nodes_fixture_listening(u1));
        cp_backend_free(a);
        cp_backend_free(b);
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        ASSERT_EQ(system(cmd), 0);
}
