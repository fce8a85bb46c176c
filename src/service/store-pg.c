/* SPDX-License-Identifier: Apache-2.0 */
/* The PostgreSQL side of store.h, on libpq: statements are rewritten from
 * SQLite's `?`/`?N` to `$N`, run with PQexecParams at the first step (text
 * results; integers as decimal text, blobs as binary BYTEA parameters),
 * and their rows read from the PGresult. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/cleanup.h"
#include "service/store-internal.h"

#define BYTEAOID 17
#define INT8OID 20

struct cp_pgstmt {
        char *sql;
        int nparams;
        char **vals;
        int *lens;
        int *fmts;
        Oid *types;
        PGresult *res;
        int row; /* -1 before the first step */
        int nrows;
        unsigned char **blobs; /* per column of the current row, decoded BYTEA */
        size_t *blob_lens;
};

void cp_pg_redact(const char *url, char *out, size_t size) {
        const char *rest = strstr(url, "://");
        rest = rest ? rest + 3 : url;
        const char *at = strchr(rest, '@'), *slash = strchr(rest, '/');
        if (at && (!slash || at < slash))
                rest = at + 1;
        size_t scheme = (size_t) (strstr(url, "://") ? strstr(url, "://") + 3 - url : 0);
        size_t keep = strcspn(rest, "?");
        snprintf(out, size, "%.*s%.*s", (int) scheme, url, (int) keep, rest);
}

/* libpq's message without its trailing newline */
static int pg_err(cp_store *s, const PGresult *res, const char *what) {
        const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(s->pg);
        if (!msg || !*msg)
                msg = PQerrorMessage(s->pg);
        int n = (int) strcspn(msg, "\n");
        int code = CP_ESTORAGE;
        if (state && (!strcmp(state, "23505") || !strcmp(state, "40001") || !strcmp(state, "40P01")))
                code = CP_ECONFLICT;
        if (s->depth > 0)
                s->poisoned = true; /* PostgreSQL aborted the transaction */
        return CP_ERROR(code, "%s: %.*s", what, n, msg);
}

/* Every connection's settings.  idle_in_transaction_session_timeout: the
 * server ends the session of a client that sits inside a transaction this
 * long, releasing its locks.  A replica frozen mid-transaction (SIGSTOP, a
 * paused VM) held the write lock (the transaction-scoped advisory lock)
 * until it ran again: every other replica's next write waited on it, and
 * with it every request on their one connection (cli-pg-failover-tdx, phase
 * 3: the cluster stood still for as long as the pause).  5 s is far above
 * any transaction's think time here and well under the 15 s heartbeat
 * deadline; the frozen replica's transaction fails when it resumes (its
 * connection is opened again between transactions, ensure_conn). */
#define PG_SESSION_SETTINGS \
        "SET client_min_messages = warning; SET TIME ZONE 'UTC'; SET idle_in_transaction_session_timeout = '5s'"

static void no_notices(void *arg, const char *msg) {
        (void) arg;
        (void) msg;
}

int cp_pg_open(cp_store *s, const char *url) {
        cp_pg_redact(url, s->name, sizeof s->name);
        s->pg = PQconnectdb(url);
        if (!s->pg)
                return cp_error_oom();
        if (PQstatus(s->pg) != CONNECTION_OK) {
                const char *m = PQerrorMessage(s->pg);
                return CP_ERROR(CP_ESTORAGE, "database '%s': cannot connect: %.*s", s->name, (int) strcspn(m, "\n"),
                                m);
        }
        PQsetNoticeProcessor(s->pg, no_notices, NULL);
        int r = cp_pg_exec(s, PG_SESSION_SETTINGS);
        if (r < 0)
                cp_error_wrap("database '%s': ", s->name);
        return r;
}

void cp_pg_close(cp_store *s) {
        PQfinish(s->pg);
        s->pg = NULL;
}

/* A connection the server dropped (a restart, a failover to a promoted
 * standby) is opened again, but only between transactions: inside one the
 * transaction is lost and the caller hears so. */
