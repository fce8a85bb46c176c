/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The software AMD-SP's KDS-compatible endpoint: the paths of
 * kdsintf.amd.com as a route table on the service skeleton (service.h).
 * What a route answers is AMD's: the certificate, chain or CRL, or the
 * plain-text 400 / 403 / 404 the KDS gives.  What is the skeleton's own (a
 * path no route knows: 404, another method: 405, an internal failure: the
 * cp_err map) comes in the one error body of service.h.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "basic/cleanup.h"
#include "basic/codec.h"
#include "emu/amdsp-internal.h"
#include "service/service.h"

typedef struct kds_answer {
        unsigned status;
        const char *content_type;
        uint8_t *body; /* malloc()ed */
        size_t len;
} kds_answer;

static void kds_handle(cp_svc_call *c);

/* /<vcek|vlek>/v1/<product>/<resource>; the last segment names the resource:
 * cert_chain (PEM ASK/ASVK then ARK), crl (DER), or a hwID (the leaf of
 * that chip at ?blSPL=&teeSPL=&snpSPL=&ucodeSPL=[&fmcSPL=]). */
static const cp_svc_route kds_routes[] = {
        { "GET", "/vcek/v1/{product}/cert_chain", kds_handle, CP_ROUTE_PUBLIC },
        { "GET", "/vcek/v1/{product}/crl", kds_handle, CP_ROUTE_PUBLIC },
        { "GET", "/vcek/v1/{product}/{hwid}", kds_handle, CP_ROUTE_PUBLIC },
        { "GET", "/vlek/v1/{product}/cert_chain", kds_handle, CP_ROUTE_PUBLIC },
        { "GET", "/vlek/v1/{product}/crl", kds_handle, CP_ROUTE_PUBLIC },
        { "GET", "/vlek/v1/{product}/{hwid}", kds_handle, CP_ROUTE_PUBLIC },
};

static int kds_text(kds_answer *a, unsigned status, const char *text) {
        uint8_t *b = (uint8_t *) strdup(text);
        if (!b)
                return cp_error_oom();
        *a = (kds_answer) { .status = status, .content_type = "text/plain", .body = b, .len = strlen(text) };
        return 0;
}

static int spl_param(cp_amdsp_query_fn query, void *ud, const char *name, uint8_t *ret) {
        const char *s = query ? query(ud, name) : NULL;
        if (!s || !*s || strlen(s) > 3)
                return -1;
        unsigned v = 0;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -1;
                v = v * 10 + (unsigned) (*p - '0');
        }
        if (v > 255)
                return -1;
        *ret = (uint8_t) v;
        return 0;
}

/* The VCEK of chip hwid at the TCB of the SPL parameters. */
static int kds_leaf(cp_amdsp *sp, bool vlek, const char *hwid, cp_amdsp_query_fn query, void *ud, kds_answer *a) {
        if (vlek) /* VLEK leaves need CSP credentials at AMD; guests get them in the cert table */
                return kds_text(a, 403, "VLEK certificates are not served without CSP credentials\n");
        uint8_t hw[64];
        size_t got = 0, want = amdsp_hwid_len(sp->gen);
        if (strlen(hwid) != 2 * want || cp_hex_decode(hwid, strlen(hwid), hw, sizeof(hw), &got) < 0 || got != want) {
                cp_error_clear();
                return kds_text(a, 400, "malformed hwid\n");
        }
        if (memcmp(hw, sp->chip_id, want) != 0)
                return kds_text(a, 404, "not found\n");
        cp_snp_tcb t = { .has_fmc = sp->gen == CP_SNP_GEN_TURIN };
        if (spl_param(query, ud, "blSPL", &t.bl) < 0 || spl_param(query, ud, "teeSPL", &t.tee) < 0 ||
            spl_param(query, ud, "snpSPL", &t.snp) < 0 || spl_param(query, ud, "ucodeSPL", &t.ucode) < 0 ||
            (t.has_fmc && spl_param(query, ud, "fmcSPL", &t.fmc) < 0))
                return kds_text(a, 400, "missing or bad SPL parameters\n");
        pthread_mutex_lock(&sp->lock);
        int r = amdsp_leaf_der(sp, false, cp_snp_tcb_encode(&t, sp->gen), &a->body, &a->len);
        pthread_mutex_unlock(&sp->lock);
        if (r == CP_ENOTFOUND) {
                cp_error_clear();
                return kds_text(a, 404, "not found\n");
        }
        if (r < 0)
                return r;
        a->status = 200;
        a->content_type = "application/pkix-cert";
        return 0;
}

