/* SPDX-License-Identifier: Apache-2.0 */
/* The plain-JSON fast path of libconfpool/json-plain.h: what it accepts is
 * jansson's tree, what it declines goes to jansson (see also test-attestd's
 * differential test on request bodies and fuzz/fuzz-json-plain.c). */
#include <stdlib.h>
#include <string.h>

#include "basic/cleanup.h"
#include "basic/json-depth.h"
#include "libconfpool/json-plain.h"
#include "tests.h"

static json_t *ref_of(const char *s) {
        json_error_t jerr;
        return json_loadb(s, strlen(s), JSON_REJECT_DUPLICATES, &jerr);
}

TEST(plain_subset_equals_jansson) {
        static const char *const ok[] = {
                "{}",
                " {\"x\" : \"y\" , \"z\":[ 1 , 2 ]}\n",
                "{\"a\":[1,-2,0,true,false,null,{},[]],\"b\":{\"c\":\"d\"}}",
                "{\"n18\":-999999999999999999,\"m\":999999999999999999}",
                "{\"s\":\"printable ~ and DEL \x7f\"}",
        };
        for (size_t i = 0; i < CP_ELEMENTSOF(ok); i++) {
                json_t *fast = cp_json_load_plain(ok[i], strlen(ok[i]), 32), *ref = ref_of(ok[i]);
                ASSERT_TRUE(fast && ref && json_equal(fast, ref));
                char *a = cp_json_dumps_plain(fast), *b = json_dumps(ref, JSON_COMPACT);
                ASSERT_STREQ(a, b);
                free(a);
                free(b);
                json_decref(fast);
                json_decref(ref);
        }
}

TEST(declines_outside_the_subset) {
        static const char *const no[] = {
                "[1]",                           /* not an object */
                "{\"a\":\"\\n\"}",               /* escape */
                "{\"a\":\"caf\xc3\xa9\"}",       /* non-ASCII */
                "{\"a\":1.5}",                   /* real */
                "{\"a\":1e3}",                   /* exponent */
                "{\"a\":01}",                    /* leading zero */
                "{\"a\":9999999999999999999}",   /* 19 digits */
                "{\"a\":1,\"a\":2}",             /* duplicate */
                "{\"a\":truex}",                 /* jansson lexes a word */
                "{\"a\":1,}",                    /* trailing comma */
                "{\"a\":1} x",                   /* trailing bytes */
                "{\"a\":\"unterminated}",
                "{\"a\":[[[1]]]}",               /* deeper than 3 */
        };
        for (size_t i = 0; i < CP_ELEMENTSOF(no); i++) {
                json_t *fast = cp_json_load_plain(no[i], strlen(no[i]), 3);
                if (fast)
                        cp_test_fail(__FILE__, __LINE__, "accepted: %s", no[i]);
        }
        ASSERT_TRUE(cp_json_load_plain(NULL, 0, 3) == NULL);
        json_t *d3 = cp_json_load_plain("{\"a\":[[1]]}", 11, 3);
        ASSERT_TRUE(d3 != NULL);
        json_decref(d3);
}

/* Every prefix of a plain document is declined (never read past its end). */
TEST(prefixes_are_declined) {
        static const char doc[] = "{\"k\":\"0123456789abcdef0123456789\",\"a\":[1,true,null],\"o\":{\"x\":-7}}";
        for (size_t n = 0; n < sizeof(doc) - 1; n++) {
                char *copy = malloc(n ? n : 1);
                memcpy(copy, doc, n);
                ASSERT_TRUE(cp_json_load_plain(copy, n, 32) == NULL);
                free(copy);
        }
        json_t *all = cp_json_load_plain(doc, sizeof(doc) - 1, 32);
        ASSERT_TRUE(all != NULL);
        json_decref(all);
}
