/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/limits.h"
#include "basic/secure.h"
#include "confpool/tpm_quote.h"
#include "node/azure_cvm.h"
#include "service/httpc.h"

int cp_azure_cvm_read_report(cp_vtpm *t, uint32_t index, uint8_t **ret, size_t *ret_len) {
        uint8_t *buf = NULL;
        size_t len = 0;
        cp_hcl_report rep;
        int r = cp_vtpm_nv_read(t, index, CP_MAX_HCL_REPORT, &buf, &len);
        if (r < 0)
                return cp_error_wrap("HCL report (NV 0x%08x)", index);
        if ((r = cp_hcl_report_parse(buf, len, &rep)) < 0) {
                free(buf);
                return cp_error_wrap("HCL report (NV 0x%08x)", index);
        }
        *ret = buf;
        *ret_len = len;
        return 0;
}

static json_t *b64u_json(const uint8_t *p, size_t n) {
        _cleanup_free_ char *s = malloc(cp_b64_encoded_len(n, CP_B64_URL) + 1);
        if (!s)
                return NULL;
        cp_b64_encode(p, n, CP_B64_URL, s);
        return json_string(s);
}

static json_t *hex_json(const uint8_t *p, size_t n) {
        _cleanup_free_ char *s = malloc(2 * n + 1);
        if (!s)
                return NULL;
        cp_hex_encode(p, n, s);
        return json_string(s);
}

static void rd_freep(cp_azure_runtime_data **p) {
        cp_azure_runtime_data_free(*p);
}

/* The runtime data's HCLAkPub is the vTPM key the quote will be made with. */
static int check_ak(const cp_azure_runtime_data *rd, uint32_t handle, const uint8_t *n, size_t n_len, uint32_t e) {
        const uint8_t *rn, *re;
        size_t rn_len, re_len;
        uint8_t eb[8] = { 0 };
        cp_azure_runtime_data_ak_rsa(rd, &rn, &rn_len, &re, &re_len);
        /* the exponent as big-endian without leading zeros, as the JWK has it */
        size_t el = 0;
        for (int sh = 24; sh >= 0; sh -= 8)
                if (el || (uint8_t) (e >> sh))
                        eb[el++] = (uint8_t) (e >> sh);
        if (rn_len != n_len || re_len != el || !cp_ct_eq(rn, n, n_len) || !cp_ct_eq(re, eb, el))
                return CP_ERROR(CP_EBINDING,
                                "the HCL report's runtime data names an HCLAkPub that is not the vTPM key at 0x%08x",
                                handle);
        return 0;
}

