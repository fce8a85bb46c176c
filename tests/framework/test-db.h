/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_TEST_DB_H
#define CP_TEST_DB_H

/*
 * Which store a test's daemons and stores open.  Without CP_TEST_DB in the
 * environment: the SQLite path the test made (the default).  With
 * CP_TEST_DB=postgresql://... (tests/cli/store-suites-pg.sh starts a
 * throw-away cluster and sets it): the same database, one PostgreSQL schema
 * per path (named from a hash of the path, so re-opening the same path
 * finds the same data and two paths of one test stay apart), created on
 * first use, selected by search_path in the returned URL.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/store.h"

static inline bool cp_test_db_is_pg(void) {
        const char *u = getenv("CP_TEST_DB");
        return u && *u;
}

/* path, or a URL naming path's schema (static buffer, 4 slots). */
static inline const char *cp_test_db(const char *path) {
        static char slots[4][1024];
        static unsigned next;
        const char *base = getenv("CP_TEST_DB");
        if (!base || !*base)
                return path;
        uint64_t h = 1469598103934665603ull; /* FNV-1a */
        for (const char *p = path; *p; p++)
                h = (h ^ (uint8_t) *p) * 1099511628211ull;
        char schema[40], sql[96];
        snprintf(schema, sizeof schema, "t_%016llx", (unsigned long long) h);
        cp_store *s = NULL;
        snprintf(sql, sizeof sql, "CREATE SCHEMA IF NOT EXISTS %s", schema);
        if (cp_store_open(base, NULL, 0, &s) < 0 || cp_store_exec(s, sql) < 0) {
                /* not cp_test_fail: the nodes fixture (also in benchmarks) uses this without tests.c */
                fprintf(stderr, "CP_TEST_DB: %s\n", cp_error_message());
                abort();
        }
        cp_store_close(s);
        char *out = slots[next++ % 4];
        snprintf(out, sizeof slots[0], "%s%coptions=-csearch_path%%3D%s", base, strchr(base, '?') ? '&' : '?', schema);
        return out;
}

#endif
