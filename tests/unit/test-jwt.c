/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>

#include "basic/cleanup.h"
#include "basic/codec.h"
#include "confpool/jwt.h"
#include "tests.h"

#define NOW INT64_C(1750000000)
#define ISS "https://attest.example"

static json_t *claims_for(int64_t iat, int64_t exp) {
        json_t *c = json_pack("{s:s, s:I, s:I, s:I, s:s, s:b}", "iss", ISS, "iat", (json_int_t) iat, "nbf",
                              (json_int_t) iat, "exp", (json_int_t) exp, "aud", "kbs", "x-ms-sevsnpvm-is-debuggable", 0);
        ASSERT_TRUE(c);
        return c;
}

static char *sign(const cp_jwt_key *k, int64_t iat, int64_t exp) {
        json_t *c = claims_for(iat, exp);
        char *tok = NULL;
        ASSERT_OK(cp_jwt_sign(k, c, NULL, &tok));
        json_decref(c);
        return tok;
}

static cp_jwt_validate_options opts(const cp_jwks *s) {
        cp_jwt_validate_options o = CP_JWT_VALIDATE_OPTIONS_INIT;
        o.jwks = s;
        o.issuer = ISS;
        o.now = NOW + 10;
        o.slack_s = 5;
        return o;
}

/* The JWKS as a relying party would fetch it: through JSON. */
static cp_jwks *jwks_of(cp_jwt_key *const *keys, size_t n) {
        json_t *arr = json_array(), *doc;
        for (size_t i = 0; i < n; i++) {
                json_t *jwk = NULL;
                ASSERT_OK(cp_jwt_key_to_jwk(keys[i], &jwk));
                json_array_append_new(arr, jwk);
        }
        doc = json_pack("{s:o}", "keys", arr);
        char *s = json_dumps(doc, JSON_COMPACT);
        cp_jwks *set = NULL;
        ASSERT_OK(cp_jwks_parse(s, strlen(s), &set));
        ASSERT_EQ(cp_jwks_count(set), n);
        free(s);
        json_decref(doc);
        return set;
}

TEST(sign_and_validate_each_alg) {
        const cp_jwt_alg algs[] = { CP_JWT_RS256, CP_JWT_ES256, CP_JWT_ES384 };
        for (size_t i = 0; i < CP_ELEMENTSOF(algs); i++) {
                cp_jwt_key *k = NULL;
                ASSERT_OK(cp_jwt_key_generate(algs[i], NULL, NOW, 30, &k));
                ASSERT_EQ(strlen(cp_jwt_key_kid(k)), 43);
                cp_jwks *set = jwks_of(&k, 1);
                char *tok = sign(k, NOW, NOW + 3600);
                cp_jwt_validate_options o = opts(set);
                cp_jwt *t = NULL;
                ASSERT_OK(cp_jwt_validate(tok, strlen(tok), &o, &t));
                ASSERT_EQ(cp_jwt_get_alg(t), algs[i]);
                ASSERT_STREQ(json_string_value(json_object_get(cp_jwt_header(t), "alg")), cp_jwt_alg_name(algs[i]));
                ASSERT_STREQ(json_string_value(json_object_get(cp_jwt_header(t), "kid")), cp_jwt_key_kid(k));
                ASSERT_TRUE(json_is_false(json_object_get(cp_jwt_claims(t), "x-ms-sevsnpvm-is-debuggable")));
                t = cp_jwt_free(t);
                /* audience */
                o.audience = "kbs";
                ASSERT_OK(cp_jwt_validate(tok, strlen(tok), &o, NULL));
                o.audience = "other";
                ASSERT_ERR(cp_jwt_validate(tok, strlen(tok), &o, NULL), CP_EBINDING);
                /* alg allow-list */
                o = opts(set);
                o.algs = CP_JWT_ALG_ALL & ~(unsigned) algs[i];
                ASSERT_ERR(cp_jwt_validate(tok, strlen(tok), &o, NULL), CP_EUNSUPPORTED);
                free(tok);
                cp_jwks_free(set);
                cp_jwt_key_free(k);
        }
}