int cp_azure_cvm_evidence(cp_vtpm *t, const cp_azure_cvm_options *o, const uint8_t *nonce, size_t nonce_len,
                          json_t **ret) {
        uint32_t report_index = o->report_index ? o->report_index : CP_HCL_NV_INDEX,
                 ud_index = o->user_data_index ? o->user_data_index : CP_HCL_USER_DATA_NV_INDEX,
                 ak_handle = o->ak_handle ? o->ak_handle : CP_AZURE_AK_HANDLE;
        _cleanup_free_ uint8_t *hcl = NULL, *attest = NULL, *sigbuf = NULL;
        _cleanup_(rd_freep) cp_azure_runtime_data *rd = NULL;
        size_t hcl_len, attest_len, sig_len, n_len;
        uint8_t n[512], pcrs[CP_VTPM_PCRS][32];
        uint32_t e;
        cp_hcl_report rep;
        cp_tpm_signature sig;
        int r;

        if (!nonce || nonce_len == 0 || nonce_len > CP_MAX_AZURE_USER_DATA)
                return CP_ERROR(CP_EINVAL, "nonce of %zu bytes (1..%u)", nonce_len, CP_MAX_AZURE_USER_DATA);
        if (!o->vcek || o->vcek_len == 0)
                return CP_ERROR(CP_EINVAL, "no VCEK: the HCL report does not carry one");
        if (o->refresh_user_data) {
                uint8_t ud[CP_MAX_AZURE_USER_DATA] = { 0 };
                size_t have;
                memcpy(ud, nonce, nonce_len);
                /* Trustee's attester defines the index when the image has not */
                r = cp_vtpm_nv_size(t, ud_index, &have);
                if (r == CP_ENOTFOUND) {
                        cp_error_clear();
                        r = cp_vtpm_nv_define(t, ud_index, sizeof(ud));
                }
                if (r >= 0)
                        r = cp_vtpm_nv_write(t, ud_index, ud, sizeof(ud));
                if (r < 0)
                        return cp_error_wrap("user data (NV 0x%08x)", ud_index);
        }
        if ((r = cp_azure_cvm_read_report(t, report_index, &hcl, &hcl_len)) < 0)
                return r;
        if ((r = cp_hcl_report_parse(hcl, hcl_len, &rep)) < 0)
                return r;
        if (rep.report_type != CP_HCL_REPORT_SNP)
                return CP_ERROR(CP_EUNSUPPORTED, "the HCL report carries a %s report, not SEV-SNP",
                                cp_hcl_report_type_name(rep.report_type));
        if (rep.hash_type != CP_HCL_HASH_SHA256)
                return CP_ERROR(CP_EUNSUPPORTED, "HCL report hash type %d (attestd takes SHA-256)", (int) rep.hash_type);
        if ((r = cp_hcl_report_check_binding(&rep)) < 0)
                return cp_error_wrap("HCL report");
        if ((r = cp_azure_runtime_data_parse(rep.runtime_data, rep.runtime_data_len, &rd)) < 0)
                return cp_error_wrap("HCL runtime data");
        if ((r = cp_vtpm_load_persistent_ak(t, ak_handle, n, &n_len, &e)) < 0)
                return r;
        if ((r = check_ak(rd, ak_handle, n, n_len, e)) < 0)
                return r;
        if (o->refresh_user_data && (r = cp_azure_runtime_data_check_user_data(rd, nonce, nonce_len)) < 0)
                return CP_ERROR(CP_EBINDING, "the HCL report read after writing NV 0x%08x does not carry the nonce as "
                                             "user-data (did the paravisor refresh it?)",
                                ud_index);
        if ((r = cp_vtpm_quote(t, nonce, nonce_len, &attest, &attest_len, &sigbuf, &sig_len)) < 0 ||
            (r = cp_vtpm_pcr_read(t, pcrs)) < 0)
                return r;
        if ((r = cp_tpm_signature_parse(sigbuf, sig_len, &sig)) < 0)
                return cp_error_wrap("quote signature");
        if (sig.sig_alg != CP_TPM_ALG_RSASSA || sig.hash_alg != CP_TPM_ALG_SHA256)
                return CP_ERROR(CP_EUNSUPPORTED, "quote signature is not RSASSA-SHA256");

        json_t *pa = json_array();
        json_t *ev = pa ? json_pack("{s:i,s:o,s:{s:o,s:o,s:o},s:o}", "version", o->refresh_user_data ? 2 : 1,
                                    "hcl_report", b64u_json(hcl, hcl_len), "tpm_quote", "message",
                                    hex_json(attest, attest_len), "signature", hex_json(sig.sig, sig.sig_len), "pcrs",
                                    json_incref(pa), "vcek", b64u_json(o->vcek, o->vcek_len))
                            : NULL;
        for (unsigned i = 0; ev && i < CP_VTPM_PCRS; i++)
                if (json_array_append_new(pa, hex_json(pcrs[i], 32)) < 0) {
                        json_decref(ev);
                        ev = NULL;
                }
        json_decref(pa);
        if (!ev)
                return cp_error_oom();
        *ret = ev;
        return 0;
}

