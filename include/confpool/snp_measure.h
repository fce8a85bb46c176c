/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CONFPOOL_SNP_MEASURE_H
#define CONFPOOL_SNP_MEASURE_H

/*
 * SEV-SNP launch measurement: the launch digest (GCTX.LD, the report's
 * MEASUREMENT) exactly as the AMD-SP computes it during SNP_LAUNCH_UPDATE,
 * and the firmware layout it depends on.  Compatible with virtee's
 * sev-snp-measure (modes snp, snp:ovmf-hash, snp:svsm; VMM types QEMU, EC2,
 * GCE).  See docs/measure.md.
 *
 * Three levels:
 *   1. cp_snp_ld: the raw PAGE_INFO hash chain.  A (software) AMD-SP calls
 *      cp_snp_ld_update_page() for every page the hypervisor adds, in order.
 *   2. cp_ovmf_parse(), cp_snp_vmsa_build(), cp_snp_kernel_hashes_*(): the
 *      pieces a VMM contributes (firmware metadata, vCPU reset state, the
 *      measured-direct-boot hash table).
 *   3. cp_snp_measure(): the whole launch sequence of a guest, as
 *      sev-snp-measure computes it.
 *
 * Firmware images are untrusted input: the parser reads them through
 * cp_cursor and rejects anything malformed.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "confpool/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CP_SNP_LD_SIZE        48u
#define CP_SNP_PAGE_SIZE      4096u
#define CP_SNP_PAGE_INFO_SIZE 0x70u
/* GPA used in the PAGE_INFO of VMSA pages. */
#define CP_SNP_VMSA_GPA       UINT64_C(0x0000FFFFFFFFF000)
/* Reset address of the bootstrap processor. */
#define CP_SNP_BSP_EIP        UINT32_C(0xFFFFFFF0)
/* Default SEV_FEATURES (SNPActive), as sev-snp-measure >= 0.0.10. */
#define CP_SNP_DEFAULT_GUEST_FEATURES UINT64_C(0x1)

/* PAGE_INFO.PAGE_TYPE (SNP ABI, SNP_LAUNCH_UPDATE). */
typedef enum cp_snp_page_type {
        CP_SNP_PAGE_NORMAL = 1,
        CP_SNP_PAGE_VMSA = 2,
        CP_SNP_PAGE_ZERO = 3,
        CP_SNP_PAGE_UNMEASURED = 4,
        CP_SNP_PAGE_SECRETS = 5,
        CP_SNP_PAGE_CPUID = 6,
} cp_snp_page_type;

/* ---- 1. The launch-digest chain ---------------------------------------- */

/* One PAGE_INFO record, minus DIGEST_CUR (the chain supplies it). */
typedef struct cp_snp_page_info {
        uint8_t contents[CP_SNP_LD_SIZE]; /* SHA-384 of the page (NORMAL, VMSA), else zero */
        cp_snp_page_type type;
        bool imi_page;
        uint8_t vmpl3_perms, vmpl2_perms, vmpl1_perms;
        uint64_t gpa;                     /* page aligned */
} cp_snp_page_info;

typedef struct cp_snp_ld cp_snp_ld;

/* A new chain.  seed: the initial LD (48 bytes) or NULL for all zero (a
 * fresh guest context). */
CP_API CP_WUR int cp_snp_ld_new(const uint8_t *seed, cp_snp_ld **ret);
/* Wipes and frees; accepts NULL; returns NULL. */
CP_API cp_snp_ld *cp_snp_ld_free(cp_snp_ld *ld);
/* LD := SHA-384(PAGE_INFO(LD, info)).  CP_EINVAL for an unknown page type
 * or an unaligned GPA. */
CP_API CP_WUR int cp_snp_ld_update(cp_snp_ld *ld, const cp_snp_page_info *info);
/* One 4 KiB page the way SNP_LAUNCH_UPDATE measures it: CONTENTS is the
 * SHA-384 of page for NORMAL and VMSA pages (page must then be non-NULL and
 * 4096 bytes), 48 zero bytes for ZERO, UNMEASURED, SECRETS and CPUID (page
 * is ignored and may be NULL).  VMPL permissions and IMI are 0. */
CP_API CP_WUR int cp_snp_ld_update_page(cp_snp_ld *ld, cp_snp_page_type type, uint64_t gpa,
                                        const uint8_t *page);
