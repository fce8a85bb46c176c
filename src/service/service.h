/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_SERVICE_SERVICE_H
#define CP_SERVICE_SERVICE_H

/*
 * The one skeleton of confpool's HTTP services (confpoold, confpool-attestd,
 * confpool-kbsd, confpool-amdspd) over the HTTP server of httpd.h:
 *
 *   - a route table, {method, pattern, handler, flags}, tried in order; a
 *     path that some route matches with another method answers 405 with an
 *     Allow header, a path no route matches 404;
 *   - an authentication hook run before every route not marked
 *     CP_ROUTE_PUBLIC (a refusal is 401 with the hook's message and the
 *     service's WWW-Authenticate challenge), then an authorization hook (a
 *     refusal is 403);
 *   - request bodies read as JSON through one function with the service's
 *     size limit (413 from httpd before the body is read), a nesting-depth
 *     bound before the parser builds a tree, duplicate members refused and
 *     an object required;
 *   - one map from cp_err to an HTTP status (cp_http_status_of) and one
 *     error body, {"error": {"code": ..., "message": ...}} (the shape ARM,
 *     Key Vault and MAA all answer); a service names its own error codes
 *     (its dialect) but not its statuses;
 *   - a request body with a Content-Type that is not JSON
 *     ("application/json" or a "+json" type, parameters ignored) answers
 *     415 UnsupportedMediaType on every route not marked CP_ROUTE_ANY_BODY
 *     (a body without Content-Type is read as JSON);
 *   - an access log line per request, when the service asks for one.
 *
 * Handlers run on the HTTP server's pool threads: they must be thread-safe.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/error.h"
#include "service/httpd.h"

#define CP_SVC_MAX_CAPS 6    /* {name} captures per pattern (ARM machine paths have 6) */
#define CP_SVC_CAP_MAX 256   /* bytes per capture, NUL included */

typedef struct cp_svc cp_svc;
typedef struct cp_svc_call cp_svc_call;

typedef void (*cp_svc_route_fn)(cp_svc_call *c);

enum {
        CP_ROUTE_PUBLIC = 1u << 0,   /* no authentication hook */
        CP_ROUTE_ANY_BODY = 1u << 1, /* the body is not JSON (a form, a JWS): no Content-Type check */
        CP_ROUTE_SERVICE = 1u << 16, /* this bit and those above are the service's own (e.g. for its authorize hook) */
};

typedef struct cp_svc_route {
        const char *method;  /* "GET", "POST", ...; never NULL */
        const char *pattern; /* "/keys/{name}/release": literal segments and {captures} */
        cp_svc_route_fn handler;
        unsigned flags;      /* CP_ROUTE_* */
} cp_svc_route;

/* One request as a handler sees it. */
struct cp_svc_call {
        const cp_svc *svc;
        void *userdata;                 /* cp_svc_options.userdata */
        const cp_http_request *req;
        cp_http_response *resp;
        const cp_svc_route *route;
        char caps[CP_SVC_MAX_CAPS][CP_SVC_CAP_MAX]; /* the pattern's captures, in order */
        size_t n_caps;
        char who[128];                  /* set by the authentication hook, for logs and audits */
        void *auth;                     /* whatever the hook attaches (owned by the hook's caller) */
        int err;                        /* the failure answered (cp_svc_reply_err), for the log */
        const char *path;               /* the path routed: req->path, less a prefix prepare consumed */
        void *ctx;                      /* per-request state: cp_svc_serve()'s ctx (NULL from cp_svc_handle) */
};

/* The error codes of a service's dialect.  Any member may be NULL: the
 * status's standard reason ("BadRequest", "NotFound", ...) is used. */
typedef struct cp_svc_dialect {
        const char *bad_request;     /* 400: parse and usage errors */
        const char *not_found;       /* 404 */
        const char *conflict;        /* 409 */
        const char *unauthorized;    /* 401 */
        const char *forbidden;       /* 403: verification and policy refusals where the service answers 403 */
        const char *rejected;        /* 400 for verification failures (evidence, tokens) */
        const char *policy;          /* 400 for policy refusals */
        const char *unavailable;     /* 503 */
        const char *internal;        /* 500 */
        unsigned named;              /* (1u << CP_ERRCAT_*): 4xx messages of these categories start with
                                      * the error's name ("CP_ESIG: ...") */
} cp_svc_dialect;

