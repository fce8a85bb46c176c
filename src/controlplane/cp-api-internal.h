/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_CONTROLPLANE_API_INTERNAL_H
#define CP_CONTROLPLANE_API_INTERNAL_H

#include "controlplane/cp-api.h"
#include "controlplane/cp-aad.h"
#include "controlplane/cp-store.h"

struct cp_api {
        cp_store *store;
        const cp_rules *rules;
        char base_url[256];
        bool tls;
        size_t max_body;
        char (*token_hashes)[65];
        size_t n_tokens;
        bool (*pre_auth)(void *userdata, const cp_api_request *req, cp_api_response *resp);
        void *pre_auth_userdata;
        struct cp_aad *aad;
};

/* Per-request context after the common checks. */
typedef struct api_ctx {
        cp_api *api;
        const cp_api_request *req;
        cp_api_response *resp;
        json_t *body; /* parsed request body or NULL */
        char base[300];
        char caps[8][256];
        cp_principal principal; /* who is calling (systemData, audit) */
} api_ctx;

#define CP_NS_CS "Microsoft.ContainerService"

int api_error(api_ctx *c, unsigned status, const char *code, const char *target, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));
int api_rule_error(api_ctx *c, const cp_rule_error *e);
int api_json(api_ctx *c, unsigned status, json_t *body);
/* 200 {"value":[stored documents]} without re-serialising them. */
int api_list_raw(api_ctx *c, const char *kind, const char *sub, const char *rg, const char *parent);
void api_header(api_ctx *c, const char *name, const char *value);
void api_lro_headers(api_ctx *c, const cp_op *op, bool location);
int api_new_op(api_ctx *c, const char *kind, const char *action, const char *resource, const char *sub,
               const char *location, cp_op *ret);
void api_uuid(char out[37]);
bool api_etag_matches(const char *header, const char *etag);
typedef struct feature_ud {
        api_ctx *c;
        const char *sub;
} feature_ud;
bool api_feature_registered(void *userdata, const char *feature /* feature_ud */);
int api_method_not_allowed(api_ctx *c);
#define MATCH(c, pat) cp_api_path_match(pat, (c)->req->path, (c)->caps, CP_ELEMENTSOF((c)->caps))
#define IS(c, m) (strcmp((c)->req->method, m) == 0)
json_t *api_system_data(const api_ctx *c, const json_t *old);

/* Route groups: return 1 if the path matched (response written), 0 if not,
 * API_ROLLBACK (response written, discard writes),
 * negative cp_err on a store failure (the transaction is rolled back). */
int cp_api_route_tenants(api_ctx *c);
/* az / Azure SDK request quirks ARM accepts (cp-api-az.c). */
void cp_api_az_normalize(json_t *body);
int cp_api_route_subscription(api_ctx *c);
int cp_api_route_clusters(api_ctx *c);
int cp_api_route_pools(api_ctx *c);
/* confpool extension: <pool>/attestationPolicy/default (cp-api-attest.c) */
int cp_api_route_attest_policy(api_ctx *c);

/* Helpers shared by clusters and pools. */
int api_pool_body(api_ctx *c, json_t *pool, json_t **ret);
int api_cluster_view(api_ctx *c, json_t *cluster, json_t **ret);
int api_start_pool_delete(api_ctx *c, const char *pool_id, json_t *pool, cp_op *ret_op);
int cp_api_start_cluster_delete(api_ctx *c, const char *cluster_id, json_t *cluster, cp_op *ret_op);
/* Validate and store a pool document; 1 when validation failed (*err filled). */
int cp_api_pool_apply(api_ctx *c, const char *sub, const char *cluster_id, const json_t *cluster, const char *pool_id,
                      const char *name, json_t *props, const json_t *existing, unsigned extra_vcpus,
                      unsigned extra_system, cp_rule_error *err, json_t **ret_doc);
/* Route return value: response written, but roll the transaction back. */
#define API_ROLLBACK 2
int api_vcpus_in_use(api_ctx *c, const char *sub, const char *location, const char *exclude_pool_id,
                     unsigned *ret);
bool api_is_guid(const char *s);

#endif