TEST(time_checks_with_slack) {
        cp_jwt_key *k = NULL;
        ASSERT_OK(cp_jwt_key_generate(CP_JWT_ES256, NULL, NOW, 30, &k));
        cp_jwks *set = jwks_of(&k, 1);
        char *tok = sign(k, NOW, NOW + 100);
        cp_jwt_validate_options o = opts(set);
        o.now = NOW + 104; /* exp + slack 5 > now */
        ASSERT_OK(cp_jwt_validate(tok, strlen(tok), &o, NULL));
        o.now = NOW + 105;
        ASSERT_ERR(cp_jwt_validate(tok, strlen(tok), &o, NULL), CP_EEXPIRED);
        o.now = NOW - 5;
        ASSERT_OK(cp_jwt_validate(tok, strlen(tok), &o, NULL));
        o.now = NOW - 6; /* not yet valid */
        ASSERT_ERR(cp_jwt_validate(tok, strlen(tok), &o, NULL), CP_EEXPIRED);
        free(tok);
        /* no exp */
        json_t *c = json_pack("{s:s}", "iss", ISS);
        ASSERT_OK(cp_jwt_sign(k, c, NULL, &tok));
        o = opts(set);
        ASSERT_ERR(cp_jwt_validate(tok, strlen(tok), &o, NULL), CP_EEXPIRED);
        o.allow_missing_exp = true;
        ASSERT_OK(cp_jwt_validate(tok, strlen(tok), &o, NULL));
        free(tok);
        json_decref(c);
        /* exp of the wrong type */
        c = json_pack("{s:s, s:s}", "iss", ISS, "exp", "tomorrow");
        ASSERT_OK(cp_jwt_sign(k, c, NULL, &tok));
        o = opts(set);
        ASSERT_ERR(cp_jwt_validate(tok, strlen(tok), &o, NULL), CP_EFORMAT);
        free(tok);
        json_decref(c);
        cp_jwks_free(set);
        cp_jwt_key_free(k);
}

TEST(wrong_issuer_unknown_kid_wrong_key) {
        cp_jwt_key *k = NULL, *k2 = NULL;
        ASSERT_OK(cp_jwt_key_generate(CP_JWT_RS256, NULL, NOW, 30, &k));
        ASSERT_OK(cp_jwt_key_generate(CP_JWT_RS256, NULL, NOW, 30, &k2));
        cp_jwks *set = jwks_of(&k, 1), *set2 = jwks_of(&k2, 1);
        char *tok = sign(k, NOW, NOW + 100);
        cp_jwt_validate_options o = opts(set);
        o.issuer = "https://evil.example";
        ASSERT_ERR(cp_jwt_validate(tok, strlen(tok), &o, NULL), CP_EUNTRUSTED);
        o = opts(set2);
        ASSERT_ERR(cp_jwt_validate(tok, strlen(tok), &o, NULL), CP_ENOTFOUND);
        /* rotation: a JWKS with both keys validates tokens of both */
        cp_jwt_key *both[] = { k2, k };
        cp_jwks *set3 = jwks_of(both, 2);
        o = opts(set3);
        ASSERT_OK(cp_jwt_validate(tok, strlen(tok), &o, NULL));
        free(tok);
        cp_jwks_free(set);
        cp_jwks_free(set2);
        cp_jwks_free(set3);
        cp_jwt_key_free(k);
        cp_jwt_key_free(k2);
}

/* header {"alg":...} forged over a valid payload: "none", HS256, and an
 * RS256 header with the kid of an EC key (key confusion) */
static char *forge(const char *header_json, const char *tok) {
        const char *dot = strchr(tok, '.');
        size_t hl = strlen(header_json);
        char *h = malloc(cp_b64_encoded_len(hl, CP_B64_URL) + 1);
        cp_b64_encode((const uint8_t *) header_json, hl, CP_B64_URL, h);
        char *out = malloc(strlen(h) + strlen(dot) + 1);
        strcpy(out, h);
        strcat(out, dot);
        free(h);
        return out;
}

