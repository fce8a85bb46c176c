/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The limb-count-specific half of ecfb.c, included once per curve size with
 * NL (limbs: 4 for P-256, 6 for P-384) defined, so that every loop has a
 * constant bound the compiler unrolls.  Field elements are in Montgomery
 * form (a * 2^(64 NL) mod p), always fully reduced (< p).
 */
#ifndef NL
#error "define NL before including ecfb-impl.h"
#endif

#define ECFB_CAT2(a, b) a##_##b
#define ECFB_CAT(a, b) ECFB_CAT2(a, b)
#define FN(x) ECFB_CAT(x, NL)

typedef struct FN(jac) {
        uint64_t x[NL], y[NL], z[NL];
        bool inf;
} FN(jac);

/* r = a * b / R mod p (CIOS Montgomery multiplication). */
static inline void FN(fmul)(uint64_t *r, const uint64_t *a, const uint64_t *b, const ecfb_curve_def *C) {
        uint64_t t[NL + 2] = { 0 };
        ECFB_UNROLL
        for (int i = 0; i < NL; i++) {
                u128 c = 0;
                ECFB_UNROLL
                for (int j = 0; j < NL; j++) {
                        c += (u128) a[j] * b[i] + t[j];
                        t[j] = (uint64_t) c;
                        c >>= 64;
                }
                c += t[NL];
                t[NL] = (uint64_t) c;
                t[NL + 1] = (uint64_t) (c >> 64);
                uint64_t m = t[0] * C->pinv;
                c = (u128) m * C->p[0] + t[0];
                c >>= 64;
                ECFB_UNROLL
                for (int j = 1; j < NL; j++) {
                        c += (u128) m * C->p[j] + t[j];
                        t[j - 1] = (uint64_t) c;
                        c >>= 64;
                }
                c += t[NL];
                t[NL - 1] = (uint64_t) c;
                t[NL] = t[NL + 1] + (uint64_t) (c >> 64);
        }
        uint64_t d[NL], borrow = 0;
        ECFB_UNROLL
        for (int j = 0; j < NL; j++) {
                u128 x = (u128) t[j] - C->p[j] - borrow;
                d[j] = (uint64_t) x;
                borrow = (uint64_t) (x >> 127);
        }
        const uint64_t *src = (t[NL] || !borrow) ? d : t;
        ECFB_UNROLL
        for (int j = 0; j < NL; j++)
                r[j] = src[j];
}

static inline void FN(fadd)(uint64_t *r, const uint64_t *a, const uint64_t *b, const ecfb_curve_def *C) {
        uint64_t t[NL], d[NL], borrow = 0;
        u128 c = 0;
        ECFB_UNROLL
        for (int j = 0; j < NL; j++) {
                c += (u128) a[j] + b[j];
                t[j] = (uint64_t) c;
                c >>= 64;
        }
        ECFB_UNROLL
        for (int j = 0; j < NL; j++) {
                u128 x = (u128) t[j] - C->p[j] - borrow;
                d[j] = (uint64_t) x;
                borrow = (uint64_t) (x >> 127);
        }
        const uint64_t *src = (c || !borrow) ? d : t;
        ECFB_UNROLL
        for (int j = 0; j < NL; j++)
                r[j] = src[j];
}

static inline void FN(fsub)(uint64_t *r, const uint64_t *a, const uint64_t *b, const ecfb_curve_def *C) {
        uint64_t borrow = 0;
        ECFB_UNROLL
        for (int j = 0; j < NL; j++) {
                u128 x = (u128) a[j] - b[j] - borrow;
                r[j] = (uint64_t) x;
                borrow = (uint64_t) (x >> 127);
        }
        if (borrow) {
                u128 c = 0;
                ECFB_UNROLL
                for (int j = 0; j < NL; j++) {
                        c += (u128) r[j] + C->p[j];
                        r[j] = (uint64_t) c;
                        c >>= 64;
                }
        }
}

