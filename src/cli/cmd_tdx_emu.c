/* SPDX-License-Identifier: Apache-2.0 */
/*
 * confpool tdx measure --tdvf IMAGE [--two-pass] [--rtmr I:HEX48]... [--rtmr-data I:FILE]... [-o text|json]
 *   MRTD of a TD built from a TDVF image (confpool/tdx_measure.h), and
 *   RTMR0-3 after the given extensions (digests, or the SHA-384 of files).
 * confpool tdx fetch --fmspc HEX [--pcs-url URL] [--out DIR] [--max-age S] [--offline]
 *   TDX collateral from Intel's PCS API v4 URL shapes into DIR, which is
 *   also the cache: a file younger than --max-age is not fetched again.
 * confpool tdx quote --out FILE [--report-data HEX128] [--report0] [--tsm-root D | --device P | --socket P]
 *   In a TD: a quote over configfs-tsm, or a TDREPORT over /dev/tdx_guest.
 * confpool tdx emu --out DIR [--tdvf IMAGE] [--report-data HEX64] [--tcb-status S] [--recovery] [--serve]
 *   A software TDX platform (src/emu/tdx_emu.h, an emulated root: never
 *   trusted in production) makes one quote and its collateral; --serve then
 *   serves its PCS on 127.0.0.1 (and with --socket the TD's emulated
 *   channel, tdx_emu.h) until SIGTERM.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/fileio.h"
#include "cli/cli.h"
#include "cli/cmd_tdx_boot.h"
#include "cli/cmd_tdx_emu.h"
#include "confpool/tdx_measure.h"
#include "emu/tdx_emu.h"
#include "service/httpc.h"
#include "service/httpd.h"

#define IMG_MAX (64u << 20)

static int usage_err(const char *cmd, const char *msg) {
        fprintf(stderr, "confpool tdx %s: %s\n", cmd, msg);
        return CP_EXIT_USAGE;
}

static void print_hex(const char *label, const uint8_t *p, size_t n) {
        char h[2 * 64 + 1];
        cp_hex_encode(p, n, h);
        printf("%-6s %s\n", label, h);
}

static json_t *hexj(const uint8_t *p, size_t n) {
        char h[2 * 64 + 1];
        cp_hex_encode(p, n, h);
        return json_string(h);
}

/* "I:VALUE" with I in 0..3 */
static int rtmr_arg(const char *s, unsigned *idx, const char **val) {
        if (!s || s[0] < '0' || s[0] > '3' || s[1] != ':')
                return -1;
        *idx = (unsigned) (s[0] - '0');
        *val = s + 2;
        return 0;
}

typedef struct measure_args {
        const char *tdvf;
        bool two_pass, json, extended;
        uint8_t rtmr[4][48];
        cp_tdx_boot_args boot;
} measure_args;

static int rtmr_extend_arg(measure_args *a, const char *arg, bool file) {
        unsigned idx;
        const char *v;
        uint8_t d[48];
        size_t got = 0;
        if (rtmr_arg(arg, &idx, &v) < 0)
                return usage_err("measure", "--rtmr and --rtmr-data take I:VALUE with I in 0..3");
        if (file) {
                _cleanup_free_ uint8_t *data = NULL;
                size_t len = 0;
                unsigned n = 0;
                if (cp_read_file(v, IMG_MAX, &data, &len) < 0) {
                        cp_cli_error(v);
                        return CP_EXIT_FAILURE;
                }
                if (EVP_Digest(data, len, d, &n, EVP_sha384(), NULL) != 1)
                        return CP_EXIT_FAILURE;
        } else if (strlen(v) != 96 || cp_hex_decode(v, 96, d, 48, &got) < 0 || got != 48)
                return usage_err("measure", "--rtmr digest must be 96 hex digits (SHA-384)");
        a->extended = true;
        if (cp_tdx_rtmr_extend(a->rtmr[idx], d) < 0) {
                cp_cli_error("RTMR");
                return CP_EXIT_FAILURE;
        }
        return CP_EXIT_OK;
}

