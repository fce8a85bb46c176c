/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_ECFB_TESTUTIL_H
#define CP_ECFB_TESTUTIL_H

/*
 * Keys and ECDSA signatures made with OpenSSL's BIGNUM/EC_POINT arithmetic,
 * and OpenSSL's EVP verify as the oracle, for the fixed-base verifier's
 * tests (test-ecfb, test-ecfb-mt).
 */
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <stdlib.h>
#include <string.h>

#include "libconfpool/ecfb.h"
#include "tests.h"

typedef struct ecfb_tc {
        cp_ecfb_curve curve;
        const char *name, *group_name;
        size_t cl;
        EC_GROUP *group;
        BIGNUM *n;
        BN_CTX *bc;
        unsigned checked, valid;
} ecfb_tc;

typedef struct ecfb_key {
        BIGNUM *d;
        uint8_t xy[96];
        cp_ecfb_table *table;
        EVP_PKEY *pkey;
} ecfb_key;

static inline void ecfb_tc_open(ecfb_tc *tc, cp_ecfb_curve curve) {
        memset(tc, 0, sizeof(*tc));
        tc->curve = curve;
        tc->name = curve == CP_ECFB_P256 ? "P-256" : "P-384";
        tc->group_name = curve == CP_ECFB_P256 ? "prime256v1" : "secp384r1";
        tc->cl = cp_ecfb_coord_len(curve);
        tc->group = EC_GROUP_new_by_curve_name(curve == CP_ECFB_P256 ? NID_X9_62_prime256v1 : NID_secp384r1);
        tc->n = BN_dup(EC_GROUP_get0_order(tc->group));
        tc->bc = BN_CTX_new();
        ASSERT_TRUE(tc->group && tc->n && tc->bc);
}

static inline void ecfb_tc_close(ecfb_tc *tc) {
        EC_GROUP_free(tc->group);
        BN_free(tc->n);
        BN_CTX_free(tc->bc);
}

/* r = x(k G) mod n. */
static inline void ecfb_x_of_kg(ecfb_tc *tc, const BIGNUM *k, BIGNUM *r) {
        EC_POINT *p = EC_POINT_new(tc->group);
        BIGNUM *x = BN_new();
        ASSERT_TRUE(p && x && EC_POINT_mul(tc->group, p, k, NULL, NULL, tc->bc) == 1 &&
                    EC_POINT_get_affine_coordinates(tc->group, p, x, NULL, tc->bc) == 1);
        ASSERT_TRUE(BN_nnmod(r, x, tc->n, tc->bc) == 1);
        BN_free(x);
        EC_POINT_free(p);
}

static inline EVP_PKEY *ecfb_ossl_pub(const ecfb_tc *tc, const uint8_t *xy) {
        uint8_t pt[97];
        pt[0] = 4;
        memcpy(pt + 1, xy, 2 * tc->cl);
        OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, tc->group_name, 0);
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, 1 + 2 * tc->cl);
        OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
        EVP_PKEY *pk = NULL;
        if (EVP_PKEY_fromdata_init(ctx) <= 0 || EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) <= 0)
                pk = NULL;
        EVP_PKEY_CTX_free(ctx);
        OSSL_PARAM_free(params);
        OSSL_PARAM_BLD_free(bld);
        return pk;
}

/* Q = d G, its table, its OpenSSL key. */
static inline void ecfb_key_from_d(ecfb_tc *tc, const BIGNUM *d, ecfb_key *k) {
        memset(k, 0, sizeof(*k));
        k->d = BN_dup(d);
        EC_POINT *q = EC_POINT_new(tc->group);
        BIGNUM *x = BN_new(), *y = BN_new();
        ASSERT_TRUE(EC_POINT_mul(tc->group, q, d, NULL, NULL, tc->bc) == 1 &&
                    EC_POINT_get_affine_coordinates(tc->group, q, x, y, tc->bc) == 1);
        BN_bn2binpad(x, k->xy, (int) tc->cl);
        BN_bn2binpad(y, k->xy + tc->cl, (int) tc->cl);
        BN_free(x);
        BN_free(y);
        EC_POINT_free(q);
        ASSERT_OK(cp_ecfb_table_new(tc->curve, k->xy, &k->table));
        k->pkey = ecfb_ossl_pub(tc, k->xy);
        ASSERT_TRUE(k->pkey != NULL);
}

static inline void ecfb_key_random(ecfb_tc *tc, ecfb_key *k) {
        BIGNUM *d = BN_new();
        do
                ASSERT_TRUE(BN_rand_range(d, tc->n) == 1);
        while (BN_is_zero(d));
        ecfb_key_from_d(tc, d, k);
        BN_free(d);
}

static inline void ecfb_key_free(ecfb_key *k) {
        BN_free(k->d);
        cp_ecfb_table_unref(k->table);
        EVP_PKEY_free(k->pkey);
}

/* e: the digest's leftmost cl bytes. */
static inline void ecfb_e(const ecfb_tc *tc, const uint8_t *dg, size_t dl, BIGNUM *e) {
        BN_bin2bn(dg, (int) (dl < tc->cl ? dl : tc->cl), e);
}

/* (r, s) over the digest with nonce kk (random if NULL). */
static inline void ecfb_sign(ecfb_tc *tc, const ecfb_key *k, const uint8_t *dg, size_t dl, const BIGNUM *kk,
                             BIGNUM *r, BIGNUM *s) {
        BIGNUM *kr = BN_new(), *e = BN_new(), *t = BN_new();
        do {
                if (kk)
                        BN_copy(kr, kk);
                else
                        do
                                BN_rand_range(kr, tc->n);
                        while (BN_is_zero(kr));
                ecfb_x_of_kg(tc, kr, r);
                ecfb_e(tc, dg, dl, e);
                BN_mod_mul(t, r, k->d, tc->n, tc->bc);
                BN_mod_add(t, t, e, tc->n, tc->bc);
                BN_mod_inverse(kr, kr, tc->n, tc->bc);
                BN_mod_mul(s, t, kr, tc->n, tc->bc);
        } while (!kk && (BN_is_zero(r) || BN_is_zero(s)));
        BN_free(kr);
        BN_free(e);
        BN_free(t);
}

/* OpenSSL's verdict: 1 valid, 0 not. */
static inline int ecfb_ossl_verify(ecfb_tc *tc, const ecfb_key *k, const uint8_t *dg, size_t dl, const BIGNUM *r,
                                   const BIGNUM *s) {
        (void) tc;
        ECDSA_SIG *sig = ECDSA_SIG_new();
        ASSERT_TRUE(sig && ECDSA_SIG_set0(sig, BN_dup(r), BN_dup(s)) == 1);
        unsigned char *der = NULL;
        int derlen = i2d_ECDSA_SIG(sig, &der);
        ASSERT_TRUE(derlen > 0);
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k->pkey, NULL);
        ASSERT_TRUE(ctx && EVP_PKEY_verify_init(ctx) == 1);
        int v = EVP_PKEY_verify(ctx, der, (size_t) derlen, dg, dl);
        EVP_PKEY_CTX_free(ctx);
        OPENSSL_free(der);
        ECDSA_SIG_free(sig);
        return v == 1;
}

#endif
