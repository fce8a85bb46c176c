/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Relying-party keys of the attestation service (issue 13, items 9-10):
 * cp_jwks_rollover (a key gone from the JWKS stays until its tokens have
 * expired), the JWKS cache (service/jwks-cache.h) against a real HTTP JWKS
 * endpoint that can be slow, down, or rotate its key, and confpoold's node
 * admission (cp_nodes_validate_token) on top of it.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "basic/codec.h"
#include "confpool/jwt.h"
#include "controlplane/cp-backend.h"
#include "controlplane/cp-nodes.h"
#include "controlplane/cp-store.h"
#include "service/httpc.h"
#include "service/httpd.h"
#include "service/jwks-cache.h"
#include "tests.h"

/* ---- a JWKS endpoint: serves keys[] at /certs after delay_ms ------------- */

typedef struct issuer {
        pthread_mutex_t mu;
        cp_jwt_key *keys[2];
        size_t n;
        atomic_int delay_ms, fetches;
        atomic_bool down;
        cp_httpd *httpd;
        char url[64];
} issuer;

static void serve(void *userdata, const cp_http_request *req, cp_http_response *resp) {
        issuer *is = userdata;
        if (strcmp(req->path, "/certs") != 0 || is->down) {
                if (cp_http_resp_text(resp, 503, "down") < 0)
                        resp->status = 500;
                return;
        }
        atomic_fetch_add(&is->fetches, 1);
        usleep((useconds_t) atomic_load(&is->delay_ms) * 1000);
        json_t *arr = json_array();
        pthread_mutex_lock(&is->mu);
        for (size_t i = 0; i < is->n; i++) {
                json_t *jwk = NULL;
                if (cp_jwt_key_to_jwk(is->keys[i], &jwk) == 0)
                        json_array_append_new(arr, jwk);
        }
        pthread_mutex_unlock(&is->mu);
        if (cp_http_resp_json(resp, 200, json_pack("{s:o}", "keys", arr)) < 0)
                resp->status = 500;
}

static cp_jwt_key *new_key(void) {
        cp_jwt_key *k = NULL;
        ASSERT_OK(cp_jwt_key_generate(CP_JWT_ES256, NULL, 0, 1, &k));
        return k;
}

static void issuer_start(issuer *is) {
        memset(is, 0, sizeof *is);
        pthread_mutex_init(&is->mu, NULL);
        is->keys[0] = new_key();
        is->n = 1;
        cp_httpd_options ho = {.bind_addr = "127.0.0.1", .threads = 16};
        ASSERT_OK(cp_httpd_start(&ho, serve, is, &is->httpd));
        snprintf(is->url, sizeof is->url, "http://127.0.0.1:%u", cp_httpd_port(is->httpd));
}

/* The issuer restarts with a new signing key: only the new one is served. */
static void issuer_rotate(issuer *is) {
        pthread_mutex_lock(&is->mu);
        cp_jwt_key_free(is->keys[1]);
        is->keys[1] = is->keys[0];
        is->keys[0] = new_key();
        pthread_mutex_unlock(&is->mu);
}

static void issuer_stop(issuer *is) {
        cp_httpd_stop(is->httpd);
        cp_jwt_key_free(is->keys[0]);
        cp_jwt_key_free(is->keys[1]);
        pthread_mutex_destroy(&is->mu);
}

static char *token_of(const issuer *is, const cp_jwt_key *k) {
        json_t *claims = json_pack("{s:s,s:I}", "iss", is->url, "exp", (json_int_t) time(NULL) + 600);
        char *t = NULL;
        ASSERT_OK(cp_jwt_sign(k, claims, NULL, &t));
        json_decref(claims);
        return t;
}

/* A token naming a kid nobody has (what an unauthenticated caller can send). */
static char *forged_token(unsigned i) {
        char hdr[128], h64[256], payload[] = "{\"iss\":\"x\",\"exp\":9999999999}", p64[128];
        snprintf(hdr, sizeof hdr, "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"forged-%u-%ld\"}", i, random());
        cp_b64_encode((const uint8_t *) hdr, strlen(hdr), CP_B64_URL, h64);
        cp_b64_encode((const uint8_t *) payload, strlen(payload), CP_B64_URL, p64);
        char *t = malloc(512);
        snprintf(t, 512, "%s.%s.AAAA", h64, p64);
        return t;
}

