/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OVMF footer GUID table and SEV metadata parser: the real images (the
 * peer's edk2-stable202405 fixtures and Debian's OVMF builds) against the
 * layouts in snp-measure.md §3-§4, and negative tests on synthetic images:
 * table truncation at every length, bad entry lengths, duplicates, short and
 * long payloads, bad metadata signature/version/size/types/alignment.
 */
#include <stdlib.h>
#include <string.h>

#include "basic/cleanup.h"
#include "basic/fileio.h"
#include "basic/limits.h"
#include "confpool/snp_measure.h"
#include "ovmf-testutil.h"
#include "tests.h"

static void expect_sections(const cp_ovmf_info *info, const cp_snp_section *want, size_t n, int line) {
        if (!info->has_metadata || info->n_sections != n)
                cp_test_fail(__FILE__, line, "expected %zu sections, got %zu", n, info->n_sections);
        for (size_t i = 0; i < n; i++)
                if (info->sections[i].gpa != want[i].gpa || info->sections[i].size != want[i].size ||
                    info->sections[i].type != want[i].type)
                        cp_test_fail(__FILE__, line, "section %zu: 0x%x/0x%x/%d", i, info->sections[i].gpa,
                                     info->sections[i].size, (int) info->sections[i].type);
}

TEST(amdsev_fixture) {
        size_t len;
        _cleanup_free_ uint8_t *fw = cp_test_read("measure/ovmf_AmdSev_suffix.bin", &len);
        cp_ovmf_info info;
        ASSERT_OK(cp_ovmf_parse(fw, len, &info));
        ASSERT_TRUE(info.has_reset_block);
        ASSERT_U64_EQ(info.ap_reset_eip, 0x80b004);
        ASSERT_TRUE(info.has_hash_table);
        ASSERT_U64_EQ(info.hash_table_gpa, 0x810c00);
        ASSERT_U64_EQ(info.hash_table_size, 0x400);
        ASSERT_TRUE(info.has_secret_block);
        ASSERT_FALSE(info.has_svsm_info);
        static const cp_snp_section want[] = {
                { 0x800000, 0x9000, CP_SNP_SECTION_SEC_MEM },  { 0x80a000, 0x3000, CP_SNP_SECTION_SEC_MEM },
                { 0x80d000, 0x1000, CP_SNP_SECTION_SECRETS },  { 0x80e000, 0x1000, CP_SNP_SECTION_CPUID },
                { 0x80f000, 0x1000, CP_SNP_SECTION_SVSM_CAA }, { 0x810000, 0x1000, CP_SNP_SECTION_KERNEL_HASHES },
                { 0x811000, 0xf000, CP_SNP_SECTION_SEC_MEM },
        };
        expect_sections(&info, want, CP_ELEMENTSOF(want), __LINE__);
        ASSERT_STREQ(cp_snp_section_type_name(info.sections[5].type), "SNP_KERNEL_HASHES");
}

TEST(ovmfx64_fixture) {
        size_t len;
        _cleanup_free_ uint8_t *fw = cp_test_read("measure/ovmf_OvmfX64_suffix.bin", &len);
        cp_ovmf_info info;
        ASSERT_OK(cp_ovmf_parse(fw, len, &info));
        ASSERT_U64_EQ(info.ap_reset_eip, 0x80b004);
        static const cp_snp_section want[] = {
                { 0x800000, 0x9000, CP_SNP_SECTION_SEC_MEM },  { 0x80a000, 0x3000, CP_SNP_SECTION_SEC_MEM },
                { 0x80d000, 0x1000, CP_SNP_SECTION_SECRETS },  { 0x80e000, 0x1000, CP_SNP_SECTION_CPUID },
                { 0x80f000, 0x1000, CP_SNP_SECTION_SVSM_CAA }, { 0x810000, 0x10000, CP_SNP_SECTION_SEC_MEM },
        };
        expect_sections(&info, want, CP_ELEMENTSOF(want), __LINE__);
}

static uint8_t *read_system(const char *path, size_t *len) {
        uint8_t *fw = NULL;
        if (cp_read_file(path, CP_MAX_FIRMWARE_SIZE, &fw, len) < 0)
                cp_test_fail(__FILE__, __LINE__, "%s: %s (install the Debian package ovmf)", path, cp_error_message());
        return fw;
}

