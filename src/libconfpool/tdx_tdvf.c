/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TDVF metadata and MRTD (confpool/tdx_measure.h).  The footer table walk
 * follows edk2's ResetVector layout (as ovmf.c reads it for SEV): the table
 * ends 32 bytes before the end of the image with the 18-byte footer entry
 * (u16 total length, GUID 96b582de-...); entries are walked backwards, each
 * ending with u16 length (incl. the trailer) and its GUID.
 */
#include <string.h>

#include <openssl/evp.h>

#include "basic/cleanup.h"
#include "basic/cursor.h"
#include "basic/limits.h"
#include "confpool/tdx_measure.h"
#include "ossl/ossl-util.h"

#define TRAILER 18u
#define FOOTER_FROM_END 50u
#define DESC_HEADER 16u
#define SECTION_SIZE 32u

static const uint8_t GUID_FOOTER[16] = { 0xde, 0x82, 0xb5, 0x96, 0xb2, 0x1f, 0xf7, 0x45,
                                         0xba, 0xea, 0xa3, 0x66, 0xc5, 0x5a, 0x08, 0x2d };
/* e47a6535-984a-4798-865e-4685a7bf8ec2 */
static const uint8_t GUID_TDX_METADATA[16] = { 0x35, 0x65, 0x7a, 0xe4, 0x4a, 0x98, 0x98, 0x47,
                                               0x86, 0x5e, 0x46, 0x85, 0xa7, 0xbf, 0x8e, 0xc2 };

const char *cp_tdvf_section_type_name(uint32_t type) {
        static const char *const names[] = { "BFV", "CFV", "TD_HOB", "TempMem", "PermMem", "Payload", "PayloadParam" };
        return type < sizeof(names) / sizeof(names[0]) ? names[type] : "unknown";
}

/* The u32 payload of the TDX metadata entry of the footer table. */
static int find_metadata_offset(const cp_cursor *all, uint32_t *ret) {
        size_t len = all->len;
        cp_cursor foot, table;
        uint16_t total;
        uint8_t guid[16];
        bool found = false;
        int k;
        if ((k = cp_cursor_window(all, len - FOOTER_FROM_END, TRAILER, &foot)) < 0 ||
            (k = cp_cursor_le16(&foot, &total)) < 0 || (k = cp_cursor_bytes(&foot, 16, guid)) < 0)
                return k;
        if (memcmp(guid, GUID_FOOTER, 16) != 0)
                return CP_ERROR(CP_ENOTFOUND, "TDVF image has no OVMF footer table (GUID 96b582de-... at end - 48)");
        if (total < TRAILER || (size_t) total - TRAILER > len - FOOTER_FROM_END)
                return CP_ERROR(CP_EFORMAT, "OVMF footer table length %u is outside 18..%zu", total, len - 32);
        size_t tlen = (size_t) total - TRAILER, end = tlen;
        if ((k = cp_cursor_window(all, len - FOOTER_FROM_END - tlen, tlen, &table)) < 0)
                return k;
        while (end > 0) {
                cp_cursor tr, payload;
                uint16_t elen;
                if (end < TRAILER)
                        return CP_ERROR(CP_EFORMAT, "OVMF footer table: %zu stray bytes before the first entry", end);
                if ((k = cp_cursor_window(&table, end - TRAILER, TRAILER, &tr)) < 0 || (k = cp_cursor_le16(&tr, &elen)) < 0 ||
                    (k = cp_cursor_bytes(&tr, 16, guid)) < 0)
                        return k;
                if (elen < TRAILER || elen > end)
                        return CP_ERROR(CP_EFORMAT, "OVMF footer table: entry length %u is outside 18..%zu", elen, end);
                if (memcmp(guid, GUID_TDX_METADATA, 16) == 0) {
                        if (found)
                                return CP_ERROR(CP_EFORMAT, "OVMF footer table: two TDX metadata entries");
                        if (elen != TRAILER + 4)
                                return CP_ERROR(CP_EFORMAT, "OVMF footer table: TDX metadata entry payload is %u bytes, not 4",
                                                elen - TRAILER);
                        if ((k = cp_cursor_window(&table, end - elen, 4, &payload)) < 0 ||
                            (k = cp_cursor_le32(&payload, ret)) < 0)
                                return k;
                        found = true;
                }
                end -= elen;
        }
        if (!found)
                return CP_ERROR(CP_ENOTFOUND, "OVMF footer table has no TDX metadata entry (e47a6535-...): not a TDVF image");
        return 0;
}