typedef struct cp_svc_options {
        const cp_svc_route *routes;
        size_t n_routes;
        bool case_insensitive;       /* ARM paths compare literals case-insensitively */
        void *userdata;              /* handed to handlers and hooks */
        const cp_svc_dialect *dialect; /* NULL: standard reasons */
        size_t max_depth;            /* JSON nesting bound; 0: CP_MAX_JSON_DEPTH */
        /* Request bodies over this many bytes answer 413 before routing
         * (httpd refuses them before reading; this covers requests built
         * in-process).  0: no check here. */
        size_t max_body;
        /* ARM's error body: "details": [] always and "target" when given. */
        bool error_details;
        /* Authentication: 0 to go on (the hook may fill c->who / c->auth),
         * a negative cp_err to refuse with 401 and cp_error_message(); NULL:
         * every route is public.  A hook that refuses after writing its own
         * answer (c->resp->status set: its own codes, headers) keeps it. */
        int (*authenticate)(cp_svc_call *c);
        /* Authenticate before answering 404/405 too (c->route NULL then),
         * so that an unauthenticated client learns nothing of the paths;
         * public routes still skip the hook, and so does a 405 on a path
         * whose routes are all public.  Default: 404/405 first. */
        bool auth_before_routing;
        /* The challenge of that 401's WWW-Authenticate header (e.g.
         * "Bearer realm=\"confpool-kbsd\""); NULL: no header. */
        const char *www_authenticate;
        /* Authorization, after authentication succeeded (c->route is the
         * route): 0 to go on, a negative cp_err to refuse with 403, the
         * dialect's forbidden code and cp_error_message(), or with the
         * answer the hook wrote itself (c->resp->status set).  Optional. */
        int (*authorize)(cp_svc_call *c);
        /* Before routing (optional): may consume a prefix of c->path (e.g.
         * /tenants/{t}/, kept in c->ctx) or answer the request itself and
         * return false (then no route runs; finish and access_log do). */
        bool (*prepare)(cp_svc_call *c);
        /* Called after the handler (also for 401/404/405), e.g. to release
         * what authenticate attached.  Optional. */
        void (*finish)(cp_svc_call *c);
        /* Access log: one call per request with the status answered and the
         * time spent in microseconds.  Optional. */
        void (*access_log)(const cp_svc_call *c, unsigned status, uint64_t micros);
} cp_svc_options;

/* The routes and hooks are borrowed (static tables in practice). */
CP_WUR int cp_svc_new(const cp_svc_options *o, cp_svc **ret);
cp_svc *cp_svc_free(cp_svc *s);

/* The cp_http_handler of the service: userdata is the cp_svc. */
void cp_svc_handle(void *svc, const cp_http_request *req, cp_http_response *resp);

/* The same with per-request state for the hooks and handlers (c->ctx),
 * for a service that wraps cp_svc_handle in its own cp_http_handler. */
void cp_svc_serve(const cp_svc *s, const cp_http_request *req, cp_http_response *resp, void *ctx);

/* Start an HTTP server that feeds cp_svc_handle. */
CP_WUR int cp_svc_listen(cp_svc *s, const cp_httpd_options *o, cp_httpd **ret);

/* ---- the one cp_err -> HTTP map --------------------------------------------- */

/* The HTTP status for a cp_err: parse and usage errors 400 (CP_EBADSEQ 409),
 * CP_ENOTFOUND 404, CP_ETOOBIG 400 (a field over its limit; a body over the
 * service's limit is 413 from httpd before it is read), verification and
 * policy 400, CP_ENETWORK 503, CP_ENOMEM 503, I/O, storage and internal 500. */
unsigned cp_http_status_of(int err);
/* The standard reason of a status ("NotFound"), never NULL. */
const char *cp_http_reason(unsigned status);

/* ---- replies ------------------------------------------------------------------ */

/* JSON body (reference stolen; NULL answers 500). */
void cp_svc_reply_json(cp_svc_call *c, unsigned status, json_t *body);
/* The one error body: {"error": {"code": code, "message": message}}, with
 * "details": [] (and "target" when not NULL) for cp_svc_options.error_details.
 * Headers set before stay (ARM answers WWW-Authenticate, Retry-After with
 * errors); cp_http_resp_set_header replaces one. */
void cp_svc_reply_error(cp_svc_call *c, unsigned status, const char *code, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
/* The same with the ARM "target" (the offending property's path). */
void cp_svc_reply_error_at(cp_svc_call *c, unsigned status, const char *code, const char *target, const char *fmt,
                           ...) __attribute__((format(printf, 5, 6)));
/* The error body for a cp_err, with its status from cp_http_status_of and
 * its code from the dialect; the message is cp_error_message() for client
 * errors (after the error's name for the dialect's named categories) and
 * only the error's name for 500 (internals stay in the log); a 503 keeps its
 * message, which names the peer or resource that is unavailable. */
void cp_svc_reply_err(cp_svc_call *c, int err);

/* ---- request helpers -------------------------------------------------------- */

/* The body as a JSON object: CP_EFORMAT when empty, not JSON, nested deeper
 * than the service's bound, with a duplicate member, or not an object. */
CP_WUR int cp_svc_json_body(const cp_svc_call *c, json_t **ret);
/* The same rules for any bytes (for services that parse bodies elsewhere). */
CP_WUR int cp_svc_json_parse(const uint8_t *body, size_t len, size_t max_depth, json_t **ret);
/* Every member of o is in allowed (NULL-terminated), else CP_EFORMAT naming it. */
CP_WUR int cp_svc_json_only(const json_t *o, const char *what, const char *const *allowed);

#endif
