/* SPDX-License-Identifier: Apache-2.0 */
#include <openssl/sha.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/limits.h"
#include "basic/secure.h"
#include "confpool/jwt.h"
#include "confpool/tdx_verify.h"
#include "controlplane/cp-nodes.h"
#include "controlplane/cp-rules.h"
#include "controlplane/cp-store.h"
#include "service/jwks-cache.h"

/* Heartbeats that changed nothing but the time (issue 19): kept here and
 * written in one transaction at most once per HB_FLUSH_MS instead of an
 * UPSERT and a synchronous commit per heartbeat.  One entry per machine
 * whose attestation record this process wrote: a digest of the record
 * without heartbeat_at, and the heartbeat time not yet written. */
#define HB_BUCKETS 16384u
#define HB_FLUSH_MS 1000
/* the reconciler's thread writes them every HB_FLUSH_MS; a request does
 * only if that did not happen for this long (no reconciler: tests) */
#define HB_FLUSH_STALE_MS 5000
typedef struct hb_entry {
        struct hb_entry *next;
        uint8_t digest[16];
        int64_t pending; /* 0: nothing to write */
        char key[];      /* pool_lc "\n" name */
} hb_entry;

struct cp_nodes {
        cp_store *store;
        cp_store *reader; /* heartbeats' reads (cp_nodes_options.reader; NULL: none) */
        cp_backend *backend;
        char url[512], issuer[512];
        pthread_mutex_t lock;
        cp_snp_tcb min_tcb;
        cp_jwks_cache *keys; /* the attestation service's signing keys (own locking) */
        hb_entry *hb[HB_BUCKETS]; /* under lock */
        size_t hb_pending;
        int64_t hb_flushed_ms;
};

const char *cp_node_state_name(cp_node_state s) {
        switch (s) {
        case CP_NODE_PROVISIONING: return "Provisioning";
        case CP_NODE_READY: return "Ready";
        case CP_NODE_FAILED: return "Failed";
        case CP_NODE_GONE: return "Gone";
        case CP_NODE_ATTESTING: return "Attesting";
        case CP_NODE_UNLOCKING: return "Unlocking";
        case CP_NODE_JOINING: return "Joining";
        case CP_NODE_STOPPED: return "Stopped";
        }
        return "Provisioning";
}

void cp_node_scope(const char *pool_id, char ret[17]) {
        char lc[1400];
        uint8_t d[32];
        cp_id_lower(pool_id ? pool_id : "", lc, sizeof lc);
        SHA256((const uint8_t *) lc, strlen(lc), d);
        cp_hex_encode(d, 8, ret);
        ret[16] = 0;
}

int cp_node_identity(const char *pool_id, const char *name, char *ret, size_t size) {
        if (!pool_id || !pool_id[0] || !name || !name[0])
                return CP_ERROR(CP_EINVAL, "node identity: pool id and machine name are required");
        int n = snprintf(ret, size, "confpool-node:%s/machines/%s", pool_id, name);
        return n > 0 && (size_t) n < size ? 0 : CP_ERROR(CP_ETOOBIG, "node identity of %.64s too long", name);
}

int cp_node_host_data(const char *pool_id, const char *name, uint8_t ret[32]) {
        char id[1400];
        int r = cp_node_identity(pool_id, name, id, sizeof id);
        if (r < 0)
                return r;
        SHA256((const uint8_t *) id, strlen(id), ret);
        return 0;
}

static int nodes_tables(cp_store *s) {
        int r = cp_store_exec(s, "CREATE TABLE IF NOT EXISTS node_attestation (pool_lc TEXT NOT NULL, name TEXT NOT NULL, "
                                "reason TEXT NOT NULL DEFAULT '', host TEXT NOT NULL DEFAULT '', measurement TEXT NOT "
                                "NULL DEFAULT '', tcb TEXT NOT NULL DEFAULT '', attested_at BIGINT NOT NULL DEFAULT 0, "
                                "token_exp BIGINT NOT NULL DEFAULT 0, heartbeat_at BIGINT NOT NULL DEFAULT 0, "
                                "PRIMARY KEY (pool_lc, name))");
        if (r < 0)
                return r;
        r = cp_store_exec(s, "CREATE TABLE IF NOT EXISTS pool_policy (pool_lc TEXT NOT NULL, image TEXT NOT NULL, "
                             "measurement TEXT NOT NULL, previous INTEGER NOT NULL DEFAULT 0, "
                             "PRIMARY KEY (pool_lc, image))");
        if (r < 0)
                return r;
        return cp_store_exec(s, "CREATE TABLE IF NOT EXISTS pool_attestation_policy (pool_lc TEXT PRIMARY KEY, "
                                "doc TEXT NOT NULL, etag TEXT NOT NULL)");
}

/* In a write transaction: replicas starting at once create the tables once
 * (PostgreSQL's CREATE TABLE IF NOT EXISTS is not safe against a racing one). */
int cp_nodes_schema(cp_store *s) {
        int r = cp_store_begin(s);
        if (r < 0)
                return r;
        r = nodes_tables(s);
        if (r < 0) {
                cp_store_rollback(s);
                return r;
        }
        return cp_store_commit(s);
}

/* ---- the pool's accepted launch measurements (node-image upgrade) -------- */

int cp_nodes_policy_put(cp_store *s, const char *pool, const char *image, const uint8_t measurement[48],
                        bool previous) {
        char key[1024], hex[97];
        if (!pool || !image || strlen(image) >= sizeof ((cp_pool_measurement *) 0)->image)
                return CP_ERROR(CP_EINVAL, "pool policy: pool and image (< 128 characters) are required");
        cp_id_lower(pool, key, sizeof key);
        cp_hex_encode(measurement, 48, hex);
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(s,
                                 "INSERT INTO pool_policy(pool_lc, image, measurement, previous) VALUES (?,?,?,?) "
                                 "ON CONFLICT(pool_lc, image) DO UPDATE SET measurement=excluded.measurement, "
                                 "previous=excluded.previous",
                                 &st);
        if (r < 0)
                return r;
        cp_stmt_bind_text(st, 1, key);
        cp_stmt_bind_text(st, 2, image);
        cp_stmt_bind_text(st, 3, hex);
        cp_stmt_bind_int64(st, 4, previous ? 1 : 0);
        r = cp_store_step(s, st);
        return r < 0 ? r : 0;
}

