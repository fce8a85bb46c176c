/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "basic/cleanup.h"
#include "controlplane/cp-store.h"

/* Migration 1 in both dialects: the same tables, 64-bit integers spelled
 * BIGINT for PostgreSQL (SQLite's INTEGER is already 64-bit). */
#define CP_MIGRATION_1(INT)                                                                                         \
        "CREATE TABLE resources ("                                                                                  \
        " id_lc TEXT PRIMARY KEY, kind TEXT NOT NULL, sub TEXT NOT NULL, rg TEXT, parent_lc TEXT,"                  \
        " name TEXT NOT NULL, location TEXT, body TEXT NOT NULL, etag TEXT NOT NULL,"                               \
        " seq " INT " NOT NULL);"                                                                                   \
        "CREATE INDEX resources_parent ON resources(parent_lc, kind);"                                              \
        "CREATE INDEX resources_sub ON resources(sub, kind);"                                                       \
        "CREATE TABLE operations ("                                                                                 \
        " id TEXT PRIMARY KEY, sub TEXT NOT NULL, location TEXT NOT NULL, resource_lc TEXT NOT NULL,"               \
        " resource TEXT NOT NULL, kind TEXT NOT NULL, action TEXT NOT NULL, status TEXT NOT NULL,"                  \
        " start_time TEXT NOT NULL, end_time TEXT, error_code TEXT, error_message TEXT,"                             \
        " api_version TEXT, seq " INT " NOT NULL);"                                                                 \
        "CREATE INDEX operations_status ON operations(status, seq);"                                                \
        "CREATE TABLE machines ("                                                                                   \
        " pool_lc TEXT NOT NULL, pool TEXT NOT NULL, name TEXT NOT NULL, idx " INT " NOT NULL,"                     \
        " handle TEXT NOT NULL DEFAULT '', state TEXT NOT NULL, image TEXT NOT NULL, ip TEXT NOT NULL,"             \
        " created TEXT NOT NULL, delete_requested " INT " NOT NULL DEFAULT 0,"                                      \
        " PRIMARY KEY(pool_lc, name));"                                                                             \
        "CREATE TABLE features (sub TEXT NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL, state TEXT NOT NULL,"      \
        " changed_ms " INT " NOT NULL, PRIMARY KEY(sub, ns, name));"                                                \
        "CREATE TABLE providers (sub TEXT NOT NULL, ns TEXT NOT NULL, state TEXT NOT NULL,"                         \
        " PRIMARY KEY(sub, ns));"                                                                                   \
        "CREATE TABLE tokens (id TEXT PRIMARY KEY, sha256 TEXT NOT NULL, created TEXT NOT NULL);"

/* The JSON field p of body as text (PostgreSQL) */
#define PG_FIELD(p) "(body::json #>> '{properties," p "}')"

