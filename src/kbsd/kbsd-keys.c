/* SPDX-License-Identifier: Apache-2.0 */
/* confpool-kbsd key material: key types, generation, BYOK import of private
 * JWKs, public JWKs, versions and names, the Key Vault key bundle. */

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/secure.h"
#include "kbsd-internal.h"
#include "libconfpool/rsagen.h"
#include "ossl/ossl-util.h"

static int pkcs8_der(EVP_PKEY *p, uint8_t **ret, size_t *ret_len) {
        PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(p);
        uint8_t *der = NULL;
        if (!p8)
                return CP_ERROR(CP_ECRYPTO, "PKCS#8 encoding");
        int n = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
        PKCS8_PRIV_KEY_INFO_free(p8);
        if (n <= 0)
                return CP_ERROR(CP_ECRYPTO, "PKCS#8 encoding");
        uint8_t *out = malloc((size_t) n);
        if (!out) {
                OPENSSL_clear_free(der, (size_t) n);
                return cp_error_oom();
        }
        memcpy(out, der, (size_t) n);
        OPENSSL_clear_free(der, (size_t) n);
        *ret = out;
        *ret_len = (size_t) n;
        return 0;
}

static int set_b64(json_t *o, const char *k, const uint8_t *p, size_t n) {
        char *s = malloc(cp_b64_encoded_len(n, CP_B64_URL) + 1);
        if (!s)
                return cp_error_oom();
        cp_b64_encode(p, n, CP_B64_URL, s);
        int r = json_object_set_new(o, k, json_string(s));
        free(s);
        return r < 0 ? cp_error_oom() : 0;
}

static int set_bn(json_t *o, const char *k, EVP_PKEY *p, const char *param, size_t pad) {
        _cleanup_bn_secret_ BIGNUM *bn = NULL;
        uint8_t buf[1024];
        if (!EVP_PKEY_get_bn_param(p, param, &bn))
                return CP_ERROR(CP_ECRYPTO, "key parameter %s", param);
        size_t n = pad ? pad : (size_t) BN_num_bytes(bn);
        if (n > sizeof(buf) || BN_bn2binpad(bn, buf, (int) n) < 0)
                return CP_ERROR(CP_ECRYPTO, "key parameter %s too big", param);
        return set_b64(o, k, buf, n);
}

static int public_jwk(EVP_PKEY *p, const char *kty, const char *crv, json_t **ret) {
        json_t *o = json_pack("{s:s}", "kty", kty);
        int r = 0;
        if (!o)
                return cp_error_oom();
        if (!strcmp(kty, "RSA"))
                r = set_bn(o, "n", p, OSSL_PKEY_PARAM_RSA_N, 0) < 0 ? -1 : set_bn(o, "e", p, OSSL_PKEY_PARAM_RSA_E, 0);
        else if (!strcmp(kty, "EC")) {
                size_t c = !strcmp(crv, "P-256") ? 32 : 48;
                json_object_set_new(o, "crv", json_string(crv));
                if ((r = set_bn(o, "x", p, OSSL_PKEY_PARAM_EC_PUB_X, c)) >= 0)
                        r = set_bn(o, "y", p, OSSL_PKEY_PARAM_EC_PUB_Y, c);
        }
        if (r < 0) {
                json_decref(o);
                return CP_ERROR(CP_ECRYPTO, "public key export");
        }
        *ret = o;
        return 0;
}

int cp_kbsd_keyspec_parse(const char *kty_in, int size, const char *crv, cp_kbsd_keyspec *ks) {
        memset(ks, 0, sizeof(*ks));
        if (!kty_in)
                return CP_ERROR(CP_EINVAL, "\"kty\" is required");
        if (!strcmp(kty_in, "RSA") || !strcmp(kty_in, "RSA-HSM")) {
                strcpy(ks->kty, "RSA");
                ks->key_size = size ? size : 2048;
                if (ks->key_size != 2048 && ks->key_size != 3072 && ks->key_size != 4096)
                        return CP_ERROR(CP_EINVAL, "RSA key_size must be 2048, 3072 or 4096");
        } else if (!strcmp(kty_in, "EC") || !strcmp(kty_in, "EC-HSM")) {
                strcpy(ks->kty, "EC");
                if (!crv)
                        crv = "P-256";
                if (strcmp(crv, "P-256") && strcmp(crv, "P-384"))
                        return CP_ERROR(CP_EINVAL, "EC crv must be P-256 or P-384");
                strcpy(ks->crv, crv);
                ks->key_size = crv[2] == '2' ? 256 : 384;
        } else if (!strcmp(kty_in, "oct") || !strcmp(kty_in, "oct-HSM")) {
                strcpy(ks->kty, "oct");
                ks->key_size = size ? size : 256;
                if (ks->key_size != 256)
                        return CP_ERROR(CP_EINVAL, "oct key_size must be 256");
        } else
                return CP_ERROR(CP_EINVAL, "kty \"%.20s\" (RSA, RSA-HSM, EC, EC-HSM, oct, oct-HSM)", kty_in);
        return 0;
}

