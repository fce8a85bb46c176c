/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Node objects as AKS writes them, from the cluster's machines (k8s_sync):
 * a machine that passed attestation (Ready, or Quarantined after a failed
 * re-attestation) is a Node; its labels, taints, capacity (the VM size
 * table), nodeInfo, addresses, conditions and attestation annotations are
 * the system's, merged with what users set (k8s_node_user).  A Quarantined
 * machine's Node is Ready=False with the taint
 * kubernetes.azure.com/attestation=failed:NoExecute.  Its Lease in
 * kube-node-lease carries the last heartbeat; Events record when a Node
 * joined, became NotReady (attestation failed) and was removed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "controlplane/cp-nodes.h"
#include "controlplane/k8s-internal.h"

static void ts(int64_t t, char out[32]) {
        struct tm tm;
        time_t tt = (time_t) t;
        gmtime_r(&tt, &tm);
        strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *pstr(const json_t *doc, const char *k) {
        return json_string_value(json_object_get(json_object_get(doc, "properties"), k));
}

/* AKS's kube-reserved CPU (millicores) for a core count and memory (Ki). */
static unsigned reserved_cpu_m(unsigned cores) {
        return cores <= 1 ? 60 : cores <= 2 ? 100 : cores <= 4 ? 140 : cores <= 8 ? 180 : cores <= 16 ? 260
               : cores <= 32 ? 420 : 740;
}

static uint64_t reserved_mem_ki(uint64_t gib) {
        double g = (double) gib, r = 0;
        r += (g < 4 ? g : 4) * 0.25;
        r += g > 4 ? ((g < 8 ? g : 8) - 4) * 0.20 : 0;
        r += g > 8 ? ((g < 16 ? g : 16) - 8) * 0.10 : 0;
        r += g > 16 ? ((g < 128 ? g : 128) - 16) * 0.06 : 0;
        r += g > 128 ? (g - 128) * 0.02 : 0;
        return (uint64_t) (r * 1024 * 1024) + 100 * 1024; /* + eviction threshold 100Mi */
}

static json_t *labels_of(cp_api *api, const json_t *cluster, const json_t *pool, const cp_machine *m,
                         const cp_vm_size *sz) {
        const char *pname = json_string_value(json_object_get(pool, "name"));
        const char *mode = pstr(pool, "mode"), *sku = pstr(pool, "osSKU"), *size = pstr(pool, "vmSize");
        const char *loc = json_string_value(json_object_get(cluster, "location"));
        json_t *l = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}",
                              "agentpool", pname ? pname : "", "kubernetes.azure.com/agentpool", pname ? pname : "",
                              "kubernetes.azure.com/mode", mode && strcmp(mode, "System") == 0 ? "system" : "user",
                              "kubernetes.azure.com/role", "agent", "kubernetes.azure.com/os-sku", sku ? sku : "Ubuntu",
                              "kubernetes.azure.com/node-image-version", m->image, "kubernetes.azure.com/cluster",
                              json_string_value(json_object_get(json_object_get(cluster, "properties"),
                                                                "nodeResourceGroup"))
                                      ? json_string_value(json_object_get(json_object_get(cluster, "properties"),
                                                                          "nodeResourceGroup"))
                                      : "",
                              "node.kubernetes.io/instance-type", size ? size : "", "beta.kubernetes.io/instance-type",
                              size ? size : "", "kubernetes.io/os", "linux", "beta.kubernetes.io/os", "linux",
                              "kubernetes.io/arch", sz && sz->arm64 ? "arm64" : "amd64", "beta.kubernetes.io/arch",
                              sz && sz->arm64 ? "arm64" : "amd64", "kubernetes.io/hostname", m->name,
                              "kubernetes.io/role", "agent", "node-role.kubernetes.io/agent", "",
                              "topology.kubernetes.io/region", loc ? loc : "");
        json_object_set_new(l, "topology.kubernetes.io/zone", json_string("0"));
        if (sz && sz->tee != CP_TEE_NONE)
                json_object_set_new(l, "kubernetes.azure.com/security-type", json_string("ConfidentialVM"));
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(json_object_get(pool, "properties"), "nodeLabels"), k, v) {
                if (json_is_string(v) && !json_object_get(l, k))
                        json_object_set(l, k, v);
        }
        (void) api;
        return l;
}

