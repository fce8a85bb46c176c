/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_TESTS_RAW_HTTP_H
#define CP_TESTS_RAW_HTTP_H

/*
 * A raw HTTP/1.1 client for tests that must send a request target byte for
 * byte (libcurl normalises paths: it folds "/./" and "/../" and may refuse
 * bytes a test needs to send).  One request per connection, "Connection:
 * close", the answer read until EOF.
 */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* Send "<method> <target[0..target_len)> HTTP/1.1" with optional headers
 * ("Name: value\r\n" lines) and body to 127.0.0.1:port.  Returns the status
 * (0 when the connection failed or closed without an answer); the whole
 * answer (head and body, NUL-terminated) goes to out when non-NULL. */
static inline unsigned cp_raw_http(uint16_t port, const char *method, const char *target, size_t target_len,
                                   const char *headers, const char *body, char *out, size_t out_cap) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0)
                return 0;
        struct timeval tv = { .tv_sec = 10 };
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                close(fd);
                return 0;
        }
        size_t bl = body ? strlen(body) : 0;
        size_t cap = strlen(method) + target_len + (headers ? strlen(headers) : 0) + bl + 128;
        char *req = malloc(cap);
        if (!req) {
                close(fd);
                return 0;
        }
        size_t n = (size_t) snprintf(req, cap, "%s ", method);
        memcpy(req + n, target, target_len);
        n += target_len;
        n += (size_t) snprintf(req + n, cap - n,
                               " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%sContent-Length: %zu\r\n\r\n",
                               headers ? headers : "", bl);
        if (bl) {
                memcpy(req + n, body, bl);
                n += bl;
        }
        bool ok = true;
        for (size_t off = 0; off < n && ok;) {
                ssize_t w = send(fd, req + off, n - off, MSG_NOSIGNAL);
                ok = w > 0;
                off += ok ? (size_t) w : 0;
        }
        free(req);
        char buf[8192];
        size_t got = 0;
        while (ok && got + 1 < sizeof(buf)) {
                ssize_t r = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
                if (r <= 0)
                        break;
                got += (size_t) r;
        }
        close(fd);
        buf[got] = '\0';
        if (out && out_cap) {
                size_t k = got < out_cap - 1 ? got : out_cap - 1;
                memcpy(out, buf, k);
                out[k] = '\0';
        }
        unsigned status = 0;
        if (got < 12 || strncmp(buf, "HTTP/1.", 7) != 0 || sscanf(buf + 9, "%3u", &status) != 1)
                return 0;
        return status;
}

#endif
