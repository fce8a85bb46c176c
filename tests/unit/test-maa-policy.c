/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "basic/cleanup.h"
#include "confpool/maa_policy.h"
#include "tests.h"

static cp_maa_claims *snp_claims(bool debuggable, int64_t fw_svn) {
        cp_maa_claims *c = NULL;
        ASSERT_OK(cp_maa_claims_new(&c));
        ASSERT_OK(cp_maa_claims_add_string(c, "x-ms-attestation-type", NULL, "sevsnpvm"));
        ASSERT_OK(cp_maa_claims_add_bool(c, "x-ms-sevsnpvm-is-debuggable", NULL, debuggable));
        ASSERT_OK(cp_maa_claims_add_int(c, "x-ms-sevsnpvm-snpfw-svn", NULL, fw_svn));
        ASSERT_OK(cp_maa_claims_add_int(c, "x-ms-sevsnpvm-vmpl", NULL, 0));
        ASSERT_OK(cp_maa_claims_add_string(c, "x-ms-sevsnpvm-hostdata", NULL, "00ff"));
        ASSERT_OK(cp_maa_claims_add_string(c, "tag", NULL, "a"));
        ASSERT_OK(cp_maa_claims_add_string(c, "tag", NULL, "b"));
        return c;
}

static cp_maa_policy *parse(const char *text) {
        cp_maa_policy *p = NULL;
        cp_maa_parse_error e;
        int r = cp_maa_policy_parse(text, strlen(text), &p, &e);
        if (r < 0)
                cp_test_fail(__FILE__, __LINE__, "parse failed at %u:%u: %s", e.line, e.column, e.message);
        return p;
}

/* Evaluate an authorization condition: 1 permitted, 0 refused. */
static int authz(const char *cond, const cp_maa_claims *c) {
        char text[1024];
        snprintf(text, sizeof(text), "version=1.0; authorizationrules { %s => permit(); };", cond);
        cp_maa_policy *p = parse(text);
        int r = cp_maa_policy_evaluate(p, c, NULL);
        cp_maa_policy_free(p);
        if (r != 0 && r != CP_EPOLICY)
                cp_test_fail(__FILE__, __LINE__, "unexpected %s", cp_err_name(r));
        return r == 0;
}

TEST(every_operator) {
        cp_maa_claims *c = snp_claims(false, 8);
        /* integers */
        ASSERT_EQ(authz("[type==\"x-ms-sevsnpvm-snpfw-svn\", value==8]", c), 1);
        ASSERT_EQ(authz("[type==\"x-ms-sevsnpvm-snpfw-svn\", value==9]", c), 0);
        ASSERT_EQ(authz("[type==\"x-ms-sevsnpvm-snpfw-svn\", value!=9]", c), 1);
        ASSERT_EQ(authz("[type==\"x-ms-sevsnpvm-snpfw-svn\", value!=8]", c), 0);
        ASSERT_EQ(authz("[type==\"x-ms-sevsnpvm-snpfw-svn\", value<9]", c), 1);
        ASSERT_EQ(authz("[type==\"x-ms-sevsnpvm-snpfw-svn\", value<8]", c), 0);
        ASSERT_EQ(authz("[type==\"x-ms-sevsnpvm-snpfw-svn\", value<=8]", c), 1);
        ASSERT_EQ(authz("[type==\"x-ms-sevsnpvm-snpfw-svn\", value<=7]", c), 0);
        ASSERT_EQ(authz("[type==\"x-ms-sevsnpvm-snpfw-svn\", value>7]", c), 1);
        ASSERT_EQ(authz("[type==\"x-ms-sevsnpvm-snpfw-svn\", value>8]", c), 0);
        ASSERT_EQ(authz("[type==\"x-ms-sevsnpvm-snpfw-svn\", value>=8]", c), 1);
        ASSERT_EQ(authz("[type==\"x-ms-sevsnpvm-snpfw-svn\", value>=9]", c), 0);
        ASSERT_EQ(authz("[type==\"x-ms-sevsnpvm-snpfw-svn\", value>=-1]", c), 1);
        /* strings and booleans */
        ASSERT_EQ(authz("[type==\"x-ms-attestation-type\", value==\"sevsnpvm\"]", c), 1);
        ASSERT_EQ(authz("[type==\"x-ms-attestation-type\", value!=\"sevsnpvm\"]", c), 0);
        ASSERT_EQ(authz("[type==\"x-ms-sevsnpvm-is-debuggable\", value==false]", c), 1);
        ASSERT_EQ(authz("[type==\"x-ms-sevsnpvm-is-debuggable\", value!=false]", c), 0);
        /* a type mismatch never matches */
        ASSERT_EQ(authz("[type==\"x-ms-sevsnpvm-snpfw-svn\", value==\"8\"]", c), 0);
        ASSERT_EQ(authz("[type==\"x-ms-sevsnpvm-is-debuggable\", value==0]", c), 0);
        /* type != and issuer */
        ASSERT_EQ(authz("[type!=\"nothing\"]", c), 1);
        ASSERT_EQ(authz("[type==\"tag\", issuer==\"AttestationService\"]", c), 1);
        ASSERT_EQ(authz("[type==\"tag\", issuer==\"AttestationPolicy\"]", c), 0);
        ASSERT_EQ(authz("[type==\"tag\", issuer!=\"AttestationPolicy\"]", c), 1);
        /* negation, conjunction, empty condition list */
        ASSERT_EQ(authz("![type==\"revoked\"]", c), 1);
        ASSERT_EQ(authz("![type==\"tag\"]", c), 0);
        ASSERT_EQ(authz("[type==\"tag\", value==\"a\"] && [type==\"tag\", value==\"b\"]", c), 1);
        ASSERT_EQ(authz("[type==\"tag\", value==\"a\"] && [type==\"tag\", value==\"c\"]", c), 0);
        ASSERT_EQ(authz("", c), 1);
        /* bindings referencing earlier claims */
        ASSERT_EQ(authz("c:[type==\"tag\"] && [type==\"tag\", value!=c.value]", c), 1);
        ASSERT_EQ(authz("c:[type==\"x-ms-sevsnpvm-vmpl\"] && [type==\"x-ms-sevsnpvm-snpfw-svn\", value>c.value]", c), 1);
        ASSERT_EQ(authz("c:[type==\"x-ms-sevsnpvm-vmpl\"] && [type==\"x-ms-sevsnpvm-snpfw-svn\", value<c.value]", c), 0);
        ASSERT_EQ(authz("c:[type==\"tag\"] && [type==c.type, issuer==c.issuer, value==\"b\"]", c), 1);
        cp_maa_claims_free(c);
}

