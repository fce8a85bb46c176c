/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_CONTROLPLANE_NODES_H
#define CP_CONTROLPLANE_NODES_H

/*
 * Attested node admission (docs/nodes.md), behind the endpoints node agents
 * call (served by cp-api-nodes.c; this module has no HTTP):
 *   POST <pool id>/machines/{m}/register   Authorization: Bearer <attestation token>
 *   POST <pool id>/machines/{m}/heartbeat  (same; a newer token = re-attestation)
 * The token is validated against the attestation service's JWKS (jwt.h),
 * bound to the machine (runtime data vmUniqueId = name, and HOST_DATA =
 * cp_node_host_data(pool id, name): a same-named machine of another pool
 * is refused, CP_ADMIT_WRONG_NODE), and checked against the
 * pool's attestation policy: the node image's expected launch measurement
 * (from the backend), debugging refused, a minimum reported TCB.  Pass:
 * the machine becomes Ready; fail at registration: Failed(reason); fail on
 * a heartbeat (re-attestation): Quarantined(reason).
 */

#include <stdbool.h>
#include <stdint.h>

#include "basic/limits.h"
#include "confpool/jwt.h"
#include "confpool/snp_report.h"
#include "controlplane/cp-backend.h"
#include "controlplane/cp-rules.h"
#include "service/jwks-cache.h"
#include "service/store.h"

typedef struct cp_nodes_options {
        cp_store *store;         /* not owned */
        /* not owned; NULL: none.  A second connection to the same SQLite
         * database (WAL): a heartbeat that would change nothing but its
         * time is admitted on a read transaction here, without waiting for
         * the store's write transaction (issue 19, docs/fleet.md) */
        cp_store *reader;
        cp_backend *backend;     /* not owned; supplies expected measurements */
        const char *attestd_url; /* JWKS at <url>/certs */
        const char *issuer;      /* NULL: attestd_url */
        cp_snp_tcb min_tcb;      /* policy default: minimum REPORTED_TCB (all zero: none) */
        unsigned jwks_min_interval_s; /* between JWKS fetches an unknown kid triggers; 0: 5 s (jwks-cache.h) */
        int64_t jwks_keep_s;     /* a key gone from the JWKS stays valid this long; 0: jwks-cache.h's default */
} cp_nodes_options;

typedef struct cp_nodes cp_nodes;

CP_WUR int cp_nodes_new(const cp_nodes_options *o, cp_nodes **ret);
cp_nodes *cp_nodes_free(cp_nodes *n);
void cp_nodes_set_min_tcb(cp_nodes *n, const cp_snp_tcb *tcb);
/* A node agent's attestation token against the attestation service's keys
 * and issuer.  The keys (jwks-cache.h) are fetched in the background from
 * the start, kept after the service rotates or restarts with a new key
 * until the tokens they signed have expired, and refetched for an unknown
 * kid at most once every jwks_min_interval_s, one fetch at a time, without
 * holding a lock.  CP_EAGAIN when the keys cannot say yet (none fetched,
 * the service down, an unknown kid within the interval): not a verdict, the
 * node endpoints answer 503.  *ret is the validated token (cp_jwt_free). */
CP_WUR int cp_nodes_validate_token(cp_nodes *n, const char *token, cp_jwt **ret);
/* Counters of the key cache (tests, diagnostics). */
void cp_nodes_jwks_stats(cp_nodes *n, cp_jwks_cache_stats *ret);

typedef enum cp_admission {
        CP_ADMIT_READY,      /* the machine passed: Ready */
        CP_ADMIT_NO_MACHINE, /* the pool has no such machine */
        CP_ADMIT_CONFLICT,   /* the machine has failed or is quarantined */
        CP_ADMIT_REFUSED,    /* the policy refused the token: Failed / Quarantined (why) */
        CP_ADMIT_WRONG_NODE, /* the token's x-ms-sevsnpvm-hostdata is not this (pool, machine)'s
                              * cp_node_host_data: another node's token (why); nothing changes */
} cp_admission;
/* One registration (heartbeat false) or heartbeat of machine in pool_id with
 * a validated token's claims, in one store transaction: the machine's state
 * and attestation record are updated; why receives the policy's refusal. */
/* A node of a non-confidential size (issue 16): no TEE, nothing attested;
 * admitted by its backend's bootstrap token (check_bootstrap) and only in a
 * pool whose size has no TEE (a confidential pool's machines must attest).
 * Recorded with no measurement and no TCB: never shown as attested. */
CP_WUR int cp_nodes_admit_bootstrap(cp_nodes *n, const char *pool_id, const char *machine, bool heartbeat,
                                    const char *token, cp_admission *ret, char *why, size_t why_size);
CP_WUR int cp_nodes_admit(cp_nodes *n, const char *pool_id, const char *machine, bool heartbeat, const json_t *claims,
                          cp_admission *ret, char *why, size_t why_size);

typedef struct cp_node_info {
        char reason[512];
        char host[64];
        char measurement[97];
        char tcb[128];
        int64_t attested_at, token_exp, heartbeat_at;
} cp_node_info;
/* Attestation record of a machine (CP_ENOTFOUND if none yet). */
CP_WUR int cp_nodes_info(cp_store *s, const char *pool, const char *name, cp_node_info *ret);
/* Every attestation record of a pool in one query, sorted by machine name
 * (the health check's: one statement per pool, not one per machine, issue
 * 19); cp_nodes_info_find looks one up (NULL: none). */
