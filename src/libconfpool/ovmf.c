/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OVMF footer GUID table and SEV metadata ("ASEV") parser.  The firmware
 * image is untrusted: everything is read through cp_cursor windows.
 *
 * Layout (offsets from the end of the image, N = size):
 *   [N-32, N)        reset vector area, not part of the table
 *   [N-50, N-32)     footer entry: u16 total_len, GUID 96b582de-...
 *   [N-50-(total_len-18), N-50)   table data, walked backwards: each entry
 *                    ends with an 18-byte trailer (u16 len incl. trailer,
 *                    GUID) preceded by its len-18 byte payload.
 * GUIDs are stored in EFI mixed-endian form (UUID bytes_le).
 */
#include <string.h>

#include "basic/cursor.h"
#include "basic/limits.h"
#include "confpool/snp_measure.h"

#define TRAILER_SIZE 18u
#define FOOTER_OFFSET_FROM_END 50u /* 32-byte reset area + 18-byte footer entry */

static const uint8_t GUID_FOOTER[16] = { 0xde, 0x82, 0xb5, 0x96, 0xb2, 0x1f, 0xf7, 0x45,
                                         0xba, 0xea, 0xa3, 0x66, 0xc5, 0x5a, 0x08, 0x2d };
static const uint8_t GUID_SEV_ES_RESET_BLOCK[16] = { 0xde, 0x71, 0xf7, 0x00, 0x7e, 0x1a, 0xcb, 0x4f,
                                                     0x89, 0x0e, 0x68, 0xc7, 0x7e, 0x2f, 0xb4, 0x4e };
static const uint8_t GUID_SEV_METADATA[16] = { 0x66, 0x65, 0x88, 0xdc, 0x4a, 0x98, 0x98, 0x47,
                                               0xa7, 0x5e, 0x55, 0x85, 0xa7, 0xbf, 0x67, 0xcc };
static const uint8_t GUID_SEV_HASH_TABLE_RV[16] = { 0x1f, 0x37, 0x55, 0x72, 0x3b, 0x3a, 0x04, 0x4b,
                                                    0x92, 0x7b, 0x1d, 0xa6, 0xef, 0xa8, 0xd4, 0x54 };
static const uint8_t GUID_SEV_SECRET_BLOCK[16] = { 0x61, 0xb3, 0x2e, 0x4c, 0x9b, 0x7d, 0xc3, 0x4c,
                                                   0x80, 0x81, 0x12, 0x7c, 0x90, 0xd3, 0xd2, 0x94 };
static const uint8_t GUID_SVSM_INFO[16] = { 0x12, 0xa6, 0x89, 0xa7, 0x97, 0x05, 0x4b, 0x4c,
                                            0xa4, 0x9f, 0xcb, 0xb1, 0xfe, 0x9d, 0x1d, 0xdd };

#define ASEV_SIGNATURE 0x56455341u /* "ASEV" little-endian */
#define ASEV_HEADER_SIZE 16u
#define ASEV_DESC_SIZE 12u

const char *cp_snp_section_type_name(cp_snp_section_type t) {
        switch (t) {
        case CP_SNP_SECTION_SEC_MEM:
                return "SNP_SEC_MEM";
        case CP_SNP_SECTION_SECRETS:
                return "SNP_SECRETS";
        case CP_SNP_SECTION_CPUID:
                return "CPUID";
        case CP_SNP_SECTION_SVSM_CAA:
                return "SVSM_CAA";
        case CP_SNP_SECTION_KERNEL_HASHES:
                return "SNP_KERNEL_HASHES";
        }
        return "unknown";
}

static bool section_type_valid(uint32_t t) {
        return t == CP_SNP_SECTION_SEC_MEM || t == CP_SNP_SECTION_SECRETS || t == CP_SNP_SECTION_CPUID ||
               t == CP_SNP_SECTION_SVSM_CAA || t == CP_SNP_SECTION_KERNEL_HASHES;
}

