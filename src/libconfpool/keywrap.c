/* SPDX-License-Identifier: Apache-2.0 */
/* CKM_RSA_AES_KEY_WRAP: RSA-OAEP of an ephemeral AES-256 key, then AES key
 * wrap with padding (RFC 5649) of the key material; the key_hsm envelope of
 * Key Vault release responses. */

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/cursor.h"
#include "basic/secure.h"
#include "confpool/keyrelease.h"
#include "ossl/ossl-util.h"
#include "libconfpool/rsagen.h"

#define RSA_MIN_BITS 2048u
#define RSA_MAX_BITS 4096u
#define EPHEMERAL_LEN 32u

struct cp_wrap_key {
        EVP_PKEY *pkey;
        bool priv;
        unsigned bits;
};

static inline void param_bld_freep(OSSL_PARAM_BLD **p) {
        OSSL_PARAM_BLD_free(*p);
}
static inline void params_freep(OSSL_PARAM **p) {
        OSSL_PARAM_free(*p);
}
static inline void cipher_ctx_freep(EVP_CIPHER_CTX **p) {
        EVP_CIPHER_CTX_free(*p);
}

const char *cp_keywrap_alg_name(cp_keywrap_alg alg) {
        switch (alg) {
        case CP_KEYWRAP_CKM_RSA_AES:
                return "CKM_RSA_AES_KEY_WRAP";
        case CP_KEYWRAP_RSA_AES_256:
                return "RSA_AES_KEY_WRAP_256";
        case CP_KEYWRAP_RSA_AES_384:
                return "RSA_AES_KEY_WRAP_384";
        default:
                return "invalid";
        }
}

int cp_keywrap_alg_from_name(const char *name, cp_keywrap_alg *ret) {
        for (cp_keywrap_alg a = CP_KEYWRAP_CKM_RSA_AES; a <= CP_KEYWRAP_RSA_AES_384; a++)
                if (name && !strcmp(name, cp_keywrap_alg_name(a))) {
                        *ret = a;
                        return 0;
                }
        return CP_ERROR(CP_EUNSUPPORTED, "key wrapping algorithm \"%.40s\" is not supported "
                                         "(CKM_RSA_AES_KEY_WRAP, RSA_AES_KEY_WRAP_256, RSA_AES_KEY_WRAP_384)",
                        name ? name : "(none)");
}

static const char *oaep_md(cp_keywrap_alg alg) {
        switch (alg) {
        case CP_KEYWRAP_CKM_RSA_AES:
                return "SHA1";
        case CP_KEYWRAP_RSA_AES_256:
                return "SHA256";
        case CP_KEYWRAP_RSA_AES_384:
                return "SHA384";
        default:
                return NULL;
        }
}

static int wrap_key_new(EVP_PKEY *pkey, bool priv, cp_wrap_key **ret) {
        if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA) {
                EVP_PKEY_free(pkey);
                return CP_ERROR(CP_EUNSUPPORTED, "wrapping key is not RSA");
        }
        int bits = EVP_PKEY_get_bits(pkey);
        if (bits < (int) RSA_MIN_BITS || bits > (int) RSA_MAX_BITS) {
                EVP_PKEY_free(pkey);
                return CP_ERROR(CP_EUNSUPPORTED, "RSA wrapping key of %d bits (need %u..%u)", bits, RSA_MIN_BITS,
                                RSA_MAX_BITS);
        }
        cp_wrap_key *k = calloc(1, sizeof(*k));
        if (!k) {
                EVP_PKEY_free(pkey);
                return cp_error_oom();
        }
        k->pkey = pkey;
        k->priv = priv;
        k->bits = (unsigned) bits;
        *ret = k;
        return 0;
}

static int b64url_member(const json_t *jwk, const char *name, uint8_t *out, size_t cap, size_t *ret_len) {
        const json_t *v = json_object_get(jwk, name);
        if (!json_is_string(v))
                return CP_ERROR(CP_EFORMAT, "RSA JWK: \"%s\" missing or not a string", name);
        int r = cp_b64_decode(json_string_value(v), json_string_length(v), CP_B64_URL, out, cap, ret_len);
        if (r < 0)
                return cp_error_wrap("RSA JWK \"%s\": ", name);
        if (*ret_len == 0 || out[0] == 0)
                return CP_ERROR(CP_EFORMAT, "RSA JWK \"%s\": empty or leading zero octet", name);
        return 0;
}

