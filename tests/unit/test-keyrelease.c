/* SPDX-License-Identifier: Apache-2.0 */
/* Release policies (grammar, validation errors, evaluation), the TEE key
 * selection, and CKM_RSA_AES_KEY_WRAP wrap/unwrap incl. negative cases. */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "basic/cleanup.h"
#include "basic/codec.h"
#include "confpool/keyrelease.h"
#include "libconfpool/rsagen.h"
#include "tests.h"

static int parse(const char *s) {
        cp_release_policy *p = NULL;
        int r = cp_release_policy_parse(s, strlen(s), &p);
        cp_release_policy_free(p);
        return r;
}

#define A "\"authority\":\"https://maa.example/\""

TEST(policy_validation_errors) {
        ASSERT_OK(parse("{\"version\":\"1.0.0\",\"anyOf\":[{" A ",\"allOf\":[{\"claim\":\"a.b\",\"equals\":1}]}]}"));
        ASSERT_ERR(parse("{\"version\":\"1.0.1\",\"anyOf\":[{" A ",\"allOf\":[{\"claim\":\"a\",\"equals\":1}]}]}"),
                   CP_EVERSION);
        ASSERT_ERR(parse("{\"anyOf\":[{" A ",\"allOf\":[{\"claim\":\"a\",\"equals\":1}]}]}"), CP_EFORMAT);
        ASSERT_ERR(parse("{\"version\":\"1.0.0\",\"anyOf\":[]}"), CP_EFORMAT);
        ASSERT_ERR(parse("{\"version\":\"1.0.0\",\"anyOf\":[{" A "}]}"), CP_EFORMAT);
        ASSERT_ERR(parse("{\"version\":\"1.0.0\",\"anyOf\":[{\"allOf\":[{\"claim\":\"a\",\"equals\":1}]}]}"), CP_EFORMAT);
        ASSERT_ERR(parse("{\"version\":\"1.0.0\",\"anyOf\":[{" A ",\"allOf\":[{\"claim\":\"a\"}]}]}"), CP_EFORMAT);
        ASSERT_ERR(parse("{\"version\":\"1.0.0\",\"anyOf\":[{" A ",\"allOf\":[{\"claim\":\"a\",\"equals\":1,\"less\":2}]}]}"),
                   CP_EFORMAT);
        ASSERT_ERR(parse("{\"version\":\"1.0.0\",\"anyOf\":[{" A ",\"allOf\":[{\"claim\":\"a\",\"less\":\"x\"}]}]}"), CP_EFORMAT);
        ASSERT_ERR(parse("{\"version\":\"1.0.0\",\"anyOf\":[{" A ",\"allOf\":[{\"claim\":\"a\",\"exists\":1}]}]}"), CP_EFORMAT);
        ASSERT_ERR(parse("{\"version\":\"1.0.0\",\"anyOf\":[{" A ",\"allOf\":[{\"claim\":\"a\",\"equals\":{}}]}]}"), CP_EFORMAT);
        ASSERT_ERR(parse("{\"version\":\"1.0.0\",\"anyOf\":[{" A ",\"allOf\":[{\"claim\":\"a..b\",\"equals\":1}]}]}"), CP_EFORMAT);
        ASSERT_ERR(parse("{\"version\":\"1.0.0\",\"anyOf\":[{" A ",\"allOf\":[{\"claim\":\"a\",\"matches\":1}]}]}"), CP_EFORMAT);
        ASSERT_ERR(parse("{\"version\":\"1.0.0\",\"anyOf\":[{" A ",\"allOf\":[],\"anyOf\":[]}]}"), CP_EFORMAT);
        ASSERT_ERR(parse("{\"version\":\"1.0.0\",\"anyOf\":[{" A ",\"allOf\":[{\"claim\":\"a\",\"equals\":1,\"anyOf\":[]}]}]}"),
                   CP_EFORMAT);
        ASSERT_ERR(parse("{\"version\":\"1.0.0\",\"version\":\"1.0.0\"}"), CP_EFORMAT);
        ASSERT_ERR(parse("[]"), CP_EFORMAT);
        ASSERT_ERR(parse("{\"version\":\"1.0.0\",\"anyOf\":[{" A ",\"allOf\":[{\"claim\":\"a\",\"equals\":1}]}]} x"), CP_EFORMAT);
        /* nesting limit */
        char deep[4096] = "{\"version\":\"1.0.0\",\"anyOf\":[{" A ",\"allOf\":[";
        for (int i = 0; i < 20; i++)
                strcat(deep, "{\"anyOf\":[");
        strcat(deep, "{\"claim\":\"a\",\"equals\":1}");
        for (int i = 0; i < 20; i++)
                strcat(deep, "]}");
        strcat(deep, "]}]}");
        ASSERT_ERR(parse(deep), CP_ETOOBIG);
        /* truncation at every length fails */
        const char *ok = "{\"version\":\"1.0.0\",\"anyOf\":[{" A ",\"allOf\":[{\"claim\":\"a\",\"equals\":1}]}]}";
        for (size_t l = 0; l < strlen(ok); l++) {
                cp_release_policy *p = NULL;
                ASSERT_FAILS(cp_release_policy_parse(ok, l, &p));
        }
}

