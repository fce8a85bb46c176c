/* SPDX-License-Identifier: Apache-2.0 */
/* --signing-key-dir: token-signing keys shared by attestd replicas
 * (docs/scale-out.md).  Each key is a PEM file key-<unix>-<random>.pem
 * (0600) in the directory; every replica publishes every live key in its
 * /certs and signs with the newest key that has been in the directory for
 * ATTESTD_KEY_OVERLAP_S (so every replica's JWKS lists a key before any
 * token signed with it exists: rotation with overlap).  A key is dropped
 * once its successor has been signing for longer than a token lives.  The
 * directory is read again every ATTESTD_KEYDIR_REFRESH_S. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "attestd/attestd-internal.h"
#include "basic/cleanup.h"
#include "basic/fileio.h"
#include "basic/limits.h"
#include "basic/secure.h"
#include "libconfpool/rsagen.h"

#define ATTESTD_KEY_OVERLAP_S 10
#define ATTESTD_KEYDIR_REFRESH_S 5

typedef struct dir_key {
        char name[64];
        int64_t created;
        cp_jwt_key *key;
} dir_key;

static int by_name(const void *a, const void *b) {
        return strcmp(((const dir_key *) a)->name, ((const dir_key *) b)->name);
}

/* A fresh private key for alg as PEM (secure memory freed by the caller with OPENSSL_clear_free). */
static int new_pem(cp_jwt_alg alg, char **ret, size_t *ret_len) {
        EVP_PKEY *k = NULL;
        if (alg == CP_JWT_ES256 || alg == CP_JWT_ES384)
                k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", alg == CP_JWT_ES256 ? "P-256" : "P-384");
        else if (cp_rsa_generate(2048, &k) < 0)
                cp_error_clear(); /* reported below */
        BIO *b = BIO_new(BIO_s_secmem());
        char *pem = NULL;
        long n = 0;
        int r = 0;
        if (!k || !b || !PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) || (n = BIO_get_mem_data(b, &pem)) <= 0 ||
            !(*ret = malloc((size_t) n)))
                r = CP_ERROR(CP_ECRYPTO, "cannot generate a token-signing key");
        else {
                memcpy(*ret, pem, (size_t) n);
                *ret_len = (size_t) n;
        }
        BIO_free(b);
        EVP_PKEY_free(k);
        return r;
}

/* Whether name is a key file's (key-<created>-<random>.pem), and its
 * creation time. */
static bool key_file_time(const char *name, long long *ret) {
        return !strncmp(name, "key-", 4) && sscanf(name, "key-%16lld-", ret) == 1 && strstr(name, ".pem");
}

/* A key file read and parsed as alg (the PEM wiped).  *ret_unparsable: the
 * file was read but is no alg key. */
static int load_key_file(const char *path, cp_jwt_alg alg, cp_jwt_key **ret, bool *ret_unparsable) {
        uint8_t *pem = NULL;
        size_t len = 0;
        int r = cp_read_file(path, CP_MAX_INPUT_FILE, &pem, &len);
        *ret_unparsable = false;
        if (r >= 0 && (r = cp_jwt_key_from_pem(alg, (const char *) pem, len, NULL, 0, ret)) < 0)
                *ret_unparsable = true;
        if (pem) {
                cp_wipe(pem, len);
                free(pem);
        }
        return r;
}

/* The newest creation time among dir's key files (0: none), and that
 * file's name (when name is not NULL; "" when none). */
static int64_t newest_key(const char *dir, char *name, size_t size) {
        DIR *d = opendir(dir);
        int64_t newest = 0;
        struct dirent *e;
        if (name)
                name[0] = '\0';
        while (d && (e = readdir(d))) {
                long long t;
                if (key_file_time(e->d_name, &t) && t >= newest) {
                        newest = t;
                        if (name)
                                snprintf(name, size, "%s", e->d_name);
                }
        }
        if (d)
                closedir(d);
        return newest;
}

/* Write a new key file (atomically: a temporary file renamed), under the
 * directory's lock.  Its creation time (in its name) is after every other
 * key's, even within the same second: keys are ordered by name, and a new
 * key that sorted before the current one would be taken for the older and
 * sign at once, without the overlap. */
