/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JWT/JWK against external vectors, not only against ourselves (issue 20
 * item 4):
 *   - RFC 7515 Appendix A.2 (RS256) and A.3 (ES256) example tokens verify
 *     with the RFC's keys, and fail with one signature bit flipped;
 *   - RFC 7515 A.4 (ES512) is refused as unsupported, and so is a P-521
 *     key: confpool's tokens are RS256/ES256/ES384 (docs/attestation-service.md);
 *   - the RFC 7638 section 3.1 thumbprint example;
 *   - tokens made by other implementations (Debian's python3-jwt, the openssl
 *     command line; tests/interop/) verified by ours, and ours (cp_jwt_sign)
 *     verified by them.
 * The RFC values are copied from the RFC text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "confpool/jwt.h"
#include "tests.h"

#define INTEROP CP_TEST_SOURCE_DIR "/tests/interop"

/* RFC 7515 A.2.1 / A.3.1: the payload (with its CR LF line breaks). */
static const char rfc_payload[] = "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}";

static const char a2_token[] =
        "eyJhbGciOiJSUzI1NiJ9"
        ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
        ".cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZc"
        "AcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkH"
        "WEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";
static const char a2_jwks[] =
        "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPM"
        "EzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KX"
        "BdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kz"
        "k2PAcDTW9gb54h4FRWyuXpoQ\",\"e\":\"AQAB\"}]}";

static const char a3_token[] =
        "eyJhbGciOiJFUzI1NiJ9"
        ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
        ".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
static const char a3_jwks[] = "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\","
                              "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
                              "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}]}";

typedef struct rfc_case {
        const char *name;
        const char *token, *jwks;
        cp_jwt_alg alg;
} rfc_case;

static void rfc_row(void *ctx, const void *row) {
        const rfc_case *c = row;
        (void) ctx;
        cp_jwks *ks = NULL;
        uint8_t *p = NULL;
        size_t pl;
        ASSERT_OK(cp_jwks_parse(c->jwks, strlen(c->jwks), &ks));
        ASSERT_OK(cp_jws_verify(c->token, strlen(c->token), ks, c->alg, &p, &pl));
        ASSERT_EQ(pl, strlen(rfc_payload));
        ASSERT_MEMEQ(p, rfc_payload, pl);
        free(p);
        /* as a JWT at a time before its exp: the claims of the RFC */
        cp_jwt_validate_options o = CP_JWT_VALIDATE_OPTIONS_INIT;
        o.jwks = ks;
        o.issuer = "joe";
        o.now = 1300819300;
        cp_jwt *t = NULL;
        ASSERT_OK(cp_jwt_validate(c->token, strlen(c->token), &o, &t));
        ASSERT_TRUE(json_is_true(json_object_get(cp_jwt_claims(t), "http://example.com/is_root")));
        ASSERT_EQ(cp_jwt_get_alg(t), c->alg);
        cp_jwt_free(t);
        o.now = 1300819380 + 1;
        ASSERT_ERR(cp_jwt_validate(c->token, strlen(c->token), &o, &t), CP_EEXPIRED);
        /* one signature character changed (not the last: its unused bits must stay zero) */
        char *bad = strdup(c->token);
        size_t n = strlen(bad);
        bad[n - 10] = bad[n - 10] == 'A' ? 'B' : 'A';
        ASSERT_ERR(cp_jws_verify(bad, n, ks, c->alg, &p, &pl), CP_ESIG);
        /* and the right token under the other alg's key list is no match */
        ASSERT_FAILS(cp_jws_verify(c->token, strlen(c->token), ks, CP_JWT_ALG_ALL & ~c->alg, &p, &pl));
        free(bad);
        cp_jwks_free(ks);
}

TEST(rfc7515_a2_rs256_and_a3_es256) {
        static const rfc_case rows[] = {
                { "A.2 RS256", a2_token, a2_jwks, CP_JWT_RS256 },
                { "A.3 ES256", a3_token, a3_jwks, CP_JWT_ES256 },
        };
        TEST_TABLE(rows, rfc_row, NULL);
}

