/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The az-compatible commands through their real command path (cp_cli_main,
 * stdout/stderr captured) against a fake ARM server on loopback that serves
 * canned ARM responses with the LRO headers (Azure-AsyncOperation,
 * Location, Retry-After) and the ARM error envelope.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "cli/cli-az.h"
#include "cli/cli.h"
#include "service/httpd.h"
#include "tests.h"

#define SUB "11111111-2222-3333-4444-555555555555"
#define TOKEN "test-token-0123456789"

/* ---- the fake ARM server -------------------------------------------------------- */

typedef struct fake {
        pthread_mutex_t lock;
        char base[64];
        json_t *pools;       /* name -> REST pool */
        json_t *ops;         /* id -> {"polls": n, "pool": name, "action": "create|delete|fail"} */
        unsigned next_op;
        unsigned requests, unauthorized, op_polls;
        char last_put[4096];
} fake;

static fake F = { .lock = PTHREAD_MUTEX_INITIALIZER };

#define PP "/subscriptions/{s}/resourceGroups/{g}/providers/Microsoft.ContainerService/managedClusters/{c}/agentPools"

static void rjson(cp_http_response *r, unsigned st, json_t *b) {
        if (cp_http_resp_json(r, st, b) < 0)
                r->status = 500;
}

static void rheader(cp_http_response *r, const char *n, const char *v) {
        if (cp_http_resp_header(r, n, v) < 0)
                r->status = 500;
}

static void rbytes(cp_http_response *r, unsigned st, const char *ct, const void *d, size_t n) {
        if (cp_http_resp_bytes(r, st, ct, d, n) < 0)
                r->status = 500;
}

static void err(cp_http_response *resp, unsigned status, const char *code, const char *target, const char *msg) {
        json_t *e = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
        if (target)
                json_object_set_new(json_object_get(e, "error"), "target", json_string(target));
        rjson(resp, status, e);
}

static json_t *new_pool(const char *sub, const char *rg, const char *c, const char *name, json_t *props) {
        char id[2048];
        snprintf(id, sizeof id,
                 "/subscriptions/%s/resourcegroups/%s/providers/Microsoft.ContainerService/managedClusters/%s/agentPools/%s",
                 sub, rg, c, name);
        json_t *p = json_pack("{s:s,s:s,s:s,s:O}", "id", id, "name", name, "type",
                              "Microsoft.ContainerService/managedClusters/agentPools", "properties", props);
        json_t *pr = json_object_get(p, "properties");
        if (!json_object_get(pr, "vmSize"))
                json_object_set_new(pr, "vmSize", json_string("Standard_D2s_v3"));
        json_object_set_new(pr, "provisioningState", json_string("Creating"));
        if (!json_object_get(pr, "orchestratorVersion"))
                json_object_set_new(pr, "orchestratorVersion", json_string("1.33.2"));
        json_object_set_new(pr, "osDiskSizeGB", json_integer(128));
        json_object_set_new(pr, "maxPods", json_integer(110));
        json_object_set_new(pr, "osType", json_string("Linux"));
        json_object_set_new(pr, "enableFIPS", json_false());
        json_object_set_new(pr, "nodeImageVersion", json_string("AKSUbuntu-2004gen2CVMcontainerd-202507.02.0"));
        if (!json_object_get(pr, "powerState"))
                json_object_set_new(pr, "powerState", json_pack("{s:s}", "code", "Running"));
        json_object_set_new(pr, "eTag", json_string("etag-1"));
        return p;
}

static void lro_headers(cp_http_response *resp, unsigned op, bool location) {
        char url[256];
        snprintf(url, sizeof url,
                 "%s/subscriptions/" SUB "/providers/Microsoft.ContainerService/locations/eastus/operations/op%u"
                 "?api-version=2026-01-01",
                 F.base, op);
        rheader(resp, "Azure-AsyncOperation", url);
        if (location) {
                snprintf(url, sizeof url,
                         "%s/subscriptions/" SUB
                         "/providers/Microsoft.ContainerService/locations/eastus/operationresults/op%u?api-version=2026-01-01",
                         F.base, op);
                rheader(resp, "Location", url);
        }
        rheader(resp, "Retry-After", "0");
}

static unsigned new_op(const char *pool, const char *action) {
        unsigned id = ++F.next_op;
        char key[32];
        snprintf(key, sizeof key, "op%u", id);
        json_object_set_new(F.ops, key, json_pack("{s:i,s:s,s:s}", "polls", 0, "pool", pool, "action", action));
        return id;
}

static void handle_pool(cp_http_response *resp, const cp_http_request *req, char (*k)[256]) {
        json_t *pool = json_object_get(F.pools, k[3]);
        if (!strcmp(req->method, "GET")) {
                if (!pool)
                        return err(resp, 404, "NotFound", NULL, "The agent pool was not found.");
                rjson(resp, 200, json_incref(pool));
                return;
        }
        if (!strcmp(req->method, "PUT")) {
                json_error_t je;
                json_t *body = json_loadb((const char *) req->body, req->body_len, 0, &je);
                json_t *props = json_object_get(body, "properties");
                snprintf(F.last_put, sizeof F.last_put, "%s", req->body ? (const char *) req->body : "");
                if (!json_is_object(props)) {
                        json_decref(body);
                        return err(resp, 400, "InvalidParameter", "properties", "properties is required.");
                }
                if (json_is_true(json_object_get(props, "enableFIPS"))) {
                        json_decref(body);
                        return err(resp, 400, "CVMNotSupportedWithFIPS", "properties.enableFIPS",
                                   "FIPS is not supported on confidential VM node pools.");
                }
                const char *osku = json_string_value(json_object_get(props, "osSKU"));
                if (osku && !strcmp(osku, "Ubuntu2204")) {
                        /* AKS's flat form */
                        json_decref(body);
                        rjson(resp, 400,
                                                 json_pack("{s:s,s:n,s:s,s:s}", "code", "CVMOSSKUNotSupported",
                                                           "details", "message",
                                                           "AKS doesn't support CVM for Ubuntu 22.04.", "subcode", ""));
                        return;
                }
                bool create = pool == NULL;
                json_t *np = new_pool(k[0], k[1], k[2], k[3], props);
                if (!create)
                        json_object_set_new(json_object_get(np, "properties"), "provisioningState",
                                            json_string("Updating"));
                json_object_set_new(F.pools, k[3], np);
                json_decref(body);
                unsigned op = new_op(k[3], strcmp(k[3], "failpool") == 0 ? "fail" : "create");
                rjson(resp, create ? 201 : 200, json_incref(np));
                lro_headers(resp, op, false);
                return;
        }
        if (!strcmp(req->method, "DELETE")) {
                if (!pool) {
                        rbytes(resp, 204, "application/json", "", 0);
                        return;
                }
                json_object_set_new(json_object_get(pool, "properties"), "provisioningState", json_string("Deleting"));
                unsigned op = new_op(k[3], "delete");
                rbytes(resp, 202, "application/json", "", 0);
                lro_headers(resp, op, true);
                return;
        }
        err(resp, 405, "MethodNotAllowed", NULL, "method not allowed");
}

