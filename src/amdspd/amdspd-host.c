/* SPDX-License-Identifier: Apache-2.0 */
/* confpool-amdspd init, set-tcb, mask, revoke, export: the host's state. */
#include <stdlib.h>
#include <string.h>

#include "amdspd/amdspd.h"
#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/fileio.h"

/* --tcb for generation g; a message on stderr when it is no TCB of g. */
static int parse_tcb(const char *s, cp_snp_generation g, cp_snp_tcb *ret) {
        if (!s) {
                fprintf(stderr, "confpool-amdspd: --tcb is required\n");
                return -1;
        }
        if (cp_snp_tcb_parse(s, g, ret) < 0) {
                fprintf(stderr, "confpool-amdspd: --tcb: %s\n", cp_error_message());
                cp_error_clear();
                return -1;
        }
        return 0;
}

int cp_amdspd_cmd_init(int argc, char **argv) {
        static const struct option opts[] = {
                { "generation", required_argument, NULL, 'G' }, { "tcb", required_argument, NULL, 't' },
                { "vlek-csp", required_argument, NULL, 'V' },   { "report-version", required_argument, NULL, 'R' },
                CP_AMDSPD_COMMON_OPTIONS,
        };
        const char *gen = NULL, *tcb = NULL, *csp = NULL;
        unsigned long rv = 0;
        cp_amdspd_args a;
        int c;

        cp_amdspd_args_init(&a, argc, argv);
        while ((c = cp_amdspd_next(&a, opts)) > 0) {
                switch (c) {
                case 'G': gen = optarg; break;
                case 't': tcb = optarg; break;
                case 'V': csp = optarg; break;
                case 'R': rv = strtoul(optarg, NULL, 10); break;
                }
        }
        if (c < 0)
                return a.exit;
        cp_amdsp_config cfg = { .generation = gen ? cp_snp_generation_from_name(gen) : CP_SNP_GEN_UNKNOWN,
                                .vlek_csp_id = csp,
                                .report_version = (uint32_t) rv };
        if (cfg.generation == CP_SNP_GEN_UNKNOWN || parse_tcb(tcb, cfg.generation, &cfg.tcb) < 0) {
                fprintf(stderr, "confpool-amdspd: init needs --generation and a valid --tcb\n");
                return CP_AMDSPD_EXIT_USAGE;
        }
        _cleanup_(cp_amdsp_freep) cp_amdsp *sp = NULL;
        if (cp_amdsp_open(a.state_dir, &cfg, &sp) < 0)
                return cp_amdspd_fail(a.state_dir);
        uint8_t chip[64];
        char hex[129];
        cp_amdsp_chip_id(sp, chip);
        cp_hex_encode(chip, 64, hex);
        printf("%s %s\n", cp_snp_generation_name(cp_amdsp_generation(sp)), hex);
        return CP_AMDSPD_EXIT_OK;
}

int cp_amdspd_cmd_set_tcb(int argc, char **argv) {
        static const struct option opts[] = {
                { "tcb", required_argument, NULL, 't' },
                CP_AMDSPD_COMMON_OPTIONS,
        };
        const char *tcb = NULL;
        cp_amdspd_args a;
        int c;

        cp_amdspd_args_init(&a, argc, argv);
        while ((c = cp_amdspd_next(&a, opts)) > 0)
                if (c == 't')
                        tcb = optarg;
        if (c < 0)
                return a.exit;
        _cleanup_(cp_amdsp_freep) cp_amdsp *sp = NULL;
        if (cp_amdspd_open(a.state_dir, &sp) < 0)
                return CP_AMDSPD_EXIT_FAILURE;
        cp_snp_tcb t;
        if (parse_tcb(tcb, cp_amdsp_generation(sp), &t) < 0) {
                cp_amdspd_usage(argv[0], stderr);
                return CP_AMDSPD_EXIT_USAGE;
        }
        return cp_amdsp_set_tcb(sp, &t) < 0 ? cp_amdspd_fail("set-tcb") : CP_AMDSPD_EXIT_OK;
}