TEST(alg_none_and_key_confusion) {
        cp_jwt_key *k = NULL;
        ASSERT_OK(cp_jwt_key_generate(CP_JWT_ES256, NULL, NOW, 30, &k));
        cp_jwks *set = jwks_of(&k, 1);
        char *tok = sign(k, NOW, NOW + 100), hdr[256];
        cp_jwt_validate_options o = opts(set);
        char *f = forge("{\"alg\":\"none\"}", tok);
        ASSERT_ERR(cp_jwt_validate(f, strlen(f), &o, NULL), CP_EUNSUPPORTED);
        free(f);
        f = forge("{\"alg\":\"HS256\"}", tok);
        ASSERT_ERR(cp_jwt_validate(f, strlen(f), &o, NULL), CP_EUNSUPPORTED);
        free(f);
        snprintf(hdr, sizeof(hdr), "{\"alg\":\"RS256\",\"kid\":\"%s\"}", cp_jwt_key_kid(k));
        f = forge(hdr, tok);
        ASSERT_ERR(cp_jwt_validate(f, strlen(f), &o, NULL), CP_ENOTFOUND);
        free(f);
        snprintf(hdr, sizeof(hdr), "{\"alg\":\"ES384\"}");
        f = forge(hdr, tok);
        ASSERT_ERR(cp_jwt_validate(f, strlen(f), &o, NULL), CP_ENOTFOUND);
        free(f);
        snprintf(hdr, sizeof(hdr), "{\"alg\":\"ES256\",\"crit\":[\"x\"]}");
        f = forge(hdr, tok);
        ASSERT_ERR(cp_jwt_validate(f, strlen(f), &o, NULL), CP_EUNSUPPORTED);
        free(f);
        /* the same header re-encoded differently (kid removed) breaks the signature */
        f = forge("{\"alg\":\"ES256\",\"typ\":\"JWT\"}", tok);
        ASSERT_ERR(cp_jwt_validate(f, strlen(f), &o, NULL), CP_ESIG);
        free(f);
        /* unsecured JWS decoder: only alg none */
        uint8_t *pl = NULL;
        size_t pll;
        ASSERT_ERR(cp_jws_decode_unsecured(tok, strlen(tok), &pl, &pll), CP_EUNSUPPORTED);
        f = forge("{\"alg\":\"none\"}", tok);
        ASSERT_ERR(cp_jws_decode_unsecured(f, strlen(f), &pl, &pll), CP_EFORMAT); /* has a signature */
        *strrchr(f, '.') = '\0';
        strcat(f, ".");
        ASSERT_OK(cp_jws_decode_unsecured(f, strlen(f), &pl, &pll));
        ASSERT_TRUE(strstr((char *) pl, ISS) != NULL);
        free(pl);
        free(f);
        free(tok);
        cp_jwks_free(set);
        cp_jwt_key_free(k);
}

