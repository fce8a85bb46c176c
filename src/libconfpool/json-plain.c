/* SPDX-License-Identifier: Apache-2.0 */
/* A fast path for untrusted JSON (request bodies, runtime data): builds the
 * same jansson tree that
 * json_loadb(JSON_REJECT_DUPLICATES) builds, for the plain subset of JSON
 * that attestation requests use (ASCII strings without escapes, integers,
 * true/false/null, objects and arrays at most max_depth deep).  Anything
 * outside that subset, and every error, returns NULL: the caller then runs
 * jansson itself, so accepted trees and error messages stay exactly
 * jansson's.  jansson reads byte by byte through a stream and checks UTF-8
 * per character; this scans strings with memchr-like loops and creates
 * them without re-validation. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/cursor.h"
#include "libconfpool/json-plain.h"

/* The input is read through a cp_cursor only: bytes are looked at with
 * cp_cursor_peek() (-1 past the end) and consumed with cp_cursor_advance();
 * a string is scanned within cp_cursor_view()'s bounds and taken with
 * cp_cursor_ptr(). */
typedef struct fj {
        cp_cursor c;
        unsigned depth, max_depth;
} fj;

static inline int peek(const fj *f) {
        return cp_cursor_peek(&f->c);
}

static inline void adv(fj *f) {
        cp_cursor_advance(&f->c);
}

static void ws(fj *f) {
        for (int ch = peek(f); ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t'; ch = peek(f))
                adv(f);
}

/* A string at '"': printable ASCII up to the closing quote. */
static bool str(fj *f, const char **ret, size_t *ret_len) {
        const uint8_t *p, *v0;
        size_t n = 0, rem;
        adv(f); /* '"' */
        v0 = cp_cursor_view(&f->c, &rem);
        /* eight bytes at a time while none is '"', '\\', a control byte or
         * non-ASCII (the byte loop below then decides) */
        const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
        while (rem - n >= 8) {
                uint64_t v, q, b;
                memcpy(&v, v0 + n, 8);
                q = v ^ (ones * '"');
                b = v ^ (ones * '\\');
                if (((v | ((q - ones) & ~q) | ((b - ones) & ~b) | (v - ones * 0x20)) & highs) != 0)
                        break;
                n += 8;
        }
        while (n < rem) {
                uint8_t ch = v0[n];
                if (ch == '"')
                        break;
                if (ch < 0x20 || ch >= 0x80 || ch == '\\')
                        return false;
                n++;
        }
        if (n == rem || cp_cursor_ptr(&f->c, n, &p) < 0)
                return false;
        adv(f); /* '"' */
        *ret = (const char *) p;
        *ret_len = n;
        return true;
}

static json_t *value(fj *f);

static json_t *object(fj *f) {
        json_t *o = json_object();
        if (!o)
                return NULL;
        adv(f); /* '{' */
        ws(f);
        if (peek(f) == '}') {
                adv(f);
                return o;
        }
        for (;;) {
                const char *k;
                size_t kl;
                ws(f);
                if (peek(f) != '"' || !str(f, &k, &kl))
                        goto fail;
                ws(f);
                if (peek(f) != ':')
                        goto fail;
                adv(f);
                ws(f);
                if (json_object_getn(o, k, kl))
                        goto fail; /* duplicate: jansson reports it */
                json_t *v = value(f);
                if (!v || json_object_setn_new_nocheck(o, k, kl, v) < 0)
                        goto fail;
                ws(f);
                if (peek(f) == ',') {
                        adv(f);
                        continue;
                }
                if (peek(f) == '}') {
                        adv(f);
                        return o;
                }
                goto fail;
        }
fail:
        json_decref(o);
        return NULL;
}

static json_t *array(fj *f) {
        json_t *a = json_array();
        if (!a)
                return NULL;
        adv(f); /* '[' */
        ws(f);
        if (peek(f) == ']') {
                adv(f);
                return a;
        }
        for (;;) {
                ws(f);
                json_t *v = value(f);
                if (!v || json_array_append_new(a, v) < 0)
                        goto fail;
                ws(f);
                if (peek(f) == ',') {
                        adv(f);
                        continue;
                }
                if (peek(f) == ']') {
                        adv(f);
                        return a;
                }
                goto fail;
        }
fail:
        json_decref(a);
        return NULL;
}

static bool is_alpha(int ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static bool literal(fj *f, const char *lit) {
        for (size_t i = 0; lit[i]; i++) {
                if (peek(f) != lit[i])
                        return false;
                adv(f);
        }
        /* jansson lexes a word of letters: "truex" is an error */
        return !is_alpha(peek(f));
}

static bool is_digit(int ch) {
        return ch >= '0' && ch <= '9';
}

static json_t *number(fj *f) {
        bool neg = peek(f) == '-';
        int64_t v = 0;
        size_t digits = 0;
        if (neg)
                adv(f);
        if (peek(f) == '0') {
                adv(f);
                digits = 1;
        } else
                for (; is_digit(peek(f)) && digits < 18; digits++) {
                        v = v * 10 + (peek(f) - '0');
                        adv(f);
                }
        /* reals, leading zeros, huge numbers: jansson's business */
        int ch = peek(f);
        if (digits == 0 || digits > 18 || is_digit(ch) || ch == '.' || ch == 'e' || ch == 'E')
                return NULL;
        return json_integer(neg ? -v : v);
}

static json_t *value(fj *f) {
        json_t *v;
        int ch = peek(f);
        switch (ch) {
        case '"': {
                const char *s;
                size_t n;
                return str(f, &s, &n) ? json_stringn_nocheck(s, n) : NULL;
        }
        case '{':
        case '[':
                if (++f->depth > f->max_depth)
                        return NULL;
                v = ch == '{' ? object(f) : array(f);
                f->depth--;
                return v;
        case 't':
                return literal(f, "true") ? json_true() : NULL;
        case 'f':
                return literal(f, "false") ? json_false() : NULL;
        case 'n':
                return literal(f, "null") ? json_null() : NULL;
        default:
                if (ch == '-' || is_digit(ch))
                        return number(f);
                return NULL;
        }
}

json_t *cp_json_load_plain(const void *buf, size_t len, unsigned max_depth) {
        fj f = { .c = cp_cursor_make(buf, len), .max_depth = max_depth };
        json_t *v;
        ws(&f);
        if (peek(&f) != '{')
                return NULL;
        v = value(&f);
        if (!v)
                return NULL;
        ws(&f);
        if (cp_cursor_remaining(&f.c) != 0) {
                json_decref(v);
                return NULL;
        }
        return v;
}

/* ---- serialization ----------------------------------------------------------- */

typedef struct sbuf {
        char *p;
        size_t len, cap;
        bool fail;
} sbuf;

static void put(sbuf *b, const char *s, size_t n) {
        if (b->fail)
                return;
        if (b->len + n + 1 > b->cap) {
                size_t nc = b->cap ? b->cap : 1024;
                while (nc < b->len + n + 1)
                        nc *= 2;
                char *q = realloc(b->p, nc);
                if (!q) {
                        b->fail = true;
                        return;
                }
                b->p = q;
                b->cap = nc;
        }
        memcpy(b->p + b->len, s, n);
        b->len += n;
        b->p[b->len] = '\0';
}

/* A string jansson writes verbatim between quotes (no escapes, ASCII). */
static bool plain(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) s[i];
                if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\')
                        return false;
        }
        return true;
}

