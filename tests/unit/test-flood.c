/* SPDX-License-Identifier: Apache-2.0 */
/* The flood part of the fault suite (issue 13 items 4, 5): confpool-attestd,
 * confpoold and confpool-kbsd started as processes on loopback with the
 * soft fd limit of 1024 they were attacked under, then 2,000 idle TCP
 * connections plus a request flood (challenges for attestd, requests with
 * a bad token for the others): a legitimate client must still be served
 * within 1 s, and the daemon must still run.  bench/bench-flood.c is the
 * long version with latency percentiles. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "flood-testutil.h"
#include "raw-http.h"
#include "tests.h"

#define IDLE 2000
#define LEGIT 5

typedef struct scenario {
        const char *name;
        const char *flood;                        /* the request the flooders repeat */
        const char *method, *target;              /* the legitimate client's request */
        char headers[256];
        unsigned status;                          /* its expected answer */
} scenario;

static char bin_dir[512];

static void bin(char *out, size_t cap, const char *name) {
        snprintf(out, cap, "%s/%s", bin_dir, name);
}

/* 2,000 idle connections and two flooders on d; LEGIT timed requests. */
static void run(const flood_daemon *d, const scenario *sc) {
        int *fds = calloc(IDLE, sizeof(int));
        ASSERT_TRUE(fds != NULL);
        size_t opened = flood_open_idle(d->port, IDLE, fds);
        ASSERT_EQ(opened, IDLE);
        flood_load f[2];
        for (int i = 0; i < 2; i++)
                ASSERT_TRUE(flood_load_start(&f[i], d->port, sc->flood));
        usleep(300 * 1000);
        double worst = 0;
        char out[4096];
        for (int i = 0; i < LEGIT; i++) {
                double t0 = flood_now_ms();
                unsigned st = cp_raw_http(d->port, sc->method, sc->target, strlen(sc->target), sc->headers, NULL, out,
                                          sizeof(out));
                double ms = flood_now_ms() - t0;
                worst = ms > worst ? ms : worst;
                if (st != sc->status || ms >= 1000.0)
                        cp_test_fail(__FILE__, __LINE__, "%s: legitimate request %d: status %u (want %u) in %.0f ms",
                                     sc->name, i, st, sc->status, ms);
                usleep(100 * 1000);
        }
        unsigned long flood = 0;
        for (int i = 0; i < 2; i++) {
                flood_load_stop(&f[i]);
                flood += atomic_load(&f[i].answered);
        }
        size_t closed = flood_count_closed(fds, opened);
        flood_close_all(fds, opened);
        free(fds);
        printf("  %s: %d idle + %lu flood requests answered: legit %d/%d, worst %.1f ms, idle closed %zu\n", sc->name,
               IDLE, flood, LEGIT, LEGIT, worst, closed);
        ASSERT_TRUE(flood > 0);
}

TEST(attestd_survives_idle_connections_and_challenge_flood) {
        char path[600];
        bin(path, sizeof path, "confpool-attestd");
        char *argv[] = { path, "--port", "0", "--quiet", NULL };
        flood_daemon d;
        ASSERT_TRUE(flood_daemon_start(&d, argv, NULL));
        scenario sc = { .name = "attestd",
                        .flood = "POST /challenge?api-version=2022-08-01 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
                        .method = "POST", .target = "/challenge?api-version=2022-08-01", .status = 200 };
        run(&d, &sc);
        ASSERT_TRUE(flood_daemon_stop(&d));
}

static void tmpdir(char *dir, size_t cap) {
        snprintf(dir, cap, "/tmp/cp-flood-XXXXXX");
        ASSERT_TRUE(mkdtemp(dir) != NULL);
}

static void rmdir_all(const char *dir) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
                fprintf(stderr, "cleanup of %s failed\n", dir);
}

TEST(confpoold_survives_idle_connections_and_refused_flood) {
        char dir[64], path[600], state[128], port_file[160];
        tmpdir(dir, sizeof dir);
        snprintf(state, sizeof state, "%s/state", dir);
        snprintf(port_file, sizeof port_file, "%s/port", dir);
        bin(path, sizeof path, "confpoold");
        /* the fake backend (a test backend, named: confpoold has no default) */
        char *argv[] = { path, "--state-dir", state, "--backend", "fake", "--port", "0", "--port-file", port_file, NULL };
        flood_daemon d;
        ASSERT_TRUE(flood_daemon_start(&d, argv, port_file));
        char tp[200], tok[128] = "";
        snprintf(tp, sizeof tp, "%s/operator.token", state);
        FILE *f = fopen(tp, "r");
        ASSERT_TRUE(f && fscanf(f, "%127s", tok) == 1);
        fclose(f);
        scenario sc = { .name = "confpoold",
                        .flood = "GET /subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/rg"
                                 "?api-version=2021-04-01 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer cpo_wrong\r\n\r\n",
                        .method = "GET",
                        .target = "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/rg"
                                  "?api-version=2021-04-01",
                        .status = 404 };
        snprintf(sc.headers, sizeof sc.headers, "Authorization: Bearer %s\r\n", tok);
        run(&d, &sc);
        ASSERT_TRUE(flood_daemon_stop(&d));
        rmdir_all(dir);
}

TEST(kbsd_survives_idle_connections_and_refused_flood) {
        char dir[64], path[600], db[128], mk[128], admin[128];
        tmpdir(dir, sizeof dir);
        snprintf(db, sizeof db, "%s/kbs.db", dir);
        snprintf(mk, sizeof mk, "%s/mk", dir);
        snprintf(admin, sizeof admin, "%s/admin", dir);
        FILE *f = fopen(mk, "w");
        ASSERT_TRUE(f != NULL);
        fprintf(f, "%s\n", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
        fclose(f);
        f = fopen(admin, "w");
        ASSERT_TRUE(f != NULL);
        fprintf(f, "admin-token-abcdefghijklmnop\n");
        fclose(f);
        ASSERT_TRUE(chmod(mk, 0600) == 0);
        bin(path, sizeof path, "confpool-kbsd");
        char *argv[] = { path, "--db", db, "--master-key-file", mk, "--admin-token-file", admin, "--port", "0",
                         "--quiet", NULL };
        flood_daemon d;
        ASSERT_TRUE(flood_daemon_start(&d, argv, NULL));
        scenario sc = { .name = "kbsd",
                        .flood = "GET /keys/k1?api-version=7.4 HTTP/1.1\r\nHost: x\r\n"
                                 "Authorization: Bearer wrong-token-abcdefghijkl\r\n\r\n",
                        .method = "GET", .target = "/keys/nothere?api-version=7.4",
                        .headers = "Authorization: Bearer admin-token-abcdefghijklmnop\r\n", .status = 404 };
        run(&d, &sc);
        ASSERT_TRUE(flood_daemon_stop(&d));
        rmdir_all(dir);
}

static void setup_bin_dir(void) __attribute__((constructor));
static void setup_bin_dir(void) {
        const char *b = getenv("CP_BIN_DIR");
        snprintf(bin_dir, sizeof bin_dir, "%s", b ? b : "bin");
        if (flood_raise_nofile() < 2 * IDLE + 512)
                fprintf(stderr, "test-flood: RLIMIT_NOFILE too low for %d idle connections\n", IDLE);
}
