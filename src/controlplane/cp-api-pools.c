/* SPDX-License-Identifier: Apache-2.0 */
/* Agent pools: PUT/GET/list/DELETE, abort, upgradeNodeImageVersion,
 * upgradeProfiles/default, deleteMachines, machines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "basic/cleanup.h"
#include "basic/codec.h"
#include "controlplane/cp-api-internal.h"
#include "controlplane/cp-nodes.h"
#include "controlplane/cp-reconciler.h"

#define POOL_TYPE "Microsoft.ContainerService/managedClusters/agentPools"

static const char *props_str(const json_t *res, const char *k) {
        return json_string_value(json_object_get(json_object_get(res, "properties"), k));
}

int api_pool_body(api_ctx *c, json_t *pool, json_t **ret) {
        (void) c;
        json_t *b = json_deep_copy(pool);
        if (!b)
                return cp_error_oom();
        *ret = b;
        return 0;
}

typedef struct usage {
        const cp_rules *rules;
        unsigned long long sum;
} usage;

static void add_usage(void *ud, const char *vm_size, int64_t count) {
        usage *u = ud;
        const cp_vm_size *sz = cp_rules_find_size(u->rules, vm_size);
        if (sz && count > 0)
                u->sum += (unsigned long long) count * sz->vcpus;
}

int api_vcpus_in_use(api_ctx *c, const char *sub, const char *location, const char *exclude_pool_id, unsigned *ret) {
        usage u = {.rules = c->api->rules};
        int r = cp_res_pool_usage(c->api->store, sub, location, exclude_pool_id ? exclude_pool_id : "", add_usage, &u);
        if (r < 0)
                return r;
        *ret = u.sum > 0xffffffffull ? 0xffffffffu : (unsigned) u.sum;
        return 0;
}

/* Load the cluster of a pool request; writes the 404 itself (returns 1). */
static int load_cluster(api_ctx *c, const char *sub, const char *rg, const char *name, char *cluster_id, size_t size,
                        json_t **ret) {
        snprintf(cluster_id, size, "/subscriptions/%s/resourceGroups/%s/providers/" CP_NS_CS "/managedClusters/%s", sub,
                 rg, name);
        if (!api_is_guid(sub))
                return api_error(c, 400, "InvalidSubscriptionId", NULL,
                                 "The provided subscription identifier '%s' is malformed or invalid.", sub);
        int r = cp_res_get(c->api->store, cluster_id, ret, NULL);
        if (r == CP_ENOTFOUND) {
                cp_error_clear();
                return api_error(c, 404, "ResourceNotFound", NULL,
                                 "The Resource '" CP_NS_CS "/managedClusters/%s' under resource group '%s' was not found.",
                                 name, rg);
        }
        return r;
}

static int pool_not_found(api_ctx *c, const char *pool) {
        return api_error(c, 404, "ResourceNotFound", NULL, "Agent pool '%s' was not found.", pool);
}

static int count_other_system(api_ctx *c, const char *cluster_id, const char *pool_id, unsigned *ret) {
        return cp_res_count_system_pools(c->api->store, cluster_id, pool_id, ret);
}

/* Validate + store a pool document (create or update); used by the pool PUT
 * and by cluster creation.  existing: the stored document or NULL. */
