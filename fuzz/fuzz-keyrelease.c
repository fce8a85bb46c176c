/* SPDX-License-Identifier: Apache-2.0 */
/* The key-release wire formats a relying party and a guest parse
 * (keyrelease.h): byte 0 % 4 picks
 *   0  cp_wrap_key_from_jwk on the rest as JSON (the TEE key in a token's
 *      x-ms-runtime.keys); an accepted key is 2048..4096 bits, public, its
 *      JWK reads back to the same JWK, and a key can be wrapped to it;
 *   1  cp_keywrap_unwrap of the rest with a fixed private key, algorithm
 *      byte 1 (refused, or at most CP_KEYWRAP_MAX_PLAIN bytes);
 *   2  wrap the rest, flip the bit that byte 1 names: unwrap refuses it (the
 *      OAEP / RFC 5649 integrity checks), and the unflipped blob unwraps to
 *      the rest;
 *   3  cp_keyrelease_key_hsm_decode of the rest; an accepted blob encodes
 *      back (kid, alg, ciphertext) to one that decodes to the same. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "confpool/keyrelease.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cp_wrap_key *priv;

static void jwk_case(const uint8_t *p, size_t n) {
        json_t *j = json_loadb((const char *) p, n, JSON_REJECT_DUPLICATES, NULL);
        cp_wrap_key *k = NULL, *k2 = NULL;
        json_t *back = NULL, *back2 = NULL;
        if (j && cp_wrap_key_from_jwk(j, &k) == 0) {
                unsigned bits = cp_wrap_key_bits(k);
                if (bits < 2048 || bits > 4096 || cp_wrap_key_is_private(k))
                        abort();
                if (cp_wrap_key_to_jwk(k, &back) < 0 || cp_wrap_key_from_jwk(back, &k2) < 0 ||
                    cp_wrap_key_to_jwk(k2, &back2) < 0 || !json_equal(back, back2))
                        abort();
                /* an accepted key is usable: the key broker wraps to it (an even modulus failed here) */
                static const uint8_t plain[32] = { 7 };
                uint8_t *w = NULL;
                size_t wl;
                if (cp_keywrap_wrap(k, CP_KEYWRAP_RSA_AES_256, plain, sizeof plain, &w, &wl) < 0)
                        abort();
                free(w);
        }
        cp_wrap_key_free(k);
        cp_wrap_key_free(k2);
        json_decref(j);
        json_decref(back);
        json_decref(back2);
}

static void unwrap_case(cp_keywrap_alg alg, const uint8_t *p, size_t n) {
        uint8_t *out = NULL;
        size_t ol = 0;
        if (cp_keywrap_unwrap(priv, alg, p, n, &out, &ol) == 0 && (ol == 0 || ol > CP_KEYWRAP_MAX_PLAIN))
                abort();
        free(out);
}

static void tamper_case(cp_keywrap_alg alg, uint8_t bit, const uint8_t *p, size_t n) {
        uint8_t *w = NULL, *out = NULL;
        size_t wl = 0, ol = 0;
        if (n == 0 || n > CP_KEYWRAP_MAX_PLAIN)
                return;
        if (cp_keywrap_wrap(priv, alg, p, n, &w, &wl) < 0)
                abort();
        if (cp_keywrap_unwrap(priv, alg, w, wl, &out, &ol) < 0 || ol != n || memcmp(out, p, n) != 0)
                abort();
        free(out);
        out = NULL;
        /* one flipped bit, in the RSA part (first 256 bytes) or the AES-KWP part */
        size_t at = ((size_t) bit * 7919u) % wl;
        w[at] ^= (uint8_t) (1u << (bit & 7));
        if (cp_keywrap_unwrap(priv, alg, w, wl, &out, &ol) == 0)
                abort();
        free(out);
        free(w);
}

static void key_hsm_case(const uint8_t *p, size_t n) {
        cp_keywrap_alg alg, alg2;
        uint8_t *w = NULL, *w2 = NULL;
        size_t wl = 0, wl2 = 0;
        char *enc = NULL;
        if (cp_keyrelease_key_hsm_decode((const char *) p, n, &alg, &w, &wl) == 0) {
                if (cp_keyrelease_key_hsm_encode("fuzz-kid", alg, w, wl, &enc) < 0 ||
                    cp_keyrelease_key_hsm_decode(enc, strlen(enc), &alg2, &w2, &wl2) < 0 || alg2 != alg ||
                    wl2 != wl || (wl && memcmp(w, w2, wl) != 0))
                        abort();
        }
        free(w);
        free(w2);
        free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (!priv && cp_wrap_key_generate(2048, &priv) < 0)
                abort();
        if (size < 2)
                return 0;
        cp_keywrap_alg alg = (cp_keywrap_alg) (1 + data[1] % 3);
        switch (data[0] % 4) {
        case 0: jwk_case(data + 1, size - 1); break;
        case 1: unwrap_case(alg, data + 2, size - 2); break;
        case 2: tamper_case(alg, data[1], data + 2, size - 2); break;
        default: key_hsm_case(data + 1, size - 1); break;
        }
        cp_error_clear();
        return 0;
}
