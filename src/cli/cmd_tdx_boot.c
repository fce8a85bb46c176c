/* SPDX-License-Identifier: Apache-2.0 */
/*
 * confpool tdx measure --ovmf F --kernel K [--initrd I] [--cmdline S] [--acpi-tables DIR]
 *     [--secure-boot-vars DIR|none] [--boot-vars DIR] [--td-hob F] [--mem-size BYTES]
 *     [--legacy-separator] [--eventlog-out F] [-o text|json]
 *   RTMR 0-2 of a TD's direct kernel boot (confpool/tdx_boot.h) and the CCEL
 *   it predicts.
 * confpool tdx measure --replay-ccel FILE [-o text|json]
 *   RTMR 0-3 recomputed from a real CC event log.
 * Both are reached from cp_cmd_tdx_measure (cmd_tdx_emu.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/fileio.h"
#include "cli/cmd_tdx_boot.h"
#include "basic/limits.h"
#include "cli/exit.h"

#define FILE_MAX (256u << 20)

typedef struct owned {
        uint8_t *buf[64];
        size_t n;
        char names[CP_TDX_MAX_ACPI_BLOBS + CP_TDX_MAX_BOOT_VARS][64];
        cp_tdx_blob acpi[CP_TDX_MAX_ACPI_BLOBS], boot[CP_TDX_MAX_BOOT_VARS + 1];
} owned;

static void owned_done(owned *o) {
        for (size_t i = 0; i < o->n; i++)
                free(o->buf[i]);
}

/* read dir/name; missing: *present false (when optional) */
static int read_in(owned *o, const char *dir, const char *name, bool optional, cp_tdx_blob *ret) {
        char p[4096];
        snprintf(p, sizeof p, "%s%s%s", dir, name ? "/" : "", name ? name : "");
        memset(ret, 0, sizeof *ret);
        ret->name = name;
        if (optional && access(p, F_OK) != 0)
                return 0;
        if (o->n == sizeof o->buf / sizeof o->buf[0])
                return CP_ERROR(CP_ETOOBIG, "too many input files");
        uint8_t *b = NULL;
        size_t len = 0;
        int r = cp_read_file(p, FILE_MAX, &b, &len);
        if (r < 0)
                return cp_error_wrap("%s", p);
        o->buf[o->n++] = b;
        ret->data = b ? b : (const uint8_t *) "";
        ret->len = len;
        ret->present = true;
        return 0;
}

/* --acpi-tables DIR: table-loader, and every blob it allocates by its base name */
static int read_acpi(owned *o, const char *dir, cp_tdx_boot *b) {
        cp_tdx_blob loader;
        char names[CP_TDX_MAX_ACPI_BLOBS][56];
        size_t n = 0;
        int r;
        if ((r = read_in(o, dir, "table-loader", false, &loader)) < 0 ||
            (r = cp_qemu_loader_allocations(loader.data, loader.len, names, CP_TDX_MAX_ACPI_BLOBS, &n)) < 0)
                return r;
        b->acpi_loader = loader.data, b->acpi_loader_len = loader.len;
        for (size_t i = 0; i < n; i++) {
                const char *base = strrchr(names[i], '/');
                base = base ? base + 1 : names[i];
                if (!*base || !strcmp(base, "..") || !strcmp(base, "."))
                        return CP_ERROR(CP_EFORMAT, "ACPI table loader file name \"%s\" has no usable base name", names[i]);
                memcpy(o->names[i], names[i], sizeof names[i]);
                if ((r = read_in(o, dir, base, false, &o->acpi[i])) < 0)
                        return r;
                o->acpi[i].name = o->names[i];
        }
        b->acpi_blobs = o->acpi, b->n_acpi_blobs = n;
        return 0;
}

