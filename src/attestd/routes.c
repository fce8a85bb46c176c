/* SPDX-License-Identifier: Apache-2.0 */
/* confpool-attestd HTTP routes on the service skeleton (service/service.h):
 * request parsing (strict shapes, MAA-style errors), attestation endpoints,
 * challenges, policies, metadata, metrics, the access log. */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/rand.h>
#include <openssl/sha.h>

#include "attestd/attestd-internal.h"
#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/limits.h"
#include "basic/secure.h"
#include "confpool/azure.h"
#include "basic/json-depth.h"
#include "service/service.h"

#define MAX_NONCE_TEXT 1024u
#define MAX_FIELD (2u * 1024u * 1024u)

/* One request's state (cp_svc_call.ctx), from cp_attestd_handle. */
typedef struct reqctx {
        cp_attestd *s;
        cp_svc_call *call;  /* set by the prepare step */
        char tenant[ATTESTD_TENANT_MAX + 1];
        attestd_type type;
        bool is_attest;
        bool warm;
} reqctx;

static void jsonp_free(json_t **p) {
        json_decref(*p);
}
#define _cleanup_json_ _cleanup_(jsonp_free)

/* ---- responses ------------------------------------------------------------- */

/* MAA's error codes.  Verification failures, usage errors and what the
 * evidence lacks (CP_ENOTFOUND) carry the error's name: "CP_ESIG: ...". */
static const cp_svc_dialect maa_dialect = {
        .bad_request = "InvalidParameter",
        .not_found = "NotFound",
        .unauthorized = "Unauthorized",
        .rejected = "EvidenceRejected",
        .policy = "PolicyRefused",
        .unavailable = "ServiceUnavailable",
        .internal = "InternalError",
        .named = 1u << CP_ERRCAT_USAGE | 1u << CP_ERRCAT_IO | 1u << CP_ERRCAT_VERIFY,
};

/* ---- api-version ---------------------------------------------------------------------
 *
 * As MAA, the data-plane operations (attest, challenge, policies) take a
 * required ?api-version= naming a supported version; metadata (/certs,
 * /.well-known/openid-configuration) and /metrics, /healthz take none. */
static const char *const api_versions[] = { "2020-10-01", "2022-08-01", "2022-09-01-preview", NULL };
#define API_VERSIONS_TEXT "2020-10-01, 2022-08-01, 2022-09-01-preview"

/* false when the request was answered 400 */
static bool api_version_ok(cp_svc_call *call) {
        const char *v = cp_http_req_query(call->req, "api-version");
        if (!v || !*v) {
                call->err = CP_EINVAL;
                cp_svc_reply_error(call, 400, "MissingApiVersionParameter",
                                   "The api-version query parameter (?api-version=) is required for %s %.200s. "
                                   "The supported versions are '" API_VERSIONS_TEXT "'.",
                                   call->req->method, call->req->path);
                return false;
        }
        for (size_t i = 0; api_versions[i]; i++)
                if (strcmp(v, api_versions[i]) == 0)
                        return true;
        call->err = CP_EUNSUPPORTED;
        cp_svc_reply_error(call, 400, "InvalidApiVersionParameter",
                           "The api-version '%.40s' is invalid for %.200s. The supported versions are '" API_VERSIONS_TEXT
                           "'.", v, call->req->path);
        return false;
}

/* A request refused: the one map (cp_http_status_of), except that a
 * request lacking something (CP_ENOTFOUND: no VCEK and no KDS, an event log
 * extending none of the quoted PCRs, a policy JWS by an unknown key) is 400
 * InvalidParameter like every other bad request: MAA answers 404 only for
 * unknown paths (tests vcek_from_kds_with_shared_cache, signed_policy_mode). */
static void reply_failure(cp_svc_call *call, int r) {
        if (r != CP_ENOTFOUND) {
                cp_svc_reply_err(call, r);
                return;
        }
        call->err = r;
        cp_svc_reply_error(call, 400, maa_dialect.bad_request, "%s: %s", cp_err_name(r), cp_error_message());
}

/* ---- request parsing helpers ------------------------------------------------ */

/* Plain bodies (all real evidence) take libconfpool's fast path; the rest,
 * and every error, the skeleton's parser (same depth bound and flags). */
static int parse_body(reqctx *c, json_t **ret) {
        const cp_http_request *req = c->call->req;
        json_t *fast = req->body && req->body_len ? cp_json_load_plain(req->body, req->body_len, CP_MAX_JSON_DEPTH)
                                                  : NULL;
        if (fast) {
                *ret = fast;
                return 0;
        }
        return cp_svc_json_body(c->call, ret);
}

static int get_string(const json_t *o, const char *name, bool required, const char **ret, size_t *ret_len) {
        const json_t *v = json_object_get(o, name);
        if (!v) {
                if (required)
                        return CP_ERROR(CP_EFORMAT, "member \"%s\" is required", name);
                *ret = NULL;
                if (ret_len)
                        *ret_len = 0;
                return 0;
        }
        if (!json_is_string(v))
                return CP_ERROR(CP_EFORMAT, "member \"%s\" must be a string", name);
        if (json_string_length(v) > MAX_FIELD)
                return CP_ERROR(CP_ETOOBIG, "member \"%s\" is too long", name);
        *ret = json_string_value(v);
        if (ret_len)
                *ret_len = json_string_length(v);
        return 0;
}

/* Base64url (padding optional) or standard base64. */
static int decode_b64(const char *s, size_t len, const char *what, uint8_t **ret, size_t *ret_len) {
        uint8_t *buf = malloc(cp_b64_decoded_max(len) + 1);
        size_t n;
        if (!buf)
                return cp_error_oom();
        if (cp_b64_decode(s, len, CP_B64_ANY, buf, cp_b64_decoded_max(len), &n) < 0) {
                free(buf);
                return CP_ERROR(CP_EFORMAT, "%s is not base64url", what);
        }
        buf[n] = '\0';
        *ret = buf;
        *ret_len = n;
        return 0;
}

static int decode_member(const json_t *o, const char *name, bool required, uint8_t **ret, size_t *ret_len) {
        const char *s;
        size_t len;
        int r = get_string(o, name, required, &s, &len);
        if (r < 0)
                return r;
        if (!s) {
                *ret = NULL;
                *ret_len = 0;
                return 0;
        }
        return decode_b64(s, len, name, ret, ret_len);
}

/* {"data": base64url, "dataType": "JSON"|"Binary"} */
typedef struct tagged_data {
        uint8_t *data;
        size_t len;
        bool is_json;
        json_t *json;
} tagged_data;

static void tagged_clear(tagged_data *t) {
        free(t->data);
        json_decref(t->json);
        memset(t, 0, sizeof(*t));
}

static int parse_tagged(const json_t *body, const char *name, tagged_data *ret) {
        static const char *const allowed[] = { "data", "dataType", NULL };
        const json_t *o = json_object_get(body, name);
        const char *dt;
        int r;
        memset(ret, 0, sizeof(*ret));
        if (!o)
                return 0;
        if (!json_is_object(o))
                return CP_ERROR(CP_EFORMAT, "\"%s\" must be an object {data, dataType}", name);
        if ((r = cp_svc_json_only(o, name, allowed)) < 0 || (r = get_string(o, "dataType", false, &dt, NULL)) < 0 ||
            (r = decode_member(o, "data", true, &ret->data, &ret->len)) < 0)
                return r;
        if (ret->len > CP_MAX_RUNTIME_DATA) {
                tagged_clear(ret);
                return CP_ERROR(CP_ETOOBIG, "\"%s\" data exceeds %u bytes", name, CP_MAX_RUNTIME_DATA);
        }
        if (!dt || strcmp(dt, "Binary") == 0)
                return 0;
        if (strcmp(dt, "JSON") != 0) {
                tagged_clear(ret);
                return CP_ERROR(CP_EFORMAT, "\"%s\".dataType must be \"JSON\" or \"Binary\"", name);
        }
        json_error_t jerr;
        size_t off;
        ret->is_json = true;
        if (cp_json_depth_within(ret->data, ret->len, CP_MAX_JSON_DEPTH, &off))
                ret->json = json_loadb((const char *) ret->data, ret->len, JSON_REJECT_DUPLICATES, &jerr);
        if (!ret->json) {
                tagged_clear(ret);
                return CP_ERROR(CP_EFORMAT, "\"%s\" data is not JSON", name);
        }
        return 0;
}