/* len/4096 consecutive pages starting at gpa (len a multiple of 4096; data
 * may be NULL for types without contents). */
CP_API CP_WUR int cp_snp_ld_update_pages(cp_snp_ld *ld, cp_snp_page_type type, uint64_t gpa,
                                         const uint8_t *data, size_t len);
/* The current digest. */
CP_API void cp_snp_ld_get(const cp_snp_ld *ld, uint8_t ret[CP_SNP_LD_SIZE]);
/* Number of updates since cp_snp_ld_new(). */
CP_API uint64_t cp_snp_ld_count(const cp_snp_ld *ld);

/* Pipelining of cp_snp_ld_update_pages() for NORMAL/VMSA runs: the chain is
 * sequential, but each page's CONTENTS digest is not, so one helper thread
 * hashes page contents ahead (a ring of 256 digests, 12 KiB) while the
 * calling thread chains and hashes the rest.  The digest is byte-identical
 * to the single-threaded one.
 *   0 (default): automatic: pipelined for runs of at least
 *      CP_SNP_PIPELINE_MIN_PAGES pages when the process may run on two or
 *      more CPUs;
 *   1: always single-threaded;
 *   2: pipelined for every run of two or more pages (testing).
 * If the helper thread cannot be created the update runs single-threaded.
 * CP_EINVAL for other values. */
#define CP_SNP_PIPELINE_MIN_PAGES 64u
CP_API CP_WUR int cp_snp_ld_set_threads(cp_snp_ld *ld, unsigned threads);
/* The most threads any update of ld actually used so far (1 or 2). */
CP_API unsigned cp_snp_ld_threads_used(const cp_snp_ld *ld);

/* ---- 2a. OVMF footer GUID table and SEV metadata ----------------------- */

/* SEV metadata section types ("ASEV" descriptors). */
typedef enum cp_snp_section_type {
        CP_SNP_SECTION_SEC_MEM = 1,
        CP_SNP_SECTION_SECRETS = 2,
        CP_SNP_SECTION_CPUID = 3,
        CP_SNP_SECTION_SVSM_CAA = 4,
        CP_SNP_SECTION_KERNEL_HASHES = 0x10,
} cp_snp_section_type;

typedef struct cp_snp_section {
        uint32_t gpa;  /* page aligned */
        uint32_t size; /* multiple of 4096 */
        cp_snp_section_type type;
} cp_snp_section;

#define CP_OVMF_MAX_SECTIONS 64u

typedef struct cp_ovmf_info {
        size_t size;                   /* image size (multiple of 4096) */
        bool has_reset_block;          /* SEV-ES reset block 00f771de-... */
        uint32_t ap_reset_eip;
        bool has_hash_table;           /* SEV hash table RV 7255371f-... */
        uint32_t hash_table_gpa, hash_table_size;
        bool has_secret_block;         /* 4c2eb361-... (not measured) */
        uint32_t secret_base, secret_size;
        bool has_svsm_info;            /* a789a612-... (Coconut-SVSM image) */
        uint32_t svsm_entry_offset;
        bool has_metadata;             /* OVMF SEV metadata dc886566-... */
        size_t n_sections;             /* in firmware order, never sorted */
        cp_snp_section sections[CP_OVMF_MAX_SECTIONS];
} cp_ovmf_info;

/* Parse the footer GUID table (ending 32 bytes before the end of fw) and,
 * if referenced, the "ASEV" SEV metadata.  A firmware without the footer
 * GUID has an empty table (not an error).  Rejected: size 0, not a multiple
 * of 4096 or above CP_MAX_FIRMWARE_SIZE, 64 MiB (CP_EFORMAT / CP_ETOOBIG); table
 * entries shorter than 18 bytes, overrunning the table or leaving a partial
 * entry, duplicate GUIDs, short payloads (CP_EFORMAT / CP_ETRUNC); metadata
 * with a bad signature (CP_EFORMAT), version != 1 (CP_EVERSION), more than
 * CP_OVMF_MAX_SECTIONS descriptors (CP_ETOOBIG), a size field that does not
 * cover its descriptors, an unknown section type, an unaligned GPA or size,
 * or a section past 4 GiB (CP_EFORMAT). */
