/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Node patches as kubectl sends them: `kubectl label` a JSON merge patch
 * (RFC 7386), `cordon`/`uncordon` and `taint` a strategic merge patch.  On
 * a Node the strategic merge differs from RFC 7386 only for lists with a
 * merge key; spec.taints and status.addresses are replaced as wholes by
 * kubectl (its two-way diff sends the whole list), so both are applied as a
 * merge patch with lists replaced; $setElementOrder/<field> is ordering
 * advice and ignored; other directives are refused.  What may change is
 * checked against the object before the patch (cp_k8s_node_change_check).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "controlplane/k8s.h"

int cp_k8s_patch_type_of(const char *ct) {
        if (!ct)
                return -1;
        size_t n = strcspn(ct, "; ");
        if (n == strlen("application/merge-patch+json") && strncasecmp(ct, "application/merge-patch+json", n) == 0)
                return CP_K8S_PATCH_MERGE;
        if (n == strlen("application/strategic-merge-patch+json") &&
            strncasecmp(ct, "application/strategic-merge-patch+json", n) == 0)
                return CP_K8S_PATCH_STRATEGIC;
        if (n == strlen("application/json-patch+json") && strncasecmp(ct, "application/json-patch+json", n) == 0)
                return CP_K8S_PATCH_JSON;
        return -1;
}

static int merge(json_t *target, const json_t *patch, bool strategic, int depth) {
        if (depth > 32)
                return CP_ERROR(CP_EFORMAT, "patch nested too deeply");
        const char *k;
        json_t *v;
        json_object_foreach((json_t *) patch, k, v) {
                if (k[0] == '$') {
                        if (strategic && strncmp(k, "$setElementOrder/", 17) == 0)
                                continue;
                        return CP_ERROR(CP_EFORMAT, "patch directive '%.64s' is not supported", k);
                }
                if (json_is_null(v)) {
                        json_object_del(target, k);
                        continue;
                }
                json_t *cur = json_object_get(target, k);
                if (json_is_object(v) && json_is_object(cur)) {
                        int r = merge(cur, v, strategic, depth + 1);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (json_is_object(v)) {
                        json_t *fresh = json_object();
                        int r = fresh ? merge(fresh, v, strategic, depth + 1) : cp_error_oom();
                        if (r < 0 || json_object_set_new(target, k, fresh) < 0) {
                                json_decref(fresh);
                                return r < 0 ? r : cp_error_oom();
                        }
                        continue;
                }
                if (json_object_set(target, k, v) < 0)
                        return cp_error_oom();
        }
        return 0;
}

int cp_k8s_patch_apply(cp_k8s_patch_type t, const json_t *obj, const json_t *patch, json_t **ret) {
        if (t == CP_K8S_PATCH_JSON)
                return CP_ERROR(CP_EUNSUPPORTED, "json-patch is not supported here: use a merge or strategic merge patch");
        if (!json_is_object(patch))
                return CP_ERROR(CP_EFORMAT, "the patch must be a JSON object");
        json_t *copy = json_deep_copy(obj);
        if (!copy)
                return cp_error_oom();
        int r = merge(copy, patch, t == CP_K8S_PATCH_STRATEGIC, 0);
        if (r < 0) {
                json_decref(copy);
                return r;
        }
        *ret = copy;
        return 0;
}

bool cp_k8s_label_reserved(const char *key) {
        static const char *const prefixes[] = {"kubernetes.azure.com/", "node.kubernetes.io/", "kubernetes.io/",
                                               "topology.kubernetes.io/", "node-role.kubernetes.io/",
                                               "beta.kubernetes.io/", "failure-domain.beta.kubernetes.io/"};
        for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++)
                if (strncmp(key, prefixes[i], strlen(prefixes[i])) == 0)
                        return true;
        return false;
}

/* Labels or annotations: reserved keys (or the system's own labels) may not
 * be added, changed or removed. */
static int map_check(const json_t *b, const json_t *a, const char *what, const json_t *system) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *) a, k, v) {
                if (!json_is_string(v))
                        return CP_ERROR(CP_EINVAL, "metadata.%s.%.100s: value must be a string", what, k);
                if (strlen(k) > 316 || strlen(json_string_value(v)) > 4096)
                        return CP_ERROR(CP_EINVAL, "metadata.%s.%.100s: key or value too long", what, k);
                if (!json_equal(v, json_object_get(b, k)) &&
                    (cp_k8s_label_reserved(k) || json_object_get(system, k) || strncmp(k, "confpool.io/", 12) == 0))
                        return CP_ERROR(CP_EPOLICY, "%s %.100s is reserved by the cluster and cannot be changed by users",
                                        strcmp(what, "labels") == 0 ? "label" : "annotation", k);
        }
        json_object_foreach((json_t *) b, k, v) {
                if (!json_object_get(a, k) &&
                    (cp_k8s_label_reserved(k) || json_object_get(system, k) || strncmp(k, "confpool.io/", 12) == 0))
                        return CP_ERROR(CP_EPOLICY, "%s %.100s is reserved by the cluster and cannot be removed by users",
                                        strcmp(what, "labels") == 0 ? "label" : "annotation", k);
        }
        return 0;
}

