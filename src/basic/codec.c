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

/* Decoding table: the 6-bit value | B64_VALID, | B64_STD_ONLY for '+' '/',
 * | B64_URL_ONLY for '-' '_'; 0 for every other byte. */
#define B64_VALID 0x100u
#define B64_STD_ONLY 0x200u
#define B64_URL_ONLY 0x400u
#define V(x) (B64_VALID | (x))
static const uint16_t b64tab[256] = {
        ['A'] = V(0), ['B'] = V(1), ['C'] = V(2), ['D'] = V(3), ['E'] = V(4), ['F'] = V(5), ['G'] = V(6),
        ['H'] = V(7), ['I'] = V(8), ['J'] = V(9), ['K'] = V(10), ['L'] = V(11), ['M'] = V(12), ['N'] = V(13),
        ['O'] = V(14), ['P'] = V(15), ['Q'] = V(16), ['R'] = V(17), ['S'] = V(18), ['T'] = V(19),
        ['U'] = V(20), ['V'] = V(21), ['W'] = V(22), ['X'] = V(23), ['Y'] = V(24), ['Z'] = V(25),
        ['a'] = V(26), ['b'] = V(27), ['c'] = V(28), ['d'] = V(29), ['e'] = V(30), ['f'] = V(31),
        ['g'] = V(32), ['h'] = V(33), ['i'] = V(34), ['j'] = V(35), ['k'] = V(36), ['l'] = V(37),
        ['m'] = V(38), ['n'] = V(39), ['o'] = V(40), ['p'] = V(41), ['q'] = V(42), ['r'] = V(43),
        ['s'] = V(44), ['t'] = V(45), ['u'] = V(46), ['v'] = V(47), ['w'] = V(48), ['x'] = V(49),
        ['y'] = V(50), ['z'] = V(51), ['0'] = V(52), ['1'] = V(53), ['2'] = V(54), ['3'] = V(55),
        ['4'] = V(56), ['5'] = V(57), ['6'] = V(58), ['7'] = V(59), ['8'] = V(60), ['9'] = V(61),
        ['+'] = V(62) | B64_STD_ONLY, ['/'] = V(63) | B64_STD_ONLY, ['-'] = V(62) | B64_URL_ONLY,
        ['_'] = V(63) | B64_URL_ONLY,
};
#undef V

/* The characters variant v does not accept (B64_VALID: none at all). */
static unsigned b64_foreign(cp_b64_variant v) {
        return v == CP_B64_STD ? B64_URL_ONLY : v == CP_B64_ANY ? 0 : B64_STD_ONLY;
}

static int b64_bad_char(const char *in, size_t len, cp_b64_variant v) {
        unsigned foreign = b64_foreign(v), seen = 0;
        for (size_t i = 0; i < len; i++) {
                unsigned t = b64tab[(uint8_t) in[i]];
                seen |= t;
                if (!(t & B64_VALID) || (t & foreign) ||
                    (v == CP_B64_ANY && (seen & (B64_STD_ONLY | B64_URL_ONLY)) == (B64_STD_ONLY | B64_URL_ONLY)))
                        return CP_ERROR(CP_EFORMAT, "invalid base64 character at position %zu", i);
        }
        return CP_ERROR(CP_EINTERNAL, "base64: no invalid character found");
}

/* Four characters at a time through the table; the alphabet is checked once
 * at the end (the flags of every character seen are collected). */
