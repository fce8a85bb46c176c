/* SPDX-License-Identifier: Apache-2.0 */
/* LUKS2: writer/reader round trips, XTS sectors, negative header tests,
 * and interoperability with cryptsetup (skipped where it is missing). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "basic/fileio.h"
#include "basic/secure.h"
#include "confpool/luks2.h"
#include "tests.h"

static const uint8_t pass[] = "correct horse battery staple";
#define PASS_LEN (sizeof(pass) - 1)

static char tmpdir[64];

static void rm_tmp(void) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
        if (system(cmd) != 0)
                fprintf(stderr, "cleanup failed\n");
}

static const char *tmp(const char *name) {
        static char buf[4][256];
        static int k;
        if (!tmpdir[0]) {
                snprintf(tmpdir, sizeof(tmpdir), "/tmp/cp-luks2-test-XXXXXX");
                ASSERT_TRUE(mkdtemp(tmpdir) != NULL);
                atexit(rm_tmp);
        }
        k = (k + 1) % 4;
        snprintf(buf[k], sizeof(buf[k]), "%s/%s", tmpdir, name);
        return buf[k];
}

static uint8_t *make_meta(const uint8_t vk[64], size_t *len) {
        cp_luks2_format_options o = CP_LUKS2_FORMAT_OPTIONS_INIT;
        o.iterations = 1000;
        o.data_offset = 1024 * 1024;
        o.label = "confpool-test";
        uint8_t *m = NULL;
        ASSERT_OK(cp_luks2_format(&o, vk, pass, PASS_LEN, &m, len));
        return m;
}

TEST(format_parse_unlock_roundtrip) {
        uint8_t vk[64], out[64];
        ASSERT_EQ(RAND_bytes(vk, 64), 1);
        size_t len;
        uint8_t *m = make_meta(vk, &len);
        ASSERT_EQ(len, 32768 + 258048);
        cp_luks2_info info;
        ASSERT_OK(cp_luks2_parse(m, len, &info));
        ASSERT_EQ(info.hdr_size, 16384);
        ASSERT_EQ(info.n_keyslots, 1);
        ASSERT_EQ(info.keyslots[0].kdf, CP_LUKS2_KDF_PBKDF2);
        ASSERT_EQ(info.keyslots[0].stripes, 4000);
        ASSERT_EQ(info.data_offset, 1024 * 1024);
        ASSERT_EQ(info.sector_size, 512);
        ASSERT_STREQ(info.cipher, "aes-xts-plain64");
        ASSERT_STREQ(info.label, "confpool-test");
        ASSERT_EQ(strlen(info.uuid), 36);
        ASSERT_FALSE(info.from_secondary);
        unsigned ks = 99;
        ASSERT_OK(cp_luks2_unlock(&info, m, len, pass, PASS_LEN, out, &ks));
        ASSERT_EQ(ks, 0);
        ASSERT_MEMEQ(out, vk, 64);
        ASSERT_ERR(cp_luks2_unlock(&info, m, len, (const uint8_t *) "wrong", 5, out, &ks), CP_ESIG);
        ASSERT_OK(cp_luks2_check_volume_key(&info, vk, 64));
        vk[3] ^= 1;
        ASSERT_ERR(cp_luks2_check_volume_key(&info, vk, 64), CP_ESIG);
        /* keyslot area truncated */
        ASSERT_ERR(cp_luks2_unlock(&info, m, 40000, pass, PASS_LEN, out, &ks), CP_ETRUNC);
        free(m);
}

TEST(xts_sectors_match_openssl_and_depend_on_the_sector) {
        uint8_t key[64], pt[2048], ct[2048], back[2048], ref[512], iv[16] = { 0 };
        ASSERT_EQ(RAND_bytes(key, 64), 1);
        ASSERT_EQ(RAND_bytes(pt, sizeof(pt)), 1);
        ASSERT_OK(cp_luks2_crypt(key, 7, 512, pt, ct, sizeof(pt), true));
        /* sector 9 (third) with a one-shot OpenSSL XTS and IV = 9 little-endian */
        iv[0] = 9;
        EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
        int n = 0;
        ASSERT_EQ(EVP_EncryptInit_ex(c, EVP_aes_256_xts(), NULL, key, iv), 1);
        ASSERT_EQ(EVP_EncryptUpdate(c, ref, &n, pt + 1024, 512), 1);
        EVP_CIPHER_CTX_free(c);
        ASSERT_MEMEQ(ref, ct + 1024, 512);
        /* same plaintext in two sectors gives different ciphertext */
        memcpy(pt + 512, pt, 512);
        ASSERT_OK(cp_luks2_crypt(key, 7, 512, pt, ct, sizeof(pt), true));
        ASSERT_TRUE(memcmp(ct, ct + 512, 512) != 0);
        ASSERT_OK(cp_luks2_crypt(key, 7, 512, ct, back, sizeof(pt), false));
        ASSERT_MEMEQ(back, pt, sizeof(pt));
        /* 4096-byte sectors: IVs still count 512-byte units */
        ASSERT_OK(cp_luks2_crypt(key, 0, 4096, pt, ct, 0, true));
        ASSERT_ERR(cp_luks2_crypt(key, 0, 512, pt, ct, 100, true), CP_EINVAL);
}