/* ---- attestation endpoints -------------------------------------------------------- */

static int finish_attest(reqctx *c, const tmpl_set *tmpl, json_t *claims, const char *nonce, const char *draft) {
        _cleanup_free_ char *token = NULL;
        int r;
        if (nonce && json_object_set_new(claims, "nonce", json_string(nonce)) < 0)
                return cp_error_oom();
        if ((r = attestd_issue_token(c->s, c->tenant, c->type, tmpl, claims, draft, &token)) < 0)
                return r;
        /* {"token":"..."}: the token is base64url and dots, nothing to escape */
        size_t tl = strlen(token);
        _cleanup_free_ char *out = malloc(tl + 16);
        if (!out)
                return cp_error_oom();
        memcpy(out, "{\"token\":\"", 10);
        memcpy(out + 10, token, tl);
        memcpy(out + 10 + tl, "\"}", 3);
        return cp_http_resp_bytes(c->call->resp, 200, "application/json; charset=utf-8", out, tl + 12);
}

static int check_nonce_text(const char *nonce) {
        if (nonce && strlen(nonce) > MAX_NONCE_TEXT)
                return CP_ERROR(CP_ETOOBIG, "nonce longer than %u", MAX_NONCE_TEXT);
        return 0;
}

/* POST /attest/SevSnpVm (MAA AttestSevSnpVmRequest) */
static int attest_sevsnpvm(reqctx *c) {
        static const char *const allowed[] = { "report", "runtimeData", "initTimeData", "nonce",
                                               "draftPolicyForAttestation", NULL };
        static const char *const report_allowed[] = { "SnpReport", "VcekCertChain", "CertificateTable", NULL };
        _cleanup_json_ json_t *body = NULL, *rep = NULL, *claims = NULL;
        _cleanup_free_ uint8_t *rep_txt = NULL, *report = NULL, *chain = NULL, *table = NULL;
        _cleanup_(tagged_clear) tagged_data rt = { 0 }, it = { 0 };
        size_t rep_len, report_len, chain_len, table_len;
        const char *nonce, *draft;
        cp_snp_verify_result res;
        json_error_t jerr;
        int r;

        if ((r = parse_body(c, &body)) < 0 || (r = cp_svc_json_only(body, "request", allowed)) < 0 ||
            (r = get_string(body, "nonce", false, &nonce, NULL)) < 0 || (r = check_nonce_text(nonce)) < 0 ||
            (r = get_string(body, "draftPolicyForAttestation", false, &draft, NULL)) < 0 ||
            (r = decode_member(body, "report", true, &rep_txt, &rep_len)) < 0 ||
            (r = parse_tagged(body, "runtimeData", &rt)) < 0 || (r = parse_tagged(body, "initTimeData", &it)) < 0)
                return r;
        rep = json_loadb((const char *) rep_txt, rep_len, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(rep))
                return CP_ERROR(CP_EFORMAT, "\"report\" must be base64url of a JSON object {SnpReport, VcekCertChain}");
        if ((r = cp_svc_json_only(rep, "report", report_allowed)) < 0 ||
            (r = decode_member(rep, "SnpReport", true, &report, &report_len)) < 0 ||
            (r = decode_member(rep, "VcekCertChain", false, &chain, &chain_len)) < 0 ||
            (r = decode_member(rep, "CertificateTable", false, &table, &table_len)) < 0)
                return r;
        snp_input in = { .report = report, .report_len = report_len, .chain = chain, .chain_len = chain_len,
                         .certtable = table, .certtable_len = table_len };
        if ((r = attestd_verify_snp(c->s, &in, &res, &c->warm)) < 0)
                return r;
        /* binding rules: SHA-256(runtime data) = REPORT_DATA[0:32] (rest zero), SHA-256(init data) = HOST_DATA */
        if (rt.data && (r = cp_azure_check_binding(res.report.report_data, CP_HCL_HASH_SHA256, rt.data, rt.len)) < 0)
                return cp_error_wrap("runtimeData: ");
        if (it.data) {
                uint8_t d[32];
                SHA256(it.data, it.len, d);
                if (!cp_ct_eq(d, res.report.host_data, 32))
                        return CP_ERROR(CP_EBINDING, "initTimeData: SHA-256 differs from HOST_DATA");
        }
        claims = json_object();
        if (!claims)
                return cp_error_oom();
        if ((r = attestd_snp_claims(&res, claims)) < 0)
                return r;
        json_object_set_new(claims, "x-ms-attestation-type", json_string("sevsnpvm"));
        json_object_set_new(claims, "x-ms-compliance-status",
                            json_string(res.report.vmpl == 0 ? "azure-compliant-cvm" : "confpool-verified-snp"));
        if (rt.json)
                json_object_set(claims, "x-ms-runtime", rt.json);
        if (it.json)
                json_object_set(claims, "x-ms-inittime", it.json);
        return finish_attest(c, NULL, claims, nonce, draft);
}

/* Byte array as JSON: [1, 2, ...] (Trustee v0 evidence) */
static int byte_array(const json_t *a, uint8_t **ret, size_t *ret_len) {
        size_t n = json_array_size(a), i;
        const json_t *v;
        if (!json_is_array(a) || n == 0 || n > CP_MAX_HCL_REPORT)
                return CP_ERROR(CP_EFORMAT, "expected a non-empty byte array");
        uint8_t *b = malloc(n);
        if (!b)
                return cp_error_oom();
        json_array_foreach(a, i, v) {
                if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 255) {
                        free(b);
                        return CP_ERROR(CP_EFORMAT, "byte array element %zu is not 0..255", i);
                }
                b[i] = (uint8_t) json_integer_value(v);
        }
        *ret = b;
        *ret_len = n;
        return 0;
}

static int hex_member(const json_t *o, const char *name, uint8_t **ret, size_t *ret_len) {
        const char *s;
        size_t len;
        int r;
        if ((r = get_string(o, name, true, &s, &len)) < 0)
                return r;
        uint8_t *b = malloc(len / 2 + 1);
        if (!b)
                return cp_error_oom();
        if ((r = cp_hex_decode(s, len, b, len / 2 + 1, ret_len)) < 0) {
                free(b);
                return cp_error_wrap("\"%s\": ", name);
        }
        *ret = b;
        return 0;
}

typedef struct pcr_values {
        uint8_t v[24][32];
        const uint8_t *p[24];
} pcr_values;

/* 24 (or fewer) SHA-256 PCR values, as hex strings or byte arrays; null
 * entries are "not supplied". */
