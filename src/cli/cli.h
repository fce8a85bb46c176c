/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_CLI_H
#define CP_CLI_H

/* The confpool CLI: one binary, a command table in cli.c and one
 * cmd_<group>.c per command group, each with a main-like signature.  This
 * header declares the commands of the table; what every command shares
 * (exit codes, error printing) is in cli/exit.h, below the table. */

#include <stdio.h>

#include "cli/exit.h"

typedef int (*cp_cli_fn)(int argc, char **argv);

int cp_cli_main(int argc, char **argv);
int cp_cmd_snp(int argc, char **argv);
/* confpool tdx show / verify, cmd_tdx.c */
int cp_cmd_tdx(int argc, char **argv);
/* confpool az-setup, cmd_az_setup.c */
int cp_cmd_az_setup(int argc, char **argv);
int cp_cmd_keyvault(int argc, char **argv);
int cp_cmd_disk(int argc, char **argv);
/* confpool up / confpool down: the embedded stack, cmd_up.c */
int cp_cmd_up(int argc, char **argv);
int cp_cmd_down(int argc, char **argv);
/* confpool snp report (guest side), cmd_snp_report.c */
int cp_cmd_snp_report(int argc, char **argv);

#endif
