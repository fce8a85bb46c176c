/* SPDX-License-Identifier: Apache-2.0 */
/* LUKS2: header writer and reader, keyslots (PBKDF2 + AF splitter), and
 * AES-256-XTS (plain64) sector encryption in user space. */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/fileio.h"
#include "basic/cursor.h"
#include "basic/secure.h"
#include "confpool/luks2.h"
#include "basic/json-depth.h"
#include "ossl/ossl-util.h"

#define CSUM_OFF 448u
#define CSUM_LEN 64u
#define MAGIC_LEN 6u
static const uint8_t magic1[MAGIC_LEN] = { 'L', 'U', 'K', 'S', 0xba, 0xbe };
static const uint8_t magic2[MAGIC_LEN] = { 'S', 'K', 'U', 'L', 0xba, 0xbe };
#define DEFAULT_HDR_SIZE (16u * 1024u)
#define DEFAULT_DATA_OFFSET (16u * 1024u * 1024u)
#define KEYSLOT_OFFSET (2u * DEFAULT_HDR_SIZE)
#define MIN_ITER 1000u

static inline void cipher_ctx_freep(EVP_CIPHER_CTX **p) {
        EVP_CIPHER_CTX_free(*p);
}

/* SHA-256 of up to three concatenated parts (NULL parts skipped). */
static int sha256_3(const uint8_t *p1, size_t n1, const uint8_t *p2, size_t n2, const uint8_t *p3, size_t n3,
                    uint8_t out[32]) {
        _cleanup_evp_md_ctx_ EVP_MD_CTX *c = EVP_MD_CTX_new();
        unsigned ol = 0;
        if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 || (p1 && EVP_DigestUpdate(c, p1, n1) != 1) ||
            (p2 && EVP_DigestUpdate(c, p2, n2) != 1) || (p3 && EVP_DigestUpdate(c, p3, n3) != 1) ||
            EVP_DigestFinal_ex(c, out, &ol) != 1)
                return CP_OSSL_ERROR(CP_ECRYPTO, "SHA-256");
        return 0;
}

/* ---- XTS ------------------------------------------------------------------ */

int cp_luks2_crypt(const uint8_t key[CP_LUKS2_KEY_SIZE], uint64_t iv_sector, uint32_t sector_size, const uint8_t *in,
                   uint8_t *out, size_t len, bool encrypt) {
        uint8_t iv[16] = { 0 };
        if (sector_size < 512 || sector_size > 4096 || (sector_size & (sector_size - 1)) || len % sector_size)
                return CP_ERROR(CP_EINVAL, "length %zu is not a multiple of the %u-byte sector", len, sector_size);
        _cleanup_(cipher_ctx_freep) EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
        if (!ctx)
                return cp_error_oom();
        if (EVP_CipherInit_ex(ctx, EVP_aes_256_xts(), NULL, key, iv, encrypt ? 1 : 0) != 1)
                return CP_OSSL_ERROR(CP_ECRYPTO, "AES-256-XTS key setup");
        for (size_t off = 0; off < len; off += sector_size) {
                uint64_t s = iv_sector + (off / 512);
                int n = 0;
                cp_put_le64(iv, s);
                if (EVP_CipherInit_ex(ctx, NULL, NULL, NULL, iv, -1) != 1 ||
                    EVP_CipherUpdate(ctx, out + off, &n, in + off, (int) sector_size) != 1 || n != (int) sector_size)
                        return CP_OSSL_ERROR(CP_ECRYPTO, "AES-256-XTS sector %llu", (unsigned long long) s);
        }
        return 0;
}

/* ---- AF splitter (LUKS1 anti-forensic split, SHA-256 diffusion) ----------- */

static int diffuse(uint8_t *buf, size_t len) {
        uint8_t d[SHA256_DIGEST_LENGTH];
        size_t blocks = (len + sizeof(d) - 1) / sizeof(d);
        for (size_t i = 0; i < blocks; i++) {
                size_t off = i * sizeof(d), n = len - off < sizeof(d) ? len - off : sizeof(d);
                uint8_t be[4];
                cp_put_be32(be, (uint32_t) i);
                int r = sha256_3(be, 4, buf + off, n, NULL, 0, d);
                if (r < 0)
                        return r;
                memcpy(buf + off, d, n);
        }
        cp_wipe(d, sizeof(d));
        return 0;
}

/* out: stripes * len bytes */
static int af_split(const uint8_t *key, size_t len, uint32_t stripes, uint8_t *out) {
        uint8_t d[CP_LUKS2_KEY_SIZE] = { 0 };
        int r;
        if (RAND_bytes(out, (int) (len * (stripes - 1))) != 1)
                return CP_OSSL_ERROR(CP_ECRYPTO, "random AF stripes");
        for (uint32_t i = 0; i + 1 < stripes; i++) {
                for (size_t j = 0; j < len; j++)
                        d[j] ^= out[i * len + j];
                if ((r = diffuse(d, len)) < 0)
                        return r;
        }
        for (size_t j = 0; j < len; j++)
                out[(size_t) (stripes - 1) * len + j] = d[j] ^ key[j];
        cp_wipe(d, sizeof(d));
        return 0;
}

static int af_merge(const uint8_t *in, size_t len, uint32_t stripes, uint8_t *key) {
        uint8_t d[CP_LUKS2_KEY_SIZE] = { 0 };
        int r;
        for (uint32_t i = 0; i + 1 < stripes; i++) {
                for (size_t j = 0; j < len; j++)
                        d[j] ^= in[i * len + j];
                if ((r = diffuse(d, len)) < 0)
                        return r;
        }
        for (size_t j = 0; j < len; j++)
                key[j] = d[j] ^ in[(size_t) (stripes - 1) * len + j];
        cp_wipe(d, sizeof(d));
        return 0;
}

static const EVP_MD *md_by_name(const char *h) {
        if (!strcmp(h, "sha256"))
                return EVP_sha256();
        if (!strcmp(h, "sha512"))
                return EVP_sha512();
        if (!strcmp(h, "sha1"))
                return EVP_sha1();
        return NULL;
}

static int pbkdf2(const char *hash, const uint8_t *pass, size_t pass_len, const uint8_t *salt, size_t salt_len,
                  uint32_t iter, uint8_t *out, size_t out_len) {
        const EVP_MD *md = md_by_name(hash);
        if (!md)
                return CP_ERROR(CP_EUNSUPPORTED, "PBKDF2 hash \"%s\"", hash);
        if (PKCS5_PBKDF2_HMAC((const char *) pass, (int) pass_len, salt, (int) salt_len, (int) iter, md,
                              (int) out_len, out) != 1)
                return CP_OSSL_ERROR(CP_ECRYPTO, "PBKDF2");
        return 0;
}

/* ---- writer ----------------------------------------------------------------- */

