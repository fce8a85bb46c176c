/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_LIB_P384_H
#define CP_LIB_P384_H

/*
 * ECDSA P-384 signature verification with two backends: nettle (hogweed,
 * with its x86_64 assembly for the secp384r1 field) and OpenSSL libcrypto.
 * The public key is decoded and validated once (point on the curve) and kept
 * in both backends' forms, so a cached key costs nothing per verification.
 * bench/bench-verify.c measures both; the default is the faster one there.
 */

#include <stdint.h>

#include "confpool/error.h"
#include "confpool/snp_verify.h"

typedef struct cp_p384_pub cp_p384_pub;

/* x, y: big-endian affine coordinates.  CP_ECERT if not a point on P-384. */
CP_WUR int cp_p384_pub_new(const uint8_t x[48], const uint8_t y[48], cp_p384_pub **ret);
cp_p384_pub *cp_p384_pub_free(cp_p384_pub *p);

/* Verify (r, s) (big-endian, 48 bytes each) over a SHA-384 digest.
 * 0 if valid, CP_ESIG if not, CP_ECRYPTO on a library failure. */
CP_WUR int cp_p384_verify(const cp_p384_pub *pub, cp_p384_backend backend, const uint8_t digest[48],
                          const uint8_t r[48], const uint8_t s[48]);

#endif
