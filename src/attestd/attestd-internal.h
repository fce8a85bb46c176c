/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_ATTESTD_INTERNAL_H
#define CP_ATTESTD_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "attestd/attestd.h"
#include "basic/loglimit.h"
#include "confpool/maa_policy.h"
#include "confpool/snp_verify.h"
#include "libconfpool/json-plain.h"
#include "service/kds.h"
#include "service/service.h"

#define ATTESTD_MAX_KEYS 8
#define ATTESTD_NONCE_LEN 32
#define ATTESTD_NONCE_MAX 64 /* longest nonce accepted in a quote */
/* Outstanding challenges (nonces.c): at most ATTESTD_NONCE_SLOTS in all,
 * at most ATTESTD_NONCE_PER_SOURCE from one client address (an IPv6 /64);
 * past either the oldest is evicted.  Expired ones are dropped
 * ATTESTD_NONCE_GRACE_S after their expiry (until then a late attest is
 * told "expired"). */
#define ATTESTD_NONCE_SLOTS 65536u
#define ATTESTD_NONCE_PER_SOURCE 16384u
#define ATTESTD_NONCE_SOURCES 4096u  /* source buckets (keyed hash of the address) */
#define ATTESTD_NONCE_GRACE_S 60
#define ATTESTD_POLICY_SLOTS 64u
#define ATTESTD_TENANT_MAX 64u

/* attestation types: one policy slot per (tenant, type) */
typedef enum attestd_type {
        ATT_SEVSNPVM = 0,   /* POST /attest/SevSnpVm */
        ATT_AZURE_VTPM,     /* POST /attest/AzureSnpVtpm */
        ATT_NATIVE,         /* POST /attest/Native */
        ATT_TDXVM,          /* POST /attest/TdxVm (issue 16) */
        ATT_AZURE_GUEST,    /* POST /attest/AzureGuest: Azure TDX CVMs (issue 16) */
        _ATT_MAX,
} attestd_type;

typedef struct signing_key {
        cp_jwt_key *key;             /* JWKS, kid */
        int64_t retired_at; /* 0: current */
        cp_jwt_signer *signer;       /* signs pre-serialized payloads; header with the jku of signer_issuer */
        char signer_issuer[256];
} signing_key;

/* The claims of a verified report + runtime data that do not change between
 * requests (x-ms-sevsnpvm-*, x-ms-runtime, ...), kept serialized: a warm
 * token splices only the per-request claims (quote PCRs, nonce, policy
 * output, iat/nbf/exp/jti) next to them.  Immutable once built; shared by
 * reference. */
typedef struct claims_tmpl {
        atomic_uint ref;
        json_t *claims;
        char *json;                  /* compact JSON of claims, without the outer braces */
        size_t json_len;
        cp_maa_claims *maa;          /* claims as the policy sees them, built once */
        uint8_t *key;                /* what the claims were built from (PCR templates) */
        size_t key_len;
} claims_tmpl;

CP_WUR int attestd_tmpl_new(json_t *claims, claims_tmpl **ret); /* takes claims */

/* SHA-256 or SHA-384 of in (digests fetched once). */
void attestd_digest(bool sha384, const void *in, size_t len, uint8_t *out);
void attestd_tmpl_unref(claims_tmpl *t);

/* The templates of one token, in order (each a reference). */
typedef struct tmpl_set {
        claims_tmpl *t[2];
        size_t n;
} tmpl_set;

void attestd_tmpl_set_clear(tmpl_set *ts);

/* Per-boot runtime-data state of a cached report (vTPM flows): the parsed
 * runtime data (the AK) and its JSON, shared by reference. */
typedef struct rt_entry {
        atomic_uint ref;
        uint8_t digest[32];          /* SHA-256 of the runtime data bytes */
        struct cp_azure_runtime_data *rd;
        json_t *json;
        _Atomic(claims_tmpl *) tmpl;  /* built by the first verification, then shared */
        pthread_mutex_t pcr_lock;
        claims_tmpl *pcr_tmpl;        /* claims of the last quoted PCR values (pcr_lock) */
} rt_entry;

