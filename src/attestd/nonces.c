/* SPDX-License-Identifier: Apache-2.0 */
/* confpool-attestd: the outstanding challenges (POST /challenge nonces).
 *
 * POST /challenge is unauthenticated, so the table must survive a flood:
 * it is bounded (ATTESTD_NONCE_SLOTS), one client address (an IPv6 /64)
 * holds at most ATTESTD_NONCE_PER_SOURCE of it, and when either bound is
 * reached the oldest challenge (of that source, else of all) is evicted
 * instead of the new one refused.  A flooder thus only recycles its own
 * slots, and a challenge of a client that shares its address lives for
 * ATTESTD_NONCE_PER_SOURCE challenges of the flood.  Consumed challenges
 * leave the table at once; expired ones ATTESTD_NONCE_GRACE_S after their
 * expiry (until then a late attest is told "expired", not "unknown").
 * Every operation is O(1) but for the hash chain. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "attestd/attestd-internal.h"
#include "basic/secure.h"

#define SLOT(t, ref) (&(t)->slots[(ref) - 1])

int attestd_nonces_init(nonce_table *t) {
        memset(t, 0, sizeof(*t));
        t->slots = calloc(ATTESTD_NONCE_SLOTS, sizeof(*t->slots));
        t->buckets = calloc(ATTESTD_NONCE_SLOTS, sizeof(*t->buckets));
        t->sources = calloc(ATTESTD_NONCE_SOURCES, sizeof(*t->sources));
        if (!t->slots || !t->buckets || !t->sources) {
                attestd_nonces_free(t);
                return cp_error_oom();
        }
        if (RAND_bytes((unsigned char *) &t->seed, sizeof(t->seed)) != 1) {
                attestd_nonces_free(t);
                return CP_ERROR(CP_ECRYPTO, "RAND_bytes for the challenge table's hash key");
        }
        return 0;
}

void attestd_nonces_free(nonce_table *t) {
        free(t->slots);
        free(t->buckets);
        free(t->sources);
        memset(t, 0, sizeof(*t));
}

static uint64_t keyed_hash(uint64_t seed, const uint8_t *p, size_t len) {
        uint64_t h = 1469598103934665603ull ^ seed;
        for (size_t i = 0; i < len; i++)
                h = (h ^ p[i]) * 1099511628211ull;
        h ^= h >> 29;
        return h * 0xbf58476d1ce4e5b9ull ^ (h >> 32);
}

/* The source bucket of a numeric address: IPv4 whole, IPv6 its /64 (one
 * host gets a /64), anything else (out of band) as text. */
static uint32_t source_of(const nonce_table *t, const char *addr) {
        uint8_t a[16];
        if (addr && inet_pton(AF_INET, addr, a) == 1)
                return (uint32_t) (keyed_hash(t->seed, a, 4) % ATTESTD_NONCE_SOURCES);
        if (addr && inet_pton(AF_INET6, addr, a) == 1)
                return (uint32_t) (keyed_hash(t->seed + 1, a, 8) % ATTESTD_NONCE_SOURCES);
        return (uint32_t) (keyed_hash(t->seed + 2, (const uint8_t *) (addr ? addr : ""), addr ? strlen(addr) : 0) %
                           ATTESTD_NONCE_SOURCES);
}

static uint32_t bucket_of(const nonce_table *t, const uint8_t *nonce, size_t len) {
        return (uint32_t) (keyed_hash(t->seed, nonce, len) % ATTESTD_NONCE_SLOTS);
}

static uint32_t lookup(const nonce_table *t, const uint8_t *nonce, size_t len) {
        for (uint32_t r = t->buckets[bucket_of(t, nonce, len)]; r; r = SLOT(t, r)->hnext) {
                const nonce_slot *e = SLOT(t, r);
                if (e->len == len && cp_ct_eq(e->nonce, nonce, len))
                        return r;
        }
        return 0;
}

/* Take slot ref out of the hash chain and both age lists; free it. */
static void unlink_slot(nonce_table *t, uint32_t ref) {
        nonce_slot *e = SLOT(t, ref);
        nonce_source *src = &t->sources[e->src];
        for (uint32_t *p = &t->buckets[bucket_of(t, e->nonce, e->len)]; *p; p = &SLOT(t, *p)->hnext)
                if (*p == ref) {
                        *p = e->hnext;
                        break;
                }
        *(e->prev ? &SLOT(t, e->prev)->next : &t->head) = e->next;
        *(e->next ? &SLOT(t, e->next)->prev : &t->tail) = e->prev;
        *(e->sprev ? &SLOT(t, e->sprev)->snext : &src->head) = e->snext;
        *(e->snext ? &SLOT(t, e->snext)->sprev : &src->tail) = e->sprev;
        src->n--;
        t->n--;
        cp_wipe(e, sizeof(*e));
        e->hnext = t->free_list;
        t->free_list = ref;
}

