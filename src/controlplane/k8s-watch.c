/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Watches (?watch=1[&resourceVersion=N][&timeoutSeconds=S]): a chunked
 * stream of {"type":"ADDED|MODIFIED|DELETED","object":...} lines, one per
 * change logged after resourceVersion N (k8s_log, monotonic), filtered by
 * the label and field selectors; without N (or N = 0) the current objects
 * come first as ADDED.  The server's stream thread looks for changes every
 * CP_HTTPD_STREAM_POLL_MS; the cluster's Nodes are synced with its
 * machines at most every 500 ms per watch.  A watch ends after
 * timeoutSeconds (default and at most 1800 s), as kube-apiserver ends
 * watches, and when confpoold stops.  A watch that falls behind the change
 * log's compaction (k8s-gc.c) while streaming gets an ERROR event with a
 * 410 Expired Status and ends, as kube-apiserver's watch cache does: the
 * client relists instead of missing changes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "controlplane/k8s-internal.h"

typedef struct watch {
        cp_api *api;
        json_t *cluster;
        char uid[64], kind[16], ns[64];
        bool any_ns, table;
        cp_k8s_selector labels, fields;
        char include[16];
        int64_t since, deadline_ms, last_sync_ms;
        bool expired; /* the ERROR event is buffered: end after it */
        char *buf;
        size_t len, off, cap;
} watch;

static int64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One event line (text + '\n') onto the buffer. */
static int buf_add(watch *w, const char *text) {
        size_t n = strlen(text);
        if (w->len + n + 1 > w->cap) {
                size_t nc = (w->len + n + 1) * 2;
                char *b = realloc(w->buf, nc);
                if (!b)
                        return cp_error_oom();
                w->buf = b;
                w->cap = nc;
        }
        memcpy(w->buf + w->len, text, n);
        w->buf[w->len + n] = '\n';
        w->len += n + 1;
        return 0;
}

