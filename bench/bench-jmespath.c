/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JMESPath throughput on the compliance suite's benchmarks.json.
 *
 *   build/bench/bench-jmespath [seconds-per-measurement]   (default 0.3)
 *
 * For "full" cases: compiled-search rate (compile once, search many).
 * For "parse" cases: compile rate.  Baseline, measured in the same run on
 * the same document: json_deep_copy() rate.  The ratio printed is
 * rate / baseline rate (>1: faster than deep-copying the document).
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "basic/fileio.h"
#include "cli/output/jmespath.h"

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

typedef enum { OP_COPY, OP_SEARCH, OP_COMPILE } op_t;

static double rate(op_t op, json_t *doc, const cp_jmespath *e, const char *expr, double secs) {
        unsigned long n = 0;
        double t0 = now_s(), t;
        do {
                for (int k = 0; k < 64; k++) {
                        if (op == OP_COPY) {
                                json_decref(json_deep_copy(doc));
                        } else if (op == OP_SEARCH) {
                                json_t *r = NULL;
                                if (cp_jmespath_search(e, doc, &r) < 0) {
                                        fprintf(stderr, "search failed: %s\n", cp_error_message());
                                        exit(1);
                                }
                                json_decref(r);
                        } else {
                                cp_jmespath *c = NULL;
                                if (cp_jmespath_compile(expr, &c) < 0) {
                                        fprintf(stderr, "compile failed: %s\n", cp_error_message());
                                        exit(1);
                                }
                                cp_jmespath_free(c);
                        }
                        n++;
                }
                t = now_s() - t0;
        } while (t < secs);
        return (double) n / t;
}

int main(int argc, char **argv) {
        double secs = argc > 1 ? atof(argv[1]) : 0.3;
        const char *dir = getenv("CP_TEST_DATA_DIR") ? getenv("CP_TEST_DATA_DIR") : CP_TEST_DATA_DIR;
        char path[1024];
        uint8_t *buf = NULL;
        size_t len = 0, gi, ci;
        json_t *groups, *g, *c;
        double sum_ratio = 0;
        unsigned cases = 0;

        snprintf(path, sizeof(path), "%s/jmespath/benchmarks.json", dir);
        if (cp_read_file(path, 1u << 20, &buf, &len) < 0) {
                fprintf(stderr, "cannot read %s: %s\n", path, cp_error_message());
                return 1;
        }
        groups = json_loadb((const char *) buf, len, 0, NULL);
        free(buf);
        if (!groups) {
                fprintf(stderr, "bad JSON in %s\n", path);
                return 1;
        }
        printf("%-32s %-7s %14s %14s %8s\n", "case", "kind", "ops/s", "deepcopy/s", "ratio");
        json_array_foreach(groups, gi, g) {
                json_t *doc = json_object_get(g, "given");
                json_array_foreach(json_object_get(g, "cases"), ci, c) {
                        const char *expr = json_string_value(json_object_get(c, "expression"));
                        const char *kind = json_string_value(json_object_get(c, "bench"));
                        const char *name = json_string_value(json_object_get(c, "comment"));
                        cp_jmespath *e = NULL;
                        double base, r;
                        bool parse = kind && strcmp(kind, "parse") == 0;

                        if (cp_jmespath_compile(expr, &e) < 0) {
                                fprintf(stderr, "%s: %s\n", name, cp_error_message());
                                return 1;
                        }
                        base = rate(OP_COPY, doc, NULL, NULL, secs);
                        r = parse ? rate(OP_COMPILE, doc, NULL, expr, secs) : rate(OP_SEARCH, doc, e, NULL, secs);
                        printf("%-32.32s %-7s %14.0f %14.0f %8.2f\n", name ? name : expr, parse ? "compile" : "search",
                               r, base, r / base);
                        sum_ratio += r / base;
                        cases++;
                        cp_jmespath_free(e);
                }
        }
        printf("mean ratio over %u cases: %.2f\n", cases, cases ? sum_ratio / cases : 0.0);
        json_decref(groups);
        return 0;
}
