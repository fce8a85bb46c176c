/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RTMR 0-2 of a TD's direct kernel boot (confpool/tdx_boot.h).  The
 * sequence follows Intel's test CCEL (a QEMU direct boot on TDVF) and
 * Google's COS TDX logs event for event: docs/measure.md "TDX: RTMR 0-2
 * of a boot".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/cleanup.h"
#include "basic/cursor.h"
#include "confpool/tdx_boot.h"
#include "confpool/tdx_measure.h"
#include "confpool/tpm_quote.h"

enum { MR_RTMR0 = 1, MR_RTMR1 = 2, MR_RTMR2 = 3 };

/* 8be4df61-93ca-11d2-aa0d-00e098032b8c */
static const uint8_t GUID_GLOBAL[16] = { 0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11,
                                         0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c };
/* d719b2cb-3d3a-4596-a3bc-dad00e67656f */
static const uint8_t GUID_SECDB[16] = { 0xcb, 0xb2, 0x19, 0xd7, 0x3a, 0x3d, 0x96, 0x45,
                                        0xa3, 0xbc, 0xda, 0xd0, 0x0e, 0x67, 0x65, 0x6f };
/* gUefiOvmfPkgTokenSpaceGuid 93bb96af-b9f2-4eb8-9462-e0ba74564236: the TD HOB's table GUID */
static const uint8_t GUID_OVMF_TOKEN[16] = { 0xaf, 0x96, 0xbb, 0x93, 0xf2, 0xb9, 0xb8, 0x4e,
                                             0x94, 0x62, 0xe0, 0xba, 0x74, 0x56, 0x42, 0x36 };
/* OVMF's Boot0000 "UiApp" load option (attributes 0x109, FvFile(462caa21-...) in the DXE FV
 * 7cb8bdc9-...): the bytes Intel's and Google's real CCELs both carry */
static const uint8_t BOOT0000_UIAPP[62] = {
        0x09, 0x01, 0x00, 0x00, 0x2c, 0x00, 0x55, 0x00, 0x69, 0x00, 0x41, 0x00, 0x70, 0x00, 0x70, 0x00,
        0x00, 0x00, 0x04, 0x07, 0x14, 0x00, 0xc9, 0xbd, 0xb8, 0x7c, 0xeb, 0xf8, 0x34, 0x4f, 0xaa, 0xea,
        0x3e, 0xe4, 0xaf, 0x65, 0x16, 0xa1, 0x04, 0x06, 0x14, 0x00, 0x21, 0xaa, 0x2c, 0x46, 0x14, 0x76,
        0x03, 0x45, 0x83, 0x6e, 0x8a, 0xb6, 0xf4, 0x66, 0x23, 0x31, 0x7f, 0xff, 0x04, 0x00 };
/* the device path of QEMU's kernel in OVMF's QemuKernelLoaderFs: VenMedia(1428f772-...)/kernel */
static const uint8_t KERNEL_DEVPATH[42] = {
        0x04, 0x03, 0x14, 0x00, 0x72, 0xf7, 0x28, 0x14, 0x4a, 0xb6, 0x1e, 0x44, 0xb8, 0xc3, 0x9e, 0xbd,
        0xd7, 0xf8, 0x93, 0xc7, 0x04, 0x04, 0x12, 0x00, 'k',  0x00, 'e',  0x00, 'r',  0x00, 'n',  0x00,
        'e',  0x00, 'l',  0x00, 0x00, 0x00, 0x7f, 0xff, 0x04, 0x00 };

typedef struct bctx {
        cp_tcg_eventlog_builder *log;
        const cp_tdx_boot *b;
        cp_tdvf_info tdvf;
} bctx;

static int add(bctx *c, uint32_t mr, uint32_t type, const void *measured, size_t mlen, const void *ev, size_t evlen) {
        return cp_tcg_eventlog_builder_add(c->log, mr, type, measured, mlen, ev, evlen);
}

/* UEFI_VARIABLE_DATA: GUID, u64 name length (chars), u64 data length, UTF-16 name (no NUL), data */
static int var_event(bctx *c, uint32_t mr, uint32_t type, const uint8_t guid[16], const char *name, const uint8_t *data,
                     size_t len, bool digest_of_data) {
        size_t nl = strlen(name);
        cp_writer w = cp_writer_make_growable(64 + 2 * nl + len);
        int r;
        if ((r = cp_writer_bytes(&w, guid, 16)) >= 0 && (r = cp_writer_le64(&w, nl)) >= 0 && (r = cp_writer_le64(&w, len)) >= 0)
                for (size_t i = 0; i < nl && r >= 0; i++)
                        r = cp_writer_le16(&w, (uint8_t) name[i]);
        if (r >= 0)
                r = cp_writer_bytes(&w, data, len);
        if (r >= 0)
                r = digest_of_data ? add(c, mr, type, data ? data : (const uint8_t *) "", len, w.p, w.off)
                                   : add(c, mr, type, NULL, 0, w.p, w.off);
        cp_writer_done(&w);
        return r;
}