int cp_amdspd_cmd_mask(int argc, char **argv) {
        static const struct option opts[] = {
                { "chip-key", no_argument, NULL, 'K' }, { "chip-id", no_argument, NULL, 'C' },
                CP_AMDSPD_COMMON_OPTIONS,
        };
        bool mask_key = false, mask_id = false;
        cp_amdspd_args a;
        int c;

        cp_amdspd_args_init(&a, argc, argv);
        while ((c = cp_amdspd_next(&a, opts)) > 0) {
                if (c == 'K')
                        mask_key = true;
                else if (c == 'C')
                        mask_id = true;
        }
        if (c < 0)
                return a.exit;
        _cleanup_(cp_amdsp_freep) cp_amdsp *sp = NULL;
        if (cp_amdspd_open(a.state_dir, &sp) < 0)
                return CP_AMDSPD_EXIT_FAILURE;
        return cp_amdsp_set_mask(sp, mask_key, mask_id) < 0 ? cp_amdspd_fail("mask") : CP_AMDSPD_EXIT_OK;
}

int cp_amdspd_cmd_revoke(int argc, char **argv) {
        static const struct option opts[] = {
                { "serial", required_argument, NULL, 'S' },
                CP_AMDSPD_COMMON_OPTIONS,
        };
        const char *serial = NULL;
        cp_amdspd_args a;
        int c;

        cp_amdspd_args_init(&a, argc, argv);
        while ((c = cp_amdspd_next(&a, opts)) > 0)
                if (c == 'S')
                        serial = optarg;
        if (c < 0)
                return a.exit;
        _cleanup_(cp_amdsp_freep) cp_amdsp *sp = NULL;
        if (cp_amdspd_open(a.state_dir, &sp) < 0)
                return CP_AMDSPD_EXIT_FAILURE;
        uint8_t s[20];
        size_t n = 0;
        if (!serial || cp_hex_decode(serial, strlen(serial), s, sizeof(s), &n) < 0 || n == 0) {
                cp_error_clear();
                fprintf(stderr, "confpool-amdspd: revoke needs --serial with 1-20 hex bytes\n");
                cp_amdspd_usage(argv[0], stderr);
                return CP_AMDSPD_EXIT_USAGE;
        }
        return cp_amdsp_revoke(sp, s, n) < 0 ? cp_amdspd_fail("revoke") : CP_AMDSPD_EXIT_OK;
}

typedef enum export_what { EXPORT_ARK, EXPORT_ASK, EXPORT_VCEK, EXPORT_CRL, _EXPORT_MAX } export_what;

#define OPT_EXPORT 0x100 /* getopt values of --ark .. --crl: OPT_EXPORT + export_what */

static int export_one(cp_amdsp *sp, export_what what, const char *path) {
        _cleanup_free_ uint8_t *d = NULL;
        size_t n = 0;
        int r = what == EXPORT_ARK   ? cp_amdsp_ca_cert(sp, CP_AMD_CERT_ARK, &d, &n)
                : what == EXPORT_ASK ? cp_amdsp_ca_cert(sp, CP_AMD_CERT_ASK, &d, &n)
                : what == EXPORT_VCEK ? cp_amdsp_vcek(sp, NULL, &d, &n)
                                      : cp_amdsp_crl(sp, 0, &d, &n);
        if (r < 0 || cp_write_file(path, d, n, 0644) < 0) {
                cp_amdspd_fail(path);
                return -1;
        }
        return 0;
}

int cp_amdspd_cmd_export(int argc, char **argv) {
        static const struct option opts[] = {
                { "ark", required_argument, NULL, OPT_EXPORT + EXPORT_ARK },
                { "ask", required_argument, NULL, OPT_EXPORT + EXPORT_ASK },
                { "vcek", required_argument, NULL, OPT_EXPORT + EXPORT_VCEK },
                { "crl", required_argument, NULL, OPT_EXPORT + EXPORT_CRL },
                CP_AMDSPD_COMMON_OPTIONS,
        };
        const char *out[_EXPORT_MAX] = { NULL };
        cp_amdspd_args a;
        int c;

        cp_amdspd_args_init(&a, argc, argv);
        while ((c = cp_amdspd_next(&a, opts)) > 0) {
                if (c >= OPT_EXPORT && c < OPT_EXPORT + _EXPORT_MAX)
                        out[c - OPT_EXPORT] = optarg;
        }
        if (c < 0)
                return a.exit;
        _cleanup_(cp_amdsp_freep) cp_amdsp *sp = NULL;
        if (cp_amdspd_open(a.state_dir, &sp) < 0)
                return CP_AMDSPD_EXIT_FAILURE;
        for (export_what w = EXPORT_ARK; w < _EXPORT_MAX; w++)
                if (out[w] && export_one(sp, w, out[w]) < 0)
                        return CP_AMDSPD_EXIT_FAILURE;
        return CP_AMDSPD_EXIT_OK;
}
