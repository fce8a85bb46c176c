/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Nodes on their own credential (docs/kubernetes.md, "Nodes' client
 * certificates"): the TLS layer (src/service/httpd.c) hands over a client
 * certificate only when it verified under confpoold's CA; here it must be a
 * node's (O=system:nodes, CN=system:node:<name>, clientAuth) and the very
 * certificate this confpoold issued to that machine of this cluster
 * (k8s_node_cert: SHA-256 of the DER), the machine Ready now: a
 * quarantined, deleted or re-registered machine's certificate is refused
 * from the next request on, and one of another cluster never matches.
 * The Node authorizer then lets a node read and renew its own Lease,
 * report its own Node's heartbeats and create Events about itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "basic/codec.h"
#include "controlplane/k8s-internal.h"

#define NODE_PREFIX "system:node:"

/* O and CN of a certificate, exactly one of each and nothing else. */
static bool node_subject(X509 *x, char *cn, size_t size) {
        const X509_NAME *n = X509_get_subject_name(x);
        int count = X509_NAME_entry_count(n);
        bool org = false;
        cn[0] = 0;
        for (int i = 0; i < count; i++) {
                const X509_NAME_ENTRY *e = X509_NAME_get_entry(n, i);
                int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
                const ASN1_STRING *v = X509_NAME_ENTRY_get_data(e);
                int len = ASN1_STRING_length(v);
                const char *d = (const char *) ASN1_STRING_get0_data(v);
                if (len <= 0 || memchr(d, 0, (size_t) len))
                        return false;
                if (nid == NID_organizationName && !org && len == 12 && !memcmp(d, "system:nodes", 12))
                        org = true;
                else if (nid == NID_commonName && !cn[0] && (size_t) len < size)
                        snprintf(cn, size, "%.*s", len, d);
                else
                        return false;
        }
        return org && cn[0];
}

/* The recorded certificate of (cluster, machine): its hash and pool. */
static int recorded(cp_store *s, const char *cluster, const char *machine, char sha[65], char *pool, size_t psize) {
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(s, "SELECT sha256, pool FROM k8s_node_cert WHERE cluster=? AND machine=?", &st);
        if (r < 0)
                return r;
        cp_stmt_bind_text(st, 1, cluster);
        cp_stmt_bind_text(st, 2, machine);
        if ((r = cp_store_step(s, st)) != 1)
                return r;
        snprintf(sha, 65, "%s", (const char *) cp_stmt_text(st, 0));
        snprintf(pool, psize, "%s", (const char *) cp_stmt_text(st, 1));
        return 1;
}

/* The renewal of (cluster, machine) whose hash is sha, if there is one,
 * made the recorded certificate: 1 promoted, 0 no such renewal. */
static int promote_next(cp_store *s, const char *cluster, const char *machine, const char *sha) {
        _cleanup_stmt_ cp_stmt *up = NULL, *del = NULL;
        int r = cp_store_prepare(s, "UPDATE k8s_node_cert SET sha256=n.sha256, serial=n.serial FROM "
                                    "k8s_node_cert_next n WHERE k8s_node_cert.cluster=n.cluster AND "
                                    "k8s_node_cert.machine=n.machine AND n.cluster=? AND n.machine=? AND n.sha256=?",
                                 &up);
        if (r < 0)
                return r;
        cp_stmt_bind_text(up, 1, cluster);
        cp_stmt_bind_text(up, 2, machine);
        cp_stmt_bind_text(up, 3, sha);
        if ((r = cp_store_step(s, up)) < 0)
                return r;
        if (cp_stmt_changes(up) != 1)
                return 0;
        if ((r = cp_store_prepare(s, "DELETE FROM k8s_node_cert_next WHERE cluster=? AND machine=?", &del)) < 0)
                return r;
        cp_stmt_bind_text(del, 1, cluster);
        cp_stmt_bind_text(del, 2, machine);
        r = cp_store_step(s, del);
        if (r >= 0)
                fprintf(stderr, "confpoold: k8s: node %.63s uses its renewed client certificate; the previous one is "
                        "refused from now on\n", machine);
        return r < 0 ? r : 1;
}

/* NULL when the certificate is this cluster's node's, else why not. */
static const char *node_check(k8s_ctx *c, X509 *x, char *name, size_t size, char pool[700]) {
        char cn[128], sha[65], want[65];
        uint8_t h[32];
        if (X509_check_purpose(x, X509_PURPOSE_SSL_CLIENT, 0) != 1)
                return "not a client certificate";
        if (!node_subject(x, cn, sizeof cn) || strncmp(cn, NODE_PREFIX, strlen(NODE_PREFIX)) ||
            strlen(cn) - strlen(NODE_PREFIX) >= size || !cn[strlen(NODE_PREFIX)])
                return "the subject is not exactly O=system:nodes, CN=system:node:<name>";
        const char *nn = cn + strlen(NODE_PREFIX);
        if (strspn(nn, "abcdefghijklmnopqrstuvwxyz0123456789-.") != strlen(nn))
                return "the node name is not a DNS subdomain";
        memcpy(name, nn, strlen(nn) + 1);
        SHA256(c->req->client_cert_der, c->req->client_cert_len, h);
        cp_hex_encode(h, 32, sha);
        int r = recorded(c->api->store, c->uid, name, want, pool, 700);
        if (r < 0) {
                cp_error_clear();
                return "the store could not be read";
        }
        if (r == 1 && strcmp(sha, want)) { /* public data: no constant-time compare needed */
                /* a renewed certificate at its first use: it becomes the one,
                 * the one it replaces is refused from now on */
                if ((r = promote_next(c->api->store, c->uid, name, sha)) < 0) {
                        cp_error_clear();
                        return "the store could not be written";
                }
        }
        if (r == 0)
                return "not the certificate this cluster issued to that node (another cluster's, or replaced)";
        cp_machine m;
        if (cp_machine_get(c->api->store, pool, name, &m) < 0) {
                cp_error_clear();
                return "the node's machine is gone";
        }
        if (strcmp(m.state, "Ready"))
                return "the node's machine is not attested (quarantined or failed)";
        return NULL;
}

bool k8s_node_authenticate(k8s_ctx *c) {
        if (!c->req->client_cert_der || !c->req->client_cert_len)
                return false;
        const uint8_t *p = c->req->client_cert_der;
        X509 *x = d2i_X509(NULL, &p, (long) c->req->client_cert_len);
        char name[64] = "", pool[700] = "";
        const char *why = x ? node_check(c, x, name, sizeof name, pool) : "not an X.509 certificate";
        X509_free(x);
        if (why) {
                fprintf(stderr, "confpoold: k8s: client certificate%s%.63s refused: %s\n", name[0] ? " of node " : "",
                        name, why);
                return false;
        }
        snprintf(c->node, sizeof c->node, "%s", name);
        snprintf(c->node_pool, sizeof c->node_pool, "%s", pool);
        snprintf(c->principal, sizeof c->principal, NODE_PREFIX "%s", name);
        c->user = c->principal;
        c->admin = false;
        return true;
}

/* ---- what a node reports ---- */

int k8s_node_self_get(cp_store *s, const char *cluster, const char *name, json_t **ret) {
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(s, "SELECT doc FROM k8s_node_self WHERE cluster=? AND name=?", &st);
        if (r < 0)
                return r;
        cp_stmt_bind_text(st, 1, cluster);
        cp_stmt_bind_text(st, 2, name);
        if ((r = cp_store_step(s, st)) < 0)
                return r;
        *ret = r == 1 ? json_loads((const char *) cp_stmt_text(st, 0), 0, NULL) : json_object();
        return *ret ? 0 : CP_ERROR(CP_ESTORAGE, "stored report of node %s is not JSON", name);
}

/* "2026-01-01T00:00:00Z" / ".000000Z" as seconds; -1 when not a time. */
static int64_t parse_time(const char *t) {
        struct tm tm = {0};
        char rest[16] = "";
        if (!t || strlen(t) > 40 || sscanf(t, "%4d-%2d-%2dT%2d:%2d:%2d%15s", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                                           &tm.tm_hour, &tm.tm_min, &tm.tm_sec, rest) != 7)
                return -1;
        size_t n = strlen(rest);
        if (n == 0 || rest[n - 1] != 'Z' || (n > 1 && (rest[0] != '.' || n > 11 || strspn(rest + 1, "0123456789") != n - 2)))
                return -1;
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
            tm.tm_sec > 60)
                return -1;
        return (int64_t) timegm(&tm);
}

