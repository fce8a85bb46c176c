/* SPDX-License-Identifier: Apache-2.0 */
/* JWK / JWKS: signing keys with self-signed certificates, public JWK
 * serialization (RFC 7517/7518), thumbprints (RFC 7638) and JWKS parsing. */

#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "basic/codec.h"
#include "basic/limits.h"
#include "basic/secure.h"
#include "basic/json-depth.h"
#include "jwt-internal.h"
#include "ossl/ossl-util.h"
#include "libconfpool/rsagen.h"

#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 8192

static inline void param_bld_freep(OSSL_PARAM_BLD **p) {
        OSSL_PARAM_BLD_free(*p);
}
static inline void params_freep(OSSL_PARAM **p) {
        OSSL_PARAM_free(*p);
}

const char *cp_jwt_alg_name(cp_jwt_alg alg) {
        switch (alg) {
        case CP_JWT_RS256:
                return "RS256";
        case CP_JWT_ES256:
                return "ES256";
        case CP_JWT_ES384:
                return "ES384";
        default:
                return "invalid";
        }
}

int cp_jwt_alg_from_name(const char *name, cp_jwt_alg *ret) {
        static const cp_jwt_alg all[] = { CP_JWT_RS256, CP_JWT_ES256, CP_JWT_ES384 };
        if (!name)
                return CP_ERROR(CP_EINVAL, "no alg");
        for (size_t i = 0; i < CP_ELEMENTSOF(all); i++)
                if (strcmp(name, cp_jwt_alg_name(all[i])) == 0) {
                        *ret = all[i];
                        return 0;
                }
        return CP_ERROR(CP_EUNSUPPORTED, "JWS alg \"%.32s\" is not supported", name);
}

int cp_jwt_b64url(const uint8_t *data, size_t len, char **ret) {
        char *s = malloc(cp_b64_encoded_len(len, CP_B64_URL) + 1);
        if (!s)
                return cp_error_oom();
        cp_b64_encode(data, len, CP_B64_URL, s);
        *ret = s;
        return 0;
}

int cp_jwt_json_depth_ok(const char *json, size_t len, unsigned max_depth) {
        size_t off = 0;
        if (!cp_json_depth_within(json, len, max_depth, &off))
                return CP_ERROR(CP_EFORMAT, "JSON nested deeper than %u at offset %zu", max_depth, off);
        return 0;
}

/* ---- key facts ---------------------------------------------------------- */

static int ec_curve(const EVP_PKEY *pkey, size_t *ret_coord, const char **ret_crv) {
        char group[64];
        if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL))
                return CP_OSSL_ERROR(CP_ECRYPTO, "EC key without a named group");
        if (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0) {
                *ret_coord = 32;
                *ret_crv = "P-256";
                return 0;
        }
        if (strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0) {
                *ret_coord = 48;
                *ret_crv = "P-384";
                return 0;
        }
        return CP_ERROR(CP_EUNSUPPORTED, "EC curve %s is not supported", group);
}

unsigned cp_jwt_algs_for_pkey(const EVP_PKEY *pkey) {
        if (!pkey)
                return 0;
        if (EVP_PKEY_is_a(pkey, "RSA")) {
                int bits = EVP_PKEY_get_bits(pkey);
                return bits >= RSA_MIN_BITS && bits <= RSA_MAX_BITS ? CP_JWT_RS256 : 0;
        }
        if (EVP_PKEY_is_a(pkey, "EC")) {
                size_t coord;
                const char *crv;
                if (ec_curve(pkey, &coord, &crv) < 0) {
                        cp_error_clear();
                        return 0;
                }
                return coord == 32 ? CP_JWT_ES256 : CP_JWT_ES384;
        }
        return 0;
}

static int bn_param_b64(const EVP_PKEY *pkey, const char *name, size_t pad, char **ret) {
        _cleanup_bn_ BIGNUM *bn = NULL;
        uint8_t buf[RSA_MAX_BITS / 8];
        if (!EVP_PKEY_get_bn_param(pkey, name, &bn))
                return CP_OSSL_ERROR(CP_ECRYPTO, "key parameter %s", name);
        size_t n = pad ? pad : (size_t) BN_num_bytes(bn);
        if (n == 0 || n > sizeof(buf) || BN_bn2binpad(bn, buf, (int) n) < 0)
                return CP_ERROR(CP_ECRYPTO, "key parameter %s has a bad size", name);
        return cp_jwt_b64url(buf, n, ret);
}

