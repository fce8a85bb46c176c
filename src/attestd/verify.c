/* SPDX-License-Identifier: Apache-2.0 */
/* Evidence verification for the attestation service: SEV-SNP reports (with
 * a verified-report cache), Azure-style vTPM quotes bound to them, and the
 * MAA claims derived from them. */

#include <string.h>


#include "attestd/attestd-internal.h"
#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/limits.h"
#include "basic/secure.h"
#include "confpool/azure.h"
#include "confpool/tcg_eventlog.h"
#include "confpool/tpm_quote.h"

static size_t cache_index(const cp_attestd *s, const uint8_t hash[48]) {
        uint64_t h;
        memcpy(&h, hash, sizeof(h));
        return (size_t) (h % s->cache_size);
}

static bool cache_get(cp_attestd *s, const uint8_t hash[48], int64_t now, cp_snp_verify_result *ret) {
        bool hit = false;
        if (s->cfg.no_report_cache)
                return false;
        /* a report verified before the last CRL replacement is a miss */
        uint64_t gen = atomic_load_explicit(&s->crl_gen, memory_order_acquire);
        pthread_mutex_lock(&s->cache_lock);
        report_slot *e = &s->cache[cache_index(s, hash)];
        if (e->used && e->crl_gen == gen && cp_ct_eq(e->hash, hash, 48) && now >= e->not_before &&
            now <= e->not_after) {
                *ret = e->result;
                ret->cache_hit = true;
                hit = true;
        }
        pthread_mutex_unlock(&s->cache_lock);
        return hit;
}

void attestd_rt_unref(rt_entry *e) {
        if (!e || atomic_fetch_sub(&e->ref, 1) != 1)
                return;
        cp_azure_runtime_data_free(e->rd);
        json_decref(e->json);
        attestd_tmpl_unref(atomic_load(&e->tmpl));
        attestd_tmpl_unref(e->pcr_tmpl);
        pthread_mutex_destroy(&e->pcr_lock);
        free(e);
}

/* The runtime-data state attached to a cached report, if its digest
 * matches (a new reference). */
static rt_entry *rt_get(cp_attestd *s, const uint8_t hash[48], const uint8_t digest[32]) {
        rt_entry *rt = NULL;
        if (s->cfg.no_report_cache)
                return NULL;
        pthread_mutex_lock(&s->cache_lock);
        report_slot *e = &s->cache[cache_index(s, hash)];
        if (e->used && e->rt && cp_ct_eq(e->hash, hash, 48) && cp_ct_eq(e->rt->digest, digest, 32)) {
                rt = e->rt;
                atomic_fetch_add(&rt->ref, 1);
        }
        pthread_mutex_unlock(&s->cache_lock);
        return rt;
}

/* Attach rt (a reference is taken) to the cached report, if still there. */
static void rt_attach(cp_attestd *s, const uint8_t hash[48], rt_entry *rt) {
        pthread_mutex_lock(&s->cache_lock);
        report_slot *e = &s->cache[cache_index(s, hash)];
        if (e->used && cp_ct_eq(e->hash, hash, 48) && e->rt != rt) {
                attestd_rt_unref(e->rt);
                atomic_fetch_add(&rt->ref, 1);
                e->rt = rt;
        }
        pthread_mutex_unlock(&s->cache_lock);
}

static void cache_put(cp_attestd *s, const uint8_t hash[48], int64_t nb, int64_t na, uint64_t crl_gen,
                      const cp_snp_verify_result *r) {
        pthread_mutex_lock(&s->cache_lock);
        report_slot *e = &s->cache[cache_index(s, hash)]; /* direct-mapped: a collision replaces */
        if (!e->used || !cp_ct_eq(e->hash, hash, 48)) {
                attestd_rt_unref(e->rt);
                e->rt = NULL;
        }
        e->used = true;
        memcpy(e->hash, hash, 48);
        e->not_before = nb;
        e->not_after = na;
        e->crl_gen = crl_gen;
        e->result = *r;
        pthread_mutex_unlock(&s->cache_lock);
}