static char *b64(const uint8_t *p, size_t n) {
        char *s = malloc(cp_b64_encoded_len(n, CP_B64_STD) + 1);
        if (s)
                cp_b64_encode(p, n, CP_B64_STD, s);
        return s;
}

static char *u64s(uint64_t v, char buf[24]) {
        snprintf(buf, 24, "%llu", (unsigned long long) v);
        return buf;
}

static int random_uuid(char out[37]) {
        uint8_t u[16];
        if (RAND_bytes(u, sizeof(u)) != 1)
                return CP_OSSL_ERROR(CP_ECRYPTO, "random UUID");
        u[6] = (uint8_t) ((u[6] & 0x0f) | 0x40);
        u[8] = (uint8_t) ((u[8] & 0x3f) | 0x80);
        snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2],
                 u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
        return 0;
}

static int write_bin_header(uint8_t *h, bool primary, uint64_t hdr_size, const char *label, const char *uuid,
                            const char *json) {
        memset(h, 0, hdr_size);
        memcpy(h, primary ? magic1 : magic2, MAGIC_LEN);
        cp_put_be16(h + 6, 2);
        cp_put_be64(h + 8, hdr_size);
        cp_put_be64(h + 16, 1); /* seqid */
        if (label)
                memcpy(h + 24, label, strlen(label));
        memcpy(h + 72, "sha256", 6);
        if (RAND_bytes(h + 104, 64) != 1)
                return CP_OSSL_ERROR(CP_ECRYPTO, "random header salt");
        memcpy(h + 168, uuid, strlen(uuid));
        cp_put_be64(h + 256, primary ? 0 : hdr_size);
        memcpy(h + CP_LUKS2_HDR_BIN, json, strlen(json));
        SHA256(h, hdr_size, h + CSUM_OFF);
        return 0;
}

int cp_luks2_format(const cp_luks2_format_options *o, const uint8_t volume_key[CP_LUKS2_KEY_SIZE],
                    const uint8_t *pass, size_t pass_len, uint8_t **ret, size_t *ret_len) {
        cp_luks2_format_options def = CP_LUKS2_FORMAT_OPTIONS_INIT;
        uint8_t ks_salt[32], dg_salt[32], digest[32], area_key[CP_LUKS2_KEY_SIZE];
        char uuid[37], n1[24], n2[24], n3[24], n4[24], n5[24];
        int r;
        if (!o)
                o = &def;
        if (o->version != CP_LUKS2_FORMAT_OPTIONS_VERSION || !volume_key || !pass || !ret || !ret_len)
                return CP_ERROR(CP_EINVAL, "bad LUKS2 format arguments");
        uint32_t iter = o->iterations ? o->iterations : 100000, diter = o->digest_iterations ? o->digest_iterations : 1000;
        uint64_t data_off = o->data_offset ? o->data_offset : DEFAULT_DATA_OFFSET;
        const uint64_t stripes = CP_LUKS2_MAX_STRIPES, split_len = stripes * CP_LUKS2_KEY_SIZE;
        const uint64_t area_size = (split_len + 4095) / 4096 * 4096;
        if (iter < MIN_ITER || diter < MIN_ITER || iter > CP_LUKS2_MAX_ITER || diter > CP_LUKS2_MAX_ITER)
                return CP_ERROR(CP_EINVAL, "PBKDF2 iterations must be %u..%u", MIN_ITER, CP_LUKS2_MAX_ITER);
        if (data_off % 4096 || data_off < KEYSLOT_OFFSET + area_size || data_off > (UINT64_C(1) << 40))
                return CP_ERROR(CP_EINVAL, "data offset %llu: a multiple of 4096 of at least %llu",
                                (unsigned long long) data_off, (unsigned long long) (KEYSLOT_OFFSET + area_size));
        if (o->label && strlen(o->label) > 47)
                return CP_ERROR(CP_EINVAL, "label longer than 47 bytes");
        if (o->uuid) {
                if (strlen(o->uuid) != 36)
                        return CP_ERROR(CP_EINVAL, "UUID must have 36 characters");
                memcpy(uuid, o->uuid, 37);
        } else if ((r = random_uuid(uuid)) < 0)
                return r;
        if (RAND_bytes(ks_salt, sizeof(ks_salt)) != 1 || RAND_bytes(dg_salt, sizeof(dg_salt)) != 1)
                return CP_OSSL_ERROR(CP_ECRYPTO, "random salts");
        if ((r = pbkdf2("sha256", volume_key, CP_LUKS2_KEY_SIZE, dg_salt, sizeof(dg_salt), diter, digest,
                        sizeof(digest))) < 0)
                return r;
        _cleanup_free_ char *s_ks = b64(ks_salt, sizeof(ks_salt)), *s_dg = b64(dg_salt, sizeof(dg_salt)),
                            *s_d = b64(digest, sizeof(digest));
        if (!s_ks || !s_dg || !s_d)
                return cp_error_oom();
        _cleanup_(json_decrefp) json_t *j = json_pack(
                "{s:{s:{s:s,s:i,s:{s:s,s:I,s:s},s:{s:s,s:s,s:s,s:s,s:i},s:{s:s,s:s,s:I,s:s}}},"
                "s:{},"
                "s:{s:{s:s,s:s,s:s,s:s,s:s,s:i}},"
                "s:{s:{s:s,s:[s],s:[s],s:s,s:I,s:s,s:s}},"
                "s:{s:s,s:s}}",
                "keyslots", "0", "type", "luks2", "key_size", (int) CP_LUKS2_KEY_SIZE, "af", "type", "luks1", "stripes",
                (json_int_t) stripes, "hash", "sha256", "area", "type", "raw", "offset", u64s(KEYSLOT_OFFSET, n1),
                "size", u64s(area_size, n2), "encryption", "aes-xts-plain64", "key_size", (int) CP_LUKS2_KEY_SIZE,
                "kdf", "type", "pbkdf2", "hash", "sha256", "iterations", (json_int_t) iter, "salt", s_ks,
                "tokens",
                "segments", "0", "type", "crypt", "offset", u64s(data_off, n3), "size", "dynamic", "iv_tweak", "0",
                "encryption", "aes-xts-plain64", "sector_size", (int) CP_LUKS2_SECTOR,
                "digests", "0", "type", "pbkdf2", "keyslots", "0", "segments", "0", "hash", "sha256", "iterations",
                (json_int_t) diter, "salt", s_dg, "digest", s_d,
                "config", "json_size", u64s(DEFAULT_HDR_SIZE - CP_LUKS2_HDR_BIN, n4), "keyslots_size",
                u64s(data_off - KEYSLOT_OFFSET, n5));
        if (!j)
                return cp_error_oom();
        _cleanup_free_ char *js = json_dumps(j, JSON_COMPACT);
        if (!js)
                return cp_error_oom();
        if (strlen(js) >= DEFAULT_HDR_SIZE - CP_LUKS2_HDR_BIN)
                return CP_ERROR(CP_EINTERNAL, "JSON area overflow");

        size_t total = KEYSLOT_OFFSET + area_size;
        _cleanup_free_ uint8_t *out = calloc(1, total);
        uint8_t *split = calloc(1, area_size);
        if (!out || !split) {
                free(split);
                return cp_error_oom();
        }
        if ((r = write_bin_header(out, true, DEFAULT_HDR_SIZE, o->label, uuid, js)) < 0 ||
            (r = write_bin_header(out + DEFAULT_HDR_SIZE, false, DEFAULT_HDR_SIZE, o->label, uuid, js)) < 0 ||
            (r = af_split(volume_key, CP_LUKS2_KEY_SIZE, (uint32_t) stripes, split)) < 0 ||
            (r = pbkdf2("sha256", pass, pass_len, ks_salt, sizeof(ks_salt), iter, area_key, sizeof(area_key))) < 0 ||
            (r = cp_luks2_crypt(area_key, 0, CP_LUKS2_SECTOR, split, out + KEYSLOT_OFFSET, area_size, true)) < 0) {
                cp_wipe(split, area_size);
                free(split);
                cp_wipe(area_key, sizeof(area_key));
                return r;
        }
        cp_wipe(split, area_size);
        free(split);
        cp_wipe(area_key, sizeof(area_key));
        *ret = TAKE_PTR(out);
        *ret_len = total;
        return 0;
}

