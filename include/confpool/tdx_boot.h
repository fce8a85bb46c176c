/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CONFPOOL_TDX_BOOT_H
#define CONFPOOL_TDX_BOOT_H

/*
 * RTMR 0-2 of a TD's boot, derived from its inputs the way TDVF (OVMF's TDX
 * build) and the Linux EFI stub measure them, and the CC event log (CCEL,
 * TCG crypto-agile with one SHA-384 bank; the "PCR index" of each event is
 * the MR index: 1 = RTMR0 ... 4 = RTMR3) that boot writes.  Also the
 * parser and replay of a real CCEL, and the Authenticode hash of a PE image
 * (what TDVF extends into RTMR1 for the OS loader).  The event sequence and
 * encodings, with the sources they were checked against (Intel's and
 * Google's real CCEL logs) and what is not reproduced: docs/measure.md
 * "TDX: RTMR 0-2 of a boot".
 *
 * Direct kernel boot (QEMU -kernel/-initrd/-append through fw_cfg):
 *   RTMR0  EV_EFI_HANDOFF_TABLES2       SHA-384(TD HOB list)   "TdxTable", the HOB's GPA
 *   RTMR0  EV_EFI_PLATFORM_FIRMWARE_BLOB2 SHA-384(CFV)         "Fv(GUID)", base, length
 *   RTMR0  EV_EFI_VARIABLE_DRIVER_CONFIG x5 (SecureBoot, PK, KEK, db, dbx)
 *          SHA-384(UEFI_VARIABLE_DATA)
 *   RTMR0  EV_SEPARATOR 00000000
 *   RTMR0  EV_PLATFORM_CONFIG_FLAGS "ACPI DATA": QEMU's etc/table-loader,
 *          then every blob it ALLOCATEs, in command order
 *   RTMR1  EV_EFI_BOOT_SERVICES_APPLICATION  Authenticode SHA-384 of the kernel
 *   RTMR0  EV_EFI_VARIABLE_BOOT BootOrder, Boot#### (SHA-384 of the variable's data)
 *   RTMR1  EV_EFI_ACTION "Calling EFI Application from Boot Option"
 *   RTMR1  EV_SEPARATOR 00000000 (RTMR0 with legacy_separator: edk2 before 2023)
 *   RTMR2  EV_EVENT_TAG "LOADED_IMAGE::LoadOptions": SHA-384 of the UTF-16LE
 *          command line (" initrd=initrd" appended when there is an initrd,
 *          as OVMF does) with its NUL
 *   RTMR2  EV_EVENT_TAG "Linux initrd": SHA-384 of the initrd
 *   RTMR1  EV_EFI_ACTION "Exit Boot Services Invocation",
 *          "Exit Boot Services Returned with Success"
 * Every input is untrusted: every parser is bounds-checked and refuses with
 * a message naming what it refused.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "confpool/error.h"
#include "confpool/tcg_eventlog.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CP_TDX_RTMR_COUNT 4u
#define CP_TDX_MAX_ACPI_BLOBS 16u
#define CP_TDX_MAX_BOOT_VARS 32u
#define CP_TDX_MAX_TD_HOB (1u << 20)
#define CP_TDX_MAX_KERNEL (256u << 20)
#define CP_TDX_MAX_CMDLINE 65536u

/* ---- CCEL ------------------------------------------------------------------ */

typedef struct cp_ccel_info {
        uint8_t rtmr[CP_TDX_RTMR_COUNT][48]; /* replayed: SHA-384 chain from zero */
        uint32_t extended;                   /* bit i: RTMR i extended by some event */
        size_t n_events;                     /* TCG_PCR_EVENT2 entries (Spec ID not counted) */
        size_t padding;                      /* 0xFF / 0x00 fill after the last event */
} cp_ccel_info;

/*
 * Parse a CCEL (the ACPI CCEL table's log area, or a file of it) and replay
 * it.  Beyond cp_tcg_eventlog_parse's checks: the Spec ID must declare
 * SHA-384; an event's MR index must be 0..4 and MR 0 (MRTD, built by the
 * TDX module, never extended by a log) carries only EV_NO_ACTION events;
 * fill after the last event (all 0xFF or all 0x00) is allowed and counted.
 * Errors: those of the parser (CP_ETRUNC, CP_EFORMAT, CP_EVERSION,
 * CP_ETOOBIG, CP_ETRAILING), CP_EFORMAT for the MR rules, CP_ENOTFOUND for
 * no SHA-384 bank.  ret_log (optional) gets the parsed log, borrowing data.
 */
CP_API CP_WUR int cp_ccel_parse(const uint8_t *data, size_t len, cp_ccel_info *ret, cp_tcg_eventlog **ret_log);

/* ---- Authenticode ------------------------------------------------------------ */