int cp_nodes_policy_list(cp_store *s, const char *pool, cp_pool_measurement **ret, size_t *ret_n) {
        char key[1024];
        cp_id_lower(pool, key, sizeof key);
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(s,
                                 "SELECT image, measurement, previous FROM pool_policy WHERE pool_lc = ? "
                                 "ORDER BY previous, image",
                                 &st);
        if (r < 0)
                return r;
        cp_stmt_bind_text(st, 1, key);
        cp_pool_measurement *v = NULL;
        size_t n = 0;
        while ((r = cp_store_step(s, st)) > 0) {
                const char *img = cp_stmt_text(st, 0);
                const char *hex = cp_stmt_text(st, 1);
                size_t got = 0;
                cp_pool_measurement m = {0};
                if (!img || !hex || strlen(hex) != 96 || cp_hex_decode(hex, 96, m.measurement, 48, &got) < 0 ||
                    got != 48) {
                        free(v);
                        return CP_ERROR(CP_EFORMAT, "pool policy: a stored measurement of %s is malformed", pool);
                }
                snprintf(m.image, sizeof m.image, "%s", img);
                m.previous = cp_stmt_int(st, 2) != 0;
                cp_pool_measurement *nv = realloc(v, (n + 1) * sizeof *v);
                if (!nv) {
                        free(v);
                        return cp_error_oom();
                }
                v = nv;
                v[n++] = m;
        }
        if (r < 0) {
                free(v);
                return r;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

int cp_nodes_policy_remove(cp_store *s, const char *pool, const char *image) {
        char key[1024];
        cp_id_lower(pool, key, sizeof key);
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(s, "DELETE FROM pool_policy WHERE pool_lc = ?1 AND (CAST(?2 AS TEXT) IS NULL OR image = ?2)", &st);
        if (r < 0)
                return r;
        cp_stmt_bind_text(st, 1, key);
        if (image)
                cp_stmt_bind_text(st, 2, image);
        else
                cp_stmt_bind_null(st, 2);
        r = cp_store_step(s, st);
        return r < 0 ? r : 0;
}

int cp_nodes_new(const cp_nodes_options *o, cp_nodes **ret) {
        if (!o || !o->store || !o->backend || !o->attestd_url)
                return CP_ERROR(CP_EINVAL, "cp_nodes_new: store, backend and attestd_url are required");
        int r = cp_nodes_schema(o->store);
        if (r < 0)
                return r;
        cp_nodes *n = calloc(1, sizeof *n);
        if (!n)
                return cp_error_oom();
        n->store = o->store;
        n->reader = o->reader;
        n->backend = o->backend;
        snprintf(n->url, sizeof n->url, "%s", o->attestd_url);
        snprintf(n->issuer, sizeof n->issuer, "%s", o->issuer ? o->issuer : o->attestd_url);
        n->min_tcb = o->min_tcb;
        n->hb_flushed_ms = cp_now_ms();
        pthread_mutex_init(&n->lock, NULL);
        char url[600];
        snprintf(url, sizeof url, "%s/certs", n->url);
        cp_jwks_cache_options ko = {.url = url, .min_interval_s = o->jwks_min_interval_s, .keep_s = o->jwks_keep_s};
        if ((r = cp_jwks_cache_new(&ko, &n->keys)) < 0 || (r = cp_jwks_cache_start(n->keys)) < 0) {
                cp_nodes_free(n);
                return r;
        }
        *ret = n;
        return 0;
}

cp_nodes *cp_nodes_free(cp_nodes *n) {
        if (!n)
                return NULL;
        if (cp_nodes_flush(n) < 0) {
                fprintf(stderr, "confpoold: heartbeat times not written: %s\n", cp_error_message());
                cp_error_clear();
        }
        for (size_t i = 0; i < HB_BUCKETS; i++)
                for (hb_entry *e = n->hb[i], *nx; e; e = nx) {
                        nx = e->next;
                        free(e);
                }
        cp_jwks_cache_free(n->keys);
        pthread_mutex_destroy(&n->lock);
        free(n);
        return NULL;
}

void cp_nodes_set_min_tcb(cp_nodes *n, const cp_snp_tcb *tcb) {
        pthread_mutex_lock(&n->lock);
        n->min_tcb = *tcb;
        pthread_mutex_unlock(&n->lock);
}

/* Against the attestation service's keys (jwks-cache.h: rolled over,
 * refetched for an unknown kid at most once per interval, no lock held
 * while fetching or verifying). */
int cp_nodes_validate_token(cp_nodes *n, const char *token, cp_jwt **ret) {
        cp_jwt_validate_options vo = CP_JWT_VALIDATE_OPTIONS_INIT;
        vo.issuer = n->issuer;
        vo.slack_s = 30;
        return cp_jwks_cache_validate(n->keys, token, &vo, ret);
}

void cp_nodes_jwks_stats(cp_nodes *n, cp_jwks_cache_stats *ret) {
        cp_jwks_cache_get_stats(n->keys, ret);
}

/* ---- operator override of the pool's policy ------------------------------ */

static int hex_exact(const json_t *v, size_t nbytes, uint8_t *out) {
        const char *h = json_string_value(v);
        size_t got = 0;
        if (!h || strlen(h) != 2 * nbytes || cp_hex_decode(h, 2 * nbytes, out, nbytes, &got) < 0 || got != nbytes) {
                cp_error_clear();
                return -1;
        }
        return 0;
}

#define BAD(target, ...) cp_rule_fail(err, 400, "InvalidParameter", target, __VA_ARGS__)

/* tdxTcbStatuses: Intel's status names a TDX pool accepts (not Revoked:
 * Revoked never verifies), each once. */
static int parse_tdx_statuses(const json_t *v, unsigned *ret, cp_rule_error *err) {
        unsigned mask = 0;
        size_t i;
        const json_t *e;
        if (!json_is_array(v) || json_array_size(v) == 0)
                return BAD("properties.tdxTcbStatuses", "tdxTcbStatuses must be a non-empty array of Intel TCB status "
                                                        "names (UpToDate, SWHardeningNeeded, ...).");
        json_array_foreach(v, i, e) {
                const char *n = json_string_value(e);
                cp_tdx_tcb_status st = n ? cp_tdx_tcb_status_from_name(n) : CP_TDX_TCB_UNKNOWN;
                if (st == CP_TDX_TCB_UNKNOWN || st == CP_TDX_TCB_REVOKED || strcmp(cp_tdx_tcb_status_name(st), n) != 0)
                        return BAD("properties.tdxTcbStatuses",
                                   "tdxTcbStatuses[%zu] is not an accepted Intel TCB status (UpToDate, "
                                   "SWHardeningNeeded, ConfigurationNeeded, ConfigurationAndSWHardeningNeeded, "
                                   "OutOfDate, OutOfDateConfigurationNeeded).",
                                   i);
                if (mask & (1u << st))
                        return BAD("properties.tdxTcbStatuses", "tdxTcbStatuses[%zu] repeats %s.", i, n);
                mask |= 1u << st;
        }
        *ret = mask;
        return 0;
}

int cp_attest_policy_parse(const json_t *props, cp_attest_policy *ret, cp_rule_error *err) {
        cp_attest_policy p = {0};
        if (!json_is_object(props))
                return BAD("properties", "properties must be an object.");
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *) props, k, v) {
                if (strcmp(k, "launchMeasurements") == 0) {
                        size_t n = json_array_size(v);
                        if (!json_is_array(v))
                                return BAD("properties.launchMeasurements",
                                           "launchMeasurements must be an array of 96-hex-digit launch measurements.");
                        if (n == 0)
                                return BAD("properties.launchMeasurements",
                                           "launchMeasurements is empty: omit it to accept the node image's expected "
                                           "measurement(s).");
                        if (n > CP_MAX_POLICY_MEASUREMENTS)
                                return BAD("properties.launchMeasurements",
                                           "launchMeasurements has %zu entries; at most %u are allowed.", n,
                                           CP_MAX_POLICY_MEASUREMENTS);
                        for (size_t i = 0; i < n; i++) {
                                if (hex_exact(json_array_get(v, i), 48, p.measurements[i]) < 0)
                                        return BAD("properties.launchMeasurements",
                                                   "launchMeasurements[%zu] is not a launch measurement: 96 hex "
                                                   "digits (SHA-384) are required.",
                                                   i);
                                for (size_t j = 0; j < i; j++)
                                        if (memcmp(p.measurements[i], p.measurements[j], 48) == 0)
                                                return BAD("properties.launchMeasurements",
                                                           "launchMeasurements[%zu] repeats launchMeasurements[%zu].", i,
                                                           j);
                        }
                        p.n_measurements = n;
                } else if (strcmp(k, "allowDebug") == 0) {
                        if (!json_is_boolean(v))
                                return BAD("properties.allowDebug", "allowDebug must be true or false.");
                        p.allow_debug = json_is_true(v);
                } else if (strcmp(k, "requireEventLogReplay") == 0) {
                        if (!json_is_boolean(v))
                                return BAD("properties.requireEventLogReplay",
                                           "requireEventLogReplay must be true or false.");
                        p.require_eventlog_replay = json_is_true(v);
                } else if (strcmp(k, "hostData") == 0) {
                        if (hex_exact(v, 32, p.host_data) < 0)
                                return BAD("properties.hostData", "hostData must be 64 hex digits (the 32 bytes of "
                                                                  "HOST_DATA).");
                        p.has_host_data = true;
                } else if (strcmp(k, "minimumTcb") == 0) {
                        static const char *const names[] = {"bootloader", "tee", "snp", "microcode"};
                        uint8_t *dst[] = {&p.min_tcb.bl, &p.min_tcb.tee, &p.min_tcb.snp, &p.min_tcb.ucode};
                        if (!json_is_object(v) || json_object_size(v) == 0)
                                return BAD("properties.minimumTcb",
                                           "minimumTcb must be an object with one or more of bootloader, tee, snp, "
                                           "microcode.");
                        const char *tk;
                        const json_t *tv;
                        json_object_foreach((json_t *) v, tk, tv) {
                                size_t i = 0;
                                while (i < CP_ELEMENTSOF(names) && strcmp(tk, names[i]) != 0)
                                        i++;
                                if (i == CP_ELEMENTSOF(names))
                                        return BAD("properties.minimumTcb",
                                                   "minimumTcb has an unknown member '%.64s' (bootloader, tee, snp, "
                                                   "microcode).",
                                                   tk);
                                if (!json_is_integer(tv) || json_integer_value(tv) < 0 || json_integer_value(tv) > 255)
                                        return BAD("properties.minimumTcb",
                                                   "minimumTcb.%s must be an integer from 0 to 255.", tk);
                                *dst[i] = (uint8_t) json_integer_value(tv);
                        }
                        p.has_min_tcb = true;
                } else if (strcmp(k, "tdxTcbStatuses") == 0) {
                        int r = parse_tdx_statuses(v, &p.tdx_tcb_statuses, err);
                        if (r < 0)
                                return r;
                } else if (strcmp(k, "isDefault") == 0 || strcmp(k, "eTag") == 0) {
                        /* read-only members of a GET: ignored */
                } else
                        return BAD("properties", "Unknown member '%.64s' of the attestation policy (launchMeasurements, "
                                                 "allowDebug, minimumTcb, hostData, requireEventLogReplay, "
                                                 "tdxTcbStatuses).",
                                   k);
        }
        *ret = p;
        return 0;
}

