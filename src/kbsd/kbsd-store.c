/* SPDX-License-Identifier: Apache-2.0 */
/* confpool-kbsd's SQLite store: schema, key / disk / token rows, material
 * sealed under the master key (AES-256-GCM, AAD = name/version), the
 * master-key check value and rotation. */

#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>
#include <openssl/sha.h>

#include "basic/cleanup.h"
#include "basic/secure.h"
#include "kbsd-internal.h"
#include "ossl/ossl-util.h"

#define GCM_NONCE 12
#define GCM_TAG 16

static const cp_store_migration migrations[] = {
        /* PostgreSQL: BYTEA for BLOB, BIGINT for 64-bit times, a sequence
         * for rowid / AUTOINCREMENT, the append-only audit as a trigger
         * function (which also refuses TRUNCATE). */
        { 1, "CREATE TABLE keys (name TEXT NOT NULL, version TEXT NOT NULL, kty TEXT NOT NULL,"
             " key_size INTEGER, crv TEXT, exportable INTEGER NOT NULL, enabled INTEGER NOT NULL,"
             " created INTEGER NOT NULL, updated INTEGER NOT NULL, tags TEXT NOT NULL, policy TEXT,"
             " policy_immutable INTEGER NOT NULL DEFAULT 0, public_jwk TEXT NOT NULL, sealed BLOB NOT NULL,"
             " deleted INTEGER, purge_at INTEGER, PRIMARY KEY (name, version));"
             "CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER NOT NULL, who TEXT NOT NULL,"
             " op TEXT NOT NULL, key TEXT, version TEXT, decision TEXT NOT NULL, reason TEXT, jti TEXT);"
             "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;"
             "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;"
             "CREATE TABLE tokens (hash BLOB PRIMARY KEY, name TEXT NOT NULL, scope INTEGER NOT NULL);"
             "CREATE TABLE meta (k TEXT PRIMARY KEY, v BLOB NOT NULL);"
             "CREATE TABLE disks (id TEXT PRIMARY KEY, mode TEXT NOT NULL, key_name TEXT NOT NULL,"
             " salt BLOB, wrapped BLOB, created INTEGER NOT NULL);",
          "CREATE TABLE keys (name TEXT NOT NULL, version TEXT NOT NULL, kty TEXT NOT NULL,"
          " key_size INTEGER, crv TEXT, exportable INTEGER NOT NULL, enabled INTEGER NOT NULL,"
          " created BIGINT NOT NULL, updated BIGINT NOT NULL, tags TEXT NOT NULL, policy TEXT,"
          " policy_immutable INTEGER NOT NULL DEFAULT 0, public_jwk TEXT NOT NULL, sealed BYTEA NOT NULL,"
          " deleted BIGINT, purge_at BIGINT, rowid BIGSERIAL, PRIMARY KEY (name, version));"
          "CREATE TABLE audit (id BIGSERIAL PRIMARY KEY, ts BIGINT NOT NULL, who TEXT NOT NULL,"
          " op TEXT NOT NULL, key TEXT, version TEXT, decision TEXT NOT NULL, reason TEXT, jti TEXT);"
          "CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS"
          " $f$ BEGIN RAISE EXCEPTION 'audit log is append-only'; END $f$;"
          "CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON audit FOR EACH ROW"
          " EXECUTE FUNCTION audit_append_only();"
          "CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit FOR EACH STATEMENT"
          " EXECUTE FUNCTION audit_append_only();"
          "CREATE TABLE tokens (hash BYTEA PRIMARY KEY, name TEXT NOT NULL, scope INTEGER NOT NULL);"
          "CREATE TABLE meta (k TEXT PRIMARY KEY, v BYTEA NOT NULL);"
          "CREATE TABLE disks (id TEXT PRIMARY KEY, mode TEXT NOT NULL, key_name TEXT NOT NULL,"
          " salt BYTEA, wrapped BYTEA, created BIGINT NOT NULL);" },
        /* the disk's own release policy (node binding, docs/key-broker.md "Disk keys") */
        { 2, "ALTER TABLE disks ADD COLUMN policy TEXT;", NULL },
};

static const char mk_check_aad[] = "confpool-kbsd/master-key-check";

/* ---- sealing ------------------------------------------------------------------ */

