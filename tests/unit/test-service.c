/* SPDX-License-Identifier: Apache-2.0 */
/* The service skeleton (src/service/service.h): routing, 404/405, the
 * authentication hook, JSON bodies with limits, the one cp_err -> HTTP map
 * and the one error body.  Requests go to cp_svc_handle directly; the HTTP
 * server under it is tested in test-httpd. */
#include <stdlib.h>
#include <string.h>

#include "basic/limits.h"
#include "service/service.h"
#include "tests.h"

typedef struct env {
        unsigned handled, finished, logged, last_status;
        char last_caps[2][CP_SVC_CAP_MAX];
} env;

static void h_get(cp_svc_call *c) {
        env *e = c->userdata;
        e->handled++;
        memcpy(e->last_caps[0], c->caps[0], CP_SVC_CAP_MAX);
        memcpy(e->last_caps[1], c->caps[1], CP_SVC_CAP_MAX);
        cp_svc_reply_json(c, 200, json_pack("{s:s,s:s,s:I}", "who", c->who, "a", c->caps[0], "n", (json_int_t) c->n_caps));
}

static void h_body(cp_svc_call *c) {
        json_t *b = NULL;
        int r = cp_svc_json_body(c, &b);
        if (r < 0)
                return cp_svc_reply_err(c, r);
        static const char *const allowed[] = { "x", NULL };
        r = cp_svc_json_only(b, "body", allowed);
        if (r < 0) {
                json_decref(b);
                return cp_svc_reply_err(c, r);
        }
        cp_svc_reply_json(c, 201, b);
}

static void h_fail(cp_svc_call *c) {
        cp_svc_reply_err(c, CP_ERROR(atoi(c->caps[0]), "secret internal detail %s", "xyz"));
}

static void h_form(cp_svc_call *c) {
        cp_svc_reply_json(c, 200, json_pack("{s:I}", "len", (json_int_t) c->req->body_len));
}

static void h_silent(cp_svc_call *c) {
        (void) c;
}

static int authenticate(cp_svc_call *c) {
        const char *p = c->req->path;
        if (strstr(p, "/deny"))
                return CP_ERROR(CP_ESIG, "token signature does not verify");
        snprintf(c->who, sizeof(c->who), "tester");
        return 0;
}

/* Routes marked CP_ROUTE_SERVICE (the service's own bit) are only for {a} = "mine". */
static int authorize(cp_svc_call *c) {
        if ((c->route->flags & CP_ROUTE_SERVICE) && strcmp(c->caps[0], "mine") != 0)
                return CP_ERROR(CP_EPOLICY, "%s may not touch %s", c->who, c->caps[0]);
        return 0;
}

static void finish(cp_svc_call *c) {
        ((env *) c->userdata)->finished++;
}

static void access_log(const cp_svc_call *c, unsigned status, uint64_t micros) {
        env *e = c->userdata;
        (void) micros;
        e->logged++;
        e->last_status = status;
}

static const cp_svc_route routes[] = {
        { "GET", "/items/{a}/sub/{b}", h_get, 0 },
        { "GET", "/items/{a}", h_get, 0 },
        { "DELETE", "/items/{a}", h_get, 0 },
        { "GET", "/public/{a}", h_get, CP_ROUTE_PUBLIC },
        { "GET", "/deny/{a}", h_get, 0 },
        { "POST", "/body", h_body, 0 },
        { "GET", "/fail/{code}", h_fail, CP_ROUTE_PUBLIC },
        { "GET", "/silent", h_silent, CP_ROUTE_PUBLIC },
        { "GET", "/owned/{a}", h_get, CP_ROUTE_SERVICE },
        { "POST", "/form", h_form, CP_ROUTE_ANY_BODY },
};

static const cp_svc_dialect kv = { .bad_request = "BadParameter", .not_found = "KeyNotFound",
                                   .unauthorized = "Unauthorized", .forbidden = "Forbidden",
                                   .rejected = "EvidenceRejected" };

