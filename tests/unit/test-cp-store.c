/* SPDX-License-Identifier: Apache-2.0 */
/* The shared SQLite store (migrations, nested transactions, crash
 * consistency by re-opening) and confpoold's schema on top of it. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "controlplane/cp-store.h"
#include "test-db.h"
#include "tests.h"

static char *tmp_db(void) {
        static char path[256];
        char dir[] = "/tmp/cp-store-XXXXXX";
        if (!mkdtemp(dir))
                cp_test_fail(__FILE__, __LINE__, "mkdtemp");
        snprintf(path, sizeof path, "%s/test.db", dir);
        const char *db = cp_test_db(path);
        if (db != path)
                snprintf(path, sizeof path, "%s", db);
        return path;
}

static long long count(cp_store *s, const char *sql) {
        cp_stmt *st = NULL;
        if (cp_store_prepare(s, sql, &st) < 0 || cp_store_step(s, st) != 1)
                cp_test_fail(__FILE__, __LINE__, "%s: %s", sql, cp_error_message());
        long long v = cp_stmt_int64(st, 0);
        cp_stmt_finalize(st);
        return v;
}

static const cp_store_migration m_v1[] = {{1, "CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)", NULL}};
static const cp_store_migration m_v2[] = {
        {1, "CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)", NULL},
        {2, "ALTER TABLE t ADD COLUMN w TEXT; INSERT INTO t(k,v,w) VALUES('m',2,'x')", NULL}};
static const cp_store_migration m_bad[] = {{1, "CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)", NULL},
                                           {2, "CREATE TABLE u (a INTEGER); THIS IS NOT SQL", NULL}};
static const cp_store_migration m_unordered[] = {{2, "SELECT 1", NULL}, {1, "SELECT 1", NULL}};

TEST(migrations_are_versioned_and_atomic) {
        const char *path = tmp_db();
        cp_store *s = NULL;
        ASSERT_OK(cp_store_open(path, m_v1, 1, &s));
        ASSERT_EQ(cp_store_schema_version(s), 1);
        ASSERT_EQ(count(s, "SELECT COUNT(*) FROM schema_version"), 1);
        if (cp_store_dialect_of(s) == CP_STORE_SQLITE)
                ASSERT_EQ(count(s, "SELECT journal_mode = 'wal' FROM pragma_journal_mode"), 1);
        s = cp_store_close(s);
        /* upgrade applies only the new migration */
        ASSERT_OK(cp_store_open(path, m_v2, 2, &s));
        ASSERT_EQ(cp_store_schema_version(s), 2);
        ASSERT_EQ(count(s, "SELECT COUNT(*) FROM t WHERE w = 'x'"), 1);
        s = cp_store_close(s);
        /* reopening at v2 does not re-run migration 2 */
        ASSERT_OK(cp_store_open(path, m_v2, 2, &s));
        ASSERT_EQ(count(s, "SELECT COUNT(*) FROM t"), 1);
        s = cp_store_close(s);
        /* an older program refuses a newer database */
        ASSERT_ERR(cp_store_open(path, m_v1, 1, &s), CP_EVERSION);
        ASSERT_ERR(cp_store_open(path, m_unordered, 2, &s), CP_EINVAL);
        /* a failing migration leaves the previous schema intact */
        const char *p2 = tmp_db();
        ASSERT_ERR(cp_store_open(p2, m_bad, 2, &s), CP_ESTORAGE);
        ASSERT_OK(cp_store_open(p2, m_v1, 1, &s));
        ASSERT_EQ(cp_store_schema_version(s), 1);
        ASSERT_EQ(count(s, cp_store_dialect_of(s) == CP_STORE_SQLITE
                                   ? "SELECT COUNT(*) FROM sqlite_master WHERE name = 'u'"
                                   : "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'u' AND "
                                     "table_schema = current_schema()"),
                  0);
        s = cp_store_close(s);
        cp_error_clear();
}

