/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_SHARED_AZURE_CVM_H
#define CP_SHARED_AZURE_CVM_H

/*
 * Evidence of an Azure confidential VM (SEV-SNP under the HCL paravisor),
 * collected through its vTPM the way Trustee's az-snp-vtpm attester does and
 * shaped for attestd's POST /attest/AzureSnpVtpm (docs/nodes.md):
 *  - the HCL report from NV index 0x01400001 (optionally refreshed first by
 *    writing 64 bytes of user data to NV 0x01400002),
 *  - a TPM2_Quote of the 24 SHA-256 PCRs over the verifier's nonce by the
 *    paravisor's persistent AK (0x81000003), which must be the runtime
 *    data's HCLAkPub,
 *  - the PCR values and the VCEK (supplied by the caller).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "confpool/azure.h"
#include "confpool/error.h"
#include "node/vtpm.h"

#define CP_AZURE_AK_HANDLE 0x81000003u /* the paravisor's persistent attestation key */

typedef struct cp_azure_cvm_options {
        uint32_t report_index;     /* 0: CP_HCL_NV_INDEX */
        uint32_t user_data_index;  /* 0: CP_HCL_USER_DATA_NV_INDEX */
        uint32_t ak_handle;        /* 0: CP_AZURE_AK_HANDLE */
        /* Write nonce || zeros (64 bytes) to user_data_index first and require
         * the report read afterwards to carry it as "user-data": evidence
         * version 2, which attestd checks.  false: version 1 (the report as
         * it is; freshness from the quote alone). */
        bool refresh_user_data;
        const uint8_t *vcek;       /* VCEK, DER or PEM (optionally followed by ASK/ARK); required */
        size_t vcek_len;
} cp_azure_cvm_options;

/* The HCL report: the whole NV index (up to CP_MAX_HCL_REPORT bytes),
 * checked to parse with cp_hcl_report_parse(). */
CP_WUR int cp_azure_cvm_read_report(cp_vtpm *t, uint32_t index, uint8_t **ret, size_t *ret_len);

/* Collect the evidence for nonce (1..64 bytes, the decoded /challenge
 * nonce) and return attestd's "evidence" object:
 *   {"version":1|2,"hcl_report":b64url,"tpm_quote":{"message":hex,
 *    "signature":hex (bare RSA signature),"pcrs":[24 x hex]},"vcek":b64url}
 * Checked before anything is sent: the report parses, carries an SNP report
 * with SHA-256 runtime-data hashing, REPORT_DATA binds the runtime data, the
 * runtime data parses and its HCLAkPub is (constant-time) the persistent key
 * at ak_handle (CP_EBINDING otherwise), and with refresh_user_data its
 * "user-data" is the nonce (CP_EBINDING: the paravisor did not refresh).
 * The SNP report's signature is NOT checked here: that is the verifier's. */
CP_WUR int cp_azure_cvm_evidence(cp_vtpm *t, const cp_azure_cvm_options *o, const uint8_t *nonce, size_t nonce_len,
                                 json_t **ret);

/* The VCEK with its chain from Azure's IMDS THIM endpoint (normally
 * http://169.254.169.254/metadata/THIM/amd/certification, GET with
 * "Metadata: true"): its JSON's "vcekCert" (required) and
 * "certificateChain" (ASK, ARK; optional) PEM strings, concatenated.
 * Errors: CP_ENETWORK (transport or non-200 status), CP_EFORMAT (not a JSON
 * object, members missing or not strings), CP_ETOOBIG. */
CP_WUR int cp_azure_thim_vcek(const char *url, uint8_t **ret, size_t *ret_len);

#define CP_AZURE_THIM_URL "http://169.254.169.254/metadata/THIM/amd/certification"

/* ---- Azure TDX CVMs (issue 16) -------------------------------------------- */

