/* SPDX-License-Identifier: Apache-2.0 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/cleanup.h"
#include "service/store.h"

struct cp_store {
        sqlite3 *db;
        pthread_mutex_t lock;
        unsigned depth;
        bool poisoned;
        unsigned version;
};

static int store_err(cp_store *s, const char *what) {
        return CP_ERROR(CP_ESTORAGE, "%s: %s", what, s && s->db ? sqlite3_errmsg(s->db) : "no database");
}

int cp_store_exec(cp_store *s, const char *sql) {
        char *msg = NULL;
        if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
                int r = CP_ERROR(CP_ESTORAGE, "SQL failed: %s", msg ? msg : sqlite3_errmsg(s->db));
                sqlite3_free(msg);
                return r;
        }
        return 0;
}

int cp_store_prepare(cp_store *s, const char *sql, sqlite3_stmt **ret) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
                return store_err(s, "prepare");
        *ret = st;
        return 0;
}

int cp_store_step(cp_store *s, sqlite3_stmt *st) {
        int r = sqlite3_step(st);
        if (r == SQLITE_ROW)
                return 1;
        if (r == SQLITE_DONE)
                return 0;
        return store_err(s, "step");
}

/* Best effort (ROLLBACK); the caller already reports the original failure. */
static void exec_quiet(cp_store *s, const char *sql) {
        sqlite3_exec(s->db, sql, NULL, NULL, NULL);
}

void cp_store_lock(cp_store *s) {
        pthread_mutex_lock(&s->lock);
}

void cp_store_unlock(cp_store *s) {
        pthread_mutex_unlock(&s->lock);
}

static int begin(cp_store *s, const char *sql) {
        cp_store_lock(s);
        if (s->depth == 0) {
                int r = cp_store_exec(s, sql);
                if (r < 0) {
                        cp_store_unlock(s);
                        return r;
                }
                s->poisoned = false;
        }
        s->depth++;
        return 0;
}

int cp_store_begin(cp_store *s) {
        return begin(s, "BEGIN IMMEDIATE");
}

int cp_store_begin_read(cp_store *s) {
        return begin(s, "BEGIN DEFERRED");
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
        } else
                s->poisoned = true;
        cp_store_unlock(s);
}

unsigned cp_store_schema_version(cp_store *s) {
        return s->version;
}

sqlite3 *cp_store_db(cp_store *s) {
        return s->db;
}

static int read_version(cp_store *s, unsigned *ret) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = cp_store_prepare(s, "SELECT COALESCE(MAX(version),0) FROM schema_version", &st);
        if (r < 0)
                return r;
        r = cp_store_step(s, st);
        if (r < 0)
                return r;
        *ret = r ? (unsigned) sqlite3_column_int64(st, 0) : 0;
        return 0;
}

static int migrate(cp_store *s, const cp_store_migration *m, size_t n) {
        int r = cp_store_exec(s, "CREATE TABLE IF NOT EXISTS schema_version ("
                                 " version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL DEFAULT "
                                 "(strftime('%Y-%m-%dT%H:%M:%fZ','now')))");
        if (r < 0)
                return r;
        unsigned cur;
        r = read_version(s, &cur);
        if (r < 0)
                return r;
        unsigned newest = 0, prev = 0;
        for (size_t i = 0; i < n; i++) {
                if (m[i].version <= prev)
                        return CP_ERROR(CP_EINVAL, "migrations must be strictly increasing");
                prev = newest = m[i].version;
        }
        if (cur > newest)
                return CP_ERROR(CP_EVERSION, "database schema version %u is newer than this program (%u)", cur,
                                newest);
        for (size_t i = 0; i < n; i++) {
                if (m[i].version <= cur)
                        continue;
                r = cp_store_begin(s);
                if (r < 0)
                        return r;
                r = cp_store_exec(s, m[i].sql);
                if (r >= 0) {
                        char sql[96];
                        snprintf(sql, sizeof sql, "INSERT INTO schema_version(version) VALUES (%u)", m[i].version);
                        r = cp_store_exec(s, sql);
                }
                if (r < 0) {
                        cp_store_rollback(s);
                        return cp_error_wrap("migration %u", m[i].version);
                }
                r = cp_store_commit(s);
                if (r < 0)
                        return r;
                cur = m[i].version;
        }
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

int cp_store_open(const char *path, const cp_store_migration *migrations, size_t n_migrations, cp_store **ret) {
        if (!path || !ret)
                return CP_ERROR(CP_EINVAL, "cp_store_open: NULL argument");
        cp_store *s = calloc(1, sizeof *s);
        if (!s)
                return cp_error_oom();
        pthread_mutexattr_t a;
        pthread_mutexattr_init(&a);
        pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
        pthread_mutex_init(&s->lock, &a);
        pthread_mutexattr_destroy(&a);
        int r;
        if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                            NULL) != SQLITE_OK) {
                r = store_err(s, "open");
                cp_error_wrap("database '%s': ", path);
                goto fail;
        }
        sqlite3_busy_timeout(s->db, 5000);
        r = check_writable(s, path);
        if (r < 0)
                goto fail;
        r = cp_store_exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
        if (r < 0) {
                cp_error_wrap("database '%s': ", path);
                goto fail;
        }
        r = migrate(s, migrations, n_migrations);
        if (r < 0)
                goto fail;
        *ret = s;
        return 0;
fail:
        cp_store_close(s);
        return r;
}

cp_store *cp_store_close(cp_store *s) {
        if (!s)
                return NULL;
        if (s->db)
                sqlite3_close_v2(s->db);
        pthread_mutex_destroy(&s->lock);
        free(s);
        return NULL;
}