static int gcm_seal(const uint8_t key[32], const char *aad, const uint8_t *in, size_t len, uint8_t **ret,
                    size_t *ret_len) {
        _cleanup_cipher_ctx_ EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
        int n = 0, f = 0;
        if (!c)
                return cp_error_oom();
        uint8_t *out = malloc(GCM_NONCE + len + GCM_TAG);
        if (!out)
                return cp_error_oom();
        if (RAND_bytes(out, GCM_NONCE) != 1 || EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, out) != 1 ||
            EVP_EncryptUpdate(c, NULL, &n, (const uint8_t *) aad, (int) strlen(aad)) != 1 ||
            EVP_EncryptUpdate(c, out + GCM_NONCE, &n, in, (int) len) != 1 ||
            EVP_EncryptFinal_ex(c, out + GCM_NONCE + n, &f) != 1 ||
            EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, GCM_TAG, out + GCM_NONCE + len) != 1) {
                free(out);
                return CP_ERROR(CP_ECRYPTO, "AES-GCM seal");
        }
        *ret = out;
        *ret_len = GCM_NONCE + len + GCM_TAG;
        return 0;
}

static int gcm_open(const uint8_t key[32], const char *aad, const uint8_t *in, size_t len, uint8_t **ret,
                    size_t *ret_len) {
        _cleanup_cipher_ctx_ EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
        int n = 0, f = 0;
        if (!c)
                return cp_error_oom();
        if (len < GCM_NONCE + GCM_TAG)
                return CP_ERROR(CP_EFORMAT, "sealed key too short");
        size_t pl = len - GCM_NONCE - GCM_TAG;
        uint8_t *out = malloc(pl + 1);
        if (!out)
                return cp_error_oom();
        uint8_t tag[GCM_TAG];
        memcpy(tag, in + GCM_NONCE + pl, GCM_TAG);
        if (EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, in) != 1 ||
            EVP_DecryptUpdate(c, NULL, &n, (const uint8_t *) aad, (int) strlen(aad)) != 1 ||
            EVP_DecryptUpdate(c, out, &n, in + GCM_NONCE, (int) pl) != 1 ||
            EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, GCM_TAG, tag) != 1 || EVP_DecryptFinal_ex(c, out + n, &f) != 1) {
                cp_wipe(out, pl);
                free(out);
                return CP_ERROR(CP_ESIG, "sealed key does not authenticate under the master key");
        }
        *ret = out;
        *ret_len = pl;
        return 0;
}

static void aad_of(const char *name, const char *version, char *buf, size_t cap) {
        snprintf(buf, cap, "confpool-kbsd/key/%s/%s", name, version);
}

int cp_kbsd_seal(cp_kbsd *s, const char *name, const char *version, const uint8_t *m, size_t n, uint8_t **ret,
                 size_t *ret_len) {
        char aad[256];
        aad_of(name, version, aad, sizeof(aad));
        pthread_rwlock_rdlock(&s->mk_lock);
        int r = gcm_seal(s->master, aad, m, n, ret, ret_len);
        pthread_rwlock_unlock(&s->mk_lock);
        return r;
}

int cp_kbsd_unseal(cp_kbsd *s, const cp_kbsd_keyrow *k, uint8_t **ret, size_t *ret_len) {
        char aad[256];
        aad_of(k->name, k->version, aad, sizeof(aad));
        pthread_rwlock_rdlock(&s->mk_lock);
        int r = gcm_open(s->master, aad, k->sealed, k->sealed_len, ret, ret_len);
        pthread_rwlock_unlock(&s->mk_lock);
        if (r == CP_ESIG || r == CP_EFORMAT)
                return CP_ERROR(CP_ESTORAGE, "key %s/%s: %s", k->name, k->version, cp_error_message());
        return r;
}

/* ---- the master key ------------------------------------------------------------ */

/* Whether the stored check value opens under this process's master key:
 * 1 it does, 0 it does not, CP_ENOTFOUND no check value; store lock held
 * (or the write transaction). */