TEST(debian_images) {
        static const cp_snp_section want[] = {
                { 0x800000, 0x9000, CP_SNP_SECTION_SEC_MEM }, { 0x80a000, 0x3000, CP_SNP_SECTION_SEC_MEM },
                { 0x80d000, 0x1000, CP_SNP_SECTION_SECRETS }, { 0x80e000, 0x1000, CP_SNP_SECTION_CPUID },
                { 0x80f000, 0x11000, CP_SNP_SECTION_SEC_MEM },
        };
        const char *two_mib[] = { "/usr/share/ovmf/OVMF.fd", "/usr/share/OVMF/OVMF_CODE.fd" };
        for (size_t i = 0; i < CP_ELEMENTSOF(two_mib); i++) {
                size_t len;
                _cleanup_free_ uint8_t *fw = read_system(two_mib[i], &len);
                cp_ovmf_info info;
                ASSERT_OK(cp_ovmf_parse(fw, len, &info));
                ASSERT_U64_EQ(info.ap_reset_eip, 0x80b004);
                ASSERT_TRUE(info.has_hash_table);
                ASSERT_U64_EQ(info.hash_table_gpa, 0);
                ASSERT_TRUE(info.has_secret_block);
                expect_sections(&info, want, CP_ELEMENTSOF(want), __LINE__);
        }
        /* the 4M build: reset block only, no SEV metadata */
        size_t len;
        _cleanup_free_ uint8_t *fw = read_system("/usr/share/OVMF/OVMF_CODE_4M.fd", &len);
        cp_ovmf_info info;
        ASSERT_OK(cp_ovmf_parse(fw, len, &info));
        ASSERT_TRUE(info.has_reset_block);
        ASSERT_U64_EQ(info.ap_reset_eip, 0x808004);
        ASSERT_FALSE(info.has_metadata);
        ASSERT_EQ(info.n_sections, 0);
}

static const cp_snp_section two[] = { { 0x800000, 0x2000, CP_SNP_SECTION_SEC_MEM },
                                      { 0x802000, 0x1000, CP_SNP_SECTION_CPUID } };

TEST(synthetic_roundtrip_and_empty) {
        t_entry e[] = { { T_GUID_OTHER, { 0xdeadbeef }, 1 },           { T_GUID_SECRET, { 0x80d000, 0x1000 }, 2 },
                        { T_GUID_HASHTABLE, { 0x810c00, 0x400 }, 2 }, { T_GUID_SVSM_INFO, { 0x42 }, 1 },
                        { T_GUID_RESET, { 0x80b004 }, 1 } };
        t_image d = { .size = 8192, .entries = e, .n_entries = CP_ELEMENTSOF(e), .sections = two, .n_sections = 2,
                      .with_metadata = 1 };
        _cleanup_free_ uint8_t *fw = t_build(&d, NULL, NULL);
        cp_ovmf_info info;
        ASSERT_OK(cp_ovmf_parse(fw, d.size, &info));
        ASSERT_TRUE(info.has_reset_block && info.has_hash_table && info.has_secret_block && info.has_svsm_info);
        ASSERT_U64_EQ(info.ap_reset_eip, 0x80b004);
        ASSERT_U64_EQ(info.svsm_entry_offset, 0x42);
        ASSERT_U64_EQ(info.secret_base, 0x80d000);
        expect_sections(&info, two, 2, __LINE__);
        ASSERT_EQ(info.size, 8192);

        /* no footer GUID: empty table, not an error */
        fw[d.size - 48] ^= 1;
        ASSERT_OK(cp_ovmf_parse(fw, d.size, &info));
        ASSERT_FALSE(info.has_reset_block || info.has_metadata);
        /* an empty table (total_len 18) */
        t_image d0 = { .size = 4096 };
        _cleanup_free_ uint8_t *f0 = t_build(&d0, NULL, NULL);
        ASSERT_OK(cp_ovmf_parse(f0, d0.size, &info));
        ASSERT_FALSE(info.has_reset_block);
        /* metadata with zero sections */
        t_image dz = { .size = 4096, .with_metadata = 1 };
        _cleanup_free_ uint8_t *fz = t_build(&dz, NULL, NULL);
        ASSERT_OK(cp_ovmf_parse(fz, dz.size, &info));
        ASSERT_TRUE(info.has_metadata);
        ASSERT_EQ(info.n_sections, 0);
}

TEST(image_size) {
        uint8_t small[4096] = { 0 };
        cp_ovmf_info info;
        ASSERT_ERR(cp_ovmf_parse(small, 0, &info), CP_EFORMAT);
        for (size_t n = 1; n < sizeof(small); n += 511)
                ASSERT_ERR(cp_ovmf_parse(small, n, &info), CP_EFORMAT);
        ASSERT_OK(cp_ovmf_parse(small, sizeof(small), &info));
        ASSERT_ERR(cp_ovmf_parse(small, (size_t) CP_MAX_FIRMWARE_SIZE + 4096, &info), CP_ETOOBIG);
        ASSERT_ERR(cp_ovmf_parse(NULL, 4096, &info), CP_EINVAL);
}

/* Shrinking the footer's total_len cuts the table from the far end: at an
 * entry boundary the nearer entries remain, anywhere else it is an error. */