static const cp_tdvf_section *find_section(const cp_tdvf_info *t, uint32_t type, const char *what) {
        for (size_t i = 0; i < t->n_sections; i++)
                if (t->sections[i].type == type)
                        return &t->sections[i];
        (void) CP_ERROR(CP_ENOTFOUND, "TDVF metadata has no %s section", what);
        return NULL;
}

/* confpool's own TD HOB list (not QEMU's): PHIT, one system-memory
 * resource descriptor of mem bytes at 0, end */
static void default_hob(uint64_t mem, uint8_t hob[112]) {
        memset(hob, 0, 112);
        cp_put_le16(hob, 0x0001), cp_put_le16(hob + 2, 56), cp_put_le32(hob + 8, 9);
        cp_put_le16(hob + 56, 0x0003), cp_put_le16(hob + 58, 48), cp_put_le32(hob + 84, 0x7);
        cp_put_le64(hob + 96, mem);
        cp_put_le16(hob + 104, 0xffff), cp_put_le16(hob + 106, 8);
}

static int measure_hob(bctx *c) {
        const cp_tdvf_section *s = find_section(&c->tdvf, CP_TDVF_TD_HOB, "TD_HOB");
        uint8_t own[112], ev[42] = { 9 };
        const uint8_t *hob = c->b->td_hob;
        size_t len = 0;
        int r;
        if (!s)
                return CP_ENOTFOUND;
        if (!hob) {
                default_hob(c->b->mem_size ? c->b->mem_size : UINT64_C(2) << 30, own);
                hob = own;
                len = sizeof own;
        } else if ((r = cp_tdx_td_hob_parse(hob, c->b->td_hob_len, &len)) < 0)
                return r;
        memcpy(ev + 1, "TdxTable", 9);
        cp_put_le64(ev + 10, 1);
        memcpy(ev + 18, GUID_OVMF_TOKEN, 16);
        cp_put_le64(ev + 34, s->gpa);
        return add(c, MR_RTMR0, CP_EV_EFI_HANDOFF_TABLES2, hob, len, ev, sizeof ev);
}

/* "Fv(<the CFV's FV name from its extended header, upper case>)", or edk2's
 * placeholder when it has none */
static void cfv_description(const uint8_t *cfv, size_t len, char out[41]) {
        snprintf(out, 41, "Fv(XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX)");
        if (len < 56 || memcmp(cfv + 40, "_FVH", 4) != 0)
                return;
        size_t ext = (size_t) cfv[52] | (size_t) cfv[53] << 8;
        if (ext == 0 || ext + 16 > len)
                return;
        const uint8_t *g = cfv + ext;
        snprintf(out, 41, "Fv(%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X)", g[3], g[2], g[1], g[0],
                 g[5], g[4], g[7], g[6], g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]);
}

static int measure_cfv(bctx *c) {
        const cp_tdvf_section *s = find_section(&c->tdvf, CP_TDVF_CFV, "CFV");
        uint8_t ev[58] = { 41 };
        if (!s)
                return CP_ENOTFOUND;
        const uint8_t *cfv = c->b->fw + s->data_offset;
        cfv_description(cfv, s->raw_size, (char *) ev + 1);
        cp_put_le64(ev + 42, s->gpa);
        cp_put_le64(ev + 50, s->raw_size);
        return add(c, MR_RTMR0, CP_EV_EFI_PLATFORM_FIRMWARE_BLOB2, cfv, s->raw_size, ev, sizeof ev);
}

static int measure_secure_boot(bctx *c) {
        static const char *const names[CP_TDX_SB_COUNT] = { "SecureBoot", "PK", "KEK", "db", "dbx" };
        static const uint8_t zero = 0;
        int r;
        for (unsigned i = 0; i < CP_TDX_SB_COUNT; i++) {
                const cp_tdx_blob *v = &c->b->sb[i];
                const uint8_t *d = v->present ? v->data : NULL;
                size_t n = v->present ? v->len : 0;
                if (i == CP_TDX_SB_SECUREBOOT && !v->present)
                        d = &zero, n = 1;
                if (i == CP_TDX_SB_SECUREBOOT && n != 1)
                        return CP_ERROR(CP_EFORMAT, "secure-boot variable SecureBoot has %zu bytes, not 1", n);
                if ((r = var_event(c, MR_RTMR0, CP_EV_EFI_VARIABLE_DRIVER_CONFIG, i < CP_TDX_SB_DB ? GUID_GLOBAL : GUID_SECDB,
                                   names[i], d, n, false)) < 0)
                        return r;
        }
        static const uint8_t sep[4] = { 0 };
        return add(c, MR_RTMR0, CP_EV_SEPARATOR, NULL, 0, sep, sizeof sep);
}