static int check_value_opens(cp_kbsd *s) {
        _cleanup_stmt_ cp_stmt *st = NULL;
        uint8_t *p = NULL;
        size_t pl;
        int r = cp_store_prepare(s->store, "SELECT v FROM meta WHERE k = 'mk_check'", &st);
        if (r < 0 || (r = cp_store_step(s->store, st)) < 0)
                return r;
        if (r == 0)
                return CP_ERROR(CP_ENOTFOUND, "the master-key check value is missing");
        r = gcm_open(s->master, mk_check_aad, cp_stmt_blob(st, 0), (size_t) cp_stmt_bytes(st, 0), &p, &pl);
        free(p);
        if (r < 0)
                cp_error_clear();
        return r >= 0;
}

/* The check value is written by the first replica to start (ON CONFLICT DO
 * NOTHING: two replicas starting at once both write one, the first stays)
 * and then read back and opened by every one. */
static int check_master_key(cp_kbsd *s) {
        _cleanup_stmt_ cp_stmt *ins = NULL;
        int r;
        uint8_t *blob = NULL;
        size_t bl;
        cp_store_lock(s->store);
        if ((r = gcm_seal(s->master, mk_check_aad, (const uint8_t *) "ok", 2, &blob, &bl)) == 0 &&
            (r = cp_store_prepare(s->store, "INSERT INTO meta (k, v) VALUES ('mk_check', ?) ON CONFLICT (k) DO NOTHING",
                                  &ins)) == 0) {
                cp_stmt_bind_blob(ins, 1, blob, bl);
                r = cp_store_step(s->store, ins);
        }
        free(blob);
        if (r >= 0 && (r = check_value_opens(s)) == CP_ENOTFOUND)
                r = CP_ERROR(CP_ESTORAGE, "%s", cp_error_message());
        else if (r == 0)
                r = CP_ERROR(CP_ESIG, "the master key does not open this database");
        cp_store_unlock(s->store);
        return r < 0 ? r : 0;
}

int cp_kbsd_store_open(cp_kbsd *s) {
        int r;
        if ((r = cp_store_open(s->cfg.db_path, migrations, CP_ELEMENTSOF(migrations), &s->store)) < 0)
                return r;
        /* SQLite zeroes freed pages; PostgreSQL's dead tuples are overwritten
         * in place by the purge below before the row is deleted */
        if (cp_store_dialect_of(s->store) == CP_STORE_SQLITE &&
            (r = cp_store_exec(s->store, "PRAGMA secure_delete = ON")) < 0)
                return r;
        return check_master_key(s);
}

static const char *col_text(cp_stmt *st, int i) {
        const char *t = cp_stmt_text(st, i);
        return t ? t : "";
}

/* One row re-sealed from old_key to new_key. */
static int reseal_row(cp_store *store, cp_stmt *row, const uint8_t old_key[32], const uint8_t new_key[32]) {
        _cleanup_stmt_ cp_stmt *up = NULL;
        char aad[256];
        uint8_t *p = NULL, *n = NULL;
        size_t pl, nl;
        int r;
        aad_of(col_text(row, 0), col_text(row, 1), aad, sizeof(aad));
        if ((r = gcm_open(old_key, aad, cp_stmt_blob(row, 2), (size_t) cp_stmt_bytes(row, 2), &p, &pl)) < 0)
                return r;
        r = gcm_seal(new_key, aad, p, pl, &n, &nl);
        cp_wipe(p, pl);
        free(p);
        if (r < 0)
                return r;
        if ((r = cp_store_prepare(store, "UPDATE keys SET sealed = ? WHERE name = ? AND version = ?", &up)) == 0) {
                cp_stmt_bind_blob(up, 1, n, (int) nl);
                cp_stmt_bind_text(up, 2, col_text(row, 0));
                cp_stmt_bind_text(up, 3, col_text(row, 1));
                r = cp_store_step(store, up);
        }
        free(n);
        return r < 0 ? r : 0;
}

static int put_check_value(cp_store *store, const uint8_t new_key[32]) {
        _cleanup_stmt_ cp_stmt *mk = NULL;
        uint8_t *blob = NULL;
        size_t bl;
        int r;
        if ((r = gcm_seal(new_key, mk_check_aad, (const uint8_t *) "ok", 2, &blob, &bl)) < 0)
                return r;
        if ((r = cp_store_prepare(store, "INSERT INTO meta (k, v) VALUES ('mk_check', ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v", &mk)) == 0) {
                cp_stmt_bind_blob(mk, 1, blob, (int) bl);
                r = cp_store_step(store, mk);
        }
        free(blob);
        return r < 0 ? r : 0;
}