static int append(watch *w, const char *type, json_t *obj) {
        const char *unsupported;
        if (!cp_k8s_labels_match(&w->labels, json_object_get(json_object_get(obj, "metadata"), "labels")) ||
            !cp_k8s_fields_match(&w->fields, w->kind, obj, &unsupported))
                return 0;
        json_t *o = obj;
        if (w->table) {
                json_t *a = json_pack("[O]", obj);
                o = cp_k8s_table(w->kind, a, time(NULL), w->include,
                                 json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion")));
                json_decref(a);
        }
        json_t *ev = o ? json_pack("{s:s,s:O}", "type", type, "object", o) : NULL;
        if (w->table)
                json_decref(o);
        char *text = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
        json_decref(ev);
        if (!text)
                return cp_error_oom();
        int r = buf_add(w, text);
        free(text);
        return r;
}

static int on_log(void *ud, int64_t rv, const char *type, json_t *obj) {
        watch *w = ud;
        w->since = rv;
        return append(w, type, obj);
}

/* New changes into the buffer (one store transaction). */
static int poll_changes(watch *w) {
        int r = cp_store_begin(w->api->store);
        if (r < 0)
                return r;
        if (now_ms() - w->last_sync_ms >= 500) {
                w->last_sync_ms = now_ms();
                r = k8s_sync(w->api, w->cluster);
        }
        int64_t compacted = r >= 0 ? k8s_compacted_rv(w->api->store) : 0;
        if (r >= 0 && w->since < compacted) {
                /* changes after w->since are gone: Expired, not a silent gap */
                char msg[128];
                snprintf(msg, sizeof msg, "too old resource version: %lld (%lld)", (long long) w->since,
                         (long long) compacted + 1);
                json_t *st = k8s_status_object(410, "Expired", NULL, NULL, msg);
                json_t *ev = st ? json_pack("{s:s,s:o}", "type", "ERROR", "object", st) : NULL;
                char *text = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
                json_decref(ev);
                r = text ? buf_add(w, text) : cp_error_oom();
                free(text);
                w->expired = true;
        } else if (r >= 0)
                r = k8s_log_since(w->api->store, w->uid, w->kind, w->any_ns ? NULL : w->ns, w->since, 100, on_log, w);
        if (r < 0) {
                cp_store_rollback(w->api->store);
                return r;
        }
        return cp_store_commit(w->api->store);
}

static long watch_read(void *ud, uint8_t *out, size_t max, bool stopping) {
        watch *w = ud;
        if (stopping)
                return -1;
        if (w->off == w->len) {
                w->off = w->len = 0;
                if (w->expired || now_ms() >= w->deadline_ms)
                        return -1;
                if (poll_changes(w) < 0) {
                        cp_error_clear();
                        return -1;
                }
        }
        size_t n = w->len - w->off < max ? w->len - w->off : max;
        if (n == 0)
                return 0; /* nothing yet (no buffer at all before the first event) */
        memcpy(out, w->buf + w->off, n);
        w->off += n;
        return (long) n;
}

static void watch_free(void *ud) {
        watch *w = ud;
        json_decref(w->cluster);
        free(w->buf);
        free(w);
}

/* The current objects as ADDED events (the caller holds the transaction). */
static int initial(k8s_ctx *c, watch *w) {
        json_t *items = NULL;
        int64_t rv = 0;
        int r = !strcmp(w->kind, "Namespace") ? ((items = k8s_namespaces(c->cluster)) ? 0 : cp_error_oom())
                : !strcmp(w->kind, "Pod")     ? ((items = json_array()) ? 0 : cp_error_oom())
                                              : k8s_obj_list(c->api->store, w->uid, w->kind,
                                                             w->any_ns ? NULL : w->ns, &items, &rv);
        size_t i;
        json_t *o;
        json_array_foreach(items, i, o) {
                if (r >= 0)
                        r = append(w, "ADDED", o);
        }
        json_decref(items);
        if (rv)
                w->since = rv;
        return r;
}

void k8s_watch(k8s_ctx *c, const char *kind, const char *ns, const cp_k8s_selector *labels,
               const cp_k8s_selector *fields, bool table) {
        watch *w = calloc(1, sizeof *w);
        if (!w) {
                k8s_status(c, 503, "ServiceUnavailable", NULL, NULL, "out of memory");
                return;
        }
        const char *rv = cp_http_req_query(c->req, "resourceVersion");
        const char *to = cp_http_req_query(c->req, "timeoutSeconds");
        const char *inc = cp_http_req_query(c->req, "includeObject");
        long timeout = to ? strtol(to, NULL, 10) : 1800;
        *w = (watch){.api = c->api, .cluster = json_incref(c->cluster), .table = table, .labels = *labels,
                     .fields = *fields, .any_ns = ns == NULL, .last_sync_ms = now_ms()};
        snprintf(w->uid, sizeof w->uid, "%s", c->uid);
        snprintf(w->kind, sizeof w->kind, "%s", kind);
        snprintf(w->ns, sizeof w->ns, "%s", ns ? ns : "");
        snprintf(w->include, sizeof w->include, "%s", inc ? inc : "");
        w->deadline_ms = now_ms() + (timeout > 0 && timeout < 1800 ? timeout : 1800) * 1000;
        char *end = NULL;
        long long since = rv && *rv ? strtoll(rv, &end, 10) : 0;
        if (rv && *rv && (!end || *end || since < 0)) {
                watch_free(w);
                k8s_status(c, 400, "BadRequest", NULL, NULL, "invalid resourceVersion: %.32s", rv);
                return;
        }
        int64_t compacted = k8s_compacted_rv(c->api->store);
        if (since > 0 && since < compacted) { /* its changes are gone: relist (kube-apiserver after compaction) */
                watch_free(w);
                k8s_status(c, 410, "Expired", NULL, NULL, "too old resource version: %lld (%lld)", since,
                           (long long) compacted + 1);
                return;
        }
        w->since = since;
        if (since == 0 && initial(c, w) < 0) {
                cp_error_clear();
                watch_free(w);
                k8s_status(c, 500, "InternalError", NULL, NULL, "the store could not be read");
                return;
        }
        if (since == 0 && w->since < compacted) /* a list of a kind with no logged change: from now */
                w->since = compacted;
        cp_http_resp_clear(c->resp);
        c->resp->status = 200;
        snprintf(c->resp->content_type, sizeof c->resp->content_type, "application/json");
        c->resp->stream = watch_read;
        c->resp->stream_ud = w;
        c->resp->stream_free = watch_free;
}