CP_API CP_WUR int cp_ovmf_parse(const uint8_t *fw, size_t len, cp_ovmf_info *ret);
CP_API const char *cp_snp_section_type_name(cp_snp_section_type t);

/* ---- 2b. vCPUs and VMSAs ------------------------------------------------ */

typedef enum cp_snp_vmm_type {
        CP_SNP_VMM_QEMU = 1,
        CP_SNP_VMM_EC2 = 2,
        CP_SNP_VMM_GCE = 3,
} cp_snp_vmm_type;

/* "QEMU", "ec2", "gce" (case-insensitive), as sev-snp-measure's --vmm-type.
 * CP_EINVAL if unknown. */
CP_API CP_WUR int cp_snp_vmm_type_from_name(const char *name, cp_snp_vmm_type *ret);
CP_API const char *cp_snp_vmm_type_name(cp_snp_vmm_type t);

/* CPUID Fn0000_0001 EAX for family/model/stepping. */
CP_API uint32_t cp_snp_vcpu_sig(unsigned family, unsigned model, unsigned stepping);
/* Signature of a QEMU CPU model name ("EPYC-Milan-v2", ...).  CP_ENOTFOUND
 * if not one of the built-in types. */
CP_API CP_WUR int cp_snp_vcpu_type_sig(const char *name, uint32_t *ret);
/* The i-th built-in vCPU type name (NULL past the end). */
CP_API const char *cp_snp_vcpu_type_name(size_t i);

typedef enum cp_snp_vmsa_kind {
        CP_SNP_VMSA_RESET = 0, /* x86 reset state at eip (OVMF boot) */
        CP_SNP_VMSA_SVSM = 1,  /* flat 32-bit protected mode at eip (Coconut-SVSM) */
} cp_snp_vmsa_kind;

/* Build the initial VMSA page of one vCPU.  eip: CP_SNP_BSP_EIP for the
 * BSP, the AP reset EIP for APs (RESET); the SVSM entry GPA (SVSM, QEMU
 * only).  sev_features goes to SEV_FEATURES (RESET only; SVSM uses 0x1).
 * CP_EINVAL for an unknown VMM type or SVSM with a VMM other than QEMU. */
CP_API CP_WUR int cp_snp_vmsa_build(cp_snp_vmsa_kind kind, cp_snp_vmm_type vmm, uint32_t eip,
                                    uint32_t vcpu_sig, uint64_t sev_features,
                                    uint8_t ret_page[CP_SNP_PAGE_SIZE]);

/* ---- 2c. Measured direct boot: kernel / initrd / cmdline hash table ----- */

#define CP_SNP_HASH_TABLE_SIZE        168u /* the SEV hash table */
#define CP_SNP_HASH_TABLE_PADDED_SIZE 176u /* as QEMU writes it (rounded to 16) */

typedef struct cp_snp_kernel_hashes {
        uint8_t cmdline[32]; /* SHA-256 of the command line plus its NUL */
        uint8_t initrd[32];  /* SHA-256 of the initrd (of "" if none) */
        uint8_t kernel[32];  /* SHA-256 of the kernel file */
} cp_snp_kernel_hashes;

/* From memory: initrd may be NULL (empty); cmdline may be NULL (""). */
CP_API CP_WUR int cp_snp_kernel_hashes_compute(const uint8_t *kernel, size_t kernel_len, const uint8_t *initrd,
                                               size_t initrd_len, const char *cmdline,
                                               cp_snp_kernel_hashes *ret);
/* From files (streamed, any size); initrd_path and cmdline may be NULL. */
CP_API CP_WUR int cp_snp_kernel_hashes_from_files(const char *kernel_path, const char *initrd_path,
                                                  const char *cmdline, cp_snp_kernel_hashes *ret);
/* The 176-byte padded table as QEMU places it in guest memory. */
CP_API void cp_snp_kernel_hashes_table(const cp_snp_kernel_hashes *h, uint8_t ret[CP_SNP_HASH_TABLE_PADDED_SIZE]);

/* ---- 3. The whole launch ------------------------------------------------ */

