/* SPDX-License-Identifier: Apache-2.0 */
/* The shared HTTP server and client, against each other on loopback. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "service/httpc.h"
#include "raw-http.h"
#include "service/httpd.h"
#include "tests.h"

/* A streamed body: "a\n" at once, nothing for ~300 ms (the connection is
 * suspended and polled), then "b\n" and the end; /forever never ends. */
typedef struct stream_state {
        int step;
        bool forever;
        struct timespec t0;
        int *freed;
} stream_state;

static long stream_fn(void *ud, uint8_t *buf, size_t max, bool stopping) {
        stream_state *s = ud;
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long ms = (now.tv_sec - s->t0.tv_sec) * 1000 + (now.tv_nsec - s->t0.tv_nsec) / 1000000;
        if (stopping || max < 2)
                return -1;
        if (s->step == 0) {
                s->step = 1;
                memcpy(buf, "a\n", 2);
                return 2;
        }
        if (s->forever || ms < 300)
                return 0;
        if (s->step == 1) {
                s->step = 2;
                memcpy(buf, "b\n", 2);
                return 2;
        }
        return -1;
}

static int streams_freed;

static void stream_free_fn(void *ud) {
        stream_state *s = ud;
        __atomic_add_fetch(s->freed, 1, __ATOMIC_SEQ_CST);
        free(s);
}

static void handler(void *userdata, const cp_http_request *req, cp_http_response *resp) {
        unsigned *count = userdata;
        if (!strcmp(req->path, "/stream") || !strcmp(req->path, "/forever")) {
                stream_state *s = calloc(1, sizeof *s);
                s->forever = !strcmp(req->path, "/forever");
                s->freed = &streams_freed;
                clock_gettime(CLOCK_MONOTONIC, &s->t0);
                resp->status = 200;
                snprintf(resp->content_type, sizeof resp->content_type, "application/json");
                resp->stream = stream_fn;
                resp->stream_ud = s;
                resp->stream_free = stream_free_fn;
                return;
        }
        __atomic_add_fetch(count, 1, __ATOMIC_SEQ_CST);
        char caps[2][256];
        if (cp_http_path_match("/echo/{a}/x/{b}", req->path, true, caps, 2)) {
                const char *q = cp_http_req_query(req, "api-version");
                const char *h = cp_http_req_header(req, "X-Test");
                json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s%,s:s}", "method", req->method, "a", caps[0], "b",
                                      caps[1], "api", q ? q : "", "hdr", h ? h : "", "body",
                                      req->body ? (const char *) req->body : "", req->body_len, "remote",
                                      req->remote_addr);
                if (cp_http_resp_json(resp, 200, o) < 0 || cp_http_resp_header(resp, "ETag", "\"1\"") < 0)
                        resp->status = 500;
                return;
        }
        if (!strcmp(req->path, "/auth")) {
                const char *a = cp_http_req_header(req, "Authorization");
                char n[32];
                snprintf(n, sizeof(n), "%zu", a ? strlen(a) : 0);
                if (cp_http_resp_text(resp, 200, n) < 0)
                        resp->status = 500;
                return;
        }
        if (!strcmp(req->path, "/silent"))
                return; /* no response: the server answers 500 */
        if (cp_http_resp_text(resp, 404, "not found") < 0)
                resp->status = 500;
}

static cp_httpd *start(const cp_httpd_options *o, unsigned *count, char *base, size_t cap, const char *scheme) {
        cp_httpd *d = NULL;
        ASSERT_OK(cp_httpd_start(o, handler, count, &d));
        ASSERT_TRUE(cp_httpd_port(d) != 0);
        snprintf(base, cap, "%s://127.0.0.1:%u", scheme, cp_httpd_port(d));
        return d;
}

