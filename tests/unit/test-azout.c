/* SPDX-License-Identifier: Apache-2.0 */
/*
 * az output formats: exact expected outputs for every format.  The YAML
 * expectations were produced with PyYAML 6.0.3
 * yaml.safe_dump(v, default_flow_style=False, allow_unicode=True), which is
 * what knack calls; the table expectations follow tabulate's "simple" layout
 * (column width = max(len(header) + 2, widest cell), two-space separator,
 * lines right-stripped) as in published az transcripts.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/cleanup.h"
#include "basic/limits.h"
#include "cli/output/azout.h"
#include "cli/output/jmespath.h"
#include "tests.h"

static json_t *J(const char *text) {
        json_error_t jerr;
        json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        if (!v)
                cp_test_fail(__FILE__, __LINE__, "bad JSON in test: %s", jerr.text);
        return v;
}

static void expect(const char *json_text, cp_azout_format fmt, const cp_azout_table_spec *cols, bool query,
                   const char *want) {
        json_t *v = J(json_text);
        cp_azout_opts o = { .query_active = query, .color = 0 };
        char *got = NULL;
        ASSERT_OK(cp_azout_render(v, fmt, cols, &o, &got));
        if (strcmp(got, want) != 0)
                cp_test_fail(__FILE__, __LINE__, "%s as %s:\n--- got ---\n%s--- want ---\n%s", json_text,
                             cp_azout_format_to_string(fmt), got, want);
        free(got);
        json_decref(v);
}

TEST(format_names) {
        static const char *const names[] = { "json", "jsonc", "table", "tsv", "yaml", "yamlc", "none" };
        cp_azout_format f;
        for (size_t i = 0; i < CP_ELEMENTSOF(names); i++) {
                ASSERT_OK(cp_azout_format_from_string(names[i], &f));
                ASSERT_EQ(f, i);
                ASSERT_STREQ(cp_azout_format_to_string(f), names[i]);
        }
        ASSERT_ERR(cp_azout_format_from_string("JSON", &f), CP_EINVAL);
        ASSERT_ERR(cp_azout_format_from_string("xml", &f), CP_EINVAL);
        ASSERT_TRUE(strstr(cp_error_message(), "invalid choice: 'xml'") != NULL);
        ASSERT_ERR(cp_azout_format_from_string("", &f), CP_EINVAL);
        ASSERT_TRUE(cp_azout_format_to_string(_CP_AZOUT_FORMAT_MAX) == NULL);
}

TEST(null_and_none_print_nothing) {
        for (int f = 0; f < _CP_AZOUT_FORMAT_MAX; f++)
                expect("null", (cp_azout_format) f, NULL, false, "");
        expect("{\"a\": 1}", CP_AZOUT_NONE, NULL, false, "");
}

TEST(json_sorted_indented) {
        expect("{\"b\": [1, 2.0, {}, []], \"a\": {\"y\": null, \"x\": \"caf\u00e9\"}, \"B\": true, \"f\": 1e16}",
               CP_AZOUT_JSON, NULL, false,
               "{\n  \"B\": true,\n  \"a\": {\n    \"x\": \"caf\xc3\xa9\",\n    \"y\": null\n  },\n"
               "  \"b\": [\n    1,\n    2.0,\n    {},\n    []\n  ],\n  \"f\": 1e+16\n}\n");
        /* json sorts keys even after --query (json.dumps(sort_keys=True)) */
        expect("{\"Name\": \"np1\", \"Count\": 3}", CP_AZOUT_JSON, NULL, true,
               "{\n  \"Count\": 3,\n  \"Name\": \"np1\"\n}\n");
        expect("\"Registered\"", CP_AZOUT_JSON, NULL, true, "\"Registered\"\n");
        expect("[]", CP_AZOUT_JSON, NULL, false, "[]\n");
        expect("\"tab\\there \\\"q\\\" \\u0001\"", CP_AZOUT_JSON, NULL, false, "\"tab\\there \\\"q\\\" \\u0001\"\n");
}