static inline bool FN(fzero)(const uint64_t *a) {
        uint64_t acc = 0;
        ECFB_UNROLL
        for (int j = 0; j < NL; j++)
                acc |= a[j];
        return acc == 0;
}

static inline bool FN(feq)(const uint64_t *a, const uint64_t *b) {
        uint64_t acc = 0;
        ECFB_UNROLL
        for (int j = 0; j < NL; j++)
                acc |= a[j] ^ b[j];
        return acc == 0;
}

/* r = a^-1 (Montgomery form in and out; a != 0), with GMP. */
static void FN(finv)(uint64_t *r, const uint64_t *a, const ecfb_curve_def *C) {
        static const uint64_t one_plain[NL] = { 1 };
        uint64_t plain[NL];
        FN(fmul)(plain, a, one_plain, C); /* out of Montgomery form */
        mpz_t z, p;
        mpz_init(z);
        mpz_import(z, NL, -1, 8, 0, 0, plain);
        mpz_roinit_n(p, (const mp_limb_t *) C->p, NL);
        mpz_invert(z, z, p);
        uint64_t inv[NL] = { 0 };
        size_t cnt = 0;
        mpz_export(inv, &cnt, -1, 8, 0, 0, z);
        mpz_clear(z);
        FN(fmul)(r, inv, C->rr, C); /* into Montgomery form */
}

/* a = -3: dbl-2001-b. */
static void FN(jdbl)(FN(jac) * P, const ecfb_curve_def *C) {
        uint64_t delta[NL], gamma[NL], beta[NL], alpha[NL], t[NL], u[NL];
        if (P->inf)
                return;
        FN(fmul)(delta, P->z, P->z, C);
        FN(fmul)(gamma, P->y, P->y, C);
        FN(fmul)(beta, P->x, gamma, C);
        FN(fsub)(t, P->x, delta, C);
        FN(fadd)(u, P->x, delta, C);
        FN(fmul)(alpha, t, u, C);
        FN(fadd)(t, alpha, alpha, C);
        FN(fadd)(alpha, t, alpha, C); /* 3 (x - delta)(x + delta) */
        FN(fadd)(t, P->y, P->z, C);
        FN(fmul)(u, t, t, C);
        FN(fsub)(u, u, gamma, C);
        FN(fsub)(P->z, u, delta, C);
        FN(fadd)(beta, beta, beta, C);
        FN(fadd)(beta, beta, beta, C); /* 4 beta */
        FN(fmul)(t, alpha, alpha, C);
        FN(fsub)(t, t, beta, C);
        FN(fsub)(P->x, t, beta, C); /* alpha^2 - 8 beta */
        FN(fsub)(u, beta, P->x, C);
        FN(fmul)(t, alpha, u, C);
        FN(fmul)(gamma, gamma, gamma, C);
        FN(fadd)(gamma, gamma, gamma, C);
        FN(fadd)(gamma, gamma, gamma, C);
        FN(fadd)(gamma, gamma, gamma, C); /* 8 gamma^2 */
        FN(fsub)(P->y, t, gamma, C);
}

/* P += (x, y) affine (madd-2004-hmv shape); handles P at infinity, P == A
 * (doubling) and P == -A (infinity). */
