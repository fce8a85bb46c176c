/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

int cp_cmd_snp(int argc, char **argv) {
        (void) argc;
        (void) argv;
        fprintf(stderr, "confpool snp: not built yet\n");
        return CP_EXIT_FAILURE;
}
