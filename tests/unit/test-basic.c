/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for src/basic: cursor, codecs, secure helpers, error records. */
#include <signal.h>
#include <stdlib.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <unistd.h>

#include "basic/clock.h"
#include "basic/codec.h"
#include "basic/fileio.h"
#include "basic/cleanup.h"
#include "basic/cursor.h"
#include "basic/secure.h"
#include "tests.h"

TEST(cursor_reads_le_and_be) {
        static const uint8_t in[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19 };
        cp_cursor c = cp_cursor_make(in, sizeof(in));
        uint8_t u8;
        uint16_t u16;
        uint32_t u32;
        uint64_t u64;
        ASSERT_OK(cp_cursor_u8(&c, &u8));
        ASSERT_EQ(u8, 1);
        ASSERT_OK(cp_cursor_le16(&c, &u16));
        ASSERT_EQ(u16, 0x0302);
        ASSERT_OK(cp_cursor_be16(&c, &u16));
        ASSERT_EQ(u16, 0x0405);
        ASSERT_OK(cp_cursor_le32(&c, &u32));
        ASSERT_U64_EQ(u32, 0x09080706);
        ASSERT_OK(cp_cursor_be64(&c, &u64));
        ASSERT_U64_EQ(u64, 0x0a0b0c0d0e0f1011);
        ASSERT_EQ(cp_cursor_remaining(&c), 2);
        ASSERT_ERR(cp_cursor_le32(&c, &u32), CP_ETRUNC);
        /* failed read leaves the cursor where it was */
        ASSERT_EQ(cp_cursor_offset(&c), 17);
        ASSERT_ERR(cp_cursor_end(&c, "x"), CP_ETRAILING);
        ASSERT_OK(cp_cursor_le16(&c, &u16));
        ASSERT_OK(cp_cursor_end(&c, "x"));
}

TEST(cursor_le64_full_width) {
        static const uint8_t in[] = { 0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x99, 0x88 };
        cp_cursor c = cp_cursor_make(in, sizeof(in));
        uint64_t v;
        ASSERT_OK(cp_cursor_le64(&c, &v));
        ASSERT_U64_EQ(v, 0x8899aabbccddeeffULL);
}

TEST(cursor_truncation_every_length) {
        static const uint8_t in[8] = { 0 };
        for (size_t n = 0; n < 8; n++) {
                cp_cursor c = cp_cursor_make(in, n);
                uint64_t v;
                ASSERT_ERR(cp_cursor_le64(&c, &v), CP_ETRUNC);
                ASSERT_EQ(cp_cursor_offset(&c), 0);
        }
}

TEST(cursor_huge_length_does_not_wrap) {
        static const uint8_t in[4] = { 0 };
        cp_cursor c = cp_cursor_make(in, sizeof(in));
        ASSERT_OK(cp_cursor_skip(&c, 2));
        ASSERT_ERR(cp_cursor_skip(&c, SIZE_MAX), CP_ETRUNC);
        ASSERT_ERR(cp_cursor_skip(&c, SIZE_MAX - 1), CP_ETRUNC);
        cp_cursor w;
        ASSERT_ERR(cp_cursor_window(&c, 3, SIZE_MAX, &w), CP_ETRUNC);
        ASSERT_ERR(cp_cursor_window(&c, SIZE_MAX, 1, &w), CP_ETRUNC);
        ASSERT_OK(cp_cursor_window(&c, 1, 3, &w));
        ASSERT_EQ(cp_cursor_remaining(&w), 3);
}

TEST(cursor_zero_and_sub) {
        static const uint8_t in[] = { 0, 0, 0, 7, 1, 2, 3 };
        cp_cursor c = cp_cursor_make(in, sizeof(in));
        ASSERT_OK(cp_cursor_zero(&c, 3, "rsvd"));
        ASSERT_ERR(cp_cursor_zero(&c, 1, "rsvd"), CP_EMBZ);
        ASSERT_EQ(cp_cursor_offset(&c), 3);
        ASSERT_TRUE(strstr(cp_error_message(), "0x3") != NULL);
        ASSERT_OK(cp_cursor_skip(&c, 1));
        cp_cursor sub;
        ASSERT_ERR(cp_cursor_sub(&c, 4, &sub), CP_ETRUNC);
        ASSERT_OK(cp_cursor_sub(&c, 2, &sub));
        uint16_t v;
        ASSERT_OK(cp_cursor_le16(&sub, &v));
        ASSERT_EQ(v, 0x0201);
        ASSERT_OK(cp_cursor_end(&sub, "sub"));
        ASSERT_EQ(cp_cursor_remaining(&c), 1);
}

