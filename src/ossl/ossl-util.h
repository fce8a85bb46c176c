/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_LIBCONFPOOL_OSSL_UTIL_H
#define CP_LIBCONFPOOL_OSSL_UTIL_H

/*
 * OpenSSL glue: turn the OpenSSL error queue into one CP_ERROR message
 * (draining the queue exactly once, so stale entries never leak into a later
 * message), _cleanup_ helpers for OpenSSL objects, and time conversion.
 */

#include <stdint.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include "basic/cleanup.h"
#include "basic/error.h"

/* Record code with "<fmt>: <first OpenSSL reason>" and clear the OpenSSL
 * error queue.  Returns code. */
int cp_ossl_error_at(const char *file, int line, int code, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
#define CP_OSSL_ERROR(code, ...) cp_ossl_error_at(__FILE__, __LINE__, (code), __VA_ARGS__)

/* Drop whatever is on the OpenSSL error queue (e.g. after an expected
 * failure that was already reported). */
void cp_ossl_clear(void);

/* ASN1_TIME (UTCTime or GeneralizedTime) to Unix seconds. */
CP_WUR int cp_ossl_time_to_unix(const ASN1_TIME *t, int64_t *ret);
/* Unix seconds to "YYYY-MM-DDTHH:MM:SSZ" (buf >= 21 bytes). */
void cp_unix_to_iso(int64_t t, char *buf, size_t cap);

#define CP_OSSL_DEFINE_FREEP(type, fn)                       \
        static inline void cp_##fn##p(type **p) {            \
                if (*p)                                      \
                        fn(*p);                              \
        }

CP_OSSL_DEFINE_FREEP(X509, X509_free)
CP_OSSL_DEFINE_FREEP(X509_CRL, X509_CRL_free)
CP_OSSL_DEFINE_FREEP(X509_NAME, X509_NAME_free)
CP_OSSL_DEFINE_FREEP(X509_EXTENSION, X509_EXTENSION_free)
CP_OSSL_DEFINE_FREEP(X509_REVOKED, X509_REVOKED_free)
CP_OSSL_DEFINE_FREEP(EVP_PKEY, EVP_PKEY_free)
CP_OSSL_DEFINE_FREEP(EVP_PKEY_CTX, EVP_PKEY_CTX_free)
CP_OSSL_DEFINE_FREEP(EVP_MD_CTX, EVP_MD_CTX_free)
CP_OSSL_DEFINE_FREEP(BIO, BIO_free)
CP_OSSL_DEFINE_FREEP(EVP_CIPHER_CTX, EVP_CIPHER_CTX_free)
CP_OSSL_DEFINE_FREEP(OSSL_PARAM_BLD, OSSL_PARAM_BLD_free)
CP_OSSL_DEFINE_FREEP(OSSL_PARAM, OSSL_PARAM_free)
CP_OSSL_DEFINE_FREEP(BIGNUM, BN_free)
CP_OSSL_DEFINE_FREEP(BIGNUM, BN_clear_free) /* for private values */
CP_OSSL_DEFINE_FREEP(ASN1_INTEGER, ASN1_INTEGER_free)
CP_OSSL_DEFINE_FREEP(ASN1_IA5STRING, ASN1_IA5STRING_free)
CP_OSSL_DEFINE_FREEP(ASN1_OCTET_STRING, ASN1_OCTET_STRING_free)
CP_OSSL_DEFINE_FREEP(ASN1_TIME, ASN1_TIME_free)
CP_OSSL_DEFINE_FREEP(ASN1_OBJECT, ASN1_OBJECT_free)

#define _cleanup_x509_          _cleanup_(cp_X509_freep)
#define _cleanup_x509_crl_      _cleanup_(cp_X509_CRL_freep)
#define _cleanup_x509_name_     _cleanup_(cp_X509_NAME_freep)
#define _cleanup_x509_ext_      _cleanup_(cp_X509_EXTENSION_freep)
#define _cleanup_x509_revoked_  _cleanup_(cp_X509_REVOKED_freep)
#define _cleanup_evp_pkey_      _cleanup_(cp_EVP_PKEY_freep)
#define _cleanup_evp_pkey_ctx_  _cleanup_(cp_EVP_PKEY_CTX_freep)
#define _cleanup_evp_md_ctx_    _cleanup_(cp_EVP_MD_CTX_freep)
#define _cleanup_bio_           _cleanup_(cp_BIO_freep)
#define _cleanup_cipher_ctx_    _cleanup_(cp_EVP_CIPHER_CTX_freep)
#define _cleanup_param_bld_     _cleanup_(cp_OSSL_PARAM_BLD_freep)
#define _cleanup_params_        _cleanup_(cp_OSSL_PARAM_freep)
#define _cleanup_bn_            _cleanup_(cp_BN_freep)
#define _cleanup_bn_secret_     _cleanup_(cp_BN_clear_freep)
#define _cleanup_asn1_integer_  _cleanup_(cp_ASN1_INTEGER_freep)
#define _cleanup_asn1_ia5_      _cleanup_(cp_ASN1_IA5STRING_freep)
#define _cleanup_asn1_octets_   _cleanup_(cp_ASN1_OCTET_STRING_freep)
#define _cleanup_asn1_time_     _cleanup_(cp_ASN1_TIME_freep)
#define _cleanup_asn1_object_   _cleanup_(cp_ASN1_OBJECT_freep)

#endif
