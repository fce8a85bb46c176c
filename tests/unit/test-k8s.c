/* SPDX-License-Identifier: Apache-2.0 */
/* The clusters' Kubernetes API (docs/kubernetes.md): selectors, patches,
 * what users may change on a Node, Table rendering, the kubeconfig merge of
 * get-credentials (tables with negative cases), and the API in-process
 * (cp_api_handle): 401/403/404/415/422 Status objects, RBAC, a Node from an
 * attested machine, label/cordon/taint patches, a quarantined machine's
 * NotReady + taint, a watch's stream, delete. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "basic/codec.h"
#include "cli/cmd_aks_creds.h"
#include "controlplane/cp-api.h"
#include "controlplane/cp-nodes.h"
#include "controlplane/cp-reconciler.h"
#include "controlplane/cp-store.h"
#include "controlplane/cp-pki.h"
#include "controlplane/k8s-internal.h"
#include "controlplane/k8s.h"
#include "cp-api-testutil.h"
#include "test-db.h"
#include "tests.h"

/* ---- selectors ---- */

typedef struct sel_case {
        const char *name, *selector;
        bool ok;               /* parses */
        const char *labels;    /* JSON object to match against */
        bool match;
} sel_case;

static const sel_case sel_cases[] = {
        {"empty", "", true, "{}", true},
        {"eq", "a=b", true, "{\"a\":\"b\"}", true},
        {"eq mismatch", "a=b", true, "{\"a\":\"c\"}", false},
        {"double eq", "a==b", true, "{\"a\":\"b\"}", true},
        {"ne absent", "a!=b", true, "{}", true},
        {"ne", "a!=b", true, "{\"a\":\"b\"}", false},
        {"exists", "a", true, "{\"a\":\"\"}", true},
        {"absent", "!a", true, "{\"a\":\"x\"}", false},
        {"in", "env in (prod, dev)", true, "{\"env\":\"dev\"}", true},
        {"notin", "env notin (prod,dev)", true, "{\"env\":\"dev\"}", false},
        {"aks label", "kubernetes.azure.com/security-type=ConfidentialVM", true,
         "{\"kubernetes.azure.com/security-type\":\"ConfidentialVM\"}", true},
        {"two", "a=b,c=d", true, "{\"a\":\"b\",\"c\":\"x\"}", false},
        {"bad op", "a~b", false, NULL, false},
        {"unterminated set", "a in (b", false, NULL, false},
        {"set without paren", "a in b", false, NULL, false},
        {"bad value", "a=b c", false, NULL, false},
        {"value with slash", "a=b/c", false, NULL, false},
        {"empty key", "=b", false, NULL, false},
        {"trailing junk", "a=b)", false, NULL, false},
        {"too many values", "a in (1,2,3,4,5,6,7,8,9)", false, NULL, false},
        {"too many reqs", "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q", false, NULL, false},
};

static void sel_row(void *ctx, const void *row) {
        const sel_case *c = row;
        (void) ctx;
        cp_k8s_selector s;
        int r = cp_k8s_label_selector_parse(c->selector, &s);
        if (!c->ok) {
                ASSERT_ERR(r, CP_EFORMAT);
                cp_error_clear();
                return;
        }
        ASSERT_OK(r);
        json_t *l = json_loads(c->labels, 0, NULL);
        ASSERT_EQ(cp_k8s_labels_match(&s, l), c->match);
        json_decref(l);
}

TEST(label_selectors) {
        TEST_TABLE(sel_cases, sel_row, NULL);
}

TEST(field_selectors) {
        cp_k8s_selector s;
        const char *unsupported;
        json_t *node = json_loads("{\"metadata\":{\"name\":\"n1\"},\"spec\":{\"unschedulable\":true}}", 0, NULL);
        ASSERT_OK(cp_k8s_field_selector_parse("metadata.name=n1", &s));
        ASSERT_TRUE(cp_k8s_fields_match(&s, "Node", node, &unsupported));
        ASSERT_OK(cp_k8s_field_selector_parse("metadata.name!=n1", &s));
        ASSERT_FALSE(cp_k8s_fields_match(&s, "Node", node, &unsupported));
        ASSERT_TRUE(unsupported == NULL);
        ASSERT_OK(cp_k8s_field_selector_parse("spec.unschedulable=true", &s));
        ASSERT_TRUE(cp_k8s_fields_match(&s, "Node", node, &unsupported));
        ASSERT_OK(cp_k8s_field_selector_parse("spec.nodeName=n1", &s));
        ASSERT_FALSE(cp_k8s_fields_match(&s, "Node", node, &unsupported));
        ASSERT_STREQ(unsupported, "spec.nodeName");
        /* kubectl describe's event query, namespace empty */
        json_t *ev = json_loads("{\"involvedObject\":{\"kind\":\"Node\",\"name\":\"n1\",\"uid\":\"n1\"}}", 0, NULL);
        ASSERT_OK(cp_k8s_field_selector_parse(
                "involvedObject.name=n1,involvedObject.namespace=,involvedObject.kind=Node,involvedObject.uid=n1", &s));
        ASSERT_TRUE(cp_k8s_fields_match(&s, "Event", ev, &unsupported));
        /* set-based operators are not part of the field grammar */
        ASSERT_ERR(cp_k8s_field_selector_parse("metadata.name in (a)", &s), CP_EFORMAT);
        ASSERT_ERR(cp_k8s_field_selector_parse("metadata.name", &s), CP_EFORMAT);
        cp_error_clear();
        json_decref(ev);
        json_decref(node);
}

/* ---- patches and what users may change ---- */

#define NODE                                                                                                           \
        "{\"kind\":\"Node\",\"metadata\":{\"name\":\"n1\",\"resourceVersion\":\"7\",\"labels\":{"                       \
        "\"kubernetes.azure.com/agentpool\":\"cvm\",\"pool-label\":\"x\",\"user\":\"u\"},\"annotations\":{"            \
        "\"kubernetes.azure.com/attestation-tcb\":\"bl=4\"}},\"spec\":{\"providerID\":\"confpool://h\"},"             \
        "\"status\":{\"capacity\":{\"cpu\":\"2\"}}}"

typedef struct patch_case {
        const char *name;
        cp_k8s_patch_type type;
        const char *patch;
        int apply;  /* 0 or the cp_k8s_patch_apply error */
        int check;  /* 0, CP_EPOLICY (403) or CP_EINVAL (422) */
        const char *msg; /* in the error message */
} patch_case;

static const patch_case patch_cases[] = {
        {"label add (kubectl label)", CP_K8S_PATCH_MERGE, "{\"metadata\":{\"labels\":{\"sensitive\":\"yes\"}}}", 0, 0, NULL},
        {"label remove", CP_K8S_PATCH_MERGE, "{\"metadata\":{\"labels\":{\"user\":null}}}", 0, 0, NULL},
        {"cordon (strategic)", CP_K8S_PATCH_STRATEGIC, "{\"spec\":{\"unschedulable\":true}}", 0, 0, NULL},
        {"taint (strategic, whole list)", CP_K8S_PATCH_STRATEGIC,
         "{\"spec\":{\"taints\":[{\"key\":\"dedicated\",\"value\":\"cvm\",\"effect\":\"NoSchedule\"}]}}", 0, 0, NULL},
        {"setElementOrder ignored", CP_K8S_PATCH_STRATEGIC,
         "{\"$setElementOrder/taints\":[{\"key\":\"a\"}],\"spec\":{\"unschedulable\":false}}", 0, 0, NULL},
        {"reserved label changed", CP_K8S_PATCH_MERGE,
         "{\"metadata\":{\"labels\":{\"kubernetes.azure.com/agentpool\":\"evil\"}}}", 0, CP_EPOLICY,
         "label kubernetes.azure.com/agentpool is reserved"},
        {"reserved label added", CP_K8S_PATCH_MERGE,
         "{\"metadata\":{\"labels\":{\"kubernetes.azure.com/security-type\":\"ConfidentialVM\"}}}", 0, CP_EPOLICY,
         "reserved"},
        {"reserved label removed", CP_K8S_PATCH_MERGE,
         "{\"metadata\":{\"labels\":{\"kubernetes.azure.com/agentpool\":null}}}", 0, CP_EPOLICY, "cannot be removed"},
        {"system (pool) label changed", CP_K8S_PATCH_MERGE, "{\"metadata\":{\"labels\":{\"pool-label\":\"y\"}}}", 0,
         CP_EPOLICY, "label pool-label is reserved"},
        {"attestation annotation removed", CP_K8S_PATCH_MERGE,
         "{\"metadata\":{\"annotations\":{\"kubernetes.azure.com/attestation-tcb\":null}}}", 0, CP_EPOLICY,
         "annotation kubernetes.azure.com/attestation-tcb"},
        {"attestation taint added", CP_K8S_PATCH_STRATEGIC,
         "{\"spec\":{\"taints\":[{\"key\":\"" CP_K8S_ATTEST_TAINT "\",\"effect\":\"NoExecute\"}]}}", 0, CP_EPOLICY,
         "set by attestation"},
        {"bad taint effect", CP_K8S_PATCH_STRATEGIC,
         "{\"spec\":{\"taints\":[{\"key\":\"a\",\"effect\":\"Sometimes\"}]}}", 0, CP_EINVAL, "spec.taints[0]"},
        {"taints not a list", CP_K8S_PATCH_MERGE, "{\"spec\":{\"taints\":{}}}", 0, CP_EINVAL, "must be a list"},
        {"status written", CP_K8S_PATCH_MERGE, "{\"status\":{\"capacity\":{\"cpu\":\"64\"}}}", 0, CP_EINVAL,
         "status: field is immutable"},
        {"providerID written", CP_K8S_PATCH_STRATEGIC, "{\"spec\":{\"providerID\":\"x\"}}", 0, CP_EINVAL,
         "spec.providerID"},
        {"name written", CP_K8S_PATCH_MERGE, "{\"metadata\":{\"name\":\"n2\"}}", 0, CP_EINVAL, "metadata.name"},
        {"unschedulable not bool", CP_K8S_PATCH_MERGE, "{\"spec\":{\"unschedulable\":\"yes\"}}", 0, CP_EINVAL,
         "boolean"},
        {"label value not a string", CP_K8S_PATCH_MERGE, "{\"metadata\":{\"labels\":{\"a\":1}}}", 0, CP_EINVAL,
         "must be a string"},
        {"$patch directive", CP_K8S_PATCH_STRATEGIC, "{\"spec\":{\"$patch\":\"replace\"}}", CP_EFORMAT, 0, "$patch"},
        {"$retainKeys", CP_K8S_PATCH_STRATEGIC, "{\"$retainKeys\":[]}", CP_EFORMAT, 0, "not supported"},
        {"setElementOrder in a merge patch", CP_K8S_PATCH_MERGE, "{\"$setElementOrder/taints\":[]}", CP_EFORMAT, 0,
         "not supported"},
        {"json patch", CP_K8S_PATCH_JSON, "[{\"op\":\"add\"}]", CP_EUNSUPPORTED, 0, "json-patch"},
        {"not an object", CP_K8S_PATCH_MERGE, "[1]", CP_EFORMAT, 0, "JSON object"},
};

