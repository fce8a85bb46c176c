/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_CLI_CMD_UP_H
#define CP_CLI_CMD_UP_H

/* confpool up / confpool down: the embedded stack (cmd_up.c). */
int cp_cmd_up(int argc, char **argv);
int cp_cmd_down(int argc, char **argv);

#endif