/* RFC 7515 A.4: ES512 (P-521) is not one of ours; refused by name, and a
 * P-521 key in a JWKS is skipped (a document with only it has no usable key). */
TEST(rfc7515_a4_es512_refused) {
        static const char a4_token[] =
                "eyJhbGciOiJFUzUxMiJ9.UGF5bG9hZA"
                ".AdwMgeerwtHoh-l192l60hp9wAHZFVJbLfD_UxMi70cwnZOYaRI1bKPWROc-mZZqwqT2SI-KGDKB34XO0aw_7XdtAG8GaSwFKdCAPZgoXD2YBJZCPE"
                "X3xKpRwcdOO8KpEHwJjyqOgzDO7iKvU8vcnwNrmxYbSW9ERBXukOXolLzeO_Jn";
        static const char p521_jwks[] =
                "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-521\","
                "\"x\":\"AekpBQ8ST8a8VcfVOTNl353vSrDCLLJXmPk06wTjxrrjcBpXp5EOnYG_NjFZ6OvLFV1jSfS9tsz4qUxcWceqwQGk\","
                "\"y\":\"ADSmRA43Z1DSNx_RvcLI87cdL07l6jQyyBXMoxVg_l2Th-x3S1WDhjDly79ajL4Kkd0AZMaZmh9ubmf63e3kyMj2\"}]}";
        cp_jwks *ks = NULL;
        cp_jwt_alg alg;
        uint8_t *p = NULL;
        size_t pl;
        ASSERT_ERR(cp_jwt_alg_from_name("ES512", &alg), CP_EUNSUPPORTED);
        ASSERT_ERR(cp_jwks_parse(p521_jwks, strlen(p521_jwks), &ks), CP_ENOTFOUND);
        ASSERT_OK(cp_jwks_parse(a3_jwks, strlen(a3_jwks), &ks));
        ASSERT_ERR(cp_jws_verify(a4_token, strlen(a4_token), ks, CP_JWT_ALG_ALL, &p, &pl), CP_EUNSUPPORTED);
        ASSERT_TRUE(strstr(cp_error_message(), "ES512") != NULL);
        cp_jwks_free(ks);
}

/* RFC 7638 3.1: the thumbprint of the example RSA key; optional members do
 * not change it; the same function names our generated keys. */