static json_t *sections_json(const cp_tdvf_info *info) {
        json_t *secs = json_array();
        for (size_t i = 0; i < info->n_sections; i++) {
                const cp_tdvf_section *s = &info->sections[i];
                json_array_append_new(secs, json_pack("{s:s,s:I,s:I,s:I,s:I,s:b,s:b}", "type",
                                                      cp_tdvf_section_type_name(s->type), "gpa", (json_int_t) s->gpa,
                                                      "size", (json_int_t) s->mem_size, "data_offset",
                                                      (json_int_t) s->data_offset, "raw_size", (json_int_t) s->raw_size,
                                                      "mr_extend", (s->attributes & CP_TDVF_ATTR_MR_EXTEND) != 0,
                                                      "page_aug", (s->attributes & CP_TDVF_ATTR_PAGE_AUG) != 0));
        }
        return secs;
}

static int measure_print(const measure_args *a, const cp_tdvf_info *info, const uint8_t mrtd[48]) {
        static const char *const names[4] = { "RTMR0", "RTMR1", "RTMR2", "RTMR3" };
        if (!a->json) {
                print_hex("MRTD", mrtd, 48);
                for (unsigned i = 0; i < 4; i++)
                        print_hex(names[i], a->rtmr[i], 48);
                return CP_EXIT_OK;
        }
        json_t *secs = sections_json(info);
        json_t *o = json_pack("{s:o,s:s,s:o,s:o,s:o,s:o,s:o}", "mrtd", hexj(mrtd, 48), "page_order",
                              a->two_pass ? "two-pass" : "single-pass", "rtmr0", hexj(a->rtmr[0], 48), "rtmr1",
                              hexj(a->rtmr[1], 48), "rtmr2", hexj(a->rtmr[2], 48), "rtmr3", hexj(a->rtmr[3], 48),
                              "sections", secs);
        char *s = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
        json_decref(o);
        if (!s)
                return CP_EXIT_FAILURE;
        puts(s);
        free(s);
        return CP_EXIT_OK;
}

static int measure_boot_opt(measure_args *a, int c, const char *arg) {
        cp_tdx_boot_args *b = &a->boot;
        char *end = NULL;
        switch (c) {
        case 'k': b->kernel = arg; break;
        case 'i': b->initrd = arg; break;
        case 'c': b->cmdline = arg; break;
        case 'a': b->acpi_dir = arg; break;
        case 's': b->sb_dir = arg; break;
        case 'b': b->boot_vars_dir = arg; break;
        case 'H': b->td_hob = arg; break;
        case 'e': b->eventlog_out = arg; break;
        case 'R': b->replay = arg; break;
        case 'L': b->legacy_separator = true; break;
        case 'm':
                b->mem_size = strtoull(arg, &end, 0);
                if (!*arg || *end || b->mem_size == 0 || b->mem_size % 4096)
                        return usage_err("measure", "--mem-size takes a non-zero multiple of 4096 bytes");
                break;
        default: return usage_err("measure", "bad option (see --help)");
        }
        return CP_EXIT_OK;
}

static int measure_usage(void) {
        puts("usage: confpool tdx measure --tdvf|--ovmf IMAGE [--two-pass] [--rtmr I:SHA384HEX]...\n"
             "                            [--rtmr-data I:FILE]... [-o text|json]\n"
             "       confpool tdx measure [--ovmf IMAGE [--two-pass]] --kernel PE [--initrd F] [--cmdline S]\n"
             "                            [--acpi-tables DIR] [--secure-boot-vars DIR|none] [--boot-vars DIR|none]\n"
             "                            [--td-hob F | --mem-size BYTES] [--legacy-separator]\n"
             "                            [--eventlog-out CCEL] [-o text|json]\n"
             "       confpool tdx measure --replay-ccel CCEL [-o text|json]");
        return CP_EXIT_OK;
}

