/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "basic/clock.h"
#include "service/httpd.h"

/* Per-connection header memory: attestation tokens in Authorization headers
 * can reach tens of KiB (CP_JWT_MAX_TOKEN is 64 KiB). */
#define CONN_MEMORY (160u * 1024u)

struct cp_httpd {
        struct MHD_Daemon *mhd;
        cp_http_handler handler;
        void *userdata;
        size_t max_body;
        unsigned timeout_s;     /* once a request head arrived */
        unsigned max_conns;
        bool server_timing;     /* CP_SERVER_TIMING=1: a Server-Timing header on every answer */
        uint16_t port;
        char *cert, *key, *client_ca;
        /* streamed responses waiting for data: suspended connections the
         * ticker resumes every CP_HTTPD_STREAM_POLL_MS */
        pthread_mutex_t streams_lock;
        pthread_cond_t streams_cond;
        struct MHD_Connection **suspended;
        size_t n_suspended, cap_suspended;
        size_t n_streams;       /* streamed responses alive */
        bool stopping, ticker_started;
        pthread_t ticker;
};

/* One streamed response (cp_http_response.stream). */
typedef struct stream_ctx {
        cp_httpd *d;
        struct MHD_Connection *conn;
        cp_http_stream_fn fn;
        void *ud;
        void (*ud_free)(void *);
} stream_ctx;

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
        (void) pos;
        stream_ctx *s = cls;
        pthread_mutex_lock(&s->d->streams_lock);
        bool stopping = s->d->stopping;
        pthread_mutex_unlock(&s->d->streams_lock);
        long n = s->fn(s->ud, (uint8_t *) buf, max, stopping);
        if (n < 0 || stopping)
                return n > 0 ? (ssize_t) n : MHD_CONTENT_READER_END_OF_STREAM;
        if (n > 0)
                return (ssize_t) n;
        /* nothing yet: suspend until the ticker resumes us */
        pthread_mutex_lock(&s->d->streams_lock);
        if (s->d->n_suspended == s->d->cap_suspended) {
                size_t nc = s->d->cap_suspended ? s->d->cap_suspended * 2 : 16;
                struct MHD_Connection **v = realloc(s->d->suspended, nc * sizeof *v);
                if (!v) {
                        pthread_mutex_unlock(&s->d->streams_lock);
                        return MHD_CONTENT_READER_END_WITH_ERROR;
                }
                s->d->suspended = v;
                s->d->cap_suspended = nc;
        }
        MHD_suspend_connection(s->conn);
        s->d->suspended[s->d->n_suspended++] = s->conn;
        pthread_mutex_unlock(&s->d->streams_lock);
        return 0;
}

static void stream_free(void *cls) {
        stream_ctx *s = cls;
        if (s->ud_free)
                s->ud_free(s->ud);
        pthread_mutex_lock(&s->d->streams_lock);
        s->d->n_streams--;
        pthread_cond_broadcast(&s->d->streams_cond);
        pthread_mutex_unlock(&s->d->streams_lock);
        free(s);
}

/* Resume every suspended stream (they look for data again). */
static void streams_resume(cp_httpd *d) {
        for (size_t i = 0; i < d->n_suspended; i++)
                MHD_resume_connection(d->suspended[i]);
        d->n_suspended = 0;
}

static void *stream_ticker(void *arg) {
        cp_httpd *d = arg;
        pthread_mutex_lock(&d->streams_lock);
        while (!d->stopping) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_nsec += CP_HTTPD_STREAM_POLL_MS * 1000000L;
                if (ts.tv_nsec >= 1000000000L) {
                        ts.tv_sec++;
                        ts.tv_nsec -= 1000000000L;
                }
                pthread_cond_timedwait(&d->streams_cond, &d->streams_lock, &ts);
                streams_resume(d);
        }
        pthread_mutex_unlock(&d->streams_lock);
        return NULL;
}