static cp_svc *make(env *e, bool ci, const cp_svc_dialect *d) {
        cp_svc *s = NULL;
        cp_svc_options o = { .routes = routes, .n_routes = sizeof(routes) / sizeof(routes[0]), .case_insensitive = ci,
                             .userdata = e, .dialect = d, .authenticate = authenticate,
                             .www_authenticate = "Bearer realm=\"test\"", .authorize = authorize, .finish = finish,
                             .access_log = access_log };
        ASSERT_OK(cp_svc_new(&o, &s));
        return s;
}

/* Send one request; returns the response's status, body parsed into *ret_body (may be NULL). */
static unsigned call(cp_svc *s, const char *method, const char *path, const char *body, cp_http_response *resp,
                     json_t **ret_body) {
        cp_http_request req = { .method = method, .path = path, .body = (const uint8_t *) body,
                                .body_len = body ? strlen(body) : 0, .remote_addr = "127.0.0.1" };
        memset(resp, 0, sizeof(*resp));
        cp_svc_handle(s, &req, resp);
        if (ret_body) {
                *ret_body = resp->body ? json_loadb((const char *) resp->body, resp->body_len, 0, NULL) : NULL;
        }
        return resp->status;
}

static void resp_clear(cp_http_response *r) {
        free(r->body);
        for (size_t i = 0; i < r->n_headers; i++) {
                free(r->header_names[i]);
                free(r->header_values[i]);
        }
        memset(r, 0, sizeof(*r));
}

static const char *err_code(const json_t *b) {
        return json_string_value(json_object_get(json_object_get(b, "error"), "code"));
}
static const char *err_message(const json_t *b) {
        return json_string_value(json_object_get(json_object_get(b, "error"), "message"));
}

TEST(routes_captures_and_order) {
        env e = { 0 };
        cp_svc *s = make(&e, false, NULL);
        cp_http_response r;
        json_t *b;
        ASSERT_EQ(call(s, "GET", "/items/k1/sub/v2", NULL, &r, &b), 200u);
        ASSERT_STREQ(e.last_caps[0], "k1");
        ASSERT_STREQ(e.last_caps[1], "v2");
        ASSERT_EQ(json_integer_value(json_object_get(b, "n")), 2);
        ASSERT_STREQ(json_string_value(json_object_get(b, "who")), "tester");
        json_decref(b);
        resp_clear(&r);
        ASSERT_EQ(call(s, "GET", "/items/k1/", NULL, &r, &b), 200u); /* trailing slash */
        ASSERT_EQ(json_integer_value(json_object_get(b, "n")), 1);
        json_decref(b);
        resp_clear(&r);
        /* literals are case-sensitive unless the service says otherwise */
        ASSERT_EQ(call(s, "GET", "/ITEMS/k1", NULL, &r, &b), 404u);
        json_decref(b);
        resp_clear(&r);
        cp_svc_free(s);
        s = make(&e, true, NULL);
        ASSERT_EQ(call(s, "GET", "/ITEMS/k1", NULL, &r, NULL), 200u);
        resp_clear(&r);
        ASSERT_EQ(e.handled, 3u);
        ASSERT_EQ(e.finished, 4u);
        ASSERT_EQ(e.logged, 4u);
        cp_svc_free(s);
}

TEST(not_found_and_method_not_allowed) {
        env e = { 0 };
        cp_svc *s = make(&e, false, &kv);
        cp_http_response r;
        json_t *b;
        ASSERT_EQ(call(s, "GET", "/nothing/here", NULL, &r, &b), 404u);
        ASSERT_STREQ(err_code(b), "KeyNotFound");
        ASSERT_TRUE(strstr(err_message(b), "/nothing/here") != NULL);
        json_decref(b);
        resp_clear(&r);
        /* a path that is not UTF-8 or holds control characters is quoted safely */
        ASSERT_EQ(call(s, "GET", "/nothing/\xff\xfe\x01\n", NULL, &r, &b), 404u);
        ASSERT_TRUE(b != NULL);
        ASSERT_TRUE(strstr(err_message(b), "/nothing/????") != NULL);
        json_decref(b);
        resp_clear(&r);
        ASSERT_EQ(call(s, "PUT", "/items/k1", "{}", &r, &b), 405u);
        ASSERT_STREQ(err_code(b), "MethodNotAllowed");
        ASSERT_EQ(r.n_headers, 1u);
        ASSERT_STREQ(r.header_names[0], "Allow");
        ASSERT_STREQ(r.header_values[0], "GET, DELETE");
        json_decref(b);
        resp_clear(&r);
        ASSERT_EQ(e.handled, 0u);
        ASSERT_EQ(e.last_status, 405u);
        cp_svc_free(s);
}

