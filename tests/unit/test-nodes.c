/* SPDX-License-Identifier: Apache-2.0 */
/* Confidential nodes end to end on loopback: the local backend (software
 * AMD-SP hosts, swtpm vTPMs, measured boot, confpool-agent processes), the
 * attestation service and the key broker in-process (the broker trusts the
 * attestation service's issuer and JWKS), confpoold's API + node endpoints
 * over HTTP and the reconciler driven synchronously. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "attestd/attestd.h"
#include "basic/fileio.h"
#include "confpool/luks2.h"
#include "basic/codec.h"
#include "controlplane/cp-api.h"
#include "controlplane/cp-backend-local.h"
#include "controlplane/cp-diskkeys.h"
#include "controlplane/cp-nodes.h"
#include "controlplane/cp-reconciler.h"
#include "controlplane/cp-store.h"
#include "kbsd/kbsd.h"
#include "service/httpc.h"
#define NODES_FIXTURE_TEST_HELPERS
#include "nodes-fixture.h"
#include "tests.h"

#define RELEASE_TOKEN NODES_FIXTURE_RELEASE_TOKEN

static nodes_fixture E;
static cp_api_reply R;
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
        nodes_fixture_teardown(&E, &R);
}

static void setup_env(void) {
        if (E.up)
                return;
        atexit(teardown_env);
        nodes_fixture_options o = {.dir_template = "/tmp/cp-nodes-XXXXXX", .hosts_per_generation = 1,
                                   .heartbeat_ms = 200, .with_kbs = true, .prepare = prepare};
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

static const char *pool_error(void) {
        return json_string_value(json_object_get(
                json_object_get(json_object_get(json_object_get(R.body, "properties"), "status"), "provisioningError"),
                "message"));
}

static void add_pool(const char *name) {
        nodes_fixture_put_pool(&E, &R, name, 1);
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

static long kbs_audit(const char *decision) {
        long n = -1;
        ASSERT_OK(cp_kbsd_audit_count(E.kbsd, decision, &n));
        return n;
}

/* A release of the disk with a bearer of release scope and a target that is
 * no attestation token: refused either way; 404 only once crypto-erased. */
static long release_status(const char *disk_id, char *msg, size_t size) {
        char url[256];
        snprintf(url, sizeof url, "%s/disks/%s/release", E.kbs_url, disk_id);
        static const char body[] = "{\"target\":\"eyJhbGciOiJSUzI1NiJ9.e30.AAAA\"}";
        cp_httpc_options ho = {.timeout_ms = 5000, .bearer = RELEASE_TOKEN};
        cp_httpc_response resp = {0};
        ASSERT_OK(cp_httpc_request(&ho, "POST", url, NULL, body, strlen(body), &resp));
        json_t *j = NULL;
        ASSERT_OK(cp_httpc_response_json(&resp, &j));
        const char *m = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
        snprintf(msg, size, "%s", m ? m : "");
        json_decref(j);
        long st = resp.status;
        cp_httpc_response_clear(&resp);
        return st;
}

/* The node's disk as the backend left it: LUKS2, no stand-in key, the
 * agent configured for the key broker. */
/* a node's directory: nodes/<scope of its pool>-<name> */
static void node_dir(const char *pool_id, const char *name, char *out, size_t size) {
        nodes_fixture_node_dir(&E, pool_id, name, out, size);
}

static void check_node_disk(const char *name) {
        char f[512], d[400];
        uint8_t *buf = NULL;
        size_t len;
        node_dir(AP "/nodepool1", name, d, sizeof d);
        snprintf(f, sizeof f, "%s/disk-key.standin", d);
        ASSERT_TRUE(access(f, F_OK) < 0);
        snprintf(f, sizeof f, "%s/node.json", d);
        json_t *cfg = json_load_file(f, 0, NULL);
        ASSERT_TRUE(cfg != NULL);
        json_t *dk = json_object_get(cfg, "diskKey");
        ASSERT_STREQ(json_string_value(json_object_get(dk, "provider")), "kbs");
        ASSERT_STREQ(json_string_value(json_object_get(dk, "url")), E.kbs_url);
        char id[160];
        ASSERT_OK(cp_diskkeys_disk_id(AP "/nodepool1", name, id, sizeof id));
        ASSERT_STREQ(json_string_value(json_object_get(dk, "diskId")), id);
        json_decref(cfg);
        snprintf(f, sizeof f, "%s/disk.img", d);
        ASSERT_OK(cp_read_file(f, 64u << 20, &buf, &len));
        cp_luks2_info info;
        ASSERT_OK(cp_luks2_parse(buf, len, &info));
        ASSERT_STREQ(info.cipher, "aes-xts-plain64");
        ASSERT_STREQ(info.label, "confpool-node-os");
        ASSERT_TRUE(len > info.data_offset + 512);
        /* the plaintext label is nowhere in the image */
        ASSERT_TRUE(memmem(buf, len, "CONFPOOL-NODE-DISK", 18) == NULL);
        free(buf);
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
                check_node_disk(json_string_value(json_object_get(json_array_get(v, i), "name")));
        }
        /* Ready only after each node's disk key was released to its TEE key
         * (the agent registers only after its disk opened): three releases */
        ASSERT_EQ(kbs_audit("allowed"), 3);
        ASSERT_EQ(kbs_audit("denied"), 0);
        /* heartbeats arrive with the token (200 ms period) */
        json_t *m0 = json_array_get(v, 0);
        char name[64];
        snprintf(name, sizeof name, "%s", json_string_value(json_object_get(m0, "name")));
        cp_node_info ni = {0};
        for (int i = 0; i < 100 && ni.heartbeat_at == 0; i++) {
                struct timespec ts = {0, 100 * 1000000L};
                nanosleep(&ts, NULL);
                cp_store_lock(E.store);
                int r = cp_nodes_info(E.store, AP "/nodepool1", name, &ni);
                cp_store_unlock(E.store);
                ASSERT_OK(r);
                /* the times noted in memory and not yet written (batched, issue 19): as the API shows them */
                cp_nodes_heartbeat_of(E.nodes, AP "/nodepool1", name, &ni.heartbeat_at);
        }
        ASSERT_TRUE(ni.heartbeat_at > 0);
}