/* The members of the public JWK that the thumbprint covers. */
static int public_members(const EVP_PKEY *pkey, json_t *obj) {
        _cleanup_free_ char *a = NULL, *b = NULL;
        int r;
        if (EVP_PKEY_is_a(pkey, "RSA")) {
                if ((r = bn_param_b64(pkey, OSSL_PKEY_PARAM_RSA_N, 0, &a)) < 0 ||
                    (r = bn_param_b64(pkey, OSSL_PKEY_PARAM_RSA_E, 0, &b)) < 0)
                        return r;
                if (json_object_set_new(obj, "kty", json_string("RSA")) < 0 ||
                    json_object_set_new(obj, "n", json_string(a)) < 0 ||
                    json_object_set_new(obj, "e", json_string(b)) < 0)
                        return cp_error_oom();
                return 0;
        }
        size_t coord;
        const char *crv;
        if ((r = ec_curve(pkey, &coord, &crv)) < 0)
                return r;
        if ((r = bn_param_b64(pkey, OSSL_PKEY_PARAM_EC_PUB_X, coord, &a)) < 0 ||
            (r = bn_param_b64(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, coord, &b)) < 0)
                return r;
        if (json_object_set_new(obj, "kty", json_string("EC")) < 0 ||
            json_object_set_new(obj, "crv", json_string(crv)) < 0 || json_object_set_new(obj, "x", json_string(a)) < 0 ||
            json_object_set_new(obj, "y", json_string(b)) < 0)
                return cp_error_oom();
        return 0;
}

/* RFC 7638: SHA-256 over the required members in lexicographic order with
 * no whitespace (JSON_SORT_KEYS | JSON_COMPACT gives exactly that; the
 * values are base64url / fixed names and need no escaping). */
static int thumbprint(const EVP_PKEY *pkey, char kid[CP_JWT_KID_MAX + 1]) {
        json_t *o = json_object();
        if (!o)
                return cp_error_oom();
        int r = public_members(pkey, o);
        if (r < 0) {
                json_decref(o);
                return r;
        }
        char *s = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT);
        json_decref(o);
        if (!s)
                return cp_error_oom();
        uint8_t d[SHA256_DIGEST_LENGTH];
        SHA256((const uint8_t *) s, strlen(s), d);
        free(s);
        cp_b64_encode(d, sizeof(d), CP_B64_URL, kid);
        return 0;
}

/* ---- signing keys ----------------------------------------------------- */

static const EVP_MD *cert_md(cp_jwt_alg alg) {
        return alg == CP_JWT_ES384 ? EVP_sha384() : EVP_sha256();
}

static int make_cert(cp_jwt_key *k, const char *cn, int64_t now, unsigned days) {
        _cleanup_x509_ X509 *x = X509_new();
        uint8_t serial[16];
        if (!x)
                return cp_error_oom();
        if (RAND_bytes(serial, sizeof(serial)) != 1)
                return CP_OSSL_ERROR(CP_ECRYPTO, "RAND_bytes");
        serial[0] &= 0x7f;
        serial[0] |= 0x40;
        _cleanup_bn_ BIGNUM *sn = BN_bin2bn(serial, sizeof(serial), NULL);
        X509_NAME *name = X509_get_subject_name(x);
        if (!sn || !X509_set_version(x, 2) || !BN_to_ASN1_INTEGER(sn, X509_get_serialNumber(x)) ||
            !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *) cn, -1, -1, 0) ||
            !X509_set_issuer_name(x, name) || !ASN1_TIME_set(X509_getm_notBefore(x), (time_t) (now - 60)) ||
            !ASN1_TIME_set(X509_getm_notAfter(x), (time_t) (now + (int64_t) days * 86400)) ||
            !X509_set_pubkey(x, k->pkey) || X509_sign(x, k->pkey, cert_md(k->alg)) <= 0)
                return CP_OSSL_ERROR(CP_ECRYPTO, "making the signing certificate");
        k->cert = TAKE_PTR(x);
        return 0;
}