/* ---- reader ----------------------------------------------------------------- */

static bool valid_hdr_size(uint64_t s) {
        for (uint64_t v = 16384; v <= CP_LUKS2_MAX_HDR_SIZE; v *= 2)
                if (s == v)
                        return true;
        return false;
}

/* A NUL-terminated fixed-size text field (bytes after the NUL must be zero). */
static int text_field(cp_cursor *c, size_t n, char *out, const char *what) {
        const uint8_t *p;
        int r;
        if ((r = cp_cursor_ptr(c, n, &p)) < 0)
                return r;
        size_t l = strnlen((const char *) p, n);
        if (l == n)
                return CP_ERROR(CP_EFORMAT, "LUKS2 header %s is not NUL-terminated", what);
        for (size_t i = l; i < n; i++)
                if (p[i])
                        return CP_ERROR(CP_EMBZ, "LUKS2 header %s has bytes after its NUL", what);
        memcpy(out, p, l + 1);
        return 0;
}

typedef struct bin_hdr {
        uint64_t hdr_size, seqid;
        char label[49], uuid[41], subsystem[49], csum_alg[33];
        const uint8_t *json;
        size_t json_len; /* up to the first NUL */
} bin_hdr;

static int parse_bin(const cp_cursor *whole, size_t at, bool primary, bin_hdr *h) {
        cp_cursor c;
        const uint8_t *mag, *salt, *csum, *all;
        uint16_t ver;
        uint64_t hdr_off;
        int r;
        if ((r = cp_cursor_window(whole, at, CP_LUKS2_HDR_BIN, &c)) < 0)
                return CP_ERROR(CP_ETRUNC, "LUKS2 %s header truncated", primary ? "primary" : "secondary");
        if ((r = cp_cursor_ptr(&c, MAGIC_LEN, &mag)) < 0)
                return r;
        if (memcmp(mag, primary ? magic1 : magic2, MAGIC_LEN))
                return CP_ERROR(CP_EFORMAT, "no LUKS2 %s header magic", primary ? "primary" : "secondary");
        if ((r = cp_cursor_be16(&c, &ver)) < 0)
                return r;
        if (ver != 2)
                return CP_ERROR(CP_EVERSION, "LUKS version %u (only 2)", ver);
        if ((r = cp_cursor_be64(&c, &h->hdr_size)) < 0 || (r = cp_cursor_be64(&c, &h->seqid)) < 0 ||
            (r = text_field(&c, 48, h->label, "label")) < 0 ||
            (r = text_field(&c, 32, h->csum_alg, "checksum_alg")) < 0 || (r = cp_cursor_ptr(&c, 64, &salt)) < 0 ||
            (r = text_field(&c, 40, h->uuid, "uuid")) < 0 ||
            (r = text_field(&c, 48, h->subsystem, "subsystem")) < 0 || (r = cp_cursor_be64(&c, &hdr_off)) < 0 ||
            (r = cp_cursor_skip(&c, 184)) < 0 || (r = cp_cursor_ptr(&c, CSUM_LEN, &csum)) < 0)
                return r;
        (void) salt;
        if (!valid_hdr_size(h->hdr_size))
                return CP_ERROR(CP_EFORMAT, "LUKS2 hdr_size %llu is not one of 16 KiB..4 MiB (powers of two)",
                                (unsigned long long) h->hdr_size);
        if (hdr_off != (primary ? 0 : h->hdr_size) || hdr_off != at)
                return CP_ERROR(CP_EFORMAT, "LUKS2 hdr_offset %llu does not match the header position",
                                (unsigned long long) hdr_off);
        if (strcmp(h->csum_alg, "sha256"))
                return CP_ERROR(CP_EUNSUPPORTED, "LUKS2 checksum algorithm \"%.32s\" (only sha256)", h->csum_alg);
        cp_cursor w, tail;
        const uint8_t *rest;
        size_t rest_len = (size_t) h->hdr_size - CSUM_OFF - CSUM_LEN;
        if ((r = cp_cursor_window(whole, at, (size_t) h->hdr_size, &w)) < 0 ||
            (r = cp_cursor_ptr(&w, CSUM_OFF, &all)) < 0 ||
            (r = cp_cursor_window(whole, at + CSUM_OFF + CSUM_LEN, rest_len, &tail)) < 0 ||
            (r = cp_cursor_ptr(&tail, rest_len, &rest)) < 0)
                return CP_ERROR(CP_ETRUNC, "LUKS2 %s header area (%llu bytes) truncated", primary ? "primary" : "secondary",
                                (unsigned long long) h->hdr_size);
        /* SHA-256 over header + JSON area with the checksum field zeroed */
        static const uint8_t zero[CSUM_LEN];
        uint8_t d[32];
        if ((r = sha256_3(all, CSUM_OFF, zero, CSUM_LEN, rest, rest_len, d)) < 0)
                return r;
        if (!cp_ct_eq(d, csum, 32))
                return CP_ERROR(CP_ESIG, "LUKS2 %s header checksum mismatch", primary ? "primary" : "secondary");
        cp_cursor cc = cp_cursor_make(csum, CSUM_LEN);
        const uint8_t *csum_tail;
        if ((r = cp_cursor_skip(&cc, 32)) < 0 || (r = cp_cursor_ptr(&cc, CSUM_LEN - 32, &csum_tail)) < 0)
                return r;
        if (!cp_ct_is_zero(csum_tail, CSUM_LEN - 32))
                return CP_ERROR(CP_EMBZ, "LUKS2 checksum field has bytes after the SHA-256 digest");
        cp_cursor jc;
        const uint8_t *ja;
        size_t jlen = (size_t) h->hdr_size - CP_LUKS2_HDR_BIN;
        if ((r = cp_cursor_window(whole, at + CP_LUKS2_HDR_BIN, jlen, &jc)) < 0 || (r = cp_cursor_ptr(&jc, jlen, &ja)) < 0)
                return r;
        size_t n = strnlen((const char *) ja, jlen);
        if (n == jlen)
                return CP_ERROR(CP_EFORMAT, "LUKS2 JSON area is not NUL-terminated");
        if (n == 0)
                return CP_ERROR(CP_EFORMAT, "LUKS2 JSON area is empty");
        cp_cursor pad;
        const uint8_t *pad_p;
        if ((r = cp_cursor_window(&jc, n, jlen - n, &pad)) < 0 || (r = cp_cursor_ptr(&pad, jlen - n, &pad_p)) < 0)
                return r;
        if (!cp_ct_is_zero(pad_p, jlen - n))
                return CP_ERROR(CP_EMBZ, "LUKS2 JSON area has bytes after the JSON text");
        h->json = ja;
        h->json_len = n;
        return 0;
}

