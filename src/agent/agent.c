/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <pthread.h>
#include <openssl/sha.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "agent/agent.h"
#include "agent/diskkey.h"
#include "agent/kubelet.h"
#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/cursor.h"
#include "basic/fileio.h"
#include "basic/limits.h"
#include "basic/secure.h"
#include "emu/amdsp.h"
#include "node/azure_cvm.h"
#include "service/httpc.h"
#include "node/nodedisk.h"
#include "emu/snp_guest.h"
#include "emu/tdx_emu.h"
#include "node/vtpm.h"
#include "libconfpool/rsagen.h"

/* attestd requires a supported api-version on its data-plane routes, as MAA does */
#define CP_ATTESTD_API_VERSION "2022-08-01"

static volatile sig_atomic_t got_term, got_reattest;

static void on_signal(int sig) {
        if (sig == SIGUSR1)
                got_reattest = 1;
        else
                got_term = 1;
}

typedef struct agent {
        char dir[4096];
        json_t *cfg;
        const char *name, *pool, *attestd, *cp;
        unsigned cp_next; /* control-plane replicas: the index in cp's list that answered last */
        cp_vtpm *tpm;
        uint8_t ak_n[256];
        uint32_t ak_e;
        EVP_PKEY *tee; /* ephemeral, memory only */
        char *token;
        json_t *kube;  /* the register answer's "kubernetes": bootstrap key, API server */
        json_t *times; /* phase -> Unix ms when it was reached (bench/bench-nodes.c) */
        bool azure;    /* "evidence": "azure-hcl" */
        bool tdx;      /* "tee": "tdx" (issue 16) */
        bool no_tee;   /* "tee": "none": a non-confidential size, nothing to attest (issue 16) */
} agent;

static const char *cfg_str(agent *a, const char *k) {
        return json_string_value(json_object_get(a->cfg, k));
}

/* A file named by the configuration: relative to the node directory, or absolute. */
static void path_of(agent *a, const char *k, char *out, size_t size) {
        const char *v = cfg_str(a, k);
        if (v && v[0] == '/')
                snprintf(out, size, "%s", v);
        else
                snprintf(out, size, "%s/%s", a->dir, v ? v : "");
}

/* Record when a phase was reached; written with the next status. */
static void mark(agent *a, const char *phase) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        if (a->times)
                json_object_set_new(a->times, phase,
                                    json_integer((json_int_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000));
}

static void set_status(agent *a, const char *state, const char *reason) {
        mark(a, state);
        json_t *j = json_pack("{s:s,s:s,s:I}", "state", state, "reason", reason ? reason : "", "at", (json_int_t) time(NULL));
        if (j && a->times)
                json_object_set(j, "times", a->times);
        char *txt = j ? json_dumps(j, 0) : NULL;
        char f[4200];
        snprintf(f, sizeof f, "%s/status.json", a->dir);
        if (!txt || cp_write_file(f, txt, strlen(txt), 0644) < 0)
                cp_error_clear();
        fprintf(stderr, "confpool-agent %s: %s%s%s\n", a->name ? a->name : "?", state, reason ? ": " : "",
                reason ? reason : "");
        free(txt);
        json_decref(j);
}

static json_t *rsa_jwk(const char *kid, const char *op, const uint8_t *n, size_t nl, const uint8_t *e, size_t el) {
        char *nb = malloc(cp_b64_encoded_len(nl, CP_B64_URL) + 1), eb[16];
        if (!nb)
                return NULL;
        cp_b64_encode(n, nl, CP_B64_URL, nb);
        cp_b64_encode(e, el, CP_B64_URL, eb);
        json_t *j = json_pack("{s:s,s:[s],s:s,s:s,s:s}", "kid", kid, "key_ops", op, "kty", "RSA", "e", eb, "n", nb);
        free(nb);
        return j;
}

static size_t be_bytes(uint32_t v, uint8_t out[4]) {
        size_t n = 0;
        uint8_t tmp[4];
        cp_put_be32(tmp, v);
        size_t i = 0;
        while (i < 3 && tmp[i] == 0)
                i++;
        for (; i < 4; i++)
                out[n++] = tmp[i];
        return n;
}

/* The ephemeral TEE key as a JWK (kid "TEEKey", key_ops "encrypt"): what
 * the key broker wraps released keys to. */
static int tee_jwk(agent *a, json_t **ret) {
        uint8_t tn[512], te[8];
        size_t tnl = 0, tel = 0;
        BIGNUM *bn = NULL, *be = NULL;
        if (EVP_PKEY_get_bn_param(a->tee, OSSL_PKEY_PARAM_RSA_N, &bn) != 1 ||
            EVP_PKEY_get_bn_param(a->tee, OSSL_PKEY_PARAM_RSA_E, &be) != 1 || BN_num_bytes(bn) > (int) sizeof tn ||
            BN_num_bytes(be) > (int) sizeof te) {
                BN_free(bn);
                BN_free(be);
                return CP_ERROR(CP_ECRYPTO, "TEE key parameters");
        }
        tnl = (size_t) BN_bn2bin(bn, tn);
        tel = (size_t) BN_bn2bin(be, te);
        BN_free(bn);
        BN_free(be);
        if (!(*ret = rsa_jwk("TEEKey", "encrypt", tn, tnl, te, tel)))
                return cp_error_oom();
        return 0;
}

