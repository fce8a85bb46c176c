/* SPDX-License-Identifier: Apache-2.0 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "basic/cleanup.h"
#include "service/store-internal.h"

/* The advisory lock every PostgreSQL write transaction takes (the store's
 * BEGIN IMMEDIATE): one 64-bit key, "confpool" in ASCII. */
#define CP_PG_WRITE_LOCK "SELECT pg_advisory_xact_lock(7164775785416239980)"

/* a unique key taken, or the database busy past the timeout: CP_ECONFLICT */
static int lite_code(cp_store *s) {
        int x = sqlite3_extended_errcode(s->db);
        return (x == SQLITE_CONSTRAINT_UNIQUE || x == SQLITE_CONSTRAINT_PRIMARYKEY || (x & 0xff) == SQLITE_BUSY)
                       ? CP_ECONFLICT
                       : CP_ESTORAGE;
}

static int lite_err(cp_store *s, const char *what) {
        return CP_ERROR(lite_code(s), "%s: %s", what, s->db ? sqlite3_errmsg(s->db) : "no database");
}

int cp_store_exec(cp_store *s, const char *sql) {
        if (s->dialect == CP_STORE_PG)
                return cp_pg_exec(s, sql);
        char *msg = NULL;
        if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
                int r = CP_ERROR(lite_code(s), "SQL failed: %s", msg ? msg : sqlite3_errmsg(s->db));
                sqlite3_free(msg);
                return r;
        }
        return 0;
}

int cp_store_prepare(cp_store *s, const char *sql, cp_stmt **ret) {
        cp_stmt *st = calloc(1, sizeof *st);
        if (!st)
                return cp_error_oom();
        st->s = s;
        int r = 0;
        if (s->dialect == CP_STORE_PG)
                r = cp_pg_prepare(s, sql, st);
        else if (sqlite3_prepare_v2(s->db, sql, -1, &st->lite, NULL) != SQLITE_OK)
                r = lite_err(s, "prepare");
        if (r < 0) {
                cp_stmt_finalize(st);
                return r;
        }
        *ret = st;
        return 0;
}

int cp_store_step(cp_store *s, cp_stmt *st) {
        if (s->dialect == CP_STORE_PG)
                return cp_pg_step(s, st);
        cp_store_lock(s);
        int r = sqlite3_step(st->lite);
        if (r == SQLITE_DONE)
                st->changes = sqlite3_changes(s->db);
        int ret = r == SQLITE_ROW ? 1 : r == SQLITE_DONE ? 0 : lite_err(s, "step");
        cp_store_unlock(s);
        return ret;
}

void cp_stmt_reset(cp_stmt *st) {
        if (st->pg)
                cp_pg_reset(st);
        else if (st->lite)
                sqlite3_reset(st->lite);
}

void cp_stmt_finalize(cp_stmt *st) {
        if (!st)
                return;
        if (st->pg)
                cp_pg_finalize(st);
        if (st->lite)
                sqlite3_finalize(st->lite);
        free(st);
}

void cp_stmt_bind_text(cp_stmt *st, int i, const char *v) {
        if (st->pg)
                cp_pg_bind(st, i, v, v ? strlen(v) : 0, v ? CP_PG_TEXT : CP_PG_NULL);
        else if (v)
                sqlite3_bind_text(st->lite, i, v, -1, SQLITE_TRANSIENT);
        else
                sqlite3_bind_null(st->lite, i);
}

void cp_stmt_bind_textn(cp_stmt *st, int i, const char *v, size_t n) {
        if (st->pg)
                cp_pg_bind(st, i, v, n, v ? CP_PG_TEXT : CP_PG_NULL);
        else if (v)
                sqlite3_bind_text64(st->lite, i, v, n, SQLITE_TRANSIENT, SQLITE_UTF8);
        else
                sqlite3_bind_null(st->lite, i);
}

void cp_stmt_bind_int64(cp_stmt *st, int i, int64_t v) {
        if (st->pg) {
                char b[24];
                int n = snprintf(b, sizeof b, "%" PRId64, v);
                cp_pg_bind(st, i, b, (size_t) n, CP_PG_INT);
        } else
                sqlite3_bind_int64(st->lite, i, v);
}

