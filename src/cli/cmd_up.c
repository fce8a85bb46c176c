/* SPDX-License-Identifier: Apache-2.0 */
/*
 * confpool up [--state-dir DIR] [--port N] [--min-tcb SPEC] [--bin-dir DIR]
 * confpool down [--state-dir DIR]
 *
 * The embedded stack (docs/nodes.md, "Embedded stack"): confpool-attestd
 * trusting only the local hosts' emulated ARKs, confpool-kbsd trusting that
 * attestation service (OS disk keys, released only to attested nodes),
 * confpoold with the local backend pointed at both, state in DIR (default ~/.confpool/stack), pid files,
 * a readiness wait, and the CLI's connection settings written (as `confpool
 * login` does) so that `confpool aks ...` works right away.  `down` stops
 * confpoold (which stops its nodes), any node process a killed confpoold
 * left behind, the key broker and the attestation service.
 *
 * `up` starts what is not running: after a kill -9 of confpoold it keeps
 * the running attestation service and key broker, and the new confpoold
 * adopts the running nodes; with confpoold running it starts again only an
 * attestation service or key broker that is gone (and fails when nothing is).  Every daemon listens on the port it got at
 * the stack's first start (ports.json): the issuer URL in the disk keys'
 * release policies and the URLs in the nodes' settings stay valid across
 * `down`/`up`.  confpoold.log is appended to, never truncated.
 *
 * Layout of DIR: cp/ (confpoold's state dir, cp/local/ the backend's),
 * ports.json, confpoold.{pid,port,log}, attestd.{pid,out,log}, arks.txt,
 * kbsd.{pid,out,log,db}, kbs-audit.jsonl and the broker's secrets (0600):
 * kbs-master.key, kbs-admin.token, kbs-release.token; attestd-keys/ (0700):
 * the attestation service's token-signing keys (--signing-key-dir).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include <sys/random.h>

#include "basic/codec.h"
#include "basic/fileio.h"
#include "basic/secure.h"
#include "cli/cli-az.h"
#include "cli/cli.h"
#include "service/proc.h"

#define P 4096
#define DEFAULT_MIN_TCB "bl=2,tee=0,snp=10,ucode=50"

typedef struct stack {
        char dir[P];
        char cp[P + 8];
        char bin[P];
        const char *db; /* --db: confpoold's store (postgresql://...), NULL: SQLite in the state dir */
        const char *signing; /* --cluster-signing-duration (confpoold's), NULL: its default */
        const char *tdx_evidence; /* --tdx-evidence (confpoold's), NULL: native */
} stack;

