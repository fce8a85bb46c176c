/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TDX DCAP quote verification throughput on the real quotes of
 * tests/data/tdx (each at its case's check time), against raw ECDSA P-256
 * verification of the same quote signatures in the same run, with nettle
 * and OpenSSL.
 *
 *   build/bench/bench-verify-tdx [seconds-per-measurement]     (default 2)
 *   build/bench/bench-verify-tdx 0 --ops N   (each measured operation N times
 *       a case, untimed: for instruction counts, valgrind --tool=callgrind
 *       then callgrind_annotate --inclusive=yes; docs/verifier.md)
 *   build/bench/bench-verify-tdx SECS --cached-only   (only the cached rate:
 *       for profiling, e.g. valgrind --tool=callgrind
 *       --toggle-collect=cp_tdx_verifier_verify ...)
 *
 * "raw" = the library's verify call on a prepared key and signature with
 * the digest already computed.  "full, cached" = cp_tdx_verifier_verify()
 * with the PCK chain and collateral in the verifier's cache (parse, SHA-256
 * cache key over the chain and collateral, QE report signature, attestation
 * key binding, quote signature, TCB level matching): two ECDSA verifies a
 * quote, with the PCK and attestation keys' fixed-base tables once they
 * have been seen twice (issue 19: per signature, compared with the raw rate
 * as "repeat key"; "first sight" = the table look-up that misses + OpenSSL).  "full, warm collateral":
 * a PCK chain the verifier has not seen (new platform), the TCB Signing
 * chain, TCB Info and QE Identity cached.  "full, cold" =
 * cp_tdx_verify(): every certificate, CRL and collateral signature too.
 */
#include <gmp.h>
#include <jansson.h>
#include <nettle/ecc-curve.h>
#include <nettle/ecc.h>
#include <nettle/ecdsa.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "basic/fileio.h"
#include "confpool/tdx_verify.h"
#include "libconfpool/ecfb.h"
#include "libconfpool/tdx-internal.h"

#define MAXC 16
#define ROUNDS 10

typedef struct bcase {
        uint8_t *quote, *tcb, *qe, *sign, *pck_crl, *root_crl;
        size_t quote_len, tcb_len, qe_len, sign_len, pck_crl_len, root_crl_len;
        cp_tdx_collateral col;
        int64_t now;
        uint8_t digest[32];
        struct ecc_point npub;
        struct dsa_signature nsig;
        EVP_PKEY *opub;
        EVP_PKEY_CTX *octx;
        unsigned char *oder;
        int oderlen;
        uint8_t ak[64], sig[64];
        cp_ecfb_table *tab; /* the attestation key's fixed-base table */
} bcase;

static cp_ecfb_cache *never; /* a cache that never builds: the first-sight path */

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static uint8_t *rd(const char *dir, json_t *c, const char *key, size_t *len) {
        char p[1024];
        uint8_t *b = NULL;
        const char *rel = json_string_value(json_object_get(c, key));
        *len = 0;
        if (!rel)
                return NULL;
        snprintf(p, sizeof(p), "%s/tdx/%s", dir, rel);
        if (cp_read_file(p, 1u << 22, &b, len) < 0) {
                fprintf(stderr, "cannot read %s: %s\n", p, cp_error_message());
                exit(1);
        }
        return b;
}