TEST(jsonc_colours) {
        json_t *v = J("{\"a\": [1, \"s\", true]}");
        cp_azout_opts on = { .color = 1 }, off = { .color = 0 };
        char *c = NULL, *p = NULL, *j = NULL;
        ASSERT_OK(cp_azout_render(v, CP_AZOUT_JSONC, NULL, &on, &c));
        ASSERT_STREQ(c, "{\n  \x1b[94m\"a\"\x1b[39m: [\n    \x1b[34m1\x1b[39m,\n    \x1b[33m\"s\"\x1b[39m,\n"
                        "    \x1b[36mtrue\x1b[39m\n  ]\n}\n");
        ASSERT_OK(cp_azout_render(v, CP_AZOUT_JSONC, NULL, &off, &p));
        ASSERT_OK(cp_azout_render(v, CP_AZOUT_JSON, NULL, &on, &j));
        ASSERT_STREQ(p, j);
        free(c);
        free(p);
        free(j);
        json_decref(v);
}

TEST(print_to_file_not_a_tty) {
        json_t *v = J("{\"k\": \"v\"}");
        FILE *f = tmpfile();
        char buf[256] = { 0 };
        ASSERT_TRUE(f != NULL);
        ASSERT_OK(cp_azout_print(f, v, CP_AZOUT_JSONC, NULL)); /* plain: not a tty */
        ASSERT_OK(cp_azout_print(f, v, CP_AZOUT_YAMLC, NULL));
        ASSERT_OK(cp_azout_print(f, json_null(), CP_AZOUT_JSON, NULL));
        rewind(f);
        ASSERT_EQ(fread(buf, 1, sizeof(buf) - 1, f), strlen("{\n  \"k\": \"v\"\n}\nk: v\n"));
        ASSERT_STREQ(buf, "{\n  \"k\": \"v\"\n}\nk: v\n");
        fclose(f);
        json_decref(v);
}

static const struct {
        const char *name, *json, *yaml;
} yaml_cases[] = {
        { "quoting",
          "{\"a\": \"yes\", \"b\": \"null\", \"c\": \"1.0\", \"d\": \" lead\", \"e\": \"x: y\", \"f\": \"# c\", \"g\": \"a #b\", \"h\": \"\", \"i\": \"No\", \"j\": \"123\", \"k\": \"0x1F\", \"l\": \"2024-01-02\", \"m\": \"~\", \"n\": \"plain text\", \"o\": \"trail \", \"p\": \"-\", \"q\": \"- x\", \"r\": \"a\\tb\", \"s\": \"it's\", \"t\": \"multi\\nline\", \"u\": \"caf\\u00e9\", \"v\": \"@at\", \"w\": \"=\", \"x\": \"<<\", \"y\": \"1e3\", \"z\": \"on\", \"aa\": \"3:25\", \"ab\": \".5\", \"ac\": \"key:value\", \"ad\": \"[x]\", \"ae\": \"a,b\", \"af\": \"!tag\", \"ag\": \"%p\", \"ah\": \"*a\", \"ai\": \"&a\", \"aj\": \"?q\", \"ak\": \"? q\", \"al\": \"---\", \"am\": \"...x\", \"an\": \"\\u00a0nb\", \"ao\": \"\\u007f\", \"ap\": \"tr\\u00fce\", \"aq\": \".inf\", \"ar\": \"1_000\"}",
          "a: 'yes'\naa: '3:25'\nab: '.5'\nac: key:value\nad: '[x]'\nae: a,b\naf: '!tag'\nag: '%p'\nah: '*a'\nai: '&a'\naj: ?q\nak: '? q'\nal: '---'\nam: '...x'\nan: \xc2\xa0nb\nao: \"\\x7F\"\nap: tr\xc3\xbc""e\naq: '.inf'\nar: '1_000'\nb: 'null'\nc: '1.0'\nd: ' lead'\ne: 'x: y'\nf: '# c'\ng: 'a #b'\nh: ''\ni: 'No'\nj: '123'\nk: '0x1F'\nl: '2024-01-02'\nm: '~'\nn: plain text\no: 'trail '\np: '-'\nq: '- x'\nr: \"a\\tb\"\ns: it's\nt: 'multi\n\n  line'\nu: caf\xc3\xa9\nv: '@at'\nw: '='\nx: '<<'\ny: 1e3\nz: 'on'\n" },
        { "nested",
          "{\"name\": \"np1\", \"list\": [1, 2.5, true, null, \"s\"], \"map\": {\"z\": {}, \"a\": []}, \"lol\": [[1, 2], [], [{\"k\": \"v\", \"a\": 1}]], \"lom\": [{\"b\": 1, \"a\": {\"c\": [3]}}], \"f\": 1e+16, \"g\": 1.5e-05, \"h\": -0.0}",
          "f: 1.0e+16\ng: 1.5e-05\nh: -0.0\nlist:\n- 1\n- 2.5\n- true\n- null\n- s\nlol:\n- - 1\n  - 2\n- []\n- - a: 1\n    k: v\nlom:\n- a:\n    c:\n    - 3\n  b: 1\nmap:\n  a: []\n  z: {}\nname: np1\n" },
        { "long",
          "{\"description\": \"This is a rather long description string that certainly exceeds the eighty column limit of PyYAML and keeps going for a while\", \"q\": \"'quoted' text that is also long enough to need folding because it goes past eighty columns: yes it does\"}",
          "description: This is a rather long description string that certainly exceeds the eighty\n  column limit of PyYAML and keeps going for a while\nq: '''quoted'' text that is also long enough to need folding because it goes past\n  eighty columns: yes it does'\n" },
        { "root_str",
          "\"hello\"",
          "hello\n...\n" },
        { "root_int",
          "5",
          "5\n...\n" },
        { "root_quoted",
          "\"yes\"",
          "'yes'\n" },
        { "root_list",
          "[\"a\", {\"b\": 1}]",
          "- a\n- b: 1\n" },
        { "empty_map",
          "{}",
          "{}\n" },
};