/* The MHD response of a streamed cp_http_response (its stream moves into it). */
static struct MHD_Response *stream_response(cp_httpd *d, struct MHD_Connection *conn, cp_http_response *resp) {
        stream_ctx *s = calloc(1, sizeof *s);
        if (!s)
                return NULL;
        *s = (stream_ctx){ .d = d, .conn = conn, .fn = resp->stream, .ud = resp->stream_ud,
                           .ud_free = resp->stream_free };
        struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, stream_read, s,
                                                                   stream_free);
        if (!r) {
                free(s);
                return NULL;
        }
        resp->stream = NULL; /* now owned by the MHD response */
        pthread_mutex_lock(&d->streams_lock);
        d->n_streams++;
        pthread_mutex_unlock(&d->streams_lock);
        /* the stream's own end (a watch's timeout) bounds it, not the idle timeout */
        MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, 0);
        return r;
}

/* One request: made by on_target when the request line arrives (before
 * libmicrohttpd decodes the path), freed by on_completed. */
typedef struct conn_ctx {
        uint8_t *body;
        size_t len, cap;
        bool too_big;
        bool started;           /* the access handler has seen the request's head */
        const char *bad_target; /* the rule the raw target breaks (static), or NULL */
        size_t target_len;      /* strlen() of the raw target */
} conn_ctx;

static const char *pair_lookup(const cp_http_pair *pairs, size_t n, const char *name, bool ci) {
        for (size_t i = 0; pairs && i < n; i++)
                if (pairs[i].name && (ci ? strcasecmp(pairs[i].name, name) : strcmp(pairs[i].name, name)) == 0)
                        return pairs[i].value;
        return NULL;
}

