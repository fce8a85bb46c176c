/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CONFPOOL_TDX_QUOTE_H
#define CONFPOOL_TDX_QUOTE_H

/*
 * Intel DCAP quotes for TDX: version 4 (TD 1.0 body) and version 5 (TD 1.0
 * or TD 1.5 body), attestation key type 2 (ECDSA P-256), TEE type 0x81,
 * certification data type 6 (QE report certification data with a nested
 * type 5 PCK chain) or type 5 (PCK chain alone).  Layout: Intel TDX DCAP
 * Quote Generation Library and Quote Verification Library, "Quote Format"
 * (A.3 / A.4).  The parser reads everything through one bounds-checked
 * cursor; the structure below borrows pointers into the caller's buffer,
 * which must outlive it.  See docs/tdx.md.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "confpool/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CP_TDX_QUOTE_HEADER_SIZE 48
#define CP_TDX_BODY_10_SIZE 584      /* TD 1.0 report body */
#define CP_TDX_BODY_15_SIZE 648      /* TD 1.5 report body */
#define CP_TDX_SGX_REPORT_SIZE 384   /* the QE's SGX report body */
#define CP_TDX_TEE_TYPE 0x81u
#define CP_TDX_ATT_KEY_ECDSA_P256 2u
#define CP_TDX_CERT_PCK_CHAIN 5u
#define CP_TDX_CERT_QE_REPORT 6u
#define CP_TDX_MAX_QUOTE_SIZE (1u << 20)
/* TDATTRIBUTES bits */
#define CP_TDX_TDATTR_DEBUG (UINT64_C(1) << 0)
#define CP_TDX_TDATTR_SEPT_VE_DISABLE (UINT64_C(1) << 28)

/* Intel's QE vendor ID 939a7233-f79c-4ca9-940a-0db3957f0607 */
extern const uint8_t cp_tdx_intel_qe_vendor_id[16];

/* Parse flags */
enum {
        /* Refuse bytes after the signature data (CP_ETRAILING).  Without it
         * they are counted in trailing_len and ignored: real hosts hand out
         * quotes in zero-padded buffers, and the bytes are outside every
         * signature. */
        CP_TDX_PARSE_STRICT = 1u << 0,
};

typedef struct cp_tdx_body {
        uint16_t type;               /* 2: TD 1.0, 3: TD 1.5 (v4 quotes: 2) */
        uint8_t tee_tcb_svn[16];
        uint8_t mrseam[48];
        uint8_t mrsignerseam[48];
        uint64_t seam_attributes;
        uint64_t td_attributes;
        uint64_t xfam;
        uint8_t mrtd[48];
        uint8_t mrconfigid[48];
        uint8_t mrowner[48];
        uint8_t mrownerconfig[48];
        uint8_t rtmr[4][48];
        uint8_t report_data[64];
        bool has_15;                 /* TD 1.5 fields below are present */
        uint8_t tee_tcb_svn2[16];
        uint8_t mrservicetd[48];
} cp_tdx_body;

typedef struct cp_tdx_sgx_report {
        uint8_t cpusvn[16];
        uint32_t miscselect;
        uint8_t attributes[16];
        uint8_t mrenclave[32];
        uint8_t mrsigner[32];
        uint16_t isvprodid;
        uint16_t isvsvn;
        uint8_t report_data[64];
} cp_tdx_sgx_report;

typedef struct cp_tdx_cert_data {
        uint16_t type;               /* 5 or 6 (outer) */
        /* type 6 only */
        bool has_qe_report;
        const uint8_t *qe_report_raw;   /* 384 bytes, what the PCK key signed */
        cp_tdx_sgx_report qe_report;
        const uint8_t *qe_report_sig;   /* 64 bytes r || s, big-endian */
        const uint8_t *qe_auth_data;
        size_t qe_auth_data_len;
        /* the PCK chain (type 5): PEM, or concatenated DER */
        const uint8_t *pck_chain;
        size_t pck_chain_len;
} cp_tdx_cert_data;

typedef struct cp_tdx_quote {
        uint16_t version;            /* 4 or 5 */
        uint16_t att_key_type;
        uint32_t tee_type;
        uint16_t qe_svn, pce_svn;    /* header bytes 8..11 (reserved in v4 QGL) */
        uint8_t qe_vendor_id[16];
        uint8_t user_data[20];
        cp_tdx_body body;
        const uint8_t *signed_data;  /* header || [v5: type || size] || body */
        size_t signed_len;
        const uint8_t *signature;    /* 64 bytes r || s */
        const uint8_t *attest_key;   /* 64 bytes x || y */
        cp_tdx_cert_data cert;
        size_t quote_len;            /* bytes up to the end of the signature data */
        size_t trailing_len;         /* bytes after it (ignored unless STRICT) */
} cp_tdx_quote;

/*
 * Parse a DCAP TDX quote.  Returns 0 or a negative cp_err:
 *   CP_ETRUNC     input or a length field shorter than its structure
 *   CP_EVERSION   quote version not 4/5, or v5 body type not 2/3
 *   CP_EFORMAT    attestation key / TEE type / body size / certification
 *                 data type not the ones above
 *   CP_ETRAILING  bytes left inside a length-delimited structure (or after
 *                 the quote with CP_TDX_PARSE_STRICT)
 */
CP_API CP_WUR int cp_tdx_quote_parse(const uint8_t *buf, size_t len, unsigned flags, cp_tdx_quote *ret);
/* Certification data alone (type, size, data): for type 6 the nested type
 * must be 5.  Exposed for fuzzing and tools. */
CP_API CP_WUR int cp_tdx_cert_data_parse(const uint8_t *buf, size_t len, cp_tdx_cert_data *ret);
/* The 384-byte SGX report body (the QE report). */
CP_API CP_WUR int cp_tdx_sgx_report_parse(const uint8_t *buf, size_t len, cp_tdx_sgx_report *ret);

#ifdef __cplusplus
}
#endif
#endif
