/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_LIBCONFPOOL_SNP_CERT_INTERNAL_H
#define CP_LIBCONFPOOL_SNP_CERT_INTERNAL_H

/* Shared between snp_cert.c, snp_trust.c, snp_crl.c and kds_url.c. */

#include <stdbool.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "basic/cleanup.h"
#include "basic/cursor.h"
#include "confpool/snp_cert.h"

CP_DEFINE_FREEP(cp_amd_cert, cp_amd_cert_free)

struct cp_amd_cert {
        X509 *x509;
        uint8_t *der;
        size_t der_len;
        cp_amd_cert_info info;
        bool is_ca;             /* basicConstraints CA:TRUE */
        bool pss_profile;       /* signatureAlgorithm is AMD's RSASSA-PSS SHA-384 profile */
        bool self_issued;       /* issuer name == subject name */
};

/* KDS product line name ("Milan", "Genoa", "Turin") or NULL.  Private copy so
 * this module does not depend on snp_report.c. */
static inline const char *cp_amd_product_str(cp_snp_generation g) {
        switch (g) {
        case CP_SNP_GEN_MILAN:
                return "Milan";
        case CP_SNP_GEN_GENOA:
                return "Genoa";
        case CP_SNP_GEN_TURIN:
                return "Turin";
        default:
                return NULL;
        }
}

/* Does the DER AlgorithmIdentifier of a signature match AMD's profile
 * (RSASSA-PSS, SHA-384, MGF1-SHA-384, salt 48, trailer absent or 1)? */
bool cp_amd_sigalg_is_pss384(const X509_ALGOR *alg);

/* Verify child's signature with parent's key (AMD PSS profile enforced);
 * CP_ESIG / CP_ECERT. */
CP_WUR int cp_amd_cert_verify_signed_by(const cp_amd_cert *child, const cp_amd_cert *parent);

/* Check now lies in [not_before, not_after]; CP_EEXPIRED naming the cert. */
CP_WUR int cp_amd_cert_check_time(const cp_amd_cert *c, int64_t now);

/* Full CA profile: kind ARK/ASK/ASVK, RSA-4096 key, CA basic constraints,
 * keyUsage certSign. */
CP_WUR int cp_amd_cert_check_ca(const cp_amd_cert *c);

/* Parse one PEM block with the given label from the cursor-like (buf, len)
 * starting at *off; on success *off points past the END line. */
CP_WUR int cp_amd_pem_next(const uint8_t *buf, size_t len, size_t *off, const char *label, size_t max_der,
                           uint8_t **ret_der, size_t *ret_der_len);
/* true if buf (after leading whitespace) starts a PEM block */
bool cp_amd_looks_like_pem(const uint8_t *buf, size_t len);
/* Read one DER tag and definite length (single-byte tags, minimal lengths,
 * body must fit the remaining input: CP_EFORMAT otherwise).  On failure the
 * cursor is unchanged. */
CP_WUR int cp_amd_der_header(cp_cursor *c, uint8_t *ret_tag, size_t *ret_len);
/* Validate the outer DER SEQUENCE header and that it spans exactly len
 * bytes (CP_EFORMAT if truncated/malformed, CP_ETRAILING if data follows).
 * *ret_total receives the encoded length of the element. */
CP_WUR int cp_amd_der_outer(const uint8_t *buf, size_t len, size_t *ret_total);

#endif
