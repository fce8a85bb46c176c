/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_CLI_CMD_TDX_EMU_H
#define CP_CLI_CMD_TDX_EMU_H

/* confpool tdx measure / fetch / emu / quote (cmd_tdx_emu.c) */
int cp_cmd_tdx_measure(int argc, char **argv);
int cp_cmd_tdx_fetch(int argc, char **argv);
int cp_cmd_tdx_emu(int argc, char **argv);
int cp_cmd_tdx_quote(int argc, char **argv);

#endif
