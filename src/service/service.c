/* SPDX-License-Identifier: Apache-2.0 */
/* The one service skeleton (service.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "basic/json-depth.h"
#include "basic/limits.h"
#include "service/service.h"

struct cp_svc {
        cp_svc_options o;
};

int cp_svc_new(const cp_svc_options *o, cp_svc **ret) {
        if (!o || !ret || (o->n_routes && !o->routes))
                return CP_ERROR(CP_EINVAL, "service: no options or routes");
        for (size_t i = 0; i < o->n_routes; i++) {
                const cp_svc_route *r = &o->routes[i];
                if (!r->method || !r->pattern || r->pattern[0] != '/' || !r->handler)
                        return CP_ERROR(CP_EINVAL, "service: route %zu is incomplete", i);
                size_t caps = 0;
                for (const char *p = r->pattern; *p; p++)
                        caps += *p == '{';
                if (caps > CP_SVC_MAX_CAPS)
                        return CP_ERROR(CP_EINVAL, "service: route %s has %zu captures (at most %d)", r->pattern,
                                        caps, CP_SVC_MAX_CAPS);
        }
        cp_svc *s = calloc(1, sizeof(*s));
        if (!s)
                return cp_error_oom();
        s->o = *o;
        if (!s->o.max_depth)
                s->o.max_depth = CP_MAX_JSON_DEPTH;
        *ret = s;
        return 0;
}

cp_svc *cp_svc_free(cp_svc *s) {
        free(s);
        return NULL;
}

int cp_svc_listen(cp_svc *s, const cp_httpd_options *o, cp_httpd **ret) {
        if (!s)
                return CP_ERROR(CP_EINVAL, "service: none");
        return cp_httpd_start(o, cp_svc_handle, s, ret);
}

/* ---- the one cp_err -> HTTP map ------------------------------------------------ */

unsigned cp_http_status_of(int err) {
        switch (err) {
        case CP_OK:
                return 200;
        case CP_ENOTFOUND:
                return 404;
        case CP_EBADSEQ:
        case CP_ECONFLICT:
                return 409;
        case CP_EFENCED:
                return 503;
        case CP_ENETWORK:
        case CP_ENOMEM:
        case CP_EAGAIN:
                return 503;
        case CP_EIO:
                return 500;
        default:
                break;
        }
        switch (cp_err_category_of(err)) {
        case CP_ERRCAT_USAGE:
        case CP_ERRCAT_IO: /* CP_ETOOBIG: a field over its limit */
        case CP_ERRCAT_PARSE:
        case CP_ERRCAT_VERIFY:
        case CP_ERRCAT_POLICY:
                return 400;
        default:
                return 500;
        }
}

const char *cp_http_reason(unsigned status) {
        switch (status) {
        case 200: return "OK";
        case 201: return "Created";
        case 202: return "Accepted";
        case 204: return "NoContent";
        case 400: return "BadRequest";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "NotFound";
        case 405: return "MethodNotAllowed";
        case 409: return "Conflict";
        case 412: return "PreconditionFailed";
        case 413: return "RequestEntityTooLarge";
        case 415: return "UnsupportedMediaType";
        case 429: return "TooManyRequests";
        case 500: return "InternalError";
        case 503: return "ServiceUnavailable";
        default: return status < 500 ? "BadRequest" : "InternalError";
        }
}

static const char *dialect_code(const cp_svc_dialect *d, unsigned status, int err) {
        const char *code = NULL;
        if (d) {
                cp_err_category cat = cp_err_category_of(err);
                if (status == 400 && cat == CP_ERRCAT_VERIFY)
                        code = d->rejected;
                else if (status == 400 && cat == CP_ERRCAT_POLICY)
                        code = d->policy;
                else if (status == 400)
                        code = d->bad_request;
                else if (status == 401)
                        code = d->unauthorized;
                else if (status == 403)
                        code = d->forbidden;
                else if (status == 404)
                        code = d->not_found;
                else if (status == 409)
                        code = d->conflict;
                else if (status == 503)
                        code = d->unavailable;
                else if (status >= 500)
                        code = d->internal;
        }
        return code ? code : cp_http_reason(status);
}

/* ---- replies ------------------------------------------------------------------- */

void cp_svc_reply_json(cp_svc_call *c, unsigned status, json_t *body) {
        if (!body || cp_http_resp_json(c->resp, status, body) < 0) {
                c->resp->status = 500;
                if (!c->err)
                        c->err = CP_ENOMEM;
        }
}

