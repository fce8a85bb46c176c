/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/clock.h"
#include "basic/cleanup.h"
#include "basic/fileio.h"
#include "basic/limits.h"
#include "basic/secure.h"
#include "controlplane/cp-backend-local.h"
#include "controlplane/cp-aad.h"
#include "controlplane/cp-daemon.h"
#include "controlplane/cp-diskkeys.h"
#include "controlplane/cp-lease.h"
#include "controlplane/cp-nodes.h"
#include "controlplane/cp-api.h"
#include "controlplane/cp-pki.h"
#include "controlplane/cp-reconciler.h"
#include "controlplane/cp-store.h"

/* The local backend's agents heartbeat every 5 s: three missed ones and
 * the node is replaced. */
#define HEARTBEAT_DEADLINE_MS 15000

static bool is_loopback(const char *a) {
        struct in_addr v4;
        struct in6_addr v6;
        if (inet_pton(AF_INET, a, &v4) == 1)
                return (ntohl(v4.s_addr) >> 24) == 127;
        if (inet_pton(AF_INET6, a, &v6) == 1)
                return IN6_IS_ADDR_LOOPBACK(&v6);
        return false;
}

/* --prepare-hosts: create the local backend's hosts, print their ARKs. */
static int prepare_hosts(const cp_daemon_options *o) {
        char nd[4096];
        snprintf(nd, sizeof nd, "%s/local", o->state_dir);
        cp_local_options lo = {.state_dir = nd, .agent_path = o->agent_path ? o->agent_path : "confpool-agent"};
        cp_backend *b = NULL;
        char **paths = NULL;
        size_t n = 0;
        int r = cp_backend_local_new(&lo, &b);
        if (r >= 0)
                r = cp_backend_local_open_hosts(b, &paths, &n);
        /* the software TDX platform: hosts/tdx/{pcs.json,root.pem,pcs.port} */
        if (r >= 0)
                r = cp_backend_local_tdx_platform(b, NULL, NULL, NULL, 0);
        for (size_t i = 0; i < n; i++) {
                printf("%s\n", paths[i]);
                free(paths[i]);
        }
        free(paths);
        fflush(stdout);
        cp_backend_free(b);
        return r;
}

/* A bearer secret from a file (one line). */
static int read_secret(const char *path, char **ret) {
        uint8_t *buf = NULL;
        size_t len;
        int r = cp_read_file(path, 1024, &buf, &len);
        if (r < 0)
                return r;
        while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
                len--;
        char *s = len >= 16 && !memchr(buf, 0, len) ? strndup((const char *) buf, len) : NULL;
        cp_wipe(buf, len);
        free(buf);
        if (!s)
                return CP_ERROR(CP_EINVAL, "%s: a bearer secret of at least 16 characters is required", path);
        *ret = s;
        return 0;
}

/* The key broker for the local backend's disk keys: it must trust the
 * attestation service whose URL is the node tokens' issuer. */
static int daemon_diskkeys(const cp_daemon_options *o, cp_diskkeys **ret) {
        char *admin = NULL, *rel = NULL;
        if (!o->kbs_admin_token_file || !o->kbs_release_token_file)
                return CP_ERROR(CP_EINVAL, "--kbs-url needs --kbs-admin-token-file and --kbs-release-token-file");
        int r = read_secret(o->kbs_admin_token_file, &admin);
        if (r >= 0)
                r = read_secret(o->kbs_release_token_file, &rel);
        cp_diskkeys_options dko = {.kbs_url = o->kbs_url, .admin_token = admin, .release_token = rel,
                                   .authority = o->attestd_url};
        if (r >= 0)
                r = cp_diskkeys_new(&dko, ret);
        if (admin)
                cp_wipe(admin, strlen(admin));
        if (rel)
                cp_wipe(rel, strlen(rel));
        free(admin);
        free(rel);
        return r;
}