const char *cp_http_req_header(const cp_http_request *req, const char *name) {
        if (!req->conn)
                return pair_lookup(req->headers, req->n_headers, name, true);
        return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *cp_http_req_query(const cp_http_request *req, const char *name) {
        if (!req->conn)
                return pair_lookup(req->query, req->n_query, name, false);
        return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

static void resp_reset_body(cp_http_response *resp) {
        free(resp->body);
        resp->body = NULL;
        resp->body_len = 0;
}

int cp_http_resp_bytes(cp_http_response *resp, unsigned status, const char *content_type, const void *data,
                       size_t len) {
        uint8_t *b = malloc(len ? len : 1);
        if (!b)
                return cp_error_oom();
        if (len)
                memcpy(b, data, len);
        resp_reset_body(resp);
        resp->body = b;
        resp->body_len = len;
        resp->status = status;
        snprintf(resp->content_type, sizeof(resp->content_type), "%s",
                 content_type ? content_type : "application/octet-stream");
        return 0;
}

int cp_http_resp_json(cp_http_response *resp, unsigned status, json_t *body) {
        char *s = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(body);
        if (!s)
                return CP_ERROR(CP_ENOMEM, "cannot serialize JSON response");
        int r = cp_http_resp_bytes(resp, status, "application/json; charset=utf-8", s, strlen(s));
        free(s);
        return r;
}

int cp_http_resp_text(cp_http_response *resp, unsigned status, const char *text) {
        return cp_http_resp_bytes(resp, status, "text/plain; charset=utf-8", text, strlen(text));
}

int cp_http_resp_header(cp_http_response *resp, const char *name, const char *value) {
        if (resp->n_headers >= CP_HTTP_MAX_HEADERS)
                return CP_ERROR(CP_ETOOBIG, "too many response headers");
        char *n = strdup(name), *v = strdup(value);
        if (!n || !v) {
                free(n);
                free(v);
                return cp_error_oom();
        }
        resp->header_names[resp->n_headers] = n;
        resp->header_values[resp->n_headers] = v;
        resp->n_headers++;
        return 0;
}

int cp_http_resp_set_header(cp_http_response *resp, const char *name, const char *value) {
        for (size_t i = 0; i < resp->n_headers; i++)
                if (strcasecmp(resp->header_names[i], name) == 0) {
                        char *v = strdup(value);
                        if (!v)
                                return cp_error_oom();
                        free(resp->header_values[i]);
                        resp->header_values[i] = v;
                        return 0;
                }
        return cp_http_resp_header(resp, name, value);
}

const char *cp_http_resp_get_header(const cp_http_response *resp, const char *name) {
        for (size_t i = 0; i < resp->n_headers; i++)
                if (strcasecmp(resp->header_names[i], name) == 0)
                        return resp->header_values[i];
        return NULL;
}

static void resp_clear(cp_http_response *resp) {
        resp_reset_body(resp);
        if (resp->stream && resp->stream_free)
                resp->stream_free(resp->stream_ud);
        resp->stream = NULL;
        resp->stream_ud = NULL;
        for (size_t i = 0; i < resp->n_headers; i++) {
                free(resp->header_names[i]);
                free(resp->header_values[i]);
        }
        resp->n_headers = 0;
}

void cp_http_resp_clear(cp_http_response *resp) {
        if (!resp)
                return;
        resp_clear(resp);
        memset(resp, 0, sizeof(*resp));
}

static enum MHD_Result send_simple(struct MHD_Connection *conn, unsigned status, const char *json) {
        struct MHD_Response *r =
                MHD_create_response_from_buffer(strlen(json), (void *) json, MHD_RESPMEM_MUST_COPY);
        if (!r)
                return MHD_NO;
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json; charset=utf-8");
        enum MHD_Result ret = MHD_queue_response(conn, status, r);
        MHD_destroy_response(r);
        return ret;
}

/* The error body of answers given before (or instead of) a handler, the
 * same shape as the services' own: {"error":{"code":...,"message":...}}. */
static enum MHD_Result send_error(struct MHD_Connection *conn, unsigned status, const char *code,
                                  const char *message) {
        json_t *j = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message);
        char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(j);
        if (!s)
                return MHD_NO;
        enum MHD_Result ret = send_simple(conn, status, s);
        free(s);
        return ret;
}

static bool is_hex(char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static unsigned hex_val(char c) {
        return c <= '9' ? (unsigned) (c - '0') : (unsigned) ((c | 0x20) - 'a' + 10);
}

/* The rules are in httpd.h. */
const char *cp_http_target_check(const char *t, size_t len) {
        if (!t || len == 0 || t[0] != '/')
                return "The request target must be a path starting with '/'.";
        bool query = false;
        size_t seg_len = 0, dots = 0; /* the current path segment, decoded: its length, its dots */
        for (size_t i = 1; i <= len; i++) {
                bool end = i == len || (!query && t[i] == '?');
                if (!query && (end || t[i] == '/')) {
                        if ((seg_len == 1 || seg_len == 2) && dots == seg_len)
                                return "The request path holds a '.' or '..' segment.";
                        if (seg_len == 0 && !end)
                                return "The request path holds an empty segment.";
                        seg_len = dots = 0;
                        query = i < len && t[i] == '?';
                        continue;
                }
                if (i == len)
                        break;
                unsigned char c = (unsigned char) t[i];
                if (c < 0x21 || c > 0x7e)
                        return "The request target holds a byte outside printable ASCII.";
                if (c == '%') {
                        if (len - i < 3 || !is_hex(t[i + 1]) || !is_hex(t[i + 2]))
                                return "The request target holds a malformed percent-escape.";
                        c = (unsigned char) (hex_val(t[i + 1]) << 4 | hex_val(t[i + 2]));
                        i += 2;
                        if (c < 0x20 || c == 0x7f)
                                return "The request target escapes a control character.";
                        if (!query && (c == '/' || c == '\\'))
                                return "The request path escapes '/' or '\\'.";
                } else if (!query && c == '\\') {
                        return "The request path holds a '\\'.";
                }
                seg_len++;
                dots += c == '.';
        }
        return NULL;
}

/* libmicrohttpd's URI log callback: the request target as the client sent
 * it (query string included), before the path is decoded in place.  Its
 * result is the access handler's *con_cls. */
static void *on_target(void *cls, const char *uri, struct MHD_Connection *conn) {
        (void) cls;
        (void) conn;
        conn_ctx *ctx = calloc(1, sizeof(*ctx));
        if (ctx) {
                ctx->target_len = uri ? strlen(uri) : 0;
                ctx->bad_target = cp_http_target_check(uri, ctx->target_len);
        }
        return ctx;
}

/* A raw NUL byte in the request line ends the C string on_target saw, and
 * the path handlers see, early.  libmicrohttpd cuts the line in place: the
 * target starts at url and the version right after the target's end, so
 * the version starts at url + target_len + 1 unless the target held a NUL
 * (or the layout is not the one known here: refused too). */
static const char *target_whole(const conn_ctx *ctx, const char *url, const char *version) {
        if (!url || !version || (uintptr_t) version != (uintptr_t) url + ctx->target_len + 1)
                return "The request target holds a byte outside printable ASCII.";
        return NULL;
}

static const char too_big_msg[] = "The request body exceeds the size limit.";

typedef struct framing_count {
        unsigned content_length, transfer_encoding;
} framing_count;

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
        framing_count *f = cls;
        (void) kind;
        (void) value;
        if (key && strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
                f->content_length++;
        else if (key && strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0)
                f->transfer_encoding++;
        return MHD_YES;
}

/* How the head says the body is framed: NULL when unambiguous (then
 * *too_big when Content-Length is over max_body), else the 400's message.
 * Two Content-Length headers (equal or not), Content-Length with
 * Transfer-Encoding, or a Content-Length that is not all digits let two
 * parsers (a proxy and this server) disagree on where the request ends. */
static const char *framing_error(struct MHD_Connection *conn, size_t max_body, bool *too_big) {
        framing_count f = { 0 };
        MHD_get_connection_values(conn, MHD_HEADER_KIND, count_framing, &f);
        if (f.content_length > 1)
                return "The request has more than one Content-Length header.";
        if (f.content_length && f.transfer_encoding)
                return "The request has both Content-Length and Transfer-Encoding headers.";
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (!cl)
                return NULL;
        if (!*cl || strspn(cl, "0123456789") != strlen(cl) || strlen(cl) > 19)
                return "The Content-Length header is not a decimal number.";
        if (strtoull(cl, NULL, 10) > max_body)
                *too_big = true;
        return NULL;
}

/* The peer's certificate when it verified under the server's client CA
 * (MHD_OPTION_HTTPS_MEM_TRUST): the one place TLS client authentication is
 * decided.  The DER stays valid as long as the connection's TLS session. */
static void client_cert(const cp_httpd *d, struct MHD_Connection *conn, const uint8_t **der, size_t *len) {
        *der = NULL;
        *len = 0;
        if (!d->client_ca)
                return;
        const union MHD_ConnectionInfo *ti = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
        gnutls_session_t s = ti ? (gnutls_session_t) ti->tls_session : NULL;
        unsigned status = 0, n = 0;
        if (!s || gnutls_certificate_type_get(s) != GNUTLS_CRT_X509)
                return;
        const gnutls_datum_t *chain = gnutls_certificate_get_peers(s, &n);
        if (!chain || n == 0 || gnutls_certificate_verify_peers2(s, &status) != GNUTLS_E_SUCCESS || status != 0)
                return;
        *der = chain[0].data;
        *len = chain[0].size;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
        cp_httpd *d = cls;
        conn_ctx *ctx = *con_cls;

        if (!ctx)
                return MHD_NO; /* on_target found no memory: the target was not checked */
        if (!ctx->started) {
                ctx->started = true;
                if (!ctx->bad_target)
                        ctx->bad_target = target_whole(ctx, url, version);
                if (ctx->bad_target)
                        return send_error(conn, 400, "InvalidPath", ctx->bad_target);
                /* the head is complete: from now on the idle timeout of a request */
                MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, d->timeout_s);
                const char *framing = framing_error(conn, d->max_body, &ctx->too_big);
                if (framing)
                        return send_error(conn, 400, "InvalidContentLength", framing);
                if (ctx->too_big)
                        return send_error(conn, 413, "RequestEntityTooLarge", too_big_msg);
                return MHD_YES;
        }
        if (ctx->bad_target)
                return MHD_NO; /* answered 400 above; no handler ever runs */
        if (*upload_data_size > 0) {
                size_t n = *upload_data_size;
                *upload_data_size = 0;
                if (ctx->too_big || n > d->max_body - ctx->len) {
                        ctx->too_big = true;
                        return MHD_YES; /* discard; answered below */
                }
                if (ctx->len + n + 1 > ctx->cap) {
                        size_t ncap = ctx->cap ? ctx->cap : 4096;
                        while (ncap < ctx->len + n + 1)
                                ncap *= 2;
                        uint8_t *nb = realloc(ctx->body, ncap);
                        if (!nb)
                                return MHD_NO;
                        ctx->body = nb;
                        ctx->cap = ncap;
                }
                memcpy(ctx->body + ctx->len, upload_data, n);
                ctx->len += n;
                ctx->body[ctx->len] = 0;
                return MHD_YES;
        }
        if (ctx->too_big)
                return send_error(conn, 413, "RequestEntityTooLarge", too_big_msg);

        char addr[INET6_ADDRSTRLEN] = "";
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (ci && ci->client_addr) {
                const struct sockaddr *sa = ci->client_addr;
                if (sa->sa_family == AF_INET)
                        inet_ntop(AF_INET, &((const struct sockaddr_in *) (const void *) sa)->sin_addr, addr,
                                  sizeof(addr));
                else if (sa->sa_family == AF_INET6)
                        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *) (const void *) sa)->sin6_addr, addr,
                                  sizeof(addr));
        }
        cp_http_request req = {
                .method = method,
                .path = url,
                .body = ctx->body,
                .body_len = ctx->len,
                .remote_addr = addr,
                .conn = conn,
        };
        client_cert(d, conn, &req.client_cert_der, &req.client_cert_len);
        cp_http_response resp = { 0 };
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        d->handler(d->userdata, &req, &resp);
        if (d->server_timing && resp.status != 0) {
                /* the handler's own time (W3C Server-Timing), opt-in: the
                 * fleet bench tells it from queueing and its own lag */
                char v[48];
                clock_gettime(CLOCK_MONOTONIC, &t1);
                snprintf(v, sizeof v, "app;dur=%.3f",
                         (double) (t1.tv_sec - t0.tv_sec) * 1e3 + (double) (t1.tv_nsec - t0.tv_nsec) / 1e6);
                if (cp_http_resp_set_header(&resp, "Server-Timing", v) < 0)
                        cp_error_clear(); /* an answer without it */
        }
        if (resp.status == 0) {
                resp_clear(&resp);
                return send_error(conn, 500, "InternalServerError", "No response.");
        }
        struct MHD_Response *r = resp.stream ? stream_response(d, conn, &resp)
                                 : MHD_create_response_from_buffer(resp.body_len, resp.body ? resp.body : (void *) "",
                                                                   resp.body ? MHD_RESPMEM_MUST_FREE
                                                                             : MHD_RESPMEM_PERSISTENT);
        if (!r) {
                resp_clear(&resp);
                return MHD_NO;
        }
        resp.body = NULL; /* now owned by MHD */
        if (resp.content_type[0])
                MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, resp.content_type);
        for (size_t i = 0; i < resp.n_headers; i++)
                MHD_add_response_header(r, resp.header_names[i], resp.header_values[i]);
        enum MHD_Result ret = MHD_queue_response(conn, resp.status, r);
        MHD_destroy_response(r);
        resp_clear(&resp);
        return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
        (void) cls;
        (void) conn;
        (void) toe;
        conn_ctx *ctx = *con_cls;
        if (ctx) {
                free(ctx->body);
                free(ctx);
                *con_cls = NULL;
        }
}