static int64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- cp_jwks_rollover ------------------------------------------------------ */

TEST(rollover_keeps_retired_keys_until_keep_s) {
        cp_jwt_key *a = new_key(), *b = new_key();
        cp_jwks *ja = NULL, *jb = NULL, *m1 = NULL, *m2 = NULL, *m3 = NULL, *m4 = NULL;
        ASSERT_OK(cp_jwks_from_keys((const cp_jwt_key *const[]){a}, 1, &ja));
        ASSERT_OK(cp_jwks_from_keys((const cp_jwt_key *const[]){b}, 1, &jb));
        /* b replaces a at t=1000: a is retired, both verify */
        ASSERT_OK(cp_jwks_rollover(ja, jb, 1000, 600, &m1));
        ASSERT_EQ(cp_jwks_count(m1), 2);
        ASSERT_EQ(cp_jwks_retired_count(m1), 1);
        ASSERT_TRUE(cp_jwks_has_kid(m1, cp_jwt_key_kid(a)) && cp_jwks_has_kid(m1, cp_jwt_key_kid(b)));
        /* refetched later: a keeps its first retirement time */
        ASSERT_OK(cp_jwks_rollover(m1, jb, 1599, 600, &m2));
        ASSERT_TRUE(cp_jwks_has_kid(m2, cp_jwt_key_kid(a)));
        ASSERT_OK(cp_jwks_rollover(m2, jb, 1600, 600, &m3));
        ASSERT_FALSE(cp_jwks_has_kid(m3, cp_jwt_key_kid(a)));
        ASSERT_EQ(cp_jwks_count(m3), 1);
        /* a served again is current again */
        ASSERT_OK(cp_jwks_rollover(m1, ja, 1700, 600, &m4));
        ASSERT_EQ(cp_jwks_retired_count(m4), 1); /* b retired now */
        ASSERT_ERR(cp_jwks_rollover(ja, NULL, 0, 1, &m4), CP_EINVAL);
        cp_jwks_free(ja), cp_jwks_free(jb), cp_jwks_free(m1), cp_jwks_free(m2), cp_jwks_free(m3), cp_jwks_free(m4);
        cp_jwt_key_free(a), cp_jwt_key_free(b);
}

TEST(rollover_bounded_oldest_retired_first) {
        cp_jwks *cur = NULL;
        cp_jwt_key *first = NULL, *last = NULL;
        for (unsigned i = 0; i < CP_JWT_MAX_KEYS + 3; i++) {
                cp_jwt_key *k = new_key();
                cp_jwks *fresh = NULL, *next = NULL;
                ASSERT_OK(cp_jwks_from_keys((const cp_jwt_key *const[]){k}, 1, &fresh));
                ASSERT_OK(cp_jwks_rollover(cur, fresh, 1000 + i, 100000, &next));
                cp_jwks_free(cur), cp_jwks_free(fresh);
                cur = next;
                if (!first)
                        first = k;
                else if (last != first)
                        cp_jwt_key_free(last);
                last = k;
        }
        ASSERT_EQ(cp_jwks_count(cur), CP_JWT_MAX_KEYS);
        ASSERT_FALSE(cp_jwks_has_kid(cur, cp_jwt_key_kid(first))); /* the oldest went */
        ASSERT_TRUE(cp_jwks_has_kid(cur, cp_jwt_key_kid(last)));
        cp_jwks_free(cur);
        cp_jwt_key_free(first), cp_jwt_key_free(last);
}

/* ---- the cache against an endpoint ----------------------------------------- */

static int validate(cp_jwks_cache *c, const issuer *is, const char *tok) {
        cp_jwt_validate_options vo = CP_JWT_VALIDATE_OPTIONS_INIT;
        vo.issuer = is->url;
        cp_jwt *j = NULL;
        int r = cp_jwks_cache_validate(c, tok, &vo, &j);
        cp_jwt_free(j);
        if (r < 0)
                cp_error_clear();
        return r;
}

/* A cache of the issuer's JWKS (its /certs) with options o (their url set here). */
static cp_jwks_cache *cache_of(const issuer *is, cp_jwks_cache_options o) {
        char url[96];
        snprintf(url, sizeof url, "%s/certs", is->url);
        o.url = url; /* copied by the cache */
        cp_jwks_cache *c = NULL;
        ASSERT_OK(cp_jwks_cache_new(&o, &c));
        return c;
}

