/* SPDX-License-Identifier: Apache-2.0 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "basic/clock.h"
#include "basic/cleanup.h"
#include "basic/limits.h"
#include "basic/secure.h"
#include "controlplane/cp-nodes.h"
#include "controlplane/cp-reconciler.h"
#include "controlplane/k8s.h"
#include "controlplane/cp-store.h"

struct cp_reconciler {
        cp_store *store;
        const cp_rules *rules;
        cp_backend *backend;
        pthread_t thread;
        bool running;
        bool stop;
        unsigned interval_ms;
        unsigned heartbeat_deadline_ms; /* 0: no health pass */
        int64_t started_at;             /* Unix s: heartbeats are counted from here at the earliest */
        cp_diskkeys *diskkeys;          /* NULL: no broker */
        cp_nodes *nodes;                /* NULL: none; else its batched heartbeat times are
                                         * written before each health pass */
        uint8_t name_key[32];           /* this installation's machine-name key (store table name_key) */
        cp_lease *lease;                /* replicas: run only as the leader, every write fenced; NULL: alone */
        uint64_t ready_term;            /* replicas: the term whose backend recovery is done (0: none) */
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

/* The installation's machine-name key: created once (random, committed on
 * its own before any name uses it, so a kill -9 mid-create cannot change
 * the names of machines the backend already started), then read. */
static int load_name_key(cp_store *s, uint8_t key[32]) {
        uint8_t fresh[32];
        _cleanup_stmt_ cp_stmt *ins = NULL, *sel = NULL;
        if (RAND_bytes(fresh, sizeof fresh) != 1)
                return CP_ERROR(CP_ECRYPTO, "random machine-name key");
        /* a write transaction: replicas starting at once create it once */
        int r = cp_store_begin(s);
        if (r < 0)
                return r;
        r = cp_store_exec(s, cp_store_dialect_of(s) == CP_STORE_PG
                                     ? "CREATE TABLE IF NOT EXISTS name_key (id INTEGER PRIMARY KEY CHECK (id = 1), "
                                       "key BYTEA NOT NULL)"
                                     : "CREATE TABLE IF NOT EXISTS name_key (id INTEGER PRIMARY KEY CHECK (id = 1), "
                                       "key BLOB NOT NULL)");
        if (r >= 0 && (r = cp_store_prepare(s, "INSERT INTO name_key(id, key) VALUES (1, ?) ON CONFLICT (id) DO NOTHING",
                                            &ins)) >= 0) {
                cp_stmt_bind_blob(ins, 1, fresh, sizeof fresh);
                r = cp_store_step(s, ins);
        }
        if (r >= 0 && (r = cp_store_prepare(s, "SELECT key FROM name_key WHERE id = 1", &sel)) >= 0 &&
            (r = cp_store_step(s, sel)) >= 0) {
                if (r == 1 && cp_stmt_bytes(sel, 0) == 32)
                        memcpy(key, cp_stmt_blob(sel, 0), 32);
                else
                        r = CP_ERROR(CP_EFORMAT, "the stored machine-name key is malformed");
        }
        if (r < 0)
                cp_store_rollback(s);
        else
                r = cp_store_commit(s);
        cp_wipe(fresh, sizeof fresh);
        return r < 0 ? r : 0;
}

int cp_max_surge(const char *spec, long count, long *ret) {
        const char *s = spec ? spec : "10%";
        size_t len = strlen(s), digits = strspn(s, "0123456789");
        bool pct = digits + 1 == len && s[digits] == '%';
        if (digits == 0 || digits > 4 || (digits != len && !pct))
                return CP_ERROR(CP_EINVAL, "maxSurge '%.40s' must be a whole number of nodes or a percentage (e.g. "
                                           "\"1\" or \"33%%\")", s);
        long v = strtol(s, NULL, 10);
        if (v < 1)
                return CP_ERROR(CP_EINVAL, "maxSurge '%.40s' must be at least 1 (maxUnavailable is not supported)", s);
        if (pct && v > 100)
                return CP_ERROR(CP_EINVAL, "maxSurge '%.40s' must not exceed 100%%", s);
        if (!pct && v > (long) CP_MAX_SURGE_NODES)
                return CP_ERROR(CP_EINVAL, "maxSurge '%.40s' must not exceed %u nodes", s, CP_MAX_SURGE_NODES);
        long n = pct ? (count * v + 99) / 100 : v;
        *ret = n < 1 ? 1 : n;
        return 0;
}

void cp_reconciler_set_diskkeys(cp_reconciler *rc, cp_diskkeys *diskkeys) {
        pthread_mutex_lock(&rc->lock);
        rc->diskkeys = diskkeys;
        pthread_mutex_unlock(&rc->lock);
}

static cp_diskkeys *diskkeys_of(cp_reconciler *rc) {
        pthread_mutex_lock(&rc->lock);
        cp_diskkeys *d = rc->diskkeys;
        pthread_mutex_unlock(&rc->lock);
        return d;
}