int cp_b64_decode(const char *in, size_t len, cp_b64_variant v, uint8_t *out, size_t cap, size_t *ret_len) {
        const uint8_t *u = (const uint8_t *) in;
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
                if (v != CP_B64_STD && pad > 0 && (len + pad) % 4 != 0)
                        return CP_ERROR(CP_EFORMAT, "base64url padding is not canonical");
        }
        if (len % 4 == 1)
                return CP_ERROR(CP_EFORMAT, "base64 input has an impossible length");
        if (v == CP_B64_STD && pad != (4 - len % 4) % 4)
                return CP_ERROR(CP_EFORMAT, "base64 padding is not canonical");
        size_t outlen = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
        if (outlen > cap)
                return CP_ERROR(CP_ETOOBIG, "base64 decodes to %zu bytes, room for %zu", outlen, cap);
        size_t o = 0, i = 0;
        unsigned valid = B64_VALID, seen = 0;
        for (; len - i >= 4; i += 4) {
                unsigned a = b64tab[u[i]], b = b64tab[u[i + 1]], c = b64tab[u[i + 2]], d = b64tab[u[i + 3]];
                valid &= a & b & c & d;
                seen |= a | b | c | d;
                uint32_t w = (a & 63) << 18 | (b & 63) << 12 | (c & 63) << 6 | (d & 63);
                out[o++] = (uint8_t) (w >> 16);
                out[o++] = (uint8_t) (w >> 8);
                out[o++] = (uint8_t) w;
        }
        uint32_t acc = 0;
        size_t nacc = len - i;
        for (; i < len; i++) {
                unsigned t = b64tab[u[i]];
                valid &= t;
                seen |= t;
                acc = acc << 6 | (t & 63);
        }
        bool mixed = (seen & (B64_STD_ONLY | B64_URL_ONLY)) == (B64_STD_ONLY | B64_URL_ONLY);
        if (!valid || (seen & b64_foreign(v)) || (v == CP_B64_ANY && mixed))
                return b64_bad_char(in, len, v);
        /* either alphabet: standard base64 (a '+' or '/' seen) takes its padding rule */
        if (v == CP_B64_ANY && (seen & B64_STD_ONLY) && pad != (4 - len % 4) % 4)
                return CP_ERROR(CP_EFORMAT, "base64 padding is not canonical");
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

bool cp_utf8_valid(const uint8_t *s, size_t n, size_t *ret_bad) {
        size_t i = 0;
        while (i < n) {
                uint8_t c = s[i];
                size_t len;
                uint32_t cp, min;
                if (c == 0)
                        goto bad;
                if (c < 0x80) {
                        i++;
                        continue;
                }
                if ((c & 0xe0) == 0xc0)
                        len = 2, cp = c & 0x1fu, min = 0x80;
                else if ((c & 0xf0) == 0xe0)
                        len = 3, cp = c & 0x0fu, min = 0x800;
                else if ((c & 0xf8) == 0xf0)
                        len = 4, cp = c & 0x07u, min = 0x10000;
                else
                        goto bad;
                if (n - i < len)
                        goto bad;
                for (size_t k = 1; k < len; k++) {
                        if ((s[i + k] & 0xc0) != 0x80)
                                goto bad;
                        cp = (cp << 6) | (s[i + k] & 0x3fu);
                }
                if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                        goto bad;
                i += len;
        }
        return true;
bad:
        if (ret_bad)
                *ret_bad = i;
        return false;
}

int cp_duration_parse(const char *s, uint64_t max, uint64_t *ret_seconds) {
        if (!s || !*s)
                return CP_ERROR(CP_EINVAL, "empty duration");
        uint64_t total = 0;
        const char *p = s;
        bool units = false;
        while (*p) {
                if (*p < '0' || *p > '9')
                        return CP_ERROR(CP_EINVAL, "duration '%.40s': a number expected at '%.10s'", s, p);
                uint64_t n = 0;
                for (; *p >= '0' && *p <= '9'; p++) {
                        if (n > (UINT64_MAX - 9) / 10)
                                return CP_ERROR(CP_EINVAL, "duration '%.40s' is too long", s);
                        n = n * 10 + (uint64_t) (*p - '0');
                }
                uint64_t mul;
                if (*p == 'h')
                        mul = 3600;
                else if (*p == 'm' && p[1] != 's')
                        mul = 60;
                else if (*p == 's')
                        mul = 1;
                else if (*p == 0 && !units && p != s)
                        mul = 1; /* plain seconds */
                else
                        return CP_ERROR(CP_EINVAL, "duration '%.40s': only whole h, m and s units are accepted", s);
                if (*p)
                        p++;
                units = true;
                if (n > (UINT64_MAX - total) / mul)
                        return CP_ERROR(CP_EINVAL, "duration '%.40s' is too long", s);
                total += n * mul;
        }
        if (total < 1 || total > max)
                return CP_ERROR(CP_EINVAL, "duration '%.40s' must be 1 to %llu seconds", s, (unsigned long long) max);
        *ret_seconds = total;
        return 0;
}
