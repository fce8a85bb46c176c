/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A cluster's Kubernetes objects in confpoold's store:
 *   k8s_obj        the current objects (JSON), keyed by cluster, kind, namespace, name
 *   k8s_log        every change, its rowid the resourceVersion (monotonic,
 *                  store-wide): what watches replay
 *   k8s_node_user  what users set on a Node (labels, annotations, taints,
 *                  unschedulable) and when a user deleted it
 * Nodes are the cluster's machines that passed attestation (Ready or
 * Quarantined), rendered as AKS writes them (k8s_sync, at every read and
 * by watches); their Leases in kube-node-lease are renewed by the
 * machines' heartbeats; Events record their lifecycle.
 */
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>
#include <openssl/sha.h>

#include "basic/codec.h"
#include "controlplane/cp-nodes.h"
#include "controlplane/k8s-internal.h"

int k8s_schema(cp_store *s) {
        /* the change log's resourceVersion: AUTOINCREMENT (SQLite), a sequence (PostgreSQL) */
        int r = cp_store_exec(s, cp_store_dialect_of(s) == CP_STORE_PG
                                         ? "CREATE TABLE IF NOT EXISTS k8s_log (rv BIGSERIAL PRIMARY KEY, cluster TEXT "
                                           "NOT NULL, kind TEXT NOT NULL, ns TEXT NOT NULL, type TEXT NOT NULL, body TEXT "
                                           "NOT NULL)"
                                         : "CREATE TABLE IF NOT EXISTS k8s_log (rv INTEGER PRIMARY KEY AUTOINCREMENT, "
                                           "cluster TEXT NOT NULL, kind TEXT NOT NULL, ns TEXT NOT NULL, type TEXT NOT "
                                           "NULL, body TEXT NOT NULL)");
        if (r >= 0)
                r = cp_store_exec(s, "CREATE TABLE IF NOT EXISTS k8s_obj (cluster TEXT NOT NULL, kind TEXT NOT NULL, "
                                "ns TEXT NOT NULL, name TEXT NOT NULL, body TEXT NOT NULL, "
                                "PRIMARY KEY (cluster, kind, ns, name));"
                                "CREATE INDEX IF NOT EXISTS k8s_log_cluster ON k8s_log(cluster, rv);"
                                "CREATE TABLE IF NOT EXISTS k8s_node_user (cluster TEXT NOT NULL, name TEXT NOT NULL, "
                                "doc TEXT NOT NULL, PRIMARY KEY (cluster, name))");
        return r < 0 ? r : k8s_bootstrap_schema(s);
}

static json_t *load(const char *text) {
        return text ? json_loads((const char *) text, 0, NULL) : NULL;
}

int k8s_obj_get(cp_store *s, const char *cluster, const char *kind, const char *ns, const char *name, json_t **ret) {
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(s, "SELECT body FROM k8s_obj WHERE cluster=? AND kind=? AND ns=? AND name=?", &st);
        if (r < 0)
                return r;
        cp_stmt_bind_text(st, 1, cluster);
        cp_stmt_bind_text(st, 2, kind);
        cp_stmt_bind_text(st, 3, ns ? ns : "");
        cp_stmt_bind_text(st, 4, name);
        r = cp_store_step(s, st);
        if (r < 0)
                return r;
        if (r == 0)
                return CP_ERROR(CP_ENOTFOUND, "%s %s not found", kind, name);
        *ret = load(cp_stmt_text(st, 0));
        return *ret ? 0 : CP_ERROR(CP_ESTORAGE, "stored %s %s is not JSON", kind, name);
}

static int64_t max_rv(cp_store *s) {
        _cleanup_stmt_ cp_stmt *st = NULL;
        if (cp_store_prepare(s, "SELECT COALESCE(MAX(rv), 1) FROM k8s_log", &st) < 0 || cp_store_step(s, st) != 1) {
                cp_error_clear();
                return 1;
        }
        return cp_stmt_int64(st, 0);
}

int k8s_obj_list(cp_store *s, const char *cluster, const char *kind, const char *ns, json_t **ret, int64_t *ret_rv) {
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(s, "SELECT body FROM k8s_obj WHERE cluster=? AND kind=? AND (CAST(?3 AS TEXT) IS NULL OR ns=?3) "
                                    "ORDER BY ns, name", &st);
        if (r < 0)
                return r;
        cp_stmt_bind_text(st, 1, cluster);
        cp_stmt_bind_text(st, 2, kind);
        if (ns)
                cp_stmt_bind_text(st, 3, ns);
        json_t *a = json_array();
        while (a && (r = cp_store_step(s, st)) == 1) {
                json_t *o = load(cp_stmt_text(st, 0));
                if (o)
                        json_array_append_new(a, o);
        }
        if (!a || r < 0) {
                json_decref(a);
                return a ? r : cp_error_oom();
        }
        *ret = a;
        if (ret_rv)
                *ret_rv = max_rv(s);
        return 0;
}

