/* SPDX-License-Identifier: Apache-2.0 */
/*
 * confpool snp report OUT [--extended] [--vmpl N] [--report-data HEX]
 *                         [--transport auto|sev-guest|configfs-tsm|emulated]
 *                         [--socket PATH --vmpck-file F --guest-id N [--vmpck N]]
 *                         [--device PATH] [--tsm-root DIR] [--certs-out FILE]
 *
 * Guest side: get an attestation report for REPORT_DATA and write it to OUT
 * (with --extended: the report followed by the certificate table, the format
 * `confpool snp verify` reads).  For the emulated transport the secrets page
 * file's sequence counters are updated in place, as the kernel does.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/fileio.h"
#include "basic/secure.h"
#include "cli/cli.h"
#include "emu/amdsp.h"
#include "emu/snp_guest.h"

static void usage(FILE *f) {
        fputs("usage: confpool snp report OUT [options]\n"
              "  --report-data HEX    up to 64 bytes of REPORT_DATA (zero-padded; default zeros)\n"
              "  --vmpl N             VMPL to report (0-3, default 0)\n"
              "  --extended           also get the certificate table (OUT = report || table)\n"
              "  --certs-out FILE     write the certificate table separately\n"
              "  --transport T        auto (default), sev-guest, configfs-tsm or emulated\n"
              "  --device PATH        sev-guest device (default /dev/sev-guest)\n"
              "  --tsm-root DIR       configfs-tsm report directory (default /sys/kernel/config/tsm/report)\n"
              "  --socket PATH        emulated AMD-SP socket (confpool-amdspd serve --socket)\n"
              "  --vmpck-file FILE    emulated: the guest's secrets page (4096 bytes; counters updated)\n"
              "  --guest-id N         emulated: the guest handle printed by confpool-amdspd launch\n"
              "  --vmpck N            emulated: VMPCK to use (default 0)\n"
              "  --key-sel vcek|vlek  which key signs (default: VLEK if installed, else VCEK)\n",
              f);
}

static int parse_uint(const char *s, unsigned long max, unsigned long *ret) {
        char *end = NULL;
        unsigned long v = strtoul(s, &end, 0);
        if (!*s || *end || v > max)
                return -1;
        *ret = v;
        return 0;
}

/* The command line; the steps return GO_ON or the exit code. */
#define GO_ON (-1)

typedef struct report_args {
        cp_snp_guest_options o;
        uint8_t rd[64];
        unsigned long vmpl;
        bool extended;
        const char *out, *certs_out, *vmpck_file;
        uint8_t *page; /* the secrets page of --vmpck-file, owned */
        size_t page_len;
} report_args;

static int report_usage_error(const char *msg) {
        fprintf(stderr, "confpool snp report: %s\n", msg);
        return CP_EXIT_USAGE;
}

/* The options with a value to check. */
static int report_value_opt(report_args *a, int c, const char *arg) {
        unsigned long v;
        switch (c) {
        case 'd': {
                size_t n = 0, l = strlen(arg);
                if (l > 128 || cp_hex_decode(arg, l, a->rd, sizeof(a->rd), &n) < 0)
                        return report_usage_error("--report-data must be at most 128 hex digits");
                break;
        }
        case 'l':
                if (parse_uint(arg, 3, &a->vmpl) < 0)
                        return report_usage_error("--vmpl must be 0-3");
                break;
        case 't':
                if (cp_snp_transport_from_name(arg, &a->o.transport) < 0) {
                        cp_cli_error("--transport");
                        return CP_EXIT_USAGE;
                }
                break;
        case 'g':
                if (parse_uint(arg, UINT32_MAX, &v) < 0)
                        return report_usage_error("bad --guest-id");
                a->o.guest_handle = (uint32_t) v;
                break;
        case 'K':
                if (parse_uint(arg, 3, &v) < 0)
                        return report_usage_error("--vmpck must be 0-3");
                a->o.vmpck = (unsigned) v;
                break;
        case 'S':
                if (!strcmp(arg, "vcek"))
                        a->o.key_sel = CP_SNP_KEY_SEL_VCEK;
                else if (!strcmp(arg, "vlek"))
                        a->o.key_sel = CP_SNP_KEY_SEL_VLEK;
                else
                        return report_usage_error("--key-sel vcek or vlek");
                break;
        }
        return GO_ON;
}