static bool state_is(const cp_machine *m, const char *s) {
        return strcmp(m->state, s) == 0;
}

/* The accepted set (cp-nodes.h "pool policy") while the pool works: the
 * target image's measurement, and the images its other machines still run
 * as "previous".  Only what is missing is computed. */
static int policy_track(cp_reconciler *rc, const char *pool_id, const char *size, const char *target,
                        const cp_machine *ms, size_t n) {
        cp_pool_measurement *rows = NULL;
        size_t nr = 0;
        int r = cp_nodes_policy_list(rc->store, pool_id, &rows, &nr);
        for (size_t i = 0; r >= 0 && i <= n; i++) {
                const char *img = i < n ? ms[i].image : target;
                bool previous = strcmp(img, target) != 0;
                bool dup = false;
                for (size_t j = 0; j < i && j < n && !dup; j++)
                        dup = strcmp(ms[j].image, img) == 0;
                const cp_pool_measurement *have = NULL;
                for (size_t j = 0; j < nr && !have; j++)
                        if (strcmp(rows[j].image, img) == 0)
                                have = &rows[j];
                if (dup || !img[0] || (have && have->previous == previous))
                        continue;
                uint8_t m[48];
                if (have)
                        memcpy(m, have->measurement, 48);
                else {
                        cp_node_spec spec = {.pool_id = pool_id, .name = "policy", .vm_size = size, .image = img,
                                             .confidential = true};
                        r = rc->backend->ops->expected_measurement(rc->backend, &spec, m);
                }
                if (r >= 0)
                        r = cp_nodes_policy_put(rc->store, pool_id, img, m, previous);
        }
        free(rows);
        return r;
}

/* The roll is complete (or the pool gone): measurements of other images
 * than keep (NULL: all) are no longer accepted and their pool master keys
 * are retired in the broker (a broker error: the step is retried). */
static int policy_settle(cp_reconciler *rc, const char *pool_id, const char *keep) {
        cp_pool_measurement *rows = NULL;
        size_t nr = 0;
        int r = cp_nodes_policy_list(rc->store, pool_id, &rows, &nr);
        const cp_pool_measurement *kept = NULL;
        for (size_t i = 0; r >= 0 && i < nr; i++)
                if (keep && strcmp(rows[i].image, keep) == 0)
                        kept = &rows[i];
        cp_diskkeys *dk = diskkeys_of(rc);
        for (size_t i = 0; r >= 0 && i < nr; i++) {
                if (&rows[i] == kept)
                        continue;
                if (dk && !(kept && cp_ct_eq(kept->measurement, rows[i].measurement, 48)))
                        r = cp_diskkeys_retire(dk, pool_id, rows[i].measurement);
                if (r >= 0)
                        r = cp_nodes_policy_remove(rc->store, pool_id, rows[i].image);
        }
        free(rows);
        return r;
}

/* One pass over a pool: what the pool asks for and its machines' rows. */
typedef struct pool_pass {
        const cp_op *op;
        json_t *doc;
        const char *name, *image, *size, *target;
        const char *version; /* the Kubernetes version machines are built with ("" unknown: any) */
        bool del, attested;
        long goal, surge;
        const cp_vm_size *sz;
        cp_machine *ms;
        size_t n;
        long n_new, old_alive; /* after the deletions: machines on the target image, old ones still alive */
        int next_idx;
        bool stopped; /* powerState Stopped: machines deallocated, kept */
} pool_pass;

/* The goal (0 when deleting or stopped) and the roll's maxSurge. */
static void pool_goal(cp_reconciler *rc, pool_pass *pp) {
        json_t *p = props_of(pp->doc);
        const char *power = json_string_value(json_object_get(json_object_get(p, "powerState"), "code"));
        pp->name = json_string_value(json_object_get(pp->doc, "name"));
        pp->image = pstr(pp->doc, "nodeImageVersion");
        pp->size = pstr(pp->doc, "vmSize");
        pp->target = pp->image ? pp->image : "";
        pp->version = pstr(pp->doc, "currentOrchestratorVersion") ? pstr(pp->doc, "currentOrchestratorVersion") : "";
        pp->del = strcmp(pp->op->action, "delete") == 0;
        pp->attested = rc->backend->ops->expected_measurement != NULL;
        pp->stopped = !pp->del && power && strcmp(power, "Stopped") == 0;
        pp->goal = pp->del ? 0 : (long) json_integer_value(json_object_get(p, "count"));
        pp->sz = cp_rules_find_size(rc->rules, pp->size);
        pp->surge = 1;
        if (pp->goal > 0 &&
            cp_max_surge(json_string_value(json_object_get(json_object_get(p, "upgradeSettings"), "maxSurge")),
                         pp->goal, &pp->surge) < 0) {
                cp_error_clear(); /* stored before maxSurge was validated: AKS's default */
                if (cp_max_surge(NULL, pp->goal, &pp->surge) < 0)
                        pp->surge = 1;
        }
}