/* Runtime data: Azure's schema, the vTPM AK as HCLAkPub, the TEE key as
 * "TEEKey", the machine name as vmUniqueId (what the control plane binds). */
static int runtime_data(agent *a, char **ret) {
        uint8_t e[4];
        size_t el = be_bytes(a->ak_e, e);
        json_t *tk = NULL;
        int r = tee_jwk(a, &tk);
        if (r < 0)
                return r;
        json_t *keys = json_array();
        json_array_append_new(keys, rsa_jwk("HCLAkPub", "sign", a->ak_n, sizeof a->ak_n, e, el));
        json_array_append_new(keys, tk);
        json_t *rt = json_pack("{s:o,s:{s:b,s:b,s:b,s:s}}", "keys", keys, "vm-configuration", "secure-boot", 1,
                               "tpm-enabled", 1, "console-enabled", 0, "vmUniqueId", a->name);
        char *txt = rt ? json_dumps(rt, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(rt);
        if (!txt)
                return cp_error_oom();
        *ret = txt;
        return 0;
}

static char *b64u(const uint8_t *p, size_t n) {
        char *s = malloc(cp_b64_encoded_len(n, CP_B64_URL) + 1);
        if (s)
                cp_b64_encode(p, n, CP_B64_URL, s);
        return s;
}

/* POST a JSON body; ca_file: the CA to trust for an https URL (NULL: the
 * system's). */
static int post_json_within(const char *url, const char *bearer, const char *ca_file, json_t *body,
                            unsigned timeout_ms, long *ret_status, json_t **ret) {
        char *txt = body ? json_dumps(body, JSON_COMPACT) : NULL;
        if (body && !txt)
                return cp_error_oom();
        cp_httpc_options ho = {.timeout_ms = timeout_ms, .bearer = bearer, .ca_file = ca_file};
        cp_httpc_response resp = {0};
        int r = cp_httpc_request(&ho, "POST", url, NULL, txt ? txt : "{}", txt ? strlen(txt) : 2, &resp);
        free(txt);
        if (r < 0)
                return r;
        *ret_status = resp.status;
        json_t *j = NULL;
        if (cp_httpc_response_json(&resp, &j) < 0) {
                cp_error_clear();
                j = json_object();
        }
        cp_httpc_response_clear(&resp);
        *ret = j;
        return 0;
}

static int post_json(const char *url, const char *bearer, const char *ca_file, json_t *body, long *ret_status,
                     json_t **ret) {
        return post_json_within(url, bearer, ca_file, body, 15000, ret_status, ret);
}

static const char *error_message(const json_t *j) {
        const json_t *e = json_object_get(j, "error");
        const char *m = json_string_value(json_object_get(e, "message"));
        return m ? m : "no message";
}

/* POST /challenge: the nonce as sent (*ret_txt) and decoded. */
static int challenge(agent *a, char **ret_txt, uint8_t **ret_nonce, size_t *ret_len) {
        char url[700];
        json_t *resp = NULL;
        long status;
        size_t len = 0;
        snprintf(url, sizeof url, "%s/challenge?api-version=" CP_ATTESTD_API_VERSION, a->attestd);
        int r = post_json(url, NULL, NULL, NULL, &status, &resp);
        if (r < 0)
                return r;
        const char *txt = json_string_value(json_object_get(resp, "nonce"));
        uint8_t *nonce = txt ? malloc(cp_b64_decoded_max(strlen(txt)) + 1) : NULL;
        if (status != 200 || !nonce ||
            cp_b64_decode(txt, strlen(txt), CP_B64_URL, nonce, cp_b64_decoded_max(strlen(txt)), &len) < 0) {
                free(nonce);
                json_decref(resp);
                return CP_ERROR(CP_ENETWORK, "no challenge from the attestation service (HTTP %ld)", status);
        }
        char *copy = strdup(txt);
        json_decref(resp);
        if (!copy) {
                free(nonce);
                return cp_error_oom();
        }
        *ret_txt = copy;
        *ret_nonce = nonce;
        *ret_len = len;
        return 0;
}

/* POST body to attestd's path; the token into a->token. */
static int get_token(agent *a, const char *path, json_t *body) {
        char url[700];
        json_t *resp = NULL;
        long status;
        snprintf(url, sizeof url, "%s%s?api-version=" CP_ATTESTD_API_VERSION, a->attestd, path);
        int r = post_json(url, NULL, NULL, body, &status, &resp);
        if (r < 0)
                return r;
        const char *tok = json_string_value(json_object_get(resp, "token"));
        if (status != 200 || !tok) {
                char msg[600];
                snprintf(msg, sizeof msg, "%s", error_message(resp));
                json_decref(resp);
                /* busy or failing (429, 5xx) is not a verdict on the evidence */
                if (status == 429 || status >= 500)
                        return CP_ERROR(CP_ENETWORK, "attestation service unavailable (HTTP %ld): %s", status, msg);
                return CP_ERROR(CP_EPOLICY, "attestation refused (HTTP %ld): %s", status, msg);
        }
        free(a->token);
        a->token = strdup(tok);
        json_decref(resp);
        return a->token ? 0 : cp_error_oom();
}

/* Azure CVM: the paravisor's HCL report and persistent AK (docs/nodes.md). */
static int attest_azure(agent *a) {
        _cleanup_free_ char *nonce_txt = NULL;
        _cleanup_free_ uint8_t *nonce = NULL, *vcek = NULL;
        size_t nonce_len = 0, vcek_len = 0;
        char f[4200];
        const json_t *az = json_object_get(a->cfg, "azure");
        const char *vf = json_string_value(json_object_get(az, "vcek")),
                   *vu = json_string_value(json_object_get(az, "vcekUrl"));
        int r;
        if (!vf == !vu)
                return CP_ERROR(CP_EFORMAT, "evidence \"azure-hcl\" needs one of azure.vcek (a VCEK file, DER or PEM) "
                                            "and azure.vcekUrl (IMDS THIM, e.g. " CP_AZURE_THIM_URL ")");
        if (vu) {
                if ((r = cp_azure_thim_vcek(vu, &vcek, &vcek_len)) < 0)
                        return r;
        } else {
                if (vf[0] == '/')
                        snprintf(f, sizeof f, "%s", vf);
                else
                        snprintf(f, sizeof f, "%s/%s", a->dir, vf);
                if ((r = cp_read_file(f, CP_MAX_CHAIN_DEPTH * 2 * CP_MAX_CERT_DER, &vcek, &vcek_len)) < 0)
                        return cp_error_wrap("azure.vcek");
        }
        cp_azure_cvm_options o = {
                .report_index = (uint32_t) json_integer_value(json_object_get(az, "reportIndex")),
                .user_data_index = (uint32_t) json_integer_value(json_object_get(az, "userDataIndex")),
                .ak_handle = (uint32_t) json_integer_value(json_object_get(az, "akHandle")),
                .refresh_user_data = json_is_true(json_object_get(az, "refreshUserData")),
                .vcek = vcek,
                .vcek_len = vcek_len,
        };
        if ((r = challenge(a, &nonce_txt, &nonce, &nonce_len)) < 0)
                return r;
        mark(a, "challenge");
        json_t *ev = NULL;
        if ((r = cp_azure_cvm_evidence(a->tpm, &o, nonce, nonce_len, &ev)) < 0)
                return cp_error_wrap("Azure HCL evidence");
        mark(a, "quote");
        json_t *body = json_pack("{s:o,s:s}", "evidence", ev, "nonce", nonce_txt);
        if (!body)
                return cp_error_oom();
        r = get_token(a, "/attest/AzureSnpVtpm", body);
        json_decref(body);
        return r;
}

/* The event log beside the node (optional: an empty one when absent). */
static void read_eventlog(agent *a, uint8_t **ret, size_t *ret_len) {
        char f[4200];
        path_of(a, "eventLog", f, sizeof f);
        *ret = NULL;
        *ret_len = 0;
        if (cp_read_file(f, 1u << 20, ret, ret_len) < 0) {
                cp_error_clear();
                *ret_len = 0;
        }
}

/* The vTPM's part of the evidence: a challenge from attestd, TPM2_Quote
 * of the PCRs over its nonce, the PCR values and the event log, as the
 * members "nonce", <quote_member> {message, signature, signatureFormat,
 * pcrs} and "eventLog" added to body (Native and TdxVm alike). */
static int tpm_evidence(agent *a, json_t *body, const char *quote_member) {
        _cleanup_free_ char *nonce_txt = NULL;
        _cleanup_free_ uint8_t *nonce = NULL, *attest_b = NULL, *sig = NULL, *evlog = NULL;
        size_t nonce_len = 0, attest_len, sig_len, evlog_len = 0;
        uint8_t pcrs[CP_VTPM_PCRS][32];
        int r;
        if ((r = challenge(a, &nonce_txt, &nonce, &nonce_len)) < 0)
                return r;
        mark(a, "challenge");
        if ((r = cp_vtpm_quote(a->tpm, nonce, nonce_len, &attest_b, &attest_len, &sig, &sig_len)) < 0 ||
            (r = cp_vtpm_pcr_read(a->tpm, pcrs)) < 0)
                return r;
        read_eventlog(a, &evlog, &evlog_len);
        mark(a, "quote");
        json_t *pcr_arr = json_array();
        for (unsigned i = 0; pcr_arr && i < CP_VTPM_PCRS; i++) {
                char hex[65];
                cp_hex_encode(pcrs[i], 32, hex);
                hex[64] = '\0';
                json_array_append_new(pcr_arr, json_string(hex));
        }
        _cleanup_free_ char *v_msg = b64u(attest_b, attest_len), *v_sig = b64u(sig, sig_len),
                            *v_ev = evlog_len ? b64u(evlog, evlog_len) : NULL;
        json_t *tq = pcr_arr && v_msg && v_sig
                             ? json_pack("{s:s,s:s,s:s,s:o}", "message", v_msg, "signature", v_sig, "signatureFormat",
                                         "tpmt", "pcrs", pcr_arr)
                             : NULL;
        if (!tq || json_object_set_new(body, quote_member, tq) < 0 ||
            json_object_set_new(body, "nonce", json_string(nonce_txt)) < 0 ||
            (v_ev && json_object_set_new(body, "eventLog", json_string(v_ev)) < 0))
                return cp_error_oom();
        return 0;
}

/* SEV-SNP: the report over the guest-request channel (the secrets page's
 * message counters kept), with its certificate table, into body. */
static int snp_evidence(agent *a, const char *rt, const uint8_t report_data[64], json_t *body) {
        _cleanup_free_ uint8_t *secrets = NULL;
        size_t secrets_len;
        char f[4200];
        int r;
        path_of(a, "secrets", f, sizeof f);
        if ((r = cp_read_file(f, CP_SNP_SECRETS_PAGE_SIZE, &secrets, &secrets_len)) < 0)
                return r;
        if (secrets_len != CP_SNP_SECRETS_PAGE_SIZE) {
                cp_wipe(secrets, secrets_len);
                return CP_ERROR(CP_EFORMAT, "secrets page of %zu bytes", secrets_len);
        }
        cp_snp_guest_options go = {.transport = CP_SNP_TRANSPORT_EMULATED, .socket_path = cfg_str(a, "amdspSocket"),
                                   .guest_handle = (uint32_t) json_integer_value(json_object_get(a->cfg, "guestHandle")),
                                   .secrets_page = secrets, .vmpck = 0};
        const char *transport = cfg_str(a, "snpTransport");
        if (transport && (r = cp_snp_transport_from_name(transport, &go.transport)) < 0) {
                cp_wipe(secrets, secrets_len);
                return r;
        }
        cp_snp_guest_report rep = {0};
        r = cp_snp_guest_get_report(&go, report_data, 0, true, &rep);
        /* the message counters advanced: keep them (even after a failure) */
        int w = cp_write_file(f, secrets, secrets_len, 0600);
        cp_wipe(secrets, secrets_len);
        if (r < 0 || w < 0) {
                cp_snp_guest_report_clear(&rep);
                return r < 0 ? cp_error_wrap("SNP report: ") : w;
        }
        _cleanup_free_ char *v_rep = b64u(rep.report, sizeof rep.report),
                            *v_tab = b64u(rep.certs ? rep.certs : (const uint8_t *) "", rep.certs_len),
                            *v_rt = b64u((const uint8_t *) rt, strlen(rt));
        cp_snp_guest_report_clear(&rep);
        if (!v_rep || !v_tab || !v_rt || json_object_set_new(body, "snpReport", json_string(v_rep)) < 0 ||
            json_object_set_new(body, "certTable", json_string(v_tab)) < 0 ||
            json_object_set_new(body, "runtimeData", json_string(v_rt)) < 0)
                return cp_error_oom();
        return 0;
}

/* TDX (issue 16): the TDREPORT through the guest interface (the TD's
 * emulated channel here, "tdxSocket"; configfs-tsm on a real TD with
 * "tdxTransport": "configfs-tsm") and its quote from the host's quoting
 * service, into body as a TdxVm request's "quote" and "runtimeData". */
static int tdx_evidence(agent *a, const char *rt, const uint8_t report_data[64], json_t *body) {
        _cleanup_free_ uint8_t *quote = NULL;
        size_t quote_len = 0;
        int r;
        const char *tr = cfg_str(a, "tdxTransport");
        cp_tdx_guest_options go = {.socket_path = cfg_str(a, "tdxSocket"), .tsm_root = cfg_str(a, "tsmRoot")};
        if (tr && strcmp(tr, "configfs-tsm") == 0)
                go.socket_path = NULL;
        else if (tr && strcmp(tr, "emulated") != 0)
                return CP_ERROR(CP_EFORMAT, "tdxTransport must be \"emulated\" or \"configfs-tsm\"");
        else if (!go.socket_path)
                return CP_ERROR(CP_EFORMAT, "tee \"tdx\" needs tdxSocket (the TD's emulated channel)");
        if ((r = cp_tdx_guest_get_quote(&go, report_data, &quote, &quote_len)) < 0)
                return cp_error_wrap("TDX quote");
        _cleanup_free_ char *v_q = b64u(quote, quote_len), *v_rt = b64u((const uint8_t *) rt, strlen(rt));
        if (!v_q || !v_rt || json_object_set_new(body, "quote", json_string(v_q)) < 0 ||
            json_object_set_new(body, "runtimeData", json_pack("{s:s,s:s}", "data", v_rt, "dataType", "JSON")) < 0)
                return cp_error_oom();
        return 0;
}

/* A TEE's native flow: its report in body, then the vTPM's part. */
typedef struct tee_flow {
        const char *route;        /* attestd's POST /attest/<type> */
        const char *quote_member; /* where the vTPM quote goes in that request */
        int (*evidence)(agent *a, const char *rt, const uint8_t report_data[64], json_t *body);
} tee_flow;

static const tee_flow snp_flow = {"/attest/Native", "quote", snp_evidence};
static const tee_flow tdx_flow = {"/attest/TdxVm", "tpmQuote", tdx_evidence};

/* The native flow, one for both TEEs: runtime data naming the vTPM AK and
 * the TEE key, REPORT_DATA / REPORTDATA = SHA-256(runtime data) || 32 zero
 * bytes, the TEE's evidence, the vTPM quote over a challenge, a token. */
static int attest_native(agent *a, const tee_flow *t) {
        _cleanup_free_ char *rt = NULL;
        uint8_t report_data[64] = {0};
        int r = runtime_data(a, &rt);
        if (r < 0)
                return r;
        SHA256((const uint8_t *) rt, strlen(rt), report_data);
        json_t *body = json_object();
        if (!body)
                return cp_error_oom();
        if ((r = t->evidence(a, rt, report_data, body)) >= 0) {
                mark(a, "report");
                if ((r = tpm_evidence(a, body, t->quote_member)) >= 0)
                        r = get_token(a, t->route, body);
        }
        json_decref(body);
        return r;
}

/* An Azure TDX CVM (issue 16): the paravisor's HCL report (its TDREPORT)
 * and persistent AK, the TD quote from the host's endpoint, the vTPM quote
 * over SHA-256 of the client payload ({"nonce": challenge, "keys": [the
 * TEE key]}) -> POST /attest/AzureGuest {"AttestationInfo": base64url}. */
static int attest_azure_tdx(agent *a) {
        _cleanup_free_ char *nonce_txt = NULL, *cp = NULL, *info_txt = NULL, *v_info = NULL;
        _cleanup_free_ uint8_t *nonce = NULL, *evlog = NULL;
        size_t nonce_len = 0, evlog_len = 0;
        const json_t *az = json_object_get(a->cfg, "azure");
        json_t *tk = NULL, *ai = NULL;
        int r;
        if ((r = tee_jwk(a, &tk)) < 0 || (r = challenge(a, &nonce_txt, &nonce, &nonce_len)) < 0) {
                json_decref(tk);
                return r;
        }
        mark(a, "challenge");
        json_t *pl = json_pack("{s:s,s:[o]}", "nonce", nonce_txt, "keys", tk);
        if (!pl || !(cp = json_dumps(pl, JSON_COMPACT | JSON_SORT_KEYS))) {
                json_decref(pl);
                return cp_error_oom();
        }
        json_decref(pl);
        read_eventlog(a, &evlog, &evlog_len);
        cp_azure_tdx_options o = {
                .quote_url = json_string_value(json_object_get(az, "tdQuoteUrl")),
                .report_index = (uint32_t) json_integer_value(json_object_get(az, "reportIndex")),
                .ak_handle = (uint32_t) json_integer_value(json_object_get(az, "akHandle")),
                .client_payload = (const uint8_t *) cp, .client_payload_len = strlen(cp),
                .eventlog = evlog, .eventlog_len = evlog_len,
        };
        if ((r = cp_azure_tdx_evidence(a->tpm, &o, &ai)) < 0)
                return cp_error_wrap("Azure TDX evidence: ");
        mark(a, "quote");
        info_txt = json_dumps(ai, JSON_COMPACT);
        json_decref(ai);
        if (!info_txt || !(v_info = b64u((const uint8_t *) info_txt, strlen(info_txt))))
                return cp_error_oom();
        json_t *body = json_pack("{s:s}", "AttestationInfo", v_info);
        if (!body)
                return cp_error_oom();
        r = get_token(a, "/attest/AzureGuest", body);
        json_decref(body);
        return r;
}

/* Collect evidence and get an attestation token (a->token). */
static int attest(agent *a) {
        if (a->azure)
                return a->tdx ? attest_azure_tdx(a) : attest_azure(a);
        return attest_native(a, a->tdx ? &tdx_flow : &snp_flow);
}

/* The node's Lease and Node status over mTLS (src/agent/kubelet.c); a failure is logged. */
static void kubelet_renew(agent *a, const char *ca) {
        if (cp_kubelet_renew(a->kube, a->name, cfg_str(a, "controlplaneCaFile") ? ca : NULL, a->dir) < 0) {
                fprintf(stderr, "confpool-agent %s: kubelet: %s\n", a->name, cp_error_message());
                cp_error_clear();
        }
}

/* The i-th of the comma-separated control-plane URLs (replicas, in the
 * same order for every node); false past the last. */
static bool cp_url_at(const char *list, unsigned i, char *out, size_t size) {
        const char *p = list;
        for (unsigned k = 0; k < i && p; k++)
                p = (p = strchr(p, ',')) ? p + 1 : NULL;
        if (!p || !*p)
                return false;
        snprintf(out, size, "%.*s", (int) strcspn(p, ","), p);
        return true;
}

static int control_plane_at(agent *a, const char *base, const char *action, unsigned timeout_ms, char *why,
                            size_t size);

/* A heartbeat's wait for one replica when there are others: a replica that
 * accepts connections and never answers (paused, frozen VM: the kernel
 * still queues them) must not hold it past the control plane's 15 s
 * deadline (issues 16 + 17: with 15 s per URL every node of a paused
 * leader's agents was replaced); one answering slower than this is tried
 * again at the next URL. */
#define HEARTBEAT_PER_REPLICA_MS 4000

/* POST register/heartbeat to the control plane, failing over between its
 * replicas (a network error or a 5xx: the next URL, starting from the one
 * that answered last); 1 accepted, 0 refused (*why), negative error. */
static int control_plane(agent *a, const char *action, char *why, size_t size) {
        unsigned n = 0;
        char base[512];
        while (cp_url_at(a->cp, n, base, sizeof base))
                n++;
        int r = CP_ERROR(CP_EINVAL, "no control-plane URL");
        for (unsigned k = 0; k < n; k++) {
                unsigned i = (a->cp_next + k) % n;
                if (!cp_url_at(a->cp, i, base, sizeof base))
                        break;
                r = control_plane_at(a, base, action,
                                     n > 1 && !strcmp(action, "heartbeat") ? HEARTBEAT_PER_REPLICA_MS : 15000, why,
                                     size);
                if (r >= 0) {
                        a->cp_next = i;
                        return r;
                }
        }
        return r;
}

static int control_plane_at(agent *a, const char *base, const char *action, unsigned timeout_ms, char *why,
                            size_t size) {
        char url[1600];
        snprintf(url, sizeof url, "%s%s/machines/%s/%s?api-version=2025-01-01", base, a->pool, a->name, action);
        json_t *resp = NULL;
        long status;
        char ca[4200];
        const char *caf = cfg_str(a, "controlplaneCaFile");
        if (caf)
                path_of(a, "controlplaneCaFile", ca, sizeof ca);
        int r = post_json_within(url, a->token, caf ? ca : NULL, NULL, timeout_ms, &status, &resp);
        if (r < 0)
                return r;
        if (status == 200) {
                if (!strcmp(action, "register") && json_is_object(json_object_get(resp, "kubernetes"))) {
                        json_decref(a->kube);
                        a->kube = json_incref(json_object_get(resp, "kubernetes"));
                }
                json_decref(resp);
                return 1;
        }
        snprintf(why, size, "%s refused (HTTP %ld): %s", action, status, error_message(resp));
        json_decref(resp);
        return status == 403 || status == 409 || status == 401 ? 0 : CP_ERROR(CP_ENETWORK, "%s", why);
}

/* A failure that says nothing about the node (a refusal is CP_EPOLICY, a
 * bad report CP_ESIG/CP_EFORMAT...): the attestation service or the
 * control plane unreachable or busy, the host's AMD-SP socket away while
 * its daemon restarts. */
static bool transient(int r) {
        return r == CP_ENETWORK || r == CP_EIO || r == CP_ENOTFOUND;
}

static void sleep_ms(unsigned ms) {
        struct timespec ts = {ms / 1000, (long) (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL); /* signals interrupt it */
}

static int fail(agent *a, const char *step, int r) {
        char msg[700];
        snprintf(msg, sizeof msg, "%s: %s", step, cp_error_message());
        set_status(a, "Failed", msg);
        return r;
}

/* Registration with the control plane: "Joining", then "Ready"; a refusal
 * (the control plane's policy) is final, a transport error or 5xx (503: the
 * attestation service's keys not fetched yet) is retried for ~15 s. */
static int register_node(agent *a) {
        char why[700];
        set_status(a, "Joining", NULL);
        for (int i = 0;; i++) {
                if (got_term) /* stopped while it booted: never Ready */
                        return fail(a, "register", CP_ERROR(CP_ENETWORK, "stopped before registering"));
                int r = control_plane(a, "register", why, sizeof why);
                if (r > 0)
                        break;
                if (r == 0) {
                        set_status(a, "Failed", why);
                        return CP_ERROR(CP_EPOLICY, "%s", why);
                }
                if (i >= 60)
                        return fail(a, "register", r);
                cp_error_clear();
                sleep_ms(250);
        }
        set_status(a, "Ready", NULL);
        return 0;
}

/* A vTPM whose lockout counter is not zero (state from before the AK was
 * NODA: docs/nodes.md) is reset with swtpm's empty lockoutAuth; native mode
 * only (an Azure vTPM's lockoutAuth is not the guest's, and a wrong one
 * would lock lockoutAuth itself).  Not fatal: the NODA AK quotes in lockout
 * too. */
static void da_recover(agent *a) {
        uint32_t failed = 0;
        if (cp_vtpm_da_recover(a->tpm, &failed) < 0) {
                fprintf(stderr, "confpool-agent %s: vTPM lockout counter %u, not reset: %s\n", a->name,
                        (unsigned) failed, cp_error_message());
                cp_error_clear();
        } else if (failed > 0)
                fprintf(stderr, "confpool-agent %s: vTPM lockout counter was %u: dictionary-attack lockout reset\n",
                        a->name, (unsigned) failed);
}

/* The agent's exit: TPM2_Shutdown before letting go of the vTPM, so that
 * the swtpm stopped after it counts no failed authorization.  The error of
 * the run, if any, stays the one reported. */
static void vtpm_release(agent *a) {
        if (!a->tpm)
                return;
        cp_error saved = *cp_error_last();
        if (cp_vtpm_shutdown(a->tpm) < 0)
                fprintf(stderr, "confpool-agent %s: %s\n", a->name ? a->name : "", cp_error_message());
        if (saved.code != 0)
                (void) cp_error_set_at(saved.file, saved.line, saved.code, "%s", saved.message);
        else
                cp_error_clear();
        a->tpm = cp_vtpm_close(a->tpm);
}

/* Native mode's AK: the one the platform provisioned in the vTPM before
 * boot (node.json "akHandle", a persistent RSA-2048 restricted signing key,
 * as an Azure CVM's 0x81000003: the local backend's pre-provisioned vTPM
 * pool, docs/nodes.md), else one created now. */
static int native_ak(agent *a) {
        const json_t *h = json_object_get(a->cfg, "akHandle");
        if (!h)
                return cp_vtpm_create_ak(a->tpm, a->ak_n, &a->ak_e);
        json_int_t v = json_integer_value(h);
        if (!json_is_integer(h) || v < 0x81000000 || v > 0x817FFFFF)
                return CP_ERROR(CP_EFORMAT, "akHandle must be a persistent handle 0x81000000..0x817FFFFF");
        uint8_t n[512];
        size_t nl = 0;
        int r = cp_vtpm_load_persistent_ak(a->tpm, (uint32_t) v, n, &nl, &a->ak_e);
        if (r < 0)
                return r;
        if (nl != sizeof a->ak_n)
                return CP_ERROR(CP_EFORMAT, "the vTPM's AK at 0x%08x has a %zu-byte modulus, not RSA-2048", (unsigned) v,
                                nl);
        memcpy(a->ak_n, n, nl);
        return 0;
}

static void *tee_key_thread(void *ud) {
        (void) ud;
        EVP_PKEY *k = NULL;
        if (cp_rsa_generate(2048, &k) < 0)
                cp_error_clear(); /* keys() names the failure */
        return k;
}

/* The vTPM's AK and the TEE key: the TEE key is generated while the vTPM
 * makes or loads the AK (issue 19: two key generations of a node in
 * parallel, as a VM's vCPU and its vTPM would). */
static int keys(agent *a) {
        int r;
        pthread_t tk;
        bool tk_started = pthread_create(&tk, NULL, tee_key_thread, NULL) == 0;
        if ((r = cp_vtpm_open(cfg_str(a, "tcti"), &a->tpm)) >= 0 && !a->azure) {
                da_recover(a);
                r = native_ak(a);
        }
        void *tee = NULL;
        if (tk_started)
                pthread_join(tk, &tee);
        a->tee = tk_started ? tee : tee_key_thread(NULL);
        if (r < 0)
                return fail(a, "vTPM", r);
        mark(a, "vtpm");
        if (!a->tee)
                return fail(a, "TEE key", CP_ERROR(CP_ECRYPTO, "RSA-2048 generation failed"));
        mark(a, "teeKey");
        return 0;
}

static int run(agent *a) {
        char f[4200], why[700];
        int r;
        set_status(a, "Attesting", NULL);
        if ((r = keys(a)) < 0)
                return r;
        if ((r = attest(a)) < 0)
                return fail(a, "attestation", r);
        mark(a, "token");

        set_status(a, "Unlocking", NULL);
        cp_diskkey_provider dk;
        const json_t *dkc = json_object_get(a->cfg, "diskKey");
        cp_diskkey_kbs_config kc = {
                .url = json_string_value(json_object_get(dkc, "url")),
                .disk_id = json_string_value(json_object_get(dkc, "diskId")),
                .release_token = json_string_value(json_object_get(dkc, "releaseToken")),
                .tee = a->tee,
                /* the broker away or not ready (a restart): ~20 s, as a VM's boot would wait */
                .tries = 20,
                .stop = &got_term,
        };
        const char *prov = json_string_value(json_object_get(dkc, "provider"));
        if (dkc && (!prov || strcmp(prov, "kbs") != 0 || !kc.url || !kc.disk_id || !kc.release_token))
                return fail(a, "disk key", CP_ERROR(CP_EFORMAT, "diskKey needs provider \"kbs\", url, diskId, releaseToken"));
        if (dkc)
                cp_diskkey_kbs(&kc, &dk);
        else {
                path_of(a, "diskKeyStandin", f, sizeof f);
                cp_diskkey_standin(f, &dk); /* STAND-IN: a local backend without a key broker */
        }
        uint8_t key[CP_DISK_KEY_LEN];
        if ((r = dk.release(dk.userdata, a->token, a->name, key)) < 0)
                return fail(a, "disk key", r);
        path_of(a, "disk", f, sizeof f);
        r = dkc ? cp_nodedisk_open(f, kc.disk_id, key) : cp_disk_open(f, a->name, key);
        cp_wipe(key, sizeof key);
        if (r < 0)
                return fail(a, "disk", r);

        if ((r = register_node(a)) < 0)
                return r;
        char ca[4200];
        bool kubelet = false; /* a client certificate: the Lease and Node status over mTLS */
        if (a->kube && dkc) {
                /* the kubelet TLS bootstrap: a failure leaves the node Ready, without a client certificate */
                if (cfg_str(a, "controlplaneCaFile"))
                        path_of(a, "controlplaneCaFile", ca, sizeof ca);
                r = cp_kubelet_bootstrap(a->kube, &kc, a->token, a->name, cfg_str(a, "controlplaneCaFile") ? ca : NULL,
                                         a->dir);
                if (r < 0)
                        fprintf(stderr, "confpool-agent %s: kubelet bootstrap: %s\n", a->name, cp_error_message());
                else
                        mark(a, "kubeletCert");
                kubelet = r >= 0;
                cp_error_clear();
        }

        unsigned hb = (unsigned) json_integer_value(json_object_get(a->cfg, "heartbeatMs"));
        int64_t reattest_s = json_integer_value(json_object_get(a->cfg, "reattestS"));
        time_t last = time(NULL);
        bool retry = false;
        while (!got_term) {
                sleep_ms(hb ? hb : 5000);
                if (got_term)
                        break;
                if (got_reattest || retry || (reattest_s > 0 && time(NULL) - last >= reattest_s)) {
                        got_reattest = 0;
                        last = time(NULL);
                        r = attest(a);
                        retry = r < 0 && transient(r);
                        if (retry) {
                                /* the host, the attestation service or the network is away (a
                                 * restart): the current token stays, the next period tries again */
                                fprintf(stderr, "confpool-agent %s: re-attestation deferred: %s\n", a->name,
                                        cp_error_message());
                                cp_error_clear();
                        } else if (r < 0) {
                                char msg[700];
                                snprintf(msg, sizeof msg, "re-attestation: %s", cp_error_message());
                                set_status(a, "Quarantined", msg);
                                return r;
                        }
                }
                r = control_plane(a, "heartbeat", why, sizeof why);
                if (r == 0) {
                        set_status(a, "Quarantined", why);
                        return CP_ERROR(CP_EPOLICY, "%s", why);
                }
                if (r < 0) {
                        fprintf(stderr, "confpool-agent %s: heartbeat: %s\n", a->name, cp_error_message());
                        cp_error_clear();
                }
                if (kubelet)
                        kubelet_renew(a, ca);
        }
        return 0;
}

/* A node of a non-confidential size (issue 16): the vTPM as Trusted Launch
 * has it, no TEE evidence and no TEE key, so nothing to attest and no key
 * to release: the platform's disk key (the stand-in beside the disk), then
 * register and heartbeat with the backend's bootstrap token.  Never claims
 * to be confidential. */
static int run_no_tee(agent *a) {
        char f[4200], why[700];
        _cleanup_free_ uint8_t *tok = NULL;
        size_t tl = 0;
        int r;
        set_status(a, "Attesting", NULL);
        if ((r = cp_vtpm_open(cfg_str(a, "tcti"), &a->tpm)) < 0)
                return fail(a, "vTPM", r);
        da_recover(a);
        mark(a, "vtpm");
        path_of(a, "bootstrapToken", f, sizeof f);
        if ((r = cp_read_file(f, 128, &tok, &tl)) < 0 || tl < 8 || memchr(tok, 0, tl))
                return fail(a, "bootstrap token", r < 0 ? r : CP_ERROR(CP_EFORMAT, "%s: not a token", f));
        a->token = strndup((const char *) tok, tl);
        cp_wipe(tok, tl);
        if (!a->token)
                return fail(a, "bootstrap token", cp_error_oom());
        set_status(a, "Unlocking", NULL);
        cp_diskkey_provider dk;
        uint8_t key[CP_DISK_KEY_LEN];
        path_of(a, "diskKeyStandin", f, sizeof f);
        cp_diskkey_standin(f, &dk); /* the platform's key: no TEE to release one to */
        if ((r = dk.release(dk.userdata, a->token, a->name, key)) < 0)
                return fail(a, "disk key", r);
        path_of(a, "disk", f, sizeof f);
        r = cp_disk_open(f, a->name, key);
        cp_wipe(key, sizeof key);
        if (r < 0)
                return fail(a, "disk", r);
        if ((r = register_node(a)) < 0)
                return r;
        unsigned hb = (unsigned) json_integer_value(json_object_get(a->cfg, "heartbeatMs"));
        while (!got_term) {
                sleep_ms(hb ? hb : 5000);
                got_reattest = 0; /* nothing to re-attest */
                if (got_term)
                        break;
                r = control_plane(a, "heartbeat", why, sizeof why);
                if (r == 0) {
                        set_status(a, "Quarantined", why);
                        return CP_ERROR(CP_EPOLICY, "%s", why);
                }
                if (r < 0) {
                        fprintf(stderr, "confpool-agent %s: heartbeat: %s\n", a->name, cp_error_message());
                        cp_error_clear();
                }
        }
        return 0;
}

int cp_agent_run(const char *node_dir) {
        agent a = {.times = json_object()};
        mark(&a, "start");
        snprintf(a.dir, sizeof a.dir, "%s", node_dir);
        struct sigaction sa = {.sa_handler = on_signal};
        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGUSR1, &sa, NULL);
        char f[4200];
        snprintf(f, sizeof f, "%s/node.json", node_dir);
        json_error_t je;
        a.cfg = json_load_file(f, JSON_REJECT_DUPLICATES, &je);
        if (!a.cfg) {
                json_decref(a.times);
                return CP_ERROR(CP_EFORMAT, "%s: %s", f, je.text);
        }
        a.name = cfg_str(&a, "name");
        a.pool = cfg_str(&a, "pool");
        a.attestd = cfg_str(&a, "attestd");
        a.cp = cfg_str(&a, "controlplane");
        const char *evm = cfg_str(&a, "evidence");
        a.azure = evm && strcmp(evm, "azure-hcl") == 0;
        const char *tee = cfg_str(&a, "tee");
        a.tdx = tee && strcmp(tee, "tdx") == 0;
        a.no_tee = tee && strcmp(tee, "none") == 0;
        int r;
        if (!a.name || !a.pool || !a.attestd || !a.cp || !cfg_str(&a, "tcti"))
                r = CP_ERROR(CP_EFORMAT, "%s: name, pool, attestd, controlplane and tcti are required", f);
        else if (evm && !a.azure && strcmp(evm, "native") != 0)
                r = CP_ERROR(CP_EFORMAT, "%s: evidence must be \"native\" or \"azure-hcl\"", f);
        else if (tee && !a.tdx && !a.no_tee && strcmp(tee, "sev-snp") != 0)
                r = CP_ERROR(CP_EFORMAT, "%s: tee must be \"sev-snp\", \"tdx\" or \"none\"", f);
        else if (a.no_tee && (a.azure || json_object_get(a.cfg, "diskKey")))
                r = CP_ERROR(CP_EFORMAT, "%s: tee \"none\" has no TEE key: no azure-hcl evidence, no diskKey", f);
        else if (a.no_tee)
                r = run_no_tee(&a);
        else
                r = run(&a);
        vtpm_release(&a);
        EVP_PKEY_free(a.tee);
        if (a.token) {
                cp_wipe(a.token, strlen(a.token));
                free(a.token);
        }
        json_decref(a.cfg);
        json_decref(a.times);
        json_decref(a.kube);
        return r;
}
