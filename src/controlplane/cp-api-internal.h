/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_CONTROLPLANE_API_INTERNAL_H
#define CP_CONTROLPLANE_API_INTERNAL_H

#include "controlplane/cp-api.h"
#include "controlplane/cp-aad.h"
#include "controlplane/cp-store.h"
#include "basic/cleanup.h"
#include "basic/loglimit.h"
#include "service/service.h"

#define CP_API_MAX_ROUTES 96

struct cp_api {
        cp_store *store;
        const cp_rules *rules;
        char base_url[256];
        bool tls;
        size_t max_body;
        char (*token_hashes)[65];
        size_t n_tokens;
        struct cp_nodes *nodes;
        struct cp_aad *aad;
        struct cp_lease *lease;
        cp_svc *svc;
        cp_svc_route routes[CP_API_MAX_ROUTES]; /* the ARM tables, then /adfs and the nodes' when served */
        cp_log_limit refused_log;    /* audit lines of refused requests (401/403): rate-limited */
        uint8_t cred_key[32];        /* clusters' credential tokens: HMAC keys (cp-api-cluster-access.c) */
        char ca_file[1024];          /* <state_dir>/ca.pem (kubeconfigs' CA), "" without TLS */
        struct cp_diskkeys *diskkeys; /* bootstrap tokens by secure key release, or NULL */
        unsigned long node_cert_seconds; /* kubelet client certificates' lifetime */
};

/* What the authentication hook attaches to a call (cp_svc_call.auth; it lives
 * on cp_api_handle's stack, handed over as the call's ctx):
 * the principal, and why a credential was refused (for the audit line). */
typedef struct api_auth {
        cp_principal principal;
        char why[200];
} api_auth;

/* Per-request context of an ARM route after the common checks (cp_api_run):
 * the request's parts confpoold reads, parsed once. */
typedef struct api_ctx {
        cp_api *api;
        cp_svc_call *call;
        cp_http_response *resp;
        const char *method, *path;
        const char *api_version;     /* query "api-version" */
        const char *ignore_pdb;      /* query "ignore-pod-disruption-budget" */
        const char *if_match, *if_none_match;
        const char *custom_features; /* AKSHTTPCustomFeatures */
        json_t *body;                /* parsed request body or NULL */
        char base[300];
        char (*caps)[CP_SVC_CAP_MAX]; /* the route's captures */
        cp_principal principal;      /* who is calling (systemData, audit) */
} api_ctx;

#define CP_NS_CS "Microsoft.ContainerService"

int api_error(api_ctx *c, unsigned status, const char *code, const char *target, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));
int api_rule_error(api_ctx *c, const cp_rule_error *e);
/* A JSON body (reference stolen; NULL: an empty body).  Returns 1. */
int api_json(api_ctx *c, unsigned status, json_t *body);
/* A pre-serialised JSON body (malloc()ed, owned by the response).  Returns 1. */
int api_raw(api_ctx *c, unsigned status, char *raw, size_t len);
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
json_t *api_system_data(const api_ctx *c, const json_t *old);

/* The work of an ARM route inside confpoold's request frame (cp_api_run:
 * api-version, body, one store transaction): returns 1 (answered),
 * API_ROLLBACK (answered, discard writes), or a negative cp_err on a store
 * failure (rolled back, 500). */
typedef int (*api_fn)(api_ctx *c);
void cp_api_run(cp_svc_call *sc, api_fn fn);
/* The route handler (cp_svc_route_fn) fn##_route of an api_fn. */
#define API_ROUTE(fn)                                                                                                  \
        static void fn##_route(cp_svc_call *sc) {                                                                      \
                cp_api_run(sc, fn);                                                                                    \
        }

/* An ARM route whose work is the expression call, with the route's
 * captures as k[0], k[1], ...: the api_fn fn and its handler fn##_route. */
#define API_CAPS_ROUTE(fn, call)                                                                                       \
        static int fn(api_ctx *c) {                                                                                    \
                char(*k)[CP_SVC_CAP_MAX] = c->caps;                                                                    \
                return call;                                                                                           \
        }                                                                                                              \
        API_ROUTE(fn)

/* The route tables, in the order they are tried. */
extern const cp_svc_route cp_api_tenant_routes[];     /* cp-api-az.c */
extern const size_t cp_api_n_tenant_routes;
extern const cp_svc_route cp_api_sub_routes[];        /* cp-api-sub.c */
extern const size_t cp_api_n_sub_routes;
extern const cp_svc_route cp_api_cluster_routes[];    /* cp-api-clusters.c */
extern const size_t cp_api_n_cluster_more_routes;
extern const cp_svc_route cp_api_cluster_more_routes[]; /* cp-api-cluster-access.c */
extern const size_t cp_api_n_cluster_routes;
extern const cp_svc_route cp_api_cluster_ops_routes[]; /* cp-api-cluster-ops.c */
extern const size_t cp_api_n_cluster_ops_routes;
/* rotateServiceAccountSigningKeys and the public /oidc/{uid}/ issuer (cp-api-oidc.c) */
extern const cp_svc_route cp_api_oidc_routes[];
extern const size_t cp_api_n_oidc_routes;
extern const cp_svc_route cp_api_pool_routes[];       /* cp-api-pools.c */
extern const size_t cp_api_n_pool_routes;
/* confpool extension: <pool>/attestationPolicy/default (cp-api-attest.c) */
extern const cp_svc_route cp_api_attest_routes[];
extern const size_t cp_api_n_attest_routes;
/* Public routes with their own authentication: /adfs of the identity
 * provider (cp-api-aad.c) and the node agents' register/heartbeat
 * (cp-api-nodes.c); userdata is the cp_api. */