TEST(yaml_matches_pyyaml) {
        for (size_t i = 0; i < CP_ELEMENTSOF(yaml_cases); i++)
                expect(yaml_cases[i].json, CP_AZOUT_YAML, NULL, false, yaml_cases[i].yaml);
}

TEST(yaml_quoting_reads_back) {
        /* strings YAML 1.1 would mis-read are quoted; plain ones stay plain */
        static const struct {
                const char *in, *out;
        } q[] = {
                { "\"yes\"", "'yes'\n" }, { "\"Off\"", "'Off'\n" }, { "\"null\"", "'null'\n" },
                { "\"1.0\"", "'1.0'\n" }, { "\"-12\"", "'-12'\n" }, { "\"0o17\"", "0o17\n...\n" },
                { "\"0777\"", "'0777'\n" }, { "\"1:20\"", "'1:20'\n" }, { "\"2001-12-14t21:59:43.10-05:00\"",
                                                                           "'2001-12-14t21:59:43.10-05:00'\n" },
                { "\"a: b\"", "'a: b'\n" }, { "\"a:b\"", "a:b\n...\n" }, { "\"#x\"", "'#x'\n" },
                { "\"x #y\"", "'x #y'\n" }, { "\"x#y\"", "x#y\n...\n" }, { "\" x\"", "' x'\n" },
                { "\"\"", "''\n" }, { "\"Standard_DC4as_v5\"", "Standard_DC4as_v5\n...\n" },
                { "\"33%\"", "33%\n...\n" }, { "\"%x\"", "'%x'\n" }, { "\"a\\u0000b\"", "\"a\\0b\"\n" },
                { "\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80\n...\n" }, { "\"line\\n\"", "'line\n\n  '\n" },
        };
        for (size_t i = 0; i < CP_ELEMENTSOF(q); i++)
                expect(q[i].in, CP_AZOUT_YAML, NULL, false, q[i].out);
        /* a mapping key that needs quoting */
        expect("{\"yes\": 1, \"a b\": 2, \"k\\nl\": 3}", CP_AZOUT_YAML, NULL, false,
               "a b: 2\n? 'k\n\n  l'\n: 3\n'yes': 1\n");
        expect("[[]]", CP_AZOUT_YAML, NULL, false, "- []\n");
}

