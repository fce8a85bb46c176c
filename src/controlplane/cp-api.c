/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/fileio.h"
#include "basic/limits.h"
#include "basic/secure.h"
#include "controlplane/cp-api-internal.h"
#include "controlplane/cp-lease.h"
#include "controlplane/cp-nodes.h"

/* ---- responses ---- */

void api_header(api_ctx *c, const char *name, const char *value) {
        if (cp_http_resp_set_header(c->resp, name, value) < 0)
                cp_error_clear(); /* at most CP_HTTP_MAX_HEADERS: the answer goes out without it */
}

int api_raw(api_ctx *c, unsigned status, char *raw, size_t len) {
        cp_http_response *r = c->resp;
        free(r->body);
        r->body = (uint8_t *) raw;
        r->body_len = len;
        r->status = status;
        snprintf(r->content_type, sizeof r->content_type, "application/json; charset=utf-8");
        return 1;
}

int api_list_raw(api_ctx *c, const char *kind, const char *sub, const char *rg, const char *parent) {
        char *arr = NULL;
        size_t len = 0;
        int r = cp_res_list_raw(c->api->store, kind, sub, rg, parent, &arr, &len);
        if (r < 0)
                return r;
        char *out = malloc(len + 12);
        if (!out) {
                free(arr);
                return cp_error_oom();
        }
        memcpy(out, "{\"value\":", 9);
        memcpy(out + 9, arr, len);
        out[9 + len] = '}';
        out[10 + len] = 0;
        free(arr);
        return api_raw(c, 200, out, len + 10);
}

int api_json(api_ctx *c, unsigned status, json_t *body) {
        if (body)
                cp_svc_reply_json(c->call, status, body);
        else if (cp_http_resp_bytes(c->resp, status, "application/json; charset=utf-8", "", 0) < 0) {
                cp_error_clear();
                c->resp->status = 500;
        }
        return 1;
}

int api_error(api_ctx *c, unsigned status, const char *code, const char *target, const char *fmt, ...) {
        char msg[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        cp_svc_reply_error_at(c->call, status, code, target, "%s", msg);
        return 1;
}

int api_rule_error(api_ctx *c, const cp_rule_error *e) {
        cp_error_clear();
        return api_error(c, e->status ? e->status : 400, e->code, e->target, "%s", e->message);
}

/* ---- ids, etags, ops ---- */

void api_uuid(char out[37]) {
        uint8_t b[16];
        if (RAND_bytes(b, sizeof b) != 1)
                abort(); /* no randomness: nothing safe to do */
        b[6] = (uint8_t) ((b[6] & 0x0f) | 0x40);
        b[8] = (uint8_t) ((b[8] & 0x3f) | 0x80);
        char h[33];
        cp_hex_encode(b, sizeof b, h);
        snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
}

bool api_etag_matches(const char *header, const char *etag) {
        /* a comma-separated list of (optionally W/-prefixed, quoted) etags, or "*" */
        const char *p = header;
        while (p && *p) {
                while (*p == ' ' || *p == ',')
                        p++;
                if (!*p)
                        break;
                const char *end = strchr(p, ',');
                size_t n = end ? (size_t) (end - p) : strlen(p);
                while (n && p[n - 1] == ' ')
                        n--;
                const char *v = p;
                if (n >= 2 && v[0] == 'W' && v[1] == '/') {
                        v += 2;
                        n -= 2;
                }
                if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
                        v++;
                        n -= 2;
                }
                if ((n == 1 && v[0] == '*') || (etag && strlen(etag) == n && memcmp(v, etag, n) == 0))
                        return true;
                p = end;
        }
        return false;
}

int api_new_op(api_ctx *c, const char *kind, const char *action, const char *resource, const char *sub,
               const char *location, cp_op *ret) {
        cp_op op = {0};
        char id[37];
        api_uuid(id);
        snprintf(op.id, sizeof op.id, "%s", id);
        snprintf(op.sub, sizeof op.sub, "%s", sub);
        snprintf(op.location, sizeof op.location, "%s", location ? location : "");
        snprintf(op.resource, sizeof op.resource, "%s", resource);
        snprintf(op.kind, sizeof op.kind, "%s", kind);
        snprintf(op.action, sizeof op.action, "%s", action);
        snprintf(op.status, sizeof op.status, "InProgress");
        snprintf(op.api_version, sizeof op.api_version, "%s", c->api_version ? c->api_version : "");
        cp_now_rfc3339(op.start);
        int r = cp_op_insert(c->api->store, &op);
        if (r < 0)
                return r;
        *ret = op;
        return 0;
}

