/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fleet simulator (issue 19): N simulated confidential nodes in this one
 * process against the real confpool-attestd and confpoold, started as
 * processes on loopback (plain HTTP: loopback, no --tls).  No swtpm per
 * node: each node's vTPM AK is in-process RSA-2048 key material (a pool of
 * --aks keys shared round-robin: generating 10,000 RSA keys would take the
 * machine an hour), its quote a TPMS_ATTEST over its PCRs and the
 * challenge, signed RSASSA-SHA256 as a TPM does; its SNP report comes from
 * the software AMD-SP, one of --chips emulated Milan chips (distinct chip
 * IDs and VCEKs, one ARK/ASK as AMD's), launched with the node's HOST_DATA
 * (cp_node_host_data) and the pool's launch measurement.  attestd verifies
 * that evidence unchanged and signs the token; confpoold verifies the token
 * on every register and heartbeat (its JWKS cache) and admits the node
 * against the pool's policy, as for real agents.
 *
 * confpoold runs the fake backend with fakeBackend.launchMeasurement: its
 * machines are records (no VM), Joining until they register, health-checked
 * (15 s heartbeat deadline) and replaced when silent.  Not covered: the key
 * broker (no disk key release per node) and the local backend's boot.
 *
 *   build/bench/bench-fleet [--nodes LIST] [--seconds S] [--heartbeat-s S] [--reattest-s S]
 *                           [--time-scale X] [--chips N] [--aks N] [--threads N] [--attest-threads N]
 *                           [--join-rate N] [-o CSV]
 *
 * --threads (128) heartbeat workers, each a blocking keep-alive connection
 * with its nodes in a heap by due time; --attest-threads (8) do the joins
 * and re-attestations (a registered node's re-attestation before the
 * joins), so that a heartbeat never waits behind an attestation in the
 * simulator; 0: inline, as before.  New nodes join at most --join-rate
 * (50) a second.  Per heartbeat it records the client's latency (send ->
 * answer), confpoold's own time (its Server-Timing header: the bench sets
 * CP_SERVER_TIMING=1 for the daemons) and the simulator's lag (sent -
 * scheduled), so that its own lag is told from the server's.
 *
 * --nodes 1000,2000,5000,10000 (default 1000): sizes measured in turn on
 * one stack (nodes are added, never removed); per size, after every node
 * registered, a window of --seconds (default 60) with heartbeats every
 * --heartbeat-s (10) and re-attestation every --reattest-s / --time-scale
 * (3600 / 1) measures: heartbeat and attestation latency p50/p99/max, the
 * daemons' CPU (utime+stime from /proc/PID/stat) and RSS, and nodes per
 * core (nodes / daemon cores used).  Exit 1 if any request failed.
 * (CP_BIN_DIR names the daemons' directory; default ../bin from here.)
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/codec.h"
#include "basic/fileio.h"
#include "basic/limits.h"
#include "confpool/snp_report.h"
#include "controlplane/cp-backend.h"
#include "emu/amdsp.h"
#include "flood-testutil.h"

#define SUB "6a8b4c2e-1f3d-4e5a-9b7c-0d1e2f3a4b5c"
#define RGP "/subscriptions/" SUB "/resourceGroups/rg1"
#define MC RGP "/providers/Microsoft.ContainerService/managedClusters/c1"
#define AP MC "/agentPools"
#define CS "?api-version=2026-01-01"
#define RS "?api-version=2021-04-01"
#define AV "?api-version=2022-08-01"
#define MAX_POOLS 64
#define MAX_CHIPS 256
#define MAX_AKS 256
#define MAX_THREADS 256

static void die(const char *what) {
        fprintf(stderr, "bench-fleet: %s%s%s\n", what, cp_error_message()[0] ? ": " : "", cp_error_message());
        exit(1);
}

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static char *b64u(const void *p, size_t n) {
        char *s = malloc(cp_b64_encoded_len(n, CP_B64_URL) + 1);
        if (!s)
                die("out of memory");
        cp_b64_encode(p, n, CP_B64_URL, s);
        return s;
}

/* ---- a keep-alive HTTP/1.1 client (Content-Length bodies) ------------------------ */

typedef struct conn {
        uint16_t port;
        int fd;
        char buf[65536];
} conn;

/* status, or -1 (connection failure: retried once on a new connection);
 * *ret_srv_ms: the server's own time from its Server-Timing header (-1: none) */
static int hreq_t(conn *c, const char *method, const char *path, const char *bearer, const char *body, char **ret_body,
                  double *ret_srv_ms) {
        size_t bl = body ? strlen(body) : 0;
        char *req = malloc(bl + strlen(path) + (bearer ? strlen(bearer) : 0) + 256);
        int n = sprintf(req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s%s%sContent-Type: application/json\r\n"
                             "Content-Length: %zu\r\n\r\n",
                        method, path, bearer ? "Authorization: Bearer " : "", bearer ? bearer : "", bearer ? "\r\n" : "",
                        bl);
        memcpy(req + n, body ? body : "", bl);
        size_t len = (size_t) n + bl;
        for (int attempt = 0; attempt < 2; attempt++) {
                if (c->fd < 0 && (c->fd = flood_connect(c->port)) < 0)
                        continue;
                size_t off = 0, got = 0;
                while (off < len) {
                        ssize_t w = send(c->fd, req + off, len - off, MSG_NOSIGNAL);
                        if (w <= 0)
                                break;
                        off += (size_t) w;
                }
                char *end = NULL;
                while (off == len && !(end = memmem(c->buf, got, "\r\n\r\n", 4)) && got < sizeof c->buf - 1) {
                        ssize_t r = recv(c->fd, c->buf + got, sizeof c->buf - 1 - got, 0);
                        if (r <= 0)
                                break;
                        got += (size_t) r;
                }
                if (!end) {
                        close(c->fd);
                        c->fd = -1;
                        continue;
                }
                *end = 0;
                int status = atoi(c->buf + 9);
                const char *cl = strcasestr(c->buf, "\r\nContent-Length:");
                size_t want = cl ? strtoul(cl + 17, NULL, 10) : 0, have = got - (size_t) (end + 4 - c->buf);
                bool close_it = strcasestr(c->buf, "\r\nConnection: close") != NULL;
                const char *stm = strcasestr(c->buf, "\r\nServer-Timing: app;dur=");
                if (ret_srv_ms)
                        *ret_srv_ms = stm ? atof(stm + 25) : -1;
                char *out = malloc(want + 1);
                memcpy(out, end + 4, have < want ? have : want);
                while (have < want) {
                        ssize_t r = recv(c->fd, out + have, want - have, 0);
                        if (r <= 0)
                                break;
                        have += (size_t) r;
                }
                out[want] = 0;
                if (close_it || have < want) {
                        close(c->fd);
                        c->fd = -1;
                }
                free(req);
                if (ret_body)
                        *ret_body = out;
                else
                        free(out);
                return have < want ? -1 : status;
        }
        free(req);
        return -1;
}

static int hreq(conn *c, const char *method, const char *path, const char *bearer, const char *body, char **ret_body) {
        return hreq_t(c, method, path, bearer, body, ret_body, NULL);
}

/* ---- the fleet ---------------------------------------------------------------- */

typedef struct chip {
        cp_amdsp *sp;
        pthread_mutex_t lock;
        char *chain_b64; /* VCEK + ASK + ARK PEM, base64url */
} chip;

typedef struct ak {
        EVP_PKEY *key;
        char *n64;       /* its modulus, base64url */
} ak;

typedef struct node {
        unsigned pool;
        char name[64];
        unsigned chip, ak;
        uint32_t handle;
        uint8_t secrets[CP_SNP_SECRETS_PAGE_SIZE];
        char *token;
        char *rt_b64;    /* runtime data: the AK (HCLAkPub), the machine name (vmUniqueId) */
        uint8_t rt_hash[32];
        double due, next_attest;
        bool registered;
        unsigned worker;
        struct node *next_q; /* the attestation queue */
} node;

typedef struct lat {
        double *v;
        size_t n, cap;
} lat;

static void lat_add(lat *l, double ms) {
        if (l->n == l->cap) {
                l->cap = l->cap ? 2 * l->cap : 4096;
                l->v = realloc(l->v, l->cap * sizeof *l->v);
        }
        l->v[l->n++] = ms;
}

static int cmp_d(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

static double pct(lat *l, double p) {
        if (!l->n)
                return 0;
        double x = p / 100.0 * (double) l->n;
        size_t i = (size_t) x + ((double) (size_t) x < x);
        return l->v[i ? i - 1 : 0];
}

typedef struct worker {
        pthread_t th;
        unsigned id;
        conn cp, at;
        node **heap; /* min-heap by due */
        size_t n, cap;
        lat hb, att;  /* this window's latencies, ms */
        lat hb_srv;   /* confpoold's own time per heartbeat (Server-Timing) */
        lat hb_lag;   /* the simulator's lag: heartbeat sent - scheduled */
        unsigned long hb_fail, att_fail;
        double max_lag;
        pthread_mutex_t lock; /* heap additions and window resets from the main thread */
} worker;

static struct {
        chip chips[MAX_CHIPS];
        ak aks[MAX_AKS];
        unsigned n_chips, n_aks, n_threads;
        char pool_ids[MAX_POOLS][512], pool_names[MAX_POOLS][16];
        unsigned n_pools;
        uint8_t measurement[48];
        double hb_s, reattest_s;
        uint16_t cp_port, at_port;
        char op_token[128];
        worker w[MAX_THREADS];
        volatile int stop;
        unsigned registered;
        /* attestations (joins, hourly re-attestations) on threads of their
         * own: a heartbeat worker never waits behind one (issue 19: the
         * simulator's lag during joins) */
        unsigned n_att_threads;
        worker aw[MAX_THREADS];
        pthread_mutex_t q_lock;
        pthread_cond_t q_cond;
        node *q_head, *q_tail;
} F;

static void heap_push(worker *w, node *nd) {
        if (w->n == w->cap) {
                w->cap = w->cap ? 2 * w->cap : 1024;
                w->heap = realloc(w->heap, w->cap * sizeof *w->heap);
        }
        size_t i = w->n++;
        while (i > 0 && w->heap[(i - 1) / 2]->due > nd->due) {
                w->heap[i] = w->heap[(i - 1) / 2];
                i = (i - 1) / 2;
        }
        w->heap[i] = nd;
}

static node *heap_pop(worker *w) {
        node *top = w->heap[0], *last = w->heap[--w->n];
        size_t i = 0;
        for (;;) {
                size_t c = 2 * i + 1;
                if (c >= w->n)
                        break;
                if (c + 1 < w->n && w->heap[c + 1]->due < w->heap[c]->due)
                        c++;
                if (w->heap[c]->due >= last->due)
                        break;
                w->heap[i] = w->heap[c];
                i = c;
        }
        if (w->n)
                w->heap[i] = last;
        return top;
}

/* A fresh SNP report from the node's chip (a guest request, as the agent's). */
static void node_report(node *nd, uint8_t report[CP_SNP_REPORT_SIZE]) {
        chip *c = &F.chips[nd->chip];
        uint8_t key[32], p[CP_SNP_MSG_REPORT_REQ_SIZE], msg[CP_MAX_SNP_GUEST_MSG], resp[CP_MAX_SNP_GUEST_MSG],
                plain[CP_MAX_SNP_GUEST_MSG];
        uint64_t seq;
        size_t mn, rn, pn;
        uint32_t fw, st;
        cp_snp_msg_hdr hdr;
        cp_snp_report_req q = {.vmpl = 0, .key_sel = CP_SNP_KEY_SEL_VCEK};
        memcpy(q.report_data, nd->rt_hash, 32);
        cp_snp_report_req_encode(&q, p);
        if (cp_snp_secrets_get(nd->secrets, 0, key, &seq) < 0 ||
            cp_snp_msg_seal(key, 0, seq + 1, CP_SNP_MSG_REPORT_REQ, 1, p, sizeof p, msg, sizeof msg, &mn) < 0)
                die("report request");
        pthread_mutex_lock(&c->lock);
        int r = cp_amdsp_guest_request(c->sp, nd->handle, msg, mn, resp, sizeof resp, &rn, NULL, NULL, &fw);
        pthread_mutex_unlock(&c->lock);
        if (r < 0 || cp_snp_msg_open(key, resp, rn, &hdr, plain, sizeof plain, &pn) < 0 ||
            cp_snp_report_rsp_parse(plain, pn, &st, report) < 0 || st != 0)
                die("SNP report from the emulated chip");
        if (cp_snp_secrets_set_seqno(nd->secrets, 0, seq + 2) < 0)
                die("secrets page");
}

/* TPMS_ATTEST over SHA-256 PCRs 0..9 (all zero) and the nonce, RSASSA-SHA256 by the AK. */
static char *node_quote(node *nd, const uint8_t *nonce, size_t nl, char **ret_sig) {
        uint8_t q[512], d[32], sig[256], cat[10 * 32] = {0};
        size_t n = 0, sl = sizeof sig;
#define PUT8(v) q[n++] = (uint8_t) (v)
#define PUT16(v) (PUT8((v) >> 8), PUT8(v))
#define PUT32(v) (PUT16((v) >> 16), PUT16(v))
        PUT32(0xff544347u);
        PUT16(0x8018);
        PUT16(0);
        PUT16(nl);
        memcpy(q + n, nonce, nl);
        n += nl;
        for (int i = 0; i < 8; i++)
                PUT8(0);
        PUT32(1);
        PUT32(0);
        PUT8(1);
        for (int i = 0; i < 8; i++)
                PUT8(0);
        PUT32(1);
        PUT16(0x000B); /* SHA-256 */
        PUT8(3);
        PUT8(0xff);
        PUT8(0x03);
        PUT8(0);
        SHA256(cat, sizeof cat, d);
        PUT16(32);
        memcpy(q + n, d, 32);
        n += 32;
#undef PUT8
#undef PUT16
#undef PUT32
        EVP_MD_CTX *mc = EVP_MD_CTX_new();
        if (!mc || EVP_DigestSignInit(mc, NULL, EVP_sha256(), NULL, F.aks[nd->ak].key) != 1 ||
            EVP_DigestSign(mc, sig, &sl, q, n) != 1)
                die("quote signature");
        EVP_MD_CTX_free(mc);
        *ret_sig = b64u(sig, sl);
        return b64u(q, n);
}

/* challenge + /attest/Native: 1 a token, 0 refused */
static int node_attest(worker *w, node *nd) {
        uint8_t report[CP_SNP_REPORT_SIZE], nonce[256];
        char *resp = NULL;
        node_report(nd, report);
        int st = hreq(&w->at, "POST", "/challenge" AV, NULL, "{}", &resp);
        json_t *j = st == 200 ? json_loads(resp, 0, NULL) : NULL;
        free(resp);
        const char *nt = json_string_value(json_object_get(j, "nonce"));
        size_t nl = 0;
        if (!nt || cp_b64_decode(nt, strlen(nt), CP_B64_URL, nonce, sizeof nonce, &nl) < 0) {
                cp_error_clear();
                json_decref(j);
                return 0;
        }
        char *sig, *msg = node_quote(nd, nonce, nl, &sig), *rep = b64u(report, sizeof report);
        json_t *pcrs = json_array();
        for (int i = 0; i < 24; i++)
                json_array_append_new(pcrs, i < 10 ? json_string("0000000000000000000000000000000000000000000000"
                                                                 "000000000000000000") : json_null());
        json_t *b = json_pack("{s:s,s:s,s:s,s:s,s:{s:s,s:s,s:s,s:o}}", "nonce", nt, "snpReport", rep, "vcekCertChain",
                              F.chips[nd->chip].chain_b64, "runtimeData", nd->rt_b64, "quote", "message", msg,
                              "signature", sig, "signatureFormat", "raw-rsassa-sha256", "pcrs", pcrs);
        char *body = json_dumps(b, JSON_COMPACT);
        json_decref(b);
        json_decref(j);
        free(sig);
        free(msg);
        free(rep);
        st = hreq(&w->at, "POST", "/attest/Native" AV, NULL, body, &resp);
        free(body);
        j = st == 200 ? json_loads(resp, 0, NULL) : NULL;
        const char *tok = json_string_value(json_object_get(j, "token"));
        if (!tok && st != 200)
                fprintf(stderr, "bench-fleet: attest %s: HTTP %d %.300s\n", nd->name, st, resp ? resp : "");
        free(resp);
        if (tok) {
                free(nd->token);
                nd->token = strdup(tok);
        }
        json_decref(j);
        return tok != NULL;
}

static int node_cp(worker *w, node *nd, const char *action, double *ret_srv_ms) {
        char path[1024], *resp = NULL;
        snprintf(path, sizeof path, "%s/machines/%s/%s?api-version=2025-01-01", F.pool_ids[nd->pool], nd->name, action);
        int st = hreq_t(&w->cp, "POST", path, nd->token, NULL, &resp, ret_srv_ms);
        if (st != 200)
                fprintf(stderr, "bench-fleet: %s %s: HTTP %d %.300s\n", action, nd->name, st, resp ? resp : "");
        free(resp);
        return st == 200;
}

static bool needs_attest(const node *nd, double now) {
        return !nd->registered || now >= nd->next_attest;
}

/* One due event of a node: the agent's loop (attest + register once; then
 * a heartbeat, preceded by a re-attestation when its period is over).
 * w: the thread it runs on (a heartbeat or an attestation worker). */
static void node_step(worker *w, node *nd, double now) {
        bool ok;
        double t0, srv = -1;
        if (needs_attest(nd, now)) {
                t0 = now_s();
                ok = node_attest(w, nd);
                pthread_mutex_lock(&w->lock);
                if (ok)
                        lat_add(&w->att, (now_s() - t0) * 1e3);
                else
                        w->att_fail++;
                pthread_mutex_unlock(&w->lock);
                /* the first re-attestation at a random point of the period
                 * (nodes booted at different times), then every period */
                nd->next_attest = now + F.reattest_s * (nd->registered || !ok ? 1.0 : (double) rand() / RAND_MAX);
        }
        t0 = now_s();
        bool hb = nd->registered;
        ok = nd->token && node_cp(w, nd, hb ? "heartbeat" : "register", &srv);
        pthread_mutex_lock(&w->lock);
        if (ok && hb) {
                lat_add(&w->hb, (now_s() - t0) * 1e3);
                lat_add(&w->hb_lag, (t0 - nd->due) * 1e3);
                if (srv >= 0)
                        lat_add(&w->hb_srv, srv);
        } else if (!ok)
                w->hb_fail++;
        pthread_mutex_unlock(&w->lock);
        if (ok && !nd->registered)
                __atomic_add_fetch(&F.registered, 1, __ATOMIC_SEQ_CST);
        nd->registered = nd->registered || ok;
        nd->due += F.hb_s;
}

static void heap_add(worker *w, node *nd) {
        pthread_mutex_lock(&w->lock);
        heap_push(w, nd);
        pthread_mutex_unlock(&w->lock);
}

/* An attestation worker: the queued nodes' attestation and the register
 * or heartbeat after it, then back to their heartbeat worker. */
static void *attest_run(void *arg) {
        worker *w = arg;
        for (;;) {
                pthread_mutex_lock(&F.q_lock);
                while (!F.q_head && !F.stop)
                        pthread_cond_wait(&F.q_cond, &F.q_lock);
                node *nd = F.q_head;
                if (nd) {
                        F.q_head = nd->next_q;
                        if (!F.q_head)
                                F.q_tail = NULL;
                }
                pthread_mutex_unlock(&F.q_lock);
                if (!nd)
                        return NULL;
                node_step(w, nd, now_s());
                heap_add(&F.w[nd->worker], nd);
        }
}

/* A registered node's re-attestation goes first, joins after: a node's
 * re-attestation does not wait for other nodes' joins (it would miss the
 * control plane's heartbeat deadline behind thousands of them). */
static void attest_queue(node *nd) {
        pthread_mutex_lock(&F.q_lock);
        nd->next_q = NULL;
        if (nd->registered && F.q_head) {
                nd->next_q = F.q_head;
                F.q_head = nd;
        } else if (F.q_tail)
                F.q_tail->next_q = nd;
        else
                F.q_head = nd;
        if (!nd->next_q)
                F.q_tail = nd;
        pthread_cond_signal(&F.q_cond);
        pthread_mutex_unlock(&F.q_lock);
}

static void *worker_run(void *arg) {
        worker *w = arg;
        while (!F.stop) {
                pthread_mutex_lock(&w->lock);
                node *nd = w->n && w->heap[0]->due <= now_s() ? heap_pop(w) : NULL;
                double next = w->n ? w->heap[0]->due : now_s() + 0.05;
                pthread_mutex_unlock(&w->lock);
                if (!nd) {
                        double d = next - now_s();
                        usleep(d > 0.05 ? 50000 : d > 0 ? (useconds_t) (d * 1e6) : 0);
                        continue;
                }
                double now = now_s();
                pthread_mutex_lock(&w->lock);
                if (now - nd->due > w->max_lag)
                        w->max_lag = now - nd->due;
                pthread_mutex_unlock(&w->lock);
                if (F.n_att_threads && needs_attest(nd, now)) {
                        attest_queue(nd);
                        continue;
                }
                node_step(w, nd, now);
                heap_add(w, nd);
        }
        return NULL;
}

/* ---- the stack ------------------------------------------------------------------ */

static int api(const char *method, const char *path, const char *body, json_t **ret) {
        static conn c = {.fd = -1};
        c.port = F.cp_port;
        char *resp = NULL;
        int st = hreq(&c, method, path, F.op_token, body, &resp);
        if (ret)
                *ret = resp ? json_loads(resp, 0, NULL) : NULL;
        free(resp);
        return st;
}

static char *der_to_pem_str(const uint8_t *der, size_t n) {
        const unsigned char *p = der;
        X509 *x = d2i_X509(NULL, &p, (long) n);
        BIO *b = BIO_new(BIO_s_mem());
        if (!x || !b || !PEM_write_bio_X509(b, x))
                die("VCEK certificate");
        char *data;
        long len = BIO_get_mem_data(b, &data);
        char *out = strndup(data, (size_t) len);
        BIO_free(b);
        X509_free(x);
        return out;
}

static void make_chips(const char *dir) {
        for (unsigned i = 0; i < F.n_chips; i++) {
                char d[600], ca[600];
                snprintf(d, sizeof d, "%s/chip-%u", dir, i);
                snprintf(ca, sizeof ca, "%s/chip-0", dir);
                cp_amdsp_config hc = {.generation = CP_SNP_GEN_MILAN, .tcb = {.bl = 3, .snp = 8, .ucode = 115},
                                      .ca_dir = i ? ca : NULL};
                if (cp_amdsp_open(d, &hc, &F.chips[i].sp) < 0)
                        die("emulated chip");
                pthread_mutex_init(&F.chips[i].lock, NULL);
                uint8_t *vcek, *chain;
                size_t vl, cl;
                if (cp_amdsp_vcek(F.chips[i].sp, NULL, &vcek, &vl) < 0 ||
                    cp_amdsp_cert_chain_pem(F.chips[i].sp, CP_AMD_CERT_VCEK, &chain, &cl) < 0)
                        die("VCEK chain");
                char *vpem = der_to_pem_str(vcek, vl);
                size_t pl = strlen(vpem);
                char *all = malloc(pl + cl + 1);
                memcpy(all, vpem, pl);
                memcpy(all + pl, chain, cl);
                F.chips[i].chain_b64 = b64u(all, pl + cl);
                free(all);
                free(vpem);
                free(vcek);
                free(chain);
        }
        uint8_t *ark;
        size_t al;
        char p[600];
        snprintf(p, sizeof p, "%s/ark.der", dir);
        if (cp_amdsp_ca_cert(F.chips[0].sp, CP_AMD_CERT_ARK, &ark, &al) < 0 || cp_write_file(p, ark, al, 0644) < 0)
                die("ARK");
        free(ark);
}

static void make_aks(void) {
        for (unsigned i = 0; i < F.n_aks; i++) {
                ak *a = &F.aks[i];
                a->key = EVP_RSA_gen(2048);
                BIGNUM *n = NULL;
                uint8_t nb[256];
                if (!a->key || !EVP_PKEY_get_bn_param(a->key, "n", &n) || BN_bn2binpad(n, nb, sizeof nb) != 256)
                        die("AK");
                BN_free(n);
                a->n64 = b64u(nb, sizeof nb);
        }
}

static void start_daemons(const char *dir, const char *bin, flood_daemon *at, flood_daemon *cp) {
        char path[700], ark[600], state[600], pf[600], cfg[600], url[128], mh[97];
        snprintf(path, sizeof path, "%s/confpool-attestd", bin);
        snprintf(ark, sizeof ark, "%s/ark.der", dir);
        char *aargv[] = {path, "--port", "0", "--quiet", "--only-extra-arks", "--extra-ark", ark, NULL};
        if (!flood_daemon_start(at, aargv, NULL))
                die("confpool-attestd did not start");
        F.at_port = at->port;
        snprintf(url, sizeof url, "http://127.0.0.1:%u", at->port);
        cp_hex_encode(F.measurement, 48, mh);
        snprintf(cfg, sizeof cfg, "%s/confpoold.json", dir);
        FILE *f = fopen(cfg, "w");
        if (!f)
                die("config file");
        fprintf(f, "{\"vcpuQuota\":{\"default\":1000000},\"fakeBackend\":{\"readyDelayMs\":0,\"launchMeasurement\":\"%s\"}}\n", mh);
        fclose(f);
        snprintf(path, sizeof path, "%s/confpoold", bin);
        snprintf(state, sizeof state, "%s/cp", dir);
        snprintf(pf, sizeof pf, "%s/cp.port", dir);
        char *cargv[] = {path, "--state-dir", state, "--backend", "fake", "--config", cfg, "--attestd-url", url,
                         "--port", "0", "--port-file", pf, NULL};
        if (!flood_daemon_start(cp, cargv, pf))
                die("confpoold did not start");
        F.cp_port = cp->port;
        snprintf(pf, sizeof pf, "%s/cp/operator.token", dir);
        f = fopen(pf, "r");
        if (!f || fscanf(f, "%127s", F.op_token) != 1)
                die("no operator token");
        fclose(f);
}

/* Machines of pool i once the reconciler made them all. */
static json_t *pool_machines(unsigned i, unsigned count) {
        char url[600];
        snprintf(url, sizeof url, AP "/%s/machines" CS, F.pool_names[i]);
        for (int t = 0; t < 600; t++) {
                json_t *j = NULL;
                if (api("GET", url, NULL, &j) == 200 && json_array_size(json_object_get(j, "value")) >= count)
                        return j;
                json_decref(j);
                usleep(500000); /* a listing of 1,000 machines is not free: not more often */
        }
        die("the pool's machines did not appear");
        return NULL;
}

/* The node's SNP launch (HOST_DATA: its identity) and runtime data, as the agent's. */
static void node_launch(node *nd) {
        char rt[1024];
        snprintf(rt, sizeof rt,
                 "{\"keys\":[{\"kid\":\"HCLAkPub\",\"key_ops\":[\"sign\"],\"kty\":\"RSA\",\"e\":\"AQAB\",\"n\":\"%s\"}],"
                 "\"vm-configuration\":{\"console-enabled\":false,\"secure-boot\":true,\"tpm-enabled\":true,"
                 "\"vmUniqueId\":\"%s\"}}",
                 F.aks[nd->ak].n64, nd->name);
        SHA256((const uint8_t *) rt, strlen(rt), nd->rt_hash);
        nd->rt_b64 = b64u(rt, strlen(rt));
        cp_amdsp_launch l = {.policy = 0x30000};
        memcpy(l.measurement, F.measurement, 48);
        if (cp_node_host_data(F.pool_ids[nd->pool], nd->name, l.host_data) < 0 ||
            cp_amdsp_launch_guest(F.chips[nd->chip].sp, &l, &nd->handle, nd->secrets) < 0)
                die("SNP launch");
}

/* A pool of count machines; its nodes launched on the chips and handed to the workers. */
static void add_pool(unsigned count, double start, double ramp_s, unsigned *next_node) {
        unsigned i = F.n_pools++;
        char url[600], body[256];
        if (i >= MAX_POOLS)
                die("too many pools");
        snprintf(F.pool_names[i], sizeof F.pool_names[i], "f%u", i);
        snprintf(url, sizeof url, AP "/%s" CS, F.pool_names[i]);
        snprintf(body, sizeof body,
                 "{\"properties\":{\"count\":%u,\"vmSize\":\"Standard_DC2as_v5\",\"mode\":\"User\"}}", count);
        json_t *j = NULL;
        int st = api("PUT", url, body, &j);
        if (st != 200 && st != 201) {
                char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;
                fprintf(stderr, "bench-fleet: PUT pool of %u: HTTP %d %s\n", count, st, t ? t : "");
                exit(1);
        }
        snprintf(F.pool_ids[i], sizeof F.pool_ids[i], "%s", json_string_value(json_object_get(j, "id")));
        json_decref(j);
        json_t *ms = pool_machines(i, count), *m;
        size_t k;
        json_array_foreach(json_object_get(ms, "value"), k, m) {
                node *nd = calloc(1, sizeof *nd);
                unsigned idx = (*next_node)++;
                nd->pool = i;
                snprintf(nd->name, sizeof nd->name, "%s", json_string_value(json_object_get(m, "name")));
                nd->chip = idx % F.n_chips;
                nd->ak = idx % F.n_aks;
                node_launch(nd);
                nd->due = start + ramp_s * (double) k / (double) count;
                nd->worker = idx % F.n_threads;
                heap_add(&F.w[nd->worker], nd);
        }
        json_decref(ms);
}

/* ---- measurement ------------------------------------------------------------------ */

static void proc_usage(pid_t pid, double *cpu_s, long *rss_kib) {
        char p[64], buf[2048];
        snprintf(p, sizeof p, "/proc/%d/stat", (int) pid);
        FILE *f = fopen(p, "r");
        *cpu_s = 0;
        *rss_kib = 0;
        if (f && fgets(buf, sizeof buf, f)) {
                char *s = strrchr(buf, ')');
                unsigned long ut = 0, st = 0;
                /* after ") ": state(3) ... utime is field 14, stime 15 */
                if (s && sscanf(s + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2)
                        *cpu_s = (double) (ut + st) / (double) sysconf(_SC_CLK_TCK);
        }
        if (f)
                fclose(f);
        snprintf(p, sizeof p, "/proc/%d/status", (int) pid);
        f = fopen(p, "r");
        while (f && fgets(buf, sizeof buf, f))
                if (strncmp(buf, "VmRSS:", 6) == 0)
                        *rss_kib = atol(buf + 6);
        if (f)
                fclose(f);
}

typedef struct window {
        unsigned nodes;
        double secs, cpu_at, cpu_cp, hb_rate;
        long rss_at, rss_cp;
        double hb[3], att[3], lag;
        double srv[3], send_lag[3]; /* confpoold's time, the simulator's lag (p50, p99, max) */
        size_t n_hb, n_att;
        unsigned long fails;
} window;

static worker *any_worker(unsigned i) {
        return i < F.n_threads ? &F.w[i] : &F.aw[i - F.n_threads];
}

static void reset_stats(void) {
        for (unsigned t = 0; t < F.n_threads + F.n_att_threads; t++) {
                worker *w = any_worker(t);
                pthread_mutex_lock(&w->lock);
                w->hb.n = w->att.n = w->hb_srv.n = w->hb_lag.n = 0;
                w->hb_fail = w->att_fail = 0;
                w->max_lag = 0;
                pthread_mutex_unlock(&w->lock);
        }
}

static void lat_merge(lat *to, const lat *from) {
        for (size_t i = 0; i < from->n; i++)
                lat_add(to, from->v[i]);
}

/* p50, p99, max of l (sorted here); its values freed */
static size_t lat_summary(lat *l, double out[3]) {
        qsort(l->v, l->n, sizeof *l->v, cmp_d);
        out[0] = pct(l, 50), out[1] = pct(l, 99), out[2] = l->n ? l->v[l->n - 1] : 0;
        size_t n = l->n;
        free(l->v);
        return n;
}

static void collect(window *r) {
        lat hb = {0}, att = {0}, srv = {0}, lag = {0};
        r->fails = 0;
        r->lag = 0;
        for (unsigned t = 0; t < F.n_threads + F.n_att_threads; t++) {
                worker *w = any_worker(t);
                pthread_mutex_lock(&w->lock);
                lat_merge(&hb, &w->hb);
                lat_merge(&att, &w->att);
                lat_merge(&srv, &w->hb_srv);
                lat_merge(&lag, &w->hb_lag);
                r->fails += w->hb_fail + w->att_fail;
                if (w->max_lag > r->lag)
                        r->lag = w->max_lag;
                pthread_mutex_unlock(&w->lock);
        }
        r->n_hb = lat_summary(&hb, r->hb);
        r->n_att = lat_summary(&att, r->att);
        (void) lat_summary(&srv, r->srv);
        (void) lat_summary(&lag, r->send_lag);
}

/* Every node registered (they were spread over the ramp; attestd may be
 * behind), then one heartbeat period so that every node is in its cycle. */
static void wait_registered(unsigned total, double not_before) {
        double t0 = now_s();
        while (__atomic_load_n(&F.registered, __ATOMIC_SEQ_CST) < total || now_s() < not_before) {
                if (now_s() - t0 > 1800)
                        die("the nodes did not all register within 30 min");
                usleep(100000);
        }
        double until = now_s() + F.hb_s;
        while (now_s() < until)
                usleep(100000);
}

static unsigned parse_sizes(const char *s, unsigned *out, unsigned cap) {
        unsigned n = 0;
        char *dup = strdup(s), *save = NULL;
        for (char *t = strtok_r(dup, ",", &save); t && n < cap; t = strtok_r(NULL, ",", &save))
                out[n++] = (unsigned) strtoul(t, NULL, 10);
        free(dup);
        return n;
}

int main(int argc, char **argv) {
        unsigned sizes[16], n_sizes = parse_sizes("1000", sizes, 16);
        double secs = 60, scale = 1;
        const char *csv = NULL;
        F.hb_s = 10;
        F.reattest_s = 3600;
        F.n_chips = 64;
        F.n_aks = 16;
        F.n_threads = 128; /* blocking keep-alive connections: ~80 nodes each at 10,000 */
        F.n_att_threads = 8;
        double join_rate = 50;
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
                if (!v)
                        return fprintf(stderr, "bench-fleet: %s needs a value\n", a), 2;
                i++;
                if (strcmp(a, "--nodes") == 0)
                        n_sizes = parse_sizes(v, sizes, 16);
                else if (strcmp(a, "--seconds") == 0)
                        secs = atof(v);
                else if (strcmp(a, "--heartbeat-s") == 0)
                        F.hb_s = atof(v);
                else if (strcmp(a, "--reattest-s") == 0)
                        F.reattest_s = atof(v);
                else if (strcmp(a, "--time-scale") == 0)
                        scale = atof(v);
                else if (strcmp(a, "--chips") == 0)
                        F.n_chips = (unsigned) atoi(v);
                else if (strcmp(a, "--aks") == 0)
                        F.n_aks = (unsigned) atoi(v);
                else if (strcmp(a, "--threads") == 0)
                        F.n_threads = (unsigned) atoi(v);
                else if (strcmp(a, "--attest-threads") == 0)
                        F.n_att_threads = (unsigned) atoi(v);
                else if (strcmp(a, "--join-rate") == 0)
                        join_rate = atof(v);
                else if (strcmp(a, "-o") == 0)
                        csv = v;
                else
                        return fprintf(stderr, "bench-fleet: unknown option %s\n", a), 2;
        }
        if (!n_sizes || F.hb_s <= 0 || F.reattest_s <= 0 || scale <= 0 || secs <= 0 || !F.n_chips ||
            F.n_chips > MAX_CHIPS || !F.n_aks || F.n_aks > MAX_AKS || !F.n_threads || F.n_threads > MAX_THREADS ||
            F.n_att_threads > MAX_THREADS || join_rate <= 0)
                return fprintf(stderr, "bench-fleet: bad arguments\n"), 2;
        F.reattest_s /= scale;
        setvbuf(stdout, NULL, _IOLBF, 0);
        flood_raise_nofile();
        char dir[] = "/tmp/bench-fleet-XXXXXX", bin[600];
        if (!mkdtemp(dir))
                die("mkdtemp");
        const char *envbin = getenv("CP_BIN_DIR");
        char self[600];
        snprintf(self, sizeof self, "%s", argv[0]);
        snprintf(bin, sizeof bin, "%s", envbin ? envbin : "");
        if (!envbin)
                snprintf(bin, sizeof bin, "%s/../bin", dirname(self));
        memset(F.measurement, 0x5a, sizeof F.measurement);
        double t0 = now_s();
        make_chips(dir);
        make_aks();
        printf("bench-fleet: %u emulated Milan chips, %u in-process RSA-2048 AKs: %.1f s\n", F.n_chips, F.n_aks,
               now_s() - t0);
        flood_daemon at, cp;
        setenv("CP_SERVER_TIMING", "1", 1); /* the daemons' own time per request */
        start_daemons(dir, bin, &at, &cp);
        json_t *j = NULL;
        if (api("PUT", RGP RS, "{\"location\":\"eastus\"}", NULL) != 201 ||
            api("PUT", MC CS,
                "{\"location\":\"eastus\",\"properties\":{\"agentPoolProfiles\":[{\"name\":\"nodepool1\","
                "\"count\":1,\"vmSize\":\"Standard_DC2as_v5\",\"mode\":\"System\"}]}}",
                &j) != 201)
                die("cannot create the cluster");
        json_decref(j);
        for (unsigned t = 0; t < F.n_threads; t++) {
                F.w[t].id = t;
                F.w[t].cp = (conn){.port = F.cp_port, .fd = -1};
                F.w[t].at = (conn){.port = F.at_port, .fd = -1};
                pthread_mutex_init(&F.w[t].lock, NULL);
                pthread_create(&F.w[t].th, NULL, worker_run, &F.w[t]);
        }
        pthread_mutex_init(&F.q_lock, NULL);
        pthread_cond_init(&F.q_cond, NULL);
        for (unsigned t = 0; t < F.n_att_threads; t++) {
                F.aw[t].id = F.n_threads + t;
                F.aw[t].cp = (conn){.port = F.cp_port, .fd = -1};
                F.aw[t].at = (conn){.port = F.at_port, .fd = -1};
                pthread_mutex_init(&F.aw[t].lock, NULL);
                pthread_create(&F.aw[t].th, NULL, attest_run, &F.aw[t]);
        }
        /* the system pool's machine is a node like the others */
        snprintf(F.pool_names[0], sizeof F.pool_names[0], "nodepool1");
        unsigned have = 0;
        {
                json_t *ms = NULL;
                F.n_pools = 1;
                api("GET", AP "/nodepool1" CS, NULL, &j);
                snprintf(F.pool_ids[0], sizeof F.pool_ids[0], "%s", json_string_value(json_object_get(j, "id")));
                json_decref(j);
                ms = pool_machines(0, 1);
                node *nd = calloc(1, sizeof *nd);
                snprintf(nd->name, sizeof nd->name, "%s",
                         json_string_value(json_object_get(json_array_get(json_object_get(ms, "value"), 0), "name")));
                node_launch(nd);
                nd->due = now_s();
                heap_push(&F.w[0], nd);
                json_decref(ms);
                have = 1;
        }
        FILE *out = csv ? fopen(csv, "w") : NULL;
        if (out)
                fprintf(out, "nodes,seconds,heartbeats,hb_p50_ms,hb_p99_ms,hb_max_ms,attestations,att_p50_ms,att_p99_ms,"
                             "att_max_ms,attestd_cpu_pct,confpoold_cpu_pct,daemons_cpu_pct_of_machine,attestd_rss_mib,"
                             "confpoold_rss_mib,nodes_per_core,max_lag_ms,failures,hb_srv_p50_ms,hb_srv_p99_ms,hb_srv_max_ms,"
                             "send_lag_p50_ms,send_lag_p99_ms,send_lag_max_ms,join_lag_max_ms,join_failures\n");
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        int bad = 0;
        for (unsigned s = 0; s < n_sizes; s++) {
                unsigned want = sizes[s] > have ? sizes[s] - have : 0;
                double start = now_s() + 1;
                /* the new nodes join spread over one heartbeat period */
                double ramp = F.hb_s > want / join_rate ? F.hb_s : want / join_rate; /* <= --join-rate joins/s */
                t0 = now_s();
                while (want) {
                        unsigned c = want > 1000 ? 1000 : want;
                        add_pool(c, start, ramp, &have);
                        want -= c;
                }
                double setup = now_s() - t0;
                /* joined: one full period after the last one's turn */
                wait_registered(have, start + ramp);
                window jw = {0};
                collect(&jw);
                printf("fleet %u nodes joined: attestations p50 %.1f ms p99 %.1f ms max %.1f ms (%zu), "
                       "max lag %.0f ms, heartbeat send lag p99 %.1f ms, %lu failures\n", have, jw.att[0], jw.att[1],
                       jw.att[2], jw.n_att, jw.lag * 1e3, jw.send_lag[1], jw.fails);
                bad |= jw.fails != 0;
                reset_stats();
                window r = {.nodes = have, .secs = secs};
                double c0a, c0c, c1a, c1c;
                proc_usage(at.pid, &c0a, &r.rss_at);
                proc_usage(cp.pid, &c0c, &r.rss_cp);
                double w0 = now_s();
                while (now_s() - w0 < secs)
                        usleep(200000);
                double el = now_s() - w0;
                proc_usage(at.pid, &c1a, &r.rss_at);
                proc_usage(cp.pid, &c1c, &r.rss_cp);
                collect(&r);
                r.cpu_at = 100 * (c1a - c0a) / el;
                r.cpu_cp = 100 * (c1c - c0c) / el;
                double cores = (c1a - c0a + c1c - c0c) / el;
                double per_core = cores > 0 ? have / cores : 0;
                printf("fleet %u nodes (pools made + launched in %.1f s): heartbeats %zu in %.0f s (%.0f/s) p50 %.2f ms "
                       "p99 %.2f ms max %.1f ms; attestations %zu p50 %.1f ms p99 %.1f ms max %.1f ms; "
                       "attestd %.1f%% CPU %ld MiB, confpoold %.1f%% CPU %ld MiB (together %.1f%% of %ld cores); "
                       "%.0f nodes per core; max lag %.0f ms; heartbeat in confpoold p50 %.2f ms p99 %.2f ms max %.1f ms; "
                       "simulator's send lag p50 %.2f ms p99 %.2f ms max %.1f ms; %lu failures\n",
                       have, setup, r.n_hb, el, r.n_hb / el, r.hb[0], r.hb[1], r.hb[2], r.n_att, r.att[0], r.att[1],
                       r.att[2], r.cpu_at, r.rss_at / 1024, r.cpu_cp, r.rss_cp / 1024, (r.cpu_at + r.cpu_cp) / ncpu,
                       ncpu, per_core, r.lag * 1e3, r.srv[0], r.srv[1], r.srv[2], r.send_lag[0], r.send_lag[1],
                       r.send_lag[2], r.fails);
                fflush(stdout);
                if (out)
                        fprintf(out, "%u,%.1f,%zu,%.3f,%.3f,%.3f,%zu,%.3f,%.3f,%.3f,%.2f,%.2f,%.2f,%ld,%ld,%.0f,%.0f,%lu,"
                                     "%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.0f,%lu\n",
                                have, el, r.n_hb, r.hb[0], r.hb[1], r.hb[2], r.n_att, r.att[0], r.att[1], r.att[2],
                                r.cpu_at, r.cpu_cp, (r.cpu_at + r.cpu_cp) / ncpu, r.rss_at / 1024, r.rss_cp / 1024,
                                per_core, r.lag * 1e3, r.fails, r.srv[0], r.srv[1], r.srv[2], r.send_lag[0],
                                r.send_lag[1], r.send_lag[2], jw.lag * 1e3, jw.fails);
                bad |= r.fails != 0 || r.n_hb == 0;
        }
        if (out)
                fclose(out);
        F.stop = 1;
        pthread_mutex_lock(&F.q_lock);
        pthread_cond_broadcast(&F.q_cond);
        pthread_mutex_unlock(&F.q_lock);
        for (unsigned t = 0; t < F.n_threads; t++)
                pthread_join(F.w[t].th, NULL);
        for (unsigned t = 0; t < F.n_att_threads; t++)
                pthread_join(F.aw[t].th, NULL);
        flood_daemon_stop(&cp);
        flood_daemon_stop(&at);
        char cmd[700];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
                fprintf(stderr, "bench-fleet: cannot remove %s\n", dir);
        return bad;
}