TEST(path_match_rules) {
        char caps[3][256];
        ASSERT_TRUE(cp_http_path_match("/subscriptions/{s}/resourceGroups/{g}", "/subscriptions/abc/resourcegroups/rg1",
                                       true, caps, 3));
        ASSERT_STREQ(caps[0], "abc");
        ASSERT_STREQ(caps[1], "rg1");
        ASSERT_FALSE(cp_http_path_match("/subscriptions/{s}/resourceGroups/{g}",
                                        "/subscriptions/abc/resourcegroups/rg1", false, caps, 3));
        ASSERT_TRUE(cp_http_path_match("/a/{x}", "/a/b/", true, caps, 3));
        ASSERT_FALSE(cp_http_path_match("/a/{x}", "/a/", true, caps, 3));
        ASSERT_FALSE(cp_http_path_match("/a/{x}", "/a/b/c", true, caps, 3));
        ASSERT_FALSE(cp_http_path_match("/a/{x}/{y}", "/a/b/c", true, caps, 1)); /* too few capture slots */
        ASSERT_FALSE(cp_http_path_match("/a", "/ab", true, caps, 3));
}

TEST(request_response_roundtrip) {
        unsigned count = 0;
        char base[64], url[256];
        cp_httpd_options o = { .max_body = 1024 };
        cp_httpd *d = start(&o, &count, base, sizeof(base), "http");
        snprintf(url, sizeof(url), "%s/echo/one/x/two?api-version=2026-01-01", base);
        const char *hdrs[] = { "X-Test: hello", NULL };
        cp_httpc_response r;
        ASSERT_OK(cp_httpc_request(NULL, "PUT", url, hdrs, "{\"k\":1}", 7, &r));
        ASSERT_EQ(r.status, 200);
        ASSERT_STREQ(r.etag, "\"1\"");
        ASSERT_TRUE(r.content_type && strstr(r.content_type, "application/json"));
        json_t *j = NULL;
        ASSERT_OK(cp_httpc_response_json(&r, &j));
        ASSERT_STREQ(json_string_value(json_object_get(j, "method")), "PUT");
        ASSERT_STREQ(json_string_value(json_object_get(j, "a")), "one");
        ASSERT_STREQ(json_string_value(json_object_get(j, "b")), "two");
        ASSERT_STREQ(json_string_value(json_object_get(j, "api")), "2026-01-01");
        ASSERT_STREQ(json_string_value(json_object_get(j, "hdr")), "hello");
        ASSERT_STREQ(json_string_value(json_object_get(j, "body")), "{\"k\":1}");
        ASSERT_STREQ(json_string_value(json_object_get(j, "remote")), "127.0.0.1");
        json_decref(j);
        cp_httpc_response_clear(&r);

        /* body over the limit: 413 with the ARM error envelope */
        char *big = malloc(4096);
        memset(big, 'a', 4096);
        ASSERT_OK(cp_httpc_request(NULL, "POST", url, NULL, big, 4096, &r));
        ASSERT_EQ(r.status, 413);
        ASSERT_TRUE(strstr((const char *) r.body, "RequestEntityTooLarge") != NULL);
        cp_httpc_response_clear(&r);
        free(big);

        snprintf(url, sizeof(url), "%s/nowhere", base);
        ASSERT_OK(cp_httpc_request(NULL, "GET", url, NULL, NULL, 0, &r));
        ASSERT_EQ(r.status, 404);
        ASSERT_ERR(cp_httpc_response_json(&r, &j), CP_EFORMAT);
        cp_httpc_response_clear(&r);
        snprintf(url, sizeof(url), "%s/silent", base);
        ASSERT_OK(cp_httpc_request(NULL, "GET", url, NULL, NULL, 0, &r));
        ASSERT_EQ(r.status, 500);
        cp_httpc_response_clear(&r);
        d = cp_httpd_stop(d);
        /* nothing listening now */
        ASSERT_ERR(cp_httpc_request(NULL, "GET", url, NULL, NULL, 0, &r), CP_ENETWORK);
        ASSERT_EQ(count, 3); /* the 413 is answered before any handler runs */
}

typedef struct worker {
        const char *url;
        int ok;
} worker;