static const cp_store_migration migrations[] = {
        {1, CP_MIGRATION_1("INTEGER"), CP_MIGRATION_1("BIGINT")},
        {2, "CREATE INDEX operations_resource ON operations(resource_lc, status);", NULL},
        /* summary columns of the document for quota / system-pool queries */
        {3,
         "ALTER TABLE resources ADD COLUMN vm_size TEXT;"
         "ALTER TABLE resources ADD COLUMN node_count INTEGER;"
         "ALTER TABLE resources ADD COLUMN mode TEXT;"
         "ALTER TABLE resources ADD COLUMN state TEXT;"
         "UPDATE resources SET vm_size = json_extract(body, '$.properties.vmSize'),"
         " node_count = json_extract(body, '$.properties.count'),"
         " mode = json_extract(body, '$.properties.mode'),"
         " state = json_extract(body, '$.properties.provisioningState');"
         /* covering indexes: the queries never touch the (large) body */
         "CREATE INDEX resources_usage ON resources(kind, sub, location, state, vm_size, node_count, id_lc);"
         "CREATE INDEX resources_system ON resources(parent_lc, kind, mode, state, id_lc);",
         "ALTER TABLE resources ADD COLUMN vm_size TEXT, ADD COLUMN node_count BIGINT, ADD COLUMN mode TEXT,"
         " ADD COLUMN state TEXT;"
         "UPDATE resources SET vm_size = " PG_FIELD("vmSize") ","
         " node_count = CASE WHEN " PG_FIELD("count") " ~ '^-?[0-9]{1,18}$' THEN " PG_FIELD("count") "::bigint END,"
         " mode = " PG_FIELD("mode") ", state = " PG_FIELD("provisioningState") ";"
         "CREATE INDEX resources_usage ON resources(kind, sub, location, state, vm_size, node_count, id_lc);"
         "CREATE INDEX resources_system ON resources(parent_lc, kind, mode, state, id_lc);"},
        /* service principals (cp-aad.c): PBKDF2-HMAC-SHA256 of the secret */
        {4,
         "CREATE TABLE principals (app_id TEXT PRIMARY KEY, name TEXT NOT NULL, sub TEXT NOT NULL,"
         " salt TEXT NOT NULL, iterations INTEGER NOT NULL, hash TEXT NOT NULL, created TEXT NOT NULL);",
         NULL},
        /* the Kubernetes version a machine was built with (issue 14): the
         * rows from before it take their pool's current version, so an
         * upgraded confpoold does not roll every node of every pool */
        {5,
         "ALTER TABLE machines ADD COLUMN version TEXT NOT NULL DEFAULT '';"
         "UPDATE machines SET version = coalesce((SELECT json_extract(r.body,"
         " '$.properties.currentOrchestratorVersion') FROM resources r WHERE r.id_lc = machines.pool_lc), '');",
         "ALTER TABLE machines ADD COLUMN version TEXT NOT NULL DEFAULT '';"
         "UPDATE machines SET version = coalesce((SELECT r.body::json #>> '{properties,currentOrchestratorVersion}'"
         " FROM resources r WHERE r.id_lc = machines.pool_lc), '');"},
        /* clusters' OIDC issuers (issue 14): service-account signing keys,
         * the newest and the one before it (rotate-signing-keys) */
        {6,
         "CREATE TABLE sa_keys (uid TEXT NOT NULL, cluster_lc TEXT NOT NULL, seq INTEGER NOT NULL,"
         " pem TEXT NOT NULL, created TEXT NOT NULL, PRIMARY KEY(uid, seq));"
         "CREATE INDEX sa_keys_cluster ON sa_keys(cluster_lc);",
         NULL},
};

const cp_store_migration *cp_cpstore_migrations(size_t *ret_n) {
        *ret_n = CP_ELEMENTSOF(migrations);
        return migrations;
}

int cp_cpstore_open(const char *db_path, cp_store **ret) {
        return cp_store_open(db_path, migrations, CP_ELEMENTSOF(migrations), ret);
}

void cp_id_lower(const char *in, char *out, size_t size) {
        size_t i = 0;
        for (; in && in[i] && i + 1 < size; i++)
                out[i] = (char) tolower((unsigned char) in[i]);
        if (size)
                out[i] = 0;
}

