/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_BASIC_CODEC_H
#define CP_BASIC_CODEC_H

/* Hex, base64 (RFC 4648 section 4) and base64url (section 5).  Decoders are
 * strict: no whitespace, no mixed alphabets, canonical padding only; they
 * reject rather than repair. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/error.h"

/* Lowercase hex; out must hold 2*n+1 bytes. */
void cp_hex_encode(const uint8_t *in, size_t n, char *out);
/* Decode exactly strlen-len hex chars (either case) into out (cap bytes). */
CP_WUR int cp_hex_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *ret_len);

typedef enum cp_b64_variant {
        CP_B64_STD,          /* '+' '/' with '=' padding (required) */
        CP_B64_URL,          /* '-' '_' without padding (JOSE) */
        CP_B64_URL_PADOPT,   /* '-' '_', padding optional */
        CP_B64_ANY,          /* either of the above, alphabets not mixed: CP_B64_URL_PADOPT or, with
                              * '+' or '/', CP_B64_STD (what MAA clients send) */
} cp_b64_variant;

static inline size_t cp_b64_encoded_len(size_t n, cp_b64_variant v) {
        return v == CP_B64_STD ? 4 * ((n + 2) / 3) : (4 * n + 2) / 3;
}
static inline size_t cp_b64_decoded_max(size_t len) {
        return (len / 4) * 3 + 3;
}
/* out must hold cp_b64_encoded_len()+1 bytes; NUL-terminated.  CP_B64_URL_PADOPT
 * and CP_B64_ANY encode as CP_B64_URL. */
void cp_b64_encode(const uint8_t *in, size_t n, cp_b64_variant v, char *out);
CP_WUR int cp_b64_decode(const char *in, size_t len, cp_b64_variant v, uint8_t *out, size_t cap,
                         size_t *ret_len);

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates (U+D800..DFFF),
 * nothing above U+10FFFF, no truncated sequence; NUL bytes are refused too
 * (text handed on as C strings).  false with *ret_bad (if not NULL) the
 * offset of the first bad byte. */
bool cp_utf8_valid(const uint8_t *s, size_t n, size_t *ret_bad);

/* A duration in whole seconds: plain seconds ("3600") or Go's duration
 * syntax with h, m and s units ("8760h0m0s", "1h30m", "90s"), as
 * Kubernetes flags take it; between 1 and max.  CP_EINVAL naming what was
 * refused (fractions, other units, overflow). */
CP_WUR int cp_duration_parse(const char *s, uint64_t max, uint64_t *ret_seconds);

#endif