int cp_wrap_key_from_jwk(const json_t *jwk, cp_wrap_key **ret) {
        uint8_t n[RSA_MAX_BITS / 8 + 3], e[8];
        size_t nl, el;
        int r;
        EVP_PKEY *pkey = NULL;
        if (!json_is_object(jwk))
                return CP_ERROR(CP_EFORMAT, "JWK is not an object");
        const char *kty = json_string_value(json_object_get(jwk, "kty"));
        if (!kty || strcmp(kty, "RSA"))
                return CP_ERROR(CP_EUNSUPPORTED, "JWK kty is not \"RSA\"");
        if ((r = b64url_member(jwk, "n", n, sizeof(n), &nl)) < 0 || (r = b64url_member(jwk, "e", e, sizeof(e), &el)) < 0)
                return r;
        if (nl * 8 < RSA_MIN_BITS || nl * 8 > RSA_MAX_BITS)
                return CP_ERROR(CP_EUNSUPPORTED, "RSA JWK modulus of %zu bytes (need %u..%u bits)", nl, RSA_MIN_BITS,
                                RSA_MAX_BITS);
        if (!(e[el - 1] & 1) || (el == 1 && e[0] < 3))
                return CP_ERROR(CP_EFORMAT, "RSA JWK exponent is not an odd number >= 3");
        /* RFC 7518 6.3.1: the fewest octets; an RSA modulus is odd (an even one
         * passed here and failed the wrap later: a 500 at the key broker for a
         * key from the guest's runtime data, found by fuzz-kbsd-routes) */
        if (n[0] == 0 || e[0] == 0)
                return CP_ERROR(CP_EFORMAT, "RSA JWK integer has a leading zero octet");
        if (!(n[nl - 1] & 1))
                return CP_ERROR(CP_EFORMAT, "RSA JWK modulus is even: not an RSA key");
        _cleanup_bn_ BIGNUM *bn = BN_bin2bn(n, (int) nl, NULL), *be = BN_bin2bn(e, (int) el, NULL);
        _cleanup_(param_bld_freep) OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
        if (!bn || !be || !bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) ||
            !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be))
                return cp_error_oom();
        _cleanup_(params_freep) OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
        _cleanup_evp_pkey_ctx_ EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
        if (!params || !ctx)
                return cp_error_oom();
        if (EVP_PKEY_fromdata_init(ctx) <= 0 || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
                return CP_OSSL_ERROR(CP_EFORMAT, "JWK is not a valid RSA public key");
        return wrap_key_new(pkey, false, ret);
}

int cp_wrap_key_from_pem(const char *pem, size_t len, cp_wrap_key **ret) {
        if (!pem || len == 0 || len > 64 * 1024)
                return CP_ERROR(CP_EINVAL, "PEM key missing or too long");
        _cleanup_bio_ BIO *b = BIO_new_mem_buf(pem, (int) len);
        if (!b)
                return cp_error_oom();
        EVP_PKEY *pkey = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
        if (pkey)
                return wrap_key_new(pkey, true, ret);
        cp_ossl_clear();
        (void) BIO_reset(b);
        pkey = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
        if (!pkey)
                return CP_OSSL_ERROR(CP_EFORMAT, "not a PEM private or public key");
        return wrap_key_new(pkey, false, ret);
}

int cp_wrap_key_generate(unsigned bits, cp_wrap_key **ret) {
        if (bits != 2048 && bits != 3072 && bits != 4096)
                return CP_ERROR(CP_EINVAL, "RSA size %u (2048, 3072 or 4096)", bits);
        EVP_PKEY *pkey = NULL;
        int r = cp_rsa_generate(bits, &pkey);
        return r < 0 ? r : wrap_key_new(pkey, true, ret);
}

cp_wrap_key *cp_wrap_key_free(cp_wrap_key *k) {
        if (!k)
                return NULL;
        EVP_PKEY_free(k->pkey);
        free(k);
        return NULL;
}

unsigned cp_wrap_key_bits(const cp_wrap_key *k) {
        return k ? k->bits : 0;
}

bool cp_wrap_key_is_private(const cp_wrap_key *k) {
        return k && k->priv;
}