typedef struct report_slot {
        bool used;
        rt_entry *rt;                /* NULL until a vTPM flow attached one */
        uint8_t hash[48];            /* SHA-384 of the report bytes */
        int64_t not_before, not_after; /* validity of the endorsement chain (and of the CRL checked) */
        uint64_t crl_gen;            /* cp_attestd.crl_gen when verification began: older is a miss */
        cp_snp_verify_result result;
} report_slot;

/* The CRL in force for one (product, line) (crl_lock). */
typedef struct crl_line {
        bool present;
        int64_t obtained_at;         /* attestd_now() when loaded or fetched */
        int64_t this_update, next_update;
        int64_t number;              /* CRL number, -1: none */
        int n_revoked;
        uint8_t sha256[32];
        char source[16];             /* "config[i]", "kds", "api" */
        int64_t retry_after;         /* after a failed fetch: no new fetch before */
        char last_error[256];        /* of the last failed fetch */
} crl_line;

/* A challenge slot; links are slot index + 1 (0: none). */
typedef struct nonce_slot {
        uint8_t len;                 /* 0: free */
        uint8_t nonce[ATTESTD_NONCE_MAX];
        int64_t expires_at;
        uint32_t src;                /* source bucket */
        uint32_t hnext;              /* hash chain, or the free list */
        uint32_t prev, next;         /* all slots, oldest first */
        uint32_t sprev, snext;       /* the source's slots, oldest first */
} nonce_slot;

typedef struct nonce_source {
        uint32_t head, tail, n;
} nonce_source;

typedef struct nonce_table {
        nonce_slot *slots;           /* ATTESTD_NONCE_SLOTS */
        uint32_t *buckets;           /* ATTESTD_NONCE_SLOTS hash chains */
        nonce_source *sources;       /* ATTESTD_NONCE_SOURCES */
        uint32_t head, tail;         /* oldest, newest */
        uint32_t free_list, fresh;   /* freed slots; slots never used start at fresh */
        uint32_t n;
        uint64_t seed;               /* keys the hashes */
} nonce_table;

CP_WUR int attestd_nonces_init(nonce_table *t);
void attestd_nonces_free(nonce_table *t);
/* Register a challenge from source (numeric address; NULL: out of band). */
CP_WUR int attestd_nonce_issue(cp_attestd *s, const uint8_t *nonce, size_t len, int64_t expires_at,
                               const char *source);

typedef struct policy_slot {
        bool used;
        char tenant[ATTESTD_TENANT_MAX + 1];
        attestd_type type;
        char *text;
        char hash[44];               /* x-ms-policy-hash of text */
        cp_maa_policy *policy;
} policy_slot;

#define ATTESTD_N_CODES 64 /* -cp_err fits below this */

typedef struct attestd_metrics {
        atomic_ulong requests[_ATT_MAX], success[_ATT_MAX], failure[_ATT_MAX][ATTESTD_N_CODES];
        atomic_ulong warm_hits, cold_verifies, challenges, http_requests, http_4xx, http_5xx;
        atomic_ulong challenges_evicted, challenges_expired; /* dropped unused: to make room, after expiry */
        atomic_ulong latency_bucket[8]; /* <=0.5, 1, 2, 5, 10, 50, 250 ms, +Inf */
        atomic_ulong latency_sum_us;
        atomic_ulong crl_fetches, crl_fetch_failures, crl_updates;
        atomic_ulong revocation_refusals[2]; /* [0] listed in the CRL, [1] no valid CRL */
} attestd_metrics;

struct cp_attestd {
        uint8_t jti_prefix[16];      /* random per service instance */
        atomic_ulong jti_counter;
        cp_attestd_config cfg;
        char issuer[256];
        bool issuer_fixed;
        /* set (release) once the issuer (which names the bound port) and the
         * signers are in place; requests before that get 503 (a race that
         * ThreadSanitizer found: issue 20 item 3) */
        atomic_bool ready;
        _Atomic int64_t now;
        _Atomic int64_t keydir_synced; /* when the signing key directory was last read */
        pthread_mutex_t keydir_lock;
        cp_httpd *httpd;
        cp_svc *svc;                 /* the routes (routes.c) */
        cp_snp_verifier *verifier;
        struct attestd_tdx *tdx;     /* tdx.c: verifier, trust root, collateral cache */
        cp_kds_client *kds;
        pthread_mutex_t kds_lock;
        cp_jwks *policy_signers;