typedef struct cp_node_info_row {
        char name[64];
        cp_node_info info;
} cp_node_info_row;
CP_WUR int cp_nodes_info_list(cp_store *s, const char *pool, cp_node_info_row **ret, size_t *ret_n);
const cp_node_info *cp_nodes_info_find(const cp_node_info_row *rows, size_t n, const char *name);
/* Heartbeats that change nothing but the time are written in batches, at
 * most once per second (issue 19); cp_nodes_flush writes them now (also
 * done by cp_nodes_free), cp_nodes_heartbeat_of raises *heartbeat_at to a
 * machine's heartbeat not written yet. */
CP_WUR int cp_nodes_flush(cp_nodes *n);
void cp_nodes_heartbeat_of(cp_nodes *n, const char *pool, const char *name, int64_t *heartbeat_at);
/* The tables behind cp_nodes_info and the pool policy (created by
 * cp_nodes_new; idempotent). */
CP_WUR int cp_nodes_schema(cp_store *s);

/*
 * The pool's accepted launch measurements (docs/nodes.md "Node-image
 * upgrade"), table pool_policy, one row per node image: the expected
 * measurement of the pool's target image, and while a rolling node-image
 * upgrade is in progress those of the images its old nodes run
 * (previous).  Registration and heartbeats accept a token whose launch
 * measurement equals one of the stored rows or the pool's target image's
 * (computed by the backend at every admission).  The reconciler maintains
 * the rows; they survive restarts.  Caller holds the store.
 */
typedef struct cp_pool_measurement {
        char image[128];        /* nodeImageVersion */
        uint8_t measurement[48];
        bool previous;          /* accepted only until the roll completes */
} cp_pool_measurement;
CP_WUR int cp_nodes_policy_put(cp_store *s, const char *pool, const char *image, const uint8_t measurement[48],
                               bool previous);
/* Rows of a pool, target first (a malloc'd array; none: NULL, 0). */
CP_WUR int cp_nodes_policy_list(cp_store *s, const char *pool, cp_pool_measurement **ret, size_t *ret_n);
/* Drop one image's row (image NULL: all of the pool's). */
CP_WUR int cp_nodes_policy_remove(cp_store *s, const char *pool, const char *image);

/*
 * Operator override of a pool's attestation policy (docs/control-plane.md
 * "Attestation policy", resource <pool id>/attestationPolicy/default),
 * table pool_attestation_policy, one row per pool: the resource document
 * ({"properties", "systemData"}) and its eTag.  Without a row the default
 * applies (the image-derived accepted set, debugging refused, --min-tcb).
 */
typedef struct cp_attest_policy {
        size_t n_measurements;                             /* 0: the image-derived accepted set */
        uint8_t measurements[CP_MAX_POLICY_MEASUREMENTS][48];
        bool allow_debug;
        bool has_min_tcb;
        cp_snp_tcb min_tcb;                                /* only raises the daemon floor (component-wise max) */
        bool has_host_data;
        uint8_t host_data[32];                             /* x-ms-sevsnpvm-hostdata must equal */
        bool require_eventlog_replay;                      /* x-confpool-eventlog-replayed must be true */
        unsigned tdx_tcb_statuses;                         /* TDX (issue 16): bit (1 << cp_tdx_tcb_status) of
                                                            * each accepted attester_tcb_status; 0: UpToDate only */
} cp_attest_policy;

/* Strict validation of the resource's "properties" object: unknown members,
 * wrong types, bad hex, duplicates, more than CP_MAX_POLICY_MEASUREMENTS,
 * TCB components outside 0..255 fail with CP_EPOLICY and err filled (400
 * InvalidParameter, target "properties.<member>").  The read-only members
 * isDefault and eTag are ignored. */
CP_WUR int cp_attest_policy_parse(const json_t *props, cp_attest_policy *ret, cp_rule_error *err);
/* The canonical "properties" object of p (NULL on OOM). */
json_t *cp_attest_policy_to_json(const cp_attest_policy *p);
/* The stored override of a pool (CP_ENOTFOUND: none).  ret_doc (the stored
 * document) and ret_etag may be NULL.  Caller holds the store. */
CP_WUR int cp_attest_policy_get(cp_store *s, const char *pool, cp_attest_policy *ret, json_t **ret_doc,
                                char ret_etag[40]);
/* Store doc ({"properties": valid, ...}) as the pool's override (its
 * properties are parsed again: CP_EINVAL if invalid). */
CP_WUR int cp_attest_policy_put(cp_store *s, const char *pool, const json_t *doc, const char *etag);
/* Back to the default (no row: 0 as well). */
CP_WUR int cp_attest_policy_remove(cp_store *s, const char *pool);

/* A node token's claims as admission reads them (issue 16).  An Azure TDX
 * CVM's token (POST /attest/AzureGuest: x-ms-attestation-type "azurevm")
 * carries its TEE's claims (tdxvm, the paravisor's runtime data as
 * x-ms-runtime) under x-ms-isolation-tee: the view is that object with the
 * token's own members (iat, exp, nonce, x-confpool-*, x-ms-azurevm-*)
 * beside them.  Any other token is its own view.  A new reference; NULL
 * when out of memory. */
json_t *cp_nodes_claims_view(const json_t *claims);

/*
 * The attestation policy against a token's claims (pure; what register and
 * heartbeat run): evidence type native; launch measurement one of the
 * override's launchMeasurements if it has some, else one of acc (every
 * entry compared in constant time); x-ms-sevsnpvm-is-debuggable false
 * unless the override allows debugging; each reported TCB component >=
 * max(floor, the override's minimumTcb); with hostData,
 * x-ms-sevsnpvm-hostdata equal (constant time); with
 * requireEventLogReplay, x-confpool-eventlog-replayed true.  override and
 * floor may be NULL.  true: pass; false: why names what failed.
 */
bool cp_nodes_policy_check(const json_t *claims, const cp_pool_measurement *acc, size_t n_acc, const cp_snp_tcb *floor,
                           const cp_attest_policy *override, char *why, size_t size);

#endif