/* What a running daemon holds, in the order it is brought up. */
typedef struct run_state {
        const cp_daemon_options *o;
        const char *listen;
        bool tls, local;
        cp_rules *rules;
        cp_store *store;
        cp_store *reader; /* SQLite: the heartbeats' read connection */
        cp_diskkeys *diskkeys;
        cp_backend *backend;
        cp_nodes *nodes;
        cp_aad *aad;
        cp_api *api;
        cp_httpd *httpd;
        cp_reconciler *rec;
        cp_lease *lease; /* replicas (PostgreSQL): who reconciles */
        pthread_t lease_thread;
        bool lease_running, lease_stop;
        uint64_t leading_term; /* the lease thread's: the term whose backend work this replica runs (0: none) */
        pthread_mutex_t lease_mu;
        pthread_cond_t lease_cond;
        char *cert, *key, *client_ca;
        char base[128];
} run_state;

/* The rules, with the operator's configuration file when there is one. */
static int run_load_rules(run_state *d) {
        const cp_daemon_options *o = d->o;
        int r = cp_rules_new(&d->rules);
        if (r >= 0 && o->config_path) {
                uint8_t *buf = NULL;
                size_t len;
                r = cp_read_file(o->config_path, CP_MAX_POLICY_JSON, &buf, &len);
                if (r >= 0) {
                        json_error_t je;
                        json_t *cfg = json_loadb((const char *) buf, len, JSON_REJECT_DUPLICATES, &je);
                        free(buf);
                        r = cfg ? cp_rules_load_json(d->rules, cfg)
                                : CP_ERROR(CP_EFORMAT, "%s:%d: %s", o->config_path, je.line, je.text);
                        json_decref(cfg);
                }
        }
        return r;
}

/* Replicas: this one's lease (the holder's name: --replica-id, else
 * hostname:pid:random, unique per process so a restarted replica waits
 * for its predecessor's lease to expire like any other). */
static int run_lease(run_state *d) {
        char id[128], host[64] = "host";
        uint8_t rnd[4];
        if (d->o->replica_id)
                snprintf(id, sizeof id, "%s", d->o->replica_id);
        else {
                gethostname(host, sizeof host - 1);
                if (RAND_bytes(rnd, sizeof rnd) != 1)
                        return CP_ERROR(CP_ECRYPTO, "random replica id");
                snprintf(id, sizeof id, "%.60s:%d:%02x%02x%02x%02x", host, (int) getpid(), rnd[0], rnd[1], rnd[2],
                         rnd[3]);
        }
        return cp_lease_new(d->store, id, d->o->lease_ttl_ms, &d->lease);
}

/* The store, the backend (with node admission and disk keys for the local
 * one), the TLS credentials and the identity provider. */
static int run_open(run_state *d) {
        const cp_daemon_options *o = d->o;
        char db[4096];
        snprintf(db, sizeof db, "%s/confpoold.db", o->state_dir);
        int r = cp_cpstore_open(o->db ? o->db : db, &d->store);
        if (r >= 0 && cp_store_dialect_of(d->store) == CP_STORE_PG)
                r = run_lease(d);
        /* SQLite: the heartbeats' read connection (cp_nodes_options.reader) */
        if (r >= 0 && cp_store_dialect_of(d->store) == CP_STORE_SQLITE)
                r = cp_store_open(o->db ? o->db : db, NULL, 0, &d->reader);
        cp_snp_tcb min_tcb = {0};
        if (r >= 0 && o->min_tcb)
                r = cp_snp_tcb_parse(o->min_tcb, CP_SNP_GEN_UNKNOWN, &min_tcb);
        if (r >= 0 && d->local && o->kbs_url)
                r = daemon_diskkeys(o, &d->diskkeys);
        if (r >= 0 && d->local) {
                char nd[4096];
                snprintf(nd, sizeof nd, "%s/local", o->state_dir);
                cp_local_options lo = {.state_dir = nd, .agent_path = o->agent_path, .attestd_url = o->attestd_url,
                                       .diskkeys = d->diskkeys, .ovmf_path = o->ovmf_path,
                                       .tdx_azure_hcl = o->tdx_azure_hcl, .vtpm_pool = o->vtpm_pool};
                r = cp_backend_local_new(&lo, &d->backend);
                cp_nodes_options no = {.store = d->store, .reader = d->reader, .backend = d->backend,
                                       .attestd_url = o->attestd_url, .min_tcb = min_tcb};
                if (r >= 0)
                        r = cp_nodes_new(&no, &d->nodes);
        } else if (r >= 0) {
                r = cp_backend_fake_from_config(cp_rules_fake_backend(d->rules), &d->backend);
                /* fakeBackend.launchMeasurement: simulated attested nodes
                 * (bench/bench-fleet.c) register and heartbeat as agents do */
                if (r >= 0 && d->backend->ops->expected_measurement && !o->attestd_url)
                        r = CP_ERROR(CP_EINVAL, "fakeBackend.launchMeasurement (attested fake nodes) needs "
                                                "--attestd-url: their tokens are verified against its keys");
                cp_nodes_options no = {.store = d->store, .reader = d->reader, .backend = d->backend,
                                       .attestd_url = o->attestd_url, .min_tcb = min_tcb};
                if (r >= 0 && d->backend->ops->expected_measurement)
                        r = cp_nodes_new(&no, &d->nodes);
        }
        if (r >= 0 && d->tls)
                r = cp_pki_server_cert(o->state_dir, d->listen, 825, &d->cert, &d->key);
        if (r >= 0 && d->tls) {
                /* nodes' client certificates (kubelet-client.pem) verify under the
                 * CA that signs their CSRs (docs/kubernetes.md, mTLS) */
                char ca[4200];
                size_t n = 0;
                snprintf(ca, sizeof ca, "%s/ca.pem", o->state_dir);
                r = cp_read_file(ca, 64 * 1024, (uint8_t **) &d->client_ca, &n);
        }
        /* service principals and their tokens only over TLS */
        if (r >= 0 && d->tls)
                r = cp_aad_new(d->store, o->state_dir, &d->aad);
        return r;
}