static void handle_op(cp_http_response *resp, const char *id) {
        json_t *op = json_object_get(F.ops, id);
        if (!op)
                return err(resp, 404, "NotFound", NULL, "operation not found");
        F.op_polls++;
        json_int_t polls = json_integer_value(json_object_get(op, "polls")) + 1;
        json_object_set_new(op, "polls", json_integer(polls));
        const char *action = json_string_value(json_object_get(op, "action"));
        const char *pname = json_string_value(json_object_get(op, "pool"));
        json_t *pool = json_object_get(F.pools, pname);
        if (polls < 3) {
                rjson(resp, 200, json_pack("{s:s,s:s}", "name", id, "status", "InProgress"));
                rheader(resp, "Retry-After", "0");
                return;
        }
        if (!strcmp(action, "fail")) {
                if (pool)
                        json_object_set_new(json_object_get(pool, "properties"), "provisioningState", json_string("Failed"));
                rjson(resp, 200,
                                         json_pack("{s:s,s:s,s:{s:s,s:s}}", "name", id, "status", "Failed", "error",
                                                   "code", "AllocationFailed", "message",
                                                   "Allocation failed. We do not have sufficient capacity."));
                return;
        }
        if (!strcmp(action, "delete"))
                json_object_del(F.pools, pname);
        else if (pool)
                json_object_set_new(json_object_get(pool, "properties"), "provisioningState", json_string("Succeeded"));
        rjson(resp, 200, json_pack("{s:s,s:s}", "name", id, "status", "Succeeded"));
}

static void handler(void *userdata, const cp_http_request *req, cp_http_response *resp) {
        (void) userdata;
        char k[6][256];
        pthread_mutex_lock(&F.lock);
        F.requests++;
        const char *auth = cp_http_req_header(req, "Authorization");
        const char *api = cp_http_req_query(req, "api-version");
        if (!auth || strcmp(auth, "Bearer " TOKEN) != 0) {
                F.unauthorized++;
                err(resp, 401, "InvalidAuthenticationToken", NULL, "The access token is invalid.");
        } else if (!api) {
                err(resp, 400, "MissingApiVersionParameter", NULL,
                    "The api-version query parameter (?api-version=) is required for all requests.");
        } else if (cp_http_path_match(PP, req->path, true, k, 6)) {
                if (strcmp(api, CP_AZ_API_CS) != 0)
                        err(resp, 400, "InvalidApiVersionParameter", NULL, "bad api-version");
                else {
                        json_t *a = json_array();
                        const char *n;
                        json_t *p;
                        json_object_foreach(F.pools, n, p) json_array_append(a, p);
                        rjson(resp, 200, json_pack("{s:o}", "value", a));
                }
        } else if (cp_http_path_match(PP "/{p}", req->path, true, k, 6)) {
                handle_pool(resp, req, k);
        } else if (cp_http_path_match(PP "/{p}/machines", req->path, true, k, 6)) {
                json_t *pool = json_object_get(F.pools, k[3]), *a = json_array();
                json_int_t n = json_integer_value(json_object_get(json_object_get(pool, "properties"), "count"));
                const char *st = json_string_value(json_object_get(json_object_get(pool, "properties"), "provisioningState"));
                for (json_int_t i = 0; i < n; i++)
                        json_array_append_new(a, json_pack("{s:s,s:{s:{s:s}}}", "name", "m", "properties", "status",
                                                           "provisioningState",
                                                           st && !strcmp(st, "Succeeded") ? "Succeeded" : "Creating"));
                rjson(resp, 200, json_pack("{s:o}", "value", a));
        } else if (cp_http_path_match(PP "/{p}/upgradeProfiles/default", req->path, true, k, 6)) {
                rjson(
                        resp, 200,
                        json_pack("{s:s,s:s,s:s,s:{s:s,s:s,s:[{s:s,s:b}],s:s}}", "id", "/subscriptions/" SUB
                                  "/resourcegroups/rg1/providers/Microsoft.ContainerService/managedClusters/c1/agentPools/np1/upgradeProfiles/default",
                                  "name", "default", "type", "Microsoft.ContainerService/managedClusters/agentPools/upgradeProfiles",
                                  "properties", "kubernetesVersion", "1.33.2", "osType", "Linux", "upgrades",
                                  "kubernetesVersion", "1.34.1", "isPreview", 0, "latestNodeImageVersion",
                                  "AKSUbuntu-2404gen2CVMcontainerd-202608.06.1"));
        } else if (cp_http_path_match("/subscriptions/{s}/providers/Microsoft.ContainerService/locations/{l}/operations/{id}",
                                      req->path, true, k, 6) ||
                   cp_http_path_match("/subscriptions/{s}/providers/Microsoft.ContainerService/locations/{l}/operationresults/{id}",
                                      req->path, true, k, 6)) {
                handle_op(resp, k[2]);
        } else if (cp_http_path_match("/subscriptions/{s}/resourcegroups/{g}", req->path, true, k, 6)) {
                if (!strcmp(req->method, "PUT") || !strcasecmp(k[1], "rg1"))
                        rjson(resp, 200,
                                                 json_pack("{s:s,s:s,s:s,s:{s:s},s:n,s:s}", "id",
                                                           "/subscriptions/" SUB "/resourceGroups/rg1", "location",
                                                           "eastus", "name", k[1], "properties", "provisioningState",
                                                           "Succeeded", "tags", "type",
                                                           "Microsoft.Resources/resourceGroups"));
                else
                        err(resp, 404, "ResourceGroupNotFound", NULL, "Resource group 'nope' could not be found.");
        } else if (cp_http_path_match("/subscriptions/{s}/resourcegroups", req->path, true, k, 6)) {
                rjson(resp, 200, json_pack("{s:[]}", "value"));
        } else if (cp_http_path_match("/subscriptions/{s}/providers/Microsoft.Features/providers/{ns}/features/{f}/register",
                                      req->path, true, k, 6)) {
                char id[1200], name[600];
                snprintf(id, sizeof id, "/subscriptions/%s/providers/Microsoft.Features/providers/%s/features/%s", k[0],
                         k[1], k[2]);
                snprintf(name, sizeof name, "%s/%s", k[1], k[2]);
                rjson(resp, 200,
                                         json_pack("{s:s,s:s,s:{s:s},s:s}", "id", id, "name", name, "properties",
                                                   "state", "Registering", "type", "Microsoft.Features/providers/features"));
        } else if (cp_http_path_match("/subscriptions/{s}/providers/{ns}/register", req->path, true, k, 6)) {
                rjson(resp, 200,
                                         json_pack("{s:s,s:s,s:s}", "namespace", k[1], "registrationState",
                                                   "Registering", "registrationPolicy", "RegistrationRequired"));
        } else {
                err(resp, 404, "InvalidResourceType", NULL, "The resource type could not be found.");
        }
        pthread_mutex_unlock(&F.lock);
}