static int bn_b64(const EVP_PKEY *pkey, const char *name, json_t *o, const char *key) {
        _cleanup_bn_ BIGNUM *bn = NULL;
        if (!EVP_PKEY_get_bn_param(pkey, name, &bn))
                return CP_OSSL_ERROR(CP_ECRYPTO, "reading RSA %s", key);
        int n = BN_num_bytes(bn);
        _cleanup_free_ uint8_t *b = malloc((size_t) n + 1);
        _cleanup_free_ char *s = malloc(cp_b64_encoded_len((size_t) n, CP_B64_URL) + 1);
        if (!b || !s)
                return cp_error_oom();
        BN_bn2bin(bn, b);
        cp_b64_encode(b, (size_t) n, CP_B64_URL, s);
        if (json_object_set_new(o, key, json_string(s)) < 0)
                return cp_error_oom();
        return 0;
}

int cp_wrap_key_to_jwk(const cp_wrap_key *k, json_t **ret) {
        int r;
        if (!k)
                return CP_ERROR(CP_EINVAL, "no key");
        json_t *o = json_pack("{s:s}", "kty", "RSA");
        if (!o)
                return cp_error_oom();
        if ((r = bn_b64(k->pkey, OSSL_PKEY_PARAM_RSA_N, o, "n")) < 0 ||
            (r = bn_b64(k->pkey, OSSL_PKEY_PARAM_RSA_E, o, "e")) < 0) {
                json_decref(o);
                return r;
        }
        *ret = o;
        return 0;
}

int cp_wrap_key_private_pem(const cp_wrap_key *k, char **ret, size_t *ret_len) {
        if (!k || !k->priv)
                return CP_ERROR(CP_EINVAL, "not a private key");
        _cleanup_bio_ BIO *b = BIO_new(BIO_s_secmem());
        if (!b)
                return cp_error_oom();
        if (!PEM_write_bio_PKCS8PrivateKey(b, k->pkey, NULL, NULL, 0, NULL, NULL))
                return CP_OSSL_ERROR(CP_ECRYPTO, "writing PKCS#8");
        char *p;
        long n = BIO_get_mem_data(b, &p);
        char *out = malloc((size_t) n + 1);
        if (!out)
                return cp_error_oom();
        memcpy(out, p, (size_t) n);
        out[n] = 0;
        *ret = out;
        *ret_len = (size_t) n;
        return 0;
}

/* AES-256 key wrap with padding (RFC 5649) in either direction. */
static int kwp(bool enc, const uint8_t key[EPHEMERAL_LEN], const uint8_t *in, size_t len, uint8_t *out,
               size_t *ret_len) {
        _cleanup_(cipher_ctx_freep) EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
        int n1 = 0, n2 = 0;
        if (!ctx)
                return cp_error_oom();
        EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
        if (EVP_CipherInit_ex(ctx, EVP_aes_256_wrap_pad(), NULL, key, NULL, enc ? 1 : 0) != 1)
                return CP_OSSL_ERROR(CP_ECRYPTO, "AES key wrap init");
        if (EVP_CipherUpdate(ctx, out, &n1, in, (int) len) != 1 || n1 < 0) {
                if (enc)
                        return CP_OSSL_ERROR(CP_ECRYPTO, "AES key wrap");
                cp_ossl_clear();
                return CP_ERROR(CP_ESIG, "AES key unwrap: integrity check failed");
        }
        if (EVP_CipherFinal_ex(ctx, out + n1, &n2) != 1) {
                cp_ossl_clear();
                return enc ? CP_ERROR(CP_ECRYPTO, "AES key wrap final")
                           : CP_ERROR(CP_ESIG, "AES key unwrap: integrity check failed");
        }
        *ret_len = (size_t) n1 + (size_t) n2;
        return 0;
}

static int oaep_ctx(const cp_wrap_key *k, cp_keywrap_alg alg, bool enc, EVP_PKEY_CTX **ret) {
        const char *md = oaep_md(alg);
        if (!md)
                return CP_ERROR(CP_EUNSUPPORTED, "key wrapping algorithm %d", (int) alg);
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL);
        if (!ctx)
                return cp_error_oom();
        if ((enc ? EVP_PKEY_encrypt_init(ctx) : EVP_PKEY_decrypt_init(ctx)) <= 0 ||
            EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
            EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx, md, NULL) <= 0 ||
            EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx, md, NULL) <= 0) {
                EVP_PKEY_CTX_free(ctx);
                return CP_OSSL_ERROR(CP_ECRYPTO, "RSA-OAEP setup");
        }
        *ret = ctx;
        return 0;
}

