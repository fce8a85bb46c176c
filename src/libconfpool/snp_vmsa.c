/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Initial VMSA pages (APM vol. 2, table B-4: the SEV-ES save area) as QEMU,
 * EC2 and GCE set them up for an SNP guest, vCPU signatures and VMM types.
 * Only the fields listed here are non-zero; everything else is 0.
 */
#include <strings.h>
#include <string.h>

#include "basic/cursor.h"
#include "confpool/snp_measure.h"

/* Save-area offsets. */
enum {
        VMSA_ES = 0x000,
        VMSA_CS = 0x010,
        VMSA_SS = 0x020,
        VMSA_DS = 0x030,
        VMSA_FS = 0x040,
        VMSA_GS = 0x050,
        VMSA_GDTR = 0x060,
        VMSA_LDTR = 0x070,
        VMSA_IDTR = 0x080,
        VMSA_TR = 0x090,
        VMSA_EFER = 0x0D0,
        VMSA_CR4 = 0x148,
        VMSA_CR0 = 0x158,
        VMSA_DR7 = 0x160,
        VMSA_DR6 = 0x168,
        VMSA_RFLAGS = 0x170,
        VMSA_RIP = 0x178,
        VMSA_G_PAT = 0x268,
        VMSA_RDX = 0x310,
        VMSA_SEV_FEATURES = 0x3B0,
        VMSA_XCR0 = 0x3E8,
        VMSA_MXCSR = 0x408,
        VMSA_X87_FCW = 0x410,
};

/* A segment register: u16 selector, u16 attrib, u32 limit, u64 base. */
static void put_seg(uint8_t *p, size_t off, uint16_t sel, uint16_t attrib, uint32_t limit, uint64_t base) {
        cp_put_le16(p + off, sel);
        cp_put_le16(p + off + 2, attrib);
        cp_put_le32(p + off + 4, limit);
        cp_put_le64(p + off + 8, base);
}

int cp_snp_vmm_type_from_name(const char *name, cp_snp_vmm_type *ret) {
        static const struct {
                const char *name;
                cp_snp_vmm_type t;
        } names[] = { { "QEMU", CP_SNP_VMM_QEMU }, { "ec2", CP_SNP_VMM_EC2 }, { "gce", CP_SNP_VMM_GCE } };
        if (!name || !ret)
                return CP_ERROR(CP_EINVAL, "cp_snp_vmm_type_from_name: NULL argument");
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                if (!strcasecmp(name, names[i].name)) {
                        *ret = names[i].t;
                        return 0;
                }
        return CP_ERROR(CP_EINVAL, "unknown VMM type '%s' (QEMU, ec2 or gce)", name);
}

const char *cp_snp_vmm_type_name(cp_snp_vmm_type t) {
        switch (t) {
        case CP_SNP_VMM_QEMU:
                return "QEMU";
        case CP_SNP_VMM_EC2:
                return "ec2";
        case CP_SNP_VMM_GCE:
                return "gce";
        }
        return "unknown";
}

uint32_t cp_snp_vcpu_sig(unsigned family, unsigned model, unsigned stepping) {
        uint32_t base_family, ext_family;
        if (family > 0xF) {
                base_family = 0xF;
                ext_family = (family - 0xF) & 0xFF;
        } else {
                base_family = family;
                ext_family = 0;
        }
        return ext_family << 20 | ((model >> 4) & 0xF) << 16 | base_family << 8 | (model & 0xF) << 4 |
               (stepping & 0xF);
}

