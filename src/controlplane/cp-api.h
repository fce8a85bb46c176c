/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_CONTROLPLANE_API_H
#define CP_CONTROLPLANE_API_H

/*
 * confpoold's ARM-style REST API as a pure router: a request in, a response
 * out, no sockets (cp-httpd.c adapts it to the shared HTTP server).  Every
 * request is authenticated (bearer token), api-version checked, body size
 * checked, and runs in one store transaction.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "controlplane/cp-backend.h"
#include "controlplane/cp-rules.h"
#include "service/store.h"

typedef struct cp_api_request {
        const char *method;
        const char *path;          /* decoded path, no query */
        const char *api_version;   /* query "api-version" or NULL */
        const char *ignore_pdb;    /* query "ignore-pod-disruption-budget" or NULL */
        const char *authorization; /* headers, NULL when absent */
        const char *if_match;
        const char *if_none_match;
        const char *host;
        const char *custom_features; /* AKSHTTPCustomFeatures */
        const uint8_t *body;
        size_t body_len;
} cp_api_request;

#define CP_API_MAX_HEADERS 8

typedef struct cp_api_response {
        unsigned status;
        json_t *body; /* NULL: empty body (or raw) */
        char *raw;    /* pre-serialised JSON body (malloc()ed) used instead of body */
        size_t raw_len;
        size_t n_headers;
        char header_names[CP_API_MAX_HEADERS][32];
        char header_values[CP_API_MAX_HEADERS][1024];
} cp_api_response;

typedef struct cp_api_options {
        cp_store *store;          /* not owned */
        const cp_rules *rules;    /* not owned */
        const char *state_dir;    /* operator token file lives here */
        const char *base_url;     /* "http://127.0.0.1:8080": LRO URLs when the request has no Host */
        bool tls;                 /* scheme of LRO URLs built from Host */
        size_t max_body;          /* 0: CP_MAX_API_BODY */
        /* Optional: endpoints with their own authentication (node agents'
         * attestation tokens, cp-nodes.h), tried before the operator token
         * check; returns true if it answered. */
        bool (*pre_auth)(void *userdata, const cp_api_request *req, cp_api_response *resp);
        void *pre_auth_userdata;
        struct cp_aad *aad;       /* service-principal tokens and /adfs, or NULL (not owned) */
} cp_api_options;

typedef struct cp_api cp_api;

CP_WUR int cp_api_new(const cp_api_options *o, cp_api **ret);
cp_api *cp_api_free(cp_api *api);
/* Base of LRO URLs for requests without a Host header (thread-safe). */
void cp_api_set_base_url(cp_api *api, const char *base_url);
void cp_api_handle(cp_api *api, const cp_api_request *req, cp_api_response *resp);
void cp_api_response_clear(cp_api_response *r);
const char *cp_api_response_header(const cp_api_response *r, const char *name);

/* Operator credentials: creates <state_dir>/operator.token (0600) and its
 * SHA-256 row when the store has no token yet.  *ret_created tells which. */
CP_WUR int cp_auth_init(cp_store *s, const char *state_dir, bool *ret_created);
/* Constant-time check of "Bearer <token>" against the stored hashes. */
bool cp_auth_check(char (*hashes)[65], size_t n, const char *authorization);

/* Routes of the domain modules with their own authentication:
 * /adfs/... of the identity provider (cp-api-aad.c, unauthenticated), and
 * the node agents' register/heartbeat (cp-api-nodes.c, cp_api_options.pre_auth
 * with the cp_nodes as userdata).  Each returns false when the path is not
 * its own. */
bool cp_api_aad_handle(struct cp_aad *a, const cp_api_request *req, cp_api_response *resp);
bool cp_api_nodes_pre_auth(void *userdata, const cp_api_request *req, cp_api_response *resp);

/* Path pattern match, ARM style (case-insensitive literals, {x} captures one
 * non-empty segment, trailing "/" ignored). */
bool cp_api_path_match(const char *pattern, const char *path, char (*caps)[256], size_t ncaps);

#endif
