/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One cp_ecfb_cache shared by several threads (issue 19): more keys than
 * slots, so tables are built concurrently (the same key by two threads at
 * once), evicted while another thread still verifies with them, and looked
 * up throughout; every verdict is checked (valid signatures verify, one
 * flipped digest bit is refused).  The first verification of the generator
 * tables (pthread_once) also races here.  Run plainly, under ASan and under
 * ThreadSanitizer (TSAN_TESTS in the Makefile).
 */
#include <pthread.h>
#include <stdatomic.h>

#include "ecfb-testutil.h"

#define THREADS 4
#define KEYS 5
#define ITERS 60

typedef struct mkey {
        cp_ecfb_curve curve;
        uint8_t xy[96], dg[48], r[48], s[48];
        size_t cl;
} mkey;

static mkey keys[KEYS];
static cp_ecfb_cache *shared;
static pthread_barrier_t start_line;
static atomic_uint verified, refused, errors;

static void *worker(void *arg) {
        unsigned id = (unsigned) (uintptr_t) arg;
        pthread_barrier_wait(&start_line);
        for (unsigned i = 0; i < ITERS; i++) {
                const mkey *k = &keys[(i + id) % KEYS];
                cp_ecfb_table *t = cp_ecfb_cache_get(shared, k->curve, k->xy);
                if (!t)
                        continue; /* not yet seen twice */
                uint8_t dg[48];
                memcpy(dg, k->dg, sizeof(dg));
                if (cp_ecfb_verify(t, dg, k->cl, k->r, k->s) == 0)
                        atomic_fetch_add(&verified, 1);
                else
                        atomic_fetch_add(&errors, 1);
                dg[i % k->cl] ^= 0x40;
                if (cp_ecfb_verify(t, dg, k->cl, k->r, k->s) == CP_ESIG)
                        atomic_fetch_add(&refused, 1);
                else
                        atomic_fetch_add(&errors, 1);
                cp_ecfb_table_unref(t);
        }
        return NULL;
}

TEST(shared_cache_under_threads) {
        for (int i = 0; i < KEYS; i++) {
                ecfb_tc tc;
                ecfb_tc_open(&tc, i % 2 ? CP_ECFB_P384 : CP_ECFB_P256);
                ecfb_key k;
                ecfb_key_random(&tc, &k);
                mkey *m = &keys[i];
                m->curve = tc.curve;
                m->cl = tc.cl;
                memcpy(m->xy, k.xy, sizeof(m->xy));
                for (size_t j = 0; j < sizeof(m->dg); j++)
                        m->dg[j] = (uint8_t) (i * 31 + j);
                BIGNUM *r = BN_new(), *s = BN_new();
                ecfb_sign(&tc, &k, m->dg, tc.cl, NULL, r, s);
                BN_bn2binpad(r, m->r, (int) tc.cl);
                BN_bn2binpad(s, m->s, (int) tc.cl);
                ASSERT_EQ(ecfb_ossl_verify(&tc, &k, m->dg, tc.cl, r, s), 1);
                BN_free(r);
                BN_free(s);
                ecfb_key_free(&k);
                ecfb_tc_close(&tc);
        }
        ASSERT_OK(cp_ecfb_cache_new(2, 2, &shared));
        pthread_t th[THREADS];
        ASSERT_EQ(pthread_barrier_init(&start_line, NULL, THREADS), 0);
        for (uintptr_t i = 0; i < THREADS; i++)
                ASSERT_EQ(pthread_create(&th[i], NULL, worker, (void *) i), 0);
        for (int i = 0; i < THREADS; i++)
                pthread_join(th[i], NULL);
        pthread_barrier_destroy(&start_line);
        cp_ecfb_stats st;
        cp_ecfb_cache_stats(shared, &st);
        printf("  %u verified, %u refused, %llu builds, %llu evictions, %llu hits\n", atomic_load(&verified),
               atomic_load(&refused), (unsigned long long) st.builds, (unsigned long long) st.evictions,
               (unsigned long long) st.hits);
        ASSERT_EQ(atomic_load(&errors), 0u);
        ASSERT_TRUE(atomic_load(&verified) > 0 && atomic_load(&verified) == atomic_load(&refused));
        ASSERT_TRUE(st.tables <= 2 && st.evictions > 0);
        shared = cp_ecfb_cache_free(shared);
}