static void patch_row(void *ctx, const void *row) {
        const patch_case *c = row;
        (void) ctx;
        json_t *node = json_loads(NODE, 0, NULL), *patch = json_loads(c->patch, 0, NULL), *out = NULL;
        json_t *sys = json_pack("{s:s,s:s}", "kubernetes.azure.com/agentpool", "cvm", "pool-label", "x");
        ASSERT_TRUE(node && patch && sys);
        int r = cp_k8s_patch_apply(c->type, node, patch, &out);
        if (c->apply) {
                ASSERT_ERR(r, c->apply);
        } else {
                ASSERT_OK(r);
                r = cp_k8s_node_change_check(node, out, sys);
                if (c->check)
                        ASSERT_ERR(r, c->check);
                else
                        ASSERT_OK(r);
        }
        if (c->msg && !strstr(cp_error_message(), c->msg))
                cp_test_fail(__FILE__, __LINE__, "message '%s' lacks '%s'", cp_error_message(), c->msg);
        cp_error_clear();
        json_decref(out);
        json_decref(node);
        json_decref(patch);
        json_decref(sys);
}

TEST(node_patches) {
        TEST_TABLE(patch_cases, patch_row, NULL);
        ASSERT_EQ(cp_k8s_patch_type_of("application/merge-patch+json"), CP_K8S_PATCH_MERGE);
        ASSERT_EQ(cp_k8s_patch_type_of("application/strategic-merge-patch+json; charset=utf-8"), CP_K8S_PATCH_STRATEGIC);
        ASSERT_EQ(cp_k8s_patch_type_of("application/json-patch+json"), CP_K8S_PATCH_JSON);
        ASSERT_EQ(cp_k8s_patch_type_of("application/json"), -1);
        ASSERT_EQ(cp_k8s_patch_type_of("application/merge-patch+jsonx"), -1);
        ASSERT_EQ(cp_k8s_patch_type_of(NULL), -1);
}

/* ---- tables ---- */

TEST(node_table) {
        ASSERT_TRUE(cp_k8s_wants_table("application/json;as=Table;v=v1;g=meta.k8s.io,application/json"));
        ASSERT_FALSE(cp_k8s_wants_table("application/json"));
        ASSERT_FALSE(cp_k8s_wants_table(NULL));
        json_t *items = json_loads(
                "[{\"metadata\":{\"name\":\"n1\",\"creationTimestamp\":\"2026-01-01T00:00:00Z\",\"labels\":{"
                "\"kubernetes.io/role\":\"agent\"}},\"spec\":{\"unschedulable\":true},\"status\":{\"conditions\":[{"
                "\"type\":\"Ready\",\"status\":\"False\"}],\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"10.0.0.4\""
                "}],\"nodeInfo\":{\"kubeletVersion\":\"v1.33.2\",\"osImage\":\"Ubuntu\",\"kernelVersion\":\"5.15\","
                "\"containerRuntimeVersion\":\"containerd://1.7\"}}}]",
                0, NULL);
        json_t *t = cp_k8s_table("Node", items, 1767225600 + 300, NULL, "9");
        ASSERT_TRUE(t != NULL);
        ASSERT_STREQ(json_string_value(json_object_get(t, "kind")), "Table");
        json_t *cols = json_object_get(t, "columnDefinitions");
        ASSERT_EQ(json_array_size(cols), 10);
        ASSERT_STREQ(json_string_value(json_object_get(json_array_get(cols, 5), "name")), "Internal-IP");
        ASSERT_EQ(json_integer_value(json_object_get(json_array_get(cols, 5), "priority")), 1);
        json_t *cells = json_object_get(json_array_get(json_object_get(t, "rows"), 0), "cells");
        const char *want[] = {"n1", "NotReady,SchedulingDisabled", "agent", "5m", "v1.33.2", "10.0.0.4", "<none>",
                              "Ubuntu", "5.15", "containerd://1.7"};
        for (size_t i = 0; i < 10; i++)
                ASSERT_STREQ(json_string_value(json_array_get(cells, i)), want[i]);
        /* default: the row's object is PartialObjectMetadata */
        ASSERT_STREQ(json_string_value(json_object_get(json_object_get(json_array_get(json_object_get(t, "rows"), 0),
                                                                       "object"),
                                                       "kind")),
                     "PartialObjectMetadata");
        json_decref(t);
        json_decref(items);
        char a[24];
        cp_k8s_age(59, a);
        ASSERT_STREQ(a, "59s");
        cp_k8s_age(7200, a);
        ASSERT_STREQ(a, "2h");
        cp_k8s_age(86400 * 3, a);
        ASSERT_STREQ(a, "3d");
}

/* ---- kubeconfig merge (confpool aks get-credentials) ---- */

TEST(kubeconfig_merge) {
        const char *existing = "apiVersion: v1\nclusters:\n- cluster:\n    server: https://other:443\n"
                               "    insecure-skip-tls-verify: true\n  name: other\ncontexts:\n- context:\n"
                               "    cluster: other\n    user: u\n  name: other\ncurrent-context: other\nkind: Config\n"
                               "users:\n- name: u\n  user:\n    token: 't0'\n";
        const char *add = "apiVersion: v1\nclusters:\n- cluster:\n    server: https://localhost:1/k8s/x\n  name: c1\n"
                          "contexts:\n- context:\n    cluster: c1\n    user: clusterUser_rg_c1\n  name: c1\n"
                          "current-context: c1\nkind: Config\npreferences: {}\nusers:\n- name: clusterUser_rg_c1\n"
                          "  user:\n    token: abc\n";
        json_t *e = NULL, *a = NULL, *back = NULL;
        ASSERT_OK(cp_kubeconfig_parse((const uint8_t *) existing, strlen(existing), &e));
        ASSERT_OK(cp_kubeconfig_parse((const uint8_t *) add, strlen(add), &a));
        char why[400] = "";
        ASSERT_OK(cp_kubeconfig_merge(e, a, false, why, sizeof why));
        ASSERT_EQ(json_array_size(json_object_get(e, "clusters")), 2);
        ASSERT_STREQ(json_string_value(json_object_get(e, "current-context")), "c1");
        /* written and read back: the same tree (bools stay bools) */
        size_t len;
        char *y = cp_kubeconfig_yaml(e, &len);
        ASSERT_TRUE(y != NULL);
        ASSERT_OK(cp_kubeconfig_parse((const uint8_t *) y, len, &back));
        ASSERT_TRUE(json_equal(e, back));
        ASSERT_TRUE(json_is_true(json_object_get(json_object_get(json_array_get(json_object_get(back, "clusters"), 0),
                                                                 "cluster"),
                                                 "insecure-skip-tls-verify")));
        free(y);
        /* the same entries again: equal, accepted */
        ASSERT_OK(cp_kubeconfig_merge(e, a, false, why, sizeof why));
        ASSERT_EQ(json_array_size(json_object_get(e, "clusters")), 2);
        /* a different cluster of the same name: refused unless --overwrite-existing */
        json_object_set_new(json_object_get(json_array_get(json_object_get(a, "clusters"), 0), "cluster"), "server",
                            json_string("https://elsewhere"));
        ASSERT_ERR(cp_kubeconfig_merge(e, a, false, why, sizeof why), CP_EBADSEQ);
        ASSERT_STREQ(why, "A different object named c1 already exists in your kubeconfig file.");
        cp_error_clear();
        ASSERT_OK(cp_kubeconfig_merge(e, a, true, why, sizeof why));
        ASSERT_EQ(json_array_size(json_object_get(e, "clusters")), 2);
        json_decref(e);
        json_decref(a);
        json_decref(back);
        /* refused inputs */
        const char *bad[] = {"a: [1, 2\n", "- 1\n- 2\n", "a: &x 1\nb: *x\n", "a: 1\n---\nb: 2\n", "a: b: c\n"};
        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
                json_t *j = NULL;
                if (cp_kubeconfig_parse((const uint8_t *) bad[i], strlen(bad[i]), &j) >= 0)
                        cp_test_fail(__FILE__, __LINE__, "accepted: %s", bad[i]);
                cp_error_clear();
        }
        ASSERT_OK(cp_kubeconfig_parse((const uint8_t *) "", 0, &e));
        ASSERT_EQ(json_object_size(e), 0);
        json_decref(e);
}

