/* SPDX-License-Identifier: Apache-2.0 */
/*
 * confpool-kbsd over HTTP on loopback with real tokens: an emulated AMD-SP
 * host launches a guest whose SNP report binds runtime data holding a TEE
 * RSA key (REPORT_DATA = SHA-256(runtime data)); confpool-attestd verifies
 * it (MAA SevSnpVm request) and issues the token; the broker releases keys
 * to that TEE key.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <pthread.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "basic/limits.h"

#include "attestd/attestd.h"
#include "confpool/azure.h"
#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/secure.h"
#include "confpool/keyrelease.h"
#include "confpool/luks2.h"
#include "controlplane/cp-diskkeys.h"
#include "kbsd/kbsd.h"
#include "raw-http.h"
#include "service/httpc.h"
#include "test-db.h"
#include "tests.h"

#define ADMIN "admin-secret-0123456789"
#define RELEASE "release-secret-0123456789"

static char tmpdir[64];
static int64_t NOW;
static cp_attestd *att, *att2;
static cp_wrap_key *tee;
static char *token, *token_nokey, *token_other_issuer, *token_tee;
/* test-authority tokens of two nodes: their x-ms-sevsnpvm-hostdata differ */
static char *token_node_a, *token_node_b;
static const char *hostdata_override;
#define HD_A "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"
#define HD_B "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2"
static cp_kbsd *kbs;

static void cleanup(void) {
        char cmd[128];
        kbs = cp_kbsd_free(kbs);
        att = cp_attestd_free(att);
        att2 = cp_attestd_free(att2);
        free(token_tee);
        cp_wrap_key_free(tee);
        free(token);
        free(token_nokey);
        free(token_node_a);
        free(token_node_b);
        free(token_other_issuer);
        if (tmpdir[0]) {
                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
                if (system(cmd) != 0)
                        fprintf(stderr, "cleanup failed\n");
        }
}

static char *b64url(const void *p, size_t n) {
        char *s = malloc(cp_b64_encoded_len(n, CP_B64_URL) + 1);
        cp_b64_encode(p, n, CP_B64_URL, s);
        return s;
}

static json_t *http(uint16_t port, const char *method, const char *path, const char *bearer, json_t *body, long *status) {
        char url[512];
        cp_httpc_options o = { .timeout_ms = 20000, .bearer = bearer };
        cp_httpc_response r = { 0 };
        char *b = body ? json_dumps(body, JSON_COMPACT) : NULL;
        snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", (unsigned) port, path);
        ASSERT_OK(cp_httpc_request(&o, method, url, NULL, b, b ? strlen(b) : 0, &r));
        *status = r.status;
        json_t *j = r.body_len ? json_loadb((const char *) r.body, r.body_len, 0, NULL) : json_object();
        cp_httpc_response_clear(&r);
        free(b);
        json_decref(body);
        return j ? j : json_object();
}

/* The status of an admin request without a body (its answer dropped). */
static long admin_status(uint16_t port, const char *method, const char *path) {
        long st;
        json_decref(http(port, method, path, ADMIN, NULL, &st));
        return st;
}

#define TRUSTEE "snp/confidential-containers__trustee/az-snp-vtpm/"
#define TEST_ISSUER "https://test-authority.confpool.invalid"

/* The MAA SevSnpVm request from the real Azure CVM evidence in tests/data. */
static char *attest(cp_attestd *a) {
        size_t hl, vl;
        long st;
        uint8_t *h = cp_test_read(TRUSTEE "evidence-v1.hcl-report.bin", &hl);
        uint8_t *vcek = cp_test_read(TRUSTEE "evidence-v1.vcek.der", &vl);
        cp_hcl_report hcl;
        ASSERT_OK(cp_hcl_report_parse(h, hl, &hcl));
        char *rep = b64url(hcl.hw_report, hcl.hw_report_len), *chain = b64url(vcek, vl);
        json_t *inner = json_pack("{s:s,s:s}", "SnpReport", rep, "VcekCertChain", chain);
        char *is = json_dumps(inner, JSON_COMPACT), *ib = b64url(is, strlen(is));
        char *rt = b64url(hcl.runtime_data, hcl.runtime_data_len);
        json_t *body = json_pack("{s:s,s:{s:s,s:s},s:s}", "report", ib, "runtimeData", "data", rt, "dataType", "JSON",
                                 "nonce", "kbs-test");
        json_t *r = http(cp_attestd_port(a), "POST", "/attest/SevSnpVm?api-version=2022-08-01", NULL, body, &st);
        if (st != 200)
                cp_test_fail(__FILE__, __LINE__, "attest: %ld %s", st, json_dumps(r, 0));
        char *tok = strdup(json_string_value(json_object_get(r, "token")));
        json_decref(r);
        json_decref(inner);
        free(is);
        free(ib);
        free(rt);
        free(rep);
        free(chain);
        free(h);
        free(vcek);
        return tok;
}

/* A token of the test authority: the real token's claims with our TEE key
 * (or a sign-only key) as x-ms-runtime.keys. */
static char *test_token(cp_jwt_key *k, const json_t *real_claims, bool with_encrypt_key) {
        json_t *jwk, *c = json_deep_copy(real_claims);
        ASSERT_OK(cp_wrap_key_to_jwk(tee, &jwk));
        json_object_set_new(jwk, "kid", json_string("TpmEphemeralEncryptionKey"));
        json_object_set_new(jwk, "key_ops", json_pack("[s]", with_encrypt_key ? "encrypt" : "sign"));
        json_object_set_new(c, "x-ms-runtime", json_pack("{s:[o],s:{s:b}}", "keys", jwk, "vm-configuration", "secure-boot", 1));
        json_object_set_new(c, "iss", json_string(TEST_ISSUER));
        if (hostdata_override)
                json_object_set_new(c, "x-ms-sevsnpvm-hostdata", json_string(hostdata_override));
        json_object_set_new(c, "jti", json_string(with_encrypt_key ? "test-jti-1" : "test-jti-2"));
        char *t;
        ASSERT_OK(cp_jwt_sign(k, c, NULL, &t));
        json_decref(c);
        return t;
}

