/* SPDX-License-Identifier: Apache-2.0 */
/* The in-process node stack shared by tests/unit/test-nodes.c,
 * tests/unit/test-nodes-lifecycle.c and bench/bench-nodes.c: the local
 * backend (software AMD-SP hosts, swtpm, confpool-agent processes), the
 * attestation service, optionally the key broker (trusting attestd's issuer
 * and JWKS) with the platform's disk keys, confpoold's API + node endpoints
 * over loopback HTTP and a reconciler the caller drives synchronously.
 * Not a test executable (not named test-*.c); compiled into the targets of
 * the `foreach(t test-nodes test-nodes-lifecycle bench-nodes)` block. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "attestd/attestd.h"
#include "controlplane/cp-api.h"
#include "cp-api-testutil.h"
#include "controlplane/cp-backend-local.h"
#include "controlplane/cp-diskkeys.h"
#include "controlplane/cp-nodes.h"
#include "controlplane/cp-reconciler.h"
#include "controlplane/cp-store.h"
#include "kbsd/kbsd.h"

#define NODES_FIXTURE_ADMIN_TOKEN "platform-admin-token-0123456789"
#define NODES_FIXTURE_RELEASE_TOKEN "node-release-token-0123456789"

typedef struct nodes_fixture_options {
        const char *dir_template;  /* mkdtemp template, e.g. "/tmp/cp-nodes-XXXXXX" */
        unsigned hosts_per_generation;
        unsigned heartbeat_ms;
        bool with_kbs;             /* key broker + platform disk keys */
        int64_t vcpu_quota;        /* 0: the rules' default */
        unsigned heartbeat_deadline_ms; /* 0: the reconciler's default */
        cp_local_prepare_fn prepare;   /* test hook (may be NULL) */
        void *prepare_userdata;
        unsigned boot_workers;     /* cp_local_options.boot_workers (0: its default) */
        unsigned vtpm_pool;        /* cp_local_options.vtpm_pool (0: none) */
        int node_nice;             /* cp_local_options.node_nice */
        bool with_tdx;             /* the software TDX platform, trusted by attestd (issue 16) */
        unsigned tdx_collateral_max_age_s; /* attestd's (0: its default) */
        bool tdx_azure_hcl;        /* cp_local_options.tdx_azure_hcl: TDX nodes as Azure TDX CVMs */
} nodes_fixture_options;

typedef struct nodes_fixture {
        bool up;
        char dir[64];
        cp_store *store;
        cp_rules *rules;
        cp_backend *backend;
        cp_attestd *attestd;
        cp_kbsd *kbsd;
        cp_diskkeys *diskkeys;
        char kbs_url[64];
        cp_nodes *nodes;
        cp_api *api;
        cp_httpd *httpd;
        cp_reconciler *rec;
        char auth[128];
} nodes_fixture;

/* A node's directory and local-backend handle: both scoped by its pool
 * (cp_node_scope), never the machine name alone (issue 13). */
static inline void nodes_fixture_node_dir(const nodes_fixture *f, const char *pool_id, const char *name, char *out,
                                          size_t size) {
        char scope[17];
        cp_node_scope(pool_id, scope);
        snprintf(out, size, "%s/local/nodes/%s-%.63s", f->dir, scope, name);
}
static inline void nodes_fixture_node_handle(const char *pool_id, const char *name, char *out, size_t size) {
        char scope[17];
        cp_node_scope(pool_id, scope);
        snprintf(out, size, "local:%s/%.63s", scope, name);
}

/* Brings the stack up in a fresh temporary directory (f->dir).  On error
 * what was started is left in f for nodes_fixture_stop. */
int nodes_fixture_start(const nodes_fixture_options *o, nodes_fixture *f);
/* Stops everything (every agent and swtpm the backend started) and removes
 * the directory.  Accepts a fixture that is not up. */
void nodes_fixture_stop(nodes_fixture *f);
/* One control-plane API call as the operator; url may carry ?api-version=.
 * The response goes to resp (cleared first; a raw body is parsed into
 * resp->body when it is JSON).  Returns the HTTP status. */
unsigned nodes_fixture_call(nodes_fixture *f, const char *method, const char *url, const char *body,
                            cp_api_reply *resp);
/* Drives the reconciler (a pass, then pause_ms of sleep while something is
 * in progress) until nothing is: 0; 1 when still busy after limit_s; or a
 * pass's negative cp_err. */
int nodes_fixture_reconcile(nodes_fixture *f, double limit_s, long pause_ms);

/* For the node tests, which define NODES_FIXTURE_TEST_HELPERS before
 * including this header: the ids they use and helpers that fail the current
 * test with ASSERT_* (so header-only: bench-nodes links the fixture without
 * the test framework's main). */
#ifdef NODES_FIXTURE_TEST_HELPERS
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tests.h"

#define SUB "6a8b4c2e-1f3d-4e5a-9b7c-0d1e2f3a4b5c"
#define RGP "/subscriptions/" SUB "/resourceGroups/rg1"
#define MC RGP "/providers/Microsoft.ContainerService/managedClusters/c1"
#define AP MC "/agentPools"
#define CS "?api-version=2026-01-01"
#define RS "?api-version=2021-04-01"
#define SIZE "Standard_DC4as_v5"

/* nodes_fixture_call, and a body must be JSON. */
static inline unsigned nodes_fixture_call_json(nodes_fixture *f, const char *method, const char *url,
                                               const char *body, cp_api_reply *resp) {
        unsigned st = nodes_fixture_call(f, method, url, body, resp);
        if (resp->http.body_len)
                ASSERT_TRUE(resp->body != NULL);
        return st;
}

/* The provisioningState of pool (GET must answer 200). */
static inline const char *nodes_fixture_pool_state(nodes_fixture *f, cp_api_reply *resp, const char *pool) {
        char url[512];
        snprintf(url, sizeof url, AP "/%s" CS, pool);
        ASSERT_EQ(nodes_fixture_call_json(f, "GET", url, NULL, resp), 200);
        return json_string_value(json_object_get(json_object_get(resp->body, "properties"), "provisioningState"));
}

/* PUT pool with count nodes of SIZE, mode User (200 or 201). */
static inline void nodes_fixture_put_pool(nodes_fixture *f, cp_api_reply *resp, const char *pool, int count) {
        char url[512], body[256];
        snprintf(url, sizeof url, AP "/%s" CS, pool);
        snprintf(body, sizeof body, "{\"properties\":{\"count\":%d,\"vmSize\":\"" SIZE "\",\"mode\":\"User\"}}",
                 count);
        unsigned st = nodes_fixture_call_json(f, "PUT", url, body, resp);
        ASSERT_TRUE(st == 200 || st == 201);
}

/* Clears resp and stops the fixture: a test's atexit teardown. */
static inline void nodes_fixture_teardown(nodes_fixture *f, cp_api_reply *resp) {
        cp_api_reply_clear(resp);
        nodes_fixture_stop(f);
}

static inline void nodes_fixture_nap(long ms) {
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
}

/* Whether something listens on the port of url ("http://127.0.0.1:PORT..."). */
static inline bool nodes_fixture_listening(const char *url) {
        unsigned port = 0;
        ASSERT_EQ(sscanf(url, "http://127.0.0.1:%u", &port), 1);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t) port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        bool ok = connect(fd, (struct sockaddr *) &a, sizeof a) == 0;
        close(fd);
        return ok;
}
#endif