static int parse_metadata(const cp_cursor *all, uint32_t offset_from_end, cp_ovmf_info *info) {
        size_t n = all->len;
        if (offset_from_end < ASEV_HEADER_SIZE || offset_from_end > n)
                return CP_ERROR(CP_EFORMAT, "SEV metadata offset 0x%x outside the %zu-byte image",
                                offset_from_end, n);
        size_t start = n - offset_from_end;
        cp_cursor h;
        int r = cp_cursor_window(all, start, offset_from_end, &h);
        if (r < 0)
                return r;
        uint32_t sig, size, version, num;
        if ((r = cp_cursor_le32(&h, &sig)) < 0 || (r = cp_cursor_le32(&h, &size)) < 0 ||
            (r = cp_cursor_le32(&h, &version)) < 0 || (r = cp_cursor_le32(&h, &num)) < 0)
                return r;
        if (sig != ASEV_SIGNATURE)
                return CP_ERROR(CP_EFORMAT, "SEV metadata: bad signature 0x%08x (expected \"ASEV\")", sig);
        if (version != 1)
                return CP_ERROR(CP_EVERSION, "SEV metadata: unsupported version %u", version);
        if (num > CP_OVMF_MAX_SECTIONS)
                return CP_ERROR(CP_ETOOBIG, "SEV metadata: %u sections (limit %u)", num, CP_OVMF_MAX_SECTIONS);
        if (size < ASEV_HEADER_SIZE + ASEV_DESC_SIZE * num || size > offset_from_end)
                return CP_ERROR(CP_EFORMAT, "SEV metadata: size %u does not fit %u descriptors in the image",
                                size, num);
        for (uint32_t i = 0; i < num; i++) {
                uint32_t gpa, sz, type;
                if ((r = cp_cursor_le32(&h, &gpa)) < 0 || (r = cp_cursor_le32(&h, &sz)) < 0 ||
                    (r = cp_cursor_le32(&h, &type)) < 0)
                        return r;
                if (!section_type_valid(type))
                        return CP_ERROR(CP_EFORMAT, "SEV metadata: section %u has unknown type 0x%x", i, type);
                if ((gpa & (CP_SNP_PAGE_SIZE - 1)) || (sz & (CP_SNP_PAGE_SIZE - 1)))
                        return CP_ERROR(CP_EFORMAT, "SEV metadata: section %u (gpa 0x%x size 0x%x) not page aligned",
                                        i, gpa, sz);
                if ((uint64_t) gpa + sz > UINT64_C(0x100000000))
                        return CP_ERROR(CP_EFORMAT, "SEV metadata: section %u (gpa 0x%x size 0x%x) beyond 4 GiB",
                                        i, gpa, sz);
                info->sections[i] = (cp_snp_section) { .gpa = gpa, .size = sz, .type = (cp_snp_section_type) type };
        }
        info->n_sections = num;
        info->has_metadata = true;
        return 0;
}

/* Read exactly the u32 values of a payload. */
static int payload_u32s(cp_cursor *p, const char *what, uint32_t *a, uint32_t *b) {
        int r = cp_cursor_le32(p, a);
        if (r >= 0 && b)
                r = cp_cursor_le32(p, b);
        if (r < 0)
                return cp_error_wrap("OVMF table entry %s", what);
        return cp_cursor_end(p, what);
}

static int handle_entry(const uint8_t guid[16], cp_cursor *payload, cp_ovmf_info *info, uint32_t *metadata_offset,
                        bool *has_metadata_entry) {
        bool *seen = NULL;
        int r = 0;
        if (!memcmp(guid, GUID_SEV_ES_RESET_BLOCK, 16)) {
                seen = &info->has_reset_block;
                if (!*seen)
                        r = payload_u32s(payload, "SEV-ES reset block", &info->ap_reset_eip, NULL);
        } else if (!memcmp(guid, GUID_SEV_METADATA, 16)) {
                seen = has_metadata_entry;
                if (!*seen)
                        r = payload_u32s(payload, "SEV metadata offset", metadata_offset, NULL);
        } else if (!memcmp(guid, GUID_SEV_HASH_TABLE_RV, 16)) {
                seen = &info->has_hash_table;
                if (!*seen)
                        r = payload_u32s(payload, "SEV hash table", &info->hash_table_gpa, &info->hash_table_size);
        } else if (!memcmp(guid, GUID_SEV_SECRET_BLOCK, 16)) {
                seen = &info->has_secret_block;
                if (!*seen)
                        r = payload_u32s(payload, "SEV secret block", &info->secret_base, &info->secret_size);
        } else if (!memcmp(guid, GUID_SVSM_INFO, 16)) {
                /* The SVSM info payload may grow; only its first u32 is defined. */
                seen = &info->has_svsm_info;
                if (!*seen && (r = cp_cursor_le32(payload, &info->svsm_entry_offset)) < 0)
                        return cp_error_wrap("OVMF table entry SVSM info");
        } else
                return 0; /* unknown entries (TDX metadata, ...) are skipped */
        if (r < 0)
                return r;
        if (*seen)
                return CP_ERROR(CP_EFORMAT, "OVMF footer table: duplicate entry");
        *seen = true;
        return 0;
}

