/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A lean HTTP/1.1 load generator for the benchmarks, in the manner of wrk:
 * each client thread keeps one keep-alive connection, writes a request
 * serialized once, reads the response head, its Content-Length body, and
 * counts 2xx answers.  No per-request allocation, signal handling or
 * polling: two or three system calls per request, so that on a machine
 * whose cores the server shares the client takes as little as it can.
 *
 * Only what the benchmarks need: Content-Length bodies (no chunked
 * responses: a response without Content-Length counts as failed and the
 * connection is reopened), "Connection: close" honoured by reconnecting.
 */
#ifndef CP_BENCH_HTTPLOAD_H
#define CP_BENCH_HTTPLOAD_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct httpload {
        uint16_t port;         /* 127.0.0.1:port */
        const char *request;   /* the whole request, head and body */
        size_t request_len;
        double secs;
        unsigned long ok, bad; /* results */
} httpload;

static inline double httpload_now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* "POST path" with a JSON body; the caller frees the result. */
static inline char *httpload_post(const char *path, const char *body, size_t *ret_len) {
        size_t bl = strlen(body), cap = strlen(path) + bl + 256;
        char *r = malloc(cap);
        if (!r)
                return NULL;
        int n = snprintf(r, cap,
                         "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                         "Content-Length: %zu\r\n\r\n",
                         path, bl);
        memcpy(r + n, body, bl);
        *ret_len = (size_t) n + bl;
        return r;
}

static inline int httpload_connect(uint16_t port) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd < 0)
                return -1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                close(fd);
                return -1;
        }
        return fd;
}

/* One request/response on fd: 1 = 2xx, 0 = other status, -1 = connection
 * unusable (closed, malformed, or the server asked to close). */
static inline int httpload_exchange(int fd, const httpload *l, char *buf, size_t cap) {
        size_t off = 0;
        while (off < l->request_len) {
                ssize_t n = send(fd, l->request + off, l->request_len - off, MSG_NOSIGNAL);
                if (n <= 0)
                        return -1;
                off += (size_t) n;
        }
        size_t have = 0;
        char *end = NULL;
        while (!end) {
                if (have + 1 >= cap)
                        return -1;
                ssize_t n = recv(fd, buf + have, cap - 1 - have, 0);
                if (n <= 0)
                        return -1;
                have += (size_t) n;
                buf[have] = '\0';
                end = strstr(buf, "\r\n\r\n");
        }
        size_t head = (size_t) (end - buf) + 4;
        if (strncmp(buf, "HTTP/1.1 ", 9) != 0)
                return -1;
        int status = atoi(buf + 9);
        long clen = -1;
        bool close_after = false;
        for (char *p = strstr(buf, "\r\n"); p && p < end; p = strstr(p + 2, "\r\n")) {
                if (strncasecmp(p + 2, "Content-Length:", 15) == 0)
                        clen = strtol(p + 17, NULL, 10);
                else if (strncasecmp(p + 2, "Connection: close", 17) == 0)
                        close_after = true;
        }
        if (clen < 0)
                return -1;
        size_t body_have = have - head;
        while (body_have < (size_t) clen) {
                size_t want = (size_t) clen - body_have;
                ssize_t n = recv(fd, buf, want < cap ? want : cap, 0);
                if (n <= 0)
                        return -1;
                body_have += (size_t) n;
        }
        if (body_have != (size_t) clen)
                return -1; /* pipelined bytes: never sent by this client */
        if (close_after)
                return status >= 200 && status < 300 ? -2 : -1;
        return status >= 200 && status < 300 ? 1 : 0;
}

static inline void *httpload_client(void *arg) {
        httpload *l = arg;
        size_t cap = 64 * 1024;
        char *buf = malloc(cap);
        int fd = -1;
        double t0 = httpload_now();
        while (buf && httpload_now() - t0 < l->secs) {
                if (fd < 0 && (fd = httpload_connect(l->port)) < 0) {
                        l->bad++;
                        break;
                }
                int r = httpload_exchange(fd, l, buf, cap);
                if (r == 1 || r == -2)
                        l->ok++;
                else
                        l->bad++;
                if (r < 0) {
                        close(fd);
                        fd = -1;
                }
        }
        if (fd >= 0)
                close(fd);
        free(buf);
        return NULL;
}

/* threads clients for secs against 127.0.0.1:port; returns 2xx per second
 * and the number of failed requests in *ret_bad. */
static inline double httpload_run(uint16_t port, const char *req, size_t req_len, unsigned threads, double secs,
                                  unsigned long *ret_bad) {
        httpload l[64];
        pthread_t th[64];
        unsigned long ok = 0, bad = 0;
        if (threads > 64)
                threads = 64;
        double t0 = httpload_now();
        for (unsigned i = 0; i < threads; i++) {
                l[i] = (httpload){ .port = port, .request = req, .request_len = req_len, .secs = secs };
                pthread_create(&th[i], NULL, httpload_client, &l[i]);
        }
        for (unsigned i = 0; i < threads; i++) {
                pthread_join(th[i], NULL);
                ok += l[i].ok;
                bad += l[i].bad;
        }
        double el = httpload_now() - t0;
        if (ret_bad)
                *ret_bad = bad;
        return (double) ok / el;
}

#endif