/* ---- the API in-process ---- */

#define SUB "6a8b4c2e-1f3d-4e5a-9b7c-0d1e2f3a4b5c"
#define RGP "/subscriptions/" SUB "/resourceGroups/rg1"
#define MC RGP "/providers/Microsoft.ContainerService/managedClusters/c1"
#define CS "?api-version=2026-01-01"

static struct {
        char dir[64];
        cp_store *store;
        cp_rules *rules;
        cp_backend *backend;
        cp_api *api;
        cp_reconciler *rec;
        char op[128], user[80], admin[80], base[128];
} E;
static cp_api_reply R;
/* The client certificate the next kube() presents (DER; as httpd hands a
 * verified one over), NULL: none. */
static const uint8_t *CERT;
static size_t CERT_LEN;

static void arm(const char *method, const char *url, const char *body, unsigned want) {
        char auth[160];
        snprintf(auth, sizeof auth, "%s", E.op);
        cp_api_call_headers h = {.authorization = auth};
        unsigned st = cp_api_call(E.api, &R, method, url, NULL, &h, body);
        if (st != want)
                cp_test_fail(__FILE__, __LINE__, "%s %s: %u, want %u", method, url, st, want);
}

/* The token of a kubeconfig (listCluster*Credential) into out. */
static void cred_at(const char *mc, const char *action, char *out, size_t size) {
        char url[400];
        snprintf(url, sizeof url, "%s/%s" CS, mc, action);
        arm("POST", url, NULL, 200);
        const char *v = json_string_value(
                json_object_get(json_array_get(json_object_get(R.body, "kubeconfigs"), 0), "value"));
        ASSERT_TRUE(v != NULL);
        uint8_t kc[8192];
        size_t n = 0;
        ASSERT_OK(cp_b64_decode(v, strlen(v), CP_B64_STD, kc, sizeof kc - 1, &n));
        kc[n] = 0;
        const char *t = strstr((char *) kc, "token: "), *s = strstr((char *) kc, "server: ");
        ASSERT_TRUE(t && s);
        snprintf(out, size, "Bearer %.64s", t + 7);
        snprintf(E.base, sizeof E.base, "%.*s", (int) strcspn(s + 8, "\n"), s + 8);
}

static void cred(const char *action, char *out, size_t size) {
        cred_at(MC, action, out, size);
}

static unsigned kube(const char *token, const char *method, const char *path, const char *query_name,
                     const char *query_value, const char *ctype, const char *body) {
        char full[512];
        const char *p = strstr(E.base, "/k8s/");
        ASSERT_TRUE(p != NULL);
        snprintf(full, sizeof full, "%s%s", p, path);
        cp_http_pair hdrs[3];
        size_t n = 0;
        if (token)
                hdrs[n++] = (cp_http_pair){"Authorization", token};
        if (ctype)
                hdrs[n++] = (cp_http_pair){"Content-Type", ctype};
        cp_http_pair q[2] = {{query_name, query_value}, {"includeObject", "Object"}};
        cp_http_request rq = {.method = method, .path = full, .body = (const uint8_t *) body,
                              .body_len = body ? strlen(body) : 0, .remote_addr = "127.0.0.1", .headers = hdrs,
                              .n_headers = n, .query = q, .n_query = query_name ? 1 : 0,
                              .client_cert_der = CERT, .client_cert_len = CERT_LEN};
        cp_api_reply_clear(&R);
        cp_api_handle(E.api, &rq, &R.http);
        R.status = R.http.status;
        if (R.http.body_len)
                R.body = json_loadb((const char *) R.http.body, R.http.body_len, 0, NULL);
        return R.status;
}

static bool body_is(const char *want) {
        return R.http.body_len == strlen(want) && memcmp(R.http.body, want, R.http.body_len) == 0;
}

static const char *rstr(const char *k) {
        return json_string_value(json_object_get(R.body, k));
}

static void setup(void) {
        memset(&E, 0, sizeof E);
        snprintf(E.dir, sizeof E.dir, "/tmp/cp-k8s-XXXXXX");
        ASSERT_TRUE(mkdtemp(E.dir) != NULL);
        char db[128];
        snprintf(db, sizeof db, "%s/confpoold.db", E.dir);
        ASSERT_OK(cp_cpstore_open(cp_test_db(db), &E.store));
        ASSERT_OK(cp_rules_new(&E.rules));
        json_t *j = json_loads("{\"fakeBackend\":{\"readyDelayMs\":0}}", 0, NULL);
        ASSERT_OK(cp_rules_load_json(E.rules, j));
        json_decref(j);
        ASSERT_OK(cp_backend_fake_from_config(cp_rules_fake_backend(E.rules), &E.backend));
        char *chain = NULL, *key = NULL; /* the CA kubelet certificates are issued by */
        ASSERT_OK(cp_pki_server_cert(E.dir, "127.0.0.1", 1, &chain, &key));
        free(chain);
        free(key);
        cp_api_options o = {.store = E.store, .rules = E.rules, .state_dir = E.dir, .base_url = "https://cp.test:1"};
        ASSERT_OK(cp_api_new(&o, &E.api));
        ASSERT_OK(cp_reconciler_new(E.store, E.rules, E.backend, &E.rec));
        char tp[128], t[100] = "";
        snprintf(tp, sizeof tp, "%s/operator.token", E.dir);
        FILE *f = fopen(tp, "r");
        ASSERT_TRUE(f && fscanf(f, "%99s", t) == 1);
        fclose(f);
        snprintf(E.op, sizeof E.op, "Bearer %s", t);
        arm("PUT", RGP "?api-version=2021-04-01", "{\"location\":\"eastus\"}", 201);
        arm("PUT", MC CS,
            "{\"location\":\"eastus\",\"properties\":{\"agentPoolProfiles\":[{\"name\":\"nodepool1\",\"count\":1,"
            "\"vmSize\":\"Standard_DC4as_v5\",\"mode\":\"System\",\"nodeLabels\":{\"tier\":\"cvm\"}}]}}",
            201);
        size_t active;
        for (int i = 0; i < 10; i++) {
                ASSERT_OK(cp_reconciler_run_once(E.rec, &active));
                if (!active)
                        break;
        }
        cred("listClusterUserCredential", E.user, sizeof E.user);
        cred("listClusterAdminCredential", E.admin, sizeof E.admin);
}

static void teardown(void) {
        cp_api_reply_clear(&R);
        cp_reconciler_free(E.rec);
        cp_api_free(E.api);
        cp_backend_free(E.backend);
        cp_store_close(E.store);
        cp_rules_free(E.rules);
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", E.dir);
        if (system(cmd) != 0)
                fprintf(stderr, "cleanup failed\n");
}

/* The pool's machine as attested (Ready) or quarantined. */
static void machine_named(const char *name, const char *state);
static void machine(const char *state) {
        machine_named("aks-nodepool1-1-vmss000000", state);
}

static void machine_named(const char *name, const char *state) {
        char pool[300];
        cp_id_lower(MC "/agentPools/nodepool1", pool, sizeof pool);
        cp_machine m = {0};
        snprintf(m.pool, sizeof m.pool, "%s", MC "/agentPools/nodepool1");
        snprintf(m.name, sizeof m.name, "%s", name);
        snprintf(m.handle, sizeof m.handle, "local:1");
        snprintf(m.state, sizeof m.state, "%s", state);
        snprintf(m.image, sizeof m.image, "AKSUbuntu-2204gen2CVMcontainerd-202511.18.0");
        snprintf(m.ip, sizeof m.ip, "10.224.0.4");
        snprintf(m.created, sizeof m.created, "2026-01-01T00:00:00.000Z");
        ASSERT_OK(cp_store_begin(E.store));
        ASSERT_OK(cp_machine_put(E.store, &m));
        char sql[1024];
        snprintf(sql, sizeof sql,
                 "INSERT INTO node_attestation(pool_lc, name, reason, host, measurement, tcb, attested_at, "
                 "token_exp, heartbeat_at) VALUES ('%s', '%s', '%s', 'host-milan-0', 'ab', 'bl=4,tee=0,snp=22,"
                 "ucode=213', 1767225600, 1767254400, 1767225605) ON CONFLICT(pool_lc, name) DO UPDATE SET "
                 "reason=excluded.reason",
                 pool, m.name, strcmp(state, "Ready") ? "launch measurement is not accepted" : "");
        ASSERT_OK(cp_store_exec(E.store, sql));
        ASSERT_OK(cp_store_commit(E.store));
}