int cp_api_pool_apply(api_ctx *c, const char *sub, const char *cluster_id, const json_t *cluster, const char *pool_id,
                      const char *name, json_t *props, const json_t *existing, unsigned extra_vcpus,
                      unsigned extra_system, cp_rule_error *err, json_t **ret_doc) {
        const char *location = json_string_value(json_object_get(cluster, "location"));
        unsigned other_sys = 0, in_use = 0;
        int r = count_other_system(c, cluster_id, pool_id, &other_sys);
        if (r >= 0)
                r = api_vcpus_in_use(c, sub, location, pool_id, &in_use);
        if (r < 0)
                return r;
        feature_ud fu = {.c = c, .sub = sub};
        cp_pool_context ctx = {
                .cluster_version = props_str(cluster, "currentKubernetesVersion"),
                .location = location,
                .existing = existing ? json_object_get(existing, "properties") : NULL,
                .other_system_pools = other_sys + extra_system,
                .vcpus_in_use = in_use + extra_vcpus,
                .feature_registered = api_feature_registered,
                .userdata = &fu,
        };
        r = cp_rules_validate_pool(c->api->rules, &ctx, name, props, err);
        if (r < 0)
                return 1; /* validation failure: err filled */
        /* upgradeSettings.maxSurge: what the rolling node-image upgrade honours */
        const json_t *surge = json_object_get(json_object_get(props, "upgradeSettings"), "maxSurge");
        long sn;
        if (surge && !json_is_string(surge)) {
                cp_rule_fail(err, 400, "InvalidParameter", "properties.upgradeSettings.maxSurge",
                             "upgradeSettings.maxSurge must be a string: a number of nodes (\"1\") or a percentage "
                             "(\"33%%\").");
                return 1;
        }
        if (surge && cp_max_surge(json_string_value(surge), 1, &sn) < 0) {
                cp_rule_fail(err, 400, "InvalidParameter", "properties.upgradeSettings.maxSurge", "%s",
                             cp_error_message());
                cp_error_clear();
                return 1;
        }
        char etag[37];
        api_uuid(etag);
        /* a new Kubernetes version rolls the pool's nodes (cp-reconciler.c): AKS's "Upgrading" */
        const char *ov = existing ? props_str(existing, "currentOrchestratorVersion") : NULL;
        const char *nv = json_string_value(json_object_get(props, "currentOrchestratorVersion"));
        bool upgrading = ov && nv && strcmp(ov, nv) != 0;
        json_object_set_new(props, "provisioningState",
                            json_string(!existing ? "Creating" : upgrading ? "Upgrading" : "Updating"));
        json_object_set_new(props, "eTag", json_string(etag));
        json_t *doc = json_pack("{s:s,s:s,s:s,s:O,s:o}", "id", pool_id, "name", name, "type", POOL_TYPE, "properties", props,
                                "systemData", api_system_data(c, existing ? json_object_get(existing, "systemData") : NULL));
        if (!doc)
                return cp_error_oom();
        if (existing)
                json_object_set(doc, "id", json_object_get(existing, "id")); /* keep the creator's casing */
        const char *rg_start = strcasestr(cluster_id, "/resourceGroups/");
        char rg[256] = "";
        if (rg_start)
                snprintf(rg, sizeof rg, "%.*s", (int) strcspn(rg_start + 16, "/"), rg_start + 16);
        cp_res_key k = {.id = pool_id, .kind = "pool", .sub = sub, .rg = rg, .parent = cluster_id, .name = name,
                        .location = location};
        r = cp_res_put(c->api->store, &k, doc, etag);
        if (r < 0) {
                json_decref(doc);
                return r;
        }
        *ret_doc = doc;
        return 0;
}

/* A PUT on a Failed pool retries it (ARM: re-PUT the same body after a
 * failure): the machines the failed operation left that are not Ready
 * (Failed, Quarantined, or never polled again after the first failure,
 * e.g. while a dependency was down) are marked for deletion, so the new
 * operation replaces them instead of finding the same failed nodes and
 * failing at once with their stale error.  Ready machines stay.  In the
 * request's transaction. */
static int pool_retry_failed(api_ctx *c, const char *pool_id, const json_t *existing) {
        const char *ps = props_str(existing, "provisioningState");
        if (!ps || strcmp(ps, "Failed") != 0)
                return 0;
        cp_machine *ms = NULL;
        size_t n = 0;
        int r = cp_machine_list(c->api->store, pool_id, &ms, &n);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                if (ms[i].delete_requested || strcmp(ms[i].state, "Ready") == 0)
                        continue;
                ms[i].delete_requested = true;
                r = cp_machine_put(c->api->store, &ms[i]);
        }
        free(ms);
        return r < 0 ? r : 0;
}

int api_pool_retry(api_ctx *c, const char *sub, const char *location, json_t *pool) {
        const char *id = json_string_value(json_object_get(pool, "id"));
        const char *ps = props_str(pool, "provisioningState");
        cp_op op;
        if (!id || !ps || strcmp(ps, "Failed") != 0)
                return 0;
        if (cp_op_active_for(c->api->store, id, &op) >= 0)
                return 0;
        cp_error_clear();
        int r = pool_retry_failed(c, id, pool);
        char etag[37];
        api_uuid(etag);
        json_object_set_new(json_object_get(pool, "properties"), "provisioningState", json_string("Updating"));
        json_object_set_new(json_object_get(pool, "properties"), "eTag", json_string(etag));
        if (r >= 0)
                r = cp_res_update(c->api->store, id, pool, etag);
        if (r >= 0)
                r = api_new_op(c, "pool", "update", id, sub, location, &op);
        return r < 0 ? r : 0;
}