static int parse_pcrs(const json_t *a, pcr_values *ret) {
        size_t i;
        const json_t *v;
        memset(ret, 0, sizeof(*ret));
        if (!json_is_array(a) || json_array_size(a) > 24)
                return CP_ERROR(CP_EFORMAT, "\"pcrs\" must be an array of at most 24 values");
        json_array_foreach(a, i, v) {
                size_t n = 0;
                if (json_is_null(v))
                        continue;
                if (json_is_string(v)) {
                        if (cp_hex_decode(json_string_value(v), json_string_length(v), ret->v[i], 32, &n) < 0 ||
                            n != 32)
                                return CP_ERROR(CP_EFORMAT, "PCR %zu is not 32 bytes of hex", i);
                } else {
                        _cleanup_free_ uint8_t *b = NULL;
                        if (byte_array(v, &b, &n) < 0 || n != 32)
                                return CP_ERROR(CP_EFORMAT, "PCR %zu is not 32 bytes", i);
                        memcpy(ret->v[i], b, 32);
                }
                ret->p[i] = ret->v[i];
        }
        return 0;
}

/* POST /attest/AzureSnpVtpm: {"evidence": <Trustee az-snp-vtpm evidence, v0
 * (byte arrays) or v1/v2 (hex / base64)>, "nonce": base64url(quote
 * extraData), "draftPolicyForAttestation"?} */
static int attest_azure_vtpm(reqctx *c) {
        static const char *const allowed[] = { "evidence", "nonce", "draftPolicyForAttestation", NULL };
        _cleanup_json_ json_t *body = NULL, *claims = NULL;
        _cleanup_(attestd_tmpl_set_clear) tmpl_set tmpl = { .n = 0 };
        _cleanup_free_ uint8_t *hcl_buf = NULL, *msg = NULL, *sig = NULL, *vcek = NULL, *nonce = NULL;
        size_t hcl_len, msg_len, sig_len, vcek_len = 0, nonce_len;
        const char *nonce_txt, *draft, *vcek_txt;
        cp_hcl_report hcl;
        pcr_values pcrs;
        bool v2 = false;
        int r;

        if ((r = parse_body(c, &body)) < 0 || (r = cp_svc_json_only(body, "request", allowed)) < 0 ||
            (r = get_string(body, "nonce", true, &nonce_txt, NULL)) < 0 || (r = check_nonce_text(nonce_txt)) < 0 ||
            (r = get_string(body, "draftPolicyForAttestation", false, &draft, NULL)) < 0 ||
            (r = decode_b64(nonce_txt, strlen(nonce_txt), "nonce", &nonce, &nonce_len)) < 0)
                return r;
        const json_t *ev = json_object_get(body, "evidence"), *ver = json_object_get(ev, "version");
        if (!json_is_object(ev))
                return CP_ERROR(CP_EFORMAT, "\"evidence\" must be an object");
        if (ver) {
                static const char *const ev_allowed[] = { "version", "tpm_quote", "hcl_report", "vcek", NULL };
                const json_t *q = json_object_get(ev, "tpm_quote");
                const char *h;
                size_t hl;
                if (!json_is_integer(ver) || json_integer_value(ver) < 1 || json_integer_value(ver) > 2)
                        return CP_ERROR(CP_EVERSION, "evidence version must be 1 or 2");
                v2 = json_integer_value(ver) == 2;
                if ((r = cp_svc_json_only(ev, "evidence", ev_allowed)) < 0 || !json_is_object(q))
                        return r < 0 ? r : CP_ERROR(CP_EFORMAT, "\"tpm_quote\" must be an object");
                if ((r = hex_member(q, "message", &msg, &msg_len)) < 0 ||
                    (r = hex_member(q, "signature", &sig, &sig_len)) < 0 ||
                    (r = parse_pcrs(json_object_get(q, "pcrs"), &pcrs)) < 0 ||
                    (r = get_string(ev, "hcl_report", true, &h, &hl)) < 0 ||
                    (r = decode_b64(h, hl, "hcl_report", &hcl_buf, &hcl_len)) < 0 ||
                    (r = decode_member(ev, "vcek", true, &vcek, &vcek_len)) < 0)
                        return r;
        } else {
                static const char *const ev_allowed[] = { "quote", "report", "vcek", NULL };
                const json_t *q = json_object_get(ev, "quote");
                if ((r = cp_svc_json_only(ev, "evidence", ev_allowed)) < 0 || !json_is_object(q))
                        return r < 0 ? r : CP_ERROR(CP_EFORMAT, "\"quote\" must be an object");
                if ((r = byte_array(json_object_get(q, "message"), &msg, &msg_len)) < 0 ||
                    (r = byte_array(json_object_get(q, "signature"), &sig, &sig_len)) < 0 ||
                    (r = parse_pcrs(json_object_get(q, "pcrs"), &pcrs)) < 0 ||
                    (r = byte_array(json_object_get(ev, "report"), &hcl_buf, &hcl_len)) < 0 ||
                    (r = get_string(ev, "vcek", true, &vcek_txt, &vcek_len)) < 0)
                        return r;
                vcek = (uint8_t *) strndup(vcek_txt, vcek_len);
                if (!vcek)
                        return cp_error_oom();
        }
        if ((r = cp_hcl_report_parse(hcl_buf, hcl_len, &hcl)) < 0)
                return cp_error_wrap("HCL report: ");
        if (hcl.report_type != CP_HCL_REPORT_SNP)
                return CP_ERROR(CP_EUNSUPPORTED, "HCL report carries a %s report", cp_hcl_report_type_name(hcl.report_type));
        if (hcl.hash_type != CP_HCL_HASH_SHA256)
                return CP_ERROR(CP_EUNSUPPORTED, "HCL report hash type %d", (int) hcl.hash_type);
        vtpm_input in = {
                .snp = { .report = hcl.hw_report, .report_len = hcl.hw_report_len, .chain = vcek, .chain_len = vcek_len },
                .runtime_data = hcl.runtime_data, .runtime_data_len = hcl.runtime_data_len,
                .quote = msg, .quote_len = msg_len, .signature = sig, .signature_len = sig_len,
                .nonce = nonce, .nonce_len = nonce_len, .check_user_data = v2,
        };
        memcpy(in.pcrs, pcrs.p, sizeof(in.pcrs));
        claims = json_object();
        if (!claims)
                return cp_error_oom();
        if ((r = attestd_verify_vtpm(c->s, &in, claims, &tmpl, &c->warm)) < 0)
                return r;
        json_object_set_new(claims, "x-ms-attestation-type", json_string("sevsnpvm"));
        json_object_set_new(claims, "x-ms-compliance-status", json_string("azure-compliant-cvm"));
        json_object_set_new(claims, "x-confpool-evidence-type", json_string("azure-snp-vtpm"));
        return finish_attest(c, &tmpl, claims, nonce_txt, draft);
}

/* POST /challenge */
static int challenge(reqctx *c) {
        uint8_t n[ATTESTD_NONCE_LEN];
        char txt[64];
        int64_t exp = attestd_now(c->s) + c->s->cfg.nonce_ttl_s;
        int r;
        if (RAND_bytes(n, sizeof(n)) != 1)
                return CP_ERROR(CP_ECRYPTO, "RAND_bytes");
        if ((r = attestd_nonce_issue(c->s, n, sizeof(n), exp, c->call->req->remote_addr)) < 0)
                return r;
        cp_b64_encode(n, sizeof(n), CP_B64_URL, txt);
        atomic_fetch_add(&c->s->m.challenges, 1);
        cp_svc_reply_json(c->call, 200, json_pack("{s:s,s:I}", "nonce", txt, "expiresAt", (json_int_t) exp));
        return 0;
}