/* ---- running the CLI in-process ---------------------------------------------------- */

typedef struct run {
        int rc;
        char *out, *err;
} run;

static char tmpdir[256];

static char *slurp(const char *path) {
        uint8_t *d = NULL;
        size_t n = 0;
        if (cp_read_file(path, 1 << 20, &d, &n) < 0)
                return strdup("");
        return (char *) d;
}

static run runv(const char *first, ...) {
        char *argv[64];
        int argc = 0;
        va_list ap;
        argv[argc++] = (char *) "confpool";
        va_start(ap, first);
        for (const char *a = first; a && argc < 63; a = va_arg(ap, const char *))
                argv[argc++] = (char *) a;
        va_end(ap);
        argv[argc] = NULL;
        char op[300], ep[300];
        snprintf(op, sizeof op, "%s/out", tmpdir);
        snprintf(ep, sizeof ep, "%s/err", tmpdir);
        fflush(stdout);
        fflush(stderr);
        int so = dup(1), se = dup(2);
        int fo = open(op, O_WRONLY | O_CREAT | O_TRUNC, 0600), fe = open(ep, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fo, 1);
        dup2(fe, 2);
        close(fo);
        close(fe);
        run r = { .rc = cp_cli_main(argc, argv) };
        fflush(stdout);
        fflush(stderr);
        dup2(so, 1);
        dup2(se, 2);
        close(so);
        close(se);
        r.out = slurp(op);
        r.err = slurp(ep);
        return r;
}

static void run_free(run *r) {
        free(r->out);
        free(r->err);
}

#define EXPECT(r, code, out_exact)                                                                      \
        do {                                                                                           \
                if ((r).rc != (code))                                                                  \
                        fprintf(stderr, "rc %d, stderr:\n%s\nstdout:\n%s\n", (r).rc, (r).err, (r).out); \
                ASSERT_EQ((r).rc, (code));                                                             \
                if (out_exact)                                                                         \
                        ASSERT_STREQ((r).out, (const char *) (out_exact));                             \
        } while (0)

static cp_httpd *server;

static void setup(void) {
        if (server)
                return;
        snprintf(tmpdir, sizeof tmpdir, "/tmp/test-cli-az.XXXXXX");
        ASSERT_TRUE(mkdtemp(tmpdir) != NULL);
        F.pools = json_object();
        F.ops = json_object();
        cp_httpd_options o = { 0 };
        ASSERT_OK(cp_httpd_start(&o, handler, NULL, &server));
        snprintf(F.base, sizeof F.base, "http://127.0.0.1:%u", cp_httpd_port(server));
        char cfg[300];
        snprintf(cfg, sizeof cfg, "%s/cfg", tmpdir);
        setenv("CONFPOOL_CONFIG_DIR", cfg, 1);
        setenv("CONFPOOL_ENDPOINT", F.base, 1);
        setenv("CONFPOOL_TOKEN", TOKEN, 1);
        setenv("CONFPOOL_SUBSCRIPTION", SUB, 1);
        setenv("CONFPOOL_POLL_MAX_MS", "100", 1);
        unsetenv("CONFPOOL_TOKEN_FILE");
        unsetenv("CONFPOOL_CA_FILE");
}

static void add_pool(const char *name, const char *size) {
        run r = runv("aks", "nodepool", "add", "--resource-group", "rg1", "--cluster-name", "c1", "--name", name,
                     "--node-count", "3", "--node-vm-size", size, "-o", "none", NULL);
        EXPECT(r, 0, "");
        run_free(&r);
}

/* ---- tests ------------------------------------------------------------------------- */