static bool has_attest_taint(const json_t *taints) {
        size_t i;
        json_t *t;
        json_array_foreach(taints, i, t) {
                const char *k = json_string_value(json_object_get(t, "key"));
                if (k && strcmp(k, CP_K8S_ATTEST_TAINT) == 0)
                        return true;
        }
        return false;
}

static int taints_check(const json_t *b, const json_t *a) {
        if (a && !json_is_array(a))
                return CP_ERROR(CP_EINVAL, "spec.taints must be a list");
        size_t i;
        json_t *t;
        json_array_foreach(a, i, t) {
                const char *key = json_string_value(json_object_get(t, "key"));
                const char *eff = json_string_value(json_object_get(t, "effect"));
                const json_t *val = json_object_get(t, "value");
                if (!json_is_object(t) || !key || !*key || strlen(key) > 316 || (val && !json_is_string(val)) || !eff ||
                    (strcmp(eff, "NoSchedule") && strcmp(eff, "PreferNoSchedule") && strcmp(eff, "NoExecute")))
                        return CP_ERROR(CP_EINVAL, "spec.taints[%zu]: a taint needs a key, a string value and an "
                                        "effect NoSchedule, PreferNoSchedule or NoExecute", i);
        }
        if (has_attest_taint(b) != has_attest_taint(a))
                return CP_ERROR(CP_EPOLICY, "taint %s is set by attestation and cannot be changed by users",
                                CP_K8S_ATTEST_TAINT);
        return 0;
}

/* Members of o other than the allowed ones must be equal in b and a. */
static int same_except(const json_t *b, const json_t *a, const char *what, const char *const *allowed) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *) a, k, v) {
                bool skip = false;
                for (size_t i = 0; allowed[i]; i++)
                        skip |= strcmp(allowed[i], k) == 0;
                if (!skip && !json_equal(v, json_object_get(b, k)))
                        return CP_ERROR(CP_EINVAL, "%s%s: field is immutable or not writable here", what, k);
        }
        json_object_foreach((json_t *) b, k, v) {
                bool skip = false;
                for (size_t i = 0; allowed[i]; i++)
                        skip |= strcmp(allowed[i], k) == 0;
                if (!skip && !json_object_get(a, k))
                        return CP_ERROR(CP_EINVAL, "%s%s: field is immutable or not writable here", what, k);
        }
        return 0;
}

int cp_k8s_node_change_check(const json_t *before, const json_t *after, const json_t *system_labels) {
        static const char *const top[] = {"metadata", "spec", NULL};
        static const char *const md[] = {"labels", "annotations", "resourceVersion", "managedFields", NULL};
        static const char *const spec[] = {"taints", "unschedulable", NULL};
        int r = same_except(before, after, "", top);
        const json_t *bm = json_object_get(before, "metadata"), *am = json_object_get(after, "metadata");
        const json_t *bs = json_object_get(before, "spec"), *as = json_object_get(after, "spec");
        if (r >= 0 && (!json_is_object(am) || (as && !json_is_object(as))))
                r = CP_ERROR(CP_EINVAL, "metadata and spec must be objects");
        if (r >= 0)
                r = same_except(bm, am, "metadata.", md);
        if (r >= 0)
                r = same_except(bs, as, "spec.", spec);
        const json_t *al = json_object_get(am, "labels"), *aa = json_object_get(am, "annotations");
        if (r >= 0 && ((al && !json_is_object(al)) || (aa && !json_is_object(aa))))
                r = CP_ERROR(CP_EINVAL, "metadata.labels and metadata.annotations must be maps");
        if (r >= 0)
                r = map_check(json_object_get(bm, "labels"), al, "labels", system_labels);
        if (r >= 0)
                r = map_check(json_object_get(bm, "annotations"), aa, "annotations", NULL);
        const json_t *u = json_object_get(as, "unschedulable");
        if (r >= 0 && u && !json_is_boolean(u))
                r = CP_ERROR(CP_EINVAL, "spec.unschedulable must be a boolean");
        if (r >= 0)
                r = taints_check(json_object_get(bs, "taints"), json_object_get(as, "taints"));
        return r;
}
