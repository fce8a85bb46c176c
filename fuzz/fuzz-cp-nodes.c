/* SPDX-License-Identifier: Apache-2.0 */
/* confpoold's node endpoints (POST <pool id>/machines/{m}/register and
 * /heartbeat, cp-api-nodes.c) through its router, in-process: the path,
 * the Authorization header, the attestation token's validation against the
 * attestation service's JWKS (fetched from a loopback stand-in serving this
 * target's key), and the claims through admission (cp_nodes_admit: machine
 * binding, host data, measurement, debug, TCB).  Input: fuzz-request.h; a
 * path not starting with "/" is relative to <pool sys>/machines/.
 * Selector bits 0-1: no Authorization; the body as a raw bearer token; the
 * body as a token payload signed here with the trusted key (the claims
 * reach admission); a Basic header.  Bit 2: "HOSTDATA" in the payload
 * becomes machine m0's host data (hex), so the binding check can pass.
 * The machine is put back to Provisioning after every input.  Every
 * response is well formed; no input is a 5xx but the 503 of a token whose
 * key the JWKS cache cannot check yet (not_checked_now). */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/codec.h"
#include "confpool/jwt.h"
#include "controlplane/cp-api.h"
#include "controlplane/cp-nodes.h"
#include "controlplane/cp-store.h"
#include "fuzz-request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SUB "6a8b4c2e-1f3d-4e5a-9b7c-0d1e2f3a4b5c"
#define MC "/subscriptions/" SUB "/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/mc"
#define POOL MC "/agentPools/sys"

static cp_store *store;
static cp_rules *rules;
static cp_backend *backend;
static cp_nodes *nodes;
static cp_api *api;
static cp_httpd *jwks_srv;
static cp_jwt_key *key;
static cp_jwt_signer *signer;
static char *jwks;
static char host_data_hex[65];

/* The fake backend has no node images: every image of this target
 * measures 0x11 x 48 (the seeds' x-ms-sevsnpvm-launchmeasurement). */
static cp_backend_ops fuzz_ops;
static int fuzz_measurement(cp_backend *b, const cp_node_spec *spec, uint8_t ret[48]) {
        (void) b;
        (void) spec;
        memset(ret, 0x11, 48);
        return 0;
}

static void serve_jwks(void *ud, const cp_http_request *req, cp_http_response *resp) {
        (void) ud;
        if (strcmp(req->path, "/certs") != 0 || cp_http_resp_bytes(resp, 200, "application/json", jwks, strlen(jwks)) < 0)
                resp->status = 404;
}

/* The one 5xx a node endpoint gives to its input: 503 when the attestation
 * service's keys cannot say yet (an unknown kid within the JWKS cache's
 * interval after another unknown kid: not a verdict, the agent tries again;
 * jwks-cache.h).  Anything else at 5xx is a bug. */
static bool not_checked_now(const cp_http_response *r) {
        if (r->status != 503)
                return false;
        json_t *j = r->body_len ? json_loadb((const char *) r->body, r->body_len, 0, NULL) : NULL;
        const json_t *e = json_object_get(j, "error");
        const char *code = json_string_value(json_object_get(e, "code")),
                   *msg = json_string_value(json_object_get(e, "message"));
        bool ok = code && !strcmp(code, "ServiceUnavailable") && msg &&
                  !strncmp(msg, "The attestation token cannot be checked now: ", 45);
        json_decref(j);
        return ok;
}

static void call(const cp_http_request *rq, bool check) {
        cp_http_response r = { 0 };
        cp_api_handle(api, rq, &r);
        if (check)
                fuzz_response_check(&r, rq->path, not_checked_now(&r));
        cp_http_resp_clear(&r);
        cp_error_clear();
}

static void put(const char *path, const char *ver, const char *body) {
        const cp_http_pair h[] = { { "Authorization", "Bearer fuzz" } }, q[] = { { "api-version", ver } };
        cp_http_request rq = { .method = "PUT", .path = path, .body = (const uint8_t *) body, .body_len = strlen(body),
                               .headers = h, .n_headers = 1, .query = q, .n_query = 1, .remote_addr = "127.0.0.1" };
        call(&rq, false);
}

static void reset_machine(void) {
        cp_machine m = { .index = 0 };
        snprintf(m.pool, sizeof m.pool, "%s", POOL);
        snprintf(m.name, sizeof m.name, "m0");
        snprintf(m.state, sizeof m.state, "Provisioning");
        snprintf(m.handle, sizeof m.handle, "fake:0:0:sys/m0");
        cp_store_lock(store);
        int r = cp_machine_put(store, &m);
        cp_store_unlock(store);
        if (r < 0)
                abort();
}

