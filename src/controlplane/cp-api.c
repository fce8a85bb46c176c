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
#include "controlplane/cp-nodes.h"

/* ---- responses ---- */

void cp_api_response_clear(cp_api_response *r) {
        if (!r)
                return;
        json_decref(r->body);
        free(r->raw);
        memset(r, 0, sizeof *r);
}

const char *cp_api_response_header(const cp_api_response *r, const char *name) {
        for (size_t i = 0; i < r->n_headers; i++)
                if (strcasecmp(r->header_names[i], name) == 0)
                        return r->header_values[i];
        return NULL;
}

void api_header(api_ctx *c, const char *name, const char *value) {
        cp_api_response *r = c->resp;
        for (size_t i = 0; i < r->n_headers; i++)
                if (strcasecmp(r->header_names[i], name) == 0) {
                        snprintf(r->header_values[i], sizeof r->header_values[i], "%s", value);
                        return;
                }
        if (r->n_headers == CP_API_MAX_HEADERS)
                return;
        snprintf(r->header_names[r->n_headers], sizeof r->header_names[0], "%s", name);
        snprintf(r->header_values[r->n_headers], sizeof r->header_values[0], "%s", value);
        r->n_headers++;
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
        api_json(c, 200, NULL);
        c->resp->raw = out;
        c->resp->raw_len = len + 10;
        return 1;
}

int api_json(api_ctx *c, unsigned status, json_t *body) {
        json_decref(c->resp->body);
        free(c->resp->raw);
        c->resp->raw = NULL;
        c->resp->raw_len = 0;
        c->resp->status = status;
        c->resp->body = body;
        return 1;
}

static json_t *error_body(const char *code, const char *target, const char *message) {
        json_t *e = json_pack("{s:s,s:s,s:[]}", "code", code, "message", message, "details");
        if (e && target && *target)
                json_object_set_new(e, "target", json_string(target));
        return json_pack("{s:o}", "error", e);
}

