/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What az asks of a cluster besides its document (docs/az-cli.md):
 *   GET  /subscriptions/{s}/providers/Microsoft.ContainerService/locations/{l}/orchestrators
 *        (az aks get-versions; api-version 2019-04-01's OrchestratorVersionProfileListResult)
 *   GET  .../managedClusters/{c}/upgradeProfiles/default          (az aks get-upgrades)
 *   POST .../managedClusters/{c}/listClusterUserCredential        (az aks get-credentials)
 *   POST .../managedClusters/{c}/listClusterAdminCredential       (... --admin)
 *   POST .../managedClusters/{c}/stop, .../start                   (az aks stop / start:
 *        every pool's powerState; machines stopped keeping their disks,
 *        then booted again on them)
 * Upgrades follow AKS's rule: a higher patch of the same minor, or any
 * version of the next minor.  A kubeconfig names the cluster's API server
 * (its fqdn), confpoold's CA and a bearer token that is HMAC-SHA256 of the
 * cluster's resourceUID and the role under a per-installation key: per
 * cluster, per role, unguessable without the key, never stored in the
 * cluster's document.  What the token opens is the Kubernetes API issue's
 * work; the credential is given only to principals that can read the
 * cluster (the subscription scoping of every ARM route).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "basic/codec.h"
#include "basic/fileio.h"
#include "basic/secure.h"
#include "controlplane/cp-api-internal.h"

static char *b64_alloc(const uint8_t *in, size_t n) {
        char *out = malloc(cp_b64_encoded_len(n, CP_B64_STD) + 1);
        if (out)
                cp_b64_encode(in, n, CP_B64_STD, out);
        return out;
}

int api_credentials_init(cp_api *a, const char *state_dir) {
        if (!state_dir)
                return RAND_bytes(a->cred_key, sizeof a->cred_key) == 1 ? 0 : CP_ERROR(CP_ECRYPTO, "RAND_bytes");
        char f[1100];
        if (strlen(state_dir) > sizeof a->ca_file - 40)
                return CP_ERROR(CP_ETOOBIG, "state directory path too long: %.100s...", state_dir);
        snprintf(f, sizeof f, "%s/ca.pem", state_dir);
        if (access(f, R_OK) == 0)
                memcpy(a->ca_file, f, strlen(f) + 1);
        snprintf(f, sizeof f, "%s/cluster-credentials.key", state_dir);
        uint8_t *buf = NULL;
        size_t len = 0;
        int r = cp_read_file(f, 64, &buf, &len);
        if (r >= 0 && len == sizeof a->cred_key)
                memcpy(a->cred_key, buf, len);
        else if (r >= 0)
                r = CP_ERROR(CP_EFORMAT, "%s: not a 32-byte key", f);
        else if (r == CP_ENOTFOUND) {
                cp_error_clear();
                r = RAND_bytes(a->cred_key, sizeof a->cred_key) == 1
                            ? cp_write_file(f, a->cred_key, sizeof a->cred_key, 0600)
                            : CP_ERROR(CP_ECRYPTO, "RAND_bytes");
        }
        if (buf)
                cp_wipe(buf, len);
        free(buf);
        return r;
}

/* Versions one may upgrade to from `from` ("1.33.2"): as objects
 * {key: version, "isPreview": bool} (with orchestratorType when key is
 * "orchestratorVersion"). */
static json_t *upgrades_of(const cp_rules *rules, const char *from, const char *key) {
        json_t *v = json_array();
        unsigned fa, fb;
        int fp;
        if (!v || !from || cp_k8s_parse(from, &fa, &fb, &fp) < 0) {
                cp_error_clear();
                return v;
        }
        for (size_t i = 0; i < cp_rules_n_versions(rules); i++) {
                const cp_k8s_version *k = cp_rules_version_at(rules, i);
                unsigned a, b;
                int p;
                if (cp_k8s_parse(k->version, &a, &b, &p) < 0) {
                        cp_error_clear();
                        continue;
                }
                if (a != fa || !((b == fb && p > fp) || b == fb + 1))
                        continue;
                json_t *o = json_pack("{s:s,s:b}", key, k->version, "isPreview", k->preview);
                if (o && strcmp(key, "orchestratorVersion") == 0)
                        json_object_set_new(o, "orchestratorType", json_string("Kubernetes"));
                json_array_append_new(v, o);
        }
        return v;
}

static int orchestrators(api_ctx *c, const char *sub, const char *location) {
        if (!api_is_guid(sub))
                return api_error(c, 400, "InvalidSubscriptionId", NULL,
                                 "The provided subscription identifier '%s' is malformed or invalid.", sub);
        json_t *list = json_array();
        for (size_t i = 0; list && i < cp_rules_n_versions(c->api->rules); i++) {
                const cp_k8s_version *k = cp_rules_version_at(c->api->rules, i);
                json_array_append_new(list, json_pack("{s:s,s:s,s:b,s:b,s:o}", "orchestratorType", "Kubernetes",
                                                      "orchestratorVersion", k->version, "default", k->is_default,
                                                      "isPreview", k->preview, "upgrades",
                                                      upgrades_of(c->api->rules, k->version, "orchestratorVersion")));
        }
        char id[400];
        snprintf(id, sizeof id, "/subscriptions/%s/providers/" CP_NS_CS "/locations/%s/orchestrators", sub, location);
        json_t *body = list ? json_pack("{s:s,s:s,s:s,s:{s:o}}", "id", id, "name", "default", "type",
                                        CP_NS_CS "/locations/orchestrators", "properties", "orchestrators", list)
                            : NULL;
        return body ? api_json(c, 200, body) : cp_error_oom();
}

static int upgrade_profile(api_ctx *c, const char *sub, const char *rg, const char *name) {
        json_t *doc = NULL, *view = NULL;
        int r = api_cluster_get_doc(c, sub, rg, name, &doc);
        if (r != 0)
                return r;
        r = api_cluster_view(c, doc, &view);
        json_decref(doc);
        if (r < 0)
                return r;
        const json_t *props = json_object_get(view, "properties");
        const char *cv = json_string_value(json_object_get(props, "currentKubernetesVersion"));
        json_t *pools = json_array();
        size_t i;
        json_t *p;
        json_array_foreach(json_object_get(props, "agentPoolProfiles"), i, p) {
                const char *pv = json_string_value(json_object_get(p, "currentOrchestratorVersion"));
                if (!pv)
                        pv = json_string_value(json_object_get(p, "orchestratorVersion"));
                json_array_append_new(pools, json_pack("{s:O,s:s,s:s,s:o}", "name", json_object_get(p, "name"),
                                                       "kubernetesVersion", pv ? pv : "", "osType", "Linux",
                                                       "upgrades",
                                                       upgrades_of(c->api->rules, pv, "kubernetesVersion")));
        }
        char id[700];
        snprintf(id, sizeof id, "%s/upgradeprofiles/default", json_string_value(json_object_get(view, "id")));
        json_t *body = json_pack("{s:s,s:s,s:s,s:{s:{s:s,s:s,s:o},s:o}}", "id", id, "name", "default", "type",
                                 CP_NS_CS "/managedClusters/upgradeprofiles", "properties", "controlPlaneProfile",
                                 "kubernetesVersion", cv ? cv : "", "osType", "Linux", "upgrades",
                                 upgrades_of(c->api->rules, cv, "kubernetesVersion"), "agentPoolProfiles", pools);
        json_decref(view);
        return body ? api_json(c, 200, body) : cp_error_oom();
}

void api_cluster_token(const cp_api *a, const json_t *doc, const char *role, char out[65]) {
        uint8_t mac[32];
        unsigned ml = sizeof mac;
        char msg[200];
        const char *uid = json_string_value(json_object_get(json_object_get(doc, "properties"), "resourceUID"));
        const char *salt = api_cluster_cred_salt(doc); /* rotate-certs: a new salt, new tokens */
        int n = snprintf(msg, sizeof msg, "confpool-kubeconfig:%s:%s%s%.40s", role, uid ? uid : "", salt ? ":" : "",
                         salt ? salt : "");
        HMAC(EVP_sha256(), a->cred_key, sizeof a->cred_key, (const uint8_t *) msg,
             (size_t) (n < (int) sizeof msg ? n : (int) sizeof msg - 1), mac, &ml);
        cp_hex_encode(mac, sizeof mac, out);
        cp_wipe(mac, sizeof mac);
}

/* The kubeconfig of a cluster for a role ("clusterUser", "clusterAdmin"):
 * its server is the cluster's Kubernetes API on confpoold,
 * <public URL>/k8s/<resourceUID> (k8s-api.c). */
static int kubeconfig(api_ctx *c, const json_t *doc, const char *rg, const char *name, const char *role,
                      char **ret) {
        const json_t *props = json_object_get(doc, "properties");
        const char *uid = json_string_value(json_object_get(props, "resourceUID"));
        const char *fqdn = json_string_value(json_object_get(props, "fqdn"));
        if (!uid || !fqdn)
                return CP_ERROR(CP_EFORMAT, "cluster %s: no resourceUID or fqdn", name);
        char token[65];
        api_cluster_token(c->api, doc, role, token);
        char *ca_b64 = NULL;
        if (c->api->ca_file[0]) {
                uint8_t *pem = NULL;
                size_t pl = 0;
                if (cp_read_file(c->api->ca_file, 64 * 1024, &pem, &pl) >= 0)
                        ca_b64 = b64_alloc(pem, pl);
                cp_error_clear();
                free(pem);
        }
        char *out = NULL;
        int len = asprintf(&out,
                           "apiVersion: v1\nclusters:\n- cluster:\n%s%s%s    server: %s/k8s/%s\n  name: %s\n"
                           "contexts:\n- context:\n    cluster: %s\n    user: %s_%s_%s\n  name: %s%s\n"
                           "current-context: %s%s\nkind: Config\npreferences: {}\nusers:\n- name: %s_%s_%s\n  user:\n"
                           "    token: %s\n",
                           ca_b64 ? "    certificate-authority-data: " : "", ca_b64 ? ca_b64 : "", ca_b64 ? "\n" : "",
                           c->api->base_url, uid, name, name, role, rg, name, name, strcmp(role, "clusterAdmin") == 0 ? "-admin" : "",
                           name, strcmp(role, "clusterAdmin") == 0 ? "-admin" : "", role, rg, name, token);
        free(ca_b64);
        cp_wipe(token, sizeof token);
        if (len < 0)
                return cp_error_oom();
        *ret = out;
        return 0;
}

static int credentials(api_ctx *c, const char *sub, const char *rg, const char *name, const char *role) {
        json_t *doc = NULL;
        int r = api_cluster_get_doc(c, sub, rg, name, &doc);
        if (r != 0)
                return r;
        char *kc = NULL;
        r = kubeconfig(c, doc, rg, name, role, &kc);
        json_decref(doc);
        if (r < 0)
                return r;
        char *b64 = b64_alloc((const uint8_t *) kc, strlen(kc));
        cp_wipe(kc, strlen(kc));
        free(kc);
        json_t *body = b64 ? json_pack("{s:[{s:s,s:s}]}", "kubeconfigs", "name", role, "value", b64) : NULL;
        if (b64)
                cp_wipe(b64, strlen(b64));
        free(b64);
        return body ? api_json(c, 200, body) : cp_error_oom();
}

/* The pools of a stopped or started cluster: their powerState and a pool
 * operation each (the reconciler stops machines keeping their disks, or
 * boots them again); 0, 1 refused (written), negative error. */
static int power_pools(api_ctx *c, const char *sub, const char *cluster_id, const char *location, const char *code) {
        json_t *pools = NULL, *p;
        int r = cp_res_list(c->api->store, "pool", NULL, NULL, cluster_id, &pools);
        size_t i;
        json_array_foreach(pools, i, p) {
                const char *id = json_string_value(json_object_get(p, "id"));
                cp_op op;
                if (r < 0)
                        break;
                if (cp_op_active_for(c->api->store, id, &op) >= 0) {
                        r = api_error(c, 409, "OperationNotAllowed", NULL,
                                      "Operation is not allowed because there's an in progress %s operation on agent "
                                      "pool '%s' (operation %s).", op.action,
                                      json_string_value(json_object_get(p, "name")), op.id);
                        break;
                }
                cp_error_clear();
                json_t *props = json_object_get(p, "properties");
                char etag[37];
                api_uuid(etag);
                json_object_set_new(props, "powerState", json_pack("{s:s}", "code", code));
                json_object_set_new(props, "provisioningState", json_string(strcmp(code, "Stopped") == 0 ? "Stopping"
                                                                                                         : "Starting"));
                json_object_set_new(props, "eTag", json_string(etag));
                if ((r = cp_res_update(c->api->store, id, p, etag)) >= 0)
                        r = api_new_op(c, "pool", "update", id, sub, location, &op);
        }
        json_decref(pools);
        return r;
}

/* POST .../stop and .../start: 202 and the operation's links. */
static int power(api_ctx *c, const char *sub, const char *rg, const char *name, bool stop) {
        json_t *doc = NULL;
        int r = api_cluster_action_doc(c, sub, rg, name, &doc);
        if (r != 0)
                return r;
        const char *id = json_string_value(json_object_get(doc, "id"));
        const char *location = json_string_value(json_object_get(doc, "location"));
        cp_op op;
        const char *code = stop ? "Stopped" : "Running";
        r = power_pools(c, sub, id, location, code);
        if (r == 0) {
                json_t *props = json_object_get(doc, "properties");
                char etag[37];
                api_uuid(etag);
                json_object_set_new(props, "powerState", json_pack("{s:s}", "code", code));
                json_object_set_new(props, "provisioningState", json_string(stop ? "Stopping" : "Starting"));
                json_object_set_new(doc, "eTag", json_string(etag));
                if ((r = cp_res_update(c->api->store, id, doc, etag)) >= 0)
                        r = api_new_op(c, "cluster", stop ? "stop" : "start", id, sub, location, &op);
        }
        json_decref(doc);
        if (r != 0)
                return r < 0 ? r : API_ROLLBACK;
        api_json(c, 202, NULL);
        api_lro_headers(c, &op, true);
        return 1;
}

#define PC "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters"

API_CAPS_ROUTE(orchestrators_fn, orchestrators(c, k[0], k[1]))
API_CAPS_ROUTE(upgrades_fn, upgrade_profile(c, k[0], k[1], k[2]))
API_CAPS_ROUTE(user_cred_fn, credentials(c, k[0], k[1], k[2], "clusterUser"))
API_CAPS_ROUTE(admin_cred_fn, credentials(c, k[0], k[1], k[2], "clusterAdmin"))
API_CAPS_ROUTE(stop_fn, power(c, k[0], k[1], k[2], true))
API_CAPS_ROUTE(start_fn, power(c, k[0], k[1], k[2], false))

const cp_svc_route cp_api_cluster_more_routes[] = {
        {"GET", "/subscriptions/{sub}/providers/Microsoft.ContainerService/locations/{loc}/orchestrators",
         orchestrators_fn_route, 0},
        {"GET", PC "/{c}/upgradeProfiles/default", upgrades_fn_route, 0},
        {"POST", PC "/{c}/listClusterUserCredential", user_cred_fn_route, 0},
        {"POST", PC "/{c}/listClusterAdminCredential", admin_cred_fn_route, 0},
        {"POST", PC "/{c}/stop", stop_fn_route, 0},
        {"POST", PC "/{c}/start", start_fn_route, 0},
};
const size_t cp_api_n_cluster_more_routes = CP_ELEMENTSOF(cp_api_cluster_more_routes);
