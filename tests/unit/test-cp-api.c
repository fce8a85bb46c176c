/* SPDX-License-Identifier: Apache-2.0 */
/* confpoold's REST API at router level: every endpoint, LRO headers and
 * operation endpoints, eTags, the error envelope, auth, limits; the
 * reconciler is driven synchronously (cp_reconciler_run_once). */
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/loglimit.h"
#include "controlplane/cp-api.h"
#include "cp-api-testutil.h"
#include "controlplane/cp-reconciler.h"
#include "controlplane/cp-store.h"
#include "test-db.h"
#include "tests.h"

#define SUB "6a8b4c2e-1f3d-4e5a-9b7c-0d1e2f3a4b5c"
#define RGP "/subscriptions/" SUB "/resourceGroups/myResourceGroup"
#define MC RGP "/providers/Microsoft.ContainerService/managedClusters/myAKSCluster"
#define AP MC "/agentPools"
#define CS "?api-version=2026-01-01"
#define RS "?api-version=2021-04-01"
#define FS "?api-version=2021-07-01"

typedef struct env {
        char dir[64];
        cp_store *store;
        cp_rules *rules;
        cp_backend *backend;
        cp_api *api;
        cp_reconciler *rec;
        char auth[128];
} env;

static env E;
static cp_api_reply R;
static const char *if_match, *if_none_match, *custom_features;

static void setup(const char *cfg) {
        memset(&E, 0, sizeof E);
        snprintf(E.dir, sizeof E.dir, "/tmp/cp-api-XXXXXX");
        ASSERT_TRUE(mkdtemp(E.dir) != NULL);
        char db[128];
        snprintf(db, sizeof db, "%s/confpoold.db", E.dir);
        ASSERT_OK(cp_cpstore_open(cp_test_db(db), &E.store));
        ASSERT_OK(cp_rules_new(&E.rules));
        json_t *j = json_loads(cfg ? cfg : "{\"fakeBackend\":{\"readyDelayMs\":0}}", 0, NULL);
        ASSERT_OK(cp_rules_load_json(E.rules, j));
        json_decref(j);
        ASSERT_OK(cp_backend_fake_from_config(cp_rules_fake_backend(E.rules), &E.backend));
        cp_api_options o = {.store = E.store, .rules = E.rules, .state_dir = E.dir, .base_url = "http://cp.test"};
        ASSERT_OK(cp_api_new(&o, &E.api));
        ASSERT_OK(cp_reconciler_new(E.store, E.rules, E.backend, &E.rec));
        char tp[128];
        snprintf(tp, sizeof tp, "%s/operator.token", E.dir);
        size_t len;
        uint8_t *tok = NULL;
        FILE *f = fopen(tp, "r");
        ASSERT_TRUE(f != NULL);
        char t[100] = "";
        ASSERT_TRUE(fscanf(f, "%99s", t) == 1);
        fclose(f);
        (void) tok;
        (void) len;
        snprintf(E.auth, sizeof E.auth, "Bearer %s", t);
        if_match = if_none_match = custom_features = NULL;
        memset(&R, 0, sizeof R);
}

static void teardown(void) {
        cp_api_reply_clear(&R);
        cp_reconciler_free(E.rec);
        cp_api_free(E.api);
        cp_backend_free(E.backend);
        cp_store_close(E.store);
        cp_rules_free(E.rules);
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", E.dir);
        if (system(cmd) != 0)
                fprintf(stderr, "cleanup failed\n");
}

/* method, "path?query", body -> status; R holds the response */
static unsigned call_auth(const char *auth, const char *method, const char *url, const char *body) {
        cp_api_call_headers h = { .authorization = auth, .if_match = if_match, .if_none_match = if_none_match,
                                  .host = "attacker.example:8443", .custom_features = custom_features };
        cp_api_call(E.api, &R, method, url, NULL, &h, body);
        if (R.http.body_len)
                ASSERT_TRUE(R.body != NULL);
        return R.status;
}

static unsigned call(const char *method, const char *url, const char *body) {
        return call_auth(E.auth, method, url, body);
}

static const char *code(void) {
        return json_string_value(json_object_get(json_object_get(R.body, "error"), "code"));
}

static const char *target(void) {
        return json_string_value(json_object_get(json_object_get(R.body, "error"), "target"));
}

static const char *prop(const char *k) {
        return json_string_value(json_object_get(json_object_get(R.body, "properties"), k));
}

static void reconcile(void) {
        size_t active;
        for (int i = 0; i < 10; i++) {
                ASSERT_OK(cp_reconciler_run_once(E.rec, &active));
                if (active == 0)
                        return;
        }
}

/* path of the Azure-AsyncOperation / Location header (without scheme+host) */
static const char *hdr_path(const char *name, char *buf, size_t size) {
        const char *v = cp_api_reply_header(&R, name);
        if (!v)
                cp_test_fail(__FILE__, __LINE__, "no %s header", name);
        const char *p = strstr(v, "://");
        p = p ? strchr(p + 3, '/') : v;
        snprintf(buf, size, "%s", p);
        return buf;
}

static void base_cluster(void) {
        ASSERT_EQ(call("PUT", RGP RS, "{\"location\":\"eastus\"}"), 201);
        ASSERT_EQ(call("PUT", MC CS,
                       "{\"location\":\"East US\",\"properties\":{\"agentPoolProfiles\":[{\"name\":\"nodepool1\","
                       "\"count\":1,\"vmSize\":\"Standard_DC4as_v5\",\"mode\":\"System\"}]}}"),
                  201);
        reconcile();
}

/* 2,000 requests with a bad token wrote 2,000 audit lines (19 MB in 5 s of
 * 401s in the field); now a burst a window is written and the rest counted
 * in one "N more" line, here at the end (cp_api_free). */
TEST(refused_audit_lines_rate_limited) {
        setup(NULL);
        char path[160];
        snprintf(path, sizeof path, "%s/stderr", E.dir);
        fflush(stderr);
        int saved = dup(2), fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        ASSERT_TRUE(saved >= 0 && fd >= 0 && dup2(fd, 2) == 2);
        close(fd);
        for (int i = 0; i < 2000; i++)
                ASSERT_EQ(call_auth("Bearer cpo_wrong", "GET", RGP RS, NULL), 401);
        ASSERT_EQ(call("PUT", RGP RS, "{\"location\":\"eastus\"}"), 201); /* not a refusal: logged */
        cp_api_free(E.api);
        E.api = NULL;
        fflush(stderr);
        ASSERT_TRUE(dup2(saved, 2) == 2);
        close(saved);
        FILE *f = fopen(path, "r");
        ASSERT_TRUE(f != NULL);
        char line[1024];
        unsigned long refused = 0, more = 0, ok = 0, n;
        while (fgets(line, sizeof line, f)) {
                if (strstr(line, "-> 401"))
                        refused++;
                else if (sscanf(line, "confpoold: audit: %lu more refused", &n) == 1)
                        more += n;
                else if (strstr(line, "-> 201"))
                        ok++;
        }
        fclose(f);
        ASSERT_TRUE(refused > 0 && refused <= 2 * CP_LOG_LIMIT_BURST); /* at most two windows if the clock ticked */
        ASSERT_EQ(refused + more, 2000);
        ASSERT_EQ(ok, 1);
        teardown();
}

TEST(auth) {
        setup(NULL);
        ASSERT_EQ(call_auth(NULL, "GET", RGP RS, NULL), 401);
        ASSERT_STREQ(code(), "AuthenticationFailed");
        ASSERT_TRUE(cp_api_reply_header(&R, "WWW-Authenticate") != NULL);
        ASSERT_EQ(call_auth("Bearer cpo_wrong", "GET", RGP RS, NULL), 401);
        ASSERT_STREQ(code(), "InvalidAuthenticationToken");
        ASSERT_EQ(call_auth("Basic b3A6cGFzcw==", "GET", RGP RS, NULL), 401);
        char trunc[128];
        snprintf(trunc, sizeof trunc, "%.*s", (int) strlen(E.auth) - 1, E.auth);
        ASSERT_EQ(call_auth(trunc, "GET", RGP RS, NULL), 401);
        ASSERT_EQ(call_auth("Bearer ", "GET", RGP RS, NULL), 401);
        /* 401 comes before everything else, even unknown paths */
        ASSERT_EQ(call_auth(NULL, "GET", "/nope", NULL), 401);
        ASSERT_EQ(call("GET", RGP RS, NULL), 404);
        /* the token file is 0600 and the DB holds its SHA-256 only */
        char tp[128];
        snprintf(tp, sizeof tp, "%s/operator.token", E.dir);
        struct stat st;
        ASSERT_EQ(stat(tp, &st), 0);
        ASSERT_EQ(st.st_mode & 0777, 0600);
        const char *tok = E.auth + 7;
        uint8_t d[32];
        unsigned dl;
        EVP_Digest(tok, strlen(tok), d, &dl, EVP_sha256(), NULL);
        char hex[65];
        cp_hex_encode(d, 32, hex);
        hex[64] = 0;
        char(*h)[65] = NULL;
        size_t n;
        ASSERT_OK(cp_token_hashes(E.store, &h, &n));
        ASSERT_EQ(n, 1);
        ASSERT_STREQ(h[0], hex);
        free(h);
        /* a second start keeps the credential */
        bool created = true;
        ASSERT_OK(cp_auth_init(E.store, E.dir, &created));
        ASSERT_FALSE(created);
        teardown();
}

struct auth_race {
        cp_store *store;
        const char *dir;
        bool created;
        int r;
        char why[CP_ERROR_MESSAGE_MAX];
};

static void *auth_init_thread(void *arg) {
        struct auth_race *a = arg;
        a->r = cp_auth_init(a->store, a->dir, &a->created);
        snprintf(a->why, sizeof a->why, "%s", a->r < 0 ? cp_error_message() : "");
        return NULL;
}

