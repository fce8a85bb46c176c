/* SPDX-License-Identifier: Apache-2.0 */
/*
 * confpoold API throughput on loopback, against a baseline measured in the
 * same run: the same shared HTTP server (src/service/httpd) serving a static
 * file (an agent pool JSON document read from disk once).  Workloads:
 *   baseline   GET of the static file
 *   get-pool   GET one agent pool (auth, api-version, SQLite read, JSON)
 *   list-1000  GET the agent pool list of a cluster with 1,000 pools
 *   put-valid  PUT of a CVM pool that passes every rule and is refused by
 *              the last one, the vCPU quota summed over the 1,000 pools
 *              (ErrCode_InsufficientVCPUQuota, checked before the run):
 *              the whole validation path, no write.  (Before issue 20 it
 *              was refused for FIPS, the first CVM rule, and skipped the
 *              version, image and quota checks.)
 * Clients: N threads, each one keep-alive libcurl handle.
 * Usage: bench-cp-api [seconds-per-workload (default 2)] [client-threads (default 2)]
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "controlplane/cp-api.h"
#include "controlplane/cp-store.h"

#define SUB "6a8b4c2e-1f3d-4e5a-9b7c-0d1e2f3a4b5c"
#define MC "/subscriptions/" SUB "/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/mc"

static uint8_t *static_file;
static size_t static_len;

static void static_handler(void *ud, const cp_http_request *req, cp_http_response *resp) {
        (void) ud;
        (void) req;
        if (cp_http_resp_bytes(resp, 200, "application/json; charset=utf-8", static_file, static_len) < 0)
                abort();
}

typedef struct job {
        const char *url;
        const char *method;
        const char *body;
        const char *auth;
        long expect;
        double seconds;
        unsigned long done;
        unsigned long bad;
} job;

static size_t sink(char *p, size_t s, size_t n, void *ud) {
        (void) p;
        (void) ud;
        return s * n;
}

static void *client(void *ud) {
        job *j = ud;
        CURL *c = curl_easy_init();
        struct curl_slist *h = NULL;
        char auth[256];
        if (j->auth) {
                snprintf(auth, sizeof auth, "Authorization: Bearer %s", j->auth);
                h = curl_slist_append(h, auth);
        }
        h = curl_slist_append(h, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_URL, j->url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, j->method);
        if (j->body)
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, j->body);
        struct timespec t0, t;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (;;) {
                long code = 0;
                if (curl_easy_perform(c) != CURLE_OK ||
                    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK || code != j->expect)
                        j->bad++;
                j->done++;
                clock_gettime(CLOCK_MONOTONIC, &t);
                if ((double) (t.tv_sec - t0.tv_sec) + (double) (t.tv_nsec - t0.tv_nsec) / 1e9 >= j->seconds)
                        break;
        }
        curl_slist_free_all(h);
        curl_easy_cleanup(c);
        return NULL;
}

static double run(const char *name, const char *url, const char *method, const char *body, const char *auth,
                  long expect, double seconds, unsigned threads) {
        job jobs[16];
        pthread_t th[16];
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (unsigned i = 0; i < threads; i++) {
                jobs[i] = (job){.url = url, .method = method, .body = body, .auth = auth, .expect = expect, .seconds = seconds};
                pthread_create(&th[i], NULL, client, &jobs[i]);
        }
        unsigned long done = 0, bad = 0;
        for (unsigned i = 0; i < threads; i++) {
                pthread_join(th[i], NULL);
                done += jobs[i].done;
                bad += jobs[i].bad;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double el = (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;
        double rps = (double) done / el;
        printf("%-10s %9.0f req/s  %8.3f ms/req  (%lu requests, %lu unexpected)\n", name, rps,
               1000.0 * el * threads / (double) done, done, bad);
        if (bad)
                exit(1);
        return rps;
}

static void api_call(cp_api *api, const char *auth, const char *method, const char *path, const char *ver,
                     const char *body, unsigned expect, json_t **ret) {
        const cp_http_pair hdrs[] = {{"Authorization", auth}};
        const cp_http_pair query[] = {{"api-version", ver}};
        cp_http_request rq = {.method = method, .path = path, .body = (const uint8_t *) body,
                              .body_len = body ? strlen(body) : 0, .headers = hdrs, .n_headers = 1, .query = query,
                              .n_query = 1};
        cp_http_response r = {0};
        cp_api_handle(api, &rq, &r);
        if (r.status != expect) {
                fprintf(stderr, "setup %s %s: %u\n", method, path, r.status);
                exit(1);
        }
        if (ret)
                *ret = json_loadb((const char *) r.body, r.body_len, 0, NULL);
        cp_http_resp_clear(&r);
}

int main(int argc, char **argv) {
        double seconds = argc > 1 ? atof(argv[1]) : 2.0;
        unsigned threads = argc > 2 ? (unsigned) atoi(argv[2]) : 2;
        if (seconds <= 0 || threads < 1 || threads > 16)
                return 2;
        char dir[] = "/tmp/bench-cp-api-XXXXXX";
        if (!mkdtemp(dir))
                return 1;
        char db[128], cmd[160];
        snprintf(db, sizeof db, "%s/confpoold.db", dir);
        cp_store *store = NULL;
        cp_rules *rules = NULL;
        cp_api *api = NULL;
        /* 12,000 vCPUs: the 1,000 pools of 3 x 4 vCPUs (and the system pool)
         * leave less than a new pool's 12, so put-valid ends at the quota */
        json_t *cfg = json_pack("{s:{s:i}}", "vcpuQuota", "default", 12000);
        cp_api_options ao = {.state_dir = dir};
        if (cp_cpstore_open(db, &store) < 0 || cp_rules_new(&rules) < 0 || cp_rules_load_json(rules, cfg) < 0)
                goto fail;
        json_decref(cfg);
        ao.store = store;
        ao.rules = rules;
        if (cp_api_new(&ao, &api) < 0)
                goto fail;
        char tokpath[160], tok[128] = "", auth[160];
        snprintf(tokpath, sizeof tokpath, "%s/operator.token", dir);
        FILE *f = fopen(tokpath, "r");
        if (!f || fscanf(f, "%127s", tok) != 1)
                goto fail;
        fclose(f);
        snprintf(auth, sizeof auth, "Bearer %s", tok);

        /* a cluster with 1,000 pools: one through the API, the rest copied into the store */
        api_call(api, auth, "PUT", "/subscriptions/" SUB "/resourceGroups/rg", "2021-04-01", "{\"location\":\"eastus\"}", 201, NULL);
        api_call(api, auth, "PUT", MC, "2026-01-01",
                 "{\"location\":\"eastus\",\"properties\":{\"agentPoolProfiles\":[{\"name\":\"sys\",\"vmSize\":"
                 "\"Standard_D4s_v5\",\"mode\":\"System\"}]}}",
                 201, NULL);
        json_t *pool = NULL;
        api_call(api, auth, "PUT", MC "/agentPools/cvm0", "2026-01-01",
                 "{\"properties\":{\"count\":3,\"vmSize\":\"Standard_DC4as_v5\"}}", 201, &pool);
        if (cp_store_begin(store) < 0)
                goto fail;
        for (int i = 1; i < 999; i++) {
                char name[16], id[300];
                snprintf(name, sizeof name, "cvm%d", i);
                snprintf(id, sizeof id, MC "/agentPools/%s", name);
                json_t *d = json_deep_copy(pool);
                json_object_set_new(d, "id", json_string(id));
                json_object_set_new(d, "name", json_string(name));
                cp_res_key k = {.id = id, .kind = "pool", .sub = SUB, .rg = "rg", .parent = MC, .name = name, .location = "eastus"};
                if (cp_res_put(store, &k, d, "etag") < 0)
                        goto fail;
                json_decref(d);
        }
        if (cp_store_commit(store) < 0)
                goto fail;
        /* the baseline file: the same pool document, from disk */
        char *doc = json_dumps(pool, JSON_COMPACT);
        char fpath[160];
        snprintf(fpath, sizeof fpath, "%s/pool.json", dir);
        if (cp_write_file(fpath, doc, strlen(doc), 0644) < 0 ||
            cp_read_file(fpath, 1 << 20, &static_file, &static_len) < 0)
                goto fail;
        free(doc);
        json_decref(pool);

        cp_httpd *d1 = NULL, *d2 = NULL;
        cp_httpd_options ho = {.threads = 2};
        if (cp_httpd_start(&ho, static_handler, NULL, &d1) < 0 || cp_httpd_start(&ho, cp_api_handle, api, &d2) < 0)
                goto fail;
        char base1[64], base2[64], u[512];
        snprintf(base1, sizeof base1, "http://127.0.0.1:%u", cp_httpd_port(d1));
        snprintf(base2, sizeof base2, "http://127.0.0.1:%u", cp_httpd_port(d2));
        curl_global_init(CURL_GLOBAL_DEFAULT);
        printf("bench-cp-api: %u client threads, %u server threads, %.1f s per workload, 1,000 pools\n", threads, 2u,
               seconds);
        snprintf(u, sizeof u, "%s/pool.json", base1);
        double base = run("baseline", u, "GET", NULL, NULL, 200, seconds, threads);
        snprintf(u, sizeof u, "%s" MC "/agentPools/cvm0?api-version=2026-01-01", base2);
        double get = run("get-pool", u, "GET", NULL, tok, 200, seconds, threads);
        snprintf(u, sizeof u, "%s" MC "/agentPools?api-version=2026-01-01", base2);
        double list = run("list-1000", u, "GET", NULL, tok, 200, seconds, threads);
        snprintf(u, sizeof u, "%s" MC "/agentPools/newpool?api-version=2026-01-01", base2);
        static const char put_body[] = "{\"properties\":{\"count\":3,\"vmSize\":\"Standard_DC4as_v5\"}}";
        json_t *refusal = NULL; /* the refusal is the last rule's */
        api_call(api, auth, "PUT", MC "/agentPools/newpool", "2026-01-01", put_body, 400, &refusal);
        const char *code = json_string_value(json_object_get(json_object_get(refusal, "error"), "code"));
        if (!code || strcmp(code, "ErrCode_InsufficientVCPUQuota") != 0) {
                fprintf(stderr, "bench-cp-api: put-valid refused with %s, not by the quota (the last rule)\n",
                        code ? code : "(no code)");
                return 1;
        }
        json_decref(refusal);
        double put = run("put-valid", u, "PUT", put_body, tok, 400, seconds, threads);
        printf("ratio vs static baseline: get-pool %.3f, list-1000 %.4f, put-valid %.4f\n", get / base, list / base,
               put / base);
        cp_httpd_stop(d1);
        cp_httpd_stop(d2);
        curl_global_cleanup();
        cp_api_free(api);
        cp_store_close(store);
        cp_rules_free(rules);
        free(static_file);
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        return system(cmd) == 0 ? 0 : 1;
fail:
        fprintf(stderr, "bench-cp-api: %s\n", cp_error_message());
        return 1;
}