static const char agentpool_rest[] =
        "{\"id\": \"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg1/providers/"
        "Microsoft.ContainerService/managedClusters/clustername1/agentPools/agentpool1\","
        " \"name\": \"agentpool1\", \"type\": \"Microsoft.ContainerService/managedClusters/agentPools\","
        " \"properties\": {\"count\": 3, \"vmSize\": \"Standard_DC4as_v5\", \"maxPods\": 110, \"mode\": \"User\","
        " \"osType\": \"Linux\", \"osSKU\": \"Ubuntu\", \"osDiskSizeGB\": 128, \"orchestratorVersion\": \"1.30.7\","
        " \"currentOrchestratorVersion\": \"1.30.7\","
        " \"nodeImageVersion\": \"AKSUbuntu-2404gen2CVMcontainerd-202608.06.1\","
        " \"provisioningState\": \"Succeeded\", \"type\": \"VirtualMachineScaleSets\", \"enableFIPS\": false,"
        " \"securityProfile\": {\"enableVTPM\": false, \"enableSecureBoot\": false},"
        " \"networkProfile\": {\"nodePublicIPTags\": [{\"ipTagType\": \"t\", \"tag\": \"v\"}]},"
        " \"upgradeSettings\": {\"maxSurge\": \"33%\"}, \"powerState\": {\"code\": \"Running\"},"
        " \"nodeLabels\": {\"kubernetes.azure.com/security-type\": \"ConfidentialVM\"},"
        " \"scaleSetPriority\": \"Regular\", \"eTag\": \"abc\", \"tags\": {}}}";

static json_t *agentpool_cli(void) {
        json_t *rest = J(agentpool_rest);
        json_t *cli = cp_azout_flatten_arm(rest, &cp_azout_renames_agentpool);
        ASSERT_TRUE(cli != NULL);
        json_decref(rest);
        return cli;
}

TEST(flatten_arm_agentpool) {
        json_t *cli = agentpool_cli();
        const char *k, *prev = NULL;
        json_t *v;
        ASSERT_EQ(json_integer_value(json_object_get(cli, "osDiskSizeGb")), 128);
        ASSERT_TRUE(json_object_get(cli, "osDiskSizeGB") == NULL);
        ASSERT_STREQ(json_string_value(json_object_get(cli, "osSku")), "Ubuntu");
        ASSERT_TRUE(json_is_false(json_object_get(cli, "enableFips")));
        ASSERT_STREQ(json_string_value(json_object_get(cli, "typePropertiesType")), "VirtualMachineScaleSets");
        ASSERT_STREQ(json_string_value(json_object_get(cli, "type")),
                     "Microsoft.ContainerService/managedClusters/agentPools");
        ASSERT_STREQ(json_string_value(json_object_get(cli, "resourceGroup")), "rg1");
        ASSERT_TRUE(json_is_false(json_object_get(json_object_get(cli, "securityProfile"), "enableVtpm")));
        ASSERT_TRUE(json_object_get(json_object_get(cli, "securityProfile"), "enableVTPM") == NULL);
        ASSERT_TRUE(json_is_false(json_object_get(json_object_get(cli, "securityProfile"), "enableSecureBoot")));
        ASSERT_TRUE(json_is_array(json_object_get(json_object_get(cli, "networkProfile"), "nodePublicIpTags")));
        ASSERT_STREQ(json_string_value(json_object_get(json_object_get(cli, "nodeLabels"),
                                                       "kubernetes.azure.com/security-type")),
                     "ConfidentialVM");
        ASSERT_TRUE(json_is_null(json_object_get(cli, "vnetSubnetId")));
        ASSERT_TRUE(json_is_null(json_object_get(cli, "systemData")));
        ASSERT_TRUE(json_object_get(cli, "properties") == NULL);
        json_object_foreach(cli, k, v) {
                if (prev)
                        ASSERT_TRUE(strcmp(prev, k) < 0);
                prev = k;
        }
        /* doc queries work on the CLI shape */
        {
                cp_jmespath *e = NULL;
                json_t *r = NULL;
                ASSERT_OK(cp_jmespath_compile("nodeImageVersion", &e));
                ASSERT_OK(cp_jmespath_search(e, cli, &r));
                ASSERT_STREQ(json_string_value(r), "AKSUbuntu-2404gen2CVMcontainerd-202608.06.1");
                json_decref(r);
                cp_jmespath_free(e);
        }
        json_decref(cli);
        {
                json_t *arr = json_array();
                ASSERT_TRUE(cp_azout_flatten_arm(arr, &cp_azout_renames_agentpool) == NULL);
                json_decref(arr);
        }
}

