/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_SHARED_HTTPD_H
#define CP_SHARED_HTTPD_H

/*
 * The one HTTP(S) server glue for confpool's services (libmicrohttpd):
 * a thread pool with keep-alive, request bodies accumulated up to a limit
 * (413 before the body is read when Content-Length says it is too big;
 * 400 for a request with more than one Content-Length, with both
 * Content-Length and Transfer-Encoding, or a Content-Length that is not
 * a decimal number: each is a way to make two parsers disagree on where a
 * request ends),
 * TLS from PEM files or memory, and one handler callback per server that
 * fills a response.  Routing helpers match ARM-style paths with {name}
 * segments.  Handlers run on pool threads: they must be thread-safe.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "confpool/error.h"

#define CP_HTTP_MAX_HEADERS 16

/* A header or query parameter of a request built in-process. */
typedef struct cp_http_pair {
        const char *name;
        const char *value;
} cp_http_pair;

typedef struct cp_http_request {
        const char *method;      /* "GET", "PUT", ... */
        const char *path;        /* URL path without the query string, percent-decoded by MHD */
        const uint8_t *body;     /* NUL-terminated (not counted in body_len); NULL if empty */
        size_t body_len;
        const char *remote_addr; /* numeric address of the peer */
        void *conn;              /* internal; NULL for a request built in-process */
        /* A request built in-process (tests, benches, fuzzers; conn NULL)
         * carries its own headers and query parameters, already decoded. */
        const cp_http_pair *headers;
        size_t n_headers;
        const cp_http_pair *query;
        size_t n_query;
} cp_http_request;

/* A streamed body (a Kubernetes watch): called on the server's thread
 * whenever the client can take more; returns the bytes written to buf (at
 * most max), 0 when nothing is ready yet (the connection is suspended and
 * the function called again within CP_HTTPD_STREAM_POLL_MS), or -1 at the
 * end of the stream (also when the server stops: stopping is true then). */
typedef long (*cp_http_stream_fn)(void *userdata, uint8_t *buf, size_t max, bool stopping);
#define CP_HTTPD_STREAM_POLL_MS 200

typedef struct cp_http_response {
        unsigned status;
        char content_type[96];
        uint8_t *body; /* malloc()ed, owned by the response */
        size_t body_len;
        size_t n_headers;
        char *header_names[CP_HTTP_MAX_HEADERS];
        char *header_values[CP_HTTP_MAX_HEADERS];
        /* Instead of body (chunked, no idle timeout; the stream ends it):
         * stream_free(stream_ud) runs when the connection is done, also
         * when the request was built in-process (cp_http_resp_clear). */
        cp_http_stream_fn stream;
        void *stream_ud;
        void (*stream_free)(void *userdata);
} cp_http_response;

/* Request accessors (NULL when absent).  Header names are case-insensitive,
 * query names are not.  Without a connection (conn NULL) they read the
 * request's own headers and query arrays. */
const char *cp_http_req_header(const cp_http_request *req, const char *name);
const char *cp_http_req_query(const cp_http_request *req, const char *name);

/* Response builders: each replaces status and body. */
CP_WUR int cp_http_resp_json(cp_http_response *resp, unsigned status, json_t *body /* reference stolen */);
CP_WUR int cp_http_resp_bytes(cp_http_response *resp, unsigned status, const char *content_type, const void *data,
                              size_t len);
CP_WUR int cp_http_resp_text(cp_http_response *resp, unsigned status, const char *text);
/* Free what a response holds and zero it (for responses filled in-process). */
void cp_http_resp_clear(cp_http_response *resp);
/* Add a header (copied).  CP_ETOOBIG past CP_HTTP_MAX_HEADERS. */
CP_WUR int cp_http_resp_header(cp_http_response *resp, const char *name, const char *value);
/* Set a header: replace the value of one of that name (case-insensitive), else add it. */
CP_WUR int cp_http_resp_set_header(cp_http_response *resp, const char *name, const char *value);
/* The value of a response header, NULL when absent. */
const char *cp_http_resp_get_header(const cp_http_response *resp, const char *name);

typedef void (*cp_http_handler)(void *userdata, const cp_http_request *req, cp_http_response *resp);

typedef struct cp_httpd_options {
        const char *bind_addr;      /* numeric IPv4/IPv6 address; NULL: 127.0.0.1 */
        uint16_t port;              /* 0: an ephemeral port (see cp_httpd_port) */
        unsigned threads;           /* worker threads; 0: 4 */
        size_t max_body;            /* bytes; 0: 1 MiB */
        unsigned timeout_s;         /* idle timeout of a connection that has sent a request head; 0: 30 */
        unsigned head_timeout_s;    /* idle timeout of a connection that has not yet sent a complete
                                     * request head (a new or slow connection); 0: 10 */
        unsigned max_conns;         /* open connections at most; 0: CP_HTTPD_MAX_CONNS, lowered to what
                                     * RLIMIT_NOFILE leaves after CP_HTTPD_FD_RESERVE fds */
        const char *tls_cert_pem;   /* PEM text (not a path); TLS when both are set */
        const char *tls_key_pem;
        size_t header_memory;       /* per-connection buffer for the request head and reads; 0: 160 KiB
                                     * (bearer tokens up to CP_JWT_MAX_TOKEN).  libmicrohttpd zeroes it
                                     * after every request of a keep-alive connection, so services
                                     * whose heads are small set less. */
} cp_httpd_options;