TEST(api_status_auth_rbac) {
        setup();
        ASSERT_TRUE(strncmp(E.base, "https://cp.test:1/k8s/", 22) == 0);
        /* anonymous, a wrong token, another cluster's path: 401 Status */
        ASSERT_EQ(kube(NULL, "GET", "/api/v1/nodes", NULL, NULL, NULL, NULL), 401);
        ASSERT_TRUE(body_is("{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":"
                            "\"Failure\",\"message\":\"Unauthorized\",\"reason\":\"Unauthorized\",\"code\":401}"));
        ASSERT_EQ(kube("Bearer 0000000000000000000000000000000000000000000000000000000000000000", "GET",
                       "/api/v1/nodes", NULL, NULL, NULL, NULL),
                  401);
        ASSERT_EQ(kube(E.op, "GET", "/api/v1/nodes", NULL, NULL, NULL, NULL), 401); /* the operator's is not a kubeconfig */
        /* discovery */
        ASSERT_EQ(kube(E.user, "GET", "/version", NULL, NULL, NULL, NULL), 200);
        ASSERT_STREQ(rstr("gitVersion"), "v1.33.0");
        ASSERT_EQ(kube(E.user, "GET", "/api/v1", NULL, NULL, NULL, NULL), 200);
        ASSERT_STREQ(rstr("kind"), "APIResourceList");
        /* unsupported kinds: 404 as kube-apiserver */
        ASSERT_EQ(kube(E.user, "GET", "/apis/apps/v1/namespaces/default/deployments", NULL, NULL, NULL, NULL), 404);
        ASSERT_TRUE(body_is("{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":"
                     "\"the server could not find the requested resource\",\"reason\":\"NotFound\",\"details\":{},"
                     "\"code\":404}"));
        ASSERT_EQ(kube(E.user, "GET", "/api/v1/secrets", NULL, NULL, NULL, NULL), 404);
        ASSERT_EQ(kube(E.user, "GET", "/api/v1/nodes/a/b/c", NULL, NULL, NULL, NULL), 404);
        ASSERT_EQ(kube(E.user, "GET", "/api/v1/namespaces/default/nodes", NULL, NULL, NULL, NULL), 404);
        /* no attested machine yet: no Node */
        ASSERT_EQ(kube(E.user, "GET", "/api/v1/nodes", NULL, NULL, NULL, NULL), 200);
        ASSERT_STREQ(rstr("kind"), "NodeList");
        ASSERT_EQ(json_array_size(json_object_get(R.body, "items")), 0);
        ASSERT_EQ(kube(E.user, "GET", "/api/v1/nodes/nosuch", NULL, NULL, NULL, NULL), 404);
        ASSERT_STREQ(rstr("message"), "nodes \"nosuch\" not found");
        /* a trailing "/" (found by fuzz-k8s-routes: it routed to no resource at all) */
        ASSERT_EQ(kube(E.user, "GET", "/api/v1/nodes/", NULL, NULL, NULL, NULL), 200);
        ASSERT_STREQ(rstr("kind"), "NodeList");
        ASSERT_EQ(kube(E.user, "GET", "/api/v1/no/", NULL, NULL, NULL, NULL), 404);
        /* RBAC: users do not delete, nobody creates */
        ASSERT_EQ(kube(E.user, "DELETE", "/api/v1/nodes/nosuch", NULL, NULL, NULL, NULL), 403);
        ASSERT_STREQ(rstr("message"), "nodes \"nosuch\" is forbidden: User \"clusterUser\" cannot delete resource "
                                      "\"nodes\" in API group \"\" at the cluster scope");
        ASSERT_EQ(kube(E.admin, "DELETE", "/api/v1/nodes/nosuch", NULL, NULL, NULL, NULL), 404);
        ASSERT_EQ(kube(E.admin, "POST", "/api/v1/nodes", NULL, NULL, NULL, "{}"), 403);
        ASSERT_EQ(kube(E.user, "PATCH", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/x", NULL, NULL,
                       "application/merge-patch+json", "{}"),
                  403);
        /* namespaces */
        ASSERT_EQ(kube(E.user, "GET", "/api/v1/namespaces", NULL, NULL, NULL, NULL), 200);
        ASSERT_EQ(json_array_size(json_object_get(R.body, "items")), 4);
        ASSERT_EQ(kube(E.user, "GET", "/api/v1/namespaces/kube-node-lease", NULL, NULL, NULL, NULL), 200);
        /* selectors refused with 400 */
        ASSERT_EQ(kube(E.user, "GET", "/api/v1/nodes", "labelSelector", "a in (b", NULL, NULL), 400);
        ASSERT_EQ(kube(E.user, "GET", "/api/v1/nodes", "fieldSelector", "spec.nodeName=x", NULL, NULL), 400);
        ASSERT_STREQ(rstr("message"), "field label not supported: spec.nodeName");
        teardown();
}

static const char *label(const char *k) {
        return json_string_value(json_object_get(json_object_get(json_object_get(R.body, "metadata"), "labels"), k));
}