/* The API and its HTTP server. */
static int run_serve(run_state *d) {
        const cp_daemon_options *o = d->o;
        cp_api_options ao = {.store = d->store, .rules = d->rules, .state_dir = o->state_dir, .tls = d->tls,
                             .base_url = d->base, .nodes = d->nodes,
                             .aad = d->aad, .lease = d->lease, .diskkeys = d->diskkeys,
                             .node_cert_seconds = o->cluster_signing_seconds};
        cp_httpd_options ho = {.bind_addr = d->listen, .port = o->port, .threads = o->threads,
                               .max_body = CP_MAX_API_BODY, .tls_cert_pem = d->cert, .tls_key_pem = d->key,
                               .tls_client_ca_pem = d->client_ca};
        snprintf(d->base, sizeof d->base, "%s://%s", d->tls ? "https" : "http", d->listen);
        int r = cp_api_new(&ao, &d->api);
        if (r >= 0)
                r = cp_httpd_start(&ho, cp_api_handle, d->api, &d->httpd);
        return r;
}

/* The local backend's nodes of a previous run (or of a deposed leader)
 * adopted or restarted. */
static int run_recover(run_state *d) {
        unsigned adopted = 0, restarted = 0;
        int r = 0;
        if (d->local)
                r = cp_backend_local_recover(d->backend, &adopted, &restarted);
        if (adopted)
                printf("confpoold: adopted %u running node(s) of the local backend\n", adopted);
        if (restarted)
                printf("confpoold: restarted %u node(s) of the local backend\n", restarted);
        fflush(stdout);
        return r;
}

/* Once the port is known: the base URL of LRO links and node agents, the
 * identity provider's endpoint (written to confpoold.url), and the local
 * backend's nodes of a previous run restarted. */