TEST(tampering_and_truncation) {
        cp_jwt_key *k = NULL;
        ASSERT_OK(cp_jwt_key_generate(CP_JWT_RS256, NULL, NOW, 30, &k));
        cp_jwks *set = jwks_of(&k, 1);
        char *tok = sign(k, NOW, NOW + 100);
        size_t n = strlen(tok);
        cp_jwt_validate_options o = opts(set);
        /* every truncation fails */
        for (size_t l = 0; l < n; l++)
                ASSERT_FAILS(cp_jwt_validate(tok, l, &o, NULL));
        /* flipping any character fails (header/payload/signature) */
        char *t2 = strdup(tok);
        for (size_t i = 0; i < n; i += 3) {
                char c = t2[i];
                t2[i] = c == 'A' ? 'B' : 'A';
                if (c == '.')
                        t2[i] = '.'; /* keep the structure at the dots: test others */
                else
                        ASSERT_FAILS(cp_jwt_validate(t2, n, &o, NULL));
                t2[i] = c;
        }
        /* a bit of the payload changed, re-encoded validly: signature error */
        const char *d1 = strchr(tok, '.');
        size_t p = (size_t) (d1 - tok) + 5;
        t2[p] = t2[p] == 'x' ? 'y' : 'x';
        ASSERT_FAILS(cp_jwt_validate(t2, n, &o, NULL));
        free(t2);
        /* bad base64url characters and padding */
        t2 = strdup(tok);
        t2[2] = '+';
        ASSERT_ERR(cp_jwt_validate(t2, n, &o, NULL), CP_EFORMAT);
        t2[2] = '=';
        ASSERT_ERR(cp_jwt_validate(t2, n, &o, NULL), CP_EFORMAT);
        free(t2);
        /* extra part, empty parts, empty signature */
        char buf[4096];
        snprintf(buf, sizeof(buf), "%s.AAAA", tok);
        ASSERT_ERR(cp_jwt_validate(buf, strlen(buf), &o, NULL), CP_EFORMAT);
        ASSERT_ERR(cp_jwt_validate("..", 2, &o, NULL), CP_EFORMAT);
        snprintf(buf, sizeof(buf), "%.*s.", (int) (strrchr(tok, '.') - tok), tok);
        ASSERT_ERR(cp_jwt_validate(buf, strlen(buf), &o, NULL), CP_EFORMAT);
        /* signature from another token of the same key */
        char *tok2 = sign(k, NOW, NOW + 101);
        snprintf(buf, sizeof(buf), "%.*s%s", (int) (strrchr(tok, '.') - tok), tok, strrchr(tok2, '.'));
        ASSERT_ERR(cp_jwt_validate(buf, strlen(buf), &o, NULL), CP_ESIG);
        free(tok2);
        /* header not an object / not JSON */
        ASSERT_ERR(cp_jwt_validate("WzFd.e30.AAAA", 13, &o, NULL), CP_EFORMAT);
        ASSERT_ERR(cp_jwt_validate("eyJ.e30.AAAA", 12, &o, NULL), CP_EFORMAT);
        free(tok);
        cp_jwks_free(set);
        cp_jwt_key_free(k);
}

TEST(jwks_parsing_negative) {
        cp_jwks *s = NULL;
        const char *bad[] = {
                "", "[]", "{\"keys\":{}}", "{\"keys\":[1]}", "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}",
                "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AAAA\",\"y\":\"AAAA\"}]}",
                ("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" /* not on the curve */
                 "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"y\":\"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}]}"),
                "{\"keys\":[]}",
                "{\"keys\":[{\"kty\":\"oct\",\"k\":\"AAAA\"}]}",
                "{\"keys\":[],\"keys\":[]}",
        };
        for (size_t i = 0; i < CP_ELEMENTSOF(bad); i++)
                ASSERT_FAILS(cp_jwks_parse(bad[i], strlen(bad[i]), &s));
        ASSERT_ERR(cp_jwks_parse("{\"keys\":[]}", 11, &s), CP_ENOTFOUND);
        /* deep nesting */
        char deep[200];
        memset(deep, '[', sizeof(deep));
        ASSERT_ERR(cp_jwks_parse(deep, sizeof(deep), &s), CP_EFORMAT);

        /* x5c of another key, alg that does not fit, duplicate kid */
        cp_jwt_key *k = NULL, *k2 = NULL;
        ASSERT_OK(cp_jwt_key_generate(CP_JWT_ES256, NULL, NOW, 30, &k));
        ASSERT_OK(cp_jwt_key_generate(CP_JWT_ES256, NULL, NOW, 30, &k2));
        json_t *j = NULL, *j2 = NULL;
        ASSERT_OK(cp_jwt_key_to_jwk(k, &j));
        ASSERT_OK(cp_jwt_key_to_jwk(k2, &j2));
        json_object_set(j, "x5c", json_object_get(j2, "x5c"));
        json_t *doc = json_pack("{s:[O]}", "keys", j);
        char *txt = json_dumps(doc, 0);
        ASSERT_ERR(cp_jwks_parse(txt, strlen(txt), &s), CP_EFORMAT);
        free(txt);
        json_decref(doc);
        json_object_del(j, "x5c");
        json_object_set_new(j, "alg", json_string("RS256"));
        doc = json_pack("{s:[O]}", "keys", j);
        txt = json_dumps(doc, 0);
        ASSERT_ERR(cp_jwks_parse(txt, strlen(txt), &s), CP_EFORMAT);
        free(txt);
        json_decref(doc);
        json_object_set_new(j, "alg", json_string("ES256"));
        json_object_set(j2, "kid", json_object_get(j, "kid"));
        doc = json_pack("{s:[O,O]}", "keys", j, j2);
        txt = json_dumps(doc, 0);
        ASSERT_ERR(cp_jwks_parse(txt, strlen(txt), &s), CP_EFORMAT);
        free(txt);
        json_decref(doc);
        /* encryption keys are skipped */
        json_object_set_new(j, "use", json_string("enc"));
        doc = json_pack("{s:[O]}", "keys", j);
        txt = json_dumps(doc, 0);
        ASSERT_ERR(cp_jwks_parse(txt, strlen(txt), &s), CP_ENOTFOUND);
        free(txt);
        json_decref(doc);
        json_decref(j);
        json_decref(j2);
        cp_jwt_key_free(k);
        cp_jwt_key_free(k2);
}

