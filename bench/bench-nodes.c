/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Time to Ready of confidential node pools on the embedded stack (the local
 * backend: software AMD-SP hosts, one swtpm vTPM, measured boot and one
 * confpool-agent process per node; the attestation service, the key broker
 * and the control plane's API + node endpoints in-process over loopback
 * HTTP; the reconciler driven synchronously, as tests/unit/test-nodes.c
 * does).  Every node's OS disk is LUKS2 under a disk key of the key broker,
 * released to the node's TEE key by secure key release; the bench checks
 * each node's disk (LUKS2 header, no stand-in key file, the agent
 * configured for the broker) and the broker's audit (one allowed release
 * per node, none denied) and fails (exit 1) if any node took a shortcut.
 *
 *   build/bench/bench-nodes [-o CSV] [SIZE...]      (default sizes: 1 10)
 *
 * For each size N a pool of N nodes is PUT, the reconciler is driven until
 * the pool is no longer in progress (Succeeded: every node Ready), and the
 * pool is deleted before the next size.  Per node the phases come from the
 * timestamps the backend writes into node.json ("bootTimes") and the agent
 * into status.json ("times").  Baseline, measured in the same run: the sum
 * of the cryptographic primitives one node join needs (SNP report sign:
 * ECDSA P-384; report verify: cp_snp_verify, warm cache; TPM quote verify;
 * token sign + verify, RS256 with jwt.h; RSA-2048 TEE key generation).
 * The CPU floor, also computed here: those primitives plus the vTPM's two
 * RSA-2048 generations (SRK and AK; swtpm runs the same OpenSSL) per node,
 * spread over min(N, online CPUs) cores (a lower bound: the LUKS2 format and
 * the key broker's wrap are not in it).
 */
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "attestd/attestd.h"
#include "basic/cleanup.h"
#include "basic/cursor.h"
#include "basic/fileio.h"
#include "confpool/luks2.h"
#include "confpool/jwt.h"
#include "confpool/snp_verify.h"
#include "confpool/tpm_quote.h"
#include "controlplane/cp-api.h"
#include "controlplane/cp-backend-local.h"
#include "controlplane/cp-reconciler.h"
#include "controlplane/cp-store.h"
#include "controlplane/cp-nodes.h"
#include "nodes-fixture.h"
#include "libconfpool/rsagen.h"

#define SUB "6a8b4c2e-1f3d-4e5a-9b7c-0d1e2f3a4b5c"
#define RGP "/subscriptions/" SUB "/resourceGroups/rg1"
#define MC RGP "/providers/Microsoft.ContainerService/managedClusters/c1"
#define AP MC "/agentPools"
#define CS "?api-version=2026-01-01"
#define RS "?api-version=2021-04-01"
#define SIZE "Standard_DC2as_v5"
#define NOW_2025 INT64_C(1748736000)

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static double wall_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

#define CHECK(expr)                                                                                    \
        do {                                                                                           \
                if ((expr) < 0) {                                                                      \
                        fprintf(stderr, "bench-nodes: %s: %s\n", #expr, cp_error_message());           \
                        exit(1);                                                                       \
                }                                                                                      \
        } while (0)

static void die(const char *what) {
        fprintf(stderr, "bench-nodes: %s\n", what);
        exit(1);
}

/* ---- primitives -------------------------------------------------------------- */

typedef int (*prim_fn)(void *arg);

/* Mean seconds per call over at least min_s seconds (and 3 calls). */
static double per_call(prim_fn fn, void *arg, double min_s) {
        if (fn(arg) < 0) /* warm */
                die(cp_error_message());
        unsigned n = 0;
        double t0 = now_s(), t;
        do {
                if (fn(arg) < 0)
                        die(cp_error_message());
                n++;
                t = now_s();
        } while (t - t0 < min_s || n < 3);
        return (t - t0) / n;
}

static EVP_PKEY *p384_key;
static uint8_t report_body[0x2A0];

static int prim_ecdsa_sign(void *arg) {
        (void) arg;
        uint8_t sig[160];
        size_t sl = sizeof sig;
        EVP_MD_CTX *c = EVP_MD_CTX_new();
        int ok = c && EVP_DigestSignInit(c, NULL, EVP_sha384(), NULL, p384_key) == 1 &&
                 EVP_DigestSign(c, sig, &sl, report_body, sizeof report_body) == 1;
        EVP_MD_CTX_free(c);
        return ok ? 0 : CP_ERROR(CP_ECRYPTO, "ECDSA P-384 sign failed");
}

typedef struct snp_case {
        cp_snp_verifier *v;
        cp_snp_policy policy;
        cp_snp_verify_result res;
        uint8_t *report, *leaf, *chain;
        size_t report_len, leaf_len, chain_len, offset;
        bool vlek;
} snp_case;

static int prim_snp_verify(void *arg) {
        snp_case *c = arg;
        cp_snp_evidence ev = {.report = c->report + c->offset, .report_len = CP_SNP_REPORT_SIZE, .leaf = c->leaf,
                              .leaf_len = c->leaf_len, .intermediate = c->chain, .intermediate_len = c->chain_len};
        cp_snp_verify_options o = CP_SNP_VERIFY_OPTIONS_INIT;
        o.now = c->vlek ? NOW_2025 : 0;
        o.policy = &c->policy;
        return cp_snp_verify(c->v, &ev, &o, &c->res);
}

static uint8_t *rd(const char *rel, size_t *len) {
        const char *dir = getenv("CP_TEST_DATA_DIR");
        char p[1024];
        uint8_t *b = NULL;
        snprintf(p, sizeof p, "%s/%s", dir ? dir : CP_TEST_DATA_DIR, rel);
        if (cp_read_file(p, 1u << 20, &b, len) < 0)
                die(cp_error_message());
        return b;
}

static void snp_case_load(snp_case *c) {
        size_t jl, i;
        uint8_t *jb = rd("snp/cases.json", &jl);
        json_t *root = json_loadb((const char *) jb, jl, 0, NULL), *e;
        free(jb);
        char p[512];
        json_array_foreach(root, i, e) {
                if (strcmp(json_string_value(json_object_get(e, "expect")), "verified") != 0)
                        continue;
                snprintf(p, sizeof p, "snp/%s", json_string_value(json_object_get(e, "report")));
                c->report = rd(p, &c->report_len);
                c->offset = (size_t) json_integer_value(json_object_get(e, "report_offset"));
                snprintf(p, sizeof p, "snp/%s", json_string_value(json_object_get(e, "endorsement_key_cert")));
                c->leaf = rd(p, &c->leaf_len);
                snprintf(p, sizeof p, "snp/%s", json_string_value(json_object_get(e, "ask_ark_chain")));
                c->chain = rd(p, &c->chain_len);
                c->vlek = !strcmp(json_string_value(json_object_get(e, "signing_key")), "VLEK");
                break;
        }
        json_decref(root);
        if (!c->report)
                die("no verified case in tests/data/snp/cases.json");
        CHECK(cp_snp_verifier_new(NULL, &c->v));
        cp_snp_policy_init(&c->policy);
        c->policy.allow_debug = true;
}

/* kinvolk's recorded quote (Rust bincode {signature, message, pcrs}) and AK. */
typedef struct quote_case {
        uint8_t *file, sig[512], msg[1024], pcrs[24][32];
        size_t sig_len, msg_len, n_pcrs;
        EVP_PKEY *ak;
} quote_case;

static void quote_case_load(quote_case *q) {
        size_t len;
        q->file = rd("snp/kinvolk__azure-cvm-tooling/quote.bin", &len);
        cp_cursor c = cp_cursor_make(q->file, len);
        uint64_t n;
        CHECK(cp_cursor_le64(&c, &n));
        if (n > sizeof q->sig)
                die("quote.bin: signature too long");
        CHECK(cp_cursor_bytes(&c, n, q->sig));
        q->sig_len = n;
        CHECK(cp_cursor_le64(&c, &n));
        if (n > sizeof q->msg)
                die("quote.bin: message too long");
        CHECK(cp_cursor_bytes(&c, n, q->msg));
        q->msg_len = n;
        CHECK(cp_cursor_le64(&c, &n));
        if (n > 24)
                die("quote.bin: too many PCRs");
        for (uint64_t i = 0; i < n; i++)
                CHECK(cp_cursor_bytes(&c, 32, q->pcrs[i]));
        q->n_pcrs = n;
        CHECK(cp_cursor_end(&c, "quote.bin"));
        uint8_t *pem = rd("snp/kinvolk__azure-cvm-tooling/akpub.pem", &len);
        BIO *bio = BIO_new_mem_buf(pem, (int) len);
        q->ak = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
        BIO_free(bio);
        free(pem);
        if (!q->ak)
                die("akpub.pem: no public key");
}

static int prim_quote_verify(void *arg) {
        quote_case *q = arg;
        cp_tpm_quote quote;
        cp_tpm_signature sig;
        cp_tpm_pcr_bank bank = {.hash_alg = CP_TPM_ALG_SHA256};
        for (size_t i = 0; i < q->n_pcrs; i++)
                bank.values[i] = q->pcrs[i];
        int r = cp_tpm_quote_parse(q->msg, q->msg_len, &quote);
        if (r >= 0)
                r = cp_tpm_signature_from_raw(q->sig, q->sig_len, CP_TPM_ALG_RSASSA, CP_TPM_ALG_SHA256, &sig);
        if (r >= 0)
                r = cp_tpm_quote_verify(&quote, &sig, q->ak, (const uint8_t *) "challenge", 9, &bank, 1);
        return r;
}

typedef struct jwt_case {
        cp_jwt_key *key;
        cp_jwks *jwks;
        json_t *claims;
        char *token;
} jwt_case;

static int prim_jwt_sign(void *arg) {
        jwt_case *j = arg;
        free(j->token);
        j->token = NULL;
        return cp_jwt_sign(j->key, j->claims, NULL, &j->token);
}

static int prim_jwt_verify(void *arg) {
        jwt_case *j = arg;
        cp_jwt_validate_options o = CP_JWT_VALIDATE_OPTIONS_INIT;
        o.jwks = j->jwks;
        o.issuer = "http://127.0.0.1";
        cp_jwt *t = NULL;
        int r = cp_jwt_validate(j->token, strlen(j->token), &o, &t);
        cp_jwt_free(t);
        return r;
}

/* the TEE key as the agent makes it (cp_rsa_generate: nettle, issue 19) */
static int prim_rsa_gen(void *arg) {
        (void) arg;
        EVP_PKEY *k = NULL;
        int r = cp_rsa_generate(2048, &k);
        EVP_PKEY_free(k);
        return r;
}

/* OpenSSL's RSA-2048 generation: not a step of a join any more, but the
 * unit the 344 s baseline was measured in (and what libtpms uses for the
 * vTPM's AK) */
static int prim_rsa_gen_openssl(void *arg) {
        (void) arg;
        EVP_PKEY *k = EVP_RSA_gen(2048);
        EVP_PKEY_free(k);
        return k ? 0 : CP_ERROR(CP_ECRYPTO, "RSA-2048 generation failed");
}

/* ---- the embedded stack ---------------------------------------------------- */

static nodes_fixture E;
static cp_api_reply R;

static unsigned boot_workers = 0; /* 0: the local backend's default (2 x online CPUs, at least 3) */
static unsigned vtpm_pool = 0;    /* -p: pre-provisioned vTPMs (cp_local_options.vtpm_pool) */
static int node_nice = 10;

static void teardown_env(void);

static void setup_env(void) {
        atexit(teardown_env); /* also on die(): no node process is left behind */
        nodes_fixture_options o = {.dir_template = "/tmp/cp-bench-nodes-XXXXXX", .hosts_per_generation = 2,
                                   .heartbeat_ms = 5000, .vcpu_quota = 10000 /* 1,000 2-vCPU nodes + system pool */,
                                   .with_kbs = true /* LUKS2 disks, keys by secure key release */,
                                   .boot_workers = boot_workers, .node_nice = node_nice, .vtpm_pool = vtpm_pool};
        CHECK(nodes_fixture_start(&o, &E));
}

static void teardown_env(void) {
        if (!E.up)
                return;
        cp_api_reply_clear(&R);
        nodes_fixture_stop(&E); /* stops every agent and swtpm */
}

static unsigned call(const char *method, const char *url, const char *body) {
        return nodes_fixture_call(&E, method, url, body, &R);
}

/* Drive the reconciler until nothing is in progress (at most limit_s),
 * a pass every 20 ms + 0.2 ms per node of the pool (a pass over N machines
 * holds the store for O(N): 220 ms at 1,000, so that it leaves the store to
 * the registrations and heartbeats most of the time). */
static void reconcile(double limit_s, unsigned nodes) {
        int r = nodes_fixture_reconcile(&E, limit_s, 20 + (long) nodes / 5);
        CHECK(r);
        if (r > 0)
                die("the pool did not settle in time");
}

static const char *pool_state(const char *pool) {
        char url[512];
        snprintf(url, sizeof url, AP "/%s" CS, pool);
        if (call("GET", url, NULL) != 200)
                die("GET pool failed");
        return json_string_value(json_object_get(json_object_get(R.body, "properties"), "provisioningState"));
}

/* ---- per-node phases ---------------------------------------------------------- */

enum {
        PH_QUEUE,       /* create_node (queued) -> a boot worker starts the boot */
        PH_VTPM_BOOT,   /* -> measured boot done (swtpm start, PCR extends + event log) */
        PH_LAUNCH,      /* -> SNP launch measurement + LAUNCH on the host */
        PH_DISK,        /* -> secrets page, encrypted disk image */
        PH_SPAWN,       /* -> agent process running (node.json, fork/exec) */
        PH_AK,          /* -> vTPM opened, AK created */
        PH_TEE,         /* -> RSA-2048 TEE key */
        PH_REPORT,      /* -> SNP report through the guest-request channel */
        PH_EVIDENCE,    /* -> challenge, quote, PCRs, event log */
        PH_ATTEST,      /* -> attestation service: verify, token */
        PH_UNLOCK,      /* -> disk key release + disk open */
        PH_REGISTER,    /* -> registered with the control plane (agent Ready) */
        PH_N
};
static const char *const ph_names[PH_N] = {"boot_queue", "vtpm_boot",  "launch_measure", "disk_create",
                                           "agent_spawn", "vtpm_ak",  "tee_key",        "snp_report",
                                           "evidence",   "attest",     "disk_unlock",    "register"};

typedef struct result {
        unsigned nodes;
        double ready_s, node_mean_ms, node_max_ms, ph[PH_N];
        unsigned measured;
        unsigned procs;      /* node processes alive once the pool is Ready (agent + swtpm) */
        double pss_kb;       /* their proportional set size, summed */
        unsigned released;   /* disk key releases the key broker allowed */
} result;

static double jms(const json_t *o, const char *k) {
        const json_t *v = json_object_get(o, k);
        return json_is_integer(v) ? (double) json_integer_value(v) : -1;
}

static json_t *load_json(const char *dir, const char *name) {
        char f[1024];
        snprintf(f, sizeof f, "%s/%s", dir, name);
        return json_load_file(f, 0, NULL);
}

/* The PSS (kB) of a node process named by a pid file (0: not running). */
static double pidfile_pss_kb(const char *dir, const char *pidfile) {
        char f[1024], line[256];
        snprintf(f, sizeof f, "%s/%s", dir, pidfile);
        FILE *fp = fopen(f, "r");
        long pid = 0;
        if (!fp)
                return 0;
        if (fscanf(fp, "%ld", &pid) != 1)
                pid = 0;
        fclose(fp);
        if (pid <= 0)
                return 0;
        snprintf(f, sizeof f, "/proc/%ld/smaps_rollup", pid);
        if (!(fp = fopen(f, "r")))
                return 0;
        double kb = 0;
        while (fgets(line, sizeof line, fp))
                if (sscanf(line, "Pss: %lf kB", &kb) == 1)
                        break;
        fclose(fp);
        return kb;
}

/* The node took the real path: its OS disk is LUKS2 (header parsed), no
 * stand-in key lies beside it and the agent was configured for the key
 * broker.  Dies otherwise. */
static void check_broker_disk(const char *dir, const char *name) {
        char f[1024];
        snprintf(f, sizeof f, "%s/disk-key.standin", dir);
        if (access(f, F_OK) == 0) {
                fprintf(stderr, "bench-nodes: %s: a stand-in disk key, not the key broker's\n", name);
                exit(1);
        }
        json_t *cfg = load_json(dir, "node.json");
        const char *prov = json_string_value(json_object_get(json_object_get(cfg, "diskKey"), "provider"));
        bool kbs = prov && !strcmp(prov, "kbs");
        json_decref(cfg);
        if (!kbs) {
                fprintf(stderr, "bench-nodes: %s: the agent is not configured for the key broker\n", name);
                exit(1);
        }
        /* the headers: 16 KiB binary + JSON area twice at most 4 MiB */
        snprintf(f, sizeof f, "%s/disk.img", dir);
        FILE *fp = fopen(f, "rb");
        static uint8_t hdr[4u << 20];
        size_t len = fp ? fread(hdr, 1, sizeof hdr, fp) : 0;
        if (fp)
                fclose(fp);
        cp_luks2_info info;
        if (cp_luks2_parse(hdr, len, &info) < 0) {
                fprintf(stderr, "bench-nodes: %s: the OS disk is not LUKS2: %s\n", name, cp_error_message());
                exit(1);
        }
}

static void node_phases(const char *pool, const char *name, result *res) {
        char dir[512], pool_id[512];
        snprintf(pool_id, sizeof pool_id, AP "/%s", pool);
        nodes_fixture_node_dir(&E, pool_id, name, dir, sizeof dir);
        check_broker_disk(dir, name);
        static const char *const pidfiles[] = {"agent.pid", "swtpm.pid"};
        for (size_t i = 0; i < 2; i++) {
                double kb = pidfile_pss_kb(dir, pidfiles[i]);
                res->procs += kb > 0;
                res->pss_kb += kb;
        }
        json_t *cfg = load_json(dir, "node.json"), *st = load_json(dir, "status.json");
        const json_t *bt = json_object_get(cfg, "bootTimes"), *at = json_object_get(st, "times");
        double t[PH_N + 1] = {jms(bt, "queued"), jms(bt, "create"), jms(bt, "measuredBoot"), jms(bt, "launch"),
                              jms(bt, "disk"),   jms(at, "start"),  jms(at, "vtpm"),         jms(at, "teeKey"),
                              jms(at, "report"), jms(at, "quote"),  jms(at, "token"),        jms(at, "Joining"),
                              jms(at, "Ready")};
        bool ok = true;
        for (size_t i = 0; i <= PH_N; i++)
                ok = ok && t[i] > 0;
        if (ok) {
                for (size_t i = 0; i < PH_N; i++)
                        res->ph[i] += t[i + 1] - t[i];
                double total = t[PH_N] - t[0];
                res->node_mean_ms += total;
                if (total > res->node_max_ms)
                        res->node_max_ms = total;
                res->measured++;
        } else
                fprintf(stderr, "bench-nodes: %s: incomplete timestamps\n", name);
        json_decref(cfg);
        json_decref(st);
}

static long kbs_audit(const char *decision) {
        long n = -1;
        CHECK(cp_kbsd_audit_count(E.kbsd, decision, &n));
        return n;
}

static void run_pool(unsigned n, bool del, result *res) {
        char name[32], url[512], body[256];
        long allowed0 = kbs_audit("allowed");
        snprintf(name, sizeof name, "p%u", n);
        snprintf(url, sizeof url, AP "/%s" CS, name);
        snprintf(body, sizeof body, "{\"properties\":{\"count\":%u,\"vmSize\":\"" SIZE "\",\"mode\":\"User\"}}", n);
        memset(res, 0, sizeof *res);
        res->nodes = n;
        double t0 = now_s();
        unsigned st = call("PUT", url, body);
        if (st != 200 && st != 201) {
                char *t = json_dumps(R.body, 0);
                fprintf(stderr, "bench-nodes: PUT pool of %u: HTTP %u %s\n", n, st, t ? t : "");
                free(t);
                exit(1);
        }
        reconcile(1800, n);
        res->ready_s = now_s() - t0;
        const char *ps = pool_state(name);
        if (!ps || strcmp(ps, "Succeeded") != 0) {
                const char *why = json_string_value(json_object_get(
                        json_object_get(json_object_get(json_object_get(R.body, "properties"), "status"),
                                        "provisioningError"),
                        "message"));
                fprintf(stderr, "bench-nodes: pool of %u ended %s: %s\n", n, ps ? ps : "?", why ? why : "");
                exit(1);
        }
        snprintf(url, sizeof url, AP "/%s/machines" CS, name);
        if (call("GET", url, NULL) != 200)
                die("GET machines failed");
        json_t *v = json_object_get(R.body, "value"), *m;
        size_t i;
        json_t *names = json_array();
        json_array_foreach(v, i, m) json_array_append(names, json_object_get(m, "name"));
        json_array_foreach(names, i, m) node_phases(name, json_string_value(m), res);
        json_decref(names);
        /* every node's disk key went to its TEE key through the broker */
        long released = kbs_audit("allowed") - allowed0, denied = kbs_audit("denied");
        if (released < (long) n || denied != 0) {
                fprintf(stderr, "bench-nodes: pool of %u: %ld disk key releases allowed, %ld denied\n", n, released,
                        denied);
                exit(1);
        }
        res->released = (unsigned) released;
        if (res->measured) {
                res->node_mean_ms /= res->measured;
                for (size_t k = 0; k < PH_N; k++)
                        res->ph[k] /= res->measured;
        }
        if (!del)
                return; /* the last size: the teardown stops every node at once */
        /* free the machine for the next size */
        snprintf(url, sizeof url, AP "/%s" CS, name);
        st = call("DELETE", url, NULL);
        if (st != 200 && st != 202 && st != 204)
                die("DELETE pool failed");
        reconcile(1800, n);
}

typedef struct prim {
        const char *name;
        prim_fn fn;
        void *arg;
        double s; /* seconds per call: the lowest measurement so far */
        bool ref; /* a reference figure, not a step of the join (not in the sum) */
} prim;

/* Measures each primitive; first: sets s, else keeps the lower figure. */
static void measure_prims(prim *prims, size_t n, bool first) {
        double sum = 0;
        for (size_t i = 0; i < n; i++) {
                double s = per_call(prims[i].fn, prims[i].arg, prims[i].ref || i == n - 2 ? 2.0 : 0.5);
                if (first || s < prims[i].s)
                        prims[i].s = s;
                sum += prims[i].ref ? 0 : s;
                printf("  %-36s %9.3f ms%s\n", prims[i].name, s * 1e3, prims[i].ref ? " (reference, not in the sum)" : "");
        }
        printf("  %-36s %9.3f ms\n", "sum", sum * 1e3);
}

/* Seconds per node of a pool of n at best: the node's CPU work spread over
 * min(n, cores) cores. */
static double floor_per_node(double node_cpu, unsigned n, long cores) {
        return node_cpu / (double) ((long) n < cores ? (long) n : cores);
}

int main(int argc, char **argv) {
        const char *csv = NULL;
        unsigned sizes[16], n_sizes = 0;
        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "-o") && i + 1 < argc)
                        csv = argv[++i];
                else if (!strcmp(argv[i], "-w") && i + 1 < argc && atoi(argv[i + 1]) >= 1 && atoi(argv[i + 1]) <= 8)
                        boot_workers = (unsigned) atoi(argv[++i]);
                else if (!strcmp(argv[i], "-p") && i + 1 < argc && atoi(argv[i + 1]) >= 0 && atoi(argv[i + 1]) <= 1000)
                        vtpm_pool = (unsigned) atoi(argv[++i]);
                else if (!strcmp(argv[i], "-n") && i + 1 < argc && atoi(argv[i + 1]) >= 0 && atoi(argv[i + 1]) <= 19)
                        node_nice = atoi(argv[++i]);
                else if (n_sizes < CP_ELEMENTSOF(sizes) && atoi(argv[i]) > 0 && atoi(argv[i]) <= 1000)
                        sizes[n_sizes++] = (unsigned) atoi(argv[i]);
                else {
                        fprintf(stderr, "usage: bench-nodes [-o CSV] [-w BOOT_WORKERS] [-n NODE_NICE] [-p VTPM_POOL] [SIZE...] "
                                        "(sizes 1..1000, at most 16; workers 1..8, default 2 x CPUs; nice 0..19, "
                                        "default 10; pre-provisioned vTPMs 0..1000, default 0)\n");
                        return 2;
                }
        }
        if (!n_sizes) {
                sizes[n_sizes++] = 1;
                sizes[n_sizes++] = 10;
        }
        signal(SIGPIPE, SIG_IGN);

        /* the baseline: primitives one join needs */
        p384_key = EVP_EC_gen("P-384");
        if (!p384_key)
                die("P-384 key generation failed");
        memset(report_body, 0xA5, sizeof report_body);
        snp_case sc = {0};
        snp_case_load(&sc);
        quote_case qc = {0};
        quote_case_load(&qc);
        jwt_case jc = {0};
        CHECK(cp_jwt_key_generate(CP_JWT_RS256, NULL, 0, 1, &jc.key));
        const cp_jwt_key *keys[1] = {jc.key};
        CHECK(cp_jwks_from_keys(keys, 1, &jc.jwks));
        jc.claims = json_pack("{s:s,s:s,s:I}", "iss", "http://127.0.0.1", "sub", "node", "exp",
                              (json_int_t) time(NULL) + 3600);
        prim prims[] = {
                {"ECDSA P-384 sign (SNP report)", prim_ecdsa_sign, NULL, 0, false},
                {"cp_snp_verify (warm cache)", prim_snp_verify, &sc, 0, false},
                {"TPM quote verify (RSA-2048)", prim_quote_verify, &qc, 0, false},
                {"token sign (RS256, jwt.h)", prim_jwt_sign, &jc, 0, false},
                {"token verify (RS256, jwt.h)", prim_jwt_verify, &jc, 0, false},
                {"RSA-2048 TEE key (cp_rsa_generate)", prim_rsa_gen, NULL, 0, false},
                {"RSA-2048 generation, OpenSSL", prim_rsa_gen_openssl, NULL, 0, true},
        };
        const size_t P_OSSL = CP_ELEMENTSOF(prims) - 1;
        printf("bench-nodes: baseline = the primitives of one node join, measured now (and again after the "
               "pools: the lower of the two counts)\n");
        measure_prims(prims, CP_ELEMENTSOF(prims), true);

        printf("real path for every node (agent + swtpm processes, measured boot, SNP launch, attestation, "
               "LUKS2 disk under a key-broker key released by secure key release, registration); %u boot workers (0: the "
               "backend's default), node processes at nice %d, %u pre-provisioned vTPMs\n",
               boot_workers, node_nice, vtpm_pool);
        setup_env();
        if (call("PUT", RGP RS, "{\"location\":\"eastus\"}") != 201 ||
            call("PUT", MC CS,
                 "{\"location\":\"eastus\",\"properties\":{\"agentPoolProfiles\":[{\"name\":\"nodepool1\","
                 "\"count\":1,\"vmSize\":\"" SIZE "\",\"mode\":\"System\"}]}}") != 201)
                die("cannot create the cluster");
        reconcile(300, 1); /* the system pool (also warms up the hosts) */

        result res[16];
        for (unsigned i = 0; i < n_sizes; i++) {
                /* the vTPM pool ready for this size first, as a cloud's
                 * provisioned capacity: its time and CPU are reported apart */
                double tp = wall_ms();
                size_t want = vtpm_pool < sizes[i] ? vtpm_pool : sizes[i];
                while (vtpm_pool && cp_backend_local_vtpm_pool_ready(E.backend) < want) {
                        if (wall_ms() - tp > 3600e3)
                                die("the vTPM pool did not fill within an hour");
                        usleep(100000);
                }
                if (vtpm_pool)
                        printf("vTPM pool: %zu ready for the pool of %u after %.1f s\n", want, sizes[i],
                               (wall_ms() - tp) / 1e3);
                double t = wall_ms();
                run_pool(sizes[i], i + 1 < n_sizes, &res[i]);
                printf("pool of %u: Ready in %.2f s (%.1f ms per node; node create->Ready mean %.0f ms, max %.0f "
                       "ms; bench %.1f s%s; %u node processes, PSS %.0f MiB = %.1f MiB per node; %u LUKS2 disk keys "
                       "released by the key broker)\n",
                       sizes[i], res[i].ready_s, 1e3 * res[i].ready_s / sizes[i], res[i].node_mean_ms,
                       res[i].node_max_ms, (wall_ms() - t) / 1e3, i + 1 < n_sizes ? " incl. delete" : "", res[i].procs, res[i].pss_kb / 1024,
                       res[i].pss_kb / 1024 / sizes[i], res[i].released);
                fflush(stdout);
        }
        double td = wall_ms();
        teardown_env();
        printf("teardown (stops the last pool's nodes at once): %.1f s\n", (wall_ms() - td) / 1e3);
        /* the baseline again on the quiet machine; the lower of the two counts */
        printf("\nbaseline again, after the pools:\n");
        measure_prims(prims, CP_ELEMENTSOF(prims), false);
        double prim_sum = 0;
        for (size_t i = 0; i < CP_ELEMENTSOF(prims); i++)
                prim_sum += prims[i].ref ? 0 : prims[i].s;
        /* the floor: + the vTPM's AK (RSA-2048; its SRK is ECC P-256 since
         * issue 19), over the cores; with pre-provisioned vTPMs the AK was
         * made before the pool was requested (reported apart) */
        double node_cpu = prim_sum + (vtpm_pool ? 0 : prims[P_OSSL].s);
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        if (cores < 1)
                cores = 1;
        printf("  %-36s %9.3f ms (the lower of each primitive's two figures)\n", "sum used", prim_sum * 1e3);
        printf("  %-36s %9.3f ms CPU per node, %ld cores\n", vtpm_pool ? "CPU floor: sum (AK pre-provisioned)" : "CPU floor: sum + AK generation", node_cpu * 1e3,
               cores);

        printf("\nper-node phases (mean ms per node):\n%-16s", "phase");
        for (unsigned i = 0; i < n_sizes; i++)
                printf(" %9u", sizes[i]);
        printf("\n");
        for (size_t k = 0; k < PH_N; k++) {
                printf("%-16s", ph_names[k]);
                for (unsigned i = 0; i < n_sizes; i++)
                        printf(" %9.1f", res[i].ph[k]);
                printf("\n");
        }
        printf("\n%-8s %10s %14s %16s %14s %18s\n", "nodes", "ready_s", "ms/node", "vs primitives", "vs CPU floor",
               "node latency/prim");
        for (unsigned i = 0; i < n_sizes; i++) {
                double per = res[i].ready_s / sizes[i];
                printf("%-8u %10.2f %14.1f %15.2fx %13.2fx %17.1fx\n", sizes[i], res[i].ready_s, per * 1e3,
                       per / prim_sum, per / floor_per_node(node_cpu, sizes[i], cores),
                       res[i].node_mean_ms / 1e3 / prim_sum);
        }
        /* against the 344 s baseline (1,000 nodes, 2026-12-07, issue 19's "today"):
         * 343.7 ms per node when OpenSSL made an RSA-2048 key in 136 ms, i.e.
         * 2.53 of those per node; the same unit measured in this run */
        printf("\nagainst the 344 s baseline, in OpenSSL RSA-2048 generations of each run (%.1f ms here, 136 ms "
               "then):\n%-8s %16s %14s %16s\n",
               prims[P_OSSL].s * 1e3, "nodes", "gens per node", "baseline 2.53", "x faster");
        for (unsigned i = 0; i < n_sizes; i++) {
                double gens = res[i].ready_s / sizes[i] / prims[P_OSSL].s;
                printf("%-8u %16.3f %14s %15.2fx\n", sizes[i], gens, "", (343.7 / 136.0) / gens);
        }
        if (csv) {
                FILE *f = fopen(csv, "w");
                if (!f)
                        die("cannot write the CSV");
                fprintf(f, "nodes,ready_s,ms_per_node,node_mean_ms,node_max_ms,primitives_ms,ratio_per_node,"
                           "cpu_floor_ms_per_node,ratio_cpu_floor");
                for (size_t k = 0; k < PH_N; k++)
                        fprintf(f, ",%s_ms", ph_names[k]);
                fprintf(f, ",node_procs,node_pss_mib\n");
                for (unsigned i = 0; i < n_sizes; i++) {
                        double per = res[i].ready_s / sizes[i];
                        double fl = floor_per_node(node_cpu, sizes[i], cores);
                        fprintf(f, "%u,%.3f,%.1f,%.1f,%.1f,%.3f,%.1f,%.1f,%.2f", sizes[i], res[i].ready_s, per * 1e3,
                                res[i].node_mean_ms, res[i].node_max_ms, prim_sum * 1e3, per / prim_sum, fl * 1e3,
                                per / fl);
                        for (size_t k = 0; k < PH_N; k++)
                                fprintf(f, ",%.1f", res[i].ph[k]);
                        fprintf(f, ",%u,%.1f\n", res[i].procs, res[i].pss_kb / 1024);
                }
                fclose(f);
                printf("wrote %s\n", csv);
        }

        free(jc.token);
        json_decref(jc.claims);
        cp_jwks_free(jc.jwks);
        cp_jwt_key_free(jc.key);
        EVP_PKEY_free(qc.ak);
        free(qc.file);
        cp_snp_policy_clear(&sc.policy);
        cp_snp_verifier_free(sc.v);
        free(sc.report);
        free(sc.leaf);
        free(sc.chain);
        EVP_PKEY_free(p384_key);
        return 0;
}
