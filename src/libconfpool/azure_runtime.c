/* SPDX-License-Identifier: Apache-2.0 */
/* Azure runtime-data JSON (the HCL report's VariableData): JWKs incl. the
 * vTPM attestation key, vm-configuration and user-data. */

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/cursor.h"
#include "basic/limits.h"
#include "basic/secure.h"
#include "confpool/azure.h"
#include "basic/json-depth.h"

#define RSA_MAX_BYTES 512u   /* 4096-bit modulus */
#define RSA_E_MAX_BYTES 8u
#define AK_MIN_BITS 2048
#define AK_MAX_BITS 4096

typedef struct rsa_jwk rsa_jwk;

struct cp_azure_runtime_data {
        EVP_PKEY *ak;
        _Atomic(EVP_PKEY *) ek;      /* built on first use from ek_n/ek_e (validated at parse) */
        bool has_ek;
        uint8_t ek_n[RSA_MAX_BYTES], ek_e[RSA_E_MAX_BYTES];
        size_t ek_n_len, ek_e_len;
        uint8_t ak_n[RSA_MAX_BYTES];
        size_t ak_n_len;
        uint8_t ak_e[RSA_E_MAX_BYTES];
        size_t ak_e_len;
        bool ak_can_sign;
        cp_azure_vm_config vm;
        char *vm_unique_id;
        char *root_cert_thumbprint;
        bool has_user_data;
        uint8_t user_data[CP_MAX_AZURE_USER_DATA];
        size_t user_data_len;
};

struct rsa_jwk {
        uint8_t n[RSA_MAX_BYTES];
        size_t n_len;
        uint8_t e[RSA_E_MAX_BYTES];
        size_t e_len;
};

CP_DEFINE_FREEP(cp_azure_runtime_data, cp_azure_runtime_data_free)

static inline void cp_json_decrefp(json_t **p) {
        if (*p)
                json_decref(*p);
}

static inline void bn_freep(BIGNUM **p) {
        BN_free(*p);
}

static inline void param_bld_freep(OSSL_PARAM_BLD **p) {
        OSSL_PARAM_BLD_free(*p);
}

static inline void params_freep(OSSL_PARAM **p) {
        OSSL_PARAM_free(*p);
}

static inline void pkey_ctx_freep(EVP_PKEY_CTX **p) {
        EVP_PKEY_CTX_free(*p);
}

static int check_depth(const uint8_t *json, size_t len) {
        if (!cp_json_depth_within(json, len, CP_MAX_JSON_DEPTH, NULL))
                return CP_ERROR(CP_EFORMAT, "runtime data: nesting deeper than %u", CP_MAX_JSON_DEPTH);
        return 0;
}

/* A base64url (unpadded) big-endian unsigned integer with no leading zero
 * octet (RFC 7518 section 2, Base64urlUInt). */
static int decode_uint(const json_t *v, const char *kid, const char *name, uint8_t *out, size_t cap,
                       size_t *ret_len) {
        const char *s;
        size_t slen, n = 0;
        int k;

        if (!json_is_string(v))
                return CP_ERROR(CP_EFORMAT, "runtime data: key \"%s\": \"%s\" missing or not a string", kid, name);
        s = json_string_value(v);
        slen = json_string_length(v);
        if (slen == 0)
                return CP_ERROR(CP_EFORMAT, "runtime data: key \"%s\": \"%s\" is empty", kid, name);
        if (slen > cp_b64_encoded_len(cap, CP_B64_URL))
                return CP_ERROR(CP_EUNSUPPORTED, "runtime data: key \"%s\": \"%s\" longer than %zu bytes", kid,
                                name, cap);
        k = cp_b64_decode(s, slen, CP_B64_URL, out, cap, &n);
        if (k < 0)
                return cp_error_wrap("runtime data: key \"%s\": \"%s\": ", kid, name);
        if (n == 0 || out[0] == 0)
                return CP_ERROR(CP_EFORMAT, "runtime data: key \"%s\": \"%s\" is not a minimal unsigned integer",
                                kid, name);
        *ret_len = n;
        return 0;
}

static int parse_rsa_jwk(const json_t *key, const char *kid, rsa_jwk *ret) {
        int k;

        k = decode_uint(json_object_get(key, "n"), kid, "n", ret->n, sizeof(ret->n), &ret->n_len);
        if (k < 0)
                return k;
        return decode_uint(json_object_get(key, "e"), kid, "e", ret->e, sizeof(ret->e), &ret->e_len);
}