TEST(table_truncation_every_length) {
        t_entry e[] = { { T_GUID_SECRET, { 1, 2 }, 2 }, { T_GUID_OTHER, { 3 }, 1 }, { T_GUID_RESET, { 0x80b004 }, 1 } };
        t_image d = { .size = 4096, .entries = e, .n_entries = 3 };
        size_t total;
        _cleanup_free_ uint8_t *fw = t_build(&d, &total, NULL);
        ASSERT_EQ(total, 18 + 26 + 22 + 22);
        cp_ovmf_info info;
        for (size_t t = 0; t <= total + 40; t++) {
                cp_put_le16(fw + d.size - 50, (uint16_t) t);
                int r = cp_ovmf_parse(fw, d.size, &info);
                if (t == 18 || t == 18 + 22 || t == 18 + 44 || t == total) {
                        if (r < 0)
                                cp_test_fail(__FILE__, __LINE__, "total_len %zu: %s", t, cp_error_message());
                        ASSERT_EQ(info.has_reset_block, t >= 18 + 22);
                        ASSERT_EQ(info.has_secret_block, t == total);
                } else if (r >= 0)
                        cp_test_fail(__FILE__, __LINE__, "total_len %zu accepted", t);
        }
        /* a table reaching before the start of the image */
        cp_put_le16(fw + d.size - 50, 0xffff);
        ASSERT_ERR(cp_ovmf_parse(fw, d.size, &info), CP_ETRUNC);
}

TEST(bad_entries) {
        t_entry e[] = { { T_GUID_OTHER, { 3 }, 1 }, { T_GUID_RESET, { 0x80b004 }, 1 } };
        t_image d = { .size = 4096, .entries = e, .n_entries = 2 };
        _cleanup_free_ uint8_t *fw = t_build(&d, NULL, NULL);
        cp_ovmf_info info;
        /* the reset block's length field sits just before the footer entry */
        size_t len_off = d.size - 50 - 18;
        for (unsigned l = 0; l < 18; l++) {
                cp_put_le16(fw + len_off, (uint16_t) l);
                ASSERT_ERR(cp_ovmf_parse(fw, d.size, &info), CP_EFORMAT);
        }
        cp_put_le16(fw + len_off, 200); /* overruns the table */
        ASSERT_ERR(cp_ovmf_parse(fw, d.size, &info), CP_EFORMAT);
        cp_put_le16(fw + len_off, 22 + 22); /* swallows the other entry: a 26-byte payload for a u32 */
        ASSERT_ERR(cp_ovmf_parse(fw, d.size, &info), CP_ETRAILING);

        /* short payloads */
        t_entry s1[] = { { T_GUID_RESET, { 0 }, 0 } };
        t_entry s2[] = { { T_GUID_HASHTABLE, { 1 }, 1 } };
        t_entry s3[] = { { T_GUID_METADATA, { 0 }, 0 } };
        t_entry s4[] = { { T_GUID_SECRET, { 1, 2, 3 }, 3 } };
        t_entry s5[] = { { T_GUID_SVSM_INFO, { 0 }, 0 } };
        const t_entry *shorts[] = { s1, s2, s3, s5 };
        for (size_t i = 0; i < CP_ELEMENTSOF(shorts); i++) {
                t_image di = { .size = 4096, .entries = shorts[i], .n_entries = 1 };
                _cleanup_free_ uint8_t *f = t_build(&di, NULL, NULL);
                ASSERT_ERR(cp_ovmf_parse(f, di.size, &info), CP_ETRUNC);
        }
        t_image d4 = { .size = 4096, .entries = s4, .n_entries = 1 };
        _cleanup_free_ uint8_t *f4 = t_build(&d4, NULL, NULL);
        ASSERT_ERR(cp_ovmf_parse(f4, d4.size, &info), CP_ETRAILING);
        /* SVSM info may carry more than its entry offset */
        t_entry s6[] = { { T_GUID_SVSM_INFO, { 7, 8, 9 }, 3 } };
        t_image d6 = { .size = 4096, .entries = s6, .n_entries = 1 };
        _cleanup_free_ uint8_t *f6 = t_build(&d6, NULL, NULL);
        ASSERT_OK(cp_ovmf_parse(f6, d6.size, &info));
        ASSERT_EQ(info.svsm_entry_offset, 7);

        /* duplicates */
        const uint8_t *dup_guids[] = { T_GUID_RESET, T_GUID_HASHTABLE, T_GUID_SECRET, T_GUID_SVSM_INFO };
        for (size_t i = 0; i < CP_ELEMENTSOF(dup_guids); i++) {
                t_entry dd[] = { { dup_guids[i], { 0x1000, 0x1000 }, 2 }, { dup_guids[i], { 0x1000, 0x1000 }, 2 } };
                unsigned nv = (dup_guids[i] == T_GUID_RESET || dup_guids[i] == T_GUID_SVSM_INFO) ? 1 : 2;
                dd[0].nv = dd[1].nv = nv;
                t_image dx = { .size = 4096, .entries = dd, .n_entries = 2 };
                _cleanup_free_ uint8_t *f = t_build(&dx, NULL, NULL);
                ASSERT_ERR(cp_ovmf_parse(f, dx.size, &info), CP_EFORMAT);
        }
        t_entry dm[] = { { T_GUID_METADATA, { 0xc00 }, 1 } };
        t_image dxm = { .size = 4096, .entries = dm, .n_entries = 1, .with_metadata = 1 };
        _cleanup_free_ uint8_t *fm = t_build(&dxm, NULL, NULL);
        ASSERT_ERR(cp_ovmf_parse(fm, dxm.size, &info), CP_EFORMAT);
}