TEST(tampered_kernel_refused) {
        setup_env();
        tamper_pool = "/agentPools/tamper";
        add_pool("tamper");
        tamper_pool = NULL;
        /* attested (the token is genuine), but the disk key's release policy
         * names the node image's measurement: no key, no disk, no join */
        expect_failed("tamper", "x-ms-sevsnpvm-launchmeasurement");
        ASSERT_EQ(kbs_audit("allowed"), 3);
        ASSERT_EQ(kbs_audit("denied"), 1);
}

TEST(debug_launch_refused) {
        setup_env();
        debug_pool = "/agentPools/debugpool";
        add_pool("debugpool");
        debug_pool = NULL;
        expect_failed("debugpool", "attestation refused");
        /* no token, so no release was even asked for */
        ASSERT_EQ(kbs_audit("allowed"), 3);
        ASSERT_EQ(kbs_audit("denied"), 1);
}

TEST(pool_delete_crypto_erases_disk_keys) {
        setup_env();
        add_pool("erasepool");
        ASSERT_STREQ(pool_state("erasepool"), "Succeeded");
        ASSERT_EQ(kbs_audit("allowed"), 4);
        ASSERT_EQ(call("GET", AP "/erasepool/machines" CS, NULL), 200);
        json_t *v = json_object_get(R.body, "value");
        ASSERT_EQ(json_array_size(v), 1);
        char id[160], msg[512];
        ASSERT_OK(cp_diskkeys_disk_id(AP "/erasepool", json_string_value(json_object_get(json_array_get(v, 0), "name")),
                                      id, sizeof id));
        long st = release_status(id, msg, sizeof msg);
        ASSERT_TRUE(st == 400 || st == 401 || st == 403); /* the disk exists: the token decides */
        unsigned ds = call("DELETE", AP "/erasepool" CS, NULL);
        ASSERT_TRUE(ds == 200 || ds == 202 || ds == 204);
        reconcile();
        st = release_status(id, msg, sizeof msg);
        ASSERT_EQ(st, 404);
        if (!strstr(msg, "crypto-erased"))
                cp_test_fail(__FILE__, __LINE__, "release after delete: '%s'", msg);
        /* the other pool's disks are untouched */
        ASSERT_EQ(call("GET", AP "/nodepool1/machines" CS, NULL), 200);
        v = json_object_get(R.body, "value");
        ASSERT_EQ(json_array_size(v), 3);
        ASSERT_OK(cp_diskkeys_disk_id(AP "/nodepool1", json_string_value(json_object_get(json_array_get(v, 0), "name")),
                                      id, sizeof id));
        ASSERT_TRUE(release_status(id, msg, sizeof msg) != 404);
}

/* Issue 13 item 1: the same machine name in two pools of two subscriptions
 * (what a brute-forced name collision gave).  Both nodes boot side by side,
 * each with its own directory and disk; the endpoints refuse pool B's node
 * identity on pool A's machine; deleting B leaves A's node, directory and
 * disk key alone. */
#define TWIN "aks-twin-12345678-vmss000000"
#define POOL_B "/subscriptions/0b0b0b0b-1f3d-4e5a-9b7c-0d1e2f3a4b5c/resourceGroups/rg1/providers/" \
               "Microsoft.ContainerService/managedClusters/c1/agentPools/nodepool1"