TEST(api_nodes_from_machines) {
        setup();
        machine("Ready");
        const char *N = "/api/v1/nodes/aks-nodepool1-1-vmss000000";
        ASSERT_EQ(kube(E.user, "GET", N, NULL, NULL, NULL, NULL), 200);
        ASSERT_STREQ(label("kubernetes.azure.com/security-type"), "ConfidentialVM");
        ASSERT_STREQ(label("kubernetes.azure.com/agentpool"), "nodepool1");
        ASSERT_STREQ(label("kubernetes.azure.com/mode"), "system");
        ASSERT_STREQ(label("node.kubernetes.io/instance-type"), "Standard_DC4as_v5");
        ASSERT_STREQ(label("topology.kubernetes.io/region"), "eastus");
        ASSERT_STREQ(label("tier"), "cvm");
        json_t *st = json_object_get(R.body, "status");
        ASSERT_STREQ(json_string_value(json_object_get(json_object_get(st, "capacity"), "cpu")), "4");
        ASSERT_STREQ(json_string_value(json_object_get(json_object_get(st, "allocatable"), "cpu")), "3860m");
        ASSERT_STREQ(json_string_value(json_object_get(json_object_get(st, "nodeInfo"), "kubeletVersion")), "v1.33.2");
        const char *rv1 = json_string_value(json_object_get(json_object_get(R.body, "metadata"), "resourceVersion"));
        char rv[24];
        snprintf(rv, sizeof rv, "%s", rv1);
        /* label selector as kubectl -l sends it */
        ASSERT_EQ(kube(E.user, "GET", "/api/v1/nodes", "labelSelector", "kubernetes.azure.com/security-type=ConfidentialVM",
                       NULL, NULL),
                  200);
        ASSERT_EQ(json_array_size(json_object_get(R.body, "items")), 1);
        /* label (merge), cordon (strategic), a reserved label refused, a stale resourceVersion refused */
        ASSERT_EQ(kube(E.user, "PATCH", N, NULL, NULL, "application/merge-patch+json",
                       "{\"metadata\":{\"labels\":{\"sensitive\":\"yes\"}}}"),
                  200);
        ASSERT_STREQ(label("sensitive"), "yes");
        ASSERT_EQ(kube(E.user, "PATCH", N, NULL, NULL, "application/strategic-merge-patch+json",
                       "{\"spec\":{\"unschedulable\":true}}"),
                  200);
        ASSERT_TRUE(json_is_true(json_object_get(json_object_get(R.body, "spec"), "unschedulable")));
        ASSERT_STREQ(label("sensitive"), "yes");
        ASSERT_EQ(kube(E.user, "PATCH", N, NULL, NULL, "application/merge-patch+json",
                       "{\"metadata\":{\"labels\":{\"kubernetes.azure.com/mode\":\"user\"}}}"),
                  403);
        ASSERT_EQ(kube(E.user, "PATCH", N, NULL, NULL, "application/merge-patch+json",
                       "{\"metadata\":{\"labels\":{\"tier\":\"other\"}}}"),
                  403); /* the pool's nodeLabels are the system's */
        ASSERT_EQ(kube(E.user, "PATCH", N, NULL, NULL, "application/json-patch+json", "[]"), 415);
        ASSERT_EQ(kube(E.user, "PATCH", N, NULL, NULL, "application/merge-patch+json",
                       "{\"status\":{\"capacity\":{\"cpu\":\"64\"}}}"),
                  422);
        char stale[128];
        snprintf(stale, sizeof stale, "{\"metadata\":{\"resourceVersion\":\"%s\",\"labels\":{\"a\":\"b\"}}}", rv);
        ASSERT_EQ(kube(E.user, "PATCH", N, NULL, NULL, "application/merge-patch+json", stale), 409);
        /* the Lease and the registration Event */
        ASSERT_EQ(kube(E.user, "GET", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/aks-nodepool1-1-vmss000000",
                       NULL, NULL, NULL, NULL),
                  200);
        ASSERT_STREQ(json_string_value(json_object_get(json_object_get(R.body, "spec"), "renewTime")),
                     "2026-01-01T00:00:05.000000Z");
        ASSERT_EQ(kube(E.user, "GET", "/api/v1/events", "fieldSelector",
                       "involvedObject.name=aks-nodepool1-1-vmss000000,involvedObject.kind=Node", NULL, NULL),
                  200);
        ASSERT_STREQ(json_string_value(json_object_get(json_array_get(json_object_get(R.body, "items"), 0), "reason")),
                     "RegisteredNode");
        /* a failed re-attestation: NotReady, the attestation taint, a Warning event */
        machine("Quarantined");
        ASSERT_EQ(kube(E.user, "GET", N, NULL, NULL, NULL, NULL), 200);
        json_t *taints = json_object_get(json_object_get(R.body, "spec"), "taints");
        ASSERT_STREQ(json_string_value(json_object_get(json_array_get(taints, 0), "key")), CP_K8S_ATTEST_TAINT);
        ASSERT_STREQ(json_string_value(json_object_get(json_array_get(taints, 0), "effect")), "NoExecute");
        ASSERT_TRUE(json_is_true(json_object_get(json_object_get(R.body, "spec"), "unschedulable"))); /* kept */
        /* users cannot lift it */
        ASSERT_EQ(kube(E.user, "PATCH", N, NULL, NULL, "application/strategic-merge-patch+json",
                       "{\"spec\":{\"taints\":null}}"),
                  403);
        ASSERT_EQ(kube(E.user, "GET", "/api/v1/events", "fieldSelector", "reason=NodeNotReady", NULL, NULL), 200);
        ASSERT_EQ(json_array_size(json_object_get(R.body, "items")), 1);
        /* a watch from the first version replays ADDED, MODIFIED ... in order */
        ASSERT_EQ(kube(E.user, "GET", "/api/v1/nodes", "watch", "true", NULL, NULL), 200);
        ASSERT_TRUE(R.http.stream != NULL); /* no resourceVersion: the current state first */
        {
                char first[65536];
                long m = R.http.stream(R.http.stream_ud, (uint8_t *) first, sizeof first - 1, false);
                ASSERT_TRUE(m > 0);
                first[m] = 0;
                ASSERT_TRUE(strncmp(first, "{\"type\":\"ADDED\"", 15) == 0);
                ASSERT_TRUE(strstr(first, CP_K8S_ATTEST_TAINT) != NULL);
        }
        ASSERT_EQ(kube(E.user, "GET", "/api/v1/nodes", "resourceVersion", "x", NULL, NULL), 200); /* list: ignored */
        cp_http_pair q[2] = {{"watch", "1"}, {"resourceVersion", "1"}};
        char path[300];
        snprintf(path, sizeof path, "%s/api/v1/nodes", strstr(E.base, "/k8s/"));
        cp_http_pair h[1] = {{"Authorization", E.user}};
        cp_http_request rq = {.method = "GET", .path = path, .remote_addr = "127.0.0.1", .headers = h, .n_headers = 1,
                              .query = q, .n_query = 2};
        cp_api_reply_clear(&R);
        cp_api_handle(E.api, &rq, &R.http);
        ASSERT_EQ(R.http.status, 200);
        ASSERT_TRUE(R.http.stream != NULL);
        char buf[65536];
        long n = R.http.stream(R.http.stream_ud, (uint8_t *) buf, sizeof buf - 1, false);
        ASSERT_TRUE(n > 0);
        buf[n] = 0;
        /* the Node's ADDED was the store's first change (resourceVersion 1): only what came after */
        const char *added = strstr(buf, "{\"type\":\"ADDED\""), *mod = strstr(buf, "{\"type\":\"MODIFIED\"");
        if (added || mod != buf || !strstr(buf, CP_K8S_ATTEST_TAINT))
                cp_test_fail(__FILE__, __LINE__, "watch stream: %.600s", buf);
        ASSERT_EQ(R.http.stream(R.http.stream_ud, (uint8_t *) buf, sizeof buf, true), -1); /* server stopping */
        /* delete: users refused, admins not; the Node registers again at its next heartbeat */
        ASSERT_EQ(kube(E.user, "DELETE", N, NULL, NULL, NULL, NULL), 403);
        ASSERT_EQ(kube(E.admin, "DELETE", N, NULL, NULL, NULL, NULL), 200);
        ASSERT_STREQ(rstr("status"), "Success");
        ASSERT_EQ(kube(E.user, "GET", N, NULL, NULL, NULL, NULL), 404);
        /* the machine gone: no Node */
        ASSERT_OK(cp_store_begin(E.store));
        ASSERT_OK(cp_machine_delete(E.store, MC "/agentPools/nodepool1", "aks-nodepool1-1-vmss000000"));
        ASSERT_OK(cp_store_commit(E.store));
        ASSERT_EQ(kube(E.user, "GET", "/api/v1/nodes", NULL, NULL, NULL, NULL), 200);
        ASSERT_EQ(json_array_size(json_object_get(R.body, "items")), 0);
        teardown();
}

/* ---- the attested join: bootstrap token, CSR, certificate ---- */

static char *csr_for(const char *cn, const char *o) {
        EVP_PKEY *k = EVP_EC_gen("P-256");
        X509_REQ *req = X509_REQ_new();
        X509_NAME *n = X509_REQ_get_subject_name(req);
        ASSERT_TRUE(k && req);
        ASSERT_TRUE(X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *) o, -1, -1, 0));
        ASSERT_TRUE(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *) cn, -1, -1, 0));
        ASSERT_TRUE(X509_REQ_set_pubkey(req, k) && X509_REQ_sign(req, k, EVP_sha256()));
        BIO *b = BIO_new(BIO_s_mem());
        ASSERT_TRUE(PEM_write_bio_X509_REQ(b, req));
        char *data = NULL;
        long len = BIO_get_mem_data(b, &data);
        char *b64 = malloc(cp_b64_encoded_len((size_t) len, CP_B64_STD) + 1);
        cp_b64_encode((const uint8_t *) data, (size_t) len, CP_B64_STD, b64);
        char *body = NULL;
        ASSERT_TRUE(asprintf(&body, "{\"kind\":\"CertificateSigningRequest\",\"apiVersion\":\"certificates.k8s.io/v1\","
                             "\"spec\":{\"request\":\"%s\",\"signerName\":"
                             "\"kubernetes.io/kube-apiserver-client-kubelet\",\"usages\":[\"client auth\"]}}", b64) > 0);
        free(b64);
        BIO_free(b);
        X509_REQ_free(req);
        EVP_PKEY_free(k);
        return body;
}

/* A bootstrap token for machine (as registration makes one), its bearer in out. */
static void bootstrap(const char *machine, uint8_t seed, char out[80]) {
        uint8_t t[32];
        memset(t, seed, sizeof t);
        char hex[65];
        cp_hex_encode(t, 32, hex);
        snprintf(out, 80, "Bearer %s", hex);
        char uid[64];
        snprintf(uid, sizeof uid, "%s", strstr(E.base, "/k8s/") + 5);
        ASSERT_OK(cp_store_begin(E.store));
        ASSERT_OK(k8s_bootstrap_put(E.store, uid, MC "/agentPools/nodepool1", machine, t));
        ASSERT_OK(cp_store_commit(E.store));
}

/* The certificate of the CSR answer in R (status.certificate, base64 PEM). */
static X509 *issued_x509(void) {
        const char *cert = json_string_value(json_object_get(json_object_get(R.body, "status"), "certificate"));
        ASSERT_TRUE(cert != NULL);
        uint8_t pem[8192];
        size_t n = 0;
        ASSERT_OK(cp_b64_decode(cert, strlen(cert), CP_B64_STD, pem, sizeof pem, &n));
        BIO *b = BIO_new_mem_buf(pem, (int) n);
        X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
        BIO_free(b);
        ASSERT_TRUE(x != NULL);
        return x;
}

#define CSRS "/apis/certificates.k8s.io/v1/certificatesigningrequests"