TEST(authentication_hook) {
        env e = { 0 };
        cp_svc *s = make(&e, false, &kv);
        cp_http_response r;
        json_t *b;
        ASSERT_EQ(call(s, "GET", "/deny/x", NULL, &r, &b), 401u);
        ASSERT_STREQ(err_code(b), "Unauthorized");
        ASSERT_TRUE(strstr(err_message(b), "signature") != NULL);
        ASSERT_EQ(r.n_headers, 1u); /* the challenge goes with every 401 */
        ASSERT_STREQ(r.header_names[0], "WWW-Authenticate");
        ASSERT_STREQ(r.header_values[0], "Bearer realm=\"test\"");
        json_decref(b);
        resp_clear(&r);
        ASSERT_EQ(e.handled, 0u);
        /* a public route skips the hook: who stays empty */
        ASSERT_EQ(call(s, "GET", "/public/deny", NULL, &r, &b), 200u);
        ASSERT_STREQ(json_string_value(json_object_get(b, "who")), "");
        json_decref(b);
        resp_clear(&r);
        cp_svc_free(s);
}

TEST(authorization_hook) {
        env e = { 0 };
        cp_svc *s = make(&e, false, &kv);
        cp_http_response r;
        json_t *b;
        /* authenticated, then refused by the hook: 403 with its message, the handler never runs */
        ASSERT_EQ(call(s, "GET", "/owned/theirs", NULL, &r, &b), 403u);
        ASSERT_STREQ(err_code(b), "Forbidden");
        ASSERT_TRUE(strstr(err_message(b), "tester may not touch theirs") != NULL);
        ASSERT_EQ(r.n_headers, 0u);
        json_decref(b);
        resp_clear(&r);
        ASSERT_EQ(e.handled, 0u);
        ASSERT_EQ(e.last_status, 403u);
        ASSERT_EQ(call(s, "GET", "/owned/mine", NULL, &r, NULL), 200u);
        resp_clear(&r);
        /* the hook sees every authenticated route; an unmarked one passes */
        ASSERT_EQ(call(s, "GET", "/items/theirs", NULL, &r, NULL), 200u);
        resp_clear(&r);
        /* authentication comes first: a refused token is 401, not 403 */
        ASSERT_EQ(call(s, "GET", "/deny/x", NULL, &r, NULL), 401u);
        resp_clear(&r);
        ASSERT_EQ(e.handled, 2u);
        ASSERT_EQ(e.finished, 4u);
        cp_svc_free(s);
}

TEST(json_bodies) {
        env e = { 0 };
        cp_svc *s = make(&e, false, &kv);
        cp_http_response r;
        json_t *b;
        static const struct {
                const char *body;
                unsigned status;
                const char *needle; /* in the error message */
        } cases[] = {
                { "{\"x\":1}", 201, NULL },
                { NULL, 400, "empty" },
                { "", 400, "empty" },
                { "{\"x\":", 400, "not JSON" },
                { "[1,2]", 400, "object" },
                { "{\"x\":1,\"x\":2}", 400, "not JSON" },
                { "{\"y\":1}", 400, "unknown member \"y\"" },
                { "{\"x\":1} trailing", 400, "not JSON" },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                ASSERT_EQ(call(s, "POST", "/body", cases[i].body, &r, &b), cases[i].status);
                if (cases[i].needle) {
                        ASSERT_STREQ(err_code(b), "BadParameter");
                        ASSERT_TRUE(strstr(err_message(b), cases[i].needle) != NULL);
                }
                json_decref(b);
                resp_clear(&r);
        }
        /* the depth bound holds before jansson builds a tree */
        char deep[2 * (CP_MAX_JSON_DEPTH + 2) + 16];
        size_t n = 0;
        deep[n++] = '{';
        memcpy(deep + n, "\"x\":", 4);
        n += 4;
        for (unsigned i = 0; i < CP_MAX_JSON_DEPTH + 1; i++)
                deep[n++] = '[';
        for (unsigned i = 0; i < CP_MAX_JSON_DEPTH + 1; i++)
                deep[n++] = ']';
        deep[n++] = '}';
        deep[n] = '\0';
        ASSERT_EQ(call(s, "POST", "/body", deep, &r, &b), 400u);
        ASSERT_TRUE(strstr(err_message(b), "nested deeper") != NULL);
        json_decref(b);
        resp_clear(&r);
        cp_svc_free(s);
}