/* The answer of route r to path (caps: its captures, {product} first).
 * Negative only on an internal failure. */
static int kds_answer_route(cp_amdsp *sp, const cp_svc_route *r, const char *path, char (*caps)[CP_SVC_CAP_MAX],
                            cp_amdsp_query_fn query, void *ud, kds_answer *a) {
        bool vlek = strncmp(r->pattern, "/vlek/", 6) == 0;
        const char *resource = strrchr(r->pattern, '/') + 1;
        size_t n = strlen(path);
        int e;
        /* the KDS knows no path with a trailing "/" (the route match ignores one) */
        if ((n > 0 && path[n - 1] == '/') || strcmp(caps[0], cp_snp_generation_name(sp->gen)) != 0 ||
            (vlek && !sp->has_vlek))
                return kds_text(a, 404, "not found\n");
        if (strcmp(resource, "cert_chain") == 0) {
                e = cp_amdsp_cert_chain_pem(sp, vlek ? CP_AMD_CERT_VLEK : CP_AMD_CERT_VCEK, &a->body, &a->len);
                if (e < 0)
                        return e;
                a->status = 200;
                a->content_type = "application/x-pem-file";
                return 0;
        }
        if (strcmp(resource, "crl") == 0) {
                if ((e = cp_amdsp_crl(sp, 0, &a->body, &a->len)) < 0)
                        return e;
                a->status = 200;
                a->content_type = "application/pkix-crl";
                return 0;
        }
        return kds_leaf(sp, vlek, caps[1], query, ud, a);
}

int cp_amdsp_kds_get(cp_amdsp *sp, const char *path, cp_amdsp_query_fn query, void *ud, unsigned *ret_status,
                     const char **ret_content_type, uint8_t **ret_body, size_t *ret_len) {
        char caps[CP_SVC_MAX_CAPS][CP_SVC_CAP_MAX];
        kds_answer a = { 0 };
        int r = -1;

        if (!sp || !path || !ret_status || !ret_content_type || !ret_body || !ret_len)
                return CP_ERROR(CP_EINVAL, "cp_amdsp_kds_get: NULL argument");
        for (size_t i = 0; i < CP_ELEMENTSOF(kds_routes) && r < 0; i++)
                if (cp_http_path_match(kds_routes[i].pattern, path, false, caps, CP_SVC_MAX_CAPS)) {
                        r = kds_answer_route(sp, &kds_routes[i], path, caps, query, ud, &a);
                        if (r < 0)
                                return r;
                }
        if (r < 0 && (r = kds_text(&a, 404, "not found\n")) < 0)
                return r;
        *ret_status = a.status;
        *ret_content_type = a.content_type;
        *ret_body = a.body;
        *ret_len = a.len;
        return 0;
}

/* ---- over HTTP ------------------------------------------------------------- */

static const char *http_query(void *ud, const char *name) {
        return cp_http_req_query(ud, name);
}

static void kds_handle(cp_svc_call *c) {
        kds_answer a = { 0 };
        int r = kds_answer_route(c->userdata, c->route, c->req->path, c->caps, http_query, (void *) c->req, &a);
        if (r >= 0)
                r = cp_http_resp_bytes(c->resp, a.status, a.content_type, a.body, a.len);
        if (r < 0)
                cp_svc_reply_err(c, r);
        free(a.body);
}

int cp_amdsp_kds_start(cp_amdsp *sp, const char *bind_addr, uint16_t port, cp_httpd **ret) {
        int r = 0;
        if (!sp || !ret)
                return CP_ERROR(CP_EINVAL, "cp_amdsp_kds_start: NULL argument");
        pthread_mutex_lock(&sp->lock);
        if (!sp->kds_svc) {
                cp_svc_options so = { .routes = kds_routes, .n_routes = CP_ELEMENTSOF(kds_routes), .userdata = sp };
                r = cp_svc_new(&so, &sp->kds_svc);
        }
        pthread_mutex_unlock(&sp->lock);
        if (r < 0)
                return r;
        cp_httpd_options o = { .bind_addr = bind_addr, .port = port, .threads = 2 };
        return cp_svc_listen(sp->kds_svc, &o, ret);
}

void amdsp_kds_free(cp_amdsp *sp) {
        sp->kds_svc = cp_svc_free(sp->kds_svc);
}
