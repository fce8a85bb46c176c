/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_CONTROLPLANE_RECONCILER_H
#define CP_CONTROLPLANE_RECONCILER_H

/* Drives in-progress operations to completion: pools toward their goal
 * (count, image, power state) through the compute backend, cluster and
 * resource-group operations toward their children's outcome.  Everything
 * it needs is in the store (operations are rows), so a restarted daemon
 * resumes where the killed one stopped.  Each step of one operation is one
 * transaction. */

#include "controlplane/cp-backend.h"
#include "controlplane/cp-diskkeys.h"
#include "controlplane/cp-nodes.h"
#include "controlplane/cp-lease.h"
#include "controlplane/cp-rules.h"
#include "service/store.h"

typedef struct cp_reconciler cp_reconciler;

CP_WUR int cp_reconciler_new(cp_store *s, const cp_rules *rules, cp_backend *backend, cp_reconciler **ret);
/* One pass over all in-progress operations; *ret_active: how many remain. */
CP_WUR int cp_reconciler_run_once(cp_reconciler *r, size_t *ret_active);
/* Node health (backends with attested nodes; docs/nodes.md): in every
 * settled pool (Succeeded, no operation running), a machine that is
 * Quarantined, whose node the backend reports Failed/Gone (e.g. its agent
 * died), or whose last heartbeat/attestation is older than the deadline
 * (cp_reconciler_set_heartbeat_deadline; 0: not checked) is marked Failed
 * and for deletion, and a "repair" operation replaces it (delete = stop +
 * crypto-erase, then a new node).  The background thread runs it after each
 * pass when the backend attests nodes.  *ret_replaced: machines marked. */
CP_WUR int cp_reconciler_check_health(cp_reconciler *r, size_t *ret_replaced);
void cp_reconciler_set_heartbeat_deadline(cp_reconciler *r, unsigned ms);
/* The node endpoints whose batched heartbeat times (cp_nodes_flush) the
 * health pass writes first (NULL: none; not owned). */
void cp_reconciler_set_nodes(cp_reconciler *r, cp_nodes *nodes);
/* Retire pool master keys in the key broker when a node-image upgrade
 * completes (the previous images' measurements) and when a pool is deleted
 * (borrowed; NULL: no broker). */
void cp_reconciler_set_diskkeys(cp_reconciler *r, cp_diskkeys *diskkeys);
/* upgradeSettings.maxSurge of a pool of `count` nodes: "N" (1..CP_MAX_SURGE_NODES)
 * or "N%" (1..100, of count rounded up, at least 1); NULL: AKS's default
 * "10%".  CP_EINVAL (message for a 400) for anything else, including "0"
 * (maxUnavailable is not supported). */
CP_WUR int cp_max_surge(const char *spec, long count, long *ret);
/* Background thread doing a pass every interval_ms. */
/* Replicas on one database: reconcile only while holding the lease, and
 * fence every write transaction with it (cp-lease.h).  Not owned. */
void cp_reconciler_set_lease(cp_reconciler *r, cp_lease *lease);
/* With a lease: the background thread reconciles only under this term, set
 * by the daemon once the new leader's backend recovered its nodes (a pass
 * before would see adoptable nodes as missing and boot them again). */
void cp_reconciler_set_ready_term(cp_reconciler *r, uint64_t term);
CP_WUR int cp_reconciler_start(cp_reconciler *r, unsigned interval_ms);
/* Stops the thread (if started) and frees. */
cp_reconciler *cp_reconciler_free(cp_reconciler *r);

#endif
