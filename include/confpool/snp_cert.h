/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CONFPOOL_SNP_CERT_H
#define CONFPOOL_SNP_CERT_H

/*
 * AMD SEV-SNP certificates: ARK, ASK, ASVK, VCEK, VLEK for Milan, Genoa and
 * Turin, with AMD's X.509 extensions (OID prefix 1.3.6.1.4.1.3704.1), chain
 * verification (RSASSA-PSS with SHA-384, MGF1-SHA-384, salt 48) against
 * pinned roots, and KDS-format CRLs.  Times are Unix seconds supplied by the
 * caller (injectable "now").
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "confpool/error.h"
#include "confpool/snp_report.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cp_amd_cert_kind {
        CP_AMD_CERT_UNKNOWN = 0,
        CP_AMD_CERT_ARK,   /* CN ARK-<Product>, self-signed RSA-4096 */
        CP_AMD_CERT_ASK,   /* CN SEV-<Product>, signed by ARK */
        CP_AMD_CERT_ASVK,  /* CN SEV-VLEK-<Product>, signed by ARK */
        CP_AMD_CERT_VCEK,  /* CN SEV-VCEK, P-384, signed by ASK */
        CP_AMD_CERT_VLEK,  /* CN SEV-VLEK, P-384, signed by ASVK */
        _CP_AMD_CERT_KIND_MAX,
} cp_amd_cert_kind;

CP_API const char *cp_amd_cert_kind_name(cp_amd_cert_kind k);

typedef struct cp_amd_cert_info {
        cp_amd_cert_kind kind;
        cp_snp_generation generation;  /* from productName (leaf) or the CN (CA certs) */
        char product_name[32];         /* productName extension as written ("Milan-B0", "Turin") */
        bool has_struct_version;
        int struct_version;
        bool has_tcb;                  /* leaf: SPL extensions present */
        cp_snp_tcb tcb;                /* blSPL, teeSPL, snpSPL, ucodeSPL, fmcSPL (Turin) */
        size_t hwid_len;               /* 0 (VLEK/CA), 64 (Milan/Genoa), 8 (Turin) */
        uint8_t hwid[64];
        bool hwid_der_wrapped;         /* extnValue was an OCTET STRING (04 40 ..) rather than raw */
        char csp_id[256];              /* VLEK only */
        int64_t not_before, not_after; /* Unix seconds */
        uint8_t sha256[32];            /* SHA-256 of the DER encoding */
        uint8_t serial[20];            /* big-endian, left-padded */
        size_t serial_len;
} cp_amd_cert_info;

typedef struct cp_amd_cert cp_amd_cert;

/* Load one certificate from DER or PEM.  Rejects trailing data, non-v3
 * certificates, unknown AMD extension OIDs under 3704.1 (reported by name),
 * duplicate extensions, and SPL values outside 0..255.
 * Errors: CP_EFORMAT (empty, truncated or malformed DER/PEM), CP_ETRAILING
 * (bytes after the certificate, or a second PEM block), CP_ETOOBIG (larger
 * than CP_MAX_CERT_DER), CP_ECERT (not an AMD certificate of a known kind and
 * product, bad AMD extensions, wrong key type for the kind). */
CP_API CP_WUR int cp_amd_cert_load(const uint8_t *buf, size_t len, cp_amd_cert **ret);
/* Load a KDS cert_chain bundle (PEM: ASK or ASVK first, then ARK; DER
 * concatenation also accepted).  Either output may be NULL if not wanted. */
CP_API CP_WUR int cp_amd_cert_load_chain(const uint8_t *buf, size_t len, cp_amd_cert **ret_ask,
                                         cp_amd_cert **ret_ark);
/* Load 1..cap certificates (cap <= 4) from a PEM sequence or a DER
 * concatenation, in input order (e.g. Azure THIM's VCEK+ASK+ARK, or
 * "VCEK, ASK, ARK" files).  CP_ETOOBIG if more than cap.  ret[0..*ret_n)
 * are owned by the caller. */
CP_API CP_WUR int cp_amd_cert_load_bundle(const uint8_t *buf, size_t len, cp_amd_cert **ret, size_t cap,
                                          size_t *ret_n);
CP_API cp_amd_cert *cp_amd_cert_free(cp_amd_cert *c);
CP_API const cp_amd_cert_info *cp_amd_cert_info_get(const cp_amd_cert *c);
CP_API const uint8_t *cp_amd_cert_der(const cp_amd_cert *c, size_t *ret_len);
/* Leaf public key as uncompressed P-384 coordinates (big-endian). */
CP_API CP_WUR int cp_amd_cert_p384_pubkey(const cp_amd_cert *c, uint8_t x[48], uint8_t y[48]);
/* Borrowed OpenSSL EVP_PKEY* (as void* to keep OpenSSL out of this header). */
CP_API const void *cp_amd_cert_evp_pkey(const cp_amd_cert *c);

/* ---- trust store ------------------------------------------------------ */

typedef struct cp_amd_trust cp_amd_trust;

/* AMD's real ARK/ASK/ASVK for Milan, Genoa and Turin, compiled in and pinned
 * by SHA-256 fingerprint (checked at load; self-signatures verified). */
CP_API CP_WUR int cp_amd_trust_new_builtin(cp_amd_trust **ret);
CP_API CP_WUR int cp_amd_trust_new_empty(cp_amd_trust **ret);
/* Trust an additional root (e.g. an emulated AMD-SP's ARK).  It must be a
 * self-signed ARK with AMD's profile; its self-signature is verified
 * (CP_ECERT / CP_ESIG).  One ARK per product: adding a different ARK for a
 * product that has one is CP_EINVAL (adding the same one again is a no-op).
 * The store keeps its own reference; ark may be freed afterwards. */
