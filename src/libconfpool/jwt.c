/* SPDX-License-Identifier: Apache-2.0 */
/* JWS compact serialization: signing and relying-party validation. */

#include <pthread.h>
#include <string.h>
#include <time.h>

#include <openssl/ecdsa.h>
#include <openssl/rsa.h>

#include "basic/codec.h"
#include "basic/limits.h"
#include "jwt-internal.h"
#include "ossl/ossl-util.h"

#define JWS_SIG_MAX 1024u /* RSA-8192 */

struct cp_jwt {
        json_t *header;
        json_t *claims;
        cp_jwt_alg alg;
};

static const EVP_MD *alg_md(cp_jwt_alg alg) {
        return alg == CP_JWT_ES384 ? EVP_sha384() : EVP_sha256();
}

static size_t alg_coord(cp_jwt_alg alg) {
        return alg == CP_JWT_ES256 ? 32 : alg == CP_JWT_ES384 ? 48 : 0;
}

/* ---- signing -------------------------------------------------------------- */

/* Digests fetched once (an implicit fetch per signature costs a lock and a
 * lookup in the provider store). */
static EVP_MD *md_sha256, *md_sha384;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;

static void md_fetch(void) {
        md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
        md_sha384 = EVP_MD_fetch(NULL, "SHA384", NULL);
}

static const EVP_MD *sign_md(cp_jwt_alg alg) {
        pthread_once(&md_once, md_fetch);
        const EVP_MD *md = alg == CP_JWT_ES384 ? md_sha384 : md_sha256;
        return md ? md : alg_md(alg);
}

/* Per-thread signing context of the key last used on the thread
 * (EVP_PKEY_CTX_new takes a reference on the key, so the pointer compare
 * cannot match a new key at a freed key's address); freed when the thread
 * ends. */
typedef struct sign_cache {
        EVP_PKEY *pk;
        EVP_PKEY_CTX *ctx;
} sign_cache;

static pthread_key_t sign_key;
static bool sign_key_ok;
static pthread_once_t sign_key_once = PTHREAD_ONCE_INIT;

static void sign_cache_free(void *p) {
        sign_cache *c = p;
        if (c) {
                EVP_PKEY_CTX_free(c->ctx);
                free(c);
        }
}

static void sign_key_init(void) {
        sign_key_ok = pthread_key_create(&sign_key, sign_cache_free) == 0;
}

static EVP_PKEY_CTX *sign_ctx(EVP_PKEY *pk, cp_jwt_alg alg, const EVP_MD *md) {
        pthread_once(&sign_key_once, sign_key_init);
        sign_cache *c = sign_key_ok ? pthread_getspecific(sign_key) : NULL;
        if (!c) {
                if (!sign_key_ok || !(c = calloc(1, sizeof(*c))))
                        return NULL;
                if (pthread_setspecific(sign_key, c) != 0) {
                        free(c);
                        return NULL;
                }
        }
        if (c->pk == pk && c->ctx)
                return c->ctx;
        EVP_PKEY_CTX_free(c->ctx);
        c->pk = NULL;
        c->ctx = EVP_PKEY_CTX_new(pk, NULL);
        if (!c->ctx || EVP_PKEY_sign_init(c->ctx) != 1 || EVP_PKEY_CTX_set_signature_md(c->ctx, md) != 1 ||
            (alg == CP_JWT_RS256 && EVP_PKEY_CTX_set_rsa_padding(c->ctx, RSA_PKCS1_PADDING) != 1)) {
                EVP_PKEY_CTX_free(c->ctx);
                c->ctx = NULL;
                return NULL;
        }
        c->pk = pk;
        return c->ctx;
}