/* --boot-vars DIR: BootOrder, then Boot#### in its order */
static int read_boot_vars(owned *o, const char *dir, cp_tdx_boot *b) {
        int r;
        if ((r = read_in(o, dir, "BootOrder", false, &o->boot[0])) < 0)
                return r;
        const cp_tdx_blob *ord = &o->boot[0];
        if (ord->len % 2 || ord->len / 2 > CP_TDX_MAX_BOOT_VARS)
                return CP_ERROR(CP_EFORMAT, "%s/BootOrder: %zu bytes is not a list of at most %u u16", dir, ord->len,
                                CP_TDX_MAX_BOOT_VARS);
        size_t n = ord->len / 2;
        for (size_t i = 0; i < n; i++) {
                char *nm = o->names[CP_TDX_MAX_ACPI_BLOBS + i];
                snprintf(nm, 64, "Boot%04X", (unsigned) (ord->data[2 * i] | ord->data[2 * i + 1] << 8));
                if ((r = read_in(o, dir, nm, false, &o->boot[i + 1])) < 0)
                        return r;
        }
        b->boot_vars = o->boot, b->n_boot_vars = n + 1;
        return 0;
}

static int read_inputs(const cp_tdx_boot_args *a, owned *o, cp_tdx_boot *b) {
        static const char *const sb[CP_TDX_SB_COUNT] = { "SecureBoot", "PK", "KEK", "db", "dbx" };
        cp_tdx_blob x;
        int r;
        if (a->kernel) {
                if ((r = read_in(o, a->kernel, NULL, false, &x)) < 0)
                        return r;
                b->kernel = x.data, b->kernel_len = x.len;
        }
        if (a->initrd) {
                if ((r = read_in(o, a->initrd, NULL, false, &x)) < 0)
                        return r;
                b->initrd = x.data, b->initrd_len = x.len;
        }
        if (a->td_hob) {
                if ((r = read_in(o, a->td_hob, NULL, false, &x)) < 0)
                        return r;
                b->td_hob = x.data, b->td_hob_len = x.len;
        }
        if (a->sb_dir && strcmp(a->sb_dir, "none") != 0)
                for (unsigned i = 0; i < CP_TDX_SB_COUNT; i++)
                        if ((r = read_in(o, a->sb_dir, sb[i], true, &b->sb[i])) < 0)
                                return r;
        if (a->acpi_dir && (r = read_acpi(o, a->acpi_dir, b)) < 0)
                return r;
        if (a->boot_vars_dir && strcmp(a->boot_vars_dir, "none") == 0)
                b->no_boot_vars = true;
        else if (a->boot_vars_dir && (r = read_boot_vars(o, a->boot_vars_dir, b)) < 0)
                return r;
        return 0;
}

static json_t *hexj(const uint8_t *p, size_t n) {
        char h[2 * 64 + 1];
        cp_hex_encode(p, n, h);
        return json_string(h);
}

/* the events of a CCEL as JSON: mr index, register, type, digest, data size */
static json_t *events_json(const cp_tcg_eventlog *l) {
        static const char *const reg[5] = { "MRTD", "RTMR0", "RTMR1", "RTMR2", "RTMR3" };
        json_t *a = json_array();
        for (size_t i = 0; a && i < cp_tcg_eventlog_count(l); i++) {
                const cp_tcg_event *e = cp_tcg_eventlog_get(l, i);
                const char *tn = cp_tcg_event_type_name(e->type);
                const uint8_t *d = cp_tcg_event_digest(e, CP_TPM_ALG_SHA384);
                json_array_append_new(a, json_pack("{s:i,s:s,s:s,s:o,s:I}", "mr_index", (int) e->pcr, "register",
                                                   e->pcr < 5 ? reg[e->pcr] : "?", "type", tn ? tn : "unknown", "digest",
                                                   d ? hexj(d, 48) : json_null(), "data_len", (json_int_t) e->data_len));
        }
        return a;
}