TEST(transactions_nest_and_roll_back) {
        cp_store *s = NULL;
        ASSERT_OK(cp_store_open(tmp_db(), m_v1, 1, &s));
        ASSERT_OK(cp_store_begin(s));
        ASSERT_OK(cp_store_exec(s, "INSERT INTO t VALUES ('a', 1)"));
        ASSERT_OK(cp_store_begin(s));
        ASSERT_OK(cp_store_exec(s, "INSERT INTO t VALUES ('b', 2)"));
        ASSERT_OK(cp_store_commit(s)); /* inner: nothing reaches SQLite yet */
        ASSERT_OK(cp_store_commit(s));
        ASSERT_EQ(count(s, "SELECT COUNT(*) FROM t"), 2);
        ASSERT_OK(cp_store_begin(s));
        ASSERT_OK(cp_store_exec(s, "INSERT INTO t VALUES ('c', 3)"));
        cp_store_rollback(s);
        ASSERT_EQ(count(s, "SELECT COUNT(*) FROM t"), 2);
        /* an inner rollback poisons the outer commit */
        ASSERT_OK(cp_store_begin(s));
        ASSERT_OK(cp_store_exec(s, "INSERT INTO t VALUES ('d', 4)"));
        ASSERT_OK(cp_store_begin(s));
        cp_store_rollback(s);
        ASSERT_ERR(cp_store_commit(s), CP_ESTORAGE);
        ASSERT_EQ(count(s, "SELECT COUNT(*) FROM t"), 2);
        ASSERT_ERR(cp_store_commit(s), CP_EBADSEQ);
        /* a read transaction may still write (single serialised connection) */
        ASSERT_OK(cp_store_begin_read(s));
        ASSERT_EQ(count(s, "SELECT COUNT(*) FROM t"), 2);
        ASSERT_OK(cp_store_exec(s, "INSERT INTO t VALUES ('e', 5)"));
        ASSERT_OK(cp_store_commit(s));
        ASSERT_EQ(count(s, "SELECT COUNT(*) FROM t"), 3);
        /* a unique-key violation surfaces as CP_ECONFLICT (both dialects),
         * other failures as CP_ESTORAGE */
        ASSERT_ERR(cp_store_exec(s, "INSERT INTO t VALUES ('a', 9)"), CP_ECONFLICT);
        ASSERT_ERR(cp_store_exec(s, "INSERT INTO t VALUES (NULL, 9, 'no such column')"), CP_ESTORAGE);
        cp_store_close(s);
        cp_error_clear();
}

/* A child process writes committed and uncommitted rows and dies with
 * _exit() (no close, no checkpoint): re-opening sees exactly the committed
 * ones. */
TEST(crash_consistency_by_reopening) {
        const char *path = tmp_db();
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                cp_store *s = NULL;
                if (cp_cpstore_open(path, &s) < 0)
                        _exit(1);
                for (int i = 0; i < 50; i++) {
                        cp_op op = {0};
                        snprintf(op.id, sizeof op.id, "op-%d", i);
                        snprintf(op.sub, sizeof op.sub, "sub");
                        snprintf(op.location, sizeof op.location, "eastus");
                        snprintf(op.resource, sizeof op.resource, "/subscriptions/sub/x/%d", i);
                        snprintf(op.kind, sizeof op.kind, "pool");
                        snprintf(op.action, sizeof op.action, "create");
                        snprintf(op.status, sizeof op.status, "InProgress");
                        snprintf(op.start, sizeof op.start, "now");
                        if (cp_store_begin(s) < 0 || cp_op_insert(s, &op) < 0 || cp_store_commit(s) < 0)
                                _exit(2);
                }
                if (cp_store_begin(s) < 0)
                        _exit(3);
                json_t *b = json_pack("{s:s}", "name", "uncommitted");
                cp_res_key k = {.id = "/subscriptions/sub/resourceGroups/rg", .kind = "rg", .sub = "sub", .rg = "rg",
                                .name = "rg", .location = "eastus"};
                if (cp_res_put(s, &k, b, "e1") < 0)
                        _exit(4);
                _exit(0); /* killed mid-transaction */
        }
        int st;
        ASSERT_EQ(waitpid(pid, &st, 0), pid);
        ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        cp_store *s = NULL;
        ASSERT_OK(cp_cpstore_open(path, &s));
        ASSERT_EQ(cp_store_schema_version(s), CP_CP_SCHEMA_VERSION);
        cp_op *ops = NULL;
        size_t n = 0;
        ASSERT_OK(cp_op_list_active(s, &ops, &n));
        ASSERT_EQ(n, 50);
        ASSERT_STREQ(ops[0].id, "op-0");
        ASSERT_STREQ(ops[49].id, "op-49");
        free(ops);
        ASSERT_ERR(cp_res_get(s, "/subscriptions/sub/resourceGroups/rg", NULL, NULL), CP_ENOTFOUND);
        cp_store_close(s);
        cp_error_clear();
}