/* The rules for the AK and EK: 2048..4096-bit odd modulus, odd e >= 3. */
static int rsa_jwk_check(const rsa_jwk *jwk, const char *kid) {
        int bits = (int) (jwk->n_len * 8);
        for (uint8_t top = jwk->n[0]; !(top & 0x80); top <<= 1)
                bits--;
        if (bits < AK_MIN_BITS || bits > AK_MAX_BITS)
                return CP_ERROR(CP_EUNSUPPORTED, "runtime data: key \"%s\": %d-bit modulus outside %d..%d", kid,
                                bits, AK_MIN_BITS, AK_MAX_BITS);
        if (!(jwk->n[jwk->n_len - 1] & 1))
                return CP_ERROR(CP_EFORMAT, "runtime data: key \"%s\": even modulus", kid);
        if (!(jwk->e[jwk->e_len - 1] & 1) || (jwk->e_len == 1 && jwk->e[0] < 3))
                return CP_ERROR(CP_EFORMAT, "runtime data: key \"%s\": bad public exponent", kid);
        return 0;
}

static int rsa_pkey_build(const uint8_t *nb, size_t nl, const uint8_t *eb, size_t el, const char *kid,
                          EVP_PKEY **ret) {
        _cleanup_(bn_freep) BIGNUM *n = NULL, *e = NULL;
        _cleanup_(param_bld_freep) OSSL_PARAM_BLD *bld = NULL;
        _cleanup_(params_freep) OSSL_PARAM *params = NULL;
        _cleanup_(pkey_ctx_freep) EVP_PKEY_CTX *ctx = NULL;
        EVP_PKEY *pkey = NULL;

        n = BN_bin2bn(nb, (int) nl, NULL);
        e = BN_bin2bn(eb, (int) el, NULL);
        bld = OSSL_PARAM_BLD_new();
        if (!n || !e || !bld)
                return cp_error_oom();
        if (OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1 ||
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1)
                return CP_ERROR(CP_ECRYPTO, "OSSL_PARAM_BLD_push_BN failed");
        params = OSSL_PARAM_BLD_to_param(bld);
        if (!params)
                return cp_error_oom();
        ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
        if (!ctx)
                return CP_ERROR(CP_ECRYPTO, "EVP_PKEY_CTX_new_from_name(RSA) failed");
        if (EVP_PKEY_fromdata_init(ctx) != 1 || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
                return CP_ERROR(CP_ECRYPTO, "runtime data: key \"%s\": EVP_PKEY_fromdata failed", kid);
        *ret = pkey;
        return 0;
}

static int rsa_pkey_from(const rsa_jwk *jwk, const char *kid, EVP_PKEY **ret) {
        int k = rsa_jwk_check(jwk, kid);
        return k < 0 ? k : rsa_pkey_build(jwk->n, jwk->n_len, jwk->e, jwk->e_len, kid, ret);
}

static int key_ops_has(const json_t *key, const char *kid, const char *op, bool *ret) {
        const json_t *ops = json_object_get(key, "key_ops");
        size_t i;
        const json_t *v;
        bool found = false;

        if (!ops) {
                *ret = false;
                return 0;
        }
        if (!json_is_array(ops))
                return CP_ERROR(CP_EFORMAT, "runtime data: key \"%s\": \"key_ops\" is not an array", kid);
        json_array_foreach(ops, i, v) {
                if (!json_is_string(v))
                        return CP_ERROR(CP_EFORMAT, "runtime data: key \"%s\": \"key_ops\" entry is not a string",
                                        kid);
                if (strcmp(json_string_value(v), op) == 0)
                        found = true;
        }
        *ret = found;
        return 0;
}

static int parse_keys(const json_t *keys, cp_azure_runtime_data *rd) {
        const char *kids[CP_MAX_RUNTIME_KEYS];
        size_t i, n;
        const json_t *key;
        bool have_ak = false;
        int k;

        if (!keys)
                return CP_ERROR(CP_EFORMAT, "runtime data: no \"keys\" member");
        if (!json_is_array(keys))
                return CP_ERROR(CP_EFORMAT, "runtime data: \"keys\" is not an array");
        n = json_array_size(keys);
        if (n > CP_MAX_RUNTIME_KEYS)
                return CP_ERROR(CP_ETOOBIG, "runtime data: %zu keys, at most %u", n, CP_MAX_RUNTIME_KEYS);

        json_array_foreach(keys, i, key) {
                const json_t *kid_v, *kty_v;
                const char *kid, *kty;
                rsa_jwk jwk = {};

                if (!json_is_object(key))
                        return CP_ERROR(CP_EFORMAT, "runtime data: keys[%zu] is not an object", i);
                kid_v = json_object_get(key, "kid");
                kty_v = json_object_get(key, "kty");
                if (!json_is_string(kid_v) || !json_is_string(kty_v))
                        return CP_ERROR(CP_EFORMAT, "runtime data: keys[%zu] lacks string \"kid\"/\"kty\"", i);
                kid = json_string_value(kid_v);
                kty = json_string_value(kty_v);
                if (strlen(kid) != json_string_length(kid_v))
                        return CP_ERROR(CP_EFORMAT, "runtime data: keys[%zu]: NUL in \"kid\"", i);
                for (size_t j = 0; j < i; j++)
                        if (strcmp(kids[j], kid) == 0)
                                return CP_ERROR(CP_EFORMAT, "runtime data: duplicate key id \"%s\"", kid);
                kids[i] = kid;

                bool is_ak = strcmp(kid, "HCLAkPub") == 0, is_ek = strcmp(kid, "HCLEkPub") == 0;
                bool is_rsa = strcmp(kty, "RSA") == 0;

                if ((is_ak || is_ek) && !is_rsa)
                        return CP_ERROR(CP_EUNSUPPORTED, "runtime data: key \"%s\" has kty \"%s\", want RSA", kid,
                                        kty);
                if (!is_rsa)
                        continue; /* some other key we do not use */

                k = parse_rsa_jwk(key, kid, &jwk);
                if (k < 0)
                        return k;

                if (is_ak) {
                        k = rsa_pkey_from(&jwk, kid, &rd->ak);
                        if (k < 0)
                                return k;
                        memcpy(rd->ak_n, jwk.n, jwk.n_len);
                        rd->ak_n_len = jwk.n_len;
                        memcpy(rd->ak_e, jwk.e, jwk.e_len);
                        rd->ak_e_len = jwk.e_len;
                        k = key_ops_has(key, kid, "sign", &rd->ak_can_sign);
                        if (k < 0)
                                return k;
                        have_ak = true;
                } else if (is_ek) {
                        /* checked now, made an EVP_PKEY when asked for (most verifiers never are) */
                        k = rsa_jwk_check(&jwk, kid);
                        if (k < 0)
                                return k;
                        memcpy(rd->ek_n, jwk.n, jwk.n_len);
                        rd->ek_n_len = jwk.n_len;
                        memcpy(rd->ek_e, jwk.e, jwk.e_len);
                        rd->ek_e_len = jwk.e_len;
                        rd->has_ek = true;
                }
        }
        if (!have_ak)
                return CP_ERROR(CP_EFORMAT, "runtime data: no \"HCLAkPub\" key");
        return 0;
}

static int get_flag(const json_t *obj, const char *name, cp_azure_flag *ret) {
        const json_t *v = json_object_get(obj, name);
        if (!v) {
                *ret = CP_AZURE_FLAG_ABSENT;
                return 0;
        }
        if (!json_is_boolean(v))
                return CP_ERROR(CP_EFORMAT, "runtime data: vm-configuration \"%s\" is not a boolean", name);
        *ret = json_is_true(v) ? CP_AZURE_FLAG_TRUE : CP_AZURE_FLAG_FALSE;
        return 0;
}

static int get_string(const json_t *obj, const char *name, char **ret) {
        const json_t *v = json_object_get(obj, name);
        char *s;
        if (!v) {
                *ret = NULL;
                return 0;
        }
        if (!json_is_string(v))
                return CP_ERROR(CP_EFORMAT, "runtime data: vm-configuration \"%s\" is not a string", name);
        if (strlen(json_string_value(v)) != json_string_length(v))
                return CP_ERROR(CP_EFORMAT, "runtime data: vm-configuration \"%s\" contains NUL", name);
        s = strdup(json_string_value(v));
        if (!s)
                return cp_error_oom();
        *ret = s;
        return 0;
}

static int parse_vm_config(const json_t *vm, cp_azure_runtime_data *rd) {
        cp_azure_vm_config *c = &rd->vm;
        const json_t *t;
        int k;

        c->console_enabled = c->secure_boot = c->tpm_enabled = c->tpm_persisted = CP_AZURE_FLAG_ABSENT;
        if (!vm)
                return 0;
        if (!json_is_object(vm))
                return CP_ERROR(CP_EFORMAT, "runtime data: \"vm-configuration\" is not an object");
        c->present = true;
        if ((k = get_flag(vm, "console-enabled", &c->console_enabled)) < 0 ||
            (k = get_flag(vm, "secure-boot", &c->secure_boot)) < 0 ||
            (k = get_flag(vm, "tpm-enabled", &c->tpm_enabled)) < 0 ||
            (k = get_flag(vm, "tpm-persisted", &c->tpm_persisted)) < 0 ||
            (k = get_string(vm, "vmUniqueId", &rd->vm_unique_id)) < 0 ||
            (k = get_string(vm, "root-cert-thumbprint", &rd->root_cert_thumbprint)) < 0)
                return k;
        c->vm_unique_id = rd->vm_unique_id;
        c->root_cert_thumbprint = rd->root_cert_thumbprint;
        t = json_object_get(vm, "current-time");
        if (t) {
                if (!json_is_integer(t))
                        return CP_ERROR(CP_EFORMAT, "runtime data: vm-configuration \"current-time\" is not an integer");
                c->has_current_time = true;
                c->current_time = (int64_t) json_integer_value(t);
        }
        return 0;
}

static int parse_user_data(const json_t *ud, cp_azure_runtime_data *rd) {
        int k;

        if (!ud)
                return 0;
        if (!json_is_string(ud))
                return CP_ERROR(CP_EFORMAT, "runtime data: \"user-data\" is not a string");
        if (json_string_length(ud) > 2 * sizeof(rd->user_data))
                return CP_ERROR(CP_ETOOBIG, "runtime data: \"user-data\" longer than %zu bytes",
                                sizeof(rd->user_data));
        k = cp_hex_decode(json_string_value(ud), json_string_length(ud), rd->user_data, sizeof(rd->user_data),
                          &rd->user_data_len);
        if (k < 0)
                return cp_error_wrap("runtime data: \"user-data\": ");
        rd->has_user_data = true;
        return 0;
}

/* Nesting of a parsed tree, bounded like check_depth() bounds text. */
static bool tree_depth_within(const json_t *v, unsigned max) {
        const char *k;
        const json_t *m;
        size_t i;
        if (!json_is_object(v) && !json_is_array(v))
                return true;
        if (max == 0)
                return false;
        if (json_is_object(v)) {
                json_object_foreach((json_t *) v, k, m)
                        if (!tree_depth_within(m, max - 1))
                                return false;
        } else
                json_array_foreach(v, i, m)
                        if (!tree_depth_within(m, max - 1))
                                return false;
        return true;
}

static int from_root(const json_t *root, cp_azure_runtime_data **ret) {
        _cleanup_(cp_azure_runtime_data_freep) cp_azure_runtime_data *rd = NULL;
        int k;
        if (!json_is_object(root))
                return CP_ERROR(CP_EFORMAT, "runtime data is not a JSON object");
        rd = calloc(1, sizeof(*rd));
        if (!rd)
                return cp_error_oom();
        k = parse_keys(json_object_get(root, "keys"), rd);
        if (k < 0)
                return k;
        k = parse_vm_config(json_object_get(root, "vm-configuration"), rd);
        if (k < 0)
                return k;
        k = parse_user_data(json_object_get(root, "user-data"), rd);
        if (k < 0)
                return k;
        *ret = TAKE_PTR(rd);
        return 0;
}

int cp_azure_runtime_data_parse(const uint8_t *json, size_t len, cp_azure_runtime_data **ret) {
        _cleanup_(cp_json_decrefp) json_t *root = NULL;
        json_error_t jerr;
        int k;

        if (!ret || (!json && len > 0))
                return CP_ERROR(CP_EINVAL, "cp_azure_runtime_data_parse: NULL argument");
        if (len > CP_MAX_RUNTIME_DATA)
                return CP_ERROR(CP_ETOOBIG, "runtime data of %zu bytes exceeds %u", len, CP_MAX_RUNTIME_DATA);
        if (len == 0)
                return CP_ERROR(CP_EFORMAT, "runtime data is empty");
        k = check_depth(json, len);
        if (k < 0)
                return k;

        root = json_loadb((const char *) json, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!root)
                return CP_ERROR(CP_EFORMAT, "runtime data: invalid JSON at line %d column %d", jerr.line,
                                jerr.column);
        return from_root(root, ret);
}

int cp_azure_runtime_data_from_json(const json_t *root, cp_azure_runtime_data **ret) {
        if (!ret || !root)
                return CP_ERROR(CP_EINVAL, "cp_azure_runtime_data_from_json: NULL argument");
        if (!tree_depth_within(root, CP_MAX_JSON_DEPTH))
                return CP_ERROR(CP_EFORMAT, "runtime data: nesting deeper than %u", CP_MAX_JSON_DEPTH);
        return from_root(root, ret);
}

cp_azure_runtime_data *cp_azure_runtime_data_free(cp_azure_runtime_data *rd) {
        if (!rd)
                return NULL;
        EVP_PKEY_free(rd->ak);
        EVP_PKEY_free(atomic_load(&rd->ek));
        free(rd->vm_unique_id);
        free(rd->root_cert_thumbprint);
        cp_wipe(rd, sizeof(*rd));
        free(rd);
        return NULL;
}

const void *cp_azure_runtime_data_ak(const cp_azure_runtime_data *rd) {
        return rd ? rd->ak : NULL;
}

const void *cp_azure_runtime_data_ek(const cp_azure_runtime_data *rd) {
        if (!rd || !rd->has_ek)
                return NULL;
        cp_azure_runtime_data *m = (cp_azure_runtime_data *) rd; /* the lazily built key only */
        EVP_PKEY *k = atomic_load(&m->ek), *expected = NULL;
        if (k)
                return k;
        if (rsa_pkey_build(rd->ek_n, rd->ek_n_len, rd->ek_e, rd->ek_e_len, "HCLEkPub", &k) < 0)
                return NULL; /* out of memory: the last error says so */
        if (!atomic_compare_exchange_strong(&m->ek, &expected, k)) {
                EVP_PKEY_free(k); /* another thread built it first */
                return expected;
        }
        return k;
}

void cp_azure_runtime_data_ak_rsa(const cp_azure_runtime_data *rd, const uint8_t **ret_n, size_t *ret_n_len,
                                  const uint8_t **ret_e, size_t *ret_e_len) {
        if (ret_n)
                *ret_n = rd ? rd->ak_n : NULL;
        if (ret_n_len)
                *ret_n_len = rd ? rd->ak_n_len : 0;
        if (ret_e)
                *ret_e = rd ? rd->ak_e : NULL;
        if (ret_e_len)
                *ret_e_len = rd ? rd->ak_e_len : 0;
}

bool cp_azure_runtime_data_ak_can_sign(const cp_azure_runtime_data *rd) {
        return rd && rd->ak_can_sign;
}

const cp_azure_vm_config *cp_azure_runtime_data_vm_config(const cp_azure_runtime_data *rd) {
        return rd ? &rd->vm : NULL;
}

int cp_azure_runtime_data_user_data(const cp_azure_runtime_data *rd, const uint8_t **ret, size_t *ret_len) {
        if (!rd || !ret || !ret_len)
                return CP_ERROR(CP_EINVAL, "cp_azure_runtime_data_user_data: NULL argument");
        if (!rd->has_user_data)
                return CP_ERROR(CP_ENOTFOUND, "runtime data has no \"user-data\"");
        *ret = rd->user_data;
        *ret_len = rd->user_data_len;
        return 0;
}

int cp_azure_runtime_data_check_user_data(const cp_azure_runtime_data *rd, const uint8_t *expected, size_t len) {
        uint8_t want[CP_MAX_AZURE_USER_DATA] = {};

        if (!rd || (!expected && len > 0))
                return CP_ERROR(CP_EINVAL, "cp_azure_runtime_data_check_user_data: NULL argument");
        if (!rd->has_user_data)
                return CP_ERROR(CP_EBINDING, "runtime data has no \"user-data\"");
        if (len > rd->user_data_len)
                return CP_ERROR(CP_EBINDING, "user-data has %zu bytes, expected value has %zu", rd->user_data_len,
                                len);
        if (len > 0)
                memcpy(want, expected, len);
        if (!cp_ct_eq(rd->user_data, want, rd->user_data_len))
                return CP_ERROR(CP_EBINDING, "user-data does not match the expected value");
        return 0;
}
