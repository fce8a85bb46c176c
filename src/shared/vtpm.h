/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_SHARED_VTPM_H
#define CP_SHARED_VTPM_H

/*
 * A node's vTPM through tpm2-tss (ESAPI over a TCTI, normally swtpm's
 * "swtpm:host=127.0.0.1,port=P").  Used by the local backend (acting as
 * firmware: PCR extends) and by confpool-agent (AK, PCR reads, quotes).
 * Only the SHA-256 bank is used.
 */

#include <stddef.h>
#include <stdint.h>

#include "confpool/error.h"

#define CP_VTPM_PCRS 24u

typedef struct cp_vtpm cp_vtpm;

/* tcti: a TCTI loader configuration string ("swtpm:host=...,port=..."). */
CP_WUR int cp_vtpm_open(const char *tcti, cp_vtpm **ret);
cp_vtpm *cp_vtpm_close(cp_vtpm *t);
/* PCR[pcr] (SHA-256 bank) := SHA-256(PCR || digest). */
CP_WUR int cp_vtpm_extend(cp_vtpm *t, unsigned pcr, const uint8_t digest[32]);
/* All 24 SHA-256 PCRs. */
CP_WUR int cp_vtpm_pcr_read(cp_vtpm *t, uint8_t ret[CP_VTPM_PCRS][32]);
/* Create and load the attestation key: an SRK (owner hierarchy, RSA-2048
 * restricted decrypt, AES-128-CFB) and under it a restricted RSA-2048
 * RSASSA-SHA256 signing key.  Returns its modulus (256 bytes) and exponent. */
CP_WUR int cp_vtpm_create_ak(cp_vtpm *t, uint8_t ret_n[256], uint32_t *ret_e);
/* TPM2_Quote of PCRs 0-23 (SHA-256) with qualifyingData = nonce (<= 64
 * bytes) by the AK: the marshalled TPMS_ATTEST and TPMT_SIGNATURE. */
CP_WUR int cp_vtpm_quote(cp_vtpm *t, const uint8_t *nonce, size_t nonce_len, uint8_t **ret_attest,
                         size_t *ret_attest_len, uint8_t **ret_sig, size_t *ret_sig_len);

#endif