TEST(resources_operations_machines) {
        cp_store *s = NULL;
        ASSERT_OK(cp_cpstore_open(tmp_db(), &s));
        json_t *b = json_pack("{s:s,s:{s:i}}", "id", "/Subscriptions/S/resourceGroups/RG/x/Pool1", "properties", "count", 3);
        cp_res_key k = {.id = "/Subscriptions/S/resourceGroups/RG/x/Pool1", .kind = "pool", .sub = "S", .rg = "RG",
                        .parent = "/Subscriptions/S/resourceGroups/RG/x", .name = "Pool1", .location = "eastus"};
        ASSERT_OK(cp_res_put(s, &k, b, "etag1"));
        json_decref(b);
        json_t *got = NULL;
        char etag[40];
        /* ids are case-insensitive */
        ASSERT_OK(cp_res_get(s, "/subscriptions/s/resourcegroups/rg/X/pool1", &got, etag));
        ASSERT_STREQ(etag, "etag1");
        ASSERT_EQ(json_integer_value(json_object_get(json_object_get(got, "properties"), "count")), 3);
        json_object_set_new(json_object_get(got, "properties"), "count", json_integer(4));
        ASSERT_OK(cp_res_update(s, k.id, got, NULL));
        json_decref(got);
        ASSERT_OK(cp_res_get(s, k.id, &got, etag));
        ASSERT_STREQ(etag, "etag1");
        json_decref(got);
        json_t *empty = json_object();
        ASSERT_ERR(cp_res_update(s, "/nope", empty, NULL), CP_ENOTFOUND);
        json_decref(empty);
        json_t *list = NULL;
        ASSERT_OK(cp_res_list(s, "pool", "s", NULL, "/subscriptions/S/resourceGroups/RG/X", &list));
        ASSERT_EQ(json_array_size(list), 1);
        json_decref(list);
        ASSERT_OK(cp_res_list_location(s, "pool", "S", "eastus", &list));
        ASSERT_EQ(json_array_size(list), 1);
        json_decref(list);
        unsigned c = 0;
        ASSERT_OK(cp_res_count(s, "pool", "/subscriptions/s/resourcegroups/rg/x", &c));
        ASSERT_EQ(c, 1);

        cp_op op = {.id = "o1", .sub = "S", .location = "eastus", .kind = "pool", .action = "create",
                    .status = "InProgress", .start = "t0"};
        snprintf(op.resource, sizeof op.resource, "%s", k.id);
        ASSERT_OK(cp_op_insert(s, &op));
        cp_op got_op;
        ASSERT_OK(cp_op_active_for(s, "/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/X/POOL1", &got_op));
        ASSERT_STREQ(got_op.id, "o1");
        ASSERT_OK(cp_op_finish(s, "o1", "Failed", "Code", "message"));
        ASSERT_OK(cp_op_finish(s, "o1", "Succeeded", NULL, NULL)); /* terminal states are final */
        ASSERT_OK(cp_op_get(s, "o1", &got_op));
        ASSERT_STREQ(got_op.status, "Failed");
        ASSERT_STREQ(got_op.error_code, "Code");
        ASSERT_TRUE(got_op.end[0] != 0);
        ASSERT_ERR(cp_op_active_for(s, k.id, NULL), CP_ENOTFOUND);
        ASSERT_ERR(cp_op_get(s, "o2", &got_op), CP_ENOTFOUND);

        cp_machine m = {.index = 0, .state = "Pending", .image = "img", .ip = "", .created = "t"};
        snprintf(m.pool, sizeof m.pool, "%s", k.id);
        for (int i = 0; i < 3; i++) {
                m.index = i;
                snprintf(m.name, sizeof m.name, "aks-pool1-1-vmss%06d", i);
                ASSERT_OK(cp_machine_put(s, &m));
        }
        m.delete_requested = true;
        snprintf(m.state, sizeof m.state, "Ready");
        ASSERT_OK(cp_machine_put(s, &m)); /* upsert */
        cp_machine *ms = NULL;
        size_t n = 0;
        ASSERT_OK(cp_machine_list(s, k.id, &ms, &n));
        ASSERT_EQ(n, 3);
        ASSERT_TRUE(ms[2].delete_requested);
        ASSERT_STREQ(ms[2].state, "Ready");
        free(ms);
        ASSERT_OK(cp_machine_delete(s, k.id, "aks-pool1-1-vmss000001"));
        ASSERT_ERR(cp_machine_get(s, k.id, "aks-pool1-1-vmss000001", &m), CP_ENOTFOUND);
        ASSERT_OK(cp_machine_delete(s, k.id, NULL));
        ASSERT_OK(cp_machine_list(s, k.id, &ms, &n));
        ASSERT_EQ(n, 0);
        free(ms);

        char state[32];
        int64_t t;
        ASSERT_ERR(cp_feature_get(s, "S", "Microsoft.ContainerService", "X", state, &t), CP_ENOTFOUND);
        ASSERT_OK(cp_feature_set(s, "S", "Microsoft.ContainerService", "X", "Registering", 5));
        ASSERT_OK(cp_feature_get(s, "s", "microsoft.containerservice", "x", state, &t));
        ASSERT_STREQ(state, "Registering");
        ASSERT_EQ(t, 5);
        ASSERT_OK(cp_provider_set(s, "S", "Microsoft.ContainerService", "Registered"));
        ASSERT_OK(cp_provider_get(s, "s", "MICROSOFT.CONTAINERSERVICE", state));
        ASSERT_STREQ(state, "Registered");
        ASSERT_OK(cp_token_add(s, "t1", "ab"));
        char(*h)[65] = NULL;
        ASSERT_OK(cp_token_hashes(s, &h, &n));
        ASSERT_EQ(n, 1);
        ASSERT_STREQ(h[0], "ab");
        free(h);
        ASSERT_OK(cp_res_delete(s, k.id));
        ASSERT_ERR(cp_res_get(s, k.id, NULL, NULL), CP_ENOTFOUND);
        cp_store_close(s);
        cp_error_clear();
}

