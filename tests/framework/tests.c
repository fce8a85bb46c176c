/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>

#include "basic/fileio.h"
#include "tests.h"

#define MAX_TESTS 1024

static struct {
        const char *name;
        cp_test_fn fn;
} tests[MAX_TESTS];
static size_t ntests;
static jmp_buf test_jmp;

void cp_test_register(const char *name, cp_test_fn fn) {
        if (ntests >= MAX_TESTS) {
                fprintf(stderr, "too many tests\n");
                abort();
        }
        tests[ntests].name = name;
        tests[ntests].fn = fn;
        ntests++;
}

void cp_test_fail(const char *file, int line, const char *fmt, ...) {
        va_list ap;
        fprintf(stderr, "    %s:%d: ", file, line);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        longjmp(test_jmp, 1);
}

const char *cp_test_data(const char *rel) {
        static char buf[8][4096];
        static unsigned slot;
        const char *dir = getenv("CP_TEST_DATA_DIR");
        if (!dir)
                dir = CP_TEST_DATA_DIR;
        char *b = buf[slot++ % 8];
        snprintf(b, sizeof(buf[0]), "%s/%s", dir, rel);
        return b;
}

uint8_t *cp_test_read(const char *rel, size_t *ret_len) {
        uint8_t *p = NULL;
        size_t n = 0;
        if (cp_read_file(cp_test_data(rel), 16u << 20, &p, &n) < 0)
                cp_test_fail(__FILE__, __LINE__, "cannot read test data %s: %s", rel, cp_error_message());
        *ret_len = n;
        return p;
}

int main(void) {
        const char *filter = getenv("CP_TEST_FILTER");
        volatile unsigned passed = 0, failed = 0;
        for (volatile size_t i = 0; i < ntests; i++) {
                if (filter && !strstr(tests[i].name, filter))
                        continue;
                cp_error_clear();
                if (setjmp(test_jmp) == 0) {
                        tests[i].fn();
                        printf("  PASS %s\n", tests[i].name);
                        passed++;
                } else {
                        printf("  FAIL %s\n", tests[i].name);
                        failed++;
                }
                fflush(stdout);
        }
        printf("result: %u passed, %u failed\n", (unsigned) passed, (unsigned) failed);
        return failed ? 1 : (passed ? 0 : 1);
}
