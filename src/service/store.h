/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_SHARED_STORE_H
#define CP_SHARED_STORE_H

/*
 * The store shared by confpool's daemons, with two implementations chosen
 * by where it is opened:
 *
 *   sqlite:PATH, or a plain PATH     one SQLite file (WAL journal,
 *                                     synchronous=FULL, foreign keys on, a
 *                                     busy timeout): the embedded default
 *   postgresql://... | postgres://... a PostgreSQL database through libpq
 *                                     (the scale-out store, docs/scale-out.md)
 *
 * Statements are prepared with positional parameters written `?` or `?N`
 * (SQLite's spelling; the PostgreSQL side rewrites them to `$N`), stepped row
 * by row, read with typed getters.  A parameter whose type the SQL does not
 * fix (`?2 IS NULL`) must be written `CAST(?2 AS TEXT)`; integers bind as
 * 64-bit, blobs as BYTEA.  A unique-key violation and a lost race between
 * two writers come back as CP_ECONFLICT, anything else as CP_ESTORAGE.
 *
 * Ordered schema migrations are recorded in a `schema_version` table, each
 * in its own transaction together with the version bump (a crash leaves
 * either the old or the new schema); a database whose schema is newer than
 * the program is refused (CP_EVERSION).  On PostgreSQL the migrations of
 * several replicas starting at once are serialised by the write lock below.
 *
 * One connection per cp_store.  cp_store_lock()/cp_store_unlock() serialise
 * users of that connection (a recursive mutex); transactions nest by depth
 * (only the outermost BEGIN/COMMIT reach the database).  A write
 * transaction (cp_store_begin) is exclusive among every process using the
 * database: SQLite's BEGIN IMMEDIATE, on PostgreSQL a transaction-scoped
 * advisory lock taken right after BEGIN, so a read-check-write (If-Match,
 * "is an operation active") means the same with one replica or several.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "confpool/error.h"

typedef enum cp_store_dialect {
        CP_STORE_SQLITE,
        CP_STORE_PG,
} cp_store_dialect;

typedef struct cp_store_migration {
        unsigned version;   /* strictly increasing, starting at 1 */
        const char *sql;    /* one or more statements (SQLite; also PostgreSQL when pg_sql is NULL) */
        const char *pg_sql; /* the PostgreSQL spelling, NULL when sql is portable */
} cp_store_migration;

typedef struct cp_store cp_store;
typedef struct cp_stmt cp_stmt;

/* Open (creating a SQLite file if needed) the store named by where (see
 * above) and apply the pending migrations.  CP_EVERSION if the database's
 * schema is newer than the newest migration given; CP_EINVAL for a URL of
 * another scheme.  Error messages name the database without any password. */
CP_WUR int cp_store_open(const char *where, const cp_store_migration *migrations, size_t n_migrations,
                         cp_store **ret);
cp_store *cp_store_close(cp_store *s);

unsigned cp_store_schema_version(cp_store *s);
cp_store_dialect cp_store_dialect_of(cp_store *s);
/* "sqlite" or "postgresql" */
const char *cp_store_kind(cp_store *s);
/* A round trip to the database (SELECT 1): 0 when it answers. */
CP_WUR int cp_store_ping(cp_store *s);

void cp_store_lock(cp_store *s);
void cp_store_unlock(cp_store *s);

/* Begin a write transaction (exclusive, see above) / COMMIT / ROLLBACK
 * (nesting by depth; a rollback at any depth poisons the outer transaction,
 * whose commit then rolls back and returns CP_ESTORAGE). */
CP_WUR int cp_store_begin(cp_store *s);
/* The same for readers: no write lock (SQLite deferred BEGIN, PostgreSQL
 * READ COMMITTED without the advisory lock). */
CP_WUR int cp_store_begin_read(cp_store *s);
CP_WUR int cp_store_commit(cp_store *s);
void cp_store_rollback(cp_store *s);
/* Depth of the current transaction (0: none). */
unsigned cp_store_tx_depth(cp_store *s);

/* Run SQL without parameters or results (one or more statements). */
CP_WUR int cp_store_exec(cp_store *s, const char *sql);
/* Prepare a statement; errors carry the database's message. */
CP_WUR int cp_store_prepare(cp_store *s, const char *sql, cp_stmt **ret);
/* Execute (at the first step) and move to the next row: 1 for a row, 0 when
 * done, negative cp_err. */
CP_WUR int cp_store_step(cp_store *s, cp_stmt *st);
/* Forget the results so that the statement can be bound and run again. */
void cp_stmt_reset(cp_stmt *st);
void cp_stmt_finalize(cp_stmt *st);

/* Parameters are 1-based and copied at bind time; a NULL text or blob binds NULL. */
void cp_stmt_bind_text(cp_stmt *st, int i, const char *v);
/* n bytes of text (no NUL needed) */
void cp_stmt_bind_textn(cp_stmt *st, int i, const char *v, size_t n);
void cp_stmt_bind_int64(cp_stmt *st, int i, int64_t v);
void cp_stmt_bind_blob(cp_stmt *st, int i, const void *v, size_t n);
void cp_stmt_bind_null(cp_stmt *st, int i);

/* Columns of the current row are 0-based; a text is NULL for SQL NULL and
 * valid until the next step; a blob's bytes likewise. */
const char *cp_stmt_text(cp_stmt *st, int col);
int64_t cp_stmt_int64(cp_stmt *st, int col);
int cp_stmt_int(cp_stmt *st, int col);
const void *cp_stmt_blob(cp_stmt *st, int col);
size_t cp_stmt_bytes(cp_stmt *st, int col);
bool cp_stmt_is_null(cp_stmt *st, int col);
/* Rows inserted, changed or deleted by the statement's last execution. */
int64_t cp_stmt_changes(cp_stmt *st);

static inline void cp_stmt_finalizep(cp_stmt **st) {
        if (*st)
                cp_stmt_finalize(*st);
}
#define _cleanup_stmt_ __attribute__((cleanup(cp_stmt_finalizep)))

#endif
