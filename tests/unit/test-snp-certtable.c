/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for the SNP_GET_EXT_REPORT certificate table parser and builder. */
#include <stdlib.h>

#include "basic/cursor.h"
#include "basic/limits.h"
#include "confpool/snp_report.h"
#include "tests.h"

#define ENTRY 24u

static const uint8_t guid_vcek[16] = { 0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64,
                                       0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd };
static const uint8_t guid_ask[16] = { 0x4a, 0xb7, 0xb3, 0x79, 0xbb, 0xac, 0x4f, 0xe4,
                                      0xa0, 0x2f, 0x05, 0xae, 0xf3, 0x27, 0xc7, 0x82 };
static const uint8_t guid_ark[16] = { 0xc0, 0xb4, 0x06, 0xa4, 0xa8, 0x03, 0x49, 0x52,
                                      0x97, 0x43, 0x3f, 0xb6, 0x01, 0x4c, 0xd0, 0xae };
static const uint8_t guid_vlek[16] = { 0xa8, 0x07, 0x4b, 0xc2, 0xa2, 0x5a, 0x48, 0x3e,
                                       0xaa, 0xe6, 0x39, 0xc0, 0x45, 0xa0, 0xb8, 0xa1 };
static const uint8_t guid_extra[16] = { 0xec, 0xae, 0x0c, 0x0f, 0x95, 0x02, 0x43, 0xb1,
                                        0xaf, 0xa2, 0x0a, 0xe2, 0xe0, 0xd5, 0x65, 0xb6 };
static const uint8_t guid_unknown[16] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x47, 0x08,
                                          0x89, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10 };