TEST(one_error_map) {
        static const struct {
                int err;
                unsigned status;
        } map[] = {
                { CP_OK, 200 },          { CP_EINVAL, 400 },     { CP_EUNSUPPORTED, 400 }, { CP_EBADSEQ, 409 },
                { CP_ENOMEM, 503 },      { CP_EIO, 500 },        { CP_ENOTFOUND, 404 },    { CP_ENETWORK, 503 },
                { CP_ETOOBIG, 400 },     { CP_ETRUNC, 400 },     { CP_EFORMAT, 400 },      { CP_EVERSION, 400 },
                { CP_ETRAILING, 400 },   { CP_EMBZ, 400 },       { CP_ESIG, 400 },         { CP_ECERT, 400 },
                { CP_EUNTRUSTED, 400 },  { CP_EEXPIRED, 400 },   { CP_EREVOKED, 400 },     { CP_ETCB, 400 },
                { CP_ECHIPID, 400 },     { CP_EBINDING, 400 },   { CP_EPOLICY, 400 },      { CP_ESTORAGE, 500 },
                { CP_ECRYPTO, 500 },     { CP_EINTERNAL, 500 },  { -999, 500 },
                { CP_EAGAIN, 503 },      { CP_EFENCED, 503 },    { CP_ECONFLICT, 409 },
        };
        for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
                ASSERT_EQ(cp_http_status_of(map[i].err), map[i].status);
}

TEST(error_bodies_and_dialect) {
        env e = { 0 };
        cp_svc *s = make(&e, false, &kv);
        cp_http_response r;
        json_t *b;
        char path[64];
        static const struct {
                int err;
                unsigned status;
                const char *code;
                bool shows_message;
        } cases[] = {
                { CP_ETRAILING, 400, "BadParameter", true },    /* kbsd answered 500 for these */
                { CP_EMBZ, 400, "BadParameter", true },
                { CP_ESIG, 400, "EvidenceRejected", true },
                { CP_EPOLICY, 400, "BadRequest", true },        /* dialect has no policy code */
                { CP_ENOTFOUND, 404, "KeyNotFound", true },
                { CP_EBADSEQ, 409, "Conflict", true },
                { CP_EINTERNAL, 500, "InternalError", false },  /* internals stay in the log */
                { CP_ENETWORK, 503, "ServiceUnavailable", true },   /* names what is unavailable */
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                snprintf(path, sizeof(path), "/fail/%d", cases[i].err);
                ASSERT_EQ(call(s, "GET", path, NULL, &r, &b), cases[i].status);
                ASSERT_STREQ(err_code(b), cases[i].code);
                ASSERT_EQ(strstr(err_message(b), "secret internal detail") != NULL, cases[i].shows_message);
                json_decref(b);
                resp_clear(&r);
        }
        /* a handler that answers nothing gets a 500, not an empty 200 */
        ASSERT_EQ(call(s, "GET", "/silent", NULL, &r, &b), 500u);
        json_decref(b);
        resp_clear(&r);
        cp_svc_free(s);
}

TEST(bad_tables_refused) {
        cp_svc *s = NULL;
        static const cp_svc_route no_slash[] = { { "GET", "items", h_get, 0 } };
        static const cp_svc_route no_handler[] = { { "GET", "/items", NULL, 0 } };
        static const cp_svc_route many_caps[] = { { "GET", "/{a}/{b}/{c}/{d}/{e}/{f}/{g}", h_get, 0 } };
        cp_svc_options o = { .routes = no_slash, .n_routes = 1 };
        ASSERT_ERR(cp_svc_new(&o, &s), CP_EINVAL);
        o.routes = no_handler;
        ASSERT_ERR(cp_svc_new(&o, &s), CP_EINVAL);
        o.routes = many_caps;
        ASSERT_ERR(cp_svc_new(&o, &s), CP_EINVAL);
        ASSERT_ERR(cp_svc_new(NULL, &s), CP_EINVAL);
        ASSERT_TRUE(s == NULL);
}


