/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_BASIC_LIMITS_H
#define CP_BASIC_LIMITS_H

/* Every attacker-controlled size has a named limit here. */

#define CP_MAX_INPUT_FILE        (16u * 1024u * 1024u)  /* any evidence / cert / policy file */
#define CP_MAX_CERT_DER          (16u * 1024u)          /* one X.509 certificate */
#define CP_MAX_CRL_DER           (1024u * 1024u)        /* one CRL */
#define CP_MAX_CERTTABLE_ENTRIES 32u                    /* GHCB certificate table entries */
#define CP_MAX_CERTTABLE_SIZE    (64u * 1024u)          /* certificate blob of SNP_GET_EXT_REPORT */
#define CP_MAX_HCL_REPORT        (64u * 1024u)          /* Azure HCL report (NV index is ~2.6 KiB) */
#define CP_MAX_TDX_QUOTE         (64u * 1024u)          /* a DCAP TDX quote (~5 KiB with its PCK chain; Google pads to 8000) */
#define CP_MAX_RUNTIME_DATA      (32u * 1024u)          /* runtime-data JSON */
#define CP_MAX_POLICY_JSON       (256u * 1024u)         /* validation policy document */
#define CP_MAX_POLICY_SET        256u                   /* entries in any accepted-value set */
#define CP_MAX_JSON_DEPTH        32u
#define CP_MAX_TPM_ATTEST        4096u                  /* TPMS_ATTEST */
#define CP_MAX_TPM_PCRS          24u
#define CP_MAX_CHAIN_DEPTH       4u                     /* ARK -> ASK -> VCEK */
#define CP_MAX_HTTP_RESPONSE     (4u * 1024u * 1024u)   /* KDS response body */
#define CP_MAX_RUNTIME_KEYS      16u                    /* JWKs in the Azure runtime-data "keys" array */
#define CP_MAX_AZURE_USER_DATA   64u                    /* decoded runtime-data "user-data" (NV 0x01400002) */
#define CP_MAX_TPM_PCR_BANKS     8u                     /* TPMS_PCR_SELECTIONs in one TPML_PCR_SELECTION */
#define CP_MAX_TPM_SIGNATURE     1024u                  /* marshalled TPMT_SIGNATURE or raw signature */
#define CP_MAX_JMESPATH_EXPR     (16u * 1024u)          /* bytes of one JMESPath expression */
#define CP_MAX_JMESPATH_DEPTH    128u                   /* JMESPath parser recursion / AST nesting */
#define CP_MAX_JMESPATH_DATA_DEPTH 1024u                /* JSON nesting walked by compare / to_string */
#define CP_MAX_JMESPATH_WORK     (16u * 1024u * 1024u)  /* values built + compared in one search */
#define CP_MAX_JMESPATH_RESULT   (4u * 1024u * 1024u)   /* nodes of a result tree, bytes of a built string */
#define CP_MAX_AZOUT_DEPTH       256u                   /* JSON nesting printed by the az output formats */
#define CP_MAX_SNP_GUEST_MSG     4096u                  /* SNP guest message (0x60 header + payload), one page */
#define CP_MAX_AMDSP_GUESTS      65536u                 /* guests per emulated AMD-SP host */
#define CP_MAX_FIRMWARE_SIZE     (64u * 1024u * 1024u)  /* OVMF / SVSM image to measure */
#define CP_MAX_SNP_SECTION_PAGES (256u * 1024u)         /* pages in all SEV metadata sections (1 GiB) */
#define CP_MAX_API_BODY          (1024u * 1024u)        /* confpoold request body (413 above) */
#define CP_MAX_API_TOKEN         512u                   /* Authorization header value */
#define CP_MAX_API_JWT           (32u * 1024u)          /* service-principal access token (JWT) */
#define CP_MAX_TCG_EVENTLOG      (1024u * 1024u)        /* TCG firmware event log bytes */
#define CP_MAX_TCG_EVENTS        16384u                 /* TCG_PCR_EVENT2 entries in one log */
#define CP_MAX_TCG_EVENT_TEXT    1024u                  /* characters of event text put into claims */
#define CP_MAX_SURGE_NODES       1000u                  /* upgradeSettings.maxSurge as an absolute count */
#define CP_MAX_POLICY_MEASUREMENTS 16u                 /* launchMeasurements of a pool's attestation policy override */

#endif
