/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Key broker and disk encryption throughput, each against a baseline
 * measured in the same run:
 *
 *  - releases per second over HTTP on loopback (libcurl clients on T
 *    threads, keep-alive not assumed) against the limit computed from the
 *    same primitives in this process: token validation (RS256) + policy
 *    parse and evaluation + TEE key import + CKM_RSA_AES_KEY_WRAP (RSA-OAEP
 *    + AES-KWP) + JWS signing (RS256), times min(T, CPUs);
 *  - LUKS2 data encryption (AES-256-XTS per 512-byte sector, plain64 IVs)
 *    against raw AES-256-XTS from OpenSSL over the same buffer in one call.
 *
 *   build/bench/bench-kbs [seconds-per-measurement] [threads]   (default 2, 2)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "basic/codec.h"
#include "basic/secure.h"
#include "confpool/keyrelease.h"
#include "confpool/luks2.h"
#include "kbsd/kbsd.h"
#include "service/httpc.h"

#define ISSUER "https://bench-authority.invalid"
#define ADMIN "bench-admin-token-0123456789"

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void die(const char *what) {
        fprintf(stderr, "bench-kbs: %s: %s\n", what, cp_error_message());
        exit(1);
}

static const char *policy_txt = "{\"version\":\"1.0.0\",\"anyOf\":[{\"authority\":\"" ISSUER "\",\"allOf\":["
                                "{\"claim\":\"x-ms-attestation-type\",\"equals\":\"sevsnpvm\"},"
                                "{\"claim\":\"x-ms-sevsnpvm-is-debuggable\",\"equals\":false}]}]}";

typedef struct job {
        uint16_t port;
        const char *body;
        double secs;
        long n, errors;
} job;

static void *client(void *arg) {
        job *j = arg;
        char url[128];
        snprintf(url, sizeof(url), "http://127.0.0.1:%u/keys/bench/release", (unsigned) j->port);
        cp_httpc_options o = { .timeout_ms = 20000, .bearer = ADMIN };
        double t0 = now_s();
        while (now_s() - t0 < j->secs) {
                cp_httpc_response r = { 0 };
                if (cp_httpc_request(&o, "POST", url, NULL, j->body, strlen(j->body), &r) < 0 || r.status != 200)
                        j->errors++;
                else
                        j->n++;
                cp_httpc_response_clear(&r);
        }
        return NULL;
}