static void FN(jmadd)(FN(jac) * P, const uint64_t *x, const uint64_t *y, const ecfb_curve_def *C) {
        uint64_t z1z1[NL], u2[NL], s2[NL], h[NL], rr[NL], hh[NL], hhh[NL], v[NL], t[NL];
        if (P->inf) {
                memcpy(P->x, x, sizeof(P->x));
                memcpy(P->y, y, sizeof(P->y));
                memcpy(P->z, C->one, sizeof(P->z));
                P->inf = false;
                return;
        }
        FN(fmul)(z1z1, P->z, P->z, C);
        FN(fmul)(u2, x, z1z1, C);
        FN(fmul)(t, y, P->z, C);
        FN(fmul)(s2, t, z1z1, C);
        FN(fsub)(h, u2, P->x, C);
        FN(fsub)(rr, s2, P->y, C);
        if (FN(fzero)(h)) {
                if (FN(fzero)(rr))
                        FN(jdbl)(P, C);
                else
                        P->inf = true;
                return;
        }
        FN(fmul)(hh, h, h, C);
        FN(fmul)(hhh, h, hh, C);
        FN(fmul)(v, P->x, hh, C);
        FN(fmul)(t, rr, rr, C);
        FN(fsub)(t, t, hhh, C);
        FN(fsub)(t, t, v, C);
        FN(fsub)(t, t, v, C); /* x3 = r^2 - hhh - 2v */
        FN(fsub)(v, v, t, C);
        FN(fmul)(v, rr, v, C);
        FN(fmul)(hhh, P->y, hhh, C);
        FN(fsub)(P->y, v, hhh, C);
        memcpy(P->x, t, sizeof(P->x));
        FN(fmul)(P->z, P->z, h, C);
}

/* Affine (x, y) of n Jacobian points (none at infinity) into out[2 NL * i],
 * with one inversion (Montgomery's trick); scratch holds n elements. */
static void FN(batch_affine)(const FN(jac) * J, size_t n, uint64_t *out, uint64_t *scratch,
                             const ecfb_curve_def *C) {
        uint64_t inv[NL], zi[NL], zi2[NL], t[NL];
        memcpy(scratch, J[0].z, sizeof(inv));
        for (size_t i = 1; i < n; i++)
                FN(fmul)(scratch + NL * i, scratch + NL * (i - 1), J[i].z, C);
        FN(finv)(inv, scratch + NL * (n - 1), C);
        for (size_t i = n; i-- > 0;) {
                if (i > 0) {
                        FN(fmul)(zi, inv, scratch + NL * (i - 1), C);
                        FN(fmul)(inv, inv, J[i].z, C);
                } else
                        memcpy(zi, inv, sizeof(zi));
                FN(fmul)(zi2, zi, zi, C);
                FN(fmul)(out + 2 * NL * i, J[i].x, zi2, C);
                FN(fmul)(t, zi2, zi, C);
                FN(fmul)(out + 2 * NL * i + NL, J[i].y, t, C);
        }
}

/* pts[(win * half + j - 1) * 2 NL] = j * 2^(w win) * (x, y) for j in
 * 1..half, win in 0..nwin-1.  0 or CP_ENOMEM. */
static int FN(build)(const uint64_t *x, const uint64_t *y, unsigned w, unsigned nwin, uint64_t *pts,
                     const ecfb_curve_def *C) {
        size_t half = (size_t) 1 << (w - 1);
        FN(jac) *J = calloc(half + 1, sizeof(*J));
        uint64_t *scratch = calloc(half + 1, sizeof(uint64_t) * NL);
        uint64_t *aff = calloc(half + 1, sizeof(uint64_t) * 2 * NL);
        if (!J || !scratch || !aff) {
                free(J);
                free(scratch);
                free(aff);
                return -ENOMEM;
        }
        uint64_t bx[NL], by[NL];
        memcpy(bx, x, sizeof(bx));
        memcpy(by, y, sizeof(by));
        for (unsigned win = 0; win < nwin; win++) {
                J[0].inf = true;
                FN(jmadd)(&J[0], bx, by, C);
                for (size_t j = 1; j < half; j++) {
                        J[j] = J[j - 1];
                        FN(jmadd)(&J[j], bx, by, C);
                }
                J[half] = J[half - 1];
                FN(jdbl)(&J[half], C); /* 2^w * B: the next window's base */
                FN(batch_affine)(J, half + 1, aff, scratch, C);
                memcpy(pts + (size_t) win * half * 2 * NL, aff, half * 2 * NL * sizeof(uint64_t));
                memcpy(bx, aff + half * 2 * NL, sizeof(bx));
                memcpy(by, aff + half * 2 * NL + NL, sizeof(by));
        }
        free(J);
        free(scratch);
        free(aff);
        return 0;
}