static void write_file(const char *path, const uint8_t *p, size_t n) {
        FILE *f = fopen(path, "wb");
        ASSERT_TRUE(f != NULL);
        ASSERT_EQ(fwrite(p, 1, n, f), n);
        fclose(f);
}

TEST(image_encrypt_open_decrypt) {
        size_t n = 300 * 1024 + 100; /* not a multiple of 512: padded */
        uint8_t *plain = malloc(n), vk[64];
        ASSERT_EQ(RAND_bytes(plain, (int) n), 1);
        write_file(tmp("plain.img"), plain, n);
        cp_luks2_format_options o = CP_LUKS2_FORMAT_OPTIONS_INIT;
        o.iterations = 1000;
        o.data_offset = 1024 * 1024;
        ASSERT_OK(cp_luks2_encrypt_image(tmp("plain.img"), tmp("enc.img"), &o, pass, PASS_LEN, vk));
        cp_luks2_volume *v = NULL;
        ASSERT_ERR(cp_luks2_volume_open(tmp("enc.img"), (const uint8_t *) "x", 1, false, &v), CP_ESIG);
        ASSERT_OK(cp_luks2_volume_open(tmp("enc.img"), pass, PASS_LEN, true, &v));
        ASSERT_EQ(cp_luks2_volume_size(v), (n + 511) / 512 * 512);
        uint8_t sec[1024];
        ASSERT_OK(cp_luks2_volume_read(v, 10, sec, 2));
        ASSERT_MEMEQ(sec, plain + 5120, 1024);
        ASSERT_ERR(cp_luks2_volume_read(v, cp_luks2_volume_size(v) / 512, sec, 1), CP_EINVAL);
        /* write then read back through a fresh open */
        memset(sec, 0xA5, sizeof(sec));
        ASSERT_OK(cp_luks2_volume_write(v, 3, sec, 2));
        cp_luks2_volume_close(v);
        memcpy(plain + 1536, sec, 1024);
        ASSERT_OK(cp_luks2_decrypt_image(tmp("enc.img"), pass, PASS_LEN, tmp("dec.img")));
        size_t dl;
        uint8_t *dec;
        ASSERT_OK(cp_read_file(tmp("dec.img"), 1 << 24, &dec, &dl));
        ASSERT_EQ(dl, (n + 511) / 512 * 512);
        ASSERT_MEMEQ(dec, plain, n);
        ASSERT_TRUE(cp_ct_is_zero(dec + n, dl - n));
        /* ciphertext on disk is not the plaintext */
        size_t el;
        uint8_t *enc;
        ASSERT_OK(cp_read_file(tmp("enc.img"), 1 << 24, &enc, &el));
        ASSERT_TRUE(memcmp(enc + 1024 * 1024 + 8192, plain + 8192, 512) != 0);
        free(enc);
        free(dec);
        free(plain);
}

/* A volume opens from the headers' own size (issue 19: not 8 MiB at every
 * open), and from the secondary header when the primary's size field lies
 * (4 MiB or 32 KiB: a first read of twice that, then the largest headers) or
 * is not a size at all. */
