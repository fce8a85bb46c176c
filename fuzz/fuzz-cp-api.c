/* SPDX-License-Identifier: Apache-2.0 */
/* confpoold's router end to end on an in-memory store: input = one byte
 * selecting the method, a path line (relative paths are under a test
 * cluster), then the request body.  Also feeds the node image parser, the
 * Kubernetes version parser and the maxSurge parser. */
#include <openssl/evp.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "basic/codec.h"
#include "basic/limits.h"
#include "controlplane/cp-api.h"
#include "controlplane/cp-reconciler.h"
#include "controlplane/cp-store.h"
#include "fuzz-request.h"

#define SUB "6a8b4c2e-1f3d-4e5a-9b7c-0d1e2f3a4b5c"
#define MC "/subscriptions/" SUB "/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/mc"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cp_store *store;
static cp_rules *rules;
static cp_api *api;

static void request(const char *method, const char *path, const char *ver, const uint8_t *body, size_t len) {
        const cp_http_pair hdrs[] = {{"Authorization", "Bearer fuzz"}, {"Host", "fuzz"}};
        const cp_http_pair query[] = {{"api-version", ver}};
        cp_http_request rq = {.method = method, .path = path, .body = body, .body_len = len, .headers = hdrs,
                              .n_headers = 2, .query = query, .n_query = 1};
        cp_http_response r = {0};
        cp_api_handle(api, &rq, &r);
        if (r.status < 200 || r.status > 599)
                abort();
        json_t *j = r.body_len ? json_loadb((const char *) r.body, r.body_len, 0, NULL) : NULL;
        if (r.body_len && !j)
                abort(); /* every body is valid JSON (raw lists included) */
        /* every error carries its envelope: ARM's {"error": ...}, or under
         * a cluster's Kubernetes API (/k8s/...) kube-apiserver's Status */
        if (r.status >= 400 && !fuzz_error_envelope_ok(j, path, r.status))
                abort();
        json_decref(j);
        cp_http_resp_clear(&r);
}

static void init(void) {
        if (cp_cpstore_open(":memory:", &store) < 0 || cp_rules_new(&rules) < 0)
                abort();
        uint8_t d[32];
        unsigned n;
        char hex[65];
        EVP_Digest("fuzz", 4, d, &n, EVP_sha256(), NULL);
        cp_hex_encode(d, 32, hex);
        hex[64] = 0;
        if (cp_token_add(store, "fuzz", hex) < 0)
                abort();
        cp_api_options o = {.store = store, .rules = rules, .base_url = "http://fuzz"};
        if (cp_api_new(&o, &api) < 0)
                abort();
        static const char rg[] = "{\"location\":\"eastus\"}";
        static const char mc[] = "{\"location\":\"eastus\",\"properties\":{\"agentPoolProfiles\":[{\"name\":\"sys\","
                                 "\"vmSize\":\"Standard_D4s_v5\",\"mode\":\"System\"}]}}";
        request("PUT", "/subscriptions/" SUB "/resourceGroups/rg", "2021-04-01", (const uint8_t *) rg, strlen(rg));
        request("PUT", MC, "2026-01-01", (const uint8_t *) mc, strlen(mc));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const char *const methods[] = {"GET", "PUT", "POST", "DELETE", "PATCH"};
        if (!api)
                init();
        if (size < 1)
                return 0;
        const char *method = methods[data[0] % 5];
        size_t i = 1;
        while (i < size && data[i] != '\n' && i < 600)
                i++;
        char rel[700], path[1400];
        memcpy(rel, data + 1, i - 1);
        rel[i - 1] = 0;
        if (strlen(rel) != i - 1)
                return 0; /* NUL in the path: HTTP servers never pass those */
        snprintf(path, sizeof path, "%s%s", rel[0] == '/' ? "" : MC "/agentPools/", rel);
        const uint8_t *body = i < size ? data + i + 1 : NULL;
        size_t blen = i < size ? size - i - 1 : 0;
        request(method, path, "2026-01-01", body, blen);

        /* the small parsers on the same bytes */
        char s[256];
        size_t n = blen < sizeof s - 1 ? blen : sizeof s - 1;
        if (body)
                memcpy(s, body, n);
        s[n] = 0;
        cp_node_image im;
        unsigned a, b;
        int p;
        if (cp_node_image_parse(s, &im) == 0 && (!im.gallery[0] || !im.definition[0] || strlen(im.version) < 11))
                abort();
        if (cp_k8s_parse(s, &a, &b, &p) == 0 && a > 99)
                abort();
        long surge = 0;
        if (cp_max_surge(s, (long) n, &surge) == 0 && (surge < 1 || surge > (long) CP_MAX_SURGE_NODES))
                abort(); /* upgradeSettings.maxSurge: at least 1, at most the limit (n <= 255 nodes) */
        cp_error_clear();
        /* keep the store small: drop pools and operations, keep the cluster */
        if (cp_store_exec(store, "DELETE FROM operations; DELETE FROM machines; "
                                 "DELETE FROM resources WHERE kind = 'pool' AND name <> 'sys';") < 0)
                abort();
        return 0;
}