/* A request built in-process carries its own headers and query parameters. */
TEST(in_process_headers_and_query) {
        static const cp_http_pair hdrs[] = { { "Authorization", "Bearer x" }, { "If-Match", "\"e1\"" } };
        static const cp_http_pair query[] = { { "api-version", "2026-01-01" }, { "flag", "" } };
        cp_http_request req = { .method = "GET", .path = "/x", .headers = hdrs, .n_headers = 2, .query = query,
                                .n_query = 2 };
        ASSERT_STREQ(cp_http_req_header(&req, "authorization"), "Bearer x");
        ASSERT_STREQ(cp_http_req_header(&req, "IF-MATCH"), "\"e1\"");
        ASSERT_TRUE(cp_http_req_header(&req, "Host") == NULL);
        ASSERT_STREQ(cp_http_req_query(&req, "api-version"), "2026-01-01");
        ASSERT_STREQ(cp_http_req_query(&req, "flag"), "");
        ASSERT_TRUE(cp_http_req_query(&req, "API-VERSION") == NULL);
        cp_http_request bare = { .method = "GET", .path = "/x" };
        ASSERT_TRUE(cp_http_req_header(&bare, "Authorization") == NULL);
        ASSERT_TRUE(cp_http_req_query(&bare, "api-version") == NULL);
        cp_http_response resp = { 0 };
        ASSERT_OK(cp_http_resp_text(&resp, 200, "ok"));
        ASSERT_OK(cp_http_resp_header(&resp, "X-A", "1"));
        cp_http_resp_clear(&resp);
        ASSERT_TRUE(resp.body == NULL && resp.n_headers == 0 && resp.status == 0);
}

/* Authentication before routing: an unauthenticated request to an unknown
 * path is 401, not 404; public routes still skip the hook. */
TEST(authentication_before_routing) {
        env e = { 0 };
        cp_svc *s = NULL;
        cp_svc_options o = { .routes = routes, .n_routes = sizeof(routes) / sizeof(routes[0]), .userdata = &e,
                             .authenticate = authenticate, .auth_before_routing = true, .authorize = authorize };
        ASSERT_OK(cp_svc_new(&o, &s));
        cp_http_response resp;
        json_t *b = NULL;
        ASSERT_EQ(call(s, "GET", "/deny/x/unknown", NULL, &resp, &b), 401);
        json_decref(b);
        resp_clear(&resp);
        ASSERT_EQ(call(s, "GET", "/nothing/here", NULL, &resp, NULL), 404); /* authenticated: 404 */
        resp_clear(&resp);
        ASSERT_EQ(call(s, "PUT", "/items/a", NULL, &resp, NULL), 405);
        resp_clear(&resp);
        ASSERT_EQ(call(s, "GET", "/public/deny", NULL, &resp, NULL), 200);
        resp_clear(&resp);
        /* a 405 on a public path needs no credentials: it hides nothing */
        ASSERT_EQ(call(s, "POST", "/public/deny", NULL, &resp, NULL), 405);
        resp_clear(&resp);
        s = cp_svc_free(s);
        /* the default order: routing first */
        o.auth_before_routing = false;
        ASSERT_OK(cp_svc_new(&o, &s));
        ASSERT_EQ(call(s, "GET", "/deny/x/unknown", NULL, &resp, NULL), 404);
        resp_clear(&resp);
        cp_svc_free(s);
}

/* Hooks that write their own answer (codes, headers) keep it. */
static int authenticate_own(cp_svc_call *c) {
        if (strstr(c->req->path, "/deny")) {
                cp_svc_reply_error(c, 401, "ExpiredAuthenticationToken", "expired");
                if (cp_http_resp_header(c->resp, "WWW-Authenticate", "Bearer error=\"invalid_token\"") < 0)
                        c->resp->status = 500;
                return CP_ERROR(CP_EEXPIRED, "token expired");
        }
        return 0;
}

