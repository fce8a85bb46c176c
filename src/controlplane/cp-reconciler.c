/* SPDX-License-Identifier: Apache-2.0 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "basic/cleanup.h"
#include "controlplane/cp-nodes.h"
#include "controlplane/cp-reconciler.h"
#include "controlplane/cp-store.h"

struct cp_reconciler {
        cp_store *store;
        const cp_rules *rules;
        cp_backend *backend;
        pthread_t thread;
        bool running;
        bool stop;
        unsigned interval_ms;
        pthread_mutex_t lock;
        pthread_cond_t cond;
};

enum { STEP_PENDING = 0, STEP_DONE = 1 };

static json_t *props_of(json_t *r) {
        return json_object_get(r, "properties");
}

static const char *pstr(json_t *r, const char *k) {
        return json_string_value(json_object_get(props_of(r), k));
}

static int set_state(cp_store *s, const char *id, json_t *doc, const char *state, const char *code, const char *msg) {
        json_t *p = props_of(doc);
        json_object_set_new(p, "provisioningState", json_string(state));
        if (code)
                json_object_set_new(p, "status",
                                    json_pack("{s:{s:s,s:s}}", "provisioningError", "code", code, "message", msg));
        else
                json_object_del(p, "status");
        return cp_res_update(s, id, doc, NULL);
}

static int fail_op(cp_reconciler *rc, const cp_op *op, json_t *doc, const char *code, const char *msg) {
        int r = 0;
        if (doc)
                r = set_state(rc->store, op->resource, doc, "Failed", code, msg);
        if (r >= 0)
                r = cp_op_finish(rc->store, op->id, "Failed", code, msg);
        return r < 0 ? r : STEP_DONE;
}

/* Pool names of nodes: aks-<pool>-<8 hex of the pool id>-vmss<6 digits>. */
static void machine_name(const char *pool_id, const char *pool, int idx, char *out, size_t size) {
        unsigned h = 2166136261u;
        for (const char *p = pool_id; *p; p++)
                h = (h ^ (unsigned char) (*p >= 'A' && *p <= 'Z' ? *p + 32 : *p)) * 16777619u;
        snprintf(out, size, "aks-%s-%08u-vmss%06d", pool, h % 100000000u, idx);
}

