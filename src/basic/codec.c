/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "basic/codec.h"

static const char hexdig[] = "0123456789abcdef";

void cp_hex_encode(const uint8_t *in, size_t n, char *out) {
        for (size_t i = 0; i < n; i++) {
                out[2 * i] = hexdig[in[i] >> 4];
                out[2 * i + 1] = hexdig[in[i] & 0xf];
        }
        out[2 * n] = '\0';
}

static int hexval(char ch) {
        if (ch >= '0' && ch <= '9')
                return ch - '0';
        if (ch >= 'a' && ch <= 'f')
                return ch - 'a' + 10;
        if (ch >= 'A' && ch <= 'F')
                return ch - 'A' + 10;
        return -1;
}

int cp_hex_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *ret_len) {
        if (len % 2 != 0)
                return CP_ERROR(CP_EFORMAT, "hex string has odd length %zu", len);
        if (len / 2 > cap)
                return CP_ERROR(CP_ETOOBIG, "hex string decodes to %zu bytes, room for %zu", len / 2, cap);
        for (size_t i = 0; i < len; i += 2) {
                int hi = hexval(in[i]), lo = hexval(in[i + 1]);
                if (hi < 0 || lo < 0)
                        return CP_ERROR(CP_EFORMAT, "invalid hex character at position %zu",
                                        hi < 0 ? i : i + 1);
                out[i / 2] = (uint8_t) (hi << 4 | lo);
        }
        if (ret_len)
                *ret_len = len / 2;
        return 0;
}

static const char b64std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void cp_b64_encode(const uint8_t *in, size_t n, cp_b64_variant v, char *out) {
        const char *a = v == CP_B64_STD ? b64std : b64url;
        size_t o = 0, i = 0;
        for (; i + 3 <= n; i += 3) {
                uint32_t w = (uint32_t) in[i] << 16 | (uint32_t) in[i + 1] << 8 | in[i + 2];
                out[o++] = a[w >> 18 & 63];
                out[o++] = a[w >> 12 & 63];
                out[o++] = a[w >> 6 & 63];
                out[o++] = a[w & 63];
        }
        if (n - i == 1) {
                uint32_t w = (uint32_t) in[i] << 16;
                out[o++] = a[w >> 18 & 63];
                out[o++] = a[w >> 12 & 63];
                if (v == CP_B64_STD) {
                        out[o++] = '=';
                        out[o++] = '=';
                }
        } else if (n - i == 2) {
                uint32_t w = (uint32_t) in[i] << 16 | (uint32_t) in[i + 1] << 8;
                out[o++] = a[w >> 18 & 63];
                out[o++] = a[w >> 12 & 63];
                out[o++] = a[w >> 6 & 63];
                if (v == CP_B64_STD)
                        out[o++] = '=';
        }
        out[o] = '\0';
}

static int b64val(char ch, cp_b64_variant v) {
        if (ch >= 'A' && ch <= 'Z')
                return ch - 'A';
        if (ch >= 'a' && ch <= 'z')
                return ch - 'a' + 26;
        if (ch >= '0' && ch <= '9')
                return ch - '0' + 52;
        if (v == CP_B64_STD) {
                if (ch == '+')
                        return 62;
                if (ch == '/')
                        return 63;
        } else {
                if (ch == '-')
                        return 62;
                if (ch == '_')
                        return 63;
        }
        return -1;
}

int cp_b64_decode(const char *in, size_t len, cp_b64_variant v, uint8_t *out, size_t cap, size_t *ret_len) {
        size_t pad = 0;
        if (v == CP_B64_STD) {
                if (len % 4 != 0)
                        return CP_ERROR(CP_EFORMAT, "base64 length %zu is not a multiple of 4", len);
        }
        if (v != CP_B64_URL) {
                while (pad < 2 && len > 0 && in[len - 1] == '=') {
                        len--;
                        pad++;
                }
                if (v == CP_B64_URL_PADOPT && pad > 0 && (len + pad) % 4 != 0)
                        return CP_ERROR(CP_EFORMAT, "base64url padding is not canonical");
        }
        if (len % 4 == 1)
                return CP_ERROR(CP_EFORMAT, "base64 input has an impossible length");
        if (v == CP_B64_STD && pad != (4 - len % 4) % 4)
                return CP_ERROR(CP_EFORMAT, "base64 padding is not canonical");
        size_t outlen = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
        if (outlen > cap)
                return CP_ERROR(CP_ETOOBIG, "base64 decodes to %zu bytes, room for %zu", outlen, cap);
        size_t o = 0;
        uint32_t acc = 0;
        size_t nacc = 0;
        for (size_t i = 0; i < len; i++) {
                int d = b64val(in[i], v);
                if (d < 0)
                        return CP_ERROR(CP_EFORMAT, "invalid base64 character at position %zu", i);
                acc = acc << 6 | (uint32_t) d;
                if (++nacc == 4) {
                        out[o++] = (uint8_t) (acc >> 16);
                        out[o++] = (uint8_t) (acc >> 8);
                        out[o++] = (uint8_t) acc;
                        acc = 0;
                        nacc = 0;
                }
        }
        if (nacc == 2) {
                if (acc & 0xf)
                        return CP_ERROR(CP_EFORMAT, "base64 has non-zero trailing bits");
                out[o++] = (uint8_t) (acc >> 4);
        } else if (nacc == 3) {
                if (acc & 0x3)
                        return CP_ERROR(CP_EFORMAT, "base64 has non-zero trailing bits");
                out[o++] = (uint8_t) (acc >> 10);
                out[o++] = (uint8_t) (acc >> 2);
        }
        if (ret_len)
                *ret_len = o;
        return 0;
}