static int measure_parse(measure_args *a, int argc, char **argv) {
        static const struct option opts[] = {
                { "tdvf", required_argument, NULL, 't' },      { "ovmf", required_argument, NULL, 't' },
                { "two-pass", no_argument, NULL, '2' },        { "rtmr", required_argument, NULL, 'r' },
                { "rtmr-data", required_argument, NULL, 'd' }, { "output", required_argument, NULL, 'o' },
                { "kernel", required_argument, NULL, 'k' },    { "initrd", required_argument, NULL, 'i' },
                { "cmdline", required_argument, NULL, 'c' },   { "acpi-tables", required_argument, NULL, 'a' },
                { "secure-boot-vars", required_argument, NULL, 's' }, { "boot-vars", required_argument, NULL, 'b' },
                { "td-hob", required_argument, NULL, 'H' },    { "mem-size", required_argument, NULL, 'm' },
                { "legacy-separator", no_argument, NULL, 'L' }, { "eventlog-out", required_argument, NULL, 'e' },
                { "replay-ccel", required_argument, NULL, 'R' }, { "help", no_argument, NULL, 'h' },
                { 0 },
        };
        int c, k;
        optind = 1;
        while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
                if (c == 't')
                        a->tdvf = optarg;
                else if (c == '2')
                        a->two_pass = true;
                else if (c == 'r' || c == 'd') {
                        if ((k = rtmr_extend_arg(a, optarg, c == 'd')) != CP_EXIT_OK)
                                return k;
                } else if (c == 'o' && (!strcmp(optarg, "json") || !strcmp(optarg, "text")))
                        a->json = !strcmp(optarg, "json");
                else if (c == 'h')
                        return measure_usage() - 1;
                else if (c == 'o' || c == '?' || (k = measure_boot_opt(a, c, optarg)) != CP_EXIT_OK)
                        return c == 'o' || c == '?' ? usage_err("measure", "bad option (see --help)") : k;
        }
        if (optind != argc)
                return usage_err("measure", "unexpected arguments (see --help)");
        bool boot = cp_tdx_boot_args_any(&a->boot);
        if (a->boot.replay && (boot || a->tdvf || a->extended))
                return usage_err("measure", "--replay-ccel takes no other input");
        if (boot && a->extended)
                return usage_err("measure", "--rtmr/--rtmr-data replay given digests: not with a boot's inputs");
        if (boot && !a->boot.kernel && (a->boot.initrd || a->boot.cmdline))
                return usage_err("measure", "--initrd and --cmdline need --kernel");
        if (!a->boot.replay && !a->tdvf && !a->boot.kernel)
                return usage_err("measure", "--tdvf/--ovmf IMAGE or --kernel PE or --replay-ccel CCEL is required");
        if ((a->boot.td_hob || a->boot.acpi_dir || a->boot.sb_dir || a->boot.boot_vars_dir || a->boot.mem_size) && !a->tdvf)
                return usage_err("measure", "--td-hob, --mem-size, --acpi-tables, --secure-boot-vars and --boot-vars are RTMR0's: they need --ovmf");
        return CP_EXIT_OK;
}

int cp_cmd_tdx_measure(int argc, char **argv) {
        measure_args a = { 0 };
        int k = measure_parse(&a, argc, argv);
        if (k != CP_EXIT_OK)
                return k < 0 ? CP_EXIT_OK : k;
        if (a.boot.replay)
                return cp_tdx_cmd_replay_ccel(a.boot.replay, a.json);
        _cleanup_free_ uint8_t *fw = NULL;
        size_t len = 0;
        cp_tdvf_info info;
        uint8_t mrtd[48];
        if (a.tdvf && (cp_read_file(a.tdvf, IMG_MAX, &fw, &len) < 0 || cp_tdvf_parse(fw, len, &info) < 0 ||
                       cp_tdx_measure_mrtd(fw, len, &info, a.two_pass ? CP_TDX_ORDER_TWO_PASS : CP_TDX_ORDER_SINGLE_PASS,
                                           mrtd) < 0)) {
                cp_cli_error(a.tdvf);
                return CP_EXIT_FAILURE;
        }
        if (!cp_tdx_boot_args_any(&a.boot))
                return measure_print(&a, &info, mrtd);
        json_t *extra = a.tdvf && a.json ? json_pack("{s:s,s:o}", "page_order", a.two_pass ? "two-pass" : "single-pass",
                                                     "sections", sections_json(&info))
                                         : NULL;
        return cp_tdx_cmd_boot(&a.boot, fw, len, a.tdvf ? mrtd : NULL, extra, a.json);
}

/* ---- fetch */

typedef struct fetch_args {
        const char *url, *out, *fmspc;
        long max_age;
        bool offline;
} fetch_args;

static char *url_decode(const char *s) {
        size_t n = strlen(s);
        char *o = malloc(n + 1), *w = o;
        for (size_t i = 0; o && i < n; i++) {
                unsigned v;
                if (s[i] == '%' && i + 2 < n && sscanf(s + i + 1, "%2x", &v) == 1) {
                        *w++ = (char) v;
                        i += 2;
                } else
                        *w++ = s[i];
        }
        if (o)
                *w = '\0';
        return o;
}

static bool fresh(const char *path, long max_age) {
        struct stat st;
        return stat(path, &st) == 0 && (long) (time(NULL) - st.st_mtime) <= max_age;
}