TEST(bad_metadata) {
        t_image d = { .size = 4096, .sections = two, .n_sections = 2, .with_metadata = 1 };
        size_t meta_off;
        _cleanup_free_ uint8_t *fw = t_build(&d, NULL, &meta_off);
        size_t h = d.size - meta_off;
        cp_ovmf_info info;
        ASSERT_OK(cp_ovmf_parse(fw, d.size, &info));

        fw[h] = 'B';
        ASSERT_ERR(cp_ovmf_parse(fw, d.size, &info), CP_EFORMAT);
        fw[h] = 'A';
        for (uint32_t v = 0; v < 4; v++) {
                cp_put_le32(fw + h + 8, v);
                if (v == 1)
                        ASSERT_OK(cp_ovmf_parse(fw, d.size, &info));
                else
                        ASSERT_ERR(cp_ovmf_parse(fw, d.size, &info), CP_EVERSION);
        }
        cp_put_le32(fw + h + 8, 1);
        /* size must cover the descriptors and stay in the image */
        for (uint32_t s = 0; s < 16 + 24; s++) {
                cp_put_le32(fw + h + 4, s);
                ASSERT_ERR(cp_ovmf_parse(fw, d.size, &info), CP_EFORMAT);
        }
        cp_put_le32(fw + h + 4, (uint32_t) meta_off + 1);
        ASSERT_ERR(cp_ovmf_parse(fw, d.size, &info), CP_EFORMAT);
        cp_put_le32(fw + h + 4, 16 + 24);
        /* descriptor count */
        cp_put_le32(fw + h + 12, CP_OVMF_MAX_SECTIONS + 1);
        ASSERT_ERR(cp_ovmf_parse(fw, d.size, &info), CP_ETOOBIG);
        cp_put_le32(fw + h + 12, 3); /* more than size covers */
        ASSERT_ERR(cp_ovmf_parse(fw, d.size, &info), CP_EFORMAT);
        cp_put_le32(fw + h + 12, 2);
        ASSERT_OK(cp_ovmf_parse(fw, d.size, &info));
        /* section type, alignment, 4 GiB */
        uint32_t types[] = { 0, 5, 0xf, 0x11, 0xffffffff };
        for (size_t i = 0; i < CP_ELEMENTSOF(types); i++) {
                cp_put_le32(fw + h + 16 + 8, types[i]);
                ASSERT_ERR(cp_ovmf_parse(fw, d.size, &info), CP_EFORMAT);
        }
        cp_put_le32(fw + h + 16 + 8, 1);
        cp_put_le32(fw + h + 16, 0x800800);
        ASSERT_ERR(cp_ovmf_parse(fw, d.size, &info), CP_EFORMAT);
        cp_put_le32(fw + h + 16, 0x800000);
        cp_put_le32(fw + h + 20, 0x2001);
        ASSERT_ERR(cp_ovmf_parse(fw, d.size, &info), CP_EFORMAT);
        cp_put_le32(fw + h + 16, 0xfffff000);
        cp_put_le32(fw + h + 20, 0x2000);
        ASSERT_ERR(cp_ovmf_parse(fw, d.size, &info), CP_EFORMAT);
        cp_put_le32(fw + h + 20, 0x1000); /* ends exactly at 4 GiB */
        ASSERT_OK(cp_ovmf_parse(fw, d.size, &info));

        /* metadata offsets out of range: 0, below the header, beyond the image */
        t_entry e0[] = { { T_GUID_METADATA, { 0 }, 1 } };
        uint32_t offs[] = { 0, 15, 4097, 0xffffffff, 8 };
        for (size_t i = 0; i < CP_ELEMENTSOF(offs); i++) {
                e0[0].v[0] = offs[i];
                t_image di = { .size = 4096, .entries = e0, .n_entries = 1 };
                _cleanup_free_ uint8_t *f = t_build(&di, NULL, NULL);
                ASSERT_ERR(cp_ovmf_parse(f, di.size, &info), CP_EFORMAT);
        }
}