/* The pool's nodeTaints ("key=value:Effect") as Taint objects. */
static json_t *pool_taints(const json_t *pool) {
        json_t *a = json_array();
        size_t i;
        json_t *t;
        json_array_foreach(json_object_get(json_object_get(pool, "properties"), "nodeTaints"), i, t) {
                const char *s = json_string_value(t);
                const char *colon = s ? strrchr(s, ':') : NULL;
                if (!colon)
                        continue;
                char key[320] = "", val[320] = "";
                const char *eq = memchr(s, '=', (size_t) (colon - s));
                snprintf(key, sizeof key, "%.*s", (int) ((eq ? eq : colon) - s), s);
                if (eq)
                        snprintf(val, sizeof val, "%.*s", (int) (colon - eq - 1), eq + 1);
                json_t *o = json_pack("{s:s,s:s}", "key", key, "effect", colon + 1);
                if (*val)
                        json_object_set_new(o, "value", json_string(val));
                json_array_append_new(a, o);
        }
        return a;
}

static json_t *conditions(bool ready, const char *reason, const char *hb, const char *since) {
        json_t *c = json_array();
        static const char *const p[][3] = {
                {"MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"},
                {"DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"},
                {"PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"}};
        for (size_t i = 0; i < 3; i++)
                json_array_append_new(c, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "type", p[i][0], "status", "False",
                                                   "lastHeartbeatTime", hb, "lastTransitionTime", since, "reason",
                                                   p[i][1], "message", p[i][2]));
        char msg[600];
        snprintf(msg, sizeof msg, "%s%s", ready ? "kubelet is posting ready status" : "attestation failed: ",
                 ready ? "" : reason);
        json_array_append_new(c, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "type", "Ready", "status", ready ? "True" : "False",
                                           "lastHeartbeatTime", hb, "lastTransitionTime", hb, "reason",
                                           ready ? "KubeletReady" : "AttestationFailed", "message", msg));
        return c;
}

static json_t *resources(const cp_vm_size *sz, bool alloc) {
        unsigned cpu = sz ? sz->vcpus : 2;
        uint64_t mem = (uint64_t) (sz ? sz->mem_gib : 8) * 1024 * 1024;
        char c[32], m[32];
        if (alloc) {
                snprintf(c, sizeof c, "%um", cpu * 1000 - reserved_cpu_m(cpu));
                snprintf(m, sizeof m, "%lluKi", (unsigned long long) (mem - reserved_mem_ki(sz ? sz->mem_gib : 8)));
        } else {
                snprintf(c, sizeof c, "%u", cpu);
                snprintf(m, sizeof m, "%lluKi", (unsigned long long) mem);
        }
        return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "cpu", c, "memory", m, "pods", "110", "ephemeral-storage",
                         alloc ? "119703055367" : "129886128Ki", "hugepages-1Gi", "0", "hugepages-2Mi", "0");
}

static json_t *annotations(const cp_machine *m, const cp_node_info *in, const cp_vm_size *sz) {
        char at[32], exp[32];
        ts(in->attested_at, at);
        ts(in->token_exp, exp);
        json_t *a = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "node.alpha.kubernetes.io/ttl", "0",
                              "volumes.kubernetes.io/controller-managed-attach-detach", "true",
                              "kubernetes.azure.com/attestation-tee",
                              sz && sz->tee == CP_TEE_TDX ? "tdx" : sz && sz->tee == CP_TEE_SEV_SNP ? "sevsnp" : "none",
                              "kubernetes.azure.com/attestation-measurement", in->measurement,
                              "kubernetes.azure.com/attestation-tcb", in->tcb, "kubernetes.azure.com/attestation-time",
                              at, "kubernetes.azure.com/attestation-token-expiry", exp,
                              "kubernetes.azure.com/attestation-host", in->host);
        if (strcmp(m->state, "Quarantined") == 0)
                json_object_set_new(a, "kubernetes.azure.com/attestation-failure", json_string(in->reason));
        return a;
}

