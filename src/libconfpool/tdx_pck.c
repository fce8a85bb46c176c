/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Intel's certificates for TDX: the pinned Intel SGX Root CA, PCK and TCB
 * Signing chains verified with OpenSSL (with the PCK and Root CA CRLs),
 * Intel's SGX extensions of a PCK certificate (OID 1.2.840.113741.1.13.1,
 * "Intel SGX PCK Certificate and Certificate Revocation List Profile"), and
 * ECDSA P-256 signatures in Intel's raw r || s form.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "basic/cleanup.h"
#include "basic/cursor.h"
#include "libconfpool/tdx-internal.h"
#include "ossl/ossl-util.h"

/* Intel SGX Root CA, 2018-05-21..2049-12-31, SHA-256 fingerprint
 * 44:A0:19:6B:2B:99:F8:89:B8:E1:49:E9:5B:80:7A:35:0E:74:24:96:43:99:E8:85:A7:CB:B8:CC:FA:B6:74:D3
 * (https://certificates.trustedservices.intel.com/Intel_SGX_Provisioning_Certification_RootCA.pem) */
static const char intel_root_pem[] =
        "-----BEGIN CERTIFICATE-----\n"
        "MIICjzCCAjSgAwIBAgIUImUM1lqdNInzg7SVUr9QGzknBqwwCgYIKoZIzj0EAwIw\n"
        "aDEaMBgGA1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENv\n"
        "cnBvcmF0aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJ\n"
        "BgNVBAYTAlVTMB4XDTE4MDUyMTEwNDUxMFoXDTQ5MTIzMTIzNTk1OVowaDEaMBgG\n"
        "A1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENvcnBvcmF0\n"
        "aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJBgNVBAYT\n"
        "AlVTMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEC6nEwMDIYZOj/iPWsCzaEKi7\n"
        "1OiOSLRFhWGjbnBVJfVnkY4u3IjkDYYL0MxO4mqsyYjlBalTVYxFP2sJBK5zlKOB\n"
        "uzCBuDAfBgNVHSMEGDAWgBQiZQzWWp00ifODtJVSv1AbOScGrDBSBgNVHR8ESzBJ\n"
        "MEegRaBDhkFodHRwczovL2NlcnRpZmljYXRlcy50cnVzdGVkc2VydmljZXMuaW50\n"
        "ZWwuY29tL0ludGVsU0dYUm9vdENBLmRlcjAdBgNVHQ4EFgQUImUM1lqdNInzg7SV\n"
        "Ur9QGzknBqwwDgYDVR0PAQH/BAQDAgEGMBIGA1UdEwEB/wQIMAYBAf8CAQEwCgYI\n"
        "KoZIzj0EAwIDSQAwRgIhAOW/5QkR+S9CiSDcNoowLuPRLsWGf/Yi7GSX94BgwTwg\n"
        "AiEA4J0lrHoMs+Xo5o/sX6O9QWxHRAvZUGOdRQ7cvqRXaqI=\n"
        "-----END CERTIFICATE-----\n";

const char *cp_tdx_intel_root_pem(void) {
        return intel_root_pem;
}

#define SGX_OID "1.2.840.113741.1.13.1"
#define TDX_MAX_CHAIN 8

static void sk_x509_pop_freep(STACK_OF(X509) **p) {
        if (*p)
                sk_X509_pop_free(*p, X509_free);
}
static void sk_asn1_type_pop_freep(STACK_OF(ASN1_TYPE) **p) {
        if (*p)
                sk_ASN1_TYPE_pop_free(*p, ASN1_TYPE_free);
}

/* ---- loading */

static bool is_pem(const uint8_t *buf, size_t len) {
        static const char tag[] = "-----BEGIN ";
        for (size_t i = 0; i + sizeof(tag) - 1 <= len && i < 64; i++)
                if (memcmp(buf + i, tag, sizeof(tag) - 1) == 0)
                        return true;
        return false;
}