TEST(same_machine_name_in_two_pools_never_touch) {
        setup_env();
        ASSERT_EQ(call("GET", AP "/nodepool1" CS, NULL), 200);
        const char *image = json_string_value(json_object_get(json_object_get(R.body, "properties"), "nodeImageVersion"));
        cp_node_spec a = {.pool_id = AP "/nodepool1", .name = TWIN, .vm_size = SIZE, .image = image,
                          .confidential = true};
        cp_node_spec b = a;
        b.pool_id = POOL_B;
        cp_machine m = {0};
        snprintf(m.pool, sizeof m.pool, "%s", a.pool_id);
        snprintf(m.name, sizeof m.name, TWIN);
        snprintf(m.state, sizeof m.state, "Provisioning");
        snprintf(m.image, sizeof m.image, "%s", image);
        char ha[128], hb[128], da[400], db[400], ida[160], idb[160], msg[512];
        ASSERT_OK(E.backend->ops->create_node(E.backend, &a, ha, sizeof ha));
        ASSERT_OK(E.backend->ops->create_node(E.backend, &b, hb, sizeof hb));
        ASSERT_TRUE(strcmp(ha, hb) != 0);
        snprintf(m.handle, sizeof m.handle, "%s", ha);
        cp_store_lock(E.store);
        int r = cp_machine_put(E.store, &m);
        cp_store_unlock(E.store);
        ASSERT_OK(r);
        node_dir(a.pool_id, TWIN, da, sizeof da);
        node_dir(b.pool_id, TWIN, db, sizeof db);
        ASSERT_OK(cp_diskkeys_disk_id(a.pool_id, TWIN, ida, sizeof ida));
        ASSERT_OK(cp_diskkeys_disk_id(b.pool_id, TWIN, idb, sizeof idb));
        ASSERT_TRUE(strcmp(ida, idb) != 0);
        /* A registers with its own genuine token (HOST_DATA of (pool A, name)) */
        for (int i = 0; i < 300 && strcmp(m.state, "Ready") != 0; i++) {
                struct timespec ts = {0, 100 * 1000000L};
                nanosleep(&ts, NULL);
                cp_store_lock(E.store);
                r = cp_machine_get(E.store, a.pool_id, TWIN, &m);
                cp_store_unlock(E.store);
                ASSERT_OK(r);
        }
        ASSERT_STREQ(m.state, "Ready");
        ASSERT_TRUE(release_status(idb, msg, sizeof msg) != 404); /* both disks exist */
        ASSERT_TRUE(release_status(ida, msg, sizeof msg) != 404);
        /* pool A's machine with pool B's node identity: refused, nothing changes */
        uint8_t hd[32];
        char hex[65], why[768];
        ASSERT_OK(cp_node_host_data(b.pool_id, TWIN, hd));
        cp_hex_encode(hd, 32, hex);
        json_t *claims = json_pack("{s:s,s:s}", "x-ms-sevsnpvm-hostdata", hex, "x-confpool-evidence-type", "native");
        cp_admission adm = CP_ADMIT_READY;
        ASSERT_OK(cp_nodes_admit(E.nodes, a.pool_id, TWIN, true, claims, &adm, why, sizeof why));
        json_decref(claims);
        ASSERT_EQ(adm, CP_ADMIT_WRONG_NODE);
        ASSERT_TRUE(strstr(why, "x-ms-sevsnpvm-hostdata") != NULL);
        cp_store_lock(E.store);
        r = cp_machine_get(E.store, a.pool_id, TWIN, &m);
        cp_store_unlock(E.store);
        ASSERT_OK(r);
        ASSERT_STREQ(m.state, "Ready");
        /* a stopped machine (az aks nodepool stop): a heartbeat still in
         * flight from its own node is refused and does not make it Ready */
        snprintf(m.state, sizeof m.state, "Stopped");
        cp_store_lock(E.store);
        r = cp_machine_put(E.store, &m);
        cp_store_unlock(E.store);
        ASSERT_OK(r);
        ASSERT_OK(cp_node_host_data(a.pool_id, TWIN, hd));
        cp_hex_encode(hd, 32, hex);
        claims = json_pack("{s:s,s:s}", "x-ms-sevsnpvm-hostdata", hex, "x-confpool-evidence-type", "native");
        ASSERT_OK(cp_nodes_admit(E.nodes, a.pool_id, TWIN, true, claims, &adm, why, sizeof why));
        json_decref(claims);
        ASSERT_EQ(adm, CP_ADMIT_CONFLICT);
        cp_store_lock(E.store);
        r = cp_machine_get(E.store, a.pool_id, TWIN, &m);
        cp_store_unlock(E.store);
        ASSERT_OK(r);
        ASSERT_STREQ(m.state, "Stopped");
        /* delete B: A's node, directory and disk key survive */
        ASSERT_OK(E.backend->ops->delete_node(E.backend, hb));
        ASSERT_TRUE(access(db, F_OK) < 0);
        ASSERT_EQ(release_status(idb, msg, sizeof msg), 404);
        ASSERT_TRUE(access(da, F_OK) == 0);
        ASSERT_TRUE(release_status(ida, msg, sizeof msg) != 404);
        cp_node_state st;
        char ip[64], err[256];
        ASSERT_OK(E.backend->ops->node_status(E.backend, ha, &st, ip, sizeof ip, err, sizeof err));
        ASSERT_TRUE(st != CP_NODE_GONE && st != CP_NODE_FAILED);
        ASSERT_OK(E.backend->ops->delete_node(E.backend, ha));
        cp_store_lock(E.store);
        r = cp_machine_delete(E.store, a.pool_id, TWIN);
        cp_store_unlock(E.store);
        ASSERT_OK(r);
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