/* Strict decimal u64 string. */
static int get_u64s(const json_t *o, const char *name, const char *where, uint64_t *ret) {
        const json_t *v = json_object_get(o, name);
        const char *s = json_string_value(v);
        uint64_t x = 0;
        if (!s)
                return CP_ERROR(CP_EFORMAT, "LUKS2 %s.%s: missing or not a string", where, name);
        size_t n = strlen(s);
        if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
                return CP_ERROR(CP_EFORMAT, "LUKS2 %s.%s: not a decimal number", where, name);
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9' || x > (UINT64_MAX - (uint64_t) (s[i] - '0')) / 10)
                        return CP_ERROR(CP_EFORMAT, "LUKS2 %s.%s: not a decimal number", where, name);
                x = x * 10 + (uint64_t) (s[i] - '0');
        }
        *ret = x;
        return 0;
}

static int get_uint(const json_t *o, const char *name, const char *where, uint32_t min, uint32_t max, uint32_t *ret) {
        const json_t *v = json_object_get(o, name);
        if (!json_is_integer(v) || json_integer_value(v) < (json_int_t) min || json_integer_value(v) > (json_int_t) max)
                return CP_ERROR(CP_EFORMAT, "LUKS2 %s.%s: missing or not an integer in %u..%u", where, name, min, max);
        *ret = (uint32_t) json_integer_value(v);
        return 0;
}

static int get_str(const json_t *o, const char *name, const char *where, char *out, size_t cap) {
        const char *s = json_string_value(json_object_get(o, name));
        if (!s)
                return CP_ERROR(CP_EFORMAT, "LUKS2 %s.%s: missing or not a string", where, name);
        if (strlen(s) >= cap)
                return CP_ERROR(CP_EFORMAT, "LUKS2 %s.%s: too long", where, name);
        memcpy(out, s, strlen(s) + 1);
        return 0;
}

static int get_b64(const json_t *o, const char *name, const char *where, uint8_t *out, size_t cap, size_t *ret_len) {
        const char *s = json_string_value(json_object_get(o, name));
        if (!s)
                return CP_ERROR(CP_EFORMAT, "LUKS2 %s.%s: missing or not a string", where, name);
        if (strlen(s) > cp_b64_encoded_len(cap, CP_B64_STD))
                return CP_ERROR(CP_EFORMAT, "LUKS2 %s.%s: longer than %zu bytes", where, name, cap);
        int r = cp_b64_decode(s, strlen(s), CP_B64_STD, out, cap, ret_len);
        if (r < 0)
                return cp_error_wrap("LUKS2 %s.%s: ", where, name);
        return 0;
}

/* Object members named by decimal ids 0..max-1. */
static int get_id(const char *key, unsigned max, const char *where, unsigned *ret) {
        size_t n = strlen(key);
        unsigned v = 0;
        if (n == 0 || n > 2 || (n > 1 && key[0] == '0'))
                return CP_ERROR(CP_EFORMAT, "LUKS2 %s: id \"%.8s\" is not a number", where, key);
        for (size_t i = 0; i < n; i++) {
                if (key[i] < '0' || key[i] > '9')
                        return CP_ERROR(CP_EFORMAT, "LUKS2 %s: id \"%.8s\" is not a number", where, key);
                v = v * 10 + (unsigned) (key[i] - '0');
        }
        if (v >= max)
                return CP_ERROR(CP_EFORMAT, "LUKS2 %s: id %u out of range", where, v);
        *ret = v;
        return 0;
}