static int check_section(const cp_tdvf_section *s, unsigned i, size_t len) {
        const uint64_t pm = CP_TDX_PAGE_SIZE - 1;
        if (s->type > CP_TDVF_PAYLOAD_PARAM)
                return CP_ERROR(CP_EFORMAT, "TDVF section %u has unknown type %u", i, s->type);
        if (s->attributes & ~(CP_TDVF_ATTR_MR_EXTEND | CP_TDVF_ATTR_PAGE_AUG))
                return CP_ERROR(CP_EFORMAT, "TDVF section %u has unknown attribute bits 0x%x", i, s->attributes);
        if ((s->attributes & CP_TDVF_ATTR_MR_EXTEND) && (s->attributes & CP_TDVF_ATTR_PAGE_AUG))
                return CP_ERROR(CP_EFORMAT, "TDVF section %u is both MR.EXTEND and PAGE.AUG", i);
        if ((s->gpa & pm) || (s->mem_size & pm) || s->mem_size == 0)
                return CP_ERROR(CP_EFORMAT, "TDVF section %u (GPA 0x%llx, size 0x%llx) is empty or not page aligned", i,
                                (unsigned long long) s->gpa, (unsigned long long) s->mem_size);
        if (s->gpa + s->mem_size < s->gpa || s->gpa + s->mem_size > (UINT64_C(1) << 52))
                return CP_ERROR(CP_EFORMAT, "TDVF section %u (GPA 0x%llx, size 0x%llx) is beyond the 52-bit GPA space", i,
                                (unsigned long long) s->gpa, (unsigned long long) s->mem_size);
        if (s->raw_size > s->mem_size)
                return CP_ERROR(CP_EFORMAT, "TDVF section %u has %u bytes of data for %llu bytes of memory", i, s->raw_size,
                                (unsigned long long) s->mem_size);
        if ((uint64_t) s->data_offset + s->raw_size > len)
                return CP_ERROR(CP_EFORMAT, "TDVF section %u data (offset 0x%x, %u bytes) is outside the %zu-byte image", i,
                                s->data_offset, s->raw_size, len);
        return 0;
}

static int check_sections(const cp_tdvf_info *info) {
        uint64_t pages = 0;
        for (size_t i = 0; i < info->n_sections; i++) {
                const cp_tdvf_section *a = &info->sections[i];
                if (!(a->attributes & CP_TDVF_ATTR_PAGE_AUG))
                        pages += a->mem_size / CP_TDX_PAGE_SIZE;
                for (size_t j = 0; j < i; j++) {
                        const cp_tdvf_section *b = &info->sections[j];
                        if (a->gpa < b->gpa + b->mem_size && b->gpa < a->gpa + a->mem_size)
                                return CP_ERROR(CP_EFORMAT, "TDVF sections %zu and %zu overlap in guest memory", j, i);
                }
        }
        if (pages > CP_TDVF_MAX_MEASURED_PAGES)
                return CP_ERROR(CP_ETOOBIG, "TDVF metadata adds %llu pages (limit %u)", (unsigned long long) pages,
                                CP_TDVF_MAX_MEASURED_PAGES);
        return 0;
}

