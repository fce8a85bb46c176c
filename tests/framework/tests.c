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
/* Where a failure jumps to: the test's, or the current table row's. */
static jmp_buf *fail_jmp = &test_jmp;
static const char *fail_row;

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
        if (fail_row)
                fprintf(stderr, "    [%s] %s:%d: ", fail_row, file, line);
        else
                fprintf(stderr, "    %s:%d: ", file, line);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        longjmp(*fail_jmp, 1);
}

void cp_test_skip(const char *file, int line, const char *fmt, ...) {
        va_list ap;
        const char *strict = getenv("CP_TEST_NO_SKIP");
        bool fail = strict && strcmp(strict, "1") == 0;
        fprintf(stderr, "    %s:%d: %s: ", file, line, fail ? "skip refused (CP_TEST_NO_SKIP=1)" : "SKIP");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        /* a skip inside a table row skips the whole test, not the row */
        longjmp(test_jmp, fail ? 1 : 2);
}

bool cp_test_row(const char *name, void (*fn)(void *ctx, const void *row), void *ctx, const void *row) {
        jmp_buf row_jmp;
        jmp_buf *saved_jmp = fail_jmp;
        const char *saved_row = fail_row;
        volatile bool ok = true;
        fail_jmp = &row_jmp;
        fail_row = name;
        cp_error_clear();
        if (setjmp(row_jmp) == 0)
                fn(ctx, row);
        else
                ok = false;
        fail_jmp = saved_jmp;
        fail_row = saved_row;
        if (!ok)
                fprintf(stderr, "    row %s failed\n", name);
        return ok;
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
        volatile unsigned passed = 0, failed = 0, skipped = 0;
        for (volatile size_t i = 0; i < ntests; i++) {
                if (filter && !strstr(tests[i].name, filter))
                        continue;
                cp_error_clear();
                fail_jmp = &test_jmp;
                fail_row = NULL;
                switch (setjmp(test_jmp)) {
                case 0:
                        tests[i].fn();
                        printf("  PASS %s\n", tests[i].name);
                        passed++;
                        break;
                case 2:
                        printf("  SKIP %s\n", tests[i].name);
                        skipped++;
                        break;
                default:
                        printf("  FAIL %s\n", tests[i].name);
                        failed++;
                }
                fflush(stdout);
        }
        printf("result: %u passed, %u failed, %u skipped\n", (unsigned) passed, (unsigned) failed,
               (unsigned) skipped);
        if (failed)
                return 1;
        return skipped ? CP_TEST_SKIPPED : (passed ? 0 : 1);
}