static void reply_error_v(cp_svc_call *c, unsigned status, const char *code, const char *target, const char *fmt,
                          va_list ap) {
        char msg[CP_ERROR_MESSAGE_MAX + 128];
        if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
                msg[0] = '\0';
        /* messages quote client input (paths, names): printable ASCII only,
         * so that the body is valid UTF-8 and holds no control characters */
        for (char *p = msg; *p; p++)
                if ((unsigned char) *p < 0x20 || (unsigned char) *p > 0x7e)
                        *p = '?';
        json_t *e = json_pack("{s:s,s:s}", "code", code ? code : cp_http_reason(status), "message", msg);
        if (e && c->svc && c->svc->o.error_details) {
                if (json_object_set_new(e, "details", json_array()) < 0 ||
                    (target && *target && json_object_set_new(e, "target", json_string(target)) < 0)) {
                        json_decref(e);
                        e = NULL;
                }
        }
        cp_svc_reply_json(c, status, e ? json_pack("{s:o}", "error", e) : NULL);
}

void cp_svc_reply_error(cp_svc_call *c, unsigned status, const char *code, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        reply_error_v(c, status, code, NULL, fmt, ap);
        va_end(ap);
}

void cp_svc_reply_error_at(cp_svc_call *c, unsigned status, const char *code, const char *target, const char *fmt,
                           ...) {
        va_list ap;
        va_start(ap, fmt);
        reply_error_v(c, status, code, target, fmt, ap);
        va_end(ap);
}

void cp_svc_reply_err(cp_svc_call *c, int err) {
        unsigned status = cp_http_status_of(err);
        const char *code = dialect_code(c->svc ? c->svc->o.dialect : NULL, status, err);
        const cp_svc_dialect *d = c->svc ? c->svc->o.dialect : NULL;
        c->err = err;
        if (status >= 500 && status != 503)
                cp_svc_reply_error(c, status, code, "%s", cp_err_name(err));
        else if (d && (d->named & (1u << cp_err_category_of(err))))
                cp_svc_reply_error(c, status, code, "%s: %s", cp_err_name(err), cp_error_message());
        else
                cp_svc_reply_error(c, status, code, "%s", cp_error_message());
}

/* ---- request helpers ----------------------------------------------------------- */

int cp_svc_json_parse(const uint8_t *body, size_t len, size_t max_depth, json_t **ret) {
        json_error_t jerr;
        size_t off = 0;
        if (!body || len == 0)
                return CP_ERROR(CP_EFORMAT, "request body is empty");
        if (!cp_json_depth_within(body, len, (unsigned) (max_depth ? max_depth : CP_MAX_JSON_DEPTH), &off))
                return CP_ERROR(CP_EFORMAT, "request JSON nested deeper than %zu (offset %zu)",
                                max_depth ? max_depth : (size_t) CP_MAX_JSON_DEPTH, off);
        json_t *j = json_loadb((const char *) body, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!j)
                return CP_ERROR(CP_EFORMAT, "request body is not JSON: %s (line %d, column %d)", jerr.text, jerr.line,
                                jerr.column);
        if (!json_is_object(j)) {
                json_decref(j);
                return CP_ERROR(CP_EFORMAT, "request body must be a JSON object");
        }
        *ret = j;
        return 0;
}

int cp_svc_json_body(const cp_svc_call *c, json_t **ret) {
        return cp_svc_json_parse(c->req->body, c->req->body_len, c->svc ? c->svc->o.max_depth : 0, ret);
}

int cp_svc_json_only(const json_t *o, const char *what, const char *const *allowed) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *) o, k, v) {
                size_t i;
                for (i = 0; allowed[i]; i++)
                        if (strcmp(k, allowed[i]) == 0)
                                break;
                if (!allowed[i])
                        return CP_ERROR(CP_EFORMAT, "%s: unknown member \"%.64s\"", what, k);
        }
        return 0;
}

/* ---- dispatch ------------------------------------------------------------------ */

static uint64_t now_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

/* The first route whose pattern and method match; *ret_path_known when some
 * route matched the path with another method (allow: those methods),
 * *ret_public when all those routes are public. */
static const cp_svc_route *route_of(const cp_svc *s, cp_svc_call *c, bool *ret_path_known, bool *ret_public,
                                    char *allow, size_t allow_cap) {
        *ret_path_known = false;
        *ret_public = true;
        allow[0] = '\0';
        for (size_t i = 0; i < s->o.n_routes; i++) {
                const cp_svc_route *r = &s->o.routes[i];
                char caps[CP_SVC_MAX_CAPS][CP_SVC_CAP_MAX];
                if (!cp_http_path_match(r->pattern, c->path, s->o.case_insensitive, caps, CP_SVC_MAX_CAPS))
                        continue;
                if (strcmp(r->method, c->req->method) == 0) {
                        memcpy(c->caps, caps, sizeof(caps));
                        c->n_caps = 0;
                        for (const char *p = r->pattern; *p; p++)
                                c->n_caps += *p == '{';
                        return r;
                }
                if (!strstr(allow, r->method)) {
                        size_t n = strlen(allow);
                        snprintf(allow + n, allow_cap - n, "%s%s", n ? ", " : "", r->method);
                }
                *ret_path_known = true;
                *ret_public = *ret_public && (r->flags & CP_ROUTE_PUBLIC);
        }
        return NULL;
}