/* JWS signature over input (RS256: PKCS#1 v1.5; ES256/384: r||s). */
static int sign_bytes(const cp_jwt_key *k, const char *input, size_t len, uint8_t *out, size_t cap, size_t *ret_len) {
        uint8_t der[JWS_SIG_MAX], digest[EVP_MAX_MD_SIZE];
        size_t dlen = sizeof(der);
        unsigned mdlen = 0;
        const EVP_MD *md = sign_md(k->alg);
        EVP_PKEY_CTX *ctx = sign_ctx(k->pkey, k->alg, md);
        if (!ctx || EVP_Digest(input, len, digest, &mdlen, md, NULL) != 1 ||
            EVP_PKEY_sign(ctx, der, &dlen, digest, mdlen) != 1)
                return CP_OSSL_ERROR(CP_ECRYPTO, "signing the token");
        if (k->alg == CP_JWT_RS256) {
                if (dlen > cap)
                        return CP_ERROR(CP_EINTERNAL, "signature too long");
                memcpy(out, der, dlen);
                *ret_len = dlen;
                return 0;
        }
        /* DER ECDSA-Sig-Value -> fixed r||s */
        size_t coord = alg_coord(k->alg);
        const unsigned char *p = der;
        ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long) dlen);
        if (!sig)
                return CP_OSSL_ERROR(CP_ECRYPTO, "decoding the ECDSA signature");
        const BIGNUM *r, *s;
        ECDSA_SIG_get0(sig, &r, &s);
        int ok = 2 * coord <= cap && BN_bn2binpad(r, out, (int) coord) == (int) coord &&
                 BN_bn2binpad(s, out + coord, (int) coord) == (int) coord;
        ECDSA_SIG_free(sig);
        if (!ok)
                return CP_ERROR(CP_ECRYPTO, "ECDSA signature does not fit");
        *ret_len = 2 * coord;
        return 0;
}

struct cp_jwt_signer {
        const cp_jwt_key *key;
        size_t hdr_len;
        char hdr[]; /* base64url of the header */
};

int cp_jwt_signer_new(const cp_jwt_key *k, const json_t *extra_header, cp_jwt_signer **ret) {
        _cleanup_free_ char *hdr_s = NULL;
        if (!k || !ret || (extra_header && !json_is_object(extra_header)))
                return CP_ERROR(CP_EINVAL, "cp_jwt_signer_new: bad arguments");
        if (extra_header && (json_object_get(extra_header, "alg") || json_object_get(extra_header, "kid")))
                return CP_ERROR(CP_EINVAL, "extra header may not set alg or kid");
        json_t *hdr = json_object();
        if (!hdr)
                return cp_error_oom();
        if (json_object_set_new(hdr, "alg", json_string(cp_jwt_alg_name(k->alg))) < 0 ||
            json_object_set_new(hdr, "kid", json_string(k->kid)) < 0 ||
            json_object_set_new(hdr, "typ", json_string("JWT")) < 0 ||
            (extra_header && json_object_update(hdr, (json_t *) extra_header) < 0)) {
                json_decref(hdr);
                return cp_error_oom();
        }
        hdr_s = json_dumps(hdr, JSON_COMPACT);
        json_decref(hdr);
        if (!hdr_s)
                return cp_error_oom();
        size_t hl = strlen(hdr_s), el = cp_b64_encoded_len(hl, CP_B64_URL);
        cp_jwt_signer *s = malloc(sizeof(*s) + el + 1);
        if (!s)
                return cp_error_oom();
        s->key = k;
        s->hdr_len = el;
        cp_b64_encode((const uint8_t *) hdr_s, hl, CP_B64_URL, s->hdr);
        *ret = s;
        return 0;
}

cp_jwt_signer *cp_jwt_signer_free(cp_jwt_signer *s) {
        free(s);
        return NULL;
}

const cp_jwt_key *cp_jwt_signer_key(const cp_jwt_signer *s) {
        return s ? s->key : NULL;
}

/* The one JWS compact assembly: <hdr>.<b64url(payload)>.<b64url(signature)>
 * (k NULL: unsecured, empty signature part), in one allocation. */
static int assemble(const cp_jwt_key *k, const char *hdr, size_t hl, const char *payload, size_t len, char **ret) {
        uint8_t sig[JWS_SIG_MAX];
        size_t pl = cp_b64_encoded_len(len, CP_B64_URL), sl = 0, n;
        int r;
        char *out = malloc(hl + 1 + pl + 1 + cp_b64_encoded_len(sizeof(sig), CP_B64_URL) + 1);
        if (!out)
                return cp_error_oom();
        memcpy(out, hdr, hl);
        out[hl] = '.';
        cp_b64_encode((const uint8_t *) payload, len, CP_B64_URL, out + hl + 1);
        n = hl + 1 + pl;
        if (k && (r = sign_bytes(k, out, n, sig, sizeof(sig), &sl)) < 0) {
                free(out);
                return r;
        }
        out[n] = '.';
        cp_b64_encode(sig, sl, CP_B64_URL, out + n + 1);
        *ret = out;
        return 0;
}