static int write_key(const char *dir, cp_jwt_alg alg, int64_t now) {
        char *pem = NULL, tmp[4096], path[4096];
        size_t n = 0;
        uint8_t rnd[4];
        int64_t newest = newest_key(dir, NULL, 0);
        if (now <= newest)
                now = newest + 1;
        int r = new_pem(alg, &pem, &n);
        if (r < 0)
                return r;
        if (RAND_bytes(rnd, sizeof rnd) != 1) {
                cp_wipe(pem, n);
                free(pem);
                return CP_ERROR(CP_ECRYPTO, "random key file name");
        }
        snprintf(path, sizeof path, "%s/key-%016lld-%02x%02x%02x%02x.pem", dir, (long long) now, rnd[0], rnd[1], rnd[2],
                 rnd[3]);
        snprintf(tmp, sizeof tmp, "%s/.tmp-%02x%02x%02x%02x", dir, rnd[0], rnd[1], rnd[2], rnd[3]);
        r = cp_write_file(tmp, pem, n, 0600);
        cp_wipe(pem, n);
        free(pem);
        if (r >= 0 && rename(tmp, path) < 0)
                r = CP_ERROR(CP_EIO, "%s: %s", path, strerror(errno));
        return r;
}

/* Every key-*.pem of dir, sorted oldest first (at most max). */
static int read_keys(const char *dir, cp_jwt_alg alg, dir_key *keys, size_t max, size_t *ret_n) {
        DIR *d = opendir(dir);
        if (!d)
                return CP_ERROR(CP_EIO, "signing key directory %s: %s", dir, strerror(errno));
        size_t n = 0;
        struct dirent *e;
        while ((e = readdir(d))) {
                long long t;
                bool unparsable;
                if (strlen(e->d_name) >= sizeof keys[0].name || !key_file_time(e->d_name, &t))
                        continue;
                if (n == max) { /* keep the newest: drop the oldest read so far */
                        qsort(keys, n, sizeof *keys, by_name);
                        cp_jwt_key_free(keys[0].key);
                        memmove(keys, keys + 1, (n - 1) * sizeof *keys);
                        n--;
                }
                char path[4096];
                snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
                if (load_key_file(path, alg, &keys[n].key, &unparsable) < 0) {
                        /* one bad file (another algorithm, unreadable) does not stop the
                         * replicas from reading the others: skipped, said */
                        cp_error_wrap("%s: ", path);
                        fprintf(stderr, "confpool-attestd: signing key skipped: %s\n", cp_error_message());
                        cp_error_clear();
                        continue;
                }
                snprintf(keys[n].name, sizeof keys[n].name, "%.63s", e->d_name); /* length checked above */
                keys[n++].created = t;
        }
        closedir(d);
        qsort(keys, n, sizeof *keys, by_name);
        *ret_n = n;
        return 0;
}

/* keys (oldest first) -> the published set, current last: the newest key
 * past the overlap signs (the oldest when none is); keys whose successor
 * has signed for longer than a token lives are left out. */
static void install(cp_attestd *s, dir_key *keys, size_t n, int64_t now) {
        size_t cur = 0;
        for (size_t i = 0; i < n; i++)
                if (keys[i].created + ATTESTD_KEY_OVERLAP_S <= now)
                        cur = i;
        int64_t life = (int64_t) (s->cfg.token_lifetime_s ? s->cfg.token_lifetime_s : 28800) + 60;
        pthread_rwlock_wrlock(&s->keys_lock);
        for (size_t i = 0; i < s->n_keys; i++) {
                cp_jwt_signer_free(s->keys[i].signer);
                cp_jwt_key_free(s->keys[i].key);
        }
        s->n_keys = 0;
        for (size_t i = 0; i < n; i++) {
                bool expired = i < cur && keys[i + 1].created + ATTESTD_KEY_OVERLAP_S + life < now;
                if (i == cur || expired) {
                        if (expired)
                                cp_jwt_key_free(keys[i].key);
                        continue;
                }
                s->keys[s->n_keys++] = (signing_key){.key = keys[i].key, .retired_at = i < cur ? now : 0};
        }
        s->keys[s->n_keys++] = (signing_key){.key = keys[cur].key};
        attestd_cache_signers(s);
        pthread_rwlock_unlock(&s->keys_lock);
}