static void *work(void *arg) {
        worker *w = arg;
        for (int i = 0; i < 50; i++) {
                cp_httpc_response r;
                if (cp_httpc_request(NULL, "GET", w->url, NULL, NULL, 0, &r) == 0 && r.status == 200)
                        w->ok++;
                cp_httpc_response_clear(&r);
        }
        return NULL;
}

TEST(concurrent_clients) {
        unsigned count = 0;
        char base[64], url[256];
        cp_httpd_options o = { .threads = 2 };
        cp_httpd *d = start(&o, &count, base, sizeof(base), "http");
        snprintf(url, sizeof(url), "%s/echo/a/x/b", base);
        pthread_t t[4];
        worker w[4];
        for (int i = 0; i < 4; i++) {
                w[i] = (worker){ .url = url };
                pthread_create(&t[i], NULL, work, &w[i]);
        }
        for (int i = 0; i < 4; i++) {
                pthread_join(t[i], NULL);
                ASSERT_EQ(w[i].ok, 50);
        }
        ASSERT_EQ(count, 200);
        cp_httpd_stop(d);
}

TEST(tls_with_selfsigned_certificate) {
        const char *names[] = { "localhost", "127.0.0.1" };
        char *cert = NULL, *key = NULL;
        ASSERT_OK(cp_tls_selfsigned(names, 2, 30, &cert, &key));
        ASSERT_TRUE(strstr(cert, "BEGIN CERTIFICATE") != NULL);
        ASSERT_TRUE(strstr(key, "PRIVATE KEY") != NULL);
        unsigned count = 0;
        char base[64], url[256];
        cp_httpd_options o = { .tls_cert_pem = cert, .tls_key_pem = key };
        cp_httpd *d = start(&o, &count, base, sizeof(base), "https");
        snprintf(url, sizeof(url), "%s/echo/a/x/b", base);
        cp_httpc_response r;
        /* the client trusts the server's certificate */
        cp_httpc_options co = { .ca_pem = cert };
        ASSERT_OK(cp_httpc_request(&co, "GET", url, NULL, NULL, 0, &r));
        ASSERT_EQ(r.status, 200);
        cp_httpc_response_clear(&r);
        /* without it the TLS handshake fails */
        ASSERT_ERR(cp_httpc_request(NULL, "GET", url, NULL, NULL, 0, &r), CP_ENETWORK);
        /* plain HTTP to a TLS port fails too */
        snprintf(url, sizeof(url), "http://127.0.0.1:%u/echo/a/x/b", cp_httpd_port(d));
        memset(&r, 0, sizeof(r));
        int rc = cp_httpc_request(NULL, "GET", url, NULL, NULL, 0, &r);
        ASSERT_TRUE(rc < 0 || r.status != 200);
        cp_httpc_response_clear(&r);
        cp_httpd_stop(d);
        free(cert);
        free(key);
        ASSERT_EQ(count, 1);
}

TEST(bad_options) {
        cp_httpd *d = NULL;
        cp_httpd_options o = { .bind_addr = "localhost" };
        ASSERT_ERR(cp_httpd_start(&o, handler, NULL, &d), CP_EINVAL);
        ASSERT_ERR(cp_httpd_start(NULL, NULL, NULL, &d), CP_EINVAL);
}

TEST(client_refuses_unsafe_requests) {
        cp_httpc_response r;
        cp_httpc_options o = { .bearer = "secret" };
        /* a bearer token never goes over plain HTTP beyond loopback */
        ASSERT_ERR(cp_httpc_request(&o, "GET", "http://192.0.2.1:1/x", NULL, NULL, 0, &r), CP_EINVAL);
        ASSERT_ERR(cp_httpc_request(&o, "GET", "http://localhost.example.com/x", NULL, NULL, 0, &r), CP_EINVAL);
        /* no header injection */
        cp_httpc_options bad = { .bearer = "a\r\nX-Evil: 1" };
        ASSERT_ERR(cp_httpc_request(&bad, "GET", "https://127.0.0.1:1/x", NULL, NULL, 0, &r), CP_EINVAL);
        const char *hdrs[] = { "X-A: b\r\nX-Evil: 1", NULL };
        ASSERT_ERR(cp_httpc_request(NULL, "GET", "http://127.0.0.1:1/x", hdrs, NULL, 0, &r), CP_EINVAL);
        /* loopback over plain HTTP is allowed (nothing listens on port 1: a transport error) */
        ASSERT_ERR(cp_httpc_request(&o, "GET", "http://127.0.0.1:1/x", NULL, NULL, 0, &r), CP_ENETWORK);
}

