/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CONFPOOL_TDX_VERIFY_H
#define CONFPOOL_TDX_VERIFY_H

/*
 * Full verification of an Intel TDX DCAP quote (v4/v5) against Intel's
 * collateral, the way Intel's Quote Verification Library (QVL) does it:
 *   - the PCK chain (from the quote, or given) to the pinned Intel SGX Root
 *     CA, valid at the check time, with the PCK CRL and the Root CA CRL;
 *   - Intel's SGX extensions of the PCK certificate (FMSPC, PCE-ID, TCB
 *     components, PCESVN, CPUSVN, SGX type);
 *   - the QE report signed by the PCK key, its REPORT_DATA binding
 *     SHA-256(attestation key || QE auth data) || 32 zero bytes;
 *   - the quote signature by the attestation key;
 *   - TCB Info v3 (id "TDX") and QE Identity (id "TD_QE") signed by the
 *     Intel SGX TCB Signing certificate (chained to the root), valid at the
 *     check time, FMSPC / PCE-ID equal to the PCK's;
 *   - the TCB level (QVL's rule, docs/tdx.md) giving Intel's status and
 *     advisory IDs, the TDX module identity and the QE identity;
 *   - an optional validation policy.
 * What it does NOT check: freshness (REPORTDATA is only compared if the
 * policy pins it), the meaning of the measurements, Intel's TD-relaunch
 * advice (TEE_TCB_SVN2 is reported, not graded).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "confpool/azure.h"
#include "confpool/error.h"
#include "confpool/tdx_quote.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cp_tdx_tcb_status {
        CP_TDX_TCB_UNKNOWN = 0,
        CP_TDX_TCB_UP_TO_DATE,
        CP_TDX_TCB_SW_HARDENING_NEEDED,
        CP_TDX_TCB_CONFIGURATION_NEEDED,
        CP_TDX_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED,
        CP_TDX_TCB_OUT_OF_DATE,
        CP_TDX_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED,
        CP_TDX_TCB_REVOKED,
        /* Verification results only, never a TCB level's status (Intel's
         * QVL TDRelaunchCheck, TD 1.5 bodies): the TD runs on an out-of-date
         * TDX module launch, the platform's module (TEE_TCB_SVN2) is current:
         * relaunching the TD would bring it up to date. */
        CP_TDX_TCB_TD_RELAUNCH_ADVISED,
        CP_TDX_TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED,
        _CP_TDX_TCB_MAX,
} cp_tdx_tcb_status;
#define CP_TDX_TCB_LEVEL_MAX CP_TDX_TCB_REVOKED /* the last status a TCB level may have */

/* Intel's spelling ("UpToDate", ...); "Unknown" for anything else. */
CP_API const char *cp_tdx_tcb_status_name(cp_tdx_tcb_status s);
CP_API cp_tdx_tcb_status cp_tdx_tcb_status_from_name(const char *name);

/* Intel's SGX extensions of a PCK certificate (OID 1.2.840.113741.1.13.1). */
typedef struct cp_tdx_pck_ext {
        uint8_t ppid[16];
        uint8_t tcb_comp[16];        /* SGX TCB components 1..16 */
        uint16_t pcesvn;
        uint8_t cpusvn[16];
        uint8_t pceid[2];
        uint8_t fmspc[6];
        int sgx_type;                /* 0 Standard, 1 Scalable, 2 Scalable with integrity */
} cp_tdx_pck_ext;

/* Parse the DER of the SGX extension's value (the outer SEQUENCE). */
CP_API CP_WUR int cp_tdx_pck_ext_parse(const uint8_t *der, size_t len, cp_tdx_pck_ext *ret);

/* Collateral: borrowed bytes.  Certificates and CRLs in PEM or DER (a chain
 * as concatenated PEM or DER); TCB Info / QE Identity as Intel's PCS returns
 * them ({"tcbInfo": ..., "signature": "hex"}). */