static void setup(void) {
        if (kbs)
                return;
        NOW = INT64_C(1748736000); /* inside the recorded VCEK's validity */
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/cp-kbsd-test-XXXXXX");
        ASSERT_TRUE(mkdtemp(tmpdir) != NULL);
        cp_attestd_config ac = { .now = NOW, .quiet = true, .threads = 2 };
        ASSERT_OK(cp_attestd_new(&ac, &att));
        ASSERT_OK(cp_attestd_start(att));
        ASSERT_OK(cp_attestd_new(&ac, &att2)); /* another service: another issuer and key */
        ASSERT_OK(cp_attestd_start(att2));
        token = attest(att);
        token_other_issuer = attest(att2);

        char *jwks, db[128], audit[128];
        ASSERT_OK(cp_attestd_jwks_json(att, &jwks));
        cp_jwks *set;
        ASSERT_OK(cp_jwks_parse(jwks, strlen(jwks), &set));
        cp_jwt_validate_options vo = CP_JWT_VALIDATE_OPTIONS_INIT;
        vo.jwks = set;
        vo.issuer = cp_attestd_issuer(att);
        vo.now = NOW;
        cp_jwt *real;
        ASSERT_OK(cp_jwt_validate(token, strlen(token), &vo, &real));

        /* the test authority and the TEE key (what the vTPM's TpmEphemeralEncryptionKey is on Azure) */
        cp_jwt_key *tk;
        ASSERT_OK(cp_jwt_key_generate(CP_JWT_RS256, NULL, NOW, 2, &tk));
        ASSERT_OK(cp_wrap_key_generate(2048, &tee));
        token_tee = test_token(tk, cp_jwt_claims(real), true);
        token_nokey = test_token(tk, cp_jwt_claims(real), false);
        hostdata_override = HD_A;
        token_node_a = test_token(tk, cp_jwt_claims(real), true);
        hostdata_override = HD_B;
        token_node_b = test_token(tk, cp_jwt_claims(real), true);
        hostdata_override = NULL;
        json_t *tj;
        ASSERT_OK(cp_jwt_key_to_jwk(tk, &tj));
        json_t *tdoc = json_pack("{s:[o]}", "keys", tj);
        char *tjwks = json_dumps(tdoc, 0);
        json_decref(tdoc);
        cp_jwt_key_free(tk);
        cp_jwt_free(real);
        cp_jwks_free(set);

        uint8_t mk[32];
        ASSERT_EQ(RAND_bytes(mk, 32), 1);
        snprintf(db, sizeof(db), "%s/kbs.db", tmpdir);
        snprintf(audit, sizeof(audit), "%s/audit.jsonl", tmpdir);
        cp_kbsd_config kc = { .db_path = cp_test_db(db), .master_key = mk, .now = NOW, .quiet = true, .threads = 2,
                              .audit_path = audit, .n_authorities = 2, .n_tokens = 2 };
        kc.authorities[0] = (cp_kbsd_authority){ .issuer = cp_attestd_issuer(att), .jwks_json = jwks };
        kc.authorities[1] = (cp_kbsd_authority){ .issuer = TEST_ISSUER, .jwks_json = tjwks };
        kc.tokens[0] = (cp_kbsd_token){ .name = "ops", .token = ADMIN, .scope = CP_KBSD_SCOPE_ADMIN };
        kc.tokens[1] = (cp_kbsd_token){ .name = "node-agent", .token = RELEASE, .scope = CP_KBSD_SCOPE_RELEASE };
        ASSERT_OK(cp_kbsd_new(&kc, &kbs));
        ASSERT_OK(cp_kbsd_start(kbs));
        free(jwks);
        free(tjwks);
        /* registered after OpenSSL's own exit handler, so it runs first: the
         * servers' threads end while OpenSSL can still free their state */
        atexit(cleanup);
}

