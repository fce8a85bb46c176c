/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for the writer side of src/basic/cursor: cp_writer and cp_put_*. */
#include <stdlib.h>

#include "basic/cursor.h"
#include "tests.h"

/* Every width and byte order, against known bytes. */
TEST(writer_widths_and_byte_orders) {
        static const uint8_t want[] = {
                0xa5,                                           /* u8 */
                0x02, 0x01,                                     /* le16 0x0102 */
                0x04, 0x03, 0x02, 0x01,                         /* le32 0x01020304 */
                0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /* le64 0x0102030405060708 */
                0x01, 0x02,                                     /* be16 */
                0x01, 0x02, 0x03, 0x04,                         /* be32 */
                0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* be64 */
                'a', 'b', 'c',                                  /* bytes */
                0, 0, 0, 0,                                     /* zeros */
        };
        uint8_t buf[sizeof(want)];
        memset(buf, 0xee, sizeof(buf));
        cp_writer w = cp_writer_make(buf, sizeof(buf));
        ASSERT_OK(cp_writer_u8(&w, 0xa5));
        ASSERT_OK(cp_writer_le16(&w, 0x0102));
        ASSERT_OK(cp_writer_le32(&w, 0x01020304));
        ASSERT_OK(cp_writer_le64(&w, UINT64_C(0x0102030405060708)));
        ASSERT_OK(cp_writer_be16(&w, 0x0102));
        ASSERT_OK(cp_writer_be32(&w, 0x01020304));
        ASSERT_OK(cp_writer_be64(&w, UINT64_C(0x0102030405060708)));
        ASSERT_OK(cp_writer_bytes(&w, "abc", 3));
        ASSERT_OK(cp_writer_zeros(&w, 4));
        ASSERT_EQ(cp_writer_offset(&w), sizeof(want));
        ASSERT_MEMEQ(buf, want, sizeof(want));
}

TEST(writer_full_width_values) {
        static const uint8_t want[] = {
                0xff, 0xfe,
                0xfe, 0xff,
                0xfc, 0xfd, 0xfe, 0xff,
                0xff, 0xfe, 0xfd, 0xfc,
                0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff,
                0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa, 0xf9, 0xf8,
        };
        uint8_t buf[sizeof(want)];
        cp_writer w = cp_writer_make(buf, sizeof(buf));
        ASSERT_OK(cp_writer_le16(&w, 0xfeff));
        ASSERT_OK(cp_writer_be16(&w, 0xfeff));
        ASSERT_OK(cp_writer_le32(&w, 0xfffefdfc));
        ASSERT_OK(cp_writer_be32(&w, 0xfffefdfc));
        ASSERT_OK(cp_writer_le64(&w, UINT64_C(0xfffefdfcfbfaf9f8)));
        ASSERT_OK(cp_writer_be64(&w, UINT64_C(0xfffefdfcfbfaf9f8)));
        ASSERT_MEMEQ(buf, want, sizeof(want));
}

/* The fixed-position stores write the same bytes as the writer. */
TEST(put_widths_and_byte_orders) {
        uint8_t b[8];
        static const uint8_t le16[] = { 0x02, 0x01 }, be16[] = { 0x01, 0x02 };
        static const uint8_t le32[] = { 0x04, 0x03, 0x02, 0x01 }, be32[] = { 0x01, 0x02, 0x03, 0x04 };
        static const uint8_t le64[] = { 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01 };
        static const uint8_t be64[] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08 };

        memset(b, 0xee, sizeof(b));
        cp_put_le16(b, 0x0102);
        ASSERT_MEMEQ(b, le16, 2);
        ASSERT_EQ(b[2], 0xee);
        cp_put_be16(b, 0x0102);
        ASSERT_MEMEQ(b, be16, 2);
        memset(b, 0xee, sizeof(b));
        cp_put_le32(b, 0x01020304);
        ASSERT_MEMEQ(b, le32, 4);
        ASSERT_EQ(b[4], 0xee);
        cp_put_be32(b, 0x01020304);
        ASSERT_MEMEQ(b, be32, 4);
        cp_put_le64(b, UINT64_C(0x0102030405060708));
        ASSERT_MEMEQ(b, le64, 8);
        cp_put_be64(b, UINT64_C(0x0102030405060708));
        ASSERT_MEMEQ(b, be64, 8);
}