TEST(pem_key_roundtrip) {
        static const char *pem =
                "-----BEGIN PRIVATE KEY-----\n"
                "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgJdjGrpfnRHHziEXR\n"
                "Yt0SJ2N4P+z1MCO3PtRlAGPG2CKhRANCAASPgTKKfKCxujIYee8J462vsYx/2IDV\n"
                "RaQbq4BHXBobasTEkMe6bRfb+Uyd7i2c2ZqSaqyJKa3Ri9srd06olZ52\n"
                "-----END PRIVATE KEY-----\n";
        cp_jwt_key *k = NULL;
        ASSERT_ERR(cp_jwt_key_from_pem(CP_JWT_RS256, pem, strlen(pem), NULL, 0, &k), CP_EINVAL);
        ASSERT_OK(cp_jwt_key_from_pem(CP_JWT_ES256, pem, strlen(pem), NULL, 0, &k));
        /* RFC 7638 thumbprint is stable for a given key */
        json_t *j = NULL;
        ASSERT_OK(cp_jwt_key_to_jwk(k, &j));
        ASSERT_STREQ(json_string_value(json_object_get(j, "crv")), "P-256");
        ASSERT_STREQ(json_string_value(json_object_get(j, "kid")), cp_jwt_key_kid(k));
        json_decref(j);
        cp_jwt_key *k2 = NULL;
        ASSERT_OK(cp_jwt_key_from_pem(CP_JWT_ES256, pem, strlen(pem), NULL, 0, &k2));
        ASSERT_STREQ(cp_jwt_key_kid(k), cp_jwt_key_kid(k2));
        ASSERT_ERR(cp_jwt_key_from_pem(CP_JWT_ES256, "junk", 4, NULL, 0, &k2), CP_EFORMAT);
        cp_jwt_key_free(k);
        cp_jwt_key_free(k2);
}

/* A prepared signer's tokens verify and equal cp_jwt_sign's for the same key,
 * claims and extra header, up to the signature (ECDSA is randomized; RSA
 * PKCS#1 v1.5 is not, so RS256 tokens are equal byte for byte). */