/* A Node from its machine and the user's part (u: labels, annotations, taints, unschedulable). */
static json_t *render(cp_api *api, const json_t *cluster, const json_t *pool, const cp_machine *m,
                      const cp_node_info *in, const json_t *u, const json_t *old) {
        const cp_vm_size *sz = cp_rules_find_size(api->rules, pstr(pool, "vmSize") ? pstr(pool, "vmSize") : "");
        bool ready = strcmp(m->state, "Ready") == 0;
        json_t *labels = labels_of(api, cluster, pool, m, sz), *ann = annotations(m, in, sz);
        json_object_update_missing(labels, json_object_get(u, "labels"));
        json_object_update_missing(ann, json_object_get(u, "annotations"));
        json_t *taints = pool_taints(pool);
        size_t ti;
        json_t *t;
        json_array_foreach(json_object_get(u, "taints"), ti, t) {
                bool dup = false;
                for (size_t j = 0; j < json_array_size(taints); j++) {
                        const json_t *o = json_array_get(taints, j);
                        dup |= json_equal(json_object_get(o, "key"), json_object_get(t, "key")) &&
                               json_equal(json_object_get(o, "effect"), json_object_get(t, "effect"));
                }
                if (!dup)
                        json_array_append(taints, t);
        }
        if (!ready)
                json_array_append_new(taints, json_pack("{s:s,s:s,s:s}", "key", CP_K8S_ATTEST_TAINT, "value", "failed",
                                                        "effect", "NoExecute"));
        char created[32] = "", uidbuf[37], hb[32];
        snprintf(created, sizeof created, "%.19sZ", m->created);
        ts(in->attested_at ? in->attested_at : time(NULL), hb);
        const char *uid = json_string_value(json_object_get(json_object_get(old, "metadata"), "uid"));
        if (!uid) {
                api_uuid(uidbuf);
                uid = uidbuf;
        }
        const char *ver = pstr(pool, "currentOrchestratorVersion") ? pstr(pool, "currentOrchestratorVersion")
                                                                     : pstr(pool, "orchestratorVersion");
        char kubelet[32], provider[800];
        snprintf(kubelet, sizeof kubelet, "v%s", ver ? ver : "1.33.0");
        snprintf(provider, sizeof provider, "confpool://%s", m->handle);
        json_t *spec = json_pack("{s:s,s:o}", "providerID", provider, "taints", taints);
        if (json_is_true(json_object_get(u, "unschedulable")))
                json_object_set_new(spec, "unschedulable", json_true());
        if (json_array_size(taints) == 0)
                json_object_del(spec, "taints");
        return json_pack("{s:s,s:s,s:{s:s,s:s,s:s,s:o,s:o},s:o,s:{s:o,s:o,s:o,s:[{s:s,s:s},{s:s,s:s}],"
                         "s:{s:{s:i}},s:{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}}}",
                         "kind", "Node", "apiVersion", "v1", "metadata", "name", m->name, "uid", uid,
                         "creationTimestamp", created, "labels", labels, "annotations", ann, "spec", spec, "status",
                         "capacity", resources(sz, false), "allocatable", resources(sz, true), "conditions",
                         conditions(ready, in->reason, hb, created), "addresses", "type", "InternalIP", "address",
                         m->ip, "type", "Hostname", "address", m->name, "daemonEndpoints", "kubeletEndpoint", "Port",
                         10250, "nodeInfo", "machineID", m->handle, "systemUUID", uid, "bootID", uid, "kernelVersion",
                         "5.15.0-1079-azure", "osImage", "Ubuntu 22.04.5 LTS", "containerRuntimeVersion",
                         "containerd://1.7.27-1", "kubeletVersion", kubelet, "kubeProxyVersion", kubelet,
                         "operatingSystem", "linux", "architecture", sz && sz->arm64 ? "arm64" : "amd64");
}

