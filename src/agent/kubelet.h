/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_AGENT_KUBELET_H
#define CP_AGENT_KUBELET_H

/*
 * The agent's side of the attested join (docs/kubernetes.md "Attested
 * join"): after its registration the control plane names a bootstrap key
 * of the key broker and its cluster's Kubernetes API; the agent releases
 * the key with its attestation token (secure key release, bound to this
 * node like its disk key), makes a P-256 key and a CSR for O=system:nodes,
 * CN=system:node:<name>, and POSTs it as a certificates.k8s.io/v1
 * CertificateSigningRequest with the token (hex of the 32 bytes) as bearer;
 * the certificate and its key are written to kubelet-client.pem and
 * kubelet-client-key.pem (0600) in the node directory.
 */

#include <jansson.h>
#include <stddef.h>

#include "agent/diskkey.h"

/* kube: {"server", "bootstrapKeyId"} of the register answer; kc: the key
 * broker (disk_id replaced); ca_file: the control plane's CA (NULL: the
 * system's).  0, or a negative cp_err with the refusal in its message. */
CP_WUR int cp_kubelet_bootstrap(const json_t *kube, const cp_diskkey_kbs_config *kc, const char *attestation_token,
                                const char *name, const char *ca_file, const char *out_dir);

#endif