TEST(policy_evaluation_semantics) {
        const char *txt = "{\"version\":\"1.0.0\",\"anyOf\":[{" A ",\"allOf\":["
                          "{\"claim\":\"tee.type\",\"equals\":\"sevsnpvm\"},{\"claim\":\"svn\",\"greaterOrEquals\":3},"
                          "{\"claim\":\"debug\",\"equals\":false},{\"claim\":\"absent\",\"exists\":false}]}]}";
        cp_release_policy *p = NULL;
        char why[CP_RELEASE_REASON_MAX];
        ASSERT_OK(cp_release_policy_parse(txt, strlen(txt), &p));
        ASSERT_EQ(cp_release_policy_n_authorities(p), 1);
        json_t *c = json_pack("{s:{s:s},s:i,s:b}", "tee", "type", "sevsnpvm", "svn", 3, "debug", 0);
        ASSERT_OK(cp_release_policy_evaluate(p, "https://maa.example", c, why, sizeof(why))); /* trailing / ignored */
        ASSERT_ERR(cp_release_policy_evaluate(p, "https://other", c, why, sizeof(why)), CP_EPOLICY);
        ASSERT_TRUE(strstr(why, "no authority") != NULL);
        json_object_set_new(c, "svn", json_real(2.5));
        ASSERT_ERR(cp_release_policy_evaluate(p, "https://maa.example/", c, why, sizeof(why)), CP_EPOLICY);
        ASSERT_TRUE(strstr(why, "svn") != NULL);
        json_object_set_new(c, "svn", json_string("9")); /* strings never compare as numbers */
        ASSERT_ERR(cp_release_policy_evaluate(p, "https://maa.example/", c, why, sizeof(why)), CP_EPOLICY);
        json_object_set_new(c, "svn", json_integer(4));
        json_object_set_new(c, "debug", json_string("false")); /* type matters */
        ASSERT_ERR(cp_release_policy_evaluate(p, "https://maa.example/", c, why, sizeof(why)), CP_EPOLICY);
        json_object_set_new(c, "debug", json_false());
        json_object_set_new(c, "absent", json_null());
        ASSERT_ERR(cp_release_policy_evaluate(p, "https://maa.example/", c, why, sizeof(why)), CP_EPOLICY);
        json_object_del(c, "absent");
        json_object_set_new(c, "tee", json_pack("[s]", "sevsnpvm")); /* no array indexing */
        ASSERT_ERR(cp_release_policy_evaluate(p, "https://maa.example/", c, why, sizeof(why)), CP_EPOLICY);
        json_decref(c);
        cp_release_policy_free(p);
}