#undef BAD

json_t *cp_attest_policy_to_json(const cp_attest_policy *p) {
        json_t *o = json_pack("{s:b,s:b}", "allowDebug", p->allow_debug, "requireEventLogReplay",
                              p->require_eventlog_replay);
        if (!o)
                return NULL;
        if (p->tdx_tcb_statuses) {
                json_t *a = json_array();
                for (int st = CP_TDX_TCB_UP_TO_DATE; a && st < _CP_TDX_TCB_MAX; st++)
                        if (p->tdx_tcb_statuses & (1u << st))
                                json_array_append_new(a, json_string(cp_tdx_tcb_status_name((cp_tdx_tcb_status) st)));
                if (!a || json_object_set_new(o, "tdxTcbStatuses", a) < 0)
                        return json_decref(o), NULL;
        }
        if (p->n_measurements > 0) {
                json_t *a = json_array();
                for (size_t i = 0; a && i < p->n_measurements && i < CP_MAX_POLICY_MEASUREMENTS; i++) {
                        char hex[97];
                        cp_hex_encode(p->measurements[i], 48, hex);
                        json_array_append_new(a, json_string(hex));
                }
                if (!a || json_object_set_new(o, "launchMeasurements", a) < 0)
                        return json_decref(o), NULL;
        }
        if (p->has_min_tcb &&
            json_object_set_new(o, "minimumTcb",
                                json_pack("{s:i,s:i,s:i,s:i}", "bootloader", p->min_tcb.bl, "tee", p->min_tcb.tee,
                                          "snp", p->min_tcb.snp, "microcode", p->min_tcb.ucode)) < 0)
                return json_decref(o), NULL;
        if (p->has_host_data) {
                char hex[65];
                cp_hex_encode(p->host_data, 32, hex);
                if (json_object_set_new(o, "hostData", json_string(hex)) < 0)
                        return json_decref(o), NULL;
        }
        return o;
}

int cp_attest_policy_get(cp_store *s, const char *pool, cp_attest_policy *ret, json_t **ret_doc, char ret_etag[40]) {
        char key[1024];
        cp_id_lower(pool, key, sizeof key);
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(s, "SELECT doc, etag FROM pool_attestation_policy WHERE pool_lc = ?", &st);
        if (r < 0)
                return r;
        cp_stmt_bind_text(st, 1, key);
        r = cp_store_step(s, st);
        if (r < 0)
                return r;
        if (r == 0)
                return CP_ERROR(CP_ENOTFOUND, "no attestation policy override");
        const char *text = cp_stmt_text(st, 0);
        const char *etag = cp_stmt_text(st, 1);
        json_t *doc = text ? json_loads(text, JSON_REJECT_DUPLICATES, NULL) : NULL;
        cp_attest_policy p;
        cp_rule_error err;
        if (!doc || !etag || strlen(etag) >= 40 || cp_attest_policy_parse(json_object_get(doc, "properties"), &p, &err) < 0) {
                json_decref(doc);
                cp_error_clear();
                return CP_ERROR(CP_EFORMAT, "the stored attestation policy of %s is malformed", pool);
        }
        *ret = p;
        if (ret_etag)
                snprintf(ret_etag, 40, "%s", etag);
        if (ret_doc)
                *ret_doc = doc;
        else
                json_decref(doc);
        return 0;
}

