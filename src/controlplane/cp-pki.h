/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_CONTROLPLANE_PKI_H
#define CP_CONTROLPLANE_PKI_H

/*
 * confpoold's TLS PKI: a local CA (P-256, basicConstraints CA:TRUE critical,
 * keyUsage keyCertSign|cRLSign, 10 years) kept in the state directory as
 * ca.pem / ca-key.pem (0600), created on first use, and a server leaf
 * (P-256, CA:FALSE, digitalSignature, extKeyUsage serverAuth, SAN localhost,
 * 127.0.0.1, ::1 and the listen address, AKI/SKI) issued by it on every
 * start, written as tls-cert.pem (leaf then CA: the chain the server sends)
 * and tls-key.pem (0600).  Clients trust ca.pem (REQUESTS_CA_BUNDLE for az,
 * curl --cacert).
 */

#include <stddef.h>

#include "confpool/error.h"

/* *ret_chain_pem (leaf + CA) and *ret_key_pem are malloc()ed; wipe the key. */
CP_WUR int cp_pki_server_cert(const char *state_dir, const char *listen, unsigned leaf_days, char **ret_chain_pem,
                              char **ret_key_pem);

/* A kubelet client certificate (docs/kubernetes.md "Attested join"): the PEM
 * CSR must be signed by its key (EC or RSA) and name exactly O=system:nodes,
 * CN=system:node:<node>; the certificate (CA:FALSE, digitalSignature,
 * clientAuth, valid `seconds` from now, notBefore 5 min back or a tenth of
 * `seconds` if less) is issued by the CA of dir.  CP_EPOLICY with why
 * naming the refusal; *ret_pem malloc()ed. */
CP_WUR int cp_pki_kubelet_cert(const char *state_dir, const char *csr_pem, size_t len, const char *node, unsigned long seconds,
                               char **ret_pem, char *why, size_t why_size);

#endif
