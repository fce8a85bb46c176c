/* SPDX-License-Identifier: Apache-2.0 */
/*
 * confpool-attestd throughput over HTTP on loopback: cold attestations (the
 * verified-report cache disabled: every request verifies the SNP report's
 * P-384 signature; the endorsement-chain cache stays on, as in production)
 * and warm ones (same boot: report cached, only quote check + token), with
 * wrk-like keep-alive clients on a few threads (bench/httpload.h).  Printed next to the
 * per-request limit computed from the same primitives measured in this run:
 * SNP report verification (P-384 verify, warm chain cache) + TPM quote
 * verification + token signature, times the worker threads that can run in
 * parallel (min(threads, CPUs)).
 *
 *   build/bench/bench-attestd [seconds-per-measurement] [threads]   (default 3, 2 x CPUs)
 *
 * Evidence: Trustee's az-snp-vtpm evidence-v1 (real Azure Milan CVM).
 *
 * TDX (issue 16), beside it: POST /attest/TdxVm with a quote of a software
 * TDX platform (emulated root trusted, collateral from its PCS on
 * loopback).  Cold: the first attestation of a fresh service (collateral
 * fetched from the PCS, PCK chain with both CRLs, TCB Signing chain, TCB
 * Info and QE Identity verified, then the quote); warm: the same platform
 * again (chain and collateral cached: the quote's two P-256 verifications,
 * binding, claims, token).
 */
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "attestd/attestd.h"
#include "emu/tdx_emu.h"
#include "httpload.h"
#include "service/httpd.h"
#include "basic/codec.h"
#include "basic/fileio.h"
#include "confpool/azure.h"
#include "confpool/snp_verify.h"
#include "confpool/tpm_quote.h"

#define NOW INT64_C(1748736000)
#define EV "/snp/confidential-containers__trustee/az-snp-vtpm/evidence-v1"

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static uint8_t *rd(const char *suffix, size_t *len) {
        char p[1024];
        uint8_t *b = NULL;
        snprintf(p, sizeof(p), "%s%s%s", CP_TEST_DATA_DIR, EV, suffix);
        if (cp_read_file(p, 1u << 20, &b, len) < 0) {
                fprintf(stderr, "cannot read %s: %s\n", p, cp_error_message());
                exit(1);
        }
        return b;
}

static void die(const char *what) {
        fprintf(stderr, "bench-attestd: %s: %s\n", what, cp_error_message());
        exit(1);
}

/* ---- primitives ------------------------------------------------------------- */

typedef struct prim_ctx {
        cp_snp_verifier *v;
        cp_snp_evidence ev;
        uint8_t msg[1024], sig[512], pcrv[24][32];
        size_t ml, sl;
        cp_tpm_pcr_bank bank;
        cp_azure_runtime_data *rtd;
        cp_jwt_key *key;
        json_t *claims;
} prim_ctx;

typedef struct prim_job {
        prim_ctx *c;
        int which; /* 0 snp, 1 quote, 2 sign, 3 all three in sequence */
        double secs;
        unsigned long n;
        double cpu_s; /* thread CPU time spent */
} prim_job;

static double thread_cpu_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void do_snp(prim_ctx *c) {
        cp_snp_verify_options o = CP_SNP_VERIFY_OPTIONS_INIT;
        cp_snp_verify_result res;
        o.now = NOW;
        if (cp_snp_verify(c->v, &c->ev, &o, &res) < 0)
                die("snp verify");
}

static void do_quote(prim_ctx *c) {
        cp_tpm_quote qq;
        cp_tpm_signature ss;
        if (cp_tpm_quote_parse(c->msg, c->ml, &qq) < 0 ||
            cp_tpm_signature_from_raw(c->sig, c->sl, CP_TPM_ALG_RSASSA, CP_TPM_ALG_SHA256, &ss) < 0 ||
            cp_tpm_quote_verify(&qq, &ss, cp_azure_runtime_data_ak(c->rtd), (const uint8_t *) "challenge", 9, &c->bank,
                                1) < 0)
                die("quote");
}

static void do_sign(prim_ctx *c) {
        char *tok = NULL;
        if (cp_jwt_sign(c->key, c->claims, NULL, &tok) < 0)
                die("sign");
        free(tok);
}