static unsigned long nofile_soft;

static void raise_nofile_once(void) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return;
        rlim_t want = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > CP_HTTPD_NOFILE_MAX ? CP_HTTPD_NOFILE_MAX
                                                                                       : rl.rlim_max;
        if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want) {
                nofile_soft = rl.rlim_cur == RLIM_INFINITY ? CP_HTTPD_NOFILE_MAX : (unsigned long) rl.rlim_cur;
                return;
        }
        rl.rlim_cur = want;
        if (setrlimit(RLIMIT_NOFILE, &rl) == 0 || getrlimit(RLIMIT_NOFILE, &rl) == 0)
                nofile_soft = (unsigned long) rl.rlim_cur;
}

unsigned long cp_httpd_raise_nofile(void) {
        static pthread_once_t once = PTHREAD_ONCE_INIT;
        pthread_once(&once, raise_nofile_once);
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
                return rl.rlim_cur == RLIM_INFINITY ? CP_HTTPD_NOFILE_MAX : (unsigned long) rl.rlim_cur;
        return nofile_soft;
}

unsigned cp_httpd_conn_cap(unsigned max_conns, unsigned long nofile) {
        unsigned want = max_conns ? max_conns : CP_HTTPD_MAX_CONNS;
        if (nofile <= CP_HTTPD_FD_RESERVE)
                return 0;
        return nofile - CP_HTTPD_FD_RESERVE < want ? (unsigned) (nofile - CP_HTTPD_FD_RESERVE) : want;
}

