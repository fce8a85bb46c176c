/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_TESTS_CP_API_TESTUTIL_H
#define CP_TESTS_CP_API_TESTUTIL_H

/* confpoold's API called in-process (cp_api_handle with a request built
 * here): the response and its body parsed as JSON. */

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "controlplane/cp-api.h"

typedef struct cp_api_reply {
        unsigned status;
        json_t *body; /* the response body parsed, NULL when empty or not JSON */
        cp_http_response http;
} cp_api_reply;

typedef struct cp_api_call_headers {
        const char *authorization, *if_match, *if_none_match, *host, *custom_features;
} cp_api_call_headers;

static inline void cp_api_reply_clear(cp_api_reply *r) {
        json_decref(r->body);
        cp_http_resp_clear(&r->http);
        memset(r, 0, sizeof(*r));
}

static inline const char *cp_api_reply_header(const cp_api_reply *r, const char *name) {
        return cp_http_resp_get_header(&r->http, name);
}

/* method, "path?api-version=V" (or the version apart, ver), headers, body -> status */
static inline unsigned cp_api_call(cp_api *api, cp_api_reply *r, const char *method, const char *url, const char *ver,
                                   const cp_api_call_headers *h, const char *body) {
        char path[2048], v[64] = "";
        const char *q = strchr(url, '?');
        snprintf(path, sizeof(path), "%.*s", (int) (q ? (size_t) (q - url) : strlen(url)), url);
        if (q && strncmp(q, "?api-version=", 13) == 0)
                snprintf(v, sizeof(v), "%s", q + 13);
        else if (ver)
                snprintf(v, sizeof(v), "%s", ver);
        cp_http_pair hdrs[5], query[1] = { { "api-version", v } };
        size_t n = 0;
        const char *names[] = { "Authorization", "If-Match", "If-None-Match", "Host", "AKSHTTPCustomFeatures" };
        const char *values[] = { h ? h->authorization : NULL, h ? h->if_match : NULL, h ? h->if_none_match : NULL,
                                 h ? h->host : NULL, h ? h->custom_features : NULL };
        for (size_t i = 0; i < 5; i++)
                if (values[i])
                        hdrs[n++] = (cp_http_pair){ names[i], values[i] };
        cp_http_request rq = { .method = method, .path = path, .body = (const uint8_t *) body,
                               .body_len = body ? strlen(body) : 0, .remote_addr = "127.0.0.1", .headers = hdrs,
                               .n_headers = n, .query = query, .n_query = v[0] ? 1 : 0 };
        cp_api_reply_clear(r);
        cp_api_handle(api, &rq, &r->http);
        r->status = r->http.status;
        if (r->http.body_len)
                r->body = json_loadb((const char *) r->http.body, r->http.body_len, 0, NULL);
        return r->status;
}

#endif