/* attestd restarted with a new key: old tokens still pass, new ones too;
 * forged kids start the interval, real key changes do not. */
TEST(cache_rolls_over_issuer_restart_with_new_key) {
        issuer is;
        issuer_start(&is);
        /* 3 s: the steps within the interval below must finish inside it on a loaded machine */
        cp_jwks_cache *c = cache_of(&is, (cp_jwks_cache_options){.min_interval_s = 3});
        char *old_tok = token_of(&is, is.keys[0]);
        ASSERT_OK(validate(c, &is, old_tok)); /* first use fetches */
        issuer_rotate(&is);
        char *new_tok = token_of(&is, is.keys[0]);
        ASSERT_OK(validate(c, &is, new_tok)); /* unknown kid: refetch (the last fetch learned keys: no interval) */
        ASSERT_OK(validate(c, &is, old_tok)); /* the old key was kept */
        ASSERT_EQ(atomic_load(&is.fetches), 2);
        /* a forged kid: one fetch that learns nothing (a verdict: the
         * issuer's keys of now do not have it), then the interval */
        char *f1 = forged_token(1), *f2 = forged_token(2);
        ASSERT_ERR(validate(c, &is, f1), CP_ENOTFOUND);
        ASSERT_EQ(atomic_load(&is.fetches), 3);
        ASSERT_ERR(validate(c, &is, f2), CP_EAGAIN); /* within it: not a verdict, no fetch */
        ASSERT_EQ(atomic_load(&is.fetches), 3);
        /* a real restart within the interval: "try again" (503), not
         * refused (401: the node was quarantined), until its end */
        issuer_rotate(&is);
        char *third = token_of(&is, is.keys[0]);
        ASSERT_ERR(validate(c, &is, third), CP_EAGAIN);
        usleep(3100 * 1000);
        ASSERT_OK(validate(c, &is, third));
        ASSERT_OK(validate(c, &is, old_tok)); /* two rotations later */
        ASSERT_OK(cp_jwks_cache_refresh(c));  /* and survives further refreshes */
        ASSERT_OK(validate(c, &is, new_tok));
        cp_jwks_cache_stats st;
        cp_jwks_cache_get_stats(c, &st);
        ASSERT_EQ(st.keys, 3);
        ASSERT_EQ(st.retired, 2);
        free(old_tok), free(new_tok), free(third), free(f1), free(f2);
        cp_jwks_cache_free(c);
        issuer_stop(&is);
}

/* The issuer is down when the relying party starts: it starts anyway, and
 * the background refresher picks the keys up once the issuer is back. */
TEST(cache_starts_with_issuer_down_and_fetches_later) {
        issuer is;
        issuer_start(&is);
        is.down = true;
        cp_jwks_cache *c = cache_of(&is, (cp_jwks_cache_options){.retry_s = 1, .min_interval_s = 60});
        ASSERT_OK(cp_jwks_cache_start(c));
        char *tok = token_of(&is, is.keys[0]);
        usleep(300 * 1000);
        ASSERT_ERR(validate(c, &is, tok), CP_EAGAIN); /* no keys yet: not a verdict */
        is.down = false;
        int r = CP_EAGAIN;
        for (int i = 0; i < 40 && r < 0; i++, usleep(100 * 1000))
                r = validate(c, &is, tok);
        ASSERT_OK(r);
        free(tok);
        cp_jwks_cache_free(c);
        issuer_stop(&is);
}

typedef struct flood {
        cp_nodes *nodes;
        atomic_int done, refused;
        atomic_bool stop;
} flood;

static void *forger(void *arg) {
        flood *f = arg;
        for (unsigned i = 0; !atomic_load(&f->stop); i++) {
                char *t = forged_token(i);
                cp_jwt *j = NULL;
                if (cp_nodes_validate_token(f->nodes, t, &j) < 0)
                        atomic_fetch_add(&f->refused, 1);
                cp_error_clear();
                cp_jwt_free(j);
                free(t);
                atomic_fetch_add(&f->done, 1);
                usleep(1000);
        }
        return NULL;
}

/* confpoold's node admission (cp_nodes: a store in a temporary directory,
 * the fake backend) validating tokens of issuer is through its JWKS cache. */
