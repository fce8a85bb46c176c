/* SPDX-License-Identifier: Apache-2.0 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "basic/cleanup.h"
#include "controlplane/cp-lease.h"

struct cp_lease {
        cp_store *store;
        char holder[128];
        unsigned ttl_ms;
        pthread_mutex_t lock;
        bool leader;
        uint64_t term;
        struct timespec renewed; /* CLOCK_MONOTONIC of the last successful renewal */
};

/* The database's clock in milliseconds, in each dialect. */
static const char *now_sql(cp_store *s) {
        return cp_store_dialect_of(s) == CP_STORE_PG
                       ? "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)"
                       : "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)";
}

int cp_lease_new(cp_store *s, const char *holder, unsigned ttl_ms, cp_lease **ret) {
        if (!s || !holder || !*holder || strlen(holder) >= sizeof ((cp_lease *) 0)->holder)
                return CP_ERROR(CP_EINVAL, "cp_lease_new: a store and a holder name of 1..127 bytes are required");
        int r = cp_store_begin(s);
        if (r < 0)
                return r;
        r = cp_store_exec(s, "CREATE TABLE IF NOT EXISTS leader_lease (id INTEGER PRIMARY KEY CHECK (id = 1),"
                             " holder TEXT NOT NULL, term BIGINT NOT NULL, expires_ms BIGINT NOT NULL)");
        if (r < 0) {
                cp_store_rollback(s);
                return r;
        }
        if ((r = cp_store_commit(s)) < 0)
                return r;
        cp_lease *l = calloc(1, sizeof *l);
        if (!l)
                return cp_error_oom();
        l->store = s;
        snprintf(l->holder, sizeof l->holder, "%s", holder);
        l->ttl_ms = ttl_ms ? ttl_ms : 5000;
        pthread_mutex_init(&l->lock, NULL);
        *ret = l;
        return 0;
}

cp_lease *cp_lease_free(cp_lease *l) {
        if (!l)
                return NULL;
        pthread_mutex_destroy(&l->lock);
        free(l);
        return NULL;
}

static void set_leader(cp_lease *l, bool leader, uint64_t term) {
        pthread_mutex_lock(&l->lock);
        l->leader = leader;
        l->term = leader ? term : 0;
        if (leader)
                clock_gettime(CLOCK_MONOTONIC, &l->renewed);
        pthread_mutex_unlock(&l->lock);
}

/* The row (holder, term, expired?) under the transaction; 0 when none. */
static int read_row(cp_lease *l, char holder[128], uint64_t *term, bool *expired) {
        char sql[256];
        snprintf(sql, sizeof sql, "SELECT holder, term, CASE WHEN expires_ms < %s THEN 1 ELSE 0 END FROM leader_lease "
                 "WHERE id = 1", now_sql(l->store));
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(l->store, sql, &st);
        if (r < 0)
                return r;
        r = cp_store_step(l->store, st);
        if (r <= 0)
                return r;
        snprintf(holder, 128, "%s", cp_stmt_text(st, 0) ? cp_stmt_text(st, 0) : "");
        *term = (uint64_t) cp_stmt_int64(st, 1);
        *expired = cp_stmt_int(st, 2) != 0;
        return 1;
}

/* Write the row for (holder, term) expiring ttl from now. */
static int write_row(cp_lease *l, bool insert, uint64_t term) {
        char sql[384];
        if (insert)
                snprintf(sql, sizeof sql, "INSERT INTO leader_lease(id, holder, term, expires_ms) VALUES (1, ?, ?, %s + ?)",
                         now_sql(l->store));
        else
                snprintf(sql, sizeof sql, "UPDATE leader_lease SET holder = ?1, term = ?2, expires_ms = %s + ?3 WHERE id = 1",
                         now_sql(l->store));
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(l->store, sql, &st);
        if (r < 0)
                return r;
        cp_stmt_bind_text(st, 1, l->holder);
        cp_stmt_bind_int64(st, 2, (int64_t) term);
        cp_stmt_bind_int64(st, 3, l->ttl_ms);
        r = cp_store_step(l->store, st);
        return r < 0 ? r : 0;
}

