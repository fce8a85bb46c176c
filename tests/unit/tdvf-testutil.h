/* SPDX-License-Identifier: Apache-2.0 */
/* A synthetic TDVF image for tests: OVMF footer GUID table with the TDX
 * metadata offset entry (as edk2's ResetVector writes it) and a "TDVF"
 * descriptor with the given sections.  Debian's ovmf ships no
 * OVMF.inteltdx.fd; its OVMF.fd (Config-A) carries real TDVF metadata and is
 * used when present. */
#ifndef CP_TEST_TDVF_TESTUTIL_H
#define CP_TEST_TDVF_TESTUTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "basic/cursor.h"
#include "confpool/tdx_measure.h"

#define T_TDVF_SIZE (64u * 1024u)
#define T_TDVF_DESC_OFF (T_TDVF_SIZE - 0x1000u) /* descriptor offset in the image */

static const uint8_t T_TDVF_FOOTER[16] = { 0xde, 0x82, 0xb5, 0x96, 0xb2, 0x1f, 0xf7, 0x45,
                                           0xba, 0xea, 0xa3, 0x66, 0xc5, 0x5a, 0x08, 0x2d };
static const uint8_t T_TDVF_GUID[16] = { 0x35, 0x65, 0x7a, 0xe4, 0x4a, 0x98, 0x98, 0x47,
                                         0x86, 0x5e, 0x46, 0x85, 0xa7, 0xbf, 0x8e, 0xc2 };

/* sections: n entries; BFV-like data is the image's first pages */
static inline uint8_t *t_tdvf_build(const cp_tdvf_section *s, size_t n, size_t *ret_len) {
        uint8_t *img = calloc(1, T_TDVF_SIZE);
        if (!img)
                abort();
        for (size_t i = 0; i < T_TDVF_DESC_OFF; i++)
                img[i] = (uint8_t) (i * 7 + 3);
        uint8_t *d = img + T_TDVF_DESC_OFF;
        memcpy(d, "TDVF", 4);
        cp_put_le32(d + 4, (uint32_t) (16 + 32 * n));
        cp_put_le32(d + 8, 1);
        cp_put_le32(d + 12, (uint32_t) n);
        for (size_t i = 0; i < n; i++) {
                uint8_t *e = d + 16 + 32 * i;
                cp_put_le32(e, s[i].data_offset);
                cp_put_le32(e + 4, s[i].raw_size);
                cp_put_le64(e + 8, s[i].gpa);
                cp_put_le64(e + 16, s[i].mem_size);
                cp_put_le32(e + 24, s[i].type);
                cp_put_le32(e + 28, s[i].attributes);
        }
        /* table: one TDX entry (u32 payload, u16 len 22, GUID), then the footer */
        uint8_t *foot = img + T_TDVF_SIZE - 50, *ent = foot - 22;
        cp_put_le32(ent, T_TDVF_SIZE - T_TDVF_DESC_OFF);
        cp_put_le16(ent + 4, 22);
        memcpy(ent + 6, T_TDVF_GUID, 16);
        cp_put_le16(foot, 18 + 22);
        memcpy(foot + 2, T_TDVF_FOOTER, 16);
        *ret_len = T_TDVF_SIZE;
        return img;
}

/* BFV (measured, 2 pages of image data), CFV (added only), TD_HOB, TempMem (AUG) */
static const cp_tdvf_section t_tdvf_default[] = {
        { .data_offset = 0x2000, .raw_size = 0x2000, .gpa = 0xfffe0000, .mem_size = 0x2000, .type = CP_TDVF_BFV,
          .attributes = CP_TDVF_ATTR_MR_EXTEND },
        { .data_offset = 0, .raw_size = 0x1000, .gpa = 0xfffd0000, .mem_size = 0x1000, .type = CP_TDVF_CFV },
        { .gpa = 0x809000, .mem_size = 0x2000, .type = CP_TDVF_TD_HOB },
        { .gpa = 0x800000, .mem_size = 0x4000, .type = CP_TDVF_TEMP_MEM, .attributes = CP_TDVF_ATTR_PAGE_AUG },
};

#endif
