/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_SHARED_KDS_H
#define CP_SHARED_KDS_H

/*
 * AMD Key Distribution Service client (libcurl): VCEK, cert_chain and CRL
 * downloads with an on-disk cache and an offline mode that never touches the
 * network.  The same client talks to AMD's KDS or to the software AMD-SP's
 * KDS-compatible endpoint (base URL).  VCEKs and cert chains are immutable
 * and cached forever; CRLs are re-fetched when older than crl_max_age.
 * Nothing here verifies what it downloads: that is libconfpool's job.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "confpool/snp_cert.h"

typedef struct cp_kds_options {
        const char *base_url;   /* NULL: https://kdsintf.amd.com */
        const char *cache_dir;  /* NULL: no cache */
        bool offline;           /* only the cache; a miss is CP_ENOTFOUND */
        long timeout_ms;        /* per request; 0: 15000 */
        unsigned retries;       /* on 429 / 5xx / transport errors; default 0 */
        long crl_max_age;       /* seconds; 0: 86400 */
        const char *ca_file;    /* extra CA bundle for TLS (e.g. a local KDS) */
} cp_kds_options;

typedef struct cp_kds_client cp_kds_client;

CP_WUR int cp_kds_client_new(const cp_kds_options *o, cp_kds_client **ret);
cp_kds_client *cp_kds_client_free(cp_kds_client *c);

/* GET base_url + path (path starts with '/').  *ret is malloc()ed. */
CP_WUR int cp_kds_get(cp_kds_client *c, const char *path, bool mutable_resource, uint8_t **ret, size_t *ret_len,
                      bool *ret_from_cache);

CP_WUR int cp_kds_fetch_vcek(cp_kds_client *c, cp_snp_generation g, const uint8_t chip_id[64],
                             const cp_snp_tcb *tcb, uint8_t **ret, size_t *ret_len);
CP_WUR int cp_kds_fetch_chain(cp_kds_client *c, cp_snp_generation g, cp_amd_cert_kind leaf_kind, uint8_t **ret,
                              size_t *ret_len);
CP_WUR int cp_kds_fetch_crl(cp_kds_client *c, cp_snp_generation g, cp_amd_cert_kind leaf_kind, uint8_t **ret,
                            size_t *ret_len);

/* Number of network requests made (for tests and diagnostics). */
unsigned cp_kds_client_requests(const cp_kds_client *c);

#endif