TEST(seed_add_show_query_list_delete) {
        setup();
        /* the use-cvm document, verbatim */
        run r = runv("aks", "nodepool", "add", "--resource-group", "myResourceGroup", "--cluster-name", "myAKSCluster",
                     "--name", "cvmnodepool", "--node-count", "3", "--node-vm-size", "Standard_DC4as_v5", NULL);
        EXPECT(r, 0, NULL);
        json_error_t je;
        json_t *j = json_loads(r.out, 0, &je);
        ASSERT_TRUE(j != NULL);
        ASSERT_STREQ(json_string_value(json_object_get(j, "vmSize")), "Standard_DC4as_v5");
        ASSERT_STREQ(json_string_value(json_object_get(j, "provisioningState")), "Succeeded");
        ASSERT_STREQ(json_string_value(json_object_get(j, "resourceGroup")), "myResourceGroup");
        ASSERT_EQ(json_integer_value(json_object_get(j, "osDiskSizeGb")), 128);
        ASSERT_TRUE(json_is_false(json_object_get(j, "enableFips")));
        ASSERT_TRUE(json_object_get(j, "properties") == NULL);
        json_decref(j);
        /* progress: plain lines on a non-tty stderr, ending with the ready count */
        ASSERT_TRUE(strstr(r.err, "Running ..\n") != NULL);
        ASSERT_TRUE(strstr(r.err, "cvmnodepool: Succeeded, 3/3 nodes ready\n") != NULL);
        /* the request body: count, vmSize, mode User by default */
        j = json_loads(F.last_put, 0, &je);
        ASSERT_EQ(json_integer_value(json_object_get(json_object_get(j, "properties"), "count")), 3);
        ASSERT_STREQ(json_string_value(json_object_get(json_object_get(j, "properties"), "mode")), "User");
        json_decref(j);
        run_free(&r);

        r = runv("aks", "nodepool", "show", "--resource-group", "myResourceGroup", "--cluster-name", "myAKSCluster",
                 "--name", "cvmnodepool", "--query", "vmSize", NULL);
        EXPECT(r, 0, "\"Standard_DC4as_v5\"\n");
        run_free(&r);
        r = runv("aks", "nodepool", "list", "--resource-group", "myResourceGroup", "--cluster-name", "myAKSCluster",
                 "--name", "cvmnodepool", "--query", "nodeImageVersion", NULL);
        EXPECT(r, 0, "\"AKSUbuntu-2004gen2CVMcontainerd-202507.02.0\"\n");
        run_free(&r);
        r = runv("aks", "nodepool", "show", "-g", "myResourceGroup", "--cluster-name", "myAKSCluster", "-n",
                 "cvmnodepool", "--query", "vmSize", "-o", "tsv", NULL);
        EXPECT(r, 0, "Standard_DC4as_v5\n");
        run_free(&r);
        r = runv("aks", "nodepool", "list", "-g", "myResourceGroup", "--cluster-name", "myAKSCluster", "-o", "table",
                 NULL);
        EXPECT(r, 0,
               "Name         OsType    KubernetesVersion    VmSize             Count    MaxPods    ProvisioningState    Mode\n"
               "-----------  --------  -------------------  -----------------  -------  ---------  -------------------  ------\n"
               "cvmnodepool  Linux     1.33.2               Standard_DC4as_v5  3        110        Succeeded            User\n");
        run_free(&r);
        r = runv("aks", "nodepool", "list", "-g", "myResourceGroup", "--cluster-name", "myAKSCluster", "--query",
                 "[].{n:name, s:vmSize}", "-o", "tsv", NULL);
        EXPECT(r, 0, "cvmnodepool\tStandard_DC4as_v5\n");
        run_free(&r);
        /* -o table with --query: no transformer, query key order */
        r = runv("aks", "nodepool", "show", "-g", "myResourceGroup", "--cluster-name", "myAKSCluster", "-n",
                 "cvmnodepool", "--query", "{Z:vmSize, A:count}", "-o", "table", NULL);
        EXPECT(r, 0, "Z                  A\n-----------------  ---\nStandard_DC4as_v5  3\n");
        run_free(&r);
        /* a query yielding null prints nothing */
        r = runv("aks", "nodepool", "show", "-g", "myResourceGroup", "--cluster-name", "myAKSCluster", "-n",
                 "cvmnodepool", "--query", "nosuchkey", NULL);
        EXPECT(r, 0, "");
        run_free(&r);
        r = runv("aks", "nodepool", "show", "-g", "myResourceGroup", "--cluster-name", "myAKSCluster", "-n",
                 "cvmnodepool", "-o", "yaml", "--query", "{size:vmSize}", NULL);
        EXPECT(r, 0, "size: Standard_DC4as_v5\n");
        run_free(&r);

        r = runv("aks", "nodepool", "delete", "--resource-group", "myResourceGroup", "--cluster-name", "myAKSCluster",
                 "--name", "cvmnodepool", NULL);
        EXPECT(r, 0, "");
        run_free(&r);
        pthread_mutex_lock(&F.lock);
        bool gone = json_object_get(F.pools, "cvmnodepool") == NULL;
        pthread_mutex_unlock(&F.lock);
        ASSERT_TRUE(gone);
        /* show of a missing pool: the ARM error and exit 3 */
        r = runv("aks", "nodepool", "show", "-g", "myResourceGroup", "--cluster-name", "myAKSCluster", "-n",
                 "cvmnodepool", NULL);
        EXPECT(r, 3, "");
        ASSERT_STREQ(r.err, "ERROR: (NotFound) The agent pool was not found.\nCode: NotFound\nMessage: The agent pool was not found.\n");
        run_free(&r);
        /* delete of a missing pool: az's client-side message, exit 1 */
        r = runv("aks", "nodepool", "delete", "-g", "myResourceGroup", "--cluster-name", "myAKSCluster", "-n",
                 "cvmnodepool", NULL);
        EXPECT(r, 1, "");
        ASSERT_STREQ(r.err, "ERROR: Node pool cvmnodepool doesnt exist, use 'aks nodepool list' to get current node "
                            "pool list\n");
        run_free(&r);
}

TEST(no_wait_and_duplicates) {
        setup();
        unsigned polls0 = F.op_polls;
        run r = runv("aks", "nodepool", "add", "-g", "rg1", "--cluster-name", "c1", "-n", "nowait", "-s",
                     "Standard_DC8as_v5", "-c", "2", "--no-wait", NULL);
        EXPECT(r, 0, "");
        ASSERT_STREQ(r.err, "");
        ASSERT_EQ(F.op_polls, polls0); /* no polling */
        run_free(&r);
        r = runv("aks", "nodepool", "add", "-g", "rg1", "--cluster-name", "c1", "-n", "nowait", NULL);
        EXPECT(r, 1, "");
        ASSERT_STREQ(r.err, "ERROR: Node pool nowait already exists, please try a different name, use 'aks nodepool "
                            "list' to get current list of node pool\n");
        run_free(&r);
        r = runv("aks", "nodepool", "wait", "-g", "rg1", "--cluster-name", "c1", "-n", "nowait", "--exists",
                 "--interval", "0", NULL);
        EXPECT(r, 0, "");
        run_free(&r);
        r = runv("aks", "nodepool", "delete", "-g", "rg1", "--cluster-name", "c1", "-n", "nowait", "--no-wait", NULL);
        EXPECT(r, 0, "");
        run_free(&r);
}

TEST(errors_from_the_service) {
        setup();
        /* the ARM error envelope with a target */
        run r = runv("aks", "nodepool", "add", "-g", "rg1", "--cluster-name", "c1", "-n", "fips", "-s",
                     "Standard_DC4as_v5", "--enable-fips-image", NULL);
        EXPECT(r, 1, "");
        ASSERT_STREQ(r.err, "ERROR: (CVMNotSupportedWithFIPS) FIPS is not supported on confidential VM node pools.\n"
                            "Code: CVMNotSupportedWithFIPS\n"
                            "Message: FIPS is not supported on confidential VM node pools.\n"
                            "Target: properties.enableFIPS\n");
        run_free(&r);
        /* AKS's flat form */
        r = runv("aks", "nodepool", "add", "-g", "rg1", "--cluster-name", "c1", "-n", "u2204", "-s",
                 "Standard_DC4as_v5", "--os-sku", "ubuntu2204", NULL);
        EXPECT(r, 1, "");
        ASSERT_STREQ(r.err, "ERROR: (CVMOSSKUNotSupported) AKS doesn't support CVM for Ubuntu 22.04.\n"
                            "Code: CVMOSSKUNotSupported\nMessage: AKS doesn't support CVM for Ubuntu 22.04.\n");
        run_free(&r);
        /* a failed LRO prints the operation's error */
        r = runv("aks", "nodepool", "add", "-g", "rg1", "--cluster-name", "c1", "-n", "failpool", "-o", "json", NULL);
        EXPECT(r, 1, "");
        ASSERT_TRUE(strstr(r.err, "ERROR: (AllocationFailed) Allocation failed. We do not have sufficient capacity.\n"
                                  "Code: AllocationFailed\n") != NULL);
        run_free(&r);
        /* a bad token: 401 */
        setenv("CONFPOOL_TOKEN", "wrong", 1);
        r = runv("aks", "nodepool", "list", "-g", "rg1", "--cluster-name", "c1", NULL);
        EXPECT(r, 1, "");
        ASSERT_TRUE(strstr(r.err, "ERROR: (InvalidAuthenticationToken)") == r.err);
        run_free(&r);
        setenv("CONFPOOL_TOKEN", TOKEN, 1);
        /* group show of a missing group: exit 3 */
        r = runv("group", "show", "-n", "nope", NULL);
        EXPECT(r, 3, "");
        ASSERT_TRUE(strstr(r.err, "(ResourceGroupNotFound)") != NULL);
        run_free(&r);
}

