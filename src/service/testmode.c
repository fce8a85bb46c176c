/* SPDX-License-Identifier: Apache-2.0 */
#include "service/testmode.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cp_test_mode_parse_now(const char *prog, const char *arg, int64_t *ret) {
        char *end = NULL;
        errno = 0;
        long long v = strtoll(arg, &end, 10);
        if (errno || !end || end == arg || *end || v <= 0) {
                fprintf(stderr, "%s: --now: Unix seconds > 0, not \"%s\"\n", prog, arg);
                return -1;
        }
        *ret = (int64_t) v;
        return 0;
}

static bool is_loopback(const char *a) {
        return !a || strcmp(a, "::1") == 0 || strcmp(a, "localhost") == 0 || strncmp(a, "127.", 4) == 0;
}

int cp_test_mode_check(const char *prog, bool test_mode, const char *bind_addr, int64_t now) {
        if (now && !test_mode) {
                fprintf(stderr, "%s: --now (a frozen clock) is refused without --test-mode\n", prog);
                return -1;
        }
        if (!test_mode)
                return 0;
        if (!is_loopback(bind_addr)) {
                fprintf(stderr, "%s: --test-mode is refused off loopback (--bind %s)\n", prog, bind_addr);
                return -1;
        }
        if (now)
                fprintf(stderr, "%s: WARNING: TEST MODE, not for production: certificate and token time frozen at %lld\n",
                        prog, (long long) now);
        else
                fprintf(stderr, "%s: WARNING: TEST MODE, not for production\n", prog);
        fflush(stderr);
        return 0;
}