int cp_azure_thim_vcek(const char *url, uint8_t **ret, size_t *ret_len) {
        static const char *const hdrs[] = { "Metadata: true", NULL };
        cp_httpc_options o = { .timeout_ms = 10000, .max_response = 64u * 1024u };
        cp_httpc_response resp = { 0 };
        json_error_t je;
        int r = cp_httpc_request(&o, "GET", url, hdrs, NULL, 0, &resp);
        if (r < 0)
                return cp_error_wrap("THIM %s", url);
        if (resp.status != 200) {
                long st = resp.status;
                cp_httpc_response_clear(&resp);
                return CP_ERROR(CP_ENETWORK, "THIM %s: HTTP %ld", url, st);
        }
        json_t *j = json_loadb((const char *) resp.body, resp.body_len, JSON_REJECT_DUPLICATES, &je);
        cp_httpc_response_clear(&resp);
        const json_t *v = json_object_get(j, "vcekCert"), *c = json_object_get(j, "certificateChain");
        size_t vl = json_string_length(v), cl = json_string_length(c);
        if (!json_is_object(j) || !json_is_string(v) || vl == 0 || (c && !json_is_string(c))) {
                json_decref(j);
                return CP_ERROR(CP_EFORMAT, "THIM %s: not {\"vcekCert\": PEM, \"certificateChain\": PEM}", url);
        }
        if (vl + cl + 1 > CP_MAX_CHAIN_DEPTH * 2 * CP_MAX_CERT_DER) {
                json_decref(j);
                return CP_ERROR(CP_ETOOBIG, "THIM %s: certificates of %zu bytes", url, vl + cl);
        }
        uint8_t *b = malloc(vl + 1 + cl);
        if (!b) {
                json_decref(j);
                return cp_error_oom();
        }
        memcpy(b, json_string_value(v), vl);
        b[vl] = '\n';
        if (cl)
                memcpy(b + vl + 1, json_string_value(c), cl);
        json_decref(j);
        *ret = b;
        *ret_len = vl + 1 + cl;
        return 0;
}

/* ---- Azure TDX CVMs (issue 16) -------------------------------------------- */

static char *b64u_str(const uint8_t *p, size_t n) {
        char *s = malloc(cp_b64_encoded_len(n, CP_B64_URL) + 1);
        if (s)
                cp_b64_encode(p, n, CP_B64_URL, s);
        return s;
}

/* The persistent AK at handle: loaded if the vTPM has it (a boot after the
 * first), else created and made persistent. */
static int paravisor_ak(cp_vtpm *t, uint32_t handle, uint8_t n[512], size_t *n_len, uint32_t *e) {
        int r = cp_vtpm_load_persistent_ak(t, handle, n, n_len, e);
        if (r >= 0)
                return 0;
        cp_error_clear();
        if ((r = cp_vtpm_create_ak(t, n, e)) < 0 || (r = cp_vtpm_persist_ak(t, handle)) < 0)
                return cp_error_wrap("paravisor AK (0x%08x): ", handle);
        *n_len = 256;
        return 0;
}

/* Azure's runtime-data document (member order as Azure writes it). */
static char *paravisor_runtime_data(const uint8_t *n, size_t n_len, uint32_t e, const char *vmid, bool console) {
        uint8_t eb[4];
        size_t el = 0;
        for (int sh = 24; sh >= 0; sh -= 8)
                if (el || (uint8_t) (e >> sh))
                        eb[el++] = (uint8_t) (e >> sh);
        _cleanup_free_ char *nb = b64u_str(n, n_len), *ebs = b64u_str(eb, el);
        char ud[2 * CP_MAX_AZURE_USER_DATA + 1];
        memset(ud, '0', sizeof ud - 1);
        ud[sizeof ud - 1] = '\0';
        json_t *j = nb && ebs ? json_pack("{s:[{s:s,s:[s],s:s,s:s,s:s}],s:{s:b,s:b,s:b,s:b,s:s},s:s}", "keys", "kid",
                                          "HCLAkPub", "key_ops", "sign", "kty", "RSA", "e", ebs, "n", nb,
                                          "vm-configuration", "console-enabled", console, "secure-boot", 1,
                                          "tpm-enabled", 1, "tpm-persisted", 1, "vmUniqueId", vmid, "user-data", ud)
                              : NULL;
        char *txt = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(j);
        return txt;
}