void cp_stmt_bind_blob(cp_stmt *st, int i, const void *v, size_t n) {
        if (st->pg)
                cp_pg_bind(st, i, v, n, v ? CP_PG_BLOB : CP_PG_NULL);
        else if (v)
                sqlite3_bind_blob64(st->lite, i, n ? v : "", n, SQLITE_TRANSIENT);
        else
                sqlite3_bind_null(st->lite, i);
}

void cp_stmt_bind_null(cp_stmt *st, int i) {
        if (st->pg)
                cp_pg_bind(st, i, NULL, 0, CP_PG_NULL);
        else
                sqlite3_bind_null(st->lite, i);
}

const char *cp_stmt_text(cp_stmt *st, int col) {
        if (st->pg)
                return cp_pg_text(st, col);
        return (const char *) sqlite3_column_text(st->lite, col);
}

int64_t cp_stmt_int64(cp_stmt *st, int col) {
        if (!st->pg)
                return sqlite3_column_int64(st->lite, col);
        const char *t = cp_pg_text(st, col);
        if (!t)
                return 0;
        if (t[0] == 't' || t[0] == 'f') /* a boolean */
                return t[0] == 't';
        return strtoll(t, NULL, 10);
}

int cp_stmt_int(cp_stmt *st, int col) {
        return (int) cp_stmt_int64(st, col);
}

const void *cp_stmt_blob(cp_stmt *st, int col) {
        if (st->pg)
                return cp_pg_blob(st, col, NULL);
        return sqlite3_column_blob(st->lite, col);
}

size_t cp_stmt_bytes(cp_stmt *st, int col) {
        if (st->pg) {
                size_t n = 0;
                /* text columns: their length; bytea: the decoded length */
                if (cp_pg_blob(st, col, &n))
                        return n;
                return 0;
        }
        return (size_t) sqlite3_column_bytes(st->lite, col);
}

bool cp_stmt_is_null(cp_stmt *st, int col) {
        if (st->pg)
                return cp_pg_is_null(st, col);
        return sqlite3_column_type(st->lite, col) == SQLITE_NULL;
}

int64_t cp_stmt_changes(cp_stmt *st) {
        return st->changes;
}

/* Best effort (ROLLBACK); the caller already reports the original failure. */
static void exec_quiet(cp_store *s, const char *sql) {
        if (cp_store_exec(s, sql) < 0)
                return;
}

void cp_store_lock(cp_store *s) {
        pthread_mutex_lock(&s->lock);
}

void cp_store_unlock(cp_store *s) {
        pthread_mutex_unlock(&s->lock);
}

static int64_t mono_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The outermost transaction ends: report it if it was held, or waited
 * for, longer than CP_STORE_TRACE_MS (issue 19: where a heartbeat's tail
 * comes from).  Times and the thread's name only, never SQL or data. */
static void trace_end(cp_store *s) {
        if (s->trace_ms <= 0)
                return;
        int64_t held = (mono_ns() - s->t_held_ns) / 1000000, waited = s->t_wait_ns / 1000000;
        if (held >= s->trace_ms || waited >= s->trace_ms) {
                char name[32] = "?";
                (void) pthread_getname_np(pthread_self(), name, sizeof name);
                fprintf(stderr, "store trace: %s held %" PRId64 " ms, waited %" PRId64 " ms\n", name, held, waited);
        }
}