/* GET base+rel into out/name (and the issuer chain header into out/chain). */
static int fetch_one(const fetch_args *a, const char *rel, const char *name, const char *chain) {
        char url[1024], path[4096], cpath[4096];
        snprintf(path, sizeof(path), "%s/%s", a->out, name);
        snprintf(cpath, sizeof(cpath), "%s/%s", a->out, chain ? chain : name);
        if (fresh(path, a->max_age) && fresh(cpath, a->max_age)) {
                fprintf(stderr, "%s: cached\n", path);
                return 0;
        }
        if (a->offline)
                return CP_ERROR(CP_ENOTFOUND, "%s is not cached (or older than %ld s) and --offline forbids fetching",
                                path, a->max_age);
        snprintf(url, sizeof(url), "%s%s", a->url, rel);
        cp_httpc_response r = { 0 };
        int k = cp_httpc_request(NULL, "GET", url, NULL, NULL, 0, &r);
        if (k >= 0 && r.status != 200)
                k = CP_ERROR(CP_ENETWORK, "GET %s answered %ld", url, r.status);
        if (k >= 0 && chain && !r.issuer_chain)
                k = CP_ERROR(CP_EFORMAT, "GET %s: no issuer chain header", url);
        if (k >= 0)
                k = cp_write_file(path, r.body, r.body_len, 0644);
        if (k >= 0 && chain) {
                _cleanup_free_ char *pem = url_decode(r.issuer_chain);
                k = pem ? cp_write_file(cpath, pem, strlen(pem), 0644) : cp_error_oom();
        }
        cp_httpc_response_clear(&r);
        if (k >= 0)
                fprintf(stderr, "%s: fetched from %s\n", path, url);
        return k;
}

static int fetch_all(const fetch_args *a) {
        char tcb[128];
        int k;
        snprintf(tcb, sizeof(tcb), "/tdx/certification/v4/tcb?fmspc=%s", a->fmspc);
        if ((k = fetch_one(a, tcb, "tcb_info.json", "tcb_signing_chain.pem")) < 0 ||
            (k = fetch_one(a, "/tdx/certification/v4/qe/identity", "qe_identity.json", "qe_identity_chain.pem")) < 0 ||
            (k = fetch_one(a, "/sgx/certification/v4/pckcrl?ca=platform&encoding=der", "pck_crl.der", "pck_crl_chain.pem")) < 0 ||
            (k = fetch_one(a, "/sgx/certification/v4/rootcacrl", "root_ca_crl.der", NULL)) < 0)
                return k;
        return 0;
}

int cp_cmd_tdx_fetch(int argc, char **argv) {
        static const struct option opts[] = {
                { "fmspc", required_argument, NULL, 'f' },    { "pcs-url", required_argument, NULL, 'u' },
                { "out", required_argument, NULL, 'O' },      { "max-age", required_argument, NULL, 'm' },
                { "offline", no_argument, NULL, 'x' },        { "help", no_argument, NULL, 'h' },
                { 0 },
        };
        fetch_args a = { .url = "https://api.trustedservices.intel.com", .out = ".", .max_age = 3600 };
        uint8_t fm[6];
        size_t got = 0;
        char *end;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                switch (c) {
                case 'f': a.fmspc = optarg; break;
                case 'u': a.url = optarg; break;
                case 'O': a.out = optarg; break;
                case 'x': a.offline = true; break;
                case 'm':
                        errno = 0;
                        a.max_age = strtol(optarg, &end, 10);
                        if (errno || *end || a.max_age < 0)
                                return usage_err("fetch", "--max-age takes seconds");
                        break;
                case 'h':
                        puts("usage: confpool tdx fetch --fmspc HEX12 [--pcs-url URL] [--out DIR] [--max-age SECONDS]\n"
                             "                          [--offline]\n"
                             "  writes tcb_info.json, tcb_signing_chain.pem, qe_identity.json, pck_crl.der,\n"
                             "  root_ca_crl.der into DIR (default .), which is also the cache");
                        return CP_EXIT_OK;
                default:
                        return usage_err("fetch", "bad option (see --help)");
                }
        }
        if (!a.fmspc || strlen(a.fmspc) != 12 || cp_hex_decode(a.fmspc, 12, fm, 6, &got) < 0 || got != 6 ||
            optind != argc)
                return usage_err("fetch", "--fmspc takes 12 hex digits, and no other argument is taken");
        if (strncmp(a.url, "https://", 8) != 0 && strncmp(a.url, "http://127.", 11) != 0 &&
            strncmp(a.url, "http://localhost", 16) != 0)
                return usage_err("fetch", "--pcs-url must be https:// (or http:// on loopback)");
        if (mkdir(a.out, 0755) < 0 && errno != EEXIST) {
                fprintf(stderr, "confpool: error: mkdir %s: %s\n", a.out, strerror(errno));
                return CP_EXIT_FAILURE;
        }
        int k = fetch_all(&a);
        if (k < 0) {
                cp_cli_error("fetch");
                return cp_cli_exit_code(k);
        }
        return CP_EXIT_OK;
}