TEST(api_attested_join) {
        setup();
        machine_named("aks-nodepool1-1-vmss000000", "Ready");
        machine_named("aks-nodepool1-1-vmss000001", "Quarantined");
        char tok[80];
        _cleanup_free_ char *mine = csr_for("system:node:aks-nodepool1-1-vmss000000", "system:nodes");
        _cleanup_free_ char *other = csr_for("system:node:aks-nodepool1-1-vmss000001", "system:nodes");
        _cleanup_free_ char *admin_o = csr_for("system:node:aks-nodepool1-1-vmss000000", "system:masters");
        /* no token that was ever issued: 401 */
        ASSERT_EQ(kube("Bearer 0101010101010101010101010101010101010101010101010101010101010101", "POST", CSRS, NULL,
                       NULL, "application/json", mine),
                  401);
        /* a CSR for another node's name: refused, and the token is spent */
        bootstrap("aks-nodepool1-1-vmss000000", 1, tok);
        ASSERT_EQ(kube(tok, "POST", CSRS, NULL, NULL, "application/json", other), 403);
        if (!strstr(rstr("message"), "CN=system:node:aks-nodepool1-1-vmss000000 (the node this request authenticated as)"))
                cp_test_fail(__FILE__, __LINE__, "message: %s", rstr("message"));
        ASSERT_EQ(kube(tok, "POST", CSRS, NULL, NULL, "application/json", mine), 401);
        ASSERT_TRUE(strstr(rstr("message"), "used already") != NULL);
        /* another organization (system:masters) is not a node's */
        bootstrap("aks-nodepool1-1-vmss000000", 2, tok);
        ASSERT_EQ(kube(tok, "POST", CSRS, NULL, NULL, "application/json", admin_o), 403);
        /* the node's own: approved, signed by the cluster CA; the token works once */
        bootstrap("aks-nodepool1-1-vmss000000", 3, tok);
        ASSERT_EQ(kube(tok, "POST", CSRS, NULL, NULL, "application/json", mine), 201);
        ASSERT_STREQ(json_string_value(json_object_get(json_array_get(json_object_get(json_object_get(R.body, "status"),
                                                                                      "conditions"),
                                                                      0),
                                                       "type")),
                     "Approved");
        X509 *x = issued_x509();
        char subj[256];
        X509_NAME_oneline(X509_get_subject_name(x), subj, sizeof subj);
        ASSERT_STREQ(subj, "/O=system:nodes/CN=system:node:aks-nodepool1-1-vmss000000");
        char cap[128];
        snprintf(cap, sizeof cap, "%s/ca.pem", E.dir);
        FILE *f = fopen(cap, "r");
        X509 *ca = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
        if (f)
                fclose(f);
        ASSERT_TRUE(ca != NULL);
        ASSERT_EQ(X509_verify(x, X509_get0_pubkey(ca)), 1);
        X509_free(x);
        X509_free(ca);
        ASSERT_EQ(kube(tok, "POST", CSRS, NULL, NULL, "application/json", mine), 401); /* reused */
        /* a machine that is not attested (quarantined) gets nothing */
        bootstrap("aks-nodepool1-1-vmss000001", 4, tok);
        ASSERT_EQ(kube(tok, "POST", CSRS, NULL, NULL, "application/json", other), 403);
        ASSERT_TRUE(strstr(rstr("message"), "is not attested") != NULL);
        /* a wrong signer */
        bootstrap("aks-nodepool1-1-vmss000000", 5, tok);
        char *bad = strdup(mine);
        char *sg = strstr(bad, "kube-apiserver-client-kubelet");
        memcpy(sg, "kube-apiserver-client-kubelex", 29);
        ASSERT_EQ(kube(tok, "POST", CSRS, NULL, NULL, "application/json", bad), 403);
        ASSERT_TRUE(strstr(rstr("message"), "spec.signerName") != NULL);
        free(bad);
        /* a bootstrap token opens nothing else; a kubeconfig token creates no CSR */
        bootstrap("aks-nodepool1-1-vmss000000", 6, tok);
        ASSERT_EQ(kube(tok, "GET", "/api/v1/nodes", NULL, NULL, NULL, NULL), 401);
        ASSERT_EQ(kube(E.admin, "POST", CSRS, NULL, NULL, "application/json", mine), 404);
        teardown();
}

/* ---- nodes on their client certificates (mTLS) ---- */

static uint8_t *issued_der(size_t *len);

/* The node's certificate through the attested join, as DER (malloc()ed). */
static uint8_t *node_cert(const char *machine, uint8_t seed, size_t *len) {
        char tok[80], cn[128];
        snprintf(cn, sizeof cn, "system:node:%s", machine);
        _cleanup_free_ char *csr = csr_for(cn, "system:nodes");
        bootstrap(machine, seed, tok);
        ASSERT_EQ(kube(tok, "POST", CSRS, NULL, NULL, "application/json", csr), 201);
        return issued_der(len);
}

/* The certificate of the CSR answer in R, as DER (malloc()ed). */
static uint8_t *issued_der(size_t *len) {
        X509 *x = issued_x509();
        uint8_t *der = NULL;
        int l = i2d_X509(x, &der);
        ASSERT_TRUE(l > 0);
        X509_free(x);
        uint8_t *out = malloc((size_t) l);
        memcpy(out, der, (size_t) l);
        OPENSSL_free(der);
        *len = (size_t) l;
        return out;
}

static void as_node(const uint8_t *der, size_t len) {
        CERT = der;
        CERT_LEN = len;
}

#define N0 "aks-nodepool1-1-vmss000000"
#define N1 "aks-nodepool1-1-vmss000001"
#define LEASES "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/"

static const char *lease_renew(void) {
        return json_string_value(json_object_get(json_object_get(R.body, "spec"), "renewTime"));
}

TEST(api_node_mtls_authorizer) {
        setup();
        machine_named(N0, "Ready");
        machine_named(N1, "Ready");
        size_t l0 = 0;
        _cleanup_free_ uint8_t *c0 = node_cert(N0, 1, &l0);
        char now[40], body[400];
        time_t t = time(NULL) - 2;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%S.123456Z", &tm);
        as_node(c0, l0);
        /* its own Node and Lease: read, renew (PATCH and PUT), heartbeat */
        ASSERT_EQ(kube(NULL, "GET", "/api/v1/nodes/" N0, NULL, NULL, NULL, NULL), 200);
        ASSERT_EQ(kube(NULL, "GET", LEASES N0, NULL, NULL, NULL, NULL), 200);
        snprintf(body, sizeof body, "{\"spec\":{\"holderIdentity\":\"" N0 "\",\"renewTime\":\"%s\","
                 "\"leaseDurationSeconds\":40}}", now);
        ASSERT_EQ(kube(NULL, "PATCH", LEASES N0, NULL, NULL, "application/merge-patch+json", body), 200);
        ASSERT_STREQ(lease_renew(), now);
        char rv[24];
        snprintf(rv, sizeof rv, "%s", json_string_value(json_object_get(json_object_get(R.body, "metadata"),
                                                                        "resourceVersion")));
        snprintf(body, sizeof body, "{\"kind\":\"Lease\",\"metadata\":{\"name\":\"" N0 "\",\"resourceVersion\":\"%s\"},"
                 "\"spec\":{\"holderIdentity\":\"" N0 "\",\"renewTime\":\"%.26s9Z\"}}", rv, now);
        ASSERT_EQ(kube(NULL, "PUT", LEASES N0, NULL, NULL, "application/json", body), 200);
        ASSERT_TRUE(strstr(lease_renew(), ".1234569Z") || strstr(lease_renew(), "9Z"));
        ASSERT_EQ(kube(NULL, "PUT", LEASES N0, NULL, NULL, "application/json", body), 409); /* stale version */
        snprintf(body, sizeof body, "{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"lastHeartbeatTime\":\"%.19sZ\"}]}}",
                 now);
        ASSERT_EQ(kube(NULL, "PATCH", "/api/v1/nodes/" N0 "/status", NULL, NULL, "application/strategic-merge-patch+json",
                       body),
                  200);
        const json_t *conds = json_object_get(json_object_get(R.body, "status"), "conditions");
        char want[40];
        snprintf(want, sizeof want, "%.19sZ", now);
        ASSERT_STREQ(json_string_value(json_object_get(json_array_get(conds, 3), "lastHeartbeatTime")), want);
        ASSERT_STREQ(json_string_value(json_object_get(json_array_get(conds, 3), "status")), "True");
        /* the user's view shows the node's own renewal */
        as_node(NULL, 0);
        ASSERT_EQ(kube(E.user, "GET", LEASES N0, NULL, NULL, NULL, NULL), 200);
        ASSERT_TRUE(strstr(lease_renew(), "9Z") != NULL);
        as_node(c0, l0);
        /* what a node may not do: claim readiness, renew as another, others' objects, delete, secrets */
        ASSERT_EQ(kube(NULL, "PATCH", "/api/v1/nodes/" N0 "/status", NULL, NULL, "application/merge-patch+json",
                       "{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}"),
                  422);
        ASSERT_EQ(kube(NULL, "PATCH", LEASES N0, NULL, NULL, "application/merge-patch+json",
                       "{\"spec\":{\"holderIdentity\":\"" N1 "\",\"renewTime\":\"2026-01-01T00:00:00.000000Z\"}}"),
                  422);
        ASSERT_EQ(kube(NULL, "PATCH", LEASES N0, NULL, NULL, "application/merge-patch+json",
                       "{\"spec\":{\"renewTime\":\"2099-01-01T00:00:00.000000Z\"}}"),
                  422);
        ASSERT_EQ(kube(NULL, "PATCH", LEASES N1, NULL, NULL, "application/merge-patch+json", body), 403);
        ASSERT_TRUE(strstr(rstr("message"), "User \"system:node:" N0 "\" cannot patch resource \"leases\"") != NULL);
        ASSERT_EQ(kube(NULL, "GET", LEASES N1, NULL, NULL, NULL, NULL), 403);
        ASSERT_EQ(kube(NULL, "GET", "/api/v1/nodes/" N1, NULL, NULL, NULL, NULL), 403);
        ASSERT_EQ(kube(NULL, "PATCH", "/api/v1/nodes/" N1 "/status", NULL, NULL, "application/merge-patch+json", body),
                  403);
        ASSERT_EQ(kube(NULL, "DELETE", "/api/v1/nodes/" N0, NULL, NULL, NULL, NULL), 403);
        ASSERT_EQ(kube(NULL, "PATCH", "/api/v1/nodes/" N0, NULL, NULL, "application/merge-patch+json",
                       "{\"metadata\":{\"labels\":{\"x\":\"y\"}}}"),
                  422);
        ASSERT_EQ(kube(NULL, "GET", "/api/v1/nodes", NULL, NULL, NULL, NULL), 403);
        ASSERT_EQ(kube(NULL, "GET", "/api/v1/secrets", NULL, NULL, NULL, NULL), 403);
        ASSERT_EQ(kube(NULL, "GET", "/api/v1/namespaces/kube-system/secrets", NULL, NULL, NULL, NULL), 403);
        ASSERT_STREQ(rstr("reason"), "Forbidden");
        /* events about itself only */
        ASSERT_EQ(kube(NULL, "POST", "/api/v1/namespaces/default/events", NULL, NULL, "application/json",
                       "{\"involvedObject\":{\"kind\":\"Node\",\"name\":\"" N0 "\"},\"reason\":\"Starting\","
                       "\"message\":\"kubelet started\",\"type\":\"Normal\"}"),
                  201);
        ASSERT_EQ(kube(NULL, "POST", "/api/v1/namespaces/default/events", NULL, NULL, "application/json",
                       "{\"involvedObject\":{\"kind\":\"Node\",\"name\":\"" N1 "\"},\"reason\":\"Starting\","
                       "\"message\":\"x\",\"type\":\"Normal\"}"),
                  403);
        ASSERT_EQ(kube(NULL, "POST", "/api/v1/namespaces/nosuch/events", NULL, NULL, "application/json",
                       "{\"involvedObject\":{\"kind\":\"Node\",\"name\":\"" N0 "\"},\"reason\":\"Starting\","
                       "\"type\":\"Normal\"}"),
                  404);
        /* a node's own events are bounded (they expire after 1 h) */
        for (int i = 1; i < K8S_NODE_EVENTS_MAX; i++)
                ASSERT_EQ(kube(NULL, "POST", "/api/v1/namespaces/default/events", NULL, NULL, "application/json",
                               "{\"involvedObject\":{\"kind\":\"Node\",\"name\":\"" N0 "\"},\"reason\":\"R\","
                               "\"type\":\"Normal\"}"),
                          201);
        ASSERT_EQ(kube(NULL, "POST", "/api/v1/namespaces/default/events", NULL, NULL, "application/json",
                       "{\"involvedObject\":{\"kind\":\"Node\",\"name\":\"" N0 "\"},\"reason\":\"R\","
                       "\"type\":\"Normal\"}"),
                  429);
        as_node(NULL, 0);
        teardown();
}