TEST(volume_open_reads_headers_by_their_size) {
        size_t n = 64 * 1024;
        uint8_t *plain = malloc(n), vk[64];
        ASSERT_EQ(RAND_bytes(plain, (int) n), 1);
        write_file(tmp("hs-plain.img"), plain, n);
        cp_luks2_format_options o = CP_LUKS2_FORMAT_OPTIONS_INIT;
        o.iterations = 1000;
        ASSERT_OK(cp_luks2_encrypt_image(tmp("hs-plain.img"), tmp("hs.img"), &o, pass, PASS_LEN, vk));
        size_t el;
        uint8_t *enc;
        ASSERT_OK(cp_read_file(tmp("hs.img"), 1 << 26, &enc, &el));
        static const uint8_t lies[][8] = {{0, 0, 0, 0, 0, 0x40, 0, 0}, {0, 0, 0, 0, 0, 0, 0x80, 0},
                                          {0, 0, 0, 0, 0, 0, 0x30, 0}};
        for (size_t k = 0; k <= 3; k++) {
                uint8_t *m = malloc(el);
                memcpy(m, enc, el);
                if (k > 0)
                        memcpy(m + 8, lies[k - 1], 8); /* primary hdr_size (its checksum now fails) */
                write_file(tmp("hs-t.img"), m, el);
                cp_luks2_volume *v = NULL;
                ASSERT_OK(cp_luks2_volume_open(tmp("hs-t.img"), pass, PASS_LEN, false, &v));
                uint8_t sec[512];
                ASSERT_OK(cp_luks2_volume_read(v, 7, sec, 1));
                ASSERT_MEMEQ(sec, plain + 7 * 512, 512);
                cp_luks2_volume_close(v);
                free(m);
        }
        free(enc);
        free(plain);
}

/* Rewrite the primary header's JSON and checksum; break the secondary. */
static void rewrite_json(uint8_t *m, const char *json) {
        memset(m + 4096, 0, 16384 - 4096);
        memcpy(m + 4096, json, strlen(json));
        memset(m + 448, 0, 64);
        SHA256(m, 16384, m + 448);
        m[16384] ^= 0xff; /* secondary magic */
}

static void expect_json_error(const uint8_t *orig, size_t len, const char *from, const char *to, int code) {
        uint8_t *m = malloc(len);
        memcpy(m, orig, len);
        char *js = strdup((const char *) orig + 4096);
        char *p = strstr(js, from);
        if (!p)
                cp_test_fail(__FILE__, __LINE__, "pattern %s not in JSON", from);
        size_t nl = strlen(js) - strlen(from) + strlen(to) + 1;
        char *nj = malloc(nl);
        snprintf(nj, nl, "%.*s%s%s", (int) (p - js), js, to, p + strlen(from));
        rewrite_json(m, nj);
        cp_luks2_info info;
        int r = cp_luks2_parse(m, len, &info);
        if (r != code)
                cp_test_fail(__FILE__, __LINE__, "%s -> %s: expected %s, got %s: %s", from, to, cp_err_name(code),
                             cp_err_name(r), cp_error_message());
        free(nj);
        free(js);
        free(m);
}

TEST(header_negative_cases) {
        uint8_t vk[64] = { 1 };
        size_t len;
        uint8_t *m = make_meta(vk, &len), *x = malloc(len);
        cp_luks2_info info;
        /* truncation at every length of the primary header area */
        for (size_t l = 0; l < 16384; l++)
                ASSERT_FAILS(cp_luks2_parse(m, l, &info));
        ASSERT_OK(cp_luks2_parse(m, 16384, &info));
        /* primary checksum broken -> secondary used */
        memcpy(x, m, len);
        x[5000] ^= 1;
        ASSERT_OK(cp_luks2_parse(x, len, &info));
        ASSERT_TRUE(info.from_secondary);
        /* both broken */
        x[16384 + 5000] ^= 1;
        ASSERT_ERR(cp_luks2_parse(x, len, &info), CP_ESIG);
        /* bad magic / version / hdr_size (secondary also broken) */
        memcpy(x, m, len);
        x[16384] = 0;
        x[0] = 'X';
        ASSERT_ERR(cp_luks2_parse(x, len, &info), CP_EFORMAT);
        memcpy(x, m, len);
        x[16384] = 0;
        x[7] = 1;
        ASSERT_ERR(cp_luks2_parse(x, len, &info), CP_EVERSION);
        memcpy(x, m, len);
        x[16384] = 0;
        x[8 + 6] = 0x50; /* hdr_size 0x5000 */
        ASSERT_ERR(cp_luks2_parse(x, len, &info), CP_EFORMAT);
        /* label without NUL */
        memcpy(x, m, len);
        memset(x + 24, 'a', 48);
        memset(x + 448, 0, 64);
        SHA256(x, 16384, x + 448);
        x[16384] = 0;
        ASSERT_ERR(cp_luks2_parse(x, len, &info), CP_EFORMAT);
        /* JSON schema */
        expect_json_error(m, len, "\"type\":\"luks2\"", "\"type\":\"luks3\"", CP_EUNSUPPORTED);
        expect_json_error(m, len, "\"json_size\":\"12288\"", "\"json_size\":\"12289\"", CP_EFORMAT);
        expect_json_error(m, len, "\"offset\":\"1048576\"", "\"offset\":\"4096\"", CP_EFORMAT);
        expect_json_error(m, len, "\"offset\":\"32768\"", "\"offset\":\"4096\"", CP_EFORMAT);
        expect_json_error(m, len, "\"offset\":\"32768\"", "\"offset\":\"032768\"", CP_EFORMAT);
        expect_json_error(m, len, "\"offset\":\"32768\"", "\"offset\":\"99999999999999999999999\"", CP_EFORMAT);
        expect_json_error(m, len, "\"stripes\":4000", "\"stripes\":4001", CP_EFORMAT);
        expect_json_error(m, len, "\"sector_size\":512", "\"sector_size\":768", CP_EFORMAT);
        expect_json_error(m, len, "\"type\":\"pbkdf2\",\"hash\"", "\"type\":\"scrypt\",\"hash\"", CP_EUNSUPPORTED);
        expect_json_error(m, len, "\"tokens\":{}", "\"tokens\":[]", CP_EFORMAT);
        expect_json_error(m, len, "\"keyslots\":{\"0\"", "\"keyslots\":{\"00\"", CP_EFORMAT);
        expect_json_error(m, len, "\"keyslots\":[\"0\"]", "\"keyslots\":[\"40\"]", CP_EFORMAT);
        expect_json_error(m, len, "\"segments\":[\"0\"]", "\"segments\":[\"1\"]", CP_EFORMAT);
        expect_json_error(m, len, "\"config\":{", "\"config\":{\"requirements\":{\"mandatory\":[\"online-reencrypt\"]},",
                          CP_EUNSUPPORTED);
        expect_json_error(m, len, "{\"keyslots\"", "[{\"keyslots\"", CP_EFORMAT);
        /* bytes after the JSON text */
        memcpy(x, m, len);
        x[16383] = 1;
        memset(x + 448, 0, 64);
        SHA256(x, 16384, x + 448);
        x[16384] = 0;
        ASSERT_ERR(cp_luks2_parse(x, len, &info), CP_EMBZ);
        free(x);
        free(m);
}

