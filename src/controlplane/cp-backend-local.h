/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_CONTROLPLANE_BACKEND_LOCAL_H
#define CP_CONTROLPLANE_BACKEND_LOCAL_H

/*
 * The local compute backend (docs/nodes.md): simulated SEV-SNP hosts, each
 * a software AMD-SP (src/shared/amdsp.h) serving its guest-request channel
 * on a unix socket; every node a directory with its own swtpm vTPM, a
 * measured boot into it (the backend plays the firmware), an SNP launch on
 * its host and a confpool-agent process that attests and registers.
 */

#include "confpool/snp_report.h"
#include "controlplane/cp-backend.h"
#include "controlplane/cp-diskkeys.h"

typedef struct cp_local_launch {
        char kernel_path[4096]; /* the kernel this node boots (its copy of the image's) */
        bool debug;             /* GUEST_POLICY DEBUG (SNP), TDATTRIBUTES.DEBUG (TDX) */
        char tdvf_path[4096];   /* TDX: the firmware the TD is built from ("": the backend's OVMF.fd) */
        /* TDX: an Azure TDX CVM (issue 16): the software paravisor's HCL
         * report in the vTPM, the host's quote endpoint, the agent with
         * "evidence": "azure-hcl" (default: cp_local_options.tdx_azure_hcl) */
        bool azure_hcl;
        /* test hook: the paravisor writes runtime data its TDREPORT does not bind */
        bool hcl_alter_runtime_data;
} cp_local_launch;

/* Test hook: called before a node boots, may change what it boots. */
typedef void (*cp_local_prepare_fn)(void *userdata, const cp_node_spec *spec, const char *node_dir,
                                    cp_local_launch *launch);

typedef struct cp_local_options {
        const char *state_dir;        /* required: images/, nodes/ (and hosts/ by default) */
        const char *hosts_dir;        /* NULL: <state_dir>/hosts (tests share one across runs) */
        const char *agent_path;       /* required: the confpool-agent binary */
        const char *swtpm_path;       /* NULL: "swtpm" from PATH */
        const char *ovmf_path;        /* NULL: /usr/share/ovmf/OVMF.fd */
        const char *attestd_url;      /* may be set later (cp_backend_local_set_attestd_url) */
        const char *controlplane_url; /* may be set later (cp_backend_local_set_controlplane_url) */
        unsigned hosts_per_generation;/* 0: 2 */
        unsigned heartbeat_ms;        /* agents' heartbeat period; 0: 5000 */
        unsigned reattest_s;          /* agents' re-attestation period; 0: 3600 */
        cp_local_prepare_fn prepare;
        void *prepare_userdata;
        /* The key broker's disk keys (borrowed; outlives the backend): each
         * OS disk is LUKS2-encrypted with a broker key before first boot,
         * released to the node's TEE key, crypto-erased on delete.  NULL:
         * the local STAND-IN disk key (no broker; docs/nodes.md). */
        cp_diskkeys *diskkeys;
        /* Boot workers: create_node only queues a node's boot (it reports
         * Provisioning meanwhile); this many threads boot nodes outside
         * the caller's locks.  0: twice the online CPUs, at least 3; at
         * most 8. */
        unsigned boot_workers;
        /* Niceness (0..19) of the node processes (swtpm, agent): on one
         * machine emulating many, keeps the control plane responsive while
         * hundreds of nodes generate keys (bench/bench-nodes.c).  0: none. */
        int node_nice;
        /* TDX nodes boot as Azure TDX CVMs do: under the software paravisor
         * (HCL report with the TDREPORT in vTPM NV 0x01400001, the host's
         * quote endpoint at IMDS's /acc/tdquote), their agents attesting
         * with "evidence": "azure-hcl" (POST /attest/AzureGuest).  false:
         * the TD's own guest interface (POST /attest/TdxVm).  Issue 16. */
        bool tdx_azure_hcl;
        /* Pre-provisioned vTPMs (issue 19, docs/nodes.md): keep this many
         * vTPM states ready in <state_dir>/vtpm-pool/, each a fresh swtpm
         * state (its own seeds) with an AK (RSA-2048, under an ECC P-256
         * SRK) made persistent at 0x81000003, as a cloud provisions a VM's
         * vTPM at create; a booting node takes one (moved, never shared)
         * and its agent quotes with that AK instead of creating one; with
         * none ready the agent creates its AK as before.  Made by
         * vtpm_pool_workers threads (0: online CPUs, at most 8), their
         * swtpm at nice 19.  0: no pool. */
        unsigned vtpm_pool;
        unsigned vtpm_pool_workers;
} cp_local_options;