int cp_attest_policy_put(cp_store *s, const char *pool, const json_t *doc, const char *etag) {
        cp_attest_policy p;
        cp_rule_error err;
        if (!pool || !etag || strlen(etag) >= 40)
                return CP_ERROR(CP_EINVAL, "attestation policy: pool and an eTag (< 40 characters) are required");
        int r = cp_attest_policy_parse(json_object_get(doc, "properties"), &p, &err);
        if (r < 0)
                return CP_ERROR(CP_EINVAL, "attestation policy: %s", err.message);
        _cleanup_free_ char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
        if (!text)
                return cp_error_oom();
        char key[1024];
        cp_id_lower(pool, key, sizeof key);
        _cleanup_stmt_ cp_stmt *st = NULL;
        r = cp_store_prepare(s,
                             "INSERT INTO pool_attestation_policy(pool_lc, doc, etag) VALUES (?,?,?) "
                             "ON CONFLICT(pool_lc) DO UPDATE SET doc=excluded.doc, etag=excluded.etag",
                             &st);
        if (r < 0)
                return r;
        cp_stmt_bind_text(st, 1, key);
        cp_stmt_bind_text(st, 2, text);
        cp_stmt_bind_text(st, 3, etag);
        r = cp_store_step(s, st);
        return r < 0 ? r : 0;
}

int cp_attest_policy_remove(cp_store *s, const char *pool) {
        char key[1024];
        cp_id_lower(pool, key, sizeof key);
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(s, "DELETE FROM pool_attestation_policy WHERE pool_lc = ?", &st);
        if (r < 0)
                return r;
        cp_stmt_bind_text(st, 1, key);
        r = cp_store_step(s, st);
        return r < 0 ? r : 0;
}

/* ---- the check ------------------------------------------------------------ */

/* Append to why (bounded; truncation is harmless). */
static void why_add(char *why, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void why_add(char *why, size_t size, const char *fmt, ...) {
        size_t l = strnlen(why, size);
        if (l + 1 >= size)
                return;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why + l, size - l, fmt, ap);
        va_end(ap);
}

static int64_t claim_int(const json_t *c, const char *k) {
        const json_t *v = json_object_get(c, k);
        return json_is_integer(v) ? (int64_t) json_integer_value(v) : -1;
}

json_t *cp_nodes_claims_view(const json_t *claims) {
        const char *t = json_string_value(json_object_get(claims, "x-ms-attestation-type"));
        const json_t *tee = json_object_get(claims, "x-ms-isolation-tee");
        if (!t || strcmp(t, "azurevm") != 0 || !json_is_object(tee))
                return json_incref((json_t *) claims);
        json_t *v = json_copy((json_t *) tee);
        const char *k;
        json_t *m;
        json_object_foreach((json_t *) claims, k, m) {
                bool own = !strcmp(k, "iat") || !strcmp(k, "exp") || !strcmp(k, "nbf") || !strcmp(k, "nonce") ||
                           !strncmp(k, "x-confpool-", 11) || !strncmp(k, "x-ms-azurevm-", 13);
                if (v && own && json_object_set(v, k, m) < 0)
                        v = (json_decref(v), NULL);
        }
        return v;
}

/* A token of a TDX node (MAA's TdxVm claims, issue 16). */
static bool claims_tdx(const json_t *claims) {
        const char *t = json_string_value(json_object_get(claims, "x-ms-attestation-type"));
        return t && strcmp(t, "tdxvm") == 0;
}

/* The node's identity set by its host: HOST_DATA (SNP), or MRCONFIGID's
 * first 32 bytes with the other 16 zero (TDX); -1 if absent/malformed. */
static int claims_host_data(const json_t *claims, uint8_t ret[32]) {
        if (!claims_tdx(claims))
                return hex_exact(json_object_get(claims, "x-ms-sevsnpvm-hostdata"), 32, ret);
        uint8_t mc[48];
        static const uint8_t zero[16];
        if (hex_exact(json_object_get(claims, "tdx_mrconfigid"), 48, mc) < 0 || memcmp(mc + 32, zero, 16) != 0)
                return -1;
        memcpy(ret, mc, 32);
        return 0;
}

/* TDX: Intel's TCB status of the platform (attester_tcb_status) must be one
 * the pool accepts (UpToDate): a TCB recovery the host did not follow
 * makes it OutOfDate, and its nodes are quarantined and replaced. */
static bool tdx_tcb_ok(const json_t *claims, const cp_attest_policy *ov, char *why, size_t size) {
        const char *st = json_string_value(json_object_get(claims, "attester_tcb_status"));
        unsigned mask = ov && ov->tdx_tcb_statuses ? ov->tdx_tcb_statuses : 1u << CP_TDX_TCB_UP_TO_DATE;
        cp_tdx_tcb_status s = st ? cp_tdx_tcb_status_from_name(st) : CP_TDX_TCB_UNKNOWN;
        if (s != CP_TDX_TCB_UNKNOWN && s != CP_TDX_TCB_REVOKED && (mask & (1u << s)))
                return true;
        const json_t *adv = json_object_get(claims, "attester_advisory_ids");
        snprintf(why, size, "TDX TCB status %s is not accepted by the pool's policy (accepted: ", st ? st : "(none)");
        for (int i = CP_TDX_TCB_UP_TO_DATE, n = 0; i < _CP_TDX_TCB_MAX; i++)
                if (mask & (1u << i))
                        why_add(why, size, "%s%s", n++ ? ", " : "", cp_tdx_tcb_status_name((cp_tdx_tcb_status) i));
        why_add(why, size, ")");
        for (size_t i = 0; i < json_array_size(adv) && i < 4; i++)
                why_add(why, size, "%s%.24s", i ? ", " : "; advisories: ", json_string_value(json_array_get(adv, i)));
        return false;
}