static int finish_key(cp_jwt_key *k) {
        unsigned char *der = NULL;
        int n = i2d_X509(k->cert, &der);
        if (n <= 0)
                return CP_OSSL_ERROR(CP_ECRYPTO, "encoding the signing certificate");
        k->cert_der = malloc((size_t) n);
        if (!k->cert_der) {
                OPENSSL_free(der);
                return cp_error_oom();
        }
        memcpy(k->cert_der, der, (size_t) n);
        k->cert_der_len = (size_t) n;
        OPENSSL_free(der);
        return thumbprint(k->pkey, k->kid);
}

cp_jwt_key *cp_jwt_key_free(cp_jwt_key *k) {
        if (!k)
                return NULL;
        EVP_PKEY_free(k->pkey); /* OpenSSL clears private key material on free */
        X509_free(k->cert);
        free(k->cert_der);
        cp_wipe(k, sizeof(*k));
        free(k);
        return NULL;
}
CP_DEFINE_FREEP(cp_jwt_key, cp_jwt_key_free)

int cp_jwt_key_generate(cp_jwt_alg alg, const char *common_name, int64_t now, unsigned cert_days, cp_jwt_key **ret) {
        _cleanup_(cp_jwt_key_freep) cp_jwt_key *k = NULL;
        int r;
        if (alg != CP_JWT_RS256 && alg != CP_JWT_ES256 && alg != CP_JWT_ES384)
                return CP_ERROR(CP_EINVAL, "unknown signing alg %d", (int) alg);
        if (cert_days == 0 || cert_days > 36500)
                return CP_ERROR(CP_EINVAL, "certificate lifetime %u days out of range", cert_days);
        k = calloc(1, sizeof(*k));
        if (!k)
                return cp_error_oom();
        k->alg = alg;
        if (alg == CP_JWT_RS256) {
                if ((r = cp_rsa_generate(2048, &k->pkey)) < 0)
                        return r;
        } else
                k->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", alg == CP_JWT_ES256 ? "P-256" : "P-384");
        if (!k->pkey)
                return CP_OSSL_ERROR(CP_ECRYPTO, "generating a %s key", cp_jwt_alg_name(alg));
        if ((r = make_cert(k, common_name ? common_name : "confpool token signing",
                           now ? now : (int64_t) time(NULL), cert_days)) < 0 ||
            (r = finish_key(k)) < 0)
                return r;
        *ret = TAKE_PTR(k);
        return 0;
}

int cp_jwt_key_from_pem(cp_jwt_alg alg, const char *key_pem, size_t key_len, const char *cert_pem, size_t cert_len,
                        cp_jwt_key **ret) {
        _cleanup_(cp_jwt_key_freep) cp_jwt_key *k = NULL;
        int r;
        if (!key_pem || key_len == 0 || key_len > CP_MAX_INPUT_FILE || (cert_pem && cert_len > CP_MAX_INPUT_FILE))
                return CP_ERROR(CP_EINVAL, "bad PEM input");
        k = calloc(1, sizeof(*k));
        if (!k)
                return cp_error_oom();
        k->alg = alg;
        {
                _cleanup_bio_ BIO *b = BIO_new_mem_buf(key_pem, (int) key_len);
                if (!b)
                        return cp_error_oom();
                k->pkey = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
                if (!k->pkey)
                        return CP_OSSL_ERROR(CP_EFORMAT, "reading the signing key");
        }
        if (cp_jwt_algs_for_pkey(k->pkey) != (unsigned) alg)
                return CP_ERROR(CP_EINVAL, "the key does not fit %s", cp_jwt_alg_name(alg));
        if (cert_pem) {
                _cleanup_bio_ BIO *b = BIO_new_mem_buf(cert_pem, (int) cert_len);
                if (!b)
                        return cp_error_oom();
                k->cert = PEM_read_bio_X509(b, NULL, NULL, NULL);
                if (!k->cert)
                        return CP_OSSL_ERROR(CP_EFORMAT, "reading the signing certificate");
                if (EVP_PKEY_eq(X509_get0_pubkey(k->cert), k->pkey) != 1)
                        return CP_ERROR(CP_EINVAL, "the certificate is not for this key");
        } else if ((r = make_cert(k, "confpool token signing", (int64_t) time(NULL), 365)) < 0)
                return r;
        if ((r = finish_key(k)) < 0)
                return r;
        *ret = TAKE_PTR(k);
        return 0;
}

