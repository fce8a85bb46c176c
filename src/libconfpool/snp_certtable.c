/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The certificate table returned with SNP_GET_EXT_REPORT (GHCB spec,
 * "SNP Extended Guest Request", and the configfs-tsm auxblob):
 *
 *   entry[i] = { GUID[16], offset (u32 LE), length (u32 LE) }   24 bytes each
 *   terminator = 24 zero bytes
 *   certificate data, addressed by offsets relative to the table start
 *
 * GUID bytes are the GUID string's bytes in RFC 4122 (big-endian) order, as
 * go-sev-guest reads and writes them.
 */
#include <string.h>

#include "basic/cursor.h"
#include "basic/limits.h"
#include "confpool/snp_report.h"

#define ENTRY_SIZE 24u
#define GUID_SIZE  16u

static const struct {
        cp_snp_cert_kind kind;
        const char *name;
        uint8_t guid[GUID_SIZE];
} known_kinds[] = {
        { CP_SNP_CERT_ARK, "ARK",
          { 0xc0, 0xb4, 0x06, 0xa4, 0xa8, 0x03, 0x49, 0x52, 0x97, 0x43, 0x3f, 0xb6, 0x01, 0x4c, 0xd0, 0xae } },
        { CP_SNP_CERT_ASK, "ASK",
          { 0x4a, 0xb7, 0xb3, 0x79, 0xbb, 0xac, 0x4f, 0xe4, 0xa0, 0x2f, 0x05, 0xae, 0xf3, 0x27, 0xc7, 0x82 } },
        { CP_SNP_CERT_VCEK, "VCEK",
          { 0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64, 0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd } },
        { CP_SNP_CERT_VLEK, "VLEK",
          { 0xa8, 0x07, 0x4b, 0xc2, 0xa2, 0x5a, 0x48, 0x3e, 0xaa, 0xe6, 0x39, 0xc0, 0x45, 0xa0, 0xb8, 0xa1 } },
        { CP_SNP_CERT_EXTRA_PLATFORM_INFO, "extra-platform-info",
          { 0xec, 0xae, 0x0c, 0x0f, 0x95, 0x02, 0x43, 0xb1, 0xaf, 0xa2, 0x0a, 0xe2, 0xe0, 0xd5, 0x65, 0xb6 } },
};

_Static_assert(sizeof(known_kinds) / sizeof(known_kinds[0]) == _CP_SNP_CERT_KIND_MAX - 1,
               "every known certificate kind has a GUID");

const char *cp_snp_cert_kind_name(cp_snp_cert_kind k) {
        for (size_t i = 0; i < sizeof(known_kinds) / sizeof(known_kinds[0]); i++)
                if (known_kinds[i].kind == k)
                        return known_kinds[i].name;
        return "other";
}

const uint8_t *cp_snp_cert_kind_guid(cp_snp_cert_kind k) {
        for (size_t i = 0; i < sizeof(known_kinds) / sizeof(known_kinds[0]); i++)
                if (known_kinds[i].kind == k)
                        return known_kinds[i].guid;
        return NULL;
}

cp_snp_cert_kind cp_snp_cert_kind_from_guid(const uint8_t guid[16]) {
        if (!guid)
                return CP_SNP_CERT_OTHER;
        for (size_t i = 0; i < sizeof(known_kinds) / sizeof(known_kinds[0]); i++)
                if (memcmp(known_kinds[i].guid, guid, GUID_SIZE) == 0)
                        return known_kinds[i].kind;
        return CP_SNP_CERT_OTHER;
}

static bool guid_is_zero(const uint8_t guid[GUID_SIZE]) {
        for (size_t i = 0; i < GUID_SIZE; i++)
                if (guid[i])
                        return false;
        return true;
}

static void format_guid(const uint8_t g[GUID_SIZE], char out[37]) {
        static const char hex[] = "0123456789abcdef";
        size_t o = 0;
        for (size_t i = 0; i < GUID_SIZE; i++) {
                if (i == 4 || i == 6 || i == 8 || i == 10)
                        out[o++] = '-';
                out[o++] = hex[g[i] >> 4];
                out[o++] = hex[g[i] & 0xf];
        }
        out[o] = '\0';
}

/* Bytes [from, to) of the table must be zero: they are not covered by any
 * entry, and only zero padding is allowed there. */
