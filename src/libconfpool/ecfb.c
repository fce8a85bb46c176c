/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fixed-base ECDSA verification (see ecfb.h): the curves, the tables, the
 * per-key cache.  The arithmetic is in ecfb-impl.h, instantiated for 4 and
 * 6 limbs.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <gmp.h>

#include "libconfpool/ecfb.h"

typedef unsigned __int128 u128;
/* limbs are handed to GMP as mp_limb_t arrays (mpz_roinit_n) */
_Static_assert(sizeof(mp_limb_t) == sizeof(uint64_t), "GMP limbs must be 64 bits");
/* every limb loop has a constant bound of 4 or 6: unrolled, the operands
 * stay in registers (3x faster than the loops at -O2) */
#define ECFB_UNROLL _Pragma("GCC unroll 8")

#define ECFB_MAX_LIMBS 6
/* Window widths (signed digits: a window holds 2^(w-1) points).  G's table
 * is one per process; a Q table is one per cached key, so narrower. */
#define ECFB_WG 10u
static unsigned wq_for(cp_ecfb_curve curve) {
        return curve == CP_ECFB_P256 ? 8u : 7u;
}

typedef struct ecfb_curve_def {
        unsigned nl, bits;
        uint64_t p[ECFB_MAX_LIMBS], n[ECFB_MAX_LIMBS];
        uint64_t pinv;                 /* -p^-1 mod 2^64 */
        uint64_t rr[ECFB_MAX_LIMBS];   /* R^2 mod p */
        uint64_t one[ECFB_MAX_LIMBS];  /* R mod p */
        uint64_t b[ECFB_MAX_LIMBS];    /* Montgomery form */
        cp_ecfb_table *g;
} ecfb_curve_def;

struct cp_ecfb_table {
        atomic_uint refs;
        cp_ecfb_curve curve;
        unsigned w, nwin;
        uint8_t key[96];
        uint64_t *pts;
        size_t bytes;
};

#define NL 4
#include "libconfpool/ecfb-impl.h"
#undef NL
#define NL 6
#include "libconfpool/ecfb-impl.h"
#undef NL

static const struct {
        const char *p, *n, *b, *gx, *gy;
        unsigned nl;
} curve_hex[_CP_ECFB_CURVE_MAX] = {
        [CP_ECFB_P256] = {
                "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff",
                "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551",
                "5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b",
                "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296",
                "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5",
                4,
        },
        [CP_ECFB_P384] = {
                "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe"
                "ffffffff0000000000000000ffffffff",
                "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf"
                "581a0db248b0a77aecec196accc52973",
                "b3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875a"
                "c656398d8a2ed19d2a85c8edd3ec2aef",
                "aa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a38"
                "5502f25dbf55296c3a545e3872760ab7",
                "3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c0"
                "0a60b1ce1d7e819d7a431d7c90ea0e5f",
                6,
        },
};

static ecfb_curve_def curves[_CP_ECFB_CURVE_MAX];
static pthread_once_t curves_once = PTHREAD_ONCE_INIT;
static bool curves_ok;

static void to_limbs(const mpz_t z, uint64_t *out, unsigned nl) {
        size_t cnt = 0;
        memset(out, 0, nl * sizeof(uint64_t));
        mpz_export(out, &cnt, -1, 8, 0, 0, z);
}

static void hex_bytes(const char *hex, uint8_t *out, size_t n) {
        for (size_t i = 0; i < n; i++) {
                unsigned v = 0;
                for (int k = 0; k < 2; k++) {
                        char c = hex[2 * i + k];
                        v = v * 16 + (unsigned) (c <= '9' ? c - '0' : c - 'a' + 10);
                }
                out[i] = (uint8_t) v;
        }
}

size_t cp_ecfb_coord_len(cp_ecfb_curve curve) {
        return curve == CP_ECFB_P256 ? 32 : curve == CP_ECFB_P384 ? 48 : 0;
}