#define CP_AZURE_TDQUOTE_URL "http://169.254.169.254/acc/tdquote"
#define CP_AZURE_PARAVISOR_NV_SIZE 2048u /* swtpm's largest NV index (TPM2_PT_NV_INDEX_MAX) */

/* The hardware report of the paravisor's TEE for report_data (the TDX
 * module's TDREPORT on a TD: out_len 1024). */
typedef int (*cp_azure_hw_report_fn)(void *userdata, const uint8_t report_data[64], uint8_t *out, size_t out_len);

typedef struct cp_azure_paravisor {
        cp_hcl_report_type report_type;  /* CP_HCL_REPORT_TDX (the SNP paravisor is the tests') */
        cp_azure_hw_report_fn hw_report;
        void *userdata;
        const char *vm_unique_id;        /* vm-configuration.vmUniqueId: the platform's name of the VM */
        size_t nv_size;                  /* 0: CP_AZURE_PARAVISOR_NV_SIZE */
        /* Test hook: the runtime data written is not the one REPORTDATA
         * binds ("console-enabled" flipped after hashing): a paravisor or
         * host that swapped it. */
        bool alter_runtime_data;
} cp_azure_paravisor;

/* The software paravisor's boot (what Azure's HCL does before the guest
 * runs): the AK persistent at 0x81000003 (created on the first boot,
 * reused after), runtime data in Azure's schema naming it as HCLAkPub
 * (with vm-configuration and a zero user-data), the hardware report over
 * SHA-256(runtime data) || 32 zeros, and the HCL report
 * (cp_hcl_report_write) in NV 0x01400001 of nv_size bytes. */
CP_WUR int cp_azure_paravisor_provision(cp_vtpm *t, const cp_azure_paravisor *p);

/* POST {"report": base64url(tdreport)} to Azure's quote endpoint (IMDS
 * /acc/tdquote) and decode its {"quote": base64url}.  CP_ENETWORK
 * (transport, non-200), CP_EFORMAT (the answer), CP_ETOOBIG. */
CP_WUR int cp_azure_imds_tdquote(const char *url, const uint8_t tdreport[CP_HCL_TDX_REPORT_SIZE], uint8_t **ret,
                                 size_t *ret_len);

typedef struct cp_azure_tdx_options {
        const char *quote_url;           /* NULL: CP_AZURE_TDQUOTE_URL */
        uint32_t report_index;           /* 0: CP_HCL_NV_INDEX */
        uint32_t ak_handle;              /* 0: CP_AZURE_AK_HANDLE */
        const uint8_t *client_payload;   /* the vTPM quote's qualifying data is its SHA-256 */
        size_t client_payload_len;
        const uint8_t *eventlog;         /* optional TCG event log (TcgLogs) */
        size_t eventlog_len;
} cp_azure_tdx_options;

/*
 * The evidence of an Azure TDX CVM for attestd's POST /attest/AzureGuest:
 * the HCL report from NV (a TDX TDREPORT, SHA-256 hashing), its runtime
 * data's HCLAkPub checked (constant time) to be the persistent AK, the TD
 * quote from the host's endpoint for that TDREPORT, a TPM2_Quote of the
 * SHA-256 PCRs by that AK over SHA-256(client payload).  *ret is the
 * AttestationInfo object (docs/attestation-service.md):
 *   {"AttestationProtocolVersion":"2.0","OSType":"Linux",
 *    "IsolationInfo":{"Type":"TDX","Evidence":{"Proof":b64url(TD quote),
 *                                              "HclReport":b64url(HCL report)}},
 *    "TpmInfo":{"PcrQuote":b64url(TPMS_ATTEST),"PcrSignature":b64url(TPMT_SIGNATURE),
 *               "PcrValues":[24 x hex]},
 *    "TcgLogs"?:b64url,"ClientPayload":b64url}
 * The runtime-data binding and the quote are the verifier's to check.
 */
CP_WUR int cp_azure_tdx_evidence(cp_vtpm *t, const cp_azure_tdx_options *o, json_t **ret);

#endif