static int parse_report_args(int argc, char **argv, report_args *a) {
        static const struct option opts[] = {
                { "report-data", required_argument, NULL, 'd' }, { "vmpl", required_argument, NULL, 'l' },
                { "extended", no_argument, NULL, 'x' },          { "certs-out", required_argument, NULL, 'c' },
                { "transport", required_argument, NULL, 't' },   { "device", required_argument, NULL, 'D' },
                { "tsm-root", required_argument, NULL, 'T' },    { "socket", required_argument, NULL, 's' },
                { "vmpck-file", required_argument, NULL, 'k' },  { "guest-id", required_argument, NULL, 'g' },
                { "vmpck", required_argument, NULL, 'K' },       { "key-sel", required_argument, NULL, 'S' },
                { "help", no_argument, NULL, 'h' },              { 0 },
        };
        int c, r;
        optind = 1;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                switch (c) {
                case 'd': case 'l': case 't': case 'g': case 'K': case 'S':
                        if ((r = report_value_opt(a, c, optarg)) != GO_ON)
                                return r;
                        break;
                case 'x': a->extended = true; break;
                case 'c': a->certs_out = optarg; a->extended = true; break;
                case 'D': a->o.sev_guest_path = optarg; break;
                case 'T': a->o.tsm_root = optarg; break;
                case 's': a->o.socket_path = optarg; break;
                case 'k': a->vmpck_file = optarg; break;
                case 'h': usage(stdout); return CP_EXIT_OK;
                default: usage(stderr); return CP_EXIT_USAGE;
                }
        }
        if (optind != argc - 1) {
                usage(stderr);
                return CP_EXIT_USAGE;
        }
        a->out = argv[optind];
        return GO_ON;
}

/* --vmpck-file: the emulated guest's secrets page. */
static int load_secrets_page(report_args *a) {
        int r;
        if (a->vmpck_file) {
                if ((r = cp_read_file(a->vmpck_file, CP_SNP_SECRETS_PAGE_SIZE + 1, &a->page, &a->page_len)) < 0) {
                        cp_cli_error(a->vmpck_file);
                        return cp_cli_exit_code(r);
                }
                if (a->page_len != CP_SNP_SECRETS_PAGE_SIZE) {
                        cp_wipe(a->page, a->page_len);
                        fprintf(stderr, "confpool snp report: %s is not a 4096-byte secrets page\n", a->vmpck_file);
                        return CP_EXIT_USAGE;
                }
                a->o.secrets_page = a->page;
        }
        if (a->o.transport == CP_SNP_TRANSPORT_EMULATED && (!a->o.socket_path || !a->page))
                return report_usage_error("the emulated transport needs --socket and --vmpck-file");
        return GO_ON;
}

/* OUT: the report, and the certificate table after it or in --certs-out. */
static int write_report(const report_args *a, const cp_snp_guest_report *rep) {
        size_t total = CP_SNP_REPORT_SIZE + (a->certs_out ? 0 : rep->certs_len);
        _cleanup_free_ uint8_t *buf = malloc(total);
        if (!buf)
                return CP_EXIT_FAILURE;
        memcpy(buf, rep->report, CP_SNP_REPORT_SIZE);
        if (!a->certs_out && rep->certs_len)
                memcpy(buf + CP_SNP_REPORT_SIZE, rep->certs, rep->certs_len);
        int r = cp_write_file(a->out, buf, total, 0644);
        if (r >= 0 && a->certs_out && rep->certs_len)
                r = cp_write_file(a->certs_out, rep->certs, rep->certs_len, 0644);
        if (r < 0)
                cp_cli_error(a->out);
        else
                fprintf(stderr, "confpool snp report: %zu bytes via %s\n", total, cp_snp_transport_name(rep->transport));
        return r < 0 ? cp_cli_exit_code(r) : CP_EXIT_OK;
}

static int get_report(report_args *a) {
        cp_snp_guest_report rep = { 0 };
        int r = cp_snp_guest_get_report(&a->o, a->rd, (uint32_t) a->vmpl, a->extended, &rep);
        if (a->page) {
                /* persist the counters even on failure: a used sequence number must never be reused */
                int w = cp_write_file(a->vmpck_file, a->page, CP_SNP_SECRETS_PAGE_SIZE, 0600);
                cp_wipe(a->page, a->page_len);
                if (w < 0 && r >= 0) {
                        cp_cli_error(a->vmpck_file);
                        cp_snp_guest_report_clear(&rep);
                        return cp_cli_exit_code(w);
                }
        }
        if (r < 0) {
                cp_cli_error("snp report");
                return cp_cli_exit_code(r);
        }
        r = write_report(a, &rep);
        cp_snp_guest_report_clear(&rep);
        return r;
}

int cp_cmd_snp_report(int argc, char **argv) {
        report_args a = { 0 };
        int r = parse_report_args(argc, argv, &a);
        if (r == GO_ON)
                r = load_secrets_page(&a);
        if (r == GO_ON)
                r = get_report(&a);
        free(a.page);
        return r;
}
