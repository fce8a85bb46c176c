/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Cluster commands of az besides the document and its credentials
 * (docs/az-cli.md, issue 14):
 *   addonProfiles of a cluster PUT   (az aks enable-addons / disable-addons, create -a)
 *   POST .../rotateClusterCertificates   (az aks rotate-certs: an LRO)
 *   POST .../runCommand, GET .../commandResults/{id}   (az aks command invoke /
 *        result: refused, the cluster runs no pods to run it in)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/rand.h>

#include "basic/codec.h"
#include "controlplane/cp-api-internal.h"

/* The add-ons az 2.45 knows (azure-cli's aks _consts.py ADDONS), by their
 * addonProfiles key; `identity`: AKS adds a user-assigned identity in the
 * node resource group when the add-on is enabled (its name prefix). */
static const struct addon {
        const char *key, *identity;
} addons[] = {
        {"httpApplicationRouting", NULL},
        {"omsagent", "omsagent"},
        {"aciConnectorLinux", "aciconnectorlinux"},
        {"azurepolicy", "azurepolicy"},
        {"ingressApplicationGateway", "ingressapplicationgateway"},
        {"ACCSGXDevicePlugin", NULL},
        {"openServiceMesh", NULL},
        {"azureKeyvaultSecretsProvider", "azurekeyvaultsecretsprovider"},
};

#define ADDON_MAX_CONFIG 16
#define ADDON_MAX_VALUE 1024

static const struct addon *addon_find(const char *key) {
        for (size_t i = 0; i < CP_ELEMENTSOF(addons); i++)
                if (strcasecmp(addons[i].key, key) == 0)
                        return &addons[i];
        return NULL;
}

/* The identity AKS gives an enabled add-on; the one the cluster already has
 * for it is kept. */
static json_t *addon_identity(const json_t *doc, const struct addon *a, const json_t *had) {
        if (json_is_object(had))
                return json_deep_copy(had);
        const char *id = json_string_value(json_object_get(doc, "id"));
        const char *nrg = json_string_value(json_object_get(json_object_get(doc, "properties"), "nodeResourceGroup"));
        const char *sub = id && strncmp(id, "/subscriptions/", 15) == 0 ? id + 15 : "";
        char rid[700], cl[37], ob[37];
        api_uuid(cl);
        api_uuid(ob);
        snprintf(rid, sizeof rid,
                 "/subscriptions/%.*s/resourcegroups/%s/providers/Microsoft.ManagedIdentity/userAssignedIdentities/%s-%s",
                 (int) strcspn(sub, "/"), sub, nrg ? nrg : "", a->identity,
                 json_string_value(json_object_get(doc, "name")));
        return json_pack("{s:s,s:s,s:s}", "resourceId", rid, "clientId", cl, "objectId", ob);
}

/* One profile of the request: enabled (required boolean) and config (an
 * object of strings, or null).  0, or 1 when refused (written). */
static int addon_check(api_ctx *c, const char *key, const json_t *p) {
        const json_t *cfg = json_object_get(p, "config");
        if (!json_is_object(p) || !json_is_boolean(json_object_get(p, "enabled")))
                return api_error(c, 400, "InvalidParameter", "properties.addonProfiles",
                                 "The value of parameter addonProfiles.%s.enabled is invalid: a boolean is required.",
                                 key);
        if (cfg && !json_is_null(cfg) && (!json_is_object(cfg) || json_object_size(cfg) > ADDON_MAX_CONFIG))
                return api_error(c, 400, "InvalidParameter", "properties.addonProfiles",
                                 "The value of parameter addonProfiles.%s.config is invalid: an object of at most %d "
                                 "strings is required.",
                                 key, ADDON_MAX_CONFIG);
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *) cfg, k, v) {
                if (!json_is_string(v) || strlen(k) > 128 || json_string_length(v) > ADDON_MAX_VALUE)
                        return api_error(c, 400, "InvalidParameter", "properties.addonProfiles",
                                         "The value of parameter addonProfiles.%s.config.%.128s is invalid: a string "
                                         "of at most %d characters is required.",
                                         key, k, ADDON_MAX_VALUE);
        }
        return 0;
}