/* A machine the pool keeps: on the pool's node image and built with its
 * Kubernetes version (docs/control-plane.md "Rolling upgrades"); any other
 * is replaced by the roll. */
static bool is_current(const pool_pass *pp, const cp_machine *m) {
        return strcmp(m->image, pp->target) == 0 && (!pp->version[0] || strcmp(m->version, pp->version) == 0);
}

/* 1. deletions: requested, beyond the goal; during a roll an old machine
 * only when a Ready new one has taken its place (failed or quarantined old
 * machines at once: they are no capacity) */
static int pool_deletions(cp_reconciler *rc, pool_pass *pp) {
        cp_machine *ms = pp->ms;
        size_t n = pp->n;
        bool *drop = calloc(n ? n : 1, sizeof *drop);
        if (!drop)
                return cp_error_oom();
        long n_new = 0, new_ready = 0, old_alive = 0;
        int next_idx = 0, r = 0;
        for (size_t i = 0; i < n; i++) {
                next_idx = ms[i].index + 1 > next_idx ? ms[i].index + 1 : next_idx;
                if (ms[i].delete_requested || pp->goal == 0)
                        drop[i] = true;
                else if (is_current(pp, &ms[i])) {
                        if (n_new >= pp->goal)
                                drop[i] = true;
                        else {
                                n_new++;
                                new_ready += state_is(&ms[i], "Ready");
                        }
                } else if (state_is(&ms[i], "Failed") || state_is(&ms[i], "Quarantined"))
                        drop[i] = true;
                else
                        old_alive++;
        }
        long old_drop = new_ready + old_alive - pp->goal;
        old_drop = old_drop < 0 ? 0 : old_drop > old_alive ? old_alive : old_drop;
        for (int pass = 0; pass < 2 && old_drop > 0; pass++)
                for (size_t i = 0; i < n && old_drop > 0; i++) {
                        if (drop[i] || is_current(pp, &ms[i]) || state_is(&ms[i], "Ready") != (pass == 1))
                                continue;
                        drop[i] = true; /* not-Ready old machines first */
                        old_drop--;
                        old_alive--;
                }
        for (size_t i = 0; i < n && r >= 0; i++) {
                if (!drop[i])
                        continue;
                if (ms[i].handle[0] && (r = rc->backend->ops->delete_node(rc->backend, ms[i].handle)) < 0)
                        break;
                if ((r = cp_machine_delete(rc->store, pp->op->resource, ms[i].name)) < 0)
                        break;
                ms[i].name[0] = 0;
        }
        free(drop);
        pp->n_new = n_new;
        pp->old_alive = old_alive;
        pp->next_idx = next_idx;
        return r < 0 ? r : 0;
}

/* Machine names: aks-<pool>-<8 digits>-vmss<6 digits>.  The 8 digits are
 * HMAC-SHA256(this installation's name key, lowercased pool id) mod 1e8:
 * another tenant cannot compute them (they were FNV-1a of the pool id, found
 * colliding by brute force: issue 13 item 1).  A pool keeps the digits of
 * its existing machines (pools named before the key keep theirs); identity
 * is (pool id, name) everywhere anyway, so a collision touches nothing. */
static void machine_name(const cp_reconciler *rc, const pool_pass *pp, int idx, char *out, size_t size) {
        char digits[9] = "", prefix[256];
        int pl = snprintf(prefix, sizeof prefix, "aks-%s-", pp->name);
        for (size_t i = 0; i < pp->n && !digits[0] && pl > 0 && (size_t) pl < sizeof prefix; i++) {
                const char *m = pp->ms[i].name;
                if (strncmp(m, prefix, (size_t) pl) == 0 && strspn(m + pl, "0123456789") == 8 &&
                    strncmp(m + pl + 8, "-vmss", 5) == 0)
                        memcpy(digits, m + pl, 8);
        }
        if (!digits[0]) {
                char lc[1024];
                uint8_t mac[32];
                unsigned ml = 0;
                cp_id_lower(pp->op->resource, lc, sizeof lc);
                HMAC(EVP_sha256(), rc->name_key, sizeof rc->name_key, (const uint8_t *) lc, strlen(lc), mac, &ml);
                uint64_t v = 0;
                for (int i = 0; i < 8; i++)
                        v = v << 8 | mac[i];
                snprintf(digits, sizeof digits, "%08u", (unsigned) (v % 100000000u));
        }
        snprintf(out, size, "aks-%s-%s-vmss%06d", pp->name, digits, idx);
}

/* 2. creations on the target image: the row first, then the backend
 * (idempotent by name); during a roll at most goal + maxSurge in all */
