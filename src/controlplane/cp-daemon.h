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
        /* compute backend: "fake" (default) or "local" (docs/nodes.md), which
         * needs the attestation service's URL and the confpool-agent binary */
        const char *backend;
        const char *attestd_url;
        const char *agent_path;
        const char *min_tcb;     /* "bl=N,tee=N,snp=N,ucode=N": node policy minimum; NULL: none */
} cp_daemon_options;

/* Run until SIGINT/SIGTERM. */
CP_WUR int cp_daemon_run(const cp_daemon_options *o);
/* `confpoold sp create`: add a service principal to the state directory's
 * store and print {appId, displayName, password, tenant, subscription}
 * (the only time the secret is shown).  subscription NULL: the default. */
CP_WUR int cp_daemon_sp_create(const char *state_dir, const char *name, const char *subscription);

#endif
