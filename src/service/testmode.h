/* SPDX-License-Identifier: Apache-2.0 */
/* The daemons' explicit test mode (issue 20 item 8).  A frozen clock
 * (--now) decides which AMD certificates, CRLs and tokens count as valid and
 * what expiry the issued tokens carry, so a production daemon must never
 * run with one: --now is refused unless --test-mode is also given, test mode
 * listens on loopback only, and it is announced with a WARNING line on
 * stderr when the daemon starts. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Parse --now's value (Unix seconds, > 0) into *ret; a message naming prog
 * on stderr and -1 when it is not one. */
int cp_test_mode_parse_now(const char *prog, const char *arg, int64_t *ret);

/* After the command line: -1 (message on stderr) when now is set without
 * test_mode, or test_mode with a bind address off loopback (NULL is
 * 127.0.0.1); otherwise 0, and in test mode the WARNING line is printed. */
int cp_test_mode_check(const char *prog, bool test_mode, const char *bind_addr, int64_t now);