typedef struct arg_case {
        const char *name;
        const char *args[16];
        int rc;
        const char *err; /* the exact message, or NULL for any "ERROR: " */
} arg_case;

/* Refused before any request, with the argparse exit code and message. */
static const arg_case arg_cases[] = {
        { "name_too_long", { "aks", "nodepool", "add", "-g", "r", "--cluster-name", "c", "-n", "abcdefghijklm" }, 2,
          "ERROR: --nodepool-name can contain at most 12 characters\n" },
        { "name_not_alnum", { "aks", "nodepool", "add", "-g", "r", "--cluster-name", "c", "-n", "ab-c" }, 2,
          "ERROR: --nodepool-name should contain only alphanumeric characters\n" },
        { "required_missing", { "aks", "nodepool", "add", "--cluster-name", "c" }, 2,
          "ERROR: the following arguments are required: --resource-group/-g, --name/--nodepool-name/-n\n" },
        { "unrecognized", { "aks", "nodepool", "add", "-g", "r", "--cluster-name", "c", "-n", "p", "--bogus", "x" }, 2,
          "ERROR: unrecognized arguments: --bogus x\n" },
        { "count_not_int", { "aks", "nodepool", "add", "-g", "r", "--cluster-name", "c", "-n", "p", "-c", "three" }, 2,
          "ERROR: argument --node-count/-c: invalid int value: 'three'\n" },
        { "mode_choice", { "aks", "nodepool", "add", "-g", "r", "--cluster-name", "c", "-n", "p", "--mode", "Other" }, 2,
          "ERROR: argument --mode: invalid choice: 'Other' (choose from 'System', 'User', 'Gateway')\n" },
        { "size_no_value", { "aks", "nodepool", "add", "-g", "r", "--cluster-name", "c", "-n", "p", "-s" }, 2,
          "ERROR: argument --node-vm-size/-s: expected one argument\n" },
        { "k8s_version", { "aks", "nodepool", "add", "-g", "r", "--cluster-name", "c", "-n", "p", "-k", "1.x" }, 2,
          "ERROR: --kubernetes-version should be the full version number or major.minor version number, "
          "such as \"1.7.12\" or \"1.7\"\n" },
        { "autoscaler_min_only", { "aks", "nodepool", "add", "-g", "r", "--cluster-name", "c", "-n", "p", "-e", "--min-count", "1" }, 2,
          "ERROR: Please specify both min-count and max-count when --enable-cluster-autoscaler enabled\n" },
        { "autoscaler_min_over_max", { "aks", "nodepool", "add", "-g", "r", "--cluster-name", "c", "-n", "p", "-e", "--min-count", "5",
            "--max-count", "2" },
          2, "ERROR: Value of min-count should be less than or equal to value of max-count\n" },
        { "autoscaler_count_outside", { "aks", "nodepool", "add", "-g", "r", "--cluster-name", "c", "-n", "p", "-e", "--min-count", "5",
            "--max-count", "9" },
          2, "ERROR: node-count is not in the range of min-count and max-count\n" },
        { "min_max_without_autoscaler", { "aks", "nodepool", "add", "-g", "r", "--cluster-name", "c", "-n", "p", "--min-count", "1",
            "--max-count", "2" },
          2, "ERROR: min-count and max-count are required for --enable-cluster-autoscaler, please use the flag\n" },
        { "min_count_range", { "aks", "nodepool", "add", "-g", "r", "--cluster-name", "c", "-n", "p", "--min-count", "1001" }, 2,
          "ERROR: --min-count must be in the range [0,1000]\n" },
        { "taint_effect", { "aks", "nodepool", "add", "-g", "r", "--cluster-name", "c", "-n", "p", "--node-taints", "a=b:Bad" }, 2,
          "ERROR: Invalid node taint: a=b:Bad. Expected format key=value:Effect with Effect one of "
          "NoSchedule, PreferNoSchedule, NoExecute (e.g. \"special=true:NoSchedule\").\n" },
        { "label_no_value", { "aks", "nodepool", "add", "-g", "r", "--cluster-name", "c", "-n", "p", "--labels", "a=b", "novalue" }, 2,
          "ERROR: Invalid label: novalue. Label definition must be of format name=value.\n" },
        { "label_prefix", { "aks", "nodepool", "add", "-g", "r", "--cluster-name", "c", "-n", "p", "--labels", "Bad_Prefix/x=y" }, 2,
          "ERROR: Invalid label: Bad_Prefix/x=y. Prefix part a DNS-1123 label must consist of lower case "
          "alphanumeric characters or '-', and must start and end with an alphanumeric character\n" },
        { "label_leading_dash", { "aks", "nodepool", "add", "-g", "r", "--cluster-name", "c", "-n", "p", "--labels", "-x=y" }, 2, NULL },
        { "label_value_dash", { "aks", "nodepool", "add", "-g", "r", "--cluster-name", "c", "-n", "p", "--labels", "x=-y" }, 2,
          "ERROR: Invalid label: x=-y. A valid label must be an empty string or consist of alphanumeric "
          "characters, '-', '_' or '.', and must start and end with an alphanumeric character.\n" },
        { "max_surge_text", { "aks", "nodepool", "add", "-g", "r", "--cluster-name", "c", "-n", "p", "--max-surge", "x%" }, 2,
          "ERROR: --max-surge should be int or percentage\n" },
        { "max_surge_negative", { "aks", "nodepool", "add", "-g", "r", "--cluster-name", "c", "-n", "p", "--max-surge", "-1" }, 2,
          "ERROR: --max-surge must be positive\n" },
        { "spot_price_without_spot", { "aks", "nodepool", "add", "-g", "r", "--cluster-name", "c", "-n", "p", "--spot-max-price", "1" }, 2,
          "ERROR: --spot_max_price can only be set when --priority is Spot\n" },
        { "spot_price_zero", { "aks", "nodepool", "add", "-g", "r", "--cluster-name", "c", "-n", "p", "--priority", "Spot",
            "--spot-max-price", "0" },
          2, "ERROR: --spot_max_price can only be any decimal value greater than zero, or -1 which indicates "
             "default price to be up-to on-demand\n" },
        { "spot_price_decimals", { "aks", "nodepool", "add", "-g", "r", "--cluster-name", "c", "-n", "p", "--priority", "Spot",
            "--spot-max-price", "0.1234567" },
          2, "ERROR: --spot_max_price can only be in the format ##.#####, e.g. 0.12345 (up to 5 decimal places)\n" },
        { "eviction_without_spot", { "aks", "nodepool", "add", "-g", "r", "--cluster-name", "c", "-n", "p", "--eviction-policy", "Delete" }, 2,
          "ERROR: --eviction-policy can only be set when --priority is Spot\n" },
        { "subnet_id", { "aks", "nodepool", "add", "-g", "r", "--cluster-name", "c", "-n", "p", "--vnet-subnet-id", "nope" }, 2,
          "ERROR: --vnet-subnet-id is not a valid Azure resource ID.\n" },
        { "flag_with_value", { "aks", "nodepool", "add", "-g", "r", "--cluster-name", "c", "-n", "p", "--enable-fips-image=yes" }, 2,
          "ERROR: argument --enable-fips-image: ignored explicit argument 'yes'\n" },
        { "output_choice", { "aks", "nodepool", "add", "-g", "r", "--cluster-name", "c", "-n", "p", "-o", "xml" }, 2,
          "ERROR: argument --output/-o: invalid choice: 'xml' (choose from 'json', 'jsonc', 'none', 'table', "
          "'tsv', 'yaml', 'yamlc')\n" },
        { "query_syntax", { "aks", "nodepool", "show", "-g", "r", "--cluster-name", "c", "-n", "p", "--query", "[?" }, 2,
          "ERROR: argument --query: invalid jmespath_type value: '[?'\n" },
        { "upgrade_conflict", { "aks", "nodepool", "upgrade", "-g", "r", "--cluster-name", "c", "-n", "p", "-k", "1.33",
            "--node-image-only" },
          2, "ERROR: Conflicting flags. Upgrading the Kubernetes version will also upgrade node image version. "
             "If you only want to upgrade the node version please use the \"--node-image-only\" option only.\n" },
        { "update_enable_disable", { "aks", "nodepool", "update", "-g", "r", "--cluster-name", "c", "-n", "p", "-e", "-d" }, 2, NULL },
        { "wait_no_condition", { "aks", "nodepool", "wait", "-g", "r", "--cluster-name", "c", "-n", "p" }, 2,
          "ERROR: incorrect usage: --created | --updated | --deleted | --exists | --custom JMESPATH\n" },
        { "create_name_missing", { "aks", "create", "-g", "r", "-n", "-bad" }, 2, "ERROR: argument --name/-n: expected one argument\n" },
        { "create_name_dot", { "aks", "create", "-g", "r", "-n", "bad.name" }, 2,
          "ERROR: --name should contain 1 to 63 characters: alphanumerics, underscores and hyphens, starting "
          "and ending with an alphanumeric character\n" },
        { "unknown_subcommand", { "aks", "nodepool", "frobnicate" }, 2, NULL },
        { "aks_alone", { "aks" }, 2, NULL },
        { "feature_name_required", { "feature", "register", "--namespace", "X" }, 2,
          "ERROR: the following arguments are required: --name/-n\n" },
};