/* POST /attest/Native: the confpool node flow after POST /challenge. */
static int attest_native(reqctx *c) {
        static const char *const allowed[] = { "nonce", "snpReport", "vcekCertChain", "certTable", "runtimeData",
                                               "quote", "eventLog", "draftPolicyForAttestation", NULL };
        static const char *const q_allowed[] = { "message", "signature", "signatureFormat", "pcrs", NULL };
        _cleanup_json_ json_t *body = NULL, *claims = NULL;
        _cleanup_(attestd_tmpl_set_clear) tmpl_set tmpl = { .n = 0 };
        _cleanup_free_ uint8_t *nonce = NULL, *report = NULL, *chain = NULL, *table = NULL, *rt = NULL, *msg = NULL,
                               *sig = NULL, *evlog = NULL;
        size_t nonce_len, report_len, chain_len, table_len, rt_len, msg_len, sig_len, evlog_len;
        const char *nonce_txt, *draft, *fmt;
        pcr_values pcrs;
        int r;

        if ((r = parse_body(c, &body)) < 0 || (r = cp_svc_json_only(body, "request", allowed)) < 0 ||
            (r = get_string(body, "nonce", true, &nonce_txt, NULL)) < 0 || (r = check_nonce_text(nonce_txt)) < 0 ||
            (r = decode_b64(nonce_txt, strlen(nonce_txt), "nonce", &nonce, &nonce_len)) < 0 ||
            (r = get_string(body, "draftPolicyForAttestation", false, &draft, NULL)) < 0)
                return r;
        const json_t *q = json_object_get(body, "quote");
        if (!json_is_object(q))
                return CP_ERROR(CP_EFORMAT, "\"quote\" must be an object {message, signature, pcrs}");
        if ((r = cp_svc_json_only(q, "quote", q_allowed)) < 0 ||
            (r = get_string(q, "signatureFormat", false, &fmt, NULL)) < 0)
                return r;
        if (fmt && strcmp(fmt, "tpmt") != 0 && strcmp(fmt, "raw-rsassa-sha256") != 0)
                return CP_ERROR(CP_EFORMAT, "signatureFormat must be \"tpmt\" or \"raw-rsassa-sha256\"");
        if ((r = decode_member(body, "snpReport", true, &report, &report_len)) < 0 ||
            (r = decode_member(body, "vcekCertChain", false, &chain, &chain_len)) < 0 ||
            (r = decode_member(body, "certTable", false, &table, &table_len)) < 0 ||
            (r = decode_member(body, "runtimeData", true, &rt, &rt_len)) < 0 ||
            (r = decode_member(body, "eventLog", false, &evlog, &evlog_len)) < 0 ||
            (r = decode_member(q, "message", true, &msg, &msg_len)) < 0 ||
            (r = decode_member(q, "signature", true, &sig, &sig_len)) < 0 ||
            (r = parse_pcrs(json_object_get(q, "pcrs"), &pcrs)) < 0)
                return r;
        /* the nonce is ours, live, and now spent (whatever the outcome) */
        if ((r = attestd_nonce_consume(c->s, nonce, nonce_len)) < 0)
                return r;
        vtpm_input in = {
                .snp = { .report = report, .report_len = report_len, .chain = chain, .chain_len = chain_len,
                         .certtable = table, .certtable_len = table_len },
                .runtime_data = rt, .runtime_data_len = rt_len, .quote = msg, .quote_len = msg_len,
                .signature = sig, .signature_len = sig_len, .signature_marshalled = !fmt || strcmp(fmt, "tpmt") == 0,
                .nonce = nonce, .nonce_len = nonce_len, .eventlog = evlog, .eventlog_len = evlog_len,
        };
        memcpy(in.pcrs, pcrs.p, sizeof(in.pcrs));
        if (evlog && evlog_len > CP_MAX_TCG_EVENTLOG)
                return CP_ERROR(CP_ETOOBIG, "eventLog exceeds %u bytes", CP_MAX_TCG_EVENTLOG);
        claims = json_object();
        if (!claims)
                return cp_error_oom();
        if ((r = attestd_verify_vtpm(c->s, &in, claims, &tmpl, &c->warm)) < 0)
                return r;
        json_object_set_new(claims, "x-ms-attestation-type", json_string("sevsnpvm"));
        json_object_set_new(claims, "x-ms-compliance-status", json_string("confpool-verified-snp-vtpm"));
        json_object_set_new(claims, "x-confpool-evidence-type", json_string("native"));
        if (!evlog) /* no event log: the PCRs are quoted but no boot event is claimed */
                json_object_set_new(claims, "x-confpool-eventlog-replayed", json_false());
        return finish_attest(c, &tmpl, claims, nonce_txt, draft);
}

/* POST /attest/TdxVm (MAA AttestTdxVmRequest: {"quote": base64url, "runtimeData"?,
 * "initTimeData"?, "nonce"?, "draftPolicyForAttestation"?}); confpool's node
 * flow adds "tpmQuote": {message, signature, signatureFormat, pcrs} and
 * "eventLog": then "nonce" is a challenge of POST /challenge (spent here),
 * the vTPM quote is over it and runtimeData names its key (HCLAkPub). */
static int attest_tdxvm(reqctx *c) {
        static const char *const allowed[] = { "quote", "runtimeData", "initTimeData", "nonce", "tpmQuote", "eventLog",
                                               "draftPolicyForAttestation", NULL };
        static const char *const q_allowed[] = { "message", "signature", "signatureFormat", "pcrs", NULL };
        _cleanup_json_ json_t *body = NULL, *claims = NULL;
        _cleanup_free_ uint8_t *quote = NULL, *nonce = NULL, *msg = NULL, *sig = NULL, *evlog = NULL;
        _cleanup_(tagged_clear) tagged_data rt = { 0 }, it = { 0 };
        size_t quote_len, nonce_len = 0, msg_len, sig_len, evlog_len = 0;
        const char *nonce_txt, *draft, *fmt = NULL;
        pcr_values pcrs;
        int r;

        if ((r = parse_body(c, &body)) < 0 || (r = cp_svc_json_only(body, "request", allowed)) < 0 ||
            (r = get_string(body, "nonce", false, &nonce_txt, NULL)) < 0 || (r = check_nonce_text(nonce_txt)) < 0 ||
            (r = get_string(body, "draftPolicyForAttestation", false, &draft, NULL)) < 0 ||
            (r = decode_member(body, "quote", true, &quote, &quote_len)) < 0 ||
            (r = parse_tagged(body, "runtimeData", &rt)) < 0 || (r = parse_tagged(body, "initTimeData", &it)) < 0 ||
            (r = decode_member(body, "eventLog", false, &evlog, &evlog_len)) < 0)
                return r;
        if (quote_len > CP_MAX_TDX_QUOTE)
                return CP_ERROR(CP_ETOOBIG, "\"quote\" exceeds %u bytes", CP_MAX_TDX_QUOTE);
        const json_t *q = json_object_get(body, "tpmQuote");
        tdx_input in = { .quote = quote, .quote_len = quote_len, .runtime_data = rt.data, .runtime_data_len = rt.len,
                         .has_tpm = q != NULL };
        if (evlog && !q)
                return CP_ERROR(CP_EFORMAT, "\"eventLog\" needs a \"tpmQuote\" whose PCRs it replays to");
        if (evlog && evlog_len > CP_MAX_TCG_EVENTLOG)
                return CP_ERROR(CP_ETOOBIG, "eventLog exceeds %u bytes", CP_MAX_TCG_EVENTLOG);
        if (q) {
                if (!json_is_object(q))
                        return CP_ERROR(CP_EFORMAT, "\"tpmQuote\" must be an object {message, signature, pcrs}");
                if (!nonce_txt)
                        return CP_ERROR(CP_EFORMAT, "\"tpmQuote\" needs the \"nonce\" of a challenge");
                if ((r = cp_svc_json_only(q, "tpmQuote", q_allowed)) < 0 ||
                    (r = get_string(q, "signatureFormat", false, &fmt, NULL)) < 0)
                        return r;
                if (fmt && strcmp(fmt, "tpmt") != 0 && strcmp(fmt, "raw-rsassa-sha256") != 0)
                        return CP_ERROR(CP_EFORMAT, "signatureFormat must be \"tpmt\" or \"raw-rsassa-sha256\"");
                if ((r = decode_b64(nonce_txt, strlen(nonce_txt), "nonce", &nonce, &nonce_len)) < 0 ||
                    (r = decode_member(q, "message", true, &msg, &msg_len)) < 0 ||
                    (r = decode_member(q, "signature", true, &sig, &sig_len)) < 0 ||
                    (r = parse_pcrs(json_object_get(q, "pcrs"), &pcrs)) < 0)
                        return r;
                /* the nonce is ours, live, and now spent (whatever the outcome) */
                if ((r = attestd_nonce_consume(c->s, nonce, nonce_len)) < 0)
                        return r;
                in.tpm = (vtpm_input) { .quote = msg, .quote_len = msg_len, .signature = sig, .signature_len = sig_len,
                                        .signature_marshalled = !fmt || strcmp(fmt, "tpmt") == 0, .nonce = nonce,
                                        .nonce_len = nonce_len, .eventlog = evlog, .eventlog_len = evlog_len };
                memcpy(in.tpm.pcrs, pcrs.p, sizeof(in.tpm.pcrs));
        }
        claims = json_object();
        if (!claims)
                return cp_error_oom();
        if ((r = attestd_verify_tdx(c->s, &in, claims, &c->warm)) < 0)
                return r;
        if (it.data) {
                /* MAA: SHA-256 of the init-time data is MRCONFIGID's first 32 bytes */
                uint8_t d[32];
                const char *h = json_string_value(json_object_get(claims, "tdx_mrconfigid"));
                uint8_t mc[48];
                size_t n = 0;
                SHA256(it.data, it.len, d);
                if (!h || cp_hex_decode(h, 96, mc, sizeof(mc), &n) < 0 || n != 48 || !cp_ct_eq(d, mc, 32))
                        return CP_ERROR(CP_EBINDING, "initTimeData: SHA-256 differs from MRCONFIGID");
        }
        json_object_set_new(claims, "x-ms-compliance-status",
                            json_string(q ? "confpool-verified-tdx-vtpm" : "confpool-verified-tdx"));
        if (q)
                json_object_set_new(claims, "x-confpool-evidence-type", json_string("native"));
        if (rt.json)
                json_object_set(claims, "x-ms-runtime", rt.json);
        if (it.json)
                json_object_set(claims, "x-ms-inittime", it.json);
        return finish_attest(c, NULL, claims, nonce_txt, draft);
}

