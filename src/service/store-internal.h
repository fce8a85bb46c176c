/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_SHARED_STORE_INTERNAL_H
#define CP_SHARED_STORE_INTERNAL_H

/* The two implementations behind store.h: store.c (the common part:
 * locking, transactions, migrations; and SQLite), store-pg.c (libpq). */

#include <pthread.h>
#include <sqlite3.h>

#include "service/store.h"

typedef struct cp_pgstmt cp_pgstmt;

struct cp_store {
        cp_store_dialect dialect;
        sqlite3 *db;            /* SQLite */
        struct pg_conn *pg;     /* PostgreSQL (PGconn) */
        char name[256];         /* for messages: path, or the URL without credentials */
        pthread_mutex_t lock;
        unsigned depth;
        bool poisoned;
        unsigned version;
        /* CP_STORE_TRACE_MS (issue 19): transactions held or waited for
         * longer are reported on stderr with the thread's name */
        int64_t trace_ms, t_wait_ns, t_held_ns;
};

struct cp_stmt {
        cp_store *s;
        int64_t changes;
        sqlite3_stmt *lite; /* SQLite */
        cp_pgstmt *pg;      /* PostgreSQL */
};

/* store-pg.c */
int cp_pg_open(cp_store *s, const char *url);
void cp_pg_close(cp_store *s);
int cp_pg_exec(cp_store *s, const char *sql);
int cp_pg_prepare(cp_store *s, const char *sql, cp_stmt *st);
int cp_pg_step(cp_store *s, cp_stmt *st);
void cp_pg_reset(cp_stmt *st);
void cp_pg_finalize(cp_stmt *st);
void cp_pg_bind(cp_stmt *st, int i, const void *v, size_t n, int kind);
const char *cp_pg_text(cp_stmt *st, int col);
const void *cp_pg_blob(cp_stmt *st, int col, size_t *ret_n);
bool cp_pg_is_null(cp_stmt *st, int col);
/* the URL as it may be shown: no user info, no query string */
void cp_pg_redact(const char *url, char *out, size_t size);

enum { CP_PG_NULL, CP_PG_TEXT, CP_PG_INT, CP_PG_BLOB };

#endif