static uint32_t get32(const uint8_t *p) {
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

/* Parse from a heap copy of exactly len bytes (sanitizer catches over-reads). */
static int parse_copy(const uint8_t *p, size_t len, cp_snp_certtable *ret, uint8_t **ret_copy) {
        uint8_t *copy = malloc(len ? len : 1);
        ASSERT_TRUE(copy);
        if (len)
                memcpy(copy, p, len);
        int r = cp_snp_certtable_parse(copy, len, ret);
        if (ret_copy)
                *ret_copy = copy;
        else
                free(copy);
        return r;
}

/* A table with the real VCEK and made-up ASK/ARK/VLEK/unknown blobs. */
typedef struct fixture {
        uint8_t *vcek;
        size_t vcek_len;
        uint8_t ask[100], ark[77], vlek[5], other[1];
        cp_snp_cert_entry e[5];
        uint8_t buf[8192];
        size_t len;
} fixture;

static void fixture_build(fixture *f) {
        memset(f, 0, sizeof(*f));
        f->vcek = cp_test_read("snp/virtee__sev/vcek_milan.der", &f->vcek_len);
        memset(f->ask, 0xa5, sizeof(f->ask));
        memset(f->ark, 0x5a, sizeof(f->ark));
        memset(f->vlek, 0x11, sizeof(f->vlek));
        f->other[0] = 0x42;

        f->e[0] = (cp_snp_cert_entry) { .kind = CP_SNP_CERT_VCEK, .data = f->vcek, .length = (uint32_t) f->vcek_len };
        f->e[1] = (cp_snp_cert_entry) { .kind = CP_SNP_CERT_ASK, .data = f->ask, .length = sizeof(f->ask) };
        f->e[2] = (cp_snp_cert_entry) { .kind = CP_SNP_CERT_ARK, .data = f->ark, .length = sizeof(f->ark) };
        f->e[3] = (cp_snp_cert_entry) { .kind = CP_SNP_CERT_VLEK, .data = f->vlek, .length = sizeof(f->vlek) };
        f->e[4] = (cp_snp_cert_entry) { .kind = CP_SNP_CERT_OTHER, .data = f->other, .length = sizeof(f->other) };
        memcpy(f->e[4].guid, guid_unknown, 16);
        ASSERT_OK(cp_snp_certtable_build(f->e, 5, f->buf, sizeof(f->buf), &f->len));
        ASSERT_EQ(f->len, 6 * ENTRY + f->vcek_len + 100 + 77 + 5 + 1);
}

static void fixture_done(fixture *f) {
        free(f->vcek);
        f->vcek = NULL;
}

TEST(build_layout_byte_exact) {
        static fixture f;
        fixture_build(&f);
        /* entry table: GUIDs in RFC 4122 byte order, LE offsets/lengths */
        ASSERT_MEMEQ(f.buf + 0 * ENTRY, guid_vcek, 16);
        ASSERT_EQ(get32(f.buf + 16), 6 * ENTRY);
        ASSERT_EQ(get32(f.buf + 20), f.vcek_len);
        ASSERT_MEMEQ(f.buf + 1 * ENTRY, guid_ask, 16);
        ASSERT_EQ(get32(f.buf + ENTRY + 16), 6 * ENTRY + f.vcek_len);
        ASSERT_EQ(get32(f.buf + ENTRY + 20), 100);
        ASSERT_MEMEQ(f.buf + 2 * ENTRY, guid_ark, 16);
        ASSERT_MEMEQ(f.buf + 3 * ENTRY, guid_vlek, 16);
        ASSERT_MEMEQ(f.buf + 4 * ENTRY, guid_unknown, 16);
        static const uint8_t zero[ENTRY] = { 0 };
        ASSERT_MEMEQ(f.buf + 5 * ENTRY, zero, ENTRY);
        ASSERT_MEMEQ(f.buf + 6 * ENTRY, f.vcek, f.vcek_len);
        ASSERT_EQ(f.buf[f.len - 1], 0x42);
        fixture_done(&f);
}

TEST(roundtrip) {
        static fixture f;
        static cp_snp_certtable t;
        fixture_build(&f);
        ASSERT_OK(cp_snp_certtable_parse(f.buf, f.len, &t));
        ASSERT_EQ(t.n, 5);
        static const cp_snp_cert_kind kinds[] = { CP_SNP_CERT_VCEK, CP_SNP_CERT_ASK, CP_SNP_CERT_ARK, CP_SNP_CERT_VLEK,
                                                  CP_SNP_CERT_OTHER };
        for (size_t i = 0; i < 5; i++) {
                ASSERT_EQ(t.entries[i].kind, kinds[i]);
                ASSERT_EQ(t.entries[i].length, f.e[i].length);
                ASSERT_MEMEQ(t.entries[i].data, f.e[i].data, f.e[i].length);
                /* data is borrowed from the parsed buffer */
                ASSERT_TRUE(t.entries[i].data >= f.buf && t.entries[i].data + t.entries[i].length <= f.buf + f.len);
                ASSERT_TRUE(t.entries[i].data == f.buf + t.entries[i].offset);
        }
        ASSERT_MEMEQ(t.entries[4].guid, guid_unknown, 16);
        const cp_snp_cert_entry *v = cp_snp_certtable_find(&t, CP_SNP_CERT_VCEK);
        ASSERT_TRUE(v && v->length == f.vcek_len);
        ASSERT_MEMEQ(v->guid, guid_vcek, 16);
        ASSERT_TRUE(cp_snp_certtable_find(&t, CP_SNP_CERT_OTHER) == &t.entries[4]);
        ASSERT_TRUE(cp_snp_certtable_find(&t, CP_SNP_CERT_EXTRA_PLATFORM_INFO) == NULL);
        ASSERT_TRUE(cp_snp_certtable_find(NULL, CP_SNP_CERT_VCEK) == NULL);

        /* rebuilding the parsed entries reproduces the bytes */
        static uint8_t again[8192];
        size_t n2;
        ASSERT_OK(cp_snp_certtable_build(t.entries, t.n, again, sizeof(again), &n2));
        ASSERT_EQ(n2, f.len);
        ASSERT_MEMEQ(again, f.buf, f.len);
        fixture_done(&f);
}

TEST(page_padding_accepted) {
        static fixture f;
        static cp_snp_certtable t;
        fixture_build(&f);
        /* SNP_GET_EXT_REPORT hands back whole pages */
        ASSERT_TRUE(f.len <= 4096);
        ASSERT_OK(parse_copy(f.buf, 4096, &t, NULL));
        ASSERT_EQ(t.n, 5);
        ASSERT_OK(parse_copy(f.buf, 8192, &t, NULL));
        fixture_done(&f);
}

TEST(empty_table) {
        static uint8_t buf[4096];
        static cp_snp_certtable t;
        ASSERT_OK(parse_copy(buf, ENTRY, &t, NULL));
        ASSERT_EQ(t.n, 0);
        ASSERT_OK(parse_copy(buf, sizeof(buf), &t, NULL));
        ASSERT_EQ(t.n, 0);
        ASSERT_TRUE(cp_snp_certtable_find(&t, CP_SNP_CERT_VCEK) == NULL);
        size_t len;
        ASSERT_OK(cp_snp_certtable_build(NULL, 0, buf, sizeof(buf), &len));
        ASSERT_EQ(len, ENTRY);
}

TEST(extra_platform_info_kind) {
        uint8_t blob[3] = { 1, 2, 3 }, buf[128];
        cp_snp_cert_entry e = { .data = blob, .length = 3 };
        memcpy(e.guid, guid_extra, 16);
        size_t len;
        cp_snp_certtable t;
        ASSERT_OK(cp_snp_certtable_build(&e, 1, buf, sizeof(buf), &len));
        ASSERT_OK(cp_snp_certtable_parse(buf, len, &t));
        ASSERT_EQ(t.entries[0].kind, CP_SNP_CERT_EXTRA_PLATFORM_INFO);
}

TEST(kind_names_and_guids) {
        ASSERT_STREQ(cp_snp_cert_kind_name(CP_SNP_CERT_VCEK), "VCEK");
        ASSERT_STREQ(cp_snp_cert_kind_name(CP_SNP_CERT_VLEK), "VLEK");
        ASSERT_STREQ(cp_snp_cert_kind_name(CP_SNP_CERT_ASK), "ASK");
        ASSERT_STREQ(cp_snp_cert_kind_name(CP_SNP_CERT_ARK), "ARK");
        ASSERT_STREQ(cp_snp_cert_kind_name(CP_SNP_CERT_EXTRA_PLATFORM_INFO), "extra-platform-info");
        ASSERT_STREQ(cp_snp_cert_kind_name(CP_SNP_CERT_OTHER), "other");
        ASSERT_STREQ(cp_snp_cert_kind_name(_CP_SNP_CERT_KIND_MAX), "other");
        ASSERT_MEMEQ(cp_snp_cert_kind_guid(CP_SNP_CERT_VCEK), guid_vcek, 16);
        ASSERT_MEMEQ(cp_snp_cert_kind_guid(CP_SNP_CERT_ASK), guid_ask, 16);
        ASSERT_MEMEQ(cp_snp_cert_kind_guid(CP_SNP_CERT_ARK), guid_ark, 16);
        ASSERT_MEMEQ(cp_snp_cert_kind_guid(CP_SNP_CERT_VLEK), guid_vlek, 16);
        ASSERT_MEMEQ(cp_snp_cert_kind_guid(CP_SNP_CERT_EXTRA_PLATFORM_INFO), guid_extra, 16);
        ASSERT_TRUE(cp_snp_cert_kind_guid(CP_SNP_CERT_OTHER) == NULL);
        ASSERT_EQ(cp_snp_cert_kind_from_guid(guid_vlek), CP_SNP_CERT_VLEK);
        ASSERT_EQ(cp_snp_cert_kind_from_guid(guid_unknown), CP_SNP_CERT_OTHER);
        ASSERT_EQ(cp_snp_cert_kind_from_guid(NULL), CP_SNP_CERT_OTHER);
        /* the GUID in the Microsoft mixed-endian layout is not the VCEK */
        static const uint8_t swapped[16] = { 0x8d, 0x75, 0xda, 0x63, 0x64, 0xe6, 0x64, 0x45,
                                             0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd };
        ASSERT_EQ(cp_snp_cert_kind_from_guid(swapped), CP_SNP_CERT_OTHER);
}

/* ---- negatives */

TEST(truncated_every_length) {
        static fixture f;
        static cp_snp_certtable t;
        fixture_build(&f);
        for (size_t n = 0; n < f.len; n++) {
                int r = parse_copy(f.buf, n, &t, NULL);
                if (n < ENTRY)
                        ASSERT_ERR(r, CP_ETRUNC);
                else if (n < 6 * ENTRY)
                        ASSERT_ERR(r, CP_EFORMAT); /* the terminator is missing or entries point past it */
                else
                        ASSERT_ERR(r, CP_ETRUNC); /* the last blob is cut */
        }
        ASSERT_OK(parse_copy(f.buf, f.len, &t, NULL));
        ASSERT_ERR(cp_snp_certtable_parse(NULL, 0, &t), CP_ETRUNC);
        fixture_done(&f);
}

TEST(invalid_arguments) {
        uint8_t buf[ENTRY] = { 0 };
        cp_snp_certtable t;
        ASSERT_ERR(cp_snp_certtable_parse(buf, sizeof(buf), NULL), CP_EINVAL);
        ASSERT_ERR(cp_snp_certtable_parse(NULL, sizeof(buf), &t), CP_EINVAL);
}

TEST(too_big) {
        uint8_t *buf = calloc(1, CP_MAX_CERTTABLE_SIZE + 1);
        cp_snp_certtable t;
        ASSERT_TRUE(buf);
        ASSERT_OK(cp_snp_certtable_parse(buf, CP_MAX_CERTTABLE_SIZE, &t));
        ASSERT_ERR(cp_snp_certtable_parse(buf, CP_MAX_CERTTABLE_SIZE + 1, &t), CP_ETOOBIG);
        free(buf);
}

TEST(missing_terminator) {
        /* two entries filling the buffer, no zero entry */
        uint8_t buf[2 * ENTRY] = { 0 };
        cp_snp_certtable t;
        memcpy(buf, guid_vcek, 16);
        cp_put_le32(buf + 16, 2 * ENTRY);
        cp_put_le32(buf + 20, 1);
        memcpy(buf + ENTRY, guid_ask, 16);
        cp_put_le32(buf + ENTRY + 16, 3 * ENTRY);
        cp_put_le32(buf + ENTRY + 20, 1);
        ASSERT_ERR(parse_copy(buf, sizeof(buf), &t, NULL), CP_EFORMAT);
        ASSERT_TRUE(strstr(cp_error_message(), "terminator") != NULL);

        /* the terminator of a built table overwritten: the entry table
         * runs into the first certificate */
        static fixture f;
        fixture_build(&f);
        memset(f.buf + 5 * ENTRY, 0xee, ENTRY);
        ASSERT_ERR(parse_copy(f.buf, f.len, &t, NULL), CP_EFORMAT);
        fixture_done(&f);
}

TEST(terminator_with_offset_or_length) {
        static fixture f;
        static cp_snp_certtable t;
        fixture_build(&f);
        cp_put_le32(f.buf + 5 * ENTRY + 16, 1);
        ASSERT_ERR(parse_copy(f.buf, f.len, &t, NULL), CP_EFORMAT);
        cp_put_le32(f.buf + 5 * ENTRY + 16, 0);
        cp_put_le32(f.buf + 5 * ENTRY + 20, 1);
        ASSERT_ERR(parse_copy(f.buf, f.len, &t, NULL), CP_EFORMAT);
        fixture_done(&f);
}

TEST(offset_into_header) {
        static fixture f;
        static cp_snp_certtable t;
        fixture_build(&f);
        /* every offset inside the 6-entry header, for the first and the last entry */
        for (uint32_t off = 0; off < 6 * ENTRY; off++) {
                static uint8_t copy[8192];
                memcpy(copy, f.buf, f.len);
                cp_put_le32(copy + 16, off);
                ASSERT_ERR(parse_copy(copy, f.len, &t, NULL), CP_EFORMAT);
                memcpy(copy, f.buf, f.len);
                cp_put_le32(copy + 4 * ENTRY + 16, off);
                cp_put_le32(copy + 4 * ENTRY + 20, 1);
                ASSERT_ERR(parse_copy(copy, f.len, &t, NULL), CP_EFORMAT);
        }
        fixture_done(&f);
}

TEST(offset_length_overflow) {
        static fixture f;
        static cp_snp_certtable t;
        fixture_build(&f);
        static const uint32_t offs[] = { 0xffffffffu, 0xfffffff0u, 0x80000000u };
        static const uint32_t lens[] = { 0xffffffffu, 0x20u, 0x80000000u, 1u };
        for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++)
                for (size_t j = 0; j < sizeof(lens) / sizeof(lens[0]); j++) {
                        static uint8_t copy[8192];
                        memcpy(copy, f.buf, f.len);
                        cp_put_le32(copy + 16, offs[i]);
                        cp_put_le32(copy + 20, lens[j]);
                        ASSERT_ERR(parse_copy(copy, f.len, &t, NULL), CP_ETRUNC);
                }
        /* valid offset, length running past the end */
        static uint8_t copy[8192];
        memcpy(copy, f.buf, f.len);
        cp_put_le32(copy + 4 * ENTRY + 20, 0xffffffffu);
        ASSERT_ERR(parse_copy(copy, f.len, &t, NULL), CP_ETRUNC);
        cp_put_le32(copy + 4 * ENTRY + 20, 2); /* one byte past the end */
        ASSERT_ERR(parse_copy(copy, f.len, &t, NULL), CP_ETRUNC);
        fixture_done(&f);
}

