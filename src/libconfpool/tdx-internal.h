/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_LIBCONFPOOL_TDX_INTERNAL_H
#define CP_LIBCONFPOOL_TDX_INTERNAL_H

/* Shared between the TDX verifier's units: Intel's collateral as parsed
 * (tdx_collateral.c), certificates and chains (tdx_pck.c) and TCB level
 * matching (tdx_tcb.c). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "confpool/tdx_verify.h"

#define CP_TDX_MAX_LEVELS 64
#define CP_TDX_MAX_MODULES 8
#define CP_TDX_MAX_MODULE_LEVELS 16

typedef struct tdx_tcb_level {
        uint8_t sgx[16];
        uint16_t pcesvn;
        uint8_t tdx[16];
        bool has_tdx;
        cp_tdx_tcb_status status;
        char date[32];
        size_t n_advisories;
        char advisories[CP_TDX_MAX_ADVISORIES][24];
} tdx_tcb_level;

typedef struct tdx_isv_level {
        uint16_t isvsvn;
        cp_tdx_tcb_status status;
        char date[32];
        size_t n_advisories;
        char advisories[CP_TDX_MAX_ADVISORIES][24];
} tdx_isv_level;

typedef struct tdx_module_identity {
        char id[16];
        uint8_t mrsigner[48];
        uint64_t attributes, attributes_mask;
        size_t n_levels;
        tdx_isv_level levels[CP_TDX_MAX_MODULE_LEVELS];
} tdx_module_identity;

typedef struct tdx_tcb_info {
        int64_t issue_date, next_update;
        uint8_t fmspc[6];
        uint8_t pceid[2];
        unsigned tcb_type, eval_number;
        bool has_module;                       /* tdxModule */
        uint8_t module_mrsigner[48];
        uint64_t module_attributes, module_attributes_mask;
        size_t n_modules;
        tdx_module_identity modules[CP_TDX_MAX_MODULES];
        size_t n_levels;
        tdx_tcb_level levels[CP_TDX_MAX_LEVELS];
} tdx_tcb_info;

typedef struct tdx_qe_identity {
        int64_t issue_date, next_update;
        unsigned eval_number;
        uint32_t miscselect, miscselect_mask;
        uint8_t attributes[16], attributes_mask[16];
        uint8_t mrsigner[32];
        uint16_t isvprodid;
        size_t n_levels;
        tdx_isv_level levels[CP_TDX_MAX_LEVELS];
} tdx_qe_identity;

/* Split Intel's {"<member>": {...}, "signature": "hex"} into the exact bytes
 * of the member's value and the 64-byte raw signature. */
int tdx_signed_json_split(const uint8_t *json, size_t len, const char *member, const uint8_t **ret_body,
                          size_t *ret_body_len, uint8_t ret_sig[64]);
/* Parse the value bytes (the signed part); the signature is checked by the
 * caller. */
int tdx_tcb_info_parse(const uint8_t *body, size_t len, tdx_tcb_info *ret);
int tdx_qe_identity_parse(const uint8_t *body, size_t len, tdx_qe_identity *ret);
/* RFC 3339 "YYYY-MM-DDTHH:MM:SSZ" to Unix seconds. */
int tdx_parse_time(const char *s, int64_t *ret);

/* Certificates: load every certificate of a PEM or concatenated-DER blob. */
int tdx_load_certs(const uint8_t *buf, size_t len, const char *what, STACK_OF(X509) **ret);
int tdx_load_crl(const uint8_t *buf, size_t len, const char *what, X509_CRL **ret);
/* The one end-entity certificate of a chain (NULL: none or several). */
X509 *tdx_chain_leaf(STACK_OF(X509) *chain);
/* Verify tdx_chain_leaf(chain) at time now, with the CRLs (either may be NULL). */
int tdx_verify_chain(STACK_OF(X509) *chain, X509 *root, X509_CRL *pck_crl, X509_CRL *root_crl, int64_t now,
                     const char *what);
/* The SGX extension of a PCK certificate. */
int tdx_pck_ext_from_cert(X509 *pck, cp_tdx_pck_ext *ret);
/* ECDSA P-256 / SHA-256 over data with a raw r || s signature. */
int tdx_p256_verify(EVP_PKEY *key, const uint8_t *data, size_t len, const uint8_t sig[64], const char *what);
/* The attestation key (x || y) as an EVP_PKEY. */
int tdx_p256_key(const uint8_t xy[64], EVP_PKEY **ret);

/* TCB level matching (Intel QVL), fills the status fields of r. */
int tdx_tcb_evaluate(const tdx_tcb_info *ti, const tdx_qe_identity *qi, const cp_tdx_quote *q,
                     const cp_tdx_pck_ext *pck, cp_tdx_verify_result *r);

/* Verifications whose PCK chain was not cached but whose collateral (TCB
 * Signing chain, TCB Info, QE Identity, root and root CRL: the same bytes,
 * valid now) was reused from a cached entry. */
uint64_t tdx_verifier_coll_hits(cp_tdx_verifier *v);

#endif
