/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_LIB_ECFB_H
#define CP_LIB_ECFB_H

/*
 * Fixed-base ECDSA verification for P-256 and P-384 (issue 19, docs/verifier.md
 * "Repeat-key verification").  For a public key Q seen more than once, a table
 * of j * 2^(w*i) * Q (affine, signed digits) is built once; a verification is
 * then u1*G + u2*Q as table additions only, against the same kind of table for
 * G (built once per process): no doublings, no field inversion (x(R) == r is
 * checked projectively).  Variable time: every input is public (key,
 * signature, digest).  Field arithmetic: Montgomery multiplication on 64-bit
 * limbs (unsigned __int128), the scalar arithmetic mod n with GMP.
 *
 * cp_ecfb_cache keeps tables per exact public key bytes, LRU-bounded; a table
 * is built on a key's second sighting (first sight costs one look-up: the
 * caller verifies with its generic library then).
 */

#include <stddef.h>
#include <stdint.h>

#include "confpool/error.h"

typedef enum cp_ecfb_curve {
        CP_ECFB_P256 = 0,
        CP_ECFB_P384,
        _CP_ECFB_CURVE_MAX,
} cp_ecfb_curve;

typedef struct cp_ecfb_table cp_ecfb_table;
typedef struct cp_ecfb_cache cp_ecfb_cache;

/* Bytes of one coordinate: 32 (P-256) or 48 (P-384). */
size_t cp_ecfb_coord_len(cp_ecfb_curve curve);

/* Build the table for Q = (x || y), big-endian affine coordinates of
 * 2 * cp_ecfb_coord_len() bytes.  CP_ECERT if Q is not a point on the curve,
 * CP_EINVAL for an unknown curve. */
CP_WUR int cp_ecfb_table_new(cp_ecfb_curve curve, const uint8_t *xy, cp_ecfb_table **ret);
cp_ecfb_table *cp_ecfb_table_ref(cp_ecfb_table *t);
void cp_ecfb_table_unref(cp_ecfb_table *t);
/* Heap bytes held by the table (the points). */
size_t cp_ecfb_table_bytes(const cp_ecfb_table *t);
/* Bytes a Q table of this curve takes (the same for every key). */
size_t cp_ecfb_table_bytes_for(cp_ecfb_curve curve);

/* ECDSA verification of (r, s) (big-endian, coord_len bytes each) over a
 * digest (its leftmost bits as FIPS 186 says when it is longer than the
 * order).  0 if valid, CP_ESIG if not (r or s outside [1, n-1], or the
 * equation fails), CP_EINVAL on bad arguments. */
CP_WUR int cp_ecfb_verify(const cp_ecfb_table *q, const uint8_t *digest, size_t digest_len, const uint8_t *r,
                          const uint8_t *s);

/* ---- the cache: up to capacity tables (LRU); a table is built when a key
 * is looked up the build_after-th time (>= 1) among the recent sightings. */
#define CP_ECFB_CACHE_DEFAULT_CAPACITY 32u
#define CP_ECFB_CACHE_DEFAULT_BUILD_AFTER 2u
CP_WUR int cp_ecfb_cache_new(size_t capacity, unsigned build_after, cp_ecfb_cache **ret);
cp_ecfb_cache *cp_ecfb_cache_free(cp_ecfb_cache *c);
/* A reference to the table of key xy (release with cp_ecfb_table_unref), or
 * NULL: not seen often enough yet, or not a point (the caller's generic
 * verify then gives the verdict).  Thread-safe. */
cp_ecfb_table *cp_ecfb_cache_get(cp_ecfb_cache *c, cp_ecfb_curve curve, const uint8_t *xy);

typedef struct cp_ecfb_stats {
        uint64_t hits, misses, builds, evictions;
        size_t tables, bytes;
} cp_ecfb_stats;
void cp_ecfb_cache_stats(cp_ecfb_cache *c, cp_ecfb_stats *ret);

/* The verifiers' caches (snp_verify.c, tdx_verify.c), for tests and benchmarks. */
struct cp_snp_verifier;
struct cp_tdx_verifier;
void cp_snp_verifier_ecfb_stats(struct cp_snp_verifier *v, cp_ecfb_stats *ret);
void cp_tdx_verifier_ecfb_stats(struct cp_tdx_verifier *v, cp_ecfb_stats *ret);

#endif