TEST(permit_deny_semantics) {
        cp_maa_claims *ok = snp_claims(false, 8), *dbg = snp_claims(true, 8);
        const char *text = "version=1.0;\n"
                           "authorizationrules {\n"
                           "  [type==\"x-ms-sevsnpvm-is-debuggable\", value==true] => deny();\n"
                           "  [type==\"x-ms-attestation-type\", value==\"sevsnpvm\"] => permit();\n"
                           "};\n";
        cp_maa_policy *p = parse(text);
        ASSERT_EQ(cp_maa_policy_n_authorization_rules(p), 2);
        ASSERT_EQ(cp_maa_policy_n_issuance_rules(p), 0);
        ASSERT_OK(cp_maa_policy_evaluate(p, ok, NULL));
        ASSERT_ERR(cp_maa_policy_evaluate(p, dbg, NULL), CP_EPOLICY);
        ASSERT_TRUE(strstr(cp_error_message(), "line 3") != NULL);
        cp_maa_policy_free(p);
        /* deny after permit still refuses; no permit refuses; empty section refuses */
        p = parse("version=1.0; authorizationrules { => permit(); [type==\"tag\"] => deny(); };");
        ASSERT_ERR(cp_maa_policy_evaluate(p, ok, NULL), CP_EPOLICY);
        cp_maa_policy_free(p);
        p = parse("version=1.0; authorizationrules { [type==\"nothing\"] => permit(); };");
        ASSERT_ERR(cp_maa_policy_evaluate(p, ok, NULL), CP_EPOLICY);
        cp_maa_policy_free(p);
        p = parse("version=1.0; authorizationrules { };");
        ASSERT_ERR(cp_maa_policy_evaluate(p, ok, NULL), CP_EPOLICY);
        cp_maa_policy_free(p);
        cp_maa_claims_free(ok);
        cp_maa_claims_free(dbg);
}