int k8s_obj_write(cp_store *s, const char *cluster, const char *kind, const char *ns, const char *name,
                  const char *type, json_t *obj) {
        _cleanup_stmt_ cp_stmt *ins = NULL;
        int r = cp_store_prepare(s, "INSERT INTO k8s_log(cluster, kind, ns, type, body) VALUES (?,?,?,?,'') RETURNING rv",
                                 &ins);
        if (r < 0)
                return r;
        cp_stmt_bind_text(ins, 1, cluster);
        cp_stmt_bind_text(ins, 2, kind);
        cp_stmt_bind_text(ins, 3, ns ? ns : "");
        cp_stmt_bind_text(ins, 4, type);
        if ((r = cp_store_step(s, ins)) < 0)
                return r;
        if (r == 0)
                return CP_ERROR(CP_ESTORAGE, "the change log gave no resourceVersion");
        int64_t rv = cp_stmt_int64(ins, 0);
        char rvs[24];
        snprintf(rvs, sizeof rvs, "%lld", (long long) rv);
        json_object_set_new(json_object_get(obj, "metadata"), "resourceVersion", json_string(rvs));
        char *body = json_dumps(obj, JSON_COMPACT);
        if (!body)
                return cp_error_oom();
        _cleanup_stmt_ cp_stmt *up = NULL, *ob = NULL;
        r = cp_store_prepare(s, "UPDATE k8s_log SET body=? WHERE rv=?", &up);
        if (r >= 0) {
                cp_stmt_bind_text(up, 1, body);
                cp_stmt_bind_int64(up, 2, rv);
                r = cp_store_step(s, up);
        }
        if (r >= 0)
                r = cp_store_prepare(s, strcmp(type, "DELETED") == 0
                                                ? "DELETE FROM k8s_obj WHERE cluster=?1 AND kind=?2 AND ns=?3 AND name=?4"
                                                : "INSERT INTO k8s_obj(cluster, kind, ns, name, body) VALUES (?1,?2,?3,?4,?5) "
                                                  "ON CONFLICT(cluster, kind, ns, name) DO UPDATE SET body=excluded.body",
                                     &ob);
        if (r >= 0) {
                cp_stmt_bind_text(ob, 1, cluster);
                cp_stmt_bind_text(ob, 2, kind);
                cp_stmt_bind_text(ob, 3, ns ? ns : "");
                cp_stmt_bind_text(ob, 4, name);
                if (strcmp(type, "DELETED") != 0)
                        cp_stmt_bind_text(ob, 5, body);
                r = cp_store_step(s, ob);
        }
        free(body);
        return r < 0 ? r : 0;
}

int k8s_log_since(cp_store *s, const char *cluster, const char *kind, const char *ns, int64_t rv, int limit,
                  k8s_log_fn fn, void *ud) {
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(s, "SELECT rv, type, body FROM k8s_log WHERE cluster=? AND rv>? AND kind=? AND "
                                    "(CAST(?4 AS TEXT) IS NULL OR ns=?4) ORDER BY rv LIMIT ?5", &st);
        if (r < 0)
                return r;
        cp_stmt_bind_text(st, 1, cluster);
        cp_stmt_bind_int64(st, 2, rv);
        cp_stmt_bind_text(st, 3, kind);
        if (ns)
                cp_stmt_bind_text(st, 4, ns);
        cp_stmt_bind_int64(st, 5, limit);
        while ((r = cp_store_step(s, st)) == 1) {
                json_t *o = load(cp_stmt_text(st, 2));
                if (!o)
                        continue;
                r = fn(ud, cp_stmt_int64(st, 0), cp_stmt_text(st, 1), o);
                json_decref(o);
                if (r < 0)
                        return r;
        }
        return r;
}

/* ---- users' part of Nodes ---- */

int k8s_node_user_get(cp_store *s, const char *cluster, const char *name, json_t **ret) {
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(s, "SELECT doc FROM k8s_node_user WHERE cluster=? AND name=?", &st);
        if (r < 0)
                return r;
        cp_stmt_bind_text(st, 1, cluster);
        cp_stmt_bind_text(st, 2, name);
        r = cp_store_step(s, st);
        *ret = r == 1 ? load(cp_stmt_text(st, 0)) : NULL;
        if (r >= 0 && !*ret)
                *ret = json_object();
        return r < 0 ? r : 0;
}