static int parse_keyslot(const json_t *k, unsigned id, const cp_luks2_info *info, cp_luks2_keyslot *ks) {
        char where[32], type[16];
        int r;
        snprintf(where, sizeof(where), "keyslots.%u", id);
        if (!json_is_object(k))
                return CP_ERROR(CP_EFORMAT, "LUKS2 %s: not an object", where);
        ks->id = id;
        if ((r = get_str(k, "type", where, type, sizeof(type))) < 0)
                return r;
        if (strcmp(type, "luks2"))
                return CP_ERROR(CP_EUNSUPPORTED, "LUKS2 %s: keyslot type \"%s\"", where, type);
        const json_t *af = json_object_get(k, "af"), *area = json_object_get(k, "area"), *kdf = json_object_get(k, "kdf");
        if (!json_is_object(af) || !json_is_object(area) || !json_is_object(kdf))
                return CP_ERROR(CP_EFORMAT, "LUKS2 %s: af, area and kdf must be objects", where);
        if ((r = get_uint(k, "key_size", where, 1, CP_LUKS2_KEY_SIZE, &ks->key_size)) < 0 ||
            (r = get_str(af, "type", where, type, sizeof(type))) < 0)
                return r;
        if (strcmp(type, "luks1"))
                return CP_ERROR(CP_EUNSUPPORTED, "LUKS2 %s.af: type \"%s\"", where, type);
        if ((r = get_uint(af, "stripes", where, 1, CP_LUKS2_MAX_STRIPES, &ks->stripes)) < 0 ||
            (r = get_str(af, "hash", where, ks->af_hash, sizeof(ks->af_hash))) < 0 ||
            (r = get_str(area, "type", where, type, sizeof(type))) < 0)
                return r;
        if (strcmp(type, "raw"))
                return CP_ERROR(CP_EUNSUPPORTED, "LUKS2 %s.area: type \"%s\"", where, type);
        if ((r = get_u64s(area, "offset", where, &ks->area_offset)) < 0 ||
            (r = get_u64s(area, "size", where, &ks->area_size)) < 0 ||
            (r = get_str(area, "encryption", where, ks->area_cipher, sizeof(ks->area_cipher))) < 0 ||
            (r = get_uint(area, "key_size", where, 1, CP_LUKS2_KEY_SIZE, &ks->area_key_size)) < 0)
                return r;
        uint64_t lo = 2 * info->hdr_size, hi = lo + info->keyslots_size;
        if (ks->area_offset < lo || ks->area_size > hi - lo || ks->area_offset > hi - ks->area_size ||
            ks->area_offset % 4096)
                return CP_ERROR(CP_EFORMAT, "LUKS2 %s.area: offset/size outside the keyslots area", where);
        if (ks->area_size < (uint64_t) ks->stripes * ks->key_size)
                return CP_ERROR(CP_EFORMAT, "LUKS2 %s.area: smaller than key_size * stripes", where);
        if ((r = get_str(kdf, "type", where, type, sizeof(type))) < 0 ||
            (r = get_b64(kdf, "salt", where, ks->salt, sizeof(ks->salt), &ks->salt_len)) < 0)
                return r;
        if (!strcmp(type, "pbkdf2")) {
                ks->kdf = CP_LUKS2_KDF_PBKDF2;
                if ((r = get_str(kdf, "hash", where, ks->kdf_hash, sizeof(ks->kdf_hash))) < 0 ||
                    (r = get_uint(kdf, "iterations", where, 1, CP_LUKS2_MAX_ITER, &ks->iterations)) < 0)
                        return r;
        } else if (!strcmp(type, "argon2i") || !strcmp(type, "argon2id")) {
                ks->kdf = type[6] == 'd' ? CP_LUKS2_KDF_ARGON2ID : CP_LUKS2_KDF_ARGON2I;
                if ((r = get_uint(kdf, "time", where, 1, CP_LUKS2_MAX_ITER, &ks->iterations)) < 0 ||
                    (r = get_uint(kdf, "memory", where, 1, 1u << 30, &ks->memory_kib)) < 0 ||
                    (r = get_uint(kdf, "cpus", where, 1, 1024, &ks->cpus)) < 0)
                        return r;
        } else
                return CP_ERROR(CP_EUNSUPPORTED, "LUKS2 %s.kdf: type \"%s\"", where, type);
        return 0;
}

static int parse_json(const bin_hdr *h, cp_luks2_info *info) {
        json_error_t jerr;
        const char *key;
        json_t *v;
        unsigned id;
        int r;
        if (!cp_json_depth_within(h->json, h->json_len, 8, NULL))
                return CP_ERROR(CP_EFORMAT, "LUKS2 JSON nested too deeply");
        _cleanup_(json_decrefp) json_t *j = json_loadb((const char *) h->json, h->json_len, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(j))
                return CP_ERROR(CP_EFORMAT, "LUKS2 JSON area: %s", j ? "not an object" : jerr.text);
        json_t *keyslots = json_object_get(j, "keyslots"), *segments = json_object_get(j, "segments"),
               *digests = json_object_get(j, "digests"), *config = json_object_get(j, "config"),
               *tokens = json_object_get(j, "tokens");
        if (!json_is_object(keyslots) || !json_is_object(segments) || !json_is_object(digests) ||
            !json_is_object(config) || !json_is_object(tokens))
                return CP_ERROR(CP_EFORMAT, "LUKS2 JSON: keyslots, segments, digests, config and tokens must be objects");
        /* config */
        uint64_t json_size;
        if ((r = get_u64s(config, "json_size", "config", &json_size)) < 0 ||
            (r = get_u64s(config, "keyslots_size", "config", &info->keyslots_size)) < 0)
                return r;
        if (json_size != h->hdr_size - CP_LUKS2_HDR_BIN)
                return CP_ERROR(CP_EFORMAT, "LUKS2 config.json_size %llu does not match hdr_size",
                                (unsigned long long) json_size);
        if (info->keyslots_size % 4096 || info->keyslots_size > (UINT64_C(1) << 40))
                return CP_ERROR(CP_EFORMAT, "LUKS2 config.keyslots_size is not 4096-aligned or too big");
        const json_t *req = json_object_get(json_object_get(config, "requirements"), "mandatory");
        if (json_is_array(req) && json_array_size(req) > 0)
                return CP_ERROR(CP_EUNSUPPORTED, "LUKS2 config.requirements.mandatory is not empty (e.g. reencryption)");
        /* segments: exactly one, id 0 */
        if (json_object_size(segments) != 1 || !json_is_object(json_object_get(segments, "0")))
                return CP_ERROR(CP_EUNSUPPORTED, "LUKS2 segments: exactly one segment \"0\" is supported");
        const json_t *seg = json_object_get(segments, "0");
        char type[16];
        if ((r = get_str(seg, "type", "segments.0", type, sizeof(type))) < 0)
                return r;
        if (strcmp(type, "crypt"))
                return CP_ERROR(CP_EUNSUPPORTED, "LUKS2 segments.0: type \"%s\"", type);
        if (json_object_get(seg, "integrity"))
                return CP_ERROR(CP_EUNSUPPORTED, "LUKS2 segments.0: integrity (dm-integrity) is not supported");
        if ((r = get_u64s(seg, "offset", "segments.0", &info->data_offset)) < 0 ||
            (r = get_u64s(seg, "iv_tweak", "segments.0", &info->iv_tweak)) < 0 ||
            (r = get_str(seg, "encryption", "segments.0", info->cipher, sizeof(info->cipher))) < 0 ||
            (r = get_uint(seg, "sector_size", "segments.0", 512, 4096, &info->sector_size)) < 0)
                return r;
        if (info->sector_size & (info->sector_size - 1))
                return CP_ERROR(CP_EFORMAT, "LUKS2 segments.0.sector_size %u is not a power of two", info->sector_size);
        const char *sz = json_string_value(json_object_get(seg, "size"));
        if (sz && !strcmp(sz, "dynamic"))
                info->data_size_dynamic = true;
        else if ((r = get_u64s(seg, "size", "segments.0", &info->data_size)) < 0)
                return r;
        if (info->data_offset % 4096 || info->data_offset < 2 * info->hdr_size + info->keyslots_size)
                return CP_ERROR(CP_EFORMAT, "LUKS2 segments.0.offset overlaps the metadata or is unaligned");
        /* keyslots */
        json_object_foreach(keyslots, key, v) {
                if ((r = get_id(key, CP_LUKS2_MAX_KEYSLOTS, "keyslots", &id)) < 0)
                        return r;
                if ((r = parse_keyslot(v, id, info, &info->keyslots[info->n_keyslots])) < 0)
                        return r;
                info->n_keyslots++;
        }
        /* digests: exactly one pbkdf2 digest for segment 0 */
        if (json_object_size(digests) != 1)
                return CP_ERROR(CP_EUNSUPPORTED, "LUKS2 digests: exactly one digest is supported");
        json_object_foreach(digests, key, v) {
                const json_t *arr, *e;
                size_t i;
                bool seg0 = false;
                if ((r = get_id(key, CP_LUKS2_MAX_KEYSLOTS, "digests", &id)) < 0)
                        return r;
                if (!json_is_object(v) || (r = get_str(v, "type", "digests", type, sizeof(type))) < 0)
                        return json_is_object(v) ? r : CP_ERROR(CP_EFORMAT, "LUKS2 digests.%s: not an object", key);
                if (strcmp(type, "pbkdf2"))
                        return CP_ERROR(CP_EUNSUPPORTED, "LUKS2 digest type \"%s\"", type);
                if ((r = get_str(v, "hash", "digests", info->digest_hash, sizeof(info->digest_hash))) < 0 ||
                    (r = get_uint(v, "iterations", "digests", 1, CP_LUKS2_MAX_ITER, &info->digest_iterations)) < 0 ||
                    (r = get_b64(v, "salt", "digests", info->digest_salt, sizeof(info->digest_salt),
                                 &info->digest_salt_len)) < 0 ||
                    (r = get_b64(v, "digest", "digests", info->digest, sizeof(info->digest), &info->digest_len)) < 0)
                        return r;
                if (info->digest_len == 0)
                        return CP_ERROR(CP_EFORMAT, "LUKS2 digest is empty");
                arr = json_object_get(v, "segments");
                if (!json_is_array(arr))
                        return CP_ERROR(CP_EFORMAT, "LUKS2 digests.%s.segments: not an array", key);
                json_array_foreach(arr, i, e) if (json_is_string(e) && !strcmp(json_string_value(e), "0")) seg0 = true;
                if (!seg0)
                        return CP_ERROR(CP_EFORMAT, "LUKS2 digest does not cover segment 0");
                arr = json_object_get(v, "keyslots");
                if (!json_is_array(arr))
                        return CP_ERROR(CP_EFORMAT, "LUKS2 digests.%s.keyslots: not an array", key);
                json_array_foreach(arr, i, e) {
                        unsigned ks;
                        if (!json_is_string(e) || (r = get_id(json_string_value(e), CP_LUKS2_MAX_KEYSLOTS,
                                                              "digests.keyslots", &ks)) < 0)
                                return CP_ERROR(CP_EFORMAT, "LUKS2 digests.%s.keyslots: bad keyslot id", key);
                        info->digest_keyslots |= 1u << ks;
                }
        }
        return 0;
}

