/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fixed-base ECDSA verification (src/libconfpool/ecfb.c, issue 19) against
 * OpenSSL's ECDSA verify: random keys and signatures (valid ones and
 * mutated ones), edge scalars (u1 or u2 = 0, 1, n-1; u1 G + u2 Q at
 * infinity; doubling and cancellation inside the accumulation with Q = +-G),
 * r and s out of range, keys off the curve; the per-key cache's sighting
 * count, LRU bound and statistics.  Signatures are made here with OpenSSL's
 * BIGNUM and EC_POINT arithmetic (s = (e + r d) / k), verdicts compared with
 * EVP_PKEY_verify: two implementations that share no code with ecfb.c.
 */
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <stdlib.h>

#include "ecfb-testutil.h"
#include "libconfpool/ecfb.h"
#include "tests.h"

/* One of each kind of verdict disagreement fails the test at once. */
static void agree(ecfb_tc *tc, const ecfb_key *k, const uint8_t *dg, size_t dl, const BIGNUM *r, const BIGNUM *s,
                  const char *what) {
        uint8_t rb[48], sb[48];
        int ossl = ecfb_ossl_verify(tc, k, dg, dl, r, s);
        int mine = -1;
        if (BN_num_bytes(r) <= (int) tc->cl && BN_num_bytes(s) <= (int) tc->cl) {
                BN_bn2binpad(r, rb, (int) tc->cl);
                BN_bn2binpad(s, sb, (int) tc->cl);
                mine = cp_ecfb_verify(k->table, dg, dl, rb, sb) == 0;
        } else
                mine = 0; /* not representable in the fixed-width API: refused by length */
        if (mine != ossl)
                cp_test_fail(__FILE__, __LINE__, "%s %s: ecfb says %s, OpenSSL says %s", tc->name, what,
                             mine ? "valid" : "invalid", ossl ? "valid" : "invalid");
        tc->checked++;
        tc->valid += ossl;
}

static void random_signatures(ecfb_tc *tc, unsigned nkeys, unsigned nsig) {
        BIGNUM *e = BN_new(), *r = BN_new(), *s = BN_new(), *t = BN_new();
        uint8_t dg[64];
        for (unsigned i = 0; i < nkeys; i++) {
                ecfb_key k;
                ecfb_key_random(tc, &k);
                for (unsigned j = 0; j < nsig; j++) {
                        size_t dl = (j % 3 == 0) ? 64 : tc->cl; /* also a digest longer than n */
                        ASSERT_TRUE(RAND_bytes(dg, (int) dl) == 1);
                        ecfb_sign(tc, &k, dg, dl, NULL, r, s);
                        agree(tc, &k, dg, dl, r, s, "valid signature");
                        dg[j % dl] ^= (uint8_t) (1u << (j % 8));
                        agree(tc, &k, dg, dl, r, s, "digest bit flipped");
                        dg[j % dl] ^= (uint8_t) (1u << (j % 8));
                        BN_copy(t, r);
                        BN_add_word(t, 1);
                        agree(tc, &k, dg, dl, t, s, "r + 1");
                        BN_copy(t, s);
                        BN_sub(t, tc->n, t); /* (r, n - s) is also valid: ECDSA malleability */
                        agree(tc, &k, dg, dl, r, t, "s -> n - s");
                }
                ecfb_key_free(&k);
        }
        BN_free(e);
        BN_free(r);
        BN_free(s);
        BN_free(t);
}

TEST(random_keys_and_signatures_agree_with_openssl) {
        for (int c = 0; c < _CP_ECFB_CURVE_MAX; c++) {
                ecfb_tc tc;
                ecfb_tc_open(&tc, (cp_ecfb_curve) c);
                random_signatures(&tc, c == CP_ECFB_P256 ? 24 : 16, c == CP_ECFB_P256 ? 40 : 30);
                printf("  %s: %u verdicts agree with OpenSSL (%u valid)\n", tc.name, tc.checked, tc.valid);
                ASSERT_TRUE(tc.checked >= 1900);
                ASSERT_TRUE(tc.valid > 0 && tc.valid < tc.checked);
                ecfb_tc_close(&tc);
        }
}

/* Valid signatures whose u1 or u2 is a chosen edge value: with nonce k,
 * u1 = t needs s = r d / (k - t), e = t s; u2 = t needs s = r / t,
 * e = k s - r d. */