static int measure_acpi(bctx *c) {
        const cp_tdx_boot *b = c->b;
        char names[CP_TDX_MAX_ACPI_BLOBS][56];
        size_t n = 0;
        int r;
        if (!b->acpi_loader)
                return b->n_acpi_blobs ? CP_ERROR(CP_EINVAL, "ACPI blobs given without etc/table-loader") : 0;
        if ((r = cp_qemu_loader_allocations(b->acpi_loader, b->acpi_loader_len, names, CP_TDX_MAX_ACPI_BLOBS, &n)) < 0 ||
            (r = add(c, MR_RTMR0, CP_EV_PLATFORM_CONFIG_FLAGS, b->acpi_loader, b->acpi_loader_len, "ACPI DATA", 9)) < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                const cp_tdx_blob *blob = NULL;
                for (size_t j = 0; j < b->n_acpi_blobs && !blob; j++)
                        if (b->acpi_blobs[j].name && strcmp(b->acpi_blobs[j].name, names[i]) == 0)
                                blob = &b->acpi_blobs[j];
                if (!blob || !blob->present)
                        return CP_ERROR(CP_ENOTFOUND, "ACPI table loader allocates \"%s\", which was not given", names[i]);
                if ((r = add(c, MR_RTMR0, CP_EV_PLATFORM_CONFIG_FLAGS, blob->data, blob->len, "ACPI DATA", 9)) < 0)
                        return r;
        }
        return 0;
}

static int measure_boot_vars(bctx *c) {
        static const uint8_t order0[2] = { 0 };
        const cp_tdx_boot *b = c->b;
        int r;
        if (b->no_boot_vars)
                return 0;
        if (b->n_boot_vars == 0) {
                if ((r = var_event(c, MR_RTMR0, CP_EV_EFI_VARIABLE_BOOT, GUID_GLOBAL, "BootOrder", order0, 2, true)) < 0)
                        return r;
                return var_event(c, MR_RTMR0, CP_EV_EFI_VARIABLE_BOOT, GUID_GLOBAL, "Boot0000", BOOT0000_UIAPP,
                                 sizeof BOOT0000_UIAPP, true);
        }
        if (b->n_boot_vars > CP_TDX_MAX_BOOT_VARS)
                return CP_ERROR(CP_ETOOBIG, "%zu boot variables (at most %u)", b->n_boot_vars, CP_TDX_MAX_BOOT_VARS);
        for (size_t i = 0; i < b->n_boot_vars; i++) {
                const cp_tdx_blob *v = &b->boot_vars[i];
                if (!v->name || strlen(v->name) > 64 || !v->present)
                        return CP_ERROR(CP_EINVAL, "boot variable %zu has no name or no data", i);
                if ((r = var_event(c, MR_RTMR0, CP_EV_EFI_VARIABLE_BOOT, GUID_GLOBAL, v->name, v->data, v->len, true)) < 0)
                        return r;
        }
        return 0;
}

static int measure_kernel(bctx *c) {
        const cp_tdx_boot *b = c->b;
        uint8_t d[48], ev[32 + sizeof KERNEL_DEVPATH];
        int r;
        if ((r = cp_pe_authenticode(b->kernel, b->kernel_len, CP_TPM_ALG_SHA384, d, sizeof d)) < 0)
                return cp_error_wrap("kernel");
        cp_tcg_digest dg = { .alg = CP_TPM_ALG_SHA384, .digest = d, .len = 48 };
        memset(ev, 0, 32);
        cp_put_le64(ev + 8, b->kernel_len);
        cp_put_le64(ev + 24, sizeof KERNEL_DEVPATH);
        memcpy(ev + 32, KERNEL_DEVPATH, sizeof KERNEL_DEVPATH);
        return cp_tcg_eventlog_builder_add_digests(c->log, MR_RTMR1, CP_EV_EFI_BOOT_SERVICES_APPLICATION, &dg, 1, ev,
                                                   sizeof ev);
}

/* OVMF's LoadOptions: UTF-16LE of the command line, " initrd=initrd" when
 * there is an initrd, NUL-terminated; the EFI stub measures those bytes */