unsigned cp_httpd_max_conns(const cp_httpd *d) {
        return d ? d->max_conns : 0;
}

int cp_httpd_start(const cp_httpd_options *o, cp_http_handler handler, void *userdata, cp_httpd **ret) {
        static const cp_httpd_options none = { 0 };
        if (!o)
                o = &none;
        if (!handler || !ret)
                return CP_ERROR(CP_EINVAL, "cp_httpd_start: NULL argument");
        cp_httpd *d = calloc(1, sizeof(*d));
        if (!d)
                return cp_error_oom();
        d->handler = handler;
        d->userdata = userdata;
        const char *st = getenv("CP_SERVER_TIMING");
        d->server_timing = st && strcmp(st, "1") == 0;
        pthread_mutex_init(&d->streams_lock, NULL);
        pthread_cond_init(&d->streams_cond, NULL);
        d->max_body = o->max_body ? o->max_body : 1024 * 1024;
        size_t conn_memory = o->header_memory ? o->header_memory : CONN_MEMORY;
        if (conn_memory < 8192) {
                free(d);
                return CP_ERROR(CP_EINVAL, "header memory of %zu bytes is below 8 KiB", conn_memory);
        }

        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof(ss));
        const char *bind = o->bind_addr ? o->bind_addr : "127.0.0.1";
        unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
        struct sockaddr_in *s4 = (struct sockaddr_in *) &ss;
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *) &ss;
        if (inet_pton(AF_INET, bind, &s4->sin_addr) == 1) {
                s4->sin_family = AF_INET;
                s4->sin_port = htons(o->port);
        } else if (inet_pton(AF_INET6, bind, &s6->sin6_addr) == 1) {
                s6->sin6_family = AF_INET6;
                s6->sin6_port = htons(o->port);
                flags |= MHD_USE_IPv6;
        } else {
                free(d);
                return CP_ERROR(CP_EINVAL, "bind address '%s' is not a numeric IPv4 or IPv6 address", bind);
        }
        bool tls = o->tls_cert_pem && o->tls_key_pem;
        if (tls) {
                d->cert = strdup(o->tls_cert_pem);
                d->key = strdup(o->tls_key_pem);
                if (!d->cert || !d->key) {
                        cp_httpd_stop(d);
                        return cp_error_oom();
                }
                flags |= MHD_USE_TLS;
                if (o->tls_client_ca_pem && !(d->client_ca = strdup(o->tls_client_ca_pem))) {
                        cp_httpd_stop(d);
                        return cp_error_oom();
                }
        }
        unsigned threads = o->threads ? o->threads : 4;
        unsigned timeout = o->head_timeout_s ? o->head_timeout_s : 10;
        unsigned long nofile = cp_httpd_raise_nofile();
        d->timeout_s = o->timeout_s ? o->timeout_s : 30;
        d->max_conns = cp_httpd_conn_cap(o->max_conns, nofile);
        if (d->max_conns < threads) {
                cp_httpd_stop(d);
                return CP_ERROR(CP_ETOOBIG, "the open-file limit (RLIMIT_NOFILE %lu) leaves no room for connections "
                                "on %s port %u (%u fds are kept for the daemon)", nofile, bind, (unsigned) o->port,
                                CP_HTTPD_FD_RESERVE);
        }
        if (tls && d->client_ca) /* MHD then asks for an optional client certificate (GNUTLS_CERT_REQUEST) */
                d->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, d, MHD_OPTION_SOCK_ADDR, &ss,
                                          MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_TIMEOUT,
                                          timeout, MHD_OPTION_CONNECTION_LIMIT, d->max_conns,
                                          MHD_OPTION_NOTIFY_COMPLETED, on_completed, d,
                                          MHD_OPTION_URI_LOG_CALLBACK, on_target, d,
                                          MHD_OPTION_CONNECTION_MEMORY_LIMIT, conn_memory,
                                          MHD_OPTION_HTTPS_MEM_CERT, d->cert, MHD_OPTION_HTTPS_MEM_KEY, d->key,
                                          MHD_OPTION_HTTPS_MEM_TRUST, d->client_ca, MHD_OPTION_END);
        else if (tls)
                d->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, d, MHD_OPTION_SOCK_ADDR, &ss,
                                          MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_TIMEOUT,
                                          timeout, MHD_OPTION_CONNECTION_LIMIT, d->max_conns,
                                          MHD_OPTION_NOTIFY_COMPLETED, on_completed, d,
                                          MHD_OPTION_URI_LOG_CALLBACK, on_target, d,
                                          MHD_OPTION_CONNECTION_MEMORY_LIMIT, conn_memory,
                                          MHD_OPTION_HTTPS_MEM_CERT, d->cert, MHD_OPTION_HTTPS_MEM_KEY, d->key,
                                          MHD_OPTION_END);
        else
                d->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, d, MHD_OPTION_SOCK_ADDR, &ss,
                                          MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_TIMEOUT,
                                          timeout, MHD_OPTION_CONNECTION_LIMIT, d->max_conns,
                                          MHD_OPTION_NOTIFY_COMPLETED, on_completed, d,
                                          MHD_OPTION_URI_LOG_CALLBACK, on_target, d,
                                          MHD_OPTION_CONNECTION_MEMORY_LIMIT, conn_memory,
                                          MHD_OPTION_END);
        if (!d->mhd) {
                cp_httpd_stop(d);
                return CP_ERROR(CP_EIO, "cannot start the HTTP server on %s port %u", bind, (unsigned) o->port);
        }
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(d->mhd, MHD_DAEMON_INFO_BIND_PORT);
        d->port = info ? info->port : o->port;
        if (pthread_create(&d->ticker, NULL, stream_ticker, d) != 0) {
                cp_httpd_stop(d);
                return CP_ERROR(CP_ENOMEM, "cannot start the HTTP server's stream thread");
        }
        d->ticker_started = true;
        *ret = d;
        return 0;
}