/* ---- connection limits ----------------------------------------------------------
 *
 * An idle TCP connection costs one fd and, until it sends a request, no
 * memory but its (lazily touched) buffer.  So that a few thousand idle
 * connections do not stop a daemon:
 *
 *   - cp_httpd_start raises the process's soft RLIMIT_NOFILE to its hard
 *     limit (once; capped at CP_HTTPD_NOFILE_MAX);
 *   - libmicrohttpd polls with epoll (no FD_SETSIZE bound);
 *   - at most max_conns connections are open at once (default
 *     CP_HTTPD_MAX_CONNS), never more than the fd limit less
 *     CP_HTTPD_FD_RESERVE, which stays for the daemon's own files, sockets
 *     to its peers and its database; a connection past the cap is closed at
 *     once (libmicrohttpd's default was FD_SETSIZE - 4 = 1020 connections);
 *   - a connection that has not sent a complete request head is closed
 *     after head_timeout_s (10 s) without traffic; once a head arrived the
 *     idle timeout is timeout_s (30 s).
 *
 * With the defaults and a hard fd limit of at least 8,448, 8,192 idle
 * connections can be open and a legitimate client is still served
 * (bench/bench-flood.c measures 2,000).  Past the cap new connections are
 * refused until the idle ones time out.
 */
#define CP_HTTPD_MAX_CONNS 8192u
#define CP_HTTPD_FD_RESERVE 256u
#define CP_HTTPD_NOFILE_MAX 65536u

/* Raise the soft RLIMIT_NOFILE to the hard limit (at most
 * CP_HTTPD_NOFILE_MAX); returns the soft limit in force. */
unsigned long cp_httpd_raise_nofile(void);
/* The connection cap a server with max_conns (0: the default) gets under
 * the fd limit nofile: min(max_conns, nofile - CP_HTTPD_FD_RESERVE), 0 when
 * nofile leaves no room. */
unsigned cp_httpd_conn_cap(unsigned max_conns, unsigned long nofile);

typedef struct cp_httpd cp_httpd;

CP_WUR int cp_httpd_start(const cp_httpd_options *o, cp_http_handler handler, void *userdata, cp_httpd **ret);
uint16_t cp_httpd_port(const cp_httpd *d);
/* The connection cap in force (see above). */
unsigned cp_httpd_max_conns(const cp_httpd *d);
/* Stops accepting, waits for in-flight handlers, frees.  Accepts NULL. */
cp_httpd *cp_httpd_stop(cp_httpd *d);

/* Match path against a pattern like "/subscriptions/{sub}/resourceGroups/{rg}".
 * Literal segments compare case-insensitively when ci (ARM paths are
 * case-insensitive); captures are written NUL-terminated into caps[i]
 * (each cap_size bytes) in order; a trailing "/" on path is ignored.
 * Returns true on a match. */
bool cp_http_path_match(const char *pattern, const char *path, bool ci, char (*caps)[256], size_t ncaps);

/* Generate a self-signed RSA-2048 or P-256 TLS certificate for host names /
 * addresses (SAN), as PEM strings (malloc()ed). */
CP_WUR int cp_tls_selfsigned(const char *const *names, size_t n_names, unsigned days, char **ret_cert_pem,
                             char **ret_key_pem);

/* ---- request targets ---------------------------------------------------------
 *
 * libmicrohttpd percent-decodes the path in place and hands handlers a C
 * string: a "%00" ended the path there (DELETE .../resourceGroups/rg%00/x
 * reached the handler as DELETE .../resourceGroups/rg), and the router only
 * ever sees the decoded form.  So httpd checks the raw request target, as
 * the client sent it, before any handler runs, and answers 400 with the
 * error body {"error":{"code":"InvalidPath","message":...}} when:
 *
 *   - it is not a path starting with "/" (absolute-form "http://...",
 *     "*"): every route is an origin-form path;
 *   - it holds a raw byte outside printable ASCII (0x21-0x7e: controls,
 *     NUL, space, DEL, bytes >= 0x80): clients escape them, and a raw NUL or
 *     control byte would truncate or split what handlers and logs see;
 *   - it holds a "%" not followed by two hex digits: libmicrohttpd leaves
 *     such a "%" as is, so the handler would see a different string than a
 *     strict decoder (or a proxy) in front of it;
 *   - an escape decodes to a control character (0x00-0x1f, 0x7f): a NUL
 *     truncates the path or a query value, CR/LF forge log lines;
 *   - the path escapes "/" (%2F) or "\" (%5C), or holds a raw "\": after
 *     decoding these are separators the router did not split on (a name
 *     "a%2F.." becomes "a/.."), and "\" is one on other platforms;
 *   - a path segment is "." or "..", raw or escaped ("%2e%2e"): clients
 *     resolve dot segments before sending, so one arriving is an attempt to
 *     leave the resource the path names;
 *   - a path segment is empty ("//"), except a trailing "/": ARM and Key
 *     Vault paths have none, and a router that skips it sees another path.
 *
 * The query string (after the first "?") must be printable ASCII with
 * well-formed escapes that decode to no control character (a NUL in a
 * value truncated what cp_http_req_query returned); "/", "\" and dots are
 * allowed there.  Escapes of other bytes (%20, %41, UTF-8 such as %C3%A9)
 * stay allowed: names are validated by each service.
 */

/* NULL when the raw request target t[0..len) is acceptable, else the static
 * message of the rule it breaks (the 400's message). */
const char *cp_http_target_check(const char *t, size_t len);

#endif
