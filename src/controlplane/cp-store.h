/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_CONTROLPLANE_STORE_H
#define CP_CONTROLPLANE_STORE_H

/* confpoold's schema on top of the shared SQLite store: ARM resources as
 * JSON documents keyed by their lower-cased ID, long-running operations as
 * rows, machines (nodes) per pool, subscription features and providers,
 * and hashed operator tokens. */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "service/store.h"

#define CP_CP_SCHEMA_VERSION 6

CP_WUR int cp_cpstore_open(const char *db_path, cp_store **ret);
/* The migrations (exposed for tests). */
const cp_store_migration *cp_cpstore_migrations(size_t *ret_n);

/* Resources: kind is "rg", "cluster" or "pool". */
typedef struct cp_res_key {
        const char *id; /* ARM id as the client spelled it */
        const char *kind;
        const char *sub;
        const char *rg;
        const char *parent; /* parent ARM id (cluster of a pool, rg of a cluster) or NULL */
        const char *name;
        const char *location;
} cp_res_key;

CP_WUR int cp_res_get(cp_store *s, const char *id, json_t **ret_body, char ret_etag[40]);
/* The stored document text as is (malloc()ed). */
CP_WUR int cp_res_get_raw(cp_store *s, const char *id, char **ret, size_t *ret_len, char ret_etag[40]);
CP_WUR int cp_res_put(cp_store *s, const cp_res_key *k, json_t *body, const char *etag);
/* Replace the body of an existing resource (keeps its etag unless etag != NULL). */
CP_WUR int cp_res_update(cp_store *s, const char *id, json_t *body, const char *etag);
CP_WUR int cp_res_delete(cp_store *s, const char *id);
/* Array of bodies, ordered by creation; sub/rg/parent NULL = any. */
CP_WUR int cp_res_list(cp_store *s, const char *kind, const char *sub, const char *rg, const char *parent,
                       json_t **ret);
/* Bodies of one kind in a subscription + location. */
CP_WUR int cp_res_list_location(cp_store *s, const char *kind, const char *sub, const char *location, json_t **ret);
/* The same as one JSON array text "[...]" built from the stored documents
 * without re-parsing them (malloc()ed). */
CP_WUR int cp_res_list_raw(cp_store *s, const char *kind, const char *sub, const char *rg, const char *parent,
                           char **ret, size_t *ret_len);
/* Per-pool (vmSize, count) of the pools of a subscription + location not
 * being deleted, except exclude_id (SQLite JSON functions, no parsing here). */
typedef void (*cp_pool_usage_fn)(void *userdata, const char *vm_size, int64_t count);
CP_WUR int cp_res_pool_usage(cp_store *s, const char *sub, const char *location, const char *exclude_id,
                             cp_pool_usage_fn fn, void *userdata);
/* System pools of a cluster not being deleted, except exclude_id. */
CP_WUR int cp_res_count_system_pools(cp_store *s, const char *cluster_id, const char *exclude_id, unsigned *ret);
CP_WUR int cp_res_count(cp_store *s, const char *kind, const char *parent, unsigned *ret);

/* Operations */
typedef struct cp_op {
        char id[40];
        char sub[64];
        char location[64];
        char resource[600];  /* ARM id of the target */
        char kind[16];       /* "pool", "cluster", "rg" */
        char action[32];     /* create, update, delete, upgradeNodeImage, deleteMachines, abort */
        char status[16];     /* InProgress, Succeeded, Failed, Canceled */
        char start[40];
        char end[40];
        char error_code[64];
        char error_message[1024];
        char api_version[32];
} cp_op;

CP_WUR int cp_op_insert(cp_store *s, const cp_op *op);
CP_WUR int cp_op_get(cp_store *s, const char *id, cp_op *ret);
CP_WUR int cp_op_finish(cp_store *s, const char *id, const char *status, const char *code, const char *msg);
/* The in-progress operation on a resource (CP_ENOTFOUND if none). */
CP_WUR int cp_op_active_for(cp_store *s, const char *resource, cp_op *ret);
/* All in-progress operations, oldest first (malloc()ed array). */
CP_WUR int cp_op_list_active(cp_store *s, cp_op **ret, size_t *ret_n);

/* Machines */
typedef struct cp_machine {
        char pool[600]; /* pool ARM id */
        char name[64];
        int index;
        char handle[128]; /* backend handle, "" before the backend accepted it */
        char state[24];   /* Pending, Provisioning, Ready, Failed, Deleting */
        char image[128];
        char ip[48];
        char created[40];
        bool delete_requested;
        char version[24]; /* the Kubernetes version it was built with ("" before schema 5) */
} cp_machine;

CP_WUR int cp_machine_put(cp_store *s, const cp_machine *m);
CP_WUR int cp_machine_delete(cp_store *s, const char *pool, const char *name);
CP_WUR int cp_machine_list(cp_store *s, const char *pool, cp_machine **ret, size_t *ret_n);
CP_WUR int cp_machine_get(cp_store *s, const char *pool, const char *name, cp_machine *ret);

/* Features and providers: state strings as ARM prints them. */
CP_WUR int cp_feature_get(cp_store *s, const char *sub, const char *ns, const char *name, char ret_state[32],
                          int64_t *ret_changed_ms);
CP_WUR int cp_feature_set(cp_store *s, const char *sub, const char *ns, const char *name, const char *state,
                          int64_t changed_ms);
CP_WUR int cp_provider_get(cp_store *s, const char *sub, const char *ns, char ret_state[32]);
CP_WUR int cp_provider_set(cp_store *s, const char *sub, const char *ns, const char *state);

/* Tokens: SHA-256 hex of each operator token. */
CP_WUR int cp_token_add(cp_store *s, const char *id, const char *sha256_hex);
CP_WUR int cp_token_hashes(cp_store *s, char (**ret)[65], size_t *ret_n);

/* Lower-case copy of an ARM id (the key). */
void cp_id_lower(const char *in, char *out, size_t size);
/* Current UTC time as RFC 3339 with milliseconds. */
void cp_now_rfc3339(char buf[40]);
int64_t cp_now_ms(void);

#endif