static int rekey_store(cp_store *store, const uint8_t old_key[32], const uint8_t new_key[32]) {
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r;
        if ((r = cp_store_begin(store)) < 0)
                return r;
        if ((r = cp_store_prepare(store, "SELECT name, version, sealed FROM keys", &st)) < 0)
                goto fail;
        while ((r = cp_store_step(store, st)) == 1)
                if ((r = reseal_row(store, st, old_key, new_key)) < 0)
                        goto fail;
        if (r < 0 || (r = put_check_value(store, new_key)) < 0)
                goto fail;
        return cp_store_commit(store);
fail:
        cp_store_rollback(store);
        return r;
}

int cp_kbsd_rotate_master_key(cp_kbsd *s, const uint8_t new_key[CP_KBSD_MASTER_KEY_LEN]) {
        int r;
        /* writers of sealed blobs hold the read side; the switch takes the write side */
        pthread_rwlock_wrlock(&s->mk_lock);
        cp_store_lock(s->store);
        r = rekey_store(s->store, s->master, new_key);
        if (r == 0)
                memcpy(s->master, new_key, CP_KBSD_MASTER_KEY_LEN);
        cp_store_unlock(s->store);
        pthread_rwlock_unlock(&s->mk_lock);
        if (r == 0)
                cp_kbsd_audit(s, "operator", "rotate-master-key", NULL, NULL, "ok", NULL, NULL);
        return r;
}

int cp_kbsd_rekey_db(const char *db_path, const uint8_t old_key[CP_KBSD_MASTER_KEY_LEN],
                     const uint8_t new_key[CP_KBSD_MASTER_KEY_LEN]) {
        cp_store *st = NULL;
        int r = cp_store_open(db_path, migrations, CP_ELEMENTSOF(migrations), &st);
        if (r < 0)
                return r;
        r = rekey_store(st, old_key, new_key);
        cp_store_close(st);
        return r;
}

/* ---- key rows -------------------------------------------------------------------- */

void cp_kbsd_keyrow_clear(cp_kbsd_keyrow *k) {
        json_decref(k->tags);
        json_decref(k->public_jwk);
        free(k->policy);
        free(k->sealed);
        memset(k, 0, sizeof(*k));
}

/* 1 for a live (not soft-deleted) key: an integer in both dialects */
#define LIVE "(CASE WHEN deleted IS NULL THEN 1 ELSE 0 END)"
#define KEY_COLS "name, version, kty, key_size, crv, exportable, enabled, created, updated, tags, policy," \
                 " policy_immutable, public_jwk, sealed, deleted, purge_at"

static int row_to_key(cp_stmt *st, cp_kbsd_keyrow *k) {
        memset(k, 0, sizeof(*k));
        snprintf(k->name, sizeof(k->name), "%s", col_text(st, 0));
        snprintf(k->version, sizeof(k->version), "%s", col_text(st, 1));
        snprintf(k->kty, sizeof(k->kty), "%s", col_text(st, 2));
        k->key_size = cp_stmt_int(st, 3);
        snprintf(k->crv, sizeof(k->crv), "%s", col_text(st, 4));
        k->exportable = cp_stmt_int(st, 5);
        k->enabled = cp_stmt_int(st, 6);
        k->created = cp_stmt_int64(st, 7);
        k->updated = cp_stmt_int64(st, 8);
        k->tags = json_loads(col_text(st, 9), 0, NULL);
        if (!cp_stmt_is_null(st, 10))
                k->policy = strdup(col_text(st, 10));
        k->policy_immutable = cp_stmt_int(st, 11);
        k->public_jwk = json_loads(col_text(st, 12), 0, NULL);
        k->sealed_len = (size_t) cp_stmt_bytes(st, 13);
        k->sealed = malloc(k->sealed_len + 1);
        if (k->sealed && k->sealed_len)
                memcpy(k->sealed, cp_stmt_blob(st, 13), k->sealed_len);
        k->deleted = cp_stmt_int64(st, 14);
        k->purge_at = cp_stmt_int64(st, 15);
        if (!k->tags || !k->public_jwk || !k->sealed) {
                cp_kbsd_keyrow_clear(k);
                return cp_error_oom();
        }
        return 0;
}

