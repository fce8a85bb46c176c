/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_SHARED_STORE_H
#define CP_SHARED_STORE_H

/*
 * A thin SQLite store shared by confpool's daemons: one database file in a
 * state directory, WAL journal, synchronous=FULL, foreign keys on, a busy
 * timeout, and ordered schema migrations recorded in a `schema_version`
 * table (each migration runs in its own transaction together with the
 * version bump, so a crash leaves either the old or the new schema).
 *
 * One connection per cp_store.  cp_store_lock()/cp_store_unlock() serialise
 * users of that connection (a recursive mutex); transactions nest by depth
 * (only the outermost BEGIN/COMMIT reach SQLite).
 */

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>

#include "confpool/error.h"

typedef struct cp_store_migration {
        unsigned version; /* strictly increasing, starting at 1 */
        const char *sql;  /* one or more statements */
} cp_store_migration;

typedef struct cp_store cp_store;

/* Open (creating if needed) the database at path and apply the pending
 * migrations.  CP_EVERSION if the file's schema is newer than the newest
 * migration given. */
CP_WUR int cp_store_open(const char *path, const cp_store_migration *migrations, size_t n_migrations,
                         cp_store **ret);
cp_store *cp_store_close(cp_store *s);

unsigned cp_store_schema_version(cp_store *s);
sqlite3 *cp_store_db(cp_store *s);

void cp_store_lock(cp_store *s);
void cp_store_unlock(cp_store *s);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK (nesting by depth; a rollback at any
 * depth poisons the outer transaction, whose commit then rolls back and
 * returns CP_ESTORAGE). */
CP_WUR int cp_store_begin(cp_store *s);
/* The same with a deferred BEGIN (for readers: no RESERVED lock unless the
 * transaction writes; safe because this connection is serialised). */
CP_WUR int cp_store_begin_read(cp_store *s);
CP_WUR int cp_store_commit(cp_store *s);
void cp_store_rollback(cp_store *s);

/* Run SQL without results. */
CP_WUR int cp_store_exec(cp_store *s, const char *sql);
/* Prepare a statement; errors carry SQLite's message. */
CP_WUR int cp_store_prepare(cp_store *s, const char *sql, sqlite3_stmt **ret);
/* sqlite3_step wrapper: 1 for a row, 0 when done, negative cp_err. */
CP_WUR int cp_store_step(cp_store *s, sqlite3_stmt *st);

static inline void cp_store_finalizep(sqlite3_stmt **st) {
        if (*st)
                sqlite3_finalize(*st);
}
#define _cleanup_stmt_ __attribute__((cleanup(cp_store_finalizep)))

#endif
