/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_CONTROLPLANE_BACKEND_H
#define CP_CONTROLPLANE_BACKEND_H

/*
 * The compute backend the reconciler drives.  Calls must not block for
 * long: create_node starts a node and returns a handle, node_status polls.
 * create_node must be idempotent by (pool, node name): the reconciler
 * records a machine row before calling it and calls it again after a crash.
 * delete_node of an unknown handle succeeds.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "confpool/error.h"

typedef enum cp_node_state {
        CP_NODE_PROVISIONING = 0,
        CP_NODE_READY,
        CP_NODE_FAILED,
        CP_NODE_GONE,
        /* progress reported by a node agent (local backend); Ready is then
         * granted by the control plane's register endpoint, never by the
         * backend (see docs/nodes.md) */
        CP_NODE_ATTESTING,
        CP_NODE_UNLOCKING,
        CP_NODE_JOINING,
        /* stopped (deallocated) by stop_node: no processes, disk and vTPM
         * state kept; start_node boots it again */
        CP_NODE_STOPPED,
} cp_node_state;

const char *cp_node_state_name(cp_node_state s);

/*
 * A node's identity is (pool id, machine name), never the name alone
 * (docs/threat-model.md, issue 13 items 1 and 8): two pools, even of two
 * subscriptions, may hold machines of the same name.
 *
 * cp_node_scope: the pool's scope in backend handles, node directories and
 * disk ids, the first 16 hex digits of SHA-256(lowercased pool id) (ARM ids
 * compare case-insensitively).  ret gets 17 bytes.
 * cp_node_identity: "confpool-node:<pool id>/machines/<name>" (the pool id
 * as stored with the machine), what the local backend measures into PCR 15
 * and whose SHA-256 (cp_node_host_data) it puts into the SNP launch's
 * HOST_DATA; attestd reports it as x-ms-sevsnpvm-hostdata, the node
 * endpoints and each node's disk key's release policy require it.
 */
void cp_node_scope(const char *pool_id, char ret[17]);
CP_WUR int cp_node_identity(const char *pool_id, const char *name, char *ret, size_t size);
CP_WUR int cp_node_host_data(const char *pool_id, const char *name, uint8_t ret[32]);

typedef struct cp_node_spec {
        const char *pool_id;  /* ARM id of the agent pool */
        const char *name;     /* machine name */
        const char *vm_size;
        const char *image;    /* nodeImageVersion */
        const char *version;  /* the Kubernetes version (currentOrchestratorVersion) it is built with; may be NULL */
        bool confidential;
} cp_node_spec;

typedef struct cp_backend cp_backend;

typedef struct cp_backend_ops {
        const char *name;
        int (*create_node)(cp_backend *b, const cp_node_spec *spec, char *ret_handle, size_t handle_size);
        int (*node_status)(cp_backend *b, const char *handle, cp_node_state *ret_state, char *ret_ip, size_t ip_size,
                           char *ret_error, size_t error_size);
        int (*delete_node)(cp_backend *b, const char *handle);
        void (*free)(cp_backend *b);
        /* Optional (NULL: nodes are not attested).  The launch measurement a
         * node of spec must show: the published node image's, computed by
         * the backend that knows the firmware, image and vCPU count. */
        int (*expected_measurement)(cp_backend *b, const cp_node_spec *spec, uint8_t ret[48]);
        /* Optional: the host a node was placed on (for the machines API). */
        int (*node_host)(cp_backend *b, const char *handle, char *ret_host, size_t size);
        /* Optional (NULL: a stopped node needs nothing done): stop a node
         * (deallocate: its processes end, its OS disk, disk key and vTPM
         * state stay; node_status then says CP_NODE_STOPPED, also after a
         * restart of the daemon), and boot a stopped node again on them.
         * Both idempotent; stop of a booting node cancels its boot. */
        int (*stop_node)(cp_backend *b, const char *handle);
        int (*start_node)(cp_backend *b, const char *handle);
        /* Optional (NULL: refused): a node of a non-confidential size (no TEE:
         * nothing to attest, only the vTPM as Trusted Launch) authenticates to
         * register and heartbeat with the bootstrap token its backend gave it
         * ("cpboot.<64 hex>"): 0 if token is the node's (constant time),
         * CP_EBINDING otherwise (issue 16). */
        int (*check_bootstrap)(cp_backend *b, const char *handle, const char *token);
} cp_backend_ops;

struct cp_backend {
        const cp_backend_ops *ops;
};

/* The fake backend, a test backend (`confpoold --backend fake`, named
 * explicitly and warned about; docs/control-plane.md): no machines, stateless handles
 * "fake:<ms-created>:<fail>:<pool scope>/<name>", a node is Ready ready_delay_ms after its
 * creation (so it survives daemon restarts), Failed if fail() says so for
 * its VM size. */
typedef bool (*cp_fake_fail_fn)(void *userdata, const char *vm_size);
CP_WUR int cp_backend_fake_new(unsigned ready_delay_ms, cp_fake_fail_fn fail, void *userdata, cp_backend **ret);
/* Its knobs, the "fakeBackend" member of confpoold's configuration file:
 * {"readyDelayMs": 0..3600000 (default 500), "failSizes": [VM size, ...]}.
 * CP_EFORMAT for anything else; NULL is the defaults. */
CP_WUR int cp_backend_fake_check_config(const json_t *cfg);
CP_WUR int cp_backend_fake_from_config(const json_t *cfg, cp_backend **ret);
cp_backend *cp_backend_free(cp_backend *b);

#endif
