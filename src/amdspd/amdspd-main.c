/* SPDX-License-Identifier: Apache-2.0 */
/*
 * confpool-amdspd: one emulated AMD-SP host (see docs/amdsp.md); the
 * commands (init, launch, set-tcb, mask, revoke, export, serve) are the
 * table in amdspd.c, `confpool-amdspd <command> --help` shows each one's
 * options.
 */
#include "amdspd/amdspd.h"

int main(int argc, char **argv) {
        return cp_amdspd_main(argc, argv);
}