static int event(cp_store *s, const char *cluster, const json_t *node, const char *type, const char *reason,
                 const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int event(cp_store *s, const char *cluster, const json_t *node, const char *type, const char *reason,
                 const char *fmt, ...) {
        char msg[700], now[32], name[200], uid[37];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        ts(time(NULL), now);
        api_uuid(uid);
        const json_t *md = json_object_get(node, "metadata");
        const char *nn = json_string_value(json_object_get(md, "name"));
        snprintf(name, sizeof name, "%s.%.16s", nn ? nn : "", uid + 24);
        json_t *e = json_pack("{s:s,s:s,s:{s:s,s:s,s:s,s:s},s:{s:s,s:s,s:O,s:O},s:s,s:s,s:{s:s},s:s,s:s,s:i,s:s,s:s}",
                              "kind", "Event", "apiVersion", "v1", "metadata", "name", name, "namespace", "default",
                              "uid", uid, "creationTimestamp", now, "involvedObject", "kind", "Node", "apiVersion", "v1",
                              "name", json_object_get(md, "name"), "uid", json_object_get(md, "name"), "reason", reason,
                              "message", msg, "source", "component", "confpoold", "firstTimestamp", now,
                              "lastTimestamp", now, "count", 1, "type", type, "reportingComponent", "confpoold");
        int r = e ? k8s_obj_write(s, cluster, "Event", "default", name, "ADDED", e) : cp_error_oom();
        json_decref(e);
        return r;
}

static bool node_ready(const json_t *n) {
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(json_object_get(n, "status"), "conditions"), i, c) {
                const char *t = json_string_value(json_object_get(c, "type"));
                if (t && strcmp(t, "Ready") == 0)
                        return json_is_true(json_object_get(c, "status")) ||
                               strcmp(json_string_value(json_object_get(c, "status")) ?: "", "True") == 0;
        }
        return false;
}

/* Lease of a node: renewTime = its last heartbeat. */
static int lease_sync(cp_store *s, const char *cluster, const json_t *node, const cp_node_info *in) {
        const json_t *md = json_object_get(node, "metadata");
        const char *name = json_string_value(json_object_get(md, "name"));
        char renew[40];
        int64_t hb = in->heartbeat_at ? in->heartbeat_at : in->attested_at;
        struct tm tm;
        time_t tt = (time_t) hb;
        gmtime_r(&tt, &tm);
        strftime(renew, sizeof renew, "%Y-%m-%dT%H:%M:%S.000000Z", &tm);
        json_t *old = NULL;
        if (k8s_obj_get(s, cluster, "Lease", "kube-node-lease", name, &old) < 0)
                cp_error_clear();
        const char *ouid = json_string_value(json_object_get(json_object_get(old, "metadata"), "uid"));
        char uid[37];
        if (ouid)
                snprintf(uid, sizeof uid, "%s", ouid);
        else
                api_uuid(uid);
        json_t *l = json_pack("{s:s,s:s,s:{s:s,s:s,s:s,s:O,s:[{s:s,s:s,s:O,s:O}]},s:{s:s,s:i,s:s}}", "kind", "Lease",
                              "apiVersion", "coordination.k8s.io/v1", "metadata", "name", name, "namespace",
                              "kube-node-lease", "uid", uid, "creationTimestamp",
                              json_object_get(md, "creationTimestamp"), "ownerReferences", "apiVersion", "v1", "kind",
                              "Node", "name", json_object_get(md, "name"), "uid", json_object_get(md, "uid"), "spec",
                              "holderIdentity", name, "leaseDurationSeconds", 40, "renewTime", renew);
        int r = 0;
        if (old)
                json_object_set(json_object_get(l, "metadata"), "resourceVersion",
                                json_object_get(json_object_get(old, "metadata"), "resourceVersion"));
        if (l && (!old || !json_equal(old, l)))
                r = k8s_obj_write(s, cluster, "Lease", "kube-node-lease", name, old ? "MODIFIED" : "ADDED", l);
        json_decref(l);
        json_decref(old);
        return r;
}