/* Two replicas starting at once on an empty database: the second saw no
 * token, then waited for the first's write transaction, and failed on the
 * operator row's key; its check is now made again under the write lock. */
TEST(operator_token_made_once_by_replicas_starting_together) {
        char dir[64], db[128], hex[65];
        snprintf(dir, sizeof dir, "/tmp/cp-auth-XXXXXX");
        ASSERT_TRUE(mkdtemp(dir) != NULL);
        snprintf(db, sizeof db, "%s/race.db", dir);
        cp_store *a = NULL, *b = NULL;
        ASSERT_OK(cp_cpstore_open(cp_test_db(db), &a));
        ASSERT_OK(cp_cpstore_open(cp_test_db(db), &b));
        memset(hex, 'a', 64);
        hex[64] = 0;
        ASSERT_OK(cp_store_begin(a)); /* the first replica, inside cp_auth_init */
        ASSERT_OK(cp_token_add(a, "operator", hex));
        struct auth_race second = {.store = b, .dir = dir, .created = true};
        pthread_t t;
        ASSERT_EQ(pthread_create(&t, NULL, auth_init_thread, &second), 0);
        usleep(300 * 1000);
        ASSERT_OK(cp_store_commit(a));
        ASSERT_EQ(pthread_join(t, NULL), 0);
        if (second.r < 0)
                cp_test_fail(__FILE__, __LINE__, "second replica: %s", second.why);
        ASSERT_FALSE(second.created);
        char(*h)[65] = NULL;
        size_t n = 0;
        ASSERT_OK(cp_token_hashes(b, &h, &n));
        ASSERT_EQ(n, 1);
        ASSERT_STREQ(h[0], hex);
        free(h);
        char tf[160];
        snprintf(tf, sizeof tf, "%s/operator.token", dir);
        ASSERT_TRUE(access(tf, F_OK) != 0); /* the second wrote no token file of a token not stored */
        cp_store_close(a);
        cp_store_close(b);
        char cmd[160];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        ASSERT_EQ(system(cmd), 0);
}

TEST(request_checks_and_envelope) {
        setup(NULL);
        ASSERT_EQ(call("GET", RGP, NULL), 400);
        ASSERT_STREQ(code(), "MissingApiVersionParameter");
        ASSERT_EQ(call("GET", MC "?api-version=2021-04-01", NULL), 400);
        ASSERT_STREQ(code(), "InvalidApiVersionParameter");
        ASSERT_EQ(call("GET", RGP "?api-version=2026-01-01-preview", NULL), 400);
        ASSERT_EQ(call("GET", "/subscriptions/not-a-guid/resourcegroups/x" RS, NULL), 400);
        ASSERT_STREQ(code(), "InvalidSubscriptionId");
        ASSERT_EQ(call("GET", "/other" RS, NULL), 404);
        ASSERT_EQ(call("GET", RGP "/providers/Microsoft.ContainerService/nothing" CS, NULL), 404);
        ASSERT_STREQ(code(), "NotFound");
        ASSERT_EQ(call("POST", RGP RS, "{}"), 405);
        ASSERT_STREQ(code(), "MethodNotAllowed");
        ASSERT_EQ(call("PUT", RGP RS, "{\"location\":"), 400);
        ASSERT_STREQ(code(), "InvalidRequestContent");
        /* a body that is JSON but not an object is refused before the handler */
        ASSERT_EQ(call("PUT", RGP RS, "[{\"location\":\"eastus\"}]"), 400);
        ASSERT_STREQ(code(), "InvalidRequestContent");
        ASSERT_EQ(call("PUT", RGP RS, "\"eastus\""), 400);
        ASSERT_STREQ(code(), "InvalidRequestContent");
        /* routing comes before the api-version check: an unknown path without it is 404 */
        ASSERT_EQ(call("GET", RGP "/providers/Microsoft.ContainerService/nothing", NULL), 404);
        ASSERT_STREQ(code(), "NotFound");
        ASSERT_EQ(call("GET", RGP, NULL), 400);
        ASSERT_STREQ(code(), "MissingApiVersionParameter");
        ASSERT_EQ(call("PUT", RGP RS, "{\"location\":\"a\",\"location\":\"b\"}"), 400);
        char deep[200];
        memset(deep, '[', 60);
        memset(deep + 60, ']', 60);
        deep[120] = 0;
        ASSERT_EQ(call("PUT", RGP RS, deep), 400);
        size_t big = 1024 * 1024 + 1;
        char *b = malloc(big + 1);
        memset(b, ' ', big);
        b[big] = 0;
        ASSERT_EQ(call("PUT", RGP RS, b), 413);
        ASSERT_STREQ(code(), "RequestEntityTooLarge");
        free(b);
        /* the envelope has code, message, details (and target when known) */
        ASSERT_EQ(call("PUT", RGP RS, "{}"), 400);
        json_t *e = json_object_get(R.body, "error");
        ASSERT_STREQ(code(), "LocationRequired");
        ASSERT_STREQ(target(), "location");
        ASSERT_TRUE(json_is_string(json_object_get(e, "message")));
        ASSERT_TRUE(json_is_array(json_object_get(e, "details")));
        teardown();
}

TEST(resource_groups) {
        setup(NULL);
        ASSERT_EQ(call("PUT", RGP RS, "{\"location\":\"eastus\",\"tags\":{\"a\":\"b\"}}"), 201);
        ASSERT_STREQ(json_string_value(json_object_get(R.body, "type")), "Microsoft.Resources/resourceGroups");
        ASSERT_EQ(call("PUT", RGP RS, "{\"location\":\"eastus\"}"), 200);
        ASSERT_EQ(call("PUT", RGP RS, "{\"location\":\"westus\"}"), 409);
        ASSERT_EQ(call("GET", "/subscriptions/" SUB "/resourcegroups/MYRESOURCEGROUP" RS, NULL), 200);
        ASSERT_STREQ(json_string_value(json_object_get(R.body, "name")), "myResourceGroup");
        ASSERT_EQ(call("GET", "/subscriptions/" SUB "/resourcegroups" RS, NULL), 200);
        ASSERT_EQ(json_array_size(json_object_get(R.body, "value")), 1);
        ASSERT_EQ(call("PUT", "/subscriptions/" SUB "/resourcegroups/bad.name." RS, "{\"location\":\"eastus\"}"), 400);
        ASSERT_STREQ(code(), "InvalidResourceGroupName");
        ASSERT_EQ(call("DELETE", RGP RS, NULL), 200);
        ASSERT_EQ(call("GET", RGP RS, NULL), 404);
        ASSERT_STREQ(code(), "ResourceGroupNotFound");
        ASSERT_EQ(call("DELETE", RGP RS, NULL), 204);
        teardown();
}

/* The 8 digits of a machine name of pool_id under the FNV-1a of before. */
static unsigned fnv_digits(const char *pool_id) {
        unsigned h = 2166136261u;
        for (const char *p = pool_id; *p; p++)
                h = (h ^ (unsigned char) (*p >= 'A' && *p <= 'Z' ? *p + 32 : *p)) * 16777619u;
        return h % 100000000u;
}

/* The first machine's name of nodepool1 (count machines expected). */
static void first_machine(size_t count, char name[64]) {
        ASSERT_EQ(call("GET", AP "/nodepool1/machines" CS, NULL), 200);
        json_t *ms = json_object_get(R.body, "value");
        ASSERT_EQ(json_array_size(ms), count);
        snprintf(name, 64, "%s", json_string_value(json_object_get(json_array_get(ms, 0), "name")));
}

/* Issue 13 item 1a: machine-name digits another tenant cannot compute
 * (keyed by this installation's secret, not FNV-1a of the pool id), the
 * same across a reconciler restart, different in another installation. */
TEST(machine_names_keyed_per_installation) {
        char n1[64], n2[64], fnv[16];
        setup(NULL);
        ASSERT_EQ(call("PUT", RGP RS, "{\"location\":\"eastus\"}"), 201);
        ASSERT_EQ(call("PUT", MC CS,
                       "{\"location\":\"eastus\",\"properties\":{\"agentPoolProfiles\":[{\"name\":\"nodepool1\","
                       "\"count\":1,\"vmSize\":\"Standard_D4s_v5\",\"mode\":\"System\"}]}}"),
                  201);
        reconcile();
        first_machine(1, n1);
        ASSERT_TRUE(strncmp(n1, "aks-nodepool1-", 14) == 0 && strlen(n1) == 14 + 8 + 11);
        snprintf(fnv, sizeof fnv, "%08u", fnv_digits(AP "/nodepool1"));
        ASSERT_TRUE(strncmp(n1 + 14, fnv, 8) != 0);
        /* a restarted reconciler (same store): the pool's new machine has the same digits */
        cp_reconciler_free(E.rec);
        ASSERT_OK(cp_reconciler_new(E.store, E.rules, E.backend, &E.rec));
        ASSERT_TRUE(call("PUT", AP "/nodepool1" CS,
                         "{\"properties\":{\"count\":2,\"vmSize\":\"Standard_D4s_v5\",\"mode\":\"System\"}}") < 300);
        reconcile();
        ASSERT_EQ(call("GET", AP "/nodepool1/machines" CS, NULL), 200);
        json_t *ms = json_object_get(R.body, "value");
        ASSERT_EQ(json_array_size(ms), 2);
        for (size_t i = 0; i < 2; i++)
                ASSERT_TRUE(strncmp(json_string_value(json_object_get(json_array_get(ms, i), "name")), n1, 14 + 8) == 0);
        teardown();
        /* another installation, the same pool id: other digits (1e-8 chance of equality) */
        setup(NULL);
        ASSERT_EQ(call("PUT", RGP RS, "{\"location\":\"eastus\"}"), 201);
        ASSERT_EQ(call("PUT", MC CS,
                       "{\"location\":\"eastus\",\"properties\":{\"agentPoolProfiles\":[{\"name\":\"nodepool1\","
                       "\"count\":1,\"vmSize\":\"Standard_D4s_v5\",\"mode\":\"System\"}]}}"),
                  201);
        reconcile();
        first_machine(1, n2);
        ASSERT_TRUE(strncmp(n2, n1, 14 + 8) != 0);
        teardown();
}