/* What the verifier's callbacks need and leave for attestd_verify_snp. */
typedef struct snp_ctx {
        cp_attestd *s;
        const snp_input *in;
        int64_t now;
        int64_t crl_deadline;        /* INT64_MAX: no CRL bounds the result */
        uint8_t *fetched;            /* a VCEK fetched from the KDS */
        size_t fetched_len;
} snp_ctx;

/* Neither the request nor its certificate table carries the VCEK: fetch it
 * from the KDS (cache first) for the report's chip and TCB. */
static int get_leaf(void *userdata, const cp_snp_report *rep, const uint8_t **ret, size_t *ret_len) {
        snp_ctx *c = userdata;
        cp_snp_tcb tcb;
        int r;
        if (c->in->certtable)
                return CP_ERROR(CP_ENOTFOUND, "certificate table has no VCEK or VLEK");
        if (!c->s->kds)
                return CP_ERROR(CP_ENOTFOUND, "no VCEK in the request and no KDS configured");
        if (rep->cpuid_generation == CP_SNP_GEN_UNKNOWN)
                return CP_ERROR(CP_ENOTFOUND, "report does not name its product: supply the VCEK");
        if (rep->signing_key != CP_SNP_SIGNING_KEY_VCEK)
                return CP_ERROR(CP_ENOTFOUND, "only VCEKs can be fetched: supply the VLEK");
        if ((r = cp_snp_tcb_decode(rep->reported_tcb, rep->cpuid_generation, &tcb)) < 0)
                return r;
        pthread_mutex_lock(&c->s->kds_lock);
        r = cp_kds_fetch_vcek(c->s->kds, rep->cpuid_generation, rep->chip_id, &tcb, &c->fetched, &c->fetched_len);
        pthread_mutex_unlock(&c->s->kds_lock);
        if (r < 0)
                return cp_error_wrap("fetching the VCEK: ");
        *ret = c->fetched;
        *ret_len = c->fetched_len;
        return 0;
}

/* Revocation: a valid CRL for the leaf's product and line must be in force
 * (fetched if need be); the report is then cached no longer than that CRL
 * stays valid. */
static int prepare_revocation(void *userdata, cp_snp_generation g, cp_amd_cert_kind signer) {
        snp_ctx *c = userdata;
        return attestd_crl_ensure(c->s, g, signer == CP_AMD_CERT_VLEK, c->now, &c->crl_deadline);
}

int attestd_verify_snp(cp_attestd *s, const snp_input *in, cp_snp_verify_result *ret, bool *ret_warm) {
        snp_ctx ctx = { .s = s, .in = in, .now = attestd_now(s), .crl_deadline = INT64_MAX };
        cp_snp_evidence ev = { .report = in->report, .report_len = in->report_len };
        cp_snp_verify_options o = CP_SNP_VERIFY_OPTIONS_INIT;
        cp_snp_verify_result res;
        uint8_t hash[48];
        int r;

        if (in->report_len != CP_SNP_REPORT_SIZE)
                return CP_ERROR(CP_EFORMAT, "SNP report must be %u bytes, not %zu", CP_SNP_REPORT_SIZE,
                                in->report_len);
        if (in->hash)
                memcpy(hash, in->hash, sizeof(hash));
        else
                attestd_digest(true, in->report, in->report_len, hash);
        if (cache_get(s, hash, ctx.now, ret)) {
                atomic_fetch_add(&s->m.warm_hits, 1);
                *ret_warm = true;
                return 0;
        }

        /* endorsement key: from the request, the certificate table, or the KDS (cache first,
         * get_leaf); the verifier parses the report and the table and keeps the one cache of
         * verified chains.  A supplied ARK is ignored: trust comes from the configuration. */
        if (in->chain) {
                if (in->chain_len > CP_MAX_CHAIN_DEPTH * 2 * CP_MAX_CERT_DER)
                        return CP_ERROR(CP_ETOOBIG, "VCEK certificate chain too long");
                ev.leaf = in->chain; /* VCEK alone or a VCEK[,ASK[,ARK]] bundle */
                ev.leaf_len = in->chain_len;
        } else if (in->certtable) {
                ev.certtable = in->certtable;
                ev.certtable_len = in->certtable_len;
        }

        /* read before the CRL is looked at: if any CRL is replaced from here on (also by a
         * fetch in prepare_revocation), this entry is a miss, so a hit always means that the
         * CRL checked by the verifier is the one whose validity bounds the entry */
        uint64_t crl_gen = atomic_load_explicit(&s->crl_gen, memory_order_acquire);
        o.now = ctx.now;
        o.check_revocation = s->cfg.check_revocation;
        o.userdata = &ctx;
        o.get_leaf = get_leaf;
        o.prepare_revocation = prepare_revocation;
        atomic_fetch_add(&s->m.cold_verifies, 1);
        r = cp_snp_verify(s->verifier, &ev, &o, &res);
        free(ctx.fetched);
        if (r < 0) {
                if (r == CP_EREVOKED && ctx.crl_deadline != INT64_MAX)
                        atomic_fetch_add(&s->m.revocation_refusals[0], 1);
                return r;
        }
        cache_put(s, hash, res.valid_from, res.valid_until < ctx.crl_deadline ? res.valid_until : ctx.crl_deadline,
                  crl_gen, &res);
        *ret = res;
        *ret_warm = false;
        return 0;
}

