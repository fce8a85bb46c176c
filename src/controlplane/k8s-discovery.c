/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Discovery as kubectl reads it: /version, /api, /apis, the resource lists
 * of v1 and coordination.k8s.io/v1, /openapi/v2 (a minimal, honest
 * document: the served paths, objects left open) and /openapi/v3's index;
 * /healthz, /livez, /readyz.  The legacy (unaggregated) discovery
 * documents: kubectl falls back to them when the answer is not an
 * APIGroupDiscoveryList.
 */
#include <stdio.h>
#include <string.h>

#include "controlplane/k8s-internal.h"

static json_t *res(const char *name, const char *kind, bool namespaced, const char *verbs, const char *short_name) {
        json_t *v = json_array();
        char buf[128];
        snprintf(buf, sizeof buf, "%s", verbs);
        for (char *t = strtok(buf, ","); t; t = strtok(NULL, ","))
                json_array_append_new(v, json_string(t));
        json_t *o = json_pack("{s:s,s:s,s:b,s:s,s:o}", "name", name, "singularName", "", "namespaced", namespaced,
                              "kind", kind, "verbs", v);
        if (short_name)
                json_object_set_new(o, "shortNames", json_pack("[s]", short_name));
        return o;
}

static json_t *core_v1(void) {
        return json_pack("{s:s,s:s,s:s,s:[o,o,o,o]}", "kind", "APIResourceList", "apiVersion", "v1", "groupVersion",
                         "v1", "resources", res("nodes", "Node", false, "delete,get,list,patch,watch", "no"),
                         res("namespaces", "Namespace", false, "get,list", "ns"),
                         res("events", "Event", true, "get,list,watch", "ev"), res("pods", "Pod", true, "get,list", "po"));
}

static json_t *coordination_group(void) {
        return json_pack("{s:s,s:[{s:s,s:s}],s:{s:s,s:s}}", "name", "coordination.k8s.io", "versions", "groupVersion",
                         "coordination.k8s.io/v1", "version", "v1", "preferredVersion", "groupVersion",
                         "coordination.k8s.io/v1", "version", "v1");
}

static json_t *openapi_v2(void) {
        json_t *paths = json_object();
        static const char *const p[] = {"/api/v1/nodes", "/api/v1/nodes/{name}", "/api/v1/namespaces",
                                        "/api/v1/namespaces/{name}", "/api/v1/events",
                                        "/api/v1/namespaces/{namespace}/events",
                                        "/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases",
                                        "/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}"};
        for (size_t i = 0; i < CP_ELEMENTSOF(p); i++)
                json_object_set_new(paths, p[i], json_pack("{s:{s:s}}", "get", "description", "read"));
        json_t *defs = json_object();
        static const char *const k[][3] = {{"io.k8s.api.core.v1.Node", "", "Node"},
                                           {"io.k8s.api.core.v1.Namespace", "", "Namespace"},
                                           {"io.k8s.api.core.v1.Event", "", "Event"},
                                           {"io.k8s.api.coordination.v1.Lease", "coordination.k8s.io", "Lease"}};
        for (size_t i = 0; i < CP_ELEMENTSOF(k); i++)
                json_object_set_new(defs, k[i][0],
                                    json_pack("{s:s,s:s,s:[{s:s,s:s,s:s}]}", "type", "object", "description",
                                              "served by confpoold; fields as in Kubernetes",
                                              "x-kubernetes-group-version-kind", "group", k[i][1], "kind", k[i][2],
                                              "version", "v1"));
        return json_pack("{s:s,s:{s:s,s:s},s:o,s:o}", "swagger", "2.0", "info", "title", "Kubernetes", "version",
                         "v1.33.0", "paths", paths, "definitions", defs);
}

bool k8s_discovery(k8s_ctx *c) {
        const char *p = c->path;
        if (strcmp(c->req->method, "GET") != 0)
                return false;
        if (!strcmp(p, "/version"))
                k8s_reply(c, 200, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "major", "1", "minor", "33",
                                            "gitVersion", "v1.33.0", "gitCommit", "confpool", "gitTreeState", "clean",
                                            "buildDate", "2026-01-01T00:00:00Z", "goVersion", "go1.24",
                                            "compiler", "gc", "platform", "linux/amd64"));
        else if (!strcmp(p, "/api"))
                k8s_reply(c, 200, json_pack("{s:s,s:[s],s:[{s:s,s:s}]}", "kind", "APIVersions", "versions", "v1",
                                            "serverAddressByClientCIDRs", "clientCIDR", "0.0.0.0/0", "serverAddress",
                                            "localhost:443"));
        else if (!strcmp(p, "/apis"))
                k8s_reply(c, 200, json_pack("{s:s,s:s,s:[o]}", "kind", "APIGroupList", "apiVersion", "v1", "groups",
                                            coordination_group()));
        else if (!strcmp(p, "/api/v1"))
                k8s_reply(c, 200, core_v1());
        else if (!strcmp(p, "/apis/coordination.k8s.io"))
                k8s_reply(c, 200, json_pack("{s:s,s:s,s:s,s:[{s:s,s:s}],s:{s:s,s:s}}", "kind", "APIGroup", "apiVersion",
                                            "v1", "name", "coordination.k8s.io", "versions", "groupVersion",
                                            "coordination.k8s.io/v1", "version", "v1", "preferredVersion",
                                            "groupVersion", "coordination.k8s.io/v1", "version", "v1"));
        else if (!strcmp(p, "/apis/coordination.k8s.io/v1"))
                k8s_reply(c, 200, json_pack("{s:s,s:s,s:s,s:[o]}", "kind", "APIResourceList", "apiVersion", "v1",
                                            "groupVersion", "coordination.k8s.io/v1", "resources",
                                            res("leases", "Lease", true, "get,list,watch", NULL)));
        else if (!strcmp(p, "/openapi/v2"))
                k8s_reply(c, 200, openapi_v2());
        else if (!strcmp(p, "/openapi/v3"))
                k8s_reply(c, 200, json_pack("{s:{}}", "paths"));
        else if (!strcmp(p, "/healthz") || !strcmp(p, "/livez") || !strcmp(p, "/readyz")) {
                if (cp_http_resp_text(c->resp, 200, "ok") < 0)
                        cp_error_clear();
        } else
                return false;
        return true;
}