int cp_keywrap_wrap(const cp_wrap_key *k, cp_keywrap_alg alg, const uint8_t *plain, size_t len, uint8_t **ret,
                    size_t *ret_len) {
        uint8_t eph[EPHEMERAL_LEN];
        int r;
        if (!k || !plain || !ret || !ret_len)
                return CP_ERROR(CP_EINVAL, "missing argument");
        if (len == 0 || len > CP_KEYWRAP_MAX_PLAIN)
                return CP_ERROR(CP_EINVAL, "key material of %zu bytes (1..%u)", len, CP_KEYWRAP_MAX_PLAIN);
        _cleanup_evp_pkey_ctx_ EVP_PKEY_CTX *ctx = NULL;
        if ((r = oaep_ctx(k, alg, true, &ctx)) < 0)
                return r;
        size_t mod = (size_t) EVP_PKEY_get_size(k->pkey), kw_len = ((len + 7) / 8) * 8 + 8;
        uint8_t *out = malloc(mod + kw_len);
        if (!out)
                return cp_error_oom();
        if (RAND_bytes(eph, sizeof(eph)) != 1) {
                free(out);
                return CP_OSSL_ERROR(CP_ECRYPTO, "random ephemeral key");
        }
        size_t ol = mod, kl = 0;
        if (EVP_PKEY_encrypt(ctx, out, &ol, eph, sizeof(eph)) <= 0 || ol != mod) {
                r = CP_OSSL_ERROR(CP_ECRYPTO, "RSA-OAEP encryption");
                goto fail;
        }
        if ((r = kwp(true, eph, plain, len, out + mod, &kl)) < 0)
                goto fail;
        if (kl != kw_len) {
                r = CP_ERROR(CP_EINTERNAL, "AES key wrap length %zu", kl);
                goto fail;
        }
        cp_wipe(eph, sizeof(eph));
        *ret = out;
        *ret_len = mod + kl;
        return 0;
fail:
        cp_wipe(eph, sizeof(eph));
        free(out);
        return r;
}

int cp_keywrap_unwrap(const cp_wrap_key *k, cp_keywrap_alg alg, const uint8_t *wrapped, size_t len, uint8_t **ret,
                      size_t *ret_len) {
        uint8_t eph[512];
        const uint8_t *rsa_part, *kw_part;
        int r;
        if (!k || !ret || !ret_len)
                return CP_ERROR(CP_EINVAL, "missing argument");
        if (!k->priv)
                return CP_ERROR(CP_EINVAL, "unwrapping needs the private key");
        size_t mod = (size_t) EVP_PKEY_get_size(k->pkey);
        cp_cursor c = cp_cursor_make(wrapped, len);
        if ((r = cp_cursor_ptr(&c, mod, &rsa_part)) < 0)
                return CP_ERROR(CP_ETRUNC, "wrapped key shorter than the RSA modulus (%zu bytes)", mod);
        size_t kw_len = cp_cursor_remaining(&c);
        if (kw_len < 16 || kw_len % 8 != 0 || kw_len > CP_KEYWRAP_MAX_PLAIN + 16)
                return CP_ERROR(CP_EFORMAT, "AES key wrap part of %zu bytes (a multiple of 8, 16..%u)", kw_len,
                                CP_KEYWRAP_MAX_PLAIN + 16);
        if ((r = cp_cursor_ptr(&c, kw_len, &kw_part)) < 0)
                return r;
        _cleanup_evp_pkey_ctx_ EVP_PKEY_CTX *ctx = NULL;
        if ((r = oaep_ctx(k, alg, false, &ctx)) < 0)
                return r;
        size_t el = sizeof(eph);
        if (EVP_PKEY_decrypt(ctx, eph, &el, rsa_part, mod) <= 0) {
                cp_ossl_clear();
                cp_wipe(eph, sizeof(eph));
                return CP_ERROR(CP_ESIG, "RSA-OAEP decryption failed (wrong key, hash or data)");
        }
        if (el != EPHEMERAL_LEN) {
                cp_wipe(eph, sizeof(eph));
                return CP_ERROR(CP_EFORMAT, "ephemeral key of %zu bytes (expected %u)", el, EPHEMERAL_LEN);
        }
        uint8_t *out = malloc(kw_len);
        size_t ol = 0;
        if (!out) {
                cp_wipe(eph, sizeof(eph));
                return cp_error_oom();
        }
        r = kwp(false, eph, kw_part, kw_len, out, &ol);
        cp_wipe(eph, sizeof(eph));
        if (r < 0) {
                cp_wipe(out, kw_len);
                free(out);
                return r;
        }
        *ret = out;
        *ret_len = ol;
        return 0;
}