static unsigned nwin_for(cp_ecfb_curve curve, unsigned w) {
        unsigned bits = (unsigned) cp_ecfb_coord_len(curve) * 8;
        return (bits + 1 + w - 1) / w; /* one more bit: the last signed digit's carry */
}

static int table_build(cp_ecfb_curve curve, const uint8_t *xy, unsigned w, cp_ecfb_table **ret);

static void curve_init(cp_ecfb_curve k) {
        ecfb_curve_def *C = &curves[k];
        mpz_t p, n, t;
        mpz_inits(p, n, t, NULL);
        C->nl = curve_hex[k].nl;
        C->bits = C->nl * 64;
        mpz_set_str(p, curve_hex[k].p, 16);
        mpz_set_str(n, curve_hex[k].n, 16);
        to_limbs(p, C->p, C->nl);
        to_limbs(n, C->n, C->nl);
        uint64_t inv = 1; /* p^-1 mod 2^64 by Newton's iteration */
        for (int i = 0; i < 7; i++)
                inv *= 2 - C->p[0] * inv;
        C->pinv = (uint64_t) 0 - inv;
        mpz_set_ui(t, 1);
        mpz_mul_2exp(t, t, 64u * C->nl);
        mpz_mod(t, t, p);
        to_limbs(t, C->one, C->nl);
        mpz_mul(t, t, t);
        mpz_mod(t, t, p);
        to_limbs(t, C->rr, C->nl);
        mpz_set_str(t, curve_hex[k].b, 16);
        mpz_mul_2exp(t, t, 64u * C->nl);
        mpz_mod(t, t, p);
        to_limbs(t, C->b, C->nl);
        mpz_clears(p, n, t, NULL);
}

static void curves_init(void) {
        bool ok = true;
        for (int k = 0; k < _CP_ECFB_CURVE_MAX; k++)
                curve_init((cp_ecfb_curve) k);
        for (int k = 0; k < _CP_ECFB_CURVE_MAX; k++) {
                size_t cl = cp_ecfb_coord_len((cp_ecfb_curve) k);
                uint8_t g[96];
                hex_bytes(curve_hex[k].gx, g, cl);
                hex_bytes(curve_hex[k].gy, g + cl, cl);
                if (table_build((cp_ecfb_curve) k, g, ECFB_WG, &curves[k].g) < 0)
                        ok = false;
        }
        curves_ok = ok;
}

static const ecfb_curve_def *curve_get(cp_ecfb_curve curve) {
        pthread_once(&curves_once, curves_init);
        return curves_ok ? &curves[curve] : NULL;
}

/* Big-endian bytes -> little-endian limbs; false if the value is >= bound. */
static bool bytes_below(const uint8_t *in, size_t len, const uint64_t *bound, unsigned nl, uint64_t *out) {
        memset(out, 0, nl * sizeof(uint64_t));
        for (size_t i = 0; i < len; i++) {
                size_t bit = (len - 1 - i) * 8;
                out[bit / 64] |= (uint64_t) in[i] << (bit % 64);
        }
        for (unsigned j = nl; j-- > 0;)
                if (out[j] != bound[j])
                        return out[j] < bound[j];
        return false;
}

