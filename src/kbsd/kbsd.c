/* SPDX-License-Identifier: Apache-2.0 */
/* confpool-kbsd: keys (create, import, get, list, versions, rotate, delete,
 * recover, purge), secure key release, disk keys, audit log (the files are
 * listed in kbsd-internal.h).  This one: the service's lifecycle, its
 * clock and the JWKS of its release-response signing key. */

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "basic/secure.h"
#include "kbsd-internal.h"

int64_t cp_kbsd_now(const cp_kbsd *s) {
        return s->now ? s->now : (int64_t) time(NULL);
}

void cp_kbsd_set_now(cp_kbsd *s, int64_t now) {
        s->now = now;
}

int cp_kbsd_jwks_json(cp_kbsd *s, char **ret) {
        json_t *jwk = NULL;
        int r = cp_jwt_key_to_jwk(s->signer, &jwk);
        if (r < 0)
                return r;
        json_t *doc = json_pack("{s:[o]}", "keys", jwk);
        char *t = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
        json_decref(doc);
        if (!t)
                return cp_error_oom();
        *ret = t;
        return 0;
}

static int add_authorities(cp_kbsd *s, const cp_kbsd_config *cfg) {
        for (size_t i = 0; i < cfg->n_authorities && i < CP_KBSD_MAX_AUTHORITIES; i++) {
                const cp_kbsd_authority *a = &cfg->authorities[i];
                int r;
                if (!a->issuer || !a->jwks_json == !a->jwks_url)
                        return CP_ERROR(CP_EINVAL, "authority %zu needs an issuer and a JWKS or its URL", i);
                s->n_auth = i + 1; /* cp_kbsd_free cleans the slot up if what follows fails */
                if (!(s->auth[i].issuer = strdup(a->issuer)))
                        return cp_error_oom();
                if (a->jwks_url) {
                        cp_jwks_cache_options co = {.url = a->jwks_url};
                        if ((r = cp_jwks_cache_new(&co, &s->auth[i].cache)) < 0 ||
                            (r = cp_jwks_cache_start(s->auth[i].cache)) < 0)
                                return cp_error_wrap("authority %s JWKS: ", a->issuer);
                } else if ((r = cp_jwks_parse(a->jwks_json, strlen(a->jwks_json), &s->auth[i].jwks)) < 0)
                        return cp_error_wrap("authority %s JWKS: ", a->issuer);
        }
        return 0;
}

static int add_tokens(cp_kbsd *s, const cp_kbsd_config *cfg) {
        for (size_t i = 0; i < cfg->n_tokens && i < CP_KBSD_MAX_TOKENS; i++) {
                const cp_kbsd_token *t = &cfg->tokens[i];
                int r;
                if (!t->token || strlen(t->token) < 16 || !t->name)
                        return CP_ERROR(CP_EINVAL, "token %zu: name and a secret of at least 16 characters", i);
                if ((r = cp_kbsd_token_add(s, t)) < 0)
                        return r;
        }
        return 0;
}

static int open_audit_file(cp_kbsd *s, const char *path) {
        int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        s->audit_file = fd >= 0 ? fdopen(fd, "a") : NULL;
        if (!s->audit_file) {
                if (fd >= 0)
                        close(fd);
                return CP_ERROR(CP_EIO, "cannot open audit file %s", path);
        }
        return 0;
}

int cp_kbsd_new(const cp_kbsd_config *cfg, cp_kbsd **ret) {
        int r;
        if (!cfg || !cfg->db_path || !cfg->master_key)
                return CP_ERROR(CP_EINVAL, "db_path and master_key are required");
        cp_kbsd *s = calloc(1, sizeof(*s));
        if (!s)
                return cp_error_oom();
        s->cfg = *cfg;
        if (!s->cfg.recovery_days)
                s->cfg.recovery_days = 90;
        if (!s->cfg.slack_s)
                s->cfg.slack_s = 60;
        s->now = cfg->now;
        memcpy(s->master, cfg->master_key, CP_KBSD_MASTER_KEY_LEN);
        snprintf(s->vault_url, sizeof(s->vault_url), "%s", cfg->vault_url ? cfg->vault_url : "http://127.0.0.1");
        pthread_rwlock_init(&s->mk_lock, NULL);
        pthread_mutex_init(&s->audit_mu, NULL);
        if ((r = cp_kbsd_store_open(s)) < 0 || (r = add_authorities(s, cfg)) < 0 || (r = add_tokens(s, cfg)) < 0)
                goto fail;
        r = cfg->signing_key_pem ? cp_jwt_key_from_pem(CP_JWT_RS256, cfg->signing_key_pem, strlen(cfg->signing_key_pem), NULL, 0,
                                                       &s->signer)
                                 : cp_jwt_key_generate(CP_JWT_RS256, "confpool-kbsd release signing", 0, 365, &s->signer);
        if (r < 0 || (cfg->audit_path && (r = open_audit_file(s, cfg->audit_path)) < 0) ||
            (r = cp_kbsd_svc_new(s, &s->svc)) < 0)
                goto fail;
        *ret = s;
        return 0;
fail:
        cp_kbsd_free(s);
        return r;
}

int cp_kbsd_start(cp_kbsd *s) {
        const char *bind = s->cfg.bind_addr ? s->cfg.bind_addr : "127.0.0.1";
        bool loop = !strcmp(bind, "127.0.0.1") || !strcmp(bind, "::1");
        if (!loop && !(s->cfg.tls_cert_pem && s->cfg.tls_key_pem))
                return CP_ERROR(CP_EINVAL, "TLS is required off loopback");
        cp_httpd_options o = { .bind_addr = bind, .port = s->cfg.port, .threads = s->cfg.threads,
                               .max_body = 256 * 1024, .tls_cert_pem = s->cfg.tls_cert_pem,
                               .tls_key_pem = s->cfg.tls_key_pem };
        int r = cp_svc_listen(s->svc, &o, &s->httpd);
        if (r < 0)
                return r;
        if (s->cfg.vault_url)
                snprintf(s->vault_url, sizeof(s->vault_url), "%s", s->cfg.vault_url);
        else
                snprintf(s->vault_url, sizeof(s->vault_url), "%s://%s:%u", s->cfg.tls_cert_pem ? "https" : "http", bind,
                         (unsigned) cp_httpd_port(s->httpd));
        return 0;
}

uint16_t cp_kbsd_port(const cp_kbsd *s) {
        return s->httpd ? cp_httpd_port(s->httpd) : 0;
}

cp_kbsd *cp_kbsd_free(cp_kbsd *s) {
        if (!s)
                return NULL;
        cp_httpd_stop(s->httpd);
        cp_svc_free(s->svc);
        for (size_t i = 0; i < s->n_auth; i++) {
                free(s->auth[i].issuer);
                cp_jwks_free(s->auth[i].jwks);
                cp_jwks_cache_free(s->auth[i].cache);
        }
        cp_jwt_key_free(s->signer);
        if (s->audit_file)
                fclose(s->audit_file);
        cp_store_close(s->store);
        cp_wipe(s->master, sizeof(s->master));
        pthread_rwlock_destroy(&s->mk_lock);
        pthread_mutex_destroy(&s->audit_mu);
        free(s);
        return NULL;
}