int cp_azure_paravisor_provision(cp_vtpm *t, const cp_azure_paravisor *p) {
        uint8_t n[512], report_data[64] = { 0 }, hw[CP_HCL_SNP_REPORT_SIZE];
        size_t n_len = 0, hw_len = p && p->report_type == CP_HCL_REPORT_TDX ? CP_HCL_TDX_REPORT_SIZE
                                                                             : CP_HCL_SNP_REPORT_SIZE;
        size_t nv = p && p->nv_size ? p->nv_size : CP_AZURE_PARAVISOR_NV_SIZE, have = 0, hl = 0;
        uint32_t e = 0;
        _cleanup_free_ char *rt = NULL;
        _cleanup_free_ uint8_t *hcl = NULL;
        int r;
        if (!t || !p || !p->hw_report || !p->vm_unique_id)
                return CP_ERROR(CP_EINVAL, "cp_azure_paravisor_provision: NULL argument");
        if ((r = paravisor_ak(t, CP_AZURE_AK_HANDLE, n, &n_len, &e)) < 0)
                return r;
        if (!(rt = paravisor_runtime_data(n, n_len, e, p->vm_unique_id, false)))
                return cp_error_oom();
        SHA256((const uint8_t *) rt, strlen(rt), report_data);
        if ((r = p->hw_report(p->userdata, report_data, hw, hw_len)) < 0)
                return cp_error_wrap("paravisor hardware report: ");
        if (p->alter_runtime_data) {
                /* "false" -> "true " (same length, still JSON): not what REPORTDATA binds */
                char *c = strstr(rt, "\"console-enabled\":false");
                if (c)
                        memcpy(c + strlen("\"console-enabled\":"), "true ", 5);
        }
        if ((r = cp_hcl_report_write(CP_HCL_REQUEST_AK_CERT, p->report_type, CP_HCL_HASH_SHA256, hw, hw_len,
                                     (const uint8_t *) rt, strlen(rt), nv, &hcl, &hl)) < 0)
                return r;
        r = cp_vtpm_nv_size(t, CP_HCL_NV_INDEX, &have);
        if (r == CP_ENOTFOUND) {
                cp_error_clear();
                r = cp_vtpm_nv_define(t, CP_HCL_NV_INDEX, hl);
        } else if (r >= 0 && have != hl)
                r = CP_ERROR(CP_EFORMAT, "NV 0x%08x is %zu bytes, the HCL report %zu", CP_HCL_NV_INDEX, have, hl);
        if (r >= 0)
                r = cp_vtpm_nv_write(t, CP_HCL_NV_INDEX, hcl, hl);
        return r < 0 ? cp_error_wrap("HCL report (NV 0x%08x): ", CP_HCL_NV_INDEX) : 0;
}

int cp_azure_imds_tdquote(const char *url, const uint8_t tdreport[CP_HCL_TDX_REPORT_SIZE], uint8_t **ret,
                          size_t *ret_len) {
        static const char *const hdrs[] = { "Content-Type: application/json", NULL };
        cp_httpc_options o = { .timeout_ms = 15000, .max_response = 4u * CP_MAX_TDX_QUOTE };
        cp_httpc_response resp = { 0 };
        _cleanup_free_ char *rep = b64u_str(tdreport, CP_HCL_TDX_REPORT_SIZE), *body = NULL;
        if (!rep || asprintf(&body, "{\"report\":\"%s\"}", rep) < 0)
                return cp_error_oom();
        int r = cp_httpc_request(&o, "POST", url, hdrs, body, strlen(body), &resp);
        if (r < 0)
                return cp_error_wrap("TD quote endpoint %s: ", url);
        if (resp.status != 200) {
                long st = resp.status;
                char msg[200];
                snprintf(msg, sizeof msg, "%.150s", resp.body ? (const char *) resp.body : "");
                cp_httpc_response_clear(&resp);
                return CP_ERROR(CP_ENETWORK, "TD quote endpoint %s: HTTP %ld: %s", url, st, msg);
        }
        json_t *j = NULL;
        r = cp_httpc_response_json(&resp, &j);
        cp_httpc_response_clear(&resp);
        const json_t *q = json_object_get(j, "quote");
        size_t ql = json_string_length(q), n = 0;
        uint8_t *buf = r >= 0 && json_is_string(q) && ql <= 2 * CP_MAX_TDX_QUOTE ? malloc(cp_b64_decoded_max(ql) + 1) : NULL;
        if (!buf || cp_b64_decode(json_string_value(q), ql, CP_B64_URL, buf, cp_b64_decoded_max(ql), &n) < 0 || n == 0) {
                free(buf);
                json_decref(j);
                cp_error_clear();
                return CP_ERROR(CP_EFORMAT, "TD quote endpoint %s: not {\"quote\": base64url}", url);
        }
        json_decref(j);
        *ret = buf;
        *ret_len = n;
        return 0;
}

/* The vTPM half: TPM2_Quote over SHA-256(client payload) by the loaded AK,
 * the PCR values, as AttestationInfo's TpmInfo. */