typedef struct admission {
        char dir[64];
        cp_store *store;
        cp_backend *be;
        cp_nodes *nodes;
} admission;

static void admission_open(admission *ad, const issuer *is, unsigned min_interval_s) {
        char db[128];
        memset(ad, 0, sizeof *ad);
        snprintf(ad->dir, sizeof ad->dir, "/tmp/test-jwks-cache-XXXXXX");
        ASSERT_TRUE(mkdtemp(ad->dir) != NULL);
        snprintf(db, sizeof db, "%s/cp.db", ad->dir);
        ASSERT_OK(cp_cpstore_open(db, &ad->store));
        ASSERT_OK(cp_backend_fake_new(0, NULL, NULL, &ad->be));
        cp_nodes_options no = {.store = ad->store, .backend = ad->be, .attestd_url = is->url,
                               .jwks_min_interval_s = min_interval_s};
        ASSERT_OK(cp_nodes_new(&no, &ad->nodes));
}

static void admission_close(admission *ad) {
        char cmd[160];
        cp_nodes_free(ad->nodes);
        cp_backend_free(ad->be);
        cp_store_close(ad->store);
        snprintf(cmd, sizeof cmd, "rm -rf %s", ad->dir);
        ASSERT_TRUE(system(cmd) == 0);
}

/* Item 10: forged kids from 8 threads for ~2.5 s against a slow JWKS
 * endpoint (2 s a fetch) through confpoold's node admission, interval 2 s:
 * at most one fetch per interval (2 in all, 3 at the edge), every forged
 * kid refused (after waiting for a running fetch), and a valid token is
 * answered at once while a fetch is running (before: every forged kid
 * fetched under one lock, valid tokens waited behind them). */
TEST(nodes_forged_kids_slow_endpoint_single_flight) {
        issuer is;
        issuer_start(&is);
        admission ad;
        admission_open(&ad, &is, 2);
        cp_nodes *nodes = ad.nodes;
        char *good = token_of(&is, is.keys[0]);
        cp_jwt *j = NULL;
        /* the background fetch at start (or this call waiting for it) */
        ASSERT_OK(cp_nodes_validate_token(nodes, good, &j));
        j = cp_jwt_free(j);
        usleep(2100 * 1000); /* the first fetch and its interval are over */
        atomic_store(&is.delay_ms, 2000);
        int before = atomic_load(&is.fetches);
        flood f = {.nodes = nodes};
        pthread_t th[8];
        for (size_t i = 0; i < 8; i++)
                ASSERT_TRUE(pthread_create(&th[i], NULL, forger, &f) == 0);
        usleep(200 * 1000); /* a forged kid's fetch is running now */
        int64_t worst = 0;
        for (int i = 0; i < 20; i++) {
                int64_t t0 = now_ms();
                ASSERT_OK(cp_nodes_validate_token(nodes, good, &j));
                j = cp_jwt_free(j);
                int64_t dt = now_ms() - t0;
                worst = dt > worst ? dt : worst;
                usleep(100 * 1000);
        }
        atomic_store(&f.stop, true);
        for (size_t i = 0; i < 8; i++)
                pthread_join(th[i], NULL);
        int fetches = atomic_load(&is.fetches) - before;
        cp_jwks_cache_stats st;
        cp_nodes_jwks_stats(nodes, &st);
        fprintf(stderr, "forged-kid requests %d (refused %d), JWKS fetches %d, refused without fetch %llu, "
                        "worst valid-token latency %lld ms\n",
                atomic_load(&f.done), atomic_load(&f.refused), fetches, (unsigned long long) st.unknown_kid_refused,
                (long long) worst);
        ASSERT_TRUE(atomic_load(&f.done) >= 8);
        ASSERT_EQ(atomic_load(&f.refused), atomic_load(&f.done));
        ASSERT_TRUE(fetches >= 1 && fetches <= 3);
        ASSERT_TRUE(worst < 500);
        free(good);
        admission_close(&ad);
        issuer_stop(&is);
}

/* Two nodes re-attested under the issuer's new key at the same moment
 * (the issuer restarted): the first one's unknown kid starts a (slow) fetch;
 * the second, arriving while it runs, waits for it and passes.  Before, the
 * second was refused ("being fetched"), its heartbeat answered 401 and the
 * node quarantined (cli-kubectl-restarts, under load). */