static int authorize_own(cp_svc_call *c) {
        if (c->route->flags & CP_ROUTE_SERVICE) {
                cp_svc_reply_error(c, 403, "AuthorizationFailed", "not yours");
                return CP_ERROR(CP_EPOLICY, "not yours");
        }
        return 0;
}

TEST(hook_written_answers) {
        env e = { 0 };
        cp_svc *s = NULL;
        cp_svc_options o = { .routes = routes, .n_routes = sizeof(routes) / sizeof(routes[0]), .userdata = &e,
                             .authenticate = authenticate_own, .www_authenticate = "Bearer realm=\"test\"",
                             .authorize = authorize_own, .access_log = access_log };
        ASSERT_OK(cp_svc_new(&o, &s));
        cp_http_response resp;
        json_t *b = NULL;
        ASSERT_EQ(call(s, "GET", "/deny/x", NULL, &resp, &b), 401);
        ASSERT_STREQ(err_code(b), "ExpiredAuthenticationToken");
        ASSERT_EQ(resp.n_headers, 1);
        ASSERT_STREQ(resp.header_values[0], "Bearer error=\"invalid_token\"");
        ASSERT_EQ(e.last_status, 401);
        json_decref(b);
        resp_clear(&resp);
        ASSERT_EQ(call(s, "GET", "/owned/mine", NULL, &resp, &b), 403);
        ASSERT_STREQ(err_code(b), "AuthorizationFailed");
        ASSERT_EQ(e.handled, 0);
        json_decref(b);
        resp_clear(&resp);
        cp_svc_free(s);
}

/* ARM's error body shape: "details": [] and "target"; still one builder. */
static void h_target(cp_svc_call *c) {
        cp_svc_reply_error_at(c, 400, "InvalidParameter", "properties.count", "count %d is too big", 9);
}

TEST(arm_error_body) {
        static const cp_svc_route r[] = { { "GET", "/t", h_target, 0 } };
        cp_svc *s = NULL;
        cp_svc_options o = { .routes = r, .n_routes = 1, .error_details = true };
        ASSERT_OK(cp_svc_new(&o, &s));
        cp_http_response resp;
        json_t *b = NULL;
        ASSERT_EQ(call(s, "GET", "/t", NULL, &resp, &b), 400);
        const json_t *e = json_object_get(b, "error");
        ASSERT_STREQ(err_code(b), "InvalidParameter");
        ASSERT_STREQ(json_string_value(json_object_get(e, "target")), "properties.count");
        ASSERT_TRUE(json_is_array(json_object_get(e, "details")) && json_array_size(json_object_get(e, "details")) == 0);
        json_decref(b);
        resp_clear(&resp);
        ASSERT_EQ(call(s, "GET", "/nothing", NULL, &resp, &b), 404);
        e = json_object_get(b, "error");
        ASSERT_TRUE(json_is_array(json_object_get(e, "details")));
        ASSERT_TRUE(json_object_get(e, "target") == NULL);
        json_decref(b);
        resp_clear(&resp);
        cp_svc_free(s);
        /* the plain shape: code and message only, even with a target */
        o.error_details = false;
        ASSERT_OK(cp_svc_new(&o, &s));
        ASSERT_EQ(call(s, "GET", "/t", NULL, &resp, &b), 400);
        e = json_object_get(b, "error");
        ASSERT_EQ(json_object_size(e), 2);
        json_decref(b);
        resp_clear(&resp);
        cp_svc_free(s);
}

/* Headers: set replaces, and an error reply keeps what was set before. */
static void h_hdr_then_error(cp_svc_call *c) {
        if (cp_http_resp_header(c->resp, "Retry-After", "10") < 0 ||
            cp_http_resp_set_header(c->resp, "retry-after", "5") < 0 ||
            cp_http_resp_set_header(c->resp, "ETag", "\"e\"") < 0)
                return cp_svc_reply_err(c, -1);
        cp_svc_reply_error(c, 409, "Conflict", "busy");
}