TEST(hex_roundtrip_and_errors) {
        uint8_t in[5] = { 0x00, 0x01, 0xab, 0xcd, 0xff }, out[5];
        char s[11];
        size_t n;
        cp_hex_encode(in, 5, s);
        ASSERT_STREQ(s, "0001abcdff");
        ASSERT_OK(cp_hex_decode("0001ABcdff", 10, out, sizeof(out), &n));
        ASSERT_EQ(n, 5);
        ASSERT_MEMEQ(in, out, 5);
        ASSERT_ERR(cp_hex_decode("abc", 3, out, sizeof(out), &n), CP_EFORMAT);
        ASSERT_ERR(cp_hex_decode("zz", 2, out, sizeof(out), &n), CP_EFORMAT);
        ASSERT_ERR(cp_hex_decode("000102030405", 12, out, sizeof(out), &n), CP_ETOOBIG);
}

/* RFC 4648 section 10 test vectors */
TEST(base64_rfc4648_vectors) {
        static const char *plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
        static const char *std[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
        static const char *url[] = { "", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy" };
        for (size_t i = 0; i < 7; i++) {
                char enc[16];
                uint8_t dec[16];
                size_t n;
                size_t pl = strlen(plain[i]);
                cp_b64_encode((const uint8_t *) plain[i], pl, CP_B64_STD, enc);
                ASSERT_STREQ(enc, std[i]);
                ASSERT_EQ(strlen(enc), cp_b64_encoded_len(pl, CP_B64_STD));
                cp_b64_encode((const uint8_t *) plain[i], pl, CP_B64_URL, enc);
                ASSERT_STREQ(enc, url[i]);
                ASSERT_EQ(strlen(enc), cp_b64_encoded_len(pl, CP_B64_URL));
                ASSERT_OK(cp_b64_decode(std[i], strlen(std[i]), CP_B64_STD, dec, sizeof(dec), &n));
                ASSERT_EQ(n, pl);
                ASSERT_MEMEQ(dec, plain[i], n);
                ASSERT_OK(cp_b64_decode(url[i], strlen(url[i]), CP_B64_URL, dec, sizeof(dec), &n));
                ASSERT_EQ(n, pl);
                ASSERT_MEMEQ(dec, plain[i], n);
        }
}

TEST(base64_rejects_noncanonical) {
        uint8_t out[16];
        size_t n;
        ASSERT_ERR(cp_b64_decode("Zg=", 3, CP_B64_STD, out, sizeof(out), &n), CP_EFORMAT);
        ASSERT_ERR(cp_b64_decode("Zh==", 4, CP_B64_STD, out, sizeof(out), &n), CP_EFORMAT); /* trailing bits */
        ASSERT_ERR(cp_b64_decode("Zg==", 4, CP_B64_URL, out, sizeof(out), &n), CP_EFORMAT);  /* no pad in url */
        ASSERT_ERR(cp_b64_decode("Z", 1, CP_B64_URL, out, sizeof(out), &n), CP_EFORMAT);
        ASSERT_ERR(cp_b64_decode("Zm9v YmFy", 9, CP_B64_URL, out, sizeof(out), &n), CP_EFORMAT);
        ASSERT_ERR(cp_b64_decode("+/==", 4, CP_B64_URL, out, sizeof(out), &n), CP_EFORMAT);
        ASSERT_ERR(cp_b64_decode("-_==", 4, CP_B64_STD, out, sizeof(out), &n), CP_EFORMAT);
        ASSERT_ERR(cp_b64_decode("Zm9vYmFy", 8, CP_B64_STD, out, 5, &n), CP_ETOOBIG);
        ASSERT_OK(cp_b64_decode("-_8", 3, CP_B64_URL, out, sizeof(out), &n));
        ASSERT_EQ(n, 2);
        ASSERT_EQ(out[0], 0xfb);
        ASSERT_EQ(out[1], 0xff);
}

/* CP_B64_ANY accepts exactly what CP_B64_URL_PADOPT or CP_B64_STD accepts,
 * with the same bytes: checked on short strings over both alphabets, '='
 * and an invalid character; and random bytes round-trip through either
 * encoding. */
TEST(base64_any_is_url_padopt_or_std) {
        static const char chars[] = "AQgz09+/-_=.";
        uint64_t rng = 0x243f6a8885a308d3ull;
        for (int iter = 0; iter < 200000; iter++) {
                char in[16];
                uint8_t a[16], b[16];
                size_t len, na = 0, nb = 0;
                rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
                len = (size_t) (rng % 14);
                for (size_t i = 0; i < len; i++)
                        in[i] = chars[(rng >> (4 + 4 * (i % 14))) % (sizeof(chars) - 1)];
                bool ok = cp_b64_decode(in, len, CP_B64_ANY, a, sizeof(a), &na) == 0;
                bool ref = cp_b64_decode(in, len, CP_B64_URL_PADOPT, b, sizeof(b), &nb) == 0 ||
                           cp_b64_decode(in, len, CP_B64_STD, b, sizeof(b), &nb) == 0;
                if (ok != ref)
                        cp_test_fail(__FILE__, __LINE__, "CP_B64_ANY %s \"%.*s\"", ok ? "accepts" : "refuses",
                                     (int) len, in);
                if (ok) {
                        ASSERT_EQ(na, nb);
                        ASSERT_MEMEQ(a, b, na);
                }
        }
        for (size_t n = 0; n < 70; n++) {
                uint8_t raw[70], dec[80];
                char enc[100];
                size_t m;
                for (size_t i = 0; i < n; i++)
                        raw[i] = (uint8_t) (i * 37 + n * 11 + 0xd5);
                const cp_b64_variant vs[] = { CP_B64_STD, CP_B64_URL };
                for (size_t k = 0; k < 2; k++) {
                        cp_b64_encode(raw, n, vs[k], enc);
                        ASSERT_OK(cp_b64_decode(enc, strlen(enc), CP_B64_ANY, dec, sizeof(dec), &m));
                        ASSERT_EQ(m, n);
                        ASSERT_MEMEQ(dec, raw, n);
                        ASSERT_OK(cp_b64_decode(enc, strlen(enc), vs[k], dec, sizeof(dec), &m));
                        ASSERT_EQ(m, n);
                        ASSERT_MEMEQ(dec, raw, n);
                }
        }
        uint8_t out[16];
        size_t n;
        ASSERT_ERR(cp_b64_decode("+_8=", 4, CP_B64_ANY, out, sizeof(out), &n), CP_EFORMAT); /* mixed */
        ASSERT_ERR(cp_b64_decode("+/8", 3, CP_B64_ANY, out, sizeof(out), &n), CP_EFORMAT);  /* std needs its pad */
        ASSERT_OK(cp_b64_decode("-_8", 3, CP_B64_ANY, out, sizeof(out), &n));
        ASSERT_OK(cp_b64_decode("+/8=", 4, CP_B64_ANY, out, sizeof(out), &n));
        ASSERT_EQ(n, 2);
        ASSERT_EQ(out[0], 0xfb);
        ASSERT_EQ(out[1], 0xff);
}

TEST(duration_go_syntax) {
        static const struct {
                const char *in;
                uint64_t want; /* 0: refused */
        } cases[] = {
                {"3600", 3600},     {"8760h0m0s", 31536000}, {"1h30m", 5400}, {"90s", 90}, {"2m", 120},
                {"0", 0},           {"", 0},                 {"1.5h", 0},     {"10ms", 0}, {"5d", 0},
                {"h", 0},           {"1h x", 0},             {"-5s", 0},      {"99999999999999999999s", 0},
                {"1000000000h", 0}, /* above max */
        };
        for (size_t i = 0; i < CP_ELEMENTSOF(cases); i++) {
                uint64_t v = 0;
                int r = cp_duration_parse(cases[i].in, 10ULL * 365 * 86400, &v);
                if (cases[i].want) {
                        ASSERT_OK(r);
                        ASSERT_EQ(v, cases[i].want);
                } else {
                        ASSERT_TRUE(r < 0);
                        ASSERT_TRUE(strstr(cp_error_message(), "duration") != NULL);
                        cp_error_clear();
                }
        }
}

TEST(utf8_strict) {
        static const struct {
                const char *s;
                size_t n;
                bool ok;
                size_t bad;
        } t[] = {
                {"plain ascii", 11, true, 0},
                {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14, true, 0},
                {"\xf4\x8f\xbf\xbf", 4, true, 0},          /* U+10FFFF */
                {"ab\xf7", 3, false, 2},                      /* not a lead byte */
                {"a\x80", 2, false, 1},                       /* a lone continuation */
                {"\xc0\xaf", 2, false, 0},                   /* overlong '/' */
                {"\xe0\x80\xaf", 3, false, 0},              /* overlong */
                {"\xed\xa0\x80", 3, false, 0},              /* surrogate U+D800 */
                {"\xf4\x90\x80\x80", 4, false, 0},         /* above U+10FFFF */
                {"x\xe2\x82", 3, false, 1},                  /* truncated */
                {"a\0b", 3, false, 1},                        /* NUL */
        };
        for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
                size_t bad = 99;
                ASSERT_EQ(cp_utf8_valid((const uint8_t *) t[i].s, t[i].n, &bad), t[i].ok);
                if (!t[i].ok)
                        ASSERT_EQ(bad, t[i].bad);
        }
}

TEST(ct_compare_and_wipe) {
        uint8_t a[32], b[32];
        memset(a, 0x5a, sizeof(a));
        memcpy(b, a, sizeof(b));
        ASSERT_TRUE(cp_ct_eq(a, b, sizeof(a)));
        b[31] ^= 1;
        ASSERT_FALSE(cp_ct_eq(a, b, sizeof(a)));
        ASSERT_FALSE(cp_ct_is_zero(a, sizeof(a)));
        cp_wipe(a, sizeof(a));
        ASSERT_TRUE(cp_ct_is_zero(a, sizeof(a)));
        cp_secret *s = NULL;
        ASSERT_OK(cp_secret_new(64, &s));
        ASSERT_EQ(s->len, 64);
        ASSERT_TRUE(cp_ct_is_zero(s->p, s->len));
        s = cp_secret_free(s);
        ASSERT_TRUE(s == NULL);
        ASSERT_TRUE(cp_secret_free(NULL) == NULL);
}

TEST(error_record_and_wrap) {
        cp_error_clear();
        ASSERT_EQ(cp_error_last()->code, CP_OK);
        int r = CP_ERROR(CP_ESIG, "bad signature %d", 7);
        ASSERT_EQ(r, CP_ESIG);
        ASSERT_STREQ(cp_error_message(), "bad signature 7");
        ASSERT_TRUE(cp_error_last()->line > 0);
        ASSERT_EQ(cp_error_wrap("report %s", "x"), CP_ESIG);
        ASSERT_STREQ(cp_error_message(), "report x: bad signature 7");
        ASSERT_STREQ(cp_err_name(CP_EMBZ), "CP_EMBZ");
        ASSERT_STREQ(cp_err_name(CP_EAGAIN), "CP_EAGAIN");
        ASSERT_EQ(cp_err_category_of(CP_EAGAIN), CP_ERRCAT_IO);
        ASSERT_EQ(cp_err_category_of(CP_ESIG), CP_ERRCAT_VERIFY);
        ASSERT_EQ(cp_err_category_of(CP_EPOLICY), CP_ERRCAT_POLICY);
        ASSERT_EQ(cp_err_category_of(CP_ETRUNC), CP_ERRCAT_PARSE);
        ASSERT_STREQ(cp_err_category_name(CP_ERRCAT_PARSE), "parse");
        ASSERT_EQ(cp_error_oom(), CP_ENOMEM);
}

TEST(read_file_limit_is_inclusive) {
        char path[] = "/tmp/cp-read-XXXXXX";
        int fd = mkstemp(path);
        ASSERT_TRUE(fd >= 0);
        ASSERT_EQ(write(fd, "0123456789", 10), 10);
        close(fd);
        uint8_t *buf = NULL;
        size_t len = 0;
        ASSERT_OK(cp_read_file(path, 10, &buf, &len));
        ASSERT_EQ(len, 10);
        ASSERT_MEMEQ(buf, "0123456789", 10);
        ASSERT_EQ(buf[10], 0);
        free(buf);
        ASSERT_ERR(cp_read_file(path, 9, &buf, &len), CP_ETOOBIG);
        ASSERT_OK(cp_write_file(path, "", 0, 0600));
        ASSERT_OK(cp_read_file(path, 0, &buf, &len));
        ASSERT_EQ(len, 0);
        free(buf);
        unlink(path);
}

/* cp_read_full: across short reads (a pipe fed in pieces), interrupted
 * reads (a signal with a handler, no SA_RESTART), and up to the end. */
static void on_alarm(int sig) {
        (void) sig;
}

TEST(read_full_short_and_interrupted_reads) {
        int p[2];
        ASSERT_OK(pipe(p));
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                close(p[0]);
                static const char *const parts[] = {"abc", "defg", "h"};
                for (size_t i = 0; i < 3; i++) {
                        usleep(100 * 1000);
                        if (write(p[1], parts[i], strlen(parts[i])) < 0)
                                _exit(1);
                }
                _exit(0);
        }
        close(p[1]);
        struct sigaction sa = {.sa_handler = on_alarm}, old;
        ASSERT_OK(sigaction(SIGALRM, &sa, &old));
        struct itimerval it = {.it_interval = {0, 20 * 1000}, .it_value = {0, 20 * 1000}}, off = {0};
        ASSERT_OK(setitimer(ITIMER_REAL, &it, NULL));
        char buf[16] = {0};
        size_t len = 99;
        int r = cp_read_full(p[0], buf, 6, "pipe", &len);
        setitimer(ITIMER_REAL, &off, NULL);
        sigaction(SIGALRM, &old, NULL);
        ASSERT_OK(r);
        ASSERT_EQ(len, 6);
        ASSERT_MEMEQ(buf, "abcdef", 6);
        /* the rest: shorter than asked, at the end */
        ASSERT_OK(cp_read_full(p[0], buf, sizeof buf, "pipe", &len));
        ASSERT_EQ(len, 2);
        ASSERT_MEMEQ(buf, "gh", 2);
        ASSERT_OK(cp_read_full(p[0], buf, sizeof buf, "pipe", &len));
        ASSERT_EQ(len, 0);
        close(p[0]);
        int st;
        ASSERT_EQ(waitpid(pid, &st, 0), pid);
        ASSERT_EQ(st, 0);
        /* an error names what was read */
        ASSERT_ERR(cp_read_full(-1, buf, 1, "the thing", &len), CP_EIO);
        ASSERT_TRUE(strncmp(cp_error_message(), "the thing: ", 11) == 0);
        cp_error_clear();
}

