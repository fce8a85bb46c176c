/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CONFPOOL_AZURE_H
#define CONFPOOL_AZURE_H

/*
 * Azure confidential-VM evidence: the HCL report the paravisor stores in
 * vTPM NV index 0x01400001, the runtime-data JSON it carries, and the
 * binding between the two (REPORT_DATA = hash(runtime data) || zeros).
 *
 * HCL report layout (little-endian):
 *   0x000  u32  signature "HCLA" (0x414C4348)
 *   0x004  u32  version (1 or 2)
 *   0x008  u32  report size (= 0x4D4 + VariableDataSize; bytes after it are
 *               NV-area padding and must be zero)
 *   0x00C  u32  request type (1 key release, 2 AK certificate)
 *   0x010  u32  status (must be 0), then 3 x u32 reserved (must be 0)
 *   0x020  1184 hardware report: SEV-SNP ATTESTATION_REPORT, or a 1024-byte
 *               TDX TDREPORT followed by 160 zero bytes
 *   0x4C0  IGVM_REQUEST_DATA: u32 DataSize (= 20 + VariableDataSize),
 *               u32 Version (1), u32 ReportType (2 SNP, 4 TDX),
 *               u32 ReportDataHashType (1 SHA-256, 2 SHA-384, 3 SHA-512),
 *               u32 VariableDataSize, then VariableData (runtime-data JSON)
 *
 * Nothing here verifies the hardware report's signature: hand
 * cp_hcl_report.hw_report to the SNP verifier.  The runtime data is only
 * trustworthy once the binding holds AND the hardware report verifies.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "confpool/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CP_HCL_NV_INDEX              0x01400001u /* vTPM NV index of the HCL report */
#define CP_HCL_USER_DATA_NV_INDEX    0x01400002u /* write 64 bytes here to refresh "user-data" */
#define CP_HCL_SIGNATURE             0x414C4348u /* "HCLA" read as little-endian u32 */
#define CP_HCL_HEADER_SIZE           0x20u
#define CP_HCL_HW_REPORT_OFFSET      0x20u
#define CP_HCL_HW_REPORT_AREA        0x4A0u      /* 1184 */
#define CP_HCL_REQUEST_DATA_OFFSET   0x4C0u
#define CP_HCL_REQUEST_DATA_FIXED    20u         /* fixed part of IGVM_REQUEST_DATA */
#define CP_HCL_VARIABLE_DATA_OFFSET  0x4D4u
#define CP_HCL_SNP_REPORT_SIZE       0x4A0u      /* 1184 */
#define CP_HCL_TDX_REPORT_SIZE       0x400u      /* 1024 */
#define CP_HCL_SNP_REPORT_DATA_OFFSET 0x50u      /* REPORT_DATA inside the SNP report */
#define CP_HCL_TDX_REPORT_DATA_OFFSET 0x80u      /* REPORTMACSTRUCT.REPORTDATA inside TDREPORT */

typedef enum cp_hcl_request_type {
        CP_HCL_REQUEST_KEY_RELEASE = 1,
        CP_HCL_REQUEST_AK_CERT = 2,
} cp_hcl_request_type;

typedef enum cp_hcl_report_type {
        CP_HCL_REPORT_SNP = 2,
        CP_HCL_REPORT_TDX = 4,
} cp_hcl_report_type;

typedef enum cp_hcl_hash_type {
        CP_HCL_HASH_SHA256 = 1,
        CP_HCL_HASH_SHA384 = 2,
        CP_HCL_HASH_SHA512 = 3,
} cp_hcl_hash_type;

/* A parsed HCL report.  hw_report and runtime_data point INTO the buffer
 * given to cp_hcl_report_parse() and are valid as long as it is. */
typedef struct cp_hcl_report {
        uint32_t version;              /* header version: 1 or 2 */
        uint32_t report_size;          /* meaningful bytes from offset 0 */
        uint32_t request_type;         /* cp_hcl_request_type */
        uint32_t status;               /* always 0 (non-zero is rejected) */
        uint32_t request_data_version; /* IGVM_REQUEST_DATA.Version: 1 */
        cp_hcl_report_type report_type;
        cp_hcl_hash_type hash_type;
        const uint8_t *hw_report;      /* SNP ATTESTATION_REPORT or TDX TDREPORT */
        size_t hw_report_len;          /* CP_HCL_SNP_REPORT_SIZE or CP_HCL_TDX_REPORT_SIZE */
        uint8_t report_data[64];       /* copy of the hw report's REPORT_DATA / REPORTDATA */
        const uint8_t *runtime_data;   /* VariableData: runtime-data JSON bytes, not NUL-terminated */
        size_t runtime_data_len;
} cp_hcl_report;