static int pool_put(api_ctx *c, const char *sub, const char *rg, const char *cname, const char *pname) {
        char cluster_id[512], pool_id[600], etag[40] = "";
        json_t *cluster = NULL, *existing = NULL;
        int r = load_cluster(c, sub, rg, cname, cluster_id, sizeof cluster_id, &cluster);
        if (r != 0)
                return r;
        /* echo the client's casing of the whole path */
        snprintf(pool_id, sizeof pool_id, "%s", c->path);
        if (pool_id[strlen(pool_id) - 1] == '/')
                pool_id[strlen(pool_id) - 1] = 0;
        r = cp_res_get(c->api->store, pool_id, &existing, etag);
        if (r < 0 && r != CP_ENOTFOUND)
                goto out;
        cp_error_clear();
        r = 0;
        const char *cps = props_str(cluster, "provisioningState");
        if (cps && strcmp(cps, "Deleting") == 0) {
                r = api_error(c, 409, "OperationNotAllowed", NULL, "Cluster '%s' is being deleted.", cname);
                goto out;
        }
        if (c->if_none_match && existing && api_etag_matches(c->if_none_match, etag)) {
                r = api_error(c, 412, "PreconditionFailed", NULL,
                              "Agent pool '%s' already exists and If-None-Match was given.", pname);
                goto out;
        }
        if (c->if_match && (!existing || !api_etag_matches(c->if_match, etag))) {
                r = api_error(c, 412, "PreconditionFailed", NULL,
                              "The If-Match eTag does not match the current eTag of agent pool '%s'.", pname);
                goto out;
        }
        if (existing) {
                cp_op op;
                if (cp_op_active_for(c->api->store, pool_id, &op) >= 0) {
                        r = api_error(c, 409, "OperationNotAllowed", NULL,
                                      "Operation is not allowed because there's an in progress %s operation on agent pool "
                                      "'%s' (operation %s).",
                                      op.action, pname, op.id);
                        goto out;
                }
                cp_error_clear();
        }
        json_t *props = json_object_get(c->body, "properties");
        if (!json_is_object(c->body) || !json_is_object(props)) {
                r = api_error(c, 400, "InvalidParameter", "properties",
                              "Required parameter properties is missing (null).");
                goto out;
        }
        json_t *p = json_deep_copy(props), *doc = NULL;
        cp_rule_error err = {0};
        r = cp_api_pool_apply(c, sub, cluster_id, cluster, pool_id, pname, p, existing, 0, 0, &err, &doc);
        json_decref(p);
        if (r == 1) {
                r = api_rule_error(c, &err);
                goto out;
        }
        if (r >= 0 && existing && (r = pool_retry_failed(c, pool_id, existing)) < 0)
                json_decref(doc);
        if (r < 0)
                goto out;
        cp_op op;
        r = api_new_op(c, "pool", existing ? "update" : "create", pool_id, sub,
                       json_string_value(json_object_get(cluster, "location")), &op);
        if (r < 0) {
                json_decref(doc);
                goto out;
        }
        char et[80];
        snprintf(et, sizeof et, "\"%s\"", props_str(doc, "eTag"));
        r = api_json(c, existing ? 200 : 201, doc);
        api_lro_headers(c, &op, false);
        api_header(c, "ETag", et);
out:
        json_decref(cluster);
        json_decref(existing);
        return r;
}

static int pool_load(api_ctx *c, const char *sub, const char *rg, const char *cname, const char *pname, char *pool_id,
                     size_t size, json_t **ret_cluster, json_t **ret_pool, char etag[40]) {
        char cluster_id[512];
        int r = load_cluster(c, sub, rg, cname, cluster_id, sizeof cluster_id, ret_cluster);
        if (r != 0)
                return r;
        snprintf(pool_id, size, "%s/agentPools/%s", cluster_id, pname);
        r = cp_res_get(c->api->store, pool_id, ret_pool, etag);
        if (r == CP_ENOTFOUND) {
                cp_error_clear();
                json_decref(*ret_cluster);
                *ret_cluster = NULL;
                return pool_not_found(c, pname);
        }
        if (r < 0) {
                json_decref(*ret_cluster);
                *ret_cluster = NULL;
        }
        return r;
}

static int pool_get(api_ctx *c, const char *sub, const char *rg, const char *cname, const char *pname) {
        char cluster_id[512], pool_id[600], etag[40];
        json_t *cluster = NULL;
        int r = load_cluster(c, sub, rg, cname, cluster_id, sizeof cluster_id, &cluster);
        if (r != 0)
                return r;
        json_decref(cluster);
        snprintf(pool_id, sizeof pool_id, "%s/agentPools/%s", cluster_id, pname);
        /* the stored document is the response: no re-serialisation */
        char *raw = NULL;
        size_t len = 0;
        r = cp_res_get_raw(c->api->store, pool_id, &raw, &len, etag);
        if (r == CP_ENOTFOUND) {
                cp_error_clear();
                return pool_not_found(c, pname);
        }
        if (r < 0)
                return r;
        char et[80];
        snprintf(et, sizeof et, "\"%s\"", etag);
        api_raw(c, 200, raw, len);
        api_header(c, "ETag", et);
        return 1;
}