TEST(zero_length) {
        static fixture f;
        static cp_snp_certtable t;
        fixture_build(&f);
        cp_put_le32(f.buf + ENTRY + 20, 0);
        ASSERT_ERR(parse_copy(f.buf, f.len, &t, NULL), CP_EFORMAT);
        fixture_done(&f);
}

TEST(duplicate_guid) {
        static fixture f;
        static cp_snp_certtable t;
        fixture_build(&f);
        memcpy(f.buf + 2 * ENTRY, guid_ask, 16); /* the ARK entry claims to be an ASK too */
        ASSERT_ERR(parse_copy(f.buf, f.len, &t, NULL), CP_EFORMAT);
        ASSERT_TRUE(strstr(cp_error_message(), "duplicate GUID 4ab7b379-bbac-4fe4-a02f-05aef327c782") != NULL);
        fixture_done(&f);
}

TEST(overlapping_entries) {
        static fixture f;
        static cp_snp_certtable t;
        fixture_build(&f);
        /* the ASK entry points at the VCEK's bytes */
        cp_put_le32(f.buf + ENTRY + 16, get32(f.buf + 16) + 10);
        ASSERT_ERR(parse_copy(f.buf, f.len, &t, NULL), CP_EFORMAT);
        fixture_done(&f);
}