int cp_jwt_signer_sign(const cp_jwt_signer *s, const char *payload, size_t len, char **ret) {
        if (!s || !payload || !ret)
                return CP_ERROR(CP_EINVAL, "cp_jwt_signer_sign: bad arguments");
        if (len < 2 || payload[0] != '{' || payload[len - 1] != '}')
                return CP_ERROR(CP_EINVAL, "token payload is not a JSON object");
        return assemble(s->key, s->hdr, s->hdr_len, payload, len, ret);
}

int cp_jwt_sign(const cp_jwt_key *k, const json_t *claims, const json_t *extra_header, char **ret) {
        _cleanup_free_ cp_jwt_signer *s = NULL;
        _cleanup_free_ char *pl_s = NULL;
        int r;

        if (!k || !json_is_object(claims) || (extra_header && !json_is_object(extra_header)))
                return CP_ERROR(CP_EINVAL, "cp_jwt_sign: bad arguments");
        if ((r = cp_jwt_signer_new(k, extra_header, &s)) < 0)
                return r;
        pl_s = json_dumps(claims, JSON_COMPACT);
        if (!pl_s)
                return cp_error_oom();
        return cp_jwt_signer_sign(s, pl_s, strlen(pl_s), ret);
}

int cp_jws_encode_unsecured(const char *payload, size_t len, char **ret) {
        static const char h[] = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0"; /* {"alg":"none","typ":"JWT"} */
        if (!payload || !ret)
                return CP_ERROR(CP_EINVAL, "cp_jws_encode_unsecured: bad arguments");
        return assemble(NULL, h, sizeof(h) - 1, payload, len, ret);
}

/* ---- parsing -------------------------------------------------------------- */

typedef struct parts {
        const char *p[3];
        size_t len[3];
        size_t signed_len; /* header "." payload */
} parts;

static int split(const char *token, size_t len, parts *ret) {
        parts ps = { 0 };
        size_t start = 0, k = 0;
        if (!token)
                return CP_ERROR(CP_EINVAL, "no token");
        if (len > CP_JWT_MAX_TOKEN)
                return CP_ERROR(CP_ETOOBIG, "token of %zu bytes exceeds %u", len, CP_JWT_MAX_TOKEN);
        for (size_t i = 0; i <= len; i++) {
                if (i == len || token[i] == '.') {
                        if (k == 3)
                                return CP_ERROR(CP_EFORMAT, "token has more than three parts");
                        ps.p[k] = token + start;
                        ps.len[k] = i - start;
                        k++;
                        start = i + 1;
                } else if (token[i] == '\0')
                        return CP_ERROR(CP_EFORMAT, "token contains a NUL byte");
        }
        if (k != 3)
                return CP_ERROR(CP_EFORMAT, "token has %zu parts, not three", k);
        if (ps.len[0] == 0 || ps.len[1] == 0)
                return CP_ERROR(CP_EFORMAT, "token has an empty header or payload");
        ps.signed_len = ps.len[0] + 1 + ps.len[1];
        *ret = ps;
        return 0;
}

static int b64_part(const char *p, size_t len, const char *what, uint8_t **ret, size_t *ret_len) {
        _cleanup_free_ uint8_t *buf = malloc(cp_b64_decoded_max(len) + 1);
        size_t n;
        if (!buf)
                return cp_error_oom();
        if (cp_b64_decode(p, len, CP_B64_URL, buf, cp_b64_decoded_max(len), &n) < 0)
                return cp_error_wrap("token %s: ", what);
        buf[n] = '\0';
        *ret = TAKE_PTR(buf);
        *ret_len = n;
        return 0;
}

static int json_part(const char *p, size_t len, const char *what, json_t **ret) {
        _cleanup_free_ uint8_t *buf = NULL;
        size_t n;
        json_error_t jerr;
        int r;
        if ((r = b64_part(p, len, what, &buf, &n)) < 0)
                return r;
        if ((r = cp_jwt_json_depth_ok((const char *) buf, n, CP_MAX_JSON_DEPTH)) < 0)
                return cp_error_wrap("token %s: ", what);
        json_t *j = json_loadb((const char *) buf, n, JSON_REJECT_DUPLICATES, &jerr);
        if (!j)
                return CP_ERROR(CP_EFORMAT, "token %s is not JSON: %s", what, jerr.text);
        if (!json_is_object(j)) {
                json_decref(j);
                return CP_ERROR(CP_EFORMAT, "token %s is not a JSON object", what);
        }
        *ret = j;
        return 0;
}