TEST(cluster_lifecycle) {
        setup(NULL);
        const char *ok = "{\"location\":\"eastus\",\"properties\":{\"agentPoolProfiles\":[{\"name\":\"nodepool1\","
                         "\"count\":1,\"vmSize\":\"Standard_DC4as_v5\",\"mode\":\"System\"}]}}";
        ASSERT_EQ(call("PUT", MC CS, ok), 404);
        ASSERT_STREQ(code(), "ResourceGroupNotFound");
        ASSERT_EQ(call("PUT", RGP RS, "{\"location\":\"eastus\"}"), 201);
        ASSERT_EQ(call("PUT", MC CS, "{\"properties\":{}}"), 400);
        ASSERT_STREQ(code(), "LocationRequired");
        ASSERT_EQ(call("PUT", MC CS, "{\"location\":\"eastus\",\"properties\":{}}"), 400);
        ASSERT_STREQ(code(), "InvalidParameter");
        ASSERT_STREQ(target(), "agentPoolProfiles");
        ASSERT_EQ(call("PUT", MC CS,
                       "{\"location\":\"eastus\",\"properties\":{\"agentPoolProfiles\":[{\"name\":\"a\",\"mode\":\"User\","
                       "\"vmSize\":\"Standard_D4s_v5\"}]}}"),
                  400);
        ASSERT_STREQ(code(), "MustDefineAtLeastOneSystemPool");
        ASSERT_EQ(call("PUT", MC CS,
                       "{\"location\":\"eastus\",\"properties\":{\"kubernetesVersion\":\"1.20\",\"agentPoolProfiles\":[{"
                       "\"name\":\"a\",\"vmSize\":\"Standard_D4s_v5\"}]}}"),
                  400);
        ASSERT_STREQ(code(), "KubernetesVersionNotSupported");
        /* an invalid second profile: nothing of the cluster is stored */
        ASSERT_EQ(call("PUT", MC CS,
                       "{\"location\":\"eastus\",\"properties\":{\"agentPoolProfiles\":[{\"name\":\"sys\",\"mode\":"
                       "\"System\",\"vmSize\":\"Standard_D4s_v5\"},{\"name\":\"cvm\",\"vmSize\":\"Standard_DC4as_v5\","
                       "\"enableFIPS\":true}]}}"),
                  400);
        ASSERT_STREQ(code(), "CVMNotSupportedWithFIPS");
        ASSERT_STREQ(target(), "agentPoolProfiles[1].properties.enableFIPS");
        ASSERT_EQ(call("GET", MC CS, NULL), 404);
        ASSERT_EQ(call("GET", AP "/sys" CS, NULL), 404);
        ASSERT_EQ(call("PUT", RGP "/providers/Microsoft.ContainerService/managedClusters/-bad" CS, ok), 400);
        ASSERT_STREQ(code(), "InvalidResourceName");

        ASSERT_EQ(call("PUT", MC CS, ok), 201);
        ASSERT_STREQ(prop("provisioningState"), "Creating");
        ASSERT_STREQ(json_string_value(json_object_get(R.body, "type")), "Microsoft.ContainerService/ManagedClusters");
        ASSERT_STREQ(prop("currentKubernetesVersion"), "1.33.2");
        char op[512];
        hdr_path("Azure-AsyncOperation", op, sizeof op);
        ASSERT_TRUE(strstr(op, "/providers/Microsoft.ContainerService/locations/eastus/operations/") != NULL);
        /* from the configured base URL, not the request's Host header (issue 13 item 12) */
        ASSERT_TRUE(strncmp(cp_api_reply_header(&R, "Azure-AsyncOperation"), "http://cp.test/", 15) == 0);
        ASSERT_TRUE(!cp_api_reply_header(&R, "Location") ||
                    strncmp(cp_api_reply_header(&R, "Location"), "http://cp.test/", 15) == 0);
        ASSERT_EQ(call("PUT", MC CS, ok), 409); /* create in progress */
        ASSERT_STREQ(code(), "OperationNotAllowed");
        ASSERT_EQ(call("GET", op, NULL), 200);
        ASSERT_STREQ(json_string_value(json_object_get(R.body, "status")), "InProgress");
        reconcile();
        ASSERT_EQ(call("GET", op, NULL), 200);
        ASSERT_STREQ(json_string_value(json_object_get(R.body, "status")), "Succeeded");
        ASSERT_TRUE(json_is_string(json_object_get(R.body, "endTime")));
        ASSERT_EQ(call("GET", MC CS, NULL), 200);
        ASSERT_STREQ(prop("provisioningState"), "Succeeded");
        json_t *profiles = json_object_get(json_object_get(R.body, "properties"), "agentPoolProfiles");
        ASSERT_EQ(json_array_size(profiles), 1);
        ASSERT_STREQ(json_string_value(json_object_get(json_array_get(profiles, 0), "provisioningState")), "Succeeded");
        ASSERT_EQ(call("GET", RGP "/providers/Microsoft.ContainerService/managedClusters" CS, NULL), 200);
        ASSERT_EQ(json_array_size(json_object_get(R.body, "value")), 1);
        ASSERT_EQ(call("GET", "/subscriptions/" SUB "/providers/Microsoft.ContainerService/managedClusters" CS, NULL), 200);
        ASSERT_EQ(json_array_size(json_object_get(R.body, "value")), 1);
        /* updates: no new pools through the cluster, tags and version upgrades ok */
        ASSERT_EQ(call("PUT", MC CS,
                       "{\"location\":\"eastus\",\"properties\":{\"agentPoolProfiles\":[{\"name\":\"nodepool1\"},{\"name\":"
                       "\"extra\"}]}}"),
                  400);
        ASSERT_STREQ(code(), "BadRequest");
        ASSERT_STREQ(target(), "agentPoolProfiles");
        ASSERT_EQ(call("PUT", MC CS, "{\"location\":\"westus\",\"properties\":{}}"), 400);
        ASSERT_STREQ(code(), "PropertyChangeNotAllowed");
        ASSERT_EQ(call("PUT", MC CS, "{\"location\":\"eastus\",\"properties\":{\"kubernetesVersion\":\"1.32\"}}"), 400);
        ASSERT_STREQ(code(), "NotAllowedVersionDowngrade");
        ASSERT_EQ(call("PUT", MC CS, "{\"location\":\"eastus\",\"tags\":{\"env\":\"x\"},\"properties\":{\"kubernetesVersion\":\"1.34\"}}"), 200);
        /* issue 14: the control plane is upgraded by the operation, not by the PUT */
        ASSERT_STREQ(prop("provisioningState"), "Upgrading");
        ASSERT_STREQ(prop("kubernetesVersion"), "1.34");
        ASSERT_STREQ(prop("currentKubernetesVersion"), "1.33.2");
        reconcile();
        ASSERT_EQ(call("GET", MC CS, NULL), 200);
        ASSERT_STREQ(prop("provisioningState"), "Succeeded");
        ASSERT_STREQ(prop("currentKubernetesVersion"), "1.34.1");
        ASSERT_EQ(call("GET", MC "/availableAgentPoolVersions" CS, NULL), 200);
        ASSERT_TRUE(json_array_size(json_object_get(json_object_get(R.body, "properties"), "agentPoolVersions")) >= 5);
        ASSERT_EQ(call("GET", "/subscriptions/" SUB "/providers/Microsoft.ContainerService/locations/eastus/kubernetesVersions" CS, NULL), 200);
        json_t *vals = json_object_get(R.body, "values");
        ASSERT_TRUE(json_array_size(vals) >= 5);
        bool found_default = false;
        size_t i;
        json_t *v;
        json_array_foreach(vals, i, v) if (json_is_true(json_object_get(v, "isDefault"))) found_default =
                strcmp(json_string_value(json_object_get(v, "version")), "1.33") == 0;
        ASSERT_TRUE(found_default);
        /* abort with nothing running */
        ASSERT_EQ(call("POST", MC "/abort" CS, NULL), 409);
        /* delete cascades to the pools */
        ASSERT_EQ(call("DELETE", MC CS, NULL), 202);
        ASSERT_TRUE(cp_api_reply_header(&R, "Location") != NULL);
        ASSERT_TRUE(strncmp(cp_api_reply_header(&R, "Location"), "http://cp.test/", 15) == 0);
        hdr_path("Azure-AsyncOperation", op, sizeof op);
        ASSERT_EQ(call("GET", AP "/nodepool1" CS, NULL), 200);
        ASSERT_STREQ(prop("provisioningState"), "Deleting");
        reconcile();
        ASSERT_EQ(call("GET", op, NULL), 200);
        ASSERT_STREQ(json_string_value(json_object_get(R.body, "status")), "Succeeded");
        ASSERT_EQ(call("GET", MC CS, NULL), 404);
        ASSERT_STREQ(code(), "ResourceNotFound");
        ASSERT_EQ(call("DELETE", MC CS, NULL), 204);
        teardown();
}