/* AzureGuest's client payload: {"nonce": a challenge of POST /challenge,
 * "keys"?: [JWK...]} (the TEE key released keys are wrapped to). */
static int azure_client_payload(reqctx *c, const uint8_t *cp, size_t len, json_t **ret, const char **ret_nonce) {
        static const char *const allowed[] = { "nonce", "keys", NULL };
        _cleanup_free_ uint8_t *nonce = NULL;
        size_t nonce_len;
        const char *nt;
        json_t *j = NULL;
        int r;
        if ((r = cp_svc_json_parse(cp, len, CP_MAX_JSON_DEPTH, &j)) < 0)
                return cp_error_wrap("ClientPayload: ");
        const json_t *keys = json_object_get(j, "keys");
        if (!json_is_object(j) || (r = cp_svc_json_only(j, "ClientPayload", allowed)) < 0 ||
            (r = get_string(j, "nonce", true, &nt, NULL)) < 0 || (r = check_nonce_text(nt)) < 0 ||
            (keys && (!json_is_array(keys) || json_array_size(keys) > 4)) ||
            (r = decode_b64(nt, strlen(nt), "ClientPayload nonce", &nonce, &nonce_len)) < 0 ||
            (r = attestd_nonce_consume(c->s, nonce, nonce_len)) < 0) {
                json_decref(j);
                return r < 0 ? r : CP_ERROR(CP_EFORMAT, "ClientPayload: an object {nonce, keys?: [at most 4 JWKs]}");
        }
        *ret = j;
        *ret_nonce = nt;
        return 0;
}

/* The AttestationInfo document: its TDX members decoded into *in. */
typedef struct guest_bufs {
        uint8_t *hcl, *quote, *msg, *sig, *evlog, *cp;
        pcr_values pcrs;
} guest_bufs;

static void guest_bufs_clear(guest_bufs *b) {
        free(b->hcl);
        free(b->quote);
        free(b->msg);
        free(b->sig);
        free(b->evlog);
        free(b->cp);
}

static int azure_attestation_info(const json_t *ai, guest_bufs *b, azure_tdx_input *in) {
        static const char *const allowed[] = { "AttestationProtocolVersion", "OSType", "OSDistro", "OSVersionMajor",
                                               "OSVersionMinor", "OSBuild", "IsolationInfo", "TpmInfo", "TcgLogs",
                                               "ClientPayload", NULL };
        static const char *const ev_allowed[] = { "Proof", "HclReport", NULL };
        static const char *const tpm_allowed[] = { "PcrQuote", "PcrSignature", "PcrValues", NULL };
        const json_t *iso = json_object_get(ai, "IsolationInfo"), *ev = json_object_get(iso, "Evidence"),
                     *tpm = json_object_get(ai, "TpmInfo");
        const char *type;
        int r;
        if ((r = cp_svc_json_only(ai, "AttestationInfo", allowed)) < 0)
                return r;
        if (!json_is_object(iso) || !json_is_object(ev) || !json_is_object(tpm))
                return CP_ERROR(CP_EFORMAT, "AttestationInfo needs the objects IsolationInfo {Type, Evidence} and TpmInfo");
        if ((r = get_string(iso, "Type", true, &type, NULL)) < 0)
                return r;
        if (strcasecmp(type, "TDX") != 0)
                return CP_ERROR(CP_EUNSUPPORTED, "IsolationInfo.Type \"%.16s\": this route takes \"TDX\" (an SEV-SNP "
                                                 "CVM's HCL report goes to /attest/AzureSnpVtpm)", type);
        if ((r = cp_svc_json_only(ev, "IsolationInfo.Evidence", ev_allowed)) < 0 ||
            (r = cp_svc_json_only(tpm, "TpmInfo", tpm_allowed)) < 0 ||
            (r = decode_member(ev, "Proof", true, &b->quote, &in->quote_len)) < 0 ||
            (r = decode_member(ev, "HclReport", true, &b->hcl, &in->hcl_len)) < 0 ||
            (r = decode_member(tpm, "PcrQuote", true, &b->msg, &in->tpm.quote_len)) < 0 ||
            (r = decode_member(tpm, "PcrSignature", true, &b->sig, &in->tpm.signature_len)) < 0 ||
            (r = parse_pcrs(json_object_get(tpm, "PcrValues"), &b->pcrs)) < 0 ||
            (r = decode_member(ai, "TcgLogs", false, &b->evlog, &in->tpm.eventlog_len)) < 0 ||
            (r = decode_member(ai, "ClientPayload", true, &b->cp, &in->client_payload_len)) < 0)
                return r;
        if (in->quote_len > CP_MAX_TDX_QUOTE || in->hcl_len > CP_MAX_HCL_REPORT ||
            in->tpm.eventlog_len > CP_MAX_TCG_EVENTLOG)
                return CP_ERROR(CP_ETOOBIG, "Proof, HclReport or TcgLogs exceeds its limit");
        in->quote = b->quote;
        in->hcl = b->hcl;
        in->client_payload = b->cp;
        in->tpm.quote = b->msg;
        in->tpm.signature = b->sig;
        in->tpm.signature_marshalled = true;
        in->tpm.eventlog = b->evlog;
        memcpy(in->tpm.pcrs, b->pcrs.p, sizeof(in->tpm.pcrs));
        return 0;
}

