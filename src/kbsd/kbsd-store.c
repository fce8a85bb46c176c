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
             " salt BLOB, wrapped BLOB, created INTEGER NOT NULL);" },
        /* the disk's own release policy (node binding, docs/key-broker.md "Disk keys") */
        { 2, "ALTER TABLE disks ADD COLUMN policy TEXT;" },
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

static int check_master_key(cp_kbsd *s) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;
        uint8_t *p = NULL, *blob = NULL;
        size_t pl, bl;
        cp_store_lock(s->store);
        if ((r = cp_store_prepare(s->store, "SELECT v FROM meta WHERE k = 'mk_check'", &st)) == 0 &&
            (r = cp_store_step(s->store, st)) == 1) {
                r = gcm_open(s->master, mk_check_aad, sqlite3_column_blob(st, 0), (size_t) sqlite3_column_bytes(st, 0),
                             &p, &pl);
                free(p);
                if (r < 0)
                        r = CP_ERROR(CP_ESIG, "the master key does not open this database");
        } else if (r == 0) {
                _cleanup_stmt_ sqlite3_stmt *ins = NULL;
                if ((r = gcm_seal(s->master, mk_check_aad, (const uint8_t *) "ok", 2, &blob, &bl)) == 0 &&
                    (r = cp_store_prepare(s->store, "INSERT INTO meta (k, v) VALUES ('mk_check', ?)", &ins)) == 0) {
                        sqlite3_bind_blob(ins, 1, blob, (int) bl, SQLITE_TRANSIENT);
                        r = cp_store_step(s->store, ins);
                }
                free(blob);
        }
        cp_store_unlock(s->store);
        return r < 0 ? r : 0;
}

int cp_kbsd_store_open(cp_kbsd *s) {
        int r;
        if ((r = cp_store_open(s->cfg.db_path, migrations, CP_ELEMENTSOF(migrations), &s->store)) < 0 ||
            (r = cp_store_exec(s->store, "PRAGMA secure_delete = ON")) < 0)
                return r;
        return check_master_key(s);
}

static const char *col_text(sqlite3_stmt *st, int i) {
        const unsigned char *t = sqlite3_column_text(st, i);
        return t ? (const char *) t : "";
}