TEST(agent_pool_lro_and_etags) {
        setup(NULL);
        base_cluster();
        const char *body = "{\"properties\":{\"count\":3,\"vmSize\":\"Standard_DC4as_v5\",\"mode\":\"User\"}}";
        if_match = "\"nope\"";
        ASSERT_EQ(call("PUT", AP "/cvmnodepool" CS, body), 412); /* If-Match on a missing pool */
        if_match = NULL;
        ASSERT_EQ(call("PUT", AP "/cvmnodepool" CS, body), 201);
        ASSERT_STREQ(prop("provisioningState"), "Creating");
        ASSERT_STREQ(prop("nodeImageVersion"), "AKSUbuntu-2004gen2CVMcontainerd-202511.18.0");
        ASSERT_STREQ(cp_api_reply_header(&R, "Retry-After"), "1");
        char etag[64], op[512], res[512];
        snprintf(etag, sizeof etag, "%s", prop("eTag"));
        ASSERT_TRUE(strstr(cp_api_reply_header(&R, "ETag"), etag) != NULL);
        hdr_path("Azure-AsyncOperation", op, sizeof op);
        snprintf(res, sizeof res, "%s", op);
        char *o = strstr(res, "/operations/");
        memmove(o + 17, o + 11, strlen(o + 11) + 1);
        memcpy(o, "/operationresults", 17);
        ASSERT_EQ(call("PUT", AP "/cvmnodepool" CS, body), 409);
        ASSERT_STREQ(code(), "OperationNotAllowed");
        ASSERT_EQ(call("GET", res, NULL), 202);
        ASSERT_TRUE(cp_api_reply_header(&R, "Location") != NULL);
        reconcile();
        ASSERT_EQ(call("GET", op, NULL), 200);
        ASSERT_STREQ(json_string_value(json_object_get(R.body, "status")), "Succeeded");
        ASSERT_EQ(call("GET", res, NULL), 200);
        ASSERT_STREQ(prop("provisioningState"), "Succeeded");
        ASSERT_EQ(call("GET", AP "/cvmnodepool" CS, NULL), 200);
        ASSERT_STREQ(prop("vmSize"), "Standard_DC4as_v5");
        ASSERT_STREQ(prop("provisioningState"), "Succeeded");
        ASSERT_EQ(call("GET", AP CS, NULL), 200);
        ASSERT_EQ(json_array_size(json_object_get(R.body, "value")), 2);
        /* machines */
        ASSERT_EQ(call("GET", AP "/cvmnodepool/machines" CS, NULL), 200);
        json_t *ms = json_object_get(R.body, "value");
        ASSERT_EQ(json_array_size(ms), 3);
        json_t *m0 = json_array_get(ms, 0);
        ASSERT_STREQ(json_string_value(json_object_get(json_object_get(json_object_get(m0, "properties"), "nodeLabels"),
                                                       "kubernetes.azure.com/security-type")),
                     "ConfidentialVM");
        char mname[128], mpath[512];
        snprintf(mname, sizeof mname, "%s", json_string_value(json_object_get(m0, "name")));
        snprintf(mpath, sizeof mpath, AP "/cvmnodepool/machines/%s" CS, mname);
        ASSERT_EQ(call("GET", mpath, NULL), 200);
        ASSERT_STREQ(json_string_value(json_object_get(R.body, "name")), mname);
        ASSERT_EQ(call("GET", AP "/cvmnodepool/machines/nothere" CS, NULL), 404);
        /* eTags */
        if_none_match = "*";
        ASSERT_EQ(call("PUT", AP "/cvmnodepool" CS, body), 412);
        ASSERT_STREQ(code(), "PreconditionFailed");
        if_none_match = NULL;
        if_match = "\"0000\"";
        ASSERT_EQ(call("PUT", AP "/cvmnodepool" CS, "{\"properties\":{\"count\":4}}"), 412);
        char quoted[80];
        snprintf(quoted, sizeof quoted, "W/\"%s\"", etag);
        if_match = quoted;
        ASSERT_EQ(call("PUT", AP "/cvmnodepool" CS, "{\"properties\":{\"count\":4}}"), 200);
        ASSERT_STREQ(prop("provisioningState"), "Updating");
        ASSERT_TRUE(strcmp(prop("eTag"), etag) != 0);
        ASSERT_TRUE(cp_api_reply_header(&R, "Azure-AsyncOperation") != NULL);
        if_match = NULL;
        reconcile();
        ASSERT_EQ(call("GET", AP "/cvmnodepool/machines" CS, NULL), 200);
        ASSERT_EQ(json_array_size(json_object_get(R.body, "value")), 4);
        /* vmSize change refused */
        ASSERT_EQ(call("PUT", AP "/cvmnodepool" CS, "{\"properties\":{\"vmSize\":\"Standard_D4s_v5\"}}"), 400);
        ASSERT_STREQ(code(), "CVMResizeNotSupported");
        ASSERT_STREQ(target(), "properties.vmSize");
        /* delete: 202 + Location; operationresults 202 then 204 */
        if_match = "\"0000\"";
        ASSERT_EQ(call("DELETE", AP "/cvmnodepool" CS, NULL), 412);
        if_match = NULL;
        ASSERT_EQ(call("DELETE", AP "/cvmnodepool" CS, NULL), 202);
        hdr_path("Location", res, sizeof res);
        ASSERT_TRUE(strstr(res, "/operationresults/") != NULL);
        ASSERT_TRUE(cp_api_reply_header(&R, "Azure-AsyncOperation") != NULL);
        ASSERT_EQ(call("DELETE", AP "/cvmnodepool" CS, NULL), 202); /* idempotent while deleting */
        ASSERT_EQ(call("GET", res, NULL), 202);
        reconcile();
        ASSERT_EQ(call("GET", res, NULL), 204);
        ASSERT_EQ(call("GET", AP "/cvmnodepool" CS, NULL), 404);
        ASSERT_EQ(call("DELETE", AP "/cvmnodepool" CS, NULL), 204);
        ASSERT_EQ(call("GET", AP "/cvmnodepool/machines" CS, NULL), 404);
        /* the last System pool cannot go */
        ASSERT_EQ(call("DELETE", AP "/nodepool1" CS, NULL), 400);
        ASSERT_STREQ(code(), "MustDefineAtLeastOneSystemPool");
        ASSERT_EQ(call("GET", "/subscriptions/" SUB "/providers/Microsoft.ContainerService/locations/eastus/operations/nope" CS, NULL), 404);
        teardown();
}

TEST(abort_upgrade_profile_delete_machines) {
        setup(NULL);
        base_cluster();
        ASSERT_EQ(call("PUT", AP "/np2" CS, "{\"properties\":{\"count\":3,\"vmSize\":\"Standard_D4s_v5\",\"orchestratorVersion\":\"1.31\"}}"), 201);
        char op[512];
        hdr_path("Azure-AsyncOperation", op, sizeof op);
        ASSERT_EQ(call("POST", AP "/np2/abort" CS, NULL), 202);
        ASSERT_TRUE(cp_api_reply_header(&R, "Location") != NULL);
        ASSERT_EQ(call("GET", op, NULL), 200);
        ASSERT_STREQ(json_string_value(json_object_get(R.body, "status")), "Canceled");
        ASSERT_EQ(call("GET", AP "/np2" CS, NULL), 200);
        ASSERT_STREQ(prop("provisioningState"), "Canceled");
        ASSERT_EQ(call("POST", AP "/np2/abort" CS, NULL), 409);
        ASSERT_STREQ(code(), "NoOngoingOperation");
        /* re-PUT drives it to its goal */
        ASSERT_EQ(call("PUT", AP "/np2" CS, "{\"properties\":{}}"), 200);
        reconcile();
        ASSERT_EQ(call("GET", AP "/np2" CS, NULL), 200);
        ASSERT_STREQ(prop("provisioningState"), "Succeeded");
        ASSERT_STREQ(prop("currentOrchestratorVersion"), "1.31.10");
        /* upgrade profile: newer versions up to the control plane's */
        ASSERT_EQ(call("GET", AP "/np2/upgradeProfiles/default" CS, NULL), 200);
        json_t *ups = json_object_get(json_object_get(R.body, "properties"), "upgrades");
        ASSERT_EQ(json_array_size(ups), 2);
        ASSERT_STREQ(json_string_value(json_object_get(json_array_get(ups, 0), "kubernetesVersion")), "1.32.6");
        ASSERT_STREQ(prop("latestNodeImageVersion"), "AKSUbuntu-2204gen2containerd-202511.18.0");
        /* node image upgrade: nothing newer -> 200; an older image -> 202 and the nodes are replaced */
        ASSERT_EQ(call("POST", AP "/np2/upgradeNodeImageVersion" CS, NULL), 200);
        json_t *doc = NULL;
        char id[512];
        snprintf(id, sizeof id, "%s", AP "/np2");
        ASSERT_OK(cp_res_get(E.store, id, &doc, NULL));
        json_object_set_new(json_object_get(doc, "properties"), "nodeImageVersion",
                            json_string("AKSUbuntu-2204gen2containerd-202501.01.0"));
        ASSERT_OK(cp_res_update(E.store, id, doc, NULL));
        json_decref(doc);
        ASSERT_EQ(call("POST", AP "/np2/upgradeNodeImageVersion" CS, NULL), 202);
        ASSERT_STREQ(prop("provisioningState"), "UpgradingNodeImageVersion");
        ASSERT_STREQ(prop("nodeImageVersion"), "AKSUbuntu-2204gen2containerd-202511.18.0");
        ASSERT_EQ(call("POST", AP "/np2/upgradeNodeImageVersion" CS, NULL), 409);
        reconcile();
        ASSERT_EQ(call("GET", AP "/np2/machines" CS, NULL), 200);
        json_t *ms = json_object_get(R.body, "value");
        ASSERT_EQ(json_array_size(ms), 3);
        ASSERT_STREQ(json_string_value(json_object_get(json_object_get(json_array_get(ms, 2), "properties"), "nodeImageVersion")),
                     "AKSUbuntu-2204gen2containerd-202511.18.0");
        /* deleteMachines */
        char body[256];
        snprintf(body, sizeof body, "{\"machineNames\":[\"%s\"]}", json_string_value(json_object_get(json_array_get(ms, 0), "name")));
        ASSERT_EQ(call("POST", AP "/np2/deleteMachines" CS, "{\"machineNames\":[\"nothere\"]}"), 400);
        ASSERT_EQ(call("POST", AP "/np2/deleteMachines" CS, "{}"), 400);
        ASSERT_EQ(call("POST", AP "/np2/deleteMachines" CS, body), 202);
        ASSERT_TRUE(cp_api_reply_header(&R, "Location") != NULL);
        reconcile();
        ASSERT_EQ(call("GET", AP "/np2" CS, NULL), 200);
        ASSERT_EQ(json_integer_value(json_object_get(json_object_get(R.body, "properties"), "count")), 2);
        ASSERT_EQ(call("GET", AP "/np2/machines" CS, NULL), 200);
        ASSERT_EQ(json_array_size(json_object_get(R.body, "value")), 2);
        teardown();
}