const char *cp_jwt_key_kid(const cp_jwt_key *k) {
        return k ? k->kid : NULL;
}

cp_jwt_alg cp_jwt_key_alg(const cp_jwt_key *k) {
        return k ? k->alg : CP_JWT_ALG_INVALID;
}

const uint8_t *cp_jwt_key_cert_der(const cp_jwt_key *k, size_t *ret_len) {
        if (!k)
                return NULL;
        *ret_len = k->cert_der_len;
        return k->cert_der;
}

int cp_jwt_key_to_jwk(const cp_jwt_key *k, json_t **ret) {
        if (!k)
                return CP_ERROR(CP_EINVAL, "no key");
        json_t *o = json_object();
        if (!o)
                return cp_error_oom();
        int r = public_members(k->pkey, o);
        if (r < 0) {
                json_decref(o);
                return r;
        }
        char *x5c = malloc(cp_b64_encoded_len(k->cert_der_len, CP_B64_STD) + 1);
        if (!x5c) {
                json_decref(o);
                return cp_error_oom();
        }
        cp_b64_encode(k->cert_der, k->cert_der_len, CP_B64_STD, x5c);
        json_t *arr = json_array();
        if (!arr || json_array_append_new(arr, json_string(x5c)) < 0 ||
            json_object_set_new(o, "x5c", arr) < 0 || json_object_set_new(o, "kid", json_string(k->kid)) < 0 ||
            json_object_set_new(o, "use", json_string("sig")) < 0 ||
            json_object_set_new(o, "alg", json_string(cp_jwt_alg_name(k->alg))) < 0) {
                free(x5c);
                json_decref(o);
                return cp_error_oom();
        }
        free(x5c);
        *ret = o;
        return 0;
}

/* ---- JWKS --------------------------------------------------------------- */

cp_jwks *cp_jwks_free(cp_jwks *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n; i++)
                EVP_PKEY_free(s->keys[i].pkey);
        free(s);
        return NULL;
}
CP_DEFINE_FREEP(cp_jwks, cp_jwks_free)

size_t cp_jwks_count(const cp_jwks *s) {
        return s ? s->n : 0;
}

bool cp_jwks_has_kid(const cp_jwks *s, const char *kid) {
        for (size_t i = 0; s && kid && i < s->n; i++)
                if (s->keys[i].has_kid && strcmp(s->keys[i].kid, kid) == 0)
                        return true;
        return false;
}

const char *cp_jwks_kid_at(const cp_jwks *s, size_t i) {
        return s && i < s->n && s->keys[i].has_kid ? s->keys[i].kid : NULL;
}

size_t cp_jwks_retired_count(const cp_jwks *s) {
        size_t n = 0;
        for (size_t i = 0; s && i < s->n; i++)
                n += s->keys[i].retired_at != 0;
        return n;
}

/* Whether fresh still serves old's entry e: the same kid, or (no kid) the
 * same public key. */
static bool still_served(const cp_jwks *fresh, const cp_jwks_entry *e) {
        if (e->has_kid)
                return cp_jwks_has_kid(fresh, e->kid);
        for (size_t i = 0; i < fresh->n; i++)
                if (EVP_PKEY_eq(fresh->keys[i].pkey, e->pkey) == 1)
                        return true;
        return false;
}

static int entry_copy(cp_jwks *s, const cp_jwks_entry *e, int64_t retired_at) {
        if (!EVP_PKEY_up_ref(e->pkey))
                return CP_OSSL_ERROR(CP_ECRYPTO, "JWKS rollover: key reference");
        s->keys[s->n] = *e;
        s->keys[s->n].retired_at = retired_at;
        s->n++;
        return 0;
}

