/* SPDX-License-Identifier: Apache-2.0 */
/* managedClusters: PUT/GET/list/DELETE, abort, availableAgentPoolVersions. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "basic/cleanup.h"
#include "controlplane/cp-api-internal.h"

#define CLUSTER_TYPE CP_NS_CS "/ManagedClusters"

static json_t *props_of(const json_t *r) {
        return json_object_get(r, "properties");
}

static const char *pstr(const json_t *r, const char *k) {
        return json_string_value(json_object_get(props_of(r), k));
}

int api_cluster_view(api_ctx *c, json_t *cluster, json_t **ret) {
        json_t *v = json_deep_copy(cluster), *pools = NULL;
        if (!v)
                return cp_error_oom();
        int r = cp_res_list(c->api->store, "pool", NULL, NULL, json_string_value(json_object_get(cluster, "id")), &pools);
        if (r < 0) {
                json_decref(v);
                return r;
        }
        json_t *profiles = json_array();
        size_t i;
        json_t *p;
        json_array_foreach(pools, i, p) {
                json_t *pr = json_deep_copy(props_of(p));
                json_object_set(pr, "name", json_object_get(p, "name"));
                json_object_del(pr, "eTag");
                json_array_append_new(profiles, pr);
        }
        json_decref(pools);
        json_object_set_new(props_of(v), "agentPoolProfiles", profiles);
        json_object_del(v, "confpoolInternal"); /* the credential salt (rotate-certs) */
        *ret = v;
        return 0;
}

static int load(api_ctx *c, const char *sub, const char *rg, const char *name, char *id, size_t size, json_t **ret,
                char etag[40]) {
        if (!api_is_guid(sub))
                return api_error(c, 400, "InvalidSubscriptionId", NULL,
                                 "The provided subscription identifier '%s' is malformed or invalid.", sub);
        snprintf(id, size, "/subscriptions/%s/resourceGroups/%s/providers/" CP_NS_CS "/managedClusters/%s", sub, rg, name);
        int r = cp_res_get(c->api->store, id, ret, etag);
        if (r == CP_ENOTFOUND) {
                cp_error_clear();
                *ret = NULL;
                return 0;
        }
        return r;
}

static int not_found(api_ctx *c, const char *rg, const char *name) {
        return api_error(c, 404, "ResourceNotFound", NULL,
                         "The Resource '" CP_NS_CS "/managedClusters/%s' under resource group '%s' was not found.", name, rg);
}

int api_cluster_get_doc(api_ctx *c, const char *sub, const char *rg, const char *name, json_t **ret) {
        char id[512], etag[40];
        int r = load(c, sub, rg, name, id, sizeof id, ret, etag);
        if (r == 0 && !*ret)
                return not_found(c, rg, name);
        return r;
}

static int busy(api_ctx *c, const char *id, const char *name) {
        cp_op op;
        if (cp_op_active_for(c->api->store, id, &op) >= 0)
                return api_error(c, 409, "OperationNotAllowed", NULL,
                                 "Operation is not allowed because there's an in progress %s operation on managed "
                                 "cluster '%s'.",
                                 op.action, name);
        cp_error_clear();
        return 0;
}

int api_cluster_action_doc(api_ctx *c, const char *sub, const char *rg, const char *name, json_t **ret) {
        json_t *doc = NULL;
        int r = api_cluster_get_doc(c, sub, rg, name, &doc);
        if (r != 0)
                return r;
        const char *ps = pstr(doc, "provisioningState");
        if ((r = busy(c, json_string_value(json_object_get(doc, "id")), name)) == 0 && ps && strcmp(ps, "Deleting") == 0)
                r = api_error(c, 409, "OperationNotAllowed", NULL, "Managed cluster '%s' is being deleted.", name);
        if (r != 0) {
                json_decref(doc);
                return r;
        }
        *ret = doc;
        return 0;
}

/* Profiles: unique valid names, at least one System pool (the first when
 * none names a mode: *ret_n_mode 0).  0, or 1 when answered. */