TEST(features_providers_gating) {
        setup(NULL);
        base_cluster();
        const char *al = "{\"properties\":{\"count\":1,\"vmSize\":\"Standard_DC4as_v5\",\"osSKU\":\"AzureLinux\"}}";
        ASSERT_EQ(call("PUT", AP "/alcvm" CS, al), 400);
        ASSERT_STREQ(code(), "PreviewFeatureNotRegistered");
        ASSERT_TRUE(strstr(json_string_value(json_object_get(json_object_get(R.body, "error"), "message")),
                           "Microsoft.ContainerService/AzureLinuxCVMPreview not registered") != NULL);
        const char *f = "/subscriptions/" SUB "/providers/Microsoft.Features/providers/Microsoft.ContainerService/features/AzureLinuxCVMPreview";
        char url[512];
        snprintf(url, sizeof url, "%s" FS, f);
        ASSERT_EQ(call("GET", url, NULL), 200);
        ASSERT_STREQ(prop("state"), "NotRegistered");
        ASSERT_STREQ(json_string_value(json_object_get(R.body, "name")), "Microsoft.ContainerService/AzureLinuxCVMPreview");
        ASSERT_STREQ(json_string_value(json_object_get(R.body, "type")), "Microsoft.Features/providers/features");
        snprintf(url, sizeof url, "%s/register" FS, f);
        ASSERT_EQ(call("POST", url, NULL), 200);
        ASSERT_STREQ(prop("state"), "Registering");
        snprintf(url, sizeof url, "%s" FS, f);
        ASSERT_EQ(call("GET", url, NULL), 200);
        ASSERT_STREQ(prop("state"), "Registered");
        /* derived, not written: a GET (a read transaction, no write lock on
         * PostgreSQL) once wrote it and could overwrite another replica's
         * unregister committed between its read and its write */
        char stored[32];
        int64_t changed = 0;
        ASSERT_OK(cp_feature_get(E.store, SUB, "Microsoft.ContainerService", "AzureLinuxCVMPreview", stored, &changed));
        ASSERT_STREQ(stored, "Registering");
        ASSERT_EQ(call("PUT", AP "/alcvm" CS, al), 201);
        ASSERT_STREQ(prop("nodeImageVersion"), "AKSAzureLinux-V3gen2CVM-202511.18.0");
        snprintf(url, sizeof url, "%s/unregister" FS, f);
        ASSERT_EQ(call("POST", url, NULL), 200);
        ASSERT_STREQ(prop("state"), "Unregistering");
        ASSERT_EQ(call("GET", "/subscriptions/" SUB "/providers/Microsoft.Features/features" FS, NULL), 200);
        ASSERT_TRUE(json_array_size(json_object_get(R.body, "value")) >= 3);
        ASSERT_EQ(call("GET", "/subscriptions/" SUB "/providers/Microsoft.Features/providers/Microsoft.ContainerService/features" FS, NULL), 200);
        ASSERT_TRUE(json_array_size(json_object_get(R.body, "value")) >= 3);
        ASSERT_EQ(call("GET", "/subscriptions/" SUB "/providers/Microsoft.Features/providers/Microsoft.ContainerService/features/Nope" FS, NULL), 404);
        ASSERT_STREQ(code(), "FeatureNotFound");
        /* per-request feature header (aks-preview --aks-custom-headers) */
        custom_features = "Microsoft.ContainerService/ConfidentialTDXPreview";
        ASSERT_EQ(call("PUT", AP "/tdx" CS, "{\"properties\":{\"count\":1,\"vmSize\":\"Standard_DC4es_v5\"}}"), 201);
        custom_features = NULL;
        ASSERT_EQ(call("PUT", AP "/tdx2" CS, "{\"properties\":{\"count\":1,\"vmSize\":\"Standard_DC4es_v5\"}}"), 400);
        ASSERT_STREQ(code(), "PreviewFeatureNotRegistered");
        /* providers */
        ASSERT_EQ(call("GET", "/subscriptions/" SUB "/providers/Microsoft.ContainerService" RS, NULL), 200);
        ASSERT_STREQ(json_string_value(json_object_get(R.body, "registrationState")), "NotRegistered");
        ASSERT_EQ(call("POST", "/subscriptions/" SUB "/providers/Microsoft.ContainerService/register" RS, NULL), 200);
        ASSERT_EQ(call("GET", "/subscriptions/" SUB "/providers/microsoft.containerservice" RS, NULL), 200);
        ASSERT_STREQ(json_string_value(json_object_get(R.body, "registrationState")), "Registered");
        ASSERT_STREQ(json_string_value(json_object_get(R.body, "namespace")), "Microsoft.ContainerService");
        ASSERT_EQ(call("GET", "/subscriptions/" SUB "/providers/Microsoft.Nope" RS, NULL), 404);
        ASSERT_STREQ(code(), "InvalidResourceNamespace");
        ASSERT_EQ(call("POST", "/subscriptions/" SUB "/providers/Microsoft.ContainerService/unregister" RS, NULL), 200);
        ASSERT_STREQ(json_string_value(json_object_get(R.body, "registrationState")), "Unregistered");
        ASSERT_EQ(call("GET", "/subscriptions/" SUB "/providers/Microsoft.Features" RS, NULL), 200);
        ASSERT_STREQ(json_string_value(json_object_get(R.body, "registrationState")), "Registered");
        teardown();
}

TEST(cluster_abort) {
        setup(NULL);
        ASSERT_EQ(call("PUT", RGP RS, "{\"location\":\"eastus\"}"), 201);
        ASSERT_EQ(call("PUT", MC CS,
                       "{\"location\":\"eastus\",\"properties\":{\"agentPoolProfiles\":[{\"name\":\"nodepool1\","
                       "\"count\":2,\"vmSize\":\"Standard_D4s_v5\"}]}}"),
                  201);
        char op[512];
        hdr_path("Azure-AsyncOperation", op, sizeof op);
        ASSERT_EQ(call("POST", MC "/abort" CS, NULL), 202);
        ASSERT_TRUE(cp_api_reply_header(&R, "Location") != NULL);
        ASSERT_EQ(call("GET", op, NULL), 200);
        ASSERT_STREQ(json_string_value(json_object_get(R.body, "status")), "Canceled");
        ASSERT_STREQ(json_string_value(json_object_get(json_object_get(R.body, "error"), "code")), "OperationCanceled");
        ASSERT_EQ(call("GET", AP "/nodepool1" CS, NULL), 200);
        ASSERT_STREQ(prop("provisioningState"), "Canceled");
        ASSERT_STREQ(prop("mode"), "System"); /* the only profile defaults to System */
        ASSERT_EQ(call("GET", MC CS, NULL), 200);
        ASSERT_STREQ(prop("provisioningState"), "Canceled");
        reconcile(); /* nothing left to drive */
        size_t active = 1;
        ASSERT_OK(cp_reconciler_run_once(E.rec, &active));
        ASSERT_EQ(active, 0);
        ASSERT_EQ(call("POST", MC "/abort" CS, NULL), 409);
        /* a re-PUT of the pool drives it to its goal */
        ASSERT_EQ(call("PUT", AP "/nodepool1" CS, "{\"properties\":{}}"), 200);
        reconcile();
        ASSERT_EQ(call("GET", AP "/nodepool1/machines" CS, NULL), 200);
        ASSERT_EQ(json_array_size(json_object_get(R.body, "value")), 2);
        teardown();
}

TEST(failures_quota_and_group_delete) {
        setup("{\"fakeBackend\":{\"readyDelayMs\":0,\"failSizes\":[\"Standard_DC8as_v5\"]},\"vcpuQuota\":{\"eastus\":24}}");
        base_cluster(); /* 4 vCPUs */
        ASSERT_EQ(call("PUT", AP "/big" CS, "{\"properties\":{\"count\":6,\"vmSize\":\"Standard_DC4as_v5\"}}"), 400);
        ASSERT_STREQ(code(), "ErrCode_InsufficientVCPUQuota");
        ASSERT_EQ(call("PUT", AP "/bad" CS, "{\"properties\":{\"count\":2,\"vmSize\":\"Standard_DC8as_v5\"}}"), 201);
        char op[512];
        hdr_path("Azure-AsyncOperation", op, sizeof op);
        reconcile();
        ASSERT_EQ(call("GET", op, NULL), 200);
        ASSERT_STREQ(json_string_value(json_object_get(R.body, "status")), "Failed");
        ASSERT_STREQ(json_string_value(json_object_get(json_object_get(R.body, "error"), "code")), "NodeProvisioningFailed");
        char res[512];
        snprintf(res, sizeof res, "%s", op);
        char *o = strstr(res, "/operations/");
        memmove(o + 17, o + 11, strlen(o + 11) + 1);
        memcpy(o, "/operationresults", 17);
        ASSERT_EQ(call("GET", res, NULL), 500);
        ASSERT_STREQ(code(), "NodeProvisioningFailed");
        ASSERT_EQ(call("GET", AP "/bad" CS, NULL), 200);
        ASSERT_STREQ(prop("provisioningState"), "Failed");
        ASSERT_STREQ(json_string_value(json_object_get(json_object_get(json_object_get(json_object_get(R.body, "properties"),
                                                                                       "status"),
                                                                       "provisioningError"),
                                                       "code")),
                     "NodeProvisioningFailed");
        /* deleting the group removes the cluster and its pools */
        ASSERT_EQ(call("DELETE", RGP RS, NULL), 202);
        char loc[512];
        hdr_path("Location", loc, sizeof loc);
        ASSERT_TRUE(strstr(loc, "/subscriptions/" SUB "/operationresults/") != NULL);
        ASSERT_EQ(call("PUT", MC CS, "{\"location\":\"eastus\",\"properties\":{}}"), 409);
        reconcile();
        reconcile();
        ASSERT_EQ(call("GET", loc, NULL), 204);
        ASSERT_EQ(call("GET", RGP RS, NULL), 404);
        ASSERT_EQ(call("GET", MC CS, NULL), 404);
        teardown();
}