int tdx_load_certs(const uint8_t *buf, size_t len, const char *what, STACK_OF(X509) **ret) {
        _cleanup_(sk_x509_pop_freep) STACK_OF(X509) *sk = sk_X509_new_null();
        if (!sk || !buf || len == 0 || len > INT32_MAX)
                return CP_ERROR(sk ? CP_ECERT : CP_ENOMEM, "%s: no certificates", what);
        if (is_pem(buf, len)) {
                _cleanup_bio_ BIO *b = BIO_new_mem_buf(buf, (int) len);
                X509 *x;
                while (b && (x = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
                        if (sk_X509_num(sk) >= TDX_MAX_CHAIN || !sk_X509_push(sk, x)) {
                                X509_free(x);
                                return CP_ERROR(CP_ECERT, "%s: more than %d certificates", what, TDX_MAX_CHAIN);
                        }
                }
                cp_ossl_clear(); /* the end of the PEM input */
        } else {
                const unsigned char *p = buf, *end = buf + len;
                while (p < end) {
                        X509 *x = d2i_X509(NULL, &p, end - p);
                        if (!x)
                                return CP_OSSL_ERROR(CP_ECERT, "%s: certificate %d is not DER", what, sk_X509_num(sk) + 1);
                        if (sk_X509_num(sk) >= TDX_MAX_CHAIN || !sk_X509_push(sk, x)) {
                                X509_free(x);
                                return CP_ERROR(CP_ECERT, "%s: more than %d certificates", what, TDX_MAX_CHAIN);
                        }
                }
        }
        if (sk_X509_num(sk) == 0)
                return CP_ERROR(CP_ECERT, "%s: no certificate found", what);
        *ret = TAKE_PTR(sk);
        return 0;
}

int tdx_load_crl(const uint8_t *buf, size_t len, const char *what, X509_CRL **ret) {
        X509_CRL *crl;
        if (!buf || len == 0 || len > INT32_MAX)
                return CP_ERROR(CP_EREVOKED, "%s: empty", what);
        if (is_pem(buf, len)) {
                _cleanup_bio_ BIO *b = BIO_new_mem_buf(buf, (int) len);
                crl = b ? PEM_read_bio_X509_CRL(b, NULL, NULL, NULL) : NULL;
        } else {
                const unsigned char *p = buf;
                crl = d2i_X509_CRL(NULL, &p, (long) len);
                if (crl && p != buf + len) {
                        X509_CRL_free(crl);
                        return CP_ERROR(CP_EREVOKED, "%s: %zu trailing bytes after the CRL", what, (size_t) (buf + len - p));
                }
        }
        if (!crl)
                return CP_OSSL_ERROR(CP_EREVOKED, "%s: not a CRL (DER or PEM)", what);
        *ret = crl;
        return 0;
}

/* ---- chains */

static int chain_error(int err, const char *what, int depth) {
        const char *why = X509_verify_cert_error_string(err);
        int code;
        switch (err) {
        case X509_V_ERR_CERT_REVOKED:
        case X509_V_ERR_UNABLE_TO_GET_CRL:
        case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
        case X509_V_ERR_CRL_SIGNATURE_FAILURE:
        case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
        case X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD:
        case X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD:
                code = CP_EREVOKED;
                break;
        case X509_V_ERR_CERT_HAS_EXPIRED:
        case X509_V_ERR_CERT_NOT_YET_VALID:
        case X509_V_ERR_CRL_HAS_EXPIRED: /* stale collateral, like an expired TCB Info */
        case X509_V_ERR_CRL_NOT_YET_VALID:
                code = CP_EEXPIRED;
                break;
        case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
        case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
                code = CP_EUNTRUSTED;
                break;
        default:
                code = CP_ECERT;
        }
        cp_ossl_clear();
        return CP_ERROR(code, "%s does not verify to the Intel SGX Root CA: %s (certificate depth %d)", what, why, depth);
}

/* The leaf: the one certificate that is not a CA (chains arrive leaf first
 * in PEM and root first in some DER blobs); NULL if there is none or more
 * than one, so that the certificate verified is the one whose key and
 * extensions are used. */
X509 *tdx_chain_leaf(STACK_OF(X509) *chain) {
        X509 *leaf = NULL;
        for (int i = 0; i < sk_X509_num(chain); i++)
                if (X509_check_ca(sk_X509_value(chain, i)) == 0) {
                        if (leaf)
                                return NULL;
                        leaf = sk_X509_value(chain, i);
                }
        return leaf;
}

int tdx_verify_chain(STACK_OF(X509) *chain, X509 *root, X509_CRL *crl1, X509_CRL *crl2, int64_t now,
                     const char *what) {
        X509_STORE *store = X509_STORE_new();
        X509_STORE_CTX *ctx = X509_STORE_CTX_new();
        STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
        X509 *leaf = tdx_chain_leaf(chain);
        int k = 0;

        if (!store || !ctx || !crls) {
                k = CP_ERROR(CP_ENOMEM, "%s: out of memory", what);
                goto out;
        }
        if (!leaf) {
                k = CP_ERROR(CP_ECERT, "%s has no end-entity certificate, or more than one", what);
                goto out;
        }
        if (!X509_STORE_add_cert(store, root) || !X509_STORE_CTX_init(ctx, store, leaf, chain)) {
                k = CP_OSSL_ERROR(CP_ECRYPTO, "%s: X509 store setup failed", what);
                goto out;
        }
        X509_STORE_CTX_set_time(ctx, 0, (time_t) now);
        if (crl1 || crl2) {
                if (crl1)
                        sk_X509_CRL_push(crls, crl1);
                if (crl2)
                        sk_X509_CRL_push(crls, crl2);
                X509_STORE_CTX_set0_crls(ctx, crls);
                X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
        }
        if (X509_verify_cert(ctx) != 1)
                k = chain_error(X509_STORE_CTX_get_error(ctx), what, X509_STORE_CTX_get_error_depth(ctx));
out:
        sk_X509_CRL_free(crls); /* the CRLs stay the caller's */
        X509_STORE_CTX_free(ctx);
        X509_STORE_free(store);
        return k;
}

/* ---- SGX extensions */

static int oid_arc(const ASN1_OBJECT *o, const char *base) {
        char buf[80];
        size_t n = strlen(base);
        if (OBJ_obj2txt(buf, sizeof(buf), o, 1) <= 0 || strncmp(buf, base, n) != 0 || buf[n] != '.')
                return -1;
        char *end;
        long v = strtol(buf + n + 1, &end, 10);
        return *end || v < 0 || v > 1000 ? -1 : (int) v;
}

static int seq_items(const ASN1_TYPE *t, const char *what, STACK_OF(ASN1_TYPE) **ret) {
        if (!t || t->type != V_ASN1_SEQUENCE)
                return CP_ERROR(CP_EFORMAT, "PCK SGX extension: %s is not a SEQUENCE", what);
        const unsigned char *p = t->value.sequence->data;
        STACK_OF(ASN1_TYPE) *sk = d2i_ASN1_SEQUENCE_ANY(NULL, &p, t->value.sequence->length);
        if (!sk || p != t->value.sequence->data + t->value.sequence->length) {
                sk_ASN1_TYPE_pop_free(sk, ASN1_TYPE_free);
                return CP_OSSL_ERROR(CP_EFORMAT, "PCK SGX extension: %s is not a DER SEQUENCE", what);
        }
        *ret = sk;
        return 0;
}

/* SEQUENCE { OID, value } -> arc under base, value */
static int oid_pair(const ASN1_TYPE *t, const char *base, int *ret_arc, const ASN1_TYPE **ret_val, const char *what) {
        _cleanup_(sk_asn1_type_pop_freep) STACK_OF(ASN1_TYPE) *pair = NULL;
        int k = seq_items(t, what, &pair);
        if (k < 0)
                return k;
        const ASN1_TYPE *o = sk_ASN1_TYPE_num(pair) == 2 ? sk_ASN1_TYPE_value(pair, 0) : NULL;
        if (!o || o->type != V_ASN1_OBJECT || (*ret_arc = oid_arc(o->value.object, base)) < 0)
                return CP_ERROR(CP_EFORMAT, "PCK SGX extension: %s is not an (OID under %s, value) pair", what, base);
        /* the value is copied out: the pair is freed here */
        *ret_val = (ASN1_TYPE *) sk_ASN1_TYPE_delete(pair, 1);
        return 0;
}

static int get_int(const ASN1_TYPE *v, long max, long *ret, const char *what) {
        int64_t x;
        if (!v || (v->type != V_ASN1_INTEGER && v->type != V_ASN1_ENUMERATED))
                return CP_ERROR(CP_EFORMAT, "PCK SGX extension: %s is not an INTEGER", what);
        int ok = v->type == V_ASN1_INTEGER ? ASN1_INTEGER_get_int64(&x, v->value.integer)
                                           : ASN1_ENUMERATED_get_int64(&x, v->value.enumerated);
        if (!ok || x < 0 || x > max)
                return CP_ERROR(CP_EFORMAT, "PCK SGX extension: %s is out of range 0..%ld", what, max);
        *ret = (long) x;
        return 0;
}

static int get_octets(const ASN1_TYPE *v, uint8_t *out, int n, const char *what) {
        if (!v || v->type != V_ASN1_OCTET_STRING || v->value.octet_string->length != n)
                return CP_ERROR(CP_EFORMAT, "PCK SGX extension: %s is not an OCTET STRING of %d bytes", what, n);
        memcpy(out, v->value.octet_string->data, (size_t) n);
        return 0;
}

static int parse_tcb(const ASN1_TYPE *t, cp_tdx_pck_ext *e, unsigned *seen) {
        _cleanup_(sk_asn1_type_pop_freep) STACK_OF(ASN1_TYPE) *items = NULL;
        int k = seq_items(t, "TCB", &items);
        if (k < 0)
                return k;
        for (int i = 0; i < sk_ASN1_TYPE_num(items); i++) {
                ASN1_TYPE *v = NULL;
                int arc;
                long x;
                if ((k = oid_pair(sk_ASN1_TYPE_value(items, i), SGX_OID ".2", &arc, (const ASN1_TYPE **) &v, "TCB item")) < 0)
                        return k;
                if (arc < 1 || arc > 18 || (*seen & (1u << arc)))
                        k = CP_ERROR(CP_EFORMAT, "PCK SGX extension: TCB item %d unknown or repeated", arc);
                else if (arc <= 16 && (k = get_int(v, 255, &x, "TCB component")) >= 0)
                        e->tcb_comp[arc - 1] = (uint8_t) x;
                else if (arc == 17 && (k = get_int(v, 65535, &x, "PCESVN")) >= 0)
                        e->pcesvn = (uint16_t) x;
                else if (arc == 18)
                        k = get_octets(v, e->cpusvn, 16, "CPUSVN");
                ASN1_TYPE_free(v);
                if (k < 0)
                        return k;
                *seen |= 1u << arc;
        }
        if ((*seen & 0x7fffeu) != 0x7fffeu)
                return CP_ERROR(CP_EFORMAT, "PCK SGX extension: TCB lacks components, PCESVN or CPUSVN");
        return 0;
}

static int ext_item(const ASN1_TYPE *item, cp_tdx_pck_ext *e, unsigned *seen) {
        ASN1_TYPE *v = NULL;
        unsigned tcb_seen = 0;
        long x;
        int arc, k;
        if ((k = oid_pair(item, SGX_OID, &arc, (const ASN1_TYPE **) &v, "item")) < 0)
                return k;
        if (arc >= 1 && arc <= 7 && (*seen & (1u << arc)))
                k = CP_ERROR(CP_EFORMAT, "PCK SGX extension: item %d repeated", arc);
        else if (arc == 1)
                k = get_octets(v, e->ppid, 16, "PPID");
        else if (arc == 2)
                k = parse_tcb(v, e, &tcb_seen);
        else if (arc == 3)
                k = get_octets(v, e->pceid, 2, "PCE-ID");
        else if (arc == 4)
                k = get_octets(v, e->fmspc, 6, "FMSPC");
        else if (arc == 5 && (k = get_int(v, 255, &x, "SGX type")) >= 0)
                e->sgx_type = (int) x;
        /* 6 (platform instance ID), 7 (configuration) and later: not used */
        ASN1_TYPE_free(v);
        if (k < 0)
                return k;
        if (arc < 31)
                *seen |= 1u << arc;
        return 0;
}

int cp_tdx_pck_ext_parse(const uint8_t *der, size_t len, cp_tdx_pck_ext *ret) {
        _cleanup_(sk_asn1_type_pop_freep) STACK_OF(ASN1_TYPE) *items = NULL;
        cp_tdx_pck_ext e = { 0 };
        unsigned seen = 0;
        int k;
        if (!der || !ret || len > INT32_MAX)
                return CP_ERROR(CP_EINVAL, "cp_tdx_pck_ext_parse: bad arguments");
        const unsigned char *p = der;
        items = d2i_ASN1_SEQUENCE_ANY(NULL, &p, (long) len);
        if (!items || p != der + len)
                return CP_OSSL_ERROR(CP_EFORMAT, "PCK SGX extension is not one DER SEQUENCE");
        for (int i = 0; i < sk_ASN1_TYPE_num(items); i++)
                if ((k = ext_item(sk_ASN1_TYPE_value(items, i), &e, &seen)) < 0)
                        return k;
        if ((seen & 0x3e) != 0x3e)
                return CP_ERROR(CP_EFORMAT, "PCK SGX extension lacks PPID, TCB, PCE-ID, FMSPC or SGX type");
        *ret = e;
        return 0;
}

int tdx_pck_ext_from_cert(X509 *pck, cp_tdx_pck_ext *ret) {
        _cleanup_asn1_object_ ASN1_OBJECT *oid = OBJ_txt2obj(SGX_OID, 1);
        int idx = oid ? X509_get_ext_by_OBJ(pck, oid, -1) : -1;
        if (idx < 0)
                return CP_ERROR(CP_ECERT, "PCK certificate has no Intel SGX extension (%s)", SGX_OID);
        if (X509_get_ext_by_OBJ(pck, oid, idx) >= 0)
                return CP_ERROR(CP_ECERT, "PCK certificate has two Intel SGX extensions");
        ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(X509_get_ext(pck, idx));
        int k = cp_tdx_pck_ext_parse(v->data, (size_t) v->length, ret);
        if (k < 0) {
                char msg[CP_ERROR_MESSAGE_MAX];
                snprintf(msg, sizeof(msg), "%s", cp_error_last()->message);
                return CP_ERROR(CP_ECERT, "PCK certificate: %s", msg);
        }
        return 0;
}

/* ---- ECDSA P-256 */

int tdx_p256_key(const uint8_t xy[64], EVP_PKEY **ret) {
        uint8_t pub[65];
        pub[0] = 0x04;
        memcpy(pub + 1, xy, 64);
        _cleanup_param_bld_ OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
        _cleanup_params_ OSSL_PARAM *params = NULL;
        _cleanup_evp_pkey_ctx_ EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
        EVP_PKEY *key = NULL;
        if (!bld || !ctx || !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
            !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub)) ||
            !(params = OSSL_PARAM_BLD_to_param(bld)) || EVP_PKEY_fromdata_init(ctx) <= 0)
                return CP_OSSL_ERROR(CP_ECRYPTO, "P-256 key setup failed");
        /* decoding the point checks that it is on the curve (P-256 has
         * cofactor 1, so no subgroup check is needed) */
        if (EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) <= 0)
                return CP_OSSL_ERROR(CP_ESIG, "attestation key is not a P-256 point");
        *ret = key;
        return 0;
}