uint16_t cp_httpd_port(const cp_httpd *d) {
        return d ? d->port : 0;
}

cp_httpd *cp_httpd_stop(cp_httpd *d) {
        if (!d)
                return NULL;
        /* streams end first: resumed, they see stopping and finish */
        pthread_mutex_lock(&d->streams_lock);
        d->stopping = true;
        pthread_cond_broadcast(&d->streams_cond);
        pthread_mutex_unlock(&d->streams_lock);
        if (d->ticker_started)
                pthread_join(d->ticker, NULL);
        pthread_mutex_lock(&d->streams_lock);
        for (int i = 0; i < 100 && (d->n_suspended || d->n_streams); i++) {
                streams_resume(d);
                struct timespec ts = cp_realtime_in_ms(20);
                pthread_cond_timedwait(&d->streams_cond, &d->streams_lock, &ts);
        }
        streams_resume(d);
        pthread_mutex_unlock(&d->streams_lock);
        if (d->mhd)
                MHD_stop_daemon(d->mhd);
        pthread_mutex_destroy(&d->streams_lock);
        pthread_cond_destroy(&d->streams_cond);
        free(d->suspended);
        if (d->key)
                OPENSSL_cleanse(d->key, strlen(d->key));
        free(d->key);
        free(d->cert);
        free(d->client_ca);
        free(d);
        return NULL;
}