static int tdx_tpm_info(cp_vtpm *t, const cp_azure_tdx_options *o, json_t **ret) {
        uint8_t qd[32], pcrs[CP_VTPM_PCRS][32];
        _cleanup_free_ uint8_t *attest = NULL, *sig = NULL;
        size_t al, sl;
        int r;
        SHA256(o->client_payload, o->client_payload_len, qd);
        if ((r = cp_vtpm_quote(t, qd, sizeof qd, &attest, &al, &sig, &sl)) < 0 || (r = cp_vtpm_pcr_read(t, pcrs)) < 0)
                return r;
        _cleanup_free_ char *qa = b64u_str(attest, al), *qs = b64u_str(sig, sl);
        json_t *pa = json_array();
        for (unsigned i = 0; pa && i < CP_VTPM_PCRS; i++)
                if (json_array_append_new(pa, hex_json(pcrs[i], 32)) < 0)
                        pa = (json_decref(pa), NULL);
        json_t *ti = pa && qa && qs ? json_pack("{s:s,s:s,s:o}", "PcrQuote", qa, "PcrSignature", qs, "PcrValues", pa)
                                    : (json_decref(pa), NULL);
        if (!ti)
                return cp_error_oom();
        *ret = ti;
        return 0;
}

int cp_azure_tdx_evidence(cp_vtpm *t, const cp_azure_tdx_options *o, json_t **ret) {
        uint32_t idx = o && o->report_index ? o->report_index : CP_HCL_NV_INDEX,
                 akh = o && o->ak_handle ? o->ak_handle : CP_AZURE_AK_HANDLE;
        _cleanup_free_ uint8_t *hcl = NULL, *quote = NULL;
        _cleanup_(rd_freep) cp_azure_runtime_data *rd = NULL;
        size_t hcl_len, ql, n_len;
        uint8_t n[512];
        uint32_t e;
        cp_hcl_report rep;
        int r;
        if (!t || !o || !ret || !o->client_payload || o->client_payload_len == 0)
                return CP_ERROR(CP_EINVAL, "cp_azure_tdx_evidence: NULL argument or empty client payload");
        if ((r = cp_azure_cvm_read_report(t, idx, &hcl, &hcl_len)) < 0 || (r = cp_hcl_report_parse(hcl, hcl_len, &rep)) < 0)
                return r;
        if (rep.report_type != CP_HCL_REPORT_TDX)
                return CP_ERROR(CP_EUNSUPPORTED, "the HCL report carries a %s report, not a TDX TDREPORT",
                                cp_hcl_report_type_name(rep.report_type));
        if (rep.hash_type != CP_HCL_HASH_SHA256)
                return CP_ERROR(CP_EUNSUPPORTED, "HCL report hash type %d (attestd takes SHA-256)", (int) rep.hash_type);
        if ((r = cp_azure_runtime_data_parse(rep.runtime_data, rep.runtime_data_len, &rd)) < 0)
                return cp_error_wrap("HCL runtime data: ");
        if ((r = cp_vtpm_load_persistent_ak(t, akh, n, &n_len, &e)) < 0 || (r = check_ak(rd, akh, n, n_len, e)) < 0)
                return r;
        if ((r = cp_azure_imds_tdquote(o->quote_url ? o->quote_url : CP_AZURE_TDQUOTE_URL, rep.hw_report, &quote, &ql)) < 0)
                return r;
        json_t *ti = NULL;
        if ((r = tdx_tpm_info(t, o, &ti)) < 0)
                return r;
        _cleanup_free_ char *vq = b64u_str(quote, ql), *vh = b64u_str(hcl, hcl_len),
                            *vc = b64u_str(o->client_payload, o->client_payload_len),
                            *vl = o->eventlog_len ? b64u_str(o->eventlog, o->eventlog_len) : NULL;
        json_t *ai = vq && vh && vc ? json_pack("{s:s,s:s,s:{s:s,s:{s:s,s:s}},s:o,s:s}", "AttestationProtocolVersion",
                                                "2.0", "OSType", "Linux", "IsolationInfo", "Type", "TDX", "Evidence",
                                                "Proof", vq, "HclReport", vh, "TpmInfo", ti, "ClientPayload", vc)
                                    : (json_decref(ti), NULL);
        if (ai && vl && json_object_set_new(ai, "TcgLogs", json_string(vl)) < 0)
                ai = (json_decref(ai), NULL);
        if (!ai)
                return cp_error_oom();
        *ret = ai;
        return 0;
}
