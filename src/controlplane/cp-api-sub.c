/* SPDX-License-Identifier: Apache-2.0 */
/* Subscription-level endpoints: resource groups, Microsoft.Features,
 * providers, Kubernetes versions, operation status / results. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "basic/cleanup.h"
#include "controlplane/cp-api-internal.h"

static const char *const known_features[] = {
        "AzureLinuxCVMPreview", "Ubuntu2404Preview", "ConfidentialTDXPreview", "Ubuntu2604Preview",
        "EnableCVMAttestationPreview",
};

static const char *const known_namespaces[] = {
        CP_NS_CS, "Microsoft.Features", "Microsoft.Resources", "Microsoft.Compute", "Microsoft.Network",
};

static int check_sub(api_ctx *c, const char *sub) {
        if (api_is_guid(sub))
                return 0;
        return api_error(c, 400, "InvalidSubscriptionId", NULL, "The provided subscription identifier '%s' is malformed or invalid.", sub);
}

/* ---- resource groups ---- */

static int rg_put(api_ctx *c, const char *sub, const char *rg) {
        char id[512], etag[40];
        snprintf(id, sizeof id, "/subscriptions/%s/resourceGroups/%s", sub, rg);
        if (!cp_name_rg_ok(rg))
                return api_error(c, 400, "InvalidResourceGroupName", "resourceGroupName",
                                 "Resource group name '%s' is invalid: 1-90 characters of letters, digits, '-', '_', '.', '(' and ')', not ending in '.'.",
                                 rg);
        const char *loc = json_string_value(json_object_get(c->body, "location"));
        if (!json_is_object(c->body) || !loc || !*loc)
                return api_error(c, 400, "LocationRequired", "location", "The location property is required for this definition.");
        json_t *old = NULL;
        int r = cp_res_get(c->api->store, id, &old, etag);
        if (r < 0 && r != CP_ENOTFOUND)
                return r;
        cp_error_clear();
        const json_t *tags = json_object_get(c->body, "tags");
        if (tags && !json_is_object(tags)) {
                json_decref(old);
                return api_error(c, 400, "InvalidRequestContent", "tags", "tags must be an object.");
        }
        if (old) {
                const char *ps = json_string_value(json_object_get(json_object_get(old, "properties"), "provisioningState"));
                const char *oloc = json_string_value(json_object_get(old, "location"));
                if (ps && strcmp(ps, "Deleting") == 0) {
                        json_decref(old);
                        return api_error(c, 409, "ResourceGroupBeingDeleted", NULL, "The resource group '%s' is in deprovisioning state and cannot perform this operation.", rg);
                }
                if (oloc && strcasecmp(oloc, loc) != 0) {
                        r = api_error(c, 409, "InvalidResourceGroupLocation", NULL,
                                      "Invalid resource group location '%s'. The Resource group already exists in location '%s'.", loc, oloc);
                        json_decref(old);
                        return r;
                }
        }
        json_t *old_tags = json_object_get(old, "tags");
        json_t *body = json_pack("{s:s,s:s,s:s,s:s,s:o,s:{s:s}}", "id", id, "name", rg, "type",
                                 "Microsoft.Resources/resourceGroups", "location", old ? json_string_value(json_object_get(old, "location")) : loc,
                                 "tags", tags ? json_deep_copy(tags) : old_tags ? json_deep_copy(old_tags) : json_object(), "properties",
                                 "provisioningState", "Succeeded");
        json_decref(old);
        if (!body)
                return cp_error_oom();
        cp_res_key k = {.id = id, .kind = "rg", .sub = sub, .rg = rg, .name = rg, .location = loc};
        char et[37];
        api_uuid(et);
        r = cp_res_put(c->api->store, &k, body, et);
        if (r < 0) {
                json_decref(body);
                return r;
        }
        return api_json(c, old ? 200 : 201, body);
}

static int rg_get(api_ctx *c, const char *sub, const char *rg) {
        char id[512];
        snprintf(id, sizeof id, "/subscriptions/%s/resourceGroups/%s", sub, rg);
        json_t *b = NULL;
        int r = cp_res_get(c->api->store, id, &b, NULL);
        if (r == CP_ENOTFOUND) {
                cp_error_clear();
                return api_error(c, 404, "ResourceGroupNotFound", NULL, "Resource group '%s' could not be found.", rg);
        }
        if (r < 0)
                return r;
        return api_json(c, 200, b);
}