/* cp_write_full: a write larger than a pipe's buffer arrives whole (short
 * writes), interrupted writes are retried; cp_pwrite_full writes at offsets;
 * errors name what was written. */
TEST(write_full_short_interrupted_and_positioned) {
        enum { BIG = 1 << 20 };
        int p[2];
        ASSERT_OK(pipe(p));
        uint8_t *big = malloc(BIG);
        ASSERT_TRUE(big != NULL);
        for (size_t i = 0; i < BIG; i++)
                big[i] = (uint8_t) (i * 7 + 3);
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) { /* the reader: slow at first, then checks every byte */
                close(p[1]);
                usleep(100 * 1000);
                uint8_t *got = malloc(BIG);
                size_t len = 0;
                if (!got || cp_read_full(p[0], got, BIG, "pipe", &len) < 0 || len != BIG || memcmp(got, big, BIG) != 0)
                        _exit(1);
                _exit(0);
        }
        close(p[0]);
        struct sigaction sa = {.sa_handler = on_alarm}, old;
        ASSERT_OK(sigaction(SIGALRM, &sa, &old));
        struct itimerval it = {.it_interval = {0, 5 * 1000}, .it_value = {0, 5 * 1000}}, off = {0};
        ASSERT_OK(setitimer(ITIMER_REAL, &it, NULL));
        int r = cp_write_full(p[1], big, BIG, "pipe");
        setitimer(ITIMER_REAL, &off, NULL);
        sigaction(SIGALRM, &old, NULL);
        ASSERT_OK(r);
        close(p[1]);
        int st;
        ASSERT_EQ(waitpid(pid, &st, 0), pid);
        ASSERT_EQ(st, 0);
        free(big);

        char path[] = "/tmp/cp-test-pwrite-XXXXXX";
        int fd = mkstemp(path);
        ASSERT_TRUE(fd >= 0);
        ASSERT_OK(cp_pwrite_full(fd, "world", 5, 6, "file"));
        ASSERT_OK(cp_pwrite_full(fd, "hello ", 6, 0, "file"));
        char buf[16] = {0};
        size_t len = 0;
        ASSERT_EQ(lseek(fd, 0, SEEK_SET), 0);
        ASSERT_OK(cp_read_full(fd, buf, sizeof buf, "file", &len));
        ASSERT_EQ(len, 11);
        ASSERT_MEMEQ(buf, "hello world", 11);
        ASSERT_ERR(cp_pwrite_full(fd, "x", 1, UINT64_MAX, "file"), CP_EINVAL);
        close(fd);
        unlink(path);
        ASSERT_ERR(cp_write_full(-1, "x", 1, "the thing"), CP_EIO);
        ASSERT_TRUE(strncmp(cp_error_message(), "the thing: ", 11) == 0);
        ASSERT_ERR(cp_pwrite_full(-1, "x", 1, 0, "the disk"), CP_EIO);
        cp_error_clear();
}

