/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CONFPOOL_SNP_VERIFY_H
#define CONFPOOL_SNP_VERIFY_H

/*
 * Full verification of SEV-SNP evidence: report parsing, endorsement chain
 * (VCEK <- ASK <- ARK or VLEK <- ASVK <- ARK) against a trust store,
 * generation and TCB binding, CHIP_ID binding, the report's ECDSA P-384
 * signature, optional revocation (CRL) and an optional validation policy.
 * See docs/verifier.md for exactly what is and is not checked.
 *
 * What this does NOT check (callers must, where it matters):
 *   - freshness: REPORT_DATA is only compared if the policy pins it; nonces
 *     and runtime-data binding are the caller's (see azure.h);
 *   - revocation unless opts->check_revocation is set and a CRL was added;
 *   - when CHIP_ID is masked (all zero, MASK_CHIP_ID), the chip binding rests
 *     on the signature alone (the VCEK is still chained to AMD);
 *   - the launch measurement's meaning: only equality with policy values.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "confpool/error.h"
#include "confpool/snp_cert.h"
#include "confpool/snp_policy.h"
#include "confpool/snp_report.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cp_p384_backend {
        CP_P384_BACKEND_DEFAULT = 0, /* a repeat key: its fixed-base table (docs/verifier.md); else nettle */
        CP_P384_BACKEND_NETTLE,
        CP_P384_BACKEND_OPENSSL,
        _CP_P384_BACKEND_MAX,
} cp_p384_backend;

/* Inputs, all borrowed.  Certificates may be DER or PEM. */
typedef struct cp_snp_evidence {
        const uint8_t *report;       /* exactly CP_SNP_REPORT_SIZE bytes */
        size_t report_len;
        const uint8_t *leaf;         /* VCEK / VLEK; NULL: taken from certtable */
        size_t leaf_len;
        const uint8_t *intermediate; /* ASK / ASVK or a KDS cert_chain bundle; NULL: certtable, then trust store */
        size_t intermediate_len;
        const uint8_t *certtable;    /* SNP_GET_EXT_REPORT certificate blob, optional */
        size_t certtable_len;
} cp_snp_evidence;

#define CP_SNP_VERIFY_OPTIONS_VERSION 1
typedef struct cp_snp_verify_options {
        unsigned version;            /* CP_SNP_VERIFY_OPTIONS_VERSION */
        int64_t now;                 /* Unix seconds for validity checks; 0 = current time */
        cp_snp_generation product;   /* required product; UNKNOWN = from CPUID (v3+) / certificate */
        unsigned parse_flags;        /* CP_SNP_PARSE_* */
        bool check_revocation;       /* require a CRL (cp_snp_verifier_add_crl) and check it */
        const cp_snp_policy *policy; /* NULL: cryptographic checks only */
        cp_p384_backend backend;
        /* Optional callbacks for services that obtain endorsements on demand
         * (each gets userdata; a negative cp_err ends the verification with it): */
        void *userdata;
        /* No endorsement key certificate was supplied or found in the cert
         * table: supply one for the (parsed) report, e.g. from the KDS;
         * *ret_leaf stays the caller's and must live until cp_snp_verify()
         * returns. */
        int (*get_leaf)(void *userdata, const cp_snp_report *report, const uint8_t **ret_leaf, size_t *ret_len);
        /* With check_revocation, once the endorsement chain is verified and
         * its product known: make sure a CRL for (g, the signer's line) is
         * in force (cp_snp_verifier_add_crl) before it is checked. */
        int (*prepare_revocation)(void *userdata, cp_snp_generation g, cp_amd_cert_kind signer);
} cp_snp_verify_options;
#define CP_SNP_VERIFY_OPTIONS_INIT { .version = CP_SNP_VERIFY_OPTIONS_VERSION }

typedef struct cp_snp_verify_result {
        cp_snp_report report;
        cp_snp_generation generation;
        cp_amd_cert_kind signer;           /* CP_AMD_CERT_VCEK or CP_AMD_CERT_VLEK */
        cp_snp_tcb reported_tcb, current_tcb, committed_tcb, launch_tcb;
        bool chip_id_checked;              /* false when CHIP_ID is masked or signer is VLEK */
        bool revocation_checked;
        bool policy_checked;
        bool cache_hit;                    /* endorsement chain came from the verifier's cache */
        char product_name[32];             /* leaf productName */
        char csp_id[256];                  /* VLEK csp_id */
        int64_t valid_from, valid_until;   /* validity window of the endorsement chain (leaf, ASK/ASVK, ARK) */
} cp_snp_verify_result;

typedef struct cp_snp_verifier cp_snp_verifier;

/* trust: ownership is taken (NULL: AMD's built-in roots).  The verifier is
 * safe to share between threads; it caches verified endorsement chains. */
CP_API CP_WUR int cp_snp_verifier_new(cp_amd_trust *trust, cp_snp_verifier **ret);
CP_API cp_snp_verifier *cp_snp_verifier_free(cp_snp_verifier *v);
/* Add a CRL (ownership taken) for a product; kind selects the VCEK line
 * (CP_AMD_CERT_ASK) or the VLEK line (CP_AMD_CERT_ASVK).  The CRL is
 * verified against the trusted ARK when it is used. */
CP_API CP_WUR int cp_snp_verifier_add_crl(cp_snp_verifier *v, cp_snp_generation g, cp_amd_cert_kind kind,
                                          cp_amd_crl *crl);
CP_API const cp_amd_trust *cp_snp_verifier_trust(const cp_snp_verifier *v);

/*
 * Verify.  Returns 0 and fills *ret, or a negative cp_err:
 *   CP_ETRUNC/CP_ETRAILING/CP_EVERSION/CP_EMBZ/CP_EFORMAT  report malformed
 *   CP_ENOTFOUND   no endorsement key certificate supplied or in the cert table
 *   CP_ECERT/CP_EUNTRUSTED/CP_EEXPIRED   endorsement chain invalid
 *   CP_ETCB        certificate TCB != REPORTED_TCB (or > CURRENT_TCB)
 *   CP_ECHIPID     hwID != CHIP_ID
 *   CP_ESIG        report signature invalid, or report unsigned / key masked
 *   CP_EREVOKED    revoked, or no valid CRL when revocation was required
 *   CP_EPOLICY     refused by opts->policy
 */
CP_API CP_WUR int cp_snp_verify(cp_snp_verifier *v, const cp_snp_evidence *ev, const cp_snp_verify_options *opts,
                                cp_snp_verify_result *ret);

CP_API const char *cp_p384_backend_name(cp_p384_backend b);

#ifdef __cplusplus
}
#endif
#endif