/* ---- emu */

typedef struct emu_args {
        const char *out, *tdvf, *port_file, *socket;
        uint8_t report_data[64];
        cp_tdx_tcb_status status;
        bool recovery, serve, module_update;
        uint16_t quote_version, body_type; /* 0: v4, TD 1.0 */
} emu_args;

static int write_out(const char *dir, const char *name, const void *p, size_t n) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        return cp_write_file(path, p, n, 0644);
}

static int emu_collateral(const emu_args *a, cp_tdx_pcs *pcs) {
        cp_tdx_pcs_collateral c;
        uint8_t fm[6];
        char fmhex[14];
        int k = cp_tdx_pcs_collateral_get(pcs, 0, &c);
        if (k < 0)
                return k;
        cp_tdx_pcs_fmspc(pcs, fm);
        cp_hex_encode(fm, 6, fmhex);
        strcat(fmhex, "\n");
        if ((k = write_out(a->out, "tcb_info.json", c.tcb_info, c.tcb_info_len)) >= 0 &&
            (k = write_out(a->out, "qe_identity.json", c.qe_identity, c.qe_identity_len)) >= 0 &&
            (k = write_out(a->out, "tcb_signing_chain.pem", c.tcb_signing_chain, c.tcb_signing_chain_len)) >= 0 &&
            (k = write_out(a->out, "pck_crl.der", c.pck_crl, c.pck_crl_len)) >= 0 &&
            (k = write_out(a->out, "root_ca_crl.der", c.root_ca_crl, c.root_ca_crl_len)) >= 0)
                k = write_out(a->out, "fmspc.txt", fmhex, strlen(fmhex));
        cp_tdx_pcs_collateral_free(&c);
        return k;
}

/* A TD from the image (or an empty TD), its report and quote. */
static int emu_quote(const emu_args *a, cp_tdx_host *h, cp_tdx_td **ret_td) {
        _cleanup_(cp_tdx_td_freep) cp_tdx_td *td = NULL;
        _cleanup_free_ uint8_t *fw = NULL, *q = NULL;
        uint8_t rep[CP_TDX_TDREPORT_SIZE];
        size_t len = 0, ql = 0;
        cp_tdx_td_params p = { .attributes = CP_TDX_TDATTR_SEPT_VE_DISABLE };
        int k;
        if ((k = cp_tdx_td_create(h, &p, &td)) < 0 ||
            (a->tdvf && ((k = cp_read_file(a->tdvf, IMG_MAX, &fw, &len)) < 0 ||
                         (k = cp_tdx_td_load_tdvf(td, fw, len, CP_TDX_ORDER_SINGLE_PASS)) < 0)) ||
            (k = cp_tdx_td_finalize(td)) < 0 || (k = cp_tdx_td_report(td, a->report_data, rep)) < 0 ||
            (k = cp_tdx_host_quote_ex(h, rep, a->quote_version ? a->quote_version : 4, a->body_type ? a->body_type : 2, &q,
                                      &ql)) < 0)
                return k;
        if ((k = write_out(a->out, "tdreport.bin", rep, sizeof(rep))) < 0 || (k = write_out(a->out, "quote.bin", q, ql)) < 0)
                return k;
        *ret_td = TAKE_PTR(td);
        return 0;
}

static volatile sig_atomic_t emu_stop;
static void on_signal(int sig) {
        (void) sig;
        emu_stop = 1;
}

