/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_CLI_EXIT_H
#define CP_CLI_EXIT_H

/* What every command of the CLI shares: the exit codes and how a failure
 * is printed.  The command table (cli.c) sits above the commands, and the
 * commands above this file. */

/* The exit codes of every command, documented in docs/cli.md ("Errors and
 * exit codes").  0-2 mean the same everywhere; from 3 on they belong to a
 * family of commands: the az-compatible ones (group, aks, aks machine, feature,
 * provider, login: az's own codes) use 3 for a missing resource, the
 * attestation and key ones (snp, disk, keyvault: cp_cli_exit_code)
 * 3-7 for the category of a verification failure (docs/verifier.md). */
enum {
        CP_EXIT_OK = 0,
        CP_EXIT_FAILURE = 1,     /* generic failure (service, I/O, parse, internal) */
        CP_EXIT_USAGE = 2,       /* bad command line, client-side validation */
        /* az-compatible commands */
        CP_EXIT_NOT_FOUND = 3,   /* the resource of a show does not exist (404) */
        /* attestation and key commands */
        CP_EXIT_SIGNATURE = 3,   /* report / quote signature invalid, binding failed */
        CP_EXIT_CERT = 4,        /* certificate chain, TCB or chip binding invalid */
        CP_EXIT_REVOKED = 5,     /* revoked, or revocation status unavailable */
        CP_EXIT_POLICY = 6,      /* evidence valid but refused by policy */
        CP_EXIT_NETWORK = 7,     /* fetch failed */
};

/* Map a cp_err to a CLI exit code (attestation and key commands). */
int cp_cli_exit_code(int err);
/* Print "confpool: error: <message>" for the last error. */
void cp_cli_error(const char *context);

#endif