static void check_arg_case(void *ctx, const void *row) {
        const arg_case *c = row;
        const char *const *a = c->args;
        (void) ctx;
        run r = runv(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13], a[14],
                     NULL);
        if (r.rc != c->rc || (c->err && strcmp(r.err, c->err) != 0))
                fprintf(stderr, "case %s: rc %d\n%s", c->name, r.rc, r.err);
        ASSERT_EQ(r.rc, c->rc);
        if (c->err)
                ASSERT_STREQ(r.err, c->err);
        else
                ASSERT_TRUE(strncmp(r.err, "ERROR: ", 7) == 0 || strstr(r.err, "Group") != NULL);
        ASSERT_STREQ(r.out, "");
        run_free(&r);
}

/* Flag styles: --flag=value, -cVALUE, -c=VALUE, repeated lists, case-insensitive choices. */
static void flag_styles(void) {
        run r = runv("aks", "nodepool", "add", "--resource-group=rg1", "--cluster-name", "c1", "-nstyles", "-c=5",
                     "--mode", "system", "--labels", "a=b", "kubernetes.io/x=y", "--tags", "t1", "t2=v",
                     "--node-taints", "k=v:NoSchedule,k2=v2:NoExecute", "--zones", "1", "2", "-k", "v1.33", "--no-wait",
                     NULL);
        EXPECT(r, 0, "");
        run_free(&r);
        json_error_t je;
        json_t *j = json_loads(F.last_put, 0, &je), *p = json_object_get(j, "properties");
        ASSERT_EQ(json_integer_value(json_object_get(p, "count")), 5);
        ASSERT_STREQ(json_string_value(json_object_get(p, "mode")), "System");
        ASSERT_STREQ(json_string_value(json_object_get(p, "orchestratorVersion")), "1.33");
        ASSERT_STREQ(json_string_value(json_object_get(json_object_get(p, "nodeLabels"), "kubernetes.io/x")), "y");
        ASSERT_STREQ(json_string_value(json_object_get(json_object_get(p, "tags"), "t1")), "");
        ASSERT_STREQ(json_string_value(json_object_get(json_object_get(p, "tags"), "t2")), "v");
        ASSERT_EQ(json_array_size(json_object_get(p, "nodeTaints")), 2);
        ASSERT_EQ(json_array_size(json_object_get(p, "availabilityZones")), 2);
        json_decref(j);
}

TEST(argument_parsing_and_validators) {
        setup();
        unsigned before = F.requests;
        TEST_TABLE(arg_cases, check_arg_case, NULL);
        ASSERT_EQ(F.requests, before); /* validators run before any request */
        flag_styles();
}