typedef struct concurrent_new_kid {
        cp_jwks_cache *c;
        issuer *is;
        const char *tok;
        int r;
} concurrent_new_kid;

static void *validate_new_kid(void *arg) {
        concurrent_new_kid *v = arg;
        v->r = validate(v->c, v->is, v->tok);
        cp_error_clear();
        return NULL;
}

TEST(new_key_tokens_during_a_running_fetch_wait_for_it) {
        issuer is;
        issuer_start(&is);
        cp_jwks_cache *c = cache_of(&is, (cp_jwks_cache_options){.min_interval_s = 30});
        char *old_tok = token_of(&is, is.keys[0]);
        ASSERT_OK(validate(c, &is, old_tok));
        issuer_rotate(&is);
        atomic_store(&is.delay_ms, 800);
        char *new_tok = token_of(&is, is.keys[0]);
        concurrent_new_kid v[4];
        pthread_t th[4];
        for (int i = 0; i < 4; i++) {
                v[i] = (concurrent_new_kid) {.c = c, .is = &is, .tok = new_tok, .r = -1};
                ASSERT_TRUE(pthread_create(&th[i], NULL, validate_new_kid, &v[i]) == 0);
                usleep(50 * 1000); /* the first one's fetch is running when the others come */
        }
        for (int i = 0; i < 4; i++) {
                pthread_join(th[i], NULL);
                ASSERT_OK(v[i].r);
        }
        ASSERT_EQ(atomic_load(&is.fetches), 2); /* one for all four */
        free(old_tok);
        free(new_tok);
        cp_jwks_cache_free(c);
        issuer_stop(&is);
}

/* Item 9 through node admission: attestd restarted with a new key; a
 * running node's heartbeat token (old key) and a new node's token (new
 * key) both pass, in either order. */
TEST(nodes_old_and_new_attestd_keys_both_pass) {
        issuer is;
        issuer_start(&is);
        admission ad;
        admission_open(&ad, &is, 1);
        cp_nodes *nodes = ad.nodes;
        char *old_tok = token_of(&is, is.keys[0]);
        cp_jwt *j = NULL;
        ASSERT_OK(cp_nodes_validate_token(nodes, old_tok, &j));
        j = cp_jwt_free(j);
        issuer_rotate(&is);
        usleep(1100 * 1000); /* jwks_min_interval_s after the first fetch */
        char *new_tok = token_of(&is, is.keys[0]);
        ASSERT_OK(cp_nodes_validate_token(nodes, new_tok, &j)); /* the new node registers */
        j = cp_jwt_free(j);
        ASSERT_OK(cp_nodes_validate_token(nodes, old_tok, &j)); /* the old node's heartbeat */
        j = cp_jwt_free(j);
        free(old_tok), free(new_tok);
        admission_close(&ad);
        issuer_stop(&is);
}

/* confpool-kbsd with --authority ISSUER=URL: it starts while the authority
 * is down (before: kbsd-main fetched once at start and exited), accepts
 * the authority's tokens once it is up, and after the authority restarted
 * with a new key accepts both the new key's tokens (refetch on the unknown
 * kid; before: the JWKS of the start was kept forever) and the old one's. */
#include "kbsd/kbsd-internal.h"

static int kbsd_token_check(cp_kbsd *kbs, const char *tok, cp_kbsd_refusal *o) {
        const char *policy = "{\"version\":\"1.0.0\",\"anyOf\":[{\"authority\":\"x\",\"allOf\":[{\"claim\":\"c\","
                             "\"equals\":\"v\"}]}]}";
        cp_jwt *j = NULL;
        cp_wrap_key *tee = NULL;
        memset(o, 0, sizeof *o);
        int r = cp_kbsd_release_check(kbs, policy, tok, o, &j, &tee);
        cp_jwt_free(j);
        cp_wrap_key_free(tee);
        cp_error_clear();
        return r;
}