CP_WUR int cp_backend_local_new(const cp_local_options *o, cp_backend **ret);
/* vTPM states ready in the pool (cp_local_options.vtpm_pool). */
size_t cp_backend_local_vtpm_pool_ready(cp_backend *b);
/* The base URL agents register with (the daemon knows it after binding). */
CP_WUR int cp_backend_local_set_controlplane_url(cp_backend *b, const char *url);
CP_WUR int cp_backend_local_set_attestd_url(cp_backend *b, const char *url);
/* The CA (PEM file, absolute path) an https control plane's certificate
 * chains to: agents trust it for register and heartbeat (node.json
 * "controlplaneCaFile").  NULL: none (http, or a publicly trusted one). */
CP_WUR int cp_backend_local_set_controlplane_ca(cp_backend *b, const char *ca_file);
/* The ARK (DER) of the hosts of a generation (opening/creating them):
 * what the attestation service must be given as an extra ARK. */
CP_WUR int cp_backend_local_ark(cp_backend *b, cp_snp_generation gen, uint8_t **ret, size_t *ret_len);
/* Firmware update of every host of a generation (tests: a host below the
 * policy's minimum TCB). */
CP_WUR int cp_backend_local_set_host_tcb(cp_backend *b, cp_snp_generation gen, const cp_snp_tcb *tcb);
/* The software TDX platform (issue 16): its emulated Intel SGX Root CA
 * (PEM, malloc()ed; also in <hosts>/tdx/root.pem) and the URL of its PCS
 * (collateral for the attestation service; the port is kept in
 * <hosts>/tdx/pcs.port across restarts).  Opens (creates) it. */
CP_WUR int cp_backend_local_tdx_platform(cp_backend *b, char **ret_root_pem, size_t *ret_len, char *ret_url,
                                         size_t url_size);
/* A TCB recovery of the emulated Intel (cp_tdx_pcs_tcb_recovery): a new
 * UpToDate level with TDX TCB component 2 one above the best host's, every older
 * level OutOfDate with the advisory; update_host (NULL: none) follows it
 * (microcode + module update), the other TDX hosts fall OutOfDate and get
 * no new nodes. */
CP_WUR int cp_backend_local_tdx_recovery(cp_backend *b, const char *advisory, const char *update_host);
/* Send a signal to a node's agent (SIGUSR1: re-attest now). */
CP_WUR int cp_backend_local_signal(cp_backend *b, const char *handle, int sig);

/* Open (creating on first use) the hosts of every generation and return
 * the paths of the generations' ARKs (DER; hosts of a generation share
 * one; a malloc'd array of malloc'd strings): what the attestation service
 * must trust. */
CP_WUR int cp_backend_local_open_hosts(cp_backend *b, char ***ret_paths, size_t *ret_n);
/* Restart recovery (docs/nodes.md): for every node persisted under
 * <state_dir>/nodes, either adopt it or reboot it.  A node whose boot had
 * finished (node.json), whose agent and swtpm a previous daemon (killed,
 * not stopped) left running (pid files, checked against their command
 * lines), that talks to this daemon's control-plane and attestation URLs
 * and sits on one of this backend's hosts is adopted: it keeps running
 * (Ready stays Ready; its processes are not our children).  Any other node
 * has what is left of it stopped and its boot queued again (fresh launch
 * and attestation; also for a node whose boot had not finished:
 * spec.json), keeping its OS disk and its disk key.  Call after
 * cp_backend_local_set_controlplane_url, before the reconciler starts.
 * *ret_adopted, *ret_restarted (either may be NULL): the nodes adopted,
 * the nodes queued. */
CP_WUR int cp_backend_local_recover(cp_backend *b, unsigned *ret_adopted, unsigned *ret_restarted);

/* A deposed leader (its lease lost to another replica, issue 17) hands the
 * backend's work over: queued boots are dropped and running ones stop at
 * their next step (killing what they started, writing nothing: the node's
 * directory, spec and disk stay for the next leader's
 * cp_backend_local_recover), the nodes are forgotten without being
 * stopped (they keep running and heartbeating, the next leader adopts
 * them), the hosts' threads end and their sockets close without being
 * unlinked (the next leader binds the same paths), the emulated Intel PCS
 * stops listening on its kept port (the next leader serves it there).
 * *ret_left: the running
 * nodes left.  The backend can lead again: recover adopts them back. */
CP_WUR int cp_backend_local_detach(cp_backend *b, unsigned *ret_left);

#endif