TEST(tee_key_selection) {
        const json_t *k;
        json_t *c = json_pack("{s:{s:[{s:s,s:s,s:[s]},{s:s,s:s,s:[s]},{s:s,s:s,s:[s]}]}}", "x-ms-runtime", "keys", "kid", "ak",
                              "kty", "RSA", "key_ops", "sign", "kid", "ec", "kty", "EC", "key_ops", "encrypt", "kid", "tee",
                              "kty", "RSA", "key_ops", "encrypt");
        ASSERT_OK(cp_release_find_tee_key(c, &k));
        ASSERT_STREQ(json_string_value(json_object_get(k, "kid")), "tee");
        json_decref(c);
        c = json_pack("{s:{s:{s:[{s:s,s:s,s:[s]}]}}}", "x-ms-isolation-tee", "x-ms-runtime", "keys", "kid", "x", "kty",
                      "RSA", "key_ops", "encrypt");
        ASSERT_ERR(cp_release_find_tee_key(c, &k), CP_ENOTFOUND); /* only the top-level x-ms-runtime */
        json_decref(c);
        c = json_pack("{s:{s:[{s:s,s:s,s:s}]}}", "x-ms-runtime", "keys", "kid", "u", "kty", "RSA", "use", "enc");
        ASSERT_OK(cp_release_find_tee_key(c, &k));
        json_decref(c);
}

/* Issue 20 item 2 (found by fuzz-kbsd-routes): a TEE key from a token that
 * cannot be an RSA key is refused when read, not by a failing wrap later
 * (the key broker answered 500 InternalError). */
TEST(tee_jwk_even_modulus_or_leading_zero_refused) {
        cp_wrap_key *k = NULL, *pub = NULL;
        json_t *jwk;
        ASSERT_OK(cp_wrap_key_generate(2048, &k));
        ASSERT_OK(cp_wrap_key_to_jwk(k, &jwk));
        uint8_t n[520];
        size_t nl;
        const char *n64 = json_string_value(json_object_get(jwk, "n"));
        ASSERT_OK(cp_b64_decode(n64, strlen(n64), CP_B64_URL, n + 1, sizeof(n) - 1, &nl));
        char enc[800];
        /* even: the last octet's low bit cleared */
        n[nl] &= 0xfe;
        cp_b64_encode(n + 1, nl, CP_B64_URL, enc);
        json_object_set_new(jwk, "n", json_string(enc));
        ASSERT_ERR(cp_wrap_key_from_jwk(jwk, &pub), CP_EFORMAT);
        ASSERT_TRUE(strstr(cp_error_message(), "even") != NULL);
        /* a leading zero octet (2048 bits padded to 2056) */
        n[nl] |= 1;
        n[0] = 0;
        cp_b64_encode(n, nl + 1, CP_B64_URL, enc);
        json_object_set_new(jwk, "n", json_string(enc));
        ASSERT_ERR(cp_wrap_key_from_jwk(jwk, &pub), CP_EFORMAT);
        /* the key itself is accepted and wraps */
        cp_b64_encode(n + 1, nl, CP_B64_URL, enc);
        json_object_set_new(jwk, "n", json_string(enc));
        ASSERT_OK(cp_wrap_key_from_jwk(jwk, &pub));
        uint8_t *w = NULL, plain[32] = { 1 };
        size_t wl;
        ASSERT_OK(cp_keywrap_wrap(pub, CP_KEYWRAP_CKM_RSA_AES, plain, sizeof plain, &w, &wl));
        free(w);
        cp_wrap_key_free(pub);
        cp_wrap_key_free(k);
        json_decref(jwk);
}

