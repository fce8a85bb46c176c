/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the JMESPath compiler and evaluator: the input is an expression,
 * compiled and searched over a fixed document that has the shapes the
 * compliance suite uses (nested objects, arrays of objects, numbers, strings,
 * nulls, booleans).  Checks: a failure always carries a JMESPath error type;
 * a success gives a non-NULL result equal to itself that serialises; a
 * second compile of the same text gives an equal result.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/output/jmespath.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char doc_text[] =
        "{\"foo\": {\"bar\": {\"baz\": [0, 1, 2, -1.5, \"x\"]}, \"a\": [{\"b\": 1, \"c\": [1, 2]},"
        " {\"b\": 2, \"c\": []}, {\"b\": null}], \"s\": \"hello\", \"e\": {}, \"t\": true, \"f\": false},"
        " \"people\": [{\"name\": \"a\", \"age\": 30}, {\"name\": \"b\", \"age\": 25.5},"
        " {\"name\": \"c\", \"age\": null}], \"matrix\": [[1, 2], [3, [4, 5]], []],"
        " \"agentPoolProfiles\": [{\"name\": \"np1\", \"count\": 3, \"vmSize\": \"Standard_DC4as_v5\"}],"
        " \"\\u00e9\": \"unicode\", \"n\": null, \"strings\": [\"b\", \"a\", \"\\u2713\"]}";

static json_t *doc;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *expr;
        cp_jmespath *e = NULL, *e2 = NULL;
        json_t *res = NULL, *res2 = NULL;
        char *s = NULL;

        if (!doc) {
                doc = json_loads(doc_text, 0, NULL);
                if (!doc)
                        abort();
        }
        if (size > 4096)
                return 0;
        expr = malloc(size + 1);
        if (!expr)
                return 0;
        memcpy(expr, data, size);
        expr[size] = 0;

        if (cp_jmespath_compile(expr, &e) < 0) {
                if (cp_jmespath_last_error_type() == CP_JMESPATH_ERR_NONE && cp_error_last()->code != CP_ENOMEM &&
                    cp_error_last()->code != CP_EINVAL)
                        abort();
                goto out;
        }
        if (cp_jmespath_search(e, doc, &res) < 0) {
                if (cp_jmespath_last_error_type() == CP_JMESPATH_ERR_NONE && cp_error_last()->code != CP_ENOMEM)
                        abort();
                goto out;
        }
        if (!res || cp_jmespath_equal(res, res) != 1)
                abort();
        if (cp_jmespath_dump(res, 2, 1, &s) < 0)
                abort();
        if (cp_jmespath_compile(expr, &e2) < 0 || cp_jmespath_search(e2, doc, &res2) < 0)
                abort();
        if (cp_jmespath_equal(res, res2) != 1)
                abort();
out:
        free(s);
        json_decref(res);
        json_decref(res2);
        cp_jmespath_free(e);
        cp_jmespath_free(e2);
        free(expr);
        return 0;
}
