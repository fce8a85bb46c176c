/* SPDX-License-Identifier: Apache-2.0 */
/* A relying party's rolling, rate-limited copy of an issuer's JWKS
 * (jwks-cache.h). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "basic/clock.h"
#include "service/httpc.h"
#include "service/jwks-cache.h"

/* A key set shared by the requests validating against it. */
typedef struct held {
        unsigned refs;
        cp_jwks *jwks;
} held;

struct cp_jwks_cache {
        cp_jwks_cache_options o;
        char *url, *ca_file;
        pthread_mutex_t mu;
        pthread_cond_t cond;      /* a fetch finished, or stop */
        held *cur;                /* NULL until the first successful fetch */
        bool fetching, stop, thread_started;
        int64_t last_trigger_ms;  /* monotonic start of the last fetch an unknown kid triggered */
        bool triggered;
        bool last_fetch_ok;       /* the last fetch that ended succeeded */
        cp_jwks_cache_stats st;
        pthread_t thread;
};

int cp_jwks_cache_new(const cp_jwks_cache_options *o, cp_jwks_cache **ret) {
        if (!o || !o->url || strncmp(o->url, "http", 4) != 0)
                return CP_ERROR(CP_EINVAL, "JWKS cache: an http(s) URL of the JWKS is required");
        cp_jwks_cache *c = calloc(1, sizeof *c);
        if (!c)
                return cp_error_oom();
        c->o = *o;
        c->url = strdup(o->url);
        c->ca_file = o->ca_file ? strdup(o->ca_file) : NULL;
        if (!c->url || (o->ca_file && !c->ca_file)) {
                free(c->url);
                free(c->ca_file);
                free(c);
                return cp_error_oom();
        }
        c->o.url = c->url;
        c->o.ca_file = c->ca_file;
        c->o.timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 5000;
        c->o.min_interval_s = o->min_interval_s ? o->min_interval_s : CP_JWKS_CACHE_MIN_INTERVAL_DEFAULT;
        c->o.refresh_s = o->refresh_s ? o->refresh_s : 300;
        c->o.retry_s = o->retry_s ? o->retry_s : 5;
        c->o.keep_s = o->keep_s > 0 ? o->keep_s : CP_JWKS_CACHE_KEEP_DEFAULT;
        pthread_mutex_init(&c->mu, NULL);
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&c->cond, &ca);
        pthread_condattr_destroy(&ca);
        *ret = c;
        return 0;
}

/* Caller holds mu. */
static void held_put(held *h) {
        if (h && --h->refs == 0) {
                cp_jwks_free(h->jwks);
                free(h);
        }
}

static held *acquire(cp_jwks_cache *c) {
        pthread_mutex_lock(&c->mu);
        held *h = c->cur;
        if (h)
                h->refs++;
        pthread_mutex_unlock(&c->mu);
        return h;
}

static void release(cp_jwks_cache *c, held *h) {
        pthread_mutex_lock(&c->mu);
        held_put(h);
        pthread_mutex_unlock(&c->mu);
}

/* GET the document and parse it; no lock held. */
static int download(const cp_jwks_cache *c, cp_jwks **ret) {
        cp_httpc_options ho = {.timeout_ms = c->o.timeout_ms, .ca_file = c->o.ca_file, .max_response = CP_JWT_MAX_JWKS};
        cp_httpc_response resp = {0};
        int r = cp_httpc_request(&ho, "GET", c->url, NULL, NULL, 0, &resp);
        if (r >= 0 && resp.status != 200)
                r = CP_ERROR(CP_ENETWORK, "GET %s: HTTP %ld", c->url, resp.status);
        if (r >= 0 && (r = cp_jwks_parse((const char *) resp.body, resp.body_len, ret)) < 0)
                r = cp_error_wrap("JWKS from %s: ", c->url);
        cp_httpc_response_clear(&resp);
        return r;
}

/* Whether merged (the set after a fetch) holds a kid that old did not: the
 * issuer changed its keys.  Keys without kid never count (an issuer without
 * kids would otherwise lift the interval at every fetch). */