bool cp_nodes_policy_check(const json_t *claims, const cp_pool_measurement *acc, size_t n_acc, const cp_snp_tcb *floor,
                           const cp_attest_policy *ov, char *why, size_t size) {
        const char *ev = json_string_value(json_object_get(claims, "x-confpool-evidence-type"));
        /* native: the node's own TEE report; azure-hcl: an Azure TDX CVM's paravisor (issue 16) */
        if (!ev || (strcmp(ev, "native") != 0 && strcmp(ev, "azure-hcl") != 0)) {
                snprintf(why, size, "the token is not from confpool's node attestation (native or azure-hcl)");
                return false;
        }
        bool tdx = claims_tdx(claims);
        const char *lm = json_string_value(json_object_get(claims, tdx ? "tdx_mrtd" : "x-ms-sevsnpvm-launchmeasurement"));
        uint8_t got[48];
        size_t gl = 0;
        if (!lm || strlen(lm) != 96 || cp_hex_decode(lm, 96, got, sizeof got, &gl) < 0 || gl != 48) {
                cp_error_clear();
                snprintf(why, size, "the token carries no launch measurement");
                return false;
        }
        bool match = false;
        if (ov && ov->n_measurements > 0) {
                size_t n = ov->n_measurements < CP_MAX_POLICY_MEASUREMENTS ? ov->n_measurements
                                                                           : CP_MAX_POLICY_MEASUREMENTS;
                for (size_t i = 0; i < n; i++)
                        match |= cp_ct_eq(got, ov->measurements[i], 48);
                if (!match) {
                        /* name the measurement and what is accepted (16 hex digits each) */
                        snprintf(why, size, "launch measurement %.96s is not in the launchMeasurements of the pool's "
                                 "attestation policy (", lm);
                        for (size_t i = 0; i < n; i++) {
                                char hex[97];
                                cp_hex_encode(ov->measurements[i], 48, hex);
                                why_add(why, size, "%s%.16s...", i ? ", " : "", hex);
                        }
                        why_add(why, size, ")");
                        return false;
                }
        } else {
                for (size_t i = 0; i < n_acc; i++)
                        match |= cp_ct_eq(got, acc[i].measurement, 48);
                if (!match) {
                        snprintf(why, size, "launch measurement %.96s is not accepted by the pool's policy (", lm);
                        for (size_t i = 0; i < n_acc; i++) {
                                char hex[97];
                                cp_hex_encode(acc[i].measurement, 48, hex);
                                why_add(why, size, "%s%.16s... of %s%s", i ? ", " : "", hex, acc[i].image,
                                        acc[i].previous ? " (previous)" : "");
                        }
                        why_add(why, size, "%s)", n_acc ? "" : "nothing accepted");
                        return false;
                }
        }
        const json_t *dbg = json_object_get(claims, tdx ? "tdx_td_attributes_debug" : "x-ms-sevsnpvm-is-debuggable");
        if (ov && ov->allow_debug) {
                if (!json_is_boolean(dbg)) {
                        snprintf(why, size, "the token does not say whether the guest is debuggable");
                        return false;
                }
        } else if (!json_is_false(dbg)) {
                snprintf(why, size, tdx ? "the TD is a debug TD (TDATTRIBUTES.DEBUG)" : "the guest policy allows debugging");
                return false;
        }
        if (tdx && !tdx_tcb_ok(claims, ov, why, size))
                return false;
        static const char *const names[] = {"x-ms-sevsnpvm-bootloader-svn", "x-ms-sevsnpvm-tee-svn",
                                            "x-ms-sevsnpvm-snpfw-svn", "x-ms-sevsnpvm-microcode-svn"};
        cp_snp_tcb none = {0};
        const cp_snp_tcb *fl = floor ? floor : &none, *pm = ov && ov->has_min_tcb ? &ov->min_tcb : &none;
        const unsigned fmin[] = {fl->bl, fl->tee, fl->snp, fl->ucode};
        const unsigned pmin[] = {pm->bl, pm->tee, pm->snp, pm->ucode};
        for (size_t i = 0; i < 4 && !tdx; i++) {
                unsigned min = fmin[i] > pmin[i] ? fmin[i] : pmin[i];
                int64_t v = claim_int(claims, names[i]);
                if (v < (int64_t) min) {
                        snprintf(why, size, "reported TCB below the policy: %s %lld < %u (%s)", names[i], (long long) v,
                                 min, pmin[i] > fmin[i] ? "the pool's minimumTcb" : "--min-tcb");
                        return false;
                }
        }
        if (ov && ov->has_host_data) {
                uint8_t hd[32];
                if (claims_host_data(claims, hd) < 0) {
                        snprintf(why, size, "the token carries no HOST_DATA (%s) but the policy requires hostData",
                                 tdx ? "tdx_mrconfigid" : "x-ms-sevsnpvm-hostdata");
                        return false;
                }
                if (!cp_ct_eq(hd, ov->host_data, 32)) {
                        char want[65], have[65];
                        cp_hex_encode(ov->host_data, 32, want);
                        cp_hex_encode(hd, 32, have);
                        snprintf(why, size, "HOST_DATA %.64s is not the policy's hostData %.64s", have, want);
                        return false;
                }
        }
        if (ov && ov->require_eventlog_replay &&
            !json_is_true(json_object_get(claims, "x-confpool-eventlog-replayed"))) {
                snprintf(why, size, "the policy requires event-log replay but the token's x-confpool-eventlog-replayed "
                                    "is not true");
                return false;
        }
        return true;
}

/* The pool's policy (the default or the override) against the token. */
static bool policy_ok(cp_nodes *n, const json_t *claims, const cp_pool_measurement *acc, size_t n_acc,
                      const cp_attest_policy *ov, char *why, size_t size) {
        pthread_mutex_lock(&n->lock);
        cp_snp_tcb min = n->min_tcb;
        pthread_mutex_unlock(&n->lock);
        return cp_nodes_policy_check(claims, acc, n_acc, &min, ov, why, size);
}

static hb_entry **hb_slot(cp_nodes *n, const char *key) {
        uint32_t h = 2166136261u;
        for (const char *p = key; *p; p++)
                h = (h ^ (unsigned char) *p) * 16777619u;
        hb_entry **e = &n->hb[h % HB_BUCKETS];
        while (*e && strcmp((*e)->key, key) != 0)
                e = &(*e)->next;
        return e;
}

static void hb_key(const char *pool, const char *name, char *key, size_t size) {
        char lc[1024];
        cp_id_lower(pool, lc, sizeof lc);
        snprintf(key, size, "%s\n%s", lc, name);
}

/* Write the pending heartbeat times (the caller holds the store's
 * transaction, or none: then one of its own). */
static int hb_write(cp_nodes *n) {
        pthread_mutex_lock(&n->lock);
        size_t k = 0, cnt = n->hb_pending;
        struct pend { hb_entry *e; int64_t t; } *v = cnt ? malloc(cnt * sizeof *v) : NULL;
        for (size_t i = 0; v && i < HB_BUCKETS; i++)
                for (hb_entry *e = n->hb[i]; e; e = e->next)
                        if (e->pending && k < cnt) {
                                v[k].e = e; /* entries are never freed before cp_nodes_free */
                                v[k++].t = e->pending;
                                e->pending = 0;
                        }
        n->hb_pending = 0;
        n->hb_flushed_ms = cp_now_ms();
        pthread_mutex_unlock(&n->lock);
        if (cnt && !v)
                return cp_error_oom();
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = k ? cp_store_prepare(n->store,
                                     "UPDATE node_attestation SET heartbeat_at = ? WHERE pool_lc = ? AND name = ? AND "
                                     "heartbeat_at < ?",
                                     &st)
                  : 0;
        for (size_t i = 0; i < k && r >= 0; i++) {
                const char *nl = strchr(v[i].e->key, '\n');
                cp_stmt_reset(st);
                cp_stmt_bind_int64(st, 1, v[i].t);
                cp_stmt_bind_textn(st, 2, v[i].e->key, (size_t) (nl - v[i].e->key));
                cp_stmt_bind_text(st, 3, nl + 1);
                cp_stmt_bind_int64(st, 4, v[i].t);
                r = cp_store_step(n->store, st);
        }
        free(v);
        return r < 0 ? r : 0;
}

int cp_nodes_flush(cp_nodes *n) {
        int r = cp_store_begin(n->store);
        if (r < 0)
                return r;
        if ((r = hb_write(n)) < 0) {
                cp_store_rollback(n->store);
                return r;
        }
        return cp_store_commit(n->store);
}

