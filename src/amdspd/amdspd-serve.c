/* SPDX-License-Identifier: Apache-2.0 */
/* confpool-amdspd serve: the KDS endpoint and the guest-request socket. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "amdspd/amdspd.h"
#include "basic/cleanup.h"
#include "basic/fileio.h"
#include "service/httpd.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig) {
        (void) sig;
        stop = 1;
}

/* A listening unix socket at path (replacing a stale one), or -1 with a message. */
static int listen_unix(const char *path) {
        struct sockaddr_un un = { .sun_family = AF_UNIX };
        if (strlen(path) >= sizeof(un.sun_path)) {
                fprintf(stderr, "confpool-amdspd: socket path too long\n");
                return -1;
        }
        strcpy(un.sun_path, path);
        (void) unlink(path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *) &un, sizeof(un)) < 0 || listen(fd, 16) < 0) {
                fprintf(stderr, "confpool-amdspd: %s: %s\n", path, strerror(errno));
                if (fd >= 0)
                        close(fd);
                return -1;
        }
        return fd;
}

/* Guest requests, one framed exchange per connection, until a stop signal. */
static void serve_guests(cp_amdsp *sp, int lfd) {
        while (!stop) {
                struct pollfd p = { .fd = lfd, .events = POLLIN };
                int k = poll(&p, lfd >= 0 ? 1 : 0, 500);
                if (k <= 0)
                        continue;
                int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
                if (cfd < 0)
                        continue;
                struct timeval tv = { .tv_sec = 5 };
                setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
                if (cp_amdsp_serve_conn(sp, cfd) < 0)
                        fprintf(stderr, "confpool-amdspd: request refused: %s\n", cp_error_message());
                close(cfd);
        }
}

static int serve(cp_amdsp *sp, long kds_port, const char *sock_path, const char *port_file) {
        cp_httpd *d = NULL;
        int lfd = -1, rc = CP_AMDSPD_EXIT_FAILURE;
        struct sigaction sa = { .sa_handler = on_signal };
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);

        if (kds_port >= 0 && cp_amdsp_kds_start(sp, NULL, (uint16_t) kds_port, &d) < 0)
                return cp_amdspd_fail("KDS endpoint");
        if (sock_path && (lfd = listen_unix(sock_path)) < 0)
                goto out;
        if (port_file) {
                char buf[32];
                int n = snprintf(buf, sizeof(buf), "%u\n", d ? cp_httpd_port(d) : 0);
                if (cp_write_file(port_file, buf, (size_t) n, 0644) < 0) {
                        cp_amdspd_fail(port_file);
                        goto out;
                }
        }
        fprintf(stderr, "confpool-amdspd: serving (KDS port %u, socket %s)\n", d ? cp_httpd_port(d) : 0,
                sock_path ? sock_path : "none");
        serve_guests(sp, lfd);
        rc = CP_AMDSPD_EXIT_OK;
out:
        if (lfd >= 0) {
                close(lfd);
                (void) unlink(sock_path);
        }
        cp_httpd_stop(d);
        return rc;
}

int cp_amdspd_cmd_serve(int argc, char **argv) {
        static const struct option opts[] = {
                { "kds-port", required_argument, NULL, 'P' }, { "socket", required_argument, NULL, 'U' },
                { "port-file", required_argument, NULL, 'F' },
                CP_AMDSPD_COMMON_OPTIONS,
        };
        const char *sock = NULL, *port_file = NULL;
        long kds_port = -1;
        cp_amdspd_args a;
        int c;

        cp_amdspd_args_init(&a, argc, argv);
        while ((c = cp_amdspd_next(&a, opts)) > 0) {
                switch (c) {
                case 'P': kds_port = strtol(optarg, NULL, 10); break;
                case 'U': sock = optarg; break;
                case 'F': port_file = optarg; break;
                }
        }
        if (c < 0)
                return a.exit;
        _cleanup_(cp_amdsp_freep) cp_amdsp *sp = NULL;
        if (cp_amdspd_open(a.state_dir, &sp) < 0)
                return CP_AMDSPD_EXIT_FAILURE;
        return serve(sp, kds_port, sock, port_file);
}
