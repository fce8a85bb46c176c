/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_TEST_SWTPM_TESTUTIL_H
#define CP_TEST_SWTPM_TESTUTIL_H

/* A swtpm on loopback for the tests that talk to a vTPM directly
 * (test-azure-cvm, test-vtpm-restart): a free server/control port pair, the
 * state in dir, the flags the local backend starts nodes' swtpms with
 * (not-need-init,startup-clear), stdout/stderr to /dev/null, killed with the
 * test.  Returns when the server port accepts connections. */

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests.h"

static inline int swtpm_test_bind(uint16_t port, uint16_t *ret) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t sl = sizeof(sa);
        int ok = fd >= 0 && bind(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0 &&
                 getsockname(fd, (struct sockaddr *) &sa, &sl) == 0;
        if (fd >= 0)
                close(fd);
        if (ok)
                *ret = ntohs(sa.sin_port);
        return ok ? 0 : -1;
}

/* Start swtpm with its state in dir; *ret_port is the server port (the
 * control port is the next one), tcti a "swtpm:host=...,port=..." string. */
static inline void swtpm_test_start(const char *dir, uint16_t *ret_port, pid_t *ret_pid, char *tcti, size_t tcti_cap) {
        uint16_t p = 0, q;
        for (int i = 0; i < 64 && !p; i++)
                if (swtpm_test_bind(0, &p) < 0 || p == 65535 || swtpm_test_bind((uint16_t) (p + 1), &q) < 0)
                        p = 0;
        ASSERT_TRUE(p != 0);
        char srv[64], ctl[64], st[4200];
        snprintf(srv, sizeof(srv), "type=tcp,port=%u,bindaddr=127.0.0.1", p);
        snprintf(ctl, sizeof(ctl), "type=tcp,port=%u,bindaddr=127.0.0.1", p + 1);
        snprintf(st, sizeof(st), "dir=%s", dir);
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                /* dies with the test (a failed ASSERT exits), never holds ctest's pipes */
                int nul = open("/dev/null", O_RDWR);
                if (nul < 0 || dup2(nul, 1) < 0 || dup2(nul, 2) < 0 || prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                        _exit(127);
                execlp("swtpm", "swtpm", "socket", "--tpm2", "--tpmstate", st, "--server", srv, "--ctrl", ctl,
                       "--flags", "not-need-init,startup-clear", (char *) NULL);
                _exit(127);
        }
        snprintf(tcti, tcti_cap, "swtpm:host=127.0.0.1,port=%u", p);
        for (int i = 0; i < 1000; i++) {
                int fd = socket(AF_INET, SOCK_STREAM, 0);
                struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(p), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
                int ok = fd >= 0 && connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0;
                if (fd >= 0)
                        close(fd);
                if (ok) {
                        *ret_port = p;
                        *ret_pid = pid;
                        return;
                }
                ASSERT_TRUE(waitpid(pid, NULL, WNOHANG) == 0);
                struct timespec ts = { 0, 10 * 1000000L };
                nanosleep(&ts, NULL);
        }
        ASSERT_TRUE(!"swtpm did not listen");
}

#endif