/* Attestation tokens with boot-event claims can be tens of KiB. */
TEST(large_bearer_tokens_pass) {
        unsigned count = 0;
        char base[64], url[256];
        cp_httpd *d = start(NULL, &count, base, sizeof(base), "http");
        snprintf(url, sizeof(url), "%s/auth", base);
        size_t n = 40000;
        char *tok = malloc(n + 1);
        memset(tok, 'a', n);
        tok[n] = 0;
        cp_httpc_options o = { .bearer = tok };
        cp_httpc_response r;
        ASSERT_OK(cp_httpc_request(&o, "GET", url, NULL, NULL, 0, &r));
        ASSERT_EQ(r.status, 200);
        ASSERT_EQ(strtoul((const char *) r.body, NULL, 10), n + 7);
        cp_httpc_response_clear(&r);
        free(tok);
        cp_httpd_stop(d);
}

/* A service with a small head buffer: large heads are refused, bodies far
 * larger than the buffer still arrive whole, and too small a buffer is a
 * configuration error. */
TEST(small_header_memory) {
        unsigned count = 0;
        char base[64], url[256];
        cp_httpd_options so = { .header_memory = 16 * 1024 };
        cp_httpd *d = start(&so, &count, base, sizeof(base), "http");
        size_t n = 24000;
        char *tok = malloc(n + 1);
        memset(tok, 'a', n);
        tok[n] = 0;
        cp_httpc_options o = { .bearer = tok };
        cp_httpc_response r;
        snprintf(url, sizeof(url), "%s/auth", base);
        int k = cp_httpc_request(&o, "GET", url, NULL, NULL, 0, &r);
        if (k == 0) {
                ASSERT_TRUE(r.status >= 400 && r.status != 404); /* refused by the server, not handled */
                cp_httpc_response_clear(&r);
        } else
                ASSERT_ERR(k, CP_ENETWORK); /* or the connection closed */
        ASSERT_EQ(__atomic_load_n(&count, __ATOMIC_SEQ_CST), 0);
        free(tok);
        /* a 200 KiB body through a 16 KiB buffer */
        size_t bl = 200 * 1024;
        char *body = malloc(bl);
        for (size_t i = 0; i < bl; i++)
                body[i] = (char) ('a' + i % 26);
        snprintf(url, sizeof(url), "%s/echo/p/x/q", base);
        ASSERT_OK(cp_httpc_request(NULL, "POST", url, NULL, (const uint8_t *) body, bl, &r));
        ASSERT_EQ(r.status, 200);
        json_t *j = json_loadb((const char *) r.body, r.body_len, 0, NULL);
        ASSERT_TRUE(j != NULL);
        const char *echo = json_string_value(json_object_get(j, "body"));
        ASSERT_TRUE(echo && strlen(echo) == bl && memcmp(echo, body, bl) == 0);
        json_decref(j);
        cp_httpc_response_clear(&r);
        free(body);
        cp_httpd_stop(d);
        cp_httpd_options tiny = { .header_memory = 4096 };
        ASSERT_ERR(cp_httpd_start(&tiny, handler, &count, &d), CP_EINVAL);
}

/* ---- request targets: refused before any handler runs -------------------- */

static void seen_handler(void *userdata, const cp_http_request *req, cp_http_response *resp) {
        unsigned *count = userdata;
        __atomic_add_fetch(count, 1, __ATOMIC_SEQ_CST);
        const char *q = cp_http_req_query(req, "x");
        char text[600];
        snprintf(text, sizeof(text), "path=[%s] x=[%s]", req->path, q ? q : "");
        if (cp_http_resp_text(resp, 200, text) < 0)
                resp->status = 500;
}