/* ---- log rate limit (issue 13 item 12) ------------------------------------------- */

#include "basic/loglimit.h"

/* A burst a window is written, the rest counted and reported when the
 * next window begins (or flushed at the end): no line goes uncounted. */
TEST(log_limit_keeps_first_lines_and_counts_the_rest) {
        cp_log_limit l;
        unsigned long missed, reported = 0, written = 0;
        cp_log_limit_init(&l, 3, 10);
        for (int64_t t = 100; t < 130; t++)          /* 3 windows, 100 lines each */
                for (int i = 0; i < 10; i++) {
                        written += cp_log_limit_take(&l, t, &missed);
                        reported += missed;
                }
        ASSERT_EQ(written, 9);                        /* 3 a window */
        ASSERT_EQ(reported, 2 * 97);                  /* the first two windows' rest */
        ASSERT_EQ(cp_log_limit_flush(&l), 97);        /* the last window's */
        ASSERT_EQ(cp_log_limit_flush(&l), 0);
        ASSERT_EQ(l.total_suppressed, 3 * 97);
        /* a clock going back starts a new window too */
        ASSERT_TRUE(cp_log_limit_take(&l, 50, &missed));
        cp_log_limit_destroy(&l);
        cp_log_limit_init(&l, 0, 0);
        ASSERT_EQ(l.burst, CP_LOG_LIMIT_BURST);
        ASSERT_EQ(l.period_s, CP_LOG_LIMIT_PERIOD_S);
        cp_log_limit_destroy(&l);
}

