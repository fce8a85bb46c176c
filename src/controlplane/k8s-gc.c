/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bounded growth of the Kubernetes objects in the store (docs/kubernetes.md
 * "Store growth"):
 *   - the change log k8s_log keeps its last K8S_LOG_KEEP entries (store-wide:
 *     resourceVersions are); the highest removed version is recorded
 *     (k8s_meta 'compacted'), and a watch from a version at or below it is
 *     410 Expired, as kube-apiserver answers after an etcd compaction;
 *   - Events expire K8S_EVENT_TTL_S after their lastTimestamp
 *     (kube-apiserver's --event-ttl default, 1 h), logged as DELETED;
 *   - the objects, log and node records of a cluster that no longer exists
 *     are removed.
 * k8s_gc runs at most every K8S_GC_PERIOD_S per process: from the API's
 * requests (in their transaction) and from the leader's reconciler thread
 * (cp_k8s_gc_tick), so that it also runs while no cluster's API is used.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "controlplane/k8s-internal.h"

int64_t k8s_compacted_rv(cp_store *s) {
        _cleanup_stmt_ cp_stmt *st = NULL;
        if (cp_store_prepare(s, "SELECT value FROM k8s_meta WHERE key='compacted'", &st) < 0) {
                cp_error_clear();
                return 0;
        }
        int r = cp_store_step(s, st);
        if (r < 0)
                cp_error_clear();
        return r == 1 ? cp_stmt_int64(st, 0) : 0;
}

static int exec_i64(cp_store *s, const char *sql, int64_t v) {
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(s, sql, &st);
        if (r < 0)
                return r;
        cp_stmt_bind_int64(st, 1, v);
        r = cp_store_step(s, st);
        return r < 0 ? r : 0;
}

/* Keep the last `keep` log entries. */
static int compact(cp_store *s, int64_t keep) {
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(s, "SELECT COALESCE(MAX(rv), 0) FROM k8s_log", &st);
        if (r < 0 || (r = cp_store_step(s, st)) < 0)
                return r;
        int64_t cut = cp_stmt_int64(st, 0) - keep;
        if (cut <= k8s_compacted_rv(s))
                return 0;
        r = exec_i64(s, "DELETE FROM k8s_log WHERE rv <= ?", cut);
        if (r >= 0)
                r = exec_i64(s, "INSERT INTO k8s_meta(key, value) VALUES ('compacted', ?1) "
                                "ON CONFLICT(key) DO UPDATE SET value=excluded.value", cut);
        return r;
}

/* "2026-01-01T00:00:00Z" (or with a fraction) as seconds; 0 when not one. */
static int64_t seconds(const char *t) {
        struct tm tm = {0};
        if (!t || sscanf(t, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                         &tm.tm_sec) != 6)
                return 0;
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        return (int64_t) timegm(&tm);
}

/* Events of cluster last seen before now - ttl: DELETED. */
static int expire_events(cp_store *s, const char *cluster, int64_t now, int64_t ttl) {
        json_t *items = NULL, *e;
        int r = k8s_obj_list(s, cluster, "Event", NULL, &items, NULL);
        size_t i;
        json_array_foreach(items, i, e) {
                const json_t *md = json_object_get(e, "metadata");
                const char *last = json_string_value(json_object_get(e, "lastTimestamp"));
                int64_t t = seconds(last ? last : json_string_value(json_object_get(md, "creationTimestamp")));
                if (r < 0 || t > now - ttl)
                        continue;
                r = k8s_obj_write(s, cluster, "Event", json_string_value(json_object_get(md, "namespace")),
                                  json_string_value(json_object_get(md, "name")), "DELETED", e);
        }
        json_decref(items);
        return r;
}

/* Everything of clusters whose resourceUID is not in live. */
static int remove_deleted(cp_store *s, const json_t *live) {
        static const char *const tables[] = {"k8s_obj", "k8s_log", "k8s_node_user", "k8s_bootstrap",
                                             "k8s_node_cert", "k8s_node_cert_next", "k8s_node_self"};
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(s, "SELECT cluster FROM k8s_obj UNION SELECT cluster FROM k8s_log UNION "
                                    "SELECT cluster FROM k8s_bootstrap UNION SELECT cluster FROM k8s_node_self", &st);
        json_t *gone = json_array();
        while (r >= 0 && gone && (r = cp_store_step(s, st)) == 1) {
                const char *u = (const char *) cp_stmt_text(st, 0);
                if (u && !json_object_get(live, u))
                        json_array_append_new(gone, json_string(u));
        }
        size_t i;
        json_t *u;
        json_array_foreach(gone, i, u) {
                for (size_t t = 0; r >= 0 && t < CP_ELEMENTSOF(tables); t++) {
                        char sql[96];
                        _cleanup_stmt_ cp_stmt *del = NULL;
                        snprintf(sql, sizeof sql, "DELETE FROM %s WHERE cluster=?", tables[t]);
                        if ((r = cp_store_prepare(s, sql, &del)) >= 0) {
                                cp_stmt_bind_text(del, 1, json_string_value(u));
                                r = cp_store_step(s, del);
                        }
                }
                if (r >= 0)
                        fprintf(stderr, "confpoold: k8s: removed the objects of deleted cluster %.64s\n",
                                json_string_value(u));
        }
        json_decref(gone);
        return r < 0 ? r : 0;
}

int k8s_gc(cp_store *s, int64_t now, int64_t keep, int64_t event_ttl) {
        json_t *clusters = NULL, *live = json_object(), *cl;
        int r = live ? cp_res_list(s, "cluster", NULL, NULL, NULL, &clusters) : cp_error_oom();
        size_t i;
        json_array_foreach(clusters, i, cl) {
                const char *u = json_string_value(json_object_get(json_object_get(cl, "properties"), "resourceUID"));
                if (u)
                        json_object_set_new(live, u, json_true());
                if (u && r >= 0)
                        r = expire_events(s, u, now, event_ttl);
        }
        if (r >= 0)
                r = remove_deleted(s, live);
        if (r >= 0)
                r = compact(s, keep);
        json_decref(clusters);
        json_decref(live);
        return r;
}

bool k8s_gc_due(void) {
        static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
        static time_t last;
        time_t now = time(NULL);
        pthread_mutex_lock(&lock);
        bool due = now - last >= K8S_GC_PERIOD_S;
        if (due)
                last = now;
        pthread_mutex_unlock(&lock);
        return due;
}

int cp_k8s_gc_tick(cp_store *s) {
        if (!k8s_gc_due())
                return 0;
        int r = cp_store_begin(s);
        if (r < 0)
                return r;
        if ((r = k8s_gc(s, time(NULL), K8S_LOG_KEEP, K8S_EVENT_TTL_S)) < 0) {
                cp_store_rollback(s);
                return r;
        }
        return cp_store_commit(s);
}