int cp_kbsd_key_generate(const cp_kbsd_keyspec *ks, uint8_t **ret, size_t *ret_len, json_t **ret_jwk) {
        if (!strcmp(ks->kty, "oct")) {
                uint8_t *k = malloc(32);
                if (!k || RAND_bytes(k, 32) != 1) {
                        free(k);
                        return CP_ERROR(CP_ECRYPTO, "random key");
                }
                *ret_jwk = json_pack("{s:s}", "kty", "oct");
                *ret = k;
                *ret_len = 32;
                return 0;
        }
        _cleanup_evp_pkey_ EVP_PKEY *p = NULL;
        int r;
        if (!strcmp(ks->kty, "RSA")) {
                if ((r = cp_rsa_generate((unsigned) ks->key_size, &p)) < 0)
                        return r;
        } else if (!(p = EVP_EC_gen(!strcmp(ks->crv, "P-256") ? "P-256" : "P-384")))
                return CP_ERROR(CP_ECRYPTO, "key generation");
        if ((r = public_jwk(p, ks->kty, ks->crv, ret_jwk)) < 0)
                return r;
        if ((r = pkcs8_der(p, ret, ret_len)) < 0) {
                json_decref(*ret_jwk);
                return r;
        }
        return 0;
}

/* ---- BYOK ------------------------------------------------------------------------- */

/* What a private key is built from.  OSSL_PARAM_BLD keeps pointers to the
 * BIGNUMs and the point it is given until OSSL_PARAM_BLD_to_param(), so they
 * live here, beside it, for as long as it does. */
typedef struct jwk_params {
        OSSL_PARAM_BLD *bld;
        BIGNUM *bns[8];
        uint8_t pt[1 + 2 * 48]; /* EC public point, uncompressed */
} jwk_params;

static void jwk_params_clear(jwk_params *jp) {
        OSSL_PARAM_BLD_free(jp->bld);
        for (size_t i = 0; i < CP_ELEMENTSOF(jp->bns); i++)
                BN_clear_free(jp->bns[i]);
        memset(jp, 0, sizeof(*jp));
}

static int jwk_bn(const json_t *jwk, const char *k, BIGNUM **ret) {
        const char *s = json_string_value(json_object_get(jwk, k));
        uint8_t buf[1024];
        size_t n;
        if (!s || cp_b64_decode(s, strlen(s), CP_B64_URL, buf, sizeof(buf), &n) < 0 || n == 0)
                return CP_ERROR(CP_EINVAL, "JWK member \"%s\" missing or not base64url", k);
        *ret = BN_bin2bn(buf, (int) n, NULL);
        cp_wipe(buf, sizeof(buf));
        return *ret ? 0 : cp_error_oom();
}

static int oct_from_jwk(const json_t *jwk, uint8_t **ret, size_t *ret_len, json_t **ret_pub) {
        const char *k = json_string_value(json_object_get(jwk, "k"));
        uint8_t *b = malloc(64);
        size_t n;
        if (!b)
                return cp_error_oom();
        if (!k || cp_b64_decode(k, strlen(k), CP_B64_URL, b, 64, &n) < 0 || n != 32) {
                cp_wipe(b, 64);
                free(b);
                return CP_ERROR(CP_EINVAL, "oct JWK \"k\" must be 32 bytes of base64url");
        }
        *ret = b;
        *ret_len = 32;
        *ret_pub = json_pack("{s:s}", "kty", "oct");
        return 0;
}