extern const cp_svc_route cp_api_aad_routes[];
extern const size_t cp_api_n_aad_routes;
extern const cp_svc_route cp_api_node_routes[];
extern const size_t cp_api_n_node_routes;

/* az / Azure SDK request quirks ARM accepts (cp-api-az.c). */
void cp_api_az_normalize(json_t *body);

/* Helpers shared by clusters and pools. */
int api_pool_body(api_ctx *c, json_t *pool, json_t **ret);
int api_cluster_view(api_ctx *c, json_t *cluster, json_t **ret);
/* The request's properties.addonProfiles applied to a cluster document
 * (known add-ons only, AKS's shape: enabled, config, identity); not sent:
 * unchanged.  0, 1 refused (written), negative error (cp-api-cluster-ops.c). */
int api_cluster_addons(api_ctx *c, json_t *doc);
/* The request's properties.oidcIssuerProfile applied to a cluster document
 * (enabling creates the issuer's first signing key); 0, 1 refused, negative
 * error.  _forget: the cluster's signing keys deleted (cp-api-oidc.c). */
int api_cluster_oidc(api_ctx *c, json_t *doc);
int api_cluster_oidc_forget(api_ctx *c, const char *cluster_id);
/* The cluster's credential salt (rotate-certs), NULL before any rotation. */
const char *api_cluster_cred_salt(const json_t *doc);
/* The clusters' credential key: <state_dir>/cluster-credentials.key (32
 * random bytes, 0600, created once; random per process without a state
 * directory) and the kubeconfigs' CA file (cp-api-cluster-access.c). */
int api_credentials_init(cp_api *a, const char *state_dir);
/* The stored cluster document (*ret), or 404 ResourceNotFound / 400 written
 * (returns 1: *ret NULL); negative error. */
int api_cluster_get_doc(api_ctx *c, const char *sub, const char *rg, const char *name, json_t **ret);
/* The stored cluster document for a POST action (stop, start,
 * rotateClusterCertificates, rotateServiceAccountSigningKeys): as
 * api_cluster_get_doc, and 409 OperationNotAllowed written (returns 1) while
 * an operation is in progress on the cluster or it is being deleted. */
int api_cluster_action_doc(api_ctx *c, const char *sub, const char *rg, const char *name, json_t **ret);
int api_start_pool_delete(api_ctx *c, const char *pool_id, json_t *pool, cp_op *ret_op);
/* A cluster PUT on a Failed cluster retries its Failed pool (a stored pool
 * document, updated): its machines that are not Ready are marked for
 * replacement, the pool goes Updating and a pool "update" operation starts
 * (nothing when the pool is not Failed or has an operation running). */
int api_pool_retry(api_ctx *c, const char *sub, const char *location, json_t *pool);
int cp_api_start_cluster_delete(api_ctx *c, const char *cluster_id, json_t *cluster, cp_op *ret_op);
/* Validate and store a pool document; 1 when validation failed (*err filled). */
int cp_api_pool_apply(api_ctx *c, const char *sub, const char *cluster_id, const json_t *cluster, const char *pool_id,
                      const char *name, json_t *props, const json_t *existing, unsigned extra_vcpus,
                      unsigned extra_system, cp_rule_error *err, json_t **ret_doc);
/* The clusters' Kubernetes APIs (k8s-api.c, docs/kubernetes.md): a request
 * under /k8s/<resourceUID>/ is answered (true), else false; their tables
 * (k8s-objects.c, idempotent). */
bool cp_k8s_handle(cp_api *api, const cp_http_request *req, cp_http_response *resp);
CP_WUR int k8s_schema(cp_store *s);
/* After a machine's registration: a new Kubernetes bootstrap token released
 * to the node only by the key broker (k8s-csr.c); *ret (new reference) is
 * {"server": <its cluster's API>, "bootstrapKeyId": <broker id>}, NULL when
 * confpoold has no broker.  Outside any store transaction. */
CP_WUR int k8s_bootstrap_issue(cp_api *api, const char *pool_id, const char *machine, const json_t *claims,
                               json_t **ret);
/* The token of a cluster (its stored document: resourceUID and the
 * rotate-certs salt) for a role ("clusterUser",
 * "clusterAdmin"): 64 hex digits + NUL, what its kubeconfigs carry. */
void api_cluster_token(const cp_api *a, const json_t *doc, const char *role, char out[65]);
/* Route return value: response written, but roll the transaction back. */
#define API_ROLLBACK 2
int api_vcpus_in_use(api_ctx *c, const char *sub, const char *location, const char *exclude_pool_id,
                     unsigned *ret);
bool api_is_guid(const char *s);

#endif