static int reconcile_pool(cp_reconciler *rc, const cp_op *op) {
        json_t *doc = NULL;
        int r = cp_res_get(rc->store, op->resource, &doc, NULL);
        if (r == CP_ENOTFOUND) {
                cp_error_clear();
                r = cp_op_finish(rc->store, op->id, "Failed", "ResourceNotFound", "The agent pool no longer exists.");
                return r < 0 ? r : STEP_DONE;
        }
        if (r < 0)
                return r;
        json_t *p = props_of(doc);
        const char *name = json_string_value(json_object_get(doc, "name"));
        const char *image = pstr(doc, "nodeImageVersion"), *size = pstr(doc, "vmSize");
        const char *power = json_string_value(json_object_get(json_object_get(p, "powerState"), "code"));
        bool del = strcmp(op->action, "delete") == 0;
        long goal = del || (power && strcmp(power, "Stopped") == 0) ? 0 : (long) json_integer_value(json_object_get(p, "count"));
        const cp_vm_size *sz = cp_rules_find_size(rc->rules, size);
        cp_machine *ms = NULL;
        size_t n = 0;
        r = cp_machine_list(rc->store, op->resource, &ms, &n);
        if (r < 0)
                goto out;

        /* 1. deletions: requested, wrong image (reimage = replace), beyond the goal */
        long live = 0;
        int next_idx = 0;
        for (size_t i = 0; i < n; i++) {
                next_idx = ms[i].index + 1 > next_idx ? ms[i].index + 1 : next_idx;
                bool drop = ms[i].delete_requested || strcmp(ms[i].image, image ? image : "") != 0;
                if (!drop && live >= goal)
                        drop = true;
                if (!drop) {
                        live++;
                        continue;
                }
                if (ms[i].handle[0] && (r = rc->backend->ops->delete_node(rc->backend, ms[i].handle)) < 0)
                        goto out;
                if ((r = cp_machine_delete(rc->store, op->resource, ms[i].name)) < 0)
                        goto out;
                ms[i].name[0] = 0;
        }
        /* 2. creations: the row first, then the backend (idempotent by name) */
        char now[40];
        cp_now_rfc3339(now);
        for (; live < goal; live++, next_idx++) {
                cp_machine m = {0};
                snprintf(m.pool, sizeof m.pool, "%s", op->resource);
                machine_name(op->resource, name, next_idx, m.name, sizeof m.name);
                m.index = next_idx;
                snprintf(m.state, sizeof m.state, "Pending");
                snprintf(m.image, sizeof m.image, "%s", image ? image : "");
                snprintf(m.created, sizeof m.created, "%s", now);
                cp_node_spec spec = {.pool_id = op->resource, .name = m.name, .vm_size = size, .image = image,
                                     .confidential = sz && sz->tee != CP_TEE_NONE};
                if ((r = rc->backend->ops->create_node(rc->backend, &spec, m.handle, sizeof m.handle)) < 0)
                        goto out;
                snprintf(m.state, sizeof m.state, "Provisioning");
                if ((r = cp_machine_put(rc->store, &m)) < 0)
                        goto out;
        }
        /* 3. poll the nodes */
        free(ms);
        ms = NULL;
        r = cp_machine_list(rc->store, op->resource, &ms, &n);
        if (r < 0)
                goto out;
        size_t ready = 0;
        for (size_t i = 0; i < n; i++) {
                cp_machine *m = &ms[i];
                if (strcmp(m->state, "Ready") == 0) {
                        ready++;
                        continue;
                }
                /* refused by attestation (cp-nodes.c): the recorded reason */
                cp_node_info ni;
                if ((strcmp(m->state, "Failed") == 0 || strcmp(m->state, "Quarantined") == 0) &&
                    cp_nodes_info(rc->store, m->pool, m->name, &ni) >= 0 && ni.reason[0]) {
                        char msg[800];
                        snprintf(msg, sizeof msg, "Node %s of agent pool %s failed attestation: %s", m->name, name,
                                 ni.reason);
                        r = fail_op(rc, op, doc, "NodeAttestationFailed", msg);
                        goto out;
                }
                cp_error_clear();
                cp_node_state st;
                char ip[48] = "", err[256] = "";
                if ((r = rc->backend->ops->node_status(rc->backend, m->handle, &st, ip, sizeof ip, err, sizeof err)) < 0)
                        goto out;
                const char *ns = st == CP_NODE_GONE ? "Failed" : cp_node_state_name(st);
                if (strcmp(ns, m->state) != 0 || strcmp(ip, m->ip) != 0) {
                        snprintf(m->state, sizeof m->state, "%s", ns);
                        snprintf(m->ip, sizeof m->ip, "%s", ip);
                        if ((r = cp_machine_put(rc->store, m)) < 0)
                                goto out;
                }
                if (st == CP_NODE_READY)
                        ready++;
                else if (st == CP_NODE_FAILED || st == CP_NODE_GONE) {
                        char msg[512];
                        snprintf(msg, sizeof msg, "Node %s of agent pool %s failed to provision: %s", m->name, name, err);
                        r = fail_op(rc, op, doc, "NodeProvisioningFailed", msg);
                        goto out;
                }
        }
        if ((long) n != goal || (long) ready != goal) {
                r = STEP_PENDING;
                goto out;
        }
        if (del) {
                if ((r = cp_machine_delete(rc->store, op->resource, NULL)) < 0 ||
                    (r = cp_res_delete(rc->store, op->resource)) < 0)
                        goto out;
        } else if ((r = set_state(rc->store, op->resource, doc, "Succeeded", NULL, NULL)) < 0)
                goto out;
        r = cp_op_finish(rc->store, op->id, "Succeeded", NULL, NULL);
        if (r >= 0)
                r = STEP_DONE;
out:
        free(ms);
        json_decref(doc);
        return r;
}

