/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cp_snp_verify from several threads on one shared verifier (its
 * endorsement-chain cache, documented thread-safe in snp_verify.h), over the
 * real SEV-SNP evidence in tests/data/snp (cases.json; the copy of
 * ../shared/realdata/snp).  Every thread walks every case from a different
 * start, cold cache first, and checks every verdict: the verifying reports
 * verify (right generation, signer, CHIP_ID binding), the mismatched one is
 * refused, a VLEK report is refused once its chain has expired even though
 * another thread just cached that chain as valid, and a report with one
 * flipped bit is refused although its chain is in the cache.  Run plainly,
 * under ASan and under ThreadSanitizer (make check-tsan, issue 20 item 3).
 */
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "confpool/snp_verify.h"
#include "tests.h"

#define NOW_2025 INT64_C(1748736000) /* every certificate valid */
#define NOW_2026 INT64_C(1795564800) /* the AWS VLEK has expired */
#define THREADS 4
#define ROUNDS 3

typedef struct mcase {
        char generation[16];
        bool vlek, verified;
        int version;
        uint8_t *report, *leaf, *chain;
        size_t report_len, leaf_len, chain_len;
        long offset;
} mcase;

static mcase *cases;
static size_t n_cases;
static cp_snp_verifier *shared;
static pthread_barrier_t start_line;

static void load_cases(void) {
        size_t len, i;
        uint8_t *j = cp_test_read("snp/cases.json", &len);
        json_t *root = json_loadb((const char *) j, len, 0, NULL), *e;
        free(j);
        ASSERT_TRUE(root && json_is_array(root));
        n_cases = json_array_size(root);
        ASSERT_TRUE(n_cases >= 16);
        cases = calloc(n_cases, sizeof *cases);
        ASSERT_TRUE(cases != NULL);
        json_array_foreach(root, i, e) {
                mcase *c = &cases[i];
                char p[300];
                snprintf(c->generation, sizeof c->generation, "%s", json_string_value(json_object_get(e, "generation")));
                c->vlek = !strcmp(json_string_value(json_object_get(e, "signing_key")), "VLEK");
                c->verified = !strcmp(json_string_value(json_object_get(e, "expect")), "verified");
                c->version = (int) json_integer_value(json_object_get(e, "report_version"));
                c->offset = (long) json_integer_value(json_object_get(e, "report_offset"));
                snprintf(p, sizeof p, "snp/%s", json_string_value(json_object_get(e, "report")));
                c->report = cp_test_read(p, &c->report_len);
                ASSERT_TRUE(c->report_len >= (size_t) c->offset + CP_SNP_REPORT_SIZE);
                snprintf(p, sizeof p, "snp/%s", json_string_value(json_object_get(e, "endorsement_key_cert")));
                c->leaf = cp_test_read(p, &c->leaf_len);
                snprintf(p, sizeof p, "snp/%s", json_string_value(json_object_get(e, "ask_ark_chain")));
                c->chain = cp_test_read(p, &c->chain_len);
        }
        json_decref(root);
}

static void free_cases(void) {
        for (size_t i = 0; i < n_cases; i++) {
                free(cases[i].report);
                free(cases[i].leaf);
                free(cases[i].chain);
        }
        free(cases);
        cases = NULL;
}

/* What one thread saw; checked by the main thread (ASSERT_* must not run
 * on a worker: it ends the test). */
typedef struct tally {
        unsigned id;
        unsigned verified, refused, expired, flips, wrong;
        char first_wrong[256];
} tally;

static void wrong(tally *t, const char *fmt, size_t i, int r) {
        if (!t->wrong++)
                snprintf(t->first_wrong, sizeof t->first_wrong, "%s (case %zu, %s: %s)", fmt, i, cp_err_name(r),
                         r < 0 ? cp_error_message() : "ok");
}

