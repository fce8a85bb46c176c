/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CONFPOOL_TPM_QUOTE_H
#define CONFPOOL_TPM_QUOTE_H

/*
 * TPM 2.0 quotes (TPM2_Quote output): the signed TPMS_ATTEST of type
 * TPM_ST_ATTEST_QUOTE and its signature, as used by the Azure vTPM (signed
 * by the HCLAkPub key of the runtime data; see azure.h).  TPM structures are
 * big-endian (TPM 2.0 Library, Part 2: Structures):
 *
 *   TPMS_ATTEST  { u32 magic (0xff544347), u16 type (0x8018),
 *                  TPM2B_NAME qualifiedSigner, TPM2B_DATA extraData,
 *                  TPMS_CLOCK_INFO { u64 clock, u32 resetCount,
 *                                    u32 restartCount, u8 safe },
 *                  u64 firmwareVersion,
 *                  TPMS_QUOTE_INFO { TPML_PCR_SELECTION pcrSelect,
 *                                    TPM2B_DIGEST pcrDigest } }
 *   TPML_PCR_SELECTION { u32 count, count x { u16 hash, u8 sizeofSelect,
 *                                             u8 pcrSelect[sizeofSelect] } }
 *   TPMT_SIGNATURE { u16 sigAlg, u16 hash, RSASSA/RSAPSS: TPM2B sig,
 *                    ECDSA: TPM2B r, TPM2B s }
 *
 * The verifier's order: signature over the TPMS_ATTEST bytes with the AK,
 * then extraData == the expected nonce, then pcrDigest == H(selected PCR
 * values in selection order), H being the signature's hash algorithm.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "confpool/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CP_TPM_GENERATED_VALUE   0xff544347u
#define CP_TPM_ST_ATTEST_QUOTE   0x8018u

/* TPM_ALG_ID values used here */
#define CP_TPM_ALG_SHA1          0x0004u
#define CP_TPM_ALG_SHA256        0x000Bu
#define CP_TPM_ALG_SHA384        0x000Cu
#define CP_TPM_ALG_SHA512        0x000Du
#define CP_TPM_ALG_NULL          0x0010u
#define CP_TPM_ALG_RSASSA        0x0014u
#define CP_TPM_ALG_RSAPSS        0x0016u
#define CP_TPM_ALG_ECDSA         0x0018u

#define CP_TPM_PCR_COUNT         24u  /* PCRs 0..23; selections of others are refused */
#define CP_TPM_PCR_SELECT_MAX    4u   /* largest sizeofSelect accepted (bits >= 24 must be 0) */
#define CP_TPM_PCR_BANKS_MAX     8u   /* = CP_MAX_TPM_PCR_BANKS */
#define CP_TPM_NAME_MAX          66u  /* sizeof(TPMU_NAME) */
#define CP_TPM_DIGEST_MAX        64u  /* sizeof(TPMU_HA): TPM2B_DATA / TPM2B_DIGEST */

typedef struct cp_tpm_pcr_selection {
        uint16_t hash_alg;          /* bank, CP_TPM_ALG_SHA* */
        uint8_t size_of_select;
        uint8_t select[CP_TPM_PCR_SELECT_MAX]; /* bit i%8 of byte i/8 selects PCR i */
} cp_tpm_pcr_selection;

/* A parsed quote.  Pointers point INTO the buffer given to
 * cp_tpm_quote_parse() and are valid as long as it is. */
typedef struct cp_tpm_quote {
        const uint8_t *attest;            /* the whole TPMS_ATTEST: the signed bytes */
        size_t attest_len;
        uint32_t magic;                   /* CP_TPM_GENERATED_VALUE */
        uint16_t type;                    /* CP_TPM_ST_ATTEST_QUOTE */
        const uint8_t *qualified_signer;  /* TPM2B_NAME contents */
        size_t qualified_signer_len;
        const uint8_t *extra_data;        /* TPM2B_DATA contents: the caller's nonce */
        size_t extra_data_len;
        uint64_t clock;
        uint32_t reset_count;
        uint32_t restart_count;
        bool safe;
        uint64_t firmware_version;
        size_t n_selections;
        cp_tpm_pcr_selection selections[CP_TPM_PCR_BANKS_MAX];
        const uint8_t *pcr_digest;        /* TPM2B_DIGEST contents */
        size_t pcr_digest_len;
} cp_tpm_quote;

/* Parse a TPMS_ATTEST (at most CP_MAX_TPM_ATTEST bytes) of type quote.
 * Errors: CP_ETRUNC, CP_ETRAILING, CP_ETOOBIG, CP_EFORMAT (magic, type,
 * TPM2B sizes above their unions, safe not 0/1, duplicate banks),
 * CP_EUNSUPPORTED (unknown PCR bank hash, PCR index >= 24, too many banks).
 * Allocation-free; *ret written only on success. */
