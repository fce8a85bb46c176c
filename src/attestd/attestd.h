/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_ATTESTD_H
#define CP_ATTESTD_H

/*
 * confpool-attestd: an attestation service with Microsoft Azure
 * Attestation-compatible requests and tokens (see
 * docs/attestation-service.md).  The service object is usable without the
 * HTTP server (cp_attestd_handle() on constructed requests) for tests.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "confpool/jwt.h"
#include "service/httpd.h"

#define CP_ATTESTD_MAX_EXTRA_ARKS 4
#define CP_ATTESTD_MAX_CRLS 8

typedef struct cp_attestd_config {
        const char *bind_addr;        /* NULL: 127.0.0.1 */
        uint16_t port;                /* 0: ephemeral */
        unsigned threads;             /* 0: 4 */
        size_t max_body;              /* 0: 1 MiB */
        const char *tls_cert_pem;     /* required when bind_addr is not loopback */
        const char *tls_key_pem;
        const char *issuer;           /* NULL: http(s)://<bind>:<port> */
        int64_t now;                  /* fixed clock for tests; 0 = real time */
        unsigned token_lifetime_s;    /* 0: 28800 (MAA's 8 h) */
        cp_jwt_alg alg;               /* 0: RS256 */
        /* token-signing keys shared by replicas: PEM files in this directory
         * (created 0600 when empty), published together in /certs, rotated
         * with overlap (keydir.c, docs/scale-out.md); NULL: one key in memory */
        const char *signing_key_dir;
        const uint8_t *extra_arks[CP_ATTESTD_MAX_EXTRA_ARKS]; /* PEM/DER ARKs of emulated hosts */
        size_t extra_ark_lens[CP_ATTESTD_MAX_EXTRA_ARKS];
        const char *kds_base_url;     /* NULL: no KDS fetches (VCEK must come with the evidence) */
        const char *kds_cache_dir;    /* VCEK cache shared by all requests */
        bool kds_offline;             /* cache only */
        size_t report_cache_size;     /* verified-report cache slots; 0: 4096 */
        bool no_report_cache;         /* verify every report fully (benchmarks) */
        unsigned nonce_ttl_s;         /* challenge lifetime; 0: 300 */
        const char *admin_token;      /* bearer token for policy management; NULL: disabled */
        const char *policy_signers_jwks; /* JWKS text: when set, policy PUTs must be signed JWS */
        bool quiet;                   /* no request logs */
        bool only_extra_arks;         /* trust the extra ARKs only, not AMD's (an emulated fleet whose
                                       * ARKs share AMD's product names) */
        const uint8_t *crls[CP_ATTESTD_MAX_CRLS]; /* KDS CRLs (DER or PEM), each for both lines (ASK and
                                                   * ASVK) of the product whose trusted ARK signed it */
        size_t crl_lens[CP_ATTESTD_MAX_CRLS];
        bool check_revocation;        /* every report's ASK/ASVK must be checked against a valid CRL */
        unsigned crl_max_age_s;       /* with a KDS: refetch CRLs obtained longer ago; 0: 86400 */
        /* Intel TDX (POST /attest/TdxVm, issue 16) */
        const uint8_t *tdx_trust_root; /* PEM of an emulated Intel SGX Root CA; NULL: Intel's pinned root */
        size_t tdx_trust_root_len;
        const char *tdx_pcs_url;      /* PCS (API v4 URL shapes) the collateral comes from; NULL: TDX refused */
        unsigned tdx_collateral_max_age_s; /* refetch collateral older than this; 0: 60 */
} cp_attestd_config;

typedef struct cp_attestd cp_attestd;

CP_WUR int cp_attestd_new(const cp_attestd_config *cfg, cp_attestd **ret);
/* Start serving HTTP (TLS refused-by-default off loopback without a cert). */
CP_WUR int cp_attestd_start(cp_attestd *s);
uint16_t cp_attestd_port(const cp_attestd *s);
const char *cp_attestd_issuer(const cp_attestd *s);
cp_attestd *cp_attestd_free(cp_attestd *s);

/* The HTTP handler (userdata = the service). */
void cp_attestd_handle(void *userdata, const cp_http_request *req, cp_http_response *resp);

/* Make a new signing key current; the old ones stay in /certs until every
 * token they signed has expired. */
CP_WUR int cp_attestd_rotate_key(cp_attestd *s);
/* The same for the replicas of a --signing-key-dir, from outside them
 * (`confpool-attestd rotate-signing-key`): a new key file, written under the
 * directory's lock; every running replica lists it at its next read (5 s)
 * and signs with it once it is 10 s old.  alg 0: RS256. */
CP_WUR int cp_attestd_keydir_rotate(const char *dir, cp_jwt_alg alg);
/* The current JWKS document (malloc()ed JSON). */
CP_WUR int cp_attestd_jwks_json(cp_attestd *s, char **ret);
/* Move the injected clock (tests). */
void cp_attestd_set_now(cp_attestd *s, int64_t now);
/* Install a CRL (DER or PEM) for both lines of its product, replacing the
 * one in force: verified against the trusted ARKs (CP_EUNTRUSTED / CP_ESIG /
 * CP_ECERT), refused when older than the installed one (CP_EEXPIRED).
 * Reports verified before no longer come from the report cache. */
CP_WUR int cp_attestd_add_crl(cp_attestd *s, const uint8_t *buf, size_t len);
/* Register a challenge nonce issued out of band (a front end, tests); it
 * is single-use like those from POST /challenge. */
CP_WUR int cp_attestd_nonce_register(cp_attestd *s, const uint8_t *nonce, size_t len, int64_t expires_at);

/* ---- internals shared by the service's files ---------------------------- */

typedef struct attestd_outcome {
        int code;               /* 0 or cp_err */
        bool warm;              /* the report came from the verified-report cache */
} attestd_outcome;

#endif
