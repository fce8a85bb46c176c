/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_CONTROLPLANE_K8S_H
#define CP_CONTROLPLANE_K8S_H

/*
 * The Kubernetes API of each cluster (docs/kubernetes.md), served by
 * confpoold under /k8s/<cluster resourceUID>/ over its TLS:
 *   k8s-api.c       entry, routing, Status errors, authentication + RBAC
 *   k8s-discovery.c /version, /api, /apis, resource lists, OpenAPI
 *   k8s-objects.c   the objects (Nodes, Leases, Events, Namespaces): their
 *                   store, resourceVersions, the sync from machines
 *   k8s-select.c    label and field selectors (pure)
 *   k8s-patch.c     merge and strategic merge patches of a Node (pure)
 *   k8s-table.c     meta.k8s.io/v1 Table rendering (pure)
 *   k8s-watch.c     watch streams
 */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/error.h"

/* ---- selectors ---------------------------------------------------------- */

#define CP_K8S_MAX_REQS 16
#define CP_K8S_MAX_VALUES 8

typedef enum cp_k8s_op {
        CP_K8S_EQ,     /* k=v, k==v */
        CP_K8S_NE,     /* k!=v */
        CP_K8S_IN,     /* k in (a,b) */
        CP_K8S_NOTIN,  /* k notin (a,b) */
        CP_K8S_EXISTS, /* k */
        CP_K8S_ABSENT, /* !k */
} cp_k8s_op;

typedef struct cp_k8s_req {
        char key[320];
        cp_k8s_op op;
        size_t n_values;
        char values[CP_K8S_MAX_VALUES][64];
} cp_k8s_req;

typedef struct cp_k8s_selector {
        size_t n;
        cp_k8s_req reqs[CP_K8S_MAX_REQS];
} cp_k8s_selector;

/* A label selector ("a=b,c!=d,e in (f,g),!h"); NULL or "" selects all.
 * CP_EFORMAT with a message naming what was refused. */
CP_WUR int cp_k8s_label_selector_parse(const char *s, cp_k8s_selector *ret);
/* A field selector: only =, ==, != (kube-apiserver's grammar). */
CP_WUR int cp_k8s_field_selector_parse(const char *s, cp_k8s_selector *ret);
bool cp_k8s_labels_match(const cp_k8s_selector *sel, const json_t *labels /* object or NULL */);
/* The field selector against an object; *unsupported is set to the first
 * field the kind does not support (kube-apiserver: 400 "field label not
 * supported: X"). */
bool cp_k8s_fields_match(const cp_k8s_selector *sel, const char *kind, const json_t *obj, const char **unsupported);

/* ---- patches ------------------------------------------------------------- */

typedef enum cp_k8s_patch_type {
        CP_K8S_PATCH_MERGE,     /* application/merge-patch+json (RFC 7386) */
        CP_K8S_PATCH_STRATEGIC, /* application/strategic-merge-patch+json: lists replace (Node's
                                 * taints and addresses have no merge key), $setElementOrder ignored */
        CP_K8S_PATCH_JSON,      /* application/json-patch+json: refused */
} cp_k8s_patch_type;

/* The patch type of a Content-Type; -1 when not a patch type. */
int cp_k8s_patch_type_of(const char *content_type);
/* Apply patch to a copy of obj (*ret, new reference).  CP_EFORMAT when the
 * patch is not an object or holds a directive this server does not
 * support ($patch, $retainKeys, $deleteFromPrimaryList). */
CP_WUR int cp_k8s_patch_apply(cp_k8s_patch_type t, const json_t *obj, const json_t *patch, json_t **ret);

/* What a user may change on a Node: labels and annotations that are not
 * reserved, taints (not the attestation taint), spec.unschedulable.  0 when
 * `after` only changes those against `before`; else CP_EPOLICY (403:
 * reserved label or taint) or CP_EINVAL (422: a field that cannot be
 * changed), with a message naming it. */
CP_WUR int cp_k8s_node_change_check(const json_t *before, const json_t *after, const json_t *system_labels);
/* Reserved label prefixes (AKS refuses changes to them since 2021-08-19). */
bool cp_k8s_label_reserved(const char *key);
#define CP_K8S_ATTEST_TAINT "kubernetes.azure.com/attestation"

/* ---- tables -------------------------------------------------------------- */

/* Whether an Accept header asks for a meta.k8s.io/v1 (or v1beta1) Table. */
bool cp_k8s_wants_table(const char *accept);
/* A Table of the objects of kind ("Node", "Lease", "Namespace", "Event",
 * others: NAME, AGE) at time now (seconds); include "Object" (the whole
 * object), "None", else PartialObjectMetadata.  NULL on OOM. */
json_t *cp_k8s_table(const char *kind, const json_t *items, int64_t now, const char *include, const char *rv);
/* "5m", "3h", "2d" as kubectl prints ages. */
void cp_k8s_age(int64_t seconds, char out[24]);

/* ---- store growth (k8s-gc.c) --------------------------------------------- */

struct cp_store;
/* The periodic store clean-up (compaction, Event TTL, deleted clusters'
 * objects) in its own transaction, when due (at most once a minute per
 * process; also run from API requests): the leader's reconciler calls it. */
CP_WUR int cp_k8s_gc_tick(struct cp_store *s);

#endif