static void prepare_raw(bcase *c) {
        cp_tdx_quote q;
        if (cp_tdx_quote_parse(c->quote, c->quote_len, 0, &q) < 0) {
                fprintf(stderr, "quote: %s\n", cp_error_message());
                exit(1);
        }
        unsigned dl = 32;
        EVP_Digest(q.signed_data, q.signed_len, c->digest, &dl, EVP_sha256(), NULL);
        mpz_t mx, my;
        mpz_inits(mx, my, NULL);
        mpz_import(mx, 32, 1, 1, 1, 0, q.attest_key);
        mpz_import(my, 32, 1, 1, 1, 0, q.attest_key + 32);
        ecc_point_init(&c->npub, nettle_get_secp_256r1());
        if (!ecc_point_set(&c->npub, mx, my))
                exit(1);
        mpz_clears(mx, my, NULL);
        dsa_signature_init(&c->nsig);
        mpz_import(c->nsig.r, 32, 1, 1, 1, 0, q.signature);
        mpz_import(c->nsig.s, 32, 1, 1, 1, 0, q.signature + 32);
        memcpy(c->ak, q.attest_key, 64);
        memcpy(c->sig, q.signature, 64);
        if (cp_ecfb_table_new(CP_ECFB_P256, c->ak, &c->tab) < 0)
                exit(1);
        if (tdx_p256_key(q.attest_key, &c->opub) < 0)
                exit(1);
        ECDSA_SIG *sig = ECDSA_SIG_new();
        ECDSA_SIG_set0(sig, BN_bin2bn(q.signature, 32, NULL), BN_bin2bn(q.signature + 32, 32, NULL));
        c->oder = NULL;
        c->oderlen = i2d_ECDSA_SIG(sig, &c->oder);
        ECDSA_SIG_free(sig);
        c->octx = EVP_PKEY_CTX_new(c->opub, NULL);
        EVP_PKEY_verify_init(c->octx);
}

typedef int (*op_fn)(bcase *c, void *arg);

static double rate(bcase *cs, size_t n, op_fn fn, void *arg, double secs) {
        unsigned long ops = 0;
        double t0 = now_s(), t;
        do {
                for (size_t i = 0; i < n; i++) {
                        if (fn(&cs[i], arg) != 0) {
                                fprintf(stderr, "verification failed during the benchmark: %s\n", cp_error_message());
                                exit(1);
                        }
                        ops++;
                }
                t = now_s();
        } while (t - t0 < secs);
        return (double) ops / (t - t0);
}

static int raw_nettle(bcase *c, void *arg) {
        (void) arg;
        return ecdsa_verify(&c->npub, 32, c->digest, &c->nsig) ? 0 : -1;
}

static int raw_openssl(bcase *c, void *arg) {
        (void) arg;
        return EVP_PKEY_verify(c->octx, c->oder, (size_t) c->oderlen, c->digest, 32) == 1 ? 0 : -1;
}

/* repeat key: the verifier's per-signature work once the key has a table */
static int raw_table(bcase *c, void *arg) {
        (void) arg;
        return cp_ecfb_verify(c->tab, c->digest, 32, c->sig, c->sig + 32);
}

/* first sight: the table look-up that misses, then OpenSSL as before */
static int first_sight(bcase *c, void *arg) {
        (void) arg;
        cp_ecfb_table *t = cp_ecfb_cache_get(never, CP_ECFB_P256, c->ak);
        if (t)
                return -1;
        return EVP_PKEY_verify(c->octx, c->oder, (size_t) c->oderlen, c->digest, 32) == 1 ? 0 : -1;
}

static int full(bcase *c, void *arg) {
        static cp_tdx_verify_result res;
        cp_tdx_verify_options o = CP_TDX_VERIFY_OPTIONS_INIT;
        o.now = c->now;
        return cp_tdx_verifier_verify(arg, c->quote, c->quote_len, &c->col, &o, &res);
}

/* A PCK chain the verifier has not seen (a unique text line before the PEM,
 * which the PEM reader skips) with collateral it has: the PCK chain and
 * CRLs are verified again, TCB Info / QE Identity reused. */
static int full_warm_collateral(bcase *c, void *arg) {
        static cp_tdx_verify_result res;
        static unsigned long counter;
        cp_tdx_quote q;
        char head[48];
        if (cp_tdx_quote_parse(c->quote, c->quote_len, 0, &q) < 0)
                return -1;
        int hl = snprintf(head, sizeof(head), "bench %lu\n", ++counter);
        uint8_t *chain = malloc((size_t) hl + q.cert.pck_chain_len);
        if (!chain)
                return -1;
        memcpy(chain, head, (size_t) hl);
        memcpy(chain + hl, q.cert.pck_chain, q.cert.pck_chain_len);
        cp_tdx_collateral col = c->col;
        col.pck_chain = chain;
        col.pck_chain_len = (size_t) hl + q.cert.pck_chain_len;
        cp_tdx_verify_options o = CP_TDX_VERIFY_OPTIONS_INIT;
        o.now = c->now;
        int k = cp_tdx_verifier_verify(arg, c->quote, c->quote_len, &col, &o, &res);
        free(chain);
        return k;
}