static int set_hex(json_t *o, const char *name, const uint8_t *p, size_t n) {
        char buf[2 * 64 + 1];
        cp_hex_encode(p, n, buf);
        return json_object_set_new(o, name, json_string(buf)) < 0 ? cp_error_oom() : 0;
}

static int set_int(json_t *o, const char *name, json_int_t v) {
        return json_object_set_new(o, name, json_integer(v)) < 0 ? cp_error_oom() : 0;
}

static int set_bool(json_t *o, const char *name, bool v) {
        return json_object_set_new(o, name, json_boolean(v)) < 0 ? cp_error_oom() : 0;
}

int attestd_snp_claims(const cp_snp_verify_result *res, json_t *c) {
        const cp_snp_report *rp = &res->report;
        int r;
        if ((r = set_hex(c, "x-ms-sevsnpvm-authorkeydigest", rp->author_key_digest, 48)) < 0 ||
            (r = set_int(c, "x-ms-sevsnpvm-bootloader-svn", res->reported_tcb.bl)) < 0 ||
            (r = set_hex(c, "x-ms-sevsnpvm-familyId", rp->family_id, 16)) < 0 ||
            (r = set_int(c, "x-ms-sevsnpvm-guestsvn", rp->guest_svn)) < 0 ||
            (r = set_hex(c, "x-ms-sevsnpvm-hostdata", rp->host_data, 32)) < 0 ||
            (r = set_hex(c, "x-ms-sevsnpvm-idkeydigest", rp->id_key_digest, 48)) < 0 ||
            (r = set_hex(c, "x-ms-sevsnpvm-imageId", rp->image_id, 16)) < 0 ||
            (r = set_bool(c, "x-ms-sevsnpvm-is-debuggable", (rp->policy & CP_SNP_POLICY_DEBUG) != 0)) < 0 ||
            (r = set_hex(c, "x-ms-sevsnpvm-launchmeasurement", rp->measurement, 48)) < 0 ||
            (r = set_int(c, "x-ms-sevsnpvm-microcode-svn", res->reported_tcb.ucode)) < 0 ||
            (r = set_bool(c, "x-ms-sevsnpvm-migration-allowed", (rp->policy & CP_SNP_POLICY_MIGRATE_MA) != 0)) < 0 ||
            (r = set_hex(c, "x-ms-sevsnpvm-reportdata", rp->report_data, 64)) < 0 ||
            (r = set_hex(c, "x-ms-sevsnpvm-reportid", rp->report_id, 32)) < 0 ||
            (r = set_bool(c, "x-ms-sevsnpvm-smt-allowed", (rp->policy & CP_SNP_POLICY_SMT) != 0)) < 0 ||
            (r = set_int(c, "x-ms-sevsnpvm-snpfw-svn", res->reported_tcb.snp)) < 0 ||
            (r = set_int(c, "x-ms-sevsnpvm-tee-svn", res->reported_tcb.tee)) < 0 ||
            (r = set_int(c, "x-ms-sevsnpvm-vmpl", rp->vmpl)) < 0)
                return r;
        /* confpool extensions (not MAA claims) */
        if (json_object_set_new(c, "x-confpool-sevsnpvm-product", json_string(cp_snp_generation_name(res->generation))) <
                    0 ||
            (r = set_int(c, "x-confpool-sevsnpvm-report-version", rp->version)) < 0 ||
            json_object_set_new(c, "x-confpool-sevsnpvm-signer", json_string(cp_amd_cert_kind_name(res->signer))) < 0 ||
            (r = set_bool(c, "x-confpool-sevsnpvm-chipid-checked", res->chip_id_checked)) < 0)
                return r < 0 ? r : cp_error_oom();
        return 0;
}