static const struct {
        const char *name;
        unsigned family, model, stepping;
} vcpu_types[] = {
        { "EPYC", 23, 1, 2 },           { "EPYC-v1", 23, 1, 2 },       { "EPYC-v2", 23, 1, 2 },
        { "EPYC-v3", 23, 1, 2 },        { "EPYC-v4", 23, 1, 2 },       { "EPYC-IBPB", 23, 1, 2 },
        { "EPYC-Rome", 23, 49, 0 },     { "EPYC-Rome-v1", 23, 49, 0 }, { "EPYC-Rome-v2", 23, 49, 0 },
        { "EPYC-Rome-v3", 23, 49, 0 },  { "EPYC-Milan", 25, 1, 1 },    { "EPYC-Milan-v1", 25, 1, 1 },
        { "EPYC-Milan-v2", 25, 1, 1 },  { "EPYC-Genoa", 25, 17, 0 },   { "EPYC-Genoa-v1", 25, 17, 0 },
        { "EPYC-Turin", 26, 0, 0 },
};

int cp_snp_vcpu_type_sig(const char *name, uint32_t *ret) {
        if (!name || !ret)
                return CP_ERROR(CP_EINVAL, "cp_snp_vcpu_type_sig: NULL argument");
        for (size_t i = 0; i < sizeof(vcpu_types) / sizeof(vcpu_types[0]); i++)
                if (!strcmp(name, vcpu_types[i].name)) {
                        *ret = cp_snp_vcpu_sig(vcpu_types[i].family, vcpu_types[i].model, vcpu_types[i].stepping);
                        return 0;
                }
        return CP_ERROR(CP_ENOTFOUND, "unknown vCPU type '%s'", name);
}

const char *cp_snp_vcpu_type_name(size_t i) {
        return i < sizeof(vcpu_types) / sizeof(vcpu_types[0]) ? vcpu_types[i].name : NULL;
}

/* x86 reset state at eip, split the way QEMU loads it. */
static void build_reset(cp_snp_vmm_type vmm, uint32_t eip, uint32_t vcpu_sig, uint64_t sev_features,
                        uint8_t *p) {
        bool ec2 = vmm == CP_SNP_VMM_EC2, gce = vmm == CP_SNP_VMM_GCE;
        uint16_t cs_attr = (ec2 && eip == CP_SNP_BSP_EIP) ? 0x9A : 0x9B;
        uint16_t ss_attr = ec2 ? 0x92 : 0x93;
        uint16_t tr_attr = ec2 ? 0x83 : 0x8B;

        put_seg(p, VMSA_ES, 0, 0x93, 0xFFFF, 0);
        put_seg(p, VMSA_CS, 0xF000, cs_attr, 0xFFFF, eip & UINT32_C(0xFFFF0000));
        put_seg(p, VMSA_SS, 0, ss_attr, 0xFFFF, 0);
        put_seg(p, VMSA_DS, 0, 0x93, 0xFFFF, 0);
        put_seg(p, VMSA_FS, 0, 0x93, 0xFFFF, 0);
        put_seg(p, VMSA_GS, 0, 0x93, 0xFFFF, 0);
        put_seg(p, VMSA_GDTR, 0, 0, 0xFFFF, 0);
        put_seg(p, VMSA_LDTR, 0, 0x82, 0xFFFF, 0);
        put_seg(p, VMSA_IDTR, 0, 0, 0xFFFF, 0);
        put_seg(p, VMSA_TR, 0, tr_attr, 0xFFFF, 0);
        cp_put_le64(p + VMSA_EFER, 0x1000);
        cp_put_le64(p + VMSA_CR4, 0x40);
        cp_put_le64(p + VMSA_CR0, 0x10);
        cp_put_le64(p + VMSA_DR7, 0x400);
        cp_put_le64(p + VMSA_DR6, 0xFFFF0FF0);
        cp_put_le64(p + VMSA_RFLAGS, 0x2);
        cp_put_le64(p + VMSA_RIP, eip & 0xFFFF);
        cp_put_le64(p + VMSA_G_PAT, gce ? UINT64_C(0x00070106) : UINT64_C(0x0007040600070406));
        cp_put_le64(p + VMSA_RDX, (ec2 || gce) ? 0x600 : vcpu_sig);
        cp_put_le64(p + VMSA_SEV_FEATURES, sev_features);
        cp_put_le64(p + VMSA_XCR0, 0x1);
        if (!ec2 && !gce) {
                cp_put_le32(p + VMSA_MXCSR, 0x1F80);
                cp_put_le16(p + VMSA_X87_FCW, 0x037F);
        }
}