void cp_nodes_heartbeat_of(cp_nodes *n, const char *pool, const char *name, int64_t *heartbeat_at) {
        char key[1200];
        hb_key(pool, name, key, sizeof key);
        pthread_mutex_lock(&n->lock);
        hb_entry *e = *hb_slot(n, key);
        if (e && e->pending > *heartbeat_at)
                *heartbeat_at = e->pending;
        pthread_mutex_unlock(&n->lock);
}

/* The record's digest without heartbeat_at. */
static void info_digest(const char *reason, const char *host, const json_t *claims, uint8_t ret[16]) {
        char *cl = claims ? json_dumps(claims, JSON_COMPACT | JSON_SORT_KEYS) : NULL, *buf = NULL;
        uint8_t d[32];
        if (asprintf(&buf, "%s\n%s\n%s", reason ? reason : "", host ? host : "", cl ? cl : "") < 0)
                buf = NULL;
        if (buf)
                SHA256((const uint8_t *) buf, strlen(buf), d);
        else
                memset(d, 0, sizeof d); /* no memory: a digest no entry has (all zero is never remembered) */
        free(buf);
        free(cl);
        memcpy(ret, d, 16);
}

/* A heartbeat whose record would change only in heartbeat_at: noted, true
 * (written by the next flush); false: the caller writes the record. */
static bool hb_note(cp_nodes *n, const char *key, const uint8_t digest[16], int64_t now) {
        static const uint8_t zero[16];
        if (memcmp(digest, zero, 16) == 0)
                return false;
        pthread_mutex_lock(&n->lock);
        hb_entry *e = *hb_slot(n, key);
        bool ok = e && memcmp(e->digest, digest, 16) == 0;
        if (ok) {
                n->hb_pending += e->pending == 0;
                e->pending = now;
        }
        pthread_mutex_unlock(&n->lock);
        return ok;
}

/* The record was written in full: remember its digest (nothing pending). */
static void hb_written(cp_nodes *n, const char *key, const uint8_t digest[16]) {
        pthread_mutex_lock(&n->lock);
        hb_entry **slot = hb_slot(n, key), *e = *slot;
        if (!e && (e = calloc(1, sizeof *e + strlen(key) + 1))) {
                strcpy(e->key, key);
                *slot = e;
        }
        if (e) {
                memcpy(e->digest, digest, 16);
                n->hb_pending -= e->pending != 0;
                e->pending = 0;
        }
        pthread_mutex_unlock(&n->lock);
}

static int info_put(cp_store *s, const char *pool, const char *name, const char *reason, const char *host,
                    const json_t *claims, bool heartbeat) {
        char key[1024], tcb[128] = "";
        cp_id_lower(pool, key, sizeof key);
        bool tdx = claims && claims_tdx(claims);
        if (tdx) /* TDX: Intel's status, the platform's FMSPC and TEE_TCB_SVN (what machine show lists) */
                snprintf(tcb, sizeof tcb, "tdx:%.20s,fmspc=%.12s,svn=%.32s",
                         json_string_value(json_object_get(claims, "attester_tcb_status")) ?: "?",
                         json_string_value(json_object_get(claims, "x-confpool-tdx-fmspc")) ?: "?",
                         json_string_value(json_object_get(claims, "tdx_tee_tcb_svn")) ?: "?");
        else if (claims)
                snprintf(tcb, sizeof tcb, "bl=%lld,tee=%lld,snp=%lld,ucode=%lld",
                         (long long) claim_int(claims, "x-ms-sevsnpvm-bootloader-svn"),
                         (long long) claim_int(claims, "x-ms-sevsnpvm-tee-svn"),
                         (long long) claim_int(claims, "x-ms-sevsnpvm-snpfw-svn"),
                         (long long) claim_int(claims, "x-ms-sevsnpvm-microcode-svn"));
        const char *lm = claims ? json_string_value(json_object_get(
                                          claims, tdx ? "tdx_mrtd" : "x-ms-sevsnpvm-launchmeasurement"))
                                : NULL;
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(s,
                                 "INSERT INTO node_attestation(pool_lc, name, reason, host, measurement, tcb, "
                                 "attested_at, token_exp, heartbeat_at) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(pool_lc, "
                                 "name) DO UPDATE SET reason=excluded.reason, host=excluded.host, "
                                 "measurement=excluded.measurement, tcb=excluded.tcb, attested_at=excluded.attested_at, "
                                 "token_exp=excluded.token_exp, heartbeat_at=excluded.heartbeat_at",
                                 &st);
        if (r < 0)
                return r;
        int64_t now = (int64_t) time(NULL);
        cp_stmt_bind_text(st, 1, key);
        cp_stmt_bind_text(st, 2, name);
        cp_stmt_bind_text(st, 3, reason ? reason : "");
        cp_stmt_bind_text(st, 4, host ? host : "");
        cp_stmt_bind_text(st, 5, lm ? lm : "");
        cp_stmt_bind_text(st, 6, tcb);
        cp_stmt_bind_int64(st, 7, claims ? claim_int(claims, "iat") : 0);
        cp_stmt_bind_int64(st, 8, claims ? claim_int(claims, "exp") : 0);
        cp_stmt_bind_int64(st, 9, heartbeat ? now : 0);
        r = cp_store_step(s, st);
        return r < 0 ? r : 0;
}

int cp_nodes_info(cp_store *s, const char *pool, const char *name, cp_node_info *ret) {
        char key[1024];
        cp_id_lower(pool, key, sizeof key);
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(s,
                                 "SELECT reason, host, measurement, tcb, attested_at, token_exp, heartbeat_at FROM "
                                 "node_attestation WHERE pool_lc = ? AND name = ?",
                                 &st);
        if (r < 0)
                return r;
        cp_stmt_bind_text(st, 1, key);
        cp_stmt_bind_text(st, 2, name);
        r = cp_store_step(s, st);
        if (r < 0)
                return r;
        if (r == 0)
                return CP_ERROR(CP_ENOTFOUND, "no attestation record");
        cp_node_info i = {0};
        snprintf(i.reason, sizeof i.reason, "%s", cp_stmt_text(st, 0));
        snprintf(i.host, sizeof i.host, "%s", cp_stmt_text(st, 1));
        snprintf(i.measurement, sizeof i.measurement, "%s", cp_stmt_text(st, 2));
        snprintf(i.tcb, sizeof i.tcb, "%s", cp_stmt_text(st, 3));
        i.attested_at = cp_stmt_int64(st, 4);
        i.token_exp = cp_stmt_int64(st, 5);
        i.heartbeat_at = cp_stmt_int64(st, 6);
        *ret = i;
        return 0;
}

static int info_row_cmp(const void *a, const void *b) {
        return strcmp(((const cp_node_info_row *) a)->name, ((const cp_node_info_row *) b)->name);
}