static void edge_scalars(ecfb_tc *tc, const ecfb_key *k) {
        BIGNUM *r = BN_new(), *s = BN_new(), *e = BN_new(), *kk = BN_new(), *t = BN_new(), *u = BN_new();
        BN_CTX *bc = BN_CTX_new();
        uint8_t dg[48];
        for (int which = 0; which < 2; which++)
                for (int tv = 0; tv < 3; tv++) {
                        BN_set_word(t, tv == 2 ? 0 : (BN_ULONG) tv); /* 0, 1, n - 1 */
                        if (tv == 2)
                                BN_sub(t, tc->n, BN_value_one());
                        if (which == 1 && tv == 0)
                                continue; /* u2 = 0 would need r = 0 */
                        BN_rand_range(kk, tc->n);
                        if (BN_is_zero(kk) || BN_cmp(kk, t) == 0)
                                BN_set_word(kk, 7);
                        ecfb_x_of_kg(tc, kk, r);
                        if (which == 0) { /* u1 = t */
                                BN_mod_sub(u, kk, t, tc->n, bc);
                                BN_mod_inverse(u, u, tc->n, bc);
                                BN_mod_mul(s, r, k->d, tc->n, bc);
                                BN_mod_mul(s, s, u, tc->n, bc);
                                BN_mod_mul(e, t, s, tc->n, bc);
                        } else { /* u2 = t */
                                BN_mod_inverse(u, t, tc->n, bc);
                                BN_mod_mul(s, r, u, tc->n, bc);
                                BN_mod_mul(e, kk, s, tc->n, bc);
                                BN_mod_mul(u, r, k->d, tc->n, bc);
                                BN_mod_sub(e, e, u, tc->n, bc);
                        }
                        BN_bn2binpad(e, dg, (int) tc->cl);
                        char what[64];
                        snprintf(what, sizeof(what), "u%d = %s", which + 1, tv == 2 ? "n-1" : tv ? "1" : "0");
                        agree(tc, k, dg, tc->cl, r, s, what);
                        ASSERT_TRUE(cp_ecfb_verify(k->table, dg, tc->cl, (uint8_t[48]){ 0 }, (uint8_t[48]){ 0 }) ==
                                    CP_ESIG);
                }
        /* u1 G + u2 Q = infinity: e = -r d, any s */
        BN_rand_range(r, tc->n);
        BN_rand_range(s, tc->n);
        BN_mod_mul(e, r, k->d, tc->n, bc);
        BN_sub(e, tc->n, e);
        BN_bn2binpad(e, dg, (int) tc->cl);
        agree(tc, k, dg, tc->cl, r, s, "u1 G + u2 Q at infinity");
        BN_free(r);
        BN_free(s);
        BN_free(e);
        BN_free(kk);
        BN_free(t);
        BN_free(u);
        BN_CTX_free(bc);
}

TEST(edge_scalars_agree_with_openssl) {
        for (int c = 0; c < _CP_ECFB_CURVE_MAX; c++) {
                ecfb_tc tc;
                ecfb_tc_open(&tc, (cp_ecfb_curve) c);
                for (int i = 0; i < 8; i++) {
                        ecfb_key k;
                        ecfb_key_random(&tc, &k);
                        edge_scalars(&tc, &k);
                        ecfb_key_free(&k);
                }
                ASSERT_TRUE(tc.valid >= 8 * 5);
                ecfb_tc_close(&tc);
        }
}

/* u1 = a, u2 = b with Q = +-G: R = (a +- b) G; r = x(R), s = r / b,
 * e = a s when R is not infinity (valid), else r = b, s = 1, e = a. */
static void small_pair(ecfb_tc *tc, const ecfb_key *k, unsigned a, unsigned b, int neg, BIGNUM *r, BIGNUM *s,
                       BIGNUM *kk, uint8_t *dg) {
        BN_CTX *bc = BN_CTX_new();
        BIGNUM *ba = BN_new(), *bb = BN_new(), *e = BN_new();
        BN_set_word(ba, a);
        BN_set_word(bb, b);
        if (neg)
                BN_mod_sub(kk, ba, bb, tc->n, bc);
        else
                BN_add(kk, ba, bb);
        if (BN_is_zero(kk)) {
                BN_copy(r, bb);
                BN_one(s);
                BN_copy(e, ba);
        } else {
                ecfb_x_of_kg(tc, kk, r);
                BN_mod_inverse(s, bb, tc->n, bc);
                BN_mod_mul(s, s, r, tc->n, bc);
                BN_mod_mul(e, ba, s, tc->n, bc);
        }
        BN_bn2binpad(e, dg, (int) tc->cl);
        agree(tc, k, dg, tc->cl, r, s, neg ? "Q = -G" : "Q = G");
        BN_copy(r, bb); /* and the invalid (a, b) with r = b, s = 1 */
        BN_one(s);
        memset(dg, 0, tc->cl);
        dg[tc->cl - 1] = (uint8_t) a;
        agree(tc, k, dg, tc->cl, r, s, neg ? "Q = -G, r = b" : "Q = G, r = b");
        BN_free(ba);
        BN_free(bb);
        BN_free(e);
        BN_CTX_free(bc);
}