static int run_endpoints(run_state *d) {
        const char *listen = d->listen;
        uint16_t port = cp_httpd_port(d->httpd);
        bool v6 = strchr(listen, ':') != NULL;
        snprintf(d->base, sizeof d->base, "%s://%s%s%s:%u", d->tls ? "https" : "http", v6 ? "[" : "", listen,
                 v6 ? "]" : "", port);
        /* the links of the API's answers: the configured public URL, else the
         * URL clients are given: with TLS on loopback the certificate's
         * https://localhost:PORT (confpoold.url, az-setup, confpool up), else
         * the bound address */
        char pub[160];
        if (d->tls && is_loopback(listen))
                snprintf(pub, sizeof pub, "https://localhost:%u", port);
        else
                snprintf(pub, sizeof pub, "%s", d->base);
        cp_api_set_base_url(d->api, d->o->public_url ? d->o->public_url : pub);
        int r = 0;
        if (d->local)
                r = cp_backend_local_set_controlplane_url(d->backend, d->o->agent_controlplane_urls
                                                                              ? d->o->agent_controlplane_urls
                                                                              : d->base);
        if (r >= 0 && d->local && d->tls) {
                /* agents trust the daemon's own CA (cp-pki.c: <state>/ca.pem) */
                char ca[4200];
                snprintf(ca, sizeof ca, "%s/ca.pem", d->o->state_dir);
                char *abs = realpath(ca, NULL);
                r = abs ? cp_backend_local_set_controlplane_ca(d->backend, abs)
                        : CP_ERROR(CP_EIO, "the control plane's CA %s: %s", ca, strerror(errno));
                free(abs);
        }
        if (r >= 0 && d->aad) {
                /* the canonical endpoint (the issuer, az-setup's URLs): localhost on loopback */
                char canon[160], path[4096];
                snprintf(canon, sizeof canon, "https://%s%s%s:%u", is_loopback(listen) ? "" : v6 ? "[" : "",
                         is_loopback(listen) ? "localhost" : listen, !is_loopback(listen) && v6 ? "]" : "", port);
                const char *hosts[] = {"localhost", "127.0.0.1", "::1", listen};
                r = cp_aad_set_endpoint(d->aad, canon, hosts, CP_ELEMENTSOF(hosts), port);
                snprintf(path, sizeof path, "%s/confpoold.url", d->o->state_dir);
                size_t n = strlen(canon);
                canon[n++] = '\n';
                if (r >= 0)
                        r = cp_write_file(path, canon, n, 0644);
        }
        /* replicas: the new leader does this when it takes the lease */
        if (r >= 0 && !d->lease)
                r = run_recover(d);
        return r;
}

/* After a tick: a replica that became the leader adopts the backend's
 * nodes (run_recover) before its reconciler acts (the ready term); one
 * that lost the lease (expired, taken over, or fenced by the reconciler's
 * check) stops its backend work at once, leaving the nodes running for
 * the successor (cp_backend_local_detach). */
static void lease_transition(run_state *d, bool became) {
        uint64_t term = 0;
        bool leader = cp_lease_is_leader(d->lease, &term);
        if (d->leading_term && (!leader || term != d->leading_term)) {
                unsigned left = 0;
                cp_reconciler_set_ready_term(d->rec, 0);
                if (d->local && cp_backend_local_detach(d->backend, &left) < 0)
                        cp_error_clear();
                printf("confpoold: deposed (term %llu over): backend work stopped, %u running node(s) left to the "
                       "next leader\n", (unsigned long long) d->leading_term, left);
                fflush(stdout);
                d->leading_term = 0;
        }
        if (!leader || (!became && d->leading_term == term))
                return;
        printf("confpoold: leader (term %llu, replica %s)\n", (unsigned long long) term, cp_lease_id(d->lease));
        fflush(stdout);
        if (run_recover(d) < 0) {
                fprintf(stderr, "confpoold: recover: %s\n", cp_error_message());
                cp_error_clear();
        }
        d->leading_term = term;
        cp_reconciler_set_ready_term(d->rec, term);
}

/* The lease thread: a tick every fifth of the lease's life (lease_transition). */
static void *lease_main(void *userdata) {
        run_state *d = userdata;
        unsigned period = (d->o->lease_ttl_ms ? d->o->lease_ttl_ms : 5000) / 5;
        pthread_mutex_lock(&d->lease_mu);
        while (!d->lease_stop) {
                pthread_mutex_unlock(&d->lease_mu);
                bool became = false;
                if (cp_lease_tick(d->lease, &became) < 0) {
                        fprintf(stderr, "confpoold: lease: %s\n", cp_error_message());
                        cp_error_clear();
                }
                lease_transition(d, became);
                pthread_mutex_lock(&d->lease_mu);
                if (d->lease_stop)
                        break;
                struct timespec ts = cp_realtime_in_ms(period);
                pthread_cond_timedwait(&d->lease_cond, &d->lease_mu, &ts);
        }
        pthread_mutex_unlock(&d->lease_mu);
        return NULL;
}

static int lease_start(run_state *d) {
        pthread_mutex_init(&d->lease_mu, NULL);
        pthread_cond_init(&d->lease_cond, NULL);
        if (pthread_create(&d->lease_thread, NULL, lease_main, d) != 0)
                return CP_ERROR(CP_EINTERNAL, "cannot start the lease thread");
        d->lease_running = true;
        return 0;
}