/* ---- cryptsetup interoperability ---- */

/* CP_CRYPTSETUP names the binary (tests/cli/declared-skips.sh points it at
 * a missing one to check that the skip is declared). */
static const char *cryptsetup_path(void) {
        const char *env = getenv("CP_CRYPTSETUP");
        if (env)
                return access(env, X_OK) == 0 ? env : NULL;
        static const char *const cands[] = { "/usr/sbin/cryptsetup", "/sbin/cryptsetup", "/usr/bin/cryptsetup" };
        for (size_t i = 0; i < 3; i++)
                if (access(cands[i], X_OK) == 0)
                        return cands[i];
        return NULL;
}

static int run(const char *cmd, char *out, size_t cap) {
        FILE *p = popen(cmd, "r");
        ASSERT_TRUE(p != NULL);
        size_t n = out ? fread(out, 1, cap - 1, p) : 0;
        if (out)
                out[n] = 0;
        else {
                char sink[4096];
                while (fread(sink, 1, sizeof(sink), p) > 0) {
                }
        }
        int st = pclose(p);
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The "MK dump:" hex of luksDump --dump-volume-key. */
static void parse_mk_dump(const char *out, uint8_t vk[64]) {
        const char *p = strstr(out, "MK dump:");
        ASSERT_TRUE(p != NULL);
        p += 8;
        size_t n = 0;
        while (*p && n < 64) {
                if (isxdigit((unsigned char) p[0]) && isxdigit((unsigned char) p[1])) {
                        unsigned b;
                        ASSERT_EQ(sscanf(p, "%2x", &b), 1);
                        vk[n++] = (uint8_t) b;
                        p += 2;
                } else
                        p++;
        }
        ASSERT_EQ(n, 64);
}

TEST(cryptsetup_reads_confpool_images) {
        const char *cs = cryptsetup_path();
        if (!cs)
                TEST_SKIP("cryptsetup not installed (scripts/install-deps.sh check installs cryptsetup-bin)");
        uint8_t kf[32], vk[64], dumped[64];
        ASSERT_EQ(RAND_bytes(kf, 32), 1);
        write_file(tmp("kf"), kf, 32);
        write_file(tmp("badkf"), (const uint8_t *) "not the key", 11);
        uint8_t plain[8192];
        ASSERT_EQ(RAND_bytes(plain, sizeof(plain)), 1);
        write_file(tmp("p.img"), plain, sizeof(plain));
        cp_luks2_format_options o = CP_LUKS2_FORMAT_OPTIONS_INIT;
        o.iterations = 1000;
        ASSERT_OK(cp_luks2_encrypt_image(tmp("p.img"), tmp("c.img"), &o, kf, 32, vk));
        char cmd[1024], *out = malloc(65536);
        snprintf(cmd, sizeof(cmd), "%s luksDump %s 2>&1", cs, tmp("c.img"));
        ASSERT_EQ(run(cmd, out, 65536), 0);
        ASSERT_TRUE(strstr(out, "Version:       \t2") || strstr(out, "Version:"));
        ASSERT_TRUE(strstr(out, "pbkdf2") != NULL);
        ASSERT_TRUE(strstr(out, "aes-xts-plain64") != NULL);
        snprintf(cmd, sizeof(cmd), "%s open --test-passphrase --key-file %s %s 2>&1", cs, tmp("kf"), tmp("c.img"));
        ASSERT_EQ(run(cmd, NULL, 0), 0);
        snprintf(cmd, sizeof(cmd), "%s open --test-passphrase --key-file %s %s 2>&1", cs, tmp("badkf"), tmp("c.img"));
        ASSERT_TRUE(run(cmd, NULL, 0) != 0);
        snprintf(cmd, sizeof(cmd), "%s luksDump --dump-volume-key --batch-mode --key-file %s %s 2>&1", cs, tmp("kf"),
                 tmp("c.img"));
        ASSERT_EQ(run(cmd, out, 65536), 0);
        parse_mk_dump(out, dumped);
        ASSERT_MEMEQ(dumped, vk, 64);
        free(out);
}

TEST(confpool_opens_cryptsetup_images) {
        const char *cs = cryptsetup_path();
        if (!cs)
                TEST_SKIP("cryptsetup not installed (scripts/install-deps.sh check installs cryptsetup-bin)");
        uint8_t kf[40], vk[64], dumped[64];
        ASSERT_EQ(RAND_bytes(kf, sizeof(kf)), 1);
        write_file(tmp("kf2"), kf, sizeof(kf));
        char cmd[1024], *out = malloc(65536);
        snprintf(cmd, sizeof(cmd), "truncate -s 20M %s", tmp("cs.img"));
        ASSERT_EQ(run(cmd, NULL, 0), 0);
        for (int ss = 0; ss < 2; ss++) {
                snprintf(cmd, sizeof(cmd),
                         "%s luksFormat --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --cipher "
                         "aes-xts-plain64 --key-size 512 --batch-mode --sector-size %d --key-file %s %s 2>&1",
                         cs, ss ? 4096 : 512, tmp("kf2"), tmp("cs.img"));
                ASSERT_EQ(run(cmd, out, 65536), 0);
                snprintf(cmd, sizeof(cmd), "%s luksDump --dump-volume-key --batch-mode --key-file %s %s 2>&1", cs,
                         tmp("kf2"), tmp("cs.img"));
                ASSERT_EQ(run(cmd, out, 65536), 0);
                parse_mk_dump(out, dumped);
                size_t len;
                uint8_t *m;
                ASSERT_OK(cp_read_file(tmp("cs.img"), 64u << 20, &m, &len));
                cp_luks2_info info;
                ASSERT_OK(cp_luks2_parse(m, len, &info));
                ASSERT_EQ(info.sector_size, ss ? 4096 : 512);
                ASSERT_OK(cp_luks2_unlock(&info, m, len, kf, sizeof(kf), vk, NULL));
                ASSERT_MEMEQ(vk, dumped, 64);
                ASSERT_ERR(cp_luks2_unlock(&info, m, len, kf, sizeof(kf) - 1, vk, NULL), CP_ESIG);
                free(m);
                /* write known plaintext with confpool into the cryptsetup volume and read it back */
                cp_luks2_volume *v = NULL;
                uint8_t data[8192], back[8192];
                ASSERT_EQ(RAND_bytes(data, sizeof(data)), 1);
                ASSERT_OK(cp_luks2_volume_open(tmp("cs.img"), kf, sizeof(kf), true, &v));
                ASSERT_EQ(cp_luks2_volume_size(v), 4u << 20);
                uint32_t sz = cp_luks2_volume_info(v)->sector_size;
                ASSERT_OK(cp_luks2_volume_write(v, 1, data, sizeof(data) / sz));
                ASSERT_OK(cp_luks2_volume_read(v, 1, back, sizeof(back) / sz));
                ASSERT_MEMEQ(back, data, sizeof(data));
                cp_luks2_volume_close(v);
                /* cryptsetup still accepts the header after our data writes */
                snprintf(cmd, sizeof(cmd), "%s open --test-passphrase --key-file %s %s 2>&1", cs, tmp("kf2"),
                         tmp("cs.img"));
                ASSERT_EQ(run(cmd, NULL, 0), 0);
        }
        free(out);
}