typedef struct target_row {
        const char *name;
        const char *target;
        size_t len;         /* 0: strlen(target) */
        unsigned status;
        const char *seen;   /* for 200: what the handler saw ("path=[...] x=[...]") */
} target_row;

static const target_row target_rows[] = {
        /* the reported attack: %00 after a resource group's name */
        { "nul-after-rg", "/subscriptions/s/resourceGroups/victimrg%00/providers/x", 0, 400, NULL },
        { "nul-after-key", "/keys/k%00x", 0, 400, NULL },
        { "nul-at-end", "/keys/k%00", 0, 400, NULL },
        { "raw-nul", "/keys/k\0x", 9, 400, NULL },
        /* other control characters, escaped */
        { "escaped-lf", "/a/b%0a", 0, 400, NULL },
        { "escaped-cr-lf", "/a/b%0D%0Ac", 0, 400, NULL },
        { "escaped-us", "/a/%1f", 0, 400, NULL },
        { "escaped-del", "/a/%7F", 0, 400, NULL },
        /* malformed escapes */
        { "escape-zz", "/a/%zz", 0, 400, NULL },
        { "escape-short", "/a/%0", 0, 400, NULL },
        { "escape-bare", "/a/%", 0, 400, NULL },
        { "escape-one-hex", "/a/%4g", 0, 400, NULL },
        /* escaped separators */
        { "escaped-slash", "/a/b%2Fc", 0, 400, NULL },
        { "escaped-slash-lower", "/a/b%2f", 0, 400, NULL },
        { "escaped-backslash", "/a/b%5Cc", 0, 400, NULL },
        { "escaped-backslash-lower", "/a/%5c", 0, 400, NULL },
        { "raw-backslash", "/a/b\\c", 0, 400, NULL },
        /* dot segments, raw and escaped */
        { "dotdot-escaped", "/a/%2e%2e/b", 0, 400, NULL },
        { "dotdot-escaped-upper", "/a/%2E%2E", 0, 400, NULL },
        { "dotdot-half-escaped", "/a/.%2e/b", 0, 400, NULL },
        { "dot-escaped", "/a/%2e/b", 0, 400, NULL },
        { "dotdot-raw", "/a/../b", 0, 400, NULL },
        { "dotdot-raw-end", "/a/..", 0, 400, NULL },
        { "dot-raw", "/a/./b", 0, 400, NULL },
        { "dot-raw-end", "/a/.", 0, 400, NULL },
        /* empty segments */
        { "double-slash", "/a//b", 0, 400, NULL },
        { "double-slash-start", "//a", 0, 400, NULL },
        { "double-slash-end", "/a//", 0, 400, NULL },
        /* raw bytes outside printable ASCII */
        { "raw-utf8", "/a/\xc3\xa9", 0, 400, NULL },
        { "raw-ctl", "/a/\x01x", 0, 400, NULL },
        { "raw-del", "/a/\x7fx", 0, 400, NULL },
        /* not an origin-form path */
        { "relative", "a/b", 0, 400, NULL },
        { "absolute-form", "http://127.0.0.1/a", 0, 400, NULL },
        { "asterisk", "*", 0, 400, NULL },
        /* query strings: what truncates or hides a value is refused too */
        { "query-nul", "/a?x=v%00w", 0, 400, NULL },
        { "query-ctl", "/a?x=v%0d%0aw", 0, 400, NULL },
        { "query-bad-escape", "/a?x=%zz", 0, 400, NULL },
        { "query-raw-ctl", "/a?x=\x01", 0, 400, NULL },
        { "query-raw-high", "/a?x=\xff", 0, 400, NULL },
        { "query-nul-in-name", "/a?x%00y=1", 0, 400, NULL },
        /* what stays allowed */
        { "root", "/", 0, 200, "path=[/] x=[]" },
        { "plain", "/subscriptions/s/resourceGroups/rg1", 0, 200, "path=[/subscriptions/s/resourceGroups/rg1] x=[]" },
        { "trailing-slash", "/a/b/", 0, 200, "path=[/a/b/] x=[]" },
        { "escaped-letter", "/a/%41b", 0, 200, "path=[/a/Ab] x=[]" },
        { "escaped-space", "/a/x%20y", 0, 200, "path=[/a/x y] x=[]" },
        { "escaped-utf8", "/a/%C3%A9", 0, 200, "path=[/a/\xc3\xa9] x=[]" },
        { "dots-in-name", "/a/b.c/..d/...", 0, 200, "path=[/a/b.c/..d/...] x=[]" },
        { "escaped-dot-in-name", "/a/v%2e1", 0, 200, "path=[/a/v.1] x=[]" },
        { "query-slash", "/a?x=b%2Fc/d", 0, 200, "path=[/a] x=[b/c/d]" },
        { "query-escapes", "/a?x=%41%20z&api-version=1", 0, 200, "path=[/a] x=[A z]" },
        { "query-empty", "/a?", 0, 200, "path=[/a] x=[]" },
};