/* P += u * base, u < 2^(64 NL) given as limbs, from the base's table. */
static void FN(accumulate)(FN(jac) * P, const uint64_t *u, unsigned w, unsigned nwin, const uint64_t *pts,
                           const ecfb_curve_def *C) {
        size_t half = (size_t) 1 << (w - 1);
        unsigned carry = 0;
        uint64_t ny[NL];
        for (unsigned win = 0; win < nwin; win++) {
                unsigned pos = w * win, limb = pos / 64, off = pos % 64;
                uint64_t bits = 0;
                if (limb < NL) {
                        bits = u[limb] >> off;
                        if (off + w > 64 && limb + 1 < NL)
                                bits |= u[limb + 1] << (64 - off);
                }
                unsigned d = (unsigned) (bits & ((1u << w) - 1)) + carry;
                bool neg = false;
                if (d > half) {
                        d = (1u << w) - d;
                        neg = true;
                        carry = 1;
                } else
                        carry = 0;
                if (!d)
                        continue;
                const uint64_t *pt = pts + ((size_t) win * half + d - 1) * 2 * NL;
                if (neg) {
                        static const uint64_t zero[NL];
                        FN(fsub)(ny, zero, pt + NL, C);
                        FN(jmadd)(P, pt, ny, C);
                } else
                        FN(jmadd)(P, pt, pt + NL, C);
        }
}

/* x(P) mod n == r, with P = (X/Z^2, ...) and r < n as limbs: X == r Z^2
 * or, when r + n < p, X == (r + n) Z^2. */
static bool FN(x_matches)(const FN(jac) * P, const uint64_t *r, const ecfb_curve_def *C) {
        uint64_t z2[NL], rm[NL], t[NL], rn[NL];
        FN(fmul)(z2, P->z, P->z, C);
        FN(fmul)(rm, r, C->rr, C);
        FN(fmul)(t, rm, z2, C);
        if (FN(feq)(t, P->x))
                return true;
        u128 c = 0;
        ECFB_UNROLL
        for (int j = 0; j < NL; j++) {
                c += (u128) r[j] + C->n[j];
                rn[j] = (uint64_t) c;
                c >>= 64;
        }
        if (c)
                return false;
        ECFB_UNROLL
        for (int j = NL; j-- > 0;) {
                if (rn[j] != C->p[j]) {
                        if (rn[j] > C->p[j])
                                return false;
                        break;
                }
                if (j == 0)
                        return false; /* r + n == p */
        }
        FN(fmul)(rm, rn, C->rr, C);
        FN(fmul)(t, rm, z2, C);
        return FN(feq)(t, P->x);
}

/* y^2 == x^3 - 3x + b, x and y already < p, in Montgomery form. */
static bool FN(on_curve)(const uint64_t *x, const uint64_t *y, const ecfb_curve_def *C) {
        uint64_t l[NL], r[NL], t[NL];
        FN(fmul)(l, y, y, C);
        FN(fmul)(t, x, x, C);
        FN(fmul)(r, t, x, C);
        FN(fsub)(r, r, x, C);
        FN(fsub)(r, r, x, C);
        FN(fsub)(r, r, x, C);
        FN(fadd)(r, r, C->b, C);
        return FN(feq)(l, r);
}

/* u1 * G + u2 * Q from the two tables; x(R) mod n == r. */
static bool FN(check)(const uint64_t *u1, const uint64_t *u2, const uint64_t *r, const ecfb_curve_def *C,
                      unsigned wg, unsigned nwg, const uint64_t *gpts, unsigned wq, unsigned nwq,
                      const uint64_t *qpts) {
        FN(jac) P;
        P.inf = true;
        FN(accumulate)(&P, u1, wg, nwg, gpts, C);
        FN(accumulate)(&P, u2, wq, nwq, qpts, C);
        if (P.inf)
                return false;
        return FN(x_matches)(&P, r, C);
}

#undef FN
#undef ECFB_CAT
#undef ECFB_CAT2