        pthread_rwlock_t keys_lock;  /* read: signing, JWKS; write: rotation */
        signing_key keys[ATTESTD_MAX_KEYS];
        size_t n_keys;

        pthread_mutex_t cache_lock;
        report_slot *cache;
        size_t cache_size;

        pthread_mutex_t crl_lock;    /* taken before kds_lock */
        crl_line crls[_CP_SNP_GEN_MAX][2]; /* [product][0 VCEK line (ASK CRL), 1 VLEK line (ASVK CRL)] */
        int64_t crl_max_age;
        _Atomic uint64_t crl_gen;    /* bumped after every CRL replacement */

        pthread_mutex_t nonce_lock;
        nonce_table nonces;

        pthread_rwlock_t policy_lock;
        policy_slot policies[ATTESTD_POLICY_SLOTS];
        cp_maa_policy *default_policy;
        char default_hash[44];
        cp_maa_policy *default_policy_tdx; /* TdxVm's default */
        char default_hash_tdx[44];
        cp_maa_policy *default_policy_guest; /* AzureGuest's default */
        char default_hash_guest[44];

        attestd_metrics m;
        /* access log lines anyone can cause (refused requests, challenges):
         * rate-limited, the rest counted in a summary line */
        cp_log_limit refused_log, challenge_log;
};

extern const char attestd_default_policy[];
extern const char attestd_default_policy_tdx[];
extern const char attestd_default_policy_guest[];
const char *attestd_type_name(attestd_type t);

int64_t attestd_now(const cp_attestd *s);

/* ---- evidence (verify.c) ------------------------------------------------ */

typedef struct snp_input {
        const uint8_t *report;
        size_t report_len;
        const uint8_t *chain;        /* VCEK [ASK [ARK]] PEM or DER bundle, optional */
        size_t chain_len;
        const uint8_t *certtable;    /* SNP_GET_EXT_REPORT certificate table, optional */
        size_t certtable_len;
        const uint8_t *hash;         /* SHA-384 of report when the caller has it, else NULL */
} snp_input;

void attestd_rt_unref(rt_entry *e);

/* Verify an SNP report (warm: from the cache). */
CP_WUR int attestd_verify_snp(cp_attestd *s, const snp_input *in, cp_snp_verify_result *ret, bool *ret_warm);

typedef struct vtpm_input {
        snp_input snp;
        const uint8_t *runtime_data; /* JSON bound by REPORT_DATA[0:32] = SHA-256 */
        size_t runtime_data_len;
        const uint8_t *quote;        /* TPMS_ATTEST */
        size_t quote_len;
        const uint8_t *signature;    /* raw RSASSA-SHA256 or marshalled TPMT_SIGNATURE */
        size_t signature_len;
        bool signature_marshalled;
        const uint8_t *pcrs[24];     /* SHA-256 bank values (32 bytes) or NULL */
        const uint8_t *nonce;
        size_t nonce_len;
        bool check_user_data;        /* runtime data "user-data" must equal the nonce */
        const uint8_t *eventlog;     /* TCG event log, optional: must replay to the quoted PCRs */
        size_t eventlog_len;
} vtpm_input;

/* Trustee's az-snp-vtpm order: quote signature by the runtime data's AK,
 * nonce, PCR digest, REPORT_DATA binding, (user-data), SNP chain and
 * signature, VMPL 0.  With an event log, its SHA-256 replay must equal the
 * quoted PCRs it extends (x-confpool-eventlog-replayed, x-confpool-eventlog).
 * Adds the per-request claims to *claims and returns in *ret_tmpls
 * references to the report's static claims and to the claims of the quoted
 * PCR values (rebuilt only when the values change within the boot). */
CP_WUR int attestd_verify_vtpm(cp_attestd *s, const vtpm_input *in, json_t *claims, tmpl_set *ret_tmpls,
                               bool *ret_warm);

/* The event log's SHA-256 replay against a verified quote's PCRs (its
 * claims in *ret). */
struct cp_tpm_quote;
struct cp_tpm_pcr_bank;
CP_WUR int attestd_check_eventlog(const vtpm_input *in, const struct cp_tpm_quote *q,
                                  const struct cp_tpm_pcr_bank *bank, json_t **ret);

/* ---- Intel TDX (tdx.c) -------------------------------------------------- */