int cp_ovmf_parse(const uint8_t *fw, size_t len, cp_ovmf_info *ret) {
        if (!ret || (!fw && len > 0))
                return CP_ERROR(CP_EINVAL, "cp_ovmf_parse: NULL argument");
        if (len == 0)
                return CP_ERROR(CP_EFORMAT, "firmware image is empty");
        if (len > CP_MAX_FIRMWARE_SIZE)
                return CP_ERROR(CP_ETOOBIG, "firmware image of %zu bytes exceeds the limit of %u", len,
                                CP_MAX_FIRMWARE_SIZE);
        if (len % CP_SNP_PAGE_SIZE)
                return CP_ERROR(CP_EFORMAT, "firmware size %zu is not a multiple of 4096", len);

        cp_ovmf_info info = { .size = len };
        cp_cursor all = cp_cursor_make(fw, len);
        cp_cursor foot;
        int r = cp_cursor_window(&all, len - FOOTER_OFFSET_FROM_END, TRAILER_SIZE, &foot);
        if (r < 0)
                return r;
        uint16_t total_len;
        uint8_t guid[16];
        if ((r = cp_cursor_le16(&foot, &total_len)) < 0 || (r = cp_cursor_bytes(&foot, 16, guid)) < 0)
                return r;
        if (memcmp(guid, GUID_FOOTER, 16) != 0) {
                *ret = info; /* no table: nothing to measure beyond the image */
                return 0;
        }
        if (total_len < TRAILER_SIZE)
                return CP_ERROR(CP_EFORMAT, "OVMF footer table: total length %u below %u", total_len, TRAILER_SIZE);
        size_t table_len = (size_t) total_len - TRAILER_SIZE;
        if (table_len > len - FOOTER_OFFSET_FROM_END)
                return CP_ERROR(CP_ETRUNC, "OVMF footer table of %zu bytes starts before the image", table_len);
        cp_cursor table;
        if ((r = cp_cursor_window(&all, len - FOOTER_OFFSET_FROM_END - table_len, table_len, &table)) < 0)
                return r;

        uint32_t metadata_offset = 0;
        bool has_metadata_entry = false;
        size_t end = table_len;
        while (end > 0) {
                if (end < TRAILER_SIZE)
                        return CP_ERROR(CP_EFORMAT, "OVMF footer table: %zu stray bytes before the first entry", end);
                cp_cursor tr, payload;
                uint16_t elen;
                if ((r = cp_cursor_window(&table, end - TRAILER_SIZE, TRAILER_SIZE, &tr)) < 0 ||
                    (r = cp_cursor_le16(&tr, &elen)) < 0 || (r = cp_cursor_bytes(&tr, 16, guid)) < 0)
                        return r;
                if (elen < TRAILER_SIZE)
                        return CP_ERROR(CP_EFORMAT, "OVMF footer table: entry length %u below %u", elen, TRAILER_SIZE);
                if (elen > end)
                        return CP_ERROR(CP_EFORMAT, "OVMF footer table: entry length %u overruns the table (%zu left)",
                                        elen, end);
                if ((r = cp_cursor_window(&table, end - elen, elen - TRAILER_SIZE, &payload)) < 0)
                        return r;
                if ((r = handle_entry(guid, &payload, &info, &metadata_offset, &has_metadata_entry)) < 0)
                        return r;
                end -= elen;
        }
        if (has_metadata_entry && (r = parse_metadata(&all, metadata_offset, &info)) < 0)
                return r;
        *ret = info;
        return 0;
}