static int emu_serve(const emu_args *a, cp_tdx_pcs *pcs, cp_tdx_host *h, cp_tdx_td *td) {
        cp_tdx_emu e = { .host = h, .td = td };
        cp_tdx_chan *ch = NULL;
        cp_httpd *d = NULL;
        char port[16];
        int k = cp_tdx_pcs_start(pcs, "127.0.0.1", 0, &d);
        if (k < 0)
                return k;
        if (a->socket && (k = cp_tdx_chan_start(&e, a->socket, &ch)) < 0) {
                cp_httpd_stop(d);
                return k;
        }
        snprintf(port, sizeof(port), "%u\n", cp_httpd_port(d));
        if (a->port_file && (k = cp_write_file(a->port_file, port, strlen(port), 0644)) < 0) {
                cp_tdx_chan_stop(ch);
                cp_httpd_stop(d);
                return k;
        }
        fprintf(stderr, "emulated PCS on http://127.0.0.1:%s", port);
        signal(SIGTERM, on_signal);
        signal(SIGINT, on_signal);
        while (!emu_stop)
                pause();
        cp_tdx_chan_stop(ch);
        cp_httpd_stop(d);
        return 0;
}

static int emu_run(const emu_args *a) {
        _cleanup_(cp_tdx_pcs_freep) cp_tdx_pcs *pcs = NULL;
        _cleanup_(cp_tdx_host_freep) cp_tdx_host *h = NULL;
        _cleanup_(cp_tdx_td_freep) cp_tdx_td *td = NULL;
        _cleanup_free_ char *root = NULL;
        size_t rl = 0;
        cp_tdx_tcb t;
        int k;
        if (mkdir(a->out, 0755) < 0 && errno != EEXIST)
                return CP_ERROR(CP_EIO, "mkdir %s: %s", a->out, strerror(errno));
        if ((k = cp_tdx_pcs_new(NULL, &pcs)) < 0 || (k = cp_tdx_host_new(pcs, NULL, &h)) < 0 ||
            (k = cp_tdx_pcs_root_pem(pcs, &root, &rl)) < 0 || (k = write_out(a->out, "root.pem", root, rl)) < 0)
                return k;
        if (a->module_update) { /* Intel's newer module, taken by the platform under the running TD */
                cp_tdx_pcs_default_tcb(pcs, &t);
                if ((k = cp_tdx_pcs_module_update(pcs, (uint8_t) (t.tdx[0] + 1), "INTEL-SA-01111")) < 0 ||
                    (k = cp_tdx_host_module_update(h, (uint8_t) (t.tdx[0] + 1))) < 0)
                        return k;
        }
        if ((k = emu_quote(a, h, &td)) < 0)
                return k;
        if (a->status && (k = cp_tdx_pcs_set_status(pcs, 0, a->status,
                                                  a->status == CP_TDX_TCB_UP_TO_DATE ? NULL : "INTEL-SA-00000")) < 0)
                return k;
        if (a->recovery) {
                cp_tdx_pcs_default_tcb(pcs, &t);
                t.sgx[0]++;
                t.tdx[2]++;
                if ((k = cp_tdx_pcs_tcb_recovery(pcs, &t, "INTEL-SA-00960")) < 0)
                        return k;
        }
        if ((k = emu_collateral(a, pcs)) < 0)
                return k;
        return a->serve ? emu_serve(a, pcs, h, td) : 0;
}