/* ---- key_hsm ---------------------------------------------------------------- */

int cp_keyrelease_key_hsm_encode(const char *kid, cp_keywrap_alg alg, const uint8_t *wrapped, size_t len, char **ret) {
        if (!wrapped || !ret || !oaep_md(alg))
                return CP_ERROR(CP_EINVAL, "bad key_hsm arguments");
        _cleanup_free_ char *ct = malloc(cp_b64_encoded_len(len, CP_B64_URL) + 1);
        if (!ct)
                return cp_error_oom();
        cp_b64_encode(wrapped, len, CP_B64_URL, ct);
        json_t *o = json_pack("{s:s,s:{s:s,s:s,s:s},s:s}", "schema_version", "1.0", "header", "kid",
                              kid ? kid : "TpmEphemeralEncryptionKey", "alg", "dir", "enc", cp_keywrap_alg_name(alg),
                              "ciphertext", ct);
        if (!o)
                return cp_error_oom();
        char *s = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        if (!s)
                return cp_error_oom();
        char *out = malloc(cp_b64_encoded_len(strlen(s), CP_B64_URL) + 1);
        if (!out) {
                free(s);
                return cp_error_oom();
        }
        cp_b64_encode((const uint8_t *) s, strlen(s), CP_B64_URL, out);
        free(s);
        *ret = out;
        return 0;
}

int cp_keyrelease_key_hsm_decode(const char *key_hsm, size_t len, cp_keywrap_alg *ret_alg, uint8_t **ret_wrapped,
                                 size_t *ret_len) {
        json_error_t jerr;
        size_t jl, wl;
        int r;
        cp_keywrap_alg alg;
        if (!key_hsm || len > 4 * CP_KEYWRAP_MAX_PLAIN)
                return CP_ERROR(CP_ETOOBIG, "key_hsm missing or too long");
        _cleanup_free_ uint8_t *js = malloc(cp_b64_decoded_max(len) + 1);
        if (!js)
                return cp_error_oom();
        if ((r = cp_b64_decode(key_hsm, len, CP_B64_URL, js, cp_b64_decoded_max(len), &jl)) < 0)
                return cp_error_wrap("key_hsm: ");
        json_t *o = json_loadb((const char *) js, jl, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(o)) {
                json_decref(o);
                return CP_ERROR(CP_EFORMAT, "key_hsm is not a JSON object");
        }
        const char *ver = json_string_value(json_object_get(o, "schema_version"));
        const char *enc = json_string_value(json_object_get(json_object_get(o, "header"), "enc"));
        const char *ct = json_string_value(json_object_get(o, "ciphertext"));
        if (!ver || strcmp(ver, "1.0")) {
                json_decref(o);
                return CP_ERROR(CP_EVERSION, "key_hsm schema_version is not \"1.0\"");
        }
        if (!ct) {
                json_decref(o);
                return CP_ERROR(CP_EFORMAT, "key_hsm without ciphertext");
        }
        if ((r = cp_keywrap_alg_from_name(enc, &alg)) < 0) {
                json_decref(o);
                return r;
        }
        size_t cl = strlen(ct);
        uint8_t *w = malloc(cp_b64_decoded_max(cl) + 1);
        if (!w) {
                json_decref(o);
                return cp_error_oom();
        }
        r = cp_b64_decode(ct, cl, CP_B64_URL, w, cp_b64_decoded_max(cl), &wl);
        json_decref(o);
        if (r < 0) {
                free(w);
                return cp_error_wrap("key_hsm ciphertext: ");
        }
        *ret_alg = alg;
        *ret_wrapped = w;
        *ret_len = wl;
        return 0;
}