TEST(api_node_mtls_revocation) {
        setup();
        machine_named(N0, "Ready");
        size_t l0 = 0, l1 = 0;
        _cleanup_free_ uint8_t *c0 = node_cert(N0, 1, &l0);
        as_node(c0, l0);
        ASSERT_EQ(kube(NULL, "GET", "/api/v1/nodes/" N0, NULL, NULL, NULL, NULL), 200);
        /* a certificate of the same subject this cluster did not issue (another CA's, or another
         * cluster's under the same CA): not the recorded one */
        uint8_t *forged = malloc(l0);
        memcpy(forged, c0, l0);
        forged[l0 - 5] ^= 1; /* in the signature: the in-process request skips TLS's verification */
        as_node(forged, l0);
        ASSERT_EQ(kube(NULL, "GET", "/api/v1/nodes/" N0, NULL, NULL, NULL, NULL), 401);
        free(forged);
        /* another cluster's endpoint: the cert of cluster c1's node is refused on c2 */
        as_node(NULL, 0);
        char base1[128];
        snprintf(base1, sizeof base1, "%s", E.base);
        arm("PUT", RGP "/providers/Microsoft.ContainerService/managedClusters/c2" CS,
            "{\"location\":\"eastus\",\"properties\":{\"agentPoolProfiles\":[{\"name\":\"nodepool1\",\"count\":1,"
            "\"vmSize\":\"Standard_DC4as_v5\",\"mode\":\"System\"}]}}",
            201);
        char c2user[80];
        cred_at(RGP "/providers/Microsoft.ContainerService/managedClusters/c2", "listClusterUserCredential", c2user,
                sizeof c2user); /* sets E.base to c2's */
        ASSERT_TRUE(strcmp(E.base, base1) != 0);
        as_node(c0, l0);
        ASSERT_EQ(kube(NULL, "GET", "/api/v1/nodes/" N0, NULL, NULL, NULL, NULL), 401);
        ASSERT_EQ(kube(NULL, "GET", LEASES N0, NULL, NULL, NULL, NULL), 401);
        snprintf(E.base, sizeof E.base, "%s", base1);
        ASSERT_EQ(kube(NULL, "GET", "/api/v1/nodes/" N0, NULL, NULL, NULL, NULL), 200);
        /* quarantined: refused, and for good (the record is revoked at the next sync) */
        machine_named(N0, "Quarantined");
        ASSERT_EQ(kube(NULL, "GET", "/api/v1/nodes/" N0, NULL, NULL, NULL, NULL), 401);
        as_node(NULL, 0);
        ASSERT_EQ(kube(E.user, "GET", "/api/v1/nodes/" N0, NULL, NULL, NULL, NULL), 200); /* a sync */
        machine_named(N0, "Ready");
        as_node(c0, l0);
        ASSERT_EQ(kube(NULL, "GET", "/api/v1/nodes/" N0, NULL, NULL, NULL, NULL), 401);
        /* re-registered: a new certificate works, the old one does not */
        as_node(NULL, 0);
        _cleanup_free_ uint8_t *c1 = node_cert(N0, 2, &l1);
        as_node(c1, l1);
        ASSERT_EQ(kube(NULL, "GET", "/api/v1/nodes/" N0, NULL, NULL, NULL, NULL), 200);
        as_node(c0, l0);
        ASSERT_EQ(kube(NULL, "GET", "/api/v1/nodes/" N0, NULL, NULL, NULL, NULL), 401);
        /* a new registration (bootstrap token) revokes even before the new CSR */
        char tok[80];
        bootstrap(N0, 3, tok);
        as_node(c1, l1);
        ASSERT_EQ(kube(NULL, "GET", "/api/v1/nodes/" N0, NULL, NULL, NULL, NULL), 401);
        /* the machine deleted */
        as_node(NULL, 0);
        _cleanup_free_ uint8_t *c2 = node_cert(N0, 4, &l1);
        ASSERT_OK(cp_store_begin(E.store));
        ASSERT_OK(cp_machine_delete(E.store, MC "/agentPools/nodepool1", N0));
        ASSERT_OK(cp_store_commit(E.store));
        as_node(c2, l1);
        ASSERT_EQ(kube(NULL, "GET", "/api/v1/nodes/" N0, NULL, NULL, NULL, NULL), 401);
        as_node(NULL, 0);
        teardown();
}

/* Rotation (kubelet's client certificate renewal): with its current
 * certificate a node gets a new one for its own name only while attested;
 * the old one stays accepted until the new one is used, then is refused. */