/* Issue 13 item 11: a pool Failed by a dependency outage (the backend
 * cannot provision while it is down) is retried by a PUT of the same body:
 * a new operation replaces the failed nodes and succeeds once the
 * dependency is back (before: it found the same failed nodes and failed at
 * once with their stale error). */
static bool dependency_down;
static bool fail_while_down(void *userdata, const char *vm_size) {
        (void) userdata;
        (void) vm_size;
        return dependency_down;
}

TEST(failed_pool_retried_by_same_put) {
        setup(NULL);
        cp_reconciler_free(E.rec);
        cp_backend_free(E.backend);
        ASSERT_OK(cp_backend_fake_new(0, fail_while_down, NULL, &E.backend));
        ASSERT_OK(cp_reconciler_new(E.store, E.rules, E.backend, &E.rec));
        base_cluster();
        const char *body = "{\"properties\":{\"count\":2,\"vmSize\":\"Standard_DC4as_v5\"}}";
        dependency_down = true;
        ASSERT_EQ(call("PUT", AP "/retry" CS, body), 201);
        reconcile();
        ASSERT_EQ(call("GET", AP "/retry" CS, NULL), 200);
        ASSERT_STREQ(prop("provisioningState"), "Failed");
        /* still down: the re-PUT starts a new operation, which fails again */
        ASSERT_EQ(call("PUT", AP "/retry" CS, body), 200);
        reconcile();
        ASSERT_EQ(call("GET", AP "/retry" CS, NULL), 200);
        ASSERT_STREQ(prop("provisioningState"), "Failed");
        /* the dependency is back: the same PUT retries and succeeds */
        dependency_down = false;
        ASSERT_EQ(call("PUT", AP "/retry" CS, body), 200);
        char op[512];
        hdr_path("Azure-AsyncOperation", op, sizeof op);
        reconcile();
        ASSERT_EQ(call("GET", op, NULL), 200);
        ASSERT_STREQ(json_string_value(json_object_get(R.body, "status")), "Succeeded");
        ASSERT_EQ(call("GET", AP "/retry" CS, NULL), 200);
        ASSERT_STREQ(prop("provisioningState"), "Succeeded");
        json_t *pool = NULL;
        ASSERT_OK(cp_res_get(E.store, AP "/retry", &pool, NULL));
        cp_machine *ms = NULL;
        size_t n = 0;
        ASSERT_OK(cp_machine_list(E.store, json_string_value(json_object_get(pool, "id")), &ms, &n));
        ASSERT_EQ(n, 2);
        for (size_t i = 0; i < n; i++)
                ASSERT_STREQ(ms[i].state, "Ready");
        free(ms);
        json_decref(pool);
        teardown();
}

/* The same for a cluster: a cluster created while the dependency is down
 * is Failed (its pool failed); a PUT of the same body retries its Failed
 * pool and the cluster succeeds. */
TEST(failed_cluster_retried_by_same_put) {
        setup(NULL);
        cp_reconciler_free(E.rec);
        cp_backend_free(E.backend);
        ASSERT_OK(cp_backend_fake_new(0, fail_while_down, NULL, &E.backend));
        ASSERT_OK(cp_reconciler_new(E.store, E.rules, E.backend, &E.rec));
        ASSERT_EQ(call("PUT", RGP RS, "{\"location\":\"eastus\"}"), 201);
        const char *body = "{\"location\":\"East US\",\"properties\":{\"agentPoolProfiles\":[{\"name\":\"nodepool1\","
                           "\"count\":2,\"vmSize\":\"Standard_DC4as_v5\",\"mode\":\"System\"}]}}";
        dependency_down = true;
        ASSERT_EQ(call("PUT", MC CS, body), 201);
        reconcile();
        ASSERT_EQ(call("GET", MC CS, NULL), 200);
        ASSERT_STREQ(prop("provisioningState"), "Failed");
        dependency_down = false;
        ASSERT_EQ(call("PUT", MC CS, body), 200);
        char op[512];
        hdr_path("Azure-AsyncOperation", op, sizeof op);
        reconcile();
        ASSERT_EQ(call("GET", op, NULL), 200);
        ASSERT_STREQ(json_string_value(json_object_get(R.body, "status")), "Succeeded");
        ASSERT_EQ(call("GET", MC CS, NULL), 200);
        ASSERT_STREQ(prop("provisioningState"), "Succeeded");
        ASSERT_EQ(call("GET", AP "/nodepool1" CS, NULL), 200);
        ASSERT_STREQ(prop("provisioningState"), "Succeeded");
        teardown();
}

/* ---- over HTTP: request targets that libmicrohttpd would have truncated --- */


#include "raw-http.h"
#include "service/httpd.h"

/* A %00 after a resource group's name ended the C string the router saw:
 * DELETE .../resourceGroups/victimrg%00/providers/x deleted the whole
 * group.  Over HTTP, through the handler confpoold serves, such targets are
 * 400 and the group (and its cluster) are still there. */
TEST(nul_in_path_deletes_nothing_over_http) {
        setup(NULL);
        base_cluster();
        cp_httpd *d = NULL;
        cp_httpd_options ho = {.threads = 2};
        ASSERT_OK(cp_httpd_start(&ho, cp_api_handle, E.api, &d));
        char hdrs[256];
        snprintf(hdrs, sizeof hdrs, "Authorization: %s\r\n", E.auth);
        static const char *const targets[] = {
                RGP "%00/providers/x" RS,
                RGP "%00" RS,
                RGP "/providers/x/%2e%2e/%2e%2e" RS,
                RGP "/providers/x/../.." RS,
                RGP "%2Fx" RS,
                "/subscriptions/" SUB "//resourceGroups/myResourceGroup" RS,
                RGP "?api-version=2021-04-01%00x",
                MC "%00" CS,
        };
        for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
                char out[2048];
                unsigned s = cp_raw_http(cp_httpd_port(d), "DELETE", targets[i], strlen(targets[i]), hdrs, NULL, out,
                                         sizeof out);
                if (s != 400)
                        cp_test_fail(__FILE__, __LINE__, "DELETE %s: %u %s", targets[i], s, out);
        }
        /* the same group, well-formed, is still served over HTTP */
        char out[4096];
        ASSERT_EQ(cp_raw_http(cp_httpd_port(d), "GET", RGP RS, strlen(RGP RS), hdrs, NULL, out, sizeof out), 200);
        cp_httpd_stop(d);
        ASSERT_EQ(call("GET", RGP RS, NULL), 200);
        ASSERT_STREQ(prop("provisioningState"), "Succeeded");
        ASSERT_EQ(call("GET", MC CS, NULL), 200);
        ASSERT_STREQ(prop("provisioningState"), "Succeeded");
        teardown();
}

/* ---- issue 14: upgrades, addons, rotate-certs, run-command ---------------- */

/* The machines of pool: names and the Kubernetes version each was built with. */
static size_t pool_machines(const char *pool, char names[][64], char versions[][24], size_t max) {
        char url[512];
        snprintf(url, sizeof url, AP "/%s/machines" CS, pool);
        ASSERT_EQ(call("GET", url, NULL), 200);
        json_t *v = json_object_get(R.body, "value");
        ASSERT_TRUE(json_array_size(v) <= max);
        for (size_t i = 0; i < json_array_size(v); i++) {
                json_t *m = json_array_get(v, i);
                const char *ver = json_string_value(
                        json_object_get(json_object_get(json_object_get(m, "properties"), "kubernetes"),
                                        "orchestratorVersion"));
                ASSERT_TRUE(ver != NULL);
                snprintf(names[i], 64, "%s", json_string_value(json_object_get(m, "name")));
                snprintf(versions[i], 24, "%s", ver);
        }
        return json_array_size(v);
}

/* A Kubernetes upgrade through the cluster PUT (what az aks upgrade sends):
 * the control plane first (one pass), then the pools, whose machines are
 * replaced by ones built with the new version; no minor version skipped. */