int cp_jwks_rollover(const cp_jwks *old, const cp_jwks *fresh, int64_t now, int64_t keep_s, cp_jwks **ret) {
        _cleanup_(cp_jwks_freep) cp_jwks *s = NULL;
        const cp_jwks_entry *keep[CP_JWT_MAX_KEYS];
        int64_t when[CP_JWT_MAX_KEYS];
        size_t nk = 0;
        int r;
        if (!fresh || !ret || keep_s < 0)
                return CP_ERROR(CP_EINVAL, "JWKS rollover: a fresh key set and keep_s >= 0 are required");
        if (!(s = calloc(1, sizeof(*s))))
                return cp_error_oom();
        for (size_t i = 0; i < fresh->n; i++)
                if ((r = entry_copy(s, &fresh->keys[i], 0)) < 0)
                        return r;
        for (size_t i = 0; old && i < old->n; i++) {
                const cp_jwks_entry *e = &old->keys[i];
                int64_t at = e->retired_at ? e->retired_at : now;
                if (still_served(fresh, e) || now - at >= keep_s)
                        continue;
                /* insertion by retirement time, newest first */
                size_t j = nk++;
                for (; j > 0 && when[j - 1] < at; j--) {
                        keep[j] = keep[j - 1];
                        when[j] = when[j - 1];
                }
                keep[j] = e;
                when[j] = at;
        }
        for (size_t i = 0; i < nk && s->n < CP_JWT_MAX_KEYS; i++)
                if ((r = entry_copy(s, keep[i], when[i])) < 0)
                        return r;
        *ret = TAKE_PTR(s);
        return 0;
}

/* A base64url member decoded into out (at most cap bytes). */
static int member_b64(const json_t *key, const char *name, uint8_t *out, size_t cap, size_t *ret_len) {
        const json_t *v = json_object_get(key, name);
        if (!json_is_string(v))
                return CP_ERROR(CP_EFORMAT, "JWK member \"%s\" missing or not a string", name);
        int r = cp_b64_decode(json_string_value(v), json_string_length(v), CP_B64_URL, out, cap, ret_len);
        if (r < 0)
                return cp_error_wrap("JWK member \"%s\": ", name);
        if (*ret_len == 0)
                return CP_ERROR(CP_EFORMAT, "JWK member \"%s\" is empty", name);
        return 0;
}

static int pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld, EVP_PKEY **ret) {
        _cleanup_(params_freep) OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
        _cleanup_evp_pkey_ctx_ EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
        EVP_PKEY *pkey = NULL;
        if (!params || !ctx)
                return CP_OSSL_ERROR(CP_ENOMEM, "building a %s key", type);
        if (EVP_PKEY_fromdata_init(ctx) <= 0 || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
                return CP_OSSL_ERROR(CP_EFORMAT, "JWK is not a valid %s public key", type);
        *ret = pkey;
        return 0;
}

static int rsa_from_jwk(const json_t *key, EVP_PKEY **ret) {
        uint8_t n[RSA_MAX_BITS / 8], e[8];
        size_t nl, el;
        int r;
        if ((r = member_b64(key, "n", n, sizeof(n), &nl)) < 0 || (r = member_b64(key, "e", e, sizeof(e), &el)) < 0)
                return r;
        if (n[0] == 0 || e[0] == 0)
                return CP_ERROR(CP_EFORMAT, "JWK RSA integer has a leading zero octet");
        if (nl * 8 < RSA_MIN_BITS)
                return CP_ERROR(CP_EUNSUPPORTED, "JWK RSA modulus below %d bits", RSA_MIN_BITS);
        if (!(e[el - 1] & 1) || (el == 1 && e[0] < 3))
                return CP_ERROR(CP_EFORMAT, "JWK RSA exponent is not an odd number >= 3");
        _cleanup_bn_ BIGNUM *bn = BN_bin2bn(n, (int) nl, NULL), *be = BN_bin2bn(e, (int) el, NULL);
        _cleanup_(param_bld_freep) OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
        if (!bn || !be || !bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) ||
            !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be))
                return cp_error_oom();
        return pkey_fromdata("RSA", bld, ret);
}

static int ec_from_jwk(const json_t *key, EVP_PKEY **ret) {
        const char *crv = json_string_value(json_object_get(key, "crv"));
        size_t coord, xl, yl;
        const char *group;
        uint8_t pt[1 + 2 * 48];
        int r;
        if (!crv)
                return CP_ERROR(CP_EFORMAT, "JWK EC key without \"crv\"");
        if (strcmp(crv, "P-256") == 0) {
                coord = 32;
                group = "prime256v1";
        } else if (strcmp(crv, "P-384") == 0) {
                coord = 48;
                group = "secp384r1";
        } else
                return CP_ERROR(CP_EUNSUPPORTED, "JWK EC curve \"%.16s\" not supported", crv);
        pt[0] = 0x04;
        if ((r = member_b64(key, "x", pt + 1, coord, &xl)) < 0 ||
            (r = member_b64(key, "y", pt + 1 + coord, coord, &yl)) < 0)
                return r;
        if (xl != coord || yl != coord)
                return CP_ERROR(CP_EFORMAT, "JWK EC coordinates must be %zu bytes", coord);
        _cleanup_(param_bld_freep) OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
        if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
            !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, 1 + 2 * coord))
                return cp_error_oom();
        return pkey_fromdata("EC", bld, ret);
}

