/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_CONTROLPLANE_RULES_H
#define CP_CONTROLPLANE_RULES_H

/*
 * Server-side node pool rules of confpoold, as data tables: the VM size
 * catalogue (vCPU, memory, TEE type, architecture, temp disk), the node OS
 * image matrix (OS SKU x Kubernetes minor -> image, CVM or not, feature flag,
 * retirement), the supported Kubernetes versions, quotas.  Defaults follow
 * aks-api.md and the seed documents; a JSON config overrides them (see
 * docs/control-plane.md, "Configuration").
 */

#include <jansson.h>
#include <stdbool.h>
#include <time.h>

#include "confpool/error.h"

typedef enum cp_tee {
        CP_TEE_NONE = 0,
        CP_TEE_SEV_SNP,
        CP_TEE_TDX,
} cp_tee;

typedef struct cp_vm_size {
        char name[64];
        unsigned vcpus;
        unsigned mem_gib;
        unsigned temp_gib; /* 0: no local temp disk */
        cp_tee tee;
        bool arm64;
} cp_vm_size;

typedef struct cp_os_image {
        char os_sku[32];     /* API osSKU this row serves */
        bool cvm;            /* a CVM image (else a normal image) */
        unsigned min_minor;  /* Kubernetes 1.<min_minor> ... 1.<max_minor> */
        unsigned max_minor;
        char gallery[32];    /* nodeImageVersion = gallery-definition-version */
        char definition[48];
        char os_name[32];    /* "Ubuntu 20.04" */
        char feature[64];    /* feature flag under Microsoft.ContainerService, "" if none */
        char retired[16];    /* "YYYY-MM-DD" (node images removed, no scaling) or "" */
        char migrate_to[32]; /* osSKU to migrate to when retired */
} cp_os_image;

typedef struct cp_k8s_version {
        char version[16]; /* "1.33.2" */
        bool is_default;
        bool preview;
} cp_k8s_version;

typedef struct cp_rules cp_rules;

/* Built-in defaults. */
CP_WUR int cp_rules_new(cp_rules **ret);
cp_rules *cp_rules_free(cp_rules *r);
/* Apply a config document (object; unknown keys are refused). */
CP_WUR int cp_rules_load_json(cp_rules *r, const json_t *cfg);

const cp_vm_size *cp_rules_find_size(const cp_rules *r, const char *name);
size_t cp_rules_n_sizes(const cp_rules *r);
const cp_vm_size *cp_rules_size_at(const cp_rules *r, size_t i);
size_t cp_rules_n_images(const cp_rules *r);
const cp_os_image *cp_rules_image_at(const cp_rules *r, size_t i);
size_t cp_rules_n_versions(const cp_rules *r);
const cp_k8s_version *cp_rules_version_at(const cp_rules *r, size_t i);
const char *cp_rules_default_version(const cp_rules *r);
const char *cp_rules_image_date(const cp_rules *r);
unsigned cp_rules_vcpu_quota(const cp_rules *r, const char *location);
time_t cp_rules_now(const cp_rules *r);
unsigned cp_rules_retry_after(const cp_rules *r);
/* The "fakeBackend" member of the configuration (cp_backend_fake_from_config), or NULL. */
const json_t *cp_rules_fake_backend(const cp_rules *r);
unsigned cp_rules_feature_delay_ms(const cp_rules *r);
/* Does the api-version pass for this provider namespace? */
bool cp_rules_api_version_ok(const cp_rules *r, const char *ns, const char *v);

/* Name-only TEE classification (regex rule of aks-api.md 3.5). */
cp_tee cp_tee_from_size_name(const char *name);
const char *cp_tee_name(cp_tee t);

/* Kubernetes versions: "1.33" or "1.33.2" (no "v"). */
CP_WUR int cp_k8s_parse(const char *s, unsigned *ret_major, unsigned *ret_minor, int *ret_patch /* -1 absent */);
/* Resolve "1.33"/"1.33.2" to a supported full version. */
const cp_k8s_version *cp_rules_resolve_version(const cp_rules *r, const char *v);

/* Node image versions (AgentBaker scheme) "<Gallery>-<Definition>-<YYYYMM.DD.patch>";
 * the legacy CVM spelling "2004cvmcontainerd" is accepted and canonicalised
 * to "2004gen2CVMcontainerd". */
typedef struct cp_node_image {
        char gallery[32];
        char definition[48]; /* canonical spelling */
        char version[16];    /* YYYYMM.DD.patch */
        bool legacy_spelling;
        bool cvm;
} cp_node_image;
CP_WUR int cp_node_image_parse(const char *s, cp_node_image *ret);

/* The image row for (osSKU, CVM?, Kubernetes minor), NULL if none. */
const cp_os_image *cp_rules_image_for(const cp_rules *r, const char *os_sku, bool cvm, unsigned minor);

/* A validation failure, carried as the ARM error envelope fields. */
typedef struct cp_rule_error {
        unsigned status; /* HTTP status */
        char code[64];
        char target[96];
        char message[512];
} cp_rule_error;

int cp_rule_fail(cp_rule_error *e, unsigned status, const char *code, const char *target, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));

typedef bool (*cp_feature_check)(void *userdata, const char *feature /* "Microsoft.ContainerService/X" */);

typedef struct cp_pool_context {
        const char *cluster_version;   /* full "1.33.2" of the cluster control plane */
        const char *location;
        const json_t *existing;        /* properties of the existing pool, NULL on create */
        unsigned other_system_pools;   /* System pools of the cluster other than this one */
        unsigned vcpus_in_use;         /* in this subscription + location, excluding this pool */
        cp_feature_check feature_registered;
        void *userdata;
} cp_pool_context;

/* Validate an agent pool PUT (properties object, modified in place: read-only
 * fields dropped, defaults filled, derived fields set).  Returns 0, or
 * CP_EPOLICY with *err filled. */
CP_WUR int cp_rules_validate_pool(const cp_rules *r, const cp_pool_context *ctx, const char *name, json_t *props,
                                  cp_rule_error *err);

/* Validate names (cluster, resource group, agent pool, machine). */
bool cp_name_cluster_ok(const char *s);
bool cp_name_pool_ok(const char *s);
bool cp_name_rg_ok(const char *s);
bool cp_name_machine_ok(const char *s);

/* The system node labels of a pool (kubernetes.azure.com/..., with
 * security-type=ConfidentialVM on CVM pools), as a new object. */
json_t *cp_rules_node_labels(const cp_rules *r, const char *pool, const json_t *props);

/* Scale check for an existing pool (retired node OS). */
CP_WUR int cp_rules_check_retired(const cp_rules *r, const json_t *props, cp_rule_error *err);

#endif