TEST(headers_replace_and_survive_errors) {
        static const cp_svc_route r[] = { { "GET", "/h", h_hdr_then_error, 0 } };
        cp_svc *s = NULL;
        cp_svc_options o = { .routes = r, .n_routes = 1 };
        ASSERT_OK(cp_svc_new(&o, &s));
        cp_http_response resp;
        ASSERT_EQ(call(s, "GET", "/h", NULL, &resp, NULL), 409);
        ASSERT_EQ(resp.n_headers, 2);
        ASSERT_STREQ(cp_http_resp_get_header(&resp, "Retry-After"), "5");
        ASSERT_STREQ(cp_http_resp_get_header(&resp, "etag"), "\"e\"");
        ASSERT_TRUE(cp_http_resp_get_header(&resp, "Location") == NULL);
        resp_clear(&resp);
        cp_svc_free(s);
}

/* The body limit holds for requests built in-process too. */
TEST(max_body_in_process) {
        env e = { 0 };
        cp_svc *s = NULL;
        cp_svc_options o = { .routes = routes, .n_routes = sizeof(routes) / sizeof(routes[0]), .userdata = &e,
                             .max_body = 8 };
        ASSERT_OK(cp_svc_new(&o, &s));
        cp_http_response resp;
        json_t *b = NULL;
        ASSERT_EQ(call(s, "POST", "/body", "{\"x\":12345}", &resp, &b), 413);
        ASSERT_STREQ(err_code(b), "RequestEntityTooLarge");
        ASSERT_EQ(e.handled, 0);
        json_decref(b);
        resp_clear(&resp);
        ASSERT_EQ(call(s, "POST", "/body", "{\"x\":1}", &resp, NULL), 201);
        resp_clear(&resp);
        cp_svc_free(s);
}

/* A prefix step: /t/{tenant}/... routes the rest with the tenant in the
 * request's own state; a bad tenant is answered before routing. */
typedef struct tenant_ctx {
        char tenant[16];
        unsigned logged_status;
        char logged_path[64];
} tenant_ctx;

static bool prepare(cp_svc_call *c) {
        tenant_ctx *t = c->ctx;
        if (strncmp(c->path, "/t/", 3) != 0)
                return true;
        const char *name = c->path + 3, *slash = strchr(name, '/');
        size_t n = slash ? (size_t) (slash - name) : strlen(name);
        if (!slash || n == 0 || n >= sizeof(t->tenant) || strcspn(name, "!") < n) {
                cp_svc_reply_error(c, 400, NULL, "bad tenant");
                return false;
        }
        memcpy(t->tenant, name, n);
        t->tenant[n] = '\0';
        c->path = slash;
        return true;
}

static void h_tenant(cp_svc_call *c) {
        tenant_ctx *t = c->ctx;
        cp_svc_reply_json(c, 200, json_pack("{s:s,s:s}", "tenant", t->tenant, "a", c->caps[0]));
}

static void tenant_log(const cp_svc_call *c, unsigned status, uint64_t micros) {
        tenant_ctx *t = c->ctx;
        (void) micros;
        t->logged_status = status;
        snprintf(t->logged_path, sizeof(t->logged_path), "%s", c->path);
}

TEST(prepare_step_and_request_state) {
        static const cp_svc_route troutes[] = { { "GET", "/items/{a}", h_tenant, 0 } };
        cp_svc_options o = { .routes = troutes, .n_routes = 1, .prepare = prepare, .access_log = tenant_log };
        cp_svc *s = NULL;
        ASSERT_OK(cp_svc_new(&o, &s));
        static const struct {
                const char *path;
                unsigned status;
                const char *tenant, *logged_path;
        } cases[] = {
                { "/items/k", 200, "default", "/items/k" },
                { "/t/blue/items/k", 200, "blue", "/items/k" },
                { "/t/blue", 400, NULL, "/t/blue" },
                { "/t/bl!ue/items/k", 400, NULL, "/t/bl!ue/items/k" },
                { "/t/blue/nothing", 404, NULL, "/nothing" },
                { "/t/blue/t/red/items/k", 404, NULL, "/t/red/items/k" }, /* one prefix */
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                tenant_ctx t = { .tenant = "default" };
                cp_http_request req = { .method = "GET", .path = cases[i].path };
                cp_http_response r = { 0 };
                cp_svc_serve(s, &req, &r, &t);
                ASSERT_EQ(r.status, cases[i].status);
                ASSERT_EQ(t.logged_status, cases[i].status);
                ASSERT_STREQ(t.logged_path, cases[i].logged_path);
                json_t *b = json_loadb((const char *) r.body, r.body_len, 0, NULL);
                if (cases[i].tenant) {
                        ASSERT_STREQ(json_string_value(json_object_get(b, "tenant")), cases[i].tenant);
                        ASSERT_STREQ(json_string_value(json_object_get(b, "a")), "k");
                }
                json_decref(b);
                resp_clear(&r);
        }
        /* cp_svc_handle: no state, no prefix */
        cp_http_response r;
        cp_svc_free(s);
        env e = { 0 };
        s = make(&e, false, NULL);
        ASSERT_EQ(call(s, "GET", "/public/x", NULL, &r, NULL), 200u);
        resp_clear(&r);
        cp_svc_free(s);
}