TEST(help_output) {
        setup();
        run r = runv("aks", "nodepool", "add", "--help", NULL);
        EXPECT(r, 0, NULL);
        ASSERT_TRUE(strncmp(r.out, "\nCommand\n    confpool aks nodepool add : Add a node pool", 52) == 0);
        ASSERT_TRUE(strstr(r.out, "\nArguments\n") != NULL);
        ASSERT_TRUE(strstr(r.out, "    --node-count -c                           : Number of nodes in the Kubernetes "
                                  "agent pool.  Default: 3.\n") != NULL);
        ASSERT_TRUE(strstr(r.out, "--cluster-name                 [Required] : The cluster name.") != NULL);
        ASSERT_TRUE(strstr(r.out, "\nGlobal Arguments\n") != NULL);
        ASSERT_TRUE(strstr(r.out, "Allowed values: json, jsonc, none, table, tsv, yaml, yamlc.  Default: json.") != NULL);
        run_free(&r);
        static const char *const cmds[][3] = {
                { "group", "create", NULL },    { "group", "show", NULL },       { "group", "list", NULL },
                { "group", "delete", NULL },    { "aks", "create", NULL },       { "aks", "show", NULL },
                { "aks", "list", NULL },        { "aks", "delete", NULL },       { "feature", "register", NULL },
                { "feature", "unregister", NULL }, { "feature", "show", NULL },  { "feature", "list", NULL },
                { "provider", "register", NULL }, { "provider", "show", NULL },
        };
        for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
                r = runv(cmds[i][0], cmds[i][1], "-h", NULL);
                EXPECT(r, 0, NULL);
                ASSERT_TRUE(strstr(r.out, "\nCommand\n    confpool ") == r.out);
                run_free(&r);
        }
        static const char *const np[] = { "add", "show", "list", "update", "scale", "upgrade", "delete",
                                          "get-upgrades", "wait", "start", "stop" };
        for (size_t i = 0; i < sizeof np / sizeof np[0]; i++) {
                r = runv("aks", "nodepool", np[i], "--help", NULL);
                EXPECT(r, 0, NULL);
                char want[128];
                snprintf(want, sizeof want, "\nCommand\n    confpool aks nodepool %s : ", np[i]);
                ASSERT_TRUE(strncmp(r.out, want, strlen(want)) == 0);
                run_free(&r);
        }
        r = runv("aks", "nodepool", "-h", NULL);
        EXPECT(r, 0, NULL);
        ASSERT_TRUE(strstr(r.out, "\nGroup\n    confpool aks nodepool : ") == r.out);
        /* names padded to the longest, the attestation-policy subgroup (as knack does) */
        ASSERT_TRUE(strstr(r.out, "\nSubgroups:\n    attestation-policy : ") != NULL);
        ASSERT_TRUE(strstr(r.out, "\n    get-upgrades       : ") != NULL);
        run_free(&r);
        r = runv("aks", "--help", NULL);
        EXPECT(r, 0, NULL);
        /* subgroups in az's alphabetical order: machine, nodepool; names of
         * both sections padded to the longest (get-credentials), as knack does */
        ASSERT_TRUE(strstr(r.out, "\nSubgroups:\n    machine         : ") != NULL);
        ASSERT_TRUE(strstr(r.out, "\n    nodepool        : ") != NULL);
        ASSERT_TRUE(strstr(r.out, "\n    get-credentials : ") != NULL);
        run_free(&r);
        r = runv("login", "--help", NULL);
        EXPECT(r, 0, NULL);
        run_free(&r);
}

TEST(other_commands) {
        setup();
        add_pool("np1", "Standard_DC4as_v5");
        run r = runv("aks", "nodepool", "scale", "-g", "rg1", "--cluster-name", "c1", "-n", "np1", "-c", "3", NULL);
        EXPECT(r, 1, "");
        ASSERT_STREQ(r.err, "ERROR: The new node count is the same as the current node count.\n");
        run_free(&r);
        r = runv("aks", "nodepool", "scale", "-g", "rg1", "--cluster-name", "c1", "-n", "np1", "-c", "5", "--query",
                 "count", NULL);
        EXPECT(r, 0, "5\n");
        run_free(&r);
        r = runv("aks", "nodepool", "update", "-g", "rg1", "--cluster-name", "c1", "-n", "np1", "--labels", "env=prod",
                 "--query", "nodeLabels", "-o", "json", NULL);
        EXPECT(r, 0, "{\n  \"env\": \"prod\"\n}\n");
        run_free(&r);
        r = runv("aks", "nodepool", "update", "-g", "rg1", "--cluster-name", "c1", "-n", "np1",
                 "--update-cluster-autoscaler", "--min-count", "1", "--max-count", "3", NULL);
        EXPECT(r, 1, "");
        run_free(&r);
        r = runv("aks", "nodepool", "stop", "-g", "rg1", "--cluster-name", "c1", "-n", "np1", "--query", "powerState.code",
                 "-o", "tsv", NULL);
        EXPECT(r, 0, "Stopped\n");
        run_free(&r);
        r = runv("aks", "nodepool", "upgrade", "-g", "rg1", "--cluster-name", "c1", "-n", "np1", "-k", "1.34.1",
                 "--query", "orchestratorVersion", NULL);
        EXPECT(r, 0, "\"1.34.1\"\n");
        run_free(&r);
        r = runv("aks", "nodepool", "get-upgrades", "-g", "rg1", "--cluster-name", "c1", "-n", "np1", "--query",
                 "[latestNodeImageVersion, upgrades[0].kubernetesVersion, resourceGroup]", "-o", "tsv", NULL);
        EXPECT(r, 0, "AKSUbuntu-2404gen2CVMcontainerd-202608.06.1\n1.34.1\nrg1\n"); /* a list: one line per item */
        run_free(&r);
        r = runv("aks", "nodepool", "wait", "-g", "rg1", "--cluster-name", "c1", "-n", "np1", "--custom",
                 "count==`5`", "--interval", "0", NULL);
        EXPECT(r, 0, "");
        run_free(&r);
        r = runv("aks", "nodepool", "wait", "-g", "rg1", "--cluster-name", "c1", "-n", "np1", "--deleted", "--interval",
                 "0", "--timeout", "0", NULL);
        EXPECT(r, 1, "");
        ASSERT_STREQ(r.err, "ERROR: Wait operation timed-out after 0 seconds\n");
        run_free(&r);

        r = runv("feature", "register", "--namespace", "Microsoft.ContainerService", "--name", "AzureLinuxCVMPreview",
                 NULL);
        EXPECT(r, 0,
               "{\n  \"id\": \"/subscriptions/" SUB "/providers/Microsoft.Features/providers/Microsoft.ContainerService/"
               "features/AzureLinuxCVMPreview\",\n  \"name\": \"Microsoft.ContainerService/AzureLinuxCVMPreview\",\n"
               "  \"properties\": {\n    \"state\": \"Registering\"\n  },\n"
               "  \"type\": \"Microsoft.Features/providers/features\"\n}\n");
        ASSERT_STREQ(r.err, "WARNING: Once the feature 'AzureLinuxCVMPreview' is registered, invoking 'confpool provider "
                            "register -n Microsoft.ContainerService' is required to get the change propagated\n");
        run_free(&r);
        r = runv("feature", "register", "--namespace", "Microsoft.ContainerService", "--name", "AzureLinuxCVMPreview",
                 "--only-show-errors", "--query", "properties.state", "-o", "tsv", NULL);
        EXPECT(r, 0, "Registering\n");
        ASSERT_STREQ(r.err, "");
        run_free(&r);
        r = runv("provider", "register", "--namespace", "Microsoft.ContainerService", NULL);
        EXPECT(r, 0, "");
        ASSERT_STREQ(r.err, "");
        run_free(&r);
        r = runv("group", "create", "--name", "rg1", "--location", "eastus", "-o", "table", NULL);
        EXPECT(r, 0, "Name    Location    Status\n------  ----------  ---------\nrg1     eastus      Succeeded\n");
        run_free(&r);
        r = runv("group", "delete", "--name", "rg1", NULL); /* no tty, no --yes */
        EXPECT(r, 1, "");
        ASSERT_STREQ(r.err, "ERROR: Unable to prompt for confirmation as no tty available. Use --yes.\n");
        run_free(&r);
}