/* POST /attest/AzureGuest (issue 16): an Azure TDX CVM's evidence as MAA's
 * guest attestation takes it, {"AttestationInfo": base64url(JSON),
 * "draftPolicyForAttestation"?} (docs/attestation-service.md): the vTPM
 * quote's qualifying data is SHA-256 of ClientPayload, whose nonce is a
 * challenge of POST /challenge (spent here). */
static int attest_azure_guest(reqctx *c) {
        static const char *const allowed[] = { "AttestationInfo", "draftPolicyForAttestation", NULL };
        _cleanup_json_ json_t *body = NULL, *claims = NULL, *ai = NULL, *payload = NULL;
        _cleanup_(guest_bufs_clear) guest_bufs b = { 0 };
        _cleanup_free_ uint8_t *ai_txt = NULL;
        size_t ai_len;
        azure_tdx_input in = { 0 };
        uint8_t qd[32];
        const char *draft, *nonce_txt = NULL;
        int r;
        if ((r = parse_body(c, &body)) < 0 || (r = cp_svc_json_only(body, "request", allowed)) < 0 ||
            (r = get_string(body, "draftPolicyForAttestation", false, &draft, NULL)) < 0 ||
            (r = decode_member(body, "AttestationInfo", true, &ai_txt, &ai_len)) < 0)
                return r;
        if ((r = cp_svc_json_parse(ai_txt, ai_len, CP_MAX_JSON_DEPTH, &ai)) < 0)
                return cp_error_wrap("AttestationInfo: ");
        if (!json_is_object(ai))
                return CP_ERROR(CP_EFORMAT, "AttestationInfo is not a JSON object");
        if ((r = azure_attestation_info(ai, &b, &in)) < 0 ||
            (r = azure_client_payload(c, in.client_payload, in.client_payload_len, &payload, &nonce_txt)) < 0)
                return r;
        SHA256(in.client_payload, in.client_payload_len, qd);
        in.tpm.nonce = qd;
        in.tpm.nonce_len = sizeof qd;
        if (!(claims = json_object()))
                return cp_error_oom();
        if ((r = attestd_verify_azure_tdx(c->s, &in, claims, &c->warm)) < 0)
                return r;
        /* the client's runtime claims: its keys (released keys are wrapped to them) */
        json_t *keys = json_object_get(payload, "keys");
        json_t *rt = json_pack("{s:o,s:O}", "keys", keys ? json_incref(keys) : json_array(), "client-payload", payload);
        if (!rt || json_object_set_new(claims, "x-ms-runtime", rt) < 0 ||
            json_object_set_new(claims, "x-confpool-evidence-type", json_string("azure-hcl")) < 0)
                return cp_error_oom();
        return finish_attest(c, NULL, claims, nonce_txt, draft);
}

/* ---- policies ------------------------------------------------------------------ */

/* The authentication hook (every route but the policy changes is public). */
static int admin_ok(cp_svc_call *call) {
        const cp_attestd *s = call->userdata;
        const char *h = cp_http_req_header(call->req, "Authorization");
        const char *tok = s->cfg.admin_token;
        if (!tok || !h || strncmp(h, "Bearer ", 7) != 0 || strlen(h + 7) != strlen(tok) ||
            !cp_ct_eq(h + 7, tok, strlen(tok)))
                return CP_ERROR(CP_EINVAL, "policy management needs the admin bearer token");
        snprintf(call->who, sizeof(call->who), "admin");
        return 0;
}

static int parse_type(const char *name, attestd_type *ret) {
        for (int t = 0; t < _ATT_MAX; t++)
                if (strcasecmp(name, attestd_type_name((attestd_type) t)) == 0) {
                        *ret = (attestd_type) t;
                        return 0;
                }
        return CP_ERROR(CP_ENOTFOUND, "unknown attestation type \"%.64s\"", name);
}

static void policy_response(cp_svc_call *call, attestd_type t, const char *resolution) {
        reqctx *c = call->ctx;
        _cleanup_free_ char *text = attestd_policy_get(c->s, c->tenant, t);
        char hash[44];
        if (!text || cp_maa_policy_hash(text, strlen(text), hash) < 0) {
                cp_svc_reply_error(call, 500, maa_dialect.internal, "out of memory");
                return;
        }
        cp_svc_reply_json(call, 200, json_pack("{s:s,s:s,s:s,s:s}", "policyResolution", resolution, "attestationType",
                                               attestd_type_name(t), "x-ms-policy-hash", hash, "policy", text));
}

/* PUT body: MAA's JWS {"AttestationPolicy": base64url(text)}, unsecured
 * (alg none) or, in signed mode, signed by a configured policy signer. */
static int put_policy(cp_svc_call *call, attestd_type t) {
        reqctx *c = call->ctx;
        _cleanup_free_ uint8_t *payload = NULL, *text = NULL;
        _cleanup_json_ json_t *pl = NULL;
        size_t plen, tlen;
        cp_maa_parse_error perr;
        const char *jws = (const char *) call->req->body;
        size_t jws_len = call->req->body_len;
        json_error_t jerr;
        int r;

        if (!jws || jws_len == 0)
                return CP_ERROR(CP_EFORMAT, "policy body is empty");
        while (jws_len > 0 && (jws[jws_len - 1] == '\n' || jws[jws_len - 1] == '\r' || jws[jws_len - 1] == ' '))
                jws_len--;
        if (c->s->policy_signers)
                r = cp_jws_verify(jws, jws_len, c->s->policy_signers, 0, &payload, &plen);
        else
                r = cp_jws_decode_unsecured(jws, jws_len, &payload, &plen);
        if (r < 0)
                return cp_error_wrap("policy JWS: ");
        pl = json_loadb((const char *) payload, plen, JSON_REJECT_DUPLICATES, &jerr);
        const json_t *ap = json_object_get(pl, "AttestationPolicy");
        if (!json_is_string(ap))
                return CP_ERROR(CP_EFORMAT, "policy JWS payload must be {\"AttestationPolicy\": base64url(text)}");
        if ((r = decode_b64(json_string_value(ap), json_string_length(ap), "AttestationPolicy", &text, &tlen)) < 0)
                return r;
        size_t bad = 0;
        if (!cp_utf8_valid(text, tlen, &bad)) {
                /* a policy is text: its strings become JSON claims and the stored copy */
                char msg[120];
                snprintf(msg, sizeof msg, "the policy text is not UTF-8 (or holds a NUL byte) at byte %zu", bad);
                call->err = CP_EFORMAT;
                cp_svc_reply_json(call, 400, json_pack("{s:{s:s,s:s}}", "error", "code", "InvalidPolicy", "message", msg));
                return 0;
        }
        if ((r = attestd_policy_set(c->s, c->tenant, t, (const char *) text, tlen, &perr)) < 0) {
                if (perr.line) {
                        call->err = r;
                        cp_svc_reply_json(call, 400,
                                          json_pack("{s:{s:s,s:s,s:i,s:i}}", "error", "code", "InvalidPolicy",
                                                    "message", perr.message, "line", (int) perr.line, "column",
                                                    (int) perr.column));
                        return 0;
                }
                return r;
        }
        policy_response(call, t, "Updated");
        return 0;
}

/* The {type}[:reset] segment of /policies/...: false when answered (an
 * unknown type or operation: 404; the other form of the path: 405). */