/* Q = G and Q = -G: the accumulation of u1 G then u2 Q meets equal points
 * (doubling) and opposite points (infinity) midway for small scalars. */
TEST(q_equal_to_plus_minus_g_agrees_with_openssl) {
        BIGNUM *r = BN_new(), *s = BN_new(), *kk = BN_new();
        for (int c = 0; c < _CP_ECFB_CURVE_MAX; c++) {
                ecfb_tc tc;
                ecfb_tc_open(&tc, (cp_ecfb_curve) c);
                for (int neg = 0; neg < 2; neg++) {
                        ecfb_key k;
                        BIGNUM *d = BN_new();
                        BN_set_word(d, 1);
                        if (neg)
                                BN_sub(d, tc.n, d);
                        ecfb_key_from_d(&tc, d, &k);
                        uint8_t dg[48] = { 0 };
                        for (unsigned a = 0; a < 40; a++)
                                for (unsigned b = 1; b < 40; b += 3)
                                        small_pair(&tc, &k, a, b, neg, r, s, kk, dg);
                        BN_free(d);
                        ecfb_key_free(&k);
                }
                ASSERT_TRUE(tc.valid > 0);
                ecfb_tc_close(&tc);
        }
        BN_free(r);
        BN_free(s);
        BN_free(kk);
}

TEST(r_and_s_out_of_range_are_refused) {
        for (int c = 0; c < _CP_ECFB_CURVE_MAX; c++) {
                ecfb_tc tc;
                ecfb_tc_open(&tc, (cp_ecfb_curve) c);
                ecfb_key k;
                ecfb_key_random(&tc, &k);
                BIGNUM *r = BN_new(), *s = BN_new(), *bad = BN_new();
                uint8_t dg[48];
                ASSERT_TRUE(RAND_bytes(dg, sizeof(dg)) == 1);
                ecfb_sign(&tc, &k, dg, tc.cl, NULL, r, s);
                agree(&tc, &k, dg, tc.cl, r, s, "valid");
                const char *names[] = { "0", "n", "n+1", "2^bits-1" };
                for (int i = 0; i < 4; i++) {
                        BN_zero(bad);
                        if (i == 1 || i == 2)
                                BN_copy(bad, tc.n);
                        if (i == 2)
                                BN_add_word(bad, 1);
                        if (i == 3) {
                                BN_set_bit(bad, (int) tc.cl * 8);
                                BN_sub_word(bad, 1);
                        }
                        uint8_t bb[48], rb[48], sb[48];
                        BN_bn2binpad(bad, bb, (int) tc.cl);
                        BN_bn2binpad(r, rb, (int) tc.cl);
                        BN_bn2binpad(s, sb, (int) tc.cl);
                        ASSERT_EQ(cp_ecfb_verify(k.table, dg, tc.cl, bb, sb), CP_ESIG);
                        ASSERT_TRUE(strstr(cp_error_message(), "outside [1, n-1]") != NULL);
                        ASSERT_EQ(cp_ecfb_verify(k.table, dg, tc.cl, rb, bb), CP_ESIG);
                        agree(&tc, &k, dg, tc.cl, bad, s, names[i]);
                        agree(&tc, &k, dg, tc.cl, r, bad, names[i]);
                }
                ASSERT_EQ(cp_ecfb_verify(k.table, dg, tc.cl, dg, NULL), CP_EINVAL);
                BN_free(r);
                BN_free(s);
                BN_free(bad);
                ecfb_key_free(&k);
                ecfb_tc_close(&tc);
        }
}

