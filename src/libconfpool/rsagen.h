/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_LIB_RSAGEN_H
#define CP_LIB_RSAGEN_H

/*
 * RSA key generation for every fresh RSA key confpool makes (an agent's TEE
 * key, the control plane's one-time wrapping keys, the broker's RSA keys,
 * RS256 signing keys): nettle's rsa_generate_keypair (hogweed), fed with
 * OpenSSL's DRBG (RAND_priv_bytes), returned as an OpenSSL EVP_PKEY with its
 * CRT parameters.  Issue 19: on the 2-core machines here nettle makes an
 * RSA-2048 key in ~43 ms of CPU where OpenSSL 3.0's EVP_RSA_gen takes
 * ~145 ms, and a node pool's boot is bound by that CPU (bench-nodes).
 *
 * The key is checked before it is returned: n of exactly `bits` bits,
 * e = 65537, and a pairwise test (a signature by the private key, CRT
 * values included, verified by the public key).  The big integers of the
 * result are wiped before they are freed.  Not wiped: GMP's temporaries inside nettle's prime search
 * (freed by GMP as they are in GnuTLS, which uses the same generator).
 */

#include <openssl/evp.h>

#include "confpool/error.h"

/* bits: 2048, 3072 or 4096 (CP_EINVAL otherwise); CP_ECRYPTO if the random
 * source or the generation fails. */
CP_WUR int cp_rsa_generate(unsigned bits, EVP_PKEY **ret);

#endif