static int pool_list(api_ctx *c, const char *sub, const char *rg, const char *cname) {
        char cluster_id[512];
        json_t *cluster = NULL, *v = NULL;
        int r = load_cluster(c, sub, rg, cname, cluster_id, sizeof cluster_id, &cluster);
        if (r != 0)
                return r;
        json_decref(cluster);
        (void) v;
        return api_list_raw(c, "pool", NULL, NULL, cluster_id);
}

int api_start_pool_delete(api_ctx *c, const char *pool_id, json_t *pool, cp_op *ret_op) {
        cp_op op;
        if (cp_op_active_for(c->api->store, pool_id, &op) >= 0) {
                if (strcmp(op.action, "delete") == 0) {
                        *ret_op = op;
                        return 0;
                }
                int r = cp_op_finish(c->api->store, op.id, "Canceled", "OperationCanceled",
                                     "The operation was superseded by a delete.");
                if (r < 0)
                        return r;
        }
        cp_error_clear();
        json_object_set_new(json_object_get(pool, "properties"), "provisioningState", json_string("Deleting"));
        int r = cp_res_update(c->api->store, pool_id, pool, NULL);
        /* the operator's attestation policy override goes with the pool */
        if (r >= 0)
                r = cp_attest_policy_remove(c->api->store, pool_id);
        if (r < 0)
                return r;
        const char *sub_start = pool_id + strlen("/subscriptions/");
        char sub[64];
        snprintf(sub, sizeof sub, "%.*s", (int) strcspn(sub_start, "/"), sub_start);
        char cluster_id[600];
        snprintf(cluster_id, sizeof cluster_id, "%.*s", (int) (strcasestr(pool_id, "/agentPools/") - pool_id), pool_id);
        json_t *cluster = NULL;
        r = cp_res_get(c->api->store, cluster_id, &cluster, NULL);
        if (r < 0)
                return r;
        r = api_new_op(c, "pool", "delete", pool_id, sub, json_string_value(json_object_get(cluster, "location")), ret_op);
        json_decref(cluster);
        return r;
}

static int pool_delete(api_ctx *c, const char *sub, const char *rg, const char *cname, const char *pname) {
        char cluster_id[512], pool_id[600], etag[40];
        json_t *cluster = NULL, *pool = NULL;
        int r = load_cluster(c, sub, rg, cname, cluster_id, sizeof cluster_id, &cluster);
        if (r == 1 && c->resp->status == 404) {
                /* ARM: deleting what does not exist is a 204 */
                cp_http_resp_clear(c->resp);
                return api_json(c, 204, NULL);
        }
        if (r != 0)
                return r;
        snprintf(pool_id, sizeof pool_id, "%s/agentPools/%s", cluster_id, pname);
        r = cp_res_get(c->api->store, pool_id, &pool, etag);
        if (r == CP_ENOTFOUND) {
                cp_error_clear();
                json_decref(cluster);
                return api_json(c, 204, NULL);
        }
        if (r < 0) {
                json_decref(cluster);
                return r;
        }
        if (c->if_match && !api_etag_matches(c->if_match, etag)) {
                r = api_error(c, 412, "PreconditionFailed", NULL,
                              "The If-Match eTag does not match the current eTag of agent pool '%s'.", pname);
                goto out;
        }
        const char *cps = props_str(cluster, "provisioningState");
        const char *mode = props_str(pool, "mode");
        if (mode && strcmp(mode, "System") == 0 && !(cps && strcmp(cps, "Deleting") == 0)) {
                unsigned others = 0;
                r = count_other_system(c, json_string_value(json_object_get(cluster, "id")), pool_id, &others);
                if (r < 0)
                        goto out;
                if (others == 0) {
                        r = api_error(c, 400, "MustDefineAtLeastOneSystemPool", NULL,
                                      "Must define at least one system pool: '%s' is the last System pool of the "
                                      "cluster.",
                                      pname);
                        goto out;
                }
        }
        cp_op op;
        r = api_start_pool_delete(c, pool_id, pool, &op);
        if (r < 0)
                goto out;
        r = api_json(c, 202, NULL);
        api_lro_headers(c, &op, true);
out:
        json_decref(cluster);
        json_decref(pool);
        return r;
}

static int pool_abort(api_ctx *c, const char *sub, const char *rg, const char *cname, const char *pname) {
        char pool_id[600], etag[40];
        json_t *cluster = NULL, *pool = NULL;
        int r = pool_load(c, sub, rg, cname, pname, pool_id, sizeof pool_id, &cluster, &pool, etag);
        if (r != 0)
                return r;
        cp_op op, ab;
        if (cp_op_active_for(c->api->store, pool_id, &op) < 0) {
                cp_error_clear();
                r = api_error(c, 409, "NoOngoingOperation", NULL,
                              "There is no ongoing operation to abort on agent pool '%s'.", pname);
                goto out;
        }
        r = cp_op_finish(c->api->store, op.id, "Canceled", "OperationCanceled",
                         "The operation was aborted by the user.");
        if (r >= 0) {
                json_object_set_new(json_object_get(pool, "properties"), "provisioningState", json_string("Canceled"));
                r = cp_res_update(c->api->store, pool_id, pool, NULL);
        }
        if (r >= 0)
                r = api_new_op(c, "pool", "abort", pool_id, sub, json_string_value(json_object_get(cluster, "location")), &ab);
        if (r >= 0)
                r = cp_op_finish(c->api->store, ab.id, "Succeeded", NULL, NULL);
        if (r < 0)
                goto out;
        r = api_json(c, 202, NULL);
        api_lro_headers(c, &ab, true);
out:
        json_decref(cluster);
        json_decref(pool);
        return r;
}