static void jsonp_free(json_t **p) {
        json_decref(*p);
}
#define _cleanup_json_ _cleanup_(jsonp_free)

/* Header checks; *ret_alg and *ret_kid (borrowed, may be NULL). */
static int check_header(const json_t *hdr, unsigned algs, cp_jwt_alg *ret_alg, const char **ret_kid) {
        const json_t *alg = json_object_get(hdr, "alg"), *kid = json_object_get(hdr, "kid");
        cp_jwt_alg a;
        if (!json_is_string(alg))
                return CP_ERROR(CP_EFORMAT, "token header has no string \"alg\"");
        if (cp_jwt_alg_from_name(json_string_value(alg), &a) < 0)
                return CP_EUNSUPPORTED;
        if (!((algs ? algs : CP_JWT_ALG_ALL) & (unsigned) a))
                return CP_ERROR(CP_EUNSUPPORTED, "token alg %s is not allowed", cp_jwt_alg_name(a));
        if (json_object_get(hdr, "crit"))
                return CP_ERROR(CP_EUNSUPPORTED, "token header has \"crit\" extensions");
        if (kid && (!json_is_string(kid) || json_string_length(kid) > CP_JWT_KID_MAX))
                return CP_ERROR(CP_EFORMAT, "token header \"kid\" is not a short string");
        *ret_alg = a;
        *ret_kid = kid ? json_string_value(kid) : NULL;
        return 0;
}

static int verify_with(EVP_PKEY *pkey, cp_jwt_alg alg, const char *input, size_t len, const uint8_t *sig,
                       size_t sig_len) {
        _cleanup_evp_md_ctx_ EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        uint8_t der[256];
        const uint8_t *vsig = sig;
        size_t vlen = sig_len;
        if (!ctx)
                return cp_error_oom();
        if (alg != CP_JWT_RS256) {
                size_t coord = alg_coord(alg);
                if (sig_len != 2 * coord)
                        return CP_ERROR(CP_ESIG, "%s signature must be %zu bytes, not %zu", cp_jwt_alg_name(alg),
                                        2 * coord, sig_len);
                ECDSA_SIG *es = ECDSA_SIG_new();
                BIGNUM *r = BN_bin2bn(sig, (int) coord, NULL), *s = BN_bin2bn(sig + coord, (int) coord, NULL);
                if (!es || !r || !s || !ECDSA_SIG_set0(es, r, s)) {
                        ECDSA_SIG_free(es);
                        BN_free(r);
                        BN_free(s);
                        return cp_error_oom();
                }
                unsigned char *p = der;
                int n = i2d_ECDSA_SIG(es, NULL);
                if (n <= 0 || (size_t) n > sizeof(der) || i2d_ECDSA_SIG(es, &p) != n) {
                        ECDSA_SIG_free(es);
                        return CP_OSSL_ERROR(CP_ECRYPTO, "encoding the ECDSA signature");
                }
                ECDSA_SIG_free(es);
                vsig = der;
                vlen = (size_t) n;
        }
        if (EVP_DigestVerifyInit(ctx, NULL, alg_md(alg), NULL, pkey) != 1)
                return CP_OSSL_ERROR(CP_ECRYPTO, "EVP_DigestVerifyInit");
        int k = EVP_DigestVerify(ctx, vsig, vlen, (const uint8_t *) input, len);
        cp_ossl_clear();
        if (k != 1)
                return CP_ERROR(CP_ESIG, "token signature does not verify");
        return 0;
}

/* Structure, header and signature: the shared part of cp_jws_verify and
 * cp_jwt_validate. */
