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
/* Create and load the attestation key: an SRK (owner hierarchy, ECC
 * P-256 restricted decrypt, AES-128-CFB) and under it a restricted RSA-2048
 * RSASSA-SHA256 signing key, both NODA (no dictionary-attack protection:
 * their auth value is empty, and a use of a DA-protected key followed by a
 * stop without TPM2_Shutdown counts as a failed try; docs/nodes.md).
 * Returns its modulus (256 bytes) and exponent. */
CP_WUR int cp_vtpm_create_ak(cp_vtpm *t, uint8_t ret_n[256], uint32_t *ret_e);
/* TPM2_Quote of PCRs 0-23 (SHA-256) with qualifyingData = nonce (<= 64
 * bytes) by the AK: the marshalled TPMS_ATTEST and TPMT_SIGNATURE. */
CP_WUR int cp_vtpm_quote(cp_vtpm *t, const uint8_t *nonce, size_t nonce_len, uint8_t **ret_attest,
                         size_t *ret_attest_len, uint8_t **ret_sig, size_t *ret_sig_len);

/* ---- orderly shutdown, dictionary-attack lockout (docs/nodes.md) --------- */

/* TPM2_Shutdown(TPM_SU_STATE), after releasing a transient AK: the next
 * Startup finds an orderly shutdown and counts no failed authorization.
 * The last command on t (close it next). */
CP_WUR int cp_vtpm_shutdown(cp_vtpm *t);
/* The same on a TPM of its own connection (the local backend before it
 * stops a swtpm), each answer waited for at most timeout_ms. */
CP_WUR int cp_vtpm_shutdown_tcti(const char *tcti, int32_t timeout_ms);
/* TPM2_PT_LOCKOUT_COUNTER: the failed authorizations counted (failedTries). */
CP_WUR int cp_vtpm_lockout_counter(cp_vtpm *t, uint32_t *ret);
/* If the lockout counter is non-zero, TPM2_DictionaryAttackLockReset with
 * the empty lockoutAuth (swtpm's; not an Azure vTPM's).  *ret_failed: the
 * counter before (0: nothing done). */
CP_WUR int cp_vtpm_da_recover(cp_vtpm *t, uint32_t *ret_failed);

/* ---- NV indices and persistent keys (Azure CVMs: docs/nodes.md) ---------- */

/* Define an NV index of size bytes (ordinary index, owner-authorized,
 * empty auth value; attributes OWNERREAD|OWNERWRITE|AUTHREAD|AUTHWRITE).
 * The firmware/paravisor side: tests, and the user-data index on Azure. */
CP_WUR int cp_vtpm_nv_define(cp_vtpm *t, uint32_t index, size_t size);
/* Size of a defined NV index (CP_ENOTFOUND if it is not defined). */
CP_WUR int cp_vtpm_nv_size(cp_vtpm *t, uint32_t index, size_t *ret);
/* The whole contents of an NV index of any size up to max_len, read in
 * chunks of TPM2_PT_NV_BUFFER_MAX with owner authorization if the index
 * allows OWNERREAD, else with its own (empty) auth value.  CP_ENOTFOUND if
 * not defined, CP_ETOOBIG if larger than max_len. */
CP_WUR int cp_vtpm_nv_read(cp_vtpm *t, uint32_t index, size_t max_len, uint8_t **ret, size_t *ret_len);
/* Write data at offset 0 of a defined NV index (chunked likewise; owner
 * authorization if OWNERWRITE, else the index's own).  CP_ETOOBIG if len
 * exceeds the index size. */
CP_WUR int cp_vtpm_nv_write(cp_vtpm *t, uint32_t index, const uint8_t *data, size_t len);
/* Make the loaded AK (cp_vtpm_create_ak) persistent at handle
 * (0x81000000-0x817FFFFF) with TPM2_EvictControl (the firmware side; tests). */
CP_WUR int cp_vtpm_persist_ak(cp_vtpm *t, uint32_t handle);
/* Use the persistent key at handle as the AK of later cp_vtpm_quote()
 * calls (Azure: 0x81000003, the runtime data's HCLAkPub).  It must be a
 * restricted RSA signing key (RSASSA/SHA-256 or no fixed scheme); returns
 * its modulus (big-endian, ret_n_len <= 512 bytes) and exponent.  Any AK
 * loaded before is released first (also when this fails). */
CP_WUR int cp_vtpm_load_persistent_ak(cp_vtpm *t, uint32_t handle, uint8_t ret_n[512], size_t *ret_n_len,
                                      uint32_t *ret_e);

#endif
