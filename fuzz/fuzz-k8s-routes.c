/* SPDX-License-Identifier: Apache-2.0 */
/* The clusters' Kubernetes API (k8s-*.c) through confpoold's router,
 * in-process, on an in-memory store holding a cluster with one attested
 * and one quarantined machine (so Nodes, Leases and Events exist).  Input:
 * fuzz-request.h; a path not starting with "/k8s/" is put under the
 * cluster's /k8s/<resourceUID>.  Selector bits 0-1: no token, the user's,
 * the admin's, a wrong one; bit 2 Content-Type merge patch, bit 3 strategic
 * merge patch (else JSON), bit 4 Accept Table.  Every answer: a status in
 * 200..599, never 5xx; JSON bodies parse; errors are Status objects whose
 * code is the status; a watch's stream is read once. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "basic/codec.h"
#include "controlplane/cp-api.h"
#include "controlplane/cp-store.h"
#include "fuzz-request.h"

#define SUB "6a8b4c2e-1f3d-4e5a-9b7c-0d1e2f3a4b5c"
#define MC "/subscriptions/" SUB "/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/mc"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cp_store *store;
static cp_rules *rules;
static cp_api *api;
static char prefix[128], user[80], admin[80];

static json_t *arm(const char *method, const char *path, const char *ver, const char *body) {
        const cp_http_pair hdrs[] = {{"Authorization", "Bearer fuzz"}};
        const cp_http_pair query[] = {{"api-version", ver}};
        cp_http_request rq = {.method = method, .path = path, .body = (const uint8_t *) body,
                              .body_len = body ? strlen(body) : 0, .headers = hdrs, .n_headers = 1, .query = query,
                              .n_query = 1};
        cp_http_response r = {0};
        cp_api_handle(api, &rq, &r);
        if (r.status >= 300)
                abort();
        json_t *j = r.body_len ? json_loadb((const char *) r.body, r.body_len, 0, NULL) : NULL;
        cp_http_resp_clear(&r);
        return j;
}

static void token(const char *action, char *out, size_t size) {
        char path[300];
        snprintf(path, sizeof path, MC "/%s", action);
        json_t *j = arm("POST", path, "2026-01-01", NULL);
        const char *v = json_string_value(json_object_get(json_array_get(json_object_get(j, "kubeconfigs"), 0), "value"));
        uint8_t kc[8192];
        size_t n = 0;
        if (!v || cp_b64_decode(v, strlen(v), CP_B64_STD, kc, sizeof kc - 1, &n) < 0)
                abort();
        kc[n] = 0;
        const char *t = strstr((char *) kc, "token: "), *s = strstr((char *) kc, "/k8s/");
        if (!t || !s)
                abort();
        snprintf(out, size, "Bearer %.64s", t + 7);
        snprintf(prefix, sizeof prefix, "%.*s", (int) strcspn(s, "\n"), s);
        json_decref(j);
}

static void machine(const char *name, const char *state) {
        cp_machine m = {0};
        snprintf(m.pool, sizeof m.pool, MC "/agentPools/sys");
        snprintf(m.name, sizeof m.name, "%s", name);
        snprintf(m.handle, sizeof m.handle, "local:%s", name);
        snprintf(m.state, sizeof m.state, "%s", state);
        snprintf(m.image, sizeof m.image, "AKSUbuntu-2204gen2CVMcontainerd-202511.18.0");
        snprintf(m.ip, sizeof m.ip, "10.0.0.4");
        snprintf(m.created, sizeof m.created, "2026-01-01T00:00:00.000Z");
        char pool[400], sql[1200];
        cp_id_lower(m.pool, pool, sizeof pool);
        snprintf(sql, sizeof sql,
                 "INSERT INTO node_attestation(pool_lc, name, reason, tcb, attested_at, token_exp, heartbeat_at) "
                 "VALUES ('%s', '%s', '%s', 'bl=4', 1767225600, 1767254400, 1767225605)",
                 pool, name, strcmp(state, "Ready") ? "measurement refused" : "");
        if (cp_store_begin(store) < 0 || cp_machine_put(store, &m) < 0 || cp_store_exec(store, sql) < 0 ||
            cp_store_commit(store) < 0)
                abort();
}

static void init(void) {
        uint8_t d[32];
        unsigned n;
        char hex[65];
        if (cp_cpstore_open(":memory:", &store) < 0 || cp_rules_new(&rules) < 0)
                abort();
        EVP_Digest("fuzz", 4, d, &n, EVP_sha256(), NULL);
        cp_hex_encode(d, 32, hex);
        if (cp_token_add(store, "fuzz", hex) < 0)
                abort();
        cp_api_options o = {.store = store, .rules = rules, .base_url = "https://fuzz"};
        if (cp_api_new(&o, &api) < 0)
                abort();
        json_decref(arm("PUT", "/subscriptions/" SUB "/resourceGroups/rg", "2021-04-01", "{\"location\":\"eastus\"}"));
        json_decref(arm("PUT", MC, "2026-01-01",
                        "{\"location\":\"eastus\",\"properties\":{\"agentPoolProfiles\":[{\"name\":\"sys\","
                        "\"vmSize\":\"Standard_DC4as_v5\",\"mode\":\"System\",\"nodeTaints\":[\"a=b:NoSchedule\"]}]}}"));
        token("listClusterUserCredential", user, sizeof user);
        token("listClusterAdminCredential", admin, sizeof admin);
        machine("aks-sys-1-vmss000000", "Ready");
        machine("aks-sys-1-vmss000001", "Quarantined");
}

static void check(cp_http_response *r, const char *path) {
        if (r->stream) {
                if (r->status != 200)
                        abort();
                uint8_t buf[4096];
                if (r->stream(r->stream_ud, buf, sizeof buf, false) < 0 ||
                    r->stream(r->stream_ud, buf, sizeof buf, true) != -1)
                        abort();
                return;
        }
        fuzz_response_check(r, path, false);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (!api)
                init();
        fuzz_request f;
        if (!fuzz_request_parse(data, size, &f))
                return 0;
        char path[FUZZ_MAX_TARGET + 200];
        snprintf(path, sizeof path, "%s%s", strncmp(f.target, "/k8s/", 5) ? prefix : "", f.target);
        f.rq.path = path;
        cp_http_pair hdrs[3];
        size_t n = 0;
        static const char *const toks[] = {NULL, user, admin, "Bearer 0123"};
        if (toks[f.selector & 3])
                hdrs[n++] = (cp_http_pair){"Authorization", toks[f.selector & 3]};
        hdrs[n++] = (cp_http_pair){"Content-Type", (f.selector & 4)   ? "application/merge-patch+json"
                                                   : (f.selector & 8) ? "application/strategic-merge-patch+json"
                                                                      : "application/json"};
        if (f.selector & 16)
                hdrs[n++] = (cp_http_pair){"Accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"};
        f.rq.headers = hdrs;
        f.rq.n_headers = n;
        cp_http_response r = {0};
        cp_api_handle(api, &f.rq, &r);
        check(&r, path);
        cp_http_resp_clear(&r);
        cp_error_clear();
        fuzz_request_free(&f);
        return 0;
}