TEST(prepared_signer_matches_cp_jwt_sign) {
        const cp_jwt_alg algs[] = { CP_JWT_RS256, CP_JWT_ES256, CP_JWT_ES384 };
        for (size_t i = 0; i < CP_ELEMENTSOF(algs); i++) {
                cp_jwt_key *k = NULL;
                cp_jwt_signer *s = NULL;
                cp_jwt *t = NULL;
                char *a = NULL, *b = NULL;
                ASSERT_OK(cp_jwt_key_generate(algs[i], NULL, NOW, 30, &k));
                json_t *c = claims_for(NOW, NOW + 600), *extra = json_pack("{s:s}", "jku", ISS "/certs");
                char *text = json_dumps(c, JSON_COMPACT);
                ASSERT_OK(cp_jwt_signer_new(k, extra, &s));
                ASSERT_TRUE(cp_jwt_signer_key(s) == k);
                ASSERT_OK(cp_jwt_signer_sign(s, text, strlen(text), &a));
                ASSERT_OK(cp_jwt_sign(k, c, extra, &b));
                const char *da = strrchr(a, '.'), *db = strrchr(b, '.');
                ASSERT_EQ((size_t) (da - a), (size_t) (db - b));
                ASSERT_MEMEQ(a, b, (size_t) (da - a));
                ASSERT_EQ(strlen(da), strlen(db));
                if (algs[i] == CP_JWT_RS256)
                        ASSERT_STREQ(a, b);
                cp_jwks *set = jwks_of(&k, 1);
                cp_jwt_validate_options o = opts(set);
                ASSERT_OK(cp_jwt_validate(a, strlen(a), &o, &t));
                ASSERT_TRUE(json_equal((json_t *) cp_jwt_claims(t), c));
                ASSERT_STREQ(json_string_value(json_object_get(cp_jwt_header(t), "jku")), ISS "/certs");
                ASSERT_EQ(cp_jwt_get_alg(t), algs[i]);
                t = cp_jwt_free(t);
                /* many tokens from one signer (the per-thread context is reused) */
                for (int n = 0; n < 4; n++) {
                        char *x = NULL;
                        ASSERT_OK(cp_jwt_signer_sign(s, text, strlen(text), &x));
                        ASSERT_OK(cp_jwt_validate(x, strlen(x), &o, &t));
                        t = cp_jwt_free(t);
                        free(x);
                }
                /* the payload must be an object's text */
                char *none = NULL;
                ASSERT_ERR(cp_jwt_signer_sign(s, "[]", 2, &none), CP_EINVAL);
                ASSERT_TRUE(none == NULL);
                cp_jwks_free(set);
                free(a);
                free(b);
                free(text);
                json_decref(c);
                json_decref(extra);
                cp_jwt_signer_free(s);
                cp_jwt_key_free(k);
        }
        /* alg and kid stay the key's */
        cp_jwt_key *k = NULL;
        cp_jwt_signer *s = NULL;
        ASSERT_OK(cp_jwt_key_generate(CP_JWT_ES256, NULL, NOW, 30, &k));
        json_t *bad = json_pack("{s:s}", "kid", "other");
        ASSERT_ERR(cp_jwt_signer_new(k, bad, &s), CP_EINVAL);
        json_decref(bad);
        ASSERT_TRUE(cp_jwt_signer_free(NULL) == NULL);
        cp_jwt_key_free(k);
}

/* An unsecured token decodes to its payload, and a signer-made token is
 * not mistaken for one. */
TEST(unsecured_jws_round_trip) {
        static const char pl[] = "{\"AttestationPolicy\":\"dmVyc2lvbj0xLjA7\"}";
        char *tok = NULL;
        uint8_t *out = NULL;
        size_t n;
        ASSERT_OK(cp_jws_encode_unsecured(pl, strlen(pl), &tok));
        ASSERT_TRUE(strncmp(tok, "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.", 36) == 0);
        ASSERT_EQ(tok[strlen(tok) - 1], '.');
        ASSERT_OK(cp_jws_decode_unsecured(tok, strlen(tok), &out, &n));
        ASSERT_EQ(n, strlen(pl));
        ASSERT_MEMEQ(out, pl, n);
        free(out);
        free(tok);
}