int cp_kbsd_key_load(cp_kbsd *s, const char *name, const char *version, bool deleted, cp_kbsd_keyrow *ret) {
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r;
        cp_store_lock(s->store);
        r = cp_store_prepare(s->store,
                             version ? "SELECT " KEY_COLS " FROM keys WHERE name = ? AND version = ? AND " LIVE " = ?"
                                     : "SELECT " KEY_COLS " FROM keys WHERE name = ? AND CAST(?2 AS TEXT) IS NULL AND " LIVE " = ?3"
                                       " ORDER BY created DESC, rowid DESC LIMIT 1",
                             &st);
        if (r == 0) {
                cp_stmt_bind_text(st, 1, name);
                if (version)
                        cp_stmt_bind_text(st, 2, version);
                else
                        cp_stmt_bind_null(st, 2);
                cp_stmt_bind_int64(st, 3, deleted ? 0 : 1);
                r = cp_store_step(s->store, st);
                if (r == 1)
                        r = row_to_key(st, ret);
                else if (r == 0)
                        r = CP_ERROR(CP_ENOTFOUND, "key %s%s%s not found", name, version ? "/" : "", version ? version : "");
        }
        cp_store_unlock(s->store);
        return r;
}

static int insert_row(cp_kbsd *s, const cp_kbsd_keyrow *k) {
        _cleanup_stmt_ cp_stmt *st = NULL;
        _cleanup_free_ char *tags = json_dumps(k->tags, JSON_COMPACT), *jwk = json_dumps(k->public_jwk, JSON_COMPACT);
        int r;
        if (!tags || !jwk)
                return cp_error_oom();
        r = cp_store_prepare(s->store, "INSERT INTO keys (" KEY_COLS ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,NULL,NULL)", &st);
        if (r == 0) {
                cp_stmt_bind_text(st, 1, k->name);
                cp_stmt_bind_text(st, 2, k->version);
                cp_stmt_bind_text(st, 3, k->kty);
                cp_stmt_bind_int64(st, 4, k->key_size);
                cp_stmt_bind_text(st, 5, k->crv);
                cp_stmt_bind_int64(st, 6, k->exportable);
                cp_stmt_bind_int64(st, 7, k->enabled);
                cp_stmt_bind_int64(st, 8, k->created);
                cp_stmt_bind_int64(st, 9, k->updated);
                cp_stmt_bind_text(st, 10, tags);
                if (k->policy)
                        cp_stmt_bind_text(st, 11, k->policy);
                else
                        cp_stmt_bind_null(st, 11);
                cp_stmt_bind_int64(st, 12, k->policy_immutable);
                cp_stmt_bind_text(st, 13, jwk);
                cp_stmt_bind_blob(st, 14, k->sealed, (int) k->sealed_len);
                r = cp_store_step(s->store, st);
        }
        return r < 0 ? r : 0;
}

/* Under the write transaction: may a version of name be written now? */
static int insert_allowed(cp_kbsd *s, const char *name, cp_kbsd_insert_mode mode) {
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(s->store,
                                 "SELECT COALESCE(SUM(CASE WHEN deleted IS NULL THEN 1 ELSE 0 END), 0),"
                                 " COALESCE(SUM(CASE WHEN deleted IS NULL THEN 0 ELSE 1 END), 0) FROM keys WHERE name = ?",
                                 &st);
        if (r < 0)
                return r;
        cp_stmt_bind_text(st, 1, name);
        if ((r = cp_store_step(s->store, st)) < 0)
                return r;
        int64_t live = r == 1 ? cp_stmt_int64(st, 0) : 0, deleted = r == 1 ? cp_stmt_int64(st, 1) : 0;
        if (deleted > 0)
                return CP_ERROR(CP_EBADSEQ, "a deleted key with this name exists (recover or purge it)");
        if (mode == CP_KBSD_INSERT_NEW && live > 0)
                return CP_ERROR(CP_ECONFLICT, "key %s already exists (If-None-Match: *)", name);
        if (mode == CP_KBSD_INSERT_VERSION && live == 0)
                return CP_ERROR(CP_ENOTFOUND, "key %s not found (deleted or purged while it was rotated)", name);
        return 0;
}

/* Under the write transaction and the master key's read side: the row is
 * sealed under the master key the database is under.  Another process may
 * have re-sealed the database (`confpool-kbsd rotate-master-key` while this
 * replica runs: a row sealed under the old key would never open again), or
 * this one rotated between the seal and this insert. */