/* Under the write transaction: the decision and the row written. */
static int tick_locked(cp_lease *l, bool *leader, uint64_t *term) {
        char holder[128] = "";
        uint64_t cur = 0, mine;
        bool expired = false;
        cp_lease_is_leader(l, &mine);
        int r = read_row(l, holder, &cur, &expired);
        if (r < 0)
                return r;
        *leader = false;
        if (r == 0) { /* the first replica ever */
                *term = 1;
                *leader = true;
                return write_row(l, true, 1);
        }
        if (strcmp(holder, l->holder) == 0 && cur == mine && mine != 0) {
                *term = cur; /* renewal (even if it ran out: nobody took it) */
                *leader = true;
        } else if (expired || (strcmp(holder, l->holder) == 0 && mine == 0)) {
                *term = cur + 1; /* takeover, or our own lease of a previous run */
                *leader = true;
        }
        return *leader ? write_row(l, false, *term) : 0;
}

int cp_lease_tick(cp_lease *l, bool *ret_became) {
        uint64_t before = 0, term = 0;
        bool was = cp_lease_is_leader(l, &before), leader = false;
        int r = cp_store_begin(l->store);
        if (r >= 0) {
                r = tick_locked(l, &leader, &term);
                if (r < 0)
                        cp_store_rollback(l->store);
                else
                        r = cp_store_commit(l->store);
        }
        if (r < 0) {
                /* no renewal: step down before the lease can have expired for the others */
                struct timespec now;
                clock_gettime(CLOCK_MONOTONIC, &now);
                pthread_mutex_lock(&l->lock);
                int64_t age = (now.tv_sec - l->renewed.tv_sec) * 1000 + (now.tv_nsec - l->renewed.tv_nsec) / 1000000;
                if (l->leader && age > (int64_t) l->ttl_ms / 2)
                        l->leader = false, l->term = 0;
                pthread_mutex_unlock(&l->lock);
                return r;
        }
        set_leader(l, leader, term);
        if (ret_became)
                *ret_became = leader && (!was || before != term);
        return 0;
}

int cp_lease_check(cp_lease *l) {
        uint64_t mine;
        if (!cp_lease_is_leader(l, &mine))
                return CP_ERROR(CP_EFENCED, "not the reconciler leader");
        char holder[128] = "";
        uint64_t cur = 0;
        bool expired = false;
        int r = read_row(l, holder, &cur, &expired);
        if (r < 0)
                return r;
        if (r == 0 || cur != mine || strcmp(holder, l->holder) != 0) {
                set_leader(l, false, 0);
                return CP_ERROR(CP_EFENCED, "lease term %llu is over (now %llu held by another replica): write refused",
                                (unsigned long long) mine, (unsigned long long) cur);
        }
        return 0;
}

bool cp_lease_is_leader(cp_lease *l, uint64_t *ret_term) {
        pthread_mutex_lock(&l->lock);
        bool leader = l->leader;
        if (ret_term)
                *ret_term = l->term;
        pthread_mutex_unlock(&l->lock);
        return leader;
}

void cp_lease_release(cp_lease *l) {
        uint64_t term;
        if (!cp_lease_is_leader(l, &term))
                return;
        set_leader(l, false, 0);
        _cleanup_stmt_ cp_stmt *st = NULL;
        if (cp_store_prepare(l->store, "UPDATE leader_lease SET expires_ms = 0 WHERE id = 1 AND holder = ? AND term = ?",
                             &st) < 0)
                return;
        cp_stmt_bind_text(st, 1, l->holder);
        cp_stmt_bind_int64(st, 2, (int64_t) term);
        if (cp_store_step(l->store, st) < 0)
                cp_error_clear();
}

int cp_lease_holder(cp_lease *l, char *ret, size_t size) {
        char holder[128] = "";
        uint64_t term = 0;
        bool expired = false;
        int r = read_row(l, holder, &term, &expired);
        if (r < 0)
                return r;
        snprintf(ret, size, "%s", r == 1 && !expired ? holder : "");
        return 0;
}

const char *cp_lease_id(cp_lease *l) {
        return l->holder;
}