typedef enum cp_snp_measure_mode {
        CP_SNP_MODE_SNP = 0,       /* firmware, metadata sections, VMSAs */
        CP_SNP_MODE_OVMF_HASH = 1, /* firmware pages only ("snp:ovmf-hash") */
        CP_SNP_MODE_SVSM = 2,      /* OVMF + Coconut-SVSM ("snp:svsm"), QEMU only */
        CP_SNP_MODE_SEV = 3,       /* pre-SNP SEV: SHA-256, cp_sev_measure() */
        CP_SNP_MODE_SEV_ES = 4,    /* pre-SNP SEV-ES: SHA-256, cp_sev_measure() */
} cp_snp_measure_mode;

/* "snp", "snp:ovmf-hash", "snp:svsm", "sev", "seves" (sev-snp-measure's
 * --mode values).  CP_EINVAL otherwise. */
CP_API CP_WUR int cp_snp_measure_mode_from_name(const char *name, cp_snp_measure_mode *ret);

#define CP_SNP_MAX_VCPUS 512u

/* Inputs, all borrowed.  Initialise with cp_snp_measure_params_init(). */
typedef struct cp_snp_measure_params {
        cp_snp_measure_mode mode;
        cp_snp_vmm_type vmm;              /* default QEMU */
        unsigned vcpus;                   /* 1..CP_SNP_MAX_VCPUS (unused for OVMF_HASH) */
        uint32_t vcpu_sig;                /* CPUID signature: VMSA RDX (QEMU and SVSM only) */
        uint64_t guest_features;          /* SEV_FEATURES; default 0x1 */
        const uint8_t *ovmf;              /* the firmware image (required) */
        size_t ovmf_len;
        const uint8_t *ovmf_hash;         /* SNP mode: 48-byte precomputed firmware digest
                                           * (seeds LD, firmware pages skipped) or NULL */
        const cp_snp_kernel_hashes *kernel_hashes; /* measured direct boot, or NULL */
        const uint8_t *svsm;              /* SVSM mode: the Coconut-SVSM image */
        size_t svsm_len;
        uint64_t vars_size;               /* SVSM mode: size of the OVMF vars flash (> 0) */
        unsigned threads;                 /* 0 auto, 1 single-threaded, 2 pipelined: see
                                           * cp_snp_ld_set_threads(); same result */
} cp_snp_measure_params;

CP_API void cp_snp_measure_params_init(cp_snp_measure_params *p);

/* Compute the launch digest of a guest.  Errors: CP_EINVAL for bad
 * parameters (no firmware, vCPUs out of range, ovmf_hash outside SNP mode,
 * SVSM without an image or vars size or with a VMM other than QEMU, an
 * unknown VMM), firmware errors from cp_ovmf_parse(), CP_EFORMAT if the
 * firmware lacks the SEV-ES reset block (SNP, SVSM: required even for one
 * vCPU), has an AP reset EIP of 0 with more than one vCPU, lacks an
 * SNP_KERNEL_HASHES section or the hash-table entry while kernel_hashes is
 * given, or has a kernel-hashes section whose size is not 4096; CP_ETOOBIG
 * if the metadata sections add up to more than CP_MAX_SNP_SECTION_PAGES
 * (262144 pages, 1 GiB). */
CP_API CP_WUR int cp_snp_measure(const cp_snp_measure_params *p, uint8_t ret[CP_SNP_LD_SIZE]);
/* The same; *ret_threads_used (if non-NULL) receives the number of threads
 * the firmware hashing actually used (1 or 2). */
CP_API CP_WUR int cp_snp_measure_ex(const cp_snp_measure_params *p, uint8_t ret[CP_SNP_LD_SIZE],
                                    unsigned *ret_threads_used);

#define CP_SEV_LD_SIZE 32u
/* The pre-SNP launch digest (not the HMAC'd SEV measurement), as
 * sev-snp-measure computes it: SEV = SHA-256(firmware || padded kernel hash
 * table if kernel_hashes); SEV-ES = the same || one VMSA page per vCPU
 * (SEV_FEATURES 0).  p->mode must be CP_SNP_MODE_SEV or CP_SNP_MODE_SEV_ES
 * (CP_EINVAL otherwise).  CP_EFORMAT if kernel_hashes is given and the
 * firmware has no (or a zero) SEV hash-table entry, or (SEV-ES) no SEV-ES
 * reset block, or an AP EIP of 0 with more than one vCPU. */
CP_API CP_WUR int cp_sev_measure(const cp_snp_measure_params *p, uint8_t ret[CP_SEV_LD_SIZE]);

#ifdef __cplusplus
}
#endif
#endif
