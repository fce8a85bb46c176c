/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_SHARED_HTTPC_H
#define CP_SHARED_HTTPC_H

/* A small JSON-over-HTTP(S) client (libcurl) for the CLI, the agent and the
 * services: one request per call, bounded response size, explicit timeouts. */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "confpool/error.h"

typedef struct cp_httpc_options {
        long timeout_ms;         /* 0: 30000 */
        const char *ca_file;     /* trust this CA bundle (PEM file) */
        const char *ca_pem;      /* or this CA (PEM text) */
        const char *bearer;      /* Authorization: Bearer <token> */
        const char *client_cert_file; /* TLS client certificate (PEM file), with its key: */
        const char *client_key_file;  /* both or neither (CP_EINVAL) */
        size_t max_response;     /* 0: CP_MAX_HTTP_RESPONSE */
} cp_httpc_options;

typedef struct cp_httpc_response {
        long status;
        uint8_t *body;           /* malloc()ed, NUL-terminated */
        size_t body_len;
        char *content_type;      /* malloc()ed or NULL */
        char *location;          /* Location header or NULL */
        char *async_operation;   /* Azure-AsyncOperation header or NULL */
        char *retry_after;       /* Retry-After header or NULL */
        char *etag;              /* ETag header or NULL */
        char *issuer_chain;      /* Intel PCS "*-Issuer-Chain" header (URL-encoded PEM) or NULL */
} cp_httpc_response;

/* body may be NULL; content type defaults to application/json when a body
 * is given.  extra_headers: NULL-terminated "Name: value" strings or NULL.
 * Transport failures are CP_ENETWORK; any HTTP status is a success here. */
CP_WUR int cp_httpc_request(const cp_httpc_options *o, const char *method, const char *url,
                            const char *const *extra_headers, const void *body, size_t body_len,
                            cp_httpc_response *ret);
void cp_httpc_response_clear(cp_httpc_response *r);
/* Parse the body as JSON (CP_EFORMAT if it is not). */
CP_WUR int cp_httpc_response_json(const cp_httpc_response *r, json_t **ret);

#endif