static int verify_jws(const char *token, size_t len, const cp_jwks *jwks, unsigned algs, json_t **ret_hdr,
                      uint8_t **ret_payload, size_t *ret_payload_len, cp_jwt_alg *ret_alg) {
        _cleanup_json_ json_t *hdr = NULL;
        _cleanup_free_ uint8_t *payload = NULL, *sig = NULL;
        size_t plen, slen;
        cp_jwt_alg alg = CP_JWT_ALG_INVALID;
        const char *kid = NULL;
        parts ps;
        int r;

        if (!jwks)
                return CP_ERROR(CP_EINVAL, "no JWKS to verify with");
        if ((r = split(token, len, &ps)) < 0 || (r = json_part(ps.p[0], ps.len[0], "header", &hdr)) < 0 ||
            (r = check_header(hdr, algs, &alg, &kid)) < 0 ||
            (r = b64_part(ps.p[1], ps.len[1], "payload", &payload, &plen)) < 0)
                return r;
        if (ps.len[2] == 0)
                return CP_ERROR(CP_EFORMAT, "token has an empty signature");
        if (ps.len[2] > cp_b64_encoded_len(JWS_SIG_MAX, CP_B64_URL))
                return CP_ERROR(CP_EFORMAT, "token signature too long");
        if ((r = b64_part(ps.p[2], ps.len[2], "signature", &sig, &slen)) < 0)
                return r;

        bool tried = false;
        r = CP_ERROR(CP_ENOTFOUND, kid ? "no key with kid \"%s\" for %s" : "no key%s for %s", kid ? kid : "",
                     cp_jwt_alg_name(alg));
        for (size_t i = 0; i < jwks->n; i++) {
                const cp_jwks_entry *e = &jwks->keys[i];
                if (kid && (!e->has_kid || strcmp(e->kid, kid) != 0))
                        continue;
                if (!(e->algs & (unsigned) alg)) {
                        if (kid) /* the named key is of another type: key confusion */
                                return CP_ERROR(CP_ENOTFOUND, "key \"%s\" does not fit alg %s", kid,
                                                cp_jwt_alg_name(alg));
                        continue;
                }
                tried = true;
                r = verify_with(e->pkey, alg, token, ps.signed_len, sig, slen);
                if (r == 0 || r != CP_ESIG)
                        break;
        }
        if (r < 0)
                return tried && r == CP_ESIG ? CP_ERROR(CP_ESIG, "token signature does not verify") : r;
        if (ret_hdr)
                *ret_hdr = TAKE_PTR(hdr);
        *ret_payload = TAKE_PTR(payload);
        *ret_payload_len = plen;
        if (ret_alg)
                *ret_alg = alg;
        return 0;
}

int cp_jws_verify(const char *token, size_t len, const cp_jwks *jwks, unsigned algs, uint8_t **ret_payload,
                  size_t *ret_payload_len) {
        return verify_jws(token, len, jwks, algs, NULL, ret_payload, ret_payload_len, NULL);
}

int cp_jws_decode_unsecured(const char *token, size_t len, uint8_t **ret_payload, size_t *ret_payload_len) {
        _cleanup_json_ json_t *hdr = NULL;
        parts ps;
        int r;
        if ((r = split(token, len, &ps)) < 0 || (r = json_part(ps.p[0], ps.len[0], "header", &hdr)) < 0)
                return r;
        const char *alg = json_string_value(json_object_get(hdr, "alg"));
        if (!alg || strcmp(alg, "none") != 0)
                return CP_ERROR(CP_EUNSUPPORTED, "not an unsecured JWS (alg must be \"none\")");
        if (json_object_get(hdr, "crit"))
                return CP_ERROR(CP_EUNSUPPORTED, "token header has \"crit\" extensions");
        if (ps.len[2] != 0)
                return CP_ERROR(CP_EFORMAT, "unsecured JWS with a signature");
        return b64_part(ps.p[1], ps.len[1], "payload", ret_payload, ret_payload_len);
}

/* ---- validation ----------------------------------------------------------- */

static int time_claim(const json_t *claims, const char *name, bool *ret_present, int64_t *ret) {
        const json_t *v = json_object_get(claims, name);
        *ret_present = v != NULL;
        if (!v)
                return 0;
        if (!json_is_integer(v))
                return CP_ERROR(CP_EFORMAT, "claim \"%s\" is not an integer", name);
        *ret = (int64_t) json_integer_value(v);
        return 0;
}