TEST(key_wrap_roundtrip_and_tampering) {
        cp_wrap_key *priv = NULL, *pub = NULL, *other = NULL;
        ASSERT_OK(cp_wrap_key_generate(2048, &priv));
        ASSERT_OK(cp_wrap_key_generate(2048, &other));
        json_t *jwk;
        ASSERT_OK(cp_wrap_key_to_jwk(priv, &jwk));
        ASSERT_OK(cp_wrap_key_from_jwk(jwk, &pub));
        ASSERT_FALSE(cp_wrap_key_is_private(pub));
        uint8_t plain[300];
        ASSERT_EQ(RAND_bytes(plain, sizeof(plain)), 1);
        const size_t lens[] = { 1, 7, 8, 32, 300 };
        for (cp_keywrap_alg a = CP_KEYWRAP_CKM_RSA_AES; a <= CP_KEYWRAP_RSA_AES_384; a++)
                for (size_t i = 0; i < CP_ELEMENTSOF(lens); i++) {
                        uint8_t *w, *u;
                        size_t wl, ul;
                        ASSERT_OK(cp_keywrap_wrap(pub, a, plain, lens[i], &w, &wl));
                        ASSERT_EQ(wl, 256 + (lens[i] + 7) / 8 * 8 + 8);
                        ASSERT_OK(cp_keywrap_unwrap(priv, a, w, wl, &u, &ul));
                        ASSERT_EQ(ul, lens[i]);
                        ASSERT_MEMEQ(u, plain, ul);
                        free(u);
                        /* other OAEP hash, other key, tampered RSA or KWP part, truncation */
                        cp_keywrap_alg b = a == CP_KEYWRAP_CKM_RSA_AES ? CP_KEYWRAP_RSA_AES_256 : CP_KEYWRAP_CKM_RSA_AES;
                        ASSERT_ERR(cp_keywrap_unwrap(priv, b, w, wl, &u, &ul), CP_ESIG);
                        ASSERT_ERR(cp_keywrap_unwrap(other, a, w, wl, &u, &ul), CP_ESIG);
                        w[wl - 1] ^= 1;
                        ASSERT_ERR(cp_keywrap_unwrap(priv, a, w, wl, &u, &ul), CP_ESIG);
                        w[wl - 1] ^= 1;
                        w[3] ^= 1;
                        ASSERT_ERR(cp_keywrap_unwrap(priv, a, w, wl, &u, &ul), CP_ESIG);
                        ASSERT_ERR(cp_keywrap_unwrap(priv, a, w, 255, &u, &ul), CP_ETRUNC);
                        ASSERT_ERR(cp_keywrap_unwrap(priv, a, w, 256 + 8, &u, &ul), CP_EFORMAT);
                        ASSERT_ERR(cp_keywrap_unwrap(priv, a, w, wl - 1, &u, &ul), CP_EFORMAT);
                        ASSERT_ERR(cp_keywrap_unwrap(pub, a, w, wl, &u, &ul), CP_EINVAL);
                        free(w);
                }
        uint8_t *w;
        size_t wl;
        ASSERT_ERR(cp_keywrap_wrap(pub, CP_KEYWRAP_INVALID, plain, 8, &w, &wl), CP_EUNSUPPORTED);
        ASSERT_ERR(cp_keywrap_wrap(pub, CP_KEYWRAP_CKM_RSA_AES, plain, 0, &w, &wl), CP_EINVAL);
        cp_keywrap_alg a;
        ASSERT_ERR(cp_keywrap_alg_from_name("RSA-OAEP", &a), CP_EUNSUPPORTED);
        ASSERT_OK(cp_keywrap_alg_from_name("RSA_AES_KEY_WRAP_384", &a));
        ASSERT_EQ(a, CP_KEYWRAP_RSA_AES_384);
        /* key_hsm envelope */
        ASSERT_OK(cp_keywrap_wrap(pub, CP_KEYWRAP_RSA_AES_256, plain, 32, &w, &wl));
        char *hsm;
        ASSERT_OK(cp_keyrelease_key_hsm_encode("TpmEphemeralEncryptionKey", CP_KEYWRAP_RSA_AES_256, w, wl, &hsm));
        uint8_t *w2;
        size_t wl2;
        ASSERT_OK(cp_keyrelease_key_hsm_decode(hsm, strlen(hsm), &a, &w2, &wl2));
        ASSERT_EQ(a, CP_KEYWRAP_RSA_AES_256);
        ASSERT_EQ(wl2, wl);
        ASSERT_MEMEQ(w2, w, wl);
        ASSERT_FAILS(cp_keyrelease_key_hsm_decode("e30", 3, &a, &w2, &wl2)); /* {} */
        free(w2);
        free(hsm);
        free(w);
        /* JWKs that are not usable RSA keys */
        json_object_set_new(jwk, "kty", json_string("EC"));
        ASSERT_ERR(cp_wrap_key_from_jwk(jwk, &other), CP_EUNSUPPORTED);
        json_object_set_new(jwk, "kty", json_string("RSA"));
        json_object_set_new(jwk, "n", json_string("AQAB"));
        ASSERT_ERR(cp_wrap_key_from_jwk(jwk, &other), CP_EUNSUPPORTED);
        json_decref(jwk);
        cp_wrap_key_free(priv);
        cp_wrap_key_free(pub);
        cp_wrap_key_free(other);
}