static int ensure_conn(cp_store *s) {
        if (PQstatus(s->pg) == CONNECTION_OK)
                return 0;
        if (s->depth > 0) {
                s->poisoned = true;
                return CP_ERROR(CP_ESTORAGE, "database '%s': connection lost inside a transaction", s->name);
        }
        PQreset(s->pg);
        if (PQstatus(s->pg) != CONNECTION_OK)
                return CP_ERROR(CP_ESTORAGE, "database '%s': connection lost, reconnect failed", s->name);
        PQsetNoticeProcessor(s->pg, no_notices, NULL);
        PGresult *res = PQexec(s->pg, PG_SESSION_SETTINGS);
        PQclear(res);
        return 0;
}

int cp_pg_exec(cp_store *s, const char *sql) {
        cp_store_lock(s);
        int r = ensure_conn(s);
        if (r >= 0) {
                PGresult *res = PQexec(s->pg, sql);
                ExecStatusType t = PQresultStatus(res);
                if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK)
                        r = pg_err(s, res, "SQL failed");
                else if (!strcmp(sql, "COMMIT") && !strcmp(PQcmdStatus(res), "ROLLBACK"))
                        r = CP_ERROR(CP_ESTORAGE, "commit: the transaction was rolled back");
                PQclear(res);
        }
        cp_store_unlock(s);
        return r;
}

/* `?N` -> `$N`, `?` -> `$(highest so far + 1)` as SQLite numbers them;
 * quoted strings and identifiers are copied as they are. */
static int rewrite(const char *sql, char **ret, int *ret_n) {
        size_t n = strlen(sql);
        char *out = malloc(n * 4 + 1), *o = out;
        if (!out)
                return cp_error_oom();
        int hi = 0;
        char quote = 0;
        for (const char *p = sql; *p; p++) {
                if (quote) {
                        if (*p == quote)
                                quote = 0;
                        *o++ = *p;
                } else if (*p == '\'' || *p == '"') {
                        quote = *p;
                        *o++ = *p;
                } else if (*p == '?') {
                        int k;
                        if (p[1] >= '0' && p[1] <= '9') {
                                char *end;
                                k = (int) strtol(p + 1, &end, 10);
                                p = end - 1;
                        } else
                                k = hi + 1;
                        if (k < 1 || k > 999) {
                                free(out);
                                return CP_ERROR(CP_EINVAL, "statement parameter ?%d out of range", k);
                        }
                        if (k > hi)
                                hi = k;
                        o += sprintf(o, "$%d", k);
                } else
                        *o++ = *p;
        }
        *o = 0;
        *ret = out;
        *ret_n = hi;
        return 0;
}

int cp_pg_prepare(cp_store *s, const char *sql, cp_stmt *st) {
        (void) s;
        cp_pgstmt *p = calloc(1, sizeof *p);
        if (!p)
                return cp_error_oom();
        st->pg = p;
        p->row = -1;
        int r = rewrite(sql, &p->sql, &p->nparams);
        if (r < 0)
                return r;
        size_t k = (size_t) (p->nparams ? p->nparams : 1);
        p->vals = calloc(k, sizeof *p->vals);
        p->lens = calloc(k, sizeof *p->lens);
        p->fmts = calloc(k, sizeof *p->fmts);
        p->types = calloc(k, sizeof *p->types);
        if (!p->vals || !p->lens || !p->fmts || !p->types)
                return cp_error_oom();
        return 0;
}

void cp_pg_bind(cp_stmt *st, int i, const void *v, size_t n, int kind) {
        cp_pgstmt *p = st->pg;
        if (i < 1 || i > p->nparams)
                return;
        i--;
        free(p->vals[i]);
        p->vals[i] = NULL;
        p->lens[i] = 0;
        p->fmts[i] = 0;
        p->types[i] = 0;
        if (kind == CP_PG_NULL)
                return;
        p->vals[i] = malloc(n + 1);
        if (!p->vals[i])
                return; /* binds NULL; the statement then fails its NOT NULL or reads nothing */
        if (n)
                memcpy(p->vals[i], v, n);
        p->vals[i][n] = 0;
        p->lens[i] = (int) n;
        if (kind == CP_PG_BLOB) {
                p->fmts[i] = 1;
                p->types[i] = BYTEAOID;
        } else if (kind == CP_PG_INT)
                p->types[i] = INT8OID;
}