TEST(dialect_names_errors_of_chosen_categories) {
        static const cp_svc_dialect named = { .rejected = "EvidenceRejected",
                                              .named = 1u << CP_ERRCAT_VERIFY | 1u << CP_ERRCAT_IO };
        env e = { 0 };
        cp_svc *s = make(&e, false, &named);
        cp_http_response r;
        json_t *b;
        char path[64];
        static const struct {
                int err;
                const char *message; /* prefix */
        } cases[] = {
                { CP_ESIG, "CP_ESIG: secret internal detail xyz" },
                { CP_ENOTFOUND, "CP_ENOTFOUND: secret internal detail xyz" },
                { CP_ETOOBIG, "secret internal detail xyz" },   /* parse: not a named category */
                { CP_EINTERNAL, "CP_EINTERNAL" },               /* 5xx: the name only, as always */
                { CP_ENETWORK, "CP_ENETWORK: secret internal detail xyz" }, /* 503: names what is unavailable */
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                snprintf(path, sizeof(path), "/fail/%d", cases[i].err);
                call(s, "GET", path, NULL, &r, &b);
                ASSERT_STREQ(err_message(b), cases[i].message);
                json_decref(b);
                resp_clear(&r);
        }
        cp_svc_free(s);
}

/* ---- media types (issue 13 item 12) ------------------------------------------------ */

typedef struct media_row {
        const char *name;
        const char *path;
        const char *content_type; /* NULL: none */
        unsigned status;
} media_row;

static const media_row media_rows[] = {
        { "json", "/body", "application/json", 201 },
        { "json with charset", "/body", "application/json; charset=utf-8", 201 },
        { "json upper case", "/body", "Application/JSON", 201 },
        { "merge-patch+json", "/body", "application/merge-patch+json", 201 },
        { "no content type", "/body", NULL, 201 },
        { "form", "/body", "application/x-www-form-urlencoded", 415 },
        { "text", "/body", "text/plain", 415 },
        { "json prefix", "/body", "application/jsonx", 415 },
        { "bare +json", "/body", "+json", 415 },
        { "form route", "/form", "application/x-www-form-urlencoded", 200 },
};

static void media_one(void *ctx, const void *row) {
        const media_row *r = row;
        cp_svc *s = ctx;
        cp_http_pair h[] = { { "Content-Type", r->content_type } };
        cp_http_request req = { .method = "POST", .path = r->path, .body = (const uint8_t *) "{\"x\":1}",
                                .body_len = 7, .remote_addr = "127.0.0.1", .headers = h,
                                .n_headers = r->content_type ? 1 : 0 };
        cp_http_response resp = { 0 };
        cp_svc_handle(s, &req, &resp);
        ASSERT_EQ(resp.status, r->status);
        if (r->status == 415) {
                json_t *b = json_loadb((const char *) resp.body, resp.body_len, 0, NULL);
                ASSERT_STREQ(err_code(b), "UnsupportedMediaType");
                ASSERT_TRUE(strstr(err_message(b), r->content_type) && strstr(err_message(b), r->path));
                json_decref(b);
        }
        resp_clear(&resp);
}

/* A JSON body with another Content-Type was read as JSON; now 415, except
 * on routes that take other bodies. */
TEST(content_type_of_json_bodies) {
        env e = { 0 };
        cp_svc *s = make(&e, false, &kv);
        TEST_TABLE(media_rows, media_one, s);
        cp_svc_free(s);
}
