/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Server-side printing (meta.k8s.io/v1 Table), the columns kube-apiserver's
 * printers give: Node (NAME, STATUS, ROLES, AGE, VERSION and, priority 1
 * for -o wide, INTERNAL-IP, EXTERNAL-IP, OS-IMAGE, KERNEL-VERSION,
 * CONTAINER-RUNTIME), Lease (NAME, HOLDER, AGE), Namespace (NAME, STATUS,
 * AGE), Event (LAST SEEN, TYPE, REASON, OBJECT, MESSAGE), others NAME, AGE.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "controlplane/k8s.h"

bool cp_k8s_wants_table(const char *accept) {
        /* "application/json;as=Table;v=v1;g=meta.k8s.io,application/json" */
        return accept && strstr(accept, "as=Table") && strstr(accept, "g=meta.k8s.io");
}

void cp_k8s_age(int64_t s, char out[24]) {
        if (s < 0)
                s = 0;
        if (s < 120)
                snprintf(out, 24, "%llds", (long long) s);
        else if (s < 3600 * 2)
                snprintf(out, 24, "%lldm", (long long) (s / 60));
        else if (s < 86400 * 2)
                snprintf(out, 24, "%lldh", (long long) (s / 3600));
        else
                snprintf(out, 24, "%lldd", (long long) (s / 86400));
}

static int64_t ts_of(const char *t) {
        struct tm tm = {0};
        if (!t || !strptime(t, "%Y-%m-%dT%H:%M:%S", &tm))
                return 0;
        return (int64_t) timegm(&tm);
}

static const char *str_at(const json_t *o, const char *a, const char *b) {
        const json_t *v = json_object_get(o, a);
        if (b)
                v = json_object_get(v, b);
        return json_string_value(v);
}

static json_t *col(const char *name, const char *type, const char *format, int priority, const char *desc) {
        return json_pack("{s:s,s:s,s:s,s:s,s:i}", "name", name, "type", type, "format", format, "description", desc,
                         "priority", priority);
}

static json_t *node_status(const json_t *n) {
        const char *ready = "Unknown";
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(json_object_get(n, "status"), "conditions"), i, c) {
                if (strcmp(str_at(c, "type", NULL) ? str_at(c, "type", NULL) : "", "Ready") == 0) {
                        const char *s = str_at(c, "status", NULL);
                        ready = s && strcmp(s, "True") == 0 ? "Ready" : "NotReady";
                }
        }
        char buf[64];
        snprintf(buf, sizeof buf, "%s%s", ready,
                 json_is_true(json_object_get(json_object_get(n, "spec"), "unschedulable")) ? ",SchedulingDisabled" : "");
        return json_string(buf);
}

static json_t *node_roles(const json_t *n) {
        const char *k;
        json_t *v;
        char buf[256] = "";
        json_object_foreach(json_object_get(json_object_get(n, "metadata"), "labels"), k, v) {
                const char *role = NULL;
                if (strncmp(k, "node-role.kubernetes.io/", 24) == 0)
                        role = k + 24;
                else if (strcmp(k, "kubernetes.io/role") == 0)
                        role = json_string_value(v);
                if (role && *role && !strstr(buf, role) && strlen(buf) + strlen(role) + 2 < sizeof buf) {
                        if (*buf)
                                strcat(buf, ",");
                        strcat(buf, role);
                }
        }
        return json_string(*buf ? buf : "<none>");
}

static json_t *node_address(const json_t *n, const char *type) {
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(json_object_get(n, "status"), "addresses"), i, a) {
                const char *t = str_at(a, "type", NULL);
                if (t && strcmp(t, type) == 0 && str_at(a, "address", NULL))
                        return json_string(str_at(a, "address", NULL));
        }
        return json_string("<none>");
}

static json_t *info(const json_t *n, const char *k) {
        const char *v = json_string_value(json_object_get(json_object_get(json_object_get(n, "status"), "nodeInfo"), k));
        return json_string(v ? v : "<unknown>");
}

static json_t *age_cell(const json_t *o, int64_t now) {
        char a[24];
        cp_k8s_age(now - ts_of(str_at(o, "metadata", "creationTimestamp")), a);
        return json_string(a);
}