static void build_n(size_t n, uint8_t *buf, size_t cap, size_t *ret_len) {
        static uint8_t blob[1] = { 7 };
        static cp_snp_cert_entry e[CP_SNP_CERTTABLE_MAX + 1];
        memset(e, 0, sizeof(e));
        for (size_t i = 0; i < n; i++) {
                e[i].data = blob;
                e[i].length = 1;
                memcpy(e[i].guid, guid_unknown, 16);
                e[i].guid[15] = (uint8_t) i;
        }
        ASSERT_OK(cp_snp_certtable_build(e, n, buf, cap, ret_len));
}

TEST(entry_count_limit) {
        static uint8_t buf[4096];
        static cp_snp_certtable t;
        size_t len;
        build_n(CP_SNP_CERTTABLE_MAX, buf, sizeof(buf), &len);
        ASSERT_OK(cp_snp_certtable_parse(buf, len, &t));
        ASSERT_EQ(t.n, CP_SNP_CERTTABLE_MAX);

        /* 33 entries, by hand (the builder refuses) */
        static uint8_t big[4096];
        size_t n = CP_SNP_CERTTABLE_MAX + 1, hdr = (n + 1) * ENTRY;
        memset(big, 0, sizeof(big));
        for (size_t i = 0; i < n; i++) {
                memcpy(big + i * ENTRY, guid_unknown, 16);
                big[i * ENTRY + 15] = (uint8_t) i;
                cp_put_le32(big + i * ENTRY + 16, (uint32_t) (hdr + i));
                cp_put_le32(big + i * ENTRY + 20, 1);
                big[hdr + i] = 7;
        }
        ASSERT_ERR(parse_copy(big, hdr + n, &t, NULL), CP_ETOOBIG);

        static cp_snp_cert_entry e[CP_SNP_CERTTABLE_MAX + 1];
        static uint8_t blob[1] = { 1 };
        for (size_t i = 0; i < n; i++)
                e[i] = (cp_snp_cert_entry) { .data = blob, .length = 1, .guid = { 1, (uint8_t) i } };
        ASSERT_ERR(cp_snp_certtable_build(e, n, big, sizeof(big), &len), CP_EINVAL);
}