static int sealed_under_db_key(cp_kbsd *s, const cp_kbsd_keyrow *k) {
        uint8_t *p = NULL;
        size_t pl = 0;
        char aad[256];
        int r = check_value_opens(s);
        if (r == 0 || r == CP_ENOTFOUND) {
                cp_error_clear();
                /* fenced, as a deposed leader: 503 with the reason, a client tries another replica */
                return CP_ERROR(CP_EFENCED, "the database's master key was changed while this replica ran "
                                             "(rotate-master-key): restart it with the new master key");
        }
        if (r < 0)
                return r;
        aad_of(k->name, k->version, aad, sizeof aad);
        if (gcm_open(s->master, aad, k->sealed, k->sealed_len, &p, &pl) < 0) {
                cp_error_clear();
                return CP_ERROR(CP_ECONFLICT, "the master key was rotated while key %s was made: try again", k->name);
        }
        cp_wipe(p, pl);
        free(p);
        return 0;
}

int cp_kbsd_key_insert(cp_kbsd *s, const cp_kbsd_keyrow *k, cp_kbsd_insert_mode mode) {
        pthread_rwlock_rdlock(&s->mk_lock);
        int r = cp_store_begin(s->store);
        if (r < 0) {
                pthread_rwlock_unlock(&s->mk_lock);
                return r;
        }
        if ((r = insert_allowed(s, k->name, mode)) < 0 || (r = sealed_under_db_key(s, k)) < 0 ||
            (r = insert_row(s, k)) < 0)
                cp_store_rollback(s->store);
        else
                r = cp_store_commit(s->store);
        pthread_rwlock_unlock(&s->mk_lock);
        return r;
}

/* The newest version of each key name (SQLite's bare columns of max(),
 * PostgreSQL's DISTINCT ON), ordered by name. */
static const char *latest_per_name(cp_store *store, bool deleted) {
        if (cp_store_dialect_of(store) == CP_STORE_PG)
                return deleted ? "SELECT DISTINCT ON (name) " KEY_COLS " FROM keys WHERE deleted IS NOT NULL"
                                 " ORDER BY name, created DESC, rowid DESC"
                               : "SELECT DISTINCT ON (name) " KEY_COLS " FROM keys WHERE deleted IS NULL"
                                 " ORDER BY name, created DESC, rowid DESC";
        return deleted ? "SELECT " KEY_COLS " FROM keys WHERE deleted IS NOT NULL GROUP BY name HAVING max(created)"
                       : "SELECT " KEY_COLS " FROM keys WHERE deleted IS NULL GROUP BY name HAVING max(created)";
}

int cp_kbsd_key_foreach(cp_kbsd *s, const char *name, bool deleted, int (*fn)(const cp_kbsd_keyrow *k, void *userdata),
                        void *userdata) {
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r;
        cp_store_lock(s->store);
        r = cp_store_prepare(s->store,
                             name ? "SELECT " KEY_COLS " FROM keys WHERE name = ? AND deleted IS NULL ORDER BY created, rowid"
                                  : latest_per_name(s->store, deleted),
                             &st);
        if (r == 0 && name)
                cp_stmt_bind_text(st, 1, name);
        while (r == 0 && (r = cp_store_step(s->store, st)) == 1) {
                cp_kbsd_keyrow k;
                if ((r = row_to_key(st, &k)) < 0)
                        break;
                r = fn(&k, userdata);
                cp_kbsd_keyrow_clear(&k);
                if (r > 0)
                        r = 0;
        }
        cp_store_unlock(s->store);
        return r < 0 ? r : 0;
}

/* sql with ?1 = name and ?2, ?3 = a, b; the number of rows changed. */
static int exec_bind_name(cp_kbsd *s, const char *sql, const char *name, int64_t a, int64_t b) {
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r;
        cp_store_lock(s->store);
        if ((r = cp_store_prepare(s->store, sql, &st)) == 0) {
                cp_stmt_bind_text(st, 1, name);
                cp_stmt_bind_int64(st, 2, a);
                cp_stmt_bind_int64(st, 3, b);
                r = cp_store_step(s->store, st);
                if (r >= 0)
                        r = (int) cp_stmt_changes(st);
        }
        cp_store_unlock(s->store);
        return r;
}

