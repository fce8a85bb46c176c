/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_TESTS_FLOOD_TESTUTIL_H
#define CP_TESTS_FLOOD_TESTUTIL_H

/*
 * Idle-connection and timing helpers for the flood tests and bench-flood:
 * open n TCP connections to 127.0.0.1:port that never send a byte (what
 * an attacker holding a server's connection slots does), and time one
 * request of a legitimate client.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Raise this process's soft fd limit to its hard limit (both ends of every
 * idle connection of an in-process test are ours); returns the limit. */
static inline unsigned long flood_raise_nofile(void) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return 0;
        if (rl.rlim_cur != rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void) setrlimit(RLIMIT_NOFILE, &rl);
                (void) getrlimit(RLIMIT_NOFILE, &rl);
        }
        return rl.rlim_cur == RLIM_INFINITY ? 1u << 20 : (unsigned long) rl.rlim_cur;
}

/* Open up to n connections to 127.0.0.1:port (completed handshakes; the
 * server's accept may come later) into fds[]; returns how many opened. */
static inline size_t flood_open_idle(uint16_t port, size_t n, int *fds) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        size_t k;
        for (k = 0; k < n; k++) {
                int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd < 0)
                        break;
                if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                        close(fd);
                        break;
                }
                fds[k] = fd;
        }
        return k;
}

/* How many of fds[0..n) the server has closed (EOF or reset). */
static inline size_t flood_count_closed(const int *fds, size_t n) {
        size_t closed = 0;
        for (size_t i = 0; i < n; i++) {
                char b;
                ssize_t r = recv(fds[i], &b, 1, MSG_DONTWAIT);
                if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
                        closed++;
        }
        return closed;
}

static inline void flood_close_all(int *fds, size_t n) {
        for (size_t i = 0; i < n; i++)
                close(fds[i]);
}

static inline double flood_now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}


/* ---- daemons as processes ------------------------------------------------------- */

typedef struct flood_daemon {
        pid_t pid;
        uint16_t port;
} flood_daemon;

/* Start argv[0] with a soft fd limit of 1024 (the default the floods were
 * reported under: the daemon must raise it itself), stderr to /dev/null,
 * and read its port: from the first stdout line (the digits after the
 * last ':' of a URL, or of {"port":N}), or, with port_file, from that file.
 * false when it did not start within 10 s. */
static inline bool flood_daemon_start(flood_daemon *d, char *const argv[], const char *port_file) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return false;
        d->pid = fork();
        if (d->pid < 0)
                return false;
        if (d->pid == 0) {
                /* never outlive the test (a failed assertion skips its stop) */
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                struct rlimit rl;
                if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max >= 1024) {
                        rl.rlim_cur = 1024;
                        (void) setrlimit(RLIMIT_NOFILE, &rl);
                }
                /* FLOOD_DAEMON_STDERR=FILE: the daemon's stderr appended there (bench-fleet) */
                const char *ef = getenv("FLOOD_DAEMON_STDERR");
                int dn = ef && *ef ? open(ef, O_WRONLY | O_CREAT | O_APPEND, 0600) : open("/dev/null", O_WRONLY);
                dup2(p[1], 1);
                if (dn >= 0)
                        dup2(dn, 2);
                close(p[0]);
                execv(argv[0], argv);
                _exit(127);
        }
        close(p[1]);
        char buf[512] = "";
        size_t got = 0;
        d->port = 0;
        for (int i = 0; i < 100 && !d->port; i++) {
                if (port_file) {
                        FILE *f = fopen(port_file, "r");
                        unsigned v = 0;
                        if (f && fscanf(f, "%u", &v) == 1)
                                d->port = (uint16_t) v;
                        if (f)
                                fclose(f);
                        if (!d->port)
                                usleep(100 * 1000);
                        continue;
                }
                struct pollfd pf = { .fd = p[0], .events = POLLIN };
                if (poll(&pf, 1, 100) <= 0)
                        continue;
                ssize_t r = read(p[0], buf + got, sizeof(buf) - 1 - got);
                if (r <= 0)
                        break;
                got += (size_t) r;
                buf[got] = '\0';
                char *nl = strchr(buf, '\n');
                if (!nl)
                        continue;
                *nl = '\0';
                char *c = strrchr(buf, ':');
                d->port = c ? (uint16_t) atoi(c + 1) : 0;
        }
        close(p[0]);
        return d->port != 0;
}

