/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the OVMF footer GUID table / SEV metadata parser and the
 * measurement that consumes it.  The input is the END of a firmware image:
 * it is parsed as-is and also front-padded with zeros to a multiple of
 * 4096 (so the footer table and metadata sit where the parser looks).  An
 * accepted image is checked for the parser's invariants and then measured
 * (SNP for every VMM type with and without kernel hashes, SEV and SEV-ES,
 * and as the SVSM image of snp:svsm) when its sections are small enough to stay fast;
 * pipelined and single-threaded hashing must agree.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "confpool/snp_measure.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PADDED (64u * 1024u)
#define MAX_FUZZ_PAGES 2048u

static void check_info(const cp_ovmf_info *info, size_t len) {
        if (info->size != len || info->n_sections > CP_OVMF_MAX_SECTIONS ||
            (!info->has_metadata && info->n_sections != 0))
                abort();
        for (size_t i = 0; i < info->n_sections; i++) {
                const cp_snp_section *s = &info->sections[i];
                if ((s->gpa & 0xfff) || (s->size & 0xfff) || (uint64_t) s->gpa + s->size > UINT64_C(0x100000000))
                        abort();
                if (!strcmp(cp_snp_section_type_name(s->type), "unknown"))
                        abort();
        }
}

static uint64_t section_pages(const cp_ovmf_info *info) {
        uint64_t n = 0;
        for (size_t i = 0; i < info->n_sections; i++)
                n += info->sections[i].size / 4096 + 1;
        return n;
}

static void measure(const uint8_t *fw, size_t len, const cp_ovmf_info *info) {
        static const uint8_t small_ovmf[4096];
        cp_snp_kernel_hashes kh;
        uint8_t ld[48], ld2[48], seed[48];
        if (section_pages(info) > MAX_FUZZ_PAGES)
                return;
        if (cp_snp_kernel_hashes_compute((const uint8_t *) "k", 1, NULL, 0, "c", &kh) < 0)
                abort();
        cp_snp_measure_params p;
        cp_snp_measure_params_init(&p);
        p.ovmf = fw;
        p.ovmf_len = len;
        p.vcpus = 3;
        for (int vmm = CP_SNP_VMM_QEMU; vmm <= CP_SNP_VMM_GCE; vmm++)
                for (int k = 0; k < 2; k++) {
                        p.vmm = (cp_snp_vmm_type) vmm;
                        p.kernel_hashes = k ? &kh : NULL;
                        int r = cp_snp_measure(&p, ld);
                        if (r < 0) {
                                if (r != CP_EFORMAT && r != CP_ETOOBIG)
                                        abort();
                                continue;
                        }
                        if (!info->has_reset_block)
                                abort();
                }
        /* seeding with the ovmf hash gives the plain result */
        p.vmm = CP_SNP_VMM_QEMU;
        p.kernel_hashes = NULL;
        if (cp_snp_measure(&p, ld) == 0) {
                p.mode = CP_SNP_MODE_OVMF_HASH;
                if (cp_snp_measure(&p, seed) < 0)
                        abort();
                p.mode = CP_SNP_MODE_SNP;
                p.ovmf_hash = seed;
                if (cp_snp_measure(&p, ld2) < 0 || memcmp(ld, ld2, 48) != 0)
                        abort();
                p.ovmf_hash = NULL;
                /* the pipelined hashing gives the single-threaded result */
                p.threads = 2;
                if (cp_snp_measure(&p, ld2) < 0 || memcmp(ld, ld2, 48) != 0)
                        abort();
                p.threads = 0;
        }
        /* pre-SNP digests over the same image */
        uint8_t sd[32];
        for (int m = CP_SNP_MODE_SEV; m <= CP_SNP_MODE_SEV_ES; m++)
                for (int k = 0; k < 2; k++) {
                        p.mode = (cp_snp_measure_mode) m;
                        p.kernel_hashes = k ? &kh : NULL;
                        int rs = cp_sev_measure(&p, sd);
                        if (rs < 0 && rs != CP_EFORMAT)
                                abort();
                }
        p.kernel_hashes = NULL;
        /* the same bytes as a Coconut-SVSM image */
        p.mode = CP_SNP_MODE_SVSM;
        p.ovmf = small_ovmf;
        p.ovmf_len = sizeof(small_ovmf);
        p.svsm = fw;
        p.svsm_len = len;
        p.vars_size = 0x20000;
        int r = cp_snp_measure(&p, ld);
        if (r < 0 && r != CP_EFORMAT && r != CP_ETOOBIG)
                abort();
        if (r == 0 && !info->has_svsm_info)
                abort();
}

static void one(const uint8_t *fw, size_t len) {
        cp_ovmf_info info;
        int r = cp_ovmf_parse(fw, len, &info);
        if (r < 0) {
                if (r != CP_EFORMAT && r != CP_ETRUNC && r != CP_ETRAILING && r != CP_EVERSION && r != CP_ETOOBIG)
                        abort();
                return;
        }
        check_info(&info, len);
        measure(fw, len, &info);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > MAX_PADDED)
                return 0;
        one(data, size);
        size_t padded = size < 4096 ? 4096 : (size + 4095) / 4096 * 4096;
        uint8_t *buf = calloc(1, padded);
        if (!buf)
                return 0;
        if (size)
                memcpy(buf + padded - size, data, size);
        one(buf, padded);
        free(buf);
        return 0;
}