CP_API CP_WUR int cp_tpm_quote_parse(const uint8_t *data, size_t len, cp_tpm_quote *ret);

/* Is PCR index (0..23) selected in selection sel? */
CP_API bool cp_tpm_pcr_selected(const cp_tpm_pcr_selection *sel, unsigned index);
/* Digest size of a TPM hash algorithm (20/32/48/64), 0 if unknown. */
CP_API size_t cp_tpm_hash_size(uint16_t hash_alg);

/* A quote signature. */
typedef struct cp_tpm_signature {
        uint16_t sig_alg;        /* CP_TPM_ALG_RSASSA, _RSAPSS or _ECDSA */
        uint16_t hash_alg;       /* CP_TPM_ALG_SHA256/384/512 */
        const uint8_t *sig;      /* RSA signature (big-endian, modulus length) */
        size_t sig_len;
        const uint8_t *ecdsa_r;  /* ECDSA r and s (big-endian) */
        size_t ecdsa_r_len;
        const uint8_t *ecdsa_s;
        size_t ecdsa_s_len;
} cp_tpm_signature;

/* Parse a marshalled TPMT_SIGNATURE (what TPM2_Quote returns and
 * `tpm2_quote -f tss` writes).  sigAlg must be RSASSA, RSAPSS or ECDSA and
 * hash SHA-256/384/512; TPM2B sizes at most 512 (RSA) / 66 (ECDSA).
 * Pointers borrow from data.  Errors: CP_ETRUNC, CP_ETRAILING, CP_ETOOBIG,
 * CP_EFORMAT, CP_EUNSUPPORTED. */
CP_API CP_WUR int cp_tpm_signature_parse(const uint8_t *data, size_t len, cp_tpm_signature *ret);
/* Wrap a bare RSA signature (what the Azure/trustee evidence carries: the
 * TPM2B contents only, e.g. 256 bytes for RSA-2048) with the scheme and hash
 * the caller knows the AK uses (Azure: RSASSA + SHA-256).  Borrows sig. */
CP_API CP_WUR int cp_tpm_signature_from_raw(const uint8_t *sig, size_t len, uint16_t sig_alg,
                                            uint16_t hash_alg, cp_tpm_signature *ret);

/* Verify sig over quote->attest with ak_pkey (an OpenSSL EVP_PKEY *: RSA of
 * at least 2048 bits for RSASSA/RSAPSS — PSS with any salt length, MGF1 with
 * the same hash — or EC P-256/384/521 for ECDSA).  CP_ESIG if it does not
 * verify or the scheme does not fit the key; CP_EUNSUPPORTED for keys below
 * the size floor; CP_ECRYPTO for library failures. */
CP_API CP_WUR int cp_tpm_quote_verify_signature(const cp_tpm_quote *quote, const cp_tpm_signature *sig,
                                                const void *ak_pkey);
/* Constant-time extraData == nonce[0:nonce_len].  CP_EBINDING otherwise. */
CP_API CP_WUR int cp_tpm_quote_check_nonce(const cp_tpm_quote *quote, const uint8_t *nonce, size_t nonce_len);

/* Caller-supplied PCR values of one bank: values[i] points at the digest of
 * PCR i (cp_tpm_hash_size(hash_alg) bytes) or is NULL if not supplied. */
typedef struct cp_tpm_pcr_bank {
        uint16_t hash_alg;
        const uint8_t *values[CP_TPM_PCR_COUNT];
} cp_tpm_pcr_bank;

/* pcrDigest == H(concatenation, over the quote's selections in order and
 * each selection's PCRs in ascending index order, of the supplied values),
 * H = digest_alg, compared in constant time.  CP_EBINDING on mismatch
 * (including a pcrDigest of the wrong length); CP_EINVAL if a selected PCR's
 * value or a selected bank is not supplied; CP_EUNSUPPORTED for an unknown
 * digest_alg. */
CP_API CP_WUR int cp_tpm_quote_check_pcrs(const cp_tpm_quote *quote, uint16_t digest_alg,
                                          const cp_tpm_pcr_bank *banks, size_t n_banks);

/* All three checks, in the order signature, nonce, PCRs (PCR digest hashed
 * with sig->hash_alg).  banks must be supplied (n_banks >= 1). */
CP_API CP_WUR int cp_tpm_quote_verify(const cp_tpm_quote *quote, const cp_tpm_signature *sig,
                                      const void *ak_pkey, const uint8_t *nonce, size_t nonce_len,
                                      const cp_tpm_pcr_bank *banks, size_t n_banks);

#ifdef __cplusplus
}
#endif
#endif