/* One row re-sealed from old_key to new_key. */
static int reseal_row(cp_store *store, sqlite3_stmt *row, const uint8_t old_key[32], const uint8_t new_key[32]) {
        _cleanup_stmt_ sqlite3_stmt *up = NULL;
        char aad[256];
        uint8_t *p = NULL, *n = NULL;
        size_t pl, nl;
        int r;
        aad_of(col_text(row, 0), col_text(row, 1), aad, sizeof(aad));
        if ((r = gcm_open(old_key, aad, sqlite3_column_blob(row, 2), (size_t) sqlite3_column_bytes(row, 2), &p, &pl)) < 0)
                return r;
        r = gcm_seal(new_key, aad, p, pl, &n, &nl);
        cp_wipe(p, pl);
        free(p);
        if (r < 0)
                return r;
        if ((r = cp_store_prepare(store, "UPDATE keys SET sealed = ? WHERE name = ? AND version = ?", &up)) == 0) {
                sqlite3_bind_blob(up, 1, n, (int) nl, SQLITE_TRANSIENT);
                sqlite3_bind_text(up, 2, col_text(row, 0), -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(up, 3, col_text(row, 1), -1, SQLITE_TRANSIENT);
                r = cp_store_step(store, up);
        }
        free(n);
        return r < 0 ? r : 0;
}

static int put_check_value(cp_store *store, const uint8_t new_key[32]) {
        _cleanup_stmt_ sqlite3_stmt *mk = NULL;
        uint8_t *blob = NULL;
        size_t bl;
        int r;
        if ((r = gcm_seal(new_key, mk_check_aad, (const uint8_t *) "ok", 2, &blob, &bl)) < 0)
                return r;
        if ((r = cp_store_prepare(store, "INSERT OR REPLACE INTO meta (k, v) VALUES ('mk_check', ?)", &mk)) == 0) {
                sqlite3_bind_blob(mk, 1, blob, (int) bl, SQLITE_TRANSIENT);
                r = cp_store_step(store, mk);
        }
        free(blob);
        return r < 0 ? r : 0;
}

static int rekey_store(cp_store *store, const uint8_t old_key[32], const uint8_t new_key[32]) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
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

#define KEY_COLS "name, version, kty, key_size, crv, exportable, enabled, created, updated, tags, policy," \
                 " policy_immutable, public_jwk, sealed, deleted, purge_at"

static int row_to_key(sqlite3_stmt *st, cp_kbsd_keyrow *k) {
        memset(k, 0, sizeof(*k));
        snprintf(k->name, sizeof(k->name), "%s", col_text(st, 0));
        snprintf(k->version, sizeof(k->version), "%s", col_text(st, 1));
        snprintf(k->kty, sizeof(k->kty), "%s", col_text(st, 2));
        k->key_size = sqlite3_column_int(st, 3);
        snprintf(k->crv, sizeof(k->crv), "%s", col_text(st, 4));
        k->exportable = sqlite3_column_int(st, 5);
        k->enabled = sqlite3_column_int(st, 6);
        k->created = sqlite3_column_int64(st, 7);
        k->updated = sqlite3_column_int64(st, 8);
        k->tags = json_loads(col_text(st, 9), 0, NULL);
        if (sqlite3_column_type(st, 10) != SQLITE_NULL)
                k->policy = strdup(col_text(st, 10));
        k->policy_immutable = sqlite3_column_int(st, 11);
        k->public_jwk = json_loads(col_text(st, 12), 0, NULL);
        k->sealed_len = (size_t) sqlite3_column_bytes(st, 13);
        k->sealed = malloc(k->sealed_len + 1);
        if (k->sealed && k->sealed_len)
                memcpy(k->sealed, sqlite3_column_blob(st, 13), k->sealed_len);
        k->deleted = sqlite3_column_int64(st, 14);
        k->purge_at = sqlite3_column_int64(st, 15);
        if (!k->tags || !k->public_jwk || !k->sealed) {
                cp_kbsd_keyrow_clear(k);
                return cp_error_oom();
        }
        return 0;
}

int cp_kbsd_key_load(cp_kbsd *s, const char *name, const char *version, bool deleted, cp_kbsd_keyrow *ret) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;
        cp_store_lock(s->store);
        r = cp_store_prepare(s->store,
                             version ? "SELECT " KEY_COLS " FROM keys WHERE name = ? AND version = ? AND (deleted IS NULL) = ?"
                                     : "SELECT " KEY_COLS " FROM keys WHERE name = ? AND ?2 IS NULL AND (deleted IS NULL) = ?3"
                                       " ORDER BY created DESC, rowid DESC LIMIT 1",
                             &st);
        if (r == 0) {
                sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
                if (version)
                        sqlite3_bind_text(st, 2, version, -1, SQLITE_TRANSIENT);
                else
                        sqlite3_bind_null(st, 2);
                sqlite3_bind_int(st, 3, deleted ? 0 : 1);
                r = cp_store_step(s->store, st);
                if (r == 1)
                        r = row_to_key(st, ret);
                else if (r == 0)
                        r = CP_ERROR(CP_ENOTFOUND, "key %s%s%s not found", name, version ? "/" : "", version ? version : "");
        }
        cp_store_unlock(s->store);
        return r;
}