/* anyOf of a TdxVm and an AzureGuest alternative (issue 16): the refusal
 * names the condition of the alternative that got furthest, whichever
 * comes first, not the other token shape's first claim */
TEST(any_of_reason_names_the_furthest_alternative) {
        const char *txt =
                "{\"version\":\"1.0.0\",\"anyOf\":["
                "{\"authority\":\"https://maa.example\",\"allOf\":[{\"claim\":\"x-ms-attestation-type\",\"equals\":"
                "\"tdxvm\"},{\"claim\":\"tdx_mrtd\",\"equals\":\"aa\"}]},"
                "{\"authority\":\"https://maa.example\",\"allOf\":[{\"claim\":\"x-ms-attestation-type\",\"equals\":"
                "\"azurevm\"},{\"claim\":\"x-ms-isolation-tee.tdx_mrtd\",\"equals\":\"aa\"}]}]}";
        cp_release_policy *p = NULL;
        char why[512];
        ASSERT_OK(cp_release_policy_parse(txt, strlen(txt), &p));
        json_t *tdx = json_pack("{s:s,s:s}", "x-ms-attestation-type", "tdxvm", "tdx_mrtd", "bb");
        json_t *guest = json_pack("{s:s,s:{s:s}}", "x-ms-attestation-type", "azurevm", "x-ms-isolation-tee", "tdx_mrtd",
                                  "bb");
        ASSERT_ERR(cp_release_policy_evaluate(p, "https://maa.example", tdx, why, sizeof(why)), CP_EPOLICY);
        ASSERT_TRUE(strstr(why, "\"tdx_mrtd\"") != NULL);
        ASSERT_ERR(cp_release_policy_evaluate(p, "https://maa.example", guest, why, sizeof(why)), CP_EPOLICY);
        ASSERT_TRUE(strstr(why, "x-ms-isolation-tee.tdx_mrtd") != NULL);
        json_object_set_new(json_object_get(guest, "x-ms-isolation-tee"), "tdx_mrtd", json_string("aa"));
        ASSERT_OK(cp_release_policy_evaluate(p, "https://maa.example", guest, why, sizeof(why)));
        cp_error_clear();
        json_decref(tdx);
        json_decref(guest);
        cp_release_policy_free(p);
}

/* cp_rsa_generate (nettle's generator, issue 19) checked by OpenSSL: the
 * full key check (primality of p and q, d, CRT values), the exact size,
 * e = 65537, an OAEP round trip and a signature through OpenSSL, distinct
 * keys; sizes other than 2048/3072/4096 refused. */