/* A time a node reports: a valid time, not more than a minute ahead. */
static bool time_ok(const char *t) {
        int64_t v = parse_time(t);
        return v > 0 && v <= (int64_t) time(NULL) + 60;
}

/* Every key of o is one of the NULL-terminated keys; else the first other. */
static const char *only_keys(const json_t *o, const char *const *keys) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *) o, k, v) {
                bool ok = false;
                for (size_t i = 0; keys[i] && !ok; i++)
                        ok = !strcmp(k, keys[i]);
                if (!ok)
                        return k;
        }
        return NULL;
}

static json_t *body_object(k8s_ctx *c) {
        json_t *b = NULL;
        if (cp_svc_json_parse(c->req->body, c->req->body_len, 16, &b) < 0 || !json_is_object(b)) {
                k8s_status(c, 400, "BadRequest", NULL, NULL, "the body is not a JSON object: %s",
                           cp_error_message());
                cp_error_clear();
                json_decref(b);
                return NULL;
        }
        return b;
}

static void answer(k8s_ctx *c, int r, const char *kind, const char *ns, const char *name, unsigned status) {
        json_t *o = NULL;
        if (r >= 0)
                r = k8s_sync(c->api, c->cluster);
        if (r >= 0 && (r = k8s_obj_get(c->api->store, c->uid, kind, ns, name, &o)) >= 0)
                k8s_reply(c, status, o);
        else {
                cp_error_clear();
                k8s_status(c, 500, "InternalError", NULL, NULL, "the %s could not be written", kind);
        }
}