int cp_luks2_parse(const uint8_t *buf, size_t len, cp_luks2_info *ret) {
        cp_cursor whole = cp_cursor_make(buf, len);
        bin_hdr h1 = { 0 }, h2 = { 0 };
        cp_luks2_info *info;
        int r1, r2 = -1, r;
        if (!buf || !ret)
                return CP_ERROR(CP_EINVAL, "no buffer");
        r1 = parse_bin(&whole, 0, true, &h1);
        if (r1 == 0)
                r2 = parse_bin(&whole, (size_t) h1.hdr_size, false, &h2);
        else {
                /* primary unusable: look for the secondary at every legal offset */
                int first = r1;
                cp_error saved = *cp_error_last();
                for (uint64_t off = 16384; off <= CP_LUKS2_MAX_HDR_SIZE && off < len; off *= 2)
                        if ((r2 = parse_bin(&whole, (size_t) off, false, &h2)) == 0)
                                break;
                if (r2 < 0) {
                        cp_error_set_at(saved.file, saved.line, saved.code, "%s", saved.message);
                        return first;
                }
        }
        const bin_hdr *use = r1 == 0 ? &h1 : &h2;
        if (r1 == 0 && r2 == 0 && h2.seqid > h1.seqid)
                use = &h2;
        info = calloc(1, sizeof(*info));
        if (!info)
                return cp_error_oom();
        info->hdr_size = use->hdr_size;
        info->seqid = use->seqid;
        info->from_secondary = use == &h2;
        memcpy(info->uuid, use->uuid, sizeof(info->uuid));
        memcpy(info->label, use->label, sizeof(info->label));
        memcpy(info->subsystem, use->subsystem, sizeof(info->subsystem));
        if ((r = parse_json(use, info)) < 0) {
                free(info);
                return r;
        }
        *ret = *info;
        free(info);
        return 0;
}

int cp_luks2_check_volume_key(const cp_luks2_info *info, const uint8_t *vk, size_t vk_len) {
        uint8_t d[64];
        int r;
        if (!info || !vk || info->digest_len > sizeof(d))
                return CP_ERROR(CP_EINVAL, "bad arguments");
        if ((r = pbkdf2(info->digest_hash, vk, vk_len, info->digest_salt, info->digest_salt_len, info->digest_iterations,
                        d, info->digest_len)) < 0)
                return r;
        bool ok = cp_ct_eq(d, info->digest, info->digest_len);
        cp_wipe(d, sizeof(d));
        return ok ? 0 : CP_ERROR(CP_ESIG, "volume key does not match the LUKS2 digest");
}

static int open_keyslot(const cp_luks2_info *info, const cp_luks2_keyslot *ks, const cp_cursor *whole,
                        const uint8_t *pass, size_t pass_len, uint8_t vk[CP_LUKS2_KEY_SIZE]) {
        uint8_t area_key[CP_LUKS2_KEY_SIZE];
        cp_cursor c;
        const uint8_t *enc;
        int r;
        if (strcmp(ks->area_cipher, "aes-xts-plain64") || ks->area_key_size != CP_LUKS2_KEY_SIZE)
                return CP_ERROR(CP_EUNSUPPORTED, "keyslot %u: area cipher %s/%u", ks->id, ks->area_cipher,
                                ks->area_key_size);
        if (strcmp(ks->af_hash, "sha256"))
                return CP_ERROR(CP_EUNSUPPORTED, "keyslot %u: AF hash %s (only sha256)", ks->id, ks->af_hash);
        size_t split_len = (size_t) ks->stripes * ks->key_size, enc_len = (split_len + 511) / 512 * 512;
        if (ks->area_offset > SIZE_MAX || (r = cp_cursor_window(whole, (size_t) ks->area_offset, enc_len, &c)) < 0 ||
            (r = cp_cursor_ptr(&c, enc_len, &enc)) < 0)
                return CP_ERROR(CP_ETRUNC, "keyslot %u area beyond the end of the image", ks->id);
        (void) info;
        uint8_t *split = malloc(enc_len);
        if (!split)
                return cp_error_oom();
        if ((r = pbkdf2(ks->kdf_hash, pass, pass_len, ks->salt, ks->salt_len, ks->iterations, area_key,
                        sizeof(area_key))) >= 0 &&
            (r = cp_luks2_crypt(area_key, 0, 512, enc, split, enc_len, false)) >= 0)
                r = af_merge(split, ks->key_size, ks->stripes, vk);
        cp_wipe(area_key, sizeof(area_key));
        cp_wipe(split, enc_len);
        free(split);
        return r;
}