static int check_claims(const json_t *claims, const cp_jwt_validate_options *o) {
        const json_t *iss = json_object_get(claims, "iss"), *aud = json_object_get(claims, "aud");
        int64_t now = o->now ? o->now : (int64_t) time(NULL), exp = 0, nbf = 0, iat = 0;
        bool has_exp, has_nbf, has_iat;
        int r;

        if ((r = time_claim(claims, "exp", &has_exp, &exp)) < 0 || (r = time_claim(claims, "nbf", &has_nbf, &nbf)) < 0 ||
            (r = time_claim(claims, "iat", &has_iat, &iat)) < 0)
                return r;
        if (iss && !json_is_string(iss))
                return CP_ERROR(CP_EFORMAT, "claim \"iss\" is not a string");
        if (!iss || strcmp(json_string_value(iss), o->issuer) != 0)
                return CP_ERROR(CP_EUNTRUSTED, "token issuer is not \"%s\"", o->issuer);
        if (o->audience) {
                bool found = false;
                if (json_is_string(aud))
                        found = strcmp(json_string_value(aud), o->audience) == 0;
                else if (json_is_array(aud)) {
                        size_t i;
                        const json_t *a;
                        json_array_foreach(aud, i, a) {
                                if (!json_is_string(a))
                                        return CP_ERROR(CP_EFORMAT, "claim \"aud\" holds a non-string");
                                if (strcmp(json_string_value(a), o->audience) == 0)
                                        found = true;
                        }
                } else if (aud)
                        return CP_ERROR(CP_EFORMAT, "claim \"aud\" is neither string nor array");
                if (!found)
                        return CP_ERROR(CP_EBINDING, "token audience does not include \"%s\"", o->audience);
        }
        if (!has_exp && !o->allow_missing_exp)
                return CP_ERROR(CP_EEXPIRED, "token has no \"exp\"");
        /* written so that no extreme exp/nbf value can overflow */
        if (has_exp && now - (int64_t) o->slack_s >= exp)
                return CP_ERROR(CP_EEXPIRED, "token expired at %lld (now %lld)", (long long) exp, (long long) now);
        if (has_nbf && now + (int64_t) o->slack_s < nbf)
                return CP_ERROR(CP_EEXPIRED, "token not valid before %lld (now %lld)", (long long) nbf,
                                (long long) now);
        return 0;
}

cp_jwt *cp_jwt_free(cp_jwt *t) {
        if (!t)
                return NULL;
        json_decref(t->header);
        json_decref(t->claims);
        free(t);
        return NULL;
}

int cp_jwt_validate(const char *token, size_t len, const cp_jwt_validate_options *o, cp_jwt **ret) {
        _cleanup_json_ json_t *hdr = NULL;
        _cleanup_free_ uint8_t *payload = NULL;
        size_t plen;
        cp_jwt_alg alg;
        json_error_t jerr;
        int r;

        if (!o || o->version != CP_JWT_VALIDATE_OPTIONS_VERSION || !o->issuer)
                return CP_ERROR(CP_EINVAL, "validation options need a version and an issuer");
        if ((r = verify_jws(token, len, o->jwks, o->algs, &hdr, &payload, &plen, &alg)) < 0)
                return r;
        if ((r = cp_jwt_json_depth_ok((const char *) payload, plen, CP_MAX_JSON_DEPTH)) < 0)
                return r;
        json_t *claims = json_loadb((const char *) payload, plen, JSON_REJECT_DUPLICATES, &jerr);
        if (!claims)
                return CP_ERROR(CP_EFORMAT, "token payload is not JSON: %s", jerr.text);
        if (!json_is_object(claims)) {
                json_decref(claims);
                return CP_ERROR(CP_EFORMAT, "token payload is not a JSON object");
        }
        if ((r = check_claims(claims, o)) < 0) {
                json_decref(claims);
                return r;
        }
        if (ret) {
                cp_jwt *t = calloc(1, sizeof(*t));
                if (!t) {
                        json_decref(claims);
                        return cp_error_oom();
                }
                t->header = TAKE_PTR(hdr);
                t->claims = claims;
                t->alg = alg;
                *ret = t;
        } else
                json_decref(claims);
        return 0;
}

const json_t *cp_jwt_header(const cp_jwt *t) {
        return t ? t->header : NULL;
}

const json_t *cp_jwt_claims(const cp_jwt *t) {
        return t ? t->claims : NULL;
}

cp_jwt_alg cp_jwt_get_alg(const cp_jwt *t) {
        return t ? t->alg : CP_JWT_ALG_INVALID;
}
