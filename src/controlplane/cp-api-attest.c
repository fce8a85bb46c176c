/* SPDX-License-Identifier: Apache-2.0 */
/* confpool extension: a pool's attestation policy override,
 * <pool id>/attestationPolicy/default (GET, PUT, DELETE = back to the
 * default).  Validation and storage in cp-nodes.c (cp_attest_policy_*),
 * enforcement at every node register/heartbeat (cp_nodes_policy_check). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "basic/cleanup.h"
#include "controlplane/cp-api-internal.h"
#include "controlplane/cp-nodes.h"

#define POLICY_TYPE "Microsoft.ContainerService/managedClusters/agentPools/attestationPolicy"

/* The pool of the request; writes the 404 itself (returns 1). */
static int load_pool(api_ctx *c, char *pool_id, size_t size, json_t **ret_pool) {
        const char *sub = c->caps[0], *rg = c->caps[1], *cname = c->caps[2], *pname = c->caps[3];
        if (!api_is_guid(sub))
                return api_error(c, 400, "InvalidSubscriptionId", NULL,
                                 "The provided subscription identifier '%s' is malformed or invalid.", sub);
        char cluster_id[1024];
        snprintf(cluster_id, sizeof cluster_id,
                 "/subscriptions/%s/resourceGroups/%s/providers/" CP_NS_CS "/managedClusters/%s", sub, rg, cname);
        json_t *cluster = NULL;
        int r = cp_res_get(c->api->store, cluster_id, &cluster, NULL);
        json_decref(cluster);
        if (r == CP_ENOTFOUND) {
                cp_error_clear();
                return api_error(c, 404, "ResourceNotFound", NULL,
                                 "The Resource '" CP_NS_CS "/managedClusters/%s' under resource group '%s' was not found.",
                                 cname, rg);
        }
        if (r < 0)
                return r;
        snprintf(pool_id, size, "%s/agentPools/%s", cluster_id, pname);
        r = cp_res_get(c->api->store, pool_id, ret_pool, NULL);
        if (r == CP_ENOTFOUND) {
                cp_error_clear();
                return api_error(c, 404, "ResourceNotFound", NULL, "Agent pool '%s' was not found.", pname);
        }
        return r;
}

/* The resource view: stored document (or the default) + id, name, type. */
static json_t *view(const json_t *pool, json_t *doc, const char *etag) {
        char id[1500];
        snprintf(id, sizeof id, "%s/attestationPolicy/default", json_string_value(json_object_get(pool, "id")));
        json_t *v = json_pack("{s:s,s:s,s:s}", "id", id, "name", "default", "type", POLICY_TYPE);
        if (!v)
                return NULL;
        json_t *props = doc ? json_deep_copy(json_object_get(doc, "properties")) : NULL;
        if (!props) {
                cp_attest_policy def = {0};
                props = cp_attest_policy_to_json(&def);
        }
        if (!props)
                return json_decref(v), NULL;
        json_object_set_new(props, "isDefault", json_boolean(doc == NULL));
        if (etag)
                json_object_set_new(props, "eTag", json_string(etag));
        json_object_set_new(v, "properties", props);
        const json_t *sd = json_object_get(doc, "systemData");
        if (sd)
                json_object_set(v, "systemData", (json_t *) sd);
        return v;
}

static int etag_response(api_ctx *c, unsigned status, json_t *body, const char *etag) {
        int r = api_json(c, status, body);
        if (etag) {
                char et[48];
                snprintf(et, sizeof et, "\"%s\"", etag);
                api_header(c, "ETag", et);
        }
        return r;
}

static int policy_get(api_ctx *c) {
        char pool_id[1400], etag[40];
        json_t *pool = NULL, *doc = NULL;
        int r = load_pool(c, pool_id, sizeof pool_id, &pool);
        if (r != 0)
                return r;
        cp_attest_policy p;
        r = cp_attest_policy_get(c->api->store, pool_id, &p, &doc, etag);
        bool found = r >= 0;
        if (r == CP_ENOTFOUND) {
                cp_error_clear();
                r = 0;
        }
        if (r >= 0) {
                json_t *v = view(pool, doc, found ? etag : NULL);
                r = v ? etag_response(c, 200, v, found ? etag : NULL) : cp_error_oom();
        }
        json_decref(doc);
        json_decref(pool);
        return r;
}