/* PUT or PATCH of the node's own Lease: holderIdentity (the node),
 * renewTime, leaseDurationSeconds; the Lease then shows these renewals. */
static void lease_write(k8s_ctx *c, bool put) {
        json_t *b = body_object(c), *cur = NULL, *self = NULL;
        if (!b)
                return;
        static const char *const spec_keys[] = {"holderIdentity", "renewTime", "leaseDurationSeconds",
                                                "acquireTime", "leaseTransitions", NULL};
        const json_t *spec = json_object_get(b, "spec"), *md = json_object_get(b, "metadata");
        const char *holder = json_string_value(json_object_get(spec, "holderIdentity"));
        const char *renew = json_string_value(json_object_get(spec, "renewTime"));
        const char *bad = json_is_object(spec) ? only_keys(spec, spec_keys) : "spec";
        json_t *dur = json_object_get(spec, "leaseDurationSeconds");
        const char *mname = json_string_value(json_object_get(md, "name"));
        const char *want_rv = json_string_value(json_object_get(md, "resourceVersion"));
        int r = k8s_obj_get(c->api->store, c->uid, "Lease", "kube-node-lease", c->node, &cur);
        const char *have_rv = json_string_value(json_object_get(json_object_get(cur, "metadata"), "resourceVersion"));
        if (r < 0) {
                cp_error_clear();
                k8s_status(c, 404, "NotFound", "leases", c->node, "leases.coordination.k8s.io \"%s\" not found", c->node);
        } else if (bad)
                k8s_status(c, 422, "Invalid", "Lease", c->node, "Lease \"%s\" is invalid: spec.%s: a node may only "
                           "renew its lease (holderIdentity, renewTime, leaseDurationSeconds)", c->node, bad);
        else if ((holder && strcmp(holder, c->node)) || (mname && strcmp(mname, c->node)))
                k8s_status(c, 422, "Invalid", "Lease", c->node, "Lease \"%s\" is invalid: spec.holderIdentity: must "
                           "be the node itself", c->node);
        else if (!time_ok(renew))
                k8s_status(c, 422, "Invalid", "Lease", c->node, "Lease \"%s\" is invalid: spec.renewTime: must be a "
                           "time in RFC 3339 (microseconds), not in the future", c->node);
        else if (dur && (!json_is_integer(dur) || json_integer_value(dur) < 1 || json_integer_value(dur) > 3600))
                k8s_status(c, 422, "Invalid", "Lease", c->node, "Lease \"%s\" is invalid: spec.leaseDurationSeconds: "
                           "must be 1 to 3600", c->node);
        else if (put && want_rv && (!have_rv || strcmp(want_rv, have_rv)))
                k8s_status(c, 409, "Conflict", "leases", c->node, "Operation cannot be fulfilled on "
                           "leases.coordination.k8s.io \"%s\": the object has been modified; please apply your "
                           "changes to the latest version and try again", c->node);
        else if ((r = k8s_node_self_get(c->api->store, c->uid, c->node, &self)) >= 0) {
                json_object_set_new(self, "renewTime", json_string(renew));
                json_object_set_new(self, "holder", json_string(c->node));
                json_object_set_new(self, "duration", json_integer(dur ? json_integer_value(dur) : 40));
                r = k8s_node_doc_put(c->api->store, true, c->uid, c->node, self);
                answer(c, r, "Lease", "kube-node-lease", c->node, 200);
        } else {
                cp_error_clear();
                k8s_status(c, 500, "InternalError", NULL, NULL, "the store could not be read");
        }
        json_decref(b);
        json_decref(cur);
        json_decref(self);
}

