/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The emulated PCS at Intel's PCS API v4 URL shapes (tdx_emu.h), as
 * functions (cp_tdx_pcs_get) and over HTTP on the service skeleton.  Issuer
 * chains travel URL-encoded in Intel's response headers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>

#include "basic/cleanup.h"
#include "basic/codec.h"
#include "emu/tdx-emu-internal.h"
#include "ossl/ossl-util.h"
#include "service/service.h"


static void pcs_handle(cp_svc_call *c);

static const cp_svc_route pcs_routes[] = {
        { "GET", "/sgx/certification/v4/pckcert", pcs_handle, CP_ROUTE_PUBLIC },
        { "GET", "/sgx/certification/v4/pckcrl", pcs_handle, CP_ROUTE_PUBLIC },
        { "GET", "/sgx/certification/v4/rootcacrl", pcs_handle, CP_ROUTE_PUBLIC },
        { "GET", "/tdx/certification/v4/tcb", pcs_handle, CP_ROUTE_PUBLIC },
        { "GET", "/tdx/certification/v4/qe/identity", pcs_handle, CP_ROUTE_PUBLIC },
};

static char *url_encode(const uint8_t *s, size_t n) {
        static const char hex[] = "0123456789ABCDEF";
        char *o = malloc(3 * n + 1), *w = o;
        if (!o)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                uint8_t ch = s[i];
                if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
                    ch == '_' || ch == '.' || ch == '~')
                        *w++ = (char) ch;
                else {
                        *w++ = '%';
                        *w++ = hex[ch >> 4];
                        *w++ = hex[ch & 15];
                }
        }
        *w = '\0';
        return o;
}

static int answer_text(cp_tdx_pcs_answer *a, unsigned status, const char *text) {
        a->body = (uint8_t *) strdup(text);
        if (!a->body)
                return cp_error_oom();
        a->len = strlen(text);
        a->status = status;
        a->content_type = "text/plain";
        return 0;
}

static int set_chain_header(cp_tdx_pcs_answer *a, const char *name, const uint8_t *pem, size_t len) {
        a->header_name = name;
        a->header_value = url_encode(pem, len);
        return a->header_value ? 0 : cp_error_oom();
}

/* move one collateral part into the answer */
static void take(cp_tdx_pcs_answer *a, uint8_t **part, size_t len, const char *ctype) {
        a->body = *part;
        a->len = len;
        *part = NULL;
        a->status = 200;
        a->content_type = ctype;
}

static int hex_param(cp_tdx_pcs_query_fn q, void *ud, const char *name, uint8_t *out, size_t n) {
        const char *s = q ? q(ud, name) : NULL;
        size_t got = 0;
        if (!s || strlen(s) != 2 * n || cp_hex_decode(s, 2 * n, out, n, &got) < 0 || got != n) {
                cp_error_clear();
                return -1;
        }
        return 0;
}

static int route_pckcert(cp_tdx_pcs *p, cp_tdx_pcs_query_fn q, void *ud, cp_tdx_pcs_answer *a, X509 *pck,
                         const cp_tdx_pck_ext *ext) {
        uint8_t pceid[2];
        char *pem = NULL, *chain = NULL;
        size_t pl = 0, cl = 0;
        int k;
        if (hex_param(q, ud, "pceid", pceid, 2) < 0)
                return answer_text(a, 400, "pceid parameter missing or malformed\n");
        if (!pck || memcmp(pceid, ext->pceid, 2) != 0)
                return answer_text(a, 404, "no PCK certificate for this platform\n");
        if ((k = tdx_emu_pem_append(pck, &pem, &pl)) < 0 || (k = tdx_pcs_chain_pem(p, NULL, &chain, &cl)) < 0) {
                free(pem);
                return k;
        }
        k = set_chain_header(a, "SGX-PCK-Certificate-Issuer-Chain", (const uint8_t *) chain, cl);
        free(chain);
        a->body = (uint8_t *) pem;
        a->len = pl;
        a->status = 200;
        a->content_type = "application/x-pem-file";
        return k;
}