int k8s_node_doc_put(cp_store *s, bool self, const char *cluster, const char *name, const json_t *doc) {
        char *text = json_dumps(doc, JSON_COMPACT);
        if (!text)
                return cp_error_oom();
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(s,
                                 self ? "INSERT INTO k8s_node_self(cluster, name, doc) VALUES (?,?,?) "
                                        "ON CONFLICT(cluster, name) DO UPDATE SET doc=excluded.doc"
                                      : "INSERT INTO k8s_node_user(cluster, name, doc) VALUES (?,?,?) "
                                        "ON CONFLICT(cluster, name) DO UPDATE SET doc=excluded.doc",
                                 &st);
        if (r >= 0) {
                cp_stmt_bind_text(st, 1, cluster);
                cp_stmt_bind_text(st, 2, name);
                cp_stmt_bind_text(st, 3, text);
                r = cp_store_step(s, st);
        }
        free(text);
        return r < 0 ? r : 0;
}

/* The members of map m whose keys are not in sys. */
static json_t *minus(const json_t *m, const json_t *sys) {
        json_t *o = json_object();
        const char *k;
        json_t *v;
        json_object_foreach((json_t *) m, k, v) {
                if (!json_object_get(sys, k))
                        json_object_set(o, k, v);
        }
        return o;
}

int k8s_node_system_labels(cp_store *s, const char *cluster, const char *name, json_t **ret) {
        json_t *u = NULL, *n = NULL;
        int r = k8s_node_user_get(s, cluster, name, &u);
        if (r >= 0)
                r = k8s_obj_get(s, cluster, "Node", "", name, &n);
        if (r >= 0)
                *ret = minus(json_object_get(json_object_get(n, "metadata"), "labels"), json_object_get(u, "labels"));
        json_decref(u);
        json_decref(n);
        return r;
}

int k8s_node_user_put(cp_store *s, const char *cluster, const char *name, const json_t *node, const json_t *sys) {
        json_t *md = json_object_get(node, "metadata"), *spec = json_object_get(node, "spec");
        json_t *old = NULL;
        int r = k8s_node_user_get(s, cluster, name, &old);
        if (r < 0)
                return r;
        /* annotations and taints the system sets are those the stored Node has and the user's part has not */
        json_t *stored = NULL;
        if (k8s_obj_get(s, cluster, "Node", "", name, &stored) < 0)
                cp_error_clear();
        json_t *sys_ann = minus(json_object_get(json_object_get(stored, "metadata"), "annotations"),
                                json_object_get(old, "annotations"));
        json_t *taints = json_array();
        size_t i;
        json_t *t;
        json_array_foreach(json_object_get(spec, "taints"), i, t) {
                const char *k = json_string_value(json_object_get(t, "key"));
                if (k && strcmp(k, CP_K8S_ATTEST_TAINT) != 0)
                        json_array_append(taints, t);
        }
        json_t *doc = json_pack("{s:o,s:o,s:o,s:b}", "labels", minus(json_object_get(md, "labels"), sys),
                                "annotations", minus(json_object_get(md, "annotations"), sys_ann), "taints", taints,
                                "unschedulable", json_is_true(json_object_get(spec, "unschedulable")));
        r = doc ? k8s_node_doc_put(s, false, cluster, name, doc) : cp_error_oom();
        json_decref(doc);
        json_decref(sys_ann);
        json_decref(stored);
        json_decref(old);
        return r;
}

int k8s_node_user_delete(cp_store *s, const char *cluster, const char *name) {
        json_t *doc = json_pack("{s:I}", "deletedAt", (json_int_t) time(NULL));
        int r = doc ? k8s_node_doc_put(s, false, cluster, name, doc) : cp_error_oom();
        json_decref(doc);
        return r;
}

/* ---- rendering ---- */

json_t *k8s_namespaces(const json_t *cluster) {
        const char *created = json_string_value(json_object_get(json_object_get(cluster, "systemData"), "createdAt"));
        char ts[32] = "2026-01-01T00:00:00Z";
        if (created && strlen(created) >= 19)
                snprintf(ts, sizeof ts, "%.19sZ", created);
        static const char *const names[] = {"default", "kube-node-lease", "kube-public", "kube-system"};
        json_t *a = json_array();
        for (size_t i = 0; a && i < 4; i++) {
                uint8_t d[32];
                char seed[128], hex[65];
                snprintf(seed, sizeof seed, "%s/%s", json_string_value(json_object_get(json_object_get(cluster,
                                                                                                       "properties"),
                                                                                       "resourceUID")),
                         names[i]);
                SHA256((const uint8_t *) seed, strlen(seed), d);
                cp_hex_encode(d, 16, hex);
                char uid[40];
                snprintf(uid, sizeof uid, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
                json_array_append_new(a, json_pack("{s:s,s:s,s:{s:s,s:s,s:s,s:s,s:{s:s}},s:{s:[s]},s:{s:s}}", "kind",
                                                   "Namespace", "apiVersion", "v1", "metadata", "name", names[i], "uid",
                                                   uid, "resourceVersion", "1", "creationTimestamp", ts, "labels",
                                                   "kubernetes.io/metadata.name", names[i], "spec", "finalizers",
                                                   "kubernetes", "status", "phase", "Active"));
        }
        return a;
}