/* A heartbeat of the node's own conditions: {"status":{"conditions":[{"type",
 * "lastHeartbeatTime"}]}}.  Whether it is Ready stays the attestation's. */
static const char *heartbeat_of(const json_t *b, int64_t *hb) {
        static const char *const top[] = {"status", NULL}, *const st[] = {"conditions", "$setElementOrder/conditions",
                                                                            NULL};
        static const char *const cond[] = {"type", "lastHeartbeatTime", NULL};
        const json_t *status = json_object_get(b, "status");
        const char *bad = only_keys(b, top);
        if (bad || !json_is_object(status))
                return bad ? bad : "status";
        if ((bad = only_keys(status, st)) || !json_is_array(json_object_get(status, "conditions")))
                return bad ? bad : "status.conditions";
        size_t i;
        json_t *cd;
        *hb = 0;
        json_array_foreach(json_object_get(status, "conditions"), i, cd) {
                const char *t = json_string_value(json_object_get(cd, "lastHeartbeatTime"));
                if (!json_is_object(cd) || only_keys(cd, cond) || !json_is_string(json_object_get(cd, "type")))
                        return "status.conditions[]: a node reports only type and lastHeartbeatTime";
                if (!time_ok(t))
                        return "status.conditions[].lastHeartbeatTime";
                if (parse_time(t) > *hb)
                        *hb = parse_time(t);
        }
        return *hb ? NULL : "status.conditions";
}

static void node_heartbeat(k8s_ctx *c) {
        int t = cp_k8s_patch_type_of(cp_http_req_header(c->req, "Content-Type"));
        if (t < 0 || t == CP_K8S_PATCH_JSON) {
                k8s_status(c, 415, "UnsupportedMediaType", NULL, NULL, "the body of the request was in an unknown format "
                           "- accepted media types include: application/merge-patch+json, "
                           "application/strategic-merge-patch+json");
                return;
        }
        json_t *b = body_object(c), *self = NULL;
        if (!b)
                return;
        int64_t hb = 0;
        const char *bad = heartbeat_of(b, &hb);
        int r;
        if (bad)
                k8s_status(c, 422, "Invalid", "Node", c->node, "Node \"%s\" is invalid: %s: a node may only report "
                           "its conditions' lastHeartbeatTime (its readiness is its attestation's)", c->node, bad);
        else if ((r = k8s_node_self_get(c->api->store, c->uid, c->node, &self)) >= 0) {
                json_object_set_new(self, "heartbeat", json_integer(hb));
                r = k8s_node_doc_put(c->api->store, true, c->uid, c->node, self);
                answer(c, r, "Node", "", c->node, 200);
        } else {
                cp_error_clear();
                k8s_status(c, 500, "InternalError", NULL, NULL, "the store could not be read");
        }
        json_decref(b);
        json_decref(self);
}