TEST(trailing_junk) {
        static fixture f;
        static cp_snp_certtable t;
        static uint8_t copy[8192];
        fixture_build(&f);
        /* after the last blob */
        for (size_t at = f.len; at < f.len + 40; at += 13) {
                memcpy(copy, f.buf, f.len);
                memset(copy + f.len, 0, sizeof(copy) - f.len);
                copy[at] = 1;
                ASSERT_ERR(parse_copy(copy, f.len + 40, &t, NULL), CP_ETRAILING);
        }
        /* a gap between blobs: shrink the ASK entry by one byte */
        memcpy(copy, f.buf, f.len);
        cp_put_le32(copy + ENTRY + 20, 99);
        ASSERT_ERR(parse_copy(copy, f.len, &t, NULL), CP_ETRAILING);
        /* ... that is zero is fine */
        copy[get32(copy + ENTRY + 16) + 99] = 0;
        ASSERT_OK(parse_copy(copy, f.len, &t, NULL));
        fixture_done(&f);
}

TEST(output_untouched_on_failure) {
        static fixture f;
        static cp_snp_certtable t, before;
        fixture_build(&f);
        memset(&t, 0x3c, sizeof(t));
        memcpy(&before, &t, sizeof(t));
        f.buf[f.len - 1] = 0;
        ASSERT_OK(cp_snp_certtable_parse(f.buf, f.len, &t)); /* sanity: zero data is still data */
        memset(&t, 0x3c, sizeof(t));
        ASSERT_ERR(cp_snp_certtable_parse(f.buf, f.len - 1, &t), CP_ETRUNC);
        ASSERT_MEMEQ(&t, &before, sizeof(t));
        fixture_done(&f);
}