static int measure_os(bctx *c) {
        const cp_tdx_boot *b = c->b;
        const char *cmd = b->cmdline ? b->cmdline : "";
        const char *extra = b->initrd ? " initrd=initrd" : "";
        size_t n = strlen(cmd), m = strlen(extra);
        int r;
        if (n > CP_TDX_MAX_CMDLINE)
                return CP_ERROR(CP_ETOOBIG, "kernel command line of %zu bytes (at most %u)", n, CP_TDX_MAX_CMDLINE);
        for (size_t i = 0; i < n; i++)
                if ((unsigned char) cmd[i] >= 0x80 || cmd[i] < 0x20)
                        return CP_ERROR(CP_EFORMAT, "kernel command line byte %zu (0x%02x) is not printable ASCII", i,
                                        (unsigned char) cmd[i]);
        _cleanup_free_ uint8_t *u = calloc(n + m + 1, 2);
        if (!u)
                return cp_error_oom();
        for (size_t i = 0; i < n + m; i++)
                u[2 * i] = (uint8_t) (i < n ? cmd[i] : extra[i - n]);
        if ((r = add(c, MR_RTMR2, CP_EV_EVENT_TAG, u, 2 * (n + m + 1), "LOADED_IMAGE::LoadOptions", 26)) < 0)
                return r;
        return b->initrd ? add(c, MR_RTMR2, CP_EV_EVENT_TAG, b->initrd, b->initrd_len, "Linux initrd", 13) : 0;
}

static int measure_all(bctx *c) {
        static const char calling[] = "Calling EFI Application from Boot Option";
        static const char exit1[] = "Exit Boot Services Invocation", exit2[] = "Exit Boot Services Returned with Success";
        static const uint8_t sep[4] = { 0 };
        const cp_tdx_boot *b = c->b;
        int r;
        if (b->fw && ((r = measure_hob(c)) < 0 || (r = measure_cfv(c)) < 0 || (r = measure_secure_boot(c)) < 0 ||
                      (r = measure_acpi(c)) < 0))
                return r;
        if (b->kernel && (r = measure_kernel(c)) < 0)
                return r;
        if (b->fw && (r = measure_boot_vars(c)) < 0)
                return r;
        if ((r = add(c, MR_RTMR1, CP_EV_EFI_ACTION, NULL, 0, calling, sizeof calling - 1)) < 0)
                return r;
        if ((b->fw || !b->legacy_separator) &&
            (r = add(c, b->legacy_separator ? MR_RTMR0 : MR_RTMR1, CP_EV_SEPARATOR, NULL, 0, sep, sizeof sep)) < 0)
                return r;
        if (b->kernel && (r = measure_os(c)) < 0)
                return r;
        if ((r = add(c, MR_RTMR1, CP_EV_EFI_ACTION, NULL, 0, exit1, sizeof exit1 - 1)) < 0)
                return r;
        return add(c, MR_RTMR1, CP_EV_EFI_ACTION, NULL, 0, exit2, sizeof exit2 - 1);
}

int cp_tdx_boot_measure(const cp_tdx_boot *b, cp_tdx_boot_result *ret) {
        static const uint16_t sha384 = CP_TPM_ALG_SHA384;
        if (!b || !ret)
                return CP_ERROR(CP_EINVAL, "cp_tdx_boot_measure: NULL argument");
        memset(ret, 0, sizeof *ret);
        if (b->initrd && !b->kernel)
                return CP_ERROR(CP_EINVAL, "an initrd without a kernel");
        if ((b->initrd_len && !b->initrd) || (b->kernel_len && !b->kernel) || (b->td_hob && !b->fw))
                return CP_ERROR(CP_EINVAL, "cp_tdx_boot_measure: inconsistent arguments");
        if (b->kernel_len > CP_TDX_MAX_KERNEL || b->initrd_len > CP_TDX_MAX_KERNEL)
                return CP_ERROR(CP_ETOOBIG, "kernel or initrd above %u bytes", CP_TDX_MAX_KERNEL);
        bctx c = { .b = b };
        int r;
        if (b->fw && (r = cp_tdvf_parse(b->fw, b->fw_len, &c.tdvf)) < 0)
                return cp_error_wrap("TDVF");
        if ((r = cp_tcg_eventlog_builder_new(&sha384, 1, &c.log)) < 0)
                return r;
        if ((r = measure_all(&c)) < 0)
                goto done;
        for (unsigned i = 0; i < CP_TDX_RTMR_COUNT; i++)
                if ((r = cp_tcg_eventlog_builder_pcr(c.log, CP_TPM_ALG_SHA384, i + 1, ret->rtmr[i], 48)) < 0)
                        goto done;
        ret->has_rtmr0 = b->fw != NULL;
        if (!ret->has_rtmr0)
                memset(ret->rtmr[0], 0, 48);
        if ((r = cp_tcg_eventlog_builder_serialize(c.log, &ret->ccel, &ret->ccel_len)) >= 0 && ret->ccel_len >= 4)
                cp_put_le32(ret->ccel, 1); /* the Spec ID event's index, as TDVF writes it */
done:
        cp_tcg_eventlog_builder_free(c.log);
        if (r < 0)
                cp_tdx_boot_result_done(ret);
        return r < 0 ? r : 0;
}

void cp_tdx_boot_result_done(cp_tdx_boot_result *r) {
        if (!r)
                return;
        free(r->ccel);
        memset(r, 0, sizeof *r);
}