bool cp_http_path_match(const char *pattern, const char *path, bool ci, char (*caps)[256], size_t ncaps) {
        size_t ncap = 0;
        const char *p = pattern, *s = path;
        while (*p == '/' && *s == '/') {
                p++;
                s++;
                const char *pe = strchr(p, '/'), *se = strchr(s, '/');
                size_t pl = pe ? (size_t) (pe - p) : strlen(p);
                size_t sl = se ? (size_t) (se - s) : strlen(s);
                if (pl >= 2 && p[0] == '{' && p[pl - 1] == '}') {
                        if (sl == 0 || sl >= 256 || ncap >= ncaps)
                                return false;
                        memcpy(caps[ncap], s, sl);
                        caps[ncap][sl] = '\0';
                        ncap++;
                } else if (pl != sl || (ci ? strncasecmp(p, s, pl) : strncmp(p, s, pl)) != 0) {
                        return false;
                }
                p += pl;
                s += sl;
        }
        if (*s == '/' && s[1] == '\0')
                s++;
        return *p == '\0' && *s == '\0';
}

int cp_tls_selfsigned(const char *const *names, size_t n_names, unsigned days, char **ret_cert_pem,
                      char **ret_key_pem) {
        int r = CP_ECRYPTO;
        EVP_PKEY *key = EVP_EC_gen("P-256");
        X509 *x = X509_new();
        BIO *cb = BIO_new(BIO_s_mem()), *kb = BIO_new(BIO_s_secmem());
        GENERAL_NAMES *sans = sk_GENERAL_NAME_new_null();
        char *cert = NULL, *pkey = NULL;
        if (!key || !x || !cb || !kb || !sans)
                goto out;
        X509_set_version(x, 2);
        unsigned char serial[16];
        if (RAND_bytes(serial, sizeof(serial)) != 1)
                goto out;
        serial[0] &= 0x7f;
        BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
        if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x))) {
                BN_free(bn);
                goto out;
        }
        BN_free(bn);
        X509_gmtime_adj(X509_getm_notBefore(x), -300);
        X509_gmtime_adj(X509_getm_notAfter(x), (long) days * 86400);
        X509_set_pubkey(x, key);
        X509_NAME *nm = X509_get_subject_name(x);
        X509_NAME_add_entry_by_txt(nm, "O", MBSTRING_ASC, (const unsigned char *) "confpool", -1, -1, 0);
        X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC,
                                   (const unsigned char *) (n_names ? names[0] : "localhost"), -1, -1, 0);
        X509_set_issuer_name(x, nm);
        for (size_t i = 0; i < n_names; i++) {
                GENERAL_NAME *gn = GENERAL_NAME_new();
                unsigned char ip[16];
                if (!gn)
                        goto out;
                if (inet_pton(AF_INET, names[i], ip) == 1 || inet_pton(AF_INET6, names[i], ip) == 1) {
                        ASN1_OCTET_STRING *o = ASN1_OCTET_STRING_new();
                        ASN1_OCTET_STRING_set(o, ip, strchr(names[i], ':') ? 16 : 4);
                        GENERAL_NAME_set0_value(gn, GEN_IPADD, o);
                } else {
                        ASN1_IA5STRING *s = ASN1_IA5STRING_new();
                        ASN1_STRING_set(s, names[i], -1);
                        GENERAL_NAME_set0_value(gn, GEN_DNS, s);
                }
                sk_GENERAL_NAME_push(sans, gn);
        }
        if (n_names && !X509_add1_ext_i2d(x, NID_subject_alt_name, sans, 0, 0))
                goto out;
        BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();
        bc->ca = 1;
        X509_add1_ext_i2d(x, NID_basic_constraints, bc, 1, 0);
        BASIC_CONSTRAINTS_free(bc);
        if (!X509_sign(x, key, EVP_sha256()))
                goto out;
        if (!PEM_write_bio_X509(cb, x) || !PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL))
                goto out;
        char *p;
        long n = BIO_get_mem_data(cb, &p);
        cert = strndup(p, (size_t) n);
        n = BIO_get_mem_data(kb, &p);
        pkey = strndup(p, (size_t) n);
        if (!cert || !pkey) {
                r = cp_error_oom();
                goto out;
        }
        *ret_cert_pem = cert;
        *ret_key_pem = pkey;
        cert = pkey = NULL;
        r = 0;
out:
        if (r == CP_ECRYPTO)
                CP_ERROR(CP_ECRYPTO, "cannot create a self-signed TLS certificate");
        free(cert);
        if (pkey)
                OPENSSL_cleanse(pkey, strlen(pkey));
        free(pkey);
        sk_GENERAL_NAME_pop_free(sans, GENERAL_NAME_free);
        BIO_free(cb);
        BIO_free_all(kb);
        X509_free(x);
        EVP_PKEY_free(key);
        return r;
}