/* One machine: its Node (and Lease) written when changed; *seen gets the name. */
static int machine_sync(cp_api *api, const json_t *cluster, const char *cid, const json_t *pool,
                        const cp_machine *m, json_t *seen) {
        const char *pid = json_string_value(json_object_get(pool, "id"));
        cp_node_info in;
        if (strcmp(m->state, "Ready") != 0 && strcmp(m->state, "Quarantined") != 0)
                return 0;
        if (cp_nodes_info(api->store, pid, m->name, &in) < 0) {
                cp_error_clear();
                return 0; /* never attested: never joined */
        }
        json_t *u = NULL, *old = NULL;
        int r = k8s_node_user_get(api->store, cid, m->name, &u);
        int64_t del = json_integer_value(json_object_get(u, "deletedAt"));
        if (r < 0 || (del && in.heartbeat_at <= del && in.attested_at <= del)) {
                json_decref(u);
                return r; /* a user deleted it: it registers again at its next heartbeat */
        }
        json_object_set_new(seen, m->name, json_true());
        if (k8s_obj_get(api->store, cid, "Node", "", m->name, &old) < 0)
                cp_error_clear();
        json_t *n = render(api, cluster, pool, m, &in, u, old);
        if (old)
                json_object_set(json_object_get(n, "metadata"), "resourceVersion",
                                json_object_get(json_object_get(old, "metadata"), "resourceVersion"));
        if (n && (!old || !json_equal(old, n))) {
                r = k8s_obj_write(api->store, cid, "Node", "", m->name, old ? "MODIFIED" : "ADDED", n);
                bool was = old && node_ready(old), is = node_ready(n);
                if (r >= 0 && !old)
                        r = event(api->store, cid, n, "Normal", "RegisteredNode",
                                  "Node %s joined after attestation (TCB %s)", m->name, in.tcb);
                if (r >= 0 && was && !is)
                        r = event(api->store, cid, n, "Warning", "NodeNotReady",
                                  "Node %s quarantined: attestation failed: %.400s", m->name, in.reason);
                if (r >= 0 && old && !was && is)
                        r = event(api->store, cid, n, "Normal", "NodeReady", "Node %s status is now: NodeReady",
                                  m->name);
        }
        if (r >= 0 && n)
                r = lease_sync(api->store, cid, n, &in);
        json_decref(n);
        json_decref(old);
        json_decref(u);
        return r;
}

/* Nodes (and their Leases) whose machines are gone. */
static int remove_gone(cp_api *api, const char *cid, const json_t *seen) {
        json_t *nodes = NULL;
        int r = k8s_obj_list(api->store, cid, "Node", "", &nodes, NULL);
        size_t i;
        json_t *n;
        json_array_foreach(nodes, i, n) {
                const char *name = json_string_value(json_object_get(json_object_get(n, "metadata"), "name"));
                if (r < 0 || !name || json_object_get(seen, name))
                        continue;
                r = k8s_obj_write(api->store, cid, "Node", "", name, "DELETED", n);
                if (r >= 0)
                        r = event(api->store, cid, n, "Normal", "RemovingNode", "Node %s event: Removing Node %s "
                                  "from Controller", name, name);
                json_t *l = NULL;
                if (r >= 0 && k8s_obj_get(api->store, cid, "Lease", "kube-node-lease", name, &l) >= 0)
                        r = k8s_obj_write(api->store, cid, "Lease", "kube-node-lease", name, "DELETED", l);
                cp_error_clear();
                json_decref(l);
        }
        json_decref(nodes);
        return r;
}

int k8s_sync(cp_api *api, const json_t *cluster) {
        const char *cid = json_string_value(json_object_get(cluster, "id"));
        const char *lc = pstr(cluster, "resourceUID");
        if (!cid || !lc)
                return CP_ERROR(CP_EFORMAT, "cluster without id or resourceUID");
        json_t *pools = NULL, *seen = json_object(), *p;
        int r = seen ? cp_res_list(api->store, "pool", NULL, NULL, cid, &pools) : cp_error_oom();
        size_t i;
        json_array_foreach(pools, i, p) {
                cp_machine *ms = NULL;
                size_t n = 0;
                const char *pid = json_string_value(json_object_get(p, "id"));
                if (r < 0 || !pid || (r = cp_machine_list(api->store, pid, &ms, &n)) < 0)
                        break;
                for (size_t j = 0; r >= 0 && j < n; j++)
                        r = machine_sync(api, cluster, lc, p, &ms[j], seen);
                free(ms);
        }
        if (r >= 0)
                r = remove_gone(api, lc, seen);
        json_decref(pools);
        json_decref(seen);
        return r;
}
