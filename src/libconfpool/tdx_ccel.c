/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CCEL parsing and replay, the TD HOB list and QEMU's ACPI table loader
 * (confpool/tdx_boot.h).  The CCEL is a TCG crypto-agile log: the generic
 * parser (tcg_eventlog.c) reads it, this file adds the TDX rules.
 */
#include <string.h>

#include "basic/cursor.h"
#include "confpool/tdx_boot.h"
#include "confpool/tdx_measure.h"
#include "confpool/tpm_quote.h"

#define MR_MAX 4u /* MR index 1..4 = RTMR0..3 */

static uint32_t rd32(const uint8_t *p) {
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static int check_events(const cp_tcg_eventlog *l) {
        for (size_t i = 0; i < cp_tcg_eventlog_count(l); i++) {
                const cp_tcg_event *e = cp_tcg_eventlog_get(l, i);
                if (e->pcr > MR_MAX)
                        return CP_ERROR(CP_EFORMAT, "CCEL event %zu (offset %zu): MR index %u is not 0..4 (MRTD, RTMR0-3)", i,
                                        e->offset, e->pcr);
                if (e->pcr == 0 && e->type != CP_EV_NO_ACTION)
                        return CP_ERROR(CP_EFORMAT,
                                        "CCEL event %zu (offset %zu): type 0x%x on MR 0 (MRTD is the TDX module's, no log extends it)",
                                        i, e->offset, e->type);
        }
        return 0;
}

int cp_ccel_parse(const uint8_t *data, size_t len, cp_ccel_info *ret, cp_tcg_eventlog **ret_log) {
        cp_tcg_eventlog *l = NULL;
        cp_tcg_pcrs p;
        int r;
        if (!data || !ret)
                return CP_ERROR(CP_EINVAL, "cp_ccel_parse: NULL argument");
        memset(ret, 0, sizeof *ret);
        if ((r = cp_tcg_eventlog_parse_ex(data, len, CP_TCG_PARSE_PADDED | CP_TCG_PARSE_CCEL, &l)) < 0)
                return cp_error_wrap("CCEL");
        if ((r = check_events(l)) < 0)
                goto done;
        if ((r = cp_tcg_eventlog_replay(l, CP_TPM_ALG_SHA384, &p)) < 0) {
                r = r == CP_ENOTFOUND ? CP_ERROR(CP_ENOTFOUND, "CCEL: the Spec ID event declares no SHA-384 bank")
                                      : cp_error_wrap("CCEL");
                goto done;
        }
        if (p.startup_locality) {
                r = CP_ERROR(CP_EFORMAT, "CCEL: a StartupLocality event (TPM only) in a TD's log");
                goto done;
        }
        for (unsigned i = 0; i < CP_TDX_RTMR_COUNT; i++) {
                memcpy(ret->rtmr[i], p.values[i + 1], 48);
                if (p.touched & (1u << (i + 1)))
                        ret->extended |= 1u << i;
        }
        ret->n_events = cp_tcg_eventlog_count(l);
        ret->padding = cp_tcg_eventlog_padding(l);
        if (ret_log) {
                *ret_log = l;
                l = NULL;
        }
done:
        cp_tcg_eventlog_free(l);
        return r < 0 ? r : 0;
}

/* ---- TD HOB ------------------------------------------------------------- */

#define HOB_PHIT 0x0001u
#define HOB_END 0xffffu

int cp_tdx_td_hob_parse(const uint8_t *hob, size_t len, size_t *ret_len) {
        if (!hob || !ret_len)
                return CP_ERROR(CP_EINVAL, "cp_tdx_td_hob_parse: NULL argument");
        if (len > CP_TDX_MAX_TD_HOB)
                return CP_ERROR(CP_ETOOBIG, "TD HOB of %zu bytes (at most %u)", len, CP_TDX_MAX_TD_HOB);
        cp_cursor c = cp_cursor_make(hob, len);
        for (size_t n = 0;; n++) {
                size_t at = cp_cursor_offset(&c);
                uint16_t type, hlen;
                int r;
                if ((r = cp_cursor_le16(&c, &type)) < 0 || (r = cp_cursor_le16(&c, &hlen)) < 0)
                        return CP_ERROR(CP_ETRUNC, "TD HOB: list ends at offset %zu without an end HOB", at);
                if (n == 0 && type != HOB_PHIT)
                        return CP_ERROR(CP_EFORMAT, "TD HOB: the first HOB has type 0x%x, not the PHIT (1)", type);
                if (hlen < 8 || hlen % 8)
                        return CP_ERROR(CP_EFORMAT, "TD HOB at offset %zu: length %u is not a multiple of 8 of at least 8", at,
                                        hlen);
                if (hlen > len - at)
                        return CP_ERROR(CP_ETRUNC, "TD HOB at offset %zu: %u bytes run past the %zu-byte list", at, hlen, len);
                if (type == HOB_PHIT && (n != 0 || hlen < 56))
                        return CP_ERROR(CP_EFORMAT, "TD HOB at offset %zu: a PHIT HOB that is not first or shorter than 56", at);
                c.off = at + hlen;
                if (type == HOB_END) {
                        if ((r = cp_cursor_zero(&c, cp_cursor_remaining(&c), "bytes after the TD HOB list's end HOB")) < 0)
                                return CP_ERROR(CP_ETRAILING, "TD HOB: non-zero bytes after the end HOB at offset %zu", at);
                        *ret_len = at + hlen;
                        return 0;
                }
        }
}

/* ---- QEMU's etc/table-loader -------------------------------------------- */

#define LOADER_ENTRY 128u
#define LOADER_FILE 56u

int cp_qemu_loader_allocations(const uint8_t *loader, size_t len, char ret[][56], size_t max, size_t *ret_n) {
        if (!loader || !ret || !ret_n)
                return CP_ERROR(CP_EINVAL, "cp_qemu_loader_allocations: NULL argument");
        if (len == 0 || len % LOADER_ENTRY || len > 4096u * LOADER_ENTRY)
                return CP_ERROR(CP_EFORMAT, "ACPI table loader of %zu bytes is not a list of 128-byte commands", len);
        size_t n = 0;
        for (size_t off = 0; off < len; off += LOADER_ENTRY) {
                const uint8_t *e = loader + off;
                uint32_t cmd = rd32(e);
                if (cmd < 1 || cmd > 4)
                        return CP_ERROR(CP_EFORMAT, "ACPI table loader command %zu: unknown command %u", off / LOADER_ENTRY, cmd);
                if (cmd != 1)
                        continue;
                const char *name = (const char *) e + 4;
                size_t nl = strnlen(name, LOADER_FILE);
                if (nl == 0 || nl == LOADER_FILE)
                        return CP_ERROR(CP_EFORMAT, "ACPI table loader command %zu: file name empty or not NUL-terminated",
                                        off / LOADER_ENTRY);
                for (size_t i = 0; i < n; i++)
                        if (strcmp(ret[i], name) == 0)
                                return CP_ERROR(CP_EFORMAT, "ACPI table loader allocates \"%.55s\" twice", name);
                if (n == max)
                        return CP_ERROR(CP_ETOOBIG, "ACPI table loader allocates more than %zu files", max);
                memcpy(ret[n], name, nl + 1);
                n++;
        }
        *ret_n = n;
        return 0;
}