static int pool_creations(cp_reconciler *rc, pool_pass *pp) {
        long to_create = pp->goal - pp->n_new;
        if (pp->old_alive > 0 && to_create > pp->goal + pp->surge - (pp->n_new + pp->old_alive))
                to_create = pp->goal + pp->surge - (pp->n_new + pp->old_alive);
        char now[40];
        cp_now_rfc3339(now);
        for (long k = 0; k < to_create; k++, pp->next_idx++) {
                cp_machine m = {0};
                int r;
                snprintf(m.pool, sizeof m.pool, "%s", pp->op->resource);
                machine_name(rc, pp, pp->next_idx, m.name, sizeof m.name);
                m.index = pp->next_idx;
                snprintf(m.state, sizeof m.state, "Pending");
                snprintf(m.image, sizeof m.image, "%s", pp->target);
                snprintf(m.version, sizeof m.version, "%s", pp->version);
                snprintf(m.created, sizeof m.created, "%s", now);
                cp_node_spec spec = {.pool_id = pp->op->resource, .name = m.name, .vm_size = pp->size,
                                     .image = pp->image, .version = pp->version, .confidential = pp->sz && pp->sz->tee != CP_TEE_NONE};
                if ((r = rc->backend->ops->create_node(rc->backend, &spec, m.handle, sizeof m.handle)) < 0)
                        return r;
                snprintf(m.state, sizeof m.state, "Provisioning");
                if ((r = cp_machine_put(rc->store, &m)) < 0)
                        return r;
        }
        return 0;
}

/* What polling the pool's nodes found. */
typedef struct pool_poll {
        size_t ready, old;
        const cp_machine *bad; /* the first node that failed the operation */
        const char *code;
        char msg[1024];
} pool_poll;

/* 3. poll the nodes (the rows read again) */
static int pool_poll_nodes(cp_reconciler *rc, pool_pass *pp, pool_poll *ret) {
        free(pp->ms);
        pp->ms = NULL;
        int r = cp_machine_list(rc->store, pp->op->resource, &pp->ms, &pp->n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < pp->n && !ret->bad; i++) {
                cp_machine *m = &pp->ms[i];
                bool is_old = !is_current(pp, m);
                ret->old += is_old;
                if (state_is(m, "Ready")) {
                        ret->ready++;
                        continue;
                }
                /* refused by attestation (cp-nodes.c): the recorded reason; an
                 * old machine failing during a roll is dropped by the next pass */
                cp_node_info ni;
                if ((state_is(m, "Failed") || state_is(m, "Quarantined")) &&
                    cp_nodes_info(rc->store, m->pool, m->name, &ni) >= 0 && ni.reason[0]) {
                        if (is_old && pp->goal > 0)
                                continue;
                        snprintf(ret->msg, sizeof ret->msg, "Node %s of agent pool %s failed attestation: %.600s",
                                 m->name, pp->name, ni.reason);
                        ret->code = "NodeAttestationFailed";
                        ret->bad = m;
                        break;
                }
                cp_error_clear();
                cp_node_state st;
                char ip[48] = "", err[640] = "";
                if ((r = rc->backend->ops->node_status(rc->backend, m->handle, &st, ip, sizeof ip, err, sizeof err)) < 0)
                        return r;
                const char *ns = st == CP_NODE_GONE ? "Failed" : cp_node_state_name(st);
                if (strcmp(ns, m->state) != 0 || strcmp(ip, m->ip) != 0) {
                        snprintf(m->state, sizeof m->state, "%s", ns);
                        snprintf(m->ip, sizeof m->ip, "%s", ip);
                        if ((r = cp_machine_put(rc->store, m)) < 0)
                                return r;
                }
                if (st == CP_NODE_READY)
                        ret->ready++;
                else if ((st == CP_NODE_FAILED || st == CP_NODE_GONE) && !(is_old && pp->goal > 0)) {
                        snprintf(ret->msg, sizeof ret->msg, "Node %s of agent pool %s failed to provision: %s", m->name,
                                 pp->name, err);
                        ret->code = "NodeProvisioningFailed";
                        ret->bad = m;
                }
        }
        return 0;
}

/* A failed roll keeps the old machines (no capacity lost); its new
 * machines that are not Ready are stopped and erased now, their rows (with
 * the reason) go with the next operation.  Then the operation fails. */
static int pool_fail(cp_reconciler *rc, pool_pass *pp, const pool_poll *pl) {
        int r;
        for (size_t i = 0; i < pp->n && pl->old > 0; i++) {
                cp_machine *m = &pp->ms[i];
                if (!is_current(pp, m) || state_is(m, "Ready"))
                        continue;
                if (m->handle[0] && (r = rc->backend->ops->delete_node(rc->backend, m->handle)) < 0)
                        return r;
                m->handle[0] = 0;
                m->delete_requested = true;
                if (!state_is(m, "Quarantined"))
                        snprintf(m->state, sizeof m->state, "Failed");
                if ((r = cp_machine_put(rc->store, m)) < 0)
                        return r;
        }
        return fail_op(rc, pp->op, pp->doc, pl->code, pl->msg);
}

/* The goal reached: only the target image's measurement is accepted from
 * now on; a deleted pool goes, a kept one is Succeeded. */
