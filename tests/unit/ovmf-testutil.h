/* SPDX-License-Identifier: Apache-2.0 */
/* Synthetic OVMF-like firmware images for tests: a footer GUID table
 * (written the way edk2's ResetVector does it) and "ASEV" SEV metadata. */
#ifndef CP_TEST_OVMF_TESTUTIL_H
#define CP_TEST_OVMF_TESTUTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "basic/cursor.h"
#include "confpool/snp_measure.h"

static const uint8_t T_GUID_FOOTER[16] = { 0xde, 0x82, 0xb5, 0x96, 0xb2, 0x1f, 0xf7, 0x45,
                                           0xba, 0xea, 0xa3, 0x66, 0xc5, 0x5a, 0x08, 0x2d };
static const uint8_t T_GUID_RESET[16] = { 0xde, 0x71, 0xf7, 0x00, 0x7e, 0x1a, 0xcb, 0x4f,
                                          0x89, 0x0e, 0x68, 0xc7, 0x7e, 0x2f, 0xb4, 0x4e };
static const uint8_t T_GUID_METADATA[16] = { 0x66, 0x65, 0x88, 0xdc, 0x4a, 0x98, 0x98, 0x47,
                                             0xa7, 0x5e, 0x55, 0x85, 0xa7, 0xbf, 0x67, 0xcc };
static const uint8_t T_GUID_HASHTABLE[16] = { 0x1f, 0x37, 0x55, 0x72, 0x3b, 0x3a, 0x04, 0x4b,
                                              0x92, 0x7b, 0x1d, 0xa6, 0xef, 0xa8, 0xd4, 0x54 };
static const uint8_t T_GUID_SECRET[16] = { 0x61, 0xb3, 0x2e, 0x4c, 0x9b, 0x7d, 0xc3, 0x4c,
                                           0x80, 0x81, 0x12, 0x7c, 0x90, 0xd3, 0xd2, 0x94 };
static const uint8_t T_GUID_SVSM_INFO[16] = { 0x12, 0xa6, 0x89, 0xa7, 0x97, 0x05, 0x4b, 0x4c,
                                              0xa4, 0x9f, 0xcb, 0xb1, 0xfe, 0x9d, 0x1d, 0xdd };
static const uint8_t T_GUID_OTHER[16] = { 0x35, 0x65, 0x7a, 0xe4, 0x4a, 0x98, 0x98, 0x47,
                                          0x86, 0x5e, 0x46, 0x85, 0xa7, 0xbf, 0x8e, 0xc2 };

typedef struct t_entry {
        const uint8_t *guid;
        uint32_t v[4];
        unsigned nv; /* number of u32 payload values */
} t_entry;

typedef struct t_image {
        size_t size;              /* whole image, multiple of 4096 */
        const t_entry *entries;   /* in file order (first = farthest from the footer) */
        size_t n_entries;
        const cp_snp_section *sections; /* "ASEV" descriptors (written if n_sections or with_metadata) */
        size_t n_sections;
        int with_metadata;        /* also add the metadata entry pointing at the ASEV header */
        uint32_t asev_version;    /* 0 = 1 */
        uint8_t fill;             /* filler byte of the code area */
} t_image;

/* Returns a malloc()ed image; *ret_table_len is the footer total_len and
 * *ret_meta_off the ASEV offset from the end (0 if none). */
static inline uint8_t *t_build(const t_image *d, size_t *ret_table_len, size_t *ret_meta_off) {
        uint8_t *img = malloc(d->size);
        if (!img)
                abort();
        for (size_t i = 0; i < d->size; i++)
                img[i] = (uint8_t) (d->fill + i * 13);
        size_t meta_off = 0;
        if (d->with_metadata) {
                /* ASEV header 3 KiB before the end, clear of the table */
                size_t start = d->size - 0xC00;
                memcpy(img + start, "ASEV", 4);
                cp_put_le32(img + start + 4, (uint32_t) (16 + 12 * d->n_sections));
                cp_put_le32(img + start + 8, d->asev_version ? d->asev_version : 1);
                cp_put_le32(img + start + 12, (uint32_t) d->n_sections);
                for (size_t i = 0; i < d->n_sections; i++) {
                        cp_put_le32(img + start + 16 + 12 * i, d->sections[i].gpa);
                        cp_put_le32(img + start + 20 + 12 * i, d->sections[i].size);
                        cp_put_le32(img + start + 24 + 12 * i, (uint32_t) d->sections[i].type);
                }
                meta_off = d->size - start;
        }
        /* table: entries then the metadata entry, written backwards from the footer */
        size_t pos = d->size - 50;
        size_t table = 18;
        t_entry all[16];
        size_t n = 0;
        for (size_t i = 0; i < d->n_entries && n < 15; i++)
                all[n++] = d->entries[i];
        if (d->with_metadata)
                all[n++] = (t_entry) { T_GUID_METADATA, { (uint32_t) meta_off }, 1 };
        for (size_t k = n; k-- > 0;) {
                size_t elen = 18 + 4 * all[k].nv;
                pos -= elen;
                for (unsigned j = 0; j < all[k].nv; j++)
                        cp_put_le32(img + pos + 4 * j, all[k].v[j]);
                cp_put_le16(img + pos + 4 * all[k].nv, (uint16_t) elen);
                memcpy(img + pos + 4 * all[k].nv + 2, all[k].guid, 16);
                table += elen;
        }
        cp_put_le16(img + d->size - 50, (uint16_t) table);
        memcpy(img + d->size - 48, T_GUID_FOOTER, 16);
        if (ret_table_len)
                *ret_table_len = table;
        if (ret_meta_off)
                *ret_meta_off = meta_off;
        return img;
}

#endif