/* "snp", "tdx" or "unknown". */
CP_API const char *cp_hcl_report_type_name(int report_type);
/* Digest length of a cp_hcl_hash_type (32/48/64), 0 if unknown. */
CP_API size_t cp_hcl_hash_size(int hash_type);

/* Parse an HCL report (the NV index contents as read; len up to
 * CP_MAX_HCL_REPORT).  Errors: CP_ETRUNC (shorter than a field or than the
 * declared sizes), CP_EFORMAT (bad signature, inconsistent sizes, non-zero
 * status), CP_EVERSION (header or request-data version), CP_EUNSUPPORTED
 * (request type, report type or hash type not known), CP_EMBZ (reserved
 * header words or TDX padding), CP_ETRAILING (non-zero bytes after the
 * report), CP_ETOOBIG (len or VariableDataSize above the limits).
 * Allocation-free; *ret is written only on success. */
CP_API CP_WUR int cp_hcl_report_parse(const uint8_t *data, size_t len, cp_hcl_report *ret);

/* Lay out an HCL report as the paravisor writes it into NV 0x01400001
 * (the software paravisor, issue 16): header version 2 ("HCLA", ReportSize
 * = 0x4D4 + rt_len, request_type, status 0), the hardware report (an SNP
 * report of 1184 bytes, or a 1024-byte TDREPORT followed by 160 zero
 * bytes), IGVM_REQUEST_DATA version 1 with report_type and hash_type, the
 * runtime data, then zeros up to nv_size (0: no padding).  Nothing is
 * computed: REPORT_DATA must already bind rt (the caller asked its TEE for
 * it).  *ret is malloc()ed, *ret_len = max(nv_size, 0x4D4 + rt_len).
 * CP_EINVAL for a wrong hw_len or type, CP_ETOOBIG when it does not fit
 * nv_size or the limits. */
CP_API CP_WUR int cp_hcl_report_write(uint32_t request_type, cp_hcl_report_type report_type, cp_hcl_hash_type hash_type,
                                      const uint8_t *hw_report, size_t hw_len, const uint8_t *rt, size_t rt_len,
                                      size_t nv_size, uint8_t **ret, size_t *ret_len);

/* The binding between a hardware report and the runtime data:
 * REPORT_DATA[0:h] == H(runtime_data[0:len]) with H given by hash_type
 * (h = 32, 48 or 64) and REPORT_DATA[h:64] all zero.  Compared in constant
 * time.  CP_EBINDING on mismatch, CP_EUNSUPPORTED for an unknown hash type. */
CP_API CP_WUR int cp_azure_check_binding(const uint8_t report_data[64], int hash_type,
                                         const uint8_t *runtime_data, size_t len);
/* cp_azure_check_binding() on a parsed report's own fields. */
CP_API CP_WUR int cp_hcl_report_check_binding(const cp_hcl_report *report);

/*
 * Runtime data: Azure's JSON document, e.g.
 *   {"keys":[{"kid":"HCLAkPub","key_ops":["sign"],"kty":"RSA","e":"AQAB","n":"..."},
 *            {"kid":"HCLEkPub","key_ops":["encrypt"],"kty":"RSA","e":"AQAB","n":"..."}],
 *    "vm-configuration":{"console-enabled":true,"secure-boot":true,"tpm-enabled":true,
 *                        "tpm-persisted":true,"vmUniqueId":"...","root-cert-thumbprint":"..."},
 *    "user-data":"<128 hex digits>"}
 *
 * It is Microsoft's document and grows over time, so unknown members (at any
 * level) are tolerated and ignored.  What we use is parsed strictly:
 *  - the document is one JSON object, UTF-8, no duplicate member names,
 *    nesting at most CP_MAX_JSON_DEPTH, at most CP_MAX_RUNTIME_DATA bytes;
 *  - "keys" is required: an array of at most CP_MAX_RUNTIME_KEYS objects,
 *    each with string "kid" and "kty"; kids are unique; every kty "RSA" key
 *    must have base64url (unpadded, RFC 7518 minimal-octet) "n" of at most
 *    4096 bits and "e" of at most 64 bits; keys of other types are skipped;
 *  - exactly one "HCLAkPub" key, kty "RSA", modulus 2048..4096 bits, odd
 *    exponent 3..2^64-1: it is the vTPM attestation key (AK);
 *  - "HCLEkPub" is optional; when present it obeys the same RSA rules;
 *  - "vm-configuration" is optional; when present it is an object and the
 *    members we expose have the types shown (booleans, strings, integer);
 *  - "user-data" is optional; when present a hex string of at most
 *    2*CP_MAX_AZURE_USER_DATA digits (either case).
 */