static int pool_busy(api_ctx *c, const char *pool_id, const char *pname) {
        cp_op op;
        if (cp_op_active_for(c->api->store, pool_id, &op) >= 0)
                return api_error(c, 409, "OperationNotAllowed", NULL,
                                 "Operation is not allowed because there's an in progress %s operation on agent pool "
                                 "'%s'.",
                                 op.action, pname);
        cp_error_clear();
        return 0;
}

static int pool_upgrade_image(api_ctx *c, const char *sub, const char *rg, const char *cname, const char *pname) {
        char pool_id[600], etag[40];
        json_t *cluster = NULL, *pool = NULL;
        int r = pool_load(c, sub, rg, cname, pname, pool_id, sizeof pool_id, &cluster, &pool, etag);
        if (r != 0)
                return r;
        if ((r = pool_busy(c, pool_id, pname)) != 0)
                goto out;
        json_t *props = json_object_get(pool, "properties");
        cp_rule_error err = {0};
        if (cp_rules_check_retired(c->api->rules, props, &err) < 0) {
                r = api_rule_error(c, &err);
                goto out;
        }
        cp_node_image im;
        const char *cur = json_string_value(json_object_get(props, "nodeImageVersion"));
        if (!cur || cp_node_image_parse(cur, &im) < 0) {
                r = CP_ERROR(CP_EINTERNAL, "stored nodeImageVersion is invalid");
                goto out;
        }
        char latest[160];
        const char *def = im.definition;
        char legacy[48];
        if (im.legacy_spelling) {
                snprintf(legacy, sizeof legacy, "%.4scvmcontainerd", im.definition);
                def = legacy;
        }
        snprintf(latest, sizeof latest, "%s-%s-%s", im.gallery, def, cp_rules_image_date(c->api->rules));
        const char *ps = json_string_value(json_object_get(props, "provisioningState"));
        if (strcmp(latest, cur) == 0 && ps && strcmp(ps, "Succeeded") == 0) {
                /* already there (a failed or aborted roll is retried: its old nodes remain) */
                json_t *view = NULL;
                r = api_pool_body(c, pool, &view);
                if (r >= 0)
                        r = api_json(c, 200, view);
                goto out;
        }
        json_object_set_new(props, "nodeImageVersion", json_string(latest));
        json_object_set_new(props, "provisioningState", json_string("UpgradingNodeImageVersion"));
        r = cp_res_update(c->api->store, pool_id, pool, NULL);
        cp_op op;
        if (r >= 0)
                r = api_new_op(c, "pool", "upgradeNodeImage", pool_id, sub,
                               json_string_value(json_object_get(cluster, "location")), &op);
        if (r < 0)
                goto out;
        json_t *view = NULL;
        r = api_pool_body(c, pool, &view);
        if (r < 0)
                goto out;
        r = api_json(c, 202, view);
        api_lro_headers(c, &op, true);
out:
        json_decref(cluster);
        json_decref(pool);
        return r;
}

