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

int cp_cmd_snp_report(int argc, char **argv) {
        static const struct option opts[] = {
                { "report-data", required_argument, NULL, 'd' }, { "vmpl", required_argument, NULL, 'l' },
                { "extended", no_argument, NULL, 'x' },          { "certs-out", required_argument, NULL, 'c' },
                { "transport", required_argument, NULL, 't' },   { "device", required_argument, NULL, 'D' },
                { "tsm-root", required_argument, NULL, 'T' },    { "socket", required_argument, NULL, 's' },
                { "vmpck-file", required_argument, NULL, 'k' },  { "guest-id", required_argument, NULL, 'g' },
                { "vmpck", required_argument, NULL, 'K' },       { "key-sel", required_argument, NULL, 'S' },
                { "help", no_argument, NULL, 'h' },              { 0 },
        };
        cp_snp_guest_options o = { 0 };
        uint8_t rd[64] = { 0 };
        unsigned long vmpl = 0, v;
        bool extended = false;
        const char *certs_out = NULL, *vmpck_file = NULL;
        int c, r;

        optind = 1;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                switch (c) {
                case 'd': {
                        size_t n = 0, l = strlen(optarg);
                        if (l > 128 || cp_hex_decode(optarg, l, rd, sizeof(rd), &n) < 0) {
                                fprintf(stderr, "confpool snp report: --report-data must be at most 128 hex digits\n");
                                return CP_EXIT_USAGE;
                        }
                        break;
                }
                case 'l':
                        if (parse_uint(optarg, 3, &vmpl) < 0) {
                                fprintf(stderr, "confpool snp report: --vmpl must be 0-3\n");
                                return CP_EXIT_USAGE;
                        }
                        break;
                case 'x': extended = true; break;
                case 'c': certs_out = optarg; extended = true; break;
                case 't':
                        if (cp_snp_transport_from_name(optarg, &o.transport) < 0) {
                                cp_cli_error("--transport");
                                return CP_EXIT_USAGE;
                        }
                        break;
                case 'D': o.sev_guest_path = optarg; break;
                case 'T': o.tsm_root = optarg; break;
                case 's': o.socket_path = optarg; break;
                case 'k': vmpck_file = optarg; break;
                case 'g':
                        if (parse_uint(optarg, UINT32_MAX, &v) < 0) {
                                fprintf(stderr, "confpool snp report: bad --guest-id\n");
                                return CP_EXIT_USAGE;
                        }
                        o.guest_handle = (uint32_t) v;
                        break;
                case 'K':
                        if (parse_uint(optarg, 3, &v) < 0) {
                                fprintf(stderr, "confpool snp report: --vmpck must be 0-3\n");
                                return CP_EXIT_USAGE;
                        }
                        o.vmpck = (unsigned) v;
                        break;
                case 'S':
                        if (!strcmp(optarg, "vcek"))
                                o.key_sel = CP_SNP_KEY_SEL_VCEK;
                        else if (!strcmp(optarg, "vlek"))
                                o.key_sel = CP_SNP_KEY_SEL_VLEK;
                        else {
                                fprintf(stderr, "confpool snp report: --key-sel vcek or vlek\n");
                                return CP_EXIT_USAGE;
                        }
                        break;
                case 'h': usage(stdout); return CP_EXIT_OK;
                default: usage(stderr); return CP_EXIT_USAGE;
                }
        }
        if (optind != argc - 1) {
                usage(stderr);
                return CP_EXIT_USAGE;
        }
        const char *out = argv[optind];

        _cleanup_free_ uint8_t *page = NULL;
        size_t page_len = 0;
        if (vmpck_file) {
                if ((r = cp_read_file(vmpck_file, CP_SNP_SECRETS_PAGE_SIZE + 1, &page, &page_len)) < 0) {
                        cp_cli_error(vmpck_file);
                        return cp_cli_exit_code(r);
                }
                if (page_len != CP_SNP_SECRETS_PAGE_SIZE) {
                        cp_wipe(page, page_len);
                        fprintf(stderr, "confpool snp report: %s is not a 4096-byte secrets page\n", vmpck_file);
                        return CP_EXIT_USAGE;
                }
                o.secrets_page = page;
        }
        if (o.transport == CP_SNP_TRANSPORT_EMULATED && (!o.socket_path || !page)) {
                fprintf(stderr, "confpool snp report: the emulated transport needs --socket and --vmpck-file\n");
                return CP_EXIT_USAGE;
        }

        cp_snp_guest_report rep = { 0 };
        r = cp_snp_guest_get_report(&o, rd, (uint32_t) vmpl, extended, &rep);
        if (page) {
                /* persist the counters even on failure: a used sequence number must never be reused */
                int w = cp_write_file(vmpck_file, page, CP_SNP_SECRETS_PAGE_SIZE, 0600);
                cp_wipe(page, page_len);
                if (w < 0 && r >= 0) {
                        cp_cli_error(vmpck_file);
                        cp_snp_guest_report_clear(&rep);
                        return cp_cli_exit_code(w);
                }
        }
        if (r < 0) {
                cp_cli_error("snp report");
                return cp_cli_exit_code(r);
        }
        size_t total = CP_SNP_REPORT_SIZE + (certs_out ? 0 : rep.certs_len);
        _cleanup_free_ uint8_t *buf = malloc(total);
        if (!buf) {
                cp_snp_guest_report_clear(&rep);
                return CP_EXIT_FAILURE;
        }
        memcpy(buf, rep.report, CP_SNP_REPORT_SIZE);
        if (!certs_out && rep.certs_len)
                memcpy(buf + CP_SNP_REPORT_SIZE, rep.certs, rep.certs_len);
        r = cp_write_file(out, buf, total, 0644);
        if (r >= 0 && certs_out && rep.certs_len)
                r = cp_write_file(certs_out, rep.certs, rep.certs_len, 0644);
        if (r < 0)
                cp_cli_error(out);
        else
                fprintf(stderr, "confpool snp report: %zu bytes via %s\n", total, cp_snp_transport_name(rep.transport));
        cp_snp_guest_report_clear(&rep);
        return r < 0 ? cp_cli_exit_code(r) : CP_EXIT_OK;
}