/* x5c[0] (standard base64 DER) must carry the same public key. */
static int check_x5c(const json_t *x5c, const EVP_PKEY *pkey) {
        const json_t *first = json_array_get(x5c, 0);
        if (!json_is_array(x5c) || !json_is_string(first) || json_array_size(x5c) > CP_MAX_CHAIN_DEPTH)
                return CP_ERROR(CP_EFORMAT, "JWK \"x5c\" must be a non-empty array of strings");
        size_t slen = json_string_length(first), n;
        if (slen > cp_b64_encoded_len(CP_MAX_CERT_DER, CP_B64_STD))
                return CP_ERROR(CP_ETOOBIG, "JWK x5c certificate too big");
        _cleanup_free_ uint8_t *der = malloc(cp_b64_decoded_max(slen));
        if (!der)
                return cp_error_oom();
        int r = cp_b64_decode(json_string_value(first), slen, CP_B64_STD, der, cp_b64_decoded_max(slen), &n);
        if (r < 0)
                return cp_error_wrap("JWK x5c: ");
        const unsigned char *p = der;
        _cleanup_x509_ X509 *x = d2i_X509(NULL, &p, (long) n);
        if (!x || p != der + n)
                return CP_OSSL_ERROR(CP_EFORMAT, "JWK x5c is not one DER certificate");
        if (EVP_PKEY_eq(X509_get0_pubkey(x), pkey) != 1) {
                cp_ossl_clear();
                return CP_ERROR(CP_EFORMAT, "JWK x5c certificate carries a different key");
        }
        return 0;
}

static int add_entry(cp_jwks *s, const json_t *key, size_t index) {
        const char *kty = json_string_value(json_object_get(key, "kty"));
        const json_t *use = json_object_get(key, "use"), *alg = json_object_get(key, "alg"),
                     *kid = json_object_get(key, "kid"), *x5c = json_object_get(key, "x5c");
        EVP_PKEY *pkey = NULL;
        int r;

        if (!json_is_object(key) || !kty)
                return CP_ERROR(CP_EFORMAT, "JWKS key %zu: not an object with a string \"kty\"", index);
        if (use && !json_is_string(use))
                return CP_ERROR(CP_EFORMAT, "JWKS key %zu: \"use\" not a string", index);
        if (use && strcmp(json_string_value(use), "sig") != 0)
                return 0; /* an encryption key: not ours to use */
        if (strcmp(kty, "RSA") == 0)
                r = rsa_from_jwk(key, &pkey);
        else if (strcmp(kty, "EC") == 0)
                r = ec_from_jwk(key, &pkey);
        else
                return 0; /* other key types are skipped */
        if (r == CP_EUNSUPPORTED) {
                cp_error_clear();
                return 0; /* a curve or size we do not use */
        }
        if (r < 0)
                return cp_error_wrap("JWKS key %zu: ", index);
        cp_jwks_entry *e = &s->keys[s->n];
        e->pkey = pkey;
        e->algs = cp_jwt_algs_for_pkey(pkey);
        s->n++; /* owned from here on */
        if (alg) {
                cp_jwt_alg a;
                if (!json_is_string(alg) || cp_jwt_alg_from_name(json_string_value(alg), &a) < 0 ||
                    !(e->algs & (unsigned) a))
                        return CP_ERROR(CP_EFORMAT, "JWKS key %zu: \"alg\" unknown or unfit for the key", index);
                e->algs = (unsigned) a;
        }
        if (kid) {
                if (!json_is_string(kid) || json_string_length(kid) == 0 ||
                    json_string_length(kid) > CP_JWT_KID_MAX || strlen(json_string_value(kid)) != json_string_length(kid))
                        return CP_ERROR(CP_EFORMAT, "JWKS key %zu: bad \"kid\"", index);
                for (size_t i = 0; i + 1 < s->n; i++)
                        if (s->keys[i].has_kid && strcmp(s->keys[i].kid, json_string_value(kid)) == 0)
                                return CP_ERROR(CP_EFORMAT, "JWKS key %zu: duplicate kid", index);
                e->has_kid = true;
                strcpy(e->kid, json_string_value(kid));
        }
        if (x5c && (r = check_x5c(x5c, pkey)) < 0)
                return cp_error_wrap("JWKS key %zu: ", index);
        return 0;
}