int64_t cp_now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cp_now_rfc3339(char buf[40]) {
        int64_t ms = cp_now_ms();
        time_t t = (time_t) (ms / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        char d[32];
        strftime(d, sizeof d, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(buf, 40, "%s.%03dZ", d, (int) (ms % 1000));
}

static void bind_text(cp_stmt *st, int i, const char *v) {
        cp_stmt_bind_text(st, i, v);
}

/* vm_size, node_count, mode, state from properties */
static void bind_summary(cp_stmt *st, int i, const json_t *body) {
        const json_t *p = json_object_get(body, "properties"), *count = json_object_get(p, "count");
        bind_text(st, i, json_string_value(json_object_get(p, "vmSize")));
        if (json_is_integer(count))
                cp_stmt_bind_int64(st, i + 1, json_integer_value(count));
        else
                cp_stmt_bind_null(st, i + 1);
        bind_text(st, i + 2, json_string_value(json_object_get(p, "mode")));
        bind_text(st, i + 3, json_string_value(json_object_get(p, "provisioningState")));
}

static void col_copy(cp_stmt *st, int i, char *out, size_t size) {
        const char *v = cp_stmt_text(st, i);
        snprintf(out, size, "%s", v ? v : "");
}

static int run(cp_store *s, cp_stmt *st) {
        int r = cp_store_step(s, st);
        return r < 0 ? r : 0;
}

int cp_res_get(cp_store *s, const char *id, json_t **ret_body, char ret_etag[40]) {
        char key[1024];
        cp_id_lower(id, key, sizeof key);
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(s, "SELECT body, etag FROM resources WHERE id_lc = ?", &st);
        if (r < 0)
                return r;
        bind_text(st, 1, key);
        r = cp_store_step(s, st);
        if (r < 0)
                return r;
        if (r == 0)
                return CP_ERROR(CP_ENOTFOUND, "resource not found");
        json_error_t je;
        json_t *b = json_loads(cp_stmt_text(st, 0), 0, &je);
        if (!b)
                return CP_ERROR(CP_ESTORAGE, "stored resource is not JSON: %s", je.text);
        if (ret_etag)
                col_copy(st, 1, ret_etag, 40);
        if (ret_body)
                *ret_body = b;
        else
                json_decref(b);
        return 0;
}

int cp_res_get_raw(cp_store *s, const char *id, char **ret, size_t *ret_len, char ret_etag[40]) {
        char key[1024];
        cp_id_lower(id, key, sizeof key);
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(s, "SELECT body, etag FROM resources WHERE id_lc = ?", &st);
        if (r < 0)
                return r;
        bind_text(st, 1, key);
        r = cp_store_step(s, st);
        if (r < 0)
                return r;
        if (r == 0)
                return CP_ERROR(CP_ENOTFOUND, "resource not found");
        size_t n = (size_t) cp_stmt_bytes(st, 0);
        char *b = malloc(n + 1);
        if (!b)
                return cp_error_oom();
        memcpy(b, cp_stmt_text(st, 0), n);
        b[n] = 0;
        if (ret_etag)
                col_copy(st, 1, ret_etag, 40);
        *ret = b;
        *ret_len = n;
        return 0;
}

int cp_res_put(cp_store *s, const cp_res_key *k, json_t *body, const char *etag) {
        char key[1024], parent[1024];
        cp_id_lower(k->id, key, sizeof key);
        cp_id_lower(k->parent, parent, sizeof parent);
        _cleanup_free_ char *text = json_dumps(body, JSON_COMPACT);
        if (!text)
                return cp_error_oom();
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(s,
                                 "INSERT INTO resources(id_lc, kind, sub, rg, parent_lc, name, location, body, etag, "
                                 "seq, vm_size, node_count, mode, state) VALUES (?,?,lower(?),lower(?),?,?,?,?,?, "
                                 "(SELECT COALESCE(MAX(seq),0)+1 FROM resources),?,?,?,?) "
                                 "ON CONFLICT(id_lc) DO UPDATE SET body=excluded.body, etag=excluded.etag, "
                                 "vm_size=excluded.vm_size, node_count=excluded.node_count, mode=excluded.mode, "
                                 "state=excluded.state",
                                 &st);
        if (r < 0)
                return r;
        bind_text(st, 1, key);
        bind_text(st, 2, k->kind);
        bind_text(st, 3, k->sub);
        bind_text(st, 4, k->rg);
        bind_text(st, 5, k->parent ? parent : NULL);
        bind_text(st, 6, k->name);
        bind_text(st, 7, k->location);
        bind_text(st, 8, text);
        bind_text(st, 9, etag);
        bind_summary(st, 10, body);
        return run(s, st);
}

int cp_res_update(cp_store *s, const char *id, json_t *body, const char *etag) {
        char key[1024];
        cp_id_lower(id, key, sizeof key);
        _cleanup_free_ char *text = json_dumps(body, JSON_COMPACT);
        if (!text)
                return cp_error_oom();
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(s,
                                 "UPDATE resources SET body = ?, etag = COALESCE(?, etag), vm_size = ?, node_count = ?, "
                                 "mode = ?, state = ? WHERE id_lc = ?",
                                 &st);
        if (r < 0)
                return r;
        bind_text(st, 1, text);
        bind_text(st, 2, etag);
        bind_summary(st, 3, body);
        bind_text(st, 7, key);
        r = run(s, st);
        if (r < 0)
                return r;
        if (cp_stmt_changes(st) == 0)
                return CP_ERROR(CP_ENOTFOUND, "resource not found");
        return 0;
}

int cp_res_delete(cp_store *s, const char *id) {
        char key[1024];
        cp_id_lower(id, key, sizeof key);
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(s, "DELETE FROM resources WHERE id_lc = ?", &st);
        if (r < 0)
                return r;
        bind_text(st, 1, key);
        return run(s, st);
}

/* Step st to the end, collecting column 0 (a stored JSON body) of each row. */
static int collect_bodies(cp_store *s, cp_stmt *st, json_t **ret) {
        json_t *a = json_array();
        int r;
        if (!a)
                return cp_error_oom();
        while ((r = cp_store_step(s, st)) > 0) {
                json_t *b = json_loads(cp_stmt_text(st, 0), 0, NULL);
                if (!b || json_array_append_new(a, b) < 0) {
                        json_decref(a);
                        return CP_ERROR(CP_ESTORAGE, "stored resource is not JSON");
                }
        }
        if (r < 0) {
                json_decref(a);
                return r;
        }
        *ret = a;
        return 0;
}

/* The resource-list query (kind, optional subscription, group and parent),
 * shared by the JSON and raw variants. */
static int prepare_res_list(cp_store *s, const char *kind, const char *sub, const char *rg, const char *parent,
                            cp_stmt **ret) {
        char p[1024];
        cp_id_lower(parent, p, sizeof p);
        cp_stmt *st = NULL;
        int r = cp_store_prepare(s,
                                 "SELECT body FROM resources WHERE kind = ? AND (CAST(?2 AS TEXT) IS NULL OR sub = lower(?2)) "
                                 "AND (CAST(?3 AS TEXT) IS NULL OR rg = lower(?3)) AND (CAST(?4 AS TEXT) IS NULL OR "
                                 "parent_lc = ?4) ORDER BY seq",
                                 &st);
        if (r < 0)
                return r;
        bind_text(st, 1, kind);
        bind_text(st, 2, sub);
        bind_text(st, 3, rg);
        bind_text(st, 4, parent ? p : NULL);
        *ret = st;
        return 0;
}

int cp_res_list(cp_store *s, const char *kind, const char *sub, const char *rg, const char *parent, json_t **ret) {
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = prepare_res_list(s, kind, sub, rg, parent, &st);
        if (r < 0)
                return r;
        return collect_bodies(s, st, ret);
}

int cp_res_list_location(cp_store *s, const char *kind, const char *sub, const char *location, json_t **ret) {
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(s, "SELECT body FROM resources WHERE kind = ? AND sub = lower(?) AND location = ? ORDER BY seq",
                                 &st);
        if (r < 0)
                return r;
        bind_text(st, 1, kind);
        bind_text(st, 2, sub);
        bind_text(st, 3, location);
        return collect_bodies(s, st, ret);
}

int cp_res_list_raw(cp_store *s, const char *kind, const char *sub, const char *rg, const char *parent, char **ret,
                    size_t *ret_len) {
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = prepare_res_list(s, kind, sub, rg, parent, &st);
        if (r < 0)
                return r;
        size_t cap = 4096, len = 1;
        char *buf = malloc(cap);
        if (!buf)
                return cp_error_oom();
        buf[0] = '[';
        while ((r = cp_store_step(s, st)) > 0) {
                const char *b = cp_stmt_text(st, 0);
                size_t bl = (size_t) cp_stmt_bytes(st, 0);
                if (len + bl + 3 > cap) {
                        while (len + bl + 3 > cap)
                                cap *= 2;
                        char *nb = realloc(buf, cap);
                        if (!nb) {
                                free(buf);
                                return cp_error_oom();
                        }
                        buf = nb;
                }
                if (len > 1)
                        buf[len++] = ',';
                memcpy(buf + len, b, bl);
                len += bl;
        }
        if (r < 0) {
                free(buf);
                return r;
        }
        buf[len++] = ']';
        buf[len] = 0;
        *ret = buf;
        *ret_len = len;
        return 0;
}

int cp_res_pool_usage(cp_store *s, const char *sub, const char *location, const char *exclude_id, cp_pool_usage_fn fn,
                      void *userdata) {
        char ex[1024];
        cp_id_lower(exclude_id, ex, sizeof ex);
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(s,
                                 "SELECT vm_size, SUM(node_count) FROM resources "
                                 "WHERE kind = 'pool' AND sub = lower(?) AND location = ? AND id_lc <> ? AND "
                                 "COALESCE(state, '') <> 'Deleting' GROUP BY 1",
                                 &st);
        if (r < 0)
                return r;
        bind_text(st, 1, sub);
        bind_text(st, 2, location);
        bind_text(st, 3, ex);
        while ((r = cp_store_step(s, st)) > 0) {
                const char *vm = cp_stmt_text(st, 0);
                if (vm)
                        fn(userdata, vm, cp_stmt_int64(st, 1));
        }
        return r < 0 ? r : 0;
}

int cp_res_count_system_pools(cp_store *s, const char *cluster_id, const char *exclude_id, unsigned *ret) {
        char p[1024], ex[1024];
        cp_id_lower(cluster_id, p, sizeof p);
        cp_id_lower(exclude_id, ex, sizeof ex);
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(s,
                                 "SELECT COUNT(*) FROM resources WHERE kind = 'pool' AND parent_lc = ? AND id_lc <> ? "
                                 "AND mode = 'System' AND COALESCE(state, '') <> 'Deleting'",
                                 &st);
        if (r < 0)
                return r;
        bind_text(st, 1, p);
        bind_text(st, 2, ex);
        r = cp_store_step(s, st);
        if (r < 0)
                return r;
        *ret = (unsigned) cp_stmt_int64(st, 0);
        return 0;
}

int cp_res_count(cp_store *s, const char *kind, const char *parent, unsigned *ret) {
        char p[1024];
        cp_id_lower(parent, p, sizeof p);
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(s, "SELECT COUNT(*) FROM resources WHERE kind = ? AND parent_lc = ?", &st);
        if (r < 0)
                return r;
        bind_text(st, 1, kind);
        bind_text(st, 2, p);
        r = cp_store_step(s, st);
        if (r < 0)
                return r;
        *ret = (unsigned) cp_stmt_int64(st, 0);
        return 0;
}

/* ---- operations ---- */

static const char op_cols[] = "id, sub, location, resource, kind, action, status, start_time, "
                              "COALESCE(end_time,''), COALESCE(error_code,''), COALESCE(error_message,''), "
                              "COALESCE(api_version,'')";

/* Step st to the end, appending one elem-sized element per row filled by
 * from_row; *ret is malloc()ed (NULL when there are no rows). */
static int collect_rows(cp_store *s, cp_stmt *st, size_t elem, void (*from_row)(cp_stmt *, void *),
                        void **ret, size_t *ret_n) {
        uint8_t *v = NULL;
        size_t n = 0;
        int r;
        while ((r = cp_store_step(s, st)) > 0) {
                uint8_t *nv = realloc(v, (n + 1) * elem);
                if (!nv) {
                        free(v);
                        return cp_error_oom();
                }
                v = nv;
                memset(v + n * elem, 0, elem);
                from_row(st, v + n * elem);
                n++;
        }
        if (r < 0) {
                free(v);
                return r;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

static void op_from_row(cp_stmt *st, cp_op *o) {
        memset(o, 0, sizeof *o);
        col_copy(st, 0, o->id, sizeof o->id);
        col_copy(st, 1, o->sub, sizeof o->sub);
        col_copy(st, 2, o->location, sizeof o->location);
        col_copy(st, 3, o->resource, sizeof o->resource);
        col_copy(st, 4, o->kind, sizeof o->kind);
        col_copy(st, 5, o->action, sizeof o->action);
        col_copy(st, 6, o->status, sizeof o->status);
        col_copy(st, 7, o->start, sizeof o->start);
        col_copy(st, 8, o->end, sizeof o->end);
        col_copy(st, 9, o->error_code, sizeof o->error_code);
        col_copy(st, 10, o->error_message, sizeof o->error_message);
        col_copy(st, 11, o->api_version, sizeof o->api_version);
}

static void op_row(cp_stmt *st, void *out) {
        op_from_row(st, out);
}

int cp_op_insert(cp_store *s, const cp_op *o) {
        char key[1024];
        cp_id_lower(o->resource, key, sizeof key);
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(s,
                                 "INSERT INTO operations(id, sub, location, resource_lc, resource, kind, action, "
                                 "status, start_time, api_version, seq) VALUES (?,?,?,?,?,?,?,?,?,?,"
                                 "(SELECT COALESCE(MAX(seq),0)+1 FROM operations))",
                                 &st);
        if (r < 0)
                return r;
        bind_text(st, 1, o->id);
        bind_text(st, 2, o->sub);
        bind_text(st, 3, o->location);
        bind_text(st, 4, key);
        bind_text(st, 5, o->resource);
        bind_text(st, 6, o->kind);
        bind_text(st, 7, o->action);
        bind_text(st, 8, o->status);
        bind_text(st, 9, o->start);
        bind_text(st, 10, o->api_version);
        return run(s, st);
}

int cp_op_get(cp_store *s, const char *id, cp_op *ret) {
        char sql[512];
        snprintf(sql, sizeof sql, "SELECT %s FROM operations WHERE id = ?", op_cols);
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(s, sql, &st);
        if (r < 0)
                return r;
        bind_text(st, 1, id);
        r = cp_store_step(s, st);
        if (r < 0)
                return r;
        if (r == 0)
                return CP_ERROR(CP_ENOTFOUND, "operation not found");
        op_from_row(st, ret);
        return 0;
}

int cp_op_finish(cp_store *s, const char *id, const char *status, const char *code, const char *msg) {
        char now[40];
        cp_now_rfc3339(now);
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(s,
                                 "UPDATE operations SET status = ?, end_time = ?, error_code = ?, error_message = ? "
                                 "WHERE id = ? AND status = 'InProgress'",
                                 &st);
        if (r < 0)
                return r;
        bind_text(st, 1, status);
        bind_text(st, 2, now);
        bind_text(st, 3, code);
        bind_text(st, 4, msg);
        bind_text(st, 5, id);
        return run(s, st);
}

int cp_op_active_for(cp_store *s, const char *resource, cp_op *ret) {
        char key[1024], sql[512];
        cp_id_lower(resource, key, sizeof key);
        snprintf(sql, sizeof sql,
                 "SELECT %s FROM operations WHERE resource_lc = ? AND status = 'InProgress' ORDER BY seq DESC LIMIT 1",
                 op_cols);
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(s, sql, &st);
        if (r < 0)
                return r;
        bind_text(st, 1, key);
        r = cp_store_step(s, st);
        if (r < 0)
                return r;
        if (r == 0)
                return CP_ERROR(CP_ENOTFOUND, "no active operation");
        if (ret)
                op_from_row(st, ret);
        return 0;
}

int cp_op_list_active(cp_store *s, cp_op **ret, size_t *ret_n) {
        char sql[512];
        snprintf(sql, sizeof sql, "SELECT %s FROM operations WHERE status = 'InProgress' ORDER BY seq", op_cols);
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(s, sql, &st);
        if (r < 0)
                return r;
        return collect_rows(s, st, sizeof(cp_op), op_row, (void **) ret, ret_n);
}

/* ---- machines ---- */

int cp_machine_put(cp_store *s, const cp_machine *m) {
        char key[1024];
        cp_id_lower(m->pool, key, sizeof key);
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(s,
                                 "INSERT INTO machines(pool_lc, pool, name, idx, handle, state, image, ip, created, "
                                 "delete_requested, version) VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(pool_lc, name) "
                                 "DO UPDATE SET handle=excluded.handle, state=excluded.state, image=excluded.image, "
                                 "ip=excluded.ip, delete_requested=excluded.delete_requested, version=excluded.version",
                                 &st);
        if (r < 0)
                return r;
        bind_text(st, 1, key);
        bind_text(st, 2, m->pool);
        bind_text(st, 3, m->name);
        cp_stmt_bind_int64(st, 4, m->index);
        bind_text(st, 5, m->handle);
        bind_text(st, 6, m->state);
        bind_text(st, 7, m->image);
        bind_text(st, 8, m->ip);
        bind_text(st, 9, m->created);
        cp_stmt_bind_int64(st, 10, m->delete_requested);
        bind_text(st, 11, m->version);
        return run(s, st);
}

int cp_machine_delete(cp_store *s, const char *pool, const char *name) {
        char key[1024];
        cp_id_lower(pool, key, sizeof key);
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(s, "DELETE FROM machines WHERE pool_lc = ? AND (CAST(?2 AS TEXT) IS NULL OR name = ?2)", &st);
        if (r < 0)
                return r;
        bind_text(st, 1, key);
        bind_text(st, 2, name);
        return run(s, st);
}

static void machine_from_row(cp_stmt *st, cp_machine *m) {
        memset(m, 0, sizeof *m);
        col_copy(st, 0, m->pool, sizeof m->pool);
        col_copy(st, 1, m->name, sizeof m->name);
        m->index = cp_stmt_int(st, 2);
        col_copy(st, 3, m->handle, sizeof m->handle);
        col_copy(st, 4, m->state, sizeof m->state);
        col_copy(st, 5, m->image, sizeof m->image);
        col_copy(st, 6, m->ip, sizeof m->ip);
        col_copy(st, 7, m->created, sizeof m->created);
        m->delete_requested = cp_stmt_int(st, 8) != 0;
        col_copy(st, 9, m->version, sizeof m->version);
}

static void machine_row(cp_stmt *st, void *out) {
        machine_from_row(st, out);
}

int cp_machine_list(cp_store *s, const char *pool, cp_machine **ret, size_t *ret_n) {
        char key[1024];
        cp_id_lower(pool, key, sizeof key);
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(s,
                                 "SELECT pool, name, idx, handle, state, image, ip, created, delete_requested, version "
                                 "FROM machines WHERE pool_lc = ? ORDER BY idx",
                                 &st);
        if (r < 0)
                return r;
        bind_text(st, 1, key);
        return collect_rows(s, st, sizeof(cp_machine), machine_row, (void **) ret, ret_n);
}

int cp_machine_get(cp_store *s, const char *pool, const char *name, cp_machine *ret) {
        char key[1024];
        cp_id_lower(pool, key, sizeof key);
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(s,
                                 "SELECT pool, name, idx, handle, state, image, ip, created, delete_requested, version "
                                 "FROM machines WHERE pool_lc = ? AND name = ?",
                                 &st);
        if (r < 0)
                return r;
        bind_text(st, 1, key);
        bind_text(st, 2, name);
        r = cp_store_step(s, st);
        if (r < 0)
                return r;
        if (r == 0)
                return CP_ERROR(CP_ENOTFOUND, "machine not found");
        machine_from_row(st, ret);
        return 0;
}

/* ---- features, providers, tokens ---- */

int cp_feature_get(cp_store *s, const char *sub, const char *ns, const char *name, char ret_state[32],
                   int64_t *ret_changed_ms) {
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(s,
                                 "SELECT state, changed_ms FROM features WHERE sub = lower(?) AND ns = lower(?) AND "
                                 "name = lower(?)",
                                 &st);
        if (r < 0)
                return r;
        bind_text(st, 1, sub);
        bind_text(st, 2, ns);
        bind_text(st, 3, name);
        r = cp_store_step(s, st);
        if (r < 0)
                return r;
        if (r == 0)
                return CP_ERROR(CP_ENOTFOUND, "feature state not found");
        col_copy(st, 0, ret_state, 32);
        if (ret_changed_ms)
                *ret_changed_ms = cp_stmt_int64(st, 1);
        return 0;
}

int cp_feature_set(cp_store *s, const char *sub, const char *ns, const char *name, const char *state,
                   int64_t changed_ms) {
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(s,
                                 "INSERT INTO features(sub, ns, name, state, changed_ms) VALUES "
                                 "(lower(?),lower(?),lower(?),?,?) ON CONFLICT(sub, ns, name) DO UPDATE SET "
                                 "state=excluded.state, changed_ms=excluded.changed_ms",
                                 &st);
        if (r < 0)
                return r;
        bind_text(st, 1, sub);
        bind_text(st, 2, ns);
        bind_text(st, 3, name);
        bind_text(st, 4, state);
        cp_stmt_bind_int64(st, 5, changed_ms);
        return run(s, st);
}

int cp_provider_get(cp_store *s, const char *sub, const char *ns, char ret_state[32]) {
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(s, "SELECT state FROM providers WHERE sub = lower(?) AND ns = lower(?)", &st);
        if (r < 0)
                return r;
        bind_text(st, 1, sub);
        bind_text(st, 2, ns);
        r = cp_store_step(s, st);
        if (r < 0)
                return r;
        if (r == 0)
                return CP_ERROR(CP_ENOTFOUND, "provider state not found");
        col_copy(st, 0, ret_state, 32);
        return 0;
}

int cp_provider_set(cp_store *s, const char *sub, const char *ns, const char *state) {
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(s,
                                 "INSERT INTO providers(sub, ns, state) VALUES (lower(?),lower(?),?) "
                                 "ON CONFLICT(sub, ns) DO UPDATE SET state=excluded.state",
                                 &st);
        if (r < 0)
                return r;
        bind_text(st, 1, sub);
        bind_text(st, 2, ns);
        bind_text(st, 3, state);
        return run(s, st);
}

int cp_token_add(cp_store *s, const char *id, const char *sha256_hex) {
        char now[40];
        cp_now_rfc3339(now);
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(s, "INSERT INTO tokens(id, sha256, created) VALUES (?,?,?)", &st);
        if (r < 0)
                return r;
        bind_text(st, 1, id);
        bind_text(st, 2, sha256_hex);
        bind_text(st, 3, now);
        return run(s, st);
}

static void token_row(cp_stmt *st, void *out) {
        col_copy(st, 0, out, 65);
}

int cp_token_hashes(cp_store *s, char (**ret)[65], size_t *ret_n) {
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(s, "SELECT sha256 FROM tokens ORDER BY id", &st);
        if (r < 0)
                return r;
        return collect_rows(s, st, 65, token_row, (void **) ret, ret_n);
}