void api_lro_headers(api_ctx *c, const cp_op *op, bool location) {
        char url[1024], ra[16];
        if (strcmp(op->kind, "rg") == 0) {
                snprintf(url, sizeof url, "%s/subscriptions/%s/operationresults/%s?api-version=%s", c->base, op->sub,
                         op->id, op->api_version);
                api_header(c, "Location", url);
        } else {
                snprintf(url, sizeof url, "%s/subscriptions/%s/providers/" CP_NS_CS "/locations/%s/operations/%s?api-version=%s",
                         c->base, op->sub, op->location, op->id, op->api_version);
                api_header(c, "Azure-AsyncOperation", url);
                if (location) {
                        snprintf(url, sizeof url,
                                 "%s/subscriptions/%s/providers/" CP_NS_CS "/locations/%s/operationresults/%s?api-version=%s",
                                 c->base, op->sub, op->location, op->id, op->api_version);
                        api_header(c, "Location", url);
                }
        }
        snprintf(ra, sizeof ra, "%u", cp_rules_retry_after(c->api->rules));
        api_header(c, "Retry-After", ra);
}

json_t *api_system_data(const api_ctx *c, const json_t *old) {
        char now[40];
        cp_now_rfc3339(now);
        /* the operator is a user; service principals are applications (ARM's createdByType) */
        const char *who = c->principal.is_operator || !*c->principal.app_id ? "operator" : c->principal.app_id;
        const char *type = c->principal.is_operator || !*c->principal.app_id ? "User" : "Application";
        json_t *sd = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "createdBy", who, "createdByType", type, "createdAt",
                               now, "lastModifiedBy", who, "lastModifiedByType", type, "lastModifiedAt", now);
        const char *keys[] = {"createdBy", "createdByType", "createdAt"};
        for (size_t i = 0; sd && old && i < CP_ELEMENTSOF(keys); i++) {
                const json_t *v = json_object_get(old, keys[i]);
                if (json_is_string(v))
                        json_object_set(sd, keys[i], (json_t *) v);
        }
        return sd;
}