static char *policy_b64(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *policy_b64(const char *fmt, ...) {
        char buf[2048];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        return b64url(buf, strlen(buf));
}

/* A policy with one condition for the attestation service's issuer. */
static char *one_condition(const char *cond) {
        return policy_b64("{\"version\":\"1.0.0\",\"anyOf\":[{\"authority\":\"%s\",\"allOf\":[%s]}]}",
                          cp_attestd_issuer(att), cond);
}

static char *tee_condition(const char *cond) {
        return policy_b64("{\"version\":\"1.0.0\",\"anyOf\":[{\"authority\":\"%s\",\"allOf\":[%s]}]}", TEST_ISSUER,
                          cond);
}

static void create_key(const char *name, const char *kty, bool exportable, char *policy) {
        long st;
        json_t *body = json_pack("{s:s,s:{s:b}}", "kty", kty, "attributes", "exportable", exportable);
        if (policy)
                json_object_set_new(body, "release_policy", json_pack("{s:s,s:b}", "data", policy, "immutable", 1));
        char path[256];
        snprintf(path, sizeof(path), "/keys/%s/create", name);
        json_t *r = http(cp_kbsd_port(kbs), "POST", path, ADMIN, body, &st);
        if (st != 200)
                cp_test_fail(__FILE__, __LINE__, "create %s: %ld %s", name, st, json_dumps(r, 0));
        json_decref(r);
        free(policy);
}

/* Release; returns the HTTP status and the response (error message or JWS). */
static long release(const char *name, const char *tok, const char *enc, json_t **ret) {
        long st;
        char path[256];
        snprintf(path, sizeof(path), "/keys/%s/release", name);
        json_t *body = json_pack("{s:s}", "target", tok);
        if (enc)
                json_object_set_new(body, "enc", json_string(enc));
        *ret = http(cp_kbsd_port(kbs), "POST", path, RELEASE, body, &st);
        return st;
}

static const char *err_msg(const json_t *r) {
        const char *m = json_string_value(json_object_get(json_object_get(r, "error"), "message"));
        return m ? m : "";
}

static void expect_denied(const char *name, const char *tok, long status, const char *needle) {
        json_t *r;
        long st = release(name, tok, NULL, &r);
        if (st != status || !strstr(err_msg(r), needle))
                cp_test_fail(__FILE__, __LINE__, "%s: expected %ld with \"%s\", got %ld %s", name, status, needle, st,
                             json_dumps(r, 0));
        json_decref(r);
}

/* Verify the response JWS with the broker's /certs and unwrap key_hsm. */
static void unwrap_release(json_t *r, cp_keywrap_alg want_alg, uint8_t **ret, size_t *ret_len, json_t **ret_payload) {
        long st;
        json_t *certs = http(cp_kbsd_port(kbs), "GET", "/certs", NULL, NULL, &st);
        ASSERT_EQ(st, 200);
        char *cj = json_dumps(certs, 0);
        cp_jwks *set = NULL;
        ASSERT_OK(cp_jwks_parse(cj, strlen(cj), &set));
        const char *jws = json_string_value(json_object_get(r, "value"));
        ASSERT_TRUE(jws != NULL);
        uint8_t *pl;
        size_t pll;
        ASSERT_OK(cp_jws_verify(jws, strlen(jws), set, CP_JWT_RS256, &pl, &pll));
        json_t *p = json_loadb((const char *) pl, pll, 0, NULL);
        ASSERT_TRUE(p != NULL);
        const json_t *key = json_object_get(json_object_get(json_object_get(p, "response"), "key"), "key");
        const char *hsm = json_string_value(json_object_get(key, "key_hsm"));
        ASSERT_TRUE(hsm != NULL);
        ASSERT_STREQ(json_string_value(json_object_get(json_object_get(p, "request"), "enc")), cp_keywrap_alg_name(want_alg));
        cp_keywrap_alg alg;
        uint8_t *w;
        size_t wl;
        ASSERT_OK(cp_keyrelease_key_hsm_decode(hsm, strlen(hsm), &alg, &w, &wl));
        ASSERT_EQ(alg, want_alg);
        ASSERT_OK(cp_keywrap_unwrap(tee, alg, w, wl, ret, ret_len));
        *ret_payload = p;
        free(w);
        free(pl);
        free(cj);
        cp_jwks_free(set);
        json_decref(certs);
}

/* Release name (wrapped with RSA_AES_KEY_WRAP_256 to the TEE key of token)
 * and check that the key that comes back is want, private part priv_param
 * included. */
static void assert_release_returns(const char *name, const char *tok, EVP_PKEY *want, const char *priv_param) {
        json_t *r = NULL, *p;
        uint8_t *der;
        size_t dl;
        ASSERT_EQ(release(name, tok, "RSA_AES_KEY_WRAP_256", &r), 200);
        unwrap_release(r, CP_KEYWRAP_RSA_AES_256, &der, &dl, &p);
        const uint8_t *dp = der;
        EVP_PKEY *back = d2i_AutoPrivateKey(NULL, &dp, (long) dl);
        ASSERT_TRUE(back != NULL);
        ASSERT_EQ(EVP_PKEY_eq(back, want), 1);
        BIGNUM *d1 = NULL, *d2 = NULL;
        ASSERT_EQ(EVP_PKEY_get_bn_param(back, priv_param, &d1), 1);
        ASSERT_EQ(EVP_PKEY_get_bn_param(want, priv_param, &d2), 1);
        ASSERT_EQ(BN_cmp(d1, d2), 0);
        BN_clear_free(d1);
        BN_clear_free(d2);
        EVP_PKEY_free(back);
        cp_wipe(der, dl);
        free(der);
        json_decref(p);
        json_decref(r);
}

TEST(release_matrix_per_policy_operator) {
        setup();
        if (getenv("KBS_TEST_DUMP")) {
                char *p1 = strchr(token, '.') + 1;
                printf("%.*s\n", (int) (strchr(p1, '.') - p1), p1);
        }
        struct {
                const char *cond;
                bool allowed;
        } cases[] = {
                { "{\"claim\":\"x-ms-attestation-type\",\"equals\":\"sevsnpvm\"}", true },
                { "{\"claim\":\"x-ms-attestation-type\",\"equals\":\"tdxvm\"}", false },
                { "{\"claim\":\"x-ms-sevsnpvm-is-debuggable\",\"equals\":false}", true },
                { "{\"claim\":\"x-ms-sevsnpvm-is-debuggable\",\"equals\":true}", false },
                { "{\"claim\":\"x-ms-sevsnpvm-guestsvn\",\"notEquals\":9}", true },
                { "{\"claim\":\"x-ms-sevsnpvm-guestsvn\",\"notEquals\":10}", false },
                { "{\"claim\":\"x-ms-sevsnpvm-guestsvn\",\"less\":11}", true },
                { "{\"claim\":\"x-ms-sevsnpvm-guestsvn\",\"less\":10}", false },
                { "{\"claim\":\"x-ms-sevsnpvm-guestsvn\",\"lessOrEquals\":10}", true },
                { "{\"claim\":\"x-ms-sevsnpvm-guestsvn\",\"lessOrEquals\":9}", false },
                { "{\"claim\":\"x-ms-sevsnpvm-snpfw-svn\",\"greater\":23}", true },
                { "{\"claim\":\"x-ms-sevsnpvm-snpfw-svn\",\"greater\":24}", false },
                { "{\"claim\":\"x-ms-sevsnpvm-snpfw-svn\",\"greaterOrEquals\":24}", true },
                { "{\"claim\":\"x-ms-sevsnpvm-snpfw-svn\",\"greaterOrEquals\":25}", false },
                { "{\"claim\":\"x-ms-runtime.vm-configuration.secure-boot\",\"exists\":true}", true },
                { "{\"claim\":\"x-ms-runtime.vm-configuration.secure-boot\",\"exists\":false}", false },
                { "{\"claim\":\"x-ms-no-such-claim\",\"exists\":false}", true },
                { "{\"claim\":\"x-ms-no-such-claim\",\"equals\":\"x\"}", false },
                { "{\"anyOf\":[{\"claim\":\"x-ms-attestation-type\",\"equals\":\"tdxvm\"},"
                  "{\"claim\":\"x-ms-compliance-status\",\"equals\":\"azure-compliant-cvm\"}]}", true },
                { "{\"allOf\":[{\"claim\":\"x-ms-attestation-type\",\"equals\":\"sevsnpvm\"},"
                  "{\"claim\":\"x-ms-sevsnpvm-vmpl\",\"greater\":0}]}", false },
        };
        for (size_t i = 0; i < CP_ELEMENTSOF(cases); i++) {
                char name[32];
                snprintf(name, sizeof(name), "op-%zu", i);
                create_key(name, "oct", true, one_condition(cases[i].cond));
                json_t *r;
                long st = release(name, token, NULL, &r);
                if (cases[i].allowed && st != 200)
                        cp_test_fail(__FILE__, __LINE__, "case %zu %s: %ld %s", i, cases[i].cond, st, json_dumps(r, 0));
                if (!cases[i].allowed && (st != 403 || !strstr(err_msg(r), "not satisfied")))
                        cp_test_fail(__FILE__, __LINE__, "case %zu %s: %ld %s", i, cases[i].cond, st, json_dumps(r, 0));
                json_decref(r);
        }
        /* a policy for another authority only */
        create_key("other-auth", "oct", true,
                   policy_b64("{\"version\":\"1.0.0\",\"anyOf\":[{\"authority\":\"https://sharedweu.weu.attest.azure.net/\","
                              "\"allOf\":[{\"claim\":\"x-ms-attestation-type\",\"equals\":\"sevsnpvm\"}]}]}"));
        expect_denied("other-auth", token, 403, "no authority");
}

TEST(release_refusals_with_clear_errors) {
        setup();
        create_key("good", "oct", true, one_condition("{\"claim\":\"x-ms-attestation-type\",\"equals\":\"sevsnpvm\"}"));
        create_key("sealed", "oct", false, NULL);
        /* non-exportable */
        expect_denied("sealed", token, 403, "not exportable");
        /* missing runtime key (only a signing key in x-ms-runtime.keys) */
        create_key("good-tee", "oct", true, tee_condition("{\"claim\":\"x-ms-attestation-type\",\"equals\":\"sevsnpvm\"}"));
        expect_denied("good-tee", token_nokey, 400, "no RSA key with key_ops");
        json_t *ok;
        ASSERT_EQ(release("good-tee", token_tee, NULL, &ok), 200);
        json_decref(ok);
        /* wrong issuer */
        expect_denied("good", token_other_issuer, 403, "not a trusted attestation authority");
        /* forged: signature changed */
        char *forged = strdup(token);
        char *d2 = strrchr(forged, '.');
        d2[10] = d2[10] == 'A' ? 'B' : 'A';
        expect_denied("good", forged, 403, "CP_ESIG");
        free(forged);
        /* forged: signed by a key the authority never published, same issuer */
        cp_jwt_key *k;
        ASSERT_OK(cp_jwt_key_generate(CP_JWT_RS256, NULL, NOW, 1, &k));
        json_t *claims = json_pack("{s:s,s:I,s:I,s:s}", "iss", cp_attestd_issuer(att), "exp", (json_int_t) NOW + 600,
                                   "iat", (json_int_t) NOW, "x-ms-attestation-type", "sevsnpvm");
        char *self;
        ASSERT_OK(cp_jwt_sign(k, claims, NULL, &self));
        expect_denied("good", self, 403, "CP_ENOTFOUND");
        free(self);
        json_decref(claims);
        cp_jwt_key_free(k);
        /* expired (attestd tokens live 8 h) */
        cp_kbsd_set_now(kbs, NOW + 9 * 3600);
        expect_denied("good", token, 403, "CP_EEXPIRED");
        cp_kbsd_set_now(kbs, NOW);
        /* not JWS at all */
        expect_denied("good", "garbage", 400, "compact JWS");
        /* bad enc, unknown key, wrong scope, no token */
        json_t *r;
        ASSERT_EQ(release("good", token, "RSA_OAEP", &r), 400);
        json_decref(r);
        ASSERT_EQ(release("missing", token, NULL, &r), 404);
        json_decref(r);
        long st;
        r = http(cp_kbsd_port(kbs), "POST", "/keys/x/create", RELEASE, json_pack("{s:s}", "kty", "oct"), &st);
        ASSERT_EQ(st, 403);
        json_decref(r);
        r = http(cp_kbsd_port(kbs), "GET", "/keys", NULL, NULL, &st);
        ASSERT_EQ(st, 401);
        json_decref(r);
        r = http(cp_kbsd_port(kbs), "GET", "/keys", "admin-secret-0123456780", NULL, &st);
        ASSERT_EQ(st, 401);
        json_decref(r);
        /* an exportable key without a policy, and a malformed policy, are refused at creation */
        r = http(cp_kbsd_port(kbs), "POST", "/keys/np/create", ADMIN,
                 json_pack("{s:s,s:{s:b}}", "kty", "oct", "attributes", "exportable", 1), &st);
        ASSERT_EQ(st, 400);
        json_decref(r);
        char *bad = policy_b64("{\"version\":\"2.0.0\",\"anyOf\":[]}");
        r = http(cp_kbsd_port(kbs), "POST", "/keys/bp/create", ADMIN,
                 json_pack("{s:s,s:{s:b},s:{s:s}}", "kty", "oct", "attributes", "exportable", 1, "release_policy", "data", bad),
                 &st);
        ASSERT_EQ(st, 400);
        ASSERT_TRUE(strstr(err_msg(r), "1.0.0") != NULL);
        json_decref(r);
        free(bad);
        /* every decision is in the append-only audit log */
        long denied = 0, allowed = 0;
        ASSERT_OK(cp_kbsd_audit_count(kbs, "denied", &denied));
        ASSERT_OK(cp_kbsd_audit_count(kbs, "allowed", &allowed));
        ASSERT_TRUE(denied >= 7);
        char db[128];
        snprintf(db, sizeof(db), "%s/kbs.db", tmpdir);
        cp_store *h = NULL;
        ASSERT_OK(cp_store_open(cp_test_db(db), NULL, 0, &h));
        ASSERT_ERR(cp_store_exec(h, "UPDATE audit SET decision = 'allowed'"), CP_ESTORAGE);
        ASSERT_TRUE(strstr(cp_error_message(), "append-only") != NULL);
        ASSERT_ERR(cp_store_exec(h, "DELETE FROM audit"), CP_ESTORAGE);
        if (cp_store_dialect_of(h) == CP_STORE_PG)
                ASSERT_ERR(cp_store_exec(h, "TRUNCATE audit"), CP_ESTORAGE);
        cp_store_close(h);
        long denied2 = 0;
        ASSERT_OK(cp_kbsd_audit_count(kbs, "denied", &denied2));
        ASSERT_EQ(denied2, denied);
        (void) allowed;
}

static json_t *import_key(const char *name, json_t *jwk) {
        long st;
        char path[128];
        snprintf(path, sizeof(path), "/keys/%s", name);
        char *pol = tee_condition("{\"claim\":\"x-ms-attestation-type\",\"equals\":\"sevsnpvm\"}");
        json_t *body = json_pack("{s:o,s:{s:b},s:{s:s},s:{s:s}}", "key", jwk, "attributes", "exportable", 1, "tags",
                                 "owner", "test", "release_policy", "data", pol);
        free(pol);
        char *pd = strdup(json_string_value(json_object_get(json_object_get(body, "release_policy"), "data")));
        json_t *r = http(cp_kbsd_port(kbs), "PUT", path, ADMIN, body, &st);
        if (st != 200)
                cp_test_fail(__FILE__, __LINE__, "import: %ld %s", st, json_dumps(r, 0));
        free(pd);
        return r;
}

TEST(released_keys_unwrap_to_the_original_bytes) {
        setup();
        /* BYOK oct: the released bytes are the imported bytes, for each wrapping */
        uint8_t k[32];
        ASSERT_EQ(RAND_bytes(k, 32), 1);
        char *kb = b64url(k, 32);
        json_t *r = import_key("byok-oct", json_pack("{s:s,s:s}", "kty", "oct", "k", kb));
        ASSERT_STREQ(json_string_value(json_object_get(json_object_get(r, "tags"), "owner")), "test");
        ASSERT_TRUE(json_object_get(json_object_get(r, "key"), "k") == NULL); /* public part only */
        json_decref(r);
        free(kb);
        const cp_keywrap_alg algs[] = { CP_KEYWRAP_CKM_RSA_AES, CP_KEYWRAP_RSA_AES_256, CP_KEYWRAP_RSA_AES_384 };
        for (size_t i = 0; i < 3; i++) {
                ASSERT_EQ(release("byok-oct", token_tee, cp_keywrap_alg_name(algs[i]), &r), 200);
                uint8_t *out;
                size_t ol;
                json_t *p;
                unwrap_release(r, algs[i], &out, &ol, &p);
                ASSERT_EQ(ol, 32);
                ASSERT_MEMEQ(out, k, 32);
                ASSERT_TRUE(json_is_true(json_object_get(
                        json_object_get(json_object_get(json_object_get(p, "response"), "key"), "attributes"), "exportable")));
                cp_wipe(out, ol);
                free(out);
                json_decref(p);
                json_decref(r);
        }
        /* BYOK RSA: the released PKCS#8 is the imported private key */
        EVP_PKEY *rsa = EVP_RSA_gen(2048);
        const char *names[8] = { "n", "e", "d", "rsa-factor1", "rsa-factor2", "rsa-exponent1", "rsa-exponent2",
                                 "rsa-coefficient1" };
        const char *jn[8] = { "n", "e", "d", "p", "q", "dp", "dq", "qi" };
        json_t *jwk = json_pack("{s:s}", "kty", "RSA");
        for (int i = 0; i < 8; i++) {
                BIGNUM *bn = NULL;
                ASSERT_EQ(EVP_PKEY_get_bn_param(rsa, names[i], &bn), 1);
                uint8_t buf[512];
                int n = BN_bn2bin(bn, buf);
                char *s = b64url(buf, (size_t) n);
                json_object_set_new(jwk, jn[i], json_string(s));
                free(s);
                BN_free(bn);
        }
        r = import_key("byok-rsa", jwk);
        json_decref(r);
        assert_release_returns("byok-rsa", token_tee, rsa, "d");
        EVP_PKEY_free(rsa);
        /* generated EC key: released private key matches the published public key */
        create_key("gen-ec", "EC", true, tee_condition("{\"claim\":\"x-ms-attestation-type\",\"equals\":\"sevsnpvm\"}"));
        ASSERT_EQ(release("gen-ec", token_tee, NULL, &r), 200);
        uint8_t *der;
        size_t dl;
        json_t *p;
        unwrap_release(r, CP_KEYWRAP_CKM_RSA_AES, &der, &dl, &p);
        const uint8_t *dp = der;
        EVP_PKEY *back = d2i_AutoPrivateKey(NULL, &dp, (long) dl);
        ASSERT_TRUE(back != NULL);
        ASSERT_EQ(EVP_PKEY_get_bits(back), 256);
        const json_t *pk = json_object_get(json_object_get(json_object_get(p, "response"), "key"), "key");
        ASSERT_STREQ(json_string_value(json_object_get(pk, "kty")), "EC-HSM");
        BIGNUM *x = NULL;
        ASSERT_EQ(EVP_PKEY_get_bn_param(back, "qx", &x), 1);
        uint8_t xb[32];
        BN_bn2binpad(x, xb, 32);
        char *xs = b64url(xb, 32);
        ASSERT_STREQ(json_string_value(json_object_get(pk, "x")), xs);
        free(xs);
        BN_free(x);
        EVP_PKEY_free(back);
        free(der);
        json_decref(p);
        json_decref(r);
}

TEST(lifecycle_versions_rotate_delete_recover_purge) {
        setup();
        long st;
        const uint16_t port = cp_kbsd_port(kbs);
        create_key("life", "RSA", false, NULL);
        json_t *r = http(port, "POST", "/keys/life/rotate", ADMIN, NULL, &st);
        ASSERT_EQ(st, 200);
        json_decref(r);
        r = http(port, "GET", "/keys/life/versions", ADMIN, NULL, &st);
        ASSERT_EQ(st, 200);
        ASSERT_EQ(json_array_size(json_object_get(r, "value")), 2);
        json_decref(r);
        r = http(port, "GET", "/keys/life", RELEASE, NULL, &st);
        ASSERT_EQ(st, 403); /* release scope cannot read */
        json_decref(r);
        r = http(port, "GET", "/keys/life", ADMIN, NULL, &st);
        ASSERT_EQ(st, 200);
        ASSERT_TRUE(json_object_get(json_object_get(r, "key"), "n") != NULL);
        ASSERT_TRUE(json_object_get(json_object_get(r, "key"), "d") == NULL);
        json_decref(r);
        r = http(port, "DELETE", "/keys/life", ADMIN, NULL, &st);
        ASSERT_EQ(st, 200);
        ASSERT_TRUE(json_integer_value(json_object_get(r, "scheduledPurgeDate")) == NOW + 90 * 86400);
        json_decref(r);
        r = http(port, "GET", "/keys/life", ADMIN, NULL, &st);
        ASSERT_EQ(st, 404);
        json_decref(r);
        r = http(port, "POST", "/keys/life/create", ADMIN, json_pack("{s:s}", "kty", "oct"), &st);
        ASSERT_EQ(st, 409); /* name held by the deleted key */
        json_decref(r);
        r = http(port, "POST", "/deletedkeys/life/recover", ADMIN, NULL, &st);
        ASSERT_EQ(st, 200);
        json_decref(r);
        r = http(port, "DELETE", "/keys/life", ADMIN, NULL, &st);
        json_decref(r);
        r = http(port, "DELETE", "/deletedkeys/life", ADMIN, NULL, &st);
        ASSERT_EQ(st, 204);
        json_decref(r);
        r = http(port, "GET", "/deletedkeys/life", ADMIN, NULL, &st);
        ASSERT_EQ(st, 404);
        json_decref(r);
        r = http(port, "GET", "/keys", ADMIN, NULL, &st);
        ASSERT_EQ(st, 200);
        ASSERT_TRUE(json_array_size(json_object_get(r, "value")) >= 1);
        json_decref(r);
        /* sizes and curves */
        r = http(port, "POST", "/keys/r3/create", ADMIN, json_pack("{s:s,s:i}", "kty", "RSA", "key_size", 3072), &st);
        ASSERT_EQ(st, 200);
        json_decref(r);
        r = http(port, "POST", "/keys/e3/create", ADMIN, json_pack("{s:s,s:s}", "kty", "EC", "crv", "P-384"), &st);
        ASSERT_EQ(st, 200);
        json_decref(r);
        r = http(port, "POST", "/keys/bad/create", ADMIN, json_pack("{s:s,s:i}", "kty", "RSA", "key_size", 1024), &st);
        ASSERT_EQ(st, 400);
        json_decref(r);
}

static void release_disk(const char *id, uint8_t out[32], long want) {
        long st;
        char path[128];
        snprintf(path, sizeof(path), "/disks/%s/release", id);
        json_t *r = http(cp_kbsd_port(kbs), "POST", path, RELEASE, json_pack("{s:s}", "target", token_tee), &st);
        if (st != want)
                cp_test_fail(__FILE__, __LINE__, "disk release %s: %ld %s", id, st, json_dumps(r, 0));
        if (st == 200) {
                uint8_t *k;
                size_t kl;
                json_t *p;
                unwrap_release(r, CP_KEYWRAP_CKM_RSA_AES, &k, &kl, &p);
                ASSERT_EQ(kl, 32);
                memcpy(out, k, 32);
                free(k);
                json_decref(p);
        }
        json_decref(r);
}

TEST(disk_keys_platform_and_customer_with_crypto_erase) {
        setup();
        long st;
        const uint16_t port = cp_kbsd_port(kbs);
        const char *cond = "{\"claim\":\"x-ms-compliance-status\",\"equals\":\"azure-compliant-cvm\"}";
        create_key("pool-a", "oct", true, tee_condition(cond));
        create_key("customer-k", "RSA", true, tee_condition(cond));
        json_t *r = http(port, "POST", "/disks/d1/create", ADMIN, json_pack("{s:s,s:s}", "mode", "platform", "key", "pool-a"), &st);
        ASSERT_EQ(st, 200);
        json_decref(r);
        r = http(port, "POST", "/disks/d2/create", ADMIN, json_pack("{s:s,s:s}", "mode", "platform", "key", "pool-a"), &st);
        json_decref(r);
        r = http(port, "POST", "/disks/d3/create", ADMIN, json_pack("{s:s,s:s}", "mode", "customer", "key", "customer-k"), &st);
        ASSERT_EQ(st, 200);
        json_decref(r);
        r = http(port, "POST", "/disks/d4/create", ADMIN, json_pack("{s:s,s:s}", "mode", "customer", "key", "pool-a"), &st);
        ASSERT_EQ(st, 400);
        json_decref(r);
        uint8_t a1[32], a2[32], b[32], c1[32], c2[32];
        release_disk("d1", a1, 200);
        release_disk("d1", a2, 200);
        ASSERT_MEMEQ(a1, a2, 32); /* derived: stable */
        release_disk("d2", b, 200);
        ASSERT_TRUE(memcmp(a1, b, 32) != 0);
        release_disk("d3", c1, 200);
        release_disk("d3", c2, 200);
        ASSERT_MEMEQ(c1, c2, 32);
        /* the released disk key opens a LUKS2 image made with it */
        char plain[128], enc[128];
        snprintf(plain, sizeof(plain), "%s/os.raw", tmpdir);
        snprintf(enc, sizeof(enc), "%s/os.luks", tmpdir);
        FILE *f = fopen(plain, "wb");
        for (int i = 0; i < 4096; i++)
                fputc(i & 0xff, f);
        fclose(f);
        cp_luks2_format_options o = CP_LUKS2_FORMAT_OPTIONS_INIT;
        o.iterations = 1000;
        o.data_offset = 1 << 20;
        ASSERT_OK(cp_luks2_encrypt_image(plain, enc, &o, c1, 32, NULL));
        cp_luks2_volume *v = NULL;
        ASSERT_OK(cp_luks2_volume_open(enc, c2, 32, false, &v));
        cp_luks2_volume_close(v);
        /* crypto-erase */
        r = http(port, "DELETE", "/disks/d3", ADMIN, NULL, &st);
        ASSERT_EQ(st, 204);
        json_decref(r);
        release_disk("d3", c1, 404);
        r = http(port, "DELETE", "/disks/d1", ADMIN, NULL, &st);
        json_decref(r);
        release_disk("d1", a1, 404);
}

/* A disk released with token: the status, and the refusal's message in msg. */
static long disk_release_with(const char *id, const char *tok, char *msg, size_t size) {
        long st;
        char path[128];
        snprintf(path, sizeof(path), "/disks/%s/release", id);
        json_t *r = http(cp_kbsd_port(kbs), "POST", path, RELEASE, json_pack("{s:s}", "target", tok), &st);
        const char *m = json_string_value(json_object_get(json_object_get(r, "error"), "message"));
        snprintf(msg, size, "%s", m ? m : "");
        json_decref(r);
        return st;
}

/* Issue 13 item 8: a pool master key's policy is shared by all of the pool's
 * disks (and other pools' masters accept the same image), so a node's disk
 * carries its own policy naming the node's HOST_DATA: only that node's
 * token releases it. */
TEST(disk_policy_binds_the_disk_to_one_node) {
        setup();
        long st;
        char msg[512];
        const uint16_t port = cp_kbsd_port(kbs);
        create_key("pool-bound", "oct", true, tee_condition("{\"claim\":\"x-ms-attestation-type\",\"equals\":\"sevsnpvm\"}"));
        char *bind = tee_condition("{\"claim\":\"x-ms-sevsnpvm-hostdata\",\"equals\":\"" HD_B "\"}");
        json_t *r = http(port, "POST", "/disks/node-b-disk/create", ADMIN,
                         json_pack("{s:s,s:s,s:{s:s}}", "mode", "platform", "key", "pool-bound", "release_policy", "data",
                                   bind),
                         &st);
        ASSERT_EQ(st, 200);
        ASSERT_TRUE(json_is_true(json_object_get(r, "bound")));
        json_decref(r);
        free(bind);
        r = http(port, "POST", "/disks/node-a-unbound/create", ADMIN,
                 json_pack("{s:s,s:s}", "mode", "platform", "key", "pool-bound"), &st);
        ASSERT_EQ(st, 200);
        json_decref(r);
        /* node A's genuine token satisfies the master key's policy, not B's disk's */
        ASSERT_EQ(disk_release_with("node-b-disk", token_node_a, msg, sizeof msg), 403);
        if (!strstr(msg, "x-ms-sevsnpvm-hostdata") || !strstr(msg, "bound to one node"))
                cp_test_fail(__FILE__, __LINE__, "refusal does not name the claim: '%s'", msg);
        ASSERT_EQ(disk_release_with("node-b-disk", token_node_b, msg, sizeof msg), 200);
        /* what let A take B's key before: a disk without its own policy */
        ASSERT_EQ(disk_release_with("node-a-unbound", token_node_b, msg, sizeof msg), 200);
        /* a malformed disk policy is refused at creation, naming the member */
        r = http(port, "POST", "/disks/node-c-disk/create", ADMIN,
                 json_pack("{s:s,s:s,s:{s:s}}", "mode", "platform", "key", "pool-bound", "release_policy", "data",
                           "e30"),
                 &st);
        ASSERT_EQ(st, 400);
        json_decref(r);
        r = http(port, "POST", "/disks/node-c-disk/create", ADMIN,
                 json_pack("{s:s,s:s,s:{}}", "mode", "platform", "key", "pool-bound", "release_policy"), &st);
        ASSERT_EQ(st, 400);
        char *txt = json_dumps(r, 0);
        ASSERT_TRUE(txt && strstr(txt, "release_policy.data") != NULL);
        free(txt);
        json_decref(r);
}

TEST(master_key_rotation_keeps_serving) {
        setup();
        create_key("mk-test", "oct", true, one_condition("{\"claim\":\"x-ms-attestation-type\",\"equals\":\"sevsnpvm\"}"));
        json_t *r;
        ASSERT_EQ(release("mk-test", token, NULL, &r), 200);
        json_decref(r);
        uint8_t nk[32];
        ASSERT_EQ(RAND_bytes(nk, 32), 1);
        ASSERT_OK(cp_kbsd_rotate_master_key(kbs, nk));
        ASSERT_EQ(release("mk-test", token, NULL, &r), 200);
        json_decref(r);
        /* a second service on the same database with a wrong master key refuses to start */
        char db[128];
        snprintf(db, sizeof(db), "%s/kbs.db", tmpdir);
        uint8_t wrong[32] = { 0 };
        cp_kbsd_config kc = { .db_path = cp_test_db(db), .master_key = wrong, .quiet = true };
        cp_kbsd *k2 = NULL;
        ASSERT_ERR(cp_kbsd_new(&kc, &k2), CP_ESIG);
        kc.master_key = nk;
        ASSERT_OK(cp_kbsd_new(&kc, &k2));
        cp_kbsd_free(k2);
}

/* The offline rotation (`confpool-kbsd rotate-master-key`) run while a
 * replica is still up: the replica's next key would be sealed under the old
 * master key and never open again.  It is refused (503, fenced, with the
 * reason), and nothing is written; the database opens under the new key. */
TEST(rotation_under_a_running_replica_loses_no_key) {
        setup();
        char db[128];
        long st;
        snprintf(db, sizeof(db), "%s/rot.db", tmpdir);
        uint8_t k1[32], k2[32];
        ASSERT_EQ(RAND_bytes(k1, 32), 1);
        ASSERT_EQ(RAND_bytes(k2, 32), 1);
        cp_kbsd_config kc = {.db_path = cp_test_db(db), .master_key = k1, .quiet = true, .threads = 2, .n_tokens = 1};
        kc.tokens[0] = (cp_kbsd_token){.name = "ops", .token = ADMIN, .scope = CP_KBSD_SCOPE_ADMIN};
        cp_kbsd *rep = NULL;
        ASSERT_OK(cp_kbsd_new(&kc, &rep));
        ASSERT_OK(cp_kbsd_start(rep));
        json_t *r = http(cp_kbsd_port(rep), "POST", "/keys/before/create", ADMIN, json_pack("{s:s}", "kty", "oct"), &st);
        ASSERT_EQ(st, 200);
        json_decref(r);
        ASSERT_OK(cp_kbsd_rekey_db(cp_test_db(db), k1, k2));
        r = http(cp_kbsd_port(rep), "POST", "/keys/after/create", ADMIN, json_pack("{s:s}", "kty", "oct"), &st);
        ASSERT_EQ(st, 503);
        const char *m = json_string_value(json_object_get(json_object_get(r, "error"), "message"));
        if (!m || !strstr(m, "restart it with the new master key"))
                cp_test_fail(__FILE__, __LINE__, "message: %s", m ? m : "(none)");
        json_decref(r);
        rep = cp_kbsd_free(rep);
        /* under the new key: the key of before opens (its release needs a
         * token; GET shows it), the refused one was not written */
        kc.master_key = k2;
        ASSERT_OK(cp_kbsd_new(&kc, &rep));
        ASSERT_OK(cp_kbsd_start(rep));
        r = http(cp_kbsd_port(rep), "GET", "/keys/before", ADMIN, NULL, &st);
        ASSERT_EQ(st, 200);
        json_decref(r);
        r = http(cp_kbsd_port(rep), "GET", "/keys/after", ADMIN, NULL, &st);
        ASSERT_EQ(st, 404);
        json_decref(r);
        r = http(cp_kbsd_port(rep), "POST", "/keys/after/create", ADMIN, json_pack("{s:s}", "kty", "oct"), &st);
        ASSERT_EQ(st, 200);
        json_decref(r);
        cp_kbsd_free(rep);
        cp_wipe(k1, sizeof k1);
        cp_wipe(k2, sizeof k2);
}

/* base64url of a key parameter, left-padded to pad bytes (0: its own length). */
static char *bn_b64(EVP_PKEY *p, const char *param, size_t pad) {
        BIGNUM *bn = NULL;
        uint8_t buf[64];
        ASSERT_EQ(EVP_PKEY_get_bn_param(p, param, &bn), 1);
        size_t n = pad ? pad : (size_t) BN_num_bytes(bn);
        ASSERT_TRUE(BN_bn2binpad(bn, buf, (int) n) == (int) n);
        BN_clear_free(bn);
        return b64url(buf, n);
}

static json_t *ec_jwk(EVP_PKEY *p, const char *crv, size_t c, EVP_PKEY *d_from) {
        char *x = bn_b64(p, "qx", c), *y = bn_b64(p, "qy", c), *d = bn_b64(d_from, "priv", 0);
        json_t *jwk = json_pack("{s:s,s:s,s:s,s:s,s:s}", "kty", "EC", "crv", crv, "x", x, "y", y, "d", d);
        free(x);
        free(y);
        free(d);
        return jwk;
}

/* BYOK EC (P-256, P-384): the released PKCS#8 is the imported key.  The
 * import once read the public point from a buffer whose block had ended
 * (ASan: stack-use-after-scope). */
TEST(byok_ec_import_releases_the_same_key) {
        setup();
        static const struct {
                const char *crv, *name;
                size_t c;
        } curves[] = { { "P-256", "byok-ec-256", 32 }, { "P-384", "byok-ec-384", 48 } };
        for (size_t i = 0; i < CP_ELEMENTSOF(curves); i++) {
                EVP_PKEY *ec = EVP_EC_gen(curves[i].crv);
                ASSERT_TRUE(ec != NULL);
                json_t *r = import_key(curves[i].name, ec_jwk(ec, curves[i].crv, curves[i].c, ec));
                const json_t *pub = json_object_get(r, "key");
                ASSERT_STREQ(json_string_value(json_object_get(pub, "kty")), "EC-HSM");
                ASSERT_STREQ(json_string_value(json_object_get(pub, "crv")), curves[i].crv);
                ASSERT_TRUE(json_object_get(pub, "d") == NULL);
                json_decref(r);
                assert_release_returns(curves[i].name, token_tee, ec, "priv");
                EVP_PKEY_free(ec);
        }
        /* a private scalar that is not the public point's is refused */
        EVP_PKEY *a = EVP_EC_gen("P-256"), *b = EVP_EC_gen("P-256");
        char *pol = tee_condition("{\"claim\":\"x-ms-attestation-type\",\"equals\":\"sevsnpvm\"}");
        long st;
        json_t *r = http(cp_kbsd_port(kbs), "PUT", "/keys/byok-ec-bad", ADMIN,
                         json_pack("{s:o,s:{s:b},s:{s:s}}", "key", ec_jwk(a, "P-256", 32, b), "attributes", "exportable",
                                   1, "release_policy", "data", pol),
                         &st);
        ASSERT_EQ(st, 400);
        ASSERT_STREQ(json_string_value(json_object_get(json_object_get(r, "error"), "code")), "BadParameter");
        json_decref(r);
        free(pol);
        EVP_PKEY_free(a);
        EVP_PKEY_free(b);
}

/* Parse errors are the caller's (400 through the one cp_err map); kbsd once
 * answered 500 for CP_ETRUNC, CP_ETRAILING and CP_EMBZ. */
TEST(parse_errors_are_400_not_500) {
        setup();
        long st;
        const uint16_t port = cp_kbsd_port(kbs);
        create_key("trunc-k", "RSA", true, tee_condition("{\"claim\":\"x-ms-attestation-type\",\"equals\":\"sevsnpvm\"}"));
        json_t *r = http(port, "POST", "/disks/dtrunc/create", ADMIN,
                         json_pack("{s:s,s:s}", "mode", "customer", "key", "trunc-k"), &st);
        ASSERT_EQ(st, 200);
        json_decref(r);
        /* the wrapped disk key cut short: unwrapping it is CP_ETRUNC */
        char db[128];
        snprintf(db, sizeof(db), "%s/kbs.db", tmpdir);
        cp_store *h = NULL;
        ASSERT_OK(cp_store_open(cp_test_db(db), NULL, 0, &h));
        ASSERT_OK(cp_store_exec(h, cp_store_dialect_of(h) == CP_STORE_PG
                                           ? "UPDATE disks SET wrapped = '\\x0102030405060708'::bytea WHERE id = 'dtrunc'"
                                           : "UPDATE disks SET wrapped = x'0102030405060708' WHERE id = 'dtrunc'"));
        cp_store_close(h);
        r = http(port, "POST", "/disks/dtrunc/release", RELEASE, json_pack("{s:s}", "target", token_tee), &st);
        if (st != 400 || !strstr(err_msg(r), "shorter than the RSA modulus"))
                cp_test_fail(__FILE__, __LINE__, "truncated wrapped key: %ld %s", st, json_dumps(r, 0));
        ASSERT_STREQ(json_string_value(json_object_get(json_object_get(r, "error"), "code")), "BadParameter");
        json_decref(r);
}

/* Bodies go through the skeleton: nesting is bounded before jansson builds a
 * tree; a body that is not an object is refused; the routes answer 404 and 405. */
TEST(bodies_and_routes_on_the_skeleton) {
        setup();
        long st;
        const uint16_t port = cp_kbsd_port(kbs);
        json_t *deep = json_array(), *cur = deep;
        for (unsigned i = 0; i < CP_MAX_JSON_DEPTH + 1; i++) {
                json_t *inner = json_array();
                json_array_append_new(cur, inner);
                cur = inner;
        }
        json_t *r = http(port, "POST", "/keys/deep/create", ADMIN, json_pack("{s:s,s:o}", "kty", "oct", "x", deep), &st);
        ASSERT_EQ(st, 400);
        ASSERT_TRUE(strstr(err_msg(r), "nested deeper") != NULL);
        json_decref(r);
        r = http(port, "GET", "/keys/deep", ADMIN, NULL, &st);
        ASSERT_EQ(st, 404); /* never created */
        ASSERT_STREQ(json_string_value(json_object_get(json_object_get(r, "error"), "code")), "KeyNotFound");
        json_decref(r);
        r = http(port, "POST", "/keys/arr/create", ADMIN, json_pack("[s]", "oct"), &st);
        ASSERT_EQ(st, 400);
        ASSERT_STREQ(json_string_value(json_object_get(json_object_get(r, "error"), "code")), "BadParameter");
        json_decref(r);
        r = http(port, "GET", "/no/such/endpoint", ADMIN, NULL, &st);
        ASSERT_EQ(st, 404);
        json_decref(r);
        r = http(port, "PATCH", "/keys/deep", ADMIN, NULL, &st);
        ASSERT_EQ(st, 405);
        json_decref(r);
        /* a name outside [A-Za-z0-9-] is no key */
        r = http(port, "GET", "/keys/bad_name", ADMIN, NULL, &st);
        ASSERT_EQ(st, 404);
        json_decref(r);
}

/* A %00 after a key's name ended the C string the handlers saw: DELETE
 * /keys/<name>%00x soft-deleted <name>.  Such a path is 400 before any
 * handler runs, and the key is still there. */
TEST(nul_in_path_deletes_nothing) {
        setup();
        long st;
        const uint16_t port = cp_kbsd_port(kbs);
        create_key("nulvictim", "oct", false, NULL);
        static const char *const targets[] = {
                "/keys/nulvictim%00x", "/keys/nulvictim%00", "/keys/nulvictim/%2e%2e", "/keys/nulvictim%2Fx",
                "/keys//nulvictim",
        };
        for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
                char out[2048];
                unsigned s = cp_raw_http(port, "DELETE", targets[i], strlen(targets[i]),
                                         "Authorization: Bearer " ADMIN "\r\n", NULL, out, sizeof(out));
                if (s != 400)
                        cp_test_fail(__FILE__, __LINE__, "DELETE %s: %u %s", targets[i], s, out);
        }
        json_t *r = http(port, "GET", "/keys/nulvictim", ADMIN, NULL, &st);
        ASSERT_EQ(st, 200); /* not soft-deleted */
        json_decref(r);
        r = http(port, "GET", "/deletedkeys/nulvictim", ADMIN, NULL, &st);
        ASSERT_EQ(st, 404);
        json_decref(r);
}