typedef struct cp_tdx_collateral {
        const uint8_t *pck_chain;            /* NULL: the chain in the quote */
        size_t pck_chain_len;
        const uint8_t *tcb_info;
        size_t tcb_info_len;
        const uint8_t *qe_identity;
        size_t qe_identity_len;
        const uint8_t *tcb_signing_chain;    /* TCB Signing cert (+ root, optional) */
        size_t tcb_signing_chain_len;
        const uint8_t *pck_crl;
        size_t pck_crl_len;
        const uint8_t *root_ca_crl;
        size_t root_ca_crl_len;
} cp_tdx_collateral;

#define CP_TDX_MAX_MRTD 16
typedef struct cp_tdx_policy {
        bool allow_debug;                  /* TDATTRIBUTES.DEBUG refused unless set */
        unsigned accepted_tcb;             /* bit (1 << status); 0: UpToDate only */
        bool has_min_tee_tcb_svn;
        uint8_t min_tee_tcb_svn[16];       /* component-wise minimum */
        size_t n_mrtd;                     /* MRTD must be one of these (0: any) */
        uint8_t mrtd[CP_TDX_MAX_MRTD][48];
        bool has_rtmr[4];
        uint8_t rtmr[4][48];
        bool has_mrconfigid, has_mrowner, has_report_data;
        uint8_t mrconfigid[48], mrowner[48], report_data[64];
        bool has_xfam;
        uint64_t xfam, xfam_mask;          /* (XFAM & xfam_mask) == xfam */
        bool require_revocation;           /* both CRLs must have been checked */
} cp_tdx_policy;

/* A policy from JSON (docs/tdx.md); unknown keys refused. */
CP_API CP_WUR int cp_tdx_policy_from_json(const char *json, size_t len, cp_tdx_policy *ret);
/* Check a verified quote against a policy (CP_EPOLICY naming the first
 * refusal). */
struct cp_tdx_verify_result;
CP_API CP_WUR int cp_tdx_policy_check(const cp_tdx_policy *p, const struct cp_tdx_verify_result *r);

#define CP_TDX_VERIFY_OPTIONS_VERSION 1
typedef struct cp_tdx_verify_options {
        unsigned version;                  /* CP_TDX_VERIFY_OPTIONS_VERSION */
        int64_t now;                       /* Unix seconds; 0 = current time */
        unsigned parse_flags;              /* CP_TDX_PARSE_* */
        const cp_tdx_policy *policy;       /* NULL: no policy */
        const uint8_t *trust_root;         /* NULL: the pinned Intel SGX Root CA; tests only */
        size_t trust_root_len;
} cp_tdx_verify_options;
#define CP_TDX_VERIFY_OPTIONS_INIT { .version = CP_TDX_VERIFY_OPTIONS_VERSION }

#define CP_TDX_MAX_ADVISORIES 32
typedef struct cp_tdx_verify_result {
        cp_tdx_quote quote;                /* borrows the caller's quote bytes */
        cp_tdx_pck_ext pck;
        cp_tdx_tcb_status tcb_status;      /* converged: platform, TDX module, QE */
        cp_tdx_tcb_status platform_status, module_status, qe_status;
        char platform_tcb_date[32];
        char module_id[16];                /* "TDX_01", or "" (tdxModule of the TCB Info) */
        size_t n_advisories;
        char advisories[CP_TDX_MAX_ADVISORIES][24];
        unsigned tcb_evaluation_data_number;
        bool revocation_checked;           /* PCK CRL and Root CA CRL both checked */
        bool policy_checked;
        int64_t valid_from, valid_until;   /* intersection of every validity window */
} cp_tdx_verify_result;

/*
 * Verify.  Returns 0 and fills *ret, or a negative cp_err:
 *   CP_ETRUNC/CP_ETRAILING/CP_EVERSION/CP_EFORMAT   quote or collateral malformed
 *   CP_ENOTFOUND    collateral missing (TCB Info, QE Identity, signing chain)
 *   CP_ECERT/CP_EUNTRUSTED/CP_EEXPIRED   a chain, or collateral validity
 *   CP_ETCB         FMSPC / PCE-ID mismatch, no TCB level, QE or TDX module
 *                   identity mismatch
 *   CP_ESIG         quote, QE report or collateral signature invalid
 *   CP_EBINDING     QE REPORT_DATA does not bind the attestation key
 *   CP_EREVOKED     a certificate revoked, or a TCB status of Revoked
 *   CP_EPOLICY      refused by opts->policy
 */