static int policy_put(api_ctx *c) {
        char pool_id[1400], etag[40] = "", pname[256];
        json_t *pool = NULL, *old = NULL;
        snprintf(pname, sizeof pname, "%s", c->caps[3]);
        int r = load_pool(c, pool_id, sizeof pool_id, &pool);
        if (r != 0)
                return r;
        cp_attest_policy cur;
        r = cp_attest_policy_get(c->api->store, pool_id, &cur, &old, etag);
        bool existing = r >= 0;
        if (r == CP_ENOTFOUND) {
                cp_error_clear();
                r = 0;
        }
        if (r < 0)
                goto out;
        const char *ps = json_string_value(json_object_get(json_object_get(pool, "properties"), "provisioningState"));
        if (ps && strcmp(ps, "Deleting") == 0) {
                r = api_error(c, 409, "OperationNotAllowed", NULL, "Agent pool '%s' is being deleted.", pname);
                goto out;
        }
        if (c->if_none_match && existing && api_etag_matches(c->if_none_match, etag)) {
                r = api_error(c, 412, "PreconditionFailed", NULL,
                              "The attestation policy of agent pool '%s' exists and If-None-Match was given.", pname);
                goto out;
        }
        if (c->if_match && (!existing || !api_etag_matches(c->if_match, etag))) {
                r = api_error(c, 412, "PreconditionFailed", NULL,
                              "The If-Match eTag does not match the current eTag of the attestation policy of agent "
                              "pool '%s'.",
                              pname);
                goto out;
        }
        const json_t *props = json_object_get(c->body, "properties");
        if (!json_is_object(c->body) || !json_is_object(props)) {
                r = api_error(c, 400, "InvalidParameter", "properties", "Required parameter properties is missing (null).");
                goto out;
        }
        const char *k;
        const json_t *v;
        json_object_foreach(c->body, k, v) {
                /* ARM members a client echoes from a GET are ignored; anything else is refused */
                if (strcmp(k, "properties") != 0 && strcmp(k, "id") != 0 && strcmp(k, "name") != 0 &&
                    strcmp(k, "type") != 0 && strcmp(k, "systemData") != 0) {
                        r = api_error(c, 400, "InvalidParameter", k,
                                      "Unknown member '%.64s' of the attestation policy resource.", k);
                        goto out;
                }
        }
        cp_attest_policy p;
        cp_rule_error err = {0};
        if (cp_attest_policy_parse(props, &p, &err) < 0) {
                r = api_rule_error(c, &err);
                goto out;
        }
        json_t *canon = cp_attest_policy_to_json(&p);
        json_t *doc = canon ? json_pack("{s:o,s:o}", "properties", canon, "systemData",
                                        api_system_data(c, json_object_get(old, "systemData")))
                            : NULL;
        if (!doc) {
                r = cp_error_oom();
                goto out;
        }
        char nt[37];
        api_uuid(nt);
        r = cp_attest_policy_put(c->api->store, pool_id, doc, nt);
        if (r >= 0) {
                json_t *body = view(pool, doc, nt);
                r = body ? etag_response(c, existing ? 200 : 201, body, nt) : cp_error_oom();
        }
        json_decref(doc);
out:
        json_decref(old);
        json_decref(pool);
        return r;
}

static int policy_delete(api_ctx *c) {
        char pool_id[1400], etag[40];
        json_t *pool = NULL;
        int r = load_pool(c, pool_id, sizeof pool_id, &pool);
        if (r != 0)
                return r;
        cp_attest_policy cur;
        r = cp_attest_policy_get(c->api->store, pool_id, &cur, NULL, etag);
        if (r == CP_ENOTFOUND) {
                cp_error_clear();
                r = api_json(c, 204, NULL); /* already the default */
        } else if (r >= 0 && c->if_match && !api_etag_matches(c->if_match, etag))
                r = api_error(c, 412, "PreconditionFailed", NULL,
                              "The If-Match eTag does not match the current eTag of the attestation policy of agent "
                              "pool '%s'.",
                              c->caps[3]);
        else if (r >= 0 && (r = cp_attest_policy_remove(c->api->store, pool_id)) >= 0) {
                json_t *v = view(pool, NULL, NULL);
                r = v ? api_json(c, 200, v) : cp_error_oom();
        }
        json_decref(pool);
        return r;
}

#define PP "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters/{c}/agentPools"

API_ROUTE(policy_get)
API_ROUTE(policy_put)
API_ROUTE(policy_delete)

const cp_svc_route cp_api_attest_routes[] = {
        {"GET", PP "/{p}/attestationPolicy/default", policy_get_route, 0},
        {"PUT", PP "/{p}/attestationPolicy/default", policy_put_route, 0},
        {"DELETE", PP "/{p}/attestationPolicy/default", policy_delete_route, 0},
};
const size_t cp_api_n_attest_routes = CP_ELEMENTSOF(cp_api_attest_routes);