static bool learns(const cp_jwks *old, const cp_jwks *merged) {
        for (size_t i = 0, n = cp_jwks_count(merged); i < n; i++) {
                const char *kid = cp_jwks_kid_at(merged, i);
                if (kid && !cp_jwks_has_kid(old, kid))
                        return true;
        }
        return false;
}

/* The fetch itself, c->fetching set by the caller (under mu); clears it. */
static int fetch_locked_out(cp_jwks_cache *c) {
        cp_jwks *fresh = NULL, *merged = NULL;
        int r = download(c, &fresh);
        pthread_mutex_lock(&c->mu);
        if (r >= 0)
                r = cp_jwks_rollover(c->cur ? c->cur->jwks : NULL, fresh, (int64_t) time(NULL), c->o.keep_s, &merged);
        /* the issuer did change its keys: whoever fetched, an interval an
         * earlier fetch started ends (a second restart soon after is followed) */
        if (r >= 0 && learns(c->cur ? c->cur->jwks : NULL, merged))
                c->triggered = false;
        held *h = NULL;
        if (r >= 0 && !(h = calloc(1, sizeof *h)))
                r = cp_error_oom();
        if (r >= 0) {
                h->refs = 1;
                h->jwks = merged;
                merged = NULL;
                held_put(c->cur);
                c->cur = h;
                c->st.keys = cp_jwks_count(h->jwks);
                c->st.retired = cp_jwks_retired_count(h->jwks);
        } else
                c->st.fetch_failures++;
        c->last_fetch_ok = r >= 0;
        c->fetching = false;
        pthread_cond_broadcast(&c->cond);
        pthread_mutex_unlock(&c->mu);
        cp_jwks_free(fresh);
        cp_jwks_free(merged);
        return r;
}

int cp_jwks_cache_refresh(cp_jwks_cache *c) {
        pthread_mutex_lock(&c->mu);
        if (c->fetching) {
                pthread_mutex_unlock(&c->mu);
                return CP_ERROR(CP_EBADSEQ, "JWKS from %s: a fetch is already running", c->url);
        }
        c->fetching = true;
        c->st.fetches++;
        pthread_mutex_unlock(&c->mu);
        return fetch_locked_out(c);
}

/* An unknown kid (or no keys yet): FRESH this request's own fetch succeeded
 * (a kid still unknown is a verdict), WAITED a running fetch ended (validate
 * again; a kid still unknown is not yet a verdict: that fetch may have
 * begun before the issuer's new key), NONE no fetch (rate-limited, the wait
 * was too long, or the fetch failed). */
enum { NONE, WAITED, FRESH };
#define UNKNOWN_KID_WAIT_MS 3000
static int refetch_for_unknown(cp_jwks_cache *c) {
        int64_t now = cp_monotonic_ms();
        pthread_mutex_lock(&c->mu);
        if (c->fetching) {
                /* a fetch is running (another request's, or the refresher's): wait for its end,
                 * at most UNKNOWN_KID_WAIT_MS, and validate again.  Nodes that re-attested under
                 * the issuer's new key at the same moment were refused but for the one whose
                 * heartbeat started the fetch, and quarantined (the stack test caught it under
                 * load).  A forged kid waits as long, once per fetch: fetches stay one per
                 * min_interval_s. */
                struct timespec dl = cp_clock_in_ms(CLOCK_MONOTONIC, UNKNOWN_KID_WAIT_MS);
                while (c->fetching && pthread_cond_timedwait(&c->cond, &c->mu, &dl) == 0)
                        ;
                bool done = !c->fetching && c->last_fetch_ok;
                c->st.unknown_kid_refused += !done;
                pthread_mutex_unlock(&c->mu);
                return done ? WAITED : NONE;
        }
        if (c->triggered && now - c->last_trigger_ms < (int64_t) c->o.min_interval_s * 1000) {
                c->st.unknown_kid_refused++;
                pthread_mutex_unlock(&c->mu);
                return NONE;
        }
        c->fetching = c->triggered = true;
        c->last_trigger_ms = now;
        c->st.fetches++;
        pthread_mutex_unlock(&c->mu);
        if (fetch_locked_out(c) < 0) {
                cp_error_clear(); /* the caller reports it: try again */
                return NONE;
        }
        return FRESH;
}