static int rsa_params(const json_t *jwk, jwk_params *jp) {
        static const char *const jn[8] = { "n", "e", "d", "p", "q", "dp", "dq", "qi" };
        static const char *const pn[8] = { OSSL_PKEY_PARAM_RSA_N,        OSSL_PKEY_PARAM_RSA_E,
                                           OSSL_PKEY_PARAM_RSA_D,        OSSL_PKEY_PARAM_RSA_FACTOR1,
                                           OSSL_PKEY_PARAM_RSA_FACTOR2,  OSSL_PKEY_PARAM_RSA_EXPONENT1,
                                           OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1 };
        int r;
        for (int i = 0; i < 8; i++) {
                if ((r = jwk_bn(jwk, jn[i], &jp->bns[i])) < 0)
                        return r;
                if (!OSSL_PARAM_BLD_push_BN(jp->bld, pn[i], jp->bns[i]))
                        return cp_error_oom();
        }
        return 0;
}

static int ec_params(const json_t *jwk, const cp_kbsd_keyspec *ks, jwk_params *jp) {
        uint8_t xb[48], yb[48];
        size_t c = !strcmp(ks->crv, "P-256") ? 32 : 48, xl, yl;
        const char *x = json_string_value(json_object_get(jwk, "x")), *y = json_string_value(json_object_get(jwk, "y"));
        int r;
        if (!x || !y || cp_b64_decode(x, strlen(x), CP_B64_URL, xb, sizeof(xb), &xl) < 0 ||
            cp_b64_decode(y, strlen(y), CP_B64_URL, yb, sizeof(yb), &yl) < 0 || xl != c || yl != c)
                return CP_ERROR(CP_EINVAL, "EC JWK x/y must be %zu bytes of base64url", c);
        jp->pt[0] = 4;
        memcpy(jp->pt + 1, xb, c);
        memcpy(jp->pt + 1 + c, yb, c);
        if ((r = jwk_bn(jwk, "d", &jp->bns[0])) < 0)
                return r;
        if (!OSSL_PARAM_BLD_push_utf8_string(jp->bld, OSSL_PKEY_PARAM_GROUP_NAME, c == 32 ? "prime256v1" : "secp384r1", 0) ||
            !OSSL_PARAM_BLD_push_octet_string(jp->bld, OSSL_PKEY_PARAM_PUB_KEY, jp->pt, 1 + 2 * c) ||
            !OSSL_PARAM_BLD_push_BN(jp->bld, OSSL_PKEY_PARAM_PRIV_KEY, jp->bns[0]))
                return cp_error_oom();
        return 0;
}

/* The key the parameters describe, if its private half matches its public half. */
static int pkey_from_params(jwk_params *jp, const char *type, EVP_PKEY **ret) {
        _cleanup_params_ OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(jp->bld);
        _cleanup_evp_pkey_ctx_ EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
        _cleanup_evp_pkey_ EVP_PKEY *p = NULL;
        if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) <= 0 || EVP_PKEY_fromdata(ctx, &p, EVP_PKEY_KEYPAIR, params) <= 0)
                return CP_ERROR(CP_EINVAL, "JWK is not a valid %s private key", type);
        _cleanup_evp_pkey_ctx_ EVP_PKEY_CTX *chk = EVP_PKEY_CTX_new_from_pkey(NULL, p, NULL);
        if (!chk || EVP_PKEY_pairwise_check(chk) != 1)
                return CP_ERROR(CP_EINVAL, "JWK private key fails its consistency check");
        *ret = TAKE_PTR(p);
        return 0;
}