static size_t load_cases(const char *dir, bcase *cs) {
        size_t jl, n = 0, i;
        char p[1024];
        uint8_t *jb = NULL;
        snprintf(p, sizeof(p), "%s/tdx/cases.json", dir);
        if (cp_read_file(p, 1u << 20, &jb, &jl) < 0)
                exit(1);
        json_error_t err;
        json_t *root = json_loadb((const char *) jb, jl, 0, &err), *e;
        free(jb);
        json_array_foreach(root, i, e) {
                if (strcmp(json_string_value(json_object_get(e, "expect")), "verified") != 0 ||
                    strcmp(json_string_value(json_object_get(e, "format")), "azure-hcl-tdreport") == 0 || n == MAXC)
                        continue;
                bcase *c = &cs[n++];
                memset(c, 0, sizeof(*c));
                c->quote = rd(dir, e, "quote", &c->quote_len);
                c->tcb = rd(dir, e, "tcb_info", &c->tcb_len);
                c->qe = rd(dir, e, "qe_identity", &c->qe_len);
                c->sign = rd(dir, e, "tcb_signing_chain", &c->sign_len);
                c->pck_crl = rd(dir, e, "pck_crl", &c->pck_crl_len);
                c->root_crl = rd(dir, e, "root_ca_crl", &c->root_crl_len);
                c->col = (cp_tdx_collateral) { .tcb_info = c->tcb, .tcb_info_len = c->tcb_len, .qe_identity = c->qe,
                                               .qe_identity_len = c->qe_len, .tcb_signing_chain = c->sign,
                                               .tcb_signing_chain_len = c->sign_len, .pck_crl = c->pck_crl,
                                               .pck_crl_len = c->pck_crl_len, .root_ca_crl = c->root_crl,
                                               .root_ca_crl_len = c->root_crl_len };
                if (tdx_parse_time(json_string_value(json_object_get(e, "check_time")), &c->now) < 0)
                        exit(1);
                prepare_raw(c);
        }
        json_decref(root);
        return n;
}

/* full(), under its own name for callgrind's inclusive counts (--ops) */
__attribute__((noinline)) static int full_measured(bcase *c, void *arg) {
        return full(c, arg);
}