static void init(void) {
        json_t *jwk = NULL;
        cp_httpd_options ho = { .threads = 1 };
        char url[64], hex[65];
        uint8_t d[32], hd[32];
        unsigned dn;
        if (cp_jwt_key_generate(CP_JWT_ES256, NULL, 0, 30, &key) < 0 || cp_jwt_key_to_jwk(key, &jwk) < 0 ||
            cp_jwt_signer_new(key, NULL, &signer) < 0)
                abort();
        json_t *set = json_pack("{s:[o]}", "keys", jwk);
        jwks = json_dumps(set, JSON_COMPACT);
        json_decref(set);
        if (cp_httpd_start(&ho, serve_jwks, NULL, &jwks_srv) < 0)
                abort();
        snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned) cp_httpd_port(jwks_srv));
        if (cp_cpstore_open(":memory:", &store) < 0 || cp_rules_new(&rules) < 0 ||
            cp_backend_fake_new(0, NULL, NULL, &backend) < 0)
                abort();
        fuzz_ops = *backend->ops;
        fuzz_ops.expected_measurement = fuzz_measurement;
        backend->ops = &fuzz_ops;
        cp_nodes_options no = { .store = store, .backend = backend, .attestd_url = url, .issuer = "https://attestd.fuzz" };
        if (cp_nodes_new(&no, &nodes) < 0)
                abort();
        EVP_Digest("fuzz", 4, d, &dn, EVP_sha256(), NULL);
        cp_hex_encode(d, 32, hex);
        hex[64] = 0;
        if (cp_token_add(store, "fuzz", hex) < 0)
                abort();
        cp_api_options o = { .store = store, .rules = rules, .base_url = "http://fuzz", .nodes = nodes };
        if (cp_api_new(&o, &api) < 0)
                abort();
        put("/subscriptions/" SUB "/resourceGroups/rg", "2021-04-01", "{\"location\":\"eastus\"}");
        put(MC, "2026-01-01",
            "{\"location\":\"eastus\",\"properties\":{\"agentPoolProfiles\":[{\"name\":\"sys\","
            "\"vmSize\":\"Standard_DC4as_v5\",\"mode\":\"System\"}]}}");
        if (cp_node_host_data(POOL, "m0", hd) < 0)
                abort();
        cp_hex_encode(hd, 32, host_data_hex);
        host_data_hex[64] = 0;
        reset_machine();
}

/* The payload with every "HOSTDATA" replaced (malloc()ed). */
static char *with_host_data(const char *p) {
        size_t n = strlen(p), cap = n * 8 + 1, o = 0;
        char *out = malloc(cap);
        if (!out)
                abort();
        for (size_t i = 0; i < n;) {
                if (strncmp(p + i, "HOSTDATA", 8) == 0) {
                        memcpy(out + o, host_data_hex, 64);
                        o += 64;
                        i += 8;
                } else
                        out[o++] = p[i++];
        }
        out[o] = 0;
        return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (!api)
                init();
        fuzz_request f;
        if (!fuzz_request_parse(data, size, &f))
                return 0;
        char path[FUZZ_MAX_TARGET + 700], *auth = NULL, *tok = NULL;
        snprintf(path, sizeof path, "%s%s", f.target[0] == '/' ? "" : POOL "/machines/", f.target);
        f.rq.path = path;
        char *payload = (f.selector & 4) ? with_host_data((const char *) f.body) : strdup((const char *) f.body);
        switch (f.selector & 3) {
        case 1:
                if (asprintf(&auth, "Bearer %s", payload) < 0)
                        abort();
                break;
        case 2:
                if (cp_jwt_signer_sign(signer, payload, strlen(payload), &tok) < 0)
                        cp_error_clear();
                else if (asprintf(&auth, "Bearer %s", tok) < 0)
                        abort();
                break;
        case 3: auth = strdup("Basic Zm9vOmJhcg=="); break;
        default: break;
        }
        cp_http_pair h[1];
        if (auth) {
                h[0] = (cp_http_pair){ "Authorization", auth };
                f.rq.headers = h;
                f.rq.n_headers = 1;
        }
        f.rq.body = NULL; /* the agents send no body; what matters is in the token */
        f.rq.body_len = 0;
        call(&f.rq, true);
        reset_machine();
        free(auth);
        free(tok);
        free(payload);
        fuzz_request_free(&f);
        return 0;
}