TEST(add_and_issue) {
        cp_maa_claims *c = snp_claims(false, 8), *out = NULL;
        const char *text =
                "version=1.0;\n"
                "// comments are allowed\n"
                "authorizationrules {\n"
                "  [type==\"x-ms-sevsnpvm-snpfw-svn\", value>=8] => add(type=\"fw-ok\", value=true);\n"
                "  [type==\"fw-ok\", value==true, issuer==\"AttestationPolicy\"] => permit();\n"
                "};\n"
                "issuancerules {\n"
                "  /* block comment */\n"
                "  c:[type==\"x-ms-sevsnpvm-hostdata\"] => issue(type=\"pool-hostdata\", value=c.value);\n"
                "  c:[type==\"tag\"] => issue(claim=c);\n"
                "  c:[type==\"tag\"] => add(type=\"seen\", value=c.value);\n"
                "  [type==\"seen\", value==\"b\"] => issue(type=\"saw-b\", value=1);\n"
                "  [type==\"fw-ok\"] => issue(value=-42, type=\"neg\");\n"
                "  ![type==\"nothing\"] => issue(type=\"s\", value=\"q\\\"x\\\\\");\n"
                "  => issue(type=\"always\", value=true);\n"
                "};\n";
        cp_maa_policy *p = parse(text);
        ASSERT_OK(cp_maa_policy_evaluate(p, c, &out));
        ASSERT_EQ(cp_maa_claims_count(out), 7);
        ASSERT_STREQ(cp_maa_claims_find(out, "pool-hostdata")->s, "00ff");
        ASSERT_STREQ(cp_maa_claims_get(out, 1)->type, "tag");
        ASSERT_STREQ(cp_maa_claims_get(out, 1)->s, "a");
        ASSERT_STREQ(cp_maa_claims_get(out, 2)->s, "b");
        ASSERT_EQ(cp_maa_claims_find(out, "saw-b")->i, 1);
        ASSERT_EQ(cp_maa_claims_find(out, "neg")->i, -42);
        ASSERT_STREQ(cp_maa_claims_find(out, "s")->s, "q\"x\\");
        ASSERT_TRUE(cp_maa_claims_find(out, "always")->b);
        ASSERT_STREQ(cp_maa_claims_find(out, "always")->issuer, "AttestationPolicy");
        /* the incoming set is not modified */
        ASSERT_TRUE(cp_maa_claims_find(c, "fw-ok") == NULL);
        cp_maa_claims_free(out);
        cp_maa_policy_free(p);
        cp_maa_claims_free(c);
}

TEST(json_claims_flatten) {
        cp_maa_claims *c = NULL;
        ASSERT_OK(cp_maa_claims_new(&c));
        json_t *j = json_loads("{\"vm-configuration\":{\"secure-boot\":true,\"n\":3},\"keys\":[{\"kid\":\"a\"}],"
                               "\"list\":[\"x\",\"y\"],\"r\":1.5}",
                               0, NULL);
        ASSERT_OK(cp_maa_claims_add_json(c, "x-ms-runtime", NULL, j));
        json_decref(j);
        ASSERT_TRUE(cp_maa_claims_find(c, "x-ms-runtime.vm-configuration.secure-boot")->b);
        ASSERT_EQ(cp_maa_claims_find(c, "x-ms-runtime.vm-configuration.n")->i, 3);
        ASSERT_EQ(cp_maa_claims_count(c), 4); /* 2 + list x, y; keys (objects in arrays) and reals skipped */
        cp_maa_claims_free(c);
}

TEST(policy_hash_matches_maa_definition) {
        /* BASE64URL(SHA-256(BASE64URL("version=1.0;"))): BASE64URL of the
         * text is "dmVyc2lvbj0xLjA7"; its SHA-256 computed independently
         * with `printf dmVyc2lvbj0xLjA7 | openssl dgst -sha256 -binary | basenc --base64url` */
        char h[44];
        ASSERT_OK(cp_maa_policy_hash("version=1.0;", 12, h));
        ASSERT_STREQ(h, "19i83kYUJrNjFhofbXgekndgH4nqXEkpmebWlG5krvs");
}

TEST(error_positions) {
        struct {
                const char *text;
                unsigned line, col;
                int code;
        } cases[] = {
                { "version=1.0;\nauthorizationrules {\n  [type=\"x\"] => permit();\n};", 3, 8, CP_EFORMAT },
                { "version=1.0;\nauthorizationrules {\n  [type==\"x\", value<\"a\"] => permit();\n};", 3, 20,
                  CP_EFORMAT },
                { "version=2.0; authorizationrules { };", 1, 9, CP_EUNSUPPORTED },
                { "version=1.0;\n\n   @", 3, 4, CP_EFORMAT },
                { "version=1.0; authorizationrules {\n => issue(type=\"a\", value=1); };", 2, 5, CP_EFORMAT },
                { "version=1.0; authorizationrules { [type==\"x\"] permit(); };", 1, 47, CP_EFORMAT },
        };
        for (size_t i = 0; i < CP_ELEMENTSOF(cases); i++) {
                cp_maa_policy *p = NULL;
                cp_maa_parse_error e;
                ASSERT_ERR(cp_maa_policy_parse(cases[i].text, strlen(cases[i].text), &p, &e), cases[i].code);
                if (e.line != cases[i].line || e.column != cases[i].col)
                        cp_test_fail(__FILE__, __LINE__, "case %zu: %u:%u (%s), expected %u:%u", i, e.line,
                                     e.column, e.message, cases[i].line, cases[i].col);
                ASSERT_TRUE(e.message[0] != '\0');
                ASSERT_TRUE(p == NULL);
        }
}