/* The end of a write transaction: committed when r >= 0 (r returned),
 * else rolled back (r returned). */
static int commit_or_rollback(cp_kbsd *s, int r) {
        if (r < 0) {
                cp_store_rollback(s->store);
                return r;
        }
        int c = cp_store_commit(s->store);
        return c < 0 ? c : r;
}

/* exec_bind_name in a write transaction of its own.  A lone statement is
 * not enough on PostgreSQL: it would not take the write lock, so a delete
 * could run between another replica's "no deleted version" check and its
 * insert (cp_kbsd_key_insert), and the new version, not yet committed and so
 * not seen by the UPDATE, would stay live beside the deleted ones. */
static int write_bind_name(cp_kbsd *s, const char *sql, const char *name, int64_t a, int64_t b) {
        int r = cp_store_begin(s->store);
        if (r < 0)
                return r;
        return commit_or_rollback(s, exec_bind_name(s, sql, name, a, b));
}

int cp_kbsd_key_soft_delete(cp_kbsd *s, const char *name, int64_t now, int64_t purge_at) {
        return write_bind_name(s, "UPDATE keys SET deleted = ?2, purge_at = ?3 WHERE name = ?1 AND deleted IS NULL", name,
                               now, purge_at);
}

int cp_kbsd_key_recover(cp_kbsd *s, const char *name) {
        return write_bind_name(s, "UPDATE keys SET deleted = NULL, purge_at = NULL WHERE name = ?1 AND deleted IS NOT NULL"
                                  " AND ?2 = ?3", name, 0, 0);
}

/* Purge = crypto-erase: the sealed material is overwritten, then the rows go
 * (secure_delete is on, so SQLite zeroes the freed pages). */
int cp_kbsd_key_purge(cp_kbsd *s, const char *name) {
        int r = cp_store_begin(s->store);
        if (r < 0)
                return r;
        r = exec_bind_name(s, cp_store_dialect_of(s->store) == CP_STORE_PG
                                          ? "UPDATE keys SET sealed = decode(repeat('00', length(sealed)), 'hex') WHERE"
                                            " name = ?1 AND deleted IS NOT NULL AND ?2 = ?3"
                                          : "UPDATE keys SET sealed = zeroblob(length(sealed)) WHERE name = ?1 AND deleted "
                                            "IS NOT NULL AND ?2 = ?3",
                               name, 0, 0);
        if (r > 0)
                r = exec_bind_name(s, "DELETE FROM keys WHERE name = ?1 AND deleted IS NOT NULL AND ?2 = ?3", name, 0, 0);
        return commit_or_rollback(s, r);
}

/* ---- disk rows ------------------------------------------------------------------- */

void cp_kbsd_diskrow_clear(cp_kbsd_diskrow *d) {
        cp_wipe(d->salt, sizeof(d->salt));
        free(d->wrapped);
        free(d->policy);
        memset(d, 0, sizeof(*d));
}

int cp_kbsd_disk_insert(cp_kbsd *s, const char *id, const cp_kbsd_diskrow *d) {
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r;
        cp_store_lock(s->store);
        if ((r = cp_store_prepare(s->store, "INSERT INTO disks (id, mode, key_name, salt, wrapped, created, policy) VALUES (?,?,?,?,?,?,?)",
                                  &st)) == 0) {
                cp_stmt_bind_text(st, 1, id);
                cp_stmt_bind_text(st, 2, d->mode);
                cp_stmt_bind_text(st, 3, d->key_name);
                cp_stmt_bind_blob(st, 4, d->salt, sizeof(d->salt));
                if (d->wrapped)
                        cp_stmt_bind_blob(st, 5, d->wrapped, (int) d->wrapped_len);
                else
                        cp_stmt_bind_null(st, 5);
                cp_stmt_bind_int64(st, 6, cp_kbsd_now(s));
                if (d->policy)
                        cp_stmt_bind_text(st, 7, d->policy);
                else
                        cp_stmt_bind_null(st, 7);
                r = cp_store_step(s->store, st);
        }
        cp_store_unlock(s->store);
        return r < 0 ? r : 0;
}

