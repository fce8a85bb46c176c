/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_CONTROLPLANE_DAEMON_H
#define CP_CONTROLPLANE_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "confpool/error.h"

typedef struct cp_daemon_options {
        const char *state_dir;   /* required; created 0700 if missing */
        const char *listen;      /* numeric address; NULL: 127.0.0.1 */
        uint16_t port;           /* 0: ephemeral */
        const char *config_path; /* JSON rules/config file or NULL */
        const char *port_file;   /* write the bound port here (atomic) or NULL */
        bool force_tls;          /* TLS even on loopback */
        unsigned threads;
        unsigned reconcile_interval_ms;
        /* compute backend, required (no default): "local" (docs/nodes.md),
         * which needs the attestation service's URL and the confpool-agent
         * binary, or "fake", a test backend that warns at start */
        const char *backend;
        const char *attestd_url;
        const char *agent_path;
        /* local: the firmware (OVMF with TDVF metadata) node images are
         * published with; NULL: /usr/share/ovmf/OVMF.fd */
        const char *ovmf_path;
        bool prepare_hosts;      /* local: create the hosts, print their ARK paths, exit */
        unsigned vtpm_pool;      /* local: pre-provisioned vTPMs kept ready (cp_local_options.vtpm_pool); 0: none */
        const char *min_tcb;     /* "bl=N,tee=N,snp=N,ucode=N": node policy minimum; NULL: none */
        /* local backend: the key broker for the nodes' OS disk keys (docs/nodes.md);
         * NULL kbs_url: the local stand-in disk key (no broker) */
        const char *kbs_url;
        const char *kbs_admin_token_file;   /* admin-scope bearer (the platform) */
        const char *kbs_release_token_file; /* release-scope bearer handed to nodes */
        /* the base URL of the links in the API's answers (Location,
         * Azure-AsyncOperation), e.g. "https://cp.example.com"; NULL:
         * http(s)://<listen>:<port>.  Never taken from a request's Host. */
        const char *public_url;
        /* the store: "sqlite:PATH" or "postgresql://..." (docs/scale-out.md);
         * NULL: <state_dir>/confpoold.db.  On PostgreSQL several replicas
         * share it: any serves the API, the lease holder reconciles. */
        const char *db;
        const char *replica_id;  /* the lease holder's name; NULL: hostname:pid:random */
        unsigned lease_ttl_ms;   /* 0: 5000 (renewed every fifth of it) */
        /* local backend with replicas: the control-plane URLs given to the
         * nodes' agents, comma-separated, the same list on every replica (the
         * agents fail over between them; a new leader adopts the nodes); NULL:
         * this replica's own URL */
        const char *agent_controlplane_urls;
        /* kubelet client certificates' lifetime (s); 0: one year */
        unsigned long cluster_signing_seconds;
        /* local backend: TDX nodes boot as Azure TDX CVMs (the software
         * paravisor, "evidence": "azure-hcl"; issue 16) instead of native TDs */
        bool tdx_azure_hcl;
} cp_daemon_options;

/* Run until SIGINT/SIGTERM. */
CP_WUR int cp_daemon_run(const cp_daemon_options *o);
/* `confpoold sp create`: add a service principal to the state directory's
 * store and print {appId, displayName, password, tenant, subscription}
 * (the only time the secret is shown).  subscription NULL: the default. */
CP_WUR int cp_daemon_sp_create(const char *state_dir, const char *name, const char *subscription);

#endif