typedef struct target_ctx {
        uint16_t port;
        unsigned *count;
} target_ctx;

static void target_one(void *ctx, const void *row) {
        const target_ctx *t = ctx;
        const target_row *r = row;
        char out[4096];
        unsigned before = __atomic_load_n(t->count, __ATOMIC_SEQ_CST);
        unsigned status = cp_raw_http(t->port, "DELETE", r->target, r->len ? r->len : strlen(r->target), NULL, NULL,
                                      out, sizeof(out));
        ASSERT_EQ(status, r->status);
        unsigned after = __atomic_load_n(t->count, __ATOMIC_SEQ_CST);
        if (r->status == 200) {
                ASSERT_EQ(after, before + 1);
                const char *b = strstr(out, "\r\n\r\n");
                ASSERT_TRUE(b != NULL);
                ASSERT_STREQ(b + 4, r->seen);
        } else {
                ASSERT_EQ(after, before); /* no handler ran */
                const char *b = strstr(out, "\r\n\r\n");
                ASSERT_TRUE(b != NULL);
                json_t *j = json_loads(b + 4, 0, NULL);
                ASSERT_TRUE(j != NULL);
                const char *code = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
                ASSERT_STREQ(code, "InvalidPath");
                ASSERT_TRUE(json_is_string(json_object_get(json_object_get(j, "error"), "message")));
                json_decref(j);
        }
}

TEST(request_targets) {
        unsigned count = 0;
        cp_httpd *d = NULL;
        ASSERT_OK(cp_httpd_start(NULL, seen_handler, &count, &d));
        target_ctx t = { .port = cp_httpd_port(d), .count = &count };
        TEST_TABLE(target_rows, target_one, &t);
        cp_httpd_stop(d);
}

/* A refused request does not end a keep-alive connection's good requests:
 * the next request on a new connection is served. */
TEST(request_target_then_good) {
        unsigned count = 0;
        cp_httpd *d = NULL;
        ASSERT_OK(cp_httpd_start(NULL, seen_handler, &count, &d));
        char out[1024];
        for (int i = 0; i < 3; i++) {
                ASSERT_EQ(cp_raw_http(cp_httpd_port(d), "GET", "/a%00", 5, NULL, NULL, out, sizeof(out)), 400);
                ASSERT_EQ(cp_raw_http(cp_httpd_port(d), "GET", "/a", 2, NULL, NULL, out, sizeof(out)), 200);
                /* with a body: refused before it is read, never handed to a handler */
                ASSERT_EQ(cp_raw_http(cp_httpd_port(d), "POST", "/a/%2e%2e", 9, NULL, "{\"k\":1}", out, sizeof(out)),
                          400);
        }
        ASSERT_EQ(count, 3);
        cp_httpd_stop(d);
}

