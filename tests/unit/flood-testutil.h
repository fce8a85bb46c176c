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
#include <stdbool.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/socket.h>
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

#endif