static int table_build(cp_ecfb_curve curve, const uint8_t *xy, unsigned w, cp_ecfb_table **ret) {
        const ecfb_curve_def *C = &curves[curve];
        size_t cl = cp_ecfb_coord_len(curve);
        uint64_t x[ECFB_MAX_LIMBS], y[ECFB_MAX_LIMBS], xm[ECFB_MAX_LIMBS], ym[ECFB_MAX_LIMBS];
        if (!bytes_below(xy, cl, C->p, C->nl, x) || !bytes_below(xy + cl, cl, C->p, C->nl, y))
                return CP_ERROR(CP_ECERT, "public key coordinate is not below the field prime");
        bool on;
        if (C->nl == 4) {
                fmul_4(xm, x, C->rr, C);
                fmul_4(ym, y, C->rr, C);
                on = on_curve_4(xm, ym, C);
        } else {
                fmul_6(xm, x, C->rr, C);
                fmul_6(ym, y, C->rr, C);
                on = on_curve_6(xm, ym, C);
        }
        if (!on)
                return CP_ERROR(CP_ECERT, "public key is not a point on %s", curve == CP_ECFB_P256 ? "P-256" : "P-384");
        cp_ecfb_table *t = calloc(1, sizeof(*t));
        if (!t)
                return cp_error_oom();
        atomic_init(&t->refs, 1);
        t->curve = curve;
        t->w = w;
        t->nwin = nwin_for(curve, w);
        memcpy(t->key, xy, 2 * cl);
        t->bytes = (size_t) t->nwin * ((size_t) 1 << (w - 1)) * 2 * C->nl * sizeof(uint64_t);
        t->pts = malloc(t->bytes);
        int r = !t->pts ? -ENOMEM
                : C->nl == 4 ? build_4(xm, ym, w, t->nwin, t->pts, C)
                             : build_6(xm, ym, w, t->nwin, t->pts, C);
        if (r < 0) {
                free(t->pts);
                free(t);
                return cp_error_oom();
        }
        *ret = t;
        return 0;
}

int cp_ecfb_table_new(cp_ecfb_curve curve, const uint8_t *xy, cp_ecfb_table **ret) {
        if ((unsigned) curve >= _CP_ECFB_CURVE_MAX || !xy || !ret)
                return CP_ERROR(CP_EINVAL, "cp_ecfb_table_new: invalid arguments");
        if (!curve_get(curve))
                return CP_ERROR(CP_ENOMEM, "fixed-base tables for the generators could not be built");
        return table_build(curve, xy, wq_for(curve), ret);
}

cp_ecfb_table *cp_ecfb_table_ref(cp_ecfb_table *t) {
        if (t)
                atomic_fetch_add(&t->refs, 1);
        return t;
}

void cp_ecfb_table_unref(cp_ecfb_table *t) {
        if (!t || atomic_fetch_sub(&t->refs, 1) != 1)
                return;
        free(t->pts);
        free(t);
}

size_t cp_ecfb_table_bytes(const cp_ecfb_table *t) {
        return t ? t->bytes : 0;
}

size_t cp_ecfb_table_bytes_for(cp_ecfb_curve curve) {
        size_t cl = cp_ecfb_coord_len(curve);
        unsigned w = wq_for(curve);
        return (size_t) nwin_for(curve, w) * ((size_t) 1 << (w - 1)) * 2 * cl;
}

static bool limbs_zero(const uint64_t *l, unsigned nl) {
        uint64_t acc = 0;
        for (unsigned j = 0; j < nl; j++)
                acc |= l[j];
        return acc == 0;
}

/* u1 = e / s, u2 = r / s mod n, as limbs. */
static void scalars(const ecfb_curve_def *C, const uint64_t *e, const uint64_t *r, const uint64_t *s, uint64_t *u1,
                    uint64_t *u2) {
        mpz_t n, w, t;
        mpz_roinit_n(n, (const mp_limb_t *) C->n, C->nl);
        mpz_inits(w, t, NULL);
        mpz_import(w, C->nl, -1, 8, 0, 0, s);
        mpz_invert(w, w, n); /* s in [1, n-1], n prime: invertible */
        mpz_import(t, C->nl, -1, 8, 0, 0, e);
        mpz_mul(t, t, w);
        mpz_mod(t, t, n);
        to_limbs(t, u1, C->nl);
        mpz_import(t, C->nl, -1, 8, 0, 0, r);
        mpz_mul(t, t, w);
        mpz_mod(t, t, n);
        to_limbs(t, u2, C->nl);
        mpz_clears(w, t, NULL);
}