static void *prim_thread(void *arg) {
        prim_job *j = arg;
        double t0 = now_s(), c0 = thread_cpu_s();
        while (now_s() - t0 < j->secs) {
                if (j->which == 0 || j->which == 3)
                        do_snp(j->c);
                if (j->which == 1 || j->which == 3)
                        do_quote(j->c);
                if (j->which == 2 || j->which == 3)
                        do_sign(j->c);
                j->n++;
        }
        j->cpu_s = thread_cpu_s() - c0;
        return NULL;
}

static void prim_setup(prim_ctx *c, cp_jwt_alg alg, uint8_t **bufs) {
        size_t hl, vl, jl, k;
        uint8_t *h = rd(".hcl-report.bin", &hl), *vcek = rd(".vcek.der", &vl), *js = rd(".json", &jl);
        cp_hcl_report hcl;
        memset(c, 0, sizeof(*c));
        if (cp_hcl_report_parse(h, hl, &hcl) < 0 || cp_snp_verifier_new(NULL, &c->v) < 0)
                die("setup");
        c->ev = (cp_snp_evidence){ .report = hcl.hw_report, .report_len = hcl.hw_report_len, .leaf = vcek,
                                   .leaf_len = vl };
        do_snp(c); /* fills the chain cache */
        json_t *j = json_loadb((const char *) js, jl, 0, NULL), *q = json_object_get(j, "tpm_quote"), *pv;
        const char *mh = json_string_value(json_object_get(q, "message")), *sh = json_string_value(json_object_get(q, "signature"));
        c->bank.hash_alg = CP_TPM_ALG_SHA256;
        if (cp_hex_decode(mh, strlen(mh), c->msg, sizeof(c->msg), &c->ml) < 0 ||
            cp_hex_decode(sh, strlen(sh), c->sig, sizeof(c->sig), &c->sl) < 0)
                die("hex");
        json_array_foreach(json_object_get(q, "pcrs"), k, pv) {
                size_t pl;
                if (cp_hex_decode(json_string_value(pv), 64, c->pcrv[k], 32, &pl) < 0)
                        die("pcr");
                c->bank.values[k] = c->pcrv[k];
        }
        json_decref(j);
        if (cp_azure_runtime_data_parse(hcl.runtime_data, hcl.runtime_data_len, &c->rtd) < 0)
                die("runtime data");
        if (cp_jwt_key_generate(alg, NULL, NOW, 30, &c->key) < 0)
                die("key");
        /* a claim set of the service's size */
        c->claims = json_object();
        char name[64];
        for (int i = 0; i < 30; i++) {
                snprintf(name, sizeof(name), "x-ms-sevsnpvm-claim-%d", i);
                json_object_set_new(c->claims, name,
                                    json_string("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"));
        }
        bufs[0] = h;
        bufs[1] = vcek;
        bufs[2] = js;
}

static void prim_teardown(prim_ctx *c, uint8_t **bufs) {
        json_decref(c->claims);
        cp_jwt_key_free(c->key);
        cp_azure_runtime_data_free(c->rtd);
        cp_snp_verifier_free(c->v);
        for (int i = 0; i < 3; i++)
                free(bufs[i]);
}

/* Per-operation time (single thread) of each primitive, and the aggregate
 * rate of the three in sequence on par threads at once (the limit). */
static double measure(prim_ctx *c, int which, unsigned par, double secs, double *ret_cpu_us) {
        prim_job jobs[16];
        pthread_t th[16];
        unsigned long n = 0;
        double cpu = 0;
        double t0 = now_s();
        for (unsigned i = 0; i < par; i++) {
                jobs[i] = (prim_job){ .c = c, .which = which, .secs = secs };
                pthread_create(&th[i], NULL, prim_thread, &jobs[i]);
        }
        for (unsigned i = 0; i < par; i++) {
                pthread_join(th[i], NULL);
                n += jobs[i].n;
                cpu += jobs[i].cpu_s;
        }
        if (ret_cpu_us)
                *ret_cpu_us = 1e6 * cpu / (double) n;
        return (double) n / (now_s() - t0);
}

/* ---- HTTP load: bench/httpload.h (wrk-like keep-alive clients) ---------------- */