static void nap_ms(unsigned ms) {
        struct timespec ts = {ms / 1000, (long) (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
}

static int mkdir_p(const char *path, mode_t mode) {
        char buf[P];
        snprintf(buf, sizeof buf, "%s", path);
        for (char *p = buf + 1; *p; p++)
                if (*p == '/') {
                        *p = 0;
                        if (mkdir(buf, mode) < 0 && errno != EEXIST)
                                return CP_ERROR(CP_EIO, "cannot create %s: %s", buf, strerror(errno));
                        *p = '/';
                }
        if (mkdir(buf, mode) < 0 && errno != EEXIST)
                return CP_ERROR(CP_EIO, "cannot create %s: %s", buf, strerror(errno));
        return 0;
}

static int resolve_dir(const char *arg, stack *s) {
        if (arg && *arg) {
                if (mkdir_p(arg, 0700) < 0)
                        return -1;
                if (!realpath(arg, s->dir))
                        return CP_ERROR(CP_EIO, "%s: %s", arg, strerror(errno));
        } else {
                const char *home = getenv("HOME");
                if (!home || !*home)
                        return CP_ERROR(CP_EINVAL, "HOME is not set: give --state-dir");
                int n = snprintf(s->dir, sizeof s->dir, "%s/.confpool/stack", home);
                if (n < 0 || (size_t) n >= sizeof s->dir - 64)
                        return CP_ERROR(CP_ETOOBIG, "state directory path too long");
                if (mkdir_p(s->dir, 0700) < 0)
                        return -1;
        }
        if (strlen(s->dir) > 800)
                return CP_ERROR(CP_ETOOBIG, "state directory path too long");
        snprintf(s->cp, sizeof s->cp, "%s/cp", s->dir);
        return 0;
}

static void path_of(const stack *s, const char *name, char *out, size_t size) {
        snprintf(out, size, "%s/%s", s->dir, name);
}

/* A program next to this confpool binary (build/bin), else from PATH. */
static int find_bin(const stack *s, const char *name, char *out, size_t size) {
        if (s->bin[0]) {
                snprintf(out, size, "%s/%s", s->bin, name);
                if (access(out, X_OK) == 0)
                        return 0;
        }
        const char *path = getenv("PATH");
        char buf[P];
        snprintf(buf, sizeof buf, "%s", path ? path : "/usr/local/bin:/usr/bin:/bin");
        char *save = NULL;
        for (char *d = strtok_r(buf, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
                snprintf(out, size, "%s/%s", d, name);
                if (access(out, X_OK) == 0)
                        return 0;
        }
        return CP_ERROR(CP_ENOTFOUND, "cannot find %s (build it, or give --bin-dir)", name);
}

/* Detached (own session), stdout to out (truncated, or appended to for a
 * log), stderr appended to err or, without err, to out as well. */
static int start(char *const argv[], const char *out, bool append, const char *err, pid_t *ret) {
        cp_proc_options o = {
                .out = append ? CP_PROC_APPEND : CP_PROC_TRUNCATE,
                .out_path = out,
                .err = err ? CP_PROC_APPEND : CP_PROC_AS_STDOUT,
                .err_path = err,
                .stdin_null = true,
                .new_session = true,
                .sigpipe_default = true,
        };
        return cp_proc_spawn(argv, &o, ret);
}

/* The markers identifying this stack's processes in their command lines. */
/* A random 32-byte secret as 64 hex digits in a 0600 file, created once. */
static int ensure_secret_file(const char *path) {
        if (access(path, R_OK) == 0)
                return 0;
        uint8_t raw[32];
        char hex[65];
        if (getrandom(raw, sizeof raw, 0) != (ssize_t) sizeof raw)
                return CP_ERROR(CP_EIO, "getrandom failed");
        cp_hex_encode(raw, sizeof raw, hex);
        int r = cp_write_file(path, hex, 64, 0600);
        cp_wipe(raw, sizeof raw);
        cp_wipe(hex, sizeof hex);
        return r;
}

static void markers(const stack *s, char *cpd, char *att, size_t size) {
        snprintf(cpd, size, "--state-dir %s ", s->cp);
        snprintf(att, size, "--extra-ark %s/local/hosts/", s->cp);
}

/* Node processes (agent, swtpm) under cp/local/nodes whose daemon is gone. */
static unsigned sweep_nodes(const stack *s) {
        char d[P + 32];
        snprintf(d, sizeof d, "%s/local/nodes", s->cp);
        DIR *dp = opendir(d);
        if (!dp)
                return 0;
        unsigned n = 0;
        struct dirent *de;
        while ((de = readdir(dp))) {
                if (de->d_name[0] == '.' || strlen(de->d_name) > 64)
                        continue;
                char nd[P + 128], f[P + 160], m[P + 160];
                snprintf(nd, sizeof nd, "%s/%.64s", d, de->d_name);
                snprintf(f, sizeof f, "%s/agent.pid", nd);
                snprintf(m, sizeof m, "--node-dir %s", nd);
                n += (unsigned) cp_proc_stop_pidfile(f, m, 2000);
                n += cp_proc_stop_matching(m, 2000); /* spawned but never recorded */
                snprintf(f, sizeof f, "%s/swtpm.pid", nd);
                snprintf(m, sizeof m, "dir=%s/tpm ", nd);
                n += (unsigned) cp_proc_stop_pidfile(f, m, 2000);
                n += cp_proc_stop_matching(m, 2000);
        }
        closedir(dp);
        return n;
}

static int stack_down(const stack *s, bool quiet) {
        char f[P + 64], cpd[P + 64], att[P + 64];
        markers(s, cpd, att, sizeof cpd);
        unsigned n = 0;
        /* confpoold first: it stops every node it runs (SIGTERM, agents, swtpms) */
        path_of(s, "confpoold.pid", f, sizeof f);
        n += (unsigned) cp_proc_stop_pidfile(f, cpd, 30000);
        unlink(f);
        path_of(s, "confpoold.port", f, sizeof f);
        unlink(f);
        /* what a confpoold killed with SIGKILL left behind */
        unsigned left = sweep_nodes(s);
        n += left;
        char kmark[P + 64];
        snprintf(kmark, sizeof kmark, "--db %s/kbsd.db", s->dir);
        path_of(s, "kbsd.pid", f, sizeof f);
        n += (unsigned) cp_proc_stop_pidfile(f, kmark, 10000);
        unlink(f);
        path_of(s, "attestd.pid", f, sizeof f);
        n += (unsigned) cp_proc_stop_pidfile(f, att, 10000);
        unlink(f);
        if (!quiet) {
                printf("confpool: stopped the embedded stack in %s (%u process%s", s->dir, n, n == 1 ? "" : "es");
                if (left)
                        printf(", %u of them node processes a killed confpoold left behind", left);
                printf(")\n");
        }
        return 0;
}

static int read_text(const char *path, char **ret) {
        uint8_t *buf = NULL;
        size_t len;
        int r = cp_read_file(path, 1 << 20, &buf, &len);
        if (r < 0)
                return r;
        char *t = realloc(buf, len + 1);
        if (!t) {
                free(buf);
                return cp_error_oom();
        }
        t[len] = 0;
        *ret = t;
        return 0;
}

static int tail_error(const char *what, const char *log, int status) {
        char *t = NULL;
        if (read_text(log, &t) >= 0 && *t) {
                size_t l = strlen(t);
                fprintf(stderr, "--- %s (last lines of %s)\n%s\n", what, log, t + (l > 1500 ? l - 1500 : 0));
        } else
                cp_error_clear();
        free(t);
        return CP_ERROR(CP_EIO, "%s exited during start (status %d); see %s", what, status, log);
}

/* What stack_up found and started, step by step. */
typedef struct stack_run {
        char cpd_bin[P + 64], att_bin[P + 64], kbs_bin[P + 64], agent[P + 64];
        char log[P + 64];              /* confpoold.log */
        char adm[P + 64], rel[P + 64]; /* the broker's admin and release tokens */
        char issuer[256];              /* the attestation service's URL */
        char kbs_url[64];
        char endpoint[64];             /* the control plane's URL (https) */
        size_t n_arks;
        pid_t apid, kpid, cpid;
        /* ports.json: each daemon's port since the stack's first start (0:
         * none yet); the issuer URL, the broker's URL and the URL the nodes
         * talk to are kept across down/up and restarts */
        unsigned port_attestd, port_kbsd, port_confpoold;
        bool kept_attestd, kept_kbsd; /* found running (confpoold was killed): kept */
} stack_run;

/* Until ready() accepts the text of file, which the starting process pid
 * writes once it listens: every 50 ms, at most tries times. */
static int wait_ready(const char *what, pid_t pid, const char *file, const char *log, int tries,
                      bool (*ready)(const char *text, void *userdata), void *userdata) {
        for (int i = 0; i < tries; i++) {
                char *t = NULL;
                bool ok = read_text(file, &t) >= 0 && ready(t, userdata);
                cp_error_clear();
                free(t);
                if (ok)
                        return 0;
                int st;
                if (cp_proc_exited(pid, &st))
                        return tail_error(what, log, st);
                nap_ms(50);
        }
        return CP_ERROR(CP_EIO, "%s did not start (see %s)", what, log);
}

/* The first line of a daemon's --port 0 output: a JSON object. */
static json_t *first_line_json(const char *t) {
        return strchr(t, '\n') ? json_loads(t, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
}

static bool issuer_ready(const char *t, void *userdata) {
        stack_run *x = userdata;
        json_t *j = first_line_json(t);
        const char *is = json_string_value(json_object_get(j, "issuer"));
        json_int_t ap = json_integer_value(json_object_get(j, "port"));
        if (is && ap > 0 && ap < 65536) {
                snprintf(x->issuer, sizeof x->issuer, "%s", is);
                x->port_attestd = (unsigned) ap;
        }
        json_decref(j);
        return x->issuer[0] != 0;
}

static bool kbs_port_ready(const char *t, void *userdata) {
        stack_run *x = userdata;
        json_t *j = first_line_json(t);
        json_int_t kp = json_integer_value(json_object_get(j, "port"));
        if (kp > 0 && kp < 65536) {
                snprintf(x->kbs_url, sizeof x->kbs_url, "http://127.0.0.1:%u", (unsigned) kp);
                x->port_kbsd = (unsigned) kp;
        }
        json_decref(j);
        return x->kbs_url[0] != 0;
}

/* A daemon that could not start on the port the stack has kept: say why
 * the port matters and that nothing was changed. */
static int port_hint(int r, const char *what, unsigned port, const char *why) {
        if (r >= 0 || port == 0)
                return r;
        return CP_ERROR(cp_error_last()->code, "%s; %s was to listen on port %u, this stack's since its first "
                        "start (%s): if another process holds it, free it and run 'confpool up' again (nothing "
                        "was changed)", cp_error_message(), what, port, why);
}

/* ports.json: the daemons' ports, kept from the first start on. */
static void ports_load(const stack *s, stack_run *x) {
        char f[P + 64];
        path_of(s, "ports.json", f, sizeof f);
        json_t *j = json_load_file(f, JSON_REJECT_DUPLICATES, NULL);
        static const char *const keys[] = {"attestd", "kbsd", "confpoold"};
        unsigned *dst[] = {&x->port_attestd, &x->port_kbsd, &x->port_confpoold};
        for (size_t i = 0; j && i < 3; i++) {
                json_int_t v = json_integer_value(json_object_get(j, keys[i]));
                *dst[i] = v > 0 && v < 65536 ? (unsigned) v : 0;
        }
        json_decref(j);
}

static int ports_save(const stack *s, const stack_run *x) {
        char f[P + 64];
        path_of(s, "ports.json", f, sizeof f);
        json_t *j = json_pack("{s:i,s:i,s:i}", "attestd", (int) x->port_attestd, "kbsd", (int) x->port_kbsd,
                              "confpoold", (int) x->port_confpoold);
        char *t = j ? json_dumps(j, JSON_SORT_KEYS) : NULL;
        json_decref(j);
        if (!t)
                return cp_error_oom();
        int r = cp_write_file(f, t, strlen(t), 0600);
        free(t);
        return r;
}

static bool port_file_ready(const char *t, void *userdata) {
        unsigned *port = userdata;
        *port = (unsigned) strtoul(t, NULL, 10);
        return *port != 0;
}

/* 1. the hosts (software AMD-SPs; RSA-4096 ARK/ASK on first use): their
 * ARKs, one a line, in arks.txt */
static int prepare_hosts(const stack *s, stack_run *x) {
        char arks[P + 64];
        int r, st;
        printf("confpool: preparing the emulated SEV-SNP and TDX hosts in %s/local/hosts ...\n", s->cp);
        fflush(stdout);
        path_of(s, "arks.txt", arks, sizeof arks);
        char *argv[] = {x->cpd_bin, "--state-dir", (char *) s->cp, "--backend", "local", "--agent", x->agent,
                        "--prepare-hosts", NULL};
        pid_t pid;
        if ((r = start(argv, arks, false, x->log, &pid)) < 0 || (r = cp_proc_wait(pid, &st)) < 0)
                return r;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                return tail_error("confpoold --prepare-hosts", x->log, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        return 0;
}

/* 2. the attestation service, trusting exactly these hosts */
static int start_attestd(const stack *s, stack_run *x) {
        char arks[P + 64], out[P + 64], alog[P + 64], f[P + 64], port[16];
        char *list = NULL;
        int r;
        path_of(s, "attestd.out", out, sizeof out);
        path_of(s, "attestd.log", alog, sizeof alog);
        if (x->kept_attestd)
                return wait_ready("confpool-attestd", x->apid, out, alog, 1, issuer_ready, x);
        path_of(s, "arks.txt", arks, sizeof arks);
        if ((r = read_text(arks, &list)) < 0)
                return r;
        snprintf(port, sizeof port, "%u", x->port_attestd);
        /* its token-signing keys kept in the state (0700, keys 0600): a restart
         * (kill -9 and up, down/up) signs with the same key, as the real
         * service's keys outlive its processes; nodes' tokens stay valid and
         * the relying parties fetch nothing new */
        char keys[P + 64];
        path_of(s, "attestd-keys", keys, sizeof keys);
        if ((r = mkdir_p(keys, 0700)) < 0 || (chmod(keys, 0700) < 0 && (r = CP_ERROR(CP_EIO, "%s: %s", keys, strerror(errno))) < 0)) {
                free(list);
                return r;
        }
        char *aargv[32] = {x->att_bin, "--port", port, "--quiet", "--only-extra-arks", "--signing-key-dir", keys};
        size_t an = 7;
        char *save = NULL;
        for (char *line = strtok_r(list, "\n", &save); line && an < 28; line = strtok_r(NULL, "\n", &save)) {
                if (x->n_arks == 4) {
                        free(list);
                        return CP_ERROR(CP_ETOOBIG, "more hosts than the attestation service can trust (4)");
                }
                aargv[an++] = "--extra-ark";
                aargv[an++] = line;
                x->n_arks++;
        }
        /* the software TDX platform (issue 16): its emulated Intel root and
         * the PCS confpoold serves on the port kept in hosts/tdx/pcs.port */
        char troot[P + 64], tport[P + 64], turl[64];
        char *pt = NULL;
        snprintf(troot, sizeof troot, "%s/local/hosts/tdx/root.pem", s->cp);
        snprintf(tport, sizeof tport, "%s/local/hosts/tdx/pcs.port", s->cp);
        if (access(troot, R_OK) == 0 && read_text(tport, &pt) >= 0) {
                snprintf(turl, sizeof turl, "http://127.0.0.1:%lu", strtoul(pt, NULL, 10));
                aargv[an++] = "--tdx-root";
                aargv[an++] = troot;
                aargv[an++] = "--tdx-pcs-url";
                aargv[an++] = turl;
        }
        cp_error_clear();
        free(pt);
        aargv[an] = NULL;
        r = start(aargv, out, false, alog, &x->apid);
        free(list);
        if (r < 0)
                return r;
        path_of(s, "attestd.pid", f, sizeof f);
        if ((r = cp_proc_write_pidfile(f, x->apid)) < 0)
                return r;
        return port_hint(wait_ready("confpool-attestd", x->apid, out, alog, 200, issuer_ready, x), "confpool-attestd",
                         x->port_attestd, "the issuer URL of every node's token and of the disk keys' release policies");
}

/* 3. the key broker, trusting this attestation service's tokens only */
static int start_kbsd(const stack *s, stack_run *x) {
        char mk[P + 64], kdb[P + 64], kout[P + 64], klog[P + 64], kaudit[P + 64], f[P + 64], port[16];
        char authority[600];
        int r;
        path_of(s, "kbs-master.key", mk, sizeof mk);
        path_of(s, "kbs-admin.token", x->adm, sizeof x->adm);
        path_of(s, "kbs-release.token", x->rel, sizeof x->rel);
        path_of(s, "kbsd.db", kdb, sizeof kdb);
        path_of(s, "kbsd.out", kout, sizeof kout);
        path_of(s, "kbsd.log", klog, sizeof klog);
        path_of(s, "kbs-audit.jsonl", kaudit, sizeof kaudit);
        if (x->kept_kbsd)
                return wait_ready("confpool-kbsd", x->kpid, kout, klog, 1, kbs_port_ready, x);
        if ((r = ensure_secret_file(mk)) < 0 || (r = ensure_secret_file(x->adm)) < 0 ||
            (r = ensure_secret_file(x->rel)) < 0)
                return r;
        snprintf(authority, sizeof authority, "%s=%s/certs", x->issuer, x->issuer);
        snprintf(port, sizeof port, "%u", x->port_kbsd);
        char *kargv[] = {x->kbs_bin, "--db", kdb, "--master-key-file", mk, "--port", port, "--authority", authority,
                         "--admin-token-file", x->adm, "--release-token-file", x->rel, "--audit-file", kaudit,
                         "--quiet", NULL};
        unlink(kout);
        if ((r = start(kargv, kout, false, klog, &x->kpid)) < 0)
                return r;
        path_of(s, "kbsd.pid", f, sizeof f);
        if ((r = cp_proc_write_pidfile(f, x->kpid)) < 0)
                return r;
        return port_hint(wait_ready("confpool-kbsd", x->kpid, kout, klog, 200, kbs_port_ready, x), "confpool-kbsd",
                         x->port_kbsd, "the key broker URL in every node's settings");
}

/* 4. the control plane with the local backend */
static int start_confpoold(const stack *s, stack_run *x, const char *port, const char *min_tcb) {
        char portf[P + 64], f[P + 64], saved[16];
        int r;
        if (!port && x->port_confpoold) {
                snprintf(saved, sizeof saved, "%u", x->port_confpoold);
                port = saved;
        }
        path_of(s, "confpoold.port", portf, sizeof portf);
        unlink(portf);
        char *cargv[] = {x->cpd_bin,   "--state-dir", (char *) s->cp, "--backend", "local", "--attestd-url",
                         x->issuer,    "--agent",     x->agent,       "--port-file", portf,  "--min-tcb",
                         (char *) min_tcb, "--kbs-url", x->kbs_url, "--kbs-admin-token-file", x->adm,
                         "--kbs-release-token-file", x->rel, "--tls", "--port", (char *) port, NULL, NULL, NULL,
                         NULL, NULL, NULL, NULL};
        int at = port ? 22 : 20;
        if (s->db) {
                cargv[at++] = "--db";
                cargv[at++] = (char *) s->db;
        }
        if (s->signing) {
                cargv[at++] = "--cluster-signing-duration";
                cargv[at++] = (char *) s->signing;
        }
        if (s->tdx_evidence) {
                cargv[at++] = "--tdx-evidence";
                cargv[at++] = (char *) s->tdx_evidence;
        }
        cargv[at] = NULL;
        if ((r = start(cargv, x->log, true, NULL, &x->cpid)) < 0)
                return r;
        path_of(s, "confpoold.pid", f, sizeof f);
        if ((r = cp_proc_write_pidfile(f, x->cpid)) < 0)
                return r;
        unsigned cport = 0;
        r = wait_ready("confpoold", x->cpid, portf, x->log, 600, port_file_ready, &cport);
        if (r < 0)
                return port == saved ? port_hint(r, "confpoold", x->port_confpoold,
                                                 "the control-plane URL every running node heartbeats to")
                                     : r;
        x->port_confpoold = cport;
        /* HTTPS under confpoold's own CA (cp/ca.pem): the CLI, az and the
         * nodes' agents trust it; its certificate names localhost */
        snprintf(x->endpoint, sizeof x->endpoint, "https://localhost:%u", cport);
        return 0;
}

/* 5. readiness and the CLI's connection settings: confpool login */
static int login_stack(const stack *s, const stack_run *x) {
        char token[P + 64], ca[P + 64];
        snprintf(token, sizeof token, "%s/operator.token", s->cp);
        snprintf(ca, sizeof ca, "%s/ca.pem", s->cp);
        char *largv[] = {"login", "--endpoint", (char *) x->endpoint, "--token-file", token, "--ca-file", ca,
                         "-o",    "none",       NULL};
        int lr = 1;
        for (int i = 0; i < 20 && lr != 0; i++) {
                lr = cp_cmd_login(9, largv);
                if (lr != 0)
                        nap_ms(250);
        }
        if (lr != 0)
                return CP_ERROR(CP_ENETWORK, "confpoold at %s does not answer (see %s)", x->endpoint, x->log);
        return 0;
}

static void print_stack(const stack *s, const stack_run *x, const char *min_tcb) {
        char cfg[P];
        if (cp_az_config_dir(cfg, sizeof cfg) < 0)
                cp_error_clear();
        printf("confpool: embedded stack up (state %s)\n"
               "  control plane  %s  (confpoold pid %ld, local backend, min TCB %s)\n"
               "  attestation    %s  (confpool-attestd pid %ld, trusting %zu emulated host ARK%s)\n"
               "  key broker     %s  (confpool-kbsd pid %ld, OS disk keys for attested nodes only)\n"
               "  CLI settings   %s/config\n"
               "Try: confpool group create -n rg1 -l eastus && confpool aks create -g rg1 -n c1 -s Standard_DC4as_v5\n"
               "Stop it with: confpool down%s%s\n",
               s->dir, x->endpoint, (long) x->cpid, min_tcb, x->issuer, (long) x->apid, x->n_arks,
               x->n_arks == 1 ? "" : "s", x->kbs_url, (long) x->kpid, cfg, " --state-dir ", s->dir);
}

/* The attestation service and the key broker of a stack whose confpoold
 * was killed are kept running as they are (their nodes' tokens and keys
 * stay valid); anything else of it was stopped by `down` or is gone. */
static void find_running(const stack *s, stack_run *x) {
        char f[P + 64], cpd[P + 64], att[P + 64], kmark[P + 64];
        markers(s, cpd, att, sizeof cpd);
        snprintf(kmark, sizeof kmark, "--db %s/kbsd.db", s->dir);
        path_of(s, "attestd.pid", f, sizeof f);
        x->kept_attestd = cp_proc_read_pidfile(f, &x->apid) >= 0 && cp_proc_matches(x->apid, att);
        path_of(s, "kbsd.pid", f, sizeof f);
        x->kept_kbsd = cp_proc_read_pidfile(f, &x->kpid) >= 0 && cp_proc_matches(x->kpid, kmark);
        cp_error_clear();
}

/* What this run started, stopped again after a failed start (kept daemons
 * and nodes stay: the next `up` finds them). */
static void stop_started(const stack_run *x) {
        pid_t pids[] = {x->cpid, x->kept_kbsd ? 0 : x->kpid, x->kept_attestd ? 0 : x->apid};
        for (size_t i = 0; i < 3; i++)
                if (pids[i] > 0)
                        cp_proc_stop_child(&pids[i], 30000);
}

/* confpoold runs but the attestation service or the key broker is gone
 * (killed, crashed): start just those again, each on the port the stack
 * kept (ports.json), so that the issuer URL, the broker URL in the nodes'
 * settings and the running confpoold's URLs stay valid; the running
 * confpoold and nodes are left as they are.  Nothing missing: 1. */
static int stack_restart_missing(stack *s, pid_t cpid) {
        stack_run x = {0};
        int r;
        ports_load(s, &x);
        find_running(s, &x);
        if (x.kept_attestd && x.kept_kbsd)
                return 1;
        const char *gone = !x.kept_attestd && !x.kept_kbsd ? "confpool-attestd and confpool-kbsd"
                           : !x.kept_attestd                ? "confpool-attestd"
                                                            : "confpool-kbsd";
        /* a port of 0 (no ports.json): a new port would not be the one the
         * running confpoold and its nodes use */
        if ((!x.kept_attestd && !x.port_attestd) || (!x.kept_kbsd && !x.port_kbsd))
                return CP_ERROR(CP_EBADSEQ, "the running stack in %s lacks %s and ports.json does not say which port "
                                "it had; refusing to start it on another port ('confpool down' then 'confpool up' "
                                "restarts everything)", s->dir, gone);
        if ((r = find_bin(s, "confpool-attestd", x.att_bin, sizeof x.att_bin)) < 0 ||
            (r = find_bin(s, "confpool-kbsd", x.kbs_bin, sizeof x.kbs_bin)) < 0)
                return r;
        path_of(s, "confpoold.log", x.log, sizeof x.log);
        if ((r = start_attestd(s, &x)) < 0 || (r = start_kbsd(s, &x)) < 0) {
                cp_error saved = *cp_error_last();
                x.cpid = 0; /* the running confpoold is not this run's */
                stop_started(&x);
                return cp_error_set_at(saved.file, saved.line, saved.code, "%s", saved.message);
        }
        printf("confpool: the embedded stack in %s was running (confpoold pid %ld) without %s: started again\n"
               "  attestation    %s  (confpool-attestd pid %ld%s)\n"
               "  key broker     %s  (confpool-kbsd pid %ld%s)\n",
               s->dir, (long) cpid, gone, x.issuer, (long) x.apid, x.kept_attestd ? ", kept" : ", restarted",
               x.kbs_url, (long) x.kpid, x.kept_kbsd ? ", kept" : ", restarted");
        return 0;
}

static int stack_up(stack *s, const char *port, const char *min_tcb) {
        stack_run x = {0};
        int r;
        if ((r = find_bin(s, "confpoold", x.cpd_bin, sizeof x.cpd_bin)) < 0 ||
            (r = find_bin(s, "confpool-attestd", x.att_bin, sizeof x.att_bin)) < 0 ||
            (r = find_bin(s, "confpool-kbsd", x.kbs_bin, sizeof x.kbs_bin)) < 0 ||
            (r = find_bin(s, "confpool-agent", x.agent, sizeof x.agent)) < 0)
                return r;
        if ((r = mkdir_p(s->cp, 0700)) < 0)
                return r;
        /* node processes a killed confpoold left are not stopped here: the
         * new confpoold adopts the running ones (docs/nodes.md) */
        ports_load(s, &x);
        find_running(s, &x);
        path_of(s, "confpoold.log", x.log, sizeof x.log);
        if ((r = prepare_hosts(s, &x)) < 0 || (r = start_attestd(s, &x)) < 0 || (r = start_kbsd(s, &x)) < 0 ||
            (r = start_confpoold(s, &x, port, min_tcb)) < 0 || (r = ports_save(s, &x)) < 0 ||
            (r = login_stack(s, &x)) < 0) {
                cp_error saved = *cp_error_last();
                stop_started(&x);
                return cp_error_set_at(saved.file, saved.line, saved.code, "%s", saved.message);
        }
        print_stack(s, &x, min_tcb);
        return 0;
}

static void usage(FILE *f, bool up) {
        if (up)
                fprintf(f, "usage: confpool up [--state-dir DIR] [--port N] [--min-tcb bl=N,tee=N,snp=N,ucode=N]\n"
                           "                   [--bin-dir DIR] [--db postgresql://...] [--cluster-signing-duration D]\n"
                           "                   [--tdx-evidence native|azure-hcl]\n\n"
                           "Start the embedded stack: confpool-attestd (trusting only the emulated hosts' ARKs),\n"
                           "confpool-kbsd and confpoold with the local backend, state in DIR (default\n"
                           "~/.confpool/stack), and save the CLI's connection settings (as 'confpool login').\n"
                           "Starts only what is not running (after a crash of confpoold its running nodes are\n"
                           "adopted; with confpoold running, a missing attestation service or key broker is\n"
                           "started again), each daemon on the port of the stack's first start (DIR/ports.json).\n"
                           "Min TCB default: " DEFAULT_MIN_TCB ".\n"
                           "--db: confpoold's store on an existing PostgreSQL database (docs/scale-out.md)\n"
                           "instead of DIR's SQLite file.\n"
                           "--cluster-signing-duration: how long the nodes' kubelet client certificates are\n"
                           "valid (Go syntax, e.g. 8760h, the default; nodes renew after 70-90 %% of it).\n"
                           "--tdx-evidence azure-hcl: TDX nodes boot as Azure TDX CVMs (the software\n"
                           "paravisor's HCL report in the vTPM, attested by POST /attest/AzureGuest).\n");
        else
                fprintf(f, "usage: confpool down [--state-dir DIR]\n\n"
                           "Stop the embedded stack started by 'confpool up' (and every node process it ran).\n");
}

static int run(int argc, char **argv, bool up) {
        static const struct option opts[] = {
                {"state-dir", required_argument, NULL, 's'}, {"port", required_argument, NULL, 'p'},
                {"min-tcb", required_argument, NULL, 'm'},   {"bin-dir", required_argument, NULL, 'b'},
                {"db", required_argument, NULL, 'd'},
                {"cluster-signing-duration", required_argument, NULL, 'S'},
                {"tdx-evidence", required_argument, NULL, 'E'},
                {"help", no_argument, NULL, 'h'},            {0},
        };
        const char *dir = NULL, *port = NULL, *min_tcb = NULL, *bin = NULL, *db = NULL, *signing = NULL, *tdxev = NULL;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                switch (c) {
                case 's': dir = optarg; break;
                case 'p': port = optarg; break;
                case 'm': min_tcb = optarg; break;
                case 'b': bin = optarg; break;
                case 'd': db = optarg; break;
                case 'S': signing = optarg; break;
                case 'E': tdxev = optarg; break;
                case 'h': usage(stdout, up); return CP_EXIT_OK;
                default: usage(stderr, up); return CP_EXIT_USAGE;
                }
        }
        if (optind != argc || (!up && (port || bin || min_tcb || db || signing || tdxev))) {
                usage(stderr, up);
                return CP_EXIT_USAGE;
        }
        if (port) {
                char *end = NULL;
                unsigned long v = strtoul(port, &end, 10);
                if (!*port || *end || v > 65535) {
                        fprintf(stderr, "confpool: error: --port: invalid port '%s'\n", port);
                        return CP_EXIT_USAGE;
                }
        }
        stack s = {0};
        if (resolve_dir(dir, &s) < 0) {
                cp_cli_error(up ? "up" : "down");
                return CP_EXIT_FAILURE;
        }
        s.db = db;
        s.signing = signing;
        if (tdxev && strcmp(tdxev, "native") != 0 && strcmp(tdxev, "azure-hcl") != 0) {
                fprintf(stderr, "confpool: error: --tdx-evidence must be native or azure-hcl, not '%s'\n", tdxev);
                return CP_EXIT_USAGE;
        }
        s.tdx_evidence = tdxev;
        if (bin)
                snprintf(s.bin, sizeof s.bin, "%s", bin);
        else {
                ssize_t n = readlink("/proc/self/exe", s.bin, sizeof s.bin - 1);
                s.bin[n > 0 ? n : 0] = 0;
                char *sl = strrchr(s.bin, '/');
                if (sl)
                        *sl = 0;
                else
                        s.bin[0] = 0;
        }
        if (!up)
                return stack_down(&s, false) < 0 ? CP_EXIT_FAILURE : CP_EXIT_OK;
        char f[P + 64], cpd[P + 64], att[P + 64];
        pid_t old;
        markers(&s, cpd, att, sizeof cpd);
        path_of(&s, "confpoold.pid", f, sizeof f);
        if (cp_proc_read_pidfile(f, &old) >= 0 && cp_proc_matches(old, cpd)) {
                fflush(stdout);
                int rr = stack_restart_missing(&s, old);
                if (rr < 0) {
                        cp_cli_error("up");
                        return CP_EXIT_FAILURE;
                }
                if (rr == 0)
                        return CP_EXIT_OK;
                fprintf(stderr, "confpool: error: the embedded stack in %s is already running (confpoold pid %ld); "
                                "'confpool down --state-dir %s' stops it\n", s.dir, (long) old, s.dir);
                return CP_EXIT_FAILURE;
        }
        cp_error_clear();
        fflush(stdout);
        if (stack_up(&s, port, min_tcb ? min_tcb : DEFAULT_MIN_TCB) < 0) {
                cp_cli_error("up");
                return CP_EXIT_FAILURE;
        }
        return CP_EXIT_OK;
}

int cp_cmd_up(int argc, char **argv) {
        return run(argc, argv, true);
}

int cp_cmd_down(int argc, char **argv) {
        return run(argc, argv, false);
}
