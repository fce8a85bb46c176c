/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JMESPath: every case of the official compliance suite (tests/data/jmespath,
 * all files but benchmarks.json) must pass; plus API, error, limit and
 * number-formatting tests.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "basic/cleanup.h"
#include "basic/limits.h"
#include "cli/output/jmespath.h"
#include "tests.h"

static const char *const suite_files[] = {
        "basic.json",     "boolean.json",     "current.json", "escape.json",   "filters.json",
        "functions.json", "identifiers.json", "indices.json", "literal.json",  "multiselect.json",
        "pipe.json",      "slice.json",       "syntax.json",  "unicode.json",  "wildcard.json",
};

static json_t *load_json(const char *rel) {
        size_t len;
        uint8_t *buf = cp_test_read(rel, &len);
        json_error_t jerr;
        json_t *j = json_loadb((const char *) buf, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        free(buf);
        if (!j)
                cp_test_fail(__FILE__, __LINE__, "%s: %s (line %d)", rel, jerr.text, jerr.line);
        return j;
}

/* Run one case; returns true when it passes, printing why when not. */
static bool run_case(const char *file, json_t *given, json_t *c) {
        const char *expr = json_string_value(json_object_get(c, "expression"));
        json_t *want = json_object_get(c, "result");
        const char *want_err = json_string_value(json_object_get(c, "error"));
        cp_jmespath *e = NULL;
        json_t *got = NULL;
        bool ok = false;
        int r;

        if (!expr) {
                printf("  %s: case without expression\n", file);
                return false;
        }
        r = cp_jmespath_compile(expr, &e);
        if (r == 0) {
                r = cp_jmespath_search(e, given, &got);
        }
        if (want_err) {
                if (r < 0 && strcmp(cp_jmespath_errtype_name(cp_jmespath_last_error_type()), want_err) == 0)
                        ok = true;
                else if (r < 0)
                        printf("  %s: %s: want error %s, got %s: %s\n", file, expr, want_err,
                               cp_jmespath_errtype_name(cp_jmespath_last_error_type()), cp_error_message());
                else {
                        char *s = json_dumps(got, JSON_ENCODE_ANY | JSON_COMPACT);
                        printf("  %s: %s: want error %s, got result %s\n", file, expr, want_err, s ? s : "?");
                        free(s);
                }
        } else if (!want) {
                printf("  %s: %s: case has neither result nor error\n", file, expr);
        } else if (r < 0) {
                printf("  %s: %s: unexpected error: %s\n", file, expr, cp_error_message());
        } else if (cp_jmespath_equal(got, want) == 1) {
                ok = true;
        } else {
                char *s1 = json_dumps(got, JSON_ENCODE_ANY | JSON_COMPACT);
                char *s2 = json_dumps(want, JSON_ENCODE_ANY | JSON_COMPACT);
                printf("  %s: %s: got %s, want %s\n", file, expr, s1 ? s1 : "?", s2 ? s2 : "?");
                free(s1);
                free(s2);
        }
        json_decref(got);
        cp_jmespath_free(e);
        return ok;
}

TEST(compliance_suite) {
        unsigned total = 0, total_pass = 0;

        for (size_t f = 0; f < CP_ELEMENTSOF(suite_files); f++) {
                char rel[128];
                json_t *groups, *g, *c;
                size_t gi, ci;
                unsigned n = 0, pass = 0;

                snprintf(rel, sizeof(rel), "jmespath/%s", suite_files[f]);
                groups = load_json(rel);
                ASSERT_TRUE(json_is_array(groups));
                json_array_foreach(groups, gi, g) {
                        json_t *given = json_object_get(g, "given");
                        ASSERT_TRUE(given != NULL);
                        json_array_foreach(json_object_get(g, "cases"), ci, c) {
                                n++;
                                if (run_case(suite_files[f], given, c))
                                        pass++;
                        }
                }
                json_decref(groups);
                printf("  %-18s %3u/%3u\n", suite_files[f], pass, n);
                ASSERT_TRUE(n > 0);
                total += n;
                total_pass += pass;
        }
        printf("  %-18s %3u/%3u\n", "total", total_pass, total);
        ASSERT_EQ(total, 892);
        ASSERT_EQ(total_pass, total);
}

/* Negative test: every prefix of every suite expression either compiles or
 * fails with a JMESPath error type (never crashes, never an untyped error). */
TEST(compliance_prefixes) {
        unsigned n = 0;
        for (size_t f = 0; f < CP_ELEMENTSOF(suite_files); f++) {
                char rel[128];
                json_t *groups, *g, *c;
                size_t gi, ci;

                snprintf(rel, sizeof(rel), "jmespath/%s", suite_files[f]);
                groups = load_json(rel);
                json_array_foreach(groups, gi, g) {
                        json_array_foreach(json_object_get(g, "cases"), ci, c) {
                                const char *expr = json_string_value(json_object_get(c, "expression"));
                                size_t len = strlen(expr);
                                for (size_t k = 0; k < len; k++) {
                                        char *pre = strndup(expr, k);
                                        cp_jmespath *e = NULL;
                                        json_t *res = NULL;
                                        int r = cp_jmespath_compile(pre, &e);
                                        if (r < 0)
                                                ASSERT_TRUE(cp_jmespath_last_error_type() != CP_JMESPATH_ERR_NONE);
                                        else {
                                                r = cp_jmespath_search(e, json_object_get(g, "given"), &res);
                                                if (r < 0)
                                                        ASSERT_TRUE(cp_jmespath_last_error_type() !=
                                                                    CP_JMESPATH_ERR_NONE);
                                                else
                                                        ASSERT_TRUE(res != NULL);
                                        }
                                        json_decref(res);
                                        cp_jmespath_free(e);
                                        free(pre);
                                        n++;
                                }
                        }
                }
                json_decref(groups);
        }
        ASSERT_TRUE(n > 5000);
}

static json_t *search(const char *expr, const char *doc) {
        cp_jmespath *e = NULL;
        json_t *data, *res = NULL;
        json_error_t jerr;

        data = json_loads(doc, JSON_DECODE_ANY, &jerr);
        ASSERT_TRUE(data != NULL);
        ASSERT_OK(cp_jmespath_compile(expr, &e));
        ASSERT_OK(cp_jmespath_search(e, data, &res));
        json_decref(data);
        cp_jmespath_free(e);
        return res;
}

static char *dump_compact(json_t *v) {
        char *s = NULL;
        ASSERT_OK(cp_jmespath_dump(v, -1, 0, &s));
        return s;
}

TEST(multiselect_hash_keeps_order) {
        json_t *r = search("[].{Name: name, K8s: orchestratorVersion, A: a}",
                           "[{\"name\":\"np1\",\"orchestratorVersion\":\"1.30\",\"a\":1}]");
        char *s = dump_compact(r);
        ASSERT_STREQ(s, "[{\"Name\":\"np1\",\"K8s\":\"1.30\",\"A\":1}]");
        free(s);
        json_decref(r);
}

TEST(number_equality) {
        json_t *r = search("[a == b, a == c, `[1, {\"x\": 2}]` == d, a < c, a < `\"x\"`]",
                           "{\"a\": 1, \"b\": 1.0, \"c\": 2, \"d\": [1.0, {\"x\": 2.0}]}");
        char *s = dump_compact(r);
        ASSERT_STREQ(s, "[true,false,true,true,null]");
        free(s);
        json_decref(r);
        r = search("@ == `{\"b\": 2, \"a\": [1]}`", "{\"a\": [1.0], \"b\": 2}");
        ASSERT_TRUE(json_is_true(r));
        json_decref(r);
}

TEST(aks_doc_queries) {
        const char *doc = "{\"agentPoolProfiles\":[{\"name\":\"np1\",\"count\":3,\"vmSize\":\"Standard_DC4as_v5\","
                          "\"provisioningState\":\"Succeeded\"},{\"name\":\"np2\",\"count\":1,"
                          "\"vmSize\":\"Standard_D2s_v3\",\"provisioningState\":\"Failed\"}]}";
        json_t *r;
        char *s;

        r = search("agentPoolProfiles[0].count", doc);
        ASSERT_EQ(json_integer_value(r), 3);
        json_decref(r);
        r = search("agentPoolProfiles[?name=='np2'].count | [0]", doc);
        ASSERT_EQ(json_integer_value(r), 1);
        json_decref(r);
        r = search("join(', ', sort_by(agentPoolProfiles, &count)[].name)", doc);
        ASSERT_STREQ(json_string_value(r), "np2, np1");
        json_decref(r);
        r = search("length(agentPoolProfiles[?contains(vmSize, 'DC')]) || `0`", doc);
        ASSERT_EQ(json_integer_value(r), 1);
        json_decref(r);
        r = search("agentPoolProfiles[?provisioningState=='Succeeded'].[name, count]", doc);
        s = dump_compact(r);
        ASSERT_STREQ(s, "[[\"np1\",3]]");
        free(s);
        json_decref(r);
        r = search("missing || `\"default\"`", doc);
        ASSERT_STREQ(json_string_value(r), "default");
        json_decref(r);
}

TEST(to_string_sort_semantics) {
        json_t *r = search("[to_string(@), to_string(`1.5`), to_string('x'), sort(`[\"b\",\"a\",\"B\"]`),"
                           " sort(`[3, 1.5, -2]`), sort_by(@.x, &k)[].v]",
                           "{\"x\": [{\"k\": 2, \"v\": \"a\"}, {\"k\": 1, \"v\": \"b\"}, {\"k\": 2, \"v\": \"c\"},"
                           " {\"k\": 1, \"v\": \"d\"}]}");
        char *s = dump_compact(r);
        ASSERT_STREQ(s, "[\"{\\\"x\\\":[{\\\"k\\\":2,\\\"v\\\":\\\"a\\\"},{\\\"k\\\":1,\\\"v\\\":\\\"b\\\"},"
                        "{\\\"k\\\":2,\\\"v\\\":\\\"c\\\"},{\\\"k\\\":1,\\\"v\\\":\\\"d\\\"}]}\","
                        "\"1.5\",\"x\",[\"B\",\"a\",\"b\"],[-2,1.5,3],[\"b\",\"d\",\"a\",\"c\"]]");
        free(s);
        json_decref(r);
}

TEST(errors_name_type_and_position) {
        cp_jmespath *e = NULL;
        json_t *res = NULL, *data = json_pack("{s:i}", "a", 1);

        ASSERT_ERR(cp_jmespath_compile("foo.[", &e), CP_EFORMAT);
        ASSERT_EQ(cp_jmespath_last_error_type(), CP_JMESPATH_ERR_SYNTAX);
        ASSERT_TRUE(strstr(cp_error_message(), "syntax error at position 5") != NULL);
        ASSERT_ERR(cp_jmespath_compile("a = b", &e), CP_EFORMAT);
        ASSERT_TRUE(strstr(cp_error_message(), "position 2") != NULL);
        ASSERT_ERR(cp_jmespath_compile("nope(@)", &e), CP_EFORMAT);
        ASSERT_EQ(cp_jmespath_last_error_type(), CP_JMESPATH_ERR_UNKNOWN_FUNCTION);
        ASSERT_STREQ(cp_jmespath_errtype_name(cp_jmespath_last_error_type()), "unknown-function");
        ASSERT_ERR(cp_jmespath_compile("length(@, @)", &e), CP_EFORMAT);
        ASSERT_EQ(cp_jmespath_last_error_type(), CP_JMESPATH_ERR_INVALID_ARITY);
        ASSERT_ERR(cp_jmespath_compile("[::0]", &e), CP_EINVAL);
        ASSERT_EQ(cp_jmespath_last_error_type(), CP_JMESPATH_ERR_INVALID_VALUE);
        ASSERT_OK(cp_jmespath_compile("  abs(a) + ", &e) == CP_EFORMAT ? 0 : -1);
        ASSERT_OK(cp_jmespath_compile("length(a)", &e));
        ASSERT_EQ(cp_jmespath_last_error_type(), CP_JMESPATH_ERR_NONE);
        ASSERT_ERR(cp_jmespath_search(e, data, &res), CP_EINVAL);
        ASSERT_EQ(cp_jmespath_last_error_type(), CP_JMESPATH_ERR_INVALID_TYPE);
        ASSERT_TRUE(strstr(cp_error_message(), "invalid-type error at position 0: length() argument 1") != NULL);
        ASSERT_TRUE(res == NULL);
        ASSERT_STREQ(cp_jmespath_expression(e), "length(a)");
        cp_jmespath_free(e);
        ASSERT_ERR(cp_jmespath_compile(NULL, &e), CP_EINVAL);
        ASSERT_TRUE(cp_jmespath_free(NULL) == NULL);
        json_decref(data);
}

TEST(compile_once_search_many) {
        cp_jmespath *e = NULL;
        ASSERT_OK(cp_jmespath_compile("items[?v > `1`].n | sort(@)", &e));
        for (int i = 0; i < 50; i++) {
                json_t *d = json_pack("{s:[{s:i,s:s},{s:i,s:s},{s:i,s:s}]}", "items", "v", i, "n", "c", "v", 2, "n",
                                      "b", "v", 0, "n", "a");
                json_t *r = NULL;
                ASSERT_OK(cp_jmespath_search(e, d, &r));
                ASSERT_EQ(json_array_size(r), i > 1 ? 2 : 1);
                ASSERT_STREQ(json_string_value(json_array_get(r, 0)), "b");
                json_decref(r);
                json_decref(d);
        }
        cp_jmespath_free(e);
}

TEST(limits) {
        cp_jmespath *e = NULL;
        json_t *res = NULL;
        char *big = malloc(CP_MAX_JMESPATH_EXPR + 2);
        char deep[4 * CP_MAX_JMESPATH_DEPTH + 16];
        size_t o = 0;

        /* expression length */
        memset(big, 'a', CP_MAX_JMESPATH_EXPR + 1);
        big[CP_MAX_JMESPATH_EXPR + 1] = 0;
        ASSERT_ERR(cp_jmespath_compile(big, &e), CP_ETOOBIG);
        ASSERT_EQ(cp_jmespath_last_error_type(), CP_JMESPATH_ERR_LIMIT);
        big[CP_MAX_JMESPATH_EXPR] = 0;
        ASSERT_OK(cp_jmespath_compile(big, &e));
        e = cp_jmespath_free(e);
        free(big);

        /* nesting */
        for (unsigned i = 0; i < CP_MAX_JMESPATH_DEPTH + 2; i++)
                deep[o++] = '(';
        deep[o++] = 'a';
        for (unsigned i = 0; i < CP_MAX_JMESPATH_DEPTH + 2; i++)
                deep[o++] = ')';
        deep[o] = 0;
        ASSERT_ERR(cp_jmespath_compile(deep, &e), CP_ETOOBIG);
        o = 0;
        for (unsigned i = 0; i < CP_MAX_JMESPATH_DEPTH + 2; i++) {
                deep[o++] = '!';
        }
        deep[o++] = 'a';
        deep[o] = 0;
        ASSERT_ERR(cp_jmespath_compile(deep, &e), CP_ETOOBIG);

        /* a long left-associative chain stays shallow */
        {
                char chain[8001];
                for (int i = 0; i < 4000; i++) {
                        chain[2 * i] = 'a';
                        chain[2 * i + 1] = '.';
                }
                chain[7999] = 0;
                ASSERT_OK(cp_jmespath_compile(chain, &e));
                e = cp_jmespath_free(e);
        }

        /* long pipe / or / and chains stay flat too, and keep their semantics */
        {
                char chain[2000];
                static const char *const ops[] = { "|", "||", "&&" };
                for (size_t k = 0; k < CP_ELEMENTSOF(ops); k++) {
                        size_t o2 = 0;
                        for (int i = 0; i < 300; i++)
                                o2 += (size_t) snprintf(chain + o2, sizeof(chain) - o2, "%s@", i ? ops[k] : "");
                        ASSERT_OK(cp_jmespath_compile(chain, &e));
                        ASSERT_OK(cp_jmespath_search(e, json_true(), &res));
                        ASSERT_TRUE(json_is_true(res));
                        json_decref(res);
                        e = cp_jmespath_free(e);
                }
        }

        /* exponential result: each [@,@] doubles the printed size */
        ASSERT_OK(cp_jmespath_compile("[@,@]|[@,@]|[@,@]|[@,@]|[@,@]|[@,@]|[@,@]|[@,@]|[@,@]|[@,@]|"
                                      "[@,@]|[@,@]|[@,@]|[@,@]|[@,@]|[@,@]|[@,@]|[@,@]|[@,@]|[@,@]|"
                                      "[@,@]|[@,@]|[@,@]",
                                      &e));
        ASSERT_ERR(cp_jmespath_search(e, json_true(), &res), CP_ETOOBIG);
        e = cp_jmespath_free(e);
        /* ... and the same blow-up when flattened or stringified */
        ASSERT_OK(cp_jmespath_compile("[@,@]|[@,@]|[@,@]|[@,@]|[@,@]|[@,@]|[@,@]|[@,@]|[@,@]|[@,@]|"
                                      "[@,@]|[@,@]|[@,@]|[@,@]|[@,@]|[@,@]|[@,@]|[@,@]|[@,@]|[@,@]|"
                                      "[@,@]|[@,@]|[@,@]|[@,@]|[@,@]|length(to_string(@))",
                                      &e));
        ASSERT_ERR(cp_jmespath_search(e, json_true(), &res), CP_ETOOBIG);
        e = cp_jmespath_free(e);
        ASSERT_OK(cp_jmespath_compile("[@,@]|[@,@]|[@,@]|[@,@]|[@,@]|[@,@]|[@,@]|[@,@]|[@,@]|[@,@]|"
                                      "[@,@]|[@,@]|[@,@]|[@,@]|[@,@]|[@,@]|[@,@]|[@,@]|[@,@]|[@,@]|"
                                      "[@,@]|[@,@]|[@,@]|[@,@]|[@,@]|[][][][][][][][][][][][][][][][][][][][][][][]"
                                      "| length(@)",
                                      &e));
        ASSERT_ERR(cp_jmespath_search(e, json_true(), &res), CP_ETOOBIG);
        e = cp_jmespath_free(e);
}

TEST(format_real_like_python) {
        static const struct {
                double d;
                const char *s;
        } cases[] = {
                { 1.0, "1.0" },        { 0.1, "0.1" },          { -2.5, "-2.5" },   { 1e16, "1e+16" },
                { 1e15, "1000000000000000.0" }, { 1.5e-5, "1.5e-05" }, { 0.0001, "0.0001" },
                { 123456789.125, "123456789.125" }, { 1e100, "1e+100" }, { -0.0, "-0.0" },
                { 0.30000000000000004, "0.30000000000000004" }, { 2.5e-300, "2.5e-300" },
        };
        char buf[40];
        for (size_t i = 0; i < CP_ELEMENTSOF(cases); i++) {
                cp_jmespath_format_real(cases[i].d, buf, sizeof(buf));
                ASSERT_STREQ(buf, cases[i].s);
        }
}

TEST(dump_python_style) {
        json_t *v = json_loads("{\"b\": [1, 2.0, {}], \"a\": {\"y\": null, \"x\": \"\\u00e9\\n\\u0001\"},"
                               " \"c\": []}",
                               0, NULL);
        char *s = NULL;
        ASSERT_TRUE(v != NULL);
        ASSERT_OK(cp_jmespath_dump(v, 2, 1, &s));
        ASSERT_STREQ(s, "{\n  \"a\": {\n    \"x\": \"\xc3\xa9\\n\\u0001\",\n    \"y\": null\n  },\n"
                        "  \"b\": [\n    1,\n    2.0,\n    {}\n  ],\n  \"c\": []\n}");
        free(s);
        ASSERT_OK(cp_jmespath_dump(v, -1, 0, &s));
        ASSERT_STREQ(s, "{\"b\":[1,2.0,{}],\"a\":{\"y\":null,\"x\":\"\xc3\xa9\\n\\u0001\"},\"c\":[]}");
        free(s);
        json_decref(v);
}
