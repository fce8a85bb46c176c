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
 * the certificate and its key are written to kubelet-client-current.pem
 * (0600, one file, as kubelet keeps it) in the node directory.
 * Rotation, as kubelet rotates its client certificate: after a random
 * 70-90 % of its lifetime (fixed per certificate), a new key and CSR are
 * POSTed as the node with the current certificate; the new pair is kept in
 * kubelet-client-next.pem, used from the next heartbeat on (its first use
 * makes the control plane refuse the old one), then renamed over the
 * current one.  A crash anywhere leaves a pair that works.
 */

#define CP_KUBELET_CURRENT "kubelet-client-current.pem"
#define CP_KUBELET_NEXT "kubelet-client-next.pem"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/diskkey.h"

/* kube: {"server", "bootstrapKeyId"} of the register answer; kc: the key
 * broker (disk_id replaced); ca_file: the control plane's CA (NULL: the
 * system's).  0, or a negative cp_err with the refusal in its message. */
CP_WUR int cp_kubelet_bootstrap(const json_t *kube, const cp_diskkey_kbs_config *kc, const char *attestation_token,
                                const char *name, const char *ca_file, const char *out_dir);

/* One heartbeat over mTLS with kubelet-client-current.pem (as a kubelet's lease
 * controller and node status loop do): PATCH its Lease in kube-node-lease
 * (holderIdentity, renewTime now, leaseDurationSeconds 40), then its Node's
 * status (the Ready condition's lastHeartbeatTime).  The attested heartbeat
 * to the control plane stays the attestation channel; this is the node's
 * Kubernetes credential.  0, or a negative cp_err naming the refusal. */
CP_WUR int cp_kubelet_renew(const json_t *kube, const char *name, const char *ca_file, const char *node_dir);

/* Whether the certificate in pair is due for renewal at now (Unix s): 1 or
 * 0 (*ret_at: when it is), or a negative cp_err if it cannot be read. */
CP_WUR int cp_kubelet_rotation_due(const char *pair, int64_t now, int64_t *ret_at);

#endif