static int check_profiles(api_ctx *c, const json_t *profiles, size_t *ret_n_mode) {
        size_t i, n_sys = 0, n_mode = 0;
        json_t *p;
        json_array_foreach(profiles, i, p) {
                const char *pn = json_string_value(json_object_get(p, "name"));
                if (!json_is_object(p) || !pn)
                        return api_error(c, 400, "InvalidParameter", "agentPoolProfiles", "Each agent pool profile needs a name.");
                for (size_t j = 0; j < i; j++)
                        if (strcmp(pn, json_string_value(json_object_get(json_array_get(profiles, j), "name"))) == 0)
                                return api_error(c, 400, "InvalidParameter", "agentPoolProfiles",
                                                 "Agent pool name '%s' is used more than once.", pn);
                const char *mode = json_string_value(json_object_get(p, "mode"));
                n_mode += mode != NULL;
                n_sys += mode && strcmp(mode, "System") == 0;
        }
        if (n_mode == 0)
                n_sys = 1; /* the first profile defaults to System */
        if (n_sys == 0)
                return api_error(c, 400, "MustDefineAtLeastOneSystemPool", "agentPoolProfiles", "Must define at least one system pool.");
        *ret_n_mode = n_mode;
        return 0;
}

/* The new cluster's pools and their create operations: 0, API_ROLLBACK
 * when a profile is refused (answered), or a negative cp_err. */