static void reply_unrouted(const cp_svc *s, cp_svc_call *c, bool known, const char *allow) {
        if (known) {
                cp_svc_reply_error(c, 405, NULL, "%s is not allowed on this path (allowed: %s)", c->req->method, allow);
                if (cp_http_resp_header(c->resp, "Allow", allow) < 0)
                        c->resp->status = 500;
        } else {
                cp_svc_reply_error(c, 404, s->o.dialect ? s->o.dialect->not_found : NULL,
                                   "no such resource or operation: %s %.200s", c->req->method, c->req->path);
        }
}

/* The authentication and authorization hooks; false when they answered. */
static bool admitted(const cp_svc *s, cp_svc_call *c) {
        int e = s->o.authenticate(c);
        if (e < 0) {
                c->err = e;
                if (c->resp->status)
                        return false; /* the hook's own answer */
                cp_svc_reply_error(c, 401, s->o.dialect ? s->o.dialect->unauthorized : NULL, "%s", cp_error_message());
                if (s->o.www_authenticate &&
                    cp_http_resp_header(c->resp, "WWW-Authenticate", s->o.www_authenticate) < 0)
                        c->resp->status = 500;
                return false;
        }
        if (c->route && s->o.authorize && (e = s->o.authorize(c)) < 0) {
                c->err = e;
                if (!c->resp->status)
                        cp_svc_reply_error(c, 403, s->o.dialect ? s->o.dialect->forbidden : NULL, "%s",
                                           cp_error_message());
                return false;
        }
        return true;
}

/* The body's Content-Type is JSON, or absent; else answer 415 (false). */
static bool media_type_ok(cp_svc_call *c) {
        const char *ct = cp_http_req_header(c->req, "Content-Type");
        if (!ct || c->req->body_len == 0 || (c->route->flags & CP_ROUTE_ANY_BODY))
                return true;
        size_t n = strcspn(ct, ";");
        while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
                n--;
        if ((n == 16 && strncasecmp(ct, "application/json", 16) == 0) ||
            (n > 5 && strncasecmp(ct + n - 5, "+json", 5) == 0 && memchr(ct, '/', n)))
                return true;
        c->err = CP_EUNSUPPORTED;
        cp_svc_reply_error(c, 415, "UnsupportedMediaType",
                           "The content media type '%.*s' is not supported for %s %.200s. Only 'application/json' "
                           "is supported.", (int) (n > 100 ? 100 : n), ct, c->req->method, c->req->path);
        return false;
}

static void dispatch(const cp_svc *s, cp_svc_call *c) {
        bool known, public;
        char allow[64];
        if (s->o.max_body && c->req->body_len > s->o.max_body) {
                cp_svc_reply_error(c, 413, NULL, "The request body is %zu bytes; the limit is %zu bytes.",
                                   c->req->body_len, s->o.max_body);
                return;
        }
        const cp_svc_route *r = route_of(s, c, &known, &public, allow, sizeof(allow));
        if (!r) {
                /* a 405 on a public path hides nothing */
                if (s->o.authenticate && s->o.auth_before_routing && !(known && public) && !admitted(s, c))
                        return;
                reply_unrouted(s, c, known, allow);
                return;
        }
        c->route = r;
        if (s->o.authenticate && !(r->flags & CP_ROUTE_PUBLIC) && !admitted(s, c))
                return;
        if (!media_type_ok(c))
                return;
        r->handler(c);
}

void cp_svc_serve(const cp_svc *s, const cp_http_request *req, cp_http_response *resp, void *ctx) {
        uint64_t t0 = s->o.access_log ? now_us() : 0;
        cp_svc_call c = { .svc = s, .userdata = s->o.userdata, .req = req, .resp = resp,
                          .path = req->path ? req->path : "/", .ctx = ctx };
        cp_error_clear();
        if (!s->o.prepare || s->o.prepare(&c))
                dispatch(s, &c);
        if (resp->status == 0)
                cp_svc_reply_error(&c, 500, NULL, "the handler gave no answer");
        if (s->o.finish)
                s->o.finish(&c);
        if (s->o.access_log)
                s->o.access_log(&c, resp->status, now_us() - t0);
}

void cp_svc_handle(void *svc, const cp_http_request *req, cp_http_response *resp) {
        cp_svc_serve(svc, req, resp, NULL);
}