static void rt_unrefp(rt_entry **p) {
        attestd_rt_unref(*p);
}

static int rt_new(const uint8_t *data, size_t len, const uint8_t digest[32], rt_entry **ret) {
        json_error_t jerr;
        rt_entry *e = calloc(1, sizeof(*e));
        int r;
        if (!e)
                return cp_error_oom();
        atomic_init(&e->ref, 1);
        pthread_mutex_init(&e->pcr_lock, NULL);
        memcpy(e->digest, digest, 32);
        /* parsed once: the fast parser builds json_loadb(JSON_REJECT_DUPLICATES)'s
         * tree or declines, and then the library parses the bytes itself */
        e->json = len <= CP_MAX_RUNTIME_DATA ? cp_json_load_plain(data, len, CP_MAX_JSON_DEPTH) : NULL;
        r = e->json ? cp_azure_runtime_data_from_json(e->json, &e->rd) : cp_azure_runtime_data_parse(data, len, &e->rd);
        if (r < 0) {
                attestd_rt_unref(e);
                return cp_error_wrap("runtime data: ");
        }
        if (!e->json)
                e->json = json_loadb((const char *) data, len, 0, &jerr);
        if (!e->json) {
                attestd_rt_unref(e);
                return CP_ERROR(CP_EFORMAT, "runtime data is not JSON");
        }
        *ret = e;
        return 0;
}

static void json_unrefp(json_t **p) {
        json_decref(*p);
}

static void eventlog_freep(cp_tcg_eventlog **p) {
        cp_tcg_eventlog_free(*p);
}

/* Replay the event log's SHA-256 bank against the quoted PCR values (the
 * quote's signature and PCR digest are already verified) and build the
 * boot-event claims from the PCRs compared. */
int attestd_check_eventlog(const vtpm_input *in, const cp_tpm_quote *q, const cp_tpm_pcr_bank *bank, json_t **ret) {
        _cleanup_(eventlog_freep) cp_tcg_eventlog *log = NULL;
        uint32_t mask = 0, checked = 0;
        int r;
        for (size_t k = 0; k < q->n_selections; k++)
                for (unsigned i = 0; i < CP_TPM_PCR_COUNT; i++)
                        if (q->selections[k].hash_alg == CP_TPM_ALG_SHA256 && cp_tpm_pcr_selected(&q->selections[k], i))
                                mask |= 1u << i;
        if ((r = cp_tcg_eventlog_parse(in->eventlog, in->eventlog_len, &log)) < 0 ||
            (r = cp_tcg_eventlog_check_pcrs(log, bank, mask, &checked)) < 0 ||
            (r = cp_tcg_eventlog_claims(log, checked, ret)) < 0)
                return cp_error_wrap("event log: ");
        return 0;
}