TEST(flatten_arm_json_output) {
        json_t *rest = J("{\"id\": \"/subscriptions/s/resourcegroups/RG-x/providers/p/a/b\", \"name\": \"b\","
                         " \"properties\": {\"vnetSubnetID\": \"/x\", \"count\": 1,"
                         " \"securityProfile\": {\"enableVTPM\": true}}}");
        static const cp_azout_rename ren[] = { { "vnetSubnetID", "vnetSubnetId" },
                                               { "securityProfile.enableVTPM", "enableVtpm" } };
        static const char *const fields[] = { "mode" };
        const cp_azout_renames t = { ren, 2, fields, 1 };
        json_t *cli = cp_azout_flatten_arm(rest, &t);
        char *s = NULL;
        cp_azout_opts o = { 0 };
        ASSERT_TRUE(cli != NULL);
        ASSERT_OK(cp_azout_render(cli, CP_AZOUT_JSON, NULL, &o, &s));
        ASSERT_STREQ(s, "{\n  \"count\": 1,\n  \"id\": \"/subscriptions/s/resourcegroups/RG-x/providers/p/a/b\",\n"
                        "  \"mode\": null,\n  \"name\": \"b\",\n  \"resourceGroup\": \"RG-x\",\n"
                        "  \"securityProfile\": {\n    \"enableVtpm\": true\n  },\n  \"vnetSubnetId\": \"/x\"\n}\n");
        free(s);
        json_decref(cli);
        json_decref(rest);
}

TEST(table_agentpool_as_az) {
        json_t *cli = agentpool_cli(), *list;
        json_t *rest2 = J("{\"id\": \"/subscriptions/s/resourceGroups/rg1/providers/x/agentPools/np2\","
                          " \"name\": \"np2\", \"properties\": {\"count\": 1, \"vmSize\": \"Standard_D2s_v3\","
                          " \"maxPods\": 30, \"mode\": \"System\", \"osType\": \"Linux\","
                          " \"orchestratorVersion\": \"1.30.7\", \"provisioningState\": \"Failed\","
                          " \"osDiskSizeGB\": 30}}");
        json_t *cli2 = cp_azout_flatten_arm(rest2, &cp_azout_renames_agentpool);
        cp_azout_opts o = { 0 };
        char *s = NULL;

        list = json_pack("[OO]", cli, cli2);
        ASSERT_OK(cp_azout_render(list, CP_AZOUT_TABLE, &cp_azout_table_agentpool, &o, &s));
        /* OsDiskSizeGB is dropped: the CLI key is osDiskSizeGb (aks-api.md 2.5) */
        ASSERT_STREQ(s, "Name        OsType    KubernetesVersion    VmSize             Count    MaxPods    "
                        "ProvisioningState    Mode\n"
                        "----------  --------  -------------------  -----------------  -------  ---------  "
                        "-------------------  ------\n"
                        "agentpool1  Linux     1.30.7               Standard_DC4as_v5  3        110        "
                        "Succeeded            User\n"
                        "np2         Linux     1.30.7               Standard_D2s_v3    1        30         "
                        "Failed               System\n");
        free(s);
        /* show: a single object is one row */
        ASSERT_OK(cp_azout_render(cli2, CP_AZOUT_TABLE, &cp_azout_table_agentpool, &o, &s));
        ASSERT_STREQ(s, "Name    OsType    KubernetesVersion    VmSize           Count    MaxPods    "
                        "ProvisioningState    Mode\n"
                        "------  --------  -------------------  ---------------  -------  ---------  "
                        "-------------------  ------\n"
                        "np2     Linux     1.30.7               Standard_D2s_v3  1        30         "
                        "Failed               System\n");
        free(s);
        /* with --query the transformer is not applied */
        o.query_active = true;
        ASSERT_OK(cp_azout_render(json_object_get(cli2, "name"), CP_AZOUT_TABLE, &cp_azout_table_agentpool, &o,
                                  &s));
        ASSERT_STREQ(s, "Result\n--------\nnp2\n");
        free(s);
        json_decref(list);
        json_decref(cli);
        json_decref(cli2);
        json_decref(rest2);
}

