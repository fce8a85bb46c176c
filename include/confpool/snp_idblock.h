/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CONFPOOL_SNP_IDBLOCK_H
#define CONFPOOL_SNP_IDBLOCK_H

/*
 * SEV-SNP ID block and ID authentication information (SNP_LAUNCH_FINISH):
 * creation with P-384 ID and author keys, and verification the way the
 * AMD-SP checks them.  Layouts (SNP ABI; ../shared/reference/snp-measure.md
 * §11):
 *
 *   ID_BLOCK (96 bytes, LE): LD[48] FAMILY_ID[16] IMAGE_ID[16] VERSION u32 (1)
 *                            GUEST_SVN u32 POLICY u64
 *   ID_AUTH (4096 bytes):    ID_KEY_ALGO u32 (1 = ECDSA P-384 SHA-384)
 *                            AUTH_KEY_ALGO u32, reserved to 0x40,
 *                            0x040 ID_BLOCK_SIG[512] 0x240 ID_KEY[1028]
 *                            0x644 reserved[60] 0x680 ID_KEY_SIG[512]
 *                            0x880 AUTHOR_KEY[1028] 0xC84 reserved[892]
 *   public key (1028):       CURVE u32 (2 = P-384) QX[72] QY[72] (little
 *                            endian, 48 significant bytes) zero[880]
 *   signature (512):         R[72] S[72] (little endian) zero[368]
 *
 * ID_BLOCK_SIG = ECDSA-P384-SHA384 by the ID key over the 96-byte ID block;
 * ID_KEY_SIG   = by the author key over the 1028-byte ID_KEY structure.
 * The attestation report's ID_KEY_DIGEST / AUTHOR_KEY_DIGEST are SHA-384 of
 * the 1028-byte public-key structures: exactly what cp_snp_policy's
 * trusted_id_key_digests / trusted_author_key_digests hold, and what
 * cp_snp_id_key_digest() returns.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "confpool/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CP_SNP_ID_BLOCK_SIZE  96u
#define CP_SNP_ID_AUTH_SIZE   4096u
#define CP_SNP_ECC_PUBKEY_SIZE 1028u
#define CP_SNP_ECC_SIG_SIZE   512u
#define CP_SNP_ID_BLOCK_VERSION 1u
/* SMT allowed, reserved bit 17 set, ABI 0.0: QEMU's default guest policy
 * and sev-snp-measure's ID block policy. */
#define CP_SNP_ID_BLOCK_DEFAULT_POLICY UINT64_C(0x30000)

typedef struct cp_snp_id_block {
        uint8_t ld[48];        /* expected launch digest */
        uint8_t family_id[16];
        uint8_t image_id[16];
        uint32_t version;      /* CP_SNP_ID_BLOCK_VERSION */
        uint32_t guest_svn;
        uint64_t policy;       /* must equal the launch policy */
} cp_snp_id_block;

/* ld, zero IDs, version 1, SVN 0, CP_SNP_ID_BLOCK_DEFAULT_POLICY. */
CP_API void cp_snp_id_block_init(cp_snp_id_block *b, const uint8_t ld[48]);
CP_API void cp_snp_id_block_encode(const cp_snp_id_block *b, uint8_t ret[CP_SNP_ID_BLOCK_SIZE]);
/* Exactly 96 bytes (CP_ETRUNC / CP_ETRAILING), version 1 (CP_EVERSION). */
CP_API CP_WUR int cp_snp_id_block_parse(const uint8_t *data, size_t len, cp_snp_id_block *ret);

/* A P-384 private key (ID key or author key).  Key material is held by
 * OpenSSL and freed with it; callers should cp_wipe() PEM buffers. */
typedef struct cp_snp_id_key cp_snp_id_key;

/* PEM ("EC PRIVATE KEY" or PKCS#8 "PRIVATE KEY").  CP_EFORMAT if not a
 * private key, CP_EUNSUPPORTED if not EC P-384. */
CP_API CP_WUR int cp_snp_id_key_load_pem(const uint8_t *pem, size_t len, cp_snp_id_key **ret);
/* A fresh random P-384 key. */
CP_API CP_WUR int cp_snp_id_key_generate(cp_snp_id_key **ret);
/* PKCS#8 PEM of the private key (malloc()ed, NUL-terminated; the caller
 * wipes and frees it). */
CP_API CP_WUR int cp_snp_id_key_to_pem(const cp_snp_id_key *k, char **ret, size_t *ret_len);
CP_API cp_snp_id_key *cp_snp_id_key_free(cp_snp_id_key *k);
/* The public key in AMD's 1028-byte format. */
CP_API void cp_snp_id_key_public(const cp_snp_id_key *k, uint8_t ret[CP_SNP_ECC_PUBKEY_SIZE]);
/* SHA-384 of that structure (the report's ID_KEY_DIGEST / AUTHOR_KEY_DIGEST). */
CP_API void cp_snp_id_key_digest(const cp_snp_id_key *k, uint8_t ret[48]);
/* The same for a public key structure. */
CP_API CP_WUR int cp_snp_pubkey_digest(const uint8_t pub[CP_SNP_ECC_PUBKEY_SIZE], uint8_t ret[48]);

/* Sign: ret_id_block is the encoded block, ret_id_auth the ID_AUTH
 * structure.  author_key may be NULL (no author key: AUTH_KEY_ALGO,
 * ID_KEY_SIG and AUTHOR_KEY stay zero; launch with author-key-enabled=off).
 * ECDSA nonces are random: ret_id_auth differs on every call. */
CP_API CP_WUR int cp_snp_id_auth_create(const cp_snp_id_block *b, const cp_snp_id_key *id_key,
                                        const cp_snp_id_key *author_key,
                                        uint8_t ret_id_block[CP_SNP_ID_BLOCK_SIZE],
                                        uint8_t ret_id_auth[CP_SNP_ID_AUTH_SIZE]);

typedef struct cp_snp_id_auth_result {
        cp_snp_id_block block;
        uint8_t id_key_digest[48];
        bool has_author_key;
        uint8_t author_key_digest[48]; /* zero without an author key */
} cp_snp_id_auth_result;

/* Verify the way SNP_LAUNCH_FINISH does: parse both structures strictly
 * (algorithms 1, curve 2, zero padding and reserved fields: CP_EFORMAT /
 * CP_EMBZ / CP_EUNSUPPORTED), the public keys on P-384 (CP_ESIG), the ID
 * block signature by the ID key and, if AUTHOR_KEY is present (non-zero),
 * the ID key's signature by the author key (CP_ESIG).  If expected_ld is
 * non-NULL, the block's LD must equal it (constant time; CP_EBINDING).
 * Does not check the policy against a launch policy: compare ret->policy. */
CP_API CP_WUR int cp_snp_id_auth_verify(const uint8_t *id_block, size_t id_block_len, const uint8_t *id_auth,
                                        size_t id_auth_len, const uint8_t *expected_ld,
                                        cp_snp_id_auth_result *ret);

#ifdef __cplusplus
}
#endif
#endif