/* A timed wait's deadline: now + ms on CLOCK_REALTIME, nanoseconds kept
 * below one second whatever the carry; the monotonic clock in ms. */
TEST(clock_deadlines_are_normalised) {
        static const unsigned ms[] = {0, 1, 250, 999, 1000, 1001, 1999, 60000};
        for (size_t i = 0; i < sizeof ms / sizeof *ms; i++) {
                struct timespec before, after;
                clock_gettime(CLOCK_REALTIME, &before);
                struct timespec d = cp_realtime_in_ms(ms[i]);
                clock_gettime(CLOCK_REALTIME, &after);
                ASSERT_TRUE(d.tv_nsec >= 0 && d.tv_nsec < 1000000000L);
                double lo = (double) before.tv_sec + before.tv_nsec / 1e9 + ms[i] / 1e3;
                double hi = (double) after.tv_sec + after.tv_nsec / 1e9 + ms[i] / 1e3;
                double v = (double) d.tv_sec + d.tv_nsec / 1e9;
                ASSERT_TRUE(v >= lo - 1e-6 && v <= hi + 1e-6);
        }
        int64_t a = cp_monotonic_ms();
        struct timespec nap = {0, 20 * 1000000L};
        nanosleep(&nap, NULL);
        int64_t b = cp_monotonic_ms();
        ASSERT_TRUE(b - a >= 19 && b - a < 10000);
}