static int parse_descriptor(const cp_cursor *all, uint32_t off_from_end, cp_tdvf_info *info) {
        size_t len = all->len;
        uint32_t sig, dlen, num;
        cp_cursor d;
        int k;
        if (off_from_end < DESC_HEADER || off_from_end > len)
                return CP_ERROR(CP_EFORMAT, "TDVF descriptor offset 0x%x from the end is outside the %zu-byte image",
                                off_from_end, len);
        info->descriptor_offset = len - off_from_end;
        if ((k = cp_cursor_window(all, info->descriptor_offset, off_from_end, &d)) < 0 ||
            (k = cp_cursor_le32(&d, &sig)) < 0 || (k = cp_cursor_le32(&d, &dlen)) < 0 ||
            (k = cp_cursor_le32(&d, &info->version)) < 0 || (k = cp_cursor_le32(&d, &num)) < 0)
                return k;
        if (sig != 0x46564454u) /* "TDVF" */
                return CP_ERROR(CP_EFORMAT, "TDVF descriptor at 0x%zx has signature 0x%08x, not \"TDVF\"",
                                info->descriptor_offset, sig);
        if (info->version != 1)
                return CP_ERROR(CP_EVERSION, "TDVF descriptor version %u is not 1", info->version);
        if (num > CP_TDVF_MAX_SECTIONS)
                return CP_ERROR(CP_ETOOBIG, "TDVF descriptor has %u sections (limit %u)", num, CP_TDVF_MAX_SECTIONS);
        if (dlen != DESC_HEADER + SECTION_SIZE * num)
                return CP_ERROR(CP_EFORMAT, "TDVF descriptor length %u is not 16 + 32 * %u", dlen, num);
        if (dlen > off_from_end)
                return CP_ERROR(CP_ETRUNC, "TDVF descriptor of %u bytes runs past the end of the image", dlen);
        for (uint32_t i = 0; i < num; i++) {
                cp_tdvf_section *s = &info->sections[i];
                if ((k = cp_cursor_le32(&d, &s->data_offset)) < 0 || (k = cp_cursor_le32(&d, &s->raw_size)) < 0 ||
                    (k = cp_cursor_le64(&d, &s->gpa)) < 0 || (k = cp_cursor_le64(&d, &s->mem_size)) < 0 ||
                    (k = cp_cursor_le32(&d, &s->type)) < 0 || (k = cp_cursor_le32(&d, &s->attributes)) < 0)
                        return k;
                if ((k = check_section(s, i, len)) < 0)
                        return k;
        }
        info->n_sections = num;
        return check_sections(info);
}

int cp_tdvf_parse(const uint8_t *fw, size_t len, cp_tdvf_info *ret) {
        uint32_t off = 0;
        int k;
        if (!ret || (!fw && len))
                return CP_ERROR(CP_EINVAL, "cp_tdvf_parse: NULL argument");
        if (len == 0 || len % CP_TDX_PAGE_SIZE)
                return CP_ERROR(CP_EFORMAT, "TDVF image of %zu bytes is empty or not a multiple of 4096", len);
        if (len > CP_MAX_FIRMWARE_SIZE)
                return CP_ERROR(CP_ETOOBIG, "TDVF image of %zu bytes exceeds the limit of %u", len, CP_MAX_FIRMWARE_SIZE);
        cp_tdvf_info info = { 0 };
        cp_cursor all = cp_cursor_make(fw, len);
        if ((k = find_metadata_offset(&all, &off)) < 0 || (k = parse_descriptor(&all, off, &info)) < 0)
                return k;
        *ret = info;
        return 0;
}

/* ---- MRTD */

static int page_add(EVP_MD_CTX *md, uint64_t gpa) {
        uint8_t b[CP_TDX_MR_BUF_SIZE] = { 0 };
        memcpy(b, "MEM.PAGE.ADD", 12);
        cp_put_le64(b + 16, gpa);
        return EVP_DigestUpdate(md, b, sizeof(b)) == 1 ? 0 : -1;
}

