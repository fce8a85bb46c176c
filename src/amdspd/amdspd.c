/* SPDX-License-Identifier: Apache-2.0 */
/* confpool-amdspd: the command table and what its commands share. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "amdspd/amdspd.h"
#include "basic/codec.h"

static const struct {
        const char *name;
        cp_amdspd_fn fn;
        const char *help;
        const char *usage; /* the options after "--state-dir DIR" */
} commands[] = {
        { "init", cp_amdspd_cmd_init, "Create a host: chip ID, TCB, ARK/ASK (and VLEK)",
          "--generation Milan|Genoa|Turin --tcb bl=N,tee=N,snp=N,ucode=N[,fmc=N]\n"
          "  [--vlek-csp ID] [--report-version 2|3|5]\n"
          "  (fmc on Turin only; prints the generation and the chip ID)\n" },
        { "launch", cp_amdspd_cmd_launch, "Launch a guest: writes its secrets page, prints its handle",
          "--secrets-out FILE [--policy 0x30000] [--host-data HEX] [--vmpl N]\n"
          "  measured by the AMD-SP (options as `confpool snp measure`):\n"
          "    --ovmf FILE --vcpus N (--vcpu-type T | --vcpu-sig S) [--mode snp|snp:ovmf-hash]\n"
          "    [--vmm-type QEMU|ec2|gce] [--kernel F [--initrd F] [--append CMDLINE]]\n"
          "    [--guest-features N]\n"
          "  or a claimed digest: --measurement HEX(48 bytes)\n"
          "  ID block verified at launch: --id-block FILE --id-auth FILE (raw, base64 or the\n"
          "    output of `confpool snp id-block`), or claimed: --id-key-digest HEX\n"
          "    [--author-key-digest HEX] [--family-id HEX] [--image-id HEX] [--guest-svn N]\n" },
        { "set-tcb", cp_amdspd_cmd_set_tcb, "Firmware update: a new TCB for later reports",
          "--tcb bl=N,tee=N,snp=N,ucode=N[,fmc=N]\n" },
        { "mask", cp_amdspd_cmd_mask, "Mask the chip key (unsigned reports) and/or the chip ID",
          "[--chip-key] [--chip-id]\n" },
        { "revoke", cp_amdspd_cmd_revoke, "Revoke a certificate serial (listed in later CRLs)", "--serial HEX\n" },
        { "export", cp_amdspd_cmd_export, "Write the ARK, ASK, current VCEK and a fresh CRL (DER)",
          "[--ark F] [--ask F] [--vcek F] [--crl F]\n" },
        { "serve", cp_amdspd_cmd_serve, "Serve the KDS endpoint and the guest-request socket",
          "[--kds-port P] [--socket PATH] [--port-file F]\n" },
};

static void usage(FILE *f) {
        fprintf(f, "usage: confpool-amdspd <command> --state-dir DIR [options]\n\ncommands:\n");
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].help);
        fprintf(f, "\nRun 'confpool-amdspd <command> --help' for a command's options.\n");
}

void cp_amdspd_usage(const char *name, FILE *f) {
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                if (!strcmp(name, commands[i].name)) {
                        fprintf(f, "usage: confpool-amdspd %s --state-dir DIR %s", name, commands[i].usage);
                        return;
                }
        usage(f);
}

int cp_amdspd_main(int argc, char **argv) {
        if (argc < 2) {
                usage(stderr);
                return CP_AMDSPD_EXIT_USAGE;
        }
        if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
                usage(stdout);
                return CP_AMDSPD_EXIT_OK;
        }
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                if (!strcmp(argv[1], commands[i].name))
                        return commands[i].fn(argc - 1, argv + 1);
        fprintf(stderr, "confpool-amdspd: unknown command '%s'\n", argv[1]);
        usage(stderr);
        return CP_AMDSPD_EXIT_USAGE;
}

/* ---- option scan ------------------------------------------------------------- */

void cp_amdspd_args_init(cp_amdspd_args *a, int argc, char **argv) {
        *a = (cp_amdspd_args) { .argc = argc, .argv = argv };
        optind = 0; /* a fresh scan (GNU getopt), from argv[1] */
        opterr = 0;
}

static int usage_error(cp_amdspd_args *a, const char *fmt, const char *what) {
        fprintf(stderr, "confpool-amdspd %s: ", a->argv[0]);
        fprintf(stderr, fmt, what);
        fputc('\n', stderr);
        cp_amdspd_usage(a->argv[0], stderr);
        a->exit = CP_AMDSPD_EXIT_USAGE;
        return -1;
}

int cp_amdspd_next(cp_amdspd_args *a, const struct option *opts) {
        for (;;) {
                int c = getopt_long(a->argc, a->argv, "", opts, NULL);
                switch (c) {
                case -1:
                        if (optind != a->argc)
                                return usage_error(a, "unexpected argument '%s'", a->argv[optind]);
                        if (!a->state_dir)
                                return usage_error(a, "%s is required", "--state-dir DIR");
                        return 0;
                case 'd':
                        a->state_dir = optarg;
                        break;
                case 'h':
                        cp_amdspd_usage(a->argv[0], stdout);
                        a->exit = CP_AMDSPD_EXIT_OK;
                        return -1;
                case '?':
                case ':':
                        return usage_error(a, "unknown option or missing value: '%s'", a->argv[optind - 1]);
                default:
                        return c;
                }
        }
}

/* ---- helpers ----------------------------------------------------------------- */

int cp_amdspd_fail(const char *what) {
        fprintf(stderr, "confpool-amdspd: %s: %s\n", what, cp_error_message());
        return CP_AMDSPD_EXIT_FAILURE;
}

int cp_amdspd_open(const char *dir, cp_amdsp **ret) {
        if (cp_amdsp_open(dir, NULL, ret) < 0) {
                cp_amdspd_fail(dir);
                return -1;
        }
        return 0;
}

int cp_amdspd_parse_hex(const char *s, uint8_t *out, size_t n) {
        size_t got = 0;
        if (strlen(s) != 2 * n || cp_hex_decode(s, strlen(s), out, n, &got) < 0 || got != n) {
                cp_error_clear();
                fprintf(stderr, "confpool-amdspd: expected %zu hex bytes\n", n);
                return -1;
        }
        return 0;
}

int cp_amdspd_parse_num(const char *what, const char *s, uint64_t max, uint64_t *ret) {
        char *end = NULL;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 0);
        if (!*s || *s == '-' || *end || errno || v > max) {
                fprintf(stderr, "confpool-amdspd: invalid %s '%s'\n", what, s);
                return -1;
        }
        *ret = v;
        return 0;
}