/* The static claims of (report, runtime data): built once per rt entry. */
static int static_claims(rt_entry *rt, const cp_snp_verify_result *res, claims_tmpl **ret) {
        claims_tmpl *t = atomic_load(&rt->tmpl), *expected = NULL;
        json_t *c;
        int r;
        if (t) {
                atomic_fetch_add(&t->ref, 1);
                *ret = t;
                return 0;
        }
        c = json_object();
        if (!c)
                return cp_error_oom();
        if ((r = attestd_snp_claims(res, c)) < 0) {
                json_decref(c);
                return r;
        }
        /* shared, never modified (jansson's reference counts are atomic) */
        if (json_object_set(c, "x-ms-runtime", rt->json) < 0) {
                json_decref(c);
                return cp_error_oom();
        }
        const cp_azure_vm_config *vc = cp_azure_runtime_data_vm_config(rt->rd);
        if (vc->present && vc->secure_boot != CP_AZURE_FLAG_ABSENT &&
            json_object_set_new(c, "secureboot", json_boolean(vc->secure_boot == CP_AZURE_FLAG_TRUE)) < 0) {
                json_decref(c);
                return cp_error_oom();
        }
        if ((r = attestd_tmpl_new(c, &t)) < 0)
                return r;
        atomic_fetch_add(&t->ref, 1); /* one for rt, one for the caller */
        if (!atomic_compare_exchange_strong(&rt->tmpl, &expected, t))
                atomic_fetch_sub(&t->ref, 1); /* another thread was first: keep ours for this request only */
        *ret = t;
        return 0;
}

/* The claims of the quoted PCR values (x-ms-azurevm-attested-pcrs,
 * x-confpool-tpm-pcrs-sha256): the same values as the boot's last quote
 * reuse its template, other values build (and keep) a new one. */
static int pcr_claims(rt_entry *rt, const cp_tpm_quote *q, const vtpm_input *in, claims_tmpl **ret) {
        uint8_t key[4 + 24 * 32];
        size_t kl = 4;
        uint32_t mask = 0;
        for (unsigned i = 0; i < 24; i++)
                if (cp_tpm_pcr_selected(&q->selections[0], i) && in->pcrs[i]) {
                        mask |= 1u << i;
                        memcpy(key + kl, in->pcrs[i], 32);
                        kl += 32;
                }
        memcpy(key, &mask, 4);
        pthread_mutex_lock(&rt->pcr_lock);
        claims_tmpl *t = rt->pcr_tmpl;
        if (t && t->key_len == kl && memcmp(t->key, key, kl) == 0) {
                atomic_fetch_add(&t->ref, 1);
                pthread_mutex_unlock(&rt->pcr_lock);
                *ret = t;
                return 0;
        }
        pthread_mutex_unlock(&rt->pcr_lock);

        json_t *c = json_object(), *pcrs = json_object(), *idx = json_array();
        int r = 0;
        if (!c || !pcrs || !idx || json_object_set(c, "x-ms-azurevm-attested-pcrs", idx) < 0 ||
            json_object_set(c, "x-confpool-tpm-pcrs-sha256", pcrs) < 0)
                r = cp_error_oom();
        for (unsigned i = 0; i < 24 && r == 0; i++) {
                if (!(mask & (1u << i)))
                        continue;
                char name[4], hex[65];
                snprintf(name, sizeof(name), "%u", i);
                cp_hex_encode(in->pcrs[i], 32, hex);
                if (json_object_set_new(pcrs, name, json_string(hex)) < 0 || json_array_append_new(idx, json_integer(i)) < 0)
                        r = cp_error_oom();
        }
        json_decref(pcrs);
        json_decref(idx);
        if (r < 0) {
                json_decref(c);
                return r;
        }
        if ((r = attestd_tmpl_new(c, &t)) < 0)
                return r;
        t->key = malloc(kl);
        if (!t->key) {
                attestd_tmpl_unref(t);
                return cp_error_oom();
        }
        memcpy(t->key, key, kl);
        t->key_len = kl;
        atomic_fetch_add(&t->ref, 1); /* one for rt, one for the caller */
        pthread_mutex_lock(&rt->pcr_lock);
        claims_tmpl *old = rt->pcr_tmpl;
        rt->pcr_tmpl = t;
        pthread_mutex_unlock(&rt->pcr_lock);
        attestd_tmpl_unref(old);
        *ret = t;
        return 0;
}