/* CPU time per request of the handler alone (no HTTP, one thread). */
static double handler_cpu_us(bool warm, cp_jwt_alg alg, const char *body, double secs) {
        cp_attestd_config cfg = { .now = NOW, .quiet = true, .alg = alg, .no_report_cache = !warm };
        cp_attestd *s = NULL;
        struct timespec a, b;
        unsigned long n = 0;
        if (cp_attestd_new(&cfg, &s) < 0)
                die("service");
        static const cp_http_pair q[] = { { "api-version", "2022-08-01" } };
        cp_http_request req = { .method = "POST", .path = "/attest/AzureSnpVtpm", .body = (const uint8_t *) body,
                                .body_len = strlen(body), .remote_addr = "bench", .query = q, .n_query = 1 };
        double t0 = now_s();
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
        do {
                cp_http_response resp = { 0 };
                cp_attestd_handle(s, &req, &resp);
                if (resp.status != 200)
                        die("handler");
                free(resp.body);
                for (size_t i = 0; i < resp.n_headers; i++) {
                        free(resp.header_names[i]);
                        free(resp.header_values[i]);
                }
                n++;
        } while (now_s() - t0 < secs);
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
        cp_attestd_free(s);
        return ((double) (b.tv_sec - a.tv_sec) * 1e6 + (double) (b.tv_nsec - a.tv_nsec) / 1e3) / (double) n;
}

static double run_load(bool warm, cp_jwt_alg alg, unsigned threads, double secs, const char *body) {
        cp_attestd_config cfg = { .now = NOW, .quiet = true, .threads = threads, .alg = alg, .no_report_cache = !warm };
        cp_attestd *s = NULL;
        size_t rl;
        unsigned long bad = 0;
        if (cp_attestd_new(&cfg, &s) < 0 || cp_attestd_start(s) < 0)
                die("service");
        char *req = httpload_post("/attest/AzureSnpVtpm?api-version=2022-08-01", body, &rl);
        if (!req)
                die("out of memory");
        /* warm-up requests (fill the chain cache / report cache) */
        if (httpload_run(cp_attestd_port(s), req, rl, 1, 0.05, &bad) <= 0 || bad)
                die("warm-up request failed");
        double rate = httpload_run(cp_attestd_port(s), req, rl, threads, secs, &bad);
        if (bad)
                fprintf(stderr, "bench-attestd: %lu failed requests\n", bad);
        free(req);
        cp_attestd_free(s);
        return rate;
}

/* ---- TDX ------------------------------------------------------------------ */

typedef struct tdx_plat {
        cp_tdx_pcs *pcs;
        cp_httpd *httpd;
        cp_tdx_host *host;
        char *root;
        size_t root_len;
        char url[64];
        char *body;
} tdx_plat;

static void tdx_setup(tdx_plat *t) {
        static const char rt[] = "{\"keys\":[],\"vm-configuration\":{\"vmUniqueId\":\"bench-td\"}}";
        cp_tdx_td *td = NULL;
        uint8_t rd[64] = { 0 }, rep[CP_TDX_TDREPORT_SIZE], *q = NULL;
        size_t ql = 0;
        if (cp_tdx_pcs_new(NULL, &t->pcs) < 0 || cp_tdx_pcs_start(t->pcs, "127.0.0.1", 0, &t->httpd) < 0 ||
            cp_tdx_host_new(t->pcs, NULL, &t->host) < 0 || cp_tdx_pcs_root_pem(t->pcs, &t->root, &t->root_len) < 0 ||
            cp_tdx_host_launch(t->host, &(cp_tdx_td_params){ .attributes = 1ull << 28 }, NULL, 0,
                               CP_TDX_ORDER_SINGLE_PASS, &td) < 0)
                die("software TDX platform");
        snprintf(t->url, sizeof(t->url), "http://127.0.0.1:%u", cp_httpd_port(t->httpd));
        SHA256((const uint8_t *) rt, strlen(rt), rd);
        if (cp_tdx_td_report(td, rd, rep) < 0 || cp_tdx_host_quote(t->host, rep, &q, &ql) < 0)
                die("TDX quote");
        cp_tdx_td_free(td);
        char *qb = malloc(cp_b64_encoded_len(ql, CP_B64_URL) + 1), rb[256];
        cp_b64_encode(q, ql, CP_B64_URL, qb);
        cp_b64_encode((const uint8_t *) rt, strlen(rt), CP_B64_URL, rb);
        free(q);
        size_t n = strlen(qb) + strlen(rb) + 128;
        t->body = malloc(n);
        snprintf(t->body, n, "{\"quote\":\"%s\",\"runtimeData\":{\"data\":\"%s\",\"dataType\":\"JSON\"}}", qb, rb);
        free(qb);
}