int cp_nodes_info_list(cp_store *s, const char *pool, cp_node_info_row **ret, size_t *ret_n) {
        char key[1024];
        cp_id_lower(pool, key, sizeof key);
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(s,
                                 "SELECT name, reason, host, measurement, tcb, attested_at, token_exp, heartbeat_at "
                                 "FROM node_attestation WHERE pool_lc = ?",
                                 &st);
        if (r < 0)
                return r;
        cp_stmt_bind_text(st, 1, key);
        cp_node_info_row *rows = NULL;
        size_t n = 0, cap = 0;
        while ((r = cp_store_step(s, st)) > 0) {
                if (n == cap) {
                        cap = cap ? 2 * cap : 64;
                        cp_node_info_row *nr = realloc(rows, cap * sizeof *rows);
                        if (!nr) {
                                free(rows);
                                return cp_error_oom();
                        }
                        rows = nr;
                }
                cp_node_info_row *w = &rows[n++];
                memset(w, 0, sizeof *w);
                snprintf(w->name, sizeof w->name, "%s", cp_stmt_text(st, 0));
                snprintf(w->info.reason, sizeof w->info.reason, "%s", cp_stmt_text(st, 1));
                snprintf(w->info.host, sizeof w->info.host, "%s", cp_stmt_text(st, 2));
                snprintf(w->info.measurement, sizeof w->info.measurement, "%s",
                         cp_stmt_text(st, 3));
                snprintf(w->info.tcb, sizeof w->info.tcb, "%s", cp_stmt_text(st, 4));
                w->info.attested_at = cp_stmt_int64(st, 5);
                w->info.token_exp = cp_stmt_int64(st, 6);
                w->info.heartbeat_at = cp_stmt_int64(st, 7);
        }
        if (r < 0) {
                free(rows);
                return r;
        }
        if (n)
                qsort(rows, n, sizeof *rows, info_row_cmp);
        *ret = rows;
        *ret_n = n;
        return 0;
}

const cp_node_info *cp_nodes_info_find(const cp_node_info_row *rows, size_t n, const char *name) {
        cp_node_info_row k;
        snprintf(k.name, sizeof k.name, "%s", name);
        const cp_node_info_row *hit = n ? bsearch(&k, rows, n, sizeof *rows, info_row_cmp) : NULL;
        return hit ? &hit->info : NULL;
}

/* The token is this node's: its HOST_DATA (set by the host at launch, not
 * chosen by the guest) is the hash of the machine's (pool id, name). */
static bool token_of_node(const cp_machine *m, const json_t *claims, char *why, size_t size) {
        uint8_t want[32], got[32];
        if (cp_node_host_data(m->pool, m->name, want) < 0) {
                cp_error_clear();
                snprintf(why, size, "no node identity for machine %.64s", m->name);
                return false;
        }
        if (claims_host_data(claims, got) < 0 || !cp_ct_eq(got, want, 32)) {
                cp_error_clear();
                snprintf(why, size, "the token's %s is not machine %.64s of this pool's identity "
                         "(SHA-256 of confpool-node:<pool id>/machines/<name>): another node's token",
                         claims_tdx(claims) ? "tdx_mrconfigid" : "x-ms-sevsnpvm-hostdata", m->name);
                return false;
        }
        return true;
}

/* The machine and its pool's document for an admission: 1 with both; 0 and
 * *ret CP_ADMIT_NO_MACHINE when the machine does not exist; negative error. */
static int admission_load(cp_store *s, const char *pool_id, const char *mname, cp_machine *m, json_t **pool,
                          cp_admission *ret) {
        int r = cp_machine_get(s, pool_id, mname, m);
        if (r == CP_ENOTFOUND) {
                cp_error_clear();
                *ret = CP_ADMIT_NO_MACHINE;
                return 0;
        }
        if (r >= 0)
                r = cp_res_get(s, pool_id, pool, NULL);
        return r < 0 ? r : 1;
}

/* admit(dry): the admission needs a write (admit on the store's write
 * transaction then) */
#define ADMIT_NEEDS_WRITE 1

/* One register/heartbeat (the caller holds a transaction on s).  dry: s
 * is the heartbeats' read connection: nothing is written, and an
 * admission that would write returns ADMIT_NEEDS_WRITE (the caller then
 * admits again on the store's write transaction). */
static int admit(cp_nodes *n, cp_store *s, bool dry, const char *pool_id, const char *mname, bool heartbeat,
                 const json_t *claims, cp_admission *ret, char *why, size_t why_size) {
        cp_machine m;
        json_t *pool = NULL;
        int r = admission_load(s, pool_id, mname, &m, &pool, ret);
        if (r <= 0)
                return r;
        /* a stopped machine's node is being (or was) stopped: a register or
         * heartbeat still in flight must not make it Ready again */
        if (strcmp(m.state, "Failed") == 0 || strcmp(m.state, "Quarantined") == 0 ||
            strcmp(m.state, "Stopped") == 0 || !token_of_node(&m, claims, why, why_size)) {
                json_decref(pool);
                *ret = why[0] ? CP_ADMIT_WRONG_NODE : CP_ADMIT_CONFLICT;
                return 0;
        }
        /* the accepted set: the pool's target image (always computed) and
         * the stored policy (previous images while a roll is in progress) */
        const json_t *props = json_object_get(pool, "properties");
        /* the token's TEE is the one of the pool's size (issue 16) */
        const char *vm = json_string_value(json_object_get(props, "vmSize"));
        cp_tee want = vm ? cp_tee_from_size_name(vm) : CP_TEE_NONE;
        cp_tee got = claims_tdx(claims) ? CP_TEE_TDX : CP_TEE_SEV_SNP;
        if (want != got) {
                snprintf(why, why_size, "a %s guest's token for a pool of %.64s, whose TEE is %s", cp_tee_name(got),
                         vm ? vm : "(no size)", cp_tee_name(want));
                json_decref(pool);
                if (dry)
                        return ADMIT_NEEDS_WRITE;
                snprintf(m.state, sizeof m.state, "%s", heartbeat ? "Quarantined" : "Failed");
                if ((r = cp_machine_put(s, &m)) < 0 || (r = info_put(s, pool_id, m.name, why, "", NULL, heartbeat)) < 0)
                        return r;
                *ret = CP_ADMIT_REFUSED;
                return 0;
        }
        cp_node_spec spec = {.pool_id = pool_id, .name = m.name,
                             .vm_size = json_string_value(json_object_get(props, "vmSize")),
                             .image = json_string_value(json_object_get(props, "nodeImageVersion")),
                             .confidential = true};
        cp_pool_measurement *acc = NULL;
        size_t n_acc = 0;
        char host[64] = "";
        r = cp_nodes_policy_list(s, pool_id, &acc, &n_acc);
        size_t stored = n_acc;
        cp_pool_measurement *nacc = r >= 0 ? realloc(acc, (n_acc + 2) * sizeof *acc) : NULL;
        if (r >= 0 && !nacc)
                r = cp_error_oom();
        if (r >= 0) {
                /* the target's entry computed now (replacing a stored one) */
                size_t t = 0;
                acc = nacc;
                while (t < n_acc && strcmp(acc[t].image, spec.image ? spec.image : "") != 0)
                        t++;
                memset(&acc[t], 0, sizeof acc[t]);
                snprintf(acc[t].image, sizeof acc[t].image, "%s", spec.image ? spec.image : "");
                if (!n->backend->ops->expected_measurement)
                        r = CP_ERROR(CP_EUNSUPPORTED, "the %s backend has no node images", n->backend->ops->name);
                else
                        r = n->backend->ops->expected_measurement(n->backend, &spec, acc[t].measurement);
                n_acc += t == n_acc;
        }
        if (r >= 0 && stored == 0 && m.image[0] && strcmp(m.image, acc[0].image) != 0) {
                /* a pool from before the policy table, upgraded: until the
                 * reconciler's first pass stores the set, the machine's own
                 * image (the control plane's record) is accepted too */
                cp_node_spec own = spec;
                own.image = m.image;
                memset(&acc[n_acc], 0, sizeof acc[n_acc]);
                snprintf(acc[n_acc].image, sizeof acc[n_acc].image, "%s", m.image);
                acc[n_acc].previous = true;
                r = n->backend->ops->expected_measurement(n->backend, &own, acc[n_acc].measurement);
                n_acc++;
        }
        json_decref(pool);
        if (r < 0) {
                free(acc);
                return r;
        }
        if (n->backend->ops->node_host && m.handle[0] &&
            n->backend->ops->node_host(n->backend, m.handle, host, sizeof host) < 0)
                cp_error_clear();
        cp_attest_policy ov;
        bool has_ov = false;
        r = cp_attest_policy_get(s, pool_id, &ov, NULL, NULL);
        if (r == CP_ENOTFOUND)
                cp_error_clear();
        else if (r < 0) {
                free(acc);
                return r;
        } else
                has_ov = true;
        bool ok = policy_ok(n, claims, acc, n_acc, has_ov ? &ov : NULL, why, why_size);
        free(acc);
        const char *state = ok ? "Ready" : heartbeat ? "Quarantined" : "Failed";
        /* a heartbeat of a Ready machine leaves its row as it is: only the
         * attestation record's times change (issue 19: one write less per
         * heartbeat) */
        bool same = strcmp(m.state, state) == 0;
        snprintf(m.state, sizeof m.state, "%s", state);
        char key[1200];
        uint8_t dg[16];
        hb_key(pool_id, m.name, key, sizeof key);
        info_digest(ok ? NULL : why, host, claims, dg);
        if (!same && dry)
                return ADMIT_NEEDS_WRITE;
        if (!same && (r = cp_machine_put(s, &m)) < 0)
                return r;
        /* a Ready machine's heartbeat with the record unchanged: only the time,
         * written with others at most once per second */
        if (!(heartbeat && ok && same && hb_note(n, key, dg, (int64_t) time(NULL)))) {
                if (dry)
                        return ADMIT_NEEDS_WRITE;
                if ((r = info_put(s, pool_id, m.name, ok ? NULL : why, host, claims, heartbeat)) < 0)
                        return r;
                hb_written(n, key, dg);
        }
        *ret = ok ? CP_ADMIT_READY : CP_ADMIT_REFUSED;
        return 0;
}

