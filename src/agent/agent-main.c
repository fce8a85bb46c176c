/* SPDX-License-Identifier: Apache-2.0 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "agent/agent.h"

int main(int argc, char **argv) {
        if (argc != 3 || strcmp(argv[1], "--node-dir") != 0) {
                fprintf(stderr, "usage: confpool-agent --node-dir DIR\n");
                return 2;
        }
        signal(SIGPIPE, SIG_IGN);
        if (cp_agent_run(argv[2]) < 0) {
                fprintf(stderr, "confpool-agent: %s\n", cp_error_message());
                return 1;
        }
        return 0;
}