CP_API CP_WUR int cp_tdx_verify(const uint8_t *quote, size_t quote_len, const cp_tdx_collateral *col,
                                const cp_tdx_verify_options *opts, cp_tdx_verify_result *ret);

/*
 * A verifier that caches what the chain and collateral steps yield (PCK
 * extensions and key, parsed TCB Info and QE Identity), keyed by SHA-256
 * of every byte those steps read, for as long as the check time lies in
 * the common validity window of everything they checked: a cache hit costs
 * the quote's two ECDSA verifications and the TCB matching.  Safe to share
 * between threads; free only when no verification runs.
 */
typedef struct cp_tdx_verifier cp_tdx_verifier;
CP_API CP_WUR int cp_tdx_verifier_new(cp_tdx_verifier **ret);
CP_API cp_tdx_verifier *cp_tdx_verifier_free(cp_tdx_verifier *v);
CP_API CP_WUR int cp_tdx_verifier_verify(cp_tdx_verifier *v, const uint8_t *quote, size_t quote_len,
                                         const cp_tdx_collateral *col, const cp_tdx_verify_options *opts,
                                         cp_tdx_verify_result *ret);
CP_API void cp_tdx_verifier_stats(cp_tdx_verifier *v, uint64_t *hits, uint64_t *misses);

/* A TDREPORT (1024 bytes: REPORTMACSTRUCT, TEE_TCB_INFO, TDINFO). */
typedef struct cp_tdx_tdreport {
        uint8_t cpusvn[16];
        uint8_t tee_tcb_info_hash[48], tee_info_hash[48];
        uint8_t report_data[64];
        const uint8_t *tee_tcb_info;       /* 239 bytes */
        const uint8_t *td_info;            /* 512 bytes */
        cp_tdx_body body;                  /* the quote-body fields it carries */
} cp_tdx_tdreport;
CP_API CP_WUR int cp_tdx_tdreport_parse(const uint8_t *buf, size_t len, cp_tdx_tdreport *ret);

/*
 * Azure TDX: an HCL report (vTPM NV 0x01400001) carrying a TDREPORT, and the
 * DCAP quote Azure's host made for it.  The TDREPORT's MAC can only be
 * checked on the platform, so the quote is what binds it to Intel: the
 * quote is verified (cp_tdx_verify), then every TDREPORT field is compared
 * with the quote body, the TDREPORT's TEE_TCB_INFO_HASH / TEE_INFO_HASH
 * with its own contents, and REPORTDATA with the HCL runtime data
 * (cp_hcl_report_check_binding).  td_quote NULL: CP_ENOTFOUND.
 * Mismatches: CP_EBINDING.
 */
CP_API CP_WUR int cp_tdx_verify_azure_hcl(const uint8_t *hcl, size_t hcl_len, const uint8_t *td_quote,
                                          size_t td_quote_len, const cp_tdx_collateral *col,
                                          const cp_tdx_verify_options *opts, cp_tdx_verify_result *ret);

/*
 * The Azure TDX checks that need no quote (issue 16): the HCL report parses
 * and carries a TDX TDREPORT, the TDREPORT's TEE_TCB_INFO_HASH /
 * TEE_INFO_HASH are the SHA-384 of its own structures, REPORTDATA binds
 * the runtime data (cp_hcl_report_check_binding); then, with quote_body
 * (the body of a quote already verified by the caller, e.g. attestd's
 * cached verifier), every TDREPORT field equals the quote body's
 * (CP_EBINDING naming the field).  quote_body NULL: only the first checks.
 * ret_hcl / ret_td (either may be NULL) receive the parsed report and
 * TDREPORT (pointing into hcl).
 */
CP_API CP_WUR int cp_tdx_azure_hcl_check(const uint8_t *hcl, size_t hcl_len, const cp_tdx_body *quote_body,
                                         cp_hcl_report *ret_hcl, cp_tdx_tdreport *ret_td);

/* The pinned Intel SGX Root CA (PEM). */
CP_API const char *cp_tdx_intel_root_pem(void);

#ifdef __cplusplus
}
#endif
#endif
