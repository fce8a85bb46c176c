/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_CONTROLPLANE_API_H
#define CP_CONTROLPLANE_API_H

/*
 * confpoold's ARM-style REST API on the service skeleton (service.h): route
 * tables with case-insensitive ARM paths, the bearer token checked before
 * routing (an unknown path is 401 to a stranger), the body size checked,
 * then each ARM route api-version checked and run in one store transaction.
 * cp_api_handle is its cp_http_handler, for the HTTP server and for
 * requests built in-process alike.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "controlplane/cp-backend.h"
#include "controlplane/cp-rules.h"
#include "service/httpd.h"
#include "service/store.h"

/* The default lifetime of kubelet client certificates (one year, as
 * kube-controller-manager's --cluster-signing-duration). */
#define CP_NODE_CERT_SECONDS_DEFAULT (365UL * 86400UL)

typedef struct cp_api_options {
        cp_store *store;          /* not owned */
        const cp_rules *rules;    /* not owned */
        const char *state_dir;    /* operator token file lives here */
        const char *base_url;     /* "http://127.0.0.1:8080": LRO URLs when the request has no Host */
        bool tls;                 /* scheme of LRO URLs built from Host */
        size_t max_body;          /* 0: CP_MAX_API_BODY */
        /* Optional: the node agents' register/heartbeat endpoints, with their
         * own authentication (attestation tokens, cp-nodes.h; not owned). */
        struct cp_nodes *nodes;
        struct cp_aad *aad;       /* service-principal tokens and /adfs, or NULL (not owned) */
        struct cp_lease *lease;   /* replicas: the leader lease /healthz reports, or NULL (not owned) */
        /* The key broker of the nodes' disks, or NULL: with it a registered node
         * gets a Kubernetes bootstrap token by secure key release (not owned). */
        struct cp_diskkeys *diskkeys;
        /* How long the kubelet client certificates it signs are valid, in
         * seconds (kube-controller-manager's --cluster-signing-duration);
         * 0: one year, its default.  Agents renew after 70-90 % of it. */
        unsigned long node_cert_seconds;
} cp_api_options;

typedef struct cp_api cp_api;

CP_WUR int cp_api_new(const cp_api_options *o, cp_api **ret);
cp_api *cp_api_free(cp_api *api);
/* Base of LRO URLs for requests without a Host header (thread-safe). */
void cp_api_set_base_url(cp_api *api, const char *base_url);
/* The cp_http_handler of the API: userdata is the cp_api. */
void cp_api_handle(void *api, const cp_http_request *req, cp_http_response *resp);

/* Operator credentials: creates <state_dir>/operator.token (0600) and its
 * SHA-256 row when the store has no token yet.  *ret_created tells which. */
CP_WUR int cp_auth_init(cp_store *s, const char *state_dir, bool *ret_created);
/* Constant-time check of "Bearer <token>" against the stored hashes. */
bool cp_auth_check(char (*hashes)[65], size_t n, const char *authorization);

#endif