static bool dump(sbuf *b, const json_t *v, unsigned depth) {
        char num[32];
        if (depth > 64)
                return false;
        switch (json_typeof(v)) {
        case JSON_OBJECT: {
                bool first = true;
                put(b, "{", 1);
                for (void *it = json_object_iter((json_t *) v); it; it = json_object_iter_next((json_t *) v, it)) {
                        const char *k = json_object_iter_key(it);
                        size_t kl = json_object_iter_key_len(it);
                        const json_t *m = json_object_iter_value(it);
                        if (!plain(k, kl))
                                return false;
                        if (!first)
                                put(b, ",", 1);
                        first = false;
                        put(b, "\"", 1);
                        put(b, k, kl);
                        put(b, "\":", 2);
                        if (!dump(b, m, depth + 1))
                                return false;
                }
                put(b, "}", 1);
                return true;
        }
        case JSON_ARRAY:
                put(b, "[", 1);
                for (size_t i = 0; i < json_array_size(v); i++) {
                        if (i)
                                put(b, ",", 1);
                        if (!dump(b, json_array_get(v, i), depth + 1))
                                return false;
                }
                put(b, "]", 1);
                return true;
        case JSON_STRING: {
                const char *s = json_string_value(v);
                size_t n = json_string_length(v);
                if (!plain(s, n))
                        return false;
                put(b, "\"", 1);
                put(b, s, n);
                put(b, "\"", 1);
                return true;
        }
        case JSON_INTEGER: {
                int n = snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
                put(b, num, (size_t) n);
                return true;
        }
        case JSON_TRUE:
                put(b, "true", 4);
                return true;
        case JSON_FALSE:
                put(b, "false", 5);
                return true;
        case JSON_NULL:
                put(b, "null", 4);
                return true;
        default:
                return false; /* reals: jansson's formatting */
        }
}

char *cp_json_dumps_plain(const json_t *v) {
        sbuf b = { 0 };
        if (json_is_object(v) && dump(&b, v, 0) && !b.fail)
                return b.p;
        free(b.p);
        return json_dumps(v, JSON_COMPACT);
}
