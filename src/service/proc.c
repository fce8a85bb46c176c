/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "service/proc.h"

bool cp_proc_matches(pid_t pid, const char *marker) {
        if (pid <= 1 || !marker || !*marker)
                return false;
        char f[64];
        snprintf(f, sizeof f, "/proc/%ld/cmdline", (long) pid);
        uint8_t *buf = NULL;
        size_t len = 0;
        if (cp_read_file(f, 64 * 1024, &buf, &len) < 0) {
                cp_error_clear();
                return false;
        }
        /* a zombie has an empty command line: it is gone as far as we care */
        for (size_t i = 0; i < len; i++)
                if (buf[i] == 0)
                        buf[i] = ' ';
        char *txt = realloc(buf, len + 1);
        if (!txt) {
                free(buf);
                return false;
        }
        txt[len] = 0;
        bool ok = strstr(txt, marker) != NULL;
        free(txt);
        return ok;
}

int cp_proc_read_pidfile(const char *path, pid_t *ret) {
        uint8_t *buf = NULL;
        size_t len = 0;
        int r = cp_read_file(path, 64, &buf, &len);
        if (r < 0)
                return r;
        char txt[65];
        memcpy(txt, buf, len);
        txt[len] = 0;
        free(buf);
        char *end = NULL;
        errno = 0;
        long v = strtol(txt, &end, 10);
        if (errno || end == txt || (*end && *end != '\n') || v <= 1 || v > 0x3fffffff)
                return CP_ERROR(CP_EFORMAT, "%s holds no pid", path);
        *ret = (pid_t) v;
        return 0;
}

static void nap_ms(unsigned ms) {
        struct timespec ts = {ms / 1000, (long) (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
}

/* gone: not alive any more, or reaped if it happens to be our child */
static bool gone(pid_t pid) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
                return true;
        if (kill(pid, 0) < 0 && errno == ESRCH)
                return true;
        char f[64];
        snprintf(f, sizeof f, "/proc/%ld/stat", (long) pid);
        FILE *fp = fopen(f, "r");
        if (!fp)
                return true;
        char st = 0;
        int n = fscanf(fp, "%*d (%*[^)]) %c", &st);
        fclose(fp);
        return n == 1 && (st == 'Z' || st == 'X');
}

/* SIGTERM, wait up to timeout_ms, then SIGKILL (and wait for it to go). */
static void stop_pid(pid_t pid, unsigned timeout_ms) {
        kill(pid, SIGTERM);
        for (unsigned t = 0; t < timeout_ms; t += 10) {
                if (gone(pid))
                        return;
                nap_ms(10);
        }
        kill(pid, SIGKILL);
        for (unsigned t = 0; t < 5000 && !gone(pid); t += 10)
                nap_ms(10);
}

int cp_proc_stop_pidfile(const char *path, const char *marker, unsigned timeout_ms) {
        pid_t pid;
        if (cp_proc_read_pidfile(path, &pid) < 0) {
                cp_error_clear();
                return 0;
        }
        if (!cp_proc_matches(pid, marker))
                return 0;
        stop_pid(pid, timeout_ms);
        return 1;
}

unsigned cp_proc_stop_matching(const char *marker, unsigned timeout_ms) {
        if (!marker || !*marker)
                return 0;
        DIR *d = opendir("/proc");
        if (!d)
                return 0;
        pid_t self = getpid();
        unsigned n = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                char *end = NULL;
                long v = strtol(de->d_name, &end, 10);
                if (!end || *end || v <= 1 || (pid_t) v == self)
                        continue;
                if (!cp_proc_matches((pid_t) v, marker))
                        continue;
                stop_pid((pid_t) v, timeout_ms);
                n++;
        }
        closedir(d);
        return n;
}