static void lease_stop(run_state *d) {
        if (d->lease_running) {
                pthread_mutex_lock(&d->lease_mu);
                d->lease_stop = true;
                pthread_cond_signal(&d->lease_cond);
                pthread_mutex_unlock(&d->lease_mu);
                pthread_join(d->lease_thread, NULL);
                pthread_mutex_destroy(&d->lease_mu);
                pthread_cond_destroy(&d->lease_cond);
                d->lease_running = false;
        }
        if (d->lease)
                cp_lease_release(d->lease);
}

/* The reconciler's thread, then the port file and the greeting. */
static int run_reconcile(run_state *d) {
        const cp_daemon_options *o = d->o;
        int r = cp_reconciler_new(d->store, d->rules, d->backend, &d->rec);
        if (r >= 0 && d->nodes) { /* attested nodes: the local backend's, or fake ones (bench-fleet) */
                cp_reconciler_set_heartbeat_deadline(d->rec, HEARTBEAT_DEADLINE_MS);
                cp_reconciler_set_nodes(d->rec, d->nodes);
        }
        if (r >= 0 && d->local)
                cp_reconciler_set_diskkeys(d->rec, d->diskkeys); /* retires masters after node-image upgrades */
        if (r >= 0 && d->lease) {
                cp_reconciler_set_lease(d->rec, d->lease);
                r = lease_start(d);
        }
        if (r >= 0)
                r = cp_reconciler_start(d->rec, o->reconcile_interval_ms);
        if (r >= 0) {
                char pf[16];
                int n = snprintf(pf, sizeof pf, "%u\n", cp_httpd_port(d->httpd));
                if (o->port_file)
                        r = cp_write_file(o->port_file, pf, (size_t) n, 0644);
                printf("confpoold: listening on %s (state %s, token in %s/operator.token)\n", d->base, o->state_dir,
                       o->state_dir);
                fflush(stdout);
        }
        return r;
}

static void run_wait_signal(void) {
        sigset_t set;
        int sig;
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        sigwait(&set, &sig);
}

/* Everything down, in the reverse order (the server first: no handler runs). */
static void run_close(run_state *d) {
        d->httpd = cp_httpd_stop(d->httpd);
        d->rec = cp_reconciler_free(d->rec);
        lease_stop(d);
        d->lease = cp_lease_free(d->lease);
        d->api = cp_api_free(d->api);
        d->nodes = cp_nodes_free(d->nodes);
        d->aad = cp_aad_free(d->aad);
        d->backend = cp_backend_free(d->backend);
        d->diskkeys = cp_diskkeys_free(d->diskkeys);
        d->reader = cp_store_close(d->reader);
        d->store = cp_store_close(d->store);
        d->rules = cp_rules_free(d->rules);
        free(d->cert);
        free(d->client_ca);
        if (d->key) {
                cp_wipe(d->key, strlen(d->key));
                free(d->key);
        }
}

/* The state directory takes the database, its WAL, keys and the nodes'
 * files: a read-only one would answer 500 on every write, so refuse to
 * start instead, naming it. */
static int state_dir_writable(const char *dir) {
        char probe[4096];
        snprintf(probe, sizeof probe, "%s/.confpoold-write-probe", dir);
        int fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0 || write(fd, "", 1) != 1) {
                int e = errno;
                if (fd >= 0)
                        close(fd);
                return CP_ERROR(CP_EIO, "state directory '%s' is not writable: %s", dir, strerror(e));
        }
        close(fd);
        unlink(probe);
        return 0;
}

/* --public-url: an absolute http(s) URL without a path, query or quotes. */
static int public_url_ok(const char *u) {
        const char *rest = strncmp(u, "https://", 8) == 0 ? u + 8 : strncmp(u, "http://", 7) == 0 ? u + 7 : NULL;
        if (!rest || !*rest || strlen(u) > 200 || strpbrk(rest, "/?#\"\\ \t\r\n@"))
                return CP_ERROR(CP_EINVAL, "public URL '%.200s' must be http(s)://host[:port] without a path", u);
        return 0;
}