struct held_delete {
        uint16_t port;
        long status;
};

static void *delete_in_thread(void *arg) {
        struct held_delete *d = arg;
        json_decref(http(d->port, "DELETE", "/keys/heldname", ADMIN, NULL, &d->status));
        return NULL;
}

/* A delete waits for a write transaction in progress: here another replica's
 * (a second connection to the same database) insert of a new version, held
 * open while the delete is asked for.  Once both are done the name is wholly
 * deleted; the version is never left live beside the deleted one (on
 * PostgreSQL the delete was a lone statement that did not take the write
 * lock: kbs-replicas-race caught it about once in twenty runs).  Then a
 * second delete of the now deleted name is 404. */
TEST(delete_waits_for_a_replicas_insert) {
        setup();
        long st;
        const uint16_t port = cp_kbsd_port(kbs);
        create_key("heldname", "oct", false, NULL);
        char db[128];
        snprintf(db, sizeof(db), "%s/kbs.db", tmpdir);
        cp_store *h = NULL;
        ASSERT_OK(cp_store_open(cp_test_db(db), NULL, 0, &h));
        ASSERT_OK(cp_store_begin(h));
        ASSERT_OK(cp_store_exec(h, "INSERT INTO keys (name, version, kty, key_size, crv, exportable, enabled, created,"
                                   " updated, tags, policy, policy_immutable, public_jwk, sealed, deleted, purge_at)"
                                   " SELECT name, 'replica0version', kty, key_size, crv, exportable, enabled, created + 1,"
                                   " updated, tags, policy, policy_immutable, public_jwk, sealed, NULL, NULL FROM keys"
                                   " WHERE name = 'heldname'"));
        struct held_delete d = { .port = port };
        pthread_t t;
        ASSERT_EQ(pthread_create(&t, NULL, delete_in_thread, &d), 0);
        usleep(300 * 1000);
        ASSERT_OK(cp_store_commit(h));
        ASSERT_EQ(pthread_join(t, NULL), 0);
        cp_store_close(h);
        ASSERT_EQ(d.status, 200);
        json_t *r = http(port, "GET", "/keys/heldname/versions", ADMIN, NULL, &st);
        size_t live = st == 200 ? json_array_size(json_object_get(r, "value")) : 0;
        json_decref(r);
        if (live != 0)
                cp_test_fail(__FILE__, __LINE__, "%zu live versions beside the deleted one", live);
        ASSERT_EQ(admin_status(port, "GET", "/deletedkeys/heldname"), 200);
        ASSERT_EQ(admin_status(port, "DELETE", "/keys/heldname"), 404);
}

