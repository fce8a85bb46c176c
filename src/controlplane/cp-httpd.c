/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>

#include "controlplane/cp-httpd.h"

void cp_api_http_handler(void *userdata, const cp_http_request *req, cp_http_response *resp) {
        cp_api *api = userdata;
        cp_api_request ar = {
                .method = req->method,
                .path = req->path,
                .api_version = cp_http_req_query(req, "api-version"),
                .ignore_pdb = cp_http_req_query(req, "ignore-pod-disruption-budget"),
                .authorization = cp_http_req_header(req, "Authorization"),
                .if_match = cp_http_req_header(req, "If-Match"),
                .if_none_match = cp_http_req_header(req, "If-None-Match"),
                .host = cp_http_req_header(req, "Host"),
                .custom_features = cp_http_req_header(req, "AKSHTTPCustomFeatures"),
                .body = req->body,
                .body_len = req->body_len,
        };
        cp_api_response out;
        cp_api_handle(api, &ar, &out);
        char *text = out.body ? json_dumps(out.body, JSON_COMPACT) : NULL;
        int r = out.raw ? cp_http_resp_bytes(resp, out.status, "application/json; charset=utf-8", out.raw, out.raw_len)
                        : cp_http_resp_bytes(resp, out.status, "application/json; charset=utf-8", text ? text : "",
                                             text ? strlen(text) : 0);
        free(text);
        for (size_t i = 0; r >= 0 && i < out.n_headers; i++)
                r = cp_http_resp_header(resp, out.header_names[i], out.header_values[i]);
        if (r < 0) {
                cp_error_clear();
                if (cp_http_resp_text(resp, 500, "{\"error\":{\"code\":\"InternalServerError\",\"message\":\"response\"}}") < 0)
                        cp_error_clear();
        }
        cp_api_response_clear(&out);
}