int cp_kbsd_key_insert(cp_kbsd *s, const cp_kbsd_keyrow *k) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_free_ char *tags = json_dumps(k->tags, JSON_COMPACT), *jwk = json_dumps(k->public_jwk, JSON_COMPACT);
        int r;
        if (!tags || !jwk)
                return cp_error_oom();
        cp_store_lock(s->store);
        r = cp_store_prepare(s->store, "INSERT INTO keys (" KEY_COLS ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,NULL,NULL)", &st);
        if (r == 0) {
                sqlite3_bind_text(st, 1, k->name, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(st, 2, k->version, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(st, 3, k->kty, -1, SQLITE_TRANSIENT);
                sqlite3_bind_int(st, 4, k->key_size);
                sqlite3_bind_text(st, 5, k->crv, -1, SQLITE_TRANSIENT);
                sqlite3_bind_int(st, 6, k->exportable);
                sqlite3_bind_int(st, 7, k->enabled);
                sqlite3_bind_int64(st, 8, k->created);
                sqlite3_bind_int64(st, 9, k->updated);
                sqlite3_bind_text(st, 10, tags, -1, SQLITE_TRANSIENT);
                if (k->policy)
                        sqlite3_bind_text(st, 11, k->policy, -1, SQLITE_TRANSIENT);
                else
                        sqlite3_bind_null(st, 11);
                sqlite3_bind_int(st, 12, k->policy_immutable);
                sqlite3_bind_text(st, 13, jwk, -1, SQLITE_TRANSIENT);
                sqlite3_bind_blob(st, 14, k->sealed, (int) k->sealed_len, SQLITE_TRANSIENT);
                r = cp_store_step(s->store, st);
        }
        cp_store_unlock(s->store);
        return r < 0 ? r : 0;
}

int cp_kbsd_key_foreach(cp_kbsd *s, const char *name, bool deleted, int (*fn)(const cp_kbsd_keyrow *k, void *userdata),
                        void *userdata) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;
        cp_store_lock(s->store);
        r = cp_store_prepare(s->store,
                             name ? "SELECT " KEY_COLS " FROM keys WHERE name = ? AND deleted IS NULL ORDER BY created, rowid"
                             : deleted ? "SELECT " KEY_COLS " FROM keys WHERE deleted IS NOT NULL GROUP BY name HAVING max(created)"
                                       : "SELECT " KEY_COLS " FROM keys WHERE deleted IS NULL GROUP BY name HAVING max(created)",
                             &st);
        if (r == 0 && name)
                sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
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
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;
        cp_store_lock(s->store);
        if ((r = cp_store_prepare(s->store, sql, &st)) == 0) {
                sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
                sqlite3_bind_int64(st, 2, a);
                sqlite3_bind_int64(st, 3, b);
                r = cp_store_step(s->store, st);
                if (r >= 0)
                        r = sqlite3_changes(cp_store_db(s->store));
        }
        cp_store_unlock(s->store);
        return r;
}

int cp_kbsd_key_soft_delete(cp_kbsd *s, const char *name, int64_t now, int64_t purge_at) {
        return exec_bind_name(s, "UPDATE keys SET deleted = ?2, purge_at = ?3 WHERE name = ?1 AND deleted IS NULL", name,
                              now, purge_at);
}

int cp_kbsd_key_recover(cp_kbsd *s, const char *name) {
        return exec_bind_name(s, "UPDATE keys SET deleted = NULL, purge_at = NULL WHERE name = ?1 AND deleted IS NOT NULL"
                                 " AND ?2 = ?3", name, 0, 0);
}

/* Purge = crypto-erase: the sealed material is overwritten, then the rows go
 * (secure_delete is on, so SQLite zeroes the freed pages). */
int cp_kbsd_key_purge(cp_kbsd *s, const char *name) {
        int r = exec_bind_name(s, "UPDATE keys SET sealed = zeroblob(length(sealed)) WHERE name = ?1 AND deleted IS NOT NULL"
                                  " AND ?2 = ?3", name, 0, 0);
        if (r > 0)
                r = exec_bind_name(s, "DELETE FROM keys WHERE name = ?1 AND deleted IS NOT NULL AND ?2 = ?3", name, 0, 0);
        return r;
}

/* ---- disk rows ------------------------------------------------------------------- */

void cp_kbsd_diskrow_clear(cp_kbsd_diskrow *d) {
        cp_wipe(d->salt, sizeof(d->salt));
        free(d->wrapped);
        free(d->policy);
        memset(d, 0, sizeof(*d));
}