#define MASTER_POOL "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/" \
                    "Microsoft.ContainerService/managedClusters/c/agentPools/racepool"

struct provisioner {
        int i, r;
        char why[CP_ERROR_MESSAGE_MAX];
};

/* One replica's platform disk keys (its own cp_diskkeys, so its own lock)
 * provisioning one node of the pool. */
static void *provision_in_thread(void *arg) {
        struct provisioner *p = arg;
        char url[64], node[32], img[160];
        snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned) cp_kbsd_port(kbs));
        snprintf(node, sizeof node, "aks-racepool-%d", p->i);
        snprintf(img, sizeof img, "%s/race-%d.img", tmpdir, p->i);
        cp_diskkeys_options o = {.kbs_url = url, .admin_token = ADMIN, .release_token = RELEASE,
                                 .authority = cp_attestd_issuer(att)};
        cp_diskkeys *d = NULL;
        cp_diskkey_expect x = {.tee = CP_DISKKEY_TEE_SNP};
        memset(x.measurement, 0x5a, sizeof x.measurement);
        p->r = cp_diskkeys_new(&o, &d);
        if (p->r >= 0)
                p->r = cp_diskkeys_provision(d, MASTER_POOL, node, &x, img);
        snprintf(p->why, sizeof p->why, "%s", p->r < 0 ? cp_error_message() : "");
        cp_diskkeys_free(d);
        unlink(img);
        return NULL;
}