typedef int (*write_fn)(cp_writer *w);
static int w_u8(cp_writer *w) { return cp_writer_u8(w, 0x11); }
static int w_le16(cp_writer *w) { return cp_writer_le16(w, 0x1122); }
static int w_le32(cp_writer *w) { return cp_writer_le32(w, 0x11223344); }
static int w_le64(cp_writer *w) { return cp_writer_le64(w, UINT64_C(0x1122334455667788)); }
static int w_be16(cp_writer *w) { return cp_writer_be16(w, 0x1122); }
static int w_be32(cp_writer *w) { return cp_writer_be32(w, 0x11223344); }
static int w_be64(cp_writer *w) { return cp_writer_be64(w, UINT64_C(0x1122334455667788)); }
static int w_bytes5(cp_writer *w) { return cp_writer_bytes(w, "hello", 5); }
static int w_zeros3(cp_writer *w) { return cp_writer_zeros(w, 3); }

static const struct {
        const char *name;
        write_fn fn;
        size_t size;
} WRITES[] = {
        { "u8", w_u8, 1 },      { "le16", w_le16, 2 },     { "le32", w_le32, 4 },
        { "le64", w_le64, 8 },  { "be16", w_be16, 2 },     { "be32", w_be32, 4 },
        { "be64", w_be64, 8 },  { "bytes", w_bytes5, 5 },  { "zeros", w_zeros3, 3 },
};

/* Exact fit succeeds, at the start and after a prefix; the writer is then
 * full. */
TEST(writer_exact_fit) {
        for (size_t i = 0; i < sizeof(WRITES) / sizeof(WRITES[0]); i++)
                for (size_t pre = 0; pre < 3; pre++) {
                        uint8_t buf[16];
                        cp_writer w = cp_writer_make(buf, pre + WRITES[i].size);
                        ASSERT_OK(cp_writer_zeros(&w, pre));
                        ASSERT_OK(WRITES[i].fn(&w));
                        ASSERT_EQ(cp_writer_offset(&w), pre + WRITES[i].size);
                        ASSERT_ERR(cp_writer_u8(&w, 0), CP_ETOOBIG);
                        ASSERT_OK(cp_writer_bytes(&w, NULL, 0));
                        ASSERT_OK(cp_writer_zeros(&w, 0));
                }
}

/* One byte short fails with CP_ETOOBIG, and neither the writer nor the
 * buffer changes. */
TEST(writer_one_byte_short) {
        for (size_t i = 0; i < sizeof(WRITES) / sizeof(WRITES[0]); i++)
                for (size_t pre = 0; pre < 3; pre++) {
                        uint8_t buf[16], before[16];
                        memset(buf, 0xee, sizeof(buf));
                        cp_writer w = cp_writer_make(buf, pre + WRITES[i].size - 1);
                        ASSERT_OK(cp_writer_zeros(&w, pre));
                        memcpy(before, buf, sizeof(buf));
                        cp_writer saved = w;
                        ASSERT_ERR(WRITES[i].fn(&w), CP_ETOOBIG);
                        ASSERT_TRUE(w.p == saved.p && w.cap == saved.cap && w.off == saved.off &&
                                    w.max == saved.max);
                        ASSERT_MEMEQ(buf, before, sizeof(buf));
                }
}

TEST(writer_huge_and_null) {
        uint8_t buf[4];
        cp_writer w = cp_writer_make(buf, sizeof(buf));
        ASSERT_OK(cp_writer_u8(&w, 1));
        ASSERT_ERR(cp_writer_zeros(&w, SIZE_MAX), CP_ETOOBIG);
        ASSERT_ERR(cp_writer_bytes(&w, buf, SIZE_MAX - 1), CP_ETOOBIG);
        ASSERT_EQ(cp_writer_offset(&w), 1);

        /* no buffer: nothing fits, but nothing is also fine */
        w = cp_writer_make(NULL, 100);
        ASSERT_EQ(w.cap, 0);
        ASSERT_ERR(cp_writer_u8(&w, 1), CP_ETOOBIG);
        ASSERT_OK(cp_writer_bytes(&w, NULL, 0));
        ASSERT_EQ(cp_writer_offset(&w), 0);
}

