/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JMESPath throughput on the compliance suite's benchmarks.json.
 *
 *   build/bench/bench-jmespath [seconds-per-measurement]   (default 0.3)
 *
 * For "full" cases: compiled-search rate (compile once, search many).
 * For "parse" cases: compile rate.  Baseline, measured in the same run on
 * the same machine: the reference implementation, jmespath.py (Debian's
 * python3-jmespath, scripts/install-deps.sh bench), doing the same work on
 * the same document and expression (jmespath.compile once + search, or
 * its parser without its expression cache, as cp_jmespath_compile has
 * none), whose search results must equal ours (a difference
 * fails the bench).  The ratio printed is our rate / the reference's (>1:
 * faster than jmespath.py).  Until issue 20 the baseline was a
 * json_deep_copy() of the document, which does no query work.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/cleanup.h"
#include "cli/output/jmespath.h"

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

typedef enum { OP_SEARCH, OP_COMPILE } op_t;

static double rate(op_t op, json_t *doc, const cp_jmespath *e, const char *expr, double secs) {
        unsigned long n = 0;
        double t0 = now_s(), t;
        do {
                for (int k = 0; k < 64; k++) {
                        if (op == OP_SEARCH) {
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

/* The reference's rates and results: one python3 process for every case,
 * one JSON line per case {"rate": ops/s, "result": search result}. */
static const char reference_py[] =
        "import json, sys, time\n"
        "import jmespath, jmespath.parser\n"
        "P = jmespath.parser.Parser()\n"
        "parse_uncached = P._do_parse  # jmespath.compile caches 128 expressions\n"
        "secs = float(sys.argv[2])\n"
        "print(json.dumps({'version': jmespath.__version__}), flush=True)\n"
        "for g in json.load(open(sys.argv[1])):\n"
        "    doc = g['given']\n"
        "    for c in g['cases']:\n"
        "        expr = c['expression']\n"
        "        parse = c.get('bench') == 'parse'\n"
        "        e = jmespath.compile(expr)\n"
        "        n, t0 = 0, time.perf_counter()\n"
        "        while True:\n"
        "            for _ in range(64):\n"
        "                parse_uncached(expr) if parse else e.search(doc)\n"
        "            n += 64\n"
        "            t = time.perf_counter() - t0\n"
        "            if t >= secs: break\n"
        "        print(json.dumps({'rate': n / t, 'result': None if parse else e.search(doc)}), flush=True)\n";

static FILE *reference_start(const char *path, double secs) {
        char script[] = "/tmp/cp-bench-jmespath-XXXXXX.py";
        int fd = mkstemps(script, 3);
        if (fd < 0 || write(fd, reference_py, sizeof reference_py - 1) != (ssize_t) (sizeof reference_py - 1)) {
                fprintf(stderr, "bench-jmespath: cannot write the reference script\n");
                exit(1);
        }
        close(fd);
        char cmd[2400];
        snprintf(cmd, sizeof cmd, "python3 '%s' '%s' %f; rm -f '%s'", script, path, secs, script);
        FILE *f = popen(cmd, "r");
        char line[4096];
        json_t *v = f && fgets(line, sizeof line, f) ? json_loads(line, 0, NULL) : NULL;
        if (!v) {
                fprintf(stderr, "bench-jmespath: the reference jmespath.py did not start "
                                "(python3-jmespath: scripts/install-deps.sh bench)\n");
                exit(1);
        }
        printf("baseline: jmespath.py %s (python3), same document and expression, same run\n",
               json_string_value(json_object_get(v, "version")));
        json_decref(v);
        return f;
}

static json_t *reference_next(FILE *f, const char *name) {
        static char line[1u << 20];
        json_t *v = fgets(line, sizeof line, f) ? json_loads(line, JSON_DECODE_ANY, NULL) : NULL;
        if (!json_is_object(v)) {
                fprintf(stderr, "bench-jmespath: %s: no result from the reference\n", name);
                exit(1);
        }
        return v;
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
        FILE *ref = reference_start(path, secs);
        printf("%-32s %-7s %14s %14s %8s\n", "case", "kind", "ops/s", "jmespath.py/s", "ratio");
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
                        json_t *rv = reference_next(ref, name ? name : expr);
                        base = json_real_value(json_object_get(rv, "rate"));
                        if (!parse) { /* the same answer as the reference */
                                json_t *ours = NULL;
                                if (cp_jmespath_search(e, doc, &ours) < 0 ||
                                    !json_equal(ours ? ours : json_null(), json_object_get(rv, "result"))) {
                                        fprintf(stderr, "bench-jmespath: %s: our result differs from jmespath.py's\n",
                                                name ? name : expr);
                                        return 1;
                                }
                                json_decref(ours);
                        }
                        json_decref(rv);
                        if (base <= 0) {
                                fprintf(stderr, "bench-jmespath: no reference rate\n");
                                return 1;
                        }
                        r = parse ? rate(OP_COMPILE, doc, NULL, expr, secs) : rate(OP_SEARCH, doc, e, NULL, secs);
                        printf("%-32.32s %-7s %14.0f %14.0f %8.2f\n", name ? name : expr, parse ? "compile" : "search",
                               r, base, r / base);
                        sum_ratio += r / base;
                        cases++;
                        cp_jmespath_free(e);
                }
        }
        printf("mean ratio over %u cases: %.2f (x jmespath.py)\n", cases, cases ? sum_ratio / cases : 0.0);
        json_decref(groups);
        if (pclose(ref) != 0) {
                fprintf(stderr, "bench-jmespath: the reference jmespath.py failed\n");
                return 1;
        }
        return 0;
}