static int create_pools(api_ctx *c, const char *sub, const char *id, const char *location, const json_t *doc,
                        const json_t *profiles, size_t n_mode) {
        size_t i;
        json_t *p;
        json_array_foreach(profiles, i, p) {
                const char *pn = json_string_value(json_object_get(p, "name"));
                char pool_id[700];
                snprintf(pool_id, sizeof pool_id, "%s/agentPools/%s", id, pn);
                json_t *pp = json_deep_copy(p), *pdoc = NULL;
                json_object_del(pp, "name");
                if (n_mode == 0 && i == 0)
                        json_object_set_new(pp, "mode", json_string("System"));
                cp_rule_error err = {0};
                int r = cp_api_pool_apply(c, sub, id, doc, pool_id, pn, pp, NULL, 0, 0, &err, &pdoc);
                json_decref(pp);
                json_decref(pdoc);
                if (r == 1) {
                        char target[160];
                        snprintf(target, sizeof target, "agentPoolProfiles[%zu]%s%s", i, err.target[0] ? "." : "",
                                 err.target[0] ? err.target : "");
                        size_t tl = strnlen(target, sizeof err.target - 1);
                        memcpy(err.target, target, tl);
                        err.target[tl] = 0;
                        api_rule_error(c, &err);
                        return API_ROLLBACK;
                }
                cp_op op;
                if (r >= 0)
                        r = api_new_op(c, "pool", "create", pool_id, sub, location, &op);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* What real AKS returns for a cluster with a managed identity (az's
 * default, and the only kind here: service principals with secrets are
 * not taken): identity SystemAssigned, servicePrincipalProfile
 * {"clientId": "msi"} (az aks show/list/update dereference it), and the
 * request's linuxProfile (SSH key) and addonProfiles kept as sent. */
static int cluster_identity(api_ctx *c, json_t *doc) {
        json_t *props = props_of(c->body), *dp = props_of(doc);
        const json_t *id_in = json_object_get(c->body, "identity");
        const char *type = json_string_value(json_object_get(id_in, "type"));
        if (id_in && (!type || strcmp(type, "SystemAssigned") != 0))
                return api_error(c, 400, "InvalidParameter", "identity.type",
                                 "identity.type '%s' is not supported here: only SystemAssigned (the default).",
                                 type ? type : "(not a string)");
        const char *sp = json_string_value(json_object_get(json_object_get(props, "servicePrincipalProfile"), "clientId"));
        if (sp && strcmp(sp, "msi") != 0)
                return api_error(c, 400, "InvalidParameter", "properties.servicePrincipalProfile.clientId",
                                 "A service principal for the cluster is not supported here: use a managed identity "
                                 "(clientId \"msi\", the default).");
        char pid[37];
        api_uuid(pid);
        if (json_object_set_new(doc, "identity", json_pack("{s:s,s:s}", "type", "SystemAssigned", "principalId", pid)) < 0 ||
            json_object_set_new(dp, "servicePrincipalProfile", json_pack("{s:s}", "clientId", "msi")) < 0)
                return cp_error_oom();
        /* the kubelet's identity, in the node resource group (az aks update reads it) */
        const char *id = json_string_value(json_object_get(doc, "id")), *nrg = pstr(doc, "nodeResourceGroup");
        const char *sub = id && strncmp(id, "/subscriptions/", 15) == 0 ? id + 15 : "";
        char kid[700], kcl[37], kob[37];
        api_uuid(kcl);
        api_uuid(kob);
        snprintf(kid, sizeof kid,
                 "/subscriptions/%.*s/resourcegroups/%s/providers/Microsoft.ManagedIdentity/userAssignedIdentities/%s-agentpool",
                 (int) strcspn(sub, "/"), sub, nrg ? nrg : "", json_string_value(json_object_get(doc, "name")));
        if (json_object_set_new(dp, "identityProfile",
                                json_pack("{s:{s:s,s:s,s:s}}", "kubeletidentity", "resourceId", kid, "clientId", kcl,
                                          "objectId", kob)) < 0)
                return cp_error_oom();
        static const char *const kept[] = {"linuxProfile"};
        for (size_t i = 0; i < CP_ELEMENTSOF(kept); i++) {
                json_t *v = json_object_get(props, kept[i]);
                if (json_is_object(v) && json_object_set_new(dp, kept[i], json_deep_copy(v)) < 0)
                        return cp_error_oom();
        }
        return 0;
}

static int cluster_create(api_ctx *c, const char *sub, const char *rg, const char *name, const char *id,
                          const char *location) {
        json_t *props = props_of(c->body);
        const json_t *profiles = json_object_get(props, "agentPoolProfiles");
        if (!json_is_object(props))
                return api_error(c, 400, "InvalidParameter", "properties", "Required parameter properties is missing (null).");
        if (!json_is_array(profiles) || json_array_size(profiles) == 0)
                return api_error(c, 400, "InvalidParameter", "agentPoolProfiles",
                                 "Preflight validation check for resource(s) for container service %s in resource group "
                                 "%s failed. Message: Required parameter agentPoolProfiles is missing (null).",
                                 name, rg);
        if (json_array_size(profiles) > 100)
                return api_error(c, 400, "InvalidParameter", "agentPoolProfiles", "A cluster can have at most 100 agent pools.");
        const char *kv_in = json_string_value(json_object_get(props, "kubernetesVersion"));
        if (json_object_get(props, "kubernetesVersion") && !kv_in)
                return api_error(c, 400, "InvalidParameter", "properties.kubernetesVersion", "kubernetesVersion must be a string.");
        const cp_k8s_version *kv = cp_rules_resolve_version(c->api->rules, kv_in ? kv_in : cp_rules_default_version(c->api->rules));
        if (!kv)
                return api_error(c, 400, "KubernetesVersionNotSupported", "properties.kubernetesVersion",
                                 "Version %s is not supported in this region. Please use 'az aks get-versions' to get the supported version list in this region.",
                                 kv_in);
        size_t n_mode = 0;
        int r = check_profiles(c, profiles, &n_mode);
        if (r != 0)
                return r;

        char etag[37], uid[37], dns[64], fqdn[200], mc[300];
        api_uuid(etag);
        api_uuid(uid);
        const char *dns_in = json_string_value(json_object_get(props, "dnsPrefix"));
        if (dns_in)
                snprintf(dns, sizeof dns, "%s", dns_in);
        else
                snprintf(dns, sizeof dns, "%.10s-%.16s-%.6s", name, rg, sub);
        snprintf(fqdn, sizeof fqdn, "%s-%.8s.hcp.%s.confpool.local", dns, uid, location);
        snprintf(mc, sizeof mc, "MC_%s_%s_%s", rg, name, location);
        json_t *doc = json_pack(
                "{s:s,s:s,s:s,s:s,s:o,s:{s:s,s:s},s:s,s:o,"
                "s:{s:s,s:{s:s},s:s,s:s,s:s,s:s,s:s,s:b,s:s,s:i,s:s,"
                "s:{s:s,s:s,s:s,s:s,s:s,s:s}}}",
                "id", id, "name", name, "type", CLUSTER_TYPE, "location", location, "tags",
                json_is_object(json_object_get(c->body, "tags")) ? json_deep_copy(json_object_get(c->body, "tags")) : json_object(),
                "sku", "name", "Base",
                "tier", "Free", "eTag", etag, "systemData", api_system_data(c, NULL), "properties", "provisioningState",
                "Creating", "powerState", "code", "Running", "kubernetesVersion", kv_in ? kv_in : kv->version,
                "currentKubernetesVersion", kv->version, "dnsPrefix", dns, "fqdn", fqdn, "nodeResourceGroup", mc,
                "enableRBAC", true, "supportPlan", "KubernetesOfficial", "maxAgentPools", 100, "resourceUID", uid,
                "networkProfile", "networkPlugin", "kubenet", "podCidr", "10.244.0.0/16", "serviceCidr", "10.0.0.0/16",
                "dnsServiceIP", "10.0.0.10", "outboundType", "loadBalancer", "loadBalancerSku", "standard");
        if (!doc)
                return cp_error_oom();
        if ((r = cluster_identity(c, doc)) != 0 || (r = api_cluster_addons(c, doc)) != 0 ||
            (r = api_cluster_oidc(c, doc)) != 0) {
                json_decref(doc);
                return r;
        }
        cp_res_key k = {.id = id, .kind = "cluster", .sub = sub, .rg = rg, .name = name, .location = location};
        char rgid[400];
        snprintf(rgid, sizeof rgid, "/subscriptions/%s/resourceGroups/%s", sub, rg);
        k.parent = rgid;
        r = cp_res_put(c->api->store, &k, doc, etag);
        if (r < 0) {
                json_decref(doc);
                return r;
        }
        cp_op op;
        r = create_pools(c, sub, id, location, doc, profiles, n_mode);
        if (r != 0) {
                json_decref(doc);
                return r;
        }
        r = api_new_op(c, "cluster", "create", id, sub, location, &op);
        json_t *view = NULL;
        if (r >= 0)
                r = api_cluster_view(c, doc, &view);
        json_decref(doc);
        if (r < 0)
                return r;
        api_json(c, 201, view);
        api_lro_headers(c, &op, false);
        return 1;
}

/* A PUT on a Failed cluster retries it (as ARM does): its Failed pools get
 * a retry operation each (api_pool_retry), which the cluster's follows. */
static int cluster_retry_pools(api_ctx *c, const char *sub, const char *id, const char *location) {
        json_t *pools = NULL, *p;
        size_t i;
        int r = cp_res_list(c->api->store, "pool", NULL, NULL, id, &pools);
        json_array_foreach(pools, i, p) {
                if (r >= 0)
                        r = api_pool_retry(c, sub, location, p);
        }
        json_decref(pools);
        return r < 0 ? r : 0;
}

/* "East US" and "eastus" name one location. */
static bool same_location(const char *a, const char *b) {
        for (;; a++, b++) {
                while (*a == ' ')
                        a++;
                while (*b == ' ')
                        b++;
                if (tolower((unsigned char) *a) != tolower((unsigned char) *b))
                        return false;
                if (!*a)
                        return true;
        }
}

/* The agentPoolProfiles of a cluster PUT applied to the existing pools
 * (what `az aks scale` and `az aks upgrade` send: the GET's profiles with
 * count or orchestratorVersion changed): each pool whose count or
 * orchestratorVersion differs is validated and stored as a pool PUT would,
 * and gets a pool "update" operation.  0 done, 1 a response was written
 * (refusal: the caller rolls back), negative error. */
static int apply_profiles(api_ctx *c, const char *sub, const char *id, const json_t *cluster, const json_t *profiles) {
        static const char *const keys[] = {"count", "orchestratorVersion"};
        size_t i;
        json_t *p;
        json_array_foreach(profiles, i, p) {
                const char *pn = json_string_value(json_object_get(p, "name"));
                char pool_id[700];
                snprintf(pool_id, sizeof pool_id, "%s/agentPools/%s", id, pn);
                json_t *existing = NULL;
                int r = cp_res_get(c->api->store, pool_id, &existing, NULL);
                if (r < 0)
                        return r;
                json_t *props = json_deep_copy(json_object_get(existing, "properties"));
                bool changed = false;
                for (size_t k = 0; props && k < CP_ELEMENTSOF(keys); k++) {
                        json_t *v = json_object_get(p, keys[k]);
                        if (v && !json_is_null(v) && !json_equal(v, json_object_get(props, keys[k]))) {
                                json_object_set(props, keys[k], v);
                                changed = true;
                        }
                }
                cp_op op;
                if (!props)
                        r = cp_error_oom();
                else if (changed && cp_op_active_for(c->api->store, pool_id, &op) >= 0)
                        r = api_error(c, 409, "OperationNotAllowed", "agentPoolProfiles",
                                      "Operation is not allowed because there's an in progress %s operation on agent "
                                      "pool '%s' (operation %s).", op.action, pn, op.id);
                else if (changed) {
                        cp_error_clear();
                        json_t *doc = NULL;
                        cp_rule_error err = {0};
                        /* read-only fields of the stored document are not input */
                        json_object_del(props, "provisioningState");
                        json_object_del(props, "eTag");
                        r = cp_api_pool_apply(c, sub, id, cluster, pool_id, pn, props, existing, 0, 0, &err, &doc);
                        if (r == 1)
                                r = api_rule_error(c, &err);
                        else if (r >= 0)
                                r = api_new_op(c, "pool", "update", pool_id, sub,
                                               json_string_value(json_object_get(cluster, "location")), &op);
                        json_decref(doc);
                }
                json_decref(props);
                json_decref(existing);
                if (r != 0)
                        return r;
        }
        return 0;
}

/* apply_profiles during an upgrade: the pools are validated against the
 * control plane's target version (kv_in, resolved), which the cluster
 * document shows as current only once the reconciler has upgraded it. */
static int apply_profiles_for(api_ctx *c, const char *sub, const char *id, const json_t *cluster,
                              const json_t *profiles, const char *kv_in) {
        if (!kv_in)
                return apply_profiles(c, sub, id, cluster, profiles);
        const cp_k8s_version *kv = cp_rules_resolve_version(c->api->rules, kv_in);
        json_t *target = json_deep_copy(cluster);
        if (!target || !kv) {
                json_decref(target);
                return target ? CP_ERROR(CP_EINVAL, "version %s", kv_in) : cp_error_oom();
        }
        json_object_set_new(props_of(target), "currentKubernetesVersion", json_string(kv->version));
        int r = apply_profiles(c, sub, id, target, profiles);
        json_decref(target);
        return r;
}

static int cluster_update(api_ctx *c, const char *sub, const char *name, const char *id, json_t *old) {
        json_t *props = props_of(c->body);
        const char *ops = pstr(old, "provisioningState");
        bool was_failed = ops && strcmp(ops, "Failed") == 0;
        const json_t *profiles = json_object_get(props, "agentPoolProfiles");
        size_t i;
        json_t *p;
        json_array_foreach(profiles, i, p) {
                const char *pn = json_string_value(json_object_get(p, "name"));
                char pool_id[700];
                snprintf(pool_id, sizeof pool_id, "%s/agentPools/%s", id, pn ? pn : "");
                if (!pn || cp_res_get(c->api->store, pool_id, NULL, NULL) < 0) {
                        cp_error_clear();
                        return api_error(c, 400, "BadRequest", "agentPoolProfiles",
                                         "A new agent pool was introduced. Adding agent pools to an existing cluster is "
                                         "not allowed through managed cluster operations. For agent pool specific change, "
                                         "please use per agent pool operations: https://aka.ms/agent-pool-rest-api");
                }
        }
        const char *loc = json_string_value(json_object_get(c->body, "location"));
        const char *old_loc = json_string_value(json_object_get(old, "location"));
        if (loc && !same_location(loc, old_loc ? old_loc : ""))
                return api_error(c, 400, "PropertyChangeNotAllowed", "location", "Changing property 'location' is not allowed.");
        const char *dns = json_string_value(json_object_get(props, "dnsPrefix"));
        if (dns && strcmp(dns, pstr(old, "dnsPrefix")) != 0)
                return api_error(c, 400, "PropertyChangeNotAllowed", "properties.dnsPrefix",
                                 "Changing property 'dnsPrefix' is not allowed.");
        const char *kv_in = json_string_value(json_object_get(props, "kubernetesVersion"));
        bool upgrading = false;
        if (kv_in) {
                const cp_k8s_version *kv = cp_rules_resolve_version(c->api->rules, kv_in);
                unsigned a, b, oa, ob;
                int pa, opa;
                if (!kv || cp_k8s_parse(kv->version, &a, &b, &pa) < 0 ||
                    cp_k8s_parse(pstr(old, "currentKubernetesVersion"), &oa, &ob, &opa) < 0) {
                        cp_error_clear();
                        return api_error(c, 400, "KubernetesVersionNotSupported", "properties.kubernetesVersion",
                                         "Version %s is not supported in this region.", kv_in);
                }
                if (a != oa || b < ob || (b == ob && pa < opa))
                        return api_error(c, 400, "NotAllowedVersionDowngrade", "properties.kubernetesVersion",
                                         "Downgrading the control plane from %s to %s is not allowed.",
                                         pstr(old, "currentKubernetesVersion"), kv->version);
                if (b > ob + 1)
                        return api_error(c, 400, "UpgradeVersionSkipNotAllowed", "properties.kubernetesVersion",
                                         "Upgrading from %s to %s skips a minor version.", pstr(old, "currentKubernetesVersion"),
                                         kv->version);
                upgrading = strcmp(kv->version, pstr(old, "currentKubernetesVersion")) != 0;
                json_object_set_new(props_of(old), "kubernetesVersion", json_string(kv_in));
        }
        const json_t *tags = json_object_get(c->body, "tags");
        if (json_is_object(tags))
                json_object_set(old, "tags", (json_t *) tags);
        int pr = api_cluster_addons(c, old);
        if (pr == 0)
                pr = api_cluster_oidc(c, old);
        if (pr == 0)
                pr = apply_profiles_for(c, sub, id, old, profiles, upgrading ? kv_in : NULL);
        if (pr != 0)
                return pr < 0 ? pr : API_ROLLBACK;
        char etag[37];
        api_uuid(etag);
        json_object_set_new(old, "eTag", json_string(etag));
        json_object_set_new(old, "systemData", api_system_data(c, json_object_get(old, "systemData")));
        json_object_set_new(props_of(old), "provisioningState", json_string(upgrading ? "Upgrading" : "Updating"));
        int r = cp_res_update(c->api->store, id, old, etag);
        cp_op op;
        if (r >= 0 && was_failed)
                r = cluster_retry_pools(c, sub, id, json_string_value(json_object_get(old, "location")));
        if (r >= 0)
                r = api_new_op(c, "cluster", upgrading ? "upgrade" : "update", id, sub,
                               json_string_value(json_object_get(old, "location")), &op);
        json_t *view = NULL;
        if (r >= 0)
                r = api_cluster_view(c, old, &view);
        if (r < 0)
                return r;
        (void) name;
        api_json(c, 200, view);
        api_lro_headers(c, &op, false);
        return 1;
}

static int cluster_put(api_ctx *c, const char *sub, const char *rg, const char *name) {
        char id[512], etag[40] = "", rgid[400];
        json_t *old = NULL, *rgdoc = NULL;
        int r = load(c, sub, rg, name, id, sizeof id, &old, etag);
        if (r != 0)
                return r;
        if (!cp_name_cluster_ok(name)) {
                json_decref(old);
                return api_error(c, 400, "InvalidResourceName", "resourceName",
                                 "Resource name '%s' is invalid: 1-63 characters, letters, digits, '-' and '_', starting "
                                 "and ending with a letter or digit.",
                                 name);
        }
        snprintf(rgid, sizeof rgid, "/subscriptions/%s/resourceGroups/%s", sub, rg);
        r = cp_res_get(c->api->store, rgid, &rgdoc, NULL);
        if (r == CP_ENOTFOUND) {
                cp_error_clear();
                json_decref(old);
                return api_error(c, 404, "ResourceGroupNotFound", NULL, "Resource group '%s' could not be found.", rg);
        }
        if (r < 0) {
                json_decref(old);
                return r;
        }
        const char *rgps = pstr(rgdoc, "provisioningState");
        bool rg_deleting = rgps && strcmp(rgps, "Deleting") == 0;
        json_decref(rgdoc);
        if (rg_deleting) {
                json_decref(old);
                return api_error(c, 409, "ResourceGroupBeingDeleted", NULL,
                                 "The resource group '%s' is in deprovisioning state and cannot perform this operation.", rg);
        }
        if (c->if_none_match && old && api_etag_matches(c->if_none_match, etag)) {
                json_decref(old);
                return api_error(c, 412, "PreconditionFailed", NULL, "Managed cluster '%s' already exists and If-None-Match was given.", name);
        }
        if (c->if_match && (!old || !api_etag_matches(c->if_match, etag))) {
                json_decref(old);
                return api_error(c, 412, "PreconditionFailed", NULL,
                                 "The If-Match eTag does not match the current eTag of managed cluster '%s'.", name);
        }
        if (!json_is_object(c->body)) {
                json_decref(old);
                return api_error(c, 400, "InvalidRequestContent", NULL, "The request content must be a JSON object.");
        }
        const char *loc = json_string_value(json_object_get(c->body, "location"));
        if (!loc || !*loc || strlen(loc) > 40) {
                json_decref(old);
                return api_error(c, 400, "LocationRequired", "location", "The location property is required for this definition.");
        }
        char location[48];
        size_t j = 0;
        for (const char *q = loc; *q && j + 1 < sizeof location; q++)
                if (*q != ' ')
                        location[j++] = (char) (*q >= 'A' && *q <= 'Z' ? *q + 32 : *q);
        location[j] = 0;
        if (old) {
                const char *ps = pstr(old, "provisioningState");
                if ((r = busy(c, id, name)) != 0 || (ps && strcmp(ps, "Deleting") == 0)) {
                        json_decref(old);
                        return r ? r : api_error(c, 409, "OperationNotAllowed", NULL, "Managed cluster '%s' is being deleted.", name);
                }
                r = cluster_update(c, sub, name, id, old);
                json_decref(old);
                return r;
        }
        /* echo the client's casing */
        snprintf(id, sizeof id, "%s", c->path);
        if (id[strlen(id) - 1] == '/')
                id[strlen(id) - 1] = 0;
        return cluster_create(c, sub, rg, name, id, location);
}

static int cluster_get(api_ctx *c, const char *sub, const char *rg, const char *name) {
        char id[512], etag[40];
        json_t *doc = NULL, *view = NULL;
        int r = load(c, sub, rg, name, id, sizeof id, &doc, etag);
        if (r != 0)
                return r;
        if (!doc)
                return not_found(c, rg, name);
        r = api_cluster_view(c, doc, &view);
        json_decref(doc);
        if (r < 0)
                return r;
        char et[80];
        snprintf(et, sizeof et, "\"%s\"", etag);
        api_json(c, 200, view);
        api_header(c, "ETag", et);
        return 1;
}

static int cluster_list(api_ctx *c, const char *sub, const char *rg) {
        if (!api_is_guid(sub))
                return api_error(c, 400, "InvalidSubscriptionId", NULL,
                                 "The provided subscription identifier '%s' is malformed or invalid.", sub);
        json_t *v = NULL, *out = json_array();
        int r = cp_res_list(c->api->store, "cluster", sub, rg, NULL, &v);
        if (r < 0) {
                json_decref(out);
                return r;
        }
        size_t i;
        json_t *d;
        json_array_foreach(v, i, d) {
                json_t *view = NULL;
                r = api_cluster_view(c, d, &view);
                if (r < 0)
                        break;
                json_array_append_new(out, view);
        }
        json_decref(v);
        if (r < 0) {
                json_decref(out);
                return r;
        }
        return api_json(c, 200, json_pack("{s:o}", "value", out));
}

int cp_api_start_cluster_delete(api_ctx *c, const char *cluster_id, json_t *cluster, cp_op *ret_op) {
        cp_op op;
        if (cp_op_active_for(c->api->store, cluster_id, &op) >= 0) {
                if (strcmp(op.action, "delete") == 0) {
                        if (ret_op)
                                *ret_op = op;
                        return 0;
                }
                int r = cp_op_finish(c->api->store, op.id, "Canceled", "OperationCanceled",
                                     "The operation was superseded by a delete.");
                if (r < 0)
                        return r;
        }
        cp_error_clear();
        json_t *pools = NULL;
        int r = cp_res_list(c->api->store, "pool", NULL, NULL, cluster_id, &pools);
        if (r < 0)
                return r;
        size_t i;
        json_t *p;
        json_array_foreach(pools, i, p) {
                r = api_start_pool_delete(c, json_string_value(json_object_get(p, "id")), p, &op);
                if (r < 0)
                        break;
        }
        json_decref(pools);
        if (r < 0)
                return r;
        json_object_set_new(props_of(cluster), "provisioningState", json_string("Deleting"));
        r = api_cluster_oidc_forget(c, cluster_id); /* its issuer goes at once */
        if (r >= 0)
                r = cp_res_update(c->api->store, cluster_id, cluster, NULL);
        if (r < 0)
                return r;
        const char *sub_start = cluster_id + strlen("/subscriptions/");
        char sub[64];
        snprintf(sub, sizeof sub, "%.*s", (int) strcspn(sub_start, "/"), sub_start);
        r = api_new_op(c, "cluster", "delete", cluster_id, sub, json_string_value(json_object_get(cluster, "location")), &op);
        if (r >= 0 && ret_op)
                *ret_op = op;
        return r;
}

static int cluster_delete(api_ctx *c, const char *sub, const char *rg, const char *name) {
        char id[512], etag[40];
        json_t *doc = NULL;
        int r = load(c, sub, rg, name, id, sizeof id, &doc, etag);
        if (r != 0)
                return r;
        if (!doc)
                return api_json(c, 204, NULL);
        if (c->if_match && !api_etag_matches(c->if_match, etag)) {
                json_decref(doc);
                return api_error(c, 412, "PreconditionFailed", NULL,
                                 "The If-Match eTag does not match the current eTag of managed cluster '%s'.", name);
        }
        cp_op op;
        r = cp_api_start_cluster_delete(c, json_string_value(json_object_get(doc, "id")), doc, &op);
        json_decref(doc);
        if (r < 0)
                return r;
        api_json(c, 202, NULL);
        api_lro_headers(c, &op, true);
        return 1;
}

static int cluster_abort(api_ctx *c, const char *sub, const char *rg, const char *name) {
        char id[512], etag[40];
        json_t *doc = NULL;
        int r = load(c, sub, rg, name, id, sizeof id, &doc, etag);
        if (r != 0)
                return r;
        if (!doc)
                return not_found(c, rg, name);
        cp_op op, ab;
        if (cp_op_active_for(c->api->store, id, &op) < 0) {
                cp_error_clear();
                json_decref(doc);
                return api_error(c, 409, "NoOngoingOperation", NULL,
                                 "There is no ongoing operation to abort on managed cluster '%s'.", name);
        }
        r = cp_op_finish(c->api->store, op.id, "Canceled", "OperationCanceled", "The operation was aborted by the user.");
        /* abort the pools' operations of the same kind too */
        json_t *pools = NULL;
        if (r >= 0)
                r = cp_res_list(c->api->store, "pool", NULL, NULL, id, &pools);
        size_t i;
        json_t *p;
        json_array_foreach(pools, i, p) {
                cp_op pop;
                const char *pid = json_string_value(json_object_get(p, "id"));
                if (r < 0 || cp_op_active_for(c->api->store, pid, &pop) < 0)
                        continue;
                r = cp_op_finish(c->api->store, pop.id, "Canceled", "OperationCanceled", "The operation was aborted by the user.");
                json_object_set_new(props_of(p), "provisioningState", json_string("Canceled"));
                if (r >= 0)
                        r = cp_res_update(c->api->store, pid, p, NULL);
        }
        cp_error_clear();
        json_decref(pools);
        json_object_set_new(props_of(doc), "provisioningState", json_string("Canceled"));
        if (r >= 0)
                r = cp_res_update(c->api->store, id, doc, NULL);
        if (r >= 0)
                r = api_new_op(c, "cluster", "abort", id, sub, json_string_value(json_object_get(doc, "location")), &ab);
        if (r >= 0)
                r = cp_op_finish(c->api->store, ab.id, "Succeeded", NULL, NULL);
        json_decref(doc);
        if (r < 0)
                return r;
        api_json(c, 202, NULL);
        api_lro_headers(c, &ab, true);
        return 1;
}

static int available_versions(api_ctx *c, const char *sub, const char *rg, const char *name) {
        char id[512], etag[40];
        json_t *doc = NULL;
        int r = load(c, sub, rg, name, id, sizeof id, &doc, etag);
        if (r != 0)
                return r;
        if (!doc)
                return not_found(c, rg, name);
        json_t *v = json_array();
        for (size_t i = 0; i < cp_rules_n_versions(c->api->rules); i++) {
                const cp_k8s_version *k = cp_rules_version_at(c->api->rules, i);
                json_array_append_new(v, json_pack("{s:b,s:s,s:b}", "default", k->is_default, "kubernetesVersion",
                                                   k->version, "isPreview", k->preview));
        }
        char vid[600];
        snprintf(vid, sizeof vid, "%s/availableAgentpoolVersions", json_string_value(json_object_get(doc, "id")));
        json_decref(doc);
        return api_json(c, 200, json_pack("{s:s,s:s,s:s,s:{s:o}}", "id", vid, "name", "default", "type",
                                          CP_NS_CS "/managedClusters/availableAgentpoolVersions", "properties",
                                          "agentPoolVersions", v));
}

#define PC "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters"

API_CAPS_ROUTE(sub_list_fn, cluster_list(c, k[0], NULL))
API_CAPS_ROUTE(rg_list_fn, cluster_list(c, k[0], k[1]))
API_CAPS_ROUTE(put_fn, cluster_put(c, k[0], k[1], k[2]))
API_CAPS_ROUTE(get_fn, cluster_get(c, k[0], k[1], k[2]))
API_CAPS_ROUTE(delete_fn, cluster_delete(c, k[0], k[1], k[2]))
API_CAPS_ROUTE(abort_fn, cluster_abort(c, k[0], k[1], k[2]))
API_CAPS_ROUTE(versions_fn, available_versions(c, k[0], k[1], k[2]))

const cp_svc_route cp_api_cluster_routes[] = {
        {"GET", "/subscriptions/{sub}/providers/Microsoft.ContainerService/managedClusters", sub_list_fn_route, 0},
        {"GET", PC, rg_list_fn_route, 0},
        {"PUT", PC "/{c}", put_fn_route, 0},
        {"GET", PC "/{c}", get_fn_route, 0},
        {"DELETE", PC "/{c}", delete_fn_route, 0},
        {"POST", PC "/{c}/abort", abort_fn_route, 0},
        {"GET", PC "/{c}/availableAgentPoolVersions", versions_fn_route, 0},
};
const size_t cp_api_n_cluster_routes = CP_ELEMENTSOF(cp_api_cluster_routes);