static void tdx_teardown(tdx_plat *t) {
        t->httpd = cp_httpd_stop(t->httpd);
        cp_tdx_host_free(t->host);
        cp_tdx_pcs_free(t->pcs);
        free(t->root);
        free(t->body);
}

static cp_attestd *tdx_service(const tdx_plat *t, cp_jwt_alg alg, unsigned threads) {
        cp_attestd_config cfg = { .quiet = true, .alg = alg, .threads = threads,
                                  .tdx_trust_root = (const uint8_t *) t->root, .tdx_trust_root_len = t->root_len,
                                  .tdx_pcs_url = t->url, .tdx_collateral_max_age_s = 3600 };
        cp_attestd *s = NULL;
        if (cp_attestd_new(&cfg, &s) < 0)
                die("TDX service");
        return s;
}

static void tdx_handle(cp_attestd *s, const char *body) {
        static const cp_http_pair q[] = { { "api-version", "2022-08-01" } };
        cp_http_request req = { .method = "POST", .path = "/attest/TdxVm", .body = (const uint8_t *) body,
                                .body_len = strlen(body), .remote_addr = "bench", .query = q, .n_query = 1 };
        cp_http_response resp = { 0 };
        cp_attestd_handle(s, &req, &resp);
        if (resp.status != 200)
                die("TdxVm handler");
        cp_http_resp_clear(&resp);
}

/* cold: wall ms of a fresh service's first attestation (median of 7);
 * warm: handler CPU us and the HTTP rate on the same platform */
static void tdx_bench(cp_jwt_alg alg, unsigned threads, double secs) {
        tdx_plat t = { 0 };
        tdx_setup(&t);
        double cold[7];
        for (int i = 0; i < 7; i++) {
                cp_attestd *s = tdx_service(&t, alg, 1);
                double t0 = now_s();
                tdx_handle(s, t.body);
                cold[i] = (now_s() - t0) * 1e3;
                cp_attestd_free(s);
        }
        for (int i = 1; i < 7; i++)
                for (int j = i; j > 0 && cold[j] < cold[j - 1]; j--) {
                        double x = cold[j];
                        cold[j] = cold[j - 1];
                        cold[j - 1] = x;
                }
        cp_attestd *s = tdx_service(&t, alg, 1);
        tdx_handle(s, t.body);
        struct timespec a, b;
        unsigned long n = 0;
        double t0 = now_s();
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
        do {
                tdx_handle(s, t.body);
                n++;
        } while (now_s() - t0 < secs / 2);
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
        double warm_cpu = ((double) (b.tv_sec - a.tv_sec) * 1e6 + (double) (b.tv_nsec - a.tv_nsec) / 1e3) / (double) n;
        cp_attestd_free(s);
        s = tdx_service(&t, alg, threads);
        size_t rl;
        unsigned long bad = 0;
        if (cp_attestd_start(s) < 0)
                die("TDX service start");
        char *req = httpload_post("/attest/TdxVm?api-version=2022-08-01", t.body, &rl);
        if (!req || httpload_run(cp_attestd_port(s), req, rl, 1, 0.05, &bad) <= 0 || bad)
                die("TDX warm-up request failed");
        double warm = httpload_run(cp_attestd_port(s), req, rl, threads, secs, &bad);
        if (bad)
                fprintf(stderr, "bench-attestd: %lu failed TDX requests\n", bad);
        free(req);
        cp_attestd_free(s);
        printf("\nTDX tokens %s (POST /attest/TdxVm, software TDX quote v4, body %zu bytes):\n", cp_jwt_alg_name(alg),
               strlen(t.body));
        printf("  cold: a fresh service's first attestation (collateral fetched + chain verified) "
               "%.1f ms (median of 7; min %.1f)\n", cold[3], cold[0]);
        printf("  warm handler CPU per request without HTTP            %8.0f us (%.0fx cheaper than cold's wall time)\n",
               warm_cpu, cold[3] * 1e3 / warm_cpu);
        printf("  warm over HTTP (chain and collateral cached)         %8.0f /s\n", warm);
        tdx_teardown(&t);
}