static int pool_succeed(cp_reconciler *rc, pool_pass *pp) {
        const char *res = pp->op->resource;
        int r;
        if (pp->attested && (r = policy_settle(rc, res, pp->del ? NULL : pp->target)) < 0)
                return r;
        if (pp->del) {
                if ((r = cp_machine_delete(rc->store, res, NULL)) < 0 || (r = cp_res_delete(rc->store, res)) < 0)
                        return r;
        } else if ((r = set_state(rc->store, res, pp->doc, "Succeeded", NULL, NULL)) < 0)
                return r;
        r = cp_op_finish(rc->store, pp->op->id, "Succeeded", NULL, NULL);
        return r < 0 ? r : STEP_DONE;
}

/*
 * A pool toward its goal (docs/nodes.md "Node-image upgrade").  Machines
 * on another image than the pool's nodeImageVersion are replaced by a
 * rolling upgrade: at most goal + maxSurge machines at a time; an old one
 * is deleted only when a new one is Ready in its place; a new node that
 * fails fails the operation and the old nodes stay.  Every decision is
 * taken from the rows of this pass, so the step is re-entrant (restarts).
 */
/* powerState Stopped (az aks [nodepool] stop): every machine is stopped,
 * not deleted: its OS disk, disk key and vTPM stay for the start.  A
 * machine already marked for deletion goes as usual. */
static int pool_stop_pass(cp_reconciler *rc, pool_pass *pp) {
        int r = 0;
        for (size_t i = 0; i < pp->n && r >= 0; i++) {
                cp_machine *m = &pp->ms[i];
                if (m->delete_requested) {
                        if (m->handle[0] && (r = rc->backend->ops->delete_node(rc->backend, m->handle)) < 0)
                                break;
                        r = cp_machine_delete(rc->store, pp->op->resource, m->name);
                        continue;
                }
                if (state_is(m, "Stopped"))
                        continue;
                if (m->handle[0] && rc->backend->ops->stop_node &&
                    (r = rc->backend->ops->stop_node(rc->backend, m->handle)) < 0)
                        break;
                snprintf(m->state, sizeof m->state, "Stopped");
                r = cp_machine_put(rc->store, m);
        }
        return r < 0 ? r : pool_succeed(rc, pp);
}

/* powerState Running again (az aks [nodepool] start): the stopped machines
 * boot again on their kept disks; the pass then waits for them as for any
 * node (registration makes them Ready). */
static int pool_start_stopped(cp_reconciler *rc, pool_pass *pp) {
        int r = 0;
        for (size_t i = 0; i < pp->n && r >= 0; i++) {
                cp_machine *m = &pp->ms[i];
                if (!state_is(m, "Stopped"))
                        continue;
                if (m->handle[0] && rc->backend->ops->start_node &&
                    (r = rc->backend->ops->start_node(rc->backend, m->handle)) < 0)
                        break;
                snprintf(m->state, sizeof m->state, "Provisioning");
                r = cp_machine_put(rc->store, m);
        }
        return r;
}

/* a > b as Kubernetes versions (unparsable: false) */
static bool version_newer(const char *a, const char *b) {
        unsigned amaj, amin, bmaj, bmin;
        int apat, bpat;
        if (cp_k8s_parse(a, &amaj, &amin, &apat) < 0 || cp_k8s_parse(b, &bmaj, &bmin, &bpat) < 0) {
                cp_error_clear();
                return false;
        }
        return amaj != bmaj ? amaj > bmaj : amin != bmin ? amin > bmin : apat > bpat;
}

/* The control plane first (az aks upgrade): a pool whose version is newer
 * than its cluster's currentKubernetesVersion creates no machine until the
 * cluster's operation has upgraded the control plane (reconcile_parent). */
static bool waits_for_control_plane(cp_reconciler *rc, const pool_pass *pp) {
        const char *res = pp->op->resource, *a = strcasestr(res, "/agentPools/");
        if (pp->del || pp->stopped || !pp->version[0] || !a)
                return false;
        char cid[600];
        json_t *cluster = NULL;
        snprintf(cid, sizeof cid, "%.*s", (int) (a - res), res);
        if (cp_res_get(rc->store, cid, &cluster, NULL) < 0) {
                cp_error_clear();
                return false;
        }
        const char *cv = pstr(cluster, "currentKubernetesVersion");
        bool wait = cv && version_newer(pp->version, cv);
        json_decref(cluster);
        return wait;
}