/* ---- floods (issue 13 items 4 and 12) -------------------------------------------- */

#include "flood-testutil.h"

TEST(conn_cap_under_fd_limit) {
        ASSERT_EQ(cp_httpd_conn_cap(0, 100000), CP_HTTPD_MAX_CONNS);
        ASSERT_EQ(cp_httpd_conn_cap(0, 1024), 1024 - CP_HTTPD_FD_RESERVE);
        ASSERT_EQ(cp_httpd_conn_cap(50, 1024), 50);
        ASSERT_EQ(cp_httpd_conn_cap(0, CP_HTTPD_FD_RESERVE), 0);
        /* the server raised the soft limit to the hard one */
        struct rlimit rl;
        ASSERT_TRUE(getrlimit(RLIMIT_NOFILE, &rl) == 0);
        ASSERT_TRUE(cp_httpd_raise_nofile() >= (rl.rlim_max > CP_HTTPD_NOFILE_MAX ? CP_HTTPD_NOFILE_MAX : rl.rlim_max));
}

/* 2,000 connections that never send a byte do not stop a legitimate
 * client: it is answered within 1 s.  (libmicrohttpd's default cap was
 * FD_SETSIZE - 4 = 1020 connections: the 1,021st was closed unanswered.) */
TEST(idle_connections_do_not_starve_clients) {
        enum { N = 2000 };
        if (flood_raise_nofile() < 2 * N + 512) {
                printf("  (skipped: RLIMIT_NOFILE too low for %d idle connections)\n", N);
                return;
        }
        unsigned count = 0;
        cp_httpd *d = NULL;
        cp_httpd_options o = { .threads = 2 };
        ASSERT_OK(cp_httpd_start(&o, handler, &count, &d));
        ASSERT_TRUE(cp_httpd_max_conns(d) > N);
        int *fds = calloc(N, sizeof(int));
        ASSERT_TRUE(fds != NULL);
        size_t opened = flood_open_idle(cp_httpd_port(d), N, fds);
        ASSERT_EQ(opened, N);
        usleep(200 * 1000); /* let the server accept them all */
        char out[2048];
        for (int i = 0; i < 5; i++) {
                double t0 = flood_now_ms();
                ASSERT_EQ(cp_raw_http(cp_httpd_port(d), "GET", "/echo/a/x/b", 11, NULL, NULL, out, sizeof(out)), 200);
                double ms = flood_now_ms() - t0;
                ASSERT_TRUE(ms < 1000.0);
        }
        ASSERT_EQ(flood_count_closed(fds, opened), 0); /* none closed to make room */
        flood_close_all(fds, opened);
        free(fds);
        cp_httpd_stop(d);
}

/* A connection that sends no complete request head is closed after
 * head_timeout_s; one that sent a head gets timeout_s. */
TEST(head_timeout_closes_silent_connections) {
        unsigned count = 0;
        cp_httpd *d = NULL;
        cp_httpd_options o = { .threads = 1, .head_timeout_s = 1, .timeout_s = 30 };
        ASSERT_OK(cp_httpd_start(&o, handler, &count, &d));
        int fds[4];
        ASSERT_EQ(flood_open_idle(cp_httpd_port(d), 4, fds), 4);
        /* two send half a head: still not a request */
        ASSERT_TRUE(send(fds[0], "GET /echo/a/x/b HTTP/1.1\r\n", 26, MSG_NOSIGNAL) == 26);
        ASSERT_TRUE(send(fds[1], "GE", 2, MSG_NOSIGNAL) == 2);
        sleep(3);
        ASSERT_EQ(flood_count_closed(fds, 4), 4);
        flood_close_all(fds, 4);
        /* the server still serves */
        char out[1024];
        ASSERT_EQ(cp_raw_http(cp_httpd_port(d), "GET", "/echo/a/x/b", 11, NULL, NULL, out, sizeof(out)), 200);
        cp_httpd_stop(d);
}