static int check_uncovered(const cp_cursor *all, size_t from, size_t to) {
        cp_cursor w;
        int k;

        if (to <= from)
                return 0;
        if ((k = cp_cursor_window(all, from, to - from, &w)) < 0)
                return k;
        for (size_t i = 0; i < to - from; i++) {
                uint8_t b;
                if ((k = cp_cursor_u8(&w, &b)) < 0)
                        return k;
                if (b != 0)
                        return CP_ERROR(CP_ETRAILING,
                                        "certificate table: non-zero byte 0x%02x at offset 0x%zx is not covered by any entry",
                                        b, from + i);
        }
        return 0;
}

int cp_snp_certtable_parse(const uint8_t *buf, size_t len, cp_snp_certtable *ret) {
        cp_snp_certtable t;
        cp_cursor c;
        size_t header_end, order[CP_SNP_CERTTABLE_MAX];
        int k;

        if (!ret || (!buf && len > 0))
                return CP_ERROR(CP_EINVAL, "cp_snp_certtable_parse: invalid arguments");
        if (len > CP_MAX_CERTTABLE_SIZE)
                return CP_ERROR(CP_ETOOBIG, "certificate table of %zu bytes exceeds the limit of %u", len,
                                CP_MAX_CERTTABLE_SIZE);
        if (len < ENTRY_SIZE)
                return CP_ERROR(CP_ETRUNC, "certificate table truncated: %zu bytes, need at least %u", len, ENTRY_SIZE);

        memset(&t, 0, sizeof(t));
        c = cp_cursor_make(buf, len);

        /* The entry table.  Offsets may not point into it, so the lowest
         * offset seen so far bounds where the terminator must appear (every
         * offset seen is >= at + ENTRY_SIZE, so lowest - at cannot wrap). */
        size_t lowest = len;
        for (;;) {
                cp_snp_cert_entry e = { 0 };
                size_t at = cp_cursor_offset(&c);

                if (ENTRY_SIZE > cp_cursor_remaining(&c))
                        return CP_ERROR(CP_EFORMAT, "certificate table: no terminator entry within %zu bytes", len);
                if (ENTRY_SIZE > lowest - at)
                        return CP_ERROR(CP_EFORMAT,
                                        "certificate table: entry table not terminated before the data at offset 0x%zx",
                                        lowest);
                if ((k = cp_cursor_bytes(&c, GUID_SIZE, e.guid)) < 0 || (k = cp_cursor_le32(&c, &e.offset)) < 0 ||
                    (k = cp_cursor_le32(&c, &e.length)) < 0)
                        return k;

                if (guid_is_zero(e.guid)) {
                        if (e.offset != 0 || e.length != 0)
                                return CP_ERROR(CP_EFORMAT,
                                                "certificate table: entry %zu has a zero GUID but offset 0x%x length %u",
                                                t.n, e.offset, e.length);
                        break; /* terminator */
                }
                if (t.n >= CP_SNP_CERTTABLE_MAX)
                        return CP_ERROR(CP_ETOOBIG, "certificate table has more than %u entries", CP_SNP_CERTTABLE_MAX);
                if (e.length == 0)
                        return CP_ERROR(CP_EFORMAT, "certificate table: entry %zu has length 0", t.n);
                /* This entry and at least the terminator come before any data. */
                if (e.offset < at + 2 * ENTRY_SIZE)
                        return CP_ERROR(CP_EFORMAT,
                                        "certificate table: entry %zu offset 0x%x points into the entry table",
                                        t.n, e.offset);
                if (e.offset < lowest)
                        lowest = e.offset;
                for (size_t i = 0; i < t.n; i++)
                        if (memcmp(t.entries[i].guid, e.guid, GUID_SIZE) == 0) {
                                char g[37];
                                format_guid(e.guid, g);
                                return CP_ERROR(CP_EFORMAT, "certificate table: duplicate GUID %s (entries %zu and %zu)",
                                                g, i, t.n);
                        }
                e.kind = cp_snp_cert_kind_from_guid(e.guid);
                t.entries[t.n++] = e;
        }
        header_end = cp_cursor_offset(&c);

        /* The data: every entry inside the buffer, after the terminator. */
        for (size_t i = 0; i < t.n; i++) {
                cp_snp_cert_entry *e = &t.entries[i];
                cp_cursor w;

                if (e->offset < header_end)
                        return CP_ERROR(CP_EFORMAT,
                                        "certificate table: entry %zu (%s) offset 0x%x points into the entry table (0x%zx bytes)",
                                        i, cp_snp_cert_kind_name(e->kind), e->offset, header_end);
                if (e->offset > len || e->length > len - e->offset)
                        return CP_ERROR(CP_ETRUNC,
                                        "certificate table: entry %zu (%s) at offset 0x%x length %u exceeds the %zu-byte buffer",
                                        i, cp_snp_cert_kind_name(e->kind), e->offset, e->length, len);
                if ((k = cp_cursor_window(&c, e->offset, e->length, &w)) < 0 ||
                    (k = cp_cursor_ptr(&w, e->length, &e->data)) < 0)
                        return k;
        }

        /* Sort by offset (insertion sort, n <= 32) to find overlaps and
         * bytes that no entry covers. */
        for (size_t i = 0; i < t.n; i++) {
                size_t j = i;
                while (j > 0 && t.entries[order[j - 1]].offset > t.entries[i].offset) {
                        order[j] = order[j - 1];
                        j--;
                }
                order[j] = i;
        }
        size_t pos = header_end;
        for (size_t i = 0; i < t.n; i++) {
                const cp_snp_cert_entry *e = &t.entries[order[i]];
                if (e->offset < pos)
                        return CP_ERROR(CP_EFORMAT, "certificate table: entry %zu (%s) at offset 0x%x overlaps another entry",
                                        order[i], cp_snp_cert_kind_name(e->kind), e->offset);
                if ((k = check_uncovered(&c, pos, e->offset)) < 0)
                        return k;
                pos = (size_t) e->offset + e->length;
        }
        if ((k = check_uncovered(&c, pos, len)) < 0)
                return k;

        *ret = t;
        return 0;
}