/* A heartbeat on the read connection: 1 admitted (*ret set, nothing to
 * write but the time noted in memory), 0 the write path must admit it. */
static int admit_fast(cp_nodes *n, const char *pool_id, const char *machine, const json_t *claims, cp_admission *ret,
                      char *why, size_t why_size) {
        int r = cp_store_begin_read(n->reader);
        if (r >= 0) {
                r = admit(n, n->reader, true, pool_id, machine, true, claims, ret, why, why_size);
                if (cp_store_commit(n->reader) < 0 && r >= 0)
                        r = -1;
        }
        if (r == 0)
                return 1;
        cp_error_clear(); /* a read that failed: the write path's own answer counts */
        why[0] = 0;
        return 0;
}

int cp_nodes_admit(cp_nodes *n, const char *pool_id, const char *machine, bool heartbeat, const json_t *claims,
                   cp_admission *ret, char *why, size_t why_size) {
        why[0] = 0;
        /* issue 19: a heartbeat that changes nothing but its time never
         * waits for the write transaction (registrations' commits with
         * their fsync, the reconciler's passes) */
        if (heartbeat && n->reader && admit_fast(n, pool_id, machine, claims, ret, why, why_size))
                return 0;
        int r = cp_store_begin(n->store);
        if (r < 0)
                return r;
        r = admit(n, n->store, false, pool_id, machine, heartbeat, claims, ret, why, why_size);
        pthread_mutex_lock(&n->lock);
        bool flush = n->hb_pending && cp_now_ms() - n->hb_flushed_ms >= HB_FLUSH_STALE_MS;
        pthread_mutex_unlock(&n->lock);
        if (r >= 0 && flush)
                r = hb_write(n);
        if (r < 0) {
                cp_store_rollback(n->store);
                return r;
        }
        return cp_store_commit(n->store);
}

/* The bootstrap admission of a node without a TEE (the caller holds the
 * transaction). */
static int admit_bootstrap(cp_nodes *n, const char *pool_id, const char *mname, bool heartbeat, const char *token,
                           cp_admission *ret, char *why, size_t why_size) {
        cp_machine m;
        json_t *pool = NULL;
        int r = admission_load(n->store, pool_id, mname, &m, &pool, ret);
        if (r <= 0)
                return r;
        const char *vm = json_string_value(json_object_get(json_object_get(pool, "properties"), "vmSize"));
        cp_tee tee = vm ? cp_tee_from_size_name(vm) : CP_TEE_SEV_SNP;
        char vms[64];
        snprintf(vms, sizeof vms, "%s", vm ? vm : "");
        json_decref(pool);
        if (strcmp(m.state, "Failed") == 0 || strcmp(m.state, "Quarantined") == 0 || strcmp(m.state, "Stopped") == 0) {
                *ret = CP_ADMIT_CONFLICT;
                return 0;
        }
        if (tee != CP_TEE_NONE) {
                snprintf(why, why_size, "a bootstrap token for a machine of %.64s: its nodes must attest (%s)", vms,
                         cp_tee_name(tee));
                *ret = CP_ADMIT_WRONG_NODE;
                return 0;
        }
        if (!n->backend->ops->check_bootstrap || !m.handle[0] ||
            n->backend->ops->check_bootstrap(n->backend, m.handle, token) < 0) {
                cp_error_clear();
                snprintf(why, why_size, "the bootstrap token is not machine %.64s's", m.name);
                *ret = CP_ADMIT_WRONG_NODE;
                return 0;
        }
        char host[64] = "";
        if (n->backend->ops->node_host && n->backend->ops->node_host(n->backend, m.handle, host, sizeof host) < 0)
                cp_error_clear();
        snprintf(m.state, sizeof m.state, "Ready");
        if ((r = cp_machine_put(n->store, &m)) < 0 || (r = info_put(n->store, pool_id, m.name, NULL, host, NULL,
                                                                     heartbeat)) < 0)
                return r;
        *ret = CP_ADMIT_READY;
        return 0;
}

int cp_nodes_admit_bootstrap(cp_nodes *n, const char *pool_id, const char *machine, bool heartbeat, const char *token,
                             cp_admission *ret, char *why, size_t why_size) {
        why[0] = 0;
        int r = cp_store_begin(n->store);
        if (r < 0)
                return r;
        r = admit_bootstrap(n, pool_id, machine, heartbeat, token, ret, why, why_size);
        if (r < 0) {
                cp_store_rollback(n->store);
                return r;
        }
        return cp_store_commit(n->store);
}