static int begin(cp_store *s, bool write) {
        int64_t t0 = s->trace_ms > 0 ? mono_ns() : 0;
        cp_store_lock(s);
        if (s->depth == 0) {
                if (s->trace_ms > 0) {
                        s->t_held_ns = mono_ns();
                        s->t_wait_ns = s->t_held_ns - t0;
                }
                const char *sql = s->dialect == CP_STORE_PG ? (write ? "BEGIN; " CP_PG_WRITE_LOCK : "BEGIN")
                                                            : (write ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED");
                int r = cp_store_exec(s, sql);
                if (r < 0) {
                        if (s->dialect == CP_STORE_PG)
                                exec_quiet(s, "ROLLBACK");
                        cp_store_unlock(s);
                        return r;
                }
                s->poisoned = false;
        }
        s->depth++;
        return 0;
}

int cp_store_begin(cp_store *s) {
        return begin(s, true);
}

int cp_store_begin_read(cp_store *s) {
        return begin(s, false);
}

unsigned cp_store_tx_depth(cp_store *s) {
        return s->depth;
}

int cp_store_commit(cp_store *s) {
        int r = 0;
        if (s->depth == 0)
                return CP_ERROR(CP_EBADSEQ, "commit without begin");
        if (--s->depth == 0) {
                if (s->poisoned) {
                        exec_quiet(s, "ROLLBACK");
                        r = CP_ERROR(CP_ESTORAGE, "transaction rolled back by an inner failure");
                } else {
                        r = cp_store_exec(s, "COMMIT");
                        if (r < 0)
                                exec_quiet(s, "ROLLBACK");
                }
                s->poisoned = false;
                trace_end(s);
        }
        cp_store_unlock(s);
        return r;
}

void cp_store_rollback(cp_store *s) {
        if (s->depth == 0)
                return;
        if (--s->depth == 0) {
                exec_quiet(s, "ROLLBACK");
                s->poisoned = false;
                trace_end(s);
        } else
                s->poisoned = true;
        cp_store_unlock(s);
}

unsigned cp_store_schema_version(cp_store *s) {
        return s->version;
}

cp_store_dialect cp_store_dialect_of(cp_store *s) {
        return s->dialect;
}

const char *cp_store_kind(cp_store *s) {
        return s->dialect == CP_STORE_PG ? "postgresql" : "sqlite";
}

int cp_store_ping(cp_store *s) {
        _cleanup_(cp_stmt_finalizep) cp_stmt *st = NULL;
        int r = cp_store_prepare(s, "SELECT 1", &st);
        if (r >= 0)
                r = cp_store_step(s, st);
        return r < 0 ? r : 0;
}

static int read_version(cp_store *s, unsigned *ret) {
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(s, "SELECT COALESCE(MAX(version),0) FROM schema_version", &st);
        if (r < 0)
                return r;
        r = cp_store_step(s, st);
        if (r < 0)
                return r;
        *ret = r ? (unsigned) cp_stmt_int64(st, 0) : 0;
        return 0;
}

static int check_order(const cp_store_migration *m, size_t n, unsigned *ret_newest) {
        unsigned prev = 0;
        for (size_t i = 0; i < n; i++) {
                if (m[i].version <= prev)
                        return CP_ERROR(CP_EINVAL, "migrations must be strictly increasing");
                prev = m[i].version;
        }
        *ret_newest = prev;
        return 0;
}

/* One migration (or, at index n, only the version check) inside a write
 * transaction: the version is read again under the write lock, so of
 * several replicas starting at once exactly one applies each migration. */
static int migrate_one(cp_store *s, const cp_store_migration *m, unsigned newest, unsigned *cur) {
        int r = cp_store_begin(s);
        if (r < 0)
                return r;
        r = read_version(s, cur);
        if (r >= 0 && *cur > newest)
                r = CP_ERROR(CP_EVERSION,
                             "database '%s' has schema version %u, newer than this program's %u: refusing to use it "
                             "(upgrade the program, or restore a backup)",
                             s->name, *cur, newest);
        if (r >= 0 && m && m->version > *cur) {
                const char *sql = s->dialect == CP_STORE_PG && m->pg_sql ? m->pg_sql : m->sql;
                r = cp_store_exec(s, sql);
                if (r >= 0) {
                        char ins[96];
                        snprintf(ins, sizeof ins, "INSERT INTO schema_version(version) VALUES (%u)", m->version);
                        r = cp_store_exec(s, ins);
                }
                if (r < 0)
                        cp_error_wrap("migration %u: ", m->version);
                else
                        *cur = m->version;
        }
        if (r < 0) {
                cp_store_rollback(s);
                return r;
        }
        return cp_store_commit(s);
}

static int migrate(cp_store *s, const cp_store_migration *m, size_t n) {
        unsigned newest = 0, cur = 0;
        int r = check_order(m, n, &newest);
        if (r < 0)
                return r;
        const char *create = s->dialect == CP_STORE_PG
                                     ? "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY,"
                                       " applied_at TEXT NOT NULL DEFAULT (to_char(now() AT TIME ZONE 'UTC',"
                                       " 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')))"
                                     : "CREATE TABLE IF NOT EXISTS schema_version ("
                                       " version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL DEFAULT "
                                       "(strftime('%Y-%m-%dT%H:%M:%fZ','now')))";
        r = cp_store_begin(s);
        if (r < 0)
                return r;
        r = cp_store_exec(s, create);
        if (r < 0) {
                cp_store_rollback(s);
                return r;
        }
        if ((r = cp_store_commit(s)) < 0)
                return r;
        r = migrate_one(s, NULL, newest, &cur);
        for (size_t i = 0; r >= 0 && i < n; i++)
                if (m[i].version > cur)
                        r = migrate_one(s, &m[i], newest, &cur);
        if (r < 0)
                return r;
        s->version = cur;
        return 0;
}

/* A database that cannot be written (a read-only file, directory or file
 * system: SQLite then opens it read-only without a word) would fail every
 * write later, each a 500: refuse it at open, naming it.  The probe is a
 * real write (a table created and dropped in one transaction): WAL mode
 * also needs the directory for its -wal and -shm files. */
static int check_writable(cp_store *s, const char *path) {
        if (sqlite3_db_readonly(s->db, "main") == 1)
                return CP_ERROR(CP_ESTORAGE, "database '%s' is read-only (the file, its directory or the file system "
                                "is not writable)", path);
        int r = cp_store_exec(s, "BEGIN IMMEDIATE; CREATE TABLE IF NOT EXISTS cp_write_probe(x); "
                                 "DROP TABLE cp_write_probe; COMMIT;");
        if (r < 0) {
                (void) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
                return cp_error_wrap("database '%s' is not writable: ", path);
        }
        return 0;
}

static int lite_open(cp_store *s, const char *path) {
        snprintf(s->name, sizeof s->name, "%s", path);
        if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                            NULL) != SQLITE_OK) {
                int r = CP_ERROR(CP_ESTORAGE, "open: %s", s->db ? sqlite3_errmsg(s->db) : "out of memory");
                cp_error_wrap("database '%s': ", path);
                return r;
        }
        sqlite3_extended_result_codes(s->db, 1);
        sqlite3_busy_timeout(s->db, 5000);
        int r = check_writable(s, path);
        if (r < 0)
                return r;
        r = cp_store_exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
        if (r < 0)
                cp_error_wrap("database '%s': ", path);
        return r;
}

