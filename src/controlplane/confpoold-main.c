/* SPDX-License-Identifier: Apache-2.0 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/codec.h"
#include "controlplane/cp-daemon.h"

static void usage(FILE *f) {
        fprintf(f, "Usage: confpoold --state-dir DIR [--listen ADDR] [--port N] [--config FILE]\n"
                   "                 [--port-file FILE] [--tls] [--threads N] [--reconcile-interval-ms N] [--public-url URL]\n"
                   "                 [--db sqlite:PATH | --db postgresql://...] [--replica-id NAME] [--lease-ttl-ms N]\n"
                   "                 [--agent-controlplane-urls URL,URL,...]  (local backend, replicas)\n"
                   "                 [--cluster-signing-duration D]  (kubelet client certificates; 8760h)\n"
                   "                 --backend local --attestd-url URL --agent PATH [--min-tcb SPEC] [--vtpm-pool N]\n"
                   "                 [--ovmf FILE]  (local: the firmware new node images are published with)\n"
                   "                  [--kbs-url URL --kbs-admin-token-file F --kbs-release-token-file F]\n"
                   "                  [--tdx-evidence native|azure-hcl]  (TDX nodes as Azure TDX CVMs: azure-hcl)\n"
                   "                 | --backend fake   (a test backend: no machines, nothing attested)\n"
                   "       confpoold --state-dir DIR --backend local --prepare-hosts   (print the hosts' ARKs)\n"
                   "       confpoold sp create --state-dir DIR --name NAME [--subscription GUID]\n");
}

static int sp_main(int argc, char **argv) {
        static const struct option opts[] = {
                {"state-dir", required_argument, NULL, 's'}, {"name", required_argument, NULL, 'n'},
                {"subscription", required_argument, NULL, 'S'}, {"help", no_argument, NULL, 'h'}, {0},
        };
        const char *dir = NULL, *name = NULL, *sub = NULL;
        int c;
        if (argc < 2 || strcmp(argv[1], "create") != 0) {
                fprintf(stderr, "Usage: confpoold sp create --state-dir DIR --name NAME [--subscription GUID]\n");
                return 2;
        }
        optind = 2;
        while ((c = getopt_long(argc, argv, "s:n:S:h", opts, NULL)) != -1) {
                switch (c) {
                case 's': dir = optarg; break;
                case 'n': name = optarg; break;
                case 'S': sub = optarg; break;
                case 'h':
                        printf("Usage: confpoold sp create --state-dir DIR --name NAME [--subscription GUID]\n");
                        return 0;
                default: return 2;
                }
        }
        if (!dir || !name || optind != argc) {
                fprintf(stderr, "Usage: confpoold sp create --state-dir DIR --name NAME [--subscription GUID]\n");
                return 2;
        }
        if (cp_daemon_sp_create(dir, name, sub) < 0) {
                fprintf(stderr, "confpoold: %s\n", cp_error_message());
                return 1;
        }
        return 0;
}

int main(int argc, char **argv) {
        if (argc >= 2 && strcmp(argv[1], "sp") == 0)
                return sp_main(argc - 1, argv + 1);
        static const struct option opts[] = {
                {"state-dir", required_argument, NULL, 's'}, {"listen", required_argument, NULL, 'l'},
                {"port", required_argument, NULL, 'p'},      {"config", required_argument, NULL, 'c'},
                {"port-file", required_argument, NULL, 'P'}, {"tls", no_argument, NULL, 't'},
                {"threads", required_argument, NULL, 'T'},   {"reconcile-interval-ms", required_argument, NULL, 'i'},
                {"backend", required_argument, NULL, 'b'},   {"attestd-url", required_argument, NULL, 'A'},
                {"agent", required_argument, NULL, 'g'},     {"min-tcb", required_argument, NULL, 'm'},
                {"prepare-hosts", no_argument, NULL, 'H'},
                {"kbs-url", required_argument, NULL, 'K'},   {"kbs-admin-token-file", required_argument, NULL, 'Y'},
                {"kbs-release-token-file", required_argument, NULL, 'R'},
                {"public-url", required_argument, NULL, 'U'},
                {"db", required_argument, NULL, 'D'},        {"replica-id", required_argument, NULL, 'I'},
                {"lease-ttl-ms", required_argument, NULL, 'L'},
                {"agent-controlplane-urls", required_argument, NULL, 'G'},
                {"ovmf", required_argument, NULL, 'O'},
                {"cluster-signing-duration", required_argument, NULL, 'S'},
                {"tdx-evidence", required_argument, NULL, 'E'},
                {"vtpm-pool", required_argument, NULL, 'V'},
                {"help", no_argument, NULL, 'h'},            {0},
        };
        cp_daemon_options o = {0};
        int c;
        while ((c = getopt_long(argc, argv, "s:l:p:c:P:tT:i:hb:A:g:m:HK:Y:R:U:D:I:L:G:S:O:V:E:", opts, NULL)) != -1) {
                char *end = NULL;
                unsigned long v = 0;
                if (c == 'L') {
                        v = strtoul(optarg, &end, 10);
                        if (!*optarg || *end || v < 1000 || v > 600000) {
                                fprintf(stderr, "confpoold: --lease-ttl-ms must be 1000..600000\n");
                                return 2;
                        }
                }
                if (c == 'V') {
                        v = strtoul(optarg, &end, 10);
                        if (!*optarg || *end || v > 1000) {
                                fprintf(stderr, "confpoold: --vtpm-pool must be 0..1000 (pre-provisioned vTPMs)\n");
                                return 2;
                        }
                }
                if (c == 'p' || c == 'T' || c == 'i') {
                        v = strtoul(optarg, &end, 10);
                        if (!*optarg || *end || v > 65535) {
                                fprintf(stderr, "confpoold: invalid number '%s'\n", optarg);
                                return 2;
                        }
                }
                switch (c) {
                case 's': o.state_dir = optarg; break;
                case 'l': o.listen = optarg; break;
                case 'p': o.port = (uint16_t) v; break;
                case 'c': o.config_path = optarg; break;
                case 'P': o.port_file = optarg; break;
                case 't': o.force_tls = true; break;
                case 'T': o.threads = (unsigned) v; break;
                case 'i': o.reconcile_interval_ms = (unsigned) v; break;
                case 'b': o.backend = optarg; break;
                case 'A': o.attestd_url = optarg; break;
                case 'g': o.agent_path = optarg; break;
                case 'V': o.vtpm_pool = (unsigned) v; break;
                case 'O': o.ovmf_path = optarg; break;
                case 'm': o.min_tcb = optarg; break;
                case 'H': o.prepare_hosts = true; break;
                case 'K': o.kbs_url = optarg; break;
                case 'Y': o.kbs_admin_token_file = optarg; break;
                case 'R': o.kbs_release_token_file = optarg; break;
                case 'U': o.public_url = optarg; break;
                case 'D': o.db = optarg; break;
                case 'I': o.replica_id = optarg; break;
                case 'L': o.lease_ttl_ms = (unsigned) v; break;
                case 'G': o.agent_controlplane_urls = optarg; break;
                case 'E':
                        if (strcmp(optarg, "native") != 0 && strcmp(optarg, "azure-hcl") != 0) {
                                fprintf(stderr, "confpoold: --tdx-evidence must be \"native\" or \"azure-hcl\", not "
                                                "'%s'\n", optarg);
                                return 2;
                        }
                        o.tdx_azure_hcl = strcmp(optarg, "azure-hcl") == 0;
                        break;
                case 'S': {
                        uint64_t secs = 0;
                        if (cp_duration_parse(optarg, 10ULL * 365 * 86400, &secs) < 0 || secs < 20) {
                                fprintf(stderr, "confpoold: --cluster-signing-duration: %s\n",
                                        secs ? "at least 20s" : cp_error_message());
                                return 2;
                        }
                        o.cluster_signing_seconds = (unsigned long) secs;
                        break;
                }
                case 'h': usage(stdout); return 0;
                default: usage(stderr); return 2;
                }
        }
        if (!o.state_dir || optind != argc) {
                usage(stderr);
                return 2;
        }
        /* block the stop signals in every thread; the main thread sigwait()s */
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &set, NULL);
        signal(SIGPIPE, SIG_IGN);
        int r = cp_daemon_run(&o);
        if (r < 0) {
                fprintf(stderr, "confpoold: %s\n", cp_error_message());
                return 1;
        }
        return 0;
}
