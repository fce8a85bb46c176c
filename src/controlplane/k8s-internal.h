/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_CONTROLPLANE_K8S_INTERNAL_H
#define CP_CONTROLPLANE_K8S_INTERNAL_H

#include "controlplane/cp-api-internal.h"
#include "controlplane/k8s.h"

/* One request to a cluster's Kubernetes API. */
typedef struct k8s_ctx {
        cp_api *api;
        const cp_http_request *req;
        cp_http_response *resp;
        json_t *cluster;        /* the cluster's stored document */
        const char *cluster_id; /* its ARM id */
        char uid[64];           /* its resourceUID (the path's /k8s/<uid>) */
        const char *path;       /* the path below /k8s/<uid> */
        bool admin;             /* clusterAdmin credential (else clusterUser) */
        const char *user;       /* "clusterUser" / "clusterAdmin" / principal below */
        char node[64];          /* a node's verified client certificate: its name (else "") */
        char principal[96];     /* "system:node:<node>" */
        char node_pool[700];    /* that node's pool id (k8s_node_cert) */
} k8s_ctx;

/* ---- answers (k8s-api.c) ---- */
void k8s_reply(k8s_ctx *c, unsigned status, json_t *body /* stolen */);
/* A Status object as kube-apiserver writes it; kind/name go to details
 * (k8s_status_object: the object, NULL when out of memory). */
json_t *k8s_status_object(unsigned status, const char *reason, const char *kind, const char *name, const char *msg);
/* 403 as kube-apiserver's RBAC writes it ("X is forbidden: User ... cannot
 * VERB resource ... in API group ... SCOPE"), with ": why" when why is set. */
void k8s_forbidden(k8s_ctx *c, const char *verb, const char *resource, const char *group, const char *name,
                   const char *ns, const char *why);
void k8s_status(k8s_ctx *c, unsigned status, const char *reason, const char *kind, const char *name, const char *fmt,
                ...) __attribute__((format(printf, 6, 7)));

/* ---- discovery (k8s-discovery.c): true when the path was one of its ---- */
bool k8s_discovery(k8s_ctx *c);

/* ---- objects (k8s-objects.c); the caller holds a store transaction ---- */
/* Bring the cluster's Nodes, Leases and Events up to date with its machines. */
CP_WUR int k8s_sync(cp_api *api, const json_t *cluster);
CP_WUR int k8s_obj_get(cp_store *s, const char *cluster, const char *kind, const char *ns, const char *name,
                       json_t **ret);
/* Objects of a kind (ns NULL: every namespace) as an array, and the store's rv. */
CP_WUR int k8s_obj_list(cp_store *s, const char *cluster, const char *kind, const char *ns, json_t **ret,
                        int64_t *ret_rv);
/* Record a change: a new resourceVersion stamped on obj and logged for watches. */
CP_WUR int k8s_obj_write(cp_store *s, const char *cluster, const char *kind, const char *ns, const char *name,
                         const char *type, json_t *obj);
/* The user's part of a Node (labels, annotations, taints, unschedulable) from a
 * patched Node; and a Node removed by a user until its next heartbeat. */
CP_WUR int k8s_node_user_put(cp_store *s, const char *cluster, const char *name, const json_t *node,
                             const json_t *system_labels);
CP_WUR int k8s_node_user_get(cp_store *s, const char *cluster, const char *name, json_t **ret);
/* Stores a Node's document part: what its node reports (self, table
 * k8s_node_self) or what users set (k8s_node_user); replaces the one before. */
CP_WUR int k8s_node_doc_put(cp_store *s, bool self, const char *cluster, const char *name, const json_t *doc);
CP_WUR int k8s_node_user_delete(cp_store *s, const char *cluster, const char *name);
/* The labels the system sets on a Node (for the reserved-label check). */
CP_WUR int k8s_node_system_labels(cp_store *s, const char *cluster, const char *name, json_t **ret);
/* Log entries after rv of kind (ns NULL: any) in order: fn per entry. */
typedef int (*k8s_log_fn)(void *ud, int64_t rv, const char *type, json_t *obj);
CP_WUR int k8s_log_since(cp_store *s, const char *cluster, const char *kind, const char *ns, int64_t rv, int limit,
                         k8s_log_fn fn, void *ud);
/* The four namespaces every cluster has (a new array). */
json_t *k8s_namespaces(const json_t *cluster);

/* ---- attested join (k8s-csr.c) ---- */
CP_WUR int k8s_bootstrap_schema(cp_store *s);
/* A machine's new bootstrap token: only its SHA-256 (of the 64 hex) is kept. */
CP_WUR int k8s_bootstrap_put(cp_store *s, const char *cluster, const char *pool, const char *machine,
                             const uint8_t token[32]);
/* Revoke the client certificate issued to machine (re-registered, quarantined). */
CP_WUR int k8s_node_cert_forget(cp_store *s, const char *cluster, const char *machine);
/* POST .../certificatesigningrequests with a bootstrap token: true when it
 * was one (answered), false to go on (a kubeconfig token, or 401). */
bool k8s_csr_bootstrap(k8s_ctx *c);
/* POST .../certificatesigningrequests by a node with its current client
 * certificate (c->node set): the kubelet's certificate rotation, approved
 * for its own name while its machine is attested; the new certificate
 * replaces the old one, which is refused from then on. */
void k8s_csr_renew(k8s_ctx *c);
#define K8S_CSR_PATH "/apis/certificates.k8s.io/v1/certificatesigningrequests"

/* ---- nodes' own credential (k8s-node.c) ---- */
/* The request's verified client certificate as a node of this cluster:
 * O=system:nodes, CN=system:node:<name>, the very certificate issued to that
 * machine of this cluster (SHA-256 of its DER as recorded), the machine
 * still Ready.  true: c->node, c->user set; false: not a node (logged when a
 * certificate was presented and refused). */
bool k8s_node_authenticate(k8s_ctx *c);
#define K8S_NODE_EVENTS_MAX 100 /* Events a node may have created and not yet expired */
/* The Node authorizer (kube-apiserver's NodeRestriction): a node gets,
 * updates and patches its own Node (status heartbeats) and its own Lease in
 * kube-node-lease, creates Events about itself; nothing else.  path gives
 * the resource; true when the request was handled (answered, 403 included). */
void k8s_node_serve(k8s_ctx *c, const char *verb, const char *resource, const char *group, const char *ns,
                    const char *name, const char *sub);
/* What a node reported itself: {"heartbeat": s, "renewTime": "...", "holder": "...",
 * "duration": n}; an empty object when nothing. */
CP_WUR int k8s_node_self_get(cp_store *s, const char *cluster, const char *name, json_t **ret);

/* ---- store growth (k8s-gc.c); the caller holds a store transaction ---- */
#define K8S_LOG_KEEP 10000     /* change log entries kept (store-wide) */
#define K8S_EVENT_TTL_S 3600   /* kube-apiserver's --event-ttl default */
#define K8S_GC_PERIOD_S 60
/* Compact the log to its last `keep` entries, expire Events older than
 * event_ttl at now, remove the objects of deleted clusters. */
CP_WUR int k8s_gc(cp_store *s, int64_t now, int64_t keep, int64_t event_ttl);
/* The highest resourceVersion compacted away (0: none). */
int64_t k8s_compacted_rv(cp_store *s);
/* Whether this process's periodic k8s_gc is due (and now counted as run). */
bool k8s_gc_due(void);

/* ---- watch (k8s-watch.c) ---- */
void k8s_watch(k8s_ctx *c, const char *kind, const char *ns, const cp_k8s_selector *labels,
               const cp_k8s_selector *fields, bool table);

#endif