static int rg_delete(api_ctx *c, const char *sub, const char *rg) {
        char id[512];
        snprintf(id, sizeof id, "/subscriptions/%s/resourceGroups/%s", sub, rg);
        json_t *b = NULL;
        int r = cp_res_get(c->api->store, id, &b, NULL);
        if (r == CP_ENOTFOUND) {
                cp_error_clear();
                return api_json(c, 204, NULL);
        }
        if (r < 0)
                return r;
        cp_op op;
        if (cp_op_active_for(c->api->store, id, &op) >= 0) {
                json_decref(b);
                api_json(c, 202, NULL);
                api_lro_headers(c, &op, true);
                return 1;
        }
        cp_error_clear();
        json_t *clusters = NULL;
        r = cp_res_list(c->api->store, "cluster", sub, rg, NULL, &clusters);
        if (r < 0) {
                json_decref(b);
                return r;
        }
        if (json_array_size(clusters) == 0) {
                json_decref(clusters);
                json_decref(b);
                r = cp_res_delete(c->api->store, id);
                return r < 0 ? r : api_json(c, 200, NULL);
        }
        /* delete the clusters first; the reconciler removes the group when they are gone */
        size_t i;
        json_t *cl;
        json_array_foreach(clusters, i, cl) {
                const char *cid = json_string_value(json_object_get(cl, "id"));
                if (cp_op_active_for(c->api->store, cid, &op) >= 0 && strcmp(op.action, "delete") == 0)
                        continue;
                cp_error_clear();
                r = cp_api_start_cluster_delete(c, cid, cl, NULL);
                if (r < 0)
                        break;
        }
        json_decref(clusters);
        if (r >= 0) {
                json_object_set_new(json_object_get(b, "properties"), "provisioningState", json_string("Deleting"));
                r = cp_res_update(c->api->store, id, b, NULL);
        }
        if (r >= 0)
                r = api_new_op(c, "rg", "delete", id, sub, json_string_value(json_object_get(b, "location")), &op);
        json_decref(b);
        if (r < 0)
                return r;
        api_json(c, 202, NULL);
        api_lro_headers(c, &op, true);
        return 1;
}

/* ---- features ---- */

static bool feature_known(const char *ns, const char *name, const char **ret_canonical) {
        if (strcasecmp(ns, CP_NS_CS) != 0)
                return false;
        for (size_t i = 0; i < CP_ELEMENTSOF(known_features); i++)
                if (strcasecmp(known_features[i], name) == 0) {
                        *ret_canonical = known_features[i];
                        return true;
                }
        return false;
}

/* Current state, with Registering (Unregistering) shown as Registered
 * (Unregistered) once the delay has passed.  Derived, never written: a GET
 * runs in a read transaction, which on PostgreSQL holds no write lock, and
 * a write of the derived state there could overwrite another replica's
 * register or unregister committed in between (cp-api.c's feature check
 * derives it the same way). */
static int feature_state(api_ctx *c, const char *sub, const char *ns, const char *name, char state[32]) {
        int64_t changed;
        int r = cp_feature_get(c->api->store, sub, ns, name, state, &changed);
        if (r == CP_ENOTFOUND) {
                cp_error_clear();
                snprintf(state, 32, "NotRegistered");
                return 0;
        }
        if (r < 0)
                return r;
        bool due = cp_now_ms() - changed >= (int64_t) cp_rules_feature_delay_ms(c->api->rules);
        if (due && strcmp(state, "Registering") == 0)
                snprintf(state, 32, "Registered");
        else if (due && strcmp(state, "Unregistering") == 0)
                snprintf(state, 32, "Unregistered");
        return 0;
}

static json_t *feature_json(const char *sub, const char *ns, const char *name, const char *state) {
        char id[512], full[256];
        snprintf(id, sizeof id, "/subscriptions/%s/providers/Microsoft.Features/providers/%s/features/%s", sub, ns, name);
        snprintf(full, sizeof full, "%s/%s", ns, name);
        return json_pack("{s:s,s:s,s:{s:s},s:s}", "id", id, "name", full, "properties", "state", state, "type",
                         "Microsoft.Features/providers/features");
}