static int validate_with(cp_jwks_cache *c, const char *token, const cp_jwt_validate_options *o, cp_jwt **ret) {
        held *h = acquire(c);
        if (!h)
                return CP_ERROR(CP_EAGAIN, "no signing keys of the issuer yet (JWKS %s not fetched)", c->url);
        cp_jwt_validate_options vo = *o;
        vo.jwks = h->jwks;
        int r = cp_jwt_validate(token, strlen(token), &vo, ret);
        release(c, h);
        return r;
}

int cp_jwks_cache_validate(cp_jwks_cache *c, const char *token, const cp_jwt_validate_options *o, cp_jwt **ret) {
        if (!c || !token || !o || !ret)
                return CP_ERROR(CP_EINVAL, "JWKS cache: token and options are required");
        int r = validate_with(c, token, o, ret);
        if (r != CP_ENOTFOUND && r != CP_EAGAIN)
                return r;
        char why[300];
        snprintf(why, sizeof why, "%s", cp_error_message());
        cp_error_clear();
        int f = refetch_for_unknown(c);
        if (f != NONE) {
                r = validate_with(c, token, o, ret);
                if ((r != CP_ENOTFOUND && r != CP_EAGAIN) || (f == FRESH && r == CP_ENOTFOUND))
                        return r; /* valid, invalid, or a kid the issuer's current keys do not have */
                snprintf(why, sizeof why, "%s", cp_error_message());
                cp_error_clear();
        }
        return CP_ERROR(CP_EAGAIN, "%s (the issuer's keys are being fetched, could not be fetched, or were fetched "
                                   "less than %u s ago: try again)", why, c->o.min_interval_s);
}

static void *refresher(void *arg) {
        cp_jwks_cache *c = arg;
        for (;;) {
                int r = cp_jwks_cache_refresh(c);
                if (r < 0) {
                        if (r != CP_EBADSEQ)
                                fprintf(stderr, "jwks: %s (retrying in %u s)\n", cp_error_message(), c->o.retry_s);
                        cp_error_clear();
                }
                unsigned wait_s = r < 0 ? c->o.retry_s : c->o.refresh_s;
                struct timespec dl;
                clock_gettime(CLOCK_MONOTONIC, &dl);
                dl.tv_sec += wait_s;
                pthread_mutex_lock(&c->mu);
                while (!c->stop && pthread_cond_timedwait(&c->cond, &c->mu, &dl) != ETIMEDOUT)
                        ;
                bool stop = c->stop;
                pthread_mutex_unlock(&c->mu);
                if (stop)
                        return NULL;
        }
}

int cp_jwks_cache_start(cp_jwks_cache *c) {
        if (c->thread_started)
                return 0;
        int e = pthread_create(&c->thread, NULL, refresher, c);
        if (e != 0)
                return CP_ERROR(CP_EIO, "JWKS cache: cannot start the refresher: %s", strerror(e));
        c->thread_started = true;
        return 0;
}

cp_jwks_cache *cp_jwks_cache_free(cp_jwks_cache *c) {
        if (!c)
                return NULL;
        if (c->thread_started) {
                pthread_mutex_lock(&c->mu);
                c->stop = true;
                pthread_cond_broadcast(&c->cond);
                pthread_mutex_unlock(&c->mu);
                pthread_join(c->thread, NULL);
        }
        pthread_mutex_lock(&c->mu);
        held_put(c->cur);
        c->cur = NULL;
        pthread_mutex_unlock(&c->mu);
        pthread_mutex_destroy(&c->mu);
        pthread_cond_destroy(&c->cond);
        free(c->url);
        free(c->ca_file);
        free(c);
        return NULL;
}

void cp_jwks_cache_get_stats(cp_jwks_cache *c, cp_jwks_cache_stats *ret) {
        pthread_mutex_lock(&c->mu);
        *ret = c->st;
        pthread_mutex_unlock(&c->mu);
}
