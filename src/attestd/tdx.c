/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Intel TDX evidence for the attestation service (issue 16): DCAP quotes
 * verified by cp_tdx_verifier against the configured root (Intel's pinned
 * one, or an emulated root for a software TDX fleet), with collateral
 * fetched from a PCS at Intel's API v4 URL shapes and cached per FMSPC for
 * tdx_collateral_max_age_s; the runtime-data binding (REPORTDATA[0:32] =
 * SHA-256(runtime data), the rest zero, as MAA's TdxVm); for confpool's
 * node flow a vTPM quote by the runtime data's HCLAkPub over a challenge
 * nonce; and MAA's TDX claims (tdx_*, attester_tcb_status, ...).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "attestd/attestd-internal.h"
#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/limits.h"
#include "basic/secure.h"
#include "confpool/azure.h"
#include "confpool/tdx_verify.h"
#include "confpool/tpm_quote.h"
#include "service/httpc.h"

#define TDX_COL_SLOTS 8
#define TDX_MAX_COLLATERAL (1u << 20)

/* The collateral of one FMSPC as fetched (immutable once built; shared by
 * reference between the requests verifying with it). */
typedef struct tdx_col {
        atomic_uint ref;
        uint8_t fmspc[6];
        int64_t fetched_at;
        cp_httpc_response tcb_info, qe_identity, pck_crl, root_ca_crl;
        char *tcb_signing_chain;
} tdx_col;

#define TDX_FMSPC_SLOTS 16

struct attestd_tdx {
        cp_tdx_verifier *verifier;
        /* FMSPC of PCK chains seen (keyed by the chain's bytes: parsing the
         * PEM cost a third of a warm attestation); only selects which
         * collateral to verify with, which the verifier then checks */
        pthread_mutex_t fmspc_lock;
        struct fmspc_slot {
                uint8_t *chain;
                size_t len;
                uint8_t fmspc[6];
        } fmspc[TDX_FMSPC_SLOTS];
        size_t fmspc_next;
        uint8_t *root;        /* copies of the configuration's (the caller's may go) */
        size_t root_len;
        char *pcs_url;
        pthread_mutex_t lock; /* the slots; held while fetching (one fetch at a time) */
        tdx_col *slots[TDX_COL_SLOTS];
        size_t next;
};

static void col_unref(tdx_col *c) {
        if (!c || atomic_fetch_sub(&c->ref, 1) != 1)
                return;
        cp_httpc_response_clear(&c->tcb_info);
        cp_httpc_response_clear(&c->qe_identity);
        cp_httpc_response_clear(&c->pck_crl);
        cp_httpc_response_clear(&c->root_ca_crl);
        free(c->tcb_signing_chain);
        free(c);
}

static void col_unrefp(tdx_col **p) {
        col_unref(*p);
}

int attestd_tdx_init(cp_attestd *s) {
        struct attestd_tdx *t = calloc(1, sizeof(*t));
        if (!t)
                return cp_error_oom();
        int r = cp_tdx_verifier_new(&t->verifier);
        if (r < 0) {
                free(t);
                return r;
        }
        pthread_mutex_init(&t->lock, NULL);
        pthread_mutex_init(&t->fmspc_lock, NULL);
        s->tdx = t;
        if (s->cfg.tdx_trust_root) {
                if (!(t->root = malloc(s->cfg.tdx_trust_root_len + 1)))
                        return cp_error_oom();
                memcpy(t->root, s->cfg.tdx_trust_root, s->cfg.tdx_trust_root_len);
                t->root[s->cfg.tdx_trust_root_len] = 0;
                t->root_len = s->cfg.tdx_trust_root_len;
        }
        if (s->cfg.tdx_pcs_url && !(t->pcs_url = strdup(s->cfg.tdx_pcs_url)))
                return cp_error_oom();
        s->cfg.tdx_trust_root = NULL;
        s->cfg.tdx_pcs_url = NULL;
        return 0;
}

void attestd_tdx_free(cp_attestd *s) {
        struct attestd_tdx *t = s->tdx;
        if (!t)
                return;
        for (size_t i = 0; i < TDX_COL_SLOTS; i++)
                col_unref(t->slots[i]);
        cp_tdx_verifier_free(t->verifier);
        for (size_t i = 0; i < TDX_FMSPC_SLOTS; i++)
                free(t->fmspc[i].chain);
        pthread_mutex_destroy(&t->fmspc_lock);
        free(t->root);
        free(t->pcs_url);
        pthread_mutex_destroy(&t->lock);
        free(t);
        s->tdx = NULL;
}

static char *url_decode(const char *in) {
        size_t n = strlen(in);
        char *o = malloc(n + 1), *w = o;
        for (size_t i = 0; o && i < n; i++) {
                unsigned v;
                if (in[i] == '%' && i + 2 < n && sscanf(in + i + 1, "%2x", &v) == 1) {
                        *w++ = (char) v;
                        i += 2;
                } else
                        *w++ = in[i];
        }
        if (o)
                *w = '\0';
        return o;
}

static int pcs_get(const cp_attestd *s, const char *rel, cp_httpc_response *ret) {
        char url[1024];
        cp_httpc_options o = { .timeout_ms = 10000, .max_response = TDX_MAX_COLLATERAL };
        snprintf(url, sizeof(url), "%s%s", s->tdx->pcs_url, rel);
        int r = cp_httpc_request(&o, "GET", url, NULL, NULL, 0, ret);
        if (r < 0)
                return cp_error_wrap("TDX collateral from the PCS");
        if (ret->status != 200) {
                long st = ret->status;
                cp_httpc_response_clear(ret);
                return CP_ERROR(CP_ENETWORK, "TDX collateral: the PCS answered HTTP %ld to %.80s", st, rel);
        }
        return 0;
}

static int col_fetch(cp_attestd *s, const uint8_t fmspc[6], tdx_col **ret) {
        char hex[13], rel[128];
        tdx_col *c = calloc(1, sizeof(*c));
        if (!c)
                return cp_error_oom();
        atomic_init(&c->ref, 1);
        memcpy(c->fmspc, fmspc, 6);
        c->fetched_at = attestd_now(s);
        cp_hex_encode(fmspc, 6, hex);
        hex[12] = '\0';
        snprintf(rel, sizeof(rel), "/tdx/certification/v4/tcb?fmspc=%s", hex);
        int r;
        if ((r = pcs_get(s, rel, &c->tcb_info)) < 0 ||
            (r = pcs_get(s, "/tdx/certification/v4/qe/identity", &c->qe_identity)) < 0 ||
            (r = pcs_get(s, "/sgx/certification/v4/pckcrl?ca=platform&encoding=der", &c->pck_crl)) < 0 ||
            (r = pcs_get(s, "/sgx/certification/v4/rootcacrl", &c->root_ca_crl)) < 0) {
                col_unref(c);
                return r;
        }
        if (!c->tcb_info.issuer_chain || !(c->tcb_signing_chain = url_decode(c->tcb_info.issuer_chain))) {
                col_unref(c);
                return CP_ERROR(CP_ENOTFOUND, "TDX collateral: the PCS sent no TCB-Info-Issuer-Chain");
        }
        *ret = c;
        return 0;
}

/* The cached collateral of fmspc, fetched when missing or older than the
 * maximum age (fresh: always fetched, after a verification that found the
 * cached collateral expired). */
static int col_get(cp_attestd *s, const uint8_t fmspc[6], bool fresh, tdx_col **ret) {
        struct attestd_tdx *t = s->tdx;
        int64_t now = attestd_now(s), max_age = s->cfg.tdx_collateral_max_age_s ? s->cfg.tdx_collateral_max_age_s : 60;
        int r = 0;
        pthread_mutex_lock(&t->lock);
        size_t i = 0;
        for (; i < TDX_COL_SLOTS; i++)
                if (t->slots[i] && memcmp(t->slots[i]->fmspc, fmspc, 6) == 0)
                        break;
        if (i < TDX_COL_SLOTS && !fresh && now - t->slots[i]->fetched_at < max_age) {
                atomic_fetch_add(&t->slots[i]->ref, 1);
                *ret = t->slots[i];
        } else {
                tdx_col *c = NULL;
                if ((r = col_fetch(s, fmspc, &c)) >= 0) {
                        if (i == TDX_COL_SLOTS)
                                i = t->next++ % TDX_COL_SLOTS;
                        col_unref(t->slots[i]);
                        t->slots[i] = c;
                        atomic_fetch_add(&c->ref, 1);
                        *ret = c;
                }
        }
        pthread_mutex_unlock(&t->lock);
        return r;
}

/* FMSPC from the PCK certificate (the first of the quote's chain): which
 * collateral to fetch.  Nothing is trusted here: cp_tdx_verify checks it. */
static bool fmspc_cached(struct attestd_tdx *t, const uint8_t *chain, size_t len, uint8_t ret[6]) {
        bool hit = false;
        pthread_mutex_lock(&t->fmspc_lock);
        for (size_t i = 0; i < TDX_FMSPC_SLOTS && !hit; i++)
                if (t->fmspc[i].len == len && memcmp(t->fmspc[i].chain, chain, len) == 0) {
                        memcpy(ret, t->fmspc[i].fmspc, 6);
                        hit = true;
                }
        pthread_mutex_unlock(&t->fmspc_lock);
        return hit;
}

static void fmspc_put(struct attestd_tdx *t, const uint8_t *chain, size_t len, const uint8_t fmspc[6]) {
        uint8_t *c = malloc(len);
        if (!c)
                return;
        memcpy(c, chain, len);
        pthread_mutex_lock(&t->fmspc_lock);
        struct fmspc_slot *sl = &t->fmspc[t->fmspc_next++ % TDX_FMSPC_SLOTS];
        free(sl->chain);
        sl->chain = c;
        sl->len = len;
        memcpy(sl->fmspc, fmspc, 6);
        pthread_mutex_unlock(&t->fmspc_lock);
}

static int quote_fmspc(struct attestd_tdx *t, const uint8_t *quote, size_t len, uint8_t ret[6]) {
        cp_tdx_quote q;
        int r = cp_tdx_quote_parse(quote, len, 0, &q);
        if (r < 0)
                return cp_error_wrap("TDX quote");
        if (!q.cert.pck_chain || q.cert.pck_chain_len == 0 || q.cert.pck_chain_len > INT32_MAX)
                return CP_ERROR(CP_ENOTFOUND, "TDX quote: no PCK certificate chain in its certification data");
        if (fmspc_cached(t, q.cert.pck_chain, q.cert.pck_chain_len, ret))
                return 0;
        BIO *b = BIO_new_mem_buf(q.cert.pck_chain, (int) q.cert.pck_chain_len);
        X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
        ASN1_OBJECT *oid = OBJ_txt2obj("1.2.840.113741.1.13.1", 1);
        int loc = x && oid ? X509_get_ext_by_OBJ(x, oid, -1) : -1;
        ASN1_OBJECT_free(oid);
        X509_EXTENSION *e = loc >= 0 ? X509_get_ext(x, loc) : NULL;
        const ASN1_OCTET_STRING *v = e ? X509_EXTENSION_get_data(e) : NULL;
        cp_tdx_pck_ext ext;
        r = v ? cp_tdx_pck_ext_parse(ASN1_STRING_get0_data(v), (size_t) ASN1_STRING_length(v), &ext)
              : CP_ERROR(CP_ECERT, "TDX quote: the PCK certificate (PEM) has no SGX extension");
        X509_free(x);
        if (r < 0)
                return r;
        memcpy(ret, ext.fmspc, 6);
        fmspc_put(t, q.cert.pck_chain, q.cert.pck_chain_len, ext.fmspc);
        return 0;
}

static int verify_quote(cp_attestd *s, const uint8_t *quote, size_t len, cp_tdx_verify_result *res, bool *ret_warm) {
        uint8_t fmspc[6];
        int r;
        if (!s->tdx->pcs_url)
                return CP_ERROR(CP_EUNSUPPORTED, "TDX evidence: this service has no PCS configured (--tdx-pcs-url)");
        if ((r = quote_fmspc(s->tdx, quote, len, fmspc)) < 0)
                return r;
        for (int attempt = 0; attempt < 2; attempt++) {
                _cleanup_(col_unrefp) tdx_col *c = NULL;
                if ((r = col_get(s, fmspc, attempt > 0, &c)) < 0)
                        return r;
                cp_tdx_collateral col = {
                        .tcb_info = c->tcb_info.body, .tcb_info_len = c->tcb_info.body_len,
                        .qe_identity = c->qe_identity.body, .qe_identity_len = c->qe_identity.body_len,
                        .tcb_signing_chain = (const uint8_t *) c->tcb_signing_chain,
                        .tcb_signing_chain_len = strlen(c->tcb_signing_chain),
                        .pck_crl = c->pck_crl.body, .pck_crl_len = c->pck_crl.body_len,
                        .root_ca_crl = c->root_ca_crl.body, .root_ca_crl_len = c->root_ca_crl.body_len,
                };
                cp_tdx_verify_options o = CP_TDX_VERIFY_OPTIONS_INIT;
                o.now = attestd_now(s);
                o.trust_root = s->tdx->root;
                o.trust_root_len = s->tdx->root_len;
                uint64_t hits0 = 0, hits1 = 0, misses;
                cp_tdx_verifier_stats(s->tdx->verifier, &hits0, &misses);
                r = cp_tdx_verifier_verify(s->tdx->verifier, quote, len, &col, &o, res);
                cp_tdx_verifier_stats(s->tdx->verifier, &hits1, &misses);
                *ret_warm = hits1 > hits0;
                /* collateral that expired in the cache (or a CRL now listing the PCK): fetch once more */
                if (r != CP_EEXPIRED && r != CP_EREVOKED)
                        break;
                cp_error_clear();
        }
        if (r < 0)
                return cp_error_wrap("TDX quote");
        /* a verified quote of any status gets a token (MAA's rule); Revoked never verifies */
        return 0;
}

static int set_hex(json_t *o, const char *k, const uint8_t *p, size_t n) {
        char hex[2 * 64 + 1];
        cp_hex_encode(p, n, hex);
        hex[2 * n] = '\0';
        return json_object_set_new(o, k, json_string(hex));
}

static int set_u64(json_t *o, const char *k, uint64_t v) {
        uint8_t le[8];
        for (int i = 0; i < 8; i++)
                le[i] = (uint8_t) (v >> (8 * i));
        return set_hex(o, k, le, 8);
}

/* MAA's TDX claims (Azure Attestation EAT profile for TDX) of a verified quote. */
static int tdx_claims(const cp_tdx_verify_result *res, json_t *c) {
        const cp_tdx_body *b = &res->quote.body;
        static const char *const rtmr[4] = { "tdx_rtmr0", "tdx_rtmr1", "tdx_rtmr2", "tdx_rtmr3" };
        json_t *adv = json_array();
        int r = adv ? 0 : -1;
        for (size_t i = 0; r == 0 && i < res->n_advisories; i++)
                r = json_array_append_new(adv, json_string(res->advisories[i]));
        r |= set_hex(c, "tdx_mrtd", b->mrtd, 48) | set_hex(c, "tdx_mrseam", b->mrseam, 48) |
             set_hex(c, "tdx_mrsignerseam", b->mrsignerseam, 48) | set_hex(c, "tdx_mrconfigid", b->mrconfigid, 48) |
             set_hex(c, "tdx_mrowner", b->mrowner, 48) | set_hex(c, "tdx_mrownerconfig", b->mrownerconfig, 48) |
             set_hex(c, "tdx_report_data", b->report_data, 64) | set_hex(c, "tdx_tee_tcb_svn", b->tee_tcb_svn, 16) |
             set_u64(c, "tdx_seam_attributes", b->seam_attributes) | set_u64(c, "tdx_td_attributes", b->td_attributes) |
             set_u64(c, "tdx_xfam", b->xfam);
        for (int i = 0; i < 4; i++)
                r |= set_hex(c, rtmr[i], b->rtmr[i], 48);
        bool debug = b->td_attributes & 1u;
        char fmspc[13];
        cp_hex_encode(res->pck.fmspc, 6, fmspc);
        fmspc[12] = '\0';
        r |= json_object_set_new(c, "tdx_td_attributes_debug", json_boolean(debug)) |
             json_object_set_new(c, "tdx_td_attributes_septve_disable", json_boolean(b->td_attributes & (1ull << 28))) |
             json_object_set_new(c, "tdx_td_attributes_protection_keys", json_boolean(b->td_attributes & (1ull << 30))) |
             json_object_set_new(c, "tdx_td_attributes_key_locker", json_boolean(b->td_attributes & (1ull << 31))) |
             json_object_set_new(c, "tdx_td_attributes_perfmon", json_boolean(b->td_attributes & (1ull << 63))) |
             json_object_set_new(c, "dbgstat", json_string(debug ? "enabled" : "disabled-since-boot")) |
             json_object_set_new(c, "attester_tcb_status", json_string(cp_tdx_tcb_status_name(res->tcb_status))) |
             json_object_set_new(c, "attester_tcb_date", json_string(res->platform_tcb_date)) |
             json_object_set_new(c, "attester_advisory_ids", adv) |
             json_object_set_new(c, "pce_svn", json_integer(res->pck.pcesvn)) |
             json_object_set_new(c, "tdx_tcb_evaluation_data_number", json_integer(res->tcb_evaluation_data_number)) |
             json_object_set_new(c, "x-confpool-tdx-fmspc", json_string(fmspc)) |
             json_object_set_new(c, "x-confpool-tdx-revocation-checked", json_boolean(res->revocation_checked)) |
             json_object_set_new(c, "eat_profile", json_string("https://aka.ms/maa-eat-profile-tdxvm")) |
             json_object_set_new(c, "intuse", json_string("generic")) |
             json_object_set_new(c, "x-ms-attestation-type", json_string("tdxvm"));
        return r ? cp_error_oom() : 0;
}

/* The vTPM quote by the runtime data's HCLAkPub over the nonce, its PCRs
 * and event log (the SNP native flow's steps 1-3b). */
static int check_tpm(const vtpm_input *in, const cp_azure_runtime_data *rd, json_t *claims) {
        cp_tpm_quote q;
        cp_tpm_signature sig;
        cp_tpm_pcr_bank bank = { .hash_alg = CP_TPM_ALG_SHA256 };
        int r;
        if ((r = cp_tpm_quote_parse(in->quote, in->quote_len, &q)) < 0)
                return cp_error_wrap("TPM quote");
        r = in->signature_marshalled ? cp_tpm_signature_parse(in->signature, in->signature_len, &sig)
                                     : cp_tpm_signature_from_raw(in->signature, in->signature_len, CP_TPM_ALG_RSASSA,
                                                                 CP_TPM_ALG_SHA256, &sig);
        if (r < 0)
                return cp_error_wrap("TPM quote signature");
        for (unsigned i = 0; i < 24; i++)
                bank.values[i] = in->pcrs[i];
        if ((r = cp_tpm_quote_verify(&q, &sig, cp_azure_runtime_data_ak(rd), in->nonce, in->nonce_len, &bank, 1)) < 0)
                return cp_error_wrap("TPM quote");
        json_t *ev = NULL, *pcrs = json_object(), *idx = json_array();
        if (!pcrs || !idx || json_object_set_new(claims, "x-confpool-tpm-pcrs-sha256", pcrs) < 0 ||
            json_object_set_new(claims, "x-ms-azurevm-attested-pcrs", idx) < 0)
                return cp_error_oom();
        for (unsigned i = 0; i < 24; i++) {
                if (!cp_tpm_pcr_selected(&q.selections[0], i) || !in->pcrs[i])
                        continue;
                char name[4], hex[65];
                snprintf(name, sizeof(name), "%u", i);
                cp_hex_encode(in->pcrs[i], 32, hex);
                hex[64] = '\0';
                if (json_object_set_new(pcrs, name, json_string(hex)) < 0 || json_array_append_new(idx, json_integer(i)) < 0)
                        return cp_error_oom();
        }
        if (!in->eventlog)
                return json_object_set_new(claims, "x-confpool-eventlog-replayed", json_false()) < 0 ? cp_error_oom() : 0;
        if ((r = attestd_check_eventlog(in, &q, &bank, &ev)) < 0)
                return r;
        if (json_object_set_new(claims, "x-confpool-eventlog", ev) < 0 ||
            json_object_set_new(claims, "x-confpool-eventlog-replayed", json_true()) < 0)
                return cp_error_oom();
        return 0;
}

static void rd_freep(cp_azure_runtime_data **p) {
        cp_azure_runtime_data_free(*p);
}

int attestd_verify_tdx(cp_attestd *s, const tdx_input *in, json_t *claims, bool *ret_warm) {
        _cleanup_(rd_freep) cp_azure_runtime_data *rd = NULL;
        cp_tdx_verify_result res;
        int r;
        if (in->has_tpm && !in->runtime_data)
                return CP_ERROR(CP_EFORMAT, "runtimeData is required with a tpmQuote (it names the vTPM key)");
        if (in->has_tpm) {
                /* the vTPM first: cheap refusals before the quote's chain */
                if ((r = cp_azure_runtime_data_parse(in->runtime_data, in->runtime_data_len, &rd)) < 0)
                        return cp_error_wrap("runtime data");
                if ((r = check_tpm(&in->tpm, rd, claims)) < 0)
                        return r;
        }
        if ((r = verify_quote(s, in->quote, in->quote_len, &res, ret_warm)) < 0)
                return r;
        if (in->runtime_data &&
            (r = cp_azure_check_binding(res.quote.body.report_data, CP_HCL_HASH_SHA256, in->runtime_data,
                                        in->runtime_data_len)) < 0)
                return cp_error_wrap("runtimeData: REPORTDATA does not bind it");
        return tdx_claims(&res, claims);
}

/* MAA's AzureGuest shape: the TEE's claims (tdxvm) under x-ms-isolation-tee
 * with the paravisor's runtime data as its x-ms-runtime; the VM's own
 * (x-ms-azurevm-*) at the top. */
static int azure_guest_claims(const cp_tdx_verify_result *res, const cp_hcl_report *h, json_t *claims) {
        json_t *tee = json_object(), *rt = json_loadb((const char *) h->runtime_data, h->runtime_data_len,
                                                       JSON_REJECT_DUPLICATES, NULL);
        int r = tee && rt ? tdx_claims(res, tee) : cp_error_oom();
        if (r < 0) {
                json_decref(tee);
                json_decref(rt);
                return r;
        }
        const char *vmid = json_string_value(json_object_get(json_object_get(rt, "vm-configuration"), "vmUniqueId"));
        if (json_object_set_new(tee, "x-ms-compliance-status", json_string("azure-compliant-cvm")) < 0 ||
            (vmid && json_object_set_new(claims, "x-ms-azurevm-vmid", json_string(vmid)) < 0) ||
            json_object_set_new(tee, "x-ms-runtime", rt) < 0 || json_object_set_new(claims, "x-ms-isolation-tee", tee) < 0 ||
            json_object_set_new(claims, "x-ms-attestation-type", json_string("azurevm")) < 0 ||
            json_object_set_new(claims, "x-ms-azurevm-attestation-protocol-ver", json_string("2.0")) < 0 ||
            json_object_set_new(claims, "x-ms-azurevm-is-windows", json_false()) < 0)
                return cp_error_oom();
        return 0;
}

int attestd_verify_azure_tdx(cp_attestd *s, const azure_tdx_input *in, json_t *claims, bool *ret_warm) {
        _cleanup_(rd_freep) cp_azure_runtime_data *rd = NULL;
        cp_tdx_verify_result res;
        cp_hcl_report h;
        int r;
        /* the cheap refusals first: the HCL report, its binding, the vTPM quote */
        if ((r = cp_tdx_azure_hcl_check(in->hcl, in->hcl_len, NULL, &h, NULL)) < 0)
                return cp_error_wrap("HCL report: ");
        if ((r = cp_azure_runtime_data_parse(h.runtime_data, h.runtime_data_len, &rd)) < 0)
                return cp_error_wrap("HCL runtime data: ");
        if ((r = check_tpm(&in->tpm, rd, claims)) < 0)
                return r;
        if ((r = verify_quote(s, in->quote, in->quote_len, &res, ret_warm)) < 0)
                return r;
        /* the TDREPORT is only MAC-protected: the verified quote is what vouches for it */
        if ((r = cp_tdx_azure_hcl_check(in->hcl, in->hcl_len, &res.quote.body, NULL, NULL)) < 0)
                return cp_error_wrap("HCL report's TDREPORT against the TD quote: ");
        return azure_guest_claims(&res, &h, claims);
}