TEST(kubernetes_upgrade_control_plane_then_pools) {
        setup(NULL);
        base_cluster();
        char names[8][64], vers[8][24], before[8][64];
        ASSERT_EQ(pool_machines("nodepool1", before, vers, 8), 1);
        ASSERT_STREQ(vers[0], "1.33.2");
        /* an old pool (two minors behind is allowed), then a skip refused */
        ASSERT_EQ(call("PUT", AP "/old" CS,
                       "{\"properties\":{\"count\":1,\"vmSize\":\"Standard_D4s_v5\",\"mode\":\"User\","
                       "\"orchestratorVersion\":\"1.31.10\"}}"),
                  201);
        reconcile();
        ASSERT_EQ(call("PUT", AP "/old" CS,
                       "{\"properties\":{\"count\":1,\"vmSize\":\"Standard_D4s_v5\",\"mode\":\"User\","
                       "\"orchestratorVersion\":\"1.33.2\"}}"),
                  400);
        ASSERT_STREQ(code(), "UpgradeVersionSkipNotAllowed");
        ASSERT_STREQ(target(), "properties.orchestratorVersion");
        /* a pool may not pass the control plane */
        ASSERT_EQ(call("PUT", AP "/old" CS,
                       "{\"properties\":{\"count\":1,\"vmSize\":\"Standard_D4s_v5\",\"mode\":\"User\","
                       "\"orchestratorVersion\":\"1.34.1\"}}"),
                  400);
        ASSERT_STREQ(code(), "AgentPoolK8sVersionNotSupported");
        /* nodepool upgrade -k: one pool, its machine replaced */
        ASSERT_EQ(call("PUT", AP "/old" CS,
                       "{\"properties\":{\"count\":1,\"vmSize\":\"Standard_D4s_v5\",\"mode\":\"User\","
                       "\"orchestratorVersion\":\"1.32.6\"}}"),
                  200);
        ASSERT_STREQ(prop("provisioningState"), "Upgrading");
        char old_names[8][64];
        reconcile();
        ASSERT_EQ(pool_machines("old", old_names, vers, 8), 1);
        ASSERT_STREQ(vers[0], "1.32.6");

        /* az aks upgrade -k 1.34.1: the cluster and every pool's orchestratorVersion */
        ASSERT_EQ(call("PUT", MC CS,
                       "{\"location\":\"eastus\",\"properties\":{\"kubernetesVersion\":\"1.34.1\",\"agentPoolProfiles\":["
                       "{\"name\":\"nodepool1\",\"count\":1,\"orchestratorVersion\":\"1.34.1\"},"
                       "{\"name\":\"old\",\"count\":1,\"orchestratorVersion\":\"1.33.2\"}]}}"),
                  200);
        ASSERT_STREQ(prop("provisioningState"), "Upgrading");
        ASSERT_STREQ(prop("currentKubernetesVersion"), "1.33.2");
        ASSERT_EQ(call("PUT", MC CS, "{\"location\":\"eastus\",\"properties\":{}}"), 409); /* one at a time */
        size_t active = 0;
        ASSERT_OK(cp_reconciler_run_once(E.rec, &active));
        /* the first pass upgraded the control plane only: no machine on 1.34.1 yet */
        ASSERT_EQ(call("GET", MC CS, NULL), 200);
        ASSERT_STREQ(prop("currentKubernetesVersion"), "1.34.1");
        ASSERT_STREQ(prop("provisioningState"), "Upgrading");
        size_t n = pool_machines("nodepool1", names, vers, 8);
        for (size_t i = 0; i < n; i++)
                ASSERT_STREQ(vers[i], "1.33.2");
        reconcile();
        ASSERT_EQ(call("GET", MC CS, NULL), 200);
        ASSERT_STREQ(prop("provisioningState"), "Succeeded");
        ASSERT_EQ(pool_machines("nodepool1", names, vers, 8), 1);
        ASSERT_STREQ(vers[0], "1.34.1");
        ASSERT_TRUE(strcmp(names[0], before[0]) != 0); /* a new machine replaced the old one */
        ASSERT_EQ(pool_machines("old", names, vers, 8), 1);
        ASSERT_STREQ(vers[0], "1.33.2");
        ASSERT_TRUE(strcmp(names[0], old_names[0]) != 0);
        ASSERT_EQ(call("GET", AP "/nodepool1" CS, NULL), 200);
        ASSERT_STREQ(prop("currentOrchestratorVersion"), "1.34.1");
        ASSERT_STREQ(prop("provisioningState"), "Succeeded");
        /* a scale afterwards does not roll the pool again */
        ASSERT_EQ(call("PUT", AP "/old" CS,
                       "{\"properties\":{\"count\":2,\"vmSize\":\"Standard_D4s_v5\",\"mode\":\"User\","
                       "\"orchestratorVersion\":\"1.33.2\"}}"),
                  200);
        ASSERT_STREQ(prop("provisioningState"), "Updating");
        reconcile();
        char after[8][64];
        ASSERT_EQ(pool_machines("old", after, vers, 8), 2);
        ASSERT_TRUE(strcmp(after[0], names[0]) == 0 || strcmp(after[1], names[0]) == 0);
        teardown();
}

static const char *addon_str(const char *addon, const char *a, const char *b) {
        json_t *p = json_object_get(json_object_get(json_object_get(R.body, "properties"), "addonProfiles"), addon);
        json_t *v = json_object_get(p, a);
        return json_string_value(b ? json_object_get(v, b) : v);
}

static bool addon_enabled(const char *addon) {
        return json_is_true(json_object_get(
                json_object_get(json_object_get(json_object_get(R.body, "properties"), "addonProfiles"), addon),
                "enabled"));
}

/* az aks enable-addons / disable-addons: a cluster PUT with addonProfiles */
TEST(addon_profiles_stored_and_refused) {
        setup(NULL);
        ASSERT_EQ(call("PUT", RGP RS, "{\"location\":\"eastus\"}"), 201);
        /* create: an unknown add-on refuses the cluster, nothing stored */
        ASSERT_EQ(call("PUT", MC CS,
                       "{\"location\":\"eastus\",\"properties\":{\"addonProfiles\":{\"kubeFooBar\":{\"enabled\":true}},"
                       "\"agentPoolProfiles\":[{\"name\":\"nodepool1\",\"count\":1,\"vmSize\":\"Standard_DC4as_v5\","
                       "\"mode\":\"System\"}]}}"),
                  400);
        ASSERT_STREQ(code(), "InvalidParameter");
        ASSERT_STREQ(target(), "properties.addonProfiles");
        const char *msg = json_string_value(json_object_get(json_object_get(R.body, "error"), "message"));
        ASSERT_TRUE(msg && strstr(msg, "'kubeFooBar' is not an add-on"));
        ASSERT_EQ(call("GET", MC CS, NULL), 404);
        ASSERT_EQ(call("GET", AP "/nodepool1" CS, NULL), 404);
        /* create keeps the known ones (az aks create -a confcom) */
        ASSERT_EQ(call("PUT", MC CS,
                       "{\"location\":\"eastus\",\"properties\":{\"addonProfiles\":{\"ACCSGXDevicePlugin\":{"
                       "\"enabled\":true,\"config\":{\"ACCSGXQuoteHelperEnabled\":\"false\"}}},"
                       "\"agentPoolProfiles\":[{\"name\":\"nodepool1\",\"count\":1,\"vmSize\":\"Standard_DC4as_v5\","
                       "\"mode\":\"System\"}]}}"),
                  201);
        reconcile();
        ASSERT_EQ(call("GET", MC CS, NULL), 200);
        ASSERT_TRUE(addon_enabled("ACCSGXDevicePlugin"));
        ASSERT_STREQ(addon_str("ACCSGXDevicePlugin", "config", "ACCSGXQuoteHelperEnabled"), "false");
        /* enable-addons -a azure-keyvault-secrets-provider: AKS adds the add-on's identity */
        ASSERT_EQ(call("PUT", MC CS,
                       "{\"location\":\"eastus\",\"properties\":{\"addonProfiles\":{\"ACCSGXDevicePlugin\":{"
                       "\"enabled\":true,\"config\":{\"ACCSGXQuoteHelperEnabled\":\"false\"}},"
                       "\"azureKeyvaultSecretsProvider\":{\"enabled\":true,\"config\":{\"enableSecretRotation\":"
                       "\"true\",\"rotationPollInterval\":\"2m\"}}}}}"),
                  200);
        reconcile();
        ASSERT_EQ(call("GET", MC CS, NULL), 200);
        ASSERT_TRUE(addon_enabled("azureKeyvaultSecretsProvider"));
        ASSERT_STREQ(addon_str("azureKeyvaultSecretsProvider", "config", "rotationPollInterval"), "2m");
        const char *rid = addon_str("azureKeyvaultSecretsProvider", "identity", "resourceId");
        ASSERT_TRUE(rid && strstr(rid, "/resourcegroups/MC_myResourceGroup_myAKSCluster_eastus/") &&
                    strstr(rid, "userAssignedIdentities/azurekeyvaultsecretsprovider-myAKSCluster"));
        char client[64];
        snprintf(client, sizeof client, "%s", addon_str("azureKeyvaultSecretsProvider", "identity", "clientId"));
        /* another PUT with the add-on still enabled keeps its identity */
        ASSERT_EQ(call("PUT", MC CS,
                       "{\"location\":\"eastus\",\"properties\":{\"addonProfiles\":{"
                       "\"azureKeyvaultSecretsProvider\":{\"enabled\":true}}}}"),
                  200);
        reconcile();
        ASSERT_EQ(call("GET", MC CS, NULL), 200);
        ASSERT_STREQ(addon_str("azureKeyvaultSecretsProvider", "identity", "clientId"), client);
        ASSERT_TRUE(json_is_null(json_object_get(json_object_get(json_object_get(json_object_get(R.body,
                "properties"), "addonProfiles"), "azureKeyvaultSecretsProvider"), "config")));
        /* disable-addons: enabled false, no identity */
        ASSERT_EQ(call("PUT", MC CS,
                       "{\"location\":\"eastus\",\"properties\":{\"addonProfiles\":{"
                       "\"azureKeyvaultSecretsProvider\":{\"enabled\":false}}}}"),
                  200);
        reconcile();
        ASSERT_EQ(call("GET", MC CS, NULL), 200);
        ASSERT_FALSE(addon_enabled("azureKeyvaultSecretsProvider"));
        ASSERT_TRUE(addon_str("azureKeyvaultSecretsProvider", "identity", "resourceId") == NULL);
        /* refused: unknown add-on, enabled not a boolean, config not strings; nothing changed */
        static const char *const bad[] = {"{\"kubeFooBar\":{\"enabled\":false}}", "{\"omsagent\":{\"enabled\":\"yes\"}}",
                                          "{\"omsagent\":{\"enabled\":true,\"config\":{\"a\":1}}}", "[]"};
        for (size_t i = 0; i < CP_ELEMENTSOF(bad); i++) {
                char body[300];
                snprintf(body, sizeof body, "{\"location\":\"eastus\",\"properties\":{\"addonProfiles\":%s}}", bad[i]);
                ASSERT_EQ(call("PUT", MC CS, body), 400);
                ASSERT_STREQ(code(), "InvalidParameter");
                ASSERT_STREQ(target(), "properties.addonProfiles");
        }
        ASSERT_EQ(call("GET", MC CS, NULL), 200);
        ASSERT_STREQ(prop("provisioningState"), "Succeeded");
        ASSERT_TRUE(json_object_get(json_object_get(json_object_get(R.body, "properties"), "addonProfiles"),
                                    "omsagent") == NULL);
        teardown();
}