int cp_luks2_unlock(const cp_luks2_info *info, const uint8_t *buf, size_t len, const uint8_t *pass, size_t pass_len,
                    uint8_t ret_volume_key[CP_LUKS2_KEY_SIZE], unsigned *ret_keyslot) {
        cp_cursor whole = cp_cursor_make(buf, len);
        uint8_t vk[CP_LUKS2_KEY_SIZE];
        bool tried = false, argon = false;
        int r;
        if (!info || !buf || !pass || !ret_volume_key)
                return CP_ERROR(CP_EINVAL, "bad arguments");
        for (size_t i = 0; i < info->n_keyslots; i++) {
                const cp_luks2_keyslot *ks = &info->keyslots[i];
                if (!(info->digest_keyslots & (1u << ks->id)))
                        continue;
                if (ks->kdf != CP_LUKS2_KDF_PBKDF2) {
                        argon = true;
                        continue;
                }
                tried = true;
                if ((r = open_keyslot(info, ks, &whole, pass, pass_len, vk)) < 0) {
                        cp_wipe(vk, sizeof(vk));
                        if (r == CP_ETRUNC || r == CP_EUNSUPPORTED)
                                return r;
                        continue;
                }
                if (cp_luks2_check_volume_key(info, vk, ks->key_size) == 0) {
                        memcpy(ret_volume_key, vk, ks->key_size);
                        cp_wipe(vk, sizeof(vk));
                        if (ret_keyslot)
                                *ret_keyslot = ks->id;
                        return 0;
                }
                cp_wipe(vk, sizeof(vk));
        }
        if (!tried && argon)
                return CP_ERROR(CP_EUNSUPPORTED, "only argon2 keyslots (not available in OpenSSL 3.0)");
        return CP_ERROR(CP_ESIG, "no keyslot opens with this passphrase");
}

/* ---- image files ----------------------------------------------------------------- */

struct cp_luks2_volume {
        int fd;
        bool writable;
        cp_luks2_info info;
        uint8_t key[CP_LUKS2_KEY_SIZE];
        uint64_t size;
};

static int pread_all(int fd, void *buf, size_t n, uint64_t off) {
        uint8_t *p = buf;
        while (n) {
                ssize_t k = pread(fd, p, n, (off_t) off);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return CP_ERROR(CP_EIO, "read: %s", strerror(errno));
                if (k == 0)
                        return CP_ERROR(CP_ETRUNC, "image ends early");
                p += k;
                n -= (size_t) k;
                off += (uint64_t) k;
        }
        return 0;
}

#define CHUNK (1024u * 1024u)

int cp_luks2_encrypt_image(const char *in_path, const char *out_path, const cp_luks2_format_options *o,
                           const uint8_t *pass, size_t pass_len, uint8_t ret_volume_key[CP_LUKS2_KEY_SIZE]) {
        cp_luks2_format_options def = CP_LUKS2_FORMAT_OPTIONS_INIT;
        uint8_t vk[CP_LUKS2_KEY_SIZE];
        _cleanup_free_ uint8_t *meta = NULL, *buf = NULL, *enc = NULL;
        size_t meta_len;
        int r, in = -1, out = -1;
        if (!o)
                o = &def;
        if (RAND_bytes(vk, sizeof(vk)) != 1)
                return CP_OSSL_ERROR(CP_ECRYPTO, "random volume key");
        uint64_t data_off = o->data_offset ? o->data_offset : DEFAULT_DATA_OFFSET;
        if ((r = cp_luks2_format(o, vk, pass, pass_len, &meta, &meta_len)) < 0)
                goto out;
        buf = malloc(CHUNK);
        enc = malloc(CHUNK);
        if (!buf || !enc) {
                r = cp_error_oom();
                goto out;
        }
        in = open(in_path, O_RDONLY | O_CLOEXEC);
        if (in < 0) {
                r = CP_ERROR(CP_EIO, "open %s: %s", in_path, strerror(errno));
                goto out;
        }
        out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (out < 0) {
                r = CP_ERROR(CP_EIO, "create %s: %s", out_path, strerror(errno));
                goto out;
        }
        if ((r = cp_pwrite_full(out, meta, meta_len, 0, "write")) < 0)
                goto out;
        char what[CP_ERROR_MESSAGE_MAX];
        snprintf(what, sizeof what, "read %s", in_path);
        uint64_t pos = 0;
        for (;;) {
                /* the chunk is filled fully unless at end of file */
                size_t n;
                if ((r = cp_read_full(in, buf, CHUNK, what, &n)) < 0)
                        goto out;
                if (n == 0)
                        break;
                size_t padded = (n + 511) / 512 * 512;
                memset(buf + n, 0, padded - n);
                if ((r = cp_luks2_crypt(vk, pos / 512, 512, buf, enc, padded, true)) < 0 ||
                    (r = cp_pwrite_full(out, enc, padded, data_off + pos, "write")) < 0)
                        goto out;
                pos += padded;
                if (n < CHUNK)
                        break;
        }
        if (ftruncate(out, (off_t) (data_off + pos)) < 0 || fsync(out) < 0) {
                r = CP_ERROR(CP_EIO, "finish %s: %s", out_path, strerror(errno));
                goto out;
        }
        if (ret_volume_key)
                memcpy(ret_volume_key, vk, sizeof(vk));
        r = 0;
out:
        if (buf)
                cp_wipe(buf, CHUNK);
        cp_wipe(vk, sizeof(vk));
        if (in >= 0)
                close(in);
        if (out >= 0)
                close(out);
        if (r < 0 && out >= 0)
                unlink(out_path);
        return r;
}