CP_API CP_WUR int cp_amd_trust_add_ark(cp_amd_trust *t, const cp_amd_cert *ark);
/* Add an ASK/ASVK; verified against a trusted ARK of its product first
 * (CP_EUNTRUSTED if there is none or its signature does not verify,
 * CP_EEXPIRED if not valid at now, CP_ECERT for a bad profile). */
CP_API CP_WUR int cp_amd_trust_add_intermediate(cp_amd_trust *t, const cp_amd_cert *ask, int64_t now);
CP_API cp_amd_trust *cp_amd_trust_free(cp_amd_trust *t);
/* Borrowed: the trusted ARK / intermediate for a product (NULL if none). */
CP_API const cp_amd_cert *cp_amd_trust_ark(const cp_amd_trust *t, cp_snp_generation g);
CP_API const cp_amd_cert *cp_amd_trust_intermediate(const cp_amd_trust *t, cp_snp_generation g,
                                                    cp_amd_cert_kind kind /* ASK or ASVK */);

/*
 * Verify leaf (VCEK or VLEK) <- intermediate (ASK or ASVK) <- trusted ARK at
 * time now.  intermediate may be NULL: the trust store's is used.  A supplied
 * intermediate must itself chain to the trusted ARK.  Checks signatures
 * (RSASSA-PSS SHA-384 parameters exactly as AMD issues them), issuer/subject
 * linkage, kinds (VCEK under ASK, VLEK under ASVK), product consistency,
 * validity periods of all three at now (CP_EEXPIRED), key types (RSA-4096
 * CA keys, P-384 leaf), CA basic constraints.  *ret_gen (optional) receives
 * the product.  Errors: CP_ECERT, CP_EUNTRUSTED, CP_EEXPIRED, CP_ESIG.
 * A supplied intermediate of another product, or one whose signature does
 * not verify under the trusted ARK, is CP_EUNTRUSTED; a leaf whose signature
 * does not verify under the intermediate is CP_ESIG.  Signature verdicts are
 * cached in the store by (certificate SHA-256, issuer SHA-256), so repeated
 * calls cost two hash compares; validity and kinds are re-checked every time.
 * Thread-safe for concurrent calls on the same store.
 */
CP_API CP_WUR int cp_amd_verify_chain(const cp_amd_trust *t, const cp_amd_cert *leaf,
                                      const cp_amd_cert *intermediate, int64_t now,
                                      cp_snp_generation *ret_gen);

/* ---- CRL (KDS /vcek/v1/<Product>/crl, DER, signed by the ARK) ---------- */

typedef struct cp_amd_crl cp_amd_crl;
/* DER (or PEM "X509 CRL").  Errors: CP_EFORMAT (empty, truncated, malformed,
 * no nextUpdate, critical extensions), CP_ETRAILING, CP_EVERSION (not v2),
 * CP_ETOOBIG (> CP_MAX_CRL_DER). */
CP_API CP_WUR int cp_amd_crl_load(const uint8_t *buf, size_t len, cp_amd_crl **ret);
CP_API cp_amd_crl *cp_amd_crl_free(cp_amd_crl *c);
/* Verify the CRL (signature by ark with RSASSA-PSS SHA-384: CP_ESIG; wrong
 * algorithm or issuer != ark's subject: CP_ECERT; thisUpdate <= now <
 * nextUpdate else CP_EEXPIRED) and look up cert's serial: CP_EREVOKED if
 * listed.  cert must be of ark's product (CP_ECERT).  The signature verdict
 * is cached in the CRL object per ARK. */
CP_API CP_WUR int cp_amd_crl_check(const cp_amd_crl *crl, const cp_amd_cert *ark, const cp_amd_cert *cert,
                                   int64_t now);

/* ---- AMD KDS URLs (https://kdsintf.amd.com) ---------------------------- */

/* VCEK: /vcek/v1/<Product>/<hwid>?blSPL=..&teeSPL=..&snpSPL=..&ucodeSPL=..
 * (Turin: 8-byte hwid, plus &fmcSPL=..).  base may be NULL for AMD's host;
 * trailing slashes of base are dropped.  hwid is lowercase hex, SPLs plain
 * decimal.  CP_EINVAL for an all-zero (masked) CHIP_ID, a Turin tcb without
 * has_fmc or a non-Turin tcb with it; CP_ETOOBIG if out (cap) is too small
 * (out is then ""). */
CP_API CP_WUR int cp_kds_vcek_url(const char *base, cp_snp_generation g, const uint8_t chip_id[64],
                                  const cp_snp_tcb *tcb, char *out, size_t cap);
/* kind: CP_AMD_CERT_VCEK (-> /vcek/v1/<P>/...) or CP_AMD_CERT_VLEK (/vlek/v1/<P>/...) */
CP_API CP_WUR int cp_kds_chain_url(const char *base, cp_snp_generation g, cp_amd_cert_kind kind, char *out,
                                   size_t cap);
CP_API CP_WUR int cp_kds_crl_url(const char *base, cp_snp_generation g, cp_amd_cert_kind kind, char *out,
                                 size_t cap);
CP_API CP_WUR int cp_kds_vlek_url(const char *base, cp_snp_generation g, const cp_snp_tcb *tcb, char *out,
                                  size_t cap);
#define CP_KDS_DEFAULT_BASE "https://kdsintf.amd.com"

#ifdef __cplusplus
}
#endif
#endif
