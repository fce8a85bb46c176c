/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Flood resistance (issue 13 items 4, 5), each daemon against a baseline
 * measured in the same run: confpool-attestd, confpoold and confpool-kbsd
 * started as processes on loopback with a soft fd limit of 1024 (they must
 * raise it themselves), then
 *
 *   - baseline: a legitimate client alone, one request every 10 ms on a new
 *     connection: latency p50 / p99;
 *   - flood: IDLE idle TCP connections (default 2,000) held open plus two
 *     flooders on keep-alive connections at full speed (POST /challenge for
 *     attestd; requests with a bad token, each a 401, for the others), and
 *     the same legitimate client: latency p50 / p99, how many were served
 *     within 1 s, the flood's rate, and the p99 ratio to the baseline.
 *
 *   build/bench/bench-flood [seconds-per-phase] [idle]   (default 5, 2000)
 *
 * One summary line per daemon:
 *   flood: attestd 2000 idle conns + 9123 challenges/s: legit p50 0.4 ms p99 2.1 ms, served 480/480 within 1 s;
 *          baseline p50 0.2 ms p99 0.5 ms; p99 x4.2
 * (CP_BIN_DIR names the daemons' directory; default ../bin from here.)
 * The idle connections send nothing, so with phases longer than the
 * servers' head timeout (10 s) the servers close them, as designed: the
 * summary says how many were closed.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "flood-testutil.h"
#include "raw-http.h"

typedef struct target {
        const char *name, *what;                  /* "challenges" or "refused requests" */
        const char *flood;
        const char *method, *path;
        char headers[256];
        unsigned status;
} target;

typedef struct sample {
        double *ms;
        size_t n, ok, cap;
} sample;

static int cmp_d(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

static double pct(sample *s, double p) {
        if (!s->n)
                return 0;
        qsort(s->ms, s->n, sizeof(double), cmp_d);
        size_t i = (size_t) (p * (double) (s->n - 1) + 0.5);
        return s->ms[i];
}

/* The legitimate client for secs: a request every 10 ms. */
static void legit(uint16_t port, const target *t, double secs, sample *s) {
        char out[4096];
        double end = flood_now_ms() + secs * 1000;
        while (flood_now_ms() < end && s->n < s->cap) {
                double t0 = flood_now_ms();
                unsigned st = cp_raw_http(port, t->method, t->path, strlen(t->path), t->headers, NULL, out, sizeof(out));
                double ms = flood_now_ms() - t0;
                s->ms[s->n++] = ms;
                s->ok += st == t->status && ms < 1000.0;
                usleep(10 * 1000);
        }
}

static int measure(const flood_daemon *d, const target *t, double secs, size_t idle) {
        sample base = { .cap = 100000 }, fl = { .cap = 100000 };
        base.ms = calloc(base.cap, sizeof(double));
        fl.ms = calloc(fl.cap, sizeof(double));
        int *fds = calloc(idle ? idle : 1, sizeof(int));
        if (!base.ms || !fl.ms || !fds)
                return 1;
        legit(d->port, t, secs, &base);
        size_t opened = flood_open_idle(d->port, idle, fds);
        flood_load f[2];
        for (int i = 0; i < 2; i++)
                flood_load_start(&f[i], d->port, t->flood);
        double t0 = flood_now_ms();
        usleep(200 * 1000);
        legit(d->port, t, secs, &fl);
        unsigned long answered = 0;
        for (int i = 0; i < 2; i++) {
                flood_load_stop(&f[i]);
                answered += atomic_load(&f[i].answered);
        }
        double rate = (double) answered / ((flood_now_ms() - t0) / 1000.0);
        size_t closed = flood_count_closed(fds, opened);
        flood_close_all(fds, opened);
        double b50 = pct(&base, 0.5), b99 = pct(&base, 0.99), f50 = pct(&fl, 0.5), f99 = pct(&fl, 0.99);
        printf("flood: %s %zu idle conns (%zu closed by the server) + %.0f %s/s: legit p50 %.1f ms p99 %.1f ms, "
               "served %zu/%zu within 1 s; baseline p50 %.1f ms p99 %.1f ms, served %zu/%zu; p99 x%.1f\n",
               t->name, opened, closed, rate, t->what, f50, f99, fl.ok, fl.n, b50, b99, base.ok, base.n,
               b99 > 0 ? f99 / b99 : 0);
        int bad = fl.ok != fl.n || opened != idle;
        free(base.ms);
        free(fl.ms);
        free(fds);
        return bad;
}

static char bin_dir[600];

static int run_attestd(double secs, size_t idle) {
        char path[700];
        snprintf(path, sizeof path, "%s/confpool-attestd", bin_dir);
        char *argv[] = { path, "--port", "0", "--quiet", NULL };
        flood_daemon d;
        if (!flood_daemon_start(&d, argv, NULL))
                return fprintf(stderr, "bench-flood: %s did not start\n", path), 1;
        target t = { .name = "attestd", .what = "challenges",
                     .flood = "POST /challenge?api-version=2022-08-01 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
                     .method = "POST", .path = "/challenge?api-version=2022-08-01", .status = 200 };
        int r = measure(&d, &t, secs, idle);
        if (!flood_daemon_stop(&d)) {
                fprintf(stderr, "bench-flood: attestd died\n");
                r = 1;
        }
        return r;
}

static int run_confpoold(double secs, size_t idle, const char *dir) {
        char path[700], state[200], port_file[200], tp[240], tok[128] = "";
        snprintf(path, sizeof path, "%s/confpoold", bin_dir);
        snprintf(state, sizeof state, "%s/state", dir);
        snprintf(port_file, sizeof port_file, "%s/port", dir);
        /* the fake backend (a test backend, named: confpoold has no default) */
        char *argv[] = { path, "--state-dir", state, "--backend", "fake", "--port", "0", "--port-file", port_file, NULL };
        flood_daemon d;
        if (!flood_daemon_start(&d, argv, port_file))
                return fprintf(stderr, "bench-flood: %s did not start\n", path), 1;
        snprintf(tp, sizeof tp, "%s/operator.token", state);
        FILE *f = fopen(tp, "r");
        if (!f || fscanf(f, "%127s", tok) != 1)
                return fprintf(stderr, "bench-flood: no %s\n", tp), 1;
        fclose(f);
        target t = { .name = "confpoold", .what = "refused requests",
                     .flood = "GET /subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/rg"
                              "?api-version=2021-04-01 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer cpo_wrong\r\n\r\n",
                     .method = "GET",
                     .path = "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/rg"
                             "?api-version=2021-04-01",
                     .status = 404 };
        snprintf(t.headers, sizeof t.headers, "Authorization: Bearer %s\r\n", tok);
        int r = measure(&d, &t, secs, idle);
        if (!flood_daemon_stop(&d)) {
                fprintf(stderr, "bench-flood: confpoold died\n");
                r = 1;
        }
        return r;
}

static int run_kbsd(double secs, size_t idle, const char *dir) {
        char path[700], db[200], mk[200], admin[200];
        snprintf(path, sizeof path, "%s/confpool-kbsd", bin_dir);
        snprintf(db, sizeof db, "%s/kbs.db", dir);
        snprintf(mk, sizeof mk, "%s/mk", dir);
        snprintf(admin, sizeof admin, "%s/admin", dir);
        FILE *f = fopen(mk, "w"), *g = fopen(admin, "w");
        if (!f || !g)
                return 1;
        fprintf(f, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n");
        fprintf(g, "bench-admin-token-abcdefghijkl\n");
        fclose(f);
        fclose(g);
        chmod(mk, 0600);
        char *argv[] = { path, "--db", db, "--master-key-file", mk, "--admin-token-file", admin, "--port", "0",
                         "--quiet", NULL };
        flood_daemon d;
        if (!flood_daemon_start(&d, argv, NULL))
                return fprintf(stderr, "bench-flood: %s did not start\n", path), 1;
        target t = { .name = "kbsd", .what = "refused requests",
                     .flood = "GET /keys/k1?api-version=7.4 HTTP/1.1\r\nHost: x\r\n"
                              "Authorization: Bearer wrong-token-abcdefghijkl\r\n\r\n",
                     .method = "GET", .path = "/keys/nothere?api-version=7.4",
                     .headers = "Authorization: Bearer bench-admin-token-abcdefghijkl\r\n", .status = 404 };
        int r = measure(&d, &t, secs, idle);
        if (!flood_daemon_stop(&d)) {
                fprintf(stderr, "bench-flood: kbsd died\n");
                r = 1;
        }
        return r;
}

/* Idle connections the server closed are opened again (its head timeout
 * would otherwise end the pressure after 10 s); returns how many. */
static size_t reopen_closed(uint16_t port, int *fds, size_t n) {
        size_t again = 0;
        for (size_t i = 0; i < n; i++) {
                char b;
                ssize_t r = recv(fds[i], &b, 1, MSG_DONTWAIT);
                if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
                        close(fds[i]);
                        if (flood_open_idle(port, 1, &fds[i]) == 1)
                                again++;
                        else
                                fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
                }
        }
        return again;
}

/* --hold SECONDS IDLE ATTESTD_PORT PORT...: against a running stack (the
 * fault suite, tests/cli/fault-flood.sh): IDLE idle connections to each
 * port (re-opened when the server closes them) and two challenge flooders
 * on the attestation service, for SECONDS; one summary line. */
static int hold(int argc, char **argv) {
        if (argc < 5)
                return fprintf(stderr, "usage: bench-flood --hold SECONDS IDLE ATTESTD_PORT [PORT...]\n"), 2;
        double secs = atof(argv[2]);
        size_t idle = (size_t) atol(argv[3]), nports = (size_t) argc - 4;
        uint16_t ports[8];
        if (nports > 8 || secs <= 0 || idle == 0)
                return fprintf(stderr, "bench-flood --hold: bad arguments\n"), 2;
        for (size_t i = 0; i < nports; i++)
                ports[i] = (uint16_t) atoi(argv[4 + i]);
        if (flood_raise_nofile() < nports * idle + 256)
                return fprintf(stderr, "bench-flood --hold: RLIMIT_NOFILE too low\n"), 1;
        int *fds = calloc(nports * idle, sizeof(int));
        if (!fds)
                return 1;
        size_t opened = 0, reopened = 0;
        for (size_t i = 0; i < nports; i++)
                opened += flood_open_idle(ports[i], idle, fds + i * idle);
        flood_load f[2];
        static const char req[] = "POST /challenge?api-version=2022-08-01 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n";
        for (int i = 0; i < 2; i++)
                flood_load_start(&f[i], ports[0], req);
        double t0 = flood_now_ms();
        printf("holding\n");
        fflush(stdout);
        while (flood_now_ms() - t0 < secs * 1000) {
                usleep(500 * 1000);
                for (size_t i = 0; i < nports; i++)
                        reopened += reopen_closed(ports[i], fds + i * idle, idle);
        }
        unsigned long answered = 0;
        for (int i = 0; i < 2; i++) {
                flood_load_stop(&f[i]);
                answered += atomic_load(&f[i].answered);
        }
        flood_close_all(fds, nports * idle);
        free(fds);
        printf("held: %zu idle conns on %zu port(s) for %.0f s (%zu re-opened after the server closed them), "
               "%.0f challenges/s answered\n",
               opened, nports, secs, reopened, (double) answered / secs);
        return opened == nports * idle ? 0 : 1;
}

int main(int argc, char **argv) {
        if (argc > 1 && strcmp(argv[1], "--hold") == 0)
                return hold(argc, argv);
        double secs = argc > 1 ? atof(argv[1]) : 5.0;
        size_t idle = argc > 2 ? (size_t) atol(argv[2]) : 2000;
        const char *env = getenv("CP_BIN_DIR");
        if (env)
                snprintf(bin_dir, sizeof bin_dir, "%s", env);
        else {
                char self[512];
                ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
                self[n > 0 ? n : 0] = '\0';
                snprintf(bin_dir, sizeof bin_dir, "%s/../bin", dirname(self));
        }
        unsigned long nofile = flood_raise_nofile();
        if (nofile < 2 * idle + 512) {
                fprintf(stderr, "bench-flood: RLIMIT_NOFILE %lu is too low for %zu idle connections\n", nofile, idle);
                return 1;
        }
        char dir[] = "/tmp/cp-bench-flood-XXXXXX", d1[64], d2[64];
        if (!mkdtemp(dir))
                return 1;
        snprintf(d1, sizeof d1, "%s/cp", dir);
        snprintf(d2, sizeof d2, "%s/kbs", dir);
        mkdir(d1, 0700);
        mkdir(d2, 0700);
        int bad = run_attestd(secs, idle);
        bad |= run_confpoold(secs, idle, d1);
        bad |= run_kbsd(secs, idle, d2);
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
                fprintf(stderr, "bench-flood: cleanup of %s failed\n", dir);
        return bad;
}