int cp_kbsd_disk_load(cp_kbsd *s, const char *id, cp_kbsd_diskrow *ret) {
        _cleanup_stmt_ cp_stmt *st = NULL;
        cp_kbsd_diskrow *d = ret;
        int r;
        memset(d, 0, sizeof(*d));
        cp_store_lock(s->store);
        if ((r = cp_store_prepare(s->store, "SELECT mode, key_name, salt, wrapped, policy FROM disks WHERE id = ?", &st)) == 0) {
                cp_stmt_bind_text(st, 1, id);
                if ((r = cp_store_step(s->store, st)) == 1) {
                        snprintf(d->mode, sizeof(d->mode), "%s", col_text(st, 0));
                        snprintf(d->key_name, sizeof(d->key_name), "%s", col_text(st, 1));
                        if (cp_stmt_bytes(st, 2) == CP_KBSD_DISK_SALT)
                                memcpy(d->salt, cp_stmt_blob(st, 2), CP_KBSD_DISK_SALT);
                        d->wrapped_len = (size_t) cp_stmt_bytes(st, 3);
                        d->wrapped = d->wrapped_len ? malloc(d->wrapped_len) : NULL;
                        if (d->wrapped)
                                memcpy(d->wrapped, cp_stmt_blob(st, 3), d->wrapped_len);
                        r = 0;
                        if (!cp_stmt_is_null(st, 4) && !(d->policy = strdup(col_text(st, 4))))
                                r = cp_error_oom();
                        if ((d->wrapped_len && !d->wrapped))
                                r = cp_error_oom();
                } else if (r == 0)
                        r = CP_ERROR(CP_ENOTFOUND, "disk %s not found (or crypto-erased)", id);
        }
        cp_store_unlock(s->store);
        return r;
}

int cp_kbsd_disk_erase(cp_kbsd *s, const char *id) {
        int r = cp_store_begin(s->store);
        if (r < 0)
                return r;
        r = exec_bind_name(s, cp_store_dialect_of(s->store) == CP_STORE_PG
                                          ? "UPDATE disks SET salt = decode(repeat('00', 32), 'hex'), wrapped = NULL"
                                            " WHERE id = ?1 AND ?2 = ?3"
                                          : "UPDATE disks SET salt = zeroblob(32), wrapped = NULL WHERE id = ?1 AND ?2 = ?3",
                               id, 0, 0);
        if (r > 0)
                r = exec_bind_name(s, "DELETE FROM disks WHERE id = ?1 AND ?2 = ?3", id, 0, 0);
        return commit_or_rollback(s, r);
}

/* ---- tokens ---------------------------------------------------------------------- */

int cp_kbsd_token_add(cp_kbsd *s, const cp_kbsd_token *t) {
        _cleanup_stmt_ cp_stmt *st = NULL;
        uint8_t d[32];
        int r;
        SHA256((const uint8_t *) t->token, strlen(t->token), d);
        cp_store_lock(s->store);
        if ((r = cp_store_prepare(s->store, "INSERT INTO tokens (hash, name, scope) VALUES (?,?,?) ON CONFLICT (hash) DO UPDATE"
                                             " SET name = excluded.name, scope = excluded.scope", &st)) == 0) {
                cp_stmt_bind_blob(st, 1, d, 32);
                cp_stmt_bind_text(st, 2, t->name);
                cp_stmt_bind_int64(st, 3, (int) t->scope);
                r = cp_store_step(s->store, st);
        }
        cp_store_unlock(s->store);
        return r < 0 ? r : 0;
}

int cp_kbsd_token_find(cp_kbsd *s, const uint8_t digest[32], char *who, size_t who_cap, cp_kbsd_scope *ret_scope) {
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r, found = 0;
        cp_store_lock(s->store);
        if ((r = cp_store_prepare(s->store, "SELECT hash, name, scope FROM tokens", &st)) == 0)
                while ((r = cp_store_step(s->store, st)) == 1) {
                        /* every row is compared, in constant time */
                        bool eq = cp_stmt_bytes(st, 0) == 32 && cp_ct_eq(cp_stmt_blob(st, 0), digest, 32);
                        if (eq && !found) {
                                found = 1;
                                snprintf(who, who_cap, "%s", col_text(st, 1));
                                *ret_scope = (cp_kbsd_scope) cp_stmt_int(st, 2);
                        }
                }
        cp_store_unlock(s->store);
        if (r < 0)
                return r;
        return found ? 0 : CP_ERROR(CP_EUNTRUSTED, "unknown bearer token");
}