int api_cluster_addons(api_ctx *c, json_t *doc) {
        const json_t *in = json_object_get(json_object_get(c->body, "properties"), "addonProfiles");
        json_t *props = json_object_get(doc, "properties");
        const json_t *old = json_object_get(props, "addonProfiles");
        if (!in || json_is_null(in))
                return 0; /* not sent: unchanged */
        if (!json_is_object(in) || json_object_size(in) > CP_ELEMENTSOF(addons))
                return api_error(c, 400, "InvalidParameter", "properties.addonProfiles",
                                 "The value of parameter addonProfiles is invalid: an object naming add-ons is "
                                 "required.");
        json_t *out = json_object();
        const char *key;
        const json_t *p;
        json_object_foreach((json_t *) in, key, p) {
                const struct addon *a = addon_find(key);
                int r = a ? addon_check(c, key, p) : 0;
                if (!a)
                        r = api_error(c, 400, "InvalidParameter", "properties.addonProfiles",
                                      "The value of parameter addonProfiles.%.64s is invalid: '%.64s' is not an add-on "
                                      "this service supports (supported: httpApplicationRouting, omsagent, "
                                      "aciConnectorLinux, azurepolicy, ingressApplicationGateway, ACCSGXDevicePlugin, "
                                      "openServiceMesh, azureKeyvaultSecretsProvider).",
                                      key, key);
                if (r != 0) {
                        json_decref(out);
                        return r;
                }
                bool on = json_is_true(json_object_get(p, "enabled"));
                const json_t *cfg = json_object_get(p, "config");
                json_t *np = json_pack("{s:b,s:O}", "enabled", on, "config",
                                       json_is_object(cfg) && json_object_size(cfg) ? cfg : json_null());
                if (np && on && a->identity)
                        json_object_set_new(np, "identity",
                                            addon_identity(doc, a, json_object_get(json_object_get(old, a->key),
                                                                                   "identity")));
                if (!np || json_object_set_new(out, a->key, np) < 0) {
                        json_decref(out);
                        return cp_error_oom();
                }
        }
        return json_object_set_new(props, "addonProfiles", out) < 0 ? cp_error_oom() : 0;
}

/* ---- rotate-certs ------------------------------------------------------- */

const char *api_cluster_cred_salt(const json_t *doc) {
        return json_string_value(json_object_get(json_object_get(doc, "confpoolInternal"), "credentialSalt"));
}

/* POST .../rotateClusterCertificates: a new credential salt for the
 * cluster, so every kubeconfig fetched before carries a token that is no
 * longer the cluster's (cp-api-cluster-access.c kubeconfig()); 202 and the
 * operation's links.  Nodes are not touched. */
static int rotate_certs(api_ctx *c, const char *sub, const char *rg, const char *name) {
        json_t *doc = NULL;
        int r = api_cluster_action_doc(c, sub, rg, name, &doc);
        if (r != 0)
                return r;
        const char *id = json_string_value(json_object_get(doc, "id"));
        const char *location = json_string_value(json_object_get(doc, "location"));
        cp_op op;
        uint8_t salt[16];
        char hex[33], etag[37];
        if (RAND_bytes(salt, sizeof salt) != 1) {
                json_decref(doc);
                return CP_ERROR(CP_ECRYPTO, "random credential salt for cluster %s", name);
        }
        cp_hex_encode(salt, sizeof salt, hex);
        api_uuid(etag);
        json_object_set_new(doc, "confpoolInternal", json_pack("{s:s}", "credentialSalt", hex));
        json_object_set_new(json_object_get(doc, "properties"), "provisioningState", json_string("Updating"));
        json_object_set_new(doc, "eTag", json_string(etag));
        json_object_set_new(doc, "systemData", api_system_data(c, json_object_get(doc, "systemData")));
        if ((r = cp_res_update(c->api->store, id, doc, etag)) >= 0)
                r = api_new_op(c, "cluster", "rotateClusterCertificates", id, sub, location, &op);
        json_decref(doc);
        if (r < 0)
                return r;
        api_json(c, 202, NULL);
        api_lro_headers(c, &op, true);
        return 1;
}

/* ---- run-command: refused ----------------------------------------------- */

static int run_command(api_ctx *c, const char *sub, const char *rg, const char *name, const char *result_id) {
        json_t *doc = NULL;
        int r = api_cluster_get_doc(c, sub, rg, name, &doc);
        if (r != 0)
                return r;
        json_decref(doc);
        if (result_id)
                return api_error(c, 404, "NotFound", NULL,
                                 "Command result '%.64s' of managed cluster '%s' was not found: this service runs no "
                                 "commands (the cluster runs no pods).",
                                 result_id, name);
        return api_error(c, 400, "OperationNotSupported", NULL,
                         "runCommand is not supported on managed cluster '%s': the cluster runs no pods to run "
                         "the command in (its Kubernetes API serves nodes, leases and events only; nothing "
                         "was run).",
                         name);
}

#define PC "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters"

API_CAPS_ROUTE(rotate_fn, rotate_certs(c, k[0], k[1], k[2]))
API_CAPS_ROUTE(run_fn, run_command(c, k[0], k[1], k[2], NULL))
API_CAPS_ROUTE(result_fn, run_command(c, k[0], k[1], k[2], k[3]))

const cp_svc_route cp_api_cluster_ops_routes[] = {
        {"POST", PC "/{c}/rotateClusterCertificates", rotate_fn_route, 0},
        {"POST", PC "/{c}/runCommand", run_fn_route, 0},
        {"GET", PC "/{c}/commandResults/{id}", result_fn_route, 0},
};
const size_t cp_api_n_cluster_ops_routes = CP_ELEMENTSOF(cp_api_cluster_ops_routes);
