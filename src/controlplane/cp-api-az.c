/* SPDX-License-Identifier: Apache-2.0 */
/* Tenant-level ARM routes the Azure CLI uses at login and for
 * `az account`: GET /tenants, GET /subscriptions, GET /subscriptions/{id}. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "basic/cleanup.h"
#include "controlplane/cp-api-internal.h"

static const char *tenant_of(const api_ctx *c) {
        return c->api->aad ? cp_aad_tenant(c->api->aad) : "00000000-0000-0000-0000-000000000000";
}

static json_t *subscription_json(const api_ctx *c, const char *sub) {
        char id[80];
        snprintf(id, sizeof id, "/subscriptions/%s", sub);
        return json_pack("{s:s,s:s,s:s,s:s,s:s,s:{s:s,s:s,s:s},s:s,s:[]}", "id", id, "subscriptionId", sub,
                         "tenantId", tenant_of(c), "displayName", "confpool", "state", "Enabled",
                         "subscriptionPolicies", "locationPlacementId", "Internal_2014-09-01", "quotaId",
                         "Internal_2014-09-01", "spendingLimit", "Off", "authorizationSource", "RoleBased",
                         "managedByTenants");
}

static bool add_unique(json_t *subs, const char *sub) {
        size_t i;
        json_t *v;
        json_array_foreach(subs, i, v) {
                if (strcasecmp(json_string_value(v), sub) == 0)
                        return false;
        }
        json_array_append_new(subs, json_string(sub));
        return true;
}

/* The subscriptions the caller may use: a service principal its own; the
 * operator the default one, every principal's and every one holding
 * resources. */
static int visible_subscriptions(api_ctx *c, json_t **ret) {
        json_t *subs = json_array();
        if (!subs)
                return cp_error_oom();
        if (!c->principal.is_operator) {
                add_unique(subs, c->principal.subscription);
                *ret = subs;
                return 0;
        }
        int r = 0;
        if (c->api->aad) {
                add_unique(subs, cp_aad_default_subscription(c->api->aad));
                cp_principal *ps = NULL;
                size_t n = 0;
                r = cp_aad_principal_list(c->api->aad, &ps, &n);
                for (size_t i = 0; r >= 0 && i < n; i++)
                        add_unique(subs, ps[i].subscription);
                free(ps);
        }
        json_t *rgs = NULL;
        if (r >= 0)
                r = cp_res_list(c->api->store, "rg", NULL, NULL, NULL, &rgs);
        size_t i;
        json_t *v;
        json_array_foreach(rgs, i, v) {
                const char *id = json_string_value(json_object_get(v, "id"));
                char sub[64];
                if (id && strncasecmp(id, "/subscriptions/", 15) == 0 && strcspn(id + 15, "/") < sizeof sub) {
                        snprintf(sub, sizeof sub, "%.*s", (int) strcspn(id + 15, "/"), id + 15);
                        if (api_is_guid(sub))
                                add_unique(subs, sub);
                }
        }
        json_decref(rgs);
        if (r < 0) {
                json_decref(subs);
                return r;
        }
        *ret = subs;
        return 0;
}

static int tenants(api_ctx *c) {
        char id[80];
        snprintf(id, sizeof id, "/tenants/%s", tenant_of(c));
        return api_json(c, 200,
                        json_pack("{s:[{s:s,s:s,s:s,s:s,s:s,s:[s]}]}", "value", "id", id, "tenantId", tenant_of(c),
                                  "tenantCategory", "Home", "displayName", "confpool", "defaultDomain",
                                  "confpool.local", "domains", "confpool.local"));
}
API_ROUTE(tenants)

static int subscriptions(api_ctx *c) {
        json_t *subs = NULL;
        int r = visible_subscriptions(c, &subs);
        if (r < 0)
                return r;
        json_t *out = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(subs, i, v) json_array_append_new(out, subscription_json(c, json_string_value(v)));
        json_decref(subs);
        return api_json(c, 200, json_pack("{s:o}", "value", out));
}
API_ROUTE(subscriptions)

static int subscription(api_ctx *c) {
        const char *sub = c->caps[0];
        if (!api_is_guid(sub))
                return api_error(c, 400, "InvalidSubscriptionId", NULL,
                                 "The provided subscription identifier '%s' is malformed or invalid.", sub);
        json_t *subs = NULL;
        int r = visible_subscriptions(c, &subs);
        if (r < 0)
                return r;
        bool known = !add_unique(subs, sub);
        json_decref(subs);
        if (!known)
                return api_error(c, 404, "SubscriptionNotFound", NULL, "The subscription '%s' could not be found.",
                                 sub);
        return api_json(c, 200, subscription_json(c, sub));
}
API_ROUTE(subscription)

const cp_svc_route cp_api_tenant_routes[] = {
        {"GET", "/tenants", tenants_route, 0},
        {"GET", "/subscriptions", subscriptions_route, 0},
        {"GET", "/subscriptions/{sub}", subscription_route, 0},
};
const size_t cp_api_n_tenant_routes = CP_ELEMENTSOF(cp_api_tenant_routes);

/* The Azure SDK serialises "use the default" as an empty string for the
 * Kubernetes version of clusters and pools (az aks create / nodepool add
 * send "kubernetesVersion": "" and "orchestratorVersion": ""); ARM treats
 * that as absent, and so do we. */
static void drop_empty(json_t *o, const char *key) {
        const json_t *v = json_object_get(o, key);
        if (json_is_string(v) && json_string_length(v) == 0)
                json_object_del(o, key);
}

/* osDiskSizeGB 0 is "the default size for the vmSize" (ARM's documented
 * meaning), which az sends when --node-osdisk-size is not given. */
static void drop_zero(json_t *o, const char *key) {
        const json_t *v = json_object_get(o, key);
        if (json_is_integer(v) && json_integer_value(v) == 0)
                json_object_del(o, key);
}

void cp_api_az_normalize(json_t *body) {
        json_t *props = json_object_get(body, "properties");
        if (!json_is_object(props))
                return;
        drop_empty(props, "kubernetesVersion");
        drop_empty(props, "orchestratorVersion");
        drop_zero(props, "osDiskSizeGB");
        json_t *profiles = json_object_get(props, "agentPoolProfiles");
        size_t i;
        json_t *p;
        json_array_foreach(profiles, i, p) {
                if (json_is_object(p)) {
                        drop_empty(p, "orchestratorVersion");
                        drop_zero(p, "osDiskSizeGB");
                }
        }
}