TEST(build_errors) {
        static uint8_t out[256];
        uint8_t blob[4] = { 1, 2, 3, 4 };
        size_t len = 0;
        cp_snp_cert_entry e[2] = {
                { .kind = CP_SNP_CERT_VCEK, .data = blob, .length = 4 },
                { .kind = CP_SNP_CERT_ASK, .data = blob, .length = 4 },
        };
        /* size query */
        ASSERT_ERR(cp_snp_certtable_build(e, 2, NULL, 0, &len), CP_ETOOBIG);
        ASSERT_EQ(len, 3 * ENTRY + 8);
        ASSERT_ERR(cp_snp_certtable_build(e, 2, out, 3 * ENTRY + 7, &len), CP_ETOOBIG);
        ASSERT_OK(cp_snp_certtable_build(e, 2, out, 3 * ENTRY + 8, &len));
        /* duplicates, by kind or by explicit GUID */
        e[1].kind = CP_SNP_CERT_VCEK;
        ASSERT_ERR(cp_snp_certtable_build(e, 2, out, sizeof(out), &len), CP_EINVAL);
        e[1].kind = CP_SNP_CERT_OTHER;
        memcpy(e[1].guid, guid_vcek, 16);
        ASSERT_ERR(cp_snp_certtable_build(e, 2, out, sizeof(out), &len), CP_EINVAL);
        /* no GUID and no kind */
        memset(e[1].guid, 0, 16);
        ASSERT_ERR(cp_snp_certtable_build(e, 2, out, sizeof(out), &len), CP_EINVAL);
        e[1].kind = CP_SNP_CERT_ARK;
        /* empty data */
        e[1].length = 0;
        ASSERT_ERR(cp_snp_certtable_build(e, 2, out, sizeof(out), &len), CP_EINVAL);
        e[1].length = 4;
        e[1].data = NULL;
        ASSERT_ERR(cp_snp_certtable_build(e, 2, out, sizeof(out), &len), CP_EINVAL);
        e[1].data = blob;
        /* over the size limit */
        e[1].length = CP_MAX_CERTTABLE_SIZE;
        ASSERT_ERR(cp_snp_certtable_build(e, 2, out, sizeof(out), &len), CP_ETOOBIG);
        e[1].length = UINT32_MAX;
        ASSERT_ERR(cp_snp_certtable_build(e, 2, out, sizeof(out), &len), CP_ETOOBIG);
        ASSERT_ERR(cp_snp_certtable_build(NULL, 2, out, sizeof(out), &len), CP_EINVAL);
        ASSERT_ERR(cp_snp_certtable_build(e, 2, out, sizeof(out), NULL), CP_EINVAL);
}

