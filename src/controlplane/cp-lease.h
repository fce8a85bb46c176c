/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_CONTROLPLANE_LEASE_H
#define CP_CONTROLPLANE_LEASE_H

/*
 * The reconciler leader among confpoold replicas on one database
 * (docs/scale-out.md): one row `leader_lease(holder, term, expires_ms)`.
 * cp_lease_tick(), called every ~1 s by each replica, in one write
 * transaction (exclusive across replicas, service/store.h) renews the
 * lease of the replica that holds it, or takes over an expired one with
 * term + 1.  Times are the database's clock, so replicas' clocks do not
 * matter.  Fencing: cp_lease_check(), inside the transaction of every
 * reconciler or backend write, refuses (CP_EFENCED) unless this replica
 * still holds the lease with the term it was granted: a deposed leader
 * that wakes up (a long pause, a lost renewal) cannot write, and since a
 * takeover needs the same write lock, no write of the old term commits
 * after the new term began.
 */

#include <stdbool.h>
#include <stdint.h>

#include "service/store.h"

typedef struct cp_lease cp_lease;

/* ttl_ms: how long a lease lives without renewal (0: 5000). */
CP_WUR int cp_lease_new(cp_store *s, const char *holder, unsigned ttl_ms, cp_lease **ret);
cp_lease *cp_lease_free(cp_lease *l);

/* Acquire or renew.  *ret_became: this call made us leader (a new term). */
CP_WUR int cp_lease_tick(cp_lease *l, bool *ret_became);
/* In a write transaction: 0 while we hold the lease with our term, else
 * CP_EFENCED (and we step down). */
CP_WUR int cp_lease_check(cp_lease *l);
/* Our belief (no database access): leader, with which term. */
bool cp_lease_is_leader(cp_lease *l, uint64_t *ret_term);
/* Give up the lease on a clean shutdown (the next replica need not wait
 * for the expiry). */
void cp_lease_release(cp_lease *l);
/* The holder named in the row, "" if none (for /healthz). */
CP_WUR int cp_lease_holder(cp_lease *l, char *ret, size_t size);
const char *cp_lease_id(cp_lease *l);

#endif
