/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "service/proc.h"

static void nap_ms(unsigned ms) {
        struct timespec ts = {ms / 1000, (long) (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
}

/* A descriptor for stdout or stderr opened before the fork; -1 if none. */
static int open_output(cp_proc_output how, const char *path, int *ret) {
        *ret = -1;
        if (how != CP_PROC_TRUNCATE && how != CP_PROC_APPEND)
                return 0;
        int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (how == CP_PROC_TRUNCATE ? O_TRUNC : O_APPEND);
        *ret = open(path, flags, 0600);
        if (*ret < 0)
                return CP_ERROR(CP_EIO, "cannot open %s: %s", path, strerror(errno));
        return 0;
}

static void close_fd(int fd) {
        if (fd >= 0)
                close(fd);
}

static void child_output(int target, cp_proc_output how, int fd) {
        if (how == CP_PROC_DEVNULL) {
                int nul = open("/dev/null", O_WRONLY);
                if (nul >= 0)
                        dup2(nul, target);
        } else if (how == CP_PROC_AS_STDOUT)
                dup2(1, target);
        else if (fd >= 0)
                dup2(fd, target);
}

static void child_write(const char *s) {
        ssize_t k = write(2, s, strlen(s));
        (void) k;
}

/* In the child, after the fork: never returns. */
static _Noreturn void child_exec(char *const argv[], const cp_proc_options *o, int out, int err) {
        if (o->unblock_signals) {
                sigset_t none;
                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
        }
        if (o->sigpipe_default)
                signal(SIGPIPE, SIG_DFL);
        if (o->new_session)
                setsid();
        if (o->new_group)
                setpgid(0, 0);
        if (o->stdin_null) {
                int nul = open("/dev/null", O_RDONLY);
                if (nul >= 0)
                        dup2(nul, 0);
        }
        child_output(1, o->out, out);
        child_output(2, o->err, err);
        if (o->close_fds)
                closefrom(3);
        if (o->niceness > 0 && setpriority(PRIO_PROCESS, 0, o->niceness) < 0)
                _exit(126);
        if (o->search_path)
                execvp(argv[0], argv);
        else
                execv(argv[0], argv);
        if (o->exec_error_message) {
                const char *e = strerror(errno);
                child_write("confpool: error: cannot run ");
                child_write(argv[0]);
                child_write(": ");
                child_write(e);
                child_write("\n");
        }
        _exit(127);
}

int cp_proc_spawn(char *const argv[], const cp_proc_options *o, pid_t *ret) {
        static const cp_proc_options defaults = {0};
        if (!argv || !argv[0])
                return CP_ERROR(CP_EINVAL, "no program to run");
        if (!o)
                o = &defaults;
        if (o->out == CP_PROC_AS_STDOUT)
                return CP_ERROR(CP_EINVAL, "stdout cannot go to stdout");
        int out, err, r;
        if ((r = open_output(o->out, o->out_path, &out)) < 0)
                return r;
        if ((r = open_output(o->err, o->err_path, &err)) < 0) {
                close_fd(out);
                return r;
        }
        pid_t pid = fork();
        if (pid < 0) {
                int e = errno;
                close_fd(out);
                close_fd(err);
                return CP_ERROR(CP_EIO, "fork: %s", strerror(e));
        }
        if (pid == 0)
                child_exec(argv, o, out, err);
        close_fd(out);
        close_fd(err);
        *ret = pid;
        return 0;
}

int cp_proc_wait(pid_t pid, int *ret_wstatus) {
        int st;
        while (waitpid(pid, &st, 0) < 0)
                if (errno != EINTR)
                        return CP_ERROR(CP_EIO, "waitpid: %s", strerror(errno));
        *ret_wstatus = st;
        return 0;
}

int cp_proc_status_code(int wstatus) {
        return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
}

bool cp_proc_exited(pid_t pid, int *ret_code) {
        int st;
        if (pid <= 0 || waitpid(pid, &st, WNOHANG) != pid)
                return false;
        if (ret_code)
                *ret_code = cp_proc_status_code(st);
        return true;
}

void cp_proc_terminate(pid_t pid) {
        if (pid <= 0)
                return;
        kill(pid, SIGTERM);
        kill(pid, SIGCONT);
}

uint64_t cp_proc_clock_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u;
}

static bool gone(pid_t pid);

void cp_proc_reap(pid_t *pid, uint64_t deadline_ms) {
        if (*pid <= 0)
                return;
        while (cp_proc_clock_ms() < deadline_ms) {
                if (gone(*pid)) {
                        *pid = 0;
                        return;
                }
                nap_ms(10);
        }
        kill(*pid, SIGKILL);
        /* not our child (adopted from a previous daemon): polled until gone */
        if (waitpid(*pid, NULL, 0) < 0)
                for (unsigned t = 0; t < 5000 && !gone(*pid); t += 10)
                        nap_ms(10);
        *pid = 0;
}

void cp_proc_stop_child(pid_t *pid, unsigned timeout_ms) {
        cp_proc_terminate(*pid);
        cp_proc_reap(pid, cp_proc_clock_ms() + timeout_ms);
}

int cp_proc_write_pidfile(const char *path, pid_t pid) {
        char t[32];
        int n = snprintf(t, sizeof t, "%ld\n", (long) pid);
        return cp_write_file(path, t, (size_t) n, 0600);
}

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