int api_error(api_ctx *c, unsigned status, const char *code, const char *target, const char *fmt, ...) {
        char msg[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        /* messages quote request data: keep them printable ASCII (valid JSON strings) */
        for (char *p = msg; *p; p++)
                if ((unsigned char) *p < 0x20 || (unsigned char) *p >= 0x7f)
                        *p = '?';
        c->resp->n_headers = 0;
        return api_json(c, status, error_body(code, target, msg));
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
        snprintf(op.api_version, sizeof op.api_version, "%s", c->req->api_version ? c->req->api_version : "");
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
        const char *hdr = u->c->req->custom_features;
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

int api_method_not_allowed(api_ctx *c) {
        return api_error(c, 405, "MethodNotAllowed", NULL, "The HTTP method '%s' is not supported for '%s'.",
                         c->req->method, c->req->path);
}

/* ---- path matching ---- */

bool cp_api_path_match(const char *pattern, const char *path, char (*caps)[256], size_t ncaps) {
        const char *p = pattern, *s = path;
        size_t ci = 0;
        while (*p) {
                if (*p != '/' || *s != '/')
                        return false;
                p++;
                s++;
                size_t pl = strcspn(p, "/"), sl = strcspn(s, "/");
                if (pl >= 2 && p[0] == '{' && p[pl - 1] == '}') {
                        if (sl == 0 || sl >= 256 || ci >= ncaps)
                                return false;
                        memcpy(caps[ci], s, sl);
                        caps[ci][sl] = 0;
                        ci++;
                } else if (pl != sl || strncasecmp(p, s, pl) != 0)
                        return false;
                p += pl;
                s += sl;
        }
        return *s == 0 || (s[0] == '/' && s[1] == 0);
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

int cp_auth_init(cp_store *s, const char *state_dir, bool *ret_created) {
        char (*hashes)[65] = NULL;
        size_t n = 0;
        int r = cp_token_hashes(s, &hashes, &n);
        if (r < 0)
                return r;
        free(hashes);
        if (n > 0) {
                *ret_created = false;
                return 0;
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
        r = cp_store_begin(s);
        if (r >= 0) {
                r = cp_token_add(s, "operator", h);
                if (r >= 0)
                        r = cp_write_file(path, line, (size_t) len, 0600);
                if (r >= 0)
                        r = cp_store_commit(s);
                else
                        cp_store_rollback(s);
        }
        cp_wipe(tok, sizeof tok);
        cp_wipe(line, sizeof line);
        if (r < 0)
                return r;
        *ret_created = true;
        return 0;
}

/* ---- the API object ---- */

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
        a->pre_auth = o->pre_auth;
        a->pre_auth_userdata = o->pre_auth_userdata;
        a->aad = o->aad;
        snprintf(a->base_url, sizeof a->base_url, "%s", o->base_url ? o->base_url : "http://127.0.0.1");
        /* the node tables the API reads and writes (machines' attestation,
         * the pools' attestation policy overrides), whatever the backend */
        cp_store_lock(a->store);
        int r = cp_nodes_schema(a->store);
        cp_store_unlock(a->store);
        if (r >= 0 && o->state_dir) {
                bool created;
                r = cp_auth_init(a->store, o->state_dir, &created);
        }
        if (r >= 0)
                r = cp_token_hashes(a->store, &a->token_hashes, &a->n_tokens);
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
        free(api);
        return NULL;
}

/* One audit line per mutating request and per refused credential: who,
 * what, outcome.  Request text is reduced to safe characters; tokens and
 * secrets never appear. */
static void audit(const api_ctx *c, const char *why) {
        char path[300];
        size_t i = 0;
        for (const char *p = c->req->path ? c->req->path : ""; *p && i + 1 < sizeof path; p++)
                path[i++] = (isalnum((unsigned char) *p) || strchr("/-_.", *p)) ? *p : '?';
        path[i] = 0;
        const char *who = c->principal.is_operator ? "operator" : *c->principal.app_id ? c->principal.app_id : "-";
        fprintf(stderr, "confpoold: audit: principal=%s%s%s%s %s %s -> %u%s%s\n", who,
                *c->principal.name ? " (" : "", c->principal.name, *c->principal.name ? ")" : "",
                c->req->method && strlen(c->req->method) < 10 && strspn(c->req->method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") ==
                                strlen(c->req->method) ? c->req->method : "?",
                path, c->resp->status, why ? ": " : "", why ? why : "");
}

static void unauthorized(api_ctx *c, const char *code, const char *msg, const char *why) {
        api_error(c, 401, code, NULL, "%s", msg);
        api_header(c, "WWW-Authenticate", "Bearer realm=\"confpoold\", error=\"invalid_token\"");
        audit(c, why);
}

/* The operator token or a service-principal access token (a JWT). */
static bool authenticate(api_ctx *c) {
        const char *h = c->req->authorization;
        if (!h) {
                unauthorized(c, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.",
                             "no credentials");
                return false;
        }
        const char *tok = strncasecmp(h, "Bearer ", 7) == 0 ? h + 7 : NULL;
        while (tok && *tok == ' ')
                tok++;
        if (tok && strchr(tok, '.') && c->api->aad) {
                if (strlen(tok) > CP_MAX_API_JWT) {
                        unauthorized(c, "InvalidAuthenticationToken", "The access token is invalid.", "token too long");
                        return false;
                }
                int r = cp_aad_validate(c->api->aad, tok, 0, &c->principal);
                if (r >= 0)
                        return true;
                char why[200];
                snprintf(why, sizeof why, "bad access token (%s)", cp_err_name(r));
                cp_error_clear();
                if (r == CP_EEXPIRED)
                        unauthorized(c, "ExpiredAuthenticationToken",
                                     "The access token expiry UTC time is earlier than current UTC time.", why);
                else if (r == CP_EBINDING)
                        unauthorized(c, "InvalidAuthenticationTokenAudience",
                                     "The access token has been obtained for wrong audience or resource.", why);
                else
                        unauthorized(c, "InvalidAuthenticationToken",
                                     "The access token is invalid: its signature, issuer or subject was not accepted.",
                                     why);
                return false;
        }
        if (!cp_auth_check(c->api->token_hashes, c->api->n_tokens, h)) {
                unauthorized(c, "InvalidAuthenticationToken", "The access token is invalid.", "bad bearer token");
                return false;
        }
        c->principal.is_operator = true;
        return true;
}

/* A service principal may only address its own subscription. */
static bool authorize(api_ctx *c) {
        if (c->principal.is_operator || !c->req->path)
                return true;
        const char *p = c->req->path;
        if (strncasecmp(p, "/subscriptions/", 15) != 0)
                return true;
        size_t n = strcspn(p + 15, "/");
        if (n == 0 || (n == strlen(c->principal.subscription) &&
                       strncasecmp(p + 15, c->principal.subscription, n) == 0))
                return true;
        api_error(c, 403, "AuthorizationFailed", NULL,
                  "The client '%s' with object id '%s' does not have authorization to perform action '%s' over "
                  "scope '/subscriptions/%.*s' or the scope is invalid.",
                  c->principal.app_id, c->principal.app_id, c->req->method ? c->req->method : "?",
                  (int) (n < 64 ? n : 64), p + 15);
        audit(c, "other subscription");
        return false;
}

static const char *provider_ns_of(const char *path) {
        /* the namespace whose api-version rules apply; provider registration
         * itself belongs to Microsoft.Resources */
        char caps[3][256];
        if (cp_api_path_match("/subscriptions/{s}/providers/{ns}", path, caps, 3) ||
            (cp_api_path_match("/subscriptions/{s}/providers/{ns}/{action}", path, caps, 3) &&
             (strcasecmp(caps[2], "register") == 0 || strcasecmp(caps[2], "unregister") == 0)))
                return "Microsoft.Resources";
        if (strcasestr(path, "/providers/Microsoft.Features/"))
                return "Microsoft.Features";
        if (strcasestr(path, "/providers/" CP_NS_CS))
                return CP_NS_CS;
        return "Microsoft.Resources";
}

static size_t json_depth(const json_t *j) {
        size_t d = 0;
        if (json_is_object(j)) {
                const char *k;
                json_t *v;
                json_object_foreach((json_t *) j, k, v) {
                        size_t x = json_depth(v);
                        d = x > d ? x : d;
                }
                return d + 1;
        }
        if (json_is_array(j)) {
                size_t i;
                json_t *v;
                json_array_foreach(j, i, v) {
                        size_t x = json_depth(v);
                        d = x > d ? x : d;
                }
                return d + 1;
        }
        return 0;
}

void cp_api_handle(cp_api *api, const cp_api_request *req, cp_api_response *resp) {
        api_ctx c = {.api = api, .req = req, .resp = resp};
        memset(resp, 0, sizeof *resp);

        if (api->pre_auth && req->body_len <= api->max_body && api->pre_auth(api->pre_auth_userdata, req, resp))
                return;
        if (api->aad && cp_api_aad_handle(api->aad, req, resp))
                return;
        if (!authenticate(&c))
                return;
        if (!authorize(&c))
                return;
        if (!req->method || !req->path) {
                api_error(&c, 400, "BadRequest", NULL, "Malformed request.");
                return;
        }
        if (req->body_len > api->max_body) {
                api_error(&c, 413, "RequestEntityTooLarge", NULL,
                          "The request body is %zu bytes; the limit is %zu bytes.", req->body_len, api->max_body);
                return;
        }
        bool tenant_level = strcasecmp(req->path, "/subscriptions") == 0 || strcasecmp(req->path, "/subscriptions/") == 0 ||
                            strcasecmp(req->path, "/tenants") == 0 || strcasecmp(req->path, "/tenants/") == 0;
        if (!tenant_level && strncasecmp(req->path, "/subscriptions/", 15) != 0) {
                api_error(&c, 404, "NotFound", NULL, "The requested path was not found.");
                return;
        }
        const char *ns = provider_ns_of(req->path);
        if (!req->api_version || !*req->api_version) {
                api_error(&c, 400, "MissingApiVersionParameter", NULL,
                          "The api-version query parameter (?api-version=) is required for all requests.");
                return;
        }
        if (!cp_rules_api_version_ok(api->rules, ns, req->api_version)) {
                api_error(&c, 400, "InvalidApiVersionParameter", NULL,
                          "The api-version '%s' is invalid for namespace '%s'. The supported versions are "
                          "'%s'.",
                          req->api_version, ns,
                          strcmp(ns, CP_NS_CS) == 0       ? "2022-11-01 ... 2026-01-01 (monthly), *-preview up to 2026-02-02-preview"
                          : strcmp(ns, "Microsoft.Features") == 0 ? "2021-07-01,2015-12-01"
                                                                  : "2019-05-01 ... 2025-04-01");
                return;
        }
        if (req->body_len > 0) {
                json_error_t je;
                c.body = json_loadb((const char *) req->body, req->body_len, JSON_REJECT_DUPLICATES, &je);
                if (!c.body) {
                        api_error(&c, 400, "InvalidRequestContent", NULL,
                                  "The request content was invalid and could not be deserialized: '%s' at "
                                  "position %d.",
                                  je.text, je.position);
                        return;
                }
                if (json_depth(c.body) > CP_MAX_JSON_DEPTH) {
                        json_decref(c.body);
                        api_error(&c, 400, "InvalidRequestContent", NULL, "The request content is nested too deeply.");
                        return;
                }
                if (strcmp(req->method, "PUT") == 0)
                        cp_api_az_normalize(c.body);
        }
        int r = strcmp(req->method, "GET") == 0 ? cp_store_begin_read(api->store) : cp_store_begin(api->store);
        if (r >= 0) {
                if (req->host && *req->host && strlen(req->host) < 200 && !strpbrk(req->host, " /\\\"\r\n"))
                        snprintf(c.base, sizeof c.base, "%s://%s", api->tls ? "https" : "http", req->host);
                else
                        snprintf(c.base, sizeof c.base, "%s", api->base_url);
                r = cp_api_route_tenants(&c);
                if (r == 0)
                        r = cp_api_route_subscription(&c);
                if (r == 0)
                        r = cp_api_route_clusters(&c);
                if (r == 0)
                        r = cp_api_route_pools(&c);
                if (r == 0)
                        r = cp_api_route_attest_policy(&c);
                if (r < 0 || r == API_ROLLBACK)
                        cp_store_rollback(api->store);
                else {
                        int k = cp_store_commit(api->store);
                        r = k < 0 ? k : r;
                }
        }
        json_decref(c.body);
        if (r < 0) {
                api_error(&c, 500, "InternalServerError", NULL, "The request failed: %s", cp_error_message());
                cp_error_clear();
        } else if (r == 0)
                api_error(&c, 404, "NotFound", NULL, "No route matches %s %s.", req->method, req->path);
        if (strcmp(req->method, "GET") != 0)
                audit(&c, NULL);
}