bool api_is_guid(const char *s) {
        static const char pat[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
        if (!s || strlen(s) != sizeof pat - 1)
                return false;
        for (size_t i = 0; pat[i]; i++)
                if (pat[i] == '-' ? s[i] != '-' : !isxdigit((unsigned char) s[i]))
                        return false;
        return true;
}

/* Feature gating: registered in the store (with the lazy Registering ->
 * Registered transition done by the features API) or named in the
 * AKSHTTPCustomFeatures request header. */
bool api_feature_registered(void *userdata, const char *feature) {
        const feature_ud *u = userdata;
        const char *hdr = u->c->custom_features;
        size_t fl = strlen(feature);
        for (const char *p = hdr; p && *p;) {
                while (*p == ' ' || *p == ',')
                        p++;
                size_t n = strcspn(p, ", ");
                if (n == fl && strncasecmp(p, feature, n) == 0)
                        return true;
                p += n;
        }
        const char *slash = strchr(feature, '/');
        if (!slash)
                return false;
        char ns[128], state[32];
        snprintf(ns, sizeof ns, "%.*s", (int) (slash - feature), feature);
        int64_t changed;
        if (cp_feature_get(u->c->api->store, u->sub, ns, slash + 1, state, &changed) < 0) {
                cp_error_clear();
                return false;
        }
        if (strcmp(state, "Registered") == 0)
                return true;
        return strcmp(state, "Registering") == 0 &&
               cp_now_ms() - changed >= (int64_t) cp_rules_feature_delay_ms(u->c->api->rules);
}

/* ---- auth ---- */

static void sha256_hex(const char *s, char out[65]) {
        uint8_t d[32];
        unsigned n = 0;
        EVP_Digest(s, strlen(s), d, &n, EVP_sha256(), NULL);
        cp_hex_encode(d, sizeof d, out);
        out[64] = 0;
}

bool cp_auth_check(char (*hashes)[65], size_t n, const char *authorization) {
        if (!authorization || strlen(authorization) > CP_MAX_API_TOKEN || strncasecmp(authorization, "Bearer ", 7) != 0)
                return false;
        const char *tok = authorization + 7;
        while (*tok == ' ')
                tok++;
        if (!*tok)
                return false;
        char h[65];
        sha256_hex(tok, h);
        bool ok = false;
        for (size_t i = 0; i < n; i++)
                ok |= cp_ct_eq(h, hashes[i], 64);
        cp_wipe(h, sizeof h);
        return ok;
}

/* Whether the store has any API token (0 or 1). */
static int have_tokens(cp_store *s) {
        char (*hashes)[65] = NULL;
        size_t n = 0;
        int r = cp_token_hashes(s, &hashes, &n);
        free(hashes);
        return r < 0 ? r : n > 0;
}

/* The check is made again under the write lock: replicas starting at once
 * on an empty database all see no token, and all but the first would
 * otherwise fail on the operator row's key. */
int cp_auth_init(cp_store *s, const char *state_dir, bool *ret_created) {
        int r = have_tokens(s);
        if (r != 0) {
                *ret_created = false;
                return r < 0 ? r : 0;
        }
        uint8_t raw[32];
        if (RAND_bytes(raw, sizeof raw) != 1)
                return CP_ERROR(CP_ECRYPTO, "RAND_bytes failed");
        char tok[64] = "cpo_";
        cp_b64_encode(raw, sizeof raw, CP_B64_URL, tok + 4);
        tok[4 + cp_b64_encoded_len(sizeof raw, CP_B64_URL)] = 0;
        cp_wipe(raw, sizeof raw);
        char path[4096], h[65], line[80];
        snprintf(path, sizeof path, "%s/operator.token", state_dir);
        sha256_hex(tok, h);
        int len = snprintf(line, sizeof line, "%s\n", tok);
        bool created = false;
        r = cp_store_begin(s);
        if (r >= 0) {
                r = have_tokens(s);
                created = r == 0;
                if (created)
                        r = cp_token_add(s, "operator", h);
                if (r >= 0 && created)
                        r = cp_write_file(path, line, (size_t) len, 0600);
                if (r >= 0)
                        r = cp_store_commit(s);
                else
                        cp_store_rollback(s);
        }
        cp_wipe(tok, sizeof tok);
        cp_wipe(h, sizeof h);
        cp_wipe(line, sizeof line);
        if (r < 0)
                return r;
        *ret_created = created;
        return 0;
}

/* ---- the hooks ---- */

/* One audit line per mutating request and per refused credential: who,
 * what, outcome.  Request text is reduced to safe characters; tokens and
 * secrets never appear. */
static void audit(const cp_svc_call *sc, const char *why) {
        const api_auth *a = sc->auth;
        static const cp_principal nobody;
        const cp_principal *p = a ? &a->principal : &nobody;
        const char *method = sc->req->method ? sc->req->method : "";
        char path[300];
        size_t i = 0;
        for (const char *q = sc->req->path ? sc->req->path : ""; *q && i + 1 < sizeof path; q++)
                path[i++] = (isalnum((unsigned char) *q) || strchr("/-_.", *q)) ? *q : '?';
        path[i] = 0;
        const char *who = p->is_operator ? "operator" : *p->app_id ? p->app_id : "-";
        /* refusals are what a client without credentials can cause: at most
         * a burst of lines a window, the rest counted in one summary line */
        if (why && *why) {
                unsigned long missed = 0;
                cp_api *api = sc->userdata;
                bool ok = cp_log_limit_take(&api->refused_log, cp_log_limit_now(), &missed);
                if (missed)
                        fprintf(stderr, "confpoold: audit: %lu more refused requests not logged in the last %u s\n",
                                missed, api->refused_log.period_s);
                if (!ok)
                        return;
        }
        fprintf(stderr, "confpoold: audit: principal=%s%s%s%s %s %s -> %u%s%s\n", who, *p->name ? " (" : "", p->name,
                *p->name ? ")" : "",
                strlen(method) < 10 && strspn(method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == strlen(method) ? method : "?",
                path, sc->resp->status, why && *why ? ": " : "", why ? why : "");
}

/* A refused credential: ARM's 401 code, its challenge, the reason for the audit. */
static int unauthorized(cp_svc_call *sc, const char *code, const char *msg, const char *why) {
        api_auth *a = sc->auth;
        cp_svc_reply_error(sc, 401, code, "%s", msg);
        if (cp_http_resp_set_header(sc->resp, "WWW-Authenticate", "Bearer realm=\"confpoold\", error=\"invalid_token\"") < 0)
                cp_error_clear();
        snprintf(a->why, sizeof a->why, "%s", why);
        return CP_ERROR(CP_EUNTRUSTED, "%s", why);
}

/* A service principal's access token (a JWT). */
static int authenticate_jwt(cp_svc_call *sc, cp_api *api, const char *tok) {
        api_auth *a = sc->auth;
        if (strlen(tok) > CP_MAX_API_JWT)
                return unauthorized(sc, "InvalidAuthenticationToken", "The access token is invalid.", "token too long");
        int r = cp_aad_validate(api->aad, tok, 0, &a->principal);
        if (r >= 0)
                return 0;
        char why[200];
        snprintf(why, sizeof why, "bad access token (%s)", cp_err_name(r));
        cp_error_clear();
        if (r == CP_EEXPIRED)
                return unauthorized(sc, "ExpiredAuthenticationToken",
                                    "The access token expiry UTC time is earlier than current UTC time.", why);
        if (r == CP_EBINDING)
                return unauthorized(sc, "InvalidAuthenticationTokenAudience",
                                    "The access token has been obtained for wrong audience or resource.", why);
        return unauthorized(sc, "InvalidAuthenticationToken",
                            "The access token is invalid: its signature, issuer or subject was not accepted.", why);
}

/* The skeleton's authentication hook: the operator token or a service
 * principal's access token; the answer is ARM's own (codes, challenge). */
static int authenticate(cp_svc_call *sc) {
        cp_api *api = sc->userdata;
        api_auth *a = sc->ctx; /* cp_api_handle's, on its stack */
        sc->auth = a;
        const char *h = cp_http_req_header(sc->req, "Authorization");
        if (!h)
                return unauthorized(sc, "AuthenticationFailed",
                                    "Authentication failed. The 'Authorization' header is missing.", "no credentials");
        const char *tok = strncasecmp(h, "Bearer ", 7) == 0 ? h + 7 : NULL;
        while (tok && *tok == ' ')
                tok++;
        if (tok && strchr(tok, '.') && api->aad)
                return authenticate_jwt(sc, api, tok);
        if (!cp_auth_check(api->token_hashes, api->n_tokens, h))
                return unauthorized(sc, "InvalidAuthenticationToken", "The access token is invalid.", "bad bearer token");
        a->principal.is_operator = true;
        return 0;
}

/* The authorization hook: a service principal may only address its own subscription. */
static int authorize(cp_svc_call *sc) {
        api_auth *a = sc->auth;
        const char *p = sc->req->path;
        if (!a || a->principal.is_operator || strncasecmp(p, "/subscriptions/", 15) != 0)
                return 0;
        size_t n = strcspn(p + 15, "/");
        if (n == 0 || (n == strlen(a->principal.subscription) && strncasecmp(p + 15, a->principal.subscription, n) == 0))
                return 0;
        cp_svc_reply_error(sc, 403, "AuthorizationFailed",
                           "The client '%s' with object id '%s' does not have authorization to perform action '%s' "
                           "over scope '/subscriptions/%.*s' or the scope is invalid.",
                           a->principal.app_id, a->principal.app_id, sc->req->method, (int) (n < 64 ? n : 64), p + 15);
        snprintf(a->why, sizeof a->why, "other subscription");
        return CP_ERROR(CP_EPOLICY, "other subscription");
}

/* The finish hook: the audit line (not for the public routes, which keep
 * their own). */
static void finish(cp_svc_call *sc) {
        api_auth *a = sc->auth;
        bool public = sc->route && (sc->route->flags & CP_ROUTE_PUBLIC);
        if (!public && ((a && *a->why) || strcmp(sc->req->method, "GET") != 0))
                audit(sc, a ? a->why : NULL);
}

static const cp_svc_dialect arm_dialect = {
        .bad_request = "BadRequest",
        .not_found = "NotFound",
        .conflict = "Conflict",
        .unauthorized = "AuthenticationFailed",
        .forbidden = "AuthorizationFailed",
        .unavailable = "ServiceUnavailable",
        .internal = "InternalServerError",
};

/* ---- an ARM route's frame ---- */

static const char *provider_ns_of(const char *path) {
        /* the namespace whose api-version rules apply; provider registration
         * itself belongs to Microsoft.Resources */
        char caps[3][256];
        if (cp_http_path_match("/subscriptions/{s}/providers/{ns}", path, true, caps, 3) ||
            (cp_http_path_match("/subscriptions/{s}/providers/{ns}/{action}", path, true, caps, 3) &&
             (strcasecmp(caps[2], "register") == 0 || strcasecmp(caps[2], "unregister") == 0)))
                return "Microsoft.Resources";
        if (strcasestr(path, "/providers/Microsoft.Features/"))
                return "Microsoft.Features";
        if (strcasestr(path, "/providers/" CP_NS_CS))
                return CP_NS_CS;
        return "Microsoft.Resources";
}

/* The api-version and the body; false when that answered. */
static bool api_checks(api_ctx *c) {
        const char *ns = provider_ns_of(c->path);
        if (!c->api_version || !*c->api_version) {
                api_error(c, 400, "MissingApiVersionParameter", NULL,
                          "The api-version query parameter (?api-version=) is required for all requests.");
                return false;
        }
        /* the orchestrators list lives on in its own, older version: the one
         * az 2.45's `aks get-versions` sends */
        char caps[2][256];
        bool orchestrators = cp_http_path_match("/subscriptions/{s}/providers/" CP_NS_CS "/locations/{l}/orchestrators",
                                                c->path, true, caps, 2) &&
                             strcmp(c->api_version, "2019-04-01") == 0;
        if (!orchestrators && !cp_rules_api_version_ok(c->api->rules, ns, c->api_version)) {
                api_error(c, 400, "InvalidApiVersionParameter", NULL,
                          "The api-version '%s' is invalid for namespace '%s'. The supported versions are '%s'.",
                          c->api_version, ns,
                          strcmp(ns, CP_NS_CS) == 0 ? "2022-11-01 ... 2026-01-01 (monthly), *-preview up to 2026-02-02-preview"
                          : strcmp(ns, "Microsoft.Features") == 0 ? "2021-07-01,2015-12-01"
                                                                  : "2019-05-01 ... 2025-04-01");
                return false;
        }
        const cp_http_request *req = c->call->req;
        if (req->body_len == 0)
                return true;
        int r = cp_svc_json_parse(req->body, req->body_len, CP_MAX_JSON_DEPTH, &c->body);
        if (r < 0) {
                api_error(c, 400, "InvalidRequestContent", NULL,
                          "The request content was invalid and could not be deserialized: %s", cp_error_message());
                cp_error_clear();
                return false;
        }
        if (strcmp(c->method, "PUT") == 0)
                cp_api_az_normalize(c->body);
        return true;
}

/* One store transaction around fn: committed unless fn asks for a rollback or fails. */
static int api_transaction(api_ctx *c, api_fn fn) {
        cp_api *api = c->api;
        int r = strcmp(c->method, "GET") == 0 ? cp_store_begin_read(api->store) : cp_store_begin(api->store);
        if (r < 0)
                return r;
        /* links (Location, Azure-AsyncOperation) name the daemon's configured
         * public base URL, never the client's Host header: a forged Host
         * would send the caller's token to another server when it polls */
        snprintf(c->base, sizeof c->base, "%s", api->base_url);
        r = fn(c);
        if (r < 0 || r == API_ROLLBACK) {
                cp_store_rollback(api->store);
                return r;
        }
        return cp_store_commit(api->store);
}

void cp_api_run(cp_svc_call *sc, api_fn fn) {
        const cp_http_request *req = sc->req;
        const api_auth *a = sc->auth;
        api_ctx c = {
                .api = sc->userdata,
                .call = sc,
                .resp = sc->resp,
                .method = req->method,
                .path = req->path,
                .api_version = cp_http_req_query(req, "api-version"),
                .ignore_pdb = cp_http_req_query(req, "ignore-pod-disruption-budget"),
                .if_match = cp_http_req_header(req, "If-Match"),
                .if_none_match = cp_http_req_header(req, "If-None-Match"),
                .custom_features = cp_http_req_header(req, "AKSHTTPCustomFeatures"),
                .caps = sc->caps,
        };
        if (a)
                c.principal = a->principal;
        if (!api_checks(&c))
                return;
        int r = api_transaction(&c, fn);
        json_decref(c.body);
        if (r < 0) {
                /* nothing of a failed request's answer goes out (LRO headers of a rolled-back op) */
                cp_http_resp_clear(sc->resp);
                api_error(&c, 500, "InternalServerError", NULL, "The request failed: %s", cp_error_message());
                sc->err = r;
                cp_error_clear();
        }
}

/* ---- the API object ---- */

/* GET /healthz (no credentials): this replica's role and its store's health,
 * 503 when the database does not answer (a load balancer's check). */
static void h_healthz(cp_svc_call *sc) {
        cp_api *a = sc->userdata;
        bool ok = cp_store_ping(a->store) >= 0;
        if (!ok)
                cp_error_clear();
        uint64_t term = 0;
        bool leader = !a->lease || cp_lease_is_leader(a->lease, &term);
        json_t *j = json_pack("{s:s,s:s,s:I,s:s?,s:{s:s,s:b}}", "status", ok ? "ok" : "degraded", "role",
                              leader ? "leader" : "follower", "term", (json_int_t) term, "replica",
                              a->lease ? cp_lease_id(a->lease) : NULL, "store", "kind", cp_store_kind(a->store), "ok", ok);
        cp_svc_reply_json(sc, ok ? 200 : 503, j);
}

/* GET /metrics (no credentials; Prometheus text): the same facts as gauges. */
static void h_metrics(cp_svc_call *sc) {
        cp_api *a = sc->userdata;
        bool ok = cp_store_ping(a->store) >= 0;
        if (!ok)
                cp_error_clear();
        uint64_t term = 0;
        bool leader = !a->lease || cp_lease_is_leader(a->lease, &term);
        char body[512];
        int n = snprintf(body, sizeof body,
                         "# HELP confpool_leader 1 when this replica holds the reconciler lease\n"
                         "# TYPE confpool_leader gauge\nconfpool_leader %d\n"
                         "# HELP confpool_lease_term the lease term this replica holds (0: follower)\n"
                         "# TYPE confpool_lease_term gauge\nconfpool_lease_term %llu\n"
                         "# HELP confpool_store_up 1 when the store answers\n"
                         "# TYPE confpool_store_up gauge\nconfpool_store_up{kind=\"%s\"} %d\n",
                         leader ? 1 : 0, (unsigned long long) term, cp_store_kind(a->store), ok ? 1 : 0);
        if (cp_http_resp_bytes(sc->resp, 200, "text/plain; version=0.0.4", body, (size_t) n) < 0)
                sc->resp->status = 500;
}

static const cp_svc_route health_routes[] = {
        {"GET", "/healthz", h_healthz, CP_ROUTE_PUBLIC},
        {"GET", "/metrics", h_metrics, CP_ROUTE_PUBLIC},
};

static int api_routes(cp_api *a) {
        const struct {
                const cp_svc_route *t;
                size_t n;
                bool on;
        } tables[] = {
                {health_routes, CP_ELEMENTSOF(health_routes), true},
                {cp_api_tenant_routes, cp_api_n_tenant_routes, true},
                {cp_api_sub_routes, cp_api_n_sub_routes, true},
                {cp_api_cluster_routes, cp_api_n_cluster_routes, true},
                {cp_api_cluster_more_routes, cp_api_n_cluster_more_routes, true},
                {cp_api_cluster_ops_routes, cp_api_n_cluster_ops_routes, true},
                {cp_api_oidc_routes, cp_api_n_oidc_routes, true},
                {cp_api_pool_routes, cp_api_n_pool_routes, true},
                {cp_api_attest_routes, cp_api_n_attest_routes, true},
                {cp_api_node_routes, cp_api_n_node_routes, a->nodes != NULL},
                {cp_api_aad_routes, cp_api_n_aad_routes, a->aad != NULL},
        };
        size_t n = 0;
        for (size_t i = 0; i < CP_ELEMENTSOF(tables); i++) {
                if (!tables[i].on)
                        continue;
                if (n + tables[i].n > CP_API_MAX_ROUTES)
                        return CP_ERROR(CP_EINVAL, "cp_api: more than %d routes", CP_API_MAX_ROUTES);
                memcpy(&a->routes[n], tables[i].t, tables[i].n * sizeof(cp_svc_route));
                n += tables[i].n;
        }
        cp_svc_options so = {
                .routes = a->routes,
                .n_routes = n,
                .case_insensitive = true,
                .userdata = a,
                .dialect = &arm_dialect,
                .max_depth = CP_MAX_JSON_DEPTH,
                .max_body = a->max_body,
                .error_details = true,
                .authenticate = authenticate,
                .auth_before_routing = true,
                .authorize = authorize,
                .finish = finish,
        };
        return cp_svc_new(&so, &a->svc);
}

int cp_api_new(const cp_api_options *o, cp_api **ret) {
        if (!o || !o->store || !o->rules)
                return CP_ERROR(CP_EINVAL, "cp_api_new: store and rules are required");
        cp_api *a = calloc(1, sizeof *a);
        if (!a)
                return cp_error_oom();
        a->store = o->store;
        a->rules = o->rules;
        a->tls = o->tls;
        a->max_body = o->max_body ? o->max_body : CP_MAX_API_BODY;
        a->nodes = o->nodes;
        a->aad = o->aad;
        a->lease = o->lease;
        a->diskkeys = o->diskkeys;
        a->node_cert_seconds = o->node_cert_seconds ? o->node_cert_seconds : CP_NODE_CERT_SECONDS_DEFAULT;
        cp_log_limit_init(&a->refused_log, 0, 0);
        snprintf(a->base_url, sizeof a->base_url, "%s", o->base_url ? o->base_url : "http://127.0.0.1");
        /* the node tables the API reads and writes (machines' attestation,
         * the pools' attestation policy overrides), whatever the backend */
        int r = cp_nodes_schema(a->store);
        /* in a write transaction: replicas starting at once create the tables once */
        if (r >= 0 && (r = cp_store_begin(a->store)) >= 0) {
                r = k8s_schema(a->store);
                if (r < 0)
                        cp_store_rollback(a->store);
                else
                        r = cp_store_commit(a->store);
        }
        if (r >= 0 && o->state_dir) {
                bool created;
                r = cp_auth_init(a->store, o->state_dir, &created);
        }
        if (r >= 0)
                r = api_credentials_init(a, o->state_dir);
        if (r >= 0)
                r = cp_token_hashes(a->store, &a->token_hashes, &a->n_tokens);
        if (r >= 0)
                r = api_routes(a);
        if (r < 0) {
                cp_api_free(a);
                return r;
        }
        *ret = a;
        return 0;
}

void cp_api_set_base_url(cp_api *api, const char *base_url) {
        cp_store_lock(api->store);
        snprintf(api->base_url, sizeof api->base_url, "%s", base_url);
        cp_store_unlock(api->store);
}

cp_api *cp_api_free(cp_api *api) {
        if (!api)
                return NULL;
        if (api->token_hashes)
                cp_wipe(api->token_hashes, api->n_tokens * sizeof *api->token_hashes);
        free(api->token_hashes);
        unsigned long missed = cp_log_limit_flush(&api->refused_log);
        if (missed)
                fprintf(stderr, "confpoold: audit: %lu more refused requests not logged\n", missed);
        cp_log_limit_destroy(&api->refused_log);
        cp_svc_free(api->svc);
        cp_wipe(api->cred_key, sizeof api->cred_key);
        free(api);
        return NULL;
}

void cp_api_handle(void *api, const cp_http_request *req, cp_http_response *resp) {
        /* the principal and the audit reason live for this request only */
        api_auth auth = { 0 };
        if (cp_k8s_handle(api, req, resp)) /* the clusters' Kubernetes APIs (k8s-api.c) */
                return;
        cp_svc_serve(((cp_api *) api)->svc, req, resp, &auth);
}
