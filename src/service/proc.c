/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "basic/clock.h"
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

/* A child's stdout (target 1) or stderr (2) as how says, as a file action. */
static int output_action(posix_spawn_file_actions_t *fa, int target, cp_proc_output how, int fd) {
        if (how == CP_PROC_DEVNULL)
                return posix_spawn_file_actions_addopen(fa, target, "/dev/null", O_WRONLY, 0);
        if (how == CP_PROC_AS_STDOUT)
                return posix_spawn_file_actions_adddup2(fa, 1, target);
        if (fd >= 0)
                return posix_spawn_file_actions_adddup2(fa, fd, target);
        return 0;
}

typedef struct spawn_req {
        char *const *argv;
        const cp_proc_options *o;
        const posix_spawn_file_actions_t *fa;
        const posix_spawnattr_t *attr;
        pid_t pid;
        int err;      /* posix_spawn's result (an exec failure's errno included) */
        bool niced;   /* the niceness could be set */
} spawn_req;

static void spawn_now(spawn_req *q) {
        extern char **environ;
        q->err = q->o->search_path ? posix_spawnp(&q->pid, q->argv[0], q->fa, q->attr, q->argv, environ)
                                   : posix_spawn(&q->pid, q->argv[0], q->fa, q->attr, q->argv, environ);
}

/* A thread of its own for a niced child: nice is a property of the thread
 * on Linux and a child starts with its creator's, so this thread lowers
 * its own priority (never raised back: it ends) and spawns. */
static void *spawn_niced(void *ud) {
        spawn_req *q = ud;
        pid_t tid = (pid_t) syscall(SYS_gettid);
        errno = 0;
        int cur = getpriority(PRIO_PROCESS, (id_t) tid);
        q->niced = !(cur == -1 && errno) && setpriority(PRIO_PROCESS, (id_t) tid, cur + q->o->niceness) == 0;
        if (q->niced)
                spawn_now(q);
        return NULL;
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
        /* posix_spawn (glibc: clone with CLONE_VM | CLONE_VFORK): no copy of
         * this process's page tables and no copy-on-write faults after it,
         * which in a daemon of many threads and much memory cost more than
         * the child (issue 19: a tenth of confpoold's CPU in a pool's boot) */
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        short flags = 0;
        int e = posix_spawn_file_actions_init(&fa);
        if (e == 0 && (e = posix_spawnattr_init(&attr)) != 0)
                posix_spawn_file_actions_destroy(&fa);
        if (e != 0) {
                close_fd(out);
                close_fd(err);
                return CP_ERROR(CP_ENOMEM, "posix_spawn: %s", strerror(e));
        }
        if (o->stdin_null)
                e = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        if (e == 0)
                e = output_action(&fa, 1, o->out, out);
        if (e == 0)
                e = output_action(&fa, 2, o->err, err);
        if (e == 0 && o->close_fds)
                e = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
        if (e == 0 && o->unblock_signals) {
                sigset_t none;
                sigemptyset(&none);
                flags |= POSIX_SPAWN_SETSIGMASK;
                e = posix_spawnattr_setsigmask(&attr, &none);
        }
        if (e == 0 && o->sigpipe_default) {
                sigset_t def;
                sigemptyset(&def);
                sigaddset(&def, SIGPIPE);
                flags |= POSIX_SPAWN_SETSIGDEF;
                e = posix_spawnattr_setsigdefault(&attr, &def);
        }
        if (o->new_session)
                flags |= POSIX_SPAWN_SETSID;
        else if (o->new_group) {
                flags |= POSIX_SPAWN_SETPGROUP;
                if (e == 0)
                        e = posix_spawnattr_setpgroup(&attr, 0);
        }
        if (e == 0)
                e = posix_spawnattr_setflags(&attr, flags);
        spawn_req q = {.argv = argv, .o = o, .fa = &fa, .attr = &attr, .err = e, .niced = true};
        if (e == 0 && o->niceness > 0) {
                pthread_t t;
                if ((e = pthread_create(&t, NULL, spawn_niced, &q)) == 0)
                        pthread_join(t, NULL);
                else
                        q.err = e;
        } else if (e == 0)
                spawn_now(&q);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        close_fd(out);
        close_fd(err);
        if (!q.niced)
                return CP_ERROR(CP_EIO, "cannot lower the priority of %s by %d", argv[0], o->niceness);
        if (q.err != 0)
                return CP_ERROR(q.err == ENOENT || q.err == EACCES ? CP_ENOTFOUND : CP_EIO, "cannot run %s: %s",
                                argv[0], strerror(q.err));
        *ret = q.pid;
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
        return (uint64_t) cp_monotonic_ms();
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