static void clear_blobs(cp_pgstmt *p) {
        if (!p->blobs || !p->res)
                return;
        for (int c = 0; c < PQnfields(p->res); c++) {
                if (p->blobs[c])
                        PQfreemem(p->blobs[c]);
                p->blobs[c] = NULL;
        }
}

void cp_pg_reset(cp_stmt *st) {
        cp_pgstmt *p = st->pg;
        clear_blobs(p);
        free(p->blobs);
        free(p->blob_lens);
        p->blobs = NULL;
        p->blob_lens = NULL;
        PQclear(p->res);
        p->res = NULL;
        p->row = -1;
        p->nrows = 0;
}

void cp_pg_finalize(cp_stmt *st) {
        cp_pgstmt *p = st->pg;
        cp_pg_reset(st);
        for (int i = 0; p->vals && i < p->nparams; i++)
                free(p->vals[i]);
        free(p->vals);
        free(p->lens);
        free(p->fmts);
        free(p->types);
        free(p->sql);
        free(p);
        st->pg = NULL;
}

static int execute(cp_store *s, cp_stmt *st) {
        cp_pgstmt *p = st->pg;
        cp_store_lock(s);
        int r = ensure_conn(s);
        if (r >= 0) {
                p->res = PQexecParams(s->pg, p->sql, p->nparams, p->types, (const char *const *) p->vals, p->lens,
                                      p->fmts, 0);
                ExecStatusType t = PQresultStatus(p->res);
                if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK) {
                        r = pg_err(s, p->res, "step");
                        PQclear(p->res);
                        p->res = NULL;
                }
        }
        cp_store_unlock(s);
        if (r < 0)
                return r;
        p->nrows = PQntuples(p->res);
        const char *ch = PQcmdTuples(p->res);
        st->changes = ch && *ch ? strtoll(ch, NULL, 10) : 0;
        int nf = PQnfields(p->res);
        p->blobs = calloc((size_t) (nf ? nf : 1), sizeof *p->blobs);
        p->blob_lens = calloc((size_t) (nf ? nf : 1), sizeof *p->blob_lens);
        if (!p->blobs || !p->blob_lens)
                return cp_error_oom();
        return 0;
}

int cp_pg_step(cp_store *s, cp_stmt *st) {
        cp_pgstmt *p = st->pg;
        if (!p->res) {
                int r = execute(s, st);
                if (r < 0)
                        return r;
        }
        clear_blobs(p);
        if (p->row + 1 >= p->nrows) {
                p->row = p->nrows;
                return 0;
        }
        p->row++;
        return 1;
}

static bool valid(cp_pgstmt *p, int col) {
        return p->res && p->row >= 0 && p->row < p->nrows && col >= 0 && col < PQnfields(p->res);
}

bool cp_pg_is_null(cp_stmt *st, int col) {
        cp_pgstmt *p = st->pg;
        return !valid(p, col) || PQgetisnull(p->res, p->row, col);
}

const char *cp_pg_text(cp_stmt *st, int col) {
        cp_pgstmt *p = st->pg;
        if (cp_pg_is_null(st, col))
                return NULL;
        return PQgetvalue(p->res, p->row, col);
}

const void *cp_pg_blob(cp_stmt *st, int col, size_t *ret_n) {
        cp_pgstmt *p = st->pg;
        if (cp_pg_is_null(st, col))
                return NULL;
        if (PQftype(p->res, col) != BYTEAOID) {
                if (ret_n)
                        *ret_n = (size_t) PQgetlength(p->res, p->row, col);
                return PQgetvalue(p->res, p->row, col);
        }
        if (!p->blobs[col]) {
                size_t n = 0;
                p->blobs[col] = PQunescapeBytea((const unsigned char *) PQgetvalue(p->res, p->row, col), &n);
                p->blob_lens[col] = n;
        }
        if (ret_n)
                *ret_n = p->blob_lens[col];
        return p->blobs[col];
}