static int upgrade_profile(api_ctx *c, const char *sub, const char *rg, const char *cname, const char *pname) {
        char pool_id[600], etag[40];
        json_t *cluster = NULL, *pool = NULL;
        int r = pool_load(c, sub, rg, cname, pname, pool_id, sizeof pool_id, &cluster, &pool, etag);
        if (r != 0)
                return r;
        unsigned pmaj, pmin, cmaj, cmin;
        int ppat, cpat;
        const char *pv = props_str(pool, "currentOrchestratorVersion"), *cv = props_str(cluster, "currentKubernetesVersion");
        json_t *ups = json_array();
        if (pv && cv && cp_k8s_parse(pv, &pmaj, &pmin, &ppat) >= 0 && cp_k8s_parse(cv, &cmaj, &cmin, &cpat) >= 0) {
                for (size_t i = 0; i < cp_rules_n_versions(c->api->rules); i++) {
                        const cp_k8s_version *v = cp_rules_version_at(c->api->rules, i);
                        unsigned a, b;
                        int p;
                        if (cp_k8s_parse(v->version, &a, &b, &p) < 0 || a != pmaj)
                                continue;
                        bool newer = b > pmin || (b == pmin && p > ppat);
                        bool allowed = b < cmin || (b == cmin && p <= cpat);
                        if (newer && allowed)
                                json_array_append_new(ups, json_pack("{s:s,s:b}", "kubernetesVersion", v->version,
                                                                     "isPreview", v->preview));
                }
        }
        cp_error_clear();
        cp_node_image im;
        char latest[160] = "";
        const char *cur = props_str(pool, "nodeImageVersion");
        if (cur && cp_node_image_parse(cur, &im) >= 0)
                snprintf(latest, sizeof latest, "%s-%s-%s", im.gallery, im.definition, cp_rules_image_date(c->api->rules));
        cp_error_clear();
        char id[700];
        snprintf(id, sizeof id, "%s/upgradeProfiles/default", json_string_value(json_object_get(pool, "id")));
        json_t *b = json_pack("{s:s,s:s,s:s,s:{s:s,s:s,s:o,s:s}}", "id", id, "name", "default", "type",
                              POOL_TYPE "/upgradeProfiles", "properties", "kubernetesVersion", pv ? pv : "", "osType",
                              props_str(pool, "osType") ? props_str(pool, "osType") : "Linux", "upgrades", ups,
                              "latestNodeImageVersion", latest);
        json_decref(cluster);
        json_decref(pool);
        return api_json(c, 200, b);
}


/* A TDX node's evidence from its attestation record ("tdx:STATUS,fmspc=F,svn=S"). */
static json_t *tdx_evidence(const cp_node_info *ni) {
        char st[32] = "", fmspc[16] = "", svn[40] = "";
        const char *f = strstr(ni->tcb, ",fmspc="), *v = strstr(ni->tcb, ",svn=");
        if (f && f > ni->tcb + 4)
                snprintf(st, sizeof st, "%.*s", (int) (f - (ni->tcb + 4)) < 31 ? (int) (f - (ni->tcb + 4)) : 31, ni->tcb + 4);
        if (f)
                snprintf(fmspc, sizeof fmspc, "%.12s", f + 7);
        if (v)
                snprintf(svn, sizeof svn, "%.32s", v + 5);
        return json_pack("{s:s,s:s,s:s,s:s}", "mrtd", ni->measurement, "tcbStatus", st, "fmspc", fmspc, "teeTcbSvn",
                         svn);
}