TEST(config_precedence_and_login) {
        setup();
        char cfgdir[300], cfg[340], tokf[340];
        snprintf(cfgdir, sizeof cfgdir, "%s/cfg", tmpdir);
        snprintf(cfg, sizeof cfg, "%s/config", cfgdir);
        snprintf(tokf, sizeof tokf, "%s/token", tmpdir);
        ASSERT_OK(cp_write_file(tokf, TOKEN "\n", strlen(TOKEN) + 1, 0600));
        unsetenv("CONFPOOL_ENDPOINT");
        unsetenv("CONFPOOL_TOKEN");
        unsetenv("CONFPOOL_SUBSCRIPTION");
        unlink(cfg);
        /* nothing configured */
        run r = runv("aks", "nodepool", "list", "-g", "rg1", "--cluster-name", "c1", NULL);
        EXPECT(r, 1, "");
        ASSERT_STREQ(r.err, "ERROR: Please run 'confpool login' to setup account.\n");
        run_free(&r);
        /* login with a wrong token is refused and saves nothing */
        char badtok[340];
        snprintf(badtok, sizeof badtok, "%s/badtoken", tmpdir);
        ASSERT_OK(cp_write_file(badtok, "nope\n", 5, 0600));
        r = runv("login", "--endpoint", F.base, "--token-file", badtok, "--subscription", SUB, NULL);
        EXPECT(r, 1, "");
        ASSERT_TRUE(access(cfg, F_OK) != 0);
        run_free(&r);
        r = runv("login", "--endpoint", F.base, "--token-file", tokf, "--subscription", SUB, "--query", "[0].id", "-o",
                 "tsv", NULL);
        EXPECT(r, 0, SUB "\n");
        run_free(&r);
        struct stat st;
        ASSERT_EQ(stat(cfg, &st), 0);
        ASSERT_EQ(st.st_mode & 0777, 0600);
        char *text = slurp(cfg);
        ASSERT_TRUE(strstr(text, TOKEN) == NULL); /* the token itself is never written */
        char *v = cp_az_config_get(text, "cloud", "endpoint");
        ASSERT_STREQ(v, F.base);
        free(v);
        v = cp_az_config_get(text, "defaults", "subscription");
        ASSERT_STREQ(v, SUB);
        free(v);
        free(text);
        /* the saved settings work */
        add_pool("cfgpool", "Standard_DC2as_v5");
        /* environment beats the file: a wrong endpoint in the environment fails */
        setenv("CONFPOOL_ENDPOINT", "http://127.0.0.1:1", 1);
        r = runv("aks", "nodepool", "show", "-g", "rg1", "--cluster-name", "c1", "-n", "cfgpool", NULL);
        EXPECT(r, 1, "");
        run_free(&r);
        unsetenv("CONFPOOL_ENDPOINT");
        /* --subscription beats the environment beats the file */
        setenv("CONFPOOL_SUBSCRIPTION", "not-a-guid", 1);
        r = runv("aks", "nodepool", "show", "-g", "rg1", "--cluster-name", "c1", "-n", "cfgpool", NULL);
        EXPECT(r, 1, "");
        ASSERT_STREQ(r.err, "ERROR: Subscription 'not-a-guid' not found. Check the spelling and casing and try again.\n");
        run_free(&r);
        r = runv("aks", "nodepool", "show", "-g", "rg1", "--cluster-name", "c1", "-n", "cfgpool", "--subscription", SUB,
                 "--query", "name", NULL);
        EXPECT(r, 0, "\"cfgpool\"\n");
        run_free(&r);
        unsetenv("CONFPOOL_SUBSCRIPTION");
        /* CONFPOOL_TOKEN beats the token file */
        setenv("CONFPOOL_TOKEN", "wrong", 1);
        r = runv("aks", "nodepool", "show", "-g", "rg1", "--cluster-name", "c1", "-n", "cfgpool", NULL);
        EXPECT(r, 1, "");
        run_free(&r);
        unsetenv("CONFPOOL_TOKEN");
        /* configure changes one key and shows the settings without the token */
        r = runv("configure", "--defaults", "subscription=" "99999999-2222-3333-4444-555555555555", NULL);
        EXPECT(r, 0, "");
        run_free(&r);
        r = runv("configure", "--query", "subscription", "-o", "tsv", NULL);
        EXPECT(r, 0, "99999999-2222-3333-4444-555555555555\n");
        ASSERT_TRUE(strstr(r.out, TOKEN) == NULL);
        run_free(&r);
        r = runv("configure", "--defaults", "group=x", NULL);
        EXPECT(r, 2, "");
        run_free(&r);
        /* restore the environment for the other tests */
        unlink(cfg);
        setenv("CONFPOOL_ENDPOINT", F.base, 1);
        setenv("CONFPOOL_TOKEN", TOKEN, 1);
        setenv("CONFPOOL_SUBSCRIPTION", SUB, 1);
}

TEST(config_file_editing) {
        char *t = cp_az_config_set(NULL, "cloud", "endpoint", "http://a");
        ASSERT_STREQ(t, "[cloud]\nendpoint = http://a\n");
        char *u = cp_az_config_set(t, "auth", "token_file", "/t");
        ASSERT_STREQ(u, "[cloud]\nendpoint = http://a\n[auth]\ntoken_file = /t\n");
        char *w = cp_az_config_set(u, "cloud", "endpoint", "http://b");
        ASSERT_STREQ(w, "[cloud]\nendpoint = http://b\n[auth]\ntoken_file = /t\n");
        char *x = cp_az_config_set(w, "cloud", "ca_file", "/ca");
        ASSERT_STREQ(x, "[cloud]\nendpoint = http://b\nca_file = /ca\n[auth]\ntoken_file = /t\n");
        char *y = cp_az_config_set(x, "cloud", "endpoint", NULL);
        ASSERT_STREQ(y, "[cloud]\nca_file = /ca\n[auth]\ntoken_file = /t\n");
        char *g = cp_az_config_get("# c\n[auth]\n  token_file  =  /x y \n[cloud]\ntoken_file = no\n", "auth", "token_file");
        ASSERT_STREQ(g, "/x y");
        ASSERT_TRUE(cp_az_config_get("[a]\nk=v", "b", "k") == NULL);
        free(t);
        free(u);
        free(w);
        free(x);
        free(y);
        free(g);
}

__attribute__((destructor)) static void teardown(void) {
        if (!server)
                return;
        server = cp_httpd_stop(server);
        json_decref(F.pools);
        json_decref(F.ops);
        char cmd[320];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
                fprintf(stderr, "cannot remove %s\n", tmpdir);
}