int cp_ecfb_verify(const cp_ecfb_table *q, const uint8_t *digest, size_t digest_len, const uint8_t *r,
                   const uint8_t *s) {
        if (!q || (!digest && digest_len) || !r || !s)
                return CP_ERROR(CP_EINVAL, "cp_ecfb_verify: NULL argument");
        const ecfb_curve_def *C = curve_get(q->curve);
        if (!C)
                return CP_ERROR(CP_ENOMEM, "fixed-base tables for the generators could not be built");
        const char *name = q->curve == CP_ECFB_P256 ? "P-256" : "P-384";
        size_t cl = cp_ecfb_coord_len(q->curve);
        uint64_t rl[ECFB_MAX_LIMBS], sl[ECFB_MAX_LIMBS], el[ECFB_MAX_LIMBS], u1[ECFB_MAX_LIMBS], u2[ECFB_MAX_LIMBS];
        if (!bytes_below(r, cl, C->n, C->nl, rl) || limbs_zero(rl, C->nl) || !bytes_below(s, cl, C->n, C->nl, sl) ||
            limbs_zero(sl, C->nl))
                return CP_ERROR(CP_ESIG, "ECDSA %s signature: r or s outside [1, n-1]", name);
        /* the digest's leftmost bits (n has exactly 8 cl bits); then mod n:
         * e < 2^bits < 2n, so one subtraction */
        size_t dl = digest_len < cl ? digest_len : cl;
        if (!bytes_below(digest, dl, C->n, C->nl, el)) {
                u128 b = 0;
                for (unsigned j = 0; j < C->nl; j++) {
                        u128 x = (u128) el[j] - C->n[j] - (uint64_t) b;
                        el[j] = (uint64_t) x;
                        b = (x >> 127);
                }
        }
        scalars(C, el, rl, sl, u1, u2);
        const cp_ecfb_table *g = C->g;
        bool ok = C->nl == 4 ? check_4(u1, u2, rl, C, g->w, g->nwin, g->pts, q->w, q->nwin, q->pts)
                             : check_6(u1, u2, rl, C, g->w, g->nwin, g->pts, q->w, q->nwin, q->pts);
        return ok ? 0 : CP_ERROR(CP_ESIG, "ECDSA %s signature does not verify", name);
}

/* ---- the per-key cache */

#define SEEN_SLOTS 64u

typedef struct cache_slot {
        cp_ecfb_table *t;
        uint64_t used;
} cache_slot;

typedef struct seen_slot {
        bool set;
        cp_ecfb_curve curve;
        uint8_t key[96];
        unsigned count;
        uint64_t used;
} seen_slot;

struct cp_ecfb_cache {
        pthread_mutex_t lock;
        size_t cap;
        unsigned build_after;
        uint64_t tick;
        cp_ecfb_stats st;
        cache_slot *slots;
        seen_slot seen[SEEN_SLOTS];
};

int cp_ecfb_cache_new(size_t capacity, unsigned build_after, cp_ecfb_cache **ret) {
        if (!capacity || !build_after || capacity > 4096 || !ret)
                return CP_ERROR(CP_EINVAL, "fixed-base table cache: capacity must be 1..4096 and build_after >= 1");
        cp_ecfb_cache *c = calloc(1, sizeof(*c));
        if (!c || !(c->slots = calloc(capacity, sizeof(*c->slots)))) {
                free(c);
                return cp_error_oom();
        }
        c->cap = capacity;
        c->build_after = build_after;
        pthread_mutex_init(&c->lock, NULL);
        *ret = c;
        return 0;
}

cp_ecfb_cache *cp_ecfb_cache_free(cp_ecfb_cache *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < c->cap; i++)
                cp_ecfb_table_unref(c->slots[i].t);
        free(c->slots);
        pthread_mutex_destroy(&c->lock);
        free(c);
        return NULL;
}