static int reconcile_pool(cp_reconciler *rc, const cp_op *op) {
        pool_pass pp = {.op = op};
        int r = cp_res_get(rc->store, op->resource, &pp.doc, NULL);
        if (r == CP_ENOTFOUND) {
                cp_error_clear();
                r = cp_op_finish(rc->store, op->id, "Failed", "ResourceNotFound", "The agent pool no longer exists.");
                return r < 0 ? r : STEP_DONE;
        }
        if (r < 0)
                return r;
        pool_goal(rc, &pp);
        pool_poll pl = {0};
        r = cp_machine_list(rc->store, op->resource, &pp.ms, &pp.n);
        if (r >= 0 && pp.attested && !pp.del)
                r = policy_track(rc, op->resource, pp.size, pp.target, pp.ms, pp.n);
        if (r >= 0 && pp.stopped) {
                r = pool_stop_pass(rc, &pp);
                free(pp.ms);
                json_decref(pp.doc);
                return r;
        }
        if (r >= 0 && waits_for_control_plane(rc, &pp)) {
                free(pp.ms);
                json_decref(pp.doc);
                return STEP_PENDING;
        }
        if (r >= 0 && !pp.del)
                r = pool_start_stopped(rc, &pp);
        if (r >= 0)
                r = pool_deletions(rc, &pp);
        if (r >= 0)
                r = pool_creations(rc, &pp);
        if (r >= 0)
                r = pool_poll_nodes(rc, &pp, &pl);
        if (r >= 0 && pl.bad)
                r = pool_fail(rc, &pp, &pl);
        else if (r >= 0 && ((long) pp.n != pp.goal || (long) pl.ready != pp.goal || pl.old > 0))
                r = STEP_PENDING;
        else if (r >= 0)
                r = pool_succeed(rc, &pp);
        free(pp.ms);
        json_decref(pp.doc);
        return r;
}

/* A cluster's upgrade: its control plane first.  The PUT stored the
 * requested kubernetesVersion; currentKubernetesVersion moves to it here,
 * in a pass of its own, and the pools (waits_for_control_plane) roll from
 * the next pass on.  0 when there is nothing (more) to do. */