/*
 * The Authenticode digest of a PE/COFF image (PE32 or PE32+), as edk2's
 * DxeTpm2MeasureBootLib and sbsigntools compute it: the headers without
 * the checksum and the certificate-table directory entry, the sections in
 * file order, then the bytes after the last section up to the attribute
 * certificate table.  alg: CP_TPM_ALG_SHA256 or CP_TPM_ALG_SHA384.
 * Refused (CP_EFORMAT / CP_ETRUNC, naming the field): no "MZ" or "PE\0\0",
 * an e_lfanew, optional header, section table or section outside the
 * file, an unknown optional-header magic, SizeOfHeaders beyond the file,
 * more than 96 sections, a certificate table that is not at the end of
 * the file or overlaps a section.
 */
CP_API CP_WUR int cp_pe_authenticode(const uint8_t *pe, size_t len, uint16_t alg, uint8_t *ret, size_t ret_size);

/* ---- the boot -------------------------------------------------------------- */

typedef struct cp_tdx_blob {
        const char *name;    /* UEFI variable name / fw_cfg file name */
        const uint8_t *data;
        size_t len;
        bool present;        /* a variable that is absent is measured with no data */
} cp_tdx_blob;

/* The five secure-boot variables, in their measurement order. */
enum { CP_TDX_SB_SECUREBOOT, CP_TDX_SB_PK, CP_TDX_SB_KEK, CP_TDX_SB_DB, CP_TDX_SB_DBX, CP_TDX_SB_COUNT };

typedef struct cp_tdx_boot {
        /* TDVF image: its metadata's TD_HOB and CFV sections.  NULL: RTMR0
         * is not derived (has_rtmr0 false): RTMR1 and RTMR2 only. */
        const uint8_t *fw;
        size_t fw_len;
        /* The TD HOB list as the VMM wrote it (from the PHIT HOB to the end
         * HOB; zero bytes after it are ignored).  NULL: confpool's own
         * three-HOB list for mem_size bytes of RAM (not QEMU's). */
        const uint8_t *td_hob;
        size_t td_hob_len;
        uint64_t mem_size;           /* 0: 2 GiB */
        /* SecureBoot, PK, KEK, db, dbx contents (without the efivarfs
         * attribute word).  SecureBoot absent: one byte 0. */
        cp_tdx_blob sb[CP_TDX_SB_COUNT];
        /* QEMU's etc/table-loader and the blobs it allocates (matched by
         * name).  No loader: no ACPI events. */
        const uint8_t *acpi_loader;
        size_t acpi_loader_len;
        const cp_tdx_blob *acpi_blobs;
        size_t n_acpi_blobs;
        /* BootOrder and Boot#### variables; n_boot_vars 0 and
         * no_boot_vars false: OVMF's defaults (BootOrder 0000, Boot0000
         * UiApp). */
        const cp_tdx_blob *boot_vars;
        size_t n_boot_vars;
        bool no_boot_vars;
        /* The kernel (a PE image: the EFI stub), initrd, command line.
         * No kernel: no image, LoadOptions or initrd events. */
        const uint8_t *kernel;
        size_t kernel_len;
        const uint8_t *initrd;       /* NULL: none */
        size_t initrd_len;
        const char *cmdline;         /* NULL or "": empty */
        bool legacy_separator;       /* the boot separator in RTMR0 (edk2 < 2023) */
} cp_tdx_boot;

typedef struct cp_tdx_boot_result {
        bool has_rtmr0;
        uint8_t rtmr[CP_TDX_RTMR_COUNT][48];
        uint8_t *ccel;               /* the predicted event log (malloc()ed) */
        size_t ccel_len;
} cp_tdx_boot_result;

/* Derive the boot's events, RTMRs and CCEL.  Errors name the input refused
 * (CP_EFORMAT, CP_ETRUNC, CP_ETOOBIG, CP_ENOTFOUND for a TDVF without a
 * TD_HOB or CFV section or an ACPI blob the loader names but not given,
 * CP_EINVAL for an initrd without a kernel). */
CP_API CP_WUR int cp_tdx_boot_measure(const cp_tdx_boot *b, cp_tdx_boot_result *ret);
CP_API void cp_tdx_boot_result_done(cp_tdx_boot_result *r);

/* Parse a TD HOB list: the first HOB must be the PHIT (type 1), every HOB
 * at least 8 bytes and a multiple of 8 long, within the buffer, ending
 * with an end HOB (0xFFFF); only zero bytes may follow it.  *ret_len: the
 * list's length up to and including the end HOB (what TDVF measures). */
CP_API CP_WUR int cp_tdx_td_hob_parse(const uint8_t *hob, size_t len, size_t *ret_len);

/* The fw_cfg names QEMU's etc/table-loader ALLOCATEs, in command order
 * (128-byte entries; commands 1-4 only; names NUL-terminated within 56
 * bytes, at most CP_TDX_MAX_ACPI_BLOBS, no duplicates). */
CP_API CP_WUR int cp_qemu_loader_allocations(const uint8_t *loader, size_t len, char ret[][56], size_t max,
                                             size_t *ret_n);

#ifdef __cplusplus
}
#endif
#endif