/* The directory's lock (flock of DIR/.lock): its fd, or a negative cp_err. */
static int lock_dir(const char *dir) {
        char lock[4096];
        snprintf(lock, sizeof lock, "%s/.lock", dir);
        int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0 || flock(fd, LOCK_EX) < 0) {
                int e = errno;
                if (fd >= 0)
                        close(fd);
                return CP_ERROR(CP_EIO, "signing key directory %s: %s", dir, strerror(e));
        }
        return fd;
}

int cp_attestd_keydir_rotate(const char *dir, cp_jwt_alg alg) {
        struct stat st;
        if (!dir || stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
                return CP_ERROR(CP_ENOTFOUND, "signing key directory %s: not a directory", dir ? dir : "(none)");
        alg = alg ? alg : CP_JWT_RS256;
        int fd = lock_dir(dir);
        if (fd < 0)
                return fd;
        /* of the replicas' algorithm: the newest key's (a key of another one would
         * be skipped by every replica's read, so never used) */
        char name[256], path[4096];
        cp_jwt_key *k = NULL;
        bool unparsable = false;
        int r = 0;
        if (newest_key(dir, name, sizeof name) > 0) {
                snprintf(path, sizeof path, "%s/%s", dir, name);
                r = load_key_file(path, alg, &k, &unparsable);
                if (unparsable)
                        r = CP_ERROR(CP_EUNSUPPORTED, "the newest key of %s (%s) is not a %s key: rotate with the "
                                                      "replicas' --alg", dir, name, cp_jwt_alg_name(alg));
                cp_jwt_key_free(k);
        }
        if (r >= 0)
                r = write_key(dir, alg, (int64_t) time(NULL));
        close(fd);
        return r;
}

/* Read the directory (creating the first key under its lock) and install. */
int attestd_keydir_sync(cp_attestd *s, bool rotate) {
        const char *dir = s->cfg.signing_key_dir;
        cp_jwt_alg alg = s->cfg.alg ? s->cfg.alg : CP_JWT_RS256;
        int64_t now = attestd_now(s);
        int fd = lock_dir(dir);
        if (fd < 0)
                return fd;
        dir_key keys[ATTESTD_MAX_KEYS] = {0};
        size_t n = 0;
        int r = read_keys(dir, alg, keys, ATTESTD_MAX_KEYS - 1, &n);
        if (r >= 0 && (n == 0 || rotate)) {
                /* the first key (any replica), or a rotation: a new file, read again */
                for (size_t i = 0; i < n; i++)
                        cp_jwt_key_free(keys[i].key);
                r = write_key(dir, alg, now);
                if (r >= 0)
                        r = read_keys(dir, alg, keys, ATTESTD_MAX_KEYS - 1, &n);
        }
        close(fd);
        if (r < 0 || n == 0) {
                for (size_t i = 0; i < n; i++)
                        cp_jwt_key_free(keys[i].key);
                return r < 0 ? r : CP_ERROR(CP_ENOTFOUND, "no signing key in %s", dir);
        }
        install(s, keys, n, now);
        atomic_store(&s->keydir_synced, now);
        return 0;
}

/* Called before signing and serving /certs: re-read when stale (one caller at a time). */
void attestd_keydir_refresh(cp_attestd *s) {
        if (!s->cfg.signing_key_dir)
                return;
        int64_t now = attestd_now(s);
        if (now - atomic_load(&s->keydir_synced) < ATTESTD_KEYDIR_REFRESH_S)
                return;
        if (pthread_mutex_trylock(&s->keydir_lock) != 0)
                return;
        if (now - atomic_load(&s->keydir_synced) >= ATTESTD_KEYDIR_REFRESH_S && attestd_keydir_sync(s, false) < 0) {
                fprintf(stderr, "confpool-attestd: %s (keeping the keys in memory)\n", cp_error_message());
                cp_error_clear();
                atomic_store(&s->keydir_synced, now);
        }
        pthread_mutex_unlock(&s->keydir_lock);
}
