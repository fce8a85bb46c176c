/* SPDX-License-Identifier: Apache-2.0 */
/* The software AMD-SP's KDS-compatible HTTP endpoint (shared httpd). */
#include <stdlib.h>
#include <string.h>

#include "emu/amdsp.h"
#include "service/httpd.h"

static const char *query(void *ud, const char *name) {
        return cp_http_req_query(ud, name);
}

static void handler(void *userdata, const cp_http_request *req, cp_http_response *resp) {
        cp_amdsp *sp = userdata;
        uint8_t *body = NULL;
        size_t len = 0;
        unsigned status = 0;
        const char *ct = NULL;

        if (strcmp(req->method, "GET") != 0) {
                if (cp_http_resp_text(resp, 405, "method not allowed\n") < 0)
                        cp_error_clear();
                return;
        }
        if (cp_amdsp_kds_get(sp, req->path, query, (void *) req, &status, &ct, &body, &len) < 0) {
                cp_error_clear();
                if (cp_http_resp_text(resp, 500, "internal error\n") < 0)
                        cp_error_clear();
                return;
        }
        if (cp_http_resp_bytes(resp, status, ct, body, len) < 0)
                cp_error_clear();
        free(body);
}

int cp_amdsp_kds_start(cp_amdsp *sp, const char *bind_addr, uint16_t port, cp_httpd **ret) {
        if (!sp || !ret)
                return CP_ERROR(CP_EINVAL, "cp_amdsp_kds_start: NULL argument");
        cp_httpd_options o = { .bind_addr = bind_addr, .port = port, .threads = 2 };
        return cp_httpd_start(&o, handler, sp, ret);
}