TEST(independently_built_seed_tables) {
        /* The fuzz seeds were written by a separate script (Python uuid.bytes
         * for the GUIDs, the real Milan VCEK/ASK/ARK DER); they must parse. */
        static const struct {
                const char *name;
                size_t n;
                cp_snp_cert_kind first;
        } seeds[] = {
                { "real-milan-vcek-ask-ark.bin", 3, CP_SNP_CERT_VCEK },
                { "small-all-kinds.bin", 5, CP_SNP_CERT_VLEK },
                { "small-padded.bin", 1, CP_SNP_CERT_VCEK },
                { "empty.bin", 0, CP_SNP_CERT_OTHER },
        };
        for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
                char rel[256];
                size_t len;
                cp_snp_certtable t;
                snprintf(rel, sizeof(rel), "../../fuzz/corpus/fuzz-snp-certtable/%s", seeds[i].name);
                uint8_t *buf = cp_test_read(rel, &len);
                ASSERT_OK(cp_snp_certtable_parse(buf, len, &t));
                ASSERT_EQ(t.n, seeds[i].n);
                if (t.n > 0)
                        ASSERT_EQ(t.entries[0].kind, seeds[i].first);
                if (i == 0) {
                        size_t vlen;
                        uint8_t *vcek = cp_test_read("snp/virtee__sev/vcek_milan.der", &vlen);
                        const cp_snp_cert_entry *e = cp_snp_certtable_find(&t, CP_SNP_CERT_VCEK);
                        ASSERT_TRUE(e && e->length == vlen);
                        ASSERT_MEMEQ(e->data, vcek, vlen);
                        ASSERT_TRUE(cp_snp_certtable_find(&t, CP_SNP_CERT_ASK) != NULL);
                        ASSERT_TRUE(cp_snp_certtable_find(&t, CP_SNP_CERT_ARK) != NULL);
                        free(vcek);
                }
                free(buf);
        }
}
