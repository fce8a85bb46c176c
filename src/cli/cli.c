/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <string.h>

#include "cli/cli-az.h"
#include "cli/cli.h"
#include "confpool/error.h"

static const struct {
        const char *name;
        cp_cli_fn fn;
        const char *help;
} commands[] = {
        { "snp", cp_cmd_snp, "SEV-SNP evidence: show, verify, fetch" },
        { "tdx", cp_cmd_tdx, "Intel TDX evidence (DCAP quotes): show, verify, measure, fetch, quote, emu" },
        { "group", cp_cmd_group, "Manage resource groups (az group)" },
        { "aks", cp_cmd_aks, "Managed clusters and node pools (az aks, az aks nodepool)" },
        { "feature", cp_cmd_feature, "Preview feature registration (az feature)" },
        { "provider", cp_cmd_provider, "Resource provider registration (az provider)" },
        { "login", cp_cmd_login, "Log in to a confpoold endpoint (saves connection settings)" },
        { "configure", cp_cmd_configure, "Show or change the saved connection settings" },
        { "az-setup", cp_cmd_az_setup, "point the Azure CLI (az) at a running confpoold" },
        { "keyvault", cp_cmd_keyvault, "keys in confpool-kbsd: create, import, show, list, delete, release" },
        { "disk", cp_cmd_disk, "LUKS2 disk images: encrypt, open, info" },
        { "up", cp_cmd_up, "Start the embedded stack (control plane, attestation, local backend); 'down' stops it" },
        { "down", cp_cmd_down, "Stop the embedded stack started by 'confpool up'" },
};

static void usage(FILE *f) {
        fprintf(f, "usage: confpool <command> [args...]\n\ncommands:\n");
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
        fprintf(f, "\nRun 'confpool <command> --help' for a command's options.\n");
}

int cp_cli_main(int argc, char **argv) {
        if (argc < 2) {
                usage(stderr);
                return CP_EXIT_USAGE;
        }
        if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
                usage(stdout);
                return CP_EXIT_OK;
        }
        if (!strcmp(argv[1], "--version")) {
                printf("confpool 0.1.0\n");
                return CP_EXIT_OK;
        }
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                if (!strcmp(argv[1], commands[i].name))
                        return commands[i].fn(argc - 1, argv + 1);
        fprintf(stderr, "confpool: error: unknown command '%s'\n", argv[1]);
        usage(stderr);
        return CP_EXIT_USAGE;
}