int attestd_verify_vtpm(cp_attestd *s, const vtpm_input *in, json_t *claims, tmpl_set *ret_tmpls, bool *ret_warm) {
        _cleanup_(rt_unrefp) rt_entry *rt = NULL;
        cp_tpm_quote q;
        cp_tpm_signature sig;
        cp_tpm_pcr_bank bank = { .hash_alg = CP_TPM_ALG_SHA256 };
        cp_snp_verify_result res;
        uint8_t report_data[64], report_hash[48], rt_digest[32];
        int r;

        if (in->snp.report_len != CP_SNP_REPORT_SIZE)
                return CP_ERROR(CP_EFORMAT, "SNP report must be %u bytes", CP_SNP_REPORT_SIZE);
        if (!in->runtime_data || in->runtime_data_len == 0)
                return CP_ERROR(CP_EFORMAT, "runtime data is missing");
        /* the runtime data of a report seen before (same boot) is already parsed */
        attestd_digest(true, in->snp.report, in->snp.report_len, report_hash);
        attestd_digest(false, in->runtime_data, in->runtime_data_len, rt_digest);
        rt = rt_get(s, report_hash, rt_digest);
        /* an rt entry is attached to a cached report only after every check below
         * passed for exactly these report and runtime-data bytes */
        bool bound = rt != NULL;
        if (!rt && (r = rt_new(in->runtime_data, in->runtime_data_len, rt_digest, &rt)) < 0)
                return r;
        const cp_azure_runtime_data *rd = rt->rd;
        if ((r = cp_tpm_quote_parse(in->quote, in->quote_len, &q)) < 0)
                return cp_error_wrap("TPM quote: ");
        r = in->signature_marshalled
                    ? cp_tpm_signature_parse(in->signature, in->signature_len, &sig)
                    : cp_tpm_signature_from_raw(in->signature, in->signature_len, CP_TPM_ALG_RSASSA, CP_TPM_ALG_SHA256,
                                                &sig);
        if (r < 0)
                return cp_error_wrap("TPM quote signature: ");
        for (unsigned i = 0; i < 24; i++)
                bank.values[i] = in->pcrs[i];
        /* (1) signature by the AK, (2) nonce, (3) PCR digest */
        if ((r = cp_tpm_quote_verify(&q, &sig, cp_azure_runtime_data_ak(rd), in->nonce, in->nonce_len, &bank, 1)) < 0)
                return cp_error_wrap("TPM quote: ");
        /* (3b) the event log replays to the quoted PCRs */
        _cleanup_(json_unrefp) json_t *evclaims = NULL;
        if (in->eventlog && (r = attestd_check_eventlog(in, &q, &bank, &evclaims)) < 0)
                return r;
        /* (4) REPORT_DATA binds the runtime data (read the report's field at 0x50) */
        memcpy(report_data, in->snp.report + CP_HCL_SNP_REPORT_DATA_OFFSET, sizeof(report_data));
        if (!bound &&
            (r = cp_azure_check_binding(report_data, CP_HCL_HASH_SHA256, in->runtime_data, in->runtime_data_len)) < 0)
                return cp_error_wrap("runtime data: ");
        /* (5) fresh user-data */
        if (in->check_user_data && (r = cp_azure_runtime_data_check_user_data(rd, in->nonce, in->nonce_len)) < 0)
                return cp_error_wrap("runtime data user-data: ");
        /* (6) the SNP report itself (hashed once, above) */
        snp_input snp = in->snp;
        snp.hash = report_hash;
        if ((r = attestd_verify_snp(s, &snp, &res, ret_warm)) < 0)
                return r;
        /* (7) produced by the paravisor at VMPL 0 */
        if (res.report.vmpl != 0)
                return CP_ERROR(CP_EPOLICY, "report from VMPL %u, not 0", res.report.vmpl);
        claims_tmpl *tmpl = NULL;
        if ((r = static_claims(rt, &res, &tmpl)) < 0)
                return r;
        rt_attach(s, report_hash, rt);
        ret_tmpls->t[ret_tmpls->n++] = tmpl;
        if ((r = pcr_claims(rt, &q, in, &ret_tmpls->t[ret_tmpls->n])) < 0) {
                attestd_tmpl_set_clear(ret_tmpls);
                return r;
        }
        ret_tmpls->n++;
        if (evclaims && (json_object_set_new(claims, "x-confpool-eventlog-replayed", json_true()) < 0 ||
                         json_object_set_new(claims, "x-confpool-eventlog", TAKE_PTR(evclaims)) < 0)) {
                attestd_tmpl_set_clear(ret_tmpls);
                return cp_error_oom();
        }
        return 0;
}