/* Cluster and resource-group operations follow their children. */
static int reconcile_parent(cp_reconciler *rc, const cp_op *op) {
        json_t *doc = NULL, *kids = NULL;
        int r = cp_res_get(rc->store, op->resource, &doc, NULL);
        if (r == CP_ENOTFOUND) {
                cp_error_clear();
                r = cp_op_finish(rc->store, op->id, strcmp(op->action, "delete") == 0 ? "Succeeded" : "Failed",
                                 "ResourceNotFound", "The resource no longer exists.");
                return r < 0 ? r : STEP_DONE;
        }
        if (r < 0)
                return r;
        bool rg = strcmp(op->kind, "rg") == 0;
        r = cp_res_list(rc->store, rg ? "cluster" : "pool", NULL, NULL, op->resource, &kids);
        if (r < 0)
                goto out;
        if (strcmp(op->action, "delete") == 0) {
                if (json_array_size(kids) > 0) {
                        r = STEP_PENDING;
                        goto out;
                }
                if ((r = cp_res_delete(rc->store, op->resource)) < 0)
                        goto out;
                r = cp_op_finish(rc->store, op->id, "Succeeded", NULL, NULL);
                r = r < 0 ? r : STEP_DONE;
                goto out;
        }
        /* create/update: done when no child is still working */
        size_t i;
        json_t *k;
        const char *failed = NULL;
        json_array_foreach(kids, i, k) {
                const char *ps = pstr(k, "provisioningState");
                if (ps && strcmp(ps, "Failed") == 0)
                        failed = json_string_value(json_object_get(k, "name"));
                else if (!ps || (strcmp(ps, "Succeeded") != 0 && strcmp(ps, "Canceled") != 0)) {
                        r = STEP_PENDING;
                        goto out;
                }
        }
        if (failed) {
                char msg[300];
                snprintf(msg, sizeof msg, "Agent pool '%s' failed to reach its goal state.", failed);
                r = fail_op(rc, op, doc, "AgentPoolProvisioningFailed", msg);
                goto out;
        }
        if ((r = set_state(rc->store, op->resource, doc, "Succeeded", NULL, NULL)) < 0)
                goto out;
        r = cp_op_finish(rc->store, op->id, "Succeeded", NULL, NULL);
        r = r < 0 ? r : STEP_DONE;
out:
        json_decref(kids);
        json_decref(doc);
        return r;
}

int cp_reconciler_run_once(cp_reconciler *rc, size_t *ret_active) {
        cp_op *ops = NULL;
        size_t n = 0, active = 0;
        cp_store_lock(rc->store);
        int r = cp_op_list_active(rc->store, &ops, &n);
        cp_store_unlock(rc->store);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                r = cp_store_begin(rc->store);
                if (r < 0)
                        break;
                /* re-check under the transaction: the API may have finished or canceled it */
                cp_op cur;
                r = cp_op_get(rc->store, ops[i].id, &cur);
                if (r >= 0 && strcmp(cur.status, "InProgress") == 0)
                        r = strcmp(cur.kind, "pool") == 0 ? reconcile_pool(rc, &cur) : reconcile_parent(rc, &cur);
                else if (r >= 0)
                        r = STEP_DONE;
                if (r < 0) {
                        cp_store_rollback(rc->store);
                        break;
                }
                active += r == STEP_PENDING;
                r = cp_store_commit(rc->store);
                if (r < 0)
                        break;
        }
        free(ops);
        if (r < 0)
                return r;
        if (ret_active)
                *ret_active = active;
        return 0;
}

static void *thread_main(void *userdata) {
        cp_reconciler *rc = userdata;
        pthread_mutex_lock(&rc->lock);
        while (!rc->stop) {
                pthread_mutex_unlock(&rc->lock);
                size_t active;
                if (cp_reconciler_run_once(rc, &active) < 0) {
                        fprintf(stderr, "confpoold: reconciler: %s\n", cp_error_message());
                        cp_error_clear();
                }
                pthread_mutex_lock(&rc->lock);
                if (rc->stop)
                        break;
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_nsec += (long) rc->interval_ms * 1000000L;
                ts.tv_sec += ts.tv_nsec / 1000000000L;
                ts.tv_nsec %= 1000000000L;
                pthread_cond_timedwait(&rc->cond, &rc->lock, &ts);
        }
        pthread_mutex_unlock(&rc->lock);
        return NULL;
}

int cp_reconciler_new(cp_store *s, const cp_rules *rules, cp_backend *backend, cp_reconciler **ret) {
        cp_reconciler *rc = calloc(1, sizeof *rc);
        if (!rc)
                return cp_error_oom();
        rc->store = s;
        rc->rules = rules;
        rc->backend = backend;
        pthread_mutex_init(&rc->lock, NULL);
        pthread_cond_init(&rc->cond, NULL);
        *ret = rc;
        return 0;
}

int cp_reconciler_start(cp_reconciler *rc, unsigned interval_ms) {
        rc->interval_ms = interval_ms ? interval_ms : 100;
        if (pthread_create(&rc->thread, NULL, thread_main, rc) != 0)
                return CP_ERROR(CP_EINTERNAL, "cannot start the reconciler thread");
        rc->running = true;
        return 0;
}

cp_reconciler *cp_reconciler_free(cp_reconciler *rc) {
        if (!rc)
                return NULL;
        if (rc->running) {
                pthread_mutex_lock(&rc->lock);
                rc->stop = true;
                pthread_cond_signal(&rc->cond);
                pthread_mutex_unlock(&rc->lock);
                pthread_join(rc->thread, NULL);
        }
        pthread_mutex_destroy(&rc->lock);
        pthread_cond_destroy(&rc->cond);
        free(rc);
        return NULL;
}
