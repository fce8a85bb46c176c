/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_TESTS_H
#define CP_TESTS_H

/*
 * A small test framework: TEST(name) { ... } registers a test; ASSERT_*
 * abort the current test (longjmp) and mark it failed.  Each test binary
 * prints "N passed, N failed" and exits non-zero on failure.  Set
 * CP_TEST_FILTER=substring to run a subset.  CP_TEST_DATA_DIR points at
 * tests/data (compiled in, overridable by the environment).
 *
 * Skips: TEST_SKIP("why") ends the current test as skipped (a missing
 * external tool).  A binary in which a test was skipped and none failed
 * exits 77, which ctest reports as "Skipped", never as a pass
 * (SKIP_RETURN_CODE, CMakeLists.txt); with CP_TEST_NO_SKIP=1 in the
 * environment a skip is a failure (make check installs every tool).
 *
 * Case tables: TEST_TABLE(rows, fn, ctx) calls fn(ctx, &rows[i]) for every
 * element of the array rows (each has a `const char *name`); TEST_TABLE_N
 * does the same for the first n elements of a pointer.  An ASSERT_*
 * failing inside fn fails that row only: the message is prefixed with the
 * row's name, the remaining rows still run, and the test fails at the end
 * naming how many rows failed.
 */

#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "confpool/error.h"

typedef void (*cp_test_fn)(void);
void cp_test_register(const char *name, cp_test_fn fn);
_Noreturn void cp_test_fail(const char *file, int line, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
_Noreturn void cp_test_skip(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#define TEST_SKIP(...) cp_test_skip(__FILE__, __LINE__, __VA_ARGS__)
/* The exit status of a binary or script whose tests were skipped, not run (ctest SKIP_RETURN_CODE). */
#define CP_TEST_SKIPPED 77
/* Path under the test data directory (static buffer per call slot). */
const char *cp_test_data(const char *rel);
/* Read a data file (aborts the test on failure); caller frees. */
uint8_t *cp_test_read(const char *rel, size_t *ret_len);
/* Run fn(ctx, row) as one row of a case table; false if it failed. */
bool cp_test_row(const char *name, void (*fn)(void *ctx, const void *row), void *ctx, const void *row);

/* Run rows[0..n): every row, then fail if any row failed or there were none. */
#define TEST_TABLE_N(rows, n, fn, ctx)                                                            \
        do {                                                                                      \
                size_t _n = (n), _failed = 0;                                                     \
                if (_n == 0)                                                                      \
                        cp_test_fail(__FILE__, __LINE__, "table %s is empty", #rows);             \
                for (size_t _i = 0; _i < _n; _i++)                                                \
                        if (!cp_test_row((rows)[_i].name, (fn), (ctx), &(rows)[_i]))              \
                                _failed++;                                                        \
                if (_failed)                                                                      \
                        cp_test_fail(__FILE__, __LINE__, "%zu of %zu rows of %s failed", _failed, _n, \
                                     #rows);                                                      \
        } while (0)
#define TEST_TABLE(rows, fn, ctx) TEST_TABLE_N(rows, sizeof(rows) / sizeof((rows)[0]), fn, ctx)

#define TEST(name)                                                        \
        static void test_##name(void);                                    \
        __attribute__((constructor)) static void register_##name(void) {  \
                cp_test_register(#name, test_##name);                     \
        }                                                                 \
        static void test_##name(void)

#define ASSERT_TRUE(x)                                                             \
        do {                                                                       \
                if (!(x))                                                          \
                        cp_test_fail(__FILE__, __LINE__, "assertion failed: %s", #x); \
        } while (0)
#define ASSERT_FALSE(x) ASSERT_TRUE(!(x))

#define ASSERT_EQ(a, b)                                                                        \
        do {                                                                                   \
                long long _a = (long long) (a), _b = (long long) (b);                          \
                if (_a != _b)                                                                  \
                        cp_test_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, _a, _b); \
        } while (0)

#define ASSERT_U64_EQ(a, b)                                                                 \
        do {                                                                                \
                uint64_t _a = (uint64_t) (a), _b = (uint64_t) (b);                          \
                if (_a != _b)                                                               \
                        cp_test_fail(__FILE__, __LINE__, "%s == %s: 0x%" PRIx64 " != 0x%" PRIx64, \
                                     #a, #b, _a, _b);                                       \
        } while (0)

#define ASSERT_STREQ(a, b)                                                                   \
        do {                                                                                 \
                const char *_a = (a), *_b = (b);                                             \
                if (!_a || !_b || strcmp(_a, _b) != 0)                                       \
                        cp_test_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b, \
                                     _a ? _a : "(null)", _b ? _b : "(null)");                \
        } while (0)

#define ASSERT_MEMEQ(a, b, n)                                                           \
        do {                                                                            \
                if (memcmp((a), (b), (n)) != 0)                                         \
                        cp_test_fail(__FILE__, __LINE__, "memory differs: %s vs %s", #a, #b); \
        } while (0)

/* expr must return 0 */
#define ASSERT_OK(expr)                                                                       \
        do {                                                                                  \
                int _r = (expr);                                                              \
                if (_r != 0)                                                                  \
                        cp_test_fail(__FILE__, __LINE__, "%s failed: %s (%d): %s", #expr,      \
                                     cp_err_name(_r), _r, cp_error_message());                \
        } while (0)

/* expr must fail with exactly code */
#define ASSERT_ERR(expr, code)                                                                   \
        do {                                                                                     \
                int _r = (expr);                                                                 \
                if (_r != (code))                                                                \
                        cp_test_fail(__FILE__, __LINE__, "%s: expected %s, got %s (%d): %s", #expr, \
                                     cp_err_name(code), cp_err_name(_r), _r, cp_error_message()); \
        } while (0)

/* expr must fail (any negative code) */
#define ASSERT_FAILS(expr)                                                               \
        do {                                                                             \
                int _r = (expr);                                                         \
                if (_r >= 0)                                                             \
                        cp_test_fail(__FILE__, __LINE__, "%s: expected failure, got %d", #expr, _r); \
        } while (0)

#endif