int cp_tdx_cmd_replay_ccel(const char *path, bool json) {
        _cleanup_free_ uint8_t *buf = NULL;
        size_t len = 0;
        cp_ccel_info info;
        cp_tcg_eventlog *l = NULL;
        if (cp_read_file(path, CP_MAX_TCG_EVENTLOG, &buf, &len) < 0 || cp_ccel_parse(buf, len, &info, &l) < 0) {
                cp_cli_error(path);
                return CP_EXIT_FAILURE;
        }
        if (!json) {
                for (unsigned i = 0; i < CP_TDX_RTMR_COUNT; i++) {
                        char h[97];
                        cp_hex_encode(info.rtmr[i], 48, h);
                        printf("RTMR%u  %s\n", i, h);
                }
                printf("events %zu, fill %zu bytes\n", info.n_events, info.padding);
        } else {
                json_t *o = json_pack("{s:o,s:o,s:o,s:o,s:I,s:I,s:o}", "rtmr0", hexj(info.rtmr[0], 48), "rtmr1",
                                      hexj(info.rtmr[1], 48), "rtmr2", hexj(info.rtmr[2], 48), "rtmr3",
                                      hexj(info.rtmr[3], 48), "event_count", (json_int_t) info.n_events, "padding",
                                      (json_int_t) info.padding, "events", events_json(l));
                char *s = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
                json_decref(o);
                if (s)
                        puts(s);
                free(s);
        }
        cp_tcg_eventlog_free(l);
        return CP_EXIT_OK;
}

static int boot_print(const cp_tdx_boot_result *res, const uint8_t *mrtd, json_t *extra, bool json) {
        if (!json) {
                char h[97];
                if (mrtd) {
                        cp_hex_encode(mrtd, 48, h);
                        printf("MRTD   %s\n", h);
                }
                for (unsigned i = res->has_rtmr0 ? 0 : 1; i < 3; i++) {
                        cp_hex_encode(res->rtmr[i], 48, h);
                        printf("RTMR%u  %s\n", i, h);
                }
                json_decref(extra);
                return CP_EXIT_OK;
        }
        cp_tcg_eventlog *l = NULL;
        cp_ccel_info info;
        if (cp_ccel_parse(res->ccel, res->ccel_len, &info, &l) < 0) {
                json_decref(extra);
                cp_cli_error("the predicted event log");
                return CP_EXIT_FAILURE;
        }
        json_t *o = extra ? extra : json_object();
        json_object_set_new(o, "mrtd", mrtd ? hexj(mrtd, 48) : json_null());
        json_object_set_new(o, "rtmr0", res->has_rtmr0 ? hexj(res->rtmr[0], 48) : json_null());
        json_object_set_new(o, "rtmr1", hexj(res->rtmr[1], 48));
        json_object_set_new(o, "rtmr2", hexj(res->rtmr[2], 48));
        json_object_set_new(o, "rtmr3", hexj(res->rtmr[3], 48));
        json_object_set_new(o, "events", events_json(l));
        cp_tcg_eventlog_free(l);
        char *s = json_dumps(o, JSON_INDENT(2));
        json_decref(o);
        if (s)
                puts(s);
        free(s);
        return s ? CP_EXIT_OK : CP_EXIT_FAILURE;
}

int cp_tdx_cmd_boot(const cp_tdx_boot_args *a, const uint8_t *fw, size_t fw_len, const uint8_t *mrtd, json_t *extra,
                    bool json) {
        owned o = { 0 };
        cp_tdx_boot b = { .fw = fw, .fw_len = fw_len, .cmdline = a->cmdline, .mem_size = a->mem_size,
                          .legacy_separator = a->legacy_separator };
        cp_tdx_boot_result res = { 0 };
        int r = read_inputs(a, &o, &b);
        if (r >= 0)
                r = cp_tdx_boot_measure(&b, &res);
        owned_done(&o);
        if (r < 0) {
                json_decref(extra);
                cp_cli_error("tdx measure");
                return CP_EXIT_FAILURE;
        }
        if (a->eventlog_out && cp_write_file(a->eventlog_out, res.ccel, res.ccel_len, 0644) < 0) {
                json_decref(extra);
                cp_tdx_boot_result_done(&res);
                cp_cli_error(a->eventlog_out);
                return CP_EXIT_FAILURE;
        }
        r = boot_print(&res, mrtd, extra, json);
        cp_tdx_boot_result_done(&res);
        return r;
}