typedef struct cp_azure_runtime_data cp_azure_runtime_data;

/* Tri-state for optional booleans. */
typedef enum cp_azure_flag {
        CP_AZURE_FLAG_ABSENT = -1,
        CP_AZURE_FLAG_FALSE = 0,
        CP_AZURE_FLAG_TRUE = 1,
} cp_azure_flag;

typedef struct cp_azure_vm_config {
        bool present;                      /* "vm-configuration" member exists */
        cp_azure_flag console_enabled;     /* "console-enabled" */
        cp_azure_flag secure_boot;         /* "secure-boot" */
        cp_azure_flag tpm_enabled;         /* "tpm-enabled" */
        cp_azure_flag tpm_persisted;       /* "tpm-persisted" (newer documents) */
        const char *vm_unique_id;          /* "vmUniqueId" or NULL; owned by the object */
        const char *root_cert_thumbprint;  /* "root-cert-thumbprint" or NULL; owned by the object */
        bool has_current_time;             /* "current-time" (2023 documents) */
        int64_t current_time;
} cp_azure_vm_config;

/* Parse runtime data (the exact bytes the binding hashes).  Errors:
 * CP_ETOOBIG, CP_EFORMAT (JSON or member syntax/type, key decoding, missing
 * or duplicate HCLAkPub), CP_EUNSUPPORTED (AK not RSA or modulus size out of
 * range), CP_ECRYPTO, CP_ENOMEM. */
CP_API CP_WUR int cp_azure_runtime_data_parse(const uint8_t *json, size_t len,
                                              cp_azure_runtime_data **ret);
/* The same from a tree the caller parsed from exactly those bytes (with
 * duplicate members rejected, as json_loadb(JSON_REJECT_DUPLICATES) does):
 * a service that keeps the JSON anyway parses it once.  root is only read;
 * the nesting limit is checked on the tree. */
CP_API CP_WUR int cp_azure_runtime_data_from_json(const json_t *root, cp_azure_runtime_data **ret);
/* Accepts NULL; returns NULL. */
CP_API cp_azure_runtime_data *cp_azure_runtime_data_free(cp_azure_runtime_data *rd);

/* The AK (HCLAkPub) as an OpenSSL EVP_PKEY (cast from const void *), never
 * NULL on a parsed object; owned by rd, do not free. */
CP_API const void *cp_azure_runtime_data_ak(const cp_azure_runtime_data *rd);
/* The EK (HCLEkPub) as an EVP_PKEY, or NULL if absent; owned by rd. */
CP_API const void *cp_azure_runtime_data_ek(const cp_azure_runtime_data *rd);
/* Big-endian modulus and exponent of the AK (borrowed from rd). */
CP_API void cp_azure_runtime_data_ak_rsa(const cp_azure_runtime_data *rd, const uint8_t **ret_n,
                                         size_t *ret_n_len, const uint8_t **ret_e, size_t *ret_e_len);
/* "key_ops" of the AK contains "sign" (2023 documents said "encrypt"). */
CP_API bool cp_azure_runtime_data_ak_can_sign(const cp_azure_runtime_data *rd);
CP_API const cp_azure_vm_config *cp_azure_runtime_data_vm_config(const cp_azure_runtime_data *rd);
/* Decoded "user-data" (borrowed).  CP_ENOTFOUND if the member is absent. */
CP_API CP_WUR int cp_azure_runtime_data_user_data(const cp_azure_runtime_data *rd,
                                                  const uint8_t **ret, size_t *ret_len);
/* Constant-time check that "user-data" equals expected[0:len] followed by
 * zeros up to the decoded user-data length (so a 32- or 48-byte digest can be
 * compared with the 64-byte field).  CP_EBINDING on mismatch or when
 * user-data is absent or shorter than len. */
CP_API CP_WUR int cp_azure_runtime_data_check_user_data(const cp_azure_runtime_data *rd,
                                                        const uint8_t *expected, size_t len);

#ifdef __cplusplus
}
#endif
#endif
