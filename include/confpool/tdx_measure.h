/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CONFPOOL_TDX_MEASURE_H
#define CONFPOOL_TDX_MEASURE_H

/*
 * TDX launch measurement from a TDVF (TDX virtual firmware) image:
 *   - the TDVF metadata: located through the OVMF GUIDed table at the end of
 *     the image (footer GUID 96b582de-1fb2-45f7-baea-a366c55a082d; entry
 *     e47a6535-984a-4798-865e-4685a7bf8ec2 holds a u32, the descriptor's
 *     offset from the end of the image), a "TDVF" descriptor (signature,
 *     length, version 1, section count) and 32-byte section entries
 *     (Intel TDVF design guide, "TDVF Metadata");
 *   - MRTD as the TDX module computes it (ABI spec, TDH.MEM.PAGE.ADD and
 *     TDH.MR.EXTEND): SHA-384 over, for each section in metadata order and
 *     each 4 KiB page, a 128-byte buffer "MEM.PAGE.ADD" || GPA (unless the
 *     section is PAGE.AUG) and, for MR.EXTEND sections, per 256-byte chunk
 *     a 128-byte buffer "MR.EXTEND" || GPA followed by the chunk;
 *   - RTMR extension: RTMR = SHA-384(RTMR || digest48).
 * The image is untrusted input: every read is bounds-checked.
 * See docs/tdx.md "Software TDX".
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "confpool/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CP_TDVF_MAX_SECTIONS 32u
#define CP_TDVF_MAX_MEASURED_PAGES (1u << 16) /* 256 MiB of PAGE.ADD */
#define CP_TDX_PAGE_SIZE 4096u
#define CP_TDX_MR_EXTEND_CHUNK 256u
#define CP_TDX_MR_BUF_SIZE 128u

typedef enum cp_tdvf_section_type {
        CP_TDVF_BFV = 0,
        CP_TDVF_CFV = 1,
        CP_TDVF_TD_HOB = 2,
        CP_TDVF_TEMP_MEM = 3,
        CP_TDVF_PERM_MEM = 4,
        CP_TDVF_PAYLOAD = 5,
        CP_TDVF_PAYLOAD_PARAM = 6,
} cp_tdvf_section_type;

#define CP_TDVF_ATTR_MR_EXTEND 0x1u
#define CP_TDVF_ATTR_PAGE_AUG 0x2u

typedef struct cp_tdvf_section {
        uint32_t data_offset;    /* in the image */
        uint32_t raw_size;       /* bytes of the image (the rest of the memory is zero) */
        uint64_t gpa;            /* page aligned */
        uint64_t mem_size;       /* page aligned, >= raw_size */
        uint32_t type;           /* cp_tdvf_section_type */
        uint32_t attributes;     /* CP_TDVF_ATTR_* */
} cp_tdvf_section;

typedef struct cp_tdvf_info {
        size_t descriptor_offset; /* of "TDVF" in the image */
        uint32_t version;
        size_t n_sections;
        cp_tdvf_section sections[CP_TDVF_MAX_SECTIONS];
} cp_tdvf_info;

CP_API const char *cp_tdvf_section_type_name(uint32_t type);

/*
 * Parse the TDVF metadata.  Refused: an image that is empty, not a multiple
 * of 4096 or above CP_MAX_FIRMWARE_SIZE (CP_EFORMAT / CP_ETOOBIG); no footer
 * table or no TDVF metadata entry (CP_ENOTFOUND); a table entry shorter than
 * its 18-byte trailer or overrunning the table, a duplicate TDVF entry, a
 * payload that is not one u32 (CP_EFORMAT); a descriptor offset outside the
 * image, a bad signature, a length that is not 16 + 32 * count or overruns
 * the image (CP_EFORMAT / CP_ETRUNC); version != 1 (CP_EVERSION); more than
 * CP_TDVF_MAX_SECTIONS (CP_ETOOBIG); a section with an unknown type or
 * attribute bit, both MR.EXTEND and PAGE.AUG, an unaligned GPA or memory
 * size, a zero memory size, raw data larger than its memory or outside the
 * image, a GPA range that wraps or overlaps another section (CP_EFORMAT);
 * more than CP_TDVF_MAX_MEASURED_PAGES pages to add (CP_ETOOBIG).
 */
CP_API CP_WUR int cp_tdvf_parse(const uint8_t *fw, size_t len, cp_tdvf_info *ret);

typedef enum cp_tdx_page_order {
        /* per page: PAGE.ADD then its 16 MR.EXTENDs (Linux KVM's
         * KVM_TDX_INIT_MEM_REGION with MEASURE, QEMU >= 9.2) */
        CP_TDX_ORDER_SINGLE_PASS = 0,
        /* per section: every PAGE.ADD, then every MR.EXTEND (the earlier
         * TDX QEMU/KVM trees) */
        CP_TDX_ORDER_TWO_PASS = 1,
} cp_tdx_page_order;

/* MRTD of the TD built from fw as the metadata in info (from
 * cp_tdvf_parse on the same image) describes. */
CP_API CP_WUR int cp_tdx_measure_mrtd(const uint8_t *fw, size_t len, const cp_tdvf_info *info,
                                      cp_tdx_page_order order, uint8_t ret_mrtd[48]);

/* RTMR = SHA-384(RTMR || digest). */
CP_API CP_WUR int cp_tdx_rtmr_extend(uint8_t rtmr[48], const uint8_t digest[48]);

#ifdef __cplusplus
}
#endif
#endif