static void rsa_roundtrip(EVP_PKEY *k, unsigned bits) {
        ASSERT_EQ(EVP_PKEY_get_bits(k), (int) bits);
        BIGNUM *e = NULL;
        ASSERT_TRUE(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_E, &e) == 1);
        ASSERT_TRUE(BN_is_word(e, 65537));
        BN_free(e);
        EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
        ASSERT_TRUE(c != NULL);
        ASSERT_TRUE(EVP_PKEY_check(c) == 1); /* OpenSSL's full check: p and q prime, n = p*q, d, CRT */
        ASSERT_TRUE(EVP_PKEY_encrypt_init(c) == 1);
        ASSERT_TRUE(EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) == 1);
        uint8_t msg[32], ct[512], pt[512];
        ASSERT_TRUE(RAND_bytes(msg, sizeof msg) == 1);
        size_t ctl = sizeof ct, ptl = sizeof pt;
        ASSERT_TRUE(EVP_PKEY_encrypt(c, ct, &ctl, msg, sizeof msg) == 1);
        ASSERT_TRUE(EVP_PKEY_decrypt_init(c) == 1);
        ASSERT_TRUE(EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) == 1);
        ASSERT_TRUE(EVP_PKEY_decrypt(c, pt, &ptl, ct, ctl) == 1);
        ASSERT_EQ(ptl, sizeof msg);
        ASSERT_TRUE(memcmp(pt, msg, sizeof msg) == 0);
        EVP_PKEY_CTX_free(c);
        EVP_MD_CTX *m = EVP_MD_CTX_new();
        uint8_t sig[512];
        size_t sl = sizeof sig;
        ASSERT_TRUE(EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, k) == 1);
        ASSERT_TRUE(EVP_DigestSign(m, sig, &sl, msg, sizeof msg) == 1);
        ASSERT_TRUE(EVP_DigestVerifyInit(m, NULL, EVP_sha256(), NULL, k) == 1);
        ASSERT_TRUE(EVP_DigestVerify(m, sig, sl, msg, sizeof msg) == 1);
        msg[0] ^= 1;
        ASSERT_TRUE(EVP_DigestVerifyInit(m, NULL, EVP_sha256(), NULL, k) == 1);
        ASSERT_TRUE(EVP_DigestVerify(m, sig, sl, msg, sizeof msg) != 1);
        EVP_MD_CTX_free(m);
}

TEST(rsa_generate_checked_by_openssl) {
        EVP_PKEY *k[4] = {0};
        for (int i = 0; i < 3; i++) {
                ASSERT_OK(cp_rsa_generate(2048, &k[i]));
                rsa_roundtrip(k[i], 2048);
        }
        ASSERT_TRUE(EVP_PKEY_eq(k[0], k[1]) != 1);
        ASSERT_TRUE(EVP_PKEY_eq(k[1], k[2]) != 1);
        ASSERT_OK(cp_rsa_generate(3072, &k[3]));
        rsa_roundtrip(k[3], 3072);
        for (int i = 0; i < 4; i++)
                EVP_PKEY_free(k[i]);
        EVP_PKEY *bad = NULL;
        ASSERT_ERR(cp_rsa_generate(1024, &bad), CP_EINVAL);
        ASSERT_ERR(cp_rsa_generate(2049, &bad), CP_EINVAL);
        ASSERT_ERR(cp_rsa_generate(8192, &bad), CP_EINVAL);
        ASSERT_TRUE(bad == NULL);
        ASSERT_ERR(cp_rsa_generate(2048, NULL), CP_EINVAL);
        cp_error_clear();
        /* a wrap key made by it unwraps what OpenSSL's public half wrapped (the broker's side) */
        cp_wrap_key *w = NULL;
        ASSERT_OK(cp_wrap_key_generate(4096, &w));
        ASSERT_EQ(cp_wrap_key_bits(w), 4096);
        ASSERT_TRUE(cp_wrap_key_is_private(w));
        cp_wrap_key_free(w);
}