/* ---- read-only databases (issue 13 item 12) ------------------------------------------- */

/* A database or state directory confpoold cannot write was opened read-only
 * by SQLite without a word, and every write then answered 500; now the
 * open fails naming the database.  The child drops to nobody when run as
 * root (root writes through file modes). */
TEST(read_only_database_refused_at_open) {
        if (cp_test_db_is_pg()) { /* not applicable: a SQLite file's modes */
                printf("  (SQLite only: CP_TEST_DB is PostgreSQL)\n");
                return;
        }
        char *path = tmp_db();
        cp_store *s = NULL;
        ASSERT_OK(cp_cpstore_open(path, &s));
        s = cp_store_close(s);
        char dir[256];
        snprintf(dir, sizeof dir, "%.*s", (int) (strrchr(path, '/') - path), path);
        ASSERT_TRUE(chmod(path, 0444) == 0 && chmod(dir, 0555) == 0);
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                if (getuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0))
                        _exit(77);
                int r = cp_cpstore_open(path, &s);
                if (r != CP_ESTORAGE || !strstr(cp_error_message(), path))
                        _exit(1);
                _exit(0);
        }
        int st = 0;
        ASSERT_TRUE(waitpid(pid, &st, 0) == pid && WIFEXITED(st));
        if (WEXITSTATUS(st) == 77)
                printf("  (skipped: cannot drop root)\n");
        else
                ASSERT_EQ(WEXITSTATUS(st), 0);
        ASSERT_TRUE(chmod(dir, 0700) == 0 && chmod(path, 0600) == 0);
        /* writable again: opens */
        ASSERT_OK(cp_cpstore_open(path, &s));
        cp_store_close(s);
}

/* Schema 5 (issue 14): machines record the Kubernetes version they were
 * built with; rows from before it take their pool's currentOrchestratorVersion
 * (not "", which the reconciler would roll as an old version). */