static json_t *machine_json(api_ctx *c, const json_t *pool, const cp_machine *m) {
        char id[700], rid[900];
        const char *pid = json_string_value(json_object_get(pool, "id"));
        snprintf(id, sizeof id, "%s/machines/%s", pid, m->name);
        snprintf(rid, sizeof rid, "%s/virtualMachines/%d", m->handle, m->index);
        const char *ps = strcmp(m->state, "Ready") == 0    ? "Succeeded"
                       : strcmp(m->state, "Failed") == 0   ? "Failed"
                       : strcmp(m->state, "Deleting") == 0 ? "Deleting"
                                                           : "Creating";
        json_t *props = json_deep_copy(json_object_get(pool, "properties"));
        json_object_set_new(props, "nodeImageVersion", json_string(m->image));
        json_t *labels = cp_rules_node_labels(c->api->rules, json_string_value(json_object_get(pool, "name")), props);
        json_decref(props);
        const cp_vm_size *sz = cp_rules_find_size(c->api->rules, props_str(pool, "vmSize"));
        cp_node_info ni;
        json_t *att = NULL;
        int ir = cp_nodes_info(c->api->store, m->pool, m->name, &ni);
        if (ir >= 0 && c->api->nodes) /* a heartbeat not written yet (cp-nodes.h) */
                cp_nodes_heartbeat_of(c->api->nodes, m->pool, m->name, &ni.heartbeat_at);
        if (ir >= 0)
                att = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:s}", "host", ni.host, "launchMeasurement", ni.measurement,
                                "reportedTcb", ni.tcb, "lastAttestation", (json_int_t) ni.attested_at, "tokenExpiry",
                                (json_int_t) ni.token_exp, "lastHeartbeat", (json_int_t) ni.heartbeat_at, "reason",
                                ni.reason);
        cp_error_clear();
        /* confpool extension (issue 16): the TEE of the size, and a TDX node's evidence */
        if (att)
                json_object_set_new(att, "tee", json_string(cp_tee_name(sz ? sz->tee : CP_TEE_NONE)));
        if (att && strncmp(ni.tcb, "tdx:", 4) == 0)
                json_object_set_new(att, "tdx", tdx_evidence(&ni));
        /* confpool extension: the pool's accepted launch measurements (cp-nodes.h) */
        cp_pool_measurement *acc = NULL;
        size_t n_acc = 0;
        if (cp_nodes_policy_list(c->api->store, m->pool, &acc, &n_acc) >= 0 && n_acc > 0) {
                const char *tgt = props_str(pool, "nodeImageVersion");
                json_t *a = json_array();
                for (size_t i = 0; a && i < n_acc; i++) {
                        char hex[97];
                        cp_hex_encode(acc[i].measurement, 48, hex);
                        json_array_append_new(a, json_pack("{s:s,s:s,s:s}", "nodeImageVersion", acc[i].image,
                                                           "launchMeasurement", hex, "role",
                                                           tgt && strcmp(tgt, acc[i].image) == 0 ? "target"
                                                                                                 : "previous"));
                }
                if (!att)
                        att = json_object();
                if (att && a)
                        json_object_set_new(att, "acceptedLaunchMeasurements", a);
                else
                        json_decref(a);
        }
        free(acc);
        cp_error_clear();
        /* an operator override's launchMeasurements replace that set (docs/control-plane.md) */
        cp_attest_policy ov;
        if (cp_attest_policy_get(c->api->store, m->pool, &ov, NULL, NULL) >= 0 && ov.n_measurements > 0) {
                json_t *a = json_array();
                for (size_t i = 0; a && i < ov.n_measurements && i < CP_MAX_POLICY_MEASUREMENTS; i++) {
                        char hex[97];
                        cp_hex_encode(ov.measurements[i], 48, hex);
                        json_array_append_new(a, json_pack("{s:s,s:s}", "launchMeasurement", hex, "role",
                                                           "attestationPolicy"));
                }
                if (!att)
                        att = json_object();
                if (att && a)
                        json_object_set_new(att, "acceptedLaunchMeasurements", a);
                else
                        json_decref(a);
        }
        cp_error_clear();
        json_t *mj = json_pack("{s:s,s:s,s:s,s:[],s:{s:s,s:{s:[{s:s,s:s}]},s:{s:s,s:s,s:s},s:s,s:s,s:s,s:o}}", "id", id,
                         "name", m->name, "type", POOL_TYPE "/machines", "zones", "properties", "resourceId", m->handle,
                         "network", "ipAddresses", "family", "IPv4", "ip", m->ip, "status", "provisioningState", ps,
                         "nodeState", m->state, "createdAt", m->created, "nodeImageVersion", m->image, "vmSize",
                         props_str(pool, "vmSize") ? props_str(pool, "vmSize") : "", "securityType",
                         sz && sz->tee != CP_TEE_NONE ? "ConfidentialVM" : "Standard", "nodeLabels",
                         labels ? labels : json_object());
        /* AKS's MachineKubernetesProfile: the version the machine was built with */
        if (mj)
                json_object_set_new(json_object_get(mj, "properties"), "kubernetes",
                                    json_pack("{s:s,s:s,s:s}", "orchestratorVersion", m->version,
                                              "currentOrchestratorVersion", m->version, "nodeName", m->name));
        if (att && mj)
                json_object_set_new(json_object_get(mj, "properties"), "attestation", att);
        else
                json_decref(att);
        return mj;
}

static int machines(api_ctx *c, const char *sub, const char *rg, const char *cname, const char *pname,
                    const char *mname) {
        char pool_id[600], etag[40];
        json_t *cluster = NULL, *pool = NULL;
        int r = pool_load(c, sub, rg, cname, pname, pool_id, sizeof pool_id, &cluster, &pool, etag);
        if (r != 0)
                return r;
        json_decref(cluster);
        if (mname) {
                cp_machine m;
                r = cp_machine_get(c->api->store, pool_id, mname, &m);
                if (r == CP_ENOTFOUND) {
                        cp_error_clear();
                        r = api_error(c, 404, "ResourceNotFound", NULL, "Machine '%s' was not found in agent pool '%s'.",
                                      mname, pname);
                } else if (r >= 0)
                        r = api_json(c, 200, machine_json(c, pool, &m));
                json_decref(pool);
                return r;
        }
        cp_machine *v = NULL;
        size_t n = 0;
        r = cp_machine_list(c->api->store, pool_id, &v, &n);
        if (r < 0) {
                json_decref(pool);
                return r;
        }
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
                json_array_append_new(a, machine_json(c, pool, &v[i]));
        free(v);
        json_decref(pool);
        return api_json(c, 200, json_pack("{s:o}", "value", a));
}

