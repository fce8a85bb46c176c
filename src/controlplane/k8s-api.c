/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Entry of the clusters' Kubernetes APIs: /k8s/<cluster resourceUID>/...
 * (the server URL of the cluster's kubeconfigs).  Authentication: the
 * kubeconfig's bearer token, compared in constant time with the cluster's
 * clusterUser and clusterAdmin tokens; anything else is 401 with a Status.
 * A node's verified client certificate (k8s-node.c) is that node, under
 * the Node authorizer.  RBAC: both read (get, list, watch) everything served and patch Nodes
 * (label, cordon, taint); only clusterAdmin deletes Nodes.  Errors are
 * Status objects as kube-apiserver writes them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "basic/limits.h"
#include "basic/secure.h"
#include "controlplane/k8s-internal.h"

void k8s_reply(k8s_ctx *c, unsigned status, json_t *body) {
        char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
        json_decref(body);
        if (!text || cp_http_resp_bytes(c->resp, status, "application/json", text, strlen(text)) < 0) {
                cp_error_clear();
                c->resp->status = 500;
        }
        free(text);
}

json_t *k8s_status_object(unsigned status, const char *reason, const char *kind, const char *name, const char *msg) {
        char clean[1024];
        snprintf(clean, sizeof clean, "%s", msg);
        for (char *p = clean; *p; p++)
                if ((unsigned char) *p < 0x20 || (unsigned char) *p >= 0x7f)
                        *p = '?';
        json_t *details = json_object();
        if (name)
                json_object_set_new(details, "name", json_string(name));
        if (kind)
                json_object_set_new(details, "kind", json_string(kind));
        json_t *s = json_pack("{s:s,s:s,s:{},s:s,s:s,s:s,s:o,s:i}", "kind", "Status", "apiVersion", "v1", "metadata",
                              "status", "Failure", "message", clean, "reason", reason, "details", details, "code",
                              (int) status);
        if (s && status == 401)
                json_object_del(s, "details");
        return s;
}

void k8s_status(k8s_ctx *c, unsigned status, const char *reason, const char *kind, const char *name, const char *fmt,
                ...) {
        char msg[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        k8s_reply(c, status, k8s_status_object(status, reason, kind, name, msg));
}

static void not_found_path(k8s_ctx *c) {
        k8s_status(c, 404, "NotFound", NULL, NULL, "the server could not find the requested resource");
}

/* ---- authentication and RBAC ---- */

static bool authenticate(k8s_ctx *c) {
        const char *h = cp_http_req_header(c->req, "Authorization");
        const char *tok = h && strncasecmp(h, "Bearer ", 7) == 0 ? h + 7 : NULL;
        char user[65], admin[65];
        api_cluster_token(c->api, c->cluster, "clusterUser", user);
        api_cluster_token(c->api, c->cluster, "clusterAdmin", admin);
        bool is_user = tok && strlen(tok) == 64 && cp_ct_eq(tok, user, 64);
        bool is_admin = tok && strlen(tok) == 64 && cp_ct_eq(tok, admin, 64);
        cp_wipe(user, sizeof user);
        cp_wipe(admin, sizeof admin);
        if (!is_user && !is_admin)
                return false;
        c->admin = is_admin;
        c->user = is_admin ? "clusterAdmin" : "clusterUser";
        return true;
}

/* The RBAC rules: verb on resource ("nodes", "leases", ...). */
static bool allowed(const k8s_ctx *c, const char *verb, const char *resource) {
        if (!strcmp(verb, "get") || !strcmp(verb, "list") || !strcmp(verb, "watch"))
                return true;
        if (!strcmp(verb, "patch") && !strcmp(resource, "nodes"))
                return true;
        return c->admin && !strcmp(verb, "delete") && !strcmp(resource, "nodes");
}

void k8s_forbidden(k8s_ctx *c, const char *verb, const char *resource, const char *group, const char *name,
                   const char *ns, const char *why) {
        char scope[160];
        if (ns)
                snprintf(scope, sizeof scope, "in the namespace \"%.64s\"", ns);
        else
                snprintf(scope, sizeof scope, "at the cluster scope");
        k8s_status(c, 403, "Forbidden", resource, name, "%s%s%.64s%s is forbidden: User \"%s\" cannot %s resource \"%s\" "
                   "in API group \"%s\" %s%s%s", resource, name ? " \"" : "", name ? name : "", name ? "\"" : "", c->user,
                   verb, resource, group, scope, why ? ": " : "", why ? why : "");
}

/* ---- reads ---- */

typedef struct k8s_res {
        const char *resource; /* "nodes" */
        const char *kind;     /* "Node" */
        const char *group;    /* "" core, "coordination.k8s.io" */
        const char *version;  /* "v1", "coordination.k8s.io/v1" */
        const char *ns;       /* namespace of the path, NULL: all / cluster-scoped */
        const char *name;     /* NULL: the collection */
        const char *sub;      /* "status" (nodes/{name}/status), else NULL */
} k8s_res;

static json_t *filtered(k8s_ctx *c, const k8s_res *r, json_t *items, const cp_k8s_selector *ls,
                        const cp_k8s_selector *fs, bool *bad_field) {
        json_t *out = json_array();
        size_t i;
        json_t *o;
        json_array_foreach(items, i, o) {
                const char *unsupported = NULL;
                bool ok = cp_k8s_labels_match(ls, json_object_get(json_object_get(o, "metadata"), "labels")) &&
                          cp_k8s_fields_match(fs, r->kind, o, &unsupported);
                if (unsupported) {
                        k8s_status(c, 400, "BadRequest", NULL, NULL, "field label not supported: %s", unsupported);
                        *bad_field = true;
                        json_decref(out);
                        return NULL;
                }
                if (ok)
                        json_array_append(out, o);
        }
        return out;
}

static int load_items(k8s_ctx *c, const k8s_res *r, json_t **items, int64_t *rv) {
        if (!strcmp(r->kind, "Namespace")) {
                *items = k8s_namespaces(c->cluster);
                *rv = 1;
                return *items ? 0 : cp_error_oom();
        }
        if (!strcmp(r->kind, "Pod")) { /* no workloads run here: an honest empty list */
                *items = json_array();
                *rv = 1;
                return 0;
        }
        return k8s_obj_list(c->api->store, c->uid, r->kind, strcmp(r->kind, "Node") ? r->ns : "", items, rv);
}

static void list(k8s_ctx *c, const k8s_res *r) {
        cp_k8s_selector ls, fs;
        if (cp_k8s_label_selector_parse(cp_http_req_query(c->req, "labelSelector"), &ls) < 0 ||
            cp_k8s_field_selector_parse(cp_http_req_query(c->req, "fieldSelector"), &fs) < 0) {
                k8s_status(c, 400, "BadRequest", NULL, NULL, "unable to parse requirement: %s", cp_error_message());
                cp_error_clear();
                return;
        }
        /* unsupported field labels are refused whatever the collection holds */
        const char *unsupported = NULL;
        json_t *empty = json_object();
        cp_k8s_fields_match(&fs, r->kind, empty, &unsupported);
        json_decref(empty);
        if (unsupported) {
                k8s_status(c, 400, "BadRequest", NULL, NULL, "field label not supported: %s", unsupported);
                return;
        }
        bool table = cp_k8s_wants_table(cp_http_req_header(c->req, "Accept"));
        const char *w = cp_http_req_query(c->req, "watch");
        if (w && (!strcmp(w, "1") || !strcasecmp(w, "true"))) {
                k8s_watch(c, r->kind, strcmp(r->kind, "Node") ? r->ns : "", &ls, &fs, table);
                return;
        }
        json_t *items = NULL;
        int64_t rv = 0;
        bool bad = false;
        if (load_items(c, r, &items, &rv) < 0) {
                cp_error_clear();
                k8s_status(c, 500, "InternalError", NULL, NULL, "the store could not be read");
                return;
        }
        json_t *sel = filtered(c, r, items, &ls, &fs, &bad);
        json_decref(items);
        if (bad)
                return;
        char rvs[24], kind[64];
        snprintf(rvs, sizeof rvs, "%lld", (long long) rv);
        if (table) {
                k8s_reply(c, 200, cp_k8s_table(r->kind, sel, time(NULL), cp_http_req_query(c->req, "includeObject"), rvs));
                json_decref(sel);
                return;
        }
        snprintf(kind, sizeof kind, "%sList", r->kind);
        k8s_reply(c, 200, json_pack("{s:s,s:s,s:{s:s},s:o}", "kind", kind, "apiVersion", r->version, "metadata",
                                    "resourceVersion", rvs, "items", sel));
}

static int get_one(k8s_ctx *c, const k8s_res *r, json_t **ret) {
        if (!strcmp(r->kind, "Namespace") || !strcmp(r->kind, "Pod")) {
                json_t *items = NULL;
                int64_t rv;
                int e = load_items(c, r, &items, &rv);
                size_t i;
                json_t *o;
                *ret = NULL;
                json_array_foreach(items, i, o) {
                        if (!strcmp(json_string_value(json_object_get(json_object_get(o, "metadata"), "name")), r->name))
                                *ret = json_incref(o);
                }
                json_decref(items);
                return e < 0 ? e : *ret ? 0 : CP_ERROR(CP_ENOTFOUND, "not found");
        }
        return k8s_obj_get(c->api->store, c->uid, r->kind, strcmp(r->kind, "Node") ? r->ns : "", r->name, ret);
}

static void get(k8s_ctx *c, const k8s_res *r) {
        json_t *o = NULL;
        int e = get_one(c, r, &o);
        if (e == CP_ENOTFOUND) {
                cp_error_clear();
                k8s_status(c, 404, "NotFound", r->resource, r->name, "%s \"%s\" not found", r->resource, r->name);
                return;
        }
        if (e < 0) {
                cp_error_clear();
                k8s_status(c, 500, "InternalError", NULL, NULL, "the store could not be read");
                return;
        }
        if (cp_k8s_wants_table(cp_http_req_header(c->req, "Accept"))) {
                json_t *a = json_pack("[o]", o);
                const char *rv = json_string_value(json_object_get(json_object_get(o, "metadata"), "resourceVersion"));
                k8s_reply(c, 200, cp_k8s_table(r->kind, a, time(NULL), cp_http_req_query(c->req, "includeObject"), rv));
                json_decref(a);
                return;
        }
        k8s_reply(c, 200, o);
}

/* ---- writes (Nodes) ---- */

static void patch_node(k8s_ctx *c, const k8s_res *r) {
        int t = cp_k8s_patch_type_of(cp_http_req_header(c->req, "Content-Type"));
        if (t < 0 || t == CP_K8S_PATCH_JSON) {
                k8s_status(c, 415, "UnsupportedMediaType", NULL, NULL, "the body of the request was in an unknown format "
                           "- accepted media types include: application/merge-patch+json, "
                           "application/strategic-merge-patch+json");
                return;
        }
        json_t *patch = NULL, *cur = NULL, *next = NULL, *sys = NULL;
        int e = cp_svc_json_parse(c->req->body, c->req->body_len, CP_MAX_JSON_DEPTH, &patch);
        if (e < 0) {
                k8s_status(c, 400, "BadRequest", NULL, NULL, "the patch is not a JSON object: %s", cp_error_message());
                goto out;
        }
        if ((e = k8s_obj_get(c->api->store, c->uid, "Node", "", r->name, &cur)) < 0) {
                k8s_status(c, e == CP_ENOTFOUND ? 404 : 500, e == CP_ENOTFOUND ? "NotFound" : "InternalError", "nodes",
                           r->name, "nodes \"%s\" not found", r->name);
                goto out;
        }
        const char *want = json_string_value(json_object_get(json_object_get(patch, "metadata"), "resourceVersion"));
        const char *have = json_string_value(json_object_get(json_object_get(cur, "metadata"), "resourceVersion"));
        if (want && (!have || strcmp(want, have))) {
                k8s_status(c, 409, "Conflict", "nodes", r->name, "Operation cannot be fulfilled on nodes \"%s\": the "
                           "object has been modified; please apply your changes to the latest version and try again",
                           r->name);
                goto out;
        }
        if ((e = cp_k8s_patch_apply((cp_k8s_patch_type) t, cur, patch, &next)) < 0) {
                k8s_status(c, 400, "BadRequest", NULL, NULL, "%s", cp_error_message());
                goto out;
        }
        json_object_set(json_object_get(next, "metadata"), "resourceVersion",
                        json_object_get(json_object_get(cur, "metadata"), "resourceVersion"));
        if ((e = k8s_node_system_labels(c->api->store, c->uid, r->name, &sys)) >= 0)
                e = cp_k8s_node_change_check(cur, next, sys);
        if (e == CP_EPOLICY) {
                k8s_status(c, 403, "Forbidden", "nodes", r->name, "nodes \"%s\" is forbidden: %s", r->name,
                           cp_error_message());
                goto out;
        }
        if (e < 0) {
                k8s_status(c, 422, "Invalid", "Node", r->name, "Node \"%s\" is invalid: %s", r->name, cp_error_message());
                goto out;
        }
        if ((e = k8s_node_user_put(c->api->store, c->uid, r->name, next, sys)) >= 0)
                e = k8s_sync(c->api, c->cluster);
        json_decref(cur);
        cur = NULL;
        if (e >= 0 && (e = k8s_obj_get(c->api->store, c->uid, "Node", "", r->name, &cur)) >= 0) {
                k8s_reply(c, 200, json_incref(cur));
        } else
                k8s_status(c, 500, "InternalError", NULL, NULL, "the node could not be written");
out:
        cp_error_clear();
        json_decref(patch);
        json_decref(cur);
        json_decref(next);
        json_decref(sys);
}

static void delete_node(k8s_ctx *c, const k8s_res *r) {
        json_t *cur = NULL;
        int e = k8s_obj_get(c->api->store, c->uid, "Node", "", r->name, &cur);
        if (e == CP_ENOTFOUND) {
                cp_error_clear();
                k8s_status(c, 404, "NotFound", "nodes", r->name, "nodes \"%s\" not found", r->name);
                return;
        }
        if (e >= 0)
                e = k8s_node_user_delete(c->api->store, c->uid, r->name);
        if (e >= 0)
                e = k8s_obj_write(c->api->store, c->uid, "Node", "", r->name, "DELETED", cur);
        if (e < 0) {
                cp_error_clear();
                k8s_status(c, 500, "InternalError", NULL, NULL, "the node could not be deleted");
        } else
                k8s_reply(c, 200, json_pack("{s:s,s:s,s:{},s:s,s:{s:s,s:s,s:O}}", "kind", "Status", "apiVersion", "v1",
                                            "metadata", "status", "Success", "details", "name", r->name, "kind",
                                            "nodes", "uid", json_object_get(json_object_get(cur, "metadata"), "uid")));
        json_decref(cur);
}

/* ---- routing ---- */

static const struct {
        const char *group, *resource, *kind;
        bool namespaced;
} resources[] = {
        {"", "nodes", "Node", false},           {"", "namespaces", "Namespace", false},
        {"", "events", "Event", true},          {"", "pods", "Pod", true},
        {"coordination.k8s.io", "leases", "Lease", true},
};

/* The path below /api/v1 or /apis/<group>/v1 as a resource; false: not served. */
static bool parse_res(const char *group, const char *rest, k8s_res *r, char (*seg)[CP_SVC_CAP_MAX]) {
        size_t n = 0;
        const char *p = rest;
        while (*p && n < 5) {
                if (*p == '/')
                        p++;
                size_t l = strcspn(p, "/");
                if (l == 0 && !*p)
                        break; /* a trailing "/" */
                if (l == 0 || l >= CP_SVC_CAP_MAX)
                        return false;
                memcpy(seg[n], p, l);
                seg[n++][l] = 0;
                p += l;
        }
        if (*p || n == 0)
                return false;
        size_t i0 = 0;
        if (n >= 3 && !strcmp(seg[0], "namespaces")) {
                r->ns = seg[1];
                i0 = 2;
        }
        for (size_t i = 0; i < CP_ELEMENTSOF(resources); i++) {
                if (strcmp(resources[i].group, group) || strcmp(resources[i].resource, seg[i0]))
                        continue;
                if (r->ns && !resources[i].namespaced)
                        return false;
                if (n - i0 > 3 || (n - i0 == 3 && (strcmp(seg[i0 + 2], "status") || strcmp(seg[i0], "nodes"))))
                        return false;
                r->sub = n - i0 == 3 ? "status" : NULL;
                r->resource = resources[i].resource;
                r->kind = resources[i].kind;
                r->group = group;
                r->version = *group ? "coordination.k8s.io/v1" : "v1";
                r->name = n - i0 >= 2 ? seg[i0 + 1] : NULL;
                return true;
        }
        return false;
}

static void serve(k8s_ctx *c) {
        if (k8s_discovery(c))
                return;
        char seg[5][CP_SVC_CAP_MAX];
        k8s_res r = {0};
        bool ok = false;
        if (!strncmp(c->path, "/api/v1/", 8))
                ok = parse_res("", c->path + 7, &r, seg);
        else if (!strncmp(c->path, "/apis/coordination.k8s.io/v1/", 29))
                ok = parse_res("coordination.k8s.io", c->path + 28, &r, seg);
        if (c->node[0] && !strcmp(c->req->method, "POST") && !strcmp(c->path, K8S_CSR_PATH)) {
                k8s_csr_renew(c); /* the kubelet's client certificate rotation */
                return;
        }
        if (!ok && c->node[0]) { /* authorization comes first: a node learns nothing of other paths */
                k8s_status(c, 403, "Forbidden", NULL, NULL, "forbidden: User \"%s\" cannot %s path \"%.200s\": a "
                           "node may only read and renew its own Node and Lease and create events about itself",
                           c->user, c->req->method, c->path);
                return;
        }
        if (!ok) {
                not_found_path(c);
                return;
        }
        const char *m = c->req->method;
        const char *verb = !strcmp(m, "GET") ? (r.name ? "get" : "list") : !strcmp(m, "PATCH") ? "patch"
                           : !strcmp(m, "DELETE") ? "delete" : !strcmp(m, "POST") ? "create" : !strcmp(m, "PUT") ? "update"
                                                                                                                : "other";
        const char *w = cp_http_req_query(c->req, "watch");
        if (!r.name && w && (!strcmp(w, "1") || !strcasecmp(w, "true")))
                verb = "watch";
        if (c->node[0]) { /* a node's client certificate: the Node authorizer */
                bool own = r.name && !strcmp(r.name, c->node) && !r.sub;
                if (!strcmp(verb, "get") && own &&
                    (!strcmp(r.resource, "nodes") || (!strcmp(r.resource, "leases") && r.ns &&
                                                      !strcmp(r.ns, "kube-node-lease"))))
                        get(c, &r);
                else
                        k8s_node_serve(c, verb, r.resource, r.group, r.ns, r.name, r.sub);
                return;
        }
        if (r.sub) {
                not_found_path(c);
                return;
        }
        if (!allowed(c, verb, r.resource)) {
                k8s_forbidden(c, verb, r.resource, r.group, r.name, r.ns, NULL);
                return;
        }
        if (!strcmp(verb, "get") || !strcmp(verb, "list") || !strcmp(verb, "watch")) {
                if (!strcmp(verb, "get"))
                        get(c, &r);
                else
                        list(c, &r);
        } else if (!strcmp(verb, "patch") && r.name)
                patch_node(c, &r);
        else if (!strcmp(verb, "delete") && r.name)
                delete_node(c, &r);
        else
                k8s_status(c, 405, "MethodNotAllowed", r.resource, r.name,
                           "the server does not allow this method on the requested resource");
}

/* The cluster whose resourceUID is uid (a new reference), NULL if none. */
static json_t *cluster_by_uid(cp_store *s, const char *uid) {
        json_t *all = NULL, *found = NULL, *cl;
        if (cp_res_list(s, "cluster", NULL, NULL, NULL, &all) < 0) {
                cp_error_clear();
                return NULL;
        }
        size_t i;
        json_array_foreach(all, i, cl) {
                const char *u = json_string_value(json_object_get(json_object_get(cl, "properties"), "resourceUID"));
                if (u && !strcmp(u, uid))
                        found = json_incref(cl);
        }
        json_decref(all);
        return found;
}

bool cp_k8s_handle(cp_api *api, const cp_http_request *req, cp_http_response *resp) {
        if (!req->path || strncmp(req->path, "/k8s/", 5) != 0)
                return false;
        k8s_ctx c = {.api = api, .req = req, .resp = resp};
        size_t n = strcspn(req->path + 5, "/");
        c.path = req->path + 5 + n;
        if (!*c.path)
                c.path = "/";
        if (n == 0 || n >= sizeof c.uid) {
                k8s_status(&c, 401, "Unauthorized", NULL, NULL, "Unauthorized");
                return true;
        }
        memcpy(c.uid, req->path + 5, n);
        c.uid[n] = 0;
        if (cp_store_begin(api->store) < 0) {
                cp_error_clear();
                k8s_status(&c, 503, "ServiceUnavailable", NULL, NULL, "the store is not available");
                return true;
        }
        c.cluster = cluster_by_uid(api->store, c.uid);
        if (c.cluster && !authenticate(&c) && !k8s_node_authenticate(&c) && k8s_csr_bootstrap(&c)) { /* a node's bootstrap token */
                if (c.resp->status >= 500)
                        cp_store_rollback(api->store);
                else if (cp_store_commit(api->store) < 0)
                        cp_error_clear();
                json_decref(c.cluster);
                return true;
        }
        if (!c.cluster || !c.user) {
                cp_store_rollback(api->store);
                cp_error_clear();
                json_decref(c.cluster);
                k8s_status(&c, 401, "Unauthorized", NULL, NULL, "Unauthorized");
                fprintf(stderr, "confpoold: k8s: refused %s request (no valid cluster credential)\n",
                        strlen(req->method) < 10 ? req->method : "?");
                return true;
        }
        c.cluster_id = json_string_value(json_object_get(c.cluster, "id"));
        int r = k8s_sync(api, c.cluster);
        if (r >= 0 && k8s_gc_due())
                r = k8s_gc(api->store, time(NULL), K8S_LOG_KEEP, K8S_EVENT_TTL_S);
        if (r >= 0)
                serve(&c);
        else {
                k8s_status(&c, 500, "InternalError", NULL, NULL, "the cluster's nodes could not be read");
                cp_error_clear();
        }
        if (r < 0)
                cp_store_rollback(api->store);
        else if (cp_store_commit(api->store) < 0) {
                cp_http_resp_clear(resp);
                k8s_status(&c, 500, "InternalError", NULL, NULL, "the change could not be stored");
                cp_error_clear();
        }
        /* a node's routine Lease renewals and heartbeats (every few seconds) are not logged */
        bool routine = c.node[0] && resp->status == 200 && strcmp(req->method, "POST");
        if (strcmp(req->method, "GET") != 0 && !routine)
                fprintf(stderr, "confpoold: k8s: principal=%s %s %s -> %u\n", c.user, req->method, c.path,
                        resp->status);
        json_decref(c.cluster);
        return true;
}