/* POST of an Event about the node itself (reason, message, type). */
static void event_create(k8s_ctx *c, const char *ns) {
        json_t *b = body_object(c);
        if (!b)
                return;
        const json_t *io = json_object_get(b, "involvedObject");
        const char *kind = json_string_value(json_object_get(io, "kind"));
        const char *on = json_string_value(json_object_get(io, "name"));
        const char *reason = json_string_value(json_object_get(b, "reason"));
        const char *msg = json_string_value(json_object_get(b, "message"));
        const char *type = json_string_value(json_object_get(b, "type"));
        if (!kind || strcmp(kind, "Node") || !on || strcmp(on, c->node)) {
                k8s_status(c, 403, "Forbidden", "events", NULL, "events is forbidden: User \"%s\" may only create "
                           "events about its own Node", c->user);
                json_decref(b);
                return;
        }
        if (!reason || !*reason || strlen(reason) > 128 || (msg && strlen(msg) > 1024) || !type ||
            (strcmp(type, "Normal") && strcmp(type, "Warning"))) {
                k8s_status(c, 422, "Invalid", "Event", NULL, "Event is invalid: reason (1-128 bytes), message (at "
                           "most 1024) and type Normal or Warning are required");
                json_decref(b);
                return;
        }
        json_t *mine = NULL;
        size_t n = 0, i;
        json_t *ev;
        int r = k8s_obj_list(c->api->store, c->uid, "Event", NULL, &mine, NULL);
        json_array_foreach(mine, i, ev) {
                const char *who = json_string_value(json_object_get(json_object_get(ev, "source"), "host"));
                n += who && !strcmp(who, c->node);
        }
        json_decref(mine);
        if (r >= 0 && n >= K8S_NODE_EVENTS_MAX) {
                k8s_status(c, 429, "TooManyRequests", "events", NULL, "node %s has %zu events of its own (at most %d "
                           "within the events' 1 h lifetime)", c->node, n, K8S_NODE_EVENTS_MAX);
                json_decref(b);
                return;
        }
        cp_error_clear();
        char name[200], uid[37], now[40];
        api_uuid(uid);
        snprintf(name, sizeof name, "%s.%.16s", c->node, uid + 24);
        cp_now_rfc3339(now);
        json_t *e = json_pack("{s:s,s:s,s:{s:s,s:s,s:s,s:s},s:{s:s,s:s,s:s,s:s},s:s,s:s,s:{s:s,s:s},s:s,s:s,s:i,s:s}",
                              "kind", "Event", "apiVersion", "v1", "metadata", "name", name, "namespace", ns, "uid",
                              uid, "creationTimestamp", now, "involvedObject", "kind", "Node", "apiVersion", "v1",
                              "name", c->node, "uid", c->node, "reason", reason, "message", msg ? msg : "", "source",
                              "component", "kubelet", "host", c->node, "firstTimestamp", now, "lastTimestamp", now,
                              "count", 1, "type", type);
        r = e ? k8s_obj_write(c->api->store, c->uid, "Event", ns, name, "ADDED", e) : cp_error_oom();
        if (r >= 0)
                k8s_reply(c, 201, json_incref(e));
        else {
                cp_error_clear();
                k8s_status(c, 500, "InternalError", NULL, NULL, "the event could not be written");
        }
        json_decref(e);
        json_decref(b);
}

void k8s_node_serve(k8s_ctx *c, const char *verb, const char *resource, const char *group, const char *ns,
                    const char *name, const char *sub) {
        bool own = name && !strcmp(name, c->node);
        bool writes = !strcmp(verb, "update") || !strcmp(verb, "patch");
        if (!strcmp(resource, "nodes") && own && writes && (!sub || !strcmp(sub, "status")) &&
            !strcmp(verb, "patch"))
                node_heartbeat(c);
        else if (!strcmp(resource, "leases") && own && ns && !strcmp(ns, "kube-node-lease") && writes && !sub)
                lease_write(c, !strcmp(verb, "update"));
        else if (!strcmp(resource, "events") && !strcmp(verb, "create") && ns && !name && !sub) {
                if (strcmp(ns, "default") && strcmp(ns, "kube-system") && strcmp(ns, "kube-node-lease") &&
                    strcmp(ns, "kube-public"))
                        k8s_status(c, 404, "NotFound", "namespaces", ns, "namespaces \"%s\" not found", ns);
                else
                        event_create(c, ns);
        }
        else
                k8s_forbidden(c, sub && !strcmp(verb, "patch") ? "patch" : verb, sub ? "nodes/status" : resource,
                              group, name, ns,
                              "a node may only read and renew its own Node and Lease and create events about itself");
}