TEST(kbsd_authority_url_down_at_start_then_rotated) {
        issuer is;
        issuer_start(&is);
        is.down = true;
        char dir[] = "/tmp/test-jwks-cache-XXXXXX", db[128], url[96];
        ASSERT_TRUE(mkdtemp(dir) != NULL);
        snprintf(db, sizeof db, "%s/kbs.db", dir);
        snprintf(url, sizeof url, "%s/certs", is.url);
        uint8_t mk[CP_KBSD_MASTER_KEY_LEN] = {1};
        cp_kbsd_config kc = {.db_path = db, .master_key = mk, .quiet = true, .threads = 2, .n_authorities = 1,
                             .n_tokens = 1};
        kc.authorities[0] = (cp_kbsd_authority){.issuer = is.url, .jwks_url = url};
        kc.tokens[0] = (cp_kbsd_token){.name = "ops", .token = "admin-token-0123456789", .scope = CP_KBSD_SCOPE_ADMIN};
        cp_kbsd *kbs = NULL;
        ASSERT_OK(cp_kbsd_new(&kc, &kbs)); /* the authority is down: kbsd starts anyway */
        ASSERT_OK(cp_kbsd_start(kbs));
        char *old_tok = token_of(&is, is.keys[0]);
        cp_kbsd_refusal o;
        /* not a verdict while the authority's keys are unknown: 503, the agent tries again */
        ASSERT_EQ(kbsd_token_check(kbs, old_tok, &o), CP_EAGAIN);
        ASSERT_EQ(o.status, 503);
        ASSERT_TRUE(strstr(o.reason, "not checked now") != NULL);
        /* over HTTP: 503, audited "unavailable", not "denied" */
        char kurl[128], body[1024];
        cp_httpc_options ho = {.timeout_ms = 10000, .bearer = "admin-token-0123456789"};
        cp_httpc_response resp = {0};
        snprintf(kurl, sizeof kurl, "http://127.0.0.1:%u/keys/k1/create?api-version=7.4", (unsigned) cp_kbsd_port(kbs));
        char pol[512], pol64[800], ck[1200];
        snprintf(pol, sizeof pol,
                 "{\"version\":\"1.0.0\",\"anyOf\":[{\"authority\":\"%s\",\"allOf\":[{\"claim\":\"c\","
                 "\"equals\":\"v\"}]}]}", is.url);
        cp_b64_encode((const uint8_t *) pol, strlen(pol), CP_B64_URL, pol64);
        snprintf(ck, sizeof ck,
                 "{\"kty\":\"oct\",\"attributes\":{\"exportable\":true},\"release_policy\":{\"data\":\"%s\"}}", pol64);
        ASSERT_OK(cp_httpc_request(&ho, "POST", kurl, NULL, ck, strlen(ck), &resp));
        ASSERT_EQ(resp.status, 200);
        cp_httpc_response_clear(&resp);
        snprintf(kurl, sizeof kurl, "http://127.0.0.1:%u/keys/k1/release?api-version=7.4", (unsigned) cp_kbsd_port(kbs));
        snprintf(body, sizeof body, "{\"target\":\"%s\"}", old_tok);
        ASSERT_OK(cp_httpc_request(&ho, "POST", kurl, NULL, body, strlen(body), &resp));
        ASSERT_EQ(resp.status, 503);
        cp_httpc_response_clear(&resp);
        long unavailable = 0, denied = 0;
        ASSERT_OK(cp_kbsd_audit_count(kbs, "unavailable", &unavailable));
        ASSERT_OK(cp_kbsd_audit_count(kbs, "denied", &denied));
        ASSERT_EQ(unavailable, 1);
        ASSERT_EQ(denied, 0);
        is.down = false;
        ASSERT_OK(cp_jwks_cache_refresh(kbs->auth[0].cache)); /* what the refresher does within 5 s */
        /* past the token: refused by the release policy (the token is ours, not the policy's) */
        ASSERT_TRUE(kbsd_token_check(kbs, old_tok, &o) < 0);
        ASSERT_TRUE(strstr(o.reason, "attestation token rejected") == NULL);
        issuer_rotate(&is);
        char *new_tok = token_of(&is, is.keys[0]);
        ASSERT_TRUE(kbsd_token_check(kbs, new_tok, &o) < 0);
        ASSERT_TRUE(strstr(o.reason, "attestation token rejected") == NULL);
        ASSERT_TRUE(kbsd_token_check(kbs, old_tok, &o) < 0);
        ASSERT_TRUE(strstr(o.reason, "attestation token rejected") == NULL);
        free(old_tok), free(new_tok);
        cp_kbsd_free(kbs);
        issuer_stop(&is);
        char cmd[160];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        ASSERT_TRUE(system(cmd) == 0);
}