static int feature_one(api_ctx *c, const char *sub, const char *ns_in, const char *name_in, const char *action) {
        const char *name = NULL;
        if (!feature_known(ns_in, name_in, &name))
                return api_error(c, 404, "FeatureNotFound", NULL, "The feature '%s' could not be found.", name_in);
        const char *ns = CP_NS_CS;
        char state[32];
        int r = feature_state(c, sub, ns, name, state);
        if (r < 0)
                return r;
        if (action) {
                bool reg = strcmp(action, "register") == 0;
                const char *target = reg ? "Registering" : "Unregistering";
                if (!(reg && strcmp(state, "Registered") == 0) && !(!reg && (strcmp(state, "Unregistered") == 0 || strcmp(state, "NotRegistered") == 0))) {
                        r = cp_feature_set(c->api->store, sub, ns, name, target, cp_now_ms());
                        if (r < 0)
                                return r;
                        snprintf(state, sizeof state, "%s", target);
                }
        }
        return api_json(c, 200, feature_json(sub, ns, name, state));
}

static int feature_list(api_ctx *c, const char *sub, const char *ns_filter) {
        json_t *v = json_array();
        if (!v)
                return cp_error_oom();
        for (size_t i = 0; i < CP_ELEMENTSOF(known_features); i++) {
                if (ns_filter && strcasecmp(ns_filter, CP_NS_CS) != 0)
                        break;
                char state[32];
                int r = feature_state(c, sub, CP_NS_CS, known_features[i], state);
                if (r < 0) {
                        json_decref(v);
                        return r;
                }
                json_array_append_new(v, feature_json(sub, CP_NS_CS, known_features[i], state));
        }
        return api_json(c, 200, json_pack("{s:o}", "value", v));
}

/* ---- providers ---- */

static const char *known_ns(const char *ns) {
        for (size_t i = 0; i < CP_ELEMENTSOF(known_namespaces); i++)
                if (strcasecmp(known_namespaces[i], ns) == 0)
                        return known_namespaces[i];
        return NULL;
}

static int provider(api_ctx *c, const char *sub, const char *ns_in, const char *action) {
        const char *ns = known_ns(ns_in);
        if (!ns)
                return api_error(c, 404, "InvalidResourceNamespace", NULL, "The resource namespace '%s' is invalid.", ns_in);
        char state[32] = "NotRegistered";
        int r = cp_provider_get(c->api->store, sub, ns, state);
        if (r < 0 && r != CP_ENOTFOUND)
                return r;
        cp_error_clear();
        if (r == CP_ENOTFOUND && (strcmp(ns, "Microsoft.Resources") == 0 || strcmp(ns, "Microsoft.Features") == 0))
                snprintf(state, sizeof state, "Registered");
        if (action) {
                snprintf(state, sizeof state, "%s", strcmp(action, "register") == 0 ? "Registered" : "Unregistered");
                r = cp_provider_set(c->api->store, sub, ns, state);
                if (r < 0)
                        return r;
        }
        char id[512];
        snprintf(id, sizeof id, "/subscriptions/%s/providers/%s", sub, ns);
        json_t *types = json_array();
        if (strcmp(ns, CP_NS_CS) == 0)
                json_array_append_new(types, json_pack("{s:s,s:[s],s:[s,s]}", "resourceType", "managedClusters",
                                                       "locations", "*", "apiVersions", "2026-01-01", "2025-10-01"));
        return api_json(c, 200, json_pack("{s:s,s:s,s:s,s:s,s:o}", "id", id, "namespace", ns, "registrationState", state,
                                          "registrationPolicy", "RegistrationRequired", "resourceTypes", types));
}

/* ---- versions ---- */