/* the 16 MR.EXTENDs of one page: data beyond raw_size is zero */
static int page_extend(EVP_MD_CTX *md, const uint8_t *fw, const cp_tdvf_section *s, uint64_t page) {
        for (uint64_t c = 0; c < CP_TDX_PAGE_SIZE; c += CP_TDX_MR_EXTEND_CHUNK) {
                uint8_t b[CP_TDX_MR_BUF_SIZE] = { 0 }, chunk[CP_TDX_MR_EXTEND_CHUNK] = { 0 };
                uint64_t at = page * CP_TDX_PAGE_SIZE + c;
                memcpy(b, "MR.EXTEND", 9);
                cp_put_le64(b + 16, s->gpa + at);
                if (at < s->raw_size) {
                        uint64_t n = s->raw_size - at < CP_TDX_MR_EXTEND_CHUNK ? s->raw_size - at : CP_TDX_MR_EXTEND_CHUNK;
                        memcpy(chunk, fw + s->data_offset + at, (size_t) n);
                }
                if (EVP_DigestUpdate(md, b, sizeof(b)) != 1 || EVP_DigestUpdate(md, chunk, sizeof(chunk)) != 1)
                        return -1;
        }
        return 0;
}

static int measure_section(EVP_MD_CTX *md, const uint8_t *fw, const cp_tdvf_section *s, cp_tdx_page_order order) {
        uint64_t pages = s->mem_size / CP_TDX_PAGE_SIZE;
        bool add = !(s->attributes & CP_TDVF_ATTR_PAGE_AUG), ext = s->attributes & CP_TDVF_ATTR_MR_EXTEND;
        for (uint64_t p = 0; p < pages; p++) {
                if (add && page_add(md, s->gpa + p * CP_TDX_PAGE_SIZE) < 0)
                        return -1;
                if (ext && order == CP_TDX_ORDER_SINGLE_PASS && page_extend(md, fw, s, p) < 0)
                        return -1;
        }
        for (uint64_t p = 0; ext && order == CP_TDX_ORDER_TWO_PASS && p < pages; p++)
                if (page_extend(md, fw, s, p) < 0)
                        return -1;
        return 0;
}

int cp_tdx_measure_mrtd(const uint8_t *fw, size_t len, const cp_tdvf_info *info, cp_tdx_page_order order,
                        uint8_t ret_mrtd[48]) {
        if (!fw || !info || !ret_mrtd || (order != CP_TDX_ORDER_SINGLE_PASS && order != CP_TDX_ORDER_TWO_PASS))
                return CP_ERROR(CP_EINVAL, "cp_tdx_measure_mrtd: bad argument");
        for (size_t i = 0; i < info->n_sections; i++) {
                const cp_tdvf_section *s = &info->sections[i];
                if ((uint64_t) s->data_offset + s->raw_size > len || s->raw_size > s->mem_size)
                        return CP_ERROR(CP_EINVAL, "cp_tdx_measure_mrtd: section %zu does not fit this image", i);
        }
        _cleanup_evp_md_ctx_ EVP_MD_CTX *md = EVP_MD_CTX_new();
        unsigned n = 0;
        if (!md || EVP_DigestInit_ex(md, EVP_sha384(), NULL) != 1)
                return CP_OSSL_ERROR(CP_ECRYPTO, "SHA-384 failed");
        for (size_t i = 0; i < info->n_sections; i++)
                if (measure_section(md, fw, &info->sections[i], order) < 0)
                        return CP_OSSL_ERROR(CP_ECRYPTO, "SHA-384 failed");
        if (EVP_DigestFinal_ex(md, ret_mrtd, &n) != 1 || n != 48)
                return CP_OSSL_ERROR(CP_ECRYPTO, "SHA-384 failed");
        return 0;
}

int cp_tdx_rtmr_extend(uint8_t rtmr[48], const uint8_t digest[48]) {
        uint8_t buf[96];
        unsigned n = 0;
        if (!rtmr || !digest)
                return CP_ERROR(CP_EINVAL, "cp_tdx_rtmr_extend: NULL argument");
        memcpy(buf, rtmr, 48);
        memcpy(buf + 48, digest, 48);
        if (EVP_Digest(buf, sizeof(buf), rtmr, &n, EVP_sha384(), NULL) != 1 || n != 48)
                return CP_OSSL_ERROR(CP_ECRYPTO, "SHA-384 failed");
        return 0;
}