/* The pool master key of a measurement is one key of one version: disk keys
 * derive from its newest version, so a second version made by another
 * process (two replicas, a deposed leader still booting) would leave the
 * disks made under the first unreleasable.  Eight processes' first
 * provisioning at once (each saw no master and created it: 2-8 versions
 * before the fix) make one version; a node's Kubernetes bootstrap never
 * makes a master (it did: a retired master was made again, with a policy
 * accepting a measurement the pool no longer accepts). */
TEST(pool_master_made_once_and_never_by_a_bootstrap) {
        setup();
        long st;
        enum { N = 8 };
        struct provisioner p[N];
        pthread_t t[N];
        for (int i = 0; i < N; i++) {
                p[i] = (struct provisioner){.i = i};
                ASSERT_EQ(pthread_create(&t[i], NULL, provision_in_thread, &p[i]), 0);
        }
        for (int i = 0; i < N; i++) {
                ASSERT_EQ(pthread_join(t[i], NULL), 0);
                if (p[i].r < 0)
                        cp_test_fail(__FILE__, __LINE__, "provisioning %d: %s", i, p[i].why);
        }
        uint8_t m[48];
        char master[80], path[160];
        memset(m, 0x5a, sizeof m);
        ASSERT_OK(cp_diskkeys_master_name(MASTER_POOL, m, master, sizeof master));
        snprintf(path, sizeof path, "/keys/%s/versions", master);
        json_t *r = http(cp_kbsd_port(kbs), "GET", path, ADMIN, NULL, &st);
        ASSERT_EQ(st, 200);
        ASSERT_EQ(json_array_size(json_object_get(r, "value")), 1);
        json_decref(r);

        /* a bootstrap under a master that is not there: refused, nothing made */
        char url[64];
        snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned) cp_kbsd_port(kbs));
        cp_diskkeys_options o = {.kbs_url = url, .admin_token = ADMIN, .release_token = RELEASE,
                                 .authority = cp_attestd_issuer(att)};
        cp_diskkeys *d = NULL;
        ASSERT_OK(cp_diskkeys_new(&o, &d));
        uint8_t tok[32];
        memset(m, 0x6b, sizeof m);
        ASSERT_ERR(cp_diskkeys_bootstrap(d, MASTER_POOL, "aks-racepool-0", CP_DISKKEY_TEE_SNP, m, tok), CP_ENOTFOUND);
        ASSERT_TRUE(strstr(cp_error_message(), "retired") != NULL);
        ASSERT_OK(cp_diskkeys_master_name(MASTER_POOL, m, master, sizeof master));
        snprintf(path, sizeof path, "/keys/%s", master);
        ASSERT_EQ(admin_status(cp_kbsd_port(kbs), "GET", path), 404);
        /* under the master that is there it is made */
        memset(m, 0x5a, sizeof m);
        ASSERT_OK(cp_diskkeys_bootstrap(d, MASTER_POOL, "aks-racepool-0", CP_DISKKEY_TEE_SNP, m, tok));
        cp_wipe(tok, sizeof tok);
        cp_diskkeys_free(d);
}