int cp_luks2_volume_open(const char *path, const uint8_t *pass, size_t pass_len, bool writable, cp_luks2_volume **ret) {
        struct stat st;
        int r;
        _cleanup_free_ uint8_t *meta = NULL;
        if (!path || !pass || !ret)
                return CP_ERROR(CP_EINVAL, "bad arguments");
        cp_luks2_volume *v = calloc(1, sizeof(*v));
        if (!v)
                return cp_error_oom();
        v->writable = writable;
        v->fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
        if (v->fd < 0) {
                r = CP_ERROR(CP_EIO, "open %s: %s", path, strerror(errno));
                free(v);
                return r;
        }
        if (fstat(v->fd, &st) < 0) {
                r = CP_ERROR(CP_EIO, "stat %s: %s", path, strerror(errno));
                goto fail;
        }
        /* read the headers (hdr_size first) then everything up to the end of the keyslots:
         * the two headers as big as the primary says (issue 19: not 8 MiB, most of a small
         * disk, at every open), or as big as they can be when that does not parse */
        uint64_t fsize = (uint64_t) st.st_size;
        size_t most = fsize < 2 * CP_LUKS2_MAX_HDR_SIZE ? (size_t) fsize : 2 * CP_LUKS2_MAX_HDR_SIZE, first = most;
        uint8_t bin[16];
        uint64_t claimed = 0;
        if (fsize >= sizeof bin && pread_all(v->fd, bin, sizeof bin, 0) >= 0 && !memcmp(bin, magic1, MAGIC_LEN))
                for (size_t i = 8; i < 16; i++)
                        claimed = claimed << 8 | bin[i];
        cp_error_clear();
        if (valid_hdr_size(claimed) && 2 * claimed < most)
                first = (size_t) (2 * claimed);
        meta = malloc(first ? first : 1);
        if (!meta) {
                r = cp_error_oom();
                goto fail;
        }
        if ((r = pread_all(v->fd, meta, first, 0)) >= 0 && (r = cp_luks2_parse(meta, first, &v->info)) < 0 &&
            first < most) {
                cp_error_clear();
                uint8_t *m2 = realloc(meta, most);
                if (!m2) {
                        r = cp_error_oom();
                        goto fail;
                }
                meta = m2;
                first = most;
                if ((r = pread_all(v->fd, meta, first, 0)) >= 0)
                        r = cp_luks2_parse(meta, first, &v->info);
        }
        if (r < 0)
                goto fail;
        uint64_t need = 2 * v->info.hdr_size + v->info.keyslots_size;
        if (need > fsize || need > (UINT64_C(1) << 32)) {
                r = CP_ERROR(CP_ETRUNC, "image shorter than its LUKS2 metadata");
                goto fail;
        }
        /* of the keyslots area, only what the keyslots use (issue 19: cryptsetup's layout
         * reserves 16 MiB for them, of which one keyslot uses 128 KiB) */
        need = 2 * v->info.hdr_size;
        for (size_t i = 0; i < v->info.n_keyslots; i++)
                if (v->info.keyslots[i].area_offset + v->info.keyslots[i].area_size > need)
                        need = v->info.keyslots[i].area_offset + v->info.keyslots[i].area_size;
        if (need > first) {
                uint8_t *m2 = realloc(meta, (size_t) need);
                if (!m2) {
                        r = cp_error_oom();
                        goto fail;
                }
                meta = m2;
                if ((r = pread_all(v->fd, meta + first, (size_t) need - first, first)) < 0)
                        goto fail;
        }
        if (strcmp(v->info.cipher, "aes-xts-plain64")) {
                r = CP_ERROR(CP_EUNSUPPORTED, "segment cipher %s (only aes-xts-plain64)", v->info.cipher);
                goto fail;
        }
        if ((r = cp_luks2_unlock(&v->info, meta, (size_t) (need > first ? need : first), pass, pass_len, v->key,
                                 NULL)) < 0)
                goto fail;
        if (v->info.data_offset > fsize) {
                r = CP_ERROR(CP_ETRUNC, "image shorter than the data offset");
                goto fail;
        }
        v->size = v->info.data_size_dynamic ? fsize - v->info.data_offset : v->info.data_size;
        if (!v->info.data_size_dynamic && v->info.data_size > fsize - v->info.data_offset) {
                r = CP_ERROR(CP_ETRUNC, "image shorter than the segment");
                goto fail;
        }
        v->size -= v->size % v->info.sector_size;
        *ret = v;
        return 0;
fail:
        cp_luks2_volume_close(v);
        return r;
}

cp_luks2_volume *cp_luks2_volume_close(cp_luks2_volume *v) {
        if (!v)
                return NULL;
        if (v->fd >= 0)
                close(v->fd);
        cp_wipe(v->key, sizeof(v->key));
        free(v);
        return NULL;
}

const cp_luks2_info *cp_luks2_volume_info(const cp_luks2_volume *v) {
        return v ? &v->info : NULL;
}

uint64_t cp_luks2_volume_size(const cp_luks2_volume *v) {
        return v ? v->size : 0;
}

static int volume_io(cp_luks2_volume *v, uint64_t first, void *rbuf, const void *wbuf, size_t n) {
        uint32_t ss = v->info.sector_size;
        int r;
        if (n == 0)
                return 0;
        if (first > v->size / ss || n > v->size / ss - first)
                return CP_ERROR(CP_EINVAL, "sectors beyond the end of the volume");
        size_t len = n * ss;
        uint64_t off = v->info.data_offset + first * ss, iv = v->info.iv_tweak + first * (ss / 512);
        if (rbuf) {
                if ((r = pread_all(v->fd, rbuf, len, off)) < 0)
                        return r;
                return cp_luks2_crypt(v->key, iv, ss, rbuf, rbuf, len, false);
        }
        if (!v->writable)
                return CP_ERROR(CP_EINVAL, "volume opened read-only");
        uint8_t *tmp = malloc(len);
        if (!tmp)
                return cp_error_oom();
        if ((r = cp_luks2_crypt(v->key, iv, ss, wbuf, tmp, len, true)) >= 0)
                r = cp_pwrite_full(v->fd, tmp, len, off, "write");
        free(tmp);
        return r;
}

int cp_luks2_volume_read(cp_luks2_volume *v, uint64_t first, void *buf, size_t n_sectors) {
        if (!v || !buf)
                return CP_ERROR(CP_EINVAL, "bad arguments");
        return volume_io(v, first, buf, NULL, n_sectors);
}

int cp_luks2_volume_write(cp_luks2_volume *v, uint64_t first, const void *buf, size_t n_sectors) {
        if (!v || !buf)
                return CP_ERROR(CP_EINVAL, "bad arguments");
        return volume_io(v, first, NULL, buf, n_sectors);
}

int cp_luks2_decrypt_image(const char *path, const uint8_t *pass, size_t pass_len, const char *out_path) {
        cp_luks2_volume *v = NULL;
        int r, out;
        if ((r = cp_luks2_volume_open(path, pass, pass_len, false, &v)) < 0)
                return r;
        uint8_t *buf = malloc(CHUNK);
        out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (!buf || out < 0) {
                r = buf ? CP_ERROR(CP_EIO, "create %s: %s", out_path, strerror(errno)) : cp_error_oom();
                goto done;
        }
        uint32_t ss = v->info.sector_size;
        uint64_t total = v->size / ss;
        for (uint64_t s = 0; s < total;) {
                size_t n = total - s < CHUNK / ss ? (size_t) (total - s) : CHUNK / ss;
                if ((r = cp_luks2_volume_read(v, s, buf, n)) < 0 ||
                    (r = cp_pwrite_full(out, buf, n * ss, s * ss, "write")) < 0)
                        goto done;
                s += n;
        }
        r = 0;
done:
        if (buf) {
                cp_wipe(buf, CHUNK);
                free(buf);
        }
        if (out >= 0)
                close(out);
        cp_luks2_volume_close(v);
        return r;
}