static bool policy_target(cp_svc_call *call, bool reset, attestd_type *ret) {
        const char *seg = call->caps[0], *colon = strchr(seg, ':');
        char name[64];
        if (!api_version_ok(call))
                return false;
        if (colon && strcmp(colon, ":reset") != 0) {
                cp_svc_reply_err(call, CP_ERROR(CP_ENOTFOUND, "unknown policy operation"));
                return false;
        }
        snprintf(name, sizeof(name), "%.*s", (int) (colon ? (size_t) (colon - seg) : strlen(seg)), seg);
        if (parse_type(name, ret) < 0) {
                cp_svc_reply_error(call, 404, maa_dialect.not_found, "%s", cp_error_message());
                return false;
        }
        if (!colon != !reset) {
                cp_svc_reply_error(call, 405, NULL, "%s not allowed here", call->req->method);
                if (cp_http_resp_header(call->resp, "Allow", colon ? "POST" : "GET, PUT") < 0)
                        call->resp->status = 500;
                return false;
        }
        return true;
}

/* GET /policies/{type} */
static void route_policy_get(cp_svc_call *call) {
        attestd_type t;
        if (policy_target(call, false, &t))
                policy_response(call, t, "Current");
}

/* PUT /policies/{type} (admin) */
static void route_policy_put(cp_svc_call *call) {
        attestd_type t;
        int r;
        if (policy_target(call, false, &t) && (r = put_policy(call, t)) < 0)
                reply_failure(call, r);
}

/* POST /policies/{type}:reset (admin) */
static void route_policy_reset(cp_svc_call *call) {
        reqctx *c = call->ctx;
        attestd_type t;
        int r;
        if (!policy_target(call, true, &t))
                return;
        if ((r = attestd_policy_set(c->s, c->tenant, t, NULL, 0, NULL)) < 0)
                reply_failure(call, r);
        else
                policy_response(call, t, "Removed");
}

/* ---- metadata and metrics ---------------------------------------------------------- */

static void route_openid_config(cp_svc_call *c) {
        const cp_attestd *s = c->userdata;
        char jwks[300];
        snprintf(jwks, sizeof(jwks), "%s/certs", s->issuer);
        cp_svc_reply_json(c, 200,
                          json_pack("{s:s,s:s,s:[s],s:[s,s],s:[s,s,s,s,s,s,s,s,s,s]}", "issuer", s->issuer,
                                    "jwks_uri", jwks, "id_token_signing_alg_values_supported",
                                    cp_jwt_alg_name(s->cfg.alg ? s->cfg.alg : CP_JWT_RS256),
                                    "response_types_supported", "token", "none", "claims_supported", "iss", "iat",
                                    "nbf", "exp", "jti", "nonce", "x-ms-ver", "x-ms-attestation-type",
                                    "x-ms-policy-hash", "x-ms-compliance-status"));
}

static void route_certs(cp_svc_call *c) {
        _cleanup_free_ char *txt = NULL;
        if (cp_attestd_jwks_json(c->userdata, &txt) < 0) {
                cp_svc_reply_error(c, 500, maa_dialect.internal, "JWKS");
                return;
        }
        if (cp_http_resp_bytes(c->resp, 200, "application/json; charset=utf-8", txt, strlen(txt)) < 0)
                cp_svc_reply_error(c, 500, maa_dialect.internal, "JWKS");
}

static void route_metrics(cp_svc_call *c) {
        static const double bounds[] = { 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.25 };
        cp_attestd *s = c->userdata;
        attestd_metrics *m = &s->m;
        size_t cap = 16384, len = 0;
        char *b = malloc(cap);
        if (!b) {
                cp_svc_reply_error(c, 500, maa_dialect.internal, "out of memory");
                return;
        }
#define OUT(...)                                                                   \
        do {                                                                       \
                int _n = snprintf(b + len, cap - len, __VA_ARGS__);                \
                if (_n > 0 && (size_t) _n < cap - len)                             \
                        len += (size_t) _n;                                        \
        } while (0)
        OUT("# TYPE attestd_attestations_total counter\n");
        for (int t = 0; t < _ATT_MAX; t++) {
                OUT("attestd_attestations_total{type=\"%s\",result=\"success\"} %lu\n", attestd_type_name(t),
                    atomic_load(&m->success[t]));
                for (int e = 1; e < ATTESTD_N_CODES; e++) {
                        unsigned long v = atomic_load(&m->failure[t][e]);
                        if (v)
                                OUT("attestd_attestations_total{type=\"%s\",result=\"failure\",reason=\"%s\"} %lu\n",
                                    attestd_type_name(t), cp_err_name(-e), v);
                }
        }
        OUT("# TYPE attestd_report_cache_hits_total counter\nattestd_report_cache_hits_total %lu\n",
            atomic_load(&m->warm_hits));
        OUT("# TYPE attestd_report_verifications_total counter\nattestd_report_verifications_total %lu\n",
            atomic_load(&m->cold_verifies));
        OUT("# TYPE attestd_challenges_total counter\nattestd_challenges_total %lu\n", atomic_load(&m->challenges));
        OUT("# TYPE attestd_challenges_evicted_total counter\nattestd_challenges_evicted_total %lu\n",
            atomic_load(&m->challenges_evicted));
        OUT("# TYPE attestd_challenges_expired_total counter\nattestd_challenges_expired_total %lu\n",
            atomic_load(&m->challenges_expired));
        OUT("# TYPE attestd_crl_fetches_total counter\nattestd_crl_fetches_total %lu\n", atomic_load(&m->crl_fetches));
        OUT("# TYPE attestd_crl_fetch_failures_total counter\nattestd_crl_fetch_failures_total %lu\n",
            atomic_load(&m->crl_fetch_failures));
        OUT("# TYPE attestd_crl_updates_total counter\nattestd_crl_updates_total %lu\n", atomic_load(&m->crl_updates));
        OUT("# TYPE attestd_revocation_refusals_total counter\n"
            "attestd_revocation_refusals_total{reason=\"revoked\"} %lu\n"
            "attestd_revocation_refusals_total{reason=\"no_valid_crl\"} %lu\n",
            atomic_load(&m->revocation_refusals[0]), atomic_load(&m->revocation_refusals[1]));
        OUT("# TYPE attestd_http_requests_total counter\nattestd_http_requests_total %lu\n",
            atomic_load(&m->http_requests));
        OUT("attestd_http_responses_total{class=\"4xx\"} %lu\nattestd_http_responses_total{class=\"5xx\"} %lu\n",
            atomic_load(&m->http_4xx), atomic_load(&m->http_5xx));
        OUT("# TYPE attestd_attestation_duration_seconds histogram\n");
        unsigned long cum = 0, total = 0;
        for (size_t i = 0; i < 8; i++)
                total += atomic_load(&m->latency_bucket[i]);
        for (size_t i = 0; i < 7; i++) {
                cum += atomic_load(&m->latency_bucket[i]);
                OUT("attestd_attestation_duration_seconds_bucket{le=\"%g\"} %lu\n", bounds[i], cum);
        }
        OUT("attestd_attestation_duration_seconds_bucket{le=\"+Inf\"} %lu\n", total);
        OUT("attestd_attestation_duration_seconds_sum %.6f\nattestd_attestation_duration_seconds_count %lu\n",
            (double) atomic_load(&m->latency_sum_us) / 1e6, total);
#undef OUT
        if (cp_http_resp_bytes(c->resp, 200, "text/plain; version=0.0.4", b, len) < 0)
                cp_svc_reply_error(c, 500, maa_dialect.internal, "metrics");
        free(b);
}

/* ---- dispatch ---------------------------------------------------------------------- */
/* ---- attestation and challenge routes ------------------------------------------- */