struct attestd_tdx;
CP_WUR int attestd_tdx_init(cp_attestd *s);
void attestd_tdx_free(cp_attestd *s);

typedef struct tdx_input {
        const uint8_t *quote;
        size_t quote_len;
        const uint8_t *runtime_data;  /* optional (MAA): REPORTDATA[0:32] = SHA-256, rest zero */
        size_t runtime_data_len;
        /* confpool's node flow: a vTPM quote by the runtime data's HCLAkPub over the nonce */
        bool has_tpm;
        vtpm_input tpm;               /* .snp unused */
} tdx_input;

/* Verify a TDX quote (collateral from the configured PCS, cached), its
 * runtime-data binding and, with has_tpm, the vTPM quote; the MAA TDX
 * claims (tdx_*, attester_tcb_status, ...) into claims. */
CP_WUR int attestd_verify_tdx(cp_attestd *s, const tdx_input *in, json_t *claims, bool *ret_warm);

/* An Azure TDX CVM's evidence (POST /attest/AzureGuest): the HCL report,
 * the TD quote Azure's host made for its TDREPORT, the vTPM quote by the
 * runtime data's HCLAkPub over SHA-256(client payload). */
typedef struct azure_tdx_input {
        const uint8_t *hcl, *quote, *client_payload;
        size_t hcl_len, quote_len, client_payload_len;
        vtpm_input tpm;               /* quote, signature, pcrs, eventlog; nonce = SHA-256(client payload) */
} azure_tdx_input;

/* HCL report parsed (TDX TDREPORT, SHA-256), runtime data bound to
 * REPORTDATA, the vTPM quote by its HCLAkPub, the TD quote verified and
 * matched field by field with the TDREPORT; MAA's AzureGuest claims
 * (x-ms-attestation-type azurevm, x-ms-azurevm-*, x-ms-isolation-tee with
 * the tdxvm claims and the runtime data) into claims. */
CP_WUR int attestd_verify_azure_tdx(cp_attestd *s, const azure_tdx_input *in, json_t *claims, bool *ret_warm);

/* x-ms-sevsnpvm-* claims of a verified report. */
CP_WUR int attestd_snp_claims(const cp_snp_verify_result *res, json_t *claims);

/* ---- revocation (crl.c) ------------------------------------------------- */

/* Load the configured CRLs (refused unless signed by a trusted ARK). */
CP_WUR int attestd_crl_init(cp_attestd *s);
/* 0 when a valid CRL for (g, line) is in force at now, fetched from the KDS
 * when missing or stale; *ret_deadline: the last second it stays valid.
 * CP_EREVOKED with the reason otherwise (fail closed). */
CP_WUR int attestd_crl_ensure(cp_attestd *s, cp_snp_generation g, bool vlek, int64_t now, int64_t *ret_deadline);

/* ---- HTTP (routes.c) ------------------------------------------------------ */

/* attestd's routes, dialect and hooks on the service skeleton. */
CP_WUR int attestd_routes_new(cp_attestd *s, cp_svc **ret);

/* ---- tokens and policies (service.c) --------------------------------------- */

/* Token over the templates' claims (ts may be NULL) plus claims (the
 * per-request ones; the policy's output and the token members are added to
 * it). */
CP_WUR int attestd_issue_token(cp_attestd *s, const char *tenant, attestd_type type, const tmpl_set *ts,
                               json_t *claims, const char *draft_policy, char **ret_token);

/* Set (text) or reset (text NULL) the policy of (tenant, type). */
CP_WUR int attestd_policy_set(cp_attestd *s, const char *tenant, attestd_type type, const char *text, size_t len,
                              cp_maa_parse_error *err);
/* The policy text in force (malloc()ed; NULL on OOM). */
char *attestd_policy_get(cp_attestd *s, const char *tenant, attestd_type type);
/* Single use: CP_EBINDING unknown/used, CP_EEXPIRED expired. */
CP_WUR int attestd_nonce_consume(cp_attestd *s, const uint8_t *nonce, size_t len);

/* keydir.c: --signing-key-dir (keys_lock not held) */
int attestd_keydir_sync(cp_attestd *s, bool rotate);
void attestd_keydir_refresh(cp_attestd *s);
/* service.c: prepare the signers for the issuer; keys_lock held for writing */
void attestd_cache_signers(cp_attestd *s);

#endif
