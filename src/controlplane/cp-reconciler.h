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
#include "controlplane/cp-rules.h"
#include "shared/store.h"

typedef struct cp_reconciler cp_reconciler;

CP_WUR int cp_reconciler_new(cp_store *s, const cp_rules *rules, cp_backend *backend, cp_reconciler **ret);
/* One pass over all in-progress operations; *ret_active: how many remain. */
CP_WUR int cp_reconciler_run_once(cp_reconciler *r, size_t *ret_active);
/* Background thread doing a pass every interval_ms. */
CP_WUR int cp_reconciler_start(cp_reconciler *r, unsigned interval_ms);
/* Stops the thread (if started) and frees. */
cp_reconciler *cp_reconciler_free(cp_reconciler *r);

#endif