static int k8s_versions(api_ctx *c, const char *sub, const char *loc) {
        (void) sub;
        (void) loc;
        const cp_rules *ru = c->api->rules;
        json_t *values = json_array();
        size_t n = cp_rules_n_versions(ru);
        for (size_t i = 0; i < n; i++) {
                const cp_k8s_version *v = cp_rules_version_at(ru, i);
                unsigned maj, min;
                int patch;
                if (cp_k8s_parse(v->version, &maj, &min, &patch) < 0) {
                        json_decref(values);
                        return CP_ERROR(CP_EINTERNAL, "bad version table");
                }
                char mm[16];
                snprintf(mm, sizeof mm, "%u.%u", maj, min);
                json_t *entry = NULL;
                size_t j;
                json_t *e;
                json_array_foreach(values, j, e) if (strcmp(json_string_value(json_object_get(e, "version")), mm) == 0) entry = e;
                if (!entry) {
                        entry = json_pack("{s:s,s:b,s:b,s:{s:[s,s]},s:{}}", "version", mm, "isDefault", false, "isPreview",
                                          v->preview, "capabilities", "supportPlan", "KubernetesOfficial", "AKSLongTermSupport",
                                          "patchVersions");
                        json_array_append_new(values, entry);
                }
                if (v->is_default)
                        json_object_set_new(entry, "isDefault", json_true());
                json_t *up = json_array();
                for (size_t k = 0; k < n; k++) {
                        const cp_k8s_version *w = cp_rules_version_at(ru, k);
                        unsigned a, b;
                        int p;
                        if (cp_k8s_parse(w->version, &a, &b, &p) >= 0 && a == maj &&
                            (b == min + 1 || (b == min && p > patch)))
                                json_array_append_new(up, json_string(w->version));
                }
                json_object_set_new(json_object_get(entry, "patchVersions"), v->version, json_pack("{s:o}", "upgrades", up));
        }
        return api_json(c, 200, json_pack("{s:o}", "values", values));
}

/* ---- operations ---- */

static int op_status(api_ctx *c, const char *sub, const char *loc, const char *id, bool results) {
        cp_op op;
        int r = cp_op_get(c->api->store, id, &op);
        if (r == CP_ENOTFOUND || (r >= 0 && (strcasecmp(op.sub, sub) != 0 || (loc && strcasecmp(op.location, loc) != 0)))) {
                cp_error_clear();
                return api_error(c, 404, "OperationNotFound", NULL, "The operation '%s' was not found.", id);
        }
        if (r < 0)
                return r;
        bool running = strcmp(op.status, "InProgress") == 0;
        if (!results) {
                char full[1024];
                snprintf(full, sizeof full, "/subscriptions/%s/providers/" CP_NS_CS "/locations/%s/operations/%s", op.sub,
                         op.location, op.id);
                json_t *b = json_pack("{s:s,s:s,s:s,s:s}", "id", full, "name", op.id, "status", op.status, "startTime", op.start);
                if (!running)
                        json_object_set_new(b, "endTime", json_string(op.end));
                if (strcmp(op.status, "Failed") == 0 || strcmp(op.status, "Canceled") == 0)
                        json_object_set_new(b, "error", json_pack("{s:s,s:s}", "code", op.error_code, "message", op.error_message));
                api_json(c, 200, b);
                if (running) {
                        /* pollers (azure-core's ARMPolling) wait Retry-After, else 30 s */
                        char ra[16];
                        snprintf(ra, sizeof ra, "%u", cp_rules_retry_after(c->api->rules));
                        api_header(c, "Retry-After", ra);
                }
                return 1;
        }
        if (running) {
                api_json(c, 202, NULL);
                api_lro_headers(c, &op, true);
                return 1;
        }
        if (strcmp(op.status, "Succeeded") != 0)
                return api_error(c, strcmp(op.status, "Canceled") == 0 ? 409 : 500, op.error_code[0] ? op.error_code : "OperationFailed", NULL,
                                 "%s", op.error_message[0] ? op.error_message : "The operation failed.");
        if (strcmp(op.action, "delete") == 0 || strcmp(op.action, "abort") == 0 || strcmp(op.action, "deleteMachines") == 0)
                return api_json(c, 204, NULL);
        json_t *b = NULL;
        r = cp_res_get(c->api->store, op.resource, &b, NULL);
        if (r == CP_ENOTFOUND) {
                cp_error_clear();
                return api_json(c, 204, NULL);
        }
        if (r < 0)
                return r;
        json_t *view = NULL;
        r = strcmp(op.kind, "pool") == 0 ? api_pool_body(c, b, &view) : strcmp(op.kind, "cluster") == 0 ? api_cluster_view(c, b, &view) : (view = json_incref(b), 0);
        json_decref(b);
        if (r < 0)
                return r;
        return api_json(c, 200, view);
}