static int route_collateral(cp_tdx_pcs *p, const char *which, cp_tdx_pcs_query_fn q, void *ud, int64_t now,
                            cp_tdx_pcs_answer *a) {
        cp_tdx_pcs_collateral c;
        uint8_t fmspc[6];
        char *chain = NULL;
        size_t cl = 0;
        int k;
        bool tcb = strcmp(which, "tcb") == 0, has = tcb && hex_param(q, ud, "fmspc", fmspc, 6) >= 0;
        if (tcb && !has)
                return answer_text(a, 400, "fmspc parameter missing or malformed\n");
        if (tcb && !cp_tdx_pcs_knows_fmspc(p, fmspc))
                return answer_text(a, 404, "no TCB Info for this FMSPC\n");
        /* TCB Info for the FMSPC asked for (a platform of each kind: its own) */
        if ((k = tcb ? cp_tdx_pcs_collateral_get_for(p, fmspc, now, &c) : cp_tdx_pcs_collateral_get(p, now, &c)) < 0)
                return k;
        if (tcb) {
                if ((k = set_chain_header(a, "TCB-Info-Issuer-Chain", c.tcb_signing_chain, c.tcb_signing_chain_len)) >= 0)
                        take(a, &c.tcb_info, c.tcb_info_len, "application/json");
        } else if (strcmp(which, "identity") == 0) {
                if ((k = set_chain_header(a, "SGX-Enclave-Identity-Issuer-Chain", c.tcb_signing_chain,
                                          c.tcb_signing_chain_len)) >= 0)
                        take(a, &c.qe_identity, c.qe_identity_len, "application/json");
        } else if (strcmp(which, "pckcrl") == 0) {
                const char *ca = q ? q(ud, "ca") : NULL;
                if (!ca || strcmp(ca, "platform") != 0)
                        k = answer_text(a, 400, "ca must be platform\n");
                else if ((k = tdx_pcs_chain_pem(p, NULL, &chain, &cl)) >= 0 &&
                         (k = set_chain_header(a, "SGX-PCK-CRL-Issuer-Chain", (const uint8_t *) chain, cl)) >= 0)
                        take(a, &c.pck_crl, c.pck_crl_len, "application/pkix-crl");
        } else
                take(a, &c.root_ca_crl, c.root_ca_crl_len, "application/pkix-crl");
        free(chain);
        cp_tdx_pcs_collateral_free(&c);
        return k;
}

int cp_tdx_pcs_get(cp_tdx_pcs *p, const char *path, cp_tdx_pcs_query_fn query, void *ud, int64_t now,
                   cp_tdx_pcs_answer *ret) {
        if (!p || !path || !ret)
                return CP_ERROR(CP_EINVAL, "cp_tdx_pcs_get: NULL argument");
        memset(ret, 0, sizeof(*ret));
        int k;
        if (strcmp(path, "/sgx/certification/v4/pckcert") == 0) {
                _cleanup_x509_ X509 *pck = NULL;
                cp_tdx_pck_ext ext;
                if ((k = tdx_pcs_pck_get(p, &pck, &ext)) < 0)
                        return k;
                k = route_pckcert(p, query, ud, ret, pck, &ext);
        } else if (strcmp(path, "/tdx/certification/v4/tcb") == 0)
                k = route_collateral(p, "tcb", query, ud, now, ret);
        else if (strcmp(path, "/tdx/certification/v4/qe/identity") == 0)
                k = route_collateral(p, "identity", query, ud, now, ret);
        else if (strcmp(path, "/sgx/certification/v4/pckcrl") == 0)
                k = route_collateral(p, "pckcrl", query, ud, now, ret);
        else if (strcmp(path, "/sgx/certification/v4/rootcacrl") == 0)
                k = route_collateral(p, "rootcacrl", query, ud, now, ret);
        else
                k = answer_text(ret, 404, "not found\n");
        if (k < 0)
                cp_tdx_pcs_answer_free(ret);
        return k;
}

void cp_tdx_pcs_answer_free(cp_tdx_pcs_answer *a) {
        if (!a)
                return;
        OPENSSL_free(a->body);
        free(a->header_value);
        memset(a, 0, sizeof(*a));
}

static const char *http_query(void *ud, const char *name) {
        return cp_http_req_query(ud, name);
}

static void pcs_handle(cp_svc_call *c) {
        cp_tdx_pcs_answer a;
        int r = cp_tdx_pcs_get(c->userdata, c->req->path, http_query, (void *) c->req, 0, &a);
        if (r >= 0 && a.header_name)
                r = cp_http_resp_header(c->resp, a.header_name, a.header_value);
        if (r >= 0)
                r = cp_http_resp_bytes(c->resp, a.status, a.content_type, a.body, a.len);
        if (r < 0)
                cp_svc_reply_err(c, r);
        cp_tdx_pcs_answer_free(&a);
}

int cp_tdx_pcs_start(cp_tdx_pcs *p, const char *bind_addr, uint16_t port, cp_httpd **ret) {
        if (!p || !ret)
                return CP_ERROR(CP_EINVAL, "cp_tdx_pcs_start: NULL argument");
        struct cp_svc **svc = tdx_pcs_svc(p);
        if (!*svc) {
                cp_svc_options so = { .routes = pcs_routes, .n_routes = CP_ELEMENTSOF(pcs_routes), .userdata = p };
                int r = cp_svc_new(&so, svc);
                if (r < 0)
                        return r;
        }
        cp_httpd_options o = { .bind_addr = bind_addr, .port = port, .threads = 2 };
        return cp_svc_listen(*svc, &o, ret);
}