/* POST /attest/{type} */
static void route_attest(cp_svc_call *call) {
        reqctx *c = call->ctx;
        if (!api_version_ok(call))
                return;
        if (parse_type(call->caps[0], &c->type) < 0) {
                cp_svc_reply_error(call, 404, maa_dialect.not_found, "unknown attestation type");
                return;
        }
        c->is_attest = true;
        int r = c->type == ATT_SEVSNPVM ? attest_sevsnpvm(c)
                : c->type == ATT_AZURE_VTPM ? attest_azure_vtpm(c)
                : c->type == ATT_TDXVM      ? attest_tdxvm(c)
                : c->type == ATT_AZURE_GUEST ? attest_azure_guest(c)
                                            : attest_native(c);
        if (r < 0)
                reply_failure(call, r);
}

/* POST /challenge */
static void route_challenge(cp_svc_call *call) {
        if (!api_version_ok(call))
                return;
        int r = challenge(call->ctx);
        if (r < 0)
                reply_failure(call, r);
}

static void route_healthz(cp_svc_call *call) {
        cp_svc_reply_json(call, 200, json_pack("{s:s}", "status", "ok"));
}

/* ---- the service: tenants, routes, access log ---------------------------------------- */

/* Copy client-chosen text into a log line: printable ASCII without quotes
 * and backslashes, truncated. */
static void log_safe(const char *in, char *out, size_t cap) {
        size_t i;
        for (i = 0; i + 1 < cap && in[i]; i++) {
                char ch = in[i];
                out[i] = (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') ? ch : '?';
        }
        out[i] = '\0';
}

/* Lines anyone can cause without credentials (refused requests, and
 * challenges) are rate-limited (basic/loglimit.h); when a window ends the
 * count of lines not written is logged in one line, never lost. */
static bool log_allowed(cp_attestd *s, const cp_svc_call *call, unsigned status) {
        cp_log_limit *l = status >= 400 ? &s->refused_log
                          : strcmp(call->path, "/challenge") == 0 ? &s->challenge_log
                                                                 : NULL;
        if (!l)
                return true;
        unsigned long missed = 0;
        bool ok = cp_log_limit_take(l, cp_log_limit_now(), &missed);
        if (missed)
                fprintf(stderr, "{\"event\":\"http-suppressed\",\"what\":\"%s\",\"lines\":%lu,\"seconds\":%u}\n",
                        l == &s->refused_log ? "refused" : "challenge", missed, l->period_s);
        return ok;
}

/* The access log hook: metrics, and the structured log line. */
static void account(const cp_svc_call *call, unsigned status, uint64_t us) {
        const reqctx *c = call->ctx;
        cp_attestd *s = c->s;
        atomic_fetch_add(&s->m.http_requests, 1);
        if (status >= 500)
                atomic_fetch_add(&s->m.http_5xx, 1);
        else if (status >= 400)
                atomic_fetch_add(&s->m.http_4xx, 1);
        if (c->is_attest) {
                static const uint64_t bounds_us[] = { 500, 1000, 2000, 5000, 10000, 50000, 250000 };
                size_t b = 0;
                while (b < 7 && us > bounds_us[b])
                        b++;
                atomic_fetch_add(&s->m.latency_bucket[b], 1);
                atomic_fetch_add(&s->m.latency_sum_us, (unsigned long) us);
                atomic_fetch_add(&s->m.requests[c->type], 1);
                if (status == 200)
                        atomic_fetch_add(&s->m.success[c->type], 1);
                else {
                        int e = call->err < 0 && -call->err < ATTESTD_N_CODES ? -call->err : -CP_EINTERNAL;
                        atomic_fetch_add(&s->m.failure[c->type][e], 1);
                }
        }
        if (!s->cfg.quiet && log_allowed(s, call, status)) {
                /* structured log: no bodies, tokens, nonces or keys; the
                 * client-chosen path is reduced to safe characters */
                char path[81], method[17];
                log_safe(call->path, path, sizeof(path));
                log_safe(call->req->method ? call->req->method : "", method, sizeof(method));
                fprintf(stderr,
                        "{\"event\":\"http\",\"method\":\"%s\",\"path\":\"%.80s\",\"tenant\":\"%s\",\"status\":%u,"
                        "\"us\":%" PRIu64 ",\"warm\":%s,\"error\":\"%s\",\"remote\":\"%s\"}\n",
                        method, path, c->tenant, status, us, c->warm ? "true" : "false",
                        call->err ? cp_err_name(call->err) : "", call->req->remote_addr ? call->req->remote_addr : "");
        }
}

static bool tenant_ok(const char *t) {
        size_t n = strlen(t);
        if (n == 0 || n > ATTESTD_TENANT_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= 'A' && t[i] <= 'Z') || (t[i] >= '0' && t[i] <= '9') ||
                      t[i] == '-' || t[i] == '_'))
                        return false;
        return true;
}

/* The prepare step: /tenants/{tenant}/... routes the rest for that tenant
 * (404 for a path without the rest or a name over the limit, 400 for a name
 * outside [A-Za-z0-9_-]); without the prefix the tenant is "default". */
static bool tenant_prefix(cp_svc_call *call) {
        reqctx *c = call->ctx;
        c->call = call;
        if (strncmp(call->path, "/tenants/", 9) != 0)
                return true;
        const char *t = call->path + 9, *slash = strchr(t, '/');
        size_t n = slash ? (size_t) (slash - t) : strlen(t);
        if (!slash || n > ATTESTD_TENANT_MAX) {
                cp_svc_reply_error(call, 404, maa_dialect.not_found, "bad tenant path");
                return false;
        }
        snprintf(c->tenant, sizeof(c->tenant), "%.*s", (int) n, t);
        call->path = slash;
        if (!tenant_ok(c->tenant)) {
                snprintf(c->tenant, sizeof(c->tenant), "(invalid)");
                cp_svc_reply_error(call, 400, maa_dialect.bad_request, "tenant names are [A-Za-z0-9_-]{1,64}");
                return false;
        }
        return true;
}

static const cp_svc_route attestd_routes[] = {
        { "POST", "/attest/{type}", route_attest, CP_ROUTE_PUBLIC },
        { "POST", "/challenge", route_challenge, CP_ROUTE_PUBLIC },
        { "GET", "/policies/{type}", route_policy_get, CP_ROUTE_PUBLIC },
        { "PUT", "/policies/{type}", route_policy_put, CP_ROUTE_ANY_BODY }, /* a JWS, as MAA's text/plain */
        { "POST", "/policies/{type}", route_policy_reset, 0 }, /* {type}:reset */
        { "GET", "/certs", route_certs, CP_ROUTE_PUBLIC },
        { "GET", "/.well-known/openid-configuration", route_openid_config, CP_ROUTE_PUBLIC },
        { "GET", "/metrics", route_metrics, CP_ROUTE_PUBLIC },
        { "GET", "/healthz", route_healthz, CP_ROUTE_PUBLIC },
};

int attestd_routes_new(cp_attestd *s, cp_svc **ret) {
        cp_svc_options o = {
                .routes = attestd_routes, .n_routes = CP_ELEMENTSOF(attestd_routes), .userdata = s,
                .dialect = &maa_dialect, .max_depth = CP_MAX_JSON_DEPTH, .authenticate = admin_ok,
                .prepare = tenant_prefix, .access_log = account,
        };
        return cp_svc_new(&o, ret);
}

void cp_attestd_handle(void *userdata, const cp_http_request *req, cp_http_response *resp) {
        cp_attestd *s = userdata;
        reqctx c = { .s = s, .tenant = "default" };
        cp_svc_serve(s->svc, req, resp, &c);
}