/* Coconut-SVSM entry state: flat 32-bit protected mode at eip.  As in
 * sev-snp-measure (and real hardware), x87 FCW stays 0. */
static void build_svsm(uint32_t eip, uint32_t vcpu_sig, uint8_t *p) {
        put_seg(p, VMSA_ES, 0x10, 0x0C93, 0xFFFFFFFF, 0);
        put_seg(p, VMSA_CS, 0x08, 0x0C9B, 0xFFFFFFFF, 0);
        put_seg(p, VMSA_SS, 0x10, 0x0C93, 0xFFFFFFFF, 0);
        put_seg(p, VMSA_DS, 0x10, 0x0C93, 0xFFFFFFFF, 0);
        put_seg(p, VMSA_FS, 0x10, 0x0C93, 0xFFFFFFFF, 0);
        put_seg(p, VMSA_GS, 0, 0x93, 0xFFFF, 0);
        put_seg(p, VMSA_GDTR, 0, 0, 0xFFFF, 0);
        put_seg(p, VMSA_LDTR, 0, 0x82, 0xFFFF, 0);
        put_seg(p, VMSA_IDTR, 0, 0, 0xFFFF, 0);
        put_seg(p, VMSA_TR, 0, 0x8B, 0xFFFF, 0);
        cp_put_le64(p + VMSA_EFER, 0x1000);
        cp_put_le64(p + VMSA_CR4, 0x40);
        cp_put_le64(p + VMSA_CR0, 0x11);
        cp_put_le64(p + VMSA_DR7, 0x400);
        cp_put_le64(p + VMSA_DR6, 0xFFFF0FF0);
        cp_put_le64(p + VMSA_RFLAGS, 0x2);
        cp_put_le64(p + VMSA_RIP, eip);
        cp_put_le64(p + VMSA_G_PAT, UINT64_C(0x0007040600070406));
        cp_put_le64(p + VMSA_RDX, vcpu_sig);
        cp_put_le64(p + VMSA_SEV_FEATURES, 0x1);
        cp_put_le64(p + VMSA_XCR0, 0x1);
        cp_put_le32(p + VMSA_MXCSR, 0x1F80);
}

int cp_snp_vmsa_build(cp_snp_vmsa_kind kind, cp_snp_vmm_type vmm, uint32_t eip, uint32_t vcpu_sig,
                      uint64_t sev_features, uint8_t ret_page[CP_SNP_PAGE_SIZE]) {
        if (!ret_page)
                return CP_ERROR(CP_EINVAL, "cp_snp_vmsa_build: NULL page");
        if (vmm != CP_SNP_VMM_QEMU && vmm != CP_SNP_VMM_EC2 && vmm != CP_SNP_VMM_GCE)
                return CP_ERROR(CP_EINVAL, "unknown VMM type %d", (int) vmm);
        if (kind == CP_SNP_VMSA_RESET) {
                memset(ret_page, 0, CP_SNP_PAGE_SIZE);
                build_reset(vmm, eip, vcpu_sig, sev_features, ret_page);
                return 0;
        }
        if (kind == CP_SNP_VMSA_SVSM) {
                if (vmm != CP_SNP_VMM_QEMU)
                        return CP_ERROR(CP_EINVAL, "SVSM VMSAs are defined for QEMU only");
                memset(ret_page, 0, CP_SNP_PAGE_SIZE);
                build_svsm(eip, vcpu_sig, ret_page);
                return 0;
        }
        return CP_ERROR(CP_EINVAL, "unknown VMSA kind %d", (int) kind);
}