static uint32_t alloc_slot(nonce_table *t) {
        uint32_t r = t->free_list;
        if (r) {
                t->free_list = SLOT(t, r)->hnext;
                return r;
        }
        return t->fresh < ATTESTD_NONCE_SLOTS ? ++t->fresh : 0;
}

/* Make room for one challenge of source src (nonce_lock held). */
static void make_room(cp_attestd *s, uint32_t src, int64_t now) {
        nonce_table *t = &s->nonces;
        while (t->head && SLOT(t, t->head)->expires_at + ATTESTD_NONCE_GRACE_S < now) {
                unlink_slot(t, t->head);
                atomic_fetch_add(&s->m.challenges_expired, 1);
        }
        if (t->sources[src].n >= ATTESTD_NONCE_PER_SOURCE) {
                unlink_slot(t, t->sources[src].head);
                atomic_fetch_add(&s->m.challenges_evicted, 1);
        } else if (t->n >= ATTESTD_NONCE_SLOTS) {
                unlink_slot(t, t->head);
                atomic_fetch_add(&s->m.challenges_evicted, 1);
        }
}

int attestd_nonce_issue(cp_attestd *s, const uint8_t *nonce, size_t len, int64_t expires_at, const char *source) {
        nonce_table *t = &s->nonces;
        int64_t now = attestd_now(s);
        if (!nonce || len == 0 || len > ATTESTD_NONCE_MAX)
                return CP_ERROR(CP_EINVAL, "challenge nonce of %zu bytes (1 to %d)", len, ATTESTD_NONCE_MAX);
        pthread_mutex_lock(&s->nonce_lock);
        uint32_t dup = lookup(t, nonce, len);
        if (dup && SLOT(t, dup)->expires_at >= now) {
                pthread_mutex_unlock(&s->nonce_lock);
                return CP_ERROR(CP_EINVAL, "challenge nonce already registered");
        }
        if (dup)
                unlink_slot(t, dup); /* expired: the new registration replaces it */
        uint32_t src = source_of(t, source);
        make_room(s, src, now);
        uint32_t r = alloc_slot(t);
        if (!r) { /* cannot happen: make_room freed one */
                pthread_mutex_unlock(&s->nonce_lock);
                return CP_ERROR(CP_EINTERNAL, "challenge table: no free slot");
        }
        nonce_slot *e = SLOT(t, r);
        nonce_source *sc = &t->sources[src];
        e->len = (uint8_t) len;
        memcpy(e->nonce, nonce, len);
        e->expires_at = expires_at;
        e->src = src;
        uint32_t b = bucket_of(t, nonce, len);
        e->hnext = t->buckets[b];
        t->buckets[b] = r;
        e->prev = t->tail;
        e->next = 0;
        *(t->tail ? &SLOT(t, t->tail)->next : &t->head) = r;
        t->tail = r;
        e->sprev = sc->tail;
        e->snext = 0;
        *(sc->tail ? &SLOT(t, sc->tail)->snext : &sc->head) = r;
        sc->tail = r;
        sc->n++;
        t->n++;
        pthread_mutex_unlock(&s->nonce_lock);
        return 0;
}

int cp_attestd_nonce_register(cp_attestd *s, const uint8_t *nonce, size_t len, int64_t expires_at) {
        return attestd_nonce_issue(s, nonce, len, expires_at, NULL);
}

/* Single use: CP_EBINDING if unknown or already used (or evicted),
 * CP_EEXPIRED if expired; either way it leaves the table. */
int attestd_nonce_consume(cp_attestd *s, const uint8_t *nonce, size_t len) {
        nonce_table *t = &s->nonces;
        int64_t now = attestd_now(s);
        if (len == 0 || len > ATTESTD_NONCE_MAX)
                return CP_ERROR(CP_EBINDING, "nonce unknown or already used");
        pthread_mutex_lock(&s->nonce_lock);
        uint32_t r = lookup(t, nonce, len);
        bool expired = r && SLOT(t, r)->expires_at < now;
        if (r)
                unlink_slot(t, r);
        pthread_mutex_unlock(&s->nonce_lock);
        if (!r)
                return CP_ERROR(CP_EBINDING, "nonce unknown or already used (or not used in time)");
        return expired ? CP_ERROR(CP_EEXPIRED, "nonce expired") : 0;
}