TEST(malformed_corpus) {
        const char *dir = cp_test_data("maa-policy/bad");
        DIR *d = opendir(dir);
        struct dirent *de;
        unsigned n = 0;
        ASSERT_TRUE(d != NULL);
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                char rel[512];
                size_t len;
                snprintf(rel, sizeof(rel), "maa-policy/bad/%s", de->d_name);
                uint8_t *buf = cp_test_read(rel, &len);
                cp_maa_policy *p = NULL;
                cp_maa_parse_error e;
                int r = cp_maa_policy_parse((const char *) buf, len, &p, &e);
                if (r >= 0)
                        cp_test_fail(__FILE__, __LINE__, "%s parsed", de->d_name);
                ASSERT_TRUE(e.line >= 1 && e.column >= 1);
                free(buf);
                n++;
        }
        closedir(d);
        ASSERT_TRUE(n >= 40);
}

TEST(truncations_of_a_valid_policy) {
        const char *text = "version=1.0; authorizationrules { c:[type==\"a\", value>=1] && ![type==\"b\"] => "
                           "permit(); }; issuancerules { c:[type==\"a\"] => issue(type=\"x\", value=c.value); };";
        size_t n = strlen(text);
        cp_maa_policy *p = parse(text);
        cp_maa_policy_free(p);
        for (size_t l = 0; l < n; l++) {
                p = NULL;
                int r = cp_maa_policy_parse(text, l, &p, NULL);
                /* only a prefix that ends right after a complete section may parse */
                if (r == 0) {
                        size_t e = l;
                        while (e > 0 && text[e - 1] == ' ')
                                e--;
                        ASSERT_TRUE(e > 0 && text[e - 1] == ';');
                        cp_maa_policy_free(p);
                }
        }
}

TEST(limits) {
        char *big = malloc(CP_MAA_POLICY_MAX + 2);
        memset(big, ' ', CP_MAA_POLICY_MAX + 1);
        cp_maa_policy *p = NULL;
        ASSERT_ERR(cp_maa_policy_parse(big, CP_MAA_POLICY_MAX + 1, &p, NULL), CP_ETOOBIG);
        free(big);
        /* too many conditions */
        char text[4096] = "version=1.0; authorizationrules { ";
        for (unsigned i = 0; i <= CP_MAA_POLICY_MAX_CONDS; i++)
                strcat(text, i ? "&& [type==\"a\"] " : "[type==\"a\"] ");
        strcat(text, "=> permit(); };");
        ASSERT_ERR(cp_maa_policy_parse(text, strlen(text), &p, NULL), CP_ETOOBIG);
        /* binding explosion is bounded */
        cp_maa_claims *c = NULL;
        ASSERT_OK(cp_maa_claims_new(&c));
        for (int i = 0; i < 20; i++)
                ASSERT_OK(cp_maa_claims_add_int(c, "n", NULL, i));
        p = parse("version=1.0; authorizationrules { => permit(); }; issuancerules { a:[type==\"n\"] && "
                  "b:[type==\"n\"] => issue(type=\"p\", value=a.value); };");
        ASSERT_ERR(cp_maa_policy_evaluate(p, c, NULL), CP_ETOOBIG);
        cp_maa_policy_free(p);
        cp_maa_claims_free(c);
}

/* Evaluating over several sets equals evaluating over their concatenation
 * (order, bindings across sets, add() visible to later rules), and the sets
 * are left as they were. */