static bool has_prefix(const char *s, const char *p) {
        return strncmp(s, p, strlen(p)) == 0;
}

int cp_store_open(const char *where, const cp_store_migration *migrations, size_t n_migrations, cp_store **ret) {
        if (!where || !ret)
                return CP_ERROR(CP_EINVAL, "cp_store_open: NULL argument");
        bool pg = has_prefix(where, "postgresql://") || has_prefix(where, "postgres://");
        if (!pg && !has_prefix(where, "sqlite:") && strstr(where, "://"))
                return CP_ERROR(CP_EINVAL, "database '%.64s': unknown scheme (use sqlite:PATH or postgresql://...)",
                                strstr(where, "@") ? "(a URL with credentials)" : where);
        if (has_prefix(where, "sqlite:"))
                where += strlen("sqlite:");
        if (!*where)
                return CP_ERROR(CP_EINVAL, "database: empty path");
        cp_store *s = calloc(1, sizeof *s);
        if (!s)
                return cp_error_oom();
        pthread_mutexattr_t a;
        pthread_mutexattr_init(&a);
        pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
        pthread_mutex_init(&s->lock, &a);
        pthread_mutexattr_destroy(&a);
        const char *trace = getenv("CP_STORE_TRACE_MS");
        s->trace_ms = trace ? atoll(trace) : 0;
        s->dialect = pg ? CP_STORE_PG : CP_STORE_SQLITE;
        int r = pg ? cp_pg_open(s, where) : lite_open(s, where);
        if (r >= 0 && migrations)
                r = migrate(s, migrations, n_migrations);
        if (r < 0) {
                cp_store_close(s);
                return r;
        }
        *ret = s;
        return 0;
}

cp_store *cp_store_close(cp_store *s) {
        if (!s)
                return NULL;
        if (s->db)
                sqlite3_close_v2(s->db);
        if (s->pg)
                cp_pg_close(s);
        pthread_mutex_destroy(&s->lock);
        free(s);
        return NULL;
}