/* --agent-controlplane-urls: 1..8 comma-separated URLs as --public-url's. */
static int url_list_ok(const char *list) {
        char one[256];
        size_t n = 0;
        if (strlen(list) >= 500)
                return CP_ERROR(CP_EINVAL, "control-plane URL list longer than 500 bytes");
        for (const char *p = list; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL, n++) {
                size_t l = strcspn(p, ",");
                if (l == 0 || l >= sizeof one || n == 8)
                        return CP_ERROR(CP_EINVAL, "control-plane URL list '%.100s': 1..8 URLs, none empty", list);
                snprintf(one, sizeof one, "%.*s", (int) l, p);
                int r = public_url_ok(one);
                if (r < 0)
                        return r;
        }
        return 0;
}

int cp_daemon_run(const cp_daemon_options *o) {
        if (!o->state_dir)
                return CP_ERROR(CP_EINVAL, "a state directory is required");
        if (mkdir(o->state_dir, 0700) < 0 && errno != EEXIST)
                return CP_ERROR(CP_EIO, "cannot create '%s': %s", o->state_dir, strerror(errno));
        int r = state_dir_writable(o->state_dir);
        if (r < 0 || (o->public_url && (r = public_url_ok(o->public_url)) < 0) ||
            (o->agent_controlplane_urls && (r = url_list_ok(o->agent_controlplane_urls)) < 0))
                return r;
        run_state d = {.o = o, .listen = o->listen ? o->listen : "127.0.0.1"};
        d.tls = o->force_tls || !is_loopback(d.listen);
        /* no default backend: the fake one attests nothing (issue 20 item 6) */
        if (!o->backend)
                return CP_ERROR(CP_EINVAL, "no compute backend named: --backend local (confidential nodes, "
                                           "attested) or --backend fake (a test backend: no machines, nothing "
                                           "attested)");
        d.local = strcmp(o->backend, "local") == 0;
        if (!d.local && strcmp(o->backend, "fake") != 0)
                return CP_ERROR(CP_EINVAL, "unknown backend '%s' (local; fake for tests)", o->backend);
        if (!d.local)
                fprintf(stderr, "confpoold: WARNING: --backend fake is a test backend: its nodes are records that "
                                "turn Ready with no machine behind them and nothing attested; not for production\n");
        if (d.local && o->prepare_hosts)
                return prepare_hosts(o);
        if (d.local && (!o->attestd_url || !o->agent_path))
                return CP_ERROR(CP_EINVAL, "the local backend needs --attestd-url and --agent");
        r = run_load_rules(&d);
        if (r >= 0)
                r = run_open(&d);
        if (r >= 0)
                r = run_serve(&d);
        if (r >= 0)
                r = run_endpoints(&d);
        if (r >= 0)
                r = run_reconcile(&d);
        if (r >= 0)
                run_wait_signal();
        run_close(&d);
        return r;
}

int cp_daemon_sp_create(const char *state_dir, const char *name, const char *subscription) {
        if (!state_dir)
                return CP_ERROR(CP_EINVAL, "a state directory is required");
        if (mkdir(state_dir, 0700) < 0 && errno != EEXIST)
                return CP_ERROR(CP_EIO, "cannot create '%s': %s", state_dir, strerror(errno));
        char db[4096];
        snprintf(db, sizeof db, "%s/confpoold.db", state_dir);
        cp_store *store = NULL;
        cp_aad *aad = NULL;
        int r = cp_cpstore_open(db, &store);
        if (r >= 0)
                r = cp_aad_new(store, state_dir, &aad);
        cp_principal p;
        char secret[CP_AAD_SECRET_LEN];
        if (r >= 0)
                r = cp_aad_principal_create(aad, name, subscription, &p, secret);
        if (r >= 0) {
                /* the shape of `az ad sp create-for-rbac`; the secret is shown only here */
                printf("{\n  \"appId\": \"%s\",\n  \"displayName\": \"%s\",\n  \"password\": \"%s\",\n"
                       "  \"tenant\": \"%s\",\n  \"subscription\": \"%s\"\n}\n",
                       p.app_id, p.name, secret, cp_aad_tenant(aad), p.subscription);
                fflush(stdout);
                cp_wipe(secret, sizeof secret);
        }
        aad = cp_aad_free(aad);
        store = cp_store_close(store);
        return r;
}