static json_t *columns(const char *kind) {
        if (strcmp(kind, "Node") == 0)
                return json_pack("[o,o,o,o,o,o,o,o,o,o]", col("Name", "string", "name", 0, "Name of the node"),
                                 col("Status", "string", "", 0, "The status of the node"),
                                 col("Roles", "string", "", 0, "The roles of the node"),
                                 col("Age", "string", "", 0, "CreationTimestamp"),
                                 col("Version", "string", "", 0, "Kubelet Version reported by the node."),
                                 col("Internal-IP", "string", "", 1, "List of internal IPs."),
                                 col("External-IP", "string", "", 1, "List of external IPs."),
                                 col("OS-Image", "string", "", 1, "OS image reported by the node."),
                                 col("Kernel-Version", "string", "", 1, "Kernel version reported by the node."),
                                 col("Container-Runtime", "string", "", 1, "Container runtime reported by the node."));
        if (strcmp(kind, "Lease") == 0)
                return json_pack("[o,o,o]", col("Name", "string", "name", 0, "Name"),
                                 col("Holder", "string", "", 0, "spec.holderIdentity"),
                                 col("Age", "string", "", 0, "CreationTimestamp"));
        if (strcmp(kind, "Namespace") == 0)
                return json_pack("[o,o,o]", col("Name", "string", "name", 0, "Name"),
                                 col("Status", "string", "", 0, "The status of the namespace"),
                                 col("Age", "string", "", 0, "CreationTimestamp"));
        if (strcmp(kind, "Event") == 0)
                return json_pack("[o,o,o,o,o]", col("Last Seen", "string", "", 0, "Time of the last occurrence"),
                                 col("Type", "string", "", 0, "Type of the event"),
                                 col("Reason", "string", "", 0, "Why the event was made"),
                                 col("Object", "string", "", 0, "The object it is about"),
                                 col("Message", "string", "", 0, "What happened"));
        return json_pack("[o,o]", col("Name", "string", "name", 0, "Name"),
                         col("Age", "string", "", 0, "CreationTimestamp"));
}

static json_t *cells(const char *kind, const json_t *o, int64_t now) {
        const char *name = str_at(o, "metadata", "name");
        if (!name)
                name = "";
        if (strcmp(kind, "Node") == 0)
                return json_pack("[s,o,o,o,o,o,o,o,o,o]", name, node_status(o), node_roles(o), age_cell(o, now),
                                 info(o, "kubeletVersion"), node_address(o, "InternalIP"),
                                 node_address(o, "ExternalIP"), info(o, "osImage"), info(o, "kernelVersion"),
                                 info(o, "containerRuntimeVersion"));
        if (strcmp(kind, "Lease") == 0) {
                const char *h = str_at(o, "spec", "holderIdentity");
                return json_pack("[s,s,o]", name, h ? h : "", age_cell(o, now));
        }
        if (strcmp(kind, "Namespace") == 0)
                return json_pack("[s,s,o]", name, "Active", age_cell(o, now));
        if (strcmp(kind, "Event") == 0) {
                char a[24], obj[400];
                cp_k8s_age(now - ts_of(str_at(o, "lastTimestamp", NULL)), a);
                const char *k = str_at(o, "involvedObject", "kind"), *n = str_at(o, "involvedObject", "name");
                snprintf(obj, sizeof obj, "%s/%s", k ? k : "", n ? n : "");
                for (char *p = obj; *p && *p != '/'; p++)
                        *p = (char) (*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
                const char *t = str_at(o, "type", NULL), *r = str_at(o, "reason", NULL), *m = str_at(o, "message", NULL);
                return json_pack("[s,s,s,s,s]", a, t ? t : "", r ? r : "", obj, m ? m : "");
        }
        return json_pack("[s,o]", name, age_cell(o, now));
}

static json_t *row_object(const json_t *o, const char *include) {
        if (include && strcmp(include, "Object") == 0)
                return json_incref((json_t *) o);
        if (include && strcmp(include, "None") == 0)
                return json_null();
        return json_pack("{s:s,s:s,s:O}", "kind", "PartialObjectMetadata", "apiVersion", "meta.k8s.io/v1", "metadata",
                         json_object_get(o, "metadata"));
}

json_t *cp_k8s_table(const char *kind, const json_t *items, int64_t now, const char *include, const char *rv) {
        json_t *rows = json_array();
        size_t i;
        json_t *o;
        json_array_foreach(items, i, o) {
                json_t *row = json_pack("{s:o,s:o}", "cells", cells(kind, o, now), "object", row_object(o, include));
                if (!row || json_array_append_new(rows, row) < 0) {
                        json_decref(rows);
                        return NULL;
                }
        }
        return rows ? json_pack("{s:s,s:s,s:{s:s},s:o,s:o}", "kind", "Table", "apiVersion", "meta.k8s.io/v1",
                                "metadata", "resourceVersion", rv ? rv : "", "columnDefinitions", columns(kind), "rows",
                                rows)
                    : NULL;
}
