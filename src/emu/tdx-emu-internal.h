/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_EMU_TDX_EMU_INTERNAL_H
#define CP_EMU_TDX_EMU_INTERNAL_H

/* Between the software TDX's units: the PCS issues the platforms' PCK
 * certificates and names the QE's and module's identities. */

#include <jansson.h>
#include <openssl/x509.h>

#include "emu/tdx_emu.h"

#define TDX_QE_ISVPRODID 2u

/* A PCK certificate for pub with Intel's SGX extensions (ext), valid from
 * now - 1 day for 7 years, issued by the Platform CA. */
int tdx_pcs_issue_pck(cp_tdx_pcs *p, EVP_PKEY *pub, const cp_tdx_pck_ext *ext, int64_t now, X509 **ret);
/* PEM of leaf, Platform CA, root (malloc()ed, NUL-terminated). */
int tdx_pcs_chain_pem(cp_tdx_pcs *p, X509 *leaf, char **ret, size_t *ret_len);
/* The QE's MRSIGNER and its UpToDate ISVSVN. */
void tdx_pcs_qe(const cp_tdx_pcs *p, uint8_t mrsigner[32], uint16_t *isvsvn);
/* Register the platform's PCK (served by the pckcert route). */
void tdx_pcs_register(cp_tdx_pcs *p, X509 *pck, const cp_tdx_pck_ext *ext);

/* The PCS's service (created on first start) and its registered PCK. */
struct cp_svc **tdx_pcs_svc(cp_tdx_pcs *p);
int tdx_pcs_pck_get(cp_tdx_pcs *p, X509 **ret, cp_tdx_pck_ext *ext);

/* One exchange over a TD's emulated channel (tdx_chan.c): the answer's
 * payload, at most max bytes, malloc()ed. */
int tdx_chan_call(const char *path, uint32_t op, const uint8_t *in, size_t in_len, size_t max, uint8_t **ret,
                  size_t *ret_len);

/* ECDSA P-256 / SHA-256 with Intel's raw r || s form. */
int tdx_emu_sign(EVP_PKEY *key, const uint8_t *data, size_t len, uint8_t sig[64]);
int tdx_emu_p256_keygen(EVP_PKEY **ret);
/* PEM of one certificate appended to a growable buffer. */
int tdx_emu_pem_append(X509 *x, char **buf, size_t *len);

/* Persistence helpers (cp_tdx_pcs_open, cp_tdx_host_open). */
int tdx_emu_key_to_json(EVP_PKEY *k, json_t *o, const char *name);
int tdx_emu_key_from_json(const json_t *o, const char *name, EVP_PKEY **ret);
int tdx_emu_hex_to_json(json_t *o, const char *name, const uint8_t *p, size_t n);
int tdx_emu_hex_from_json(const json_t *o, const char *name, uint8_t *out, size_t n);
json_t *tdx_emu_tcb_json(const cp_tdx_tcb *t);
int tdx_emu_tcb_from_json(const json_t *o, cp_tdx_tcb *ret);
/* Write o (taken) to path through path.tmp and rename, mode 0600. */
int tdx_emu_write_json(const char *path, json_t *o);

#endif