TEST(keys_off_the_curve_are_refused) {
        for (int c = 0; c < _CP_ECFB_CURVE_MAX; c++) {
                ecfb_tc tc;
                ecfb_tc_open(&tc, (cp_ecfb_curve) c);
                ecfb_key k;
                ecfb_key_random(&tc, &k);
                uint8_t xy[96];
                memcpy(xy, k.xy, 2 * tc.cl);
                xy[2 * tc.cl - 1] ^= 1;
                cp_ecfb_table *t = NULL;
                ASSERT_EQ(cp_ecfb_table_new((cp_ecfb_curve) c, xy, &t), CP_ECERT);
                ASSERT_TRUE(strstr(cp_error_message(), "not a point on") != NULL);
                memset(xy, 0xff, tc.cl); /* x >= p */
                ASSERT_EQ(cp_ecfb_table_new((cp_ecfb_curve) c, xy, &t), CP_ECERT);
                ASSERT_TRUE(strstr(cp_error_message(), "below the field prime") != NULL);
                memset(xy, 0, 2 * tc.cl); /* the point at infinity has no affine encoding */
                ASSERT_EQ(cp_ecfb_table_new((cp_ecfb_curve) c, xy, &t), CP_ECERT);
                ASSERT_EQ(cp_ecfb_table_new(_CP_ECFB_CURVE_MAX, k.xy, &t), CP_EINVAL);
                /* the cache never holds a table for them */
                cp_ecfb_cache *cache = NULL;
                ASSERT_OK(cp_ecfb_cache_new(4, 1, &cache));
                xy[0] = 1;
                ASSERT_TRUE(cp_ecfb_cache_get(cache, (cp_ecfb_curve) c, xy) == NULL);
                cp_ecfb_stats st;
                cp_ecfb_cache_stats(cache, &st);
                ASSERT_EQ(st.tables, 0u);
                cp_ecfb_cache_free(cache);
                ecfb_key_free(&k);
                ecfb_tc_close(&tc);
        }
}

TEST(cache_builds_on_second_sighting_and_stays_bounded) {
        ecfb_tc tc;
        ecfb_tc_open(&tc, CP_ECFB_P384);
        ecfb_key k[3];
        for (int i = 0; i < 3; i++)
                ecfb_key_random(&tc, &k[i]);
        cp_ecfb_cache *cache = NULL;
        ASSERT_EQ(cp_ecfb_cache_new(0, 2, &cache), CP_EINVAL);
        ASSERT_EQ(cp_ecfb_cache_new(2, 0, &cache), CP_EINVAL);
        ASSERT_OK(cp_ecfb_cache_new(2, 2, &cache));
        /* first sight: nothing built */
        ASSERT_TRUE(cp_ecfb_cache_get(cache, CP_ECFB_P384, k[0].xy) == NULL);
        cp_ecfb_stats st;
        cp_ecfb_cache_stats(cache, &st);
        ASSERT_EQ(st.builds, 0u);
        ASSERT_EQ(st.misses, 1u);
        /* second sight: built, and it verifies what OpenSSL verifies */
        cp_ecfb_table *t = cp_ecfb_cache_get(cache, CP_ECFB_P384, k[0].xy);
        ASSERT_TRUE(t != NULL);
        BIGNUM *r = BN_new(), *s = BN_new();
        uint8_t dg[48] = { 1, 2, 3 }, rb[48], sb[48];
        ecfb_sign(&tc, &k[0], dg, 48, NULL, r, s);
        BN_bn2binpad(r, rb, 48);
        BN_bn2binpad(s, sb, 48);
        ASSERT_OK(cp_ecfb_verify(t, dg, 48, rb, sb));
        /* a P-256 look-up of the same bytes is another key */
        ASSERT_TRUE(cp_ecfb_cache_get(cache, CP_ECFB_P256, k[0].xy) == NULL);
        /* three keys, two slots: least recently used goes; a table in use survives eviction */
        for (int round = 0; round < 3; round++)
                for (int i = 0; i < 3; i++)
                        cp_ecfb_table_unref(cp_ecfb_cache_get(cache, CP_ECFB_P384, k[i].xy));
        cp_ecfb_cache_stats(cache, &st);
        ASSERT_EQ(st.tables, 2u);
        ASSERT_EQ(st.bytes, 2 * cp_ecfb_table_bytes_for(CP_ECFB_P384));
        ASSERT_TRUE(st.evictions >= 1);
        ASSERT_EQ(cp_ecfb_table_bytes(t), cp_ecfb_table_bytes_for(CP_ECFB_P384));
        ASSERT_OK(cp_ecfb_verify(t, dg, 48, rb, sb));
        cp_ecfb_table_unref(t);
        printf("  P-384 table %zu bytes, P-256 table %zu bytes\n", cp_ecfb_table_bytes_for(CP_ECFB_P384),
               cp_ecfb_table_bytes_for(CP_ECFB_P256));
        cp_ecfb_cache_free(cache);
        BN_free(r);
        BN_free(s);
        for (int i = 0; i < 3; i++)
                ecfb_key_free(&k[i]);
        ecfb_tc_close(&tc);
}