int main(int argc, char **argv) {
        double secs = argc > 1 ? atof(argv[1]) : 2.0;
        const char *dir = getenv("CP_TEST_DATA_DIR");
        bcase cs[MAXC];
        cp_tdx_verifier *v = NULL;
        if (!dir)
                dir = CP_TEST_DATA_DIR;
        size_t n = load_cases(dir, cs);
        if (cp_tdx_verifier_new(&v) < 0)
                return 1;
        for (size_t i = 0; i < n; i++)
                if (full(&cs[i], v) != 0) {
                        fprintf(stderr, "warm-up verification failed: %s\n", cp_error_message());
                        return 1;
                }
        printf("bench-verify-tdx: %zu real TDX quotes (v4, v5; SPR, EMR, GNR), %.1f s per measurement\n", n, secs);
        if (argc > 3 && !strcmp(argv[2], "--ops")) {
                if (cp_ecfb_cache_new(1, UINT_MAX, &never) < 0)
                        return 1;
                for (size_t i = 0; i < n; i++) /* the second sighting builds the tables */
                        if (full(&cs[i], v) != 0)
                                return 1;
                op_fn ops[] = { raw_nettle, raw_openssl, raw_table, first_sight };
                for (int rep = 0; rep < 2 * atoi(argv[3]); rep++) /* full: 2 signatures */
                        for (size_t i = 0; i < n; i++) {
                                if (rep < atoi(argv[3]))
                                        for (size_t o = 0; o < 4; o++)
                                                if (ops[o](&cs[i], NULL) != 0)
                                                        return 1;
                                if (rep % 2 == 0 && full_measured(&cs[i], v) != 0)
                                        return 1;
                        }
                printf("ran each operation %d times on %zu quotes\n", atoi(argv[3]), n);
                return 0;
        }
        if (argc > 2 && !strcmp(argv[2], "--cached-only")) {
                printf("%-28s %12.0f /s\n", "full verify, cached chain", rate(cs, n, full, v, secs));
                cp_tdx_verifier_free(v);
                return 0;
        }
        /* the three rates the ratio is made of, interleaved in 10 rounds so
         * that load from other processes falls on all of them alike */
        double rn = 0, ro = 0, fc = 0, rt = 0, fs = 0;
        if (cp_ecfb_cache_new(1, UINT_MAX, &never) < 0)
                return 1;
        for (int round = 0; round < ROUNDS; round++) {
                rn += rate(cs, n, raw_nettle, NULL, secs / ROUNDS) / ROUNDS;
                ro += rate(cs, n, raw_openssl, NULL, secs / ROUNDS) / ROUNDS;
                fc += rate(cs, n, full, v, secs / ROUNDS) / ROUNDS;
                rt += rate(cs, n, raw_table, NULL, secs / ROUNDS) / ROUNDS;
                fs += rate(cs, n, first_sight, NULL, secs / ROUNDS) / ROUNDS;
        }
        double tb0 = now_s();
        unsigned builds = 0;
        do {
                cp_ecfb_table *t = NULL;
                if (cp_ecfb_table_new(CP_ECFB_P256, cs[builds % n].ak, &t) < 0)
                        return 1;
                cp_ecfb_table_unref(t);
                builds++;
        } while (now_s() - tb0 < secs / 4);
        double build_us = 1e6 * (now_s() - tb0) / builds;
        double fw = rate(cs, n, full_warm_collateral, v, secs);
        double fu = rate(cs, n, full, NULL, secs);
        double best = rn >= ro ? rn : ro;
        const char *faster = rn >= ro ? "nettle" : "openssl";
        printf("%-28s %12.0f /s\n", "raw P-256 verify (nettle)", rn);
        printf("%-28s %12.0f /s\n", "raw P-256 verify (openssl)", ro);
        printf("%-28s %12.0f /s  %5.1f%% of the faster raw rate (%s)\n", "full verify, cached chain", fc,
               100.0 * fc / best, faster);
        printf("%-28s %12.0f /s  %5.1f%%  (new PCK chain, collateral cached: %llu reused)\n",
               "full verify, warm collateral", fw, 100.0 * fw / best,
               (unsigned long long) tdx_verifier_coll_hits(v));
        printf("%-28s %12.0f /s  %5.1f%%\n", "full verify, cold", fu, 100.0 * fu / best);
        printf("per verification: cached %.1f us, warm collateral %.1f us, cold %.1f us, raw %.1f us\n", 1e6 / fc,
               1e6 / fw, 1e6 / fu, 1e6 / best);
        printf("issue 19, per signature against the faster raw P-256 rate (%s, %.0f/s):\n", faster, best);
        printf("  %-38s %9.0f /s  %5.2fx\n", "repeat key (fixed-base table)", rt, rt / best);
        printf("  %-38s %9.0f /s  %5.2fx\n", "full verify, cached (2 signatures each)", 2 * fc, 2 * fc / best);
        printf("  %-38s %9.0f /s  %5.2fx\n", "first sight (look-up miss + OpenSSL)", fs, fs / best);
        printf("  table build: %.0f us a key (%zu bytes)\n", build_us, cp_ecfb_table_bytes_for(CP_ECFB_P256));
        int ok = fc >= 0.45 * best;
        printf("target >= 45%% of the faster raw rate (two ECDSA verifies a quote): %s\n", ok ? "met" : "NOT met");
        printf("target (issue 19) cached quote signatures >= 2x the raw rate: %s\n",
               2 * fc >= 2 * best ? "met" : "NOT met");
        for (size_t i = 0; i < n; i++) {
                bcase *c = &cs[i];
                free(c->quote), free(c->tcb), free(c->qe), free(c->sign), free(c->pck_crl), free(c->root_crl);
                ecc_point_clear(&c->npub);
                dsa_signature_clear(&c->nsig);
                EVP_PKEY_CTX_free(c->octx);
                EVP_PKEY_free(c->opub);
                OPENSSL_free(c->oder);
                cp_ecfb_table_unref(c->tab);
        }
        cp_ecfb_cache_free(never);
        cp_tdx_verifier_free(v);
        return ok ? 0 : 2;
}