TEST(rfc7638_thumbprint_example) {
        static const char n[] =
                "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknj"
                "hMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQ"
                "vRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKn"
                "qDKgw";
        char tp[CP_JWT_KID_MAX + 1];
        json_t *jwk = json_pack("{s:s,s:s,s:s}", "kty", "RSA", "n", n, "e", "AQAB");
        ASSERT_OK(cp_jwk_thumbprint(jwk, tp));
        ASSERT_STREQ(tp, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
        json_object_set_new(jwk, "kid", json_string("2011-04-29"));
        json_object_set_new(jwk, "alg", json_string("RS256"));
        ASSERT_OK(cp_jwk_thumbprint(jwk, tp));
        ASSERT_STREQ(tp, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
        json_object_set_new(jwk, "kty", json_string("oct"));
        ASSERT_ERR(cp_jwk_thumbprint(jwk, tp), CP_EUNSUPPORTED);
        json_decref(jwk);
        cp_jwt_key *k = NULL;
        ASSERT_OK(cp_jwt_key_generate(CP_JWT_ES256, NULL, 0, 1, &k));
        ASSERT_OK(cp_jwt_key_to_jwk(k, &jwk));
        ASSERT_OK(cp_jwk_thumbprint(jwk, tp));
        ASSERT_STREQ(tp, cp_jwt_key_kid(k));
        json_decref(jwk);
        cp_jwt_key_free(k);
}

/* Run cmd with stdin_text; its stdout (malloc()ed) and exit status. */
static char *run(const char *cmd, const char *stdin_text, int *ret_status) {
        char in[] = "/tmp/test-jwt-vectors-XXXXXX";
        int fd = mkstemp(in);
        ASSERT_TRUE(fd >= 0);
        if (stdin_text)
                ASSERT_OK(cp_write_full(fd, stdin_text, strlen(stdin_text), "write"));
        close(fd);
        char full[4096];
        snprintf(full, sizeof full, "%s <%s", cmd, in);
        FILE *p = popen(full, "r");
        ASSERT_TRUE(p != NULL);
        size_t cap = 1 << 16, n = 0;
        char *out = malloc(cap);
        n = fread(out, 1, cap - 1, p);
        out[n] = 0;
        int st = pclose(p);
        unlink(in);
        *ret_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
        return out;
}

static void need_tool(const char *path, const char *what) {
        if (access(path, X_OK) != 0)
                TEST_SKIP("%s not installed (scripts/install-deps.sh check installs it)", what);
}

static bool pyjwt_present(void) {
        int st;
        char *o = run("/usr/bin/python3 -c 'import jwt, cryptography' 2>&1", NULL, &st);
        free(o);
        return st == 0;
}

/* Validate a foreign token with its JWK through cp_jwt_validate. */
static void ours_accepts(const char *token, const char *jwk_json, const char *issuer, cp_jwt_alg alg) {
        char jwks[8192];
        snprintf(jwks, sizeof jwks, "{\"keys\":[%s]}", jwk_json);
        cp_jwks *ks = NULL;
        ASSERT_OK(cp_jwks_parse(jwks, strlen(jwks), &ks));
        cp_jwt_validate_options o = CP_JWT_VALIDATE_OPTIONS_INIT;
        o.jwks = ks;
        o.issuer = issuer;
        o.algs = alg;
        cp_jwt *t = NULL;
        ASSERT_OK(cp_jwt_validate(token, strlen(token), &o, &t));
        ASSERT_STREQ(json_string_value(json_object_get(cp_jwt_claims(t), "sub")), "interop");
        cp_jwt_free(t);
        /* and refused under another issuer */
        o.issuer = "https://other.test";
        ASSERT_ERR(cp_jwt_validate(token, strlen(token), &o, &t), CP_EUNTRUSTED);
        cp_jwks_free(ks);
}

/* A token of ours (alg) with claims iss/sub/exp: the key and the token. */
static char *our_token(cp_jwt_alg alg, cp_jwt_key **ret_key) {
        ASSERT_OK(cp_jwt_key_generate(alg, NULL, 0, 1, ret_key));
        json_t *c = json_pack("{s:s,s:s,s:I}", "iss", "https://confpool.test", "sub", "interop",
                              "exp", (json_int_t) time(NULL) + 600);
        char *tok = NULL;
        ASSERT_OK(cp_jwt_sign(*ret_key, c, NULL, &tok));
        json_decref(c);
        return tok;
}

TEST(pyjwt_tokens_verified_by_ours_and_ours_by_pyjwt) {
        need_tool("/usr/bin/python3", "python3");
        if (!pyjwt_present())
                TEST_SKIP("Debian's python3-jwt / python3-cryptography not installed (scripts/install-deps.sh check)");
        static const cp_jwt_alg algs[] = { CP_JWT_RS256, CP_JWT_ES256, CP_JWT_ES384 };
        for (size_t i = 0; i < 3; i++) {
                const char *name = cp_jwt_alg_name(algs[i]);
                char cmd[512];
                int st;
                /* theirs, verified by ours */
                snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/pyjwt.py sign %s", INTEROP, name);
                char *out = run(cmd, NULL, &st);
                ASSERT_EQ(st, 0);
                json_t *doc = json_loads(out, 0, NULL);
                ASSERT_TRUE(doc != NULL);
                char *jwk = json_dumps(json_object_get(doc, "jwk"), JSON_COMPACT);
                ours_accepts(json_string_value(json_object_get(doc, "token")), jwk, "https://pyjwt.test", algs[i]);
                free(jwk);
                json_decref(doc);
                free(out);
                /* ours, verified by theirs; a tampered one refused */
                cp_jwt_key *k = NULL;
                char *tok = our_token(algs[i], &k);
                json_t *pub = NULL;
                ASSERT_OK(cp_jwt_key_to_jwk(k, &pub));
                for (int tamper = 0; tamper < 2; tamper++) {
                        if (tamper)
                                tok[strlen(tok) - 2] = tok[strlen(tok) - 2] == 'A' ? 'B' : 'A';
                        json_t *in = json_pack("{s:s,s:O}", "token", tok, "jwk", pub);
                        char *in_s = json_dumps(in, JSON_COMPACT);
                        snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/pyjwt.py verify %s https://confpool.test 2>&1",
                                 INTEROP, name);
                        out = run(cmd, in_s, &st);
                        if (st != tamper)
                                cp_test_fail(__FILE__, __LINE__, "%s tamper=%d: pyjwt exit %d: %s", name, tamper, st,
                                             out);
                        if (!tamper)
                                ASSERT_TRUE(strstr(out, "\"sub\": \"interop\"") != NULL);
                        free(out);
                        free(in_s);
                        json_decref(in);
                }
                json_decref(pub);
                free(tok);
                cp_jwt_key_free(k);
        }
}

TEST(openssl_cli_tokens_verified_by_ours_and_ours_by_openssl) {
        need_tool("/usr/bin/openssl", "openssl");
        need_tool("/usr/bin/xxd", "xxd");
        static const cp_jwt_alg algs[] = { CP_JWT_RS256, CP_JWT_ES256 };
        char dir[] = "/tmp/test-jwt-openssl-XXXXXX";
        ASSERT_TRUE(mkdtemp(dir) != NULL);
        for (size_t i = 0; i < 2; i++) {
                const char *name = cp_jwt_alg_name(algs[i]);
                char cmd[1024], cert[256];
                int st;
                snprintf(cmd, sizeof cmd, "bash %s/openssl-jws.sh sign %s %s", INTEROP, name, dir);
                char *out = run(cmd, NULL, &st);
                ASSERT_EQ(st, 0);
                char *nl = strchr(out, '\n');
                ASSERT_TRUE(nl != NULL);
                *nl = 0;
                char *jwk = nl + 1;
                jwk[strcspn(jwk, "\n")] = 0;
                ours_accepts(out, jwk, "https://openssl.test", algs[i]);
                free(out);
                /* ours, verified by openssl dgst -verify with our certificate's key */
                cp_jwt_key *k = NULL;
                char *tok = our_token(algs[i], &k);
                size_t cl;
                const uint8_t *der = cp_jwt_key_cert_der(k, &cl);
                snprintf(cert, sizeof cert, "%s/ours.der", dir);
                ASSERT_OK(cp_write_file(cert, der, cl, 0600));
                for (int tamper = 0; tamper < 2; tamper++) {
                        if (tamper)
                                tok[strlen(tok) - 2] = tok[strlen(tok) - 2] == 'A' ? 'B' : 'A';
                        snprintf(cmd, sizeof cmd, "bash %s/openssl-jws.sh verify %s %s '%s' 2>&1", INTEROP, name, cert,
                                 tok);
                        out = run(cmd, NULL, &st);
                        if ((st == 0) != !tamper)
                                cp_test_fail(__FILE__, __LINE__, "%s tamper=%d: openssl exit %d: %s", name, tamper, st,
                                             out);
                        free(out);
                }
                free(tok);
                cp_jwt_key_free(k);
        }
        char rm[128];
        snprintf(rm, sizeof rm, "rm -rf %s", dir);
        ASSERT_EQ(system(rm), 0);
}