/* One case at one time; flip: bit to flip in the signed area (or -1). */
static void check_case(tally *t, size_t i, int64_t now, long flip) {
        const mcase *c = &cases[i];
        uint8_t rep[CP_SNP_REPORT_SIZE];
        memcpy(rep, c->report + c->offset, sizeof rep);
        if (flip >= 0)
                rep[flip / 8] ^= (uint8_t) (1u << (flip % 8));
        cp_snp_evidence ev = {.report = rep, .report_len = sizeof rep, .leaf = c->leaf, .leaf_len = c->leaf_len,
                              .intermediate = c->chain, .intermediate_len = c->chain_len};
        cp_snp_verify_options o = CP_SNP_VERIFY_OPTIONS_INIT;
        o.now = now;
        cp_snp_verify_result res;
        int r = cp_snp_verify(shared, &ev, &o, &res);
        if (flip >= 0) {
                if (r >= 0)
                        wrong(t, "a flipped bit was accepted", i, r);
                else
                        t->flips++;
        } else if (c->vlek && now == NOW_2026) {
                if (r != CP_EEXPIRED)
                        wrong(t, "an expired VLEK chain was not refused as expired", i, r);
                else
                        t->expired++;
        } else if (c->verified) {
                if (r < 0)
                        wrong(t, "a real report was refused", i, r);
                else if (strcmp(cp_snp_generation_name(res.generation), c->generation) != 0 ||
                         res.report.version != (uint32_t) c->version ||
                         res.signer != (c->vlek ? CP_AMD_CERT_VLEK : CP_AMD_CERT_VCEK) ||
                         res.chip_id_checked == c->vlek)
                        wrong(t, "a verified report's result differs from cases.json", i, r);
                else
                        t->verified++;
        } else {
                if (r != CP_ECHIPID && r != CP_ESIG)
                        wrong(t, "the mismatched report was not refused (CHIP_ID or signature)", i, r);
                else
                        t->refused++;
        }
}

static void *worker(void *arg) {
        tally *t = arg;
        pthread_barrier_wait(&start_line); /* all at once on the cold cache */
        for (unsigned round = 0; round < ROUNDS; round++)
                for (size_t k = 0; k < n_cases; k++) {
                        size_t i = (k + t->id * 5) % n_cases;
                        const mcase *c = &cases[i];
                        /* VLEK: valid in 2025, expired in 2026, alternately per thread */
                        int64_t now = c->vlek ? (((t->id + round) & 1) ? NOW_2026 : NOW_2025) : 0;
                        check_case(t, i, now, -1);
                        if (c->verified && !(c->vlek && now == NOW_2026)) /* cached chain, tampered report */
                                check_case(t, i, now, (long) ((t->id * 131 + round * 977 + k * 37) %
                                                             (CP_SNP_REPORT_SIGNED_SIZE * 8)));
                }
        return NULL;
}

TEST(shared_verifier_from_several_threads_every_verdict_right) {
        load_cases();
        ASSERT_OK(cp_snp_verifier_new(NULL, &shared));
        ASSERT_EQ(pthread_barrier_init(&start_line, NULL, THREADS), 0);
        pthread_t th[THREADS];
        tally tl[THREADS];
        memset(tl, 0, sizeof tl);
        for (unsigned i = 0; i < THREADS; i++) {
                tl[i].id = i;
                ASSERT_EQ(pthread_create(&th[i], NULL, worker, &tl[i]), 0);
        }
        for (unsigned i = 0; i < THREADS; i++)
                ASSERT_EQ(pthread_join(th[i], NULL), 0);
        pthread_barrier_destroy(&start_line);
        unsigned vlek = 0, verified = 0, refused = 0;
        for (size_t i = 0; i < n_cases; i++) {
                vlek += cases[i].vlek;
                verified += cases[i].verified;
                refused += !cases[i].verified;
        }
        unsigned total_verified = 0, total_expired = 0;
        for (unsigned i = 0; i < THREADS; i++) {
                if (tl[i].wrong)
                        cp_test_fail(__FILE__, __LINE__, "thread %u: %u wrong verdicts, first: %s", i, tl[i].wrong,
                                     tl[i].first_wrong);
                /* each thread checked every case every round */
                ASSERT_EQ(tl[i].verified + tl[i].expired + tl[i].refused, ROUNDS * n_cases);
                ASSERT_EQ(tl[i].refused, ROUNDS * refused);
                ASSERT_EQ(tl[i].flips, tl[i].verified);
                total_verified += tl[i].verified;
                total_expired += tl[i].expired;
        }
        /* the VLEK case(s) were seen both valid and expired across threads */
        ASSERT_TRUE(vlek >= 1);
        ASSERT_TRUE(total_expired >= vlek);
        ASSERT_EQ(total_verified + total_expired, THREADS * ROUNDS * verified);
        printf("    %u threads x %u rounds x %zu cases: %u verified, %u expired, every verdict right\n", THREADS, ROUNDS,
               n_cases, total_verified, total_expired);
        shared = cp_snp_verifier_free(shared);
        free_cases();
}