/* Under the lock: the cached table of the key (a new reference), or NULL. */
static cp_ecfb_table *find_locked(cp_ecfb_cache *c, cp_ecfb_curve curve, const uint8_t *xy, size_t kl) {
        for (size_t i = 0; i < c->cap; i++) {
                cp_ecfb_table *t = c->slots[i].t;
                if (t && t->curve == curve && memcmp(t->key, xy, kl) == 0) {
                        c->slots[i].used = ++c->tick;
                        return cp_ecfb_table_ref(t);
                }
        }
        return NULL;
}

/* Under the lock: count a sighting; true when the table is to be built. */
static bool sighting_locked(cp_ecfb_cache *c, cp_ecfb_curve curve, const uint8_t *xy, size_t kl) {
        seen_slot *victim = &c->seen[0];
        for (size_t i = 0; i < SEEN_SLOTS; i++) {
                seen_slot *s = &c->seen[i];
                if (s->set && s->curve == curve && memcmp(s->key, xy, kl) == 0) {
                        s->used = ++c->tick;
                        if (++s->count < c->build_after)
                                return false;
                        s->set = false;
                        return true;
                }
                if (!s->set || (victim->set && s->used < victim->used))
                        victim = s;
        }
        if (c->build_after <= 1)
                return true;
        victim->set = true;
        victim->curve = curve;
        memcpy(victim->key, xy, kl);
        victim->count = 1;
        victim->used = ++c->tick;
        return false;
}

/* Insert a freshly built table (the caller keeps its reference); returns
 * the table to use: t, or one another thread inserted meanwhile. */
static cp_ecfb_table *insert(cp_ecfb_cache *c, cp_ecfb_table *t, size_t kl) {
        cp_ecfb_table *old = NULL;
        pthread_mutex_lock(&c->lock);
        cp_ecfb_table *have = find_locked(c, t->curve, t->key, kl);
        if (have) {
                pthread_mutex_unlock(&c->lock);
                cp_ecfb_table_unref(t);
                return have;
        }
        cache_slot *victim = &c->slots[0];
        for (size_t i = 0; i < c->cap; i++) {
                if (!c->slots[i].t) {
                        victim = &c->slots[i];
                        break;
                }
                if (c->slots[i].used < victim->used)
                        victim = &c->slots[i];
        }
        old = victim->t;
        if (old) {
                c->st.evictions++;
                c->st.bytes -= old->bytes;
                c->st.tables--;
        }
        victim->t = cp_ecfb_table_ref(t);
        victim->used = ++c->tick;
        c->st.builds++;
        c->st.tables++;
        c->st.bytes += t->bytes;
        pthread_mutex_unlock(&c->lock);
        cp_ecfb_table_unref(old); /* verifications holding it keep it alive */
        return t;
}

cp_ecfb_table *cp_ecfb_cache_get(cp_ecfb_cache *c, cp_ecfb_curve curve, const uint8_t *xy) {
        if (!c || !xy || (unsigned) curve >= _CP_ECFB_CURVE_MAX)
                return NULL;
        size_t kl = 2 * cp_ecfb_coord_len(curve);
        pthread_mutex_lock(&c->lock);
        cp_ecfb_table *t = find_locked(c, curve, xy, kl);
        if (t) {
                c->st.hits++;
                pthread_mutex_unlock(&c->lock);
                return t;
        }
        c->st.misses++;
        bool build = sighting_locked(c, curve, xy, kl);
        pthread_mutex_unlock(&c->lock);
        if (!build)
                return NULL;
        /* built outside the lock: a few milliseconds (docs/verifier.md) */
        if (cp_ecfb_table_new(curve, xy, &t) < 0)
                return NULL; /* not a point: the caller's generic verify refuses it */
        return insert(c, t, kl);
}

void cp_ecfb_cache_stats(cp_ecfb_cache *c, cp_ecfb_stats *ret) {
        memset(ret, 0, sizeof(*ret));
        if (!c)
                return;
        pthread_mutex_lock(&c->lock);
        *ret = c->st;
        pthread_mutex_unlock(&c->lock);
}