/* DER INTEGER of a 32-byte big-endian unsigned value: leading zero bytes
 * dropped (one kept), a 0x00 prepended when the top bit is set. */
static size_t der_uint32b(const uint8_t v[32], uint8_t *out) {
        size_t i = 0;
        while (i < 31 && v[i] == 0)
                i++;
        size_t n = 32 - i, pad = (v[i] & 0x80) ? 1 : 0;
        out[0] = 0x02;
        out[1] = (uint8_t) (n + pad);
        out[2] = 0;
        memcpy(out + 2 + pad, v + i, n);
        return 2 + pad + n;
}

/* ECDSA-Sig-Value DER of the raw r || s (what i2d_ECDSA_SIG would write,
 * without the BIGNUM round trip). */
static size_t p256_sig_der(const uint8_t sig[64], uint8_t out[2 + 2 * (2 + 33)]) {
        size_t n = der_uint32b(sig, out + 2);
        n += der_uint32b(sig + 32, out + 2 + n);
        out[0] = 0x30;
        out[1] = (uint8_t) n;
        return 2 + n;
}

int tdx_p256_verify(EVP_PKEY *key, const uint8_t *data, size_t len, const uint8_t sig[64], const char *what) {
        char group[32] = "";
        if (!EVP_PKEY_is_a(key, "EC") ||
            !EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL) ||
            strcmp(group, "prime256v1") != 0) {
                cp_ossl_clear();
                return CP_ERROR(CP_ESIG, "%s: signing key is not ECDSA P-256", what);
        }
        uint8_t der[2 + 2 * (2 + 33)];
        size_t der_len = p256_sig_der(sig, der);
        uint8_t h[SHA256_DIGEST_LENGTH];
        _cleanup_evp_pkey_ctx_ EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new(key, NULL);
        int ok = pc && SHA256(data, len, h) && EVP_PKEY_verify_init(pc) == 1 &&
                 EVP_PKEY_verify(pc, der, der_len, h, sizeof(h)) == 1;
        if (!ok) {
                cp_ossl_clear();
                return CP_ERROR(CP_ESIG, "%s does not verify", what);
        }
        return 0;
}