static int delete_machines(api_ctx *c, const char *sub, const char *rg, const char *cname, const char *pname) {
        char pool_id[600], etag[40];
        json_t *cluster = NULL, *pool = NULL;
        int r = pool_load(c, sub, rg, cname, pname, pool_id, sizeof pool_id, &cluster, &pool, etag);
        if (r != 0)
                return r;
        const json_t *names = json_object_get(c->body, "machineNames");
        size_t i, n = json_array_size(names);
        const json_t *nm;
        if ((r = pool_busy(c, pool_id, pname)) != 0)
                goto out;
        if (!json_is_array(names) || n == 0 || n > 1000) {
                r = api_error(c, 400, "InvalidParameter", "machineNames",
                              "Required parameter machineNames is missing or empty.");
                goto out;
        }
        json_array_foreach(names, i, nm) {
                cp_machine m;
                const char *s = json_string_value(nm);
                if (!s || !cp_name_machine_ok(s) || cp_machine_get(c->api->store, pool_id, s, &m) < 0) {
                        cp_error_clear();
                        r = api_error(c, 400, "InvalidParameter", "machineNames",
                                      "Machine '%s' does not exist in agent pool '%s'.", s ? s : "?", pname);
                        goto out;
                }
                for (size_t j = 0; j < i; j++)
                        if (strcmp(s, json_string_value(json_array_get(names, j))) == 0) {
                                r = api_error(c, 400, "InvalidParameter", "machineNames",
                                              "Machine '%s' is listed twice.", s);
                                goto out;
                        }
        }
        json_t *props = json_object_get(pool, "properties");
        json_int_t count = json_integer_value(json_object_get(props, "count"));
        const char *mode = json_string_value(json_object_get(props, "mode"));
        json_int_t left = count - (json_int_t) n;
        if (left < (mode && strcmp(mode, "System") == 0 ? 1 : 0)) {
                r = api_error(c, 400, "InvalidParameter", "machineNames",
                              "Deleting %zu machines would leave %lld nodes; a %s pool needs at least %d.", n,
                              (long long) left, mode ? mode : "User", mode && strcmp(mode, "System") == 0 ? 1 : 0);
                goto out;
        }
        json_array_foreach(names, i, nm) {
                cp_machine m;
                r = cp_machine_get(c->api->store, pool_id, json_string_value(nm), &m);
                if (r < 0)
                        goto out;
                m.delete_requested = true;
                r = cp_machine_put(c->api->store, &m);
                if (r < 0)
                        goto out;
        }
        json_object_set_new(props, "count", json_integer(left));
        json_object_set_new(props, "provisioningState", json_string("Updating"));
        r = cp_res_update(c->api->store, pool_id, pool, NULL);
        cp_op op;
        if (r >= 0)
                r = api_new_op(c, "pool", "deleteMachines", pool_id, sub,
                               json_string_value(json_object_get(cluster, "location")), &op);
        if (r < 0)
                goto out;
        r = api_json(c, 202, NULL);
        api_lro_headers(c, &op, true);
out:
        json_decref(cluster);
        json_decref(pool);
        return r;
}

#define PP "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters/{c}/agentPools"

API_CAPS_ROUTE(list_fn, pool_list(c, k[0], k[1], k[2]))
API_CAPS_ROUTE(put_fn, pool_put(c, k[0], k[1], k[2], k[3]))
API_CAPS_ROUTE(get_fn, pool_get(c, k[0], k[1], k[2], k[3]))
API_CAPS_ROUTE(delete_fn, pool_delete(c, k[0], k[1], k[2], k[3]))
API_CAPS_ROUTE(abort_fn, pool_abort(c, k[0], k[1], k[2], k[3]))
API_CAPS_ROUTE(upgrade_image_fn, pool_upgrade_image(c, k[0], k[1], k[2], k[3]))
API_CAPS_ROUTE(delete_machines_fn, delete_machines(c, k[0], k[1], k[2], k[3]))
API_CAPS_ROUTE(upgrade_profile_fn, upgrade_profile(c, k[0], k[1], k[2], k[3]))
API_CAPS_ROUTE(machines_fn, machines(c, k[0], k[1], k[2], k[3], NULL))
API_CAPS_ROUTE(machine_fn, machines(c, k[0], k[1], k[2], k[3], k[4]))

const cp_svc_route cp_api_pool_routes[] = {
        {"GET", PP, list_fn_route, 0},
        {"PUT", PP "/{p}", put_fn_route, 0},
        {"GET", PP "/{p}", get_fn_route, 0},
        {"DELETE", PP "/{p}", delete_fn_route, 0},
        {"POST", PP "/{p}/abort", abort_fn_route, 0},
        {"POST", PP "/{p}/upgradeNodeImageVersion", upgrade_image_fn_route, 0},
        {"POST", PP "/{p}/deleteMachines", delete_machines_fn_route, 0},
        {"GET", PP "/{p}/upgradeProfiles/default", upgrade_profile_fn_route, 0},
        {"GET", PP "/{p}/machines", machines_fn_route, 0},
        {"GET", PP "/{p}/machines/{m}", machine_fn_route, 0},
};
const size_t cp_api_n_pool_routes = CP_ELEMENTSOF(cp_api_pool_routes);