const cp_snp_cert_entry *cp_snp_certtable_find(const cp_snp_certtable *t, cp_snp_cert_kind kind) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n && i < CP_SNP_CERTTABLE_MAX; i++)
                if (t->entries[i].kind == kind)
                        return &t->entries[i];
        return NULL;
}

int cp_snp_certtable_build(const cp_snp_cert_entry *entries, size_t n, uint8_t *out, size_t cap, size_t *ret_len) {
        uint8_t guids[CP_SNP_CERTTABLE_MAX][GUID_SIZE];
        size_t total;

        if (!ret_len || (n > 0 && !entries) || (!out && cap > 0))
                return CP_ERROR(CP_EINVAL, "cp_snp_certtable_build: invalid arguments");
        if (n > CP_SNP_CERTTABLE_MAX)
                return CP_ERROR(CP_EINVAL, "certificate table: %zu entries, at most %u", n, CP_SNP_CERTTABLE_MAX);

        total = (n + 1) * ENTRY_SIZE;
        for (size_t i = 0; i < n; i++) {
                const cp_snp_cert_entry *e = &entries[i];

                if (!e->data || e->length == 0)
                        return CP_ERROR(CP_EINVAL, "certificate table: entry %zu has no data", i);
                if (!guid_is_zero(e->guid))
                        memcpy(guids[i], e->guid, GUID_SIZE);
                else {
                        const uint8_t *g = cp_snp_cert_kind_guid(e->kind);
                        if (!g)
                                return CP_ERROR(CP_EINVAL, "certificate table: entry %zu has neither a GUID nor a known kind", i);
                        memcpy(guids[i], g, GUID_SIZE);
                }
                for (size_t j = 0; j < i; j++)
                        if (memcmp(guids[j], guids[i], GUID_SIZE) == 0)
                                return CP_ERROR(CP_EINVAL, "certificate table: entries %zu and %zu have the same GUID", j, i);
                if (e->length > CP_MAX_CERTTABLE_SIZE - total)
                        return CP_ERROR(CP_ETOOBIG, "certificate table would exceed %u bytes", CP_MAX_CERTTABLE_SIZE);
                total += e->length;
        }

        *ret_len = total;
        if (total > cap)
                return CP_ERROR(CP_ETOOBIG, "certificate table needs %zu bytes, buffer has %zu", total, cap);

        /* the entries, the all-zero terminator, then the certificates */
        cp_writer w = cp_writer_make(out, total);
        size_t off = (n + 1) * ENTRY_SIZE;
        int r;
        for (size_t i = 0; i < n; i++) {
                if ((r = cp_writer_bytes(&w, guids[i], GUID_SIZE)) < 0 ||
                    (r = cp_writer_le32(&w, (uint32_t) off)) < 0 || (r = cp_writer_le32(&w, entries[i].length)) < 0)
                        return r;
                off += entries[i].length;
        }
        if ((r = cp_writer_zeros(&w, ENTRY_SIZE)) < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                if ((r = cp_writer_bytes(&w, entries[i].data, entries[i].length)) < 0)
                        return r;
        if (cp_writer_offset(&w) != total)
                return CP_ERROR(CP_EINTERNAL, "certificate table: wrote %zu of %zu bytes", cp_writer_offset(&w), total);
        return 0;
}