int cp_cmd_tdx_emu(int argc, char **argv) {
        static const struct option opts[] = {
                { "out", required_argument, NULL, 'O' },         { "tdvf", required_argument, NULL, 't' },
                { "report-data", required_argument, NULL, 'r' }, { "tcb-status", required_argument, NULL, 's' },
                { "recovery", no_argument, NULL, 'R' },          { "serve", no_argument, NULL, 'S' },
                { "port-file", required_argument, NULL, 'p' },   { "socket", required_argument, NULL, 'k' },
                { "quote-version", required_argument, NULL, 'V' }, { "body-type", required_argument, NULL, 'B' },
                { "module-update", no_argument, NULL, 'M' },
                { "help", no_argument, NULL, 'h' },
                { 0 },
        };
        emu_args a = { 0 };
        size_t got = 0;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                switch (c) {
                case 'O': a.out = optarg; break;
                case 't': a.tdvf = optarg; break;
                case 'R': a.recovery = true; break;
                case 'S': a.serve = true; break;
                case 'p': a.port_file = optarg; break;
                case 'k': a.socket = optarg; break;
                case 'M': a.module_update = true; break;
                case 'V':
                        if (strcmp(optarg, "4") && strcmp(optarg, "5"))
                                return usage_err("emu", "--quote-version takes 4 or 5");
                        a.quote_version = (uint16_t) (optarg[0] - '0');
                        break;
                case 'B':
                        if (strcmp(optarg, "2") && strcmp(optarg, "3"))
                                return usage_err("emu", "--body-type takes 2 (TD 1.0) or 3 (TD 1.5)");
                        a.body_type = (uint16_t) (optarg[0] - '0');
                        break;
                case 'r':
                        if (strlen(optarg) != 128 || cp_hex_decode(optarg, 128, a.report_data, 64, &got) < 0 || got != 64)
                                return usage_err("emu", "--report-data takes 128 hex digits");
                        break;
                case 's':
                        if ((a.status = cp_tdx_tcb_status_from_name(optarg)) == CP_TDX_TCB_UNKNOWN)
                                return usage_err("emu", "--tcb-status takes one of Intel's statuses (UpToDate, ...)");
                        break;
                case 'h':
                        puts("usage: confpool tdx emu --out DIR [--tdvf IMAGE] [--report-data HEX128]\n"
                             "                        [--tcb-status STATUS] [--recovery] [--serve [--port-file F] [--socket PATH]]\n"
                             "                        [--quote-version 4|5 [--body-type 2|3]] [--module-update]\n"
                             "  a SOFTWARE TDX platform with an EMULATED Intel root (DIR/root.pem): never\n"
                             "  trusted in production; writes quote.bin, tdreport.bin and the collateral");
                        return CP_EXIT_OK;
                default:
                        return usage_err("emu", "bad option (see --help)");
                }
        }
        if (!a.out || optind != argc)
                return usage_err("emu", "--out DIR is required, and no other argument is taken");
        if (a.body_type == 3 && a.quote_version != 5)
                return usage_err("emu", "--body-type 3 (TD 1.5) needs --quote-version 5");
        int k = emu_run(&a);
        if (k < 0) {
                cp_cli_error("tdx emu");
                return cp_cli_exit_code(k);
        }
        return CP_EXIT_OK;
}

/* ---- quote (the guest side) */

int cp_cmd_tdx_quote(int argc, char **argv) {
        static const struct option opts[] = {
                { "socket", required_argument, NULL, 'k' },      { "tsm-root", required_argument, NULL, 't' },
                { "report-data", required_argument, NULL, 'r' }, { "out", required_argument, NULL, 'O' },
                { "report0", no_argument, NULL, '0' },           { "device", required_argument, NULL, 'd' },
                { "help", no_argument, NULL, 'h' },              { 0 },
        };
        cp_tdx_guest_options o = { 0 };
        uint8_t rd[64] = { 0 }, rep[CP_TDX_TDREPORT_SIZE];
        const char *out = NULL;
        bool report0 = false;
        size_t got = 0;
        int c, k;
        optind = 1;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                switch (c) {
                case 'k': o.socket_path = optarg; break;
                case 't': o.tsm_root = optarg; break;
                case 'd': o.device = optarg; break;
                case 'O': out = optarg; break;
                case '0': report0 = true; break;
                case 'r':
                        if (strlen(optarg) != 128 || cp_hex_decode(optarg, 128, rd, 64, &got) < 0 || got != 64)
                                return usage_err("quote", "--report-data takes 128 hex digits");
                        break;
                case 'h':
                        puts("usage: confpool tdx quote --out FILE [--report-data HEX128] [--report0]\n"
                             "                          [--tsm-root DIR | --device PATH | --socket PATH]\n"
                             "  in a TD: a DCAP quote over configfs-tsm (provider tdx_guest), or with --report0\n"
                             "  the TDREPORT over /dev/tdx_guest; --socket: a software TD's emulated channel");
                        return CP_EXIT_OK;
                default:
                        return usage_err("quote", "bad option (see --help)");
                }
        }
        if (!out || optind != argc)
                return usage_err("quote", "--out FILE is required, and no other argument is taken");
        _cleanup_free_ uint8_t *q = NULL;
        size_t ql = 0;
        if (report0)
                k = cp_tdx_guest_get_report0(&o, rd, rep);
        else
                k = cp_tdx_guest_get_quote(&o, rd, &q, &ql);
        if (k >= 0)
                k = report0 ? cp_write_file(out, rep, sizeof(rep), 0644) : cp_write_file(out, q, ql, 0644);
        if (k < 0) {
                cp_cli_error("tdx quote");
                return cp_cli_exit_code(k);
        }
        return CP_EXIT_OK;
}