/* What the writer writes, the cursor reads back. */
TEST(writer_round_trip_with_cursor) {
        uint8_t buf[64], blob[7] = { 1, 2, 3, 4, 5, 6, 7 }, got[7];
        cp_writer w = cp_writer_make(buf, sizeof(buf));
        ASSERT_OK(cp_writer_u8(&w, 0x9c));
        ASSERT_OK(cp_writer_le16(&w, 0xbeef));
        ASSERT_OK(cp_writer_be16(&w, 0xcafe));
        ASSERT_OK(cp_writer_le32(&w, 0xdeadbeef));
        ASSERT_OK(cp_writer_be32(&w, 0x8badf00d));
        ASSERT_OK(cp_writer_le64(&w, UINT64_C(0x0123456789abcdef)));
        ASSERT_OK(cp_writer_be64(&w, UINT64_C(0xfedcba9876543210)));
        ASSERT_OK(cp_writer_bytes(&w, blob, sizeof(blob)));
        ASSERT_OK(cp_writer_zeros(&w, 5));

        cp_cursor c = cp_cursor_make(buf, cp_writer_offset(&w));
        uint8_t u8;
        uint16_t u16;
        uint32_t u32;
        uint64_t u64;
        ASSERT_OK(cp_cursor_u8(&c, &u8));
        ASSERT_EQ(u8, 0x9c);
        ASSERT_OK(cp_cursor_le16(&c, &u16));
        ASSERT_EQ(u16, 0xbeef);
        ASSERT_OK(cp_cursor_be16(&c, &u16));
        ASSERT_EQ(u16, 0xcafe);
        ASSERT_OK(cp_cursor_le32(&c, &u32));
        ASSERT_U64_EQ(u32, 0xdeadbeef);
        ASSERT_OK(cp_cursor_be32(&c, &u32));
        ASSERT_U64_EQ(u32, 0x8badf00d);
        ASSERT_OK(cp_cursor_le64(&c, &u64));
        ASSERT_U64_EQ(u64, UINT64_C(0x0123456789abcdef));
        ASSERT_OK(cp_cursor_be64(&c, &u64));
        ASSERT_U64_EQ(u64, UINT64_C(0xfedcba9876543210));
        ASSERT_OK(cp_cursor_bytes(&c, sizeof(got), got));
        ASSERT_MEMEQ(got, blob, sizeof(blob));
        ASSERT_OK(cp_cursor_zero(&c, 5, "tail"));
        ASSERT_OK(cp_cursor_end(&c, "round trip"));
}

/* Rewind drops a partial record (as a builder does on failure), never
 * moves forward. */
TEST(writer_rewind) {
        uint8_t buf[8];
        cp_writer w = cp_writer_make(buf, sizeof(buf));
        ASSERT_OK(cp_writer_le16(&w, 0x0201));
        size_t mark = cp_writer_offset(&w);
        ASSERT_OK(cp_writer_le32(&w, 0xffffffff));
        cp_writer_rewind(&w, mark);
        ASSERT_EQ(cp_writer_offset(&w), 2);
        cp_writer_rewind(&w, 7);
        ASSERT_EQ(cp_writer_offset(&w), 2);
        ASSERT_OK(cp_writer_be32(&w, 0x03040506));
        static const uint8_t want[] = { 1, 2, 3, 4, 5, 6 };
        ASSERT_MEMEQ(buf, want, sizeof(want));
}

/* A growable writer keeps what it wrote across reallocations and stops at
 * max, unchanged. */
TEST(writer_growable) {
        cp_writer w = cp_writer_make_growable(5000);
        for (uint32_t i = 0; i < 1000; i++)
                ASSERT_OK(cp_writer_le32(&w, i));
        ASSERT_EQ(cp_writer_offset(&w), 4000);
        ASSERT_TRUE(w.cap >= 4000 && w.cap <= 5000);
        cp_cursor c = cp_cursor_make(w.p, w.off);
        for (uint32_t i = 0; i < 1000; i++) {
                uint32_t v;
                ASSERT_OK(cp_cursor_le32(&c, &v));
                ASSERT_EQ(v, i);
        }
        ASSERT_OK(cp_writer_zeros(&w, 996));
        ASSERT_EQ(cp_writer_offset(&w), 4996);
        cp_writer saved = w;
        ASSERT_ERR(cp_writer_le64(&w, 1), CP_ETOOBIG);
        ASSERT_ERR(cp_writer_bytes(&w, "hello", 5), CP_ETOOBIG);
        ASSERT_ERR(cp_writer_zeros(&w, SIZE_MAX), CP_ETOOBIG);
        ASSERT_TRUE(w.p == saved.p && w.cap == saved.cap && w.off == saved.off);
        ASSERT_OK(cp_writer_be32(&w, 0x01020304));
        ASSERT_EQ(cp_writer_offset(&w), 5000);
        ASSERT_EQ(w.p[4999], 0x04);
        ASSERT_ERR(cp_writer_u8(&w, 0), CP_ETOOBIG);
        cp_writer_done(&w);
        ASSERT_TRUE(w.p == NULL && w.off == 0 && w.cap == 0);

        /* a max below the first allocation: exactly max */
        w = cp_writer_make_growable(3);
        ASSERT_OK(cp_writer_bytes(&w, "abc", 3));
        ASSERT_EQ(w.cap, 3);
        ASSERT_ERR(cp_writer_u8(&w, 0), CP_ETOOBIG);
        ASSERT_MEMEQ(w.p, "abc", 3);
        cp_writer_done(&w);

        /* done on a writer that never wrote */
        w = cp_writer_make_growable(SIZE_MAX);
        cp_writer_done(&w);
        ASSERT_TRUE(w.p == NULL);
}