static int control_plane_step(cp_reconciler *rc, const cp_op *op, json_t *doc) {
        const char *want = pstr(doc, "kubernetesVersion"), *cur = pstr(doc, "currentKubernetesVersion");
        const cp_k8s_version *kv = want ? cp_rules_resolve_version(rc->rules, want) : NULL;
        if (strcmp(op->action, "upgrade") != 0 || !kv || !cur || strcmp(kv->version, cur) == 0)
                return 0;
        fprintf(stderr, "confpoold: cluster %s: control plane upgraded from %s to %s\n",
                json_string_value(json_object_get(doc, "name")), cur, kv->version);
        json_object_set_new(props_of(doc), "currentKubernetesVersion", json_string(kv->version));
        int r = cp_res_update(rc->store, op->resource, doc, NULL);
        return r < 0 ? r : STEP_PENDING;
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
        if (!rg && (r = control_plane_step(rc, op, doc)) != 0)
                goto out;
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

void cp_reconciler_set_lease(cp_reconciler *rc, cp_lease *lease) {
        pthread_mutex_lock(&rc->lock);
        rc->lease = lease;
        pthread_mutex_unlock(&rc->lock);
}

void cp_reconciler_set_ready_term(cp_reconciler *rc, uint64_t term) {
        pthread_mutex_lock(&rc->lock);
        rc->ready_term = term;
        pthread_mutex_unlock(&rc->lock);
}

/* A write transaction of the reconciler: with replicas, refused (CP_EFENCED)
 * unless this replica still holds the leader lease with its term, checked
 * under the same write lock a takeover needs. */
static int begin_fenced(cp_reconciler *rc) {
        int r = cp_store_begin(rc->store);
        if (r < 0 || !rc->lease)
                return r;
        r = cp_lease_check(rc->lease);
        if (r < 0)
                cp_store_rollback(rc->store);
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
                r = begin_fenced(rc);
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

/* ---- node health: replace dead, silent and quarantined nodes --------------- */

static void op_uuid(char out[37]) {
        uint8_t b[16];
        if (RAND_bytes(b, sizeof b) != 1)
                memset(b, 0, sizeof b);
        b[6] = (uint8_t) ((b[6] & 0x0f) | 0x40);
        b[8] = (uint8_t) ((b[8] & 0x3f) | 0x80);
        snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3],
                 b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

/* Why a settled node must be replaced (false: it is healthy). */
static bool unhealthy(cp_reconciler *rc, const cp_machine *m, const cp_node_info *info, int64_t now, char *why,
                      size_t size) {
        cp_node_info ni = {0};
        bool have = info != NULL;
        if (have)
                ni = *info;
        if (strcmp(m->state, "Quarantined") == 0) {
                snprintf(why, size, "quarantined: %.300s", have ? ni.reason : "failed re-attestation");
                return true;
        }
        if (strcmp(m->state, "Ready") != 0)
                return false;
        cp_node_state st;
        char ip[48], err[256] = "";
        if (rc->backend->ops->node_status(rc->backend, m->handle, &st, ip, sizeof ip, err, sizeof err) < 0) {
                cp_error_clear();
                return false;
        }
        if (st == CP_NODE_FAILED || st == CP_NODE_GONE) {
                snprintf(why, size, "the node failed: %.300s", err);
                return true;
        }
        /* a node that is booting again (restart recovery) has no agent to
         * heartbeat yet: its boot ends Ready (registered) or Failed */
        if (!have || !rc->heartbeat_deadline_ms || (st != CP_NODE_JOINING && st != CP_NODE_READY))
                return false;
        /* nobody heard heartbeats while this daemon was not running: the
         * deadline counts from its start at the earliest */
        int64_t last = ni.heartbeat_at > ni.attested_at ? ni.heartbeat_at : ni.attested_at;
        if (last > 0 && last < rc->started_at)
                last = rc->started_at;
        if (last > 0 && (now - last) * 1000 > (int64_t) rc->heartbeat_deadline_ms) {
                snprintf(why, size, "no heartbeat for %lld s (deadline %u ms)", (long long) (now - last),
                         rc->heartbeat_deadline_ms);
                return true;
        }
        return false;
}

/* One settled pool: mark unhealthy machines for deletion and start a
 * "repair" operation, which the pool reconciler carries out (delete:
 * stop the node, crypto-erase its disk key; create: a replacement). */
static int check_pool(cp_reconciler *rc, json_t *pool, int64_t now, size_t *replaced) {
        const char *id = json_string_value(json_object_get(pool, "id"));
        const char *ps = pstr(pool, "provisioningState");
        if (!id || !ps || strcmp(ps, "Succeeded") != 0)
                return 0;
        cp_op cur;
        int r = cp_op_active_for(rc->store, id, &cur);
        if (r >= 0)
                return 0; /* an operation is running: it owns the pool */
        if (r != CP_ENOTFOUND)
                return r;
        cp_error_clear();
        cp_machine *ms = NULL;
        cp_node_info_row *info = NULL;
        size_t n = 0, bad = 0, n_info = 0;
        if ((r = cp_machine_list(rc->store, id, &ms, &n)) < 0)
                return r;
        /* the pool's attestation records in one statement (issue 19: one per
         * machine was most of confpoold's CPU at 1,000 nodes) */
        if ((r = cp_nodes_info_list(rc->store, id, &info, &n_info)) < 0) {
                free(ms);
                return r;
        }
        for (size_t i = 0; i < n && r >= 0; i++) {
                char why[400];
                if (ms[i].delete_requested ||
                    !unhealthy(rc, &ms[i], cp_nodes_info_find(info, n_info, ms[i].name), now, why, sizeof why))
                        continue;
                fprintf(stderr, "confpoold: replacing node %s: %s\n", ms[i].name, why);
                if (strcmp(ms[i].state, "Quarantined") != 0)
                        snprintf(ms[i].state, sizeof ms[i].state, "Failed");
                ms[i].delete_requested = true;
                r = cp_machine_put(rc->store, &ms[i]);
                bad++;
        }
        free(ms);
        free(info);
        if (r < 0 || bad == 0)
                return r;
        cp_op op = {0};
        char uuid[37];
        op_uuid(uuid);
        const char *sub = strstr(id, "/subscriptions/") == id ? id + 15 : "";
        snprintf(op.id, sizeof op.id, "%s", uuid);
        snprintf(op.sub, sizeof op.sub, "%.*s", (int) strcspn(sub, "/"), sub);
        snprintf(op.resource, sizeof op.resource, "%s", id);
        snprintf(op.kind, sizeof op.kind, "pool");
        snprintf(op.action, sizeof op.action, "repair");
        snprintf(op.status, sizeof op.status, "InProgress");
        cp_now_rfc3339(op.start);
        if ((r = cp_op_insert(rc->store, &op)) < 0 || (r = set_state(rc->store, id, pool, "Updating", NULL, NULL)) < 0)
                return r;
        *replaced += bad;
        return 0;
}

/* One pool's health in a transaction of its own, the pool re-read in it
 * (the API may have changed or deleted it since the list). */
static int check_pool_tx(cp_reconciler *rc, const char *id, int64_t now, size_t *replaced) {
        int r = begin_fenced(rc);
        if (r < 0)
                return r;
        json_t *pool = NULL;
        r = cp_res_get(rc->store, id, &pool, NULL);
        if (r == CP_ENOTFOUND) {
                cp_error_clear();
                r = 0;
        } else if (r >= 0)
                r = check_pool(rc, pool, now, replaced);
        json_decref(pool);
        if (r < 0) {
                cp_store_rollback(rc->store);
                return r;
        }
        return cp_store_commit(rc->store);
}

/* The pools one at a time, each in a transaction of its own (issue 19:
 * one transaction over 10,000 machines held the store for 20-50 ms each
 * second, and every heartbeat meanwhile waited for it). */
int cp_reconciler_check_health(cp_reconciler *rc, size_t *ret_replaced) {
        json_t *pools = NULL;
        size_t replaced = 0;
        pthread_mutex_lock(&rc->lock);
        cp_nodes *nodes = rc->nodes;
        pthread_mutex_unlock(&rc->lock);
        /* the heartbeats noted but not written yet count (cp-nodes.h) */
        int r = nodes ? cp_nodes_flush(nodes) : 0;
        if (r < 0)
                return r;
        if ((r = cp_store_begin_read(rc->store)) < 0)
                return r;
        r = cp_res_list(rc->store, "pool", NULL, NULL, NULL, &pools);
        if (r < 0) {
                cp_store_rollback(rc->store);
                return r;
        }
        if ((r = cp_store_commit(rc->store)) < 0) {
                json_decref(pools);
                return r;
        }
        int64_t now = (int64_t) time(NULL);
        size_t i;
        json_t *p;
        json_array_foreach(pools, i, p) {
                const char *id = json_string_value(json_object_get(p, "id"));
                const char *ps = pstr(p, "provisioningState");
                if (!id || !ps || strcmp(ps, "Succeeded") != 0)
                        continue; /* check_pool's own test, without a transaction */
                if ((r = check_pool_tx(rc, id, now, &replaced)) < 0)
                        break;
        }
        json_decref(pools);
        if (r < 0)
                return r;
        if (ret_replaced)
                *ret_replaced = replaced;
        return 0;
}

void cp_reconciler_set_nodes(cp_reconciler *rc, cp_nodes *nodes) {
        pthread_mutex_lock(&rc->lock);
        rc->nodes = nodes;
        pthread_mutex_unlock(&rc->lock);
}

void cp_reconciler_set_heartbeat_deadline(cp_reconciler *rc, unsigned ms) {
        pthread_mutex_lock(&rc->lock);
        rc->heartbeat_deadline_ms = ms;
        pthread_mutex_unlock(&rc->lock);
}

#define HEALTH_INTERVAL_MS 1000

static int follower_flush(cp_reconciler *rc) {
        pthread_mutex_lock(&rc->lock);
        cp_nodes *nodes = rc->nodes;
        pthread_mutex_unlock(&rc->lock);
        return nodes ? cp_nodes_flush(nodes) : 0;
}

static void *thread_main(void *userdata) {
        cp_reconciler *rc = userdata;
        int64_t health_ms = 0;
        (void) pthread_setname_np(pthread_self(), "reconciler");
        pthread_mutex_lock(&rc->lock);
        while (!rc->stop) {
                /* a new leader acts once its backend adopted the nodes (ready_term) */
                uint64_t term = 0;
                bool follower = rc->lease && (!cp_lease_is_leader(rc->lease, &term) || term != rc->ready_term);
                pthread_mutex_unlock(&rc->lock);
                size_t active;
                if (follower)
                        ; /* another replica reconciles */
                else if (cp_reconciler_run_once(rc, &active) < 0) {
                        fprintf(stderr, "confpoold: reconciler: %s\n", cp_error_message());
                        cp_error_clear();
                }
                /* heartbeat times have a resolution of 1 s and the deadline is
                 * seconds: a health pass per second, not per 100 ms reconciler
                 * pass (issue 19: each pass reads every machine of the fleet) */
                int64_t t = cp_now_ms();
                bool health = t - health_ms >= HEALTH_INTERVAL_MS;
                if (health)
                        health_ms = t;
                /* the heartbeat times noted in memory are written on this
                 * thread once a second, off the requests' threads (issue 19):
                 * by the health pass, by a follower's flush below, or here
                 * (a leader without a health pass) */
                pthread_mutex_lock(&rc->lock);
                cp_nodes *nodes = rc->nodes;
                pthread_mutex_unlock(&rc->lock);
                if (health && nodes && !follower && !rc->backend->ops->expected_measurement &&
                    cp_nodes_flush(nodes) < 0) {
                        fprintf(stderr, "confpoold: heartbeat times not written: %s\n", cp_error_message());
                        cp_error_clear();
                }
                if (health && !follower && rc->backend->ops->expected_measurement && cp_reconciler_check_health(rc, NULL) < 0) {
                        fprintf(stderr, "confpoold: node health: %s\n", cp_error_message());
                        cp_error_clear();
                }
                /* a follower serves heartbeats too: the times it batched are
                 * written on this schedule, not only at its next node request
                 * (the leader's health check reads them from the store) */
                if (health && follower && follower_flush(rc) < 0) {
                        fprintf(stderr, "confpoold: heartbeat flush: %s\n", cp_error_message());
                        cp_error_clear();
                }
                if (health && !follower && cp_k8s_gc_tick(rc->store) < 0) {
                        fprintf(stderr, "confpoold: k8s store clean-up: %s\n", cp_error_message());
                        cp_error_clear();
                }
                pthread_mutex_lock(&rc->lock);
                if (rc->stop)
                        break;
                struct timespec ts = cp_realtime_in_ms(rc->interval_ms);
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
        rc->started_at = (int64_t) time(NULL);
        int kr = load_name_key(s, rc->name_key);
        if (kr < 0) {
                free(rc);
                return kr;
        }
        if (backend->ops->expected_measurement) {
                /* the pool policy table (cp-nodes.h), also without node endpoints */
                cp_store_lock(s);
                int r = cp_nodes_schema(s);
                cp_store_unlock(s);
                if (r < 0) {
                        free(rc);
                        return r;
                }
        }
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