/* The bearer token of a kubeconfig from listCluster{User,Admin}Credential. */
static void kube_token(const char *which, char out[80]) {
        char url[512];
        snprintf(url, sizeof url, MC "/listCluster%sCredential" CS, which);
        ASSERT_EQ(call("POST", url, NULL), 200);
        const char *b64 = json_string_value(json_object_get(json_array_get(json_object_get(R.body, "kubeconfigs"), 0),
                                                            "value"));
        ASSERT_TRUE(b64 != NULL);
        size_t len = 0;
        uint8_t kc[8192];
        ASSERT_OK(cp_b64_decode(b64, strlen(b64), CP_B64_STD, kc, sizeof kc - 1, &len));
        kc[len] = 0;
        const char *t = strstr((const char *) kc, "    token: ");
        ASSERT_TRUE(t != NULL);
        snprintf(out, 80, "%.*s", (int) strcspn(t + 11, "\n"), t + 11);
        ASSERT_EQ(strlen(out), 64);
}

/* az aks rotate-certs: an LRO after which the kubeconfigs fetched before
 * carry tokens that are no longer the cluster's; its pools untouched. */
TEST(rotate_certs_changes_credentials) {
        setup(NULL);
        base_cluster();
        char user1[80], admin1[80], user2[80], admin2[80], again[80], names[8][64], vers[8][24], after[8][64];
        kube_token("User", user1);
        kube_token("Admin", admin1);
        kube_token("User", again);
        ASSERT_STREQ(again, user1); /* stable until rotated */
        ASSERT_EQ(pool_machines("nodepool1", names, vers, 8), 1);
        ASSERT_EQ(call("POST", MC "/rotateClusterCertificates" CS, NULL), 202);
        char op[512];
        hdr_path("Azure-AsyncOperation", op, sizeof op);
        ASSERT_EQ(call("POST", MC "/rotateClusterCertificates" CS, NULL), 409); /* one at a time */
        reconcile();
        ASSERT_EQ(call("GET", op, NULL), 200);
        ASSERT_STREQ(json_string_value(json_object_get(R.body, "status")), "Succeeded");
        ASSERT_EQ(call("GET", MC CS, NULL), 200);
        ASSERT_STREQ(prop("provisioningState"), "Succeeded");
        ASSERT_TRUE(json_object_get(R.body, "confpoolInternal") == NULL); /* the salt is not shown */
        kube_token("User", user2);
        kube_token("Admin", admin2);
        ASSERT_TRUE(strcmp(user1, user2) != 0 && strcmp(admin1, admin2) != 0 && strcmp(user2, admin2) != 0);
        ASSERT_EQ(pool_machines("nodepool1", after, vers, 8), 1);
        ASSERT_STREQ(after[0], names[0]); /* nodes keep running */
        /* the cluster's Kubernetes API takes the new tokens and refuses the
         * ones from before the rotation */
        char k8s[200], bearer[100];
        ASSERT_EQ(call("GET", MC CS, NULL), 200);
        snprintf(k8s, sizeof k8s, "/k8s/%s/api/v1/nodes", prop("resourceUID"));
        const char *const tokens[] = {user1, admin1, user2, admin2};
        for (size_t i = 0; i < 4; i++) {
                snprintf(bearer, sizeof bearer, "Bearer %s", tokens[i]);
                ASSERT_EQ(call_auth(bearer, "GET", k8s, NULL), i < 2 ? 401 : 200);
        }
        ASSERT_EQ(call("POST", RGP "/providers/Microsoft.ContainerService/managedClusters/nope/rotateClusterCertificates" CS,
                       NULL),
                  404);
        teardown();
}

/* az aks command invoke / result: refused, naming why (no pods to run it in) */
TEST(run_command_refused) {
        setup(NULL);
        base_cluster();
        ASSERT_EQ(call("POST", MC "/runCommand" CS, "{\"command\":\"kubectl get pods\"}"), 400);
        ASSERT_STREQ(code(), "OperationNotSupported");
        const char *msg = json_string_value(json_object_get(json_object_get(R.body, "error"), "message"));
        ASSERT_TRUE(msg && strstr(msg, "runs no pods"));
        ASSERT_EQ(call("GET", MC "/commandResults/0123abcd" CS, NULL), 404);
        ASSERT_EQ(call("POST", RGP "/providers/Microsoft.ContainerService/managedClusters/nope/runCommand" CS, "{}"), 404);
        teardown();
}

/* The kids of the cluster's JWKS (public, no credential), newest first. */
static size_t issuer_kids(const char *uid, char kids[4][100]) {
        char url[300];
        snprintf(url, sizeof url, "/oidc/%s/openid/v1/jwks", uid);
        ASSERT_EQ(call_auth(NULL, "GET", url, NULL), 200);
        json_t *keys = json_object_get(R.body, "keys"), *k;
        size_t i;
        ASSERT_TRUE(json_array_size(keys) <= 4);
        json_array_foreach(keys, i, k) {
                ASSERT_STREQ(json_string_value(json_object_get(k, "kty")), "RSA");
                ASSERT_STREQ(json_string_value(json_object_get(k, "use")), "sig");
                static const char *const priv[] = {"d", "p", "q", "dp", "dq", "qi"};
                for (size_t j = 0; j < CP_ELEMENTSOF(priv); j++)
                        ASSERT_TRUE(json_object_get(k, priv[j]) == NULL); /* public parts only */
                snprintf(kids[i], 100, "%s", json_string_value(json_object_get(k, "kid")));
        }
        return json_array_size(keys);
}

/* az aks update --enable-oidc-issuer, az aks oidc-issuer rotate-signing-keys */
TEST(oidc_issuer_and_signing_key_rotation) {
        setup(NULL);
        base_cluster();
        ASSERT_EQ(call("POST", MC "/rotateServiceAccountSigningKeys" CS, NULL), 400);
        ASSERT_STREQ(code(), "BadRequest");
        ASSERT_EQ(call("PUT", MC CS, "{\"location\":\"eastus\",\"properties\":{\"oidcIssuerProfile\":{\"enabled\":1}}}"),
                  400);
        ASSERT_STREQ(target(), "properties.oidcIssuerProfile.enabled");
        ASSERT_EQ(call("PUT", MC CS, "{\"location\":\"eastus\",\"properties\":{\"oidcIssuerProfile\":{\"enabled\":true}}}"),
                  200);
        reconcile();
        ASSERT_EQ(call("GET", MC CS, NULL), 200);
        char uid[64], iss[300], want[400];
        snprintf(uid, sizeof uid, "%s", prop("resourceUID"));
        json_t *oidc = json_object_get(json_object_get(R.body, "properties"), "oidcIssuerProfile");
        ASSERT_TRUE(json_is_true(json_object_get(oidc, "enabled")));
        snprintf(iss, sizeof iss, "%s", json_string_value(json_object_get(oidc, "issuerURL")));
        snprintf(want, sizeof want, "http://cp.test/oidc/%s/", uid); /* the public base, not the Host header */
        ASSERT_STREQ(iss, want);
        char url[300];
        snprintf(url, sizeof url, "/oidc/%s/.well-known/openid-configuration", uid);
        ASSERT_EQ(call_auth(NULL, "GET", url, NULL), 200);
        ASSERT_STREQ(json_string_value(json_object_get(R.body, "issuer")), iss);
        snprintf(want, sizeof want, "%sopenid/v1/jwks", iss);
        ASSERT_STREQ(json_string_value(json_object_get(R.body, "jwks_uri")), want);
        char k1[4][100], k2[4][100], k3[4][100];
        ASSERT_EQ(issuer_kids(uid, k1), 1);
        /* rotation: a new key first, the previous one still served, the one before that gone */
        ASSERT_EQ(call("POST", MC "/rotateServiceAccountSigningKeys" CS, NULL), 202);
        char op[512];
        hdr_path("Azure-AsyncOperation", op, sizeof op);
        reconcile();
        ASSERT_EQ(call("GET", op, NULL), 200);
        ASSERT_STREQ(json_string_value(json_object_get(R.body, "status")), "Succeeded");
        ASSERT_EQ(issuer_kids(uid, k2), 2);
        ASSERT_TRUE(strcmp(k2[0], k1[0]) != 0);
        ASSERT_STREQ(k2[1], k1[0]);
        ASSERT_EQ(call("POST", MC "/rotateServiceAccountSigningKeys" CS, NULL), 202);
        reconcile();
        ASSERT_EQ(issuer_kids(uid, k3), 2);
        ASSERT_STREQ(k3[1], k2[0]);
        ASSERT_TRUE(strcmp(k3[0], k1[0]) != 0 && strcmp(k3[1], k1[0]) != 0);
        /* once enabled it stays enabled; an unknown issuer is 404 */
        ASSERT_EQ(call("PUT", MC CS, "{\"location\":\"eastus\",\"properties\":{\"oidcIssuerProfile\":{\"enabled\":false}}}"),
                  400);
        ASSERT_EQ(call_auth(NULL, "GET", "/oidc/00000000-0000-0000-0000-000000000000/openid/v1/jwks", NULL), 404);
        ASSERT_EQ(call_auth(NULL, "GET", "/oidc/..%2f..%2fetc/openid/v1/jwks", NULL), 404);
        /* the cluster's delete takes its issuer away at once */
        ASSERT_EQ(call("DELETE", MC CS, NULL), 202);
        snprintf(url, sizeof url, "/oidc/%s/openid/v1/jwks", uid);
        ASSERT_EQ(call_auth(NULL, "GET", url, NULL), 404);
        reconcile();
        teardown();
}