TEST(table_auto_rules) {
        /* keys sorted, first letter capitalised, id/type/etag and null/list/dict values dropped,
         * bools as Python prints them, missing cells empty */
        expect("[{\"name\": \"a\", \"id\": \"/x\", \"type\": \"t\", \"etag\": \"e\", \"count\": 3, \"enabled\": true,"
               " \"ratio\": 0.5, \"tags\": {}, \"zones\": [1], \"n\": null},"
               " {\"name\": \"bb\", \"enabled\": false}]",
               CP_AZOUT_TABLE, NULL, false,
               "Count    Enabled    Name    Ratio\n-------  ---------  ------  -------\n3        True       a       0.5\n"
               "         False      bb\n");
        /* after --query: key order kept */
        expect("{\"Z\": 1, \"A\": 2}", CP_AZOUT_TABLE, NULL, true, "Z    A\n---  ---\n1    2\n");
        expect("{\"Z\": 1, \"A\": 2}", CP_AZOUT_TABLE, NULL, false, "A    Z\n---  ---\n2    1\n");
        expect("\"hello\"", CP_AZOUT_TABLE, NULL, true, "Result\n--------\nhello\n");
        expect("[[1, \"x\", null], [2, \"y\"]]", CP_AZOUT_TABLE, NULL, true,
               "Column1    Column2    Column3\n---------  ---------  ---------\n1          x\n2          y\n");
        expect("[[\"np1\", {\"a\": [1, \"x\"]}]]", CP_AZOUT_TABLE, NULL, true,
               "Column1    Column2\n---------  ---------------\nnp1        {'a': [1, 'x']}\n");
        /* nothing printable */
        expect("[]", CP_AZOUT_TABLE, NULL, false, "");
        expect("[{\"id\": 1}]", CP_AZOUT_TABLE, NULL, false, "");
        /* unicode width counts code points */
        expect("{\"name\": \"caf\u00e9\"}", CP_AZOUT_TABLE, NULL, false, "Name\n------\ncaf\xc3\xa9\n");
}

TEST(table_transformer_failure) {
        static const cp_azout_table_spec bad = { "length(@)" };
        static const cp_azout_table_spec syntax = { "{a: " };
        json_t *v = J("[1]");
        char *s = NULL;
        cp_azout_opts o = { 0 };
        ASSERT_ERR(cp_azout_render(v, CP_AZOUT_TABLE, &bad, &o, &s), CP_EUNSUPPORTED);
        ASSERT_TRUE(strstr(cp_error_message(), "Table output unavailable.") != NULL);
        ASSERT_ERR(cp_azout_render(v, CP_AZOUT_TABLE, &syntax, &o, &s), CP_EFORMAT);
        json_decref(v);
}

TEST(tsv_rules) {
        /* dict values in sorted key order; nested list -> length, dict -> empty, bool -> True/False,
         * null -> None */
        expect("[{\"b\": [1, 2, 3], \"a\": \"x\", \"c\": {\"k\": 1}, \"d\": true, \"e\": null, \"f\": 1.5}]",
               CP_AZOUT_TSV, NULL, false, "x\t3\t\tTrue\tNone\t1.5\n");
        /* query order kept */
        expect("[{\"Name\": \"np1\", \"Count\": 3}, {\"Name\": \"np2\", \"Count\": 1}]", CP_AZOUT_TSV, NULL, true,
               "np1\t3\nnp2\t1\n");
        expect("{\"Name\": \"np1\", \"Count\": 3}", CP_AZOUT_TSV, NULL, false, "3\tnp1\n");
        /* scalars raw; top-level bool lower case */
        expect("\"Registered\"", CP_AZOUT_TSV, NULL, true, "Registered\n");
        expect("true", CP_AZOUT_TSV, NULL, true, "true\n");
        expect("[true, false, 3, \"s\", null]", CP_AZOUT_TSV, NULL, true, "true\nfalse\n3\ns\nNone\n");
        expect("[[\"a\", true, [1]], []]", CP_AZOUT_TSV, NULL, true, "a\tTrue\t1\n\n");
        expect("[]", CP_AZOUT_TSV, NULL, true, "");
}

TEST(depth_limit) {
        json_t *v = json_array(), *cur = v;
        char *s = NULL;
        cp_azout_opts o = { 0 };
        for (unsigned i = 0; i < CP_MAX_AZOUT_DEPTH + 5; i++) {
                json_t *n = json_array();
                json_array_append_new(cur, n);
                cur = n;
        }
        ASSERT_ERR(cp_azout_render(v, CP_AZOUT_JSON, NULL, &o, &s), CP_ETOOBIG);
        ASSERT_ERR(cp_azout_render(v, CP_AZOUT_YAML, NULL, &o, &s), CP_ETOOBIG);
        ASSERT_OK(cp_azout_render(v, CP_AZOUT_TSV, NULL, &o, &s));
        ASSERT_STREQ(s, "1\n");
        free(s);
        json_decref(v);
}