int cp_jwk_thumbprint(const json_t *jwk, char ret[CP_JWT_KID_MAX + 1]) {
        const char *kty = json_string_value(json_object_get(jwk, "kty"));
        EVP_PKEY *pkey = NULL;
        int r;
        if (!ret || !json_is_object(jwk) || !kty)
                return CP_ERROR(CP_EFORMAT, "JWK: not an object with a string \"kty\"");
        if (strcmp(kty, "RSA") == 0)
                r = rsa_from_jwk(jwk, &pkey);
        else if (strcmp(kty, "EC") == 0)
                r = ec_from_jwk(jwk, &pkey);
        else
                return CP_ERROR(CP_EUNSUPPORTED, "JWK kty \"%.20s\": only RSA and EC keys", kty);
        if (r < 0)
                return r;
        r = thumbprint(pkey, ret);
        EVP_PKEY_free(pkey);
        return r;
}

int cp_jwks_parse(const char *json, size_t len, cp_jwks **ret) {
        _cleanup_(cp_jwks_freep) cp_jwks *s = NULL;
        json_error_t jerr;
        json_t *root, *keys;
        int r;

        if (!json)
                return CP_ERROR(CP_EINVAL, "no JWKS");
        if (len > CP_JWT_MAX_JWKS)
                return CP_ERROR(CP_ETOOBIG, "JWKS of %zu bytes exceeds %u", len, CP_JWT_MAX_JWKS);
        if ((r = cp_jwt_json_depth_ok(json, len, CP_MAX_JSON_DEPTH)) < 0)
                return r;
        root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!root)
                return CP_ERROR(CP_EFORMAT, "JWKS is not JSON: %s at %d:%d", jerr.text, jerr.line, jerr.column);
        keys = json_object_get(root, "keys");
        if (!json_is_object(root) || !json_is_array(keys)) {
                json_decref(root);
                return CP_ERROR(CP_EFORMAT, "JWKS must be an object with a \"keys\" array");
        }
        if (json_array_size(keys) > CP_JWT_MAX_KEYS) {
                json_decref(root);
                return CP_ERROR(CP_ETOOBIG, "JWKS with more than %u keys", CP_JWT_MAX_KEYS);
        }
        s = calloc(1, sizeof(*s));
        if (!s) {
                json_decref(root);
                return cp_error_oom();
        }
        for (size_t i = 0; i < json_array_size(keys); i++)
                if ((r = add_entry(s, json_array_get(keys, i), i)) < 0) {
                        json_decref(root);
                        return r;
                }
        json_decref(root);
        if (s->n == 0)
                return CP_ERROR(CP_ENOTFOUND, "JWKS holds no usable signature key");
        *ret = TAKE_PTR(s);
        return 0;
}

int cp_jwks_from_keys(const cp_jwt_key *const *keys, size_t n, cp_jwks **ret) {
        _cleanup_(cp_jwks_freep) cp_jwks *s = NULL;
        if (n == 0 || n > CP_JWT_MAX_KEYS)
                return CP_ERROR(CP_EINVAL, "%zu keys", n);
        s = calloc(1, sizeof(*s));
        if (!s)
                return cp_error_oom();
        for (size_t i = 0; i < n; i++) {
                if (!keys[i])
                        return CP_ERROR(CP_EINVAL, "NULL key");
                /* public half only */
                EVP_PKEY *pub = X509_get_pubkey(keys[i]->cert);
                if (!pub)
                        return CP_OSSL_ERROR(CP_ECRYPTO, "public key");
                s->keys[s->n].pkey = pub;
                s->keys[s->n].algs = (unsigned) keys[i]->alg;
                s->keys[s->n].has_kid = true;
                memcpy(s->keys[s->n].kid, keys[i]->kid, sizeof(s->keys[s->n].kid));
                s->n++;
        }
        *ret = TAKE_PTR(s);
        return 0;
}
