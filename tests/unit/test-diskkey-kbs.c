/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's secure key release from the key broker (src/agent/diskkey-kbs.c)
 * against a stand-in broker on loopback that answers a script of statuses:
 * a broker away or not ready (429, 5xx, no listener) is tried again a
 * second later, up to the configured tries; a refusal (4xx) is final at
 * once; a stop request (SIGTERM in the agent) ends the retries.  Before, any
 * answer but 200 failed the node's boot (its disk key never released while
 * the broker restarted, or while its key cache could not check the token:
 * 503).
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "agent/diskkey.h"
#include "service/httpd.h"
#include "tests.h"

typedef struct broker {
        unsigned script[8]; /* the statuses of the first requests; then the last one again */
        size_t n;
        atomic_uint requests;
        cp_httpd *httpd;
        char url[64];
} broker;

static void serve(void *userdata, const cp_http_request *req, cp_http_response *resp) {
        broker *b = userdata;
        unsigned i = atomic_fetch_add(&b->requests, 1);
        unsigned st = b->script[i < b->n ? i : b->n - 1];
        if (strcmp(req->path, "/disks/d1/release") != 0)
                st = 404;
        if (cp_http_resp_json(resp, st, json_pack("{s:{s:s,s:s}}", "error", "code", "Scripted", "message", "scripted")) < 0)
                resp->status = 500;
}

static void broker_start(broker *b) {
        cp_httpd_options ho = {.bind_addr = "127.0.0.1", .threads = 1};
        ASSERT_OK(cp_httpd_start(&ho, serve, b, &b->httpd));
        snprintf(b->url, sizeof b->url, "http://127.0.0.1:%u", (unsigned) cp_httpd_port(b->httpd));
}

static int release(broker *b, unsigned tries, const volatile sig_atomic_t *stop) {
        cp_diskkey_kbs_config c = {.url = b->url, .disk_id = "d1", .release_token = "release-token-0123456789",
                                   .tries = tries, .stop = stop};
        cp_diskkey_provider p;
        cp_diskkey_kbs(&c, &p);
        uint8_t key[CP_DISK_KEY_LEN];
        atomic_store(&b->requests, 0);
        return p.release(p.userdata, "a.b.c", "node-1", key);
}

static volatile sig_atomic_t stop_soon;
static broker *stop_later;

/* Sets stop_soon once the broker has answered once (the release is waiting). */
static void *set_stop_soon(void *arg) {
        (void) arg;
        while (atomic_load(&stop_later->requests) < 1)
                usleep(10 * 1000);
        usleep(200 * 1000);
        stop_soon = 1;
        return NULL;
}

TEST(release_retries_a_broker_away_and_stops_at_a_refusal) {
        broker b = {.script = {503, 429, 502, 403}, .n = 4};
        broker_start(&b);
        /* 503, 429, 502: not a verdict, tried again; 403: final */
        ASSERT_ERR(release(&b, 10, NULL), CP_EPOLICY);
        ASSERT_EQ(atomic_load(&b.requests), 4);
        ASSERT_TRUE(strstr(cp_error_message(), "HTTP 403") != NULL);
        /* always 503: as many requests as tries, then CP_ENETWORK (the caller's transient) */
        b.script[0] = 503;
        b.n = 1;
        ASSERT_ERR(release(&b, 3, NULL), CP_ENETWORK);
        ASSERT_EQ(atomic_load(&b.requests), 3);
        ASSERT_TRUE(strstr(cp_error_message(), "unavailable") != NULL);
        /* tries 0 is one attempt */
        ASSERT_ERR(release(&b, 0, NULL), CP_ENETWORK);
        ASSERT_EQ(atomic_load(&b.requests), 1);
        /* asked to stop: no further attempt */
        static volatile sig_atomic_t stop = 1;
        ASSERT_ERR(release(&b, 10, &stop), CP_ENETWORK);
        ASSERT_EQ(atomic_load(&b.requests), 1);
        /* asked to stop during the wait after the first failure (SIGTERM): no second request */
        stop_later = &b;
        pthread_t t;
        ASSERT_EQ(pthread_create(&t, NULL, set_stop_soon, NULL), 0);
        ASSERT_ERR(release(&b, 10, &stop_soon), CP_ENETWORK);
        ASSERT_EQ(pthread_join(t, NULL), 0);
        ASSERT_EQ(atomic_load(&b.requests), 1);
        ASSERT_TRUE(strstr(cp_error_message(), "stopped") != NULL);
        /* a refusal at once: one request */
        b.script[0] = 404;
        ASSERT_ERR(release(&b, 10, NULL), CP_EPOLICY);
        ASSERT_EQ(atomic_load(&b.requests), 1);
        /* no broker listening (it restarts): a transport error, tried again (port 1:
         * nothing listens there; the stopped broker's port could be another test's by now) */
        b.httpd = cp_httpd_stop(b.httpd);
        cp_diskkey_kbs_config c = {.url = "http://127.0.0.1:1", .disk_id = "d1", .release_token = "release-token-0123456789",
                                   .tries = 2};
        cp_diskkey_provider p;
        cp_diskkey_kbs(&c, &p);
        uint8_t key[CP_DISK_KEY_LEN];
        ASSERT_ERR(p.release(p.userdata, "a.b.c", "node-1", key), CP_ENETWORK);
}