int cp_kbsd_key_import_jwk(const json_t *jwk, cp_kbsd_keyspec *ks, uint8_t **ret, size_t *ret_len, json_t **ret_pub) {
        const char *kty = json_string_value(json_object_get(jwk, "kty"));
        _cleanup_evp_pkey_ EVP_PKEY *p = NULL;
        jwk_params jp = { 0 };
        int r;
        if ((r = cp_kbsd_keyspec_parse(kty, 0, json_string_value(json_object_get(jwk, "crv")), ks)) < 0)
                return r;
        if (!strcmp(ks->kty, "oct"))
                return oct_from_jwk(jwk, ret, ret_len, ret_pub);
        bool rsa = !strcmp(ks->kty, "RSA");
        if (!(jp.bld = OSSL_PARAM_BLD_new()))
                r = cp_error_oom();
        else if ((r = rsa ? rsa_params(jwk, &jp) : ec_params(jwk, ks, &jp)) == 0)
                r = pkey_from_params(&jp, rsa ? "RSA" : "EC", &p);
        jwk_params_clear(&jp);
        if (r < 0)
                return r;
        if (rsa)
                ks->key_size = EVP_PKEY_get_bits(p);
        if (rsa && ks->key_size != 2048 && ks->key_size != 3072 && ks->key_size != 4096)
                return CP_ERROR(CP_EINVAL, "RSA key of %d bits (2048, 3072, 4096)", ks->key_size);
        if ((r = public_jwk(p, ks->kty, ks->crv, ret_pub)) < 0)
                return r;
        if ((r = pkcs8_der(p, ret, ret_len)) < 0) {
                json_decref(*ret_pub);
                return r;
        }
        return 0;
}

/* ---- names, versions, bundles --------------------------------------------------------- */

int cp_kbsd_new_version(char out[33]) {
        uint8_t b[16];
        if (RAND_bytes(b, sizeof(b)) != 1)
                return CP_ERROR(CP_ECRYPTO, "random version");
        cp_hex_encode(b, sizeof(b), out);
        return 0;
}

bool cp_kbsd_valid_name(const char *n) {
        size_t l = strlen(n);
        if (l == 0 || l > CP_KBSD_MAX_NAME)
                return false;
        for (size_t i = 0; i < l; i++)
                if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= 'A' && n[i] <= 'Z') || (n[i] >= '0' && n[i] <= '9') ||
                      n[i] == '-'))
                        return false;
        return true;
}

static const char *kv_kty(const cp_kbsd_keyrow *k) {
        return !strcmp(k->kty, "RSA") ? "RSA-HSM" : !strcmp(k->kty, "EC") ? "EC-HSM" : "oct-HSM";
}

static json_t *key_ops_of(const cp_kbsd_keyrow *k) {
        if (!strcmp(k->kty, "EC"))
                return json_pack("[s,s]", "sign", "verify");
        if (!strcmp(k->kty, "oct"))
                return json_pack("[s,s,s,s]", "encrypt", "decrypt", "wrapKey", "unwrapKey");
        return json_pack("[s,s,s,s,s,s]", "encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey");
}

json_t *cp_kbsd_key_bundle(const cp_kbsd *s, const cp_kbsd_keyrow *k, const char *key_hsm) {
        json_t *key = json_deep_copy(k->public_jwk);
        char kid[512];
        snprintf(kid, sizeof(kid), "%s/keys/%s/%s", s->vault_url, k->name, k->version);
        json_object_set_new(key, "kid", json_string(kid));
        json_object_set_new(key, "kty", json_string(kv_kty(k)));
        json_object_set_new(key, "key_ops", key_ops_of(k));
        if (key_hsm)
                json_object_set_new(key, "key_hsm", json_string(key_hsm));
        json_t *attr = json_pack("{s:b,s:b,s:I,s:I,s:s,s:i}", "enabled", k->enabled, "exportable", k->exportable,
                                 "created", (json_int_t) k->created, "updated", (json_int_t) k->updated,
                                 "recoveryLevel", "Recoverable+Purgeable", "recoverableDays",
                                 (int) s->cfg.recovery_days);
        json_t *b = json_pack("{s:o,s:o,s:O}", "key", key, "attributes", attr, "tags", k->tags);
        if (k->policy) {
                char *d = malloc(cp_b64_encoded_len(strlen(k->policy), CP_B64_URL) + 1);
                if (d) {
                        cp_b64_encode((const uint8_t *) k->policy, strlen(k->policy), CP_B64_URL, d);
                        json_object_set_new(b, "release_policy",
                                            json_pack("{s:s,s:s,s:b}", "contentType", "application/json; charset=utf-8",
                                                      "data", d, "immutable", k->policy_immutable));
                        free(d);
                }
        }
        if (k->deleted) {
                json_object_set_new(b, "deletedDate", json_integer(k->deleted));
                json_object_set_new(b, "scheduledPurgeDate", json_integer(k->purge_at));
        }
        return b;
}
