/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host's TD quote endpoint of an Azure TDX CVM (IMDS /acc/tdquote),
 * emulated for a software TDX host (tdx_emu.h): the paravisor's TDREPORT
 * in, the host QE's quote out.
 */
#include <stdlib.h>
#include <string.h>

#include "basic/cleanup.h"
#include "basic/codec.h"
#include "emu/tdx_emu.h"
#include "service/httpd.h"
#include "service/service.h"

struct cp_tdx_imds {
        cp_tdx_host *host;
        cp_svc *svc;
        cp_httpd *httpd;
};

static void tdquote(cp_svc_call *c) {
        cp_tdx_imds *m = c->userdata;
        static const char *const allowed[] = { "report", NULL };
        json_t *body = NULL;
        uint8_t rep[CP_TDX_TDREPORT_SIZE + 3];
        _cleanup_free_ uint8_t *quote = NULL;
        _cleanup_free_ char *txt = NULL;
        size_t n = 0, ql = 0;
        int r = cp_svc_json_body(c, &body);
        if (r >= 0)
                r = cp_svc_json_only(body, "request", allowed);
        const json_t *v = json_object_get(body, "report");
        if (r >= 0 && !json_is_string(v))
                r = CP_ERROR(CP_EFORMAT, "\"report\" (base64url of a 1024-byte TDREPORT) is required");
        if (r >= 0 && (cp_b64_decode(json_string_value(v), json_string_length(v), CP_B64_URL, rep, sizeof rep, &n) < 0 ||
                       n != CP_TDX_TDREPORT_SIZE))
                r = CP_ERROR(CP_EFORMAT, "\"report\" is not base64url of a %u-byte TDREPORT", CP_TDX_TDREPORT_SIZE);
        json_decref(body);
        if (r >= 0 && (r = cp_tdx_host_quote(m->host, rep, &quote, &ql)) < 0)
                r = cp_error_wrap("TD quote: ");
        if (r >= 0 && !(txt = malloc(cp_b64_encoded_len(ql, CP_B64_URL) + 1)))
                r = cp_error_oom();
        if (r < 0) {
                cp_svc_reply_err(c, r);
                return;
        }
        cp_b64_encode(quote, ql, CP_B64_URL, txt);
        cp_svc_reply_json(c, 200, json_pack("{s:s}", "quote", txt));
}

static const cp_svc_route imds_routes[] = {
        { "POST", CP_TDX_IMDS_PATH, tdquote, CP_ROUTE_PUBLIC },
};

int cp_tdx_imds_start(cp_tdx_host *h, const char *bind_addr, uint16_t port, cp_tdx_imds **ret) {
        if (!h || !ret)
                return CP_ERROR(CP_EINVAL, "cp_tdx_imds_start: NULL argument");
        cp_tdx_imds *m = calloc(1, sizeof(*m));
        if (!m)
                return cp_error_oom();
        m->host = h;
        cp_svc_options so = { .routes = imds_routes, .n_routes = CP_ELEMENTSOF(imds_routes), .userdata = m,
                              .max_body = 8192 };
        cp_httpd_options o = { .bind_addr = bind_addr, .port = port, .threads = 2, .max_body = 8192 };
        int r = cp_svc_new(&so, &m->svc);
        if (r >= 0)
                r = cp_svc_listen(m->svc, &o, &m->httpd);
        if (r < 0) {
                cp_tdx_imds_stop(m);
                return r;
        }
        *ret = m;
        return 0;
}

uint16_t cp_tdx_imds_port(const cp_tdx_imds *m) {
        return m && m->httpd ? cp_httpd_port(m->httpd) : 0;
}

cp_tdx_imds *cp_tdx_imds_stop(cp_tdx_imds *m) {
        if (!m)
                return NULL;
        m->httpd = cp_httpd_stop(m->httpd);
        cp_svc_free(m->svc);
        free(m);
        return NULL;
}