/* true when it was still running (then stopped with SIGTERM). */
static inline bool flood_daemon_stop(flood_daemon *d) {
        int st;
        bool alive = waitpid(d->pid, &st, WNOHANG) == 0;
        if (alive) {
                kill(d->pid, SIGTERM);
                for (int i = 0; i < 50 && waitpid(d->pid, &st, WNOHANG) == 0; i++)
                        usleep(100 * 1000);
                if (waitpid(d->pid, &st, WNOHANG) == 0) {
                        kill(d->pid, SIGKILL);
                        waitpid(d->pid, &st, 0);
                }
        }
        return alive;
}

/* ---- a request flood ---------------------------------------------------------------- */

/* One thread a flooder: a keep-alive connection writing request (the whole
 * request, head and body) and reading each answer (a head with
 * Content-Length), reconnecting when the server closes. */
typedef struct flood_load {
        uint16_t port;
        const char *request;
        pthread_t thread;
        atomic_bool stop;
        atomic_ulong sent, answered;
} flood_load;

static inline int flood_connect(uint16_t port) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct timeval tv = { .tv_sec = 5 };
        if (fd >= 0)
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        if (fd >= 0 && connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                close(fd);
                fd = -1;
        }
        return fd;
}

/* Read one answer: false when the connection ended. */
static inline bool flood_read_answer(int fd, char *buf, size_t cap) {
        size_t got = 0;
        char *end = NULL;
        while (!end) {
                if (got + 1 >= cap)
                        return false;
                ssize_t r = recv(fd, buf + got, cap - 1 - got, 0);
                if (r <= 0)
                        return false;
                got += (size_t) r;
                buf[got] = '\0';
                end = strstr(buf, "\r\n\r\n");
        }
        const char *cl = strcasestr(buf, "\r\nContent-Length:");
        size_t body = cl ? strtoul(cl + 17, NULL, 10) : 0, have = got - (size_t) (end + 4 - buf);
        while (have < body) {
                ssize_t r = recv(fd, buf, cap - 1 < body - have ? cap - 1 : body - have, 0);
                if (r <= 0)
                        return false;
                have += (size_t) r;
        }
        return true;
}

static inline void *flood_load_run(void *arg) {
        flood_load *l = arg;
        char buf[16384];
        size_t len = strlen(l->request);
        int fd = -1;
        while (!atomic_load(&l->stop)) {
                if (fd < 0 && (fd = flood_connect(l->port)) < 0) {
                        usleep(1000);
                        continue;
                }
                atomic_fetch_add(&l->sent, 1);
                if (send(fd, l->request, len, MSG_NOSIGNAL) != (ssize_t) len || !flood_read_answer(fd, buf, sizeof(buf))) {
                        close(fd);
                        fd = -1;
                        continue;
                }
                atomic_fetch_add(&l->answered, 1);
        }
        if (fd >= 0)
                close(fd);
        return NULL;
}

static inline bool flood_load_start(flood_load *l, uint16_t port, const char *request) {
        l->port = port;
        l->request = request;
        atomic_store(&l->stop, false);
        atomic_store(&l->sent, 0);
        atomic_store(&l->answered, 0);
        return pthread_create(&l->thread, NULL, flood_load_run, l) == 0;
}

static inline void flood_load_stop(flood_load *l) {
        atomic_store(&l->stop, true);
        pthread_join(l->thread, NULL);
}

#endif