TEST(evaluate_sets_equals_concatenation) {
        const char *text = "version=1.0;\n"
                           "authorizationrules {\n"
                           "  [type==\"x-ms-sevsnpvm-is-debuggable\", value==true] => deny();\n"
                           "  a:[type==\"x-ms-sevsnpvm-snpfw-svn\"] && [type==\"nonce\", value==\"n1\"] => "
                           "add(type=\"fresh\", value=a.value);\n"
                           "  [type==\"fresh\", value>=8] => permit();\n"
                           "};\n"
                           "issuancerules {\n"
                           "  c:[type==\"tag\"] => issue(claim=c);\n"
                           "  c:[type==\"pcr\"] => issue(claim=c);\n"
                           "  c:[type==\"fresh\"] => issue(type=\"f\", value=c.value);\n"
                           "};\n";
        cp_maa_policy *p = parse(text);
        cp_maa_claims *base = snp_claims(false, 8), *req = NULL, *all = snp_claims(false, 8), *o1 = NULL, *o2 = NULL;
        ASSERT_OK(cp_maa_claims_new(&req));
        ASSERT_OK(cp_maa_claims_add_string(req, "nonce", NULL, "n1"));
        ASSERT_OK(cp_maa_claims_add_string(req, "pcr", NULL, "p0"));
        ASSERT_OK(cp_maa_claims_add_string(req, "tag", NULL, "c"));
        ASSERT_OK(cp_maa_claims_add_string(all, "nonce", NULL, "n1"));
        ASSERT_OK(cp_maa_claims_add_string(all, "pcr", NULL, "p0"));
        ASSERT_OK(cp_maa_claims_add_string(all, "tag", NULL, "c"));
        const cp_maa_claims *sets[] = { base, req };
        ASSERT_OK(cp_maa_policy_evaluate_sets(p, sets, 2, &o1));
        ASSERT_OK(cp_maa_policy_evaluate(p, all, &o2));
        ASSERT_EQ(cp_maa_claims_count(o1), 5);
        ASSERT_EQ(cp_maa_claims_count(o1), cp_maa_claims_count(o2));
        for (size_t i = 0; i < cp_maa_claims_count(o1); i++) {
                const cp_maa_claim *x = cp_maa_claims_get(o1, i), *y = cp_maa_claims_get(o2, i);
                ASSERT_STREQ(x->type, y->type);
                ASSERT_STREQ(x->issuer, y->issuer);
                ASSERT_EQ(x->vtype, y->vtype);
                ASSERT_EQ(x->i, y->i);
                if (x->vtype == CP_MAA_STRING)
                        ASSERT_STREQ(x->s, y->s);
        }
        ASSERT_STREQ(cp_maa_claims_get(o1, 2)->s, "c"); /* tags a, b from the base set, then c */
        ASSERT_EQ(cp_maa_claims_find(o1, "f")->i, 8);
        ASSERT_EQ(cp_maa_claims_count(base), 7);
        ASSERT_EQ(cp_maa_claims_count(req), 3);
        cp_maa_claims_free(o1);
        cp_maa_claims_free(o2);
        /* a deny found in any set refuses; a condition on a later set alone fails closed */
        cp_maa_claims *dbg = snp_claims(true, 8);
        const cp_maa_claims *sets2[] = { req, dbg };
        ASSERT_ERR(cp_maa_policy_evaluate_sets(p, sets2, 2, NULL), CP_EPOLICY);
        const cp_maa_claims *sets3[] = { base };
        ASSERT_ERR(cp_maa_policy_evaluate_sets(p, sets3, 1, NULL), CP_EPOLICY); /* no nonce: nothing added */
        /* argument checks */
        const cp_maa_claims *many[CP_MAA_MAX_CLAIM_SETS + 1] = { base, base, base, base, base };
        ASSERT_ERR(cp_maa_policy_evaluate_sets(p, many, CP_MAA_MAX_CLAIM_SETS + 1, NULL), CP_EINVAL);
        const cp_maa_claims *with_null[] = { base, NULL };
        ASSERT_ERR(cp_maa_policy_evaluate_sets(p, with_null, 2, NULL), CP_EINVAL);
        ASSERT_ERR(cp_maa_policy_evaluate_sets(p, NULL, 1, NULL), CP_EINVAL);
        /* no incoming claims at all: nothing permits */
        ASSERT_ERR(cp_maa_policy_evaluate_sets(p, NULL, 0, NULL), CP_EPOLICY);
        cp_maa_claims_free(dbg);
        cp_maa_claims_free(base);
        cp_maa_claims_free(req);
        cp_maa_claims_free(all);
        cp_maa_policy_free(p);
}

/* The total over all sets is bounded like one set. */
TEST(evaluate_sets_total_limit) {
        cp_maa_claims *a = NULL;
        ASSERT_OK(cp_maa_claims_new(&a));
        for (unsigned i = 0; i < CP_MAA_MAX_CLAIMS / 2 + 1; i++)
                ASSERT_OK(cp_maa_claims_add_int(a, "n", NULL, i));
        cp_maa_policy *p = parse("version=1.0; authorizationrules { => permit(); };");
        const cp_maa_claims *one[] = { a }, *two[] = { a, a };
        ASSERT_OK(cp_maa_policy_evaluate_sets(p, one, 1, NULL));
        ASSERT_ERR(cp_maa_policy_evaluate_sets(p, two, 2, NULL), CP_ETOOBIG);
        cp_maa_policy_free(p);
        cp_maa_claims_free(a);
}
