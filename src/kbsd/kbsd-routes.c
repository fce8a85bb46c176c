/* SPDX-License-Identifier: Apache-2.0 */
/* confpool-kbsd on the service skeleton: the route table, bearer-token
 * authentication and scopes, the Key Vault error dialect. */

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/sha.h>

#include "basic/cleanup.h"
#include "kbsd-internal.h"

/* A route a release-scope token may call (every other needs admin). */
#define KBSD_ROUTE_RELEASE CP_ROUTE_SERVICE

/* c->auth of an authenticated call: its token's scope. */
static const cp_kbsd_scope scope_admin = CP_KBSD_SCOPE_ADMIN, scope_release = CP_KBSD_SCOPE_RELEASE;

static int authenticate(cp_svc_call *c) {
        const char *h = cp_http_req_header(c->req, "Authorization");
        cp_kbsd_scope scope;
        uint8_t d[32];
        int r;
        if (!h || strlen(h) > 1024 || strncasecmp(h, "Bearer ", 7) != 0)
                return CP_ERROR(CP_EUNTRUSTED, "bearer token required");
        SHA256((const uint8_t *) h + 7, strlen(h + 7), d);
        if ((r = cp_kbsd_token_find(cp_kbsd_of(c), d, c->who, sizeof(c->who), &scope)) < 0)
                return r;
        c->auth = (void *) (scope == CP_KBSD_SCOPE_ADMIN ? &scope_admin : &scope_release);
        return 0;
}

static int authorize(cp_svc_call *c) {
        if ((c->route->flags & KBSD_ROUTE_RELEASE) || c->auth == &scope_admin)
                return 0;
        cp_kbsd_audit(cp_kbsd_of(c), c->who, c->req->method, NULL, NULL, "denied", "scope", NULL);
        return CP_ERROR(CP_EPOLICY, "this token may only release keys");
}

static void finish(cp_svc_call *c) {
        (void) c;
        ERR_clear_error(); /* nothing of this request stays in the worker's error queue */
}

/* GET /certs: the JWKS of the release-response signing key. */
static void h_certs(cp_svc_call *c) {
        char *j = NULL;
        int r = cp_kbsd_jwks_json(cp_kbsd_of(c), &j);
        if (r < 0) {
                cp_svc_reply_err(c, r);
                return;
        }
        if (cp_http_resp_bytes(c->resp, 200, "application/json", j, strlen(j)) < 0)
                c->resp->status = 500;
        free(j);
}

/* GET /healthz (no credentials): the store's health and kind; replicas are
 * all alike (no leader), 503 when the database does not answer. */
static void h_healthz(cp_svc_call *c) {
        cp_kbsd *s = cp_kbsd_of(c);
        bool ok = cp_store_ping(s->store) >= 0;
        if (!ok)
                cp_error_clear();
        cp_svc_reply_json(c, ok ? 200 : 503,
                          json_pack("{s:s,s:s,s:{s:s,s:b}}", "status", ok ? "ok" : "degraded", "role", "replica", "store",
                                    "kind", cp_store_kind(s->store), "ok", ok));
}

int cp_kbsd_body(const cp_svc_call *c, json_t **ret) {
        if (c->req->body_len == 0) {
                *ret = json_object();
                return *ret ? 0 : cp_error_oom();
        }
        return cp_svc_json_body(c, ret);
}

bool cp_kbsd_name_ok(cp_svc_call *c) {
        if (cp_kbsd_valid_name(c->caps[0]))
                return true;
        cp_svc_reply_err(c, CP_ERROR(CP_ENOTFOUND, "no key or disk %.64s (names are 1 to %d of a-z, A-Z, 0-9 and -)",
                                     c->caps[0], CP_KBSD_MAX_NAME));
        return false;
}

bool cp_kbsd_begin(cp_svc_call *c, json_t **ret_body) {
        int r;
        if (!cp_kbsd_name_ok(c))
                return false;
        if ((r = cp_kbsd_body(c, ret_body)) < 0) {
                cp_svc_reply_err(c, r);
                return false;
        }
        return true;
}

/* Tried in order: /keys/{name}/versions before /keys/{name}/{version}. */
static const cp_svc_route routes[] = {
        { "GET", "/certs", h_certs, CP_ROUTE_PUBLIC },
        { "GET", "/healthz", h_healthz, CP_ROUTE_PUBLIC },
        { "POST", "/keys/{name}/{version}/release", cp_kbsd_h_release, KBSD_ROUTE_RELEASE },
        { "POST", "/keys/{name}/release", cp_kbsd_h_release, KBSD_ROUTE_RELEASE },
        { "POST", "/disks/{id}/release", cp_kbsd_h_disk_release, KBSD_ROUTE_RELEASE },
        { "POST", "/disks/{id}/create", cp_kbsd_h_disk_create, 0 },
        { "DELETE", "/disks/{id}", cp_kbsd_h_disk_delete, 0 },
        { "POST", "/keys/{name}/create", cp_kbsd_h_create, 0 },
        { "PUT", "/keys/{name}/create", cp_kbsd_h_create, 0 },
        { "POST", "/keys/{name}/rotate", cp_kbsd_h_rotate, 0 },
        { "PUT", "/keys/{name}", cp_kbsd_h_import, 0 },
        { "GET", "/keys", cp_kbsd_h_list, 0 },
        { "GET", "/deletedkeys", cp_kbsd_h_list_deleted, 0 },
        { "GET", "/keys/{name}/versions", cp_kbsd_h_versions, 0 },
        { "GET", "/keys/{name}/{version}", cp_kbsd_h_get, 0 },
        { "GET", "/keys/{name}", cp_kbsd_h_get, 0 },
        { "DELETE", "/keys/{name}", cp_kbsd_h_delete, 0 },
        { "GET", "/deletedkeys/{name}", cp_kbsd_h_get_deleted, 0 },
        { "POST", "/deletedkeys/{name}/recover", cp_kbsd_h_recover, 0 },
        { "DELETE", "/deletedkeys/{name}", cp_kbsd_h_purge, 0 },
};

/* Key Vault's codes; release refusals answer their own (cp_kbsd_reply_refusal). */
static const cp_svc_dialect key_vault = {
        .bad_request = "BadParameter",
        .not_found = "KeyNotFound",
        .conflict = "Conflict",
        .unauthorized = "Unauthorized",
        .forbidden = "Forbidden",
        .rejected = "BadParameter",
        .policy = "BadParameter",
        .internal = "InternalError",
};

int cp_kbsd_svc_new(cp_kbsd *s, cp_svc **ret) {
        cp_svc_options o = {
                .routes = routes,
                .n_routes = CP_ELEMENTSOF(routes),
                .userdata = s,
                .dialect = &key_vault,
                .authenticate = authenticate,
                .www_authenticate = "Bearer realm=\"confpool-kbsd\"",
                .authorize = authorize,
                .finish = finish,
        };
        return cp_svc_new(&o, ret);
}

void cp_kbsd_handle(void *userdata, const cp_http_request *req, cp_http_response *resp) {
        cp_kbsd *s = userdata;
        cp_svc_handle(s->svc, req, resp);
}