/* Request framing: two Content-Length headers (equal or not), one with
 * Transfer-Encoding, or a non-numeric one are refused with 400 before any
 * handler runs (cp_raw_http adds its own Content-Length). */
typedef struct framing_row {
        const char *name;
        const char *headers;
        unsigned status;
} framing_row;

static const framing_row framing_rows[] = {
        { "conflicting Content-Length", "Content-Length: 5\r\n", 400 },
        { "duplicate Content-Length", "Content-Length: 7\r\n", 400 },
        { "Content-Length and Transfer-Encoding", "Transfer-Encoding: chunked\r\n", 400 },
        { "one Content-Length", "X-Other: 1\r\n", 200 },
};

static void framing_one(void *ctx, const void *row) {
        const framing_row *r = row;
        uint16_t port = *(uint16_t *) ctx;
        char out[2048];
        ASSERT_EQ(cp_raw_http(port, "POST", "/echo/a/x/b", 11, r->headers, "{\"a\":1}", out, sizeof(out)), r->status);
        if (r->status == 400)
                ASSERT_TRUE(strstr(out, "InvalidContentLength") != NULL);
}

TEST(content_length_framing) {
        unsigned count = 0;
        cp_httpd *d = NULL;
        ASSERT_OK(cp_httpd_start(NULL, handler, &count, &d));
        uint16_t port = cp_httpd_port(d);
        TEST_TABLE(framing_rows, framing_one, &port);
        ASSERT_EQ(count, 1);
        cp_httpd_stop(d);
}

static void *get_forever(void *arg) {
        const char *url = arg;
        cp_httpc_response r = {0};
        cp_httpc_options co = {.timeout_ms = 20000};
        if (cp_httpc_request(&co, "GET", url, NULL, NULL, 0, &r) == 0)
                cp_httpc_response_clear(&r);
        cp_error_clear();
        return NULL;
}

/* Streamed responses (watches): chunks as they come, a pause without data
 * holds no thread (other requests are answered meanwhile), the stream's
 * state freed at its end, and a stop ends the streams still open. */
TEST(streamed_responses) {
        unsigned count = 0;
        char base[64], url[128];
        cp_httpd_options o = {.threads = 1};
        cp_httpd *d = start(&o, &count, base, sizeof base, "http");
        streams_freed = 0;
        snprintf(url, sizeof url, "%s/stream", base);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        cp_httpc_response r = {0};
        ASSERT_OK(cp_httpc_request(NULL, "GET", url, NULL, NULL, 0, &r));
        clock_gettime(CLOCK_MONOTONIC, &t1);
        ASSERT_EQ(r.status, 200);
        ASSERT_EQ(r.body_len, 4);
        ASSERT_TRUE(memcmp(r.body, "a\nb\n", 4) == 0);
        long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
        ASSERT_TRUE(ms >= 300 && ms < 5000);
        cp_httpc_response_clear(&r);
        for (int i = 0; i < 100 && __atomic_load_n(&streams_freed, __ATOMIC_SEQ_CST) < 1; i++)
                usleep(10000);
        ASSERT_EQ(__atomic_load_n(&streams_freed, __ATOMIC_SEQ_CST), 1);
        /* a stream without end: the one pool thread still answers others */
        char furl[128];
        snprintf(furl, sizeof furl, "%s/forever", base);
        pthread_t t;
        ASSERT_EQ(pthread_create(&t, NULL, get_forever, furl), 0);
        usleep(300000);
        snprintf(url, sizeof url, "%s/auth", base);
        ASSERT_OK(cp_httpc_request(NULL, "GET", url, NULL, NULL, 0, &r));
        ASSERT_EQ(r.status, 200);
        cp_httpc_response_clear(&r);
        /* stopping ends it */
        clock_gettime(CLOCK_MONOTONIC, &t0);
        cp_httpd_stop(d);
        pthread_join(t, NULL);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
        ASSERT_TRUE(ms < 5000);
        ASSERT_EQ(__atomic_load_n(&streams_freed, __ATOMIC_SEQ_CST), 2);
}