int main(int argc, char **argv) {
        double secs = argc > 1 ? atof(argv[1]) : 3.0;
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        /* more connections than CPUs: libmicrohttpd binds each keep-alive connection
         * to one worker, so with as many connections as workers two of them can
         * end up on the same worker */
        unsigned threads = argc > 2 ? (unsigned) atoi(argv[2]) : (unsigned) (ncpu > 0 ? 2 * ncpu : 4);
        if (secs <= 0 || threads == 0 || threads > 16) {
                fprintf(stderr, "usage: bench-attestd [seconds] [threads 1..16]\n");
                return 2;
        }
        size_t jl;
        uint8_t *js = rd(".json", &jl);
        json_t *ev = json_loadb((const char *) js, jl, 0, NULL);
        char nonce[16];
        cp_b64_encode((const uint8_t *) "challenge", 9, CP_B64_URL, nonce);
        json_t *b = json_pack("{s:O,s:s}", "evidence", ev, "nonce", nonce);
        char *body = json_dumps(b, JSON_COMPACT);
        unsigned par = threads < (unsigned) ncpu ? threads : (unsigned) ncpu;

        printf("bench-attestd: %u client threads, %u server threads, %ld CPUs, %.1f s per run, body %zu bytes\n",
               threads, threads, ncpu, secs, strlen(body));
        const cp_jwt_alg algs[] = { CP_JWT_ES256, CP_JWT_RS256 };
        int failures = 0;
        for (size_t a = 0; a < 2; a++) {
                prim_ctx pc;
                uint8_t *bufs[3];
                prim_setup(&pc, algs[a], bufs);
                double snp_cpu, quote_cpu, sign_cpu;
                double snp_us = 1e6 / measure(&pc, 0, 1, secs / 4, &snp_cpu),
                       quote_us = 1e6 / measure(&pc, 1, 1, secs / 4, &quote_cpu),
                       sign_us = 1e6 / measure(&pc, 2, 1, secs / 4, &sign_cpu);
                /* rounds of (limit, cold, warm) so that load from other processes hits all
                 * three alike; the best of each is reported */
                double limit = 0, cold = 0, warm = 0;
                for (int round = 0; round < 3; round++) {
                        double l = measure(&pc, 3, par, secs / 2, NULL);
                        double cr = run_load(false, algs[a], threads, secs / 2, body);
                        double wr = run_load(true, algs[a], threads, secs / 2, body);
                        limit = l > limit ? l : limit;
                        cold = cr > cold ? cr : cold;
                        warm = wr > warm ? wr : warm;
                }
                prim_teardown(&pc, bufs);
                double hc = handler_cpu_us(false, algs[a], body, secs / 4), hw = handler_cpu_us(true, algs[a], body, secs / 4);
                printf("\ntokens %s: SNP report verify (P-384) %.0f us + quote verify %.0f us + token sign %.0f us "
                       "= %.0f us per attestation on one core\n",
                       cp_jwt_alg_name(algs[a]), snp_us, quote_us, sign_us, snp_us + quote_us + sign_us);
                printf("  limit: the three primitives on %u threads  %8.0f /s\n", par, limit);
                printf("  cold over HTTP (report verified)          %8.0f /s  = %3.0f%% of the limit (target >= 70%%)\n",
                       cold, 100 * cold / limit);
                printf("  warm over HTTP (report cached)            %8.0f /s  = %4.1fx cold (target >= 5x)\n", warm,
                       warm / cold);
                printf("  handler CPU per request without HTTP: cold %.0f us, warm %.0f us (%.1fx)\n", hc, hw, hc / hw);
                /* the same comparison in thread CPU time, which other processes on a shared
                 * machine disturb far less than wall-clock rates (no HTTP, no client) */
                double prim_cpu = snp_cpu + quote_cpu + sign_cpu;
                printf("  CPU-time view: primitives %.0f us = %.0f%% of the cold handler (HTTP-free bound on cold/limit),\n"
                       "                 warm handler %.1fx cheaper than cold\n",
                       prim_cpu, 100 * prim_cpu / hc, hc / hw);
                if (algs[a] == CP_JWT_ES256 && (cold < 0.7 * limit || warm < 5 * cold))
                        failures++;
        }
        for (size_t a = 0; a < 2; a++)
                tdx_bench(algs[a], threads, secs);
        if (failures)
                printf("\nbench-attestd: ES256 targets NOT met in this run\n");
        free(body);
        json_decref(b);
        json_decref(ev);
        free(js);
        return 0;
}