/* Every route of a subscription checks its id first (1: answered). */
#define SUB_FN(name, call) API_CAPS_ROUTE(name, check_sub(c, k[0]) ? 1 : (call))

static int rg_list(api_ctx *c, const char *sub) {
        json_t *v = NULL;
        int r = cp_res_list(c->api->store, "rg", sub, NULL, NULL, &v);
        return r < 0 ? r : api_json(c, 200, json_pack("{s:o}", "value", v));
}

SUB_FN(rg_put_fn, rg_put(c, k[0], k[1]))
SUB_FN(rg_get_fn, rg_get(c, k[0], k[1]))
SUB_FN(rg_delete_fn, rg_delete(c, k[0], k[1]))
SUB_FN(rg_list_fn, rg_list(c, k[0]))
SUB_FN(sub_op_fn, op_status(c, k[0], NULL, k[1], true))
SUB_FN(features_fn, feature_list(c, k[0], NULL))
SUB_FN(ns_features_fn, feature_list(c, k[0], k[1]))
SUB_FN(feature_fn, feature_one(c, k[0], k[1], k[2], NULL))
SUB_FN(feature_register_fn, feature_one(c, k[0], k[1], k[2], "register"))
SUB_FN(feature_unregister_fn, feature_one(c, k[0], k[1], k[2], "unregister"))
SUB_FN(k8s_versions_fn, k8s_versions(c, k[0], k[1]))
SUB_FN(op_fn, op_status(c, k[0], k[1], k[2], false))
SUB_FN(op_result_fn, op_status(c, k[0], k[1], k[2], true))
SUB_FN(provider_fn, provider(c, k[0], k[1], NULL))
SUB_FN(provider_register_fn, provider(c, k[0], k[1], "register"))
SUB_FN(provider_unregister_fn, provider(c, k[0], k[1], "unregister"))

#define FEAT "/subscriptions/{sub}/providers/Microsoft.Features"
#define LOC "/subscriptions/{sub}/providers/Microsoft.ContainerService/locations/{loc}"

const cp_svc_route cp_api_sub_routes[] = {
        {"PUT", "/subscriptions/{sub}/resourcegroups/{rg}", rg_put_fn_route, 0},
        {"GET", "/subscriptions/{sub}/resourcegroups/{rg}", rg_get_fn_route, 0},
        {"DELETE", "/subscriptions/{sub}/resourcegroups/{rg}", rg_delete_fn_route, 0},
        {"GET", "/subscriptions/{sub}/resourcegroups", rg_list_fn_route, 0},
        {"GET", "/subscriptions/{sub}/operationresults/{id}", sub_op_fn_route, 0},
        {"GET", FEAT "/features", features_fn_route, 0},
        {"GET", FEAT "/providers/{ns}/features", ns_features_fn_route, 0},
        {"GET", FEAT "/providers/{ns}/features/{f}", feature_fn_route, 0},
        {"POST", FEAT "/providers/{ns}/features/{f}/register", feature_register_fn_route, 0},
        {"POST", FEAT "/providers/{ns}/features/{f}/unregister", feature_unregister_fn_route, 0},
        {"GET", LOC "/kubernetesVersions", k8s_versions_fn_route, 0},
        {"GET", LOC "/operations/{id}", op_fn_route, 0},
        {"GET", LOC "/operationresults/{id}", op_result_fn_route, 0},
        {"GET", "/subscriptions/{sub}/providers/{ns}", provider_fn_route, 0},
        {"POST", "/subscriptions/{sub}/providers/{ns}/register", provider_register_fn_route, 0},
        {"POST", "/subscriptions/{sub}/providers/{ns}/unregister", provider_unregister_fn_route, 0},
};
const size_t cp_api_n_sub_routes = CP_ELEMENTSOF(cp_api_sub_routes);