TEST(machine_version_migrated_from_pool) {
        size_t n = 0;
        const cp_store_migration *all = cp_cpstore_migrations(&n);
        ASSERT_EQ(n, CP_CP_SCHEMA_VERSION);
        char *path = tmp_db();
        cp_store *s = NULL;
        ASSERT_OK(cp_store_open(path, all, 4, &s));
        ASSERT_OK(cp_store_exec(s, "INSERT INTO resources(id_lc, kind, sub, name, body, etag, seq) VALUES ('/p1', "
                                   "'pool', 's', 'p1', '{\"properties\":{\"currentOrchestratorVersion\":\"1.32.6\"}}',"
                                   " 'e', 1);"
                                   "INSERT INTO machines(pool_lc, pool, name, idx, state, image, ip, created) VALUES "
                                   "('/p1', '/P1', 'm0', 0, 'Ready', 'img', '', 'now'), "
                                   "('/gone', '/gone', 'm1', 0, 'Ready', 'img', '', 'now')"));
        cp_store_close(s);
        ASSERT_OK(cp_cpstore_open(path, &s));
        ASSERT_EQ(cp_store_schema_version(s), CP_CP_SCHEMA_VERSION);
        cp_machine m;
        ASSERT_OK(cp_machine_get(s, "/p1", "m0", &m));
        ASSERT_STREQ(m.version, "1.32.6");
        ASSERT_OK(cp_machine_get(s, "/gone", "m1", &m));
        ASSERT_STREQ(m.version, "");
        snprintf(m.version, sizeof m.version, "1.33.2");
        ASSERT_OK(cp_machine_put(s, &m));
        ASSERT_OK(cp_machine_get(s, "/gone", "m1", &m));
        ASSERT_STREQ(m.version, "1.33.2");
        cp_store_close(s);
}

struct waiter {
        cp_store *s;
        int r;
        long long waited_ms;
};

static long long mono_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *write_tx(void *arg) {
        struct waiter *w = arg;
        long long t0 = mono_ms();
        w->r = cp_store_begin(w->s);
        w->waited_ms = mono_ms() - t0;
        if (w->r >= 0)
                w->r = cp_store_exec(w->s, "INSERT INTO t (k, v) VALUES ('second', 2)");
        if (w->r >= 0)
                w->r = cp_store_commit(w->s);
        else
                cp_store_rollback(w->s);
        return NULL;
}

/* A replica frozen inside a write transaction (SIGSTOP, a paused VM) holds
 * the write lock: on PostgreSQL the server ends its session after 5 s idle
 * in the transaction, so another replica's write waits at most that long
 * (before: as long as the pause; cli-pg-failover-tdx stood still 17 min under
 * ASan).  The frozen one's transaction fails when it goes on, and its next
 * transaction works on a new connection.  (SQLite: one file, one writer;
 * a frozen process holding BEGIN IMMEDIATE blocks the others until their
 * busy timeout: not this test.) */
TEST(a_frozen_writer_does_not_hold_the_write_lock) {
        if (!cp_test_db_is_pg()) {
                printf("  (PostgreSQL only: CP_TEST_DB is not set)\n");
                return;
        }
        char *path = tmp_db();
        cp_store *a = NULL, *b = NULL;
        ASSERT_OK(cp_store_open(path, m_v1, 1, &a));
        ASSERT_OK(cp_store_open(path, m_v1, 1, &b));
        ASSERT_OK(cp_store_begin(a));
        ASSERT_OK(cp_store_exec(a, "INSERT INTO t (k, v) VALUES ('first', 1)"));
        /* a is frozen now: b's write waits for the server to end a's session */
        struct waiter w = {.s = b};
        pthread_t t;
        ASSERT_EQ(pthread_create(&t, NULL, write_tx, &w), 0);
        ASSERT_EQ(pthread_join(t, NULL), 0);
        if (w.r < 0)
                cp_test_fail(__FILE__, __LINE__, "the other writer: %s", cp_error_message());
        if (w.waited_ms < 4000 || w.waited_ms > 9000)
                cp_test_fail(__FILE__, __LINE__, "the other writer waited %lld ms (the 5 s idle limit)", w.waited_ms);
        /* a goes on: its transaction is gone, said; then a new one works */
        ASSERT_ERR(cp_store_exec(a, "INSERT INTO t (k, v) VALUES ('late', 3)"), CP_ESTORAGE);
        ASSERT_TRUE(cp_store_commit(a) < 0);
        ASSERT_OK(cp_store_begin(a));
        ASSERT_OK(cp_store_exec(a, "INSERT INTO t (k, v) VALUES ('third', 3)"));
        ASSERT_OK(cp_store_commit(a));
        ASSERT_EQ(count(b, "SELECT count(*) FROM t WHERE k IN ('second', 'third')"), 2);
        ASSERT_EQ(count(b, "SELECT count(*) FROM t WHERE k IN ('first', 'late')"), 0);
        cp_store_close(a);
        cp_store_close(b);
}
