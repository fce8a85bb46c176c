/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the TDVF metadata parser (cp_tdvf_parse) and MRTD.  The
 * input is the END of a firmware image, front-padded with zeros to a
 * multiple of 4096 (so the footer table sits where the parser looks).  An
 * accepted image must satisfy the parser's invariants (aligned, in-image,
 * non-overlapping sections of known types and attributes); small ones are
 * measured in both page orders, and the software TDX module built from the
 * image must reach the same MRTD.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "confpool/tdx_measure.h"
#include "emu/tdx_emu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PADDED (64u * 1024u)
#define MAX_FUZZ_PAGES 512u

static cp_tdx_pcs *pcs;
static cp_tdx_host *host;

static void check_info(const cp_tdvf_info *info, size_t len) {
        uint64_t pages = 0;
        if (info->version != 1 || info->n_sections > CP_TDVF_MAX_SECTIONS || info->descriptor_offset >= len)
                abort();
        for (size_t i = 0; i < info->n_sections; i++) {
                const cp_tdvf_section *s = &info->sections[i];
                if ((s->gpa & 0xfff) || (s->mem_size & 0xfff) || !s->mem_size || s->raw_size > s->mem_size ||
                    (uint64_t) s->data_offset + s->raw_size > len || s->type > CP_TDVF_PAYLOAD_PARAM ||
                    (s->attributes & ~3u) || s->attributes == 3)
                        abort();
                for (size_t j = 0; j < i; j++) {
                        const cp_tdvf_section *t = &info->sections[j];
                        if (s->gpa < t->gpa + t->mem_size && t->gpa < s->gpa + s->mem_size)
                                abort();
                }
                pages += s->mem_size / 4096;
        }
        (void) pages;
}

static uint64_t all_pages(const cp_tdvf_info *info) {
        uint64_t n = 0;
        for (size_t i = 0; i < info->n_sections; i++)
                n += info->sections[i].mem_size / 4096;
        return n;
}

static void measure(const uint8_t *img, size_t len, const cp_tdvf_info *info) {
        uint8_t a[48], m[48];
        for (int order = 0; order < 2; order++) {
                cp_tdx_td *td = NULL;
                if (cp_tdx_measure_mrtd(img, len, info, (cp_tdx_page_order) order, a) < 0)
                        abort();
                if (!host)
                        continue;
                if (cp_tdx_td_create(host, NULL, &td) < 0 || cp_tdx_td_load_tdvf(td, img, len, (cp_tdx_page_order) order) < 0 ||
                    cp_tdx_td_finalize(td) < 0)
                        abort();
                cp_tdx_td_mrtd(td, m);
                cp_tdx_td_free(td);
                if (memcmp(a, m, 48) != 0)
                        abort();
        }
}

static void one(const uint8_t *img, size_t len) {
        cp_tdvf_info info;
        int k = cp_tdvf_parse(img, len, &info);
        if (k < 0) {
                if (k != CP_EFORMAT && k != CP_ETRUNC && k != CP_EVERSION && k != CP_ETOOBIG && k != CP_ENOTFOUND)
                        abort();
                return;
        }
        check_info(&info, len);
        if (all_pages(&info) <= MAX_FUZZ_PAGES)
                measure(img, len, &info);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (!pcs && cp_tdx_pcs_new(NULL, &pcs) == 0 && cp_tdx_host_new(pcs, NULL, &host) < 0)
                host = NULL;
        one(data, size);
        if (size > MAX_PADDED)
                return 0;
        size_t padded = (size + 4095) / 4096 * 4096;
        if (padded == 0)
                padded = 4096;
        uint8_t *img = calloc(1, padded);
        if (!img)
                return 0;
        memcpy(img + padded - size, data, size);
        one(img, padded);
        free(img);
        return 0;
}
