/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_SHARED_JWKS_CACHE_H
#define CP_SHARED_JWKS_CACHE_H

/*
 * A relying party's copy of an issuer's JWKS (the attestation service's
 * /certs), shared by confpoold (node admission) and confpool-kbsd (key
 * release); docs/threat-model.md "Items 9-10 of issue 13".
 *
 * - Key rollover: every refetch goes through cp_jwks_rollover(), so a key
 *   once seen stays valid for keep_s seconds after it left the issuer's
 *   JWKS (tokens it signed stay valid until they expire), however often the
 *   issuer restarts with a new key.
 * - A token whose kid is unknown triggers a refetch, one at a time (single
 *   flight), and after a fetch that found no new kid none for
 *   min_interval_s (5 s): forged kids cause at most one fetch per interval
 *   (plus one per real key change at the issuer).  A request arriving while
 *   a fetch runs waits for its end (at most 3 s) and is validated again
 *   (nodes re-attested under a new key at the same moment all pass).  Any
 *   fetch (also the background one) that finds a new kid ends the interval,
 *   so an issuer restarted twice in a row is followed at once.  No lock is
 *   held while fetching or verifying: requests with known kids are never
 *   blocked by a fetch.
 * - Verdicts and "not now": a kid that the issuer's keys, fetched for this
 *   very request, do not have is CP_ENOTFOUND (an invalid token: 401).
 *   Everything else that leaves the kid unknown is CP_EAGAIN (503: try
 *   again; not a verdict on the token): no keys fetched yet, the fetch
 *   failed (the issuer is down), a fetch ran by another request that may
 *   have begun before the issuer's new key, a wait over 3 s, or an unknown
 *   kid within the interval.  Before, the last was 401, and a forged kid
 *   sent just before the issuer restarted with a new key made the nodes
 *   that re-attested under it within 30 s quarantined (and replaced).
 * - A background thread (cp_jwks_cache_start) fetches at once, then every
 *   refresh_s seconds (every retry_s while fetches fail): a daemon starts
 *   while the issuer is down and picks its keys up later.
 */

#include <stdbool.h>
#include <stdint.h>

#include "confpool/error.h"
#include "confpool/jwt.h"

#define CP_JWKS_CACHE_KEEP_DEFAULT (28800 + 300) /* attestd's default token lifetime, plus slack */
/* Between fetches unknown kids trigger: well under confpoold's heartbeat
 * deadline (15 s), so a node answered 503 passes at its next heartbeat. */
#define CP_JWKS_CACHE_MIN_INTERVAL_DEFAULT 5

typedef struct cp_jwks_cache_options {
        const char *url;          /* the JWKS document, http(s) (required) */
        const char *ca_file;      /* trust for https (NULL: the system's) */
        long timeout_ms;          /* one fetch; 0: 5000 */
        unsigned min_interval_s;  /* between fetches triggered by unknown kids; 0: CP_JWKS_CACHE_MIN_INTERVAL_DEFAULT */
        unsigned refresh_s;       /* background refresh period; 0: 300 */
        unsigned retry_s;         /* background retry after a failed fetch; 0: 5 */
        int64_t keep_s;           /* a retired key is kept this long; 0: CP_JWKS_CACHE_KEEP_DEFAULT */
} cp_jwks_cache_options;

typedef struct cp_jwks_cache cp_jwks_cache;

/* No fetch yet (see cp_jwks_cache_start / cp_jwks_cache_refresh). */
CP_WUR int cp_jwks_cache_new(const cp_jwks_cache_options *o, cp_jwks_cache **ret);
/* Start the background refresher (its first fetch runs at once). */
CP_WUR int cp_jwks_cache_start(cp_jwks_cache *c);
/* Stops the refresher; accepts NULL; returns NULL.  No request may be
 * validating. */
cp_jwks_cache *cp_jwks_cache_free(cp_jwks_cache *c);

/* Fetch now (not rate-limited; single flight: CP_EBADSEQ while another fetch
 * runs).  A failed fetch keeps the current key set. */
CP_WUR int cp_jwks_cache_refresh(cp_jwks_cache *c);

/* cp_jwt_validate(token, o with o->jwks = the current key set); an unknown
 * kid refetches as described above and validates again. */
CP_WUR int cp_jwks_cache_validate(cp_jwks_cache *c, const char *token, const cp_jwt_validate_options *o,
                                  cp_jwt **ret);

typedef struct cp_jwks_cache_stats {
        uint64_t fetches;        /* fetches started (any trigger) */
        uint64_t fetch_failures; /* of which failed */
        uint64_t unknown_kid_refused; /* unknown kids refused without a fetch (busy or rate-limited) */
        size_t keys, retired;    /* the current key set; of which retired */
} cp_jwks_cache_stats;
void cp_jwks_cache_get_stats(cp_jwks_cache *c, cp_jwks_cache_stats *ret);

#endif