TEST(api_node_cert_rotation) {
        setup();
        machine_named(N0, "Ready");
        machine_named(N1, "Ready");
        size_t l0 = 0, l1 = 0, l2 = 0;
        _cleanup_free_ uint8_t *c0 = node_cert(N0, 1, &l0);
        _cleanup_free_ char *mine = csr_for("system:node:" N0, "system:nodes");
        _cleanup_free_ char *other = csr_for("system:node:" N1, "system:nodes");
        /* without a certificate: no renewal (401) */
        ASSERT_EQ(kube(NULL, "POST", CSRS, NULL, NULL, "application/json", mine), 401);
        as_node(c0, l0);
        ASSERT_EQ(kube(NULL, "POST", CSRS, NULL, NULL, "application/json", other), 403);
        ASSERT_TRUE(strstr(rstr("message"), "CN=system:node:" N0) != NULL);
        ASSERT_EQ(kube(NULL, "POST", CSRS, NULL, NULL, "application/json", mine), 201);
        ASSERT_TRUE(strstr(json_string_value(json_object_get(json_array_get(json_object_get(json_object_get(R.body, "status"),
                                                                                             "conditions"), 0), "message")),
                           "renewal") != NULL);
        _cleanup_free_ uint8_t *c1 = issued_der(&l1);
        {       /* valid as long as the API's signing duration (default one year), from 5 min back */
                X509 *x = issued_x509();
                int days = 0, secs = 0;
                ASSERT_TRUE(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x), X509_get0_notAfter(x)) == 1);
                ASSERT_EQ((long) days * 86400 + secs, (long) CP_NODE_CERT_SECONDS_DEFAULT + 300);
                X509_free(x);
        }
        /* the old one still works until the new one is used */
        ASSERT_EQ(kube(NULL, "GET", "/api/v1/nodes/" N0, NULL, NULL, NULL, NULL), 200);
        as_node(c1, l1);
        ASSERT_EQ(kube(NULL, "GET", "/api/v1/nodes/" N0, NULL, NULL, NULL, NULL), 200);
        as_node(c0, l0);
        ASSERT_EQ(kube(NULL, "GET", "/api/v1/nodes/" N0, NULL, NULL, NULL, NULL), 401);
        /* a renewal never used is dropped by a new join (re-registration) */
        as_node(c1, l1);
        ASSERT_EQ(kube(NULL, "POST", CSRS, NULL, NULL, "application/json", mine), 201);
        _cleanup_free_ uint8_t *c2 = issued_der(&l2);
        as_node(NULL, 0);
        size_t l3 = 0;
        _cleanup_free_ uint8_t *c3 = node_cert(N0, 2, &l3);
        as_node(c2, l2);
        ASSERT_EQ(kube(NULL, "GET", "/api/v1/nodes/" N0, NULL, NULL, NULL, NULL), 401);
        as_node(c3, l3);
        ASSERT_EQ(kube(NULL, "GET", "/api/v1/nodes/" N0, NULL, NULL, NULL, NULL), 200);
        /* a quarantined node renews nothing */
        machine_named(N0, "Quarantined");
        ASSERT_EQ(kube(NULL, "POST", CSRS, NULL, NULL, "application/json", mine), 401);
        as_node(NULL, 0);
        teardown();
}

/* ---- store growth: compaction (410 Expired), event TTL, deleted clusters ---- */

static unsigned watch_from(const char *rv) {
        char full[512];
        snprintf(full, sizeof full, "%s/api/v1/nodes", strstr(E.base, "/k8s/"));
        cp_http_pair hdrs[1] = {{"Authorization", E.user}};
        cp_http_pair q[2] = {{"watch", "1"}, {"resourceVersion", rv}};
        cp_http_request rq = {.method = "GET", .path = full, .remote_addr = "127.0.0.1", .headers = hdrs,
                              .n_headers = 1, .query = q, .n_query = 2};
        cp_api_reply_clear(&R);
        cp_api_handle(E.api, &rq, &R.http);
        R.status = R.http.status;
        if (R.http.body_len)
                R.body = json_loadb((const char *) R.http.body, R.http.body_len, 0, NULL);
        return R.status;
}

static int64_t count_rows(const char *sql) {
        cp_stmt *st = NULL;
        ASSERT_OK(cp_store_prepare(E.store, sql, &st));
        ASSERT_EQ(cp_store_step(E.store, st), 1);
        int64_t n = cp_stmt_int64(st, 0);
        cp_stmt_finalize(st);
        return n;
}

static void gc(int64_t now, int64_t keep) {
        ASSERT_OK(cp_store_begin(E.store));
        ASSERT_OK(k8s_gc(E.store, now, keep, K8S_EVENT_TTL_S));
        ASSERT_OK(cp_store_commit(E.store));
}

TEST(api_store_growth) {
        setup();
        machine("Ready");
        ASSERT_EQ(kube(E.user, "GET", "/api/v1/nodes", NULL, NULL, NULL, NULL), 200);
        char rv1[24], rv2[24];
        snprintf(rv1, sizeof rv1, "%s", json_string_value(json_object_get(json_object_get(R.body, "metadata"),
                                                                          "resourceVersion")));
        ASSERT_EQ(kube(E.user, "PATCH", "/api/v1/nodes/" N0, NULL, NULL, "application/merge-patch+json",
                       "{\"metadata\":{\"labels\":{\"a\":\"1\"}}}"),
                  200);
        ASSERT_EQ(kube(E.user, "PATCH", "/api/v1/nodes/" N0, NULL, NULL, "application/merge-patch+json",
                       "{\"metadata\":{\"labels\":{\"a\":\"2\"}}}"),
                  200);
        snprintf(rv2, sizeof rv2, "%s", json_string_value(json_object_get(json_object_get(R.body, "metadata"),
                                                                          "resourceVersion")));
        /* before compaction a watch from the first version replays */
        ASSERT_EQ(watch_from(rv1), 200);
        cp_api_reply_clear(&R);
        /* keep only the last entry: a watch from before it is 410 Expired, from the last one fine */
        gc(time(NULL), 1);
        ASSERT_EQ(count_rows("SELECT COUNT(*) FROM k8s_log"), 1);
        ASSERT_EQ(watch_from(rv1), 410);
        ASSERT_STREQ(rstr("reason"), "Expired");
        ASSERT_TRUE(strstr(rstr("message"), "too old resource version: ") != NULL);
        ASSERT_EQ(watch_from(rv2), 200);
        cp_api_reply_clear(&R);
        /* a watch streaming when compaction passes it: an ERROR event with a
         * 410 Expired Status, then the end (not a silent gap in its changes) */
        ASSERT_EQ(watch_from(rv2), 200);
        cp_http_response w = R.http;
        memset(&R.http, 0, sizeof R.http);
        ASSERT_TRUE(w.stream != NULL);
        char ev[65536];
        ASSERT_EQ(w.stream(w.stream_ud, (uint8_t *) ev, sizeof ev - 1, false), 0); /* nothing after rv2 yet */
        for (int i = 3; i <= 5; i++) {
                char patch[96];
                snprintf(patch, sizeof patch, "{\"metadata\":{\"labels\":{\"a\":\"%d\"}}}", i);
                ASSERT_EQ(kube(E.user, "PATCH", "/api/v1/nodes/" N0, NULL, NULL, "application/merge-patch+json", patch),
                          200);
        }
        gc(time(NULL), 1);
        long en = w.stream(w.stream_ud, (uint8_t *) ev, sizeof ev - 1, false);
        ASSERT_TRUE(en > 0);
        ev[en] = 0;
        json_t *err = json_loads(ev, JSON_DISABLE_EOF_CHECK, NULL);
        if (!err || strcmp(json_string_value(json_object_get(err, "type")) ?: "", "ERROR") != 0 ||
            json_integer_value(json_object_get(json_object_get(err, "object"), "code")) != 410 ||
            strcmp(json_string_value(json_object_get(json_object_get(err, "object"), "reason")) ?: "", "Expired") != 0)
                cp_test_fail(__FILE__, __LINE__, "watch past compaction: %.600s", ev);
        json_decref(err);
        ASSERT_EQ(w.stream(w.stream_ud, (uint8_t *) ev, sizeof ev, false), -1); /* ended after the ERROR */
        w.stream_free(w.stream_ud);
        /* events: kept within the hour, gone after it (DELETED in the log) */
        ASSERT_EQ(kube(E.user, "GET", "/api/v1/events", NULL, NULL, NULL, NULL), 200);
        ASSERT_TRUE(json_array_size(json_object_get(R.body, "items")) >= 1);
        gc(time(NULL) + 60, 100000);
        ASSERT_EQ(kube(E.user, "GET", "/api/v1/events", NULL, NULL, NULL, NULL), 200);
        ASSERT_TRUE(json_array_size(json_object_get(R.body, "items")) >= 1);
        gc(time(NULL) + K8S_EVENT_TTL_S + 1, 100000);
        ASSERT_EQ(kube(E.user, "GET", "/api/v1/events", NULL, NULL, NULL, NULL), 200);
        ASSERT_EQ(json_array_size(json_object_get(R.body, "items")), 0);
        ASSERT_TRUE(count_rows("SELECT COUNT(*) FROM k8s_log WHERE kind='Event' AND type='DELETED'") >= 1);
        /* a deleted cluster's objects and records go; the live cluster's stay */
        uint8_t t[32] = {7};
        json_t *o = json_pack("{s:{s:s}}", "metadata", "name", "n1");
        ASSERT_OK(cp_store_begin(E.store));
        ASSERT_OK(k8s_obj_write(E.store, "gone-cluster-uid", "Node", "", "n1", "ADDED", o));
        ASSERT_OK(k8s_bootstrap_put(E.store, "gone-cluster-uid", "pool", "n1", t));
        ASSERT_OK(cp_store_commit(E.store));
        json_decref(o);
        gc(time(NULL), 100000);
        ASSERT_EQ(count_rows("SELECT COUNT(*) FROM k8s_obj WHERE cluster='gone-cluster-uid'"), 0);
        ASSERT_EQ(count_rows("SELECT COUNT(*) FROM k8s_log WHERE cluster='gone-cluster-uid'"), 0);
        ASSERT_EQ(count_rows("SELECT COUNT(*) FROM k8s_bootstrap WHERE cluster='gone-cluster-uid'"), 0);
        ASSERT_EQ(kube(E.user, "GET", "/api/v1/nodes/" N0, NULL, NULL, NULL, NULL), 200);
        teardown();
}