int cp_kbsd_disk_insert(cp_kbsd *s, const char *id, const cp_kbsd_diskrow *d) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;
        cp_store_lock(s->store);
        if ((r = cp_store_prepare(s->store, "INSERT INTO disks (id, mode, key_name, salt, wrapped, created, policy) VALUES (?,?,?,?,?,?,?)",
                                  &st)) == 0) {
                sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(st, 2, d->mode, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(st, 3, d->key_name, -1, SQLITE_TRANSIENT);
                sqlite3_bind_blob(st, 4, d->salt, sizeof(d->salt), SQLITE_TRANSIENT);
                if (d->wrapped)
                        sqlite3_bind_blob(st, 5, d->wrapped, (int) d->wrapped_len, SQLITE_TRANSIENT);
                else
                        sqlite3_bind_null(st, 5);
                sqlite3_bind_int64(st, 6, cp_kbsd_now(s));
                if (d->policy)
                        sqlite3_bind_text(st, 7, d->policy, -1, SQLITE_TRANSIENT);
                else
                        sqlite3_bind_null(st, 7);
                r = cp_store_step(s->store, st);
        }
        cp_store_unlock(s->store);
        return r < 0 ? r : 0;
}

int cp_kbsd_disk_load(cp_kbsd *s, const char *id, cp_kbsd_diskrow *ret) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        cp_kbsd_diskrow *d = ret;
        int r;
        memset(d, 0, sizeof(*d));
        cp_store_lock(s->store);
        if ((r = cp_store_prepare(s->store, "SELECT mode, key_name, salt, wrapped, policy FROM disks WHERE id = ?", &st)) == 0) {
                sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
                if ((r = cp_store_step(s->store, st)) == 1) {
                        snprintf(d->mode, sizeof(d->mode), "%s", col_text(st, 0));
                        snprintf(d->key_name, sizeof(d->key_name), "%s", col_text(st, 1));
                        if (sqlite3_column_bytes(st, 2) == CP_KBSD_DISK_SALT)
                                memcpy(d->salt, sqlite3_column_blob(st, 2), CP_KBSD_DISK_SALT);
                        d->wrapped_len = (size_t) sqlite3_column_bytes(st, 3);
                        d->wrapped = d->wrapped_len ? malloc(d->wrapped_len) : NULL;
                        if (d->wrapped)
                                memcpy(d->wrapped, sqlite3_column_blob(st, 3), d->wrapped_len);
                        r = 0;
                        if (sqlite3_column_type(st, 4) == SQLITE_TEXT && !(d->policy = strdup(col_text(st, 4))))
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
        int r = exec_bind_name(s, "UPDATE disks SET salt = zeroblob(32), wrapped = NULL WHERE id = ?1 AND ?2 = ?3", id, 0, 0);
        if (r > 0)
                r = exec_bind_name(s, "DELETE FROM disks WHERE id = ?1 AND ?2 = ?3", id, 0, 0);
        return r;
}

/* ---- tokens ---------------------------------------------------------------------- */

int cp_kbsd_token_add(cp_kbsd *s, const cp_kbsd_token *t) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        uint8_t d[32];
        int r;
        SHA256((const uint8_t *) t->token, strlen(t->token), d);
        cp_store_lock(s->store);
        if ((r = cp_store_prepare(s->store, "INSERT OR REPLACE INTO tokens (hash, name, scope) VALUES (?,?,?)", &st)) == 0) {
                sqlite3_bind_blob(st, 1, d, 32, SQLITE_TRANSIENT);
                sqlite3_bind_text(st, 2, t->name, -1, SQLITE_TRANSIENT);
                sqlite3_bind_int(st, 3, (int) t->scope);
                r = cp_store_step(s->store, st);
        }
        cp_store_unlock(s->store);
        return r < 0 ? r : 0;
}

int cp_kbsd_token_find(cp_kbsd *s, const uint8_t digest[32], char *who, size_t who_cap, cp_kbsd_scope *ret_scope) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r, found = 0;
        cp_store_lock(s->store);
        if ((r = cp_store_prepare(s->store, "SELECT hash, name, scope FROM tokens", &st)) == 0)
                while ((r = cp_store_step(s->store, st)) == 1) {
                        /* every row is compared, in constant time */
                        bool eq = sqlite3_column_bytes(st, 0) == 32 && cp_ct_eq(sqlite3_column_blob(st, 0), digest, 32);
                        if (eq && !found) {
                                found = 1;
                                snprintf(who, who_cap, "%s", col_text(st, 1));
                                *ret_scope = (cp_kbsd_scope) sqlite3_column_int(st, 2);
                        }
                }
        cp_store_unlock(s->store);
        if (r < 0)
                return r;
        return found ? 0 : CP_ERROR(CP_EUNTRUSTED, "unknown bearer token");
}