int main(int argc, char **argv) {
        double secs = argc > 1 ? atof(argv[1]) : 2.0;
        unsigned threads = argc > 2 ? (unsigned) atoi(argv[2]) : 2;
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        unsigned par = threads < (unsigned) cpus ? threads : (unsigned) cpus;
        char dir[] = "/tmp/cp-bench-kbs-XXXXXX", db[128];
        if (!mkdtemp(dir))
                return 1;
        snprintf(db, sizeof(db), "%s/kbs.db", dir);

        /* authority, TEE key, token */
        cp_jwt_key *auth = NULL;
        cp_wrap_key *tee = NULL;
        json_t *jwk = NULL, *ajwk = NULL;
        char *token = NULL;
        if (cp_jwt_key_generate(CP_JWT_RS256, NULL, 0, 2, &auth) < 0 || cp_wrap_key_generate(2048, &tee) < 0 ||
            cp_wrap_key_to_jwk(tee, &jwk) < 0 || cp_jwt_key_to_jwk(auth, &ajwk) < 0)
                die("keys");
        json_object_set_new(jwk, "key_ops", json_pack("[s]", "encrypt"));
        json_object_set_new(jwk, "kid", json_string("TpmEphemeralEncryptionKey"));
        json_t *claims = json_pack("{s:s,s:I,s:I,s:s,s:b,s:s,s:{s:[o]}}", "iss", ISSUER, "iat", (json_int_t) time(NULL),
                                   "exp", (json_int_t) time(NULL) + 3600, "x-ms-attestation-type", "sevsnpvm",
                                   "x-ms-sevsnpvm-is-debuggable", 0, "jti", "bench", "x-ms-runtime", "keys", jwk);
        if (cp_jwt_sign(auth, claims, NULL, &token) < 0)
                die("sign");
        json_t *jdoc = json_pack("{s:[o]}", "keys", ajwk);
        char *jwks_txt = json_dumps(jdoc, 0);
        cp_jwks *jwks = NULL;
        if (cp_jwks_parse(jwks_txt, strlen(jwks_txt), &jwks) < 0)
                die("jwks");

        /* ---- primitives of one release, sequentially ---- */
        uint8_t mat[32];
        RAND_bytes(mat, sizeof(mat));
        cp_jwt_key *signer = NULL;
        if (cp_jwt_key_generate(CP_JWT_RS256, NULL, 0, 2, &signer) < 0)
                die("signer");
        long n = 0;
        double t0 = now_s();
        while (now_s() - t0 < secs) {
                cp_jwt_validate_options vo = CP_JWT_VALIDATE_OPTIONS_INIT;
                vo.jwks = jwks;
                vo.issuer = ISSUER;
                cp_jwt *t = NULL;
                cp_release_policy *p = NULL;
                const json_t *tk;
                cp_wrap_key *wk = NULL;
                uint8_t *w = NULL;
                size_t wl;
                char *hsm = NULL, *out = NULL;
                if (cp_jwt_validate(token, strlen(token), &vo, &t) < 0 ||
                    cp_release_policy_parse(policy_txt, strlen(policy_txt), &p) < 0 ||
                    cp_release_policy_evaluate(p, ISSUER, cp_jwt_claims(t), NULL, 0) < 0 ||
                    cp_release_find_tee_key(cp_jwt_claims(t), &tk) < 0 || cp_wrap_key_from_jwk(tk, &wk) < 0 ||
                    cp_keywrap_wrap(wk, CP_KEYWRAP_CKM_RSA_AES, mat, sizeof(mat), &w, &wl) < 0 ||
                    cp_keyrelease_key_hsm_encode("k", CP_KEYWRAP_CKM_RSA_AES, w, wl, &hsm) < 0)
                        die("primitives");
                json_t *pl = json_pack("{s:{s:s}}", "response", "key_hsm", hsm);
                if (cp_jwt_sign(signer, pl, NULL, &out) < 0)
                        die("jws");
                json_decref(pl);
                free(out);
                free(hsm);
                free(w);
                cp_wrap_key_free(wk);
                cp_release_policy_free(p);
                cp_jwt_free(t);
                n++;
        }
        double prim = (double) n / (now_s() - t0);

        /* ---- the service over HTTP ---- */
        uint8_t mk[32];
        RAND_bytes(mk, sizeof(mk));
        cp_kbsd_config kc = { .db_path = db, .master_key = mk, .quiet = true, .threads = threads, .n_authorities = 1,
                              .n_tokens = 1 };
        kc.authorities[0] = (cp_kbsd_authority){ .issuer = ISSUER, .jwks_json = jwks_txt };
        kc.tokens[0] = (cp_kbsd_token){ .name = "bench", .token = ADMIN, .scope = CP_KBSD_SCOPE_ADMIN };
        cp_kbsd *k = NULL;
        if (cp_kbsd_new(&kc, &k) < 0 || cp_kbsd_start(k) < 0)
                die("kbsd");
        char *pb = malloc(cp_b64_encoded_len(strlen(policy_txt), CP_B64_URL) + 1);
        cp_b64_encode((const uint8_t *) policy_txt, strlen(policy_txt), CP_B64_URL, pb);
        json_t *cb = json_pack("{s:s,s:{s:b},s:{s:s}}", "kty", "oct", "attributes", "exportable", 1, "release_policy",
                               "data", pb);
        char *cbs = json_dumps(cb, 0), url[128];
        snprintf(url, sizeof(url), "http://127.0.0.1:%u/keys/bench/create", (unsigned) cp_kbsd_port(k));
        cp_httpc_options o = { .bearer = ADMIN };
        cp_httpc_response r = { 0 };
        if (cp_httpc_request(&o, "POST", url, NULL, cbs, strlen(cbs), &r) < 0 || r.status != 200)
                die("create");
        cp_httpc_response_clear(&r);
        json_t *rb = json_pack("{s:s}", "target", token);
        char *body = json_dumps(rb, 0);
        pthread_t th[64];
        job jobs[64];
        if (threads > 64)
                threads = 64;
        double h0 = now_s();
        for (unsigned i = 0; i < threads; i++) {
                jobs[i] = (job){ .port = cp_kbsd_port(k), .body = body, .secs = secs };
                pthread_create(&th[i], NULL, client, &jobs[i]);
        }
        long total = 0, errors = 0;
        for (unsigned i = 0; i < threads; i++) {
                pthread_join(th[i], NULL);
                total += jobs[i].n;
                errors += jobs[i].errors;
        }
        double http = (double) total / (now_s() - h0), limit = prim * par;
        printf("release primitives (validate+policy+wrap+sign): %.0f/s on 1 thread\n", prim);
        printf("releases over HTTP: %.0f/s with %u client threads (%ld errors); limit %.0f/s (x%u) -> %.0f%% of the limit\n",
               http, threads, errors, limit, par, 100.0 * http / limit);

        /* ---- disk encryption ---- */
        size_t len = 16u << 20;
        uint8_t *in = malloc(len), *out = malloc(len), key[64], iv[16] = { 0 };
        RAND_bytes(key, sizeof(key));
        RAND_bytes(in, (int) len);
        long reps = 0;
        t0 = now_s();
        while (now_s() - t0 < secs) {
                if (cp_luks2_crypt(key, 0, 512, in, out, len, true) < 0)
                        die("xts");
                reps++;
        }
        double ours = (double) reps * (double) len / (now_s() - t0) / 1e6;
        reps = 0;
        EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
        t0 = now_s();
        while (now_s() - t0 < secs) {
                int ol;
                if (EVP_EncryptInit_ex(c, EVP_aes_256_xts(), NULL, key, iv) != 1 ||
                    EVP_EncryptUpdate(c, out, &ol, in, (int) len) != 1)
                        die("raw xts");
                reps++;
        }
        double raw = (double) reps * (double) len / (now_s() - t0) / 1e6;
        EVP_CIPHER_CTX_free(c);
        printf("LUKS2 sectors (AES-256-XTS, 512-byte plain64): %.0f MB/s; raw OpenSSL AES-256-XTS one call: %.0f MB/s -> %.0f%%\n",
               ours, raw, 100.0 * ours / raw);

        cp_kbsd_free(k);
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        if (system(cmd) != 0)
                fprintf(stderr, "cleanup failed\n");
        return errors ? 1 : 0;
}
